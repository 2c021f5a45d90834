"""Adam (Kingma & Ba, 2015) as Keras writes it."""
import math

from minicnn.optimizers.base import _BetaEpsilonOptimizer
from minicnn.optimizers.rules import update_moments


class Adam(_BetaEpsilonOptimizer):
    """Adam (Kingma & Ba, 2015) in Keras's form, epsilon outside the square root.

    ``m += (g - m)*(1-beta_1)``, ``v += (g*g - v)*(1-beta_2)``,
    ``w -= lr*sqrt(1-beta_2**t)/(1-beta_1**t) * m/(sqrt(v) + epsilon)``.

    Args:
        learning_rate: float > 0, default 0.001. beta_1, beta_2: floats in [0, 1),
        defaults 0.9 and 0.999. epsilon: float >= 0, default 1e-7 (None means 1e-7, as in
        Keras 2). decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("momentum", "velocity")
    kernel = "adam_update"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0,
                 lr=None, name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, decay, lr, name or "adam", **kwargs)

    def _step_scalars(self, lr, t):
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        return alpha, 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, *slots, lr, self.beta_1, self.beta_2, self.epsilon, t)

    def _update(self, xp, p, g, slots, scratch, alpha, one_minus_b1, one_minus_b2, eps):
        m, v = slots
        (s,) = scratch
        update_moments(xp, g, m, v, s, one_minus_b1, one_minus_b2)
        xp.sqrt(v, out=s)
        s += eps
        xp.divide(m, s, out=s)
        s *= alpha
        p -= s
