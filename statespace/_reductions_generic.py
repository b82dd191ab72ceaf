"""Array-API implementations of the Cauchy and Vandermonde reductions.

Written once against the array API, so they run on every namespace (NumPy, CuPy,
torch with autograd, array-api-strict); :mod:`statespace._router` falls back to them
whenever no compiled kernel or torch autograd Function applies. All three work in
chunks over ``L`` (``step`` positions at a time), so their memory is ``O(batch * (N +
L))`` plus one chunk. Arguments and results follow the calling contract of
:mod:`statespace._reduction_contract`; the caller checks that the result is finite.
"""

from __future__ import annotations

from . import _array
from ._reduction_contract import no_coincidence

__all__ = ["cauchy", "cauchy_compensated", "vandermonde"]


def cauchy(xp, vs, z, w, step, *, conj):
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
        no_coincidence(xp, d)
        y = xp.matmul(vs, 1.0 / d)
        if conj:
            d = zc - wc_bar
            no_coincidence(xp, d)
            y = y + xp.matmul(vs_bar, 1.0 / d)
        outs.append(y)
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=-1)


def cauchy_compensated(xp, vs, z, z_lo, w, w_lo, step, *, conj):
    """Chunked Cauchy contraction with compensated differences ``(z - w) + (z_lo - w_lo)``.

    Shapes as :func:`cauchy`; ``z_lo`` and ``w_lo`` are the low parts of the nodes and
    poles (same shapes and dtype as ``z`` and ``w``).
    """
    L = z.shape[-1]
    wc, wlc = xp.expand_dims(w, axis=-1), xp.expand_dims(w_lo, axis=-1)
    outs = []
    for lo in range(0, L, step):
        hi = min(L, lo + step)
        zc = xp.expand_dims(z[..., lo:hi], axis=-2)
        zlc = xp.expand_dims(z_lo[..., lo:hi], axis=-2)
        d = (zc - wc) + (zlc - wlc)
        no_coincidence(xp, d)
        y = xp.matmul(vs, 1.0 / d)
        if conj:
            d = (zc - xp.conj(wc)) + (zlc - xp.conj(wlc))
            no_coincidence(xp, d)
            y = y + xp.matmul(xp.conj(vs), 1.0 / d)
        outs.append(y)
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=-1)


def vandermonde(xp, vs, x, L, step, start=0):
    """Chunked Vandermonde contraction. ``vs``: kept + (M, N); ``x``: kept + (N,).

    Returns kept + (M, L - start), the positions ``l = start .. L - 1``; ``exp(x l)``
    is evaluated directly for every ``l`` (no repeated powering, whose rounding errors
    accumulate with ``l``).
    """
    rdt = _array.real_dtype(xp, x.dtype)
    dev = _array.device_of(x)
    xc = xp.expand_dims(x, axis=-1)  # kept + (N, 1)
    outs = []
    for lo in range(start, L, step):
        ell = xp.arange(lo, min(L, lo + step), dtype=rdt, device=dev)
        outs.append(xp.matmul(vs, xp.exp(xc * ell)))
    return outs[0] if len(outs) == 1 else xp.concat(outs, axis=-1)
