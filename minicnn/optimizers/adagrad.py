"""Adagrad (Duchi, Hazan & Singer, 2011) as Keras 3 writes it."""
from minicnn.optimizers.base import Optimizer, _check_number
from minicnn.optimizers.rules import step_by_root


class Adagrad(Optimizer):
    """Adagrad: each weight's step shrinks with the sum of its squared gradients so far.

    ``a += g*g``, ``w -= lr*g/sqrt(a + epsilon)``, the accumulator ``a`` starting at
    ``initial_accumulator_value``. These are Keras 3's defaults; Keras 2's were lr 0.01 and an
    accumulator starting at 0 (pass them to get its behaviour).

    Args:
        learning_rate: float > 0, default 0.001. initial_accumulator_value: float >= 0, default
        0.1. epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, decay=0.0, lr=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, decay, lr, name or "adagrad", **kwargs)
        self.initial_accumulator_value = _check_number(initial_accumulator_value, "initial_accumulator_value",
                                                       "Adagrad", low=0)
        self.epsilon = _check_number(1e-7 if epsilon is None else epsilon, "epsilon", "Adagrad", low=0)

    def _initial_slots(self, xp, p):
        return (xp.full_like(p, self.initial_accumulator_value),)

    def _step_scalars(self, lr, t):
        return lr, self.epsilon

    def _update(self, xp, p, g, slots, scratch, lr, eps):
        (a,) = slots
        (s,) = scratch
        xp.multiply(g, g, out=s)
        a += s
        step_by_root(xp, p, g, a, s, lr, eps)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
