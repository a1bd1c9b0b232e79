"""Which params make up a run's identity, and which of them a method's setting shows: written once.

A run's **identity** is every param that can change what its student learned: all of
``params.yaml`` except the pairing keys (``replicate``, ``teacher.replicate``) and what the running
method does not read: other methods' sections, the shared ``distill.temp`` / ``distill.lambda``
when the method declares neither, the teacher's params when the method reads no teacher output,
the synthetic data's sizes unless the source is ``synthetic``, the official files' fields
unless they are the source, the ``augment`` section when ``augment.views`` is 0, and the keys
added since the first records (:data:`LATER_DEFAULTS`) while they keep their defaults. Runs are
pooled (one setting, several replicates) only when their identities are equal, so a run with
another ``seed``, ``distill.epochs``, hidden width, data file or views is never counted with the
comparison's runs.

These functions read the flat ``{dotted.key: value}`` rows of ``dvc exp show`` and of the
comparison's plans, which may come from earlier versions of ``params.yaml``: they convert what
they know (:func:`normalise`) and leave the rest as it is.
"""
from __future__ import annotations

import json
from typing import Any

from distillation.config.params import convert_value
from distillation.data.byclass_letters import SOURCE_NAME as BYCLASS_LETTERS
from distillation.methods import METHODS
from distillation.methods.spec import LATER_KNOBS, SHARED_PARAMS, MethodParams

# The dotted keys that code outside this package names (a run's flat params, a grid, a sweep).
REPLICATE_KEY, TEACHER_REPLICATE_KEY = "replicate", "teacher.replicate"
PAIRING_KEYS = (REPLICATE_KEY, TEACHER_REPLICATE_KEY)  # another seed of the same configuration
SOURCE_KEY = "data.source"
METHOD_KEY = "distill.method"
TEMP_KEY, LAMBDA_KEY = "distill.temp", "distill.lambda"
EPOCHS_KEY = "distill.epochs"
ENSEMBLE_KEY = "teacher.ensemble"
VIEWS_KEY = "augment.views"
TEACHER_MODEL_KEY, HIDDEN_LAYER_KEY = "teacher.model", "teacher.hidden_layer"
# Keys added after runs were recorded, with the value those runs had: at it, a run's identity is
# what it was before the key existed. teacher.hidden_layer is FitNets' alone.
LATER_DEFAULTS = {"data.image_size": None, "data.channels": None, TEACHER_MODEL_KEY: None, HIDDEN_LAYER_KEY: "hidden"}


def unset(value: Any) -> bool:
    """Whether a param is null as a row may hold it: ``None``, an empty string, the text ``None``
    that DVC's table shows for a null, or the NaN that pandas makes of a missing one."""
    return value is None or value in ("", "None", "null") or (isinstance(value, float) and value != value)


def reads_teacher(method: str | None) -> bool:
    """Whether ``method`` trains on the stored teacher outputs (so the teacher is part of its run)."""
    return bool(method in METHODS and METHODS[method].teacher_outputs)


SHARED_KEYS = tuple(f"distill.{shared}" for shared in SHARED_PARAMS)


def in_setting(key: str) -> bool:
    """Whether a method's setting (its label) already shows ``key``: the method, the shared knobs, its own section."""
    return key == METHOD_KEY or key in SHARED_KEYS or (key.startswith("distill.") and key.count(".") == 2)


def normalise(flat: dict[str, Any]) -> dict[str, Any]:
    """Known params converted as validation converts them (DVC's table holds ``5.0`` for 5, ``"True"`` for true)."""
    return {key: convert_value(key, value) for key, value in flat.items()}


def identity_params(flat: dict[str, Any]) -> dict[str, Any]:
    """The params of ``flat`` that the run's method reads, pairing keys left out (see module doc)."""
    method = flat.get(METHOD_KEY)
    shared = METHODS[method].shared_params if method in METHODS else ()
    source = flat.get(SOURCE_KEY)

    def is_read(key: str) -> bool:
        parts = key.split(".")
        if key in PAIRING_KEYS:
            return False
        if key in LATER_DEFAULTS:
            changed = not unset(flat.get(key)) and flat.get(key) != LATER_DEFAULTS[key]
            if key == HIDDEN_LAYER_KEY:
                return changed and method == "fitnets"
            return changed and (parts[0] != "teacher" or reads_teacher(method))
        if parts[0] == "teacher" and not unset(flat.get(TEACHER_MODEL_KEY)) and key != ENSEMBLE_KEY:
            return False  # your own teacher: its recipe is never read
        if key == ENSEMBLE_KEY:
            # One teacher is the run of before ensembles existed: its identity is unchanged.
            return reads_teacher(method) and flat.get(key) not in (None, 1)
        if parts[0] == "teacher":
            return reads_teacher(method)
        if parts[0] == "distill" and len(parts) == 3:
            return parts[1] == method and not (parts[2] in LATER_KNOBS and not flat.get(key))
        if parts[0] == "distill" and parts[1] in SHARED_PARAMS:
            return parts[1] in shared
        if key.startswith("data.synthetic."):
            return source == "synthetic"
        if key.startswith("data.emnist."):
            return source == "emnist"
        if key.startswith("data.emnist_byclass."):
            return source == BYCLASS_LETTERS
        if parts[0] == "augment":
            # Without views nothing of augment is read: such a run is the run of before views existed.
            return flat.get(VIEWS_KEY) not in (None, 0)
        return True

    return {key: value for key, value in sorted(flat.items()) if is_read(key)}


def identity_key(identity: dict[str, Any]) -> str:
    """An identity (:func:`identity_params`) as one string: equal strings, the same configuration."""
    return json.dumps(identity, sort_keys=True, default=str)


def run_identity(flat: dict[str, Any]) -> str:
    """A run's identity as one string, from its flat params as given."""
    return identity_key(identity_params(normalise(flat)))


def run_settings(flat: dict[str, Any]) -> MethodParams | None:
    """What the run's method read, from its flat params (None for an unknown method).

    Params of earlier versions, whose sections held their own ``temp`` and ``lambda``, give the
    same settings (the section's values win).
    """
    method = flat.get(METHOD_KEY)
    if method not in METHODS:
        return None
    shared = {key: flat[f"distill.{key}"] for key in SHARED_PARAMS if f"distill.{key}" in flat}
    section = {key.rsplit(".", 1)[1]: value for key, value in flat.items() if key.startswith(f"distill.{method}.")}
    return METHODS[method].settings_from({**shared, **section})
