"""Index CSVs whose ids repeat across sign languages (the fingerspelling lexicon) load with ids
made unique by language; ids repeated within a language are an error that names them."""
from __future__ import annotations

import csv
import shutil

import pytest

from conftest import shared
from signverse.core.errors import InputError
from signverse.data.loaders import load_samples, read_pose_folder

pytest.importorskip("pose_format")


def _index(folder, rows):
    with (folder / "index.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "signed_language", "glosses"])
        writer.writeheader()
        writer.writerows(rows)


def test_repeated_ids_across_languages_become_unique(tmp_path):
    shutil.copy(shared("poses", "colin-SAD.pose"), tmp_path / "a.pose")
    _index(tmp_path, [{"path": "a.pose", "signed_language": "ase", "glosses": "A"},
                      {"path": "a.pose", "signed_language": "fsl", "glosses": "A"}])
    samples = load_samples(tmp_path)
    assert [s.sample_id for s in samples] == ["a.pose#ase", "a.pose#fsl"]
    assert {s.video_id for s in samples} == {"a.pose"}      # one recording: splits keep them together


def test_repeated_ids_within_a_language_are_named(tmp_path):
    shutil.copy(shared("poses", "colin-SAD.pose"), tmp_path / "a.pose")
    _index(tmp_path, [{"path": "a.pose", "signed_language": "ase", "glosses": "A"},
                      {"path": "a.pose", "signed_language": "ase", "glosses": "B"}])
    with pytest.raises(InputError, match=r"repeat within one language: a\.pose#ase"):
        load_samples(tmp_path)


def test_real_fingerspelling_trains_islr_and_langid(tmp_path):
    pytest.importorskip("torch")
    from signverse.train.run import train_task
    data = shared("fingerspelling")
    samples = load_samples(data)
    assert len(samples) == 112 and len({s.sample_id for s in samples}) == 112
    tiny = {"d_model": 32, "n_heads": 2, "n_layers": 1}
    for task in ("islr", "langid"):
        metrics = train_task(task, data, tmp_path / task, epochs=1, model_overrides=tiny,
                             train_overrides={"refit_all": False, "dev_part": True})
        assert metrics["n_train"] > 50 and metrics["n_dev"] > 0


def test_a_folder_of_pose_files_is_a_sample_source(tmp_path):
    for name in ("colin-SAD.pose", "openpose.pose"):
        shutil.copy(shared("poses", name), tmp_path / name)
    (tmp_path / "sub").mkdir()
    shutil.copy(shared("poses", "colin-1-HOUSE.pose"), tmp_path / "sub" / "h.pose")
    samples = load_samples(tmp_path)
    assert [s.sample_id for s in samples] == ["colin-SAD", "openpose", "sub/h"]
    assert samples[2].pose.n_frames > 0 and samples[0].label is None
    with pytest.raises(InputError, match="no .pose or .npz files"):
        (tmp_path / "empty").mkdir()
        read_pose_folder(tmp_path / "empty")
