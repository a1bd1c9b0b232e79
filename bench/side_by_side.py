"""What the small side-by-side benchmarks share: alternating rounds, the machine's note, the results file.

Each of ``feeding_benchmark``, ``optimizer_benchmark``, ``startup_benchmark`` and
``teacher_passes_benchmark`` measures a few ways of doing one thing, alternating them round by
round so that a shared machine's load falls on all alike, and writes one table with the command
that made it (rendered by ``make report`` from ``bench/results-NAME.md``).
"""
from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from run_benchmark import cpu_model  # a sibling module


def alternating_medians(ways: Iterable[str], rounds: int, measure: Callable[[str], float], unit: str,
                        label: str = "") -> dict[str, float]:
    """Each way's median of ``measure(way)`` over ``rounds`` rounds, every way once per round, in
    turn; each measurement printed to stderr as it comes (``label`` before the way, ``unit`` after)."""
    ways = list(ways)
    values: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way in ways:
            values[way].append(measure(way))
            print(f"{label}{way}: {values[way][-1]:.2f} {unit}", file=sys.stderr, flush=True)
    return {way: statistics.median(values[way]) for way in ways}


def machine_and_load() -> str:
    """The cores and CPU, and how busy the machine was: ``2 cores (…); the load average … 1.6``."""
    return (f"{os.cpu_count()} cores ({cpu_model()}); the load average over the last 15 minutes at the end "
            f"{os.getloadavg()[2]:.1f}")


def publish(title: str, columns: list[str], left_columns: int, rows: list[str], note: str, output: Path | None) -> None:
    """Print the results file — title, the command that ran, the table, ``note`` — and write it to ``output``."""
    command = f"`python bench/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}`".replace(" `", "`")
    text = "\n".join([
        f"# {title}", "", command, "",
        "| " + " | ".join(columns) + " |", "|" + "---|" * left_columns + "---:|" * (len(columns) - left_columns),
        *rows, "", f"- {note}", ""])
    print(text)
    if output:
        output.write_text(text)
