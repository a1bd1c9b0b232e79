"""Which character is in each image: an exported student (ONNX or LiteRT) on your own handwriting.

    python -m scripts.predict --model models/export/student-int8 photo.jpg scan.png ...
    python -m scripts.predict --model student-int8/student_int8.tflite photo.jpg   # a file, as fetched

Prints one line per image: the file, the predicted class, its probability and the top 3.
Each image (PNG or JPEG, any size, colour or grey, dark ink on light paper or the reverse) gets
EMNIST's preprocessing (:mod:`distillation.data.handwriting`), or, for a model of your own images,
the card's: converted and resized as the training images were; the file runs in its own runtime, never
Keras, and its model card (``<file>.json`` beside it, written by the export stage) says which
output is which character. ``--model`` is the file, or the folder that holds it with its card
(the export stage's ``models/export/student-int8``, or what ``dvc artifacts get <repo>
student-int8`` fetched). Bad input is one line and exit 1.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from distillation.cli import run_stage
from distillation.data.handwriting import emnist_input, load_grey
from distillation.data.own_images import read_image
from distillation.export.model_card import OWN_IMAGE_MODES, read_card
from distillation.export.runtimes import missing_runtime, runner_for

KINDS = {".onnx": "onnx", ".tflite": "litert"}
OWN_IMAGE_CHANNELS = {mode: channels for channels, mode in OWN_IMAGE_MODES.items()}
TOP = 3


def model_file(given: Path) -> Path:
    """The exported file that ``--model`` names: the file itself, or the one .onnx/.tflite in a folder."""
    if not given.is_dir():
        return given
    found = sorted(path for path in given.iterdir() if path.suffix in KINDS)
    if len(found) != 1:
        raise ValueError(f"--model {given}: a folder must hold exactly one .onnx or .tflite file, it holds "
                         f"{len(found)}" + (f" ({', '.join(path.name for path in found)})" if found else ""))
    return found[0]


def predict(model_path: Path, images: list[Path], threads: int = 1) -> list[tuple[Path, list[tuple[str, float]]]]:
    """For each image, its top classes with their probabilities, most likely first."""
    given, model_path = model_path, model_file(model_path)
    kind = KINDS.get(model_path.suffix)
    if kind is None:
        raise ValueError(f"--model {given}: not an .onnx or .tflite file, nor a folder holding one")
    if not model_path.is_file():
        raise ValueError(f"--model {given}: no such file")
    card = read_card(model_path, f"--model {model_path}")
    reason = missing_runtime(kind)
    if reason:
        raise ValueError(f"--model {model_path}: {reason}")
    batch = np.stack([model_input(path, card["input"]) for path in images])
    logits = runner_for(kind, model_path, threads).forward(batch.astype(np.float32))
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    classes = card["classes"]
    return [(path, [(classes[index], float(row[index])) for index in np.argsort(row)[::-1][:TOP]])
            for path, row in zip(images, probabilities)]


def model_input(path: Path, taken: dict) -> np.ndarray:
    """One image as the card's input says: (H, W, C) float32 in [0, 1]."""
    if "resize" not in taken:  # an EMNIST model: a photo of one handwritten character
        return emnist_input(load_grey(path, str(path)), str(path))[..., np.newaxis]
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    height, width = taken["resize"]
    return read_image(path, str(path), (height, width), OWN_IMAGE_CHANNELS[taken["mode"]]).astype(np.float32) / 255.0


def describe(path: Path | str, top: list[tuple[str, float]]) -> str:
    """The line printed for one image."""
    (best, probability), *_ = top
    return f"{path}: {best} ({probability:.2f}); top {len(top)}: " + ", ".join(f"{character} {share:.2f}" for character, share in top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="an exported .onnx or .tflite file with its model card, or the folder holding both")
    parser.add_argument("images", type=Path, nargs="+", help="PNG or JPEG files, one character each")
    arguments = parser.parse_args()
    for path, top in predict(arguments.model, arguments.images):
        print(describe(path, top))


if __name__ == "__main__":
    run_stage(main)
