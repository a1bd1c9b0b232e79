"""Prepared splits: the ``.npz`` files that ``convert`` writes and every training stage reads.

Each split file holds ``images`` float32 (N, H, W, C) in [0, 1] (EMNIST's: 28 × 28 × 1; your own
images': ``data.image_size`` × ``data.channels``), ``labels`` int32 in 0..K-1
and ``classes`` (K,) unicode: no Python objects, so it loads with ``allow_pickle=False``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distillation.atomic import write_npz
from distillation.paths import PREPARED_DIR

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PreparedSplit:
    images: np.ndarray  # float32 (N, H, W, C), C 1 or 3, values in [0, 1]
    labels: np.ndarray  # int32 (N,), values in 0..K-1
    classes: tuple[str, ...]

    def fingerprint(self) -> str:
        """Content hash of images and labels: identifies the data that logits were computed on."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images).tobytes())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()


def save_split(path: str | Path, split: PreparedSplit) -> None:
    write_npz(path, {"images": split.images, "labels": split.labels, "classes": np.array(split.classes)})


def load_split(path: str | Path) -> PreparedSplit:
    """Load one prepared split; a missing or malformed file raises a one-line ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: prepared split not found; run `dvc repro convert` first")
    try:
        with np.load(path, allow_pickle=False) as contents:
            images, labels, classes = contents["images"], contents["labels"], contents["classes"]
    except (KeyError, ValueError, OSError) as error:
        raise ValueError(f"{path}: not a prepared split ({error}); re-run `dvc repro convert`") from None
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: images {images.shape} and labels {labels.shape} do not match (N, H, W, 1 or 3) / (N,)")
    return PreparedSplit(images=images, labels=labels, classes=tuple(str(c) for c in classes))


def load_prepared(directory: str | Path = PREPARED_DIR) -> dict[str, PreparedSplit]:
    """All three splits, keyed ``train``, ``val``, ``test``; splits of different image shapes are refused."""
    splits = {name: load_split(Path(directory) / f"{name}.npz") for name in SPLITS}
    shapes = {split.images.shape[1:] for split in splits.values()}
    if len(shapes) > 1:
        raise ValueError(f"{directory}: the splits' images differ in shape ({', '.join(map(str, sorted(shapes)))}); "
                         "re-run `dvc repro convert`")
    return splits
