"""Reading the official EMNIST .mat layout: orientation, label conventions, bad files."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from conftest import random_upright_images
from distillation.data.emnist import EmnistFormatError, read_emnist_mat, write_emnist_mat
from malformed_mats import MALFORMED, write_malformed


def ink_extent(image: np.ndarray, threshold: int = 100) -> tuple[int, int]:
    """Height and width of the inked bounding box."""
    rows = np.flatnonzero(image.max(axis=1) > threshold)
    columns = np.flatnonzero(image.max(axis=0) > threshold)
    return int(np.ptp(rows)) + 1, int(np.ptp(columns)) + 1


def test_round_trip_keeps_images_upright_and_remaps_letter_labels(tmp_path):
    images = random_upright_images(6)
    labels = np.array([1, 2, 3, 1, 2, 3])
    mapping = np.array([[1, 65, 97], [2, 66, 98], [3, 67, 99]])
    path = tmp_path / "letters.mat"
    write_emnist_mat(path, images, labels, images[:3], labels[:3], mapping)

    raw = scipy.io.loadmat(path, simplify_cells=True)["dataset"]
    # Stored like the NIST files: each row is the bitmap transposed.
    np.testing.assert_array_equal(raw["train"]["images"][0].reshape(28, 28).T, images[0])

    dataset = read_emnist_mat(path)
    np.testing.assert_array_equal(dataset.train.images, images)
    np.testing.assert_array_equal(dataset.train.labels, [0, 1, 2, 0, 1, 2])
    assert dataset.classes == ("Aa", "Bb", "Cc")


def test_digit_labels_starting_at_zero_are_kept_in_order(tmp_path):
    images = random_upright_images(4)
    mapping = np.array([[0, 48], [1, 49], [2, 50]])
    path = tmp_path / "digits.mat"
    write_emnist_mat(path, images, [2, 0, 1, 2], images[:2], [0, 1], mapping)
    dataset = read_emnist_mat(path)
    np.testing.assert_array_equal(dataset.train.labels, [2, 0, 1, 2])
    assert dataset.classes == ("0", "1", "2")


def test_real_sample_has_13_classes_and_upright_letters(real_sample):
    dataset = read_emnist_mat(real_sample)
    assert dataset.classes[0] == "Aa" and dataset.classes[-1] == "Mm"
    assert dataset.train.images.shape == (8000, 28, 28)
    assert dataset.test.images.shape == (2000, 28, 28)
    np.testing.assert_array_equal(np.bincount(dataset.train.labels), [640] * 12 + [320])

    tall_l = dataset.train.images[dataset.train.labels == dataset.classes.index("Ll")][:200]
    heights, widths = np.array([ink_extent(image) for image in tall_l]).T
    transposed_heights, transposed_widths = np.array([ink_extent(image.T) for image in tall_l]).T
    # Upright, the letter l is taller than wide; the file's stored (transposed) form is not.
    assert np.median(heights / widths) > 1.5
    assert np.median(transposed_heights / transposed_widths) < 1 / 1.5


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_every_malformed_file_gives_one_line_naming_the_file_and_the_problem(tmp_path, kind):
    path = tmp_path / "bad.mat"
    problem = write_malformed(kind, path)
    with pytest.raises(EmnistFormatError) as error:
        read_emnist_mat(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_messages_name_the_file_as_the_caller_shows_it(tmp_path):
    path = tmp_path / "bad.mat"
    write_malformed("no_mapping", path)
    with pytest.raises(EmnistFormatError, match=r"^data.source 'in/bad.mat': not an EMNIST"):
        read_emnist_mat(path, shown_as="data.source 'in/bad.mat'")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(EmnistFormatError, match="file not found"):
        read_emnist_mat(tmp_path / "absent.mat")


def test_writing_the_same_data_twice_gives_identical_bytes(tmp_path):
    # DVC hashes the raw file: a time stamp in it would re-run everything downstream.
    images = random_upright_images(3)
    mapping = np.array([[1, 65, 97], [2, 66, 98]])
    write_emnist_mat(tmp_path / "first.mat", images, [1, 2, 1], images, [1, 2, 1], mapping)
    write_emnist_mat(tmp_path / "second.mat", images, [1, 2, 1], images, [1, 2, 1], mapping)
    assert (tmp_path / "first.mat").read_bytes() == (tmp_path / "second.mat").read_bytes()


# (split, first label, number of classes, characters per mapping row) as in the NIST files.
EMNIST_SPLITS = [
    ("letters", 1, 26, 2),
    ("digits", 0, 10, 1),
    ("mnist", 0, 10, 1),
    ("balanced", 0, 47, 1),
    ("bymerge", 0, 47, 1),
    ("byclass", 0, 62, 1),
]
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize("split, first_label, classes, characters", EMNIST_SPLITS)
def test_every_emnist_split_convention_is_read(tmp_path, split, first_label, classes, characters):
    if split == "letters":
        symbols = [(chr(65 + i), chr(97 + i)) for i in range(classes)]
    else:
        symbols = [(ALPHANUMERIC[i],) for i in range(classes)]
    labels = np.arange(classes) + first_label
    mapping = np.array([[label, *map(ord, chars)] for label, chars in zip(labels, symbols)])
    assert mapping.shape[1] == 1 + characters
    train_labels = np.tile(labels, 2)
    images = random_upright_images(train_labels.size)
    path = tmp_path / f"emnist-{split}.mat"
    write_emnist_mat(path, images, train_labels, images[:classes], labels, mapping)

    dataset = read_emnist_mat(path)
    assert len(dataset.classes) == classes
    np.testing.assert_array_equal(dataset.train.labels, np.tile(np.arange(classes), 2))
    assert dataset.classes[-1] == "".join(symbols[-1])
