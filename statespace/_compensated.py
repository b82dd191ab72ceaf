r"""Cauchy sums in single precision with compensated node-pole differences.

In single precision the S4 kernel's error is dominated not by the sums but by the
rounding of the nodes :math:`z_l` and poles :math:`w_n` to complex64 before their
differences are formed: discrete poles of long-memory modes lie within
:math:`10^{-4}..10^{-8}` of the unit circle, where the nodes are, so a rounding of
:math:`6\cdot 10^{-8}` in either is a large relative error of :math:`z_l - w_n`
(``docs/float32.md`` has the numbers). Here both are carried as unevaluated sums of
two complex64 numbers, ``z = z_hi + z_lo`` and ``w = w_hi + w_lo`` (built once from
complex128 values, ``O(N + L)`` setup work), and the difference is formed as

.. math:: d = (z_{hi} - w_{hi}) + (z_{lo} - w_{lo}),

where the first difference is exact whenever the two are close (Sterbenz lemma), so
:math:`d` keeps full single-precision relative accuracy however close the node is to
the pole. Everything of size ``O(N L)`` stays complex64.

:func:`cauchy_compensated` is what :func:`statespace.kernels.kernel_dplr` calls for
single-precision inputs. It splits the nodes and poles and hands them to the router
(:mod:`statespace._router`), which runs the fused kernels of
:mod:`statespace._fast_cpu` / :mod:`statespace._fast_cupy` when they apply and the
array-API implementation (:mod:`statespace._reductions_generic`) otherwise. Under
torch autograd the router hands both parts to the torch adapter's memory-lean
autograd Function, whose forward and backward passes form the same compensated
differences (gradients flow to the high parts).
"""

from __future__ import annotations

import math

from . import _array, _router
from . import reductions as _red
from ._reduction_contract import Layout, chunk_len, split

__all__ = ["cauchy_compensated", "split"]


def cauchy_compensated(v, z, w, *, conj=False):
    r"""Cauchy sum in the precision of ``v`` with nodes and poles given more precisely.

    Parameters
    ----------
    v : array, shape ``batch_v + (N,)``
        Numerators, complex64 or complex128: the working precision.
    z : array, shape ``batch_z + (L,)``
        Nodes, complex128 (or the dtype of ``v``).
    w : array, shape ``batch_w + (N,)``
        Poles, complex128 (or the dtype of ``v``).
    conj : bool, default False
        ``True``: the conjugate-symmetric sum of :func:`statespace.cauchy_conj`.

    Returns
    -------
    y : array, shape ``batch + (L,)``
        In the dtype of ``v``; the sums of :func:`statespace.cauchy` (``conj=False``)
        or :func:`statespace.cauchy_conj` with every difference ``z_l - w_n`` accurate
        to the working precision *relative to the difference itself*.

    Notes
    -----
    With ``v`` complex128, or ``z`` and ``w`` already in the working precision, this is
    exactly :func:`statespace.cauchy` / :func:`statespace.cauchy_conj`. Otherwise
    :math:`z = z_{hi} + z_{lo}`, :math:`w = w_{hi} + w_{lo}` in the working dtype and

    .. math:: y_l = \sum_n \frac{v_n}{(z_{hi,l} - w_{hi,n}) + (z_{lo,l} - w_{lo,n})}
              \;(+ \text{the conjugate-pole terms}).

    The extra cost is two additions per difference in the fused kernels.

    Examples
    --------
    >>> import numpy as np
    >>> from statespace._compensated import cauchy_compensated
    >>> w = np.array([np.exp(1e-4j) * (1 - 1e-7)])          # a pole near the node 1
    >>> z = np.array([1.0 + 0j])
    >>> v = np.ones(1, dtype=np.complex64)
    >>> exact = 1 / (z - w)
    >>> y = cauchy_compensated(v, z, w)
    >>> bool(abs(y[0] - exact[0]) / abs(exact[0]) < 1e-6)
    True
    """
    xp = _array.namespace(v, z, w)
    cdt = v.dtype
    if cdt == xp.complex128 or (z.dtype == cdt and w.dtype == cdt):
        return (_red.cauchy_conj if conj else _red.cauchy)(v, z, w)
    z_hi, z_lo = split(xp, z, cdt)
    w_hi, w_lo = split(xp, w, cdt)
    if v.shape[-1] != w.shape[-1]:
        raise ValueError(f"v and w must have the same last axis N, got {v.shape}, {w.shape}")
    lay = Layout(v.shape[:-1], (z.shape[:-1], w.shape[:-1]), ("v", "z", "w"))
    vs = lay.numerators(xp, v)
    zk, zlk = (lay.matrix_operand(xp, a) for a in (z_hi, z_lo))
    wk, wlk = (lay.matrix_operand(xp, a) for a in (w_hi, w_lo))
    L, N = z.shape[-1], w.shape[-1]
    step = chunk_len(None, L, math.prod(lay.mat_batch) * N, 2 if conj else 1)
    y = _router.cauchy_compensated(xp, vs, zk, zlk, wk, wlk, step, conj=conj)  # finite
    return lay.finish(xp, y)
