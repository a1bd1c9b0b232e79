"""Every stage depends on exactly the project code it imports, derived from the code itself."""
from __future__ import annotations

from pathlib import Path

from conftest import PROJECT_ROOT
from scripts.check_stage_deps import dependency_problems, stage_closure


def test_every_stage_depends_on_exactly_its_import_closure():
    assert dependency_problems(PROJECT_ROOT) == []


def test_the_closure_follows_imports_through_modules_and_parent_packages():
    closure = {str(path) for path in stage_closure("stages.train_student", PROJECT_ROOT)}
    # stage → methods registry → every method it finds at run time → losses; and the packages on the way.
    assert {"stages/train_student.py", "distillation/methods/__init__.py", "distillation/methods/fitnets.py",
            "distillation/training/losses.py", "distillation/__init__.py", "stages/__init__.py"} <= closure
    # Nothing the student never runs: the report, the comparison, DVC's queue runner.
    assert not closure & {"distillation/reporting/experiments.py", "distillation/comparison/stats.py", "distillation/experiments/queue.py"}
    # A stage that only validates params reads the declarations' schema, but runs no method.
    teacher = {str(path) for path in stage_closure("stages.train_teacher", PROJECT_ROOT)}
    assert {"distillation/methods/__init__.py", "distillation/methods/spec.py"} <= teacher
    assert not teacher & {"distillation/methods/kd.py", "distillation/methods/base.py", "distillation/training/losses.py"}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_missing_and_an_extra_code_dependency_are_each_named(tmp_path):
    _write(tmp_path, {
        "stages/__init__.py": '"""Stages."""\n',
        "stages/train.py": "from distillation.helpers import fit\n",
        "distillation/__init__.py": '"""Library."""\n',
        "distillation/helpers.py": "from distillation.shared import SEED\n",
        "distillation/shared.py": "SEED = 1\n",
        "distillation/reporting/experiments.py": "X = 1\n",
        "dvc.yaml": "stages:\n  train:\n    cmd: python -m stages.train\n    deps:\n"
                    "      - stages/train.py\n      - distillation/helpers.py\n      - distillation/reporting/experiments.py\n      - data/in.csv\n",
    })
    assert dependency_problems(tmp_path) == [
        "dvc.yaml: stage train runs code it does not depend on: distillation/shared.py",
        "dvc.yaml: stage train depends on code it never runs: distillation/reporting/experiments.py",
    ]


def test_stages_with_nothing_to_run_by_default_start_without_tensorflow():
    # train_teacher_members with one teacher and view_targets with no views run no model: importing
    # TensorFlow would be most of their time (about 4 s each of the first `dvc repro`).
    import subprocess
    import sys

    from conftest import PROJECT_ROOT

    modules = ("stages.train_teacher", "stages.view_targets", "distillation.targets.ensemble", "distillation.targets.view_targets")
    result = subprocess.run([sys.executable, "-c", f"import sys, {', '.join(modules)}; "
                             "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]
