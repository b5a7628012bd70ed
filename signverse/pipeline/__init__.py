"""Corpus construction: videos + captions -> caption-aligned clips of whole-body poses in a store.

Stages: inputs (manifest / folder / file / URL) -> acquisition (yt-dlp, bounded cache) ->
decode at a fixed fps -> pose estimation -> signer selection -> caption alignment -> QC ->
corpus store (+ optional SignVerse-2M release shards), resumable through a per-video ledger.

>>> from signverse.pipeline import ExtractConfig, RunOptions, extract, load_inputs  # doctest: +SKIP
>>> summary = extract(load_inputs("videos/").records, "corpus", ExtractConfig(fps=24))  # doctest: +SKIP
"""
from signverse.pipeline.inputs import Manifest, load_inputs, load_manifest
from signverse.pipeline.ledger import Ledger
from signverse.pipeline.qc import QCFilter, clip_qc
from signverse.pipeline.run import RunOptions, RunSummary, extract
from signverse.pipeline.worker import ExtractConfig, VideoProcessor, VideoResult

__all__ = ["ExtractConfig", "Ledger", "Manifest", "QCFilter", "RunOptions", "RunSummary", "VideoProcessor",
           "VideoResult", "clip_qc", "extract", "load_inputs", "load_manifest"]
