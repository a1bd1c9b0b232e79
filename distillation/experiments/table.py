"""The project's DVC experiments as one table, read through DVC's Python API (``dvc.api.exp_show``).

Runs are pooled only when their identities are equal (:mod:`distillation.config.identity`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from distillation.config.identity import (
    ENSEMBLE_KEY, EPOCHS_KEY, METHOD_KEY, SOURCE_KEY, TEACHER_REPLICATE_KEY, VIEWS_KEY, identity_key, identity_params, normalise, reads_teacher, run_settings,
)
from distillation.config.params import KEYS
from distillation.paths import MODEL_NAMES, test_correct_path

STUDENT_FIELDS = ("epochs", "best_epoch", "train_images_per_second", "train_seconds")
logger = logging.getLogger(__name__)


def source_label(source: str | None) -> str:
    """``synthetic``, ``emnist``, or a source file's name without folders."""
    return Path(str(source)).name if source not in (None, "synthetic", "emnist") else str(source)


def _column(row: dict[str, Any], file: str, key: str) -> Any:
    # DVC prefixes a column with its file only where two files share the name.
    return row.get(f"{file}:{key}", row.get(key))


def _stale_outputs(flat: dict[str, Any], method: str | None, setting: str, metrics: dict[str, dict]) -> str:
    """Why a run's metrics cannot come from its own params ("" when they can, or cannot tell).

    The models record what trained them (``seed``; the student also ``method`` and ``setting``).
    A queued experiment killed mid-stage can still be saved by DVC with the outputs of the
    commit it started from; its params then disagree with those records.
    """
    seed, replicate, teacher = flat.get("seed"), flat.get("replicate"), flat.get(TEACHER_REPLICATE_KEY)
    mlp_seed = seed + replicate if isinstance(seed, int) and isinstance(replicate, int) else None
    teacher_seed = seed + teacher if isinstance(seed, int) and isinstance(teacher, int) else None
    expected = {"student": {"method": method, "setting": setting, "seed": mlp_seed, "views": flat.get(VIEWS_KEY)},
                "baseline": {"seed": mlp_seed}, "teacher": {"seed": teacher_seed}}
    for model, fields in expected.items():
        recorded = metrics.get(model, {})
        for field, value in fields.items():
            # Metrics written before these records existed cannot be checked: trust them.
            if recorded.get(field) is not None and value is not None and recorded[field] != value:
                return f"its {model} was trained with {field} {recorded[field]!r}, its params say {value!r}"
    return ""


def _integer(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value else None


def experiments_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per distinct finished run with a student, from ``dvc.api.exp_show()``'s rows.

    Columns: experiment, rev, source (as given), source_label, method, setting (its own params),
    identity, params (what the run reads), replicate, teacher_replicate (None for a method that
    reads no teacher), each model's test accuracy (``teacher``, ``baseline``, ``student``) and val
    accuracy (``<model>_val``), ``teacher_on_views`` (the teacher's accuracy on the stored views, with
    views), ``teachers`` (the size of the ensemble, for a method that reads one) with ``ensemble`` and
    ``ensemble_val`` (the accuracy of its mean logits, where it has more than one member), and the gain.
    """
    records = []
    for row in rows:
        flat = normalise({key: _column(row, "params.yaml", key) for key in KEYS if _column(row, "params.yaml", key) is not None})
        metrics = {model: {field: _column(row, f"metrics/{model}.json", field)
                           for field in ("test_accuracy", "val_accuracy", "seed", "method", "setting", *STUDENT_FIELDS)}
                   for model in MODEL_NAMES}
        method = flat.get(METHOD_KEY)
        settings = run_settings(flat)
        identity = identity_params(flat)  # flat is normalised once, above
        record: dict[str, Any] = {
            "experiment": row.get("Experiment") or row.get("rev"),
            "rev": row.get("rev"),
            "source": flat.get(SOURCE_KEY),
            "source_label": source_label(flat.get(SOURCE_KEY)),
            "method": method,
            "setting": settings.label() if settings is not None else "",
            "settings": settings.model_dump(by_alias=True) if settings is not None else {},
            "identity": identity_key(identity),
            "params": identity,
            "replicate": _integer(flat.get("replicate")),
            "teacher_replicate": _integer(flat.get(TEACHER_REPLICATE_KEY, 0)) if reads_teacher(method) else None,
            "epoch_cap": flat.get(EPOCHS_KEY),
        }
        for model in MODEL_NAMES:
            record[model] = metrics[model]["test_accuracy"]
            record[f"{model}_val"] = metrics[model]["val_accuracy"]
        for field in STUDENT_FIELDS:
            record[f"student_{field}"] = metrics["student"][field]
        # An ensemble's own accuracy: that of the stored logits, the members' mean (none for one teacher).
        teachers = (_integer(flat.get(ENSEMBLE_KEY)) or 1) if reads_teacher(method) else None
        record["teachers"] = teachers
        for split, column in (("test", "ensemble"), ("val", "ensemble_val")):
            record[column] = _column(row, "metrics/soft_targets.json", f"{split}.accuracy") if (teachers or 1) > 1 else None
        # The teacher's accuracy on the stored views its students learn from (none without views).
        record["teacher_on_views"] = (_column(row, "metrics/view_targets.json", "teacher_accuracy_on_views")
                                      if flat.get(VIEWS_KEY) else None)
        if record["student"] is None or record["baseline"] is None or method is None:
            continue  # queued, running or failed runs, and commits without a run
        mismatch = _stale_outputs(flat, method, record["setting"], metrics)
        if mismatch:
            logger.warning(f"warning: experiment {record['experiment']} ({record['rev']}) left out: {mismatch} "
                           "(its stages did not run for these params, e.g. a queued run killed mid-stage that DVC saved anyway)")
            continue
        records.append(record)
    table = pd.DataFrame(records)
    if table.empty:
        return table
    table["gain"] = table["student"] - table["baseline"]
    # The workspace repeats HEAD or one experiment; keep each distinct result once.
    distinct = table.drop_duplicates(subset=["identity", "teacher_replicate", "replicate", *MODEL_NAMES], keep="last")
    return distinct.reset_index(drop=True)


def read_experiments() -> pd.DataFrame:
    """:func:`experiments_table` of this repository's experiments on ``HEAD``."""
    import dvc.api  # DVC's import is slow; only callers that read experiments pay it

    return experiments_table(dvc.api.exp_show())


def read_test_correct(rev: str, model: str) -> dict[str, Any] | None:
    """Which test images ``model`` got right in the experiment at ``rev`` (its
    ``predictions/<model>_test_correct.json``, as :func:`~distillation.models.per_image.encode_correct`
    wrote it); ``None`` for a run made before runs kept them."""
    import dvc.api
    from dvc.exceptions import PathMissingError

    try:
        # exp_show's row of the workspace is named "workspace": dvc.api reads the workspace at rev None.
        entry = json.loads(dvc.api.read(str(test_correct_path(model)), rev=None if rev == "workspace" else rev))
    except (PathMissingError, FileNotFoundError):
        return None
    return {"images": entry["images"], "correct": entry["correct"]}


def varying_params(table: pd.DataFrame) -> list[str]:
    """The params (besides the pairing keys) whose value differs between rows of ``table``."""
    keys = sorted({key for identity in table["params"] for key in identity})
    return [key for key in keys if len({json.dumps(identity.get(key), default=str) for identity in table["params"]}) > 1]
