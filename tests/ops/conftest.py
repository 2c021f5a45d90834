"""Fixtures of the keras.ops tests: ``device``, each test once on NumPy and once on the fake CuPy
(tests/fakecupy.py), which runs the CuPy branches on the CPU and counts every trip to the host."""
import pytest

from ops.checks import Device


@pytest.fixture(scope="session")
def _fake_cupy_build(tmp_path_factory):
    """The CPU build of kernels/*.cu (conv and pooling launch them on CuPy), once per session."""
    from kernel_shim import ShimBuilder, compiler
    if compiler() is None:
        pytest.skip("no host C++ compiler (g++ or c++) to build kernels/*.cu for the fake CuPy")
    return ShimBuilder(tmp_path_factory.mktemp("ops_fakecupy_kernels"))


@pytest.fixture(scope="session", params=["numpy", "fakecupy"])
def device(request):
    """A :class:`ops.checks.Device`: session-scoped, so hypothesis may draw many examples per test."""
    if request.param == "numpy":
        return Device(None)
    return Device(request.getfixturevalue("_fake_cupy_build"))
