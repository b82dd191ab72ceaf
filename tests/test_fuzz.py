"""Property-based fuzz suite over every public function and module of statespace.

Every test draws shapes (batch axes, state sizes, lengths, including the edge sizes 0
and 1), dtypes (float32/float64/complex64/complex128, and ints, bools, strings and
objects where an array is expected), values (ordinary ones, 0, huge: 1e300 or 1e30 in
float32, tiny: 1e-300 and subnormals, NaN and infinities) and bad types (None, strings,
bools, masked arrays, dicts, arrays of another library), calls a public function and
checks the property of :mod:`fuzz_strategies`:

* a clean ``ValueError``/``TypeError`` raised by statespace itself, of the type the
  contract asks for, naming the offending argument (or the cause); or
* a finite result that agrees with an independent NumPy/SciPy reference (explicit
  powers, direct sums, :func:`scipy.signal.cont2discrete`, the documented formulas) to a
  tolerance stated per test as a function of the dtype, the sizes and the condition of
  the problem; where the problem is ill-conditioned by construction the agreement is
  not checked (the result must still be finite or a clean error) and the test says so;
* and in both cases no input is modified, and real-typed inputs give the values of the
  same inputs typed complex (or a clean error).

Each test runs its default number of deterministic examples (the whole file in well
under a minute) and, marked ``slow``, twenty times as many (``pytest -m slow
tests/test_fuzz.py``). ``test_every_public_function_is_fuzzed`` keeps the list of
covered names complete.
"""

from __future__ import annotations

import inspect
import math
import types
import warnings

import numpy as np
import scipy.signal
from fuzz_strategies import (
    ALL_DTYPES,
    BACKENDS,
    EITHER,
    FLOAT_DTYPES,
    TYPE,
    VALUE,
    Case,
    Defect,
    Raised,
    assert_agree,
    backend_array,
    call,
    check_typed,
    check_variants,
    eps_of,
    fail,
    fuzz,
    in_range,
    incompatible,
    is_single,
    magnitude,
    maybe_defect,
    sub_batch,
    to_np,
    values,
)
from hypothesis import strategies as st

import statespace as ss
from statespace import boundary as sb
from statespace import conv as sc
from statespace import decomp as sdec
from statespace import discretize as sd
from statespace import hippo as sh
from statespace import kernels as sk
from statespace import recurrence as sr
from statespace import reductions as sred

#: public callables each test covers (checked by test_every_public_function_is_fuzzed)
COVERED: set[str] = set()


def covers(*names):
    COVERED.update(names)


def _cdtype(dtype):
    return np.complex64 if is_single(dtype) else np.complex128


def _single(*dtypes):
    """float32 working precision: every floating input is single precision."""
    return all(is_single(d) for d in dtypes)


def _to_backend(case, backend, skip=()):
    """The case's NumPy arrays in ``backend`` (a case with a bad non-array input stays in
    NumPy, so the defect is the only thing wrong with it)."""
    if any(not d.kind.endswith(" entry") for d in case.defects):
        backend = "numpy"
    kw = {k: (v if k in skip else backend_array(v, backend)) for k, v in case.kwargs.items()}
    return Case(kw, case.defects)


def _is_clean(case):
    return not case.defects


# =======================================================================================
# reductions: cauchy, cauchy_conj, vandermonde, fast_paths
# =======================================================================================
covers("cauchy", "cauchy_conj", "vandermonde", "reductions.cauchy", "reductions.cauchy_conj",
       "reductions.vandermonde", "reductions.fast_paths")


def _chunk_defect(draw):
    v, what, exp = draw(st.sampled_from([
        (0, "0", VALUE), (-2, "negative", VALUE), (1.5, "a float", TYPE),
        (True, "True", TYPE), ("2", "a string", TYPE)]))
    return v, Defect("chunk", what, exp)


def _cauchy_ref(v, z, w, conj):
    """Direct sums in complex128 and the rounding scale of each output.

    Each term ``v / (z - w)`` carries the rounding of one subtraction, relative
    ``eps (|z| + |w|) / |z - w|``, and of one division; summing ``N`` terms adds at most
    ``N eps`` times the sum of their moduli: the scale is
    ``sum_n |v_n| / |z - w_n| * (1 + (|z| + |w_n|) / |z - w_n|)``.
    """
    v, z, w = (np.asarray(a, np.complex128) for a in (v, z, w))
    terms = [(v, w)] + ([(np.conj(v), np.conj(w))] if conj else [])
    y = 0
    scale = 0
    with np.errstate(all="ignore"):
        for vv, ww in terms:
            d = z[..., :, None] - ww[..., None, :]
            y = y + np.sum(vv[..., None, :] / d, axis=-1)
            ad = np.abs(d)
            scale = scale + np.sum(np.abs(vv)[..., None, :] / ad
                                   * (1 + (np.abs(z)[..., :, None] + np.abs(ww)[..., None, :])
                                      / ad), axis=-1)
    return y, scale


@fuzz(60, data=st.data())
def test_cauchy(data):
    """cauchy / cauchy_conj against direct sums; the fused and generic paths agree.

    Tolerance ``8 (N + 4) eps * scale`` elementwise (scale of :func:`_cauchy_ref`; the
    factor 8 covers the few roundings of a complex subtraction, division and
    accumulation). Not checked where the scale leaves the range of
    :func:`fuzz_strategies.in_range` (overflowing or underflowing terms).
    """
    draw = data.draw
    conj = draw(st.booleans())
    fn = ss.cauchy_conj if conj else ss.cauchy
    backend = draw(st.sampled_from(BACKENDS))
    dtype = draw(st.sampled_from(ALL_DTYPES))
    large = draw(st.integers(0, 5)) == 0  # large enough for the fused CPU kernel
    N = draw(st.sampled_from([64, 80])) if large else draw(st.integers(1, 6))
    L = draw(st.sampled_from([256, 300])) if large else draw(st.integers(1, 10))
    batch = draw(st.sampled_from([(), (2,)])) if large else draw(
        st.sampled_from([(), (2,), (3, 1), (2, 2)]))
    bv, bz, bw = (draw(sub_batch(batch)) for _ in range(3))
    seed = draw(st.integers(0, 2**16))
    mv = magnitude(draw, dtype)
    mzw = magnitude(draw, dtype, ordinary=0.75)
    v = values(seed, bv + (N,), dtype, mv)
    w = values(seed + 1, bw + (N,), _cdtype(dtype), mzw)
    w = (w - np.abs(w.real).astype(w.dtype) * 1.5).astype(w.dtype)  # poles in Re < 0
    z = (1j * values(seed + 2, bz + (L,), dtype, mzw) * 3).astype(_cdtype(dtype))
    on_pole = draw(st.integers(0, 9)) == 0 and z.size and w.size
    if on_pole:
        # a node on a pole: a value error (z and w are both to blame)
        z = np.array(z, copy=True)
        z.reshape(-1)[0] = w.reshape(-1)[0]
    case = Case({"v": v, "z": z, "w": w})
    if draw(st.booleans()):
        case.kwargs["chunk"] = draw(st.sampled_from([1, 3, 64, np.int64(2)]))
    case = maybe_defect(draw, case, {"v": "array", "z": "array", "w": "array",
                                     "chunk": _chunk_defect})
    if _is_clean(case) and draw(st.integers(0, 5)) == 0:
        # N of v and w disagree, or batch shapes that do not broadcast
        bad = incompatible(np.broadcast_shapes(z.shape[:-1], w.shape[:-1]))
        if bad is not None and draw(st.booleans()):
            case.kwargs["v"] = values(seed, bad + (N,), dtype)
            case.defects.append(Defect("v", "batch shape not broadcasting", VALUE,
                                       names=("v", "z", "w")))
        else:
            case.kwargs["w"] = values(seed, bw + (N + 1,), _cdtype(dtype))
            case.defects.append(Defect("w", "N differs from v", VALUE, names=("v", "w")))
    case = _to_backend(case, backend)
    if on_pole:  # the nodes and poles are valid-typed: a clean refusal naming the cause
        case.defects.append(Defect("z", "a node on a pole", VALUE,
                                   names=("z", "w", "node", "pole", "coincides")))
    out = call(fn, case)
    if not _is_clean(case):
        return
    ref, scale = _cauchy_ref(v, z, w, conj)
    eps = eps_of(np.result_type(v, z, w))
    tol = 8 * (N + 4) * eps * scale
    # the fused CPU kernel and the generic path must agree (or fail alike)
    if backend in ("numpy", "torch"):
        with sred.fast_paths("generic"):
            gen = call(fn, case, label=f"{fn.__name__} [fast_paths('generic')]")
        if isinstance(out, Raised) != isinstance(gen, Raised):
            which = "the default path" if isinstance(out, Raised) else "the generic path"
            fail("path disagreement", f"{which} raised, the other returned a result: "
                 f"{(out if isinstance(out, Raised) else gen).exc!r}")
        if not isinstance(gen, Raised) and np.all(np.isfinite(scale)):
            assert_agree(out, to_np(gen), tol * 2, what="default vs generic path")
    if isinstance(out, Raised):
        return
    if not (np.all(np.isfinite(ref)) and in_range(float(np.max(scale, initial=0.0)), eps)):
        return  # overflowing/underflowing terms: finiteness was the property
    assert_agree(out, ref, tol)
    check_typed(fn, case, out, tol, draw=draw, names=("v",))
    check_variants(draw, fn, case, out, tol, arrays=("v",))


def _vdm_ref(v, x, L):
    """Direct sums and their rounding scale ``sum_n |v_n e^{x_n l}| (1 + |x_n| l)``.

    ``exp(x l)`` evaluated directly has relative error ``eps (1 + |x| l)`` (the rounding
    of the product ``x l`` is amplified by the exponential).
    """
    v, x = np.asarray(v, np.complex128), np.asarray(x, np.complex128)
    ell = np.arange(L)
    with np.errstate(all="ignore"):
        e = np.exp(x[..., None, :] * ell[:, None])
        y = np.sum(v[..., None, :] * e, axis=-1)
        scale = np.sum(np.abs(v[..., None, :] * e) * (1 + np.abs(x[..., None, :])
                                                      * ell[:, None]), axis=-1)
    return y, scale


@fuzz(60, data=st.data())
def test_vandermonde(data):
    """vandermonde against direct sums, tolerance ``8 (N + 4) eps * scale`` (:func:`_vdm_ref`).

    Growing modes (``Re x > 0``) over long lengths overflow: then only a clean error or a
    finite result is required.
    """
    draw = data.draw
    backend = draw(st.sampled_from(BACKENDS))
    dtype = draw(st.sampled_from(ALL_DTYPES))
    large = draw(st.integers(0, 5)) == 0
    N = draw(st.sampled_from([64, 80])) if large else draw(st.integers(1, 6))
    L = draw(st.sampled_from([256, 300])) if large else draw(st.integers(1, 12))
    batch = draw(st.sampled_from([(), (2,), (3, 1)]))
    bv, bx = draw(sub_batch(batch)), draw(sub_batch(batch))
    seed = draw(st.integers(0, 2**16))
    v = values(seed, bv + (N,), dtype, magnitude(draw, dtype))
    growth = draw(st.sampled_from([-1.0, -1.0, -0.01, 0.0, 0.01, 5.0]))
    mx = magnitude(draw, dtype, ordinary=0.8)
    x = values(seed + 1, bx + (N,), _cdtype(dtype), mx)
    x = (np.abs(x.real) * growth + 1j * x.imag).astype(_cdtype(dtype))
    case = Case({"v": v, "x": x, "L": L})
    if draw(st.booleans()):
        case.kwargs["chunk"] = draw(st.sampled_from([1, 5, np.int64(3)]))
    case = maybe_defect(draw, case, {"v": "array", "x": "array", "L": "length",
                                     "chunk": _chunk_defect})
    if _is_clean(case) and draw(st.integers(0, 6)) == 0:
        case.kwargs["x"] = values(seed, bx + (N + 1,), _cdtype(dtype))
        case.defects.append(Defect("x", "N differs from v", VALUE, names=("v", "x")))
    case = _to_backend(case, backend)
    out = call(ss.vandermonde, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    ref, scale = _vdm_ref(v, x, L)
    eps = eps_of(np.result_type(v, x))
    if not (np.all(np.isfinite(ref)) and in_range(float(np.max(scale)), eps)):
        return
    tol = 8 * (N + 4) * eps * scale
    assert_agree(out, ref, tol)
    check_typed(ss.vandermonde, case, out, tol, draw=draw, names=("v",))
    check_variants(draw, ss.vandermonde, case, out, tol, lengths=("L",), arrays=("v",))


@fuzz(15, mode=st.one_of(st.sampled_from(["auto", "generic", "custom"]),
                         st.sampled_from(["fast", "AUTO", "", 1, None, True, ["auto"]])))
def test_fast_paths(mode):
    """fast_paths: a known mode switches and restores; anything else is a clean error."""
    good = isinstance(mode, str) and mode in ("auto", "generic", "custom")
    expect = [] if good else [Defect("mode", repr(mode),
                                     VALUE if isinstance(mode, str) else TYPE)]
    before = sred.fast_paths("auto")
    try:
        out = call(sred.fast_paths, Case({"mode": mode}, expect))
        if not isinstance(out, Raised):
            with out as previous:
                if previous != "auto":
                    fail("silent wrong result", f"previous mode {previous!r}, expected 'auto'")
                y = ss.cauchy(np.ones(2), np.array([1j, 2j]), np.array([-1.0, -2.0]))
                assert_agree(y, _cauchy_ref(np.ones(2), np.array([1j, 2j]),
                                            np.array([-1.0, -2.0]), False)[0],
                             64 * eps_of("float64"))
            if sred.fast_paths("auto").previous != "auto":
                fail("silent wrong result", "leaving the with block did not restore the mode")
    finally:
        sred.fast_paths(before.previous)


# =======================================================================================
# conv: causal_conv, bidirectional_conv, fft_length
# =======================================================================================
covers("causal_conv", "bidirectional_conv", "conv.causal_conv", "conv.bidirectional_conv",
       "conv.fft_length")


def _toeplitz_apply(K, u, past=True):
    """Direct O(L^2) sums: ``sum_j K[l-j] u[j]`` (past) or ``sum_{j>l} K[j-l-1] u[j]``."""
    L = u.shape[-1]
    LK = K.shape[-1]
    out = 0
    cols = []
    for l in range(L):
        acc = 0
        for j in range(L):
            m = (l - j) if past else (j - l - 1)
            if 0 <= m < LK:
                acc = acc + K[..., m] * u[..., j]
        cols.append(np.broadcast_to(np.asarray(acc, np.complex128),
                                    np.broadcast_shapes(K.shape[:-1], u.shape[:-1])))
    out = np.stack(cols, axis=-1)
    return out


def _D_defect(draw):
    v, what, exp = draw(st.sampled_from([
        (True, "a bool", TYPE), ("1", "a string", TYPE), (float("nan"), "NaN", VALUE),
        (float("inf"), "inf", VALUE), (np.array([np.nan]), "NaN array", VALUE),
        (np.array([True]), "bool array", TYPE), ({}, "a dict", TYPE)]))
    return v, Defect("D", what, exp)


@fuzz(60, data=st.data())
def test_conv(data):
    """causal_conv / bidirectional_conv against the direct O(L^2) sums.

    Tolerance per output row: ``16 eps (log2 n + 1) ||K||_2 ||u||_2 + 8 eps |D u_l|``,
    the norm-wise error bound of a convolution by FFTs of length ``n`` (each of the
    ``log2 n`` butterfly stages of the three transforms adds a few roundings relative to
    the 2-norms of the operands).
    """
    draw = data.draw
    bidir = draw(st.booleans())
    backend = draw(st.sampled_from(BACKENDS))
    batch = draw(st.sampled_from([(), (2,), (3, 1), (1, 2)]))
    L = draw(st.integers(1, 16))
    dts = [draw(st.sampled_from(ALL_DTYPES)) for _ in range(3)]
    seed = draw(st.integers(0, 2**16))
    u = values(seed, draw(sub_batch(batch)) + (L,), dts[0], magnitude(draw, dts[0]))
    LK = draw(st.integers(1, 20))
    K = values(seed + 1, draw(sub_batch(batch)) + (LK,), dts[1], magnitude(draw, dts[1]))
    names = ("u", "K_fwd", "K_bwd") if bidir else ("u", "K")
    kw = {"u": u, names[1]: K}
    if bidir:
        kw["K_bwd"] = values(seed + 2, draw(sub_batch(batch)) + (draw(st.integers(1, 20)),),
                             dts[2], magnitude(draw, dts[2]))
    Dkind = draw(st.sampled_from(["none", "scalar", "array", "complex", "np_scalar"]))
    if Dkind == "scalar":
        kw["D"] = draw(st.sampled_from([0.5, -2.0, 0.0, 1e300, 5e-324]))
    elif Dkind == "complex":
        kw["D"] = 0.5 - 0.25j
    elif Dkind == "np_scalar":
        kw["D"] = np.float32(1.5)
    elif Dkind == "array":
        kw["D"] = values(seed + 3, draw(sub_batch(batch)), dts[2])
    case = Case(kw)
    kinds = {n: "array" for n in names}
    kinds["D"] = _D_defect
    case = maybe_defect(draw, case, kinds)
    if _is_clean(case) and draw(st.integers(0, 5)) == 0:
        which = draw(st.sampled_from(names))
        shape = case.kwargs[which].shape
        others = [np.shape(case.kwargs[n])[:-1] for n in names if n != which]
        if isinstance(case.kwargs.get("D"), np.ndarray):
            others.append(case.kwargs["D"].shape)
        bad = incompatible(np.broadcast_shapes(*others))
        if draw(st.booleans()) and bad is not None:
            case.kwargs[which] = values(seed, bad + shape[-1:], "float64")
            case.defects.append(Defect(which, "batch shape not broadcasting", VALUE,
                                       names=names + ("D",)))
        else:  # an empty time axis
            case.kwargs[which] = np.zeros(shape[:-1] + (0,))
            case.defects.append(Defect(which, "empty time axis", VALUE))
    case = _to_backend(case, backend)
    fn = ss.bidirectional_conv if bidir else ss.causal_conv
    out = call(fn, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    uu = u.astype(np.complex128)
    Kf = K.astype(np.complex128)
    with np.errstate(all="ignore"):
        ref = _toeplitz_apply(Kf, uu)
        knorm = _vnorm(Kf[..., :L])
        if bidir:
            Kb = kw["K_bwd"].astype(np.complex128)
            ref = ref + _toeplitz_apply(Kb, uu, past=False)
            knorm = np.hypot(knorm, _vnorm(Kb[..., : L - 1]))
        D = kw.get("D")
        Dv = 0 if D is None else np.asarray(D, np.complex128)
        if D is not None:
            Dv = Dv[..., None] if np.ndim(Dv) else Dv
            ref = ref + Dv * uu
        n = sc.fft_length(2 * L)
        eps = eps_of(out.dtype)
        rownorm = knorm * _vnorm(uu)
        tol = (16 * eps * (math.log2(n) + 1) * rownorm[..., None]
               + 8 * eps * np.abs(Dv * uu))
        # subnormal inputs round in absolute terms (tiny per entry), and a process in
        # flush-to-zero mode (some libraries set it when loaded) drops them: an
        # absolute term tiny ||K|| sqrt(L) per output
        tiny = float(np.finfo(np.float32 if eps > 1e-10 else np.float64).tiny)
        tol = tol + 16 * (math.log2(n) + 1) * tiny * math.sqrt(max(L, 1)) * (
            knorm[..., None] + np.abs(Dv))
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(tol))
            and in_range(float(np.max(np.abs(tol), initial=0.0)) / eps, out.dtype)):
        return  # overflowing or underflowing products: finiteness was the property
    assert_agree(out, ref, tol)
    check_typed(fn, case, out, tol, draw=draw)
    check_variants(draw, fn, case, out, tol)


def _smooth_ref(n):
    best = None
    p2 = 1
    while p2 < 2 * n:
        p3 = p2
        while p3 < 2 * n:
            p5 = p3
            while p5 < 2 * n:
                if p5 >= n and (best is None or p5 < best):
                    best = p5
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


@fuzz(38, n=st.one_of(st.integers(1, 5000), st.sampled_from([10**9 + 7, 2**40 + 1]),
                      st.sampled_from([0, -4, 2.0, 7.5, True, None, "8", np.int64(17),
                                       np.uint8(9)])))
def test_fft_length(n):
    """fft_length: the smallest 5-smooth number >= n (brute-force reference)."""
    ok = isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 1
    defects = [] if ok else [Defect("n", repr(n), VALUE if isinstance(n, (int, np.integer))
                                    and not isinstance(n, bool) else TYPE)]
    out = call(sc.fft_length, Case({"n": n}, defects))
    if ok and out != _smooth_ref(int(n)):
        fail("silent wrong result", f"fft_length({n!r}) = {out}, expected {_smooth_ref(int(n))}")
    if ok and type(out) is not int:
        fail("typing disagreement", f"fft_length({n!r}) returned {type(out).__name__}")


# =======================================================================================
# shared system draws and dense references
# =======================================================================================
METHODS = ("bilinear", "zoh", "gbt", "forward_euler", "backward_euler")
GBT_ALPHA = {"forward_euler": 0.0, "bilinear": 0.5, "backward_euler": 1.0}
STABILITY = ("stable", "stable", "stable", "marginal", "unstable", "zero")


def _lambda(seed, shape, dtype, stab, mag=1.0):
    """Eigenvalues: stable (Re < 0), marginal (Re = 0), unstable (Re > 0) or zero."""
    rng = np.random.default_rng(seed)
    re = {"stable": -rng.uniform(0.1, 2.0, shape), "marginal": np.zeros(shape),
          "unstable": rng.uniform(0.01, 0.5, shape), "zero": np.zeros(shape)}[stab]
    im = rng.uniform(-4.0, 4.0, shape) if stab != "zero" else np.zeros(shape)
    lam = re + 1j * im if np.dtype(dtype).kind == "c" else re
    with np.errstate(all="ignore"):
        return np.asarray(lam * mag).astype(dtype)


def _draw_dt(draw, batch, seed, extreme=0.25):
    """A step: a Python float, a NumPy scalar, or an array broadcasting to ``batch``."""
    kind = draw(st.sampled_from(["scalar", "scalar", "array", "np32", "extreme"]))
    if kind == "extreme" and draw(st.floats(0, 1)) < extreme * 4:
        return draw(st.sampled_from([1e-300, 5e-324, 1e300, 1e3, 1e-9, 30.0]))
    if kind == "array" and batch:
        dtype = draw(st.sampled_from(FLOAT_DTYPES))
        return values(seed, draw(sub_batch(batch)), dtype, 1.0, low=0.01, high=0.5, sign=False)
    if kind == "np32":
        return np.float32(0.05)
    return draw(st.floats(1e-3, 1.0))


def _dt_np(dt):
    return np.asarray(to_np(dt) if not isinstance(dt, (int, float)) else dt, np.float64)


def _bcast(*pairs):
    """Broadcast ``(array, core_ndim)`` pairs to their common batch; the batch and arrays."""
    batch = np.broadcast_shapes(*(np.shape(a)[: np.ndim(a) - k] for a, k in pairs))
    out = [np.broadcast_to(a, batch + np.shape(a)[np.ndim(a) - k:]) for a, k in pairs]
    return batch, out


def _disc_ref(A, B, dt, method, alpha=None):
    """``(Ad, Bd, kappa)`` per batch entry by :func:`scipy.signal.cont2discrete`.

    ``kappa``: the condition of the step, ``cond_2(I - alpha dt A)`` for the GBT family
    (one LU solve) and ``max(1, ||dt [A B]||_1)`` for ZOH (the scaling and squaring of
    the exponential loses about that factor). ``None`` when SciPy cannot produce it.
    """
    A = np.asarray(A)
    B = np.asarray(B)
    cdt = np.complex128 if (np.iscomplexobj(A) or np.iscomplexobj(B)) else np.float64
    batch, (A, B, h) = _bcast((A.astype(cdt), 2), (B.astype(cdt), 1), (_dt_np(dt), 0))
    N = A.shape[-1]
    Ad = np.zeros(batch + (N, N), cdt)
    Bd = np.zeros(batch + (N,), cdt)
    kappa = np.ones(batch)
    if N == 0:
        return Ad, Bd, kappa
    a_ = alpha if method == "gbt" else GBT_ALPHA.get(method)
    for idx in np.ndindex(*batch):
        a, b, step = A[idx], B[idx], float(h[idx])
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                # an ill-conditioned step is detected through kappa below
                warnings.simplefilter("ignore")
                if method == "zoh":
                    kappa[idx] = max(1.0, np.linalg.norm(step * np.column_stack([a, b]), 1))
                    res = scipy.signal.cont2discrete(
                        (a, b[:, None], np.eye(N), np.zeros((N, 1))), step, method="zoh")
                else:
                    kappa[idx] = np.linalg.cond(np.eye(N) - a_ * step * a) if a_ else 1.0
                    res = scipy.signal.cont2discrete(
                        (a, b[:, None], np.eye(N), np.zeros((N, 1))), step, method="gbt",
                        alpha=a_)
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return None
        Ad[idx], Bd[idx] = res[0], res[1][:, 0]
    if not (np.all(np.isfinite(Ad)) and np.all(np.isfinite(Bd)) and np.all(np.isfinite(kappa))):
        return None
    return Ad, Bd, kappa


def _one_minus_power(A, dt, L):
    """``I - Ad^L`` of the bilinear transform of ``A``, without cancellation.

    ``Ad - I = (I - dt/2 A)^{-1} dt A`` is formed directly and ``(I + X)^L - I`` is
    accumulated as ``Y <- Y + X + Y X`` (``L`` explicit products): a rounded ``Ad`` close
    to the identity would leave only ``eps / (dt |A|)`` relative accuracy in ``I - Ad^L``.
    """
    A = np.asarray(A, np.complex128)
    batch, (A, h) = _bcast((A, 2), (_dt_np(dt), 0))
    n = A.shape[-1]
    eye = np.eye(n)
    with np.errstate(all="ignore"):
        X = np.linalg.solve(eye - (h / 2)[..., None, None] * A, h[..., None, None] * A)
        Y = np.zeros_like(X)
        for _ in range(L):
            Y = Y + X + Y @ X
    return -Y


def _full(a, halved, axis=-1):
    """The full system's ``[a, conj(a)]`` along ``axis`` when ``halved``."""
    a = np.asarray(a)
    return np.concatenate([a, np.conj(a)], axis=axis) if halved else a


def _dplr_dense(Lam, P):
    """``diag(Lambda) - P^H P`` (NumPy, batched)."""
    Lam, P = np.asarray(Lam, np.complex128), np.asarray(P, np.complex128)
    n = Lam.shape[-1]
    with np.errstate(all="ignore"):  # huge factors: an infinite reference is skipped
        return np.eye(n) * Lam[..., None, :] - np.conj(np.swapaxes(P, -1, -2)) @ P


def _powers(Ad, L):
    """``[I, Ad, ..., Ad^L]`` stacked on a new first axis (explicit products)."""
    n = Ad.shape[-1]
    out = [np.broadcast_to(np.eye(n, dtype=Ad.dtype), Ad.shape)]
    with np.errstate(all="ignore"):
        for _ in range(L):
            out.append(out[-1] @ Ad)
    return np.stack(out)


def _norm2(M):
    if M.shape[-1] == 0 or M.shape[-2] == 0:
        return np.zeros(M.shape[:-2])
    with np.errstate(all="ignore"):
        return np.linalg.norm(M, ord=2, axis=(-2, -1)) if np.all(np.isfinite(M)) else \
            np.full(M.shape[:-2], np.inf)


def _vnorm(v):
    """2-norm over the last axis in float64, scaled so that tiny or huge entries do not
    underflow or overflow when squared."""
    a = np.abs(np.asarray(v, np.complex128))
    m = np.max(a, axis=-1, keepdims=True, initial=0)
    safe = np.where(m > 0, m, 1)
    with np.errstate(all="ignore"):
        return m[..., 0] * np.sqrt(np.sum((a / safe) ** 2, axis=-1))


def _ok(x):
    return x is not None and bool(np.all(np.isfinite(x)))


# =======================================================================================
# discretize: the entry, the per-method aliases, dplr_transition, dplr_to_dense
# =======================================================================================
covers("discretize.discretize", "discretize.dplr_transition", "discretize.dplr_to_dense",
       "discretize.DPLRDiscrete.to_dense")

_ALIASES = {
    "gbt": ("dense", "gbt"), "bilinear": ("dense", "bilinear"),
    "forward_euler": ("dense", "forward_euler"), "backward_euler": ("dense", "backward_euler"),
    "zoh": ("dense", "zoh"),
    "gbt_diag": ("diag", "gbt"), "bilinear_diag": ("diag", "bilinear"),
    "forward_euler_diag": ("diag", "forward_euler"),
    "backward_euler_diag": ("diag", "backward_euler"), "zoh_diag": ("diag", "zoh"),
    "gbt_dplr": ("dplr", "gbt"), "bilinear_dplr": ("dplr", "bilinear"),
    "forward_euler_dplr": ("dplr", "forward_euler"),
    "backward_euler_dplr": ("dplr", "backward_euler"),
    # the hold discretizations (dense only; values against cont2discrete and mpmath in
    # tests/test_discretize.py): here, alias == discretize on random, NaN and bad inputs
    "foh": ("dense", "foh"), "impulse": ("dense", "impulse"),
}
covers(*(f"discretize.{a}" for a in _ALIASES))


def _alpha_defect(draw):
    v, what, exp = draw(st.sampled_from([
        (float("nan"), "NaN", VALUE), (1.5, "above 1", VALUE), (-0.1, "below 0", VALUE),
        (True, "a bool", TYPE), ("0.5", "a string", TYPE), (0.5 + 0j, "complex", TYPE),
        (float("inf"), "inf", VALUE)]))
    return v, Defect("alpha", what, exp)


def _method_defect(structure):
    def draw_it(draw):
        v, what, exp = draw(st.sampled_from([
            ("nope", "unknown string", VALUE), ("BILINEAR", "upper case", VALUE),
            (3, "an int", TYPE), (None, "None", TYPE)]
            + ([("zoh", "zoh for a DPLR system", VALUE)] if structure == "dplr" else [])))
        return v, Defect("method", what, exp)
    return draw_it


@st.composite
def systems(draw, structure, *, max_n=5):
    """A continuous system of ``structure`` ("dense", "diag", "dplr") as NumPy arrays."""
    dtype = draw(st.sampled_from(ALL_DTYPES))
    batch = draw(st.sampled_from([(), (), (2,), (3, 1)]))
    N = draw(st.integers(1, max_n)) if draw(st.integers(0, 9)) else draw(st.sampled_from([0, 1]))
    seed = draw(st.integers(0, 2**16))
    stab = draw(st.sampled_from(STABILITY))
    mag = magnitude(draw, dtype, ordinary=0.75)
    out = {"dtype": dtype, "batch": batch, "N": N, "seed": seed, "stab": stab, "mag": mag}
    if structure == "dense":
        M = values(seed, draw(sub_batch(batch)) + (N, N), dtype, 1.0) / max(N, 1)
        shift = {"stable": -1.5, "marginal": 0.0, "unstable": 0.5, "zero": 0.0}[stab]
        with np.errstate(all="ignore"):
            out["A"] = ((M + shift * np.eye(N)) * (0 if stab == "zero" else mag)).astype(dtype)
    else:
        out["Lambda"] = _lambda(seed, draw(sub_batch(batch)) + (N,), dtype, stab, mag)
    if structure == "dplr":
        r = draw(st.integers(1, 2))
        out["P"] = values(seed + 3, draw(sub_batch(batch)) + (r, N),
                          draw(st.sampled_from(ALL_DTYPES)), magnitude(draw, dtype, 0.8) * 0.5)
        out["halved"] = draw(st.booleans())
    out["B"] = values(seed + 1, draw(sub_batch(batch)) + (N,), draw(st.sampled_from(ALL_DTYPES)),
                      magnitude(draw, dtype, 0.8))
    out["C"] = values(seed + 2, draw(sub_batch(batch)) + (N,), draw(st.sampled_from(ALL_DTYPES)),
                      magnitude(draw, dtype, 0.8))
    out["dt"] = _draw_dt(draw, batch, seed + 4)
    return out


def _shape_defect(draw, case, names, batch, seed):
    """Occasionally a state size or batch shape mismatch in one of ``names``."""
    if not _is_clean(case) or draw(st.integers(0, 6)) != 0:
        return case
    which = draw(st.sampled_from(names))
    a = case.kwargs[which]
    kind = draw(st.sampled_from(["N", "batch"]))
    others = [np.shape(to_np(case.kwargs[n]))[: -(2 if n in ("A", "P") else 1)]
              for n in names if n != which]
    if "dt" in case.kwargs and not isinstance(case.kwargs["dt"], (int, float)):
        others.append(np.shape(to_np(case.kwargs["dt"])))
    bad = incompatible(np.broadcast_shapes(*others)) if others else None
    if kind == "batch" and bad is not None:
        core = 2 if which in ("A", "P") else 1
        case.kwargs[which] = values(seed, bad + a.shape[a.ndim - core:], a.dtype)
        case.defects.append(Defect(which, "batch shape not broadcasting", VALUE,
                                   names=tuple(names) + ("dt", "inputs", "system")))
    else:
        case.kwargs[which] = values(seed, a.shape[:-1] + (a.shape[-1] + 1,), a.dtype)
        case.defects.append(Defect(which, "state size differs", VALUE, names=tuple(names)))
    return case


def _system_arg(structure, kw):
    if structure == "dense":
        return sd.DenseSystem(kw["A"], kw["B"])
    if structure == "diag":
        return sd.DiagSystem(kw["Lambda"], kw["B"])
    return sd.DPLRSystem(kw["Lambda"], kw["P"], kw["B"], kw["halved"])


def _discretize_entry(structure):
    """``discretize`` with the system's fields as keyword arguments (for the checker)."""
    def entry(dt, method="bilinear", alpha=None, **fields):
        return sd.discretize(_system_arg(structure, fields), dt, method, alpha=alpha)
    entry.__qualname__ = f"discretize[{structure}]"
    return entry


def _diag_disc_ref(Lam, B, dt, method, alpha):
    """Elementwise discretization in complex128 and the rounding scale of each entry.

    GBT: ``Ld = (1 + (1-a) z) / (1 - a z)``, ``Bd = dt B / (1 - a z)``; each quotient has
    relative error ``eps (1 + |z|) (1/|1 + (1-a) z| + 1/|1 - a z|)``. ZOH:
    ``Ld = exp(z)``, ``Bd = dt B phi1(z)``, relative error ``eps (1 + |z|)``.
    """
    Lam = np.asarray(Lam, np.complex128)
    h = _dt_np(dt)[..., None]
    with np.errstate(all="ignore"):
        z = h * Lam
        w = h * np.asarray(B, np.complex128)
        if method == "zoh":
            small = np.abs(z) < 1e-8
            phi = np.where(small, 1 + z / 2 + z * z / 6,
                           np.expm1(np.where(small, 1, z)) / np.where(small, 1, z))
            Ld, Bd = np.exp(z), w * phi
            cond_l = cond_b = 1 + np.abs(z)
        else:
            a = alpha if method == "gbt" else GBT_ALPHA[method]
            den = 1 - a * z
            Ld, Bd = (1 + (1 - a) * z) / den, w / den
            cond_l = (1 + np.abs(z)) * (1 / np.abs(1 + (1 - a) * z) + 1 / np.abs(den))
            cond_b = (1 + np.abs(z)) / np.abs(den) + 1
    return Ld, Bd, cond_l, cond_b


@fuzz(90, data=st.data())
def test_discretize(data):
    """discretize over the three structures against cont2discrete / the formulas.

    Dense and DPLR: ``|Ad - Ad_ref|, |Bd - Bd_ref| <= 32 (N + 2) eps kappa (||Ad_ref|| +
    ||Bd_ref|| + 1)`` norm-wise, ``kappa`` of :func:`_disc_ref` (one LU solve or one
    exponential, each backward stable). Diagonal: elementwise, ``16 eps cond |ref|`` with
    the conditions of :func:`_diag_disc_ref`. Not checked when ``kappa eps > 1e-4``
    (a step that makes the transform ill-conditioned by construction).
    """
    draw = data.draw
    structure = draw(st.sampled_from(["dense", "diag", "dplr"]))
    s = draw(systems(structure))
    methods = METHODS if structure != "dplr" else tuple(m for m in METHODS if m != "zoh")
    method = draw(st.sampled_from(methods))
    alpha = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])) if method == "gbt" else None
    fields = ("A", "B") if structure == "dense" else (
        ("Lambda", "B") if structure == "diag" else ("Lambda", "P", "B", "halved"))
    kw = {k: s[k] for k in fields}
    kw.update(dt=s["dt"], method=method, alpha=alpha)
    case = Case(kw)
    kinds = {k: "array" for k in fields if k != "halved"}
    kinds.update(dt="dt", method=_method_defect(structure), alpha=_alpha_defect)
    if structure == "dplr":
        kinds["halved"] = "flag"
    case = maybe_defect(draw, case, kinds)
    if case.defects and case.defects[0].arg == "alpha" and method != "gbt":
        case.defects[0] = Defect("alpha", "given with method " + repr(method), EITHER)
    case = _shape_defect(draw, case, [f for f in fields if f != "halved"], s["batch"], s["seed"])
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    if draw(st.integers(0, 9)) == 0:  # not a system at all
        fn = sd.discretize
        bad = draw(st.sampled_from([(s["B"], s["B"]), None, "dense", s["B"]]))
        case = Case({"system": bad, "dt": 0.1, "method": "bilinear"},
                    [Defect("system", f"a {type(bad).__name__}", TYPE)])
        call(fn, case)
        return
    out = call(_discretize_entry(structure), case,
               params=("system", "dt", "method", "alpha") + fields)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    dt = s["dt"]
    eps = eps_of(out[0].dtype)
    if structure == "diag":
        Ld, Bd, cl, cb = _diag_disc_ref(s["Lambda"], s["B"], dt, method, alpha)
        if not (_ok(Ld) and _ok(Bd) and np.all(np.isfinite(cl)) and np.all(np.isfinite(cb))):
            return
        if np.max(cl, initial=0) * eps > 1e-4 or np.max(cb, initial=0) * eps > 1e-4:
            return
        tl, tb = 16 * eps * cl * np.abs(Ld), 16 * eps * cb * np.abs(Bd)
        if not (in_range(float(np.max(np.abs(Ld), initial=0)), eps)
                and in_range(float(np.max(np.abs(Bd), initial=0)), eps)):
            return
        assert_agree(out.Lambda_d, np.broadcast_to(Ld, np.shape(to_np(out.Lambda_d))), tl,
                     "Lambda_d")
        assert_agree(out.Bd, np.broadcast_to(Bd, np.shape(to_np(out.Bd))), tb, "Bd")
        tol = np.maximum(tl, tb)
    else:
        if structure == "dense":
            A = s["A"]
            B = s["B"]
        else:
            A = _dplr_dense(_full(s["Lambda"], s["halved"]), _full(s["P"], s["halved"]))
            B = _full(s["B"], s["halved"])
        ref = _disc_ref(A, B, dt, method, alpha)
        if ref is None:
            return
        Ad_r, Bd_r, kappa = ref
        if np.max(kappa) * eps > 1e-4:
            return
        scale = _norm2(Ad_r) + _vnorm(Bd_r) + 1
        if not in_range(float(np.max(scale)), eps):
            return
        n = Ad_r.shape[-1]
        if structure == "dplr":
            # Ad = A1 A0 is formed from its Woodbury pieces: its error is relative to
            # ||A1|| ||A0|| (documented in DPLRDiscrete), which exceeds ||Ad|| when
            # alpha dt ||P||^2 |E^-1| >> 1 squashes a direction (N = 1: all of Ad)
            scale = np.maximum(scale, _woodbury_scale(out))
            # pieces near the subnormal range (|E^-1| ~ 1 / (dt |lambda|) for steps
            # like 1e300) round gradually: rounding bounds do not hold there
            einv = to_np(out.Einv)
            if einv.size and not in_range(float(np.max(np.abs(einv))), eps):
                return
        tol = 32 * (n + 2) * eps * kappa * scale
        dense = out.to_dense() if structure == "dplr" else out
        assert_agree(dense.Ad, Ad_r, tol[..., None, None], "Ad")
        assert_agree(dense.Bd, Bd_r, tol[..., None], "Bd")
        if structure == "dplr":
            # the O(N r) transition against the dense reference
            x = values(s["seed"] + 7, (s["N"],), np.complex128)
            backend = ("torch" if type(out.Einv).__module__.startswith("torch") else
                       "array_api_strict" if type(out.Einv).__module__.startswith(
                           "array_api_strict") else "numpy")
            y = call(sd.dplr_transition, Case({"sys": out, "x": backend_array(x, backend)}))
            if not isinstance(y, Raised):
                xf = _full(x, s["halved"])
                yr = (Ad_r @ xf)[..., : s["N"]]
                assert_agree(y, yr, (tol * (1 + _vnorm(xf)))[..., None], "dplr_transition")
    check_typed(_discretize_entry(structure), case, out, _typed_tol(out, tol, eps), draw=draw,
                names=fields)
    check_variants(draw, _discretize_entry(structure), case, out, _typed_tol(out, tol, eps),
                   flags=("halved",), arrays=fields)


def _clog1p(z):
    """``log(1 + z)`` for complex ``z``, accurate for small ``|z|`` (NumPy's complex
    ``log1p`` forms ``1 + z`` first and loses ``eps / |z|`` relative)."""
    x, y = z.real, z.imag
    return 0.5 * np.log1p(x * (2 + x) + y * y) + 1j * np.arctan2(y, 1 + x)


def _woodbury_scale(out):
    """``||A1|| ||A0||`` bounded from the pieces of a DPLRDiscrete (per batch entry)."""
    einv = np.max(np.abs(to_np(out.Einv)), axis=-1, initial=0)
    p2 = np.sum(np.abs(to_np(out.P)) ** 2, axis=(-2, -1))
    factor = 2.0 if out.halved else 1.0  # the conjugate half doubles P v
    a1 = einv * (1 + factor * p2 * np.max(np.abs(to_np(out.R)), axis=(-2, -1), initial=0)
                 * einv)
    a0 = (np.max(np.abs(to_np(out.Lambda0)), axis=-1, initial=0)
          + factor * np.abs(to_np(out.s0))[..., 0] * p2)
    return a1 * a0


def _typed_tol(out, tol, eps):
    tol = np.asarray(tol)
    return np.max(tol) if tol.size else 0.0


@fuzz(8, data=st.data())
def test_discretize_aliases(data):
    """Each per-method alias returns exactly what discretize returns (or the same error);
    every alias is called in every example."""
    draw = data.draw
    for name, (structure, method) in sorted(_ALIASES.items()):
        s = draw(systems(structure, max_n=3))
        fields = ("A", "B") if structure == "dense" else (
            ("Lambda", "B") if structure == "diag" else ("Lambda", "P", "B"))
        kw = {k: s[k] for k in fields}
        kw["dt"] = s["dt"]
        if method == "gbt":
            kw["alpha"] = draw(st.sampled_from([0.0, 0.3, 1.0, float("nan"), 2.0]))
        if structure == "dplr":
            kw["halved"] = s["halved"]
        alias = getattr(sd, name)
        out = call(alias, Case(dict(kw)))
        sys_kw = {k: kw[k] for k in fields}
        if structure == "dplr":
            sys_kw["halved"] = kw["halved"]
        ref = call(_discretize_entry(structure),
                   Case(dict(sys_kw, dt=kw["dt"], method=method, alpha=kw.get("alpha"))))
        if isinstance(out, Raised) or isinstance(ref, Raised):
            if type(getattr(out, "exc", None)) is not type(getattr(ref, "exc", None)):
                fail("typing disagreement", f"{name}: {out!r} but discretize: {ref!r}")
            continue
        for (p, a), (_, b) in zip(_arrays(out), _arrays(ref), strict=True):
            if not np.array_equal(to_np(a), to_np(b), equal_nan=True):
                fail("silent wrong result", f"{name}{p} differs from discretize's")


def _arrays(x):
    from fuzz_strategies import arrays_in

    return list(arrays_in(x))


@fuzz(45, data=st.data())
def test_dplr_to_dense(data):
    """dplr_to_dense against ``diag(Lambda) - P^H P`` of the full system (NumPy).

    Tolerance ``4 (r + 1) eps (|Lambda| + sum_j |P_j|^2)`` per entry (one product and
    one sum per term of the Gram matrix).
    """
    draw = data.draw
    s = draw(systems("dplr"))
    halved = s["halved"]
    case = Case({"Lambda": s["Lambda"], "P": s["P"], "halved": halved})
    case = maybe_defect(draw, case, {"Lambda": "array", "P": "array", "halved": "flag"})
    case = _shape_defect(draw, case, ["Lambda", "P"], s["batch"], s["seed"])
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(sd.dplr_to_dense, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    Lf, Pf = _full(s["Lambda"], halved), _full(s["P"], halved)
    with np.errstate(all="ignore"):
        ref = _dplr_dense(Lf.astype(np.complex128), Pf.astype(np.complex128))
        ap = np.abs(Pf).astype(np.float64)
        scale = np.abs(np.eye(Lf.shape[-1]) * Lf[..., None, :]) + np.swapaxes(ap, -1, -2) @ ap
    eps = eps_of(out.dtype)
    if not (_ok(ref) and in_range(float(np.max(scale, initial=0)), eps)):
        return
    tol = 4 * (Pf.shape[-2] + 1) * eps * scale
    assert_agree(out, ref, tol)
    check_typed(sd.dplr_to_dense, case, out, tol, draw=draw)
    check_variants(draw, sd.dplr_to_dense, case, out, np.max(tol, initial=0), flags=("halved",))


# =======================================================================================
# kernels: kernel_dense, kernel_dplr, kernel_diag
# =======================================================================================
covers("kernel_dense", "kernel_dplr", "kernel_diag", "kernels.kernel_dense",
       "kernels.kernel_dplr", "kernels.kernel_diag")


def _kernel_ref(Ad, Bd, C, L):
    """``K_l = C Ad^l Bd`` by explicit powers, and ``||C|| max_l ||Ad^l|| ||Bd||``."""
    Pw = _powers(Ad, max(L - 1, 0))[:L]
    with np.errstate(all="ignore"):
        X = (np.moveaxis(Pw, 0, -3) @ Bd[..., None, :, None])[..., 0]  # batch + (L, n)
        K = np.sum(np.asarray(C)[..., None, :] * X, axis=-1)
        scale = _vnorm(C) * np.max(_norm2(Pw), axis=0) * _vnorm(Bd)
    return K, scale


def _kernel_tol(n, L, eps, kappa, scale):
    """``32 (n + L) eps kappa scale``: the Krylov/explicit-power products accumulate about
    ``L eps`` relative to ``||C|| max ||Ad^l|| ||Bd||``, the discretization adds ``n eps``
    times the condition ``kappa`` of its solve or exponential."""
    return 32 * (n + L) * eps * np.asarray(kappa) * np.asarray(scale)


@fuzz(75, data=st.data())
def test_kernel_dense(data):
    """kernel_dense against explicit powers of the cont2discrete system (:func:`_kernel_tol`).

    Not checked where ``kappa eps > 1e-4`` or the scale leaves the range of
    :func:`fuzz_strategies.in_range` (unstable systems over long lengths overflow there).
    """
    draw = data.draw
    s = draw(systems("dense"))
    method = draw(st.sampled_from(METHODS))
    alpha = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0])) if method == "gbt" else None
    L = draw(st.integers(1, 40)) if draw(st.integers(0, 9)) else draw(st.sampled_from(
        [1, 2, 300]))
    case = Case({"A": s["A"], "B": s["B"], "C": s["C"], "dt": s["dt"], "L": L,
                 "method": method, "alpha": alpha})
    case = maybe_defect(draw, case, {"A": "array", "B": "array", "C": "array", "dt": "dt",
                                     "L": "length", "method": _method_defect("dense"),
                                     "alpha": _alpha_defect})
    if case.defects and case.defects[0].arg == "alpha" and method != "gbt":
        case.defects[0] = Defect("alpha", "given with method " + repr(method), EITHER)
    case = _shape_defect(draw, case, ["A", "B", "C"], s["batch"], s["seed"])
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(ss.kernel_dense, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    ref = _disc_ref(s["A"], s["B"], s["dt"], method, alpha)
    eps = eps_of(out.dtype)
    if ref is None:
        return
    Ad, Bd, kappa = ref
    K, scale = _kernel_ref(Ad, Bd, s["C"], L)
    if not (_ok(K) and in_range(float(np.max(scale, initial=0)), eps)):
        return
    if np.max(kappa) * eps > 1e-4:
        return
    tol = _kernel_tol(s["N"], L, eps, kappa, scale)[..., None]
    assert_agree(out, K, tol)
    check_typed(ss.kernel_dense, case, out, np.max(tol, initial=0), draw=draw)
    check_variants(draw, ss.kernel_dense, case, out, np.max(tol, initial=0), lengths=("L",))


def _node_kappa(Ad, L, tilde):
    """``max_k ||(I - omega_k Ad)^{-1}||_2`` over the nodes of kernel_dplr's path."""
    k = np.arange(L)
    omega = np.exp(-2j * np.pi * k / L) if tilde else np.exp(-1.0 / L) * np.exp(
        -1j * np.pi * (2 * k + 1) / L)
    n = Ad.shape[-1]
    M = np.eye(n) - omega.reshape((L,) + (1,) * (Ad.ndim - 2) + (1, 1)) * Ad[None]
    with np.errstate(all="ignore"):
        s = np.linalg.svd(M, compute_uv=False)
        smin = np.min(s, axis=-1)
    return np.max(np.where(smin > 0, 1 / np.where(smin > 0, smin, 1), np.inf), axis=0)


@fuzz(75, data=st.data())
def test_kernel_dplr(data):
    """kernel_dplr against explicit powers of the dense bilinear system (full if halved).

    ``tilde=True``: ``C`` holds ``C~ = C (I - Ad^L)`` computed here; the reference kernel
    is that of ``C~ (I - Ad^L)^{-1}`` (skipped when ``cond(I - Ad^L) > 1e6``). Tolerance
    :func:`_kernel_tol` plus ``e ||C~|| ||Bd|| max_k ||(I - omega_k Ad)^{-1}||`` for the
    generating function at the nodes (amplified by at most ``e`` on the shifted circle).
    Unstable systems (``Re Lambda > 0``) make the truncation correction ill-posed: not
    checked. An array ``dt`` must be accepted or refused exactly as kernel_dense does.
    """
    draw = data.draw
    s = draw(systems("dplr", max_n=4))
    if draw(st.integers(0, 7)) == 0:
        s["P"] = s["P"][..., :0, :]  # rank 0: purely diagonal
    halved, tilde = s["halved"], draw(st.booleans())
    L = draw(st.integers(1, 32))
    Lf, Pf, Bf, Cf = (_full(s[k], halved) for k in ("Lambda", "P", "B", "C"))
    A = _dplr_dense(Lf, Pf)
    ref = _disc_ref(A, Bf, s["dt"], "bilinear") if s["N"] else None
    C = s["C"]
    Ct_rounded = None
    if tilde and ref is not None:
        try:
            with np.errstate(all="ignore"):
                Ctf = (Cf[..., None, :] @ _one_minus_power(A, s["dt"], L))[..., 0, :]
        except np.linalg.LinAlgError:  # I - dt/2 A singular in the reference's rounding
            Ctf, ref = Cf, None
        if np.iscomplexobj(Ctf) and np.any(Ctf.imag):
            C = Ctf[..., : s["N"]].astype(np.result_type(C.dtype, np.complex64))
        else:
            C = np.real(Ctf[..., : s["N"]]).astype(C.dtype)
        Ct_rounded = C
    case = Case({"Lambda": s["Lambda"], "P": s["P"], "B": s["B"], "C": C, "dt": s["dt"],
                 "L": L, "halved": halved, "tilde": tilde})
    case = maybe_defect(draw, case, {"Lambda": "array", "P": "array", "B": "array",
                                     "C": "array", "dt": "dt", "L": "length",
                                     "halved": "flag", "tilde": "flag"})
    case = _shape_defect(draw, case, ["Lambda", "P", "B", "C"], s["batch"], s["seed"])
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(ss.kernel_dplr, case)
    if not _is_clean(case):
        return
    if not halved and isinstance(s["dt"], np.ndarray) and s["N"]:
        dense = call(ss.kernel_dense, Case({"A": A, "B": s["B"], "C": s["C"], "dt": s["dt"],
                                            "L": L}))
        if isinstance(out, Raised) != isinstance(dense, Raised):
            err = (out if isinstance(out, Raised) else dense).exc
            if "dt" in str(err):
                fail("inconsistent contract",
                     f"dt of shape {s['dt'].shape}: kernel_dplr "
                     f"{'raised' if isinstance(out, Raised) else 'accepted'} it, kernel_dense "
                     f"{'raised' if isinstance(dense, Raised) else 'accepted'} it ({err})")
    if isinstance(out, Raised) or ref is None or s["stab"] == "unstable":
        return
    eps = eps_of(out.dtype)
    Ad, Bd, kappa = ref
    # the Woodbury step is accurate relative to the resolvent before its low-rank
    # correction (the accuracy note of DPLRDiscrete): when dt/2 ||P||^2 |E^-1| nears
    # 1/eps it cancels the kernel's digits by construction (P ~ 1e29): not checked
    with np.errstate(all="ignore"):
        h = _dt_np(s["dt"])[..., None] / 2
        einv = np.max(1 / np.abs(1 - h * np.asarray(Lf, np.complex128)), axis=-1,
                      initial=0)
        w = h[..., 0] * np.sum(np.abs(np.asarray(Pf, np.complex128)) ** 2,
                               axis=(-2, -1)) * einv
    if not np.all(np.isfinite(w)) or np.max(w, initial=0) * eps > 1e-4:
        return
    if tilde:
        with np.errstate(all="ignore"):
            M = _one_minus_power(A, s["dt"], L)
            condM = np.linalg.cond(M) if np.all(np.isfinite(M)) else np.inf
            # the reference's own M carries ~ L eps max(1, ||Ad||)^L absolute error
            # (Ad - I is formed exactly only near I): relative to the smallest
            # singular value of M, a near-singular M (Ad^L ~ I, e.g. Ad ~ -I for
            # dt = 1e300 and even L) leaves the reference no digit
            smin = (np.min(np.linalg.svd(M, compute_uv=False), axis=-1)
                    if np.all(np.isfinite(M)) else 0.0)
            err_m = L * eps_of(np.float64) * np.maximum(1.0, _norm2(Ad)) ** L
        if not np.all(condM < 1e6) or not np.all(err_m < 1e-4 * smin):
            return
        Cfull = np.linalg.solve(np.swapaxes(M, -1, -2),
                                _full(Ct_rounded, halved)[..., None].astype(np.complex128)
                                * np.ones(M.shape[:-2] + (1, 1)))[..., 0]
        Ctn = _vnorm(_full(Ct_rounded, halved))
    else:
        Cfull, condM = Cf, 1.0
        with np.errstate(all="ignore"):
            Ctn = _vnorm(Cf) * (1 + _norm2(_powers(Ad, L)[-1]))
    K, scale = _kernel_ref(Ad, Bd, Cfull, L)
    kn = _node_kappa(Ad, L, tilde)
    with np.errstate(all="ignore"):
        total = (scale * condM + math.e * Ctn * _vnorm(Bd) * kn) * kappa
    if not (_ok(K) and _ok(total) and in_range(float(np.max(total, initial=0)), eps)):
        return
    # a pole of diag(Lambda) (not of A) within delta of a node puts a term of size
    # |v| / delta into every Cauchy sum, which the Woodbury step cancels exactly only
    # in exact arithmetic (documented in kernel_dplr): when eps |v| / delta exceeds
    # 1e-4 |K| there is no digit to check
    with np.errstate(all="ignore"):
        hh = _dt_np(s["dt"])[..., None] / 2
        lamc = np.asarray(Lf, np.complex128)
        sn = 1 / (1 - hh * lamc)
        lam_d = (1 + hh * lamc) * sn
        k = np.arange(L)
        nodes = np.exp(2j * np.pi * k / L) if tilde else np.exp(1.0 / L) * np.exp(
            1j * np.pi * (2 * k + 1) / L)
        delta = np.min(np.abs(nodes[:, None] - lam_d[..., None, :]), axis=-2)
        pabs = np.sum(np.abs(np.asarray(Pf, np.complex128)), axis=-2)
        cfull = _full(Ct_rounded if tilde else s["C"], halved)
        vmag = (np.abs(np.asarray(cfull, np.complex128)) + pabs) * (
            np.abs(np.asarray(Bf, np.complex128)) + pabs) * np.abs(sn) * 2 * hh
        amp = np.max(vmag / delta, axis=-1, initial=0)
    if not np.all(eps * amp <= 1e-4 * np.max(np.abs(K), axis=-1, initial=0)):
        return
    tol = _kernel_tol(s["N"], L, eps, 1.0, total)[..., None]
    # plus the Woodbury step's own rounding, relative to the resolvent before its
    # low-rank correction: about eps w |K| (the accuracy note of DPLRDiscrete)
    tol = tol + 32 * eps * w[..., None] * np.max(np.abs(K), axis=-1, keepdims=True,
                                                initial=0)
    if np.max(tol / np.maximum(np.max(np.abs(K), initial=0), 1e-300)) > 1e-2:
        return  # ill-conditioned by construction: no digit to check
    if halved:
        K = K.real if not np.iscomplexobj(to_np(out)) else K
    assert_agree(out, K, tol)
    check_typed(ss.kernel_dplr, case, out, np.max(tol, initial=0), draw=draw)
    check_variants(draw, ss.kernel_dplr, case, out, np.max(tol, initial=0),
                   flags=("halved", "tilde"), lengths=("L",))


def _diag_kernel_ref(Lam, B, C, dt, L, method, halved):
    """``sum_n c_n bd_n Ld_n^l`` by explicit powers; DSS normalises ``c`` by
    ``exp(L dt lambda) - 1``. Per-output tolerance scale:
    ``sum_n |c_n bd_n Ld_n^l| (1 + (l + 1)(1 + |dt lambda_n|) + cond(bd_n) + cond_dss_n)``:
    the powers (explicit here, ``exp(l log Ld)`` in statespace) carry ``l`` roundings of
    a number of condition ``1 + |z|``."""
    base = "zoh" if method == "dss" else method
    Ld, Bd, cl, cb = _diag_disc_ref(Lam, B, dt, base, None)
    with np.errstate(all="ignore"):
        c = np.asarray(C, np.complex128)
        cond_dss = 0
        if method == "dss":
            z = _dt_np(dt)[..., None] * np.asarray(Lam, np.complex128)
            den = np.expm1(L * z)
            c = c / den
            cond_dss = L * np.abs(z) * np.abs(den + 1) / np.abs(den)
        v = c * Bd
        ell = np.arange(L)
        pw = [np.ones_like(Ld)]
        for _ in range(L - 1):
            pw.append(pw[-1] * Ld)
        Pw = np.stack(pw, axis=-1)  # batch + (N, L)
        terms = v[..., None] * Pw
        K = np.sum(terms, axis=-2)
        z = np.abs(_dt_np(dt)[..., None] * np.asarray(Lam, np.complex128))
        scale = np.sum(np.abs(terms) * (1 + (ell + 1) * (1 + z[..., None]) + cb[..., None]
                                        + np.asarray(cond_dss)[..., None]), axis=-2)
        if halved:
            K, scale = 2 * K.real, 2 * scale
    return K, scale


@fuzz(75, data=st.data())
def test_kernel_diag(data):
    """kernel_diag against explicit powers of the elementwise discretization.

    Tolerance ``32 (N + 4) eps * scale`` (scale of :func:`_diag_kernel_ref`); not checked
    where ``scale eps`` exceeds ``1e-3`` of the kernel (huge ``|dt lambda| L``: the
    phases carry no digit) or the scale leaves the range of ``in_range``.
    """
    draw = data.draw
    s = draw(systems("diag"))
    method = draw(st.sampled_from(["zoh", "bilinear", "dss"]))
    halved = draw(st.booleans())
    L = draw(st.integers(1, 40)) if draw(st.integers(0, 9)) else draw(st.sampled_from([1, 500]))
    case = Case({"Lambda": s["Lambda"], "B": s["B"], "C": s["C"], "dt": s["dt"], "L": L,
                 "method": method, "halved": halved})
    case = maybe_defect(draw, case, {"Lambda": "array", "B": "array", "C": "array",
                                     "dt": "dt", "L": "length", "halved": "flag",
                                     "method": ("option", ("zoh", "bilinear", "dss"))})
    case = _shape_defect(draw, case, ["Lambda", "B", "C"], s["batch"], s["seed"])
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(ss.kernel_diag, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    K, scale = _diag_kernel_ref(s["Lambda"], s["B"], s["C"], s["dt"], L, method, halved)
    eps = eps_of(out.dtype)
    if not (_ok(K) and _ok(scale) and in_range(float(np.max(scale, initial=0)), eps)):
        return
    tol = 32 * (s["N"] + 4) * eps * scale
    if np.max(tol, initial=0) > 1e-3 * max(float(np.max(np.abs(K), initial=0)), 1e-300):
        return
    if not halved and not np.iscomplexobj(to_np(out)):
        K = K.real
    assert_agree(out, K, tol)
    check_typed(ss.kernel_diag, case, out, np.max(tol, initial=0), draw=draw)
    check_variants(draw, ss.kernel_diag, case, out, np.max(tol, initial=0),
                   flags=("halved",), lengths=("L",))


# =======================================================================================
# recurrence: step, scan
# =======================================================================================
covers("step", "scan", "recurrence.step", "recurrence.scan")


@st.composite
def discrete_systems(draw):
    """A discrete system (dense, diagonal or DPLR) and its dense reference.

    Returns ``(kind, fields, sys_or_None, ref)`` with ``ref = (Ad, Bd, |Ad| bound, |Bd|,
    delta, halved)``: the full dense transition in complex128, a bound on the moduli of
    the products statespace forms (for DPLR, those of its Woodbury factors), and the
    norm-wise error ``delta`` of the discretization against cont2discrete (0 for systems
    given in discrete form).
    """
    kind = draw(st.sampled_from(["dense", "diag", "dplr"]))
    dtype = draw(st.sampled_from(ALL_DTYPES))
    batch = draw(st.sampled_from([(), (2,), (3, 1)]))
    N = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rho = draw(st.sampled_from([0.5, 0.9, 1.0, 1.05]))
    mag = magnitude(draw, dtype, ordinary=0.8)
    if kind == "dense":
        Ad = (values(seed, draw(sub_batch(batch)) + (N, N), dtype) * (rho / N)).astype(dtype)
        Bd = values(seed + 1, draw(sub_batch(batch)) + (N,), dtype, mag)
        ref = (Ad.astype(np.complex128), Bd.astype(np.complex128),
               np.abs(Ad).astype(float), np.abs(Bd).astype(float), 0.0, False)
        return kind, {"Ad": Ad, "Bd": Bd}, None, ref, batch, N, seed
    if kind == "diag":
        Ld = (values(seed, draw(sub_batch(batch)) + (N,), dtype, low=0.3, high=1.0)
              * rho).astype(dtype)
        Bd = values(seed + 1, draw(sub_batch(batch)) + (N,), dtype, mag)
        n = Ld.shape[-1]
        Adf = np.eye(n) * Ld.astype(np.complex128)[..., None, :]
        ref = (Adf, Bd.astype(np.complex128), np.abs(Adf), np.abs(Bd).astype(float), 0.0,
               False)
        return kind, {"Lambda_d": Ld, "Bd": Bd}, None, ref, batch, N, seed
    stab = draw(st.sampled_from(["stable", "stable", "marginal", "zero"]))
    Lam = _lambda(seed, draw(sub_batch(batch)) + (N,), dtype, stab)
    r = draw(st.integers(1, 2))
    P = values(seed + 2, draw(sub_batch(batch)) + (r, N), draw(st.sampled_from(ALL_DTYPES)),
               0.5)
    B = values(seed + 1, draw(sub_batch(batch)) + (N,), dtype, mag)
    halved = draw(st.booleans())
    method = draw(st.sampled_from(["bilinear", "forward_euler", "backward_euler", "gbt"]))
    alpha = 0.3 if method == "gbt" else None
    dt = draw(st.sampled_from([0.1, 0.01, 0.5]))
    with np.errstate(all="ignore"):
        try:
            sys = sd.discretize(sd.DPLRSystem(Lam, P, B, halved), dt, method, alpha=alpha)
        except ValueError:
            return None
    A = _dplr_dense(_full(Lam, halved), _full(P, halved))
    dref = _disc_ref(A, _full(B, halved), dt, method, alpha)
    if dref is None:
        return None
    Ad, Bdf, kappa = dref
    # moduli of the Woodbury factors: |A1| |A0|, A0 = diag(Lambda0) - s0 P^H P,
    # A1 = E^{-1} - E^{-1} P^H R P E^{-1} (full system)
    Lf = _full(to_np(sys.Lambda0), halved)
    Ef = _full(to_np(sys.Einv), halved)
    Pf = np.abs(_full(to_np(sys.P), halved)).astype(float)
    Rf = np.abs(to_np(sys.R)).astype(float) * (2 if halved else 1)
    s0 = np.abs(to_np(sys.s0))[..., None]
    PtP = np.swapaxes(Pf, -1, -2) @ Pf
    A0 = np.eye(Lf.shape[-1]) * np.abs(Lf)[..., None, :] + s0 * PtP
    E = np.eye(Lf.shape[-1]) * np.abs(Ef)[..., None, :]
    A1 = E + E @ np.swapaxes(Pf, -1, -2) @ Rf @ Pf @ E
    n = Ad.shape[-1]
    delta = 32 * (n + 2) * eps_of(to_np(sys.Einv).dtype) * kappa * (
        _norm2(Ad) + _vnorm(Bdf) + 1)
    ref = (Ad, Bdf, A1 @ A0, (A1 @ np.abs(Bdf)[..., None])[..., 0] + np.abs(Bdf), delta,
           halved)
    return kind, {}, sys, ref, batch, N, seed


def _rec_sys(kind, fields):
    if kind == "dense":
        return sd.DenseDiscrete(fields["Ad"], fields["Bd"])
    return sd.DiagDiscrete(fields["Lambda_d"], fields["Bd"])


def _rec_entry(fn, kind):
    """``fn`` (step or scan) with a dense/diagonal system's fields as keyword arguments."""
    def entry(**kw):
        if "sys" not in kw:
            f = {k: kw.pop(k) for k in ("Ad", "Lambda_d", "Bd") if k in kw}
            kw["sys"] = _rec_sys(kind, f)
        return fn(**kw)
    entry.__qualname__ = f"{fn.__name__}[{kind}]"
    return entry


def _bad_sys(draw):
    v = draw(st.sampled_from([None, (np.eye(2), np.ones(2)), "sys",
                              sd.DenseSystem(np.eye(2), np.ones(2))]))
    return v, Defect("sys", f"a {type(v).__name__}", TYPE)


def _run_ref(ref, x0, u, L, eps):
    """States of the full system, and componentwise error bounds, by a dense loop."""
    Ad, Bd, Aabs, Babs, delta, halved = ref
    n = Ad.shape[-1]
    with np.errstate(all="ignore"):
        x = _full(np.asarray(x0, np.complex128), halved)
        u = np.asarray(u, np.complex128)
        batch = np.broadcast_shapes(Ad.shape[:-2], x.shape[:-1], u.shape[:-1])
        x = np.broadcast_to(x, batch + (n,))
        xa = np.abs(x)
        xs, bounds = [], []
        drift = 0
        for l in range(L):
            ul = u[..., l, None]
            x = (Ad @ x[..., None])[..., 0] + Bd * ul
            xa = (Aabs @ xa[..., None])[..., 0] + Babs * np.abs(ul)
            drift = drift + np.asarray(delta)[..., None] * (np.max(np.abs(x), axis=-1,
                                                                  keepdims=True)
                                                           + np.abs(ul))
            xs.append(x)
            bounds.append(16 * (n + 4) * eps * (l + 1) * xa + drift)
    return np.stack(xs, axis=-2), np.stack(bounds, axis=-2)


@fuzz(90, data=st.data())
def test_step_scan(data):
    """step and scan against a dense loop over the full system.

    Tolerance per state entry ``16 (n + 4) eps (l + 1) xa_l + drift_l``: ``xa`` runs the
    recurrence on the moduli (``|Ad| xa + |Bd| |u|``, with the moduli of the Woodbury
    factors for DPLR systems), which bounds the rounding of every product; ``drift``
    accumulates the discretization's own error against cont2discrete (DPLR systems)
    over the steps. Outputs: ``|C|`` times that plus ``16 eps |D u|``.
    """
    draw = data.draw
    got = draw(discrete_systems())
    if got is None:
        return
    kind, fields, sys, ref, batch, N, seed = got
    halved = ref[5]
    use_scan = draw(st.booleans())
    dtype = draw(st.sampled_from(ALL_DTYPES))
    mag = magnitude(draw, dtype, ordinary=0.8)
    kw = dict(fields)
    if sys is not None:
        kw["sys"] = sys
    L = draw(st.integers(1, 12))
    if use_scan:
        kw["u"] = values(seed + 5, draw(sub_batch(batch)) + (L,), draw(st.sampled_from(
            FLOAT_DTYPES)) if halved else dtype, mag)
        if draw(st.booleans()):
            kw["x0"] = values(seed + 6, draw(sub_batch(batch)) + (N,), np.complex128
                              if kind == "dplr" else dtype, mag)
        if draw(st.booleans()):
            kw["C"] = values(seed + 7, draw(sub_batch(batch)) + (N,), dtype)
            if draw(st.booleans()):
                kw["D"] = draw(st.sampled_from([0.5, -1.0, 0.0]))
        kw["halved"] = halved if kind == "dplr" else draw(st.booleans())
        if kw["halved"] and np.iscomplexobj(kw["u"]):
            kw["u"] = kw["u"].real.copy()
    else:
        kw["x"] = values(seed + 6, draw(sub_batch(batch)) + (N,), np.complex128
                         if kind == "dplr" else dtype, mag)
        kw["u"] = (values(seed + 5, draw(sub_batch(batch)), "float64", mag)
                   if draw(st.booleans()) else float(draw(st.sampled_from([1.0, -0.5, 0.0]))))
    case = Case(kw)
    arrays = [k for k in ("Ad", "Lambda_d", "Bd", "x", "u", "x0", "C") if k in kw
              and isinstance(kw[k], np.ndarray)]
    kinds = {k: "array" for k in arrays}
    kinds["sys" if sys is not None else arrays[0]] = _bad_sys if sys is not None else "array"
    if use_scan:
        kinds["halved"] = "flag"
        kinds["D"] = _D_defect
    case = maybe_defect(draw, case, kinds)
    if case.defects and case.defects[0].arg == "D" and "C" not in kw:
        case.defects[0] = Defect("D", case.defects[0].kind, EITHER, names=("D", "C"))
    if _is_clean(case) and use_scan and draw(st.integers(0, 5)) == 0:
        choice = draw(st.sampled_from(["D_without_C", "halved_mismatch", "complex_u",
                                       "empty_u"]))
        if choice == "D_without_C" and "C" not in kw:
            case.kwargs["D"] = 1.0
            case.defects.append(Defect("D", "given without C", VALUE))
        elif choice == "halved_mismatch" and kind == "dplr":
            case.kwargs["halved"] = not halved
            case.defects.append(Defect("halved", "differs from sys.halved", VALUE))
        elif choice == "complex_u" and case.kwargs["halved"]:
            case.kwargs["u"] = (case.kwargs["u"] + 1j).astype(np.complex128)
            case.defects.append(Defect("u", "complex with halved=True", EITHER))
        elif choice == "empty_u":
            case.kwargs["u"] = np.zeros(case.kwargs["u"].shape[:-1] + (0,))
            case.defects.append(Defect("u", "empty time axis", VALUE))
    fn = _rec_entry(sr.scan if use_scan else sr.step, kind)
    backend = draw(st.sampled_from(BACKENDS)) if sys is None else "numpy"
    case = _to_backend(case, backend)
    out = call(fn, case, params=("sys", "x", "u", "x0", "C", "D", "halved", "Ad", "Bd",
                                 "Lambda_d"))
    if isinstance(out, Raised) or not _is_clean(case):
        return
    kw = case.kwargs
    u = to_np(kw["u"]) if use_scan else np.asarray(to_np(kw["u"]), np.complex128)[..., None]
    x0 = to_np(kw.get("x0", kw.get("x", np.zeros(N))))
    res_dtypes = [to_np(a).dtype for _, a in _arrays(out)]
    eps = max(eps_of(d) for d in res_dtypes)
    xs, bounds = _run_ref(ref, x0, u, L if use_scan else 1, eps)
    if not (_ok(xs) and _ok(bounds) and in_range(float(np.max(np.abs(xs), initial=0)), eps)):
        return
    if not use_scan:
        assert_agree(out, xs[..., 0, :N], bounds[..., 0, :N], "state")
        check_typed(fn, case, out, np.max(bounds), draw=draw)
        return
    y, xfin = out
    assert_agree(xfin, xs[..., -1, :N], bounds[..., -1, :N], "x_final")
    C = kw.get("C")
    if C is None:
        assert_agree(y, xs[..., :N], bounds[..., :N], "states")
    else:
        Cc = np.asarray(to_np(C), np.complex128)
        Cf = _full(Cc, halved)
        ys = np.sum(Cf[..., None, :] * xs, axis=-1)
        tol = np.sum(np.abs(Cf)[..., None, :] * bounds, axis=-1) + 8 * N * eps * np.sum(
            np.abs(Cf)[..., None, :] * np.abs(xs), axis=-1)
        if kw["halved"] and kind != "dplr":
            ys, tol = 2 * ys.real, 2 * tol
        D = kw.get("D")
        if D is not None:
            ys = ys + D * u
            tol = tol + 16 * eps * np.abs(D * u)
        if not np.iscomplexobj(to_np(y)):
            ys = ys.real
        assert_agree(y, ys, tol, "y")
    check_typed(fn, case, out, np.max(bounds) * (1 + np.max(np.abs(to_np(kw.get("C", 1))))),
                draw=draw, names=("x0", "C", "Ad", "Bd", "Lambda_d"))
    check_variants(draw, fn, case, out, np.max(bounds) * (1 + np.max(np.abs(to_np(kw.get(
        "C", 1))))), flags=("halved",), arrays=("x0", "C", "Ad", "Bd", "Lambda_d", "u"))


# =======================================================================================
# boundary: truncation correction, initial response, final state
# =======================================================================================
covers(*(f"boundary.{n}" for n in sb.__all__), *sb.__all__)


def _lengths_defect(draw):
    v, what, exp = draw(st.sampled_from([
        (np.array([-1]), "negative", VALUE), (np.array([10**6]), "above L", VALUE),
        (np.array([1.5]), "float dtype", TYPE), (np.array([True]), "bool dtype", TYPE),
        (2.5, "a float", TYPE), ("3", "a string", TYPE)]))
    return v, Defect("lengths", what, exp)


def _max_cond_defect(draw):
    v, what, exp = draw(st.sampled_from([
        (float("nan"), "NaN", VALUE), (-1.0, "negative", VALUE), (0, "zero", VALUE),
        (True, "a bool", TYPE), ("1e3", "a string", TYPE)]))
    return v, Defect("max_cond", what, exp)


def _bilinear_full(s, halved, with_B=True):
    """Full dense bilinear system of a DPLR draw: ``(Ad, Bd, kappa)`` or None (``B`` and
    its batch axes left out unless ``with_B``)."""
    A = _dplr_dense(_full(s["Lambda"], halved), _full(s["P"], halved))
    B = _full(s["B"], halved) if with_B else np.zeros(A.shape[-1])
    return _disc_ref(A, B, s["dt"], "bilinear")


def _power_scale(Ad, L):
    """``[Ad^0 .. Ad^L]`` and ``max_l ||Ad^l||_2``."""
    Pw = _powers(Ad, L)
    return Pw, np.max(_norm2(Pw), axis=0)


@fuzz(45, data=st.data())
def test_boundary_dplr(data):
    """The DPLR boundary maps against dense powers of the full bilinear system.

    ``c_tilde_dplr``: ``C (I - Ad^L)``; ``c_from_tilde_dplr``: its inverse (a clean
    ``ValueError`` is required beyond ``max_cond``; agreement checked only for
    ``cond(I - Ad^L) <= 1e8``); ``initial_response_dplr``: ``C Ad^{l+1} x`` (with
    ``tilde=True`` the reference ``C`` is ``C~ (I - Ad^L)^{-1}``); ``final_state_dplr``:
    the dense recurrence over ``u`` (first ``lengths`` inputs). Tolerance
    ``64 n L eps kappa cond`` times the norm-wise scale of the operands (powers of ``Ad``
    in complex128 by squaring, ``log2 L`` products each adding ``n eps``, plus the
    Cauchy sums of the resolvent). Unstable systems: not checked (ill-posed).
    """
    draw = data.draw
    which = draw(st.sampled_from(["c_tilde", "c_from_tilde", "initial", "final"]))
    s = draw(systems("dplr", max_n=3))
    if draw(st.integers(0, 7)) == 0:
        s["P"] = s["P"][..., :0, :]
    halved = s["halved"]
    N = s["N"]
    L = draw(st.integers(1, 20))
    seed = s["seed"]
    kw = {"Lambda": s["Lambda"], "P": s["P"]}
    kinds = {"Lambda": "array", "P": "array", "dt": "dt", "halved": "flag"}
    xdt = np.complex128 if halved else draw(st.sampled_from(ALL_DTYPES))
    if which == "c_tilde":
        fn = ss.c_tilde_dplr
        kw.update(C=s["C"], dt=s["dt"], L=L, halved=halved)
        kinds.update(C="array", L="length")
    elif which == "c_from_tilde":
        fn = ss.c_from_tilde_dplr
        kw.update(Ct=s["C"], dt=s["dt"], L=L, halved=halved)
        kinds.update(Ct="array", L="length", max_cond=_max_cond_defect,
                     return_cond="flag")
        if draw(st.booleans()):
            kw["return_cond"] = True
        if draw(st.integers(0, 3)) == 0:
            kw["max_cond"] = draw(st.sampled_from([math.inf, 1e3, 1e12]))
    elif which == "initial":
        fn = ss.initial_response_dplr
        kw.update(C=s["C"], x=values(seed + 8, draw(sub_batch(s["batch"])) + (N,), xdt),
                  dt=s["dt"], L=L, halved=halved, tilde=draw(st.booleans()))
        kinds.update(C="array", x="array", L="length", tilde="flag")
    else:
        fn = ss.final_state_dplr
        ub = draw(sub_batch(s["batch"]))
        kw.update(B=s["B"], x=values(seed + 8, draw(sub_batch(s["batch"])) + (N,), xdt),
                  u=values(seed + 9, ub + (L,), draw(st.sampled_from(FLOAT_DTYPES))
                           if halved else draw(st.sampled_from(ALL_DTYPES))),
                  dt=s["dt"], halved=halved)
        if draw(st.booleans()):
            kw["lengths"] = np.random.default_rng(seed).integers(0, L + 1, ub or (1,))
        kinds.update(B="array", x="array", u="array", lengths=_lengths_defect)
    case = maybe_defect(draw, Case(kw), kinds)
    case = _shape_defect(draw, case, [k for k in ("Lambda", "P", "C", "Ct", "B", "x")
                                      if k in kw], s["batch"], seed)
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(fn, case)
    if isinstance(out, Raised) or not _is_clean(case) or s["stab"] == "unstable" or not N:
        return
    ref = _bilinear_full(s, halved, with_B=which == "final")
    if ref is None:
        return
    Ad, Bd, kappa = ref
    n = Ad.shape[-1]
    Pw, pscale = _power_scale(Ad, L)
    Afull = _dplr_dense(_full(s["Lambda"], halved), _full(s["P"], halved))
    M = _one_minus_power(Afull, s["dt"], L)  # I - Ad^L
    res = out[0] if isinstance(out, tuple) else out
    eps = eps_of(to_np(res).dtype)
    base = 64 * n * (L + 2) * eps * kappa
    with np.errstate(all="ignore"):
        if which in ("c_tilde", "c_from_tilde"):
            if which == "c_tilde":
                Cf = _full(np.asarray(s["C"], np.complex128), halved)
                r = (Cf[..., None, :] @ M)[..., 0, :]
                tol = base * pscale * _vnorm(Cf)
            else:
                condM = np.linalg.cond(M) if _ok(M) else np.inf
                if not np.all(condM <= 1e8):
                    return
                Ctf = _full(np.asarray(s["C"], np.complex128), halved)
                Ctf = np.broadcast_to(Ctf, np.broadcast_shapes(Ctf.shape, M.shape[:-1]))
                r = np.linalg.solve(np.swapaxes(M, -1, -2) * np.ones(Ctf.shape[:-1] + (1, 1)),
                                    Ctf[..., None])[..., 0]
                tol = base * pscale * condM * _vnorm(r)
            r = r[..., :N]
            tol = np.asarray(tol)[..., None]
        elif which == "initial":
            Cf = _full(np.asarray(s["C"], np.complex128), halved)
            xf = _full(np.asarray(kw["x"], np.complex128), halved)
            if kw["tilde"]:
                condM = np.linalg.cond(M) if _ok(M) else np.inf
                if not np.all(condM <= 1e6):
                    return
                Cb = np.broadcast_to(Cf, np.broadcast_shapes(Cf.shape, M.shape[:-1]))
                Cf = np.linalg.solve(np.swapaxes(M, -1, -2) * np.ones(Cb.shape[:-1] + (1, 1)),
                                     Cb[..., None])[..., 0]
            else:
                condM = 1.0
            X = (np.moveaxis(Pw[1:], 0, -3) @ xf[..., None, :, None])[..., 0]  # batch+(L, n)
            r = np.sum(Cf[..., None, :] * X, axis=-1)
            kn = _node_kappa(Ad, L, kw["tilde"])
            tol = (base * condM * _vnorm(Cf) * _vnorm(xf) * (pscale + math.e * kn
                                                             * (1 + pscale)))[..., None]
        else:
            u = np.asarray(kw["u"], np.complex128)
            xf = _full(np.asarray(kw["x"], np.complex128), halved)
            lengths = kw.get("lengths")
            steps = L if lengths is None else lengths
            batch = np.broadcast_shapes(Ad.shape[:-2], xf.shape[:-1], u.shape[:-1],
                                        np.shape(steps))
            xcur = np.broadcast_to(xf, batch + (n,)).copy()
            nb = np.broadcast_to(steps, batch)
            ub = np.broadcast_to(u, batch + (L,))
            for l in range(L):
                nxt = (Ad @ xcur[..., None])[..., 0] + Bd * ub[..., l, None]
                xcur = np.where((l < nb)[..., None], nxt, xcur)
            r = xcur[..., :N]
            kn = _node_kappa(Ad, L, False)
            tol = (base * (pscale * _vnorm(xf) + (1 + pscale) * math.e * kn * _vnorm(Bd)
                           * np.sqrt(L) * np.max(np.abs(u), axis=-1, initial=0)))[..., None]
    if not (_ok(r) and _ok(tol) and in_range(float(np.max(np.abs(tol), initial=0)) / eps,
                                             eps)):
        return
    if np.max(tol, initial=0) > 1e-2 * max(float(np.max(np.abs(r), initial=0)), 1e-300):
        return  # ill-conditioned by construction
    if not np.iscomplexobj(to_np(res)):
        r = r.real
    assert_agree(res, r, tol)
    if which == "c_from_tilde" and isinstance(out, tuple):
        condM = np.linalg.cond(M)
        assert_agree(out[1], np.broadcast_to(condM, np.shape(to_np(out[1]))),
                     1e-6 * np.abs(condM) + 1e-6, "cond")
    check_typed(fn, case, out, np.max(tol, initial=0), draw=draw)
    check_variants(draw, fn, case, out, np.max(tol, initial=0),
                   flags=("halved", "tilde", "return_cond"), lengths=("L",))


@fuzz(60, data=st.data())
def test_boundary_diag(data):
    """The diagonal boundary maps against elementwise formulas and explicit powers.

    ``c_tilde_diag``: ``C (1 - Ld^L)``; ``c_from_tilde_diag``: ``Ct / (1 - Ld^L)`` (a clean
    error where that is 0); ``initial_response_diag``: ``sum_n c Ld^{l+1} x``;
    ``final_state_diag``: the recurrence. Per entry tolerance ``32 (N + 4) eps (1 +
    (L + 1)(1 + |dt lambda|) + cond)`` times the moduli of the terms (powers evaluated as
    ``exp(l log Ld)``: ``l`` roundings of a number of condition ``1 + |z|``); for the
    inverse, ``cond = L |log Ld| |Ld^L| / |1 - Ld^L|``.
    """
    draw = data.draw
    which = draw(st.sampled_from(["c_tilde", "c_from_tilde", "initial", "final"]))
    s = draw(systems("diag", max_n=4))
    method = draw(st.sampled_from(["zoh", "bilinear"]))
    halved = draw(st.booleans())
    N, L, seed = s["N"], draw(st.integers(1, 20)), s["seed"]
    kw = {"Lambda": s["Lambda"]}
    kinds = {"Lambda": "array", "dt": "dt", "method": ("option", ("zoh", "bilinear"))}
    if which == "c_tilde":
        fn = ss.c_tilde_diag
        kw.update(C=s["C"], dt=s["dt"], L=L, method=method)
        kinds.update(C="array", L="length")
    elif which == "c_from_tilde":
        fn = ss.c_from_tilde_diag
        kw.update(Ct=s["C"], dt=s["dt"], L=L, method=method)
        kinds.update(Ct="array", L="length")
    elif which == "initial":
        fn = ss.initial_response_diag
        kw.update(C=s["C"], x=values(seed + 8, draw(sub_batch(s["batch"])) + (N,),
                                     draw(st.sampled_from(ALL_DTYPES))),
                  dt=s["dt"], L=L, method=method, halved=halved)
        kinds.update(C="array", x="array", L="length", halved="flag")
    else:
        fn = ss.final_state_diag
        ub = draw(sub_batch(s["batch"]))
        kw.update(B=s["B"], x=values(seed + 8, draw(sub_batch(s["batch"])) + (N,),
                                     draw(st.sampled_from(ALL_DTYPES))),
                  u=values(seed + 9, ub + (L,), draw(st.sampled_from(FLOAT_DTYPES))
                           if halved else draw(st.sampled_from(ALL_DTYPES))),
                  dt=s["dt"], method=method, halved=halved)
        if draw(st.booleans()):
            kw["lengths"] = np.random.default_rng(seed).integers(0, L + 1, ub or (1,))
        kinds.update(B="array", x="array", u="array", halved="flag",
                     lengths=_lengths_defect)
    case = maybe_defect(draw, Case(kw), kinds)
    case = _shape_defect(draw, case, [k for k in ("Lambda", "C", "Ct", "B", "x") if k in kw],
                         s["batch"], seed)
    case = _to_backend(case, draw(st.sampled_from(BACKENDS)))
    out = call(fn, case)
    if isinstance(out, Raised) or not _is_clean(case):
        return
    Ld, Bd, _, cb = _diag_disc_ref(s["Lambda"], s["B"], s["dt"], method, None)
    eps = eps_of(to_np(out).dtype)
    with np.errstate(all="ignore"):
        z = np.abs(_dt_np(s["dt"])[..., None] * np.asarray(s["Lambda"], np.complex128))
        zc = _dt_np(s["dt"])[..., None] * np.asarray(s["Lambda"], np.complex128)
        # log Ld from dt * Lambda, and 1 - Ld^L = -expm1(L log Ld): no cancellation
        logd = zc if method == "zoh" else _clog1p(zc / 2) - _clog1p(-zc / 2)
        cz = 1 + (L + 1) * (1 + z)
        if which in ("c_tilde", "c_from_tilde"):
            g = -np.expm1(L * logd)
            C = np.asarray(s["C"], np.complex128)
            if which == "c_tilde":
                r = C * g
                tol = 32 * eps * cz * np.abs(C) * (np.abs(g) + np.abs(Ld) ** L)
            else:
                r = C / g
                tol = 32 * eps * (cz + L * np.abs(logd) * np.abs(Ld) ** L / np.abs(g)) * np.abs(r)
        elif which == "initial":
            C = np.asarray(s["C"], np.complex128)
            x = np.asarray(kw["x"], np.complex128)
            pw = Ld[..., None] ** np.arange(1, L + 1)
            terms = (C * x)[..., None] * pw
            r = np.sum(terms, axis=-2)
            tol = 32 * (N + 4) * eps * np.sum(np.abs(terms) * cz[..., None], axis=-2)
            if halved:
                r, tol = 2 * r.real, 2 * tol
        else:
            u = np.asarray(kw["u"], np.complex128)
            x = np.asarray(kw["x"], np.complex128)
            lengths = kw.get("lengths")
            batch = np.broadcast_shapes(Ld.shape[:-1], Bd.shape[:-1], x.shape[:-1],
                                        u.shape[:-1], np.shape(lengths) if lengths is not None
                                        else ())
            xcur = np.broadcast_to(x, batch + (N,)).astype(np.complex128)
            acc = np.abs(xcur)
            nb = np.broadcast_to(L if lengths is None else lengths, batch)
            ubb = np.broadcast_to(u, batch + (L,))
            for l in range(L):
                keep = (l < nb)[..., None]
                xcur = np.where(keep, Ld * xcur + Bd * ubb[..., l, None], xcur)
                acc = np.where(keep, np.abs(Ld) * acc + np.abs(Bd * ubb[..., l, None]), acc)
            r = xcur
            tol = 32 * (N + 4) * eps * acc * (cz + cb)
    if not (_ok(r) and _ok(tol) and in_range(float(np.max(np.abs(r), initial=0)), eps)):
        return
    if np.max(tol, initial=0) > 1e-3 * max(float(np.max(np.abs(r), initial=0)), 1e-300):
        return
    if not np.iscomplexobj(to_np(out)):
        r = r.real
    assert_agree(out, np.broadcast_to(r, np.shape(to_np(out))) if np.size(r) else r, tol)
    check_typed(fn, case, out, np.max(tol, initial=0), draw=draw)
    check_variants(draw, fn, case, out, np.max(tol, initial=0),
                   flags=("halved", "tilde", "return_cond"), lengths=("L",))


# =======================================================================================
# hippo: transition, rank_correction; decomp: nplr, dplr
# =======================================================================================
covers("hippo.transition", "hippo.rank_correction", "nplr", "dplr", "decomp.nplr",
       "decomp.dplr")


def _fourier(N):
    F = np.zeros((N, N))
    B = np.zeros(N)
    for m in range(N // 2):
        w = 2 * np.pi * m
        F[2 * m + 1, 2 * m] = w
        F[2 * m, 2 * m + 1] = -w
        B[2 * m] = 1.0 if m == 0 else math.sqrt(2)
    return F, B


def _hippo_ref(measure, N, params):
    """``(A, B)`` from the formulas in the Notes of :func:`statespace.hippo.transition`."""
    n = np.arange(N)[:, None]
    k = np.arange(N)[None, :]
    r = np.sqrt((2 * n + 1) * (2 * k + 1))
    q = np.arange(N)
    if measure == "legs":
        A = np.where(n > k, -r, 0.0) + np.diag(-(q + 1.0))
        return A, np.sqrt(2 * q + 1.0)
    if measure == "legsd":
        A, B = _hippo_ref("legs", N, {})
        return A + 0.5 * np.outer(B, B), B / 2
    if measure == "legt":
        A = np.where(n >= k, -0.5 * r, -0.5 * r * (-1.0) ** (n - k))
        return A, 0.5 * np.sqrt(2 * q + 1.0)
    if measure == "lmu":
        A = np.where(n < k, -(2 * n + 1.0), (2 * n + 1.0) * (-1.0) ** (n - k + 1))
        return A, (2 * q + 1.0) * (-1.0) ** q
    if measure in ("lagt", "tlagt"):
        beta = params.get("beta", 1.0)
        d = 0.5 if measure == "lagt" else (1 - beta) / 2
        return d * np.eye(N) - np.tril(np.ones((N, N))), np.full(N, float(beta))
    if measure == "glagt":
        from scipy.special import gammaln

        a, beta = params.get("alpha", 0.0), params.get("beta", 0.01)
        s = np.exp(0.5 * (gammaln(q + a + 1) - gammaln(q + 1)))
        At = -(1 + beta) / 2 * np.eye(N) - np.tril(np.ones((N, N)), -1)
        A = At * s[None, :] / s[:, None]
        B = s * beta ** ((1 - a) / 2) / (math.gamma(a + 1) * math.sqrt(math.gamma(1 - a)))
        return A, B
    if measure in ("fout", "fourier_decay", "foud"):
        F, B = _fourier(N)
        if measure == "fout":
            return F - np.outer(B, B), B
        if measure == "fourier_decay":
            return F - 0.5 * np.outer(B, B), B / 2
        return F - 0.5 * np.eye(N), B
    rng = np.random.default_rng(params.get("seed", 0))
    if measure == "random":
        A = rng.standard_normal((N, N)) / N
        return A, rng.standard_normal(N)
    d = -rng.lognormal(size=N)
    return np.diag(d), rng.standard_normal(N)


def _namespace_defect(draw):
    v = draw(st.sampled_from(["numpy", 3, math]))
    return v, Defect("xp", f"{v!r}"[:30], TYPE)


def _dtype_defect(draw):
    import torch

    v = draw(st.sampled_from(["float16", np.complex64, np.int32, "foo", torch.float32,
                              np.float16]))
    return v, Defect("dtype", repr(v), TYPE)


def _device_defect(draw):
    v = draw(st.sampled_from(["bogus", 3]))
    return v, Defect("device", repr(v), EITHER)


def _param_defect(measure):
    def draw_it(draw):
        name = {"lagt": "beta", "tlagt": "beta", "glagt": draw(st.sampled_from(
            ["alpha", "beta"])), "random": "seed", "diagonal": "seed"}.get(measure, "gamma")
        if name == "gamma":
            return 1.0, Defect("gamma", "an unknown parameter", TYPE)
        if name == "seed":
            v, what, exp = draw(st.sampled_from([
                (-1, "negative", VALUE), (1.5, "a float", TYPE), ("0", "a string", TYPE),
                (True, "a bool", TYPE), (np.nan, "NaN", EITHER)]))
        elif name == "alpha":
            v, what, exp = draw(st.sampled_from([
                (1.0, "1 (outside (-1, 1))", VALUE), (-1.0, "-1", VALUE), (np.nan, "NaN", VALUE),
                (2.0, "2", VALUE), ("0", "a string", TYPE), (True, "a bool", TYPE)]))
        else:
            v, what, exp = draw(st.sampled_from([
                (np.nan, "NaN", VALUE), (np.inf, "inf", VALUE), ("1", "a string", TYPE),
                (True, "a bool", TYPE), (1 + 1j, "complex", TYPE), (-np.inf, "-inf", VALUE)]))
        return v, Defect(name, what, exp)
    return draw_it


def _hippo_case(draw, measures, even=False):
    measure = draw(st.sampled_from(measures))
    N = draw(st.integers(1, 10))
    if measure in ("fout", "fourier_decay", "foud") or even:
        N = 2 * max(1, N // 2)
    kw = {"measure": measure, "N": N}
    if draw(st.booleans()):
        kw["dtype"] = draw(st.sampled_from([None, "float32", "float64", np.float32, np.float64]))
    if draw(st.integers(0, 4)) == 0:
        kw["xp"] = draw(st.sampled_from(["torch", "array_api_strict"]))
    params = {}
    if measure in ("lagt", "tlagt"):
        params["beta"] = draw(st.sampled_from([1.0, 0.5, 2.0, 1e-300, 0.0]))
    elif measure == "glagt":
        params["alpha"] = draw(st.sampled_from([0.0, 0.3, -0.5]))
        params["beta"] = draw(st.sampled_from([0.01, 1.0]))
    elif measure in ("random", "diagonal"):
        params["seed"] = draw(st.integers(0, 50))
    if draw(st.booleans()):
        kw.update(params)
    case = Case(kw)
    kinds = {"measure": ("option", measures), "N": "length", "dtype": _dtype_defect,
             "xp": _namespace_defect, "device": _device_defect, "params": None}
    kinds.pop("params")
    pick = draw(st.integers(0, 5))
    if pick == 0:
        v, d = _param_defect(measure)(draw)
        case.kwargs[d.arg] = v
        case.defects.append(d)
    else:
        case = maybe_defect(draw, case, kinds, p=0.45)
    if case.defects and case.defects[0].arg == "N":
        d = case.defects[0]
        case.defects[0] = Defect("N", d.kind, d.expect)
    if "xp" in case.kwargs and isinstance(case.kwargs["xp"], str) and case.kwargs["xp"] in (
            "torch", "array_api_strict"):
        from statespace._array import backend_namespace

        name = case.kwargs["xp"]
        case.kwargs["xp"] = backend_namespace(name)
        if name == "array_api_strict":
            case.kwargs["xp"].set_array_api_strict_flags(api_version="2025.12")
        if isinstance(case.kwargs.get("dtype"), (str, type)) and not any(
                d.arg == "dtype" for d in case.defects):
            case.kwargs["dtype"] = getattr(case.kwargs["xp"], np.dtype(case.kwargs["dtype"]).name)
    return case, measure, params


def _eff_params(case, measure):
    return {k: case.kwargs[k] for k in ("alpha", "beta", "seed") if k in case.kwargs}


def _want_single(case):
    d = case.kwargs.get("dtype")
    return d is not None and "32" in str(d)


@fuzz(75, data=st.data())
def test_hippo(data):
    """transition against the documented formulas; rank_correction makes ``A + P^T P``
    normal.

    Entries are computed in float64 and rounded once: tolerance ``16 eps max|A|`` per
    entry (``256 eps`` for glagt, whose entries come from gamma-function ratios).
    Normality: ``||S S^T - S^T S|| <= 64 N eps ||S||^2``.
    """
    draw = data.draw
    rank = draw(st.booleans())
    measures = sh.NPLR_MEASURES + ("lmu", "random") if rank else sh.MEASURES
    case, measure, _ = _hippo_case(draw, measures)
    fn = sh.rank_correction if rank else sh.transition
    if rank and measure in ("lmu", "random"):
        case.defects.append(Defect("measure", "no NPLR form", VALUE, names=("measure", measure)))
    if rank and measure == "glagt" and case.kwargs.get("alpha", 0.0) != 0.0:
        case.defects.append(Defect("alpha", "glagt with alpha != 0", VALUE))
    out = call(fn, case, params=("measure", "N", "dtype", "xp", "device", "alpha", "beta",
                                 "seed"))
    if isinstance(out, Raised) or not _is_clean(case):
        return
    N = case.kwargs["N"]
    params = _eff_params(case, measure)
    A, B = _hippo_ref(measure, N, params)
    single = _want_single(case)
    eps = eps_of("float32" if single else "float64")
    res = [to_np(a) for _, a in _arrays(out)]
    for a in res:
        if a.dtype != (np.float32 if single else np.float64):
            fail("typing disagreement", f"dtype {a.dtype}, expected "
                                        f"{'float32' if single else 'float64'}")
    c = 256 if measure == "glagt" else 16
    if not rank:
        scale = max(float(np.max(np.abs(A))), float(np.max(np.abs(B))), 1e-300)
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(B))):
            return
        assert_agree(res[0], A, c * eps * scale, "A")
        assert_agree(res[1], B, c * eps * scale, "B")
        return
    P = res[0].astype(np.float64)
    if P.ndim != 2 or P.shape[1] != N:
        fail("silent wrong result", f"P has shape {P.shape}, expected (rank, {N})")
    S = A + P.T @ P
    defect = np.linalg.norm(S @ S.T - S.T @ S)
    if not defect <= 64 * N * eps * np.linalg.norm(S) ** 2 + 1e-300:
        fail("silent wrong result", f"A + P^T P is not normal: ||S S^T - S^T S|| = {defect:.3g}"
                                    f", ||S||^2 = {np.linalg.norm(S) ** 2:.3g}")


_S4D = {"diag-lin", "diag-inv", "diag-legs", "diag-real"}


@fuzz(60, data=st.data())
def test_decomp(data):
    """nplr / dplr reconstruct the HiPPO matrix: ``V (diag(Lambda) - P^H P) V^H = A``,
    ``V`` unitary, ``B = V^H B0``; S4D inits follow their formulas.

    Tolerance ``64 N eps (||A|| + ||P0||^2)`` norm-wise (a backward-stable Hermitian
    eigensolver and a few products of unitary factors).
    """
    draw = data.draw
    half = draw(st.booleans())
    measures = tuple(sh.NPLR_MEASURES) + ("lmu", "random")
    if half:
        measures = measures + tuple(sorted(_S4D))
    case, measure, _ = _hippo_case(draw, measures, even=half)
    if half:
        case.kwargs["measure_or_init"] = case.kwargs.pop("measure")
        case.defects = [Defect("measure_or_init", d.kind, d.expect) if d.arg == "measure" else d
                        for d in case.defects]
        if not case.defects and measure in _S4D and any(
                k in case.kwargs for k in ("alpha", "beta", "seed")):
            case.defects.append(Defect("params", "parameters for an S4D init", TYPE,
                                       names=("parameters", "alpha", "beta", "seed")))
    fn = sdec.dplr if half else sdec.nplr
    if measure in ("lmu", "random"):
        case.defects.append(Defect("measure", "no NPLR form", VALUE,
                                   names=("measure", "measure_or_init", measure)))
    elif measure == "glagt" and case.kwargs.get("alpha", 0.0) != 0.0:
        case.defects.append(Defect("alpha", "glagt with alpha != 0", VALUE))
    elif half and measure == "diagonal":
        case.defects.append(Defect("measure_or_init", "real eigenvalues", VALUE,
                                   names=("measure_or_init", "diagonal", "real")))
    out = call(fn, case, params=("measure", "measure_or_init", "N", "dtype", "xp", "device",
                                 "alpha", "beta", "seed"))
    if isinstance(out, Raised) or not _is_clean(case):
        return
    N = case.kwargs["N"]
    single = _want_single(case)
    eps = eps_of("float32" if single else "float64")
    Lam, P, B = (to_np(x).astype(np.complex128) for x in out[:3])
    V = None if out[3] is None else to_np(out[3]).astype(np.complex128)
    if half and measure in _S4D:
        h = N // 2
        m = np.arange(h)
        want = {"diag-lin": -0.5 + 1j * np.pi * m,
                "diag-inv": -0.5 + 1j * (N / np.pi) * (N / (2 * m + 1) - 1),
                "diag-real": -(m + 1.0) + 0j}.get(measure)
        if want is not None:
            assert_agree(Lam, want, 16 * eps * np.max(np.abs(want)), "Lambda")
            assert_agree(B, np.ones(h), 16 * eps, "B")
            return
        measure = "legs"
        A0, B0 = _hippo_ref("legs", N, {})
        P0 = np.sqrt(np.arange(N) + 0.5)[None, :]
        S = A0 + P0.T @ P0
        eig = np.linalg.eigvals(S)
        eig = eig[np.argsort(eig.imag)]
        got = np.concatenate([Lam, Lam.conj()])
        got = got[np.argsort(got.imag)]
        assert_agree(got, eig, 64 * N * eps * np.linalg.norm(S), "Lambda (diag-legs)")
        return
    params = _eff_params(case, measure)
    A0, B0 = _hippo_ref(measure, N, params)
    if half:
        V, Lam, P, B = (np.concatenate([x, x.conj()], axis=-1) for x in (V, Lam, P, B))
    n = A0.shape[0]
    P0n = np.linalg.norm(P) ** 2
    tol = 64 * n * eps * (np.linalg.norm(A0) + P0n + 1)
    rec = V @ _dplr_dense(Lam, P) @ V.conj().T
    if V.shape != (n, n):
        fail("silent wrong result", f"V has shape {V.shape}, expected ({n}, {n})")
    assert_agree(rec, A0, tol, "V (diag(Lambda) - P^H P) V^H")
    assert_agree(V.conj().T @ V, np.eye(n), 64 * n * eps, "V^H V")
    assert_agree(V.conj().T @ B0, B, tol, "V^H B0")


# =======================================================================================
# statespace.torch: S4Kernel, S4Layer, S4Block, S4Model, param_groups
# =======================================================================================
covers("torch.S4Kernel", "torch.S4Layer", "torch.S4Block", "torch.S4Model",
       "torch.param_groups")


def _torch():
    import torch

    import statespace.torch as stt

    return torch, stt


def _int_defect(name, minimum=1):
    def draw_it(draw):
        v, what, exp = draw(st.sampled_from([
            (minimum - 1, f"{minimum - 1}", VALUE), (-1, "negative", VALUE),
            (2.0, "a float", TYPE), (True, "a bool", TYPE), ("2", "a string", TYPE)]
            # l_max=None is its default (the first forward call fixes the length)
            + ([] if name == "l_max" else [(None, "None", TYPE)])))
        return v, Defect(name, what, exp)
    return draw_it


def _dtype_kw_defect(name):
    def draw_it(draw):
        torch, _ = _torch()
        # half-precision parameters are supported (the SSM part is computed in float32)
        bad = [torch.complex64, np.float32, "float64", torch.int32]
        v = draw(st.sampled_from(bad if name == "dtype" else [torch.float16, *bad]))
        return v, Defect(name, repr(v), TYPE)
    return draw_it


def _dt_range_defect(draw):
    v, what, exp, name = draw(st.sampled_from([
        ({"dt_min": float("nan")}, "NaN dt_min", VALUE, "dt_min"),
        ({"dt_min": 0.5, "dt_max": 0.1}, "dt_min > dt_max", VALUE, "dt_min"),
        ({"dt_min": -1.0}, "negative dt_min", VALUE, "dt_min"),
        ({"dt_max": float("inf")}, "inf dt_max", VALUE, "dt_max"),
        ({"dt_min": True}, "a bool", TYPE, "dt_min"),
        ({"dt_max": "0.1"}, "a string", TYPE, "dt_max")]))
    return v, Defect(name, what, exp, names=("dt_min", "dt_max"))


@st.composite
def kernel_kwargs(draw):
    """Constructor keywords of an S4Kernel and the defects put into them."""
    torch, _ = _torch()
    mode = draw(st.sampled_from(["s4", "s4d"]))
    kw = {"d_model": draw(st.integers(1, 3)), "d_state": draw(st.sampled_from([2, 4, 6])),
          "mode": mode}
    if mode == "s4":
        kw["init"] = draw(st.sampled_from([None, "legs", "legs", "fout", "diag-lin"]))
    else:
        kw["init"] = draw(st.sampled_from([None, "diag-inv", "legs", "diag-real"]))
        kw["disc"] = draw(st.sampled_from(["zoh", "bilinear", "dss"]))
    kw["dtype"] = draw(st.sampled_from([torch.float32, torch.float64]))
    if draw(st.booleans()):
        kw["kernel_dtype"] = draw(st.sampled_from([torch.float64, None, torch.float32]))
    if draw(st.booleans()):
        kw["lambda_real"] = draw(st.sampled_from(["softplus", "exp"]))
    if draw(st.booleans()):
        kw["l_max"] = draw(st.integers(1, 16))
    if draw(st.integers(0, 3)) == 0:
        kw["dt_min"], kw["dt_max"] = draw(st.sampled_from([(1e-4, 1e-2), (0.1, 0.5),
                                                           (1e-6, 1e-6)]))
    defects = []
    if draw(st.integers(0, 2)) == 0:
        pick = draw(st.sampled_from(["d_model", "d_state", "mode", "disc", "init", "dtype",
                                     "kernel_dtype", "l_max", "dt", "real_min",
                                     "lambda_real"]))
        if pick in ("d_model", "l_max"):
            v, d = _int_defect(pick)(draw)
        elif pick == "d_state":
            v, d = draw(st.sampled_from([(3, Defect("d_state", "odd", VALUE)),
                                         (0, Defect("d_state", "0", VALUE)),
                                         (4.0, Defect("d_state", "a float", TYPE)),
                                         (True, Defect("d_state", "a bool", TYPE))]))
        elif pick == "mode":
            v, d = option_defect_(draw, "mode", ("s4", "s4d"))
        elif pick == "disc":
            v, d = (("zoh", Defect("disc", "zoh for mode s4", VALUE)) if mode == "s4"
                    else option_defect_(draw, "disc", ("zoh", "bilinear", "dss")))
        elif pick == "init":
            v, d = option_defect_(draw, "init", ("legs",))
            d = Defect("init", d.kind, d.expect, names=("init", "measure_or_init"))
        elif pick in ("dtype", "kernel_dtype"):
            v, d = _dtype_kw_defect(pick)(draw)
        elif pick == "dt":
            v, d = _dt_range_defect(draw)
            kw.update(v)
            defects.append(d)
            return kw, defects
        elif pick == "real_min":
            v, d = draw(st.sampled_from([(0.0, Defect("real_min", "0", VALUE)),
                                         (float("nan"), Defect("real_min", "NaN", VALUE)),
                                         (True, Defect("real_min", "a bool", TYPE)),
                                         ("0.1", Defect("real_min", "a string", TYPE))]))
        else:
            v, d = option_defect_(draw, "lambda_real", ("softplus", "exp"))
        if v is None and pick in ("disc", "init"):
            return kw, defects  # None is the default
        kw[pick] = v
        defects.append(d)
    return kw, defects


def option_defect_(draw, name, choices):
    from fuzz_strategies import option_defect

    return option_defect(draw, name, choices)


def _kernel_reference(k, L, rate):
    """The module's kernel by explicit powers of its (full, conjugate-doubled) system in
    float64, the condition number of the ``C~ -> C`` solve, and the rounding scale."""
    torch, _ = _torch()
    with torch.no_grad():
        lam = to_np(k.Lambda(torch.float64)).astype(np.complex128)
        B = to_np(torch.view_as_complex(k.B.double())).astype(np.complex128)
        C = to_np(torch.view_as_complex(k.C.double())).astype(np.complex128)
        dt = to_np(k.dt(torch.float64)).astype(np.float64)
        P = None if k.P is None else to_np(torch.view_as_complex(k.P.double()))
    Lk = k.l_kernel
    cond = 1.0
    if k.mode == "s4":
        A = _dplr_dense(_full(lam, True), _full(P, True))
        Bf = _full(B, True)
        ref = _disc_ref(A, Bf, dt / rate, "bilinear")
        if ref is None:
            return None
        M = _one_minus_power(A, dt, Lk)
        cond = float(np.max(np.linalg.cond(M)))
        Cf = np.linalg.solve(np.swapaxes(M, -1, -2)[None], _full(C, True)[..., None])[..., 0]
        Ad, Bd, kappa = ref
        K, scale = _kernel_ref(Ad, Bd, Cf, L)
        # the kernel depends on the parameter C~ through (I - Ad^Lk)^{-1}, whose norm is
        # about 1 / (Lk dt min|lambda|) for small steps: a rounding of C~ moves the kernel
        # by eps times that (the conditioning of the C~ parameterisation itself, stated
        # in kernel_dplr's docstring), which cond(M), being scale-free, does not show
        amplification = float(np.max(np.linalg.norm(np.linalg.inv(M), 2, axis=(-2, -1))))
        return K.real, max(cond, amplification) * np.max(kappa), scale
    c = C
    if k.disc == "dss":
        z = dt[:, None] * lam
        c = C / np.expm1(Lk * z)
        cond = float(np.max(1 + Lk * np.abs(z) * np.abs(np.exp(Lk * z)) / np.abs(np.expm1(Lk * z))))
    method = "zoh" if k.disc == "dss" else k.disc
    K, scale = (np.stack([_diag_kernel_ref(lam, B, ci, dt / rate, L, method, True)[j]
                          for ci in c]) for j in (0, 1))
    return K, cond, scale


@fuzz(30, data=st.data())
def test_s4kernel(data):
    """S4Kernel: construction, forward(L, rate) against explicit powers, step against the
    kernel, state_output / forward_state against stepping.

    Tolerance ``32 (N + L) eps cond * scale`` with the scales of :func:`_kernel_ref` /
    :func:`_diag_kernel_ref` and ``cond`` that of the ``C~ -> C`` recovery (``s4``,
    ``dss``); not checked beyond ``cond > 1e6``. ``.half()`` must give a clean error or
    a finite kernel.
    """
    torch, stt = _torch()
    draw = data.draw
    kw, defects = draw(kernel_kwargs())
    seed = draw(st.integers(0, 100))
    torch.manual_seed(seed)
    k = call(stt.S4Kernel, Case(kw, defects), label="S4Kernel")
    if isinstance(k, Raised) or defects:
        return
    k._fuzz_seed = seed
    L = draw(st.integers(1, 16))
    rate = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0]))
    fcase = Case({"L": L, "rate": rate})
    fcase = maybe_defect(draw, fcase, {"L": "length", "rate": ("real", 0.0, None)}, p=0.3)
    if fcase.defects and fcase.defects[0].kind == "below 0.0":
        fcase.defects[0] = Defect("rate", "negative", VALUE)
    if fcase.defects and fcase.defects[0].arg == "L" and fcase.defects[0].kind == "0":
        return  # a zero-length kernel is an empty result (zero-length sequences)
    K = call(k, fcase, label=f"{_mrepr(k)}.forward", params=("L", "rate"))
    if isinstance(K, Raised) or fcase.defects:
        return
    # the kernel is computed in kernel_dtype (None: the parameters') and then rounded
    eps = max(eps_of(K.dtype), eps_of(k.kernel_dtype or K.dtype))
    got = _kernel_reference(k, L, rate)
    N = k.d_state
    if got is not None:
        Kr, cond, scale = got
        if cond < 1e6 and _ok(Kr) and _ok(scale):
            tol = 32 * (N + L) * eps * cond * np.asarray(scale)
            while tol.ndim < Kr.ndim:
                tol = tol[..., None]
            shape = np.shape(to_np(K))
            assert_agree(K, np.broadcast_to(Kr, shape), np.broadcast_to(tol, shape), "kernel")
    # the recurrence reproduces the kernel (causal kernels only)
    if k.channels == 1:
        out = call(k.setup_step, Case({"rate": rate}), label="S4Kernel.setup_step")
        if not isinstance(out, Raised):
            x = k.default_state(1)
            ys = []
            for t in range(L):
                u = torch.zeros(1, k.d_model, dtype=K.dtype)
                if t == 0:
                    u[:] = 1
                y, x = call(k.step, Case({"u": u, "state": x}), label="S4Kernel.step")
                ys.append(y)
            ys = torch.stack(ys, -1)[0]
            Kabs = np.max(np.abs(to_np(K)), initial=0)
            if got is not None and got[1] < 1e6:
                assert_agree(ys, to_np(K)[0], 64 * (N + L) * eps * got[1] * (Kabs + 1) * 4,
                             "step vs kernel")
            # an initial state's response and the state after a sequence, against stepping
            st0 = (torch.randn(2, k.d_model, N // 2, dtype=torch.float64)
                   + 1j * torch.randn(2, k.d_model, N // 2, dtype=torch.float64)).to(x.dtype)
            u = torch.randn(2, k.d_model, L, dtype=K.dtype)
            resp = call(k.state_output, Case({"state": st0, "L": L, "rate": rate}),
                        label=f"{_mrepr(k)}.state_output")
            fin = call(k.forward_state, Case({"u": u, "state": st0, "rate": rate}),
                       label=f"{_mrepr(k)}.forward_state")
            xs, ys0 = st0, []
            for _ in range(L):
                y0, xs = k.step(torch.zeros(2, k.d_model, dtype=K.dtype), xs)
                ys0.append(y0)
            xf = st0
            for t in range(L):
                _, xf = k.step(u[..., t], xf)
            if got is not None and got[1] < 1e6:
                tol = 64 * (N + L) * eps * got[1] * 8
                if not isinstance(resp, Raised):
                    scale_r = float(np.max(np.abs(to_np(torch.stack(ys0, -1))), initial=0)) + 1
                    assert_agree(resp, to_np(torch.stack(ys0, -1)), tol * scale_r,
                                 "state_output vs stepping")
                if not isinstance(fin, Raised):
                    scale_f = float(np.max(np.abs(to_np(xf)), initial=0)) + 1
                    assert_agree(fin, to_np(xf), tol * scale_f, "forward_state vs stepping")
    # half precision: a clean error or a finite kernel
    h = k.half()
    call(h, Case({"L": L}), label="S4Kernel.half().forward")


def _mrepr(m):
    """A module's repr on one line, with its parameters' dtype and its torch seed."""
    p = next(m.parameters(), None)
    return " ".join(repr(m).split()) + (f" [{p.dtype}]" if p is not None else "") + (
        f" [seed {getattr(m, '_fuzz_seed', '?')}]")


def _x_defect(draw, x, name="x", feature_dim=-1):
    torch, _ = _torch()
    kind = draw(st.sampled_from(["nan", "dtype", "numpy", "int", "ndim", "width", "list",
                                 "complex"]))
    if kind == "nan":
        y = x.clone()
        if y.numel():
            # at the first time step, which every sequence has (lengths >= 1 here): a
            # NaN in the padding past `lengths` is documented as ignored
            time_dim = 2 if feature_dim == 1 else 1
            idx = [draw(st.integers(0, y.shape[0] - 1)), 0, 0]
            idx[3 - time_dim] = draw(st.integers(0, y.shape[3 - time_dim] - 1))
            y[tuple(idx)] = float("nan")
            return y, Defect(name, "NaN entry", VALUE)
        kind = "numpy"
    if kind == "dtype":
        other = torch.float64 if x.dtype == torch.float32 else torch.float32
        return x.to(other), Defect(name, f"dtype {other}", TYPE)
    if kind == "numpy":
        return x.numpy().copy(), Defect(name, "a NumPy array", TYPE)
    if kind == "int":
        return x.to(torch.int64), Defect(name, "an int tensor", TYPE)
    if kind == "ndim":
        return x.flatten(0, 1), Defect(name, "one axis too few", VALUE)
    if kind == "list":
        return x.tolist(), Defect(name, "a list", TYPE)
    if kind == "complex":
        return x.to(torch.complex128), Defect(name, "complex", TYPE)
    # the feature axis is 1 for transposed (batch, d, length) inputs
    return torch.cat([x, x], dim=feature_dim), Defect(name, "wrong width", VALUE)


def _lengths_t_defect(b, L):
    def draw_it(draw):
        torch, _ = _torch()
        v, what, exp = draw(st.sampled_from([
            # lengths of 0 are valid (an empty sequence leaves its state unchanged);
            # an empty batch has no length to put above L
            *([(torch.full((b,), L + 1), "above L", VALUE)] if b else []),
            (torch.ones(b) * 1.0, "float tensor", TYPE),
            (torch.ones(b + 1, dtype=torch.long), "wrong shape", VALUE),
            (torch.ones(b, dtype=torch.bool), "bool tensor", TYPE)]))
        return v, Defect("lengths", what, exp)
    return draw_it


def _causal_ref(u, K, D, K_bwd=None):
    """Direct sums ``sum_j K[l-j] u[j] (+ K_bwd) + D u`` in float64, (b, H, L)."""
    y = _toeplitz_apply(K.astype(np.complex128), u.astype(np.complex128))
    if K_bwd is not None:
        y = y + _toeplitz_apply(K_bwd.astype(np.complex128), u.astype(np.complex128), False)
    return (y + D[:, None] * u).real


@fuzz(30, data=st.data())
def test_s4layer(data):
    """S4Layer: forward against direct sums with the layer's own kernel (the activation
    applied to the reference), padding by ``lengths`` and chunked states against one
    pass, step against forward (s4d). Tolerance: the FFT-convolution bound of
    :func:`test_conv` with the layer's precision, doubled for the activation's slope."""
    torch, stt = _torch()
    draw = data.draw
    kw, defects = draw(kernel_kwargs())
    for key in ("channels",):
        kw.pop(key, None)
    kw["bidirectional"] = draw(st.booleans())
    kw["activation"] = draw(st.sampled_from(["gelu", "identity", None, "tanh"]))
    kw["transposed"] = draw(st.booleans())
    if not defects and draw(st.integers(0, 4)) == 0:
        pick = draw(st.sampled_from(["bidirectional", "transposed", "activation"]))
        if pick == "activation":
            v, d = draw(st.sampled_from([("swish", Defect("activation", "unknown", VALUE)),
                                         (3, Defect("activation", "an int", TYPE))]))
        else:
            v, d = draw(st.sampled_from([(1, Defect(pick, "the int 1", TYPE)),
                                         ("no", Defect(pick, "a string", TYPE))]))
        kw[pick] = v
        defects.append(d)
    seed = draw(st.integers(0, 100))
    torch.manual_seed(seed)
    layer = call(stt.S4Layer, Case(kw, defects), label="S4Layer")
    if isinstance(layer, Raised) or defects:
        return
    layer._fuzz_seed = seed
    dtype = layer.kernel.log_dt.dtype
    b = draw(st.sampled_from([1, 2, 2, 0]))
    L = draw(st.integers(1, 10))
    H = layer.d_model
    x = torch.randn(b, L, H, dtype=dtype)
    if kw["transposed"]:
        x = x.transpose(1, 2).contiguous()
    fkw = {"x": x}
    if draw(st.booleans()) and b:
        fkw["lengths"] = torch.randint(1, L + 1, (b,))
    use_state = draw(st.integers(0, 2)) == 0 and not kw["bidirectional"]
    if use_state:
        fkw["state"] = layer.default_state(b)
    feat = 1 if kw["transposed"] else -1
    fcase = maybe_defect(draw, Case(fkw), {"x": lambda d: _x_defect(d, x, feature_dim=feat),
                                           "lengths": _lengths_t_defect(b, L)}, p=0.35)
    if fcase.defects and fcase.defects[0].arg == "lengths" and "lengths" not in fkw:
        fcase.defects[0] = Defect("lengths", fcase.defects[0].kind, fcase.defects[0].expect)
    out = call(layer, fcase, label=f"{_mrepr(layer)}.forward",
               params=("x", "state", "lengths", "rate"))
    if isinstance(out, Raised) or fcase.defects or b == 0:
        return
    y = out[0] if use_state else out
    u = x if kw["transposed"] else x.transpose(1, 2)  # (b, H, L)
    u = to_np(u).astype(np.float64)
    lengths = fkw.get("lengths")
    if lengths is not None:
        mask = np.arange(L)[None, None, :] < to_np(lengths)[:, None, None]
        u = np.where(mask, u, 0)
    # the kernel as forward computes it (same autograd mode, hence the same reduction path)
    K = to_np(layer.kernel(L)).astype(np.float64)
    D = to_np(layer.D).astype(np.float64)
    pre = _causal_ref(u, K[0], D, K[1] if kw["bidirectional"] else None)
    act = layer.activation
    ref = to_np(act(torch.as_tensor(pre)))
    if lengths is not None:
        ref = np.where(mask, ref, 0)
    eps = eps_of(dtype)
    eps_k = max(eps, eps_of(layer.kernel.kernel_dtype or dtype))
    n = sc.fft_length(2 * L)
    knorm = _vnorm(np.moveaxis(K[..., :L], 0, -2).reshape(H, -1))  # over channels and taps
    kabs = np.sum(np.abs(K[..., :L]), axis=(0, -1))
    umax = np.max(np.abs(u), axis=-1, keepdims=True)
    # the FFT convolution's norm-wise bound with the layer's own kernel, and (for the
    # recurrent paths) L roundings of the kernel's precision on sum |K| max|u|; the
    # activations used here have slope <= 1.13, hence the factor 2
    tol_conv = 2 * (16 * eps * (math.log2(n) + 1) * knorm[None, :, None]
                    * _vnorm(u)[..., None] + 4 * eps * np.abs(D[None, :, None] * u)
                    + 4 * eps * np.abs(pre))
    tol_rec = 2 * 64 * (layer.kernel.d_state + L) * eps_k * (
        kabs + np.abs(D))[None, :, None] * umax
    if not kw["transposed"]:
        ref, tol_conv, tol_rec = (np.swapaxes(a, 1, 2) for a in (ref, tol_conv, tol_rec))
    assert_agree(y, ref, tol_conv, "S4Layer output")
    if use_state and L > 1 and lengths is None:
        m = draw(st.integers(1, L - 1))
        sl = (slice(None), slice(None), slice(0, m)) if kw["transposed"] else (
            slice(None), slice(0, m))
        sr_ = (slice(None), slice(None), slice(m, L)) if kw["transposed"] else (
            slice(None), slice(m, L))
        y1, s1 = layer(x[sl], layer.default_state(b))
        y2, _ = layer(x[sr_], s1)
        cat = torch.cat([y1, y2], dim=2 if kw["transposed"] else 1)
        assert_agree(cat, to_np(y), tol_conv + tol_rec, "chunked with states vs one pass")
    if layer.kernel.mode == "s4d" and not kw["bidirectional"] and lengths is None:
        layer.setup_step()
        s = layer.default_state(b)
        ys = []
        for t in range(L):
            xt = x[:, :, t] if kw["transposed"] else x[:, t]
            yt, s = call(layer.step, Case({"x": xt, "state": s}), label=f"{_mrepr(layer)}.step")
            ys.append(yt)
        ys = torch.stack(ys, 2 if kw["transposed"] else 1)
        assert_agree(ys, to_np(y), tol_conv + tol_rec, "step vs forward")


def _state_list_defect(n_blocks, b, model):
    def draw_it(draw):
        torch, _ = _torch()
        good = model.default_state(b)
        v, what, exp = draw(st.sampled_from([
            (good[:-1] if n_blocks else [torch.zeros(1)], "one state too few", VALUE),
            (good + [good[0]] if n_blocks else [torch.zeros(1)], "one state too many",
             VALUE),
            ([None] * max(n_blocks, 1), "None entries", TYPE),
            ([g.real for g in good] if n_blocks else [torch.zeros(1)], "real tensors", EITHER),
            ([to_np(g) for g in good] if n_blocks else [np.zeros(1)], "NumPy arrays", TYPE),
            (good[0] if n_blocks else torch.zeros(1), "a tensor, not a list", TYPE)]))
        return v, Defect("state", what, exp)
    return draw_it


@fuzz(22, data=st.data())
def test_s4block_s4model(data):
    """S4Block and S4Model: finite outputs or clean errors for any arguments; states
    (lists for the model) given in chunks reproduce one pass; pooled outputs with
    ``lengths`` equal those of the unpadded sequences; step reproduces forward (s4d,
    eval). Tolerance ``64 L (N + L) eps`` relative to the output's scale (the blocks'
    norms and projections are Lipschitz with moderate constants at initialisation)."""
    torch, stt = _torch()
    draw = data.draw
    model_kind = draw(st.sampled_from(["block", "model"]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    mode = draw(st.sampled_from(["s4", "s4d"]))
    H = draw(st.integers(1, 3))
    N = draw(st.sampled_from([2, 4]))
    kw = {"d_state": N, "mode": mode, "dtype": dtype}
    defects = []
    if model_kind == "block":
        kw["d_model"] = H
        kw["prenorm"] = draw(st.booleans())
        kw["glu"] = draw(st.booleans())
        kw["norm"] = draw(st.sampled_from(["layer", None]))
        ctor = stt.S4Block
    else:
        d_in, d_out = draw(st.integers(1, 2)), draw(st.integers(1, 3))
        kw.update(d_input=d_in, d_output=d_out, d_model=H,
                  n_layers=draw(st.integers(0, 2)),
                  pool=draw(st.sampled_from([None, "mean", "last"])),
                  prenorm=draw(st.booleans()))
        ctor = stt.S4Model
    kw["dropout"] = 0.0
    kw["transposed"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        pick = draw(st.sampled_from(["dropout", "norm", "prenorm", "d_model"]
                                    + (["pool", "n_layers"] if model_kind == "model" else [])))
        v, d = {
            "dropout": draw(st.sampled_from([(1.0, Defect("dropout", "1.0", VALUE)),
                                             (float("nan"), Defect("dropout", "NaN", VALUE)),
                                             (True, Defect("dropout", "a bool", TYPE)),
                                             ("0.1", Defect("dropout", "a string", TYPE))])),
            "norm": draw(st.sampled_from([("batch", Defect("norm", "unknown", VALUE)),
                                          (3, Defect("norm", "an int", TYPE))])),
            "prenorm": draw(st.sampled_from([("no", Defect("prenorm", "a string", TYPE)),
                                             (1, Defect("prenorm", "the int 1", TYPE))])),
            "d_model": _int_defect("d_model")(draw),
            "pool": draw(st.sampled_from([("max", Defect("pool", "unknown", VALUE)),
                                          (["mean"], Defect("pool", "a list", TYPE))])),
            "n_layers": _int_defect("n_layers", 0)(draw),
        }[pick]
        if pick == "norm" and model_kind == "model":
            kw["norm"] = v
        else:
            kw[pick] = v
        defects.append(d)
    torch.manual_seed(draw(st.integers(0, 100)))
    m = call(ctor, Case(kw, defects), label=ctor.__name__)
    if isinstance(m, Raised) or defects:
        return
    m.eval()
    d_feat = kw["d_model"] if model_kind == "block" else kw["d_input"]
    b = draw(st.sampled_from([1, 2, 2, 0]))
    L = draw(st.integers(1, 8))
    x = torch.randn(b, L, d_feat, dtype=dtype)
    if kw["transposed"]:
        x = x.transpose(1, 2).contiguous()
    fkw = {"x": x}
    seq = model_kind == "block" or kw["pool"] is None
    n_blocks = 1 if model_kind == "block" else kw["n_layers"]
    if draw(st.booleans()) and b:
        fkw["lengths"] = torch.randint(1, L + 1, (b,))
    use_state = seq and draw(st.integers(0, 2)) == 0
    if use_state:
        fkw["state"] = m.default_state(b)
    feat = 1 if kw["transposed"] else -1
    kinds = {"x": lambda d: _x_defect(d, x, feature_dim=feat),
             "lengths": _lengths_t_defect(b, L)}
    if model_kind == "model" and use_state:
        kinds["state"] = _state_list_defect(n_blocks, b, m)
    fcase = maybe_defect(draw, Case(fkw), kinds, p=0.35)
    out = call(m, fcase, label=f"{ctor.__name__}.forward",
               params=("x", "state", "lengths", "rate"))
    if isinstance(out, Raised) or fcase.defects or b == 0:
        return
    y = out[0] if use_state else out
    eps = eps_of(dtype)
    scale = float(np.max(np.abs(to_np(y)), initial=0)) + 1
    tol = 64 * L * (N + L) * eps * scale
    tax = 2 if kw["transposed"] else 1
    if use_state and L > 1 and "lengths" not in fkw:
        mm = draw(st.integers(1, L - 1))
        idx1 = [slice(None)] * 3
        idx2 = [slice(None)] * 3
        idx1[tax], idx2[tax] = slice(0, mm), slice(mm, L)
        out_dim = 2 if kw["transposed"] else 1  # blocks and models keep the layout
        y1, s1 = m(x[tuple(idx1)], m.default_state(b))
        y2, _ = m(x[tuple(idx2)], s1)
        assert_agree(torch.cat([y1, y2], dim=out_dim), to_np(y), tol,
                     "chunked with states vs one pass")
    if not seq and "lengths" in fkw:
        for i in range(b):
            n = int(fkw["lengths"][i])
            idx = [slice(i, i + 1)] + [slice(None)] * 2
            idx[tax] = slice(0, n)
            yi = m(x[tuple(idx)])
            assert_agree(y[i:i + 1], to_np(yi), tol, f"pooled output of sequence {i} with "
                                                     "lengths vs unpadded")
    if seq and mode == "s4d" and "lengths" not in fkw and (model_kind == "block" or n_blocks):
        m.setup_step()
        s = m.default_state(b)
        ys = []
        for t in range(L):
            xt = x[:, :, t] if kw["transposed"] else x[:, t]
            yt, s = call(m.step, Case({"x": xt, "state": s}), label=f"{ctor.__name__}.step")
            ys.append(yt)
        out_dim = 2 if (model_kind == "model" and kw["transposed"]) or (
            model_kind == "block" and kw["transposed"]) else 1
        assert_agree(torch.stack(ys, out_dim), to_np(y), tol, "step vs forward")


def _lr_defect(name):
    def draw_it(draw):
        v, what, exp = draw(st.sampled_from([
            (float("nan"), "NaN", VALUE), (float("inf"), "inf", VALUE), (-1e-3, "negative", VALUE),
            (True, "a bool", TYPE), ("0.1", "a string", TYPE), (1e-3 + 0j, "complex", TYPE),
            (np.array([0.1, 0.2]), "an array", TYPE)]))
        return v, Defect(name, what, exp)
    return draw_it


@fuzz(22, data=st.data())
def test_param_groups(data):
    """param_groups partitions the trainable parameters: SSM ones (lr ssm_lr, no decay),
    matrices (lr, weight_decay), vectors (lr, no decay); AdamW accepts the groups."""
    torch, stt = _torch()
    draw = data.draw
    which = draw(st.sampled_from(["kernel", "layer", "model", "linear", "frozen", "list",
                                  "none"]))
    torch.manual_seed(0)
    model = {
        "kernel": lambda: stt.S4Kernel(2, 4, "s4"),
        "layer": lambda: stt.S4Layer(2, 4, "s4d"),
        "model": lambda: stt.S4Model(1, 2, d_model=2, n_layers=1, d_state=4, mode="s4d"),
        "linear": lambda: torch.nn.Linear(2, 2),
        "frozen": lambda: stt.S4Layer(2, 4, "s4d").requires_grad_(False),
        "list": lambda: [torch.nn.Parameter(torch.ones(2))],
        "none": lambda: None,
    }[which]()
    # lr must be > 0 (param_groups' rule); ssm_lr = 0 freezes the SSM parameters
    kw = {"model": model, "lr": draw(st.sampled_from([1e-2, 1e-4]))}
    if draw(st.booleans()):
        kw["ssm_lr"] = draw(st.sampled_from([None, 1e-3, 0.0]))
    if draw(st.booleans()):
        kw["weight_decay"] = draw(st.sampled_from([0.0, 0.05]))
    case = Case(kw, [Defect("model", f"a {type(model).__name__}", TYPE)]
                if which in ("list", "none") else [])
    if not case.defects:
        case = maybe_defect(draw, case, {"lr": _lr_defect("lr"), "ssm_lr": _lr_defect("ssm_lr"),
                                         "weight_decay": _lr_defect("weight_decay")}, p=0.5)
    groups = call(stt.param_groups, case, label="param_groups")
    if isinstance(groups, Raised) or case.defects:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    seen = [id(p) for g in groups for p in g["params"]]
    if sorted(seen) != sorted(id(p) for p in params):
        fail("silent wrong result", "the groups do not hold every trainable parameter once")
    lr = kw["lr"]
    ssm_lr = kw.get("ssm_lr")
    ssm_lr = min(lr, 1e-3) if ssm_lr is None else ssm_lr
    for g in groups:
        kinds = {("ssm" if getattr(p, "_ssm_param", False) else
                  ("matrix" if p.ndim >= 2 else "vector")) for p in g["params"]}
        if len(kinds) != 1:
            fail("silent wrong result", f"a group mixes {sorted(kinds)}")
        want = {"ssm": (ssm_lr, 0.0), "matrix": (lr, kw.get("weight_decay", 0.0)),
                "vector": (lr, 0.0)}[kinds.pop()]
        if (g["lr"], g["weight_decay"]) != want:
            fail("silent wrong result", f"group lr/weight_decay {(g['lr'], g['weight_decay'])}, "
                                        f"expected {want}")
    if groups:
        torch.optim.AdamW(groups)


# =======================================================================================
# coverage of the public API
# =======================================================================================
def _public_callables():
    names = set()
    modules = {"hippo": sh, "decomp": sdec, "discretize": sd, "kernels": sk, "conv": sc,
               "recurrence": sr, "boundary": sb, "reductions": sred}
    for name in ss.__all__:
        obj = getattr(ss, name)
        if isinstance(obj, types.ModuleType):
            continue
        if callable(obj) and not _is_record(obj):
            names.add(name)
    for mname, mod in modules.items():
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if callable(obj) and not _is_record(obj):
                names.add(f"{mname}.{name}")
            if _is_record(obj):
                for meth, f in vars(obj).items():
                    if not meth.startswith("_") and inspect.isfunction(f):
                        names.add(f"{mname}.{name}.{meth}")
    import statespace.torch as stt

    for name in stt.__all__:
        if callable(getattr(stt, name)):
            names.add(f"torch.{name}")
    return names


def _is_record(obj):
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def test_every_public_function_is_fuzzed():
    """Every public function of statespace (and of its public modules) has a fuzz test."""
    missing = sorted(_public_callables() - COVERED)
    assert not missing, f"public functions without a fuzz test: {missing}"
