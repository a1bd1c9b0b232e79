"""The teacher's outputs for every prepared split, tied to the data they were computed on.

Two files, so that a method reads only what it needs: the logits (not softened probabilities,
so changing the temperature never re-runs the teacher) and, for FitNets, the activations of its
1024-unit hidden layer (float16, deflated: ReLU outputs are mostly zeros). Each split's row
count and content fingerprint are stored beside its arrays; the loaders refuse outputs that
belong to other prepared data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from distillation.atomic import write_npz
from distillation.data.prepared import SPLITS, PreparedSplit

RERUN = "re-run `dvc repro soft_targets`"


def _save(path: str | Path, arrays: dict[str, np.ndarray], splits: dict[str, PreparedSplit], dtype, compressed: bool) -> None:
    stored = {}
    for name in SPLITS:
        stored[name] = arrays[name].astype(dtype)
        stored[f"{name}_fingerprint"] = np.array(splits[name].fingerprint())
    write_npz(path, stored, compressed=compressed)


def _load(path: str | Path, splits: dict[str, PreparedSplit], what: str, width: int | None) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: teacher {what} not found; {RERUN}")
    with np.load(path, allow_pickle=False) as contents:
        stored = {key: contents[key] for key in contents.files}
    arrays = {}
    for name in SPLITS:
        split = splits[name]
        if name not in stored or f"{name}_fingerprint" not in stored:
            raise ValueError(f"{path}: no {what} for the {name} split; {RERUN}")
        shape = stored[name].shape
        if shape[0] != split.labels.shape[0] or (width is not None and shape[1:] != (width,)):
            expected = f"{split.labels.shape[0]} rows" + (f" and {width} columns" if width is not None else "")
            raise ValueError(f"{path}: stale teacher {what}: {name} has shape {shape} but the prepared data needs {expected}; {RERUN}")
        if str(stored[f"{name}_fingerprint"]) != split.fingerprint():
            raise ValueError(f"{path}: stale teacher {what}: the {name} split's content changed since they were computed; {RERUN}")
        arrays[name] = stored[name]
    return arrays


def save_teacher_logits(path: str | Path, logits: dict[str, np.ndarray], splits: dict[str, PreparedSplit]) -> None:
    _save(path, logits, splits, np.float32, compressed=False)


def load_teacher_logits(path: str | Path, splits: dict[str, PreparedSplit]) -> dict[str, np.ndarray]:
    """Logits (N, K) per split; a ``ValueError`` if missing or computed on other prepared data."""
    return _load(path, splits, "logits", width=len(splits["train"].classes))


def save_teacher_hidden(path: str | Path, hidden: dict[str, np.ndarray], splits: dict[str, PreparedSplit]) -> None:
    _save(path, hidden, splits, np.float16, compressed=True)


def load_teacher_hidden(path: str | Path, splits: dict[str, PreparedSplit]) -> dict[str, np.ndarray]:
    """Hidden activations (N, width) float16 per split; checked like the logits."""
    return _load(path, splits, "hidden activations", width=None)
