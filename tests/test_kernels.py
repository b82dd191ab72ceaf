"""Kernels: the S4 (DPLR) and S4D (diagonal) paths against the dense reference and mpmath.

Oracles
-------
* ``kernel_dense`` (Krylov doubling of the dense discretized system in the original,
  real basis) shares no code with the Cauchy/Woodbury or Vandermonde paths.
* ``statespace.verification.reference.kernel`` (explicit powers in mpmath at 50 digits).

Tolerances
----------
The dense reference itself accumulates rounding over the ``L`` steps of the Krylov
sequence: each doubling level multiplies by a computed power of ``Ad`` whose relative
error grows with the exponent, so its error is ~ ``L * eps`` relative to the kernel's
max-norm (measured: 4e-14 at L = 1000, 1e-13 at L = 4096). Hence the bounds:
``1e-12 >= 4 * 1024 * eps`` covers L <= 4096 and ``1e-11 >= 3 * 16384 * eps`` covers
L = 16384. ``kernel_dplr``'s own error (a few Cauchy sums of N terms, the Woodbury
combination and an FFT of length L) is ~ ``(N + log L) * eps``, well below both.
"""

from __future__ import annotations

import functools
import math
import tracemalloc
import warnings

import numpy as np
import pytest
from util import relative_error, xp_assert_close

import statespace as ss

EPS64 = float(np.finfo(np.float64).eps)
RTOL_L4096 = 1e-12  # >= 4 * 1024 * eps64: the dense reference's ~L eps accumulation
RTOL_L16384 = 1e-11  # >= 3 * 16384 * eps64


@functools.cache
def _system(measure, N):
    """(A, B, C) of one system, dense, and its DPLR form (Lambda, P, B, C).

    For HiPPO measures the dense matrix is the eigenbasis form
    ``A = diag(Lambda) - P^H P`` of the NPLR decomposition, so both paths see
    exactly the same numbers (the comparison with the original real basis, which
    adds the basis change's own rounding, is a separate test).
    """
    rng = np.random.default_rng(N)
    if measure == "random":
        lam = -np.exp(rng.standard_normal(N) * 0.5) + 1j * rng.standard_normal(N) * N / 4
        P = (rng.standard_normal((1, N)) + 1j * rng.standard_normal((1, N))) / math.sqrt(N)
        B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    else:
        d = ss.nplr(measure, N)
        lam, P, B = d.Lambda, d.P, d.B
        C = rng.standard_normal(N) @ d.V
    A = np.diag(lam) - P.conj().T @ P
    return A, B, C, (lam, P, B, C)


GRID_MEASURES = ["legs", "legt", "lagt", "fout", "random"]


@pytest.mark.parametrize("measure", GRID_MEASURES)
@pytest.mark.parametrize("N", [2, 8, 64, 256])
def test_dplr_equals_dense(measure, N):
    A, B, C, (lam, P, Be, Ce) = _system(measure, N)
    worst = 0.0
    for L in (1, 2, 3, 1000, 4096):
        for dt in (1e-4, 3e-2, 1.0):
            ref = ss.kernel_dense(A, B, C, dt, L)
            K = ss.kernel_dplr(lam, P, Be, Ce, dt, L)
            assert K.shape == (L,)
            err = relative_error(K, ref)
            worst = max(worst, err)
            assert err <= RTOL_L4096, (measure, N, L, dt, err)
    assert worst <= RTOL_L4096


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout"])
def test_dplr_equals_dense_in_original_basis(measure):
    # Against the real HiPPO system itself. The NPLR basis change (V unitary to a
    # few eps, B = V^H B0, C V) perturbs the inputs by ~N eps relative, and the
    # transient of the non-normal A amplifies that (measured: 3.5e-12 for LegS at
    # N = 256, dt = 1), so the bound here is 64 N eps on top of the L eps term.
    N = 256
    A, B = ss.hippo.transition(measure, N)
    d = ss.nplr(measure, N)
    C = np.random.default_rng(N).standard_normal(N)
    for L in (1, 3, 4096):
        for dt in (1e-4, 3e-2, 1.0):
            K = ss.kernel_dplr(d.Lambda, d.P, d.B, C @ d.V, dt, L)
            err = relative_error(K, ss.kernel_dense(A, B, C, dt, L))
            assert err <= RTOL_L4096 + 64 * N * EPS64, (L, dt, err)


def test_dplr_equals_dense_long():
    # L = 16384: the dense reference accumulates ~L eps (see module docstring)
    A, B, C, (lam, P, Be, Ce) = _system("legs", 64)
    L = 16384
    for dt in (1e-3, 0.1):
        err = relative_error(ss.kernel_dplr(lam, P, Be, Ce, dt, L), ss.kernel_dense(A, B, C, dt, L))
        assert err <= RTOL_L16384, (dt, err)


@pytest.mark.slow
@pytest.mark.parametrize("measure", GRID_MEASURES)
def test_dplr_equals_dense_long_all(measure):
    A, B, C, (lam, P, Be, Ce) = _system(measure, 256)
    L = 16384
    for dt in (1e-4, 1e-2, 1.0):
        err = relative_error(ss.kernel_dplr(lam, P, Be, Ce, dt, L), ss.kernel_dense(A, B, C, dt, L))
        assert err <= RTOL_L16384, (measure, dt, err)


@pytest.mark.parametrize("measure", ["legs", "legt", "lagt", "fout", "fourier_decay"])
@pytest.mark.parametrize("L", [1, 2, 7, 1000])
def test_dplr_halved_equals_dense(measure, L):
    N = 16
    h = ss.dplr(measure, N)
    c = np.random.default_rng(3).standard_normal(N) @ h.V  # (N//2,)
    lam = np.concatenate([h.Lambda, h.Lambda.conj()])
    P = np.concatenate([h.P, h.P.conj()], axis=-1)
    A = np.diag(lam) - P.conj().T @ P
    B = np.concatenate([h.B, h.B.conj()])
    C = np.concatenate([c, c.conj()])
    for dt in (1e-4, 0.1, 1.0):
        K = ss.kernel_dplr(h.Lambda, h.P, h.B, c, dt, L, halved=True)
        assert K.dtype == np.float64 and K.shape == (L,)
        ref = ss.kernel_dense(A, B, C, dt, L)
        assert relative_error(K, ref) <= RTOL_L4096
        assert np.max(np.abs(ref.imag)) <= 64 * N * EPS64 * np.max(np.abs(ref))


def test_dplr_tilde_matches_exact():
    # C~ = C (I - Ad^L) given directly (training convention) on the roots of unity
    A, B, C, (lam, P, Be, Ce) = _system("legs", 32)
    ident = np.eye(32)
    for L, dt in ((1, 0.1), (2, 0.5), (1001, 0.01), (4096, 1e-3)):
        Ad = np.linalg.solve(ident - dt / 2 * A, ident + dt / 2 * A)
        Ct = C @ (ident - np.linalg.matrix_power(Ad, L))
        K = ss.kernel_dplr(lam, P, Be, Ct, dt, L, tilde=True)
        assert relative_error(K, ss.kernel_dense(A, B, C, dt, L)) <= RTOL_L4096


@pytest.mark.parametrize("tilde", [True, False])
@pytest.mark.parametrize("dt", [1e-9, 1e-5, 1e7, 1e300])
def test_dplr_extreme_steps_against_mpmath(dt, tilde):
    # Small steps put every discrete pole at 1 + O(dt), large ones at -1 + O(1/dt):
    # next to the nodes z = 1 and z = -1. The differences z - lam_d must not be formed
    # from a rounded lam_d (that cost eps / (dt |lambda|) relative, 2e-9 at dt = 1e-9,
    # and 1e-9 at dt |lambda| = 4e7), and for dt = 1e300 the Woodbury products of
    # O(1/dt) sums underflowed (an O(1) error). Reference: the bilinear system in
    # mpmath at 60 digits (C = C~ (I - Ad^L)^{-1} for tilde), explicit powers.
    import mpmath as mp

    rng = np.random.default_rng(11)
    # L odd: for dt = 1e300 and even L, Ad^L = I + O(1/dt) makes the tilde problem
    # singular (C = C~ (I - Ad^L)^{-1} ~ 1e65 here)
    N, r, L = 3, 2, 7
    lam = -0.1 * rng.random(N) + 1j * rng.uniform(-2.5, 2.5, N)
    P = (rng.standard_normal((r, N)) + 1j * rng.standard_normal((r, N))) / 2
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = (rng.standard_normal(N) + 1j * rng.standard_normal(N)) * (min(dt, 1) if tilde else 1)
    K = ss.kernel_dplr(lam, P, B, C, dt, L, halved=True, tilde=tilde)
    full = [np.concatenate([a, a.conj()], axis=-1) for a in (lam, P, B, C)]
    with mp.workdps(60):
        n = 2 * N
        A = mp.matrix(n, n)
        for i in range(n):
            for j in range(n):
                A[i, j] = (mp.mpc(full[0][i]) if i == j else 0) - mp.fsum(
                    mp.conj(mp.mpc(full[1][k, i])) * mp.mpc(full[1][k, j]) for k in range(r))
        ident, h = mp.eye(n), mp.mpf(dt) / 2
        Ad = mp.inverse(ident - h * A) * (ident + h * A)
        x = mp.inverse(ident - h * A) * (2 * h * mp.matrix([mp.mpc(b) for b in full[2]]))
        c = mp.matrix([[mp.mpc(v) for v in full[3]]])
        if tilde:
            c = c * mp.inverse(ident - Ad**L)
        ref = []
        for _ in range(L):
            ref.append(complex((c * x)[0]))
            x = Ad * x
    ref = np.array(ref)
    # the kernel is well conditioned here (cond(I - Ad^L) ~ 10): a few ulps per
    # Cauchy sum and Woodbury step, 64 N L eps relative to max |K|
    assert relative_error(K, ref) <= 64 * N * L * EPS64, relative_error(K, ref)


@pytest.mark.parametrize("r", [0, 1, 2, 3])
def test_dplr_ranks_and_batches(r):
    # rank 0 (pure Cauchy), 1, 2 (closed forms) and 3 (small solve); batch axes with
    # per-channel dt broadcast; each channel equals its own dense kernel.
    rng = np.random.default_rng(r)
    H, N, L = 3, 6, 33
    lam = -np.exp(rng.standard_normal((H, N))) + 1j * rng.standard_normal((H, N))
    P = (rng.standard_normal((H, r, N)) + 1j * rng.standard_normal((H, r, N))) / 3
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal((2, 1, N)) + 1j * rng.standard_normal((2, 1, N))
    dt = np.array([1e-3, 0.1, 1.0])
    K = ss.kernel_dplr(lam, P, B, C, dt, L)
    assert K.shape == (2, H, L)
    for o in range(2):
        for h in range(H):
            A = np.diag(lam[h]) - P[h].conj().T @ P[h]
            ref = ss.kernel_dense(A, B, C[o, 0], dt[h], L)
            assert relative_error(K[o, h], ref) <= 64 * L * EPS64


def test_dplr_omega_minus_one_is_benign():
    # even L on the roots of unity and odd L on the shifted nodes both contain
    # omega = -1; the discrete-pole form has O(1) denominators there.
    A, B, C, (lam, P, Be, Ce) = _system("legs", 8)
    for L in (2, 4, 3, 5):
        for dt in (1e-4, 1.0):
            K = ss.kernel_dplr(lam, P, Be, Ce, dt, L)
            assert relative_error(K, ss.kernel_dense(A, B, C, dt, L)) <= RTOL_L4096


# ---------------------------------------------------------------------------- S4D
def _diag_dense_equiv(lam, B, C, dt, L, method, halved):
    lam_f, B_f, C_f = lam, B, C
    if halved:
        lam_f = np.concatenate([lam, lam.conj()])
        B_f = np.concatenate([B, B.conj()])
        C_f = np.concatenate([C, C.conj()])
    if method == "dss":
        C_f = C_f / np.expm1(L * dt * lam_f)
        method = "zoh"
    K = ss.kernel_dense(np.diag(lam_f), B_f, C_f, dt, L, method=method)
    return K.real if halved else K


@pytest.mark.parametrize("method", ["zoh", "bilinear", "dss"])
@pytest.mark.parametrize("halved", [False, True])
@pytest.mark.parametrize("N", [2, 8, 64])
def test_diag_equals_dense(method, halved, N):
    rng = np.random.default_rng(N)
    lam = -np.exp(rng.standard_normal(N)) + 1j * rng.standard_normal(N) * N
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    for L in (1, 2, 3, 1000, 4096):
        for dt in (1e-4, 0.03, 1.0):
            K = ss.kernel_diag(lam, B, C, dt, L, method=method, halved=halved)
            ref = _diag_dense_equiv(lam, B, C, dt, L, method, halved)
            assert relative_error(K, ref) <= RTOL_L4096, (L, dt)


@pytest.mark.parametrize("init", ["diag-lin", "diag-inv", "diag-legs", "diag-real"])
def test_s4d_inits_end_to_end(init):
    N, L, dt = 32, 512, 0.01
    h = ss.dplr(init, N)
    C = np.random.default_rng(0).standard_normal(N // 2) * (1 + 0.5j)
    for method in ("zoh", "bilinear"):
        K = ss.kernel_diag(h.Lambda, h.B, C, dt, L, method=method, halved=True)
        ref = _diag_dense_equiv(
            np.asarray(h.Lambda), np.asarray(h.B), C, dt, L, method, True
        )
        assert K.dtype == np.float64
        assert relative_error(K, ref) <= RTOL_L4096
    # bilinear diagonal == DPLR with rank 0
    Kd = ss.kernel_dplr(h.Lambda, h.P, h.B, C, dt, L, halved=True)
    assert relative_error(Kd, ss.kernel_diag(h.Lambda, h.B, C, dt, L, "bilinear", halved=True)) \
        <= 64 * L * EPS64


# ---------------------------------------------------------------------------- mpmath
def test_legs_kernel_matches_mpmath():
    # legs N = 16, L = 256, dt = 0.05 against explicit powers at 50 digits
    from statespace.verification import reference

    N, L, dt = 16, 256, 0.05
    A, B = ss.hippo.transition("legs", N)
    C = np.random.default_rng(7).standard_normal(N)
    A_mp, B_mp = reference.transition("legs", N, dps=50)  # exact entries, not rounded
    ref = np.array([float(k) for k in reference.kernel(A_mp, B_mp, C, dt, L, dps=50)])
    d = ss.nplr("legs", N)
    K_dplr = ss.kernel_dplr(d.Lambda, d.P, d.B, C @ d.V, dt, L)
    K_half = ss.kernel_dplr(*_halved(d), C @ d.V[:, : N // 2], dt, L, halved=True)
    K_dense = ss.kernel_dense(A, B, C, dt, L)
    for K in (K_dplr, K_half, K_dense):
        assert relative_error(K, ref) <= 1e-13


def _halved(d):
    h = d.Lambda.shape[-1] // 2
    return d.Lambda[:h], d.P[:, :h], d.B[:h]


# ---------------------------------------------------------------------------- backends
def test_kernels_on_every_backend(xp):
    rng = np.random.default_rng(5)
    N, L = 6, 40
    lam = -np.exp(rng.standard_normal((2, N))) + 1j * rng.standard_normal((2, N))
    P = (rng.standard_normal((2, 1, N)) + 1j * rng.standard_normal((2, 1, N))) / 2
    B = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    C = rng.standard_normal(N) + 1j * rng.standard_normal(N)
    dt = np.array([0.1, 0.5])
    ref_dplr = ss.kernel_dplr(lam, P, B, C, dt, L, halved=True)
    ref_diag = ss.kernel_diag(lam, B, C, dt, L, "zoh")
    conv = xp.asarray
    K1 = ss.kernel_dplr(conv(lam), conv(P), conv(B), conv(C), conv(dt), L, halved=True)
    K2 = ss.kernel_diag(conv(lam), conv(B), conv(C), conv(dt), L, "zoh")
    for K, ref in ((K1, ref_dplr), (K2, ref_diag)):
        assert type(K) is type(conv(lam))
        assert relative_error(K, ref) <= 16 * N * L * EPS64
    assert K1.dtype == xp.float64 and K2.dtype == xp.complex128
    A = np.diag(lam[0]) - P[0].conj().T @ P[0]
    K3 = ss.kernel_dense(conv(A), conv(B), conv(C), 0.1, L)
    assert relative_error(K3, ss.kernel_dense(A, B, C, 0.1, L)) <= 16 * N * L * EPS64


def test_float32_stays_float32():
    h = ss.dplr("legs", 16, dtype=np.float32)
    C = np.ones(8, dtype=np.complex64)
    K = ss.kernel_dplr(h.Lambda, h.P, h.B, C, np.float32(0.1), 64, halved=True)
    assert K.dtype == np.float32
    K = ss.kernel_diag(h.Lambda, h.B, C, np.float32(0.1), 64, halved=True)
    assert K.dtype == np.float32


def test_inputs_not_mutated():
    A, B, C, (lam, P, Be, Ce) = _system("legs", 8)
    copies = [np.copy(a) for a in (lam, P, Be, Ce)]
    ss.kernel_dplr(lam, P, Be, Ce, 0.1, 10)
    ss.kernel_diag(lam, Be, Ce, 0.1, 10)
    for a, c in zip((lam, P, Be, Ce), copies, strict=True):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------------------- memory
@pytest.mark.slow
def test_dplr_peak_memory():
    H, N, L = 256, 64, 16384
    h = ss.dplr("legs", N, dtype=np.float32)
    rng = np.random.default_rng(0)
    C = (rng.standard_normal((H, N // 2)) + 1j * rng.standard_normal((H, N // 2))).astype(
        np.complex64
    )
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), H)).astype(np.float32)
    args = (h.Lambda, h.P, h.B, C, dt)
    inputs = sum(a.nbytes for a in args)
    for tilde in (True, False):
        tracemalloc.start()
        K = ss.kernel_dplr(*args, L, halved=True, tilde=tilde)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert K.dtype == np.float32
        assert peak <= 4 * (K.nbytes + inputs), (tilde, peak / (K.nbytes + inputs))


# ---------------------------------------------------------------------------- errors
def test_bad_inputs():
    A, B, C, (lam, P, Be, Ce) = _system("legs", 8)
    with pytest.raises(ValueError, match="L"):
        ss.kernel_dplr(lam, P, Be, Ce, 0.1, 0)
    with pytest.raises(TypeError, match="L"):
        ss.kernel_dplr(lam, P, Be, Ce, 0.1, 2.5)
    with pytest.raises(ValueError, match="state sizes"):
        ss.kernel_dplr(lam, P, Be[:4], Ce, 0.1, 8)
    with pytest.raises(ValueError, match="broadcast"):
        ss.kernel_dplr(np.stack([lam] * 3), P, Be, np.stack([Ce] * 2), 0.1, 8)
    with pytest.raises(ValueError, match="dt"):
        ss.kernel_dplr(lam, P, Be, Ce, 0.0, 8)
    with pytest.raises(ValueError, match="dt"):
        ss.kernel_diag(lam, Be, Ce, np.array([0.1, -1.0]), 8)
    with pytest.raises(ValueError, match="dt"):
        ss.kernel_dense(A, B, C, float("nan"), 8)
    bad = lam.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="Lambda"):
        ss.kernel_dplr(bad, P, Be, Ce, 0.1, 8)
    with pytest.raises(ValueError, match="Lambda"):
        ss.kernel_diag(bad, Be, Ce, 0.1, 8)
    with pytest.raises(ValueError, match="method"):
        ss.kernel_diag(lam, Be, Ce, 0.1, 8, method="euler")
    with pytest.raises(ValueError, match="method"):
        ss.kernel_dense(A, B, C, 0.1, 8, method="rk4")
    with pytest.raises(TypeError, match="halved"):
        ss.kernel_dplr(lam, P, Be, Ce, 0.1, 8, halved=1)


def test_unstable_system_warns_in_dplr_not_dense():
    A = np.array([[0.5, 0.0], [0.0, -1.0]])
    B = np.ones(2)
    C = np.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        K = ss.kernel_dense(A, B, C, 0.1, 20)  # allowed, no warning
    assert np.all(np.isfinite(K))
    with pytest.warns(RuntimeWarning, match="unstable"):
        ss.kernel_dplr(np.array([0.5, -1.0]), np.zeros((1, 2)), B, C, 0.1, 20)


def test_returns_real_for_real_inputs():
    lam = np.array([-1.0, -2.0])
    K = ss.kernel_dplr(lam, np.zeros((1, 2)), np.ones(2), np.ones(2), 0.1, 5)
    assert K.dtype == np.float64
    expected = [sum(0.1 / (1 + 0.05 * a) * ((1 - 0.05 * a) / (1 + 0.05 * a)) ** l
                    for a in (1.0, 2.0)) for l in range(5)]
    xp_assert_close(K, np.asarray(expected), rtol=8 * EPS64)
