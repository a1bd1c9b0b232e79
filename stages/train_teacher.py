"""Stage ``train_teacher``: the seed CNN on the prepared data, early-stopped on val.

Seeded with ``seed + teacher.replicate``: another teacher for the same data and the same MLP seeds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.models import build_teacher
from distillation.params import load_params
from distillation.paths import PREPARED_DIR, metrics_path, model_path, training_log_dir
from distillation.prepared import PreparedSplit, load_prepared
from distillation.model_files import save_model
from distillation.training import configure_runtime, train_classifier


def train_teacher(
    splits: dict[str, PreparedSplit], settings: dict[str, Any], seed: int, log_dir: Path | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """Train the teacher CNN with the ``teacher`` params; return it and its metrics (curves to ``log_dir``)."""
    configure_runtime(seed)
    model, metrics = train_classifier(lambda: build_teacher(len(splits["train"].classes), settings["dropout"]), splits,
                                      settings, "teacher", log_dir)
    # The seed goes into the metrics so a report can tell a run's own teacher from a stale one.
    return model, {**metrics, "seed": seed}


def main() -> None:
    params = load_params()
    model, metrics = train_teacher(
        load_prepared(PREPARED_DIR), params["teacher"], params["seed"] + params["teacher"]["replicate"],
        training_log_dir("teacher")
    )
    save_model(model, model_path("teacher"))
    write_json(metrics_path("teacher"), metrics)
    print(f"teacher: test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs")


if __name__ == "__main__":
    run_stage(main)
