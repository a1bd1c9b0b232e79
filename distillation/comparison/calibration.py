"""Does the comparison's 5 % mean 5 %? Records simulated under the null (and under a real gain),
each run through the comparison's own test (:func:`distillation.comparison.stats.paired_difference`,
which :func:`~distillation.comparison.stats.summarise` applies to every comparison).

The simulated runs follow the variance components measured on the real letters' records (in
accuracy points): a method run of teacher t and MLP seed s is
``μ + gain + a_s + v_t + e``, a baseline run of seed s is ``μ + b_s + e'``, with the seed effects
``a_s`` and ``b_s`` drawn apart for the two sides (each side's own seed noise: the baseline's own
seed noise is most of it), teacher effects ``v_t`` drawn afresh for each record (teachers are
random), and run noise ``e``. The baseline trains once per seed, so all T of a seed's method runs
face the same baseline run: the design of every record.

The reach comparison (can the MLP reach its teachers?) is simulated apart: T teachers whose test
accuracies spread by ``teacher_sd`` (a sample of the recipe's teachers), and a student per teacher
and seed whose own teacher effect is independent of its teacher's accuracy (the case where the
teachers' sampling error does not cancel: the hardest for the interval). The estimand is the
recipe-level gap, students' mean minus teachers' mean, 0 under the null; rows at a teacher sd of
0.04 and 0.15 points, for the report's Welch interval and, as it was before, the teachers' mean
taken as a known constant.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.atomic import atomic_output
from distillation.comparison import stats as comparison_stats
from distillation.comparison.stats import CONFIDENCE

SEED_POINTS = 0.14
TEACHER_POINTS = 0.04
RUN_POINTS = 0.13
RECORDS = 2000
CALIBRATION = "calibration.json"  # in reports/
CALIBRATION_SEED = 20261203
# (teachers, seeds, true gain in points, teacher sd in points): the headline design and the views
# records' design under the null, at the measured teacher sd and at 0.15, and the headline design
# with a 0.4-point gain, where the power is near the middle of its range (about 0.6), so an
# interval too wide or too narrow moves it visibly.
DESIGNS = ((3, 5, 0.0, TEACHER_POINTS), (2, 3, 0.0, TEACHER_POINTS), (3, 5, 0.4, TEACHER_POINTS),
           (3, 5, 0.0, 0.15), (2, 3, 0.0, 0.15))
# (teachers, seeds, the teachers' accuracy sd in points) of the reach comparison, under the null.
REACH_DESIGNS = ((3, 5, 0.04), (3, 5, 0.15))
# The share of the gap closed (Fieller's interval), at the real letters' kind of result: the MLP
# alone 3.5 points under its teachers, the method closing 90 % of that.
BASELINE_LEVEL, SHARE = 90.0, 0.9
TEACHER_LEVEL = 93.5  # points: about the real letters' teachers (only differences matter)


def simulated_sides(rng: np.random.Generator, teachers: int, seeds: int, gain_points: float,
                    seed_points: float = SEED_POINTS, teacher_points: float = TEACHER_POINTS,
                    run_points: float = RUN_POINTS, teacher_effect: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated record's two sides as :func:`summarise` passes them: the method's runs (one per
    teacher and seed) and the baseline's (one per seed), accuracies as fractions. ``teacher_effect``:
    the record's teachers' effects in points (drawn here with ``teacher_points`` if not given)."""
    if teacher_effect is None:
        teacher_effect = rng.normal(0, teacher_points, teachers)
    method_seed, baseline_seed = rng.normal(0, seed_points, seeds), rng.normal(0, seed_points, seeds)
    teacher_index, seed_index = np.meshgrid(np.arange(teachers), np.arange(seeds), indexing="ij")
    method_points = (90 + gain_points + method_seed[seed_index] + teacher_effect[teacher_index]
                     + rng.normal(0, run_points, (teachers, seeds)))
    method = pd.DataFrame({"replicate": seed_index.ravel(), "teacher_replicate": teacher_index.ravel().astype(float),
                           "accuracy": method_points.ravel() / 100})
    baseline = pd.DataFrame({"replicate": np.arange(seeds), "teacher_replicate": np.nan,
                             "accuracy": (90 + baseline_seed + rng.normal(0, run_points, seeds)) / 100})
    return method, baseline


def analytic_called(teachers: int, seeds: int, gain_points: float, seed_points: float = SEED_POINTS,
                    teacher_points: float = TEACHER_POINTS, run_points: float = RUN_POINTS) -> float:
    """The probability that the seed-paired t-test calls a difference (two-sided, at 1 − ``CONFIDENCE``)
    in records drawn as :func:`simulated_sides` draws them: its exact value, not a simulation.

    Per seed, the method's teacher mean minus the baseline is ``gain + v̄ + a_s − b_s + ē_s − e'_s``.
    Given the record's teachers (their mean effect ``v̄``, common to every seed), the seed
    differences are normal with variance ``2·seed² + run²/T + run²``, so the t statistic is
    noncentral t with R − 1 degrees of freedom and noncentrality ``(gain + v̄)/(σ/√R)``; the
    probability is that one's averaged over ``v̄ ~ N(0, teacher²/T)`` (Gauss–Hermite quadrature).
    """
    spread = np.sqrt(2 * seed_points**2 + run_points**2 / teachers + run_points**2)
    critical = stats.t.ppf(1 - (1 - CONFIDENCE) / 2, seeds - 1)
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)  # ∫ f(x) φ(x) dx ≈ Σ w f(x) / √(2π)
    shift = gain_points + nodes * teacher_points / np.sqrt(teachers)
    noncentrality = shift / (spread / np.sqrt(seeds))
    # Beyond ±t on either side; the lower tail as the upper tail of −T (scipy's nct.cdf far in a tail can be NaN).
    called = stats.nct.sf(critical, seeds - 1, noncentrality) + stats.nct.sf(critical, seeds - 1, -noncentrality)
    return float(np.sum(weights * called) / np.sqrt(2 * np.pi))


def exact_called(teachers: int, seeds: int, gain_points: float, teacher_points: float) -> float:
    """:func:`analytic_called` for :func:`calibrate`'s records: under the null these teachers' mean effect is 0."""
    return analytic_called(teachers, seeds, gain_points, teacher_points=teacher_points if gain_points else 0.0)


def pairs_per_teacher_and_seed(left: pd.DataFrame, right: pd.DataFrame) -> dict[str, Any]:
    """The pairing the comparison used before: one pair per (teacher, seed), a teacherless side's run
    reused as the partner of every teacher's run of its seed, T·R pairs tested as if independent.
    Kept only to show its miscalibration beside :func:`paired_difference`."""
    pairs = left.merge(right, on="replicate", suffixes=("", "_other"))
    test = stats.ttest_rel(pairs["accuracy"], pairs["accuracy_other"])
    interval = test.confidence_interval(CONFIDENCE)
    return {"pairs": len(pairs), "mean": float((pairs["accuracy"] - pairs["accuracy_other"]).mean()),
            "p": float(test.pvalue), "low": float(interval.low), "high": float(interval.high)}


def calibrate(test: Callable[[pd.DataFrame, pd.DataFrame], dict[str, Any]] | None, teachers: int, seeds: int, gain_points: float,
              records: int = RECORDS, seed: int = CALIBRATION_SEED, teacher_points: float = TEACHER_POINTS) -> dict[str, float]:
    """The share of ``records`` simulated records in which ``test`` calls a difference (p < 0.05) and
    the share whose 95 % interval covers the true gain. ``test``: the comparison's own (looked up at
    the call, so what :func:`~distillation.comparison.stats.summarise` uses now is what is measured).

    The truth is the estimand the reports state: the gain **with these teachers**, ``gain + v̄`` (the
    record's teachers' mean effect). Under the null (``gain_points`` 0) these teachers give no gain
    on average: their effects are drawn, then centred (``v̄`` = 0), so a call is a false positive.
    """
    test = test or comparison_stats.paired_difference
    rng = np.random.default_rng(seed)
    called = covered = 0
    for _ in range(records):
        teacher_effect = rng.normal(0, teacher_points, teachers)
        if gain_points == 0:
            teacher_effect -= teacher_effect.mean()
        truth = (gain_points + teacher_effect.mean()) / 100
        result = test(*simulated_sides(rng, teachers, seeds, gain_points, teacher_effect=teacher_effect))
        called += result["p"] < 1 - CONFIDENCE
        covered += result["low"] <= truth <= result["high"]
    return {"called": float(called / records), "covered": float(covered / records)}


def simulated_reach(rng: np.random.Generator, teachers: int, seeds: int, teacher_sd: float,
                    gap_points: float = 0.0) -> tuple[pd.Series, np.ndarray]:
    """One simulated reach comparison: the students' per-seed means (each over the T teachers) and
    the T teachers' test accuracies, as fractions; the recipe's students trail its teachers by ``gap_points``."""
    teacher_tests = (TEACHER_LEVEL + rng.normal(0, teacher_sd, teachers)) / 100
    student_teacher = rng.normal(0, TEACHER_POINTS, teachers)
    student_seed = rng.normal(0, SEED_POINTS, seeds)
    runs = (TEACHER_LEVEL + gap_points + student_teacher[:, None] + student_seed[None, :]
            + rng.normal(0, RUN_POINTS, (teachers, seeds)))
    return pd.Series(runs.mean(axis=0) / 100, index=pd.RangeIndex(seeds, name="replicate")), teacher_tests


def teachers_as_constant(per_seed: pd.Series, teachers: np.ndarray, column: str) -> dict[str, float]:
    """The reach comparison as it was: the seeds' mean against the teachers' mean taken as known
    (``ttest_1samp``). Kept only to show its miscalibration beside the report's."""
    reference = float(np.mean(teachers))
    interval = stats.ttest_1samp(per_seed.to_numpy(), reference).confidence_interval(CONFIDENCE)
    return {column: float(per_seed.mean() - reference), f"{column}_low": float(interval.low - reference),
            f"{column}_high": float(interval.high - reference)}


def calibrate_reach(reference: Callable[[pd.Series, np.ndarray, str], dict[str, float]] | None, teachers: int, seeds: int,
                    teacher_sd: float, records: int = RECORDS, seed: int = CALIBRATION_SEED) -> dict[str, float]:
    """The share of ``records`` null reach comparisons whose 95 % interval excludes 0 (called) and
    covers the true gap, 0 (covered). ``reference``: the report's (looked up at the call) or another."""
    from distillation.comparison import studies

    reference = reference or studies.to_teachers_mean
    rng = np.random.default_rng(seed)
    called = covered = 0
    for _ in range(records):
        result = reference(*simulated_reach(rng, teachers, seeds, teacher_sd), "gap")
        inside = result["gap_low"] <= 0 <= result["gap_high"]
        called += not inside
        covered += inside
    return {"called": float(called / records), "covered": float(covered / records)}


def simulated_share(rng: np.random.Generator, teachers: int, seeds: int, teacher_sd: float,
                    share: float = SHARE) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """One simulated record for the share of the gap: the method's runs (teacher × seed), the MLP
    alone's (one per seed) and the teachers' accuracies; the recipe's method closes ``share`` of the gap."""
    method, baseline = simulated_sides(rng, teachers, seeds, share * (TEACHER_LEVEL - BASELINE_LEVEL))
    teacher_tests = (TEACHER_LEVEL + rng.normal(0, teacher_sd, teachers)) / 100
    return method, baseline, teacher_tests


def calibrate_share(teachers: int, seeds: int, teacher_sd: float, records: int = RECORDS,
                    seed: int = CALIBRATION_SEED) -> dict[str, float]:
    """How often Fieller's interval for the share of the gap misses the recipe's true share (called)
    and covers it, through the function every report uses."""
    rng = np.random.default_rng(seed)
    covered = 0
    for _ in range(records):
        result = comparison_stats.gap_share_interval(*simulated_share(rng, teachers, seeds, teacher_sd))
        covered += result["low"] <= SHARE <= result["high"]
    return {"called": float(1 - covered / records), "covered": float(covered / records)}


# A record's family as summarise tests it: two methods that read the teachers, two controls that
# read none (label_smoothing the best control), the MLP alone. (true gains in points per method)
FAMILY_METHODS = ("kd", "dkd", "label_smoothing", "hard_labels")
FAMILY_DESIGNS = (("every method equal to the MLP alone", {"kd": 0.0, "dkd": 0.0, "label_smoothing": 0.0, "hard_labels": 0.0}),
                  ("kd and dkd +0.4, the controls equal", {"kd": 0.4, "dkd": 0.4, "label_smoothing": 0.0, "hard_labels": 0.0}))


def simulated_family(rng: np.random.Generator, teachers: int, seeds: int, gains: dict[str, float],
                     teacher_points: float) -> dict[str, pd.DataFrame]:
    """One simulated record's sides, as :func:`~distillation.comparison.stats.summarise` builds them:
    each method's runs (T per seed for a method that reads the teachers, one for a control) and the
    MLP alone's, every side with its own seed effects. These teachers' effects on a method are
    centred: its gain with these teachers is ``gains[method]``."""
    from distillation.config.identity import reads_teacher

    baseline_seed = rng.normal(0, SEED_POINTS, seeds)
    sides = {"baseline": pd.DataFrame({"replicate": np.arange(seeds), "teacher_replicate": np.nan,
                                       "accuracy": (90 + baseline_seed + rng.normal(0, RUN_POINTS, seeds)) / 100})}
    for method in FAMILY_METHODS:
        count = teachers if reads_teacher(method) else 1
        effect = rng.normal(0, teacher_points, count) if count > 1 else np.zeros(1)
        effect -= effect.mean()
        seed_effect = rng.normal(0, SEED_POINTS, seeds)
        points = 90 + gains[method] + effect[:, None] + seed_effect[None, :] + rng.normal(0, RUN_POINTS, (count, seeds))
        teacher_index, seed_index = np.meshgrid(np.arange(count), np.arange(seeds), indexing="ij")
        sides[method] = pd.DataFrame({"replicate": seed_index.ravel(),
                                      "teacher_replicate": teacher_index.ravel().astype(float) if count > 1 else np.nan,
                                      "accuracy": points.ravel() / 100})
    return sides


def calibrate_family(gains: dict[str, float], teachers: int, seeds: int, teacher_points: float, records: int = RECORDS,
                     seed: int = CALIBRATION_SEED) -> dict[str, float]:
    """Records of :func:`simulated_family` through summarise's own family, Benjamini–Hochberg and
    false-coverage-rate intervals: the false discovery rate (false verdicts over verdicts, 0 for
    none), the false coverage rate (declared comparisons whose adjusted interval misses the truth,
    over those declared) and the share of records with any false verdict."""
    best_control = "label_smoothing"
    family = comparison_stats.comparison_family(list(FAMILY_METHODS), best_control)
    truth = {pair: (gains[pair[0]] - (gains[pair[1]] if pair[1] != "baseline" else 0.0)) / 100 for pair in family}
    rng = np.random.default_rng(seed)
    false_discovery = false_coverage = any_false = 0.0
    for _ in range(records):
        table = comparison_stats.comparisons_table(family, simulated_family(rng, teachers, seeds, gains, teacher_points))
        declared = table[table["verdict"].isin(["higher", "lower"])]
        if declared.empty:
            continue
        true_values = np.array([truth[(row.method, row.against)] for row in declared.itertuples()])
        wrong = ((true_values == 0) | (np.sign(true_values) != np.sign(declared["mean"].to_numpy())))
        missed = ~((declared["adjusted_low"].to_numpy() <= true_values) & (true_values <= declared["adjusted_high"].to_numpy()))
        false_discovery += wrong.mean()
        false_coverage += missed.mean()
        any_false += bool(wrong.any())
    return {"false_discovery_rate": float(false_discovery / records), "false_coverage_rate": float(false_coverage / records),
            "any_false": float(any_false / records)}


def save_calibration(table: pd.DataFrame, path: str | Path) -> None:
    """The calibration as a record (``reports/calibration.json``), which ``make report`` renders."""
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps({"components_points": {"seed": SEED_POINTS, "teacher": TEACHER_POINTS, "run": RUN_POINTS},
                                         "seed": CALIBRATION_SEED,
                                         "rows": table.astype(object).where(table.notna(), None).to_dict("records")},  # NaN as null
                                        indent=1) + "\n")


def load_calibration(path: str | Path) -> pd.DataFrame | None:
    """The saved calibration's rows, or ``None`` where there is none."""
    if not Path(path).is_file():
        return None
    try:
        return pd.DataFrame(json.loads(Path(path).read_text())["rows"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a calibration record ({error})") from None


def calibration_table(records: int = RECORDS) -> pd.DataFrame:
    """:func:`calibrate` for each of ``DESIGNS``, with the seed pairing and the old per-run pairing;
    for each of ``REACH_DESIGNS``: :func:`calibrate_reach` (Welch's and the constant teachers' mean),
    :func:`calibrate_share` and :func:`calibrate_family` for each of ``FAMILY_DESIGNS``."""
    rows = []
    for teachers, seeds, gain, teacher_points in DESIGNS:
        for pairing, test in (("per seed (the comparison's)", None),
                              ("per teacher and seed (before)", pairs_per_teacher_and_seed)):
            exact = exact_called(teachers, seeds, gain, teacher_points) if test is None else math.nan
            rows.append({"teachers": teachers, "seeds": seeds, "gain_points": gain, "teacher_points": teacher_points,
                         "records": records, "pairing": pairing,
                         **calibrate(test, teachers, seeds, gain, records, teacher_points=teacher_points), "called_exact": exact})
    for teachers, seeds, teacher_sd in REACH_DESIGNS:
        for procedure, reference in (("reach: students against the teachers' mean, Welch (the report's)", None),
                                     ("reach: the teachers' mean as a constant (before)", teachers_as_constant)):
            rows.append({"teachers": teachers, "seeds": seeds, "gain_points": 0.0, "teacher_points": teacher_sd,
                         "records": records, "pairing": procedure,
                         **calibrate_reach(reference, teachers, seeds, teacher_sd, records), "called_exact": math.nan})
        rows.append({"teachers": teachers, "seeds": seeds, "gain_points": SHARE * (TEACHER_LEVEL - BASELINE_LEVEL),
                     "teacher_points": teacher_sd, "records": records,
                     "pairing": f"share of the gap closed (true {SHARE:.0%}), Fieller (the report's); called: misses it",
                     **calibrate_share(teachers, seeds, teacher_sd, records), "called_exact": math.nan})
        for name, gains in FAMILY_DESIGNS:
            family = calibrate_family(gains, teachers, seeds, teacher_sd, records)
            rows.append({"teachers": teachers, "seeds": seeds, "gain_points": max(gains.values()), "teacher_points": teacher_sd,
                         "records": records, "pairing": f"summarise's family of {len(FAMILY_METHODS) * 2 + 1} ({name}): "
                                                         "BH verdicts, FCR intervals; called: false discovery rate, "
                                                         "covers: 1 − false coverage rate",
                         "called": family["false_discovery_rate"], "covered": 1 - family["false_coverage_rate"],
                         "called_exact": math.nan})
    return pd.DataFrame(rows)
