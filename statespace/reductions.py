r"""Cauchy and Vandermonde reductions: the inner loops of the S4 and S4D kernels.

Both reductions contract a length-``N`` numerator against an ``N x L`` structured
matrix without ever holding that matrix for the whole sequence:

.. math::

    \text{cauchy:}\quad y_l = \sum_{n} \frac{v_n}{z_l - w_n}, \qquad
    \text{vandermonde:}\quad y_l = \sum_{n} v_n\, e^{x_n l}.

The generic implementation here is written once against the array API and works in
chunks over ``L``, so its memory is ``O(batch * (N + L))`` plus one chunk, never
``O(batch * N * L)``. Fast paths (a fused CPU kernel, a GPU kernel) are chosen per
namespace by the ``_*_impl(xp)`` dispatch functions and must agree with the generic
path; today every namespace gets the generic path.

Broadcasting rule
-----------------
The last axis of every argument is its "core" axis (``N`` for ``v``, ``w`` and ``x``;
``L`` for ``z``); the leading axes are batch axes that broadcast together (NumPy
rules) to the output batch shape. A batch axis along which the poles ``w`` and nodes
``z`` (or the exponents ``x``) both have size 1 while the numerator ``v`` does not is a
*numerator axis*: all numerators along it share one structured matrix. The matrix
(``1 / (z - w)`` or ``exp(x l)``) is then formed once per chunk over the broadcast
batch of the poles/nodes only, and contracted with all numerators by one matrix
product. For example the four Woodbury numerators of S4, ``v`` of shape
``(H, 4, N)`` with ``w`` of shape ``(H, 1, N)`` and ``z`` of shape ``(L,)``, cost one
``(H, N, L)`` reciprocal (in chunks), not four.
"""

from __future__ import annotations

import math
import numbers

from . import _array

__all__ = ["cauchy", "cauchy_conj", "vandermonde", "CHUNK_ELEMENTS"]

#: Default budget, in complex elements, for the structured block(s) formed per chunk
#: (``2**21`` complex128 elements are 32 MiB). ``chunk=`` overrides it.
CHUNK_ELEMENTS = 2**21


# --------------------------------------------------------------------------------------
# shape helpers
# --------------------------------------------------------------------------------------
_broadcast_shapes = _array.broadcast_shapes


def _pad(shape, nd):
    return (1,) * (nd - len(shape)) + tuple(shape)


class _Layout:
    """Split the broadcast batch into shared-matrix axes and numerator axes."""

    def __init__(self, v_batch, mat_batches, names):
        shapes = [tuple(v_batch), *(tuple(s) for s in mat_batches)]
        self.batch = _broadcast_shapes(shapes, names)
        nb = self.nb = len(self.batch)
        vb = self.vb = _pad(v_batch, nb)
        mbs = [_pad(s, nb) for s in mat_batches]
        self.num = tuple(i for i in range(nb) if vb[i] > 1 and all(m[i] == 1 for m in mbs))
        self.keep = tuple(i for i in range(nb) if i not in self.num)
        self.M = math.prod([vb[i] for i in self.num])  # a list: torch.compile traces it
        # batch of the structured matrix == output batch without the numerator axes
        self.mat_batch = tuple(self.batch[i] for i in self.keep)

    def matrix_operand(self, xp, a):
        """``a`` (batch + (core,)) reshaped to the kept batch axes (numerator axes are 1)."""
        shape = _pad(a.shape[:-1], self.nb)
        return xp.reshape(a, tuple(shape[i] for i in self.keep) + (a.shape[-1],))

    def numerators(self, xp, v):
        """``v`` as kept-batch + (M, N): numerator axes moved last and merged."""
        n = v.shape[-1]
        v = xp.reshape(v, self.vb + (n,))
        if self.num:
            v = xp.permute_dims(v, self.keep + self.num + (self.nb,))
        return xp.reshape(v, tuple(self.vb[i] for i in self.keep) + (self.M, n))

    def finish(self, xp, y):
        """Inverse of :meth:`numerators` on the result kept-batch + (M, L)."""
        L = y.shape[-1]
        y = xp.reshape(y, self.mat_batch + tuple(self.batch[i] for i in self.num) + (L,))
        if self.num:
            order = self.keep + self.num
            y = xp.permute_dims(y, tuple(order.index(i) for i in range(self.nb)) + (self.nb,))
        return y


def _chunk_len(chunk, L, block_elems, nblocks):
    """Chunk length: ``chunk`` when given, else from :data:`CHUNK_ELEMENTS`."""
    if chunk is None:
        per_l = max(1, block_elems * nblocks)
        return max(1, min(L, CHUNK_ELEMENTS // per_l))
    return min(int(chunk), L)


def _check_chunk(chunk):
    if chunk is None:
        return None
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral):
        raise TypeError(f"chunk must be an integer or None, got {type(chunk).__name__}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    return int(chunk)


def _prepare(xp, arrays, names):
    """Convert, validate (ndim, dtype, finiteness) and cast to the common complex dtype."""
    out = []
    for a, name in zip(arrays, names, strict=True):
        if a is None:
            raise TypeError(f"{name} must be an array, got None")
        if not _array.is_array_api_obj(a):
            a = _array.asarray(a, xp, name=name)
        if a.ndim < 1:
            raise ValueError(f"{name} must have at least one dimension (its last axis)")
        if a.shape[-1] < 1:
            raise ValueError(f"{name} must have a non-empty last axis, got shape {a.shape}")
        if xp.isdtype(a.dtype, "bool") or not xp.isdtype(a.dtype, "numeric"):
            raise TypeError(f"{name} must have a numeric dtype, got {a.dtype}")
        out.append(a)
    cdt = _array.complex_dtype(xp, _array.result_float_dtype(xp, *out))
    res = []
    for a, name in zip(out, names, strict=True):
        if a.dtype != cdt:
            a = xp.astype(a, cdt)
        _array.check_finite(xp, a, name)
        res.append(a)
    return res


def _nonfinite_error(what):
    """The error for a non-finite result of reduction ``what``."""
    cause = (
        "a node z nearly coincides with a pole w, or the inputs' scale overflows"
        if what.startswith("cauchy")
        else "exp(x * l) or the sum overflows (Re(x) * L too large?)"
    )
    return ValueError(f"{what} produced non-finite values: {cause}")


def _check_result(xp, y, what):
    # value checks (host syncs) are skipped under torch.compile, see _array.check_finite
    if _array.compiling():
        return
    if not bool(xp.all(xp.isfinite(y))):
        raise _nonfinite_error(what)


def _no_coincidence(xp, d):
    if not _array.compiling() and bool(xp.any(d == 0)):
        raise ValueError(
            "a node z coincides with a pole w (z[..., l] == w[..., n]): the Cauchy sum is "
            "infinite there"
        )


# --------------------------------------------------------------------------------------
# generic (array API) implementations
# --------------------------------------------------------------------------------------
def _cauchy_generic(xp, vs, z, w, step, *, conj):
    """Chunked Cauchy contraction. ``vs``: kept + (M, N); ``z``: kept + (L,); ``w``: kept + (N,).

    Returns kept + (M, L). Per chunk of ``step`` nodes the reciprocal block(s)
    ``1 / (z - w)`` of shape kept + (N, step) are formed once and contracted with every
    numerator by ``matmul``.
    """
    L = z.shape[-1]
    wc = xp.expand_dims(w, axis=-1)  # kept + (N, 1)
    if conj:
        wc_bar = xp.conj(wc)
        vs_bar = xp.conj(vs)
    outs = []
    for lo in range(0, L, step):
        zc = xp.expand_dims(z[..., lo : min(L, lo + step)], axis=-2)  # kept + (1, Lc)
        d = zc - wc
        _no_coincidence(xp, d)
        y = xp.matmul(vs, 1.0 / d)
        if conj:
            d = zc - wc_bar
            _no_coincidence(xp, d)
            y = y + xp.matmul(vs_bar, 1.0 / d)
        outs.append(y)
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=-1)


def _vandermonde_generic(xp, vs, x, L, step):
    """Chunked Vandermonde contraction. ``vs``: kept + (M, N); ``x``: kept + (N,).

    Returns kept + (M, L); ``exp(x l)`` is evaluated directly for every ``l`` (no
    repeated powering, whose rounding errors accumulate with ``l``).
    """
    rdt = _array.real_dtype(xp, x.dtype)
    dev = _array.device_of(x)
    xc = xp.expand_dims(x, axis=-1)  # kept + (N, 1)
    outs = []
    for lo in range(0, L, step):
        ell = xp.arange(lo, min(L, lo + step), dtype=rdt, device=dev)
        outs.append(xp.matmul(vs, xp.exp(xc * ell)))
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=-1)


# Dispatch points: fast paths plug in here, keyed on the namespace (and, later, on the
# device and dtype). Contract for an implementation, identical to the generic one:
# inputs are validated, finite, of one complex dtype, with the numerator axes already
# split off (``vs``: kept + (M, N); ``z``/``w``/``x``: broadcastable to kept + (core,));
# it returns kept + (M, L) in the same namespace, device and dtype, and must agree with
# the generic path to the tolerance of tests/test_reductions.py. The routed
# implementation returned by _cauchy_impl/_vandermonde_impl raises ValueError
# (_nonfinite_error) for a non-finite result: the generic path checks its result
# afterwards, the compiled kernels count non-finite values as they store them.
def _cauchy_impl(xp):
    """Implementation of the Cauchy reduction for namespace ``xp``.

    torch: :mod:`statespace._torch_reductions` (a memory-lean autograd Function when a
    gradient is needed, the generic path otherwise); every other namespace: generic.
    Either is wrapped by the compiled fast paths (:func:`_fast_route`).
    """
    impl = _cauchy_generic
    if _array.is_torch(xp):
        from ._torch_reductions import cauchy_impl

        impl = cauchy_impl
    return _fast_route(xp, "cauchy", impl)


def _vandermonde_impl(xp):
    """Implementation of the Vandermonde reduction for namespace ``xp`` (see _cauchy_impl)."""
    impl = _vandermonde_generic
    if _array.is_torch(xp):
        from ._torch_reductions import vandermonde_impl

        impl = vandermonde_impl
    return _fast_route(xp, "vandermonde", impl)


def _fast_route(xp, kind, fallback):
    """``fallback`` wrapped by the compiled fast paths that may apply to ``xp``.

    NumPy and CPU torch tensors without a pending gradient: the fused numba kernels of
    :mod:`statespace._fast_cpu` (when numba is installed); CuPy arrays and CUDA torch
    tensors without a pending gradient: the CuPy kernels of
    :mod:`statespace._fast_cupy`. The wrappers decide per call (device, gradient,
    dtype, size) and call ``fallback`` for everything else. While ``torch.compile``
    traces the call, ``fallback`` is returned as is: the wrappers inspect the arrays
    on the host, which the compiler cannot trace.
    """
    if _array.compiling():
        return fallback  # value checks are skipped while tracing
    fallback = _checked(kind, fallback)
    if _array.is_numpy(xp) or _array.is_torch(xp):
        from . import _fast_cpu

        fallback = _try_first(_fast_cpu, kind, fallback)
    if _array.is_cupy(xp) or _array.is_torch(xp):
        from . import _fast_cupy

        fallback = _try_first(_fast_cupy, kind, fallback)
    return fallback


def _checked(kind, impl):
    """``impl`` followed by the finiteness check of its result."""
    if kind == "cauchy":

        def cauchy_checked(xp, vs, z, w, step, *, conj):
            y = impl(xp, vs, z, w, step, conj=conj)
            _check_result(xp, y, "cauchy_conj" if conj else "cauchy")
            return y

        return cauchy_checked

    def vandermonde_checked(xp, vs, x, L, step):
        y = impl(xp, vs, x, L, step)
        _check_result(xp, y, "vandermonde")
        return y

    return vandermonde_checked


def _try_first(fast, kind, fallback):
    """``fallback``'s contract, running ``fast.try_<kind>`` first (``None``: not taken).

    ``fast`` is :mod:`statespace._fast_cpu` or :mod:`statespace._fast_cupy`; each
    ``try_*`` decides per call (device, gradient, dtype, size) whether it applies, and
    raises for a non-finite result itself.
    """
    if not fast.available():
        return fallback
    if kind == "cauchy":

        def cauchy_route(xp, vs, z, w, step, *, conj):
            y = fast.try_cauchy(vs, z, w, conj=conj)
            return fallback(xp, vs, z, w, step, conj=conj) if y is None else y

        return cauchy_route

    def vandermonde_route(xp, vs, x, L, step):
        y = fast.try_vandermonde(vs, x, L)
        return fallback(xp, vs, x, L, step) if y is None else y

    return vandermonde_route


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------
def _cauchy_common(v, z, w, chunk, conj):
    xp = _array.namespace(v, z, w)
    chunk = _check_chunk(chunk)
    v, z, w = _prepare(xp, (v, z, w), ("v", "z", "w"))
    if v.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"v and w must have the same last axis N, got v.shape={tuple(v.shape)} and "
            f"w.shape={tuple(w.shape)}"
        )
    lay = _Layout(v.shape[:-1], (z.shape[:-1], w.shape[:-1]), ("v", "z", "w"))
    vs = lay.numerators(xp, v)
    zk = lay.matrix_operand(xp, z)
    wk = lay.matrix_operand(xp, w)
    L, N = z.shape[-1], w.shape[-1]
    step = _chunk_len(chunk, L, math.prod(lay.mat_batch) * N, 2 if conj else 1)
    y = _cauchy_impl(xp)(xp, vs, zk, wk, step, conj=conj)  # checked: finite
    return lay.finish(xp, y)


def cauchy(v, z, w, *, chunk=None):
    r"""Cauchy matrix-vector product :math:`y_l = \sum_n v_n / (z_l - w_n)`.

    Parameters
    ----------
    v : array, shape ``batch_v + (N,)``
        Numerators.
    z : array, shape ``batch_z + (L,)``
        Nodes (evaluation points).
    w : array, shape ``batch_w + (N,)``
        Poles. No node may coincide with a pole.
    chunk : int, optional
        Number of nodes processed per step. By default it is chosen so that one
        step's reciprocal block holds at most :data:`CHUNK_ELEMENTS` complex numbers.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        ``batch`` is the broadcast of ``batch_v``, ``batch_z`` and ``batch_w``. The
        dtype is complex64 when every input is single precision (float32/complex64),
        else complex128; the namespace and device are those of the inputs.

    Raises
    ------
    ValueError
        If ``v`` and ``w`` disagree in ``N``, the batch shapes do not broadcast, an
        input contains NaN or infinity, or a node coincides with a pole.
    TypeError
        If an input is not a numeric array or ``chunk`` is not an integer.

    Notes
    -----
    .. math::

        y_{\ldots, l} = \sum_{n=0}^{N-1} \frac{v_{\ldots, n}}{z_{\ldots, l} - w_{\ldots, n}},
        \qquad l = 0, \ldots, L-1.

    The work is ``O(batch * N * L)`` and the memory ``O(batch * (N + L))`` plus one
    chunk: the nodes are processed ``chunk`` at a time. Batch axes along which ``z``
    and ``w`` have size 1 but ``v`` does not are *numerator axes* (see the module
    docstring): the block :math:`1 / (z_l - w_n)` is formed once per chunk and
    contracted with all those numerators by a matrix product. Under torch autograd the
    per-chunk blocks are saved for the backward pass (``O(batch * N * L)`` memory);
    training code uses the fused reductions for that.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> v = np.array([1.0, 2.0]); w = np.array([-1.0, -2.0]); z = np.array([0.0, 1j])
    >>> y = ss.cauchy(v, z, w)
    >>> complex(y[0])  # 1/(0+1) + 2/(0+2)
    (2+0j)
    >>> bool(np.allclose(y, (v / (z[:, None] - w)).sum(-1)))
    True
    """
    return _cauchy_common(v, z, w, chunk, conj=False)


def cauchy_conj(v, z, w, *, chunk=None):
    r"""Conjugate-symmetric Cauchy product for halved systems.

    :math:`y_l = \sum_n v_n / (z_l - w_n) + \bar v_n / (z_l - \bar w_n)`: each of the
    ``N`` stored modes stands for itself and its complex conjugate, as in S4.

    Parameters
    ----------
    v : array, shape ``batch_v + (N,)``
        Numerators of the stored half of the conjugate pairs.
    z : array, shape ``batch_z + (L,)``
        Nodes.
    w : array, shape ``batch_w + (N,)``
        Poles of the stored half; their conjugates are the other half.
    chunk : int, optional
        Number of nodes per step; by default both reciprocal blocks of one step hold at
        most :data:`CHUNK_ELEMENTS` complex numbers together.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        Complex (complex64 for single-precision inputs, else complex128); broadcasting
        as in :func:`cauchy`.

    Raises
    ------
    ValueError
        As :func:`cauchy` (a node coinciding with ``w`` or with ``conj(w)`` included).
    TypeError
        As :func:`cauchy`.

    Notes
    -----
    .. math::

        y_{\ldots, l} = \sum_{n=0}^{N-1} \left(
            \frac{v_{\ldots, n}}{z_{\ldots, l} - w_{\ldots, n}}
          + \frac{\overline{v_{\ldots, n}}}{z_{\ldots, l} - \overline{w_{\ldots, n}}}
        \right).

    Both reciprocal blocks are formed once per chunk and shared by every numerator
    along the numerator axes (same broadcasting rule as :func:`cauchy`). For nodes
    with :math:`z_l = \bar z_{l'}` the result satisfies :math:`y_{l'} = \bar y_l`; for
    real ``z`` it is real up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> v = np.array([1 + 1j]); w = np.array([-0.5 + 2j]); z = np.array([0.0, 1.0])
    >>> y = ss.cauchy_conj(v, z, w)
    >>> full = ss.cauchy(np.concatenate([v, v.conj()]), z, np.concatenate([w, w.conj()]))
    >>> bool(np.allclose(y, full)), round(float(abs(y.imag).max()), 12)
    (True, 0.0)
    """
    return _cauchy_common(v, z, w, chunk, conj=True)


def vandermonde(v, x, L, *, chunk=None):
    r"""Vandermonde matrix-vector product :math:`y_l = \sum_n v_n e^{x_n l}`.

    Parameters
    ----------
    v : array, shape ``batch_v + (N,)``
        Coefficients.
    x : array, shape ``batch_x + (N,)``
        Exponents (``x = log`` of the Vandermonde nodes, e.g. ``dt * Lambda`` for a
        zero-order-hold S4D kernel).
    L : int
        Output length (``>= 1``).
    chunk : int, optional
        Number of output positions per step; by default one step's block
        ``exp(x l)`` holds at most :data:`CHUNK_ELEMENTS` complex numbers.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        ``batch`` is the broadcast of ``batch_v`` and ``batch_x``. Always complex
        (complex64 for single-precision inputs, else complex128), also for real inputs.

    Raises
    ------
    ValueError
        If ``v`` and ``x`` disagree in ``N``, the batch shapes do not broadcast, an
        input contains NaN or infinity, ``L < 1``, or the result overflows.
    TypeError
        If an input is not a numeric array or ``L``/``chunk`` is not an integer.

    Notes
    -----
    .. math::

        y_{\ldots, l} = \sum_{n=0}^{N-1} v_{\ldots, n}\, e^{x_{\ldots, n} l},
        \qquad l = 0, \ldots, L-1.

    Every power is evaluated as ``exp(x * l)`` directly, so the error of term ``l`` is
    that of one rounded product and one ``exp``, about ``eps * (1 + |x| l)``
    relative, rather than the ``l``-fold accumulation of repeated multiplication.
    Numerator axes (``x`` of size 1, ``v`` larger) share one ``exp(x l)`` block per
    chunk, as in :func:`cauchy`.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> y = ss.vandermonde(np.array([1.0, 2.0]), np.array([0.0, np.log(0.5)]), 4)
    >>> [round(float(t), 6) for t in y.real]  # 1 + 2 * 0.5**l
    [3.0, 2.0, 1.5, 1.25]
    """
    xp = _array.namespace(v, x)
    L = _array.check_length(L)
    chunk = _check_chunk(chunk)
    v, x = _prepare(xp, (v, x), ("v", "x"))
    if v.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"v and x must have the same last axis N, got v.shape={tuple(v.shape)} and "
            f"x.shape={tuple(x.shape)}"
        )
    lay = _Layout(v.shape[:-1], (x.shape[:-1],), ("v", "x"))
    vs = lay.numerators(xp, v)
    xk = lay.matrix_operand(xp, x)
    step = _chunk_len(chunk, L, math.prod(lay.mat_batch) * x.shape[-1], 1)
    y = _vandermonde_impl(xp)(xp, vs, xk, L, step)  # checked: finite
    return lay.finish(xp, y)
