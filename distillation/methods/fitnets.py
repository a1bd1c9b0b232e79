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


import numpy as np
from pydantic import Field

from distillation.training.hints import principal_hint_basis, project_hints
from distillation.methods.spec import MethodParams, MethodSpec


class FitNetsParams(MethodParams):
    hint_weight: float = Field(1.0, ge=0)
    # k leading principal directions of the hint; 0: the full hint (its upper bound, the teacher's
    # width, is checked when the hints are read)
    hint_components: int = Field(128, ge=0)


def principal_hint_coordinates(hidden: dict[str, np.ndarray], components: int) -> tuple[dict[str, np.ndarray], float]:
    """Each split's hints in the leading ``components`` principal directions of the train split's.

    Returns the coordinates (see :func:`principal_hint_basis`) and the fraction of the train
    hints' variance that those directions hold.
    """
    mean, basis, kept = principal_hint_basis(hidden["train"], components)
    return {split: project_hints(values, mean, basis) for split, values in hidden.items()}, kept


def prepare_hints(teacher: dict[str, dict[str, np.ndarray]], settings: FitNetsParams) -> dict[str, dict[str, np.ndarray]]:
    """The stored teacher outputs with the hints in ``hint_components`` principal directions (0: as stored)."""
    components = settings.hint_components
    if not components:
        return teacher
    if "views" in teacher["hidden"]:
        # The views' hints were stored in the principal directions (view_targets stage); the
        # images' hints go into those very directions, not ones fitted again here.
        basis = teacher["hint_basis"]
        images = {split: project_hints(values, basis["mean"], basis["basis"])
                  for split, values in teacher["hidden"].items() if split != "views"}
        return {**teacher, "hidden": {**images, "views": teacher["hidden"]["views"]}}
    coordinates, kept = principal_hint_coordinates(teacher["hidden"], components)
    print(f"fitnets: hint reduced to {components} principal directions, {100 * kept:.1f} % of its variance", flush=True)
    return {**teacher, "hidden": coordinates}


def fitnets_trainer() -> type:
    from keras import layers, ops

    from distillation.training.losses import distillation_loss, hint_loss
    from distillation.methods.base import StudentTrainer
    from distillation.models.networks import with_hidden_output

    class FitNets(StudentTrainer):
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
            kd = distillation_loss(y["labels"], y["teacher_logits"], logits, settings.temp, settings.lambda_)
            return ops.mean(kd + settings.hint_weight * hint_loss(projected_hidden, y["teacher_hidden"]))

    return FitNets


METHOD = MethodSpec(
    name="fitnets",
    params=FitNetsParams,
    trainer=fitnets_trainer,
    shared_params=("temp", "lambda"),
    teacher_outputs=("logits", "hidden"),
    prepare_teacher_outputs=prepare_hints,
    grid={"distill.fitnets.hint_weight": [0.1, 1]},  # KD part at T = 10, λ = 0.5 as shipped
)
