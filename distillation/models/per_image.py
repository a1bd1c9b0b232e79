"""Which test images a model got right, one bit per image (``predictions/<model>_test_correct.json``).

A model's test accuracy is the mean of these bits. Kept per run, they let a comparison count the
test images as the sample they are: an interval about new images (drawn like these) adds the
spread between images to the spread between seeds (:func:`distillation.comparison.images.new_images_interval`).
The bits are packed (``numpy.packbits``) and base64-encoded: 11,671 test letters take 1,948
characters: a DVC output of each MLP stage (cached, so DVC's run-cache restores it like the
model), small enough to copy into a comparison's record.
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from distillation.atomic import write_json

if TYPE_CHECKING:  # the comparison's statistics decode bits without importing Keras
    import keras

    from distillation.data.prepared import PreparedSplit

PREDICTION_BATCH = 1024


def correct_on(model: keras.Model, split: PreparedSplit) -> np.ndarray:
    """One bool per image of ``split``: whether the model's top class is its label."""
    logits = model.predict(split.images, batch_size=PREDICTION_BATCH, verbose=0)
    return np.asarray(logits).argmax(axis=1) == split.labels


def encode_correct(correct: np.ndarray) -> dict[str, Any]:
    """``{"images": n, "correct": base64 of the packed bits}``: what the file and a record hold."""
    bits = np.asarray(correct, dtype=bool)
    return {"images": int(bits.size), "correct": base64.b64encode(np.packbits(bits)).decode("ascii")}


def decode_correct(entry: dict[str, Any], where: str = "test_correct") -> np.ndarray:
    """The bool array :func:`encode_correct` encoded; one line naming ``where`` if it is not one."""
    try:
        images = int(entry["images"])
        packed = np.frombuffer(base64.b64decode(entry["correct"], validate=True), dtype=np.uint8)
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise ValueError(f"{where}: not a per-image record ({error})") from None
    if images < 0 or packed.size != (images + 7) // 8:
        raise ValueError(f"{where}: {packed.size} bytes cannot hold {images} images' bits")
    return np.unpackbits(packed, count=images).astype(bool)


def write_test_correct(path: str | Path, correct: np.ndarray) -> None:
    """The model's bits on the test split, with their accuracy (the mean, for a reader's check)."""
    write_json(path, {**encode_correct(correct), "accuracy": round(float(np.mean(correct)), 6)})
