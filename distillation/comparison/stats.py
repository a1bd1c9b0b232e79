"""The comparison's statistics, with the MLP seed as the unit (see :mod:`distillation.comparison`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.config.identity import VIEWS_KEY, reads_teacher
from distillation.methods import CONTROLS
from distillation.comparison.plan import grid_edges
from distillation.comparison.records import Record
from distillation.comparison.images import new_images_interval, per_seed_correct


CONFIDENCE = 0.95


ALPHA = 1 - CONFIDENCE
BASELINE_ROW = "baseline (MLP alone)"  # the MLP alone's row among the methods


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


def gap_share_interval(method: pd.DataFrame, baseline: pd.DataFrame, teachers: np.ndarray) -> dict[str, float]:
    """The share of the gap from the MLP alone up to the teachers that the method's gain closes, and
    Fieller's 95 % interval for that ratio: both its numerator (the seed-paired gain) and its
    denominator (the teachers' mean − the MLP alone's) are estimates.

    With the MLP seed as the unit (``accuracy`` averaged within each ``replicate``) and the teachers
    a separate sample: θ is in the interval where (gain − θ·gap)² ≤ q²·Var(gain − θ·gap), with
    Var = Var_s(u + θ·b)/R + θ²·Var(teachers)/T (u the per-seed gain, b the MLP alone's accuracy)
    and q Student's t at Satterthwaite's degrees of freedom at the estimate. When the gap itself is
    not distinguishable from 0 the set is unbounded: ``low`` −∞ and ``high`` +∞ (or NaN for too few
    runs). One teacher: its accuracy taken as known (the inference is about that teacher).
    """
    nothing = {"share": math.nan, "low": math.nan, "high": math.nan}
    ours = method.groupby("replicate")["accuracy"].mean()
    alone = baseline.groupby("replicate")["accuracy"].mean()
    seeds = ours.index.intersection(alone.index)
    teachers = np.asarray(teachers, dtype=float)
    if len(seeds) < 2 or not len(teachers):
        return nothing
    gains, base = (ours.loc[seeds] - alone.loc[seeds]).to_numpy(), alone.loc[seeds].to_numpy()
    seeds_count, teachers_count = len(seeds), len(teachers)
    gain, gap = gains.mean(), teachers.mean() - base.mean()
    if not gap > 0:
        return nothing
    share = gain / gap
    covariance = np.cov(gains, base, ddof=1)
    s_uu, s_ub, s_bb = covariance[0, 0], covariance[0, 1], covariance[1, 1]
    s_tt = teachers.var(ddof=1) if teachers_count > 1 else 0.0
    seed_part = (s_uu + 2 * share * s_ub + share**2 * s_bb) / seeds_count
    teacher_part = share**2 * s_tt / teachers_count
    freedom = seeds_count - 1
    if teacher_part > 0:
        freedom = (seed_part + teacher_part) ** 2 / (seed_part**2 / (seeds_count - 1) + teacher_part**2 / (teachers_count - 1))
    q2 = stats.t.ppf(1 - ALPHA / 2, freedom) ** 2
    quadratic = gap**2 - q2 * (s_bb / seeds_count + s_tt / teachers_count)
    linear = -2 * (gain * gap + q2 * s_ub / seeds_count)
    constant = gain**2 - q2 * s_uu / seeds_count
    discriminant = linear**2 - 4 * quadratic * constant
    if quadratic <= 0 or discriminant < 0:
        return {"share": share, "low": -math.inf, "high": math.inf}
    root = math.sqrt(discriminant)
    return {"share": share, "low": (-linear - root) / (2 * quadratic), "high": (-linear + root) / (2 * quadratic)}


def verdict(mean: float, p_adjusted: float) -> str:
    """A comparison's verdict from its difference and its adjusted p."""
    if math.isnan(p_adjusted):
        return "too few runs"
    if p_adjusted > ALPHA:
        return "not distinguishable"
    return "higher" if mean > 0 else "lower"


@dataclass(frozen=True)
class Summary:
    """A record's reported runs summarised (:func:`summarise`)."""

    methods: pd.DataFrame  # a row per method and the MLP alone: val and test means, runs, seeds, teachers
    comparisons: pd.DataFrame  # a row per test: the paired difference, its p and intervals, the verdict, the share of the gap
    teacher_tests: np.ndarray  # each teacher's test accuracy, once
    ensemble_tests: np.ndarray  # each ensemble's own test accuracy, once (none for one teacher)
    best_control: str | None  # the control with the higher mean val accuracy
    sides: dict[str, pd.DataFrame]  # per method and ``baseline``: its runs, ``accuracy`` the one tested
    gap: float  # the teachers' mean test accuracy − the MLP alone's


def _methods_table(record: Record, per_method: dict[str, pd.DataFrame], baseline: pd.DataFrame) -> pd.DataFrame:
    """A row per method and the MLP alone: what was chosen, its runs, its val and test means; best val first."""
    rows = []
    for method, frame in per_method.items():
        choice = record.chosen[method]
        rows.append({
            "method": method, "setting": choice.setting, "recipe": choice.recipe,
            "views": frame["views"].max() if "views" in frame else record.params.get(VIEWS_KEY),
            "control": method in CONTROLS, "grid_points": choice.grid_points,
            "edges": grid_edges(record.config.grids[method], choice.overrides),
            "teachers": frame["teacher_replicate"].nunique() if reads_teacher(method) else 0,
            "replicates": frame["replicate"].nunique(), "runs": len(frame),
            "val_mean": frame["student_val"].mean(), "test_mean": frame["student"].mean(),
            "test_std": frame["student"].std(ddof=1),
            "best_epoch_max": frame["student_best_epoch"].max(), "epoch_cap": frame["epoch_cap"].max(),
            "images_per_second": frame["student_train_images_per_second"].mean(),
        })
    tuned = record.baseline
    rows.append({"method": BASELINE_ROW, "setting": "", "recipe": tuned.setting if tuned else "", "views": 0,
                 "control": False, "grid_points": tuned.grid_points if tuned else None,
                 "edges": grid_edges(record.config.baseline, tuned.overrides) if tuned else [],
                 "teachers": 0, "replicates": len(baseline), "runs": len(baseline),
                 "val_mean": baseline["baseline_val"].mean(), "test_mean": baseline["baseline"].mean(),
                 "test_std": baseline["baseline"].std(ddof=1)})
    return pd.DataFrame(rows).sort_values("val_mean", ascending=False).reset_index(drop=True)


def comparison_family(methods: list[str], best_control: str | None) -> list[tuple[str, str]]:
    """The comparisons made: each method against the baseline, the best control and, with views, hard_labels."""
    family = [(method, "baseline") for method in methods]
    if best_control is not None:
        family += [(method, best_control) for method in methods if method != best_control]
    if "hard_labels" in methods and best_control != "hard_labels":
        # With views, hard_labels is the augmented MLP: what a method gains beyond it is the teacher's.
        family += [(method, "hard_labels") for method in methods if method not in CONTROLS]
    return family


def bh_adjusted(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg-adjusted p-values of one family; a NaN (too few runs) stays NaN and is no member."""
    p_values = np.asarray(p_values, dtype=float)
    finite = ~np.isnan(p_values)
    adjusted = np.full(len(p_values), math.nan)
    if finite.any():
        adjusted[finite] = stats.false_discovery_control(p_values[finite], method="bh")
    return adjusted


def comparisons_table(family: list[tuple[str, str]], sides: dict[str, pd.DataFrame],
                      others: tuple[float, ...] = ()) -> pd.DataFrame:
    """Each comparison's seed-paired test, Benjamini–Hochberg-adjusted p, false-coverage-rate interval and verdict.

    ``others``: the raw p-values of the other comparisons in the same family (the study's other
    records): adjusted together with these, and counted in the false-coverage-rate level."""
    tests = [(method, against, paired_difference(sides[method], sides[against])) for method, against in family]
    correct = {name: per_seed_correct(sides[name]) for name in {side for pair in family for side in pair}}  # decoded once a side
    p_values = np.array([test["p"] for _, _, test in tests] + list(others), dtype=float)
    finite = ~np.isnan(p_values)
    adjusted = bh_adjusted(p_values)
    declared = max(1, int(np.sum(adjusted[finite] <= ALPHA)))
    fcr_level = 1 - declared * ALPHA / max(1, int(finite.sum()))
    rows = []
    for (method, against, test), p_adjusted in zip(tests, adjusted):
        low, high = (test["test"].confidence_interval(fcr_level) if "test" in test else (math.nan, math.nan))
        rows.append({
            "method": method, "against": against, "control": method in CONTROLS, "pairs": test["pairs"],
            "mean": test["mean"], "low": test["low"], "high": test["high"], "p": test["p"],
            "p_adjusted": p_adjusted, "adjusted_low": float(low), "adjusted_high": float(high),
            "adjusted_level": fcr_level, "verdict": verdict(test["mean"], p_adjusted),
            "teacher_means": teacher_means(sides[method], sides[against]),
            **new_images_interval(correct[method], correct[against], CONFIDENCE),
        })
    return pd.DataFrame(rows)


def study_key(record: Record) -> tuple:
    """What makes records one study: one source, one config name, the same params fixed (each record its own values)."""
    return record.source_label, record.name, tuple(sorted(record.params))


def with_study_families(records: list[Record], study_tests: dict[tuple, list[float]] | None = None) -> list[Record]:
    """Each record with the raw p-values of its study's other tests, so :func:`summarise` adjusts one
    Benjamini–Hochberg family per study (a K curve of six records is one family of their
    comparisons). ``study_tests``: per :func:`study_key`, the p-values of the tests a study makes
    across its records (the ensemble study's: :func:`~distillation.comparison.studies.study_tests`)."""
    raw = {id(record): raw_p_values(record) for record in records}
    return [record.model_copy(update={"study_p_values": tuple(
        [p for other in records if other is not record and study_key(other) == study_key(record) for p in raw[id(other)]]
        + list((study_tests or {}).get(study_key(record), [])))})
        for record in records]


def study_family(records: list[Record], key: tuple) -> list[float]:
    """The raw p-values of every comparison of the records of the study ``key`` (its tests across records aside)."""
    return [p for record in records if study_key(record) == key for p in raw_p_values(record)]


def raw_p_values(record: Record) -> list[float]:
    """The unadjusted p-value of each comparison of the record's family, in :func:`comparison_family`'s order."""
    runs = record.runs_of("reported")
    per_method, _, sides, best_control = _sides(runs, record)
    return [paired_difference(sides[method], sides[against])["p"]
            for method, against in comparison_family(list(per_method), best_control)]


def _sides(runs: pd.DataFrame, record: Record) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, pd.DataFrame], str | None]:
    """Per method its runs; the MLP alone once per replicate; each side with ``accuracy`` (and its bits,
    ``correct``) as tested; the best control."""
    per_method = {method: runs[runs["method"] == method] for method in record.chosen}
    # Every run of one replicate trained the same baseline: take it once per replicate.
    baseline = runs.drop_duplicates("replicate").assign(teacher_replicate=np.nan)
    sides = {method: frame.assign(accuracy=frame["student"], correct=frame.get("student_correct"))
             for method, frame in per_method.items()}
    sides["baseline"] = baseline.assign(accuracy=baseline["baseline"], correct=baseline.get("baseline_correct"))
    controls = [method for method in CONTROLS if method in per_method]
    best_control = max(controls, key=lambda method: per_method[method]["student_val"].mean()) if controls else None
    return per_method, baseline, sides, best_control


def summarise(record: Record) -> Summary:
    """The record's reported runs as two tables: ``methods`` (accuracies) and ``comparisons`` (tests,
    adjusted in one family with its study's other records: :func:`with_study_families`)."""
    runs = record.runs_of("reported")
    per_method, baseline, sides, best_control = _sides(runs, record)
    comparisons = comparisons_table(comparison_family(list(per_method), best_control), sides, record.study_p_values)
    # Each teacher once, from its own experiments' metrics (a teacherless run repeats the default teacher).
    teacher_tests = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")["teacher"]
    if teacher_tests.empty:
        teacher_tests = runs["teacher"].iloc[:1]
    # The share of the teacher–baseline test gap that a method's gain closes, with Fieller's interval
    # (the gap is an estimate too): only for the comparisons with the MLP alone.
    gap = teacher_tests.mean() - baseline["baseline"].mean()
    shares = [gap_share_interval(sides[row.method], sides["baseline"], teacher_tests.to_numpy()) if row.against == "baseline"
              else {"share": math.nan, "low": math.nan, "high": math.nan} for row in comparisons.itertuples()]
    for column, source in (("closure", "share"), ("closure_low", "low"), ("closure_high", "high")):
        comparisons[column] = [share[source] for share in shares] if not comparisons.empty else []
    # An ensemble's own accuracy, each once (records of one teacher have none).
    ensembles = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")
    ensemble_tests = pd.to_numeric(ensembles.get("ensemble", pd.Series(dtype=float)), errors="coerce").dropna()
    return Summary(methods=_methods_table(record, per_method, baseline), comparisons=comparisons,
                   teacher_tests=teacher_tests.to_numpy(), ensemble_tests=ensemble_tests.to_numpy(),
                   best_control=best_control, sides=sides, gap=gap)
