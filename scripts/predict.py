"""Which character is in each image: an exported student (ONNX or LiteRT) on your own handwriting.

    python -m scripts.predict photo.jpg scan.png ...    # --model models/export/student-int8, as `make predict`
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
from distillation.export.model_card import OWN_IMAGE_MODES, CardInput, ModelCard, card_path, checked_card, read_card
from distillation.export.runtimes import RUNTIMES, missing_runtime, runner_for

KINDS = {".onnx": "onnx", ".tflite": "litert"}
OWN_IMAGE_CHANNELS = {mode: channels for channels, mode in OWN_IMAGE_MODES.items()}
TOP = 3
EMNIST_INPUT = (28, 28, 1)
DEFAULT_MODEL = Path("models/export/student-int8")  # as `make predict` runs it


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
    if not model_path.exists():
        hint = " (`dvc repro` exports it)" if model_path == DEFAULT_MODEL else ""
        raise ValueError(f"--model {model_path}: no such file or folder{hint}")
    given, model_path = model_path, model_file(model_path)
    kind = KINDS.get(model_path.suffix)
    if kind is None:
        raise ValueError(f"--model {given}: not an .onnx or .tflite file, nor a folder holding one")
    if not model_path.is_file():
        raise ValueError(f"--model {given}: no such file")
    card_shown = str(card_path(model_path)) if card_path(model_path).is_file() else f"--model {model_path}"
    card = checked_card(read_card(model_path, f"--model {model_path}"), card_shown)
    reason = missing_runtime(kind)
    if reason:
        raise ValueError(f"--model {model_path}: {reason}")
    try:
        runner = runner_for(kind, model_path, threads)
    except Exception as error:  # onnxruntime and LiteRT raise their own types for a file that is no model
        raise ValueError(f"--model {model_path}: not a model {RUNTIMES[kind]} can load ({type(error).__name__})") from None
    check_contract(card, runner.contract(), card_shown, model_path)
    batch = np.stack([model_input(path, card.input) for path in images])
    logits = runner.forward(batch.astype(np.float32))
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    classes = card.classes
    return [(path, [(classes[index], float(row[index])) for index in np.argsort(row)[::-1][:TOP]])
            for path, row in zip(images, probabilities)]


def check_contract(card: ModelCard, contract: tuple[list[int | None], str, int | None], card_shown: str, model_path: Path) -> None:
    """The card against the model, before any image is read: one class name per output, the input
    shape the card's preprocessing makes, the input dtype."""
    shape, dtype, outputs = contract
    if outputs is not None and outputs != len(card.classes):
        raise ValueError(f"{card_shown}: {len(card.classes)} classes for a model with {outputs} outputs ({model_path})")
    made = [*card.input.resize, OWN_IMAGE_CHANNELS[card.input.mode]] if card.input.resize else [*EMNIST_INPUT]
    if card.input.shape[1:] != made or any(size is not None and size != expected for size, expected in zip(shape[1:], made)) \
            or len(shape) != len(made) + 1:
        raise ValueError(f"{card_shown}: the model takes input {shape[1:]}, the card {card.input.shape[1:]} and its "
                         f"preprocessing makes {made} ({model_path})")
    if dtype != card.input.dtype:
        raise ValueError(f"{card_shown}: the model takes {dtype} input, the card says {card.input.dtype} ({model_path})")


def model_input(path: Path, taken: CardInput) -> np.ndarray:
    """One image as the card's input says: (H, W, C) float32 in [0, 1]."""
    if taken.resize is None:  # an EMNIST model: a photo of one handwritten character
        return emnist_input(load_grey(path, str(path)), str(path))[..., np.newaxis]
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    height, width = taken.resize
    return read_image(path, str(path), (height, width), OWN_IMAGE_CHANNELS[taken.mode]).astype(np.float32) / 255.0


def describe(path: Path | str, top: list[tuple[str, float]]) -> str:
    """The line printed for one image."""
    (best, probability), *_ = top
    return f"{path}: {best} ({probability:.2f}); top {len(top)}: " + ", ".join(f"{character} {share:.2f}" for character, share in top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"an exported .onnx or .tflite file with its model card, or the folder holding both (default: {DEFAULT_MODEL})")
    parser.add_argument("images", type=Path, nargs="+", help="PNG or JPEG files, one character each")
    arguments = parser.parse_args()
    for path, top in predict(arguments.model, arguments.images):
        print(describe(path, top))


if __name__ == "__main__":
    run_stage(main)
