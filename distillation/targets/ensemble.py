"""An ensemble of teachers (``teacher.ensemble: N``): who its members are and what they output together.

Member 0 is the teacher of ``train_teacher`` (``models/teacher.keras``, seed ``seed +
teacher.replicate``); members 1 … N − 1 are trained by ``train_teacher_members`` with the next
seeds into ``models/teacher_members/``. With N = 1 that folder is empty and every output is
member 0's own, unchanged: the pipeline of before ensembles existed, bit for bit.

The students learn from the **mean of the members' logits**. Softmax(mean logits / T) is, at
every T, the normalised geometric mean of the members' probabilities at T, so one stored array
serves every temperature and a new ``distill.temp`` still re-runs only the student (the
arithmetic mean of probabilities, MEAL V2's choice, would have to be stored per T). FitNets' hints
stay member 0's hidden layer: independently trained members' hidden units are not aligned (any
permutation of them is the same network), so their mean would be no one's representation.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from distillation.data.prepared import PreparedSplit

if TYPE_CHECKING:  # Keras is imported where a model is loaded or run: a one-teacher stage with nothing to run starts without it
    import keras

MEMBER_FILE = "member-{index}.keras"
_MEMBER_NAME = re.compile(r"member-(\d+)\.keras")


def member_seeds(seed: int, replicate: int, ensemble: int) -> list[int]:
    """The seeds of members 0 … N − 1: ``seed + replicate`` and the N − 1 after it."""
    if ensemble < 1:
        raise ValueError(f"teacher.ensemble must be at least 1, got {ensemble}")
    return [seed + replicate + index for index in range(ensemble)]


def member_path(directory: str | Path, index: int) -> Path:
    """Where member ``index`` (≥ 1) of the ensemble is saved."""
    if index < 1:
        raise ValueError(f"member {index}: member 0 is the teacher itself (models/teacher.keras)")
    return Path(directory) / MEMBER_FILE.format(index=index)


def member_files(directory: str | Path) -> list[Path]:
    """The saved members 1 … N − 1 in ``directory``, in order; a ``ValueError`` if one is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: no folder of teacher members; run `dvc repro train_teacher_members`")
    indices = sorted(int(match.group(1)) for path in directory.iterdir() if (match := _MEMBER_NAME.fullmatch(path.name)))
    if indices != list(range(1, len(indices) + 1)):
        raise ValueError(f"{directory}: teacher members {indices} are not 1 … {len(indices)}; "
                         "re-run `dvc repro train_teacher_members`")
    return [member_path(directory, index) for index in indices]


def load_members(directory: str | Path) -> list[keras.Model]:
    """Members 1 … N − 1, loaded in safe mode (none with ``teacher.ensemble: 1``)."""
    files = member_files(directory)
    if not files:
        return []
    from distillation.models.files import load_model

    return [load_model(path) for path in files]


def mean_logits(member_logits: list[np.ndarray]) -> np.ndarray:
    """The ensemble's logits: the members' mean (float32); one member's logits are returned as they are."""
    if not member_logits:
        raise ValueError("an ensemble needs at least one member")
    if len(member_logits) == 1:
        return member_logits[0]
    return np.mean(np.stack([np.asarray(logits, np.float64) for logits in member_logits]), axis=0).astype(np.float32)


def ensemble_logits_on_batch(first_logits: np.ndarray, others: list[keras.Model], images: np.ndarray) -> np.ndarray:
    """The ensemble's logits for one batch, given member 0's (computed beside its hidden layer)."""
    if not others:
        return first_logits
    return mean_logits([first_logits, *(np.asarray(member.predict_on_batch(images)) for member in others)])


def teacher_outputs(
    teacher: keras.Model, splits: dict[str, PreparedSplit], members: list[keras.Model] = (), hidden_layer: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The teacher's logits (N, K) and hidden activations (N, 1024) for each split; with ``members``
    (the ensemble's others), the logits are the mean of all. ``hidden_layer``: the hints' layer (the
    CNN's ``hidden`` when None)."""
    from distillation.models.files import EVALUATION_BATCH
    from distillation.models.networks import HIDDEN_LAYER, with_hidden_output

    view = with_hidden_output(teacher, hidden_layer or HIDDEN_LAYER)
    logits, hidden = {}, {}
    for name, split in splits.items():
        hidden[name], logits[name] = view.predict(split.images, batch_size=EVALUATION_BATCH, verbose=0)
        if members:
            logits[name] = mean_logits([logits[name], *(member.predict(split.images, batch_size=EVALUATION_BATCH, verbose=0)
                                                        for member in members)])
    return logits, hidden
