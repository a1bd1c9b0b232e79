"""``fitnets``: hint learning (Romero et al., ICLR 2015) plus KD on the logits, trained jointly.

The student's hidden layer, through a learned linear regressor, regresses the teacher's stored
1024-unit hidden activations (the "hint"), while the usual KD loss trains the logits:
``KD(T, λ) + hint_weight·MSE(W·h_s, h_t)``. The paper trains the hint first and KD after; with a
one-hidden-layer student the guided layer is the whole body, so the two stages would first fit
the hidden layer to the teacher alone and then let KD move it freely. Training both at once
(as later benchmarks of FitNets do, e.g. Tian et al.'s CRD code) keeps one run with the same
early stopping as every other method. The regressor is thrown away; the saved student is the
plain MLP. Params ``distill.fitnets``: ``hint_weight``, ``temp``, ``lambda``.
"""
from __future__ import annotations

from keras import layers, ops

from distillation.losses import distillation_loss, hint_loss
from distillation.methods.base import StudentTrainer
from distillation.models import with_hidden_output


class FitNets(StudentTrainer):
    teacher_outputs = ("logits", "hidden")

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
