"""The inputs stage: what it hashes of your data.source and teacher.model, so DVC sees them change at the same path."""
from __future__ import annotations

import json

from distillation.fingerprints import input_record, path_sha256
from test_bad_input import project  # noqa: F401  (a fixture)


def test_a_folders_fingerprint_changes_with_any_image_and_ignores_hidden_files(tmp_path):
    folder = tmp_path / "images"
    (folder / "train" / "a").mkdir(parents=True)
    (folder / "train" / "a" / "1.png").write_bytes(b"one")
    first = path_sha256(folder)
    (folder / "train" / ".DS_Store").write_bytes(b"finder")
    assert path_sha256(folder) == first
    (folder / "train" / "a" / "1.png").write_bytes(b"One")
    edited = path_sha256(folder)
    assert edited != first
    (folder / "train" / "a" / "1.png").rename(folder / "train" / "a" / "2.png")
    assert path_sha256(folder) not in (first, edited)  # a renamed image is another image
    (folder / "train" / "a" / "2.png").rename(folder / "train" / "a" / "1.png")
    assert path_sha256(folder) == edited
    assert path_sha256(tmp_path / "absent") is None
    # A file's is its bytes' SHA-256 (here of b"One").
    assert path_sha256(folder / "train" / "a" / "1.png") == "8b12507783d5becacbf2ebe5b01a60024d8728a8f86dcc818bce699e8b3320bc"


def test_the_inputs_stage_records_each_given_path_and_its_hash(project):
    from stages import inputs

    root = project({"data": {"source": "mine.npz"}, "teacher": {"model": "models/given.keras"}})
    (root / "mine.npz").write_bytes(b"arrays")
    inputs.main()
    source = json.loads((root / "inputs" / "data_source.json").read_text())
    teacher = json.loads((root / "inputs" / "teacher_model.json").read_text())
    assert source == {"data.source": "mine.npz", "sha256": path_sha256(root / "mine.npz")}
    assert teacher == {"teacher.model": "models/given.keras", "sha256": None}  # not there: train_teacher will say so
    assert input_record("data.source", "synthetic", ("synthetic",)) == {"data.source": "synthetic"}
    assert input_record("teacher.model", None) == {"teacher.model": None}
