"""Nadam (Dozat, 2016): Adam with Nesterov momentum, as Keras 3 writes it."""
from minicnn.optimizers.base import _BetaEpsilonOptimizer
from minicnn.optimizers.rules import update_moments

# Keras's momentum schedule: u_t = beta_1 * (1 - 0.5 * DECAY**t).
DECAY = 0.96


class Nadam(_BetaEpsilonOptimizer):
    """Nadam: Adam whose momentum looks one step ahead, with Keras's momentum schedule.

    With ``u_t = beta_1*(1 - 0.5*0.96**t)`` and ``P_t = u_1*...*u_t``:
    ``m += (g - m)*(1-beta_1)``, ``v += (g*g - v)*(1-beta_2)``,
    ``m_hat = u_{t+1}*m/(1 - P_t*u_{t+1}) + (1-u_t)*g/(1 - P_t)``, ``v_hat = v/(1 - beta_2**t)``,
    ``w -= lr*m_hat/(sqrt(v_hat) + epsilon)``. ``P_t`` follows from the step count, so the state
    is the slots alone.

    Args:
        learning_rate: float > 0, default 0.001. beta_1, beta_2: floats in [0, 1), defaults 0.9
        and 0.999. epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).
    """

    slot_names = ("momentum", "velocity")
    n_scratch = 2

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0, lr=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, decay, lr, name or "nadam", **kwargs)
        self._u_product = (0, 1.0)  # (t, P_t), carried from step to step

    def _schedule(self, t):
        return self.beta_1 * (1.0 - 0.5 * DECAY ** t)

    def _product(self, t):
        """P_t, from the last step's product (or from scratch after set_state)."""
        s, P = self._u_product if self._u_product[0] <= t else (0, 1.0)
        for k in range(s + 1, t + 1):
            P *= self._schedule(k)
        self._u_product = (t, P)
        return P

    def _step_scalars(self, lr, t):
        u_t, u_next = self._schedule(t), self._schedule(t + 1)
        P = self._product(t)
        return (lr, 1.0 - self.beta_1, 1.0 - self.beta_2, u_next / (1.0 - P * u_next), (1.0 - u_t) / (1.0 - P),
                1.0 - self.beta_2 ** t, self.epsilon)

    def _update(self, xp, p, g, slots, scratch, lr, one_minus_b1, one_minus_b2, c_m, c_g, bias2, eps):
        m, v = slots
        s, u = scratch
        update_moments(xp, g, m, v, s, one_minus_b1, one_minus_b2)
        xp.multiply(g, c_g, out=s)      # s = m_hat
        xp.multiply(m, c_m, out=u)
        s += u
        s *= lr
        xp.divide(v, bias2, out=u)      # u = sqrt(v_hat) + epsilon
        xp.sqrt(u, out=u)
        u += eps
        s /= u
        p -= s
