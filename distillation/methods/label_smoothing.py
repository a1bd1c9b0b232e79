"""``label_smoothing``: a control, no teacher at all (Szegedy et al., 2016; Müller et al., 2019).

CE against ``(1 − ε)·one_hot + ε/K``. If a distillation method gains no more than this, its
gain is regularisation, not knowledge from the teacher. Params ``distill.label_smoothing``:
``epsilon``.
"""
from __future__ import annotations

from pydantic import Field

from distillation.methods.spec import MethodParams, MethodSpec


class LabelSmoothingParams(MethodParams):
    epsilon: float = Field(0.1, ge=0, lt=1)


def label_smoothing_trainer() -> type:
    from keras import ops

    from distillation.training.losses import label_smoothing_loss
    from distillation.methods.base import StudentTrainer

    class LabelSmoothing(StudentTrainer):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(label_smoothing_loss(y["labels"], y_pred, self.settings.epsilon))

    return LabelSmoothing


METHOD = MethodSpec(
    name="label_smoothing",
    params=LabelSmoothingParams,
    trainer=label_smoothing_trainer,
    control=True,
    grid={"distill.label_smoothing.epsilon": [0.1, 0.2]},
)
