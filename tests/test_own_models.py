"""Models built for your own images' shape, and your own trained teacher (``teacher.model``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from distillation.config.params import ParamsError, load_params
from distillation.data.prepared import PreparedSplit, load_prepared
from test_bad_input import error_of, files_under, project  # noqa: F401  (a fixture)
from test_own_images import write_folder

RNG = np.random.default_rng(7)


def tiny_splits(shape=(12, 10, 3), classes=("ant", "bee", "cow"), per_class=(8, 3, 3)) -> dict[str, PreparedSplit]:
    """Random prepared splits of ``shape`` images, ``per_class`` of each class in train, val, test."""
    splits = {}
    for name, count in zip(("train", "val", "test"), per_class):
        labels = np.repeat(np.arange(len(classes)), count).astype(np.int32)
        splits[name] = PreparedSplit(RNG.random((labels.size, *shape)).astype(np.float32), labels, classes)
    return splits


def user_teacher(shape, classes: int, softmax: bool, name: str = "features") -> keras.Model:
    """A teacher trained outside the pipeline, as a user builds one: functional, its own layer names."""
    inputs = keras.Input(shape=shape)
    features = keras.layers.Dense(16, activation="relu", name=name)(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Dense(classes, activation="softmax" if softmax else None, name="scores")(features)
    return keras.Model(inputs, outputs, name="users_teacher")


def test_the_models_are_built_for_the_prepared_images_shape():
    from distillation.models.networks import build_mlp, build_teacher

    teacher = build_teacher(5, input_shape=(16, 12, 3))
    assert teacher.input_shape == (None, 16, 12, 3) and teacher.output_shape == (None, 5)
    mlp = build_mlp(5, (32, 16), input_shape=(8, 8, 1))
    assert mlp.count_params() == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 5 + 5
    assert build_teacher(26).count_params() == 3_378_970  # the original's, by default
    with pytest.raises(ValueError, match=r"^data\.image_size: the teacher CNN needs images of at least 10 × 10 pixels, "
                                         r"the prepared images are 8 × 8; set data\.image_size"):
        build_teacher(10, input_shape=(8, 8, 1))


def test_views_of_rgb_and_non_square_images_move_every_channel_alike():
    from distillation.config.params import AugmentParams
    from distillation.data.views import as_model_input, distort

    settings = AugmentParams(views=1, rotation_degrees=12, scale=0.1, shear=0.15, shift_pixels=2, elastic_alpha=2, elastic_sigma=4)
    grey = RNG.integers(0, 256, (5, 14, 9), dtype=np.uint8)
    grey_views = distort(grey, settings, np.random.default_rng(3))
    colour_views = distort(np.repeat(grey[..., None], 3, axis=-1), settings, np.random.default_rng(3))
    assert grey_views.shape == (5, 14, 9) and colour_views.shape == (5, 14, 9, 3)
    for channel in range(3):  # each channel of an RGB view is the grey view, drawn alike
        np.testing.assert_array_equal(colour_views[..., channel], grey_views)
    assert not np.array_equal(grey_views, grey)
    assert as_model_input(grey_views).shape == (5, 14, 9, 1) and as_model_input(colour_views).shape == (5, 14, 9, 3)


@pytest.mark.parametrize("softmax", [False, True])
def test_your_teacher_is_checked_stored_as_logits_and_measured(tmp_path, softmax):
    from distillation.models.files import load_model, predict_logits, save_model
    from distillation.models.given_teacher import adopt_teacher

    splits = tiny_splits()
    model = user_teacher((12, 10, 3), 3, softmax)
    model.save(tmp_path / "mine.keras")
    teacher, metrics = adopt_teacher(str(tmp_path / "mine.keras"), splits)
    assert metrics["outputs"] == ("probabilities" if softmax else "logits") and metrics["given"].endswith("mine.keras")
    save_model(teacher, tmp_path / "teacher.keras")
    stored = predict_logits(load_model(tmp_path / "teacher.keras"), splits["test"].images)  # loads in safe mode
    own = model.predict(splits["test"].images, verbose=0)
    # Logits up to a constant per row: the same softmax as the user's model at T = 1.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(stored)),
                               own if softmax else keras.ops.convert_to_numpy(keras.ops.softmax(own)), rtol=1e-4, atol=1e-6)
    accuracy = float(np.mean(own.argmax(axis=1) == splits["test"].labels))
    assert metrics["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda path: None, r"no such file"),
    (lambda path: path.write_bytes(b"not a zip"), r"cannot be loaded in safe mode"),
    (lambda path: user_teacher((10, 12, 3), 3, False).save(path), r"takes input \(10, 12, 3\), the prepared images are \(12, 10, 3\)"),
    (lambda path: user_teacher((12, 10, 3), 4, False).save(path), r"gives output \(4,\), but the data have 3 classes \(ant, bee, cow\)"),
])
def test_a_teacher_that_does_not_fit_is_refused_in_one_line(tmp_path, make, message):
    from distillation.models.given_teacher import adopt_teacher

    make(tmp_path / "mine.keras")
    with pytest.raises(ValueError, match=r"^teacher\.model models/mine\.keras: " + message) as error:
        adopt_teacher("models/mine.keras", tiny_splits()) if not (tmp_path / "mine.keras").exists() else \
            adopt_teacher_as_given(tmp_path / "mine.keras", "models/mine.keras")
    assert "\n" not in str(error.value)


def adopt_teacher_as_given(path: Path, shown: str):
    """adopt_teacher on ``path``, named ``shown`` as the user wrote it (run from the file's project)."""
    import os

    from distillation.models.given_teacher import adopt_teacher

    (path.parent / "models").mkdir(exist_ok=True)
    (path.parent / shown).write_bytes(path.read_bytes())
    previous = os.getcwd()
    os.chdir(path.parent)
    try:
        return adopt_teacher(shown, tiny_splits())
    finally:
        os.chdir(previous)


def test_a_teacher_file_that_is_no_keras_file_and_an_ensemble_of_it_are_refused(project):
    from distillation.models.given_teacher import load_given_teacher

    with pytest.raises(ValueError, match=r"^teacher\.model teacher\.h5: not a Keras 3 \.keras file"):
        load_given_teacher("teacher.h5")
    root = project({"teacher": {"model": "mine.keras", "ensemble": 2}})
    with pytest.raises(ParamsError, match=r"teacher\.ensemble must be 1 with teacher\.model"):
        load_params(root / "params.yaml")


def test_own_rgb_images_and_your_teacher_run_through_every_stage(project, capsys, monkeypatch):
    """Non-square RGB folder → prepared (14 × 10 × 3) → your softmax teacher (no training) → its
    outputs, with FitNets' hints from the layer teacher.hidden_layer names → MLP alone and a KD student on
    stored views → evaluate → an exported student whose card says how to prepare an image →
    predict naming the class folders."""
    from scripts.predict import predict
    from stages import augment, convert, evaluate, export, soft_targets, source, train_baseline, train_student, train_teacher, view_targets

    monkeypatch.setattr(sys, "argv", ["stage"])  # as each stage's command runs it
    root = project({"data": {"source": "shapes", "image_size": [14, 10], "channels": 3},
                    "augment": {"views": 2}, "teacher": {"model": "given/teacher.keras"},
                    "distill": {"fitnets": {"hint_components": 8}}})  # within the 16 units of the user's layer
    write_folder(root / "shapes", {"train": {"circle": 12, "square": 12, "star": 12}, "test": {"circle": 3, "square": 3, "star": 3}},
                 size=(20, 16), mode="RGB")
    (root / "given").mkdir()
    user_teacher((14, 10, 3), 3, softmax=True, name="penultimate").save(root / "given" / "teacher.keras")
    source.main()
    convert.main()
    augment.main()
    train_teacher.main()
    teacher_metrics = json.loads((root / "metrics" / "teacher.json").read_text())
    assert teacher_metrics["outputs"] == "probabilities" and len(teacher_metrics["sha256"]) == 64
    assert "epochs" not in teacher_metrics  # nothing was trained
    monkeypatch.setattr(sys, "argv", ["stage", "members"])
    train_teacher.main()  # an ensemble of one: nothing to train
    line = error_of(soft_targets.main, capsys)  # the user's layers have no `hidden`
    assert line.startswith("error: teacher.hidden_layer 'hidden': the teacher has no such layer; name the one FitNets "
                           "reads hints from, one of: ") and "penultimate" in line
    assert not (root / "data" / "teacher_logits.npz").exists()
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["teacher"]["hidden_layer"] = "penultimate"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    soft_targets.main()
    view_targets.main()
    train_baseline.main()
    train_student.main()
    evaluate.main()
    summary = json.loads((root / "metrics" / "summary.json").read_text())
    assert summary["teacher"]["test_accuracy"] == teacher_metrics["test_accuracy"]
    student = load_prepared(root / "data" / "prepared")["train"]
    assert student.images.shape[1:] == (14, 10, 3) and student.classes == ("circle", "square", "star")
    monkeypatch.setattr(sys, "argv", ["stage", "student"])
    export.main()
    folder = root / "models" / "export" / "student-onnx"
    card = json.loads(next(folder.glob("*.json")).read_text())
    assert card["classes"] == ["circle", "square", "star"] and card["input"]["shape"] == [None, 14, 10, 3]
    assert card["input"]["resize"] == [14, 10] and card["input"]["mode"] == "RGB"
    picture = next((root / "shapes" / "test" / "star").iterdir())
    (top, *_), = [top for _, top in predict(folder, [picture])]
    assert top[0] in ("circle", "square", "star") and 0 < top[1] <= 1
    keras_student = keras.models.load_model(root / "models" / "student.keras", safe_mode=True)
    prepared_picture = load_prepared(root / "data" / "prepared")["test"].images[6:7]  # star's first test image
    assert top[0] == student.classes[int(np.argmax(keras_student.predict(prepared_picture, verbose=0)))]
    assert files_under(root / "data" / "raw") == ["images.npz"]


def test_an_emnist_source_refuses_a_size_for_your_own_images(project, capsys):
    from stages import source

    root = project({"data": {"image_size": 32}})
    assert error_of(source.main, capsys) == ("error: data.image_size: (32, 32) resizes your own images (a folder or an .npz as "
                                             "data.source); data.source 'synthetic' is EMNIST, 28 × 28 grey: set it to null")
    assert not (root / "data").exists()


def test_a_teacher_narrower_than_the_hint_components_gives_views_to_every_method_and_fitnets_refuses(tmp_path):
    from distillation.config.params import AugmentParams
    from distillation.data.views import load_views, write_views
    from distillation.targets.ensemble import teacher_outputs
    from distillation.targets.view_targets import load_view_targets, write_view_targets

    splits = tiny_splits(shape=(12, 10, 1))
    teacher = user_teacher((12, 10, 1), 3, softmax=False, name="hidden")  # 16 hidden units
    settings = AugmentParams(views=2, rotation_degrees=12, scale=0.1, shear=0.15, shift_pixels=2, elastic_alpha=0, elastic_sigma=4)
    write_views(tmp_path / "views", splits["train"], settings, seed=0)
    views = load_views(tmp_path / "views", splits["train"], 2)
    _, hidden = teacher_outputs(teacher, splits)
    write_view_targets(tmp_path / "targets", teacher, views, hidden["train"], hint_components=128)
    stored = load_view_targets(tmp_path / "targets", views, ("logits",), 128)
    assert stored["logits"]["views"].shape == (2 * splits["train"].labels.size, 3)  # kd and the rest train on the views
    with pytest.raises(ValueError, match=r"^params\.yaml: distill\.fitnets\.hint_components must be 0 \(the full hint\) "
                                         r"or 1\.\.16 \(the teacher's hidden units\), got 128$"):
        load_view_targets(tmp_path / "targets", views, ("logits", "hidden"), 128)


def test_the_route_table_renders_each_models_mean_spread_and_welch_interval(tmp_path):
    from scipy import stats

    from distillation.reporting.metrics_tables import own_data_route_table

    runs = {"mat": [{"teacher": 0.93, "baseline": 0.90, "student": 0.91}, {"teacher": 0.94, "baseline": 0.89, "student": 0.90},
                    {"teacher": 0.95, "baseline": 0.91, "student": 0.92}],
            "folder": [{"teacher": 0.92, "baseline": 0.90, "student": 0.91}, {"teacher": 0.94, "baseline": 0.90, "student": 0.91}]}
    record = {"command": "python bench/own_data_route.py", "images": {"train": 8, "val": 1, "test": 3}, "machine": "a CPU",
              "checks": {"npz_splits_identical": True, "folder_test_pairs_identical": True,
                         "folder_train_val_images_identical": False, "folder_classes_identical": True}, "runs": runs}
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "results-route.json").write_text(json.dumps(record))
    table = own_data_route_table(tmp_path, "route")
    interval = stats.ttest_ind([92, 94], [93, 94, 95], equal_var=False).confidence_interval(0.95)
    assert f"| teacher CNN | 94.00 ± 1.00 | 93.00 ± 1.41 | -1.00 [{interval.low:+.2f}, {interval.high:+.2f}] |" in table
    assert "its train + val the same images: NO" in table and "12 real letters" in table
