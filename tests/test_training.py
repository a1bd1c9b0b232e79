"""The training library's recipes: learning-rate schedules and steps per execution."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from distillation.config.params import TrainingRecipe, load_params
from distillation.models.networks import build_mlp
from distillation.training.fit import compile_classifier, configure_runtime, fit_with_early_stopping, learning_rate

RECIPE = load_params(PROJECT_ROOT / "params.yaml").baseline.changed(
    optimizer="adam", learning_rate=0.004, epochs=5, batch_size=16, early_stopping=False, patience=2, dropout=0.0,
    schedule="cosine", warmup_epochs=1, steps_per_execution=1)


def test_plateau_keeps_a_constant_rate_for_the_callback_to_halve():
    assert learning_rate(RECIPE.changed(schedule="plateau"), steps_per_epoch=10) == 0.004


def test_cosine_warms_up_to_the_rate_then_decays_to_zero_at_the_last_epoch():
    schedule = learning_rate(RECIPE, steps_per_epoch=10)  # 50 steps, the first 10 warming up
    rates = np.array([float(schedule(step)) for step in range(51)])
    assert rates[0] == 0.0 and rates[10] == pytest.approx(0.004)
    assert np.all(np.diff(rates[:11]) > 0) and np.all(np.diff(rates[10:]) < 0)
    assert rates[30] == pytest.approx(0.002, rel=1e-5) and rates[50] == pytest.approx(0.0, abs=1e-9)
    without_warmup = learning_rate(RECIPE.changed(warmup_epochs=0), steps_per_epoch=10)
    assert float(without_warmup(0)) == pytest.approx(0.004) and float(without_warmup(50)) == pytest.approx(0.0, abs=1e-9)


def train_weights(settings: TrainingRecipe) -> list[np.ndarray]:
    configure_runtime(0)
    rng = np.random.default_rng(0)
    images, labels = rng.random((100, 28, 28, 1), np.float32), rng.integers(0, 4, 100)
    model = compile_classifier(build_mlp(4, hidden_units=8), settings, steps_per_epoch=7)
    run = fit_with_early_stopping(model, images, labels, (images[:20], labels[:20]), settings, monitor="val_accuracy")
    assert run.epochs_run == settings.epochs
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)  # the cycle ended with the last step
    return model.get_weights()


def test_steps_per_execution_runs_the_same_steps_to_the_same_weights():
    one_at_a_time = train_weights(RECIPE)
    four_per_call = train_weights(RECIPE.changed(steps_per_execution=4))
    for single, batched in zip(one_at_a_time, four_per_call):
        np.testing.assert_array_equal(single, batched)


def test_a_cosine_cycle_runs_to_its_end_and_keeps_the_best_val_epoch():
    configure_runtime(0)
    rng = np.random.default_rng(1)
    images, labels = rng.random((100, 28, 28, 1), np.float32), rng.integers(0, 4, 100)
    val = (images[:40], rng.permutation(labels[:40]))  # shuffled: val accuracy stalls at once
    settings = RECIPE.changed(early_stopping=True, epochs=6, patience=1)
    model = compile_classifier(build_mlp(4, hidden_units=8), settings, steps_per_epoch=7)
    run = fit_with_early_stopping(model, images, labels, val, settings, monitor="val_accuracy")
    accuracies = model.history.history["val_accuracy"]  # Keras keeps the last fit's history
    assert run.epochs_run == 6  # patience 1 would have stopped a plateau schedule
    assert run.best_epoch == int(np.argmax(accuracies)) + 1
    assert model.evaluate(*val, verbose=0)[1] == pytest.approx(max(accuracies))


def test_fused_adam_takes_kerass_adam_steps():
    # The same formula in one kernel: over ten steps of a schedule the weights stay within float32
    # rounding of Keras's own Adam, and the pipeline's optimizer is the fused one.
    import keras

    from distillation.training.fit import make_optimizer
    from distillation.training.fused_adam import FusedAdam

    recipe = RECIPE.changed(learning_rate=0.01)
    assert isinstance(make_optimizer(recipe, 10), FusedAdam)
    rng = np.random.default_rng(0)
    start = rng.normal(size=(64, 32)).astype(np.float32)
    gradients = [rng.normal(size=(64, 32)).astype(np.float32) for _ in range(10)]
    weights = []
    for optimizer in (keras.optimizers.Adam(learning_rate(recipe, 10)), make_optimizer(recipe, 10)):
        variable = keras.Variable(start)
        for gradient in gradients:
            optimizer.apply([gradient], [variable])
        weights.append(variable.numpy())
    assert not np.allclose(weights[0], start, atol=0.01)  # both moved ...
    np.testing.assert_allclose(weights[1], weights[0], rtol=1e-5, atol=1e-6)  # ... alike
