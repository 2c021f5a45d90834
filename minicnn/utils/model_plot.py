"""plot_model: a picture of a model's graph, drawn with matplotlib alone (no Graphviz, no pydot).

The layout is the classic layered drawing (Sugiyama's, as Graphviz's ``dot`` does it), kept short:
1. one box per layer, one edge per (producer, consumer) pair of layers: a shared layer is one box
   with several inbound edges, as in Keras;
2. ranks by longest path from the inputs, so a producer is above (TB) or left of (LR) its
   consumers; an edge spanning several ranks gets a point in each rank between, so that it runs
   beside the boxes, never through them;
3. the order within each rank by the barycentre of the neighbours, a few sweeps down and up;
4. positions across the ranks relaxed towards where the links would run straight, boxes pushed
   apart just enough, then one-to-one links made exactly straight where there is room.
Everything is in points (1/72 inch), boxes sized from their text, and the figure from the
drawing: text is never clipped, and a deep model gives a tall picture.
"""
import os
from collections import namedtuple

FORMATS = ("png", "svg", "pdf")
TITLE_SIZE, TEXT_SIZE, LINE = 10.0, 8.5, 1.45  # font sizes in points; line height / font size
PAD_X, PAD_Y, GAP_ACROSS, GAP_ALONG, DUMMY_GAP, MARGIN = 9.0, 5.0, 20.0, 36.0, 12.0, 16.0
FILL = {"InputLayer": "#e3f1df", "layer": "#dde8f5", "model": "#fbe7cc"}
NESTED_TINTS = ("#efe0f5", "#fdf3c4", "#d9f2f0", "#f8dede")  # one per opened nested model

Edge = namedtuple("Edge", "src dst points back")
Edge.__doc__ = """An arrow from box ``src`` to box ``dst`` through ``points`` [(x, y)]; ``back``: it points
against the flow (a loop through a shared layer: laid out reversed, or a bracket beside a box fed
by itself)."""
Layout = namedtuple("Layout", "boxes edges width height rankdir")
Layout.__doc__ = "The boxes (one per layer), the edges and the drawing's size, in points."


class Box:
    """A layer's box, centre ``x, y`` and size ``w, h`` in points (y up), at depth ``rank``; with
    ``layer`` None, an invisible point where a long edge crosses a rank."""

    def __init__(self, name="", layer=None, lines=(), fill=FILL["layer"], rank=0):
        self.name, self.layer, self.lines, self.fill, self.rank = name, layer, list(lines), fill, rank
        self.w = self.h = self.x = self.y = 0.0


def _is_model(layer):
    return hasattr(layer, "_model_graph")


def _class_name(layer):
    return "Functional" if type(layer).__name__ == "Model" else type(layer).__name__


def _connections(graph, expand, owner=None, found=None):
    """``{id(layer): (layer, owner, nodes)}`` in the order a walk back from the outputs meets them
    (branches keep the order they were written in) and the (producer, consumer) layer pairs. An
    opened nested model (``expand``) maps to None: its layers, with it as owner, stand in."""
    layers, pairs = found or ({}, [])
    order, seen = [], set()

    def walk(node):
        if node not in seen:
            seen.add(node)
            for t in node.inputs:
                walk(t.node)
            order.append(node)

    for t in graph.inputs + graph.outputs:
        walk(t.node)
    for node in order:
        layer = node.layer
        if expand and _is_model(layer):
            if id(layer) not in layers:
                layers[id(layer)] = None
                _connections(layer._model_graph(), expand, layer, (layers, pairs))
        else:
            layers.setdefault(id(layer), (layer, owner, []))[2].append(node)
        for i, t in enumerate(node.inputs):
            while expand and _is_model(t.node.layer):  # an opened model's output: made by its layer
                t = t.node.layer._model_graph().outputs[t.index]
            dst = layer._model_graph().inputs[i].node.layer if expand and _is_model(layer) else layer
            if not any(u is t.node.layer and v is dst for u, v in pairs):
                pairs.append((t.node.layer, dst))
    return layers, pairs


def _shapes(calls):
    """Each call's shapes as Keras writes them; a shared layer's distinct calls joined by ' | '."""
    return " | ".join(dict.fromkeys(str(ts[0].shape) if len(ts) == 1 else f"[{', '.join(str(t.shape) for t in ts)}]"
                                    for ts in calls))


def _lines(layer, owner, nodes, opts):
    lines = [f"{layer.name} ({_class_name(layer)})" if opts["show_layer_names"] else _class_name(layer)]
    if owner is not None:
        lines.append(f"in {owner.name} ({_class_name(owner)})")
    if opts["show_shapes"]:
        if any(n.inputs for n in nodes):
            lines.append("Input shape: " + _shapes([n.inputs for n in nodes if n.inputs]))
        lines.append("Output shape: " + _shapes([n.outputs for n in nodes]))
    if opts["show_dtype"]:
        lines.append("Output dtype: " + " | ".join(dict.fromkeys(t.dtype.name for n in nodes for t in n.outputs)))
    if opts["show_layer_activations"] and isinstance(getattr(layer, "activation", None), str):
        lines.append(f"Activation: {layer.activation}")
    if opts["show_trainable"]:
        lines.append(f"Trainable: {bool(getattr(layer, 'trainable', False))}")
    return lines


def _boxes(model, expand_nested, opts):
    """The boxes, sized from their text as matplotlib will draw it, and the pairs of boxes joined."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath
    width = TextToPath().get_text_width_height_descent
    fonts = [FontProperties(size=TITLE_SIZE, weight="bold"), FontProperties(size=TEXT_SIZE)]
    found, pairs = _connections(model._model_graph(), expand_nested)
    owners, box_of = [], {}
    for layer, owner, nodes in filter(None, found.values()):
        owners += [owner] if owner is not None and owner not in owners else []
        fill = FILL.get(type(layer).__name__, FILL["model" if _is_model(layer) else "layer"])
        b = box_of[id(layer)] = Box(layer.name, layer, _lines(layer, owner, nodes, opts),
                                    NESTED_TINTS[owners.index(owner) % len(NESTED_TINTS)] if owner else fill)
        b.w = max(width(s, fonts[i > 0], ismath=False)[0] for i, s in enumerate(b.lines)) + 2 * PAD_X
        b.h = LINE * (TITLE_SIZE + TEXT_SIZE * (len(b.lines) - 1)) + 2 * PAD_Y
    return list(box_of.values()), [(box_of[id(u)], box_of[id(v)]) for u, v in pairs]


def _rank(boxes, pairs):
    """Longest-path ranks; a loop (through a shared layer) is cut at its first box."""
    preds = {b: {u for u, v in pairs if v is b and u is not b} for b in boxes}
    pending, placed = list(boxes), set()
    while pending:
        ready = [b for b in pending if preds[b] <= placed] or pending[:1]
        for b in ready:
            b.rank = 1 + max((u.rank for u in preds[b] if u in placed), default=-1)
        placed.update(ready)
        pending = [b for b in pending if b not in placed]


def _order(ranks, preds, succs, sweeps=6):
    """Barycentre heuristic: sort each rank by the mean position of its neighbours in the rank
    just sorted, sweeping down then up (a vertex with none keeps its place)."""
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        for r in (range(1, len(ranks)) if down else range(len(ranks) - 2, -1, -1)):
            pos = {b: i for i, b in enumerate(ranks[r - 1] if down else ranks[r + 1])}
            near = preds if down else succs
            key = {b: sum(pos[u] for u in near[b]) / len(near[b]) if near[b] else i for i, b in enumerate(ranks[r])}
            ranks[r].sort(key=key.get)


def _spread(want, sep):
    """Positions near ``want``, in order, ``sep[i]`` apart at least: the mean of pushing right
    and pushing left (two placements that keep the gaps average to one that keeps them)."""
    a, b = list(want), list(want)
    for i in range(1, len(a)):
        a[i] = max(a[i], a[i - 1] + sep[i - 1])
    for i in range(len(b) - 2, -1, -1):
        b[i] = min(b[i], b[i + 1] - sep[i])
    return [(p + q) / 2 for p, q in zip(a, b)]


def _place(ranks, across, preds, succs, port, sweeps=40):
    """Across-positions: each vertex moved to the weighted mean of where its links would run
    straight (one-to-one links weigh most), then pushed apart; then one-to-one links straightened
    exactly where the neighbours leave room (moving the lower end, else the upper)."""
    seps = [[(across[u] + across[v]) / 2 + (GAP_ACROSS if u.layer and v.layer else DUMMY_GAP)
             for u, v in zip(rank, rank[1:])] for rank in ranks]
    one_to_one = {(u, v) for v in preds for u in preds[v] if len(preds[v]) == len(succs[u]) == 1}
    for r, rank in enumerate(ranks):
        for b, x in zip(rank, _spread([0.0] * len(rank), seps[r])):
            b.x = x
    for sweep in range(sweeps):
        for r in (range(len(ranks)) if sweep % 2 == 0 else range(len(ranks) - 1, -1, -1)):
            want = []
            for b in ranks[r]:
                links = [(u.x + port[u, b][0] - port[u, b][1], (u, b)) for u in preds[b]]
                links += [(v.x + port[b, v][1] - port[b, v][0], (b, v)) for v in succs[b]]
                w = [16 if p in one_to_one else 1 if p[0].layer and p[1].layer else 2 for _, p in links]
                want.append(sum(x * k for (x, _), k in zip(links, w)) / sum(w) if links else b.x)
            for b, x in zip(ranks[r], _spread(want, seps[r])):
                b.x = x
    slot = {b: (r, i) for r, rank in enumerate(ranks) for i, b in enumerate(rank)}

    def fits(b, x):
        (r, i), rank = slot[b], ranks[slot[b][0]]
        return (i == 0 or rank[i - 1].x + seps[r][i - 1] <= x + 1e-6) and \
            (i == len(rank) - 1 or x + seps[r][i] <= rank[i + 1].x + 1e-6)

    for u, v in sorted(one_to_one, key=lambda p: p[0].rank) * 2:
        if fits(v, u.x):
            v.x = u.x
        elif fits(u, v.x):
            u.x = v.x


def _ports(ranks, chains, across):
    """Where each chain leaves its first box (``port[id(chain), 0]``) and enters its last (1),
    across from the centre: spread along the side in the order of the far ends, so that arrows
    into an Add do not meet in one point."""
    slot, ends, port = {b: i for rank in ranks for i, b in enumerate(rank)}, {}, {}
    for c in chains:
        if c[0].rank < c[-1].rank:
            ends.setdefault((c[0], 0), []).append(c)
            ends.setdefault((c[-1], 1), []).append(c)
    for (b, end), mine in ends.items():
        step = min(14.0, 0.7 * across[b] / len(mine))
        for i, c in enumerate(sorted(mine, key=lambda c: slot[c[-2] if end else c[1]])):
            port[id(c), end] = (i - (len(mine) - 1) / 2) * step
    return port


def layout_model(model, show_shapes=False, show_layer_names=True, rankdir="TB", expand_nested=False,
                 show_dtype=False, show_layer_activations=False, show_trainable=False):
    """The boxes and edges of ``model``'s picture, placed (see the module's docstring); the
    arguments are :func:`plot_model`'s.

    Returns:
        A :class:`Layout`: boxes one per layer, edges one per (producer, consumer) pair of layers.
    Raises:
        TypeError: if ``model`` is not a Model. ValueError: for a ``rankdir`` other than "TB" or
            "LR", or (from the model) a Sequential whose input shape is not known yet.
    """
    if not _is_model(model):
        raise TypeError(f"plot_model expects a Model or Sequential, got {type(model).__name__}.")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right), got {rankdir!r}.")
    boxes, pairs = _boxes(model, expand_nested, dict(
        show_shapes=show_shapes, show_layer_names=show_layer_names, show_dtype=show_dtype,
        show_layer_activations=show_layer_activations, show_trainable=show_trainable))
    _rank(boxes, pairs)
    # An edge becomes a chain of one-rank links through a point in each rank it crosses; one
    # against the flow (a loop through a shared layer) is laid out reversed, drawn the right way.
    chains = [[a, *(Box(rank=r) for r in range(a.rank + 1, b.rank)), b] for a, b in
              (sorted(pair, key=lambda box: box.rank) for pair in pairs)]
    index = {b: i for i, b in enumerate(boxes)}
    index.update({p: index[c[0]] + 0.5 for c in chains for p in c[1:-1]})  # start beside the source
    ranks = [[] for _ in range(1 + max(b.rank for b in boxes))]
    for b in sorted(index, key=index.get):
        ranks[b.rank].append(b)
    preds, succs = {b: [] for b in index}, {b: [] for b in index}
    for u, v in ((u, v) for c in chains for u, v in zip(c, c[1:]) if u.rank < v.rank):
        preds[v].append(u)
        succs[u].append(v)
    _order(ranks, preds, succs)
    across = {b: b.w if rankdir == "TB" else b.h for b in index}
    along = {b: b.h if rankdir == "TB" else b.w for b in index}
    port = _ports(ranks, chains, across)
    offsets = {(c[i], c[i + 1]): (port[id(c), 0] if i == 0 else 0.0, port[id(c), 1] if i == len(c) - 2 else 0.0)
               for c in chains if c[0].rank < c[-1].rank for i in range(len(c) - 1)}
    _place(ranks, across, preds, succs, offsets)
    band = []  # each rank's extent along the flow
    for rank in ranks:
        start = band[-1][1] + GAP_ALONG if band else 0.0
        band.append((start, start + max(along[b] for b in rank)))
    for b in index:  # x: across, y: along the flow, until mapped onto the page below
        b.y = sum(band[b.rank]) / 2
    routes = [_route(u, v, c, port, band, across, along) for (u, v), c in zip(pairs, chains)]
    return _on_page(boxes, pairs, routes, rankdir)


def _route(u, v, chain, port, band, across, along):
    """The points of the arrow from u to v (x across, y along the flow), through its chain."""
    a, b = chain[0], chain[-1]
    if a.rank == b.rank:  # a layer fed by itself: a bracket at its side
        x = max(a.x + across[a] / 2, b.x + across[b] / 2)
        return [(x, u.y + 6), (x + 10, u.y + 6), (x + 10, v.y - 6), (x, v.y - 6)]
    out, into = a.x + port[id(chain), 0], b.x + port[id(chain), 1]
    pts = [(out, a.y + along[a] / 2), (out, band[a.rank][1])]
    for p in chain[1:-1]:  # straight through each rank crossed: bends only in the gaps between ranks
        pts += [(p.x, band[p.rank][0]), (p.x, band[p.rank][1])]
    pts += [(into, band[b.rank][0]), (into, b.y - along[b] / 2)]
    pts = [p for i, p in enumerate(pts) if i == 0 or abs(p[0] - pts[i - 1][0]) + abs(p[1] - pts[i - 1][1]) > 0.5]
    return pts if a is u else pts[::-1]


def _on_page(boxes, pairs, routes, rankdir):
    """The Layout: across/along turned into page x, y (y up), shifted to leave MARGIN all round."""
    page = (lambda a, d: (a, -d)) if rankdir == "TB" else (lambda a, d: (d, -a))
    for b in boxes:
        b.x, b.y = page(b.x, b.y)
    routes = [[page(*p) for p in r] for r in routes]
    xs = [x for b in boxes for x in (b.x - b.w / 2, b.x + b.w / 2)] + [p[0] for r in routes for p in r]
    ys = [y for b in boxes for y in (b.y - b.h / 2, b.y + b.h / 2)] + [p[1] for r in routes for p in r]
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)
    for b in boxes:
        b.x, b.y = b.x + dx, b.y + dy
    edges = [Edge(u, v, [(x + dx, y + dy) for x, y in r], v.rank <= u.rank) for (u, v), r in zip(pairs, routes)]
    return Layout(boxes, edges, max(xs) - min(xs) + 2 * MARGIN, max(ys) - min(ys) + 2 * MARGIN, rankdir)


def _edge_path(points, flow):
    """A Path through the points: straight where they line up, an S-curve across a gap."""
    from matplotlib.path import Path
    vertices, codes = [points[0]], [Path.MOVETO]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 == x1 or y0 == y1:
            vertices.append((x1, y1))
            codes.append(Path.LINETO)
        else:  # bend halfway across the gap, leaving and arriving along the flow
            mx, my = (x0 + x1) / 2, (y0 + y1) / 2
            vertices += ([(x0, my), (x1, my)] if flow[0] == 0 else [(mx, y0), (mx, y1)]) + [(x1, y1)]
            codes += [Path.CURVE4] * 3
    return Path(vertices, codes)


def _draw(layout, dpi):
    """The layout as a matplotlib Figure, one data unit per point (no pyplot, so no global state)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    fig = Figure(figsize=(layout.width / 72, layout.height / 72), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(0, layout.height)
    ax.set_axis_off()
    flow = (0, -1) if layout.rankdir == "TB" else (1, 0)
    for e in layout.edges:
        ax.add_patch(FancyArrowPatch(path=_edge_path(e.points, flow), arrowstyle="-|>", mutation_scale=10,
                                     color="#3c4650", lw=1.0))
    for b in layout.boxes:
        ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0,rounding_size=4",
                                    facecolor=b.fill, edgecolor="#34495e", lw=1.0, zorder=2))
        y = b.y + b.h / 2 - PAD_Y
        for i, line in enumerate(b.lines):
            size = TEXT_SIZE if i else TITLE_SIZE
            ax.text(b.x, y - LINE * size / 2, line, ha="center", va="center", fontsize=size, color="#17202a",
                    fontweight="normal" if i else "bold", parse_math=False, zorder=3)
            y -= LINE * size
            if i == 0 and len(b.lines) > 1:
                ax.plot([b.x - b.w / 2, b.x + b.w / 2], [y, y], color="#34495e", lw=0.5, alpha=0.5, zorder=3)
    return fig


def plot_model(model, to_file="model.png", show_shapes=False, show_layer_names=True, rankdir="TB",
               expand_nested=False, dpi=96, show_dtype=False, show_layer_activations=False,
               show_trainable=False, **kwargs):
    """Draw ``model``'s graph into ``to_file``, with matplotlib (Keras 3's ``keras.utils.plot_model``).

    One box per layer, "name (ClassName)" ("ClassName" alone with ``show_layer_names=False``); a
    layer called several times is one box with several inbound arrows, as in Keras. Arrows run
    from producer to consumer, in ranks by depth, top to bottom (``rankdir="TB"``) or left to
    right (``"LR"``). The figure is as large as the graph needs: a deep model gives a tall picture.

    Args:
        model: a Model or Sequential (a Sequential must know its input shape).
        to_file: the file to write (atomically); its extension picks the format: .png, .svg, .pdf.
        show_shapes: add "Input shape" and "Output shape" (an InputLayer has only the output; a
            layer called on different shapes lists each, joined by " | ").
        show_layer_names: "name (ClassName)" rather than "ClassName".
        rankdir: "TB" or "LR".
        expand_nested: draw a nested model's layers (its InputLayers included, wired to the outer
            layers) rather than one "Functional"/"Sequential" box. They are tinted, one colour per
            nested model, and say "in <model> (<class>)". There is no frame around them: the
            layered layout may place an outer layer between them.
        dpi: the resolution of a PNG (lowered if the image would pass Agg's 65536 pixels a side).
        show_dtype: add each layer's output dtype. show_layer_activations: add the activation of
            layers that have one. show_trainable: add whether each layer is trainable.
        **kwargs: Keras's ``layer_range`` and ``subgraph`` are accepted and ignored (every layer
            is drawn).
    Returns:
        ``to_file`` (Keras returns an IPython image for notebooks; open the file instead).
    Raises:
        ValueError: for an extension other than .png, .svg and .pdf, or an unknown ``rankdir``.
        TypeError: if ``model`` is not a model, or for another keyword argument. ImportError: if
            matplotlib is missing.
    """
    unknown = set(kwargs) - {"layer_range", "subgraph"}
    if unknown:
        raise TypeError(f"plot_model got unexpected keyword arguments {sorted(unknown)}.")
    fmt = os.path.splitext(os.fspath(to_file))[1].lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"plot_model writes .png, .svg or .pdf files (chosen by the extension), got {to_file!r}.")
    try:
        import matplotlib  # noqa: F401  (optional; imported only to draw)
    except ImportError:
        raise ImportError("plot_model needs matplotlib: pip install 'minicnn[plot]'.") from None
    from minicnn.saving import atomic_write
    layout = layout_model(model, show_shapes, show_layer_names, rankdir, expand_nested, show_dtype,
                          show_layer_activations, show_trainable)
    dpi = min(dpi, int(65000 * 72 / max(layout.width, layout.height)))
    fig = _draw(layout, dpi)
    atomic_write(to_file, lambda f: fig.savefig(f, format=fmt, dpi=dpi))
    return to_file
