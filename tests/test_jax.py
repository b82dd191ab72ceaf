"""JAX as a backend: every public core function under ``jax.jit``, ``jax.vmap`` and
``jax.grad``, in float64 (``jax_enable_x64``) and float32.

Oracles
-------
* Values: the same function on NumPy arrays, row by row (the NumPy path shares the
  algorithm but none of JAX's tracing, batching or compilation).
* Gradients: central finite differences of the NumPy path along a random direction
  (no automatic differentiation at all), and torch autograd on the same inputs
  (torch's reductions carry their own hand-written backward passes).

One compiled function per case covers all three transformations:
``jit(value_and_grad(loss o vmap(fn)))`` returns the batched outputs (compared with
NumPy) and the gradient of a fixed random linear functional of them.

Compilation is slow, so shapes are tiny and each compiled function is used once;
the full table of cases runs in float32 under the slow marker.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import jax_x64
from util import relative_error

import statespace as ss
from statespace import _array
from statespace import boundary as bd
from statespace import discretize as sd

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

EPS = {np.float32: float(np.finfo(np.float32).eps), np.float64: float(np.finfo(np.float64).eps)}
N, H, L = 4, 2, 8  # state size, channels, length: tiny, compilation dominates


@pytest.fixture
def x64():
    with jax_x64(True):
        yield


def _inputs(real):
    """NumPy float64/complex128 inputs of every case (two batch rows each)."""
    rng = np.random.default_rng(17)
    h = ss.dplr("legs", 2 * N)

    def cplx(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    return {
        "Lam": np.broadcast_to(h.Lambda, (H, N)) + 0.05 * cplx(H, N),
        "P": np.broadcast_to(h.P, (H, 1, N)) + 0.05 * cplx(H, 1, N),
        "B": np.broadcast_to(h.B, (H, N)) + 0.05 * cplx(H, N),
        "C": cplx(H, N),
        "dt": np.array([0.1, 0.3]),
        "dt0": np.float64(0.2),
        "A": -2 * np.eye(N) + 0.3 * rng.standard_normal((N, N)),
        "Bv": rng.standard_normal(N),
        "Cv": rng.standard_normal(N),
        "u": rng.standard_normal((H, L)),
        "K": rng.standard_normal((H, L)),
        "x0": cplx(H, N),
        "xr": rng.standard_normal((H, N)),
        "lamr": -np.exp(rng.standard_normal((H, N))),
        "z": 1j * np.linspace(0.0, 3.0, 5),
        "n": np.array([3, 8]),
    }


# name: (function of the arrays, names of its array arguments)
CASES = {
    "kernel_dplr": (lambda Lam, P, B, C, dt: ss.kernel_dplr(Lam, P, B, C, dt, L, halved=True),
                    ("Lam", "P", "B", "C", "dt")),
    "kernel_dplr_tilde": (
        lambda Lam, P, B, C, dt: ss.kernel_dplr(Lam, P, B, C, dt, L, halved=True, tilde=True),
        ("Lam", "P", "B", "C", "dt")),
    "kernel_diag": (lambda Lam, B, C, dt: ss.kernel_diag(Lam, B, C, dt, L, halved=True),
                    ("Lam", "B", "C", "dt")),
    "kernel_diag_bilinear": (lambda Lam, B, C, dt: ss.kernel_diag(Lam, B, C, dt, L, "bilinear"),
                             ("Lam", "B", "C", "dt")),
    "kernel_diag_dss": (lambda Lam, B, C, dt: ss.kernel_diag(Lam, B, C, dt, L, "dss"),
                        ("Lam", "B", "C", "dt")),
    "kernel_dense": (lambda A, B, C, dt: ss.kernel_dense(A, B, C, dt, L),
                     ("A", "Bv", "Cv", "dt0")),
    "kernel_dense_zoh": (lambda A, B, C, dt: ss.kernel_dense(A, B, C, dt, L, "zoh"),
                         ("A", "Bv", "Cv", "dt0")),
    "causal_conv": (lambda u, K, dt: ss.causal_conv(u, K, D=dt), ("u", "K", "dt")),
    "bidirectional_conv": (lambda u, K: ss.bidirectional_conv(u, K, K[..., :3], D=0.5),
                           ("u", "K")),
    "cauchy": (lambda v, z, w: ss.cauchy(v, z, w), ("C", "z", "Lam")),
    "cauchy_conj": (lambda v, z, w: ss.cauchy_conj(v, z, w), ("C", "z", "Lam")),
    "vandermonde": (lambda v, x: ss.vandermonde(v, x, L), ("C", "Lam")),
    "bilinear": (lambda A, B, dt: sd.bilinear(A, B, dt), ("A", "Bv", "dt0")),
    "zoh": (lambda A, B, dt: sd.zoh(A, B, dt), ("A", "Bv", "dt0")),
    "gbt": (lambda A, B, dt: sd.gbt(A, B, dt, 0.3), ("A", "Bv", "dt0")),
    "backward_euler": (lambda A, B, dt: sd.backward_euler(A, B, dt), ("A", "Bv", "dt0")),
    "discretize": (lambda A, B, dt: tuple(sd.discretize(sd.DenseSystem(A, B), dt, "zoh")),
                   ("A", "Bv", "dt0")),
    "zoh_diag": (lambda Lam, B, dt: tuple(sd.zoh_diag(Lam, B, dt[..., None])),
                 ("Lam", "B", "dt")),
    "bilinear_diag": (lambda Lam, B, dt: tuple(sd.bilinear_diag(Lam, B, dt[..., None])),
                      ("Lam", "B", "dt")),
    "bilinear_dplr": (lambda Lam, P, B, dt: sd.bilinear_dplr(Lam, P, B, dt, halved=True).Bd,
                      ("Lam", "P", "B", "dt")),
    "dplr_transition": (
        lambda Lam, P, B, dt, x: sd.dplr_transition(
            sd.bilinear_dplr(Lam, P, B, dt, halved=True), x),
        ("Lam", "P", "B", "dt", "x0")),
    "dplr_to_dense": (lambda Lam, P: sd.dplr_to_dense(Lam, P, halved=True), ("Lam", "P")),
    "step": (lambda Lam, B, dt, x, u: ss.step(sd.DiagDiscrete(*sd.zoh_diag(Lam, B, dt)), x, u),
             ("lamr", "xr", "dt", "xr", "dt")),
    "scan_dplr": (
        lambda Lam, P, B, dt, x, u, C: ss.scan(sd.bilinear_dplr(Lam, P, B, dt, halved=True),
                                               u, x, C=C, D=0.3, halved=True),
        ("Lam", "P", "B", "dt", "x0", "u", "C")),
    "scan_diag": (lambda Lam, B, dt, u: ss.scan(sd.DiagDiscrete(*sd.zoh_diag(
        Lam, B, dt[..., None])), u), ("Lam", "B", "dt", "u")),
    "c_tilde_dplr": (lambda Lam, P, C, dt: bd.c_tilde_dplr(Lam, P, C, dt, L, halved=True),
                     ("Lam", "P", "C", "dt")),
    "c_from_tilde_dplr": (
        lambda Lam, P, C, dt: bd.c_from_tilde_dplr(Lam, P, C, dt, L, halved=True),
        ("Lam", "P", "C", "dt")),
    "c_tilde_diag": (lambda Lam, C, dt: bd.c_tilde_diag(Lam, C, dt, L), ("Lam", "C", "dt")),
    "c_from_tilde_diag": (lambda Lam, C, dt: bd.c_from_tilde_diag(Lam, C, dt, L, "bilinear"),
                          ("Lam", "C", "dt")),
    "initial_response_dplr": (
        lambda Lam, P, C, x, dt: bd.initial_response_dplr(Lam, P, C, x, dt, L, halved=True),
        ("Lam", "P", "C", "x0", "dt")),
    "initial_response_diag": (
        lambda Lam, C, x, dt: bd.initial_response_diag(Lam, C, x, dt, L, halved=True),
        ("Lam", "C", "x0", "dt")),
    "final_state_dplr": (
        lambda Lam, P, B, x, u, dt, n: bd.final_state_dplr(Lam, P, B, x, u, dt, halved=True,
                                                           lengths=n),
        ("Lam", "P", "B", "x0", "u", "dt", "n")),
    "final_state_diag": (
        lambda Lam, B, x, u, dt, n: bd.final_state_diag(Lam, B, x, u, dt, halved=True,
                                                        lengths=n),
        ("Lam", "B", "x0", "u", "dt", "n")),
}
# the default suite: one case per module and the two kernels of the acceptance test
QUICK = ("kernel_dplr", "kernel_diag", "zoh", "causal_conv", "cauchy_conj", "bilinear_dplr")


def _leaves(out):
    return [a for a in (out if isinstance(out, tuple) else (out,))]


def _weights(out):
    """Fixed random weights, one array per output leaf, for a real linear functional."""
    rng = np.random.default_rng(3)
    return [rng.standard_normal(np.shape(a)) + (1j * rng.standard_normal(np.shape(a))
                                                 if np.iscomplexobj(a) else 0)
            for a in _leaves(out)]


def _functional(xp, out, weights):
    """``sum Re(conj(w) * out)`` over the output leaves: a real scalar."""
    total = 0
    for a, w in zip(_leaves(out), weights, strict=True):
        w = xp.asarray(w if np.iscomplexobj(w) or not _array.is_complex(xp, a) else w + 0j)
        total = total + xp.sum(xp.real(xp.conj(xp.astype(w, a.dtype)) * a))
    return total


def _numpy_rows(fn, args):
    """``fn`` on each batch row of the NumPy ``args``, stacked (the vmap oracle)."""
    rows = [fn(*(a[i] for a in args)) for i in range(2)]
    if isinstance(rows[0], tuple):
        return tuple(np.stack([np.asarray(r[k]) for r in rows]) for k in range(len(rows[0])))
    return np.stack([np.asarray(r) for r in rows])


def _batched_args(names, dtype):
    """Two rows per argument (the second perturbed), rounded to ``dtype`` precision."""
    base = _inputs(True)
    out = []
    for k, name in enumerate(names):
        a = np.asarray(base[name])
        if a.dtype.kind == "i":
            b = np.minimum(a + 1, L) if a.ndim else a
        else:
            b = a * (1 + 0.01 * (k + 1))
        pair = np.stack([a, b])
        if pair.dtype.kind == "f":
            pair = pair.astype(dtype)
        elif pair.dtype.kind == "c":
            pair = pair.astype(np.complex64 if dtype == np.float32 else np.complex128)
        out.append(pair)
    return out


def _transformed(fn, weights):
    """``jit(value_and_grad(functional o vmap(fn)))`` over the inexact arguments."""
    def loss(*args):
        out = jax.vmap(fn)(*args)
        return _functional(jnp, out, weights), out

    return loss


def _run(name, dtype):
    """Outputs and gradients of case ``name`` under jit/vmap/grad, and the NumPy oracle."""
    fn, names = CASES[name]
    args = _batched_args(names, dtype)
    ref = _numpy_rows(fn, [a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
                           if a.dtype.kind in "fc" else a for a in args])
    weights = _weights(ref)
    inexact = tuple(i for i, a in enumerate(args) if a.dtype.kind in "fc")
    f = jax.jit(jax.value_and_grad(_transformed(fn, weights), argnums=inexact, has_aux=True))
    (val, out), grads = f(*(jnp.asarray(a) for a in args))
    return fn, args, ref, weights, inexact, val, out, grads


def _directional_fd(fn, args, weights, inexact, direction, h):
    """Central difference of the NumPy functional along ``direction`` (step ``h``)."""
    def at(t):
        moved = list(args)
        for i, d in zip(inexact, direction, strict=True):
            moved[i] = args[i] + t * d
        return float(_functional(np, _numpy_rows(fn, moved), weights))

    return (at(h) - at(-h)) / (2 * h)


def _direction(args, inexact):
    rng = np.random.default_rng(11)
    out = []
    for i in inexact:
        a = args[i]
        d = rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape)
                                             if a.dtype.kind == "c" else 0)
        out.append(d * np.maximum(np.abs(a), 0.1) / 4)  # relative size: dt stays positive
    return out


def _check_case(name, dtype):
    fn, args, ref, weights, inexact, val, out, grads = _run(name, dtype)
    eps = EPS[dtype]
    # jit + vmap: outputs agree with NumPy row by row. float64: the paths differ only
    # in rounding order, a few eps times the kernel-length/state-size growth of the
    # sums (L and N are 8 and 4: 64 * N * L * eps = 2.9e-13). float32: the float32
    # inputs run through float32 arithmetic against the float64 evaluation of the
    # same (rounded) inputs; the same factor in eps32 is 2.4e-4.
    rtol = 64 * N * L * eps
    args64 = [a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
              if a.dtype.kind in "fc" else a for a in args]
    ref = _numpy_rows(fn, args64)
    for got, want in zip(_leaves(out), _leaves(ref), strict=True):
        assert np.finfo(np.asarray(got).dtype).eps == eps, (name, got.dtype)
        assert relative_error(np.asarray(got), want) <= rtol, name
    # grad: against central differences of the NumPy path along a random direction.
    # h = eps64^(1/3) balances truncation (h^2) and cancellation (eps64 / h): both
    # ~ eps64^(2/3) = 3.7e-11 times the size of the functional's derivatives; the
    # terms of the directional derivative (|partial| * |direction|) set that size.
    direction = _direction(args64, inexact)
    ad = sum(float(np.sum(np.real(np.asarray(g, np.complex128) * d)))
             for g, d in zip(grads, direction, strict=True))
    size = sum(float(np.sum(np.abs(np.asarray(g)) * np.abs(d)))
               for g, d in zip(grads, direction, strict=True))
    eps64 = EPS[np.float64]
    fd = _directional_fd(fn, args64, weights, inexact, direction, eps64 ** (1 / 3))
    # float64: 1e3 * eps64^(2/3) (a margin of 1e3 for the third derivatives of
    # exponentials and powers up to l = L). float32: the gradient itself carries
    # float32 rounding, ~ N * L * eps32 relative to its terms.
    gtol = 1e3 * eps64 ** (2 / 3) if dtype == np.float64 else 64 * N * L * eps
    assert abs(ad - fd) <= gtol * size, (name, ad, fd, size)
    return grads, direction, args64, weights, inexact


@pytest.mark.parametrize("name", QUICK)
def test_jit_vmap_grad_float64(x64, name):
    _check_case(name, np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CASES if n not in QUICK])
def test_jit_vmap_grad_float64_all(x64, name):
    _check_case(name, np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_jit_vmap_grad_float32(x64, name):
    _check_case(name, np.float32)


# ------------------------------------------------------------------------------------
# acceptance: one compilation per shape, NumPy agreement to 1e-12 (float64)
# ------------------------------------------------------------------------------------
def _legs_channels(n_state, h, rng):
    d = ss.dplr("legs", 2 * n_state)
    C = rng.standard_normal((h, n_state)) + 1j * rng.standard_normal((h, n_state))
    dt = np.geomspace(1e-3, 1e-1, h)
    return d, C, dt


@pytest.mark.parametrize("kernel", ["kernel_dplr", "kernel_diag"])
def test_jit_compiles_once_per_shape(x64, kernel):
    traces = []

    def fn(Lam, P, B, C, dt, *, length):
        traces.append(length)  # runs only while jax traces the function
        if kernel == "kernel_dplr":
            return ss.kernel_dplr(Lam, P, B, C, dt, length, halved=True)
        return ss.kernel_diag(Lam, B, C, dt, length, halved=True)

    f = jax.jit(fn, static_argnames="length")
    rng = np.random.default_rng(2)
    worst = 0.0
    for n_state, h, length, expected_traces in ((4, 3, 32, 1), (4, 3, 32, 1),
                                                (4, 3, 64, 2), (8, 3, 64, 3),
                                                (8, 3, 64, 3)):
        d, C, dt = _legs_channels(n_state, h, rng)  # new values at every call
        args = (d.Lambda, d.P, d.B, C, dt)
        K = f(*(jnp.asarray(a) for a in args), length=length)
        assert len(traces) == expected_traces
        assert K.dtype == jnp.float64 and K.shape == (h, length)
        ref = getattr(ss, kernel)(*(args if kernel == "kernel_dplr" else
                                    (d.Lambda, d.B, C, dt)), length, halved=True)
        worst = max(worst, relative_error(np.asarray(K), ref))
    # the acceptance bound (the paths differ in rounding order only: measured
    # a few eps, far inside 1e-12 = 4500 eps)
    assert worst <= 1e-12


# ------------------------------------------------------------------------------------
# gradients against torch autograd
# ------------------------------------------------------------------------------------
TORCH_CASES = ("kernel_dplr", "kernel_diag", "zoh", "causal_conv", "cauchy_conj")


@pytest.mark.parametrize("name", TORCH_CASES)
def test_grad_matches_torch(x64, torch_one_thread, name):
    """jax.grad and torch autograd of one real functional agree (float64).

    For a complex input z = x + iy, JAX returns dF/dx - i dF/dy and torch the
    conjugate, dF/dx + i dF/dy: the comparison conjugates torch's.
    """
    torch = pytest.importorskip("torch")
    fn, names = CASES[name]
    base = _inputs(True)
    args = [np.asarray(base[n]) for n in names]
    weights = _weights(fn(*args))
    inexact = tuple(i for i, a in enumerate(args) if a.dtype.kind in "fc")
    g_jax = jax.jit(jax.grad(lambda *a: _functional(jnp, fn(*a), weights), argnums=inexact))(
        *(jnp.asarray(a) for a in args))
    xt = _array.backend_namespace("torch")
    targs = [torch.tensor(a, requires_grad=i in inexact) for i, a in enumerate(args)]
    _functional(xt, fn(*targs), weights).backward()
    # both are exact derivatives in float64, evaluated by different rounding paths
    # (JAX differentiates the generic reductions, torch runs its hand-written backward
    # Functions): 64 * N * L * eps64 relative to the largest entry, as for values
    rtol = 64 * N * L * EPS[np.float64]
    for i, g in zip(inexact, g_jax, strict=True):
        gt = targs[i].grad.numpy()
        assert relative_error(np.asarray(g), np.conj(gt)) <= rtol, (name, names[i])


# ------------------------------------------------------------------------------------
# value checks while tracing, JAX's default single precision
# ------------------------------------------------------------------------------------
def test_value_checks_run_eagerly_and_are_skipped_under_jit(x64):
    lam, B, C = (jnp.asarray(np.array([-1.0 + 1j, -2.0])) for _ in range(3))
    bad_dt = jnp.asarray(np.array([-0.1]))
    nan_C = jnp.asarray(np.array([math.nan, 1.0 + 0j]))
    with pytest.raises(ValueError, match="dt must be strictly positive"):
        ss.kernel_diag(lam, B, C, bad_dt, 4)
    with pytest.raises(ValueError, match="C contains NaN"):
        ss.kernel_diag(lam, B, nan_C, 0.1, 4)
    # eager jax.grad has the values: the checks still run
    with pytest.raises(ValueError, match="dt must be strictly positive"):
        jax.grad(lambda d: jnp.sum(ss.kernel_diag(lam, B, C, d, 4).real))(
            jnp.asarray(-0.1))
    f = jax.jit(lambda l, b, c, d: ss.kernel_diag(l, b, c, d, 4))
    # traced: no host check, the bad value shows in the output (visibly, not silently)
    assert not bool(jnp.all(jnp.isfinite(f(lam, B, nan_C, jnp.asarray(0.1)))))
    f(lam, B, C, bad_dt)  # no exception: documented in docs/validation.md
    # a type check needs no value and still runs under jit
    with pytest.raises(TypeError, match="halved must be a bool"):
        jax.jit(lambda l: ss.kernel_diag(l, B, C, 0.1, 4, halved=1))(lam)
    assert not _array.tracing(lam)
    jax.jit(lambda x: (_array.tracing(x) or pytest.fail("not seen as traced"), x)[1])(lam)


def test_float32_without_x64():
    """JAX's default mode (no 64-bit types): float32 in, float32 out, every public
    kernel traceable. The double-precision set-up steps are truncated to single
    precision by JAX, so the error is that of an all-float32 evaluation: 1e-4
    relative here (N = 16, L = 256; docs/float32.md has the measured sizes)."""
    with jax_x64(False):
        d, C, dt = _legs_channels(8, 2, np.random.default_rng(4))
        args = [jnp.asarray(a.astype(np.complex64)) for a in (d.Lambda, d.P, d.B, C)]
        dt32 = jnp.asarray(dt.astype(np.float32))
        ref = ss.kernel_dplr(d.Lambda, d.P, d.B, C, dt, 256, halved=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # JAX: complex128 truncated
            K = jax.jit(lambda *a: ss.kernel_dplr(*a, 256, halved=True))(*args, dt32)
            Kd = jax.jit(lambda l, b, c, t: ss.kernel_diag(l, b, c, t, 256, halved=True))(
                args[0], args[2], args[3], dt32)
        assert K.dtype == jnp.float32 and Kd.dtype == jnp.float32
        assert relative_error(np.asarray(K), ref) <= 1e-4
        ref_d = ss.kernel_diag(d.Lambda, d.B, C, dt, 256, halved=True)
        assert relative_error(np.asarray(Kd), ref_d) <= 1e-4


@pytest.mark.slow  # eager JAX compiles each operation of the eigen-decomposition: ~40 s
def test_constructors_inside_jit(x64):
    """nplr/dplr decide on computed eigenvalues on the host: inside jit they run at
    trace time and enter the compiled function as constants."""
    def f(scale):
        d = ss.dplr("legs", 4, xp=jnp)
        A, _ = ss.hippo.transition("legs", 4, xp=jnp)
        return scale * d.Lambda, scale * A

    lam, A = jax.jit(f)(jnp.asarray(2.0))
    # JAX's eigh against LAPACK's through NumPy: rounding order only (N = 4)
    assert relative_error(np.asarray(lam), 2 * ss.dplr("legs", 4).Lambda) <= 64 * EPS[np.float64]
    assert relative_error(np.asarray(A), 2 * ss.hippo.transition("legs", 4)[0]) == 0


def test_verify_backend_jax(tmp_path, monkeypatch):
    """``statespace verify --backend jax`` runs the suite's rows on JAX arrays with
    64-bit types (float64 rows would otherwise be float32 in disguise)."""
    import json

    from statespace import cli
    from statespace.verification import runner, suite

    def one_experiment(quick, dtypes, backend):
        exps = [e for e in suite.experiments(quick=quick, dtypes=dtypes, backend=backend)
                if e.name == "kernel_legs_N16"]
        return exps, runner.SOURCE

    monkeypatch.setattr(runner, "_load_experiments", one_experiment)
    monkeypatch.setenv("JAX_ENABLE_X64", "0")  # restored after the test
    before = jax.config.jax_enable_x64
    try:
        status = cli.main(["verify", "--out", str(tmp_path), "--no-progress", "--backend",
                           "jax", "--dtype", "float64"])
        assert jax.config.jax_enable_x64
    finally:
        jax.config.update("jax_enable_x64", before)
    assert status == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["rows"] and {r["params"]["backend"] for r in doc["rows"]} == {"jax"}
