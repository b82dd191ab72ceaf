"""Tests for :mod:`statespace.recurrence` (step / scan).

Oracle: a direct NumPy loop ``x = Ad @ x + Bd * u; y = C @ x + D * u`` with explicit
dense matrices (for DPLR systems, the dense ``Ad, Bd`` of the explicitly built
``A = diag(Lambda) - P^H P`` from :func:`scipy.signal.cont2discrete`, the full
``2N``-mode system when halved).

Tolerance of a scan against the loop (absolute, on the states): each step adds a
rounding error ``|d_l| <= (N + 2) eps (||Ad|| X + ||Bd|| U)`` (matvec of length N,
X = max state norm, U = max |u|); errors propagate through ``Ad^k`` with
``G = max_k ||Ad^k||_inf``, so after L steps
``|e| <= L G (N + 2) eps (||Ad|| X + ||Bd|| U)``, times 4 for slack.
A structured (DPLR) transition differs from the dense one by
``||dAd|| <= 8 (1 + alpha dt ||A||) eps ||Ad||`` (see test_discretize), which adds
``L G ||dAd|| X``. Outputs ``y = C x`` get ``||C||_1`` times the state bound.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from util import to_numpy, xp_assert_equal

import statespace as ss
from statespace import _array
from statespace import discretize as sd
from statespace import recurrence as rec
from statespace.discretize import DenseDiscrete, DiagDiscrete

EPS = float(np.finfo(np.float64).eps)

xp_settings = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ]
)


# ----------------------------------------------------------------------------------
# oracle and bounds
# ----------------------------------------------------------------------------------
def _loop(Ad, Bd, u, x0=None, C=None, D=0.0):
    """Direct loop for one channel: Ad (n, n), Bd (n,), u (L,) -> states (L, n), y (L,)."""
    x = np.zeros(Ad.shape[-1], dtype=np.result_type(Ad, Bd, u)) if x0 is None else x0.copy()
    xs, ys = [], []
    for ul in u:
        x = Ad @ x + Bd * ul
        xs.append(x)
        if C is not None:
            ys.append(C @ x + D * ul)
    return np.array(xs), (np.array(ys) if C is not None else None)


def _growth(Ad, L):
    """G = max_{0 <= k <= L} ||Ad^k||_inf."""
    G, M = 1.0, np.eye(Ad.shape[-1])
    for _ in range(L):
        M = Ad @ M
        G = max(G, np.abs(M).sum(axis=1).max())
    return G


def _state_bound(Ad, Bd, xs, u, extra=0.0):
    """Absolute bound on the state error of a length-L scan (module docstring)."""
    L, n = xs.shape[0], Ad.shape[-1]
    G = _growth(Ad, L)
    X = np.abs(xs).max()
    normA = np.abs(Ad).sum(axis=1).max()
    local = (n + 2) * EPS * (normA * X + np.abs(Bd).sum() * np.abs(u).max())
    return 4 * L * G * (local + extra * normA * X)


def _check_scan(got_x, got_y, Ad, Bd, u, C, D, x0=None, extra=0.0, halved=False):
    """Compare one channel of a scan with the loop; returns (state err, bound)."""
    xs, ys = _loop(Ad, Bd, u, x0, C, D)
    n = got_x.shape[-1]
    bound = _state_bound(Ad, Bd, xs, u, extra)
    err = np.abs(got_x - xs[:, :n]).max()
    assert err <= bound, (err, bound)
    if C is not None:
        ref = ys.real if halved else ys
        assert np.abs(got_y - ref).max() <= 2 * np.abs(C).sum() * bound + 4 * EPS * np.abs(
            ref
        ).max()
    return err, bound


def _stable(N, rng):
    M = rng.standard_normal((N, N)) / math.sqrt(N)
    return M - (np.max(np.linalg.eigvals(M).real) + rng.uniform(0.05, 1.0)) * np.eye(N)


# ----------------------------------------------------------------------------------
# dense and diagonal scans vs the loop
# ----------------------------------------------------------------------------------
@xp_settings
@given(
    N=st.integers(1, 8),
    L=st.integers(1, 48),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["dense", "diag", "diag_real"]),
    ubatch=st.sampled_from([(), (2,)]),
)
def test_scan_matches_loop(xp, N, L, seed, kind, ubatch):
    rng = np.random.default_rng(seed)
    H = 3
    dt = 10 ** rng.uniform(-3, 0, H)
    if kind == "dense":
        A = _stable(N, rng)
        B = rng.standard_normal(N)
        Ad, Bd = sd.bilinear(A, B, dt)  # (H, N, N), (H, N)
        sys = DenseDiscrete(xp.asarray(Ad), xp.asarray(Bd))
        C = rng.standard_normal((H, N))
    else:
        Lam = -(10 ** rng.uniform(-2, 1, N))
        B = rng.standard_normal(N)
        if kind == "diag":
            Lam = Lam + 1j * rng.uniform(-20, 20, N)
            B = B + 1j * rng.standard_normal(N)
        Ld, Bd = sd.zoh_diag(Lam, B, dt)
        Ad = Ld[..., :, None] * np.eye(N)
        sys = DiagDiscrete(xp.asarray(Ld), xp.asarray(Bd))
        C = rng.standard_normal((H, N))
        if kind == "diag":
            C = C + 1j * rng.standard_normal((H, N))
    u = rng.standard_normal(ubatch + (H, L))
    D = rng.standard_normal(H)
    x0 = rng.standard_normal(ubatch + (H, N))
    y, xf = rec.scan(sys, xp.asarray(u), xp.asarray(x0), C=xp.asarray(C), D=xp.asarray(D))
    states, _ = rec.scan(sys, xp.asarray(u), xp.asarray(x0))
    y, xf, states = to_numpy(y), to_numpy(xf), to_numpy(states)
    assert y.shape == ubatch + (H, L) and states.shape == ubatch + (H, L, N)
    if kind != "diag":
        assert not np.iscomplexobj(y)
    for idx in np.ndindex(*ubatch, H):
        h = idx[-1]
        _check_scan(states[idx], y[idx], Ad[h], Bd[h], u[idx], C[h], D[h], x0=x0[idx])
    # the two calls may take different routes (method="auto"): equal to rounding, within
    # the routes' 8 (N + L) eps (see test_scan_routes)
    np.testing.assert_allclose(xf, states[..., -1, :], rtol=0,
                               atol=8 * (N + L) * EPS * np.abs(states).max())


# ----------------------------------------------------------------------------------
# DPLR scans vs the loop on the dense-equivalent system
# ----------------------------------------------------------------------------------
def _full(a, halved):
    return np.concatenate([a, a.conj()], axis=-1) if halved else a


def _dplr_system(N, r, rng):
    Lam = -(10 ** rng.uniform(-2, 0.5, N)) + 1j * rng.uniform(-10, 10, N)
    P = (rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N))) / math.sqrt(N)
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    return Lam, P, B, C


def _dense_equivalent(Lam, P, B, dt, alpha, halved):
    Lf, Pf, Bf = _full(Lam, halved), _full(P, halved), _full(B, halved)
    A = np.diag(Lf) - Pf.conj().T @ Pf
    n = A.shape[0]
    Ad, Bd, *_ = scipy.signal.cont2discrete(
        (A, Bf[:, None], np.eye(n), np.zeros((n, 1))), dt, method="gbt", alpha=alpha
    )
    return A, Ad, Bd[:, 0]


@xp_settings
@given(
    N=st.integers(1, 8),
    r=st.integers(1, 3),
    L=st.integers(1, 48),
    seed=st.integers(0, 2**32 - 1),
    halved=st.booleans(),
    alpha=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_dplr_scan_matches_loop(xp, N, r, L, seed, halved, alpha):
    rng = np.random.default_rng(seed)
    Lam, P, B, C = _dplr_system(N, r, rng)
    # forward Euler is only stable for small steps: keep |1 + dt lambda| < 1 roughly
    dt = float(10 ** rng.uniform(-3, -1 if alpha == 0 else 0.5))
    sys = sd.gbt_dplr(xp.asarray(Lam), xp.asarray(P), xp.asarray(B), dt, alpha, halved=halved)
    u = rng.standard_normal(L)
    D = float(rng.standard_normal())
    x0 = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    y, xf = rec.scan(sys, xp.asarray(u), xp.asarray(x0), C=xp.asarray(C), D=D, halved=halved)
    states, _ = rec.scan(sys, xp.asarray(u), xp.asarray(x0), halved=halved)
    y, states = to_numpy(y), to_numpy(states)
    if halved:
        assert not np.iscomplexobj(y)
    A, Ad, Bd = _dense_equivalent(Lam, P, B, dt, alpha, halved)
    extra = 8 * (1 + alpha * dt * np.linalg.norm(A, 2)) * EPS  # structured vs dense Ad
    # halved: full state [x, conj x], output C_f x_f = 2 Re(C x)
    _check_scan(states, y, Ad, Bd, u, _full(C, halved), D, x0=_full(x0, halved),
                extra=extra, halved=halved)

    # the DPLR scan equals the dense scan of its dense equivalent (to_dense)
    dense = sys.to_dense()
    yd, _ = rec.scan(dense, xp.asarray(u), xp.asarray(_full(x0, halved)),
                     C=xp.asarray(_full(C, halved)), D=D)
    yd = to_numpy(yd)
    if halved:
        assert np.abs(yd.imag).max() <= 64 * L * EPS * max(1.0, np.abs(yd).max())
        yd = yd.real
    xs, ys = _loop(Ad, Bd, u, _full(x0, halved), _full(C, halved), D)
    tol = 2 * np.abs(C).sum() * _state_bound(Ad, Bd, xs, u, extra) * (2 if halved else 1)
    assert np.abs(y - yd).max() <= 2 * tol + 8 * EPS * np.abs(yd).max()


# ----------------------------------------------------------------------------------
# streaming, step, backends
# ----------------------------------------------------------------------------------
def _systems(xp, rng, N=5, H=2):
    A = _stable(N, rng)
    B = rng.standard_normal(N)
    dt = xp.asarray(10 ** rng.uniform(-2, 0, H))
    Lam, P, Bc, _ = _dplr_system(N, 2, rng)
    Lx, Px, Bx = xp.asarray(Lam), xp.asarray(P), xp.asarray(Bc)
    return {
        "dense": (sd.bilinear(xp.asarray(A), xp.asarray(B), dt), False),
        "zoh": (sd.zoh(xp.asarray(A), xp.asarray(B), dt), False),
        "diag": (sd.zoh_diag(Lx, Bx, dt), False),
        "dplr": (sd.bilinear_dplr(Lx, Px, Bx, dt), False),
        "dplr_halved": (sd.bilinear_dplr(Lx, Px, Bx, dt, halved=True), True),
    }


@pytest.mark.parametrize("split", [1, 17, 39])
def test_chunked_streaming_equals_one_call(xp, split):
    rng = np.random.default_rng(split)
    N, H, L = 5, 2, 40
    u = xp.asarray(rng.standard_normal((H, L)))
    C = xp.asarray(rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N)))
    D = xp.asarray(rng.standard_normal(H))
    for (name, (sys, halved)), method in itertools.product(_systems(xp, rng, N, H).items(),
                                                            ("sequential", "auto")):
        y, xf = rec.scan(sys, u, C=C, D=D, halved=halved, method=method)
        y1, x1 = rec.scan(sys, u[:, :split], C=C, D=D, halved=halved, method=method)
        y2, x2 = rec.scan(sys, u[:, split:], x1, C=C, D=D, halved=halved, method=method)
        yc = np.concatenate([to_numpy(y1), to_numpy(y2)], axis=-1)
        # sequential: identical arithmetic in both paths, equal to the last ulp (measured:
        # exactly); auto: the lengths may take different routes, equal within the
        # routes' 8 (n + L) eps (n <= 2 N, see test_scan_routes)
        tol = 2 * EPS if method == "sequential" else 8 * (2 * N + L) * EPS
        scale = np.abs(to_numpy(y)).max()
        assert np.abs(yc - to_numpy(y)).max() <= tol * scale, name
        assert np.abs(to_numpy(x2) - to_numpy(xf)).max() <= tol * np.abs(to_numpy(xf)).max()


def test_step_matches_dense_product(xp):
    rng = np.random.default_rng(7)
    N, H = 5, 2
    x = rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N))
    u = rng.standard_normal(H)
    for name, (sys, halved) in _systems(xp, rng, N, H).items():
        x_next = rec.step(sys, xp.asarray(x), xp.asarray(u))
        got = to_numpy(x_next)
        if isinstance(sys, sd.DPLRDiscrete):
            Ad, Bd = (to_numpy(a) for a in sys.to_dense())
        elif isinstance(sys, DiagDiscrete):
            Ad = to_numpy(sys.Lambda_d)[..., :, None] * np.eye(N)
            Bd = to_numpy(sys.Bd)
        else:
            Ad, Bd = (to_numpy(a) for a in sys)
        for h in range(H):
            xf = _full(x[h], halved)
            ref = (Ad[h] @ xf + Bd[h] * u[h])[:N]
            bound = 16 * N * EPS * (np.abs(Ad[h]).max() * np.abs(xf).sum() + np.abs(Bd[h]).max())
            assert np.abs(got[h] - ref).max() <= bound, name
        # step is the first state of a scan from x0 = x
        states, _ = rec.scan(sys, xp.asarray(u[:, None]), xp.asarray(x), halved=halved)
        xp_assert_equal(states[..., 0, :], x_next)


def test_backends_identical(xp):
    """Each backend's scan reproduces the NumPy scan (same arithmetic, ulp differences)."""
    rng = np.random.default_rng(8)
    import array_api_compat.numpy as xnp

    u = rng.standard_normal((2, 30))
    C = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    ref_sys = _systems(xnp, np.random.default_rng(9))
    got_sys = _systems(xp, np.random.default_rng(9))
    for name, (sys, halved) in got_sys.items():
        y, _ = rec.scan(sys, xp.asarray(u), C=xp.asarray(C), D=0.5, halved=halved)
        yr, _ = rec.scan(ref_sys[name][0], u, C=C, D=0.5, halved=halved)
        y, yr = to_numpy(y), to_numpy(yr)
        assert y.dtype == yr.dtype
        assert np.abs(y - yr).max() <= 30 * 64 * EPS * np.abs(yr).max(), name


@pytest.mark.parametrize("single", [True, False])
def test_dtypes(xp, single):
    rdt = xp.float32 if single else xp.float64
    cdt = _array.complex_dtype(xp, rdt)
    rng = np.random.default_rng(10)
    Lam, P, B, C = _dplr_system(4, 1, rng)
    Lx, Px, Bx, Cx = (xp.asarray(a, dtype=cdt) for a in (Lam, P, B, C))
    u = xp.asarray(rng.standard_normal((3, 6)), dtype=rdt)  # batch (3,)
    halved_sys = sd.bilinear_dplr(Lx, Px, Bx, 0.1, halved=True)
    y, x = rec.scan(halved_sys, u, C=Cx, halved=True)
    assert y.dtype == rdt and x.dtype == cdt and y.shape == (3, 6) and x.shape == (3, 4)
    y, x = rec.scan(sd.zoh_diag(Lx, Bx, 0.1), u, C=Cx)
    assert y.dtype == cdt and x.dtype == cdt
    A, Bd = ss.hippo.transition("legs", 4, dtype=rdt, xp=xp)
    y, x = rec.scan(sd.bilinear(A, Bd, 0.1), u, C=Bd, D=1.0)
    assert y.dtype == rdt and x.dtype == rdt


def test_inputs_not_mutated(xp):
    rng = np.random.default_rng(12)
    sys, halved = _systems(xp, rng)["dplr_halved"]
    u = xp.asarray(rng.standard_normal((2, 7)))
    x0 = xp.asarray(rng.standard_normal((2, 5)) + 0j)
    C = xp.asarray(rng.standard_normal((2, 5)) + 0j)
    D = xp.asarray(rng.standard_normal(2))
    arrays = [u, x0, C, D, *sys[:-1]]
    before = [to_numpy(a).copy() for a in arrays]
    rec.scan(sys, u, x0, C=C, D=D, halved=halved)
    rec.step(sys, x0, u[:, 0])
    for b, a in zip(before, arrays, strict=True):
        np.testing.assert_array_equal(to_numpy(a), b)


def test_autograd_through_dplr_scan():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    Lam, P, B, C = _dplr_system(3, 1, rng)
    u = torch.tensor(rng.standard_normal(5))
    Ct = torch.tensor(C)

    def f(lam_re, lam_im, p_re, p_im, log_dt):
        lam = torch.complex(lam_re, lam_im)
        p = torch.complex(p_re, p_im)
        sys = sd.bilinear_dplr(lam, p, torch.tensor(B), torch.exp(log_dt), halved=True)
        return rec.scan(sys, u, C=Ct, D=0.3, halved=True)[0]

    args = tuple(
        torch.tensor(a, requires_grad=True)
        for a in (Lam.real, Lam.imag, P.real, P.imag, np.array(-2.0))
    )
    assert torch.autograd.gradcheck(f, args)


# ----------------------------------------------------------------------------------
# bad inputs
# ----------------------------------------------------------------------------------
def _diag_sys():
    return sd.zoh_diag(np.array([-1.0 + 1j, -0.5]), np.array([1.0, 1.0]), 0.1)


def test_bad_inputs():
    sys = _diag_sys()
    C = np.ones(2)
    with pytest.raises(ValueError, match="u"):
        rec.scan(sys, np.zeros(0))
    with pytest.raises(ValueError, match="u"):
        rec.scan(sys, np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="x0"):
        rec.scan(sys, np.ones(3), x0=np.ones(3))
    with pytest.raises(ValueError, match="x0"):
        rec.scan(sys, np.ones(3), x0=np.array([np.inf, 0.0]))
    with pytest.raises(ValueError, match="x0"):
        rec.scan(sys, np.ones((3, 4)), x0=np.ones((2, 2)))
    with pytest.raises(ValueError, match="C"):
        rec.scan(sys, np.ones(3), C=np.ones(3))
    with pytest.raises(ValueError, match="C"):
        rec.scan(sys, np.ones(3), C=np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="D"):
        rec.scan(sys, np.ones(3), C=C, D=math.nan)
    with pytest.raises(ValueError, match="D"):
        rec.scan(sys, np.ones(3), D=1.0)
    with pytest.raises(TypeError, match="u must have a real dtype"):
        rec.scan(sys, np.ones(3) + 0j, C=C, halved=True)
    with pytest.raises(ValueError, match="batch"):
        rec.scan(sd.zoh_diag(np.ones((2, 2)) * -1, np.ones(2), 0.1), np.ones((3, 4)))
    with pytest.raises(ValueError, match="x"):
        rec.step(sys, np.ones(3), 1.0)
    with pytest.raises(TypeError, match="sys"):
        rec.scan((np.eye(2), np.ones(2)), np.ones(3))
    with pytest.raises(TypeError, match="sys"):
        rec.step((np.eye(2), np.ones(2)), np.ones(2), 1.0)
    with pytest.raises(TypeError, match="halved"):
        rec.scan(sys, np.ones(3), halved=None)
    dplr = sd.bilinear_dplr(np.array([-1.0 + 1j]), np.array([[0.5j]]), np.ones(1), 0.1, halved=True)
    with pytest.raises(ValueError, match="halved"):
        rec.scan(dplr, np.ones(3))
    with pytest.raises(ValueError, match="Bd"):
        rec.scan(DiagDiscrete(np.ones(2), np.ones(3)), np.ones(3))


def test_integer_input_is_promoted():
    sys = _diag_sys()
    y, _ = rec.scan(sys, np.array([1, 0, 2]), C=np.ones(2))
    yf, _ = rec.scan(sys, np.array([1.0, 0.0, 2.0]), C=np.ones(2))
    np.testing.assert_array_equal(y, yf)


def test_top_level_exports():
    assert ss.step is rec.step and ss.scan is rec.scan
