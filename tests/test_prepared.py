"""Prepared splits: stratified val carved from train, float32 upright, pickle-free files."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.data.emnist import read_emnist_mat
from distillation.data.prepared import load_split, save_split
from distillation.data.splitting import prepare_splits, stratified_validation_mask


def test_validation_mask_takes_the_fraction_of_every_class_and_is_seeded():
    labels = np.repeat(np.arange(5), [100, 50, 20, 10, 3])
    mask = stratified_validation_mask(labels, 0.1, seed=3)
    np.testing.assert_array_equal(np.bincount(labels[mask], minlength=5), [10, 5, 2, 1, 1])
    np.testing.assert_array_equal(mask, stratified_validation_mask(labels, 0.1, seed=3))
    assert not np.array_equal(mask, stratified_validation_mask(labels, 0.1, seed=4))


def test_prepare_splits_scales_and_keeps_test_untouched(tiny_letters_mat):
    dataset = read_emnist_mat(tiny_letters_mat)
    splits = prepare_splits(dataset, val_fraction=0.25, seed=0)
    assert splits["train"].images.shape == (26 * 9, 28, 28, 1)
    assert splits["val"].images.shape == (26 * 3, 28, 28, 1)
    assert splits["test"].images.shape == (26 * 4, 28, 28, 1)
    for split in splits.values():
        assert split.images.dtype == np.float32
        assert 0.0 <= split.images.min() and split.images.max() <= 1.0
        assert split.classes == dataset.classes
    np.testing.assert_allclose(splits["test"].images[..., 0], dataset.test.images / 255.0, rtol=1e-6)
    # Train and val are disjoint and together make up the original train split.
    combined = np.concatenate([splits["train"].images, splits["val"].images])
    assert combined.shape[0] == dataset.train.images.shape[0]
    assert np.unique(combined.reshape(combined.shape[0], -1), axis=0).shape[0] == combined.shape[0]


def test_split_file_round_trips_without_pickle(tmp_path, tiny_letters_mat):
    split = prepare_splits(read_emnist_mat(tiny_letters_mat), 0.1, 0)["val"]
    save_split(tmp_path / "val.npz", split)
    loaded = load_split(tmp_path / "val.npz")
    np.testing.assert_array_equal(loaded.images, split.images)
    np.testing.assert_array_equal(loaded.labels, split.labels)
    assert loaded.classes == split.classes
    assert loaded.fingerprint() == split.fingerprint()
    assert [p.name for p in tmp_path.iterdir()] == ["val.npz"]  # no temporary left behind


def test_missing_split_says_which_stage_to_run(tmp_path):
    with pytest.raises(ValueError, match="convert"):
        load_split(tmp_path / "train.npz")


def test_saving_equal_splits_gives_equal_bytes(tmp_path, tiny_letters_mat):
    # DVC hashes prepared data: a time stamp in the file would retrain the teacher for nothing.
    split = prepare_splits(read_emnist_mat(tiny_letters_mat), 0.1, 0)["test"]
    save_split(tmp_path / "first.npz", split)
    save_split(tmp_path / "second.npz", split)
    assert (tmp_path / "first.npz").read_bytes() == (tmp_path / "second.npz").read_bytes()
