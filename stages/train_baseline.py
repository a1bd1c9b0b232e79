"""Stage ``train_baseline``: the original's MLP trained alone on hard labels, early-stopped on val accuracy.

Seeded with ``seed + replicate``: a sweep over ``replicate`` re-trains the MLPs with other
initialisations while the data and the teacher stay fixed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.models.networks import build_mlp, input_shape_of
from distillation.config.params import BaselineParams, load_params
from distillation.paths import PREPARED_DIR, metrics_path, model_path, test_correct_path, training_log_dir
from distillation.data.prepared import PreparedSplit, load_prepared
from distillation.models.files import save_model
from distillation.models.per_image import correct_on, write_test_correct
from distillation.training.fit import MLP_MONITOR, configure_runtime, train_classifier


def train_baseline(
    splits: dict[str, PreparedSplit], baseline: BaselineParams, seed: int, log_dir: Path | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """Train the MLP with the ``baseline`` params; return it and its metrics (curves to ``log_dir``)."""
    configure_runtime(seed)
    model, metrics = train_classifier(
        lambda: build_mlp(len(splits["train"].classes), baseline.hidden_units, baseline.dropout, name="baseline",
                          input_shape=input_shape_of(splits["train"].images)),
        splits, baseline, "baseline", log_dir, monitor=MLP_MONITOR)
    # The seed goes into the metrics so a report can tell a run's own results from stale ones.
    return model, {**metrics, "seed": seed}


def main() -> None:
    params = load_params()
    splits = load_prepared(PREPARED_DIR)
    model, metrics = train_baseline(
        splits, params.baseline, params.mlp_seed, training_log_dir("baseline")
    )
    save_model(model, model_path("baseline"))
    write_json(metrics_path("baseline"), metrics)
    write_test_correct(test_correct_path("baseline"), correct_on(model, splits["test"]))
    print(f"baseline: test accuracy {metrics['test_accuracy']:.4f} after {metrics['epochs']} epochs")


if __name__ == "__main__":
    run_stage(main)
