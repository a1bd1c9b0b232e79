"""The method comparison's protocol and statistics (``make compare``; rendered by ``make report``).

1. **Selection.** Each method's grid (``comparison.yaml``) runs with the first teacher at the
   ``selection_replicates`` MLP seeds; the setting with the highest mean student **val** accuracy
   is chosen (:func:`choose_settings`). Those seeds are never among the reported ones, so the run
   that won the choice is never reported (no winner's curse).
2. **Reported runs.** The chosen settings run afresh over MLP replicates 0..R−1 and, for the
   methods that read the teacher, over teachers 0..T−1 (``teacher.replicate``); every experiment
   trains the baseline with the same MLP seed, so each student pairs with a baseline.
3. **Statistics** (:func:`summarise`): per method, test mean ± std; each method's paired gain over
   the baseline and each method's paired difference to the best control (the control with the
   higher mean val accuracy), pairs keyed by (teacher, replicate), with ``scipy.stats.ttest_rel``
   p-values and 95 % intervals. The family of all these comparisons is adjusted with
   Benjamini–Hochberg (:func:`scipy.stats.false_discovery_control`); the verdict follows the
   adjusted p-value, and the adjusted interval is Benjamini–Yekutieli's false-coverage-rate
   interval (level 1 − R·α/m for R of m comparisons declared).

The comparison writes what it chose and which runs it used to a **record**
(``reports/comparison-<source>.json``); the reports are made from records only, so ``make
report`` shows exactly the comparison's runs whatever other experiments the repository holds.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.atomic import atomic_output
from distillation.experiments import normalise, reads_teacher, run_identity, source_label
from distillation.methods import CONTROLS, METHODS, method_settings
from distillation.params import ParamsError, flatten, read_yaml, setting_label, unflatten, validate

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
DEFAULT_SELECTION_REPLICATES = (100,)
RECORD_FIELDS = (
    "experiment", "rev", "identity", "method", "setting", "replicate", "teacher_replicate", "teacher", "teacher_val",
    "baseline", "baseline_val", "student", "student_val", "student_epochs", "student_best_epoch",
    "student_train_images_per_second", "student_train_seconds", "epoch_cap",
)


def load_comparison(path: str | Path, params: dict[str, Any]) -> dict[str, Any]:
    """``comparison.yaml`` with its defaults filled in, every grid point checked against the params rules."""
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict) or not isinstance(config.get("grids"), dict):
        raise ValueError(f"{path}: expected 'replicates' and a 'grids' mapping of method → {{param: [values]}}")
    unknown = sorted(set(config) - {"replicates", "teachers", "selection_replicates", "params", "grids"})
    if unknown:
        raise ValueError(f"{path}: unknown key '{unknown[0]}' (replicates, teachers, selection_replicates, params, grids)")
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
            validate(with_overrides(params, combination))
        except ParamsError as error:
            raise ValueError(f"{path}: params: {error}") from None
    for method, grid in config["grids"].items():
        if method not in METHODS:
            raise ValueError(f"{path}: grids.{method}: not a method ({', '.join(METHODS)})")
        for point in grid_points(method, grid or {}):
            try:  # every point must be a valid params file, exactly as the run will see it
                validate(with_overrides(params, point))
            except ParamsError as error:
                raise ValueError(f"{path}: grids.{method}: {error}") from None
    return config


def fixed_combinations(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``{dotted.key: value}`` per comparison that the config's ``params`` asks for (lists: each value)."""
    fixed = config.get("params") or {}
    keys = list(fixed)
    values = [fixed[key] if isinstance(fixed[key], list) else [fixed[key]] for key in keys]
    return [dict(zip(keys, combination)) for combination in itertools.product(*values)]


def grid_points(method: str, grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values as ``{dotted.key: value}``, method included."""
    keys = list(grid)
    values = [grid[key] if isinstance(grid[key], list) else [grid[key]] for key in keys]
    return [{"distill.method": method, **dict(zip(keys, combination))} for combination in itertools.product(*values)]


def with_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``{dotted.key: value}`` set, as ``dvc exp run -S`` would (a new tree)."""
    return unflatten({**flatten(params), **overrides})


def planned_run(params: dict[str, Any], point: dict[str, Any], replicate: int, teacher: int, phase: str) -> dict[str, Any]:
    """One run of the comparison: its ``-S`` overrides and what identifies its result."""
    overrides = {**point, "replicate": replicate, "teacher.replicate": teacher}
    flat = normalise(flatten(with_overrides(params, overrides)))
    method = point["distill.method"]
    return {
        "phase": phase,
        "method": method,
        "setting": setting_label(method_settings(unflatten(flat)["distill"])),
        "identity": run_identity(flat),
        "replicate": replicate,
        "teacher_replicate": teacher if reads_teacher(method) else None,
        "overrides": overrides,
    }


def selection_runs(config: dict[str, Any], params: dict[str, Any], common: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grid point at every selection replicate, with the first teacher."""
    return [planned_run(params, {**common, **point}, replicate, 0, "selection")
            for method, grid in config["grids"].items() for point in grid_points(method, grid or {})
            for replicate in config["selection_replicates"]]


def reported_runs(config: dict[str, Any], params: dict[str, Any], common: dict[str, Any],
                  chosen: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The chosen settings over replicates 0..R−1, and teachers 0..T−1 where the method reads one.

    Listed method by method and, within one, replicate after replicate, so the runs that go at
    once train different baselines and later ones restore them from the run-cache.
    """
    runs = []
    for method, choice in chosen.items():
        teachers = range(config["teachers"]) if reads_teacher(method) else [0]
        for teacher in teachers:
            runs += [planned_run(params, {**common, **choice["point"]}, replicate, teacher, "reported")
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


def choose_settings(selection: pd.DataFrame) -> dict[str, str]:
    """Per method, the setting with the highest mean student **val** accuracy over its selection runs."""
    chosen = {}
    means = selection.groupby(["method", "setting"], as_index=False)["student_val"].mean()
    for method, rows in means.groupby("method"):
        # Ties go to the setting that sorts first, so the choice never depends on run order.
        chosen[method] = rows.sort_values(["student_val", "setting"], ascending=[False, True]).iloc[0]["setting"]
    return chosen


def comparison_record(config: dict[str, Any], source: str, chosen: dict[str, dict[str, Any]],
                      selection: list[dict[str, Any]], reported: list[dict[str, Any]],
                      fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the comparison chose and every run it used, with their figures (JSON-ready)."""
    def fields(run: dict[str, Any], phase: str) -> dict[str, Any]:
        row = {field: _plain(run.get(field)) for field in RECORD_FIELDS}
        return {"phase": phase, **row}

    return {
        "source": source,
        "source_label": source_label(source),
        "params": fixed or {},  # what every run of this comparison set, beside data.source
        "config": config,
        "chosen": {method: {"setting": choice["setting"], "overrides": choice["point"],
                            "grid_points": len(grid_points(method, config["grids"][method] or {}))}
                   for method, choice in chosen.items()},
        "runs": [fields(run, "selection") for run in selection] + [fields(run, "reported") for run in reported],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return value


def record_stem(source: str, fixed: dict[str, Any] | None = None) -> str:
    """``<data>`` and, for each param the comparison fixed, ``-<key>=<value>``."""
    return Path(source_label(source)).stem + "".join(f"-{key}={value}" for key, value in sorted((fixed or {}).items()))


def record_path(directory: Path, source: str, fixed: dict[str, Any] | None = None) -> Path:
    return Path(directory) / f"comparison-{record_stem(source, fixed)}.json"


def save_record(record: dict[str, Any], directory: Path) -> Path:
    path = record_path(directory, record["source"], record.get("params"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def load_records(directory: Path) -> list[dict[str, Any]]:
    """Every comparison record in ``directory``; each checked to reproduce its own choice."""
    records = []
    for path in sorted(Path(directory).glob("comparison-*.json")):
        try:
            record = json.loads(path.read_text())
            runs = pd.DataFrame(record["runs"])
            chosen = {method: choice["setting"] for method, choice in record["chosen"].items()}
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a comparison record ({error})") from None
        again = choose_settings(runs[runs["phase"] == "selection"])
        if again != chosen:
            raise ValueError(f"{path}: its selection runs choose {again}, the record says {chosen}")
        records.append({**record, "path": str(path)})
    return records


def _paired_test(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, Any]:
    """``left.accuracy`` − ``right.accuracy`` paired by (teacher, replicate), a teacherless side by replicate."""
    keys = ["replicate"] + (["teacher_replicate"] if left["teacher_replicate"].notna().all()
                            and right["teacher_replicate"].notna().all() else [])
    pairs = left.merge(right, on=keys, suffixes=("", "_other"))
    if "teacher_replicate" not in keys:
        pairs["teacher_replicate"] = pairs["teacher_replicate"].fillna(pairs.get("teacher_replicate_other"))
    differences = pairs["accuracy"] - pairs["accuracy_other"]
    result = {"pairs": len(pairs), "mean": float(differences.mean()) if len(pairs) else math.nan,
              "p": math.nan, "low": math.nan, "high": math.nan, "frame": pairs}
    if len(pairs) >= 2 and differences.std(ddof=1) > 0:
        test = stats.ttest_rel(pairs["accuracy"], pairs["accuracy_other"])
        interval = test.confidence_interval(CONFIDENCE)
        result.update(p=float(test.pvalue), low=float(interval.low), high=float(interval.high), test=test)
    return result


def _verdict(mean: float, p_adjusted: float) -> str:
    if math.isnan(p_adjusted):
        return "too few runs"
    if p_adjusted > ALPHA:
        return "not distinguishable"
    return "higher" if mean > 0 else "lower"


def _teacher_agreement(pairs: pd.DataFrame, verdict: str) -> tuple[str, list[float]]:
    """How many teachers, each on its own replicates, show the pooled verdict (95 % interval)."""
    teachers = sorted(pairs["teacher_replicate"].dropna().unique())
    if len(teachers) < 2:
        return "", []
    agreeing, means = 0, []
    for teacher in teachers:
        own = pairs[pairs["teacher_replicate"] == teacher]
        differences = own["accuracy"] - own["accuracy_other"]
        means.append(float(differences.mean()))
        if len(own) < 2 or differences.std(ddof=1) == 0:
            continue
        interval = stats.ttest_rel(own["accuracy"], own["accuracy_other"]).confidence_interval(CONFIDENCE)
        agreeing += {"higher": interval.low > 0, "lower": interval.high < 0}.get(verdict, interval.low <= 0 <= interval.high)
    return f"{agreeing} of {len(teachers)}", means


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
            "method": method, "setting": chosen[method]["setting"], "control": method in CONTROLS,
            "grid_points": chosen[method]["grid_points"], "teachers": teachers,
            "replicates": frame["replicate"].nunique(), "runs": len(frame),
            "val_mean": frame["student_val"].mean(), "test_mean": frame["student"].mean(),
            "test_std": frame["student"].std(ddof=1),
            "best_epoch_max": frame["student_best_epoch"].max(), "epoch_cap": frame["epoch_cap"].max(),
            "images_per_second": frame["student_train_images_per_second"].mean(),
        })
    method_rows.append({"method": "baseline (MLP alone)", "setting": "", "control": False, "grid_points": None,
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
    tests = [(method, against, _paired_test(sides[method], sides[against])) for method, against in family]
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
        agreement, teacher_means = _teacher_agreement(test["frame"], verdict)
        comparison_rows.append({
            "method": method, "against": against, "control": method in CONTROLS, "pairs": test["pairs"],
            "mean": test["mean"], "low": test["low"], "high": test["high"], "p": test["p"],
            "p_adjusted": p_adjusted, "adjusted_low": float(low), "adjusted_high": float(high),
            "adjusted_level": fcr_level, "verdict": verdict, "teachers_agreeing": agreement,
            "teacher_means": teacher_means,
        })
    comparisons = pd.DataFrame(comparison_rows)
    teacher_tests = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")["teacher"]
    if teacher_tests.empty:
        teacher_tests = runs["teacher"].iloc[:1]
    return {"methods": methods, "comparisons": comparisons, "teacher_tests": teacher_tests.to_numpy(),
            "best_control": best_control}


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:+.2f}"


def _interval(low: float, high: float) -> str:
    return "" if pd.isna(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def _p(value: float) -> str:
    return "" if pd.isna(value) else (f"{value:.3f}" if value >= 0.001 else "< 0.001")


def _name(method: str, control: bool) -> str:
    return f"{method} (control)" if control else method


def methods_markdown(records: list[dict[str, Any]]) -> str:
    """``reports/methods.md``: per data source, the accuracies and the adjusted comparisons."""
    lines = [
        "# Which method helps the MLP most?",
        "",
        "Made by `python -m scripts.report` from the records that `make compare` wrote",
        "(`reports/comparison-*.json`); no other experiment enters these tables. Protocol: each method's",
        "setting was chosen on **val** accuracy over its grid in `comparison.yaml`, at MLP seeds",
        "(`selection_replicates`) that are then never reported; the chosen settings were run afresh over",
        "the reported replicates and, for methods that read the teacher, over several teachers",
        "(`teacher.replicate`). Test accuracy in %, mean ± sample std over runs. Differences in points,",
        f"paired by (teacher, replicate), with `scipy.stats.ttest_rel` p-values and {CONFIDENCE:.0%} intervals; the",
        "verdict follows the **Benjamini–Hochberg** adjusted p-value over all the comparisons of one data",
        "source, and the adjusted interval is the matching false-coverage-rate interval (Benjamini &",
        "Yekutieli 2005). *Controls* learn from no real teacher; methods that read no teacher (DML and",
        "the controls) run once per replicate and pair with every teacher's runs of that replicate.",
    ]
    for record in records:
        summary = summarise(record)
        label = record["source_label"]
        teacher_tests = 100 * summary["teacher_tests"]
        spread = f" ± {teacher_tests.std(ddof=1):.2f} over {len(teacher_tests)} teachers" if len(teacher_tests) > 1 else ""
        fixed = "".join(f", {key} = {value}" for key, value in sorted(record.get("params", {}).items()))
        lines += [
            "",
            f"## {label}{fixed} (teacher test accuracy {teacher_tests.mean():.2f} %{spread})",
            "",
            "| method | chosen setting | grid points (selection) | teachers × replicates | val | test | best epoch (max) / cap | train img/s |",
            "|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for _, row in summary["methods"].iterrows():
            shape = f"{row['teachers']} × {row['replicates']}" if row["teachers"] else f"{row['replicates']}"
            points = "" if pd.isna(row.get("grid_points")) else f"{row['grid_points']:.0f}"
            epochs = "" if pd.isna(row.get("best_epoch_max")) else f"{row['best_epoch_max']:.0f} / {row['epoch_cap']:.0f}"
            speed = "" if pd.isna(row.get("images_per_second")) else f"{row['images_per_second']:,.0f}"
            lines.append(
                f"| {_name(row['method'], row['control'])} | {row['setting']} | {points} | {shape} | "
                f"{100 * row['val_mean']:.2f} | {100 * row['test_mean']:.2f} ± {100 * row['test_std']:.2f} | {epochs} | {speed} |"
            )
        comparisons = summary["comparisons"]
        level = comparisons["adjusted_level"].iloc[0] if not comparisons.empty else CONFIDENCE
        lines += [
            "",
            f"{len(comparisons)} comparisons, adjusted together; the adjusted interval's level is {100 * level:.1f} %.",
            "\"Teachers agreeing\": the teachers whose own runs (replicates only) give an unadjusted 95 % interval",
            "that agrees with the verdict; the per-teacher means follow.",
            "",
            "| comparison | pairs | difference | 95 % CI | p | BH-adjusted p | adjusted CI | verdict | teachers agreeing | per teacher |",
            "|---|---:|---:|---|---:|---:|---|---|---|---|",
        ]
        for _, row in comparisons.iterrows():
            against = {"baseline": "baseline", summary["best_control"]: f"{row['against']} (best control)"}.get(
                row["against"], f"{row['against']} (control)")
            per_teacher = " / ".join(_points(mean) for mean in row["teacher_means"])
            lines.append(
                f"| {_name(row['method'], row['control'])} − {against} | {row['pairs']} | {_points(row['mean'])} | "
                f"{_interval(row['low'], row['high'])} | {_p(row['p'])} | {_p(row['p_adjusted'])} | "
                f"{_interval(row['adjusted_low'], row['adjusted_high'])} | {row['verdict']} | {row['teachers_agreeing']} | {per_teacher} |"
            )
        lines += ["", f"![gain over the baseline per method, {label}]({chart_name(record)})"]
    lines += views_markdown(views_curve(records))
    return "\n".join(lines) + "\n"


def chart_name(record: dict[str, Any]) -> str:
    return f"method_gains-{record_stem(record['source'], record.get('params'))}.png"


def save_gain_chart(record: dict[str, Any], path: str | Path) -> None:
    """Each method's paired gain over the baseline: 95 % interval (thin) and adjusted interval (thick)."""
    from distillation.figures import pyplot as plt

    summary = summarise(record)
    order = list(summary["methods"]["method"])
    gains = summary["comparisons"][summary["comparisons"]["against"] == "baseline"].dropna(subset=["low"])
    gains = gains.assign(rank=gains["method"].map(order.index)).sort_values("rank", ascending=False)
    figure, axis = plt.subplots(figsize=(7.5, 0.55 * len(gains) + 1.8))
    for position, (_, row) in enumerate(gains.iterrows()):
        colour = "grey" if row["control"] else "tab:blue"
        axis.plot([100 * row["adjusted_low"], 100 * row["adjusted_high"]], [position, position], color=colour, linewidth=5, alpha=0.45)
        axis.errorbar(100 * row["mean"], position, xerr=[[100 * (row["mean"] - row["low"])], [100 * (row["high"] - row["mean"])]],
                      fmt="o", color=colour, capsize=4)
    axis.axvline(0, color="black", linewidth=1)
    axis.set_yticks(range(len(gains)), [_name(m, c) for m, c in zip(gains["method"], gains["control"])])
    axis.set_xlabel("test-accuracy gain over the baseline MLP, points\n(paired; thin: 95 % CI, thick: BH/FCR-adjusted CI)")
    axis.set_title(f"{record['source_label']}: ranked by val accuracy, best on top", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)


VIEWS_KEY = "augment.views"


def views_curve(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per (source, views, method): the paired val and test gains over the baseline with 95 % intervals.

    From the records whose comparison fixed ``augment.views`` (a K curve: one record per K).
    ``closure`` is the share of the teacher–baseline test gap that the method's mean closes.
    """
    rows = []
    for record in records:
        if VIEWS_KEY not in record.get("params", {}):
            continue
        runs = pd.DataFrame([run for run in record["runs"] if run["phase"] == "reported"])
        baseline = runs.drop_duplicates("replicate").assign(teacher_replicate=np.nan)
        gap = runs.drop_duplicates("teacher_replicate")["teacher"].mean() - baseline["baseline"].mean()
        for method in record["chosen"]:
            own = runs[runs["method"] == method]
            row = {"source": record["source_label"], "views": record["params"][VIEWS_KEY], "method": method,
                   "setting": record["chosen"][method]["setting"], "control": method in CONTROLS,
                   "test_mean": own["student"].mean(), "closure": (own["student"].mean() - baseline["baseline"].mean()) / gap}
            for split, student, reference in (("val", "student_val", "baseline_val"), ("test", "student", "baseline")):
                test = _paired_test(own.assign(accuracy=own[student]), baseline.assign(accuracy=baseline[reference]))
                row.update({f"{split}_gain": test["mean"], f"{split}_low": test["low"], f"{split}_high": test["high"]})
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["source", "method", "views"]).reset_index(drop=True) if rows else pd.DataFrame()


def views_markdown(curve: pd.DataFrame) -> list[str]:
    """The K-curve section of ``methods.md``: gains and gap closure against the number of views."""
    if curve.empty:
        return []
    lines = ["", "## Gain against the number of stored views (augment.views)", "",
             "Each K is its own comparison (its record above): settings re-chosen on val at that K, the same",
             "replicates and teachers. Gains over the plain baseline MLP in points (paired, 95 % CI);",
             "closure: the share of the teacher–baseline test gap that the method's mean closes.", ""]
    for source, rows in curve.groupby("source"):
        lines += [f"### {source}", "", "| method | K | chosen setting | val gain | test gain | test | closure |",
                  "|---|---:|---|---:|---:|---:|---:|"]
        for _, row in rows.iterrows():
            lines.append(
                f"| {_name(row['method'], row['control'])} | {row['views']} | {row['setting']} | "
                f"{_points(row['val_gain'])} {_interval(row['val_low'], row['val_high'])} | "
                f"{_points(row['test_gain'])} {_interval(row['test_low'], row['test_high'])} | "
                f"{100 * row['test_mean']:.2f} | {100 * row['closure']:.0f} % |")
        lines += ["", f"![gain against the number of views, {source}]({views_chart_name(source)})"]
    return lines


def views_chart_name(source: str) -> str:
    return f"gain_against_views-{Path(source).stem}.png"


def save_views_chart(curve: pd.DataFrame, source: str, path: str | Path) -> None:
    """Val and test gain over the baseline against K, one line per method, 95 % intervals as bars."""
    from distillation.figures import pyplot as plt

    rows = curve[curve["source"] == source]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, split in zip(axes, ("val", "test")):
        for method, own in rows.groupby("method"):
            own = own.sort_values("views")
            x = own["views"].to_numpy()
            mean = 100 * own[f"{split}_gain"].to_numpy()
            error = [mean - 100 * own[f"{split}_low"].to_numpy(), 100 * own[f"{split}_high"].to_numpy() - mean]
            axis.errorbar(x, mean, yerr=error, marker="o", capsize=3, label=_name(method, method in CONTROLS),
                          linestyle="--" if method in CONTROLS else "-")
        axis.axhline(0, color="black", linewidth=1)
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xticks(sorted(rows["views"].unique()), [str(k) for k in sorted(rows["views"].unique())])
        axis.set_xlabel("stored views per training image (augment.views)")
        axis.set_title(f"{split} accuracy gain over the baseline MLP, points", fontsize=10)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{source}: paired gains, 95 % CI", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
