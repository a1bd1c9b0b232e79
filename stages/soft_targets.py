"""Stage ``soft_targets``: run the teacher once over every split and store what students learn from.

Logits, not temperature-softened probabilities, so a new temperature never re-runs this; and,
in a separate file, the teacher's hidden-layer activations that FitNets regresses on. Both come
from one forward pass. With an ensemble of teachers (``teacher.ensemble``), the stored logits are
the members' mean and the hidden activations the first member's (:mod:`distillation.targets.ensemble`
says why). ``metrics/soft_targets.json`` describes the stored outputs per split (the
teacher's accuracy on the labels, its mean probability of the true class at T = 1, and the
share of hidden units ever active), all computed from the files as written and none depending
on a temperature, so a new temperature still re-runs only the student. The teacher runs at its
training's precision (:func:`distillation.training.precision.teacher_pass_precision`, recorded as
``precision``): on a CPU with bfloat16 its passes take about a quarter of float32's time
(``bench/teacher_passes_benchmark.py``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy.special import log_softmax

from distillation.atomic import npz_writer, write_json
from distillation.cli import run_stage
from distillation.config.params import load_params
from distillation.targets.ensemble import ensemble_logits_on_batch, load_members
from distillation.models.networks import HIDDEN_LAYER, with_hidden_output
from distillation.paths import PREPARED_DIR, TEACHER_HIDDEN, TEACHER_LOGITS, TEACHER_MEMBERS_DIR, metrics_path, model_path
from distillation.data.prepared import SPLITS, PreparedSplit, load_prepared
from distillation.targets.teacher_logits import load_teacher_hidden, load_teacher_logits, save_teacher_logits
from distillation.models.files import EVALUATION_BATCH, load_model
from distillation.training.precision import computing_in, teacher_pass_precision


def store_teacher_outputs(
    teacher: keras.Model, splits: dict[str, PreparedSplit], logits_path: Path, hidden_path: Path, members: list[keras.Model] = (),
    hidden_layer: str = HIDDEN_LAYER,
) -> None:
    """Run the teacher (and the ensemble's other ``members``) over every split a batch at a time and
    write both files as the savers do.

    The hidden activations go into their file batch by batch: at the official size they are
    0.5 GB per copy in float32, and holding them whole took this stage to 3.8 GB.
    """
    view = with_hidden_output(teacher, hidden_layer)
    logits = {}
    with npz_writer(hidden_path, compressed=True) as hidden_file:
        for name in SPLITS:
            split = splits[name]
            rows = split.labels.shape[0]
            parts = []
            with hidden_file.stream(name, (rows, int(view.output_shape[0][-1])), np.float16) as write:
                for start in range(0, rows, EVALUATION_BATCH):  # the batches predict() takes: the same numbers
                    images = split.images[start:start + EVALUATION_BATCH]
                    hidden, batch_logits = view.predict_on_batch(images)
                    write(hidden)
                    parts.append(ensemble_logits_on_batch(np.asarray(batch_logits), members, images))
            hidden_file.add(f"{name}_fingerprint", np.array(split.fingerprint()))
            logits[name] = np.concatenate(parts) if parts else np.zeros((0, len(split.classes)), np.float32)
    save_teacher_logits(logits_path, logits, splits)


def teacher_output_metrics(
    logits: dict[str, np.ndarray], hidden: dict[str, np.ndarray], splits: dict[str, PreparedSplit]
) -> dict[str, Any]:
    """Per split: accuracy of the stored logits on the labels, mean true-class probability (T = 1), active hidden units."""
    metrics = {}
    for name, split in splits.items():
        rows = np.arange(split.labels.shape[0])
        true_class_probability = np.exp(log_softmax(logits[name].astype(np.float64), axis=1)[rows, split.labels])
        metrics[name] = {
            "images": int(rows.shape[0]),
            "accuracy": round(float(np.mean(logits[name].argmax(axis=1) == split.labels)), 6),
            "true_class_probability": round(float(true_class_probability.mean()), 6),
            "active_hidden_fraction": round(float(np.mean((hidden[name] > 0).any(axis=0))), 6),
        }
    return metrics


def main() -> None:
    params = load_params()
    splits = load_prepared(PREPARED_DIR)
    precision = teacher_pass_precision(params.teacher)
    members = [computing_in(member, precision) for member in load_members(TEACHER_MEMBERS_DIR)]
    store_teacher_outputs(computing_in(load_model(model_path("teacher")), precision), splits, TEACHER_LOGITS, TEACHER_HIDDEN,
                          members, params.teacher.hidden_layer)
    hidden = load_teacher_hidden(TEACHER_HIDDEN, splits)
    stored = teacher_output_metrics(load_teacher_logits(TEACHER_LOGITS, splits), hidden, splits)
    # With an ensemble, each split's accuracy above is the ensemble's (its mean logits).
    write_json(metrics_path("soft_targets"), {**stored, "teachers": 1 + len(members), "precision": precision})
    print(f"wrote {TEACHER_LOGITS} and {TEACHER_HIDDEN}: " + ", ".join(f"{name} {array.shape}" for name, array in hidden.items()))


if __name__ == "__main__":
    run_stage(main)
