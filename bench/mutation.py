"""Mutation testing of the functions whose bugs would change a published figure (mutmut).

    python -m bench.mutation              # `make mutants`: mutate, run the covering fast tests, write the results
    python -m bench.mutation --report     # only write bench/results-mutation.md from the last run (mutants/)

mutmut (configured in pyproject.toml's ``[tool.mutmut]``) copies the project into ``mutants/``,
makes each small change (an operator, a constant, a condition) to the functions in ``SCOPE`` one at
a time, and runs the fast tests that reach the function: a mutant a test fails on is killed, one
that every test passes survived. Each survivor is either killed by a new test or explained in
``bench/mutation_equivalent.yaml`` (a change no caller can observe). The results file is written
from mutmut's own results and that file: its figures are never typed by hand. Not in CI's time:
about an hour on 2 cores.
"""
from __future__ import annotations

import argparse
import datetime
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "bench" / "results-mutation.md"
EXPLAINED = PROJECT_ROOT / "bench" / "mutation_equivalent.yaml"
MUTMUT = Path(sys.executable).parent / "mutmut"

# (mutmut's name pattern, which published figure a bug there would change)
SCOPE = (
    ("distillation.comparison.stats.x_paired_difference*", "every gain and its interval: the seed pairing"),
    ("distillation.comparison.stats.x_verdict*", "higher / lower / not distinguishable"),
    ("distillation.comparison.stats.x_teacher_means*", "the per-teacher gains"),
    ("distillation.comparison.stats.x_summarise*", "the results tables: tests, BH adjustment, share of the gap"),
    ("distillation.comparison.stats.x__methods_table*", "the results tables: each method's means and runs"),
    ("distillation.comparison.stats.x_comparison_family*", "which comparisons the results tables make"),
    ("distillation.comparison.stats.x_comparisons_table*", "the results tables: tests, BH adjustment, adjusted intervals"),
    ("distillation.comparison.stats.x_gap_share_interval*", "the share of the gap closed"),
    ("distillation.comparison.stats.x_with_study_families*", "the BH family: one per study"),
    ("distillation.comparison.images.x_new_images_interval*", "every interval about new test images"),
    ("distillation.comparison.calibration.x_simulated_sides*", "the calibration table"),
    ("distillation.comparison.calibration.x_calibrate*", "the calibration table"),
    ("distillation.comparison.calibration.x_analytic_called*", "the calibration table's exact column"),
    ("distillation.comparison.studies.x_to_teachers_mean*", "the reach comparison: the student against its teachers"),
    ("distillation.comparison.calibration_studies.x_calibrate_*", "the calibration table's reach, share and family rows"),
    ("distillation.training.fit.x_budgeted*", "every model's epochs on small data: the step budget"),
    ("distillation.training.fit.x_steps_per_epoch*", "the step budget and the schedules"),
    ("distillation.targets.ensemble.x_mean_logits*", "an ensemble's stored logits"),
    ("distillation.targets.ensemble.x_ensemble_logits_on_batch*", "an ensemble's stored logits"),
    ("distillation.training.losses.*", "every method's loss"),
    ("distillation.training.view_batches.*", "the batches of stored views a student is fed"),
    ("distillation.data.views.x_epoch_rows*", "which version of each image a student sees"),
    ("distillation.data.views.x_views_seen*", "views shown per image, in the metrics"),
    ("distillation.data.handwriting.x_emnist_input*", "predict's preprocessing of a user's image"),
    ("distillation.data.handwriting.x_load_grey*", "predict's reading of a user's image"),
)
MUTANT = re.compile(r"^\s*(?P<name>[\w.ǁ]+)__mutmut_(?P<number>\d+): (?P<status>.+?)\s*$")


def run_mutmut(children: int) -> None:
    subprocess.run([str(MUTMUT), "run", "--max-children", str(children), *(pattern for pattern, _ in SCOPE)],
                   cwd=PROJECT_ROOT, check=True)


def statuses() -> dict[str, list[tuple[str, str]]]:
    """Per mutated function, its mutants (full name, status) from ``mutmut results --all true``."""
    listed = subprocess.run([str(MUTMUT), "results", "--all", "true"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            check=True).stdout
    by_function: dict[str, list[tuple[str, str]]] = {}
    for line in listed.splitlines():
        if match := MUTANT.match(line):
            by_function.setdefault(match["name"], []).append((f"{match['name']}__mutmut_{match['number']}", match["status"]))
    return by_function


def in_scope(function: str) -> bool:
    return any(fnmatch.fnmatch(function + "__mutmut_1", pattern) for pattern, _ in SCOPE)


def diff_of(mutant: str) -> str:
    shown = subprocess.run([str(MUTMUT), "show", mutant], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout
    return "\n".join(line for line in shown.splitlines() if line[:2] in ("- ", "+ "))


def cpu() -> str:
    from distillation.machine import cpu_model_and_flags

    model, flags = cpu_model_and_flags()
    features = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if flag in flags]
    return f"{model} ({', '.join(features) or 'no AVX flags listed'})"


def is_equivalent(explanation: str | None) -> bool:
    """An explanation says why a mutant is equivalent, unless it starts "NOT equivalent" (a known,
    explained blind spot, counted as a survivor)."""
    return explanation is not None and not explanation.startswith("NOT equivalent")


def report(by_function: dict[str, list[tuple[str, str]]], explained: dict[str, str]) -> str:
    rows, survivors = [], []
    totals = {"mutants": 0, "killed": 0, "equivalent": 0, "survived": 0, "not run": 0}
    for function, mutants in sorted(by_function.items()):
        if not in_scope(function):
            continue
        killed = sum(status == "killed" for _, status in mutants)
        not_run = sum(status == "not checked" for _, status in mutants)
        left = [(name, status) for name, status in mutants if status not in ("killed", "not checked")]
        equivalent = sum(is_equivalent(explained.get(name)) for name, _ in left)
        run = len(mutants) - not_run
        rows.append(f"| `{function.replace('.x_', '.')}` | {len(mutants)} | {killed} | {equivalent} | "
                    f"{len(left) - equivalent} | {not_run} | {100 * killed / max(1, run - equivalent):.1f} % |")
        for key, value in (("mutants", len(mutants)), ("killed", killed), ("equivalent", equivalent),
                           ("survived", len(left) - equivalent), ("not run", not_run)):
            totals[key] += value
        survivors += left
    score = 100 * totals["killed"] / max(1, totals["mutants"] - totals["not run"] - totals["equivalent"])
    lines = [
        "# Mutation testing: the functions behind the published figures",
        "",
        f"`make mutants` (`python -m bench.mutation`, mutmut as locked) on {datetime.date.today():%Y-%m-%d}, {cpu()}.",
        "Each mutant is one small change to one function; the fast tests that reach the function run against it.",
        "A mutant is killed when a test fails. The score counts the killed among the mutants run, less those",
        "explained as equivalent (no caller can tell them from the original); every other survivor is listed",
        "below with its reason or as NOT EXPLAINED; \"not run\" counts mutants the run did not reach.",
        "",
        "| function | mutants | killed | equivalent | survived | not run | score |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        f"| **all** | {totals['mutants']} | {totals['killed']} | {totals['equivalent']} | {totals['survived']} | "
        f"{totals['not run']} | **{score:.1f} %** |",
        "",
        "## Every mutant run and not killed",
        "",
    ]
    if not survivors:
        lines.append("None.")
    for name, status in survivors:
        why = explained.get(name, f"NOT EXPLAINED ({status})")
        lines += [f"- `{name}` ({status}): {why}", "", "  ```diff", *(f"  {line}" for line in diff_of(name).splitlines()), "  ```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only write the results of the last run")
    parser.add_argument("--children", type=int, default=2, help="mutants tested at once")
    arguments = parser.parse_args()
    if not arguments.report:
        run_mutmut(arguments.children)
    explained = yaml.safe_load(EXPLAINED.read_text()) or {}
    RESULTS.write_text(report(statuses(), explained))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
