"""``comparison.yaml``: what is compared, over how many seeds and teachers, on which grids.

:func:`load_comparison` fills in the defaults and checks every grid point as the run will see its
params file; the grids' points come from :func:`distillation.config.grids.grid_product`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from distillation.config.grids import grid_product
from distillation.config.identity import METHOD_KEY, PAIRING_KEYS
from distillation.config.params import Params, ParamsError, read_yaml
from distillation.methods import METHODS


# A step between two selection runs has a noise sd of 0.17–0.27 points on the real letters: one
# seed's choice is a coin toss between points closer than that, so the choice averages at least 3.
DEFAULT_SELECTION_REPLICATES = (100, 101, 102)
LEAST_SELECTION_REPLICATES = 3
# The baseline's architecture is the student's: only its training recipe may be searched.
BASELINE_UNTUNABLE = ("baseline.hidden_units",)
Grid = dict[str, Any] | list[dict[str, Any]]  # param → value(s), or a list of such parts


def _integer(value: Any, key: str, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{key} must be an integer ≥ {least}{' (a spread needs two)' if least == 2 else ''}, got {value!r}")
    return value


class ComparisonConfig(BaseModel):
    """``comparison.yaml``, its defaults filled in: every compared method with its grid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""  # names the record: lower-case letters, digits and '-'
    replicates: int  # MLP seeds 0..R−1 of the reported runs
    teachers: int = 1  # teachers 0..T−1 for the methods that read one
    selection_replicates: list[int] = list(DEFAULT_SELECTION_REPLICATES)  # the seeds the choice is made on
    params: dict[str, Any] = {}  # dotted keys outside distill → a value, or a list: one comparison each
    grids: dict[str, Grid]  # method → its grid
    baseline: dict[str, Any] = {}  # baseline.<knob> → values: the MLP alone's recipe, chosen on val

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not isinstance(raw.get("grids", {}) or {}, dict):
            raise ValueError("expected a mapping with 'replicates' and optionally 'methods' and a 'grids' "
                             "mapping of method → {param: [values]}")
        known = (*cls.model_fields, "methods")
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"unknown key '{unknown[0]}' ({', '.join(known)})")
        overrides = raw.get("grids") or {}
        for method in overrides:
            if method not in METHODS:
                raise ValueError(f"grids.{method}: not a method ({', '.join(METHODS)})")
        methods = raw.get("methods", list(overrides) or list(METHODS))
        if not isinstance(methods, list) or not methods or any(method not in METHODS for method in methods):
            raise ValueError(f"methods must be a list of methods ({', '.join(METHODS)}), got {methods!r}")
        outside = [method for method in overrides if method not in methods]
        if outside:
            raise ValueError(f"grids.{outside[0]}: not among the methods compared ({', '.join(methods)})")
        for method, grid in overrides.items():
            if not all(isinstance(part, dict) for part in sub_grids(grid)):
                raise ValueError(f"grids.{method}: expected a mapping of param → [values] or a list of such mappings, got {grid!r}")
        grids = {method: (overrides[method] if isinstance(overrides[method], list) else dict(overrides[method] or {}))
                 if method in overrides else dict(METHODS[method].grid) for method in methods}
        return {**{key: value for key, value in raw.items() if key != "methods"}, "grids": grids,
                "params": raw.get("params") or {}, "baseline": raw.get("baseline") or {}}

    @field_validator("name")
    @classmethod
    def _name(cls, name: Any) -> str:
        if not re.fullmatch(r"[a-z0-9-]*", name):
            raise ValueError(f"name must be lower-case letters, digits and '-' (it names the record), got {name!r}")
        return name

    @field_validator("replicates", mode="before")
    @classmethod
    def _replicates(cls, value: Any) -> int:
        return _integer(value, "replicates", 2)

    @field_validator("teachers", mode="before")
    @classmethod
    def _teachers(cls, value: Any) -> int:
        return _integer(value, "teachers", 1)

    @field_validator("selection_replicates", mode="before")
    @classmethod
    def _selection(cls, value: Any) -> list[int]:
        if (not isinstance(value, list) or not value
                or not all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value)):
            raise ValueError(f"selection_replicates must be a list of integers ≥ 0, got {value!r}")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _fixed(cls, fixed: Any) -> dict[str, Any]:
        if not isinstance(fixed, dict) or any(key.split(".")[0] == "distill" or key in PAIRING_KEYS for key in fixed):
            raise ValueError(f"params must map dotted params.yaml keys outside distill (and the pairing keys) "
                             f"to a value or a list of values, got {fixed!r}")
        return fixed

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline(cls, baseline: Any) -> dict[str, Any]:
        if not isinstance(baseline, dict) or any(not str(key).startswith("baseline.") or key in BASELINE_UNTUNABLE for key in baseline):
            raise ValueError(f"baseline must map baseline.<knob> keys to lists of values (not "
                             f"{', '.join(BASELINE_UNTUNABLE)}: the student shares it), got {baseline!r}")
        return baseline

    @model_validator(mode="after")
    def _consistent(self) -> ComparisonConfig:
        reused = sorted(set(self.selection_replicates) & set(range(self.replicates)))
        if reused:
            raise ValueError(f"selection_replicates must not be among the reported replicates 0..{self.replicates - 1}, "
                             f"got {reused[0]} (a selection run would be reported)")
        clash = sorted(set(self.baseline) & set(self.params))
        if clash:
            raise ValueError(f"baseline.{clash[0].split('.', 1)[1]}: both fixed under params and searched under baseline")
        for method, grid in self.grids.items():
            clash = sorted({key for part in sub_grids(grid) for key in part} & set(self.params))
            if clash:
                raise ValueError(f"grids.{method}: {clash[0]} is both fixed under params and searched in the grid")
        return self

    def fixed_combinations(self) -> list[dict[str, Any]]:
        """One ``{dotted.key: value}`` per comparison that ``params`` asks for (lists: each value)."""
        return grid_product(self.params)

    def baseline_points(self) -> list[dict[str, Any]]:
        """Every combination of the ``baseline`` grid (``[]`` without one: params.yaml's recipe)."""
        return grid_product(self.baseline) if self.baseline else []


def load_comparison(path: str | Path, params: Params) -> ComparisonConfig:
    """``comparison.yaml`` with its defaults filled in, every grid point checked as the run will see its params.

    ``methods`` lists what is compared; ``grids`` maps a method to its grid where it is not the
    one its module declares (``METHOD.grid``): a mapping of keys to values, or a list of such
    mappings, whose points together are the grid (a lever tried at one recipe only, beside the
    full product of the others). Without ``methods``: the methods of ``grids`` if
    given (as in earlier files), else every registered method, so a new method joins the
    comparison by its module alone. Errors are one line naming the file and the key.
    """
    try:
        config = ComparisonConfig.model_validate(read_yaml(path))
    except ValidationError as error:
        raise ValueError(f"{path}: {error.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    checks = ([("params", point) for point in config.fixed_combinations()]
              + [("baseline", point) for point in config.baseline_points()]
              + [(f"grids.{method}", point) for method, grid in config.grids.items() for point in grid_points(method, grid)])
    # Checked here, where a comparison is planned, not in the model: the records made with one
    # selection seed (before this rule) still load and report what they did.
    if len(set(config.selection_replicates)) < LEAST_SELECTION_REPLICATES:
        raise ValueError(f"{path}: selection_replicates must list at least {LEAST_SELECTION_REPLICATES} different "
                         f"seeds (the choice is made on their mean val accuracy), got {config.selection_replicates!r}")
    for where, point in checks:
        try:  # every point must be a valid params file, exactly as the run will see it
            params.with_overrides(point)
        except ParamsError as error:
            raise ValueError(f"{path}: {where}: {error}") from None
    return config


def sub_grids(grid: dict[str, list] | list[dict[str, list]] | None) -> list[dict[str, list]]:
    """A grid as the list of mappings whose products it joins (one mapping: a grid of one part)."""
    return [part or {} for part in grid] if isinstance(grid, list) else [grid or {}]


def grid_points(method: str, grid: dict[str, list] | list[dict[str, list]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values as ``{dotted.key: value}``, method included; a grid
    of several parts gives each part's combinations in turn, each point once."""
    points: list[dict[str, Any]] = []
    for part in sub_grids(grid):
        points += [point for combination in grid_product(part) if (point := {METHOD_KEY: method, **combination}) not in points]
    return points
