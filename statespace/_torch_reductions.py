r"""Memory-lean torch autograd for the Cauchy and Vandermonde reductions.

The generic reductions (:mod:`statespace._reductions_generic`) are written against
the array API; under torch autograd every chunk's structured block (``1 / (z - w)`` or
``exp(x l)``) is saved for the backward pass, so training memory grows like
``O(batch * N * L)``. The :class:`torch.autograd.Function`\ s here save only their
inputs (``O(batch * (M N + N + L))``) and compute the backward pass in closed form,
by the same chunked reductions with the roles of nodes and poles swapped:

.. math::

    y_{ml} = \sum_n \frac{v_{mn}}{z_l - w_n}
    \;\Rightarrow\;
    \bar\partial_{v_{mn}} = \sum_l \frac{g_{ml}}{\bar z_l - \bar w_n}, \quad
    \bar\partial_{w_n} = \sum_m \bar v_{mn} \sum_l \frac{g_{ml}}{(\bar z_l - \bar w_n)^2}, \quad
    \bar\partial_{z_l} = -\sum_m g_{ml} \sum_n \frac{\bar v_{mn}}{(\bar z_l - \bar w_n)^2},

where :math:`g` is the incoming gradient. torch's convention for complex tensors is the
conjugate Wirtinger derivative: for a holomorphic :math:`y = f(x)` the gradient passed
back is :math:`\overline{f'(x)}\, g`, and for a term in :math:`\bar x` (the mirrored
half of :func:`~statespace.reductions.cauchy_conj`) it is
:math:`\partial y / \partial \bar x \cdot \bar g`. For the Vandermonde product
:math:`y_{ml} = \sum_n v_{mn} e^{x_n l}`,

.. math::

    \bar\partial_{v_{mn}} = \sum_l g_{ml}\, e^{\bar x_n l}, \qquad
    \bar\partial_{x_n} = \sum_m \bar v_{mn} \sum_l l\, g_{ml}\, e^{\bar x_n l}.

Both passes of the Cauchy Function run on the compiled kernels when the router hands
them over (:class:`statespace._router.FusedOps`: numba for CPU tensors through
zero-copy NumPy views, CuPy for CUDA tensors through DLPack; not while
``torch.compile`` traces, and not in the ``"custom"`` mode): the forward pass is the
fused Cauchy sum, the backward pass the fused sums over the nodes ``dv`` and
``beta`` (:func:`statespace._fast_cpu.cauchy_vjp`), which share each reciprocal and
its square across all gradient rows. Compensated nodes and poles (low parts
``z_lo``, ``w_lo``) are carried through both passes.

The router (:mod:`statespace._router`) sends torch tensors here when a gradient is
needed, and always in the ``"custom"`` mode of
:func:`statespace.reductions.fast_paths` (tests and memory comparisons use it);
:func:`cauchy_torch` and :func:`vandermonde_torch` call the Functions directly.
"""

from __future__ import annotations

import math

import torch

from . import _array
from . import _reduction_contract as _contract

__all__ = ["cauchy_torch", "vandermonde_torch", "cauchy_function", "vandermonde_function"]


# --------------------------------------------------------------------------------------
# entry points of the router (calling contract of statespace._reduction_contract)
# --------------------------------------------------------------------------------------
def cauchy_function(vs, z, w, step, *, conj, z_lo=None, w_lo=None, fused=None):
    """The Cauchy reduction through :class:`_CauchyFunction` (kept + (M, L)).

    ``z_lo``/``w_lo``: low parts of compensated nodes/poles (gradients flow to ``z`` and
    ``w``). ``fused``: None, or an object with methods ``cauchy(vs, z, w, conj=, z_lo=,
    w_lo=)`` and ``cauchy_vjp(g, z, w, conj=, z_lo=, w_lo=)`` running the compiled
    kernels (the router's :class:`statespace._router.FusedOps`); each returns None
    when no kernel applies, and then the chunked torch sums below run instead.
    """
    return _CauchyFunction.apply(vs, z, w, z_lo, w_lo, step, conj, fused)


def vandermonde_function(vs, x, L, step, fused=()):
    """The Vandermonde reduction through :class:`_VandermondeFunction` (kept + (M, L)).

    ``fused``: compiled-kernel modules (:mod:`statespace._fast_cpu`,
    :mod:`statespace._fast_cupy`) chosen by the router; the Function tries their
    ``try_vandermonde`` (forward) and ``try_vandermonde_grad`` (backward) first, in
    this order, and uses the chunked torch code when none applies.
    """
    return _VandermondeFunction.apply(vs, x, L, step, tuple(fused))


# --------------------------------------------------------------------------------------
# chunked building blocks (plain torch, no host synchronisation)
# --------------------------------------------------------------------------------------
def _cauchy_sums(v, z, w, powers, step=None, z_lo=None, w_lo=None):
    r"""``[sum_n v[..., m, n] / (z[..., l] - w[..., n]) ** p for p in powers]``.

    ``v``: kept + (M, N); ``z``: kept' + (L,); ``w``: kept' + (N,) with kept'
    broadcasting to kept. Chunked over ``l``, ``step`` nodes at a time (by default
    so that one block ``1 / (z - w)`` holds about :data:`CHUNK_ELEMENTS` numbers).
    With low parts ``z_lo``/``w_lo`` (shapes of ``z``/``w``, or None) the differences
    are the compensated ``(z - w) + (z_lo - w_lo)``. Returns kept + (M, L) arrays.
    """
    L, N = z.shape[-1], w.shape[-1]
    if step is None:
        batch = torch.broadcast_shapes(z.shape[:-1], w.shape[:-1])
        step = max(1, min(L, _contract.CHUNK_ELEMENTS // max(1, math.prod(batch) * N)))
    wc = w.unsqueeze(-1)  # kept' + (N, 1)
    comp = z_lo is not None or w_lo is not None
    if comp:
        z_lo = torch.zeros_like(z) if z_lo is None else z_lo
        wlc = (torch.zeros_like(w) if w_lo is None else w_lo).unsqueeze(-1)
    outs = [[] for _ in powers]
    for lo in range(0, L, step):
        diff = z[..., lo : lo + step].unsqueeze(-2) - wc  # kept' + (N, Lc)
        if comp:
            diff = diff + (z_lo[..., lo : lo + step].unsqueeze(-2) - wlc)
        d = torch.reciprocal(diff)
        blk = d
        for p in range(1, max(powers) + 1):
            if p > 1:
                blk = blk * d
            if p in powers:
                outs[powers.index(p)].append(torch.matmul(v, blk))
    return [o[0] if len(o) == 1 else torch.cat(o, dim=-1) for o in outs]


def _sum_to(t, shape):
    """Sum ``t`` over broadcast axes so that it has ``shape``."""
    shape = tuple(shape)
    lead = t.ndim - len(shape)
    if lead > 0:
        t = t.sum(dim=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and t.shape[i] != 1)
    if axes:
        t = t.sum(dim=axes, keepdim=True)
    return t


def _conj_or_none(t):
    return None if t is None else t.conj()


class _CauchyFunction(torch.autograd.Function):
    """``y = sum_n v/(z - w)`` (+ the conjugate half); saves only ``v, z, w`` (and the
    low parts of compensated nodes and poles).

    Both passes run on the compiled kernels when ``fused`` provides them (CPU and CUDA
    tensors outside ``torch.compile``), else on the chunked torch sums: the backward
    pass needs, for the gradient rows ``g``, only the two sums over the nodes
    ``dv = sum_l g conj(r) (+ conj(g) r')`` and ``beta = sum_l g conj(r)^2
    (+ conj(g) r'^2)``, which give ``grad v = dv`` and ``grad w = sum_m conj(v) beta``.
    """

    @staticmethod
    def forward(ctx, vs, z, w, z_lo, w_lo, step, conj, fused):
        ctx.save_for_backward(vs, z, w, z_lo, w_lo)
        ctx.conj, ctx.fused = conj, fused
        y = None
        if fused is not None:
            y = fused.cauchy(vs, z, w, conj=conj, z_lo=z_lo, w_lo=w_lo)
        if y is None:
            (y,) = _cauchy_sums(vs, z, w, (1,), step, z_lo, w_lo)
            if conj:
                (y2,) = _cauchy_sums(vs.conj(), z, w.conj(), (1,), step, z_lo,
                                     _conj_or_none(w_lo))
                y = y + y2
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        vs, z, w, z_lo, w_lo = ctx.saved_tensors
        need_v, need_z, need_w = ctx.needs_input_grad[:3]
        gv = gz = gw = None
        if need_v or need_w:
            got = None
            if ctx.fused is not None:
                got = ctx.fused.cauchy_vjp(g, z, w, conj=ctx.conj, z_lo=z_lo, w_lo=w_lo)
            dv, beta = got if got is not None else _cauchy_vjp_torch(
                g, z, w, ctx.conj, z_lo, w_lo)
            if need_v:
                gv = _sum_to(dv, vs.shape)
            if need_w:
                gw = _sum_to((vs.conj() * beta).sum(dim=-2), w.shape)
        if need_z:
            zb, wb = z.conj(), w.conj()
            zlb, wlb = _conj_or_none(z_lo), _conj_or_none(w_lo)
            (s,) = _cauchy_sums(vs.conj(), zb, wb, (2,), None, zlb, wlb)
            if ctx.conj:
                (t,) = _cauchy_sums(vs, zb, w, (2,), None, zlb, w_lo)
                s = s + t
            gz = _sum_to(-(g * s).sum(dim=-2), z.shape)
        return gv, gz, gw, None, None, None, None, None


def _cauchy_vjp_torch(g, z, w, conj, z_lo, w_lo):
    """``(dv, beta)`` of :class:`_CauchyFunction` by chunked torch sums: transposed
    Cauchy sums with the conjugated poles as nodes and the conjugated nodes as poles."""
    zb, wb = z.conj(), w.conj()
    zlb, wlb = _conj_or_none(z_lo), _conj_or_none(w_lo)
    s1, s2 = _cauchy_sums(g, wb, zb, (1, 2), None, wlb, zlb)  # kept + (M, N)
    dv, beta = -s1, s2
    if conj:
        t1, t2 = _cauchy_sums(g, w, zb, (1, 2), None, w_lo, zlb)
        dv = dv - t1.conj()
        beta = beta + t2.conj()
    return dv, beta


def _vandermonde_blocks(x, L, step):
    """Yield ``(ell, exp(x[..., :, None] * ell))`` over chunks of ``0..L-1``."""
    rdt = x.real.dtype
    for lo in range(0, L, step):
        ell = torch.arange(lo, min(L, lo + step), dtype=rdt, device=x.device)
        yield ell, torch.exp(x.unsqueeze(-1) * ell)


class _VandermondeFunction(torch.autograd.Function):
    """``y = sum_n v e^{x l}``; saves only ``v, x``.

    Forward and backward run on the fused kernels of ``fused`` when one applies
    (``try_vandermonde``, ``try_vandermonde_grad``): one pass over the (mode, position)
    pairs each, sharing every power ``e^{x_n l}`` across the numerators and across the
    two backward sums. Otherwise (and for the chunks a fused forward found
    non-finite) the chunked torch code below.
    """

    @staticmethod
    def forward(ctx, vs, x, L, step, fused):
        ctx.save_for_backward(vs, x)
        ctx.L, ctx.step, ctx.fused = L, step, fused
        for mod in fused:
            got = mod.try_vandermonde(vs, x, L)
            if got is not None and not got[1]:
                return got[0]
        outs = [torch.matmul(vs, E) for _, E in _vandermonde_blocks(x, L, step)]
        return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        vs, x = ctx.saved_tensors
        need_v, need_x = ctx.needs_input_grad[:2]
        if not (need_v or need_x):
            return None, None, None, None, None
        for mod in ctx.fused:
            got = mod.try_vandermonde_grad(g.contiguous(), vs, x)
            if got is not None:
                gv = _sum_to(got[0], vs.shape) if need_v else None
                gx = _sum_to(got[1], x.shape) if need_x else None
                return gv, gx, None, None, None
        gv = gx = None
        acc_v = acc_x = None
        lo = 0
        for ell, E in _vandermonde_blocks(x.conj(), ctx.L, ctx.step):
            gc = g[..., lo : lo + ell.shape[0]]
            lo += ell.shape[0]
            Et = E.transpose(-1, -2)  # kept' + (Lc, N)
            if need_v:
                t = torch.matmul(gc, Et)
                acc_v = t if acc_v is None else acc_v + t
            if need_x:
                t = torch.matmul(gc * ell, Et)
                acc_x = t if acc_x is None else acc_x + t
        if need_v:
            gv = _sum_to(acc_v, vs.shape)
        if need_x:
            gx = (vs.conj() * acc_x).sum(dim=-2)
            gx = _sum_to(gx, x.shape)
        return gv, gx, None, None, None


# --------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------
def _require_torch(xp):
    if not _array.is_torch(xp):
        name = getattr(xp, "__name__", str(xp))
        raise TypeError(f"v, z, w (or v, x) must be torch tensors, got arrays of {name}")


def cauchy_torch(v, z, w, conj=False):
    r"""Cauchy reduction of torch tensors through the memory-lean autograd Function.

    Parameters
    ----------
    v : torch.Tensor, shape ``batch_v + (N,)``
        Numerators.
    z : torch.Tensor, shape ``batch_z + (L,)``
        Nodes.
    w : torch.Tensor, shape ``batch_w + (N,)``
        Poles.
    conj : bool, default False
        ``True``: :func:`~statespace.reductions.cauchy_conj` (each mode stands for a
        conjugate pair); ``False``: :func:`~statespace.reductions.cauchy`.

    Returns
    -------
    torch.Tensor, shape ``batch + (L,)``
        As :func:`statespace.reductions.cauchy`; validation and broadcasting are
        those of the public reductions.

    Notes
    -----
    .. math::

        y_l = \sum_n \frac{v_n}{z_l - w_n}
        \left(+ \frac{\bar v_n}{z_l - \bar w_n}\right).

    The backward pass is computed by chunked Cauchy sums (see the module notes), so
    the autograd graph holds ``v``, ``z`` and ``w`` only, not the ``N x L`` blocks.

    Examples
    --------
    >>> import torch
    >>> from statespace._torch_reductions import cauchy_torch
    >>> v = torch.tensor([1.0, 2.0], dtype=torch.complex128, requires_grad=True)
    >>> w = torch.tensor([-1.0, -2.0], dtype=torch.complex128)
    >>> z = torch.tensor([0.0, 1.0], dtype=torch.complex128)
    >>> y = cauchy_torch(v, z, w)
    >>> [round(t, 6) for t in y.real.tolist()]  # 1/1 + 2/2, 1/2 + 2/3
    [2.0, 1.166667]
    >>> g, = torch.autograd.grad(y.real.sum(), v)
    >>> [round(t, 6) for t in g.real.tolist()]  # sum_l 1/(z_l - w_n)
    [1.5, 0.833333]
    """
    if not isinstance(conj, bool):
        raise TypeError(f"conj must be a bool, got {type(conj).__name__}")
    xp, lay, vs, zk, wk, step = _contract.cauchy_operands(v, z, w, None, conj)
    _require_torch(xp)
    y = cauchy_function(vs, zk, wk, step, conj=conj)
    _contract.check_result(xp, y, "cauchy_conj" if conj else "cauchy")
    return lay.finish(xp, y)


def vandermonde_torch(v, x, L):
    r"""Vandermonde reduction of torch tensors through the memory-lean autograd Function.

    Parameters
    ----------
    v : torch.Tensor, shape ``batch_v + (N,)``
        Coefficients.
    x : torch.Tensor, shape ``batch_x + (N,)``
        Exponents.
    L : int
        Output length, ``>= 1``.

    Returns
    -------
    torch.Tensor, shape ``batch + (L,)``
        As :func:`statespace.reductions.vandermonde`.

    Notes
    -----
    .. math:: y_l = \sum_n v_n e^{x_n l}.

    The autograd graph holds ``v`` and ``x`` only; the backward pass recomputes
    ``exp(conj(x) l)`` chunk by chunk (see the module notes).

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from statespace._torch_reductions import vandermonde_torch
    >>> v = torch.tensor([1.0, 2.0], dtype=torch.complex128)
    >>> x = torch.tensor([0.0, math.log(0.5)], dtype=torch.complex128, requires_grad=True)
    >>> y = vandermonde_torch(v, x, 3)
    >>> [round(t, 6) for t in y.real.tolist()]
    [3.0, 2.0, 1.5]
    >>> g, = torch.autograd.grad(y.real.sum(), x)  # sum_l v_n l e^{x_n l}
    >>> [round(t, 6) for t in g.real.tolist()]
    [3.0, 2.0]
    """
    xp, lay, vs, xk, L, step = _contract.vandermonde_operands(v, x, L, None)
    _require_torch(xp)
    y = vandermonde_function(vs, xk, L, step)
    _contract.check_result(xp, y, "vandermonde")
    return lay.finish(xp, y)
