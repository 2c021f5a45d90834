"""LayerNormalization and GroupNormalization as Keras 3 defines them: thin layers over
:mod:`minicnn.nn.layer_norm`. Each sample is normalised on its own, so, unlike
BatchNormalization, they keep no statistics and act the same in training and inference."""
import numbers

from minicnn import initializers, regularizers
from minicnn.layers.base import Layer
from minicnn.nn.layer_norm import groupnorm_backward, groupnorm_forward, layernorm_backward, layernorm_forward


class _SampleNormalization(Layer):
    """What both share: epsilon, center (beta), scale (gamma), their initialisers and regularisers."""

    def __init__(self, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
            raise TypeError(f"{self.name}: epsilon must be a number, got {epsilon!r}.")
        if not epsilon > 0:
            raise ValueError(f"{self.name}: epsilon must be positive, got {epsilon}.")
        for what, value in (("beta_constraint", beta_constraint), ("gamma_constraint", gamma_constraint)):
            if value is not None:
                raise ValueError(f"{self.name}: {what} is not supported (minicnn has no weight constraints); "
                                 "leave it None.")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.initializers = {"gamma": initializers.get(gamma_initializer), "beta": initializers.get(beta_initializer)}
        for name, reg in (("gamma", gamma_regularizer), ("beta", beta_regularizer)):
            if reg is not None:
                self.regularizers[name] = regularizers.get(reg)
        self.trainable_names = tuple(n for n, on in (("gamma", self.scale), ("beta", self.center)) if on)

    def _create_params(self, input_shape):
        shape = self._param_shape(input_shape)
        for name in self.trainable_names:
            self.params[name] = self._new_param(self.initializers[name], shape)

    def _grads(self, dgamma, dbeta):
        """The weights' gradients in the weights' own shapes."""
        return {name: d.reshape(self.params[name].shape)
                for name, d in (("gamma", dgamma), ("beta", dbeta)) if name in self.params}

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon, center=self.center, scale=self.scale,
                      beta_initializer=initializers.serialize(self.initializers["beta"]),
                      gamma_initializer=initializers.serialize(self.initializers["gamma"]))
        return config


def _axis_list(axis, layer):
    """An int or a list/tuple of ints, checked; returned as given (int or list)."""
    items = axis if isinstance(axis, (list, tuple)) else [axis]
    if not items or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in items):
        raise TypeError(f"{layer}: axis must be an integer or a non-empty list of integers, got {axis!r}.")
    return [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)


class LayerNormalization(_SampleNormalization):
    """Normalise each sample over ``axis`` (Ba et al., 2016), then scale by gamma and shift by beta.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta``, with the mean and (biased) variance
    of each sample over the normalised axes, and gamma and beta spanning those axes.

    Args:
        axis: the axis or list of axes to normalise over, counted with the batch axis as Keras
            does (-1: the last, the features or channels-last channels; [1, 2, 3]: a whole image).
            Default -1. The batch axis cannot be one.
        epsilon: 1e-3. center (beta), scale (gamma): True.
        beta_initializer ("zeros"), gamma_initializer ("ones"), beta_regularizer,
        gamma_regularizer: as Keras's. beta_constraint, gamma_constraint: must be None.
    Weights: [gamma, beta] (each only if scale/center), of the normalised axes' sizes in
        increasing axis order, as Keras lays them out.

    Raises:
        TypeError: for an axis that is not an integer or a list of them, a non-numeric epsilon.
        ValueError: for epsilon <= 0; at build, for an axis the input lacks, the batch axis, or
            an axis named twice.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_list(axis, self.name)

    def _axes(self, ndim):
        """The normalised axes of a batch with ``ndim`` axes: sorted, non-negative."""
        given = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = [a + ndim if a < 0 else a for a in given]
        if any(not 0 <= a < ndim for a in axes):
            raise ValueError(f"{self.name}: axis={self.axis} is out of bounds for inputs of {ndim} axes (the batch "
                             f"axis included, as Keras counts them).")
        if 0 in axes:
            raise ValueError(f"{self.name}: axis={self.axis} names the batch axis (0); LayerNormalization normalises "
                             "each sample over its own axes, e.g. axis=-1 or axis=[1, 2, 3].")
        if len(set(axes)) != len(axes):
            raise ValueError(f"{self.name}: axis={self.axis} names an axis twice.")
        return tuple(sorted(axes))

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape) + 1)
        return tuple(input_shape)

    def _param_shape(self, input_shape):
        return tuple(input_shape[a - 1] for a in self._axes(len(input_shape) + 1))

    def _broadcast(self, param, ndim):
        """A weight reshaped to broadcast against a batch with ``ndim`` axes (a view)."""
        if param is None:
            return None
        axes = self._axes(ndim)
        return param.reshape([param.shape[axes.index(a)] if a in axes else 1 for a in range(ndim)])

    def forward(self, x, training=False):
        """The same in training and inference; the cache is the op's."""
        return layernorm_forward(x, self._broadcast(self.params.get("gamma"), x.ndim),
                                 self._broadcast(self.params.get("beta"), x.ndim), self._axes(x.ndim), self.epsilon)

    def backward(self, dy, cache):
        dx, dgamma, dbeta = layernorm_backward(dy, cache)
        return dx, self._grads(dgamma, dbeta)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


class GroupNormalization(_SampleNormalization):
    """Normalise each sample's channels in ``groups`` groups (Wu and He, 2018), for small batches.

    The channels on ``axis`` are split into ``groups`` consecutive groups; each group is
    normalised over its channels and every position together, then each channel is scaled by
    its gamma and shifted by its beta. ``groups=1`` normalises a whole sample (LayerNormalization
    over every axis, with per-channel weights); ``groups=-1`` (one group per channel) is instance
    normalization.

    Args:
        groups: the number of groups, dividing the number of channels; -1 for one per channel.
            Default 32.
        axis: the channel axis, counted with the batch axis: -1 for channels-last images, 1 for
            channels-first. Default -1.
        epsilon: 1e-3. center, scale, initializers, regularizers: as LayerNormalization's.
    Weights: [gamma, beta] (C,) (each only if scale/center).

    Raises:
        TypeError/ValueError: for groups not a positive integer or -1, an axis not an integer;
            at build, for an axis the input lacks (or the batch axis), more groups than channels,
            or a number of channels that groups does not divide.
    """

    def __init__(self, groups=32, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or (groups < 1 and groups != -1):
            raise ValueError(f"{self.name}: groups must be a positive integer, or -1 for one group per channel "
                             f"(instance normalization); got {groups!r}.")
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"{self.name}: axis must be an integer (the channel axis), got {axis!r}.")
        self.groups, self.axis = int(groups), int(axis)

    def _channel_axis(self, ndim):
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ValueError(f"{self.name}: axis={self.axis} does not name a channel axis of inputs with per-sample "
                             f"shape of {ndim - 1} dimension(s) (the batch axis is 0).")
        return axis

    def _group_count(self, input_shape):
        C = input_shape[self._channel_axis(len(input_shape) + 1) - 1]
        groups = C if self.groups == -1 else self.groups
        if groups > C:
            raise ValueError(f"{self.name}: groups={groups} is more than the {C} channels on axis {self.axis}.")
        if C % groups:
            raise ValueError(f"{self.name}: groups={groups} does not divide the {C} channels on axis {self.axis}; "
                             f"use a divisor of {C}.")
        return groups

    def compute_output_shape(self, input_shape):
        self._group_count(input_shape)
        return tuple(input_shape)

    def _param_shape(self, input_shape):
        return (input_shape[self._channel_axis(len(input_shape) + 1) - 1],)

    def forward(self, x, training=False):
        """The same in training and inference; the cache is the op's."""
        return groupnorm_forward(x, self.params.get("gamma"), self.params.get("beta"),
                                 self._group_count(x.shape[1:]), self._channel_axis(x.ndim), self.epsilon)

    def backward(self, dy, cache):
        dx, dgamma, dbeta = groupnorm_backward(dy, cache)
        return dx, self._grads(dgamma, dbeta)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups, axis=self.axis)
        return config
