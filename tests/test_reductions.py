"""Tests for statespace.reductions: cauchy, cauchy_conj, vandermonde.

Error model used for every tolerance below. A computed sum of ``N`` terms
``t_n = v_n * r_n`` (``r_n = 1/(z - w_n)`` or ``exp(x_n l)``) satisfies the norm-wise
bound

    |y_hat - y| <= c * N * eps * sum_n |t_n|          (cauchy)

where ``eps`` is the unit roundoff of the working dtype: the subtraction ``z - w`` and
the complex reciprocal contribute a few ``eps`` per term, the complex product a few
more, and the (BLAS) summation at most ``(N - 1) eps``. We take ``c = 8``, a safe
constant for ``N >= 1`` (the per-term part is ~6 eps for N = 1, the summation part
approaches N eps). The bound is relative to ``sum |t_n|``, not ``|y|``: cancellation
in the sum is the problem's conditioning, not an algorithmic error. For the
Vandermonde sum the term ``exp(x_n l)`` additionally inherits the rounding of the
product ``x_n * l``, an absolute phase/modulus error ``eps * |x_n| l``, so its bound
is ``c * eps * (N + max|x| l) * sum_n |t_n|``.
"""

from __future__ import annotations

import time
import tracemalloc

import mpmath
import numpy as np
import pytest
from array_api_compat import device
from hypothesis import given
from hypothesis import strategies as st
from util import eps_of, to_numpy, xp_assert_close

import statespace as ss
from statespace import _reduction_contract, _reductions_generic, reductions

C_ERR = 8  # constant of the error model in the module docstring


# ----------------------------------------------------------------------------------
# independent oracles
# ----------------------------------------------------------------------------------
def _mp_cauchy(v, z, w, conj=False, dps=30):
    """mpmath reference for 1-d v, z, w (complex128 values are taken as exact)."""
    with mpmath.workdps(dps):
        vm = [mpmath.mpc(complex(a)) for a in v]
        wm = [mpmath.mpc(complex(a)) for a in w]
        out = []
        for zl in z:
            zl = mpmath.mpc(complex(zl))
            s = mpmath.fsum(a / (zl - b) for a, b in zip(vm, wm, strict=True))
            if conj:
                s += mpmath.fsum(
                    mpmath.conj(a) / (zl - mpmath.conj(b)) for a, b in zip(vm, wm, strict=True)
                )
            out.append(complex(s))
    return np.array(out)


def _mp_vandermonde(v, x, L, dps=30):
    with mpmath.workdps(dps):
        vm = [mpmath.mpc(complex(a)) for a in v]
        xm = [mpmath.mpc(complex(a)) for a in x]
        out = [mpmath.fsum(a * mpmath.exp(b * ell) for a, b in zip(vm, xm, strict=True))
               for ell in range(L)]
    return np.array([complex(s) for s in out])


def _naive_cauchy(v, z, w, conj=False):
    """Broadcast the full (batch, L, N) block in complex128 (small/medium sizes only)."""
    v, z, w = (np.asarray(a, dtype=np.complex128) for a in (v, z, w))
    t = v[..., None, :] / (z[..., :, None] - w[..., None, :])
    a = np.abs(t)
    y = t.sum(-1)
    if conj:
        t2 = v.conj()[..., None, :] / (z[..., :, None] - w.conj()[..., None, :])
        y = y + t2.sum(-1)
        a = np.concatenate([a, np.abs(t2)], axis=-1)
    return y, a.sum(-1)


def _naive_vandermonde(v, x, L):
    v, x = (np.asarray(a, dtype=np.complex128) for a in (v, x))
    ell = np.arange(L)
    t = v[..., None, :] * np.exp(x[..., None, :] * ell[:, None])
    return t.sum(-1), np.abs(t).sum(-1)


def _rand_c(rng, shape, dtype=np.complex128):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _poles(rng, shape, dtype=np.complex128):
    """Stable poles (Re < 0) away from the unit-circle nodes used below."""
    re = -rng.uniform(0.1, 2.0, shape)
    im = rng.uniform(-5.0, 5.0, shape)
    return (re + 1j * im).astype(dtype)


def _nodes(L, dtype=np.complex128):
    return np.exp(2j * np.pi * np.arange(L) / L).astype(dtype)


def _check_bound(y, ref, scale, N, dtype, extra=None):
    """|y - ref| <= tol * scale elementwise; returns the max of err/scale/eps."""
    eps = eps_of(dtype)
    y = to_numpy(y)
    assert np.all(np.isfinite(y))
    tol = C_ERR * N * eps if extra is None else C_ERR * eps * extra
    err = np.abs(y - ref) / scale
    assert np.all(err <= tol), f"max err/scale {err.max():.3e} > {np.max(tol):.3e}"
    return float(err.max() / eps)


# ----------------------------------------------------------------------------------
# values against mpmath
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("N,L", [(1, 3), (4, 7), (9, 16)])
def test_cauchy_mpmath(dtype, conj, N, L, rng):
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    v, w, z = _rand_c(rng, N, cdt), _poles(rng, N, cdt), _nodes(L, cdt)
    y = (ss.cauchy_conj if conj else ss.cauchy)(v, z, w)
    assert y.dtype == cdt and y.shape == (L,)
    ref = _mp_cauchy(v, z, w, conj=conj)
    _, scale = _naive_cauchy(v, z, w, conj=conj)
    _check_bound(y, ref, scale, 2 * N if conj else N, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cauchy_real_inputs_mpmath(dtype, rng):
    """Real v, z, w are promoted to the paired complex dtype."""
    N, L = 6, 5
    v = rng.standard_normal(N).astype(dtype)
    w = -rng.uniform(0.5, 2, N).astype(dtype)
    z = rng.uniform(0.0, 1.0, L).astype(dtype)
    y = ss.cauchy(v, z, w)
    assert y.dtype == (np.complex64 if dtype == np.float32 else np.complex128)
    _, scale = _naive_cauchy(v, z, w)
    _check_bound(y, _mp_cauchy(v, z, w), scale, N, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,L", [(1, 4), (5, 17), (8, 64)])
def test_vandermonde_mpmath(dtype, N, L, rng):
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    v = _rand_c(rng, N, cdt)
    x = (-rng.uniform(0.0, 0.1, N) + 1j * rng.uniform(-1, 1, N)).astype(cdt)
    y = ss.vandermonde(v, x, L)
    assert y.dtype == cdt and y.shape == (L,)
    _, scale = _naive_vandermonde(v, x, L)
    extra = N + np.abs(x).max() * np.arange(L)
    _check_bound(y, _mp_vandermonde(v, x, L), scale, N, dtype, extra=extra)


# ----------------------------------------------------------------------------------
# larger cases against the naive broadcast
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("conj", [False, True])
def test_cauchy_large_vs_naive(dtype, conj, rng):
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    H, N, L = 8, 64, 300
    v, w, z = _rand_c(rng, (H, N), cdt), _poles(rng, (H, N), cdt), _nodes(L, cdt)
    y = (ss.cauchy_conj if conj else ss.cauchy)(v, z, w, chunk=37)
    ref, scale = _naive_cauchy(v, z, w, conj=conj)
    r = _check_bound(y, ref, scale, 2 * N if conj else N, dtype)
    assert r < C_ERR * N


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vandermonde_large_vs_naive(dtype, rng):
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    H, N, L = 6, 32, 1000
    v = _rand_c(rng, (H, N), cdt)
    x = (-rng.uniform(0.0, 0.01, (H, N)) + 1j * rng.uniform(-0.5, 0.5, (H, N))).astype(cdt)
    y = ss.vandermonde(v, x, L, chunk=129)
    ref, scale = _naive_vandermonde(v, x, L)
    extra = N + np.abs(x).max() * np.arange(L)
    _check_bound(y, ref, scale, N, dtype, extra=extra)


# ----------------------------------------------------------------------------------
# sharing, chunking, broadcasting
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("conj", [False, True])
def test_multi_numerator_equals_separate_calls(conj, rng):
    """v (H, 4, N) against w (H, 1, N): the Woodbury layout of S4."""
    H, N, L = 3, 10, 23
    f = ss.cauchy_conj if conj else ss.cauchy
    v, w, z = _rand_c(rng, (H, 4, N)), _poles(rng, (H, 1, N)), _nodes(L)
    y = f(v, z, w, chunk=5)
    assert y.shape == (H, 4, L)
    eps = eps_of(np.float64)
    for k in range(4):
        sep = f(v[:, k], z, w[:, 0])
        np.testing.assert_allclose(y[:, k], sep, rtol=0, atol=C_ERR * N * eps * np.abs(sep).max())
    # numerator axis in front of a pole axis, and several numerator axes
    v2 = _rand_c(rng, (2, 3, 1, 5, N))
    w2 = _poles(rng, (H, 1, N))  # broadcasts to (1, 1, H, 1, N)
    y2 = f(v2, z, w2)
    assert y2.shape == (2, 3, H, 5, L)
    ref, _ = _naive_cauchy(v2, z, w2, conj=conj)
    np.testing.assert_allclose(y2, ref, rtol=C_ERR * 2 * N * eps, atol=0)


def test_layout_detects_numerator_axes():
    lay = _reduction_contract.Layout((5, 4), ((), (5, 1)), ("v", "z", "w"))
    assert lay.batch == (5, 4) and lay.num == (1,) and lay.mat_batch == (5,) and lay.M == 4
    lay = _reduction_contract.Layout((4,), ((5, 1), ()), ("v", "z", "w"))
    assert lay.num == (1,) and lay.batch == (5, 4) and lay.mat_batch == (5,)
    lay = _reduction_contract.Layout((2, 3, 1), ((), (7,)), ("v", "z", "w"))
    assert lay.num == (0, 1) and lay.M == 6 and lay.mat_batch == (7,)


def test_vandermonde_multi_numerator(rng):
    H, N, L = 4, 6, 50
    v = _rand_c(rng, (3, H, N))
    x = (-rng.uniform(0, 0.1, (H, N)) + 1j * rng.uniform(-1, 1, (H, N)))
    y = ss.vandermonde(v, x, L, chunk=7)
    for k in range(3):
        np.testing.assert_allclose(y[k], ss.vandermonde(v[k], x, L), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("chunk", [1, 2, 7, 31, 32, 1000])
def test_chunked_equals_unchunked(chunk, rng):
    H, N, L = 3, 12, 32
    v, w, z = _rand_c(rng, (H, 2, N)), _poles(rng, (H, 1, N)), _nodes(L)
    x = -rng.uniform(0, 0.1, (H, 1, N)) + 1j * rng.uniform(-1, 1, (H, 1, N))
    tol = C_ERR * N * eps_of(np.float64)
    for f, args in (
        (ss.cauchy, (v, z, w)),
        (ss.cauchy_conj, (v, z, w)),
        (ss.vandermonde, (v, x, L)),
    ):
        a = f(*args, chunk=chunk)
        b = f(*args)
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.abs(b).max())


def test_default_chunk_respects_budget(monkeypatch, rng):
    """The automatic chunk keeps one block within CHUNK_ELEMENTS, and results agree."""
    monkeypatch.setattr(_reduction_contract, "CHUNK_ELEMENTS", 64)
    seen = []
    orig = _reductions_generic.cauchy

    def spy(xp, vs, z, w, step, *, conj):
        seen.append(step)
        return orig(xp, vs, z, w, step, conj=conj)

    monkeypatch.setattr(_reductions_generic, "cauchy", spy)
    v, w, z = _rand_c(rng, (2, 8)), _poles(rng, (2, 8)), _nodes(40)
    y = ss.cauchy(v, z, w)
    assert seen == [4]  # 64 // (2 * 8)
    ref, scale = _naive_cauchy(v, z, w)
    _check_bound(y, ref, scale, 8, np.float64)
    ss.cauchy_conj(v, z, w)
    assert seen[-1] == 2  # two blocks share the budget


_DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


@st.composite
def _broadcast_case(draw):
    nd = draw(st.integers(0, 3))
    full = draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))

    def sub():
        k = draw(st.integers(0, nd))
        return tuple(1 if draw(st.booleans()) else s for s in full[nd - k :])

    return sub(), sub(), sub(), draw(st.integers(1, 6)), draw(st.integers(1, 9))


@given(
    case=_broadcast_case(),
    dts=st.tuples(*(st.sampled_from(_DTYPES),) * 3),
    conj=st.booleans(),
    chunk=st.one_of(st.none(), st.integers(1, 10)),
    seed=st.integers(0, 2**16),
)
def test_cauchy_broadcasting_property(case, dts, conj, chunk, seed):
    bv, bz, bw, N, L = case
    rng = np.random.default_rng(seed)

    def mk(shape, dt, poles=False):
        a = _poles(rng, shape) if poles else _rand_c(rng, shape) + 3.0  # nodes: Re > 0
        return (a if np.dtype(dt).kind == "c" else a.real).astype(dt)

    v, z, w = mk(bv + (N,), dts[0]), mk(bz + (L,), dts[1]), mk(bw + (N,), dts[2], poles=True)
    f = ss.cauchy_conj if conj else ss.cauchy
    y = f(v, z, w, chunk=chunk)
    single = all(np.dtype(d) in (np.float32, np.complex64) for d in dts)
    assert y.dtype == (np.complex64 if single else np.complex128)
    assert y.shape == np.broadcast_shapes(bv, bz, bw) + (L,)
    ref, scale = _naive_cauchy(v, z, w, conj=conj)
    _check_bound(y, ref, scale, 2 * N if conj else N, np.float32 if single else np.float64)


@given(
    bv=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    bx=st.lists(st.sampled_from([1, 3]), max_size=2).map(tuple),
    dts=st.tuples(st.sampled_from(_DTYPES), st.sampled_from(_DTYPES)),
    N=st.integers(1, 5),
    L=st.integers(1, 20),
    chunk=st.one_of(st.none(), st.integers(1, 8)),
    seed=st.integers(0, 2**16),
)
def test_vandermonde_broadcasting_property(bv, bx, dts, N, L, chunk, seed):
    try:
        out_b = np.broadcast_shapes(bv, bx)
    except ValueError:
        with pytest.raises(ValueError, match="broadcast"):
            ss.vandermonde(np.ones(bv + (N,)), np.zeros(bx + (N,)), L)
        return
    rng = np.random.default_rng(seed)
    v = _rand_c(rng, bv + (N,))
    x = -rng.uniform(0, 0.2, bx + (N,)) + 1j * rng.uniform(-1, 1, bx + (N,))
    v = (v if np.dtype(dts[0]).kind == "c" else v.real).astype(dts[0])
    x = (x if np.dtype(dts[1]).kind == "c" else x.real).astype(dts[1])
    y = ss.vandermonde(v, x, L, chunk=chunk)
    single = all(np.dtype(d) in (np.float32, np.complex64) for d in dts)
    assert y.shape == out_b + (L,)
    assert y.dtype == (np.complex64 if single else np.complex128)
    ref, scale = _naive_vandermonde(v, x, L)
    extra = N + np.abs(x).max() * np.arange(L)
    _check_bound(y, ref, scale, N, np.float32 if single else np.float64, extra=extra)


# ----------------------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------------------
def test_cauchy_memory_is_linear(rng):
    """batch 64, N 64, L 8192: the full (batch, N, L) block would be 512 MiB."""
    B, N, L = 64, 64, 8192
    v, w, z = _rand_c(rng, (B, N)), _poles(rng, (B, N)), _nodes(L)
    out_bytes = B * L * 16
    in_bytes = v.nbytes + w.nbytes + z.nbytes
    chunk_bytes = reductions.CHUNK_ELEMENTS * 16
    full_bytes = B * N * L * 16
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        y = ss.cauchy(v, z, w)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # per chunk: the difference block, its reciprocal, a bool block for the coincidence
    # check; plus the chunk outputs and their concatenation (2x output)
    bound = 3 * (out_bytes + in_bytes) + 3 * chunk_bytes
    print(f"peak {peak / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB, "
          f"full block {full_bytes / 2**20:.0f} MiB, {elapsed:.2f} s")
    assert peak < bound < full_bytes / 2
    # spot-check values on a few rows
    ref, scale = _naive_cauchy(v[:2], z, w[:2])
    _check_bound(y[:2], ref, scale, N, np.float64)


# ----------------------------------------------------------------------------------
# backends
# ----------------------------------------------------------------------------------
def _ns_name(a):
    return type(a).__module__.split(".")[0]


@pytest.mark.parametrize("single", [False, True])
def test_backends_agree_with_numpy(xp, single, rng):
    cdt = np.complex64 if single else np.complex128
    H, N, L = 3, 8, 20
    v, w, z = _rand_c(rng, (H, 2, N), cdt), _poles(rng, (H, 1, N), cdt), _nodes(L, cdt)
    x = (-rng.uniform(0, 0.1, (H, 1, N)) + 1j * rng.uniform(-1, 1, (H, 1, N))).astype(cdt)
    V, W, Z, X = (xp.asarray(a) for a in (v, w, z, x))
    eps = eps_of(cdt)
    for f, a_xp, a_np, n_eff in (
        (ss.cauchy, (V, Z, W), (v, z, w), N),
        (ss.cauchy_conj, (V, Z, W), (v, z, w), 2 * N),
        (ss.vandermonde, (V, X, L), (v, x, L), N + L),
    ):
        y = f(*a_xp, chunk=6)
        assert _ns_name(y) == _ns_name(V)
        assert y.dtype == (xp.complex64 if single else xp.complex128)
        assert tuple(y.shape) == (H, 2, L)
        ref = f(*a_np)
        xp_assert_close(
            y, xp.asarray(ref, device=device(y)), rtol=0,
            atol=C_ERR * n_eff * eps * np.abs(ref).max()
        )


def test_backends_real_inputs(xp, rng):
    v = xp.asarray(rng.standard_normal(5))
    w = xp.asarray(-rng.uniform(0.5, 1.5, 5))
    z = xp.asarray(rng.uniform(0, 1, 4))
    y = ss.cauchy(v, z, w)
    assert y.dtype == xp.complex128
    ref, scale = _naive_cauchy(*(to_numpy(a) for a in (v, z, w)))
    _check_bound(y, ref, scale, 5, np.float64)


def test_torch_autograd_cauchy():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    N, L = 4, 5
    v = torch.randn(2, N, dtype=torch.complex128, generator=g, requires_grad=True)
    w = (-torch.rand(N, dtype=torch.float64, generator=g) - 0.5
         + 1j * torch.randn(N, dtype=torch.float64, generator=g)).requires_grad_(True)
    z = torch.exp(2j * torch.pi * torch.arange(L, dtype=torch.float64) / L)
    assert torch.autograd.gradcheck(lambda v, w: ss.cauchy(v, z, w, chunk=2), (v, w))
    assert torch.autograd.gradcheck(lambda v, w: ss.cauchy_conj(v, z, w, chunk=3), (v, w))
    x = (-torch.rand(N, dtype=torch.float64, generator=g) * 0.1
         + 1j * torch.randn(N, dtype=torch.float64, generator=g)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v, x: ss.vandermonde(v, x, 7, chunk=3), (v, x))
    # real leaves promoted to complex keep their gradient
    vr = torch.randn(N, dtype=torch.float64, generator=g, requires_grad=True)
    ss.cauchy(vr, z, w).real.sum().backward()
    assert vr.grad is not None and vr.grad.dtype == torch.float64


def test_integer_and_list_inputs():
    """Integer arrays and Python lists are accepted and computed in complex128."""
    y = ss.cauchy([1, 2], np.array([0, 1]), np.array([-1, -2]))
    assert y.dtype == np.complex128
    np.testing.assert_allclose(y, [1 / 1 + 2 / 2, 1 / 2 + 2 / 3], rtol=4 * eps_of(np.float64))
    y = ss.vandermonde(np.array([1, 1]), np.array([0, 0]), 3)
    assert y.dtype == np.complex128
    np.testing.assert_array_equal(y, [2, 2, 2])


def test_inputs_not_mutated(rng):
    v, w, z = _rand_c(rng, (2, 4)), _poles(rng, (2, 4)), _nodes(6)
    copies = [a.copy() for a in (v, w, z)]
    ss.cauchy(v, z, w)
    ss.cauchy_conj(v, z, w)
    ss.vandermonde(v, w, 6)
    for a, b in zip((v, w, z), copies, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("f", [ss.cauchy, ss.cauchy_conj])
def test_cauchy_errors(f):
    v, w, z = np.ones(3), -np.ones(3), np.zeros(4)
    with pytest.raises(ValueError, match=r"v and w.*N"):
        f(np.ones(2), z, w)
    with pytest.raises(ValueError, match="v contains NaN"):
        f(np.array([1.0, np.nan, 1.0]), z, w)
    with pytest.raises(ValueError, match="w contains NaN or infinite"):
        f(v, z, np.array([1.0, np.inf, 1.0]))
    with pytest.raises(ValueError, match="z contains"):
        f(v, np.array([np.nan]), w)
    with pytest.raises(ValueError, match="z coincides with a pole w"):
        f(v, np.array([0.0, -1.0]), w)
    with pytest.raises(ValueError, match=r"v \(2,\).*w \(3,\).*broadcast"):
        f(np.ones((2, 3)), z, -np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least one dimension"):
        f(np.float64(1.0), z, w)
    with pytest.raises(ValueError, match="non-empty"):
        f(np.ones(3), np.zeros(0), w)
    with pytest.raises(TypeError, match="v must have a numeric dtype"):
        f(np.ones(3, dtype=bool), z, w)
    with pytest.raises(TypeError, match="chunk"):
        f(v, z, w, chunk=2.5)
    with pytest.raises(ValueError, match="chunk"):
        f(v, z, w, chunk=0)
    with pytest.raises(ValueError, match="non-finite"):  # overflow, not a coincidence
        f(np.full(3, 1e300), np.array([0.0]), np.full(3, -1e-300))


def test_cauchy_conj_coincides_with_conjugate_pole():
    with pytest.raises(ValueError, match="coincides"):
        ss.cauchy_conj(np.ones(1), np.array([-1 - 2j]), np.array([-1 + 2j]))


def test_cauchy_mixed_backends_rejected():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="different array libraries"):
        ss.cauchy(np.ones(2), torch.zeros(3), -np.ones(2))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow case warns first
def test_vandermonde_errors():
    v, x = np.ones(3), -np.ones(3)
    with pytest.raises(ValueError, match=r"v and x.*N"):
        ss.vandermonde(v, np.ones(2), 4)
    with pytest.raises(ValueError, match="L must be >= 1"):
        ss.vandermonde(v, x, 0)
    with pytest.raises(TypeError, match="L must be an integer"):
        ss.vandermonde(v, x, 4.0)
    with pytest.raises(ValueError, match="x contains NaN"):
        ss.vandermonde(v, np.array([0.0, np.nan, 0.0]), 4)
    with pytest.raises(ValueError, match="non-finite"):
        ss.vandermonde(v, np.full(3, 10.0), 100)  # exp(990) overflows
    with pytest.raises(ValueError, match=r"v \(2,\).*x \(3,\)"):
        ss.vandermonde(np.ones((2, 3)), np.ones((3, 3)), 4)
