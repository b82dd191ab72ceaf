"""Recurrent view == convolutional view, for dense, diagonal and DPLR systems.

``scan`` (a Python loop of O(N^2), O(N) or O(N r) steps) and ``causal_conv(u, K, D)``
with the matching kernel (Krylov doubling, Vandermonde or the S4 Cauchy/Woodbury
algorithm, then an FFT) share no code beyond the discretization. Both accumulate
rounding over the L steps, so the bound is ``c * L * eps`` relative to
``sum|K| * max|u|`` (the scale of the output), with c = 4; at L = 512 that is 4.5e-13,
below the bound ``BOUND = 1e-12`` the tests assert.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from util import to_numpy, xp_assert_close

import statespace as ss
from statespace import discretize as sd

EPS64 = float(np.finfo(np.float64).eps)
BOUND = 1e-12


def _scaled_err(y, ref, K, u):
    """max|y - ref| / (max_h sum |K_h| * max|u|): error relative to the output's bound."""
    y, ref, K, u = (np.asarray(to_numpy(a)) for a in (y, ref, K, u))
    scale = np.sum(np.abs(K), axis=-1).max() * np.abs(u).max()
    return float(np.max(np.abs(y - ref)) / scale)


@pytest.fixture(scope="module")
def legs():
    N = 16
    A, B = ss.hippo.transition("legs", N)
    C = np.random.default_rng(0).standard_normal(N)
    return A, B, C


@pytest.mark.parametrize("L", [1, 2, 257, 512])
def test_dense_scan_equals_conv(legs, L):
    A, B, C = legs
    u = np.random.default_rng(L).standard_normal((3, L))
    for dt in (1e-3, 0.1):
        K = ss.kernel_dense(A, B, C, dt, L)
        y, _ = ss.scan(sd.bilinear(A, B, dt), u, C=C, D=0.7)
        ref = ss.causal_conv(u, K, D=0.7)
        assert _scaled_err(y, ref, K, u) <= max(4 * L * EPS64, 1e-14) <= BOUND


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
@pytest.mark.parametrize("L", [1, 3, 512])
def test_diag_scan_equals_conv(method, L):
    rng = np.random.default_rng(L)
    N, H = 8, 4
    lam = -np.exp(rng.standard_normal((H, N))) + 1j * rng.standard_normal((H, N)) * 3
    B = rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N))
    C = rng.standard_normal((H, N)) + 1j * rng.standard_normal((H, N))
    dt = np.exp(rng.uniform(np.log(1e-3), np.log(1e-1), H))
    u = rng.standard_normal((2, H, L))
    K = ss.kernel_diag(lam, B, C, dt, L, method=method, halved=True)
    disc = sd.zoh_diag if method == "zoh" else sd.bilinear_diag
    y, _ = ss.scan(disc(lam, B, dt), u, C=C, D=np.full(H, 0.3), halved=True)
    ref = ss.causal_conv(u, K, D=np.full(H, 0.3))
    assert _scaled_err(y, ref, K, u) <= max(4 * L * EPS64, 1e-14)


@pytest.mark.parametrize("measure", ["legs", "legt", "fout"])
@pytest.mark.parametrize("L", [1, 2, 511, 512])
def test_dplr_scan_equals_conv(measure, L):
    N = 16
    h = ss.dplr(measure, N)
    c = np.random.default_rng(1).standard_normal(N) @ h.V
    u = np.random.default_rng(L).standard_normal((2, L))
    for dt in (1e-3, 0.1):
        K = ss.kernel_dplr(h.Lambda, h.P, h.B, c, dt, L, halved=True)
        sys = sd.bilinear_dplr(h.Lambda, h.P, h.B, dt, halved=True)
        y, _ = ss.scan(sys, u, C=c, D=-0.2, halved=True)
        ref = ss.causal_conv(u, K, D=-0.2)
        assert _scaled_err(y, ref, K, u) <= max(4 * L * EPS64, 1e-14)


@pytest.mark.parametrize("kind", ["dense", "diag", "dplr"])
def test_chunked_state_equals_one_call(kind):
    N, L = 8, 400
    rng = np.random.default_rng(2)
    u = rng.standard_normal((3, L))
    h = ss.dplr("legs", N)
    c = rng.standard_normal(N) @ h.V
    if kind == "dense":
        A, B = ss.hippo.transition("legs", N)
        sys, C, halved = sd.bilinear(A, B, 0.05), rng.standard_normal(N), False
    elif kind == "diag":
        sys, C, halved = sd.zoh_diag(h.Lambda, h.B, 0.05), c, True
    else:
        sys, C, halved = sd.bilinear_dplr(h.Lambda, h.P, h.B, 0.05, halved=True), c, True
    y, x = ss.scan(sys, u, C=C, D=0.5, halved=halved)
    y1, x1 = ss.scan(sys, u[:, : L // 2], C=C, D=0.5, halved=halved)
    y2, x2 = ss.scan(sys, u[:, L // 2 :], x0=x1, C=C, D=0.5, halved=halved)
    xp_assert_close(np.concatenate([y1, y2], axis=-1), y, rtol=0, atol=1e-14)
    xp_assert_close(x2, x, rtol=0, atol=1e-14)


@given(
    N=st.integers(1, 6).map(lambda n: 2 * n),
    L=st.integers(1, 80),
    dt=st.floats(1e-4, 1.0),
    measure=st.sampled_from(["legs", "legt", "lagt", "fout"]),
)
def test_recurrence_equals_convolution_property(N, L, dt, measure):
    h = ss.dplr(measure, N)
    rng = np.random.default_rng(N * 1000 + L)
    c = rng.standard_normal(N) @ h.V
    u = rng.standard_normal(L)
    K = ss.kernel_dplr(h.Lambda, h.P, h.B, c, dt, L, halved=True)
    y, _ = ss.scan(sd.bilinear_dplr(h.Lambda, h.P, h.B, dt, halved=True), u, C=c, halved=True)
    assert _scaled_err(y, ss.causal_conv(u, K), K, u) <= max(8 * L * EPS64, 1e-14)
