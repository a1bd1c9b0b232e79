"""Run one host's share of a parameter grid through DVC's queue, and share the results.

    python -m scripts.sweep --grid "distill.temp=1,2,5,10 distill.lambda=0.1,0.5" --shard 1/2
    make sweep GRID="distill.temp=1,2,5,10 distill.lambda=0.1,0.5" SHARD=1/2

Every host runs the same command with its own ``SHARD=k/n``. The grid's points are listed in a
fixed order (the product of the values, in the order given) and host k takes every n-th point
starting at the k-th, so the shares are disjoint and together cover the grid. Each point's
experiment is named after the grid and its index (``sweep-<grid hash>-<index>``), the same name
on every host and unique within the grid.

Before running, the host pulls the committed pipeline's data and the run-cache from the DVC
remote (``dvc pull --run-cache``), so a stage any host already ran (the teacher, a baseline) is
restored, not retrained. After running, it pushes its experiments to the git remote and their
outputs to the DVC remote (``dvc exp push``), and the run-cache too (``dvc push --run-cache``;
WebDAV remotes cannot hold it, which is reported as a warning). ``make report`` on any clone
then pulls every pushed experiment first.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import subprocess
import sys
from typing import Any

from distillation.cli import run_stage
from distillation.dvc_queue import QUEUE_ATTEMPTS, queue_experiment, run_queue, set_arguments
from distillation.dvc_queue import run_dvc as dvc


def parse_grid(text: str) -> list[tuple[str, list[str]]]:
    """``"a.b=1,2 c=x"`` → ``[("a.b", ["1", "2"]), ("c", ["x"])]``; order kept."""
    grid = []
    for item in text.split():
        key, separator, values = item.partition("=")
        if not separator or not key or not values:
            raise ValueError(f"GRID: '{item}' is not key=value[,value...]")
        grid.append((key, values.split(",")))
    if not grid:
        raise ValueError("GRID: empty; give e.g. GRID=\"distill.temp=1,2 distill.lambda=0.5\"")
    return grid


def parse_shard(text: str) -> tuple[int, int]:
    """``"k/n"`` → ``(k, n)`` with 1 ≤ k ≤ n."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"SHARD: '{text}' is not k/n (e.g. 1/2)") from None
    if not 1 <= index <= count:
        raise ValueError(f"SHARD: '{text}' needs 1 ≤ k ≤ n")
    return index, count


def grid_name(grid: list[tuple[str, list[str]]]) -> str:
    """A short name that is the same for the same grid on every host."""
    canonical = " ".join(f"{key}={','.join(values)}" for key, values in grid)
    return "sweep-" + hashlib.sha256(canonical.encode()).hexdigest()[:6]


def shard_points(grid: list[tuple[str, list[str]]], index: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    """This host's ``(experiment name, {key: value})`` points: every ``count``-th from ``index``."""
    keys = [key for key, _ in grid]
    points = [dict(zip(keys, combination)) for combination in itertools.product(*(values for _, values in grid))]
    name = grid_name(grid)
    return [(f"{name}-{position}", point) for position, point in enumerate(points) if position % count == index - 1]


def existing_experiments() -> set[str]:
    return set(dvc("exp", "list", "--name-only").split())


def sweep(grid: list[tuple[str, list[str]]], index: int, count: int, git_remote: str, jobs: int) -> list[str]:
    """Pull, queue and run this host's share, push it; return the experiment names."""
    points = shard_points(grid, index, count)
    dvc("pull", "--run-cache", "--allow-missing")
    names = [name for name, _ in points]
    for _ in range(QUEUE_ATTEMPTS):  # runs that DVC's queue lost are queued again
        done = existing_experiments()
        # An interrupted sweep resumes: only what is not there yet is queued.
        queued = [queue_experiment("--name", name, *set_arguments(point)) for name, point in points if name not in done]
        if not queued or not run_queue(queued, jobs):
            break
    missing = sorted(set(names) - existing_experiments())
    if missing:
        raise ValueError(f"experiments still missing after {QUEUE_ATTEMPTS} passes through DVC's queue: {' '.join(missing)}")
    if names:
        dvc("exp", "push", git_remote, *names)  # the experiments and their outputs
        shared = subprocess.run([sys.executable, "-m", "dvc", "push", "--run-cache"], capture_output=True, text=True, check=False)
        if shared.returncode != 0:
            # WebDAV remotes, for one, refuse DVC's run-cache files: say so, do not fail the sweep.
            print("warning: the DVC remote did not take the run-cache; other hosts will re-run the stages "
                  "this host ran with new params (an SSH, S3 or shared-folder remote keeps it)", file=sys.stderr)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", required=True, help='e.g. "distill.temp=1,2,5 distill.lambda=0.1,0.5"')
    parser.add_argument("--shard", default="1/1", help="k/n: this host's share, e.g. 1/2")
    parser.add_argument("--git-remote", default="origin")
    parser.add_argument("--jobs", type=int, default=1)
    arguments = parser.parse_args()
    grid = parse_grid(arguments.grid)
    index, count = parse_shard(arguments.shard)
    names = sweep(grid, index, count, arguments.git_remote, arguments.jobs)
    print(f"shard {index}/{count}: ran and pushed {len(names)} experiments: {' '.join(names)}")


if __name__ == "__main__":
    run_stage(main)
