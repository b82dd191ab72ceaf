"""Tests for :mod:`statespace.discretize`.

Oracles: :func:`scipy.signal.cont2discrete` (dense forms), the dense form of the
same system built explicitly in NumPy (diagonal and DPLR forms), mpmath (the
diagonal ZOH near ``Lambda = 0``) and exact closed forms.

Tolerances (``eps`` is the float64 machine epsilon, errors are normwise
``max|a - b| / max|b|``):

* GBT family: both sides solve ``(I - alpha dt A) X = rhs`` with a backward-stable
  LU, so they differ by at most ``~2 kappa eps`` (kappa the 2-norm condition of
  ``I - alpha dt A``), plus a few ulps from forming the right-hand side:
  ``tol = (8 + 2 kappa) eps``. Over the tested domain (stable HiPPO measures,
  N <= 32, dt <= 10) kappa <= 997 (LegS, N = 32, alpha dt = 10), so
  ``tol <= 2002 eps = 4.4e-13 < 1e-12``; each test asserts ``tol < 1e-12``.
* ZOH: ``(Ad, Bd)`` are blocks of ``F = expm(dt M)``, M the augmented matrix
  ``[[A, B], [0, 0]]``, and an exponential is accurate normwise, relative to
  ``||F|| >= 1`` (its corner entry is 1), not relative to a small block such as a
  strongly decaying ``Ad`` (for LMU at N = 32, dt = 10, max|Ad| = 1.5e-36). So the
  error is ``max(|dAd|, |dBd|) / max(1, |Ad|, |Bd|)``. Scaling and squaring takes
  ``s ~ log2 ||dt M||_1`` squarings, each of which can double the error, so two
  implementations differ by ``~ c eps ||dt M||_1``: ``tol = 128 eps max(1, ||dt M||_1)``
  (measured worst c = 59 on a grid of every stable measure and random stable
  systems, N <= 32, dt in [1e-4, 10], torch and the array-API Padé fallback
  against scipy). For a batch the norm is the batch maximum: the array-API Padé
  fallback scales the whole batch by one power of two. This bound is below 1e-12
  for ``||dt M||_1 <= 35``; beyond that no float64 exponential promises 1e-12, and
  the reference is the weaker side: scipy 1.17's ``expm`` is 1057 eps from a
  40-digit mpmath value for FouD at N = 20, dt = 1.1 (torch: 55 eps), and
  torch/Padé vs scipy differences of 5000 eps (1.1e-12) occur there. On NumPy we
  call the same ``scipy.linalg.expm`` on the same matrix and agree exactly (error
  0 over the whole domain, asserted <= 1e-12).
* DPLR (Woodbury) vs dense: ``8 (1 + alpha dt ||A||_2) eps`` (the Woodbury pieces
  are computed to eps relative to ``||I - alpha dt A|| <= 1 + alpha dt ||A||``;
  measured worst 3.6 of that scale).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.signal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from util import relative_error, to_numpy

import statespace as ss
from statespace import _array
from statespace import discretize as sd

EPS = float(np.finfo(np.float64).eps)

# every measure except the unstable 'random' ablation
STABLE_MEASURES = tuple(m for m in ss.hippo.MEASURES if m != "random")
FOURIER = ("fout", "fourier_decay", "foud")
# measures whose eigenvalues all have Re < 0 (fout / fourier_decay have a zero pair)
STRICTLY_STABLE = tuple(m for m in STABLE_MEASURES if m not in ("fout", "fourier_decay"))

xp_settings = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ]
)

GBT_VARIANTS = (
    # (our function, scipy method, alpha)
    (sd.forward_euler, "euler", 0.0),
    (sd.backward_euler, "backward_diff", 1.0),
    (sd.bilinear, "bilinear", 0.5),
)


# ----------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------
def _is_numpy(xp):
    return _array.is_numpy(xp)


def _to(xp, a):
    return a if isinstance(a, float) else xp.asarray(a)


def _stable_random(N, seed):
    """A random non-normal stable matrix: M - (abscissa(M) + margin) I."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((N, N)) / math.sqrt(N)
    shift = np.max(np.linalg.eigvals(M).real) + rng.uniform(0.05, 1.0)
    return M - shift * np.eye(N), rng.standard_normal(N)


def _system(kind, N, seed):
    if kind == "stable":
        return _stable_random(N, seed)
    return ss.hippo.transition(kind, N)


@st.composite
def dense_cases(draw, kinds=STABLE_MEASURES + ("stable",), max_n=32):
    """(A, B, dt) with one of four batch layouts (NumPy arrays, dt float or array)."""
    kind = draw(st.sampled_from(kinds))
    N = draw(st.integers(1, max_n))
    if kind in FOURIER:
        N = 2 * max(1, N // 2)
    seed = draw(st.integers(0, 2**32 - 1))
    A, B = _system(kind, N, seed)
    dts = [10.0 ** draw(st.floats(-4.0, 1.0)) for _ in range(3)]
    layout = draw(st.sampled_from(["single", "channel_dt", "stack", "broadcast"]))
    rng = np.random.default_rng(seed)
    if layout == "single":
        return A, B, dts[0]
    if layout == "channel_dt":  # one system, one step per channel: batch (3,)
        return A, B, np.array(dts)
    scales = rng.uniform(0.5, 1.0, 2)
    As = A[None] * scales[:, None, None]
    if layout == "stack":  # batch (2,), B shared, one dt per system
        return As, B, np.array(dts[:2])
    # batch (2, 3): A (2, 1, N, N), B (3, N), dt (3,)
    Bs = B[None] * rng.uniform(0.5, 2.0, 3)[:, None]
    return As[:, None], Bs, np.array(dts)


def _broadcast(A, B, dt):
    batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-1], np.shape(dt))
    N = A.shape[-1]
    return (
        np.broadcast_to(A, batch + (N, N)),
        np.broadcast_to(B, batch + (N,)),
        np.broadcast_to(dt, batch),
        batch,
    )


def _scipy(A, B, dt, method, alpha=None):
    N = A.shape[-1]
    Ad, Bd, *_ = scipy.signal.cont2discrete(
        (A, B[:, None], np.eye(N), np.zeros((N, 1))), float(dt), method=method, alpha=alpha
    )
    return Ad, Bd[:, 0]


def _kappa(A, h):
    return np.linalg.cond(np.eye(A.shape[-1]) - h * A)


def _aug_norm(A, B, dt):
    """max(1, ||dt [[A, B], [0, 0]]||_1)."""
    return max(1.0, float(dt) * max(np.abs(A).sum(axis=0).max(), np.abs(B).sum()))


def _zoh_err(Ad, Bd, ref):
    """Error of (Ad, Bd) relative to the augmented exponential, max(1, |Ad|, |Bd|)."""
    scale = max(1.0, np.abs(ref[0]).max(), np.abs(ref[1]).max())
    return max(np.abs(Ad - ref[0]).max(), np.abs(Bd - ref[1]).max()) / scale


# ----------------------------------------------------------------------------------
# dense forms vs scipy.signal.cont2discrete
# ----------------------------------------------------------------------------------
@xp_settings
@given(case=dense_cases(), alpha=st.floats(0.0, 1.0))
def test_gbt_family_matches_scipy(xp, case, alpha):
    A, B, dt = case
    Ab, Bb, dtb, batch = _broadcast(A, B, dt)
    runs = [(f, m, a, f(_to(xp, A), _to(xp, B), _to(xp, dt))) for f, m, a in GBT_VARIANTS]
    runs.append((sd.gbt, "gbt", alpha, sd.gbt(_to(xp, A), _to(xp, B), _to(xp, dt), alpha)))
    for _, method, a, out in runs:
        Ad, Bd = (to_numpy(o) for o in out)
        assert Ad.shape == batch + A.shape[-2:] and Bd.shape == batch + B.shape[-1:]
        for idx in np.ndindex(*batch):
            ref = _scipy(Ab[idx], Bb[idx], dtb[idx], method, a if method == "gbt" else None)
            tol = (8 + 2 * _kappa(Ab[idx], a * dtb[idx])) * EPS
            assert tol < 1e-12
            err = max(relative_error(Ad[idx], ref[0]), relative_error(Bd[idx], ref[1]))
            assert err <= tol, (method, a, idx, err / EPS)


@xp_settings
@given(case=dense_cases())
def test_zoh_matches_scipy(xp, case):
    A, B, dt = case
    Ab, Bb, dtb, batch = _broadcast(A, B, dt)
    Ad, Bd = (to_numpy(o) for o in sd.zoh(_to(xp, A), _to(xp, B), _to(xp, dt)))
    assert Ad.shape == batch + A.shape[-2:] and Bd.shape == batch + B.shape[-1:]
    # the array-API Padé fallback scales a whole batch by one power of two, so every
    # member's error grows with the largest norm in the batch: use that norm
    nmax = max(_aug_norm(Ab[idx], Bb[idx], dtb[idx]) for idx in np.ndindex(*batch))
    for idx in np.ndindex(*batch):
        ref = _scipy(Ab[idx], Bb[idx], dtb[idx], "zoh")
        tol = 128 * EPS * nmax
        err = _zoh_err(Ad[idx], Bd[idx], ref)
        assert err <= (1e-12 if _is_numpy(xp) else tol), (idx, err / EPS)


@pytest.mark.parametrize(
    "measure,N,dt",
    [("legs", 1, 0.0316), ("legs", 1, 3.5), ("legs", 4, 0.01), ("fout", 2, 0.02),
     ("foud", 8, 0.2154), ("lmu", 6, 10.0)],
)
def test_zoh_accuracy(xp, measure, N, dt):
    """ZOH of a single system against a 40-digit mpmath exponential."""
    A, B = ss.hippo.transition(measure, N)
    Ad, Bd = (to_numpy(o) for o in sd.zoh(xp.asarray(A), xp.asarray(B), dt))
    M = np.zeros((N + 1, N + 1))
    M[:N, :N], M[:N, N] = A, B
    with mpmath.workdps(40):
        F = mpmath.expm(mpmath.matrix((dt * M).tolist()))
    F = np.array(F.tolist(), dtype=float)
    err = _zoh_err(Ad, Bd, (F[:N, :N], F[:N, N]))
    tol = 128 * EPS * _aug_norm(A, B, dt)
    assert err <= tol


def test_zoh_singular_A_exact():
    # double integrator: exp(dt [[0,1],[0,0]]) = [[1, dt], [0, 1]], Bd = [dt^2/2, dt] for B=[0,1]
    A = np.array([[0.0, 1.0], [0.0, 0.0]])
    Ad, Bd = sd.zoh(A, np.array([0.0, 1.0]), 0.5)
    np.testing.assert_allclose(Ad, [[1.0, 0.5], [0.0, 1.0]], rtol=0, atol=2 * EPS)
    np.testing.assert_allclose(Bd, [0.125, 0.5], rtol=2 * EPS)
    Ad, Bd = sd.zoh(np.zeros((3, 3)), np.array([1.0, 2.0, 3.0]), 0.25)
    np.testing.assert_array_equal(Ad, np.eye(3))
    np.testing.assert_array_equal(Bd, [0.25, 0.5, 0.75])


def test_named_variants_are_gbt():
    A, B = ss.hippo.transition("legs", 6)
    for f, _, a in GBT_VARIANTS:
        for got, want in zip(f(A, B, 0.3), sd.gbt(A, B, 0.3, a), strict=True):
            np.testing.assert_array_equal(got, want)
    Lam = np.array([-1.0 + 2j, -0.1 - 1j])
    P = np.array([[0.5 + 0.5j, 1.0]])
    for f, g, a in (
        (sd.forward_euler_diag, sd.forward_euler_dplr, 0.0),
        (sd.backward_euler_diag, sd.backward_euler_dplr, 1.0),
        (sd.bilinear_diag, sd.bilinear_dplr, 0.5),
    ):
        for got, want in zip(f(Lam, Lam, 0.3), sd.gbt_diag(Lam, Lam, 0.3, a), strict=True):
            np.testing.assert_array_equal(got, want)
        got, want = g(Lam, P, Lam, 0.3), sd.gbt_dplr(Lam, P, Lam, 0.3, a)
        for x, y in zip(got[:-1], want[:-1], strict=True):
            np.testing.assert_array_equal(x, y)


# ----------------------------------------------------------------------------------
# diagonal forms vs dense
# ----------------------------------------------------------------------------------
@st.composite
def diag_cases(draw, max_n=16):
    N = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    complex_ = draw(st.booleans())
    Lam = -(10.0 ** rng.uniform(-3, 1, N))
    if complex_:
        Lam = Lam + 1j * rng.uniform(-10, 10, N)
    if draw(st.booleans()):  # an integrator mode
        Lam[rng.integers(N)] = 0.0
    B = rng.standard_normal(N) + (1j * rng.standard_normal(N) if complex_ else 0.0)
    dts = 10.0 ** rng.uniform(-4, 1, 3)
    layout = draw(st.sampled_from(["single", "channel_dt", "stack"]))
    if layout == "single":
        return Lam, B, float(dts[0])
    if layout == "channel_dt":  # (3,) steps for one system -> batch (3,)
        return Lam, B, dts
    # batch (2, 3): Lambda (2, 1, N), B (3, N), dt (3,)
    return Lam[None, None] * rng.uniform(0.5, 1, (2, 1, 1)), B[None] * rng.uniform(
        0.5, 2, (3, 1)
    ), dts


def _diag_dense(Lam):
    return Lam[..., :, None] * np.eye(Lam.shape[-1])


@xp_settings
@given(case=diag_cases(), alpha=st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_diag_matches_dense(xp, case, alpha):
    Lam, B, dt = case
    A = _diag_dense(Lam)
    Ab, Bb, dtb, batch = _broadcast(A, B, dt)
    got = sd.gbt_diag(_to(xp, Lam), _to(xp, B), _to(xp, dt), alpha)
    z = sd.zoh_diag(_to(xp, Lam), _to(xp, B), _to(xp, dt))
    Ld, Bd = (to_numpy(o) for o in got)
    Lz, Bz = (to_numpy(o) for o in z)
    assert Ld.shape == Bd.shape == Lz.shape == batch + Lam.shape[-1:]
    for idx in np.ndindex(*batch):
        Ad_ref, Bd_ref = sd.gbt(Ab[idx], Bb[idx], dtb[idx], alpha)  # NumPy dense solve
        tol = (8 + 2 * _kappa(Ab[idx], alpha * dtb[idx])) * EPS
        assert relative_error(np.diag(Ld[idx]), Ad_ref) <= tol
        assert relative_error(Bd[idx], Bd_ref) <= tol
        ref = _scipy(Ab[idx], Bb[idx], dtb[idx], "zoh")
        tol = 128 * EPS * _aug_norm(Ab[idx], Bb[idx], dtb[idx])
        assert _zoh_err(np.diag(Lz[idx]), Bz[idx], ref) <= tol


def test_zoh_diag_mpmath():
    """ZOH diagonal entries to a few ulps, including |dt Lambda| -> 0 and Lambda = 0."""
    lam = np.array(
        [0.0, -1e-300, -1e-20, 1e-17j, -1e-12 + 1e-12j, -1e-8, 3e-6 - 2e-6j, -0.01 + 1e-3j,
         -0.5 + 3j, -2.0, -40.0 + 100j, 1e-3j, 6.283185307179586j]
    )
    B = np.ones_like(lam)
    for dt in (1.0, 1e-3, 0.7):
        Ld, Bd = sd.zoh_diag(lam, B, dt)
        with mpmath.workdps(50):
            for n, l in enumerate(lam):
                z = mpmath.mpf(dt) * mpmath.mpc(l.real, l.imag)
                e = mpmath.exp(z)
                b = mpmath.mpf(dt) * (mpmath.expm1(z) / z if z != 0 else 1)
                # rtol: a few ulps of exp / expm1 and of the rounded argument dt * Lambda
                tol = 8 * EPS * (1 + abs(complex(z)))
                assert abs(complex(Ld[n]) - complex(e)) <= tol * abs(complex(e)), (dt, l)
                assert abs(complex(Bd[n]) - complex(b)) <= tol * abs(complex(b)), (dt, l)
    # exact limit at Lambda = 0: Bd = dt * B
    _, Bd = sd.zoh_diag(np.zeros(2), np.array([3.0, -1.0]), 0.125)
    np.testing.assert_array_equal(Bd, [0.375, -0.125])


def test_zoh_diag_grad_at_zero():
    torch = pytest.importorskip("torch")
    lam = torch.tensor([0.0, -1e-9, -0.5], dtype=torch.float64, requires_grad=True)
    _, Bd = sd.zoh_diag(lam, torch.ones(3, dtype=torch.float64), 0.5)
    (g,) = torch.autograd.grad(Bd.sum(), lam)
    # d/dl [expm1(l dt)/l] at l -> 0 is dt^2 / 2
    assert torch.all(torch.isfinite(g))
    assert abs(float(g[0]) - 0.125) <= 4 * EPS


# ----------------------------------------------------------------------------------
# DPLR forms vs dense
# ----------------------------------------------------------------------------------
def _full(a, halved):
    return np.concatenate([a, a.conj()], axis=-1) if halved else a


def _dense_dplr(Lam, P, halved):
    """diag(Lambda) - P^H P built explicitly (full 2N-mode system when halved)."""
    Lf, Pf = _full(Lam, halved), _full(P, halved)
    return Lf[..., :, None] * np.eye(Lf.shape[-1]) - np.swapaxes(Pf.conj(), -1, -2) @ Pf


@st.composite
def dplr_cases(draw, max_n=12):
    N = draw(st.integers(1, max_n))
    r = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    Lam = -(10.0 ** rng.uniform(-3, 1, N)) + 1j * rng.uniform(-30, 30, N)
    P = rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N))
    P = P * 10 ** rng.uniform(-1, 0.5)
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    dts = 10.0 ** rng.uniform(-4, 1, 2)
    layout = draw(st.sampled_from(["single", "channel_dt", "stack"]))
    if layout == "single":
        return Lam, P, B, float(dts[0])
    if layout == "channel_dt":  # batch (2,)
        return Lam, P, B, dts
    # batch (2,): two systems (different Lambda and P), B shared, one dt each
    Lam2 = np.stack([Lam, Lam * rng.uniform(0.5, 1.0)])
    P2 = np.stack([P, P[..., ::-1].copy()])
    return Lam2, P2, B, dts


@xp_settings
@given(case=dplr_cases(), alpha=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), halved=st.booleans())
def test_dplr_matches_dense(xp, case, alpha, halved):
    Lam, P, B, dt = case
    sys = sd.gbt_dplr(_to(xp, Lam), _to(xp, P), _to(xp, B), _to(xp, dt), alpha, halved=halved)
    dense = sys.to_dense()
    Ad, Bd = to_numpy(dense.Ad), to_numpy(dense.Bd)
    A = _dense_dplr(Lam, P, halved)
    Bf = _full(B, halved)
    Ab, Bb, dtb, batch = _broadcast(A, Bf, dt)
    N = Lam.shape[-1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(batch + (N,)) + 1j * rng.standard_normal(batch + (N,))
    Ax = to_numpy(sd.dplr_transition(sys, xp.asarray(x)))
    assert to_numpy(sys.Einv).shape == batch + (N,)
    for idx in np.ndindex(*batch):
        ref = _scipy(Ab[idx], Bb[idx], dtb[idx], "gbt", alpha)
        tol = 8 * (1 + alpha * dtb[idx] * np.linalg.norm(Ab[idx], 2)) * EPS
        assert relative_error(Ad[idx], ref[0]) <= tol
        assert relative_error(Bd[idx], ref[1]) <= tol
        # the O(N r) transition on a state (the half state of [x, conj x] when halved)
        xf = _full(x[idx], halved)
        # |(dAd) x|_i <= max|dAd| * sum|x| with max|dAd| <= tol * max|Ad|
        bound = tol * np.abs(ref[0]).max() * np.abs(xf).sum()
        assert np.max(np.abs(Ax[idx] - (ref[0] @ xf)[:N])) <= bound


def test_dplr_to_dense():
    rng = np.random.default_rng(3)
    Lam = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    P = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    for halved in (False, True):
        np.testing.assert_allclose(
            sd.dplr_to_dense(Lam, P, halved=halved), _dense_dplr(Lam, P, halved), rtol=4 * EPS
        )


def test_dplr_halved_real_pieces():
    """Halved: R is real and the full 2N state stays conjugate symmetric."""
    rng = np.random.default_rng(5)
    Lam = -rng.uniform(0.1, 1, 5) + 1j * rng.uniform(0, 5, 5)
    P = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    sys = sd.bilinear_dplr(Lam, P, np.ones(5), 0.1, halved=True)
    assert not np.iscomplexobj(sys.R)
    Ad, Bd = sys.to_dense()
    x = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    y = Ad @ np.concatenate([x, x.conj()])
    np.testing.assert_allclose(y[5:], y[:5].conj(), rtol=16 * EPS, atol=16 * EPS * abs(y).max())
    np.testing.assert_allclose(Bd[5:], Bd[:5].conj(), rtol=16 * EPS)


# ----------------------------------------------------------------------------------
# stability
# ----------------------------------------------------------------------------------
@st.composite
def stable_systems(draw):
    kind = draw(st.sampled_from(STRICTLY_STABLE + ("modal", "modal", "stable")))
    N = draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**32 - 1))
    if kind == "modal":
        # V diag(lambda) V^-1 with well-conditioned V and Re(lambda) in [-10, -0.01]
        rng = np.random.default_rng(seed)
        lam = -(10.0 ** rng.uniform(-2, 1, N)) + 1j * rng.uniform(-50, 50, N)
        Q, _ = np.linalg.qr(rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N)))
        V = Q @ (np.eye(N) + 0.1 * np.triu(rng.standard_normal((N, N)), 1))
        return V @ np.diag(lam) @ np.linalg.inv(V), rng.standard_normal(N)
    if kind in FOURIER:
        N = 2 * max(1, N // 2)
    return _system(kind, N, seed)


@given(sys=stable_systems(), logdt=st.floats(-4.0, 1.0))
def test_bilinear_preserves_stability(sys, logdt):
    A, B = sys
    assert np.max(np.linalg.eigvals(A).real) < 0  # premise: a stable continuous system
    Ad, _ = sd.bilinear(A, B, 10.0**logdt)
    assert np.max(np.abs(np.linalg.eigvals(Ad))) < 1


# ----------------------------------------------------------------------------------
# dtypes, mutation, backends
# ----------------------------------------------------------------------------------
def _all_outputs(xp, dtype):
    rng = np.random.default_rng(11)
    A, B = ss.hippo.transition("legs", 4, dtype=dtype, xp=xp)
    cdt = _array.complex_dtype(xp, dtype)
    Lam = xp.asarray(-rng.uniform(0.1, 1, 4) + 1j * rng.uniform(0, 3, 4), dtype=cdt)
    P = xp.asarray(rng.standard_normal((1, 4)) + 0j, dtype=cdt)
    Br = xp.asarray(rng.standard_normal(4), dtype=dtype)
    dt = 0.1
    return {
        "gbt": (sd.gbt(A, B, dt, 0.3), dtype),
        "zoh": (sd.zoh(A, B, dt), dtype),
        "gbt_diag_real": (sd.gbt_diag(-xp.abs(Br), Br, dt, 0.5), dtype),
        "zoh_diag": (sd.zoh_diag(Lam, Br, dt), cdt),
        "gbt_dplr": (sd.gbt_dplr(Lam, P, Br, dt, 0.5)[:-1], cdt),
        "gbt_dplr_halved": (sd.gbt_dplr(Lam, P, Br, dt, 0.5, halved=True)[:-1], cdt),
    }


@pytest.mark.parametrize("single", [True, False])
def test_dtypes(xp, single):
    dtype = xp.float32 if single else xp.float64
    rdt = _array.real_dtype(xp, dtype)
    for name, (out, want) in _all_outputs(xp, dtype).items():
        for i, o in enumerate(out):
            if name.startswith("gbt_dplr") and i == 1:  # s0 is real
                assert o.dtype == rdt, name
            elif name == "gbt_dplr_halved" and i == 4:  # R is real when halved
                assert o.dtype == rdt, name
            else:
                assert o.dtype == want, (name, i, o.dtype)


def test_float32_accuracy(xp):
    A, B = ss.hippo.transition("legs", 8)
    A32, B32 = xp.asarray(A, dtype=xp.float32), xp.asarray(B, dtype=xp.float32)
    ref = _scipy(to_numpy(A32).astype(np.float64), to_numpy(B32).astype(np.float64), 0.05,
                 "bilinear")
    Ad, Bd = sd.bilinear(A32, B32, 0.05)
    eps32 = float(np.finfo(np.float32).eps)
    tol = (8 + 2 * _kappa(A, 0.025)) * eps32
    assert relative_error(Ad, ref[0]) <= tol and relative_error(Bd, ref[1]) <= tol


def test_backends_agree(xp):
    """Every backend reproduces the NumPy result (same algorithm, few-ulp differences)."""
    rng = np.random.default_rng(2)
    A, B = ss.hippo.transition("legt", 6)
    Lam = -rng.uniform(0.1, 1, (2, 6)) + 1j * rng.uniform(0, 3, (2, 6))
    P = rng.standard_normal((2, 2, 6)) + 1j * rng.standard_normal((2, 2, 6))
    Bc = rng.standard_normal(6) + 0j
    dt = np.array([0.01, 0.3])
    pairs = [
        (sd.gbt(A, B, dt, 0.7), sd.gbt(xp.asarray(A), xp.asarray(B), xp.asarray(dt), 0.7)),
        (sd.zoh(A, B, dt), sd.zoh(xp.asarray(A), xp.asarray(B), xp.asarray(dt))),
        (sd.zoh_diag(Lam, Bc, dt),
         sd.zoh_diag(xp.asarray(Lam), xp.asarray(Bc), xp.asarray(dt))),
        (sd.bilinear_dplr(Lam, P, Bc, dt, halved=True)[:-1],
         sd.bilinear_dplr(xp.asarray(Lam), xp.asarray(P), xp.asarray(Bc), xp.asarray(dt),
                          halved=True)[:-1]),
    ]
    # ||dt M||_1 <= 3 here: 128 eps * 3 covers the exponentials (module docstring);
    # the elementwise / solve-based forms agree to a few ulps
    for ref, got in pairs:
        scale = max(1.0, *(float(np.abs(r).max()) for r in ref))
        for r, g in zip(ref, got, strict=True):
            assert np.abs(to_numpy(g) - r).max() <= 128 * 3 * EPS * scale


def test_inputs_not_mutated(xp):
    rng = np.random.default_rng(4)
    A = xp.asarray(rng.standard_normal((2, 3, 3)) - 3 * np.eye(3))
    B = xp.asarray(rng.standard_normal(3))
    Lam = xp.asarray(-rng.uniform(0.1, 1, 3) + 1j * rng.uniform(0, 3, 3))
    P = xp.asarray(rng.standard_normal((1, 3)) + 1j * rng.standard_normal((1, 3)))
    dt = xp.asarray([0.1, 0.2])
    before = [to_numpy(a).copy() for a in (A, B, Lam, P, dt)]
    sd.gbt(A, B, dt, 0.5)
    sd.zoh(A, B, dt)
    sd.gbt_diag(Lam, B, dt, 0.5)
    sd.zoh_diag(Lam, B, dt)
    sys = sd.gbt_dplr(Lam, P, B, dt, 0.5, halved=True)
    sys.to_dense()
    sd.dplr_transition(sys, Lam)
    for b, a in zip(before, (A, B, Lam, P, dt), strict=True):
        np.testing.assert_array_equal(to_numpy(a), b)


# ----------------------------------------------------------------------------------
# bad inputs
# ----------------------------------------------------------------------------------
_A = np.array([[-1.0, 0.0], [1.0, -2.0]])
_B = np.array([1.0, 0.5])
_L = np.array([-1.0 + 1j, -0.5])
_P = np.array([[0.5, 0.5j]])

_CALLS = {
    "gbt": lambda A=_A, B=_B, dt=0.1, alpha=0.5: sd.gbt(A, B, dt, alpha),
    "zoh": lambda A=_A, B=_B, dt=0.1, alpha=None: sd.zoh(A, B, dt),
    "gbt_diag": lambda A=_L, B=_B, dt=0.1, alpha=0.5: sd.gbt_diag(A, B, dt, alpha),
    "zoh_diag": lambda A=_L, B=_B, dt=0.1, alpha=None: sd.zoh_diag(A, B, dt),
    "gbt_dplr": lambda A=_L, B=_B, dt=0.1, alpha=0.5, P=_P: sd.gbt_dplr(A, P, B, dt, alpha),
}
_FIRST = {"gbt": "A", "zoh": "A", "gbt_diag": "Lambda", "zoh_diag": "Lambda",
          "gbt_dplr": "Lambda"}


@pytest.mark.parametrize("fn", sorted(_CALLS))
@pytest.mark.parametrize("dt", [0.0, -0.1, math.nan, math.inf, np.array([0.1, 0.0]),
                                np.array([0.1, np.nan])])
def test_bad_dt(fn, dt):
    with pytest.raises(ValueError, match="dt"):
        _CALLS[fn](dt=dt)


@pytest.mark.parametrize("fn", sorted(_CALLS))
def test_nonfinite_inputs(fn):
    first = _CALLS[fn].__defaults__[0].astype(complex)
    bad = first.copy()
    bad.flat[0] = np.nan
    with pytest.raises(ValueError, match=f"^{_FIRST[fn]} contains NaN"):
        _CALLS[fn](A=bad)
    with pytest.raises(ValueError, match="^B contains NaN"):
        _CALLS[fn](B=np.array([np.inf, 1.0]))
    if fn == "gbt_dplr":
        with pytest.raises(ValueError, match="^P contains NaN"):
            _CALLS[fn](P=np.array([[np.nan, 0.0]]))


@pytest.mark.parametrize("fn", sorted(_CALLS))
def test_mismatched_shapes(fn):
    with pytest.raises(ValueError, match="^B has state size 3"):
        _CALLS[fn](B=np.ones(3))
    with pytest.raises(ValueError, match="batch"):
        _CALLS[fn](dt=np.array([0.1, 0.2, 0.3]), B=np.ones((2, 2)))
    if fn == "gbt_dplr":
        with pytest.raises(ValueError, match="^P has state size 3"):
            _CALLS[fn](P=np.ones((1, 3)))
    if fn in ("gbt", "zoh"):
        with pytest.raises(ValueError, match="^A must be square"):
            _CALLS[fn](A=np.ones((2, 3)))


@pytest.mark.parametrize("fn", ["gbt", "gbt_diag", "gbt_dplr"])
@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan])
def test_bad_alpha(fn, alpha):
    with pytest.raises(ValueError, match="alpha"):
        _CALLS[fn](alpha=alpha)


def test_singular_diag_raises():
    with pytest.raises(ValueError, match="singular"):
        sd.backward_euler_diag(np.array([2.0]), np.array([1.0]), 0.5)
    with pytest.raises(ValueError, match="singular"):
        sd.backward_euler_dplr(np.array([2.0]), np.array([[0.0]]), np.array([1.0]), 0.5)


def test_type_errors():
    with pytest.raises(TypeError, match="alpha"):
        sd.gbt(_A, _B, 0.1, "half")
    with pytest.raises(TypeError, match="halved"):
        sd.gbt_dplr(_L, _P, _B, 0.1, 0.5, halved=1)
    with pytest.raises(TypeError, match="dt"):
        sd.gbt(_A, _B, 0.1j, 0.5)
    with pytest.raises(TypeError, match="sys"):
        sd.dplr_transition((_A, _B), _B)


# ----------------------------------------------------------------------------------
# the entry: discretize(system, dt, method, alpha=...)
# ----------------------------------------------------------------------------------
# scipy.signal.cont2discrete's name and alpha for each (method, alpha) of the entry
_SCIPY_METHOD = {"bilinear": ("bilinear", None), "zoh": ("zoh", None), "gbt": ("gbt", 0.3),
                 "forward_euler": ("euler", None), "backward_euler": ("backward_diff", None)}
_ENTRY_CASES = [
    # (system type, method, alias name, alias takes alpha)
    *((sd.DenseSystem, m, m, m == "gbt") for m in _SCIPY_METHOD),
    *((sd.DiagSystem, m, f"{m}_diag", m == "gbt") for m in _SCIPY_METHOD),
    *((sd.DPLRSystem, m, f"{m}_dplr", m == "gbt") for m in _SCIPY_METHOD if m != "zoh"),
]


def _entry_system(kind, halved=False):
    """A small batched system of each structure (NumPy), dt one step per channel."""
    rng = np.random.default_rng(21)
    if kind is sd.DenseSystem:
        return sd.DenseSystem(*ss.hippo.transition("legs", 5))
    Lam = -rng.uniform(0.1, 1, (2, 4)) + 1j * rng.uniform(-3, 3, (2, 4))
    B = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    if kind is sd.DiagSystem:
        return sd.DiagSystem(Lam, B)
    P = 0.5 * (rng.standard_normal((2, 1, 4)) + 1j * rng.standard_normal((2, 1, 4)))
    return sd.DPLRSystem(Lam, P, B, halved)


def _dense_of(system):
    """(A, B) of the full dense system a structured system stands for (NumPy)."""
    if isinstance(system, sd.DenseSystem):
        return system
    if isinstance(system, sd.DiagSystem):
        return _diag_dense(system.Lambda), system.B
    return _dense_dplr(system.Lambda, system.P, system.halved), _full(system.B, system.halved)


@pytest.mark.parametrize("kind,method,alias,takes_alpha", _ENTRY_CASES,
                         ids=[c[2] for c in _ENTRY_CASES])
def test_entry_equals_alias(xp, kind, method, alias, takes_alpha):
    """Every alias is the entry for one structure and method (identical arrays)."""
    dt = xp.asarray([0.05, 0.4])
    for halved in (False, True) if kind is sd.DPLRSystem else (False,):
        system = kind(*(xp.asarray(a) if not isinstance(a, bool) else a
                        for a in _entry_system(kind, halved)))
        alpha = 0.3 if takes_alpha else None
        got = sd.discretize(system, dt, method, alpha=alpha)
        args = tuple(a for a in system if not isinstance(a, bool)) + (dt,)
        args += (alpha,) if takes_alpha else ()
        kw = {"halved": halved} if kind is sd.DPLRSystem else {}
        want = getattr(sd, alias)(*args, **kw)
        assert type(got) is type(want)
        for g, w in zip(got, want, strict=True):
            if isinstance(w, bool):
                assert g is w
            else:
                np.testing.assert_array_equal(to_numpy(g), to_numpy(w))


def test_entry_default_is_bilinear():
    system = _entry_system(sd.DiagSystem)
    for g, w in zip(sd.discretize(system, 0.1), sd.bilinear_diag(*system, 0.1), strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("kind,method", [c[:2] for c in _ENTRY_CASES],
                         ids=[c[2] for c in _ENTRY_CASES])
def test_entry_matches_scipy(kind, method):
    """Each structure's result equals cont2discrete of the dense system it stands for.

    Tolerances as in the module docstring: GBT family ``(8 + 2 kappa) eps`` (dense and
    diagonal: the same solve, elementwise for the diagonal), DPLR (Woodbury) vs dense
    ``8 (1 + alpha dt ||A||_2) eps``, ZOH ``128 eps max(1, ||dt M||_1)`` relative to
    the augmented exponential.
    """
    scipy_method, alpha = _SCIPY_METHOD[method]
    a = sd.GBT_ALPHA.get(method, alpha)
    for halved in (False, True) if kind is sd.DPLRSystem else (False,):
        system = _entry_system(kind, halved)
        dt = np.array([0.05, 0.4])
        out = sd.discretize(system, dt, method, alpha=alpha)
        if kind is sd.DPLRSystem:
            out = out.to_dense()
        Ad, Bd = out
        if kind is sd.DiagSystem:
            Ad = _diag_dense(Ad)
        A, B = _dense_of(system)
        Ab, Bb, dtb, batch = _broadcast(A, B, dt)
        for idx in np.ndindex(*batch):
            ref = _scipy(Ab[idx], Bb[idx], dtb[idx], scipy_method, alpha)
            if method == "zoh":
                err = _zoh_err(Ad[idx], Bd[idx], ref)
                assert err <= 128 * EPS * _aug_norm(Ab[idx], Bb[idx], dtb[idx]), err / EPS
                continue
            if kind is sd.DPLRSystem:
                tol = 8 * (1 + a * dtb[idx] * np.linalg.norm(Ab[idx], 2)) * EPS
            else:
                tol = (8 + 2 * _kappa(Ab[idx], a * dtb[idx])) * EPS
            err = max(relative_error(Ad[idx], ref[0]), relative_error(Bd[idx], ref[1]))
            assert err <= tol, (kind.__name__, method, halved, idx, err / EPS)


def test_gbt_alpha_table():
    assert dict(sd.GBT_ALPHA) == {"forward_euler": 0.0, "bilinear": 0.5, "backward_euler": 1.0}
    with pytest.raises(TypeError):
        sd.GBT_ALPHA["bilinear"] = 0.4  # read-only
    system = _entry_system(sd.DenseSystem)
    for method, a in sd.GBT_ALPHA.items():
        named = sd.discretize(system, 0.2, method)
        gbt = sd.discretize(system, 0.2, "gbt", alpha=a)
        for g, w in zip(named, gbt, strict=True):
            np.testing.assert_array_equal(g, w)


def test_entry_errors():
    dense, diag = _entry_system(sd.DenseSystem), _entry_system(sd.DiagSystem)
    dplr = _entry_system(sd.DPLRSystem)
    # unknown method: the message names the argument and lists the supported methods
    with pytest.raises(ValueError, match=r"^method must be one of bilinear, zoh, gbt, "
                       r"forward_euler, backward_euler, foh, impulse for a DenseSystem, "
                       r"got 'rk4'$"):
        sd.discretize(dense, 0.1, "rk4")
    with pytest.raises(ValueError, match=r"^method must be one of bilinear, gbt, "
                       r"forward_euler, backward_euler for a DPLRSystem \(the exponential "
                       r"of a diagonal-plus-low-rank matrix is dense\), got 'zoh'$"):
        sd.discretize(dplr, 0.1, "zoh")
    with pytest.raises(ValueError, match="for a DiagSystem, got 'euler'"):
        sd.discretize(diag, 0.1, "euler")  # scipy's name is not ours
    with pytest.raises(TypeError, match="^method must be a string, got float"):
        sd.discretize(dense, 0.1, 0.5)
    # alpha: required with "gbt", rejected with the other methods, range and type checked
    with pytest.raises(ValueError, match="^method='gbt' needs alpha$"):
        sd.discretize(diag, 0.1, "gbt")
    for method in ("bilinear", "zoh", "forward_euler", "backward_euler"):
        with pytest.raises(ValueError, match=f"^alpha is only used with method='gbt', "
                           f"not method='{method}'$"):
            sd.discretize(dense, 0.1, method, alpha=0.5)
    with pytest.raises(ValueError, match=r"^alpha must be in \[0, 1\], got 1.5$"):
        sd.discretize(dplr, 0.1, "gbt", alpha=1.5)
    with pytest.raises(TypeError, match="^alpha must be a real number, got str$"):
        sd.discretize(dense, 0.1, "gbt", alpha="half")
    # the system must be one of the three types; plain tuples are ambiguous
    for bad in ((dense.A, dense.B), sd.DenseDiscrete(dense.A, dense.B), dense.A, None):
        with pytest.raises(TypeError, match="^system must be a DenseSystem, DiagSystem or "
                           "DPLRSystem"):
            sd.discretize(bad, 0.1)
    with pytest.raises(TypeError, match="^halved must be a bool, got int$"):
        sd.discretize(sd.DPLRSystem(dplr.Lambda, dplr.P, dplr.B, 1), 0.1)
    # the arrays are validated as by the aliases, naming the field
    with pytest.raises(ValueError, match="^B has state size 3"):
        sd.discretize(sd.DiagSystem(diag.Lambda, np.ones(3)), 0.1, "zoh")
    with pytest.raises(ValueError, match="dt"):
        sd.discretize(dense, -0.1, "zoh")


def test_diag_log_poles():
    """The log form kernels use: exp(log) is the pole, accurate near the pole 1."""
    z = np.array([-1e-12 + 3e-13j, -0.3 + 2j, -1.5 + 0j, 1e-9j])
    w = np.array([1.0, 2.0 - 1j, 0.5j, 3.0])
    for alpha in (None, 0.5):  # ZOH and bilinear, the kernels' methods
        p, wd = sd._diag_terms(np, z, w, alpha)
        logp, wd_log = sd._diag_terms(np, z, w, alpha, log=True)
        np.testing.assert_array_equal(wd_log, wd)
        np.testing.assert_allclose(np.exp(logp), p, rtol=8 * EPS, atol=0)
        with mpmath.workdps(40):
            for zi, li in zip(z, logp, strict=True):
                zm = mpmath.mpc(zi.real, zi.imag)
                if alpha is None:
                    ref = zm
                else:
                    ref = mpmath.log((1 + (1 - alpha) * zm) / (1 - alpha * zm))
                assert abs(complex(li) - complex(ref)) <= 4 * EPS * abs(complex(ref)), (alpha, zi)
    with pytest.raises(ValueError, match="log form"):
        sd._diag_terms(np, z, w, 0.25, log=True)


def test_phi1_mpmath():
    """phi1(z) = expm1(z)/z to a few ulps for |z| from the subnormals up to 3.

    The Taylor branch (|z| < eps) is correctly rounded; the expm1 branch carries the
    complex expm1's few roundings and one complex division (measured max 2.7 eps
    over 4000 log-uniform samples per dtype). Subnormal complex64 arguments, whose
    quotient overflows, take the Taylor branch.
    """
    rng = np.random.default_rng(5)
    for rdt, cdt in ((np.float64, np.complex128), (np.float32, np.complex64)):
        eps = float(np.finfo(rdt).eps)
        tiny = float(np.finfo(rdt).smallest_subnormal)
        mags = 10.0 ** rng.uniform(np.log10(tiny), 0.5, 300)
        z = np.concatenate([
            (mags * np.sign(rng.standard_normal(300))).astype(rdt).astype(cdt),
            (mags * np.exp(2j * np.pi * rng.uniform(size=300))).astype(cdt),
        ])
        got = sd._phi1(np, z)
        assert got.dtype == cdt
        with mpmath.workdps(40):
            zm = [mpmath.mpc(complex(v)) for v in z]
            ref = np.array([complex(mpmath.expm1(v) / v) if v != 0 else 1.0 for v in zm])
        err = np.abs(got - ref) / np.abs(ref)
        assert np.all(np.isfinite(got)) and err.max() <= 4 * eps, err.max() / eps


# ----------------------------------------------------------------------------------
# first-order hold and impulse invariance (dense only)
# ----------------------------------------------------------------------------------
def _hold_scale(A, B, dt):
    """max(1, ||dt M||_1) of the FOH matrix [[dt A, dt B, 0], [0, 0, 1], [0, 0, 0]]."""
    return max(1.0, float(dt) * np.abs(A).sum(axis=0).max(), float(dt) * np.abs(B).sum() + 1)


def _hold_err(got, ref):
    """Error of (Ad, Bd, Ed) relative to the exponential they are read from (norm >= 1)."""
    scale = max(1.0, *(np.abs(r).max() for r in ref))
    return max(np.abs(g - r).max() for g, r in zip(got, ref, strict=True)) / scale


def _scipy_hold(A, B, dt, method):
    """cont2discrete's foh / impulse as (Ad, Bd, Ed), Ed read off Dd with C = I, D = 0."""
    N = A.shape[-1]
    Ad, Bd, Cd, Dd, _ = scipy.signal.cont2discrete(
        (A, B[:, None], np.eye(N), np.zeros((N, 1))), float(dt), method=method)
    np.testing.assert_array_equal(Cd, np.eye(N))  # C is passed through unchanged
    return Ad, Bd[:, 0], Dd[:, 0]


def _mp_hold(A, B, dt, method, dps=50):
    """(Ad, Bd, Ed) from the defining series at ``dps`` digits (no augmented matrix).

    ``Gamma_j = dt sum_k (dt A)^k B / (k + j)!`` (j = 1, 2): the integrals
    ``int_0^dt e^{sA} ds B`` and ``(1/dt) int_0^dt e^{(dt-s)A} s ds B``.
    """
    N = A.shape[-1]
    with mpmath.workdps(dps):
        h = mpmath.mpf(float(dt))
        M = mpmath.matrix(A.tolist()) * h
        b = mpmath.matrix([mpmath.mpf(float(x)) for x in B])
        Ad = mpmath.expm(M)
        if method == "impulse":
            Ed = b * h
            Bd = Ad * Ed
        else:
            g = [mpmath.matrix(N, 1), mpmath.matrix(N, 1)]
            term = b * h  # (dt A)^k dt B
            for k in range(400):
                g[0] += term / mpmath.factorial(k + 1)
                g[1] += term / mpmath.factorial(k + 2)
                term = M * term
                if mpmath.norm(term) / mpmath.factorial(k + 2) < mpmath.mpf(10) ** (-dps):
                    break
            Ed = g[1]
            Bd = g[0] - g[1] + Ad * g[1]
        return tuple(np.array(x.tolist(), dtype=float).reshape(s)
                     for x, s in ((Ad, (N, N)), (Bd, (N,)), (Ed, (N,))))


@pytest.mark.parametrize("method", ["foh", "impulse"])
@pytest.mark.parametrize("measure,N,dt", [("legs", 1, 0.3), ("legs", 6, 0.05),
                                          ("legt", 5, 0.7), ("fout", 4, 0.2),
                                          ("lmu", 4, 0.1), ("random", 7, 2.0)])
def test_hold_matches_scipy_and_mpmath(xp, method, measure, N, dt):
    """foh / impulse agree with cont2discrete and with 50-digit series.

    ``(Ad, Bd, Ed)`` are blocks of one exponential of norm >= 1 (ZOH argument of the
    module docstring), so the error is relative to it: ``128 eps max(1, ||dt M||_1)``
    with ``M`` the FOH matrix (it bounds the impulse one too). On NumPy our
    exponential is scipy's on the same matrix.
    """
    A, B = ss.hippo.transition(measure, N)
    got = tuple(to_numpy(o) for o in sd.discretize(
        sd.DenseSystem(xp.asarray(A), xp.asarray(B)), dt, method))
    assert [g.shape for g in got] == [(N, N), (N,), (N,)]
    tol = 128 * EPS * _hold_scale(A, B, dt)
    err_sp = _hold_err(got, _scipy_hold(A, B, dt, method))
    err_mp = _hold_err(got, _mp_hold(A, B, dt, method))
    assert err_sp <= tol, err_sp / EPS
    assert err_mp <= tol, err_mp / EPS


def test_hold_is_exact_for_its_inputs():
    """Sampled outputs of the continuous system for a piecewise-linear input (FOH) and
    for a train of Dirac impulses of weight dt (impulse invariance), from the 40-digit
    closed form of the continuous solution, against the DenseDiscreteIO recurrence."""
    A, B = ss.hippo.transition("legt", 3)
    C = np.array([1.0, -0.5, 0.25])
    dt, L = 0.3, 6
    u = np.array([0.7, -1.2, 0.4, 2.0, 0.0, -0.3])

    def run(out, x0):
        x, ys = x0, []
        for k in range(L):
            ys.append(C @ x + (C @ out.Ed) * u[k])
            x = out.Ad @ x + out.Bd * u[k]
        return np.array(ys)

    with mpmath.workdps(40):
        Am = mpmath.matrix(A.tolist())
        bm = mpmath.matrix(B.tolist())
        cm = mpmath.matrix([C.tolist()])
        h = mpmath.mpf(dt)
        # FOH: x(t_{k+1}) = e^{hA} x + int_0^h e^{(h-s)A} B (u_k + (u_{k+1}-u_k) s/h) ds
        x, y_foh = mpmath.matrix(3, 1), []
        for k in range(L):
            y_foh.append(float((cm * x)[0]))
            if k + 1 < L:
                g1 = mpmath.matrix(3, 1)
                g2 = mpmath.matrix(3, 1)
                for i in range(3):
                    g1[i] = mpmath.quad(lambda s, i=i: (mpmath.expm((h - s) * Am) * bm)[i], [0, h])
                    g2[i] = mpmath.quad(
                        lambda s, i=i: (mpmath.expm((h - s) * Am) * bm)[i] * s / h, [0, h])
                x = mpmath.expm(h * Am) * x + g1 * u[k] + g2 * (u[k + 1] - u[k])
        # impulses dt u_k delta(t - t_k), sampled just after: y_k = C sum_j e^{(k-j)hA} B dt u_j
        y_imp = [float(sum((cm * mpmath.expm((k - j) * h * Am) * bm)[0] * h * u[j]
                            for j in range(k + 1))) for k in range(L)]
    # the recurrence adds O(L) roundings of size eps * max|y| on top of the discretization
    tol = 64 * L * EPS * max(1.0, np.abs(y_foh).max(), np.abs(y_imp).max())
    # FOH's state is xi_k = x(t_k) - Ed u_k, so x(t_0) = 0 starts from -Ed u_0
    foh = sd.foh(A, B, dt)
    np.testing.assert_allclose(run(foh, -foh.Ed * u[0]), y_foh, rtol=0, atol=tol)
    np.testing.assert_allclose(run(sd.impulse(A, B, dt), np.zeros(3)), y_imp, rtol=0, atol=tol)


def test_hold_methods_dense_only_and_validated():
    diag, dplr = _entry_system(sd.DiagSystem), _entry_system(sd.DPLRSystem)
    for method in ("foh", "impulse"):
        for system in (diag, dplr):
            with pytest.raises(ValueError, match=f"'{method}' is offered for dense systems "
                               "only"):
                sd.discretize(system, 0.1, method)
        with pytest.raises(ValueError, match="^alpha is only used"):
            sd.discretize(_entry_system(sd.DenseSystem), 0.1, method, alpha=0.5)
        with pytest.raises(ValueError, match="kernel_dense supports"):
            ss.kernel_dense(np.eye(2), np.ones(2), np.ones(2), 0.1, 4, method=method)
        with pytest.raises(ValueError, match="dt"):
            getattr(sd, method)(np.eye(2), np.ones(2), -0.1)
    with pytest.raises(ValueError, match="exceeds the floating-point range"):
        sd.foh(np.array([[1.0]]), np.array([1.0]), 1e3)
    # batched dt broadcasts; inputs not mutated
    A, B = ss.hippo.transition("legs", 3)
    A0, B0 = A.copy(), B.copy()
    out = sd.impulse(A, B, np.array([0.1, 0.2]))
    assert out.Ad.shape == (2, 3, 3) and out.Ed.shape == (2, 3)
    np.testing.assert_array_equal(out.Ed[1], 0.2 * B)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(B, B0)
