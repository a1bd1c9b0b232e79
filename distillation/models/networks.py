"""The seed experiment's architectures.

Every model ends in a plain Dense layer and outputs logits, float32 even under a mixed precision
policy (:mod:`distillation.training.precision`); losses take ``from_logits=True``.
The last hidden layer of each is named ``hidden``: FitNets reads it from the teacher (through
:func:`with_hidden_output`) and guides the student's with it.
"""
from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
HIDDEN_LAYER = "hidden"
HiddenWidths = int | tuple[int, ...]  # one hidden layer's units, or each layer's in order (baseline.hidden_units)


def logits_dtype() -> str | None:
    """The last layer's dtype: float32 under a mixed precision policy (every loss then sees float32
    logits), else the default (``None``, which keeps a float32 model's file exactly as before)."""
    return "float32" if keras.mixed_precision.global_policy().name.startswith("mixed") else None


def build_teacher(num_classes: int, dropout: float = 0.0) -> keras.Sequential:
    """The seed CNN: conv 64 → pool → conv 128 → pool → dense 1024 → K (3,378,970 weights for K=26)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(1024, activation="relu", name=HIDDEN_LAYER),
            layers.Dropout(dropout),
            layers.Dense(num_classes, name="logits", dtype=logits_dtype()),
        ],
        name="teacher",
    )


def build_mlp(num_classes: int, hidden_units: HiddenWidths = 512, dropout: float = 0.0, name: str = "mlp") -> keras.Sequential:
    """The seed MLP: flatten → dense 512 ReLU → K (415,258 weights for K=26, 512 units).

    ``hidden_units`` a tuple of widths stacks that many ReLU layers, each followed by dropout; the
    last is named ``hidden`` (FitNets guides it), the ones before ``hidden_1``, ``hidden_2``, ….
    """
    widths = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
    hidden = []
    for index, width in enumerate(widths, start=1):
        hidden += [layers.Dense(width, activation="relu", name=HIDDEN_LAYER if index == len(widths) else f"{HIDDEN_LAYER}_{index}"),
                   layers.Dropout(dropout)]
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Flatten(),
            *hidden,
            layers.Dense(num_classes, name="logits", dtype=logits_dtype()),
        ],
        name=name,
    )


def with_hidden_output(model: keras.Model) -> keras.Model:
    """A view of ``model`` (same weights) that returns ``(hidden activations, logits)``."""
    return keras.Model(model.inputs, [model.get_layer(HIDDEN_LAYER).output, model.outputs[0]], name=f"{model.name}_with_hidden")
