r"""Routes of :func:`statespace.recurrence.scan` other than the step-by-step loop.

Every function here takes arrays already validated and cast by ``scan`` and runs no
host-side check: the associative core can be traced by ``jax.jit`` and
``torch.compile``. None loops in Python over the time steps; the loops are over
chunks (``ceil(L / T)`` iterations) and over the ``log2(T)`` doubling levels.

A system is reduced to one linear form ``x_l = A x_{l-1} + b u_l`` with ``A``
either a diagonal ``(batch, n)`` or a dense ``(batch, n, n)`` matrix:

* diagonal systems keep ``A = Lambda_d`` (elementwise products);
* dense systems keep ``A = Ad``;
* DPLR systems are expanded once into the dense ``Ad`` (``O(N^2 r)`` work, the
  transition applied to the unit vectors). A halved DPLR transition acts on the half
  state by a map that is real-linear but not complex-linear (every ``P v`` is
  ``2 Re(P v)``), so it is written on the real vector ``[Re x, Im x]`` of size
  ``2N``, with the output row ``[2 Re C, -2 Im C]``.

Routes
------
``associative``
    Hillis-Steele doubling inside chunks of ``T`` steps: the chunk's carried state is
    prepended as element ``-1`` of the driven sequence ``z = [x, b u_0, ...]`` and
    ``z_t += A^s z_{t-s}`` for ``s = 1, 2, 4, ...``; ``A^s`` by squaring. Work
    ``O(n^k T log T)`` per chunk (``k = 1`` diagonal, ``2`` dense), depth ``log T``.
``chunked``
    Chunks of ``T`` steps (``T`` a power of two). The Krylov block
    ``[b, A b, ..., A^{T-1} b]``, the rows ``c A^{t+1}`` and ``A^T`` come from
    ``log2 T`` doublings; chunk-end states of the zero-state response are one matrix
    product with the reversed inputs, the states are carried across chunk boundaries
    by ``A^T`` (one step per chunk), the outputs are the chunk-local convolution (FFT)
    plus ``c A^{t+1}`` times the carried state.
``convolution`` (diagonal systems)
    Outputs by FFT convolution with the full kernel ``K_l = sum_n c_n b_n
    lambda_n^l`` plus the initial-state response ``sum_n c_n lambda_n^{l+1} x_n``;
    final state ``lambda^L x + b sum_k lambda^{L-1-k} u_k``. Every power
    ``lambda^{mT + t}`` is the product of two powers evaluated as ``exp`` of an exact
    multiple of ``log lambda`` (in double precision), so the sums are matrix products
    and no power is accumulated step by step.
"""

from __future__ import annotations

import numbers

from . import _array
from .conv import _conv_core, fft_length
from .discretize import DenseDiscrete, DiagDiscrete, DPLRDiscrete, _transition

__all__: list[str] = []


# ----------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------
def _iscx(xp, a):
    return _array.is_complex(xp, a)


def _matmul(xp, a, b):
    """``xp.matmul``; NumPy operands made contiguous first (a strided view, such as the
    real part of a complex array or a flipped one, sends NumPy to a loop without BLAS
    that is orders of magnitude slower)."""
    if _array.is_numpy(xp):
        import numpy as np

        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return xp.matmul(a, b)


def _mm(xp, a, b):
    """``a @ b``; a real operand times a complex one as two real products."""
    ca, cb = _iscx(xp, a), _iscx(xp, b)
    if ca and not cb:
        return _array._complex(xp, _matmul(xp, xp.real(a), b), _matmul(xp, xp.imag(a), b))
    if cb and not ca:
        return _array._complex(xp, _matmul(xp, a, xp.real(b)), _matmul(xp, a, xp.imag(b)))
    return _matmul(xp, a, b)


def _mm_re(xp, a, b):
    """``Re(a @ b)`` with the two real products only."""
    if _iscx(xp, a) and _iscx(xp, b):
        return (_matmul(xp, xp.real(a), xp.real(b))
                - _matmul(xp, xp.imag(a), xp.imag(b)))
    return _array.real(xp, _mm(xp, a, b))


def _apply(xp, a, diag, X):
    """``A @ X`` for ``X`` of shape ``(..., n, m)``."""
    return a[..., :, None] * X if diag else _mm(xp, a, X)


def _rapply(xp, a, diag, R):
    """``R @ A`` for ``R`` of shape ``(..., m, n)``."""
    return R * a[..., None, :] if diag else _mm(xp, R, a)


def _square(xp, a, diag):
    return a * a if diag else _mm(xp, a, a)


def _pad_last(xp, u, total):
    """``u`` padded with zeros at the end of its last axis to length ``total``."""
    L = u.shape[-1]
    if total == L:
        return u
    z = xp.zeros(tuple(u.shape[:-1]) + (total - L,), dtype=u.dtype, device=_array.device_of(u))
    return xp.concat([u, z], axis=-1)


def _output(xp, c, x, halved):
    """``c . x`` over the last axis (``2 Re`` when halved)."""
    y = xp.sum(c * x, axis=-1)
    return 2 * _array.real(xp, y) if halved else y


def _add_skip(xp, y, u, D):
    if D is None:
        return y
    if isinstance(D, numbers.Number):
        return y + D * u
    return y + D[..., None] * u


def pow2_at_least(n):
    """Smallest power of two ``>= n`` (``n >= 1``)."""
    return 1 << max(0, int(n) - 1).bit_length()


# ----------------------------------------------------------------------------------
# one linear form per system
# ----------------------------------------------------------------------------------
def linear_form(xp, sys, C, x0, halved):
    """``(a, diag, b, c, x, out_halved, unpack)`` of the validated system.

    ``x_l = a x_{l-1} + b u_l`` (``a`` diagonal when ``diag``), ``y = c . x``
    (``2 Re`` when ``out_halved``); ``unpack`` maps a state of the form back to the
    caller's state (the identity except for halved DPLR systems).
    """
    if isinstance(sys, DiagDiscrete):
        return sys.Lambda_d, True, sys.Bd, C, x0, halved, None
    if isinstance(sys, DenseDiscrete):
        return sys.Ad, False, sys.Bd, C, x0, halved, None
    assert isinstance(sys, DPLRDiscrete)
    N = sys.Einv.shape[-1]
    dev = _array.device_of(sys.Einv)
    cdt = sys.Einv.dtype
    eye = xp.eye(N, dtype=cdt, device=dev)

    def cols(e):
        return _transition(xp, sys.Lambda0[..., None, :], sys.s0[..., None, :],
                           sys.Einv[..., None, :], sys.P[..., None, :, :],
                           sys.R[..., None, :, :], e, sys.halved)

    if not sys.halved:
        return xp.matrix_transpose(cols(eye)), False, sys.Bd, C, x0, False, None
    # real-linear map on [Re x, Im x]: columns are A e_k and A (i e_k)
    re_cols = xp.matrix_transpose(cols(eye))
    im_cols = xp.matrix_transpose(cols(eye * xp.asarray(1j, dtype=cdt, device=dev)))
    top = xp.concat([xp.real(re_cols), xp.real(im_cols)], axis=-1)
    bot = xp.concat([xp.imag(re_cols), xp.imag(im_cols)], axis=-1)
    a = xp.concat([top, bot], axis=-2)
    b = xp.concat([xp.real(sys.Bd), xp.imag(sys.Bd)], axis=-1)
    c = None if C is None else xp.concat([2 * _array.real(xp, C), -2 * _imag(xp, C)], axis=-1)
    x = xp.concat([_array.real(xp, x0), _imag(xp, x0)], axis=-1)
    x = _array.in_precision(xp, x, a.dtype)

    def unpack(s):
        return _array._complex(xp, s[..., :N], s[..., N:])

    return a, False, b, c, x, False, unpack


def _imag(xp, a):
    return xp.imag(a) if _iscx(xp, a) else xp.zeros_like(a)


# ----------------------------------------------------------------------------------
# associative (log-depth) route
# ----------------------------------------------------------------------------------
def associative_states(xp, a, diag, z):
    r"""Inclusive scan ``z_t <- sum_{j <= t} A^{t-j} z_j`` along the last axis.

    ``z`` has shape ``(..., n, m)``. Hillis-Steele doubling: ``ceil(log2 m)`` levels,
    each ``z[..., s:] += A^s z[..., :-s]`` with ``A^s`` by squaring. Pure array
    operations: traceable by ``jax.jit``.
    """
    m = z.shape[-1]
    p, s = a, 1
    while s < m:
        z = xp.concat([z[..., :s], z[..., s:] + _apply(xp, p, diag, z[..., :m - s])], axis=-1)
        s *= 2
        if s < m:
            p = _square(xp, p, diag)
    return z


def associative(xp, a, diag, b, c, x, u, T, out_halved, D):
    """States or outputs by :func:`associative_states` over chunks of ``T`` steps."""
    L = u.shape[-1]
    outs = []
    for l0 in range(0, L, T):
        uc = u[..., l0:min(l0 + T, L)]
        z = xp.concat([x[..., :, None], b[..., :, None] * uc[..., None, :]], axis=-1)
        st = associative_states(xp, a, diag, z)[..., 1:]  # (..., n, Tc)
        x = st[..., -1]
        st = xp.matrix_transpose(st)  # (..., Tc, n)
        if c is None:
            outs.append(st)
        else:
            outs.append(_add_skip(xp, _output(xp, c[..., None, :], st, out_halved), uc, D))
    y = outs[0] if len(outs) == 1 else xp.concat(outs, axis=-2 if c is None else -1)
    return y, x


# ----------------------------------------------------------------------------------
# chunked route
# ----------------------------------------------------------------------------------
def _doubling(xp, a, diag, b, c, T):
    """Krylov block ``(..., n, T)`` of ``A^t b``, rows ``(..., T, n)`` of ``c A^{t+1}``
    (``None`` without ``c``) and the powers ``[A, A^2, A^4, ..., A^T]``."""
    kry = b[..., :, None]
    obs = None if c is None else _rapply(xp, a, diag, c[..., None, :])
    pows = [a]
    w = 1
    while w < T:
        p = pows[-1]
        kry = xp.concat([kry, _apply(xp, p, diag, kry)], axis=-1)
        if obs is not None:
            obs = xp.concat([obs, _rapply(xp, p, diag, obs)], axis=-2)
        pows.append(_square(xp, p, diag))
        w *= 2
    return kry, obs, pows


#: Chunks up to this length convolve by a Toeplitz matrix product, longer ones by FFT.
TOEPLITZ_MAX = 256


def _toeplitz(xp, K):
    """Upper-triangular Toeplitz matrices ``Z[..., j, t] = K[..., t - j]`` (``t >= j``)."""
    T = K.shape[-1]
    dev = _array.device_of(K)
    t = xp.arange(T, device=dev)
    lag = t[None, :] - t[:, None]
    idx = xp.reshape(xp.where(lag >= 0, lag, xp.zeros_like(lag)), (T * T,))
    Z = xp.reshape(xp.take(K, idx, axis=-1), tuple(K.shape[:-1]) + (T, T))
    return xp.where(lag >= 0, Z, xp.zeros_like(Z))


def _intra(xp, U, K, T):
    """Causal convolution of every chunk ``U[..., m, :]`` with ``K`` (length ``T``)."""
    if T <= TOEPLITZ_MAX:
        return _mm(xp, U, _toeplitz(xp, K))
    return _conv_core(xp, U, K[..., None, :], fft_length(2 * T - 1), T, _iscx(xp, K))


def _apply_power(xp, pows, diag, r, v):
    """``A^r v`` for ``v`` of shape ``(..., n)``, ``r < 2**len(pows)``, by its bits."""
    v = v[..., None]
    k = 0
    while r:
        if r & 1:
            v = _apply(xp, pows[k], diag, v)
        r >>= 1
        k += 1
    return v[..., 0]


def chunked(xp, a, diag, b, c, x, u, T, out_halved, D):
    """Outputs (or states) and final state by chunks of ``T`` (a power of two) steps."""
    L = u.shape[-1]
    M = -(-L // T)
    kry, obs, pows = _doubling(xp, a, diag, b, c, T)
    G = pows[-1]  # A^T
    U = xp.reshape(_pad_last(xp, u, M * T), tuple(u.shape[:-1]) + (M, T))
    # chunk-end states of the zero-state response: s_m = sum_t A^{T-1-t} b u_{m,t}
    s = _mm(xp, kry, xp.matrix_transpose(xp.flip(U, axis=-1)))  # (..., n, M)
    batch = tuple(xp.broadcast_arrays(s[..., 0], x)[0].shape)
    starts = []
    xm = xp.broadcast_to(x, batch)
    if _iscx(xp, s) and not _iscx(xp, xm):
        xm = xp.astype(xm, s.dtype)
    for m in range(M):
        starts.append(xm)
        if m < M - 1:
            xm = _apply(xp, G, diag, xm[..., None])[..., 0] + s[..., m]
    XP = xp.stack(starts, axis=-1)  # (..., n, M): state before each chunk
    if c is None:
        # A^{t+1} x_m for all chunks m by doubling, then the per-component convolution
        Y = _apply(xp, a, diag, XP)[..., None]  # (..., n, M, 1)
        w, k = 1, 0
        while w < T:
            sh = tuple(Y.shape)
            flat = xp.reshape(Y, sh[:-2] + (sh[-2] * sh[-1],))
            nxt = xp.reshape(_apply(xp, pows[k], diag, flat), sh)
            Y = xp.concat([Y, nxt], axis=-1)
            w, k = 2 * w, k + 1
        cx = _iscx(xp, kry) or _iscx(xp, U)
        Uc = xp.astype(U, _array.complex_dtype(xp, U.dtype)) if cx and not _iscx(xp, U) else U
        kr = xp.astype(kry, Uc.dtype) if cx and not _iscx(xp, kry) else kry
        zs = _conv_core(xp, Uc[..., None, :, :], kr[..., :, None, :], fft_length(2 * T - 1),
                        T, cx)
        st = Y + zs  # (..., n, M, T)
        sh = tuple(st.shape)
        st = xp.reshape(st, sh[:-2] + (sh[-2] * sh[-1],))[..., :L]
        st = xp.matrix_transpose(st)  # (..., L, n)
        return st, st[..., -1, :]
    if not _iscx(xp, U) and (out_halved or not (_iscx(xp, kry) or _iscx(xp, obs))):
        return _chunked_real(xp, a, diag, kry, obs, pows, c, x, U, u, T, out_halved, D)
    K = xp.sum(c[..., :, None] * kry, axis=-2)  # (..., T): c A^t b
    if out_halved:
        K = 2 * _array.real(xp, K)
    cx = _iscx(xp, K) or _iscx(xp, U)
    Uc = xp.astype(U, _array.complex_dtype(xp, U.dtype)) if cx and not _iscx(xp, U) else U
    Kc = xp.astype(K, Uc.dtype) if cx and not _iscx(xp, K) else K
    y = _intra(xp, Uc, Kc, T)  # (..., M, T)
    cross = _mm_re(xp, obs, XP) if out_halved else _mm(xp, obs, XP)  # (..., T, M)
    if out_halved:
        cross = 2 * cross
    y = y + xp.matrix_transpose(cross)
    sh = tuple(y.shape)
    y = xp.reshape(y, sh[:-2] + (sh[-2] * sh[-1],))[..., :L]
    y = _add_skip(xp, y, u, D)
    # final state: A^r x_{M-1} + sum_{t<r} A^{r-1-t} b u_{M-1,t}, r samples in the last chunk
    r = L - (M - 1) * T
    tail = xp.flip(U[..., M - 1, :r], axis=-1)[..., :, None]
    xf = _apply_power(xp, pows, diag, r, starts[-1]) + _mm(xp, kry[..., :, :r], tail)[..., 0]
    return y, xf


def _real_parts(xp, a, axis):
    """``a`` (real) or ``[Re a, Im a]`` concatenated along ``axis`` (complex)."""
    if not _iscx(xp, a):
        return a
    return xp.concat([xp.real(a), xp.imag(a)], axis=axis)


def _chunked_real(xp, a, diag, kry, obs, pows, c, x, U, u, T, out_halved, D):
    """:func:`chunked` for real inputs and real outputs, with two real matrix products.

    Chunk-end states ``s = U R`` with ``R[t] = A^{T-1-t} b`` (real and imaginary parts
    side by side); outputs ``[U, Re X, Im X] @ [Toeplitz(K); 2 Re obs^T; -2 Im obs^T]``
    (``X`` the state before each chunk), so that no array of the size of ``u`` is made
    except the product's result.
    """
    L = u.shape[-1]
    M = U.shape[-2]
    n = kry.shape[-2]
    R = xp.matrix_transpose(xp.flip(kry, axis=-1))  # (..., T, n)
    s2 = _matmul(xp, U, _real_parts(xp, R, -1))  # (..., M, n) or (..., M, 2n)
    s = _array._complex(xp, s2[..., :n], s2[..., n:]) if _iscx(xp, R) else s2
    batch = tuple(xp.broadcast_arrays(s[..., 0, :], x)[0].shape)
    xm = xp.broadcast_to(x, batch)
    if _iscx(xp, s) and not _iscx(xp, xm):
        xm = xp.astype(xm, s.dtype)
    starts = []
    for m in range(M):
        starts.append(xm)
        if m < M - 1:
            xm = _apply(xp, pows[-1], diag, xm[..., None])[..., 0] + s[..., m, :]
    XP = xp.stack(starts, axis=-2)  # (..., M, n)
    K = xp.sum(c[..., :, None] * kry, axis=-2)
    f = 2 if out_halved else 1
    K = f * _array.real(xp, K)
    ot = xp.matrix_transpose(obs)  # (..., n, T)
    if _iscx(xp, XP) or _iscx(xp, ot):
        parts = [f * _array.real(xp, ot), -f * _imag(xp, ot)]
        XP = xp.concat([_array.real(xp, XP), _imag(xp, XP)], axis=-1)
    else:
        parts = [f * ot]
    Z = _toeplitz(xp, K)
    right = xp.concat([xp.broadcast_to(Z, tuple(ot.shape[:-2]) + tuple(Z.shape[-2:])),
                       *parts], axis=-2)
    left_batch = tuple(XP.shape[:-2])
    Ub = xp.broadcast_to(U, left_batch + tuple(U.shape[-2:]))
    y = _matmul(xp, xp.concat([Ub, xp.astype(XP, U.dtype)], axis=-1), right)  # (..., M, T)
    sh = tuple(y.shape)
    y = xp.reshape(y, sh[:-2] + (sh[-2] * sh[-1],))[..., :L]
    y = _add_skip(xp, y, u, D)
    r = L - (M - 1) * T
    tail = xp.flip(U[..., M - 1, :r], axis=-1)[..., :, None]
    xf = _apply_power(xp, pows, diag, r, starts[-1]) + _mm(xp, kry[..., :, :r], tail)[..., 0]
    return y, xf


# ----------------------------------------------------------------------------------
# convolution route (diagonal systems)
# ----------------------------------------------------------------------------------
def _log_nodes(xp, lam):
    """``log(lambda)`` in double precision where the backend has it (complex)."""
    wide = getattr(xp, "complex128", None)
    lc = lam if _iscx(xp, lam) else _array._complex(xp, lam, xp.zeros_like(lam))
    if wide is not None and lc.dtype != wide:
        try:
            lc = xp.astype(lc, wide)
        except (TypeError, ValueError, RuntimeError):  # a backend without float64
            pass
    rdt = _array.real_dtype(xp, lc.dtype)
    mag = xp.abs(lc)
    tiny = xp.asarray(xp.finfo(rdt).smallest_normal, dtype=rdt, device=_array.device_of(lam))
    return _array._complex(xp, xp.log(xp.maximum(mag, tiny)),
                           xp.atan2(xp.imag(lc), xp.real(lc)))


def _powers(xp, logl, start, step, count, dtype):
    """``exp(logl * (start + step j))`` for ``j < count``: shape ``(..., count, n)``."""
    dev = _array.device_of(logl)
    j = xp.arange(count, dtype=_array.real_dtype(xp, logl.dtype), device=dev)
    e = xp.exp(logl[..., None, :] * xp.astype(start + step * j, logl.dtype)[:, None])
    return xp.astype(e, dtype)


def convolution(xp, lam, b, c, x, u, T, halved, D, x0_given):
    """Outputs and final state of a diagonal system (see the module notes)."""
    L = u.shape[-1]
    M = -(-L // T)
    real_sys = not (_iscx(xp, lam) or _iscx(xp, b) or _iscx(xp, c) or _iscx(xp, x))
    cdt = _array.complex_dtype(xp, b.dtype)
    logl = _log_nodes(xp, lam)
    V = _powers(xp, logl, 0, 1, T, cdt)         # (..., T, n): lambda^t
    W = _powers(xp, logl, 0, T, M, cdt)         # (..., M, n): lambda^{mT}
    Vt = xp.matrix_transpose(V)
    keep_real = halved or (real_sys and not _iscx(xp, u))

    def seq(v):  # sum_n v_n lambda_n^l, l < L, shape (..., L)
        vw = v[..., None, :] * W
        k = (_mm_re(xp, vw, Vt) if keep_real else _mm(xp, vw, Vt))
        sh = tuple(k.shape)
        return xp.reshape(k, sh[:-2] + (sh[-2] * sh[-1],))[..., :L]

    K = seq(c * b)
    if halved:
        K = 2 * K
    y = _conv(xp, u, K, L)
    if x0_given:
        z = seq(c * lam * x)
        y = y + (2 * z if halved else z)
    y = _add_skip(xp, y, u, D)
    # final state: lambda^L x + b sum_j u_{L-1-j} lambda^j
    ur = xp.reshape(_pad_last(xp, xp.flip(u, axis=-1), M * T), tuple(u.shape[:-1]) + (M, T))
    S = xp.sum(_mm(xp, ur, V) * W, axis=-2)  # (..., n)
    lamL = xp.astype(xp.exp(logl * L), cdt)
    xf = lamL * x + b * S
    if real_sys and not _iscx(xp, u):
        xf = xp.real(xf)
    return y, xf


def _conv(xp, u, K, L):
    cx = _iscx(xp, u) or _iscx(xp, K)
    if cx:
        dt = _array.complex_dtype(xp, K.dtype)
        u = xp.astype(u, dt) if u.dtype != dt else u
        K = xp.astype(K, dt) if K.dtype != dt else K
    elif u.dtype != K.dtype:
        u, K = xp.astype(u, K.dtype), K
    return _conv_core(xp, u, K, fft_length(2 * L - 1), L, cx)
