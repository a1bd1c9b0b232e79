"""Simulate the comparison's test under the null and under a real gain; write ``reports/calibration.json``.

    python -m scripts.calibrate     # then `make report` renders it into reports/methods.md

Seeded: the same code gives the same figures (``tests/test_calibration.py`` holds the committed
record to them). See :mod:`distillation.comparison.calibration`.
"""
from __future__ import annotations

from distillation.comparison.calibration import CALIBRATION, save_calibration
from distillation.comparison.calibration_studies import calibration_table
from distillation.cli import run_stage
from scripts.report import REPORTS


def main() -> None:
    table = calibration_table()
    save_calibration(table, REPORTS / CALIBRATION)
    print(table.to_string(index=False))
    print(f"wrote {REPORTS / CALIBRATION}")


if __name__ == "__main__":
    run_stage(main)
