"""The comparison's tables and charts (``reports/methods.md``, ``reports/*.png``), from its records.

Rendering only: every figure comes from :mod:`distillation.comparison.stats`
(:func:`~distillation.comparison.stats.summarise`, :func:`~distillation.comparison.studies.views_curve`).
"""
from __future__ import annotations

import math
import re

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from distillation.atomic import atomic_output
from distillation.comparison.calibration import RUN_POINTS, SEED_POINTS, TEACHER_POINTS
from distillation.comparison.config import LEAST_SELECTION_REPLICATES
from distillation.comparison.records import Record, record_name
from distillation.comparison.stats import BASELINE_ROW, CONFIDENCE, summarise
from distillation.comparison.studies import ensemble_study, lever_steps, recipe_levers, seed_spread, views_curve
from distillation.reporting.setting_words import METHOD_NAMES, baseline_in_words, label_in_words, searched_note, setting_in_words


def _points(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:+.2f}"


def _interval(low: float, high: float) -> str:
    return "" if pd.isna(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def _p(value: float) -> str:
    return "" if pd.isna(value) else (f"{value:.3f}" if value >= 0.001 else "< 0.001")


def _share(row: pd.Series, column: str = "closure") -> str:
    """A share of the gap closed and its interval, ``74 % [60, 88]`` (the table cell of every report); empty for none."""
    if pd.isna(row[column]):
        return ""
    low, high = row[f"{column}_low"], row[f"{column}_high"]
    if pd.isna(low):
        return f"{100 * row[column]:.0f} %"
    if math.isinf(low) or math.isinf(high):
        return f"{100 * row[column]:.0f} % [unbounded]"  # the gap itself is not distinguishable from 0
    return f"{100 * row[column]:.0f} % [{100 * low:.0f}, {100 * high:.0f}]"


def _name(method: str, control: bool) -> str:
    return f"{method} (control)" if control else method


def methods_markdown(records: list[Record], calibration: pd.DataFrame | None = None) -> str:
    """``reports/methods.md``: per record, the accuracies and the adjusted comparisons, then the
    calibration of the procedure and the K curves."""
    lines = [
        "# Which method helps the MLP most?",
        "",
        "Made by `python -m scripts.report` from the records that `make compare` wrote",
        "(`reports/comparison-*.json`); no other experiment enters these tables. Protocol: each method's",
        "grid point (its setting, and where the grid searched them its recipe knobs such as the number of",
        "views K and the epochs) was chosen on **val** accuracy at MLP seeds (`selection_replicates`) that",
        "are then never reported; where the config searched the baseline's recipe, the baseline was",
        "chosen the same way. The chosen points ran afresh over the reported MLP seeds and, for methods",
        "that read the teacher, over several teachers (`teacher.replicate`). Val columns are affected by",
        "the selection (the point was chosen for its val); test accuracy only reports. Test accuracy in",
        "%, mean ± sample std over runs.",
        "",
        "Differences in points with the **MLP seed as the unit**: each side's runs are averaged over its",
        "teachers within each seed, then the sides are paired by seed (R pairs; `scipy.stats.ttest_rel`",
        f"p-values and {100 * CONFIDENCE:.0f} % intervals). The verdict follows the **Benjamini–Hochberg** adjusted",
        "p-value over all the comparisons of one study (the records one config made: a K curve is one",
        "family), and the adjusted interval is the matching",
        "false-coverage-rate interval (Benjamini & Yekutieli 2005). With 2–3 teachers the inference is",
        "about these teachers, not teachers in general. *Per teacher*: each teacher's mean gain, a",
        "description, not a test. *Controls* learn from no real teacher. Closure: the share of the",
        "teacher–baseline test gap that a method's gain closes, with Fieller's interval for the ratio (the gap",
        "is an estimate too: the teachers' and the MLP alone's spread count); unbounded where the gap itself is",
        "not distinguishable from 0.",
    ]
    for record in records:
        lines += _record_markdown(record)
    lines += calibration_markdown(calibration)
    lines += views_markdown(views_curve(records))
    return "\n".join(lines) + "\n"


def _record_markdown(record: Record) -> list[str]:
    summary = summarise(record)
    label = record.source_label
    teacher_tests = 100 * summary.teacher_tests
    each = " / ".join(f"{value:.2f}" for value in teacher_tests)
    teachers = f"teachers' test accuracy {each} %" if len(teacher_tests) > 1 else f"teacher test accuracy {each} %"
    if len(summary.ensemble_tests):
        teachers += "; their ensembles' " + " / ".join(f"{100 * value:.2f}" for value in summary.ensemble_tests) + " %"
    name = record.name
    fixed = "".join(f", {key} = {value}" for key, value in sorted(record.params.items()))
    lines = [
        "",
        f"## {label}{', ' + name if name else ''}{fixed} ({teachers})",
        "",
        "| method | chosen setting | chosen recipe | grid points (selection) | teachers × seeds | val (chose it) | test | best epoch (max) / cap | train img/s |",
        "|---|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for _, row in summary.methods.iterrows():
        shape = f"{row['teachers']} × {row['replicates']}" if row["teachers"] else f"{row['replicates']}"
        points = "" if pd.isna(row.get("grid_points")) else f"{row['grid_points']:.0f}"
        epochs = "" if pd.isna(row.get("best_epoch_max")) else f"{row['best_epoch_max']:.0f} / {row['epoch_cap']:.0f}"
        speed = "" if pd.isna(row.get("images_per_second")) else f"{row['images_per_second']:,.0f}"
        recipe = row.get("recipe") if isinstance(row.get("recipe"), str) else ""
        lines.append(
            f"| {_name(row['method'], row['control'])} | {row['setting']} | {recipe} | {points} | {shape} | "
            f"{100 * row['val_mean']:.2f} | {100 * row['test_mean']:.2f} ± {100 * row['test_std']:.2f} | {epochs} | {speed} |"
        )
    lines += choice_notes(record, summary.methods)
    comparisons = summary.comparisons
    level = comparisons["adjusted_level"].iloc[0] if not comparisons.empty else CONFIDENCE
    machines = pd.Series([run.get("machine") for run in record.runs]).dropna().value_counts()
    if not machines.empty:  # records made before runs said where they ran say nothing
        lines += ["", "Ran on: " + "; ".join(f"{machine} ({count} runs)" for machine, count in machines.items()) + "."]
    lines += [
        "",
        (f"{len(comparisons)} comparisons, adjusted together with the study's other {len(record.study_p_values)} "
         f"(one family of {len(comparisons) + len(record.study_p_values)})" if record.study_p_values
         else f"{len(comparisons)} comparisons, adjusted together")
        + f"; the adjusted interval's level is {100 * level:.1f} %. "
        + population_note(comparisons),
        "",
        "| comparison | seeds (pairs) | difference | 95 % CI, these test images | 95 % CI, new images | p | BH-adjusted p | adjusted CI "
        "| verdict | closure | per teacher |",
        "|---|---:|---:|---|---|---:|---:|---|---|---|---|",
    ]
    for _, row in comparisons.iterrows():
        against = {"baseline": "baseline", summary.best_control: f"{row['against']} (best control)"}.get(
            row["against"], f"{row['against']} (control)")
        per_teacher = " / ".join(_points(mean) for mean in row["teacher_means"])
        closure = _share(row)
        lines.append(
            f"| {_name(row['method'], row['control'])} − {against} | {row['pairs']} | {_points(row['mean'])} | "
            f"{_interval(row['low'], row['high'])} | {_interval(row['images_low'], row['images_high'])} | "
            f"{_p(row['p'])} | {_p(row['p_adjusted'])} | "
            f"{_interval(row['adjusted_low'], row['adjusted_high'])} | {row['verdict']} | {closure} | {per_teacher} |"
        )
    lines += ["", f"![gain over the baseline per method, {label}]({chart_name(record)})"]
    return lines


def choice_notes(record: Record, methods: pd.DataFrame) -> list[str]:
    """What to keep in mind about the choice on val: how many selection seeds made it, and the
    chosen points on their grid's edge (the best may lie beyond the grid)."""
    seeds = record.config.selection_replicates
    notes = [f"Chosen on the mean val accuracy of {len(seeds)} selection seed{'s' if len(seeds) > 1 else ''} "
             f"({', '.join(map(str, seeds))})"
             + (": one seed's choice between points closer than about 0.2 points is a coin toss (records made from "
                "now on choose on at least 3)." if len(seeds) < LEAST_SELECTION_REPLICATES else ".")]
    edges = [f"{row['method']}: {', '.join(row['edges'])}" for _, row in methods.iterrows() if row.get("edges")]
    if edges:
        notes.append("On the grid's edge (the best may lie beyond what was tried): " + "; ".join(edges) + ".")
    return ["", " ".join(notes)]


def population_note(comparisons: pd.DataFrame) -> str:
    """Which population a record's intervals are about: its test images, and new ones where its runs kept per-image bits."""
    # Every comparison whose runs kept their bits counts its images (even one too flat for an interval).
    images = comparisons["images"].max() if "images" in comparisons and not comparisons.empty else 0
    if images and (comparisons["images"] > 0).all():
        return (f"Every interval but the new-images one is about these {images:,} test images and these teachers; "
                "the new-images interval adds the spread between test images (seeds and images crossed).")
    return ("This record's runs kept no per-image results: its intervals are about these test images (and these "
            "teachers) only, not about new images.")


def calibration_markdown(table: pd.DataFrame | None) -> list[str]:
    """How often the procedure calls a difference under the null, and finds a real one (simulated:
    ``reports/calibration.json``, written by ``python -m scripts.calibrate``)."""
    if table is None:
        return []
    lines = ["", "## Does the 5 % mean 5 %? (simulated)", "",
             "Records simulated under the variance components measured on the real letters (MLP seed",
             f"{SEED_POINTS} points on each side, teacher {TEACHER_POINTS}, run {RUN_POINTS}; `distillation/comparison/calibration.py`),",
             "each run through the comparison's own test of a method against the teacherless baseline. The old",
             "pairing (one pair per teacher and seed, the baseline's run reused for every teacher) is shown",
             "beside it, and for the seed pairing the exact share (the noncentral t averaged over the teachers'",
             "mean; under the null, these teachers give no gain, the estimand the tables state); the calibration test (`tests/test_calibration.py`) holds the simulated share to the exact one",
             "within 3.5 binomial standard errors, the false-positive rate to ≤ 6.5 % and coverage to ≥ 93 %.",
             "The reach comparison (the students against their teachers' mean) is simulated with the teachers' own",
             "accuracy spread at 0.04 and 0.15 points: Welch's interval, which counts the teachers' mean as the",
             "estimate it is, beside the teachers' mean taken as a known constant (before); and Fieller's interval",
             "for the share of the gap closed, scored on the recipe's true share. Records simulated down to each",
             "test image (`distillation/comparison/calibration_images.py`: images that lean toward one side,",
             "equal sides over new images) score both intervals a comparison now gives against new images.",
             ""] + calibration_rows(table).splitlines()
    return lines


def chart_name(record: Record) -> str:
    return f"method_gains-{record_name(record)}.png"


def save_gain_chart(record: Record, path: str | Path) -> None:
    """Each method's paired gain over the baseline: 95 % interval (thin) and adjusted interval (thick)."""
    from distillation.reporting.headless_pyplot import pyplot as plt

    summary = summarise(record)
    order = list(summary.methods["method"])
    gains = summary.comparisons[summary.comparisons["against"] == "baseline"].dropna(subset=["low"])
    gains = gains.assign(rank=gains["method"].map(order.index)).sort_values("rank", ascending=False)
    figure, axis = plt.subplots(figsize=(7.5, 0.55 * len(gains) + 1.8))
    for position, (_, row) in enumerate(gains.iterrows()):
        colour = "grey" if row["control"] else "tab:blue"
        axis.plot([100 * row["adjusted_low"], 100 * row["adjusted_high"]], [position, position], color=colour, linewidth=5, alpha=0.45)
        axis.errorbar(100 * row["mean"], position, xerr=[[100 * (row["mean"] - row["low"])], [100 * (row["high"] - row["mean"])]],
                      fmt="o", color=colour, capsize=4)
    axis.axvline(0, color="black", linewidth=1)
    axis.set_yticks(range(len(gains)), [_name(m, c) for m, c in zip(gains["method"], gains["control"])])
    axis.set_xlabel("test-accuracy gain over the baseline MLP, points\n(paired by MLP seed; thin: 95 % CI, thick: BH/FCR-adjusted CI)")
    axis.set_title(f"{record.source_label}: ranked by val accuracy, best on top", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)


def views_markdown(curve: pd.DataFrame) -> list[str]:
    """The K-curve section of ``methods.md``: gains and gap closure against the number of views."""
    if curve.empty:
        return []
    lines = ["", "## Gain against the number of stored views (augment.views)", "",
             "Each K is its own comparison (its record above): settings re-chosen on val at that K, the same",
             "replicates and teachers. Gains over the plain baseline MLP in points (paired, 95 % CI);",
             "closure: the share of the teacher–baseline test gap that the method's mean closes (its interval:",
             "Fieller's, for the ratio of two estimates). Over hard_labels: the test gain over the MLP trained on the same",
             "views with labels only, what the teacher adds beyond the augmentation. Teacher on views: the",
             "teachers' mean accuracy on the stored views (`metrics/view_targets.json`). Val gains are affected",
             "by the selection (each setting was chosen for its val); test gains only report.", ""]
    for (source, series), rows in curve.groupby(["source", "series"]):
        lines += [f"### {source}" + (f", {series}" if series else ""), "",
                  "| method | K | teacher on views | chosen setting | val gain (chose it) | test gain | test | closure | over hard_labels (test) |",
                  "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
        for _, row in rows.iterrows():
            closure = _share(row)
            on_views = "" if pd.isna(row["teacher_on_views"]) else f"{100 * row['teacher_on_views']:.2f} %"
            lines.append(
                f"| {_name(row['method'], row['control'])} | {row['views']} | {on_views} | {row['setting']} | "
                f"{_points(row['val_gain'])} {_interval(row['val_low'], row['val_high'])} | "
                f"{_points(row['test_gain'])} {_interval(row['test_low'], row['test_high'])} | "
                f"{100 * row['test_mean']:.2f} | {closure} | "
                f"{_points(row['augmented_gain'])} {_interval(row['augmented_low'], row['augmented_high'])} |")
    for source in curve["source"].unique():
        lines += ["", f"![gain against the number of views, {source}]({views_chart_name(source)})"]
    return lines


# Issue 17's goal: the best distilled student closes three quarters of the teacher–MLP test gap.
CLOSURE_GOAL = 0.75


def views_chart_name(source: str) -> str:
    return f"gain_against_views-{Path(source).stem}.png"


def save_views_chart(curve: pd.DataFrame, source: str, path: str | Path) -> None:
    """Val and test gain over the baseline against K, the share of the test gap closed and the test
    gain over hard_labels (what the teacher adds to the views); one line per method, 95 % intervals
    as bars, the closure goal (``CLOSURE_GOAL``) as a dotted line. A series other than the plain
    one (a record that fixed more than K) is drawn in its method's colour with square markers."""
    from distillation.reporting.headless_pyplot import pyplot as plt

    rows = curve[curve["source"] == source]
    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    axes = axes.ravel()
    panels = (("val_gain", "val_low", "val_high", "val accuracy gain over the baseline MLP, points (affected by the selection)"),
              ("test_gain", "test_low", "test_high", "test accuracy gain over the baseline MLP, points"),
              ("closure", "closure_low", "closure_high", "share of the teacher–baseline test gap closed, %"),
              ("augmented_gain", "augmented_low", "augmented_high",
               "test gain over hard_labels (the MLP on the same views), points"))
    colours = {method: f"C{index}" for index, method in enumerate(sorted(rows["method"].unique()))}
    for axis, (centre, low, high, title) in zip(axes, panels):
        for (series, method), own in rows.groupby(["series", "method"]):
            own = own.sort_values("views").dropna(subset=[centre])
            if own.empty:  # hard_labels has no gain over itself
                continue
            control = bool(own["control"].iloc[0])
            mean = 100 * own[centre].to_numpy()
            # An unbounded interval (a share whose gap is not distinguishable from 0) gets no bar.
            bounds = [100 * own[side].replace([np.inf, -np.inf], np.nan).to_numpy() for side in (low, high)]
            error = [mean - bounds[0], bounds[1] - mean]
            axis.errorbar(own["views"].to_numpy(), mean, yerr=error, marker="s" if series else "o", capsize=3,
                          label=_name(method, control) + (f", {series}" if series else ""),
                          linestyle="--" if control else "-", color=colours[method])
        axis.axhline(0, color="black", linewidth=1)
        axis.set_xscale("symlog", linthresh=1)
        axis.set_xticks(sorted(rows["views"].unique()), [str(k) for k in sorted(rows["views"].unique())])
        axis.set_xlabel("stored views per training image (augment.views)")
        axis.set_title(title, fontsize=10)
    axes[0].sharey(axes[1])
    axes[2].axhline(100 * CLOSURE_GOAL, color="grey", linestyle=":", linewidth=1.5, label=f"goal, {CLOSURE_GOAL:.0%}")
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    figure.suptitle(f"{source}: gains paired by MLP seed, 95 % CI", fontsize=10)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100)
    plt.close(figure)


def summary_table(record: Record) -> str:
    """A record's results in one table for the README and docs: each method's setting in words, test
    accuracy, its gain over the MLP alone and its difference to the best control (seed-paired, 95 %
    CI, the adjusted verdict), the share of the teacher–MLP gap it closes and each teacher's mean
    gain; under it, what was chosen on val, what was fixed, and each term in one line."""
    summary = summarise(record)
    comparisons = summary.comparisons
    best = summary.best_control
    lines = ["| method and setting | test % (mean ± sd) | gain over the MLP alone [95 % CI] | "
             + (f"− {best} [95 % CI] | " if best else "") + "share of the gap closed [95 % CI] | gain per teacher |",
             "|---|---:|---|" + ("---|" if best else "") + "---:|---|"]
    fixed_notes = []
    for _, row in summary.methods.iterrows():
        method = row["method"]
        own = comparisons[comparisons["method"] == method]
        if method == BASELINE_ROW:
            words = " · ".join(["MLP alone", *([baseline_in_words(row["recipe"])] if row["recipe"] else [])])
        else:
            words, fixed = setting_in_words(record, method, row["setting"], row.get("recipe"))
            fixed_notes += [f"{METHOD_NAMES.get(method, method)}: {', '.join(fixed)}"] if fixed else []
        cells = [words + (" (control)" if row["control"] else ""), f"{100 * row['test_mean']:.2f} ± {100 * row['test_std']:.2f}"]
        gain = own[own["against"] == "baseline"]
        versus = own[own["against"] == best] if best else own.iloc[:0]
        for frame in ([gain, versus] if best else [gain]):
            cells.append("" if frame.empty else _verdict_cell(frame.iloc[0]))
        cells.append("" if gain.empty else _share(gain.iloc[0]))
        cells.append(" / ".join(_points(mean) for mean in gain["teacher_means"].iloc[0]) if not gain.empty else "")
        lines.append("| " + " | ".join(cells) + " |")
    teachers = " / ".join(f"{100 * value:.2f}" for value in summary.teacher_tests)
    if len(summary.ensemble_tests):
        teachers += " %; the ensembles they lead " + " / ".join(f"{100 * value:.2f}" for value in summary.ensemble_tests)
    notes = [searched_note(record)]
    if fixed_notes:
        notes.append("Left as `params.yaml` ships them: " + "; ".join(fixed_notes) + ".")
    notes.append(f"Teachers' test accuracy {teachers} %. From `{Path(record.path).name}`; all figures: `reports/methods.md`.")
    lines += ["", " ".join(note for note in notes if note), "",
              "- *gain over the MLP alone*: test accuracy minus the MLP alone's, in points, paired by MLP seed; "
              "the verdict is the Benjamini–Hochberg-adjusted one over the study",
              *([f"- *− {best}*: the same against {best}, the control (a method that reads no teacher) with the best mean val accuracy"]
                if best else []),
              "- *share of the gap closed*: the gain over the MLP alone divided by the teachers' mean minus the MLP alone's",
              "- *gain per teacher*: the gain with each teacher's students alone (a description, not a test)"]
    return "\n".join(lines)


def _verdict_cell(row: pd.Series) -> str:
    gain = _points(row["mean"])
    if row["verdict"] in ("higher", "lower"):
        gain = f"**{gain}**"
    return f"{gain} {_interval(row['low'], row['high'])} {row['verdict']}".strip()


def views_table(curve: pd.DataFrame, name: str) -> str:
    """One K curve (``<data stem>`` or ``<data stem> <series>``) as a table, a row per K."""
    stem, _, series = name.partition(" ")
    rows = curve[(curve["source"].map(lambda source: Path(source).stem) == stem) & (curve["series"] == series)]
    if rows.empty:
        raise ValueError(f"no K curve '{name}' among the records")
    taught = sorted(method for method in rows["method"].unique() if not rows[rows["method"] == method]["control"].iloc[0])
    header = ["K views", "teachers right on the views"]
    for method in taught:
        header += [f"{method} test %", f"{method}: share of the gap [95 % CI]", f"{method} − hard_labels [95 % CI]"]
    header += ["hard_labels test %"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for views, own in rows.groupby("views"):
        by_method = own.set_index("method")
        on_views = by_method["teacher_on_views"].iloc[0]
        cells = [str(views), "" if pd.isna(on_views) else f"{100 * on_views:.2f} %"]
        for method in taught:
            if method not in by_method.index:
                cells += ["", "", ""]
                continue
            row = by_method.loc[method]
            cells += [f"{100 * row['test_mean']:.2f}",
                      _share(row),
                      (f"{_points(row['augmented_gain'])} {_interval(row['augmented_low'], row['augmented_high'])} "
                       f"{row['augmented_verdict']}").strip()]
        cells.append(f"{100 * by_method.loc['hard_labels', 'test_mean']:.2f}" if "hard_labels" in by_method.index else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _study_rows(table: pd.DataFrame, name: str, required: bool = True) -> pd.DataFrame:
    """The rows of one ensemble study, named ``<data stem> <config name>``; one line if there is none
    and some are ``required``."""
    stem, _, config = name.partition(" ")
    rows = table[(table["source"].map(lambda source: Path(source).stem) == stem) & (table["name"] == config)] if not table.empty else table
    if rows.empty and required:
        raise ValueError(f"no ensemble study '{name}' among the records")
    return rows


def ensemble_table(study: pd.DataFrame, name: str) -> str:
    """One ensemble study (``<data stem> <config name>``) as a table: a row per (teachers, method)."""
    rows = _study_rows(study, name)
    teachers = rows["teachers_mean"].iloc[0]
    lines = ["| teachers | method and setting | runs | test % | − the single teachers' mean "
             f"({100 * teachers:.2f} %) [95 % CI] | − the ensembles' mean [95 % CI] | − the same method from one teacher [95 % CI] "
             f"| − hard_labels [95 % CI] | share of the gap from the MLP alone ({100 * rows['baseline_mean'].iloc[0]:.2f} %) closed: "
             "to the teachers' mean · to the ensembles' [95 % CI] |", "|---:|---|---:|---:|---|---|---|---|---|"]
    for _, row in rows.sort_values(["teachers", "method"]).iterrows():
        ensembles = "" if pd.isna(row["ensembles_mean"]) else (
            f"{_tested(row, 'to_ensembles')} (ensembles {100 * row['ensembles_mean']:.2f} %)")
        cells = [str(row["teachers"]), label_in_words(row["method"], row["setting"]), str(row["runs"]), f"{100 * row['test_mean']:.2f}",
                 _tested(row, "to_teachers"), ensembles, _tested(row, "over_one"),
                 f"{_points(row['over_hard_labels'])} {_interval(row['over_hard_labels_low'], row['over_hard_labels_high'])} "
                 f"{row['over_hard_labels_verdict']}".strip(),
                 " · ".join(_share(row, column) for column in ("closure_teachers", "closure_ensembles") if not pd.isna(row[column]))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "The seed is the unit: each MLP seed's runs averaged over its teachers (or ensembles), then Welch's interval "
              "between the seeds' and the teachers' (the ensembles') accuracies, their mean an estimate with its own spread; "
              "against one teacher, paired by seed; against hard_labels, "
              "the record's own test. Every verdict is Benjamini–Hochberg adjusted over the whole study (these tests and "
              "every comparison of its records: one family); the share of the gap closed, the gain over the MLP "
              "alone over the gap, with Fieller's interval for that ratio (the gap an estimate too)."]
    return "\n".join(lines)


def _tested(row: pd.Series, column: str) -> str:
    """A study's test as a cell: the difference, its 95 % interval and its verdict adjusted over the study."""
    if pd.isna(row[column]):
        return ""
    return f"{_points(row[column])} {_interval(row[f'{column}_low'], row[f'{column}_high'])} {row[f'{column}_verdict']}".strip()


def reach_table(study: pd.DataFrame, name: str) -> str:
    """An ensemble study (``<data stem> <config name>``) as a table: how near each student came to the
    single teachers' mean (and to the ensembles' own), with the seed as the unit; its words are the page's."""
    rows = _study_rows(study, name).sort_values(["teachers", "method"])
    lines = ["| method and setting | taught by | MLP seeds × teachers | MLP alone % | test % | teachers' mean % "
             "| − teachers [95 % CI] | share of the gap closed [95 % CI] | ensembles' own % | − ensembles [95 % CI] | share of that gap [95 % CI] |",
             "|---|---|---|---:|---:|---:|---|---:|---:|---|---:|"]
    for _, row in rows.iterrows():
        teacher = "one teacher" if row["teachers"] == 1 else f"an ensemble of {row['teachers']}"
        ensembles = ["", "", ""] if pd.isna(row["ensembles_mean"]) else [
            f"{100 * row['ensembles_mean']:.2f}", _tested(row, "to_ensembles"),
            _share(row, "closure_ensembles")]
        cells = [label_in_words(row["method"], row["setting"]), teacher, f"{row['replicates']} × {row['runs'] // row['replicates']}",
                 f"{100 * row['baseline_mean']:.2f}", f"{100 * row['test_mean']:.2f}", f"{100 * row['teachers_mean']:.2f}",
                 _tested(row, "to_teachers"), _share(row, "closure_teachers"), *ensembles]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def levers_table(levers: pd.DataFrame, spread: pd.DataFrame, name: str) -> str:
    """An ensemble study's selection runs (``<data stem> <config name>``): val and test per recipe,
    then each lever's steps on val beside the seed-to-seed spread of one run (``spread``,
    :func:`~distillation.comparison.studies.seed_spread`)."""
    rows = _study_rows(levers, name)
    spread = _study_rows(spread, name, required=False)
    lines = ["| method | teachers | setting | K views | epochs | views shown per image | selection runs | val % (chose) | test % |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for _, row in rows.sort_values(["method", "teachers", "views", "epochs", "setting"], na_position="first").iterrows():
        teachers = "" if pd.isna(row["teachers"]) else f"{row['teachers']:.0f}"
        val = f"{100 * row['val']:.2f}" + (" (chosen)" if row["chosen"] else "")
        lines.append(f"| {row['method']} | {teachers} | {row['setting']} | {row['views']} | {row['epochs']} | {row['views_shown_per_image']:.0f} | "
                     f"{row['runs']} | {val} | {100 * row['test']:.2f} |")
    return "\n".join(lines + _lever_lines(lever_steps(rows), spread))


def _lever_lines(steps: pd.DataFrame, spread: pd.DataFrame) -> list[str]:
    """Each lever's steps on val in words, with how far one run moves with its seed as the yardstick."""
    if steps.empty:
        return []
    noise = ", ".join(f"{row['method']} {100 * row['sd']:.2f}" for _, row in spread.iterrows())
    lines = ["", "One lever at a time, the val change in points (one run per point"
             + (f"; one run's val moves with its MLP seed alone by a standard deviation of {noise} points, "
                "a step between two runs by √2 times that" if noise else "") + "):", ""]
    for (method, teachers), group in steps.groupby(["method", "teachers"], dropna=False, sort=True):
        parts = []
        group = group.assign(other=group["setting"] != group["base"]).sort_values("other", kind="stable")  # the base's steps first
        for (lever, start, end, setting), along in group.groupby(["lever", "from", "to", "setting"], sort=False):
            name = {"epochs": "epochs", "views": "K"}.get(lever)
            where = ", ".join(f"{_points(row['val_change'])} at " + (f"K {row['views']}" if lever == "epochs" else
                                                                      f"{row['epochs']} epochs" if lever == "views" else
                                                                      f"K {row['views']}, {row['epochs']} epochs")
                              for _, row in along.iterrows())
            within = f" ({setting})" if name and setting != along["base"].iloc[0] else ""
            parts.append(f"{name} {start} → {end}{within}: {where}" if name else f"{end}: {where}")
        who = method + ("" if pd.isna(teachers) else f", {teachers:.0f} teacher{'s' if teachers > 1 else ''}")
        lines.append(f"- {who}: " + "; ".join(parts))
    return lines


def calibration_rows(table: pd.DataFrame) -> str:
    """The calibration (``reports/calibration.json``) as a table."""
    lines = ["| teachers × seeds | teacher sd, points | true gain, points | records | procedure | called a difference | exact | "
             "95 % CI covers the truth |",
             "|---|---:|---:|---:|---|---:|---:|---:|"]
    for _, row in table.iterrows():
        exact = row.get("called_exact", math.nan)
        lines.append(f"| {row['teachers']} × {row['seeds']} | {row['teacher_points']:g} | {row['gain_points']:g} | {row['records']:,} | "
                     f"{row['pairing']} | {100 * row['called']:.1f} % | {'' if pd.isna(exact) else f'{100 * exact:.1f} %'} | "
                     f"{100 * row['covered']:.1f} % |")
    return "\n".join(lines)


def runs_table(records: list[Record]) -> str:
    """What each record cost: its runs by phase, the MLP training time they hold and the CPU they ran on."""
    lines = ["| record | runs (selection + reported) | MLP training, hours | minutes per run, median (max) | wall hours (sittings) | machine |",
             "|---|---:|---:|---:|---:|---|"]
    for record in records:
        phases = [run.get("phase", "reported") for run in record.runs]
        seconds = [run["student_train_seconds"] for run in record.runs if run.get("student_train_seconds")]
        hours = sum(seconds) / 3600
        per_run = f"{np.median(seconds) / 60:.1f} ({max(seconds) / 60:.1f})" if seconds else "not recorded"
        machines = sorted({run.get("machine") or "not recorded" for run in record.runs})
        sittings = record.sittings
        wall = f"{sum(sitting['hours'] for sitting in sittings):.1f} ({len(sittings)})" if sittings else "not recorded"
        lines.append(f"| `comparison-{record_name(record)}.json` | {phases.count('selection')} + {phases.count('reported')} | "
                     f"{hours:.1f} | {per_run} | {wall} | {', '.join(machines)} |")
    lines += ["", "MLP training: the sum of the runs' `student_train_seconds` (two runs at a time share the cores; early "
              "stopping ends some before their epochs). Wall hours: "
              "each `make compare` sitting's, up to its last batch (everything: teachers, views, the MLPs); a record "
              "made before sittings were kept has none. A run that several records of a study share (one that reads no "
              "teacher, beside `teacher.ensemble`) is counted in each."]
    return "\n".join(lines) + "\n"


def doc_renderers(records: list[Record], calibration: pd.DataFrame | None = None) -> dict[str, Any]:
    """The kinds of block that the README and docs may hold (:mod:`distillation.reporting.doc_blocks`)."""
    by_name = {record_name(record): record for record in records}
    curve, study = views_curve(records), ensemble_study(records)
    levers, spread = recipe_levers(records), seed_spread(records)

    def record(name: str) -> dict[str, Any]:
        if name not in by_name:
            raise ValueError(f"no complete record reports/comparison-{name}.json")
        return by_name[name]

    def calibrated(name: str) -> str:
        if calibration is None:
            raise ValueError("no reports/calibration.json: run `python -m scripts.calibrate`")
        return calibration_rows(calibration)

    def chosen_records(name: str) -> list[dict[str, Any]]:
        """A record's name, or a prefix ending in ``*`` for every record whose name starts with it."""
        if not name.endswith("*"):
            return [record(name)]
        chosen = [by_name[stem] for stem in sorted(by_name, key=_natural_order) if stem.startswith(name[:-1])]
        if not chosen:
            raise ValueError(f"no complete record reports/comparison-{name}.json")
        return chosen

    return {"summary": lambda name: summary_table(record(name)), "views": lambda name: views_table(curve, name),
            "calibration": calibrated, "runs": lambda name: runs_table(chosen_records(name)),
            "ensemble": lambda name: ensemble_table(study, name), "reach": lambda name: reach_table(study, name),
            "levers": lambda name: levers_table(levers, spread, name)}


def _natural_order(name: str) -> list:
    """views=2 before views=16."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
