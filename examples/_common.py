"""Shared command-line handling of the examples: data choice, backend, timing, plots.

Not an example itself: the examples import it (run one of them, e.g. ``examples/mnist_conv.py``).
Every example takes the same flags: ``--epochs --batch-size --data --backend --plot --seed`` and
``--limit N`` (train on the first N samples, test on the first N/4: a quick run).
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import minicnn
from minicnn.backend import BackendUnavailableError
from minicnn.callbacks import TensorBoard
from minicnn.datasets import mnist
from minicnn.utils import to_categorical

MNIST_DATA_HELP = ("a Keras mnist.npz or IDX folder, 'mnist' (cache or download), or 'sample' (embedded). "
                   "Default: full MNIST when available, else the sample")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def parser(description, epochs=12, batch_size=128, data_metavar="PATH|mnist|sample", data_help=MNIST_DATA_HELP):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"training epochs (default {epochs})")
    p.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=f"batch size (default {batch_size})")
    p.add_argument("--data", default=None, metavar=data_metavar, help=data_help)
    p.add_argument("--backend", choices=["numpy", "cupy"], default=None,
                   help="array backend (default: MINICNN_BACKEND or numpy)")
    p.add_argument("--plot", metavar="PNG", nargs="?", const="history.png", default=None,
                   help="save the training history plot (default file history.png)")
    p.add_argument("--seed", type=int, default=None, help="seed every random draw for a reproducible run")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="train on the first N samples and test on the first N/4 (for quick runs)")
    return p


def figure_option(p, default, what):
    """Make ``--plot`` write this example's own figure (``what``) to ``default`` unless told another
    PNG, and add ``--no-plot`` (the shared ``--plot`` is the training history's)."""
    for action in p._actions:
        if action.dest == "plot":
            action.default = action.const = default
            action.help = f"save the PNG of {what} there (default {default})"
    p.add_argument("--no-plot", dest="plot", action="store_const", const=None, help="write no PNG")


def matplotlib_missing():
    """Why no PNG can be written (a sentence), or None when matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed, so no PNG is written (pip install 'minicnn[plot]')."
    return None


def setup(args):
    """Apply --backend and --seed; exits with the reason when the asked-for backend is unavailable."""
    if args.backend:
        try:
            minicnn.set_backend(args.backend)
        except BackendUnavailableError as e:
            raise SystemExit(f"--backend {args.backend}: {e}") from None
    if args.seed is not None:
        minicnn.utils.set_random_seed(args.seed)


def load_from(load_data, path=None, asked=None):
    """``load_data(path=path)``, or ``load_data()`` for no path, for ``--data`` (``asked``: its value).

    Raises SystemExit (a message naming the path, exit status 1, no traceback) when the path
    does not exist or no copy of the data set can be read or downloaded.
    """
    asked = asked or path
    if path is not None and not Path(path).expanduser().exists():
        raise SystemExit(f"--data {path}: no such file or folder (--help says what --data takes).")
    try:
        return load_data() if path is None else load_data(path=path)
    except (OSError, ValueError) as e:  # DatasetNotFoundError, a corrupt file, a failed download
        raise SystemExit(f"--data {asked}: {e}") from None


def load_mnist(which):
    """``(data, description)`` for ``--data``: 'sample', 'mnist', a path, or None (the best available).

    Raises SystemExit with the reason when the asked-for data cannot be had.
    """
    if which == "sample":
        return mnist.load_sample(), "Training on the embedded 10k MNIST sample (8000 train / 2000 test), as asked"
    if which == "mnist":
        return load_from(mnist.load_data, asked="mnist"), "Training on full MNIST"
    if which:
        data = load_from(mnist.load_data, which)
        return data, f"Training on MNIST from {which} ({len(data[0][0])} train / {len(data[1][0])} test)"
    return mnist.load_default()


def limit(data, n):
    """The first ``n`` training and ``n // 4`` test samples of ``data`` (all of it for None)."""
    if n is None:
        return data
    (x_train, y_train), (x_test, y_test) = data
    m = max(1, n // 4)
    print(f"Using the first {min(n, len(x_train))} training and {min(m, len(x_test))} test samples (--limit {n})")
    return (x_train[:n], y_train[:n]), (x_test[:m], y_test[:m])


def prepare_images(data, channels_first=False):
    """uint8 (N, 28, 28) images -> float32 in [0, 1] with a channel axis; labels -> one-hot."""
    (x_train, y_train), (x_test, y_test) = data
    shape = (1, 28, 28) if channels_first else (28, 28, 1)
    x_train = x_train.reshape(-1, *shape).astype(np.float32) / 255
    x_test = x_test.reshape(-1, *shape).astype(np.float32) / 255
    return (x_train, to_categorical(y_train, 10)), (x_test, to_categorical(y_test, 10))


def train_and_report(model, args, train, test, validation_split=0.1, callbacks=None):
    """fit with the progress bar (and ``callbacks``), then print test loss/accuracy and wall time; plot if asked."""
    start = time.perf_counter()
    history = model.fit(*train, batch_size=args.batch_size, epochs=args.epochs, verbose=1,
                        validation_split=validation_split, callbacks=callbacks)
    return history, report(model, args, history, test, time.perf_counter() - start)


def report(model, args, history, test, train_time):
    """Print test loss/accuracy and the training time; plot ``history`` if asked. Returns the score."""
    score = model.evaluate(*test, verbose=0)
    print(f"Test loss: {score[0]:.4f}")
    print(f"Test accuracy: {score[1]:.4f}")
    print(f"Training time: {train_time:.1f} s ({args.epochs} epochs, batch {args.batch_size}, "
          f"backend {minicnn.get_backend()})")
    if args.plot:
        from minicnn.utils import plot_history
        plot_history(history, args.plot)
        print(f"History plot written to {args.plot}")
    return score


def tensorboard_callbacks(log_dir):
    """``[TensorBoard(log_dir)]`` for ``--tensorboard DIR``, [] without it; SystemExit (with the pip
    command) when the tensorboard package is missing, before any training."""
    if not log_dir:
        return []
    try:
        return [TensorBoard(log_dir)]
    except ImportError as e:
        raise SystemExit(f"--tensorboard {log_dir}: {e}") from None


def run_mnist_example(description, build_model, optimizer, epochs=12, argv=None, save=None):
    """An MNIST example from start to end: flags, data, summary, compile, train, test report, save.

    Args:
        description: the first line of the example's docstring (its --help text).
        build_model: a function returning the uncompiled Sequential model.
        optimizer: the optimizer name or object given to ``compile``.
        epochs: the default of ``--epochs``.
        save: the default of ``--save``, the file the trained model is saved to with ``model.save``
            (None: saved only when ``--save PATH`` is given; ``--no-save`` turns saving off).

    ``--tensorboard DIR`` adds a TensorBoard callback writing to DIR (none by default).
    """
    p = parser(description, epochs=epochs)
    default = f"default {save}" if save else "default: not saved"
    p.add_argument("--save", default=save, metavar="NPZ",
                   help=f"save the trained model there, for minicnn.models.load_model ({default})")
    p.add_argument("--no-save", dest="save", action="store_const", const=None, help="do not save the model")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="log the run to DIR for TensorBoard (view with: tensorboard --logdir DIR); needs "
                        "pip install 'minicnn[tensorboard]' (default: no log)")
    args = p.parse_args(argv)
    setup(args)
    callbacks = tensorboard_callbacks(args.tensorboard)
    data, text = load_mnist(args.data)
    print(text)
    train, test = prepare_images(limit(data, args.limit))
    model = build_model()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    result = train_and_report(model, args, train, test, callbacks=callbacks)
    if args.save:
        model.save(args.save)
        print(f"Model saved to {Path(args.save).resolve()} (minicnn.models.load_model reads it back)")
    return result


if __name__ == "__main__":
    print(f"{Path(__file__).name} is the examples' shared helper module, not an example: run one of the "
          "examples beside it, e.g. python examples/mnist_conv.py --help", file=sys.stderr)
    sys.exit(2)
