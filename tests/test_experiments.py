"""Experiments as users run them: a queued sweep, then the report."""
from __future__ import annotations

import re
import subprocess
import sys

from project import clone_trained, dvc, run


def test_queued_sweep_reuses_the_teacher_and_the_report_names_both_runs(tmp_path, trained_repo):
    # Its results are committed: metrics are `cache: false` outputs, and git must hold them, or
    # every queued run would find them missing and retrain the teacher.
    project = clone_trained(trained_repo, tmp_path / "project")

    assert dvc("exp", "run", "--queue", "-S", "distill.temp=2,4", cwd=project).returncode == 0
    # Two runs side by side on a shared two-core machine: give them time, as a user would.
    result = dvc("exp", "run", "--run-all", "-j", "2", cwd=project, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]

    shown = dvc("exp", "show", "--csv", cwd=project).stdout
    assert shown.count("\n") >= 4  # header, HEAD, workspace and the two experiments
    names = [line.split(",")[0] for line in shown.splitlines()[1:] if line and not line.startswith(("workspace", "master", "main"))]
    names = [name for name in names if name]
    assert len(names) >= 2, shown

    # Only the student re-ran in each queued experiment: the teacher was reused.
    for name in names[:2]:
        logs = dvc("queue", "logs", name, cwd=project).stdout
        assert "Running stage 'train_teacher'" not in logs and "train_teacher" in logs, logs[-2000:]
        assert "Running stage 'train_student'" in logs

    # What `make report` runs is offline by default: an origin that cannot be reached is never asked.
    subprocess.run(["git", "remote", "remove", "origin"], cwd=project, capture_output=True)
    subprocess.run(["git", "remote", "add", "origin", "ssh://nobody@192.0.2.1/kd.git"], cwd=project, check=True)
    result = run([sys.executable, "-m", "scripts.report"], project)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "pulled" not in result.stdout
    report = (project / "reports" / "report.md").read_text()
    rows = {name: next((line for line in report.splitlines() if line.startswith(f"| {name} |")), "") for name in names[:2]}
    # Each run's row names its own temperature in its KD setting: one run each.
    temperatures = sorted(match.group(1) for row in rows.values() if (match := re.search(r"^\| [\w-]+ \| \w+ \| kd \| [^|]*\btemp=(\d+)\b", row)))
    assert temperatures == ["2", "4"], rows
    # and the KD table has one configuration row per temperature, one run each (a row begins with the temperature)
    assert re.search(r"(?m)^\| 2 \| 1 \| ", report) and re.search(r"(?m)^\| 4 \| 1 \| ", report), report
    assert (project / "reports" / "student_accuracy_heatmap.png").stat().st_size > 10_000
