"""BatchNormalization as Keras defines it: a thin layer over :mod:`minicnn.nn.normalization`."""
import numbers

from minicnn import distributed, initializers
from minicnn.backend import get_array_module
from minicnn.layers.base import Layer
from minicnn.nn.normalization import batchnorm_backward, batchnorm_forward, batchnorm_inference


class BatchNormalization(Layer):
    """Normalise over every axis but ``axis`` (the features/channels), then scale and shift.

    Training uses the batch's mean and (biased) variance and updates the moving statistics
    ``moving = moving * momentum + batch * (1 - momentum)``; inference uses the moving ones.
    The update is made by the trainer (``update_state``, under the model's training lock), in
    ``fit`` and ``train_on_batch``: a forward in training mode, ``model(x, training=True)``
    included, never writes to the layer, so many threads may run one at once.

    Args:
        axis: the feature axis of the per-sample input, counted with the batch axis as Keras
            does (-1: last; 1: channels-first images). Default -1.
        momentum: 0.99; epsilon: 1e-3; center (beta), scale (gamma): True.
        synchronized: under MPI (minicnn.distributed), compute the statistics of the global batch
            over all ranks (Keras 3's argument); by default each rank uses its own batch's, and
            the moving statistics are averaged over the ranks at each epoch's end.
        Keras 1 spellings: ``beta_init``, ``gamma_init``, and ``mode=0`` (the only mode supported).
    Weights: [gamma, beta, moving_mean, moving_variance] (gamma/beta only if scale/center).

    Raises:
        ValueError: for momentum outside [0, 1), epsilon <= 0, or an axis the input lacks.
    """

    stateful = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", synchronized=False, mode=0, beta_init=None, gamma_init=None,
                 **kwargs):
        super().__init__(**kwargs)
        if mode != 0:
            raise ValueError(
                f"{self.name}: Keras 1's BatchNormalization mode={mode!r} is not supported; only mode=0 "
                "(moving statistics at inference, as Keras 2 and 3 always do) is.")
        beta_initializer = beta_init or beta_initializer
        gamma_initializer = gamma_init or gamma_initializer
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"{self.name}: axis must be an integer, got {axis!r}.")
        for what, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{self.name}: {what} must be a number, got {value!r}.")
        if not 0 <= momentum < 1:
            raise ValueError(f"{self.name}: momentum must be in [0, 1), got {momentum}.")
        if not epsilon > 0:
            raise ValueError(f"{self.name}: epsilon must be positive, got {epsilon}.")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.synchronized = bool(synchronized)
        self.initializers = {"gamma": initializers.get(gamma_initializer), "beta": initializers.get(beta_initializer),
                             "moving_mean": initializers.get(moving_mean_initializer),
                             "moving_variance": initializers.get(moving_variance_initializer)}
        self.trainable_names = tuple(n for n, on in (("gamma", scale), ("beta", center)) if on)

    def _feature_axis(self, ndim):
        """The feature axis of a batch array with ``ndim`` axes (batch axis 0)."""
        axis = self.axis if self.axis >= 0 else ndim + self.axis
        if not 1 <= axis < ndim:
            raise ValueError(
                f"{self.name}: axis={self.axis} does not name a feature axis of inputs with "
                f"per-sample shape of {ndim - 1} dimension(s).")
        return axis

    def compute_output_shape(self, input_shape):
        self._feature_axis(len(input_shape) + 1)
        return tuple(input_shape)

    def _create_params(self, input_shape):
        C = input_shape[self._feature_axis(len(input_shape) + 1) - 1]
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            if (name == "gamma" and not self.scale) or (name == "beta" and not self.center):
                continue
            self.params[name] = self._new_param(self.initializers[name], (C,))

    def _gamma_beta(self, xp):
        C = self.params["moving_mean"].shape[0]
        gamma = self.params["gamma"] if self.scale else xp.ones(C, dtype=self.dtype)
        beta = self.params["beta"] if self.center else xp.zeros(C, dtype=self.dtype)
        return gamma, beta

    def to_last_axis(self, a):
        """a with the feature axis moved last (a view), and the axis it came from."""
        axis = self._feature_axis(a.ndim)
        return (a if axis == a.ndim - 1 else get_array_module(a).moveaxis(a, axis, -1)), axis

    def from_last_axis(self, a, axis):
        return a if axis == a.ndim - 1 else get_array_module(a).moveaxis(a, -1, axis)

    def moving_statistics(self):
        """The arrays to average over MPI ranks at an epoch's end: none when synchronized (every rank
        already computed the same statistics)."""
        return [] if self.synchronized else [self.params["moving_mean"], self.params["moving_variance"]]

    def update_state(self, cache):
        """Fold the batch statistics of a training forward into the moving ones (an inference forward's
        cache, of a frozen layer, has none)."""
        if cache[0] is not None:
            self.update_moving_statistics(cache[1], cache[2])

    def update_moving_statistics(self, mean, var):
        """moving = moving * momentum + batch * (1 - momentum), in place."""
        m = self.momentum
        for name, batch_stat in (("moving_mean", mean), ("moving_variance", var)):
            moving = self.params[name]
            moving *= m
            moving += (1 - m) * batch_stat

    def forward(self, x, training=False):
        """Batch statistics when training (and trainable, as in Keras), else the moving ones.
        The cache is the batch-statistics backward's with the batch's mean and variance (for
        :meth:`update_state`), or, for the inference transform, ``(None, x, None)``."""
        x, axis = self.to_last_axis(x)
        gamma, beta = self._gamma_beta(get_array_module(x))
        if training and self.trainable:
            total = distributed.total if self.synchronized and distributed.size() > 1 else None
            y, mean, var, cache = batchnorm_forward(x, gamma, beta, self.epsilon, total)
            cache = (cache, mean, var)
        else:  # the cache: the input, for gamma's gradient (a GradientTape through a model at inference)
            y = batchnorm_inference(x, gamma, beta, self.params["moving_mean"], self.params["moving_variance"],
                                    self.epsilon)
            cache = (None, x, None)
        return self.from_last_axis(y, axis), cache

    def backward(self, dy, cache):
        dy, axis = self.to_last_axis(dy)
        if cache[0] is None:  # the inference transform: y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta
            xp = get_array_module(dy)
            gamma, _ = self._gamma_beta(xp)
            inv_std = 1 / xp.sqrt(self.params["moving_variance"] + self.epsilon)
            rows = dy.reshape(-1, dy.shape[-1])
            grads = {"gamma": ((cache[1] - self.params["moving_mean"]).reshape(rows.shape) * rows).sum(axis=0) * inv_std,
                     "beta": rows.sum(axis=0)}
            grads = {name: g for name, g in grads.items() if getattr(self, "scale" if name == "gamma" else "center")}
            return self.from_last_axis(dy * (gamma * inv_std), axis), grads
        dx, dgamma, dbeta = batchnorm_backward(dy, cache[0])
        grads = {name: g for name, g, on in (("gamma", dgamma, self.scale), ("beta", dbeta, self.center)) if on}
        return self.from_last_axis(dx, axis), grads

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
                      scale=self.scale, synchronized=self.synchronized)
        return config
