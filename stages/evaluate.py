"""Stage ``evaluate``: compare the three trained models in ``metrics/summary.json``.

Test accuracies come from each model's metrics file (the test split is evaluated once, by the
training stages); this stage adds what a deployment decision needs: parameter counts, saved
sizes, CPU latency at batch 1 and 256, the student's agreement with the teacher, its gain over
the baseline, the compression ratio, and confusion matrices of the student and the teacher.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.models.evaluation import (
    agreement,
    confusion_matrix,
    LATENCY_REPEATS,
    latency_ms_per_image,
    save_confusion_plot,
    write_prediction_table,
)
from distillation.paths import (
    MODEL_NAMES,
    PREPARED_DIR,
    SUMMARY,
    TEACHER_LOGITS,
    confusion_path,
    metrics_path,
    model_path,
)
from distillation.data.prepared import PreparedSplit, load_prepared
from distillation.targets.teacher_logits import load_teacher_logits
from distillation.models.files import load_model, predict_logits


def summarise(
    model_metrics: dict[str, dict[str, Any]],
    model_bytes: dict[str, int],
    latencies: dict[str, dict[int, float]],
    student_teacher_agreement: float,
) -> dict[str, Any]:
    """The summary's layout: one block per model, then the comparisons."""
    per_model = {
        name: {
            "test_accuracy": model_metrics[name]["test_accuracy"],
            "params": model_metrics[name]["params"],
            "model_bytes": model_bytes[name],
            "latency_ms_batch_1": round(latencies[name][1], 4),
            "latency_ms_per_image_batch_256": round(latencies[name][256], 5),
        }
        for name in MODEL_NAMES
    }
    return {
        **per_model,
        "student_teacher_agreement": round(student_teacher_agreement, 6),
        "student_gain_over_baseline": round(
            model_metrics["student"]["test_accuracy"] - model_metrics["baseline"]["test_accuracy"], 6
        ),
        "compression_ratio": round(model_metrics["teacher"]["params"] / model_metrics["student"]["params"], 3),
    }


def evaluate_models(splits: dict[str, PreparedSplit], teacher_test_logits: np.ndarray) -> dict[str, Any]:
    """Measure the saved models and write the confusion matrices; return the summary."""
    test = splits["test"]
    models = {name: load_model(model_path(name)) for name in MODEL_NAMES}
    model_metrics = {name: json.loads(metrics_path(name).read_text()) for name in MODEL_NAMES}
    latencies = {
        name: {batch: latency_ms_per_image(model, test.images, batch, repeats) for batch, repeats in LATENCY_REPEATS.items()}
        for name, model in models.items()
    }
    student_logits = predict_logits(models["student"], test.images)
    for name, logits in (("student", student_logits), ("teacher", teacher_test_logits)):
        predictions = logits.argmax(axis=1)
        write_prediction_table(confusion_path(name, ".csv"), test.labels, predictions, test.classes)
        matrix = confusion_matrix(test.labels, predictions, len(test.classes))
        save_confusion_plot(confusion_path(name, ".png"), matrix, test.classes, name)
    return summarise(
        model_metrics,
        {name: model_path(name).stat().st_size for name in MODEL_NAMES},
        latencies,
        agreement(student_logits, teacher_test_logits),
    )


def main() -> None:
    splits = load_prepared(PREPARED_DIR)
    logits = load_teacher_logits(TEACHER_LOGITS, splits)
    summary = evaluate_models(splits, logits["test"])
    write_json(SUMMARY, summary)
    print(
        f"student {summary['student']['test_accuracy']:.4f} vs baseline {summary['baseline']['test_accuracy']:.4f} "
        f"(gain {summary['student_gain_over_baseline']:+.4f}), agreement with teacher "
        f"{summary['student_teacher_agreement']:.4f}, {summary['compression_ratio']}× fewer parameters"
    )


if __name__ == "__main__":
    run_stage(main)
