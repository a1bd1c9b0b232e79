"""The honest comparison of methods: choose on val, report test over replicates, paired.

1. Each method's grid (``comparison.yaml``) runs at replicate 0; the setting with the highest
   student **val** accuracy is chosen (:func:`choose_settings`).
2. The chosen settings run over replicates 0..R−1; every experiment trains the baseline with
   the same replicate, so each method's test accuracy pairs with a baseline's.
3. :func:`summarise_methods` gives, per method, test mean ± std, the paired gain over the
   baseline with a 95 % t-interval, and the paired difference to the best control (the control
   with the higher mean val accuracy). An interval that contains 0 is "not distinguishable".
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.atomic import atomic_output
from distillation.methods import CONTROLS, METHODS
from distillation.params import ParamsError, flatten, read_yaml, unflatten, validate

CONFIDENCE = 0.95


def load_comparison(path: str | Path, params: dict[str, Any]) -> dict[str, Any]:
    """``comparison.yaml``: ``replicates`` and a grid per method, checked against the params rules."""
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict) or not isinstance(config.get("grids"), dict):
        raise ValueError(f"{path}: expected 'replicates' and a 'grids' mapping of method → {{param: [values]}}")
    replicates = config.get("replicates")
    if not isinstance(replicates, int) or replicates < 2:
        raise ValueError(f"{path}: replicates must be an integer ≥ 2 (a spread needs two), got {replicates!r}")
    for method, grid in config["grids"].items():
        if method not in METHODS:
            raise ValueError(f"{path}: grids.{method}: not a method ({', '.join(METHODS)})")
        for point in grid_points(method, grid or {}):
            try:  # every point must be a valid params file, exactly as the run will see it
                validate(with_overrides(params, point))
            except ParamsError as error:
                raise ValueError(f"{path}: grids.{method}: {error}") from None
    return config


def grid_points(method: str, grid: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the grid's values as ``{dotted.key: value}``, method included."""
    keys = list(grid)
    values = [grid[key] if isinstance(grid[key], list) else [grid[key]] for key in keys]
    return [{"distill.method": method, **dict(zip(keys, combination))} for combination in itertools.product(*values)]


def with_overrides(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``{dotted.key: value}`` set, as ``dvc exp run -S`` would (a new tree)."""
    return unflatten({**flatten(params), **overrides})


def choose_settings(table: pd.DataFrame, source: str) -> dict[str, str]:
    """Per method, the setting whose replicate-0 student has the highest **val** accuracy."""
    runs = table[(table["source"] == source) & (table["replicate"] == 0)]
    chosen = {}
    for method, rows in runs.groupby("method"):
        # Ties go to the setting that sorts first, so the choice never depends on run order.
        ranked = rows.sort_values(["student_val", "setting"], ascending=[False, True])
        chosen[method] = ranked.iloc[0]["setting"]
    return chosen


def chosen_runs(table: pd.DataFrame, source: str, chosen: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Each method's runs of its chosen setting, one per replicate, indexed by replicate."""
    runs = {}
    for method, setting in chosen.items():
        rows = table[(table["source"] == source) & (table["method"] == method) & (table["setting"] == setting)]
        runs[method] = rows.drop_duplicates("replicate", keep="last").set_index("replicate").sort_index()
    return runs


def mean_interval(differences: np.ndarray) -> tuple[float, float, float]:
    """Mean and the two ends of its two-sided 95 % Student-t interval (NaN ends below 2 values)."""
    differences = np.asarray(differences, dtype=float)
    mean = float(differences.mean())
    if differences.size < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, differences.size - 1) * differences.std(ddof=1) / math.sqrt(differences.size)
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    if math.isnan(low):
        return "too few replicates"
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "not distinguishable"


def summarise_methods(table: pd.DataFrame, source: str, chosen: dict[str, str]) -> pd.DataFrame:
    """One row per method (and the baseline): the comparison's figures, best mean val first."""
    runs = chosen_runs(table, source, chosen)
    controls = [method for method in CONTROLS if method in runs]
    best_control = max(controls, key=lambda method: runs[method]["student_val"].mean()) if controls else None
    rows = []
    for method, frame in runs.items():
        gain = mean_interval(frame["student"] - frame["baseline"])
        row = {
            "method": method,
            "setting": chosen[method],
            "control": method in CONTROLS,
            "replicates": len(frame),
            "val_mean": frame["student_val"].mean(),
            "test_mean": frame["student"].mean(),
            "test_std": frame["student"].std(ddof=1),
            "gain_mean": gain[0], "gain_low": gain[1], "gain_high": gain[2],
            "gain_verdict": verdict(gain[1], gain[2]),
            "best_epoch_max": frame["student_best_epoch"].max(),
            "epochs_mean": frame["student_epochs"].mean(),
            "epoch_cap": frame["epoch_cap"].max(),
            "images_per_second": frame["student_train_images_per_second"].mean(),
            "train_seconds": frame["student_train_seconds"].mean(),
        }
        if best_control is not None and method != best_control:
            paired = frame["student"].sub(runs[best_control]["student"]).dropna()
            versus = mean_interval(paired)
            row.update(versus_control=best_control, versus_mean=versus[0], versus_low=versus[1], versus_high=versus[2],
                       versus_verdict=verdict(versus[1], versus[2]))
        rows.append(row)
    # Every run of a replicate trained the same baseline: take it once per replicate.
    baseline = pd.concat(runs.values()).groupby(level=0).first() if runs else pd.DataFrame()
    if not baseline.empty:
        rows.append({"method": "baseline (MLP alone)", "setting": "", "control": False, "replicates": len(baseline),
                     "val_mean": baseline["baseline_val"].mean(), "test_mean": baseline["baseline"].mean(),
                     "test_std": baseline["baseline"].std(ddof=1)})
    return pd.DataFrame(rows).sort_values("val_mean", ascending=False).reset_index(drop=True)


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:+.2f}"


def _interval(low: float, high: float) -> str:
    return "" if pd.isna(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def methods_markdown(summaries: dict[str, pd.DataFrame], teacher_test: dict[str, float]) -> str:
    """``reports/methods.md``: one table per data source."""
    lines = [
        "# Which method helps the MLP most?",
        "",
        "Made by `python -m scripts.report` from the experiments that `make compare` ran. Each",
        "method's setting was **chosen on val accuracy** (replicate 0 of its grid in",
        "`comparison.yaml`); only then were the chosen settings run over every replicate and tested.",
        "Rows are ranked by mean val accuracy. Test accuracy in %, mean ± sample std over replicates;",
        "gains in points, paired by replicate (each experiment trains the baseline with the same",
        f"replicate seed), with {CONFIDENCE:.0%} Student-t intervals. *Controls* learn from no real teacher.",
    ]
    for source, summary in summaries.items():
        lines += [
            "",
            f"## {source} (teacher test accuracy {100 * teacher_test.get(source, float('nan')):.2f} %)",
            "",
            "| method | chosen setting | n | val | test | gain over baseline [95 % CI] | vs best control [95 % CI] | best epoch (max) / cap | train img/s |",
            "|---|---|---:|---:|---:|---|---|---:|---:|",
        ]
        for _, row in summary.iterrows():
            name = f"{row['method']} (control)" if row.get("control") else row["method"]
            gain = "" if pd.isna(row.get("gain_mean")) else (
                f"{_points(row['gain_mean'])} {_interval(row['gain_low'], row['gain_high'])} {row['gain_verdict']}")
            versus = "" if pd.isna(row.get("versus_mean", np.nan)) else (
                f"{_points(row['versus_mean'])} {_interval(row['versus_low'], row['versus_high'])} "
                f"{row['versus_verdict']} {'from' if row['versus_verdict'] == 'not distinguishable' else 'than'} {row['versus_control']}")
            epochs = "" if pd.isna(row.get("best_epoch_max")) else f"{row['best_epoch_max']:.0f} / {row['epoch_cap']:.0f}"
            speed = "" if pd.isna(row.get("images_per_second")) else f"{row['images_per_second']:,.0f}"
            lines.append(
                f"| {name} | {row['setting']} | {row['replicates']} | {100 * row['val_mean']:.2f} | "
                f"{100 * row['test_mean']:.2f} ± {100 * row['test_std']:.2f} | {gain} | {versus} | {epochs} | {speed} |"
            )
        lines += ["", f"![gain over the baseline per method, {source}]({chart_name(source)})"]
    return "\n".join(lines) + "\n"


def chart_name(source: str) -> str:
    return f"method_gains-{Path(source).stem}.png"


def save_gain_chart(summary: pd.DataFrame, source: str, path: str | Path) -> None:
    """Each method's paired gain over the baseline with its 95 % interval; controls in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary.dropna(subset=["gain_mean"]).iloc[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.55 * len(rows) + 1.6))
    positions = np.arange(len(rows))
    means = 100 * rows["gain_mean"].to_numpy()
    errors = 100 * np.vstack([rows["gain_mean"] - rows["gain_low"], rows["gain_high"] - rows["gain_mean"]])
    colours = ["grey" if control else "tab:blue" for control in rows["control"]]
    for position, mean, low, high, colour in zip(positions, means, *errors, colours):
        axis.errorbar(mean, position, xerr=[[low], [high]], fmt="o", color=colour, capsize=4)
    axis.axvline(0, color="black", linewidth=1)
    axis.set_yticks(positions, [f"{m} (control)" if c else m for m, c in zip(rows["method"], rows["control"])])
    axis.set_xlabel("test-accuracy gain over the baseline MLP, points (paired, 95 % CI)")
    axis.set_title(f"{source}: {int(rows['replicates'].min())} replicates each; ranked by val accuracy", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
