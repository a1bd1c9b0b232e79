"""Every distillation method trains the original's MLP on tiny data and saves it as a plain model."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.methods import METHODS
from distillation.data.prepared import load_prepared
from distillation.models.files import load_model, save_model
from stages.convert import convert
from distillation.targets.ensemble import teacher_outputs
from stages.train_student import train_student
from distillation.training.student import load_teacher_outputs
from stages.train_teacher import train_teacher
from test_stages import DISTILL, teacher_recipe

HIDDEN = 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_letters_mat):
    directory = tmp_path_factory.mktemp("methods")
    convert(tiny_letters_mat, directory, 0.2, seed=0)
    splits = load_prepared(directory)
    teacher, _ = train_teacher(splits, teacher_recipe(epochs=1), seed=0)
    logits, hidden = teacher_outputs(teacher, splits)
    return splits, {"logits": logits, "hidden": hidden}


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_trains_and_saves_the_plain_mlp(tiny, tmp_path, method):
    splits, teacher = tiny
    needed = {kind: teacher[kind] for kind in METHODS[method].teacher_outputs}
    settings = DISTILL.changed(method=method, epochs=8, batch_size=32, patience=8)
    student, metrics = train_student(splits, needed, settings, HIDDEN, seed=0)
    assert metrics["params"] == 784 * HIDDEN + HIDDEN + HIDDEN * 26 + 26  # no regressor, no peers
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] <= 8
    assert metrics["val_accuracy"] > 3 / 26  # learned something: chance is 1/26
    assert metrics["train_images_per_second"] > 0
    # What trained it is recorded, so a report can spot outputs that are not this run's.
    assert (metrics["method"], metrics["seed"]) == (method, 0)
    assert metrics["setting"] == settings.settings.label()
    save_model(student, tmp_path / "student.keras")
    loaded = load_model(tmp_path / "student.keras")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert loaded.get_layer("hidden").units == HIDDEN
    np.testing.assert_allclose(loaded.predict(splits["test"].images, verbose=0),
                               student.predict(splits["test"].images, verbose=0), rtol=1e-5)


def test_methods_differ_from_each_other(tiny):
    splits, teacher = tiny
    weights = {}
    for method in ("kd", "label_smoothing", "dml"):
        needed = {kind: teacher[kind] for kind in METHODS[method].teacher_outputs}
        student, _ = train_student(splits, needed, DISTILL.changed(method=method, epochs=1), HIDDEN, seed=0)
        weights[method] = student.get_layer("logits").get_weights()[0]
    # Same seed, same initialisation: only the loss tells them apart.
    assert not np.allclose(weights["kd"], weights["label_smoothing"])
    assert not np.allclose(weights["kd"], weights["dml"])


def test_dml_can_take_the_cnn_as_a_peer(tiny):
    splits, _ = tiny
    weights = {}
    for cnn_peer in (False, True):
        settings = DISTILL.changed(method="dml", epochs=1, dml={"peers": 2, "cnn_peer": cnn_peer})
        student, metrics = train_student(splits, {}, settings, HIDDEN, seed=0)
        assert metrics["params"] == 784 * HIDDEN + HIDDEN + HIDDEN * 26 + 26  # the peers are not saved
        weights[cnn_peer] = student.get_layer("logits").get_weights()[0]
    # Same seed, same MLP peer: only the CNN's predictions in the mutual loss tell the two apart.
    assert not np.allclose(weights[False], weights[True])


def test_a_method_loads_only_the_teacher_outputs_it_reads(tmp_path, tiny, monkeypatch):
    import distillation.training.student as student_parts
    from distillation.targets.teacher_logits import load_teacher_hidden, load_teacher_logits, save_teacher_logits

    splits, teacher = tiny
    # Only the logits file exists here; KD reads it, DML reads nothing, FitNets wants the hidden file.
    save_teacher_logits(tmp_path / "logits.npz", teacher["logits"], splits)
    monkeypatch.setattr(student_parts, "TEACHER_FILES", {"logits": (tmp_path / "logits.npz", load_teacher_logits),
                                                  "hidden": (tmp_path / "absent.npz", load_teacher_hidden)})
    assert set(load_teacher_outputs("kd", splits)) == {"logits"}
    assert load_teacher_outputs("dml", splits) == {}
    with pytest.raises(ValueError, match="absent.npz: teacher hidden activations not found"):
        load_teacher_outputs("fitnets", splits)


def test_teacher_free_refuses_a_probability_at_or_below_chance(tiny):
    splits, _ = tiny
    settings = DISTILL.changed(method="teacher_free", temp=20, teacher_free={"correct_probability": 0.03})
    with pytest.raises(ValueError, match="distill.teacher_free.correct_probability must lie in"):
        train_student(splits, {}, settings, HIDDEN, seed=0)


def test_fitnets_with_a_reduced_hint_trains_a_small_regressor_and_saves_the_plain_mlp(tiny, monkeypatch):
    from distillation.training.student import build_trainer, method_teacher_outputs

    splits, teacher = tiny
    settings = DISTILL.changed(method="fitnets", epochs=2, fitnets={"hint_components": 8})
    reduced = method_teacher_outputs(teacher, settings)
    assert {split: values.shape[1] for split, values in reduced["hidden"].items()} == {"train": 8, "val": 8, "test": 8}
    assert reduced["logits"] is teacher["logits"]
    assert build_trainer(splits, reduced, settings, HIDDEN).regressor.units == 8
    _, metrics = train_student(splits, teacher, settings, HIDDEN, seed=0)
    assert metrics["params"] == 784 * HIDDEN + HIDDEN + HIDDEN * 26 + 26
    assert "hint_components=8" in metrics["setting"]
    too_many = settings.changed(fitnets={"hint_components": 2048})
    with pytest.raises(ValueError, match=r"distill.fitnets.hint_components must be 0 \(the full hint\) or 1..1024"):
        train_student(splits, teacher, too_many, HIDDEN, seed=0)


@pytest.mark.parametrize("method", ["kd", "fitnets", "dml"])
def test_a_student_trains_in_bfloat16_with_a_finite_loss_and_is_saved_in_float32(tiny, tmp_path, monkeypatch, method):
    import keras

    from distillation.training.precision import OVERRIDE
    from stages import train_student as stage

    monkeypatch.setenv(OVERRIDE, "1")  # emulated on a CPU without bfloat16: slow, but the same numbers
    splits, teacher = tiny
    trained: dict = {}
    real_fit = stage.fit_with_early_stopping

    def watched_fit(trainer, *arguments, **named):
        run = real_fit(trainer, *arguments, **named)
        trained.update(policy=trainer.student.dtype_policy.name, loss=trainer.history.history["loss"],
                       policies={(layer.name, layer.dtype_policy.name) for layer in trainer._flatten_layers() if layer.weights})
        return run

    monkeypatch.setattr(stage, "fit_with_early_stopping", watched_fit)
    needed = {kind: teacher[kind] for kind in METHODS[method].teacher_outputs}
    settings = DISTILL.changed(method=method, epochs=1, batch_size=32, precision="mixed_bfloat16")
    student, metrics = stage.train_student(splits, needed, settings, 32, seed=0)
    # It trained in bfloat16: the MLP and what the method adds (FitNets' regressor, DML's peer) alike,
    # every layer with weights but the logits, which stay float32 for the losses at temperature T.
    assert trained["policy"] == "mixed_bfloat16"
    assert {policy for name, policy in trained["policies"] if "logits" not in name} == {"mixed_bfloat16"}, trained["policies"]
    assert {policy for name, policy in trained["policies"] if "logits" in name} == {"float32"}, trained["policies"]
    added = {"kd": "student", "fitnets": "hint_regressor", "dml": "peer_1"}[method]
    assert (added, "mixed_bfloat16") in trained["policies"], trained["policies"]
    assert np.isfinite(trained["loss"]).all() and np.isfinite([metrics["val_loss"], metrics["test_loss"]]).all()
    assert metrics["precision"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for what runs next
    save_model(student, tmp_path / "student.keras")
    saved = load_model(tmp_path / "student.keras")
    assert saved.dtype_policy.name == "float32" and all(layer.dtype_policy.name == "float32" for layer in saved.layers)
    assert all(weight.dtype == "float32" for weight in saved.weights)
    np.testing.assert_array_equal(saved.predict(splits["test"].images, verbose=0), student.predict(splits["test"].images, verbose=0))


@pytest.mark.parametrize("method", ["kd", "fitnets", "dml"])
def test_a_student_of_two_hidden_layers_trains_and_is_saved_as_such(tiny, tmp_path, method):
    splits, teacher = tiny
    needed = {kind: teacher[kind] for kind in METHODS[method].teacher_outputs}
    settings = DISTILL.changed(method=method, epochs=1, batch_size=32)
    student, metrics = train_student(splits, needed, settings, (24, 12), seed=0)
    assert metrics["params"] == 784 * 24 + 24 + 24 * 12 + 12 + 12 * 26 + 26  # the plain MLP: no regressor, no peers
    save_model(student, tmp_path / "student.keras")
    loaded = load_model(tmp_path / "student.keras")
    assert [layer.units for layer in loaded.layers if type(layer).__name__ == "Dense"] == [24, 12, 26]
