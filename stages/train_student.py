"""Stage ``train_student``: the baseline's MLP trained by distillation from stored teacher logits.

Loss ``λ·CE(y, softmax(z_s)) + CE(softmax(z_t/T), softmax(z_s/T))`` (× T² on the soft term
when ``distill.t2_scale``); accuracy is that of the ordinary T = 1 output. Seeded with
``seed + replicate``, like the baseline, so each replicate pairs one baseline with one student.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.models import Distiller, build_mlp
from distillation.params import load_params
from distillation.paths import PREPARED_DIR, TEACHER_LOGITS, metrics_path, model_path, training_log_dir
from distillation.prepared import PreparedSplit, load_prepared
from distillation.teacher_logits import load_teacher_logits
from distillation.training import (
    classifier_metrics,
    compile_classifier,
    configure_runtime,
    fit_with_early_stopping,
    make_optimizer,
    save_model,
)


def train_student(
    splits: dict[str, PreparedSplit],
    logits: dict[str, np.ndarray],
    settings: dict[str, Any],
    hidden_units: int,
    seed: int,
    log_dir: Path | None = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """Distil the teacher's ``logits`` into a fresh MLP with the ``distill`` params (curves to ``log_dir``)."""
    configure_runtime(seed)
    student = build_mlp(len(splits["train"].classes), hidden_units, settings["dropout"], name="student")
    distiller = Distiller(student, settings["temp"], settings["lambda"], settings["t2_scale"])
    distiller.compile(optimizer=make_optimizer(settings))
    train, val = splits["train"], splits["val"]
    run = fit_with_early_stopping(
        distiller, train.images, (train.labels, logits["train"]),
        (val.images, (val.labels, logits["val"])), settings, log_dir,
    )
    # Evaluated like the other models: plain cross-entropy and accuracy at T = 1.
    compile_classifier(student, settings)
    return student, classifier_metrics(student, splits, run)


def main() -> None:
    params = load_params()
    splits = load_prepared(PREPARED_DIR)
    logits = load_teacher_logits(TEACHER_LOGITS, splits)
    student, metrics = train_student(
        splits, logits, params["distill"], params["baseline"]["hidden_units"],
        params["seed"] + params["replicate"], training_log_dir("student"),
    )
    save_model(student, model_path("student"))
    write_json(metrics_path("student"), metrics)
    print(f"student: test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs")


if __name__ == "__main__":
    run_stage(main)
