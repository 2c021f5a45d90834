"""What ``compile`` takes, resolved per output: the losses, their weights and the metrics.

With one output, ``loss="categorical_crossentropy", metrics=["accuracy"]`` logs ``loss`` and
``accuracy``. With several, each argument may be one value for every output, a list in the order
of the outputs, or a dict keyed by the outputs' names, and the logs take Keras 3's names:
``loss`` (the weighted sum), ``<output>_loss`` (each output's own, unweighted; only when more than
one output has a loss) and ``<output>_<metric>``. Where Keras 3 refuses what Keras 2 took, minicnn
takes it as Keras 2 did: one list of metrics (or one loss) for every output, and a loss dict that
leaves outputs out (they are not trained).
"""
import numbers
from typing import NamedTuple

from minicnn import losses as losses_mod, metrics as metrics_mod
from minicnn.data_checks import warn


class Metric(NamedTuple):
    log_name: str        # as History shows it: "accuracy", or "<output>_accuracy" with several outputs
    output: int          # the index of the output it measures
    fn: object           # fn(y_true, y_pred) -> the batch's sum of per-sample values
    name: str            # the metric's own name, as compile took it ("accuracy")
    state: object = None  # a stateful metric (keras.metrics.Metric): logged as its result(), not from sums


class Objectives(NamedTuple):
    losses: list         # a Loss per output, or None for an output trained by no loss
    loss_weights: list   # a float per output
    metrics: list        # a Metric per metric of each output
    output_loss_names: list  # (log name, output index) of each output's own loss; empty for one output


def _per_output(value, names, what, allow_missing):
    """``value`` as a list aligned with the outputs ``names``: from a dict keyed by name, a list, or
    one value for all (a list only when several outputs); None where a dict leaves an output out."""
    n = len(names)
    if isinstance(value, dict) and not _is_serialized(value):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} names {unknown}, which are not outputs of the model; its outputs "
                             f"are {names}.")
        missing = [k for k in names if k not in value]
        if missing and not allow_missing:
            raise ValueError(f"compile: {what} gives nothing for the output(s) {missing}; give every output of "
                             f"{names} an entry.")
        return [value.get(k) for k in names]
    if isinstance(value, (list, tuple)) and n > 1:
        if len(value) != n:
            raise ValueError(f"compile: {what} has {len(value)} entries, but the model has {n} outputs {names}; "
                             f"give one per output, or a dict keyed by output name.")
        return list(value)
    return [value] * n


def _is_serialized(value):
    """Whether a dict is one loss or metric as saved (``{"class_name": ..., "config": ...}``), not a
    dict keyed by output names."""
    return set(value) <= {"class_name", "config"} and "class_name" in value


def resolve(loss, loss_weights, metrics, output_names, losses_added=False):
    """The :class:`Objectives` of ``compile(loss=..., loss_weights=..., metrics=...)`` for a model
    whose outputs are called ``output_names``.

    ``losses_added``: the model has layers of its user's, which may add the loss (``loss`` may be None).

    Raises:
        ValueError/TypeError: for a missing loss, names that are not outputs, lists of the wrong
            length, non-numeric loss weights, and unknown losses or metrics; TypeError for
            ``metrics`` that is none of a list, a dict, a name, a metric object or a function.
    """
    if loss is None and not losses_added:
        raise ValueError("compile needs a loss, e.g. loss='categorical_crossentropy' (only a model whose own "
                         "layers call add_loss may leave it out).")
    multi = len(output_names) > 1
    # No loss: the model's own layers add it (a VAE's add_loss), as Keras allows.
    losses = [None] * len(output_names) if loss is None else \
        [None if l is None else losses_mod.get(l) for l in _per_output(loss, output_names, "loss", True)]
    if loss is not None and all(l is None for l in losses):
        raise ValueError(f"compile: the loss dict names none of the outputs {output_names}.")
    weights = _per_output(1.0 if loss_weights is None else loss_weights, output_names, "loss_weights", True)
    for name, w in zip(output_names, weights):
        if w is not None and (isinstance(w, bool) or not isinstance(w, numbers.Real)):
            raise TypeError(f"compile: the loss weight of output '{name}' must be a number, got {w!r}.")
    weights = [1.0 if w is None else float(w) for w in weights]
    if isinstance(metrics, str):
        metrics = [metrics]
    # Keras 3 takes only a list, tuple or dict (a ValueError otherwise); minicnn also takes one metric.
    if metrics is not None and not isinstance(metrics, (list, tuple, dict)) and not callable(metrics):
        raise TypeError(f"compile: metrics must be a list of metrics (names such as 'accuracy', metric objects or "
                        f"functions), or a dict of them keyed by output name; got metrics={metrics!r} "
                        f"({type(metrics).__name__}). E.g. metrics=['accuracy'].")
    if multi and isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple)) for m in metrics):
        per_output = _per_output(metrics, output_names, "metrics", False)  # a list of lists
    else:
        per_output = _per_output(metrics, output_names, "metrics", True) \
            if isinstance(metrics, dict) and not _is_serialized(metrics) else [metrics] * len(output_names)
    resolved = []
    for k, (name, ms) in enumerate(zip(output_names, per_output)):
        ms = [ms] if isinstance(ms, str) or (ms is not None and not isinstance(ms, (list, tuple))) else (ms or [])
        loss_name = losses[k].name if losses[k] is not None else ""
        for m in ms:
            metric_name, fn = metrics_mod.get(m, loss_name)
            state = m if isinstance(m, metrics_mod.Metric) else None
            resolved.append(Metric(f"{name}_{metric_name}" if multi else metric_name, k, fn, metric_name, state))
    trained = [k for k, l in enumerate(losses) if l is not None]
    output_losses = [(f"{output_names[k]}_loss", k) for k in trained] if len(trained) > 1 else []
    return Objectives(losses, weights, resolved, output_losses)


def output_layers(model):
    """The layer that makes each of ``model``'s outputs (inside a nested model, that model's own),
    or the last layer of a Sequential that is not built yet."""
    if model.built:
        ends = [(t.node.layer, t.index) for t in model._model_graph().outputs]
    else:
        ends = [(model.layers[-1] if model.layers else None, 0)]
    layers = []
    for layer, index in ends:
        while getattr(layer, "_graph", None) is not None:  # a nested model: the layer making its output
            t = layer._graph.outputs[index]
            layer, index = t.node.layer, t.index
        layers.append(layer)
    return layers


def warn_if_logits_after_probabilities(objectives, output_layers, output_names):
    """Warn, naming the layer, where a loss takes logits (``from_logits=True``) but its output's last
    layer ends in a softmax or sigmoid: the model outputs probabilities, which the loss then squashes
    a second time, and training runs on without an error, slowly and toward the wrong values.

    ``output_layers``: the layer that makes each output (``None`` where unknown).
    """
    for name, loss, layer in zip(output_names, objectives.losses, output_layers):
        if loss is None or not getattr(loss, "from_logits", False) or layer is None:
            continue
        activation = "softmax" if type(layer).__name__ == "Softmax" else getattr(layer, "activation", None)
        if activation in ("softmax", "sigmoid"):
            warn(f"compile: the loss {type(loss).__name__}(from_logits=True) of output '{name}' expects logits "
                 f"(raw scores), but the output's layer '{layer.name}' ends in a {activation}, so it outputs "
                 f"probabilities. Remove the {activation} from '{layer.name}' (activation=None), or use "
                 "from_logits=False.")
