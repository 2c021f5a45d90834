"""model.export(path, format="onnx"): every exported model passes onnx.checker and predicts in
onnxruntime (the independent reference runtime) what minicnn's predict does.

Agreement: |onnxruntime - minicnn| <= 1e-5 * |minicnn| + 1e-5 * max|minicnn output|, elementwise.
The second term is there because float32 sums of many terms (a convolution's) lose digits
absolutely, not relatively: an output near zero that results from cancellation carries an error
of the size of the terms, which is at most the scale of the outputs.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minicnn as keras
from minicnn import layers as L
from minicnn.models import Sequential

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def randomize(model, seed=0):
    """Weights drawn at random, biases included; BatchNormalization's moving variance positive and
    away from 1, its moving mean away from 0, so that the moving statistics matter."""
    rng = np.random.default_rng(seed)
    weights = []
    for name, a in model._named_weights():  # names tell a moving variance from the rest
        if name.endswith("moving_variance"):
            weights.append(rng.uniform(0.5, 2.0, a.shape))
        else:
            weights.append(rng.normal(0, 0.5, a.shape))
    model.set_weights([w.astype(np.float32) for w in weights])
    return model


def run_onnx(model, xs, tmp_path):
    """Export, check, and run in onnxruntime; the outputs as a list."""
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", verbose=False)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == model.input_names
    for i in session.get_inputs():
        assert i.shape[0] == "batch"
    return session.run(None, dict(zip(names, xs)))


def check(model, tmp_path, batches=(7,), seed=0, scale=1.0):
    """Exported predictions equal minicnn's, for inputs of each batch size."""
    randomize(model, seed)
    rng = np.random.default_rng(seed + 1)
    shapes = [t.shape[1:] for t in model.inputs]
    for n in batches:
        xs = [(scale * rng.normal(size=(n, *s))).astype(np.float32) for s in shapes]
        want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        if isinstance(want, dict):
            want = [want[k] for k in model.output_names]
        want = want if isinstance(want, list) else [want]
        got = run_onnx(model, xs, tmp_path)
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == b.shape and a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(np.abs(b).max(), 1e-3))


def seq(input_shape, *layers):
    return Sequential([keras.Input(shape=input_shape), *layers])


CF = dict(data_format="channels_first")

LAYER_MODELS = {
    # convolutions
    "conv_valid": lambda: seq((9, 8, 3), L.Conv2D(4, 3, activation="relu")),
    "conv_same_stride2_odd": lambda: seq((7, 9, 2), L.Conv2D(4, (3, 2), strides=2, padding="same")),
    "conv_same_pads_differ": lambda: seq((8, 9, 2), L.Conv2D(4, (3, 1), strides=2, padding="same")),
    "conv_same_even_kernel": lambda: seq((8, 8, 2), L.Conv2D(3, 4, padding="same", use_bias=False)),
    "conv_dilated": lambda: seq((10, 9, 2), L.Conv2D(3, 3, dilation_rate=2, padding="same", activation="tanh")),
    "conv_channels_first": lambda: seq((2, 8, 7), L.Conv2D(3, 3, strides=2, padding="same", **CF)),
    "depthwise": lambda: seq((8, 8, 3), L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")),
    "depthwise_stride_valid": lambda: seq((9, 9, 3), L.DepthwiseConv2D(3, strides=2, use_bias=False)),
    "depthwise_channels_first": lambda: seq((3, 8, 8), L.DepthwiseConv2D(3, padding="same", **CF)),
    "separable": lambda: seq((8, 8, 3), L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same",
                                                          activation="relu")),
    "separable_dilated_cf": lambda: seq((3, 9, 9), L.SeparableConv2D(4, 3, dilation_rate=2, **CF)),
    "transpose_valid": lambda: seq((5, 6, 3), L.Conv2DTranspose(4, 3)),
    "transpose_valid_s2": lambda: seq((5, 6, 3), L.Conv2DTranspose(4, 3, strides=2)),
    "transpose_k1_s2": lambda: seq((4, 5, 2), L.Conv2DTranspose(3, 1, strides=2)),  # rows no window reaches
    "transpose_same_s2": lambda: seq((5, 4, 3), L.Conv2DTranspose(4, 3, strides=2, padding="same")),
    "transpose_same_k2_s2": lambda: seq((4, 4, 3), L.Conv2DTranspose(2, 2, strides=2, padding="same")),
    "transpose_output_padding": lambda: seq((4, 5, 2), L.Conv2DTranspose(3, 3, strides=2, padding="same",
                                                                          output_padding=1)),
    "transpose_valid_output_padding": lambda: seq((4, 4, 2), L.Conv2DTranspose(3, 3, strides=3, output_padding=2)),
    "transpose_dilated": lambda: seq((5, 5, 2), L.Conv2DTranspose(3, 3, dilation_rate=2, padding="same")),
    "transpose_channels_first": lambda: seq((2, 4, 5), L.Conv2DTranspose(3, 3, strides=2, padding="same", **CF)),
    # pooling
    "maxpool_valid": lambda: seq((9, 8, 2), L.MaxPooling2D(2)),
    "maxpool_same_odd": lambda: seq((7, 9, 2), L.MaxPooling2D(3, strides=2, padding="same")),
    "maxpool_cf": lambda: seq((2, 7, 7), L.MaxPooling2D(2, padding="same", **CF)),
    "avgpool_same_odd": lambda: seq((7, 9, 2), L.AveragePooling2D(3, strides=2, padding="same")),
    "avgpool_same_pads_differ": lambda: seq((8, 5, 2), L.AveragePooling2D((3, 1), strides=(2, 1), padding="same")),
    "avgpool_same_s1": lambda: seq((5, 6, 2), L.AveragePooling2D(3, strides=1, padding="same")),
    "avgpool_valid_cf": lambda: seq((2, 8, 8), L.AveragePooling2D(2, **CF)),
    "global_avg": lambda: seq((6, 5, 3), L.GlobalAveragePooling2D()),
    "global_max_keepdims": lambda: seq((6, 5, 3), L.GlobalMaxPooling2D(keepdims=True)),
    "global_after_conv_keepdims_cf": lambda: seq((3, 6, 6), L.Conv2D(4, 3, **CF),
                                                 L.GlobalAveragePooling2D(keepdims=True, **CF)),
    "global_max_after_conv": lambda: seq((6, 6, 3), L.Conv2D(4, 3), L.GlobalMaxPooling2D()),
    # normalization (moving statistics set at random by `randomize`)
    "batchnorm_after_conv": lambda: seq((6, 6, 2), L.Conv2D(3, 3), L.BatchNormalization()),
    "batchnorm_on_input_nhwc": lambda: seq((5, 5, 3), L.BatchNormalization(epsilon=0.01)),
    "batchnorm_dense": lambda: seq((6,), L.Dense(4), L.BatchNormalization(center=False, scale=False)),
    "batchnorm_channels_first": lambda: seq((3, 5, 5), L.BatchNormalization(axis=1)),
    "batchnorm_rows_after_conv": lambda: seq((5, 4, 3), L.Conv2D(2, 1), L.BatchNormalization(axis=1)),
    "batchnorm_axis_rows": lambda: seq((5, 4, 3), L.BatchNormalization(axis=1)),
    "layernorm_last": lambda: seq((5, 5, 3), L.Conv2D(4, 3), L.LayerNormalization()),
    "layernorm_image": lambda: seq((5, 5, 3), L.LayerNormalization(axis=[1, 2, 3])),
    "layernorm_image_after_conv": lambda: seq((5, 4, 3), L.Conv2D(2, 1), L.LayerNormalization(axis=[1, 2, 3])),
    "layernorm_rows_cols_after_conv": lambda: seq((6, 5, 3), L.Conv2D(4, 3), L.LayerNormalization(axis=[1, 2])),
    "layernorm_rows": lambda: seq((5, 4, 3), L.LayerNormalization(axis=1, center=False)),
    "layernorm_dense": lambda: seq((6,), L.Dense(5), L.LayerNormalization(scale=False)),
    "groupnorm": lambda: seq((5, 5, 4), L.Conv2D(6, 3), L.GroupNormalization(groups=3)),
    "groupnorm_instance_cf": lambda: seq((4, 5, 5), L.GroupNormalization(groups=-1, axis=1)),
    "groupnorm_flat": lambda: seq((6,), L.GroupNormalization(groups=2, center=False)),
    # dense, flatten, reshape
    "dense_flatten": lambda: seq((4, 3, 2), L.Flatten(), L.Dense(5, activation="sigmoid")),
    "dense_on_images": lambda: seq((4, 3, 2), L.Dense(5, activation="relu"), L.Dense(3, use_bias=False)),
    "flatten_after_conv": lambda: seq((5, 5, 2), L.Conv2D(3, 3), L.Flatten(), L.Dense(4, use_bias=False)),
    "flatten_channels_first": lambda: seq((2, 5, 5), L.Conv2D(3, 3, **CF), L.Flatten(**CF), L.Dense(4)),
    "reshape": lambda: seq((12,), L.Dense(12), L.Reshape((2, -1, 3)), L.Conv2D(2, 1)),
    # activation layers
    "relu6_layer": lambda: seq((10,), L.ReLU(max_value=6.0)),
    "relu_threshold": lambda: seq((10,), L.ReLU(threshold=0.5)),
    "relu_all_options": lambda: seq((10,), L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25)),
    "relu_slope": lambda: seq((10,), L.ReLU(negative_slope=0.3)),
    "leaky_relu_layer": lambda: seq((10,), L.LeakyReLU(negative_slope=0.1)),
    "softmax_image_channels": lambda: seq((4, 4, 3), L.Conv2D(5, 1), L.Softmax()),
    "softmax_axis1": lambda: seq((4, 3, 2), L.Softmax(axis=1)),
    "softmax_two_axes": lambda: seq((4, 4, 3), L.Conv2D(3, 1), L.Softmax(axis=(1, 2))),
    # resampling, padding, cropping
    "upsample_nearest": lambda: seq((3, 4, 2), L.UpSampling2D((2, 3))),
    "upsample_bilinear": lambda: seq((3, 4, 2), L.UpSampling2D(2, interpolation="bilinear")),
    "upsample_bilinear_cf": lambda: seq((2, 3, 4), L.UpSampling2D((3, 2), interpolation="bilinear", **CF)),
    "zero_padding": lambda: seq((3, 4, 2), L.ZeroPadding2D(((1, 2), (0, 3)))),
    "zero_padding_after_conv": lambda: seq((5, 5, 2), L.Conv2D(3, 3), L.ZeroPadding2D(1)),
    "zero_padding_cf": lambda: seq((2, 3, 4), L.ZeroPadding2D((2, 1), **CF)),
    "cropping": lambda: seq((7, 8, 2), L.Cropping2D(((1, 2), (3, 0)))),
    "cropping_after_conv_cf": lambda: seq((2, 8, 8), L.Conv2D(3, 3, **CF), L.Cropping2D(1, **CF)),
    # preprocessing and regularisers: Rescaling computes, the rest are the identity at inference
    "rescaling": lambda: seq((4, 4, 3), L.Rescaling(1 / 255, offset=-0.5)),
    "rescaling_per_channel": lambda: seq((4, 4, 3), L.Rescaling([0.5, 2.0, -1.0], offset=[1.0, 0.0, 2.0])),
    "rescaling_per_channel_after_conv": lambda: seq((4, 5, 3), L.Conv2D(2, 1), L.Rescaling([0.5, -2.0])),
    "identity_layers": lambda: seq((8, 8, 3), L.RandomFlip(), L.RandomRotation(0.1), L.RandomTranslation(0.1, 0.1),
                                   L.RandomZoom(0.1), L.RandomContrast(0.2), L.GaussianNoise(0.5),
                                   L.Conv2D(4, 3), L.SpatialDropout2D(0.5), L.GaussianDropout(0.3), L.Flatten(),
                                   L.Dropout(0.5), L.Dense(3)),
}


@pytest.mark.parametrize("name", sorted(LAYER_MODELS))
def test_each_layer_agrees_with_minicnn(name, tmp_path):
    check(LAYER_MODELS[name](), tmp_path)


ACTIVATION_NAMES = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
                    "silu", "swish", "gelu", "hard_sigmoid", "exponential", "leaky_relu", "mish"]


def test_every_activation_of_minicnn_is_listed():
    from minicnn.nn.activations import ACTIVATIONS
    assert sorted(ACTIVATIONS) == sorted(ACTIVATION_NAMES)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_each_activation_agrees(activation, tmp_path):
    # Inputs of scale 3 reach the saturated ends (hard_sigmoid's, relu6's caps, softplus's tail).
    model = seq((4, 4, 2), L.Conv2D(3, 1, activation=activation), L.Flatten(), L.Dense(3), L.Activation(activation))
    check(model, tmp_path, scale=3.0)


def _merge_model(layer):
    a, b, c = keras.Input(shape=(4, 4, 2)), keras.Input(shape=(4, 4, 2)), keras.Input(shape=(4, 4, 3))
    x = L.Conv2D(3, 1)(a)                 # an NCHW-born tensor merged with ...
    y = L.Conv2D(3, 3, padding="same")(b)  # ... another, and ...
    inputs = [x, y] if isinstance(layer, L.Subtract) else [x, y, L.Activation("tanh")(c)]  # ... an NHWC one
    return keras.Model([a, b, c], layer(inputs))


@pytest.mark.parametrize("layer", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum,
                                   lambda: L.Concatenate(), lambda: L.Concatenate(axis=1)])
def test_merges_agree(layer, tmp_path):
    check(_merge_model(layer()), tmp_path)


def test_merges_of_two_born_nchw_stay_nchw(tmp_path):
    a = keras.Input(shape=(5, 5, 2), name="image")
    x, y = L.Conv2D(3, 3)(a), L.Conv2D(3, 3)(a)
    out = L.Activation("relu")(L.Concatenate(axis=-1)([L.add([x, y]), L.maximum([x, y])]))
    model = keras.Model(a, L.Conv2D(2, 1)(out))
    check(model, tmp_path)
    ops = [n.op_type for n in onnx.load(tmp_path / "model.onnx").graph.node]
    assert ops.count("Transpose") == 2  # into NCHW once, back to the user's NHWC once


def test_merges_broadcast_shorter_inputs_after_the_batch_axis(tmp_path):
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(4, 3))
    model = keras.Model([a, b], [L.Add()([a, b]), L.Multiply()([b, a]), L.Maximum()([a, b])])
    check(model, tmp_path)


def test_graph_with_shared_layer_nested_model_and_two_outputs(tmp_path):
    image, extra = keras.Input(shape=(6, 6, 2), name="image"), keras.Input(shape=(5,), name="extra")
    inner_in = keras.Input(shape=(6, 6, 2))
    inner = keras.Model(inner_in, L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(inner_in)), name="block")
    shared = L.Conv2D(2, 1, name="shared")
    x = shared(inner(image))
    x2 = shared(L.Conv2D(4, 1)(image))    # the shared layer's second call
    x = L.GlobalAveragePooling2D()(L.add([x, x2]))
    head = L.Dense(3, activation="softmax", name="head")(L.concatenate([x, L.Dense(4)(extra)]))
    model = keras.Model([image, extra], [head, L.Dense(1, name="value")(x)])
    check(model, tmp_path, batches=(1, 7))
    proto = onnx.load(tmp_path / "model.onnx")
    assert [o.name for o in proto.graph.output] == ["head", "value"]
    shared_kernels = [i for i in proto.graph.initializer if i.name.startswith("shared/kernel")]
    assert len(shared_kernels) == 1  # a shared layer's weights are stored once


def test_dict_outputs_are_named_by_their_keys(tmp_path):
    a = keras.Input(shape=(4,), name="features")
    model = keras.Model(a, {"score": L.Dense(1)(a), "probs": L.Dense(3, activation="softmax")(a)})
    check(model, tmp_path)
    assert [o.name for o in onnx.load(tmp_path / "model.onnx").graph.output] == ["probs", "score"]


def test_output_that_is_an_input_and_one_output_given_twice(tmp_path):
    a = keras.Input(shape=(4,), name="x")
    y = L.Dense(2, name="y")(a)
    check(keras.Model(a, [L.Dropout(0.5)(a), y, y]), tmp_path)
    assert [o.name for o in onnx.load(tmp_path / "model.onnx").graph.output][1:] == ["y", "y_1"]


# -- the example models ----------------------------------------------------------------------

def tutorial_cnn():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from mnist_conv import build_model
    return build_model()


def resnet_block():
    inputs = keras.Input(shape=(12, 12, 3))
    x = L.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = L.Activation("relu")(L.BatchNormalization()(x))
    shortcut = x
    y = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(x)))
    y = L.BatchNormalization()(L.Conv2D(8, 3, padding="same", use_bias=False)(y))
    x = L.Activation("relu")(L.add([y, shortcut]))
    shortcut = L.Conv2D(16, 1, strides=2)(x)  # a projection shortcut
    y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = L.ReLU()(L.add([L.Conv2D(16, 3, padding="same")(y), shortcut]))
    outputs = L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="resnet_block")


def mobilenet_block():
    inputs = keras.Input(shape=(16, 16, 3))
    x = L.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)))
    for stride, filters in ((1, 16), (2, 24)):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = L.ReLU(6.0)(L.BatchNormalization()(x))
        x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(filters, 1, use_bias=False)(x)))
    x = L.Dropout(0.2)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, L.Dense(5, activation="softmax")(x), name="mobilenet_block")


def autoencoder():
    inputs = keras.Input(shape=(16, 16, 1))
    x = L.MaxPooling2D(2, padding="same")(L.Conv2D(8, 3, padding="same", activation="relu")(inputs))
    encoded = L.MaxPooling2D(2, padding="same")(L.Conv2D(4, 3, padding="same", activation="relu")(x))
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(encoded)
    x = L.UpSampling2D(2)(L.Conv2D(8, 3, padding="same", activation="relu")(x))
    decoded = L.Conv2D(1, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(inputs, decoded, name="autoencoder")


@pytest.mark.parametrize("build", [tutorial_cnn, resnet_block, mobilenet_block, autoencoder])
def test_example_models_agree_for_batch_1_and_7(build, tmp_path):
    check(build(), tmp_path, batches=(1, 7))


def test_a_trained_batchnorm_model_exports_its_moving_statistics(tmp_path):
    model = seq((6, 6, 2), L.Conv2D(4, 3), L.BatchNormalization(momentum=0.5), L.Flatten(), L.Dense(2))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(2, 3, (32, 6, 6, 2)).astype(np.float32), rng.normal(size=(32, 2)).astype(np.float32),
              epochs=2, verbose=0)
    x = rng.normal(2, 3, (5, 6, 6, 2)).astype(np.float32)
    got = run_onnx(model, [x], tmp_path)[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


# -- errors ------------------------------------------------------------------------------------

def test_a_layer_without_onnx_form_is_named(tmp_path):
    class Doubling(L.Layer):
        def forward(self, x, training=False):
            return 2 * x, None

    class MyDense(L.Dense):
        pass

    for layer in (Doubling(name="doubler"), MyDense(3, name="my_dense")):
        model = seq((4,), layer)
        with pytest.raises(ValueError, match=rf"layer '{layer.name}' \({type(layer).__name__}\) cannot be exported"):
            model.export(tmp_path / "bad.onnx", format="onnx", verbose=False)
        assert not (tmp_path / "bad.onnx").exists()


def test_other_formats_are_refused_naming_the_supported_one(tmp_path):
    model = seq((4,), L.Dense(2))
    for fmt in ("tf_saved_model", "openvino", "ONNX"):
        with pytest.raises(ValueError, match=r"format=.*minicnn exports \['onnx'\]"):
            model.export(tmp_path / "m", format=fmt)
    with pytest.raises(ValueError, match="input_signature"):
        model.export(tmp_path / "m.onnx", format="onnx", input_signature=[(None, 4)])


def test_an_unbuilt_sequential_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        Sequential([L.Dense(2)]).export(tmp_path / "m.onnx", format="onnx")


def test_verbose_export_says_where(tmp_path, capsys):
    seq((4,), L.Dense(2)).export(tmp_path / "m.onnx", format="onnx")
    assert "m.onnx" in capsys.readouterr().out


def test_without_onnx_import_works_and_export_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None\n"  # None in sys.modules: `import onnx` fails
            "import minicnn\nfrom minicnn import layers as L, models\n"
            "m = models.Sequential([minicnn.Input(shape=(3,)), L.Dense(2)])\n"
            "try:\n    m.export('m.onnx', format='onnx')\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "pip install 'minicnn[onnx]'" in out.stdout, out.stderr
    assert not (tmp_path / "m.onnx").exists()


def _op_graph():
    """A functional model with keras.ops on its tensors (minicnn.ops.symbolic): elementwise ops with
    tensors and numbers, a channel mean, concatenate, reshape, transpose and softmax."""
    from minicnn import ops
    inputs = keras.Input(shape=(6, 6, 2))
    a = L.Conv2D(3, 3, padding="same")(inputs)
    b = L.Conv2D(3, 1)(inputs)
    x = ops.relu(a) * 0.5 + ops.maximum(b, 0.1) - ops.square(b) / 4.0
    x = ops.concatenate([x, ops.sigmoid(-a)], axis=-1)
    x = x + ops.mean(x, axis=(1, 2), keepdims=True)
    x = ops.transpose(ops.reshape(x, (-1, 36, 6)), (0, 2, 1))
    return keras.Model(inputs, ops.softmax(L.Dense(4)(L.Flatten()(x)), axis=-1))


def _reductions():
    from minicnn import ops
    inputs = keras.Input(shape=(4, 5))
    x = ops.sum(ops.abs(inputs), axis=-1) + ops.max(inputs, axis=2) - ops.min(inputs, axis=-1)
    return keras.Model(inputs, [x, ops.mean(ops.exp(inputs), axis=1), ops.prod(ops.tanh(inputs), axis=(1, 2))])


@pytest.mark.parametrize("build", [_op_graph, _reductions])
def test_keras_ops_nodes_are_exported(build, tmp_path):
    check(build(), tmp_path, batches=(1, 5))


def test_an_op_without_an_onnx_form_is_refused_by_name(tmp_path):
    from minicnn import ops
    inputs = keras.Input(shape=(4, 3))
    model = keras.Model(inputs, L.Flatten()(inputs[:, 1:, :]))
    with pytest.raises(ValueError, match=r"'getitem' is the op ops\.getitem"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists() and ops.getitem
