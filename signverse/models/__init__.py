"""Models: a timm-like registry (name -> builder + default config) and the SignDW family.

>>> from signverse.models import list_models
>>> "signdw-islr" in list_models()
True

Importing this package does not import torch; building a model does.
"""
from __future__ import annotations

from signverse.models.registry import (ModelSpec, default_config, get_model, list_models,
                                       model_spec, register_model)

__all__ = ["ModelSpec", "default_config", "get_model", "list_models", "model_spec", "register_model"]
