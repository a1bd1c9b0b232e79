"""Do the other procedures the reports print hold their level? Simulated like the seed test's
records (:mod:`distillation.comparison.calibration`), each through the function the reports use.

The reach comparison (can the MLP reach its teachers?) is simulated apart: T teachers whose test
accuracies spread by ``teacher_sd`` (a sample of the recipe's teachers), and a student per teacher
and seed whose own teacher effect is independent of its teacher's accuracy (the case where the
teachers' sampling error does not cancel: the hardest for the interval). The estimand is the
recipe-level gap, students' mean minus teachers' mean, 0 under the null; rows at a teacher sd of
0.04 and 0.15 points, for the report's Welch interval and, as it was before, the teachers' mean
taken as a known constant.

The share of the gap closed (Fieller's interval) is scored on the recipe's true share; summarise's
family (two methods that read the teachers, two controls, the MLP alone) on its false discovery
and false coverage rates under BH and the FCR intervals. ``calibration_table`` is every row
``python -m scripts.calibrate`` writes.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from distillation.comparison import stats as comparison_stats
from distillation.comparison.calibration_images import IMAGE_DESIGNS, IMAGES, calibrate_images
from distillation.comparison.calibration import (
    CALIBRATION_SEED, CONFIDENCE, DESIGNS, RECORDS, RUN_POINTS, SEED_POINTS, TEACHER_POINTS, calibrate, exact_called,
    pairs_per_teacher_and_seed, simulated_sides,
)

# (teachers, seeds, the teachers' accuracy sd in points) of the reach comparison, under the null.
REACH_DESIGNS = ((3, 5, 0.04), (3, 5, 0.15))
TEACHER_LEVEL = 93.5  # points: about the real letters' teachers (only differences matter)
# The share of the gap closed (Fieller's interval), at the real letters' kind of result: the MLP
# alone 3.5 points under its teachers, the method closing 90 % of that.
BASELINE_LEVEL, SHARE = 90.0, 0.9


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


def calibration_table(records: int = RECORDS) -> pd.DataFrame:
    """:func:`calibrate` for each of ``DESIGNS``, with the seed pairing and the old per-run pairing;
    for each of ``REACH_DESIGNS``: :func:`calibrate_reach` (Welch's and the constant teachers' mean),
    :func:`calibrate_share` and :func:`calibrate_family` for each of ``FAMILY_DESIGNS``; and
    :func:`~distillation.comparison.calibration_images.calibrate_images` for each of ``IMAGE_DESIGNS``."""
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
    for teachers, seeds, lean, teacher_sd in IMAGE_DESIGNS:
        scores = calibrate_images(teachers, seeds, lean, teacher_sd, records)
        for which, procedure in (("new", "two-way over seeds and images (the report's, about new images)"),
                                 ("these", "seed-paired, about these test images")):
            rows.append({"teachers": teachers, "seeds": seeds, "gain_points": 0.0, "teacher_points": teacher_sd,
                         "records": records, "pairing": f"{IMAGES:,} test images, their lean sd {lean:g} logits, scored "
                                                         f"on new images: {procedure}",
                         **scores[which], "called_exact": math.nan})
    return pd.DataFrame(rows)
