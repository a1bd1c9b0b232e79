"""Stage ``soft_targets``: run the teacher once over every split and store its logits.

Logits, not temperature-softened probabilities: a new ``distill.temp`` never re-runs this.
"""
from __future__ import annotations

import keras
import numpy as np

from distillation.cli import run_stage
from distillation.paths import PREPARED_DIR, TEACHER_LOGITS, model_path
from distillation.prepared import PreparedSplit, load_prepared
from distillation.teacher_logits import save_teacher_logits
from distillation.training import load_model, predict_logits


def teacher_logits(teacher: keras.Model, splits: dict[str, PreparedSplit]) -> dict[str, np.ndarray]:
    """The teacher's logits (N, K) for each split."""
    return {name: predict_logits(teacher, split.images) for name, split in splits.items()}


def main() -> None:
    splits = load_prepared(PREPARED_DIR)
    logits = teacher_logits(load_model(model_path("teacher")), splits)
    save_teacher_logits(TEACHER_LOGITS, logits, splits)
    print(f"wrote {TEACHER_LOGITS}: " + ", ".join(f"{name} {array.shape}" for name, array in logits.items()))


if __name__ == "__main__":
    run_stage(main)
