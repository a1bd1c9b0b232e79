"""Pictures a person checks at a glance."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from distillation.atomic import atomic_output
from distillation.reporting.headless_pyplot import pyplot as plt
from distillation.data.prepared import PreparedSplit


GRID_GAP = 2  # pixels of white between pictures


def _save_letter_grid(classes: tuple[str, ...], rows: list[list[np.ndarray]], path: str | Path) -> None:
    """One row per class: its characters, then that row's images (float in [0, 1]), upright.

    The pictures are laid into one array and drawn as one image: a figure of one small axes per
    picture took pyplot about two seconds to lay out, longer than the stage's own work.
    """
    columns = max((len(row) for row in rows), default=0)
    shapes = [image.shape for row in rows for image in row]
    height, width = shapes[0][:2] if shapes else (1, 1)
    cell_height, cell_width = height + GRID_GAP, width + GRID_GAP
    mosaic = np.ones((len(classes) * cell_height + GRID_GAP, (columns + 1) * cell_width + GRID_GAP, 3))
    for index, images in enumerate(rows):
        for column, image in enumerate(images):
            top, left = GRID_GAP + index * cell_height, GRID_GAP + (column + 1) * cell_width
            # grey: ink dark on white, as on paper
            picture = 1 - image[..., np.newaxis] if image.ndim == 2 else np.clip(image, 0, 1)
            mosaic[top:top + height, left:left + width] = picture
    figure = plt.figure(figsize=(0.6 * (columns + 1), 0.6 * len(classes)))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.imshow(mosaic, interpolation="nearest", aspect="auto")
    for index, characters in enumerate(classes):
        axis.text(GRID_GAP + width / 2, GRID_GAP + index * cell_height + height / 2, characters,
                  ha="center", va="center", fontsize=14)
    axis.axis("off")
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
