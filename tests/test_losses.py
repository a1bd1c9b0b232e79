"""Every method's loss against a NumPy transcription of its paper's formula."""
from __future__ import annotations

import numpy as np
import pytest

from distillation.training.losses import (
    decoupled_kd_loss,
    decoupled_kd_terms,
    handmade_teacher_logits,
    hint_loss,
    label_smoothing_loss,
    mutual_learning_loss,
)
from distillation.methods.fitnets import principal_hint_coordinates

N, K = 8, 5


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return (p * (np.log(p) - np.log(q))).sum(axis=-1)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, K, size=N)
    teacher = rng.normal(scale=3, size=(N, K)).astype(np.float32)
    student = rng.normal(scale=3, size=(N, K)).astype(np.float32)
    return labels, teacher, student


def numpy_dkd_terms(labels, teacher, student, temperature):
    """Zhao et al. 2022, eqs. (1)–(4): binary target/non-target split and the non-target softmax."""
    p_t, p_s = softmax(teacher / temperature), softmax(student / temperature)
    rows = np.arange(len(labels))
    b_t = np.stack([p_t[rows, labels], 1 - p_t[rows, labels]], axis=1)
    b_s = np.stack([p_s[rows, labels], 1 - p_s[rows, labels]], axis=1)
    tckd = kl(b_t, b_s)
    nckd = []
    for row, label in enumerate(labels):
        keep = np.arange(teacher.shape[1]) != label
        nckd.append(kl(softmax(teacher[row, keep] / temperature), softmax(student[row, keep] / temperature)))
    return tckd, np.array(nckd)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_dkd_terms_match_the_paper(batch, temperature):
    labels, teacher, student = batch
    tckd, nckd = decoupled_kd_terms(labels, teacher, student, temperature)
    expected_tckd, expected_nckd = numpy_dkd_terms(labels, teacher, student, temperature)
    np.testing.assert_allclose(np.asarray(tckd), expected_tckd, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(nckd), expected_nckd, rtol=1e-4, atol=1e-6)


def test_dkd_with_alpha_beta_one_is_classic_kd_up_to_the_target_weighting(batch):
    """The paper's eq. (5): KD = TCKD + (1 − p_t^target)·NCKD; check our terms obey it."""
    labels, teacher, student = batch
    temperature = 2.0
    tckd, nckd = (np.asarray(term) for term in decoupled_kd_terms(labels, teacher, student, temperature))
    p_t = softmax(teacher / temperature)
    classic = kl(p_t, softmax(student / temperature))
    np.testing.assert_allclose(tckd + (1 - p_t[np.arange(N), labels]) * nckd, classic, rtol=1e-4)


def test_dkd_loss_adds_cross_entropy_and_the_warmed_up_weighted_terms(batch):
    labels, teacher, student = batch
    temperature, alpha, beta, warmup = 4.0, 1.0, 8.0, 0.3
    tckd, nckd = numpy_dkd_terms(labels, teacher, student, temperature)
    hard = -log_softmax(student)[np.arange(N), labels]
    expected = hard + warmup * temperature**2 * (alpha * tckd + beta * nckd)
    actual = np.asarray(decoupled_kd_loss(labels, teacher, student, temperature, alpha, beta, warmup))
    np.testing.assert_allclose(actual, expected, rtol=1e-4)
    # At the start of the warm-up only cross-entropy is left.
    np.testing.assert_allclose(np.asarray(decoupled_kd_loss(labels, teacher, student, temperature, alpha, beta, 0.0)), hard, rtol=1e-5)


def test_dkd_is_stable_for_very_confident_logits():
    labels = np.array([0, 1])
    confident = np.array([[60.0, 0, 0], [0, 60.0, 0]], np.float32)
    tckd, nckd = decoupled_kd_terms(labels, confident, confident, 1.0)
    assert np.all(np.isfinite(np.asarray(tckd))) and np.allclose(np.asarray(tckd), 0, atol=1e-5)
    assert np.allclose(np.asarray(nckd), 0, atol=1e-5)


def test_hint_loss_is_the_mean_squared_distance():
    rng = np.random.default_rng(1)
    projected, teacher = rng.normal(size=(N, 16)), rng.normal(size=(N, 16)).astype(np.float16)
    expected = ((projected - teacher.astype(np.float64)) ** 2).mean(axis=1)
    np.testing.assert_allclose(np.asarray(hint_loss(projected.astype(np.float32), teacher)), expected, rtol=1e-5)


@pytest.mark.parametrize("peers", [2, 3])
def test_mutual_learning_sums_each_peers_cross_entropy_and_mean_kl_to_the_others(peers):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, K, size=N)
    logits = [rng.normal(scale=2, size=(N, K)).astype(np.float32) for _ in range(peers)]
    expected = np.zeros(N)
    for i in range(peers):
        expected += -log_softmax(logits[i])[np.arange(N), labels]
        for j in range(peers):
            if j != i:
                expected += kl(softmax(logits[j]), softmax(logits[i])) / (peers - 1)
    np.testing.assert_allclose(np.asarray(mutual_learning_loss(labels, logits)), expected, rtol=1e-4)


def test_mutual_learning_holds_the_other_peers_constant():
    import tensorflow as tf

    labels = np.array([0, 1])
    first = tf.Variable(np.array([[1.0, 0.0], [0.0, 2.0]], np.float32))
    second = tf.Variable(np.array([[0.5, 0.5], [1.0, -1.0]], np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(mutual_learning_loss(labels, [first, second]))
    gradient_first, _ = tape.gradient(loss, [first, second])
    # d/d(first) of CE(first) + KL(p_second ‖ p_first): p_first − y, plus p_first − p_second.
    p_first, p_second = softmax(first.numpy()), softmax(second.numpy())
    expected = (p_first - np.eye(2)[labels]) + (p_first - p_second)
    np.testing.assert_allclose(gradient_first.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_mutual_learning_needs_two_peers():
    with pytest.raises(ValueError, match="at least two peers"):
        mutual_learning_loss(np.array([0]), [np.zeros((1, 3), np.float32)])


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5])
def test_label_smoothing_is_cross_entropy_against_smoothed_labels(batch, epsilon):
    labels, _, student = batch
    smoothed = (1 - epsilon) * np.eye(K)[labels] + epsilon / K
    expected = -(smoothed * log_softmax(student)).sum(axis=1)
    np.testing.assert_allclose(np.asarray(label_smoothing_loss(labels, student, epsilon)), expected, rtol=1e-5)


def test_handmade_teacher_puts_the_chosen_probability_on_the_true_class():
    labels = np.array([2, 0])
    logits = np.asarray(handmade_teacher_logits(labels, 4, 0.7))
    probabilities = softmax(logits)
    np.testing.assert_allclose(probabilities[[0, 1], labels], 0.7, rtol=1e-6)
    np.testing.assert_allclose(probabilities[0, [0, 1, 3]], 0.1, rtol=1e-5)
    # A probability at or below chance is refused by the method, which knows the classes (test_methods).


def _hints(rows=300, width=24, seed=0):
    """Hint-like activations: ReLU of correlated Gaussians, so a few directions dominate."""
    generator = np.random.default_rng(seed)
    mixing = generator.normal(size=(6, width)) * 3 + generator.normal(size=(width, width))[:6] * 0.3
    return np.maximum(generator.normal(size=(rows, 6)) @ mixing + generator.normal(size=(rows, width)) * 0.2, 0)


def test_principal_hint_coordinates_with_every_direction_keep_the_hint_loss_exactly():
    hints = _hints()
    prediction = hints + np.random.default_rng(1).normal(size=hints.shape)
    coordinates, kept = principal_hint_coordinates({"train": hints, "other": prediction}, hints.shape[1])
    assert kept == pytest.approx(1.0)
    # An orthonormal basis of the whole space, scaled by √(D/D) = 1: distances are unchanged.
    np.testing.assert_allclose(np.asarray(hint_loss(coordinates["other"], coordinates["train"])),
                               np.asarray(hint_loss(prediction.astype(np.float32), hints.astype(np.float32))), rtol=1e-4)


def test_principal_hint_coordinates_give_the_full_loss_part_inside_the_leading_directions():
    hints = _hints()
    width, components = hints.shape[1], 4
    prediction = hints + np.random.default_rng(2).normal(size=hints.shape)
    coordinates, kept = principal_hint_coordinates({"train": hints, "other": prediction}, components)
    # Reference: the same directions from NumPy's SVD of the centred hints.
    centred = hints - hints.mean(axis=0)
    _, singular_values, directions = np.linalg.svd(centred, full_matrices=False)
    assert kept == pytest.approx((singular_values[:components] ** 2).sum() / (singular_values ** 2).sum(), rel=1e-4)
    inside = (prediction - hints) @ directions[:components].T
    expected = (inside ** 2).sum(axis=1) / width  # the full mean-over-D loss, restricted to those directions
    np.testing.assert_allclose(np.asarray(hint_loss(coordinates["other"], coordinates["train"])), expected, rtol=1e-3, atol=1e-6)
    assert np.all(expected <= ((prediction - hints) ** 2).mean(axis=1) + 1e-9)


@pytest.mark.parametrize("components", [0, -1, 25])
def test_principal_hint_coordinates_refuse_a_count_outside_the_hint_width(components):
    with pytest.raises(ValueError, match="distill.fitnets.hint_components must be 0 .* or 1..24"):
        principal_hint_coordinates({"train": _hints()}, components)
