"""Memory-lean autograd Functions of statespace._torch_reductions.

Oracles: torch.autograd.gradcheck (finite differences, complex inputs checked as
Wirtinger derivatives) and the generic array-API path differentiated by torch autograd
(an independent implementation of the same gradients).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from util import relative_error, xp_assert_close  # noqa: E402

import statespace as ss  # noqa: E402
from statespace import _fast_cpu  # noqa: E402
from statespace import _torch_reductions as tr  # noqa: E402
from statespace.reductions import fast_paths  # noqa: E402
from statespace.torch import S4Kernel  # noqa: E402

C128 = torch.complex128

# small tensors: one intra-op thread avoids OpenMP contention on shared CPUs
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _rc(gen, *shape, scale=1.0, shift=0.0):
    re = torch.randn(*shape, generator=gen, dtype=torch.float64)
    im = torch.randn(*shape, generator=gen, dtype=torch.float64)
    return (torch.complex(re, im) * scale + shift).to(C128)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(7)


# ------------------------------------------------------------------------------------
# gradcheck of the Functions (broadcast numerator axes, batched nodes and poles)
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("conj", [False, True])
def test_cauchy_gradcheck(gen, conj):
    v = _rc(gen, 2, 3, 4).requires_grad_()
    z = _rc(gen, 2, 1, 5).requires_grad_()  # batched nodes
    w = _rc(gen, 1, 4, shift=-3.0).requires_grad_()  # broadcast poles
    assert torch.autograd.gradcheck(lambda v, z, w: tr.cauchy_torch(v, z, w, conj), (v, z, w))


def test_vandermonde_gradcheck(gen):
    v = _rc(gen, 2, 3, 4).requires_grad_()
    x = (_rc(gen, 2, 1, 4, scale=0.2)).requires_grad_()
    assert torch.autograd.gradcheck(lambda v, x: tr.vandermonde_torch(v, x, 7), (v, x))


# ------------------------------------------------------------------------------------
# agreement with the generic autograd path
# ------------------------------------------------------------------------------------
# Both paths evaluate the same sums in float64 in different orders; they must agree
# to 1e-10 relative, far above the O(N L eps) rounding we expect (~1e-14).
GRAD_TOL = 1e-10


def _grads(fn, inputs, g, mode):
    with fast_paths(mode):
        y = fn(*inputs)
        return torch.autograd.grad(y, inputs, g)


@pytest.mark.parametrize("which", ["cauchy", "cauchy_conj", "vandermonde"])
def test_custom_matches_generic(gen, which):
    H, M, N, L = 3, 4, 16, 50
    v = _rc(gen, H, M, N).requires_grad_()
    if which == "vandermonde":
        x = torch.complex(-torch.rand(H, 1, N, dtype=torch.float64, generator=gen) * 0.1,
                          torch.randn(H, 1, N, dtype=torch.float64, generator=gen)).to(C128)
        x.requires_grad_()
        inputs, fn = (v, x), (lambda v, x: ss.vandermonde(v, x, L))
    else:
        theta = torch.rand(L, dtype=torch.float64, generator=gen) * 2 * math.pi
        z = torch.polar(torch.ones_like(theta), theta).requires_grad_()
        w = (_rc(gen, H, 1, N, scale=0.3) * 0.5 - 0.4).requires_grad_()
        f = ss.cauchy_conj if which == "cauchy_conj" else ss.cauchy
        inputs, fn = (v, z, w), f
    g = _rc(gen, H, M, L)
    ref = _grads(fn, inputs, g, "generic")
    new = _grads(fn, inputs, g, "custom")
    for a, b in zip(new, ref, strict=True):
        assert relative_error(a, b) < GRAD_TOL


@pytest.mark.parametrize("mode,disc", [("s4", None), ("s4d", "zoh"), ("s4d", "bilinear"),
                                       ("s4d", "dss")])
def test_kernel_gradients_custom_matches_generic(mode, disc):
    torch.manual_seed(0)
    k = S4Kernel(4, 16, mode, disc=disc, dtype=torch.float64, l_max=64)
    params = list(k.parameters())
    g = torch.randn(1, 4, 64, dtype=torch.float64)
    out = {}
    for m in ("generic", "custom"):
        with fast_paths(m):
            out[m] = torch.autograd.grad(k(64), params, g)
    for a, b in zip(out["custom"], out["generic"], strict=True):
        assert relative_error(a, b) < GRAD_TOL


def test_float32_custom_matches_generic(gen):
    # single precision: both paths round differently; agreement to a few hundred eps
    v = _rc(gen, 2, 3, 8).to(torch.complex64).requires_grad_()
    w = (_rc(gen, 2, 1, 8, scale=0.3) - 1.0).to(torch.complex64).requires_grad_()
    z = _rc(gen, 20).to(torch.complex64).requires_grad_()
    g = _rc(gen, 2, 3, 20).to(torch.complex64)
    ref = _grads(ss.cauchy_conj, (v, z, w), g, "generic")
    new = _grads(ss.cauchy_conj, (v, z, w), g, "custom")
    eps = float(np.finfo(np.float32).eps)
    for a, b in zip(new, ref, strict=True):
        assert relative_error(a, b) < 8 * 20 * eps  # ~ L * eps accumulation, 8x margin


# ------------------------------------------------------------------------------------
# the fused Vandermonde forward and backward (numba) inside the Function
# ------------------------------------------------------------------------------------
needs_numba = pytest.mark.skipif(not _fast_cpu.available(), reason="numba is not installed")


@pytest.fixture
def fused_grad(monkeypatch):
    """Every size on the fused kernels (MIN_WORK = 0); records the backward calls."""
    monkeypatch.setattr(_fast_cpu, "MIN_WORK", 0)
    calls = []
    orig = _fast_cpu.vandermonde_grad

    def spy(*a, **k):
        calls.append(a[0].shape)
        return orig(*a, **k)

    monkeypatch.setattr(_fast_cpu, "vandermonde_grad", spy)
    return calls


def _vand_inputs(gen, vshape, xshape, re_scale=0.1):
    v = _rc(gen, *vshape).requires_grad_()
    x = torch.complex(-torch.rand(*xshape, dtype=torch.float64, generator=gen) * re_scale,
                      torch.randn(*xshape, dtype=torch.float64, generator=gen) * 2)
    return v, x.to(C128).requires_grad_()


@needs_numba
def test_fused_vandermonde_gradcheck(gen, fused_grad):
    # broadcast numerators (batch 2, M = 3 along a numerator axis) and exponents
    v, x = _vand_inputs(gen, (2, 3, 4), (2, 1, 4))
    x = (x.detach() * 2).requires_grad_()
    with fast_paths("auto"):
        assert torch.autograd.gradcheck(lambda v, x: ss.vandermonde(v, x, 37), (v, x))
    assert fused_grad  # the analytic gradients came from the fused kernel


@needs_numba
@pytest.mark.parametrize("shapes", [((5, 4, 24), (5, 1, 24)),  # M = 4 numerators per row
                                    ((1, 24), (6, 24)),  # numerators broadcast over rows
                                    ((6, 24), (24,))],  # exponents broadcast
                         ids=["numerators", "v-broadcast", "x-broadcast"])
@pytest.mark.parametrize("L", [1, 300, 2049])
def test_fused_vandermonde_grad_matches_generic(gen, fused_grad, shapes, L):
    """Fused forward + backward against generic autograd (torch differentiating the
    array-API path), float64: both sum the same terms in different orders, ~L eps."""
    v, x = _vand_inputs(gen, *shapes)
    y_shape = torch.broadcast_shapes(v.shape[:-1], x.shape[:-1]) + (L,)
    g = _rc(gen, *y_shape)
    ref = _grads(lambda v, x: ss.vandermonde(v, x, L), (v, x), g, "generic")
    with fast_paths("auto"):
        y = ss.vandermonde(v, x, L)
        new = torch.autograd.grad(y, (v, x), g)
    with fast_paths("generic"):
        assert relative_error(y, ss.vandermonde(v, x, L)) < GRAD_TOL
    assert len(fused_grad) == 1
    for a, b in zip(new, ref, strict=True):
        assert a.shape == b.shape
        assert relative_error(a, b) < GRAD_TOL


@needs_numba
@pytest.mark.parametrize("disc", ["zoh", "bilinear", "dss"])
def test_fused_s4d_kernel_gradients_match_generic(fused_grad, disc):
    torch.manual_seed(3)
    k = S4Kernel(8, 32, "s4d", disc=disc, channels=2, dtype=torch.float64)
    params = list(k.parameters())
    L = 1500
    g = torch.randn(2, 8, L, dtype=torch.float64)
    out = {}
    for m in ("generic", "auto"):
        with fast_paths(m):
            out[m] = torch.autograd.grad(k(L), params, g)
    assert fused_grad
    for a, b in zip(out["auto"], out["generic"], strict=True):
        assert relative_error(a, b) < GRAD_TOL


@needs_numba
def test_fused_vandermonde_float32_matches_generic(gen, fused_grad):
    # complex64 operands; the fused backward accumulates in float64, the generic one in
    # float32 over chunks of L: agreement to ~L eps32 (8x margin), against the float64
    # gradients of the same (rounded) inputs
    L = 500
    v, x = _vand_inputs(gen, (4, 16), (4, 16))
    v32 = v.detach().to(torch.complex64).requires_grad_()
    x32 = x.detach().to(torch.complex64).requires_grad_()
    g = _rc(gen, 4, L)
    ref = _grads(lambda v, x: ss.vandermonde(v, x, L), (v32.detach().to(C128).requires_grad_(),
                                                         x32.detach().to(C128).requires_grad_()),
                 g, "generic")
    with fast_paths("auto"):
        new = torch.autograd.grad(ss.vandermonde(v32, x32, L), (v32, x32), g.to(torch.complex64))
    assert fused_grad
    eps = float(np.finfo(np.float32).eps)
    for a, b in zip(new, ref, strict=True):
        assert a.dtype == torch.complex64
        assert relative_error(a.to(C128), b) < 8 * L * eps


@needs_numba
def test_fused_backward_falls_back_when_not_finite(gen, fused_grad, monkeypatch):
    """A non-finite fused sum (reported as None) leaves the Function to its torch code,
    which gives the same gradients."""
    v, x = _vand_inputs(gen, (3, 8), (3, 8))
    g = _rc(gen, 3, 40)
    with fast_paths("auto"):
        ref = torch.autograd.grad(ss.vandermonde(v, x, 40), (v, x), g)
    monkeypatch.setattr(_fast_cpu, "vandermonde_grad", lambda *a: None)
    with fast_paths("auto"):
        new = torch.autograd.grad(ss.vandermonde(v, x, 40), (v, x), g)
    for a, b in zip(new, ref, strict=True):
        assert relative_error(a, b) < GRAD_TOL


@needs_numba
def test_fused_forward_with_nonfinite_chunk_uses_torch_code(gen, fused_grad, monkeypatch):
    """A chunk the fused forward reports non-finite: the Function recomputes with its
    torch code (whose result is then checked), never returns the kernel's values."""
    v, x = _vand_inputs(gen, (3, 8), (3, 8))
    with fast_paths("generic"):
        ref = ss.vandermonde(v, x, 40)
    orig = _fast_cpu.vandermonde

    def poisoned(*a, bad=None, **k):
        y = orig(*a, bad=bad, **k)
        y[...] = np.nan  # what the chunk would hold
        bad.append(((0,), 0, 40))
        return y

    monkeypatch.setattr(_fast_cpu, "vandermonde", poisoned)
    blocks = []
    orig_blocks = tr._vandermonde_blocks
    monkeypatch.setattr(tr, "_vandermonde_blocks",
                        lambda *a: blocks.append(1) or orig_blocks(*a))
    with fast_paths("auto"):
        y = ss.vandermonde(v, x, 40)
    assert blocks
    assert relative_error(y, ref) < GRAD_TOL


# ------------------------------------------------------------------------------------
# dispatch and memory
# ------------------------------------------------------------------------------------
def _graph_nodes(t):
    """Names of the autograd nodes reachable from ``t``."""
    names, todo, seen = set(), [t.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names.add(type(fn).__name__)
        todo.extend(f for f, _ in fn.next_functions)
    return names


def test_dispatch_uses_function_only_when_grad_needed(gen):
    v, z, w = _rc(gen, 4), _rc(gen, 3), _rc(gen, 4, shift=-3.0)
    assert ss.cauchy(v, z, w).grad_fn is None
    vg = v.clone().requires_grad_()
    assert any("CauchyFunction" in n for n in _graph_nodes(ss.cauchy(vg, z, w)))
    with fast_paths("generic"):
        assert not any("CauchyFunction" in n for n in _graph_nodes(ss.cauchy(vg, z, w)))
    with torch.no_grad():
        assert ss.cauchy(vg, z, w).grad_fn is None
    y = ss.vandermonde(vg, _rc(gen, 4, scale=0.1), 5)
    assert any("VandermondeFunction" in n for n in _graph_nodes(y))
    # numpy inputs are untouched by the torch route
    yn = ss.cauchy(v.numpy(), z.numpy(), w.numpy())
    assert isinstance(yn, np.ndarray)
    xp_assert_close(yn, ss.cauchy(v, z, w).numpy(), rtol=1e-14)


def _saved_bytes(fn):
    """Bytes of the distinct tensors autograd saves while ``fn()`` builds its graph."""
    seen = {}

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.dtype, tuple(t.shape))
        seen[key] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return sum(seen.values()), out


@pytest.mark.parametrize("kernel_dtype", [torch.float64, "auto"])
def test_saved_memory_is_linear_in_n_plus_l(kernel_dtype):
    torch.manual_seed(0)
    H, N, L = 8, 64, 2048
    # float32 parameters; "auto" computes the S4 kernel in float32 (compensated sums)
    k = S4Kernel(H, N, "s4", l_max=L, kernel_dtype=kernel_dtype)
    with fast_paths("generic"):
        generic, _ = _saved_bytes(lambda: k(L))
    custom, K = _saved_bytes(lambda: k(L))
    K.square().sum().backward()  # the lean graph runs
    # the generic path keeps the (H, N/2, L) reciprocal blocks (x2 for the conjugate
    # half; 16 bytes each in complex128, 8 in complex64): at least H N L * 4 bytes. The
    # custom graph holds O(H (N + L)) numbers: allow 64 complex128 numbers per H (N + L)
    # element.
    assert generic >= H * N * L * (8 if kernel_dtype == torch.float64 else 4)
    assert custom <= 64 * 16 * H * (N + L)
    # float32: the generic blocks are half the size, while the O(H L) complex128
    # Woodbury step is the same in both graphs
    assert custom * (10 if kernel_dtype == torch.float64 else 4) < generic


def test_fast_paths_errors():
    with pytest.raises(ValueError, match="mode"):
        with fast_paths("fast"):
            pass
    z = torch.zeros(1, dtype=C128)
    with pytest.raises(TypeError, match="conj"):
        tr.cauchy_torch(z, z, z - 1, conj=1)


def test_no_warning_leak_and_values_match_generic(gen):
    v, z, w = _rc(gen, 3, 6), _rc(gen, 9), _rc(gen, 6, shift=-2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = tr.cauchy_torch(v, z, w, True)
        with fast_paths("generic"):
            b = ss.cauchy_conj(v, z, w)
    assert relative_error(a, b) < 1e-14


# ------------------------------------------------------------------------------------
# the fused kernels inside the Functions (numba, CPU tensors)
# ------------------------------------------------------------------------------------
@pytest.fixture
def fused_calls(monkeypatch):
    """Route every size to the compiled CPU kernels and record the passes they run."""
    from statespace import _fast_cpu

    if not _fast_cpu.available():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(_fast_cpu, "MIN_WORK", 0)
    calls = []
    for name in ("cauchy", "cauchy_vjp"):
        orig = getattr(_fast_cpu, name)

        def spy(*a, _orig=orig, _name=name, **k):
            calls.append((_name, "z_lo" in k and k["z_lo"] is not None))
            return _orig(*a, **k)

        monkeypatch.setattr(_fast_cpu, name, spy)
    return calls


@pytest.mark.parametrize("conj", [False, True])
def test_fused_cauchy_gradcheck(gen, fused_calls, conj):
    v = _rc(gen, 2, 3, 4).requires_grad_()
    w = _rc(gen, 1, 4, shift=-3.0).requires_grad_()  # broadcast poles
    z = _rc(gen, 2, 1, 5)  # batched nodes (no gradient: the torch sums would run for z)
    assert torch.autograd.gradcheck(lambda v, w: tr.cauchy_torch(v, z, w, conj), (v, w))
    fused_calls.clear()
    with fast_paths("auto"):
        y = ss.cauchy_conj(v, z, w) if conj else ss.cauchy(v, z, w)
        torch.autograd.grad(y.abs().sum(), (v, w))
    assert [c for c, _ in fused_calls] == ["cauchy", "cauchy_vjp"]


@pytest.mark.parametrize("which", ["cauchy", "cauchy_conj", "compensated"])
def test_fused_matches_generic(gen, fused_calls, which):
    """The fused forward and backward passes against generic autograd, float64 (the
    compensated case: complex128 numerators with hi + lo nodes and poles in the
    working precision, i.e. the same sums)."""
    from statespace import _compensated

    H, M, N, L = 3, 4, 16, 50
    v = _rc(gen, H, M, N).requires_grad_()
    theta = torch.rand(L, dtype=torch.float64, generator=gen) * 2 * math.pi
    z = torch.polar(torch.ones_like(theta), theta).requires_grad_()
    w = (_rc(gen, H, 1, N, scale=0.3) * 0.5 - 0.4).requires_grad_()
    if which == "compensated":
        inputs = (v, w)

        def fn(v, w):
            return _compensated.cauchy_compensated(v, z.detach(), w, conj=True)
    else:
        inputs = (v, z, w)
        fn = ss.cauchy_conj if which == "cauchy_conj" else ss.cauchy
    g = _rc(gen, H, M, L)
    ref = _grads(fn, inputs, g, "generic")
    fused_calls.clear()
    new = _grads(fn, inputs, g, "auto")
    assert fused_calls[0][0] == "cauchy"
    assert ("cauchy_vjp", False) in fused_calls
    for a, b in zip(new, ref, strict=True):
        assert relative_error(a, b) < GRAD_TOL


def test_fused_compensated_float32_gradients(gen, fused_calls):
    """complex64 numerators with compensated nodes and poles: the fused passes keep the
    low parts, and their gradients match float64 generic autograd of the same sums to
    a few eps32 per term (poles within 1e-6 of nodes, where uncompensated complex64
    differences lose everything)."""
    from statespace import _compensated

    H, M, N, L = 2, 4, 8, 64
    ang = 2 * math.pi * torch.arange(L, dtype=torch.float64) / L
    z = torch.polar(torch.ones_like(ang), ang)
    # every pole 1e-6 inside the circle next to a node, slightly off its angle
    w0 = torch.polar(torch.full((H, 1, N), 1 - 1e-6, dtype=torch.float64),
                     ang[torch.arange(N) * 5 + 1] + 1e-6)
    v64 = _rc(gen, H, M, N)
    g = _rc(gen, H, M, L) * 1e-6  # the reciprocals are up to ~1e6
    w = w0.clone().requires_grad_()
    v = v64.to(torch.complex64).requires_grad_()
    y = _compensated.cauchy_compensated(v, z, w, conj=True)
    gv, gw = torch.autograd.grad(y, (v, w), g.to(torch.complex64))
    assert ("cauchy", True) in fused_calls and ("cauchy_vjp", True) in fused_calls
    assert y.dtype == torch.complex64 and gw.dtype == torch.complex128
    vr = v.detach().to(C128).requires_grad_()
    wr = w0.clone().requires_grad_()
    with fast_paths("generic"):
        yr = ss.cauchy_conj(vr, z, wr)
        gvr, gwr = torch.autograd.grad(yr, (vr, wr), g)
    eps = float(np.finfo(np.float32).eps)
    # a sum of L terms, each with a few roundings: L * eps bounds the relative error
    assert relative_error(y, yr) < L * eps
    assert relative_error(gv, gvr) < L * eps
    assert relative_error(gw, gwr) < L * eps


@pytest.mark.parametrize("tilde_path", [True, False])
def test_fused_kernel_gradients_match_generic(fused_calls, tilde_path):
    """S4Kernel (float64) gradients with both passes on the fused kernels against
    generic autograd, to 1e-10; ``tilde_path=False`` takes kernel_dplr's
    ``tilde=False`` branch (a longer kernel than l_max)."""
    torch.manual_seed(0)
    k = S4Kernel(4, 16, "s4", dtype=torch.float64, l_max=64)
    L = 64 if tilde_path else 96
    params = list(k.parameters())
    g = torch.randn(1, 4, L, dtype=torch.float64)
    out = {}
    for m in ("generic", "auto"):
        with fast_paths(m):
            out[m] = torch.autograd.grad(k(L), params, g)
    assert ("cauchy_vjp", False) in fused_calls
    for a, b in zip(out["auto"], out["generic"], strict=True):
        assert relative_error(a, b) < GRAD_TOL


def test_fused_kernel_dplr_gradcheck(gen, fused_calls):
    """torch.autograd.gradcheck of kernel_dplr (halved, rank 1) on the fused passes."""
    N, L = 4, 12
    lam = torch.complex(-0.5 - torch.rand(N, dtype=torch.float64, generator=gen),
                        torch.randn(N, dtype=torch.float64, generator=gen)).requires_grad_()
    P = _rc(gen, 1, N, scale=0.3).requires_grad_()
    B = _rc(gen, N).requires_grad_()
    C = _rc(gen, 2, N).requires_grad_()
    dt = torch.tensor([0.05, 0.2], dtype=torch.float64, requires_grad=True)
    with fast_paths("auto"):
        assert torch.autograd.gradcheck(
            lambda *a: ss.kernel_dplr(*a, L, halved=True, tilde=True), (lam, P, B, C, dt))
    assert ("cauchy_vjp", False) in fused_calls
