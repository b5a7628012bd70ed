import numpy as np
import pytest

import signverse
from signverse.core.errors import InputError
from signverse.data import load_samples
from signverse.data.phoenix import PHOENIX_LAYOUT_NAME, parse_skels_line, read_phoenix


def test_parse_skels_line_hand_computed():
    # Two frames of 151 values: joint j = (j/100, -j/100, 0.5), counter last.
    frames = []
    for t in range(2):
        joints = np.array([[j / 100, -j / 100, 0.5] for j in range(50)]).ravel()
        frames.append(np.concatenate([joints, [t / 2]]))
    line = " ".join(f"{v:.5f}" for v in np.concatenate(frames))
    pose = parse_skels_line(line)
    assert pose.layout == PHOENIX_LAYOUT_NAME and pose.xy.shape == (2, 1, 50, 2)
    # joint 10: (0.1, -0.1) -> px = 256 + 256 * v = (281.6, 230.4); the neck (joint 1 here too)
    np.testing.assert_allclose(pose.xy[1, 0, 10], [281.6, 230.4], rtol=1e-6)
    assert pose.valid.all()        # zeros are real coordinates in this format
    with pytest.raises(InputError, match="multiple of 151"):
        parse_skels_line("1 2 3", path="x.skels")


def test_read_phoenix_real(shared_data):
    folder = shared_data("phoenix")
    samples = load_samples(folder)
    assert len(samples) == 15
    assert [sum(s.split == p for s in samples) for p in ("train", "dev", "test")] == [5, 5, 5]
    first = [s for s in samples if s.split == "dev"][0]
    assert first.sample_id == "dev/11August_2010_Wednesday_tagesschau-2"
    assert first.label == "DRUCK TIEF KOMMEN"
    assert first.text.startswith("tiefer luftdruck")
    line = (folder / "dev.skels").read_text().splitlines()[0]
    assert first.n_frames == len(line.split()) // 151
    pose = first.pose
    lay = signverse.get_layout(PHOENIX_LAYOUT_NAME)
    # The neck is the origin of the format -> image centre.
    np.testing.assert_allclose(pose.xy[:, 0, lay.anchor("neck")], 256.0, atol=1e-3)
    # Hands hang from the matching wrists: the left-hand root is nearer the left wrist.
    lw, rw = lay.anchor("left_wrist"), lay.anchor("right_wrist")
    lh = lay.anchor("left_hand_root")
    d_same = np.linalg.norm(pose.xy[:, 0, lh] - pose.xy[:, 0, lw], axis=-1)
    d_other = np.linalg.norm(pose.xy[:, 0, lh] - pose.xy[:, 0, rw], axis=-1)
    assert np.median(d_same) < np.median(d_other)
    dw = signverse.convert(pose, "dwpose")
    dwl = signverse.get_layout("dwpose")
    np.testing.assert_allclose(dw.xy[:, 0, dwl.slice("right_hand")], pose.xy[:, 0, lay.slice("right_hand")])
    assert not dw.valid[:, 0, dwl.slice("face")].any()


def test_read_phoenix_one_split(shared_data):
    samples = read_phoenix(shared_data("phoenix"), "test")
    assert len(samples) == 5 and {s.split for s in samples} == {"test"}
    assert all(s.sign_language == "gsg" for s in samples)


def test_phoenix_missing_split(tmp_path):
    (tmp_path / "train.skels").write_text("")
    with pytest.raises(InputError, match="dev.skels"):
        read_phoenix(tmp_path, "dev")
