"""The embedded default data: deterministic, balanced, letters drawn upright."""
from __future__ import annotations

import numpy as np

from distillation.data.synthetic import generate_letters


def test_same_seed_gives_same_bytes_and_other_seed_differs():
    first_images, first_labels = generate_letters(3, seed=7)
    again_images, again_labels = generate_letters(3, seed=7)
    other_images, _ = generate_letters(3, seed=8)
    np.testing.assert_array_equal(first_images, again_images)
    np.testing.assert_array_equal(first_labels, again_labels)
    assert not np.array_equal(first_images, other_images)


def test_every_letter_has_its_share_and_uses_the_whole_range():
    images, labels = generate_letters(5, seed=0)
    assert images.shape == (130, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels, minlength=27)[1:], [5] * 26)
    assert images.max() > 200
    # EMNIST leaves an empty border: the outermost pixel frame is (nearly) blank.
    assert images[:, 0, :].mean() < 5 and images[:, :, 0].mean() < 5


def test_letter_l_is_drawn_taller_than_wide():
    images, labels = generate_letters(20, seed=0)
    column_ink = images[labels == 12].astype(float).sum(axis=1)  # ink per column
    row_ink = images[labels == 12].astype(float).sum(axis=2)  # ink per row
    rows_used = (row_ink > 50).sum(axis=1)
    columns_used = (column_ink > 50).sum(axis=1)
    assert np.median(rows_used / columns_used) > 1.5
