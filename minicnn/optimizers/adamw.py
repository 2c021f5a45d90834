"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as Keras 3 writes it."""
from minicnn.optimizers.adam import Adam


class AdamW(Adam):
    """AdamW: each step shrinks every weight by ``w * weight_decay * lr``, then takes Adam's step
    on the gradient alone (the decay never enters m and v, unlike an L2 penalty in the loss).

    The decay is the one every optimizer has (``Optimizer.weight_decay``), here on by default with
    Keras 3's 0.004; the Adam step is :class:`Adam`'s, CUDA kernel included.

    Args:
        learning_rate: float > 0, default 0.001. weight_decay: float >= 0, default 0.004.
        beta_1, beta_2, epsilon, decay: as for :class:`Adam`.
        clipnorm, clipvalue, global_clipnorm: as for every Optimizer (base.py).

    Raises:
        ValueError: for ``weight_decay=None`` (use Adam for no decay), as Keras 3 does.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 decay=0.0, lr=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("AdamW: weight_decay must be a number >= 0, got None; for Adam without weight "
                             "decay use minicnn.optimizers.Adam.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, decay, lr, name or "adamw",
                         weight_decay=weight_decay, **kwargs)
