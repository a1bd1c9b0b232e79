"""``teacher_free``: a control, KD from a hand-made teacher (Yuan et al., CVPR 2020, Tf-KD_reg).

The virtual teacher puts ``correct_probability`` on the true class and spreads the rest evenly;
the student learns from it with exactly KD's loss (temperature, λ). It carries no knowledge of
which wrong letters look alike, so what KD gains beyond it is the real teacher's. Params:
``distill.temp``, ``distill.lambda`` (as KD's); ``distill.teacher_free.correct_probability``,
in (1/K, 1) for K classes (the params schema checks (0, 1); the trainer, which knows K, the rest).
"""
from __future__ import annotations

from pydantic import Field

from distillation.methods.spec import MethodParams, MethodSpec


class TeacherFreeParams(MethodParams):
    correct_probability: float = Field(0.9, gt=0, lt=1)


def teacher_free_trainer() -> type:
    from keras import ops

    from distillation.training.losses import distillation_loss, handmade_teacher_logits
    from distillation.methods.base import StudentTrainer

    class TeacherFree(StudentTrainer):
        def __init__(self, student, settings, context):
            super().__init__(student, settings, context)
            chance = 1.0 / context.num_classes
            if not chance < settings.correct_probability < 1.0:
                raise ValueError(
                    f"params.yaml: distill.teacher_free.correct_probability must lie in (1/K, 1) = ({chance:.4f}, 1) "
                    f"for these {context.num_classes} classes, got {settings.correct_probability}"
                )

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            settings = self.settings
            virtual_teacher = handmade_teacher_logits(y["labels"], self.context.num_classes, settings.correct_probability)
            return ops.mean(distillation_loss(y["labels"], virtual_teacher, y_pred, settings.temp, settings.lambda_))

    return TeacherFree


METHOD = MethodSpec(
    name="teacher_free",
    params=TeacherFreeParams,
    trainer=teacher_free_trainer,
    shared_params=("temp", "lambda"),
    control=True,
    grid={"distill.temp": [20], "distill.teacher_free.correct_probability": [0.9, 0.99]},  # Yuan et al.'s T = 20
)
