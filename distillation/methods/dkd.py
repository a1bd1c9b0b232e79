"""``dkd``: Decoupled KD (Zhao, Cui, Song, Qiu & Liang, CVPR 2022) on the stored teacher logits.

``CE(y, z_s) + w·T²·(α·TCKD + β·NCKD)``, where ``w`` rises linearly from 0 to 1 over the first
``warmup_epochs`` epochs (counted in optimizer steps, so it rises smoothly within an epoch; the
authors step it once per epoch). Params: ``distill.temp`` (the paper uses 4), ``distill.dkd``:
``alpha``, ``beta``, ``warmup_epochs``. DKD has no λ: its CE term has weight 1.
"""
from __future__ import annotations

from pydantic import Field

from distillation.methods.spec import MethodParams, MethodSpec


class DecoupledKDParams(MethodParams):
    alpha: float = Field(1.0, ge=0)  # weight of the target-class term TCKD
    beta: float = Field(8.0, ge=0)  # weight of the non-target term NCKD
    warmup_epochs: int = Field(5, ge=0)


def decoupled_kd_trainer() -> type:
    from keras import ops

    from distillation.training.losses import decoupled_kd_loss
    from distillation.methods.base import StudentTrainer

    class DecoupledKD(StudentTrainer):
        def warmup(self):
            """The distillation term's weight now: step / warm-up steps, at most 1."""
            warmup_steps = self.settings.warmup_epochs * self.context.steps_per_epoch
            if warmup_steps == 0:
                return 1.0
            return ops.minimum(ops.cast(self.optimizer.iterations, "float32") / warmup_steps, 1.0)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            settings = self.settings
            return ops.mean(decoupled_kd_loss(
                y["labels"], y["teacher_logits"], y_pred,
                settings.temp, settings.alpha, settings.beta, self.warmup(),
            ))

    return DecoupledKD


METHOD = MethodSpec(
    name="dkd",
    params=DecoupledKDParams,
    trainer=decoupled_kd_trainer,
    shared_params=("temp",),
    teacher_outputs=("logits",),
    grid={"distill.temp": [4], "distill.dkd.beta": [2, 8]},  # the paper's T = 4; α = 1, 5 warm-up epochs as shipped
)
