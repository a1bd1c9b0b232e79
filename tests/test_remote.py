"""A team's round trip through real remotes: a bare git repository and a WebDAV server (WsgiDAV).

One clone trains and pushes; another clones, pulls and finds nothing to re-run; and the trained
student is fetched as a registered artifact. Sweeps shared through these remotes: test_sweeps.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from project import changed_stages, clone, clone_trained, dvc, git, run, stages_run


@pytest.fixture(scope="module")
def published(tmp_path_factory, webdav_url, trained_repo):
    """Clone A: the pipeline run once, its results committed and pushed to both remotes."""
    base = tmp_path_factory.mktemp("team")
    bare = base / "origin.git"
    assert git("init", "-q", "--bare", str(bare), cwd=base).returncode == 0
    # The tiny pipeline, already run once: its outputs are in this clone's own cache.
    project = clone_trained(trained_repo, base / "a")
    # Two remotes, as a team might have: the WebDAV server, and a shared folder (an NFS mount,
    # say) as the default, which unlike WebDAV also holds DVC's run-cache for sweeps.
    assert dvc("remote", "add", "webdav", webdav_url, cwd=project).returncode == 0
    assert dvc("remote", "add", "-d", "shared", str(base / "shared-folder"), cwd=project).returncode == 0
    assert changed_stages(project) == set()
    assert git("commit", "-qam", "team remotes", cwd=project).returncode == 0
    assert git("remote", "set-url", "origin", str(bare), cwd=project).returncode == 0
    assert git("push", "-q", "origin", "HEAD:main", cwd=project).returncode == 0
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    for remote in ("webdav", "shared"):
        pushed = dvc("push", "-r", remote, *(["--run-cache"] if remote == "shared" else []), cwd=project)
        assert pushed.returncode == 0, pushed.stderr[-3000:]
    return base, bare, project


def test_a_colleague_pulls_everything_from_the_webdav_server_and_reruns_nothing(published):
    base, bare, _ = published
    colleague = clone(bare, base / "b")
    pulled = dvc("pull", "-r", "webdav", cwd=colleague)
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert (colleague / "models" / "teacher.keras").is_file()
    assert changed_stages(colleague) == set()
    repro = dvc("repro", cwd=colleague)
    assert repro.returncode == 0 and stages_run(repro.stdout) == [], repro.stdout[-3000:]


def test_the_trained_student_is_registered_and_fetched_as_an_artifact(published, tmp_path):
    _, bare, project = published
    # Register a version (a GTO git tag, student@v1.0.0) and share it, as the README shows.
    gto = str(Path(sys.executable).parent / "gto")
    assert run([gto, "register", "student", "--version", "v1.0.0"], project).returncode == 0
    assert git("push", "-q", "origin", "student@v1.0.0", cwd=project).returncode == 0
    fetched = dvc("artifacts", "get", str(bare), "student", "-o", str(tmp_path / "student.keras"), cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    from distillation.models.files import load_model

    assert load_model(tmp_path / "student.keras").count_params() > 0
    # What a device needs, by its artifact name (a version registered as for the student): the
    # int8 file with its model card, straight into `scripts.predict`, which runs LiteRT.
    assert run([gto, "register", "student-int8", "--version", "v1.0.0"], project).returncode == 0
    assert git("push", "-q", "origin", "student-int8@v1.0.0", cwd=project).returncode == 0
    fetched = dvc("artifacts", "get", str(bare), "student-int8", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    assert sorted(path.name for path in (tmp_path / "student-int8").iterdir()) == ["student_int8.tflite", "student_int8.tflite.json"]
    from ai_edge_litert.interpreter import Interpreter

    assert Interpreter(model_path=str(tmp_path / "student-int8" / "student_int8.tflite")).get_input_details()[0]["dtype"].__name__ == "int8"
    from test_predict import scan

    image = np.zeros((28, 28), np.float32)
    image[4:24, 12:16] = 1.0
    predicted = run([sys.executable, "-m", "scripts.predict", "--model", str(tmp_path / "student-int8"),
                     str(scan(image, tmp_path / "letter.png"))], PROJECT_ROOT)
    assert predicted.returncode == 0 and predicted.stdout.startswith(f"{tmp_path / 'letter.png'}: "), predicted.stderr[-2000:]
