"""Pieces of update rules that several optimizers share, written in place through a work buffer
``s`` of the parameter's shape (as every ``_update`` is)."""


def update_moments(xp, g, m, v, s, one_minus_b1, one_minus_b2):
    """Adam's and Nadam's running moments: ``m += (g - m)*(1-beta_1)``, ``v += (g*g - v)*(1-beta_2)``."""
    xp.subtract(g, m, out=s)
    s *= one_minus_b1
    m += s
    xp.multiply(g, g, out=s)
    s -= v
    s *= one_minus_b2
    v += s


def step_by_root(xp, p, g, a, s, lr, eps):
    """RMSprop's and Adagrad's step from an accumulator ``a`` of squared gradients:
    ``p -= lr*g/sqrt(a + epsilon)``."""
    xp.add(a, eps, out=s)
    xp.sqrt(s, out=s)
    xp.divide(g, s, out=s)
    s *= lr
    p -= s
