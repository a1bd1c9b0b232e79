"""Exporting a trained model for deployment, and measuring each file in the runtime that serves it.

Three files per model, all written by Keras 3's own ``model.export`` (tf2onnx and TensorFlow's
``TFLiteConverter.from_keras_model`` do not take Keras 3 models):

- ``<name>.onnx`` (fp32), served by onnxruntime;
- ``<name>.tflite`` (fp32) and ``<name>_int8.tflite`` (full-integer int8: weights, activations,
  input and output; post-training quantization calibrated on a seeded sample of training images),
  served by LiteRT's interpreter (``ai-edge-litert``).

Every figure is measured through the runtime: test accuracy, agreement with the Keras model's
predictions, the largest logit difference, and CPU latency per image at batch 1 and 256.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from distillation.atomic import disk_full_names
from distillation.models.evaluation import LATENCY_REPEATS, agreement, latency_ms_per_image, median_ms_per_image
from distillation.export.model_card import card_path, model_card, write_card
from distillation.export.runtimes import missing_runtime, predict_in_batches, runner_for

EXPORT_DIR = Path("models/export")
FORMATS = ("onnx", "litert", "litert_int8")
CALIBRATION_IMAGES = 512  # PTQ's representative sample: a few hundred images fix the ranges


EXPORTED_FILES = {"onnx": ("onnx", ".onnx"), "litert": ("tflite", ".tflite"), "litert_int8": ("int8", "_int8.tflite")}


def exported_paths(name: str, directory: Path = EXPORT_DIR) -> dict[str, Path]:
    """Each format's file, alone with its card in a folder named as its DVC artifact (``student-int8/``),
    so that ``dvc artifacts get`` fetches the file and its card together."""
    return {kind: directory / f"{name}-{folder}" / f"{name}{suffix}" for kind, (folder, suffix) in EXPORTED_FILES.items()}


def cpu_threads() -> int:
    """The cores this process may use: every runtime is given as many threads."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def calibration_sample(train_images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` training images drawn without replacement by ``seed`` (all if there are fewer)."""
    rng = np.random.default_rng([seed, 19])
    chosen = rng.choice(len(train_images), size=min(count, len(train_images)), replace=False)
    return train_images[np.sort(chosen)]


def load_exportable(path: str | Path) -> keras.Model:
    """The ``.keras`` model at ``path`` in safe mode, called once (Keras exports only called models)."""
    from distillation.models.files import load_model

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: model not found; run the stage that trains it first")
    try:
        model = load_model(path)
    except Exception as error:  # a truncated zip, a wrong file: Keras raises many kinds
        raise ValueError(f"{path}: not a readable Keras model ({str(error).strip().splitlines()[0][:200]})") from None
    model(np.zeros((1, *model.input_shape[1:]), dtype=np.float32), training=False)
    return model


def write_exports(model: keras.Model, paths: dict[str, Path], calibration: np.ndarray, classes: tuple[str, ...],
                  own_images: bool = False) -> None:
    """Write the three files and their model cards; on any failure none is left, not even an older one's rename.

    ``own_images``: the model was trained on your own images, and its card says how to prepare an
    image as they were (:func:`distillation.export.model_card.model_card`).
    """
    own_images_shape = tuple(int(side) for side in model.input_shape[1:]) if own_images else None
    import tensorflow as tf

    def representative() -> Any:
        for image in calibration:
            yield [image[np.newaxis].astype(np.float32)]

    int8 = {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": representative,
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
            "inference_input_type": tf.int8, "inference_output_type": tf.int8}
    directory = next(iter(paths.values())).parent.parent
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=directory))
    try:
        with disk_full_names(directory):
            written = {}
            for kind, path in paths.items():
                target = scratch / path.name
                if kind == "onnx":
                    model.export(str(target), format="onnx", verbose=False)
                else:
                    model.export(str(target), format="litert", verbose=False, **(int8 if kind == "litert_int8" else {}))
                quantization = _quantization(target) if kind == "litert_int8" else (None, None)
                write_card(target, model_card(classes, *quantization, own_images_shape=own_images_shape))
                written[kind] = target
            for kind, target in written.items():  # all made: only now do they replace what was there
                os.replace(card_path(target), card_path(paths[kind]))
                os.replace(target, paths[kind])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _quantization(path: Path) -> tuple[tuple[float, int], tuple[float, int]]:
    """(scale, zero_point) of a LiteRT file's input and of its output."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    return interpreter.get_input_details()[0]["quantization"], interpreter.get_output_details()[0]["quantization"]


def latency_fields(ms_per_image: dict[int, float]) -> dict[str, float]:
    """Latencies as the metrics files name them (evaluate's ``summary.json`` too)."""
    return {"latency_ms_batch_1": round(ms_per_image[1], 4), "latency_ms_per_image_batch_256": round(ms_per_image[256], 5)}


def runtime_latencies(forward: Callable[[np.ndarray], Any], images: np.ndarray) -> dict[str, float]:
    """Median ms per image of ``forward`` at each batch size of ``LATENCY_REPEATS``."""
    per_batch = {}
    for batch_size, repeats in LATENCY_REPEATS.items():
        batch = np.ascontiguousarray(np.resize(images, (batch_size, *images.shape[1:])), dtype=np.float32)
        per_batch[batch_size] = median_ms_per_image(forward, batch, batch_size, repeats)
    return latency_fields(per_batch)


def measure_exports(model: keras.Model, model_file: Path, paths: dict[str, Path], images: np.ndarray,
                    labels: np.ndarray, threads: int) -> dict[str, Any]:
    """Size, test accuracy, agreement and latency of the Keras model and of each exported file."""
    from distillation.models.files import predict_logits

    keras_logits = predict_logits(model, images)
    report: dict[str, Any] = {
        "threads": threads,
        "test_images": int(len(images)),
        "keras": {
            "file": str(model_file), "bytes": model_file.stat().st_size,
            "test_accuracy": round(float(np.mean(keras_logits.argmax(axis=1) == labels)), 6),
            **latency_fields({batch: latency_ms_per_image(model, images, batch, repeats)
                              for batch, repeats in LATENCY_REPEATS.items()}),
        },
    }
    skipped = {}
    for kind, path in paths.items():
        entry: dict[str, Any] = {"file": str(path), "bytes": path.stat().st_size}
        reason = missing_runtime(kind)
        if reason:
            skipped[kind] = reason
        else:
            runner = runner_for(kind, path, threads)
            logits = predict_in_batches(runner.forward, images)
            entry.update({
                "test_accuracy": round(float(np.mean(logits.argmax(axis=1) == labels)), 6),
                "agreement_with_keras": round(agreement(logits, keras_logits), 6),
                "max_abs_logit_difference": round(float(np.max(np.abs(logits - keras_logits))), 6),
                **runtime_latencies(runner.forward, images),
            })
        report[kind] = entry
    report["int8_size_ratio"] = round(report["litert"]["bytes"] / report["litert_int8"]["bytes"], 3)
    if "test_accuracy" in report["litert_int8"]:
        report["int8_accuracy_drop"] = round(report["keras"]["test_accuracy"] - report["litert_int8"]["test_accuracy"], 6)
    if skipped:
        report["skipped"] = skipped
    return report
