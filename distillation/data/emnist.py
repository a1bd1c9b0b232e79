"""Read and write EMNIST ``.mat`` files in the official NIST layout.

The official files hold one struct ``dataset`` with fields ``train`` and ``test`` (each with
``images`` N×784 uint8, ``labels`` N×1, ``writers`` N×1) and ``mapping`` (K rows of
``[label, ASCII code, ...]``). Each image row is the 28×28 bitmap stored *transposed*
(column-major), so it must be flipped back to be upright. Labels start at 1 for the letters
split and at 0 for the digit splits; both are remapped to 0..K-1 here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from distillation.atomic import atomic_output

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
MAT_HEADER_TEXT = "MATLAB 5.0 MAT-file, Platform: posix, written by distillation.data.emnist"


class EmnistFormatError(ValueError):
    """The file is missing or is not a usable EMNIST ``.mat``; the message names the file."""


@dataclass(frozen=True)
class EmnistSplit:
    """Upright images (N, 28, 28) uint8 and class indices (N,) in 0..K-1."""

    images: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class EmnistDataset:
    train: EmnistSplit
    test: EmnistSplit
    classes: tuple[str, ...]  # characters of each class, e.g. "Aa" for letters, "7" for digits


def class_characters(mapping_row: np.ndarray) -> str:
    """Characters of one mapping row ``[label, ascii, ascii, ...]``, duplicates dropped."""
    characters: list[str] = []
    for code in mapping_row[1:]:
        character = chr(int(code))
        if character not in characters:
            characters.append(character)
    return "".join(characters)


def describe_user_path(given: str | Path) -> str:
    """``given`` as the user wrote it, quoted, plus its resolved form where that differs."""
    resolved = Path(given).resolve()
    return f"'{given}'" if str(resolved) == str(given) else f"'{given}' ({resolved})"


def _field(container: dict, name: str, where: str, shown: str):
    if not isinstance(container, dict) or name not in container:
        raise EmnistFormatError(f"{shown}: not an EMNIST .mat file: missing '{where}{name}'")
    return container[name]


def _load_mat(file: Path, shown: str) -> dict:
    if not file.is_file():
        raise EmnistFormatError(f"{shown}: file not found")
    with file.open("rb") as handle:
        header = handle.read(128)
    if len(header) < 128:
        raise EmnistFormatError(f"{shown}: empty or truncated file ({len(header)} bytes), not a MAT file")
    if header.startswith(b"\x89HDF") or b"MATLAB 7.3" in header:
        raise EmnistFormatError(
            f"{shown}: MATLAB v7.3 (HDF5) files are not supported; re-save it in MATLAB with "
            "save(name, 'dataset', '-v7') or in Python with scipy.io.savemat"
        )
    if not header.startswith(b"MATLAB"):
        raise EmnistFormatError(f"{shown}: not a MAT file (no MATLAB header)")
    try:
        return scipy.io.loadmat(str(file), simplify_cells=True)
    except Exception as error:  # scipy raises many kinds for damaged files
        raise EmnistFormatError(f"{shown}: unreadable MAT file ({type(error).__name__}: {error})") from None


def _read_split(dataset: dict, name: str, label_to_index: dict[int, int], shown: str) -> EmnistSplit:
    split = _field(dataset, name, "dataset.", shown)
    images = np.asarray(_field(split, "images", f"dataset.{name}.", shown))
    labels = np.asarray(_field(split, "labels", f"dataset.{name}.", shown))
    if images.size == 0:
        raise EmnistFormatError(f"{shown}: dataset.{name} is empty")
    # scipy squeezes a single-image split to a vector; anything else must be N×784.
    if images.ndim == 1 and images.shape[0] == PIXELS:
        images = images.reshape(1, PIXELS)
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise EmnistFormatError(
            f"{shown}: dataset.{name}.images has shape {images.shape}, expected N×{PIXELS}"
        )
    if images.dtype != np.uint8:
        values = images.astype(np.float64)
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 255:
            raise EmnistFormatError(f"{shown}: dataset.{name}.images has pixel values outside 0..255 or NaN")
        images = values.astype(np.uint8)
    labels = labels.reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise EmnistFormatError(
            f"{shown}: dataset.{name} has {images.shape[0]} images but {labels.shape[0]} labels"
        )
    label_values = np.asarray(labels, dtype=np.float64)
    known = np.array(sorted(label_to_index), dtype=np.float64)
    unknown = ~np.isin(label_values, known)
    if unknown.any():
        raise EmnistFormatError(
            f"{shown}: dataset.{name}.labels has values not in the mapping, e.g. {label_values[unknown][0]:g}"
        )
    indices = np.searchsorted(known, label_values).astype(np.int32)
    # Rows are stored column-major: transposing each 28×28 block makes the letter upright.
    upright = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 1)
    return EmnistSplit(images=np.ascontiguousarray(upright), labels=indices)


def read_emnist_mat(file: str | Path, shown_as: str | None = None) -> EmnistDataset:
    """Read an EMNIST split file (letters, digits, balanced, ...) in the official layout.

    Raises :class:`EmnistFormatError` with a one-line message for every kind of malformed
    input; the message starts with ``shown_as`` (how the user named the file, see
    :func:`describe_user_path`), or with the path itself.
    """
    shown = shown_as or str(file)
    contents = _load_mat(Path(file), shown)
    try:
        return _read_dataset(contents, shown)
    except EmnistFormatError:
        raise
    except (TypeError, ValueError, IndexError, AttributeError) as error:
        # Fields of an unexpected kind (text where numbers belong, nested structs, ...).
        raise EmnistFormatError(f"{shown}: not an EMNIST .mat file ({type(error).__name__}: {error})") from None


def _read_dataset(contents: dict, shown: str) -> EmnistDataset:
    dataset = _field(contents, "dataset", "", shown)
    mapping = np.atleast_2d(np.asarray(_field(dataset, "mapping", "dataset.", shown)))
    if mapping.ndim != 2 or mapping.shape[1] < 2 or mapping.shape[0] == 0:
        raise EmnistFormatError(f"{shown}: dataset.mapping has shape {mapping.shape}, expected K×(1+characters)")
    mapping = mapping[np.argsort(mapping[:, 0], kind="stable")]
    label_to_index = {int(label): index for index, label in enumerate(mapping[:, 0])}
    classes = tuple(class_characters(row) for row in mapping)
    train = _read_split(dataset, "train", label_to_index, shown)
    test = _read_split(dataset, "test", label_to_index, shown)
    missing = np.setdiff1d(np.arange(len(classes)), train.labels)
    if missing.size:
        raise EmnistFormatError(
            f"{shown}: class '{classes[missing[0]]}' has no training images"
        )
    return EmnistDataset(train=train, test=test, classes=classes)


def write_emnist_mat(
    path: str | Path,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    mapping: np.ndarray,
) -> None:
    """Write upright (N, 28, 28) uint8 images and raw labels in the official EMNIST layout.

    ``mapping`` is the K×(1+c) table of ``[label, ascii codes...]``; labels are written as
    given (1-based for letters), as doubles like the NIST files, atomically.
    """

    def split_struct(images: np.ndarray, labels: np.ndarray) -> dict:
        stored = np.ascontiguousarray(images.transpose(0, 2, 1)).reshape(-1, PIXELS).astype(np.uint8)
        column = np.asarray(labels, dtype=np.float64).reshape(-1, 1)
        return {"images": stored, "labels": column, "writers": np.zeros_like(column)}

    content = {
        "dataset": {
            "train": split_struct(train_images, train_labels),
            "test": split_struct(test_images, test_labels),
            "mapping": np.asarray(mapping, dtype=np.float64),
        }
    }
    with atomic_output(path) as temporary:
        scipy.io.savemat(str(temporary), content, do_compression=False)
        # scipy stamps the time into the 116-byte text header; a fixed one keeps equal data byte-identical.
        with temporary.open("r+b") as handle:
            handle.write(MAT_HEADER_TEXT.ljust(116).encode("ascii"))
