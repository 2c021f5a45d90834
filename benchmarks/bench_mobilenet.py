"""The small MobileNet of examples/fashion_mobilenet.py: minicnn against the same network in PyTorch,
training and predicting, interleaved in one run.

    python benchmarks/bench_mobilenet.py                          # train at batch 128, predict at 1000
    python benchmarks/bench_mobilenet.py --rounds 3 --steps 5 --threads 2

The minicnn network is the example's ``mobilenet`` with its Adam. The PyTorch one has the same
layers and shapes (NCHW, as PyTorch wants it): the scaling by 1/255 and a random horizontal flip of
each training image inside the model, convolutions without biases, each depthwise convolution a
``Conv2d(C, C, 3, groups=C)``, BatchNorm2d with eps 1e-3 and momentum ``1 - BN_MOMENTUM`` (Keras
counts the momentum from the other side), ReLU6, AdaptiveAvgPool2d(1), Dropout, Linear, Adam(1e-3,
eps 1e-7). Its stride-2 convolutions pad one pixel on each side where Keras's "same" pads only
after: the same shapes and work. The data are random images in [0, 255] (float32 for both: the
speed does not depend on the values). Rounds alternate minicnn and PyTorch, as in bench_resnet.py,
under the same malloc settings and thread count. PyTorch is a benchmark-only peer (pip install
torch==2.13.0).
"""
import argparse
import os
import statistics
import sys

import numpy as np

from common import REPO, header, interleaved as common_interleaved, torch_steps

import minicnn
from minicnn.cpu.threads import set_num_threads
from minicnn.optimizers import Adam

sys.path.insert(0, str(REPO / "examples"))
from fashion_mobilenet import BLOCKS, BN_MOMENTUM, STEM_FILTERS, mobilenet  # noqa: E402


def random_batches(n, seed=0):
    """``n`` random images (N, 28, 28, 1) float32 in [0, 255] and integer labels (N,)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 28, 28, 1)).astype(np.float32)
    return x, rng.integers(0, 10, n)


def minicnn_model():
    model = mobilenet((28, 28, 1))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(learning_rate=1e-3), metrics=["accuracy"])
    return model


def minicnn_runner(args, x, y):
    model = minicnn_model()

    def train_steps(n, offset):
        for i in range(n):
            lo = ((offset + i) * args.batch) % (len(x) - args.batch + 1)
            model._train_step([x[lo:lo + args.batch]], [y[lo:lo + args.batch]])

    def predict(n_samples):
        model.predict(x[:n_samples], batch_size=args.predict_batch)
    return train_steps, predict


def torch_model():
    """The example's MobileNet in PyTorch, with its Adam."""
    import torch
    from torch import nn

    class Preprocess(nn.Module):
        """Rescaling(1/255), then RandomFlip("horizontal"): each image mirrored with probability 1/2 in training."""

        def forward(self, x):
            x = x * (1.0 / 255)
            if self.training:
                flip = torch.rand(x.shape[0], 1, 1, 1) < 0.5
                x = torch.where(flip, x.flip(3), x)
            return x

    def conv_bn_relu6(c_in, c_out, k=1, stride=1, groups=1):
        return [nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(c_out, eps=1e-3, momentum=1 - BN_MOMENTUM), nn.ReLU6()]

    layers, c = [Preprocess(), *conv_bn_relu6(1, STEM_FILTERS, 3)], STEM_FILTERS
    for filters, strides in BLOCKS:
        layers += conv_bn_relu6(c, c, 3, strides, groups=c)  # depthwise
        layers += conv_bn_relu6(c, filters)  # pointwise
        c = filters
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c, 10)]
    net = nn.Sequential(*layers)
    return net, torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)


def torch_runner(args, x, y):
    import torch
    net, opt = torch_model()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return torch_steps(net, opt, xt, torch.from_numpy(y), args.batch, args.predict_batch)


def interleaved(args, x, y, frameworks):
    """{"train": {name: [samples/s per round]}, "predict": {...}}, rounds alternating the frameworks."""
    makers = {"minicnn": minicnn_runner, "torch": torch_runner}
    runners = {name: makers[name](args, x, y) for name in frameworks}
    return common_interleaved(runners, args, min(len(x), args.predict_samples))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="training steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--predict-samples", type=int, default=2000)
    p.add_argument("--predict-batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="minicnn's workers and PyTorch's threads")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--malloc", default="tuned", choices=["tuned", "default"],
                   help="tuned: minicnn's glibc malloc settings for the whole process (PyTorch's too); "
                        "default: glibc's defaults for both")
    args = p.parse_args()
    if args.malloc == "default":
        os.environ["MINICNN_MALLOC_TUNING"] = "0"
    minicnn.cpu.allocator.tune_malloc()  # before either framework allocates: both run under it
    set_num_threads(args.threads)
    frameworks = ["minicnn"]
    model = minicnn_model()
    params = {"minicnn": sum(int(w.size) for w in model.trainable_weights)}
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
            torch.manual_seed(0)
            frameworks.append("torch")
            params["torch"] = sum(t.numel() for t in torch_model()[0].parameters())  # the moving statistics are buffers
        except ImportError:
            pass
    print(header(args))
    x, y = random_batches(max(args.batch * (args.steps + 1), args.predict_samples))
    print(f"data: random 28x28x1 images, {len(x)} samples; model: examples/fashion_mobilenet.py's MobileNet "
          f"({', '.join(f'{name} {n:,}' for name, n in params.items())} trainable parameters)\n")
    rates = interleaved(args, x, y, frameworks)
    print("| what | batch | minicnn samples/s | torch samples/s | ratio minicnn/torch "
          "| per-round ratios: median (range) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for what, batch in (("train", args.batch), ("predict", args.predict_batch)):
        ours = statistics.median(rates[what]["minicnn"])
        theirs = rates[what].get("torch")
        if theirs:
            pairs = [a / b for a, b in zip(rates[what]["minicnn"], theirs)]
            print(f"| {what} | {batch} | {ours:.0f} | {statistics.median(theirs):.0f} | "
                  f"{ours / statistics.median(theirs):.2f}x | {statistics.median(pairs):.2f}x "
                  f"({min(pairs):.2f}-{max(pairs):.2f}) |")
        else:
            print(f"| {what} | {batch} | {ours:.0f} | - | - | - |")


if __name__ == "__main__":
    main()
