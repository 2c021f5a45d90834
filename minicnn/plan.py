"""The planner: a model's graph turned, once, into the steps that actually run.

A step has a ``forward(x, training) -> (y, cache)`` and a ``backward(dy, cache) -> (dx, grads)``,
like a layer, and covers one node of the graph or several. The plan runs the steps in order over
a list of values, one slot per tensor of the graph: each step reads its input slots and writes its
output slot; backward walks the steps in reverse and sums the gradients that reach one slot from
several consumers (a residual connection), and those of a shared layer's weights over its calls.

The plain plan is one :class:`LayerStep` per node: each layer's own forward and backward, the ops
of :mod:`minicnn.nn` (the GPU's path too). On the CPU's fast path (``minicnn.set_fast_path``) the
planner picks the tuned steps of :mod:`minicnn.cpu.steps` and decides, here and nowhere else, what
they fuse, only where the graph makes it safe:

- a Conv2D with ReLU (or none) and the "valid" MaxPooling2D that is the only reader of its output
  become one step: the pool runs on each chunk of the convolution's output while it is in cache;
- a step that can apply the ReLU derivative of the step before it more cheaply than that step
  (a convolution on each chunk of its input gradient, a max pool on its pooled gradient) does
  so, when every reader of that output can, and the step before skips it;
- a step computes no input gradient when no step before it has trainable weights, and backward
  skips the steps with none at or before them (a frozen base, an augmentation layer first).

On both paths a final softmax trained with a crossentropy is fused with the loss: the gradient
at the logits is (p - y) / N, exact and cheap, so the last step skips the softmax's backward
(when nothing else reads the softmax's output).
"""
import contextlib
from typing import NamedTuple

from minicnn.cpu import steps as fast
from minicnn.cpu.threads import cpu_threads


class LayerStep:
    """One layer, as it is. ``activation_grad_given``: the dy this step receives is already the
    gradient at its activation's input, so only the layer's linear part runs backward."""

    absorbs_input_relu = False

    def __init__(self, layer, activation_grad_given=False):
        self.layers = (layer,)
        self.activation_grad_given = activation_grad_given

    @staticmethod
    def ends_in(layer, activation):
        """Whether ``layer``'s output is ``activation`` of a linear part it can skip in backward."""
        return layer.has_linear_part and layer.activation == activation

    def forward(self, x, training):
        return self.layers[0].forward(x, training=training)

    def backward(self, dy, cache):
        layer = self.layers[0]
        dx, grads = layer.backward_linear(dy, cache) if self.activation_grad_given else layer.backward(dy, cache)
        return dx, layer.trainable_gradients(grads)

    def update_state(self, cache):
        self.layers[0].update_state(cache)


class ModelStep(LayerStep):
    """A model used as a layer of this graph: its own plan runs, one plan for each of its calls here,
    so that two calls (a shared encoder) never share the scratch a step keeps for its backward."""

    def __init__(self, model, call, activation_grad_given=False):
        super().__init__(model)
        self.call = call

    def forward(self, x, training):
        return self.layers[0].forward(x, training=training, call=self.call)

    def backward(self, dy, cache):
        return self.layers[0].backward(dy, cache, call=self.call)

    def update_state(self, cache):
        self.layers[0].update_state(cache, call=self.call)


def single_step(layer, fast):
    """The step that runs ``layer`` alone (a built-in layer called on a GradientTape): on the fast path
    its tuned step where there is one, else the layer itself (:class:`LayerStep`)."""
    cls = _tuned_step(layer) if fast else None
    return cls(layer) if cls is not None else LayerStep(layer)


def _tuned_step(layer):
    """The tuned step class that runs ``layer`` (:data:`minicnn.cpu.steps.STEPS`), or None."""
    cls = fast.STEPS.get(type(layer))
    return cls if cls is not None and cls.takes(layer) else None


class Call(NamedTuple):
    """A step of the plan and where it reads and writes: slots of the plan's list of values."""
    step: object
    ins: tuple          # the slots it reads
    outs: tuple         # the slots it writes (several only for a nested model with several outputs)
    list_input: bool    # the layer takes a list (a merge layer), not one array
    weights: tuple      # the positions in Plan.weights of its trainable weights, in its grads' order
    frees: tuple        # slots no later step reads: dropped after this step when not training
    backward: bool      # whether backward runs it: it has trainable weights, or a step before it has


class Plan:
    """The steps of a model's graph and how its losses are taken.

    Attributes:
        calls: the steps in order (:class:`Call`); together they cover every node once.
        weights: the trainable weights, each once (a shared layer's too), as the optimizer takes them
            (given with their names, ``layer/weight``, kept as ``weight_names`` for messages).
        fast: whether the steps are the CPU's tuned ones (they then run under cpu_threads).
        softmax_loss: per output, whether its last step's softmax is fused with a crossentropy loss.
        regularized: the layers with regularizers (:mod:`minicnn.regularizers`).
        nested: the plan of a model called inside another model (or on a tape), not a whole step.
        user_code: the positions of the steps that run their user's code on the tape.
    """

    def __init__(self, calls, n_slots, n_inputs, output_slots, weights, fast, softmax_loss, regularized, nested=False):
        self.calls, self.n_slots, self.n_inputs, self.output_slots = calls, n_slots, n_inputs, output_slots
        (self.weights, self.weight_names), self.fast = weights, fast
        self.softmax_loss, self.regularized, self.nested = softmax_loss, regularized, nested
        self.stateful = [i for i, c in enumerate(calls) if any(l.stateful for l in c.step.layers)]
        # Layers of the user's own (minicnn.tape): they may add losses, and run backward without a dy.
        self.user_code = [i for i, c in enumerate(calls) if any(l.user_code for l in c.step.layers)]

    @property
    def steps(self):
        return [call.step for call in self.calls]

    def running(self):
        """The context a whole step runs in: the worker threads and BLAS settings when fast."""
        return cpu_threads() if self.fast else contextlib.nullcontext()

    def forward(self, xs, training, keep_caches=False):
        """The outputs (a list) for the inputs ``xs`` (a list), and (when training, or asked to keep
        them) each step's cache."""
        values = list(xs) + [None] * (self.n_slots - len(xs))
        caches = []
        if self.user_code and not self.nested:
            self.added_loss()  # a fresh count: what an earlier forward added and nobody took is dropped
        for call in self.calls:
            x = [values[i] for i in call.ins] if call.list_input else values[call.ins[0]]
            y, cache = call.step.forward(x, training)
            values[call.outs[0]:call.outs[-1] + 1] = y if len(call.outs) > 1 else [y]
            if training or keep_caches:
                caches.append(cache)
            else:
                for i in call.frees:
                    values[i] = None
        return [values[i] for i in self.output_slots], caches

    def update_state(self, caches):
        """Commit what the training forward left for the stateful layers (BatchNormalization's
        moving statistics); the trainer calls it under its lock."""
        for i in self.stateful:
            self.calls[i].step.update_state(caches[i])

    def added_loss(self):
        """The sum of what the user's layers gave ``add_loss`` in this thread's last forward (0.0 for none)."""
        from minicnn import tape
        return tape.take_added_losses()

    def loss(self, losses, targets, outs, weight=None):
        """The total loss (the sum of the outputs' losses times their weights), each output's own
        loss, and the gradient at each output (at the logits where softmax_loss); ``losses``:
        (Loss or None, loss weight) per output."""
        total, values, douts = 0.0, [], []
        for (loss, lw), fused, y, out in zip(losses, self.softmax_loss, targets, outs):
            if loss is None:
                values.append(None)
                douts.append(None)
                continue
            value, dout = loss.value_and_softmax_gradient(y, out) if fused else loss.value_and_gradient(y, out)
            if weight is not None:
                value, dout = _weighted(loss, y, out, dout, weight)
            values.append(value)  # logged unweighted, as Keras logs <output>_loss
            if lw != 1:
                value, dout = value * lw, dout * dout.dtype.type(lw)
            total = total + value
            douts.append(dout)
        return total, values, douts

    def backward(self, douts, caches, input_grads=False, share=1.0):
        """The gradients of :attr:`weights` (and, with ``input_grads``, those of the inputs);
        ``share``: what the losses added by the user's layers are scaled by (as the outputs' are, under MPI).

        Gradients are never changed in place here: a step may hand one array to several inputs."""
        for i in self.user_code:
            if caches[i] is not None:
                caches[i].share = share
        grads = [None] * self.n_slots
        for i, d in zip(self.output_slots, douts):
            grads[i] = _plus(grads[i], d)
        wgrads = [None] * len(self.weights)
        for call, cache in zip(reversed(self.calls), reversed(caches)):
            dy = [grads[i] for i in call.outs]
            if not call.backward or (all(d is None for d in dy) and not any(l.user_code for l in call.step.layers)):
                continue  # no weight at or before this step, or nothing it made reaches a loss (user code may add one)
            dx, step_grads = call.step.backward(dy[0] if len(dy) == 1 else dy, cache)
            for j, g in zip(call.weights, step_grads):
                wgrads[j] = _plus(wgrads[j], g)
            for i, d in zip(call.ins, dx if call.list_input else [dx]):
                if i >= self.n_inputs or input_grads:
                    grads[i] = _plus(grads[i], d)
        wgrads = [g if g is not None else w * 0 for g, w in zip(wgrads, self.weights)]
        return (wgrads, [grads[i] for i in range(self.n_inputs)]) if input_grads else wgrads


def _plus(a, b):
    return b if a is None else a if b is None else a + b


def _weighted(loss, target, out, dout, weight):
    """With per-sample weights (N,): the loss as ``loss(target, out, sample_weight=weight)`` gives it
    (by default the weighted sum over the batch size, as Keras's), from each sample's loss in one
    pass, and each row of the gradient scaled as that sample's loss is."""
    value, scale = loss.weighted(target, out, weight)
    return value, dout * scale.reshape(-1, *(1,) * (dout.ndim - 1))


def make_plan(graph, losses=None, fast=False, input_grads=False, nested=False):
    """The plan for a :class:`minicnn.graph.Graph`, trained with ``losses`` (a Loss or None per
    output, or None), plain or ``fast``; ``input_grads``: the inputs' gradients are wanted (a
    model nested in another), so no step may skip them; ``nested``: the plan of a model called
    inside another model or on a tape, not of a whole training step."""
    losses = losses or [None] * len(graph.outputs)
    slot = {id(t): i for i, t in enumerate(graph.inputs)}
    for node in graph.nodes:
        for t in node.outputs:
            slot[id(t)] = len(slot)
    output_ids = {id(t) for t in graph.outputs}
    readers = {i: [] for i in range(len(slot))}  # slot -> the nodes that read it
    for node in graph.nodes:
        for t in node.inputs:
            readers[slot[id(t)]].append(node)
    from minicnn.functional import Model  # here: functional imports the trainer, which imports this module
    groups = _fast_groups(graph, readers, slot, output_ids) if fast else [(LayerStep, (n,)) for n in graph.nodes]
    softmax_loss = []
    for t, loss in zip(graph.outputs, losses):
        layer = t.node.layer
        softmax_loss.append(loss is not None and loss.fused_softmax and LayerStep.ends_in(layer, "softmax")
                            and not readers[slot[id(t)]] and [id(o) for o in graph.outputs].count(id(t)) == 1)
    fused_outputs = {slot[id(t)] for t, f in zip(graph.outputs, softmax_loss) if f}
    named = {}
    for layer in graph.layers:
        for name, w in layer._named_trainable_weights():
            named.setdefault(id(w), (name, w))
    weights, weight_names = [w for _, w in named.values()], [name for name, _ in named.values()]
    index = {id(w): j for j, w in enumerate(weights)}
    backward, needs_dx = _backward_needs(groups, slot, input_grads)
    flags = _fast_flags(groups, readers, slot, output_ids, needs_dx) if fast else {}
    calls, last_read = [], {}
    for k, (cls, nodes) in enumerate(groups):
        for t in nodes[0].inputs:
            last_read[slot[id(t)]] = k
    for k, (cls, nodes) in enumerate(groups):
        outs = tuple(slot[id(t)] for t in nodes[-1].outputs)
        options = dict(flags.get(k, {}))
        if outs[0] in fused_outputs:
            options["activation_grad_given"] = True
        if isinstance(nodes[0].layer, Model):
            calls_before = sum(1 for n in graph.nodes[:graph.nodes.index(nodes[0])] if n.layer is nodes[0].layer)
            step = ModelStep(nodes[0].layer, calls_before, **options)
        else:
            step = cls(*(n.layer for n in nodes), **options)
        layer_weights = [w for layer in step.layers for w in layer.trainable_weights]
        frees = tuple(i for i, last in last_read.items() if last == k and i not in {slot[j] for j in output_ids})
        calls.append(Call(step, tuple(slot[id(t)] for t in nodes[0].inputs), outs, nodes[0].list_input,
                          tuple(index[id(w)] for w in layer_weights), frees, backward[k]))
    regularized = list({id(l): l for layer in graph.layers for l in layer._leaf_layers() if l.regularizers}.values())
    return Plan(calls, len(slot), len(graph.inputs), [slot[id(t)] for t in graph.outputs], (weights, weight_names),
                fast, softmax_loss, regularized, nested=nested)


def _fast_groups(graph, readers, slot, output_ids):
    """(step class, nodes) for each step: a node with the node that alone reads it (and that node's
    own sole reader) where a tuned step runs them together (conv + max pool, conv + BN [+ ReLU],
    add [+ ReLU])."""
    def only_reader(node):
        out = node.outputs[0]
        after = readers[slot[id(out)]]
        return after[0] if len(after) == 1 and id(out) not in output_ids and len(node.outputs) == 1 else None

    groups, taken = [], set()
    for node in graph.nodes:
        if node in taken:
            continue
        nxt = only_reader(node)
        group = None
        if nxt is not None and fast.FusedConvPool.fuses(node.layer, nxt.layer):
            group = (fast.FusedConvPool, (node, nxt))
        elif nxt is not None and fast.FusedConvBN.fuses(node.layer, nxt.layer):
            act = only_reader(nxt)
            capped = act is not None and fast.relu_cap(act.layer) is not None
            group = (fast.FusedConvBN, (node, nxt) + ((act,) if capped else ()))
        elif _tuned_step(node.layer) is not None:
            cls = _tuned_step(node.layer)
            relu = cls is fast.FastAdd and nxt is not None and fast.is_relu(nxt.layer)
            group = (cls, (node, nxt) if relu else (node,))
        groups.append(group or (LayerStep, (node,)))
        taken.update(group[1] if group else ())
    return groups


def _backward_needs(groups, slot, input_grads):
    """For each step, whether backward must run it (it or a step before it has trainable weights: a
    frozen base or an augmentation layer first in the model costs no backward) and whether it must
    compute its input gradient (a step before it needs one). ``input_grads``: every step must."""
    producer, backward, needs_dx = {}, [], []
    for k, (cls, nodes) in enumerate(groups):
        before = [producer[slot[id(t)]] for t in nodes[0].inputs if slot[id(t)] in producer]
        needs_dx.append(input_grads or any(backward[j] for j in before))
        backward.append(needs_dx[-1] or any(n.layer.trainable_weights for n in nodes))
        for t in nodes[-1].outputs:
            producer[slot[id(t)]] = k
    return backward, needs_dx


def _fast_flags(groups, readers, slot, output_ids, needs_dx):
    """The options of each tuned step: who applies a ReLU derivative, who skips the input gradient,
    which residual add writes into its input's buffer."""
    flags = {k: {} for k in range(len(groups))}
    group_of = {node: k for k, (_, nodes) in enumerate(groups) for node in nodes}
    for k, (cls, nodes) in enumerate(groups):
        out = nodes[-1].outputs[0]
        after = [group_of[n] for n in readers[slot[id(out)]]]
        ends_in_relu = cls.ends_in_relu([n.layer for n in nodes]) if issubclass(cls, fast.FastStep) \
            else LayerStep.ends_in(nodes[0].layer, "relu")
        if (ends_in_relu and after and id(out) not in output_ids
                and all(groups[j][0].absorbs_input_relu and not groups[j][1][0].list_input for j in after)):
            flags[k]["activation_grad_given"] = True
            for j in after:
                flags[j]["input_relu"] = True
        if issubclass(cls, fast.FastStep) and not needs_dx[k]:
            flags[k]["need_dx"] = False
        if cls is fast.FastAdd:
            flags[k]["in_place"] = _in_place_input(nodes[0], groups, group_of, readers, slot, output_ids)
    return flags


def _in_place_input(node, groups, group_of, readers, slot, output_ids):
    """The input of an add whose buffer it may overwrite: one nothing else reads, not a model input
    or output, whose step keeps no reference to it for its backward; None if neither is."""
    ins = [slot[id(t)] for t in node.inputs]
    for i in (1, 0):
        t = node.inputs[i]
        producer = groups[group_of[t.node]] if t.node in group_of else None
        if (ins[0] != ins[1] and not t.node.is_input and len(readers[ins[i]]) == 1 and id(t) not in output_ids
                and producer is not None and issubclass(producer[0], fast.FastStep)
                and not producer[0].keeps_output([n.layer for n in producer[1]])):
            return i
    return None
