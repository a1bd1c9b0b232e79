"""Your own trained teacher (``teacher.model: PATH``), checked once and made to speak logits.

The pipeline's teacher file (``models/teacher.keras``) outputs logits: ``soft_targets``,
``view_targets``, ``evaluate`` and the exports read it that way. A teacher of yours is accepted
if it is a Keras 3 ``.keras`` file that loads in safe mode, takes one input of the prepared
images' shape (H, W, C, values in [0, 1]) and gives one output of one value per class, in the
order of the prepared classes (the class folders' names, sorted; or the ``.npz``'s labels 0..K−1).

Logits or probabilities: a teacher whose outputs on every val image are non-negative and sum to 1
(within 1e-3) gives probabilities, and is stored with a :class:`ProbabilitiesToLogits` layer on
top, ``log p``: the same softmax at T = 1, and ``softmax(log p / T)`` is exactly the tempered
distribution Hinton et al. take. Any other output is taken as logits. Which one was found goes
into ``metrics/teacher.json`` as ``outputs``. FitNets reads its hints from the layer that
``teacher.hidden_layer`` names (``soft_targets`` refuses a name the teacher lacks, listing its layers).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy.special import log_softmax

from distillation.data.prepared import PreparedSplit
from distillation.models.files import ProbabilitiesToLogits, predict_logits
from distillation.models.networks import input_shape_of

PROBABILITY_TOLERANCE = 1e-3


def load_given_teacher(given: str) -> keras.Model:
    """``teacher.model`` loaded in safe mode; a one-line ``ValueError`` naming it as the user gave it."""
    shown = f"teacher.model {given}"
    path = Path(given)
    if path.suffix != ".keras":
        raise ValueError(f"{shown}: not a Keras 3 .keras file (save it with model.save('teacher.keras'))")
    if not path.is_file():
        raise ValueError(f"{shown}: no such file (looked for {path.resolve()})")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many kinds for a bad file; each becomes one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{shown}: cannot be loaded in safe mode ({first_line})") from None


def check_given_teacher(model: keras.Model, given: str, train: PreparedSplit) -> None:
    """Refuse, in one line naming ``teacher.model``, a teacher that does not fit the prepared data."""
    shown = f"teacher.model {given}"
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{shown}: takes {len(model.inputs)} inputs and gives {len(model.outputs)} outputs; one of each is needed")
    expected = input_shape_of(train.images)
    taken = tuple(model.inputs[0].shape[1:])
    if taken != expected:
        raise ValueError(f"{shown}: takes input {taken}, the prepared images are {expected} (height, width, channels); "
                         "set data.image_size / data.channels to what it takes")
    outputs = tuple(model.outputs[0].shape[1:])
    if outputs != (len(train.classes),):
        raise ValueError(f"{shown}: gives output {outputs}, but the data have {len(train.classes)} classes "
                         f"({', '.join(train.classes[:5])}{', …' if len(train.classes) > 5 else ''})")


def gives_probabilities(outputs: np.ndarray) -> bool:
    """Whether every row is a probability distribution: non-negative, summing to 1."""
    return bool(outputs.size) and bool(np.all(outputs >= 0)) and bool(
        np.all(np.abs(outputs.sum(axis=1) - 1.0) <= PROBABILITY_TOLERANCE))


def as_logits_model(model: keras.Model, probabilities: bool) -> keras.Model:
    """``model`` as the pipeline's teacher file: its own layers, with ``log p`` on top if it gives probabilities."""
    if not probabilities:
        return model
    return keras.Model(model.inputs, ProbabilitiesToLogits(name="log_probabilities")(model.outputs[0]), name=model.name)


def split_metrics(model: keras.Model, split: PreparedSplit) -> tuple[float, float]:
    """Cross-entropy and accuracy of a logits model on one split."""
    logits = predict_logits(model, split.images).astype(np.float64)
    rows = np.arange(split.labels.shape[0])
    return float(-log_softmax(logits, axis=1)[rows, split.labels].mean()), float(np.mean(logits.argmax(axis=1) == split.labels))


def adopt_teacher(given: str, splits: dict[str, PreparedSplit]) -> tuple[keras.Model, dict[str, Any]]:
    """Your teacher, checked and as a logits model, and its metrics measured like a trained teacher's."""
    model = load_given_teacher(given)
    check_given_teacher(model, given, splits["train"])
    probabilities = gives_probabilities(np.asarray(model.predict(splits["val"].images, verbose=0), dtype=np.float64))
    teacher = as_logits_model(model, probabilities)
    val_loss, val_accuracy = split_metrics(teacher, splits["val"])
    test_loss, test_accuracy = split_metrics(teacher, splits["test"])
    return teacher, {
        "val_accuracy": round(val_accuracy, 6), "val_loss": round(val_loss, 6),
        "test_accuracy": round(test_accuracy, 6), "test_loss": round(test_loss, 6),
        "params": int(teacher.count_params()),
        "given": given, "outputs": "probabilities" if probabilities else "logits",
    }
