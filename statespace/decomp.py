r"""Normal-plus-low-rank (NPLR) and diagonal-plus-low-rank (DPLR) forms.

Every HiPPO matrix of :data:`statespace.hippo.NPLR_MEASURES` is *normal plus low
rank*: with the factor :math:`P_0` (``rank x N``) of
:func:`statespace.hippo.rank_correction`,

.. math:: S = A + P_0^T P_0

is a real normal matrix. A normal matrix has a unitary eigenbasis,
:math:`S = V \Lambda V^*`, so

.. math:: A = V \left(\Lambda - P^* P\right) V^*, \qquad P = P_0 V,

and in the eigenbasis the system :math:`(A, B)` becomes diagonal plus low rank:
:math:`(\Lambda - P^* P, \; V^* B)`. This is the structure S4 exploits (Gu, Goel,
Ré, *Efficiently Modeling Long Sequences with Structured State Spaces*, ICLR 2022,
Section 3 and Appendix C).

Why not ``eig(A)``
------------------
``A`` itself is diagonalisable, but very badly: for LegS the eigenvector matrix
has entries that grow like :math:`2^{4N/3}` (S4 paper, Appendix B, Lemma 3.2), so
``eig(A)`` loses every digit for :math:`N` in the tens, and the change of basis is
useless numerically. The unitary eigenbasis of the normal part is perfectly
conditioned. This module therefore never calls ``eig``: it diagonalises only
:math:`S`, through a Hermitian eigensolver.

Algorithm
---------
Split :math:`S = \mathrm{Sym} + K` into its symmetric and skew-symmetric parts.
Because :math:`S` is normal the two commute, so they are diagonalised together:

1. ``eigh`` of the Hermitian matrix :math:`H = -iK` gives eigenvalues
   :math:`\mu` (in :math:`\pm` pairs, since :math:`\bar H = -H`) and eigenvectors.
2. Inside each cluster of numerically equal :math:`\mu`, ``eigh`` of
   :math:`V_c^* \mathrm{Sym}\, V_c` diagonalises the symmetric part.
3. The eigenvectors for :math:`\mu < 0` are *not* taken from ``eigh``: they are
   the complex conjugates of those for :math:`\mu > 0`, so conjugate pairs are
   exact. The kernel of :math:`K` (:math:`\mu = 0`) is a real invariant subspace:
   a real orthonormal basis of it is computed, ``Sym`` is diagonalised on it, and
   two real eigenvectors :math:`u_1, u_2` with the same eigenvalue are paired as
   :math:`(u_1 + i u_2)/\sqrt2` and its conjugate (the Fourier measures have such
   a pair: the decoupled frequency-0 cosine and sine). A real eigenvalue without
   a partner (odd :math:`N`, or distinct real eigenvalues as for ``diagonal``)
   keeps its real eigenvector.
4. One Newton-Schulz step :math:`F \leftarrow F - F (F^T F - I)/2` on the real
   frame :math:`F = [\sqrt2\,\mathrm{Re}\,V_h, \sqrt2\,\mathrm{Im}\,V_h, V_r]` restores
   orthonormality to rounding: eigenvectors of eigenvalues close to zero are only
   accurate to :math:`\epsilon \|H\| / \mathrm{gap}`, and conjugating them
   exposes that error as a loss of orthogonality between a vector and its own
   conjugate (up to :math:`6 \cdot 10^{-11}` for LegS at :math:`N = 2048`, which
   would break unitarity at the :math:`10 N \epsilon` level without it).
5. :math:`\Lambda_n = v_n^* S v_n` (Rayleigh quotients).

The phase of each eigenvector is fixed so that :math:`B_n = v_n^* B_0` is real and
non-negative (when :math:`|B_n|` is negligible, the first entry of :math:`v_n`
with at least half its largest magnitude is made real and positive); the
representative of a real-eigenvalue pair is the one whose imaginary part is
positive at its first entry of at least half the largest magnitude. These
conventions make the output deterministic up to rounding across backends.

Everything is computed in float64/complex128 and rounded once to the requested
precision. Nothing is clipped or otherwise modified: the identity holds for the
system of :func:`statespace.hippo.transition` itself.

Conventions
-----------
:func:`nplr` returns the full form (``N`` modes) ordered as
:math:`V = [V_h, \bar V_h, V_r]`: first one representative of each conjugate pair
(the real-eigenvalue pairs first, then :math:`\mathrm{Im}\,\Lambda > 0` by
increasing imaginary part), then their conjugates in the same order, then the
unpaired real modes (none for the HiPPO measures at even :math:`N`, except
``diagonal``).

:func:`dplr` returns the *halved* form, as S4 and S4D store it: the ``N // 2``
representatives only. The full system is recovered as
:math:`\Lambda_{full} = [\Lambda, \bar\Lambda]`, :math:`P_{full} = [P, \bar P]`,
:math:`B_{full} = [B, \bar B]`, :math:`V_{full} = [V, \bar V]`; kernels of the
halved system are :math:`2\,\mathrm{Re}(\cdot)` of the sums over the ``N // 2``
modes (``halved=True`` in :mod:`statespace.kernels`). It also provides the S4D
diagonal initialisations (:data:`S4D_INITS`).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

from . import _array, hippo

__all__ = ["NPLR", "DPLR", "S4D_INITS", "S4D_OPTIONS", "B_INITS", "nplr", "dplr"]

#: Diagonal (S4D) initialisations known to :func:`dplr`.
S4D_INITS = (
    "diag-lin", "diag-inv", "diag-legs", "diag-real", "diag-inv2", "diag-quad", "diag-rand",
)

#: The options of the S4D initialisations (keywords of :func:`dplr`) and their defaults.
S4D_OPTIONS = {
    "real_scale": 1.0,
    "imag_scale": 1.0,
    "real_random": False,
    "imag_random": False,
    "B_init": None,
    "B_scale": 1.0,
    "seed": 0,
}

#: Input-vector initialisations of the S4D inits (``B_init`` of :func:`dplr`).
B_INITS = ("constant", "random", "alternating", "unit-cw", "unit-ccw")


class NPLR(NamedTuple):
    """Full normal-plus-low-rank form ``A == V @ (diag(Lambda) - P^H P) @ V^H``."""

    Lambda: Any
    """Eigenvalues of the normal part, shape ``(N,)``."""
    P: Any
    """Low-rank factor in the eigenbasis, ``P_orig @ V``, shape ``(rank, N)``."""
    B: Any
    """Input vector in the eigenbasis, ``V^H B_orig``, shape ``(N,)``."""
    V: Any
    """Unitary eigenbasis of the normal part, shape ``(N, N)``."""


class DPLR(NamedTuple):
    """Conjugate-pair halved diagonal-plus-low-rank form (``N // 2`` modes)."""

    Lambda: Any
    """One eigenvalue of each conjugate pair, shape ``(N // 2,)``."""
    P: Any
    """Low-rank factor of the representatives, shape ``(rank, N // 2)``."""
    B: Any
    """Input vector of the representatives, shape ``(N // 2,)``."""
    V: Any
    """Eigenvectors of the representatives, shape ``(N, N // 2)``, or ``None``."""


class _Eig(NamedTuple):
    # Eigen-decomposition of the normal part in complex128:
    # V_full = [Vh, conj(Vh), Vr], Lambda_full = [Lh, conj(Lh), Lr].
    Lh: Any
    Vh: Any
    Lr: Any
    Vr: Any


# ---------------------------------------------------------------------------
# helpers


def _check_xp(xp):
    if xp is not None and not hasattr(xp, "asarray"):
        raise TypeError(f"xp must be an array namespace (module), got {type(xp).__name__}")


def _cplx(xp, re, im):
    """``re + i im`` for real arrays, in complex128."""
    return xp.astype(re, xp.complex128) + xp.astype(im, xp.complex128) * 1j


def _rmul(xp, a, v):
    """``a @ v`` for real ``a`` and complex ``v`` with two real products."""
    return _cplx(xp, a @ xp.real(v), a @ xp.imag(v))


def _mT(xp, x):
    return xp.matrix_transpose(x)


def _first_large(xp, x):
    """Per column, the entry at the first row where ``|x|`` reaches half its maximum."""
    mag = xp.abs(x)
    big = mag >= 0.5 * xp.max(mag, axis=0)[None, :]
    idx = xp.argmax(xp.astype(big, xp.float64), axis=0)  # first occurrence
    rows = xp.arange(x.shape[0], dtype=idx.dtype, device=_array.device_of(x))
    hit = rows[:, None] == idx[None, :]
    return xp.sum(xp.where(hit, x, xp.zeros_like(x)), axis=0)


def _fix_phase(xp, V, b, thr):
    """Scale each column of ``V`` by a unit number so that ``V^H b`` is real >= 0."""
    r = xp.sum(xp.conj(V) * xp.astype(b, xp.complex128)[:, None], axis=0)
    ar = xp.abs(r)
    use_b = ar > thr
    e = xp.conj(_first_large(xp, V))
    ref = xp.where(use_b, r, e)
    aref = xp.abs(ref)
    aref = xp.where(aref > 0, aref, xp.ones_like(aref))
    return V * (ref / xp.astype(aref, xp.complex128))[None, :]


def _pairs_of_equal(xp, s, tol):
    """Greedy pairing of neighbours of the sorted ``s`` closer than ``tol``."""
    n = s.shape[0]
    if n < 2:
        return [], list(range(n))
    close = (s[1:] - s[:-1]) <= tol
    if not bool(xp.any(close)):
        return [], list(range(n))
    idx = xp.nonzero(close)[0]
    close_at = {int(idx[k]) for k in range(idx.shape[0])}
    pairs, single, i = [], [], 0
    while i < n:
        if i in close_at:
            pairs.append(i)
            i += 2
        else:
            single.append(i)
            i += 1
    return pairs, single


def _take_cols(xp, x, cols):
    if len(cols) == x.shape[1] and cols == list(range(x.shape[1])):
        return x
    ind = xp.asarray(cols, dtype=xp.int64, device=_array.device_of(x))
    return xp.take(x, ind, axis=1)


def _rotate_clusters(xp, V, mu, sym, tol):
    """Diagonalise ``sym`` inside each cluster of equal ``mu`` (columns of ``V``)."""
    n = mu.shape[0]
    if n < 2:
        return V
    close = (mu[1:] - mu[:-1]) <= tol
    if not bool(xp.any(close)):
        return V
    idx = xp.nonzero(close)[0]
    close_at = sorted(int(idx[k]) for k in range(idx.shape[0]))
    blocks, start, i = [], 0, 0
    while i < len(close_at):
        a = close_at[i]
        b = a + 1
        while i + 1 < len(close_at) and close_at[i + 1] == b:
            i += 1
            b += 1
        i += 1
        if a > start:
            blocks.append(V[:, start:a])
        Vc = V[:, a : b + 1]
        T = _mT(xp, xp.conj(Vc)) @ _rmul(xp, sym, Vc)
        T = (T + xp.conj(_mT(xp, T))) / 2
        _, Q = xp.linalg.eigh(T)
        blocks.append(Vc @ Q)
        start = b + 1
    if start < n:
        blocks.append(V[:, start:])
    return xp.concat(blocks, axis=1)


def _normal_eig(xp, S, b, scale):
    """Unitary eigen-decomposition of the real normal matrix ``S`` (float64).

    ``scale`` is the size of the data ``S`` was formed from (rounding errors in
    ``S`` are relative to it, not to ``||S||``, which can be tiny).
    """
    N = S.shape[0]
    dev = _array.device_of(S)
    eps = _array.eps(xp, xp.float64)
    St = _mT(xp, S)
    sym = (S + St) / 2
    skew = (S - St) / 2
    # eigh's eigenvalues are accurate to a modest multiple of eps * ||S||_2, and S
    # carries rounding errors of eps * scale; treat values closer than
    # N * eps * scale as equal.
    tol = N * eps * scale

    half = N // 2
    if half and bool(xp.any(skew != 0)):
        mu, W = xp.linalg.eigh(xp.astype(skew, xp.complex128) * (-1j))
        # symmetrised magnitudes of the +-mu pairs; decreasing, so the positive
        # modes are the last h eigenvectors and the (numerical) kernel of K is
        # the middle block.
        sep = (xp.flip(mu)[:half] - mu[:half]) / 2
        h = int(xp.sum(xp.astype(sep > tol, xp.int64)))
    else:  # K == 0 (e.g. 'diagonal'): the whole space is the real kernel
        h = 0
    z = N - 2 * h

    # modes with mu > 0, ascending; diagonalise Sym inside clusters of equal mu
    if h:
        Vpos = _rotate_clusters(xp, W[:, N - h :], mu[N - h :], sym, tol)
    else:
        Vpos = xp.zeros((N, 0), dtype=xp.complex128, device=dev)

    # real invariant subspace ker(K): real orthonormal basis, then Sym on it
    if z == N:
        U0 = xp.eye(N, dtype=xp.float64, device=dev)
    elif z > 0:
        W0 = W[:, h : N - h]
        M = xp.concat([xp.real(W0), xp.imag(W0)], axis=1)
        U0 = xp.linalg.svd(M, full_matrices=False)[0][:, :z]
    if z > 0:
        s0, Q = xp.linalg.eigh(_mT(xp, U0) @ (sym @ U0))
        U0 = U0 @ Q
        pairs, single = _pairs_of_equal(xp, s0, tol)
        X0 = _take_cols(xp, U0, pairs)
        Y0 = _take_cols(xp, U0, [i + 1 for i in pairs])
        Ur = _take_cols(xp, U0, single)
    else:
        X0 = Y0 = Ur = xp.zeros((N, 0), dtype=xp.float64, device=dev)
    p = X0.shape[1]

    # real frame [Re, Im, real] (orthonormal in exact arithmetic), one
    # Newton-Schulz step to restore orthonormality lost by conjugation
    r2 = math.sqrt(2.0)
    F = xp.concat([X0, r2 * xp.real(Vpos), Y0, r2 * xp.imag(Vpos), Ur], axis=1)
    G = _mT(xp, F) @ F - xp.eye(N, dtype=xp.float64, device=dev)
    F = F - (F @ G) / 2
    k = p + h
    Vh = _cplx(xp, F[:, :k], F[:, k : 2 * k]) / r2
    Vr = xp.astype(F[:, 2 * k :], xp.complex128)

    # deterministic phases: B_n = v_n^H b real and >= 0
    thr = math.sqrt(eps) * float(xp.sqrt(xp.sum(b * b)))
    Vh = _fix_phase(xp, Vh, b, thr)
    Vr = _fix_phase(xp, Vr, b, thr)
    if p:
        # representative of a real-eigenvalue pair: Im(v) > 0 at its first large entry
        sgn = _first_large(xp, xp.imag(Vh[:, :p]))
        Vz = xp.where((sgn < 0)[None, :], xp.conj(Vh[:, :p]), Vh[:, :p])
        Vh = xp.concat([Vz, Vh[:, p:]], axis=1)

    Lh = xp.sum(xp.conj(Vh) * _rmul(xp, S, Vh), axis=0)
    Lr = xp.sum(xp.conj(Vr) * _rmul(xp, S, Vr), axis=0)
    return _Eig(Lh, Vh, Lr, Vr)


def _project(xp, P0, b, V):
    """``(P0 @ V, V^H b)`` for real ``P0``, ``b`` and complex ``V``."""
    P = _rmul(xp, P0, V)
    B = _cplx(xp, b @ xp.real(V), -(b @ xp.imag(V)))
    return P, B


def _decompose(measure, N, xp, device, params):
    """Validated float64 system and the eigen-decomposition of its normal part."""
    P0 = hippo.rank_correction(measure, N, xp=xp, device=device, **params)
    A, b = hippo.transition(measure, N, xp=xp, device=device, **params)
    S = A + _mT(xp, P0) @ P0
    # ||A||_F + ||P0||_F^2 bounds the size of the terms S is summed from
    scale = float(xp.sqrt(xp.sum(A * A))) + float(xp.sum(P0 * P0))
    return _normal_eig(xp, S, b, scale), P0, b


# ---------------------------------------------------------------------------
# public API


@_array.set_up
def nplr(measure, N, *, dtype=None, xp=None, device=None, **params):
    r"""Full normal-plus-low-rank form of a HiPPO matrix.

    Parameters
    ----------
    measure : str
        One of :data:`statespace.hippo.NPLR_MEASURES` or
        :data:`statespace.hippo.REFERENCE_MEASURES`.
    N : int
        State size, ``N >= 1`` (even for the Fourier measures).
    dtype : dtype, optional
        float32 or float64 of ``xp`` (default float64); the outputs are complex64
        or complex128. The decomposition is computed in float64/complex128 and
        rounded once.
    xp : namespace, optional
        Array namespace of the result (default NumPy).
    device : device, optional
        Device of the result.
    **params
        Measure parameters, as for :func:`statespace.hippo.transition`.

    Returns
    -------
    NPLR
        Named tuple ``(Lambda, P, B, V)``: ``Lambda`` (N,), ``P`` (rank, N),
        ``B`` (N,), ``V`` (N, N) unitary, all complex.

    Raises
    ------
    ValueError
        Unknown measure, ``N < 1``, odd ``N`` for a Fourier measure, or a measure
        without an NPLR form (``lmu``, ``random``, ``glagt`` with ``alpha != 0``).
    TypeError
        ``measure`` not a string, ``N`` not an integer, bad ``dtype``/``xp`` or an
        unknown parameter.

    Notes
    -----
    With :math:`(A, B_0)` from :func:`statespace.hippo.transition` and
    :math:`P_0` from :func:`statespace.hippo.rank_correction`, the normal part
    :math:`S = A + P_0^T P_0` is diagonalised by a unitary :math:`V`, and

    .. math::

        A = V\,\bigl(\mathrm{diag}(\Lambda) - P^* P\bigr)\,V^*, \qquad
        P = P_0 V, \qquad B = V^* B_0, \qquad \Lambda_n = v_n^* S v_n .

    The modes are ordered :math:`V = [V_h, \bar V_h, V_r]` (see the module
    docstring): representatives of the conjugate pairs, their conjugates in the
    same order, then unpaired real modes. Each :math:`B_n` is real and
    non-negative (phase convention). For ``legs``, :math:`\Lambda_n = -\tfrac12 +
    i\mu_n` with :math:`\mu_n` the eigenvalues of the skew part.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> A, B = ss.hippo.transition("legs", 8)
    >>> d = ss.nplr("legs", 8)
    >>> Ar = d.V @ (np.diag(d.Lambda) - d.P.conj().T @ d.P) @ d.V.conj().T
    >>> bool(np.allclose(Ar, A, rtol=0, atol=1e-12))
    True
    >>> bool(np.allclose(d.Lambda.real, -0.5))
    True
    >>> bool(np.allclose(d.Lambda[4:], d.Lambda[:4].conj()))
    True
    """
    _check_xp(xp)
    xp = _array.namespace(xp=xp)
    _array.check_device(xp, device)
    dtype = _array.float_dtype(xp, dtype)
    e, P0, b = _decompose(measure, N, xp, device, params)
    V = xp.concat([e.Vh, xp.conj(e.Vh), e.Vr], axis=1)
    Lam = xp.concat([e.Lh, xp.conj(e.Lh), e.Lr])
    Ph, Bh = _project(xp, P0, b, e.Vh)
    Pr, Br = _project(xp, P0, b, e.Vr)
    P = xp.concat([Ph, xp.conj(Ph), Pr], axis=1)
    B = xp.concat([Bh, xp.conj(Bh), Br])
    cdt = _array.complex_dtype(xp, dtype)
    return NPLR(*(xp.astype(x, cdt) for x in (Lam, P, B, V)))


def _check_dplr_args(name, N):
    if not isinstance(name, str):
        raise TypeError(f"measure_or_init must be a string, got {type(name).__name__}")
    if isinstance(N, bool) or not isinstance(N, numbers.Integral):
        raise TypeError(f"N must be an integer, got {type(N).__name__}")
    N = int(N)
    if N < 2:
        raise ValueError(f"N must be >= 2 for the halved form, got N={N}")
    if N % 2:
        raise ValueError(f"N must be even for the halved (conjugate-pair) form, got N={N}")
    if (name not in S4D_INITS and name not in hippo.MEASURES
            and name not in hippo.REFERENCE_MEASURES):
        raise ValueError(
            f"unknown measure_or_init {name!r}; expected a HiPPO measure "
            f"{hippo.MEASURES + hippo.REFERENCE_MEASURES} or an S4D init {S4D_INITS}"
        )
    return N


def _halved(measure, N, xp, device, params):
    e, P0, b = _decompose(measure, N, xp, device, params)
    if e.Vr.shape[1]:
        raise ValueError(
            f"measure {measure!r} with N={N} has {e.Vr.shape[1]} real eigenvalue(s) of "
            "its normal part that cannot be grouped into conjugate pairs, so it has no "
            "halved form; use nplr() for the full form"
        )
    P, B = _project(xp, P0, b, e.Vh)
    return e.Lh, P, B, e.Vh


@_array.set_up
def dplr(measure_or_init, N, *, dtype=None, xp=None, device=None, **params):
    r"""Conjugate-pair halved DPLR form of a HiPPO matrix, or an S4D initialisation.

    Parameters
    ----------
    measure_or_init : str
        A HiPPO measure of :data:`statespace.hippo.NPLR_MEASURES` or
        :data:`statespace.hippo.REFERENCE_MEASURES`, or one of
        :data:`S4D_INITS` (``'diag-lin'``, ``'diag-inv'``, ``'diag-legs'``,
        ``'diag-real'``, ``'diag-inv2'``, ``'diag-quad'``, ``'diag-rand'``).
    N : int
        Full state size, even and ``>= 2``; the result has ``N // 2`` modes.
    dtype : dtype, optional
        float32 or float64 of ``xp`` (default float64); outputs are complex64 or
        complex128, computed in double precision and rounded once.
    xp : namespace, optional
        Array namespace of the result (default NumPy).
    device : device, optional
        Device of the result.
    **params
        Measure parameters, as for :func:`statespace.hippo.transition`; for the S4D
        inits the options of :data:`S4D_OPTIONS`: ``real_scale`` (float >= 0),
        ``imag_scale`` (float >= 0), ``real_random`` (bool), ``imag_random``
        (bool), ``B_init`` (one of :data:`B_INITS`, default the init's own ``B``),
        ``B_scale`` (float) and ``seed`` (int >= 0) for the random draws (see
        Notes).

    Returns
    -------
    DPLR
        Named tuple ``(Lambda, P, B, V)``: ``Lambda`` (N//2,), ``P``
        (rank, N//2), ``B`` (N//2,), ``V`` (N, N//2). For the S4D inits ``V`` is
        ``None`` and ``P`` has shape ``(0, N//2)`` (rank 0, purely diagonal).

    Raises
    ------
    ValueError
        Unknown name, ``N < 2`` or odd, a measure without an NPLR form, or a
        measure whose normal part has real eigenvalues that do not pair up
        (``diagonal``: its eigenvalues are real and distinct).
    TypeError
        Bad argument types or unknown parameters.

    Notes
    -----
    For a HiPPO measure, with :math:`h = N/2` and the representatives
    :math:`V_h` of :func:`nplr`,

    .. math::

        A = V_{full}\bigl(\mathrm{diag}(\Lambda_{full}) - P_{full}^* P_{full}\bigr)
        V_{full}^*, \quad V_{full} = [V, \bar V], \;
        \Lambda_{full} = [\Lambda, \bar\Lambda], \; P_{full} = [P, \bar P],

    and :math:`B_{full} = [B, \bar B] = V_{full}^* B_0`.

    The S4D initialisations (Gu, Gupta, Goel, Ré, *On the Parameterization and
    Initialization of Diagonal State Space Models*, NeurIPS 2022), for
    :math:`n = 0, \dots, N/2 - 1`:

    * ``diag-lin`` (S4D-Lin): :math:`\Lambda_n = -\tfrac12 + i\pi n`,
      :math:`B_n = 1`.
    * ``diag-inv`` (S4D-Inv):
      :math:`\Lambda_n = -\tfrac12 + i\frac{N}{\pi}\left(\frac{N}{2n+1} - 1\right)`,
      :math:`B_n = 1`.
    * ``diag-legs`` (S4D-LegS): :math:`\Lambda` and :math:`B` of
      ``dplr('legs', N)``, i.e. the halved eigen-decomposition of the normal part
      of LegS, :math:`\Lambda_n = -\tfrac12 + i\mu_n` with :math:`\mu_n > 0` the
      eigenvalues of its skew part and :math:`B = V^* B_{legs}`; :math:`P` is
      dropped.
    * ``diag-real``: :math:`\Lambda_n = -(n + 1)` (stored complex),
      :math:`B_n = 1`.
    * ``diag-inv2``:
      :math:`\Lambda_n = -\tfrac12 + i\frac{N}{\pi}\left(\frac{N}{n+1} - 1\right)`,
      :math:`B_n = 1`.
    * ``diag-quad``: :math:`\Lambda_n = -\tfrac12 + i\frac{(2n+1)^2}{\pi}`,
      :math:`B_n = 1`.
    * ``diag-rand``: :math:`\Lambda_n = -\tfrac12 + i\,e^{g_n}`,
      :math:`g_n \sim \mathcal N(0, 1)`, :math:`B_n = 1`.

    **Options** (the reference S4 implementation's, same names). In general
    :math:`\Lambda_n = -s_{re}\, r_n + i\, s_{im}\, f(\iota_n)` with
    ``real_scale`` :math:`s_{re}` and ``imag_scale`` :math:`s_{im}`, where
    :math:`r_n = \tfrac12` (``diag-real``: :math:`n + 1`; ``diag-legs``:
    :math:`-\mathrm{Re}\,\Lambda^{legs}_n`, i.e. :math:`\tfrac12` to rounding),
    :math:`\iota_n = n` and :math:`f` the imaginary-part formula of the init above
    written in :math:`n` (``lin``: :math:`\pi\iota`; ``inv``:
    :math:`\frac N\pi(\frac N{2\iota+1} - 1)`; ``inv2``:
    :math:`\frac N\pi(\frac N{\iota+1} - 1)`; ``quad``:
    :math:`(1+2\iota)^2/\pi`; ``rand``: :math:`e^{g}`; ``real``: 0; ``legs``: the
    LegS eigenvalues, ignoring :math:`\iota`). ``real_random`` draws
    :math:`r_n \sim U[0, 1)` (``diag-real``: :math:`\tfrac N2 U[0, 1)`);
    ``imag_random`` draws :math:`\iota_n \sim \tfrac N2 U[0, 1)`. ``B_init``:
    ``constant`` :math:`B_n = 1`; ``random`` :math:`B_n = (a_n + i b_n)/\sqrt2`,
    :math:`a_n, b_n \sim \mathcal N(0, 1)` (so :math:`E|B_n|^2 = 1`);
    ``alternating`` :math:`B_n = (-1)^n`; ``unit-cw``
    :math:`B_n = e^{2\pi i n/N}` and ``unit-ccw`` :math:`B_n = e^{-2\pi i n/N}`;
    then :math:`B \leftarrow` ``B_scale`` :math:`\cdot B`. The draws come from
    ``numpy.random.default_rng(seed)`` in the order :math:`r`, :math:`\iota`,
    :math:`g`, then :math:`(a, b)` as one ``(2, N/2)`` normal draw, each only when
    used.

    Conventions relative to the reference implementation: its :math:`\Lambda`
    are the complex conjugates of ours (it stores :math:`-r - i\,\mathrm{Im}`),
    so each ``B`` here is the conjugate of its ``B`` and the halved system is the
    conjugate of its system (the same real kernel :math:`2\,\mathrm{Re}` for
    :math:`\bar C`). Hence ``unit-cw`` is :math:`e^{+2\pi i n/N}` here: in both,
    "cw" means that :math:`B_n` turns in the same sense as :math:`\Lambda_n` as
    :math:`n` grows. Its ``real_scale`` does not apply to ``diag-real`` and its
    random ``diag-real`` part is ``floor(N U / 2)``; here the scale applies to
    every init and nothing is floored. Its ``alternating`` needs
    :math:`N \equiv 0 \pmod 4`; ours does not. ``diag-legs`` uses
    ``B_init`` only when it is given.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> h = ss.dplr("legs", 8)
    >>> h.Lambda.shape, h.P.shape, h.V.shape
    ((4,), (1, 4), (8, 4))
    >>> A, _ = ss.hippo.transition("legs", 8)
    >>> V = np.concatenate([h.V, h.V.conj()], axis=1)
    >>> L = np.concatenate([h.Lambda, h.Lambda.conj()])
    >>> P = np.concatenate([h.P, h.P.conj()], axis=1)
    >>> bool(np.allclose(V @ (np.diag(L) - P.conj().T @ P) @ V.conj().T, A))
    True
    >>> s = ss.dplr("diag-lin", 4)
    >>> s.Lambda
    array([-0.5+0.j        , -0.5+3.14159265j])
    >>> s.P.shape, s.V is None
    ((0, 2), True)

    The reference implementation's options, e.g. S4D-Inv2 with a random real part
    and unit-modulus ``B``:

    >>> s = ss.dplr("diag-inv2", 4, real_random=True, B_init="unit-cw", seed=0)
    >>> np.round(s.Lambda, 4)
    array([-0.637 +3.8197j, -0.2698+1.2732j])
    >>> np.round(s.B, 4)
    array([1.+0.j, 0.+1.j])
    """
    N = _check_dplr_args(measure_or_init, N)
    _check_xp(xp)
    xp = _array.namespace(xp=xp)
    _array.check_device(xp, device)
    dtype = _array.float_dtype(xp, dtype)
    cdt = _array.complex_dtype(xp, dtype)
    if measure_or_init in S4D_INITS:
        opts = _check_s4d_options(measure_or_init, params)
        Lam, B = _s4d(measure_or_init, N, xp, device, opts)
        P = xp.zeros((0, N // 2), dtype=cdt, device=device)
        return DPLR(xp.astype(Lam, cdt), P, xp.astype(B, cdt), None)
    Lam, P, B, V = _halved(measure_or_init, N, xp, device, params)
    return DPLR(*(xp.astype(x, cdt) for x in (Lam, P, B, V)))


def _check_s4d_options(init, params):
    unknown = set(params) - set(S4D_OPTIONS)
    if unknown:
        raise TypeError(
            f"S4D init {init!r} takes no parameter(s) {sorted(unknown)}; it accepts "
            f"{sorted(S4D_OPTIONS)}"
        )
    opts = dict(S4D_OPTIONS)
    opts.update(params)
    for name in ("real_scale", "imag_scale"):
        opts[name] = _array.check_number(opts[name], name)
        if opts[name] < 0:
            raise ValueError(f"{name} must be >= 0, got {opts[name]}")
    opts["B_scale"] = _array.check_number(opts["B_scale"], "B_scale")
    for name in ("real_random", "imag_random"):
        opts[name] = _array.check_flag(opts[name], name)
    seed = _array.check_number(opts["seed"], "seed", integer=True)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    opts["seed"] = seed
    b = opts["B_init"]
    if b is not None:
        if not isinstance(b, str):
            raise TypeError(f"B_init must be a string or None, got {type(b).__name__}")
        if b not in B_INITS:
            raise ValueError(f"unknown B_init {b!r}; expected one of {B_INITS}")
    return opts


def _s4d(init, N, xp, device, opts=None):
    import numpy as np  # random draws are set-up work; the result goes to ``xp``

    opts = dict(S4D_OPTIONS) if opts is None else opts
    h = N // 2
    rng = np.random.default_rng(opts["seed"])
    n = xp.arange(h, dtype=xp.float64, device=device)
    ones = xp.ones_like(n)
    B = None
    if init == "diag-legs":
        Lam, _, B, _ = _halved("legs", N, xp, device, {})
        plain = all(opts[k] == v for k, v in S4D_OPTIONS.items() if k != "seed")
        if plain:  # the decomposition itself, untouched
            return Lam, B
        r, im = -xp.real(Lam), xp.imag(Lam)
    else:
        r = (n + 1) if init == "diag-real" else 0.5 * ones
    if opts["real_random"]:
        u = xp.asarray(rng.random(h), dtype=xp.float64, device=device)
        r = (N / 2) * u if init == "diag-real" else u
    if init != "diag-legs":
        iota = n
        if opts["imag_random"]:
            iota = (N // 2) * xp.asarray(rng.random(h), dtype=xp.float64, device=device)
        if init == "diag-lin":
            im = math.pi * iota
        elif init == "diag-inv":
            im = (N / math.pi) * (N / (2 * iota + 1) - 1)
        elif init == "diag-inv2":
            im = (N / math.pi) * (N / (iota + 1) - 1)
        elif init == "diag-quad":
            im = (1 + 2 * iota) ** 2 / math.pi
        elif init == "diag-rand":
            im = xp.exp(xp.asarray(rng.standard_normal(h), dtype=xp.float64, device=device))
        else:  # diag-real
            im = xp.zeros_like(n)
    Lam = _cplx(xp, -opts["real_scale"] * r, opts["imag_scale"] * im)
    kind = opts["B_init"]
    if kind is None and B is None:
        kind = "constant"
    if kind == "constant":
        B = xp.astype(ones, xp.complex128)
    elif kind == "random":
        g = rng.standard_normal((2, h)) / math.sqrt(2.0)
        B = _cplx(xp, xp.asarray(g[0], device=device), xp.asarray(g[1], device=device))
    elif kind == "alternating":
        B = xp.astype(xp.where(n % 2 == 0, ones, -ones), xp.complex128)
    elif kind in ("unit-cw", "unit-ccw"):
        # the angle 2 pi n / N reduced to [0, 2 pi) exactly before cos/sin
        t = (2 * math.pi / N) * (n % N)
        sign = 1.0 if kind == "unit-cw" else -1.0
        B = _cplx(xp, xp.cos(t), sign * xp.sin(t))
    if opts["B_scale"] != 1.0:
        B = B * opts["B_scale"]
    return Lam, B
