"""Deterministic handwriting-like letters, written as an EMNIST-letters ``.mat``.

No EMNIST copy may be shipped and the machines are offline, so the default input is drawn from
the single-stroke Hershey vector fonts: each of the 26 classes has an upper- and a lower-case
form in several type faces. Every sample gets its own slant, rotation, anisotropic scale,
smooth elastic wobble, stroke width and ink intensity, and is then processed the way NIST
processed EMNIST (blur, crop to the ink, centre in a square with a 2-pixel margin, 28×28,
stored transposed). Work is vectorised over all samples of one glyph: the only Python loop
runs over the 26 × 2 × fonts glyphs, never over images.
"""
from __future__ import annotations

import os
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.ndimage
from HersheyFonts import HersheyFonts

from distillation.data.emnist import IMAGE_SIDE

# Single-stroke faces: they look like pen strokes rather than outlined type.
FONTS = ("futural", "rowmans", "scripts", "cursive")
MARGIN = 2  # pixels of empty border, as in EMNIST
SUPERSAMPLING = 1  # the distance-based coverage already anti-aliases edges
CHUNK = 64  # samples rendered at once; bounds memory at about 100 MB


@dataclass(frozen=True)
class Distortion:
    """Ranges of the per-sample random variation (angles in degrees, lengths in pixels)."""

    rotation: float = 15.0
    slant: float = 0.35  # horizontal shear factor
    aspect: float = 0.2  # standard deviation of log(x-scale / y-scale)
    elastic: float = 0.2  # amplitude of the smooth wobble, as a fraction of glyph height
    stroke_width: tuple[float, float] = (1.3, 3.2)
    ink: tuple[float, float] = (0.65, 1.0)
    blur: float = 0.5


@cache
def _font(font: str) -> HersheyFonts:
    # Loading a face unpacks the package's whole font archive: do it once per face.
    renderer = HersheyFonts()
    renderer.load_default_font(font)
    return renderer


@cache
def glyph_segments(font: str, character: str) -> np.ndarray:
    """Line segments (S, 2, 2) of one glyph, y pointing down, in font units."""
    renderer = _font(font)
    segments = [
        (start, end)
        for stroke in renderer.strokes_for_text(character)
        for start, end in zip(stroke[:-1], stroke[1:])
    ]
    if not segments:
        raise ValueError(f"Hershey font '{font}' has no strokes for '{character}'")
    return np.asarray(segments, dtype=np.float32)


def _distort(segments: np.ndarray, count: int, rng: np.random.Generator, distortion: Distortion) -> np.ndarray:
    """Apply a random elastic wobble and affine map per sample: (S,2,2) → (count,S,2,2)."""
    points = segments - segments.reshape(-1, 2).mean(axis=0)
    height = np.ptp(points[..., 1]) + 1e-6
    points = np.broadcast_to(points / height, (count, *points.shape)).copy()
    # Smooth displacement as a function of position, so strokes that meet stay joined.
    x, y = points[None, ..., 0], points[None, ..., 1]  # (1, count, S, 2)
    frequency = rng.uniform(1.0, 3.0, size=(2, 2, count, 1, 1))  # [moved axis, along axis]
    phase = rng.uniform(0, 2 * np.pi, size=(2, count, 1, 1))
    amplitude = rng.uniform(0, distortion.elastic, size=(2, count, 1, 1))
    wobble = amplitude * np.sin(frequency[:, 0] * x + frequency[:, 1] * y + phase)
    points = points + np.moveaxis(wobble, 0, -1)
    angle = np.deg2rad(rng.uniform(-distortion.rotation, distortion.rotation, size=count))
    shear = rng.uniform(-distortion.slant, distortion.slant, size=count)
    log_aspect = rng.normal(0, distortion.aspect, size=count)
    cos, sin = np.cos(angle), np.sin(angle)
    scale_x, scale_y = np.exp(log_aspect / 2), np.exp(-log_aspect / 2)
    # x' = (x + shear·y)·sx rotated; written out so all samples transform at once.
    sheared_x = (points[..., 0] - shear[:, None, None] * points[..., 1]) * scale_x[:, None, None]
    scaled_y = points[..., 1] * scale_y[:, None, None]
    rotated = np.stack(
        [cos[:, None, None] * sheared_x - sin[:, None, None] * scaled_y,
         sin[:, None, None] * sheared_x + cos[:, None, None] * scaled_y],
        axis=-1,
    )
    return rotated.astype(np.float32)


def _render(strokes: np.ndarray, widths: np.ndarray, ink: np.ndarray, blur: float) -> np.ndarray:
    """Rasterise (B,S,2,2) strokes to upright (B,28,28) uint8, cropped and centred like EMNIST."""
    count = strokes.shape[0]
    flat = strokes.reshape(count, -1, 2)
    low, high = flat.min(axis=1), flat.max(axis=1)
    # Crop to the ink and centre it in a square that leaves MARGIN pixels on each side.
    usable = IMAGE_SIDE - 2 * MARGIN - widths
    scale = usable / np.max(high - low, axis=1).clip(1e-6)
    centre = (low + high) / 2
    placed = (strokes - centre[:, None, None, :]) * scale[:, None, None, None] + IMAGE_SIDE / 2

    side = IMAGE_SIDE * SUPERSAMPLING
    grid = (np.arange(side, dtype=np.float32) + 0.5) / SUPERSAMPLING
    pixel_x, pixel_y = np.meshgrid(grid, grid)  # row index = y, so images come out upright
    pixels = np.stack([pixel_x.ravel(), pixel_y.ravel()], axis=-1)  # (P, 2)

    # Each pixel's distance to its nearest segment, one coordinate at a time: arrays of
    # (B, S, P) rather than (B, S, P, 2), and one square root per pixel, not per segment.
    start_x, start_y = placed[:, :, 0, 0, None], placed[:, :, 0, 1, None]  # (B, S, 1)
    direction_x, direction_y = placed[:, :, 1, 0, None] - start_x, placed[:, :, 1, 1, None] - start_y
    length_squared = (direction_x**2 + direction_y**2).clip(1e-9)
    offset_x, offset_y = pixels[:, 0] - start_x, pixels[:, 1] - start_y  # (B, S, P)
    along = ((offset_x * direction_x + offset_y * direction_y) / length_squared).clip(0.0, 1.0)
    offset_x -= along * direction_x
    offset_y -= along * direction_y
    distance = np.sqrt((offset_x**2 + offset_y**2).min(axis=1))  # (B, P)
    coverage = (widths[:, None] / 2 + 0.5 - distance).clip(0.0, 1.0) * ink[:, None]
    images = coverage.reshape(count, IMAGE_SIDE, SUPERSAMPLING, IMAGE_SIDE, SUPERSAMPLING).mean(axis=(2, 4))
    images = scipy.ndimage.gaussian_filter(images, sigma=(0, blur, blur))
    return np.clip(np.rint(images / max(images.max(), 1e-6) * ink.max() * 255), 0, 255).astype(np.uint8)


RenderJob = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # strokes, widths, ink, blur: one chunk to rasterise


def glyph_jobs(font: str, character: str, count: int, rng: np.random.Generator, distortion: Distortion) -> list[RenderJob]:
    """The random draws for ``count`` distorted renderings of one glyph, chunk by chunk: everything
    the RNG decides, in its order, so the rasterising (:func:`_render`, no randomness) can run anywhere."""
    segments = glyph_segments(font, character)
    jobs = []
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        strokes = _distort(segments, size, rng, distortion)
        widths = rng.uniform(*distortion.stroke_width, size=size).astype(np.float32)
        ink = rng.uniform(*distortion.ink, size=size).astype(np.float32)
        jobs.append((strokes, widths, ink, distortion.blur))
    return jobs


def render_jobs(jobs: list[RenderJob]) -> list[np.ndarray]:
    """Each chunk rasterised, in order, on every core: numpy's array work releases the GIL, so threads
    share the work without copying anything (the bytes are those of rendering one chunk after another)."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda job: _render(*job), jobs))


def render_glyph_samples(
    font: str, character: str, count: int, rng: np.random.Generator, distortion: Distortion
) -> np.ndarray:
    """``count`` distorted renderings (count, 28, 28) uint8 of one glyph, upright."""
    chunks = render_jobs(glyph_jobs(font, character, count, rng, distortion))
    return np.concatenate(chunks) if chunks else np.zeros((0, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)


def letters_mapping() -> np.ndarray:
    """EMNIST-letters mapping: rows ``[label 1..26, ASCII upper, ASCII lower]``."""
    return np.array(
        [[index + 1, ord(upper), ord(lower)]
         for index, (upper, lower) in enumerate(zip(string.ascii_uppercase, string.ascii_lowercase))],
        dtype=np.int64,
    )


def generate_letters(
    per_class: int, seed: int, distortion: Distortion = Distortion(), fonts: tuple[str, ...] = FONTS
) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each of the 26 letters; returns upright images and labels 1..26.

    Each image is upper or lower case and in one of ``fonts``, drawn at random; the result is
    shuffled. The same ``seed`` always gives the same bytes.
    """
    rng = np.random.default_rng(seed)
    jobs, labels = [], []
    forms = [(font, case) for font in fonts for case in (0, 1)]
    for row in letters_mapping():
        label, characters = int(row[0]), (chr(row[1]), chr(row[2]))
        counts = rng.multinomial(per_class, np.full(len(forms), 1 / len(forms)))
        for (font, case), count in zip(forms, counts):
            jobs += glyph_jobs(font, characters[case], int(count), rng, distortion)
            labels.append(np.full(int(count), label, dtype=np.int64))
    order = rng.permutation(per_class * 26)
    images = render_jobs(jobs)  # every draw made above, in the order of before: the same bytes for a seed
    return np.concatenate(images)[order], np.concatenate(labels)[order]
