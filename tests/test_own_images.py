"""Your own images: a folder of class folders or an .npz of arrays, read as uint8 (N, H, W, C); bad input named in one line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from distillation.data.own_images import read_arrays_npz, read_image_folder
from distillation.data.prepared import load_prepared
from test_bad_input import error_of, project  # noqa: F401  (a fixture)

RNG = np.random.default_rng(0)


def write_folder(root: Path, splits: dict[str, dict[str, int]], size=(6, 5), mode="L", suffix=".png") -> dict[str, list]:
    """Random images, ``splits[split][class]`` of them, in ``root/split/class/``; returns each split's (class, pixels)."""
    written: dict[str, list] = {}
    for split, counts in splits.items():
        for label, count in counts.items():
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                shape = size if mode == "L" else (*size, 3)
                pixels = RNG.integers(0, 256, shape, dtype=np.uint8)
                Image.fromarray(pixels, mode).save(root / split / label / f"{index:03d}{suffix}")
                written.setdefault(split, []).append((label, pixels))
    return written


def test_a_folder_of_class_folders_reads_every_image_with_its_class(tmp_path):
    written = write_folder(tmp_path / "data", {"train": {"cat": 3, "dog": 2}, "test": {"cat": 1, "dog": 2}})
    dataset = read_image_folder(tmp_path / "data")
    assert dataset.classes == ("cat", "dog") and dataset.val is None
    assert dataset.train.images.shape == (5, 6, 5, 1) and dataset.train.images.dtype == np.uint8
    assert list(dataset.train.labels) == [0, 0, 0, 1, 1] and list(dataset.test.labels) == [0, 1, 1]
    for (label, pixels), image, index in zip(written["train"], dataset.train.images, dataset.train.labels):
        assert dataset.classes[index] == label
        np.testing.assert_array_equal(image[..., 0], pixels)  # PNG is lossless: the very pixels


def test_a_val_folder_is_used_and_rgb_is_kept_or_made_grey(tmp_path):
    written = write_folder(tmp_path / "data", {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}, "test": {"a": 1, "b": 1}},
                           mode="RGB")
    rgb = read_image_folder(tmp_path / "data", channels=3)
    assert rgb.val is not None and rgb.val.images.shape == (2, 6, 5, 3)
    np.testing.assert_array_equal(rgb.train.images[0], written["train"][0][1])
    grey = read_image_folder(tmp_path / "data", channels=1)
    assert grey.train.images.shape == (4, 6, 5, 1)
    expected = np.asarray(Image.fromarray(written["train"][0][1], "RGB").convert("L"))
    np.testing.assert_array_equal(grey.train.images[0, ..., 0], expected)


def test_images_of_several_sizes_are_refused_unless_a_size_is_set(tmp_path):
    write_folder(tmp_path / "data", {"train": {"a": 2, "b": 1}, "test": {"a": 1, "b": 1}})
    Image.fromarray(np.zeros((9, 9), np.uint8), "L").save(tmp_path / "data" / "train" / "b" / "big.png")
    with pytest.raises(ValueError, match=r"^given/train/b/big\.png: 9×9 pixels, but given/train/a/000\.png has 6×5: "
                                         r"images of several sizes; set data.image_size"):
        read_image_folder(tmp_path / "data", "given")
    resized = read_image_folder(tmp_path / "data", "given", size=(8, 7))
    assert resized.train.images.shape == (4, 8, 7, 1) and resized.test.images.shape == (2, 8, 7, 1)


@pytest.mark.parametrize("breakage, message", [
    ("empty class", r"^mine/train/b: a class folder with no images"),
    ("test class train lacks", r"^mine/test/c: a class that mine/train does not have"),
    ("one class", r"^mine/train: one class \(a\); a classifier needs two or more"),
    ("truncated", r"^mine/train/a/000\.png: not an image Pillow can read"),
    ("not an image", r"^mine/test/b/000\.png: not an image Pillow can read"),
    ("no test", r"^mine: no test/ folder"),
])
def test_a_bad_folder_is_named_in_one_line(tmp_path, breakage, message):
    root = tmp_path / "data"
    write_folder(root, {"train": {"a": 2, "b": 1}, "test": {"a": 1, "b": 1}})
    if breakage == "empty class":
        (root / "train" / "b" / "000.png").unlink()
    elif breakage == "test class train lacks":
        write_folder(root, {"test": {"c": 1}})
    elif breakage == "one class":
        for path in (root / "train" / "b").iterdir():
            path.unlink()
        (root / "train" / "b").rmdir()
    elif breakage == "truncated":
        path = root / "train" / "a" / "000.png"
        path.write_bytes(path.read_bytes()[:40])
    elif breakage == "not an image":
        (root / "test" / "b" / "000.png").write_text("not a picture")
    elif breakage == "no test":
        for path in sorted((root / "test").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (root / "test").rmdir()
    with pytest.raises(ValueError, match=message) as error:
        read_image_folder(root, "mine")
    assert "\n" not in str(error.value)


def test_an_npz_in_the_keras_datasets_convention_reads_with_its_class_names(tmp_path):
    x_train, x_test = RNG.integers(0, 256, (6, 4, 4), dtype=np.uint8), RNG.random((3, 4, 4, 3)).astype(np.float32)
    np.savez(tmp_path / "arrays.npz", x_train=x_train, y_train=np.array([0, 1, 2, 0, 1, 2]), x_test=x_test,
             y_test=np.array([[2], [1], [0]]), class_names=np.array(["ant", "bee", "cow"]))
    # data.channels null: the images' own; grey train beside RGB test makes every split RGB.
    dataset = read_arrays_npz(tmp_path / "arrays.npz")
    assert dataset.classes == ("ant", "bee", "cow") and list(dataset.test.labels) == [2, 1, 0]
    np.testing.assert_array_equal(dataset.test.images, np.round(x_test * 255).astype(np.uint8))
    np.testing.assert_array_equal(dataset.train.images, np.repeat(x_train[..., None], 3, axis=-1))
    grey = read_arrays_npz(tmp_path / "arrays.npz", channels=1)
    np.testing.assert_array_equal(grey.train.images[..., 0], x_train)
    assert grey.test.images.shape == (3, 4, 4, 1) and grey.test.images.dtype == np.uint8  # RGB floats → grey 0..255
    as_pillow = [np.asarray(Image.fromarray(image, "RGB").convert("L")) for image in np.round(x_test * 255).astype(np.uint8)]
    np.testing.assert_array_equal(grey.test.images[..., 0], np.stack(as_pillow))  # grey as the folder route makes it
    assert read_arrays_npz(tmp_path / "arrays.npz", channels=3).train.images.shape == (6, 4, 4, 3)
    bigger = read_arrays_npz(tmp_path / "arrays.npz", size=(8, 6), channels=1)
    assert bigger.train.images.shape == (6, 8, 6, 1)
    np.savez(tmp_path / "unnamed.npz", x_train=x_train, y_train=np.array([0, 1, 2, 0, 1, 2]), x_test=x_train[:2], y_test=np.array([0, 2]))
    assert read_arrays_npz(tmp_path / "unnamed.npz").classes == ("0", "1", "2")


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, 3]), "x_test": np.zeros((1, 4, 4), np.uint8),
      "y_test": np.array([1]), "class_names": np.array(["a", "b"])}, r"y_train holds label 3, outside the 2 classes 0\.\.1"),
    ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, 1]), "x_test": np.zeros((1, 4, 4), np.uint8)},
     r"no array 'y_test'"),
    ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, 0]), "x_test": np.zeros((1, 4, 4), np.uint8),
      "y_test": np.array([0])}, r"one class; a classifier needs two or more"),
    ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, 1, 1]), "x_test": np.zeros((1, 4, 4), np.uint8),
      "y_test": np.array([1])}, r"x_train has 2 images but y_train 3 labels"),
    ({"x_train": np.full((2, 4, 4), 2.0), "y_train": np.array([0, 1]), "x_test": np.zeros((1, 4, 4)),
      "y_test": np.array([1])}, r"x_train holds floats outside \[0, 1\]"),
    ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, 1]), "x_test": np.zeros((1, 5, 5), np.uint8),
      "y_test": np.array([1])}, r"the splits' images differ in size"),
])
def test_a_bad_npz_is_named_in_one_line(tmp_path, arrays, message):
    np.savez(tmp_path / "mine.npz", **arrays)
    with pytest.raises(ValueError, match=r"^data/mine\.npz: " + message):
        read_arrays_npz(tmp_path / "mine.npz", "data/mine.npz")


def test_an_npz_that_needs_pickle_or_is_no_npz_is_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", x_train=np.array([{"a": 1}], dtype=object), y_train=np.array([0]),
             x_test=np.zeros((1, 2, 2)), y_test=np.array([0]))
    with pytest.raises(ValueError, match=r"^objects\.npz: not an \.npz of arrays numpy can read without pickle"):
        read_arrays_npz(tmp_path / "objects.npz", "objects.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match=r"^text\.npz: not an \.npz"):
        read_arrays_npz(tmp_path / "text.npz", "text.npz")
    with pytest.raises(ValueError, match=r"^absent\.npz: no such file"):
        read_arrays_npz(tmp_path / "absent.npz", "absent.npz")
    with pytest.raises(ValueError, match=r"data\.channels must be 1 \(grey\) or 3 \(RGB\), got 2"):
        read_arrays_npz(tmp_path / "text.npz", channels=2)


def test_the_source_and_convert_stages_take_a_folder_with_its_own_val_split(project, capsys):
    from stages import convert, source

    root = project({"data": {"source": "my images"}})
    written = write_folder(root / "my images", {"train": {"cat": 4, "dog": 4}, "val": {"cat": 1, "dog": 2},
                                                  "test": {"cat": 2, "dog": 1}}, size=(10, 12), mode="RGB", suffix=".jpg")
    source.main()
    assert sorted(path.name for path in (root / "data" / "raw").iterdir()) == ["images.npz"]
    convert.main()
    splits = load_prepared(root / "data" / "prepared")
    assert splits["train"].classes == ("cat", "dog")
    assert {name: split.images.shape for name, split in splits.items()} == {
        "train": (8, 10, 12, 3), "val": (3, 10, 12, 3), "test": (3, 10, 12, 3)}  # data.image_size, channels null: their own
    assert list(splits["val"].labels) == [0, 1, 1] and splits["train"].images.max() <= 1.0
    assert len(written["val"]) == 3
    metrics = json.loads((root / "metrics" / "data.json").read_text())
    assert metrics["classes"] == 2 and metrics["images_per_class"]["test"] == {"cat": 2, "dog": 1}


def test_an_npz_source_without_val_gets_one_carved_from_train(project):
    from stages import convert, source

    root = project({"data": {"source": "arrays.npz", "val_fraction": 0.25}})
    labels = np.repeat([0, 1, 2], 8)
    np.savez(root / "arrays.npz", x_train=RNG.integers(0, 256, (24, 28, 28), dtype=np.uint8), y_train=labels,
             x_test=RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8), y_test=np.repeat([0, 1, 2], 2),
             class_names=np.array(["x", "y", "z"]))
    source.main()
    convert.main()
    splits = load_prepared(root / "data" / "prepared")
    assert [split.labels.shape[0] for split in splits.values()] == [18, 6, 6]
    assert np.bincount(splits["val"].labels).tolist() == [2, 2, 2]  # stratified, as for EMNIST
    raw = np.load(root / "arrays.npz")
    kept = {image.tobytes() for image in (splits["train"].images[..., 0] * 255).round().astype(np.uint8)}
    carved = {image.tobytes() for image in (splits["val"].images[..., 0] * 255).round().astype(np.uint8)}
    assert kept | carved == {image.tobytes() for image in raw["x_train"]} and not kept & carved


def test_a_bad_folder_source_fails_in_one_line_and_writes_nothing(project, capsys):
    from stages import source

    root = project({"data": {"source": "photos"}})
    write_folder(root / "photos", {"train": {"a": 2, "b": 1}, "test": {"a": 1, "c": 1}})
    line = error_of(source.main, capsys)
    assert line == "error: photos/test/c: a class that photos/train does not have"
    assert not (root / "data").exists()


def test_real_letters_written_as_a_png_folder_give_the_mat_routes_images_and_labels(tmp_path, real_sample):
    """The real EMNIST sample as upright PNGs, one folder per class: the folder route gives the .mat
    route's test split image for image and label for label, and train + val the same images (each
    route carves its own val, so only their union is compared)."""
    from collections import Counter

    from distillation.data.emnist import read_emnist_mat
    from distillation.data.splitting import prepare_image_splits, prepare_splits
    from distillation.data.own_images import read_image_folder

    dataset = read_emnist_mat(real_sample)
    for split_name, split in (("train", dataset.train), ("test", dataset.test)):
        for index, (image, label) in enumerate(zip(split.images, split.labels)):
            folder = tmp_path / "letters" / split_name / dataset.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "L").save(folder / f"{index:05d}.png")
    from_mat = prepare_splits(dataset, 0.1, seed=42)
    from_folder = prepare_image_splits(read_image_folder(tmp_path / "letters"), 0.1, seed=42)
    assert from_folder["train"].classes == from_mat["train"].classes == dataset.classes

    def counted(*splits) -> Counter:
        return Counter((split.classes[label], image.tobytes()) for split in splits for image, label in zip(split.images, split.labels))

    assert counted(from_folder["test"]) == counted(from_mat["test"])
    assert counted(from_folder["train"], from_folder["val"]) == counted(from_mat["train"], from_mat["val"])
    assert [len(split.labels) for split in from_folder.values()] == [len(split.labels) for split in from_mat.values()]
