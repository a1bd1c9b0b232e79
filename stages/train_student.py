"""Stage ``train_student``: the baseline's MLP trained by the method ``distill.method`` names.

Every method (see :mod:`distillation.methods`) trains a fresh MLP from the stored teacher
outputs it needs (none for DML and the controls) and saves the plain MLP, so ``evaluate``, the
report and ``dvc exp show`` treat every method alike. Like the baseline, the student stops on
its val accuracy and is seeded with ``seed + replicate``, so each replicate pairs one baseline
with one student.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.methods import method_settings, method_spec, method_trainer
from distillation.methods.base import StudentTrainer, TrainingContext
from distillation.mixup import mixup_alpha, with_mixed_targets
from distillation.model_files import save_model
from distillation.models import build_mlp
from distillation.precision import float32_copy, training_precision
from distillation.params import load_params, setting_label
from distillation.paths import (
    PREPARED_DIR, TEACHER_HIDDEN, TEACHER_LOGITS, VIEW_TARGETS_DIR, VIEWS_DIR, metrics_path, model_path, training_log_dir,
)
from distillation.prepared import PreparedSplit, load_prepared
from distillation.teacher_logits import load_teacher_hidden, load_teacher_logits
from distillation.training import (
    MLP_MONITOR,
    budgeted,
    classifier_metrics,
    compile_classifier,
    configure_runtime,
    fit_with_early_stopping,
    make_optimizer,
    steps_per_epoch,
)
from distillation.view_batches import EpochBatches, versions_batches
from distillation.view_targets import load_view_targets
from distillation.views import StoredViews, epoch_rows, load_views, to_pixels, views_seen

TEACHER_FILES = {"logits": (TEACHER_LOGITS, load_teacher_logits), "hidden": (TEACHER_HIDDEN, load_teacher_hidden)}


def load_teacher_outputs(
    name: str, splits: dict[str, PreparedSplit], views: StoredViews | None = None, hint_components: int = 0
) -> dict[str, dict[str, np.ndarray]]:
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


def method_teacher_outputs(teacher: dict[str, dict[str, np.ndarray]], settings: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The stored teacher outputs as ``settings["method"]`` trains on them (FitNets may reduce its hint)."""
    return method_spec(settings["method"]).teacher_outputs_for_training(teacher, method_settings(settings))


def build_trainer(
    splits: dict[str, PreparedSplit], teacher: dict[str, dict[str, np.ndarray]], settings: dict[str, Any], hidden_units: int
) -> StudentTrainer:
    """A fresh MLP wrapped in the trainer of ``settings["method"]``, compiled; ``.student`` is the MLP.

    ``teacher`` is as the method trains on it (:func:`method_teacher_outputs`).
    """
    method = settings["method"]
    train = splits["train"]
    context = TrainingContext(
        num_classes=len(train.classes),
        steps_per_epoch=steps_per_epoch(train.labels.shape[0], settings),
        hidden_units=hidden_units,
        dropout=settings["dropout"],
        teacher_hidden_width=teacher["hidden"]["train"].shape[1] if "hidden" in teacher else None,
    )
    student = build_mlp(context.num_classes, hidden_units, settings["dropout"], name="student")
    trainer_class = method_trainer(method)
    if mixup_alpha(method_settings(settings)):
        trainer_class = with_mixed_targets(trainer_class)
    trainer = trainer_class(student, method_settings(settings), context)
    trainer.compile(
        optimizer=make_optimizer(settings, context.steps_per_epoch), steps_per_execution=settings["steps_per_execution"]
    )
    return trainer


def student_targets(splits: dict[str, PreparedSplit], teacher: dict[str, dict[str, np.ndarray]], split: str) -> dict[str, np.ndarray]:
    """What a trainer fits to on ``split``: the labels and the teacher outputs its method reads."""
    return {"labels": splits[split].labels, **{f"teacher_{kind}": teacher[kind][split] for kind in TEACHER_FILES if kind in teacher}}


def view_training_batches(
    splits: dict[str, PreparedSplit], teacher: dict[str, dict[str, np.ndarray]], views: StoredViews, settings: dict[str, Any], seed: int
) -> EpochBatches:
    """Each epoch, every training image once as itself or one of its views, with the matching targets."""
    train = splits["train"]
    count = train.labels.shape[0]
    view_targets = {"labels": np.tile(train.labels, views.views),
                    **{f"teacher_{kind}": teacher[kind]["views"] for kind in TEACHER_FILES if kind in teacher}}
    return versions_batches(
        to_pixels(train.images), views.images, student_targets(splits, teacher, "train"), view_targets,
        epoch_rows(count, views.views, settings["epochs"], seed), settings["batch_size"],
        mixup_alpha(method_settings(settings)), seed,
    )


def train_student(
    splits: dict[str, PreparedSplit],
    teacher: dict[str, dict[str, np.ndarray]],
    settings: dict[str, Any],
    hidden_units: int,
    seed: int,
    log_dir: Path | None = None,
    views: StoredViews | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Train a fresh MLP with the ``distill`` params' method; return it and its metrics.

    ``teacher`` holds the stored teacher outputs the method reads (:func:`load_teacher_outputs`,
    with the views' outputs when ``views`` are given: then the student trains on the views too).
    """
    configure_runtime(seed)
    train, val = splits["train"], splits["val"]
    if mixup_alpha(method_settings(settings)) and (views is None or not views.views):
        raise ValueError(f"params.yaml: distill.{settings['method']}.mixup mixes stored views: it needs augment.views > 0, got 0")
    settings = budgeted(settings, len(train.labels))
    precision = settings.get("precision", "float32")
    teacher = method_teacher_outputs(teacher, settings)
    with training_precision(precision, "distill.precision"):
        trainer = build_trainer(splits, teacher, settings, hidden_units)
        if views is not None and views.views:
            inputs, targets = view_training_batches(splits, teacher, views, settings, seed), None
        else:
            inputs, targets = train.images, student_targets(splits, teacher, "train")
        run = fit_with_early_stopping(
            trainer, inputs, targets, (val.images, student_targets(splits, teacher, "val")), settings, log_dir, monitor=MLP_MONITOR,
        )
    # Evaluated like the other models, in float32: plain cross-entropy and accuracy at T = 1.
    student = float32_copy(trainer.student, lambda: build_mlp(len(train.classes), hidden_units, settings["dropout"], name="student"))
    compile_classifier(student, settings)
    method = settings["method"]
    # What trained it, in the metrics: a report can then tell this run's results from stale ones.
    trained_with = {"method": method, "setting": setting_label(method_settings(settings)), "seed": seed,
                    "views": views.views if views is not None else 0, "precision": precision,
                    "min_steps": settings.get("min_steps", 0)}
    metrics = {**classifier_metrics(student, splits, run), **trained_with}
    if views is not None and views.views:
        metrics.update(views_seen(views.views, metrics["epochs"]))
    return student, metrics


def main() -> None:
    params = load_params()
    settings = params["distill"]
    splits = load_prepared(PREPARED_DIR)
    count = params["augment"]["views"]
    views = load_views(VIEWS_DIR, splits["train"], count) if count else None
    # Passed on, not kept here: FitNets replaces the full hints by fewer coordinates, and the
    # full ones are then freed.
    student, metrics = train_student(
        splits, load_teacher_outputs(settings["method"], splits, views, settings["fitnets"]["hint_components"]), settings,
        params["baseline"]["hidden_units"], params["seed"] + params["replicate"], training_log_dir("student"), views,
    )
    save_model(student, model_path("student"))
    write_json(metrics_path("student"), metrics)
    print(f"student ({settings['method']}): test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs")


if __name__ == "__main__":
    run_stage(main)
