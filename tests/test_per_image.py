"""New images count: each run's per-image bits, and the interval that adds the test images' spread."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT
from distillation.comparison import stats as comparison
from distillation.comparison.calibration import CALIBRATION
from distillation.comparison.calibration_images import IMAGE_DESIGNS, calibrate_images, simulated_images
from distillation.models.per_image import decode_correct, encode_correct, write_test_correct


def test_the_bits_round_trip_and_take_an_eighth_of_a_byte_each(tmp_path):
    rng = np.random.default_rng(0)
    for count in (0, 1, 7, 8, 9, 11_671):
        bits = rng.random(count) < 0.9
        entry = encode_correct(bits)
        assert entry["images"] == count and len(entry["correct"]) == 4 * math.ceil(math.ceil(count / 8) / 3)
        assert np.array_equal(decode_correct(entry), bits)
    write_test_correct(tmp_path / "student_test_correct.json", np.array([True, False, True, True]))
    written = json.loads((tmp_path / "student_test_correct.json").read_text())
    assert written["accuracy"] == 0.75 and decode_correct(written).tolist() == [True, False, True, True]


@pytest.mark.parametrize("entry, message", [
    ({"images": 9, "correct": encode_correct(np.ones(8, bool))["correct"]}, "1 bytes cannot hold 9 images' bits"),
    ({"images": 3, "correct": "not base64!"}, "not a per-image record"),
    ({"correct": "AA=="}, "not a per-image record"),
    (None, "not a per-image record"),
])
def test_a_bad_entry_is_named(entry, message):
    with pytest.raises(ValueError, match=f"^runs\\[3\\].student_correct: {message}"):
        decode_correct(entry, "runs[3].student_correct")


def sides_from(bits: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """``{"kd": (T, S, N) bits, "baseline": (S, N) bits}`` as summarise passes the sides."""
    kd, baseline = bits["kd"], bits["baseline"]
    method = pd.DataFrame([{"replicate": seed, "teacher_replicate": float(teacher), "accuracy": kd[teacher, seed].mean(),
                            "correct": encode_correct(kd[teacher, seed])}
                           for teacher in range(kd.shape[0]) for seed in range(kd.shape[1])])
    alone = pd.DataFrame([{"replicate": seed, "teacher_replicate": math.nan, "accuracy": baseline[seed].mean(),
                           "correct": encode_correct(baseline[seed])} for seed in range(baseline.shape[0])])
    return {"kd": method, "baseline": alone}


def test_the_new_images_interval_is_the_two_way_tables_variance_of_the_grand_mean():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    rng = np.random.default_rng(3)
    seeds, images = 4, 300
    sure = rng.random(images) < 0.7  # most images right for every run, as with real letters
    bits = {"kd": (rng.random((2, seeds, images)) < 0.85) | sure, "baseline": (rng.random((seeds, images)) < 0.8) | sure}
    sides = sides_from(bits)
    row = comparison.comparisons_table([("kd", "baseline")], sides).iloc[0]
    # The mean squares of the seeds × images table of differences, from statsmodels' ANOVA.
    differences = bits["kd"].mean(axis=0) - bits["baseline"]
    frame = pd.DataFrame({"y": differences.ravel(), "seed": np.repeat(np.arange(seeds), images),
                          "image": np.tile(np.arange(images), seeds)})
    table = anova_lm(smf.ols("y ~ C(seed) + C(image)", frame).fit())
    squares = table["mean_sq"]
    variance = (squares["C(seed)"] + squares["C(image)"] - squares["Residual"]) / (seeds * images)
    assert row["images"] == images and (row["images_low"] + row["images_high"]) / 2 == pytest.approx(differences.mean())
    half = (row["images_high"] - row["images_low"]) / 2
    # Student's t at Satterthwaite's degrees of freedom: between the seeds' own (S − 1) and the normal.
    assert 1.959 * math.sqrt(variance) < half <= 3.183 * math.sqrt(variance)
    # The seed-paired interval is MS_seeds alone; the new-images one is never narrower.
    these = (row["high"] - row["low"]) / 2
    assert these == pytest.approx(3.182446 * math.sqrt(squares["C(seed)"] / (seeds * images)), rel=1e-5)
    assert half >= these * (1 - 1e-12)


def test_without_every_runs_bits_the_interval_is_about_these_test_images_only():
    rng = np.random.default_rng(4)
    sides = simulated_images(rng, 2, 3, 1.0, 0.04, images=200)
    sides["kd"].loc[1, "correct"] = None  # one run made before runs kept their bits
    row = comparison.comparisons_table([("kd", "baseline")], sides).iloc[0]
    assert math.isnan(row["images_low"]) and not math.isnan(row["low"])
    from distillation.reporting.comparison import population_note

    assert "kept no per-image results" in population_note(pd.DataFrame([row]))
    whole = comparison.comparisons_table([("kd", "baseline")], simulated_images(rng, 2, 3, 1.0, 0.04, images=200))
    assert "new-images interval adds the spread between test images" in population_note(whole)


@pytest.mark.parametrize("design", IMAGE_DESIGNS, ids=lambda design: "{}x{}-lean{}-teacher-sd{}".format(*design))
def test_the_new_images_interval_holds_its_level_where_the_seed_paired_one_cannot(design):
    # 600 seeded records here, 2,000 in the committed calibration (`python -m scripts.calibrate`).
    teachers, seeds, lean, teacher_sd = design
    scores = calibrate_images(*design, records=600)
    assert scores["new"]["called"] <= 0.065 and scores["new"]["covered"] >= 0.93, scores
    if lean:  # images that lean toward one side: the interval about these images says nothing of new ones
        assert scores["these"]["called"] > 0.065, scores
    rows = json.loads((PROJECT_ROOT / "reports" / CALIBRATION).read_text())["rows"]
    committed = [row for row in rows if f"lean sd {lean:g} logits" in row["pairing"] and "the report's" in row["pairing"]
                 and row["teacher_points"] == teacher_sd]
    assert len(committed) == 1 and committed[0]["called"] <= 0.065 and committed[0]["covered"] >= 0.93, committed
