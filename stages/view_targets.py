"""Stage ``view_targets``: run the teacher once over every stored view and store its outputs.

The students then never run the teacher: each view comes with the teacher's logits (and hints,
for FitNets) for exactly that view (:mod:`distillation.targets.view_targets`). ``metrics/view_targets.json``
says how often the teacher still reads a view as its image's letter, and what a view cost it.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.targets.ensemble import load_members
from distillation.config.params import load_params
from distillation.paths import PREPARED_DIR, TEACHER_HIDDEN, TEACHER_MEMBERS_DIR, VIEW_TARGETS_DIR, VIEWS_DIR, metrics_path, model_path
from distillation.data.prepared import load_prepared
from distillation.targets.teacher_logits import load_teacher_hidden
from distillation.targets.view_targets import LOGITS_FILE, write_view_targets
from distillation.data.views import load_views

CHUNK = 65536


def view_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of views (rows v·N + i) whose teacher argmax is image i's label; NaN-free for no views."""
    count = labels.shape[0]
    if not logits.shape[0]:
        return 0.0
    correct = sum(int(np.sum(logits[start:start + CHUNK].argmax(axis=1) == labels[np.arange(start, min(start + CHUNK, logits.shape[0])) % count]))
                  for start in range(0, logits.shape[0], CHUNK))
    return correct / logits.shape[0]


def main() -> None:
    params = load_params()
    splits = load_prepared(PREPARED_DIR)
    views = load_views(VIEWS_DIR, splits["train"], params.augment.views)
    train_hidden = load_teacher_hidden(TEACHER_HIDDEN, splits)["train"]
    started = time.perf_counter()
    teacher, members, precision = None, [], None
    if views.views:  # with none, nothing runs the teacher: the stage starts without Keras
        from distillation.models.files import load_model
        from distillation.training.precision import computing_in, teacher_pass_precision

        precision = teacher_pass_precision(params.teacher)
        teacher = computing_in(load_model(model_path("teacher")), precision)
        members = [computing_in(member, precision) for member in load_members(TEACHER_MEMBERS_DIR)]
    figures = write_view_targets(VIEW_TARGETS_DIR, teacher, views, train_hidden, params.distill.fitnets.hint_components,
                                 members, params.teacher.hidden_layer, classes=len(splits["train"].classes))
    seconds = time.perf_counter() - started
    logits = np.load(VIEW_TARGETS_DIR / LOGITS_FILE, mmap_mode="r", allow_pickle=False)
    metrics: dict[str, Any] = {
        **figures, "seconds": round(seconds, 2),
        "teacher_accuracy_on_views": round(view_accuracy(logits, splits["train"].labels), 6),
        "teacher_views_per_second": round(figures["rows"] / seconds) if figures["rows"] else 0,
        "precision": precision,  # None: no views, the teacher did not run
    }
    write_json(metrics_path("view_targets"), metrics)
    print(f"wrote {VIEW_TARGETS_DIR}: teacher outputs for {figures['rows']} views in {metrics['seconds']} s")


if __name__ == "__main__":
    run_stage(main)
