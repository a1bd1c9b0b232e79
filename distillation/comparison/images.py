"""New images count: a comparison's interval widened from these test images to new ones drawn like
them, from each run's per-image bits (:mod:`distillation.models.per_image`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from distillation.models.per_image import decode_correct


def per_seed_correct(side: pd.DataFrame) -> pd.DataFrame | None:
    """A side's per-image results as one row per MLP seed (its teachers' runs averaged): the share of
    its runs of that seed that got each test image right. ``None`` where a run kept no bits."""
    if "correct" not in side or not all(isinstance(entry, dict) for entry in side["correct"]):
        return None
    bits = np.stack([decode_correct(entry) for entry in side["correct"]]).astype(float)
    return pd.DataFrame(bits, index=side["replicate"].to_numpy()).groupby(level=0).mean()


def new_images_interval(ours: pd.DataFrame | None, theirs: pd.DataFrame | None, confidence: float) -> dict[str, float]:
    """:func:`~distillation.comparison.stats.paired_difference`'s interval widened to new test images drawn like these: the seeds
    and the test images as two crossed random factors (NaN where a run kept no per-image bits).
    ``ours`` and ``theirs``: each side's :func:`per_seed_correct` (computed once per side, however
    many comparisons it is in).

    ``y[s, i]`` is the two sides' difference on image i at seed s (each side's teachers averaged).
    From the two-way table's mean squares (seeds, images, residual), the variance of the grand
    mean is ``(MS_seeds + MS_images − MS_residual) / (S·N)``: the seed-paired test's own
    ``MS_seeds / (S·N)``, plus the images' spread. Student's t at Satterthwaite's degrees of
    freedom. Never narrower than the interval about these test images.
    """
    nothing = {"images_low": math.nan, "images_high": math.nan, "images": 0}
    if ours is None or theirs is None or ours.shape[1] != theirs.shape[1]:
        return nothing
    seeds = ours.index.intersection(theirs.index)
    differences = ours.loc[seeds].to_numpy() - theirs.loc[seeds].to_numpy()
    seeds_count, images = differences.shape
    if seeds_count < 2 or images < 2:
        return nothing
    seed_means, image_means, mean = differences.mean(axis=1), differences.mean(axis=0), differences.mean()
    cells = seeds_count * images
    seed_part = images * seed_means.var(ddof=1) / cells
    image_part = seeds_count * image_means.var(ddof=1) / cells
    residual = differences - seed_means[:, None] - image_means[None, :] + mean
    residual_part = np.sum(residual**2) / ((seeds_count - 1) * (images - 1)) / cells
    variance = max(seed_part + image_part - residual_part, seed_part)
    if not variance > 0:
        return {**nothing, "images": images}
    freedom = variance**2 / (seed_part**2 / (seeds_count - 1) + image_part**2 / (images - 1)
                             + residual_part**2 / ((seeds_count - 1) * (images - 1)))
    quantile = 1 - (1 - confidence) / 2
    # Satterthwaite's freedom for a sum with a negative term can exceed the seeds' own when the
    # images add nearly nothing: the interval is then the seed-paired one, never narrower.
    half = max(stats.t.ppf(quantile, freedom) * math.sqrt(variance), stats.t.ppf(quantile, seeds_count - 1) * math.sqrt(seed_part))
    return {"images_low": float(mean - half), "images_high": float(mean + half), "images": images}
