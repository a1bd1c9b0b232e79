"""The experiments outside the method comparison as tables: every run, the KD sweep and its heatmap.

Runs are ranked, and the best is marked, by **validation** accuracy; test accuracy is shown
beside it and never used to choose anything. Wherever runs are grouped, every param that varies
between them (see :func:`distillation.experiments.table.varying_params`) is a column or a panel of
its own, so two runs that differ in anything are never drawn or counted as one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillation.atomic import atomic_output
from distillation.config.identity import LAMBDA_KEY, TEMP_KEY, in_setting
from distillation.experiments.table import varying_params

SWEPT = (TEMP_KEY, LAMBDA_KEY)  # the heatmap's two axes


def kd_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The KD runs of the data source that has the most of them (the T × λ sweep)."""
    if table.empty:
        return table
    kd = table[table["method"] == "kd"]
    if kd.empty:
        return kd
    return kd[kd["source"] == kd["source"].value_counts().index[0]]


def _with_varying(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``table`` with one column per varying param (JSON text, so any value groups)."""
    keys = varying_params(table) if not table.empty else []
    columns = {key: [json.dumps(identity.get(key), default=str) for identity in table["params"]] for key in keys}
    return table.assign(**columns), keys


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """KD's gain over the baseline per configuration (every varying param), best mean val first."""
    kd, keys = _with_varying(kd_runs(table))
    if kd.empty:
        return pd.DataFrame()
    grouped = kd.groupby(keys or (lambda _: "all"), dropna=False)
    summary = grouped.agg(
        replicates=("replicate", "nunique"),
        runs=("replicate", "size"),
        baseline_mean=("baseline", "mean"),
        student_val_mean=("student_val", "mean"),
        student_mean=("student", "mean"),
        gain_mean=("gain", "mean"),
        gain_std=("gain", lambda gains: gains.std(ddof=1) if len(gains) > 1 else np.nan),
    )
    summary = summary.reset_index() if keys else summary.reset_index(drop=True)
    summary.attrs["keys"] = keys
    return summary.sort_values("student_val_mean", ascending=False)


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.2f}"


def _cell(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _differences(identity: dict[str, Any], keys: list[str]) -> str:
    """The varying params of a run's identity that the setting column does not show already (the method's own)."""
    return ", ".join(f"{key}={_cell(identity.get(key))}" for key in keys if not in_setting(key))


def markdown_report(table: pd.DataFrame, seeds: pd.DataFrame, compared: int = 0) -> str:
    """The report as Markdown: the other experiments ranked by the student's val accuracy."""
    lines = [
        "# Distillation experiments",
        "",
        "Collected from DVC's experiments by `python -m scripts.report`. Accuracy in %; runs are ranked",
        "by the student's **val** accuracy (what any choice is made on); test is shown beside it.",
        "Gain = student − baseline test accuracy of the same run, in points.",
        "",
    ]
    if compared:
        lines += [f"The method comparison's {compared} runs are reported in [methods.md](methods.md) only.", ""]
    lines += ["## Other experiments", ""]
    if table.empty:
        return "\n".join(lines + ["None."]) + "\n"
    keys = varying_params(table)
    lines += [
        "| experiment | data | method | setting | other params that vary | replicate | teacher | teacher acc. | baseline | student val | student test | gain |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, row in table.sort_values("student_val", ascending=False).iterrows():
        teacher = "" if pd.isna(row["teacher_replicate"]) else f"{row['teacher_replicate']:.0f}"
        lines.append(
            f"| {row['experiment']} | {row['source_label']} | {row['method']} | {row['setting']} | "
            f"{_differences(row['params'], keys)} | {row['replicate']} | {teacher} | {_percent(row['teacher'])} | "
            f"{_percent(row['baseline'])} | {_percent(row['student_val'])} | {_percent(row['student'])} | {100 * row['gain']:+.2f} |"
        )
    if not seeds.empty:
        keys = seeds.attrs.get("keys", [])
        lines += [
            "",
            "## KD: gain over the baseline per configuration",
            "",
            "One row per combination of the params that vary between the KD runs (replicates and",
            "teachers pooled). Ranked by the student's mean val accuracy; gain is mean ± sample standard",
            "deviation of the test-accuracy gain, in points.",
            "",
            "| " + " | ".join([*keys, "runs", "baseline test", "student val", "student test", "gain"]) + " |",
            "|" + "---|" * len(keys) + "---:|---:|---:|---:|---:|",
        ]
        for _, row in seeds.iterrows():
            spread = "" if pd.isna(row["gain_std"]) else f" ± {100 * row['gain_std']:.2f}"
            cells = [_cell(json.loads(row[key])) for key in keys]
            lines.append(
                "| " + " | ".join(cells) + (" | " if cells else "") + f"{row['runs']} | {_percent(row['baseline_mean'])} | "
                f"{_percent(row['student_val_mean'])} | {_percent(row['student_mean'])} | {100 * row['gain_mean']:+.2f}{spread} |"
            )
    return "\n".join(lines) + "\n"


def save_heatmap(table: pd.DataFrame, path: str | Path) -> bool:
    """KD student val accuracy over T × λ (mean over runs; test beside), one panel per combination
    of the other params that vary; the best val of each panel in bold.

    Returns False (and writes nothing) when there are no KD runs to draw.
    """
    from distillation.reporting.headless_pyplot import pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    kd, keys = _with_varying(kd_runs(table))
    if kd.empty:
        return False
    kd = kd.assign(temp=[identity.get(TEMP_KEY) for identity in kd["params"]],
                   lam=[identity.get(LAMBDA_KEY) for identity in kd["params"]])
    panel_keys = [key for key in keys if key not in SWEPT]
    panels = list(kd.groupby(panel_keys)) if panel_keys else [((), kd)]
    baseline = 100 * float(kd["baseline_val"].mean())
    spread = max(float(np.nanmax(np.abs(100 * kd["student_val"] - baseline))), 0.1)
    norm = TwoSlopeNorm(vcenter=baseline, vmin=baseline - spread, vmax=baseline + spread)
    width = max(kd["temp"].nunique(), 1)
    height = max(kd["lam"].nunique(), 1)
    figure, axes = plt.subplots(len(panels), 1, figsize=(1.3 * width + 3.5, (0.9 * height + 1.6) * len(panels) + 0.6), squeeze=False)
    image = None
    for axis, (values, rows) in zip(axes[:, 0], panels):
        values = values if isinstance(values, tuple) else (values,)
        val = rows.pivot_table(index="lam", columns="temp", values="student_val", aggfunc="mean").sort_index()
        test = rows.pivot_table(index="lam", columns="temp", values="student", aggfunc="mean").reindex_like(val)
        count = rows.pivot_table(index="lam", columns="temp", values="student", aggfunc="size").reindex_like(val)
        cells = val.to_numpy() * 100
        image = axis.imshow(cells, cmap="RdBu", norm=norm, aspect="auto")
        axis.set_xticks(range(val.shape[1]), [f"{t:g}" for t in val.columns])
        axis.set_yticks(range(val.shape[0]), [f"{v:g}" for v in val.index])
        axis.set_xlabel("temperature T")
        axis.set_ylabel("λ (hard-label weight)")
        best = np.unravel_index(np.nanargmax(cells), cells.shape)
        for (row, column), value in np.ndenumerate(cells):
            if not np.isnan(value):
                label = f"val {value:.2f}\ntest {100 * test.to_numpy()[row, column]:.2f}\nn={count.to_numpy()[row, column]:.0f}"
                colour = "white" if abs(value - baseline) > 0.6 * spread else "black"
                axis.text(column, row, label, ha="center", va="center", fontsize=7,
                          fontweight="bold" if (row, column) == best else "normal", color=colour)
        fixed = ", ".join(f"{key}={_cell(json.loads(value))}" for key, value in zip(panel_keys, values))
        axis.set_title(fixed or "KD student val accuracy (mean over runs), test beside", fontsize=9)
    colorbar = figure.colorbar(image, ax=list(axes[:, 0]), label="val accuracy (%); black line: baseline")
    colorbar.ax.axhline(baseline, color="black", linewidth=2)
    figure.suptitle(f"KD over T × λ on {kd['source_label'].iloc[0]}: blue beats the baseline's val {baseline:.2f} %;"
                    " bold: best val", fontsize=10)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
    return True
