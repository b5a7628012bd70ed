"""The corpus viewer: a local, read-only web app over any PATH signverse reads.

``signverse view PATH`` serves a clip list (DuckDB over the clips table: paging, filters, sort,
text search), a player that draws the skeleton on a canvas with the same plan as ``render``, the
source video in sync where its file is known, a second pose field or file side by side, clip
metadata / QC and the corpus statistics. The page is plain HTML, JS and CSS in ``static/``.

>>> from signverse.view import open_source, create_app   # doctest: +SKIP
>>> app = create_app(open_source("demo-out/corpus"))       # doctest: +SKIP
"""
from __future__ import annotations

from signverse.view.app import create_app, serve
from signverse.view.query import ClipQuery, ClipTable
from signverse.view.source import ViewSource, open_source

__all__ = ["ClipQuery", "ClipTable", "ViewSource", "create_app", "open_source", "serve"]
