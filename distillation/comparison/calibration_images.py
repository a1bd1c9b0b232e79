"""Do the intervals about new test images hold their level? Records simulated down to each test
image, through the comparison's own family (:func:`distillation.comparison.stats.comparisons_table`,
which gives each comparison both intervals).

Each image has a difficulty (a logit, spread wide: most images are right for every seed, a few
flip between seeds, as with the real letters) and an image-specific lean toward one side: the
method's logit is ``difficulty + lean/2 + teacher + seed``, the MLP alone's
``difficulty − lean/2 + seed'``, and each run gets each image right with that logit's
probability. The lean is symmetric around 0, so over new images drawn like these the sides are
equal: the estimand is 0. On one fixed set of images their leans do not cancel, which is what
the interval about these test images is about; scored against new images it must fall short
where the leans are wide, and the interval about new images must not. The teachers' effects are
centred (the estimand is the gain with these teachers) and sized to spread the method's
accuracy by 0.04 or 0.15 points.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distillation.comparison import stats as comparison_stats
from distillation.comparison.calibration import CALIBRATION_SEED, RECORDS, TEACHER_POINTS
from distillation.models.per_image import encode_correct

IMAGES = 2000  # a record's test images (fewer than the real 11,671: the same balance of spreads, quicker)
DIFFICULTY_MEAN, DIFFICULTY_SD = 3.0, 2.5  # logits: about 90 % right on average, most images sure
SEED_LOGITS = 0.02  # a seed's shift of every logit: about the real letters' seed spread at this size
# (teachers, seeds, the images' lean in logits, the teachers' accuracy spread in points)
IMAGE_DESIGNS = ((3, 5, 1.0, TEACHER_POINTS), (3, 5, 1.0, 0.15), (3, 5, 0.0, TEACHER_POINTS))


def simulated_images(rng: np.random.Generator, teachers: int, seeds: int, lean_sd: float, teacher_points: float,
                     images: int = IMAGES) -> dict[str, pd.DataFrame]:
    """One record's two sides as :func:`~distillation.comparison.stats.summarise` passes them, each
    run with its per-image bits (``correct``) and its accuracy, their mean."""
    difficulty = rng.normal(DIFFICULTY_MEAN, DIFFICULTY_SD, images)
    lean = rng.normal(0, lean_sd, images) if lean_sd else np.zeros(images)
    slope = np.mean(_logistic(difficulty) * (1 - _logistic(difficulty)))  # points per logit, about
    teacher_effect = rng.normal(0, teacher_points / 100 / slope, teachers)
    teacher_effect -= teacher_effect.mean()

    def side(logits: np.ndarray, teacher: float | None, replicate: int) -> dict:
        correct = rng.random(images) < _logistic(logits)
        return {"replicate": replicate, "teacher_replicate": np.nan if teacher is None else teacher,
                "accuracy": float(correct.mean()), "correct": encode_correct(correct)}

    method, baseline = [], []
    for seed in range(seeds):
        method_seed, baseline_seed = rng.normal(0, SEED_LOGITS, 2)
        method += [side(difficulty + lean / 2 + effect + method_seed, float(teacher), seed)
                   for teacher, effect in enumerate(teacher_effect)]
        baseline.append(side(difficulty - lean / 2 + baseline_seed, None, seed))
    return {"kd": pd.DataFrame(method), "baseline": pd.DataFrame(baseline)}


def calibrate_images(teachers: int, seeds: int, lean_sd: float, teacher_points: float, records: int = RECORDS,
                     seed: int = CALIBRATION_SEED) -> dict[str, dict[str, float]]:
    """For each interval (``these`` test images, ``new`` images): the share of ``records`` null records
    whose 95 % interval excludes 0, the difference over new images (called), and covers it."""
    rng = np.random.default_rng(seed)
    inside = {"these": 0, "new": 0}
    for _ in range(records):
        row = comparison_stats.comparisons_table([("kd", "baseline")],
                                                 simulated_images(rng, teachers, seeds, lean_sd, teacher_points)).iloc[0]
        inside["these"] += row["low"] <= 0 <= row["high"]
        inside["new"] += row["images_low"] <= 0 <= row["images_high"]
    return {which: {"called": 1 - count / records, "covered": count / records} for which, count in inside.items()}


def _logistic(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))
