"""Initialisations and options of the reference S4 implementation.

Oracles: every formula is rewritten here with plain Python loops over ``math`` /
mpmath scalars, from the definitions in the docstrings of
:func:`statespace.hippo.transition`, :func:`statespace.hippo.rank_correction` and
:func:`statespace.decomp.dplr` (no array code of the library is reused); the FouT
time scale is checked against the defining projection integrals (mpmath
quadrature).

Tolerances: an entry formed by ``k`` correctly rounded operations on exact data
is within ``k`` ulps of the exact value *relative to the size of the terms*; a
difference ``a - b`` of terms of size ``T`` is therefore within ``k eps T``
(not relative to the small difference). Each test states its ``k``.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from util import to_numpy

import statespace as ss
from statespace import decomp, hippo

EPS = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


# ----------------------------------------------------------------------------------
# the reference implementation's Fourier names
# ----------------------------------------------------------------------------------
def _fourier_loops(N, omega, corr, bscale, diag=None):
    """``A = F_omega - corr * b b^T`` (or ``F_omega + diag I``), ``B = bscale * b``,
    by loops; ``b = (1, 0, sqrt2, 0, sqrt2, ...)``, ``F[2m+1, 2m] = omega m = -F[2m, 2m+1]``."""
    with mpmath.workdps(40):
        b = [mpmath.mpf(1) if n == 0 else (mpmath.sqrt(2) if n % 2 == 0 else mpmath.mpf(0))
             for n in range(N)]
        A = [[mpmath.mpf(0)] * N for _ in range(N)]
        for m in range(N // 2):
            A[2 * m + 1][2 * m] = omega * m
            A[2 * m][2 * m + 1] = -omega * m
        for i in range(N):
            for j in range(N):
                if diag is None:
                    A[i][j] -= corr * b[i] * b[j]
                elif i == j:
                    A[i][j] += diag
        return (np.array([[float(x) for x in row] for row in A]),
                np.array([float(bscale * x) for x in b]))


def _reference_fourier(name, N):
    pi = mpmath.pi
    if name == "fourier":       # the reference's fout: frequencies pi m, A = F - b b^T
        return _fourier_loops(N, pi, 1, 1)
    if name == "fourier2":      # twice 'fourier'
        return _fourier_loops(N, 2 * pi, 2, 2)
    if name == "fourier_diag":  # = foud: F_{2 pi} - I/2
        return _fourier_loops(N, 2 * pi, 0, 1, diag=mpmath.mpf(-0.5))
    if name == "ref_fourier_decay":  # the reference's fourier_decay: F_pi - b b^T / 2, b / 2
        return _fourier_loops(N, pi, mpmath.mpf(0.5), mpmath.mpf(0.5))
    raise AssertionError(name)


@pytest.mark.parametrize("name", hippo.REFERENCE_MEASURES)
@pytest.mark.parametrize("N", [2, 6, 16])
def test_reference_fourier_entries(name, N):
    """Entries within 2 ulps (at most two roundings: omega*m, sqrt2*sqrt2)."""
    A, B = hippo.transition(name, N)
    Ar, Br = _reference_fourier(name, N)
    for got, want in ((A, Ar), (B, Br)):
        assert np.all((got == 0) == (want == 0))
        assert np.all(np.abs(got - want) <= 2 * EPS * np.abs(want))
    # the NPLR form: A + P^T P normal (skew-symmetric, or -I/2 + skew), entrywise
    # to the rounding of the products sqrt2*sqrt2 (2 ulps of the largest term)
    P = hippo.rank_correction(name, N)
    S = A + P.T @ P
    S = S - np.diag(np.diag(S))
    assert np.abs(S + S.T).max() <= 4 * EPS * max(1.0, np.abs(P).max() ** 2)
    d = ss.nplr(name, N)
    rec = d.V @ (np.diag(d.Lambda) - d.P.conj().T @ d.P) @ d.V.conj().T
    assert np.abs(rec - A).max() <= 8 * N * EPS * np.abs(A).max()  # N-term sums
    assert ss.dplr(name, N).Lambda.shape == (N // 2,)


def test_reference_fourier_float32_and_errors():
    A, B = hippo.transition("fourier2", 8, dtype=np.float32)
    Ar, Br = _reference_fourier("fourier2", 8)
    assert A.dtype == np.float32
    # one rounding of a float64 value that is itself within 2 float64 ulps
    assert np.all(np.abs(A - Ar) <= (0.5 + 2.0 ** -28) * EPS32 * np.abs(Ar))
    for name in hippo.REFERENCE_MEASURES:
        with pytest.raises(ValueError, match="even state size"):
            hippo.transition(name, 5)
        with pytest.raises(TypeError, match="takes no parameter"):
            hippo.transition(name, 4, beta=1.0)
    with pytest.raises(ValueError, match="reference name"):
        hippo.transition("fourier3", 4)


# ----------------------------------------------------------------------------------
# FouT time-scale convention
# ----------------------------------------------------------------------------------
def test_fout_time_scale_mapping():
    """The mapping stated in the transition docstring, entry by entry (exact: the
    factors are powers of two)."""
    N = 8
    fout = hippo.transition("fout", N)
    ref_decay = _reference_fourier("ref_fourier_decay", N)
    # our fout = the reference's fourier_decay at twice the speed (theta 1 vs 2)
    for a, r in zip(fout, ref_decay, strict=True):
        np.testing.assert_allclose(a, 2 * r, rtol=2 * EPS, atol=0)
    # fourier2 = 2 * fourier; fourier_diag = foud
    for a, r in zip(hippo.transition("fourier2", N), hippo.transition("fourier", N),
                    strict=True):
        np.testing.assert_allclose(a, 2 * r, rtol=2 * EPS, atol=0)
    for a, r in zip(hippo.transition("fourier_diag", N), hippo.transition("foud", N),
                    strict=True):
        np.testing.assert_array_equal(a, r)
    # the reference's fout is no time scaling of ours: the ratio of the rotation
    # (skew) entries to the rank-one entries differs by 2
    A, _ = hippo.transition("fourier", N)
    assert A[3, 2] / -A[2, 2] == pytest.approx(0.5 * fout[0][3, 2] / -fout[0][2, 2], rel=1e-15)


def _basis(n, s):
    """p_0 = 1, p_2m = sqrt2 cos(2 pi m s), p_2m+1 = -sqrt2 sin(2 pi m s) (mpmath)."""
    m = n // 2
    if n == 0:
        return mpmath.mpf(1)
    if n % 2 == 0:
        return mpmath.sqrt(2) * mpmath.cos(2 * mpmath.pi * m * s)
    return -mpmath.sqrt(2) * mpmath.sin(2 * mpmath.pi * m * s)


@pytest.mark.parametrize("theta,system,freqs", [
    (1, "fout", (1, 2)),                 # window length 1: harmonics 2 pi k
    (2, "ref_fourier_decay", (1, 2)),    # window length 2: harmonics 2 pi k / 2
])
def test_fout_is_a_window_projection(theta, system, freqs):
    """For ``u(t) = cos(w t + phi)`` with ``w`` a harmonic of the window, the
    steady state of ``x' = A x + B u`` is the projection
    ``x_n(t) = (1/theta) int_0^theta u(t - theta + s) p_n(s / theta) ds`` (exact:
    ``u`` lies in the span and ``B^T x`` reconstructs ``u(t - theta)``).

    Oracle: mpmath quadrature at 30 digits. Ours: the steady state
    ``Re((i w - A)^{-1} B e^{i (w t + phi)})`` by a float64 solve, within
    ``16 N kappa eps`` (kappa = cond(i w I - A), the LU solve's backward error).
    """
    N = 6
    if system == "fout":
        A, B = hippo.transition("fout", N)
    else:
        A, B = _reference_fourier(system, N)
    t, phi = 0.37, 0.4
    for k in freqs:
        w = 2 * math.pi * k / theta
        M = 1j * w * np.eye(N) - A
        x = np.real(np.linalg.solve(M, B) * np.exp(1j * (w * t + phi)))
        with mpmath.workdps(30):
            th = mpmath.mpf(theta)
            want = [float(mpmath.quad(
                lambda s, n=n, w=w, th=th: mpmath.cos(w * (t - th + s) + phi)
                * _basis(n, s / th),
                [0, th / 2, th]) / th) for n in range(N)]
        tol = 16 * N * np.linalg.cond(M) * EPS
        np.testing.assert_allclose(x, want, rtol=0, atol=tol * max(1, np.abs(want).max()))


# ----------------------------------------------------------------------------------
# rank_correction(rank=)
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("measure,own", [("legs", 1), ("legt", 2), ("fout", 1),
                                         ("fourier2", 1), ("foud", 1), ("lagt", 1)])
def test_rank_padding(measure, own):
    N = 6
    P = hippo.rank_correction(measure, N)
    assert P.shape == (own, N)
    for rank in (own, own + 1, own + 3):
        Q = hippo.rank_correction(measure, N, rank=rank)
        assert Q.shape == (rank, N)
        np.testing.assert_array_equal(Q[:own], P)
        np.testing.assert_array_equal(Q[own:], 0.0)
        np.testing.assert_array_equal(Q.T @ Q, P.T @ P)
    with pytest.raises(ValueError, match=f"rank must be >= {own}"):
        hippo.rank_correction(measure, N, rank=own - 1)
    with pytest.raises(TypeError, match="rank must be an integer"):
        hippo.rank_correction(measure, N, rank=1.5)
    with pytest.raises(TypeError, match="rank must be an integer"):
        hippo.rank_correction(measure, N, rank=True)


def test_rank_padding_backends(xp):
    Q = hippo.rank_correction("legs", 4, rank=3, xp=xp, dtype=xp.float32)
    Q = to_numpy(Q)
    assert Q.shape == (3, 4) and Q.dtype == np.float32
    assert np.all(Q[1:] == 0)


# ----------------------------------------------------------------------------------
# S4D initialisations and options
# ----------------------------------------------------------------------------------
def _s4d_loops(init, N, real_scale=1.0, imag_scale=1.0, real_random=False,
               imag_random=False, B_init=None, B_scale=1.0, seed=0):
    """(Lambda, B, T): the docstring's formulas, one mode at a time, with mpmath
    constants; ``T`` the size of the terms of the imaginary part (for tolerances)."""
    h = N // 2
    rng = np.random.default_rng(seed)
    r = [0.5] * h if init != "diag-real" else [n + 1.0 for n in range(h)]
    if real_random:
        u = rng.random(h)
        r = [(N / 2) * x if init == "diag-real" else x for x in u]
    iota = [float(n) for n in range(h)]
    if imag_random:
        iota = list((N // 2) * rng.random(h))
    pi = mpmath.pi
    im, T = [], []
    g = rng.standard_normal(h) if init == "diag-rand" else None
    with mpmath.workdps(40):
        for n in range(h):
            i = mpmath.mpf(iota[n])
            if init == "diag-lin":
                v, t = pi * i, pi * i
            elif init == "diag-inv":
                v = N / pi * (N / (2 * i + 1) - 1)
                t = N / pi * (N / (2 * i + 1) + 1)
            elif init == "diag-inv2":
                v = N / pi * (N / (i + 1) - 1)
                t = N / pi * (N / (i + 1) + 1)
            elif init == "diag-quad":
                v = t = (1 + 2 * i) ** 2 / pi
            elif init == "diag-rand":
                v = t = mpmath.exp(mpmath.mpf(g[n]))
            else:
                v = t = mpmath.mpf(0)
            im.append(complex(-real_scale * mpmath.mpf(r[n]), imag_scale * v))
            T.append(float(abs(imag_scale) * t))
    if B_init is None or B_init == "constant":
        B = [1.0 + 0j] * h
    elif B_init == "random":
        ab = rng.standard_normal((2, h))
        B = [complex(ab[0, n], ab[1, n]) / math.sqrt(2) for n in range(h)]
    elif B_init == "alternating":
        B = [(-1.0) ** n + 0j for n in range(h)]
    else:
        sign = 1 if B_init == "unit-cw" else -1
        with mpmath.workdps(40):
            B = [complex(mpmath.expj(sign * 2 * mpmath.pi * n / N)) for n in range(h)]
    return np.array(im), B_scale * np.array(B), np.array(T)


NEW_INITS = ("diag-inv2", "diag-quad", "diag-rand")
ALL_FORMULA_INITS = ("diag-lin", "diag-inv", "diag-real") + NEW_INITS


@pytest.mark.parametrize("init", ALL_FORMULA_INITS)
@pytest.mark.parametrize("N", [2, 8, 64, 1000])
def test_s4d_init_formulas(init, N):
    """Lambda within 4 ulps of its terms (a handful of roundings: N/pi, a quotient,
    a difference, a product), B exact."""
    d = ss.dplr(init, N)
    Lr, Br, T = _s4d_loops(init, N)
    assert d.Lambda.shape == (N // 2,) and d.P.shape == (0, N // 2) and d.V is None
    np.testing.assert_array_equal(d.Lambda.real, Lr.real)
    assert np.all(np.abs(d.Lambda.imag - Lr.imag) <= 4 * EPS * T)
    np.testing.assert_array_equal(d.B, Br)
    assert np.all(d.Lambda.real < 0) and np.all(d.Lambda.imag >= 0)


OPTION_CASES = [
    dict(real_scale=0.25),
    dict(imag_scale=3.0),
    dict(real_random=True),
    dict(imag_random=True, seed=5),
    dict(real_random=True, imag_random=True, seed=7),
    dict(B_init="random", seed=2),
    dict(B_init="alternating"),
    dict(B_init="unit-cw"),
    dict(B_init="unit-ccw", B_scale=0.5),
    dict(real_random=True, imag_random=True, B_init="random", real_scale=2.0,
         imag_scale=0.5, B_scale=-1.5, seed=11),
]


@pytest.mark.parametrize("opts", OPTION_CASES, ids=[str(sorted(o)) for o in OPTION_CASES])
@pytest.mark.parametrize("init", ALL_FORMULA_INITS)
def test_s4d_options(init, opts):
    """Options against the loops; the real part is one product (1 ulp), B within
    2 ulps (cos/sin of a reduced angle, then a scale)."""
    N = 12
    d = ss.dplr(init, N, **opts)
    Lr, Br, T = _s4d_loops(init, N, **opts)
    assert np.all(np.abs(d.Lambda.real - Lr.real) <= EPS * np.abs(Lr.real))
    assert np.all(np.abs(d.Lambda.imag - Lr.imag) <= 6 * EPS * T)
    assert np.all(np.abs(d.B - Br) <= 2 * EPS * np.abs(Br).max())


def test_s4d_unit_circle_orientation():
    """unit-cw turns with Lambda (Im Lambda grows with n), unit-ccw against it."""
    N = 16
    lin = ss.dplr("diag-lin", N)
    cw = ss.dplr("diag-lin", N, B_init="unit-cw").B
    ccw = ss.dplr("diag-lin", N, B_init="unit-ccw").B
    assert np.all(np.diff(lin.Lambda.imag) > 0)
    assert np.all(np.angle(cw[1:] / cw[:-1]) > 0) and np.all(np.angle(ccw[1:] / ccw[:-1]) < 0)
    np.testing.assert_allclose(np.abs(cw), 1, rtol=2 * EPS)
    np.testing.assert_allclose(cw, ccw.conj(), rtol=0, atol=0)


def test_s4d_legs_options():
    """diag-legs: no options -> the decomposition itself; with options the scales
    and B_init apply to its real and imaginary parts."""
    N = 16
    base = ss.dplr("diag-legs", N)
    np.testing.assert_array_equal(ss.dplr("diag-legs", N, seed=3).Lambda, base.Lambda)
    d = ss.dplr("diag-legs", N, real_scale=2.0, imag_scale=0.5, B_init="alternating")
    np.testing.assert_allclose(d.Lambda.real, 2.0 * base.Lambda.real, rtol=EPS)
    np.testing.assert_allclose(d.Lambda.imag, 0.5 * base.Lambda.imag, rtol=EPS)
    np.testing.assert_array_equal(d.B, [(-1.0) ** n for n in range(N // 2)])
    d = ss.dplr("diag-legs", N, B_scale=2.0)
    np.testing.assert_allclose(d.B, 2 * base.B, rtol=EPS)


def test_s4d_random_is_seeded(xp):
    a = ss.dplr("diag-rand", 16, seed=4, B_init="random", xp=xp)
    b = ss.dplr("diag-rand", 16, seed=4, B_init="random", xp=xp)
    c = ss.dplr("diag-rand", 16, seed=5, B_init="random", xp=xp)
    np.testing.assert_array_equal(to_numpy(a.Lambda), to_numpy(b.Lambda))
    assert not np.array_equal(to_numpy(a.Lambda), to_numpy(c.Lambda))
    f32 = ss.dplr("diag-inv2", 16, dtype=xp.float32, xp=xp)
    assert to_numpy(f32.Lambda).dtype == np.complex64


@pytest.mark.parametrize("kw,exc,match", [
    (dict(real_scale=-1.0), ValueError, "real_scale must be >= 0"),
    (dict(imag_scale=float("nan")), ValueError, "imag_scale"),
    (dict(B_scale="x"), TypeError, "B_scale must be a real number"),
    (dict(real_random=1), TypeError, "real_random must be a bool"),
    (dict(B_init="unit"), ValueError, "unknown B_init 'unit'"),
    (dict(B_init=3), TypeError, "B_init must be a string"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(beta=1.0), TypeError, "takes no parameter"),
])
def test_s4d_option_errors(kw, exc, match):
    with pytest.raises(exc, match=match):
        ss.dplr("diag-lin", 8, **kw)


def test_option_table():
    assert set(decomp.S4D_OPTIONS) == {"real_scale", "imag_scale", "real_random",
                                       "imag_random", "B_init", "B_scale", "seed"}
    assert decomp.B_INITS == ("constant", "random", "alternating", "unit-cw", "unit-ccw")
    assert set(NEW_INITS) <= set(decomp.S4D_INITS)
