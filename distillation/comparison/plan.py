"""The comparison's runs: the selection runs, the choice on val, and the reported runs."""
from __future__ import annotations

from typing import Any

import pandas as pd

from distillation.comparison.config import ComparisonConfig, grid_points, sub_grids
from distillation.config.grids import grid_product
from distillation.config.identity import ENSEMBLE_KEY, METHOD_KEY, REPLICATE_KEY, TEACHER_REPLICATE_KEY, VIEWS_KEY, in_setting, normalise, reads_teacher, run_identity, run_settings
from distillation.config.params import Params


BASELINE = "baseline"


def recipe_label(method: str, point: dict[str, Any]) -> str:
    """The grid keys of ``point`` that are not the method's own settings (e.g. ``augment.views=8, distill.epochs=120``)."""
    return ", ".join(f"{key}={point[key]}" for key in sorted(point) if not in_setting(key))


def planned_run(params: Params, point: dict[str, Any], replicate: int, teacher: int, phase: str,
                grid_point: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run of the comparison: its ``-S`` overrides and what identifies its result.

    ``grid_point``: the part of ``point`` that the method's grid set (its ``recipe`` names the
    knobs of it that are not the method's own settings).
    """
    overrides = {**point, REPLICATE_KEY: replicate, TEACHER_REPLICATE_KEY: teacher}
    flat = normalise({**params.flat(), **overrides})
    method = point[METHOD_KEY]
    return {
        "phase": phase,
        "method": method,
        "setting": run_settings(flat).label(),
        "recipe": recipe_label(method, grid_point or {}),
        "views": flat[VIEWS_KEY],
        "baseline_setting": ", ".join(f"{key}={flat[key]}" for key in sorted(flat) if key.startswith("baseline.")),
        "identity": run_identity(flat),
        "replicate": replicate,
        "teacher_replicate": teacher if reads_teacher(method) else None,
        "overrides": overrides,
    }


def selection_runs(config: ComparisonConfig, params: Params, common: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grid point at every selection replicate, with the first teacher.

    The baseline's grid (``baseline:``) costs no run of its own: every experiment trains a
    baseline beside its student, and no student reads the baseline's recipe, so each baseline
    point other than params.yaml's rides on one method run per selection replicate.
    """
    points = [point for method, grid in config.grids.items() for point in grid_points(method, grid)]
    # Two parts of a grid may name one run in two ways (a knob set to its value in params.yaml,
    # or left out): it is run once, as the first part names it.
    identities = [run_identity({**params.flat(), **common, **point}) for point in points]
    points = [point for index, point in enumerate(points) if identities[index] not in identities[:index]]
    default = normalise({**params.flat(), **common})
    extra = [point for point in config.baseline_points() if any(default[key] != value for key, value in point.items())]
    if len(extra) > len(points):
        raise ValueError(f"{len(extra)} baseline recipes to choose from but only {len(points)} method runs to carry them")
    carried = [{**baseline} for baseline in extra] + [{}] * (len(points) - len(extra))
    return [planned_run(params, {**common, **point, **baseline}, replicate, 0, "selection", point)
            for point, baseline in zip(points, carried) for replicate in config.selection_replicates]


def teacher_spacing(config: ComparisonConfig, params: Params) -> int:
    """The largest ensemble (``teacher.ensemble``) any run of ``config`` asks for: 1 without ensembles.

    Teacher ``t`` of the comparison is ``teacher.replicate`` t × this, so that T ensembles of N
    share no member, and a one-teacher run's teacher is the first member of the ensemble ``t``.
    """
    sizes = [params.teacher.ensemble]
    grids = [part for grid in config.grids.values() for part in sub_grids(grid)]
    for values in [config.params.get(ENSEMBLE_KEY)] + [part.get(ENSEMBLE_KEY) for part in grids]:
        sizes += values if isinstance(values, list) else [values] if values is not None else []
    return max(int(size) for size in sizes)


def reported_runs(config: ComparisonConfig, params: Params, common: dict[str, Any],
                  chosen: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The chosen settings over replicates 0..R−1, and teachers 0..T−1 where the method reads one
    (``teacher.replicate`` t × :func:`teacher_spacing`).

    Listed method by method and, within one, replicate after replicate, so the runs that go at
    once train different baselines and later ones restore them from the run-cache.
    """
    runs = []
    spacing = teacher_spacing(config, params)
    for method, choice in chosen.items():
        teachers = [index * spacing for index in range(config.teachers)] if reads_teacher(method) else [0]
        for teacher in teachers:
            runs += [planned_run(params, {**common, **choice["point"]}, replicate, teacher, "reported", choice["point"])
                     for replicate in range(config.replicates)]
    return runs


def find_run(table: pd.DataFrame, run: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment of ``table`` that is ``run`` (same identity, replicate and teacher), if any."""
    if table.empty:
        return None
    same = table[(table["identity"] == run["identity"]) & (table["replicate"] == run["replicate"])]
    if run["teacher_replicate"] is not None:
        same = same[same["teacher_replicate"] == run["teacher_replicate"]]
    return None if same.empty else same.iloc[-1].to_dict()


def choice_label(setting: str, recipe: Any) -> str:
    """A grid point's name: the method's setting, then the recipe knobs its grid searched (if any)."""
    recipe = recipe if isinstance(recipe, str) else ""
    return f"{setting}; {recipe}" if setting and recipe else setting or recipe


def choose_settings(selection: pd.DataFrame) -> dict[str, str]:
    """Per method, the grid point with the highest mean student **val** accuracy over its selection runs."""
    chosen = {}
    recipes = selection["recipe"] if "recipe" in selection else pd.Series("", index=selection.index)
    labelled = selection.assign(choice=[choice_label(setting, recipe) for setting, recipe in zip(selection["setting"], recipes)])
    means = labelled.groupby(["method", "choice"], as_index=False)["student_val"].mean()
    for method, rows in means.groupby("method"):
        # Ties go to the point that sorts first, so the choice never depends on run order.
        chosen[method] = rows.sort_values(["student_val", "choice"], ascending=[False, True]).iloc[0]["choice"]
    return chosen


def choose_baseline(selection: pd.DataFrame, points: list[dict[str, Any]]) -> str | None:
    """The baseline recipe (``baseline_setting``) among ``points`` (the config's ``baseline`` grid) with
    the highest mean baseline **val** accuracy over the selection replicates; ``None`` without a grid."""
    if not points or "baseline_setting" not in selection:
        return None
    # One baseline per (recipe, replicate): every run of a replicate with that recipe trained the same one.
    runs = selection.drop_duplicates(["baseline_setting", "replicate"])
    candidates = runs[runs["baseline_setting"].map(lambda label: isinstance(label, str) and on_grid(label, points))]
    means = candidates.groupby("baseline_setting", as_index=False)["baseline_val"].mean()
    if means.empty:
        raise ValueError("no selection run trained a baseline of the baseline grid")
    return means.sort_values(["baseline_val", "baseline_setting"], ascending=[False, True]).iloc[0]["baseline_setting"]


def knobs(label: str) -> dict[str, str]:
    """A setting or recipe label (``key=value, key=value``) as its knobs."""
    return dict(part.split("=", 1) for part in label.split(", ") if "=" in part)


def baseline_matches(label: str, point: dict[str, Any]) -> bool:
    """Whether a run's ``baseline_setting`` label trained the baseline recipe ``point``."""
    values = knobs(label)
    return all(values.get(key) == str(value) for key, value in point.items())


def on_grid(label: str, points: list[dict[str, Any]]) -> bool:
    return any(baseline_matches(label, point) for point in points)


def grid_edges(grid: dict[str, Any] | list[dict[str, Any]], point: dict[str, Any]) -> list[str]:
    """The searched numbers of ``point`` (a chosen grid point) that are the smallest or largest its
    grid tried: there the best may lie beyond the grid. A knob with one value was fixed, not searched."""
    edges = []
    for key in sorted(point):
        tried = sorted({value for part in sub_grids(grid) for combination in grid_product({key: part[key]} if key in part else {})
                        for value in combination.values() if isinstance(value, (int, float)) and not isinstance(value, bool)})
        if len(tried) < 2 or point[key] not in tried:
            continue
        if point[key] in (tried[0], tried[-1]):
            edges.append(f"{key}={point[key]} (the {'largest' if point[key] == tried[-1] else 'smallest'} tried)")
    return edges
