"""Tests for statespace.decomp: NPLR / DPLR forms and the S4D initialisations.

Oracles: the defining identity against the float64 HiPPO system of
``statespace.hippo`` (reconstruction, unitarity, P and B projections), mpmath
eigenvalues of the normal part at 30 digits (checked at 50), the closed form of
the LegS spectrum from exact matrix entries, and the S4D closed formulas.
"""

from __future__ import annotations

import functools
import math

import array_api_compat.numpy as xp_np
import mpmath
import numpy as np
import pytest
from array_api_compat import device
from hypothesis import given
from hypothesis import strategies as st
from util import to_numpy, xp_assert_close, xp_assert_equal

from statespace import hippo
from statespace.decomp import DPLR, NPLR, S4D_INITS, _normal_eig, dplr, nplr

EPS = float(np.finfo(np.float64).eps)
FOURIER = ("fout", "fourier_decay", "foud")
MEASURES = hippo.NPLR_MEASURES
# Default-run sizes: powers of two plus odd sizes (the Fourier measures skip odd N).
N_DEFAULT = (1, 2, 3, 4, 5, 8, 16, 32, 33, 64, 256)
# Large sizes: each costs a complex N x N eigh (~1 s at 1024, ~10-20 s at 2048 on
# 2 shared cores), so only LegS at 2048 and LegT at 1024 run by default.
N_LARGE_DEFAULT = {("legs", 2048), ("legt", 1024)}


def _sizes(measures, sizes):
    return [(m, N) for m in measures for N in sizes if not (m in FOURIER and N % 2)]


def _large_cases():
    out = []
    for m, N in _sizes(MEASURES, (1024, 2048)):
        marks = () if (m, N) in N_LARGE_DEFAULT else (pytest.mark.slow,)
        out.append(pytest.param(m, N, marks=marks, id=f"{m}-{N}"))
    return out


def _system(measure, N):
    A, B = hippo.transition(measure, N)
    P0 = hippo.rank_correction(measure, N)
    return np.asarray(A), np.asarray(B), np.asarray(P0)


@functools.cache
def _nplr_np(measure, N):
    return NPLR(*(to_numpy(x) for x in nplr(measure, N)))


def _errors(measure, N, Lam, P, B, V):
    """Relative Frobenius errors of the NPLR identity and its projections."""
    A, B0, P0 = _system(measure, N)
    VH = V.conj().T
    PV = P @ VH  # = P0 if P == P0 V
    R = (V * Lam) @ VH - PV.conj().T @ PV
    rec = np.linalg.norm(R - A) / np.linalg.norm(A)
    unit = np.linalg.norm(VH @ V - np.eye(N)) / math.sqrt(N)
    p_scale = np.linalg.norm(P0)
    p_err = np.linalg.norm(P - P0 @ V) / p_scale if p_scale else np.linalg.norm(P)
    b_err = np.linalg.norm(B - VH @ B0) / np.linalg.norm(B0)
    return {"rec": rec, "unit": unit, "P": p_err, "B": b_err}


def _assert_identity(measure, N, Lam, P, B, V):
    # The bound: every error below 10 N eps(float64). eigh is backward
    # stable (error ~ eps ||S||), so the measured errors are far below it.
    bound = 10 * N * EPS
    errs = _errors(measure, N, Lam, P, B, V)
    for name, err in errs.items():
        assert err <= bound, f"{measure} N={N}: {name} error {err:.3e} > {bound:.3e}"
    return errs


def _check_full(measure, N):
    d = _nplr_np(measure, N)
    assert d.Lambda.shape == (N,) and d.B.shape == (N,) and d.V.shape == (N, N)
    assert d.P.shape == (_system(measure, N)[2].shape[0], N)
    assert d.V.dtype == np.complex128
    _assert_identity(measure, N, *d)


# ---------------------------------------------------------------------------
# the NPLR identity


@pytest.mark.parametrize(("measure", "N"), _sizes(MEASURES, N_DEFAULT))
def test_nplr_identity(measure, N):
    _check_full(measure, N)


@pytest.mark.parametrize(("measure", "N"), _large_cases())
def test_nplr_identity_large(measure, N):
    _check_full(measure, N)


@given(measure=st.sampled_from(MEASURES), half=st.integers(1, 24), odd=st.booleans())
def test_nplr_identity_property(measure, half, odd):
    N = 2 * half + (odd and measure not in FOURIER)
    d = nplr(measure, N)
    _assert_identity(measure, N, *(to_numpy(x) for x in d))


@pytest.mark.parametrize(("measure", "N"), _sizes(MEASURES, (2, 3, 8, 33)))
def test_nplr_conjugate_structure(measure, N):
    # V = [V_h, conj(V_h), V_r] with exact conjugates; B real and non-negative.
    d = _nplr_np(measure, N)
    n_real = int(np.sum(np.all(d.V.imag == 0, axis=0) & (d.Lambda.imag == 0)))
    h = (N - n_real) // 2 if measure == "diagonal" else N // 2
    np.testing.assert_array_equal(d.V[:, h : 2 * h], d.V[:, :h].conj())
    np.testing.assert_array_equal(d.Lambda[h : 2 * h], d.Lambda[:h].conj())
    np.testing.assert_array_equal(d.P[:, h : 2 * h], d.P[:, :h].conj())
    # phase convention: each B_n = v_n^H B0 is real >= 0 (Im(B) is rounding only)
    assert np.all(np.abs(d.B.imag) <= 10 * N * EPS * np.linalg.norm(d.B))
    assert np.all(d.B.real >= 0)
    # representatives: Im(Lambda) >= 0, increasing
    assert np.all(d.Lambda[:h].imag >= -10 * N * EPS * np.abs(d.Lambda).max())
    assert np.all(np.diff(d.Lambda[:h].imag) >= 0)


@pytest.mark.parametrize("N", [1, 3, 5, 33])
def test_nplr_odd_real_mode(N):
    # LegS at odd N: the skew part has a zero eigenvalue, so one real mode
    # (Lambda = -1/2, real eigenvector) comes last, after the N//2 pairs.
    d = _nplr_np("legs", N)
    h = N // 2
    assert d.V[:, -1].imag.tolist() == [0.0] * N
    assert abs(d.Lambda[-1] + 0.5) <= 10 * N * EPS
    np.testing.assert_array_equal(d.V[:, h : 2 * h], d.V[:, :h].conj())
    with pytest.raises(ValueError, match="N"):
        dplr("legs", N)


def test_normal_eig_general_clusters():
    # The HiPPO measures never have a repeated nonzero frequency nor a symmetric
    # part other than c*I; exercise those general paths on a synthetic real
    # normal matrix S = Q R Q^T: R block diagonal with the complex pairs
    # -1 +- 2i, -3 +- 2i (a repeated frequency with different real parts),
    # -1 +- 5i, and the real eigenvalues -2, -2 (paired), -4 and 0.5 (unpaired).
    def rot(a, w):
        return np.array([[a, -w], [w, a]])

    blocks = [rot(-1, 2), rot(-3, 2), rot(-1, 5), [[-2.0]], [[-2.0]], [[-4.0]], [[0.5]]]
    N = sum(len(b) for b in blocks)
    R = np.zeros((N, N))
    i = 0
    for b in blocks:
        b = np.asarray(b)
        R[i : i + len(b), i : i + len(b)] = b
        i += len(b)
    rng = np.random.default_rng(7)
    Q = np.linalg.qr(rng.standard_normal((N, N)))[0]
    S = Q @ R @ Q.T
    b = rng.standard_normal(N)
    e = _normal_eig(xp_np, S, b, float(np.linalg.norm(S)))
    assert e.Vh.shape == (N, 4) and e.Vr.shape == (N, 2)
    V = np.concatenate([e.Vh, e.Vh.conj(), e.Vr], axis=1)
    L = np.concatenate([e.Lh, e.Lh.conj(), e.Lr])
    # representatives: the real pair first, then increasing frequency (and
    # increasing real part inside the repeated frequency); unpaired reals last
    expected = np.array([-2, -3 + 2j, -1 + 2j, -1 + 5j, -2, -3 - 2j, -1 - 2j, -1 - 5j, -4, 0.5])
    bound = 10 * N * EPS * np.linalg.norm(S)
    assert np.abs(L - expected).max() <= bound
    assert np.linalg.norm(S @ V - V * L) <= bound
    assert np.linalg.norm(V.conj().T @ V - np.eye(N)) <= 10 * N * EPS * math.sqrt(N)
    assert np.all(np.abs(np.imag(V.conj().T @ b)) <= bound)


# ---------------------------------------------------------------------------
# Lambda against mpmath


@functools.cache
def _mp_normal_part(measure, N, dps):
    """Eigenvalues of -1j*K (K the skew part of S = A + P0^T P0, exact from the
    float64 A and P0) by mpmath eighe, and the symmetric part of S."""
    A, _, P0 = _system(measure, N)
    with mpmath.workdps(dps):
        S = mpmath.matrix(A.tolist()) + mpmath.matrix(P0.T.tolist()) * mpmath.matrix(P0.tolist())
        H = mpmath.matrix(N, N)
        sym = mpmath.matrix(N, N)
        for i in range(N):
            for j in range(N):
                H[i, j] = mpmath.mpc(0, -(S[i, j] - S[j, i]) / 2)
                sym[i, j] = (S[i, j] + S[j, i]) / 2
        mu = mpmath.eighe(H, eigvals_only=True)
        return [mu[i] for i in range(N)], sym


def _mp_lambda(measure, N):
    """Reference spectrum of the normal part and an allowance for Sym != c I."""
    mu30, _ = _mp_normal_part(measure, N, 30)
    mu50, sym = _mp_normal_part(measure, N, 50)
    with mpmath.workdps(50):
        scale = max(1, max(abs(m) for m in mu50))
        drift = max(abs(a - b) for a, b in zip(mu30, mu50, strict=True))
        # the 30-digit reference agrees with the 50-digit one: it converged
        assert drift <= mpmath.mpf(10) ** -25 * scale, f"mpmath eighe drift {drift}"
        if all(m == 0 for m in mu50):  # K = 0 ('diagonal'): the spectrum of Sym
            lam = [complex(x) for x in mpmath.eigsy(sym, eigvals_only=True)]
            return np.array(lam), 0.0
        # Sym is c I in exact arithmetic for every measure; in the float64 data it
        # is so up to rounding, which moves eigenvalues by at most ||Sym - c I||_2.
        c = sum(sym[i, i] for i in range(N)) / N
        off = max(abs(sym[i, j] - (c if i == j else 0)) for i in range(N) for j in range(N))
        assert off <= 16 * N * EPS * scale
        lam = [complex(mpmath.mpc(c, m)) for m in mu50]
        return np.array(lam), float(N * off)


def _sorted(lam):
    return lam[np.lexsort((lam.real, lam.imag))]


def _mp_cases():
    out = []
    for m, N in _sizes(MEASURES, (2, 8, 16, 32, 64)):
        # mpmath eighe costs ~1.5 s per precision at N = 64
        slow = N == 64 and m != "legt"
        out.append(pytest.param(m, N, marks=(pytest.mark.slow,) if slow else (), id=f"{m}-{N}"))
    return out


@pytest.mark.parametrize(("measure", "N"), _mp_cases())
def test_lambda_vs_mpmath(measure, N):
    ref, allowance = _mp_lambda(measure, N)
    got = _nplr_np(measure, N).Lambda
    ref = _sorted(ref)
    err = np.abs(_sorted(got) - ref)
    # 1e-12 relative, eigenvalue by eigenvalue, plus the proven allowance for the
    # rounding of Sym in the input. The floor 1 is the size of the smallest HiPPO
    # entries: float64 rounding of S = A + P0^T P0 is absolute (fourier_decay at
    # N=2 has S = 0 up to the rounding of its O(1) terms; the Fourier measures
    # have a zero eigenvalue pair). Measured: <= 2e-15 elementwise.
    tol = 1e-12 * np.maximum(np.abs(ref), 1.0) + allowance
    assert np.all(err <= tol), f"max |dLambda| / tol = {(err / tol).max():.3e}"


@functools.cache
def _legs_skew_mu(N, dps):
    """Eigenvalues of the exact LegS skew part, entries -+sqrt((2n+1)(2k+1))/2."""
    with mpmath.workdps(dps):
        H = mpmath.matrix(N, N)
        for n in range(N):
            for k in range(N):
                if n != k:
                    v = mpmath.sqrt((2 * n + 1) * (2 * k + 1)) / 2
                    H[n, k] = mpmath.mpc(0, v if n > k else -v)  # -1j * K
        mu = mpmath.eighe(H, eigvals_only=True)
        return [mu[i] for i in range(N)]


@pytest.mark.parametrize("N", [2, 5, 8, 16, 64])
def test_legs_closed_form(N):
    mu30, mu50 = _legs_skew_mu(N, 30), _legs_skew_mu(N, 50)
    with mpmath.workdps(50):
        drift = max(abs(a - b) for a, b in zip(mu30, mu50, strict=True))
        assert drift <= mpmath.mpf(10) ** -25 * N**2  # the reference converged
    ref = np.array([complex(-0.5, float(m)) for m in mu50])
    got = _nplr_np("legs", N).Lambda
    ref = _sorted(ref)
    err = np.abs(_sorted(got) - ref)
    # float64 input rounding (eps * ||S||) plus eigh: measured <= 2e-15 relative,
    # eigenvalue by eigenvalue (|Lambda| >= 1/2 for LegS, so no floor is needed)
    assert np.all(err <= 1e-12 * np.abs(ref))
    # real parts are exactly the closed form -1/2 up to eps * ||S||
    assert np.abs(got.real + 0.5).max() <= 10 * N * EPS * np.abs(ref).max()


# ---------------------------------------------------------------------------
# halved form


def _full_from_halved(h):
    L, P, B, V = (to_numpy(x) for x in h)
    return (
        np.concatenate([L, L.conj()]),
        np.concatenate([P, P.conj()], axis=1),
        np.concatenate([B, B.conj()]),
        np.concatenate([V, V.conj()], axis=1),
    )


HALVED = [m for m in MEASURES if m != "diagonal"]


def _halved_cases():
    out = [pytest.param(m, N, id=f"{m}-{N}") for m in HALVED for N in (2, 4, 8, 16, 64, 256)]
    out += [
        pytest.param(m, N, marks=pytest.mark.slow, id=f"{m}-{N}")
        for m in HALVED
        for N in (1024, 2048)
    ]
    return out


@pytest.mark.parametrize(("measure", "N"), _halved_cases())
def test_dplr_reconstructs_full(measure, N):
    h = dplr(measure, N)
    assert isinstance(h, DPLR)
    assert h.Lambda.shape == (N // 2,) and h.B.shape == (N // 2,)
    assert h.V.shape == (N, N // 2) and h.P.shape[1] == N // 2
    _assert_identity(measure, N, *_full_from_halved(h))
    if N <= 256:  # same computation as nplr's representatives, bit for bit
        d = _nplr_np(measure, N)
        xp_assert_equal(h.Lambda, d.Lambda[: N // 2])
        xp_assert_equal(h.V, d.V[:, : N // 2])


@pytest.mark.parametrize("measure", FOURIER)
@pytest.mark.parametrize("N", [2, 8, 64])
def test_dplr_fourier_zero_pair(measure, N):
    # The frequency-0 cosine/sine coordinates (0, 1) span the real kernel of the
    # skew part; they are paired as (e0 + i e1)/sqrt2 with a real eigenvalue.
    h = dplr(measure, N)
    L, _, B, V = (to_numpy(x) for x in h)
    c = -0.5 if measure == "foud" else 0.0
    assert abs(L[0] - c) <= 10 * N * EPS
    e = np.zeros(N, complex)
    e[0], e[1] = 1 / math.sqrt(2), 1j / math.sqrt(2)
    assert np.abs(V[:, 0] - e).max() <= 10 * N * EPS
    # v^T v = 0: v and conj(v) are orthogonal, so the pair is a genuine 2-d subspace
    assert abs(V[:, 0] @ V[:, 0]) <= 10 * N * EPS
    B0 = _system(measure, N)[1]
    assert abs(B[0] - B0[0] / math.sqrt(2)) <= 10 * N * EPS
    # the other modes are the frequencies 2 pi m
    np.testing.assert_allclose(L[1:].imag, 2 * np.pi * np.arange(1, N // 2), rtol=10 * N * EPS)
    _assert_identity(measure, N, *_full_from_halved(h))


def test_dplr_diagonal_has_no_halved_form():
    # 'diagonal' has distinct real eigenvalues: no conjugate pairs exist.
    with pytest.raises(ValueError, match="measure 'diagonal'"):
        dplr("diagonal", 8)


# ---------------------------------------------------------------------------
# S4D initialisations


@pytest.mark.parametrize("N", [2, 8, 64])
def test_s4d_closed_forms(N):
    n = np.arange(N // 2)
    expected = {
        "diag-lin": -0.5 + 1j * np.pi * n,
        "diag-inv": -0.5 + 1j * (N / np.pi) * (N / (2 * n + 1) - 1),
        "diag-real": -(n + 1.0) + 0j,
    }
    for init, lam in expected.items():
        s = dplr(init, N)
        assert s.V is None
        assert s.P.shape == (0, N // 2) and s.P.dtype == np.complex128
        xp_assert_close(s.Lambda, lam, rtol=4 * EPS, atol=0)
        xp_assert_equal(s.B, np.ones(N // 2, complex))


@pytest.mark.parametrize("N", [2, 8, 64])
def test_s4d_legs_is_halved_legs(N):
    s = dplr("diag-legs", N)
    h = dplr("legs", N)
    assert s.V is None and s.P.shape == (0, N // 2)
    xp_assert_equal(s.Lambda, h.Lambda)
    xp_assert_equal(s.B, h.B)


def test_s4d_inits_listed():
    assert S4D_INITS == ("diag-lin", "diag-inv", "diag-legs", "diag-real", "diag-inv2",
                         "diag-quad", "diag-rand")


# ---------------------------------------------------------------------------
# backends, dtypes, determinism


BACKEND_CASES = [("legs", 16), ("legs", 5), ("legt", 16), ("lagt", 9), ("fout", 8), ("diagonal", 6)]


def _xp_name(x):
    import array_api_compat

    return array_api_compat.array_namespace(x).__name__


@pytest.mark.parametrize(("measure", "N"), BACKEND_CASES)
def test_backends_match_numpy(xp, measure, N):
    d = nplr(measure, N, xp=xp)
    ref = _nplr_np(measure, N)
    # eigenvectors from different LAPACKs agree to ~eps ||S|| / gap; with the
    # canonical phases the whole output agrees to a small multiple of N eps.
    tol = 100 * N * EPS
    for got, want in zip(d, ref, strict=True):
        assert _xp_name(got) == _xp_name(xp.asarray(0))
        assert got.dtype == xp.complex128
        g = to_numpy(got)
        assert np.linalg.norm(g - want) <= tol * max(np.linalg.norm(want), 1.0)
    if measure != "diagonal" and N % 2 == 0:
        h = dplr(measure, N, xp=xp, dtype=xp.float32)
        assert h.Lambda.dtype == xp.complex64 and h.V.dtype == xp.complex64
        # computed in double and rounded once: within float32 rounding of the reference
        eps32 = float(np.finfo(np.float32).eps)
        for got, want in zip((h.Lambda, h.B, h.V), (ref.Lambda, ref.B, ref.V), strict=True):
            want = want[..., : N // 2]
            err = np.abs(to_numpy(got) - want).max()
            assert err <= eps32 * np.abs(want).max()


@pytest.mark.parametrize("init", S4D_INITS)
def test_s4d_backends(xp, init):
    s = dplr(init, 8, xp=xp)
    ref = dplr(init, 8)
    assert _xp_name(s.Lambda) == _xp_name(xp.asarray(0))
    assert s.P.shape == (0, 4) and s.P.dtype == xp.complex128
    dev = device(s.Lambda)
    xp_assert_close(s.Lambda, xp.asarray(ref.Lambda, device=dev), rtol=100 * 8 * EPS)
    xp_assert_close(s.B, xp.asarray(ref.B, device=dev), rtol=100 * 8 * EPS)
    s32 = dplr(init, 8, xp=xp, dtype=xp.float32)
    assert s32.Lambda.dtype == xp.complex64 and s32.B.dtype == xp.complex64


@pytest.mark.parametrize("measure", ["legs", "fout", "lagt"])
def test_deterministic_and_single_rounding(measure):
    a, b = nplr(measure, 12), nplr(measure, 12)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    # float32 is the float64 result rounded once to complex64
    c = nplr(measure, 12, dtype=np.float32)
    for x, y in zip(c, a, strict=True):
        assert x.dtype == np.complex64
        np.testing.assert_array_equal(x, y.astype(np.complex64))


# ---------------------------------------------------------------------------
# bad inputs


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("nope", 4), {}, "measure"),
        (("legs", 0), {}, "N"),
        (("legs", -3), {}, "N"),
        (("fout", 3), {}, "N"),
        (("foud", 5), {}, "N"),
        (("lmu", 4), {}, "measure"),
        (("random", 4), {}, "measure"),
        (("glagt", 4), {"alpha": 0.5}, "alpha"),
    ],
)
def test_nplr_value_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nplr(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("legs", 3), {}, "N"),
        (("legs", 0), {}, "N"),
        (("diag-lin", 7), {}, "N"),
        (("fout", 1), {}, "N"),
        (("nope", 4), {}, "measure_or_init"),
        (("diag-foo", 4), {}, "measure_or_init"),
        (("lmu", 4), {}, "measure"),
        (("glagt", 4), {"alpha": -0.5}, "alpha"),
        (("diagonal", 4), {}, "measure"),
    ],
)
def test_dplr_value_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        dplr(*args, **kwargs)


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "match"),
    [
        (nplr, (3, 4), {}, "measure"),
        (nplr, ("legs", 4.0), {}, "N"),
        (nplr, ("legs", True), {}, "N"),
        (nplr, ("legs", 4), {"dtype": "int32"}, "dtype"),
        (nplr, ("legs", 4), {"xp": "numpy"}, "xp"),
        (nplr, ("legs", 4), {"beta": 1.0}, "measure"),
        (dplr, (None, 4), {}, "measure_or_init"),
        (dplr, ("legs", "4"), {}, "N"),
        (dplr, ("legs", 4), {"dtype": np.complex64}, "dtype"),
        (dplr, ("legs", 4), {"xp": 1}, "xp"),
        (dplr, ("diag-lin", 4), {"beta": 1}, "takes no parameter"),
    ],
)
def test_type_errors(fn, args, kwargs, match):
    with pytest.raises(TypeError, match=match):
        fn(*args, **kwargs)
