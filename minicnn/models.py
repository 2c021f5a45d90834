"""Sequential: a stack of layers with Keras's build, compile, fit, evaluate and predict.

The training step is plain to read: forward through the layers, loss and its gradient,
backward through the layers in reverse, one optimizer update::

    out = forward(x)                  # each layer caches what its backward needs
    loss, dout = loss_fn(y, out)      # or the fused softmax + crossentropy gradient
    backward(dout)                    # each layer fills layer.grads and frees its cache
    optimizer.apply_gradients(params, grads)
"""

import numpy as np

from minicnn import backend, losses as losses_mod, metrics as metrics_mod, optimizers
from minicnn import random as mrandom
from minicnn import data_checks as checks
from minicnn.callbacks import CallbackList, History
from minicnn.layers.base import Layer, unique_name
from minicnn.layers.core import InputLayer
from minicnn.ops.losses import crossentropy_value, softmax_crossentropy_backward
from minicnn.parallel import cpu_threads
from minicnn.utils.interrupt import deferred_interrupt
from minicnn.utils.progbar import Progbar


class Sequential:
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an ``Input``/``InputLayer`` may come first).
        name: the model's name (default ``sequential``, ``sequential_1``, ...).
    """

    def __init__(self, layers=None, name=None):
        self.name = name or unique_name("sequential")
        self._layers = []
        self.input_shape_ = None
        self.optimizer = self.loss = None
        self.metrics_names = []
        self.stop_training = False
        self.history = None
        self.compiled = False
        for layer in layers or []:
            self.add(layer)

    # -- building -----------------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        """Append a layer; with a known input shape it is built at once, so shape errors show here.

        Raises:
            TypeError: if ``layer`` is not a minicnn layer.
            ValueError: if the layer cannot take the previous layer's output.
        """
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a minicnn layer, got {layer!r} ({type(layer).__name__}).")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"{layer.name}: an Input can only be the first entry of a Sequential model.")
            self.input_shape_ = layer.declared_input_shape
            return
        previous_input_shape = self.input_shape_
        if layer.declared_input_shape is not None:
            if self._layers:
                raise ValueError(
                    f"{layer.name}: input_shape can only be given to the first layer; this layer takes "
                    f"the output of {self._layers[-1].name}.")
            self.input_shape_ = layer.declared_input_shape
        self._layers.append(layer)
        if self.input_shape_ is not None:
            shape = self.input_shape_ if len(self._layers) == 1 else self._layers[-2].output_shape
            try:
                checks.check_image_layout(self._layers, self.input_shape_)
                layer.build(shape)
            except Exception:
                # A layer that does not fit is not kept, so the model stays usable after the error.
                self._layers.pop()
                self.input_shape_ = previous_input_shape
                raise

    def build(self, input_shape=None):
        """Build every layer for a per-sample ``input_shape`` (a leading None batch axis is accepted).

        Raises:
            ValueError: if no input shape is known.
        """
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
            self.input_shape_ = tuple(int(d) for d in input_shape)
        if self.input_shape_ is None:
            raise ValueError(
                "The model has no input shape: give the first layer input_shape=(...) (e.g. "
                "Conv2D(32, (3, 3), input_shape=(28, 28, 1))), call model.build((None, 28, 28, 1)), or "
                "call fit/predict with data first.")
        if not self._layers:
            raise ValueError("The model has no layers; add some with model.add(...).")
        checks.check_image_layout(self._layers, self.input_shape_)
        shape = self.input_shape_
        for layer in self._layers:
            if not layer.built or layer.input_shape != shape:
                layer.build(shape)
            shape = layer.output_shape

    @property
    def built(self):
        return bool(self._layers) and all(layer.built for layer in self._layers)

    def _ensure_built(self, x=None):
        if not self.built:
            inferred = self.input_shape_ is None and x is not None
            if inferred:
                self.input_shape_ = tuple(x.shape[1:])
            try:
                self.build()
            except Exception:
                if inferred:  # forget a shape taken from data the model could not take
                    self.input_shape_ = None
                raise

    @property
    def input_shape(self):
        return None if self.input_shape_ is None else (None, *self.input_shape_)

    @property
    def output_shape(self):
        self._ensure_built()
        return (None, *self._layers[-1].output_shape)

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=None, line_length=None, show_memory=False, batch_size=32):
        """Print Keras's summary table; ``show_memory`` adds a batch's activation memory."""
        from minicnn.utils.summary import format_summary
        self._ensure_built()
        text = format_summary(self, line_length=line_length, show_memory=show_memory, batch_size=batch_size)
        (print_fn or print)(text)

    # -- weights ------------------------------------------------------------------------------

    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    def get_weights(self):
        """Every layer's weights as NumPy arrays, in Keras's order."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set all weights from a flat list in :meth:`get_weights` order.

        Raises:
            ValueError: on a wrong count or shape.
        """
        self._ensure_built()
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expected {expected} arrays for model '{self.name}', got {len(weights)}.")
        i = 0
        for layer in self._layers:
            n = len(layer.params)
            layer.set_weights(weights[i:i + n])
            i += n

    def to(self, backend_name):
        """Move the model (parameters and optimizer state) to ``"numpy"`` or ``"cupy"``; returns self."""
        backend.set_backend(backend_name)
        for layer in self._layers:
            layer.to_backend()
        if self.optimizer is not None:
            self.optimizer.set_state([backend.to_numpy(a) for a in self.optimizer.get_state()])
        return self

    # -- compile ------------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (``"accuracy"``/``"acc"``).

        Raises:
            ValueError/TypeError: for unknown or missing names, listing the valid ones.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='categorical_crossentropy'.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses_mod.get(loss)
        if isinstance(metrics, str):
            metrics = [metrics]
        self._metrics = [metrics_mod.get(m, self.loss.name) for m in (metrics or [])]
        self.metrics_names = ["loss"] + [name for name, _ in self._metrics]
        self.compiled = True

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must compile the model before calling {what}: e.g. model.compile("
                "optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy']).")

    # -- forward / backward -------------------------------------------------------------------

    def _plan(self):
        """Decide, before each forward, which layers share work; returns whom each layer fuses.

        ``fuses[i]`` is the layer i+1 when layer i also does its work (Layer.fuses_with), else
        None. Each layer's ``fused_into_previous`` and ``input_relu`` (the layer applies the ReLU
        derivative of the layer before it: Layer.absorbs_input_relu) are set here.
        """
        layers = self._layers
        fuses = [nxt if layer.fuses_with(nxt) else None for layer, nxt in zip(layers, layers[1:])] + [None]
        layers[0].fused_into_previous = layers[0].input_relu = False
        for i in range(1, len(layers)):
            layer, prev = layers[i], layers[i - 1]
            layer.fused_into_previous = fuses[i - 1] is not None
            layer.input_relu = (layer.absorbs_input_relu and not layer.fused_into_previous
                                and getattr(prev, "ends_in_relu", False))
        return fuses

    def _forward(self, x, training):
        fuses = self._plan()
        with cpu_threads():
            for layer, fuse in zip(self._layers, fuses):
                if layer.fused_into_previous:
                    continue
                x = layer.forward(x, training=training, fuse=fuse) if fuse else layer.forward(x, training=training)
        return x

    def _fused(self):
        last = self._layers[-1]
        return self.loss.fused_softmax and getattr(last, "activation", None) == "softmax"

    def _backward(self, dout, fused):
        layers = self._layers
        # The first layer's input gradient is never used: skip computing it.
        layers[0].needs_input_grad = False
        # A ReLU's derivative is applied by the layer after it where that is cheaper (input_relu,
        # set by _plan); the ReLU's owner then passes its gradient through.
        last = len(layers) - 1
        for i in range(last, -1, -1):
            if layers[i].fused_into_previous:
                continue  # the previous layer's backward does this one's too
            absorbed = i < last and layers[i + 1].input_relu
            dout = layers[i].backward(dout, pre_activation_grad=(fused and i == last) or absorbed)

    def _batch_stats(self, yb, out, training):
        """Loss, its gradient (training only) and metric counts of one batch, all on the device."""
        K = out.shape[-1]
        target = self.loss.prepare_targets(yb, K, out.dtype)
        if training and self._fused():
            loss = crossentropy_value(target, out)
            dout = softmax_crossentropy_backward(target, out)
        else:
            loss, dout = self.loss(target, out)
        counts = [fn(yb, out) for _, fn in self._metrics]
        return loss, dout, counts

    # -- data ---------------------------------------------------------------------------------

    def _check_x(self, x, what="x"):
        x = checks.as_array(x, what)
        checks.check_finite(x, what)
        self._ensure_built(x)
        checks.check_sample_shape(x, self.input_shape_, what)
        return x

    def _check_xy(self, x, y, names=("x", "y")):
        x = self._check_x(x, names[0])
        y = checks.as_array(y, names[1])
        checks.check_same_length(x, y, names)
        checks.check_finite(y, names[1])
        self.loss.check_targets(y, self._layers[-1].output_shape)
        return x, y

    def _to_batch(self, a, idx, dtype):
        """The rows ``idx`` (a slice or index array) of the data as a float batch, on the backend of
        the model's weights: a model runs where its weights are, whatever the global backend."""
        b = a[idx]
        if b.dtype != dtype:
            b = b.astype(dtype)
        xp = self._array_module()
        return backend.to_numpy(b) if xp is np else xp.asarray(b)

    def _array_module(self):
        """numpy or cupy: that of the weights (of the global backend for a model without any)."""
        for layer in self._layers:
            for w in layer.params.values():
                return backend.get_array_module(w)
        return backend.xp()

    # -- training -----------------------------------------------------------------------------

    def train_on_batch(self, x, y):
        """One optimizer step on one batch; returns the loss, or [loss, metrics...]."""
        self._require_compiled("train_on_batch")
        x, y = self._check_xy(x, y)
        loss, counts = self._train_step(self._to_batch(x, slice(None), self._dtype()),
                                        self._to_batch(y, slice(None), self._dtype()))
        return self._results(float(loss), [float(c) / x.shape[0] for c in counts])

    def _dtype(self):
        return self._layers[0].dtype

    def _train_step(self, xb, yb):
        with cpu_threads():
            return self._train_step_body(xb, yb)

    def _train_step_body(self, xb, yb):
        out = self._forward(xb, training=True)
        loss, dout, counts = self._batch_stats(yb, out, training=True)
        self._backward(dout, self._fused())
        params, grads = [], []
        for layer in self._layers:
            params += layer.trainable_weights
            grads += layer.gradients
        self.optimizer.apply_gradients(params, grads)
        return loss, counts

    def _results(self, loss, metric_values):
        return loss if not metric_values else [loss, *metric_values]

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0, nb_epoch=None,
            validation_batch_size=None):
        """Train for ``epochs`` epochs; returns a History whose ``.history`` holds per-epoch logs.

        ``validation_split`` takes the *last* fraction of x and y (before shuffling) as validation
        data, as Keras does. ``nb_epoch`` is Keras 1's name for ``epochs``. Integer/uint8 inputs
        are converted to float32 batch by batch.

        Raises:
            RuntimeError: before compile. ValueError/TypeError: for invalid data or arguments.
        """
        self._require_compiled("fit")
        epochs = nb_epoch if nb_epoch is not None else epochs
        epochs, initial_epoch = checks.check_epochs(epochs, initial_epoch)
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        validation_split = checks.check_validation_split(validation_split)
        x, y = self._check_xy(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                got = (f"a {type(validation_data).__name__} of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else type(validation_data).__name__)
                raise ValueError(f"validation_data must be a tuple (x_val, y_val), got {got}.")
            val = self._check_xy(*validation_data[:2], names=("x_val", "y_val"))
        elif validation_split:
            split_at = int(np.floor(x.shape[0] * (1 - validation_split)))  # Keras 3 floors it
            if split_at in (0, x.shape[0]):
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no validation samples "
                    f"out of {x.shape[0]}; use more data or another fraction.")
            x, y, val = x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
        else:
            val = None
        N = x.shape[0]
        steps = -(-N // batch_size)
        history = History()
        # History goes last, as in Keras, so it records what other callbacks add (learning_rate).
        cbs = CallbackList([*(callbacks or []), history], model=self,
                           params={"epochs": epochs, "steps": steps, "verbose": verbose})
        self.history = history
        self.stop_training = False
        epoch = initial_epoch
        cbs.on_train_begin()
        # A diverging run shows nan in the logs (and TerminateOnNaN can stop it), as in Keras,
        # instead of NumPy overflow warnings on every batch.
        with deferred_interrupt() as interrupted, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                for epoch in range(initial_epoch, epochs):
                    self._fit_epoch(epoch, epochs, x, y, val, batch_size, shuffle, verbose, cbs,
                                    interrupted, validation_batch_size or batch_size)
                    if self.stop_training or interrupted.set:
                        break
            finally:
                for layer in self._layers:
                    layer.release()
        if interrupted.set:
            print(f"\nTraining interrupted (Ctrl-C) in epoch {epoch + 1}: the model keeps the weights of "
                  "the last completed batch; the returned History holds the completed epochs.", flush=True)
        cbs.on_train_end()
        return history

    def _fit_epoch(self, epoch, epochs, x, y, val, batch_size, shuffle, verbose, cbs, interrupted,
                   val_batch_size):
        """One epoch of :meth:`fit`: shuffled batches, progress, validation, epoch callbacks."""
        N, dtype = x.shape[0], self._dtype()
        steps = -(-N // batch_size)
        cbs.on_epoch_begin(epoch)
        if verbose and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = Progbar(steps, verbose=verbose, stateful_metrics=self.metrics_names)
        order = mrandom.generator().permutation(N) if shuffle else None
        loss_sum, count_sums, seen = 0.0, [0] * len(self._metrics), 0
        batch_logs_wanted = cbs.wants_batch_logs()
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            # Sorted indexes gather rows in memory order: the same batch, a faster copy.
            idx = np.sort(order[lo:hi]) if shuffle else slice(lo, hi)
            cbs.on_train_batch_begin(step)
            loss, counts = self._train_step(self._to_batch(x, idx, dtype), self._to_batch(y, idx, dtype))
            # Sums stay on the device; they come back to the host only when shown or asked for.
            loss_sum = loss_sum + loss * (hi - lo)
            count_sums = [s + c for s, c in zip(count_sums, counts)]
            seen += hi - lo
            if batch_logs_wanted or (verbose == 1 and bar.due() and step < steps - 1):
                logs = self._logs(loss_sum, count_sums, seen)
                cbs.on_train_batch_end(step, logs)
                bar.update(step + 1, sorted(logs.items()), finalize=False)
            if self.stop_training or interrupted.set:
                break
        logs = self._logs(loss_sum, count_sums, seen)
        if interrupted.set:
            return
        if val is not None:
            val_logs = self._evaluate_arrays(*val, val_batch_size)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        # Keras runs the epoch-end callbacks first: their messages come before the final line,
        # and that line shows what they add to the logs.
        logs = cbs.on_epoch_end(epoch, logs)
        bar.update(step + 1, sorted(logs.items()), finalize=True)

    def _logs(self, loss_sum, count_sums, seen):
        logs = {"loss": float(loss_sum) / seen}
        for (name, _), s in zip(self._metrics, count_sums):
            logs[name] = float(s) / seen
        return logs

    # -- evaluation and prediction ------------------------------------------------------------

    def _evaluate_arrays(self, x, y, batch_size, bar=None):
        dtype = self._dtype()
        N = x.shape[0]
        loss_sum, count_sums = 0.0, [0] * len(self._metrics)
        steps = -(-N // batch_size)
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            xb, yb = self._to_batch(x, slice(lo, hi), dtype), self._to_batch(y, slice(lo, hi), dtype)
            out = self._forward(xb, training=False)
            target = self.loss.prepare_targets(yb, out.shape[-1], out.dtype)
            loss_sum = loss_sum + self.loss(target, out)[0] * (hi - lo)
            count_sums = [s + fn(yb, out) for s, (_, fn) in zip(count_sums, self._metrics)]
            if bar is not None and (bar.due() or step == steps - 1):
                bar.update(step + 1, sorted(self._logs(loss_sum, count_sums, hi).items()),
                           finalize=step == steps - 1)
        return self._logs(loss_sum, count_sums, N)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, return_dict=False):
        """Loss and metrics on (x, y) in batches: ``[loss, metric...]``, or the loss alone without
        metrics, or a dict with ``return_dict=True``."""
        self._require_compiled("evaluate")
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        x, y = self._check_xy(x, y)
        steps = -(-x.shape[0] // batch_size)
        bar = Progbar(steps, verbose=verbose, stateful_metrics=self.metrics_names) if verbose else None
        logs = self._evaluate_arrays(x, y, batch_size, bar)
        if return_dict:
            return logs
        return self._results(logs["loss"], [logs[name] for name, _ in self._metrics])

    def test_on_batch(self, x, y):
        """Loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        x, y = self._check_xy(x, y)
        logs = self._evaluate_arrays(x, y, x.shape[0])
        return self._results(logs["loss"], [logs[name] for name, _ in self._metrics])

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for x in batches of ``batch_size`` (default 32), as a NumPy array (N, *output_shape).

        Memory stays bounded by one batch's activations whatever N is.
        """
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        x = self._check_x(x)
        dtype = self._dtype()
        N = x.shape[0]
        out = np.empty((N, *self._layers[-1].output_shape), dtype=dtype)
        steps = -(-N // batch_size)
        bar = Progbar(steps, verbose=verbose) if verbose else None
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            out[lo:hi] = backend.to_numpy(self._forward(self._to_batch(x, slice(lo, hi), dtype), training=False))
            if bar is not None and (bar.due() or step == steps - 1):
                bar.update(step + 1, finalize=step == steps - 1)
        return out

    def predict_classes(self, x, batch_size=None, verbose=0):
        """Keras 1/2: class indexes (N,) — the argmax, or ``p > 0.5`` for a single sigmoid output."""
        p = self.predict(x, batch_size=batch_size, verbose=verbose)
        return p.argmax(axis=-1) if p.shape[-1] > 1 else (p > 0.5).astype("int32").reshape(-1)

    def predict_proba(self, x, batch_size=None, verbose=0):
        """Keras 1/2 name of :meth:`predict` for models that output probabilities."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_on_batch(self, x):
        """Outputs for one batch, as a NumPy array."""
        return self.predict(x, batch_size=max(1, len(x)))

    def __call__(self, x, training=False):
        """Forward pass on a batch on the current backend (no batching, no conversion)."""
        self._ensure_built(x)
        return self._forward(x, training=training)

    # -- configuration and saving -------------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "input_shape": list(self.input_shape_) if self.input_shape_ else None,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]}

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save architecture, weights and optimizer state to one ``.npz`` file (no pickle), atomically."""
        from minicnn import saving
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights alone to an ``.npz`` file, atomically."""
        from minicnn import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` (or :meth:`save`) into this model."""
        from minicnn import saving
        saving.load_weights(self, filepath)


def load_model(filepath, compile=True):
    """Load a model saved by :meth:`Sequential.save`."""
    from minicnn import saving
    return saving.load_model(filepath, compile=compile)
