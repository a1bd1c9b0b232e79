"""Each stage's function, called directly (no DVC) on tiny data and on the real sample."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from project import without_timings
from typing import Any

from distillation.config.params import BaselineParams, TeacherParams, load_params
from distillation.data.prepared import load_prepared
from distillation.models.per_image import correct_on
from distillation.targets.teacher_logits import load_teacher_hidden, load_teacher_logits, save_teacher_hidden, save_teacher_logits
from stages.convert import convert
from distillation.targets.ensemble import teacher_outputs
from stages.source import materialise_source
from stages.train_baseline import train_baseline
from stages.train_student import train_student
from stages.train_teacher import train_teacher

TRAINING = {
    "optimizer": "adam", "early_stopping": True, "epochs": 2, "batch_size": 64,
    "learning_rate": 2e-3, "patience": 2, "dropout": 0.0,
    "schedule": "cosine", "warmup_epochs": 0.5, "steps_per_execution": 2, "min_steps": 0,
    "precision": "float32",  # the same figures on every CPU (tests/project.py says why)
}
SHIPPED = load_params(PROJECT_ROOT / "params.yaml")
SHIPPED_DISTILL = SHIPPED.distill
# Every method's section as shipped, with KD at T = 4 and T² scaling.
DISTILL = SHIPPED_DISTILL.changed(**TRAINING, method="kd", temp=4.0, **{"lambda": 0.5}, kd={"t2_scale": True})


def teacher_recipe(**changes: Any) -> TeacherParams:
    """The shipped teacher section with the quick TRAINING recipe and ``changes``."""
    return SHIPPED.teacher.changed(**{**TRAINING, **changes})


def baseline_recipe(**changes: Any) -> BaselineParams:
    """The shipped baseline section with the quick TRAINING recipe and ``changes``."""
    return SHIPPED.baseline.changed(**{**TRAINING, **changes})
METRIC_KEYS = {"val_accuracy", "val_loss", "test_accuracy", "test_loss", "params", "epochs", "best_epoch", "train_seconds"}


def run_pipeline(mat_path, workdir, teacher_epochs: int = TRAINING["epochs"]):
    """convert → teacher → soft targets → baseline → student, as the stages chain them."""
    convert(mat_path, workdir / "prepared", val_fraction=0.1, seed=0)
    splits = load_prepared(workdir / "prepared")
    teacher, teacher_metrics = train_teacher(splits, teacher_recipe(epochs=teacher_epochs), seed=0)
    logits, hidden = teacher_outputs(teacher, splits)
    save_teacher_logits(workdir / "logits.npz", logits, splits)
    logits = load_teacher_logits(workdir / "logits.npz", splits)
    _, baseline_metrics = train_baseline(splits, baseline_recipe(hidden_units=512), seed=0)
    student, student_metrics = train_student(splits, {"logits": logits}, DISTILL, hidden_units=512, seed=0)
    return splits, logits, student, (teacher_metrics, baseline_metrics, student_metrics)


def test_source_writes_synthetic_letters_in_the_emnist_layout(tmp_path):
    output = tmp_path / "raw.mat"
    materialise_source(SHIPPED.data.changed(synthetic={"train_per_class": 3, "test_per_class": 2}), seed=0, output=output)
    splits = convert(output, tmp_path / "prepared", 0.34, seed=0)
    assert len(splits["train"].classes) == 26 and splits["train"].classes[0] == "Aa"
    assert splits["test"].labels.shape == (52,)


def test_source_copies_a_given_mat_file(tmp_path, tiny_letters_mat):
    output = tmp_path / "raw.mat"
    materialise_source(SHIPPED.data.changed(source=str(tiny_letters_mat)), seed=0, output=output)
    assert output.read_bytes() == tiny_letters_mat.read_bytes()


def test_unknown_source_is_named(tmp_path):
    with pytest.raises(ValueError, match="data.source: 'emnst-letters.mat' is not 'synthetic', 'emnist'"):
        materialise_source(SHIPPED.data.changed(source="emnst-letters.mat"), seed=0, output=tmp_path / "raw.mat")
    assert not (tmp_path / "raw.mat").exists()


def test_whole_chain_on_tiny_synthetic_data(tmp_path, tiny_letters_mat):
    splits, logits, student, (teacher, baseline, distilled) = run_pipeline(tiny_letters_mat, tmp_path)
    for metrics in (teacher, baseline, distilled):
        assert METRIC_KEYS <= set(metrics)
        assert 1 <= metrics["epochs"] <= 2
    assert teacher["params"] == 3_378_970
    assert baseline["params"] == distilled["params"] == 415_258
    assert logits["train"].shape == (splits["train"].labels.shape[0], 26)
    # The saved student is the plain MLP: logits out, no distillation wrapper.
    assert student.output_shape == (None, 26)


def test_whole_chain_on_the_real_sample_learns(tmp_path, real_sample):
    # One teacher epoch (most of this test's time) and two MLP epochs on 7,200 real letters.
    _, _, student, (teacher, baseline, distilled) = run_pipeline(real_sample, tmp_path, teacher_epochs=1)
    assert teacher["params"] == 3_378_970 - (26 - 13) * 1025  # K comes from the file
    # Far above chance (1/13) for every model.
    for metrics in (teacher, baseline, distilled):
        assert metrics["test_accuracy"] > 0.6
    # The student's per-image bits (what its stage writes beside its metrics) are its test accuracy.
    splits = load_prepared(tmp_path / "prepared")
    correct = correct_on(student, splits["test"])
    assert correct.shape == splits["test"].labels.shape and round(float(correct.mean()), 6) == distilled["test_accuracy"]


def test_training_is_deterministic_for_a_seed(tiny_letters_mat, tmp_path):
    convert(tiny_letters_mat, tmp_path, 0.1, seed=0)
    splits = load_prepared(tmp_path)
    first = train_baseline(splits, baseline_recipe(hidden_units=64), seed=3)[1]
    second = train_baseline(splits, baseline_recipe(hidden_units=64), seed=3)[1]
    assert without_timings(first) == without_timings(second)
    assert first["seed"] == 3  # recorded, so a report can tell this run's metrics from stale ones


def test_original_procedure_runs_every_epoch_with_adadelta(tiny_letters_mat, tmp_path):
    convert(tiny_letters_mat, tmp_path, 0.1, seed=0)
    splits = load_prepared(tmp_path)
    # Patience 1 would stop a 4-epoch run early if early stopping were on.
    original = baseline_recipe(optimizer="adadelta", learning_rate=1.0, early_stopping=False, schedule="plateau", warmup_epochs=0, steps_per_execution=1, epochs=4, patience=1, hidden_units=32)
    metrics = train_baseline(splits, original, seed=0)[1]
    assert metrics["epochs"] == metrics["best_epoch"] == 4
    assert metrics["test_accuracy"] > 1 / 26


def test_teacher_hidden_activations_are_stored_compactly_and_read_back(tmp_path, tiny_letters_mat):
    convert(tiny_letters_mat, tmp_path, 0.1, seed=0)
    splits = load_prepared(tmp_path)
    teacher, _ = train_teacher(splits, teacher_recipe(epochs=1), seed=0)
    logits, hidden = teacher_outputs(teacher, splits)
    assert hidden["train"].shape == (splits["train"].labels.shape[0], 1024)
    assert (hidden["train"] >= 0).all()  # post-ReLU activations
    save_teacher_hidden(tmp_path / "hidden.npz", hidden, splits)
    loaded = load_teacher_hidden(tmp_path / "hidden.npz", splits)
    assert loaded["val"].dtype == "float16"
    np.testing.assert_allclose(loaded["val"], hidden["val"], rtol=1e-3, atol=1e-3)
    # float16 and deflated: at most about half the float32 size.
    assert (tmp_path / "hidden.npz").stat().st_size < 0.55 * sum(array.nbytes for array in hidden.values())


def quadrant_splits(per_class: int, seed: int, random_val_labels: bool = False) -> dict:
    """Four trivially separable classes: a bright 10×10 square in one quadrant, on faint noise."""
    from distillation.data.prepared import PreparedSplit

    rng = np.random.default_rng(seed)

    def split(count: int, shuffle: bool = False) -> PreparedSplit:
        labels = np.repeat(np.arange(4, dtype=np.int32), count)
        images = rng.uniform(0, 0.1, size=(labels.shape[0], 28, 28, 1)).astype(np.float32)
        for index, label in enumerate(labels):
            row, column = divmod(int(label), 2)
            images[index, 2 + 14 * row:12 + 14 * row, 2 + 14 * column:12 + 14 * column] = 1.0
        return PreparedSplit(images, rng.permutation(labels) if shuffle else labels, ("A", "B", "C", "D"))

    return {"train": split(per_class), "val": split(per_class // 4, random_val_labels), "test": split(per_class // 4)}


def test_teacher_learns_separable_classes_with_the_seed_architecture():
    _, metrics = train_teacher(quadrant_splits(40, seed=0), teacher_recipe(epochs=4, patience=4), seed=0)
    assert metrics["params"] == 3_378_970 - (26 - 4) * 1025  # the original's CNN; K comes from the data
    assert metrics["test_accuracy"] >= 0.95  # chance is 0.25
    assert metrics["val_accuracy"] >= 0.95


def test_teacher_stops_on_its_val_loss_and_keeps_the_best_epoch():
    # Val labels are shuffled: the better the teacher fits train, the worse its val loss gets.
    splits = quadrant_splits(40, seed=1, random_val_labels=True)
    _, metrics = train_teacher(splits, teacher_recipe(schedule="plateau", epochs=30, patience=2), seed=0)
    assert metrics["epochs"] < 30
    assert metrics["epochs"] == metrics["best_epoch"] + 2
    assert metrics["test_accuracy"] >= 0.9  # what it learned on train still holds on the true test labels


def test_convert_counts_images_per_split_and_class(tmp_path, tiny_letters_mat):
    from collections import Counter

    from stages.convert import data_metrics

    splits = convert(tiny_letters_mat, tmp_path, 0.25, seed=0)
    metrics = data_metrics(splits)
    assert metrics["classes"] == 26
    assert metrics["images"] == {"train": 234, "val": 78, "test": 104}  # 12 per class, a quarter to val; 4 test
    for name, split in splits.items():
        counted = Counter(np.asarray(split.classes)[split.labels])
        assert metrics["images_per_class"][name] == {letter: counted[letter] for letter in split.classes}
    assert set(metrics["images_per_class"]["val"].values()) == {3}  # stratified


def test_soft_target_metrics_describe_the_stored_outputs(tmp_path, tiny_letters_mat):
    from stages.soft_targets import teacher_output_metrics

    convert(tiny_letters_mat, tmp_path, 0.25, seed=0)
    splits = load_prepared(tmp_path)
    rng = np.random.default_rng(0)
    logits = {name: rng.normal(size=(split.labels.shape[0], 26)).astype(np.float32) for name, split in splits.items()}
    logits["train"][np.arange(100), splits["train"].labels[:100]] += 50.0  # the first 100 surely right
    hidden = {name: np.zeros((split.labels.shape[0], 8), np.float16) for name, split in splits.items()}
    hidden["val"][0, :3] = 1.0  # three of eight units active on one val image
    metrics = teacher_output_metrics(logits, hidden, splits)
    for name, split in splits.items():
        predicted = logits[name].argmax(axis=1)
        assert metrics[name]["accuracy"] == pytest.approx(np.mean(predicted == split.labels), abs=1e-6)
        probabilities = np.exp(logits[name]) / np.exp(logits[name]).sum(axis=1, keepdims=True)
        expected = probabilities[np.arange(split.labels.shape[0]), split.labels].mean()
        assert metrics[name]["true_class_probability"] == pytest.approx(expected, abs=1e-6)
        assert metrics[name]["images"] == split.labels.shape[0]
    assert metrics["train"]["accuracy"] >= 100 / 234
    assert metrics["val"]["active_hidden_fraction"] == 3 / 8 and metrics["test"]["active_hidden_fraction"] == 0


def test_split_replicate_draws_another_val_split_of_the_same_images(tmp_path, tiny_letters_mat, monkeypatch):
    """``stages.convert`` run as DVC runs it, with ``data.split_replicate`` 0 and then 1."""
    import shutil

    import yaml

    import stages.convert as convert_stage

    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "raw").mkdir(parents=True)
    shutil.copy(tiny_letters_mat, tmp_path / "data" / "raw" / "emnist.mat")
    splits = {}
    for split_replicate in (0, 1):
        params["data"]["split_replicate"] = split_replicate
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        convert_stage.main()
        splits[split_replicate] = load_prepared(tmp_path / "data" / "prepared")
    first, second = splits[0], splits[1]
    np.testing.assert_array_equal(first["test"].images, second["test"].images)  # test never moves
    for name in ("train", "val"):
        assert first[name].labels.shape == second[name].labels.shape
    np.testing.assert_array_equal(np.bincount(first["val"].labels), np.bincount(second["val"].labels))  # stratified alike
    assert not np.array_equal(first["val"].images, second["val"].images)  # but other images
    # The same pool of training images, split another way.
    pooled = lambda split: np.sort(np.concatenate([split["train"].images, split["val"].images]).reshape(-1, 784), axis=0)  # noqa: E731
    np.testing.assert_array_equal(pooled(first), pooled(second))
