"""Turn ``dvc exp show --json`` into tables: every run, the KD sweep (T × λ) and its heatmap.

Runs are ranked, and the best is marked, by **validation** accuracy; test accuracy is shown
beside it and never used to choose anything.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np
import pandas as pd

from distillation.atomic import atomic_output
from distillation.methods import METHODS, method_settings
from distillation.params import setting_label
from distillation.paths import MODEL_NAMES

KD_COLUMNS = ("temp", "lambda", "t2_scale")
logger = logging.getLogger(__name__)


def _walk(entries: list[dict[str, Any]]) -> Iterator[tuple[str, str, dict]]:
    """(name, rev, data) of every row of ``dvc exp show --json``: commits, workspace, experiments."""
    for entry in entries or []:
        data = entry.get("data") or {}
        if data:
            rev = entry.get("rev") or data.get("rev") or ""
            yield entry.get("name") or rev[:7], rev, data
        for experiment in entry.get("experiments") or []:
            yield from _walk(experiment.get("revs") or [])


def _lookup(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def source_label(source: str) -> str:
    """``synthetic``, ``emnist``, or a source file's name without folders."""
    return Path(str(source)).name if source not in (None, "synthetic", "emnist") else str(source)


def _stale_outputs(params: dict[str, Any], method: str | None, setting: str, metrics: dict[str, Any]) -> str:
    """Why a run's metrics cannot come from its own params ("" when they can, or cannot tell).

    The MLPs record what trained them (``seed``; the student also ``method`` and ``setting``).
    A queued experiment killed mid-stage can still be saved by DVC with the outputs of the
    commit it started from; its params then disagree with those records.
    """
    seed, replicate = params.get("seed"), params.get("replicate")
    expected_seed = seed + replicate if isinstance(seed, int) and isinstance(replicate, int) else None
    expected = {"student": {"method": method, "setting": setting, "seed": expected_seed}, "baseline": {"seed": expected_seed}}
    for model, fields in expected.items():
        recorded = _lookup(metrics, (f"metrics/{model}.json", "data")) or {}
        for field, value in fields.items():
            # Metrics written before these records existed cannot be checked: trust them.
            if field in recorded and value is not None and recorded[field] != value:
                return f"its {model} was trained with {field} {recorded[field]!r}, its params say {value!r}"
    return ""


def experiments_table(exp_show: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per distinct run with a student: its params, and val and test accuracies."""
    rows = []
    for name, rev, data in _walk(exp_show):
        params = _lookup(data, ("params", "params.yaml", "data")) or {}
        metrics = data.get("metrics") or {}
        distill = params.get("distill") or {}
        method = distill.get("method")
        settings = method_settings(distill) if method in METHODS else {}
        row: dict[str, Any] = {
            "experiment": name,
            "rev": rev,
            "source": source_label(_lookup(params, ("data", "source"))),
            "method": method,
            "setting": setting_label(settings),
            "settings": settings,
            "replicate": params.get("replicate"),
            "epoch_cap": distill.get("epochs"),
        }
        for column in KD_COLUMNS:
            row[column] = settings.get(column) if method == "kd" else None
        for model in MODEL_NAMES:
            model_metrics = _lookup(metrics, (f"metrics/{model}.json", "data")) or {}
            row[model] = model_metrics.get("test_accuracy")
            row[f"{model}_val"] = model_metrics.get("val_accuracy")
            if model == "student":
                for key in ("epochs", "best_epoch", "train_images_per_second", "train_seconds"):
                    row[f"student_{key}"] = model_metrics.get(key)
        mismatch = _stale_outputs(params, method, row["setting"], metrics)
        if mismatch:
            logger.warning(f"warning: experiment {name} ({rev[:7]}) left out: {mismatch} "
                           "(its stages did not run for these params, e.g. a queued run killed mid-stage that DVC saved anyway)")
            continue
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.dropna(subset=["student", "baseline", "method"])
    table["gain"] = table["student"] - table["baseline"]
    # The workspace repeats HEAD or one experiment; keep each distinct result once.
    distinct = table.drop_duplicates(subset=["source", "method", "setting", "replicate", *MODEL_NAMES], keep="last")
    return distinct.reset_index(drop=True)


def kd_runs(table: pd.DataFrame) -> pd.DataFrame:
    """The KD runs of the data source that has the most of them (the T × λ sweep)."""
    kd = table[table["method"] == "kd"]
    if kd.empty:
        return kd
    return kd[kd["source"] == kd["source"].value_counts().index[0]]


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """KD's gain over the baseline per (T, λ, T² scale): mean ± std over replicates, best val first."""
    grouped = kd_runs(table).groupby(list(KD_COLUMNS), dropna=False)
    summary = grouped.agg(
        replicates=("replicate", "nunique"),
        baseline_mean=("baseline", "mean"),
        student_val_mean=("student_val", "mean"),
        student_mean=("student", "mean"),
        gain_mean=("gain", "mean"),
        gain_std=("gain", lambda gains: gains.std(ddof=1) if len(gains) > 1 else np.nan),
    )
    return summary.reset_index().sort_values("student_val_mean", ascending=False)


def _percent(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.2f}"


def markdown_report(table: pd.DataFrame, seeds: pd.DataFrame) -> str:
    """The whole report as Markdown: runs ranked by the student's val accuracy."""
    lines = [
        "# Distillation experiments",
        "",
        "Collected from `dvc exp show --json` by `python -m scripts.report`. Accuracy in %; runs are",
        "ranked by the student's **val** accuracy (what any choice is made on); test is shown beside it.",
        "Gain = student − baseline test accuracy of the same run, in points.",
        "",
        "| experiment | data | method | setting | replicate | teacher | baseline | student val | student test | gain |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for _, row in table.sort_values("student_val", ascending=False).iterrows():
        lines.append(
            f"| {row['experiment']} | {row['source']} | {row['method']} | {row['setting']} | {row['replicate']} | "
            f"{_percent(row['teacher'])} | {_percent(row['baseline'])} | {_percent(row['student_val'])} | "
            f"{_percent(row['student'])} | {100 * row['gain']:+.2f} |"
        )
    if not seeds.empty:
        lines += [
            "",
            "## KD: gain over the baseline across replicates",
            "",
            "Each replicate re-trains both the baseline and the student with seed + replicate (same data,",
            "same teacher). Ranked by the student's mean val accuracy; gain is mean ± sample standard",
            "deviation of the test-accuracy gain, in points.",
            "",
            "| T | λ | T² scale | replicates | baseline test | student val | student test | gain |",
            "|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for _, row in seeds.iterrows():
            spread = "" if pd.isna(row["gain_std"]) else f" ± {100 * row['gain_std']:.2f}"
            lines.append(
                f"| {row['temp']:g} | {row['lambda']:g} | {row['t2_scale']} | {row['replicates']} | "
                f"{_percent(row['baseline_mean'])} | {_percent(row['student_val_mean'])} | "
                f"{_percent(row['student_mean'])} | {100 * row['gain_mean']:+.2f}{spread} |"
            )
    return "\n".join(lines) + "\n"


def save_heatmap(table: pd.DataFrame, path: str | Path) -> bool:
    """KD student val accuracy over T × λ at replicate 0, test beside; best val in bold.

    Returns False (and writes nothing) when there are no KD runs to draw.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    kd = kd_runs(table)
    kd = kd[kd["replicate"] == 0]  # the selection runs: the same rule as the comparison's choice
    if kd.empty:
        return False
    val = kd.pivot_table(index="lambda", columns="temp", values="student_val", aggfunc="last").sort_index()
    test = kd.pivot_table(index="lambda", columns="temp", values="student", aggfunc="last").reindex_like(val)
    baseline = 100 * float(kd["baseline_val"].mean())
    values = val.to_numpy() * 100
    spread = max(float(np.nanmax(np.abs(values - baseline))), 0.1)
    norm = TwoSlopeNorm(vcenter=baseline, vmin=baseline - spread, vmax=baseline + spread)
    figure, axis = plt.subplots(figsize=(1.3 * val.shape[1] + 3, 0.9 * val.shape[0] + 2))
    image = axis.imshow(values, cmap="RdBu", norm=norm, aspect="auto")
    axis.set_xticks(range(val.shape[1]), [f"{t:g}" for t in val.columns])
    axis.set_yticks(range(val.shape[0]), [f"{v:g}" for v in val.index])
    axis.set_xlabel("temperature T")
    axis.set_ylabel("λ (weight of the hard-label term)")
    best = np.unravel_index(np.nanargmax(values), values.shape)
    for (row, column), value in np.ndenumerate(values):
        if not np.isnan(value):
            label = f"val {value:.2f}\ntest {100 * test.to_numpy()[row, column]:.2f}"
            weight = "bold" if (row, column) == best else "normal"
            colour = "white" if abs(value - baseline) > 0.6 * spread else "black"
            axis.text(column, row, label, ha="center", va="center", fontsize=8, fontweight=weight, color=colour)
    colorbar = figure.colorbar(image, ax=axis, label="val accuracy (%); black line: baseline")
    colorbar.ax.axhline(baseline, color="black", linewidth=2)
    axis.set_title(
        f"KD student val accuracy, replicate 0 (test beside), {kd['source'].iloc[0]}"
        f"\nblue beats the baseline's val {baseline:.2f} %; bold: best val (the one to choose)",
        fontsize=10,
    )
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)
    return True
