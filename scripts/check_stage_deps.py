"""Check that every stage of ``dvc.yaml`` depends on exactly the project code it runs.

    python -m scripts.check_stage_deps            # check
    python -m scripts.check_stage_deps --write    # rewrite each stage's code deps in dvc.yaml

A stage's command ``python -m stages.<name>`` imports project modules, which import others; the
files of that import closure (read from the code with ``ast``, parent packages included) are
what can change the stage's outputs, so each must be among the stage's ``deps`` (a file, or a
folder holding it). Files with nothing but a docstring are left out. The other way round, a
code file in ``deps`` that the stage never imports would re-run it for nothing (editing the
report must not retrain the teacher).

One import is found at run time, not in the code: the method registry (``distillation.methods``)
imports every method module of its folder. Every stage reads their declarations to validate
``params.yaml``, which cannot change what it writes; only a stage that trains with a method
(it imports ``distillation.methods.base``) depends on the method modules and what they import. Prints each stage's closure; exits 1 naming what is
missing or extra.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import yaml

from distillation.cli import run_stage

PIPELINE = Path("dvc.yaml")
PROJECT_PACKAGES = ("distillation", "stages")
METHODS_PACKAGE = Path("distillation/methods")
TRAINER_BASE = METHODS_PACKAGE / "base.py"


def module_file(module: str, root: Path) -> Path | None:
    """The project file of a dotted module name (``a/b.py`` or ``a/b/__init__.py``), if any."""
    if module.split(".")[0] not in PROJECT_PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names of what ``path`` imports (``from a import b`` also names ``a.b``, which may be a module)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            modules.add(base)
            modules.update(f"{base}.{alias.name}" for alias in node.names)
    return modules


def import_closure(module: str, root: Path) -> set[Path]:
    """Every project file that running ``python -m <module>`` imports, parent packages included."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        for depth in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:depth]), root)
            if path is not None and path not in seen:
                seen.add(path)
                pending.extend(imported_modules(path, root))
    return {path.relative_to(root) for path in seen}


def stage_closure(module: str, root: Path) -> set[Path]:
    """:func:`import_closure`, and for a stage that trains with a method, every method module and what it imports."""
    closure = import_closure(module, root)
    if TRAINER_BASE in closure:  # it runs the methods the registry finds at run time
        for method_module in sorted((root / METHODS_PACKAGE).glob("*.py")):
            closure |= import_closure(".".join(method_module.relative_to(root).with_suffix("").parts), root)
    return closure


def is_docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def stage_code(root: Path) -> dict[str, tuple[set[Path], set[Path]]]:
    """Per stage: (code files its command imports, code files its deps cover)."""
    stages = yaml.safe_load((root / PIPELINE).read_text())["stages"]
    result = {}
    for name, stage in stages.items():
        command = re.fullmatch(r"python -m ([\w.]+)(?: [\w.-]+)*", stage["cmd"].strip())
        if not command:
            raise ValueError(f"{PIPELINE}: stages.{name}.cmd: expected `python -m <module>`, got {stage['cmd']!r}")
        needed = {path for path in stage_closure(command.group(1), root) if not is_docstring_only(root / path)}
        covered = set()
        for dep in stage.get("deps", []):
            dep_path = root / dep
            if dep_path.is_dir():
                covered.update(path.relative_to(root) for path in dep_path.rglob("*.py"))
            elif dep_path.suffix == ".py":
                covered.add(Path(dep))
        result[name] = (needed, covered)
    return result


def dependency_problems(root: Path = Path(".")) -> list[str]:
    """One line per stage whose code deps are not exactly its import closure."""
    problems = []
    for name, (needed, covered) in stage_code(root).items():
        missing, extra = sorted(map(str, needed - covered)), sorted(map(str, covered - needed))
        if missing:
            problems.append(f"{PIPELINE}: stage {name} runs code it does not depend on: {', '.join(missing)}")
        if extra:
            problems.append(f"{PIPELINE}: stage {name} depends on code it never runs: {', '.join(extra)}")
    return problems


def write_code_deps(root: Path = Path(".")) -> None:
    """Replace each stage's code files in ``dvc.yaml``'s deps by its import closure, sorted; the
    other deps, the comments and the layout stay as they are."""
    code = {name: needed for name, (needed, _) in stage_code(root).items()}
    lines = (root / PIPELINE).read_text().splitlines(keepends=True)
    written, stage, in_deps = [], None, False
    for line in lines:
        stage_line = re.fullmatch(r"  (\w+):\n", line)
        if stage_line:
            stage, in_deps = stage_line.group(1), False
        if line.strip() == "deps:" and stage in code:
            in_deps = True
            written.append(line)
            written.extend(f"      - {path}\n" for path in sorted(map(str, code[stage])))
            continue
        if in_deps and re.fullmatch(r"      - (distillation|stages)/\S+\.py\n", line):
            continue  # replaced above
        if in_deps and not line.startswith("      - "):
            in_deps = False
        written.append(line)
    (root / PIPELINE).write_text("".join(written))


def main() -> None:
    if sys.argv[1:] == ["--write"]:
        write_code_deps()
    for name, (needed, _) in stage_code(Path(".")).items():
        print(f"{name}: {', '.join(sorted(map(str, needed)))}")
    problems = dependency_problems()
    if problems:
        raise ValueError("\n".join(problems))


if __name__ == "__main__":
    run_stage(main)
