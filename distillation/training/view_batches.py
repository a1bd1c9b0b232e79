"""The student's training batches made of stored views: each epoch, every image once as itself or one of its views."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from distillation.training.mixup import MIX_WEIGHT, PARTNER
from distillation.training.fit import steps_per_epoch


def gather(originals: np.ndarray, views: Any, rows: np.ndarray) -> np.ndarray:
    """The versions ``rows`` (see :func:`distillation.data.views.epoch_rows`) of originals (N, ...) and views (K·N, ...).

    ``views`` is an array or anything indexed by an integer array (a
    :class:`~distillation.data.views.StoredRows` read from its file).
    """
    count = originals.shape[0]
    out = np.empty((rows.shape[0], *originals.shape[1:]), dtype=originals.dtype)
    own = rows < count
    out[own] = originals[rows[own]]
    if (~own).any():
        out[~own] = views[rows[~own] - count]
    return out


@dataclass(frozen=True)
class EpochBatches:
    """Training batches made epoch by epoch from stored views (:func:`versions_batches`), for ``fit``."""

    dataset: tf.data.Dataset  # one epoch's batches; each pass over it is the next epoch's
    images_per_epoch: int


def versions_batches(
    original_images: np.ndarray,
    view_images: np.ndarray,
    original_targets: dict[str, np.ndarray],
    view_targets: dict[str, np.ndarray],
    rows: np.ndarray,
    batch_size: int,
    mixup: float = 0.0,
    seed: int = 0,
) -> EpochBatches:
    """Batches of the versions ``rows`` names (see :func:`distillation.data.views.epoch_rows`).

    Images are uint8 (N, H, W[, C]) and (K·N, H, W[, C]) and reach the model as float32 in [0, 1]
    with a channel axis, as prepared images do. Each target is gathered with the same rows as
    the images, so a view always comes with the teacher's outputs for that view.

    The dataset is one epoch long, and Keras iterates it afresh each epoch (so a last call of
    ``steps_per_execution`` batches ends with the epoch); the n-th pass serves ``rows[n]``. Each
    epoch's versions are read, in the order they are shown, by a thread while the epoch before
    trains, so the student does not wait on the files: two epochs' copies of the training set
    are in memory, whatever K is.

    With ``mixup`` α > 0 each batch is mixed with itself in another order (:mod:`distillation.training.mixup`):
    its images ``w·x + (1 − w)·x[π]``, its targets as they are beside ``partner_<name>`` (the
    targets of ``x[π]``) and ``mixup_weight`` (``w`` per image). ``w ~ Beta(α, α)`` and ``π`` are
    drawn from ``seed``, the epoch and the step, so a run is repeatable.
    """
    epochs, images_per_epoch = rows.shape
    steps = steps_per_epoch(images_per_epoch, batch_size)
    names = sorted(original_targets)
    dtypes = [tf.as_dtype(original_targets[name].dtype) for name in names]
    batches_served = [0]
    epoch_arrays: list[np.ndarray] = []
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="view-reader")
    next_epoch: dict[int, Future] = {}

    def read_epoch(epoch: int) -> list[np.ndarray]:
        chosen = rows[epoch % epochs]
        return [gather(original_images, view_images, chosen),
                *(gather(original_targets[name], view_targets[name], chosen) for name in names)]

    def batch(_: np.ndarray) -> list[np.ndarray]:
        epoch, step = divmod(batches_served[0], steps)
        batches_served[0] += 1
        if step == 0:
            pending = next_epoch.pop(epoch, None)
            epoch_arrays[:] = pending.result() if pending is not None else read_epoch(epoch)
            if epoch + 1 < epochs:
                next_epoch[epoch + 1] = reader.submit(read_epoch, epoch + 1)
        arrays = [array[step * batch_size:(step + 1) * batch_size] for array in epoch_arrays]
        if not mixup:
            return arrays
        draw = np.random.default_rng([seed, 2, epoch, step])
        weight = np.float32(draw.beta(mixup, mixup))
        return [*arrays, np.full(arrays[0].shape[0], weight), draw.permutation(arrays[0].shape[0])]

    def to_model(index):
        mixing = [tf.float32, tf.int64] if mixup else []
        images, *targets = tf.numpy_function(batch, [index], [tf.uint8, *dtypes, *mixing], stateful=True)
        images = tf.ensure_shape(tf.cast(images, tf.float32) / 255.0, [None, *original_images.shape[1:]])
        if len(original_images.shape) == 3:  # grey pixels carry no channel axis
            images = images[..., None]
        shaped = {name: tf.ensure_shape(target, [None, *original_targets[name].shape[1:]]) for name, target in zip(names, targets)}
        if mixup:
            weight, partner = tf.ensure_shape(targets[-2], [None]), tf.ensure_shape(targets[-1], [None])
            images = weight[:, None, None, None] * images + (1.0 - weight[:, None, None, None]) * tf.gather(images, partner)
            shaped = {**shaped, **{PARTNER + name: tf.gather(target, partner) for name, target in shaped.items()},
                      MIX_WEIGHT: weight}
        return images, shaped

    dataset = tf.data.Dataset.range(steps).map(to_model).prefetch(tf.data.AUTOTUNE)
    return EpochBatches(dataset=dataset, images_per_epoch=images_per_epoch)
