"""Each built-in layer as ONNX nodes: the table :data:`LAYERS` and :func:`export_layer`.

A layer is looked up by its exact class: a subclass may compute something else, so it is refused
by name rather than exported as its parent. The image layers are in :mod:`.onnx_image_layers`;
here are the rest (dense, flatten, activations, normalizations, merges, reshapes) and the layers
that are the identity at inference (dropout, noise, random augmentation).
"""
import numpy as np

from minicnn import backend
from minicnn import layers as L
from minicnn.export import onnx_image_layers as image
from minicnn.export.onnx_activations import activate, relu_general
from minicnn.export.onnx_graph import Value


def _identity(g, layer, x, node):
    return x


def dense(g, layer, x, node):
    """Gemm for x (N, D) @ kernel (D, units) + bias; MatMul (and Add) for x (N, ..., D), the product
    at every position."""
    kernel = g.weight(layer.params["kernel"], f"{layer.name}/kernel")
    bias = [g.weight(layer.params["bias"], f"{layer.name}/bias")] if layer.use_bias else []
    if x.rank == 2:
        y = g.op("Gemm", [x.user(), kernel, *bias], layer.name)
    else:
        y = g.op("MatMul", [x.user(), kernel], layer.name)
        y = g.op("Add", [y, *bias], layer.name) if bias else y
    return activate(g, layer.activation, Value(g, y, x.rank), layer.name)


def flatten(g, layer, x, node):
    """Flatten in channels-last order: a channels-first layer moves the channels last first."""
    if layer.data_format == "channels_first" and x.rank > 2:
        name = x.form((0, *range(2, x.rank), 1))
    else:
        name = x.user()
    return Value(g, g.op("Flatten", [name], layer.name, axis=1), 2)


def reshape(g, layer, x, node):
    """Reshape to (batch, *output_shape); 0 keeps the batch size as it comes."""
    shape = g.const([0, *layer.output_shape], f"{layer.name}/shape", "int64")
    return Value(g, g.op("Reshape", [x.user(), shape], layer.name), len(layer.output_shape) + 1)


def activation(g, layer, x, node):
    return activate(g, layer.activation, x, layer.name)


def relu(g, layer, x, node):
    return relu_general(g, x, layer.name, layer.negative_slope, layer.max_value, layer.threshold)


def leaky_relu(g, layer, x, node):
    return x.like(g.op("LeakyRelu", [x.name], layer.name, alpha=layer.negative_slope))


def softmax(g, layer, x, node):
    """Softmax on one axis; on several, written out as exp(x - max) / sum over them."""
    if not isinstance(layer.axis, tuple):
        return activate(g, "softmax", x, layer.name, axis=layer.axis)
    axes = sorted(x.axis(a) for a in layer.axis)
    shifted = g.op("Sub", [x.name, g.op("ReduceMax", [x.name], layer.name, axes=axes, keepdims=1)], layer.name)
    e = g.op("Exp", [shifted], layer.name)
    total = g.op("ReduceSum", [e, g.const(axes, f"{layer.name}/axes", "int64")], layer.name, keepdims=1)
    return x.like(g.op("Div", [e, total], layer.name))


def _along(g, values, user_axis, x, base):
    """A constant of ``values`` along the user's axis ``user_axis`` of x, broadcasting over x's
    other axes in x's native form."""
    shape = [1] * x.rank
    shape[x.axis(user_axis)] = -1
    return g.const(np.asarray(values, dtype=np.float32).reshape(shape), base)


def batch_normalization(g, layer, x, node):
    """The moving statistics: ONNX's BatchNormalization where the feature axis is axis 1 of the
    input's form (after a convolution, or on (N, C)); else x * scale + shift, folded as minicnn does."""
    p = {k: np.asarray(backend.to_numpy(v), dtype=np.float32) for k, v in layer.params.items()}
    C = p["moving_mean"].shape[0]
    gamma, beta = p.get("gamma", np.ones(C, np.float32)), p.get("beta", np.zeros(C, np.float32))
    axis = layer._feature_axis(x.rank)
    if x.axis(axis) == 1:
        names = [g.const(a, f"{layer.name}/{what}") for a, what in
                 ((gamma, "gamma"), (beta, "beta"), (p["moving_mean"], "moving_mean"),
                  (p["moving_variance"], "moving_variance"))]
        return x.like(g.op("BatchNormalization", [x.name, *names], layer.name, epsilon=layer.epsilon))
    scale = gamma / np.sqrt(p["moving_variance"] + np.float32(layer.epsilon))
    shift = beta - p["moving_mean"] * scale
    y = g.op("Mul", [x.name, _along(g, scale, axis, x, f"{layer.name}/scale")], layer.name)
    return x.like(g.op("Add", [y, _along(g, shift, axis, x, f"{layer.name}/shift")], layer.name))


def _normalize(g, x, axes, eps, base):
    """(x - mean) / sqrt(var + eps) over ``axes`` (of the name x), the biased variance."""
    d = g.op("Sub", [x, g.op("ReduceMean", [x], base, axes=axes, keepdims=1)], base)
    var = g.op("ReduceMean", [g.op("Mul", [d, d], base)], base, axes=axes, keepdims=1)
    return g.op("Div", [d, g.op("Sqrt", [g.op("Add", [var, g.const(eps, "epsilon")], base)], base)], base)


def layer_normalization(g, layer, x, node):
    """ONNX's LayerNormalization where the normalised axes are the last ones of a form of x; the
    formula written out otherwise."""
    axes = layer._axes(x.rank)
    gamma, beta = (layer.params.get(k) for k in ("gamma", "beta"))
    for perm in (x.native, tuple(range(x.rank))):
        trailing = perm[x.rank - len(axes):]
        if sorted(trailing) == list(axes):
            # The weights span the axes in increasing order; the form has them in ``trailing``'s.
            order = [axes.index(a) for a in trailing]
            sizes = [node.inputs[0].shape[a] for a in trailing]
            ones = np.ones(sizes, np.float32)
            scale = g.weight(gamma, f"{layer.name}/gamma", str(order), lambda a: a.transpose(order)) \
                if gamma is not None else g.const(ones, f"{layer.name}/ones")
            bias = [g.weight(beta, f"{layer.name}/beta", str(order), lambda a: a.transpose(order))] \
                if beta is not None else []
            y = g.op("LayerNormalization", [x.form(perm), scale, *bias], layer.name,
                     axis=x.rank - len(axes), epsilon=layer.epsilon)
            return Value(g, y, x.rank, perm)
    y = _normalize(g, x.user(), list(axes), layer.epsilon, layer.name)
    for name, a in (("gamma", gamma), ("beta", beta)):
        if a is not None:
            w = g.weight(a, f"{layer.name}/{name}", "broadcast", lambda v: layer._broadcast(v, x.rank))
            y = g.op("Mul" if name == "gamma" else "Add", [y, w], layer.name)
    return Value(g, y, x.rank)


def group_normalization(g, layer, x, node):
    """Channels to axis 1, (N, C, *S) -> (N, G, C/G * prod(S)), normalised on the last axis, back
    to (N, C, *S), then per-channel gamma and beta."""
    axis = layer._channel_axis(x.rank)
    perm = (0, axis, *[a for a in range(1, x.rank) if a != axis])
    sizes = [node.inputs[0].shape[a] for a in perm[1:]]
    groups = layer._group_count(node.inputs[0].shape[1:])
    grouped = g.op("Reshape", [x.form(perm), g.const([0, groups, -1], f"{layer.name}/groups", "int64")], layer.name)
    y = _normalize(g, grouped, [2], layer.epsilon, layer.name)
    y = g.op("Reshape", [y, g.const([0, *sizes], f"{layer.name}/shape", "int64")], layer.name)
    out = Value(g, y, x.rank, perm)
    for name in ("gamma", "beta"):
        if name in layer.params:
            w = g.weight(layer.params[name], f"{layer.name}/{name}", "channels",
                         lambda v: v.reshape(-1, *[1] * (x.rank - 2)))
            out = out.like(g.op("Mul" if name == "gamma" else "Add", [out.name, w], layer.name))
    return out


def rescaling(g, layer, x, node):
    """x * scale + offset; a list is per channel (the last axis, or axis 1 of channels-first images)."""
    channel = 1 if layer._channels_first and x.rank == 4 else x.rank - 1

    def constant(v, what):
        return _along(g, v, channel, x, f"{layer.name}/{what}") if isinstance(v, list) else g.const(v, what)
    y = g.op("Mul", [x.name, constant(layer.scale, "scale")], layer.name)
    if layer.offset != 0:
        y = g.op("Add", [y, constant(layer.offset, "offset")], layer.name)
    return x.like(y)


def _merge_inputs(g, xs):
    """Names of the inputs in one form, their rank and that form: their shared native one when they
    agree; else the user's, a shorter input given size-1 axes after the batch axis (as Keras)."""
    if len({(x.rank, x.native) for x in xs}) == 1:
        return [x.name for x in xs], xs[0].rank, xs[0].native
    R = max(x.rank for x in xs)
    names = [x.user() if x.rank == R else
             g.op("Unsqueeze", [x.user(), g.const(list(range(1, R - x.rank + 1)), "unsqueeze_axes", "int64")],
                  "merge")
             for x in xs]
    return names, R, tuple(range(R))


def _merge(op_type, fold=False, divide=False):
    def export(g, layer, xs, node):
        names, rank, perm = _merge_inputs(g, xs)
        if fold:  # a binary operator, applied left to right
            y = names[0]
            for n in names[1:]:
                y = g.op(op_type, [y, n], layer.name)
        else:
            y = g.op(op_type, names, layer.name)
        if divide:
            y = g.op("Div", [y, g.const(float(len(names)), f"{layer.name}/count")], layer.name)
        return Value(g, y, rank, perm)
    return export


def concatenate(g, layer, xs, node):
    names, rank, perm = _merge_inputs(g, xs)
    axis = perm.index(layer._axis_for(rank - 1) + 1)
    return Value(g, g.op("Concat", names, layer.name, axis=axis), rank, perm)


LAYERS = {
    L.Dense: dense, L.Flatten: flatten, L.Reshape: reshape, L.Activation: activation, L.ReLU: relu,
    L.LeakyReLU: leaky_relu, L.Softmax: softmax,
    L.Conv2D: image.conv2d, L.DepthwiseConv2D: image.depthwise_conv2d, L.SeparableConv2D: image.separable_conv2d,
    L.Conv2DTranspose: image.conv2d_transpose,
    L.MaxPooling2D: image.max_pooling2d, L.AveragePooling2D: image.average_pooling2d,
    L.GlobalAveragePooling2D: image.global_average_pooling2d, L.GlobalMaxPooling2D: image.global_max_pooling2d,
    L.UpSampling2D: image.up_sampling2d, L.ZeroPadding2D: image.zero_padding2d, L.Cropping2D: image.cropping2d,
    L.BatchNormalization: batch_normalization, L.LayerNormalization: layer_normalization,
    L.GroupNormalization: group_normalization, L.Rescaling: rescaling,
    L.Add: _merge("Sum"), L.Subtract: _merge("Sub", fold=True), L.Multiply: _merge("Mul", fold=True),
    L.Average: _merge("Sum", divide=True), L.Maximum: _merge("Max"), L.Minimum: _merge("Min"),
    L.Concatenate: concatenate,
    # The identity at inference: what they do happens in training only.
    L.Dropout: _identity, L.SpatialDropout2D: _identity, L.GaussianNoise: _identity, L.GaussianDropout: _identity,
    L.RandomFlip: _identity, L.RandomRotation: _identity, L.RandomTranslation: _identity, L.RandomZoom: _identity,
    L.RandomContrast: _identity,
}


def export_layer(g, layer, x, node):
    """The output Value(s) of ``layer`` called on ``x`` (a Value, or a list for merges) at ``node``.

    Raises:
        ValueError: for a layer whose class is not in :data:`LAYERS`, naming the layer and its class.
    """
    export = LAYERS.get(type(layer))
    if export is None and type(layer).__name__ == "OpLayer":  # a keras.ops call in the graph
        from minicnn.export.onnx_ops import op_layer
        export = op_layer
    if export is None:
        parent = next((c.__name__ for c in type(layer).__mro__[1:] if c in LAYERS), None)
        why = (f"it subclasses {parent}, and its own code may compute something else" if parent else
               "minicnn has no ONNX form for it")
        raise ValueError(
            f"model.export: layer '{layer.name}' ({type(layer).__name__}) cannot be exported to ONNX: {why}. "
            f"ONNX export covers minicnn's built-in layers ({', '.join(sorted(c.__name__ for c in LAYERS))}). "
            "Build the model from those layers (copying the trained weights with set_weights), or export the "
            "part of the model without this layer: keras.Model(inputs, the output just before it).")
    return export(g, layer, x, node)
