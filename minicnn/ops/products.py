"""Keras 3's products (``keras.ops.matmul``, ``dot``, ``tensordot``, ``einsum``), each with its
backward for the tape: the gradient of a product with respect to one factor is the product of
the output's gradient with the other factor, contracted over the axes the output kept."""
import numpy as np

from minicnn.ops.numpy import _arrays, multiply, unbroadcast
from minicnn.tape import result


def matmul(x1, x2):
    """NumPy's matmul: 1-D operands as vectors, batch axes (all but the last two) broadcasting."""
    (a, b), xp = _arrays(x1, x2)
    y = xp.matmul(a, b)

    def backward(dy):
        # A vector operand is a one-row (a) or one-column (b) matrix, its axis dropped from dy.
        a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        d2 = dy
        if b.ndim == 1:
            d2 = xp.expand_dims(d2, -1)
        if a.ndim == 1:
            d2 = xp.expand_dims(d2, -2)
        da = xp.matmul(d2, xp.swapaxes(b2, -1, -2))
        db = xp.matmul(xp.swapaxes(a2, -1, -2), d2)
        da = da.reshape(da.shape[:-2] + (da.shape[-1],)) if a.ndim == 1 else da
        db = db.reshape(db.shape[:-1]) if b.ndim == 1 else db
        return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
    return result(y, (x1, x2), backward)


def dot(x1, x2):
    """NumPy's dot: a matrix product over the last axis of ``x1`` and the second-to-last of ``x2``
    (the only one of a 1-D ``x2``); with a number, the product."""
    (a, b), _ = _arrays(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(x1, x2)
    if b.ndim <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1, x2, axes=2):
    """The sum of products over ``axes``: an int n (the last n of ``x1`` with the first n of ``x2``),
    or two sequences pairing axes of ``x1`` with axes of ``x2`` (or two ints, one pair). The
    output has ``x1``'s other axes, then ``x2``'s."""
    (a, b), xp = _arrays(x1, x2)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        ax_a, ax_b = ([v] if np.isscalar(v) else list(v) for v in axes)
    ax_a, ax_b = [i % a.ndim for i in ax_a], [i % b.ndim for i in ax_b]
    y = xp.tensordot(a, b, axes=(ax_a, ax_b))
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]

    def backward(dy):
        na = len(free_a)
        # dy . b over b's free axes leaves a's free axes, then b's contracted ones in b's order:
        # each of those stands for the axis of a it was paired with.
        da = xp.tensordot(dy, b, axes=(list(range(na, dy.ndim)), free_b))
        da = xp.transpose(da, tuple(np.argsort(free_a + [ax_a[ax_b.index(j)] for j in sorted(ax_b)])))
        db = xp.tensordot(a, dy, axes=(free_a, list(range(na))))
        db = xp.transpose(db, tuple(np.argsort([ax_b[ax_a.index(i)] for i in sorted(ax_a)] + free_b)))
        return da, db
    return result(y, (x1, x2), backward)


def einsum(subscripts, *operands):
    """``einsum`` with its gradient: each operand's is the einsum of the output's gradient with
    the other operands, onto that operand's subscripts (an axis summed away in that operand alone
    gets the gradient broadcast back). Every axis named, none twice in one operand.

    Raises:
        ValueError: for ``...`` or a subscript repeated within one operand (a diagonal).
    """
    arrays, xp = _arrays(*operands)
    spec = subscripts.replace(" ", "")
    letters = spec.split("->")[0].replace(",", "")
    ins, out = spec.split("->") if "->" in spec else (spec, "".join(sorted(c for c in set(letters)
                                                                          if letters.count(c) == 1)))
    ins = ins.split(",")
    if "." in spec or any(len(set(sub)) != len(sub) for sub in ins):
        raise ValueError(f"ops.einsum({subscripts!r}): '...' and a subscript repeated within one operand are not "
                         "supported; name every axis once per operand.")
    y = xp.einsum(f"{','.join(ins)}->{out}", *arrays)

    def backward(dy):
        grads = []
        for i, (sub, a) in enumerate(zip(ins, arrays)):
            others = [s for j, s in enumerate(ins) if j != i]
            seen = out + "".join(others)
            kept = "".join(c for c in sub if c in seen)
            g = xp.einsum(f"{','.join([out] + others)}->{kept}", dy, *[b for j, b in enumerate(arrays) if j != i])
            for k, c in enumerate(sub):
                if c not in seen:
                    g = xp.expand_dims(g, k)
            grads.append(xp.broadcast_to(g, a.shape).astype(a.dtype))
        return grads
    return result(y, operands, backward)
