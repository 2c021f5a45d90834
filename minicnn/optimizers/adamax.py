"""Adamax (Kingma & Ba, 2015, section 7) as Keras 3 writes it."""
from minicnn.optimizers.base import _BetaEpsilonOptimizer


class Adamax(_BetaEpsilonOptimizer):
    """Adamax: Adam with the infinity norm of past gradients in place of their root mean square.

    ``m += (g - m)*(1-beta_1)``, ``u = max(beta_2*u, |g|)``,
    ``w -= lr*m / ((1-beta_1**t)*(u + epsilon))``.

    Args:
        learning_rate: float > 0, default 0.001. beta_1, beta_2: floats in [0, 1), defaults 0.9
        and 0.999. epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0, lr=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, decay, lr, name or "adamax", **kwargs)

    def _step_scalars(self, lr, t):
        return lr, 1.0 - self.beta_1, self.beta_2, 1.0 - self.beta_1 ** t, self.epsilon

    def _update(self, xp, p, g, slots, scratch, lr, one_minus_b1, b2, bias, eps):
        m, u = slots
        (s,) = scratch
        xp.subtract(g, m, out=s)
        s *= one_minus_b1
        m += s
        u *= b2
        xp.abs(g, out=s)
        xp.maximum(u, s, out=u)
        xp.add(u, eps, out=s)
        s *= bias
        xp.divide(m, s, out=s)
        s *= lr
        p -= s
