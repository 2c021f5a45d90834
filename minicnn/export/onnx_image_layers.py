"""The image layers as ONNX nodes: convolutions, pooling, resampling, padding and cropping.

Each function takes the graph, the layer, the input :class:`~minicnn.export.onnx_graph.Value` and
the node (for the input's static shape) and returns the output Value. ONNX's windowed operators
read NCHW: a channels-last layer asks for its input in the form ``(0, 3, 1, 2)`` and hands its
output on in that form; a channels-first one uses the user's form as it is.

Keras's "same" padding is written out as explicit pads (ONNX's ``SAME_UPPER`` would agree, but the
explicit numbers are the ones minicnn computes, from :mod:`minicnn.nn.geometry`).
"""
from minicnn.export.onnx_activations import activate
from minicnn.export.onnx_graph import Value
from minicnn.layers.spatial import image_shape
from minicnn.nn.conv_transpose import conv_transpose_length
from minicnn.nn.geometry import conv_padding

NCHW_OF_NHWC = (0, 3, 1, 2)


def nchw(layer):
    """The form of a 4-D tensor in which ``layer``'s images are NCHW."""
    return NCHW_OF_NHWC if layer.data_format == "channels_last" else (0, 1, 2, 3)


def spatial_axes(layer):
    """The user's axes of an image's rows and columns for ``layer``'s data format."""
    return (1, 2) if layer.data_format == "channels_last" else (2, 3)


def _same_pads(layer, node, window, strides):
    """ONNX pads [top, left, bottom, right] of a window over the input (Keras's rule)."""
    H, W, _ = image_shape(layer, node.inputs[0].shape[1:])
    (pt, pb), (pl, pr) = (conv_padding(n, k, s, layer.padding) for n, k, s in zip((H, W), window, strides))
    return [pt, pl, pb, pr]


def _extent(layer):
    return [(k - 1) * d + 1 for k, d in zip(layer.kernel_size, layer.dilation_rate)]


def _bias(g, layer):
    return [g.weight(layer.params["bias"], f"{layer.name}/bias")] if layer.use_bias else []


def conv2d(g, layer, x, node):
    """Conv: the kernel (KH, KW, C, F) as ONNX's (F, C, KH, KW)."""
    perm = nchw(layer)
    kernel = g.weight(layer.params["kernel"], f"{layer.name}/kernel", "FCHW", lambda a: a.transpose(3, 2, 0, 1))
    y = g.op("Conv", [x.form(perm), kernel, *_bias(g, layer)], layer.name, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             pads=_same_pads(layer, node, _extent(layer), layer.strides))
    return activate(g, layer.activation, Value(g, y, 4, perm), layer.name)


def _depthwise(g, layer, x, node, bias):
    """The depthwise step as a Conv with one group per input channel: output channel c*M + m is
    input channel c under kernel m, which is the order ONNX's groups give (KH, KW, C, M) ->
    (C*M, 1, KH, KW)."""
    KH, KW, C, M = layer.params["depthwise_kernel"].shape
    kernel = g.weight(layer.params["depthwise_kernel"], f"{layer.name}/depthwise_kernel", "grouped",
                      lambda a: a.transpose(2, 3, 0, 1).reshape(C * M, 1, KH, KW))
    return g.op("Conv", [x.form(nchw(layer)), kernel, *bias], layer.name, group=C, kernel_shape=[KH, KW],
                strides=list(layer.strides), dilations=list(layer.dilation_rate),
                pads=_same_pads(layer, node, _extent(layer), layer.strides))


def depthwise_conv2d(g, layer, x, node):
    y = _depthwise(g, layer, x, node, _bias(g, layer))
    return activate(g, layer.activation, Value(g, y, 4, nchw(layer)), layer.name)


def separable_conv2d(g, layer, x, node):
    """The depthwise Conv (no bias), then a 1x1 Conv (1, 1, C*M, F) -> (F, C*M, 1, 1) with the bias."""
    d = _depthwise(g, layer, x, node, [])
    pointwise = g.weight(layer.params["pointwise_kernel"], f"{layer.name}/pointwise_kernel", "FCHW",
                         lambda a: a.transpose(3, 2, 0, 1))
    y = g.op("Conv", [d, pointwise, *_bias(g, layer)], layer.name, kernel_shape=[1, 1])
    return activate(g, layer.activation, Value(g, y, 4, nchw(layer)), layer.name)


def conv2d_transpose(g, layer, x, node):
    """ConvTranspose: the kernel (KH, KW, F, C) as ONNX's (C, F, KH, KW).

    ONNX computes the full output, (n-1)*s + EK rows, then removes ``pads`` at both ends (and adds
    ``output_padding`` rows at the end). minicnn's output starts ``pt`` rows into the full one
    (the pad of the Conv2D it is the adjoint of) and may run past its end by at most s-1 rows, the
    rows no window reaches: those are ONNX's output_padding.
    """
    H, W, _ = image_shape(layer, node.inputs[0].shape[1:])
    op = (None, None) if layer.output_padding is None else layer.output_padding
    begin, end, extra = [], [], []
    for n, k, s, d, o in zip((H, W), layer.kernel_size, layer.strides, layer.dilation_rate, op):
        out, (pt, _) = conv_transpose_length(n, k, s, d, layer.padding, o)
        full = (n - 1) * s + (k - 1) * d + 1
        past = max(0, pt + out - full)
        begin.append(pt)
        end.append(full + past - pt - out)
        extra.append(past)
    kernel = g.weight(layer.params["kernel"], f"{layer.name}/kernel", "CFHW", lambda a: a.transpose(3, 2, 0, 1))
    y = g.op("ConvTranspose", [x.form(nchw(layer)), kernel, *_bias(g, layer)], layer.name,
             kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate), pads=begin + end, output_padding=extra)
    return activate(g, layer.activation, Value(g, y, 4, nchw(layer)), layer.name)


def max_pooling2d(g, layer, x, node):
    """MaxPool: ONNX never takes a padded position as the maximum, as Keras's -inf padding."""
    y = g.op("MaxPool", [x.form(nchw(layer))], layer.name, kernel_shape=list(layer.pool_size),
             strides=list(layer.strides), pads=_same_pads(layer, node, layer.pool_size, layer.strides))
    return Value(g, y, 4, nchw(layer))


def average_pooling2d(g, layer, x, node):
    """AveragePool over the non-padded inputs only (count_include_pad=0), as Keras's "same"."""
    y = g.op("AveragePool", [x.form(nchw(layer))], layer.name, kernel_shape=list(layer.pool_size),
             strides=list(layer.strides), pads=_same_pads(layer, node, layer.pool_size, layer.strides),
             count_include_pad=0)
    return Value(g, y, 4, nchw(layer))


def _global(op_type):
    """A reduction over the rows and columns, in whatever form the input is (no transpose)."""
    def export(g, layer, x, node):
        axes = sorted(x.axis(a) for a in spatial_axes(layer))
        y = g.op(op_type, [x.name], layer.name, axes=axes, keepdims=int(layer.keepdims))
        # Without keepdims only the batch and channel axes remain, in that order in every form.
        return x.like(y) if layer.keepdims else Value(g, y, 2)
    return export


global_average_pooling2d = _global("ReduceMean")
global_max_pooling2d = _global("ReduceMax")


def up_sampling2d(g, layer, x, node):
    """Resize by integer factors: "nearest" repeats (asymmetric coordinates, floor), "bilinear"
    interpolates with half-pixel centres, clamped at the edges (Keras 3's and minicnn's rule)."""
    scales = g.const([1.0, 1.0, *map(float, layer.size)], f"{layer.name}/scales")
    if layer.interpolation == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    y = g.op("Resize", [x.form(nchw(layer)), "", scales], layer.name, **attrs)
    return Value(g, y, 4, nchw(layer))


def zero_padding2d(g, layer, x, node):
    """Pad with zeros, on the input's native form."""
    pads = [0] * 8
    for user_axis, (before, after) in zip(spatial_axes(layer), layer.padding):
        pads[x.axis(user_axis)], pads[4 + x.axis(user_axis)] = before, after
    return x.like(g.op("Pad", [x.name, g.const(pads, f"{layer.name}/pads", "int64")], layer.name))


def cropping2d(g, layer, x, node):
    """Slice the rows and columns kept, on the input's native form."""
    sizes = node.inputs[0].shape
    axes, starts, ends = [], [], []
    for user_axis, (before, after) in zip(spatial_axes(layer), layer.cropping):
        axes.append(x.axis(user_axis))
        starts.append(before)
        ends.append(sizes[user_axis] - after)
    inputs = [x.name] + [g.const(v, f"{layer.name}/{what}", "int64")
                         for v, what in ((starts, "starts"), (ends, "ends"), (axes, "axes"))]
    return x.like(g.op("Slice", inputs, layer.name))
