"""A malformed ``.mat`` given as ``data.source`` fails in ``source``, through ``dvc repro``.

One line naming the path as the user typed it, no traceback, nothing new in ``data/raw``,
``dvc.lock`` unchanged, the stage still out of date; and the same project completes once the
param points at a good file again. Through DVC for one kind of broken file: the reader's
message for every kind is checked in-process by test_emnist, and the stage's one line for a
structurally wrong file by test_bad_input.
"""
from __future__ import annotations

import json

import pytest
import yaml

from malformed_mats import write_malformed
from project import dvc, error_lines

RAW = "data/raw/emnist.mat"


def set_data_params(project, **data) -> None:
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["data"].update(data)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def recorded_project(tmp_path_factory, tiny_letters_mat, scratch_project):
    """A DVC project whose ``source`` stage ran once on a good file, so dvc.lock records it."""
    project = scratch_project(tmp_path_factory.mktemp("bad-source"), {"data": {"source": str(tiny_letters_mat)}})
    assert dvc("init", "--no-scm", "-q", cwd=project).returncode == 0
    result = dvc("repro", "source", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    return project


def without_inputs(text: bytes) -> dict:
    """A dvc.lock's stages but the inputs stage (which runs before source on every repro)."""
    stages = yaml.safe_load(text)["stages"]
    return {name: stage for name, stage in stages.items() if name != "inputs"}


def assert_refused_cleanly(project, result, given: str, problem: str, lock_before: bytes) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    [line] = error_lines(result)
    assert f"'{given}'" in line and problem in line, line
    assert str((project / given).resolve()) in line  # the resolved form too, since it differs
    assert not (project / RAW).exists()
    assert not list((project / "data" / "raw").glob(".*"))  # no temporary file left either
    # The inputs stage may record the new path's fingerprint (it only hashes what you gave); what
    # source recorded as good is untouched.
    assert without_inputs((project / "dvc.lock").read_bytes()) == without_inputs(lock_before)
    status = json.loads(dvc("status", "--json", "source", cwd=project).stdout)
    assert "source" in status  # still out of date: nothing was recorded as good


def test_malformed_source_file_is_refused_by_dvc_repro(recorded_project, tiny_letters_mat):
    # One kind through DVC; every kind is refused in-process in test_emnist and test_bad_input.
    project = recorded_project
    kind = "truncated_body"
    given = f"inputs/../inputs/{kind}.mat"  # relative, and not in resolved form: shown as typed
    problem = write_malformed(kind, project / "inputs" / f"{kind}.mat")
    lock_before = (project / "dvc.lock").read_bytes()
    set_data_params(project, source=given)
    try:
        result = dvc("repro", "source", cwd=project)
        assert_refused_cleanly(project, result, given, problem, lock_before)
    finally:
        set_data_params(project, source=str(tiny_letters_mat))


def test_placed_official_copy_that_is_malformed_is_refused(recorded_project, tiny_letters_mat):
    """``data.source: emnist``: a placed copy that passes the checksum is still read first."""
    import hashlib

    project = recorded_project
    given = "data/external/../external/emnist-letters.mat"
    placed = project / "data" / "external" / "emnist-letters.mat"
    problem = write_malformed("no_train_labels", placed)
    content = placed.read_bytes()
    lock_before = (project / "dvc.lock").read_bytes()
    set_data_params(project, source="emnist", emnist={
        "path": given, "url": "http://127.0.0.1:9/matlab.zip", "member": "emnist-letters.mat",
        "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
    })
    try:
        result = dvc("repro", "source", cwd=project)
        assert_refused_cleanly(project, result, given, problem, lock_before)
        assert "data.emnist.path" in result.stderr
    finally:
        set_data_params(project, source=str(tiny_letters_mat))


def test_fixing_the_param_completes_normally(recorded_project, tiny_letters_mat):
    project = recorded_project
    set_data_params(project, source=str(tiny_letters_mat))
    result = dvc("repro", "source", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (project / RAW).read_bytes() == tiny_letters_mat.read_bytes()
    assert json.loads(dvc("status", "--json", "source", cwd=project).stdout) == {}
