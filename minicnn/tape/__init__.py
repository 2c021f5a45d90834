"""The tape: gradients of the code a user writes, recorded while it runs.

Built-in layers have hand-written backwards and the planner (:mod:`minicnn.plan`) runs them; ``fit``
on them never comes here. The tape is for the rest: a custom layer's ``call``, a ``Lambda``, a loss
or a metric written with :mod:`minicnn.ops`, and ``GradientTape`` around any of it.

    with minicnn.GradientTape() as tape:
        logits = model(x, training=True)          # a built-in model: one record
        loss = loss_fn(y, logits)                 # a built-in loss: one record
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))

While a tape is open (``with``), every op of :mod:`minicnn.ops` that reads a followed value adds
a record: its inputs, its outputs and its backward. A value is followed when it was watched
(``tape.watch(x)``), is a trainable weight (read through a :class:`Variable` or used by a layer),
or came out of a record. A built-in layer or a whole model called on the tape is one record too,
with its own forward, cache and backward.

``gradient`` walks the records newest first. Every record's inputs existed before it, so this
order reaches each value only after all its readers are done (what DeZero's generations and
Chainer's ranks give): the gradients arriving at one value from several readers are summed first.
Gradients are not themselves recorded (no gradients of gradients).

Tapes are per thread; tapes nested in one thread all record.

The package: :mod:`.tensor` (Tensor, Variable), :mod:`.recording` (GradientTape, records, the walk
back), :mod:`.layers` (layers, models and custom layers on the tape; add_loss).
"""
from minicnn.tape.tensor import Tensor, Variable, _Weight, any_tensor, install_operators, unwrap  # noqa: F401
from minicnn.tape.recording import (GradientTape, backpropagate, constant_result, paused, recording,  # noqa: F401
                                    result, results)
from minicnn.tape.layers import (UserCache, add_loss, adding_losses, backward_user_layer, call_layer,  # noqa: F401
                                 call_user_code, forward_user_layer, take_added_losses, takes_argument)
