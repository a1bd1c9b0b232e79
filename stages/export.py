"""Stages ``export`` (the student) and ``export_teacher``: the model as ONNX, LiteRT fp32 and LiteRT int8.

    python -m stages.export student      # models/export/student{.onnx,.tflite,_int8.tflite}, metrics/export.json
    python -m stages.export teacher      # the same for the teacher, metrics/export_teacher.json

The int8 file is calibrated on a seeded sample of training images; val and test are never seen
before the test split is measured. Each file's size, test accuracy, agreement with the Keras
model and latency at batch 1 and 256 are measured through its own runtime (onnxruntime, LiteRT),
on as many threads as this process has cores (the metrics name the CPU); a format whose runtime this platform lacks is
written but not measured, and the metrics name it under ``skipped``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.export.formats import (CALIBRATION_IMAGES, calibration_sample, cpu_threads, exported_paths, load_exportable,
                                 measure_exports, write_exports)
from distillation.machine import machine_kind
from distillation.config.params import load_params
from distillation.paths import PREPARED_DIR, model_path
from distillation.data.own_images import is_own_images
from distillation.data.prepared import load_split

EXPORTED_MODELS = {"student": Path("metrics/export.json"), "teacher": Path("metrics/export_teacher.json")}


def export_model(name: str, seed: int, own_images: bool = False) -> dict:
    """Export model ``name`` into its three files and measure each; return the metrics.

    ``own_images``: trained on your own images (their cards then say how to prepare an image).
    """
    model_file = model_path(name)
    model = load_exportable(model_file)
    train = load_split(PREPARED_DIR / "train.npz")
    paths = exported_paths(name)
    write_exports(model, paths, calibration_sample(train.images, CALIBRATION_IMAGES, seed), train.classes, own_images)
    test = load_split(PREPARED_DIR / "test.npz")
    return {**measure_exports(model, model_file, paths, test.images, test.labels, cpu_threads()), "machine": machine_kind()}


def main() -> None:
    arguments = sys.argv[1:]
    if len(arguments) != 1 or arguments[0] not in EXPORTED_MODELS:
        raise ValueError(f"usage: python -m stages.export {{{'|'.join(EXPORTED_MODELS)}}}")
    name = arguments[0]
    params = load_params()
    metrics = export_model(name, params.seed, is_own_images(params.data.source))
    write_json(EXPORTED_MODELS[name], metrics)
    for kind, reason in metrics.get("skipped", {}).items():
        print(f"{name}: {kind} written but not measured: {reason}")
    int8 = metrics["litert_int8"]
    print(f"{name}: Keras {metrics['keras']['test_accuracy']:.4f}, int8 {int8.get('test_accuracy', float('nan')):.4f} "
          f"({metrics['int8_size_ratio']}× smaller than LiteRT fp32), agreement {int8.get('agreement_with_keras', float('nan')):.4f}")


if __name__ == "__main__":
    run_stage(main)
