"""Stored augmented views of the training images: how they are drawn, stored and read back.

``augment.views: K`` gives every training image K distorted copies, made once by the ``augment``
stage and stored as uint8: a random affine map (rotation, scale, shear, shift, all small) and,
optionally, Simard et al.'s (2003) elastic distortion. Never a flip: every map keeps the
orientation (positive determinant) and the bounds in :mod:`distillation.config.params` keep a letter
the letter it was.

View ``v`` of image ``i`` depends only on the seed, ``v`` and ``i``: views are drawn view by view
in fixed chunks of images, so the K views of a run are the first K of any larger K. A curve over
K then adds views to the same set instead of drawing a new one.

Views are stored view-major: row ``v·N + i`` of ``images.npy`` is view ``v`` of training image
``i``. The teacher's outputs for them (``view_targets`` stage) use the same rows. Each epoch a
student sees every training image once, as one of its K + 1 versions (the image itself or one
of its views), drawn at random (:func:`epoch_rows`; the batches: :mod:`distillation.training.view_batches`):
an epoch costs what it costs without views, and the teacher's output always comes from the row
of the version shown.

Any size and RGB: an image of H × W turns about its centre; the channels of an RGB image move
together. Grey views are stored (K·N, H, W), RGB views (K·N, H, W, 3).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from distillation.atomic import atomic_output, write_json
from distillation.config.params import AugmentParams
from distillation.data.prepared import PreparedSplit

CHUNK = 4096  # images drawn at a time: fixed, so a view never depends on how many are drawn
IMAGES_FILE = "images.npy"
INDEX_FILE = "views.json"
RERUN = "re-run `dvc repro augment`"


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Prepared float images in [0, 1] (N, H, W, C) → uint8, (N, H, W) for grey, (N, H, W, C) otherwise."""
    grey_or_colour = images[..., 0] if images.shape[-1] == 1 else images
    return np.rint(np.clip(grey_or_colour, 0.0, 1.0) * 255).astype(np.uint8)


def as_model_input(pixels: np.ndarray) -> np.ndarray:
    """uint8 views (N, H, W) or (N, H, W, C) → float32 in [0, 1] (N, H, W, C), as prepared images are."""
    images = pixels.astype(np.float32) / 255.0
    return images[..., None] if images.ndim == 3 else images


def pixel_shape(train: PreparedSplit) -> tuple[int, ...]:
    """The shape of one stored view of ``train``'s images."""
    return to_pixels(train.images[:0]).shape[1:]


def _inverse_maps(count: int, settings: AugmentParams, random: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the matrix taking an output pixel's offset from the centre to the input's, and the shift."""
    angle = np.deg2rad(random.uniform(-settings.rotation_degrees, settings.rotation_degrees, count))
    scale = random.uniform(1 - settings.scale, 1 + settings.scale, count)
    shear = random.uniform(-settings.shear, settings.shear, count)
    shift = random.uniform(-settings.shift_pixels, settings.shift_pixels, (count, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    shearing = np.zeros((count, 2, 2))
    shearing[:, 0, 0] = shearing[:, 1, 1] = 1.0
    shearing[:, 1, 0] = shear  # (row, column): the column moves with the row, a slanted stroke
    forward = rotation @ shearing * scale[:, None, None]
    return np.linalg.inv(forward), shift


def distort(pixels: np.ndarray, settings: AugmentParams, random: np.random.Generator) -> np.ndarray:
    """One random view of each uint8 image (N, H, W) or (N, H, W, C), drawn from ``random``; uint8 out."""
    count, height, width = pixels.shape[:3]
    inverse, shift = _inverse_maps(count, settings, random)
    centre_row, centre_column = (height - 1) / 2, (width - 1) / 2
    # Where each output pixel reads from: inverse·(out − centre − shift) + centre.
    row = (np.arange(height, dtype=np.float32) - centre_row)[None, :, None] - shift[:, 0, None, None].astype(np.float32)  # (N, H, 1)
    column = (np.arange(width, dtype=np.float32) - centre_column)[None, None, :] - shift[:, 1, None, None].astype(np.float32)  # (N, 1, W)
    inverse = inverse.astype(np.float32)[..., None, None]
    source_rows = inverse[:, 0, 0] * row + inverse[:, 0, 1] * column + centre_row
    source_columns = inverse[:, 1, 0] * row + inverse[:, 1, 1] * column + centre_column
    if settings.elastic_alpha > 0:
        field = random.uniform(-1, 1, (count, 2, height, width)).astype(np.float32)
        field = ndimage.gaussian_filter(field, sigma=(0, 0, settings.elastic_sigma, settings.elastic_sigma), mode="constant")
        # Simard et al. scale the smoothed field by α; normalising its largest value first keeps α in pixels at any σ.
        peak = np.abs(field).max(axis=(1, 2, 3), keepdims=True)
        field *= settings.elastic_alpha / np.maximum(peak, 1e-12)
        source_rows, source_columns = source_rows + field[:, 0], source_columns + field[:, 1]
    return np.rint(np.clip(bilinear(pixels, source_rows, source_columns), 0, 255)).astype(np.uint8)


def bilinear(pixels: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each image of ``pixels`` (N, H, W) or (N, H, W, C) read at (``rows``, ``columns``) (N, H, W),
    bilinearly, every channel at the same places; 0 outside.

    Vectorised over the whole chunk (scipy's ``map_coordinates`` would interpolate along the
    image axis too and took 25x as long).
    """
    count, height, width = pixels.shape[:3]
    channel_axes = ((0, 0),) * (pixels.ndim - 3)
    padded = np.pad(pixels.astype(np.float32), ((0, 0), (1, 1), (1, 1), *channel_axes))  # a frame of zeros: outside is blank
    top, left = np.floor(rows), np.floor(columns)
    down, right = (rows - top).astype(np.float32), (columns - left).astype(np.float32)
    top, left = top.astype(np.int64) + 1, left.astype(np.int64) + 1  # in the framed image
    bottom, far = np.clip(top + 1, 0, height + 1), np.clip(left + 1, 0, width + 1)
    top, left = np.clip(top, 0, height + 1), np.clip(left, 0, width + 1)
    image = np.arange(count)[:, None, None]
    if pixels.ndim == 4:  # the same weights for every channel
        down, right = down[..., None], right[..., None]
    upper = padded[image, top, left] * (1 - right) + padded[image, top, far] * right
    lower = padded[image, bottom, left] * (1 - right) + padded[image, bottom, far] * right
    return upper * (1 - down) + lower * down


def iterate_views(pixels: np.ndarray, settings: AugmentParams, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, uint8 views)`` in row order ``v·N + i``, chunk by chunk, for v < ``settings.views``."""
    count = pixels.shape[0]
    for view in range(settings.views):
        for start in range(0, count, CHUNK):
            random = np.random.default_rng([seed, view, start // CHUNK])
            yield view * count + start, distort(pixels[start:start + CHUNK], settings, random)


class StoredRows:
    """A stored ``.npy`` whose rows are read from the file on demand, never mapped.

    The views and their teacher outputs are read once per epoch (the version of each image that
    epoch shows). Pages of a mapped file count in the process's resident memory while mapped, and
    an epoch's random rows touch most pages of the file: at K = 16 and the official size that
    was 0.8 GB on top of the student's own. Reads go through the page cache in blocks instead.
    """

    READ_BYTES = 8 << 20  # one block read at a time: its buffer is all the memory reading takes

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as stream:
            major, _ = np.lib.format.read_magic(stream)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(stream)
            self.data_offset = stream.tell()
        if fortran_order or dtype.hasobject:
            raise ValueError(f"{self.path}: not a C-ordered array of numbers")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def _read_span(self, stream, first: int, count: int) -> np.ndarray:
        """Rows ``first`` … ``first + count − 1``, read from the open file."""
        out = np.empty((count, *self.shape[1:]), self.dtype)
        stream.seek(self.data_offset + first * self.row_bytes)
        if stream.readinto(memoryview(out).cast("B")) != count * self.row_bytes:
            raise ValueError(f"{self.path}: shorter than its header says; re-run the stage that wrote it")
        return out

    def __getitem__(self, rows: np.ndarray | slice) -> np.ndarray:
        """The ``rows`` (an integer array, in its order, or a slice of step 1) as an array in memory."""
        if isinstance(rows, slice):
            first, stop, step = rows.indices(self.shape[0])
            if step != 1:
                raise ValueError("StoredRows reads slices of step 1 only")
            with open(self.path, "rb") as stream:
                return self._read_span(stream, first, max(stop - first, 0))
        rows = np.asarray(rows)
        if rows.ndim == 0:
            return self[rows[None]][0]
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"{self.path}: rows outside 0 … {self.shape[0] - 1}")
        order = np.argsort(rows, kind="stable")  # ascending reads: each block once
        wanted = rows[order]
        out = np.empty((rows.shape[0], *self.shape[1:]), self.dtype)
        block_rows = max(1, self.READ_BYTES // max(self.row_bytes, 1))
        # wanted[bounds[b]:bounds[b + 1]] fall in block b
        bounds = np.searchsorted(wanted, np.arange(0, self.shape[0] + block_rows, block_rows))
        with open(self.path, "rb") as stream:
            for low, high in zip(bounds[:-1], bounds[1:]):
                if low == high:
                    continue
                first = int(wanted[low])
                span = self._read_span(stream, first, int(wanted[high - 1]) - first + 1)
                out[order[low:high]] = span[wanted[low:high] - first]
        return out

    def read(self) -> np.ndarray:
        """Every row, in memory."""
        return np.load(self.path, allow_pickle=False)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.read() if dtype is None else self.read().astype(dtype)


def write_views(directory: str | Path, train: PreparedSplit, settings: AugmentParams, seed: int) -> StoredRows:
    """Draw and store the views of ``train`` in ``directory``; return them (read a few rows at a time).

    The views go chunk by chunk into the ``.npy`` file, hashed as they are written, and are never
    held in memory or mapped whole: at K = 16 and the official size they are 1.41 GB, and a mapped
    or re-read file counts in the stage's resident memory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pixels = to_pixels(train.images)
    shape = (settings.views * pixels.shape[0], *pixels.shape[1:])
    target = directory / IMAGES_FILE
    digest = hashlib.sha256()  # of the rows' bytes in order: the views' fingerprint
    with atomic_output(target) as temporary, open(temporary, "wb") as stream:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(stream, header)
        for _, chunk in iterate_views(pixels, settings, seed):  # in row order
            data = np.ascontiguousarray(chunk).tobytes()
            digest.update(data)
            stream.write(data)
    write_json(directory / INDEX_FILE, {
        "views": settings.views, "train_images": int(pixels.shape[0]),
        "train_fingerprint": train.fingerprint(), "views_fingerprint": digest.hexdigest(),
    })
    return StoredRows(target)


@dataclass(frozen=True)
class StoredViews:
    images: StoredRows | np.ndarray  # uint8 (K·N, H, W) or (K·N, H, W, C), row v·N + i
    views: int
    fingerprint: str  # of the images, so teacher outputs can name the views they belong to


def load_views(directory: str | Path, train: PreparedSplit, views: int) -> StoredViews:
    """The ``views`` stored views of ``train``; a ``ValueError`` if missing, or drawn for another split or K."""
    directory = Path(directory)
    index_path, images_path = directory / INDEX_FILE, directory / IMAGES_FILE
    if not index_path.is_file() or not images_path.is_file():
        raise ValueError(f"{directory}: no stored views; {RERUN}")
    index = json.loads(index_path.read_text())
    if index.get("train_fingerprint") != train.fingerprint():
        raise ValueError(f"{directory}: stale views: drawn from another train split; {RERUN}")
    if index.get("views") != views:
        raise ValueError(f"{directory}: {index.get('views')} views stored, augment.views is {views}; {RERUN}")
    images = StoredRows(images_path)
    expected = (index["views"] * train.labels.shape[0], *pixel_shape(train))
    if images.shape != expected or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: views {images.shape} {images.dtype} where {expected} uint8 was recorded; {RERUN}")
    return StoredViews(images=images, views=int(index["views"]), fingerprint=index["views_fingerprint"])


def epoch_rows(train_images: int, views: int, epochs: int, seed: int) -> np.ndarray:
    """(epochs, N) int: per epoch, every image once in random order, as one of its K + 1 versions.

    Entry ``r`` names a version: ``r < N`` is image ``r`` itself, ``r ≥ N`` is row ``r − N`` of
    the stored views (view ``(r − N) // N`` of image ``(r − N) % N``).
    """
    random = np.random.default_rng([seed, 1])
    rows = np.empty((epochs, train_images), dtype=np.int64)
    for epoch in range(epochs):
        order = random.permutation(train_images)
        version = random.integers(0, views + 1, train_images)
        rows[epoch] = order + version * train_images
    return rows


def views_seen(views: int, epochs: int) -> dict[str, float]:
    """How patient training used the K stored views of each image over ``epochs`` (expected values).

    Each epoch shows an image once as one of its K + 1 versions, drawn uniformly
    (:func:`epoch_rows`): K·E/(K + 1) views of it over E epochs, each version
    E/(K + 1) times. Beyer et al.'s patient teacher sees a fresh view every time; the second
    figure says how far stored views are from that.
    """
    return {"views_shown_per_image": round(views * epochs / (views + 1), 2),
            "showings_per_version": round(epochs / (views + 1), 2)}
