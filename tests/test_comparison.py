"""The comparison's rules: fresh replicates, runs identified by all their params, paired and adjusted tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import PROJECT_ROOT
from distillation.comparison.config import ComparisonConfig, grid_points, load_comparison
from distillation.comparison.records import BaselineChoice, Record
from distillation.comparison.plan import choose_baseline, choose_settings, find_run, planned_run, reported_runs, selection_runs
from distillation.comparison.records import comparison_record, load_records, save_record
from distillation.comparison.stats import gap_share_interval, summarise
from distillation.comparison.studies import views_curve
from distillation.reporting.comparison import methods_markdown, save_views_chart
from distillation.experiments.queue import set_arguments
from distillation.config.identity import run_identity
from distillation.experiments.table import experiments_table
from distillation.models.per_image import decode_correct, encode_correct
from experiment_rows import SHIPPED, exp_row, kd

KD_POINT = {"distill.method": "kd", "distill.temp": 10, "distill.lambda": 0.5}
CONFIG = {"replicates": 5, "teachers": 2, "selection_replicates": [100, 101],
          "grids": {"kd": {"distill.temp": [2, 10]}, "label_smoothing": {"distill.label_smoothing.epsilon": [0.1]}}}



def typed(config: dict) -> ComparisonConfig:
    """A config written as comparison.yaml holds it, as load_comparison gives it."""
    return config if isinstance(config, ComparisonConfig) else ComparisonConfig.model_validate(config)

def test_selection_uses_mean_val_accuracy_never_test():
    table = experiments_table([
        exp_row("a0", 100, 0.90, student=0.99, settings=kd(2), student_val=0.91),  # best test, worse val
        exp_row("a1", 101, 0.90, student=0.99, settings=kd(2), student_val=0.95),
        exp_row("b0", 100, 0.90, student=0.92, settings=kd(10), student_val=0.94),
        exp_row("b1", 101, 0.90, student=0.92, settings=kd(10), student_val=0.93),
    ])
    assert choose_settings(table) == {"kd": "lambda=0.5, t2_scale=False, temp=10"}  # 0.935 over 0.93


def test_selection_runs_are_never_among_the_reported_runs():
    selection = selection_runs(typed(CONFIG), SHIPPED, {})
    assert len(selection) == 3 * 2 and {run["replicate"] for run in selection} == {100, 101}
    assert {run["overrides"]["teacher.replicate"] for run in selection} == {0}
    chosen = {"kd": {"setting": "", "point": {"distill.method": "kd", "distill.temp": 2}},
              "label_smoothing": {"setting": "", "point": {"distill.method": "label_smoothing"}}}
    reported = reported_runs(typed(CONFIG), SHIPPED, {}, chosen)
    # kd reads the teacher: 2 teachers × 5 replicates; label smoothing reads none: 5 replicates.
    assert sum(run["method"] == "kd" for run in reported) == 10 and sum(run["method"] == "label_smoothing" for run in reported) == 5
    assert {(run["teacher_replicate"], run["replicate"]) for run in reported if run["method"] == "kd"} == {
        (teacher, replicate) for teacher in (0, 1) for replicate in range(5)}
    keys = lambda runs: {(run["identity"], run["replicate"], run["teacher_replicate"]) for run in runs}  # noqa: E731
    assert not keys(selection) & keys(reported)


@pytest.mark.parametrize("differs", [{"seed": 7}, {"distill.epochs": 12}, {"baseline.hidden_units": 64},
                                     {"data.source": "/elsewhere/synthetic"}, {"teacher.epochs": 2}])
def test_a_run_that_differs_in_any_param_it_reads_is_not_the_comparisons_run(differs):
    planned = planned_run(SHIPPED, KD_POINT, 3, 0, "reported")
    same = exp_row("same", 3, 0.90, 0.93)
    other = exp_row("other", 3, 0.90, 0.99, params=differs)
    table = experiments_table([other])
    assert find_run(table, planned) is None
    assert find_run(experiments_table([other, same]), planned)["experiment"] == "same"


def test_params_a_method_does_not_read_are_not_part_of_its_identity():
    shipped = SHIPPED.flat()
    ls = {**shipped, "distill.method": "label_smoothing"}
    # Another method's section, the unread temperature, the teacher: label smoothing reads none of them.
    for unread in ({"distill.kd.t2_scale": True}, {"distill.temp": 3}, {"teacher.epochs": 2}, {"teacher.replicate": 2}):
        assert run_identity({**ls, **unread}) == run_identity(ls), unread
    assert run_identity({**ls, "distill.label_smoothing.epsilon": 0.2}) != run_identity(ls)
    kd_params = {**shipped, "distill.method": "kd"}
    assert run_identity({**kd_params, "teacher.epochs": 2}) != run_identity(kd_params)
    assert run_identity({**kd_params, "teacher.replicate": 2}) == run_identity(kd_params)  # a pairing key
    # Without views nothing of augment is read (a run of before views existed has no augment keys).
    no_augment = {key: value for key, value in kd_params.items() if not key.startswith("augment.")}
    assert run_identity({**kd_params, "augment.rotation_degrees": 5}) == run_identity(kd_params) == run_identity(no_augment)
    with_views = {**kd_params, "augment.views": 4}
    assert run_identity(with_views) != run_identity(kd_params)
    assert run_identity({**with_views, "augment.rotation_degrees": 5}) != run_identity(with_views)
    # No mixup is the run of before mixup existed, for every method that offers it; any α is another run.
    no_mixup = {key: value for key, value in kd_params.items() if not key.endswith(".mixup")}
    assert run_identity(kd_params) == run_identity(no_mixup) == run_identity({**kd_params, "distill.kd.mixup": "0.0"})
    assert run_identity({**with_views, "distill.kd.mixup": 0.2}) != run_identity(with_views)
    hard_labels = {**with_views, "distill.method": "hard_labels"}
    assert run_identity({**hard_labels, "distill.hard_labels.mixup": 0.2}) != run_identity(hard_labels)
    # DVC's table gives 10.0 and "True": the same identity as 10 and true.
    assert run_identity({**kd_params, "distill.temp": 10.0, "distill.kd.t2_scale": "False"}) == run_identity(kd_params)


def recorded(tmp_path, kd_gains, ls_gains, tf_gains=None, teachers=(0, 1), teacher_effect=(0.0, 0.004), kd_missing=()):
    """A record of kd (per teacher and replicate), label smoothing and teacher-free (per replicate) runs;
    kd has no run at the replicates ``kd_missing`` (a run that failed or is still queued)."""
    baselines = [0.900, 0.905, 0.895, 0.902, 0.898]
    rows, selection = [], []
    for replicate, baseline in enumerate(baselines):
        for teacher in teachers if replicate not in kd_missing else ():
            rows.append(exp_row(f"kd-{teacher}-{replicate}", replicate, baseline,
                                baseline + kd_gains[replicate] + teacher_effect[teacher], settings=kd(10), student_val=0.95,
                                teacher_replicate=teacher, teacher=0.95 + 0.01 * teacher))
        rows.append(exp_row(f"ls-{replicate}", replicate, baseline, baseline + ls_gains[replicate],
                            method="label_smoothing", settings={"epsilon": 0.1}, student_val=0.93))
        if tf_gains is not None:
            rows.append(exp_row(f"tf-{replicate}", replicate, baseline, baseline + tf_gains[replicate],
                                method="teacher_free", settings={"correct_probability": 0.9, "temp": 10, "lambda": 0.5}, student_val=0.92))
    if tf_gains is not None:
        rows.append(exp_row("sel-tf", 100, 0.9, 0.91, method="teacher_free",
                            settings={"correct_probability": 0.9, "temp": 10, "lambda": 0.5}, student_val=0.91))
    selection = [exp_row("sel-kd-10", 100, 0.9, 0.93, settings=kd(10), student_val=0.95),
                 exp_row("sel-kd-2", 100, 0.9, 0.99, settings=kd(2), student_val=0.90),
                 exp_row("sel-ls", 100, 0.9, 0.91, method="label_smoothing", settings={"epsilon": 0.1}, student_val=0.92)]
    table = experiments_table(rows + selection)
    config = {**CONFIG, "teachers": len(teachers)}
    chosen = {"kd": {"setting": "lambda=0.5, t2_scale=False, temp=10", "point": KD_POINT},
              "label_smoothing": {"setting": "epsilon=0.1", "point": {"distill.method": "label_smoothing"}}}
    if tf_gains is not None:
        chosen["teacher_free"] = {"setting": "correct_probability=0.9, lambda=0.5, temp=10", "point": {"distill.method": "teacher_free"}}
        config["grids"] = {**config["grids"], "teacher_free": {}}
    is_selection = table["replicate"] >= 100
    record = comparison_record(typed(config), "synthetic", chosen, table[is_selection].to_dict("records"),
                               table[~is_selection].to_dict("records"))
    save_record(record, tmp_path)
    return load_records(tmp_path)[0], table


def test_gains_take_the_mlp_seed_as_the_unit_and_are_adjusted_by_benjamini_hochberg(tmp_path):
    kd_gains = 0.030 + 0.002 * np.arange(5)
    ls_gains = np.array([0.004, -0.003, 0.006, -0.001, 0.002])
    record, _ = recorded(tmp_path, kd_gains, ls_gains)
    summary = summarise(record)
    comparisons = summary.comparisons.set_index(["method", "against"])

    # kd's runs averaged over teachers 0 and 1 within each seed, then one pair per seed: 5, not 10.
    kd_differences = (kd_gains + (kd_gains + 0.004)) / 2
    row = comparisons.loc[("kd", "baseline")]
    assert row["pairs"] == 5 and row["mean"] == pytest.approx(kd_differences.mean())
    # The Student-t interval and p-value, computed here from the differences themselves.
    t = kd_differences.mean() / stats.sem(kd_differences)
    assert (row["low"], row["high"]) == pytest.approx(stats.t.interval(0.95, 4, kd_differences.mean(), stats.sem(kd_differences)))
    assert row["p"] == pytest.approx(2 * stats.t.sf(abs(t), 4))
    # Benjamini–Hochberg over the family, by hand: p_(i) · m / i, made monotone from the largest.
    p_values = summary.comparisons["p"].to_numpy()
    order = np.argsort(p_values)
    ranked = p_values[order] * len(p_values) / np.arange(1, len(p_values) + 1)
    expected = np.empty_like(ranked)
    expected[order] = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1)
    assert summary.comparisons["p_adjusted"].to_numpy() == pytest.approx(expected)

    assert row["verdict"] == "higher"
    # Each teacher's mean gain, a description beside the test.
    assert row["teacher_means"] == pytest.approx([kd_gains.mean(), kd_gains.mean() + 0.004])
    assert comparisons.loc[("label_smoothing", "baseline"), "verdict"] == "not distinguishable"
    assert comparisons.loc[("label_smoothing", "baseline"), "pairs"] == 5  # no teacher: once per replicate
    versus = comparisons.loc[("kd", "label_smoothing")]
    assert versus["pairs"] == 5
    assert versus["mean"] == pytest.approx(np.mean(kd_gains + 0.002 - ls_gains))

    methods = summary.methods.set_index("method")
    assert methods.loc["kd", "teachers"] == 2 and methods.loc["kd", "replicates"] == 5 and methods.loc["kd", "grid_points"] == 2
    assert methods.loc["baseline (MLP alone)", "runs"] == 5
    assert summary.teacher_tests == pytest.approx([0.95, 0.96])
    markdown = methods_markdown([record])
    assert "| kd | lambda=0.5, t2_scale=False, temp=10 |  | 2 | 2 × 5 | 95.00 |" in markdown
    assert "| kd − baseline | 5 |" in markdown and "| label_smoothing (control) − baseline | 5 |" in markdown
    assert "kd − label_smoothing (best control)" in markdown
    # Each teacher's test accuracy from its own experiments' metrics, both shown.
    assert "teachers' test accuracy 95.00 / 96.00 %" in markdown


def test_a_seed_missing_on_one_side_pairs_only_the_seeds_both_sides_have():
    from distillation.comparison.stats import paired_difference

    # The method lacks seed 1, the other side seed 3; rows in no particular order.
    left = pd.DataFrame({"replicate": [4, 0, 2, 3, 4, 0, 2, 3], "teacher_replicate": [0.0] * 4 + [1.0] * 4,
                         "accuracy": [0.95, 0.91, 0.93, 0.94, 0.97, 0.92, 0.92, 0.96]})
    right = pd.DataFrame({"replicate": [2, 1, 0, 4], "accuracy": [0.90, 0.80, 0.89, 0.93]})
    result = paired_difference(left, right)
    per_seed = {0: 0.915 - 0.89, 2: 0.925 - 0.90, 4: 0.96 - 0.93}
    assert result["pairs"] == 3
    differences = np.array(list(per_seed.values()))
    assert result["mean"] == pytest.approx(differences.mean())
    assert (result["low"], result["high"]) == pytest.approx(
        stats.t.interval(0.95, 2, differences.mean(), stats.sem(differences)))


def test_paired_difference_at_its_edges_no_pair_one_pair_two_pairs_and_no_spread():
    import warnings

    from distillation.comparison.stats import paired_difference

    def sides(left: dict[int, float], right: dict[int, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (pd.DataFrame({"replicate": list(left), "accuracy": list(left.values())}),
                pd.DataFrame({"replicate": list(right), "accuracy": list(right.values())}))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty mean or a zero spread must not even warn
        none = paired_difference(*sides({0: 0.9}, {1: 0.8}))
        one = paired_difference(*sides({0: 0.9, 1: 0.95}, {1: 0.8}))
        flat = paired_difference(*sides({0: 0.75, 1: 0.5, 2: 0.25}, {0: 0.5, 1: 0.25, 2: 0.0}))
        two = paired_difference(*sides({0: 0.9, 1: 0.95}, {0: 0.8, 1: 0.9}))  # two pairs are enough for a t-test
    assert none["pairs"] == 0 and all(np.isnan(none[key]) for key in ("mean", "p", "low", "high"))
    assert one["pairs"] == 1 and one["mean"] == pytest.approx(0.15) and all(np.isnan(one[key]) for key in ("p", "low", "high"))
    # Every seed differs by exactly 0.25: no spread, so no test (an interval of width 0 would be a lie).
    assert flat["mean"] == 0.25 and all(np.isnan(flat[key]) for key in ("p", "low", "high")) and "test" not in flat
    assert two["pairs"] == 2 and 0 < two["p"] < 1
    assert (two["low"], two["high"]) == pytest.approx(stats.t.interval(0.95, 1, 0.075, stats.sem([0.1, 0.05])))


def test_the_verdict_reads_the_adjusted_p_value_at_its_boundary_and_the_sign():
    from distillation.comparison.stats import ALPHA, verdict

    assert verdict(0.01, float("nan")) == "too few runs"
    assert verdict(0.01, ALPHA) == "higher" and verdict(-0.01, ALPHA) == "lower"  # at α: declared
    assert verdict(0.01, np.nextafter(ALPHA, 1)) == "not distinguishable"
    assert verdict(-0.01, 0.001) == "lower" and verdict(0.01, 0.001) == "higher"


def test_teacher_means_need_two_teachers_and_a_side_without_teachers_has_none():
    from distillation.comparison.stats import teacher_means

    right = pd.DataFrame({"replicate": [0, 1], "accuracy": [0.9, 0.8]})
    assert teacher_means(pd.DataFrame({"replicate": [0, 1], "accuracy": [0.95, 0.85]}), right) == []  # no teacher column
    one = pd.DataFrame({"replicate": [0, 1], "teacher_replicate": [0.0, 0.0], "accuracy": [0.95, 0.85]})
    assert teacher_means(one, right) == []
    two = pd.DataFrame({"replicate": [0, 1, 0, 1], "teacher_replicate": [3.0, 3.0, 0.0, 0.0], "accuracy": [0.95, 0.85, 0.92, 0.83]})
    assert teacher_means(two, right) == pytest.approx([0.025, 0.05])  # teacher 0 first, then 3


def test_summarise_pairs_a_method_missing_a_seed_on_the_seeds_it_has(tmp_path):
    kd_gains = 0.030 + 0.002 * np.arange(5)
    ls_gains = np.array([0.004, -0.003, 0.006, -0.001, 0.002])
    record, _ = recorded(tmp_path, kd_gains, ls_gains, kd_missing=(1,))
    comparisons = summarise(record).comparisons.set_index(["method", "against"])
    shared = [0, 2, 3, 4]
    over_baseline = kd_gains[shared] + 0.002
    assert comparisons.loc[("kd", "baseline"), "pairs"] == 4
    assert comparisons.loc[("kd", "baseline"), "mean"] == pytest.approx(over_baseline.mean())
    assert (comparisons.loc[("kd", "baseline"), "low"], comparisons.loc[("kd", "baseline"), "high"]) == pytest.approx(
        stats.t.interval(0.95, 3, over_baseline.mean(), stats.sem(over_baseline)))
    over_control = over_baseline - ls_gains[shared]
    assert comparisons.loc[("kd", "label_smoothing"), "pairs"] == 4
    assert comparisons.loc[("kd", "label_smoothing"), "mean"] == pytest.approx(over_control.mean())
    assert comparisons.loc[("label_smoothing", "baseline"), "pairs"] == 5  # its own seeds are all there


def test_summarise_gives_every_figure_of_the_methods_table_and_of_each_comparison(tmp_path):
    """Every column the reports print, for a record of kd, label smoothing (the best control on val)
    and hard_labels: the methods' figures and order, the baseline's row, the family of comparisons
    (kd against hard_labels too, the augmented MLP), their adjusted intervals and the share of the gap."""
    from distillation.comparison.stats import ALPHA

    baselines = [0.900, 0.905, 0.895, 0.902, 0.898]
    kd_gain = np.array([0.030, 0.034, 0.029, 0.036, 0.031])
    rows = []
    for replicate, baseline in enumerate(baselines):
        for teacher in (0, 1):
            rows.append(exp_row(f"kd-{teacher}-{replicate}", replicate, baseline, baseline + kd_gain[replicate] + 0.002 * teacher,
                                settings=kd(10), student_val=0.95, teacher_replicate=teacher, teacher=0.95 + 0.01 * teacher))
        rows.append(exp_row(f"ls-{replicate}", replicate, baseline, baseline + 0.004 - 0.002 * (replicate % 2),
                            method="label_smoothing", settings={"epsilon": 0.1}, student_val=0.93))
        rows.append(exp_row(f"hl-{replicate}", replicate, baseline, baseline + 0.010 + 0.001 * replicate, method="hard_labels",
                            settings={}, student_val=0.92))
    selection = [exp_row("sel-kd", 100, 0.9, 0.93, settings=kd(10), student_val=0.95),
                 exp_row("sel-ls", 100, 0.9, 0.91, method="label_smoothing", settings={"epsilon": 0.1}, student_val=0.93),
                 exp_row("sel-hl", 100, 0.9, 0.91, method="hard_labels", settings={}, student_val=0.92)]
    table = experiments_table(rows + selection)
    chosen = {"kd": {"setting": "lambda=0.5, t2_scale=False, temp=10", "point": KD_POINT, "recipe": "distill.epochs=30"},
              "label_smoothing": {"setting": "epsilon=0.1", "point": {"distill.method": "label_smoothing"}},
              "hard_labels": {"setting": "", "point": {"distill.method": "hard_labels"}}}
    config = {**CONFIG, "grids": {**CONFIG["grids"], "hard_labels": {}}}
    is_selection = table["replicate"] >= 100
    record = comparison_record(typed(config), "synthetic", chosen, table[is_selection].to_dict("records"), table[~is_selection].to_dict("records"))
    record = record.model_copy(update={"baseline": BaselineChoice(setting="baseline.epochs=40", grid_points=2)})
    for run in record.runs:
        run["views"] = 4  # as runs on stored views record it
    summary = summarise(record)
    runs = pd.DataFrame(record.runs)
    reported = runs[runs["phase"] == "reported"]

    methods = summary.methods
    assert list(methods["method"]) == ["kd", "label_smoothing", "hard_labels", "baseline (MLP alone)"]  # by val, best first
    kd_row, baseline_row = methods.iloc[0], methods.iloc[3]
    own = reported[reported["method"] == "kd"]
    assert (kd_row["recipe"], kd_row["views"], kd_row["control"], kd_row["teachers"], kd_row["replicates"], kd_row["runs"]) == (
        "distill.epochs=30", 4, False, 2, 5, 10)
    assert (kd_row["test_mean"], kd_row["test_std"]) == pytest.approx((own["student"].mean(), own["student"].std(ddof=1)))
    assert (kd_row["best_epoch_max"], kd_row["epoch_cap"]) == (own["student_best_epoch"].max(), own["epoch_cap"].max())
    assert kd_row["images_per_second"] == pytest.approx(own["student_train_images_per_second"].mean())
    assert methods.iloc[1]["recipe"] == "" and methods.iloc[1]["teachers"] == 0 and methods.iloc[1]["control"]
    assert (baseline_row["setting"], baseline_row["recipe"], baseline_row["views"], baseline_row["control"],
            baseline_row["grid_points"], baseline_row["teachers"], baseline_row["replicates"], baseline_row["runs"]) == (
        "", "baseline.epochs=40", 0, False, 2, 0, 5, 5)
    assert (baseline_row["val_mean"], baseline_row["test_mean"], baseline_row["test_std"]) == pytest.approx(
        (np.mean(baselines), np.mean(baselines), np.std(baselines, ddof=1)))
    # An old record whose runs do not say their views: the record's fixed params do.
    # An old record whose runs do not say their views, nor its choices their recipes: the record's fixed
    # params give the views, and a recipe is empty.
    old = Record.model_validate({
        **record.model_dump(), "params": {"augment.views": 8}, "baseline": {"grid_points": 2},
        "chosen": {method: choice.model_dump(exclude={"recipe"}) for method, choice in record.chosen.items()},
        "runs": [{key: value for key, value in run.items() if key != "views"} for run in record.runs]})
    old_methods = summarise(old).methods
    assert old_methods.iloc[0]["views"] == 8 and list(old_methods["recipe"]) == ["", "", "", ""]
    # Without a control, no best control: the family is each method against the baseline.
    kd_only = record.model_copy(update={"chosen": {"kd": record.chosen["kd"]}, "runs": [run for run in record.runs if run["method"] == "kd"]})
    alone = summarise(kd_only)
    assert alone.best_control is None and list(alone.comparisons["against"]) == ["baseline"]

    comparisons = summary.comparisons.set_index(["method", "against"])
    assert summary.best_control == "label_smoothing"
    assert set(comparisons.index) == {("kd", "baseline"), ("label_smoothing", "baseline"), ("hard_labels", "baseline"),
                                      ("kd", "label_smoothing"), ("hard_labels", "label_smoothing"), ("kd", "hard_labels")}
    over_hard_labels = comparisons.loc[("kd", "hard_labels")]
    per_seed = kd_gain + 0.001 - (0.010 + 0.001 * np.arange(5))
    assert over_hard_labels["pairs"] == 5 and over_hard_labels["mean"] == pytest.approx(per_seed.mean())
    # The adjusted intervals: at the false-coverage level 1 − R·α/m (Benjamini & Yekutieli), R declared of m.
    declared = int((summary.comparisons["p_adjusted"] <= ALPHA).sum())
    level = 1 - max(1, declared) * ALPHA / len(summary.comparisons)
    assert summary.comparisons["adjusted_level"].tolist() == pytest.approx([level] * 6)
    assert (over_hard_labels["adjusted_low"], over_hard_labels["adjusted_high"]) == pytest.approx(
        stats.t.interval(level, 4, per_seed.mean(), stats.sem(per_seed)))
    # The share of the teacher–baseline gap each gain over the baseline closes; none for other comparisons.
    gap = np.mean([0.95, 0.96]) - np.mean(baselines)
    assert summary.gap == pytest.approx(gap)
    for method in ("kd", "label_smoothing", "hard_labels"):
        row = comparisons.loc[(method, "baseline")]
        # Fieller's interval for gain / gap, both estimates (tests/test_calibration.py checks its inequality).
        fieller = gap_share_interval(summary.sides[method], summary.sides["baseline"], summary.teacher_tests)
        assert row["closure"] == pytest.approx(row["mean"] / gap)
        assert (row["closure"], row["closure_low"], row["closure_high"]) == pytest.approx(
            (fieller["share"], fieller["low"], fieller["high"]))
    assert comparisons.loc[("kd", "hard_labels"), ["closure", "closure_low", "closure_high"]].isna().all()
    assert list(summary.teacher_tests) == pytest.approx([0.95, 0.96]) and not len(summary.ensemble_tests)


def test_a_lone_comparison_that_declares_nothing_keeps_the_95_percent_interval(tmp_path):
    # One comparison (m = 1), not declared (R = 0, counted as 1): level 1 − 1·α/1, the plain 95 %.
    noise = [0.003, -0.004, 0.002, -0.001, 0.001]
    rows = [exp_row(f"ls-{replicate}", replicate, 0.9, 0.9 + noise[replicate], method="label_smoothing",
                    settings={"epsilon": 0.1}, student_val=0.93) for replicate in range(5)]
    record = comparison_record(typed({**CONFIG, "grids": {"label_smoothing": {}}}), "synthetic",
                               {"label_smoothing": {"setting": "epsilon=0.1", "point": {"distill.method": "label_smoothing"}}},
                               [], experiments_table(rows).to_dict("records"))
    [row] = summarise(record).comparisons.to_dict("records")
    assert row["verdict"] == "not distinguishable" and row["adjusted_level"] == pytest.approx(0.95)
    assert (row["adjusted_low"], row["adjusted_high"]) == pytest.approx((row["low"], row["high"]))


def test_a_record_of_teacherless_methods_takes_its_one_teacher_from_the_runs(tmp_path):
    rows = [exp_row(f"ls-{replicate}", replicate, 0.9, 0.905 + 0.001 * replicate, method="label_smoothing",
                    settings={"epsilon": 0.1}, student_val=0.93, teacher=0.97) for replicate in range(3)]
    rows[0]["teacher.replicate"] = float("nan")
    table = experiments_table(rows)
    table["teacher_replicate"] = np.nan  # no method reads a teacher: the default teacher trained alongside
    record = comparison_record(typed({**CONFIG, "grids": {"label_smoothing": {}}}), "synthetic",
                               {"label_smoothing": {"setting": "epsilon=0.1", "point": {"distill.method": "label_smoothing"}}},
                               [], table.to_dict("records"))
    summary = summarise(record)
    assert list(summary.teacher_tests) == pytest.approx([0.97])  # one teacher, once
    assert summary.gap == pytest.approx(0.07)


def test_the_verdict_follows_the_adjusted_p_value(tmp_path):
    # A small label-smoothing gain: p < 0.05 alone, not once the five comparisons are adjusted.
    kd_gains = 0.030 + 0.002 * np.arange(5)
    ls_gains = np.array([0.004, 0.0005, 0.005, 0.001, 0.003])
    tf_gains = np.array([0.010, -0.010, 0.008, -0.006, 0.001])  # noisy: p large against both
    summary = summarise(recorded(tmp_path, kd_gains, ls_gains, tf_gains)[0])
    comparisons = summary.comparisons.set_index(["method", "against"])
    assert len(comparisons) == 5  # three gains over the baseline, two differences to the best control
    row = comparisons.loc[("label_smoothing", "baseline")]
    assert row["p"] < 0.05 < row["p_adjusted"]
    assert row["low"] > 0 and row["adjusted_low"] < 0  # the 95 % interval excludes 0, the adjusted one does not
    assert row["verdict"] == "not distinguishable"
    assert comparisons.loc[("kd", "baseline"), "verdict"] == "higher"
    # Two of five declared: the adjusted intervals are at level 1 − 2 · 0.05 / 5.
    assert summary.comparisons["adjusted_level"].iloc[0] == pytest.approx(0.98)


def test_a_record_whose_selection_runs_choose_otherwise_is_refused(tmp_path):
    record, _ = recorded(tmp_path, 0.03 + 0.002 * np.arange(5), np.zeros(5) + 0.001 * np.arange(5))
    path = tmp_path / "comparison-synthetic.json"
    data = json.loads(path.read_text())
    data["chosen"]["kd"]["setting"] = "lambda=0.5, t2_scale=False, temp=2"  # not what its val says
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="comparison-synthetic.json: its selection runs choose"):
        load_records(tmp_path)


def test_the_report_shows_the_recorded_runs_and_lists_every_other_run_apart(tmp_path):
    from scripts.report import write_reports

    record, table = recorded(tmp_path, 0.03 + 0.002 * np.arange(5), 0.001 * np.arange(5))
    # A later KD run with a better val (another epoch budget): it must not become kd's choice.
    extra = experiments_table([exp_row("sweep-t20", 0, 0.90, 0.97, settings=kd(20), student_val=0.99, params={"distill.epochs": 60})])
    write_reports(pd.concat([table, extra], ignore_index=True), tmp_path)
    methods = (tmp_path / "methods.md").read_text()
    assert "| kd | lambda=0.5, t2_scale=False, temp=10 |" in methods and "temp=20" not in methods
    report = (tmp_path / "report.md").read_text()
    assert "| sweep-t20 |" in report and "| kd-0-0 |" not in report and "| sel-kd-2 |" not in report
    assert (tmp_path / "method_gains-synthetic.png").stat().st_size > 5_000

    # A recorded run whose experiment now shows other figures: the record is stale.
    changed = table.copy()
    changed.loc[changed["experiment"] == "kd-0-0", "student"] = 0.5
    with pytest.raises(ValueError, match="experiment kd-0-0 .* now has student 0.5"):
        write_reports(changed, tmp_path)


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
    assert set(config.grids) == set(METHODS) and config.replicates >= 5 and config.teachers >= 3
    assert not set(config.selection_replicates) & set(range(config.replicates))


@pytest.mark.parametrize("text, message", [
    ("replicates: 1\ngrids: {kd: {}}", "replicates must be an integer ≥ 2"),
    ("replicates: 3\ngrids: {kdd: {}}", "grids.kdd: not a method"),
    ("replicates: 3\ngrids: {kd: {distill.temp: [0]}}", r"grids.kd: params.yaml: distill.temp must be > 0"),
    ("replicates: 3\ngrids: {kd: {distill.kd.tmp: [1]}}", "unknown key 'distill.kd.tmp'"),
    ("replicates: 3\nselection_replicates: [2]\ngrids: {kd: {}}", "must not be among the reported replicates 0..2, got 2"),
    ("replicates: 3\nselection_replicates: [100, 101, 100]\ngrids: {kd: {}}",
     r"selection_replicates must list at least 3 different seeds \(the choice is made on their mean val accuracy\), got \[100, 101, 100\]"),
    ("replicates: 3\nteachers: 0\ngrids: {kd: {}}", "teachers must be an integer ≥ 1"),
    ("replicates: 3\nteacher: 2\ngrids: {kd: {}}", "unknown key 'teacher'"),
    ("replicates: 3\nparams: {augment.views: [2, -1]}\ngrids: {kd: {}}", r"params: params.yaml: augment.views must be >= 0"),
    ("replicates: 3\nparams: {distill.temp: 2}\ngrids: {kd: {}}", "params must map dotted params.yaml keys outside distill"),
])
def test_a_bad_comparison_file_is_named_with_the_problem(tmp_path, text, message):
    path = tmp_path / "comparison.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        load_comparison(path, SHIPPED)
    assert str(path) in str(error.value)


def test_runs_whose_metrics_do_not_match_their_params_are_left_out_and_queued_again(caplog):
    # What a killed queued run looked like once: DVC saved a `dml` experiment at replicate 2
    # whose outputs were the starting commit's (kd, replicate 0).
    dml = {"peers": 2, "cnn_peer": False}
    stale = exp_row("moved-skat", 2, 0.905, 0.934, method="dml", settings=dml,
                    recorded={"student": {"method": "kd", "setting": "lambda=0.5, t2_scale=False, temp=10", "seed": 42}})
    good = exp_row("glued-bate", 2, 0.906, 0.911, method="dml", settings=dml)
    stale_baseline = exp_row("old-base", 3, 0.905, 0.911, method="dml", settings=dml, recorded={"baseline": {"seed": 42}})
    stale_teacher = exp_row("old-teacher", 1, 0.905, 0.911, teacher_replicate=2, recorded={"teacher": {"seed": 42}})
    table = experiments_table([exp_row("main", 0, 0.90, 0.93), stale, good, stale_baseline, stale_teacher])
    assert list(table["experiment"]) == ["main", "glued-bate"]
    warnings = [record.getMessage() for record in caplog.records]
    assert any("moved-skat" in line and "method 'kd'" in line and "'dml'" in line for line in warnings)
    assert any("old-base" in line and "baseline was trained with seed 42" in line and "45" in line for line in warnings)
    assert any("old-teacher" in line and "teacher was trained with seed 42" in line and "44" in line for line in warnings)
    planned = planned_run(SHIPPED, {"distill.method": "dml", "distill.dml.peers": 2}, 3, 0, "reported")
    assert find_run(table, planned) is None  # so `make compare` queues it again


def test_each_new_teacher_is_trained_by_one_run_beside_the_runs_of_trained_teachers(monkeypatch):
    import scripts.compare as compare

    runs = [{"name": f"t{teacher}r{replicate}", "overrides": {"teacher.replicate": teacher}}
            for teacher in (0, 1, 2, 3) for replicate in (0, 1)]
    batches, done = [], set()

    def queue_and_run(batch, jobs):
        batches.append([run["name"] for run in batch])
        done.update(run["name"] for run in batch)

    monkeypatch.setattr(compare, "queue_and_run", queue_and_run)
    built = compare.Built(teachers={0})
    assert compare.run_missing(lambda: [run for run in runs if run["name"] not in done], 2, built) == 8
    # Teachers 1 and 2 are each trained by one run, side by side, while teacher 0's runs go on;
    # the other runs of teachers 1 and 2 wait for the next batch and restore them. No more leaders
    # than workers: teacher 3's first run leads the next batch, beside the runs that can go.
    assert batches == [["t1r0", "t2r0", "t0r0", "t0r1"], ["t3r0", "t1r1", "t2r1"], ["t3r1"]]
    assert built.teachers == {0, 1, 2, 3}


def test_a_resumed_sitting_trains_its_first_teacher_once_whatever_the_record_holds(monkeypatch):
    """A sitting resuming a record whose selection is done has trained nothing in its clone yet: the
    runs of teacher 0 at two numbers of views must not both train teacher 0 at once."""
    import scripts.compare as compare

    runs = [{"name": f"k{views}r{replicate}", "views": views, "overrides": {"teacher.replicate": 0}}
            for views in (16, 32) for replicate in (0, 1)]
    batches, done = [], set()

    def queue_and_run(batch, jobs):
        batches.append([run["name"] for run in batch])
        done.update(run["name"] for run in batch)

    monkeypatch.setattr(compare, "queue_and_run", queue_and_run)
    built = compare.Built()
    assert compare.run_missing(lambda: [run for run in runs if run["name"] not in done], 2, built) == 4
    assert batches == [["k16r0"], ["k32r0", "k16r1"], ["k32r1"]]
    assert built.views == {(0, 16), (0, 32)}


def test_one_comparison_per_number_of_views_each_against_the_augmented_mlp_and_the_curve(tmp_path):
    config = {**CONFIG, "teachers": 1, "params": {"augment.views": [0, 4]},
              "grids": {"kd": {"distill.temp": [10]}, "hard_labels": {}}}
    assert typed(config).fixed_combinations() == [{"augment.views": 0}, {"augment.views": 4}]
    baselines = [0.900, 0.905, 0.895, 0.902, 0.898]
    # The third record fixes more than K (a longer recipe): a curve of its own, not a second K = 4.
    for views, kd_gain, augmented_gain, more in ((0, 0.010, 0.0, {}), (4, 0.030, 0.020, {}),
                                                 (4, 0.040, 0.025, {"baseline.epochs": 120})):
        fixed = {"augment.views": views, **more}
        runs = []
        for replicate, baseline in enumerate(baselines):
            on_views = 0.89 if views else None
            runs.append(exp_row(f"kd-{views}-{replicate}", replicate, baseline, baseline + kd_gain + 0.001 * replicate,
                                settings=kd(10), student_val=0.95, params=fixed, teacher=0.94, teacher_on_views=on_views))
            # A teacherless run's teacher column (here unlike the real teacher's) stays out of the gap.
            runs.append(exp_row(f"hl-{views}-{replicate}", replicate, baseline, baseline + augmented_gain - 0.001 * replicate,
                                method="hard_labels", settings={}, student_val=0.93, params=fixed, teacher=0.90,
                                teacher_on_views=on_views))
        selection = [exp_row(f"sel-kd-{views}", 100, 0.9, 0.93, settings=kd(10), student_val=0.95, params=fixed),
                     exp_row(f"sel-hl-{views}", 100, 0.9, 0.92, method="hard_labels", settings={}, student_val=0.93, params=fixed)]
        table = experiments_table(runs + selection)
        is_selection = table["replicate"] >= 100
        chosen = {"kd": {"setting": "lambda=0.5, t2_scale=False, temp=10", "point": KD_POINT},
                  "hard_labels": {"setting": "", "point": {"distill.method": "hard_labels"}}}
        path = save_record(comparison_record(typed(config), "synthetic", chosen, table[is_selection].to_dict("records"),
                                             table[~is_selection].to_dict("records"), fixed), tmp_path)
        assert path.name == f"comparison-synthetic-augment.views={views}{''.join(f'-{k}={v}' for k, v in more.items())}.json"
    records = load_records(tmp_path)
    assert [record.params for record in records] == [{"augment.views": 0}, {"augment.views": 4, "baseline.epochs": 120},
                                                        {"augment.views": 4}]
    longer = views_curve(records).set_index(["series", "method", "views"]).loc["baseline.epochs=120"]
    assert list(longer.index) == [("hard_labels", 4), ("kd", 4)]
    assert longer.loc[("kd", 4), "augmented_gain"] == pytest.approx(0.015 + 0.002 * 2)
    records = [record for record in records if len(record.params) == 1]
    # hard_labels is the only control here, so it is the best one: kd is compared with it once.
    comparisons = summarise(records[1]).comparisons.set_index(["method", "against"])
    assert comparisons.loc[("kd", "hard_labels"), "mean"] == pytest.approx(0.010 + 0.002 * 2, abs=1e-9)
    curve = views_curve(records).set_index(["method", "views"])
    assert set(curve["series"]) == {""}
    assert curve.loc[("kd", 4), "test_gain"] == pytest.approx(0.032) and curve.loc[("kd", 0), "test_gain"] == pytest.approx(0.012)
    assert curve.loc[("kd", 4), "closure"] == pytest.approx(0.032 / (0.94 - np.mean(baselines)))
    assert curve.loc[("kd", 4), "test_low"] < 0.032 < curve.loc[("kd", 4), "test_high"]
    gap = 0.94 - np.mean(baselines)
    assert curve.loc[("kd", 4), "teacher_on_views"] == pytest.approx(0.89) and np.isnan(curve.loc[("kd", 0), "teacher_on_views"])
    assert curve.loc[("kd", 4), "closure_low"] < curve.loc[("kd", 4), "closure"] < curve.loc[("kd", 4), "closure_high"]
    assert curve.loc[("kd", 4), "closure"] == pytest.approx(curve.loc[("kd", 4), "test_gain"] / gap)
    # Over the augmented MLP, kd keeps what the teacher adds: 0.010 + 0.002 · replicate on average.
    assert curve.loc[("kd", 4), "augmented_gain"] == pytest.approx(0.014)
    assert curve.loc[("kd", 4), "augmented_low"] < 0.014 < curve.loc[("kd", 4), "augmented_high"]
    assert np.isnan(curve.loc[("hard_labels", 4), "augmented_gain"])
    markdown = methods_markdown(records)
    assert "## synthetic, augment.views = 4 (teacher" in markdown
    assert "## Gain against the number of stored views (augment.views)" in markdown
    assert "| kd | 4 | 89.00 % | lambda=0.5, t2_scale=False, temp=10 |" in markdown and "gain_against_views-synthetic.png" in markdown
    assert "| +1.40 [" in markdown  # kd's gain over hard_labels at K = 4
    assert "### synthetic, baseline.epochs=120" in methods_markdown(load_records(tmp_path))
    # One Benjamini–Hochberg family per study: the two records of the K curve are adjusted together;
    # the longer recipe's record (another set of fixed params) is a study of its own.
    from distillation.comparison.stats import raw_p_values, with_study_families

    every = load_records(tmp_path)
    families = with_study_families(every)
    zero, longer_record, four = families
    assert longer_record.study_p_values == ()
    assert zero.study_p_values == tuple(raw_p_values(every[2])) and four.study_p_values == tuple(raw_p_values(every[0]))
    pooled = stats.false_discovery_control(raw_p_values(every[0]) + raw_p_values(every[2]), method="bh")
    assert list(summarise(zero).comparisons["p_adjusted"]) == pytest.approx(list(pooled[:3]))
    assert list(summarise(four).comparisons["p_adjusted"]) == pytest.approx(list(pooled[3:]))
    alone = summarise(every[2]).comparisons["p_adjusted"]
    assert list(alone) == pytest.approx(list(stats.false_discovery_control(raw_p_values(every[2]), method="bh")))
    assert "3 comparisons, adjusted together with the study's other 3 (one family of 6)" in methods_markdown(families)
    save_views_chart(views_curve(load_records(tmp_path)), "synthetic", tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0


TUNED = {"replicates": 3, "teachers": 2, "selection_replicates": [100, 101, 102], "params": {}, "name": "tuned",
         "baseline": {"baseline.epochs": [40, 120]},
         "grids": {"kd": {"augment.views": [4, 16], "distill.epochs": [40, 120]}, "hard_labels": {"distill.epochs": [40, 120]}}}


def test_a_choice_on_the_edge_of_its_grid_is_flagged_and_one_selection_seed_is_named():
    from distillation.comparison.plan import grid_edges
    from distillation.reporting.comparison import choice_notes

    grid = {"augment.views": [4, 16], "distill.epochs": [40, 120, 240], "distill.temp": [5]}
    # 240 is the largest epochs tried and 4 the fewest views; T was fixed, not searched.
    assert grid_edges(grid, {"distill.method": "kd", "augment.views": 4, "distill.epochs": 240, "distill.temp": 5}) == [
        "augment.views=4 (the smallest tried)", "distill.epochs=240 (the largest tried)"]
    assert grid_edges(grid, {"augment.views": 16, "distill.epochs": 120, "distill.temp": 5}) == ["augment.views=16 (the largest tried)"]
    # A grid of parts: the values tried are those of every part.
    assert grid_edges([{"distill.temp": [2, 4]}, {"distill.temp": [8]}], {"distill.temp": 4}) == []
    assert grid_edges([{"distill.temp": [2, 4]}, {"distill.temp": [8]}], {"distill.temp": 8}) == ["distill.temp=8 (the largest tried)"]
    record = Record.model_validate({"source": "synthetic", "source_label": "synthetic", "runs": [],
                                    "config": {**TUNED, "selection_replicates": [100]}})
    methods = pd.DataFrame([{"method": "kd", "edges": ["distill.epochs=120 (the largest tried)"]}, {"method": "dkd", "edges": []}])
    notes = " ".join(choice_notes(record, methods))
    assert "Chosen on the mean val accuracy of 1 selection seed (100): one seed's choice" in notes
    assert "On the grid's edge (the best may lie beyond what was tried): kd: distill.epochs=120 (the largest tried)." in notes
    three = record.model_copy(update={"config": typed(TUNED)})
    assert " ".join(choice_notes(three, methods.iloc[1:])).strip() == "Chosen on the mean val accuracy of 3 selection seeds (100, 101, 102)."


def test_every_mlp_is_tuned_alike_the_baseline_riding_on_the_method_runs():
    selection = selection_runs(typed(TUNED), SHIPPED, {})
    # 4 kd points and 2 hard_labels points at 3 seeds; the baseline's 120 epochs need no run of their own.
    assert len(selection) == 6 * 3
    assert sum(run["overrides"].get("baseline.epochs") == 120 for run in selection) == 3
    # K and epochs are the recipe, named apart from the method's own setting, so points never merge.
    assert {run["recipe"] for run in selection if run["method"] == "kd"} == {
        f"augment.views={views}, distill.epochs={epochs}" for views in (4, 16) for epochs in (40, 120)}
    assert {run["views"] for run in selection} == {0, 4, 16}
    # Figures: kd best on val at K = 16, 120 epochs; the baseline better on val at 120 epochs.
    figures = {("kd", "augment.views=16, distill.epochs=120"): 0.93, ("hard_labels", "distill.epochs=40"): 0.92}
    table = pd.DataFrame([{**run, "student_val": figures.get((run["method"], run["recipe"]), 0.91),
                           "baseline_val": 0.905 if run["overrides"].get("baseline.epochs") == 120 else 0.90}
                          for run in selection])
    assert choose_settings(table) == {"kd": "lambda=0.5, t2_scale=False, temp=10; augment.views=16, distill.epochs=120",
                                      "hard_labels": "distill.epochs=40"}
    chosen_baseline = choose_baseline(table, typed(TUNED).baseline_points())
    assert "baseline.epochs=120" in chosen_baseline.split(", ")
    # The chosen recipes, baseline's included, are what every reported run sets.
    chosen = {"kd": {"setting": "", "point": {"distill.method": "kd", "augment.views": 16, "distill.epochs": 120}}}
    reported = reported_runs(typed(TUNED), SHIPPED, {"baseline.epochs": 120}, chosen)
    assert len(reported) == 2 * 3 and all(run["overrides"]["baseline.epochs"] == 120 and run["views"] == 16 for run in reported)
    assert {run["recipe"] for run in reported} == {"augment.views=16, distill.epochs=120"}


@pytest.mark.parametrize("change, message", [
    ({"baseline": {"baseline.hidden_units": [256, 512]}}, "baseline must map baseline.<knob> keys"),
    ({"baseline": {"distill.epochs": [40]}}, "baseline must map baseline.<knob> keys"),
    ({"params": {"baseline.epochs": 120}}, "baseline.epochs: both fixed under params and searched"),
    ({"params": {"augment.views": 4}}, "grids.kd: augment.views is both fixed under params and searched"),
    ({"name": "Tuned run"}, "name must be lower-case"),
    ({"grids": {"kd": [{"distill.temp": [5]}, 4]}}, r"grids.kd: expected a mapping of param → \[values\] or a list of such mappings, got"),
    ({"grids": {"kd": [{"distill.temp": [5]}, {"distill.kd.mixup": [-1]}]}}, "grids.kd: .*distill.kd.mixup must be greater than or equal to 0"),
    ({"grids": {"kd": [{"distill.temp": [5]}, {"augment.views": [4]}]}, "params": {"augment.views": 8}},
     "grids.kd: augment.views is both fixed under params and searched"),
])
def test_a_bad_tuning_config_is_named_with_the_problem(tmp_path, change, message):
    import yaml

    path = tmp_path / "comparison.yaml"
    path.write_text(yaml.safe_dump({**TUNED, **change}))
    with pytest.raises(ValueError, match=f"{path}: {message}"):
        load_comparison(path, SHIPPED)


def test_a_named_record_has_its_own_file_and_an_incomplete_one_is_resumed_not_reported(tmp_path):
    from distillation.comparison.records import load_progress, load_sittings, record_path

    config = load_comparison(PROJECT_ROOT / "comparison-tuned.yaml", SHIPPED)
    assert record_path(tmp_path, "/data/emnist-byclass-letters.mat", {}, config.name).name == "comparison-emnist-byclass-letters-tuned.json"
    selection = selection_runs(typed(config), SHIPPED, {})
    finished = [{**run, "student": 0.9, "student_val": 0.9, "baseline": 0.88, "baseline_val": 0.88, "teacher": 0.94}
                for run in selection[:3]]
    save_record(comparison_record(typed(config), "synthetic", {}, finished, [], {}, complete=False), tmp_path)
    assert load_records(tmp_path) == []  # under way: no report of half a comparison
    progress = load_progress(tmp_path / "comparison-synthetic-tuned.json")
    assert [find_run(progress, run) is not None for run in selection] == [True] * 3 + [False] * (len(selection) - 3)
    # A grid since widened keeps the runs it still plans (found by identity), and plans the new ones.
    # Its second part names one point of the first again (mixup 0 is no mixup): that run is planned once.
    levers = {"augment.views": [4], "distill.epochs": [40], "distill.temp": [5, 2], "distill.lambda": [0.1], "distill.kd.mixup": [0.0, 0.2]}
    widened = config.model_copy(update={"grids": {**config.grids, "kd": [config.grids["kd"], levers]}})
    wider = selection_runs(widened, SHIPPED, {})
    assert len(wider) == len(selection) + 3 * 3 and [find_run(progress, run) is not None for run in wider].count(True) == 3
    new = [run for run in wider if all(run["identity"] != planned["identity"] for planned in selection)]
    assert list(dict.fromkeys(run["setting"] for run in new)) == ["lambda=0.1, mixup=0.2, t2_scale=False, temp=5",
                                                      "lambda=0.1, t2_scale=False, temp=2", "lambda=0.1, mixup=0.2, t2_scale=False, temp=2"]
    # Each sitting of a comparison under way is kept, so a study of several has its whole time.
    sittings = [{"machine": "CPU A", "started": "2026-12-03T18:00:00Z", "hours": 2.5, "runs": 3}]
    save_record(comparison_record(config, "synthetic", {}, finished, [], {}, complete=False, sittings=sittings), tmp_path)
    assert load_sittings(tmp_path / "comparison-synthetic-tuned.json") == sittings
    # A finished comparison's runs are not taken: it is no comparison under way.
    save_record(comparison_record(typed(config), "synthetic", {}, finished, [], {}, complete=True, sittings=sittings), tmp_path)
    assert load_progress(tmp_path / "comparison-synthetic-tuned.json").empty
    assert load_sittings(tmp_path / "comparison-synthetic-tuned.json") == []


def test_runs_are_batched_so_no_teacher_and_no_teachers_views_are_made_twice_at_once(monkeypatch):
    import scripts.compare as compare

    runs = [{"name": f"t{teacher}k{views}r{replicate}", "views": views, "overrides": {"teacher.replicate": teacher}}
            for teacher in (0, 1) for views in (0, 4, 16) for replicate in (0, 1)]
    batches, done, saved = [], set(), []

    def queue_and_run(batch, jobs):
        batches.append([run["name"] for run in batch])
        done.update(run["name"] for run in batch)

    monkeypatch.setattr(compare, "queue_and_run", queue_and_run)
    assert compare.run_missing(lambda: [run for run in runs if run["name"] not in done], 2, compare.Built(),
                               lambda: saved.append(1)) == 12
    # First one run per teacher (it trains it, and its views), then one per (teacher, views) not made
    # yet, two at a time, beside every run whose upstream is ready, then the rest; progress is saved
    # after each batch.
    assert batches == [["t0k0r0", "t1k0r0"], ["t0k4r0", "t0k16r0", "t0k0r1", "t1k0r1"],
                       ["t1k4r0", "t1k16r0", "t0k4r1", "t0k16r1"], ["t1k4r1", "t1k16r1"]]
    assert len(saved) == len(batches)


def test_a_run_found_among_experiments_and_a_resumed_record_keeps_what_its_plan_says():
    from scripts.compare import MACHINE, found

    config = load_comparison(PROJECT_ROOT / "comparison-tuned.yaml", SHIPPED)
    selection = selection_runs(typed(config), SHIPPED, {})
    carrier = selection[0]  # kd at K = 4, 40 epochs, carrying the 120-epoch baseline
    recorded = pd.DataFrame([{**carrier, "student": 0.9, "student_val": 0.9, "baseline": 0.88, "baseline_val": 0.88,
                              "machine": "Intel Xeon, amx_tile"}]).drop(columns=["phase", "overrides"])
    experiment = experiments_table([exp_row("e1", 100, 0.87, 0.91, settings=kd(5, 0.1), student_val=0.92,
                                            params={"augment.views": 16, "distill.epochs": 120})])
    table = pd.concat([recorded, experiment], ignore_index=True)  # as `known` builds it
    other = next(run for run in selection if run["method"] == "kd" and run["recipe"] == "augment.views=16, distill.epochs=120")
    rows = found([carrier, other], table)
    assert [row["recipe"] for row in rows] == ["augment.views=4, distill.epochs=40", "augment.views=16, distill.epochs=120"]
    assert [row["views"] for row in rows] == [4, 16] and rows[1]["student"] == 0.91
    assert "baseline.epochs=120" in rows[0]["baseline_setting"].split(", ") and isinstance(rows[1]["baseline_setting"], str)
    # Where each ran: the resumed record's machine kept, this machine for the run found here.
    assert [row["machine"] for row in rows] == ["Intel Xeon, amx_tile", MACHINE]


def test_without_running_the_record_holds_what_finished_and_is_complete_only_when_all_is(tmp_path, monkeypatch):
    import scripts.compare as compare

    config = load_comparison(PROJECT_ROOT / "comparison-tuned.yaml", SHIPPED)
    monkeypatch.setattr(compare, "REPORTS", tmp_path)
    monkeypatch.setattr(compare, "read_experiments", lambda: pd.DataFrame())
    monkeypatch.setattr(compare, "queue_and_run", lambda runs, jobs: pytest.fail("--no-run queued a run"))
    figures = {"student": 0.92, "student_val": 0.92, "baseline": 0.90, "baseline_val": 0.90, "teacher": 0.93, "teacher_val": 0.93}
    selection = selection_runs(typed(config), SHIPPED, {})
    path = tmp_path / "comparison-synthetic-tuned.json"

    def write(runs_selection, runs_reported, chosen=None):
        save_record(comparison_record(typed(config), "synthetic", chosen or {}, runs_selection, runs_reported, {}, complete=False), tmp_path)

    write([{**run, **figures} for run in selection[:5]], [])
    compare.compare_one(config, SHIPPED, {}, "synthetic", {}, 2, set(), run=False)
    record = Record.model_validate(json.loads(path.read_text()))
    assert not record.complete and len(record.runs) == 5 and record.chosen == {}  # no choice before all of selection

    best = {**figures, "student_val": 0.95}  # kd at K = 16, 120 epochs wins on val
    write([{**run, **(best if run["recipe"] == "augment.views=16, distill.epochs=120" else figures)} for run in selection], [])
    compare.compare_one(config, SHIPPED, {}, "synthetic", {}, 2, set(), run=False)
    record = Record.model_validate(json.loads(path.read_text()))
    assert not record.complete and record.chosen["kd"].recipe == "augment.views=16, distill.epochs=120"
    chosen = {method: {"setting": choice.setting, "recipe": choice.recipe, "point": choice.overrides}
              for method, choice in record.chosen.items()}
    baseline = record.baseline
    reported = reported_runs(typed(config), SHIPPED, baseline.overrides, chosen)
    assert len(reported) == 3 * 5 + 3 * 5 + 5  # kd and dkd over 3 teachers × 5 seeds, hard_labels 5 seeds
    write([{**run, **figures} for run in selection], [{**run, **figures} for run in reported[:-1]],
          {**chosen, "baseline": {"setting": baseline.setting, "point": baseline.overrides}})
    compare.compare_one(config, SHIPPED, {}, "synthetic", {}, 2, set(), run=False)
    assert not json.loads(path.read_text())["complete"]
    write([{**run, **figures} for run in selection], [{**run, **figures} for run in reported],
          {**chosen, "baseline": {"setting": baseline.setting, "point": baseline.overrides}})
    compare.compare_one(config, SHIPPED, {}, "synthetic", {}, 2, set(), run=False)
    record = Record.model_validate(json.loads(path.read_text()))
    assert record.complete and len(record.runs) == len(selection) + len(reported)
    assert load_records(tmp_path)[0].baseline.setting == baseline.setting


ENSEMBLE_CONFIG = {**CONFIG, "teachers": 2, "selection_replicates": [100], "name": "ensemble",
                   "params": {"teacher.ensemble": [1, 3]}, "grids": {"kd": {"distill.temp": [10]}, "hard_labels": {}}}
ENSEMBLE_CHOSEN = {"kd": {"setting": "lambda=0.5, t2_scale=False, temp=10", "point": KD_POINT},
                   "hard_labels": {"setting": "", "point": {"distill.method": "hard_labels"}}}
ENSEMBLE_BASELINES = [0.900, 0.905, 0.895, 0.902, 0.898]


def ensemble_records(tmp_path, config, chosen, kd_missing=None):
    """The records of an ensemble study (teacher.ensemble 1 and 3, teachers 0 and 3, 5 seeds);
    ``kd_missing[N]``: the seeds at which the record of N teachers has no kd run."""
    kd_missing = kd_missing or {}
    teachers = {0: 0.930, 3: 0.940}
    ensembles = {0: 0.950, 3: 0.954}
    for size, lift in ((1, 0.020), (3, 0.026)):
        fixed = {"teacher.ensemble": size}
        runs = []
        for replicate, baseline in enumerate(ENSEMBLE_BASELINES):
            for teacher, accuracy in teachers.items() if replicate not in kd_missing.get(size, ()) else ():
                runs.append(exp_row(f"kd-{size}-{teacher}-{replicate}", replicate, baseline,
                                    baseline + lift + 0.001 * replicate + 0.0005 * (teacher == 3), settings=kd(10), student_val=0.95,
                                    params=fixed, teacher_replicate=teacher, teacher=accuracy,
                                    ensemble=ensembles[teacher] if size > 1 else None))
            runs.append(exp_row(f"hl-{replicate}", replicate, baseline, baseline + 0.015 - 0.0005 * replicate, method="hard_labels",
                                settings={}, student_val=0.93, params=fixed))
        selection = [exp_row(f"sel-kd-{size}", 100, 0.9, 0.93, settings=kd(10), student_val=0.95, params=fixed),
                     exp_row(f"sel-hl-{size}", 100, 0.9, 0.92, method="hard_labels", settings={}, student_val=0.93, params=fixed)]
        table = experiments_table(runs + selection)
        assert set(table[table["method"] == "kd"]["teachers"]) == {size}
        is_selection = table["replicate"] >= 100
        save_record(comparison_record(typed(config), "synthetic", chosen, table[is_selection].to_dict("records"),
                                      table[~is_selection].to_dict("records"), fixed), tmp_path)
    return load_records(tmp_path)


def test_an_ensemble_study_compares_the_student_with_its_single_teachers_and_with_one_teacher(tmp_path):
    from distillation.comparison.plan import teacher_spacing
    from distillation.comparison.studies import ensemble_study, recipe_levers, seed_spread
    from distillation.reporting.comparison import ensemble_table

    config, chosen = ENSEMBLE_CONFIG, ENSEMBLE_CHOSEN
    assert teacher_spacing(typed(config), SHIPPED) == 3 and teacher_spacing(typed(CONFIG), SHIPPED) == 1
    # Teacher t is teacher.replicate 3t: the two ensembles share no member, and the one-teacher runs'
    # teachers are the ensembles' first members.
    planned = reported_runs(typed(config), SHIPPED, {"teacher.ensemble": 3}, chosen)
    assert sorted({run["teacher_replicate"] for run in planned if run["method"] == "kd"}) == [0, 3]
    assert {run["overrides"]["teacher.replicate"] for run in planned if run["method"] == "hard_labels"} == {0}
    # One teacher is the run of before ensembles existed; an ensemble is another run, for kd only.
    flat = SHIPPED.flat()
    without = {key: value for key, value in flat.items() if key != "teacher.ensemble"}
    assert run_identity({**flat, "teacher.ensemble": 1}) == run_identity(without)
    assert run_identity({**flat, "teacher.ensemble": 3}) != run_identity(flat)
    labels_only = {**flat, "distill.method": "hard_labels"}
    assert run_identity({**labels_only, "teacher.ensemble": 3}) == run_identity(labels_only)

    records = ensemble_records(tmp_path, config, chosen)
    baselines = ENSEMBLE_BASELINES
    assert list(summarise(records[1]).ensemble_tests) == [0.950, 0.954] and not len(summarise(records[0]).ensemble_tests)
    study = ensemble_study(records).set_index("teachers")
    assert list(study["method"]) == ["kd", "kd"]
    per_seed = np.array(baselines) + 0.026 + 0.001 * np.arange(5) + 0.00025
    assert study.loc[3, "test_mean"] == pytest.approx(per_seed.mean())
    assert study.loc[3, "to_teachers"] == pytest.approx(per_seed.mean() - 0.935)
    # Welch: the teachers' mean is an estimate, their own spread counted beside the seeds'.
    teachers = summarise(records[1]).teacher_tests
    assert teachers.mean() == pytest.approx(0.935)
    interval = stats.ttest_ind(per_seed, teachers, equal_var=False).confidence_interval(0.95)
    assert (study.loc[3, "to_teachers_low"], study.loc[3, "to_teachers_high"]) == pytest.approx((interval.low, interval.high))
    assert study.loc[3, "to_teachers_high"] - study.loc[3, "to_teachers_low"] > np.diff(
        stats.ttest_1samp(per_seed, 0.935).confidence_interval(0.95))[0]  # wider than with the mean taken as known
    assert study.loc[3, "to_ensembles"] == pytest.approx(per_seed.mean() - 0.952)
    assert np.isnan(study.loc[1, "to_ensembles"]) and np.isnan(study.loc[1, "over_one"])
    # Against one teacher, paired by seed: every seed gains 0.006, so the interval is that point.
    assert study.loc[3, "over_one"] == pytest.approx(0.006)
    assert study.loc[3, "over_hard_labels"] > 0 and study.loc[3, "over_hard_labels_verdict"] == "higher"
    # The gap from the MLP alone (90.0 %) to the teachers (93.5 %) or to the ensembles (95.2 %): the share closed.
    assert study.loc[3, "closure_teachers"] == pytest.approx((per_seed.mean() - 0.900) / 0.035)
    assert study.loc[3, "closure_ensembles"] == pytest.approx((per_seed.mean() - 0.900) / 0.052)
    summary = summarise(records[1])
    fieller = gap_share_interval(summary.sides["kd"], summary.sides["baseline"], summary.teacher_tests)
    assert (study.loc[3, "closure_teachers_low"], study.loc[3, "closure_teachers_high"]) == pytest.approx(
        (fieller["low"], fieller["high"]))
    assert np.isnan(study.loc[1, "closure_ensembles"])
    table = ensemble_table(ensemble_study(records), "synthetic ensemble")
    assert "(93.50 %)" in table and "| 3 | KD, T = 10, λ = 0.5, no T² scaling | 10 |" in table
    assert "(ensembles 95.20 %)" in table
    from distillation.reporting.comparison import reach_table

    reach = reach_table(ensemble_study(records), "synthetic ensemble").splitlines()
    assert len(reach) == 4 and reach[2].startswith("| KD, T = 10, λ = 0.5, no T² scaling | one teacher |")
    assert reach[3].startswith("| KD, T = 10, λ = 0.5, no T² scaling | an ensemble of 3 |")
    one, three = ([cell.strip() for cell in line.strip("|").split("|")] for line in reach[2:])
    assert one[2] == three[2] == "5 × 2" and one[5] == three[5] == "93.50"  # seeds × teachers; the single teachers' mean
    assert one[4] == f"{100 * (per_seed.mean() - 0.006):.2f}" and one[8:] == ["", "", ""]  # one teacher: no ensembles
    assert three[4] == f"{100 * per_seed.mean():.2f}" and three[6].startswith(f"{100 * (per_seed.mean() - 0.935):+.2f} [")
    assert three[8] == "95.20" and three[10].startswith(f"{100 * study.loc[3, 'closure_ensembles']:.0f} % [")
    with pytest.raises(ValueError, match="no ensemble study 'synthetic other'"):
        ensemble_table(ensemble_study(records), "synthetic other")
    assert "their ensembles' 95.00 / 95.40 %" in methods_markdown(records)
    from distillation.reporting.comparison import levers_table

    levers = levers_table(recipe_levers(records), seed_spread(records), "synthetic ensemble")
    # kd once per ensemble size, hard_labels (which reads no teacher) once: the same runs in both records.
    assert levers.count("| kd |") == 2 and levers.count("| hard_labels |") == 1
    assert "| kd | 3 | lambda=0.5, t2_scale=False, temp=10 | 0 | 40 | 0 | 1 | 95.00 (chosen) | 93.00 |" in levers


def test_an_ensemble_study_pairs_its_records_on_the_seeds_both_have(tmp_path):
    from distillation.comparison.studies import ensemble_study

    # The ensembles' record lacks kd at seed 1, the one-teacher record at seed 3.
    records = ensemble_records(tmp_path, ENSEMBLE_CONFIG, ENSEMBLE_CHOSEN, kd_missing={3: {1}, 1: {3}})
    study = ensemble_study(records).set_index("teachers")
    assert study.loc[3, "replicates"] == 4 and study.loc[3, "runs"] == 8
    # Paired on seeds 0, 2 and 4: every one of them gains exactly 0.006 with three teachers.
    assert study.loc[3, "over_one"] == pytest.approx(0.006)
    per_seed = np.array(ENSEMBLE_BASELINES)[[0, 2, 3, 4]] + 0.026 + 0.001 * np.array([0, 2, 3, 4]) + 0.00025
    assert study.loc[3, "test_mean"] == pytest.approx(per_seed.mean())


def test_the_levers_say_where_each_flattened_beside_how_far_one_run_moves_with_its_seed():
    from distillation.comparison.studies import lever_steps, seed_spread
    from distillation.reporting.comparison import levers_table

    base, mixup = "lambda=0.1, temp=5", "lambda=0.1, mixup=0.2, temp=5"
    points = [(base, 16, 120, 0.937), (base, 16, 240, 0.940), (base, 32, 120, 0.935), (base, 32, 240, 0.937),
              (mixup, 16, 120, 0.931), (mixup, 16, 240, 0.936)]
    levers = pd.DataFrame([{"source": "letters.mat", "name": "ensemble", "method": "kd", "teachers": 1, "setting": setting,
                            "views": views, "epochs": epochs, "views_shown_per_image": 0, "runs": 1, "val": val, "test": val,
                            "chosen": False} for setting, views, epochs, val in points])
    steps = lever_steps(levers).set_index(["lever", "setting", "views", "epochs"])["val_change"]
    assert steps[("epochs", base, 16, 240)] == pytest.approx(0.003) and steps[("epochs", base, 32, 240)] == pytest.approx(0.002)
    assert steps[("views", base, 32, 120)] == pytest.approx(-0.002) and steps[("views", base, 32, 240)] == pytest.approx(-0.003)
    assert steps[("epochs", mixup, 16, 240)] == pytest.approx(0.005)
    # Another setting is measured against the base where both have a point, naming only what differs.
    settings = lever_steps(levers).query("lever == 'setting'")
    assert list(settings["to"]) == ["mixup=0.2", "mixup=0.2"] and list(settings["val_change"]) == pytest.approx([-0.006, -0.004])

    # Seeds of one teacher give the spread; a run two records of a study share counts once.
    def record(ensemble, runs):  # cut down to what seed_spread reads
        return Record.model_construct(
            source_label="letters.mat", config=ComparisonConfig.model_construct(name="ensemble"), params={"teacher.ensemble": ensemble},
            runs=[{"phase": "reported", "experiment": name, "method": method, "teachers": teachers,
                   "teacher_replicate": teacher, "student_val": val} for name, method, teachers, teacher, val in runs])

    labels_only = [("hl-0", "hard_labels", None, None, 0.90), ("hl-1", "hard_labels", None, None, 0.92)]
    one = record(1, labels_only + [("kd-0-0", "kd", 1, 0, 0.93), ("kd-0-1", "kd", 1, 0, 0.95),
                                   ("kd-3-0", "kd", 1, 3, 0.96), ("kd-3-1", "kd", 1, 3, 0.94)])
    spread = seed_spread([one, record(3, labels_only)]).set_index("method")
    assert spread.loc["hard_labels", "runs"] == 2 and spread.loc["hard_labels", "sd"] == pytest.approx(np.std([0.90, 0.92], ddof=1))
    # Pooled within each teacher: the teachers' different levels are not seed noise.
    assert spread.loc["kd", "sd"] == pytest.approx(np.std([0.93, 0.95], ddof=1))
    text = levers_table(levers, seed_spread([one]), "letters ensemble")
    assert "- kd, 1 teacher: epochs 120 → 240: +0.30 at K 16, +0.20 at K 32;" in text
    assert "epochs 120 → 240 (lambda=0.1, mixup=0.2, temp=5): +0.50 at K 16" in text
    assert "mixup=0.2: -0.60 at K 16, 120 epochs, -0.40 at K 16, 240 epochs" in text
    assert "standard deviation of hard_labels 1.41, kd 1.41 points" in text


def test_a_broken_record_gets_one_line_naming_it_wherever_it_is_read(tmp_path):
    from distillation.comparison.records import load_progress, load_shared_runs, load_sittings, record_complete

    for text in ("{not json", "[1, 2]", '{"runs": 3}'):
        path = tmp_path / "comparison-broken.json"
        path.write_text(text)
        for read in (load_progress, load_sittings, record_complete, lambda path: load_shared_runs([path])):
            with pytest.raises(ValueError, match=r"^.*comparison-broken\.json: not a comparison record"):
                read(path)
    absent = tmp_path / "comparison-absent.json"
    assert load_progress(absent).empty and load_sittings(absent) == [] and not record_complete(absent)


def test_a_comparison_stopped_by_hand_or_by_kill_writes_its_record_first():
    import os
    import signal

    import scripts.compare as compare

    written = []

    def stopped_by_kill() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        return 0

    previous = signal.signal(signal.SIGTERM, compare._interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            compare.saving_on_interrupt(lambda: written.append("record"), stopped_by_kill)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert written == ["record"]
    assert compare.saving_on_interrupt(lambda: written.append("again"), lambda: 3) == 3 and written == ["record"]


def test_a_study_under_way_keeps_its_finished_records_and_runs_what_reads_no_teacher_once(tmp_path, monkeypatch):
    import yaml

    import scripts.compare as compare

    config_path = tmp_path / "comparison-ensemble.yaml"
    config_path.write_text(yaml.safe_dump({"name": "ensemble", "replicates": 2, "teachers": 2, "selection_replicates": [100, 101, 102],
                                           "params": {"teacher.ensemble": [1, 3]},
                                           "grids": {"kd": {"distill.temp": [5, 10]}, "hard_labels": {}}}))
    figures = {"student": 0.92, "student_val": 0.92, "baseline": 0.90, "baseline_val": 0.90, "teacher": 0.93, "teacher_val": 0.93}
    experiments, queued = [], []

    def queue_and_run(runs, jobs):  # DVC's queue, as if every run finished at once
        for run in runs:
            queued.append(run)
            experiments.append({**run, **figures, "experiment": f"run-{len(experiments)}", "rev": f"{len(experiments):07d}"})

    monkeypatch.setattr(compare, "REPORTS", tmp_path)
    monkeypatch.setattr(compare, "queue_and_run", queue_and_run)
    monkeypatch.setattr(compare, "read_experiments", lambda: pd.DataFrame(experiments))
    monkeypatch.setattr(compare, "write_reports", lambda table: [])
    bits_read = []

    def read_test_correct(rev, model):  # each experiment's per-image bits, as its predictions/ file holds them
        bits_read.append((rev, model))
        return encode_correct(np.array([True, int(rev) % 2 == 0, model == "student"]))

    monkeypatch.setattr(compare, "read_test_correct", read_test_correct)

    def ensemble_of(run):
        return run["overrides"].get("teacher.ensemble")

    one, three = compare.compare(config_path, "synthetic", 2)
    # hard_labels reads no teacher: its runs (3 selection + 2 seeds) run once and sit in both records.
    assert sum(run["method"] == "hard_labels" for run in queued) == 5
    assert sorted(ensemble_of(run) for run in queued if run["method"] == "kd") == [1] * 10 + [3] * 10
    records = {size: json.loads(path.read_text()) for size, path in ((1, one), (3, three))}
    labels_only = {size: {run["experiment"] for run in record["runs"] if run["method"] == "hard_labels"} for size, record in records.items()}
    assert labels_only[1] == labels_only[3] and len(labels_only[1]) == 5
    assert [sitting["runs"] for sitting in records[3]["sittings"]] == [10]
    # Each reported run keeps its student's and baseline's per-image bits, read once per experiment.
    reported = [run for record in records.values() for run in record["runs"] if run["phase"] == "reported"]
    assert all(decode_correct(run["student_correct"]).tolist() == [True, int(run["rev"]) % 2 == 0, True]
               and decode_correct(run["baseline_correct"]).tolist() == [True, int(run["rev"]) % 2 == 0, False] for run in reported)
    assert len(bits_read) == len(set(bits_read))
    assert all(run["student_correct"] is None for record in records.values() for run in record["runs"] if run["phase"] == "selection")  # its own runs only

    # A fresh clone (no experiments) with the one-teacher record finished and the ensembles' under way,
    # 2 kd runs and hard_labels left: the finished record is kept, and lends its hard_labels runs.
    left = [run for run in records[3]["runs"] if run["method"] == "kd" and run["phase"] == "reported"][:2]
    unfinished = {**records[3], "complete": False,
                  "runs": [run for run in records[3]["runs"] if run not in left and run["method"] != "hard_labels"]}
    three.write_text(json.dumps(unfinished))
    one_before = one.read_bytes()
    experiments.clear(), queued.clear()
    compare.compare(config_path, "synthetic", 2)
    assert [(run["method"], ensemble_of(run), run["replicate"], run["teacher_replicate"]) for run in queued] == [
        ("kd", 3, run["replicate"], run["teacher_replicate"]) for run in left]
    assert one.read_bytes() == one_before
    resumed = json.loads(three.read_text())
    assert resumed["complete"] and {run["experiment"] for run in resumed["runs"] if run["method"] == "hard_labels"} == labels_only[1]

    # Every record finished: the study runs again from nothing, each shared run once.
    experiments.clear(), queued.clear()
    compare.compare(config_path, "synthetic", 2)
    assert len(queued) == 5 + 20


def test_a_comparison_config_must_be_committed_as_it_is_before_its_runs(tmp_path, monkeypatch):
    import subprocess

    from scripts.compare import check_written_down

    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    config = Path("comparison-mine.yaml")
    config.write_text("replicates: 3\n")
    with pytest.raises(ValueError, match=r"^comparison-mine.yaml: uncommitted changes; commit it first \(git add comparison-mine.yaml"):
        check_written_down(config)  # new, never committed
    subprocess.run(["git", "add", str(config)], check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "grid"], check=True)
    check_written_down(config)  # written down: no complaint
    config.write_text("replicates: 5\n")
    with pytest.raises(ValueError, match="a study's grid is written down before its first run"):
        check_written_down(config)
