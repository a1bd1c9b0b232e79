"""A comparison's chosen settings in words a person would write: "KD, T = 5, λ = 0.1 · 16 views · 120 epochs".

The cell shows what the comparison's grid held for the method (searched or pinned at one value);
what the grid left at params.yaml's value goes to one note under the table.
"""
from __future__ import annotations

from typing import Any

from distillation.comparison.config import sub_grids
from distillation.comparison.records import Record

METHOD_NAMES = {"kd": "KD", "dkd": "DKD", "fitnets": "FitNets", "dml": "DML", "hard_labels": "labels only",
                "label_smoothing": "label smoothing", "teacher_free": "teacher-free KD"}
# A key of a method's setting (its section's name, or a shared knob's) → how its value reads.
SETTING_WORDS = {
    "temp": "T = {}", "lambda": "λ = {}", "alpha": "α = {}", "beta": "β = {}", "epsilon": "ε = {}",
    "warmup_epochs": "{} warm-up epochs", "correct_probability": "p(correct) = {}", "peers": "{} peers",
    "hint_weight": "hint weight {}", "hint_components": "{} hint directions", "mixup": "mixup α = {}",
}
FLAG_WORDS = {"t2_scale": ("T² scaling", "no T² scaling"), "cnn_peer": ("a CNN peer", "no CNN peer")}
RECIPE_WORDS = {"augment.views": "{} views", "distill.epochs": "{} epochs", "baseline.epochs": "{} epochs"}


def _pairs(text: str) -> list[tuple[str, str]]:
    """``"a=1, b=x"`` → ``[("a", "1"), ("b", "x")]``, in the order :data:`SETTING_WORDS` reads (T before λ)."""
    order = list(SETTING_WORDS)
    pairs = [tuple(part.split("=", 1)) for part in text.split(", ") if "=" in part]
    return sorted(pairs, key=lambda pair: order.index(pair[0]) if pair[0] in order else len(order))


def _template(key: str) -> str:
    name = key.rsplit(".", 1)[-1]
    return RECIPE_WORDS.get(key) or SETTING_WORDS.get(name, name.replace("_", " ") + " {}")


def _words(key: str, value: str) -> str:
    name = key.rsplit(".", 1)[-1]
    if name in FLAG_WORDS:
        return FLAG_WORDS[name][0 if value == "True" else 1]
    return _template(key).format(value)


def _symbol(key: str) -> str:
    """What a key is called in a sentence: ``T``, ``λ``, ``views``, ``hint weight``."""
    return _template(key).replace(" = {}", "").replace("{}", "").strip()


def _dotted(method: str, key: str) -> str:
    return key if "." in key else (f"distill.{key}" if key in ("temp", "lambda") else f"distill.{method}.{key}")


def _grid_keys(record: Record, method: str) -> set[str]:
    grid = record.config.grids.get(method, {})
    return {key for part in sub_grids(grid) for key in part}


def _setting_pairs(setting: str) -> list[tuple[str, str]]:
    """A method's settings worth a word: mixup off, as shipped, says nothing."""
    return [(key, value) for key, value in _pairs(setting) if not (key == "mixup" and float(value) == 0)]


def _recipe_words(recipe: str) -> list[str]:
    """The recipe knobs (``augment.views=16, distill.epochs=120``) as words (``16 views``, ``120 epochs``)."""
    return [_words(key, value) for key, value in _pairs(recipe)]


def _cell(method: str, setting_words: list[str], recipe_words: list[str]) -> str:
    return " · ".join([", ".join([METHOD_NAMES.get(method, method), *setting_words]), *recipe_words])


def setting_in_words(record: Record, method: str, setting: str, recipe: Any) -> tuple[str, list[str]]:
    """The method's cell ("KD, T = 5, λ = 0.1 · 16 views · 120 epochs") and its settings the grid left as shipped."""
    searched = _grid_keys(record, method)
    shown, fixed = [], []
    for key, value in _setting_pairs(setting):
        (shown if _dotted(method, key) in searched else fixed).append(_words(key, value))
    return _cell(method, shown, _recipe_words(recipe if isinstance(recipe, str) else "")), fixed


def baseline_in_words(setting: str) -> str:
    """The MLP alone's searched recipe (``baseline.epochs=40``) in words (``40 epochs``)."""
    return " · ".join(_recipe_words(setting))


def searched_note(record: Record) -> str:
    """Per method (and the MLP alone), the knobs chosen on val and the values tried; a knob given one
    value was fixed by the comparison."""
    grids = {METHOD_NAMES.get(method, method): grid for method, grid in record.config.grids.items()}
    grids["MLP alone"] = record.config.baseline
    searched: dict[str, list[str]] = {}  # what was searched → the grids that searched it
    for name, grid in grids.items():
        tried: dict[str, set] = {}
        for part in sub_grids(grid):
            for key, values in part.items():
                tried.setdefault(key, set()).update(values if isinstance(values, list) else [values])
        several = "; ".join(f"{_symbol(key)} from {', '.join(str(value) for value in sorted(values))}"
                            for key, values in tried.items() if len(values) > 1)
        if several:
            searched.setdefault(several, []).append(name)
    if not searched:
        return ""
    parts = [f"{' and '.join([', '.join(names[:-1]), names[-1]] if len(names) > 1 else names)}: {knobs}"
             for knobs, names in searched.items()]
    return "Chosen on val — " + ". ".join(parts) + ". Every other value in a cell was fixed by the comparison."


def label_in_words(method: str, label: str) -> str:
    """A run's setting label as a study shows it (``"lambda=0.1, temp=5; augment.views=16"``), in words, every value shown."""
    parts = [part for part in label.split("; ") if part]
    setting = next((part for part in parts if "." not in part.split("=")[0]), "")
    recipe = [word for part in parts if part != setting for word in _recipe_words(part)]
    return _cell(method, [_words(key, value) for key, value in _setting_pairs(setting)], recipe)
