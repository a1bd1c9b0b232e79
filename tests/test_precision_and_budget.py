"""Mixed precision where the hardware does it fast (refused where it would be emulated), and a
training budget counted in optimizer steps so that small data are not starved."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.machine import cpu_model_and_flags
from distillation.training.precision import BFLOAT16_CPU_FLAGS, OVERRIDE, emulation_reason
from distillation.training.fit import budgeted
from test_stages import TRAINING, baseline_recipe, quadrant_splits, teacher_recipe

HAS_BFLOAT16 = any(flag in cpu_model_and_flags()[1] for flag in BFLOAT16_CPU_FLAGS)


def test_bfloat16_runs_natively_only_with_amx_or_avx512_bf16_or_a_gpu():
    assert emulation_reason("float32", "any CPU", set(), None) is None
    assert "neither AMX nor AVX512-BF16" in emulation_reason("mixed_bfloat16", "AMD EPYC", {"avx2", "fma"}, None)
    assert emulation_reason("mixed_bfloat16", "Xeon", {"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}, None) is None
    assert emulation_reason("mixed_bfloat16", "Xeon", {"avx512f", "avx512_bf16"}, None) is None
    assert emulation_reason("mixed_bfloat16", "AMD EPYC", {"avx2"}, "/physical_device:GPU:0") is None
    assert "no GPU" in emulation_reason("mixed_float16", "Xeon", {"amx_bf16"}, None)


def test_auto_is_the_fastest_precision_this_hardware_runs_natively():
    from distillation.training.precision import resolved_precision

    amx, avx512_bf16, avx2 = {"avx512f", "amx_tile", "amx_bf16"}, {"avx512f", "avx512_bf16"}, {"avx2", "fma"}
    assert resolved_precision("auto", amx, None) == resolved_precision("auto", avx512_bf16, None) == "mixed_bfloat16"
    assert resolved_precision("auto", avx2, None) == "float32"  # bfloat16 would be emulated, slower
    assert resolved_precision("auto", avx2, "/physical_device:GPU:0", gpu_bfloat16=True) == "mixed_bfloat16"
    assert resolved_precision("auto", amx, "/physical_device:GPU:0") == "mixed_float16"  # a GPU before Ampere
    for fixed in ("float32", "mixed_bfloat16", "mixed_float16"):
        assert resolved_precision(fixed, amx, None) == fixed  # a precision named is a precision run
        assert emulation_reason(resolved_precision("auto", avx2, None), "AMD EPYC", avx2, None) is None  # never refused


def test_auto_trains_in_what_it_chose_here_and_the_metrics_say_which():
    from stages.train_baseline import train_baseline

    splits = quadrant_splits(40, seed=0)
    _, metrics = train_baseline(splits, baseline_recipe(epochs=2, hidden_units=32, precision="auto"), seed=0)
    assert metrics["precision"] == ("mixed_bfloat16" if HAS_BFLOAT16 else "float32")


@pytest.mark.skipif(HAS_BFLOAT16, reason="this CPU has AMX or AVX512-BF16: bfloat16 is not refused here")
def test_bfloat16_on_this_cpu_without_it_is_refused_in_one_line_naming_the_setting_and_the_override(monkeypatch):
    from stages.train_teacher import train_teacher

    monkeypatch.delenv(OVERRIDE, raising=False)
    cpu = cpu_model_and_flags()[0]
    with pytest.raises(ValueError) as refused:
        train_teacher(quadrant_splits(8, seed=0), teacher_recipe(precision="mixed_bfloat16"), seed=0)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"teacher.precision=mixed_bfloat16: this CPU ({cpu}) has neither AMX nor AVX512-BF16")
    assert f"set {OVERRIDE}=1 to run it anyway" in message


def test_float16_without_a_gpu_is_refused_for_the_student_too(monkeypatch):
    import tensorflow as tf

    from stages.train_student import train_student

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: float16 runs natively")
    monkeypatch.delenv(OVERRIDE, raising=False)
    splits = quadrant_splits(8, seed=0)
    teacher = {"logits": {split: np.zeros((len(part.labels), 4), np.float32) for split, part in splits.items()}}
    from test_stages import SHIPPED_DISTILL

    with pytest.raises(ValueError, match=r"^distill\.precision=mixed_float16: this machine has no GPU"):
        train_student(splits, teacher, SHIPPED_DISTILL.changed(**{**TRAINING, "method": "kd", "precision": "mixed_float16"}), 16, seed=0)


def test_a_mixed_run_trains_in_bfloat16_and_hands_on_a_float32_model(monkeypatch):
    import keras

    from stages.train_baseline import train_baseline

    monkeypatch.setenv(OVERRIDE, "1")  # emulated on a CPU without bfloat16: slow, but the same numbers
    splits = quadrant_splits(40, seed=0)
    model, metrics = train_baseline(splits, baseline_recipe(epochs=4, hidden_units=32, precision="mixed_bfloat16"), seed=0)
    assert metrics["precision"] == "mixed_bfloat16" and metrics["test_accuracy"] >= 0.95
    assert keras.mixed_precision.global_policy().name == "float32"  # restored for what runs next
    assert model.dtype_policy.name == "float32" and all(weight.dtype == "float32" for weight in model.weights)
    reference, _ = train_baseline(splits, baseline_recipe(epochs=4, hidden_units=32, precision="float32"), seed=0)
    assert [weight.shape for weight in model.weights] == [weight.shape for weight in reference.weights]
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reference.get_weights()))  # it did train in bf16


def test_the_logits_stay_float32_under_a_mixed_policy():
    import keras

    from distillation.models.networks import build_mlp, build_teacher

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        for model in (build_teacher(4), build_mlp(4, 16)):
            assert model.get_layer("hidden").compute_dtype == "bfloat16"
            assert model.get_layer("logits").compute_dtype == "float32"
            assert model(np.zeros((1, 28, 28, 1), np.float32)).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert build_mlp(4, 16).get_layer("logits").get_config()["dtype"] == build_mlp(4, 16).get_layer("hidden").get_config()["dtype"]


def test_the_teachers_passes_run_at_its_trainings_precision_and_a_teacher_of_yours_in_float32():
    from distillation.training.precision import precision_here, teacher_pass_precision

    assert teacher_pass_precision(teacher_recipe(precision="float32")) == "float32"
    assert teacher_pass_precision(teacher_recipe(precision="auto")) == precision_here("auto", "teacher.precision") == (
        "mixed_bfloat16" if HAS_BFLOAT16 else "float32")
    assert teacher_pass_precision(teacher_recipe(precision="auto", model="mine.keras")) == "float32"


def test_a_teacher_computing_in_bfloat16_keeps_its_weights_and_float32_logits_and_agrees_with_float32(monkeypatch):
    from distillation.models.networks import build_teacher
    from distillation.training.precision import computing_in

    monkeypatch.setenv(OVERRIDE, "1")
    teacher = build_teacher(5)
    images = np.random.default_rng(0).random((64, 28, 28, 1), dtype=np.float32)
    assert computing_in(teacher, "float32") is teacher
    fast = computing_in(teacher, "mixed_bfloat16")
    assert [layer.compute_dtype for layer in fast.layers] == ["bfloat16"] * (len(fast.layers) - 1) + ["float32"]
    assert all(np.array_equal(a, b) for a, b in zip(fast.get_weights(), teacher.get_weights()))
    exact, rounded = teacher.predict(images, verbose=0), fast.predict(images, verbose=0)
    assert rounded.dtype == np.float32 and not np.array_equal(exact, rounded)  # it did compute in bfloat16
    # bfloat16 keeps 8 significant bits: the logits within a few hundredths of their own scale
    assert np.max(np.abs(exact - rounded)) <= 0.05 * np.max(np.abs(exact)) + 1e-3


def test_the_budget_gives_small_data_the_steps_of_large_data():
    teacher = teacher_recipe(epochs=5, batch_size=256, min_steps=800)
    assert budgeted(teacher, 42_060).epochs == 5  # the real letters: 165 steps an epoch, unchanged
    assert budgeted(teacher, 9_360).epochs == 22  # the default data: 37 steps an epoch
    assert budgeted(teacher.changed(min_steps=0), 9_360).epochs == 5


# Early stopping off: the budget says how many epochs run, and nothing may cut them short.
BUDGETED = {**TRAINING, "epochs": 2, "min_steps": 5, "early_stopping": False, "precision": "float32"}


def test_a_stage_trains_for_the_budgeted_epochs_and_reports_them():
    from stages.train_baseline import train_baseline

    splits = quadrant_splits(16, seed=0)  # 64 training images: 1 step of 64 per epoch
    _, metrics = train_baseline(splits, baseline_recipe(**BUDGETED, hidden_units=16), seed=0)
    assert metrics["epochs"] == 5 and metrics["min_steps"] == 5 and metrics["precision"] == "float32"


@pytest.mark.parametrize("views", [0, 2])
def test_the_student_trains_for_the_budgeted_epochs_too(views):
    from distillation.data.views import StoredViews
    from stages.train_student import train_student
    from test_stages import SHIPPED_DISTILL

    splits = quadrant_splits(16, seed=0)  # 64 training images: 1 step of 64 per epoch
    teacher = {"logits": {split: np.zeros((len(part.labels), 4), np.float32) for split, part in splits.items()}}
    stored = None
    if views:  # on stored views an epoch is still one showing of each image, so the same budget
        images = np.repeat(np.rint(splits["train"].images[..., 0] * 255).astype(np.uint8)[None], views, axis=0)
        stored = StoredViews(images=images.reshape(-1, 28, 28), views=views, fingerprint="test")
        teacher["logits"]["views"] = np.zeros((views * len(splits["train"].labels), 4), np.float32)
    _, metrics = train_student(splits, teacher, SHIPPED_DISTILL.changed(**BUDGETED, method="kd"), 16, seed=0, views=stored)
    assert metrics["epochs"] == 5 and metrics["min_steps"] == 5
