"""Seeding, fitting with early stopping on val, and one final evaluation (model files: :mod:`distillation.models.files`)."""
from __future__ import annotations

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of stage logs

import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
from dvclive import Live
from dvclive.keras import DVCLiveCallback
from scmrepo.exceptions import SCMError

from distillation.models.files import EVALUATION_BATCH
from distillation.config.params import TrainingRecipe
from distillation.training.fused_adam import FusedAdam
from distillation.training.precision import float32_copy, training_precision
from distillation.data.prepared import PreparedSplit

# Every MLP, the baseline and the student of every method, stops on the same quantity: its own
# val accuracy. A method's own loss is not comparable across methods (KD's soft term, DML's
# peers), and accuracy is what the comparison selects on.
MLP_MONITOR = "val_accuracy"


def configure_runtime(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic.

    Two runs with the same seed on the same machine then give the same weights and metrics.
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def quiet_pipeline() -> tf.data.Options:
    """tf.data options for batches gathered from arrays in memory: no autotuned prefetch threads.

    On two cores, Keras's own pipeline for NumPy arrays runs prefetch threads that take the cores
    from the model: fed by these options' pipeline the MLP trains about half as fast again, the
    teacher a little faster (``bench/feeding_benchmark.py``, rendered in docs/speed.md).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    options.threading.private_threadpool_size = 1
    return options


def shuffled_batches(inputs: Any, targets: Any, batch_size: int) -> tf.data.Dataset:
    """One epoch of ``batch_size`` batches of (inputs, targets), every row once, in a new order on
    each pass (drawn from the global seed :func:`configure_runtime` set); ``targets`` an array or a
    mapping of arrays, gathered row for row with the inputs."""
    inputs = tf.convert_to_tensor(inputs)
    targets = tf.nest.map_structure(tf.convert_to_tensor, targets)
    count = int(inputs.shape[0])

    def rows(indices: tf.Tensor) -> tuple[tf.Tensor, Any]:
        return tf.gather(inputs, indices), tf.nest.map_structure(lambda target: tf.gather(target, indices), targets)

    batches = tf.data.Dataset.range(count).shuffle(count, reshuffle_each_iteration=True).batch(batch_size).map(rows)
    return batches.with_options(quiet_pipeline())


def ordered_batches(inputs: Any, targets: Any, batch_size: int) -> tf.data.Dataset:
    """(inputs, targets) in ``batch_size`` batches, in order: a val split as Keras would batch it."""
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size).with_options(quiet_pipeline())


@dataclass(frozen=True)
class TrainingRun:
    epochs_run: int
    best_epoch: int  # 1-based epoch whose weights were kept
    seconds: float
    images_per_second: float  # training images × epochs over the fit's wall time (val passes included)


def fit_with_early_stopping(
    model: keras.Model,
    train_inputs: Any,
    train_targets: Any,
    validation: tuple[Any, Any],
    recipe: TrainingRecipe,
    log_dir: str | Path | None = None,
    monitor: str = "val_loss",
) -> TrainingRun:
    """Fit on train with the section's learning-rate schedule, keeping the weights of the best val epoch.

    ``recipe`` is a training section of params (``epochs``, ``batch_size``, ``patience``,
    ``early_stopping``, ``schedule``). With ``early_stopping: true`` the weights of the epoch
    with the best val ``monitor`` are restored at the end. Under ``schedule: plateau`` training
    also stops once ``monitor`` has not improved for ``patience`` epochs, and the learning rate
    halves when it stalls for half of that. Under ``cosine`` the cycle always runs to its last
    epoch: a cycle cut short at its high rates never anneals, and the annealing is where it gains
    (measured: docs/speed.md). With ``early_stopping: false`` (the original procedure) every
    epoch runs and the last weights are kept. With ``log_dir``, dvclive records train and val
    loss and accuracy per epoch there. With ``train_targets`` ``None``, ``train_inputs`` holds
    the batches itself: a ``dataset`` of one epoch and its ``images_per_epoch``
    (:class:`distillation.training.view_batches.EpochBatches`); otherwise the rows are shuffled
    and batched here (:func:`shuffled_batches`), and val batched alike (:func:`ordered_batches`).
    """
    callbacks: list[keras.callbacks.Callback] = []
    early_stopping = None
    if recipe.early_stopping:
        mode = "max" if monitor.endswith("accuracy") else "min"
        plateau = recipe.schedule == "plateau"
        early_stopping = keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=recipe.patience if plateau else recipe.epochs,
            restore_best_weights=True,
        )
        callbacks.append(early_stopping)
        if plateau:
            callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode=mode, factor=0.5, patience=max(1, recipe.patience // 2), min_lr=1e-6
            ))
    if log_dir is not None:
        callbacks.append(DVCLiveCallback(live=_open_training_log(log_dir)))
    if train_targets is None:
        data = {"x": train_inputs.dataset}
        images = train_inputs.images_per_epoch
    else:
        data = {"x": shuffled_batches(train_inputs, train_targets, recipe.batch_size)}
        images = len(train_inputs)
    started = time.perf_counter()
    history = model.fit(
        **data,
        shuffle=False,  # either dataset comes shuffled
        validation_data=ordered_batches(*validation, recipe.batch_size),
        epochs=recipe.epochs,
        callbacks=callbacks,
        verbose=2,
    )
    seconds = time.perf_counter() - started
    epochs_run = len(history.history["loss"])
    best_epoch = early_stopping.best_epoch + 1 if early_stopping is not None else epochs_run
    return TrainingRun(epochs_run=epochs_run, best_epoch=best_epoch, seconds=seconds, images_per_second=images * epochs_run / seconds)


def training_device() -> str:
    """Where Keras trains: the first visible GPU's name, or ``CPU``."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU ({details.get('device_name', gpus[0].name)})"


def steps_per_epoch(train_images: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of ``train_images`` at ``batch_size``."""
    return math.ceil(train_images / batch_size)


def learning_rate(recipe: TrainingRecipe, steps_per_epoch: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The section's learning rate: constant under ``schedule: plateau``, a schedule under ``cosine``.

    ``cosine`` (one cycle, after Smith & Topin's super-convergence and Loshchilov & Hutter's
    cosine annealing) rises linearly from 0 to ``learning_rate`` over ``warmup_epochs``, then
    falls along a half cosine to 0 at the last of ``epochs``: the whole budget is one cycle, so
    ``epochs`` is what a user trades for time.
    """
    if recipe.schedule == "plateau":
        return recipe.learning_rate
    warmup_steps = round(recipe.warmup_epochs * steps_per_epoch)
    decay_steps = max(1, recipe.epochs * steps_per_epoch - warmup_steps)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps, warmup_target=recipe.learning_rate, warmup_steps=warmup_steps
    )


def make_optimizer(recipe: TrainingRecipe, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """Adam, or Adadelta as the original scripts used (give it learning_rate 1.0, Keras 2's default).

    ``steps_per_epoch`` sets the length of a ``cosine`` schedule (:func:`learning_rate`).
    """
    optimizers = {"adam": FusedAdam, "adadelta": keras.optimizers.Adadelta}
    return optimizers[recipe.optimizer](learning_rate(recipe, steps_per_epoch))


def _open_training_log(log_dir: str | Path) -> Live:
    """A dvclive logger that edits no dvc.yaml and saves no git experiment (dvc.yaml declares the plots)."""
    try:
        return Live(str(log_dir), dvcyaml=None, save_dvc_exp=False)
    except SCMError as error:
        # dvclive reads HEAD even when it will not use it, and fails in a repository without commits.
        raise ValueError(f"{log_dir}: dvclive cannot start ({error}); make a first git commit, then re-run") from None


def compile_classifier(model: keras.Model, recipe: TrainingRecipe, steps_per_epoch: int = 1) -> keras.Model:
    """The section's optimizer on sparse cross-entropy of the logits, reporting accuracy.

    ``steps_per_execution`` batches run in one call into TensorFlow: the same steps in the same
    order, with less Python per step (it matters for the small MLP, not for the CNN).
    """
    model.compile(
        optimizer=make_optimizer(recipe, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=recipe.steps_per_execution,
    )
    return model


def evaluate(model: keras.Model, split: PreparedSplit) -> tuple[float, float]:
    """Cross-entropy and accuracy of a compiled classifier on one split."""
    loss, accuracy = model.evaluate(split.images, split.labels, batch_size=EVALUATION_BATCH, verbose=0)
    return float(loss), float(accuracy)


def classifier_metrics(model: keras.Model, splits: dict[str, PreparedSplit], run: TrainingRun) -> dict[str, Any]:
    """The metrics every model reports; the test split is evaluated here, once."""
    val_loss, val_accuracy = evaluate(model, splits["val"])
    test_loss, test_accuracy = evaluate(model, splits["test"])
    return {
        "val_accuracy": round(val_accuracy, 6),
        "val_loss": round(val_loss, 6),
        "test_accuracy": round(test_accuracy, 6),
        "test_loss": round(test_loss, 6),
        "params": int(model.count_params()),
        "epochs": run.epochs_run,
        "best_epoch": run.best_epoch,
        "train_seconds": round(run.seconds, 2),
        "train_images_per_second": round(run.images_per_second),
        "device": training_device(),
    }


def budgeted(recipe: TrainingRecipe, train_images: int) -> TrainingRecipe:
    """The section with ``epochs`` raised, if need be, to give its cycle at least ``min_steps``
    optimizer steps: small data get as many updates as large data, large data keep their epochs.

    A budget counted in epochs alone starves small data: 5 teacher epochs are 825 steps on the
    42,060 real letters but 185 on the 9,360 default images (docs/speed.md).
    """
    needed = math.ceil(recipe.min_steps / steps_per_epoch(train_images, recipe.batch_size))
    return recipe.model_copy(update={"epochs": max(recipe.epochs, needed)})


def train_classifier(
    build: Callable[[], keras.Model],
    splits: dict[str, PreparedSplit],
    recipe: TrainingRecipe,
    section: str,
    log_dir: str | Path | None = None,
    monitor: str = "val_loss",
) -> tuple[keras.Model, dict[str, Any]]:
    """Build with ``build``, compile, fit on train with early stopping on val ``monitor`` under the
    section's budget and precision, evaluate once in float32; return the model and its metrics."""
    train, val = splits["train"], splits["val"]
    recipe = budgeted(recipe, len(train.labels))
    with training_precision(recipe.precision, f"{section}.precision") as precision:
        model = build()
        compile_classifier(model, recipe, steps_per_epoch(len(train.labels), recipe.batch_size))
        run = fit_with_early_stopping(model, train.images, train.labels, (val.images, val.labels), recipe, log_dir, monitor)
    model = float32_copy(model, build)
    if precision != "float32":
        compile_classifier(model, recipe)
    return model, {**classifier_metrics(model, splits, run), "precision": precision, "min_steps": recipe.min_steps}
