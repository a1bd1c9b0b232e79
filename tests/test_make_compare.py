"""`make compare` as a new user runs it, through DVC's queue on a fresh clone."""
from __future__ import annotations

import json
import sys

from project import clone_trained, dvc, run


def test_compare_on_a_fresh_clone_chooses_on_val_and_trains_the_teacher_once(tmp_path, trained_repo):
    """`make compare` as a new user runs it: a clone whose dvc.lock names outputs its cache lacks.

    Two methods (a method with a grid of two, a control with one point) over two replicates keep
    it to five queued runs; every method's training is covered in-process by test_methods.
    """
    project = clone_trained(trained_repo, tmp_path / "fresh", with_cache=False)
    (project / "comparison.yaml").write_text(
        "replicates: 2\n"
        "grids:\n"
        "  kd: {distill.temp: [2, 5]}\n"
        "  label_smoothing: {}\n"
    )

    result = run([sys.executable, "-m", "scripts.compare", "--jobs", "2"], project)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert result.stdout.count("Running stage 'train_teacher'") == 1  # once, in the workspace
    assert "selection: 3 new runs of 3 grid points" in result.stdout
    assert "replicates: 2 new runs" in result.stdout

    shown = json.loads(dvc("exp", "show", "--json", cwd=project).stdout)
    names = [rev["name"] for entry in shown for experiment in entry.get("experiments") or [] for rev in experiment["revs"]]
    assert len(names) == 5
    logs = [dvc("queue", "logs", name, cwd=project).stdout for name in names]
    assert not any("Running stage 'train_teacher'" in log for log in logs)  # every queued run reused it
    assert all("Running stage 'train_student'" in log for log in logs)

    methods = (project / "reports" / "methods.md").read_text()
    for method in ("kd", "label_smoothing (control)", "baseline (MLP alone)"):
        assert f"| {method} |" in methods, method
    assert "| 2 |" in methods  # two replicates per method
    assert (project / "reports" / "method_gains-synthetic.png").stat().st_size > 5_000

    # Run again: everything is there already, so nothing new is queued.
    again = run([sys.executable, "-m", "scripts.compare", "--jobs", "2"], project)
    assert again.returncode == 0 and "selection: 0 new runs" in again.stdout and "replicates: 0 new runs" in again.stdout
