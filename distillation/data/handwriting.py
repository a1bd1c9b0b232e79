"""A photo or scan of one handwritten character → the 28 × 28 input an exported model takes.

EMNIST's own conversion (Cohen et al. 2017) made every training image the same way: white ink on
black, a Gaussian blur, the ink's bounding box centred in a square frame, scaled down with a
small margin. :func:`emnist_input` does the same to any image: of any size, colour or grey, and of
either polarity (dark ink on light paper, the common case, is inverted). Needs Pillow and scipy,
not Keras.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

SIDE = 28
INK_SIDE = 24  # the ink's longer side in the 28 × 28 frame: EMNIST's letters, measured, have 22–26
INK_THRESHOLD = 0.1  # of the strongest ink: below it is paper, noise or the blur's tail
MIN_CONTRAST = 0.15  # ink must stand this far out from the paper, or the image is blank
MAX_SIDE = 512  # a photo's longer side is scaled to this first: 4 × NIST's 128, ample for one character


def load_grey(path: Path, shown: str) -> np.ndarray:
    """The image as grey values in [0, 1] (H, W), its longer side at most ``MAX_SIDE``; a ``ValueError``
    naming ``shown`` if it is no image.

    Transparent pixels are paper: an RGBA or LA image is laid on white first (ink drawn on a
    transparent background would otherwise read as ink on black). 16- and 32-bit grey is scaled
    by its own range, not clipped to 8 bits. A larger photo is scaled down before anything else
    (EMNIST's blur is relative to the image's size, so this changes nothing but the time), and an
    image over Pillow's pixel limit is refused before it is decoded.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        raise ValueError(f"{shown}: a folder, not an image file")
    if not path.is_file():
        raise ValueError(f"{shown}: no such file")
    try:
        with warnings.catch_warnings():
            # Pillow warns (then fails) on images over its limit; one error line instead of a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("L", (MAX_SIDE, MAX_SIDE))  # a JPEG decodes at a reduced scale: less time and memory
                image.load()
                grey = _as_grey(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(f"{shown}: too large to read ({error})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{shown}: not an image Pillow can read ({type(error).__name__})") from None
    if max(grey.size) > MAX_SIDE:
        grey.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)  # an area average: no aliasing of thin strokes
    return np.asarray(grey, dtype=np.float32) / 255.0


def _as_grey(image: Image.Image) -> Image.Image:
    """An 8-bit grey (``L``) copy: transparency laid on white paper, deep grey scaled by its range."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        full = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 255.0) if image.mode == "I" else 1.0
        return Image.fromarray(np.rint(np.clip(values / full, 0.0, 1.0) * 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, image.convert("RGBA")).convert("L")
    return image.convert("L")


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
