"""Tests for statespace.conv: causal_conv, bidirectional_conv, fft_length.

Oracles: direct sums (a Toeplitz matrix built from the definition, no FFT),
``np.convolve`` and ``scipy.signal.fftconvolve``.

Tolerances. An FFT convolution of length ``n`` has a norm-wise error of order
``eps * log2(n)`` relative to ``sum_j |K_j| * max_j |u_j|`` (the size of the largest
possible output); we compare ``max |y - y_ref| / (sum|K| max|u|)`` with that scale.
For float64 the bound is ``1e-12`` (well above ``~5 eps log2 n`` for every
size here, ``n <= 4096``: 3e-15 * 12); for float32 ``C * eps * log2(n)`` with
``C = 8`` (a few roundings per butterfly stage for each of three transforms).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from util import eps_of, to_numpy, xp_assert_close

import statespace as ss
from statespace.conv import fft_length

TOL64 = 1e-12


def _toeplitz_fwd(K, L):
    """T[..., l, j] = K[..., l - j] for 0 <= l - j < len(K) (direct definition)."""
    K = np.asarray(K)
    T = np.zeros(K.shape[:-1] + (L, L), dtype=K.dtype)
    for l in range(L):
        for j in range(l + 1):
            if l - j < K.shape[-1]:
                T[..., l, j] = K[..., l - j]
    return T


def _toeplitz_bwd(Kb, L):
    """T[..., l, j] = Kb[..., j - l - 1] for 0 < j - l <= len(Kb)."""
    Kb = np.asarray(Kb)
    T = np.zeros(Kb.shape[:-1] + (L, L), dtype=Kb.dtype)
    for l in range(L):
        for j in range(l + 1, L):
            if j - l - 1 < Kb.shape[-1]:
                T[..., l, j] = Kb[..., j - l - 1]
    return T


def _direct(u, K, D=None, K_bwd=None):
    u = np.asarray(u)
    L = u.shape[-1]
    T = _toeplitz_fwd(K, L)
    if K_bwd is not None:
        Tb = _toeplitz_bwd(K_bwd, L)
        T = T.astype(np.result_type(T, Tb))
        bT, bB = T.shape[:-2], Tb.shape[:-2]
        shape = np.broadcast_shapes(bT, bB) + (L, L)
        T = np.broadcast_to(T, shape) + np.broadcast_to(Tb, shape)
    y = (T @ u[..., None])[..., 0]
    if D is not None:
        y = y + np.asarray(D)[..., None] * u
    return y


def _scaled_err(y, ref, u, K, K_bwd=None):
    """max|y - ref| / (sum |K| max |u|) (plus the backward kernel's mass)."""
    mass = np.abs(to_numpy(K)).sum(-1).max()
    if K_bwd is not None:
        mass += np.abs(to_numpy(K_bwd)).sum(-1).max()
    scale = max(mass * np.abs(to_numpy(u)).max(), np.abs(ref).max(), 1e-300)
    return float(np.max(np.abs(to_numpy(y) - ref)) / scale)


def _rand(rng, shape, cplx=False, dtype=np.float64):
    a = rng.standard_normal(shape)
    if not cplx:
        return a.astype(dtype)
    a = a + 1j * rng.standard_normal(shape)
    return a.astype(np.complex64 if dtype == np.float32 else np.complex128)


# ----------------------------------------------------------------------------------
# fft_length
# ----------------------------------------------------------------------------------
def _is_smooth(m):
    for p in (2, 3, 5):
        while m % p == 0:
            m //= p
    return m == 1


def test_fft_length_is_minimal_smooth():
    for n in range(1, 2500):
        m = fft_length(n)
        assert m >= n and _is_smooth(m)
        assert not any(_is_smooth(k) for k in range(n, m))
    with pytest.raises(ValueError, match="n must be >= 1"):
        fft_length(0)


# ----------------------------------------------------------------------------------
# causal_conv values
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("Lu", [1, 2, 7, 16, 33, 100])
@pytest.mark.parametrize("Lk_rel", ["short", "equal", "long"])
@pytest.mark.parametrize("cplx", [False, True])
def test_causal_conv_vs_direct_and_scipy(Lu, Lk_rel, cplx, rng):
    Lk = {"short": max(1, Lu // 3), "equal": Lu, "long": 2 * Lu + 3}[Lk_rel]
    u = _rand(rng, (3, Lu))
    K = _rand(rng, (3, Lk), cplx=cplx)
    y = ss.causal_conv(u, K)
    assert y.shape == (3, Lu)
    assert y.dtype == (np.complex128 if cplx else np.float64)
    ref = _direct(u, K)
    assert _scaled_err(y, ref, u, K) <= TOL64
    ref_sp = scipy.signal.fftconvolve(u, K, axes=-1)[..., :Lu]
    assert _scaled_err(y, ref_sp, u, K) <= TOL64
    for r in range(3):
        assert _scaled_err(y[r], np.convolve(u[r], K[r])[:Lu], u[r], K[r]) <= TOL64


def test_long_kernel_only_first_L_taps_matter(rng):
    u, K = _rand(rng, 10), _rand(rng, 50)
    np.testing.assert_array_equal(ss.causal_conv(u, K), ss.causal_conv(u, K[:10]))


@pytest.mark.parametrize("D_kind", ["scalar", "complex_scalar", "per_channel", "full"])
def test_causal_conv_D_term_and_batches(D_kind, rng):
    B, H, L = 2, 3, 21
    u = _rand(rng, (B, H, L))
    K = _rand(rng, (H, 8))
    D = {"scalar": 0.7, "complex_scalar": 0.5 - 0.25j, "per_channel": _rand(rng, H),
         "full": _rand(rng, (B, H))}[D_kind]
    y = ss.causal_conv(u, K, D=D)
    assert y.shape == (B, H, L)
    assert np.iscomplexobj(y) == (D_kind == "complex_scalar")
    ref = _direct(u, K, D=np.asarray(D))
    assert _scaled_err(y, ref, u, K) <= TOL64
    # D broadcasting may add batch axes: D (5, 1, 1) against u (H, L)
    D2 = _rand(rng, (5, 1))
    y2 = ss.causal_conv(u[0], K, D=D2)
    assert y2.shape == (5, H, L)
    assert _scaled_err(y2, _direct(u[0], K) + D2[..., None] * u[0], u, K) <= TOL64


def test_causal_conv_batch_broadcast_both_ways(rng):
    u = _rand(rng, (4, 1, 12))
    K = _rand(rng, (3, 5), cplx=True)
    y = ss.causal_conv(u, K)
    assert y.shape == (4, 3, 12)
    assert _scaled_err(y, _direct(u, K), u, K) <= TOL64


@pytest.mark.parametrize("cplx", [False, True])
def test_causal_conv_float32(cplx, rng):
    L = 257
    u = _rand(rng, (2, L), dtype=np.float32)
    K = _rand(rng, (2, L), cplx=cplx, dtype=np.float32)
    y = ss.causal_conv(u, K, D=np.float32(0.5))
    assert y.dtype == (np.complex64 if cplx else np.float32)
    ref = _direct(u.astype(np.float64), K.astype(np.complex128 if cplx else np.float64), D=0.5)
    n = fft_length(2 * L - 1)
    assert _scaled_err(y, ref, u, K) <= 8 * eps_of(np.float32) * math.log2(n)


# ----------------------------------------------------------------------------------
# bidirectional_conv values
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("L", [1, 2, 5, 8, 31, 64])
@pytest.mark.parametrize("lens", [(1, 1), (3, 2), ("L", "L"), ("2L", "L-1"), (2, "2L")])
@pytest.mark.parametrize("cplx", [False, True])
def test_bidirectional_vs_direct(L, lens, cplx, rng):
    def length(s):
        return max(1, {"L": L, "2L": 2 * L, "L-1": L - 1}.get(s, s) if isinstance(s, str) else s)

    Kf = _rand(rng, (2, length(lens[0])), cplx=cplx)
    Kb = _rand(rng, (2, length(lens[1])))
    u = _rand(rng, (2, L))
    y = ss.bidirectional_conv(u, Kf, Kb, D=0.25)
    assert y.shape == (2, L) and np.iscomplexobj(y) == cplx
    ref = _direct(u, Kf, D=0.25, K_bwd=Kb)
    assert _scaled_err(y, ref, u, Kf, Kb) <= TOL64


def test_bidirectional_lag_conventions():
    """Unit impulses: K_fwd[0] is lag 0, K_bwd[0] is lag -1 (the next sample)."""
    L = 6
    u = np.zeros(L)
    u[3] = 1.0
    y = ss.bidirectional_conv(u, np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0]))
    # y[l] = Kf[l-3] for l >= 3; y[l] = Kb[3-l-1] for l < 3
    xp_assert_close(y, np.array([30.0, 20.0, 10.0, 1.0, 2.0, 0.0]), rtol=1e-7, atol=1e-13)


def test_bidirectional_zero_bwd_equals_causal(rng):
    u, K = _rand(rng, (3, 17)), _rand(rng, (3, 17))
    y = ss.bidirectional_conv(u, K, np.zeros(4))
    xp_assert_close(y, ss.causal_conv(u, K), rtol=1e-7, atol=TOL64 * np.abs(y).max())


def test_bidirectional_batch_broadcast(rng):
    u = _rand(rng, (2, 1, 9))
    Kf, Kb = _rand(rng, (3, 4)), _rand(rng, (1, 9), cplx=True)
    D = _rand(rng, (3,))
    y = ss.bidirectional_conv(u, Kf, Kb, D=D)
    assert y.shape == (2, 3, 9)
    assert _scaled_err(y, _direct(u, Kf, D=D, K_bwd=Kb), u, Kf, Kb) <= TOL64


@given(
    bu=st.lists(st.sampled_from([1, 2, 3]), max_size=2).map(tuple),
    bk=st.lists(st.sampled_from([1, 2, 3]), max_size=2).map(tuple),
    Lu=st.integers(1, 40),
    Lk=st.integers(1, 50),
    Lb=st.one_of(st.none(), st.integers(1, 50)),
    kinds=st.tuples(st.booleans(), st.booleans()),
    with_D=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv_property(bu, bk, Lu, Lk, Lb, kinds, with_D, seed):
    rng = np.random.default_rng(seed)
    u = _rand(rng, bu + (Lu,), cplx=kinds[0])
    K = _rand(rng, bk + (Lk,), cplx=kinds[1])
    Kb = None if Lb is None else _rand(rng, bk[1:] + (Lb,))
    D = _rand(rng, bu) if with_D else None
    try:
        out_b = np.broadcast_shapes(bu, bk)
    except ValueError:
        with pytest.raises(ValueError, match=r"u .* K.* broadcast"):
            ss.causal_conv(u, K, D)
        return
    if Kb is None:
        y = ss.causal_conv(u, K, D)
    else:
        y = ss.bidirectional_conv(u, K, Kb, D)
    assert y.shape == out_b + (Lu,)
    assert np.iscomplexobj(y) == (kinds[0] or kinds[1])
    assert _scaled_err(y, _direct(u, K, D=D, K_bwd=Kb), u, K, Kb) <= TOL64


# ----------------------------------------------------------------------------------
# backends and autograd
# ----------------------------------------------------------------------------------
def _ns_name(a):
    return type(a).__module__.split(".")[0]


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("cplx", [False, True])
def test_backends_agree_with_numpy(xp, single, cplx, rng):
    dt = np.float32 if single else np.float64
    u = _rand(rng, (2, 3, 19), dtype=dt)
    K = _rand(rng, (3, 11), cplx=cplx, dtype=dt)
    Kb = _rand(rng, (3, 6), dtype=dt)
    D = _rand(rng, (3,), dtype=dt)
    U, KK, KB, DD = (xp.asarray(a) for a in (u, K, Kb, D))
    tol = 8 * eps_of(dt) * math.log2(64) if single else TOL64
    want = (xp.complex64 if single else xp.complex128) if cplx else (
        xp.float32 if single else xp.float64)
    for y, ref in (
        (ss.causal_conv(U, KK, DD), ss.causal_conv(u, K, D)),
        (ss.bidirectional_conv(U, KK, KB, DD), ss.bidirectional_conv(u, K, Kb, D)),
        (ss.causal_conv(U, KK, 0.5), ss.causal_conv(u, K, 0.5)),
    ):
        assert _ns_name(y) == _ns_name(U)
        assert y.dtype == want
        assert tuple(y.shape) == (2, 3, 19)
        assert _scaled_err(y, ref, u, K, Kb) <= tol


def test_torch_autograd_gradcheck():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 7, dtype=torch.float64, generator=g, requires_grad=True)
    K = torch.randn(2, 5, dtype=torch.float64, generator=g, requires_grad=True)
    Kb = torch.randn(2, 4, dtype=torch.float64, generator=g, requires_grad=True)
    D = torch.randn(2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(ss.causal_conv, (u, K, D))
    assert torch.autograd.gradcheck(ss.bidirectional_conv, (u, K, Kb, D))
    Kc = torch.randn(2, 5, dtype=torch.complex128, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, k: ss.causal_conv(u, k), (u, Kc))


def test_integer_inputs_and_numpy_scalar_D_with_torch():
    y = ss.causal_conv(np.array([1, 2, 3]), np.array([1, 1]), D=2)
    assert y.dtype == np.float64
    xp_assert_close(y, np.array([3.0, 7.0, 11.0]), rtol=1e-7, atol=1e-13)
    torch = pytest.importorskip("torch")
    u = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)
    y = ss.causal_conv(u, torch.tensor([1.0, 1.0], dtype=torch.float32), D=np.float64(2.0))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    xp_assert_close(y, torch.tensor([3.0, 7.0, 11.0], dtype=torch.float32), rtol=1e-7, atol=1e-5)


def test_inputs_not_mutated(rng):
    u, K, Kb, D = _rand(rng, (2, 9)), _rand(rng, (2, 30)), _rand(rng, (2, 3)), _rand(rng, 2)
    copies = [a.copy() for a in (u, K, Kb, D)]
    ss.causal_conv(u, K, D)
    ss.bidirectional_conv(u, K, Kb, D)
    for a, b in zip((u, K, Kb, D), copies, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------
def test_errors():
    u, K = np.ones((2, 5)), np.ones((2, 3))
    with pytest.raises(ValueError, match="u contains NaN"):
        ss.causal_conv(np.array([1.0, np.nan]), K[0])
    with pytest.raises(ValueError, match="K contains NaN"):
        ss.causal_conv(u, np.array([np.inf, 1.0]))
    with pytest.raises(ValueError, match="D must be finite"):
        ss.causal_conv(u, K, D=float("nan"))
    with pytest.raises(ValueError, match="D contains NaN"):
        ss.causal_conv(u, K, D=np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="K_bwd contains NaN"):
        ss.bidirectional_conv(u, K, np.array([np.nan]))
    with pytest.raises(ValueError, match=r"u \(2,\), K \(3,\) do not broadcast"):
        ss.causal_conv(u, np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"D \(3,\)"):
        ss.causal_conv(u, K, D=np.ones(3))
    with pytest.raises(ValueError, match="K_fwd .* K_bwd .* broadcast"):
        ss.bidirectional_conv(u, K, np.ones((3, 2)))
    with pytest.raises(ValueError, match="u must have at least one dimension"):
        ss.causal_conv(np.float64(1.0), K)
    with pytest.raises(ValueError, match="K must have length >= 1"):
        ss.causal_conv(u, np.ones((2, 0)))
    with pytest.raises(TypeError, match="D must be a number"):
        ss.causal_conv(u, K, D=True)
    with pytest.raises(TypeError, match="u must have a numeric dtype"):
        ss.causal_conv(np.ones(3, dtype=bool), K[0])


def test_mixed_backends_rejected():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="different array libraries"):
        ss.causal_conv(np.ones(4), torch.ones(2))
