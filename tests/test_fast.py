"""Fast paths of :mod:`statespace.reductions`: fused numba kernels and CUDA kernels.

Oracle: an explicit complex128 broadcast of the full ``(batch, L, N)`` term block
(independent of both the generic chunked path and the fused kernels), plus the
generic path itself for agreement checks.

Tolerances follow the error model of ``tests/test_reductions.py``: a computed sum of
``N`` terms ``t_n`` satisfies ``|y_hat - y| <= c * N * eps * sum_n |t_n|`` with
``c = 8`` (a few rounding errors per term for the difference, the reciprocal and the
product, and at most ``N`` for the summation). For the Vandermonde sums the generic
path adds ``eps * |x| l`` per term (the rounded product ``x * l``); the fused kernel
builds ``exp(x l)`` in float64, so the same bound holds with room to spare.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from util import eps_of, to_numpy

import statespace as ss
from statespace import (
    _compensated,
    _fast_cpu,
    _fast_cupy,
    _reduction_contract,
    _reductions_generic,
    _router,
    reductions,
)

C_ERR = 8

needs_numba = pytest.mark.skipif(not _fast_cpu.available(), reason="numba is not installed")


def _rand_c(rng, shape, dtype=np.complex128):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _poles(rng, shape, dtype=np.complex128):
    """Stable discrete-time poles inside the unit disk (as kernel_dplr produces)."""
    r = rng.uniform(0.3, 0.995, shape)
    th = rng.uniform(-np.pi, np.pi, shape)
    return (r * np.exp(1j * th)).astype(dtype)


def _nodes(L, dtype=np.complex128):
    return np.exp(2j * np.pi * np.arange(L) / L).astype(dtype)


def _naive_cauchy(v, z, w, conj):
    v, z, w = (np.asarray(a, dtype=np.complex128) for a in (v, z, w))
    t = v[..., None, :] / (z[..., :, None] - w[..., None, :])
    y, s = t.sum(-1), np.abs(t).sum(-1)
    if conj:
        t = v.conj()[..., None, :] / (z[..., :, None] - w.conj()[..., None, :])
        y, s = y + t.sum(-1), s + np.abs(t).sum(-1)
    return y, s


def _naive_vjp(g, z, w, conj):
    """The backward sums over the nodes by their definition, materialised in complex128:
    ``dv = sum_l g conj(r) (+ conj(g) r')``, ``beta = sum_l g conj(r)^2 (+ conj(g)
    r'^2)`` with ``r = 1/(z - w)``, ``r' = 1/(z - conj w)``; with their scales (sums of
    the terms' magnitudes). ``g``: batch + (M, L), ``z``: (..., L), ``w``: (..., N)."""
    g, z, w = (np.asarray(a, dtype=np.complex128) for a in (g, z, w))
    r = 1 / (z[..., None, :, None] - w[..., None, None, :])  # (..., 1, L, N)
    gl = g[..., :, :, None]
    dv, beta = (gl * r.conj()).sum(-2), (gl * r.conj() ** 2).sum(-2)
    sv, sb = (np.abs(gl * r)).sum(-2), (np.abs(gl * r * r)).sum(-2)
    if conj:
        r2 = 1 / (z[..., None, :, None] - w.conj()[..., None, None, :])
        dv, beta = dv + (gl.conj() * r2).sum(-2), beta + (gl.conj() * r2 ** 2).sum(-2)
        sv, sb = sv + np.abs(gl * r2).sum(-2), sb + np.abs(gl * r2 * r2).sum(-2)
    return dv, beta, sv, sb


def _naive_vandermonde(v, x, L):
    v, x = (np.asarray(a, dtype=np.complex128) for a in (v, x))
    t = v[..., None, :] * np.exp(x[..., None, :] * np.arange(L)[:, None])
    return t.sum(-1), np.abs(t).sum(-1)


def _check(y, ref, scale, n_terms, dtype):
    """``|y - ref| <= C_ERR * n_terms * eps * scale`` elementwise (n_terms may vary in l)."""
    err = np.abs(to_numpy(y) - ref) / scale
    tol = C_ERR * np.asarray(n_terms, dtype=float) * eps_of(dtype)
    assert np.all(np.isfinite(err))
    assert np.all(err <= tol), f"max err/(scale eps) {np.max(err / eps_of(dtype)):.1f}"
    return err.max()


@pytest.fixture
def force_fast(monkeypatch):
    """Route every size to the fused kernels and record their use."""
    monkeypatch.setattr(_fast_cpu, "MIN_WORK", 0)
    calls = []
    for name in ("cauchy", "vandermonde"):
        orig = getattr(_fast_cpu, name)

        def spy(*a, _orig=orig, _name=name, **k):
            calls.append(_name)
            return _orig(*a, **k)

        monkeypatch.setattr(_fast_cpu, name, spy)
    return calls


# ----------------------------------------------------------------------------------
# CPU kernels against the naive oracle
# ----------------------------------------------------------------------------------
CAUCHY_LAYOUTS = {
    # name: (v shape, z shape, w shape), N = 12, L = 300 (not a multiple of any chunk)
    "woodbury": ((5, 4, 12), (300,), (5, 1, 12)),
    "per-row": ((6, 12), (6, 300), (6, 12)),
    "shared-v": ((12,), (300,), (3, 12)),
    "numerator-axes": ((2, 3, 1, 5, 12), (300,), (4, 1, 12)),
    "nine": ((2, 9, 12), (1, 300), (2, 1, 12)),
}


@needs_numba
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("layout", sorted(CAUCHY_LAYOUTS))
def test_fused_cauchy_matches_oracle(force_fast, dtype, conj, layout, rng):
    sv, sz, sw = CAUCHY_LAYOUTS[layout]
    v, z, w = _rand_c(rng, sv, dtype), _nodes(sz[-1], dtype), _poles(rng, sw, dtype)
    z = np.broadcast_to(z, sz).copy()
    f = ss.cauchy_conj if conj else ss.cauchy
    y = f(v, z, w)
    assert force_fast == ["cauchy"]
    assert y.dtype == dtype and y.shape == np.broadcast_shapes(sv[:-1], sz[:-1], sw[:-1]) + (300,)
    ref, scale = _naive_cauchy(v, z, w, conj)
    _check(y, ref, scale, 2 * 12 if conj else 12, dtype)
    # and against the generic path (both within the bound of the oracle)
    with reductions.fast_paths("generic"):
        y_gen = f(v, z, w)
    _check(y_gen, ref, scale, 2 * 12 if conj else 12, dtype)


@needs_numba
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("L", [1, 17, 1000])
def test_fused_vandermonde_matches_oracle(force_fast, dtype, L, rng):
    H, M, N = 3, 2, 9
    v = _rand_c(rng, (H, M, N), dtype)
    x = (-rng.uniform(0, 0.01, (H, 1, N)) + 1j * rng.uniform(-1, 1, (H, 1, N))).astype(dtype)
    y = ss.vandermonde(v, x, L)
    assert force_fast == ["vandermonde"]
    assert y.dtype == dtype and y.shape == (H, M, L)
    ref, scale = _naive_vandermonde(v, x, L)
    # complex128: exp(x l0) inherits the rounding of the product x * l0 (as the generic
    # path does), eps * |x| * l; complex64: the float64 table makes that negligible
    extra = np.abs(x).max() * np.arange(L) if dtype == np.complex128 else 0
    _check(y, ref, scale, N + extra, dtype)


@needs_numba
def test_fused_vandermonde_long_sequence_is_accurate(rng):
    """exp(x l) built in float64: complex64 error stays O(eps) even for |x| l ~ 1e3."""
    N, L = 8, 4096
    v = _rand_c(rng, (4, N), np.complex64)
    x = (-rng.uniform(0, 1e-3, (4, N)) + 1j * rng.uniform(-0.5, 0.5, (4, N))).astype(np.complex64)
    y = _fast_cpu.vandermonde(v[:, None, :], x, L)[:, 0]
    ref, scale = _naive_vandermonde(v, x, L)
    # no eps * |x| * l term: the float64 table loses ~log2(chunk) float64 ulps only
    _check(y, ref, scale, N, np.complex64)


@needs_numba
@pytest.mark.parametrize("lc,l0", [(16, 15000), (512, 15000), (4096, 0)])
def test_vandermonde_powers_error_bound(lc, l0, rng):
    """The chunked, re-anchored powers P_l ~ exp(x l) (forward and backward kernels)
    against mpmath at 40 digits: within the bound of the module notes,
    [(k + 1)(5 + sqrt 5) + (|Re x| + |Im x|) l0] u |exp(x l)|, k = ceil(log2 lc),
    relative to the exact exponential of the float64 x."""
    mpmath = pytest.importorskip("mpmath")
    u = 2.0**-53
    k = math.ceil(math.log2(lc))
    # positions l0 .. l0 + n - 1 over several chunks (exp(Re x l) stays normal); l0 = 0:
    # no anchor term, the table's own error alone (a power-by-power recurrence fails)
    n = 1200
    worst = 0.0
    with mpmath.workdps(40):
        for a, c in [(-1e-4, 0.3), (-0.02, 2.9), (-3e-3, -77.0), (0.0, 1.0)] + [
                (-rng.uniform(0, 1e-3), rng.uniform(-4, 4)) for _ in range(3)]:
            pr, pi = _fast_cpu.powers(a, c, l0, n, lc)
            x = mpmath.mpc(a, c)
            for j in range(0, n, 7):
                l = l0 + j
                exact = mpmath.exp(x * l)
                err = abs(mpmath.mpc(pr[j], pi[j]) - exact) / abs(exact)
                anchor = l0 + (j // lc) * lc
                bound = ((k + 1) * (5 + math.sqrt(5)) + (abs(a) + abs(c)) * anchor) * u
                worst = max(worst, float(err / bound))
    assert worst <= 1.0
    assert worst > 1e-3  # the errors are measured, not below the oracle's resolution


@needs_numba
@pytest.mark.parametrize("conj", [False, True])
def test_compensated_cauchy_near_collisions(conj, rng):
    """Poles 1e-7..1e-5 inside the unit circle next to the nodes (long-memory S4 modes).

    Rounding z and w to complex64 makes a relative error eps32 / |z - w| ~ 1 in the
    nearest terms; the compensated difference keeps it at a few eps32 per term. The
    oracle takes the complex128 z and w as exact.
    """
    L, N = 512, 16
    z = _nodes(L)
    k = rng.integers(0, L, N)
    w = z[k] * (1 - 10.0 ** rng.uniform(-7, -5, N)) * np.exp(1j * rng.uniform(-1, 1, N) / L)
    v = _rand_c(rng, (3, N), np.complex64)
    ref, scale = _naive_cauchy(v, z, w, conj)
    n_terms = 2 * N if conj else N
    # compensated: numpy fused kernel, and the generic array-API version
    y = _compensated.cauchy_compensated(v, z, w, conj=conj)
    assert y.dtype == np.complex64
    _check(y, ref, scale, n_terms, np.complex64)
    hi_lo = [_compensated.split(np, a, np.complex64) for a in (z, w)]
    lay = _reduction_contract.Layout(v.shape[:-1], ((), ()), ("v", "z", "w"))
    vs = lay.numerators(np, v)
    y_gen = _reductions_generic.cauchy_compensated(
        np, vs, hi_lo[0][0][None], hi_lo[0][1][None], hi_lo[1][0][None], hi_lo[1][1][None],
        100, conj=conj)
    _check(lay.finish(np, y_gen), ref, scale, n_terms, np.complex64)
    # rounding z and w first is far worse, which is the point of the compensation
    y_plain = (ss.cauchy_conj if conj else ss.cauchy)(v, z.astype(np.complex64),
                                                      w.astype(np.complex64))
    assert np.max(np.abs(y_plain - ref) / scale) > 1e3 * np.max(np.abs(y - ref) / scale)


def test_compensated_double_is_plain(rng):
    v, w, z = _rand_c(rng, (2, 5)), _poles(rng, (2, 5)), _nodes(7)
    np.testing.assert_array_equal(_compensated.cauchy_compensated(v, z, w, conj=True),
                                  ss.cauchy_conj(v, z, w))


# ----------------------------------------------------------------------------------
# dispatch
# ----------------------------------------------------------------------------------
@needs_numba
def test_dispatch_numpy(monkeypatch, rng):
    calls = []
    orig = _fast_cpu.cauchy
    monkeypatch.setattr(_fast_cpu, "cauchy", lambda *a, **k: calls.append(1) or orig(*a, **k))
    v, w = _rand_c(rng, (8, 64)), _poles(rng, (8, 64))
    ss.cauchy(v, _nodes(512), w)  # 8 * 64 * 512 >= MIN_WORK: fused
    assert len(calls) == 1
    ss.cauchy(v[:1, :4], _nodes(8), w[:1, :4])  # tiny: generic
    assert len(calls) == 1
    with reductions.fast_paths("generic"):
        ss.cauchy(v, _nodes(512), w)
    assert len(calls) == 1


@needs_numba
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("conj", [False, True])
def test_fused_cauchy_vjp_matches_oracle(dtype, conj, rng):
    """The backward kernel's sums over the nodes: batched gradient rows, nodes shared by
    the rows, poles per row; N = 40 poles split into several chunks per row."""
    g = _rand_c(rng, (3, 4, 150), dtype)
    z = _nodes(150, dtype)
    w = _poles(rng, (3, 40), dtype)
    dv, beta = _fast_cpu.cauchy_vjp(g, z[None], w, conj=conj)
    rdv, rbeta, sv, sb = _naive_vjp(g, z[None], w, conj)
    assert dv.shape == beta.shape == (3, 4, 40) and dv.dtype == dtype
    # L terms (2 L with the conjugate poles), a few roundings each
    n_terms = 2 * 150 if conj else 150
    _check(dv, rdv, sv, n_terms, dtype)
    _check(beta, rbeta, sb, n_terms, dtype)


@needs_numba
def test_dispatch_torch_cpu(monkeypatch, rng):
    torch = pytest.importorskip("torch")
    calls = []
    orig = _fast_cpu.cauchy
    monkeypatch.setattr(_fast_cpu, "cauchy", lambda *a, **k: calls.append(1) or orig(*a, **k))
    v, w, z = _rand_c(rng, (8, 64)), _poles(rng, (8, 64)), _nodes(512)
    ref, scale = _naive_cauchy(v, z, w, True)
    V, W, Z = (torch.from_numpy(a) for a in (v, w, z))
    y = ss.cauchy_conj(V.conj(), Z, W.conj())  # lazily conjugated views are resolved
    assert isinstance(y, torch.Tensor) and y.dtype == torch.complex128 and y.device.type == "cpu"
    assert len(calls) == 1
    # the conjugate-symmetric sum is invariant under (v, w) -> (conj v, conj w)
    _check(y, ref, scale, 128, np.complex128)
    # a tensor that needs a gradient goes to the autograd Function, whose forward pass
    # runs on the compiled kernel too
    Vg = V.clone().requires_grad_(True)
    yg = ss.cauchy_conj(Vg, Z, W)
    assert yg.requires_grad and "CauchyFunction" in type(
        yg.grad_fn.next_functions[0][0]).__name__
    assert len(calls) == 2
    with torch.no_grad():
        ss.cauchy_conj(Vg, Z, W)
    assert len(calls) == 3


def test_fast_paths_switch():
    """One switch: set for the program or inside a ``with`` block; bad modes raise."""
    start = _reduction_contract.fast_mode
    with reductions.fast_paths("generic") as previous:
        assert previous == start and _reduction_contract.fast_mode == "generic"
        assert not _fast_cpu.available() and not _fast_cupy.available()
        with reductions.fast_paths("custom"):
            assert _reduction_contract.fast_mode == "custom"
        assert _reduction_contract.fast_mode == "generic"
    assert _reduction_contract.fast_mode == start
    handle = reductions.fast_paths("custom")  # no block: stays set
    try:
        assert handle.previous == start and _reduction_contract.fast_mode == "custom"
    finally:
        reductions.fast_paths(handle.previous)
    assert _reduction_contract.fast_mode == start
    with pytest.raises(ValueError, match="mode must be one of"):
        reductions.fast_paths("fast")
    with pytest.raises(TypeError, match="mode"):
        reductions.fast_paths(False)
    assert _reduction_contract.fast_mode == start


@pytest.mark.parametrize("value,mode", [(None, "auto"), ("", "auto"), ("1", "auto"),
                                        (" Auto ", "auto"), ("0", "generic"),
                                        ("false", "generic"), ("OFF", "generic"),
                                        ("custom", "custom")])
def test_fast_paths_environment_values(value, mode):
    assert _reduction_contract._mode_from_env(value) == mode


def test_fast_paths_environment_variable():
    """STATESPACE_FAST sets the initial mode at import; a bad value raises there."""
    code = ("from statespace import _fast_cpu, _reduction_contract as c; "
            "print(c.fast_mode, _fast_cpu.available())")
    for value, expect in (("0", "generic False"), ("custom", "custom")):
        env = {**os.environ, "STATESPACE_FAST": value}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(expect)
    env = {**os.environ, "STATESPACE_FAST": "fastest"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode != 0 and "STATESPACE_FAST must be one of" in out.stderr


@needs_numba
def test_fast_paths_modes_route(monkeypatch, rng):
    """auto: compiled kernel; generic: neither kernel nor Function; custom: torch always
    through the autograd Function, NumPy still compiled."""
    torch = pytest.importorskip("torch")
    from statespace import _torch_reductions

    calls = []
    for mod, name in ((_fast_cpu, "cauchy"), (_torch_reductions, "cauchy_function")):
        orig = getattr(mod, name)

        def spy(*a, _orig=orig, _name=name, **k):
            calls.append(_name)
            return _orig(*a, **k)

        monkeypatch.setattr(mod, name, spy)
    v, w, z = _rand_c(rng, (8, 64)), _poles(rng, (8, 64)), _nodes(512)
    V, W, Z = (torch.from_numpy(a) for a in (v, w, z))
    ref = ss.cauchy(v, z, w)
    assert calls == ["cauchy"]
    for mode, expect in (("auto", ["cauchy", "cauchy"]), ("generic", []),
                         ("custom", ["cauchy", "cauchy_function"])):
        calls.clear()
        with reductions.fast_paths(mode):
            ys = [ss.cauchy(v, z, w), ss.cauchy(V, Z, W)]
        assert calls == expect, mode
        for y in ys:
            np.testing.assert_allclose(to_numpy(y), ref, rtol=1e-12, atol=0)


@needs_numba
def test_out_of_range_inputs_use_generic(monkeypatch, rng):
    calls = []
    orig = _fast_cpu.cauchy
    monkeypatch.setattr(_fast_cpu, "cauchy", lambda *a, **k: calls.append(1) or orig(*a, **k))
    v = _rand_c(rng, (4, 64), np.complex64)
    w = (_poles(rng, (4, 64)) * 1e20).astype(np.complex64)  # |z - w|^2 overflows float32
    z = (_nodes(512) * 1e20).astype(np.complex64)
    y = ss.cauchy(v, z, w)
    assert not calls and np.all(np.isfinite(y))


@needs_numba
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("node", [0, 10, 2048])
def test_coinciding_node_raises(force_fast, conj, node, rng):
    # the kernel counts non-finite sums as it stores them, in every chunk (the last
    # node of 2049 sits alone past the even chunks); the generic path recomputes the
    # chunk and finds the coincidence
    v, w = _rand_c(rng, (2, 8)), _poles(rng, (2, 8))
    z = _nodes(2049)
    w[1, 3] = z[node]
    with pytest.raises(ValueError, match="z coincides with a pole w"):
        (ss.cauchy_conj if conj else ss.cauchy)(v, z, w)
    assert force_fast == ["cauchy"]  # the fused kernel ran first


@needs_numba
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_fused_vandermonde_overflow_raises(force_fast, rng):
    v = _rand_c(rng, (2, 3))
    with pytest.raises(ValueError, match="vandermonde produced non-finite"):
        ss.vandermonde(v, np.array([-0.1, 0.0, 10.0]), 300)  # exp(10 * 299) overflows
    assert force_fast == ["vandermonde"]


# ----------------------------------------------------------------------------------
# non-finite sums of a fast path: the chunk is recomputed by the generic path
# ----------------------------------------------------------------------------------
@pytest.fixture
def generic_calls(monkeypatch):
    """Record the generic implementations' calls (name and arguments)."""
    calls = []
    for name in ("cauchy", "cauchy_compensated", "vandermonde"):
        orig = getattr(_reductions_generic, name)

        def spy(*a, _orig=orig, _name=name, **k):
            calls.append((_name, a))
            return _orig(*a, **k)

        monkeypatch.setattr(_reductions_generic, name, spy)
    return calls


def _tiny_difference_case(rng, M, L, node, comp=False):
    """complex64 inputs with a pole 3e-20 from node ``node`` in batch row 1.

    The fused reciprocal ``conj(d) / |d|^2`` overflows there (``|d|^2 = 9e-40``) while
    ``1 / d = 3.3e19`` and the sum are finite. ``comp``: nodes and poles in complex128,
    for the compensated sum (whose low parts are then zero).
    """
    dt = np.complex128 if comp else np.complex64
    v = _rand_c(rng, (3, M, 8), np.complex64)
    w = _poles(rng, (3, 1, 8), dt)
    z = _nodes(L, dt)
    z[node] = 0
    w[1, 0, 5] = 3e-20 * np.exp(0.3j)
    return v, z, w


def _chunks_of_fused(M, L, nb, dtype=np.complex64):
    """Positions per task of the fused kernel and the number of chunks per row."""
    lc = _fast_cpu._chunk(M, L, _fast_cpu._REAL[np.dtype(dtype)], nb)
    return lc, -(-L // lc)


@needs_numba
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("M", [1, 4])  # the chunk loop and the one-pass rank-1 loop
def test_fused_cauchy_tiny_difference_falls_back(force_fast, generic_calls, where, conj, M,
                                                 rng):
    """A sum that only the fused formula overflows gets its finite generic value; only
    the chunk holding it is recomputed, the rest is the fused kernel's output."""
    L = 2049
    lc, nchunk = _chunks_of_fused(M, L, 3)
    assert nchunk >= 3
    c = {"first": 0, "middle": nchunk // 2, "last": nchunk - 1}[where]
    node = {"first": 0, "middle": c * lc + lc // 2, "last": L - 1}[where]
    v, z, w = _tiny_difference_case(rng, M, L, node)
    f = ss.cauchy_conj if conj else ss.cauchy
    y = f(v, z, w)
    assert force_fast == ["cauchy"] and y.dtype == np.complex64
    assert np.all(np.isfinite(y))
    # exactly one generic call: batch row 1, the nodes of chunk c
    l0, l1 = c * lc, min(L, (c + 1) * lc)
    assert [name for name, _ in generic_calls] == ["cauchy"]
    _, (_, vs_r, z_r, w_r, _) = generic_calls[0]
    np.testing.assert_array_equal(z_r, z[l0:l1])
    np.testing.assert_array_equal(w_r, w[1, 0])
    assert vs_r.shape == (M, 8)
    # the chunk equals the generic path's, to the oracle's bound
    ref, scale = _naive_cauchy(v, z, w, conj)
    _check(y, ref, scale, 16 if conj else 8, np.complex64)
    with reductions.fast_paths("generic"):
        # the generic path on the chunk's own nodes: the same sums in the same order
        # (over all L nodes its blocking, hence its float32 rounding, may differ)
        y_gen = f(v, z[l0:l1], w)
    np.testing.assert_allclose(y[1, :, l0:l1], y_gen[1], rtol=4 * eps_of(np.complex64))
    # everything else is the fused kernel's output, untouched
    bad = []
    raw = _fast_cpu.cauchy(v, z[None], w[:, 0], conj=conj, bad=bad)
    assert bad == [((1,), l0, l1)]
    assert not np.all(np.isfinite(raw[1, :, l0:l1]))
    keep = np.ones(y.shape, dtype=bool)
    keep[1, :, l0:l1] = False
    np.testing.assert_array_equal(y[keep], raw[keep])


@needs_numba
@pytest.mark.parametrize("conj", [False, True])
def test_fused_compensated_tiny_difference_falls_back(force_fast, generic_calls, conj, rng):
    v, z, w = _tiny_difference_case(rng, 4, 2049, 7, comp=True)
    y = _compensated.cauchy_compensated(v, z, w, conj=conj)
    assert force_fast == ["cauchy"] and y.dtype == np.complex64
    assert [name for name, _ in generic_calls] == ["cauchy_compensated"]
    ref, scale = _naive_cauchy(v, z, w, conj)
    _check(y, ref, scale, 16 if conj else 8, np.complex64)


@needs_numba
def test_fused_fallback_on_torch_cpu(force_fast, generic_calls, rng):
    torch = pytest.importorskip("torch")
    v, z, w = _tiny_difference_case(rng, 4, 2049, 1000)
    y = ss.cauchy_conj(*(torch.from_numpy(a) for a in (v, z, w)))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.complex64
    assert force_fast == ["cauchy"] and len(generic_calls) == 1
    ref, scale = _naive_cauchy(v, z, w, True)
    _check(y, ref, scale, 16, np.complex64)


def test_task_chunks():
    # 2 x 2 rows of 10 positions in chunks of 4: tasks 0..11
    got = _reduction_contract.task_chunks([0, 5, 7, 11], (2, 2), 10, 4)
    assert got == [((0, 0), 0, 4), ((0, 1), 8, 10), ((1, 0), 4, 8), ((1, 1), 8, 10)]
    assert _reduction_contract.task_chunks([2], (), 10, 4) == [((), 8, 10)]


@needs_numba
def test_fused_fallback_multi_axis_batch(force_fast, generic_calls, rng):
    """Batch rows broadcast from operands of fewer axes (a shared ``z``, per-row ``w``)."""
    v = _rand_c(rng, (1, 3, 8), np.complex64)
    w = _poles(rng, (2, 3, 8), np.complex64)
    z = _nodes(700, np.complex64)
    z[650] = 0
    w[1, 2, 5] = 3e-20
    y = ss.cauchy_conj(v, z, w)
    assert y.shape == (2, 3, 700) and np.all(np.isfinite(y))
    assert force_fast == ["cauchy"] and len(generic_calls) == 1
    ref, scale = _naive_cauchy(v, z, w, True)
    _check(y, ref, scale, 16, np.complex64)


@needs_numba
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("conj", [False, True])
def test_fused_fallback_raises_when_generic_is_nonfinite_too(force_fast, generic_calls, conj,
                                                            rng):
    """A pole 1e-40 from a node: 1 / d overflows complex64 on every path."""
    v, z, w = _tiny_difference_case(rng, 4, 2049, 3)
    w[1, 0, 5] = 1e-40
    with pytest.raises(ValueError, match="produced non-finite values"):
        (ss.cauchy_conj if conj else ss.cauchy)(v, z, w)
    assert force_fast == ["cauchy"] and len(generic_calls) == 1


@needs_numba
def test_fused_vandermonde_overflow_falls_back(monkeypatch, force_fast, generic_calls, rng):
    """complex128, ``|exp(x l)|`` between the largest double and sqrt(2) times it.

    The value ``exp(710) e^{i pi/4}`` has both parts finite (1.58e308), and NumPy's
    complex ``exp`` scales to get them; the fused kernel's ``exp(x l0)`` at the start
    of a chunk (``exp(710)``) overflows. Chunks of 16 positions put the last position
    ``l = 16 q`` at the start of a chunk. (In complex64 the fused kernel forms
    ``exp(x l)`` in float64, whose range covers the generic path's, so there is no
    such case.)
    """
    monkeypatch.setattr(_fast_cpu, "_chunk", lambda *a: 16)
    L = 16 * 20 + 1
    v = _rand_c(rng, (3, 2, 4))
    x = -rng.uniform(0, 0.01, (3, 1, 4)) + 1j * rng.uniform(-1, 1, (3, 1, 4))
    x[2, 0, 1] = (710.0 + 1j * np.pi / 4) / (L - 1)
    v[2, :, 1] = 1e-3  # the sum stays below the largest double
    bad = []
    raw = _fast_cpu.vandermonde(v, x[:, 0], L, bad=bad)
    assert bad == [((2,), L - 1, L)] and not np.all(np.isfinite(raw[2, :, -1]))
    y = ss.vandermonde(v, x, L)
    assert force_fast == ["vandermonde", "vandermonde"]
    assert [name for name, _ in generic_calls] == ["vandermonde"]
    assert np.all(np.isfinite(y))
    with reductions.fast_paths("generic"):
        y_gen = ss.vandermonde(v, x, L)
    np.testing.assert_array_equal(y[2, :, -1], y_gen[2, :, -1])
    np.testing.assert_array_equal(y[:, :, :-1], raw[:, :, :-1])
    np.testing.assert_array_equal(y[:2], raw[:2])


def test_without_numba_everything_runs():
    """The package works (generic path) when numba cannot be imported."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["numba"] = None  # makes `import numba` raise ImportError
        import numpy as np
        import statespace as ss
        from statespace import _fast_cpu
        assert not _fast_cpu.available()
        rng = np.random.default_rng(0)
        v = rng.standard_normal((4, 64)) + 0j
        w = -rng.uniform(0.5, 1.0, (4, 64)) + 0j
        z = np.exp(2j * np.pi * np.arange(512) / 512)
        y = ss.cauchy(v, z, w)
        ref = (v[:, None, :] / (z[:, None] - w[:, None, :])).sum(-1)
        assert np.allclose(y, ref, rtol=1e-12, atol=0)
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


_BITS_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from statespace import _fast_cpu as f
    rng = np.random.default_rng(0)
    v = rng.standard_normal((8, 4, 16)) + 1j * rng.standard_normal((8, 4, 16))
    x = -rng.uniform(1e-3, 0.1, (8, 16)) + 1j * rng.uniform(0, 3, (8, 16))
    z = np.exp(2j * np.pi * np.arange(1025) / 2048)
    w = 0.9 * np.exp(1j * rng.uniform(0, 3, (8, 16)))
    out = {}
    for dt in (np.complex64, np.complex128):
        vd, zd, wd = v.astype(dt), z.astype(dt), w.astype(dt)
        lo = {"z_lo": (z - zd).astype(dt), "w_lo": (w - wd).astype(dt)}
        out["vandermonde" + dt.__name__] = f.vandermonde(vd, x.astype(dt), 4096)
        for conj in (False, True):
            key = f"{conj}{dt.__name__}"
            out["cauchy" + key] = f.cauchy(vd, zd, wd, conj=conj)
            out["comp" + key] = f.cauchy(vd, zd, wd, conj=conj, **lo)
            out["M5" + key] = f.cauchy(np.concatenate([vd, vd[:, :1]], 1), zd, wd, conj=conj)
    np.savez(sys.argv[1], **out)
    """
)


@needs_numba
@pytest.mark.slow
def test_fused_results_do_not_depend_on_the_compile_cache(tmp_path):
    """A fresh compile and numba's cached object code give the same bits (every
    kernel variant, both precisions)."""
    script = tmp_path / "bits.py"
    script.write_text(_BITS_SCRIPT)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("fresh", "cached"):
        out = subprocess.run([sys.executable, str(script), str(tmp_path / name)],
                             capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr
    fresh, cached = np.load(tmp_path / "fresh.npz"), np.load(tmp_path / "cached.npz")
    assert sorted(fresh) == sorted(cached)
    for key in fresh:
        assert np.array_equal(fresh[key], cached[key]), key


# ----------------------------------------------------------------------------------
# GPU kernels (CuPy RawKernel; torch CUDA through DLPack). Skipped without a GPU.
# ----------------------------------------------------------------------------------
def _gpu_reason():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
    except Exception:
        return "CuPy with a CUDA device is not available"
    return None


_GPU_REASON = _gpu_reason()


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("backend", ["cupy", "torch_cuda"])
@pytest.mark.gpu
@pytest.mark.skipif(_GPU_REASON is not None, reason=str(_GPU_REASON))
def test_gpu_cauchy_and_vandermonde(dtype, conj, backend, rng):  # pragma: no cover - GPU
    import cupy

    if backend == "cupy":
        conv = cupy.asarray
    else:
        torch = pytest.importorskip("torch")

        def conv(a):
            return torch.from_numpy(np.ascontiguousarray(a)).cuda()

    v, w, z = _rand_c(rng, (5, 4, 40), dtype), _poles(rng, (5, 1, 40), dtype), _nodes(700, dtype)
    y = (ss.cauchy_conj if conj else ss.cauchy)(conv(v), conv(z), conv(w))
    assert type(y) is type(conv(v)) and str(y.dtype).endswith(np.dtype(dtype).name)
    ref, scale = _naive_cauchy(v, z, w, conj)
    _check(y, ref, scale, 80 if conj else 40, dtype)
    # the kernel is what ran
    got = _fast_cupy.try_cauchy(conv(v[:, 0, :])[:, None, :], conv(z)[None], conv(w[:, 0, :]),
                                conj=conj)
    assert got is not None
    x = (-rng.uniform(0, 0.01, (5, 1, 40)) + 1j * rng.uniform(-1, 1, (5, 1, 40))).astype(dtype)
    yv = ss.vandermonde(conv(v), conv(x), 700)
    ref, scale = _naive_vandermonde(v, x, 700)
    _check(yv, ref, scale, 40 + 700, dtype)
    # compensated differences on the device
    zc = _nodes(700)
    wc = zc[:40] * (1 - 1e-6)
    yc = _compensated.cauchy_compensated(conv(v[0]), conv(zc), conv(wc), conj=conj)
    ref, scale = _naive_cauchy(v[0], zc, wc, conj)
    if dtype == np.complex64:
        _check(yc, ref, scale, 80 if conj else 40, dtype)


# ----------------------------------------------------------------------------------
# The CUDA sources, compiled as C++ and run in a one-thread-per-block emulation
# ----------------------------------------------------------------------------------
_CUDA_STUB = r"""
#include <math.h>
#include <algorithm>
struct dim3_ { unsigned x, y, z; };
static dim3_ blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __shared__ static
#define __restrict__
#define __syncthreads() do {} while (0)
using std::min;
"""


class _EmulatedRawKernel:
    """Stand-in for ``cupy.RawKernel``: the same source compiled by the host C++ compiler.

    With one thread per block (``blockDim.x == 1``, the grid widened to cover the same
    node range) running the blocks one after another is exact: that thread does the
    shared-memory staging and ``__syncthreads`` has nothing to wait for. What this does
    not cover: NVRTC itself, warps, and device math (libm stands in for CUDA's).
    """

    def __init__(self, src, name, tmpdir):
        import ctypes
        import re

        sig = re.search(name + r"\((.*?)\)\s*\{", src, re.S).group(1)
        params = [p.strip() for p in sig.split(",")]
        names = [re.findall(r"\w+", p)[-1] for p in params]
        driver = (
            f'extern "C" void run(unsigned gx, unsigned gy, {", ".join(params)}) {{\n'
            "  blockDim.x = 1; threadIdx.x = 0; gridDim.x = gx; gridDim.y = gy;\n"
            "  for (unsigned by = 0; by < gy; ++by) for (unsigned bx = 0; bx < gx; ++bx) {\n"
            f"    blockIdx.x = bx; blockIdx.y = by; {name}({', '.join(names)}); }}\n}}\n"
        )
        cpp = tmpdir / f"k{abs(hash(src))}.cpp"
        cpp.write_text(_CUDA_STUB + src + driver)
        so = cpp.with_suffix(".so")
        subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(so), str(cpp)], check=True,
                       capture_output=True)
        self.lib = ctypes.CDLL(str(so))
        self.params = params

    def __call__(self, grid, block, args):
        import ctypes

        conv = []
        for p, a in zip(self.params, args, strict=True):
            if isinstance(a, np.ndarray):
                conv.append(ctypes.c_void_p(a.ctypes.data))
            elif "long long" in p:
                conv.append(ctypes.c_longlong(int(a)))
            else:
                conv.append(ctypes.c_int(int(a)))
        self.lib.run(ctypes.c_uint(grid[0] * block[0]), ctypes.c_uint(grid[1]), *conv)


needs_gxx = pytest.mark.skipif(
    subprocess.run(["which", "g++"], capture_output=True).returncode != 0,
    reason="needs a host C++ compiler")


def _emulate_cupy(monkeypatch, tmp_path):
    """Install NumPy with the emulated RawKernel as ``cupy``."""
    import types

    fake = types.SimpleNamespace(**{k: getattr(np, k) for k in (
        "complex64", "complex128", "float32", "float64", "int64", "int32", "empty",
        "arange", "ascontiguousarray", "broadcast_to", "broadcast_shapes", "zeros_like",
        "isfinite", "all", "nonzero", "zeros")})
    fake.RawKernel = lambda src, name: _EmulatedRawKernel(src, name, tmp_path)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(_fast_cupy, "_HAVE_CUPY", True)
    monkeypatch.setattr(_fast_cupy, "_compiled", {})
    monkeypatch.setattr(_fast_cupy, "MAX_M", 2)  # M = 4 then takes two launches (k0)


@needs_gxx
def test_cuda_sources_in_cpu_emulation(monkeypatch, tmp_path, rng):
    """The CuPy kernels' source and host glue, on NumPy with the emulated RawKernel."""
    _emulate_cupy(monkeypatch, tmp_path)
    # a grid-stride loop over batch rows: fewer y-blocks than rows
    monkeypatch.setattr(_fast_cupy, "_GRID_Y", 2)
    # NumPy arrays stand for CuPy arrays in the try_* entry points
    monkeypatch.setattr(_fast_cupy, "_eligible", lambda arrays: (list(arrays), None))
    for dtype, conj in ((np.complex64, True), (np.complex128, False)):
        # N = 70 poles > TILE = 64: two shared-memory tiles
        v, w = _rand_c(rng, (3, 4, 70), dtype), _poles(rng, (3, 1, 70), dtype)
        z = _nodes(150, dtype)
        y = _fast_cupy.cauchy(v, z[None], w[:, 0], conj=conj)
        ref, scale = _naive_cauchy(v, z, w, conj)
        _check(y, ref, scale, 140 if conj else 70, dtype)
        x = (-rng.uniform(0, 0.01, (3, 70)) + 1j * rng.uniform(-1, 1, (3, 70))).astype(dtype)
        yv = _fast_cupy.vandermonde(v, x, 150)
        ref, scale = _naive_vandermonde(v, x[:, None, :], 150)
        _check(yv, ref, scale, 70, dtype)
        # the backward kernel: dv and beta against their definition (N = 150 poles:
        # two blocks of threads; L = 70 nodes: two shared-memory tiles)
        g, wv = _rand_c(rng, (3, 4, 70), dtype), _poles(rng, (3, 150), dtype)
        zv = _nodes(70, dtype)
        dv, beta = _fast_cupy.cauchy_vjp(g, zv[None], wv, conj=conj)
        rdv, rbeta, sv, sb = _naive_vjp(g, zv[None], wv, conj)
        _check(dv, rdv, sv, 140 if conj else 70, dtype)
        _check(beta, rbeta, sb, 140 if conj else 70, dtype)
        # and through try_cauchy_vjp, as the autograd Function calls it
        got = _fast_cupy.try_cauchy_vjp(g, zv[None], wv, conj=conj)
        np.testing.assert_array_equal(got[0], dv)
        np.testing.assert_array_equal(got[1], beta)
    # compensated differences
    zc = _nodes(64)
    wc = zc[:5] * (1 - 1e-7)
    vc = _rand_c(rng, (2, 5), np.complex64)
    zh, zl = _compensated.split(np, zc, np.complex64)
    wh, wl = _compensated.split(np, wc, np.complex64)
    y = _fast_cupy.cauchy(vc[None], zh[None], wh[None], conj=True, z_lo=zl[None], w_lo=wl[None])
    ref, scale = _naive_cauchy(vc, zc, wc, True)
    _check(y[0], ref, scale, 10, np.complex64)
    gc = _rand_c(rng, (1, 2, 64), np.complex64)
    dv, beta = _fast_cupy.cauchy_vjp(gc, zh[None], wh[None], conj=True, z_lo=zl[None],
                                     w_lo=wl[None])
    rdv, rbeta, sv, sb = _naive_vjp(gc, zc[None], wc[None], True)
    _check(dv, rdv, sv, 10, np.complex64)
    _check(beta, rbeta, sb, 10, np.complex64)


@needs_gxx
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_cuda_vandermonde_grad_in_cpu_emulation(monkeypatch, tmp_path, dtype, rng):
    """The CUDA backward kernel (source and host glue, emulated) against the gradient
    sums evaluated directly in NumPy: M = 3 numerators in two launches (MAX_M = 2, the
    gx sums added across them), broadcast exponents, L = 300 > REANCHOR steps."""
    _emulate_cupy(monkeypatch, tmp_path)
    L, N = 300, 5
    v = _rand_c(rng, (2, 3, N), dtype)
    x = (-rng.uniform(0, 0.01, (1, N)) + 1j * rng.uniform(-2, 2, (1, N))).astype(dtype)
    g = _rand_c(rng, (2, 3, L), dtype)
    gv, gx = _fast_cupy.vandermonde_grad(g, v, x)
    assert gv.dtype == dtype and gv.shape == (2, 3, N) and gx.shape == (2, N)
    # oracle: sum_l g e^{conj(x) l} and sum_m conj(v) sum_l l g e^{conj(x) l}, complex128
    ell = np.arange(L)
    E = np.exp(np.conj(x.astype(np.complex128))[..., None] * ell)  # (1, N, L)
    g64 = g.astype(np.complex128)
    ref_v = np.einsum("bml,bnl->bmn", g64, np.broadcast_to(E, (2, N, L)))
    ref_x = np.einsum("bmn,bml,bnl->bn", np.conj(v.astype(np.complex128)), g64 * ell,
                      np.broadcast_to(E, (2, N, L)))
    # double sums of L terms (each rounded to the input precision once at the end)
    tol_v = (L * 2.0**-52 + eps_of(dtype)) * np.abs(g64).sum(-1).max()
    tol_x = (L * 2.0**-52 + eps_of(dtype)) * 3 * np.abs(v).max() * (np.abs(g64) * ell).sum(-1).max()
    assert np.abs(gv - ref_v).max() <= 4 * tol_v
    assert np.abs(gx - ref_x).max() <= 4 * tol_x


@needs_gxx
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_cuda_fallback_in_cpu_emulation(monkeypatch, tmp_path, generic_calls, rng):
    """Behind the CuPy kernels (emulated) the router recomputes the non-finite blocks
    (batch row, 128 positions) with the generic path, and raises only when the
    generic result is non-finite too."""
    _emulate_cupy(monkeypatch, tmp_path)
    monkeypatch.setattr(_fast_cupy, "_HAVE_CUPY", True)
    monkeypatch.setattr(_fast_cupy, "_eligible", lambda arrays: (list(arrays), None))
    monkeypatch.setattr(_router, "_compiled_kernels", lambda xp, mode: [_fast_cupy])
    L = 300
    v, z, w = _tiny_difference_case(rng, 4, L, 130)
    raw = _fast_cupy.cauchy(v, z[None], w[:, 0], conj=True)
    assert _fast_cupy.nonfinite_chunks(np, raw) == [((1,), 128, 256)]
    y = ss.cauchy_conj(v, z, w)
    assert np.all(np.isfinite(y))
    assert [name for name, _ in generic_calls] == ["cauchy"]
    np.testing.assert_array_equal(generic_calls[0][1][2], z[128:256])
    ref, scale = _naive_cauchy(v, z, w, True)
    _check(y, ref, scale, 16, np.complex64)
    keep = np.ones(y.shape, dtype=bool)
    keep[1, :, 128:256] = False
    np.testing.assert_array_equal(y[keep], raw[keep])
    # every block finite: nothing to recompute
    assert _fast_cupy.nonfinite_chunks(np, y) == []
    # exp(10 l) overflows on every path
    generic_calls.clear()
    x = np.array([-0.1, 0.0, 10.0], dtype=np.complex64)
    with pytest.raises(ValueError, match="vandermonde produced non-finite"):
        ss.vandermonde(v[0, :, :3], x, L)
    assert [name for name, _ in generic_calls] == ["vandermonde"]


@pytest.mark.skipif(not _fast_cpu.available(), reason="numba is not installed")
def test_fused_kernels_keep_torch_thread_count():
    """numba's OpenMP layer shares torch's runtime; the user's thread count survives."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        v = np.ones((3, 2, 8), dtype=np.complex128)
        z = np.exp(2j * np.pi * np.arange(64) / 64)
        w = np.full(8, 0.5 + 0j)
        _fast_cpu.cauchy(v, z, w, conj=False)
        _fast_cpu.vandermonde(v, np.log(w), 64)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)


@needs_numba
@pytest.mark.parametrize("M", [1, 4])  # the chunk loop and the one-pass rank-1 loop
def test_fused_conj_real_pole_next_to_a_node(force_fast, M):
    """float32 range of the conjugate reciprocals: a real pole 1e-12 from the node 1.

    Both differences are ``d = 1e-12`` (the pole equals its conjugate), so each
    reciprocal is 1e12, well inside float32; a product ``|d_1|^2 |d_2|^2 = 1e-48`` would
    underflow. Oracle: the float64 sum; each term is exact to a few float32 eps.
    """
    w = np.full((1, 1, 3), 1 - 1e-12 + 0j)
    z = np.exp(2j * np.pi * np.arange(8) / 8)
    v = np.ones((1, M, 3), dtype=np.complex64)
    y = _compensated.cauchy_compensated(v, z, w, conj=True)
    assert force_fast
    ref = (2 / (z[None, :] - w[0, 0, :, None])).sum(0)  # v = 1, w real: v/d + v/d
    rtol = 8 * 3 * float(np.finfo(np.float32).eps)  # 3 terms, a few roundings each
    np.testing.assert_allclose(y[0], np.broadcast_to(ref, y[0].shape), rtol=rtol)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tilde", [True, False])
@pytest.mark.parametrize("halved", [True, False])
def test_kernel_dplr_rank1_one_pass(monkeypatch, dtype, tilde, halved):
    """Rank 1: kernel_dplr's four Cauchy sums and Woodbury step run as one fused pass
    over the nodes, and agree with the separate generic reduction and Woodbury step.

    Oracle: the generic path (``fast_paths("generic")``), itself checked against
    ``kernel_dense`` and mpmath in ``tests/test_kernels.py``. Both accumulate ``N``
    terms per sum in the working precision: ``8 N eps`` of the kernel's max-norm.
    """
    calls = []
    orig = _fast_cpu.cauchy_woodbury1_kernel
    monkeypatch.setattr(_fast_cpu, "cauchy_woodbury1_kernel",
                        lambda *a: calls.append(1) or orig(*a))
    h = ss.dplr("legs", 32, dtype=dtype)
    rng = np.random.default_rng(2)
    H, L = 4, 512
    C = (rng.standard_normal((H, 16)) + 1j * rng.standard_normal((H, 16))).astype(h.B.dtype)
    dt = np.geomspace(1e-3, 1e-1, H).astype(dtype)
    args = (h.Lambda, h.P, h.B, C, dt, L)
    K = ss.kernel_dplr(*args, halved=halved, tilde=tilde)
    assert calls
    with reductions.fast_paths("generic"):
        K0 = ss.kernel_dplr(*args, halved=halved, tilde=tilde)
    assert K.dtype == K0.dtype
    err = np.abs(K - K0).max() / np.abs(K0).max()
    assert err <= 8 * 32 * eps_of(np.dtype(dtype)), err
