"""Making the prepared splits from the raw dataset (``convert``): scaling and the stratified val split.

Kept apart from :mod:`distillation.data.prepared`, which every training stage reads, so that editing
how splits are made re-runs ``convert`` alone (its outputs then tell DVC what else changed).
"""
from __future__ import annotations

import numpy as np

from distillation.data.emnist import EmnistDataset, EmnistSplit
from distillation.data.own_images import ImageDataset, ImageSplit
from distillation.data.prepared import PreparedSplit


def stratified_validation_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask choosing ``fraction`` of each class (rounded, at least one) for validation.

    Vectorised: shuffle, sort stably by class, and take the first ``n_c`` of each class.
    """
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(labels.shape[0])
    by_class = shuffled[np.argsort(labels[shuffled], kind="stable")]
    counts = np.bincount(labels)
    first_of_class = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_labels = labels[by_class]
    rank_in_class = np.arange(labels.shape[0]) - first_of_class[sorted_labels]
    validation_counts = np.where(counts > 1, np.maximum(1, np.rint(counts * fraction)), 0).astype(int)
    mask = np.zeros(labels.shape[0], dtype=bool)
    mask[by_class[rank_in_class < validation_counts[sorted_labels]]] = True
    return mask


def _as_prepared(split: EmnistSplit, classes: tuple[str, ...], rows: np.ndarray | slice = slice(None)) -> PreparedSplit:
    images = split.images[rows].astype(np.float32)
    images /= 255.0
    return PreparedSplit(images=images[..., None], labels=split.labels[rows].astype(np.int32), classes=classes)


def prepare_splits(dataset: EmnistDataset, val_fraction: float, seed: int) -> dict[str, PreparedSplit]:
    """Scale to [0, 1], add the channel axis, and carve a stratified val split from train."""
    validation = stratified_validation_mask(dataset.train.labels, val_fraction, seed)
    return {
        "train": _as_prepared(dataset.train, dataset.classes, ~validation),
        "val": _as_prepared(dataset.train, dataset.classes, validation),
        "test": _as_prepared(dataset.test, dataset.classes),
    }


def _scaled(split: ImageSplit, classes: tuple[str, ...], rows: np.ndarray | slice = slice(None)) -> PreparedSplit:
    images = split.images[rows].astype(np.float32)
    images /= 255.0
    return PreparedSplit(images=images, labels=split.labels[rows].astype(np.int32), classes=classes)


def prepare_image_splits(dataset: ImageDataset, val_fraction: float, seed: int) -> dict[str, PreparedSplit]:
    """Your own images scaled to [0, 1]: their own val split if they have one, else one carved from train as above."""
    if dataset.val is not None:
        return {"train": _scaled(dataset.train, dataset.classes), "val": _scaled(dataset.val, dataset.classes),
                "test": _scaled(dataset.test, dataset.classes)}
    validation = stratified_validation_mask(dataset.train.labels, val_fraction, seed)
    return {
        "train": _scaled(dataset.train, dataset.classes, ~validation),
        "val": _scaled(dataset.train, dataset.classes, validation),
        "test": _scaled(dataset.test, dataset.classes),
    }
