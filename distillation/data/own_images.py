"""Your own labelled images, in the two layouts users have, read into one shape: uint8 (N, H, W, C).

- **A folder of class folders** (as Keras's ``image_dataset_from_directory`` and torchvision's
  ``ImageFolder`` read them): ``train/<class>/*`` and ``test/<class>/*``, optionally ``val/<class>/*``;
  the class names are the folder names, sorted.
- **An ``.npz`` of arrays**, the Keras datasets' convention: ``x_train, y_train, x_test, y_test``,
  optionally ``x_val, y_val`` and ``class_names``; images (N, H, W) or (N, H, W, C), uint8 in 0..255
  or floats in [0, 1]; labels integers 0..K−1.

Every image becomes ``channels`` (1: grey, 3: RGB; None: grey if every image is grey, else RGB)
and, where ``size`` is given, ``size`` (height, width); without it, every image must already have
one size. Bad input is one ``ValueError`` line naming the file as the user gave it. Needs Pillow,
not Keras.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distillation.atomic import write_npz
from distillation.data.byclass_letters import SOURCE_NAME as BYCLASS_LETTERS

NAMED_SOURCES = ("synthetic", "emnist", BYCLASS_LETTERS)  # data.source values that name no path of yours

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
FOLDER_SPLITS = ("train", "val", "test")  # val is optional
CHANNELS = (1, 3)
PIL_MODES = {1: "L", 3: "RGB"}
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # Pillow's modes without colour


@dataclass(frozen=True)
class ImageSplit:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int32 (N,), 0..K-1


@dataclass(frozen=True)
class ImageDataset:
    train: ImageSplit
    test: ImageSplit
    classes: tuple[str, ...]
    val: ImageSplit | None = None  # given by the user; otherwise carved from train


def _given(path: str | Path, shown: str | None, channels: int | None) -> tuple[Path, str]:
    """The path, how to name it (as the user gave it), once ``channels`` is known to be None, 1 or 3."""
    if channels is not None and channels not in CHANNELS:
        raise ValueError(f"data.channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return Path(path), shown or str(path)


def read_image(path: Path, shown: str, size: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """One image as uint8 (H, W, C): converted to ``channels`` (None: its own, grey or RGB), resized to
    ``size`` (height, width) if given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()  # a truncated file fails here, not later
            mode = PIL_MODES[channels] if channels is not None else ("L" if image.mode in GREY_MODES else "RGB")
            converted = image.convert(mode)
            if size is not None and converted.size != (size[1], size[0]):
                converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(converted, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"{shown}: not an image Pillow can read ({type(error).__name__}: {error})") from None
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _class_folders(split_dir: Path, shown: str) -> dict[str, list[Path]]:
    """Each class folder of a split and its image files, sorted; a class folder without images is refused."""
    folders = sorted(path for path in split_dir.iterdir() if path.is_dir() and not path.name.startswith("."))
    if not folders:
        raise ValueError(f"{shown}: no class folders (expected {shown}/<class>/<image>)")
    images = {}
    for folder in folders:
        files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{shown}/{folder.name}: a class folder with no images ({', '.join(IMAGE_SUFFIXES)})")
        images[folder.name] = files
    return images


def _same_channels(images: list[np.ndarray]) -> list[np.ndarray]:
    """Grey images as RGB if any image is RGB (each read in its own mode when data.channels is null)."""
    if all(image.shape[-1] == images[0].shape[-1] for image in images):
        return images
    return [np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image for image in images]


def _stack(images: list[np.ndarray], names: list[str]) -> np.ndarray:
    """The images of one split as one array; images of several sizes are refused, naming one of each."""
    first = images[0].shape[:2]
    for image, name in zip(images, names):
        if image.shape[:2] != first:
            raise ValueError(f"{name}: {image.shape[0]}×{image.shape[1]} pixels, but {names[0]} has {first[0]}×{first[1]}: "
                             "images of several sizes; set data.image_size to resize them all")
    return np.stack(images)


def _assembled(splits: dict[str, ImageSplit], classes: tuple[str, ...], shown: str) -> ImageDataset:
    """The splits as one dataset; splits whose images differ in size are refused."""
    if len({split.images.shape[-1] for split in splits.values()}) > 1:  # grey in one split, RGB in another
        splits = {name: ImageSplit(np.repeat(split.images, 3, axis=-1) if split.images.shape[-1] == 1 else split.images,
                                   split.labels) for name, split in splits.items()}
    shapes = {split.images.shape[1:] for split in splits.values()}
    if len(shapes) > 1:
        raise ValueError(f"{shown}: the splits' images differ in size ({', '.join(sorted(map(str, shapes)))}); "
                         "set data.image_size to resize them all")
    return ImageDataset(train=splits["train"], test=splits["test"], classes=classes, val=splits.get("val"))


def read_image_folder(root: str | Path, shown: str | None = None, size: tuple[int, int] | None = None,
                      channels: int | None = None) -> ImageDataset:
    """``root/{train,test}/<class>/*`` (and optionally ``root/val``) as a dataset; ``shown``: ``root`` as the user gave it."""
    root, shown = _given(root, shown, channels)
    if not root.is_dir():
        raise ValueError(f"{shown}: no such folder")
    missing = [name for name in ("train", "test") if not (root / name).is_dir()]
    if missing:
        raise ValueError(f"{shown}: no {missing[0]}/ folder (expected {shown}/train/<class>/* and {shown}/test/<class>/*)")
    found = {name: _class_folders(root / name, f"{shown}/{name}") for name in FOLDER_SPLITS if (root / name).is_dir()}
    classes = tuple(found["train"])
    if len(classes) < 2:
        raise ValueError(f"{shown}/train: one class ({classes[0]}); a classifier needs two or more")
    for name, by_class in found.items():
        unknown = [label for label in by_class if label not in classes]
        if unknown:
            raise ValueError(f"{shown}/{name}/{unknown[0]}: a class that {shown}/train does not have")
    splits: dict[str, ImageSplit] = {}
    for name, by_class in found.items():
        images, labels, names = [], [], []
        for label, files in by_class.items():
            for path in files:
                where = f"{shown}/{name}/{label}/{path.name}"
                images.append(read_image(path, where, size, channels))
                labels.append(classes.index(label))
                names.append(where)
        splits[name] = ImageSplit(images=_stack(_same_channels(images), names), labels=np.asarray(labels, np.int32))
    return _assembled(splits, classes, shown)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """RGB → grey as Pillow's ``convert("L")`` does it (ITU-R 601-2, its integer rounding), so both layouts agree."""
    weighted = rgb[..., 0].astype(np.uint32) * 19595 + rgb[..., 1].astype(np.uint32) * 38470 + rgb[..., 2].astype(np.uint32) * 7471
    return ((weighted + 0x8000) >> 16).astype(np.uint8)[..., None]


def _as_images(array: np.ndarray, key: str, shown: str, size: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    """An ``.npz`` array of images as uint8 (N, H, W, ``channels``)."""
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in CHANNELS:
        raise ValueError(f"{shown}: {key} has shape {array.shape}; expected (N, H, W) or (N, H, W, C) with C 1 or 3")
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1 or np.isnan(array).any()):
            raise ValueError(f"{shown}: {key} holds floats outside [0, 1]; give uint8 0..255 or floats in [0, 1]")
        array = np.round(array * 255)
    elif not np.issubdtype(array.dtype, np.integer) or (array.size and (array.min() < 0 or array.max() > 255)):
        raise ValueError(f"{shown}: {key} must be integers 0..255 or floats in [0, 1], got {array.dtype}")
    images = array.astype(np.uint8)
    channels = channels or images.shape[-1]
    if images.shape[-1] != channels:
        images = _luma(images) if channels == 1 else np.repeat(images, 3, axis=-1)
    if size is not None and images.shape[1:3] != size:
        from PIL import Image

        mode = PIL_MODES[channels]
        resized = [np.asarray(Image.fromarray(image.squeeze(-1) if channels == 1 else image, mode)
                              .resize((size[1], size[0]), Image.Resampling.BILINEAR)) for image in images]
        images = np.stack(resized).reshape(len(images), *size, channels)
    return images


def read_arrays_npz(path: str | Path, shown: str | None = None, size: tuple[int, int] | None = None,
                    channels: int | None = None) -> ImageDataset:
    """An ``.npz`` of ``x_train, y_train, x_test, y_test`` (optionally ``x_val, y_val``, ``class_names``) as a dataset."""
    path, shown = _given(path, shown, channels)
    if not path.is_file():
        raise ValueError(f"{shown}: no such file")
    try:
        with np.load(path, allow_pickle=False) as contents:
            arrays = {key: contents[key] for key in contents.files}
    except (ValueError, OSError) as error:
        raise ValueError(f"{shown}: not an .npz of arrays numpy can read without pickle ({error})") from None
    missing = [key for key in ("x_train", "y_train", "x_test", "y_test") if key not in arrays]
    if missing:
        raise ValueError(f"{shown}: no array '{missing[0]}' (expected x_train, y_train, x_test, y_test; "
                         f"optionally x_val, y_val, class_names)")
    names = [str(name) for name in arrays["class_names"]] if "class_names" in arrays else None
    present = [name for name in FOLDER_SPLITS if f"x_{name}" in arrays]
    labels_max = max(int(arrays[f"y_{name}"].max(initial=0)) for name in present if f"y_{name}" in arrays)
    classes = tuple(names) if names is not None else tuple(str(index) for index in range(labels_max + 1))
    if len(classes) < 2:
        raise ValueError(f"{shown}: one class; a classifier needs two or more")
    splits: dict[str, ImageSplit] = {}
    for name in present:
        if f"y_{name}" not in arrays:
            raise ValueError(f"{shown}: x_{name} without y_{name}")
        labels = arrays[f"y_{name}"].reshape(-1)
        images = _as_images(arrays[f"x_{name}"], f"x_{name}", shown, size, channels)
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{shown}: x_{name} has {images.shape[0]} images but y_{name} {labels.shape[0]} labels")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{shown}: y_{name} must hold integer class indices, got {labels.dtype}")
        outside = labels[(labels < 0) | (labels >= len(classes))]
        if outside.size:
            raise ValueError(f"{shown}: y_{name} holds label {int(outside[0])}, outside the {len(classes)} classes 0..{len(classes) - 1}")
        splits[name] = ImageSplit(images=images, labels=labels.astype(np.int32))
    return _assembled(splits, classes, shown)


def is_own_images(source: str) -> bool:
    """Whether ``data.source`` names your own images (a folder, or an ``.npz``) rather than an EMNIST source."""
    return source not in NAMED_SOURCES and (Path(source).is_dir() or Path(source).suffix.lower() == ".npz")


def read_own_images(given: str, size: tuple[int, int] | None = None, channels: int | None = None) -> ImageDataset | None:
    """``data.source`` as your own images: a folder of class folders, or an ``.npz`` of arrays; None for any other source."""
    path = Path(given)
    if path.is_dir():
        return read_image_folder(path, given, size, channels)
    if path.suffix.lower() == ".npz":
        return read_arrays_npz(path, given, size, channels)
    return None


def write_image_dataset(path: str | Path, dataset: ImageDataset) -> None:
    """``dataset`` as an ``.npz`` in the convention :func:`read_arrays_npz` reads (atomically)."""
    splits = {"train": dataset.train, "test": dataset.test, **({"val": dataset.val} if dataset.val is not None else {})}
    arrays = {key: array for name, split in splits.items() for key, array in ((f"x_{name}", split.images), (f"y_{name}", split.labels))}
    write_npz(path, {**arrays, "class_names": np.array(dataset.classes)})
