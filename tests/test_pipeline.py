"""The pipeline as users run it: stage commands and `dvc repro` in a scratch copy."""
from __future__ import annotations

import json
import os
import signal

import pytest

from project import changed_stages, clone_trained, dvc, error_lines, run_stage, start_dvc, without_timings

MODELS = ("teacher", "baseline", "student")


def test_a_stage_command_fails_with_one_line_and_no_output(tmp_path, scratch_project):
    # As `python -m stages.source` runs under DVC; every bad-input class in-process: test_bad_input.
    project = scratch_project(tmp_path, {"data": {"source": "data/external/emnist-letters.mat"}})
    result = run_stage("source", project)
    assert result.returncode == 1
    assert len(error_lines(result)) == 1 and "data.source" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data" / "raw" / "emnist.mat").exists()


def read_metrics(project) -> dict:
    return {name: json.loads((project / "metrics" / f"{name}.json").read_text()) for name in MODELS}


@pytest.fixture(scope="module")
def trained_clone(trained_repo, tmp_path_factory):
    """A clone of the tiny project as `dvc repro` left it (the shared one is read-only)."""
    return clone_trained(trained_repo, tmp_path_factory.mktemp("status") / "project")


def test_repro_writes_every_model_and_metric_and_is_up_to_date(trained_clone):
    project = trained_clone
    metrics = read_metrics(project)
    for name in MODELS:
        assert (project / "models" / f"{name}.keras").is_file()
        assert {"val_accuracy", "test_accuracy", "test_loss", "params", "epochs", "train_seconds"} <= set(metrics[name])
    assert (project / "plots" / "samples.png").is_file()
    for stage_metrics in ("data", "soft_targets", "summary"):
        assert (project / "metrics" / f"{stage_metrics}.json").is_file()
    assert changed_stages(project) == set()


def test_only_the_running_methods_params_are_dependencies(trained_clone):
    import yaml

    project = trained_clone
    params_file = project / "params.yaml"
    original = params_file.read_text()

    def status_after(change) -> set:
        params = yaml.safe_load(original)
        change(params["distill"])
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        return changed_stages(project)

    try:
        # The original scripts' knobs re-run the student alone (evaluate follows it).
        assert status_after(lambda distill: distill.update(temp=7)) == {"train_student"}
        assert status_after(lambda distill: distill.update({"lambda": 0.3})) == {"train_student"}
        assert status_after(lambda distill: distill["dkd"].update(beta=2.0)) == set()  # kd runs: dkd's beta is not its dep
        assert status_after(lambda distill: distill.update(method="dkd")) == {"train_student"}
        assert status_after(lambda distill: (distill.update(method="dkd"), distill["kd"].update(t2_scale=True))) == {"train_student"}
    finally:
        params_file.write_text(original)


def test_killed_training_stage_resumes_to_the_same_metrics(tmp_path, trained_repo):
    # Also the end-to-end determinism check: the resumed run equals the uninterrupted one bit for bit.
    uninterrupted = read_metrics(trained_repo)
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
