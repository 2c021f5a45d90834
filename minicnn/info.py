"""``python -m minicnn.info`` prints what a bug report needs: the minicnn, Python, NumPy and BLAS
versions, the core the BLAS runs, worker threads, GPU and MPI availability, the data directory, and
the optional extras (setup.cfg's extras_require): which are installed, and the pip command for the rest.

:func:`blas_warning` spots a BLAS running generic kernels on a CPU with AVX2 or AVX-512 (NumPy
1.26's OpenBLAS 0.3.23 on recent Xeons: "Prescott", and training at half speed without a word).
"""
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import warnings

import numpy as np

# OpenBLAS cores (threadpoolctl's "architecture") whose kernels use AVX2 or AVX-512; any other
# core on a CPU with AVX2 (Prescott, Core2, Nehalem, Sandybridge, ...) leaves half the speed unused.
FAST_OPENBLAS_CORES = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}

# setup.cfg's optional extras: (extra, the module it brings, what needs it). ``[all]`` has those
# that install anywhere (not mpi, which wants an MPI library, nor gpu, which wants CUDA).
EXTRAS = [
    ("plot", "matplotlib", "utils.plot_history, utils.plot_model"),
    ("mpi", "mpi4py", "data-parallel training: mpiexec -n N python script.py"),
    ("gpu", "cupy", "the cupy backend on NVIDIA GPUs with CUDA 13 ('[cuda12]' for CUDA 12.x)"),
    ("h5", "h5py", "Keras's .keras and .h5 model files"),
    ("onnx", "onnx", "model.export(path, format='onnx')"),
    ("tensorboard", "tensorboard", "callbacks.TensorBoard"),
]
ALL_EXTRAS = ("plot", "h5", "onnx", "tensorboard")

_warned = {"done": False}


class SlowBLASWarning(UserWarning):
    """NumPy's BLAS runs generic kernels on a CPU that has AVX2 or AVX-512."""


def blas_pools():
    """threadpoolctl's description of the BLAS libraries loaded (by NumPy); [] if it cannot tell."""
    try:
        from threadpoolctl import threadpool_info
        return [p for p in threadpool_info() if p.get("user_api") == "blas"]
    except Exception:  # a diagnostic must never stop a training run
        return []


def read_cpuinfo():
    """The text of /proc/cpuinfo, or "" where there is none (macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_features(cpuinfo):
    """``(model name, "AVX-512" | "AVX2" | None)`` of the first processor in /proc/cpuinfo's text."""
    fields = {}
    for key, _, value in (line.partition(":") for line in cpuinfo.splitlines()):
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return fields.get("model name"), "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else None


def blas_warning(pools=None, cpuinfo=None):
    """A warning sentence when an OpenBLAS runs a generic core on a CPU with AVX2 or AVX-512, else None.

    Args:
        pools: threadpoolctl's ``threadpool_info()`` entries (default: those of this process).
        cpuinfo: the text of /proc/cpuinfo (default: read it; without it nothing is reported).
    """
    _, simd = cpu_features(read_cpuinfo() if cpuinfo is None else cpuinfo)
    if simd is None:
        return None
    for pool in blas_pools() if pools is None else pools:
        core = pool.get("architecture")
        if pool.get("internal_api") == "openblas" and core and core.lower() not in FAST_OPENBLAS_CORES:
            return (f"NumPy's BLAS (OpenBLAS {pool.get('version')}) runs its generic '{core}' kernels on "
                    f"this CPU, which has {simd}: matrix products, most of the training time, run at "
                    "about half speed. Upgrade NumPy to get an OpenBLAS that knows this CPU: "
                    "pip install --upgrade numpy (python -m minicnn.info shows the BLAS in use).")
    return None


def warn_if_generic_blas():
    """Issue :func:`blas_warning` as a :class:`SlowBLASWarning`, once per process at most."""
    if _warned["done"]:
        return
    _warned["done"] = True
    message = blas_warning()
    if message:
        warnings.warn(message, SlowBLASWarning, stacklevel=2)


def num_threads():
    """minicnn's CPU worker threads (minicnn.cpu.threads)."""
    from minicnn.cpu import threads
    return threads.num_threads()


def gpu_status():
    """``"yes: ..."`` with the CuPy version and the GPU, or ``"no: <why>"``."""
    if importlib.util.find_spec("cupy") is None:
        return "no: CuPy is not installed (pip install 'minicnn[cuda13]', or '[cuda12]' for CUDA 12.x)"
    from minicnn.backend import _import_cupy
    try:
        cupy = _import_cupy()
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        name = name.decode() if isinstance(name, bytes) else name
        return (f"yes: CuPy {cupy.__version__}, {cupy.cuda.runtime.getDeviceCount()} GPU(s), the first "
                f"{name}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")
    except Exception as e:  # BackendUnavailableError, or a driver/runtime error from CuPy
        return f"no: {e}"


def mpi_status():
    """The MPI library mpi4py uses, or why there is none; mpi4py is imported only if installed."""
    if importlib.util.find_spec("mpi4py") is None:
        return "no: mpi4py is not installed"
    try:
        import mpi4py
        from mpi4py import MPI
        from minicnn import distributed
        ranks = (f"; this process is rank {distributed.rank()} of {distributed.size()}" if distributed.launched()
                 else "; not launched by mpiexec (mpiexec -n N python script.py trains on N processes)")
        return f"mpi4py {mpi4py.__version__}, {MPI.Get_library_version().splitlines()[0].strip()}{ranks}"
    except Exception as e:
        return f"no: mpi4py is installed but MPI did not start ({type(e).__name__}: {e})"


def module_version(module):
    """The installed version of a top-level module, found without importing it; None if it is absent.

    Importing would cost (CuPy) or start something (mpi4py starts MPI), so the version is read from
    the metadata of the distribution that provides the module (cupy-cuda13x provides cupy).
    """
    if importlib.util.find_spec(module) is None:
        return None
    for dist in importlib.metadata.packages_distributions().get(module, [module]):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "version unknown"


def extras_report():
    """``[(extra, text), ...]``: each optional extra, its module's version or how to install it."""
    rows = []
    for extra, module, purpose in EXTRAS:
        version = module_version(module)
        status = f"{module} {version}" if version else f"not installed: pip install 'minicnn[{extra}]'"
        rows.append((extra, f"{status}; for {purpose}"))
    return rows


def _version():
    """The installed minicnn's version (read from its metadata: no import of the package's top)."""
    try:
        return importlib.metadata.version("minicnn")
    except importlib.metadata.PackageNotFoundError:
        return "not installed (a source checkout)"


def report():
    """``[(label, text), ...]``: what ``python -m minicnn.info`` prints."""
    from minicnn.datasets._cache import DATA_ENV, data_dir
    model, simd = cpu_features(read_cpuinfo())
    blas = [f"{p.get('internal_api')} {p.get('version')}, core {p.get('architecture')}, "
            f"{p.get('num_threads')} threads ({p.get('filepath')})" for p in blas_pools()]
    where = f"from ${DATA_ENV}" if os.environ.get(DATA_ENV) else f"default; ${DATA_ENV} overrides"
    folder = data_dir()
    return [
        ("minicnn", f"{_version()} ({os.path.dirname(os.path.abspath(__file__))})"),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}, {platform.platform()})"),
        ("NumPy", np.__version__),
        ("BLAS", "; ".join(blas) or "unknown (threadpoolctl found none)"),
        ("CPU", f"{model or platform.machine()}, {os.cpu_count()} logical cores, {simd or 'no AVX2'}"),
        ("Worker threads", f"{num_threads()} (MINICNN_NUM_THREADS overrides)"),
        ("GPU (CuPy)", gpu_status()),
        ("MPI", mpi_status()),
        ("Data directory", f"{folder} ({where}; {'exists' if folder.is_dir() else 'not created yet'})"),
    ]


def main():
    """Print :func:`report` as two columns, then the BLAS warning if there is one."""
    rows = report()
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"{label:<{width}}  {text}")
    extras = extras_report()
    print(f"\nOptional extras (pip install 'minicnn[all]' brings {', '.join(ALL_EXTRAS)}):")
    width = max(len(extra) for extra, _ in extras)
    for extra, text in extras:
        print(f"  {extra:<{width}}  {text}")
    message = blas_warning()
    if message:
        print(f"\nWarning: {message}")


if __name__ == "__main__":
    main()
