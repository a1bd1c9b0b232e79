"""Rows of ``dvc.api.exp_show()`` as DVC gives them, for tests of the experiment tables."""
from __future__ import annotations

import hashlib
from typing import Any

from conftest import PROJECT_ROOT
from distillation.config.identity import run_settings
from distillation.config.params import load_params

SHIPPED = load_params(PROJECT_ROOT / "params.yaml")


def _as_dvc_gives_it(value: Any) -> Any:
    # DVC's table turns every number into a float, a boolean and a null into their text.
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return float(value)
    return value


def exp_row(name: str, replicate: int, baseline: float, student: float, method: str = "kd",
            settings: dict[str, Any] | None = None, student_val: float | None = None, source: str = "synthetic",
            teacher_replicate: int = 0, teacher: float = 0.96, params: dict[str, Any] | None = None,
            recorded: dict[str, dict[str, Any]] | None = None, teacher_on_views: float | None = None,
            ensemble: float | None = None) -> dict[str, Any]:
    """One finished experiment: the shipped params with these set, and its models' metrics.

    ``teacher_on_views``: what ``metrics/view_targets.json`` says of the teacher's accuracy on the views;
    ``ensemble``: what ``metrics/soft_targets.json`` says of the stored logits' test (and val) accuracy.

    ``recorded`` overrides what a model's metrics say trained it (``seed``, ``method``, ``setting``).
    """
    settings = settings if settings is not None else {"temp": 10, "lambda": 0.5, "t2_scale": False}
    flat = SHIPPED.flat()
    flat.update({"replicate": replicate, "data.source": source, "distill.method": method, "teacher.replicate": teacher_replicate})
    for key, value in settings.items():
        flat[f"distill.{key}" if key in ("temp", "lambda") else f"distill.{method}.{key}"] = value
    flat.update(params or {})
    mlp_seed = flat["seed"] + replicate
    row: dict[str, Any] = {"Experiment": name, "rev": hashlib.sha1(name.encode()).hexdigest()[:7], "typ": "branch_commit", "State": None}
    for key, value in flat.items():
        # `seed` is also a metrics field, so DVC names that column by its file.
        row["params.yaml:seed" if key == "seed" else key] = _as_dvc_gives_it(value)
    metrics = {
        "teacher": {"test_accuracy": teacher, "val_accuracy": teacher, "seed": flat["seed"] + teacher_replicate},
        "baseline": {"test_accuracy": baseline, "val_accuracy": baseline, "seed": mlp_seed},
        "student": {"test_accuracy": student, "val_accuracy": student if student_val is None else student_val,
                    "seed": mlp_seed, "epochs": 30, "best_epoch": 25, "train_images_per_second": 50_000, "train_seconds": 20.0},
    }
    for model, fields in (recorded or {}).items():
        metrics[model].update({field: value for field, value in fields.items() if field == "seed"})
    for model, fields in metrics.items():
        for field, value in fields.items():
            row[f"metrics/{model}.json:{field}"] = _as_dvc_gives_it(value)
    if teacher_on_views is not None:
        row["teacher_accuracy_on_views"] = teacher_on_views
    if ensemble is not None:
        row["test.accuracy"], row["val.accuracy"] = ensemble, ensemble
    # Only the student's metrics have these: DVC leaves their columns unprefixed.
    student_record = (recorded or {}).get("student", {})
    row["method"] = student_record.get("method", method)
    row["setting"] = student_record.get("setting", run_settings(flat).label())
    return row


def kd(temp: float, lam: float = 0.5, t2_scale: bool = False) -> dict[str, Any]:
    """KD's setting as a run records it."""
    return {"temp": temp, "lambda": lam, "t2_scale": t2_scale}
