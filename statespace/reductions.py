r"""Cauchy and Vandermonde reductions: the inner loops of the S4 and S4D kernels.

Both reductions contract a length-``N`` numerator against an ``N x L`` structured
matrix without ever holding that matrix for the whole sequence:

.. math::

    \text{cauchy:}\quad y_l = \sum_{n} \frac{v_n}{z_l - w_n}, \qquad
    \text{vandermonde:}\quad y_l = \sum_{n} v_n\, e^{x_n l}.

The functions here validate their inputs and hand them to one router
(:mod:`statespace._router`), which picks an implementation per call; all of them
compute the same sums and agree with the generic one to rounding (the tests check it).

Dispatch
--------
In the default mode (``"auto"``, see :func:`fast_paths`), in this order:

* **torch tensors that autograd records** (one of them ``requires_grad`` while grad
  mode is on): the memory-lean :class:`torch.autograd.Function`\ s of
  :mod:`statespace._torch_reductions`, on any device. They save only their inputs
  and compute the backward pass by the same chunked reductions, so training memory
  stays ``O(batch * (N + L))``. The Vandermonde Function runs its forward and
  backward passes on the compiled kernels below when one applies (the backward sums
  share each power ``exp(x l)`` across numerators and across both sums), and on
  chunked torch code otherwise.
* **NumPy arrays and CPU torch tensors**: the fused numba kernels of
  :mod:`statespace._fast_cpu` when numba is installed (``pip install
  statespace[fast]``), the work ``batch * M * N * L`` is at least ``2**14`` and the
  magnitudes keep ``|z - w|^2`` in range; torch tensors are shared with NumPy without
  a copy.
* **CuPy arrays and CUDA torch tensors**: the CuPy ``RawKernel``\ s of
  :mod:`statespace._fast_cupy` when CuPy is installed; torch tensors are shared
  through DLPack and the kernels run on torch's current stream.
* **everything else** (array-api-strict, small or out-of-range inputs, a missing
  optional dependency): the generic implementation of
  :mod:`statespace._reductions_generic`, written once against the array API. It works
  in chunks over ``L``, so its memory is ``O(batch * (N + L))`` plus one chunk, never
  ``O(batch * N * L)`` (unless torch autograd saves the chunks for the backward
  pass, which the ``"generic"`` mode allows).

While ``torch.compile`` traces a call no compiled kernel is considered (choosing one
inspects the arrays on the host): torch tensors go through the autograd Functions
when autograd records them, which the compiler traces, and the generic path
otherwise; the finiteness checks are skipped.

Fast-path switch
----------------
:func:`fast_paths` sets the mode, for the program or inside a ``with`` block:
``"auto"`` as above; ``"generic"`` sends everything to the generic path (no compiled
kernel, no custom autograd Function), which benchmarks and memory comparisons use;
``"custom"`` sends every torch tensor through the autograd Functions, with or without
a gradient (other arrays as in ``"auto"``). The environment variable
``STATESPACE_FAST``, read once at import, sets the initial mode: unset, ``auto``,
``1``, ``true``, ``yes`` or ``on`` give ``"auto"``; ``generic``, ``0``, ``false``,
``no`` or ``off`` give ``"generic"``; ``custom`` gives ``"custom"`` (case is ignored;
any other value raises ``ValueError`` at import).

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

from . import _reduction_contract as _contract
from . import _router
from ._reduction_contract import CHUNK_ELEMENTS

__all__ = ["cauchy", "cauchy_conj", "vandermonde", "fast_paths", "CHUNK_ELEMENTS"]


class _FastPaths:
    """Returned by :func:`fast_paths`: the mode is set; leaving a ``with`` block
    restores :attr:`previous`."""

    def __init__(self, mode):
        self.previous = _contract.set_fast_mode(mode)
        self.mode = mode

    def __enter__(self):
        return self.previous

    def __exit__(self, *exc):
        _contract.set_fast_mode(self.previous)
        return False

    def __repr__(self):
        return f"fast_paths({self.mode!r})"


def fast_paths(mode):
    r"""Choose which implementations the reductions may use.

    Sets the mode for the rest of the program, or, used as a context manager, for the
    ``with`` block only. The environment variable ``STATESPACE_FAST`` sets the mode at
    import (see the module notes for its values).

    Parameters
    ----------
    mode : {"auto", "generic", "custom"}
        ``"auto"`` (the default): the compiled kernels where they apply (NumPy and CPU
        torch tensors with numba installed, CuPy arrays and CUDA torch tensors with
        CuPy installed; no pending gradient, large enough inputs), the memory-lean
        autograd Functions for torch tensors that autograd records, the generic
        array-API path otherwise. ``"generic"``: the generic array-API path for
        everything (no compiled kernel, no custom autograd Function; torch autograd
        then saves the ``O(N L)`` blocks). ``"custom"``: every torch tensor through
        the autograd Functions, with or without a gradient; other arrays as in
        ``"auto"``.

    Returns
    -------
    context manager
        Already in effect when returned. Entering it gives the previous mode (also its
        ``previous`` attribute); leaving it restores the previous mode.

    Raises
    ------
    ValueError
        If ``mode`` is not one of the three names.
    TypeError
        If ``mode`` is not a string.

    Notes
    -----
    Every mode computes the same sums,

    .. math:: y_l = \sum_n \frac{v_n}{z_l - w_n}, \qquad y_l = \sum_n v_n e^{x_n l},

    and the implementations agree to rounding (the tests check it); the mode changes
    speed and memory only. The mode is a plain module global read at each call, so
    ``torch.compile`` guards on it (a change recompiles), and it is shared by all
    threads.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> from statespace.reductions import fast_paths
    >>> v = np.ones((8, 64)); w = -np.linspace(0.5, 1.0, 64); z = 1j * np.arange(512.0)
    >>> with fast_paths("generic") as previous:
    ...     y_generic = ss.cauchy(v, z, w)
    >>> previous
    'auto'
    >>> y = ss.cauchy(v, z, w)   # "auto" again: the compiled kernel if numba is installed
    >>> bool(np.allclose(y, y_generic, rtol=1e-13, atol=0))
    True
    """
    return _FastPaths(mode)


def _cauchy_common(v, z, w, chunk, conj):
    xp, lay, vs, zk, wk, step = _contract.cauchy_operands(v, z, w, chunk, conj)
    y = _router.cauchy(xp, vs, zk, wk, step, conj=conj)  # finite
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
    sum runs as a custom autograd Function that saves only its inputs (see the module
    notes); in the ``"generic"`` mode of :func:`fast_paths` autograd saves the
    per-chunk blocks instead (``O(batch * N * L)`` memory).

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
    xp, lay, vs, xk, L, step = _contract.vandermonde_operands(v, x, L, chunk)
    y = _router.vandermonde(xp, vs, xk, L, step)  # finite
    return lay.finish(xp, y)
