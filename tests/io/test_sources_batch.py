"""A folder batch with hostile files among good ones: each bad file is one FAILED line naming it
once, the good ones are read, and the command exits non-zero (found by fuzzing: the file's path
was printed twice, "FAILED x.json: x.json: ...")."""
from __future__ import annotations

import struct

import numpy as np

from signverse.cli.main import main
from signverse.core import PoseSeq
from signverse.io import write_pose
from signverse.io.sources import iter_items


def _folder(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    pose = PoseSeq(rng.uniform(0, 99, (4, 1, 128, 2)).astype(np.float32), np.ones((4, 1, 128), np.float32),
                   fps=24, width=100, height=100, layout="dwpose")
    write_pose(pose, src / "good.pose")
    (src / "deep.json").write_text('{"people":' + "[" * 50_000 + "]" * 50_000 + "}")
    # a v0.0 .pose of 65535 empty frames over 20,000 points (see test_pose_file_hostile)
    header = struct.pack("<f", 0.0) + struct.pack("<HHH", 100, 100, 0) + struct.pack("<H", 1)
    header += struct.pack("<H", 1) + b"C" + struct.pack("<H", 3) + b"XYC" + struct.pack("<HHH", 20_000, 0, 0)
    header += struct.pack("<H", 0) * 20_000
    (src / "bomb.pose").write_bytes(header + struct.pack("<HH", 25, 65535) + b"\0\0" * 65535)
    return src


def test_iter_items_records_each_bad_file_once_and_reads_the_rest(tmp_path):
    src = _folder(tmp_path)
    failures = []
    names = [item.name for item in iter_items(src, failures)]
    assert names == ["good"]
    assert sorted(f.name for f in failures) == [str(src / "bomb.pose"), str(src / "deep.json")]
    for failure in failures:
        assert failure.name not in failure.reason and "\n" not in failure.reason


def test_convert_carries_on_and_lists_each_failure_on_one_line(tmp_path, capsys):
    src = _folder(tmp_path)
    assert main(["convert", str(src), str(tmp_path / "out"), "--format", "corpus"]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all(line.count(str(src)) == 1 for line in failed), err
    assert "Traceback" not in err
    assert main(["info", str(tmp_path / "out")]) == 0
    assert "1 clips" in capsys.readouterr().out
