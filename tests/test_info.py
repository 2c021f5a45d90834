"""minicnn.info: the bug-report printout, and the check for a BLAS running generic kernels."""
import configparser
import os
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

from minicnn import info
from minicnn.backend import BackendUnavailableError

ROOT = Path(__file__).resolve().parents[1]


def cpuinfo(*flags):
    """/proc/cpuinfo text for two processors with the given flags."""
    one = f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse2 {' '.join(flags)}\n"
    return one + "\n" + one.replace(": 0", ": 1")


def openblas(core, version="0.3.23"):
    return {"user_api": "blas", "internal_api": "openblas", "version": version, "architecture": core,
            "num_threads": 2, "filepath": "/x/libopenblas.so"}


@pytest.mark.parametrize("core", ["Prescott", "Core2", "Nehalem", "Sandybridge", "Atom"])
@pytest.mark.parametrize("flags, simd", [(("avx", "avx2", "avx512f"), "AVX-512"), (("avx", "avx2"), "AVX2")])
def test_generic_openblas_core_on_an_avx2_cpu_is_reported(core, flags, simd):
    message = info.blas_warning([openblas(core)], cpuinfo(*flags))
    assert f"'{core}'" in message and simd in message and "0.3.23" in message
    assert "pip install --upgrade numpy" in message


@pytest.mark.parametrize("pools, text", [
    ([openblas("SkylakeX", "0.3.31")], cpuinfo("avx2", "avx512f")),   # a current OpenBLAS
    ([openblas("Cooperlake", "0.3.27")], cpuinfo("avx2", "avx512f")),
    ([openblas("Haswell")], cpuinfo("avx2")),
    ([openblas("Zen")], cpuinfo("avx2")),
    ([openblas("SapphireRapids")], cpuinfo("avx2", "avx512f")),
    ([openblas("Prescott")], cpuinfo("avx")),                          # the CPU has no AVX2 to use
    ([openblas("Prescott")], ""),                                       # no /proc/cpuinfo
    ([{**openblas(None), "internal_api": "mkl"}], cpuinfo("avx2")),     # MKL picks its own kernels
    ([], cpuinfo("avx2", "avx512f")),                                   # no BLAS found
])
def test_no_warning_where_the_blas_fits_the_cpu_or_nothing_is_known(pools, text):
    assert info.blas_warning(pools, text) is None


def test_the_warning_is_issued_once_as_a_user_warning(monkeypatch):
    monkeypatch.setattr(info, "blas_pools", lambda: [openblas("Prescott")])
    monkeypatch.setattr(info, "read_cpuinfo", lambda: cpuinfo("avx2", "avx512f"))
    monkeypatch.setitem(info._warned, "done", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info.warn_if_generic_blas()
        info.warn_if_generic_blas()
    assert len(caught) == 1 and caught[0].category is info.SlowBLASWarning
    assert issubclass(info.SlowBLASWarning, UserWarning) and not issubclass(info.SlowBLASWarning, RuntimeWarning)
    assert "'Prescott'" in str(caught[0].message)


def test_worker_threads_are_the_cpu_modules():
    from minicnn.cpu import threads
    try:
        threads.set_num_threads(3)
        assert info.num_threads() == 3
    finally:
        threads.set_num_threads(threads.default_num_threads())


def test_a_model_compiled_for_the_cpu_warns_about_a_generic_blas_once(monkeypatch):
    import numpy as np
    from minicnn import Sequential
    from minicnn.layers import Dense
    monkeypatch.setitem(info._warned, "done", False)
    monkeypatch.setattr(info, "blas_warning", lambda: "OpenBLAS runs its generic 'Prescott' kernels")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            model = Sequential([Dense(2, input_shape=(3,))])
            model.compile("sgd", "mse")
            model.train_on_batch(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"))
    assert [w.category for w in caught] == [info.SlowBLASWarning]


def test_gpu_status_says_why_not(monkeypatch):
    import importlib.util

    import minicnn.backend
    find_spec = importlib.util.find_spec

    def cupy_installed(answer):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: answer if name == "cupy" else find_spec(name, *a))
    cupy_installed(None)
    assert info.gpu_status().startswith("no: CuPy is not installed (pip install 'minicnn[cuda13]'")
    cupy_installed(object())

    def no_gpu():
        raise BackendUnavailableError("The 'cupy' backend needs an NVIDIA GPU, but CuPy found none.")
    monkeypatch.setattr(minicnn.backend, "_import_cupy", no_gpu)
    assert info.gpu_status() == "no: The 'cupy' backend needs an NVIDIA GPU, but CuPy found none."
    runtime = types.SimpleNamespace(getDeviceProperties=lambda i: {"name": b"NVIDIA H200"},
                                    getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 12080)
    fake = types.SimpleNamespace(__version__="13.6.0", cuda=types.SimpleNamespace(runtime=runtime))
    monkeypatch.setattr(minicnn.backend, "_import_cupy", lambda: fake)
    assert info.gpu_status() == "yes: CuPy 13.6.0, 1 GPU(s), the first NVIDIA H200, CUDA runtime 12080"


def test_mpi_is_looked_for_without_importing_it(monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else find_spec(name, *a))
    assert info.mpi_status() == "no: mpi4py is not installed"
    assert "mpi4py" not in sys.modules


def test_python_m_minicnn_info(tmp_path):
    env = {**os.environ, "MINICNN_DATA": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "minicnn.info"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    labels = [line.split("  ")[0] for line in done.stdout.split("\n\n")[0].splitlines()]
    assert labels == ["minicnn", "Python", "NumPy", "BLAS", "CPU", "Worker threads", "GPU (CuPy)", "MPI",
                      "Data directory"]
    extras = done.stdout.split("Optional extras")[1].split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in extras] == ["plot", "mpi", "gpu", "h5", "onnx", "tensorboard"]
    assert re.search(r"^BLAS +(\w+ [\d.]+, core \w+, \d+ threads|unknown)", done.stdout, re.MULTILINE), done.stdout
    assert f"{tmp_path / 'data'} (from $MINICNN_DATA; not created yet)" in done.stdout
    import numpy
    assert f"NumPy           {numpy.__version__}\n" in done.stdout


def test_setup_cfg_asks_for_a_numpy_with_a_current_openblas():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    requirements = config["options"]["install_requires"].split()
    numpy_requirement = next(r for r in requirements if r.startswith("numpy"))
    assert re.fullmatch(r"numpy>=(\d+)\.\d+", numpy_requirement) and int(numpy_requirement[7:].split(".")[0]) >= 2


def setup_cfg_extras():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return {name: value.split() for name, value in config["options.extras_require"].items()}


def test_the_extras_listed_are_setup_cfgs():
    extras = setup_cfg_extras()
    for extra, module, _ in info.EXTRAS:
        assert extra in extras, extra
        # the module checked is the one the extra brings (cupy-cuda13x brings cupy)
        assert any(req.split(">")[0].split("=")[0].startswith(module) for req in extras[extra]), (extra, extras[extra])
    modules = {extra: module for extra, module, _ in info.EXTRAS}
    assert sorted(extras["all"]) == sorted(modules[e] for e in info.ALL_EXTRAS)
    assert {"h5py", "onnx", "onnxruntime", "tensorboard"} <= set(extras["test"])


def test_each_extra_shows_its_version_or_the_pip_command(monkeypatch):
    import importlib.metadata
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else find_spec(name, *a))
    rows = dict(info.extras_report())
    assert rows["onnx"].startswith("not installed: pip install 'minicnn[onnx]'; for model.export(")
    for extra, module, _ in info.EXTRAS:
        if extra != "onnx" and find_spec(module) is not None:
            version = next(importlib.metadata.version(d) for d in importlib.metadata.packages_distributions()[module])
            assert rows[extra].startswith(f"{module} {version}; for "), rows[extra]
        elif extra != "onnx":
            assert rows[extra].startswith(f"not installed: pip install 'minicnn[{extra}]'"), rows[extra]


def test_the_extras_are_found_without_importing_them():
    code = ("import sys; from minicnn import info; names = ('cupy', 'mpi4py', 'h5py', 'onnx', 'tensorboard', "
            "'matplotlib'); before = {n for n in names if n in sys.modules}; info.extras_report(); "
            "print(sorted({n for n in names if n in sys.modules} - before))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
