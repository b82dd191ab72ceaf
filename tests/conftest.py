"""Shared fixtures: the backend matrix and a deterministic hypothesis profile."""

from __future__ import annotations

import os

# One BLAS thread unless the caller says otherwise: the test matrices are small, and
# OpenBLAS threads thrash on a loaded 2-core machine (eigh at N = 2048 ran 3x slower).
# Set before NumPy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import HealthCheck, settings


def _use_the_installed_package():
    """Test the installed statespace when the checkout's copy lacks its verification layer.

    setuptools installs the repository's ``verification/`` folder as
    ``statespace.verification``. ``python -m pytest`` puts the repository root first on
    ``sys.path``, so ``statespace`` is imported from the checkout; an editable install
    maps the subpackage there, but after a non-editable install it is only in
    site-packages, which that import never looks in. Then drop the repository root
    from ``sys.path`` (worker processes inherit it) and import the installed package,
    as plain ``pytest`` does.
    """
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    if importlib.util.find_spec("statespace.verification") is not None:
        return
    root = Path(__file__).resolve().parents[1]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]
    for name in [m for m in sys.modules if m == "statespace" or m.startswith("statespace.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    if importlib.util.find_spec("statespace.verification") is None:
        pytest.exit('statespace is not installed: pip install -e ".[test]"', returncode=4)


_use_the_installed_package()

from statespace._array import backend_namespace  # noqa: E402

# Deterministic hypothesis: CI failures reproduce (SciPy's convention).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _backends():
    out = [pytest.param("numpy", id="numpy")]
    out.append(pytest.param("array_api_strict", id="array_api_strict"))
    try:
        import torch  # noqa: F401

        out.append(pytest.param("torch", id="torch"))
    except ImportError:  # pragma: no cover
        out.append(pytest.param("torch", id="torch", marks=pytest.mark.skip("torch not installed")))
    if _importable("jax"):
        out.append(pytest.param("jax", id="jax"))
    gpu_reason = _gpu_reason()
    cupy_marks = [pytest.mark.gpu] + ([pytest.mark.skip(gpu_reason)] if gpu_reason else [])
    out.append(pytest.param("cupy", id="cupy", marks=cupy_marks))
    out.append(pytest.param("torch_cuda", id="torch_cuda", marks=cupy_marks))
    return out


def _importable(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


def jax_x64(enabled=True):
    """Context manager: JAX 64-bit types on (or off) in this thread, restored on exit.

    ``jax_enable_x64`` is global to JAX; the context (``jax.enable_x64``, or
    ``jax.experimental.enable_x64`` on older releases) scopes it to one test, so a
    test that needs one setting does not leak it into the next.
    """
    import jax

    ctx = getattr(jax, "enable_x64", None)
    if ctx is not None and callable(ctx):
        return ctx(enabled)
    from jax import experimental  # pragma: no cover - older JAX

    return experimental.enable_x64() if enabled else experimental.disable_x64()


def _gpu_reason():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
    except Exception:
        return "CuPy with a CUDA device is not available"
    return None


@pytest.fixture(params=_backends())
def xp(request):
    """Array namespace under test (array-api-compat wrapped where needed).

    JAX (a parameter only where it is installed) runs with 64-bit types enabled for
    the test: the tests build float64 inputs, which JAX would otherwise truncate to
    float32. tests/test_jax.py covers JAX's default single-precision mode.
    """
    name = request.param
    xp = backend_namespace("torch" if name == "torch_cuda" else name)
    if name == "array_api_strict":
        xp.set_array_api_strict_flags(api_version="2025.12")
    if name in ("torch", "torch_cuda"):
        import torch

        torch.set_default_dtype(torch.float32)
    if name == "jax":
        with jax_x64(True):
            yield xp
        return
    yield xp


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch intra-op thread for a module's tests, restored afterwards."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_collection_modifyitems(config, items):
    """The ``xp`` fixture's JAX parameter runs under the slow marker.

    Eager JAX compiles every operation for each new shape: the backend-generic tests
    take minutes on JAX (22 min for the 91 of them on a loaded 2-core machine) against
    seconds on the other backends. ``tests/test_jax.py`` keeps JAX in the default
    suite through compiled (``jax.jit``) functions; ``-m slow`` runs the rest.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("xp") == "jax":
            item.add_marker(pytest.mark.slow)
