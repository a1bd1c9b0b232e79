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

The other procedures the reports print (the reach comparison, the share of the gap, summarise's
family with its BH verdicts and FCR intervals): :mod:`distillation.comparison.calibration_studies`.
"""
from __future__ import annotations

import json
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
