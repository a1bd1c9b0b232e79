"""``comparison.yaml``: what is compared, over how many seeds and teachers, on which grids.

:func:`load_comparison` fills in the defaults and checks every grid point as the run will see its
params file; the grids' points come from :func:`distillation.config.grids.grid_product`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from distillation.config.grids import grid_product
from distillation.config.identity import METHOD_KEY
from distillation.config.params import Params, ParamsError, read_yaml
from distillation.methods import METHODS


DEFAULT_SELECTION_REPLICATES = (100,)


# The baseline's architecture is the student's: only its training recipe may be searched.
BASELINE_UNTUNABLE = ("baseline.hidden_units",)


def load_comparison(path: str | Path, params: Params) -> dict[str, Any]:
    """``comparison.yaml`` with its defaults filled in, every grid point checked against the params rules.

    ``methods`` lists what is compared; ``grids`` maps a method to its grid where it is not the
    one its module declares (``METHOD.grid``): a mapping of keys to values, or a list of such
    mappings, whose points together are the grid (a lever tried at one recipe only, beside the
    full product of the others). Without ``methods``: the methods of ``grids`` if
    given (as in earlier files), else every registered method, so a new method joins the
    comparison by its module alone.
    """
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict) or not isinstance(config.get("grids", {}), dict):
        raise ValueError(f"{path}: expected a mapping with 'replicates' and optionally 'methods' and a 'grids' "
                         f"mapping of method → {{param: [values]}}")
    unknown = sorted(set(config) - {"name", "replicates", "teachers", "selection_replicates", "params", "methods", "grids", "baseline"})
    if unknown:
        raise ValueError(f"{path}: unknown key '{unknown[0]}' (name, replicates, teachers, selection_replicates, params, "
                         f"methods, grids, baseline)")
    name = config.setdefault("name", "")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9-]*", name):
        raise ValueError(f"{path}: name must be lower-case letters, digits and '-' (it names the record), got {name!r}")
    overrides = config.get("grids") or {}
    for method in overrides:
        if method not in METHODS:
            raise ValueError(f"{path}: grids.{method}: not a method ({', '.join(METHODS)})")
    methods = config.get("methods", list(overrides) or list(METHODS))
    if not isinstance(methods, list) or not methods or any(method not in METHODS for method in methods):
        raise ValueError(f"{path}: methods must be a list of methods ({', '.join(METHODS)}), got {methods!r}")
    outside = [method for method in overrides if method not in methods]
    if outside:
        raise ValueError(f"{path}: grids.{outside[0]}: not among the methods compared ({', '.join(methods)})")
    for method, grid in overrides.items():
        if not all(isinstance(part, dict) for part in sub_grids(grid)):
            raise ValueError(f"{path}: grids.{method}: expected a mapping of param → [values] or a list of such mappings, got {grid!r}")
    config["grids"] = {method: (overrides[method] if isinstance(overrides[method], list) else dict(overrides[method] or {}))
                       if method in overrides else dict(METHODS[method].grid) for method in methods}
    config.pop("methods", None)
    fixed = config.setdefault("params", {})
    if not isinstance(fixed, dict) or any(key.split(".")[0] in ("distill", "replicate") or key == "teacher.replicate" for key in fixed):
        raise ValueError(f"{path}: params must map dotted params.yaml keys outside distill (and the pairing keys) "
                         f"to a value or a list of values, got {fixed!r}")
    replicates = config.get("replicates")
    if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 2:
        raise ValueError(f"{path}: replicates must be an integer ≥ 2 (a spread needs two), got {replicates!r}")
    teachers = config.setdefault("teachers", 1)
    if not isinstance(teachers, int) or isinstance(teachers, bool) or teachers < 1:
        raise ValueError(f"{path}: teachers must be an integer ≥ 1, got {teachers!r}")
    selection = config.setdefault("selection_replicates", list(DEFAULT_SELECTION_REPLICATES))
    if (not isinstance(selection, list) or not selection
            or not all(isinstance(value, int) and not isinstance(value, bool) and value >= 0 for value in selection)):
        raise ValueError(f"{path}: selection_replicates must be a list of integers ≥ 0, got {selection!r}")
    reused = sorted(set(selection) & set(range(replicates)))
    if reused:
        raise ValueError(f"{path}: selection_replicates must not be among the reported replicates 0..{replicates - 1}, "
                         f"got {reused[0]} (a selection run would be reported)")
    for combination in fixed_combinations(config):
        try:
            params.with_overrides(combination)
        except ParamsError as error:
            raise ValueError(f"{path}: params: {error}") from None
    baseline = config.setdefault("baseline", {}) or {}
    config["baseline"] = baseline
    if not isinstance(baseline, dict) or any(not str(key).startswith("baseline.") or key in BASELINE_UNTUNABLE for key in baseline):
        raise ValueError(f"{path}: baseline must map baseline.<knob> keys to lists of values (not "
                         f"{', '.join(BASELINE_UNTUNABLE)}: the student shares it), got {baseline!r}")
    clash = sorted(set(baseline) & set(fixed))
    if clash:
        raise ValueError(f"{path}: baseline.{clash[0].split('.', 1)[1]}: both fixed under params and searched under baseline")
    for point in baseline_points(config):
        try:
            params.with_overrides(point)
        except ParamsError as error:
            raise ValueError(f"{path}: baseline: {error}") from None
    for method, grid in config["grids"].items():
        clash = sorted({key for part in sub_grids(grid) for key in part} & set(fixed))
        if clash:
            raise ValueError(f"{path}: grids.{method}: {clash[0]} is both fixed under params and searched in the grid")
        for point in grid_points(method, grid or {}):
            try:  # every point must be a valid params file, exactly as the run will see it
                params.with_overrides(point)
            except ParamsError as error:
                raise ValueError(f"{path}: grids.{method}: {error}") from None
    return config


def fixed_combinations(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``{dotted.key: value}`` per comparison that the config's ``params`` asks for (lists: each value)."""
    return grid_product(config.get("params"))


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


def baseline_points(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the config's ``baseline`` grid (``[]`` without one: params.yaml's recipe)."""
    return grid_product(config["baseline"]) if config.get("baseline") else []
