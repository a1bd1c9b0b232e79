"""Stored teacher logits are refused when they belong to other prepared data."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.data.emnist import read_emnist_mat
from distillation.data.prepared import PreparedSplit
from distillation.data.splitting import prepare_splits
from distillation.targets.teacher_logits import load_teacher_logits, save_teacher_logits


@pytest.fixture()
def splits(tiny_letters_mat):
    return prepare_splits(read_emnist_mat(tiny_letters_mat), 0.25, 0)


def fake_logits(splits):
    return {name: np.full((s.labels.shape[0], len(s.classes)), 0.5, np.float32) for name, s in splits.items()}


def test_logits_round_trip_for_the_same_data(tmp_path, splits):
    save_teacher_logits(tmp_path / "logits.npz", fake_logits(splits), splits)
    loaded = load_teacher_logits(tmp_path / "logits.npz", splits)
    assert loaded["val"].shape == (splits["val"].labels.shape[0], 26)


def test_logits_for_other_row_counts_are_stale(tmp_path, splits):
    save_teacher_logits(tmp_path / "logits.npz", fake_logits(splits), splits)
    fewer = dict(splits)
    fewer["train"] = PreparedSplit(splits["train"].images[:-1], splits["train"].labels[:-1], splits["train"].classes)
    with pytest.raises(ValueError, match="stale teacher logits.*soft_targets"):
        load_teacher_logits(tmp_path / "logits.npz", fewer)


def test_logits_for_changed_content_are_stale(tmp_path, splits):
    save_teacher_logits(tmp_path / "logits.npz", fake_logits(splits), splits)
    changed = dict(splits)
    images = splits["test"].images.copy()
    images[0, 0, 0, 0] += 0.5
    changed["test"] = PreparedSplit(images, splits["test"].labels, splits["test"].classes)
    with pytest.raises(ValueError, match="stale teacher logits.*test split's content changed"):
        load_teacher_logits(tmp_path / "logits.npz", changed)


def test_missing_logits_say_which_stage_to_run(tmp_path, splits):
    with pytest.raises(ValueError, match="soft_targets"):
        load_teacher_logits(tmp_path / "absent.npz", splits)
