"""`scripts.predict`: an exported student on a user's own images, through its runtime and its model card."""
from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from distillation.data.handwriting import emnist_input
from distillation.export.model_card import card_path, read_card


def scan(image: np.ndarray, path, dark_ink: bool = True, scale: int = 4, margin: int = 16):
    """A (28, 28[, 1]) image in [0, 1], white on black, written as a user's scan: upright, larger, with a margin."""
    ink = np.kron(image.reshape(28, 28), np.ones((scale, scale)))
    paper = np.pad(1.0 - ink if dark_ink else ink, margin, constant_values=1.0 if dark_ink else 0.0)
    Image.fromarray(np.rint(paper * 255).astype(np.uint8)).save(path)
    return path


def export_student(mat_path, root):
    """A student trained briefly on ``mat_path``, exported with its cards; the paths and the splits."""
    from distillation.export.formats import exported_paths, write_exports
    from distillation.models.files import save_model
    from distillation.data.prepared import load_prepared
    from stages.convert import convert
    from stages.train_baseline import train_baseline
    from test_stages import baseline_recipe

    convert(mat_path, root / "prepared", 0.1, seed=0)
    splits = load_prepared(root / "prepared")
    student, _ = train_baseline(splits, baseline_recipe(epochs=4, hidden_units=128), seed=0)
    save_model(student, root / "student.keras")
    paths = exported_paths("student", root / "export")
    write_exports(student, paths, splits["train"].images[:64], splits["train"].classes)
    return paths, splits


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A student of synthetic letters that the test writes (26 classes, 60 and 16 of each), exported:
    no real data needed."""
    from distillation.data.emnist import write_emnist_mat
    from distillation.data.synthetic import generate_letters, letters_mapping

    root = tmp_path_factory.mktemp("predict")
    write_emnist_mat(root / "letters.mat", *generate_letters(60, seed=1), *generate_letters(16, seed=2), letters_mapping())
    return export_student(root / "letters.mat", root)


@pytest.fixture(scope="module")
def exported_real(tmp_path_factory, real_sample):
    """A student trained briefly on the real sample (13 letters), exported."""
    return export_student(real_sample, tmp_path_factory.mktemp("predict-real"))


def test_each_file_carries_its_classes_and_input_contract(exported):
    from ai_edge_litert.interpreter import Interpreter

    paths, splits = exported
    for kind, path in paths.items():
        card = read_card(path, str(path))
        assert card["classes"] == list(splits["train"].classes) and len(card["classes"]) == 26
        assert card["input"]["shape"] == [None, 28, 28, 1] and card["input"]["range"] == [0.0, 1.0]
    int8 = read_card(paths["litert_int8"], "int8")
    details = Interpreter(model_path=str(paths["litert_int8"])).get_input_details()[0]
    assert int8["input"]["dtype"] == "int8"
    assert (int8["input"]["quantization"]["scale"], int8["input"]["quantization"]["zero_point"]) == pytest.approx(details["quantization"])
    # the ONNX file holds its card in its own metadata too: it travels without the JSON
    card_path(paths["onnx"]).rename(card_path(paths["onnx"]).with_suffix(".moved"))
    try:
        assert read_card(paths["onnx"], "onnx")["classes"] == list(splits["train"].classes)
    finally:
        card_path(paths["onnx"]).with_suffix(".moved").rename(card_path(paths["onnx"]))


def test_either_polarity_and_any_size_give_the_same_input(tmp_path):
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0  # an upright bar
    dark = emnist_input(np.asarray(Image.open(scan(image, tmp_path / "dark.png")), np.float32) / 255, "dark.png")
    light = emnist_input(np.asarray(Image.open(scan(image, tmp_path / "light.png", dark_ink=False, scale=7)), np.float32) / 255,
                         "light.png")
    assert np.corrcoef(dark.ravel(), light.ravel())[0, 1] > 0.98
    rows, columns = np.nonzero(dark > 0.5)
    assert rows.max() - rows.min() > 2 * (columns.max() - columns.min())  # still upright: tall, not wide


def glyph_f() -> np.ndarray:
    """An upright "F", its ink 24 rows by 18 columns, centred as EMNIST's conversion centres ink: no
    flip, mirror, transpose or turn of it looks like it (correlations 0.63 and below)."""
    image = np.zeros((28, 28), np.float32)
    image[2:26, 5:10] = 1.0  # the stem, on the left
    image[2:7, 5:23] = 1.0  # the top bar
    image[13:17, 5:19] = 1.0  # the middle bar, shorter
    return image


@pytest.mark.parametrize("dark_ink, scale", [(True, 4), (False, 7)])
def test_a_scanned_glyph_reaches_the_model_upright_neither_flipped_nor_mirrored(tmp_path, dark_ink, scale):
    from distillation.data.handwriting import load_grey

    glyph = glyph_f()
    path = scan(glyph, tmp_path / "f.png", dark_ink=dark_ink, scale=scale)
    read = emnist_input(load_grey(path, "f.png"), "f.png")  # what scripts.predict feeds the model
    same = np.corrcoef(read.ravel(), glyph.ravel())[0, 1]
    assert same > 0.9, same
    for name, turned in {"flipped": np.flipud(glyph), "mirrored": np.fliplr(glyph), "transposed": glyph.T,
                         "turned": np.rot90(glyph), "turned back": np.rot90(glyph, -1)}.items():
        assert np.corrcoef(read.ravel(), turned.ravel())[0, 1] < 0.7, name


def test_a_file_is_read_as_grey_values_or_named_with_its_problem(tmp_path):
    from distillation.data.handwriting import load_grey

    Image.fromarray(np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)).save(tmp_path / "colour.png")
    grey = load_grey(tmp_path / "colour.png", "colour.png")
    assert grey.dtype == np.float32 and grey.shape == (1, 2)
    np.testing.assert_allclose(grey, np.array([[76, 29]]) / 255, atol=1e-6)  # Pillow's luma of red and blue
    with pytest.raises(ValueError, match=r"^given/missing\.png: no such file$"):
        load_grey(tmp_path / "missing.png", "given/missing.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"^notes\.png: not an image Pillow can read \(UnidentifiedImageError\)$"):
        load_grey(tmp_path / "notes.png", "notes.png")


def test_the_ink_is_framed_as_emnist_frames_it_and_a_blank_page_is_named():
    from distillation.data.handwriting import INK_SIDE, SIDE

    ink = np.zeros((100, 60), np.float32)
    ink[10:90, 20:40] = 1.0  # a tall bar off centre on a black page
    framed = emnist_input(ink, "bar.png")
    assert framed.shape == (SIDE, SIDE) and framed.dtype == np.float32
    assert framed.max() == pytest.approx(1.0) and framed.min() >= 0.0
    rows, columns = np.nonzero(framed > 0.1)
    assert rows.max() - rows.min() + 1 in (INK_SIDE - 1, INK_SIDE, INK_SIDE + 1)  # its longer side fills the frame
    assert abs((rows.max() + rows.min()) / 2 - (SIDE - 1) / 2) <= 1  # centred, both ways
    assert abs((columns.max() + columns.min()) / 2 - (SIDE - 1) / 2) <= 1
    assert columns.max() - columns.min() + 1 < INK_SIDE // 2  # and keeps its shape: narrow
    np.testing.assert_allclose(emnist_input(1.0 - ink, "bar.png"), framed, atol=1e-5)  # dark ink on white: the same
    with pytest.raises(ValueError, match=r"^blank\.png: no ink found \(a blank image, or too little contrast\)$"):
        emnist_input(np.full((40, 40), 0.9, np.float32) + np.eye(40, dtype=np.float32) * 0.1, "blank.png")


def test_a_symmetric_glyph_stays_symmetric_whatever_its_paper_and_specks_lighter_than_the_paper():
    """A wide ring, centred in a larger page: its frame must be as symmetric as it is (a crop or a
    centring off by a pixel shows), the same on dark paper that is not black, and a speck lighter
    than the paper is no ink."""
    page = np.full((200, 240), 0.95, np.float32)  # light paper
    rows, columns = np.mgrid[:200, :240]
    radius = np.hypot((rows - 99.5) / 0.6, columns - 119.5)
    page[(radius > 40) & (radius < 60)] = 0.1  # a dark ring, wider than tall
    framed = emnist_input(page, "ring.png")
    np.testing.assert_allclose(framed, framed[::-1], atol=1e-5)
    np.testing.assert_allclose(framed, framed[:, ::-1], atol=1e-5)
    dark_paper = 1.05 - page  # light ink 0.95 on grey-black paper 0.1
    np.testing.assert_allclose(emnist_input(dark_paper, "ring.png"), framed, atol=1e-5)
    specked = page.copy()
    specked[radius < 40] = 1.0  # the ring's hole lighter than the paper, up to its edge: still no ink
    np.testing.assert_allclose(emnist_input(specked, "ring.png"), framed, atol=1e-5)


@pytest.mark.parametrize("kind", ["onnx", "litert_int8"])
def test_scans_of_letters_are_read_as_well_as_the_arrays(exported, tmp_path, kind):
    check_scans_read_as_well_as_arrays(exported, tmp_path, kind, learned=0.3)


@pytest.mark.parametrize("kind", ["onnx", "litert_int8"])
def test_scans_of_real_letters_are_read_as_well_as_the_arrays(exported_real, tmp_path, kind):
    check_scans_read_as_well_as_arrays(exported_real, tmp_path, kind, learned=0.6)


def check_scans_read_as_well_as_arrays(exported, tmp_path, kind: str, learned: float) -> None:
    """Scans of the test letters through ``scripts.predict``: as accurate as the arrays themselves."""
    from distillation.export.runtimes import runner_for
    from scripts.predict import predict

    paths, splits = exported
    test = splits["test"]
    count = 400
    scans = [scan(image, tmp_path / f"{index}.png") for index, image in enumerate(test.images[:count])]
    classes = list(test.classes)
    through_predict = np.mean([classes.index(top[0][0]) == label
                               for (_, top), label in zip(predict(paths[kind], scans), test.labels[:count])])
    on_arrays = np.mean(runner_for(kind, paths[kind], threads=1).forward(test.images[:count]).argmax(axis=1) == test.labels[:count])
    assert on_arrays > learned  # it learned: chance is 1/26 or 1/13
    assert through_predict >= on_arrays - 0.02, (through_predict, on_arrays)


def error_of_predict(arguments: list[str], monkeypatch, capsys) -> str:
    from distillation.cli import run_stage
    from scripts import predict

    monkeypatch.setattr(sys, "argv", ["scripts.predict", *arguments])
    with pytest.raises(SystemExit) as exit_info:
        run_stage(predict.main)
    assert exit_info.value.code == 1
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    return line


def test_bad_input_is_one_line_naming_it(exported, tmp_path, monkeypatch, capsys):
    paths, splits = exported
    good = scan(splits["test"].images[0], tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("not an image")
    Image.fromarray(np.full((60, 60), 240, np.uint8)).save(tmp_path / "blank.png")
    bare = tmp_path / "bare_int8.tflite"
    shutil.copy(paths["litert_int8"], bare)  # no card beside it
    (tmp_path / "student.keras").write_text("a Keras file, not an exported one")
    (tmp_path / "two").mkdir()
    for path in (paths["onnx"], paths["litert"]):
        shutil.copy(path, tmp_path / "two" / path.name)
    cases = {
        (str(paths["onnx"]), str(tmp_path / "missing.png")): "missing.png: no such file",
        (str(paths["onnx"]), str(tmp_path / "notes.png")): "notes.png: not an image",
        (str(paths["onnx"]), str(tmp_path / "blank.png")): "blank.png: no ink found",
        (str(bare), str(good)): "bare_int8.tflite: no model card",
        (str(tmp_path / "none.onnx"), str(good)): "none.onnx: no such file",
        (str(tmp_path / "student.keras"), str(good)): "not an .onnx or .tflite file",
        (str(tmp_path / "two"), str(good)): "two: a folder must hold exactly one .onnx or .tflite file, it holds 2",
    }
    for (model, image), expected in cases.items():
        assert expected in error_of_predict(["--model", model, image], monkeypatch, capsys)


def with_card(model, folder, card=None, text=None):
    """A copy of an exported file in ``folder`` with ``card`` (or the raw ``text``) as its card."""
    folder.mkdir()
    copy = folder / model.name
    shutil.copy(model, copy)
    card_path(copy).write_text(text if text is not None else json.dumps(card))
    return copy


def test_a_card_that_does_not_fit_its_model_or_a_file_that_is_no_model_is_one_line(exported, tmp_path, monkeypatch, capsys):
    paths, splits = exported
    good = scan(splits["test"].images[0], tmp_path / "good.png")
    card = read_card(paths["litert_int8"], "int8")
    letters = card["classes"]
    onnx_card = read_card(paths["onnx"], "onnx")
    cases = {
        # Checked before any image is read: a card's classes against the model's outputs (52 names on
        # 26 outputs gave wrong names and exit 0 before), its input against the model's.
        "two-classes": ({**card, "classes": letters[:2]}, "2 classes for a model with 26 outputs"),
        "fifty-two": ({**card, "classes": letters + [name + "'" for name in letters]}, "52 classes for a model with 26 outputs"),
        "list": ([], "not a model card (a JSON mapping with classes and input, got list)"),
        "no-classes": ({"input": card["input"]}, "classes: Field required"),
        "no-input": ({"classes": letters}, "input: Field required"),
        "wrong-dtype": ({**card, "input": {**card["input"], "dtype": "float32"}}, "the model takes int8 input, the card says float32"),
        "own-shape": ({**card, "input": {**card["input"], "shape": [None, 32, 32, 3], "resize": [32, 32], "mode": "RGB"}},
                      "the model takes input [28, 28, 1], the card [32, 32, 3]"),
        "half-own": ({**card, "input": {**card["input"], "resize": [28, 28]}}, "resize and mode go together"),
    }
    for name, (changed, expected) in cases.items():
        copy = with_card(paths["litert_int8"], tmp_path / name, changed)
        line = error_of_predict(["--model", str(copy), str(good)], monkeypatch, capsys)
        assert line.startswith(f"error: {card_path(copy)}: ") and expected in line, (name, line)
    malformed = with_card(paths["litert_int8"], tmp_path / "malformed", text="{classes: ")
    assert error_of_predict(["--model", str(malformed), str(good)], monkeypatch, capsys).startswith(
        f"error: {card_path(malformed)}: not a model card (not JSON")
    for kind, runtime in (("onnx", "onnxruntime"), ("litert", "ai-edge-litert")):
        junk = tmp_path / f"junk-{kind}" / paths[kind].name
        junk.parent.mkdir()
        junk.write_bytes(b"not a model at all" * 10)
        card_path(junk).write_text(json.dumps(onnx_card if kind == "onnx" else read_card(paths[kind], kind)))
        line = error_of_predict(["--model", str(junk), str(good)], monkeypatch, capsys)
        assert line.startswith(f"error: --model {junk}: not a model {runtime} can load ("), line
    # Without --model: make predict's default, named with what makes it.
    monkeypatch.chdir(tmp_path)
    assert error_of_predict([str(good)], monkeypatch, capsys) == (
        "error: --model models/export/student-int8: no such file or folder (`dvc repro` exports it)")


def test_transparent_deep_huge_and_folder_images_are_read_or_named(exported, tmp_path, monkeypatch, capsys):
    from PIL import Image as PILImage

    from distillation.data.handwriting import MAX_SIDE, load_grey
    from scripts.predict import predict

    paths, splits = exported
    plain = scan(splits["test"].images[0], tmp_path / "plain.png")
    grey = np.asarray(PILImage.open(plain), dtype=np.float64) / 255.0
    # Dark ink on a transparent background (the ink's alpha, no paper): laid on white, not black.
    rgba = np.zeros((*grey.shape, 4), np.uint8)
    rgba[..., 3] = np.rint((1.0 - grey) * 255).astype(np.uint8)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    # 16-bit grey: scaled by its range, not clipped to 8 bits (which read it as a blank page).
    PILImage.fromarray(np.rint(grey * 65535).astype(np.uint16)).save(tmp_path / "deep.png")
    assert PILImage.open(tmp_path / "deep.png").mode.startswith("I")
    # A photo far larger than the character needs: scaled down first, the same letter.
    PILImage.open(plain).resize((grey.shape[1] * 12, grey.shape[0] * 12), PILImage.Resampling.NEAREST).save(tmp_path / "large.png")
    assert max(load_grey(tmp_path / "large.png", "large.png").shape) == MAX_SIDE
    # What the model is fed: the same letter each time (transparent and deep exactly, large up to resampling).
    inputs = {name: emnist_input(load_grey(tmp_path / name, name), name) for name in ("plain.png", "transparent.png", "deep.png", "large.png")}
    np.testing.assert_allclose(inputs["transparent.png"], inputs["plain.png"], atol=1 / 255)
    np.testing.assert_allclose(inputs["deep.png"], inputs["plain.png"], atol=1 / 255)
    assert np.abs(inputs["large.png"] - inputs["plain.png"]).mean() < 0.03
    results = predict(paths["onnx"], [plain, tmp_path / "transparent.png", tmp_path / "deep.png"])
    best = [top[0][0] for _, top in results]
    assert best == [best[0]] * 3, results
    (tmp_path / "folder.png").mkdir()
    assert error_of_predict(["--model", str(paths["onnx"]), str(tmp_path / "folder.png")], monkeypatch, capsys) == (
        f"error: {tmp_path / 'folder.png'}: a folder, not an image file")
    # Over Pillow's pixel limit: one line, before decoding, no warning printed first.
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    line = error_of_predict(["--model", str(paths["onnx"]), str(plain)], monkeypatch, capsys)
    assert line.startswith(f"error: {plain}: too large to read (") and "exceeds limit" in line, line


def test_a_good_image_prints_one_line_with_the_top_three(exported, tmp_path, monkeypatch, capsys):
    from scripts import predict

    paths, splits = exported
    image = scan(splits["test"].images[0], tmp_path / "letter.png")
    printed = []
    for model in (paths["litert_int8"], paths["litert_int8"].parent):  # the file, or its folder as the artifact is fetched
        monkeypatch.setattr(sys, "argv", ["scripts.predict", "--model", str(model), str(image)])
        predict.main()
        [line] = capsys.readouterr().out.splitlines()
        printed.append(line)
    assert printed[0] == printed[1]
    assert printed[0].startswith(f"{image}: ") and printed[0].count(",") == 2 and "top 3:" in printed[0]
    assert paths["litert_int8"].parent.name == "student-int8"  # the folder is named as the DVC artifact


def test_the_litert_files_hold_their_card_in_their_own_metadata(exported):
    from tensorflow.lite.tools import flatbuffer_utils

    paths, splits = exported
    for kind in ("litert", "litert_int8"):
        model = flatbuffer_utils.read_model(str(paths[kind]))
        [entry] = [entry for entry in model.metadata if entry.name == b"model_card"]
        embedded = json.loads(bytes(model.buffers[entry.buffer].data))
        assert embedded == read_card(paths[kind], kind)
