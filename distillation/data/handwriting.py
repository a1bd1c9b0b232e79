"""A photo or scan of one handwritten character → the 28 × 28 input an exported model takes.

EMNIST's own conversion (Cohen et al. 2017) made every training image the same way: white ink on
black, a Gaussian blur, the ink's bounding box centred in a square frame, scaled down with a
small margin. :func:`emnist_input` does the same to any image: of any size, colour or grey, and of
either polarity (dark ink on light paper, the common case, is inverted). Needs Pillow and scipy,
not Keras.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SIDE = 28
INK_SIDE = 24  # the ink's longer side in the 28 × 28 frame: EMNIST's letters, measured, have 22–26
INK_THRESHOLD = 0.1  # of the strongest ink: below it is paper, noise or the blur's tail
MIN_CONTRAST = 0.15  # ink must stand this far out from the paper, or the image is blank


def load_grey(path: Path, shown: str) -> np.ndarray:
    """The image as grey values in [0, 1] (H, W); a ``ValueError`` naming ``shown`` if it is no image."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"{shown}: no such file")
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{shown}: not an image Pillow can read ({type(error).__name__})") from None


def emnist_input(grey: np.ndarray, shown: str) -> np.ndarray:
    """EMNIST's preprocessing of a grey image: (28, 28) float32 in [0, 1], white ink on black, upright."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    paper = float(np.median(border))
    ink = grey - paper if paper < 0.5 else paper - grey  # light paper: the ink is the dark part
    ink = np.clip(ink, 0.0, None)
    if ink.max() < MIN_CONTRAST:
        raise ValueError(f"{shown}: no ink found (a blank image, or too little contrast)")
    # EMNIST blurred its 128-pixel NIST images with σ = 1: the same relative to this image's size
    ink = gaussian_filter(ink / ink.max(), sigma=max(grey.shape) / 128)
    rows, columns = (np.flatnonzero((ink > INK_THRESHOLD * ink.max()).any(axis=axis)) for axis in (1, 0))
    ink = ink[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    height, width = ink.shape
    side = max(height, width)
    square = np.zeros((side, side), np.float32)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = ink
    scaled = np.asarray(Image.fromarray(square).resize((INK_SIDE, INK_SIDE), Image.Resampling.BICUBIC))
    framed = np.zeros((SIDE, SIDE), np.float32)
    margin = (SIDE - INK_SIDE) // 2
    framed[margin:margin + INK_SIDE, margin:margin + INK_SIDE] = np.clip(scaled, 0.0, None)
    return framed / framed.max()
