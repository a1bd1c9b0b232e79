"""The export stages on tiny data: every file in its real runtime (onnxruntime, LiteRT), checked against Keras."""
from __future__ import annotations

import json

import numpy as np
import pytest

from project import clone_trained, stages_to_run


@pytest.fixture(scope="module")
def exported(trained_repo):
    """The tiny pipeline's student and teacher, their exports and metrics, as `dvc repro` wrote them."""
    from distillation.models.files import load_model, predict_logits
    from distillation.data.prepared import load_split

    test = load_split(trained_repo / "data" / "prepared" / "test.npz")
    return {
        name: {
            "keras_logits": predict_logits(load_model(trained_repo / "models" / f"{name}.keras"), test.images),
            "metrics": json.loads((trained_repo / "metrics" / f"export{'' if name == 'student' else '_teacher'}.json").read_text()),
        }
        for name in ("student", "teacher")
    } | {"test": test, "root": trained_repo}


@pytest.mark.parametrize("name", ["student", "teacher"])
@pytest.mark.parametrize("kind", ["onnx", "litert", "litert_int8"])
def test_each_file_runs_in_its_runtime_and_agrees_with_keras(exported, name, kind):
    from distillation.export.formats import exported_paths
    from distillation.export.model_card import card_path
    from distillation.export.runtimes import predict_in_batches, runner_for

    path = exported_paths(name, exported["root"] / "models" / "export")[kind]
    logits = predict_in_batches(runner_for(kind, path, threads=1).forward, exported["test"].images)
    keras_logits = exported[name]["keras_logits"]
    agrees = logits.argmax(axis=1) == keras_logits.argmax(axis=1)
    agreement = np.mean(agrees)
    if kind != "litert_int8":  # fp32: the same function, up to float rounding
        assert agreement >= 0.99, agreement
        np.testing.assert_allclose(logits, keras_logits, atol=1e-3, rtol=1e-3)
    else:
        # int8 logits come in steps of the output's scale: they stay within a few steps of Keras's,
        # and order every two classes that Keras sets at least a step apart as Keras does. The tiny
        # project's barely trained models put some images' top two logits closer than one step.
        step = json.loads(card_path(path).read_text())["output"]["quantization"]["scale"]
        assert np.max(np.abs(logits - keras_logits)) <= 4 * step
        ranked = np.sort(keras_logits, axis=1)
        decided = ranked[:, -1] - ranked[:, -2] >= step
        assert decided.mean() >= 0.5 and np.mean(agrees[decided]) >= 0.99, (decided.mean(), np.mean(agrees[decided]))
    # The metrics were measured, not copied: the same figures from the files again.
    entry = exported[name]["metrics"][kind]
    assert entry["bytes"] == path.stat().st_size
    assert entry["test_accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == exported["test"].labels), abs=1e-6)
    assert entry["agreement_with_keras"] == pytest.approx(agreement, abs=1e-6)
    assert entry["latency_ms_batch_1"] > 0 and entry["latency_ms_per_image_batch_256"] > 0


def test_the_int8_file_holds_int8_weights_input_and_output(exported):
    from ai_edge_litert.interpreter import Interpreter

    from distillation.export.formats import exported_paths

    interpreter = Interpreter(model_path=str(exported_paths("student", exported["root"] / "models" / "export")["litert_int8"]))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    details = interpreter.get_tensor_details()
    # The two Dense kernels, as the model holds them: 784 × H and H × K, each stored in int8.
    kernels = [detail for detail in details if len(detail["shape"]) == 2 and detail["shape"].prod() > 1000]
    assert kernels and all(detail["dtype"] == np.int8 for detail in kernels), [(d["name"], d["dtype"]) for d in kernels]
    metrics = exported["student"]["metrics"]
    assert metrics["int8_size_ratio"] == pytest.approx(metrics["litert"]["bytes"] / metrics["litert_int8"]["bytes"], abs=1e-3)
    assert metrics["int8_accuracy_drop"] == pytest.approx(
        metrics["keras"]["test_accuracy"] - metrics["litert_int8"]["test_accuracy"], abs=1e-6)
    assert metrics["keras"]["test_accuracy"] == pytest.approx(
        json.loads((exported["root"] / "metrics" / "student.json").read_text())["test_accuracy"], abs=1e-6)


def test_the_calibration_sample_is_seeded_training_images():
    from distillation.export.formats import calibration_sample

    train = np.arange(1000, dtype=np.float32).reshape(1000, 1, 1, 1)
    first, again, other = (calibration_sample(train, 100, seed) for seed in (42, 42, 7))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other) and len(np.unique(first)) == 100
    assert len(calibration_sample(train[:10], 100, 42)) == 10


def test_a_new_temperature_re_exports_the_student_only(trained_repo, tmp_path):
    project = clone_trained(trained_repo, tmp_path / "project")
    ran = stages_to_run(project, {"distill": {"temp": 3}})
    assert {"train_student", "export"} <= ran
    assert not ran & {"export_teacher", "train_teacher"}, ran


# --- in-process: the stage function on tiny models -------------------------------------------------

@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory, tiny_letters_mat):
    """A project folder with tiny prepared splits, a briefly trained 32-unit student and a one-epoch teacher."""
    from distillation.models.files import save_model
    from distillation.data.prepared import load_prepared
    from stages.convert import convert
    from stages.train_baseline import train_baseline
    from stages.train_teacher import train_teacher
    from test_stages import baseline_recipe, teacher_recipe

    root = tmp_path_factory.mktemp("export")
    convert(tiny_letters_mat, root / "data" / "prepared", 0.1, seed=0)
    splits = load_prepared(root / "data" / "prepared")
    student, _ = train_baseline(splits, baseline_recipe(epochs=3, hidden_units=32), seed=0)
    save_model(student, root / "models" / "student.keras")
    # Trained, so its logits are not all alike: int8's agreement with Keras then means something.
    teacher, _ = train_teacher(splits, teacher_recipe(epochs=1), seed=0)
    save_model(teacher, root / "models" / "teacher.keras")
    return root


@pytest.mark.parametrize("name", ["student", "teacher"])
def test_the_export_stage_writes_three_files_that_agree_with_keras(tiny_project, monkeypatch, name):
    from distillation.export.formats import exported_paths
    from distillation.export.runtimes import predict_in_batches, runner_for
    from distillation.models.files import load_model, predict_logits
    from distillation.data.prepared import load_split
    from stages.export import export_model

    monkeypatch.chdir(tiny_project)
    metrics = export_model(name, seed=0)
    test = load_split(tiny_project / "data" / "prepared" / "test.npz")
    keras_logits = predict_logits(load_model(tiny_project / "models" / f"{name}.keras"), test.images)
    assert metrics["keras"]["test_accuracy"] == pytest.approx(np.mean(keras_logits.argmax(axis=1) == test.labels), abs=1e-6)
    for kind, path in exported_paths(name, tiny_project / "models" / "export").items():
        logits = predict_in_batches(runner_for(kind, path, threads=1).forward, test.images)
        assert metrics[kind]["bytes"] == path.stat().st_size
        assert metrics[kind]["test_accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == test.labels), abs=1e-6)
        agreement = np.mean(logits.argmax(axis=1) == keras_logits.argmax(axis=1))
        assert metrics[kind]["agreement_with_keras"] == pytest.approx(agreement, abs=1e-6)
        if kind != "litert_int8":
            np.testing.assert_allclose(logits, keras_logits, atol=1e-3, rtol=1e-3)
        else:  # int8: the same letter nearly always, the logits near the float ones
            assert agreement >= 0.9, agreement
            assert np.corrcoef(logits.ravel(), keras_logits.ravel())[0, 1] > 0.95
    # int8 holds a quarter of the fp32 weights' bytes, give or take the graph
    assert metrics["int8_size_ratio"] > 2.5
    # each file has its model card beside it: the classes by output index
    from distillation.export.model_card import read_card

    for path in exported_paths(name, tiny_project / "models" / "export").values():
        assert read_card(path, str(path))["classes"] == list(test.classes)


def test_a_platform_without_a_runtime_keeps_the_file_and_names_what_it_skipped(tiny_project, tmp_path, monkeypatch):
    import builtins

    from distillation.export import formats as export

    real_import = builtins.__import__

    def without_litert(name, *arguments, **keywords):
        if name.startswith("ai_edge_litert"):
            raise ImportError(name)
        return real_import(name, *arguments, **keywords)

    from distillation.data.prepared import load_split

    model_file = tiny_project / "models" / "student.keras"
    model = export.load_exportable(model_file)
    test = load_split(tiny_project / "data" / "prepared" / "test.npz")
    paths = export.exported_paths("student", tmp_path)
    export.write_exports(model, paths, test.images[:16], test.classes)
    monkeypatch.setattr(builtins, "__import__", without_litert)  # as on Windows, where it has no wheel
    metrics = export.measure_exports(model, model_file, paths, test.images[:64], test.labels[:64], threads=1)
    reason = "ai-edge-litert is not installed (it has no wheel for this platform)"
    assert metrics["skipped"] == {"litert": reason, "litert_int8": reason}
    assert "test_accuracy" in metrics["onnx"] and "test_accuracy" not in metrics["litert_int8"]
    assert metrics["litert_int8"]["bytes"] == paths["litert_int8"].stat().st_size and "int8_accuracy_drop" not in metrics
