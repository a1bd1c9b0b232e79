"""Adding a method is its module and its params section, nothing else (docs/methods.md, "Adding a method")."""
from __future__ import annotations

import json
import re
import sys

import yaml

from conftest import PROJECT_ROOT
from project import clone_trained, dvc, git, run

NEW_MODULE = "distillation/methods/logit_matching.py"


def walkthrough_blocks() -> tuple[str, str]:
    """The module and the params section that the docs' walk-through shows, as written there."""
    section = (PROJECT_ROOT / "docs" / "methods.md").read_text().split("## Adding a method", 1)[1]
    module = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    params_section = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return module, params_section


# Run in the clone: what the registry, the params rules and the comparison make of the new module.
INSPECT = """
import json, sys
from distillation.methods import CONTROLS, METHODS
from distillation.config.params import ParamsError, load_params
from distillation.comparison.config import load_comparison
params = load_params()
try:
    params.with_overrides({"distill.logit_matching.weight": -1})
    refusal = None
except ParamsError as error:
    refusal = str(error)
grids = load_comparison("comparison.yaml", params).grids
print(json.dumps({"methods": list(METHODS), "controls": list(CONTROLS), "refusal": refusal,
                  "grid": grids.get("logit_matching"), "heavy": [m for m in ("keras", "tensorflow") if m in sys.modules]}))
"""


def test_a_method_added_as_one_module_and_its_section_validates_joins_the_comparison_and_trains(tmp_path, trained_repo):
    module, params_section = walkthrough_blocks()
    project = clone_trained(trained_repo, tmp_path / "clone")
    (project / NEW_MODULE).write_text(module)
    params_file = project / "params.yaml"
    assert list(yaml.safe_load(params_file.read_text()))[-1] == "distill"  # so the section can go at the end
    params_file.write_text(params_file.read_text().rstrip("\n") + "\n" + params_section)

    # No other file of the project was edited.
    changed = sorted(git("status", "--porcelain", cwd=project).stdout.splitlines())
    assert changed == [" M params.yaml", f"?? {NEW_MODULE}"], changed

    inspected = run([sys.executable, "-c", INSPECT], project)
    assert inspected.returncode == 0, inspected.stderr[-3000:]
    facts = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert "logit_matching" in facts["methods"] and "logit_matching" not in facts["controls"]
    assert facts["refusal"] == "params.yaml: distill.logit_matching.weight must be greater than or equal to 0, got -1"
    assert facts["grid"] == {"distill.logit_matching.weight": [0.1, 1.0]}
    assert facts["heavy"] == []  # the declarations are read without Keras

    deps = run([sys.executable, "-m", "scripts.check_stage_deps"], project)
    assert deps.returncode == 0, deps.stderr[-2000:]

    trained = dvc("exp", "run", "-S", "distill.method=logit_matching", cwd=project)
    assert trained.returncode == 0, (trained.stdout + trained.stderr)[-3000:]
    assert "Running stage 'train_student'" in trained.stdout and "Running stage 'train_teacher'" not in trained.stdout
    student = json.loads((project / "metrics" / "student.json").read_text())
    assert student["method"] == "logit_matching" and student["setting"] == "weight=1"
    assert 0 < student["test_accuracy"] <= 1

    refused = dvc("exp", "run", "-S", "distill.logit_matching.weight=-1", cwd=project)
    assert refused.returncode != 0
    assert "params.yaml: distill.logit_matching.weight must be greater than or equal to 0, got -1" in refused.stdout + refused.stderr
