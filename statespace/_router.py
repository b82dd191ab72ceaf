"""Per-call choice of the implementation of a Cauchy or Vandermonde reduction.

The one place that decides which implementation runs (the table is in the docstring of
:mod:`statespace.reductions`). Its callers, :mod:`statespace.reductions` and
:mod:`statespace._compensated`, validate the inputs and bring them into the calling
contract of :mod:`statespace._reduction_contract`; the implementations it chooses
from import nothing but that contract, never this module or each other:

* torch tensors that autograd records (or every torch tensor in the ``"custom"``
  mode): the autograd Functions of :mod:`statespace._torch_reductions`; the
  Vandermonde Function runs its forward and backward on the compiled kernels below
  when one applies (the router hands it the modules, :func:`_function_kernels`);
* otherwise, when a compiled kernel applies (namespace, device, no pending gradient,
  dtype, size and magnitude, decided by its ``try_*`` function, which returns None
  when it does not): :mod:`statespace._fast_cpu` for NumPy arrays and CPU torch
  tensors, :mod:`statespace._fast_cupy` for CuPy arrays and CUDA torch tensors;
* everything else: the array-API implementations of
  :mod:`statespace._reductions_generic`.

The mode is :data:`statespace._reduction_contract.fast_mode`, read at every call (a
module global, so ``torch.compile`` guards on it). While ``torch.compile`` traces a
call no compiled kernel is tried: choosing one inspects the arrays on the host. A
result returned from here is finite (``ValueError`` otherwise; the check is skipped
while tracing).

A compiled kernel never fails where the generic path succeeds: it reports the chunks
of its result (batch row, range of positions) that hold a non-finite sum, and those
chunks, and only those, are recomputed here by the generic implementation on the
same operands (``_redo_cauchy``, ``_redo_vandermonde``). The kernels' formulas have a
narrower range than the generic ones (``1 / d`` through ``|d|^2``, ``exp(x l)`` as a
product of two exponentials), so such an overflow gets the generic path's finite
value; ``ValueError`` is raised only when the generic result is non-finite too. When
no chunk is bad this costs nothing: the kernels count non-finite sums as they store
them.
"""

from __future__ import annotations

from . import _array
from . import _reduction_contract as _contract
from . import _reductions_generic as _generic

__all__ = ["cauchy", "cauchy_compensated", "cauchy_woodbury1", "vandermonde"]


def _needs_grad(arrays):
    """Whether torch autograd records a call on the torch tensors ``arrays``."""
    import torch

    return torch.is_grad_enabled() and any(a.requires_grad for a in arrays)


def _use_function(xp, mode, arrays):
    """Whether the call goes through the autograd Functions of ``_torch_reductions``."""
    if mode == "generic" or not _array.is_torch(xp):
        return False
    return mode == "custom" or _needs_grad(arrays)


def _compiled_kernels(xp, mode):
    """The compiled-kernel modules that may take a call in namespace ``xp``."""
    if mode == "generic" or (mode == "custom" and _array.is_torch(xp)) or _array.compiling():
        return ()
    mods = []
    if _array.is_numpy(xp) or _array.is_torch(xp):
        from . import _fast_cpu

        mods.append(_fast_cpu)
    if _array.is_cupy(xp) or _array.is_torch(xp):
        from . import _fast_cupy

        mods.append(_fast_cupy)
    return [m for m in mods if m.available()]


def _function_kernels(xp):
    """The compiled-kernel modules the autograd Functions may run on (forward and
    backward): those of the namespace, in the "auto" and "custom" modes, never while
    ``torch.compile`` traces (the Functions then trace their torch code)."""
    if _contract.fast_mode == "generic" or _array.compiling():
        return ()
    return _compiled_kernels(xp, "auto")


def _row(a, index, core):
    """Batch row ``index`` of ``a``, whose last ``core`` axes are not batch axes and whose
    batch axes broadcast against ``index`` (aligned at the right)."""
    nb = a.ndim - core
    sub = index[len(index) - nb:] if nb else ()
    return a[tuple(i if n > 1 else 0 for i, n in zip(sub, a.shape[:nb], strict=True))
             + (...,)]


def _put(xp, y, index, l0, l1, part, what):
    """``y[index][..., l0:l1] = part`` once ``part`` is checked to be finite."""
    _contract.check_result(xp, part, what)
    y[index + (slice(None), slice(l0, l1))] = part


def _redo_cauchy(xp, y, bad, step, conj, vs, z, w, z_lo=None, w_lo=None):
    """``y`` with its chunks ``bad`` recomputed by the generic (compensated) Cauchy sum."""
    what = "cauchy_conj" if conj else "cauchy"
    for index, l0, l1 in bad:
        v_r, w_r = _row(vs, index, 2), _row(w, index, 1)
        z_r = _row(z, index, 1)[..., l0:l1]
        if z_lo is None:
            part = _generic.cauchy(xp, v_r, z_r, w_r, step, conj=conj)
        else:
            zl_r = _row(z_lo, index, 1)[..., l0:l1]
            part = _generic.cauchy_compensated(xp, v_r, z_r, zl_r, w_r, _row(w_lo, index, 1),
                                               step, conj=conj)
        _put(xp, y, index, l0, l1, part, what)
    return y


def _redo_vandermonde(xp, y, bad, step, vs, x):
    """``y`` with its chunks ``bad`` recomputed by the generic Vandermonde sum."""
    for index, l0, l1 in bad:
        part = _generic.vandermonde(xp, _row(vs, index, 2), _row(x, index, 1), l1, step, l0)
        _put(xp, y, index, l0, l1, part, "vandermonde")
    return y


class FusedOps:
    """The compiled kernels an autograd Function of :mod:`statespace._torch_reductions`
    runs its forward and backward passes on (handed to it by the router, so that the
    implementations do not import each other).

    Each method returns None when no kernel applies (namespace, device, dtype, size or
    magnitude); the Function then uses its chunked torch sums.
    """

    def __init__(self, xp, mods, step):
        self.xp, self.mods, self.step = xp, mods, step

    def cauchy(self, vs, z, w, *, conj, z_lo=None, w_lo=None):
        """The forward sums (non-finite chunks recomputed as in :func:`cauchy`)."""
        for fast in self.mods:
            got = fast.try_cauchy(vs, z, w, conj=conj, z_lo=z_lo, w_lo=w_lo)
            if got is not None:
                return _redo_cauchy(self.xp, *got, self.step, conj, vs, z, w, z_lo, w_lo)
        return None

    def cauchy_vjp(self, g, z, w, *, conj, z_lo=None, w_lo=None):
        """``(dv, beta)``, the sums over the nodes of the backward pass, or None (also
        when a kernel's sum came out non-finite)."""
        for fast in self.mods:
            got = fast.try_cauchy_vjp(g, z, w, conj=conj, z_lo=z_lo, w_lo=w_lo)
            if got is not None:
                return got
        return None


def _fused(xp, mode, step):
    """:class:`FusedOps` for an autograd Function, or None when no kernel may run (the
    "custom" mode, ``torch.compile`` tracing, no kernel installed)."""
    mods = [m for m in _compiled_kernels(xp, mode) if hasattr(m, "try_cauchy_vjp")]
    return FusedOps(xp, mods, step) if mods else None


def cauchy(xp, vs, z, w, step, *, conj):
    """The Cauchy reduction (contract of ``_reductions_generic.cauchy``), routed."""
    mode = _contract.fast_mode
    if _use_function(xp, mode, (vs, z, w)):
        from . import _torch_reductions

        y = _torch_reductions.cauchy_function(vs, z, w, step, conj=conj,
                                              fused=_fused(xp, mode, step))
    else:
        for fast in _compiled_kernels(xp, mode):
            got = fast.try_cauchy(vs, z, w, conj=conj)
            if got is not None:
                return _redo_cauchy(xp, *got, step, conj, vs, z, w)
        y = _generic.cauchy(xp, vs, z, w, step, conj=conj)
    _contract.check_result(xp, y, "cauchy_conj" if conj else "cauchy")
    return y


def vandermonde(xp, vs, x, L, step):
    """The Vandermonde reduction (contract of ``_reductions_generic.vandermonde``), routed."""
    mode = _contract.fast_mode
    if _use_function(xp, mode, (vs, x)):
        from . import _torch_reductions

        y = _torch_reductions.vandermonde_function(vs, x, L, step, _function_kernels(xp))
    else:
        for fast in _compiled_kernels(xp, mode):
            got = fast.try_vandermonde(vs, x, L)
            if got is not None:
                return _redo_vandermonde(xp, *got, step, vs, x)
        y = _generic.vandermonde(xp, vs, x, L, step)
    _contract.check_result(xp, y, "vandermonde")
    return y


def cauchy_compensated(xp, vs, z, z_lo, w, w_lo, step, *, conj):
    """The compensated Cauchy reduction (``_reductions_generic.cauchy_compensated``), routed.

    Under torch autograd (and for every torch tensor in the "custom" mode) the autograd
    Function of :mod:`statespace._torch_reductions` takes the call with the low parts,
    on the compiled kernels when they apply; gradients flow to the high parts.
    """
    mode = _contract.fast_mode
    if _use_function(xp, mode, (vs, z, z_lo, w, w_lo)):
        from . import _torch_reductions

        y = _torch_reductions.cauchy_function(vs, z, w, step, conj=conj, z_lo=z_lo,
                                              w_lo=w_lo, fused=_fused(xp, mode, step))
        _contract.check_result(xp, y, "cauchy_conj" if conj else "cauchy")
        return y
    for fast in _compiled_kernels(xp, mode):
        got = fast.try_cauchy(vs, z, w, conj=conj, z_lo=z_lo, w_lo=w_lo)
        if got is not None:
            return _redo_cauchy(xp, *got, step, conj, vs, z, w, z_lo, w_lo)
    y = _generic.cauchy_compensated(xp, vs, z, z_lo, w, w_lo, step, conj=conj)
    _contract.check_result(xp, y, "cauchy_conj" if conj else "cauchy")
    return y


def cauchy_woodbury1(xp, v, z, w, dt, *, conj, z_woodbury=None):
    """The rank-1 S4 generating function in one pass over the nodes
    (:func:`statespace._fast_cpu.try_cauchy_woodbury1`), or None: when no compiled
    kernel applies (other namespaces and devices, a pending gradient, the "generic" or
    "custom" modes, ``torch.compile`` tracing) or a value came out non-finite; the
    caller then runs the reduction and the Woodbury step separately. ``z_woodbury``:
    the nodes of the Woodbury step when ``z`` and ``w`` are shifted (both by the same
    real number, which leaves the differences unchanged)."""
    for fast in _compiled_kernels(xp, _contract.fast_mode):
        try_fn = getattr(fast, "try_cauchy_woodbury1", None)
        if try_fn is not None and not (_array.is_torch(xp) and _needs_grad((v, z, w, dt))):
            G = try_fn(v, z, w, dt, conj=conj, z_woodbury=z_woodbury)
            if G is not None:
                return G
    return None
