"""Model files: saving and loading native ``.keras`` files, and predicting logits in batches.

What ``soft_targets`` and ``evaluate`` need of a trained model, apart from how it was trained
(:mod:`distillation.training.fit`), so that editing the training loop does not re-run them.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from distillation.atomic import atomic_output

EVALUATION_BATCH = 1024
SMALLEST_PROBABILITY = 1e-12  # log(0) would make every loss on it NaN


@keras.saving.register_keras_serializable(package="distillation")
class ProbabilitiesToLogits(keras.layers.Layer):
    """``log p``: a teacher of yours that gives probabilities, as logits (models.given_teacher).

    A registered layer, not a ``Lambda``, so the file loads in safe mode; registered here, where
    every stage loads its models.
    """

    def call(self, probabilities):
        return keras.ops.log(keras.ops.clip(keras.ops.cast(probabilities, "float32"), SMALLEST_PROBABILITY, 1.0))

    def compute_output_shape(self, input_shape):
        return input_shape


def save_model(model: keras.Model, path: str | Path) -> None:
    """Save architecture and weights as a native ``.keras`` file, atomically.

    No optimizer state: the files are for inference, and their sizes are compared across models.
    """
    inference_model = type(model).from_config(model.get_config())  # uncompiled: no optimizer
    inference_model.set_weights(model.get_weights())
    with atomic_output(path) as temporary:
        inference_model.save(temporary)


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model in safe mode (no code from the file is executed)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: model not found; run the stage that trains it first")
    return keras.models.load_model(path, safe_mode=True, compile=False)


def predict_logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return model.predict(images, batch_size=EVALUATION_BATCH, verbose=0).astype(np.float32)
