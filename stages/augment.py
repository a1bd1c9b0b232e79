"""Stage ``augment``: draw ``augment.views`` distorted copies of every training image, once, and store them.

See :mod:`distillation.data.views` for the transform and the row layout. ``plots/views.png`` shows one
image per class beside its first views, so a person sees at once that they are still upright
letters; ``metrics/augment.json`` counts the views and says how far they moved from their images.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.config.params import AugmentParams, load_params
from distillation.paths import PREPARED_DIR, VIEWS_DIR, metrics_path
from distillation.reporting.plots import save_view_grid
from distillation.data.prepared import PreparedSplit, load_split
from distillation.data.views import StoredRows, to_pixels, write_views

VIEWS_PLOT = "plots/views.png"


def augment(
    train: PreparedSplit, settings: AugmentParams, seed: int, directory: Path = VIEWS_DIR
) -> tuple[StoredRows, dict[str, Any]]:
    """Store the views of ``train`` in ``directory``; return them and their metrics."""
    started = time.perf_counter()
    views = write_views(directory, train, settings, seed)
    seconds = time.perf_counter() - started
    count = train.labels.shape[0]
    pixels = to_pixels(train.images)
    # How much a view differs from its image, pixel by pixel (0: identical, 1: every pixel inverted);
    # one view at a time, as the stored views are never read whole.
    change = [float(np.mean(np.abs(views[v * count:(v + 1) * count].astype(np.int16) - pixels))) / 255 for v in range(settings.views)]
    return views, {
        "views": settings.views, "train_images": int(count), "rows": int(views.shape[0]), "seconds": round(seconds, 2),
        "mean_absolute_change": round(float(np.mean(change)), 6) if change else 0.0,
    }


def main() -> None:
    params = load_params()
    train = load_split(PREPARED_DIR / "train.npz")
    views, metrics = augment(train, params.augment, params.seed)
    save_view_grid(train, views, VIEWS_PLOT)
    write_json(metrics_path("augment"), metrics)
    print(f"wrote {VIEWS_DIR}: {metrics['views']} views of {metrics['train_images']} images in {metrics['seconds']} s")


if __name__ == "__main__":
    run_stage(main)
