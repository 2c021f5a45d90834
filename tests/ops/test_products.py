"""keras.ops' products (minicnn/ops/products.py): matmul with 1-D, 2-D and batched operands that
broadcast, dot, tensordot over any axis pairing, einsum specs; values against NumPy, gradients on
the tape against central differences, on NumPy and the fake CuPy."""
import numpy as np
from hypothesis import given, settings, strategies as st

from minicnn import ops
from ops.checks import away_from_zero, check_op


@st.composite
def matmul_shapes(draw):
    """Shapes NumPy's matmul takes: each 1-D, 2-D or batched, batch axes broadcasting."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    shapes = []
    for inner, outer in (((k,), (n, k)), ((k,), (k, m))):
        kind = draw(st.sampled_from(["1d", "2d", "batched"]))
        if kind == "1d":
            shapes.append(inner)
        elif kind == "2d":
            shapes.append(outer)
        else:
            rank = draw(st.integers(0, len(batch)))
            b = [1 if draw(st.booleans()) else d for d in batch[len(batch) - rank:]]
            shapes.append(tuple(b) + outer)
    return shapes


@settings(max_examples=25)
@given(shapes=matmul_shapes())
def test_matmul_of_vectors_matrices_and_broadcast_batches(device, shapes):
    a, b = away_from_zero(shapes[0], 1), away_from_zero(shapes[1], 2)
    check_op(device, ops.matmul, a, b, reference=np.matmul)


DOTS = [[(), (2, 3)], [(3,), ()], [(3,), (3,)], [(2, 3), (3,)], [(3,), (3, 2)], [(2, 3), (3, 2)],
        [(2, 2, 3), (3, 2)], [(2, 3), (2, 3, 2)], [(2, 2, 3), (1, 3, 2)], [(3,), (2, 3, 2)]]


@settings(max_examples=10)
@given(shapes=st.sampled_from(DOTS))
def test_dot_as_numpys_dot(device, shapes):
    a, b = away_from_zero(shapes[0], 1), away_from_zero(shapes[1], 2)
    check_op(device, ops.dot, a, b, reference=np.dot)


@st.composite
def tensordot_configs(draw):
    """(a shape, b shape, axes): an int, or two lists pairing axes in any order (negative ones too)."""
    na, nb = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    count = draw(st.integers(0, min(na, nb)))
    ax_a = draw(st.permutations(range(na)))[:count]
    ax_b = draw(st.permutations(range(nb)))[:count]
    sizes = [draw(st.integers(1, 3)) for _ in range(count)]
    a = [draw(st.integers(1, 3)) for _ in range(na)]
    b = [draw(st.integers(1, 3)) for _ in range(nb)]
    for i, j, s in zip(ax_a, ax_b, sizes):
        a[i] = b[j] = s
    if draw(st.booleans()):
        ax_a = [i - na if draw(st.booleans()) else i for i in ax_a]
        return tuple(a), tuple(b), (list(ax_a), list(ax_b))
    b = a[na - count:] + b[count:]  # an int pairs a's last axes with b's first
    return tuple(a), tuple(b), count


@settings(max_examples=25)
@given(cfg=tensordot_configs())
def test_tensordot_over_any_pairing_of_axes(device, cfg):
    sa, sb, axes = cfg
    a, b = away_from_zero(sa, 3), away_from_zero(sb, 4)
    check_op(device, lambda a, b: ops.tensordot(a, b, axes=axes), a, b,
             reference=lambda a, b: np.tensordot(a, b, axes=axes))


EINSUMS = {
    "ij,jk->ik": [(2, 3), (3, 4)], "ij,jk": [(2, 3), (3, 2)], "bij,bjk->bik": [(2, 2, 3), (2, 3, 2)],
    "i,i->": [(3,), (3,)], "i,j->ij": [(2,), (3,)], "ij->ji": [(2, 3)], "ij->": [(2, 3)], "ij->j": [(2, 3)],
    "abc,cd->bd": [(2, 3, 2), (2, 3)], "ij,jk,kl->il": [(2, 3), (3, 2), (2, 2)], "bhqd,bhkd->bhqk":
    [(1, 2, 3, 2), (1, 2, 2, 2)], "ijk->kij": [(2, 3, 1)], "ij,kl->ijkl": [(1, 2), (2, 1)],
}


@settings(max_examples=20)
@given(spec=st.sampled_from(sorted(EINSUMS)))
def test_einsum_specs(device, spec):
    arrays = [away_from_zero(s, i) for i, s in enumerate(EINSUMS[spec])]
    check_op(device, lambda *xs: ops.einsum(spec, *xs), *arrays, reference=lambda *xs: np.einsum(spec, *xs))


def test_einsum_refuses_ellipses_and_diagonals_with_a_clear_error():
    import pytest
    with pytest.raises(ValueError, match="not supported"):
        ops.einsum("ii->i", np.eye(2))
    with pytest.raises(ValueError, match="not supported"):
        ops.einsum("...ij,jk->...ik", np.ones((2, 2, 2)), np.ones((2, 2)))


def test_float32_products_stay_float32():
    a = np.ones((2, 3), np.float32)
    for y in (ops.matmul(a, a.T), ops.dot(a, a.T), ops.tensordot(a, a, axes=([1], [1])), ops.einsum("ij,kj->ik", a, a)):
        assert type(y) is np.ndarray and y.dtype == np.float32
