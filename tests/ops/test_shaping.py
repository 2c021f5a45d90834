"""keras.ops' shaping and indexing (minicnn/ops/shaping.py) against NumPy, with shapes, axes,
sections and indexes (slices, ints, arrays with repeats, masks) drawn by hypothesis, and their
gradients on the tape against central differences, on NumPy and the fake CuPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minicnn import ops
from minicnn.tape import GradientTape
from ops.checks import away_from_zero, check_op, distinct

shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


@settings(max_examples=10)
@given(shape=shapes, data=st.data())
def test_reshape_transpose_swapaxes_moveaxis(device, shape, data):
    n = len(shape)
    x = away_from_zero(shape, 1)
    new = data.draw(st.sampled_from([(-1,), (int(np.prod(shape)), 1), (1, -1), shape[::-1]]))
    check_op(device, lambda x: ops.reshape(x, new), x, reference=lambda x: np.reshape(x, new))
    axes = data.draw(st.none() | st.permutations(range(n)).map(lambda p: [a - n if a % 2 else a for a in p]))
    check_op(device, lambda x: ops.transpose(x, axes), x, reference=lambda x: np.transpose(x, axes))
    i, j = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    check_op(device, lambda x: ops.swapaxes(x, i, j), x, reference=lambda x: np.swapaxes(x, i, j))
    check_op(device, lambda x: ops.moveaxis(x, i, j), x, reference=lambda x: np.moveaxis(x, i, j))
    check_op(device, ops.ravel, x, reference=np.ravel)


@settings(max_examples=10)
@given(shape=shapes, data=st.data())
def test_expand_dims_and_squeeze(device, shape, data):
    x = away_from_zero(shape, 2)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op(device, lambda x: ops.expand_dims(x, axis), x, reference=lambda x: np.expand_dims(x, axis))
    ones = [i for i, d in enumerate(shape) if d == 1]
    squeeze = data.draw(st.none() | (st.sampled_from(ones).map(lambda i: i - len(shape)) if ones else st.none()))
    check_op(device, lambda x: ops.squeeze(x, squeeze), x, reference=lambda x: np.squeeze(x, squeeze))


@settings(max_examples=15)
@given(shape=shapes, count=st.integers(1, 3), data=st.data())
def test_concatenate_and_stack_along_any_axis(device, shape, count, data):
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(count)]
    parts = [away_from_zero(shape[:axis % n] + (s,) + shape[axis % n + 1:], 10 + i) for i, s in enumerate(sizes)]
    check_op(device, lambda *xs: ops.concatenate(list(xs), axis=axis), *parts,
             reference=lambda *xs: np.concatenate(xs, axis=axis))
    same = [away_from_zero(shape, 20 + i) for i in range(count)]
    stack_axis = data.draw(st.integers(-n - 1, n))
    check_op(device, lambda *xs: ops.stack(list(xs), axis=stack_axis), *same,
             reference=lambda *xs: np.stack(xs, axis=stack_axis))


@settings(max_examples=15)
@given(shape=shapes, data=st.data())
def test_split_into_sections_or_at_indexes_and_unstack(device, shape, data):
    n = len(shape)
    axis = data.draw(st.integers(-n, n - 1))
    length = shape[axis]
    sections = data.draw(st.sampled_from([d for d in range(1, length + 1) if length % d == 0]) |
                         st.lists(st.integers(0, length), max_size=3).map(sorted))
    x = away_from_zero(shape, 3)
    check_op(device, lambda x: ops.split(x, sections, axis=axis), x,
             reference=lambda x: np.split(x, sections, axis=axis))
    check_op(device, lambda x: ops.unstack(x, axis=axis), x,
             reference=lambda x: [np.take(x, i, axis=axis) for i in range(length)])


def test_only_some_parts_of_a_split_reach_the_target(device):
    x = away_from_zero((4, 2), 4)
    check_op(device, lambda x: ops.split(x, 2, axis=0)[1], x, reference=lambda x: x[2:])


@st.composite
def indexes(draw, shape):
    """An index into ``shape``: per axis an int, a slice (any step) or an int array with repeats;
    maybe None and Ellipsis; at most one array (NumPy's mixed rules are not the point)."""
    parts, used_array = [], False
    for d in shape[:draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["int", "slice", "array"] if not used_array else ["int", "slice"]))
        if kind == "int":
            parts.append(draw(st.integers(-d, d - 1)))
        elif kind == "slice":
            parts.append(slice(draw(st.none() | st.integers(-d, d)), draw(st.none() | st.integers(-d, d)),
                               draw(st.sampled_from([None, 1, 2, -1]))))
        else:
            used_array = True
            parts.append(np.array(draw(st.lists(st.integers(-d, d - 1), min_size=1, max_size=4))))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts) if len(parts) > 1 or draw(st.booleans()) else parts[0]


@settings(max_examples=30)
@given(shape=shapes, data=st.data())
def test_getitem_with_ints_slices_and_repeated_indexes(device, shape, data):
    index = data.draw(indexes(shape))
    x = away_from_zero(shape, 5)
    y = check_op(device, lambda x: ops.getitem(x, index), x, reference=lambda x: np.asarray(x[index]))
    assert np.shape(y) == np.shape(x[index])


def test_getitem_with_a_mask_an_index_on_the_device_and_tensors(device):
    x = away_from_zero((3, 4), 6)
    check_op(device, lambda x: ops.getitem(x, x > 0), x, reference=lambda x: x[x > 0])
    idx = np.array([2, 0, 2, 2])
    with device.on():
        d_idx = device.put(idx)  # an index array on the device, for the device's run

        def pick(x):
            return ops.getitem(x, (slice(None), d_idx if type(x).__module__ == "cupy" else idx))
        check_op(device, pick, x, reference=lambda x: x[:, idx])
    check_op(device, lambda x: ops.getitem(x, (Ellipsis, 1)), x, reference=lambda x: x[..., 1])


@settings(max_examples=15)
@given(shape=shapes, data=st.data())
def test_take_and_take_along_axis_with_repeats(device, shape, data):
    n = len(shape)
    axis = data.draw(st.none() | st.integers(-n, n - 1))
    length = int(np.prod(shape)) if axis is None else shape[axis]
    idx = np.array(data.draw(st.lists(st.integers(-length, length - 1), min_size=1, max_size=4)))
    x = away_from_zero(shape, 7)
    check_op(device, lambda x: ops.take(x, idx, axis=axis), x, reference=lambda x: np.take(x, idx, axis=axis))
    along = np.random.default_rng(8).integers(0, length, shape if axis is not None else (length,))
    check_op(device, lambda x: ops.take_along_axis(x, along, axis=axis), x,
             reference=lambda x: np.take_along_axis(x, along, axis=axis))


def test_take_along_axis_with_indexes_on_the_device(device):
    x = distinct((3, 4), 9)
    along = np.argsort(x, axis=1)[:, :2]
    with device.on():
        d_along = device.put(along)
        check_op(device, lambda x: ops.take_along_axis(x, d_along if type(x).__module__ == "cupy" else along, axis=1),
                 x, reference=lambda x: np.take_along_axis(x, along, axis=1))


def test_sort_and_slice(device):
    x = distinct((3, 4), 10)
    check_op(device, lambda x: ops.sort(x, axis=0), x, reference=lambda x: np.sort(x, axis=0))
    check_op(device, ops.sort, x, reference=np.sort)
    check_op(device, lambda x: ops.slice(x, (1, 0), (2, 3)), x, reference=lambda x: x[1:3, 0:3])


@settings(max_examples=10)
@given(shape=shapes, data=st.data())
def test_tile_repeat_broadcast_to_and_pad(device, shape, data):
    x = away_from_zero(shape, 11)
    reps = data.draw(st.integers(1, 3) | st.lists(st.integers(1, 3), min_size=1, max_size=4).map(tuple))
    check_op(device, lambda x: ops.tile(x, reps), x, reference=lambda x: np.tile(x, reps))
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    length = int(np.prod(shape)) if axis is None else shape[axis]
    repeats = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=length, max_size=length))
    check_op(device, lambda x: ops.repeat(x, repeats, axis=axis), x,
             reference=lambda x: np.repeat(x, repeats, axis=axis))
    target = (2,) + tuple(1 if data.draw(st.booleans()) else d for d in shape)
    src = away_from_zero(tuple(1 if t == 1 else d for t, d in zip(target[1:], shape)), 12)
    check_op(device, lambda s: ops.broadcast_to(s, target), src, reference=lambda s: np.broadcast_to(s, target))
    width = data.draw(st.integers(0, 2) | st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                                   min_size=len(shape), max_size=len(shape)))
    value = data.draw(st.sampled_from([None, 0.0, 1.5]))
    check_op(device, lambda x: ops.pad(x, width, constant_values=value), x,
             reference=lambda x: np.pad(x, width, constant_values=value or 0))


def test_float32_stays_float32_through_shaping():
    x = np.ones((2, 3), np.float32)
    for y in (ops.reshape(x, (3, 2)), ops.transpose(x), ops.concatenate([x, x]), ops.stack([x, x]), x[:, 1],
              ops.getitem(x, 1), ops.take(x, [0, 0], axis=1), ops.tile(x, 2), ops.repeat(x, 2), ops.pad(x, 1)):
        assert type(y) is np.ndarray and y.dtype == np.float32


def test_concatenate_of_a_tensor_and_a_plain_array_sends_the_gradient_to_the_tensor():
    x, c = np.ones((2, 2)), np.zeros((2, 3))
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.concatenate([x, c], axis=1)
        loss = ops.sum(y * np.arange(5.0))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[0, 1], [0, 1]])


def test_bad_pad_mode_says_what_is_supported():
    with pytest.raises(ValueError, match="constant"):
        ops.pad(np.ones(3), 1, mode="reflect")
