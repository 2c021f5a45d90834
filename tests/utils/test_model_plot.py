"""plot_model: the layout against the model's graph (boxes, edges, producers before consumers, no
overlaps), the files it writes, and its errors."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn as keras
from minicnn import layers as L
from minicnn.utils import plot_model
from minicnn.utils.model_plot import layout_model

pytest.importorskip("matplotlib")

MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "pdf": (b"%PDF",), "svg": (b"<?xml", b"<svg")}


def resnet_block():
    inp = keras.Input(shape=(8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = L.BatchNormalization()(L.Conv2D(4, 3, padding="same")(x))
    z = L.Activation("relu")(L.add([x, y]))
    return keras.Model(inp, L.Dense(10, activation="softmax")(L.Flatten()(z)))


def inception_block():
    inp = keras.Input(shape=(8, 8, 6))
    a = L.Conv2D(4, 1, padding="same")(inp)
    b = L.Conv2D(4, 3, padding="same")(L.Conv2D(2, 1, padding="same")(inp))
    c = L.Conv2D(4, 5, padding="same")(L.Conv2D(2, 1, padding="same")(inp))
    d = L.Conv2D(4, 1, padding="same")(L.MaxPooling2D(3, strides=1, padding="same")(inp))
    return keras.Model(inp, L.concatenate([a, b, c, d]))


def two_inputs_two_outputs():
    image, meta = keras.Input(shape=(8, 8, 3), name="image"), keras.Input(shape=(5,), name="meta")
    h = L.concatenate([L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(image)), L.Dense(4)(meta)])
    return keras.Model([image, meta], [L.Dense(3, name="label")(h), L.Dense(1, name="score")(h)])


def sequential_cnn():
    return keras.Sequential([keras.Input(shape=(12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                             L.Flatten(), L.Dense(10, activation="softmax")])


def siamese():
    """One Dense layer called on two inputs: one box, two inbound edges."""
    left, right = keras.Input(shape=(6,)), keras.Input(shape=(6,))
    shared = L.Dense(4, name="shared")
    return keras.Model([left, right], L.subtract([shared(left), shared(right)]))


def long_chain(n=40):
    inp = keras.Input(shape=(4,))
    x = inp
    for _ in range(n):
        x = L.Dense(4)(x)
    return keras.Model(inp, x)


MODELS = [resnet_block, inception_block, two_inputs_two_outputs, sequential_cnn, siamese]


def graph_reference(model):
    """The layer names and (producer, consumer) name pairs, read off the graph directly."""
    graph = model._model_graph()
    names = {t.node.layer.name for t in graph.inputs} | {n.layer.name for n in graph.nodes}
    edges = {(t.node.layer.name, n.layer.name) for n in graph.nodes for t in n.inputs}
    return names, edges


def check_layout(layout, model, rankdir):
    names, edges = graph_reference(model)
    assert sorted(b.name for b in layout.boxes) == sorted(names)  # one box per layer
    pairs = [(e.src.name, e.dst.name) for e in layout.edges]
    assert len(pairs) == len(set(pairs)) and set(pairs) == edges
    for b in layout.boxes:  # on the page, with room for the text
        assert 0 <= b.x - b.w / 2 and b.x + b.w / 2 <= layout.width
        assert 0 <= b.y - b.h / 2 and b.y + b.h / 2 <= layout.height
        assert b.w > 7 * len(b.lines[0]) * 0.5 and b.h >= 10 * len(b.lines)
    for i, a in enumerate(layout.boxes):  # no two boxes touch
        for b in layout.boxes[i + 1:]:
            assert abs(a.x - b.x) >= (a.w + b.w) / 2 or abs(a.y - b.y) >= (a.h + b.h) / 2, (a.name, b.name)
    for e in layout.edges:
        if e.back:
            continue
        (x0, y0), (x1, y1) = e.points[0], e.points[-1]
        if rankdir == "TB":  # the producer wholly above its consumer; the arrow from bottom side to top side
            assert e.src.y - e.src.h / 2 > e.dst.y + e.dst.h / 2
            assert y0 == pytest.approx(e.src.y - e.src.h / 2) and abs(x0 - e.src.x) <= e.src.w / 2
            assert y1 == pytest.approx(e.dst.y + e.dst.h / 2) and abs(x1 - e.dst.x) <= e.dst.w / 2
        else:
            assert e.src.x + e.src.w / 2 < e.dst.x - e.dst.w / 2
            assert x0 == pytest.approx(e.src.x + e.src.w / 2) and abs(y0 - e.src.y) <= e.src.h / 2
            assert x1 == pytest.approx(e.dst.x - e.dst.w / 2) and abs(y1 - e.dst.y) <= e.dst.h / 2


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
@pytest.mark.parametrize("make", MODELS, ids=lambda f: f.__name__)
def test_layout_matches_the_graph(make, rankdir):
    model = make()
    layout = layout_model(model, show_shapes=True, rankdir=rankdir)
    check_layout(layout, model, rankdir)
    assert not any(e.back for e in layout.edges)


@st.composite
def random_graphs(draw):
    """A functional model of Dense(4) and Add layers on one or two inputs, wired at random;
    sometimes a Dense layer is called again, which may make a loop of layers."""
    tensors = [keras.Input(shape=(4,)) for _ in range(draw(st.integers(1, 2)))]
    inputs, denses, used = list(tensors), [], set()
    for _ in range(draw(st.integers(1, 8))):
        picks = draw(st.lists(st.integers(0, len(tensors) - 1), min_size=1, max_size=2, unique=True))
        used.update(id(tensors[i]) for i in picks)
        if len(picks) == 2:
            tensors.append(L.add([tensors[i] for i in picks]))
        elif denses and draw(st.booleans()):
            tensors.append(denses[draw(st.integers(0, len(denses) - 1))](tensors[picks[0]]))
        else:
            denses.append(L.Dense(4))
            tensors.append(denses[-1](tensors[picks[0]]))
    outputs = [t for t in tensors if id(t) not in used and t not in inputs] or [tensors[-1]]
    return keras.Model(inputs, outputs)


@settings(max_examples=15)
@given(random_graphs(), st.sampled_from(["TB", "LR"]))
def test_layout_of_random_graphs(model, rankdir):
    check_layout(layout_model(model, rankdir=rankdir), model, rankdir)


def test_a_shared_layer_is_one_box_with_an_edge_per_call():
    layout = layout_model(siamese())
    assert [b.name for b in layout.boxes].count("shared") == 1
    assert len([e for e in layout.edges if e.dst.name == "shared"]) == 2


def test_a_loop_through_a_shared_layer_is_drawn_against_the_flow(tmp_path):
    inp = keras.Input(shape=(4,))
    shared, twice = L.Dense(4, name="shared"), L.Dense(4, name="twice")
    model = keras.Model(inp, twice(twice(shared(L.Dense(4, name="middle")(shared(inp))))))
    layout = layout_model(model)
    assert {(e.src.name, e.dst.name) for e in layout.edges if e.back} == {("middle", "shared"), ("twice", "twice")}
    assert plot_model(model, tmp_path / "loop.svg") == tmp_path / "loop.svg"


def test_long_chain_is_tall_not_wide():
    layout = layout_model(long_chain())
    assert layout.height > 40 * max(b.h for b in layout.boxes) and layout.width < 3 * max(b.w for b in layout.boxes)


def test_labels():
    model = resnet_block()
    named = {b.name: b.lines for b in layout_model(model, show_shapes=True, show_layer_activations=True,
                                                   show_dtype=True, show_trainable=True).boxes}
    assert named["conv2d"] == ["conv2d (Conv2D)", "Input shape: (None, 8, 8, 3)",
                               "Output shape: (None, 8, 8, 4)", "Output dtype: float32", "Activation: relu",
                               "Trainable: True"]
    assert named["add"][1] == "Input shape: [(None, 8, 8, 4), (None, 8, 8, 4)]"
    assert named["input_layer"][1:3] == ["Output shape: (None, 8, 8, 3)", "Output dtype: float32"]
    titles = [b.lines for b in layout_model(model, show_layer_names=False).boxes]
    assert ["Conv2D"] in titles and ["InputLayer"] in titles and all(len(t) == 1 for t in titles)


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_writes_each_format(tmp_path, fmt):
    path = tmp_path / f"model.{fmt.upper() if fmt == 'pdf' else fmt}"  # the extension in any case
    model = keras.Sequential([keras.Input(shape=(3,)), L.Dense(2)])
    assert plot_model(model, to_file=path, show_shapes=True, layer_range=None) == path
    head = path.read_bytes()[:64].lstrip()
    assert head.startswith(MAGIC[fmt])
    assert not [p for p in tmp_path.iterdir() if p != path]  # written atomically: no temporary left


def test_sequential_and_rankdir_lr(tmp_path):
    model = sequential_cnn()
    plot_model(model, tmp_path / "seq.png", show_shapes=True, rankdir="LR")
    assert (tmp_path / "seq.png").read_bytes().startswith(MAGIC["png"][0])
    assert [b.name for b in layout_model(model).boxes] == [model._model_graph().inputs[0].node.layer.name] + \
        [layer.name for layer in model.layers]


def nested_model():
    enc_in = keras.Input(shape=(6,))
    encoder = keras.Model(enc_in, L.Dense(3, name="code")(L.Dense(5, name="hidden")(enc_in)), name="encoder")
    head = keras.Sequential([keras.Input(shape=(3,)), L.Dense(2, name="logits")], name="head")
    inp = keras.Input(shape=(6,), name="x")
    return keras.Model(inp, head(encoder(inp)))


def test_nested_model_is_one_box():
    boxes = {b.name: b for b in layout_model(nested_model()).boxes}
    assert set(boxes) == {"x", "encoder", "head"}
    assert boxes["encoder"].lines == ["encoder (Functional)"] and boxes["head"].lines == ["head (Sequential)"]


def test_expand_nested_draws_the_inner_layers(tmp_path):
    model = nested_model()
    layout = layout_model(model, expand_nested=True)
    boxes = {b.name: b for b in layout.boxes}
    assert {"hidden", "code", "logits"} <= set(boxes) and not {"encoder", "head"} & set(boxes)
    assert boxes["hidden"].lines[1] == "in encoder (Functional)" and boxes["logits"].lines[1] == "in head (Sequential)"
    edges = {(e.src.name, e.dst.name) for e in layout.edges}
    enc_input = model.get_layer("encoder").inputs[0].node.layer.name
    head_input = model.get_layer("head")._model_graph().inputs[0].node.layer.name
    assert edges == {("x", enc_input), (enc_input, "hidden"), ("hidden", "code"), ("code", head_input),
                     (head_input, "logits")}
    assert all(e.src.y > e.dst.y for e in layout.edges)
    plot_model(model, tmp_path / "nested.svg", expand_nested=True, show_shapes=True)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plot_model(resnet_block(), tmp_path / "model.jpg")
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plot_model(resnet_block(), tmp_path / "model")
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(resnet_block(), tmp_path / "model.png", rankdir="BT")
    with pytest.raises(TypeError, match="show_shape"):
        plot_model(resnet_block(), tmp_path / "model.png", show_shape=True)
    with pytest.raises(TypeError, match="Model or Sequential"):
        plot_model(L.Dense(3), tmp_path / "model.png")
    with pytest.raises(ValueError, match="input shape"):
        plot_model(keras.Sequential([L.Dense(3)]), tmp_path / "model.png")
    assert list(tmp_path.iterdir()) == []


def test_reachable_as_keras_utils():
    assert keras.utils.plot_model is plot_model
