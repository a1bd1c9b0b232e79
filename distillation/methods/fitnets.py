"""``fitnets``: hint learning (Romero et al., ICLR 2015) plus KD on the logits, trained jointly.

The student's hidden layer, through a learned linear regressor, regresses the teacher's stored
1024-unit hidden activations (the "hint"), while the usual KD loss trains the logits:
``KD(T, λ) + hint_weight·MSE(W·h_s, h_t)``. The paper trains the hint first and KD after; with a
one-hidden-layer student the guided layer is the whole body, so the two stages would first fit
the hidden layer to the teacher alone and then let KD move it freely. Training both at once
(as later benchmarks of FitNets do, e.g. Tian et al.'s CRD code) keeps one run with the same
early stopping as every other method. The regressor is thrown away; the saved student is the
plain MLP. Params: ``distill.temp``, ``distill.lambda`` (the KD term); ``distill.fitnets``:
``hint_weight``, ``hint_components``.

``hint_components: k > 0`` regresses the hint's coordinates in its ``k`` leading principal
directions (fitted once on the train split's hints) instead of all 1024 units; ``0`` is the
paper's full hint. Why: the 512→1024 regressor holds more weights than the student itself and
makes a step several times as slow as KD's. The squared error splits exactly into the part
inside those ``k`` directions and the part outside them; the coordinates are scaled so that the
loss is exactly the inside part of the full loss, so ``hint_weight`` keeps its meaning. What is
dropped is the error along the low-variance directions (the fraction of the hint's variance
kept is printed).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from keras import layers, ops

from distillation.losses import distillation_loss, hint_loss
from distillation.methods.base import StudentTrainer
from distillation.models import with_hidden_output

_CHUNK = 8192  # rows at a time: the covariance is accumulated without a float64 copy of the split


def principal_hint_coordinates(hidden: dict[str, np.ndarray], components: int) -> tuple[dict[str, np.ndarray], float]:
    """Each split's hints in the leading ``components`` principal directions of the train split's.

    Returns the coordinates (float32, scaled by √(k/D) for a D-unit hint, so their mean squared
    error equals the full mean squared error's part within those directions) and the fraction of
    the train hints' variance that those directions hold.
    """
    train = hidden["train"]
    width = train.shape[1]
    if not 0 < components <= width:
        raise ValueError(f"params.yaml: distill.fitnets.hint_components must be 0 (the full hint) or 1..{width} "
                         f"(the teacher's hidden units), got {components}")
    mean = train.mean(axis=0, dtype=np.float64).astype(np.float32)
    covariance = np.zeros((width, width))
    for start in range(0, len(train), _CHUNK):
        chunk = train[start:start + _CHUNK].astype(np.float32) - mean
        covariance += chunk.T @ chunk
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending order
    leading = np.argsort(eigenvalues)[::-1][:components]
    basis = (eigenvectors[:, leading] * np.sqrt(components / width)).astype(np.float32)
    kept = float(eigenvalues[leading].sum() / max(eigenvalues.sum(), np.finfo(float).tiny))
    coordinates = {
        split: np.concatenate([(values[start:start + _CHUNK].astype(np.float32) - mean) @ basis
                               for start in range(0, len(values), _CHUNK)] or [np.zeros((0, components), np.float32)])
        for split, values in hidden.items()
    }
    return coordinates, kept


class FitNets(StudentTrainer):
    teacher_outputs = ("logits", "hidden")
    shared_params = ("temp", "lambda")

    @classmethod
    def prepare_teacher_outputs(cls, teacher: dict[str, dict[str, np.ndarray]], settings: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
        components = settings.get("hint_components", 0)
        if not components:
            return teacher
        coordinates, kept = principal_hint_coordinates(teacher["hidden"], components)
        print(f"fitnets: hint reduced to {components} principal directions, {100 * kept:.1f} % of its variance", flush=True)
        return {**teacher, "hidden": coordinates}

    def __init__(self, student, settings, context):
        super().__init__(student, settings, context)
        if context.teacher_hidden_width is None:
            raise ValueError("fitnets needs the teacher's hidden activations (data/teacher_hidden.npz)")
        self.student_with_hidden = with_hidden_output(student)
        self.regressor = layers.Dense(context.teacher_hidden_width, name="hint_regressor")

    def call(self, images, training: bool = False):
        hidden, logits = self.student_with_hidden(images, training=training)
        return self.regressor(hidden), logits

    def student_logits(self, y_pred):
        return y_pred[1]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        projected_hidden, logits = y_pred
        settings = self.settings
        kd = distillation_loss(y["labels"], y["teacher_logits"], logits, settings["temp"], settings["lambda"])
        return ops.mean(kd + settings["hint_weight"] * hint_loss(projected_hidden, y["teacher_hidden"]))
