"""Adadelta (Zeiler, 2012)."""
from minicnn.optimizers.base import _RhoEpsilonOptimizer


class Adadelta(_RhoEpsilonOptimizer):
    """Adadelta (Zeiler, 2012): a per-weight step size from running averages of g² and Δw².

    ``a = rho*a + (1-rho)*g*g``, ``d = -sqrt(b + epsilon)/sqrt(a + epsilon)*g``,
    ``b = rho*b + (1-rho)*d*d``, ``w += lr*d``.

    The default learning rate is 1.0, the paper's value and that of the Keras versions the
    classic tutorials were written for (Keras <= 2.3). tf.keras and Keras 2.4+ changed it to
    0.001, under which the classic MNIST CNN (12 epochs) reaches about 84% test accuracy
    instead of 99%; pass ``learning_rate=0.001`` to get their behaviour.

    Args:
        learning_rate: float > 0, default 1.0. rho: float in [0, 1), default 0.95.
        epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("accumulated_grad", "accumulated_delta_var")
    n_scratch = 2
    kernel = "adadelta_update"

    def __init__(self, learning_rate=1.0, rho=0.95, epsilon=1e-7, decay=0.0, lr=None, name=None, **kwargs):
        super().__init__(learning_rate, rho, epsilon, decay, lr, name or "adadelta", **kwargs)

    def _update(self, xp, p, g, slots, scratch, lr, rho, eps):
        a, b = slots
        s, u = scratch
        xp.multiply(g, g, out=s)
        s *= 1.0 - rho
        a *= rho
        a += s
        # sqrt(b+eps)/sqrt(a+eps) as one square root of the ratio: a pass fewer, same value to 1 ulp
        xp.add(b, eps, out=s)
        xp.add(a, eps, out=u)
        s /= u
        xp.sqrt(s, out=s)
        s *= g                      # s = -d
        xp.multiply(s, s, out=u)
        u *= 1.0 - rho
        b *= rho
        b += u
        if lr != 1.0:  # the default; skipping the multiply by 1 saves a pass, exactly
            s *= lr
        p -= s
