"""Stage ``soft_targets``: run the teacher once over every split and store what students learn from.

Logits, not temperature-softened probabilities, so a new temperature never re-runs this; and,
in a separate file, the teacher's hidden-layer activations that FitNets regresses on. Both come
from one forward pass.
"""
from __future__ import annotations

import keras
import numpy as np

from distillation.cli import run_stage
from distillation.models import with_hidden_output
from distillation.paths import PREPARED_DIR, TEACHER_HIDDEN, TEACHER_LOGITS, model_path
from distillation.prepared import PreparedSplit, load_prepared
from distillation.teacher_logits import save_teacher_hidden, save_teacher_logits
from distillation.model_files import EVALUATION_BATCH, load_model


def teacher_outputs(teacher: keras.Model, splits: dict[str, PreparedSplit]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The teacher's logits (N, K) and hidden activations (N, 1024) for each split."""
    view = with_hidden_output(teacher)
    logits, hidden = {}, {}
    for name, split in splits.items():
        hidden[name], logits[name] = view.predict(split.images, batch_size=EVALUATION_BATCH, verbose=0)
    return logits, hidden


def main() -> None:
    splits = load_prepared(PREPARED_DIR)
    logits, hidden = teacher_outputs(load_model(model_path("teacher")), splits)
    save_teacher_logits(TEACHER_LOGITS, logits, splits)
    save_teacher_hidden(TEACHER_HIDDEN, hidden, splits)
    print(f"wrote {TEACHER_LOGITS} and {TEACHER_HIDDEN}: " + ", ".join(f"{name} {array.shape}" for name, array in hidden.items()))


if __name__ == "__main__":
    run_stage(main)
