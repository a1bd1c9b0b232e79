"""``hard_labels``: a control, the student trained on the labels alone, like the baseline.

Plain cross-entropy with the student's recipe (``distill.*``). Without views it is the baseline
trained once more; with ``augment.views`` it is the *augmented* MLP, which sees the same views
as every distilled student: a method that gains no more than it gains from the augmentation,
not from the teacher. Its one param, ``distill.hard_labels.mixup``, mixes the views as kd's does
(:mod:`distillation.training.mixup`): the labels-only control of a mixed-up student.
"""
from __future__ import annotations

from distillation.training.mixup import MixupParams
from distillation.methods.spec import MethodSpec


class HardLabelsParams(MixupParams):
    pass


def hard_labels_trainer() -> type:
    from keras import ops

    from distillation.methods.base import StudentTrainer

    class HardLabels(StudentTrainer):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(ops.sparse_categorical_crossentropy(y["labels"], y_pred, from_logits=True))

    return HardLabels


METHOD = MethodSpec(name="hard_labels", params=HardLabelsParams, trainer=hard_labels_trainer, control=True)
