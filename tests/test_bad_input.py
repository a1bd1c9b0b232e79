"""Bad input to each stage's ``main()``, in-process: one line naming it as given, exit 1, nothing left behind.

The stages run here as ``python -m stages.<name>`` runs them (``distillation.cli.run_stage``), in a
project folder holding only ``params.yaml``: no DVC, no subprocess. Through ``dvc repro`` once:
test_bad_source and test_pipeline (full tier).
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from distillation.experiments.scratch import PROJECT_ROOT, merge
from malformed_mats import write_malformed
from project import TINY_PARAMS
from distillation.cli import run_stage


@pytest.fixture
def project(tmp_path, monkeypatch) -> Callable[[dict | None], Path]:
    """``make(params_changes)``: the working directory becomes a project folder with tiny params."""
    monkeypatch.chdir(tmp_path)

    def make(params_changes: dict | None = None) -> Path:
        params = merge(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()), merge(TINY_PARAMS, params_changes or {}))
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        return tmp_path

    return make


def error_of(stage_main: Callable[[], None], capsys) -> str:
    """Run a stage as its command does; it must exit 1 with exactly one ``error:`` line: that line."""
    with pytest.raises(SystemExit) as exit_info:
        run_stage(stage_main)
    assert exit_info.value.code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    return lines[0]


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder``, hidden temporary ones and links included."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file() or path.is_symlink())


def test_a_missing_source_file_is_named_as_given(project, capsys):
    from stages import source

    root = project({"data": {"source": "data/external/emnist-letters.mat"}})
    line = error_of(source.main, capsys)
    assert "data.source" in line and "'data/external/emnist-letters.mat'" in line
    assert files_under(root) == ["params.yaml"]


def test_a_malformed_source_file_is_refused_before_anything_is_written(project, capsys):
    from stages import source

    root = project({"data": {"source": "inputs/../inputs/broken.mat"}})
    (root / "inputs").mkdir()
    problem = write_malformed("label_not_in_mapping", root / "inputs" / "broken.mat")
    line = error_of(source.main, capsys)
    assert "'inputs/../inputs/broken.mat'" in line and problem in line, line
    assert files_under(root) == ["inputs/broken.mat", "params.yaml"]


def test_a_malformed_raw_file_fails_convert_without_half_written_splits(project, capsys):
    from stages import convert

    root = project()
    raw = root / "data" / "raw" / "emnist.mat"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"MATLAB 5.0 MAT-file, but the rest of this file was lost" + b"\0" * 100)
    line = error_of(convert.main, capsys)
    assert "data/raw/emnist.mat" in line
    assert files_under(root) == ["data/raw/emnist.mat", "params.yaml"]


def test_an_invalid_param_fails_before_any_work(project, capsys):
    from stages import source

    root = project({"distill": {"temp": -1}})
    line = error_of(source.main, capsys)
    assert "distill.temp" in line
    assert files_under(root) == ["params.yaml"]


def test_a_git_repository_without_commits_gets_one_line_and_no_model(project, capsys):
    from stages import convert, source, train_baseline

    root = project()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    run_stage(source.main)
    run_stage(convert.main)
    line = error_of(train_baseline.main, capsys)
    assert "first git commit" in line
    assert not (root / "models").exists() and not (root / "metrics" / "baseline.json").exists()


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_fails_export_with_one_line_and_no_file(project, capsys, monkeypatch, damage):
    from stages import export

    root = project()
    if damage == "corrupt":
        (root / "models").mkdir()
        (root / "models" / "student.keras").write_bytes(b"PK\x03\x04 not really a zip")
    before = files_under(root)
    monkeypatch.setattr(sys, "argv", ["stages.export", "student"])
    line = error_of(export.main, capsys)
    assert "models/student.keras" in line
    assert files_under(root) == before  # no export file, no metrics
