"""Small real sample data shipped inside the package (see ``samples/videos/ATTRIBUTION.md``)."""
from __future__ import annotations

from pathlib import Path

SAMPLE_VIDEOS = Path(__file__).resolve().parent / "videos"


def sample_videos() -> Path:
    """Folder of the three CC BY 4.0 ASL clips that ``signverse demo`` runs on by default."""
    return SAMPLE_VIDEOS
