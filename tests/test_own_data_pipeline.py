"""Your own data and your own teacher through DVC as users run it: `dvc exp run -S data.source=…`,
`-S teacher.model=…`, `make predict` (the full tier: each test starts DVC in a clone of the tiny project)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import PROJECT_ROOT
from project import clone_trained, dvc, stages_run, stages_to_run

RNG = np.random.default_rng(11)


def write_png_folder(root: Path, splits: dict[str, list[tuple[str, np.ndarray]]], suffix: str = ".png") -> None:
    """``splits[split]``: (class name, uint8 image) pairs, written as ``root/split/class/NNNN.png``."""
    for split, examples in splits.items():
        for index, (label, pixels) in enumerate(examples):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(folder / f"{index:04d}{suffix}")


def digits_folder(root: Path) -> Path:
    """scikit-learn's bundled handwritten digits (1,797 images, 8 × 8, 0..16), every fifth of a class to test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * 255 / 16).astype(np.uint8)
    rank = np.zeros(len(digits.target), int)
    for label in range(10):
        rank[digits.target == label] = np.arange(np.sum(digits.target == label))
    write_png_folder(root, {split: [(str(label), image) for label, image, rank_in_class in zip(digits.target, pixels, rank)
                                    if (rank_in_class % 5 == 4) == (split == "test")] for split in ("train", "test")})
    return root


def metrics_of(project: Path, name: str) -> dict:
    return json.loads((project / "metrics" / f"{name}.json").read_text())


def exp_run(project: Path, *settings: str) -> subprocess.CompletedProcess:
    result = dvc("exp", "run", *(argument for setting in settings for argument in ("-S", setting)), cwd=project, timeout=1500)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result


def test_scikit_learns_digits_as_a_folder_run_end_to_end_and_predict_names_their_classes(tmp_path, trained_repo):
    digits = digits_folder(tmp_path / "digits")
    project = clone_trained(trained_repo, tmp_path / "project")
    # 8 × 8 is below the teacher CNN's 10 × 10: the images are resized to 16 × 16.
    result = exp_run(project, f"data.source={digits}", "data.image_size=16", "teacher.epochs=8", "baseline.epochs=10",
                     "distill.epochs=10")
    assert {"source", "convert", "train_teacher", "train_baseline", "train_student", "export"} <= set(stages_run(result.stdout))
    data = metrics_of(project, "data")
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target)
    assert data["classes"] == 10 and data["images"]["test"] == int(np.sum(per_class // 5))  # every fifth of a class
    assert data["images"]["train"] + data["images"]["val"] + data["images"]["test"] == 1797
    accuracies = {name: metrics_of(project, name)["test_accuracy"] for name in ("teacher", "baseline", "student")}
    assert min(accuracies.values()) > 0.6, accuracies  # chance is 0.1
    card = json.loads((project / "models" / "export" / "student-int8" / "student_int8.tflite.json").read_text())
    assert card["classes"] == [str(label) for label in range(10)] and card["input"]["shape"] == [None, 16, 16, 1]
    sevens = sorted((digits / "test" / "7").iterdir())[:3]
    # The project's own Makefile and environment, run in the clone (which holds the pipeline, not them).
    predicted = subprocess.run(["make", "--no-print-directory", "-f", str(PROJECT_ROOT / "Makefile"), "predict",
                                f"BIN={Path(sys.executable).parent}", f"LOCK={PROJECT_ROOT / 'requirements.txt'}",
                                "MODEL=models/export/student-int8", f"IMAGES={' '.join(map(str, sevens))}"],
                               cwd=project, capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    lines = [line for line in predicted.stdout.splitlines() if line.startswith(str(digits))]
    assert len(lines) == 3 and all(line.split(": ")[1].split(" ")[0] in card["classes"] for line in lines), predicted.stdout
    assert sum(line.split(": ")[1].startswith("7 ") for line in lines) >= 2, predicted.stdout


def colour_examples(count: int, shape=(14, 11)) -> list[tuple[str, np.ndarray]]:
    """Noisy images whose class is their dominant colour."""
    examples = []
    for index in range(count):
        label = ("red", "green", "blue")[index % 3]
        pixels = RNG.integers(0, 90, (*shape, 3))
        pixels[..., ("red", "green", "blue").index(label)] += 150
        examples.append((label, pixels.astype(np.uint8)))
    return examples


def test_an_rgb_folder_and_an_npz_of_arrays_run_through_dvc(tmp_path, trained_repo):
    colours = tmp_path / "colours"
    write_png_folder(colours, {"train": colour_examples(90), "test": colour_examples(30)}, suffix=".jpg")
    project = clone_trained(trained_repo, tmp_path / "project")
    exp_run(project, f"data.source={colours}")  # null size and channels: their own, 14 × 11 RGB
    card = json.loads((project / "models" / "export" / "student-onnx" / "student.onnx.json").read_text())
    assert card["classes"] == ["blue", "green", "red"] and card["input"]["shape"] == [None, 14, 11, 3]
    assert card["input"]["mode"] == "RGB"
    assert metrics_of(project, "teacher")["test_accuracy"] > 0.6  # chance is 1/3

    arrays = tmp_path / "arrays.npz"
    train, test = colour_examples(60, (20, 20)), colour_examples(15, (20, 20))
    names = ["red", "green", "blue"]
    np.savez(arrays, x_train=np.stack([image for _, image in train]), y_train=np.array([names.index(label) for label, _ in train]),
             x_test=np.stack([image for _, image in test]), y_test=np.array([names.index(label) for label, _ in test]),
             class_names=np.array(names))
    exp_run(project, f"data.source={arrays}", "data.image_size=12", "data.channels=1")
    card = json.loads((project / "models" / "export" / "student-onnx" / "student.onnx.json").read_text())
    assert card["classes"] == names and card["input"]["shape"] == [None, 12, 12, 1] and card["input"]["mode"] == "L"
    assert metrics_of(project, "data")["images_per_class"]["test"] == {"red": 5, "green": 5, "blue": 5}


TRAIN_OUTSIDE = """
import sys
import keras
from distillation.data.prepared import load_prepared
splits = load_prepared("data/prepared")
keras.utils.set_random_seed(0)
inputs = keras.Input(shape=splits["train"].images.shape[1:])
features = keras.layers.Dense(64, activation="relu", name="features")(keras.layers.Flatten()(inputs))
outputs = keras.layers.Dense(len(splits["train"].classes), activation="softmax")(features)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(splits["train"].images, splits["train"].labels, epochs=int(sys.argv[2]), verbose=0)
model.save(sys.argv[1])
"""


def test_your_own_teacher_replaces_training_and_a_temperature_still_reruns_only_the_student(tmp_path, trained_repo):
    project = clone_trained(trained_repo, tmp_path / "project")
    teacher_file = tmp_path / "elsewhere" / "my-teacher.keras"
    teacher_file.parent.mkdir()
    trained = subprocess.run([sys.executable, "-c", TRAIN_OUTSIDE, str(teacher_file), "3"], cwd=project,
                             capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = exp_run(project, f"teacher.model={teacher_file}", "teacher.hidden_layer=features")
    assert "train_teacher" in stages_run(result.stdout) and "Epoch 1/" not in result.stdout.split("Running stage 'train_teacher'")[1].split("Running stage")[0]
    teacher = metrics_of(project, "teacher")
    assert teacher["outputs"] == "probabilities" and teacher["given"] == str(teacher_file) and "epochs" not in teacher
    assert metrics_of(project, "summary")["teacher"]["test_accuracy"] == teacher["test_accuracy"]
    ran = stages_to_run(project, {"distill": {"temp": 4}})
    assert "train_student" in ran and not ran & {"train_teacher", "soft_targets", "train_baseline", "export_teacher"}, ran
    # The teacher overwritten at the same path: DVC sees its new hash through the inputs stage.
    retrained = subprocess.run([sys.executable, "-c", TRAIN_OUTSIDE, str(teacher_file), "1"], cwd=project,
                               capture_output=True, text=True, timeout=600)
    assert retrained.returncode == 0, retrained.stderr[-2000:]
    rerun = dvc("repro", cwd=project, timeout=1500)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert {"train_teacher", "soft_targets", "train_student"} <= set(stages_run(rerun.stdout))
    assert "train_baseline" not in stages_run(rerun.stdout)
    assert metrics_of(project, "teacher")["sha256"] != teacher["sha256"]


def test_images_added_to_your_folder_rerun_source_and_nothing_runs_otherwise(tmp_path, trained_repo):
    project = clone_trained(trained_repo, tmp_path / "project")
    assert stages_run(dvc("repro", cwd=project).stdout) == []  # the inputs stage ran and found nothing new
    colours = tmp_path / "colours"
    write_png_folder(colours, {"train": colour_examples(30), "test": colour_examples(9)})
    exp_run(project, f"data.source={colours}")
    assert stages_run(dvc("repro", cwd=project).stdout) == []
    write_png_folder(colours, {"val": colour_examples(3)})  # the same path, three more images
    rerun = dvc("repro", cwd=project, timeout=1500)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert stages_run(rerun.stdout)[:2] == ["source", "convert"]
    assert metrics_of(project, "data")["images"]["val"] == 3
