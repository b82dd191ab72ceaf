"""The routes of :func:`statespace.scan` (``method=``) against the step loop and scipy.

Oracles: the ``"sequential"`` route (the step loop, a different algorithm: no power,
no matrix product over time), ``scipy.signal.dlsim`` (an independent simulator; its
state ``x[k]`` is our ``x_{k-1}``, so it runs the system ``(Ad, Bd, C Ad, C Bd + D)``)
and, for float32, the float64 step loop on the same (rounded) system.

Tolerance in float64 (relative to the largest output / state entry): the loop's entry
``l`` carries up to ``l`` rounding steps of a length-``n`` product, a route's entry a
doubling chain of at most ``log2 T`` squarings (relative error ``<= T eps`` for a
power ``A^t``, ``t <= T``), sums of length ``<= n + T`` and ``<= L / T`` carries, so
both are within ``(n + L) eps`` of the exact values up to a small factor: we use
``8 (n + L) eps``, below ``1e-12`` for every size drawn here (``n + L <= 150``).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from util import to_numpy

import statespace as ss
from statespace import discretize as sd
from statespace import recurrence as rec

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
ROUTES = ("associative", "chunked", "convolution", "auto")

xp_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                              HealthCheck.too_slow])


def _system(kind, N, H, rng, dtype=np.float64):
    """``(sys, C, halved, x0_complex)`` of one kind, stable, batch ``(H,)``."""
    dt = 10 ** rng.uniform(-2, 0, H)
    Lam = -(10 ** rng.uniform(-1.5, 0.5, N)) + 1j * rng.uniform(-6, 6, N)
    B = rng.standard_normal(N) + 0j
    C = rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N))
    if kind in ("diag_halved", "diag"):
        sys = sd.zoh_diag(Lam, B, dt)
        return sys, C, kind == "diag_halved", True
    if kind == "diag_real":
        sys = sd.zoh_diag(Lam.real, B.real, dt)
        return sys, C.real, False, False
    if kind == "dense":
        M = rng.standard_normal((N, N)) / np.sqrt(N)
        A = M - (np.max(np.linalg.eigvals(M).real) + rng.uniform(0.1, 1)) * np.eye(N)
        return sd.bilinear(A, rng.standard_normal(N), dt), C.real, False, False
    P = 0.5 * (rng.standard_normal((1, N)) + 1j * rng.standard_normal((1, N)))
    halved = kind == "dplr_halved"
    return sd.bilinear_dplr(Lam, P, B, dt, halved=halved), C, halved, True


KINDS = ("diag_halved", "diag", "diag_real", "dense", "dplr_halved", "dplr")


def _rel(got, ref):
    got, ref = to_numpy(got), to_numpy(ref)
    return float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-300))


@settings(max_examples=60)
@given(
    kind=st.sampled_from(KINDS),
    N=st.integers(1, 6),
    L=st.integers(1, 140),
    chunk=st.sampled_from([None, 1, 2, 3, 8, 32]),
    method=st.sampled_from(ROUTES),
    with_C=st.booleans(),
    with_x0=st.booleans(),
    ubatch=st.sampled_from([(), (2,)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_routes_match_sequential(kind, N, L, chunk, method, with_C, with_x0, ubatch, seed):
    rng = np.random.default_rng(seed)
    H = 2
    sys, C, halved, cx0 = _system(kind, N, H, rng)
    if method == "convolution" and not (kind.startswith("diag") and with_C):
        return  # refused (tested below)
    u = rng.standard_normal(ubatch + (H, L))
    x0 = None
    if with_x0:
        x0 = rng.standard_normal((H, N)) + (1j * rng.standard_normal((H, N)) if cx0 else 0)
    kw = {"C": C, "D": rng.standard_normal(H)} if with_C else {}
    ref_y, ref_x = rec.scan(sys, u, x0, halved=halved, method="sequential", **kw)
    y, x = rec.scan(sys, u, x0, halved=halved, method=method, chunk=chunk, **kw)
    assert y.shape == ref_y.shape and y.dtype == ref_y.dtype
    assert x.shape == ref_x.shape and x.dtype == ref_x.dtype
    n = 2 * N if kind == "dplr_halved" else N
    rtol = 8 * (n + L) * EPS64  # module docstring; <= 1e-12 here
    assert rtol <= 1e-12
    assert _rel(y, ref_y) <= rtol, (_rel(y, ref_y), rtol)
    assert _rel(x, ref_x) <= rtol, (_rel(x, ref_x), rtol)


@pytest.mark.parametrize("method", ["associative", "chunked", "convolution"])
@pytest.mark.parametrize("kind", ["diag_real", "dense"])
def test_routes_match_dlsim(method, kind):
    """An independent simulator (scipy.signal.dlsim), one real channel."""
    rng = np.random.default_rng(7)
    if method == "convolution" and kind == "dense":
        pytest.skip("the convolution route is for diagonal systems")
    N, L = 5, 200
    sys, C, halved, _ = _system(kind, N, 1, rng)
    if kind == "dense":
        Ad, Bd = sys.Ad[0], sys.Bd[0]
    else:
        Ad, Bd = np.diag(sys.Lambda_d[0]), sys.Bd[0]
    C, D = C[0], 0.3
    u = rng.standard_normal(L)
    x0 = rng.standard_normal(N)
    one = type(sys)(*(a[0] for a in sys))
    y, xf = rec.scan(one, u, x0, C=C, D=D, method=method, chunk=16)
    # dlsim: x[k+1] = Ad x[k] + Bd u[k], y[k] = C' x[k] + D' u[k], x[0] = our x_{-1}
    _, yd, xd = scipy.signal.dlsim((Ad, Bd[:, None], (C @ Ad)[None], C @ Bd + D, 1.0), u,
                                   x0=x0)
    x_last = Ad @ xd[-1] + Bd * u[-1]
    scale = 8 * (N + L) * EPS64
    assert _rel(y, yd[:, 0]) <= scale
    assert _rel(xf, x_last) <= scale


def _float32_bound(sys, C, halved, u, x0, T):
    """The float32 bound stated in :func:`statespace.scan` (Notes), from float64 data."""
    states, _ = rec.scan(sys, u, x0, halved=halved, method="sequential")
    if isinstance(sys, sd.DPLRDiscrete):
        Ad = sys.to_dense().Ad
    elif isinstance(sys, sd.DiagDiscrete):
        Ad = sys.Lambda_d[..., None] * np.eye(sys.Lambda_d.shape[-1])
    else:
        Ad = sys.Ad
    rho = float(np.max(np.abs(np.linalg.eigvals(Ad))))
    L = u.shape[-1]
    n = Ad.shape[-1]
    memory = min(L, 1.0 / (1.0 - rho))
    X = float(np.abs(states).max())
    cn = (2 if halved else 1) * float(np.abs(C).sum(axis=-1).max())
    return 16 * EPS32 * (n + T + memory), X, cn


@pytest.mark.parametrize("method", ["associative", "chunked", "convolution", "sequential"])
@pytest.mark.parametrize("kind", ["diag_halved", "dplr_halved", "dense"])
def test_float32_error_bound(method, kind):
    """float32 routes vs the float64 loop on the same float32-rounded system."""
    if method == "convolution" and kind != "diag_halved":
        pytest.skip("diagonal systems only")
    rng = np.random.default_rng(3)
    H, N, L, T = 3, 8, 600, 32
    sys64, C, halved, cx0 = _system(kind, N, H, rng)
    sys32 = type(sys64)(*(a.astype(np.complex64 if np.iscomplexobj(a) else np.float32)
                          if isinstance(a, np.ndarray) else a for a in sys64))
    sys64 = type(sys32)(*(a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
                          if isinstance(a, np.ndarray) else a for a in sys32))
    C32 = C.astype(np.complex64 if np.iscomplexobj(C) else np.float32)
    u32 = rng.standard_normal((H, L)).astype(np.float32)
    x0 = rng.standard_normal((H, N)) + (1j * rng.standard_normal((H, N)) if cx0 else 0)
    x032 = x0.astype(np.complex64 if cx0 else np.float32)
    y32, x32 = rec.scan(sys32, u32, x032, C=C32, halved=halved, method=method, chunk=T)
    assert y32.dtype == np.float32 or y32.dtype == np.complex64
    y64, xf64 = rec.scan(sys64, u32.astype(np.float64), x032.astype(x0.dtype),
                         C=C32.astype(C.dtype), halved=halved, method="sequential")
    rel_bound, X, cn = _float32_bound(sys64, C32.astype(C.dtype), halved,
                                      u32.astype(np.float64), x032.astype(x0.dtype), T)
    assert np.abs(x32 - xf64).max() <= rel_bound * X
    assert np.abs(y32 - y64).max() <= rel_bound * cn * X


def test_all_states_every_route():
    """Without C every route returns the states, batch + (L, N), as the loop does."""
    rng = np.random.default_rng(1)
    sys, _, halved, _ = _system("dplr_halved", 3, 2, rng)
    u = rng.standard_normal((2, 50))
    ref, ref_x = rec.scan(sys, u, halved=True, method="sequential")
    for method in ("associative", "chunked", "auto"):
        s, x = rec.scan(sys, u, halved=True, method=method, chunk=8)
        assert s.shape == (2, 50, 3)
        assert _rel(s, ref) <= 8 * (6 + 50) * EPS64
        assert _rel(x, ref_x) <= 8 * (6 + 50) * EPS64


def test_backends_agree(xp):
    """One body on every backend (array API): the routes agree with NumPy's loop."""
    rng = np.random.default_rng(2)
    sys, C, halved, _ = _system("diag_halved", 4, 2, rng)
    u = rng.standard_normal((2, 70))
    ref, ref_x = rec.scan(sys, u, C=C, halved=True, method="sequential")
    xsys = type(sys)(*(xp.asarray(a) for a in sys))
    for method in ("associative", "chunked", "convolution"):
        y, x = rec.scan(xsys, xp.asarray(u), C=xp.asarray(C), halved=True, method=method,
                        chunk=16)
        assert _rel(y, ref) <= 8 * (4 + 70) * EPS64
        assert _rel(x, ref_x) <= 8 * (4 + 70) * EPS64


def test_method_validation():
    rng = np.random.default_rng(0)
    sys, C, _, _ = _system("dense", 2, 1, rng)
    u = np.ones((1, 4))
    with pytest.raises(ValueError, match="method must be one of"):
        rec.scan(sys, u, method="fast")
    with pytest.raises(ValueError, match="method='convolution' needs a DiagDiscrete"):
        rec.scan(sys, u, C=C, method="convolution")
    with pytest.raises(ValueError, match="chunk"):
        rec.scan(sys, u, method="chunked", chunk=0)
    with pytest.raises(TypeError, match="chunk"):
        rec.scan(sys, u, method="chunked", chunk=2.5)


def test_auto_rule():
    rng = np.random.default_rng(0)
    sys, C, _, _ = _system("diag", 2, 1, rng)
    assert rec._choose(np, sys, rec.AUTO_SEQUENTIAL_MAX, C, "auto") == "sequential"
    assert rec._choose(np, sys, 1000, C, "auto") == "chunked"
    array_api_strict = pytest.importorskip("array_api_strict")
    assert rec._choose(array_api_strict, type(sys)(*(array_api_strict.asarray(a)
                                                     for a in sys)), 1000, C,
                       "auto") == "associative"


def test_inputs_not_mutated():
    rng = np.random.default_rng(4)
    sys, C, halved, _ = _system("dplr_halved", 3, 2, rng)
    u = rng.standard_normal((2, 40))
    x0 = rng.standard_normal((2, 3)) + 0j
    copies = [a.copy() for a in (u, x0, C)]
    for method in ("associative", "chunked"):
        rec.scan(sys, u, x0, C=C, halved=halved, method=method, chunk=4)
    for a, b in zip((u, x0, C), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    _ = ss  # the package imports


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["diag", "dplr"])
def test_long_sequence_1e12(kind):
    """The issue's figure: 1e-12 relative in float64 at L = 65536 (S4D-Lin, LegS DPLR),
    measured ~1e-14; the general 8 (n + L) eps bound would allow 1e-10 here."""
    from statespace.decomp import dplr

    rng = np.random.default_rng(5)
    H, N, L = 2, 16, 65536
    dt = np.array([1e-3, 1e-1])
    h = dplr("diag-lin" if kind == "diag" else "legs", N)
    sys = (sd.zoh_diag(h.Lambda, h.B, dt) if kind == "diag"
           else sd.bilinear_dplr(h.Lambda, h.P, h.B, dt, halved=True))
    C = rng.standard_normal((H, N // 2)) + 1j * rng.standard_normal((H, N // 2))
    x0 = rng.standard_normal((H, N // 2)) + 0j
    u = rng.standard_normal((H, L))
    ref_y, ref_x = rec.scan(sys, u, x0, C=C, D=0.5, halved=True, method="sequential")
    for method in ("chunked", "associative") + (("convolution",) if kind == "diag" else ()):
        y, x = rec.scan(sys, u, x0, C=C, D=0.5, halved=True, method=method)
        assert _rel(y, ref_y) <= 1e-12 and _rel(x, ref_x) <= 1e-12, method
