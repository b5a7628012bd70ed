"""``signverse anonymize`` writes the same kind of source; ``signverse privacy audit`` reads any
source with signer ids (a generated ISLR folder here)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import signverse
from signverse.cli.main import main
from signverse.data.mediapipe import load_islr, pose_to_vectors
from signverse.layouts import get_layout
from signverse.ops.anonymize import load_target
from signverse.ops.retarget import bone_length_error
from tests.tasks.test_privacy import signer_sequence


def islr_folder(root, n_signers=4, reps=4):
    root.mkdir()
    for s in range(n_signers):
        x, y, ids = [], [], []
        for g in range(2):
            for r in range(reps):
                pose = signer_sequence("mediapipe-holistic", s, g, n_frames=10, rep=r)
                pose = pose.replace(xy=pose.xy / 2 + 100)      # inside a 640x480 frame
                x.append(pose_to_vectors(pose))
                y.append(f"sign{g}")
                ids.append(f"MP_Data/sign{g}/{r}")
        np.savez_compressed(root / f"owner{s}__repo.npz", x=np.stack(x).astype(np.float16),
                            y=np.array(y), seq_ids=np.array(ids))
    return root


def test_anonymize_islr_folder_keeps_the_layout_and_arrays(tmp_path):
    src = islr_folder(tmp_path / "islr")
    dst = tmp_path / "anon"
    canon = tmp_path / "canonical.json"
    assert main(["anonymize", str(src), str(dst), "--save-canonical", str(canon)]) == 0
    assert sorted(p.name for p in dst.glob("*.npz")) == sorted(p.name for p in src.glob("*.npz"))
    before, after = load_islr(src, lazy=False), load_islr(dst, lazy=False)
    assert [s.sample_id for s in before] == [s.sample_id for s in after]
    assert [s.label for s in before] == [s.label for s in after]
    target = load_target(canon)
    for b, a in zip(before[::7], after[::7]):
        assert np.array_equal(b.pose.valid, a.pose.valid)            # nothing invented or lost
        # float16 storage of normalised coordinates: lengths equal the canonical ones to ~0.1%
        assert np.median(bone_length_error(a.pose, target)) < 0.005


def test_anonymize_pose_file_and_openpose_folder(tmp_path):
    pose = signer_sequence("dwpose", 0, 0)
    src = tmp_path / "one.pose"
    signverse.write_pose(pose, src)
    assert main(["anonymize", str(src), str(tmp_path / "anon.pose")]) == 0
    assert signverse.read_pose(tmp_path / "anon.pose").layout == "dwpose"
    # the skeleton-only method keeps the source's timing: frame for frame the same joint angles
    skeleton = tmp_path / "skeleton.pose"
    assert main(["anonymize", str(src), str(skeleton), "--method", "canonical"]) == 0
    from signverse.ops.retarget import joint_angle_change
    skeleton_only = signverse.read_pose(skeleton)
    assert np.median(joint_angle_change(pose, skeleton_only)) < 1e-3
    assert np.median(joint_angle_change(pose, signverse.read_pose(tmp_path / "anon.pose"))) > 1e-3
    from signverse.io.openpose_json import write_openpose_folder
    folder = write_openpose_folder(pose, tmp_path / "op", name="clip")
    out = tmp_path / "op_anon"
    assert main(["anonymize", str(folder), str(out), "--jitter", "0.03", "--rotate", "2"]) == 0
    assert any(out.glob("*_keypoints.json"))
    assert signverse.read_pose(out).n_frames == pose.n_frames
    assert main(["anonymize", str(src), str(src)]) == 2


def test_privacy_audit_cli_json_and_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    src = islr_folder(tmp_path / "islr", n_signers=4)
    figure = tmp_path / "fp.png"
    assert main(["privacy", "audit", str(src), "--json", "--figure", str(figure)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"n_signers", "n_sequences", "chance", "reid_top1"}
    assert result["n_signers"] == 4 and result["n_sequences"] == 32 and result["chance"] == 0.25
    assert set(result["reid_top1"]) == {"raw", "normalized", "anonymized"}
    assert result["reid_top1"]["normalized"] >= 0.9 and result["reid_top1"]["anonymized"] <= 0.5
    assert figure.stat().st_size > 1000
    bad = tmp_path / "empty"
    bad.mkdir()
    assert main(["privacy", "audit", str(bad)]) == 2


def test_anonymize_folder_of_mixed_layouts(tmp_path):
    src = tmp_path / "mixed"
    src.mkdir()
    for i, layout in enumerate(["dwpose", "dwpose", "mediapipe-holistic", "coco-wholebody"]):
        signverse.write_pose(signer_sequence(layout, i, 0), src / f"{i}-{layout}.pose")
    dst = tmp_path / "anon"
    assert main(["anonymize", str(src), str(dst)]) == 0
    outs = sorted(dst.glob("*.pose"))
    assert len(outs) == 4
    # the lone COCO-WholeBody file is put on a skeleton measured on all four signers (arms and
    # hands match by name), not on its own one
    from signverse.ops.anonymize import canonical_target
    from signverse.ops.retarget import measure
    poses = [signverse.read_pose(f) for f in sorted(src.glob("*.pose"))]
    target = canonical_target(poses, "coco-wholebody")
    coco_out = signverse.read_pose(dst / "3-coco-wholebody.pose")
    assert np.max(bone_length_error(coco_out, target)) < 1e-3
    own = measure(poses[3])
    arm = get_layout("coco-wholebody").anchor("left_elbow")
    assert abs(target.lengths[arm] - own.lengths[arm]) > 0.05


def test_anonymize_signing_space_options_are_seeded_and_keep_the_skeleton(tmp_path):
    """``--shift`` / ``--amplitude`` (the signing-space randomisation) reach the output: the same
    seed writes the same file, another seed another one, bone lengths stay canonical and no
    point is invented."""
    pose = signer_sequence("dwpose", 0, 0)
    src = tmp_path / "one.pose"
    signverse.write_pose(pose, src)
    canon = tmp_path / "canonical.json"
    outs = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out = tmp_path / f"{name}.pose"
        assert main(["anonymize", str(src), str(out), "--method", "canonical-space", "--shift", "0.2",
                     "--amplitude", "0.2", "--seed", seed, "--save-canonical", str(canon)]) == 0
        outs.append(signverse.read_pose(out))
    assert np.array_equal(outs[0].xy, outs[1].xy, equal_nan=True)
    assert not np.allclose(outs[0].xy, outs[2].xy, equal_nan=True)
    assert np.array_equal(outs[0].valid, pose.valid)
    assert np.max(bone_length_error(outs[0], load_target(canon))) < 1e-3


def test_anonymize_quiet_method_stills_the_face_and_keeps_the_skeleton(tmp_path):
    """``--method canonical-quiet`` (expression and rest-bone movement stilled by default) on a
    MediaPipe ``.pose`` file: the face keeps one shape relative to the nose, the bones their
    canonical lengths, and no point is invented; ``--expression 1 --rest-motion 1`` keeps the
    face moving."""
    pose = signer_sequence("mediapipe-holistic", 1, 0, n_frames=12)
    src = tmp_path / "one.pose"
    signverse.write_pose(pose, src)
    canon = tmp_path / "canonical.json"
    quiet, moving = tmp_path / "quiet.pose", tmp_path / "moving.pose"
    assert main(["anonymize", str(src), str(quiet), "--method", "canonical-quiet",
                 "--save-canonical", str(canon)]) == 0
    assert main(["anonymize", str(src), str(moving), "--method", "canonical-quiet",
                 "--expression", "1", "--rest-motion", "1"]) == 0
    lay = get_layout("mediapipe-holistic")
    face, nose = lay.slice("face"), lay.anchor("nose")

    def face_spread(p):
        rel = p.xy[:, 0, face] - p.xy[:, 0, nose, None]
        return float(np.nanmax(np.nanstd(rel, axis=0)))
    q, m = signverse.read_pose(quiet), signverse.read_pose(moving)
    assert face_spread(q) < 1e-2 < face_spread(m)
    assert np.array_equal(q.valid, pose.valid) and np.array_equal(m.valid, pose.valid)
    assert np.median(bone_length_error(q, load_target(canon))) < 1e-3
    assert main(["anonymize", str(src), str(tmp_path / "bad.pose"), "--expression", "2"]) != 0
