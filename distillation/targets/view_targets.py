"""The teacher's outputs for every stored view, computed once (stage ``view_targets``) and streamed.

Rows match the views' rows (``v·N + i``, see :mod:`distillation.data.views`): ``logits.npy`` float32
(K·N, classes) and ``hidden.npy`` float16, the teacher's hidden activations as FitNets regresses
them. With ``distill.fitnets.hint_components: k > 0`` those are the coordinates in the k leading
principal directions of the *original* train images' hints (the same directions FitNets uses for
the images themselves, stored beside them in ``hint_basis.npz``), so that K = 16 views of the
official 124,800 images take 0.5 GB instead of 4 GB. The outputs are written batch by batch into
memory-mapped files: the stage never holds more than one batch of activations.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from distillation.atomic import atomic_output, write_json, write_npz
from distillation.targets.ensemble import ensemble_logits_on_batch
from distillation.training.hints import check_hint_components, principal_hint_basis, project_hints
from distillation.data.views import StoredRows, StoredViews, as_model_input

if TYPE_CHECKING:  # with no views there is nothing to run: the stage then starts without Keras
    import keras

LOGITS_FILE = "logits.npy"
HIDDEN_FILE = "hidden.npy"
BASIS_FILE = "hint_basis.npz"
INDEX_FILE = "targets.json"
FILES = {"logits": LOGITS_FILE, "hidden": HIDDEN_FILE}
BATCH = 1024  # the CNN's first feature maps for 1024 images take 0.2 GB
RERUN = "re-run `dvc repro view_targets`"


def write_view_targets(
    directory: str | Path, teacher: keras.Model | None, views: StoredViews, train_hidden: np.ndarray, hint_components: int,
    members: list[keras.Model] = (), hidden_layer: str | None = None, classes: int | None = None,
) -> dict[str, float]:
    """Run ``teacher`` over every view in batches; store logits and hints; return summary figures.

    With no views (``augment.views: 0``) nothing runs: ``teacher`` may be None, and ``classes``
    gives the logits' width (empty outputs, and the hints' basis, which FitNets reads without views too).

    ``train_hidden`` is the teacher's hidden activations on the original train images
    (``data/teacher_hidden.npz``): the principal directions are fitted on them. A teacher of yours
    whose hint layer has fewer units than ``hint_components`` gets no hints stored (only FitNets
    reads them, and it then refuses in one line): every other method trains on its views. With ``members``
    (an ensemble's others) the stored logits are the mean of all, the hints still ``teacher``'s.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rows = views.images.shape[0]
    if rows:
        from distillation.models.networks import HIDDEN_LAYER, with_hidden_output

        with_hidden = with_hidden_output(teacher, hidden_layer or HIDDEN_LAYER)
        classes = int(teacher.output_shape[-1])
    elif classes is None:
        raise ValueError("write_view_targets: with no views, give the number of classes")
    basis = None
    units = train_hidden.shape[1]
    hints_usable = hint_components <= units
    if hint_components and hints_usable:
        mean, directions, kept = principal_hint_basis(train_hidden, hint_components)
        basis = (mean, directions)
        write_npz(directory / BASIS_FILE, {"mean": mean, "basis": directions, "kept": np.array(kept)})
    else:
        (directory / BASIS_FILE).unlink(missing_ok=True)
    width = (hint_components or units) if hints_usable else 0
    with atomic_output(directory / LOGITS_FILE) as logits_path, atomic_output(directory / HIDDEN_FILE) as hidden_path:
        logits = np.lib.format.open_memmap(logits_path, mode="w+", dtype=np.float32, shape=(rows, classes))
        hidden = np.lib.format.open_memmap(hidden_path, mode="w+", dtype=np.float16, shape=(rows, width))
        active = np.zeros(train_hidden.shape[1], dtype=bool)
        for start in range(0, rows, BATCH):
            images = as_model_input(views.images[start:start + BATCH])
            batch_hidden, batch_logits = with_hidden.predict_on_batch(images)
            active |= (batch_hidden > 0).any(axis=0)
            logits[start:start + BATCH] = ensemble_logits_on_batch(np.asarray(batch_logits), members, images)
            if hints_usable:
                hidden[start:start + BATCH] = project_hints(batch_hidden, *basis) if basis else batch_hidden
        logits.flush()
        hidden.flush()
        del logits, hidden
    write_json(directory / INDEX_FILE, {"views_fingerprint": views.fingerprint, "rows": rows, "hint_components": hint_components,
                                        **({} if hints_usable else {"teacher_hidden_units": units})})
    return {"rows": rows, "active_hidden_fraction": round(float(active.mean()), 6) if rows else 0.0}


def load_view_targets(
    directory: str | Path, views: StoredViews, kinds: tuple[str, ...], hint_components: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """The teacher's outputs for ``views``, of the ``kinds`` asked for (``logits``, ``hidden``).

    ``{"logits": {"views": …}, "hidden": {"views": …}, "hint_basis": {"mean", "basis"}}``; the
    basis only for hints in principal directions. A ``ValueError`` if missing, computed for
    other views or, when the hints are asked for, for another ``hint_components``.
    """
    directory = Path(directory)
    index_path = directory / INDEX_FILE
    if not index_path.is_file():
        raise ValueError(f"{directory}: no teacher outputs for the views; {RERUN}")
    index = json.loads(index_path.read_text())
    if index.get("views_fingerprint") != views.fingerprint:
        raise ValueError(f"{directory}: stale teacher outputs: computed for other views; {RERUN}")
    if "hidden" in kinds and "teacher_hidden_units" in index:  # too few units for the components asked: none stored
        check_hint_components(hint_components, index["teacher_hidden_units"])
    if "hidden" in kinds and index.get("hint_components") != hint_components:
        raise ValueError(f"{directory}: the views' hints have {index.get('hint_components')} components but "
                         f"distill.fitnets.hint_components is {hint_components}; {RERUN}")
    outputs: dict[str, dict[str, np.ndarray]] = {}
    for kind in kinds:
        values = StoredRows(directory / FILES[kind])
        if values.shape[0] != views.images.shape[0]:
            raise ValueError(f"{directory / FILES[kind]}: {values.shape[0]} rows for {views.images.shape[0]} views; {RERUN}")
        outputs[kind] = {"views": values}
    if "hidden" in kinds and hint_components:
        with np.load(directory / BASIS_FILE, allow_pickle=False) as stored:
            outputs["hint_basis"] = {"mean": stored["mean"], "basis": stored["basis"]}
    return outputs
