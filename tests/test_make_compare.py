"""`make compare` as a new user runs it, through DVC's queue on a fresh clone."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from project import clone_trained, dvc, run

# Runs a script's main as `python -m` does, then prints which of Keras / TensorFlow it imported.
WITHOUT_TENSORFLOW = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('imported:', [m for m in ('keras', 'tensorflow') if m in sys.modules]))\n"
    "module, sys.argv = sys.argv[1], sys.argv[1:]\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def run_script_watching_imports(module: str, *arguments: str, cwd):
    return run([sys.executable, "-c", WITHOUT_TENSORFLOW, module, *arguments], cwd)


@pytest.mark.parametrize("module", ["scripts.report", "scripts.compare", "scripts.sweep"])
def test_the_scripts_that_drive_dvc_start_without_tensorflow(module):
    # They only drive DVC and read records; each run imports TensorFlow in its own stages.
    result = run([sys.executable, "-c", f"import sys, {module}; print(sorted({{'keras', 'tensorflow'}} & set(sys.modules)))"],
                 PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_compare_on_a_fresh_clone_reports_fresh_runs_only_and_make_report_reproduces_it(tmp_path, trained_repo):
    """A clone whose dvc.lock names outputs its cache lacks; later, an unrelated experiment in it.

    KD (a grid of two, read the teacher: two teachers) and label smoothing (one point, no teacher)
    over two replicates: 3 selection runs and 2 × 2 + 2 reported runs. Every method's training is
    covered in-process by test_methods.
    """
    project = clone_trained(trained_repo, tmp_path / "fresh", with_cache=False)
    (project / "comparison.yaml").write_text(
        "replicates: 2\n"
        "teachers: 2\n"
        "selection_replicates: [100, 101, 102]\n"
        "grids:\n"
        "  kd: {distill.temp: [2, 5]}\n"
        "  label_smoothing: {}\n"
    )
    # The grid is written down before the first run: an uncommitted config is refused.
    refused = run([sys.executable, "-m", "scripts.compare"], project)
    assert refused.returncode == 1 and refused.stderr.strip().splitlines()[-1].startswith(
        "error: comparison.yaml: uncommitted changes; commit it first"), refused.stderr[-2000:]
    assert not (project / "reports" / "comparison-synthetic.json").exists()
    subprocess.run(["git", "commit", "-qam", "the comparison's grid"], cwd=project, check=True)
    # Ten queued runs: on two loaded cores (CI's other test workers) more than ten minutes.
    result = run([sys.executable, "-m", "scripts.compare", "--jobs", "2"], project, timeout=1800)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "selection: 9 new runs of 9" in result.stdout and "reported: 6 new runs of 6" in result.stdout, result.stdout[-3000:]

    record = json.loads((project / "reports" / "comparison-synthetic.json").read_text())
    runs = record["runs"]
    selection = [run for run in runs if run["phase"] == "selection"]
    reported = [run for run in runs if run["phase"] == "reported"]
    # (a) No selection run is reported: other experiments, other MLP seeds.
    assert {run["replicate"] for run in selection} == {100, 101, 102} and {run["replicate"] for run in reported} == {0, 1}
    assert not {run["experiment"] for run in selection} & {run["experiment"] for run in reported}
    assert sorted((run["teacher_replicate"], run["replicate"]) for run in reported if run["method"] == "kd") == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    # Two teachers really trained: their test accuracies differ (another seed), each trained once.
    kd_runs = [run for run in reported if run["method"] == "kd"]
    assert len({run["teacher"] for run in kd_runs}) == 2
    names = [run["experiment"] for run in runs]
    logs = {name: dvc("queue", "logs", name, cwd=project).stdout for name in names}
    assert sum("Running stage 'train_teacher'" in log for log in logs.values()) == 1  # teacher 1, once
    assert all("Running stage 'train_student'" in log for log in logs.values())

    methods = (project / "reports" / "methods.md").read_text()
    chosen = re.search(r"chosen on val: (\{.*\})", result.stdout).group(1)
    assert f"| kd | {eval(chosen)['kd']} |  | 2 | 2 × 2 |" in methods
    assert "| label_smoothing (control) | epsilon=0.1 |  | 1 | 2 |" in methods
    assert "| kd − baseline | 2 |" in methods and "BH-adjusted p" in methods  # the two MLP seeds are the pairs
    # Each reported run kept which test images its student and baseline got right: every comparison
    # shows its interval about these test images beside the one about new images, which is wider.
    assert all(run["student_correct"]["images"] == run["baseline_correct"]["images"] > 0 for run in reported)
    assert "| 95 % CI, these test images | 95 % CI, new images |" in methods
    assert "the new-images interval adds the spread between test images" in methods
    rows = re.findall(r"^\| kd − baseline \| 2 \| ([^|]+) \| \[([^,]+), ([^\]]+)\] \| \[([^,]+), ([^\]]+)\] \|", methods, re.M)
    assert len(rows) == 1, methods[-3000:]
    these, new = (float(rows[0][1]), float(rows[0][2])), (float(rows[0][3]), float(rows[0][4]))
    assert new[0] <= these[0] and these[1] <= new[1], rows
    assert (project / "reports" / "method_gains-synthetic.png").stat().st_size > 5_000

    # (b) A user's own run at a selection point, but with another epoch budget (kept out of the
    # workspace): not one of the comparison's runs, so the comparison runs nothing new and the
    # report lists it apart.
    own = dvc("exp", "run", "--temp", "-n", "own-epochs", "-S", "distill.temp=2", "-S", "replicate=100",
              "-S", "distill.epochs=3", cwd=project)
    assert own.returncode == 0, own.stderr[-3000:]
    again = run_script_watching_imports("scripts.compare", "--jobs", "2", cwd=project)
    assert "imported: []" in again.stdout  # the comparison never starts TensorFlow (its runs do, in DVC)
    assert again.returncode == 0 and "selection: 0 new runs" in again.stdout and "reported: 0 new runs" in again.stdout
    assert json.loads((project / "reports" / "comparison-synthetic.json").read_text())["runs"] == runs

    # (c) `make report` reproduces the comparison's tables exactly, from its record.
    (project / "reports" / "methods.md").unlink()
    report_run = run_script_watching_imports("scripts.report", "--no-pull", cwd=project)
    assert report_run.returncode == 0, report_run.stderr[-3000:]
    assert "imported: []" in report_run.stdout
    assert (project / "reports" / "methods.md").read_text() == methods
    report = (project / "reports" / "report.md").read_text()
    assert "| own-epochs |" in report and "distill.epochs=3" in report
    assert not any(f"| {name} |" in report for name in names)
