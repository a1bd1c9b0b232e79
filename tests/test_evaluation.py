"""Comparisons in the evaluate stage and the experiment report."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.models.evaluation import agreement, confusion_matrix, latency_ms_per_image
from distillation.models.networks import build_mlp
from distillation.experiments.table import experiments_table
from distillation.reporting.experiments import markdown_report, save_heatmap, seed_summary
from experiment_rows import exp_row, kd
from stages.evaluate import summarise


def test_confusion_matrix_counts_actual_by_predicted():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_agreement_compares_predicted_classes():
    first = np.array([[2.0, 1.0], [0.0, 1.0], [5.0, 0.0]])
    second = np.array([[9.0, 1.0], [3.0, 1.0], [1.0, 0.0]])
    assert agreement(first, second) == pytest.approx(2 / 3)


def test_latency_is_the_median_call_per_image_after_an_untimed_warm_up(monkeypatch):
    # A clock that the forward pass advances: 900 ms the warm-up, then 40, 10 and 30 ms a call.
    import distillation.models.evaluation as evaluation

    durations, clock = iter([0.9, 0.04, 0.01, 0.03]), [0.0]

    def forward(batch):
        clock[0] += next(durations)

    monkeypatch.setattr(evaluation.time, "perf_counter", lambda: clock[0])
    assert evaluation.median_ms_per_image(forward, None, batch_size=8, repeats=3) == pytest.approx(30 / 8)


def test_latency_stops_timing_once_its_seconds_are_spent_but_never_under_the_minimum_calls(monkeypatch):
    import distillation.models.evaluation as evaluation

    calls, clock = [0], [0.0]

    def forward(batch):
        calls[0] += 1
        clock[0] += 0.1

    monkeypatch.setattr(evaluation.time, "perf_counter", lambda: clock[0])
    # 0.1 s a call against 0.25 s: the minimum of calls, then no more (plus the untimed warm-up)
    assert evaluation.median_ms_per_image(forward, None, batch_size=1, repeats=200, seconds=0.25) == pytest.approx(100)
    assert calls[0] == 1 + evaluation.LATENCY_MIN_REPEATS
    calls[0] = 0
    # 0.1 s a call against 1.05 s: eleven timed calls, the first call past the budget the last
    evaluation.median_ms_per_image(forward, None, batch_size=1, repeats=200, seconds=1.05)
    assert calls[0] == 1 + 11


def test_a_models_latency_is_measured_at_batch_1_and_64():
    model = build_mlp(3, hidden_units=8)
    images = np.zeros((4, 28, 28, 1), np.float32)
    assert latency_ms_per_image(model, images, 1, 3) > 0 and latency_ms_per_image(model, images, 64, 3) > 0


def test_summary_reports_gain_and_compression():
    metrics = {
        "teacher": {"test_accuracy": 0.96, "params": 3_378_970},
        "baseline": {"test_accuracy": 0.90, "params": 415_258},
        "student": {"test_accuracy": 0.93, "params": 415_258},
    }
    latencies = {name: {1: 0.5, 256: 0.01} for name in metrics}
    summary = summarise(metrics, {name: 1000 for name in metrics}, latencies, 0.95)
    assert summary["student_gain_over_baseline"] == pytest.approx(0.03)
    assert summary["compression_ratio"] == pytest.approx(8.137, abs=1e-3)
    assert summary["student"]["model_bytes"] == 1000 and summary["student_teacher_agreement"] == 0.95


def test_report_collects_experiments_and_summarises_replicates():
    table = experiments_table([
        exp_row("main", 0, 0.90, 0.93),
        exp_row("exp-one", 1, 0.91, 0.93),
        exp_row("exp-two", 2, 0.89, 0.93),
        exp_row("exp-hot", 0, 0.90, 0.95, settings=kd(20, 0.1), student_val=0.90),
    ])
    assert set(table["experiment"]) == {"main", "exp-one", "exp-two", "exp-hot"}
    seeds = seed_summary(table)
    assert seeds.attrs["keys"] == ["distill.lambda", "distill.temp"]
    row = seeds[(seeds["distill.temp"] == "10.0") & (seeds["distill.lambda"] == "0.5")].iloc[0]
    assert row["replicates"] == 3 and row["gain_mean"] == pytest.approx(0.03) and row["gain_std"] == pytest.approx(0.01)
    report = markdown_report(table, seeds)
    assert "| exp-hot | synthetic | kd | lambda=0.1, t2_scale=False, temp=20 |  | 0 | 0 |" in report and "+3.00 ± 1.00" in report
    # Ranked by val, not test: exp-hot has the best test accuracy but the worst val accuracy.
    ranked = [line.split(" | ")[0].lstrip("| ") for line in report.splitlines() if line.startswith("| exp-") or line.startswith("| main")]
    assert ranked[-1] == "exp-hot"


def test_sweep_table_and_heatmap_keep_apart_runs_that_differ_in_any_param(tmp_path):
    # Same T and λ, once with T² scaling and once with another epoch budget: three configurations.
    table = experiments_table([
        exp_row("plain", 0, 0.90, 0.93, settings=kd(10, 0.5), student_val=0.93),
        exp_row("scaled", 0, 0.90, 0.94, settings=kd(10, 0.5, t2_scale=True), student_val=0.95),
        exp_row("longer", 0, 0.90, 0.92, settings=kd(10, 0.5), student_val=0.91, params={"distill.epochs": 60}),
        exp_row("cooler", 0, 0.90, 0.92, settings=kd(2, 0.5), student_val=0.92),
    ])
    seeds = seed_summary(table)
    assert seeds.attrs["keys"] == ["distill.epochs", "distill.kd.t2_scale", "distill.temp"]
    assert len(seeds) == 4 and set(seeds["runs"]) == {1}
    report = markdown_report(table, seeds)
    assert "| distill.epochs | distill.kd.t2_scale | distill.temp | runs |" in report
    assert "| longer | synthetic | kd | lambda=0.5, t2_scale=False, temp=10 | distill.epochs=60 |" in report
    assert save_heatmap(table, tmp_path / "heatmap.png")
    from PIL import Image

    with Image.open(tmp_path / "heatmap.png") as image:
        assert image.size[1] > 3 * 150  # one panel per (epochs, T² scale): three panels


def test_evaluate_stage_summarises_tiny_models_and_writes_confusions(tmp_path, monkeypatch, tiny_letters_mat):
    """``evaluate_models`` in a scratch project: every summary field against values computed here."""
    import csv
    import json

    import stages.evaluate as evaluate_stage
    from distillation.models.files import save_model
    from distillation.data.prepared import load_prepared
    from stages.convert import convert

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluate_stage, "LATENCY_REPEATS", {1: 2, 256: 2})
    convert(tiny_letters_mat, tmp_path / "prepared", 0.25, seed=0)
    splits = load_prepared(tmp_path / "prepared")
    test = splits["test"]
    models = {"teacher": build_mlp(26, hidden_units=64), "baseline": build_mlp(26, hidden_units=16),
              "student": build_mlp(26, hidden_units=16)}
    accuracies = {"teacher": 0.9, "baseline": 0.7, "student": 0.75}
    (tmp_path / "metrics").mkdir()
    for name, model in models.items():
        save_model(model, tmp_path / "models" / f"{name}.keras")
        metrics = {"test_accuracy": accuracies[name], "params": model.count_params()}
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps(metrics))
    teacher_logits = np.random.default_rng(0).normal(size=(test.labels.shape[0], 26)).astype(np.float32)

    summary = evaluate_stage.evaluate_models(splits, teacher_logits)

    student_predictions = models["student"].predict(test.images, verbose=0).argmax(axis=1)
    assert summary["student_teacher_agreement"] == pytest.approx(np.mean(student_predictions == teacher_logits.argmax(axis=1)), abs=1e-6)
    assert summary["student_gain_over_baseline"] == pytest.approx(0.05)
    assert summary["compression_ratio"] == pytest.approx(models["teacher"].count_params() / models["student"].count_params(), abs=1e-3)
    for name, model in models.items():
        block = summary[name]
        assert block["params"] == model.count_params() and block["test_accuracy"] == accuracies[name]
        assert block["model_bytes"] == (tmp_path / "models" / f"{name}.keras").stat().st_size
        assert block["latency_ms_batch_1"] > 0 and block["latency_ms_per_image_batch_256"] > 0
    for name, predictions in (("student", student_predictions), ("teacher", teacher_logits.argmax(axis=1))):
        with (tmp_path / "plots" / "confusion" / f"{name}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        classes = np.asarray(test.classes)
        assert len(rows) == test.labels.shape[0]  # one row per test image
        assert [row["actual"] for row in rows] == list(classes[test.labels])
        assert [row["predicted"] for row in rows] == list(classes[predictions])
        assert (tmp_path / "plots" / "confusion" / f"{name}.png").stat().st_size > 1000
