"""The README and docs/ show commands that exist: Make targets and their variables, scripts, param keys."""
from __future__ import annotations

import os
import re
import subprocess
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
COMMAND_START = re.compile(r"^(?:\S+/)?(make|dvc|python3?)(?:\s|$)")


def shown_commands(text: str) -> list[str]:
    """Commands in fenced blocks (one per line, comments dropped) and in inline code spans."""
    commands, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            for part in re.split(r"\s&&\s|;\s", line.split(" #")[0].strip()):
                if COMMAND_START.match(part.strip()):
                    commands.append(part.strip())
        else:
            commands += [span for span in re.findall(r"`([^`]+)`", line) if COMMAND_START.match(span)]
    return commands


def make_targets_and_variables() -> tuple[set[str], set[str]]:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+):", makefile, flags=re.MULTILINE)) - {".PHONY"}
    variables = set(re.findall(r"\$\((\w+)\)", makefile)) | set(re.findall(r"^(\w+) \?=", makefile, flags=re.MULTILINE))
    return targets, variables


def param_keys() -> set[str]:
    from distillation.config.params import flatten

    return set(flatten(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())))


def problems(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    program = Path(words[0]).name
    found = []
    if program == "make":
        targets, variables = make_targets_and_variables()
        for word in words[1:]:
            name, is_variable, _ = word.partition("=")
            if is_variable and name not in variables:
                found.append(f"make variable {name} is not in the Makefile")
            elif not is_variable and not word.startswith("-") and word not in targets:
                found.append(f"make target {word} is not in the Makefile")
    elif program.startswith("python"):
        if len(words) > 2 and words[1] == "-m" and words[2].split(".")[0] in ("scripts", "stages", "bench"):
            module = PROJECT_ROOT.joinpath(*words[2].split(".")).with_suffix(".py")
            if not module.is_file():
                found.append(f"module {words[2]} does not exist")
        elif len(words) > 1 and words[1].endswith(".py") and not (PROJECT_ROOT / words[1]).is_file():
            found.append(f"script {words[1]} does not exist")
    elif program == "dvc":
        found += dvc_problems(words[1:])
    return found


# Values shown on purpose that the shipped params.yaml refuses: the method that docs/methods.md adds.
SHOWN_BEFORE_IT_EXISTS = {("distill.method", "logit_matching")}
# dvc options that take a value (the value is not a stage).
DVC_VALUE_OPTIONS = {"-S", "--set-param", "-n", "--name", "-j", "--jobs", "-r", "--remote", "-m", "--message"}


def stage_names() -> set[str]:
    return set(yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"])


def dvc_problems(arguments: list[str]) -> list[str]:
    """A `dvc` command's params (key and value, as `-S` sets them) and stages (`repro`, `exp run`)."""
    from distillation.config.params import ParamsError, load_params

    found = []
    keys = param_keys()
    shipped = load_params(PROJECT_ROOT / "params.yaml")
    for flag, value in zip(arguments, arguments[1:]):
        if flag not in ("-S", "--set-param"):
            continue
        key, _, text = value.partition("=")
        if key not in keys:
            found.append(f"param {key} is not in params.yaml")
            continue
        for one in text.split(","):  # a grid for --queue: each value
            parsed = yaml.safe_load(one)
            if "<" in one or (key, parsed) in SHOWN_BEFORE_IT_EXISTS:
                continue  # a placeholder, or shown on purpose
            try:
                shipped.with_overrides({key: parsed})
            except ParamsError as error:
                found.append(f"{key}={one}: {error}")
    command = arguments[:2] if arguments[:1] == ["exp"] else arguments[:1]
    if command in (["repro"], ["exp", "run"]):
        rest = arguments[len(command):]
        for index, word in enumerate(rest):
            if word.startswith("-") or (index and rest[index - 1] in DVC_VALUE_OPTIONS):
                continue
            if word.split(":")[-1] not in stage_names():
                found.append(f"stage {word} is not in dvc.yaml")
    return found


def test_the_pages_show_commands_at_all():
    assert len(shown_commands((PROJECT_ROOT / "README.md").read_text())) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_command_shown_names_a_real_target_script_or_param(page):
    wrong = {command: found for command in shown_commands(page.read_text()) if (found := problems(command))}
    assert not wrong, wrong


def test_the_checker_catches_what_it_should():
    assert problems("make swep") == ["make target swep is not in the Makefile"]
    assert problems("make compare SORCE=x") == ["make variable SORCE is not in the Makefile"]
    assert problems("python -m scripts.comparre") == ["module scripts.comparre does not exist"]
    assert problems("dvc exp run -S distill.tmp=5") == ["param distill.tmp is not in params.yaml"]
    [wrong_method] = problems("dvc exp run -S distill.method=dkdd")
    assert wrong_method.startswith("distill.method=dkdd: params.yaml: distill.method")
    assert problems("dvc exp run --queue -S 'distill.temp=1,-2'")[0].startswith("distill.temp=-2: ")
    assert problems("dvc repro train_studnet") == ["stage train_studnet is not in dvc.yaml"]
    assert problems("dvc exp run -n mine -S distill.temp=4 train_student") == []
    assert problems("dvc repro --force -s source") == []
    assert problems("make compare SOURCE=/x.mat") == [] and problems("dvc exp run -S distill.temp=5") == []


def test_the_readme_is_short_and_maps_the_docs():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 100
    linked = set(re.findall(r"\(docs/([\w-]+\.md)\)", readme))
    assert linked == {page.name for page in PAGES[1:]}, "every docs page is linked from the README, and only those"


def test_the_figures_in_the_readme_and_docs_are_rendered_from_the_committed_records():
    from distillation.comparison.calibration import CALIBRATION, load_calibration
    from distillation.comparison.studies import load_studies
    from distillation.reporting.doc_blocks import MARKER_LIKE, documents, render_blocks
    from scripts.report import page_renderers

    renderers = page_renderers(load_studies(PROJECT_ROOT / "reports"), load_calibration(PROJECT_ROOT / "reports" / CALIBRATION),
                               PROJECT_ROOT)
    pages = [page for page in documents(PROJECT_ROOT) if MARKER_LIKE.search(page.read_text())]
    assert PROJECT_ROOT / "README.md" in pages
    for page in pages:
        text = page.read_text()
        assert render_blocks(text, renderers, str(page)) == text, f"{page.name}: run `make report` (a rendered block is stale)"


# A number with a unit or a percent sign in prose. "28 × 28" is a size, not a ratio: × followed by
# another number is left alone.
TYPED_FIGURE = re.compile(
    r"(?<![\w.\-/])[−+-]?\d[\d,]*(?:\.\d+)?\s?"
    r"(?:%|×(?!\s?\d)|x\b|ms\b|s\b|min\b|minutes?\b|hours?\b|h\b|[KMG]B\b|kB\b|B\b|bytes\b"
    r"|img/s|images/s|views/s|steps\b|epochs\b|points?\b|GFLOPS\b|MFLOP\b)")
# The figures prose may type, each a constant with its source. Any other figure is a measurement,
# and a measurement lives in a rendered block (`make report`), made from the file that holds it.
TYPED_CONSTANTS = {
    "94.4 %": "the original's teacher, val (johnkorn/distillation's README)",
    "91.6 %": "the original's MLP alone, val (same)",
    "92.2 %": "the original's distilled MLP, val (same)",
    "95 %": "the intervals' confidence (comparison.stats.CONFIDENCE)",
    "5 %": "the tests' level, 1 − CONFIDENCE",
    "10 %": "params.yaml data.val_fraction",
    "5 epochs": "params.yaml teacher.epochs",
    "40 epochs": "params.yaml baseline.epochs and distill.epochs",
    "120 epochs": "the longer of comparison-tuned.yaml's epochs",
    "50 epochs": "the original scripts' fixed MLP epochs",
    "6,600 steps": "params.yaml baseline.min_steps and distill.min_steps",
    "37 steps": "one epoch of the default data: ⌈9,360 / 256⌉",
    "48,221,708 bytes": "params.yaml data.emnist.bytes",
    "709 MB": "the size of NIST's matlab.zip",
    "784 bytes": "one 28 × 28 uint8 image",
    "1.41 GB": "16 views × 112,320 images × 784 bytes",
    "30 %": "the largest augment.scale that params validation accepts",
    "3 GB": "the stored views' memory limit (bench/views_benchmark.py BUDGET_MB)",
    "80 %": "the views' speed floor (bench/views_benchmark.py SPEED_TARGET)",
    "3 minutes": "the recipe's time goal for the real letters (docs/speed.md)",
    "90 s": "a lost queue task's limit (experiments/queue.py)",
    "60 s": "a sweep's heartbeat and its statement timeout (experiments/sweeps.py)",
    "5 s": "a sweep worker's retry interval while the database is away",
    "300 s": "a sweep worker's database wait (--database-wait)",
    "430 s": "the heartbeat grace at the defaults: 300 + 2 × 60 + 10",
}


def typed_figures(text: str) -> list[str]:
    """Every figure with a unit outside rendered blocks, code fences, code spans and link targets."""
    from distillation.reporting.doc_blocks import BLOCK

    text = BLOCK.sub("", text)
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return [re.sub(r"\s", " ", figure) for figure in TYPED_FIGURE.findall(text)]


def test_typed_figures_finds_measurements_and_leaves_sizes_code_and_blocks():
    text = ("The teacher took 823 steps and 1.6 GB, ran 1.93× faster and 2.5 x slower, scoring 97.3 %.\n"
            "An image is 28 × 28; `python x.py --epochs 5` and [a](https://x.org/1.5%) are code and links.\n"
            "<!-- rendered by `make report`: models metrics -->\n| 97.31 % |\n<!-- end rendered -->\n"
            "```bash\nmake repro  # 3 min\n```\n")
    assert typed_figures(text) == ["823 steps", "1.6 GB", "1.93×", "2.5 x", "97.3 %"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_figure_is_typed_in_prose_unless_it_is_a_listed_constant(page):
    typed = [figure for figure in typed_figures(page.read_text()) if figure not in TYPED_CONSTANTS]
    assert not typed, (f"{page.name}: figures typed by hand: {typed}. Render a measurement from its file "
                       "(a `make report` block), or list a constant in TYPED_CONSTANTS with its source")


def test_a_rendered_block_is_replaced_and_an_unknown_one_is_named():
    from distillation.reporting.doc_blocks import render_blocks

    text = "a\n<!-- rendered by `make report`: figure x -->\nold\n<!-- end rendered -->\nb\n"
    assert render_blocks(text, {"figure": lambda name: f"new {name}"}) == text.replace("old", "new x")
    with pytest.raises(ValueError, match="README.md: rendered block 'figure x': no such kind"):
        render_blocks(text, {}, "README.md")


OPENER_LINE = "<!-- rendered by `make report`: figure x -->"


@pytest.mark.parametrize("text, message", [
    (f"a\n{OPENER_LINE}\nstale\n", ":2: a rendered block with no `<!-- end rendered -->`"),
    (f"{OPENER_LINE}\nstale\n<!-- end rendered-->\n", ":3: a malformed end marker"),
    ("<!-- rendered by make report: figure x -->\nstale\n<!-- end rendered -->\n", ":1: a malformed rendered-block marker"),
    ("<!-- rendered by `make report`: figure -->\nstale\n<!-- end rendered -->\n", ":1: a malformed rendered-block marker"),
    ("<!-- rendered by `make report`: figure  -->\nstale\n<!-- end rendered -->\n", ":1: a malformed rendered-block marker"),
    (f"{OPENER_LINE}\nstale\n{OPENER_LINE}\nnew\n<!-- end rendered -->\n", ":1: a rendered block not closed before the next one at line 3"),
    ("text\n<!-- end rendered -->\n", ":2: an end marker with no rendered block open"),
    (f"{OPENER_LINE}\nstale\n<!-- END RENDERED -->\n", ":3: a malformed end marker"),
])
def test_a_malformed_block_is_refused_naming_its_line_never_skipped(text, message):
    from distillation.reporting.doc_blocks import render_blocks

    with pytest.raises(ValueError) as refused:
        render_blocks(text, {"figure": lambda name: f"new {name}"}, "page.md")
    assert str(refused.value).startswith("page.md" + message), str(refused.value)


def test_make_help_lists_every_target_and_variable():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split())
    noted = set(re.findall(r"^([a-z-]+):.*## ", makefile, re.M))
    assert noted == phony
    settable = set(re.findall(r"^([A-Z_]+) \?=", makefile, re.M)) | set(re.findall(r"\$\(if \$\(([A-Z_]+)\)", makefile))
    documented = {name.strip() for line in re.findall(r"^## ([A-Z_, ]+):", makefile, re.M) for name in line.split(",")}
    assert settable <= documented, settable - documented


def test_a_bare_make_prints_the_help_and_builds_nothing(tmp_path):
    """`make` alone lists the targets; it neither creates an environment nor runs anything."""
    import shutil

    shutil.copy(PROJECT_ROOT / "Makefile", tmp_path / "Makefile")
    # As a user's shell runs it: not inside another make (CI's make test-all sets these).
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(["make"], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Targets:") and "  repro " in result.stdout and "Variables" in result.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Makefile"]


def test_the_changelog_and_the_citation_carry_the_projects_version():
    version = re.search(r'(?m)^version = "([^"]+)"', (PROJECT_ROOT / "pyproject.toml").read_text()).group(1)
    assert re.search(r"(?m)^## (\S+)", (PROJECT_ROOT / "CHANGELOG.md").read_text()).group(1) == version
    citation = yaml.safe_load((PROJECT_ROOT / "CITATION.cff").read_text())
    assert citation["version"] == version
    # The original experiment's repository and the patient-teacher paper the views rest on.
    references = citation["references"]
    assert references[0]["url"] == "https://github.com/johnkorn/distillation"
    assert any(reference["authors"][0].get("family-names") == "Beyer" and reference["year"] == 2022 for reference in references)
    assert (PROJECT_ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_first_run_lines_come_from_the_benchmark_and_the_committed_metrics(tmp_path):
    import json

    from distillation.reporting.metrics_tables import metrics_renderers

    (tmp_path / "metrics").mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "metrics" / "data.json").write_text(json.dumps({"classes": 26, "images": {"train": 9360}}))
    for name, accuracy in (("teacher", 0.9731), ("baseline", 0.9065), ("student", 0.9431)):
        (tmp_path / "metrics" / f"{name}.json").write_text(json.dumps({"test_accuracy": accuracy}))
    render = metrics_renderers(tmp_path)["first-run"]
    with pytest.raises(ValueError, match="results-side-by-side-default.json"):
        render("side-by-side-default")
    (tmp_path / "bench" / "results-side-by-side-default.json").write_text(json.dumps(
        {"recipes": ["at-3a04ab8", "new"], "seconds": {"at-3a04ab8": 275.0, "new": 150.0}, "cores": 2, "machine": "Intel Xeon, amx_tile"}))
    line = render("side-by-side-default")
    # The shipped recipe's time (the last one), never the earlier commit's; the accuracies as committed.
    assert "runs every stage in 2.5 min on 2 cores (Intel Xeon, amx_tile" in line and "9,360 training images of 26 classes" in line
    assert "teacher scores 97.31 %, the MLP alone 90.65 %, the KD student 94.31 %" in line


def test_metrics_blocks_read_their_files_and_name_a_missing_one(tmp_path):
    import json

    from distillation.reporting.metrics_tables import metrics_renderers

    folder = tmp_path / "run"
    folder.mkdir()
    for name, accuracy in (("teacher", 0.9512), ("baseline", 0.9), ("student", 0.91)):
        (folder / f"{name}.json").write_text(json.dumps({"params": 10, "val_accuracy": accuracy - 0.01, "test_accuracy": accuracy,
                                                         "method": "kd", "setting": "temp=4"}))
    table = metrics_renderers(tmp_path)["models"]("run")
    assert "| teacher CNN | 10 | 94.12 % | **95.12 %** |" in table and "| MLP by KD, T = 4 |" in table
    entry = {"bytes": 1000, "test_accuracy": 0.5, "agreement_with_keras": 0.99, "latency_ms_batch_1": 0.1,
             "latency_ms_per_image_batch_256": 0.01}
    for model in ("teacher", "student"):
        (tmp_path / f"{model}-x.json").write_text(json.dumps(
            {**{kind: entry for kind in ("keras", "onnx", "litert", "litert_int8")}, "test_images": 4, "threads": 2, "machine": "a CPU"}))
    exports = metrics_renderers(tmp_path)["exports"]("{model}-x.json")
    assert "| student, LiteRT int8 | 1,000 | 50.00 % | 99.00 % | 0.1 | 0.01 |" in exports and "on a CPU." in exports
    with pytest.raises(ValueError, match="no .*elsewhere/teacher.json"):
        metrics_renderers(tmp_path)["models"]("elsewhere")


def test_runs_blocks_count_each_records_runs_and_training_time(tmp_path):
    from distillation.comparison.config import ComparisonConfig
    from distillation.comparison.records import Record
    from distillation.reporting.comparison import doc_renderers

    def run(phase, seconds, machine=None):
        return {"phase": phase, "student_train_seconds": seconds, **({"machine": machine} if machine else {})}

    sittings = {"letters-views=16": [{"machine": "CPU A", "hours": 2.25, "runs": 0}, {"machine": "CPU A", "hours": 0.5, "runs": 1}]}
    # Records cut down to what the table reads (no choice, no config to check).
    records = [Record.model_construct(source=f"/data/{stem}.mat", params={}, config=ComparisonConfig.model_construct(name=""),
                                      runs=runs, sittings=sittings.get(stem, [])) for stem, runs in (
        ("letters-views=2", [run("selection", 1800), run("reported", 1800, "CPU A")]),
        ("letters-views=16", [run("reported", 3600, "CPU A")]),
        ("letters-views=4", [run("reported", 600), run("reported", 1200), run("reported", 6000)]),
        ("other", [run("reported", 7200)]))]
    runs = doc_renderers(records)["runs"]
    assert "| `comparison-letters-views=2.json` | 1 + 1 | 1.0 | 30.0 (30.0) | not recorded | CPU A, not recorded |" in runs("letters-views=2")
    assert "| `comparison-letters-views=16.json` | 0 + 1 | 1.0 | 60.0 (60.0) | 2.8 (2) | CPU A |" in runs("letters-views=16")
    assert "| 3 + 0 |" not in runs("letters-views=4") and "| 0 + 3 | 2.2 | 20.0 (100.0) |" in runs("letters-views=4")
    every_views = runs("letters-views*")
    assert every_views.index("views=2.json") < every_views.index("views=16.json") and "other" not in every_views
    with pytest.raises(ValueError, match="no complete record reports/comparison-nothing"):
        runs("nothing*")


def test_the_recipe_block_reads_each_training_section(tmp_path):
    from distillation.reporting.metrics_tables import metrics_renderers

    section = {"optimizer": "adam", "schedule": "cosine", "learning_rate": 0.002, "warmup_epochs": 1, "batch_size": 256,
               "epochs": 40, "min_steps": 6600, "steps_per_execution": 8, "precision": "float32", "early_stopping": True}
    shipped = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    changed = {"teacher": {**section, "epochs": 5, "warmup_epochs": 1}, "baseline": section, "distill": {**section, "epochs": 120}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**shipped, **{name: {**shipped[name], **values} for name, values in changed.items()}}))
    table = metrics_renderers(tmp_path)["recipe"]("params.yaml")
    assert "| teacher CNN (`teacher`) | adam | cosine | 0.002 | 1 | 256 | 5 | 6600 | 8 | float32 | True |" in table
    assert "| every student (`distill`) | adam | cosine | 0.002 | 1 | 256 | 120 | 6600 | 8 | float32 | True |" in table


def test_the_suite_timer_reads_pytests_last_summary():
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from suite_times import pytest_summary

    output = "== 3 passed in 1.00s ==\n...\n======= 279 passed, 2 skipped, 4 deselected in 150.52s (0:02:30) =======\n"
    assert pytest_summary(output) == ("279 passed, 2 skipped, 4 deselected", 150.52)
    with pytest.raises(ValueError, match="no pytest summary"):
        pytest_summary("make: *** [test] Error 2")
