"""The teacher's logits for every prepared split, tied to the data they were computed on.

Logits (not softened probabilities) are stored, so changing the temperature never re-runs
the teacher. Each split's row count and content fingerprint are stored beside its logits;
:func:`load_teacher_logits` refuses logits that belong to other prepared data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from distillation.atomic import write_npz
from distillation.prepared import SPLITS, PreparedSplit


def save_teacher_logits(path: str | Path, logits: dict[str, np.ndarray], splits: dict[str, PreparedSplit]) -> None:
    arrays = {}
    for name in SPLITS:
        arrays[name] = logits[name].astype(np.float32)
        arrays[f"{name}_fingerprint"] = np.array(splits[name].fingerprint())
    write_npz(path, arrays)


def load_teacher_logits(path: str | Path, splits: dict[str, PreparedSplit]) -> dict[str, np.ndarray]:
    """Logits per split; a ``ValueError`` if missing or computed on other prepared data."""
    path = Path(path)
    rerun = "re-run `dvc repro soft_targets`"
    if not path.is_file():
        raise ValueError(f"{path}: teacher logits not found; {rerun}")
    with np.load(path, allow_pickle=False) as contents:
        stored = {key: contents[key] for key in contents.files}
    logits = {}
    for name in SPLITS:
        split = splits[name]
        if name not in stored or f"{name}_fingerprint" not in stored:
            raise ValueError(f"{path}: no logits for the {name} split; {rerun}")
        rows = stored[name].shape[0]
        if rows != split.labels.shape[0] or stored[name].shape[1:] != (len(split.classes),):
            raise ValueError(
                f"{path}: stale teacher logits: {name} has shape {stored[name].shape} but the prepared "
                f"data has {split.labels.shape[0]} rows and {len(split.classes)} classes; {rerun}"
            )
        if str(stored[f"{name}_fingerprint"]) != split.fingerprint():
            raise ValueError(f"{path}: stale teacher logits: the {name} split's content changed since they were computed; {rerun}")
        logits[name] = stored[name]
    return logits
