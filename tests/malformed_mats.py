"""Every kind of malformed EMNIST ``.mat`` the reader knows, with the problem it must report.

Shared by the reader's unit tests and the end-to-end tests that feed them to ``dvc repro``.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io

from conftest import random_upright_images


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _valid_raw() -> dict:
    images = random_upright_images(4).reshape(4, 784)
    split = {"images": images, "labels": np.array([[1], [2], [1], [2]], dtype=float)}
    return {"train": dict(split), "test": dict(split), "mapping": np.array([[1, 65, 97], [2, 66, 98]], dtype=float)}


def _damaged(damage: Callable[[dict], object]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        dataset = _valid_raw()
        damage(dataset)
        scipy.io.savemat(path, {"dataset": dataset})
    return write


# kind → (writes the file, a fragment of the one-line problem it must be reported with)
MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (_bytes(b""), "empty or truncated"),
    "truncated_header": (_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20), "empty or truncated"),
    "text_file": (_bytes(b"hello, this is a text file and certainly not a MAT file" * 4), "not a MAT file"),
    "hdf5_v73": (_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200), "v7.3"),
    "truncated_body": (_bytes(b"MATLAB 5.0 MAT-file, but the rest of this file was lost" + b"\0" * 100), "unreadable MAT file"),
    "no_dataset_struct": (lambda path: scipy.io.savemat(path, {"something_else": np.zeros(3)}), "missing 'dataset'"),
    "no_mapping": (_damaged(lambda d: d.pop("mapping")), "missing 'dataset.mapping'"),
    "no_train": (_damaged(lambda d: d.pop("train")), "missing 'dataset.train'"),
    "no_test": (_damaged(lambda d: d.pop("test")), "missing 'dataset.test'"),
    "no_test_images": (_damaged(lambda d: d["test"].pop("images")), "missing 'dataset.test.images'"),
    "no_train_labels": (_damaged(lambda d: d["train"].pop("labels")), "missing 'dataset.train.labels'"),
    "mapping_text": (_damaged(lambda d: d.update(mapping="abc")), "dataset.mapping has shape"),
    "images_not_784": (_damaged(lambda d: d["train"].update(images=np.zeros((4, 700), np.uint8))), "expected N×784"),
    "pixels_over_255": (_damaged(lambda d: d["train"].update(images=np.full((4, 784), 300.0))), "outside 0..255"),
    "pixels_nan": (_damaged(lambda d: d["train"].update(images=np.full((4, 784), np.nan))), "outside 0..255 or NaN"),
    "empty_test_split": (
        _damaged(lambda d: d["test"].update(images=np.zeros((0, 784), np.uint8), labels=np.zeros((0, 1)))),
        "dataset.test is empty",
    ),
    "label_not_in_mapping": (_damaged(lambda d: d["train"].update(labels=np.array([[1], [2], [9], [2]], float))), "not in the mapping"),
    "label_count_differs": (_damaged(lambda d: d["train"].update(labels=np.array([[1], [2], [1]], float))), "4 images but 3 labels"),
    "class_without_training_images": (
        _damaged(lambda d: d["train"].update(labels=np.array([[1], [1], [1], [1]], float))),
        "class 'Bb' has no training images",
    ),
    "labels_text": (_damaged(lambda d: d["train"].update(labels=np.array(["a", "b", "c", "d"]))), "not an EMNIST .mat file"),
}


def write_malformed(kind: str, path: Path) -> str:
    """Write the ``kind`` of broken file at ``path``; return the problem it must be reported with."""
    write, problem = MALFORMED[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)
    return problem
