"""Read and validate ``params.yaml`` before any work is done.

Every known key has a rule; an unknown key (a typo such as ``distill.tmp``) is rejected with
the nearest known key suggested. Values that ``dvc exp run -S key=value`` passes as strings
are converted. Errors are one line naming the key.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any
from collections.abc import Callable

import yaml

# The methods' declarations, for their sections' rules (no Keras). The registry finds the method
# modules at run time, so in dvc.yaml only train_student, which runs them, depends on them.
from distillation.methods import METHODS
from distillation.methods.spec import MethodSpec

PARAMS_FILE = Path("params.yaml")


class ParamsError(ValueError):
    """An invalid or unknown parameter; the message names the key."""


def _number(kind: type, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if isinstance(value, bool):
            raise ParamsError(f"params.yaml: {key} must be a number, got {value!r}")
        try:
            converted = kind(value)
        except (TypeError, ValueError):
            raise ParamsError(f"params.yaml: {key} must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
        if kind is int and float(value) != converted:
            raise ParamsError(f"params.yaml: {key} must be an integer, got {value!r}")
        if low is not None and (converted < low or (low_open and converted == low)):
            raise ParamsError(f"params.yaml: {key} must be {'>' if low_open else '>='} {low}, got {value!r}")
        if high is not None and (converted > high or (high_open and converted == high)):
            raise ParamsError(f"params.yaml: {key} must be {'<' if high_open else '<='} {high}, got {value!r}")
        return converted
    return check


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ParamsError(f"params.yaml: {key} must be true or false, got {value!r}")


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ParamsError(f"params.yaml: {key} must be a non-empty string, got {value!r}")
    return value


def _sha256(key: str, value: Any) -> str:
    text = str(value).lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ParamsError(f"params.yaml: {key} must be 64 hexadecimal digits, got {value!r}")
    return text


POSITIVE_INT = _number(int, 1)
POSITIVE_FLOAT = _number(float, 0, low_open=True)
NON_NEGATIVE_FLOAT = _number(float, 0)
FRACTION = _number(float, 0, 1, high_open=True)  # dropout rates, [0, 1)


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def check(key: str, value: Any) -> str:
        if value not in allowed:
            raise ParamsError(f"params.yaml: {key} must be one of {', '.join(allowed)}, got {value!r}")
        return value
    return check


def _method_rules() -> dict[str, Callable[[str, Any], Any]]:
    """A rule per key of every method's section, from the schema its module declares."""
    def rule(spec: MethodSpec) -> Callable[[str, Any], Any]:
        def check(key: str, value: Any) -> Any:
            try:
                return spec.check_value(key, value)
            except ValueError as error:
                raise ParamsError(f"params.yaml: {error}") from None
        return check
    return {f"distill.{name}.{field}": rule(spec) for name, spec in METHODS.items() for field in spec.params.model_fields}


def _training_rules(section: str) -> dict[str, Callable[[str, Any], Any]]:
    return {
        f"{section}.optimizer": _choice("adam", "adadelta"),
        f"{section}.early_stopping": _boolean,
        f"{section}.epochs": POSITIVE_INT,
        f"{section}.batch_size": POSITIVE_INT,
        f"{section}.learning_rate": POSITIVE_FLOAT,
        f"{section}.patience": POSITIVE_INT,
        f"{section}.dropout": FRACTION,
        # plateau: halve the rate when val stalls (the earlier recipe); cosine: warm-up, then one cosine cycle over `epochs`
        f"{section}.schedule": _choice("plateau", "cosine"),
        f"{section}.warmup_epochs": NON_NEGATIVE_FLOAT,
        f"{section}.steps_per_execution": POSITIVE_INT,
        # at least this many optimizer steps: epochs rise on small data (distillation.training.budgeted)
        f"{section}.min_steps": _number(int, 0),
        f"{section}.precision": _choice(*PRECISIONS),
    }


TRAINING_SECTIONS = ("teacher", "baseline", "distill")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # distillation.precision says what each does
RULES: dict[str, Callable[[str, Any], Any]] = {
    "seed": _number(int, 0),
    "replicate": _number(int, 0),
    "data.source": _text,
    "data.val_fraction": _number(float, 0, 0.5, low_open=True),
    "data.split_replicate": _number(int, 0),
    "data.synthetic.train_per_class": POSITIVE_INT,
    "data.synthetic.test_per_class": POSITIVE_INT,
    "data.emnist.path": _text,
    "data.emnist.url": _text,
    "data.emnist.member": _text,
    "data.emnist.sha256": _sha256,
    "data.emnist.bytes": POSITIVE_INT,
    "data.emnist_byclass.path": _text,
    "data.emnist_byclass.url": _text,
    "data.emnist_byclass.member": _text,
    "data.emnist_byclass.letters_sha256": _sha256,
    # Stored views of the training images (distillation/views.py). The bounds keep a letter itself:
    # a quarter turn, a strong shear or a large elastic displacement makes another letter of it.
    "augment.views": _number(int, 0, 64),
    "augment.rotation_degrees": _number(float, 0, 30),
    "augment.scale": _number(float, 0, 0.3),
    "augment.shear": _number(float, 0, 0.5),
    "augment.shift_pixels": _number(float, 0, 6),
    "augment.elastic_alpha": _number(float, 0, 4),
    "augment.elastic_sigma": POSITIVE_FLOAT,
    **_training_rules("teacher"),
    "teacher.replicate": _number(int, 0),
    "teacher.ensemble": POSITIVE_INT,  # N teachers; students learn from their mean logits (distillation.ensemble)
    **_training_rules("baseline"),
    "baseline.hidden_units": POSITIVE_INT,
    **_training_rules("distill"),
    "distill.method": _text,  # checked against the registry of methods, in validate()
    # Shared by the methods that declare them (MethodSpec.shared_params): one knob, one meaning.
    "distill.temp": POSITIVE_FLOAT,
    "distill.lambda": NON_NEGATIVE_FLOAT,
    # One section per method (distill.<method>), its rules declared in the method's module:
    **_method_rules(),
}
# Keys of earlier versions → their keys now: each method's temperature and λ became the shared
# distill.temp / distill.lambda, and T² scaling is KD's own.
MOVED = {
    **{f"distill.{name}.{key}": f"distill.{key}" for name, spec in METHODS.items() for key in spec.shared_params},
    "distill.t2_scale": "distill.kd.t2_scale",
}


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``: the dotted keys that ``dvc exp run -S`` takes."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten`."""
    tree: dict[str, Any] = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return tree


def validate(raw: dict[str, Any]) -> dict[str, Any]:
    """Check every key of the whole params tree; return it with values converted."""
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml: expected a mapping of sections at the top level")
    flat = flatten(raw)
    for key in flat:
        if key in MOVED:
            raise ParamsError(f"params.yaml: '{key}' is now '{MOVED[key]}'")
        if key not in RULES:
            nearest = difflib.get_close_matches(key, RULES, n=1)
            hint = f"; did you mean '{nearest[0]}'?" if nearest else ""
            raise ParamsError(f"params.yaml: unknown key '{key}'{hint}")
    missing = [key for key in RULES if key not in flat]
    if missing:
        raise ParamsError(f"params.yaml: missing key '{missing[0]}'")
    checked = {key: RULES[key](key, value) for key, value in flat.items()}
    for section in TRAINING_SECTIONS:
        warmup, epochs = checked[f"{section}.warmup_epochs"], checked[f"{section}.epochs"]
        if checked[f"{section}.schedule"] == "cosine" and warmup >= epochs:
            raise ParamsError(f"params.yaml: {section}.warmup_epochs must be less than {section}.epochs ({epochs}) "
                              f"under schedule: cosine, got {warmup:g}")
    if checked["distill.method"] not in METHODS:
        raise ParamsError(f"params.yaml: distill.method must be one of {', '.join(METHODS)}, got {checked['distill.method']!r}")
    return unflatten(checked)


def read_yaml(path: str | Path, missing_hint: str = "") -> Any:
    """The YAML content of ``path``; a missing or malformed file is one line naming it."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found{missing_hint}") from None
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None


# A method's knobs added after runs were recorded (distillation.mixup): switched off, a run is the
# run of before they existed, so neither its setting's name nor its identity
# (distillation.experiments) holds them.
LATER_KNOBS = ("mixup",)


def setting_label(settings: dict[str, Any]) -> str:
    """A method's own params as one stable string, e.g. ``lambda=0.5, t2_scale=False, temp=10``."""
    shown = {key: value for key, value in settings.items() if key not in LATER_KNOBS or value}
    return ", ".join(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}" for key, value in sorted(shown.items()))


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Load and validate the whole of ``params.yaml``."""
    return validate(read_yaml(path, " (run stages from the project root)"))
