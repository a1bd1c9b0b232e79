"""Pictures a person checks at a glance."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # stages run without a screen
import matplotlib.pyplot as plt
import numpy as np

from distillation.atomic import atomic_output
from distillation.prepared import PreparedSplit


def save_sample_grid(split: PreparedSplit, path: str | Path, per_class: int = 8) -> None:
    """One row per class: its characters, then the first ``per_class`` images, upright."""
    classes = split.classes
    figure, axes = plt.subplots(
        len(classes), per_class + 1, figsize=(0.6 * (per_class + 1), 0.6 * len(classes)), squeeze=False
    )
    for index, characters in enumerate(classes):
        examples = np.flatnonzero(split.labels == index)[:per_class]
        axes[index, 0].text(0.5, 0.5, characters, ha="center", va="center", fontsize=14)
        for column in range(per_class):
            axis = axes[index, column + 1]
            if column < examples.size:
                axis.imshow(split.images[examples[column], :, :, 0], cmap="gray_r", vmin=0, vmax=1)
        for axis in axes[index]:
            axis.axis("off")
    figure.tight_layout(pad=0.1)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=80)
    plt.close(figure)


def save_view_grid(split: PreparedSplit, views: np.ndarray, path: str | Path, per_class: int = 8) -> None:
    """One row per class: its characters, its first image, then that image's first views (uint8 rows v·N + i)."""
    classes = split.classes
    count = split.labels.shape[0]
    available = views.shape[0] // count if count else 0
    shown = min(per_class, available)
    figure, axes = plt.subplots(len(classes), shown + 2, figsize=(0.6 * (shown + 2), 0.6 * len(classes)), squeeze=False)
    for index, characters in enumerate(classes):
        axes[index, 0].text(0.5, 0.5, characters, ha="center", va="center", fontsize=14)
        first = np.flatnonzero(split.labels == index)[:1]
        if first.size:
            axes[index, 1].imshow(split.images[first[0], :, :, 0], cmap="gray_r", vmin=0, vmax=1)
            for view in range(shown):
                axes[index, view + 2].imshow(views[view * count + first[0]], cmap="gray_r", vmin=0, vmax=255)
        for axis in axes[index]:
            axis.axis("off")
    figure.tight_layout(pad=0.1)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=80)
    plt.close(figure)
