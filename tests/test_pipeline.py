"""The pipeline as users run it: stage commands and `dvc repro` in a scratch copy."""
from __future__ import annotations

import json
import os
import signal

import pytest

from project import clone_trained, dvc, error_lines, run_stage, scratch_project, start_dvc, without_timings

MODELS = ("teacher", "baseline", "student")


def test_missing_source_file_fails_with_one_line_and_no_output(tmp_path):
    project = scratch_project(tmp_path, {"data": {"source": "data/external/emnist-letters.mat"}})
    result = run_stage("source", project)
    assert result.returncode != 0
    assert len(error_lines(result)) == 1 and "data.source" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data" / "raw" / "emnist.mat").exists()


def test_malformed_mat_fails_convert_without_half_written_splits(tmp_path):
    project = scratch_project(tmp_path)
    raw = project / "data" / "raw" / "emnist.mat"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(b"MATLAB 5.0 MAT-file, but the rest of this file was lost" + b"\0" * 100)
    result = run_stage("convert", project)
    assert result.returncode != 0
    [line] = error_lines(result)
    assert "data/raw/emnist.mat" in line
    assert not list((project / "data").glob("prepared/*"))


def test_invalid_param_fails_before_any_work(tmp_path):
    project = scratch_project(tmp_path, {"distill": {"temp": -1}})
    result = run_stage("source", project)
    assert result.returncode != 0
    [line] = error_lines(result)
    assert "distill.temp" in line
    assert not (project / "data").exists()


def read_metrics(project) -> dict:
    return {name: json.loads((project / "metrics" / f"{name}.json").read_text()) for name in MODELS}


@pytest.fixture(scope="module")
def repro_twice(trained_repo, tmp_path_factory):
    """The shared trained project's metrics, then those of `dvc repro --force` in a clone of it."""
    project = clone_trained(trained_repo, tmp_path_factory.mktemp("rerun") / "project")
    first = read_metrics(project)
    result = dvc("repro", "--force", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    return project, [first, read_metrics(project)]


def test_repro_writes_every_model_and_metric(repro_twice):
    project, (first, _) = repro_twice
    for name in MODELS:
        assert (project / "models" / f"{name}.keras").is_file()
        assert {"val_accuracy", "test_accuracy", "test_loss", "params", "epochs", "train_seconds"} <= set(first[name])
    assert (project / "plots" / "samples.png").is_file()
    for stage_metrics in ("data", "soft_targets", "summary"):
        assert (project / "metrics" / f"{stage_metrics}.json").is_file()


def test_two_forced_runs_give_identical_metrics(repro_twice):
    _, (first, second) = repro_twice
    for name in MODELS:
        # Everything but the wall-clock timings is the same, bit for bit.
        assert without_timings(first[name]) == without_timings(second[name]), name


def test_only_the_running_methods_params_are_dependencies(repro_twice):
    import yaml

    project, _ = repro_twice
    params_file = project / "params.yaml"
    original = params_file.read_text()

    def status_after(change) -> set:
        params = yaml.safe_load(original)
        change(params["distill"])
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        return set(json.loads(dvc("status", "--json", cwd=project).stdout))

    try:
        # The original scripts' knobs re-run the student alone (evaluate follows it).
        assert status_after(lambda distill: distill.update(temp=7)) == {"train_student"}
        assert status_after(lambda distill: distill.update({"lambda": 0.3})) == {"train_student"}
        assert status_after(lambda distill: distill["dkd"].update(beta=2.0)) == set()  # kd runs: dkd's beta is not its dep
        assert status_after(lambda distill: distill.update(method="dkd")) == {"train_student"}
        assert status_after(lambda distill: (distill.update(method="dkd"), distill["kd"].update(t2_scale=True))) == {"train_student"}
    finally:
        params_file.write_text(original)


def test_killed_training_stage_resumes_to_the_same_metrics(tmp_path, trained_repo, repro_twice):
    _, (uninterrupted, _) = repro_twice
    project = clone_trained(trained_repo, tmp_path / "project")
    repro = start_dvc("repro", "--force", "--downstream", "train_teacher", cwd=project)
    stage = None
    for line in repro.stdout:
        stage = line.split("'")[1] if line.startswith("Running stage") else stage
        if stage == "train_teacher" and line.startswith("Epoch 2/"):
            break  # the first epoch is done, the second under way: mid-training
    os.killpg(repro.pid, signal.SIGKILL)
    repro.wait()
    assert stage == "train_teacher", "the teacher stage never reached its second epoch"
    assert not (project / "metrics" / "teacher.json").exists()

    result = dvc("repro", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = {name: without_timings(values) for name, values in uninterrupted.items()}
    assert {name: without_timings(values) for name, values in read_metrics(project).items()} == expected
    assert not list(project.rglob(".*.tmp-*"))  # no temporary file survives the crash and the re-run


def test_git_repository_without_commits_gets_one_line_not_a_traceback(tmp_path, tiny_letters_mat):
    from project import git

    project = scratch_project(tmp_path, {"data": {"source": str(tiny_letters_mat)}})
    assert git("init", "-q", cwd=project).returncode == 0
    assert dvc("init", "-q", cwd=project).returncode == 0
    for stage in ("source", "convert"):
        assert run_stage(stage, project).returncode == 0
    result = run_stage("train_baseline", project)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = error_lines(result)
    assert "first git commit" in line
    assert not (project / "models" / "baseline.keras").exists()
