"""A student's training parts: the teacher outputs its method reads, its trainer and the batches it is fed.

The stage ``train_student`` (:mod:`stages.train_student`) puts them together; the benchmarks and
tests use them one at a time.
"""
from __future__ import annotations

import numpy as np

from distillation.config.params import DistillParams
from distillation.data.prepared import PreparedSplit
from distillation.data.views import StoredViews, epoch_rows, to_pixels
from distillation.methods import method_spec, method_trainer
from distillation.methods.base import StudentTrainer, TrainingContext
from distillation.models.networks import HiddenWidths, build_mlp, input_shape_of
from distillation.paths import TEACHER_HIDDEN, TEACHER_LOGITS, VIEW_TARGETS_DIR
from distillation.targets.teacher_logits import load_teacher_hidden, load_teacher_logits
from distillation.targets.view_targets import load_view_targets
from distillation.training.fit import make_optimizer, steps_per_epoch
from distillation.training.mixup import mixup_alpha, with_mixed_targets
from distillation.training.view_batches import EpochBatches, versions_batches

TEACHER_FILES = {"logits": (TEACHER_LOGITS, load_teacher_logits), "hidden": (TEACHER_HIDDEN, load_teacher_hidden)}
TeacherOutputs = dict[str, dict[str, np.ndarray]]  # kind (logits, hidden) → split → array


def load_teacher_outputs(
    name: str, splits: dict[str, PreparedSplit], views: StoredViews | None = None, hint_components: int = 0
) -> TeacherOutputs:
    """The stored teacher outputs that the method ``name`` reads, by kind (``logits``, ``hidden``) and split.

    With ``views``, each kind also holds the teacher's outputs for the views (split ``views``),
    and ``hint_basis`` the directions the views' hints were projected on (FitNets).
    """
    kinds = method_spec(name).teacher_outputs
    teacher = {kind: load(path, splits) for kind, (path, load) in TEACHER_FILES.items() if kind in kinds}
    if views is not None and kinds:
        stored = load_view_targets(VIEW_TARGETS_DIR, views, kinds, hint_components)
        for kind in kinds:
            teacher[kind]["views"] = stored[kind]["views"]
        if "hidden" in kinds and "hint_basis" in stored:
            teacher["hint_basis"] = stored["hint_basis"]
    return teacher


def method_teacher_outputs(teacher: TeacherOutputs, distill: DistillParams) -> TeacherOutputs:
    """The stored teacher outputs as ``distill.method`` trains on them (FitNets may reduce its hint)."""
    return distill.spec.teacher_outputs_for_training(teacher, distill.settings)


def build_trainer(splits: dict[str, PreparedSplit], teacher: TeacherOutputs, distill: DistillParams, hidden_units: HiddenWidths) -> StudentTrainer:
    """A fresh MLP wrapped in the trainer of ``distill.method``, compiled; ``.student`` is the MLP.

    ``teacher`` is as the method trains on it (:func:`method_teacher_outputs`).
    """
    train = splits["train"]
    context = TrainingContext(
        num_classes=len(train.classes),
        steps_per_epoch=steps_per_epoch(train.labels.shape[0], distill.batch_size),
        hidden_units=hidden_units,
        dropout=distill.dropout,
        input_shape=input_shape_of(train.images),
        teacher_hidden_width=teacher["hidden"]["train"].shape[1] if "hidden" in teacher else None,
    )
    student = build_mlp(context.num_classes, hidden_units, distill.dropout, name="student", input_shape=context.input_shape)
    trainer_class = method_trainer(distill.method)
    if mixup_alpha(distill.settings):
        trainer_class = with_mixed_targets(trainer_class)
    trainer = trainer_class(student, distill.settings, context)
    trainer.compile(optimizer=make_optimizer(distill, context.steps_per_epoch), steps_per_execution=distill.steps_per_execution)
    return trainer


def student_targets(splits: dict[str, PreparedSplit], teacher: TeacherOutputs, split: str) -> dict[str, np.ndarray]:
    """What a trainer fits to on ``split``: the labels and the teacher outputs its method reads."""
    return {"labels": splits[split].labels, **{f"teacher_{kind}": teacher[kind][split] for kind in TEACHER_FILES if kind in teacher}}


def view_training_batches(
    splits: dict[str, PreparedSplit], teacher: TeacherOutputs, views: StoredViews, distill: DistillParams, seed: int
) -> EpochBatches:
    """Each epoch, every training image once as itself or one of its views, with the matching targets."""
    train = splits["train"]
    count = train.labels.shape[0]
    view_targets = {"labels": np.tile(train.labels, views.views),
                    **{f"teacher_{kind}": teacher[kind]["views"] for kind in TEACHER_FILES if kind in teacher}}
    return versions_batches(
        to_pixels(train.images), views.images, student_targets(splits, teacher, "train"), view_targets,
        epoch_rows(count, views.views, distill.epochs, seed), distill.batch_size, mixup_alpha(distill.settings), seed,
    )
