"""Comparing the trained models: latency, agreement, confusion matrices."""
from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from distillation.atomic import atomic_output


LATENCY_REPEATS = {1: 200, 256: 20}  # most timed calls per batch size: batch 1 is fast and noisy
# ... and the time they may take: a median of a handful of calls of a large batch is as steady as
# one of twenty, and the teacher's 20 calls at batch 256 in four runtimes took export seconds.
LATENCY_SECONDS = 0.15
LATENCY_MIN_REPEATS = 5


def median_ms_per_image(forward: Callable[[Any], Any], batch: Any, batch_size: int, repeats: int,
                        seconds: float = LATENCY_SECONDS) -> float:
    """Median wall time per image of ``forward(batch)`` over ``repeats`` calls, after one untimed
    call; fewer calls (never under :data:`LATENCY_MIN_REPEATS`) once they have taken ``seconds``."""
    forward(batch)  # trace, allocate and warm up outside the timing
    timings: list[float] = []
    while len(timings) < repeats and (len(timings) < LATENCY_MIN_REPEATS or sum(timings) < seconds):
        started = time.perf_counter()
        forward(batch)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings)) * 1000.0 / batch_size


def latency_ms_per_image(model: keras.Model, images: np.ndarray, batch_size: int, repeats: int) -> float:
    """Median wall time per image of a compiled forward pass over batches of ``batch_size``."""
    compiled = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    batch = tf.constant(np.resize(images, (batch_size, *images.shape[1:])))
    return median_ms_per_image(lambda inputs: compiled(inputs).numpy(), batch, batch_size, repeats)


def agreement(first_logits: np.ndarray, second_logits: np.ndarray) -> float:
    """Fraction of images on which two models predict the same class."""
    return float(np.mean(first_logits.argmax(axis=1) == second_logits.argmax(axis=1)))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class."""
    return np.bincount(labels * num_classes + predictions, minlength=num_classes**2).reshape(num_classes, num_classes)


def write_prediction_table(path: str | Path, labels: np.ndarray, predictions: np.ndarray, classes: tuple[str, ...]) -> None:
    """``actual,predicted`` per test image, as DVC's confusion template reads it."""
    with atomic_output(path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows(zip(np.asarray(classes)[labels], np.asarray(classes)[predictions]))


def save_confusion_plot(path: str | Path, matrix: np.ndarray, classes: tuple[str, ...], title: str) -> None:
    """Row-normalised confusion matrix as a picture, classes labelled by their characters."""
    from distillation.reporting.headless_pyplot import pyplot as plt

    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.32 * len(classes))
    figure, axis = plt.subplots(figsize=(size + 1.5, size))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(classes)), classes, fontsize=7, rotation=90)
    axis.set_yticks(range(len(classes)), classes, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axis.set_title(f"{title}: test accuracy {accuracy:.2%}")
    figure.colorbar(image, ax=axis, fraction=0.046, label="fraction of the actual class")
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=90)
    plt.close(figure)
