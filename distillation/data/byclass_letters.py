"""The real letters of ``data.source: emnist-byclass-letters``, built from the official ``emnist-byclass.mat``.

The rule that made the project's real-letter results (58,405 images): every letter image of the
official ByClass **test** split, upper and lower case merged into 26 classes as EMNIST-letters
does, kept in ByClass order; within each class every fifth image (the 5th, 10th, … of that class)
goes to this file's test split, the others to its train split (the pipeline then carves val from
train). The arrays are checked against ``data.emnist_byclass.letters_sha256``
(:func:`letters_fingerprint`), so a user's copy is the one the results were measured on.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from distillation.data.emnist import EmnistDataset

SOURCE_NAME = "emnist-byclass-letters"  # its data.source
LETTERS = 26
TEST_EVERY = 5  # within a class, image 5, 10, 15, … (in ByClass order) goes to test


@dataclass(frozen=True)
class LetterSplits:
    """Upright images (N, 28, 28) uint8 and labels 1..26 (EMNIST-letters' convention) per split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def letters_from_byclass(byclass: EmnistDataset, shown: str = "the file") -> LetterSplits:
    """Apply the module's rule to a ByClass dataset (its test split); digits are dropped.

    ``shown`` names the file in the error raised when it holds no letter classes.
    """
    characters = byclass.classes
    if not any(character.isalpha() for character in characters):
        raise ValueError(f"{shown}: holds no letter classes: not EMNIST ByClass")
    # class index → merged letter 1..26, or 0 for a digit
    merged_of_class = np.array([ord(character[0].upper()) - ord("A") + 1 if character[0].isalpha() else 0
                                for character in characters], dtype=np.int64)
    merged = merged_of_class[byclass.test.labels]
    is_letter = merged > 0
    images, labels = byclass.test.images[is_letter], merged[is_letter]
    # each image's position among its class's images, in file order
    position = np.zeros(labels.shape[0], dtype=np.int64)
    for letter in range(1, LETTERS + 1):
        members = labels == letter
        position[members] = np.arange(int(members.sum()))
    to_test = position % TEST_EVERY == TEST_EVERY - 1
    return LetterSplits(images[~to_test], labels[~to_test], images[to_test], labels[to_test])


def letters_fingerprint(splits: LetterSplits) -> str:
    """sha256 of the four arrays as written: images uint8 upright, labels as one byte each."""
    digest = hashlib.sha256()
    for images, labels in ((splits.train_images, splits.train_labels), (splits.test_images, splits.test_labels)):
        digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
        digest.update(np.asarray(labels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def splits_of_letters_file(letters: EmnistDataset) -> LetterSplits:
    """An EMNIST-letters dataset as :class:`LetterSplits` (labels back to 1..26), e.g. to fingerprint it."""
    return LetterSplits(letters.train.images, letters.train.labels + 1, letters.test.images, letters.test.labels + 1)
