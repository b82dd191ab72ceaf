r"""What the implementations of the Cauchy and Vandermonde reductions share.

:mod:`statespace.reductions` validates the inputs and hands them to
:mod:`statespace._router`, which picks one implementation per call: the array-API
one (:mod:`statespace._reductions_generic`), the numba CPU kernels
(:mod:`statespace._fast_cpu`), the CuPy kernels (:mod:`statespace._fast_cupy`) or the
torch autograd Functions (:mod:`statespace._torch_reductions`). This module is what
they all depend on and it depends on none of them (only on :mod:`statespace._array`):

* the calling contract (below), the operand layout (:class:`Layout`) and the chunk
  length (:data:`CHUNK_ELEMENTS`, :func:`chunk_len`);
* input validation (:func:`check_chunk`, :func:`prepare`, :func:`cauchy_operands`,
  :func:`vandermonde_operands`) and the result checks (:func:`check_result`,
  :func:`no_coincidence`, :func:`nonfinite_error`, :func:`task_chunks`);
* the split of a value into a high and a low part for compensated differences
  (:func:`split`);
* the state of the fast-path switch (:data:`fast_mode`, :func:`set_fast_mode`), set by
  :func:`statespace.reductions.fast_paths` and, at import, by the environment variable
  ``STATESPACE_FAST``.

Calling contract of an implementation
-------------------------------------
Inputs are validated, finite, of one complex dtype (complex64 or complex128), with the
numerator axes already split off: ``vs`` is ``kept + (M, N)``, and ``z``, ``w``, ``x``
(and the low parts ``z_lo``, ``w_lo`` of compensated nodes and poles) are ``kept' +
(core,)`` with ``kept'`` broadcasting to ``kept``. An implementation returns ``kept +
(M, L)`` in the namespace, device and dtype of its inputs, agrees with the generic one
to the tolerance of ``tests/test_reductions.py``, and a result that the router returns
has been checked to be finite (:func:`nonfinite_error` otherwise).

A compiled kernel (``try_cauchy``/``try_vandermonde`` of :mod:`statespace._fast_cpu`
and :mod:`statespace._fast_cupy`) returns None when it does not apply, else ``(y,
bad)``: ``bad`` lists the chunks ``(index, l0, l1)`` (a batch index of ``y`` and the
positions ``l0 <= l < l1``, see :func:`task_chunks`) where one of its sums came out
non-finite. The router recomputes those chunks with the generic implementation, so a
kernel's narrower range (an overflow or underflow of an intermediate that the generic
formula avoids) never turns into an error; only a non-finite generic result raises.
"""

from __future__ import annotations

import math
import numbers
import os

from . import _array

__all__ = [
    "CHUNK_ELEMENTS",
    "MODES",
    "fast_mode",
    "set_fast_mode",
    "Layout",
    "chunk_len",
    "check_chunk",
    "prepare",
    "cauchy_operands",
    "vandermonde_operands",
    "nonfinite_error",
    "check_result",
    "no_coincidence",
    "task_chunks",
    "split",
]

#: Default budget, in complex elements, for the structured block(s) formed per chunk
#: (``2**21`` complex128 elements are 32 MiB). ``chunk=`` overrides it.
CHUNK_ELEMENTS = 2**21


# --------------------------------------------------------------------------------------
# the fast-path switch
# --------------------------------------------------------------------------------------
#: Modes of the switch (see :func:`statespace.reductions.fast_paths`).
MODES = ("auto", "generic", "custom")

# accepted spellings of STATESPACE_FAST (lower case, surrounding blanks ignored)
_ENV_VALUES = {
    "": "auto", "auto": "auto", "1": "auto", "true": "auto", "yes": "auto", "on": "auto",
    "generic": "generic", "0": "generic", "false": "generic", "no": "generic",
    "off": "generic",
    "custom": "custom",
}


def check_mode(mode):
    """``mode`` if it is one of :data:`MODES`, else ``ValueError``/``TypeError``."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, one of {MODES}, got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def _mode_from_env(value):
    """The mode named by the environment variable ``STATESPACE_FAST`` (unset: auto)."""
    if value is None:
        return "auto"
    mode = _ENV_VALUES.get(value.strip().lower())
    if mode is None:
        raise ValueError(
            f"STATESPACE_FAST must be one of {sorted(set(_ENV_VALUES) - {''})} (or "
            f"unset), got {value!r}"
        )
    return mode


#: The current mode, one of :data:`MODES`. A plain module global (not a ContextVar),
#: so that ``torch.compile`` guards on it; read it as ``_reduction_contract.fast_mode``
#: at call time, change it with :func:`set_fast_mode`.
fast_mode = _mode_from_env(os.environ.get("STATESPACE_FAST"))


def set_fast_mode(mode):
    """Set :data:`fast_mode` to ``mode`` (one of :data:`MODES`); return the old mode."""
    global fast_mode
    old, fast_mode = fast_mode, check_mode(mode)
    return old


# --------------------------------------------------------------------------------------
# operand layout and chunking
# --------------------------------------------------------------------------------------
def _pad(shape, nd):
    return (1,) * (nd - len(shape)) + tuple(shape)


class Layout:
    """Split the broadcast batch into shared-matrix axes and numerator axes.

    A batch axis along which every matrix operand (nodes and poles, or exponents) has
    size 1 while the numerators do not is a numerator axis: the numerators along it
    share one structured matrix and are contracted with it by one matrix product.
    """

    def __init__(self, v_batch, mat_batches, names):
        shapes = [tuple(v_batch), *(tuple(s) for s in mat_batches)]
        self.batch = _array.broadcast_shapes(shapes, names)
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


def chunk_len(chunk, L, block_elems, nblocks):
    """Chunk length: ``chunk`` when given, else from :data:`CHUNK_ELEMENTS`."""
    if chunk is None:
        per_l = max(1, block_elems * nblocks)
        return max(1, min(L, CHUNK_ELEMENTS // per_l))
    return min(int(chunk), L)


# --------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------
def check_chunk(chunk):
    """``chunk`` as an int (or None); ``TypeError``/``ValueError`` naming it otherwise."""
    if chunk is None:
        return None
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral):
        raise TypeError(f"chunk must be an integer or None, got {type(chunk).__name__}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    return int(chunk)


def prepare(xp, arrays, names):
    """Convert, validate (ndim, dtype, finiteness) and cast to the common complex dtype."""
    out = []
    for a, name in zip(arrays, names, strict=True):
        a = _array.check_array(xp, a, name)  # None, masked, non-numeric: TypeError
        if a.ndim < 1:
            raise ValueError(f"{name} must have at least one dimension (its last axis)")
        if a.shape[-1] < 1:
            raise ValueError(f"{name} must have a non-empty last axis, got shape {a.shape}")
        out.append(a)
    cdt = _array.complex_dtype(xp, _array.result_float_dtype(xp, *out))
    res = []
    for a, name in zip(out, names, strict=True):
        if a.dtype != cdt:
            a = xp.astype(a, cdt)
        _array.check_finite(xp, a, name)
        res.append(a)
    return res


def cauchy_operands(v, z, w, chunk, conj):
    """Validated operands of a Cauchy reduction: ``(xp, layout, vs, z, w, step)``.

    ``vs``, ``z`` and ``w`` follow the calling contract (module notes); ``step`` is
    the number of nodes per chunk; ``layout.finish(xp, y)`` gives the public result.
    """
    xp = _array.namespace(v, z, w, names=["v", "z", "w"])
    chunk = check_chunk(chunk)
    v, z, w = prepare(xp, (v, z, w), ("v", "z", "w"))
    if v.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"v and w must have the same last axis N, got v.shape={tuple(v.shape)} and "
            f"w.shape={tuple(w.shape)}"
        )
    lay = Layout(v.shape[:-1], (z.shape[:-1], w.shape[:-1]), ("v", "z", "w"))
    vs = lay.numerators(xp, v)
    zk = lay.matrix_operand(xp, z)
    wk = lay.matrix_operand(xp, w)
    L, N = z.shape[-1], w.shape[-1]
    step = chunk_len(chunk, L, math.prod(lay.mat_batch) * N, 2 if conj else 1)
    return xp, lay, vs, zk, wk, step


def vandermonde_operands(v, x, L, chunk):
    """Validated operands of a Vandermonde reduction: ``(xp, layout, vs, x, L, step)``."""
    xp = _array.namespace(v, x, names=["v", "x"])
    L = _array.check_length(L)
    chunk = check_chunk(chunk)
    v, x = prepare(xp, (v, x), ("v", "x"))
    if v.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"v and x must have the same last axis N, got v.shape={tuple(v.shape)} and "
            f"x.shape={tuple(x.shape)}"
        )
    lay = Layout(v.shape[:-1], (x.shape[:-1],), ("v", "x"))
    vs = lay.numerators(xp, v)
    xk = lay.matrix_operand(xp, x)
    step = chunk_len(chunk, L, math.prod(lay.mat_batch) * x.shape[-1], 1)
    return xp, lay, vs, xk, L, step


# --------------------------------------------------------------------------------------
# result checks and errors
# --------------------------------------------------------------------------------------
def nonfinite_error(what):
    """The error for a non-finite result of reduction ``what``."""
    cause = (
        "a node z nearly coincides with a pole w, or the inputs' scale overflows"
        if what.startswith("cauchy")
        else "exp(x * l) or the sum overflows (Re(x) * L too large?)"
    )
    return ValueError(f"{what} produced non-finite values: {cause}")


def check_result(xp, y, what):
    """Raise :func:`nonfinite_error` if ``y`` has a non-finite entry.

    Skipped while ``torch.compile`` traces the caller (a host synchronisation, see
    :func:`statespace._array.check_finite`).
    """
    if _array.compiling():
        return
    if _array.flagged(xp.logical_not(xp.all(xp.isfinite(y)))):
        raise nonfinite_error(what)


def no_coincidence(xp, d):
    """Raise ``ValueError`` if a node-pole difference ``d`` is exactly zero."""
    if not _array.compiling() and _array.flagged(xp.any(d == 0)):
        raise ValueError(
            "a node z coincides with a pole w (z[..., l] == w[..., n]): the Cauchy sum is "
            "infinite there"
        )


def task_chunks(tasks, batch, L, lc):
    """The chunks ``(index, l0, l1)`` of the flat task numbers ``tasks``.

    A kernel that splits each of the ``prod(batch)`` rows of its result into
    ``ceil(L / lc)`` chunks of ``lc`` positions numbers them ``t = row * nchunk + c``
    (rows in C order); task ``t`` covers ``y[index][..., l0:l1]`` with ``index`` the
    batch index of the row, ``l0 = c * lc`` and ``l1 = min(L, l0 + lc)``.
    """
    nchunk = -(-L // lc)
    out = []
    for t in tasks:
        row, c = divmod(int(t), nchunk)
        index = []
        for n in reversed(batch):
            row, i = divmod(row, n)
            index.append(i)
        out.append((tuple(reversed(index)), c * lc, min(L, (c + 1) * lc)))
    return out


# --------------------------------------------------------------------------------------
# compensated nodes and poles
# --------------------------------------------------------------------------------------
def split(xp, a, dtype):
    """``(hi, lo)`` in complex ``dtype`` with ``hi + lo == a`` to about ``eps(dtype)**2``."""
    hi = xp.astype(a, dtype)
    lo = xp.astype(a - xp.astype(hi, a.dtype), dtype)
    return hi, lo
