"""Adam whose update of each weight is one TensorFlow kernel instead of a dozen.

Keras's Adam updates a weight in about twelve element-wise ops, each a pass over the weight's
memory; TensorFlow's ``ResourceApplyAdam`` computes the same formula in one pass. On two cores the
MLP's step is short enough that these passes are a sixth of it, and the teacher's 3.3 million
weights make them a few milliseconds a step (``bench/optimizer_benchmark.py``, docs/speed.md).
"""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="distillation")
class FusedAdam(keras.optimizers.Adam):
    """:class:`keras.optimizers.Adam`, each dense update done by ``tf.raw_ops.ResourceApplyAdam``.

    The kernel's formula is Keras's: ``alpha = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)``, ``m += (g − m)(1 − β₁)``,
    ``v += (g² − v)(1 − β₂)``, ``w −= alpha·m/(√v + ε)``; only the rounding of the last bits may
    differ. Sparse gradients and ``amsgrad`` take Keras's own path.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


def _handle(variable: keras.Variable | tf.Variable) -> tf.Tensor:
    """The resource handle of a Keras variable's TensorFlow variable."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle
