"""RMSprop (Hinton's lecture 6e) as Keras 3 writes it."""
from minicnn.optimizers.base import _RhoEpsilonOptimizer
from minicnn.optimizers.rules import step_by_root


class RMSprop(_RhoEpsilonOptimizer):
    """RMSprop (Hinton's lecture 6e), epsilon inside the square root as Keras 3 writes it.

    ``v = rho*v + (1-rho)*g*g``, ``w -= lr*g/sqrt(v + epsilon)``.

    Args:
        learning_rate: float > 0, default 0.001. rho: float in [0, 1), default 0.9.
        epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("velocity",)
    kernel = "rmsprop_update"

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, decay=0.0, lr=None, name=None, **kwargs):
        super().__init__(learning_rate, rho, epsilon, decay, lr, name or "rmsprop", **kwargs)

    def _update(self, xp, p, g, slots, scratch, lr, rho, eps):
        (v,) = slots
        (s,) = scratch
        xp.multiply(g, g, out=s)
        s *= 1.0 - rho
        v *= rho
        v += s
        step_by_root(xp, p, g, v, s, lr, eps)
