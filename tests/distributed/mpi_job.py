"""One small training run, the same under `mpiexec -n N python mpi_job.py OUT ...` and in a single
process: each rank saves its own weights to OUT/rank<r>.npz (bitwise, not through minicnn's
rank-0-only saving), and rank 0 writes OUT/result.json with the history and evaluate's values."""
import argparse
import json
import os

import numpy as np

import minicnn
from minicnn import Sequential, distributed
from minicnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from minicnn.optimizers import SGD, Adam
from minicnn.regularizers import l1_l2, l2
from minicnn.utils import set_random_seed


def graph_model(kw):
    """Two inputs (an image and a vector), a residual add around a convolution, and two outputs."""
    image, vector = minicnn.Input(shape=(8, 8, 1), **kw), minicnn.Input(shape=(8,), **kw)
    a = Conv2D(4, 3, padding="same", activation="relu", **kw)(image)
    b = Conv2D(4, 3, padding="same", use_bias=False, **kw)(a)  # no bias before BN (its gradient is 0)
    b = BatchNormalization(momentum=0.5, synchronized=True, **kw)(b)
    h = Flatten(**kw)(MaxPooling2D(**kw)(minicnn.layers.add([a, b], **kw)))
    h = minicnn.layers.concatenate([h, Dense(4, activation="tanh", **kw)(vector)], **kw)
    return minicnn.Model([image, vector], [Dense(3, activation="softmax", name="cls", **kw)(h),
                                           Dense(2, name="reg", **kw)(h)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    p.add_argument("--samples", type=int, default=48)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batchnorm", choices=["none", "local", "synchronized"], default="none")
    p.add_argument("--dropout", action="store_true")
    p.add_argument("--dtype", default="float64")
    p.add_argument("--fail-on-rank", type=int, default=-1)
    p.add_argument("--callbacks", action="store_true")
    p.add_argument("--regularizers", action="store_true")
    p.add_argument("--backup", help="a BackupAndRestore folder, kept after the run")
    p.add_argument("--graph", action="store_true", help="a functional model: two inputs, a residual add, two outputs")
    args = p.parse_args()
    if distributed.rank() == args.fail_on_rank:  # the other ranks go on and wait for it in fit
        raise RuntimeError(f"rank {args.fail_on_rank} fails on purpose")
    set_random_seed(5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, 8, 8, 1)).astype(args.dtype)
    y = np.eye(3, dtype=args.dtype)[rng.integers(0, 3, args.samples)]
    kw = dict(dtype=args.dtype)
    penalties = dict(kernel_regularizer=l1_l2(0.01, 0.02), bias_regularizer=l2(0.05)) if args.regularizers else {}
    layers = [Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1), **penalties, **kw), MaxPooling2D(**kw)]
    if args.batchnorm != "none":
        layers.append(BatchNormalization(momentum=0.5, synchronized=args.batchnorm == "synchronized", **kw))
    if args.dropout:
        layers.append(Dropout(0.3, **kw))
    layers += [Flatten(**kw), Dense(6, activation="relu", **kw), Dense(3, activation="softmax", **penalties, **kw)]
    model = graph_model(kw) if args.graph else Sequential(layers)
    if args.graph:
        model.compile(optimizer=SGD(0.1, momentum=0.9) if args.optimizer == "sgd" else Adam(0.01),
                      loss={"cls": "categorical_crossentropy", "reg": "mse"}, loss_weights=[1.0, 0.5],
                      metrics={"cls": ["accuracy"]})
        x, y = [x, x[:, :, :, 0].mean(axis=1)], [y, x.mean(axis=(1, 2))[:, :1].repeat(2, axis=1)]
    else:
        model.compile(optimizer=SGD(0.1, momentum=0.9) if args.optimizer == "sgd" else Adam(0.01),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    callbacks = []
    if args.callbacks:
        callbacks = [minicnn.callbacks.CSVLogger(os.path.join(args.out, "log.csv")),
                     minicnn.callbacks.ModelCheckpoint(os.path.join(args.out, "ckpt.npz"), verbose=1)]
    if args.backup:
        callbacks.append(minicnn.callbacks.BackupAndRestore(args.backup, delete_checkpoint=False))
    history = model.fit(x, y, batch_size=args.batch, epochs=args.epochs, verbose=2, callbacks=callbacks,
                        validation_split=0.25)
    evaluated = model.evaluate(x, y, batch_size=5, verbose=0)
    np.savez(os.path.join(args.out, f"rank{distributed.rank()}.npz"), *model.get_weights())
    if distributed.is_main():
        with open(os.path.join(args.out, "result.json"), "w") as f:
            json.dump({"history": history.history, "evaluate": evaluated, "size": distributed.size()}, f)
    print("done on rank", distributed.rank())


if __name__ == "__main__":
    main()
