"""The comparison's rules: choose on val, pair by replicate, intervals that match scipy."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import PROJECT_ROOT
from distillation.comparison import (
    choose_settings,
    grid_points,
    load_comparison,
    mean_interval,
    methods_markdown,
    summarise_methods,
    verdict,
)
from distillation.dvc_queue import set_arguments
from distillation.params import load_params
from distillation.report import experiments_table
from test_evaluation import exp_row, exp_show, kd

SHIPPED = load_params(PROJECT_ROOT / "params.yaml")


def test_selection_uses_val_accuracy_never_test():
    table = experiments_table(exp_show(
        exp_row("a", 0, 0.90, student=0.99, settings=kd(2, 0.5), student_val=0.91),  # best test, worse val
        exp_row("b", 0, 0.90, student=0.92, settings=kd(10, 0.5), student_val=0.95),
    ))
    assert choose_settings(table, "synthetic") == {"kd": "lambda=0.5, t2_scale=False, temp=10"}


def test_only_replicate_zero_and_the_given_source_take_part_in_the_choice():
    table = experiments_table(exp_show(
        exp_row("a", 0, 0.90, 0.92, settings=kd(2, 0.5), student_val=0.93),
        exp_row("b", 1, 0.90, 0.92, settings=kd(10, 0.5), student_val=0.99),
        exp_row("c", 0, 0.90, 0.92, settings=kd(20, 0.5), student_val=0.99, source="/data/real.mat"),
    ))
    assert choose_settings(table, "synthetic") == {"kd": "lambda=0.5, t2_scale=False, temp=2"}
    assert choose_settings(table, "real.mat") == {"kd": "lambda=0.5, t2_scale=False, temp=20"}


def test_interval_is_the_student_t_interval():
    differences = np.array([0.01, 0.03, 0.02, 0.05, 0.015])
    mean, low, high = mean_interval(differences)
    expected = stats.t.interval(0.95, 4, loc=differences.mean(), scale=stats.sem(differences))
    assert mean == pytest.approx(differences.mean())
    assert (low, high) == pytest.approx(expected)
    assert verdict(low, high) == "higher"
    assert verdict(-0.01, 0.02) == "not distinguishable" and verdict(-0.03, -0.01) == "lower"


def comparison_table():
    """Five replicates of kd, label smoothing and teacher-free, with known paired gains."""
    baselines = [0.900, 0.905, 0.895, 0.902, 0.898]
    rows = []
    for replicate, baseline in enumerate(baselines):
        rows.append(exp_row(f"kd{replicate}", replicate, baseline, baseline + 0.030 + 0.002 * replicate, student_val=0.95))
        rows.append(exp_row(f"ls{replicate}", replicate, baseline, baseline + 0.010 * (-1) ** replicate,
                            method="label_smoothing", settings={"epsilon": 0.1}, student_val=0.93))
        rows.append(exp_row(f"tf{replicate}", replicate, baseline, baseline + 0.028 + 0.001 * replicate,
                            method="teacher_free", settings={"correct_probability": 0.9, "temp": 20, "lambda": 0.5}, student_val=0.94))
    return experiments_table(exp_show(*rows)), baselines


def test_summary_pairs_each_method_with_the_baseline_of_its_replicate():
    table, baselines = comparison_table()
    summary = summarise_methods(table, "synthetic", choose_settings(table, "synthetic")).set_index("method")
    assert list(summary.index) == ["kd", "teacher_free", "label_smoothing", "baseline (MLP alone)"]  # by val
    gains = 0.030 + 0.002 * np.arange(5)
    assert summary.loc["kd", "gain_mean"] == pytest.approx(gains.mean())
    assert summary.loc["kd", "gain_low"] == pytest.approx(stats.t.interval(0.95, 4, gains.mean(), stats.sem(gains))[0])
    assert summary.loc["kd", "gain_verdict"] == "higher"
    assert summary.loc["label_smoothing", "gain_verdict"] == "not distinguishable"
    # The best control is the one with the higher val accuracy: teacher-free, not label smoothing.
    assert summary.loc["kd", "versus_control"] == "teacher_free"
    assert summary.loc["kd", "versus_mean"] == pytest.approx(np.mean(0.002 + 0.001 * np.arange(5)))
    assert summary.loc["baseline (MLP alone)", "test_mean"] == pytest.approx(np.mean(baselines))
    markdown = methods_markdown({"synthetic": summary.reset_index()}, {"synthetic": 0.96})
    assert "| kd | lambda=0.5, t2_scale=False, temp=10 | 5 | 95.00 |" in markdown
    assert "than teacher_free" in markdown and "label_smoothing (control)" in markdown


def test_grid_points_and_their_command_line():
    points = grid_points("kd", {"distill.temp": [2, 10], "distill.kd.t2_scale": [True]})
    assert points == [
        {"distill.method": "kd", "distill.temp": 2, "distill.kd.t2_scale": True},
        {"distill.method": "kd", "distill.temp": 10, "distill.kd.t2_scale": True},
    ]
    assert set_arguments(points[0]) == ["-S", "distill.method=kd", "-S", "distill.temp=2", "-S", "distill.kd.t2_scale=true"]


def test_shipped_comparison_is_valid_and_covers_every_method():
    from distillation.methods import METHODS

    config = load_comparison(PROJECT_ROOT / "comparison.yaml", SHIPPED)
    assert set(config["grids"]) == set(METHODS) and config["replicates"] >= 5


@pytest.mark.parametrize("text, message", [
    ("replicates: 1\ngrids: {kd: {}}", "replicates must be an integer ≥ 2"),
    ("replicates: 3\ngrids: {kdd: {}}", "grids.kdd: not a method"),
    ("replicates: 3\ngrids: {kd: {distill.temp: [0]}}", r"grids.kd: params.yaml: distill.temp must be > 0"),
    ("replicates: 3\ngrids: {kd: {distill.kd.tmp: [1]}}", "unknown key 'distill.kd.tmp'"),
])
def test_a_bad_comparison_file_is_named_with_the_problem(tmp_path, text, message):
    path = tmp_path / "comparison.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        load_comparison(path, SHIPPED)
    assert str(path) in str(error.value)


def test_runs_whose_metrics_do_not_match_their_params_are_left_out(caplog):
    # What a killed queued run looked like once: DVC saved a `dml` experiment at replicate 2
    # whose outputs were the starting commit's (kd, replicate 0).
    stale = exp_row("moved-skat", 2, 0.905, 0.934, method="dml", settings={"peers": 2, "cnn_peer": False})
    stale["data"]["metrics"]["metrics/student.json"]["data"].update(method="kd", setting="lambda=0.5, t2_scale=False, temp=10", seed=42)
    good = exp_row("glued-bate", 2, 0.906, 0.911, method="dml", settings={"peers": 2, "cnn_peer": False})
    good["data"]["metrics"]["metrics/student.json"]["data"].update(method="dml", setting="cnn_peer=False, peers=2", seed=44)
    good["data"]["metrics"]["metrics/baseline.json"]["data"].update(seed=44)
    stale_baseline = exp_row("old-base", 3, 0.905, 0.911, method="dml", settings={"peers": 2, "cnn_peer": False})
    stale_baseline["data"]["metrics"]["metrics/baseline.json"]["data"].update(seed=42)
    table = experiments_table(exp_show(exp_row("main", 0, 0.90, 0.93), stale, good, stale_baseline))
    assert list(table["experiment"]) == ["main", "glued-bate"]
    warnings = [record.getMessage() for record in caplog.records]
    assert any("moved-skat" in line and "method 'kd'" in line and "'dml'" in line for line in warnings)
    assert any("old-base" in line and "baseline was trained with seed 42" in line and "45" in line for line in warnings)


def test_compare_queues_again_a_run_whose_saved_outputs_are_stale():
    from scripts.compare import pending

    dml = {"peers": 2, "cnn_peer": False}
    stale = exp_row("moved-skat", 2, 0.905, 0.934, method="dml", settings=dml)
    stale["data"]["metrics"]["metrics/student.json"]["data"].update(method="kd", seed=42)
    done = exp_row("spiky-tule", 1, 0.903, 0.910, method="dml", settings=dml)
    table = experiments_table(exp_show(exp_row("main", 0, 0.90, 0.93), stale, done))
    point = {"distill.method": "dml", "distill.dml.peers": 2}
    assert pending([point], SHIPPED, "synthetic", 1, table, {}) == []
    assert pending([point], SHIPPED, "synthetic", 2, table, {}) == [{**point, "replicate": 2}]
