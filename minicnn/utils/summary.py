"""The text of ``model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""
import sys

# Keras 3's column widths (inside the borders) for its default table.
WIDTHS = (33, 24, 15)
BOX = {"top": "┏┳┓━", "head": "┃┃┃", "rule": "┡╇┩━", "row": "│││", "sep": "├┼┤─", "bottom": "└┴┘─"}
ASCII = {"top": "+++-", "head": "|||", "rule": "+++=", "row": "|||", "sep": "+++-", "bottom": "+++-"}


def format_bytes(n):
    """Keras's size display: 2.29 MB, 136.04 KB, 0.00 B (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def _can_encode(chars):
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        chars.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _rule(chars, widths):
    left, mid, right, fill = chars
    return left + mid.join(fill * w for w in widths) + right


def _row(chars, cells, widths, align=("<", "<", ">", "<")):
    left, mid, right = chars
    parts = [f" {c:{a}{w - 2}} " for c, w, a in zip(cells, widths, align)]
    return left + mid.join(parts) + right


def _row_lines(chars, cells, widths, align):
    """A row whose cells may hold several lines (a layer connected to several tensors)."""
    cells = [c.split("\n") for c in cells]
    height = max(len(c) for c in cells)
    return [_row(chars, [c[i] if i < len(c) else "" for c in cells], widths, align) for i in range(height)]


def connections(model):
    """For each layer of a graph model, the tensors its calls read, as Keras writes them:
    ``conv2d[0][0]`` (the producing layer, its call, the output), or "-" for an input."""
    g = model._model_graph()
    out = {}
    for node in g.nodes:
        refs = [f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index}]" for t in node.inputs]
        out.setdefault(node.layer, []).extend(refs)
    return {layer: _wrap(out.get(layer, []), CONNECTED_WIDTH) or "-" for layer in g.layers}


CONNECTED_WIDTH = 26  # Keras's cell for "Connected to": references joined by ", ", wrapped between them


def _wrap(refs, width):
    lines, line = [], ""
    for i, ref in enumerate(refs):
        piece = ref + ("," if i < len(refs) - 1 else "")
        if line and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    return "\n".join(lines + ([line] if line else []))


def _is_chain(model):
    """Whether a graph is a plain chain (Keras then leaves out the "Connected to" column)."""
    g = model._model_graph()
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        return False
    return all(len(n.inputs) == 1 for n in g.nodes) and all(len(r) == 1 for r in g.consumers.values())


def format_summary(model, line_length=None, show_memory=False, batch_size=32):
    """The summary table as a string (see ``Model.summary``); graphs get Keras's "Connected to"."""
    box = BOX if _can_encode("┏━┃│└") else ASCII
    chain = _is_chain(model)
    linked = None if chain else connections(model)
    shown = model.layers  # a functional model lists its InputLayers, a Sequential does not
    rows = [(f"{layer.name} ({_class_name(layer)})", _shape_text(layer.output_shape), f"{layer.count_params():,}")
            + (() if chain else (linked[layer],)) for layer in shown]
    widths = list(WIDTHS) + ([] if chain else [max(CONNECTED_WIDTH, *(len(l) for r in rows for l in r[3].split("\n"))) + 2])
    widths[0] = max(widths[0], max(len(r[0]) for r in rows) + 2)
    widths[1] = max(widths[1], max(len(r[1]) for r in rows) + 2)
    if line_length:
        widths[0] += max(0, line_length - sum(widths) - len(widths) - 1)
    align = ("<", "<", ">", "<")
    head = ("Layer (type)", "Output Shape", "Param #", "Connected to")[:len(widths)]
    lines = [f'Model: "{model.name}"', _rule(box["top"], widths),
             _row(box["head"], head, widths, align), _rule(box["rule"], widths)]
    for i, r in enumerate(rows):
        if i:
            lines.append(_rule(box["sep"], widths))
        lines.extend(_row_lines(box["row"], r, widths, align))
    lines.append(_rule(box["bottom"], widths))
    total = model.count_params()
    trainable = sum(int(w.size) for w in model.trainable_weights)
    itemsize = model._dtype().itemsize
    for label, n in (("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable)):
        lines.append(f" {label} params: {n:,} ({format_bytes(n * itemsize)})")
    if show_memory:
        per_sample = sum(_prod(t.sample_shape) for n in model._model_graph().nodes for t in n.outputs) + \
            sum(_prod(t.sample_shape) for t in model._model_graph().inputs)
        lines.append(f" Activation memory (batch {batch_size}, forward outputs): "
                     f"{format_bytes(per_sample * batch_size * itemsize)}")
    return "\n".join(lines)


def _class_name(layer):
    return "Functional" if type(layer).__name__ == "Model" else type(layer).__name__


def _shape_text(shape):
    """A layer's output shape as Keras shows it: (None, 28, 28, 1), or a list for several outputs."""
    if isinstance(shape, list):
        return str([(None, *s) for s in shape])
    return str(shape if shape and shape[0] is None else (None, *shape))


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n
