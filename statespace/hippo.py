r"""HiPPO transition matrices and their low-rank corrections.

A HiPPO measure defines a continuous-time linear system

.. math:: x'(t) = A x(t) + B u(t)

whose state ``x`` holds the coefficients of an online projection of the input
history ``u`` onto a polynomial (or Fourier) basis. :func:`transition` returns
``(A, B)`` for every measure of the S4 line of work; :func:`rank_correction`
returns the factor ``P`` (``rank x N``) with ``A + P.T @ P`` normal, which is the
structure S4 exploits (normal plus low rank, NPLR).

Sources
-------
* Gu, Dao, Ermon, Rudra, Ré, "HiPPO: Recurrent Memory with Optimal Polynomial
  Projections", NeurIPS 2020 (LegS, LegT, LagT).
* Voelker, Kajić, Eliasmith, "Legendre Memory Units", NeurIPS 2019 (LMU).
* Gu, Goel, Ré, "Efficiently Modeling Long Sequences with Structured State Spaces",
  ICLR 2022 (NPLR forms, Appendix C).
* Gu, Johnson, Timalsina, Rudra, Ré, "How to Train Your HiPPO", ICLR 2023 (FouT,
  the LegS diagonal variant).
"""

from __future__ import annotations

import math
import numbers

from . import _array

__all__ = ["MEASURES", "NPLR_MEASURES", "REFERENCE_MEASURES", "transition", "rank_correction"]

#: Every measure :func:`transition` knows.
MEASURES = (
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
    "random",
    "diagonal",
)

#: Measures with a normal-plus-low-rank form (:func:`rank_correction` works).
NPLR_MEASURES = (
    "legs",
    "legsd",
    "legt",
    "lagt",
    "tlagt",
    "glagt",
    "fout",
    "fourier_decay",
    "foud",
    "diagonal",
)

#: The Fourier systems under the names and time scales of the reference S4
#: implementation (``state-spaces/s4``), accepted wherever a measure is: ``fourier``
#: (the reference's ``fout``), ``fourier2`` and ``fourier_diag`` (= ``foud``). They
#: are kept out of :data:`MEASURES`, which lists this library's own conventions; the
#: mapping between the two is in the Notes of :func:`transition`. All three have an
#: NPLR form.
REFERENCE_MEASURES = ("fourier", "fourier2", "fourier_diag")

_FOURIER = ("fout", "fourier_decay", "foud") + REFERENCE_MEASURES

_PARAMS = {
    "lagt": {"beta": 1.0},
    "tlagt": {"beta": 1.0},
    "glagt": {"alpha": 0.0, "beta": 0.01},
    "random": {"seed": 0},
    "diagonal": {"seed": 0},
}


def _check(measure, N, params):
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a string, got {type(measure).__name__}")
    if measure not in MEASURES and measure not in REFERENCE_MEASURES:
        raise ValueError(
            f"unknown measure {measure!r}; expected one of {MEASURES} "
            f"or a reference name {REFERENCE_MEASURES}"
        )
    if isinstance(N, bool) or not isinstance(N, numbers.Integral):
        raise TypeError(f"N must be an integer, got {type(N).__name__}")
    N = int(N)
    if N < 1:
        raise ValueError(f"N must be >= 1, got {N}")
    if measure in _FOURIER and N % 2:
        raise ValueError(f"measure {measure!r} needs an even state size N, got N={N}")
    allowed = _PARAMS.get(measure, {})
    unknown = set(params) - set(allowed)
    if unknown:
        raise TypeError(
            f"measure {measure!r} takes no parameter(s) {sorted(unknown)}; "
            f"it accepts {sorted(allowed) or 'none'}"
        )
    out = dict(allowed)
    out.update(params)
    for name, value in params.items():
        if name == "seed":
            seed = _array.check_number(value, f"{measure} parameter seed", integer=True)
            if seed < 0:
                raise ValueError(f"{measure} parameter seed must be >= 0, got {seed}")
            out[name] = seed
        else:  # alpha, beta: finite real numbers (their ranges are checked per measure)
            out[name] = _array.check_number(value, f"{measure} parameter {name}")
    return N, out


def _grid(xp, N, device):
    n = xp.arange(N, dtype=xp.float64, device=device)
    return n[:, None], n[None, :], n


def _legs(xp, N, device):
    # A[n, k] = -sqrt((2n+1)(2k+1)) for n > k, -(n+1) for n == k, 0 for n < k
    # B[n] = sqrt(2n+1).  The integer product is exact in float64, so each entry
    # is a single correctly rounded sqrt.
    n, k, q = _grid(xp, N, device)
    prod = xp.sqrt((2 * n + 1) * (2 * k + 1))
    A = xp.where(n > k, -prod, xp.zeros_like(prod))
    A = A - xp.eye(N, dtype=xp.float64, device=device) * (q + 1)[:, None]
    B = xp.sqrt(2 * q + 1)
    return A, B


def _legsd(xp, N, device):
    # A = A_legs + B B^T / 2, B = B_legs / 2: the normal part of LegS.
    # A[n, k] = -sqrt((2n+1)(2k+1))/2 (n > k), -1/2 (n == k), +sqrt(...)/2 (n < k).
    n, k, q = _grid(xp, N, device)
    prod = xp.sqrt((2 * n + 1) * (2 * k + 1)) / 2
    A = xp.where(n > k, -prod, prod)
    A = xp.where(n == k, xp.full_like(prod, -0.5), A)
    B = xp.sqrt(2 * q + 1) / 2
    return A, B


def _legt(xp, N, device):
    # A[n, k] = -sqrt((2n+1)(2k+1))/2 * (1 if n >= k else (-1)^(n-k)), B[n] = sqrt(2n+1)/2
    n, k, q = _grid(xp, N, device)
    prod = xp.sqrt((2 * n + 1) * (2 * k + 1)) / 2
    odd = ((k - n) % 2) == 1
    sign = xp.where((n < k) & odd, xp.full_like(prod, -1.0), xp.ones_like(prod))
    A = -prod * sign
    B = xp.sqrt(2 * q + 1) / 2
    return A, B


def _lmu(xp, N, device):
    # A[n, k] = (2n+1) * (-1 if n < k else (-1)^(n-k+1)), B[n] = (2n+1) (-1)^n
    n, k, q = _grid(xp, N, device)
    r = 2 * n + 1
    odd = ((n - k) % 2) == 1
    one = xp.ones_like(r * k)
    s = xp.where(n < k, -one, xp.where(odd, one, -one))
    A = s * r
    B = (2 * q + 1) * xp.where((q % 2) == 1, -xp.ones_like(q), xp.ones_like(q))
    return A, B


def _tilted_laguerre(xp, N, device, diag, beta_b):
    n, k, q = _grid(xp, N, device)
    A = xp.where(n > k, -xp.ones_like(n * k), xp.zeros_like(n * k))
    A = A + xp.eye(N, dtype=xp.float64, device=device) * diag
    B = xp.full((N,), beta_b, dtype=xp.float64, device=device)
    return A, B


def _glagt_scales(N, alpha):
    """s[n] = sqrt(Gamma(n+alpha+1) / Gamma(n+1)) and 1/s[n], each correctly rounded (O(N))."""
    import mpmath

    with mpmath.workdps(40):
        a = mpmath.mpf(alpha)
        s = [
            mpmath.sqrt(mpmath.exp(mpmath.loggamma(m + a + 1) - mpmath.loggamma(m + 1)))
            for m in range(N)
        ]
        return [float(v) for v in s], [float(1 / v) for v in s]


def _glagt(xp, N, device, alpha, beta):
    if not (-1.0 < alpha < 1.0):
        raise ValueError(f"glagt needs -1 < alpha < 1, got alpha={alpha}")
    if not beta > 0:
        raise ValueError(f"glagt needs beta > 0, got beta={beta}")
    import mpmath

    s_list, inv_list = _glagt_scales(N, alpha)
    s = xp.asarray(s_list, dtype=xp.float64, device=device)
    inv = xp.asarray(inv_list, dtype=xp.float64, device=device)
    n, k, _ = _grid(xp, N, device)
    # below the diagonal -s_k / s_n = -(s_k * (1/s_n)): two correctly rounded factors
    # and one product; the diagonal -(1+beta)/2 is unscaled (s_n / s_n = 1 exactly)
    ratio = s[None, :] * inv[:, None]
    A = xp.where(n > k, -ratio, xp.zeros_like(ratio))
    A = A - xp.eye(N, dtype=xp.float64, device=device) * ((1 + beta) / 2)
    with mpmath.workdps(40):
        c = float(
            mpmath.mpf(beta) ** ((1 - mpmath.mpf(alpha)) / 2)
            / mpmath.gamma(mpmath.mpf(alpha) + 1)
            / mpmath.sqrt(mpmath.gamma(1 - mpmath.mpf(alpha)))
        )
    B = s * c
    return A, B


def _fourier_skew(xp, N, device, omega=2 * math.pi):
    # frequency omega*m couples entries 2m (cosine) and 2m+1 (sine): A[2m+1, 2m] = omega m,
    # A[2m, 2m+1] = -omega m; the m = 0 pair is identically zero.
    n, k, _ = _grid(xp, N, device)
    m = xp.floor(n / 2)
    two_pi_m = omega * m
    low = (n == k + 1) & ((n % 2) == 1)
    up = (k == n + 1) & ((n % 2) == 0)
    z = xp.zeros_like(n * k)
    A = xp.where(low, two_pi_m + z, z)
    A = xp.where(up, -(two_pi_m + z), A)
    return A


def _fourier_b(xp, N, device):
    q = xp.arange(N, dtype=xp.float64, device=device)
    B = xp.where((q % 2) == 0, xp.full_like(q, math.sqrt(2.0)), xp.zeros_like(q))
    return xp.where(q == 0, xp.ones_like(q), B)


def _fout(xp, N, device):
    B = _fourier_b(xp, N, device)
    return _fourier_skew(xp, N, device) - B[:, None] * B[None, :], B


def _fourier_decay(xp, N, device):
    B = _fourier_b(xp, N, device)
    return _fourier_skew(xp, N, device) - B[:, None] * B[None, :] / 2, B / 2


def _fourier_ref(xp, N, device):
    # the reference implementation's 'fourier'/'fout': frequencies pi*m, A = F_pi - B B^T
    B = _fourier_b(xp, N, device)
    return _fourier_skew(xp, N, device, math.pi) - B[:, None] * B[None, :], B


def _fourier2(xp, N, device):
    # the reference implementation's 'fourier2': twice its 'fourier', A = F - 2 B B^T, 2 B
    B = _fourier_b(xp, N, device)
    return _fourier_skew(xp, N, device) - 2 * (B[:, None] * B[None, :]), 2 * B


def _foud(xp, N, device):
    B = _fourier_b(xp, N, device)
    A = _fourier_skew(xp, N, device) - xp.eye(N, dtype=xp.float64, device=device) / 2
    return A, B


def _rng(seed):
    import numpy as np  # random draws are set-up work; the result goes to ``xp``

    return np.random.default_rng(seed)


def _random(xp, N, device, seed):
    rng = _rng(seed)
    A = rng.standard_normal((N, N)) / N
    B = rng.standard_normal(N)
    return xp.asarray(A, device=device), xp.asarray(B, device=device)


def _diagonal(xp, N, device, seed):
    rng = _rng(seed)
    d = -rng.lognormal(size=N)
    B = rng.standard_normal(N)
    A = xp.eye(N, dtype=xp.float64, device=device) * xp.asarray(d, device=device)[None, :]
    return A, xp.asarray(B, device=device)


def transition(measure, N, *, dtype=None, xp=None, device=None, **params):
    r"""HiPPO transition matrices ``(A, B)`` of a measure.

    Parameters
    ----------
    measure : str
        One of :data:`MEASURES` or :data:`REFERENCE_MEASURES`.
    N : int
        State size, ``N >= 1`` (even for the Fourier measures).
    dtype : dtype, optional
        float32 or float64 of ``xp`` (default float64). Entries are computed in
        float64 and rounded once.
    xp : namespace, optional
        Array namespace of the result (default NumPy).
    device : device, optional
        Device of the result.
    **params
        Measure parameters: ``beta`` (``lagt``, ``tlagt``, ``glagt``), ``alpha``
        (``glagt``), ``seed`` (``random``, ``diagonal``).

    Returns
    -------
    A : array, shape (N, N)
    B : array, shape (N,)

    Raises
    ------
    TypeError
        ``measure`` not a string, ``N`` not an integer, an unknown parameter, a
        parameter of the wrong type (``beta``/``alpha`` not a real number, ``seed``
        not an integer; bools refused), a bad ``dtype``.
    ValueError
        Unknown measure, ``N < 1``, odd ``N`` for a Fourier measure, a NaN or
        infinite parameter, a negative ``seed``, ``glagt`` parameters out of range.

    Notes
    -----
    Indices run over :math:`n, k = 0, \dots, N-1`.

    ``legs`` (HiPPO-LegS, scaled Legendre):
    :math:`A_{nk} = -\sqrt{(2n+1)(2k+1)}` for :math:`n > k`, :math:`-(n+1)` for
    :math:`n = k`, 0 above the diagonal; :math:`B_n = \sqrt{2n+1}`.

    ``legsd`` (the normal part of LegS used by S4D-LegS):
    :math:`A = A_{legs} + \tfrac12 B_{legs} B_{legs}^T`, :math:`B = B_{legs}/2`,
    i.e. :math:`-\tfrac12` on the diagonal and
    :math:`\mp\tfrac12\sqrt{(2n+1)(2k+1)}` below/above it.

    ``legt`` (HiPPO-LegT, translated Legendre, window length 1, halved time scale
    as in S4): :math:`A_{nk} = -\tfrac12\sqrt{(2n+1)(2k+1)}` for :math:`n \ge k`,
    :math:`-\tfrac12\sqrt{(2n+1)(2k+1)}(-1)^{n-k}` for :math:`n < k`;
    :math:`B_n = \tfrac12\sqrt{2n+1}`.

    ``lmu`` (Voelker's Legendre Memory Unit, :math:`\theta = 1`):
    :math:`A_{nk} = (2n+1)\,(-1)` for :math:`n < k`, :math:`(2n+1)(-1)^{n-k+1}`
    for :math:`n \ge k`; :math:`B_n = (2n+1)(-1)^n`. Same dynamics as LegT in an
    unnormalised, non-orthogonal basis, hence no NPLR form.

    ``lagt`` (translated Laguerre): :math:`A = \tfrac12 I - \mathrm{tril}(1)`
    (so :math:`-\tfrac12` on the diagonal, :math:`-1` below), :math:`B_n = \beta`
    (default :math:`\beta = 1`).

    ``tlagt`` (tilted Laguerre): :math:`A = \tfrac{1-\beta}{2} I - \mathrm{tril}(1)`,
    :math:`B_n = \beta`.

    ``glagt`` (generalised Laguerre, weight :math:`x^\alpha e^{-\beta x}`,
    :math:`-1 < \alpha < 1`): with :math:`s_n = \sqrt{\Gamma(n+\alpha+1)/\Gamma(n+1)}`,
    :math:`A_{nk} = \tilde A_{nk}\, s_k / s_n` where :math:`\tilde A` has
    :math:`-(1+\beta)/2` on the diagonal and :math:`-1` below it, and
    :math:`B_n = s_n\,\beta^{(1-\alpha)/2} / (\Gamma(\alpha+1)\sqrt{\Gamma(1-\alpha)})`.

    ``fout`` (HiPPO-FouT, Fourier basis on a window of length 1): with the
    frequencies :math:`\omega_m = 2\pi m`, :math:`m = 0..N/2-1` coupling the cosine
    entry :math:`2m` and the sine entry :math:`2m+1`, let :math:`F` be zero except
    :math:`F_{2m+1,2m} = \omega_m = -F_{2m,2m+1}`; :math:`B_0 = 1`,
    :math:`B_{2m} = \sqrt2` (:math:`m \ge 1`), :math:`B_{2m+1} = 0`; then
    :math:`A = F - B B^T`. ``fourier_decay``: :math:`A = F - \tfrac12 B B^T`,
    :math:`B \to B/2`. ``foud`` (diagonal Fourier): :math:`A = F - \tfrac12 I`,
    same :math:`B`. The :math:`m = 0` sine entry is decoupled, which gives the
    normal part a zero eigenvalue pair.

    *Time scale of the Fourier systems.* A system :math:`(A, B)` run on the time
    scale :math:`t/\theta` is :math:`(A/\theta, B/\theta)`, and discretizing
    :math:`(A/\theta, B/\theta)` with step :math:`\Delta` equals discretizing
    :math:`(A, B)` with step :math:`\Delta/\theta`. ``fout`` is the translated
    Fourier projection (FouT) on a window of length :math:`\theta = 1`: its state
    is :math:`x_n(t) = \int_0^1 u(t - 1 + s)\, p_n(s)\, ds` with
    :math:`p_0 = 1`, :math:`p_{2m} = \sqrt2\cos(2\pi m s)`,
    :math:`p_{2m+1} = -\sqrt2\sin(2\pi m s)`, exactly when :math:`u` lies in their
    span (the term :math:`-BB^T` stands for :math:`-B\,u(t-1)`, reconstructed from
    the state). The window of length :math:`\theta` (basis
    :math:`p_n(s/\theta)`, measure :math:`ds/\theta`) is :math:`(A/\theta,
    B/\theta)`. The reference S4 implementation uses other scales under similar
    names (:data:`REFERENCE_MEASURES`):

    * its ``fourier_decay`` is ``fout`` at :math:`\theta = 2`,
      :math:`(A_{fout}/2, B_{fout}/2)` (frequencies :math:`\pi m`); this
      library's ``fout`` is therefore its ``fourier_decay`` at twice the speed;
    * ``fourier`` (its ``fout``): :math:`A = F_\pi - BB^T`, :math:`B` with
      frequencies :math:`\omega_m = \pi m` (:math:`F_\pi = F/2`): the
      :math:`\theta = 2` basis with the endpoint term doubled, which is no time
      scaling of ``fout``;
    * ``fourier2``: :math:`A = F - 2BB^T`, :math:`2B`, i.e. twice ``fourier``
      (``fourier`` at twice the speed);
    * ``fourier_diag``: the same system as ``foud``.

    This library's ``fourier_decay`` (:math:`F - \tfrac12 BB^T`, :math:`B/2`:
    the frequencies of ``fout`` with the rank-one term and :math:`B` halved) is
    *not* the reference's ``fourier_decay`` and has no counterpart there.

    ``random`` (ablation): :math:`A_{nk} \sim \mathcal N(0, 1)/N`,
    :math:`B_n \sim \mathcal N(0, 1)`; ``diagonal``: :math:`A = -\mathrm{diag}(e^{g_n})`,
    :math:`g_n, B_n \sim \mathcal N(0, 1)`; both drawn with NumPy's
    ``default_rng(seed)``.

    Examples
    --------
    >>> import statespace as ss
    >>> A, B = ss.hippo.transition("legs", 3)
    >>> A
    array([[-1.        ,  0.        ,  0.        ],
           [-1.73205081, -2.        ,  0.        ],
           [-2.23606798, -3.87298335, -3.        ]])
    >>> B
    array([1.        , 1.73205081, 2.23606798])
    """
    N, params = _check(measure, N, params)
    xp = _array.namespace(xp=xp)
    _array.check_device(xp, device)
    dtype = _array.float_dtype(xp, dtype)
    if measure == "legs":
        A, B = _legs(xp, N, device)
    elif measure == "legsd":
        A, B = _legsd(xp, N, device)
    elif measure == "legt":
        A, B = _legt(xp, N, device)
    elif measure == "lmu":
        A, B = _lmu(xp, N, device)
    elif measure == "lagt":
        A, B = _tilted_laguerre(xp, N, device, -0.5, params["beta"])
    elif measure == "tlagt":
        b = params["beta"]
        A, B = _tilted_laguerre(xp, N, device, (1.0 - b) / 2 - 1.0, b)
    elif measure == "glagt":
        A, B = _glagt(xp, N, device, float(params["alpha"]), float(params["beta"]))
    elif measure == "fout":
        A, B = _fout(xp, N, device)
    elif measure == "fourier_decay":
        A, B = _fourier_decay(xp, N, device)
    elif measure in ("foud", "fourier_diag"):
        A, B = _foud(xp, N, device)
    elif measure == "fourier":
        A, B = _fourier_ref(xp, N, device)
    elif measure == "fourier2":
        A, B = _fourier2(xp, N, device)
    elif measure == "random":
        A, B = _random(xp, N, device, params["seed"])
    else:  # diagonal
        A, B = _diagonal(xp, N, device, params["seed"])
    return xp.astype(A, dtype), xp.astype(B, dtype)


def rank_correction(measure, N, *, rank=None, dtype=None, xp=None, device=None, **params):
    r"""Low-rank factor ``P`` (shape ``(rank, N)``) with ``A + P.T @ P`` normal.

    Parameters
    ----------
    measure : str
        One of :data:`NPLR_MEASURES` or :data:`REFERENCE_MEASURES`.
    N : int
        State size.
    rank : int, optional
        Number of rows of the result. The measure's own factor has rank 1 (rank 2
        for ``legt``); a larger ``rank`` appends rows of zeros (the reference
        implementation's ``rank_correction(rank=)``: the extra rows leave
        :math:`P^T P` unchanged and are free parameters of a trained DPLR model).
        Default: the measure's own rank. A smaller one is refused.
    dtype : dtype, optional
        float32 or float64 (default float64).
    xp : namespace, optional
        Array namespace of the result (default NumPy).
    device : device, optional
        Device of the result.
    **params
        The measure's parameters, as for :func:`transition`; ``glagt`` has an
        NPLR form only for ``alpha = 0``.

    Returns
    -------
    P : array, shape (rank, N)
        ``legs``: :math:`P_n = \sqrt{n + 1/2}` (rank 1), normal part
        :math:`-\tfrac12 I + ` skew.
        ``legt``: rank 2, :math:`P_{0,n} = \sqrt{(2n+1)/2}` for even :math:`n` and
        :math:`P_{1,n} = \sqrt{(2n+1)/2}` for odd :math:`n` (zero elsewhere); the
        normal part is skew-symmetric.
        ``lagt``, ``tlagt``, ``glagt`` (``alpha = 0``): :math:`P_n = 1/\sqrt2`.
        ``fout``, ``fourier``: :math:`P = B_0^T` with :math:`B_0` the ``fout``
        input vector (:math:`1, 0, \sqrt2, 0, \sqrt2, \dots`);
        ``fourier_decay``: :math:`P = B_0^T/\sqrt2`; ``fourier2``:
        :math:`P = \sqrt2\, B_0^T`.
        ``legsd``, ``foud``, ``fourier_diag``, ``diagonal``: ``A`` is already
        normal, ``P = 0`` (rank 1).
        Then zero rows up to ``rank``.

    Raises
    ------
    ValueError
        For measures without an NPLR form (``lmu``, ``random``, ``glagt`` with
        ``alpha != 0``), a ``rank`` below the measure's own (or below 1), and for
        the errors of :func:`transition`.
    TypeError
        ``rank`` not an integer, and the type errors of :func:`transition`.

    Examples
    --------
    >>> import numpy as np
    >>> import statespace as ss
    >>> A, _ = ss.hippo.transition("legs", 4)
    >>> P = ss.hippo.rank_correction("legs", 4)
    >>> S = A + P.T @ P
    >>> bool(np.allclose(S @ S.T, S.T @ S))
    True
    >>> ss.hippo.rank_correction("fout", 4, rank=3)
    array([[1.        , 0.        , 1.41421356, 0.        ],
           [0.        , 0.        , 0.        , 0.        ],
           [0.        , 0.        , 0.        , 0.        ]])
    """
    N, params = _check(measure, N, params)
    if rank is not None:
        rank = _array.check_number(rank, "rank", integer=True)
    if measure not in NPLR_MEASURES and measure not in REFERENCE_MEASURES:
        hint = " (use 'legt', its orthonormal form)" if measure == "lmu" else ""
        raise ValueError(f"measure {measure!r} has no normal-plus-low-rank form{hint}")
    if measure == "glagt" and float(params["alpha"]) != 0.0:
        raise ValueError(
            "measure 'glagt' has a normal-plus-low-rank form only for alpha=0, "
            f"got alpha={params['alpha']}"
        )
    xp = _array.namespace(xp=xp)
    _array.check_device(xp, device)
    dtype = _array.float_dtype(xp, dtype)
    q = xp.arange(N, dtype=xp.float64, device=device)
    if measure == "legs":
        P = xp.sqrt(q + 0.5)[None, :]
    elif measure == "legt":
        r = xp.sqrt((2 * q + 1) / 2)
        even = (q % 2) == 0
        P = xp.stack([xp.where(even, r, xp.zeros_like(r)), xp.where(even, xp.zeros_like(r), r)])
    elif measure in ("lagt", "tlagt", "glagt"):
        P = xp.full((1, N), math.sqrt(0.5), dtype=xp.float64, device=device)
    elif measure in ("fout", "fourier"):
        P = _fourier_b(xp, N, device)[None, :]
    elif measure == "fourier_decay":
        P = _fourier_b(xp, N, device)[None, :] / math.sqrt(2.0)
    elif measure == "fourier2":
        # sqrt(2) * (1, 0, sqrt2, 0, ...) with each entry correctly rounded (2 is exact)
        b = _fourier_b(xp, N, device)
        P = xp.where(q == 0, xp.full_like(q, math.sqrt(2.0)), xp.where(b > 0, 2 + 0 * q, 0 * q))
        P = P[None, :]
    else:  # legsd, foud, fourier_diag, diagonal: already normal
        P = xp.zeros((1, N), dtype=xp.float64, device=device)
    own = P.shape[0]
    if rank is not None:
        if rank < own:
            raise ValueError(
                f"rank must be >= {own} for measure {measure!r} (the rank of its "
                f"correction), got {rank}"
            )
        if rank > own:
            pad = xp.zeros((rank - own, N), dtype=xp.float64, device=device)
            P = xp.concat([P, pad], axis=0)
    return xp.astype(P, dtype)
