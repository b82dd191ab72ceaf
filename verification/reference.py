r"""Ground truth from definitions, in mpmath.

Every function here recomputes a quantity of :mod:`statespace` from its
mathematical definition at ``dps`` significant decimal digits, without calling
any computational code of :mod:`statespace` (only the *names* in
:data:`statespace.hippo.MEASURES` are shared):

* :func:`transition`, :func:`rank_correction`: HiPPO ``(A, B)`` and ``P``, every
  entry evaluated from its closed form;
* :func:`discretize`: bilinear / GBT / forward and backward Euler by
  high-precision LU solves, zero-order hold by the matrix exponential of the
  augmented matrix :math:`\begin{pmatrix} A & B \\ 0 & 0 \end{pmatrix} \Delta t`;
* :func:`kernel`: :math:`K_\ell = C \bar A^\ell \bar B` by explicit repeated
  matrix-vector products;
* :func:`normal_eigenvalues`: eigenvalues of the normal part
  :math:`S = A + P^T P` by a Hermitian eigensolver;
* :func:`eigenvalues`: general eigenvalues by :func:`mpmath.eig` (see the warning
  there);
* :func:`to_numpy`, :func:`to_float_pair`, :func:`ulp_errors`: correctly rounded
  conversion and ulp-exact comparison with float64 results.

:func:`discretize` and :func:`kernel` also take ``engine="arb"``: the same
computation in python-flint's ball arithmetic (C speed; certified radii on
request). mpmath stays the default, so the two engines cross-check each other.

Self-check
----------
A high-precision computation can still be wrong: :func:`mpmath.eig`, for one,
silently loses digits on ill-conditioned matrices (LegS ``N = 64``: eigenvalues
off by ``1e-14`` at ``dps = 60``). :func:`converged` therefore runs a reference
function at ``dps`` and at ``dps + extra``, measures how many significant digits
the two agree on and returns a :class:`Reference` carrying the value, the
precision and ``digits_agree``. A reference whose ``digits_agree`` is below the
digits a comparison needs (17 for float64 checks, :data:`FLOAT64_DIGITS`) has
``converged == False`` and must never count as a pass;
:func:`statespace.verification.report.compare` enforces this.

Precision contexts
------------------
Each call computes in a private :class:`mpmath.MPContext`, so reference
functions can run concurrently in threads without racing on the global
``mpmath.mp`` precision. Results are returned as ordinary ``mpmath.mpf`` /
``mpmath.mpc`` numbers and ``mpmath.matrix`` objects carrying every computed
digit (no rounding to the global precision), so they mix freely with each other
and with user code; arithmetic *on* them runs at the caller's ``mpmath.mp``
precision, so wrap it in ``mpmath.workdps(...)``.

Examples
--------
>>> import mpmath
>>> from statespace.verification import reference as ref
>>> A, B = ref.transition("legs", 3, dps=30)
>>> print(mpmath.nstr(A[2, 1], 30))
-3.87298334620741688517926539978
>>> r = ref.converged(ref.transition, "legs", 8, dps=30)
>>> r.converged, r.digits_agree
(True, 30.0)
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import mpmath
import numpy as np

__all__ = [
    "FLOAT32_DIGITS",
    "FLOAT64_DIGITS",
    "Reference",
    "NotConvergedError",
    "converged",
    "agreeing_digits",
    "transition",
    "rank_correction",
    "discretize",
    "kernel",
    "normal_eigenvalues",
    "eigenvalues",
    "to_numpy",
    "to_float_pair",
    "FloatPair",
    "ulp_errors",
    "METHODS",
    "ENGINES",
    "FORMULA_MEASURES",
    "NPLR_FORMULA_MEASURES",
]

#: Significant digits a reference needs before float64 results are judged by it
#: (float64 has 15.95 digits; one more so the reference error is < 1/10 ulp).
FLOAT64_DIGITS = 17
#: Significant digits a reference needs before float32 results are judged by it.
FLOAT32_DIGITS = 9

#: Measures with a closed form (``random`` and ``diagonal`` are random draws).
FORMULA_MEASURES = (
    "legs",
    "legsd",
    "legt",
    "lmu",
    "lagt",
    "tlagt",
    "glagt",
    "fout",
    "fourier_decay",
    "foud",
)
#: Formula measures with a normal-plus-low-rank form.
NPLR_FORMULA_MEASURES = (
    "legs",
    "legsd",
    "legt",
    "lagt",
    "tlagt",
    "glagt",
    "fout",
    "fourier_decay",
    "foud",
)
_FOURIER = ("fout", "fourier_decay", "foud")
_PARAMS = {
    "lagt": {"beta": 1.0},
    "tlagt": {"beta": 1.0},
    "glagt": {"alpha": 0.0, "beta": 0.01},
}

#: Engines of :func:`discretize` and :func:`kernel`.
ENGINES = ("mpmath", "arb")
_FLINT_LOCK = threading.Lock()  # python-flint's precision is global: one arb job at a time

#: Discretization methods of :func:`discretize` (aliases: ``forward``, ``backward``).
METHODS = ("bilinear", "gbt", "forward_euler", "backward_euler", "zoh")
_ALIASES = {"forward": "forward_euler", "euler": "forward_euler", "backward": "backward_euler"}


# --------------------------------------------------------------------------- contexts


def _context(dps):
    """A fresh mpmath context at ``dps`` digits (private: thread-safe)."""
    if isinstance(dps, bool) or not isinstance(dps, numbers.Integral):
        raise TypeError(f"dps must be an integer, got {type(dps).__name__}")
    if dps < 5:
        raise ValueError(f"dps must be >= 5, got {dps}")
    ctx = mpmath.MPContext()
    ctx.dps = int(dps)
    return ctx


def _num(ctx, v):
    """Convert one scalar to ``ctx`` exactly (floats are binary, taken as is)."""
    if hasattr(v, "_mpf_"):
        return ctx.make_mpf(v._mpf_)
    if hasattr(v, "_mpc_"):
        return ctx.make_mpc(v._mpc_)
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("boolean entries are not numbers here")
    if isinstance(v, numbers.Integral):
        return ctx.mpf(int(v))
    if isinstance(v, numbers.Real):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"non-finite input {f!r}")
        return ctx.mpf(f)
    if isinstance(v, numbers.Complex):
        c = complex(v)
        if not (math.isfinite(c.real) and math.isfinite(c.imag)):
            raise ValueError(f"non-finite input {c!r}")
        return ctx.mpc(c.real, c.imag)
    if isinstance(v, str):
        return ctx.mpmathify(v)
    raise TypeError(f"cannot convert {type(v).__name__} to an mpmath number")


def _rows(ctx, X, name):
    """``X`` (mpmath matrix, array or nested list) as a list of rows of ``ctx`` numbers."""
    if hasattr(X, "rows") and hasattr(X, "cols") and hasattr(X, "tolist"):
        return [[_num(ctx, v) for v in row] for row in X.tolist()]
    arr = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if arr.ndim == 1:
        return [[_num(ctx, v)] for v in arr.tolist()]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {arr.shape}")
    return [[_num(ctx, v) for v in row] for row in arr.tolist()]


def _vector(ctx, x, name):
    """A SISO vector (``(N,)``, ``(N, 1)`` or ``(1, N)``) as a list of ``ctx`` numbers."""
    rows = _rows(ctx, x, name)
    if all(len(r) == 1 for r in rows):
        return [r[0] for r in rows]
    if len(rows) == 1:
        return list(rows[0])
    raise ValueError(f"{name} must be a vector, got {len(rows)} x {len(rows[0])}")


def _matrix(ctx, rows):
    m = ctx.matrix(len(rows), len(rows[0]) if rows else 0)
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            if v:
                m[i, j] = v
    return m


def _export_num(v):
    """A private-context number as a global ``mpmath`` number, digits unchanged."""
    if hasattr(v, "_mpf_"):
        return mpmath.mp.make_mpf(v._mpf_)
    if hasattr(v, "_mpc_"):
        return mpmath.mp.make_mpc(v._mpc_)
    return v


def _export(x):
    """Results of a private context -> global mpmath objects (exact copies)."""
    if hasattr(x, "rows") and hasattr(x, "cols") and hasattr(x, "tolist"):
        m = mpmath.matrix(x.rows, x.cols)
        for i, row in enumerate(x.tolist()):
            for j, v in enumerate(row):
                if v:
                    m[i, j] = _export_num(v)
        return m
    if isinstance(x, (list, tuple)):
        return type(x)(_export(v) for v in x)
    return _export_num(x)


# --------------------------------------------------------------------------- HiPPO


def _check_measure(measure, N, params, allowed_measures):
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a string, got {type(measure).__name__}")
    if measure not in allowed_measures:
        raise ValueError(
            f"measure {measure!r} has no closed form here; expected one of {allowed_measures}"
        )
    if isinstance(N, bool) or not isinstance(N, numbers.Integral):
        raise TypeError(f"N must be an integer, got {type(N).__name__}")
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    if measure in _FOURIER and N % 2:
        raise ValueError(f"measure {measure!r} needs an even N, got N={N}")
    allowed = _PARAMS.get(measure, {})
    unknown = set(params) - set(allowed)
    if unknown:
        raise TypeError(f"measure {measure!r} takes no parameter(s) {sorted(unknown)}")
    out = dict(allowed)
    out.update(params)
    return int(N), out


def _transition_rows(ctx, measure, N, p):
    """(A rows, B list) of a formula measure in ``ctx``."""
    zero = ctx.zero
    half = ctx.mpf(1) / 2
    A = [[zero] * N for _ in range(N)]
    B = [zero] * N
    # sqrt(2n+1) for every n; the products r[n] r[k] equal sqrt((2n+1)(2k+1))
    # to the working precision.
    r = [ctx.sqrt(2 * n + 1) for n in range(N)]
    if measure == "legs":
        for n in range(N):
            for k in range(n):
                A[n][k] = -r[n] * r[k]
            A[n][n] = ctx.mpf(-(n + 1))
            B[n] = r[n]
    elif measure == "legsd":
        for n in range(N):
            for k in range(N):
                if n > k:
                    A[n][k] = -r[n] * r[k] * half
                elif n < k:
                    A[n][k] = r[n] * r[k] * half
            A[n][n] = -half
            B[n] = r[n] * half
    elif measure == "legt":
        for n in range(N):
            for k in range(N):
                v = -r[n] * r[k] * half if n != k else ctx.mpf(-(2 * n + 1)) / 2
                if n < k and (n - k) % 2:
                    v = -v
                A[n][k] = v
            B[n] = r[n] * half
    elif measure == "lmu":
        for n in range(N):
            for k in range(N):
                if n < k:
                    A[n][k] = ctx.mpf(-(2 * n + 1))
                else:
                    A[n][k] = ctx.mpf((2 * n + 1) * (-1) ** (n - k + 1))
            B[n] = ctx.mpf((2 * n + 1) * (-1) ** n)
    elif measure in ("lagt", "tlagt"):
        beta = _num(ctx, p["beta"])
        diag = -half if measure == "lagt" else (1 - beta) / 2 - 1
        for n in range(N):
            for k in range(n):
                A[n][k] = ctx.mpf(-1)
            A[n][n] = diag
            B[n] = beta
    elif measure == "glagt":
        alpha, beta = _num(ctx, p["alpha"]), _num(ctx, p["beta"])
        if not (-1 < alpha < 1):
            raise ValueError(f"glagt needs -1 < alpha < 1, got alpha={p['alpha']}")
        if not beta > 0:
            raise ValueError(f"glagt needs beta > 0, got beta={p['beta']}")
        # s_n = sqrt(Gamma(n + alpha + 1) / Gamma(n + 1))
        s = [ctx.sqrt(ctx.gamma(n + alpha + 1) / ctx.gamma(n + 1)) for n in range(N)]
        c = beta ** ((1 - alpha) / 2) / (ctx.gamma(alpha + 1) * ctx.sqrt(ctx.gamma(1 - alpha)))
        d = -(1 + beta) / 2
        for n in range(N):
            for k in range(n):
                A[n][k] = -s[k] / s[n]
            A[n][n] = d  # s_n / s_n = 1 exactly
            B[n] = s[n] * c
    else:  # Fourier family
        sqrt2 = ctx.sqrt(2)
        Bf = [ctx.one if q == 0 else (sqrt2 if q % 2 == 0 else zero) for q in range(N)]
        F = [[zero] * N for _ in range(N)]
        for m in range(N // 2):
            w = 2 * ctx.pi * m
            F[2 * m + 1][2 * m] = w
            F[2 * m][2 * m + 1] = -w
        for n in range(N):
            for k in range(N):
                if measure == "fout":
                    # B_n B_k: 1, sqrt2 or exactly 2 (sqrt2 * sqrt2)
                    bb = _fourier_bb(ctx, n, k)
                    A[n][k] = F[n][k] - bb
                elif measure == "fourier_decay":
                    A[n][k] = F[n][k] - _fourier_bb(ctx, n, k) / 2
                else:  # foud
                    A[n][k] = F[n][k] - (half if n == k else zero)
        B = Bf if measure != "fourier_decay" else [b / 2 for b in Bf]
    return A, B


def _fourier_bb(ctx, n, k):
    """``B_n B_k`` for the Fourier ``B`` (``1``, ``sqrt 2``, ``0``), exact where it can be."""
    if n % 2 or k % 2:
        return ctx.zero
    if n == 0 and k == 0:
        return ctx.one
    if n == 0 or k == 0:
        return ctx.sqrt(2)
    return ctx.mpf(2)


def transition(measure, N, dps=50, **params):
    r"""HiPPO transition matrices from their closed forms, in mpmath.

    Parameters
    ----------
    measure : str
        One of :data:`FORMULA_MEASURES` (the names of
        :data:`statespace.hippo.MEASURES` that have a formula).
    N : int
        State size (even for the Fourier measures).
    dps : int, optional
        Decimal digits of the working precision (default 50).
    **params
        ``beta`` (``lagt``, ``tlagt``, ``glagt``) and ``alpha`` (``glagt``); floats
        are taken as the exact binary numbers they are, strings as decimals.

    Returns
    -------
    A : mpmath.matrix, shape (N, N)
    B : mpmath.matrix, shape (N, 1)

    Notes
    -----
    The formulas are those of the docstring of
    :func:`statespace.hippo.transition`, re-derived entry by entry, e.g. LegS

    .. math::

        A_{nk} = \begin{cases} -\sqrt{(2n+1)(2k+1)} & n > k \\ -(n+1) & n = k \\
        0 & n < k \end{cases}, \qquad B_n = \sqrt{2n+1}.

    The generalised Laguerre scales
    :math:`s_n = \sqrt{\Gamma(n+\alpha+1)/\Gamma(n+1)}` use mpmath's gamma
    function, and the Fourier frequencies :math:`2\pi m` use mpmath's
    :math:`\pi`. Entries are independent of ``N``: the matrices for ``N`` are the
    leading blocks of those for any larger ``N``.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification import reference as ref
    >>> A, B = ref.transition("legs", 3, dps=20)
    >>> print(mpmath.nstr(A[1, 0], 20), A[1, 1], A[0, 1])
    -1.7320508075688772935 -2.0 0.0
    >>> print(mpmath.nstr(B[1], 20))
    1.7320508075688772935
    """
    N, p = _check_measure(measure, N, params, FORMULA_MEASURES)
    ctx = _context(dps)
    A, B = _transition_rows(ctx, measure, N, p)
    return _export((_matrix(ctx, A), _matrix(ctx, [[b] for b in B])))


def rank_correction(measure, N, dps=50, **params):
    r"""Low-rank factor ``P`` with ``A + P^T P`` normal, from its closed form.

    Parameters
    ----------
    measure : str
        One of :data:`NPLR_FORMULA_MEASURES`.
    N : int
        State size.
    dps : int, optional
        Decimal digits of the working precision (default 50).
    **params
        As for :func:`transition`; ``glagt`` has an NPLR form only for
        ``alpha = 0``.

    Returns
    -------
    P : mpmath.matrix, shape (rank, N)

    Notes
    -----
    From the docstring of :func:`statespace.hippo.rank_correction`: LegS
    :math:`P_n = \sqrt{n + 1/2}`; LegT rank 2 with
    :math:`P_{0,n} = \sqrt{(2n+1)/2}` for even :math:`n`,
    :math:`P_{1,n} = \sqrt{(2n+1)/2}` for odd :math:`n`; Laguerre family
    :math:`P_n = 1/\sqrt 2`; FouT :math:`P = B^T`; Fourier-decay
    :math:`P = B^T/\sqrt 2` (the FouT ``B``); ``legsd``, ``foud``: ``P = 0``.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification import reference as ref
    >>> P = ref.rank_correction("legs", 2, dps=20)
    >>> print(mpmath.nstr(P[0, 0], 20), mpmath.nstr(P[0, 1], 20))
    0.7071067811865475244 1.2247448713915890491
    """
    N, p = _check_measure(measure, N, params, NPLR_FORMULA_MEASURES)
    if measure == "glagt" and _num(mpmath.mp, p["alpha"]) != 0:
        raise ValueError("measure 'glagt' has an NPLR form only for alpha=0")
    ctx = _context(dps)
    zero = ctx.zero
    if measure == "legs":
        rows = [[ctx.sqrt(ctx.mpf(2 * n + 1) / 2) for n in range(N)]]
    elif measure == "legt":
        r = [ctx.sqrt(ctx.mpf(2 * n + 1) / 2) for n in range(N)]
        rows = [
            [r[n] if n % 2 == 0 else zero for n in range(N)],
            [r[n] if n % 2 == 1 else zero for n in range(N)],
        ]
    elif measure in ("lagt", "tlagt", "glagt"):
        rows = [[1 / ctx.sqrt(2)] * N]
    elif measure in ("fout", "fourier_decay"):
        sqrt2 = ctx.sqrt(2)
        b = [ctx.one if q == 0 else (sqrt2 if q % 2 == 0 else zero) for q in range(N)]
        rows = [b if measure == "fout" else [v / sqrt2 for v in b]]
    else:  # legsd, foud: already normal
        rows = [[zero] * N]
    return _export(_matrix(ctx, rows))


# --------------------------------------------------------------------------- discretization


def _method(method, alpha):
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, got {type(method).__name__}")
    method = _ALIASES.get(method, method)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if method == "gbt":
        if alpha is None:
            raise ValueError("method 'gbt' needs alpha")
        return method, alpha
    if alpha is not None:
        raise ValueError(f"alpha is only used by method 'gbt', not {method!r}")
    return method, {"bilinear": 0.5, "forward_euler": 0, "backward_euler": 1}.get(method)


# --------------------------------------------------------------------------- arb engine


def _flint():
    try:
        import flint
    except ImportError:  # pragma: no cover - python-flint is optional
        raise ImportError(
            "engine='arb' needs python-flint (pip install python-flint)"
        ) from None
    return flint


def _check_engine(engine):
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def _arb_real(flint, v):
    """An mpf as an exact arb (a point ball)."""
    sign, man, exp, _ = v._mpf_
    if not man:
        if exp or sign:  # inf / nan
            raise ValueError(f"non-finite value {v}")
        return flint.arb(0)
    return flint.arb(flint.arf((-man if sign else man, exp)))


def _arb_num(flint, v):
    if hasattr(v, "_mpc_"):
        return flint.acb(_arb_real(flint, v.real), _arb_real(flint, v.imag))
    return _arb_real(flint, v)


def _arb_matrix(flint, rows, cplx):
    kind = flint.acb_mat if cplx else flint.arb_mat
    return kind([[_arb_num(flint, v) for v in r] for r in rows])


def _arf_to_mpf(ctx, m):
    man, exp = m.man_exp()
    return ctx.mpf((int(man), int(exp)))


def _from_ball(ctx, b):
    """(midpoint, radius) of an arb/acb as ctx numbers (radius: real upper bound)."""
    if type(b).__name__ == "acb":
        re, im = b.real, b.imag
        mid = ctx.mpc(_arf_to_mpf(ctx, re.mid()), _arf_to_mpf(ctx, im.mid()))
        rad = _arf_to_mpf(ctx, re.rad()) + _arf_to_mpf(ctx, im.rad())
        return mid, rad
    return _arf_to_mpf(ctx, b.mid()), _arf_to_mpf(ctx, b.rad())


def _arb_discretize(flint, ctx, A, B, dt, method, alpha):
    """Ball-arithmetic (Ad, Bd) as arb/acb matrices (caller holds the lock)."""
    N, M = len(A), len(B[0])
    cplx = any(hasattr(v, "_mpc_") for r in A + B for v in r)
    Am, Bm = _arb_matrix(flint, A, cplx), _arb_matrix(flint, B, cplx)
    dt = _num(ctx, dt)
    if not (ctx.im(dt) == 0 and ctx.re(dt) > 0):
        raise ValueError(f"dt must be positive, got {dt}")
    h = _arb_real(flint, ctx.re(dt))
    kind = flint.acb_mat if cplx else flint.arb_mat
    eye = kind([[1 if i == j else 0 for j in range(N)] for i in range(N)])
    if method == "zoh":
        aug = kind([[(Am[i, j] if j < N else Bm[i, j - N]) * h if i < N else 0
                     for j in range(N + M)] for i in range(N + M)])
        E = aug.exp()
        Ad = kind([[E[i, j] for j in range(N)] for i in range(N)])
        Bd = kind([[E[i, N + j] for j in range(M)] for i in range(N)])
        return Ad, Bd
    a = _arb_real(flint, _num(ctx, alpha))
    rhs_A = eye + Am * ((1 - a) * h)
    rhs_B = Bm * h
    if a == 0:
        return rhs_A, rhs_B
    lhs = eye - Am * (a * h)
    return lhs.solve(rhs_A), lhs.solve(rhs_B)


class _ArbPrecision:
    """Hold the flint lock and set its precision to ``dps`` digits plus guard bits."""

    def __init__(self, dps, guard=20):
        self.bits = int(math.ceil(dps * math.log2(10))) + guard

    def __enter__(self):
        self.flint = _flint()
        _FLINT_LOCK.acquire()
        self.old = self.flint.ctx.prec
        self.flint.ctx.prec = self.bits
        return self.flint

    def __exit__(self, *exc):
        self.flint.ctx.prec = self.old
        _FLINT_LOCK.release()


def _unball_matrix(ctx, m, rows, cols):
    mids, rad = [], ctx.zero
    for i in range(rows):
        row = []
        for j in range(cols):
            mid, r = _from_ball(ctx, m[i, j])
            row.append(mid)
            rad = max(rad, r)
        mids.append(row)
    return mids, rad


def _discretize_rows(ctx, A, B, dt, method, alpha):
    """(Ad rows, Bd rows) in ``ctx`` (lists of lists)."""
    N = len(A)
    if any(len(r) != N for r in A):
        raise ValueError("A must be square")
    if len(B) != N:
        raise ValueError(f"B must have N={N} rows, got {len(B)}")
    M = len(B[0])
    dt = _num(ctx, dt)
    if not (ctx.im(dt) == 0 and ctx.re(dt) > 0):
        raise ValueError(f"dt must be positive, got {dt}")
    dt = ctx.re(dt)
    one, zero = ctx.one, ctx.zero
    if method == "zoh":
        # exp([[A, B], [0, 0]] dt) = [[Ad, Bd], [0, I]]
        aug = ctx.matrix(N + M, N + M)
        for i in range(N):
            for j in range(N):
                aug[i, j] = A[i][j] * dt
            for j in range(M):
                aug[i, N + j] = B[i][j] * dt
        E = ctx.expm(aug)
        Ad = [[E[i, j] for j in range(N)] for i in range(N)]
        Bd = [[E[i, N + j] for j in range(M)] for i in range(N)]
        return Ad, Bd
    a = _num(ctx, alpha)
    # GBT:  (I - a dt A) Ad = I + (1 - a) dt A,   (I - a dt A) Bd = dt B
    rhs = [
        [(one if i == j else zero) + (1 - a) * dt * A[i][j] for j in range(N)]
        + [dt * B[i][j] for j in range(M)]
        for i in range(N)
    ]
    if a == 0:  # forward Euler: nothing to solve
        return [r[:N] for r in rhs], [r[N:] for r in rhs]
    lhs = ctx.matrix(N, N)
    for i in range(N):
        for j in range(N):
            lhs[i, j] = (one if i == j else zero) - a * dt * A[i][j]
    prec = ctx.prec
    try:
        ctx.prec += 10  # like mpmath.lu_solve: guard digits for the solve
        LU, piv = ctx.LU_decomp(lhs)
        cols = []
        for j in range(N + M):
            b = ctx.matrix([rhs[i][j] for i in range(N)])
            cols.append(ctx.U_solve(LU, ctx.L_solve(LU, b, piv)))
    finally:
        ctx.prec = prec
    out = [[+cols[j][i] for j in range(N + M)] for i in range(N)]  # unary + rounds
    return [r[:N] for r in out], [r[N:] for r in out]


def discretize(A, B, dt, method="bilinear", dps=50, alpha=None, *, engine="mpmath",
               return_radius=False):
    r"""Discretize ``x' = A x + B u`` at step ``dt`` in high precision.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        State matrix (real or complex). Floats are taken exactly.
    B : array_like or mpmath.matrix, shape (N,) or (N, M)
        Input matrix.
    dt : float, str or mpmath number
        Step, ``dt > 0`` (a float is the exact binary number it is).
    method : {"bilinear", "gbt", "forward_euler", "backward_euler", "zoh"}, optional
        Discretization rule (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).
    alpha : float, optional
        GBT parameter (only, and required, for ``method="gbt"``).
    engine : {"mpmath", "arb"}, optional
        ``"mpmath"`` (default): mpmath LU / :func:`mpmath.expm`. ``"arb"``:
        python-flint ball arithmetic (``arb_mat.solve``, ``arb_mat.exp``) at
        ``dps`` digits plus 20 guard bits, which also certifies an error bound.
    return_radius : bool, optional
        With ``engine="arb"``: also return the largest certified radius.

    Returns
    -------
    Ad : mpmath.matrix, shape (N, N)
    Bd : mpmath.matrix, shape (N, M)
        ``M = 1`` for a vector ``B``. With ``engine="arb"`` the ball midpoints.
    radius : mpmath.mpf
        Only with ``return_radius=True``: every exact entry (for the inputs as
        given) lies within ``radius`` of the returned one.

    Notes
    -----
    The generalised bilinear transform with parameter :math:`\alpha`

    .. math::

        \bar A = (I - \alpha\Delta A)^{-1}(I + (1-\alpha)\Delta A), \qquad
        \bar B = (I - \alpha\Delta A)^{-1}\Delta B,

    is solved by an LU factorization with 10 guard digits; bilinear is
    :math:`\alpha = 1/2`, forward Euler :math:`\alpha = 0` (no solve), backward
    Euler :math:`\alpha = 1`. Zero-order hold takes the blocks of

    .. math::

        \exp\left(\begin{pmatrix} A & B \\ 0 & 0\end{pmatrix}\Delta\right)
        = \begin{pmatrix} \bar A & \bar B \\ 0 & I \end{pmatrix}

    computed by :func:`mpmath.expm`.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification import reference as ref
    >>> Ad, Bd = ref.discretize([[-1.0]], [1.0], 0.5, "bilinear", dps=20)
    >>> print(Ad[0, 0], Bd[0, 0])
    0.6 0.4
    >>> Ad, Bd = ref.discretize([[-1.0]], [1.0], 0.5, "zoh", dps=20)
    >>> print(mpmath.nstr(Ad[0, 0], 20))
    0.6065306597126334236
    """
    method, a = _method(method, alpha)
    _check_engine(engine)
    if return_radius and engine != "arb":
        raise ValueError("return_radius needs engine='arb'")
    ctx = _context(dps)
    Arows, Brows = _rows(ctx, A, "A"), _rows(ctx, B, "B")
    if engine == "arb":
        with _ArbPrecision(dps) as flint:
            Adb, Bdb = _arb_discretize(flint, ctx, Arows, Brows, dt, method, a)
            Ad, ra = _unball_matrix(ctx, Adb, len(Arows), len(Arows))
            Bd, rb = _unball_matrix(ctx, Bdb, len(Arows), len(Brows[0]))
        out = _export((_matrix(ctx, Ad), _matrix(ctx, Bd)))
        return out + (_export(max(ra, rb)),) if return_radius else out
    Ad, Bd = _discretize_rows(ctx, Arows, Brows, dt, method, a)
    return _export((_matrix(ctx, Ad), _matrix(ctx, Bd)))


def kernel(A, B, C, dt, L, method="bilinear", dps=50, alpha=None, *, engine="mpmath",
           return_radius=False):
    r"""SSM convolution kernel :math:`K_\ell = C \bar A^\ell \bar B` by explicit powers.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Dense state matrix.
    B : array_like or mpmath.matrix, shape (N,)
        Input vector.
    C : array_like or mpmath.matrix, shape (N,)
        Output vector.
    dt : float, str or mpmath number
        Step, ``dt > 0``.
    L : int
        Kernel length, ``L >= 1``.
    method : str, optional
        Discretization rule of :func:`discretize` (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).
    alpha : float, optional
        GBT parameter for ``method="gbt"``.
    engine : {"mpmath", "arb"}, optional
        ``"mpmath"`` (default): :func:`mpmath.fdot` over Python lists. ``"arb"``:
        python-flint ``arb_mat`` products in C (~20x faster), midpoints only;
        ``return_radius=True`` adds a ball-arithmetic run for certified radii.
    return_radius : bool, optional
        With ``engine="arb"``: also return the radii.

    Returns
    -------
    K : list of mpmath numbers, length L
        Real for real systems, complex otherwise (ball midpoints for ``"arb"``).
    radius : list of mpmath.mpf
        Only with ``return_radius=True``: the exact kernel of the given inputs
        satisfies :math:`|K_\ell - \hat K_\ell| \le r_\ell`. Ball arithmetic
        over-estimates (the wrapping effect), so radii can exceed the true error
        by many orders; the two-precision check of :func:`converged` measures
        the actual agreement.

    Notes
    -----
    :math:`(\bar A, \bar B)` come from :func:`discretize`; then ``x = Bd`` and
    for :math:`\ell = 0, \dots, L-1`: :math:`K_\ell = C x`, :math:`x \leftarrow
    \bar A x`, each product a correctly accumulated dot product
    (:func:`mpmath.fdot`) over Python lists. Cost :math:`O(N^2 L)` mpmath
    multiplications (LegS ``N = 16``, ``L = 256`` at ``dps = 50``: ~0.2 s).

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> K = ref.kernel([[-1.0]], [1.0], [1.0], 0.5, 3, dps=20)
    >>> [round(float(k), 6) for k in K]
    [0.4, 0.24, 0.144]
    """
    if isinstance(L, bool) or not isinstance(L, numbers.Integral):
        raise TypeError(f"L must be an integer, got {type(L).__name__}")
    if L < 1:
        raise ValueError(f"L must be >= 1, got {L}")
    method, a = _method(method, alpha)
    _check_engine(engine)
    if return_radius and engine != "arb":
        raise ValueError("return_radius needs engine='arb'")
    ctx = _context(dps)
    Arows = _rows(ctx, A, "A")
    b = _vector(ctx, B, "B")
    c = _vector(ctx, C, "C")
    N = len(Arows)
    if len(b) != N or len(c) != N:
        raise ValueError(f"B and C must have N={N} entries, got {len(b)} and {len(c)}")
    if engine == "arb":
        K, rad = _arb_kernel(ctx, Arows, b, c, dt, int(L), method, a, dps, return_radius)
        return (_export(K), _export(rad)) if return_radius else _export(K)
    Ad, Bd = _discretize_rows(ctx, Arows, [[v] for v in b], dt, method, a)
    x = [r[0] for r in Bd]
    fdot = ctx.fdot
    K = [fdot(c, x)]
    for _ in range(int(L) - 1):
        x = [fdot(row, x) for row in Ad]
        K.append(fdot(c, x))
    return _export(K)


def _arb_kernel(ctx, Arows, b, c, dt, L, method, alpha, dps, return_radius):
    """Kernel by arb matrix-vector products.

    The returned values come from a midpoint-only iteration (radii dropped after
    every product): arb lowers the working precision of a product whose inputs
    have wide balls, so letting the wrapping effect grow the radii would cost
    digits of the midpoints too. The certified radii (optional) come from a
    separate ball iteration; the distance between the two midpoints is added.
    """
    with _ArbPrecision(dps) as flint:
        cplx = any(hasattr(v, "_mpc_") for v in c)
        Ad, Bd = _arb_discretize(flint, ctx, Arows, [[v] for v in b], dt, method, alpha)
        cplx = cplx or type(Ad).__name__ == "acb_mat"
        kind = flint.acb_mat if cplx else flint.arb_mat
        Cm = kind([[_arb_num(flint, v) for v in c]])
        if cplx:
            Ad, Bd = flint.acb_mat(Ad), flint.acb_mat(Bd)
        Adm, x = Ad.mid(), Bd.mid()
        mids = [_from_ball(ctx, (Cm * x)[0, 0])[0]]
        for _ in range(L - 1):
            x = (Adm * x).mid()
            mids.append(_from_ball(ctx, (Cm * x)[0, 0])[0])
        if not return_radius:
            return mids, None
        x = Bd
        balls = [(Cm * x)[0, 0]]
        for _ in range(L - 1):
            x = Ad * x
            balls.append((Cm * x)[0, 0])
        rads = []
        for v, ball in zip(mids, balls, strict=True):
            m, r = _from_ball(ctx, ball)
            rads.append(r + abs(m - v))
    return mids, rads


# --------------------------------------------------------------------------- eigenvalues


def normal_eigenvalues(measure, N, dps=50, **params):
    r"""Eigenvalues of the normal part :math:`S = A + P^T P` of a HiPPO measure.

    Parameters
    ----------
    measure : str
        One of :data:`NPLR_FORMULA_MEASURES`.
    N : int
        State size.
    dps : int, optional
        Decimal digits of the working precision (default 50).
    **params
        Measure parameters, as for :func:`transition`.

    Returns
    -------
    lam : list of mpmath.mpc, length N
        Sorted by imaginary part (ties by real part).

    Raises
    ------
    ValueError
        If the symmetric part of ``S`` is not a multiple of the identity (then the
        Hermitian route below does not apply).

    Notes
    -----
    For every NPLR measure the symmetric part of ``S`` is a scalar
    :math:`c I` and the rest :math:`K = (S - S^T)/2` is skew-symmetric, so
    :math:`H = -iK` is Hermitian with real eigenvalues :math:`\mu_j` and

    .. math:: \lambda_j = c + i \mu_j,

    with :math:`\mu_j` from :func:`mpmath.eighe` (a stable Hermitian solver,
    unlike the general :func:`mpmath.eig`).

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> lam = ref.normal_eigenvalues("legs", 4, dps=20)
    >>> sorted({round(float(v.real), 12) for v in lam})
    [-0.5]
    """
    A, _ = transition(measure, N, dps=dps, **params)
    P = rank_correction(measure, N, dps=dps, **params)
    ctx = _context(dps)
    N = A.rows
    r = P.rows
    S = [
        [_num(ctx, A[i, j]) + ctx.fsum(_num(ctx, P[q, i]) * _num(ctx, P[q, j]) for q in range(r))
         for j in range(N)]
        for i in range(N)
    ]
    c = ctx.fsum(S[i][i] for i in range(N)) / N
    scale = max([abs(v) for row in S for v in row] + [ctx.one])
    tol = scale * ctx.mpf(10) ** (-(dps - 5))
    for i in range(N):
        for j in range(N):
            sym = (S[i][j] + S[j][i]) / 2 - (c if i == j else 0)
            if abs(sym) > tol:
                raise ValueError(
                    f"the symmetric part of A + P^T P for {measure!r} is not a multiple "
                    f"of the identity (entry {i},{j} off by {ctx.nstr(sym, 5)})"
                )
    H = ctx.matrix(N, N)
    for i in range(N):
        for j in range(N):
            H[i, j] = ctx.mpc(0, -1) * (S[i][j] - S[j][i]) / 2
    mu = ctx.eighe(H, eigvals_only=True)
    lam = [ctx.mpc(c, mu[j]) for j in range(N)]
    return _export(sorted(lam, key=lambda z: (z.imag, z.real)))


def eigenvalues(A, dps=50):
    r"""Eigenvalues of a general square matrix by :func:`mpmath.eig`.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Matrix.
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    lam : list of mpmath.mpc
        Sorted by real part, then imaginary part.

    Notes
    -----
    .. warning::

       :func:`mpmath.eig` (Hessenberg QR) loses digits on ill-conditioned,
       strongly non-normal matrices without saying so (LegS ``N = 64``: errors of
       ``1e-14`` at ``dps = 60``). Only use the result through :func:`converged`,
       which measures the digits actually obtained.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> lam = ref.eigenvalues([[2.0, 1.0], [0.0, 3.0]], dps=20)
    >>> [round(float(v.real), 12) for v in lam]
    [2.0, 3.0]
    """
    ctx = _context(dps)
    M = _matrix(ctx, _rows(ctx, A, "A"))
    if M.rows != M.cols:
        raise ValueError(f"A must be square, got {M.rows} x {M.cols}")
    E = ctx.eig(M, left=False, right=False)
    lam = [ctx.mpc(v) for v in E]
    return _export(sorted(lam, key=lambda z: (z.real, z.imag)))


# --------------------------------------------------------------------------- self-check


class NotConvergedError(RuntimeError):
    """A reference value did not reach the digits a comparison needs."""


@dataclass(frozen=True)
class Reference:
    """A reference value with its measured precision.

    Attributes
    ----------
    value : object
        The value computed at ``dps + extra`` digits (the more accurate run).
    dps : int
        The base precision.
    extra : int
        The extra digits of the check run.
    digits_agree : float
        Significant decimal digits on which the runs at ``dps`` and ``dps + extra``
        agree (capped at ``dps``; see :func:`agreeing_digits`). It bounds the
        error of the base run, hence, conservatively, of ``value``.
    required : float
        Digits the intended comparison needs (17 for float64).
    norm : str
        ``"entrywise"`` or ``"max"``: how ``digits_agree`` was measured.
    elapsed : float
        Seconds for both runs.
    """

    value: Any
    dps: int
    extra: int
    digits_agree: float
    required: float = FLOAT64_DIGITS
    norm: str = "entrywise"
    elapsed: float = field(default=0.0, compare=False)

    @property
    def converged(self) -> bool:
        """``digits_agree >= required`` (never true for NaN)."""
        return bool(self.digits_agree >= self.required)

    def part(self, key):
        """The reference of one part of a tuple/dict value (same convergence data).

        Examples
        --------
        >>> from statespace.verification import reference as ref
        >>> r = ref.converged(ref.discretize, [[-1.0]], [1.0], 0.5, dps=20)
        >>> float(r.part(1).value[0, 0])
        0.4
        """
        import dataclasses

        return dataclasses.replace(self, value=self.value[key])

    def check(self):
        """Return ``value``; raise :class:`NotConvergedError` unless converged."""
        if not self.converged:
            raise NotConvergedError(
                f"reference agrees on {self.digits_agree:.1f} digits between dps={self.dps} "
                f"and dps={self.dps + self.extra}; {self.required} needed"
            )
        return self.value


def _leaves(x):
    """Flatten a result into leaves, each a list of numbers."""
    if hasattr(x, "rows") and hasattr(x, "cols") and hasattr(x, "tolist"):
        return [[v for row in x.tolist() for v in row]]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        if all(not isinstance(v, (list, tuple, dict)) and not hasattr(v, "rows") for v in x):
            return [list(x)]
        return [leaf for v in x for leaf in _leaves(v)]
    if isinstance(x, np.ndarray):
        return [x.ravel().tolist()]
    return [[x]]


def agreeing_digits(a, b, dps, norm="entrywise"):
    r"""Significant decimal digits on which two results agree.

    Parameters
    ----------
    a, b : object
        Results of the same computation (numbers, mpmath matrices, nested
        lists/tuples of them); ``b`` is taken as the more accurate one.
    dps : int
        Precision of ``a``: the result is capped at ``dps``, and in
        ``"entrywise"`` mode entries below ``10**-dps`` times the largest entry
        of their array are judged relative to that floor.
    norm : {"entrywise", "max"}, optional
        ``"entrywise"``: :math:`\min_i -\log_{10}(|a_i - b_i| / \max(|b_i|,
        f))` with the floor :math:`f = 10^{-\mathrm{dps}} \max_i |b_i|` (what a
        per-entry, e.g. ulp, comparison needs); ``"max"``:
        :math:`-\log_{10}(\max_i |a_i - b_i| / \max_i |b_i|)` per array (what a
        norm-wise relative comparison needs). The minimum over the arrays of a
        structure is returned.

    Returns
    -------
    digits : float
        In ``[0, dps]``; ``dps`` when they agree exactly.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification.reference import agreeing_digits
    >>> round(agreeing_digits([mpmath.mpf("1.0001")], [mpmath.mpf(1)], dps=30), 3)
    4.0
    """
    if norm not in ("entrywise", "max"):
        raise ValueError(f"norm must be 'entrywise' or 'max', got {norm!r}")
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb) or any(len(x) != len(y) for x, y in zip(la, lb, strict=True)):
        raise ValueError("the two results have different structures")
    ctx = _context(int(dps) + 30)
    digits = float(dps)
    floor_rel = ctx.mpf(10) ** (-int(dps))
    for xa, xb in zip(la, lb, strict=True):
        xa = [_num(ctx, v) for v in xa]
        xb = [_num(ctx, v) for v in xb]
        if not xa:
            continue
        scale = max(abs(v) for v in xb)
        diffs = [abs(u - v) for u, v in zip(xa, xb, strict=True)]
        if scale == 0:
            if any(d != 0 for d in diffs):
                return 0.0
            continue
        if norm == "max":
            rel = max(diffs) / scale
        else:
            floor = scale * floor_rel
            rel = max(d / max(abs(v), floor) for d, v in zip(diffs, xb, strict=True))
        if rel > 0:
            digits = min(digits, float(-ctx.log10(rel)))
    return max(0.0, min(digits, float(dps)))


def converged(fn, *args, dps, extra=20, required=FLOAT64_DIGITS, norm="entrywise", **kwargs):
    r"""Run a reference function at two precisions and measure their agreement.

    Parameters
    ----------
    fn : callable
        A reference function taking ``dps=`` (any function of this module, or
        your own).
    *args
        Positional arguments of ``fn``.
    dps : int
        Base precision.
    extra : int, optional
        Extra digits of the check run (default 20).
    required : float, optional
        Digits the comparison needs (default 17, :data:`FLOAT64_DIGITS`).
    norm : {"entrywise", "max"}, optional
        How to measure agreement (see :func:`agreeing_digits`).
    **kwargs
        Keyword arguments of ``fn``.

    Returns
    -------
    ref : Reference
        The value of the ``dps + extra`` run, with ``digits_agree`` and
        ``converged``.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> r = ref.converged(ref.discretize, [[-1.0]], [1.0], 0.5, "zoh", dps=30)
    >>> r.converged, r.digits_agree >= 29
    (True, True)
    """
    if isinstance(extra, bool) or not isinstance(extra, numbers.Integral) or extra < 1:
        raise ValueError(f"extra must be a positive integer, got {extra!r}")
    t0 = time.perf_counter()
    lo = fn(*args, dps=dps, **kwargs)
    hi = fn(*args, dps=dps + extra, **kwargs)
    digits = agreeing_digits(lo, hi, dps, norm=norm)
    return Reference(
        value=hi,
        dps=int(dps),
        extra=int(extra),
        digits_agree=digits,
        required=required,
        norm=norm,
        elapsed=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- conversion


def _leaf_array(x):
    """Nested numbers (mpmath matrix / list) -> numpy object array of mpmath numbers."""
    if isinstance(x, Reference):
        x = x.value
    if hasattr(x, "rows") and hasattr(x, "cols") and hasattr(x, "tolist"):
        return np.array(x.tolist(), dtype=object).reshape(x.rows, x.cols)
    arr = np.empty(np.shape(np.asarray(x, dtype=object)), dtype=object)
    arr[...] = np.asarray(x, dtype=object)
    return arr


def to_numpy(x, dtype=None):
    """Round a reference value to a NumPy array, correctly (to nearest).

    Parameters
    ----------
    x : mpmath matrix, list of mpmath numbers, mpmath number or Reference
        Value to convert (a :class:`Reference` is unwrapped).
    dtype : numpy dtype, optional
        ``float64`` or ``complex128`` (default: complex if any entry is complex
        with a nonzero imaginary part, else float64).

    Returns
    -------
    out : numpy.ndarray
        2-D for an mpmath matrix, the nesting shape otherwise.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification.reference import to_numpy
    >>> to_numpy([mpmath.mpf(1) / 3, mpmath.mpc(0, 2)])
    array([0.33333333+0.j, 0.        +2.j])
    """
    arr = _leaf_array(x)
    flat = arr.ravel().tolist()
    is_complex = any(hasattr(v, "_mpc_") and v.imag != 0 for v in flat) or any(
        isinstance(v, complex) and v.imag != 0 for v in flat
    )
    if dtype is None:
        dtype = np.complex128 if is_complex else np.float64
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        vals = [complex(float(mpmath.mpmathify(v).real), float(mpmath.mpmathify(v).imag))
                for v in flat]
    else:
        if is_complex:
            raise ValueError("complex values cannot be converted to a real dtype")
        vals = [float(mpmath.re(mpmath.mpmathify(v))) for v in flat]
    return np.array(vals, dtype=dtype).reshape(arr.shape)


class FloatPair(NamedTuple):
    """A real value as float64 ``hi + lo`` (see :func:`to_float_pair`)."""

    hi: np.ndarray
    lo: np.ndarray


def to_float_pair(x):
    """Split a real reference value into float64 ``hi + lo`` (double-double).

    Parameters
    ----------
    x : mpmath matrix, list of mpmath numbers or Reference
        Real value.

    Returns
    -------
    pair : FloatPair
        ``(hi, lo)`` arrays: ``hi`` is ``x`` rounded to nearest float64, ``lo`` the
        rounded remainder ``x - hi``; together about 32 significant digits.

    Examples
    --------
    >>> import mpmath
    >>> from statespace.verification.reference import to_float_pair
    >>> with mpmath.workdps(40):
    ...     third = mpmath.mpf(1) / 3
    >>> hi, lo = to_float_pair([third])
    >>> bool(hi[0] == 1 / 3), bool(0 < abs(lo[0]) < 1e-16)
    (True, True)
    """
    arr = _leaf_array(x)
    ctx = _context(20)
    his, los = [], []
    for v in arr.ravel().tolist():
        v = _num(ctx, v)
        if hasattr(v, "_mpc_"):
            if v.imag != 0:
                raise ValueError("to_float_pair needs real values")
            v = v.real
        h = float(v)
        his.append(h)
        los.append(float(ctx.fsub(v, h, exact=True)))
    return FloatPair(
        np.array(his, dtype=np.float64).reshape(arr.shape),
        np.array(los, dtype=np.float64).reshape(arr.shape),
    )


def ulp_errors(actual, ref):
    r"""Entrywise error of float64 values in units of the reference's ulp.

    Parameters
    ----------
    actual : array_like of float64
        Values to judge.
    ref : mpmath matrix, list of mpmath numbers, Reference or FloatPair
        Real reference of the same shape (at >= 32 digits for a meaningful
        answer), or its precomputed :func:`to_float_pair` split (fast when one
        reference is sliced and reused).

    Returns
    -------
    err : numpy.ndarray of float64
        :math:`|a - r| / \mathrm{ulp}(r)` with
        :math:`\mathrm{ulp}(r) = \varepsilon\, 2^{\lfloor \log_2 |r| \rfloor}`,
        :math:`\varepsilon = 2^{-52}`; for an exact zero ``r``: 0 if ``a == 0``
        exactly, else ``inf``. NaN in ``actual`` gives ``inf``.

    Notes
    -----
    The reference is split into ``hi + lo`` (:func:`to_float_pair`) and the error
    evaluated as ``|(a - hi) - lo|``; ``a - hi`` is exact when ``a`` is within a
    factor 2 of ``hi`` (Sterbenz), which holds whenever the answer is small. The
    exponent :math:`\lfloor\log_2|r|\rfloor` is that of ``hi``, lowered by one
    when ``hi`` is a power of two that ``|r|`` falls just short of.

    Examples
    --------
    >>> import mpmath, numpy as np
    >>> from statespace.verification.reference import ulp_errors
    >>> with mpmath.workdps(40):
    ...     r = [mpmath.mpf(1) / 3]
    >>> bool(ulp_errors(np.array([1 / 3]), r)[0] <= 0.5)
    True
    >>> float(ulp_errors(np.array([np.nextafter(1 / 3, 1)]), r)[0]) > 0.5
    True
    """
    hi, lo = ref if isinstance(ref, FloatPair) else to_float_pair(ref)
    a = np.asarray(actual, dtype=np.float64)
    if a.shape != hi.shape:
        a = a.reshape(hi.shape) if a.size == hi.size else a
    if a.shape != hi.shape:
        raise ValueError(f"shapes differ: actual {a.shape}, reference {hi.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs((a - hi) - lo)
        _, e = np.frexp(np.abs(hi))  # |hi| = m 2^e, m in [0.5, 1)
        e = e - 1  # floor(log2 |hi|)
        pow2 = np.abs(hi) == np.ldexp(1.0, e)
        below = pow2 & (np.sign(lo) == -np.sign(hi)) & (lo != 0)
        e = e - below.astype(e.dtype)
        ulp = np.ldexp(np.finfo(np.float64).eps, e)
        err = np.where(hi == 0, np.where(a == 0, 0.0, np.inf), diff / np.where(hi == 0, 1, ulp))
    return np.where(np.isfinite(a), err, np.inf)


# --------------------------------------------------------------------------- boundary states

__all__ += ["dplr_matrix", "c_tilde", "c_from_tilde", "initial_response", "final_state"]


def dplr_matrix(Lambda, P, *, halved=False, dps=50):
    r"""Dense :math:`A = \mathrm{diag}(\Lambda) - P^H P` at ``dps`` digits.

    Parameters
    ----------
    Lambda : array_like, shape (N,)
        Diagonal part (floats and complex numbers are taken exactly).
    P : array_like, shape (r, N)
        Low-rank factor (``r >= 0``).
    halved : bool, optional
        Build the full ``2N``-mode system of :math:`[\Lambda, \bar\Lambda]`,
        :math:`[P, \bar P]` (default ``False``).
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    A : mpmath.matrix, shape (N, N) (``2N`` when halved)

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> A = ref.dplr_matrix([-1.0, -2.0], [[1.0, 2.0]], dps=20)
    >>> [[float(A[i, j]) for j in range(2)] for i in range(2)]
    [[-2.0, -2.0], [-2.0, -6.0]]
    """
    ctx = _context(dps)
    lam = _vector(ctx, Lambda, "Lambda")
    Prows = _rows(ctx, P, "P") if np.size(np.asarray(P, dtype=object)) else []
    if Prows and len(Prows[0]) != len(lam):
        raise ValueError(f"P must have N={len(lam)} columns, got {len(Prows[0])}")
    if halved:
        lam = lam + [ctx.conj(v) for v in lam]
        Prows = [row + [ctx.conj(v) for v in row] for row in Prows]
    n = len(lam)
    rows = [[(lam[i] if i == j else ctx.zero)
             - ctx.fsum(ctx.conj(p[i]) * p[j] for p in Prows) for j in range(n)]
            for i in range(n)]
    return _export(_matrix(ctx, rows))


def _boundary_setup(A, dt, method, dps):
    ctx = _context(dps)
    method, a = _method(method, None)
    Arows = _rows(ctx, A, "A")
    Ad, _ = _discretize_rows(ctx, Arows, [[ctx.zero] for _ in Arows], dt, method, a)
    return ctx, Ad


def _row_times(ctx, c, Ad):
    """Row vector ``c`` times ``Ad`` (lists), each entry a correctly accumulated dot product."""
    n = len(Ad)
    return [ctx.fdot(c, [Ad[i][j] for i in range(n)]) for j in range(n)]


def c_tilde(A, C, dt, L, method="bilinear", dps=50):
    r"""Truncation-corrected output vector :math:`\tilde C = C (I - \bar A^L)`, explicit powers.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Dense state matrix (e.g. from :func:`dplr_matrix`).
    C : array_like, shape (N,)
        Output vector.
    dt : float, str or mpmath number
        Step, ``dt > 0``.
    L : int
        Length, ``L >= 1``.
    method : str, optional
        Discretization rule of :func:`discretize` without parameter
        (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    Ct : list of mpmath numbers, length N

    Notes
    -----
    :math:`c \leftarrow c \bar A` repeated ``L`` times (row vector times matrix,
    :func:`mpmath.fdot`), then :math:`\tilde C = C - C\bar A^L`; :math:`O(N^2 L)`.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> Ct = ref.c_tilde([[-1.0]], [2.0], 0.5, 2, dps=20)  # 2 (1 - 0.6^2)
    >>> round(float(Ct[0]), 12)
    1.28
    """
    L = _check_L(L)
    ctx, Ad = _boundary_setup(A, dt, method, dps)
    c = _vector(ctx, C, "C")
    row = list(c)
    for _ in range(L):
        row = _row_times(ctx, row, Ad)
    return _export([u - v for u, v in zip(c, row, strict=True)])


def c_from_tilde(A, Ct, dt, L, method="bilinear", dps=50):
    r"""Output vector :math:`C = \tilde C (I - \bar A^L)^{-1}`, explicit powers and an LU solve.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Dense state matrix.
    Ct : array_like, shape (N,)
        Corrected output vector :math:`\tilde C`.
    dt : float, str or mpmath number
        Step, ``dt > 0``.
    L : int
        Length, ``L >= 1``.
    method : str, optional
        Discretization rule of :func:`discretize` without parameter
        (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    C : list of mpmath numbers, length N

    Notes
    -----
    :math:`\bar A^L` by ``L`` explicit matrix products (:math:`O(N^3 L)`), then
    :math:`(I - \bar A^L)^T C^T = \tilde C^T` by :func:`mpmath.lu_solve`. The digits
    lost to the condition number of :math:`I - \bar A^L` show up in the
    two-precision check of :func:`converged`.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> C = ref.c_from_tilde([[-1.0]], [1.28], 0.5, 2, dps=20)
    >>> round(float(C[0]), 12)
    2.0
    """
    L = _check_L(L)
    ctx, Ad = _boundary_setup(A, dt, method, dps)
    ct = _vector(ctx, Ct, "Ct")
    n = len(Ad)
    power = [[ctx.one if i == j else ctx.zero for j in range(n)] for i in range(n)]
    for _ in range(L):
        power = [_row_times(ctx, row, Ad) for row in power]
    Mt = ctx.matrix(n, n)  # (I - Ad^L)^T
    for i in range(n):
        for j in range(n):
            Mt[j, i] = (ctx.one if i == j else ctx.zero) - power[i][j]
    c = ctx.lu_solve(Mt, ctx.matrix(ct))
    return _export([c[i] for i in range(n)])


def initial_response(A, C, x, dt, L, method="bilinear", dps=50):
    r"""Zero-input outputs :math:`y_\ell = C \bar A^{\ell+1} x` of a state, explicit powers.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Dense state matrix.
    C : array_like, shape (N,)
        Output vector.
    x : array_like, shape (N,)
        State :math:`x_{-1}` before the first step.
    dt : float, str or mpmath number
        Step, ``dt > 0``.
    L : int
        Number of outputs, ``L >= 1``.
    method : str, optional
        Discretization rule of :func:`discretize` without parameter
        (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    y : list of mpmath numbers, length L

    Notes
    -----
    :math:`x \leftarrow \bar A x`, :math:`y_\ell = C x`, ``L`` times
    (:func:`mpmath.fdot`), the recurrence with zero input.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> y = ref.initial_response([[-1.0]], [1.0], [1.0], 0.5, 2, dps=20)
    >>> [round(float(v), 12) for v in y]
    [0.6, 0.36]
    """
    L = _check_L(L)
    ctx, Ad = _boundary_setup(A, dt, method, dps)
    c = _vector(ctx, C, "C")
    s = _vector(ctx, x, "x")
    y = []
    for _ in range(L):
        s = [ctx.fdot(row, s) for row in Ad]
        y.append(ctx.fdot(c, s))
    return _export(y)


def final_state(A, B, x, u, dt, method="bilinear", dps=50):
    r"""State :math:`x_{L-1}` after the recurrence over ``u`` from ``x``, step by step.

    Parameters
    ----------
    A : array_like or mpmath.matrix, shape (N, N)
        Dense state matrix.
    B : array_like, shape (N,)
        Input vector.
    x : array_like, shape (N,)
        Initial state :math:`x_{-1}`.
    u : array_like, shape (L,)
        Inputs (``L >= 1``).
    dt : float, str or mpmath number
        Step, ``dt > 0``.
    method : str, optional
        Discretization rule of :func:`discretize` without parameter
        (default ``"bilinear"``).
    dps : int, optional
        Decimal digits of the working precision (default 50).

    Returns
    -------
    x_final : list of mpmath numbers, length N

    Notes
    -----
    :math:`x_\ell = \bar A x_{\ell-1} + \bar B u_\ell` for
    :math:`\ell = 0, \dots, L-1` (:func:`mpmath.fdot` per entry).

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> xf = ref.final_state([[-1.0]], [1.0], [1.0], [1.0, 0.0], 0.5, dps=20)
    >>> round(float(xf[0]), 12)  # (0.6 * 1 + 0.4) * 0.6
    0.6
    """
    ctx = _context(dps)
    method, a = _method(method, None)
    Arows = _rows(ctx, A, "A")
    b = _vector(ctx, B, "B")
    if len(b) != len(Arows):
        raise ValueError(f"B must have N={len(Arows)} entries, got {len(b)}")
    Ad, Bd = _discretize_rows(ctx, Arows, [[v] for v in b], dt, method, a)
    bd = [r[0] for r in Bd]
    s = _vector(ctx, x, "x")
    us = _vector(ctx, u, "u")
    if not us:
        raise ValueError("u must have at least one entry")
    for uv in us:
        s = [ctx.fdot(row, s) + bv * uv for row, bv in zip(Ad, bd, strict=True)]
    return _export(s)


def _check_L(L):
    if isinstance(L, bool) or not isinstance(L, numbers.Integral):
        raise TypeError(f"L must be an integer, got {type(L).__name__}")
    if L < 1:
        raise ValueError(f"L must be >= 1, got {L}")
    return int(L)
