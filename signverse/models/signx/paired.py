"""Real multi-track pose data for fusion: paired estimator outputs of the same frames, plus tracks
derived by layout conversion, loaded from pose files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from signverse.core.errors import InputError, SignverseError
from signverse.core.pose import PoseSeq
from signverse.models.signx.tracks import DEFAULT_TRACKS, FrameRef, as_track, convert, normalise_tracks

ClipTracks = dict[str, tuple[np.ndarray, np.ndarray]]


def load_tracks(paths: list[str | Path], tracks: tuple[str, ...] = DEFAULT_TRACKS,
                derive: tuple[str, ...] = ()) -> dict[str, PoseSeq]:
    """Pose files of the SAME frames (one per estimator) as ``{track: PoseSeq}``.

    ``derive`` adds tracks converted from the first file that can reach them (e.g. Holistic ->
    dwpose), for layouts no estimator supplied.
    """
    from signverse.io import read_pose
    out: dict[str, PoseSeq] = {}
    for path in paths:
        try:
            name, pose = as_track(read_pose(path), tracks)
        except SignverseError as exc:
            raise InputError(path, str(exc)) from exc
        out[name] = pose
    for target in derive:
        if target in out:
            continue
        for pose in list(out.values()):
            try:
                out[target] = convert(pose, target)
                break
            except SignverseError:
                continue
    return out


def clip_tracks(poses: dict[str, PoseSeq], ref: FrameRef | None = None) -> tuple[ClipTracks, FrameRef]:
    """Normalised ``{track: (points [T, K, 2], valid [T, K])}`` of one clip and its reference."""
    return normalise_tracks(poses, ref)


def split_frames(tracks: ClipTracks, stop: int) -> tuple[ClipTracks, ClipTracks]:
    """Frames ``[:stop]`` and ``[stop:]`` of every track (a temporal hold-out)."""
    return ({t: (p[:stop], v[:stop]) for t, (p, v) in tracks.items()},
            {t: (p[stop:], v[stop:]) for t, (p, v) in tracks.items()})
