"""``kd``: knowledge distillation (Hinton, Vinyals & Dean, 2015) on the stored teacher logits.

The seed experiment's loss, unchanged: ``λ·CE(y, z_s) + s·CE(softmax(z_t/T), softmax(z_s/T))``,
``s = T²`` when ``t2_scale``. Params: ``distill.temp``, ``distill.lambda``; ``distill.kd.t2_scale``, ``distill.kd.mixup``
(:mod:`distillation.training.mixup`).
"""
from __future__ import annotations

from distillation.training.mixup import MixupParams
from distillation.methods.spec import MethodSpec


class KnowledgeDistillationParams(MixupParams):
    t2_scale: bool = False  # true multiplies the soft term by T²


def knowledge_distillation_trainer() -> type:
    from keras import ops

    from distillation.training.losses import distillation_loss
    from distillation.methods.base import StudentTrainer

    class KnowledgeDistillation(StudentTrainer):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            settings = self.settings
            return ops.mean(distillation_loss(
                y["labels"], y["teacher_logits"], y_pred, settings.temp, settings.lambda_, settings.t2_scale
            ))

    return KnowledgeDistillation


METHOD = MethodSpec(
    name="kd",
    params=KnowledgeDistillationParams,
    trainer=knowledge_distillation_trainer,
    shared_params=("temp", "lambda"),
    teacher_outputs=("logits",),
    grid={"distill.temp": [5, 10], "distill.lambda": [0.1, 0.5]},
)
