"""Pictures a person checks at a glance."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from distillation.atomic import atomic_output
from distillation.reporting.headless_pyplot import pyplot as plt
from distillation.data.prepared import PreparedSplit


def _save_letter_grid(classes: tuple[str, ...], rows: list[list[np.ndarray]], path: str | Path) -> None:
    """One row per class: its characters, then that row's images (float in [0, 1]), upright."""
    columns = max((len(row) for row in rows), default=0)
    figure, axes = plt.subplots(len(classes), columns + 1, figsize=(0.6 * (columns + 1), 0.6 * len(classes)), squeeze=False)
    for index, (characters, images) in enumerate(zip(classes, rows)):
        axes[index, 0].text(0.5, 0.5, characters, ha="center", va="center", fontsize=14)
        for column, image in enumerate(images):
            if image.ndim == 2:  # grey: ink dark on white, as on paper
                axes[index, column + 1].imshow(image, cmap="gray_r", vmin=0, vmax=1)
            else:
                axes[index, column + 1].imshow(np.clip(image, 0, 1))
        for axis in axes[index]:
            axis.axis("off")
    figure.tight_layout(pad=0.1)
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=80)
    plt.close(figure)


def _picture(image: np.ndarray) -> np.ndarray:
    """A prepared image (H, W, C) as pyplot shows it: (H, W) for grey, (H, W, 3) for RGB."""
    return image[:, :, 0] if image.shape[-1] == 1 else image


def save_sample_grid(split: PreparedSplit, path: str | Path, per_class: int = 8) -> None:
    """One row per class: its characters, then the first ``per_class`` images, upright."""
    rows = [[_picture(split.images[example]) for example in np.flatnonzero(split.labels == index)[:per_class]]
            for index in range(len(split.classes))]
    _save_letter_grid(split.classes, rows, path)


def save_view_grid(split: PreparedSplit, views: np.ndarray, path: str | Path, per_class: int = 8) -> None:
    """One row per class: its characters, its first image, then that image's first views (uint8 rows v·N + i)."""
    count = split.labels.shape[0]
    shown = min(per_class, views.shape[0] // count if count else 0)
    rows = []
    for index in range(len(split.classes)):
        first = np.flatnonzero(split.labels == index)[:1]
        rows.append([] if not first.size else
                    [_picture(split.images[first[0]]), *(views[view * count + first[0]] / 255 for view in range(shown))])
    _save_letter_grid(split.classes, rows, path)
