"""statespace.boundary: truncation correction C~ <-> C, initial response, final state.

Oracles
-------
* Dense float64 matrices: ``Ad, Bd`` of ``statespace.discretize.bilinear`` /
  ``zoh`` on ``diag(Lambda) - P^H P`` (the full, doubled system for halved
  storage), and ``numpy.linalg.matrix_power`` for ``Ad^L``; elementwise powers
  ``Lambda_d**L`` for diagonal systems.
* ``statespace.scan``: the step-by-step recurrence (outputs and final state).
* mpmath ground truth lives in the verification suite (``boundary_states``).

Tolerances
----------
The references accumulate rounding themselves: ``matrix_power`` and the recurrence
about ``L`` roundings of size ``n eps`` each (``n`` the full state size), so the
dense comparisons use ``RTOL = 64 n L eps`` (measured errors are 1e-16 .. 1e-14 at
``n L <= 10^3``, i.e. at least 30x below it). The inverse ``C~ -> C`` amplifies the
error of ``Ad^L - I`` by the condition number of ``I - Ad^L``, which the function
reports; round trips are judged against ``64 n log2(2L) cond eps``. float32 results
are compared with the float64 ones at ``4 sqrt(eps32)`` (SciPy's default), since
the core rounds only its inputs and outputs to single precision.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from util import relative_error, to_numpy, xp_assert_close

import statespace as ss
from statespace import boundary as bd
from statespace import discretize as sd

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


def _rtol(n, L):
    return 64 * n * L * EPS64


def _full(a):
    return np.concatenate([a, np.conj(a)], axis=-1)


def _dplr(seed, N, r, *, cplx=True, batch=()):
    """A stable DPLR system: Re(Lambda) < 0 and A = diag(Lambda) - P^H P dissipative."""
    rng = np.random.default_rng(seed)
    shape = tuple(batch) + (N,)
    lam = -rng.uniform(0.05, 2.0, shape)
    if cplx:
        lam = lam + 1j * rng.uniform(-6, 6, shape)
    P = rng.standard_normal(tuple(batch) + (r, N)) * 0.5
    B = rng.standard_normal(shape)
    C = rng.standard_normal(shape)
    x = rng.standard_normal(shape)
    if cplx:
        P = P + 0.5j * rng.standard_normal(P.shape)
        B = B + 1j * rng.standard_normal(shape)
        C = C + 1j * rng.standard_normal(shape)
        x = x + 1j * rng.standard_normal(shape)
    return lam, P, B, C, x


def _dense(lam, P, B, dt, halved):
    """Dense bilinear (Ad, Bd) of the (full) DPLR system in float64."""
    if halved:
        lam, P, B = _full(lam), _full(P), _full(B)
    A = np.diag(lam) - P.conj().T @ P
    Ad, Bd = sd.bilinear(A, B, dt)
    return Ad, Bd


def _bilinear_dplr(lam, P, B, dt, halved):
    """The structured recurrence of ``scan`` (which needs rank >= 1: a zero row for r = 0)."""
    if P.shape[-2] == 0:
        P = np.zeros(P.shape[:-2] + (1, P.shape[-1]))
    return sd.bilinear_dplr(lam, P, B, dt, halved=halved)


def _diag_disc(lam, B, dt, method):
    return sd.zoh_diag(lam, B, dt) if method == "zoh" else sd.bilinear_diag(lam, B, dt)


# ------------------------------------------------------------------------------------
# against dense float64 powers
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("halved", [False, True], ids=["full", "halved"])
@pytest.mark.parametrize("r", [0, 1, 2, 3])
@pytest.mark.parametrize("L", [1, 2, 17, 64])
def test_c_tilde_dplr_equals_dense(halved, r, L):
    lam, P, B, C, _ = _dplr(10 * r + L, 5, r)
    dt = 0.13
    Ad, _ = _dense(lam, P, B, dt, halved)
    n = Ad.shape[-1]
    Cf = _full(C) if halved else C
    ref = (Cf @ (np.eye(n) - np.linalg.matrix_power(Ad, L)))[:5]
    Ct = ss.c_tilde_dplr(lam, P, C, dt, L, halved=halved)
    assert Ct.shape == (5,) and Ct.dtype == np.complex128
    assert relative_error(Ct, ref) <= _rtol(n, L)
    # inverse: the dense solve of the same equations
    C2, cond = ss.c_from_tilde_dplr(lam, P, Ct, dt, L, halved=halved, return_cond=True)
    M = np.eye(n) - np.linalg.matrix_power(Ad, L)
    assert math.isclose(float(cond), np.linalg.cond(M), rel_tol=1e-8)
    ref_C = np.linalg.solve(M.T, (_full(Ct) if halved else Ct))[:5]
    assert relative_error(C2, ref_C) <= _rtol(n, L) * float(cond)
    assert relative_error(C2, C) <= _rtol(n, L) * float(cond)


def test_c_tilde_dplr_real_system_is_real():
    lam, P, B, C, _ = _dplr(3, 4, 2, cplx=False)
    Ct = ss.c_tilde_dplr(lam, P, C, 0.2, 9, halved=False)
    assert Ct.dtype == np.float64
    Ad, _ = _dense(lam, P, B, 0.2, False)
    assert relative_error(Ct, C @ (np.eye(4) - np.linalg.matrix_power(Ad, 9))) <= _rtol(4, 9)
    assert ss.c_from_tilde_dplr(lam, P, Ct, 0.2, 9).dtype == np.float64


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
@pytest.mark.parametrize("L", [1, 5, 300])
def test_c_tilde_diag_equals_powers(method, L):
    """Entrywise against 1 - ld^L in mpmath: cancellation-free even when ld^L ~ 1."""
    mpmath = pytest.importorskip("mpmath")
    lam, _, _, C, _ = _dplr(L, 6, 0)
    lam = np.concatenate([lam, [-1e-9 + 0j, -3.0 + 0j]])  # 1 - ld^L ~ 1e-9 L dt: no cancel
    C = np.concatenate([C, [1.0, 2.0]])
    dt = 0.07
    with mpmath.workdps(50):
        g = []
        for v in lam:
            z = mpmath.mpf(dt) * mpmath.mpc(v.real, v.imag)
            ld = mpmath.exp(z) if method == "zoh" else (1 + z / 2) / (1 - z / 2)
            g.append(complex(1 - ld**L))
    g = np.array(g)
    Ct = ss.c_tilde_diag(lam, C, dt, L, method)
    # the exponent L log(ld) is rounded once: relative error ~ (1 + L |dt lam|) eps
    xmax = float(np.max(np.abs(dt * lam)))
    xp_assert_close(Ct, C * g, rtol=8 * (1 + L * xmax) * EPS64)
    C2 = ss.c_from_tilde_diag(lam, Ct, dt, L, method)
    xp_assert_close(C2, C, rtol=8 * EPS64)


@pytest.mark.parametrize("halved", [False, True], ids=["full", "halved"])
@pytest.mark.parametrize("r", [0, 1, 2])
@pytest.mark.parametrize("tilde", [False, True], ids=["C", "Ctilde"])
def test_initial_response_dplr_equals_scan(halved, r, tilde):
    lam, P, B, C, x = _dplr(7 + r, 4, r)
    dt, L = 0.21, 37
    Cin = ss.c_tilde_dplr(lam, P, C, dt, L, halved=halved) if tilde else C
    y = ss.initial_response_dplr(lam, P, Cin, x, dt, L, halved=halved, tilde=tilde)
    sys = _bilinear_dplr(lam, P, B, dt, halved)
    y_ref, _ = ss.scan(sys, np.zeros(L), x0=x, C=C, halved=halved)
    assert y.shape == (L,) and y.dtype == (np.float64 if halved else np.complex128)
    assert relative_error(y, y_ref) <= _rtol(8 if halved else 4, L)
    # definition by dense powers: y_l = C Ad^{l+1} x
    Ad, _ = _dense(lam, P, B, dt, halved)
    Cf, xf = (_full(C), _full(x)) if halved else (C, x)
    dense = np.array([Cf @ np.linalg.matrix_power(Ad, l + 1) @ xf for l in range(L)])
    assert relative_error(y, dense.real if halved else dense) <= _rtol(Ad.shape[0], L)


@pytest.mark.parametrize("halved", [False, True], ids=["full", "halved"])
@pytest.mark.parametrize("r", [0, 1, 2])
def test_final_state_dplr_equals_scan(halved, r):
    lam, P, B, _, x = _dplr(30 + r, 4, r)
    dt, L = 0.3, 29
    u = np.sin(0.7 * np.arange(L)) + 0.1
    sys = _bilinear_dplr(lam, P, B, dt, halved)
    xF = ss.final_state_dplr(lam, P, B, x, u, dt, halved=halved)
    _, x_ref = ss.scan(sys, u, x0=x, halved=halved)
    assert xF.shape == (4,) and xF.dtype == np.complex128
    assert relative_error(xF, x_ref) <= _rtol(8, L)
    # variable lengths (padding ignored), against scans of the truncated inputs
    lengths = np.array([0, 1, 13, L])
    u_pad = np.where(np.arange(L) < lengths[:, None], u, 1e3)  # garbage past the length
    xl = ss.final_state_dplr(lam, P, B, x, u_pad, dt, halved=halved, lengths=lengths)
    assert xl.shape == (4, 4)
    for i, n in enumerate(lengths):
        ref = x if n == 0 else ss.scan(sys, u[:n], x0=x, halved=halved)[1]
        assert relative_error(xl[i], ref) <= _rtol(8, L), n


def test_final_state_dplr_complex_input_and_real_system():
    lam, P, B, _, x = _dplr(5, 3, 1)
    u = np.exp(0.3j * np.arange(11))
    sys = sd.bilinear_dplr(lam, P, B, 0.2)
    assert relative_error(ss.final_state_dplr(lam, P, B, x, u, 0.2), ss.scan(sys, u, x0=x)[1]) \
        <= _rtol(3, 11)
    lam, P, B, _, x = _dplr(6, 3, 2, cplx=False)
    u = np.cos(np.arange(11.0))
    xF = ss.final_state_dplr(lam, P, B, x, u, 0.2)
    assert xF.dtype == np.float64
    sys = sd.bilinear_dplr(lam, P, B, 0.2)
    assert relative_error(xF, ss.scan(sys, u, x0=x)[1]) <= _rtol(3, 11)


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout"])
def test_hippo_systems_long_sequence(measure):
    """Poles near or on the unit circle (LegT, FouT) and non-normal LegS, L = 2048."""
    d = ss.dplr(measure, 16)
    rng = np.random.default_rng(0)
    C = rng.standard_normal(8) + 1j * rng.standard_normal(8)
    x = rng.standard_normal(8) + 1j * rng.standard_normal(8)
    L, dt = 2048, 1e-2
    u = rng.standard_normal(L)
    sys = sd.bilinear_dplr(d.Lambda, d.P, d.B, dt, halved=True)
    y_ref, x_ref = ss.scan(sys, u, x0=x, C=C, halved=True)
    y0_ref, _ = ss.scan(sys, np.zeros(L), x0=x, C=C, halved=True)
    assert relative_error(ss.final_state_dplr(d.Lambda, d.P, d.B, x, u, dt, halved=True), x_ref) \
        <= _rtol(16, L)
    y0 = ss.initial_response_dplr(d.Lambda, d.P, C, x, dt, L, halved=True)
    assert relative_error(y0, y0_ref) <= _rtol(16, L)
    # the zero eigenvalue of FouT makes I - Ad^L singular: reported, not a silent NaN
    if measure == "fout":
        Ct = ss.c_tilde_dplr(d.Lambda, d.P, C, dt, L, halved=True)
        with pytest.raises(ValueError, match="ill-conditioned"):
            ss.c_from_tilde_dplr(d.Lambda, d.P, Ct, dt, L, halved=True)


@pytest.mark.parametrize("halved", [False, True], ids=["full", "halved"])
@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_diag_maps_equal_scan(halved, method):
    lam, _, B, C, x = _dplr(2, 5, 0)
    lam = np.concatenate([lam, [-3.0 + 0j]])  # bilinear pole < 0 at dt = 0.9: log ld complex
    B, C, x = (np.concatenate([a, [1.0 + 0j]]) for a in (B, C, x))
    dt, L = 0.9, 41
    u = np.cos(0.3 * np.arange(L))
    sys = _diag_disc(lam, B, dt, method)
    y_ref, x_ref = ss.scan(sys, u, x0=x, C=C, halved=halved)
    y0_ref, _ = ss.scan(sys, np.zeros(L), x0=x, C=C, halved=halved)
    y0 = ss.initial_response_diag(lam, C, x, dt, L, method, halved=halved)
    assert y0.dtype == (np.float64 if halved else np.complex128)
    assert relative_error(y0, y0_ref) <= _rtol(6, L)
    xF = ss.final_state_diag(lam, B, x, u, dt, method, halved=halved)
    assert relative_error(xF, x_ref) <= _rtol(6, L)
    lengths = np.array([0, 4, L])
    xl = ss.final_state_diag(lam, B, x, np.where(np.arange(L) < lengths[:, None], u, 7.0),
                             dt, method, halved=halved, lengths=lengths)
    for i, n in enumerate(lengths):
        ref = x if n == 0 else ss.scan(sys, u[:n], x0=x, C=None, halved=halved)[1]
        assert relative_error(xl[i], ref) <= _rtol(6, L)


def test_diag_real_system_is_real():
    lam, B, C, x = -np.array([0.5, 2.0]), np.array([1.0, -1.0]), np.array([2.0, 1.0]), \
        np.array([1.0, 3.0])
    u = np.arange(6.0)
    for method in ("zoh", "bilinear"):
        sys = _diag_disc(lam, B, 0.4, method)
        y_ref, x_ref = ss.scan(sys, u, x0=x, C=C)
        y0 = ss.initial_response_diag(lam, C, x, 0.4, 6, method)
        xF = ss.final_state_diag(lam, B, x, u, 0.4, method)
        assert y0.dtype == xF.dtype == np.float64
        assert relative_error(xF, x_ref) <= _rtol(2, 6)
        assert ss.c_tilde_diag(lam, C, 0.4, 6, method).dtype == np.float64


@pytest.mark.parametrize("mode", ["dplr", "diag"])
def test_windowed_processing_equals_one_scan(mode):
    """conv + initial response per window, final state carried: equals one scan."""
    d = ss.dplr("legs" if mode == "dplr" else "diag-lin", 8)
    rng = np.random.default_rng(1)
    C = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    u = rng.standard_normal(100)
    dt = 0.05
    if mode == "dplr":
        sys = sd.bilinear_dplr(d.Lambda, d.P, d.B, dt, halved=True)
    else:
        sys = sd.zoh_diag(d.Lambda, d.B, dt)
    y_ref, x_ref = ss.scan(sys, u, C=C, halved=True)
    x = np.zeros(4, dtype=complex)
    out = []
    for lo, hi in ((0, 1), (1, 30), (30, 100)):
        w = u[lo:hi]
        n = hi - lo
        if mode == "dplr":
            K = ss.kernel_dplr(d.Lambda, d.P, d.B, C, dt, n, halved=True)
            y = ss.causal_conv(w, K) + bd.initial_response_dplr(d.Lambda, d.P, C, x, dt, n,
                                                                halved=True)
            x = bd.final_state_dplr(d.Lambda, d.P, d.B, x, w, dt, halved=True)
        else:
            K = ss.kernel_diag(d.Lambda, d.B, C, dt, n, "zoh", halved=True)
            y = ss.causal_conv(w, K) + bd.initial_response_diag(d.Lambda, C, x, dt, n, "zoh",
                                                                halved=True)
            x = bd.final_state_diag(d.Lambda, d.B, x, w, dt, "zoh", halved=True)
        out.append(y)
    assert relative_error(np.concatenate(out), y_ref) <= _rtol(8, 100)
    assert relative_error(x, x_ref) <= _rtol(8, 100)


# ------------------------------------------------------------------------------------
# properties (hypothesis)
# ------------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 5), r=st.integers(0, 2),
       L=st.integers(1, 80), dt=st.floats(0.01, 2.0), halved=st.booleans())
def test_round_trip_dplr(seed, N, r, L, dt, halved):
    lam, P, _, C, _ = _dplr(seed, N, r)
    Ct = ss.c_tilde_dplr(lam, P, C, dt, L, halved=halved)
    C2, cond = ss.c_from_tilde_dplr(lam, P, Ct, dt, L, halved=halved, return_cond=True)
    n = 2 * N if halved else N
    assert relative_error(C2, C) <= 64 * n * math.log2(2 * L) * float(cond) * EPS64


@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 6), L=st.integers(1, 500),
       dt=st.floats(1e-4, 2.0), method=st.sampled_from(["zoh", "bilinear"]))
def test_round_trip_diag(seed, N, L, dt, method):
    lam, _, _, C, _ = _dplr(seed, N, 0)
    C2 = ss.c_from_tilde_diag(lam, ss.c_tilde_diag(lam, C, dt, L, method), dt, L, method)
    # entrywise: one complex multiplication and one division by the same factor, each
    # within a few eps relative
    xp_assert_close(C2, C, rtol=8 * EPS64)


@given(seed=st.integers(0, 2**31 - 1), N=st.integers(1, 4), r=st.integers(0, 2),
       L=st.integers(1, 40))
def test_halved_equals_doubled_full_system(seed, N, r, L):
    lam, P, B, C, x = _dplr(seed, N, r)
    dt = 0.25
    u = np.cos(np.arange(L) * 0.4 + seed % 7)
    lf, Pf, Bf, Cf, xf = (_full(a) for a in (lam, P, B, C, x))
    tol = _rtol(2 * N, L)
    h = ss.c_tilde_dplr(lam, P, C, dt, L, halved=True)
    f = ss.c_tilde_dplr(lf, Pf, Cf, dt, L, halved=False)
    assert relative_error(h, f[:N]) <= tol and relative_error(np.conj(h), f[N:]) <= tol
    h = ss.initial_response_dplr(lam, P, C, x, dt, L, halved=True)
    f = ss.initial_response_dplr(lf, Pf, Cf, xf, dt, L, halved=False)
    assert relative_error(h, f.real) <= tol and np.max(np.abs(f.imag)) <= tol * np.max(np.abs(f))
    h = ss.final_state_dplr(lam, P, B, x, u, dt, halved=True)
    f = ss.final_state_dplr(lf, Pf, Bf, xf, u, dt, halved=False)
    assert relative_error(h, f[:N]) <= tol and relative_error(np.conj(h), f[N:]) <= tol


@given(seed=st.integers(0, 2**31 - 1), r=st.integers(0, 2), L=st.integers(1, 30))
def test_batching_equals_per_entry_calls(seed, r, L):
    H, N = 3, 3
    lam, P, B, C, _ = _dplr(seed, N, r, batch=(H,))
    rng = np.random.default_rng(seed)
    dt = rng.uniform(0.05, 0.5, H)
    x = rng.standard_normal((2, H, N)) + 1j * rng.standard_normal((2, H, N))
    u = rng.standard_normal((2, H, L))
    Cb = np.stack([C, 2 * C])  # (channels, H, N)
    Ct = ss.c_tilde_dplr(lam, P, Cb, dt, L, halved=True)
    y = ss.initial_response_dplr(lam, P, C, x, dt, L, halved=True)
    xF = ss.final_state_dplr(lam, P, B, x, u, dt, halved=True)
    yd = ss.initial_response_diag(lam, C, x, dt, L, "zoh", halved=True)
    xd = ss.final_state_diag(lam, B, x, u, dt, "bilinear", halved=True)
    assert Ct.shape == (2, H, N) and y.shape == (2, H, L) and xF.shape == (2, H, N)
    tol = _rtol(2 * N, L)
    for h in range(H):
        one = (lam[h], P[h], dt[h])
        for c in range(2):
            assert relative_error(Ct[c, h], ss.c_tilde_dplr(one[0], one[1], Cb[c, h], one[2], L,
                                                     halved=True)) <= tol
        for b in range(2):
            assert relative_error(y[b, h], ss.initial_response_dplr(
                lam[h], P[h], C[h], x[b, h], dt[h], L, halved=True)) <= tol
            assert relative_error(xF[b, h], ss.final_state_dplr(
                lam[h], P[h], B[h], x[b, h], u[b, h], dt[h], halved=True)) <= tol
            assert relative_error(yd[b, h], ss.initial_response_diag(
                lam[h], C[h], x[b, h], dt[h], L, "zoh", halved=True)) <= tol
            assert relative_error(xd[b, h], ss.final_state_diag(
                lam[h], B[h], x[b, h], u[b, h], dt[h], "bilinear", halved=True)) <= tol


# ------------------------------------------------------------------------------------
# namespaces and dtypes
# ------------------------------------------------------------------------------------
def _calls(xp, dtype, lam, P, B, C, x, u, lengths):
    """Every public function on the same inputs, as ``{name: result}``."""
    cdt = xp.complex64 if dtype == "float32" else xp.complex128
    fdt = getattr(xp, dtype)

    def a(v):
        return xp.asarray(v.astype(np.complex64 if dtype == "float32" else np.complex128)
                          if np.iscomplexobj(v) else v.astype(dtype),
                          dtype=cdt if np.iscomplexobj(v) else fdt)

    lam, P, B, C, x, u = (a(v) for v in (lam, P, B, C, x, u))
    n = xp.asarray(lengths)
    dt, L = 0.2, u.shape[-1]
    out = {
        "c_tilde_dplr": ss.c_tilde_dplr(lam, P, C, dt, L, halved=True),
        "c_tilde_diag": ss.c_tilde_diag(lam, C, dt, L, "bilinear"),
        "initial_response_dplr": ss.initial_response_dplr(lam, P, C, x, dt, L, halved=True),
        "initial_response_diag": ss.initial_response_diag(lam, C, x, dt, L, "zoh", halved=True),
        "final_state_dplr": ss.final_state_dplr(lam, P, B, x, u, dt, halved=True, lengths=n),
        "final_state_diag": ss.final_state_diag(lam, B, x, u, dt, "zoh", halved=True,
                                                lengths=n),
    }
    out["c_from_tilde_dplr"] = ss.c_from_tilde_dplr(lam, P, out["c_tilde_dplr"], dt, L,
                                                    halved=True)
    out["c_from_tilde_diag"] = ss.c_from_tilde_diag(lam, out["c_tilde_diag"], dt, L,
                                                    "bilinear")
    return out


_REAL_OUT = {"initial_response_dplr", "initial_response_diag"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_namespaces_and_dtypes(xp, dtype):
    lam, P, B, C, x = _dplr(4, 3, 1, batch=(2,))
    u = np.random.default_rng(4).standard_normal((2, 12))
    lengths = np.array([12, 5])
    got = _calls(xp, dtype, lam, P, B, C, x, u, lengths)
    ref = _calls(np, "float64", lam, P, B, C, x, u, lengths)
    for name, val in got.items():
        kind = "float" if name in _REAL_OUT else "complex"
        bits = (32 if dtype == "float32" else 64) * (1 if kind == "float" else 2)
        assert str(val.dtype).endswith(f"{kind}{bits}"), (name, val.dtype)
        assert type(val).__module__.split(".")[0] == \
            type(xp.asarray(0.0)).__module__.split(".")[0], name
        assert tuple(val.shape) == ref[name].shape, name
        rtol = 4 * math.sqrt(EPS32) if dtype == "float32" else _rtol(6, 12)
        assert relative_error(to_numpy(val), ref[name]) <= rtol, name


# ------------------------------------------------------------------------------------
# autograd
# ------------------------------------------------------------------------------------
def test_gradcheck_torch():
    torch = pytest.importorskip("torch")
    lam, P, B, C, x = (torch.tensor(a) for a in _dplr(8, 2, 1))
    u = torch.tensor(np.cos(np.arange(5.0)))
    dt, L = torch.tensor(0.3, dtype=torch.float64), 5
    leaves = [t.detach().clone().requires_grad_() for t in (lam, P, B, C, x, u, dt)]

    def each(lam, P, B, C, x, u, dt):
        Ct = bd.c_tilde_dplr(lam, P, C, dt, L, halved=True)
        return (
            torch.view_as_real(Ct),
            torch.view_as_real(bd.c_from_tilde_dplr(lam, P, Ct, dt, L, halved=True)),
            bd.initial_response_dplr(lam, P, C, x, dt, L, halved=True),
            bd.initial_response_dplr(lam, P, Ct, x, dt, L, halved=True, tilde=True),
            torch.view_as_real(bd.final_state_dplr(lam, P, B, x, u, dt, halved=True,
                                                   lengths=torch.tensor([3]))),
            torch.view_as_real(bd.c_from_tilde_diag(lam, C, dt, L, "zoh")),
            torch.view_as_real(bd.c_tilde_diag(lam, C, dt, L, "bilinear")),
            bd.initial_response_diag(lam, C, x, dt, L, "bilinear", halved=True),
            torch.view_as_real(bd.final_state_diag(lam, B, x, u, dt, "zoh", halved=True)),
        )

    assert torch.autograd.gradcheck(each, leaves)


# ------------------------------------------------------------------------------------
# bad inputs
# ------------------------------------------------------------------------------------
def test_bad_inputs():
    lam, P, B, C, x = _dplr(0, 3, 1)
    u = np.ones(4)
    with pytest.raises(ValueError, match="L must be >= 1"):
        ss.c_tilde_dplr(lam, P, C, 0.1, 0)
    with pytest.raises(TypeError, match="L must be an integer"):
        ss.c_tilde_diag(lam, C, 0.1, 2.0)
    with pytest.raises(TypeError, match="halved"):
        ss.final_state_dplr(lam, P, B, x, u, 0.1, halved=1)
    with pytest.raises(TypeError, match="tilde"):
        ss.initial_response_dplr(lam, P, C, x, 0.1, 3, tilde=None)
    with pytest.raises(ValueError, match="dt"):
        ss.c_from_tilde_dplr(lam, P, C, -0.1, 3)
    with pytest.raises(ValueError, match="state sizes"):
        ss.initial_response_diag(lam, C[:2], x, 0.1, 3)
    with pytest.raises(ValueError, match="P must have at least 2"):
        ss.c_tilde_dplr(lam, P[0], C, 0.1, 3)
    with pytest.raises(ValueError, match="method"):
        ss.c_tilde_diag(lam, C, 0.1, 3, "euler")
    with pytest.raises(ValueError, match="u contains NaN"):
        ss.final_state_diag(lam, B, x, np.array([1.0, np.nan]), 0.1)
    with pytest.raises(ValueError, match="x contains NaN"):
        ss.initial_response_dplr(lam, P, C, np.full(3, np.nan), 0.1, 3)
    with pytest.raises(TypeError, match="u must have a real dtype"):
        ss.final_state_dplr(lam, P, B, x, u + 1j, 0.1, halved=True)
    with pytest.raises(ValueError, match="lengths must lie in"):
        ss.final_state_diag(lam, B, x, u, 0.1, lengths=np.array([5]))
    with pytest.raises(TypeError, match="lengths"):
        ss.final_state_dplr(lam, P, B, x, u, 0.1, lengths=np.array([1.5]))
    with pytest.raises(ValueError, match="broadcast"):
        ss.final_state_diag(lam, B, x, np.ones((2, 4)), 0.1, lengths=np.array([1, 2, 3]))
    # integer arrays are numbers like any other (the library's one array rule)
    np.testing.assert_array_equal(ss.c_tilde_dplr(lam, P, np.ones(3, dtype=int), 0.1, 3),
                                  ss.c_tilde_dplr(lam, P, np.ones(3), 0.1, 3))
    with pytest.raises(TypeError, match="numeric dtype"):
        ss.c_tilde_dplr(lam, P, np.ones(3, dtype=bool), 0.1, 3)
    with pytest.raises(TypeError, match="max_cond"):
        ss.c_from_tilde_dplr(lam, P, C, 0.1, 3, max_cond="big")
    with pytest.raises(ValueError, match="max_cond"):
        ss.c_from_tilde_dplr(lam, P, C, 0.1, 3, max_cond=0.0)
    with pytest.raises(ValueError, match="bilinear transform is singular"):
        ss.c_tilde_diag(np.array([20.0]), np.ones(1), 0.1, 3, "bilinear")


def test_singular_and_ill_conditioned_corrections():
    # a zero eigenvalue: I - Ad^L is exactly singular
    lam = np.array([0.0 + 0j, -1.0 + 2j])
    with pytest.raises(ValueError, match="singular"):
        ss.c_from_tilde_diag(lam, np.ones(2), 0.1, 8)
    P = np.zeros((1, 2))
    with pytest.raises(ValueError, match="ill-conditioned"):
        ss.c_from_tilde_dplr(lam, P, np.ones(2), 0.1, 8)
    # a threshold below the actual condition number is honoured; inf disables the check
    lam = np.array([-1e-6 + 0j, -1.0 + 2j])
    _, cond = ss.c_from_tilde_dplr(lam, P, np.ones(2), 0.1, 8, return_cond=True)
    assert 1e5 < float(cond) < 1e7
    with pytest.raises(ValueError, match="condition number"):
        ss.c_from_tilde_dplr(lam, P, np.ones(2), 0.1, 8, max_cond=1e3)
    C = ss.c_from_tilde_dplr(lam, P, np.ones(2), 0.1, 8, max_cond=math.inf)
    assert np.all(np.isfinite(C))
