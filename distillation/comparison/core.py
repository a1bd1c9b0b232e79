"""The method comparison's protocol and statistics (``make compare``; rendered by ``make report``).

1. **Selection.** Each method's grid (``comparison.yaml``; its own settings and, where the grid
   says so, recipe knobs such as ``distill.epochs`` and ``augment.views``) runs with the first
   teacher at the ``selection_replicates`` MLP seeds; the point with the highest mean student
   **val** accuracy is chosen (:func:`choose_settings`), and the baseline's recipe likewise on its
   own val where the config gives it a grid (:func:`choose_baseline`). Those seeds are never among
   the reported ones, so the run that won the choice is never reported (no winner's curse).
2. **Reported runs.** The chosen points run afresh over MLP replicates 0..R−1 and, for the
   methods that read the teacher, over teachers 0..T−1 (``teacher.replicate``); every experiment
   trains the baseline (at its chosen recipe) with the same MLP seed.
3. **Statistics** (:func:`summarise`): per method, test mean ± std; each method's gain over the
   baseline and its difference to the best control (the control with the higher mean val
   accuracy), with the **MLP seed as the unit** (:func:`paired_difference`: each side averaged
   over its teachers within a seed, then paired by seed), ``scipy.stats.ttest_rel`` p-values and
   95 % intervals. The family of all these comparisons is adjusted with Benjamini–Hochberg
   (:func:`scipy.stats.false_discovery_control`); the verdict follows the adjusted p-value, and
   the adjusted interval is Benjamini–Yekutieli's false-coverage-rate interval (level 1 − R·α/m
   for R of m comparisons declared). :mod:`distillation.comparison.calibration` shows the test holds its
   level; :func:`mixed_model_check` is a crossed mixed model beside it.

The comparison writes what it chose and which runs it used to a **record**
(``reports/comparison-<source>.json``); the reports are made from records only, so ``make
report`` shows exactly the comparison's runs whatever other experiments the repository holds.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.atomic import atomic_output
from distillation.config.identity import ENSEMBLE_KEY, METHOD_KEY, VIEWS_KEY, in_setting, normalise, reads_teacher, run_identity, run_settings
from distillation.config.grids import grid_product
from distillation.config.params import Params, ParamsError, read_yaml
from distillation.experiments.table import source_label
from distillation.methods import CONTROLS, METHODS
from distillation.data.views import views_seen

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
DEFAULT_SELECTION_REPLICATES = (100,)
BASELINE = "baseline"
# The baseline's architecture is the student's: only its training recipe may be searched.
BASELINE_UNTUNABLE = ("baseline.hidden_units",)
RECORD_FIELDS = (
    "experiment", "rev", "identity", "method", "setting", "recipe", "views", "baseline_setting", "replicate", "teacher_replicate", "teacher", "teacher_val",
    "baseline", "baseline_val", "student", "student_val", "student_epochs", "student_best_epoch",
    "student_train_images_per_second", "student_train_seconds", "epoch_cap", "teacher_on_views", "machine",
    "teachers", "ensemble", "ensemble_val",
)


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


def recipe_label(method: str, point: dict[str, Any]) -> str:
    """The grid keys of ``point`` that are not the method's own settings (e.g. ``augment.views=8, distill.epochs=120``)."""
    return ", ".join(f"{key}={point[key]}" for key in sorted(point) if not in_setting(key))


def planned_run(params: Params, point: dict[str, Any], replicate: int, teacher: int, phase: str,
                grid_point: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run of the comparison: its ``-S`` overrides and what identifies its result.

    ``grid_point``: the part of ``point`` that the method's grid set (its ``recipe`` names the
    knobs of it that are not the method's own settings).
    """
    overrides = {**point, "replicate": replicate, "teacher.replicate": teacher}
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


def selection_runs(config: dict[str, Any], params: Params, common: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grid point at every selection replicate, with the first teacher.

    The baseline's grid (``baseline:``) costs no run of its own: every experiment trains a
    baseline beside its student, and no student reads the baseline's recipe, so each baseline
    point other than params.yaml's rides on one method run per selection replicate.
    """
    points = [point for method, grid in config["grids"].items() for point in grid_points(method, grid or {})]
    # Two parts of a grid may name one run in two ways (a knob set to its value in params.yaml,
    # or left out): it is run once, as the first part names it.
    identities = [run_identity({**params.flat(), **common, **point}) for point in points]
    points = [point for index, point in enumerate(points) if identities[index] not in identities[:index]]
    default = normalise({**params.flat(), **common})
    extra = [point for point in baseline_points(config) if any(default[key] != value for key, value in point.items())]
    if len(extra) > len(points):
        raise ValueError(f"{len(extra)} baseline recipes to choose from but only {len(points)} method runs to carry them")
    carried = [{**baseline} for baseline in extra] + [{}] * (len(points) - len(extra))
    return [planned_run(params, {**common, **point, **baseline}, replicate, 0, "selection", point)
            for point, baseline in zip(points, carried) for replicate in config["selection_replicates"]]


def teacher_spacing(config: dict[str, Any], params: Params) -> int:
    """The largest ensemble (``teacher.ensemble``) any run of ``config`` asks for: 1 without ensembles.

    Teacher ``t`` of the comparison is ``teacher.replicate`` t × this, so that T ensembles of N
    share no member, and a one-teacher run's teacher is the first member of the ensemble ``t``.
    """
    sizes = [params.teacher.ensemble]
    grids = [part for grid in config["grids"].values() for part in sub_grids(grid)]
    for values in [(config.get("params") or {}).get(ENSEMBLE_KEY)] + [part.get(ENSEMBLE_KEY) for part in grids]:
        sizes += values if isinstance(values, list) else [values] if values is not None else []
    return max(int(size) for size in sizes)


def reported_runs(config: dict[str, Any], params: Params, common: dict[str, Any],
                  chosen: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The chosen settings over replicates 0..R−1, and teachers 0..T−1 where the method reads one
    (``teacher.replicate`` t × :func:`teacher_spacing`).

    Listed method by method and, within one, replicate after replicate, so the runs that go at
    once train different baselines and later ones restore them from the run-cache.
    """
    runs = []
    spacing = teacher_spacing(config, params)
    for method, choice in chosen.items():
        teachers = [index * spacing for index in range(config["teachers"])] if reads_teacher(method) else [0]
        for teacher in teachers:
            runs += [planned_run(params, {**common, **choice["point"]}, replicate, teacher, "reported", choice["point"])
                     for replicate in range(config["replicates"])]
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


def choose_baseline(selection: pd.DataFrame, config: dict[str, Any]) -> str | None:
    """The baseline recipe (``baseline_setting``) of the config's ``baseline`` grid with the highest mean
    baseline **val** accuracy over the selection replicates; ``None`` without a grid."""
    points = baseline_points(config)
    if not points or "baseline_setting" not in selection:
        return None
    # One baseline per (recipe, replicate): every run of a replicate with that recipe trained the same one.
    runs = selection.drop_duplicates(["baseline_setting", "replicate"])
    candidates = runs[runs["baseline_setting"].map(lambda label: isinstance(label, str) and _on_grid(label, points))]
    means = candidates.groupby("baseline_setting", as_index=False)["baseline_val"].mean()
    if means.empty:
        raise ValueError("no selection run trained a baseline of the baseline grid")
    return means.sort_values(["baseline_val", "baseline_setting"], ascending=[False, True]).iloc[0]["baseline_setting"]


def _knobs(label: str) -> dict[str, str]:
    """A setting or recipe label (``key=value, key=value``) as its knobs."""
    return dict(part.split("=", 1) for part in label.split(", ") if "=" in part)


def baseline_matches(label: str, point: dict[str, Any]) -> bool:
    """Whether a run's ``baseline_setting`` label trained the baseline recipe ``point``."""
    values = _knobs(label)
    return all(values.get(key) == str(value) for key, value in point.items())


def _on_grid(label: str, points: list[dict[str, Any]]) -> bool:
    return any(baseline_matches(label, point) for point in points)


def comparison_record(config: dict[str, Any], source: str, chosen: dict[str, dict[str, Any]],
                      selection: list[dict[str, Any]], reported: list[dict[str, Any]],
                      fixed: dict[str, Any] | None = None, complete: bool = True,
                      sittings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the comparison chose and every run it used, with their figures (JSON-ready).

    ``chosen`` maps each method (and ``baseline``, where the config searched its recipe) to its
    ``setting``, ``recipe`` and ``point``. An incomplete record (``complete`` false) holds the
    runs finished so far, so an interrupted comparison resumes from it on any machine; reports
    leave it out. ``sittings``: each ``make compare`` that ran it (its machine, start, wall hours
    up to its last batch, runs it finished), so a study that took several sittings has its time.
    """
    def fields(run: dict[str, Any], phase: str) -> dict[str, Any]:
        row = {field: _plain(run.get(field)) for field in RECORD_FIELDS}
        return {"phase": phase, **row}

    return {
        "source": source,
        "source_label": source_label(source),
        "params": fixed or {},  # what every run of this comparison set, beside data.source
        "config": config,
        "chosen": {method: {"setting": choice["setting"], "recipe": choice.get("recipe", ""), "overrides": choice["point"],
                            "grid_points": len(grid_points(method, config["grids"][method] or {}))}
                   for method, choice in chosen.items() if method != BASELINE},
        "baseline": ({"setting": chosen[BASELINE]["setting"], "overrides": chosen[BASELINE]["point"],
                      "grid_points": len(baseline_points(config))} if BASELINE in chosen else None),
        "complete": complete,
        "sittings": sittings or [],
        "runs": [fields(run, "selection") for run in selection] + [fields(run, "reported") for run in reported],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return value


def record_stem(source: str, fixed: dict[str, Any] | None = None, name: str = "") -> str:
    """``<data>``, the config's ``name`` if any, and for each param the comparison fixed ``-<key>=<value>``."""
    return (Path(source_label(source)).stem + (f"-{name}" if name else "")
            + "".join(f"-{key}={value}" for key, value in sorted((fixed or {}).items())))


def record_path(directory: Path, source: str, fixed: dict[str, Any] | None = None, name: str = "") -> Path:
    return Path(directory) / f"comparison-{record_stem(source, fixed, name)}.json"


def record_name(record: dict[str, Any]) -> str:
    """The stem of a record's files (its chart, its path)."""
    return record_stem(record["source"], record.get("params"), (record.get("config") or {}).get("name", ""))


def save_record(record: dict[str, Any], directory: Path) -> Path:
    path = record_path(directory, record["source"], record.get("params"), (record.get("config") or {}).get("name", ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def load_records(directory: Path) -> list[dict[str, Any]]:
    """Every complete comparison record in ``directory``; each checked to reproduce its own choice."""
    records = []
    for path in sorted(Path(directory).glob("comparison-*.json")):
        try:
            record = json.loads(path.read_text())
            if not record.get("complete", True):
                continue  # a comparison still under way: `make compare` resumes it
            runs = pd.DataFrame(record["runs"])
            chosen = {method: choice_label(choice["setting"], choice.get("recipe", "")) for method, choice in record["chosen"].items()}
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a comparison record ({error})") from None
        selection = runs[runs["phase"] == "selection"]
        again = choose_settings(selection)
        if again != chosen:
            raise ValueError(f"{path}: its selection runs choose {again}, the record says {chosen}")
        if record.get("baseline"):
            baseline = choose_baseline(selection, record["config"])
            if not _on_grid(baseline, [record["baseline"]["overrides"]]):
                raise ValueError(f"{path}: its selection runs choose the baseline {baseline}, the record says "
                                 f"{record['baseline']['setting']}")
        records.append({**record, "path": str(path)})
    return records


def _read_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path`` (None where there is none); one line naming it if it is not one."""
    if not Path(path).is_file():
        return None
    try:
        record = json.loads(Path(path).read_text())
    except ValueError as error:
        raise ValueError(f"{path}: not a comparison record ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list):
        raise ValueError(f"{path}: not a comparison record (no list of runs)")
    return record


def load_sittings(path: Path) -> list[dict[str, Any]]:
    """The sittings of the incomplete record at ``path`` (none where there is no comparison under way)."""
    record = _read_record(path)
    return [] if record is None or record.get("complete", True) else list(record.get("sittings") or [])


def record_complete(path: Path) -> bool:
    """Whether the record at ``path`` exists and holds a finished comparison."""
    record = _read_record(path)
    return record is not None and bool(record.get("complete", True))


def load_progress(path: Path) -> pd.DataFrame:
    """The runs finished so far of an interrupted comparison (its incomplete record at ``path``), as
    a table :func:`find_run` reads; empty where there is none. The record may be of an earlier
    config (a grid since widened): a run is found by its identity, replicate and teacher, so only
    the runs that the comparison still plans are taken. A complete record is no comparison under
    way: its runs are not taken."""
    return _record_runs(path, complete_too=False)


def load_shared_runs(paths: list[Path]) -> pd.DataFrame:
    """The runs of a study's other records (``paths``: complete or under way, absent ones skipped),
    as a table :func:`find_run` reads. A run is found by its identity, replicate and teacher, so
    only a run of the same configuration is taken: one whose method reads none of the params the
    records differ in — hard_labels and the MLP alone beside ``teacher.ensemble`` — run once for
    every record of the study instead of once each."""
    tables = [table for path in paths if not (table := _record_runs(path, complete_too=True)).empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _record_runs(path: Path, complete_too: bool) -> pd.DataFrame:
    record = _read_record(path)
    if record is None or (record.get("complete", True) and not complete_too):
        return pd.DataFrame()
    return pd.DataFrame(record["runs"]).drop(columns=["phase"], errors="ignore")


def paired_difference(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, Any]:
    """``left.accuracy`` − ``right.accuracy`` with the **MLP seed** (``replicate``) as the unit.

    Each side's runs are first averaged over its teachers within each replicate, then the two
    sides are paired by replicate: R pairs, tested with ``scipy.stats.ttest_rel``. Runs of one
    replicate share an MLP seed and, on a teacherless side, one run; counting them as T pairs
    would make the interval too narrow (docs/comparison.md: the calibration). With T teachers the
    inference is about these teachers, not about teachers in general.
    """
    left_mean = left.groupby("replicate")["accuracy"].mean()
    right_mean = right.groupby("replicate")["accuracy"].mean()
    seeds = left_mean.index.intersection(right_mean.index)
    ours, theirs = left_mean.loc[seeds].to_numpy(), right_mean.loc[seeds].to_numpy()
    differences = ours - theirs
    result = {"pairs": len(seeds), "mean": float(differences.mean()) if len(seeds) else math.nan,
              "p": math.nan, "low": math.nan, "high": math.nan}
    if len(seeds) >= 2 and differences.std(ddof=1) > 0:
        test = stats.ttest_rel(ours, theirs)
        interval = test.confidence_interval(CONFIDENCE)
        result.update(p=float(test.pvalue), low=float(interval.low), high=float(interval.high), test=test)
    return result


def mixed_model_difference(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, float]:
    """A check beside :func:`paired_difference`: ``left`` − ``right`` from a linear mixed model with
    crossed random effects for the MLP seed and the teacher (statsmodels ``MixedLM``, REML), every
    run a row; the estimate and its Wald 95 % interval. NaN where the model cannot be fitted."""
    import warnings

    import statsmodels.formula.api as smf  # slow to import: only the report pays it

    rows = pd.concat([left.assign(side=1.0), right.assign(side=0.0)], ignore_index=True)
    # In points, so the variances are not near the optimiser's tolerance; a teacherless run is its own level.
    rows = rows.assign(points=100 * rows["accuracy"], seed=rows["replicate"].astype(str),
                       teacher=rows["teacher_replicate"].map(lambda value: "none" if pd.isna(value) else str(int(value))),
                       group=1)
    result = {"mixed_mean": math.nan, "mixed_low": math.nan, "mixed_high": math.nan}
    if rows["seed"].nunique() < 2 or rows["side"].nunique() < 2:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a variance estimated at its boundary (zero) is a fit, not an error
        try:
            fit = smf.mixedlm("points ~ side", rows, groups="group", re_formula="0",
                              vc_formula={"seed": "0 + C(seed)", "teacher": "0 + C(teacher)"}).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError):
            return result
    low, high = fit.conf_int(alpha=ALPHA).loc["side"]
    if not np.isfinite(fit.params["side"]):
        return result
    return {"mixed_mean": fit.params["side"] / 100, "mixed_low": low / 100, "mixed_high": high / 100}


def mixed_model_check(record: dict[str, Any]) -> pd.DataFrame:
    """:func:`mixed_model_difference` for every comparison that :func:`summarise` makes of ``record``."""
    summary = summarise(record)
    rows = []
    for _, row in summary["comparisons"].iterrows():
        rows.append({"method": row["method"], "against": row["against"],
                     **mixed_model_difference(summary["sides"][row["method"]], summary["sides"][row["against"]])})
    return pd.DataFrame(rows, columns=["method", "against", "mixed_mean", "mixed_low", "mixed_high"])


def teacher_means(left: pd.DataFrame, right: pd.DataFrame) -> list[float]:
    """A description, not a test: per teacher of ``left``, its runs' mean difference to the other side's
    replicate means (empty with fewer than two teachers)."""
    right_mean = right.groupby("replicate")["accuracy"].mean()
    teachers = sorted(left["teacher_replicate"].dropna().unique()) if "teacher_replicate" in left else []
    if len(teachers) < 2:
        return []
    means = []
    for teacher in teachers:
        own = left[left["teacher_replicate"] == teacher]
        means.append(float((own["accuracy"] - own["replicate"].map(right_mean)).mean()))
    return means


def _verdict(mean: float, p_adjusted: float) -> str:
    if math.isnan(p_adjusted):
        return "too few runs"
    if p_adjusted > ALPHA:
        return "not distinguishable"
    return "higher" if mean > 0 else "lower"


def summarise(record: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The record's reported runs as two tables: ``methods`` (accuracies) and ``comparisons`` (tests)."""
    runs = pd.DataFrame([run for run in record["runs"] if run["phase"] == "reported"])
    chosen = record["chosen"]
    per_method = {method: runs[runs["method"] == method] for method in chosen}
    # Every run of one replicate trained the same baseline: take it once per replicate.
    baseline = runs.drop_duplicates("replicate").assign(teacher_replicate=np.nan)
    sides = {method: frame.assign(accuracy=frame["student"]) for method, frame in per_method.items()}
    sides["baseline"] = baseline.assign(accuracy=baseline["baseline"])
    controls = [method for method in CONTROLS if method in per_method]
    best_control = max(controls, key=lambda method: per_method[method]["student_val"].mean()) if controls else None

    method_rows = []
    for method, frame in per_method.items():
        teachers = frame["teacher_replicate"].nunique() if reads_teacher(method) else 0
        method_rows.append({
            "method": method, "setting": chosen[method]["setting"], "recipe": chosen[method].get("recipe", ""),
            "views": frame["views"].max() if "views" in frame else record.get("params", {}).get(VIEWS_KEY),
            "control": method in CONTROLS, "grid_points": chosen[method]["grid_points"], "teachers": teachers,
            "replicates": frame["replicate"].nunique(), "runs": len(frame),
            "val_mean": frame["student_val"].mean(), "test_mean": frame["student"].mean(),
            "test_std": frame["student"].std(ddof=1),
            "best_epoch_max": frame["student_best_epoch"].max(), "epoch_cap": frame["epoch_cap"].max(),
            "images_per_second": frame["student_train_images_per_second"].mean(),
        })
    tuned = record.get("baseline") or {}
    method_rows.append({"method": "baseline (MLP alone)", "setting": "", "recipe": tuned.get("setting", ""), "views": 0,
                        "control": False, "grid_points": tuned.get("grid_points"),
                        "teachers": 0, "replicates": len(baseline), "runs": len(baseline),
                        "val_mean": baseline["baseline_val"].mean(), "test_mean": baseline["baseline"].mean(),
                        "test_std": baseline["baseline"].std(ddof=1)})
    methods = pd.DataFrame(method_rows).sort_values("val_mean", ascending=False).reset_index(drop=True)

    family = [(method, "baseline") for method in per_method]
    if best_control is not None:
        family += [(method, best_control) for method in per_method if method != best_control]
    if "hard_labels" in per_method and best_control != "hard_labels":
        # With views, hard_labels is the augmented MLP: what a method gains beyond it is the teacher's.
        family += [(method, "hard_labels") for method in per_method if method not in CONTROLS]
    tests = [(method, against, paired_difference(sides[method], sides[against])) for method, against in family]
    p_values = np.array([test["p"] for _, _, test in tests])
    finite = ~np.isnan(p_values)
    adjusted = np.full(len(tests), math.nan)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p_values[finite], method="bh")
    declared = max(1, int(np.sum(adjusted[finite] <= ALPHA)))
    fcr_level = 1 - declared * ALPHA / max(1, int(finite.sum()))
    comparison_rows = []
    for (method, against, test), p_adjusted in zip(tests, adjusted):
        verdict = _verdict(test["mean"], p_adjusted)
        low, high = (test["test"].confidence_interval(fcr_level) if "test" in test else (math.nan, math.nan))
        comparison_rows.append({
            "method": method, "against": against, "control": method in CONTROLS, "pairs": test["pairs"],
            "mean": test["mean"], "low": test["low"], "high": test["high"], "p": test["p"],
            "p_adjusted": p_adjusted, "adjusted_low": float(low), "adjusted_high": float(high),
            "adjusted_level": fcr_level, "verdict": verdict,
            "teacher_means": teacher_means(sides[method], sides[against]),
        })
    comparisons = pd.DataFrame(comparison_rows)
    # Each teacher once, from its own experiments' metrics (a teacherless run repeats the default teacher).
    teacher_tests = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")["teacher"]
    if teacher_tests.empty:
        teacher_tests = runs["teacher"].iloc[:1]
    # The share of the teacher–baseline test gap that a method's gain closes, its interval the
    # gain's (unadjusted) over the gap, the gap taken as known.
    gap = teacher_tests.mean() - baseline["baseline"].mean()
    over_baseline = comparisons["against"] == "baseline" if not comparisons.empty else []
    for column, source in (("closure", "mean"), ("closure_low", "low"), ("closure_high", "high")):
        comparisons[column] = np.where(over_baseline, comparisons[source] / gap, np.nan) if not comparisons.empty else []
    # An ensemble's own accuracy, each once (records of one teacher have none).
    ensembles = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")
    ensemble_tests = pd.to_numeric(ensembles.get("ensemble", pd.Series(dtype=float)), errors="coerce").dropna()
    return {"methods": methods, "comparisons": comparisons, "teacher_tests": teacher_tests.to_numpy(),
            "ensemble_tests": ensemble_tests.to_numpy(), "best_control": best_control, "sides": sides, "gap": gap}




def views_curve(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (source, views, method): the paired val and test gains over the baseline with 95 % intervals.

    From the records whose comparison fixed ``augment.views`` (a K curve: one record per K).
    ``series`` names what else a record fixed (``baseline.epochs=120``; empty for none): records
    that differ in it are separate curves, never two points of one.
    ``closure`` is the share of the teacher–baseline test gap that the method's mean closes, with the
    test gain's interval divided by that gap (the gap taken as known). ``augmented_gain`` (with
    ``augmented_low``, ``augmented_high``) is a method's paired test gain over ``hard_labels``, the MLP on
    the same views with labels only: what the teacher adds beyond the augmentation.
    """
    rows = []
    for record in records:
        if VIEWS_KEY not in record.get("params", {}):
            continue
        runs = pd.DataFrame([run for run in record["runs"] if run["phase"] == "reported"])
        baseline = runs.drop_duplicates("replicate").assign(teacher_replicate=np.nan)
        # Each teacher once: a teacherless run (teacher_replicate NaN) repeats the default teacher.
        teachers = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")
        gap = teachers["teacher"].mean() - baseline["baseline"].mean()
        on_views = pd.to_numeric(teachers.get("teacher_on_views", pd.Series(dtype=float)), errors="coerce").mean()
        # The record's own comparisons hold each method's test gain over hard_labels (the augmented MLP).
        comparisons = summarise(record)["comparisons"]
        over_hard_labels = comparisons[(comparisons["against"] == "hard_labels") & ~comparisons["control"]]
        for method in record["chosen"]:
            own = runs[runs["method"] == method]
            row = {"source": record["source_label"], "series": series_label(record["params"]),
                   "views": record["params"][VIEWS_KEY], "method": method,
                   "setting": record["chosen"][method]["setting"], "control": method in CONTROLS,
                   "teacher_on_views": float(on_views),
                   "test_mean": own["student"].mean(), "closure": (own["student"].mean() - baseline["baseline"].mean()) / gap}
            for split, student, reference in (("val", "student_val", "baseline_val"), ("test", "student", "baseline")):
                test = paired_difference(own.assign(accuracy=own[student]), baseline.assign(accuracy=baseline[reference]))
                row.update({f"{split}_gain": test["mean"], f"{split}_low": test["low"], f"{split}_high": test["high"]})
            row.update(closure_low=row["test_low"] / gap, closure_high=row["test_high"] / gap,
                       augmented_gain=math.nan, augmented_low=math.nan, augmented_high=math.nan, augmented_verdict="")
            augmented = over_hard_labels[over_hard_labels["method"] == method]
            if not augmented.empty:
                row.update(augmented_gain=augmented["mean"].iloc[0], augmented_low=augmented["low"].iloc[0],
                           augmented_high=augmented["high"].iloc[0], augmented_verdict=augmented["verdict"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["source", "series", "method", "views"]).reset_index(drop=True) if rows else pd.DataFrame()


def series_label(fixed: dict[str, Any]) -> str:
    """What a K-curve record fixed beside ``augment.views``, as ``key=value, …`` (empty for nothing)."""
    return ", ".join(f"{key}={value}" for key, value in sorted(fixed.items()) if key != VIEWS_KEY)


def ensemble_study(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (source, config, teachers N, method that reads a teacher): how near the MLP came to its teachers.

    From the records whose comparison fixed ``teacher.ensemble`` (one record per N, like a K curve).
    With the MLP seed as the unit (each seed's runs averaged over its T teachers or ensembles):
    the student's test mean against the mean of the single teachers it is compared with (each
    ensemble's first member, so the same teachers in every record of the study) and, for N > 1,
    against the ensembles' own mean — ``scipy.stats.ttest_1samp`` over the seeds, the teachers'
    mean taken as known; and, for N > 1, the seed-paired difference to the same method taught by
    one teacher (the study's N = 1 record). ``hard_labels`` and the MLP alone come from each
    record's own comparisons; ``closure_teachers`` (``closure_ensembles``) is the share of the gap
    from the MLP alone to the teachers' (the ensembles') mean that the student's gain closes.
    """
    studies: dict[tuple, dict[int, dict[str, Any]]] = {}
    for record in records:
        fixed = record.get("params") or {}
        if ENSEMBLE_KEY not in fixed:
            continue
        others = tuple(sorted((key, str(value)) for key, value in fixed.items() if key != ENSEMBLE_KEY))
        key = (record["source_label"], (record.get("config") or {}).get("name", ""), others)
        studies.setdefault(key, {})[int(fixed[ENSEMBLE_KEY])] = record
    rows = []
    for (source, name, _), by_size in studies.items():
        single = by_size.get(1)
        for size, record in sorted(by_size.items()):
            summary = summarise(record)
            runs = pd.DataFrame([run for run in record["runs"] if run["phase"] == "reported"])
            teachers_mean = float(np.mean(summary["teacher_tests"]))
            ensembles_mean = float(np.mean(summary["ensemble_tests"])) if len(summary["ensemble_tests"]) else math.nan
            comparisons = summary["comparisons"]
            for method in record["chosen"]:
                if not reads_teacher(method):
                    continue
                own = runs[runs["method"] == method]
                per_seed = own.groupby("replicate")["student"].mean()
                row = {"source": source, "name": name, "teachers": size, "method": method,
                       "setting": choice_label(record["chosen"][method]["setting"], record["chosen"][method].get("recipe", "")),
                       "runs": len(own), "replicates": len(per_seed), "test_mean": float(own["student"].mean()),
                       "teachers_mean": teachers_mean, "ensembles_mean": ensembles_mean}
                for column, reference in (("to_teachers", teachers_mean), ("to_ensembles", ensembles_mean)):
                    row.update({column: math.nan, f"{column}_low": math.nan, f"{column}_high": math.nan})
                    if len(per_seed) >= 2 and not math.isnan(reference):
                        test = stats.ttest_1samp(per_seed.to_numpy(), reference)
                        interval = test.confidence_interval(CONFIDENCE)
                        row.update({column: float(per_seed.mean() - reference), f"{column}_low": float(interval.low - reference),
                                    f"{column}_high": float(interval.high - reference)})
                row.update(over_one=math.nan, over_one_low=math.nan, over_one_high=math.nan)
                if single is not None and size > 1 and method in single["chosen"]:
                    alone = pd.DataFrame([run for run in single["runs"] if run["phase"] == "reported" and run["method"] == method])
                    test = paired_difference(own.assign(accuracy=own["student"]), alone.assign(accuracy=alone["student"]))
                    row.update(over_one=test["mean"], over_one_low=test["low"], over_one_high=test["high"])
                for column, against in (("over_hard_labels", "hard_labels"), ("over_baseline", "baseline")):
                    found = comparisons[(comparisons["method"] == method) & (comparisons["against"] == against)]
                    row.update({column: found["mean"].iloc[0] if not found.empty else math.nan,
                                f"{column}_low": found["low"].iloc[0] if not found.empty else math.nan,
                                f"{column}_high": found["high"].iloc[0] if not found.empty else math.nan,
                                f"{column}_verdict": found["verdict"].iloc[0] if not found.empty else ""})
                # The share of the gap from the MLP alone to the teachers (or the ensembles) that the
                # student closes, the gain's interval over the gap, the gap taken as known (as summarise).
                baseline_mean = teachers_mean - summary["gap"]
                for column, reference in (("closure_teachers", teachers_mean), ("closure_ensembles", ensembles_mean)):
                    gap = reference - baseline_mean
                    usable = gap > 0  # False for an absent (NaN) reference too
                    row.update({column: row["over_baseline"] / gap if usable else math.nan,
                                f"{column}_low": row["over_baseline_low"] / gap if usable else math.nan,
                                f"{column}_high": row["over_baseline_high"] / gap if usable else math.nan})
                row["baseline_mean"] = baseline_mean
                rows.append(row)
    return pd.DataFrame(rows)


def recipe_levers(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The selection runs of an ensemble study, a row per (teachers N, method, setting, recipe): how
    far each lever went (K stored views, epochs, the method's own knobs: T, mixup) on val, the
    figure the choice was made on, with test beside it as a description. ``views_shown_per_image``
    is K·E/(K + 1) over E epochs (the student's metrics
    give it per run); the baseline's recipes ride on these runs and are left out."""
    rows = []
    for record in records:
        fixed = record.get("params") or {}
        if ENSEMBLE_KEY not in fixed:
            continue
        selection = pd.DataFrame([run for run in record["runs"] if run["phase"] == "selection"])
        for column in ("setting", "recipe"):
            selection[column] = selection.get(column, pd.Series(index=selection.index, dtype=object)).fillna("")
        for (method, setting, recipe), runs in selection.groupby(["method", "setting", "recipe"]):
            if not reads_teacher(method) and int(fixed[ENSEMBLE_KEY]) > 1:
                continue  # the same runs as in the one-teacher record
            knobs = _knobs(recipe)
            views, epochs = int(knobs.get(VIEWS_KEY, 0)), int(float(knobs.get("distill.epochs", runs["epoch_cap"].max())))
            rows.append({"source": record["source_label"], "name": (record.get("config") or {}).get("name", ""),
                         "teachers": int(fixed[ENSEMBLE_KEY]) if reads_teacher(method) else None, "method": method,
                         "setting": setting, "views": views, "epochs": epochs, "views_shown_per_image": views_seen(views, epochs)["views_shown_per_image"],
                         "runs": len(runs), "val": runs["student_val"].mean(), "test": runs["student"].mean(),
                         "chosen": (setting, recipe) == (record["chosen"][method]["setting"], record["chosen"][method].get("recipe", ""))})
    return pd.DataFrame(rows)


def lever_steps(levers: pd.DataFrame) -> pd.DataFrame:
    """Where each lever flattened: the val change of one step along a lever, the others held.

    From :func:`recipe_levers`, within each (study, method, teachers), whose ``base`` setting is
    the one with the most points: every step to the next larger epoch count at the same K and
    setting (``lever`` "epochs"), to the next larger K at the same epochs and setting ("views"),
    and from the base setting to each other one at the same K and epochs ("setting": T, mixup;
    ``to`` names the knobs that differ). ``setting`` is the setting a step was taken in. One
    selection run per point, so a step is as noisy as two runs (:func:`seed_spread`)."""
    keys = ["source", "name", "method", "teachers"]
    rows = []
    for key, group in levers.groupby(keys, dropna=False, sort=False):
        base = group["setting"].value_counts().index[0]
        base_knobs = _knobs(base)

        def step(lever: str, start: Any, end: Any, setting: str, before: pd.Series, after: pd.Series) -> None:
            rows.append({**dict(zip(keys, key)), "setting": setting, "base": base, "lever": lever, "views": after["views"],
                         "epochs": after["epochs"], "from": start, "to": end, "val_change": after["val"] - before["val"]})

        for lever, held in (("epochs", "views"), ("views", "epochs")):
            for (setting, _), line in group.groupby(["setting", held]):
                line = line.sort_values(lever)
                for (_, before), (_, after) in zip(line.iloc[:-1].iterrows(), line.iloc[1:].iterrows()):
                    step(lever, int(before[lever]), int(after[lever]), setting, before, after)
        for _, other in group[group["setting"] != base].iterrows():
            same = group[(group["setting"] == base) & (group["views"] == other["views"]) & (group["epochs"] == other["epochs"])]
            if len(same):
                changed = ", ".join(f"{knob}={value}" for knob, value in sorted(_knobs(other["setting"]).items())
                                    if base_knobs.get(knob) != value)
                step("setting", base, changed, base, same.iloc[0], other)
    return pd.DataFrame(rows, columns=[*keys, "setting", "base", "lever", "views", "epochs", "from", "to", "val_change"])


def seed_spread(records: list[dict[str, Any]]) -> pd.DataFrame:
    """How far one run's val moves with its MLP seed alone in an ensemble study: the pooled standard
    deviation of ``student_val`` over the seeds of each teacher's (or ensemble's) reported runs, a
    row per (study, method); the yardstick for a lever step measured on one run. A run that several
    records of a study share (one that reads no teacher) counts once."""
    runs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for record in records:
        if ENSEMBLE_KEY not in (record.get("params") or {}):
            continue
        study = (record["source_label"], (record.get("config") or {}).get("name", ""))
        for run in record["runs"]:
            if run.get("phase", "reported") == "reported":
                runs.setdefault(study, {})[run["experiment"]] = run
    rows = []
    for (source, name), found in runs.items():
        table = pd.DataFrame(list(found.values())).reindex(columns=["method", "teachers", "teacher_replicate", "student_val"])
        for method, of_method in table.groupby("method"):
            groups = [group["student_val"].to_numpy() for _, group in
                      of_method.groupby(["teachers", "teacher_replicate"], dropna=False) if len(group) > 1]
            freedom = sum(len(group) - 1 for group in groups)
            if freedom:
                squares = sum(((group - group.mean()) ** 2).sum() for group in groups)
                rows.append({"source": source, "name": name, "method": method,
                             "runs": sum(len(group) for group in groups), "sd": math.sqrt(squares / freedom)})
    return pd.DataFrame(rows, columns=["source", "name", "method", "runs", "sd"])
