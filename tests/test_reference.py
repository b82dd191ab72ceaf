"""statespace.verification.reference against closed forms and independent oracles."""

from __future__ import annotations

import threading
import time

import mpmath
import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from statespace.verification import reference as ref
from statespace.verification.report import compare

DPS = 30


def mp_equal(x, y):
    return mpmath.mpmathify(x) == mpmath.mpmathify(y)


def close(x, y, digits):
    """|x - y| <= 10**-digits * max(1, |y|), evaluated in mpmath."""
    with mpmath.workdps(digits + 20):
        x, y = mpmath.mpmathify(x), mpmath.mpmathify(y)
        return abs(x - y) <= mpmath.mpf(10) ** (-digits) * max(1, abs(y))


# --------------------------------------------------------------------------- HiPPO entries


def test_legs_is_triangular_with_diagonal_minus_n_plus_1():
    # A triangular => eigenvalues are exactly the diagonal, -(n+1).
    N = 12
    A, B = ref.transition("legs", N, dps=DPS)
    for n in range(N):
        assert mp_equal(A[n, n], -(n + 1))
        for k in range(n + 1, N):
            assert A[n, k] == 0
    assert (A.rows, A.cols, B.rows, B.cols) == (N, N, N, 1)


def test_legs_n3_hand_computed():
    A, B = ref.transition("legs", 3, dps=DPS)
    with mpmath.workdps(DPS + 10):  # negation rounds too: build everything here
        s3, s5, s15 = (mpmath.sqrt(v) for v in (3, 5, 15))
        want = [[-1, 0, 0], [-s3, -2, 0], [-s5, -s15, -3]]
    for n in range(3):
        for k in range(3):
            assert close(A[n, k], want[n][k], DPS - 1)
    for n, b in enumerate([1, s3, s5]):
        assert close(B[n], b, DPS - 1)


@mpmath.workdps(DPS + 10)
def test_small_hand_computed_other_measures():
    s3 = mpmath.sqrt(3)
    # LegT N=2: -sqrt(1*3)/2 below, (+) above since n - k = -1 is odd.
    A, B = ref.transition("legt", 2, dps=DPS)
    for (n, k), v in {(0, 0): -0.5, (0, 1): s3 / 2, (1, 0): -s3 / 2, (1, 1): -1.5}.items():
        assert close(A[n, k], v, DPS - 1)
    assert close(B[1], s3 / 2, DPS - 1)
    # LMU N=2 (Voelker): A = [[-1, -1], [3, -3]], B = [1, -3]; integers are exact.
    A, B = ref.transition("lmu", 2, dps=DPS)
    assert [[A[i, j] for j in range(2)] for i in range(2)] == [[-1, -1], [3, -3]]
    assert [B[0], B[1]] == [1, -3]
    # LagT: -1/2 on the diagonal, -1 below, B = beta.
    A, B = ref.transition("lagt", 3, dps=DPS, beta=2.5)
    assert [A[0, 0], A[1, 0], A[2, 1], A[0, 1]] == [-0.5, -1, -1, 0]
    assert B[2] == 2.5
    # TLagT: (1 - beta)/2 - 1 on the diagonal.
    A, _ = ref.transition("tlagt", 2, dps=DPS, beta=0.5)
    assert A[1, 1] == -0.75
    # GLagT alpha=0: s_n = 1, diagonal -(1+beta)/2, B = sqrt(beta).
    A, B = ref.transition("glagt", 3, dps=DPS, alpha=0.0, beta=0.25)
    assert close(A[2, 2], -0.625, DPS - 1) and close(A[2, 0], -1, DPS - 1)
    assert close(B[1], 0.5, DPS - 1)
    # GLagT alpha=1/2, n=1, k=0: -s_0/s_1 = -sqrt(Gamma(3/2) / Gamma(5/2)) = -sqrt(2/3).
    A, _ = ref.transition("glagt", 2, dps=DPS, alpha=0.5, beta=1.0)
    assert close(A[1, 0], -mpmath.sqrt(mpmath.mpf(2) / 3), DPS - 1)
    # FouT N=4: F pairs (0,1) at frequency 0 and (2,3) at 2 pi; B = [1, 0, sqrt2, 0].
    A, B = ref.transition("fout", 4, dps=DPS)
    s2 = mpmath.sqrt(2)
    assert close(A[3, 2], 2 * mpmath.pi, DPS - 1) and close(A[2, 3], -2 * mpmath.pi, DPS - 1)
    assert close(A[0, 2], -s2, DPS - 1) and A[2, 2] == -2 and A[0, 0] == -1
    assert A[1, 0] == 0 and A[1, 1] == 0
    assert [B[i] for i in range(4)] == [1, 0, B[2], 0] and close(B[2], s2, DPS - 1)
    A, B = ref.transition("foud", 4, dps=DPS)
    assert A[0, 0] == -0.5 and A[0, 2] == 0 and close(A[3, 2], 2 * mpmath.pi, DPS - 1)


@pytest.mark.parametrize("measure", ref.NPLR_FORMULA_MEASURES)
def test_normal_part_is_normal(measure):
    # S = A + P^T P commutes with its transpose (the defining property of P).
    N = 8
    A, _ = ref.transition(measure, N, dps=DPS)
    P = ref.rank_correction(measure, N, dps=DPS)
    with mpmath.workdps(DPS):
        S = A + P.T * P
        D = S * S.T - S.T * S
        assert mpmath.mnorm(D, 1) <= mpmath.mpf(10) ** (5 - DPS) * mpmath.mnorm(S, 1) ** 2


def test_entries_do_not_depend_on_N():
    A16, B16 = ref.transition("glagt", 16, dps=DPS, alpha=0.3, beta=0.7)
    A5, B5 = ref.transition("glagt", 5, dps=DPS, alpha=0.3, beta=0.7)
    assert all(A5[i, j] == A16[i, j] for i in range(5) for j in range(5))
    assert all(B5[i] == B16[i] for i in range(5))


def test_bad_arguments():
    with pytest.raises(ValueError, match="measure"):
        ref.transition("nope", 4)
    with pytest.raises(ValueError, match="closed form"):
        ref.transition("random", 4)
    with pytest.raises(ValueError, match="even"):
        ref.transition("fout", 3)
    with pytest.raises(TypeError, match="N"):
        ref.transition("legs", 2.0)
    with pytest.raises(TypeError, match="parameter"):
        ref.transition("legs", 4, beta=1.0)
    with pytest.raises(ValueError, match="alpha"):
        ref.rank_correction("glagt", 4, alpha=0.5)
    with pytest.raises(ValueError, match="closed form"):
        ref.rank_correction("lmu", 4)
    with pytest.raises(ValueError, match="dt"):
        ref.discretize([[-1.0]], [1.0], 0.0)
    with pytest.raises(ValueError, match="method"):
        ref.discretize([[-1.0]], [1.0], 0.1, "rk4")
    with pytest.raises(ValueError, match="alpha"):
        ref.discretize([[-1.0]], [1.0], 0.1, "gbt")
    with pytest.raises(ValueError, match="L"):
        ref.kernel([[-1.0]], [1.0], [1.0], 0.1, 0)
    with pytest.raises(ValueError, match="dps"):
        ref.transition("legs", 4, dps=2)


# --------------------------------------------------------------------------- discretization

a_, b_, dt_ = -0.7, 1.3, 0.25  # a scalar test system (floats: exact binary numbers)


def test_bilinear_scalar_closed_form():
    Ad, Bd = ref.discretize([[a_]], [b_], dt_, "bilinear", dps=DPS)
    with mpmath.workdps(DPS + 10):
        a, b, dt = mpmath.mpf(a_), mpmath.mpf(b_), mpmath.mpf(dt_)
        assert close(Ad[0, 0], (1 + dt * a / 2) / (1 - dt * a / 2), DPS - 1)
        assert close(Bd[0, 0], dt * b / (1 - dt * a / 2), DPS - 1)


def test_zoh_scalar_closed_form():
    Ad, Bd = ref.discretize([[a_]], [b_], dt_, "zoh", dps=DPS)
    with mpmath.workdps(DPS + 10):
        a, b, dt = mpmath.mpf(a_), mpmath.mpf(b_), mpmath.mpf(dt_)
        assert close(Ad[0, 0], mpmath.exp(a * dt), DPS - 1)
        assert close(Bd[0, 0], (mpmath.exp(a * dt) - 1) / a * b, DPS - 1)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_gbt_and_euler_scalar_closed_form(alpha):
    Ad, Bd = ref.discretize([[a_]], [b_], dt_, "gbt", dps=DPS, alpha=alpha)
    with mpmath.workdps(DPS + 10):
        a, b, dt, al = (mpmath.mpf(v) for v in (a_, b_, dt_, alpha))
        assert close(Ad[0, 0], (1 + (1 - al) * dt * a) / (1 - al * dt * a), DPS - 1)
        assert close(Bd[0, 0], dt * b / (1 - al * dt * a), DPS - 1)
    named = {0.0: "forward_euler", 0.5: "bilinear", 1.0: "backward_euler"}.get(alpha)
    if named:
        Ad2, Bd2 = ref.discretize([[a_]], [b_], dt_, named, dps=DPS)
        assert close(Ad2[0, 0], Ad[0, 0], DPS - 2) and close(Bd2[0, 0], Bd[0, 0], DPS - 2)


@pytest.mark.parametrize("method", ["bilinear", "zoh", "backward_euler"])
def test_discretize_matches_scipy_float64(method, rng):
    # Independent float64 oracle: scipy.signal.cont2discrete. Its own error is a few
    # eps times cond(I - dt/2 A) (~ 2 here), so 1e3 eps bounds the difference.
    N = 6
    A = rng.standard_normal((N, N)) - 2 * np.eye(N)
    B = rng.standard_normal((N, 1))
    dt = 0.1
    kw = {"bilinear": ("bilinear", None), "zoh": ("zoh", None), "backward_euler": ("gbt", 1.0)}
    m, alpha = kw[method]
    Ads, Bds, *_ = scipy.signal.cont2discrete((A, B, np.eye(N), np.zeros((N, 1))), dt, m,
                                              alpha=alpha)
    Ad, Bd = ref.discretize(A, B, dt, method, dps=DPS)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(ref.to_numpy(Ad), Ads, rtol=0, atol=1e3 * eps)
    np.testing.assert_allclose(ref.to_numpy(Bd), Bds, rtol=0, atol=1e3 * eps)


def test_solve_matches_mpmath_lu_solve():
    # The GBT path vs mpmath's own lu_solve on a non-triangular complex system.
    A = [[-1.0 + 0.5j, 0.3], [0.2, -2.0 - 1j]]
    Ad, Bd = ref.discretize(A, [1.0, -1.0], 0.3, "backward_euler", dps=DPS)
    with mpmath.workdps(DPS):
        M = mpmath.eye(2) - 0.3 * mpmath.matrix(A)
        x = mpmath.lu_solve(M, mpmath.matrix([0.3, -0.3]))
        for i in range(2):
            assert close(Bd[i, 0], x[i], DPS - 2)
        inv = mpmath.inverse(M)
        for i in range(2):
            for j in range(2):
                assert close(Ad[i, j], inv[i, j], DPS - 2)


# --------------------------------------------------------------------------- kernel


@pytest.mark.parametrize("method", ["bilinear", "zoh", "forward_euler"])
def test_scalar_kernel_is_geometric(method):
    L = 40
    c = 0.625
    K = ref.kernel([[a_]], [b_], [c], dt_, L, method, dps=DPS)
    Ad, Bd = ref.discretize([[a_]], [b_], dt_, method, dps=DPS)
    assert len(K) == L
    with mpmath.workdps(DPS + 10):
        for ell in range(L):
            assert close(K[ell], c * Bd[0, 0] * Ad[0, 0] ** ell, DPS - 3)


def test_kernel_matches_float64_powers():
    # Independent float64 route: K[l] = C Ad^l Bd with scipy's bilinear (Ad, Bd).
    N, L, dt = 8, 64, 0.05
    A, B = ref.transition("legt", N, dps=DPS)
    A64, B64 = ref.to_numpy(A), ref.to_numpy(B)
    C = np.linspace(-1, 1, N)
    Ads, Bds, *_ = scipy.signal.cont2discrete((A64, B64, C[None], [[0.0]]), dt, "bilinear")
    x, K64 = Bds[:, 0], []
    for _ in range(L):
        K64.append(C @ x)
        x = Ads @ x
    K = ref.to_numpy(ref.kernel(A, B, C, dt, L, dps=DPS))
    eps = np.finfo(np.float64).eps
    # float64 error of the oracle: ~ L sqrt(N) eps relative to max|K|.
    assert np.max(np.abs(K - K64)) <= L * np.sqrt(N) * eps * np.max(np.abs(K))


def test_kernel_speed_target():
    # Brief: LegS N=16, L=256 at dps=50 "in a few seconds" (it takes ~0.2 s).
    A, B = ref.transition("legs", 16, dps=50)
    t0 = time.perf_counter()
    K = ref.kernel(A, B, np.ones(16), 0.05, 256, dps=50)
    assert len(K) == 256
    assert time.perf_counter() - t0 < 10


# --------------------------------------------------------------------------- eigenvalues


def test_legs_normal_eigenvalues_real_part_minus_half():
    N = 16
    r = ref.converged(ref.normal_eigenvalues, "legs", N, dps=DPS, norm="max")
    assert r.converged, r.digits_agree
    lam = r.value
    assert len(lam) == N
    for v in lam:
        assert close(v.real, -0.5, DPS - 5)
    # conjugate pairs (real skew part), sorted by imaginary part
    imags = [v.imag for v in lam]
    assert imags == sorted(imags)
    with mpmath.workdps(DPS + 10):  # results carry all digits; arithmetic needs them too
        for u, v in zip(imags, reversed(imags), strict=True):
            assert abs(u + v) <= mpmath.mpf(10) ** (5 - DPS) * max(1, abs(u))
    # float64 oracle: numpy's eigenvalues of the float64 normal part (normal =>
    # well conditioned, error ~ N eps ||S||).
    A, _ = ref.transition("legs", N, dps=DPS)
    P = ref.rank_correction("legs", N, dps=DPS)
    S = ref.to_numpy(A) + ref.to_numpy(P).T @ ref.to_numpy(P)
    ev = np.sort_complex(np.linalg.eigvals(S).imag * 1j)
    got = np.sort(ref.to_numpy(lam).imag)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(got, ev.imag, rtol=0, atol=N * eps * np.linalg.norm(S, 2))


@pytest.mark.parametrize("measure,real_part", [("legt", 0.0), ("fout", 0.0), ("foud", -0.5),
                                               ("tlagt", -0.5), ("legsd", -0.5)])
def test_normal_eigenvalues_real_parts(measure, real_part):
    lam = ref.normal_eigenvalues(measure, 8, dps=DPS)
    # tlagt with the default beta=1: diagonal of S is -beta/2.
    for v in lam:
        assert close(v.real, real_part, DPS - 5)


def test_normal_eigenvalues_trace():
    # sum of eigenvalues = trace(S), imaginary parts sum to zero
    N = 10
    lam = ref.normal_eigenvalues("legt", N, dps=DPS)
    A, _ = ref.transition("legt", N, dps=DPS)
    P = ref.rank_correction("legt", N, dps=DPS)
    with mpmath.workdps(DPS):
        S = A + P.T * P
        tr = mpmath.fsum(S[i, i] for i in range(N))
        assert close(mpmath.fsum(lam).real, tr, DPS - 5)
        assert close(mpmath.fsum(lam).imag, 0, DPS - 5)


# --------------------------------------------------------------------------- self-check


def test_self_check_flags_mpmath_eig_on_legs():
    # mp.eig (Hessenberg QR) on the highly non-normal LegS matrix loses most digits
    # at low precision; the two-precision check must catch it.
    A, _ = ref.transition("legs", 16, dps=40)
    r = ref.converged(ref.eigenvalues, A, dps=15, extra=20)
    assert not r.converged
    assert r.digits_agree < ref.FLOAT64_DIGITS
    with pytest.raises(ref.NotConvergedError):
        r.check()
    # the true eigenvalues are -(n+1): the low-precision run really is wrong
    lo = ref.eigenvalues(A, dps=15)
    err = max(abs(complex(v) - (-(n + 1))) for n, v in enumerate(lo))
    assert err > 1e-14
    # and a comparison row built on it fails even with a zero measured error
    truth = np.array([-(n + 1) for n in range(16)], dtype=complex)
    row = compare("selfcheck", "eig", {}, "float64", truth, r, 1.0)
    assert not row.passed and "NOT CONVERGED" in row.note


def test_self_check_passes_exact_quantities():
    r = ref.converged(ref.transition, "legs", 8, dps=DPS)
    assert r.converged and r.digits_agree == DPS
    assert r.value[0].rows == 8
    assert r.check() is r.value


def test_agreeing_digits():
    with mpmath.workdps(40):
        one = mpmath.mpf(1)
        d = ref.agreeing_digits([one + mpmath.mpf("1e-20")], [one], dps=30)
        assert abs(d - 20) < 1e-9
        # entrywise vs max: a tiny entry with a large relative error
        a = [one, mpmath.mpf("1e-10") * (1 + mpmath.mpf("1e-5"))]
        b = [one, mpmath.mpf("1e-10")]
    assert abs(ref.agreeing_digits(a, b, 30, norm="entrywise") - 5) < 1e-6
    assert abs(ref.agreeing_digits(a, b, 30, norm="max") - 15) < 1e-6
    # zeros agree exactly; a zero against a non-zero does not
    assert ref.agreeing_digits([0, 0], [0, 0], 30) == 30
    assert ref.agreeing_digits([1e-40], [0], 30) == 0
    with pytest.raises(ValueError):
        ref.agreeing_digits([1, 2], [1], 30)


def test_reference_is_thread_safe():
    # private contexts: concurrent calls at different precisions do not interfere
    seq = {d: ref.normal_eigenvalues("legs", 12, dps=d) for d in (20, 60)}
    out = {}

    def work(d):
        for _ in range(3):
            out[d] = ref.normal_eigenvalues("legs", 12, dps=d)

    threads = [threading.Thread(target=work, args=(d,)) for d in (20, 60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in (20, 60):
        assert all(u == v for u, v in zip(out[d], seq[d], strict=True))
    assert mpmath.mp.dps == 15  # the global context was never touched


# --------------------------------------------------------------------------- conversions


def test_to_numpy_rounds_to_nearest():
    with mpmath.workdps(40):
        third = mpmath.mpf(1) / 3
        two_thirds = mpmath.mpf(2) / 3
    out = ref.to_numpy([third, two_thirds, -third])
    assert out.tolist() == [1 / 3, 2 / 3, -1 / 3]
    assert ref.to_numpy(mpmath.matrix([[1, 2]])).shape == (1, 2)


def test_ulp_errors():
    with mpmath.workdps(40):
        r = [mpmath.mpf(1) / 3, mpmath.mpf(2) - mpmath.mpf("1e-30"), mpmath.mpf(0)]
    x = np.array([1 / 3, 2.0, 0.0])
    e = ref.ulp_errors(x, r)
    assert e[0] <= 0.5 and e[2] == 0
    # |r| just below 2: ulp(r) = eps (not 2 eps) => 2.0 is ~0 ulp off... by 1e-30 / eps
    assert e[1] < 1e-10
    e2 = ref.ulp_errors(np.array([np.nextafter(2.0, 0)]), r[1:2])
    assert 0.99 < e2[0] < 1.01  # one ulp of r (ulp in [1, 2) is eps)
    assert ref.ulp_errors(np.array([1e-300]), [mpmath.mpf(0)])[0] == np.inf
    assert ref.ulp_errors(np.array([np.nan]), [mpmath.mpf(1)])[0] == np.inf
    pair = ref.to_float_pair(r)
    np.testing.assert_array_equal(ref.ulp_errors(x, pair), e)


def test_zoh_matches_scipy_expm_larger():
    # N=12 LegS: reference ZOH vs scipy.linalg.expm of the augmented float64 matrix.
    N, dt = 12, 0.02
    A, B = ref.transition("legs", N, dps=DPS)
    A64, B64 = ref.to_numpy(A), ref.to_numpy(B)
    aug = np.zeros((N + 1, N + 1))
    aug[:N, :N], aug[:N, N:] = A64 * dt, B64 * dt
    E = scipy.linalg.expm(aug)
    Ad, Bd = ref.discretize(A, B, dt, "zoh", dps=DPS)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(ref.to_numpy(Ad), E[:N, :N], rtol=0, atol=100 * N * eps)
    np.testing.assert_allclose(ref.to_numpy(Bd), E[:N, N:], rtol=0, atol=100 * N * eps)


# --------------------------------------------------------------------------- arb engine


@pytest.mark.parametrize("method", ["bilinear", "zoh", "backward_euler"])
def test_arb_discretize_certifies_the_mpmath_result(method):
    pytest.importorskip("flint")
    A, B = ref.transition("legs", 8, dps=DPS)
    Ad, Bd = ref.discretize(A, B, 0.05, method, dps=DPS)
    Ad2, Bd2, radius = ref.discretize(A, B, 0.05, method, dps=DPS, engine="arb",
                                      return_radius=True)
    # the ball is tight (certified to ~dps digits) and contains the mpmath answer,
    # up to the mpmath result's own rounding (10**-dps relative, entries are O(1))
    assert radius < mpmath.mpf(10) ** (3 - DPS)
    with mpmath.workdps(DPS + 10):
        slack = radius + mpmath.mpf(10) ** (1 - DPS)
        for X, Y in ((Ad, Ad2), (Bd, Bd2)):
            for i in range(X.rows):
                for j in range(X.cols):
                    assert abs(X[i, j] - Y[i, j]) <= slack


def test_arb_kernel_matches_mpmath_kernel():
    pytest.importorskip("flint")
    A, B = ref.transition("fout", 8, dps=DPS)
    C = np.linspace(-1, 1, 8)
    K = ref.kernel(A, B, C, 0.02, 200, dps=DPS)
    K2, rad = ref.kernel(A, B, C, 0.02, 200, dps=DPS, engine="arb", return_radius=True)
    assert ref.agreeing_digits(K2, K, DPS, norm="max") >= DPS - 3
    # radii are valid bounds (they grow with l by the wrapping effect of ball
    # arithmetic, FouT being barely contractive: a bound, not an error estimate)
    assert len(rad) == 200 and rad[0] < mpmath.mpf(10) ** (5 - DPS)
    with mpmath.workdps(DPS + 10):
        tiny = mpmath.mpf(10) ** (2 - DPS) * max(abs(k) for k in K)
        assert all(abs(u - v) <= r + tiny for u, v, r in zip(K, K2, rad, strict=True))
    # complex systems go through acb
    Ac = [[-1 + 2j, 0.5], [0.1, -0.3 - 1j]]
    Kc = ref.kernel(Ac, [1, 1j], [1, 2], 0.1, 30, "zoh", dps=DPS)
    Kc2 = ref.kernel(Ac, [1, 1j], [1, 2], 0.1, 30, "zoh", dps=DPS, engine="arb")
    assert ref.agreeing_digits(Kc2, Kc, DPS, norm="max") >= DPS - 3
    with pytest.raises(ValueError, match="engine"):
        ref.kernel(A, B, C, 0.02, 5, engine="numpy")
    with pytest.raises(ValueError, match="return_radius"):
        ref.kernel(A, B, C, 0.02, 5, return_radius=True)


# --------------------------------------------------------------------------- cached data


def _stored():
    from statespace.verification import make_data

    try:
        return make_data.available()
    except FileNotFoundError:
        return []


def test_cached_data_exists_and_converged():
    from statespace.verification import make_data

    names = _stored()
    assert names, "run `python -m statespace.verification.make_data`"
    assert set(names) == set(make_data.SPECS)
    for name in names:
        d = make_data.load(name)
        m = d.meta
        assert m["converged"] and m["digits_agree"] >= make_data.REQUIRED_DIGITS, name
        assert m["mpmath"] and m["dps"] >= 40 and m["generated"]
        if m["kind"] == "kernel":
            assert d["K"].shape == d["K_lo"].shape == (m["L"],)
            assert d["C"].shape == (m["N"],)
            assert np.all(d["C"].astype(np.float32) == d["C"])  # float32-exact
        elif m["kind"] == "disc":
            assert d["Ad"].shape == (m["N"], m["N"]) and d["Bd"].shape == (m["N"], 1)
        else:
            assert d["lam"].shape == (m["N"],)


def test_cached_kernel_matches_a_fresh_reference():
    # independent recomputation of the head of a stored kernel (cheap: L=64)
    from statespace.verification import make_data

    if "kernel_legt_N16_L4096_bilinear" not in _stored():
        pytest.fail("reference data missing: run `python -m statespace.verification.make_data`")
    d = make_data.load("kernel_legt_N16_L4096_bilinear")
    A, B = ref.transition("legt", 16, dps=DPS)
    K = ref.kernel(A, B, d["C"], d.meta["dt"], 64, d.meta["method"], dps=DPS)
    hi, lo = ref.to_float_pair(K)
    stored = d["K"][:64], d["K_lo"][:64]
    scale = np.max(np.abs(hi))
    # double-double agreement: ~1e-30 relative (both references are good to 1e-30)
    assert np.max(np.abs((stored[0] - hi) + (stored[1] - lo))) <= 1e-28 * scale
    lam = make_data.load("normal_eig_legs_N64")["lam"]
    np.testing.assert_array_equal(lam.real, -0.5)


def test_missing_data_names_the_command(tmp_path):
    from statespace.verification import make_data

    with pytest.raises(FileNotFoundError, match="python -m statespace.verification.make_data"):
        make_data.load("kernel_legs_N16_L4096_bilinear", data_dir=tmp_path)
    if _stored():
        with pytest.raises(KeyError, match="make_data"):
            make_data.load("no_such_dataset")
