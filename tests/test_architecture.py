"""The code's layout keeps its promises: params are read once, typed; imports flow one way; modules stay short."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT
from distillation.config.params import KEYS

# Names that held a raw params mapping before params were typed; a subscript on one is a raw read.
PARAMS_NAMES = {"params", "settings", "recipe", "distill", "augment", "data", "section"}
SECTIONS = {"distill", "augment", "data"}  # sections no run table has a column of that name
DOTTED_KEYS = {key for key in KEYS if "." in key} | {key.rsplit(".", 1)[0] for key in KEYS if key.count(".") >= 2}


def _keyed_read(node: ast.AST) -> tuple[ast.AST, ast.AST] | None:
    """``(what, key)`` for ``what[key]`` and ``what.get(key, ...)``."""
    if isinstance(node, ast.Subscript):
        return node.value, node.slice
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
        return node.func.value, node.args[0]
    return None


def raw_params_reads(source: str, name: str) -> list[str]:
    """Where ``source`` reads params by key: a dotted params key or a section by its string, or any key of a params mapping."""
    found = []
    for node in ast.walk(ast.parse(source)):
        read = _keyed_read(node)
        if read is None:
            continue
        what, key = read
        text = key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
        if text in DOTTED_KEYS or text in SECTIONS or (isinstance(what, ast.Name) and what.id in PARAMS_NAMES):
            found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def library_files() -> list[Path]:
    return sorted(path for path in (PROJECT_ROOT / "distillation").rglob("*.py") if "config" not in path.relative_to(PROJECT_ROOT).parts[1:2])


def test_no_module_outside_the_config_package_reads_params_by_string_key():
    files = library_files() + sorted((PROJECT_ROOT / "stages").glob("*.py"))
    assert len(files) > 40
    found = [read for path in files for read in raw_params_reads(path.read_text(), str(path.relative_to(PROJECT_ROOT)))]
    assert found == []


@pytest.mark.parametrize("line", ['settings["temp"]', 'distill.get("schedule", "plateau")', 'row["params"]["distill"]',
                                  'flat.get("augment.views")', 'params["seed"] + params["replicate"]',
                                  'params[section].get(key, "")'])
def test_the_check_finds_each_kind_of_raw_read(line):
    assert raw_params_reads(line, "planted.py")


def test_typed_reads_and_tables_of_runs_pass_the_check():
    assert raw_params_reads('params.distill.temp + run["replicate"] + metrics["test_accuracy"] + flat.get(VIEWS_KEY)', "ok.py") == []


def _imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    return modules


def test_imports_flow_from_stages_and_scripts_to_the_library_never_back():
    for path in library_files() + sorted((PROJECT_ROOT / "distillation" / "config").glob("*.py")):
        assert not _imported(path) & {"stages", "scripts", "bench", "tests", "conftest"}, path
    for path in sorted((PROJECT_ROOT / "bench").glob("*.py")):
        assert not _imported(path) & {"tests", "conftest"}, path
    for path in sorted((PROJECT_ROOT / "tests").glob("*.py")):
        assert "bench" not in _imported(path), path


def test_the_comparison_is_modules_of_under_300_lines():
    modules = sorted((PROJECT_ROOT / "distillation" / "comparison").glob("*.py"))
    assert len(modules) >= 6
    assert {path.name: len(path.read_text().splitlines()) for path in modules if len(path.read_text().splitlines()) >= 300} == {}
