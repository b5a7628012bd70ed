"""The SignVerse-2M release: safe ``poses.npz`` reading/writing, video folders and tar shards.

See ``shared/docs/signverse2m-release-format.md`` for the on-disk format and
:mod:`signverse.io.signverse2m.poses` for the repairs the reader applies.

>>> from signverse.io.signverse2m import open_release, read_poses_npz, write_poses_npz
"""
from signverse.io.signverse2m.complete import format_complete, parse_complete, read_complete
from signverse.io.signverse2m.poses import (NpzArrays, arrays_to_pose, poses_npz_bytes,
                                            read_npz_arrays, read_per_frame_dir, read_poses_npz,
                                            write_poses_npz)
from signverse.io.signverse2m.release import (Release, ReleaseFailure, ReleaseVideo, open_release,
                                              video_from_files)
from signverse.io.signverse2m.safe_npz import RawArray, load_npz
from signverse.io.signverse2m.writer import ShardWriter, video_folder_files, write_video_folder

__all__ = ["NpzArrays", "RawArray", "Release", "ReleaseFailure", "ReleaseVideo", "ShardWriter",
           "arrays_to_pose", "format_complete", "load_npz", "open_release", "parse_complete",
           "poses_npz_bytes", "read_complete", "read_npz_arrays", "read_per_frame_dir",
           "read_poses_npz", "video_folder_files", "video_from_files", "write_poses_npz",
           "write_video_folder"]
