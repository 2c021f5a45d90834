"""examples/mnist_autoencoder.py and examples/fashion_mobilenet.py: the programs of the modern layers
run end to end, build the networks they describe, and learn (the slow tests)."""
import importlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from test_examples import EXAMPLES, accuracy_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MSE_LINE = re.compile(r"^Test mse: (\d\.\d{4}) \(the noisy inputs themselves: (\d\.\d{4})\)$", re.MULTILINE)
EPOCH_LINE = re.compile(r"^Seconds per epoch: \d+\.\d \(median of 1, with the validation pass\)$", re.MULTILINE)


@pytest.fixture
def example(monkeypatch):
    """Import an example as a module (its folder on sys.path, as when it runs)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def run_example(name, *args, cwd, timeout=120):
    """The example's stdout, run in a subprocess in ``cwd`` with no data directory and no display."""
    env = {**os.environ, "MPLBACKEND": "Agg", "MINICNN_DATA": str(cwd / "no-data-here")}
    env.pop("MINICNN_BACKEND", None)
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_autoencoder_runs_and_writes_its_png(tmp_path):
    out = run_example("mnist_autoencoder", "--data", "sample", "--limit", "256", "--epochs", "1", "--seed", "0",
                      "--plot", "digits.png", cwd=tmp_path)
    assert "Training on the embedded 10k MNIST sample" in out
    assert "Using the first 256 training and 64 test samples (--limit 256)" in out
    for name in ("encoder", "decoder", "autoencoder"):
        assert f'Model: "{name}"' in out
    assert "Total params: 178,001" in out  # Keras's script: 69,008 + 108,993
    assert re.search(r"^2/2 .* - val_loss: ", out, re.MULTILINE), out[-2000:]  # 256 / 128 batches
    mse, noisy = (float(v) for v in MSE_LINE.search(out).groups())
    assert 0 < mse < 1 and 0.25 < noisy < 0.4  # the noise: mean 0.5, stddev 0.5, clipped
    assert EPOCH_LINE.search(out) and "Training time: " in out
    if has_matplotlib():
        assert f"Noisy, denoised and clean test digits written to {tmp_path / 'digits.png'}" in out
        assert (tmp_path / "digits.png").read_bytes()[:8] == PNG_MAGIC
        assert os.listdir(tmp_path) == ["digits.png"]
    else:
        assert "No PNG written: matplotlib is not installed" in out and os.listdir(tmp_path) == []


def test_autoencoder_default_png_and_no_plot(example, monkeypatch, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    main = example("mnist_autoencoder").main
    quick = ["--data", "sample", "--limit", "128", "--epochs", "1", "--seed", "0"]
    main(quick)
    assert f"written to {tmp_path / 'denoised.png'}" in capsys.readouterr().out
    matplotlib_image = pytest.importorskip("matplotlib.image")
    height, width = matplotlib_image.imread(tmp_path / "denoised.png").shape[:2]
    assert height > 150 and width > 3 * height  # three rows of ten digits, with their labels
    (tmp_path / "denoised.png").unlink()
    main(quick + ["--no-plot"])
    assert "written to" not in capsys.readouterr().out and os.listdir(tmp_path) == []


def test_autoencoder_without_matplotlib_says_so_and_trains(example, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    example("mnist_autoencoder").main(["--data", "sample", "--limit", "128", "--epochs", "1", "--seed", "0"])
    out = capsys.readouterr().out
    assert out.startswith("matplotlib is not installed, so no PNG is written "
                          "(pip install 'minicnn[plot]').\n")
    assert "Test mse: " in out and "No PNG written: matplotlib is not installed" in out
    assert os.listdir(tmp_path) == []


def test_autoencoder_is_an_encoder_and_a_decoder_model(example):
    from minicnn import Model
    from minicnn.layers import Conv2D, Conv2DTranspose
    encoder, decoder, autoencoder = example("mnist_autoencoder").build_models()
    assert [type(layer).__name__ for layer in autoencoder.layers] == ["InputLayer", "Model", "Model"]
    assert autoencoder.layers[1] is encoder and autoencoder.layers[2] is decoder
    assert isinstance(encoder, Model) and isinstance(decoder, Model)
    assert (encoder.count_params(), decoder.count_params(), autoencoder.count_params()) == (69_008, 108_993, 178_001)
    assert encoder.output_shape == (None, 16) and decoder.input_shape == (None, 16)
    assert autoencoder.output_shape == (None, 28, 28, 1)
    convs = [layer for layer in encoder.layers if type(layer) is Conv2D]
    assert [c.strides for c in convs] == [(2, 2), (2, 2)] and [c.filters for c in convs] == [32, 64]
    transposed = [layer for layer in decoder.layers if type(layer) is Conv2DTranspose]
    assert [(t.filters, t.strides) for t in transposed] == [(64, (2, 2)), (32, (2, 2)), (1, (1, 1))]
    assert decoder.layers[-1].get_config()["activation"] == "sigmoid"
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    # one set of weights: the autoencoder is the decoder of the encoder
    np.testing.assert_allclose(autoencoder.predict(x, verbose=0),
                               decoder.predict(encoder.predict(x, verbose=0), verbose=0), rtol=1e-5, atol=1e-6)


def test_noise_is_keras_scripts(example):
    add_noise = example("mnist_autoencoder").add_noise
    x = np.zeros((200, 28, 28, 1), np.float32)
    noisy = add_noise(x, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == x.shape and noisy.min() == 0 and noisy.max() == 1
    assert noisy.mean() == pytest.approx(0.5, abs=0.01)  # mean 0.5, clipped evenly on both sides
    assert np.mean(noisy == 0) == pytest.approx(0.16, abs=0.01)  # P(N(0.5, 0.5) < 0) = 0.159
    np.testing.assert_array_equal(noisy, add_noise(x, np.random.default_rng(0)))
    # the noise is added to the image: the same draws on white pixels saturate wherever they are positive
    assert np.all(add_noise(np.ones_like(x), np.random.default_rng(0))[noisy > 0.5] == 1)


def test_mobilenet_runs_on_uint8_images(tmp_path, shared_data):
    out = run_example("fashion_mobilenet", "--data", str(shared_data / "fashion-mnist"), "--limit", "256",
                      "--epochs", "1", "--seed", "0", "--batch-size", "64", cwd=tmp_path)
    assert "Fashion-MNIST" in out and "(60000 train / 10000 test)" in out
    assert "Using the first 256 training and 64 test samples (--limit 256)" in out
    assert 'Model: "mobilenet"' in out and "Total params: 37,706" in out
    assert "Non-trainable params: 1,408" in out  # the moving means and variances of 9 BatchNormalizations
    assert "37,706 parameters; the tutorial CNN of fashion_mnist_conv.py: 600,810" in out
    assert re.search(r"^4/4 .* - val_accuracy: ", out, re.MULTILINE), out[-2000:]  # 230 / 64 batches
    assert 0 <= accuracy_of(out) <= 1 and EPOCH_LINE.search(out)
    assert "First test images, predicted (true): " in out and os.listdir(tmp_path) == []


def test_mobilenet_is_the_documented_network(example):
    from minicnn.layers import (BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Dropout, GlobalAveragePooling2D,
                                InputLayer, RandomFlip, ReLU, Rescaling)
    module = example("fashion_mobilenet")
    model = module.mobilenet()
    kinds = [type(layer) for layer in model.layers]
    assert kinds[:3] == [InputLayer, Rescaling, RandomFlip] and kinds[-3:] == [GlobalAveragePooling2D, Dropout, Dense]
    assert model.layers[1].scale == pytest.approx(1 / 255) and model.layers[2].mode == "horizontal"
    assert model.layers[-1].get_config()["activation"] == "softmax"
    depthwise = [layer for layer in model.layers if type(layer) is DepthwiseConv2D]
    assert [d.strides for d in depthwise] == [(2, 2), (1, 1), (2, 2), (1, 1)]
    pointwise = [layer for layer in model.layers if type(layer) is Conv2D][1:]
    assert [p.filters for p in pointwise] == [64, 64, 128, 128] and {p.kernel_size for p in pointwise} == {(1, 1)}
    relus = [layer for layer in model.layers if type(layer) is ReLU]
    assert len(relus) == 9 and {r.max_value for r in relus} == {6.0}
    assert kinds.count(BatchNormalization) == 9
    assert all(not layer.use_bias for layer in depthwise + pointwise)
    assert model.count_params() == 37_706 and model.output_shape == (None, 10)
    # uint8 images go in as they are: the model scales them, and flips nothing at inference
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    np.testing.assert_allclose(model.predict(images, verbose=0), model.predict(images.astype(np.float32), verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["mnist_autoencoder", "fashion_mobilenet"])
def test_the_examples_take_the_shared_flags(example, capsys, name):
    with pytest.raises(SystemExit) as exit_info:
        example(name).main(["--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    for flag in ("--epochs", "--batch-size", "--data", "--backend", "--plot", "--seed", "--limit"):
        assert flag in help_text, (name, flag)
    if name == "mnist_autoencoder":
        assert "(default denoised.png)" in help_text and "--no-plot" in help_text and "(default 30)" in help_text


@pytest.mark.parametrize("name", ["mnist_autoencoder", "fashion_mobilenet"])
def test_a_missing_data_path_is_a_clear_exit(tmp_path, name):
    env = {**os.environ, "MINICNN_DATA": str(tmp_path / "no-data-here")}
    done = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--data", "/nonexistent/path"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "--data /nonexistent/path: no such file or folder" in done.stderr, done.stderr[-3000:]


@pytest.mark.slow
def test_autoencoder_denoises_the_sample(tmp_path):
    """10 epochs of the 8,000-digit sample (Keras's script: 30 of 60,000). Measured on the 2-core AMD
    EPYC: test mse 0.0260 (seed 0) and 0.0259 (seed 1), the noisy inputs 0.329; 7 s an epoch quiet.
    The mse sits near 0.068 (the mean digit) for about four epochs, then falls."""
    out = run_example("mnist_autoencoder", "--data", "sample", "--epochs", "10", "--seed", "0", "--plot",
                      "digits.png", cwd=tmp_path, timeout=900)
    mse, noisy = (float(v) for v in MSE_LINE.search(out).groups())
    assert mse < 0.035 and noisy > 0.3, out[-3000:]


@pytest.mark.slow
def test_mobilenet_learns_fashion_mnist(tmp_path, shared_data):
    """3 epochs of 10,000 images (9,000 trained on), tested on 2,500. Measured on the 2-core AMD
    EPYC: test accuracy 0.8148 (seed 0); the tutorial CNN of fashion_mnist_conv.py with the same
    flags: 0.8124."""
    out = run_example("fashion_mobilenet", "--data", str(shared_data / "fashion-mnist"), "--limit", "10000",
                      "--epochs", "3", "--seed", "0", cwd=tmp_path, timeout=900)
    assert accuracy_of(out) > 0.77, out[-3000:]


def test_uint8_images_into_a_rescaling_model_are_not_warned_about():
    """The unscaled-integers warning is for models that do not scale their inputs themselves."""
    import warnings

    import numpy as np

    import minicnn as keras
    from minicnn.layers import Dense, Flatten, Rescaling
    x = np.full((8, 4, 4, 1), 200, dtype=np.uint8)
    y = np.arange(8) % 2
    inputs = keras.Input(shape=(4, 4, 1))
    model = keras.Model(inputs, Dense(2, activation="softmax")(Flatten()(Rescaling(1 / 255)(inputs))))
    model.compile("sgd", "sparse_categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, verbose=0)
