"""``kd``: knowledge distillation (Hinton, Vinyals & Dean, 2015) on the stored teacher logits.

The seed experiment's loss, unchanged: ``λ·CE(y, z_s) + s·CE(softmax(z_t/T), softmax(z_s/T))``,
``s = T²`` when ``t2_scale``. Params: ``distill.temp``, ``distill.lambda``; ``distill.kd.t2_scale``.
"""
from __future__ import annotations

from keras import ops

from distillation.losses import distillation_loss
from distillation.methods.base import StudentTrainer


class KnowledgeDistillation(StudentTrainer):
    teacher_outputs = ("logits",)
    shared_params = ("temp", "lambda")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        settings = self.settings
        return ops.mean(distillation_loss(
            y["labels"], y["teacher_logits"], y_pred, settings["temp"], settings["lambda"], settings["t2_scale"]
        ))
