"""The studies of a sweep's storage, live, in optuna-dashboard (``make sweep-dashboard``).

    python -m scripts.sweep_dashboard [--storage URL] [--port 8080]

The storage comes from ``--storage`` or ``$SWEEP_STORAGE`` (as ``make sweep-dashboard`` passes it,
so the URL is in no command line), and is named with its password hidden. Serves on 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import os

from distillation.cli import run_stage
from distillation.experiments.sweeps import DEFAULT_STORAGE, STORAGE_VARIABLE, database_url, shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=os.environ.get(STORAGE_VARIABLE) or DEFAULT_STORAGE,
                        help=f"the study's database URL (default: ${STORAGE_VARIABLE}, else {DEFAULT_STORAGE})")
    parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args()
    import optuna_dashboard

    print(f"optuna-dashboard on http://127.0.0.1:{arguments.port} for {shown(arguments.storage)}", flush=True)
    optuna_dashboard.run_server(database_url(arguments.storage), host="127.0.0.1", port=arguments.port)


if __name__ == "__main__":
    run_stage(main)
