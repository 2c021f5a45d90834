"""``keras.ops``: the functions a custom layer, a Lambda, a loss or a metric is written with.

    from minicnn import ops
    def call(self, inputs):
        return ops.relu(ops.matmul(inputs, self.kernel) + self.bias)

Each works on NumPy and CuPy arrays and on Tensors, and records itself on an open tape
(:mod:`minicnn.tape`) with its backward, so what is written with them trains. Grouped as Keras 3
groups them: :mod:`minicnn.ops.numpy` (elementwise arithmetic and comparisons),
:mod:`minicnn.ops.reductions` (sum, mean, max, argmax, norm...), :mod:`minicnn.ops.products`
(matmul, dot, tensordot, einsum), :mod:`minicnn.ops.shaping` (reshape, concatenate, indexing...),
:mod:`minicnn.ops.nn` (activations, convolution, pooling, one_hot, crossentropies) and
:mod:`minicnn.ops.core` (conversions, casts, constants, stop_gradient). Keras 1/2's
``keras.backend`` functions (``K.sum``...) are these under their old names:
:mod:`minicnn.ops.backend_functions`.

On symbolic tensors (``keras.Input`` and layer outputs) an op makes a node of the graph instead
(:mod:`minicnn.ops.symbolic`), as Keras 3's functional models allow.

The layers' own arithmetic, with its hand-written backwards, is in :mod:`minicnn.nn`.
"""
from minicnn.ops.core import *  # noqa: F401,F403
from minicnn.ops.nn import *  # noqa: F401,F403
from minicnn.ops.numpy import *  # noqa: F401,F403
from minicnn.ops.products import *  # noqa: F401,F403
from minicnn.ops.reductions import *  # noqa: F401,F403
from minicnn.ops.shaping import *  # noqa: F401,F403
from minicnn.ops.shaping import slice  # noqa: F401  (shadows the builtin on purpose: Keras's name)
from minicnn.ops.numpy import abs  # noqa: F401  (Keras's names)
from minicnn.ops.reductions import max, min, sum  # noqa: F401
from minicnn.ops.core import all, any, round  # noqa: F401
from minicnn.tape import GradientTape, Tensor, Variable  # noqa: F401
from minicnn.tape import install_operators

install_operators()  # Tensor's +, *, [], ... are these ops
del install_operators

from minicnn.ops import symbolic as _symbolic  # noqa: E402

_symbolic.install(globals())  # on keras.Input tensors, each op is a node of the graph (an OpLayer)
