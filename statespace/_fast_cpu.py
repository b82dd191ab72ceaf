r"""Fused CPU kernels for the Cauchy and Vandermonde reductions (numba, optional).

:mod:`statespace._router` routes NumPy arrays and CPU torch tensors that need no
gradient here (see :func:`try_cauchy`) unless the switch
:func:`statespace.reductions.fast_paths` (or ``STATESPACE_FAST``) says otherwise;
everything else, and everything when numba is not installed (``pip install
statespace[fast]``), takes the generic array-API path.

Cauchy kernel
-------------
One parallel task per (batch row, chunk of ``lc`` nodes): the chunk's accumulators
(``M x lc`` numbers per real/imaginary part) and temporaries fill about 32 KiB, an L1
data cache, and the chunks of a row have nearly equal lengths. For each pole ``w_n`` the
reciprocals of the differences are formed once for the whole chunk, as

.. math:: \frac{1}{d} = \frac{\bar d}{|d|^2}, \qquad d = z_l - w_n,

(one real division per node and pole; with ``conj`` the mirrored pole
:math:`\bar w_n` shares :math:`\mathrm{Re}\, d`), and then contracted with all ``M``
numerators by multiply-adds over the chunk, a loop the compiler vectorises.
For the conjugate-symmetric sum the two reciprocals :math:`r_1 = a_1 + i b_1` and
:math:`r_2 = a_2 + i b_2` are folded first, so each numerator ``v = p + i q`` costs
four real multiply-adds per node:

.. math::

    v r_1 + \bar v r_2 = p (a_1 + a_2) - q (b_1 - b_2)
                        + i\,[\, p (b_1 + b_2) + q (a_1 - a_2) \,].

Flops per (node, pole) pair, counting every add, multiply and divide executed:
``cauchy``: 2 (difference) + 3 (``|d|^2``) + 1 (divide) + 2 (scale) = 8, plus 8 per
numerator (a complex multiply-add); ``cauchy_conj``: 3 (differences) + 5 (both
``|d|^2``, sharing ``(Re d)^2``) + 2 (divides) + 2 (scale) + 6 (fold) = 18, plus 8 per
numerator. The compensated variants add 2 per difference (12 and 24). Each
reciprocal keeps its own divide: one divide of ``|d_2|^2 / (|d_1|^2 |d_2|^2)`` would
be cheaper but narrows the range to ``|d_1 d_2| > 1e-19`` in float32, which a real
pole close to the node 1 (``d_1 = d_2``) can leave. With four numerators (rank-1 Woodbury)
the reciprocals and the four multiply-adds run in one pass over the nodes, so the
folded reciprocals never leave registers. :data:`FLOPS`
records these counts for the benchmarks (a fused multiply-add counts as its multiply
and its add).

Rounding: the forward Cauchy kernels are compiled with ``fastmath={"contract"}`` and
nothing else (the backward sums also with ``"reassoc"``, see above; the Vandermonde
kernel with no fast-math flag at all, see ``_OUTER_EXACT``).
A product followed by a sum may be fused into one FMA, rounded once instead of twice
(the accumulations are written accumulator-first, ``(acc + p a) - q b``, so that each
becomes two FMAs); the forward sums are not reassociated, and NaN, infinity and
signed zeros keep their IEEE meaning. Every error bound of the written expressions therefore still
holds, and results may differ from the generic path in the last bits. The compensated
differences below have no products and are evaluated exactly as written.

Non-finite results: each task counts the non-finite sums as it stores them, so the
caller needs no second pass over the output. :func:`try_cauchy` and
:func:`try_vandermonde` return the tasks that found one as chunks ``(index, l0, l1)``
of the result, which :mod:`statespace._router` recomputes with the generic
implementation (a sum that only this kernel's formulas overflow, see *Range* below,
still gets its finite value); called directly, :func:`cauchy`/:func:`vandermonde`
raise :class:`ValueError` instead.

Compensated differences
-----------------------
With ``z_lo``/``w_lo`` given, the nodes and poles are the unevaluated sums
``z + z_lo`` and ``w + w_lo`` (a "double-single" pair, the low part holding the
rounding error of the high part), and the difference is formed as
``(z - w) + (z_lo - w_lo)``. When a node nearly meets a pole, ``z - w`` is exact
(Sterbenz), so the difference keeps full relative precision: this removes the
dominant float32 error of the S4 kernel (see ``docs/float32.md``) for two extra
additions per difference.

Cauchy backward kernel (vector-Jacobian product)
------------------------------------------------
Training needs, for an incoming gradient :math:`g_{ml}` of
:math:`y_{ml} = \sum_n v_{mn} r_{ln} (+ \bar v_{mn} r'_{ln})` with
:math:`r = 1/(z_l - w_n)` and :math:`r' = 1/(z_l - \bar w_n)`, the sums over the
nodes (torch's conjugate-Wirtinger convention, see :mod:`statespace._torch_reductions`)

.. math::

    \bar\partial v_{mn} = \sum_l g_{ml}\,\bar r_{ln} \;(+\; \bar g_{ml}\, r'_{ln}), \qquad
    \beta_{mn} = \sum_l g_{ml}\,\bar r_{ln}^2 \;(+\; \bar g_{ml}\, r'^2_{ln}),

from which :math:`\bar\partial w_n = \sum_m \bar v_{mn} \beta_{mn}`.
:func:`cauchy_vjp` computes both in one pass: one task per (batch row, chunk of
nodes) as in the forward kernel; for each pole the reciprocals (and their squares) of
the differences to the chunk's nodes are formed once, folded as in the forward
kernel, and shared by all ``M`` gradient rows, each of which then costs eight real
multiply-adds per (node, pole) pair (four for :math:`\bar\partial v`, four for
:math:`\beta`). The sums over the chunk are compiled with reassociation allowed
(``fastmath={"contract", "reassoc"}``, nothing else) so that they vectorise: each is
summed in several vector lanes added at the end, an order with the same error bound
(:math:`O(L \epsilon)` times the sum of the terms' magnitudes) as the sequential
one. The chunks' partial sums are added by the host (``O(M N L / lc)`` numbers).
With ``z_lo``/``w_lo`` the differences are the compensated ones of the forward
kernel. Flops per pair: 18 (the folded conjugate
reciprocals, as above) + 12 (squares and their fold) + 16 per gradient row
(:data:`FLOPS` ``"cauchy_vjp_conj"``).

Vandermonde kernel
------------------
Per task and mode, ``exp(x l)`` for the chunk ``l = l0 .. l0 + lc - 1`` is built in
float64 as ``exp(x l0) * T_j`` with ``T_j = exp(x j)`` obtained by doubling from
``exp(x 2^k)`` (exact arguments): a chunked recurrence re-anchored exactly at every
chunk start (one complex exponential per chunk and per doubling step, none per (mode,
position) pair); then all numerators are accumulated in the input precision.

Error bound of the powers (``_power_table``, ``_anchored``; :func:`powers` exposes
them). With ``u = 2**-53``, ``exp``, ``cos`` and ``sin`` accurate to one ulp (``2u``
relative), and ``k = ceil(log2(lc))``: each factor ``exp(x h)`` carries a relative
error of at most ``5u`` (roundings of ``2u, 2u, u``), each complex product adds
``sqrt(5) u`` (Brent, Percival and Zimmermann, 2007; no FMA contraction here), ``T_j``
is a product of ``popcount(j) <= k`` factors, and the anchor ``exp(x l0)`` adds the
rounding of its arguments ``Re(x) l0`` and ``Im(x) l0``. To first order in ``u``,

.. math::

    \left| P_l - e^{x l} \right| \le
    \bigl[(k + 1)(5 + \sqrt 5) + (|\mathrm{Re}\,x| + |\mathrm{Im}\,x|)\, l_0\bigr]
    \, u \, \left| e^{x l} \right|,

relative to the exact exponential of the float64 value ``x`` (``tests/test_fast.py``
checks it against mpmath). The generic path's ``exp(x * l)`` has the same
``|x| l u`` term from rounding ``x * l``; in float32 kernels the powers are then
rounded once to the input precision.

Backward (:func:`vandermonde_grad`): one task per (batch row, mode); the table ``T``
is built once per mode and re-anchored per chunk as above, and each power is shared
by every numerator and by both sums :math:`\sum_l g_{ml} e^{\bar x_n l}` and
:math:`\sum_l l\, g_{ml} e^{\bar x_n l}`, accumulated in float64 per position of the
chunk (a loop that vectorises without reassociation) and summed at the end.

Range: ``1/d`` through ``|d|^2`` is valid for ``1e-19 < |d| < 1e19`` in float32
(``1e-154 .. 1e154`` in float64); :func:`try_cauchy` sends inputs whose magnitudes could
leave that range to the generic path. A difference below it (a pole ``3e-20`` from a
node in complex64) overflows ``1 / |d|^2`` although ``1 / d`` is finite; the task's
sums come out non-finite and the router recomputes that chunk with the generic
``1 / (z - w)``. Likewise, in complex128, ``exp(x l0) * T_j`` overflows a little
before ``exp(x l)`` does (for ``|exp(x l)|`` between the largest double and
:math:`\sqrt 2` times it, where NumPy's complex ``exp`` scales and stays finite).
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from . import _reduction_contract as _contract

__all__ = ["available", "try_cauchy", "try_cauchy_vjp", "try_vandermonde",
           "try_vandermonde_grad", "cauchy", "cauchy_vjp", "try_cauchy_woodbury1",
           "vandermonde", "vandermonde_grad", "powers", "FLOPS"]

#: Executed flops per (node, pole) pair: ``base + per_numerator * M``.
FLOPS = {
    "cauchy": (8, 8),
    "cauchy_conj": (18, 8),
    "cauchy_comp": (12, 8),
    "cauchy_conj_comp": (24, 8),
    "vandermonde": (12, 8),  # float64 table product (6) + cast, plus the MACs
    "cauchy_vjp": (14, 16),  # reciprocal and square (14); 4 complex MACs per row
    "cauchy_vjp_conj": (30, 16),
}

# Work (batch * M * N * L) below which the generic path is used: the call overhead of
# the compiled kernel (~30 us) is not worth it, and small cases keep exercising the
# generic code.
MIN_WORK = 1 << 14

try:  # optional extra: pip install statespace[fast]
    from numba import njit, prange

    _HAVE_NUMBA = True
except ImportError:  # the generic path is used; kernels below stay plain Python
    _HAVE_NUMBA = False


def available():
    """Whether the compiled CPU kernels can be used: numba is installed and the switch
    (:func:`statespace.reductions.fast_paths`, ``STATESPACE_FAST``) is not "generic"."""
    return _HAVE_NUMBA and _contract.fast_mode != "generic"


# --------------------------------------------------------------------------------------
# compiled kernels (module level so that numba's on-disk cache applies; compiled on
# first use, one specialisation per dtype: float32 and float64 parts)
# --------------------------------------------------------------------------------------
if not _HAVE_NUMBA:  # pragma: no cover - exercised by a subprocess test

    def njit(**_opts):
        return lambda f: f

    prange = range

# contraction of a * b + c into one fused multiply-add (one rounding instead of two),
# nothing else: no reassociation, no assumptions about NaN, infinity or signed zeros
_FASTMATH = {"contract"}
_OUTER = dict(parallel=True, fastmath=_FASTMATH, cache=True, nogil=True, error_model="numpy")
# error_model="numpy": a division by zero gives inf instead of raising, which keeps the
# division branch-free so the loops vectorise (non-finite results are counted as they
# are stored, and reported as a ValueError)
_INNER = dict(fastmath=_FASTMATH, cache=True, error_model="numpy")
# the Vandermonde kernel is compiled without contraction: with it, the float64 power
# table came out different in the last bit between a fresh compile and numba's cached
# object code, so results depended on whether the cache existed
_OUTER_EXACT = dict(_OUTER, fastmath=False)


@njit(**_INNER)
def _recip(zr, zi, n_l, a, b, one, ra, rb):
    # ra + i rb = 1 / (z - w) over the chunk
    for j in range(n_l):
        dr = zr[j] - a
        di = zi[j] - b
        inv = one / (dr * dr + di * di)
        ra[j] = dr * inv
        rb[j] = -di * inv


@njit(**_INNER)
def _recip_comp(zr, zi, zlr, zli, n_l, a, al, b, bl, one, ra, rb):
    # the same with compensated differences (z + z_lo) - (w + w_lo)
    for j in range(n_l):
        dr = (zr[j] - a) + (zlr[j] - al)
        di = (zi[j] - b) + (zli[j] - bl)
        inv = one / (dr * dr + di * di)
        ra[j] = dr * inv
        rb[j] = -di * inv


@njit(inline="always", **_INNER)
def _fold(dr, d1, d2, one):
    # r1 = 1/d1c, r2 = 1/d2c for d1c = dr + i d1, d2c = dr + i d2 (the differences to a
    # pole and to its conjugate), folded into (a1 + a2, b1 + b2, a1 - a2, b1 - b2) with
    # r_k = a_k + i b_k
    s = dr * dr
    i1 = one / (s + d1 * d1)
    i2 = one / (s + d2 * d2)
    e1 = d1 * i1
    e2 = d2 * i2
    return dr * (i1 + i2), -(e1 + e2), dr * (i1 - i2), e2 - e1


@njit(inline="always", **_INNER)
def _diffs(zr, zi, j, a, b):
    # Re and Im of z_j - w and Im of z_j - conj(w)
    return zr[j] - a, zi[j] - b, zi[j] + b


@njit(inline="always", **_INNER)
def _diffs_comp(zr, zi, zlr, zli, j, a, al, b, bl):
    # the same for the compensated pairs z + z_lo and w + w_lo
    return (zr[j] - a) + (zlr[j] - al), (zi[j] - b) + (zli[j] - bl), \
        (zi[j] + b) + (zli[j] + bl)


@njit(inline="always", **_INNER)
def _store_fold(j, dr, d1, d2, one, sa, sb, da, db):
    sa[j], sb[j], da[j], db[j] = _fold(dr, d1, d2, one)


@njit(**_INNER)
def _recip_conj(zr, zi, zlr, zli, comp, n_l, a, al, b, bl, one, sa, sb, da, db):
    # folded reciprocals of the conjugate pair over the chunk (see _fold); one loop per
    # case, so that the loop body carries no branch
    if comp:
        for j in range(n_l):
            dr, d1, d2 = _diffs_comp(zr, zi, zlr, zli, j, a, al, b, bl)
            _store_fold(j, dr, d1, d2, one, sa, sb, da, db)
    else:
        for j in range(n_l):
            dr, d1, d2 = _diffs(zr, zi, j, a, b)
            _store_fold(j, dr, d1, d2, one, sa, sb, da, db)


@njit(inline="always", **_INNER)
def _acc4(accr, acci, j, dr, d1, d2, one, p0, p1, p2, p3, q0, q1, q2, q3):
    # the four numerators' multiply-adds at node j; each line is two fused
    # multiply-adds, accumulator first
    sa, sb, da, db = _fold(dr, d1, d2, one)
    accr[0, j] = (accr[0, j] + p0 * sa) - q0 * db
    acci[0, j] = (acci[0, j] + p0 * sb) + q0 * da
    accr[1, j] = (accr[1, j] + p1 * sa) - q1 * db
    acci[1, j] = (acci[1, j] + p1 * sb) + q1 * da
    accr[2, j] = (accr[2, j] + p2 * sa) - q2 * db
    acci[2, j] = (acci[2, j] + p2 * sb) + q2 * da
    accr[3, j] = (accr[3, j] + p3 * sa) - q3 * db
    acci[3, j] = (acci[3, j] + p3 * sb) + q3 * da


@njit(**_INNER)
def _conj_mac4(zr, zi, zlr, zli, comp, n_l, a, al, b, bl, one, p, q, accr, acci):
    # _recip_conj and four _mac calls in one pass (rank-1 Woodbury: 4
    # numerators): the folded reciprocals stay in registers and each accumulator is
    # loaded and stored once per pole
    p0, p1, p2, p3 = p[0], p[1], p[2], p[3]
    q0, q1, q2, q3 = q[0], q[1], q[2], q[3]
    if comp:
        for j in range(n_l):
            dr, d1, d2 = _diffs_comp(zr, zi, zlr, zli, j, a, al, b, bl)
            _acc4(accr, acci, j, dr, d1, d2, one, p0, p1, p2, p3, q0, q1, q2, q3)
    else:
        for j in range(n_l):
            dr, d1, d2 = _diffs(zr, zi, j, a, b)
            _acc4(accr, acci, j, dr, d1, d2, one, p0, p1, p2, p3, q0, q1, q2, q3)


@njit(**_INNER)
def _mac(ar, ai, p, q, sa, sb, da, db, n_l):
    # (ar + i ai) += p (sa + i sb) - q (db - i da): the folded conj pair, or, with
    # da = sa and db = sb, the plain product (p + i q)(sa + i sb)
    for j in range(n_l):
        ar[j] = (ar[j] + p * sa[j]) - q * db[j]
        ai[j] = (ai[j] + p * sb[j]) + q * da[j]


@njit(**_INNER)
def _store(accr, acci, out, b, l0, n_l):
    # write the chunk's sums to out[b, :, l0:l0 + n_l] (real, imag) and count the
    # non-finite ones: x - x is 0 for a finite x and NaN otherwise
    bad = 0
    for k in range(accr.shape[0]):
        o = out[b, k, l0:l0 + n_l]
        for j in range(n_l):
            x = accr[k, j]
            y = acci[k, j]
            o[j, 0] = x
            o[j, 1] = y
            bad += 0 if (x - x) + (y - y) == 0 else 1
    return bad


@njit(**_OUTER)
def cauchy_kernel(vr, vi, iv, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw,
                  conj, comp, lc, unit, out, nonfinite):
    nb = iv.shape[0]
    M = vr.shape[1]
    N = vr.shape[2]
    L = zr.shape[1]
    nchunk = (L + lc - 1) // lc
    one = unit[0]
    for t in prange(nb * nchunk):
        b = t // nchunk
        l0 = (t - b * nchunk) * lc
        n_l = min(L, l0 + lc) - l0
        jv = iv[b]
        jz = iz[b]
        jw = iw[b]
        accr = np.zeros((M, lc), dtype=vr.dtype)
        acci = np.zeros((M, lc), dtype=vr.dtype)
        sa = np.empty(lc, dtype=vr.dtype)
        sb = np.empty(lc, dtype=vr.dtype)
        da = np.empty(lc, dtype=vr.dtype)
        db = np.empty(lc, dtype=vr.dtype)
        # chunk views indexed from 0 (an offset index would defeat vectorisation:
        # numba cannot rule out negative indices and emits gathers)
        zr_b = zr[jz, l0:l0 + n_l]
        zi_b = zi[jz, l0:l0 + n_l]
        zlr_b = zlr[jz, l0:l0 + n_l]
        zli_b = zli[jz, l0:l0 + n_l]
        for n in range(N):
            a = wr[jw, n]
            b_ = wi[jw, n]
            if conj and M == 4:
                _conj_mac4(zr_b, zi_b, zlr_b, zli_b, comp, n_l, a, wlr[jw, n], b_,
                           wli[jw, n], one, vr[jv, :, n], vi[jv, :, n], accr, acci)
            elif conj:
                _recip_conj(zr_b, zi_b, zlr_b, zli_b, comp, n_l, a, wlr[jw, n], b_,
                            wli[jw, n], one, sa, sb, da, db)
                for k in range(M):
                    _mac(accr[k], acci[k], vr[jv, k, n], vi[jv, k, n], sa, sb, da, db,
                         n_l)
            else:
                if comp:
                    _recip_comp(zr_b, zi_b, zlr_b, zli_b, n_l, a, wlr[jw, n], b_,
                                wli[jw, n], one, sa, sb)
                else:
                    _recip(zr_b, zi_b, n_l, a, b_, one, sa, sb)
                for k in range(M):
                    _mac(accr[k], acci[k], vr[jv, k, n], vi[jv, k, n], sa, sb, sa, sb,
                         n_l)
        nonfinite[t] = _store(accr, acci, out, b, l0, n_l)


# --------------------------------------------------------------------------------------
# Cauchy backward (vector-Jacobian product): sums over the nodes, vectorised over poles
# --------------------------------------------------------------------------------------
# the backward sums over the nodes are reductions: with reassociation allowed (and
# nothing else: no assumption about NaN, infinity or signed zeros) the compiler
# vectorises them, summing in several lanes that are added at the end, an order with
# the same error bound as the sequential one
_REDUCE = dict(fastmath={"contract", "reassoc"}, cache=True, error_model="numpy")


@njit(inline="always", **_INNER)
def _vjp_fold(dr, d1, d2, one):
    # first and second powers of r1 = 1/(dr + i d1), r2 = 1/(dr + i d2), each folded
    # into (a1 + a2, b1 + b2, a1 - a2, b1 - b2)
    s = dr * dr
    i1 = one / (s + d1 * d1)
    i2 = one / (s + d2 * d2)
    a1 = dr * i1
    b1 = -d1 * i1
    a2 = dr * i2
    b2 = -d2 * i2
    A1 = (a1 - b1) * (a1 + b1)
    B1 = (a1 + a1) * b1
    A2 = (a2 - b2) * (a2 + b2)
    B2 = (a2 + a2) * b2
    return a1 + a2, b1 + b2, a1 - a2, b1 - b2, A1 + A2, B1 + B2, A1 - A2, B1 - B2


@njit(inline="always", **_INNER)
def _vjp_one(dr, d1, one):
    # r = 1/(dr + i d1) and r^2 in the folded layout of _vjp_fold (no conjugate pole:
    # the "differences" equal the sums)
    i1 = one / (dr * dr + d1 * d1)
    a1 = dr * i1
    b1 = -d1 * i1
    A1 = (a1 - b1) * (a1 + b1)
    B1 = (a1 + a1) * b1
    return a1, b1, a1, b1, A1, B1, A1, B1


@njit(**_INNER)
def _vjp_recips(zr, zi, zlr, zli, a, al, c, cl, conj, comp, n_l, one,
                t0, t1, t2, t3, t4, t5, t6, t7):
    # the folded reciprocals (and squares) of the chunk's nodes against pole
    # (a + al) + i (c + cl); one loop per case, so that the loop body has no branch
    if conj and comp:
        for j in range(n_l):
            dr = (zr[j] - a) + (zlr[j] - al)
            d1 = (zi[j] - c) + (zli[j] - cl)
            d2 = (zi[j] + c) + (zli[j] + cl)
            t0[j], t1[j], t2[j], t3[j], t4[j], t5[j], t6[j], t7[j] = _vjp_fold(dr, d1, d2,
                                                                                one)
    elif conj:
        for j in range(n_l):
            t0[j], t1[j], t2[j], t3[j], t4[j], t5[j], t6[j], t7[j] = _vjp_fold(
                zr[j] - a, zi[j] - c, zi[j] + c, one)
    elif comp:
        for j in range(n_l):
            dr = (zr[j] - a) + (zlr[j] - al)
            d1 = (zi[j] - c) + (zli[j] - cl)
            t0[j], t1[j], t2[j], t3[j], t4[j], t5[j], t6[j], t7[j] = _vjp_one(dr, d1, one)
    else:
        for j in range(n_l):
            t0[j], t1[j], t2[j], t3[j], t4[j], t5[j], t6[j], t7[j] = _vjp_one(
                zr[j] - a, zi[j] - c, one)


@njit(**_REDUCE)
def _vjp_dots(p, q, t0, t1, t2, t3, t4, t5, t6, t7, n_l, zero):
    # with g = p + i q over the chunk: dv = sum p sa + q sb + i (q da - p db), and beta
    # the same with the squared reciprocals
    vr = zero
    vi = zero
    br = zero
    bi = zero
    for j in range(n_l):
        pj = p[j]
        qj = q[j]
        vr += pj * t0[j] + qj * t1[j]
        vi += qj * t2[j] - pj * t3[j]
        br += pj * t4[j] + qj * t5[j]
        bi += qj * t6[j] - pj * t7[j]
    return vr, vi, br, bi


@njit(**_OUTER)
def cauchy_vjp_kernel(gr, gi, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw,
                      conj, comp, lc, unit, part, nonfinite):
    # one task per (batch row, chunk of lc nodes); part[task] receives the chunk's
    # partial sums (dv and beta for every gradient row and pole), added up by the host
    nb = gr.shape[0]
    M = gr.shape[1]
    L = gr.shape[2]
    N = wr.shape[1]
    nchunk = (L + lc - 1) // lc
    one = unit[0]
    zero = unit[1]
    for task in prange(nb * nchunk):
        b = task // nchunk
        l0 = (task - b * nchunk) * lc
        n_l = min(L, l0 + lc) - l0
        jz = iz[b]
        jw = iw[b]
        t0 = np.empty(lc, dtype=gr.dtype)
        t1 = np.empty(lc, dtype=gr.dtype)
        t2 = np.empty(lc, dtype=gr.dtype)
        t3 = np.empty(lc, dtype=gr.dtype)
        t4 = np.empty(lc, dtype=gr.dtype)
        t5 = np.empty(lc, dtype=gr.dtype)
        t6 = np.empty(lc, dtype=gr.dtype)
        t7 = np.empty(lc, dtype=gr.dtype)
        # chunk views indexed from 0 (see cauchy_kernel)
        zr_b = zr[jz, l0:l0 + n_l]
        zi_b = zi[jz, l0:l0 + n_l]
        zlr_b = zlr[jz, l0:l0 + n_l]
        zli_b = zli[jz, l0:l0 + n_l]
        bad = 0
        for n in range(N):
            _vjp_recips(zr_b, zi_b, zlr_b, zli_b, wr[jw, n], wlr[jw, n], wi[jw, n],
                        wli[jw, n], conj, comp, n_l, one, t0, t1, t2, t3, t4, t5, t6, t7)
            for k in range(M):
                vr, vi, br, bi = _vjp_dots(gr[b, k, l0:l0 + n_l], gi[b, k, l0:l0 + n_l],
                                           t0, t1, t2, t3, t4, t5, t6, t7, n_l, zero)
                part[task, 0, k, n, 0] = vr
                part[task, 0, k, n, 1] = vi
                part[task, 1, k, n, 0] = br
                part[task, 1, k, n, 1] = bi
                bad += 0 if (vr - vr) + (vi - vi) + (br - br) + (bi - bi) == 0 else 1
        nonfinite[task] = bad


@njit(**_INNER)
def _store_wood(accr, acci, zwr, zwi, dt, out, b, l0, n_l):
    # the rank-1 Woodbury step at the chunk's nodes, in float64 on the four sums
    # k00, k01, k10, k11 (accumulator rows 0..3): G = dt z (k00 - s k01 k10 / (1 + s k11))
    # with s = dt (1 + z) / 2; returns the number of non-finite values stored
    bad = 0
    h = 0.5 * dt
    for j in range(n_l):
        x = zwr[j]
        y = zwi[j]
        sr = h * (1.0 + x)
        si = h * y
        a0 = np.complex128(complex(accr[0, j], acci[0, j]))
        a1 = np.complex128(complex(accr[1, j], acci[1, j]))
        a2 = np.complex128(complex(accr[2, j], acci[2, j]))
        a3 = np.complex128(complex(accr[3, j], acci[3, j]))
        sg = complex(sr, si)
        g = dt * complex(x, y) * (a0 - sg * a1 * a2 / (1.0 + sg * a3))
        out[b, l0 + j, 0] = g.real
        out[b, l0 + j, 1] = g.imag
        bad += 0 if (g.real - g.real) + (g.imag - g.imag) == 0 else 1
    return bad


@njit(**_OUTER)
def cauchy_woodbury1_kernel(vr, vi, zr, zi, zlr, zli, wr, wi, wlr, wli, zwr, zwi, dts,
                            conj, comp, lc, unit, out, nonfinite):
    # cauchy_kernel for M = 4 numerators (rows v: (nb, 4, N), one node set z: (1, L),
    # poles w: (nb, N)) followed, per chunk, by the rank-1 Woodbury step (_store_wood):
    # one pass over the nodes gives the S4 generating function; zwr + i zwi (float64):
    # the nodes of the Woodbury step
    nb = vr.shape[0]
    N = vr.shape[2]
    L = zr.shape[1]
    nchunk = (L + lc - 1) // lc
    one = unit[0]
    for t in prange(nb * nchunk):
        b = t // nchunk
        l0 = (t - b * nchunk) * lc
        n_l = min(L, l0 + lc) - l0
        accr = np.zeros((4, lc), dtype=vr.dtype)
        acci = np.zeros((4, lc), dtype=vr.dtype)
        sa = np.empty(lc, dtype=vr.dtype)
        sb = np.empty(lc, dtype=vr.dtype)
        zr_b = zr[0, l0:l0 + n_l]
        zi_b = zi[0, l0:l0 + n_l]
        zlr_b = zlr[0, l0:l0 + n_l]
        zli_b = zli[0, l0:l0 + n_l]
        for n in range(N):
            a = wr[b, n]
            b_ = wi[b, n]
            if conj:
                _conj_mac4(zr_b, zi_b, zlr_b, zli_b, comp, n_l, a, wlr[b, n], b_,
                           wli[b, n], one, vr[b, :, n], vi[b, :, n], accr, acci)
            else:
                if comp:
                    _recip_comp(zr_b, zi_b, zlr_b, zli_b, n_l, a, wlr[b, n], b_,
                                wli[b, n], one, sa, sb)
                else:
                    _recip(zr_b, zi_b, n_l, a, b_, one, sa, sb)
                for k in range(4):
                    _mac(accr[k], acci[k], vr[b, k, n], vi[b, k, n], sa, sb, sa, sb, n_l)
        nonfinite[t] = _store_wood(accr, acci, zwr[0, l0:l0 + n_l], zwi[0, l0:l0 + n_l],
                                   dts[b], out, b, l0, n_l)
@njit(inline="always", **dict(_INNER, fastmath=False))
def _power_table(a, c, n, tr, ti):
    # T_j = exp(x j) for j < n, x = a + i c (float64), by doubling: T_{h + j} =
    # T_j exp(x h) for h = 1, 2, 4, ..., each exp(x h) evaluated from the exact
    # argument x h (h a power of two)
    tr[0] = 1.0
    ti[0] = 0.0
    h = 1
    while h < n:
        m = np.exp(a * h)
        er = m * np.cos(c * h)
        ei = m * np.sin(c * h)
        top = min(h, n - h)
        hr = tr[h:h + top]
        hi = ti[h:h + top]
        for j in range(top):
            hr[j] = tr[j] * er - ti[j] * ei
            hi[j] = tr[j] * ei + ti[j] * er
        h *= 2


@njit(inline="always", **dict(_INNER, fastmath=False))
def _anchored(a, c, l0, tr, ti, n, pr, pi):
    # P_j = exp(x l0) T_j for j < n: the table re-anchored at l0 (one exp per chunk)
    m = np.exp(a * l0)
    br = m * np.cos(c * l0)
    bi = m * np.sin(c * l0)
    for j in range(n):
        pr[j] = br * tr[j] - bi * ti[j]
        pi[j] = br * ti[j] + bi * tr[j]


@njit(**_OUTER_EXACT)
def vandermonde_kernel(vr, vi, iv, xr, xi, ix, L, lc, out, nonfinite):
    nb = iv.shape[0]
    M = vr.shape[1]
    N = vr.shape[2]
    nchunk = (L + lc - 1) // lc
    for t in prange(nb * nchunk):
        b = t // nchunk
        l0 = (t - b * nchunk) * lc
        n_l = min(L, l0 + lc) - l0
        jv = iv[b]
        jx = ix[b]
        accr = np.zeros((M, lc), dtype=vr.dtype)
        acci = np.zeros((M, lc), dtype=vr.dtype)
        tr = np.empty(lc, dtype=np.float64)
        ti = np.empty(lc, dtype=np.float64)
        pr = np.empty(lc, dtype=vr.dtype)
        pi = np.empty(lc, dtype=vr.dtype)
        for n in range(N):
            a = np.float64(xr[jx, n])
            c = np.float64(xi[jx, n])
            # T_j = exp(x j), j < n_l, by doubling, re-anchored at l0 (see
            # _power_table and _anchored above)
            _power_table(a, c, n_l, tr, ti)
            _anchored(a, c, l0, tr, ti, n_l, pr, pi)
            for k in range(M):
                p = vr[jv, k, n]
                q = vi[jv, k, n]
                ar = accr[k]
                ai = acci[k]
                for j in range(n_l):
                    ar[j] += p * pr[j] - q * pi[j]
                    ai[j] += p * pi[j] + q * pr[j]
        nonfinite[t] = _store(accr, acci, out, b, l0, n_l)


# --------------------------------------------------------------------------------------
# host-side preparation
# --------------------------------------------------------------------------------------
_REAL = {np.dtype(np.complex64): np.float32, np.dtype(np.complex128): np.float64}
# |d|^2 must neither overflow nor underflow: magnitudes above this go generic
_RANGE = {np.float32: 1e18, np.float64: 1e150}


def _index_map(shape, batch):
    """Flat row of an operand with batch ``shape`` for every row of ``batch``."""
    shape = (1,) * (len(batch) - len(shape)) + tuple(shape)
    idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.ascontiguousarray(np.broadcast_to(idx, batch)).reshape(-1)


def _split(a, rdt, shape):
    """Contiguous real and imaginary parts of ``a`` reshaped to ``shape``."""
    a = np.reshape(a, shape)
    return np.ascontiguousarray(a.real, dtype=rdt), np.ascontiguousarray(a.imag, dtype=rdt)


def _chunk(M, L, rdt, nb):
    """Nodes per task: the task's accumulators and temporaries fill about 32 KiB (an
    L1 data cache), in chunks of nearly equal length (a multiple of 16)."""
    import numba

    words = (32768 // np.dtype(rdt).itemsize) // (2 * M + 6)
    lc = max(16, min(1024, words) // 16 * 16)
    # enough tasks to keep every thread busy
    while lc > 16 and nb * -(-L // lc) < 4 * numba.get_num_threads():
        lc //= 2
    # the same number of chunks, evened out: 2049 nodes as 4 x 528 (the last 465), not
    # 3 x 576 + 321
    per = -(-L // -(-L // lc))
    return min(lc, -(-per // 16) * 16)


def _report_nonfinite(nonfinite, what, bad, batch, L, lc):
    """Append the chunks of the tasks that stored a non-finite sum to ``bad`` (raise
    :func:`~statespace._reduction_contract.nonfinite_error` when ``bad`` is None)."""
    if not nonfinite.any():
        return
    if bad is None:
        raise _contract.nonfinite_error(what)
    bad.extend(_contract.task_chunks(np.flatnonzero(nonfinite).tolist(), batch, L, lc))


def _batch_of(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def _out(batch, M, L, cdt):
    """Result array and its (rows, M, L, 2) real view written by the kernels."""
    nb = int(np.prod(batch))
    out = np.empty(batch + (M, L), dtype=cdt)
    return out, out.reshape(nb, M, L).view(_REAL[np.dtype(cdt)]).reshape(nb, M, L, 2), nb


@contextlib.contextmanager
def _torch_threads_kept():
    """Restore torch's intra-op thread count after a numba parallel region.

    numba's OpenMP threading layer and torch's CPU build share one OpenMP runtime, so
    a parallel numba call resets the thread count a torch user chose (for instance
    ``torch.set_num_threads(1)`` becomes the core count).
    """
    torch = sys.modules.get("torch")
    n = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if n is not None and torch.get_num_threads() != n:
            torch.set_num_threads(n)


def cauchy(vs, z, w, *, conj, z_lo=None, w_lo=None, bad=None):
    """Fused Cauchy reduction on NumPy arrays (contract of ``_reductions_generic.cauchy``).

    ``vs``: kept + (M, N); ``z``: kept' + (L,); ``w``: kept' + (N,), one complex dtype
    (complex64 or complex128). ``z_lo``/``w_lo`` (same shapes and dtype as ``z``/``w``)
    are the low parts of compensated nodes/poles. Returns kept + (M, L). A non-finite
    sum raises ValueError, or, when ``bad`` is a list, appends the chunk ``(index, l0,
    l1)`` holding it to ``bad`` (see
    :func:`~statespace._reduction_contract.task_chunks`).
    """
    rdt = _REAL[np.dtype(vs.dtype)]
    batch = _batch_of(vs.shape[:-2], z.shape[:-1], w.shape[:-1])
    M, N, L = vs.shape[-2], vs.shape[-1], z.shape[-1]
    out, out_f, nb = _out(batch, M, L, vs.dtype)
    if nb == 0 or M == 0:
        return out
    vr, vi = _split(vs, rdt, (-1, M, N))
    zr, zi = _split(z, rdt, (-1, L))
    wr, wi = _split(w, rdt, (-1, N))
    comp = z_lo is not None or w_lo is not None
    if comp:
        zlr, zli = _split(np.zeros_like(z) if z_lo is None else z_lo, rdt, zr.shape)
        wlr, wli = _split(np.zeros_like(w) if w_lo is None else w_lo, rdt, wr.shape)
    else:
        zlr, zli, wlr, wli = zr, zi, wr, wi  # never read
    iv = _index_map(vs.shape[:-2], batch)
    iz = _index_map(z.shape[:-1], batch)
    iw = _index_map(w.shape[:-1], batch)
    lc = _chunk(M, L, rdt, nb)
    nonfinite = np.zeros(nb * -(-L // lc), dtype=np.int64)
    with _torch_threads_kept():
        cauchy_kernel(vr, vi, iv, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw, bool(conj),
                      comp, lc, np.ones(1, rdt), out_f, nonfinite)
    _report_nonfinite(nonfinite, "cauchy_conj" if conj else "cauchy", bad, batch, L, lc)
    return out


def cauchy_vjp(g, z, w, *, conj, z_lo=None, w_lo=None, bad=None):
    r"""Sums over the nodes of the Cauchy reduction's backward pass (NumPy arrays).

    ``g``: batch + (M, L), the incoming gradient of ``y = cauchy(vs, z, w)`` (``batch``
    the broadcast batch of the call); ``z``: kept' + (L,); ``w``: kept' + (N,); one
    complex dtype; ``z_lo``/``w_lo`` the low parts of compensated nodes/poles. Returns
    ``(dv, beta)``, each batch + (M, N):

    .. math:: dv_{mn} = \sum_l g_{ml} \bar r_{ln} (+ \bar g_{ml} r'_{ln}), \quad
              \beta_{mn} = \sum_l g_{ml} \bar r_{ln}^2 (+ \bar g_{ml} r'^2_{ln}),

    ``r = 1/(z - w)``, ``r' = 1/(z - conj(w))`` (the second terms with ``conj``). A
    non-finite entry raises ValueError, or, when ``bad`` is a list, is recorded there
    (``bad.append(True)``) and the result must not be used.
    """
    rdt = _REAL[np.dtype(g.dtype)]
    batch = tuple(g.shape[:-2])
    M, L, N = g.shape[-2], g.shape[-1], w.shape[-1]
    nb = int(np.prod(batch))
    if nb == 0 or M == 0 or N == 0:
        return tuple(np.zeros(batch + (M, N), dtype=g.dtype) for _ in range(2))
    gr, gi = _split(g, rdt, (-1, M, L))
    zr, zi = _split(z, rdt, (-1, L))
    wr, wi = _split(w, rdt, (-1, N))
    comp = z_lo is not None or w_lo is not None
    if comp:
        zlr, zli = _split(np.zeros_like(z) if z_lo is None else z_lo, rdt, zr.shape)
        wlr, wli = _split(np.zeros_like(w) if w_lo is None else w_lo, rdt, wr.shape)
    else:
        zlr, zli, wlr, wli = zr, zi, wr, wi  # never read
    iz = _index_map(z.shape[:-1], batch)
    iw = _index_map(w.shape[:-1], batch)
    # chunks of nodes as in the forward kernel (10 arrays of lc numbers per task)
    lc = _chunk(2, L, rdt, nb)
    nchunk = -(-L // lc)
    part = np.empty((nb, nchunk, 2, M, N, 2), dtype=rdt)
    nonfinite = np.zeros(nb * nchunk, dtype=np.int64)
    with _torch_threads_kept():
        cauchy_vjp_kernel(gr, gi, zr, zi, zlr, zli, iz, wr, wi, wlr, wli, iw, bool(conj),
                          comp, lc, np.array([1, 0], rdt),
                          part.reshape(nb * nchunk, 2, M, N, 2), nonfinite)
    tot = part.sum(axis=1) if nchunk > 1 else part[:, 0]
    out = np.ascontiguousarray(tot).view(g.dtype)[..., 0]  # (nb, 2, M, N)
    if nonfinite.any() or not np.isfinite(tot).all():
        if bad is None:
            raise _contract.nonfinite_error("the backward pass of cauchy")
        bad.append(True)
    out = out.reshape(batch + (2, M, N))
    return out[..., 0, :, :], out[..., 1, :, :]


def vandermonde(vs, x, L, *, bad=None):
    """Fused Vandermonde reduction on NumPy arrays (contract of the generic path).

    ``vs``: kept + (M, N); ``x``: kept' + (N,). Returns kept + (M, L). Non-finite
    sums as in :func:`cauchy`.
    """
    rdt = _REAL[np.dtype(vs.dtype)]
    batch = _batch_of(vs.shape[:-2], x.shape[:-1])
    M, N = vs.shape[-2], vs.shape[-1]
    out, out_f, nb = _out(batch, M, L, vs.dtype)
    if nb == 0 or M == 0:
        return out
    vr, vi = _split(vs, rdt, (-1, M, N))
    xr, xi = _split(x, rdt, (-1, N))
    iv = _index_map(vs.shape[:-2], batch)
    ix = _index_map(x.shape[:-1], batch)
    lc = _chunk(M, L, rdt, nb)
    nonfinite = np.zeros(nb * -(-L // lc), dtype=np.int64)
    with _torch_threads_kept():
        vandermonde_kernel(vr, vi, iv, xr, xi, ix, L, lc, out_f, nonfinite)
    _report_nonfinite(nonfinite, "vandermonde", bad, batch, L, lc)
    return out


# --------------------------------------------------------------------------------------
# eligibility (called by statespace._router)
# --------------------------------------------------------------------------------------
def _host_view(a):
    """``(numpy array, is_torch)`` for a NumPy array or a CPU torch tensor that needs no
    gradient (a zero-copy view), else None."""
    if isinstance(a, np.ndarray):
        return a, False
    if type(a).__module__.startswith("torch"):
        import torch

        if a.device.type != "cpu" or (a.requires_grad and torch.is_grad_enabled()):
            return None
        try:
            return a.detach().resolve_conj().resolve_neg().numpy(), True
        except (RuntimeError, TypeError):  # tensor subclasses, functorch wrappers
            return None
    return None


def _eligible(arrays, work):
    """``(numpy arrays, is_torch)`` when the compiled kernel applies, else None."""
    if not available() or work < MIN_WORK:
        return None
    hosts = []
    for a in arrays:
        h = _host_view(a)
        if h is None:
            return None
        hosts.append(h)
    arrs = [h[0] for h in hosts]
    if arrs[0].dtype not in _REAL or any(a.dtype != arrs[0].dtype for a in arrs):
        return None
    return arrs, hosts[0][1]


def _wrap(y, to_torch):
    if to_torch:
        import torch

        return torch.from_numpy(y)
    return y


def _in_range(rdt, *arrays):
    lim = _RANGE[rdt]
    return all(float(np.max(np.abs(a))) < lim for a in arrays if a.size)


def try_cauchy(vs, z, w, *, conj, z_lo=None, w_lo=None):
    """Run the compiled Cauchy kernel when it applies; None when it does not.

    Arguments as :func:`cauchy`, in NumPy or (CPU, no pending gradient) torch. Returns
    ``(y, bad)``: the result, in the namespace of the inputs, and the list of its
    chunks ``(index, l0, l1)`` that hold a non-finite sum (counted by the kernel as it
    stores; empty almost always), for the router to recompute.
    """
    batch = _batch_of(vs.shape[:-2], z.shape[:-1], w.shape[:-1])
    work = vs.shape[-2] * vs.shape[-1] * z.shape[-1] * int(np.prod(batch))
    extra = [a for a in (z_lo, w_lo) if a is not None]
    got = _eligible((vs, z, w, *extra), work)
    if got is None:
        return None
    arrs, is_torch = got
    v_, z_, w_ = arrs[:3]
    if not _in_range(_REAL[np.dtype(v_.dtype)], z_, w_):
        return None
    lo = iter(arrs[3:])
    zl = next(lo) if z_lo is not None else None
    wl = next(lo) if w_lo is not None else None
    bad = []
    y = cauchy(v_, z_, w_, conj=conj, z_lo=zl, w_lo=wl, bad=bad)
    return _wrap(y, is_torch), bad


def try_cauchy_vjp(g, z, w, *, conj, z_lo=None, w_lo=None):
    """Run the compiled backward kernel (:func:`cauchy_vjp`) when it applies.

    Arguments as :func:`cauchy_vjp`, in NumPy or (CPU) torch. Returns ``(dv, beta)`` in
    the namespace of the inputs, or None when the kernel does not apply or one of its
    sums came out non-finite (the caller then uses its generic backward pass).
    """
    work = g.shape[-2] * w.shape[-1] * g.shape[-1] * int(np.prod(g.shape[:-2]))
    extra = [a for a in (z_lo, w_lo) if a is not None]
    got = _eligible((g, z, w, *extra), work)
    if got is None:
        return None
    arrs, is_torch = got
    g_, z_, w_ = arrs[:3]
    if not _in_range(_REAL[np.dtype(g_.dtype)], z_, w_):
        return None
    lo = iter(arrs[3:])
    zl = next(lo) if z_lo is not None else None
    wl = next(lo) if w_lo is not None else None
    bad = []
    dv, beta = cauchy_vjp(g_, z_, w_, conj=conj, z_lo=zl, w_lo=wl, bad=bad)
    if bad:
        return None
    return _wrap(dv, is_torch), _wrap(beta, is_torch)


def try_cauchy_woodbury1(v, z, w, dt, *, conj, z_woodbury=None):
    r"""The rank-1 S4 generating function in one pass over the nodes, or None.

    ``v``: (m, 4, N) numerators (complex64 or complex128, the working precision) in the
    order ``k00, k01, k10, k11`` of the Woodbury step; ``z``: (L,) nodes and ``w``:
    (m, N) poles, complex128 (split into compensated pairs for complex64 ``v``);
    ``dt``: (m,) float64 steps. Returns the complex128 (m, L)

    .. math:: G = \Delta z \left(k_{00} - \frac{\sigma k_{01} k_{10}}{1 + \sigma k_{11}}
              \right), \qquad \sigma = \tfrac{\Delta}{2}(1 + z),

    with the four Cauchy sums (``conj``: the conjugate-symmetric ones) accumulated in
    the precision of ``v`` and the Woodbury step in float64 as each chunk of nodes is
    stored, in the namespace of ``v``. ``z_woodbury`` (complex128, the shape of ``z``):
    the nodes of the Woodbury step when ``z`` and ``w`` are both shifted by the same
    real number (the differences unchanged); default ``z``. None when the kernel does
    not apply (NumPy or
    CPU torch without a pending gradient, sizes, magnitudes) or a value came out
    non-finite (the caller then takes the separate reduction and Woodbury step).
    """
    work = int(np.prod(v.shape)) * z.shape[-1]
    got = _eligible((v,), work)
    if got is None:
        return None
    hosts = [_host_view(a) for a in (z, w, dt, z if z_woodbury is None else z_woodbury)]
    if any(h is None for h in hosts):
        return None
    (v_,), is_torch = got
    z_, w_, dt_, zw_ = (h[0] for h in hosts)
    if zw_.shape != z_.shape or zw_.dtype != np.complex128:
        return None
    rdt = _REAL[np.dtype(v_.dtype)]
    if z_.dtype != np.complex128 or w_.dtype != np.complex128 or not _in_range(rdt, z_, w_):
        return None
    m, M, N = v_.shape
    L = z_.shape[-1]
    if M != 4 or w_.shape != (m, N) or z_.ndim != 1 or dt_.shape != (m,) or m == 0:
        return None
    comp = rdt == np.float32
    zh = z_.astype(v_.dtype)
    wh = w_.astype(v_.dtype)
    if comp:
        zl = (z_ - zh).astype(v_.dtype)
        wl = (w_ - wh).astype(v_.dtype)
    vr, vi = _split(v_, rdt, (m, 4, N))
    zr, zi = _split(zh, rdt, (1, L))
    wr, wi = _split(wh, rdt, (m, N))
    if comp:
        zlr, zli = _split(zl, rdt, (1, L))
        wlr, wli = _split(wl, rdt, (m, N))
    else:
        zlr, zli, wlr, wli = zr, zi, wr, wi  # never read
    lc = _chunk(4, L, rdt, m)
    nonfinite = np.zeros(m * -(-L // lc), dtype=np.int64)
    out = np.empty((m, L), dtype=np.complex128)
    with _torch_threads_kept():
        cauchy_woodbury1_kernel(vr, vi, zr, zi, zlr, zli, wr, wi, wlr, wli,
                                np.ascontiguousarray(zw_.real).reshape(1, L),
                                np.ascontiguousarray(zw_.imag).reshape(1, L),
                                np.ascontiguousarray(dt_, dtype=np.float64), bool(conj), comp,
                                lc, np.ones(1, rdt), out.view(np.float64).reshape(m, L, 2),
                                nonfinite)
    if nonfinite.any():
        return None
    return _wrap(out, is_torch)


def try_vandermonde(vs, x, L):
    """Run the compiled Vandermonde kernel when it applies; None when it does not.

    Returns ``(y, bad)`` as :func:`try_cauchy`.
    """
    batch = _batch_of(vs.shape[:-2], x.shape[:-1])
    work = vs.shape[-2] * vs.shape[-1] * L * int(np.prod(batch))
    got = _eligible((vs, x), work)
    if got is None:
        return None
    (v_, x_), is_torch = got
    bad = []
    y = vandermonde(v_, x_, L, bad=bad)
    return _wrap(y, is_torch), bad


# --------------------------------------------------------------------------------------
# Vandermonde backward (the l-weighted sums of the autograd Function)
# --------------------------------------------------------------------------------------
@njit(**dict(_INNER, fastmath=False))
def powers(a, c, l0, n, lc):
    """``exp(x l)`` for ``l = l0 .. l0 + n - 1`` as the kernels form it (tests)."""
    tr = np.empty(lc, dtype=np.float64)
    ti = np.empty(lc, dtype=np.float64)
    pr = np.empty(lc, dtype=np.float64)
    pi = np.empty(lc, dtype=np.float64)
    outr = np.empty(n, dtype=np.float64)
    outi = np.empty(n, dtype=np.float64)
    _power_table(a, c, min(lc, n), tr, ti)
    for s in range(0, n, lc):
        k = min(lc, n - s)
        _anchored(a, c, l0 + s, tr, ti, k, pr, pi)
        outr[s:s + k] = pr[:k]
        outi[s:s + k] = pi[:k]
    return outr, outi


@njit(**_OUTER_EXACT)
def vandermonde_grad_kernel(g, ig, vr, vi, iv, xr, xi, ix, lc, gv, gx, nonfinite):
    # one task per (batch row b, mode n): for every numerator m
    #   gv[b, m, n] = sum_l g[b, m, l] conj(P_l),  s_m = sum_l l g[b, m, l] conj(P_l),
    #   gx[b, n] = sum_m conj(v[b, m, n]) s_m,     P_l = exp(x_n l),
    # accumulated in float64 per lane j of the chunk (l = l0 + j), so that the loop over
    # the chunk vectorises without reassociation; the lanes are summed at the end
    nb = ig.shape[0]
    M = vr.shape[1]
    N = vr.shape[2]
    L = g.shape[2]
    for t in prange(nb * N):
        b = t // N
        n = t - b * N
        jg = ig[b]
        jv = iv[b]
        jx = ix[b]
        a = np.float64(xr[jx, n])
        c = np.float64(xi[jx, n])
        tr = np.empty(lc, dtype=np.float64)
        ti = np.empty(lc, dtype=np.float64)
        pr = np.empty(lc, dtype=np.float64)
        pi = np.empty(lc, dtype=np.float64)
        avr = np.zeros((M, lc), dtype=np.float64)
        avi = np.zeros((M, lc), dtype=np.float64)
        axr = np.zeros((M, lc), dtype=np.float64)
        axi = np.zeros((M, lc), dtype=np.float64)
        _power_table(a, c, min(lc, L), tr, ti)
        for l0 in range(0, L, lc):
            n_l = min(L, l0 + lc) - l0
            _anchored(a, c, l0, tr, ti, n_l, pr, pi)
            for k in range(M):
                gk = g[jg, k, l0:l0 + n_l]
                vr_ = avr[k]
                vi_ = avi[k]
                xr_ = axr[k]
                xi_ = axi[k]
                for j in range(n_l):
                    gr = np.float64(gk[j, 0])
                    gi = np.float64(gk[j, 1])
                    # (gr + i gi) (pr - i pi)
                    sr = gr * pr[j] + gi * pi[j]
                    si = gi * pr[j] - gr * pi[j]
                    ell = np.float64(l0 + j)
                    vr_[j] += sr
                    vi_[j] += si
                    xr_[j] += ell * sr
                    xi_[j] += ell * si
        bad = 0
        sxr = 0.0
        sxi = 0.0
        for k in range(M):
            s1r = 0.0
            s1i = 0.0
            s2r = 0.0
            s2i = 0.0
            for j in range(lc):
                s1r += avr[k, j]
                s1i += avi[k, j]
                s2r += axr[k, j]
                s2i += axi[k, j]
            gv[b, k, n, 0] = s1r
            gv[b, k, n, 1] = s1i
            p = np.float64(vr[jv, k, n])
            q = np.float64(vi[jv, k, n])
            # conj(v) s2 = (p - i q)(s2r + i s2i)
            sxr += p * s2r + q * s2i
            sxi += p * s2i - q * s2r
            bad += 0 if (s1r - s1r) + (s1i - s1i) == 0 else 1
        gx[b, n, 0] = sxr
        gx[b, n, 1] = sxi
        bad += 0 if (sxr - sxr) + (sxi - sxi) == 0 else 1
        nonfinite[t] = bad


def _grad_chunk(M, L):
    """Positions per chunk of the backward kernel: its float64 table, powers and ``4 M``
    lane accumulators fill about 32 KiB (a multiple of 16, at most ``L`` rounded up)."""
    lc = max(16, (32768 // 8) // (4 * M + 4) // 16 * 16)
    return min(lc, -(-L // 16) * 16)


def _c_view(a, shape):
    """Interleaved (re, im) float view of a complex array reshaped to ``shape`` (no copy
    when ``a`` is contiguous)."""
    a = np.ascontiguousarray(np.reshape(a, shape[:-1]))
    return a.view(_REAL[np.dtype(a.dtype)]).reshape(shape)


def vandermonde_grad(g, vs, x):
    """Gradients of the Vandermonde reduction ``y = sum_n v e^{x l}`` on NumPy arrays.

    ``g``: batch + (M, L) (the incoming gradient, the full broadcast batch); ``vs``:
    kept + (M, N); ``x``: kept' + (N,), one complex dtype. Returns ``(gv, gx)`` of
    shapes batch + (M, N) and batch + (N,) (not yet summed over broadcast axes):

    .. math::

        gv_{mn} = \\sum_l g_{ml}\\, e^{\\bar x_n l}, \\qquad
        gx_n = \\sum_m \\bar v_{mn} \\sum_l l\\, g_{ml}\\, e^{\\bar x_n l},

    with the powers formed as in the forward kernel (see the module notes) and every
    sum accumulated in float64. ``None`` when a sum is non-finite (the caller falls
    back to its own path).
    """
    rdt = _REAL[np.dtype(vs.dtype)]
    batch = tuple(g.shape[:-2])
    M, N, L = vs.shape[-2], vs.shape[-1], g.shape[-1]
    nb = int(np.prod(batch))
    gv = np.empty(batch + (M, N), dtype=np.complex128)
    gx = np.empty(batch + (N,), dtype=np.complex128)
    if nb == 0 or M == 0:
        return gv.astype(vs.dtype), gx.astype(vs.dtype)
    g_f = _c_view(g, (nb, M, L, 2))
    vr, vi = _split(vs, rdt, (-1, M, N))
    xr, xi = _split(x, rdt, (-1, N))
    ig = np.arange(nb, dtype=np.int64)
    iv = _index_map(vs.shape[:-2], batch)
    ix = _index_map(x.shape[:-1], batch)
    nonfinite = np.zeros(nb * N, dtype=np.int64)
    with _torch_threads_kept():
        vandermonde_grad_kernel(g_f, ig, vr, vi, iv, xr, xi, ix, _grad_chunk(M, L),
                                gv.reshape(nb, M, N).view(np.float64).reshape(nb, M, N, 2),
                                gx.reshape(nb, N).view(np.float64).reshape(nb, N, 2),
                                nonfinite)
    if nonfinite.any():
        return None
    return gv.astype(vs.dtype, copy=False), gx.astype(vs.dtype, copy=False)


def try_vandermonde_grad(g, vs, x):
    """Run :func:`vandermonde_grad` on CPU torch tensors (zero-copy views); None when
    it does not apply (numba missing, switch "generic", small work, not on the CPU) or
    when a sum came out non-finite."""
    M, N, L = vs.shape[-2], vs.shape[-1], g.shape[-1]
    work = M * N * L * int(np.prod(g.shape[:-2]))
    got = _eligible((g, vs, x), work)
    if got is None:
        return None
    (g_, v_, x_), is_torch = got
    res = vandermonde_grad(g_, v_, x_)
    if res is None:
        return None
    return tuple(_wrap(r, is_torch) for r in res)
