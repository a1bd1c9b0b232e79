"""Stage ``train_student``: the baseline's MLP trained by the method ``distill.method`` names.

Every method (see :mod:`distillation.methods`) trains a fresh MLP from the stored teacher
outputs it needs (none for DML and the controls) and saves the plain MLP, so ``evaluate``, the
report and ``dvc exp show`` treat every method alike. Like the baseline, the student stops on
its val accuracy and is seeded with ``seed + replicate``, so each replicate pairs one baseline
with one student. Its parts are in :mod:`distillation.training.student`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.config.params import DistillParams, load_params
from distillation.data.prepared import PreparedSplit, load_prepared
from distillation.data.views import StoredViews, load_views, views_seen
from distillation.models.files import save_model
from distillation.models.per_image import correct_on, write_test_correct
from distillation.models.networks import HiddenWidths, build_mlp, input_shape_of
from distillation.paths import PREPARED_DIR, VIEWS_DIR, metrics_path, model_path, test_correct_path, training_log_dir
from distillation.training.fit import MLP_MONITOR, budgeted, classifier_metrics, compile_classifier, configure_runtime, fit_with_early_stopping
from distillation.training.precision import float32_copy, training_precision
from distillation.training.mixup import mixup_alpha
from distillation.training.student import (
    TeacherOutputs, build_trainer, load_teacher_outputs, method_teacher_outputs, student_targets, view_training_batches,
)


def train_student(
    splits: dict[str, PreparedSplit],
    teacher: TeacherOutputs,
    distill: DistillParams,
    hidden_units: HiddenWidths,
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
    if mixup_alpha(distill.settings) and (views is None or not views.views):
        raise ValueError(f"params.yaml: distill.{distill.method}.mixup mixes stored views: it needs augment.views > 0, got 0")
    distill = budgeted(distill, len(train.labels))
    teacher = method_teacher_outputs(teacher, distill)
    with training_precision(distill.precision, "distill.precision") as precision:
        trainer = build_trainer(splits, teacher, distill, hidden_units)
        if views is not None and views.views:
            inputs, targets = view_training_batches(splits, teacher, views, distill, seed), None
        else:
            inputs, targets = train.images, student_targets(splits, teacher, "train")
        run = fit_with_early_stopping(
            trainer, inputs, targets, (val.images, student_targets(splits, teacher, "val")), distill, log_dir, monitor=MLP_MONITOR,
        )
    # Evaluated like the other models, in float32: plain cross-entropy and accuracy at T = 1.
    student = float32_copy(trainer.student, lambda: build_mlp(len(train.classes), hidden_units, distill.dropout, name="student",
                                                                      input_shape=input_shape_of(train.images)))
    compile_classifier(student, distill)
    # What trained it, in the metrics: a report can then tell this run's results from stale ones.
    trained_with = {"method": distill.method, "setting": distill.settings.label(), "seed": seed,
                    "views": views.views if views is not None else 0, "precision": precision,
                    "min_steps": distill.min_steps}
    metrics = {**classifier_metrics(student, splits, run), **trained_with}
    if views is not None and views.views:
        metrics.update(views_seen(views.views, metrics["epochs"]))
    return student, metrics


def main() -> None:
    params = load_params()
    distill = params.distill
    splits = load_prepared(PREPARED_DIR)
    views = load_views(VIEWS_DIR, splits["train"], params.augment.views) if params.augment.views else None
    # Passed on, not kept here: FitNets replaces the full hints by fewer coordinates, and the
    # full ones are then freed.
    student, metrics = train_student(
        splits, load_teacher_outputs(distill.method, splits, views, distill.fitnets.hint_components), distill,
        params.baseline.hidden_units, params.mlp_seed, training_log_dir("student"), views,
    )
    save_model(student, model_path("student"))
    write_json(metrics_path("student"), metrics)
    write_test_correct(test_correct_path("student"), correct_on(student, splits["test"]))
    print(f"student ({distill.method}): test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs")


if __name__ == "__main__":
    run_stage(main)
