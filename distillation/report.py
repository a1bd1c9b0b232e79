"""Turn ``dvc exp show --json`` into a table of experiments, a temp × λ heatmap and a seed summary."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np
import pandas as pd

from distillation.atomic import atomic_output
from distillation.paths import MODEL_NAMES
PARAM_COLUMNS = {
    "temp": ("distill", "temp"),
    "lambda": ("distill", "lambda"),
    "t2_scale": ("distill", "t2_scale"),
    "replicate": ("replicate",),
    "source": ("data", "source"),
}


def _walk(entries: list[dict[str, Any]], parent: str | None = None) -> Iterator[tuple[str, str, dict]]:
    """(name, rev, data) of every row of ``dvc exp show --json``: commits, workspace, experiments."""
    for entry in entries or []:
        data = entry.get("data") or {}
        if data:
            rev = entry.get("rev") or data.get("rev") or ""
            yield entry.get("name") or rev[:7], rev, data
        for experiment in entry.get("experiments") or []:
            yield from _walk(experiment.get("revs") or [], entry.get("rev"))


def _lookup(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def experiments_table(exp_show: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per experiment (and the workspace/commit rows) with its params and test accuracies."""
    rows = []
    for name, rev, data in _walk(exp_show):
        params = _lookup(data, ("params", "params.yaml", "data")) or {}
        metrics = data.get("metrics") or {}
        row: dict[str, Any] = {"experiment": name, "rev": rev}
        for column, path in PARAM_COLUMNS.items():
            row[column] = _lookup(params, path)
        for model in MODEL_NAMES:
            row[model] = _lookup(metrics, (f"metrics/{model}.json", "data", "test_accuracy"))
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table.dropna(subset=["student", "baseline"])
    table["gain"] = table["student"] - table["baseline"]
    # The workspace repeats HEAD or one experiment; keep each distinct result once.
    distinct = table.drop_duplicates(subset=[*PARAM_COLUMNS, *MODEL_NAMES], keep="last")
    return distinct.reset_index(drop=True)


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Gain of the student over the baseline per setting: mean ± std over replicates."""
    grouped = table.groupby(["temp", "lambda", "t2_scale"], dropna=False)
    summary = grouped.agg(
        replicates=("replicate", "nunique"),
        baseline_mean=("baseline", "mean"),
        student_mean=("student", "mean"),
        gain_mean=("gain", "mean"),
        gain_std=("gain", lambda gains: gains.std(ddof=1) if len(gains) > 1 else np.nan),
    )
    return summary.reset_index().sort_values("gain_mean", ascending=False)


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.2f}"


def markdown_report(table: pd.DataFrame, seeds: pd.DataFrame) -> str:
    """The whole report as Markdown: best settings first."""
    lines = [
        "# Distillation experiments",
        "",
        "Collected from `dvc exp show --json` by `python -m scripts.report`. Test accuracy in %;",
        "gain = student − baseline of the same run, in points.",
        "",
        "| experiment | T | λ | T² scale | replicate | teacher | baseline | student | gain |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for _, row in table.sort_values("student", ascending=False).iterrows():
        lines.append(
            f"| {row['experiment']} | {row['temp']:g} | {row['lambda']:g} | {row['t2_scale']} | {row['replicate']} | "
            f"{_percent(row['teacher'])} | {_percent(row['baseline'])} | {_percent(row['student'])} | {100 * row['gain']:+.2f} |"
        )
    lines += [
        "",
        "## Gain over the baseline across replicates",
        "",
        "Each replicate re-trains both the baseline and the student with seed + replicate (same data,",
        "same teacher). Mean ± sample standard deviation, in points.",
        "",
        "| T | λ | T² scale | replicates | baseline | student | gain |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for _, row in seeds.iterrows():
        spread = "" if pd.isna(row["gain_std"]) else f" ± {100 * row['gain_std']:.2f}"
        lines.append(
            f"| {row['temp']:g} | {row['lambda']:g} | {row['t2_scale']} | {row['replicates']} | "
            f"{_percent(row['baseline_mean'])} | {_percent(row['student_mean'])} | {100 * row['gain_mean']:+.2f}{spread} |"
        )
    return "\n".join(lines) + "\n"


def save_heatmap(table: pd.DataFrame, path: str | Path) -> None:
    """Student test accuracy over temp × λ (mean over replicates), coloured against the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    grid = table.pivot_table(index="lambda", columns="temp", values="student", aggfunc="mean").sort_index()
    baseline = float(table["baseline"].mean())
    values = grid.to_numpy() * 100
    spread = max(float(np.nanmax(np.abs(values - 100 * baseline))), 0.1)
    norm = TwoSlopeNorm(vcenter=100 * baseline, vmin=100 * baseline - spread, vmax=100 * baseline + spread)
    figure, axis = plt.subplots(figsize=(1.2 * grid.shape[1] + 3, 0.9 * grid.shape[0] + 2))
    image = axis.imshow(values, cmap="RdBu", norm=norm, aspect="auto")
    axis.set_xticks(range(grid.shape[1]), [f"{t:g}" for t in grid.columns])
    axis.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
    axis.set_xlabel("temperature T")
    axis.set_ylabel("λ (weight of the hard-label term)")
    best = np.unravel_index(np.nanargmax(values), values.shape)
    for (row, column), value in np.ndenumerate(values):
        if not np.isnan(value):
            label = f"{value:.2f}\n({value - 100 * baseline:+.2f})"
            weight = "bold" if (row, column) == best else "normal"
            colour = "white" if abs(value - 100 * baseline) > 0.6 * spread else "black"
            axis.text(column, row, label, ha="center", va="center", fontsize=8, fontweight=weight, color=colour)
    colorbar = figure.colorbar(image, ax=axis, label="student test accuracy (%); black line: baseline")
    colorbar.ax.axhline(100 * baseline, color="black", linewidth=2)
    axis.set_title(
        f"Student test accuracy (mean over replicates) and gain over the baseline MLP ({100 * baseline:.2f} %);"
        "\nblue beats the baseline, bold is best",
        fontsize=10,
    )
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
