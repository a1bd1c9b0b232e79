"""Seed architectures (exact parameter counts) and the distillation loss against NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.training.losses import distillation_loss
from distillation.models.networks import build_mlp, build_teacher


def test_teacher_has_the_seed_parameter_count():
    assert build_teacher(26).count_params() == 3_378_970
    assert build_teacher(26, dropout=0.5).count_params() == 3_378_970  # dropout adds no weights


def test_mlp_has_the_seed_parameter_count():
    assert build_mlp(26).count_params() == 415_258
    assert build_mlp(13).count_params() == 784 * 512 + 512 + 512 * 13 + 13


def numpy_log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("temperature, hard_weight, t2_scale", [(10.0, 0.5, False), (3.0, 0.2, True), (1.0, 1.0, False)])
def test_loss_matches_numpy(temperature, hard_weight, t2_scale):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=8)
    teacher = rng.normal(scale=4, size=(8, 5)).astype(np.float32)
    student = rng.normal(scale=4, size=(8, 5)).astype(np.float32)

    hard = -numpy_log_softmax(student)[np.arange(8), labels]
    teacher_probabilities = np.exp(numpy_log_softmax(teacher / temperature))
    soft = -(teacher_probabilities * numpy_log_softmax(student / temperature)).sum(axis=1)
    expected = hard_weight * hard + (temperature**2 if t2_scale else 1.0) * soft

    actual = np.asarray(distillation_loss(labels, teacher, student, temperature, hard_weight, t2_scale))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    if not t2_scale:  # the default, which FitNets' and teacher-free's KD terms use: no T² (the seed experiment)
        np.testing.assert_allclose(np.asarray(distillation_loss(labels, teacher, student, temperature, hard_weight)), expected, rtol=1e-5)


def test_lambda_zero_and_t_one_is_cross_entropy_against_the_teacher_distribution():
    rng = np.random.default_rng(1)
    teacher = rng.normal(size=(6, 4)).astype(np.float32)
    student = rng.normal(size=(6, 4)).astype(np.float32)
    labels = np.zeros(6, dtype=int)  # ignored when λ = 0
    teacher_distribution = np.exp(numpy_log_softmax(teacher))
    expected = -(teacher_distribution * numpy_log_softmax(student)).sum(axis=1)
    actual = np.asarray(distillation_loss(labels, teacher, student, 1.0, 0.0))
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    # And it is smallest when the student copies the teacher.
    assert np.all(np.asarray(distillation_loss(labels, teacher, teacher, 1.0, 0.0)) <= actual + 1e-6)


def test_saved_model_round_trips_in_safe_mode_without_optimizer_state(tmp_path):
    from distillation.models.files import load_model, save_model
    from distillation.training.fit import compile_classifier
    from test_stages import baseline_recipe

    model = compile_classifier(build_mlp(26), baseline_recipe(learning_rate=1e-3))
    images, labels = np.random.default_rng(0).random((16, 28, 28, 1), np.float32), np.arange(16) % 26
    model.fit(images, labels, epochs=1, verbose=0)  # builds the optimizer's state
    save_model(model, tmp_path / "mlp.keras")
    loaded = load_model(tmp_path / "mlp.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5)
    assert getattr(loaded, "optimizer", None) is None
    # float32 weights plus the archive's fixed overhead; Adam's two moment copies would triple it.
    assert (tmp_path / "mlp.keras").stat().st_size < 1.2 * 4 * model.count_params() + 100_000


def test_the_mlp_takes_one_width_or_one_per_hidden_layer():
    from distillation.models.networks import HIDDEN_LAYER, build_mlp

    seed = build_mlp(26, 512)
    assert seed.count_params() == 415_258 and [layer.name for layer in seed.layers if "hidden" in layer.name] == [HIDDEN_LAYER]
    deeper = build_mlp(26, (256, 128), dropout=0.1)
    assert deeper.count_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 26 + 26
    assert [layer.name for layer in deeper.layers if "hidden" in layer.name] == [f"{HIDDEN_LAYER}_1", HIDDEN_LAYER]
    assert deeper.get_layer(HIDDEN_LAYER).units == 128  # FitNets guides the last hidden layer
    assert sum(type(layer).__name__ == "Dropout" for layer in deeper.layers) == 2


@pytest.mark.parametrize("value, expected", [(512, 512), ("512", 512), (512.0, 512), ([256, 128], (256, 128)), ("[64, 32]", (64, 32))])
def test_hidden_units_takes_an_integer_or_a_list_as_typed_or_as_dvc_gives_it(value, expected):
    from conftest import PROJECT_ROOT
    from distillation.config.params import load_params

    assert load_params(PROJECT_ROOT / "params.yaml").with_overrides({"baseline.hidden_units": value}).baseline.hidden_units == expected
