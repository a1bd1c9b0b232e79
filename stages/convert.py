"""Stage ``convert``: the raw data (an EMNIST ``.mat``, or your own images' ``.npz``) → upright float32 ``.npz`` splits.

The val split is carved from train (stratified, seeded), unless your own images bring one; test
is left untouched. A grid of
samples per class is drawn so a person sees at once that letters are upright and labelled, and
``metrics/data.json`` counts the images per split and per class, so ``dvc metrics diff`` shows
what a new data source or val fraction changed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.data.emnist import read_emnist_mat
from distillation.config.params import load_params
from distillation.reporting.plots import save_sample_grid
from distillation.data.own_images import read_arrays_npz
from distillation.paths import PREPARED_DIR, RAW_IMAGES, RAW_MAT, SAMPLES_PLOT, metrics_path
from distillation.data.prepared import PreparedSplit, save_split
from distillation.data.splitting import prepare_image_splits, prepare_splits


def convert(raw_path: Path, output_dir: Path, val_fraction: float, seed: int) -> dict[str, PreparedSplit]:
    """Read ``raw_path`` (``.mat`` or own images' ``.npz``), write ``train/val/test.npz`` into ``output_dir``, return the splits."""
    if raw_path.suffix == ".npz":
        splits = prepare_image_splits(read_arrays_npz(raw_path), val_fraction, seed)
    else:
        splits = prepare_splits(read_emnist_mat(raw_path), val_fraction, seed)
    for name, split in splits.items():
        save_split(output_dir / f"{name}.npz", split)
    return splits


def data_metrics(splits: dict[str, PreparedSplit]) -> dict[str, Any]:
    """How many classes, and how many images each split holds, in all and per class."""
    classes = splits["train"].classes
    return {
        "classes": len(classes),
        "images": {name: int(split.labels.shape[0]) for name, split in splits.items()},
        "images_per_class": {
            name: dict(zip(classes, map(int, np.bincount(split.labels, minlength=len(classes)))))
            for name, split in splits.items()
        },
    }


def main() -> None:
    params = load_params()
    splits = convert(RAW_IMAGES if RAW_IMAGES.is_file() else RAW_MAT, PREPARED_DIR, params.data.val_fraction,
                     params.seed + params.data.split_replicate)
    save_sample_grid(splits["train"], SAMPLES_PLOT)
    write_json(metrics_path("data"), data_metrics(splits))
    sizes = ", ".join(f"{name} {split.labels.shape[0]}" for name, split in splits.items())
    print(f"wrote {PREPARED_DIR}: {sizes} images, {len(splits['train'].classes)} classes")


if __name__ == "__main__":
    run_stage(main)
