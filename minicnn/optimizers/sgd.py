"""Stochastic gradient descent with optional (Nesterov) momentum."""
from minicnn.optimizers.base import Optimizer, _check_number


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``w -= lr*g`` without momentum; with it, ``m = momentum*m - lr*g`` then ``w += m``
    (Nesterov: ``w += momentum*m - lr*g``).

    Args:
        learning_rate: float > 0, default 0.01 (``lr`` is the Keras 2 spelling).
        momentum: float in [0, 1], default 0.
        nesterov: bool, default False.
        decay: Keras 2 time-based decay >= 0, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).

    Raises:
        ValueError / TypeError: for out-of-range or non-numeric arguments.
    """

    kernel = "sgd_update"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0, lr=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, decay, lr, name or "SGD", **kwargs)
        self.momentum = _check_number(momentum, "momentum", "SGD", low=0, high=1)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()
        self.n_scratch = 2 if self.nesterov else 1

    def _step_scalars(self, lr, t):
        return lr, self.momentum, self.nesterov

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, lr, m=slots[0] if slots else None, momentum=self.momentum, nesterov=self.nesterov)

    def _update(self, xp, p, g, slots, scratch, lr, momentum, nesterov):
        s = scratch[0]
        xp.multiply(g, lr, out=s)
        if not momentum:
            p -= s
            return
        (m,) = slots
        m *= momentum
        m -= s
        if nesterov:
            # w += (momentum*m - lr*g), rounded in Keras's order so both frameworks stay together.
            t = scratch[1]
            xp.multiply(m, momentum, out=t)
            t -= s
            p += t
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
