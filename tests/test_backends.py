"""Backend matrix: every core function on NumPy, array-api-strict and torch (CPU).

CuPy and torch CUDA run the same bodies on a GPU machine (skipped here with a reason).

Each case computes the same quantity from NumPy inputs (the oracle: the NumPy run of
the same function, itself verified against mpmath/scipy elsewhere) and from the
backend's own arrays, then checks

* namespace: the result belongs to the input's array library;
* dtype: the documented result dtype (float32 inputs stay single precision);
* device: the result lives on the input's device. array-api-strict inputs are
  created on its extra device ``Device("device1")``: any silent transfer (an
  ``asarray`` without ``device=``, a host round trip) either raises there or leaves
  the result on the default device, and the check catches both;
* values: agreement with NumPy to ``rtol = 64 * N * eps`` of the working precision
  relative to the max-norm (each backend's BLAS/LAPACK/FFT rounds differently; the
  paths have O(N) and O(log L) rounding steps, and 64 covers the dense kernel's
  doubling levels at L <= 64).

Autograd (torch, float64): :func:`torch.autograd.gradcheck` on ``kernel_dplr``,
``kernel_diag``, the discretizations and ``causal_conv``, i.e. the analytic
gradients that flow through the core's array-API code (and through the fused
reductions' autograd Functions) against finite differences.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
from util import eps_of, relative_error, to_numpy

import statespace as ss
from statespace import discretize, recurrence

N, L = 6, 40


def _device(xp):
    """The device inputs are created on: array-api-strict's extra device, else default."""
    if xp.__name__ == "array_api_strict":
        return xp.Device("device1")
    return None


def _name(xp):
    return xp.__name__.split(".")[-1]


def _check(y, ref, xp, dev, dtype, *, rtol_eps=64 * N, what=""):
    """Namespace, dtype, device of ``y`` and its values against the NumPy ``ref``."""
    assert _name(array_api_compat.array_namespace(y)) == _name(xp), what
    assert y.dtype == dtype, f"{what}: dtype {y.dtype} != {dtype}"
    if dev is not None:
        assert y.device == dev, f"{what}: result on {y.device}, inputs on {dev}"
    a, d = to_numpy(y), np.asarray(ref)
    assert a.shape == d.shape, what
    err = relative_error(a, d)
    tol = rtol_eps * eps_of(dtype)
    assert err <= tol, f"{what}: rel err {err:.2e} > {tol:.2e}"


@pytest.fixture
def env(xp):
    dev = _device(xp)

    def conv(a):
        a = np.asarray(a)
        return xp.asarray(a, device=dev) if dev is not None else xp.asarray(a)

    return xp, dev, conv


def _dtypes(xp, single):
    return (xp.float32, xp.complex64) if single else (xp.float64, xp.complex128)


# --------------------------------------------------------------------------------------
# construction: HiPPO, NPLR, DPLR
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("single", [False, True])
def test_hippo_and_decompositions(env, single):
    xp, dev, _ = env
    fdt, cdt = _dtypes(xp, single)
    npdt = np.float32 if single else np.float64
    kw = dict(dtype=fdt, xp=xp, device=dev) if dev is not None else dict(dtype=fdt, xp=xp)
    A, B = ss.hippo.transition("legs", N, **kw)
    A0, B0 = ss.hippo.transition("legs", N, dtype=npdt)
    _check(A, A0, xp, dev, fdt, what="transition A")
    _check(B, B0, xp, dev, fdt, what="transition B")
    P = ss.hippo.rank_correction("legs", N, **kw)
    _check(P, ss.hippo.rank_correction("legs", N, dtype=npdt), xp, dev, fdt, what="rank P")
    d, d0 = ss.nplr("legs", N, **kw), ss.nplr("legs", N, dtype=npdt)
    h, h0 = ss.dplr("legs", N, **kw), ss.dplr("legs", N, dtype=npdt)
    for name in ("Lambda", "P", "B", "V"):
        _check(getattr(d, name), getattr(d0, name), xp, dev, cdt, what=f"nplr.{name}")
        _check(getattr(h, name), getattr(h0, name), xp, dev, cdt, what=f"dplr.{name}")


# --------------------------------------------------------------------------------------
# discretizations: dense, diagonal, DPLR
# --------------------------------------------------------------------------------------
def _system(single):
    rng = np.random.default_rng(3)
    cdt = np.complex64 if single else np.complex128
    lam = (-np.exp(rng.standard_normal((2, N // 2))) + 2j * rng.standard_normal((2, N // 2)))
    P = (rng.standard_normal((2, 1, N // 2)) + 1j * rng.standard_normal((2, 1, N // 2))) / 2
    B = rng.standard_normal(N // 2) + 1j * rng.standard_normal(N // 2)
    C = rng.standard_normal((2, N // 2)) + 1j * rng.standard_normal((2, N // 2))
    dt = np.array([0.05, 0.3])
    A, Bd = ss.hippo.transition("legs", N)
    out = dict(lam=lam, P=P, B=B, C=C, A=A, Bdense=Bd, Cdense=rng.standard_normal(N))
    out = {k: v.astype(cdt if np.iscomplexobj(v) else (np.float32 if single else np.float64))
           for k, v in out.items()}
    out["dt"] = dt.astype(np.float32 if single else np.float64)
    return out


@pytest.mark.parametrize("single", [False, True])
def test_discretizations(env, single):
    xp, dev, conv = env
    fdt, cdt = _dtypes(xp, single)
    s = _system(single)
    X = {k: conv(v) for k, v in s.items()}
    for method in ("bilinear", "zoh", "forward_euler", "backward_euler"):
        got = getattr(discretize, method)(X["A"], X["Bdense"], X["dt"])
        ref = getattr(discretize, method)(s["A"], s["Bdense"], s["dt"])
        for g, r, nm in zip(got, ref, ("Ad", "Bd"), strict=True):
            _check(g, r, xp, dev, fdt, what=f"{method} {nm}")
        got = getattr(discretize, method + "_diag")(X["lam"], X["B"], X["dt"])
        ref = getattr(discretize, method + "_diag")(s["lam"], s["B"], s["dt"])
        for g, r, nm in zip(got, ref, ("Lambda_d", "Bd"), strict=True):
            _check(g, r, xp, dev, cdt, what=f"{method}_diag {nm}")
    for method in ("bilinear_dplr", "forward_euler_dplr", "backward_euler_dplr"):
        got = getattr(discretize, method)(X["lam"], X["P"], X["B"], X["dt"], halved=True)
        ref = getattr(discretize, method)(s["lam"], s["P"], s["B"], s["dt"], halved=True)
        for g, r, nm in zip(got, ref, got._fields, strict=True):
            if nm == "halved":
                assert g is r
                continue
            dt_ = cdt if np.iscomplexobj(to_numpy(g)) else fdt
            _check(g, r, xp, dev, dt_, what=f"{method} {nm}")
        Ad = discretize.dplr_to_dense(X["lam"], X["P"], halved=True)
        Ad0 = discretize.dplr_to_dense(s["lam"], s["P"], halved=True)
        _check(Ad, Ad0, xp, dev, Ad.dtype, what="dplr_to_dense")


# --------------------------------------------------------------------------------------
# kernels, convolution, recurrence, reductions
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("single", [False, True])
def test_kernels(env, single):
    xp, dev, conv = env
    fdt, cdt = _dtypes(xp, single)
    s = _system(single)
    X = {k: conv(v) for k, v in s.items()}
    for tilde in (False, True):
        got = ss.kernel_dplr(X["lam"], X["P"], X["B"], X["C"], X["dt"], L, halved=True,
                             tilde=tilde)
        ref = ss.kernel_dplr(s["lam"], s["P"], s["B"], s["C"], s["dt"], L, halved=True,
                             tilde=tilde)
        _check(got, ref, xp, dev, fdt, what=f"kernel_dplr tilde={tilde}")
    got = ss.kernel_dplr(X["lam"], X["P"], X["B"], X["C"], X["dt"], L)  # complex kernel
    _check(got, ss.kernel_dplr(s["lam"], s["P"], s["B"], s["C"], s["dt"], L), xp, dev, cdt,
           what="kernel_dplr complex")
    for method in ("zoh", "bilinear", "dss"):
        got = ss.kernel_diag(X["lam"], X["B"], X["C"], X["dt"], L, method, halved=True)
        ref = ss.kernel_diag(s["lam"], s["B"], s["C"], s["dt"], L, method, halved=True)
        _check(got, ref, xp, dev, fdt, what=f"kernel_diag {method}")
    got = ss.kernel_dense(X["A"], X["Bdense"], X["Cdense"], X["dt"][0:1], L)
    ref = ss.kernel_dense(s["A"], s["Bdense"], s["Cdense"], s["dt"][0:1], L)
    _check(got, ref, xp, dev, fdt, what="kernel_dense")


@pytest.mark.parametrize("single", [False, True])
def test_conv_and_recurrence(env, single):
    xp, dev, conv = env
    fdt, cdt = _dtypes(xp, single)
    s = _system(single)
    X = {k: conv(v) for k, v in s.items()}
    rng = np.random.default_rng(4)
    u = rng.standard_normal((3, 2, L)).astype(np.float32 if single else np.float64)
    K = ss.kernel_dplr(s["lam"], s["P"], s["B"], s["C"], s["dt"], L, halved=True)
    D = np.array([0.5, -1.0], dtype=u.dtype)
    y0 = ss.causal_conv(u, K, D)
    _check(ss.causal_conv(conv(u), conv(K), conv(D)), y0, xp, dev, fdt, what="causal_conv")
    y_bi = ss.bidirectional_conv(u, K, K[::-1].copy(), D)
    _check(ss.bidirectional_conv(conv(u), conv(K), conv(K[::-1].copy()), conv(D)), y_bi, xp,
           dev, fdt, what="bidirectional_conv")
    # recurrence on the bilinear DPLR system reproduces the same outputs
    sysd = discretize.bilinear_dplr(X["lam"], X["P"], X["B"], X["dt"], halved=True)
    y, xf = recurrence.scan(sysd, conv(u), C=X["C"], D=conv(D), halved=True)
    sys0 = discretize.bilinear_dplr(s["lam"], s["P"], s["B"], s["dt"], halved=True)
    y_ref, xf_ref = recurrence.scan(sys0, u, C=s["C"], D=D, halved=True)
    _check(y, y_ref, xp, dev, fdt, what="scan dplr")
    _check(xf, xf_ref, xp, dev, cdt, what="scan state")
    # the recurrence agrees with the convolution (two independent paths)
    _check(y, y0, xp, dev, fdt, rtol_eps=64 * N * L, what="scan vs conv")
    x1 = recurrence.step(sysd, xf, conv(u[..., 0]))
    _check(x1, recurrence.step(sys0, xf_ref, u[..., 0]), xp, dev, cdt, what="step")
    sdiag = discretize.zoh_diag(X["lam"], X["B"], X["dt"])
    y2, _ = recurrence.scan(sdiag, conv(u), C=X["C"], halved=True)
    sdiag0 = discretize.zoh_diag(s["lam"], s["B"], s["dt"])
    _check(y2, recurrence.scan(sdiag0, u, C=s["C"], halved=True)[0], xp, dev, fdt,
           what="scan diag")


@pytest.mark.parametrize("single", [False, True])
def test_reductions(env, single):
    xp, dev, conv = env
    _, cdt = _dtypes(xp, single)
    npc = np.complex64 if single else np.complex128
    rng = np.random.default_rng(5)
    # large enough for the fused CPU kernels on NumPy/torch, so they are covered too
    v = (rng.standard_normal((4, 3, 64)) + 1j * rng.standard_normal((4, 3, 64))).astype(npc)
    w = (0.9 * np.exp(1j * rng.uniform(-3, 3, (4, 1, 64)))).astype(npc)
    z = np.exp(2j * np.pi * np.arange(256) / 256).astype(npc)
    x = (-rng.uniform(0, 0.05, (4, 1, 64)) + 1j * rng.uniform(-1, 1, (4, 1, 64))).astype(npc)
    for f, a in ((ss.cauchy, (v, z, w)), (ss.cauchy_conj, (v, z, w)), (ss.vandermonde, (v, x))):
        extra = (256,) if f is ss.vandermonde else ()
        got = f(*(conv(t) for t in a), *extra)
        _check(got, f(*a, *extra), xp, dev, cdt, rtol_eps=8 * 128 + 256, what=f.__name__)


# --------------------------------------------------------------------------------------
# torch autograd through the public functions (float64 gradcheck)
# --------------------------------------------------------------------------------------
@pytest.fixture
def torch64():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)

    def c(*shape):
        return (torch.randn(*shape, dtype=torch.float64, generator=g)
                + 1j * torch.randn(*shape, dtype=torch.float64, generator=g))

    return torch, g, c


def _leaf(t):
    return t.detach().clone().requires_grad_(True)


def test_gradcheck_kernel_dplr(torch64):
    torch, g, c = torch64
    n, Lk = 3, 12
    lam = _leaf(-torch.rand(n, dtype=torch.float64, generator=g) - 0.2 + 1j * c(n).imag)
    P, B, C = _leaf(c(1, n) / 2), _leaf(c(n)), _leaf(c(2, n))
    dt = _leaf(torch.tensor([0.1, 0.4], dtype=torch.float64))
    for tilde in (False, True):
        assert torch.autograd.gradcheck(
            lambda lam, P, B, C, dt, tilde=tilde: ss.kernel_dplr(lam, P, B, C, dt, Lk,
                                                                 halved=True, tilde=tilde),
            (lam, P, B, C, dt))
    assert torch.autograd.gradcheck(
        lambda lam, P, B, C, dt: ss.kernel_dplr(lam, P, B, C, dt, Lk), (lam, P, B, C, dt))


def test_gradcheck_kernel_diag(torch64):
    torch, g, c = torch64
    n, Lk = 3, 12
    lam = _leaf(-torch.rand(n, dtype=torch.float64, generator=g) - 0.2 + 1j * c(n).imag)
    B, C = _leaf(c(n)), _leaf(c(2, n))
    dt = _leaf(torch.tensor([0.1, 0.4], dtype=torch.float64))
    for method in ("zoh", "bilinear", "dss"):
        assert torch.autograd.gradcheck(
            lambda lam, B, C, dt, m=method: ss.kernel_diag(lam, B, C, dt, Lk, m, halved=True),
            (lam, B, C, dt))


def test_gradcheck_discretizations(torch64):
    torch, g, c = torch64
    n = 3
    A = _leaf(torch.randn(n, n, dtype=torch.float64, generator=g) - 2 * torch.eye(n,
              dtype=torch.float64))
    B = _leaf(torch.randn(n, dtype=torch.float64, generator=g))
    dt = _leaf(torch.tensor(0.2, dtype=torch.float64))
    for method in ("bilinear", "zoh", "forward_euler", "backward_euler"):
        f = getattr(discretize, method)
        assert torch.autograd.gradcheck(lambda A, B, dt, f=f: tuple(f(A, B, dt)), (A, B, dt))
    lam = _leaf(-torch.rand(n, dtype=torch.float64, generator=g) - 0.2 + 1j * c(n).imag)
    Bc, P = _leaf(c(n)), _leaf(c(1, n) / 2)
    for method in ("bilinear_diag", "zoh_diag"):
        f = getattr(discretize, method)
        assert torch.autograd.gradcheck(lambda lam, B, dt, f=f: tuple(f(lam, B, dt)),
                                        (lam, Bc, dt))

    def dplr(lam, P, B, dt):
        d = discretize.bilinear_dplr(lam, P, B, dt, halved=True)
        return tuple(t for t in d if not isinstance(t, bool))

    assert torch.autograd.gradcheck(dplr, (lam, P, Bc, dt))


def test_gradcheck_causal_conv(torch64):
    torch, g, c = torch64
    u = _leaf(torch.randn(2, 9, dtype=torch.float64, generator=g))
    K = _leaf(torch.randn(2, 9, dtype=torch.float64, generator=g))
    D = _leaf(torch.randn(2, dtype=torch.float64, generator=g))
    assert torch.autograd.gradcheck(lambda u, K, D: ss.causal_conv(u, K, D), (u, K, D))
    Kc = _leaf(c(2, 9))
    assert torch.autograd.gradcheck(lambda u, K: ss.causal_conv(u, K), (u, Kc))


def test_autograd_reaches_every_public_function(torch64):
    """Smoke test: a gradient arrives at the leaves of each remaining public function."""
    torch, g, c = torch64
    n = 4
    lam = _leaf(-torch.rand(n, dtype=torch.float64, generator=g) - 0.2 + 1j * c(n).imag)
    B, C, P = _leaf(c(n)), _leaf(c(n)), _leaf(c(1, n) / 2)
    dt = _leaf(torch.tensor(0.1, dtype=torch.float64))
    z = torch.exp(2j * torch.pi * torch.arange(8, dtype=torch.float64) / 8)
    A = _leaf(torch.randn(n, n, dtype=torch.float64, generator=g) - 3 * torch.eye(n,
              dtype=torch.float64))
    u = _leaf(torch.randn(2, 10, dtype=torch.float64, generator=g))
    outs = {
        "cauchy": ss.cauchy(B, z, lam),
        "cauchy_conj": ss.cauchy_conj(B, z, lam),
        "vandermonde": ss.vandermonde(B, dt * lam, 8),
        "kernel_dense": ss.kernel_dense(A, A[0], A[1], dt, 8),
        "bidirectional_conv": ss.bidirectional_conv(u, u, u),
        "scan": recurrence.scan(discretize.bilinear_dplr(lam, P, B, dt, halved=True), u,
                                C=C, halved=True)[0],
    }
    for name, y in outs.items():
        leaves = [t for t in (lam, B, C, P, dt, A, u) if t.grad is not None]
        for t in leaves:
            t.grad = None
        (y.real if y.is_complex() else y).sum().backward()
        assert any(t.grad is not None and bool(torch.all(torch.isfinite(t.grad)))
                   for t in (lam, B, C, P, dt, A, u)), name
