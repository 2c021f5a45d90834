"""Gradients with respect to the input: a saliency map and the fast-gradient-sign attack on the MNIST CNN.

    python examples/mnist_saliency_fgsm.py                  # 2 epochs on the embedded sample, then both
    python examples/mnist_saliency_fgsm.py --epsilons 0.05 0.1 0.2 0.3 --plot saliency.png

It trains the tutorial CNN of ``mnist_conv.py`` briefly (Adadelta, batch 128, by default 2 epochs
on the embedded 10k sample: ``--data`` as the other examples take it), then asks
``minicnn.GradientTape`` for gradients with respect to the test images instead of the weights:

- **Saliency** (Simonyan, Vedaldi and Zisserman, 2014): ``|d score / d x|``, where the score is the
  logit of the predicted class (the last Dense layer before its softmax: a probability near 1 has
  a gradient near 0, and it can grow by lowering the other classes). Bright pixels are those whose
  change moves the score most. The PNG (``--plot PNG``, default ``mnist_saliency.png``; ``--no-plot``
  for none; needs matplotlib) shows the first test digits, their maps, and each digit after the
  attack below at the middle epsilon, with what the model predicts.
- **FGSM** (Goodfellow, Shlens and Szegedy, 2015): ``x_adv = clip(x + eps * sign(d loss / d x), 0, 1)``
  with the crossentropy of the true label as the loss. It prints the clean test accuracy and the
  accuracy on the attacked test images for each ``eps`` (``--epsilons``, default 0.05 0.1 0.2).

Both are a few lines of user code: the model called inside the tape is one record with its own
hand-written backward, and ``tape.watch(x)`` makes the images a source of gradients.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import figure_option, limit, load_mnist, matplotlib_missing, parser, prepare_images, setup  # noqa: E402
from mnist_conv import build_model  # noqa: E402

import minicnn  # noqa: E402
from minicnn import GradientTape, Model, ops  # noqa: E402

PLOT = "mnist_saliency.png"
EPSILONS = (0.05, 0.1, 0.2)
DIGITS_SHOWN = 8
DATA_HELP = "a Keras mnist.npz or IDX folder, 'mnist' (cache or download), or 'sample' (embedded). Default: sample"


def epsilon(text):
    """``--epsilons``'s values: a number in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a step size in (0, 1] (pixels are in [0, 1]), got {text}")
    return value


def logits_function(model):
    """``x (N, 28, 28, 1) -> logits (N, 10)`` of the trained ``model``: its layers up to the hidden
    Dense (a functional model sharing their weights), then the last Dense's product without its softmax.
    Written with :mod:`minicnn.ops`, so that a GradientTape records it."""
    features = Model(model.inputs, model.layers[-2].output)
    kernel, bias = model.layers[-1].get_weights()

    def logits(x):
        return ops.matmul(features(x), kernel) + bias
    return logits


def saliency(logits_of, x):
    """``(|d logit_c / d x|, c)`` for each image of ``x`` (N, 28, 28, 1) and its predicted class c:
    maps (N, 28, 28) and classes (N,). The sum of the predicted logits has, for each image, the
    gradient of its own logit: no image's score depends on another image."""
    with GradientTape() as tape:
        tape.watch(x)
        logits = logits_of(x)
        predicted = ops.argmax(logits, axis=-1)
        score = ops.sum(logits * ops.one_hot(predicted, logits.shape[-1]))
    grad = tape.gradient(score, x)
    return np.abs(ops.convert_to_numpy(grad))[..., 0], ops.convert_to_numpy(predicted)


def fgsm(logits_of, x, y, epsilons, batch_size):
    """The fast-gradient-sign images of ``x`` (N, 28, 28, 1) in [0, 1] with one-hot labels ``y``
    (N, 10), one array like ``x`` per epsilon; the gradient is taken ``batch_size`` images at a time."""
    adversarial = [np.empty_like(x) for _ in epsilons]
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with GradientTape() as tape:
            tape.watch(xb)
            # a sum, not the mean: only the gradient's sign is used, and a sum keeps small ones from underflowing
            loss = ops.sum(ops.categorical_crossentropy(yb, logits_of(xb), from_logits=True))
        step = ops.sign(tape.gradient(loss, xb))
        for out, eps in zip(adversarial, epsilons):
            out[start:start + batch_size] = ops.convert_to_numpy(ops.clip(xb + eps * step, 0.0, 1.0))
    return adversarial


def save_figure(path, x, labels, maps, predicted, x_adv, predicted_adv, eps):
    """Write a PNG of three rows: the digits ``x`` (n, 28, 28, 1) titled with their ``labels`` and
    ``predicted`` classes, their saliency ``maps`` (n, 28, 28), each scaled to its own maximum, and the
    attacked digits ``x_adv`` with ``predicted_adv``. Returns ``path``.

    Raises:
        ImportError: if matplotlib is missing.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from minicnn.saving import atomic_write

    n = len(x)
    fig, axes = plt.subplots(3, n, figsize=(1.3 * n + 0.8, 5.0), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(x[i, :, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
        axes[0, i].set_title(f"label {labels[i]}\npredicted {predicted[i]}", fontsize=8)
        axes[1, i].imshow(maps[i] / max(float(maps[i].max()), 1e-12), cmap="hot", vmin=0.0, vmax=1.0)
        axes[2, i].imshow(x_adv[i, :, :, 0], cmap="gray", vmin=0.0, vmax=1.0)
        axes[2, i].set_title(f"predicted {predicted_adv[i]}", fontsize=8,
                             color="black" if predicted_adv[i] == labels[i] else "red")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax, name in zip(axes[:, 0], ["digit", "|d score / d x|", f"FGSM, eps={eps:g}"]):
        ax.set_ylabel(name, fontsize=8)
    fig.suptitle("Saliency of the predicted class's logit, and the fast-gradient-sign attack", fontsize=9)
    fig.tight_layout()
    atomic_write(os.fspath(path), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return path


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=2, data_help=DATA_HELP)
    p.set_defaults(data="sample")  # the point is the gradients, not the training: the quick, offline data
    figure_option(p, PLOT, "digits, saliency maps and attacked digits")
    p.add_argument("--epsilons", type=epsilon, nargs="+", default=list(EPSILONS), metavar="EPS",
                   help="the attack's step sizes, in the pixel units of [0, 1] (default "
                        f"{' '.join(str(e) for e in EPSILONS)})")
    args = p.parse_args(argv)
    setup(args)
    missing = matplotlib_missing() if args.plot else None
    if missing:
        print(missing)
    data, text = load_mnist(args.data)
    print(text)
    (x_train, y_train), (x_test, y_test) = prepare_images(limit(data, args.limit))

    model = build_model()
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=1)
    print(f"Training time: {time.perf_counter() - start:.1f} s ({args.epochs} epochs, batch {args.batch_size}, "
          f"backend {minicnn.get_backend()})")
    print(f"Test accuracy: {model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)[1]:.4f}")

    logits_of = logits_function(model)
    start = time.perf_counter()
    adversarial = fgsm(logits_of, x_test, y_test, args.epsilons, args.batch_size)
    attack_time = time.perf_counter() - start
    for eps, x_adv in zip(args.epsilons, adversarial):
        accuracy = model.evaluate(x_adv, y_test, batch_size=args.batch_size, verbose=0)[1]
        print(f"Test accuracy under FGSM, eps={eps:g}: {accuracy:.4f}")
    print(f"Attack gradients: {attack_time:.1f} s for {len(x_test)} test images")

    if missing:
        print(f"No PNG written: {missing}")
    elif args.plot:
        n = min(DIGITS_SHOWN, len(x_test))
        x, labels = x_test[:n], y_test[:n].argmax(axis=1)
        maps, predicted = saliency(logits_of, x)
        middle = len(args.epsilons) // 2
        x_adv = adversarial[middle][:n]
        predicted_adv = model.predict(x_adv, verbose=0).argmax(axis=1)
        save_figure(args.plot, x, labels, maps, predicted, x_adv, predicted_adv, args.epsilons[middle])
        print(f"Saliency maps and attacked digits written to {os.path.abspath(args.plot)}")


if __name__ == "__main__":
    main()
