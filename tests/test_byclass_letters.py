"""``data.source: emnist-byclass-letters``: the real letters built from a file in the official ByClass layout."""
from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pytest
import yaml

from distillation.experiments.scratch import PROJECT_ROOT
from conftest import REAL_SAMPLE
from distillation.data.byclass_letters import letters_fingerprint, letters_from_byclass, splits_of_letters_file
from distillation.config.params import DataParams, load_params
from distillation.data.emnist import read_emnist_mat, write_emnist_mat

REAL_LETTERS = REAL_SAMPLE.parent / "emnist-byclass-letters.mat"
CHARACTERS = string.digits + string.ascii_uppercase + string.ascii_lowercase  # ByClass: labels 0..61


def write_byclass(path: Path, test_labels: np.ndarray) -> np.ndarray:
    """A small ByClass-layout file: one training image per class; test images whose first pixels hold their index."""
    count = test_labels.shape[0]
    test_images = np.random.default_rng(0).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    test_images[:, 0, 0], test_images[:, 0, 1] = np.arange(count) // 256, np.arange(count) % 256
    train_images = np.zeros((62, 28, 28), np.uint8)
    mapping = np.array([[label, ord(character)] for label, character in enumerate(CHARACTERS)])
    write_emnist_mat(path, train_images, np.arange(62), test_images, test_labels, mapping)
    return test_images


def image_index(images: np.ndarray) -> np.ndarray:
    return images[:, 0, 0].astype(int) * 256 + images[:, 0, 1]


def test_letters_are_the_test_splits_letters_case_merged_every_fifth_of_a_class_to_test(tmp_path):
    labels = np.random.default_rng(1).integers(0, 62, size=900)
    write_byclass(tmp_path / "byclass.mat", labels)
    letters = letters_from_byclass(read_emnist_mat(tmp_path / "byclass.mat"))

    merged = np.array([ord(CHARACTERS[label].upper()) - 64 if CHARACTERS[label].isalpha() else 0 for label in labels])
    train_index, test_index = image_index(letters.train_images), image_index(letters.test_images)
    # every letter image once, no digit; each split in the file's order
    assert sorted([*train_index, *test_index]) == list(np.flatnonzero(merged))
    assert list(train_index) == sorted(train_index) and list(test_index) == sorted(test_index)
    np.testing.assert_array_equal(letters.train_labels, merged[train_index])
    np.testing.assert_array_equal(letters.test_labels, merged[test_index])
    for letter in range(1, 27):  # A and a are one class; its 5th, 10th, … image is in test
        of_class = np.flatnonzero(merged == letter)
        assert list(test_index[letters.test_labels == letter]) == list(of_class[4::5])


def test_the_committed_letters_hash_is_that_of_the_real_letters():
    if not REAL_LETTERS.is_file():
        pytest.skip(f"the real letters are not present at {REAL_LETTERS} (only in the team's checkouts)")
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert letters_fingerprint(splits_of_letters_file(read_emnist_mat(REAL_LETTERS))) == \
        params["data"]["emnist_byclass"]["letters_sha256"]


def byclass_settings(path: Path, letters_sha256: str) -> DataParams:
    return load_params(PROJECT_ROOT / "params.yaml").data.changed(source="emnist-byclass-letters", emnist_byclass={
        "path": str(path), "url": "http://127.0.0.1:9/matlab.zip", "member": "emnist-byclass.mat",
        "letters_sha256": letters_sha256})


def test_the_source_stage_writes_the_letters_when_their_hash_matches(tmp_path):
    from stages.source import materialise_source

    write_byclass(tmp_path / "byclass.mat", np.random.default_rng(2).integers(0, 62, size=600))
    expected = letters_from_byclass(read_emnist_mat(tmp_path / "byclass.mat"))
    materialise_source(byclass_settings(tmp_path / "byclass.mat", letters_fingerprint(expected)), 0, tmp_path / "raw.mat")
    written = read_emnist_mat(tmp_path / "raw.mat")
    assert written.classes == tuple(f"{upper}{lower}" for upper, lower in zip(string.ascii_uppercase, string.ascii_lowercase))
    assert letters_fingerprint(splits_of_letters_file(written)) == letters_fingerprint(expected)


def test_another_byclass_file_is_refused_naming_the_path_and_the_hash(tmp_path):
    from stages.source import materialise_source

    write_byclass(tmp_path / "byclass.mat", np.random.default_rng(3).integers(0, 62, size=600))
    with pytest.raises(ValueError) as error:
        materialise_source(byclass_settings(tmp_path / "byclass.mat", "0" * 64), 0, tmp_path / "raw.mat")
    message = str(error.value)
    assert "data.emnist_byclass.path" in message and str(tmp_path / "byclass.mat") in message
    assert "data.emnist_byclass.letters_sha256" in message and "\n" not in message
    assert not (tmp_path / "raw.mat").exists()


def test_without_a_copy_or_internet_it_says_what_to_place_where(tmp_path):
    from distillation.data.download import AcquisitionError
    from stages.source import materialise_source

    with pytest.raises(AcquisitionError) as error:
        materialise_source(byclass_settings(tmp_path / "external" / "emnist-byclass.mat", "0" * 64), 0, tmp_path / "raw.mat")
    message = str(error.value)
    assert message.startswith("data.source=emnist-byclass-letters: could not download http://127.0.0.1:9/matlab.zip")
    assert f"place it at {tmp_path / 'external' / 'emnist-byclass.mat'}" in message and "emnist-byclass.mat out of it" in message
    assert not (tmp_path / "raw.mat").exists() and not list((tmp_path / "external").glob("*"))
