"""The comparison's test holds its level: simulated records under the null and under a real gain
go through the very function that ``summarise`` uses for every comparison."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from conftest import PROJECT_ROOT
from distillation import comparison
from distillation.calibration import (
    CALIBRATION, RECORDS, RUN_POINTS, SEED_POINTS, analytic_called, calibrate, pairs_per_teacher_and_seed, simulated_sides,
)


@pytest.fixture(scope="module")
def calibration() -> dict[tuple[int, int, float], dict[str, float]]:
    designs = ((3, 5, 0.0), (2, 3, 0.0), (3, 5, 0.4))
    return {design: calibrate(None, *design, records=RECORDS) for design in designs}


@pytest.mark.parametrize("teachers, seeds", [(3, 5), (2, 3)])
def test_under_the_null_a_difference_is_called_at_most_6_5_percent_of_the_time(calibration, teachers, seeds):
    result = calibration[(teachers, seeds, 0.0)]
    assert RECORDS >= 2000
    assert result["called"] <= 0.065 and result["covered"] >= 0.93, result


@pytest.mark.parametrize("design", [(3, 5, 0.0), (2, 3, 0.0), (3, 5, 0.4)])
def test_how_often_a_difference_is_called_is_the_exact_value_for_the_t_test(calibration, design):
    # At a 0.4-point gain the power is about 0.76, mid-range: an interval too wide or too narrow
    # (a z for a t, a spread counted twice) moves it by far more than the simulation's own error.
    result = calibration[design]
    exact = analytic_called(*design)
    tolerance = 3.5 * np.sqrt(exact * (1 - exact) / RECORDS)
    assert abs(result["called"] - exact) <= tolerance, (result, exact)
    assert result["covered"] >= 0.93, result


def test_the_exact_power_is_the_noncentral_t_at_a_fixed_teacher_mean():
    # With no teacher spread it is the textbook power of a paired t-test over R seeds.
    spread = np.sqrt(2 * SEED_POINTS**2 + RUN_POINTS**2 / 3 + RUN_POINTS**2)
    critical = stats.t.ppf(0.975, 4)
    noncentrality = 0.4 / (spread / np.sqrt(5))
    textbook = stats.nct.sf(critical, 4, noncentrality) + stats.nct.cdf(-critical, 4, noncentrality)
    assert analytic_called(3, 5, 0.4, teacher_points=0.0) == pytest.approx(textbook, rel=1e-9)
    assert analytic_called(3, 5, 0.0, teacher_points=0.0) == pytest.approx(0.05, rel=1e-9)
    # The teachers' spread, common to every seed of a record, makes a call more likely, never less.
    assert analytic_called(3, 5, 0.0) > 0.05 and analytic_called(3, 5, 0.0, teacher_points=0.4) > analytic_called(3, 5, 0.0)


def test_the_committed_calibration_is_what_this_code_gives(calibration):
    rows = json.loads((PROJECT_ROOT / "reports" / CALIBRATION).read_text())["rows"]
    ours = {(row["teachers"], row["seeds"], row["gain_points"]): row for row in rows if row["pairing"].startswith("per seed")}
    for design, result in calibration.items():
        assert (ours[design]["called"], ours[design]["covered"]) == pytest.approx((result["called"], result["covered"])), design
        assert ours[design]["called_exact"] == pytest.approx(analytic_called(*design)), design


def test_the_old_pairing_fails_the_same_bar():
    # One pair per (teacher, seed) with the baseline's run reused: too many "differences".
    assert calibrate(pairs_per_teacher_and_seed, 3, 5, 0.0, records=500)["called"] > 0.15


def test_paired_difference_is_the_t_interval_over_the_per_seed_differences():
    method, baseline = simulated_sides(np.random.default_rng(1), 3, 5, 0.5)
    result = comparison.paired_difference(method, baseline)
    assert result["pairs"] == 5
    per_seed = method.groupby("replicate")["accuracy"].mean() - baseline.set_index("replicate")["accuracy"]
    assert result["mean"] == pytest.approx(per_seed.mean())
    half_width = stats.t.ppf(0.975, 4) * per_seed.std(ddof=1) / np.sqrt(5)
    assert (result["low"], result["high"]) == pytest.approx((per_seed.mean() - half_width, per_seed.mean() + half_width))
