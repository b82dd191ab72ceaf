r"""The experiments behind ``statespace verify``.

:func:`experiments` returns the list of picklable experiments that
:func:`statespace.verification.report.run_suite` runs (inline or through any
:class:`concurrent.futures.Executor`); each returns rows of *(quantity,
parameters, dtype, measured error, tolerance, pass)* (:class:`~statespace.verification.report.Row`)
and, where useful, plot specs. :func:`postprocess` builds the plots and the
summary that need rows of several experiments (kernel error against ``L`` with
the fitted exponent, error against ``N``, ``cond(V)`` against ``N``).

Experiments
-----------
``HiPPO entries``
    :func:`statespace.hippo.transition` (``A``, ``B``) and
    :func:`statespace.hippo.rank_correction` (``P``) of every measure, float32 and
    float64, against :func:`statespace.verification.reference.transition` /
    :func:`~statespace.verification.reference.rank_correction` (closed forms in mpmath);
    the error is the largest entrywise error in ulps of the dtype. ``random``
    and ``diagonal`` have no closed form: they are checked against an
    independent float64 draw following their documented recipe.
``LegS: NPLR vs naive diagonalization (S4 Appendix B)``
    For each ``N``: ``numpy.linalg.eig(A)`` of HiPPO-LegS, the growth of its
    eigenvector matrix ``V`` (``cond(V)``, ``max|V|`` with each column scaled so
    that its pivot entry is 1) against the law :math:`2^{4N/3}` (and against the
    exact ``V`` from rational arithmetic when python-flint is installed), the
    reconstruction error of :math:`V \Lambda V^{-1}` and of the NPLR form
    :math:`V(\Lambda - P^*P)V^*` (:func:`statespace.nplr`), and the kernel error
    of both: *naive*,
    :math:`K_\ell = \sum_n (CV)_n \bar\lambda_n^\ell (V^{-1}B)_n` by
    :func:`statespace.kernel_diag` (bilinear) on the eigen-decomposition of ``A``
    itself, and *NPLR*, :func:`statespace.kernel_dplr` on the NPLR form; both
    against the mpmath kernel.
``Discretization accuracy``
    Bilinear, ZOH and GBT with :math:`\alpha \in \{0, 1/2, 1\}` over
    :math:`\Delta t \in [10^{-4}, 10]`, dense (:mod:`statespace.discretize`
    ``gbt``/``zoh`` on HiPPO matrices) and diagonal (``gbt_diag``/``zoh_diag`` on
    S4D initialisations), against :func:`statespace.verification.reference.discretize`.
``Kernel accuracy``
    :func:`statespace.kernel_dense`, :func:`statespace.kernel_dplr` (halved
    DPLR form of :func:`statespace.dplr`) and :func:`statespace.kernel_diag` (S4D
    initialisations) against mpmath kernels, over ``N`` (16, 64, 256 from the
    cached data of :mod:`statespace.verification.make_data`), ``L`` (to 65536), ``dt``,
    measure and dtype. Beyond the cached ``L = 4096`` the reference is the
    python-flint ``arb`` kernel at ``N = 16`` (cheap), and for larger ``N``
    ``kernel_dense`` in float64, which judges float32 rows only (their note says
    so). :func:`postprocess` fits :math:`\log(\text{error})` against
    :math:`\log L` per path, system and dtype and reports the exponent; the
    plotted scan uses slowly decaying kernels (:data:`LSCAN_DT`,
    :data:`LSCAN_SYSTEMS`), since for a kernel that has decayed the max-norm
    error is set by the first lags and cannot grow with ``L``.
``Recurrence vs convolution``
    :func:`statespace.scan` (dense, diagonal and DPLR recurrences) against
    :func:`statespace.causal_conv` with the matching kernel over long sequences.
``Stability``
    Spectral radius of the dense bilinear and ZOH discretizations of every
    measure, from ``eigvals`` of the discretized matrix, across
    :math:`\Delta t \in [10^{-4}, 10]`.
``Initialisations of the reference S4 implementation``
    :func:`reference_inits`: the S4D inits ``diag-inv2``, ``diag-quad``,
    ``diag-rand`` and every option of :func:`statespace.dplr` (scales, random
    parts, ``B_init``) against their formulas in mpmath; the entries of the
    reference Fourier names ``fourier``, ``fourier2``, ``fourier_diag``;
    ``rank_correction(rank=)`` zero padding; the FouT time scale (window length
    1 for ``fout``, 2 for the reference's ``fourier_decay``) against the
    projection integrals.
``Discretization accuracy`` (hold methods)
    :func:`hold_discretization`: ``foh`` and ``impulse`` of dense HiPPO systems
    against closed forms of their integrals in mpmath.

Tolerances
----------
Every tolerance is a function of the working precision :math:`\varepsilon`
(``numpy.finfo(dtype).eps``: :math:`2^{-52}` for float64, :math:`2^{-23}` for
float32), the state size :math:`N` and the length :math:`L`, times a stated
constant :math:`c`. The constants absorb the constants of the error bounds; they
were checked to leave a margin of at least about 3 over the errors measured on
x86-64 with NumPy, so a failure means an error an order of magnitude beyond what
the algorithm should produce. Errors are relative in the max norm,
:math:`\max_i |a_i - r_i| / \max_i |r_i|`, unless stated otherwise.

The rigorous tolerances, each declared once as a
:class:`statespace.verification.bounds.Tolerance` (its plain formula writes the row
notes, its LaTeX form and derivation this list):

{TOLERANCES}

Naive kernel and reconstruction (informational, asserted from below)
    The naive path is *expected* to fail; its rows assert that the instability
    is reproduced: they pass when the measured error is at least the growth-law
    lower bound :math:`g(N) = \varepsilon\, 2^{4N/3} / 64`
    (:math:`2^{4N/3}` is the growth of the entries of ``V``, S4 Appendix B;
    1/64 is slack for the constants of the asymptotic law at small ``N``). The
    row's *error* is :math:`g(N) / \text{measured}` and its tolerance 1; the
    measured error itself is in the row's parameters (``measured``) and in the
    summary table. ``cond(V)`` is asserted in the same way against
    :math:`\min(2^{4N/3}, 1/\varepsilon) / 16` (a float64 matrix whose
    condition number exceeds :math:`1/\varepsilon` is numerically singular, so
    its computed condition number saturates), and ``max|V|`` (numpy's, and the
    exact one from rational arithmetic) against :math:`2^{4N/3}/16`. The law is
    a lower bound: it is the size of one entry (:math:`V_{3i,i} =
    \binom{4i}{2i}` in the paper's normalisation); the exact largest entry grows
    faster, measured :math:`\approx 2^{1.38 N}` for :math:`N \ge 128`, close to
    :math:`\varphi^{2N} = 2^{1.388 N}` (:math:`\varphi` the golden ratio, the
    growth of the largest binomial coefficient on a Fibonacci diagonal).

A reference that did not converge (its two precisions agree on fewer digits than
the comparison needs, :func:`statespace.verification.reference.converged`) makes its row
fail whatever the error, and so does a NaN or infinity in a result.

Examples
--------
>>> from statespace.verification import suite
>>> exps = suite.experiments(quick=True, dtypes=("float64",), backend="numpy")
>>> len(exps) > 10
True
>>> rows = exps[0]()
>>> rows[0].experiment, all(r.passed for r in rows)
('HiPPO entries', True)
"""

from __future__ import annotations

import functools
import math

import numpy as np

from statespace.verification import bounds, make_data
from statespace.verification import reference as ref
from statespace.verification.report import (
    Experiment,
    Row,
    compare,
    compare_values,
    measured,
    reference_note,
    relative_error,
)

# the declared tolerances, rendered from their objects (each formula is written once)
__doc__ = __doc__.replace("{TOLERANCES}", bounds.tolerance_docs())

__all__ = [
    "experiments",
    "postprocess",
    "hippo_entries",
    "legs_instability",
    "discretization_dense",
    "discretization_diag",
    "kernel_hippo",
    "kernel_diag_init",
    "recurrence_vs_conv",
    "scan_routes",
    "stability",
    "reference_inits",
    "hold_discretization",
    "growth_lower_bound",
    "fit_exponent",
    "EXP_HIPPO",
    "EXP_LEGS",
    "EXP_DISC",
    "EXP_KERNEL",
    "EXP_RECUR",
    "EXP_STAB",
    "EXP_INITS",
    "S4D_CASES",
    "HOLD_METHODS",
    "LSCAN_DT",
    "LSCAN_SYSTEMS",
]

#: Experiment (section) names used in the rows.
EXP_HIPPO = "HiPPO entries"
EXP_LEGS = "LegS: NPLR vs naive diagonalization (S4 Appendix B)"
EXP_DISC = "Discretization accuracy"
EXP_KERNEL = "Kernel accuracy"
EXP_RECUR = "Recurrence vs convolution"
EXP_STAB = "Stability"

#: Metric keys of the LegS rows (set on the rows, read by :func:`postprocess`): the
#: summaries are keyed on these, not on the rows' display text.
M_LEGS_COND = "legs/cond_of_numpy_eig_lower_bound_min_divided_by_measured"
M_LEGS_MAXV = "legs/max_v_of_numpy_eig_unit_pivot_columns_lower_bound_divided_by_measured"
M_LEGS_MAXV_EXACT = "legs/max_v_exact_unit_pivot_lower_bound_divided_by_measured"
M_LEGS_REC_NAIVE = "legs/naive_reconstruction_v_diag_v_vs_a_lower_bound_eps_divided_by_measured"
M_LEGS_K_NAIVE = "legs/naive_kernel_vs_ground_truth_lower_bound_eps_divided_by_measured"
M_LEGS_REC_NPLR = "legs/nplr_reconstruction_v_v_h_vs_a_rel_max_error"
M_LEGS_K_NPLR = "legs/nplr_kernel_vs_ground_truth_rel_max_error"

_DPS = 30  # base precision of on-the-fly references (checked at _DPS + _EXTRA)
_EXTRA = 10
_CACHED_L = 4096
_KERNEL_MEASURES = make_data.KERNEL_MEASURES  # ("legs", "legt", "fout", "lagt")
#: Step and systems of the kernel-error-against-L scan (slow decay: at N = 16 and
#: L = 65536 LegS decays by e^-6.6, LagT by ~e^-3.3, S4D-Lin by e^-3.3).
LSCAN_DT = 1e-4
LSCAN_SYSTEMS = ("legs", "lagt", "diag-lin")


# --------------------------------------------------------------------------- helpers


def _xp(backend):
    from statespace._array import backend_namespace

    return backend_namespace(backend)


def _np(x):
    from statespace import _array

    return np.asarray(_array.to_numpy(x))


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _cdt(dtype):
    return "complex64" if dtype == "float32" else "complex128"


def _engine():
    """``"arb"`` (python-flint, C speed) when installed, else ``"mpmath"``."""
    try:
        import flint  # noqa: F401
    except ImportError:  # pragma: no cover - python-flint is optional
        return "mpmath"
    return "arb"


def _cvec(N):
    """The output vector of the cached kernels (float32-exact draws)."""
    return make_data._c_vector(N)


def _chalf(N):
    """Complex output vector of a halved diagonal system (complex64-exact)."""
    rng = np.random.default_rng(2000 + N)
    c = rng.standard_normal(N // 2) + 1j * rng.standard_normal(N // 2)
    return c.astype(np.complex64).astype(np.complex128)


def _diag_full(init, N):
    """``(Lambda, B, C)`` of the full (un-halved) diagonal system of ``dplr(init, N)``."""
    import statespace as ss

    h = ss.dplr(init, N)
    c = _chalf(N)
    return tuple(np.concatenate([x, np.conj(x)]) for x in (h.Lambda, h.B, c))


class _Truth:
    """A ground-truth array with its provenance."""

    def __init__(self, value, converged, note, source):
        self.value = np.asarray(value)
        self.converged = bool(converged)
        self.note = note
        self.source = source

    def head(self, L):
        return _Truth(self.value[..., :L], self.converged, self.note, self.source)


def _from_reference(r, source):
    return _Truth(ref.to_numpy(r.value), r.converged, reference_note(r, source), source)


def _row(exp, quantity, params, dtype, actual, truth, tol, note="", metric=""):
    """Row comparing ``actual`` (NumPy) with a :class:`_Truth` or array (:func:`compare`)."""
    return compare(exp, quantity, params, dtype, actual, truth, tol, note=note, metric=metric)


def _error_row(exp, quantity, params, dtype, exc, note=""):
    """A failed row for a computation that raised."""
    msg = f"raised {type(exc).__name__}: {exc}"
    return Row(exp, quantity, params, dtype, math.nan, 0.0, passed=False,
               note="; ".join(s for s in (note, msg) if s))


# --------------------------------------------------------------------------- references
# Module-level pipelines (each recomputes everything at the given dps, so the
# two-precision check of reference.converged covers every step).


def _kernel_truth_pipeline(measure, N, C, dt, L, method, dps, engine="mpmath"):
    A, B = ref.transition(measure, N, dps=dps)
    return ref.kernel(A, B, C, dt, L, method, dps=dps, engine=engine)


def _diag_kernel_pipeline(lam, B, C, dt, L, method, dps, engine="mpmath"):
    n = len(lam)
    A = [[lam[i] if i == j else 0 for j in range(n)] for i in range(n)]
    return ref.kernel(A, B, C, dt, L, method, dps=dps, engine=engine)


def _disc_pipeline(measure, N, dt, method, alpha, dps, engine="mpmath"):
    A, B = ref.transition(measure, N, dps=dps)
    return ref.discretize(A, B, dt, method, dps=dps, alpha=alpha, engine=engine)


def _disc_diag_pipeline(lam, B, dt, method, alpha, dps, engine="mpmath"):
    n = len(lam)
    A = [[lam[i] if i == j else 0 for j in range(n)] for i in range(n)]
    Ad, Bd = ref.discretize(A, B, dt, method, dps=dps, alpha=alpha, engine=engine)
    return [Ad[i, i] for i in range(n)], [Bd[i, 0] for i in range(n)]


def _cached_kernel(measure, N, dt, method):
    """Name of the cached kernel dataset of this system, or None."""
    name = f"kernel_{measure}_N{N}_L{_CACHED_L}_{method}"
    if name not in _available():
        return None
    spec = make_data.SPECS.get(name, {})
    return name if float(spec.get("dt", math.nan)) == float(dt) else None


@functools.lru_cache(maxsize=64)
def _hippo_kernel_truth(measure, N, dt, L, method):
    """mpmath kernel of the HiPPO system ``(A, B)`` with ``C = _cvec(N)``, length >= L."""
    name = _cached_kernel(measure, N, dt, method)
    if name is not None and L <= _CACHED_L:
        d = make_data.load(name)
        if float(d.meta["dt"]) == float(dt):
            return _Truth(d["K"] + d["K_lo"], d.meta["converged"], make_data.provenance(d),
                          "cached mpmath")
    engine = _engine()
    r = ref.converged(_kernel_truth_pipeline, measure, N, _cvec(N).tolist(), dt, L, method,
                      dps=_DPS, extra=_EXTRA, norm="max", engine=engine)
    return _from_reference(r, f"{engine} kernel by explicit powers")


@functools.lru_cache(maxsize=16)
def _dense64_kernel(measure, N, dt, L, method):
    """``kernel_dense`` in float64 (NumPy): the reference for float32 rows beyond the cache."""
    import statespace as ss

    A, B = ss.hippo.transition(measure, N)
    K = np.asarray(ss.kernels.kernel_dense(A, B, _cvec(N), dt, L, method))
    eps = _eps("float64")
    note = (f"reference: computed live, kernel_dense in float64 (mpmath too slow at N={N}, "
            f"L={L}); its own "
            f"error ~ N L eps64 = {N * L * eps:.1e}")
    return _Truth(K, True, note, "kernel_dense float64")


# --------------------------------------------------------------------------- ulps


def _ulp_errors(actual, pair, dtype):
    """Entrywise |a - r| in ulps of ``dtype`` at r (r = hi + lo, a double-double pair)."""
    hi, lo = pair
    a = np.asarray(actual, dtype=np.float64)
    if dtype == "float64":
        return ref.ulp_errors(a, ref.FloatPair(hi, lo))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs((a - hi) - lo)
        r = hi + lo
        _, e = np.frexp(np.abs(r))
        ulp = np.ldexp(1.0, e - 1 - 23)  # float32: 24-bit significand
        # below float32's normal range the spacing is fixed
        ulp = np.maximum(ulp, np.ldexp(1.0, -149))
        err = np.where(hi == 0, np.where(a == 0, 0.0, np.inf), diff / np.where(hi == 0, 1, ulp))
    return np.where(np.isfinite(a), err, np.inf)


def _pair_of(value):
    p = ref.to_float_pair(value)
    return p.hi, p.lo


# =========================================================================== experiments
# --------------------------------------------------------------------------- HiPPO


def _hippo_ref_pipeline(measure, N, dps):
    A, B = ref.transition(measure, N, dps=dps)
    if measure in ref.NPLR_FORMULA_MEASURES:
        return A, B, ref.rank_correction(measure, N, dps=dps)
    return A, B


def _recipe_draw(measure, N, seed=0):
    """Independent float64 draw of the ``random``/``diagonal`` recipes (hippo docstring)."""
    rng = np.random.default_rng(seed)
    if measure == "random":
        A = rng.standard_normal((N, N)) / N
        B = rng.standard_normal(N)
    else:
        d = -rng.lognormal(size=N)
        B = rng.standard_normal(N)
        A = np.diag(d)
    return A, B


def hippo_entries(measure, N, dtypes, backend):
    """Entries of ``A``, ``B`` and ``P`` of one measure, in ulps of each dtype.

    Parameters
    ----------
    measure : str
        A name of :data:`statespace.hippo.MEASURES`.
    N : int
        State size.
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    backend : str
        ``"numpy"``, ``"torch"`` or ``"array_api_strict"``.

    Returns
    -------
    rows : list of Row
        One row per matrix and dtype; the error is the largest entrywise error in
        ulps of the dtype.

    Examples
    --------
    >>> from statespace.verification.suite import hippo_entries
    >>> rows = hippo_entries("legs", 8, ["float64"], "numpy")
    >>> [(r.quantity.split()[0], r.passed) for r in rows]
    [('A', True), ('B', True), ('P', True)]
    """
    import statespace as ss

    xp = _xp(backend)
    rows = []
    if measure in ref.FORMULA_MEASURES:
        r = ref.converged(_hippo_ref_pipeline, measure, N, dps=40, extra=20,
                          required=ref.FLOAT64_DIGITS, norm="entrywise")
        pairs = [_pair_of(v) for v in r.value]
        conv = r.converged
        src = reference_note(r, "mpmath closed form")
    else:
        A64, B64 = _recipe_draw(measure, N)
        pairs = [(A64, np.zeros_like(A64)), (B64, np.zeros_like(B64))]
        conv = True
        src = ("reference: computed live, independent float64 draw of the documented recipe "
               "(numpy default_rng(0)); no closed form")
    for dtype in dtypes:
        tol_obj = bounds.HIPPO_ULPS64 if dtype == "float64" else bounds.HIPPO_ULPS32
        tol = tol_obj()
        params = {"measure": measure, "N": N, "backend": backend}
        try:
            A, B = ss.hippo.transition(measure, N, dtype=getattr(xp, dtype), xp=xp)
            mats = [("A", _np(A)), ("B", _np(B))]
            if len(pairs) == 3:
                P = ss.hippo.rank_correction(measure, N, dtype=getattr(xp, dtype), xp=xp)
                mats.append(("P", _np(P)))
        except Exception as exc:  # noqa: BLE001 - a crash is a failed row
            rows.append(_error_row(EXP_HIPPO, "A, B, P entries", params, dtype, exc))
            continue
        for (name, a), (hi, lo) in zip(mats, pairs, strict=False):
            if a.shape != hi.shape:
                a = a.reshape(hi.shape) if a.size == hi.size else a
            if a.shape != hi.shape:
                rows.append(Row(EXP_HIPPO, f"{name} entries, max error [ulps]", params, dtype,
                                math.inf, tol, note=f"shape {a.shape} != {hi.shape}"))
                continue
            err = float(np.max(_ulp_errors(a, (hi, lo), dtype)))
            rows.append(measured(EXP_HIPPO, f"{name} entries, max error [ulps]", params, dtype,
                                 err, tol, _Truth(hi, conv, src, "reference"),
                                 note=tol_obj.note()))
    return rows


# --------------------------------------------------------------------------- LegS


def growth_lower_bound(N, eps=2.0 ** -52):
    r"""Growth-law lower bound :math:`\varepsilon\, 2^{4N/3} / 64` of the naive LegS errors.

    Parameters
    ----------
    N : int
        State size.
    eps : float, optional
        Machine epsilon (default float64's).

    Returns
    -------
    bound : float

    Examples
    --------
    >>> from statespace.verification.suite import growth_lower_bound
    >>> round(growth_lower_bound(48) / 2.0 ** -52, 3) == 2.0 ** 64 / 64
    True
    """
    return eps * 2.0 ** (4 * N / 3) / 64


def _exact_legs_V(N):
    """Exact LegS eigenvectors (unit pivot) by rational arithmetic; None without flint.

    ``A = D T D^{-1}`` with ``D = diag(sqrt(2n+1))`` and the integer matrix
    ``T[n, k] = -(2k+1)`` (n > k), ``T[n, n] = -(n+1)``: the eigenvectors of ``T``
    are rational. Returns ``(max|V|, log2 max|V|)`` with ``V = D W D^{-1}``.
    """
    try:
        import flint
    except ImportError:  # pragma: no cover
        return None
    best = None
    for k in range(N):
        lam = -(k + 1)
        m = N - k - 1
        if m == 0:
            continue
        # rows j = k+1..N-1: sum_{i=k+1..j} (T - lam I)[j, i] w_i = -T[j, k]
        M = flint.fmpq_mat(m, m)
        rhs = flint.fmpq_mat(m, 1)
        for a in range(m):
            j = k + 1 + a
            for b in range(a + 1):
                i = k + 1 + b
                M[a, b] = (-(2 * i + 1) if j > i else -(j + 1)) - (lam if i == j else 0)
            rhs[a, 0] = 2 * k + 1  # -T[j, k] = 2k + 1
        w = M.solve(rhs)
        for a in range(m):
            j = k + 1 + a
            v = w[a, 0]
            if v == 0:
                continue
            # |V[j, k]| = |w_j| sqrt((2j+1)/(2k+1)); compare in log2
            lg = (math.log2(abs(int(v.p))) - math.log2(int(v.q))
                  + 0.5 * (math.log2(2 * j + 1) - math.log2(2 * k + 1)))
            best = lg if best is None or lg > best else best
    best = 0.0 if best is None else max(best, 0.0)
    return 2.0 ** best, best


def _unit_pivot_max(V, lam):
    """max|V| of numpy's eigenvectors with each column scaled to a unit pivot entry.

    For lower-triangular ``A`` the eigenvector of ``lambda = A[k, k] = -(k+1)`` is zero
    above row ``k``; ``k`` is recovered from the computed eigenvalue.
    """
    N = V.shape[0]
    ks = np.clip(np.rint(-np.real(lam)).astype(int) - 1, 0, N - 1)
    piv = V[ks, np.arange(N)]
    with np.errstate(all="ignore"):
        W = V / piv[None, :]
    return float(np.max(np.abs(W)))


def legs_instability(N, dtypes, backend, dt=0.01, L=1024):
    """NPLR vs naive diagonalization of HiPPO-LegS at one state size.

    Parameters
    ----------
    N : int
        State size.
    dtypes : sequence of str
        Dtypes of the NPLR rows; the naive rows are float64 (NumPy's ``eig``).
    backend : str
        Backend of the NPLR computations and kernels.
    dt : float, optional
        Step of the kernels (default 0.01; the cached ``N = 256`` data uses 0.005).
    L : int, optional
        Kernel length (default 1024).

    Returns
    -------
    rows : list of Row
        ``cond(V)``, ``max|V|`` (numpy and exact) against the growth law, the
        reconstruction and kernel errors of both approaches.

    Examples
    --------
    >>> from statespace.verification.suite import legs_instability
    >>> rows = legs_instability(8, ["float64"], "numpy", L=64)
    >>> all(r.passed for r in rows)
    True
    """
    import statespace as ss

    xp = _xp(backend)
    rows = []
    if N == 256 and f"kernel_legs_N256_L{_CACHED_L}_bilinear" in _available():
        dt = 0.005  # use the cached arb kernel
    truth = _hippo_kernel_truth("legs", N, dt, L, "bilinear").head(L)
    C = _cvec(N)
    A64, B64 = ss.hippo.transition("legs", N)
    law = 2.0 ** (4 * N / 3)
    eps64 = _eps("float64")
    base = {"N": N, "backend": backend}
    kparams = {"N": N, "L": L, "dt": dt, "method": "bilinear", "backend": backend}

    # ---- naive: numpy eig of A itself (float64)
    if "float64" in dtypes:
        lam, V = np.linalg.eig(A64)
        condV = float(np.linalg.cond(V))
        maxV = _unit_pivot_max(V, lam)
        bound_c = min(law, 1 / eps64) / 16
        rows.append(Row(EXP_LEGS, "cond(V) of numpy eig(A): lower bound min(2^(4N/3), 1/eps)/16 "
                        "divided by measured (<= 1: growth reproduced)",
                        dict(base, measured=condV, lower_bound=bound_c, growth_law=law),
                        "float64", bound_c / condV, 1.0, metric=M_LEGS_COND,
                        note=f"cond2(V) = {condV:.3e}, 2^(4N/3) = {law:.3e}"))
        bound_v = law / 16
        rows.append(Row(EXP_LEGS, "max|V| of numpy eig(A), unit-pivot columns: lower bound "
                        "2^(4N/3)/16 divided by measured (<= 1: growth reproduced)",
                        dict(base, measured=maxV, lower_bound=bound_v, growth_law=law),
                        "float64", bound_v / maxV if maxV > 0 else math.inf, 1.0,
                        metric=M_LEGS_MAXV,
                        note=f"max|V| = {maxV:.3e} (numpy, columns scaled to a unit pivot); "
                        "numpy's own unit-2-norm columns have max|V| <= 1 by construction"))
        ex = _exact_legs_V(N)
        if ex is not None:
            maxVe, lg = ex
            rows.append(Row(EXP_LEGS, "max|V| exact (rational arithmetic), unit pivot: lower "
                            "bound 2^(4N/3)/16 divided by measured (<= 1: growth law holds)",
                            dict(base, measured=maxVe, lower_bound=bound_v, growth_law=law,
                                 log2_measured=lg),
                            "float64", 2.0 ** (4 * N / 3 - 4 - lg), 1.0,
                            metric=M_LEGS_MAXV_EXACT,
                            note=f"log2 max|V| - 4N/3 = {lg - 4 * N / 3:.2f}; exact eigenvectors "
                            "of the integer matrix D^-1 A D (python-flint fmpq_mat)"))
        g = growth_lower_bound(N, eps64)
        with np.errstate(all="ignore"):
            Vi = np.linalg.inv(V)
            rec = relative_error((V * lam[None, :]) @ Vi, A64)
        rec = rec if math.isfinite(rec) else math.inf
        rows.append(Row(EXP_LEGS, "naive reconstruction V diag(lam) V^-1 vs A: lower bound "
                        "eps 2^(4N/3)/64 divided by measured (<= 1: instability reproduced)",
                        dict(base, measured=rec, lower_bound=g), "float64",
                        g / rec if rec > 0 else math.inf, 1.0, metric=M_LEGS_REC_NAIVE,
                        note=f"naive reconstruction error = {rec:.3e} (informational: expected "
                        "to be large)"))
        try:
            with np.errstate(all="ignore"):
                Bn, Cn = Vi @ B64, C @ V
                Kn = _np(ss.kernels.kernel_diag(xp.asarray(lam), xp.asarray(Bn), xp.asarray(Cn),
                                                dt, L, method="bilinear"))
            en = relative_error(Kn, truth.value)
            extra = ""
        except ValueError as exc:  # overflow: the naive kernel is unusable
            en = math.inf
            extra = f"kernel_diag raised ValueError ({exc}): counted as an infinite error"
        ratio = g / en if en > 0 else math.inf
        rows.append(measured(EXP_LEGS, "naive kernel (eig(A) + kernel_diag bilinear) vs ground "
                        "truth: "
                        "lower bound eps 2^(4N/3)/64 divided by measured (<= 1: instability "
                        "reproduced)",
                        dict(kparams, measured=en, lower_bound=g), "float64", ratio, 1.0,
                        truth, metric=M_LEGS_K_NAIVE,
                        note="; ".join(s for s in (f"naive kernel error = {en:.3e} "
                                                   "(informational: expected to be large)",
                                                   extra) if s)))

    # ---- NPLR (backend); LegS decays at rate alpha = 1 (eigenvalues -(n+1))
    mem = _memory(1.0, dt, L)
    for dtype in dtypes:
        eps = _eps(dtype)
        try:
            d = ss.nplr("legs", N, dtype=getattr(xp, dtype), xp=xp)
            Lam, P, Bt, Vn = (_np(t) for t in d)
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_LEGS, "NPLR decomposition", base, dtype, exc))
            continue
        Lc, Pc, Vc = (t.astype(np.complex128) for t in (Lam, P, Vn))
        rec = relative_error(Vc @ (np.diag(Lc) - Pc.conj().T @ Pc) @ Vc.conj().T, A64)
        rows.append(Row(EXP_LEGS, "NPLR reconstruction V (Lambda - P^H P) V^H vs A, rel. max "
                        "error", dict(base), dtype, rec, bounds.NPLR_RECON(N=N, eps=eps),
                        metric=M_LEGS_REC_NPLR, note=bounds.NPLR_RECON.note()))
        try:
            Cx = xp.asarray(C.astype(dtype), dtype=getattr(xp, dtype))
            Cv = xp.sum(xp.astype(Cx, getattr(xp, _cdt(dtype)))[:, None] * d.V, axis=0)
            Kp = _np(ss.kernels.kernel_dplr(d.Lambda, d.P, d.B, Cv, dt, L))
            rows.append(_row(EXP_LEGS, "NPLR kernel (kernel_dplr, full form) vs ground truth, "
                             "rel. max error", dict(kparams), dtype, Kp, truth,
                             _dplr_tol(N, L, mem, eps), metric=M_LEGS_K_NPLR,
                             note=bounds.KERNEL_DPLR.note(f"M = {mem:.3g}")))
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_LEGS, "NPLR kernel (kernel_dplr, full form) vs ground "
                                   "truth, rel. max error", kparams, dtype, exc, truth.note))
    return rows


def _available():
    try:
        return set(make_data.available())
    except FileNotFoundError:
        return set()


# --------------------------------------------------------------------------- discretization


def _gbt_kappa(A, dt, alpha):
    if alpha == 0:
        return 1.0
    return float(np.linalg.cond(np.eye(A.shape[0]) - alpha * dt * A))


def _expm_kappa(A, dt):
    from scipy.linalg import expm

    X = dt * np.asarray(A, dtype=np.float64)
    nX = float(np.linalg.norm(X, 2))
    peak = max(float(np.linalg.norm(expm(s * X), 2)) for s in np.linspace(0, 1, 17))
    nE = float(np.linalg.norm(expm(X), 2))
    return max(1.0, nX * peak ** 2 / nE)


def _zoh_block_ratio(A, B, dt):
    """``|exp(dt M)|_2 / |Bd|_2`` for the augmented ``M = [[A, B], [0, 0]]`` (>= 1)."""
    from scipy.linalg import expm

    N = A.shape[0]
    M = np.zeros((N + 1, N + 1))
    M[:N, :N] = A
    M[:N, N] = B
    E = expm(dt * M)
    nb = float(np.linalg.norm(E[:N, N]))
    return max(1.0, float(np.linalg.norm(E, 2)) / nb) if nb > 0 else math.inf


_METHODS = (("bilinear", None), ("zoh", None), ("gbt", 0.0), ("gbt", 0.5), ("gbt", 1.0))


def _method_label(method, alpha):
    return method if alpha is None else f"gbt(alpha={alpha:g})"


def discretization_dense(measure, N, dts, dtypes, backend):
    r"""Dense discretizations of a HiPPO system against mpmath.

    Parameters
    ----------
    measure : str
        A formula measure (:data:`statespace.verification.reference.FORMULA_MEASURES`).
    N : int
        State size.
    dts : sequence of float
        Steps.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend of :mod:`statespace.discretize`.

    Returns
    -------
    rows : list of Row
        ``Ad`` and ``Bd`` per method (bilinear, ZOH, GBT with
        :math:`\alpha \in \{0, 1/2, 1\}`), step and dtype.

    Examples
    --------
    >>> from statespace.verification.suite import discretization_dense
    >>> rows = discretization_dense("legs", 4, [0.1], ["float64"], "numpy")
    >>> len(rows), all(r.passed for r in rows)
    (10, True)
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    A64, B64 = ss.hippo.transition(measure, N)
    engine = _engine()
    rows = []
    for dt in dts:
        for method, alpha in _METHODS:
            rmeth = "zoh" if method == "zoh" else "gbt"
            ralpha = None if method == "zoh" else (0.5 if alpha is None else alpha)
            r = ref.converged(_disc_pipeline, measure, N, dt, rmeth, ralpha, dps=_DPS,
                              extra=_EXTRA, norm="max", engine=engine)
            tA = _from_reference(r.part(0), f"{engine} discretize")
            tB = _from_reference(r.part(1), f"{engine} discretize")
            tB.value = tB.value[:, 0]
            if method == "zoh":
                kappa = _expm_kappa(A64, dt)
                tol_a = tol_b = bounds.DENSE_ZOH
                # Bd is read off exp(dt [[A, B], [0, 0]]), whose error is normwise
                # relative to the whole exponential (zoh's documented guarantee)
                grow_b = _zoh_block_ratio(A64, B64, dt)
                tol_b = bounds.DENSE_ZOH_BD
            else:
                kappa = _gbt_kappa(A64, dt, ralpha)
                tol_a = tol_b = bounds.DENSE_GBT
                grow_b = 1.0
            label = _method_label(method, alpha)
            for dtype in dtypes:
                params = {"form": "dense", "measure": measure, "N": N, "dt": dt,
                          "method": label, "backend": backend, "kappa": kappa}
                tol = tol_a(N=N, kappa=kappa, eps=_eps(dtype))
                tolb = tol_b(N=N, kappa=kappa, eps=_eps(dtype), ratio=grow_b)
                try:
                    A, B = ss.hippo.transition(measure, N, dtype=getattr(xp, dtype), xp=xp)
                    out = sd.discretize(sd.DenseSystem(A, B), dt, method, alpha=alpha)
                    Ad, Bd = _np(out[0]), _np(out[1])
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_DISC, f"{label} Ad, Bd", params, dtype, exc))
                    continue
                rows.append(_row(EXP_DISC, f"{label} Ad (dense), rel. max error", params, dtype,
                                 Ad, tA, tol, note=tol_a.note()))
                rows.append(_row(EXP_DISC, f"{label} Bd (dense), rel. max error", params, dtype,
                                 Bd, tB, tolb, note=tol_b.note(
                                     f"ratio {grow_b:.3g}" if tol_b is not tol_a else "")))
    return rows


def _diag_kappas(x, method, alpha):
    """Relative condition numbers of the scalar pole and input maps at x = dt lambda."""
    ax = np.abs(x)
    if method == "zoh":
        return ax, ax
    a = alpha
    with np.errstate(all="ignore"):
        kp = np.abs(x * ((1 - a) / (1 + (1 - a) * x) + a / (1 - a * x)))
        kb = np.abs(a * x / (1 - a * x))
    return kp, kb


def _rel_entrywise(a, r):
    """Largest entrywise relative error ``max_i |a_i - r_i| / |r_i|``.

    ``|r_i|`` is floored at the smallest normal float64; ``inf`` on a shape mismatch or
    a non-finite ``a``. Stricter than :func:`relative_error`, which divides every entry's
    error by ``max_i |r_i|``.
    """
    a = np.asarray(a).astype(np.complex128)
    r = np.asarray(r).astype(np.complex128)
    if a.shape != r.shape or not np.all(np.isfinite(a)):
        return math.inf
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(r), np.finfo(np.float64).tiny)
        return float(np.max(np.abs(a - r) / scale))


def discretization_diag(init, N, dts, dtypes, backend):
    r"""Diagonal discretizations (``gbt_diag``, ``zoh_diag``) of an S4D system vs mpmath.

    Parameters
    ----------
    init : str
        An S4D initialisation of :data:`statespace.decomp.S4D_INITS`.
    N : int
        Full state size (``N // 2`` modes).
    dts : sequence of float
        Steps.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend of :mod:`statespace.discretize`.

    Returns
    -------
    rows : list of Row
        Entrywise relative errors of ``Lambda_d`` and ``Bd``.

    Examples
    --------
    >>> from statespace.verification.suite import discretization_diag
    >>> rows = discretization_diag("diag-lin", 4, [0.1], ["float64"], "numpy")
    >>> len(rows), all(r.passed for r in rows)
    (10, True)
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    h64 = ss.dplr(init, N)
    lam64 = np.asarray(h64.Lambda)
    B64 = np.asarray(h64.B)
    engine = _engine()
    rows = []
    for dt in dts:
        for method, alpha in _METHODS:
            rmeth = "zoh" if method == "zoh" else "gbt"
            ralpha = None if method == "zoh" else (0.5 if alpha is None else alpha)
            r = ref.converged(_disc_diag_pipeline, lam64.tolist(), B64.tolist(), dt, rmeth, ralpha,
                              dps=_DPS, extra=_EXTRA, norm="entrywise", engine=engine)
            tL = ref.to_numpy(r.value[0], np.complex128)
            tB = ref.to_numpy(r.value[1], np.complex128)
            kp, kb = _diag_kappas(dt * lam64, rmeth, ralpha if ralpha is not None else 0.0)
            label = _method_label(method, alpha)
            for dtype in dtypes:
                eps = _eps(dtype)
                params = {"form": "diagonal", "system": init, "N": N, "dt": dt, "method": label,
                          "backend": backend}
                try:
                    h = ss.dplr(init, N, dtype=getattr(xp, dtype), xp=xp)
                    out = sd.discretize(sd.DiagSystem(h.Lambda, h.B), dt, method, alpha=alpha)
                    Ld, Bd = _np(out[0]), _np(out[1])
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_DISC, f"{label} Lambda_d, Bd", params, dtype, exc))
                    continue
                for nm, a, t, k in (("Lambda_d", Ld, tL, kp), ("Bd", Bd, tB, kb)):
                    km = float(np.max(k)) if np.all(np.isfinite(k)) else math.inf
                    rows.append(measured(
                        EXP_DISC, f"{label} {nm} (diagonal), max entrywise rel. error",
                        dict(params, kappa=km), dtype, _rel_entrywise(a, t),
                        bounds.DIAG_DISC(kappa=km, eps=eps), r,
                        source=f"{engine} discretize of diag(Lambda)",
                        note=bounds.DIAG_DISC.note()))
    return rows


# --------------------------------------------------------------------------- kernels


def _decay_rate(measure, N):
    """alpha = -max Re eig(A) (>= 0): the slowest decay rate of the HiPPO system.

    Triangular measures: the diagonal, exactly; others: ``numpy.linalg.eigvals``.
    """
    import statespace as ss

    A, _ = ss.hippo.transition(measure, N)
    lam = np.diag(A) if measure in _TRIANGULAR else np.linalg.eigvals(A)
    return max(0.0, -float(np.max(np.real(lam))))


def _memory(alpha, dt, L):
    """The kernel's memory in lags, ``min(L, 1/(dt alpha))`` (``L`` when alpha = 0)."""
    return float(L) if alpha <= 0 else min(float(L), 1.0 / (dt * alpha))


def _dplr_tol(N, L, mem, eps):
    """Tolerance of ``kernel_dplr``: ``N (log2 L + M) eps`` (module docstring)."""
    return bounds.KERNEL_DPLR(N=N, L=L, eps=eps, M=mem)


def _kernel_params(path, system, N, L, dt, method, backend, reference):
    return {"path": path, "system": system, "N": N, "L": L, "dt": dt, "method": method,
            "backend": backend, "reference": reference}


def kernel_hippo(measure, N, Ls, dt, dtypes, backend, method="bilinear", paths=None):
    """``kernel_dense`` and ``kernel_dplr`` of a HiPPO system against ground truth.

    Parameters
    ----------
    measure : str
        One of ``legs``, ``legt``, ``fout``, ``lagt`` (cached data) or any formula
        measure (references computed on the fly).
    N : int
        State size.
    Ls : sequence of int
        Kernel lengths.
    dt : float
        Step.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend of the kernels.
    method : str, optional
        ``"bilinear"`` (both paths) or ``"zoh"`` (``kernel_dense`` only).
    paths : sequence of str, optional
        Subset of ``("kernel_dense", "kernel_dplr")``.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import kernel_hippo
    >>> rows = kernel_hippo("legs", 16, [64], 0.01, ["float64"], "numpy")
    >>> [r.params["path"] for r in rows], all(r.passed for r in rows)
    (['kernel_dense', 'kernel_dplr'], True)
    """
    import statespace as ss

    xp = _xp(backend)
    if paths is None:
        paths = ("kernel_dense", "kernel_dplr") if method == "bilinear" else ("kernel_dense",)
    Ls = sorted(Ls)

    cheap = N * N * max(Ls) <= 16 * 16 * 65536  # arb kernel in ~5 s at most
    cached = _cached_kernel(measure, N, dt, method) is not None

    def truth_for(L, dtype):
        # the cached mpmath kernel up to 4096; else the arb kernel where it is cheap
        # (N^2 L <= 16^2 65536) or up to 4096, else kernel_dense in float64 (float32 rows)
        if L <= _CACHED_L and (cached or not cheap):
            return _hippo_kernel_truth(measure, N, dt, min(max(Ls), _CACHED_L), method).head(L)
        if cheap:
            return _hippo_kernel_truth(measure, N, dt, max(Ls), method).head(L)
        if dtype == "float32":
            return _dense64_kernel(measure, N, dt, L, method)
        return None

    C = _cvec(N)
    alpha = _decay_rate(measure, N)
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        try:
            A, B = ss.hippo.transition(measure, N, dtype=getattr(xp, dtype), xp=xp)
            Cx = xp.asarray(C.astype(dtype), dtype=getattr(xp, dtype))
            h = ss.dplr(measure, N, dtype=getattr(xp, dtype), xp=xp) \
                if "kernel_dplr" in paths else None
            Cv = xp.sum(xp.astype(Cx, getattr(xp, _cdt(dtype)))[:, None] * h.V, axis=0) \
                if h is not None else None
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_KERNEL, "kernel inputs", {"system": measure, "N": N},
                                   dtype, exc))
            continue
        for L in Ls:
            t = truth_for(L, dtype)
            if t is None:
                continue  # float64 beyond the mpmath data: no independent reference
            for path in paths:
                params = _kernel_params(path, measure, N, L, dt, method, backend, t.source)
                try:
                    if path == "kernel_dense":
                        K = ss.kernels.kernel_dense(A, B, Cx, dt, L, method)
                        tol = bounds.KERNEL_DENSE(N=N, L=L, eps=eps)
                        rule = bounds.KERNEL_DENSE.note()
                    else:
                        K = ss.kernels.kernel_dplr(h.Lambda, h.P, h.B, Cv, dt, L, halved=True)
                        mem = _memory(alpha, dt, L)
                        tol = _dplr_tol(N, L, mem, eps)
                        rule = bounds.KERNEL_DPLR.note(f"M = {mem:.3g}")
                    K = _np(K)
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_KERNEL, f"{path} vs ground truth", params, dtype,
                                           exc, t.note))
                    continue
                rows.append(_row(EXP_KERNEL, f"{path} ({method}) vs ground truth, rel. max error",
                                 params, dtype, K, t, tol, note=rule))
    return rows


@functools.lru_cache(maxsize=16)
def _diag_truth(init, N, dt, L, method):
    lam, B, C = _diag_full(init, N)
    engine = _engine()
    r = ref.converged(_diag_kernel_pipeline, lam.tolist(), B.tolist(), C.tolist(), dt, L, method,
                      dps=_DPS, extra=_EXTRA, norm="max", engine=engine)
    t = _from_reference(r, f"{engine} kernel of diag(Lambda) by explicit powers")
    t.value = np.real(t.value) if np.iscomplexobj(t.value) else t.value
    return t


def kernel_diag_init(init, N, Ls, dt, dtypes, backend, method="zoh"):
    """``kernel_diag`` of an S4D initialisation (halved) against ground truth.

    Parameters
    ----------
    init : str
        One of :data:`statespace.decomp.S4D_INITS`.
    N : int
        Full state size (``N // 2`` modes).
    Ls : sequence of int
        Kernel lengths (the reference is computed once at the largest).
    dt : float
        Step.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend.
    method : {"zoh", "bilinear"}, optional
        Discretization of the diagonal system.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import kernel_diag_init
    >>> rows = kernel_diag_init("diag-lin", 8, [32], 0.01, ["float64"], "numpy")
    >>> rows[0].params["path"], rows[0].passed
    ('kernel_diag', True)
    """
    import statespace as ss

    xp = _xp(backend)
    Ls = sorted(Ls)

    def truth_for(L, dtype):
        # the arb kernel where it is cheap (N^2 L <= 16^2 65536), else kernel_dense in
        # float64 for float32 rows
        if N * N * max(Ls) <= 16 * 16 * 65536:
            return _diag_truth(init, N, dt, max(Ls), method).head(L)
        if L <= _CACHED_L:
            return _diag_truth(init, N, dt, min(max(Ls), _CACHED_L), method).head(L)
        if dtype == "float32":
            return _diag_dense64(init, N, dt, L, method)
        return None

    h64 = ss.dplr(init, N)
    xmax = float(np.max(np.abs(dt * np.asarray(h64.Lambda))))
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        try:
            h = ss.dplr(init, N, dtype=getattr(xp, dtype), xp=xp)
            Cx = xp.asarray(_chalf(N).astype(_cdt(dtype)), dtype=getattr(xp, _cdt(dtype)))
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_KERNEL, "kernel_diag inputs", {"system": init, "N": N},
                                   dtype, exc))
            continue
        for L in Ls:
            t = truth_for(L, dtype)
            if t is None:
                continue  # float64 beyond the mpmath reference: no independent reference
            params = _kernel_params("kernel_diag", init, N, L, dt, method, backend, t.source)
            tol = bounds.KERNEL_DIAG(N=N, L=L, eps=eps, x=xmax)
            try:
                K = _np(ss.kernels.kernel_diag(h.Lambda, h.B, Cx, dt, L, method=method,
                                               halved=True))
            except Exception as exc:  # noqa: BLE001
                rows.append(_error_row(EXP_KERNEL, "kernel_diag vs ground truth", params, dtype,
                                       exc, t.note))
                continue
            rows.append(_row(EXP_KERNEL, f"kernel_diag ({method}) vs ground truth, rel. max error",
                             params, dtype, K, t, tol,
                             note=bounds.KERNEL_DIAG.note(f"max|dt lambda_n| = {xmax:.3g}")))
    return rows


@functools.lru_cache(maxsize=8)
def _diag_dense64(init, N, dt, L, method):
    """Reference for float32 diagonal kernels beyond mpmath: float64 ``kernel_dense``."""
    import statespace as ss

    lam, B, C = _diag_full(init, N)
    K = np.real(np.asarray(ss.kernels.kernel_dense(np.diag(lam), B, C, dt, L, method)))
    note = (f"reference: computed live, kernel_dense in float64 (mpmath too slow at N={N}, "
            f"L={L}); its own "
            f"error ~ N L eps64 = {N * L * _eps('float64'):.1e}")
    return _Truth(K, True, note, "kernel_dense float64")


# --------------------------------------------------------------------------- recurrence


def recurrence_vs_conv(kind, N, L, dt, dtypes, backend):
    r"""Recurrence (:func:`statespace.scan`) against FFT convolution with the matching kernel.

    Parameters
    ----------
    kind : {"dense", "diag", "dplr"}
        ``"dense"``: LegS, bilinear, ``kernel_dense``; ``"diag"``: S4D-Lin, ZOH,
        ``kernel_diag``; ``"dplr"``: LegS halved DPLR, bilinear, ``kernel_dplr``.
    N : int
        State size.
    L : int
        Sequence length.
    dt : float
        Step.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import recurrence_vs_conv
    >>> rows = recurrence_vs_conv("diag", 8, 128, 0.01, ["float64"], "numpy")
    >>> rows[0].passed
    True
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    rng = np.random.default_rng(3000 + N + L)
    u64 = rng.standard_normal(L).astype(np.float32).astype(np.float64)
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        fdt, cdt = getattr(xp, dtype), getattr(xp, _cdt(dtype))
        u = xp.asarray(u64.astype(dtype), dtype=fdt)
        system = {"dense": "legs", "diag": "diag-lin", "dplr": "legs"}[kind]
        params = {"kind": kind, "system": system, "N": N, "L": L, "dt": dt, "backend": backend}
        try:
            if kind == "dense":
                A, B = ss.hippo.transition("legs", N, dtype=fdt, xp=xp)
                C = xp.asarray(_cvec(N).astype(dtype), dtype=fdt)
                y_rec, _ = ss.recurrence.scan(sd.bilinear(A, B, dt), u, C=C)
                K = ss.kernels.kernel_dense(A, B, C, dt, L)
            elif kind == "diag":
                h = ss.dplr("diag-lin", N, dtype=fdt, xp=xp)
                C = xp.asarray(_chalf(N).astype(_cdt(dtype)), dtype=cdt)
                y_rec, _ = ss.recurrence.scan(sd.zoh_diag(h.Lambda, h.B, dt), u, C=C, halved=True)
                K = ss.kernels.kernel_diag(h.Lambda, h.B, C, dt, L, method="zoh", halved=True)
            else:
                h = ss.dplr("legs", N, dtype=fdt, xp=xp)
                Cx = xp.asarray(_cvec(N).astype(dtype), dtype=fdt)
                C = xp.sum(xp.astype(Cx, cdt)[:, None] * h.V, axis=0)
                sys_ = sd.bilinear_dplr(h.Lambda, h.P, h.B, dt, halved=True)
                y_rec, _ = ss.recurrence.scan(sys_, u, C=C, halved=True)
                K = ss.kernels.kernel_dplr(h.Lambda, h.P, h.B, C, dt, L, halved=True)
            y_conv = ss.conv.causal_conv(u, K)
            y_rec, y_conv, Kn = _np(y_rec), _np(y_conv), _np(K)
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_RECUR, f"scan vs causal_conv ({kind})", params, dtype, exc))
            continue
        ymax = float(np.max(np.abs(y_conv))) if y_conv.size else 0.0
        amp = float(np.sum(np.abs(Kn)) * np.max(np.abs(u64)) / ymax) if ymax > 0 else math.inf
        tol = bounds.RECURRENCE(N=N, L=L, eps=eps, amp=amp)
        rows.append(_row(EXP_RECUR, f"scan ({kind}) vs causal_conv (matching kernel), rel. max "
                         "error", dict(params, amplification=amp), dtype, y_rec, y_conv, tol,
                         note=bounds.RECURRENCE.note("the two paths judge each other "
                                                     "(no mpmath)")))
    return rows


def scan_routes(kind, N, L, dt, dtypes, backend, chunk=64):
    r"""The fast routes of :func:`statespace.scan` against the step loop in float64.

    Each route (``associative``, ``chunked``, ``convolution`` for diagonal systems,
    ``auto``) runs in the working dtype; the truth is the ``sequential`` route in
    float64 on the same system (its arrays rounded to the working dtype first).
    Tolerances (the Notes of :func:`statespace.scan`): float64
    ``8 (n + L) eps`` relative; float32 ``16 eps (n + T + min(L, tau)) amp`` with
    ``tau = 1 / (1 - rho(Ad))`` and ``amp = ||C||_1 X / max|y|`` (outputs) or
    ``X / max|x_final|`` (final state), ``X`` the largest state entry.

    Parameters
    ----------
    kind : {"dense", "diag", "dplr"}
        ``"dense"``: LegS, bilinear; ``"diag"``: S4D-Lin halved, ZOH; ``"dplr"``:
        LegS halved DPLR, bilinear.
    N : int
        State size.
    L : int
        Sequence length.
    dt : float
        Step.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend.
    chunk : int, optional
        Chunk length of the routes.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import scan_routes
    >>> rows = scan_routes("diag", 8, 256, 0.01, ["float64"], "numpy")
    >>> all(r.passed for r in rows)
    True
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    rng = np.random.default_rng(4000 + N + L)
    u64 = rng.standard_normal(L).astype(np.float32).astype(np.float64)
    routes = ("associative", "chunked") + (("convolution",) if kind == "diag" else ()) + ("auto",)
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        fdt, cdt = getattr(xp, dtype), getattr(xp, _cdt(dtype))
        u = xp.asarray(u64.astype(dtype), dtype=fdt)
        system = {"dense": "legs", "diag": "diag-lin", "dplr": "legs"}[kind]
        params = {"kind": kind, "system": system, "N": N, "L": L, "dt": dt, "T": chunk,
                  "backend": backend}
        try:
            halved = kind != "dense"
            if kind == "dense":
                A, B = ss.hippo.transition("legs", N, dtype=fdt, xp=xp)
                C = xp.asarray(_cvec(N).astype(dtype), dtype=fdt)
                sys_ = sd.bilinear(A, B, dt)
            elif kind == "diag":
                h = ss.dplr("diag-lin", N, dtype=fdt, xp=xp)
                C = xp.asarray(_chalf(N).astype(_cdt(dtype)), dtype=cdt)
                sys_ = sd.zoh_diag(h.Lambda, h.B, dt)
            else:
                h = ss.dplr("legs", N, dtype=fdt, xp=xp)
                Cx = xp.asarray(_cvec(N).astype(dtype), dtype=fdt)
                C = xp.sum(xp.astype(Cx, cdt)[:, None] * h.V, axis=0)
                sys_ = sd.bilinear_dplr(h.Lambda, h.P, h.B, dt, halved=True)
            wide = {f: (np.asarray(_np(v), dtype=np.complex128 if np.iscomplexobj(_np(v))
                                   else np.float64) if f != "halved" else v)
                    for f, v in sys_._asdict().items()}
            sys64 = type(sys_)(**wide)
            C64 = _np(C).astype(np.complex128 if np.iscomplexobj(_np(C)) else np.float64)
            states, _ = ss.scan(sys64, u64, halved=halved, method="sequential")
            y_ref, x_ref = ss.scan(sys64, u64, C=C64, halved=halved, method="sequential")
            if kind == "dense":
                Ad = sys64.Ad
            elif kind == "diag":
                Ad = np.diag(sys64.Lambda_d)
            else:
                Ad = sys64.to_dense().Ad
            rho = float(np.max(np.abs(np.linalg.eigvals(Ad))))
            n = 2 * N if kind == "dplr" else N
            X = float(np.max(np.abs(states)))
            amp_y = (2 if halved else 1) * float(np.sum(np.abs(C64))) * X / float(
                np.max(np.abs(y_ref)))
            amp_x = X / float(np.max(np.abs(x_ref)))
        except Exception as exc:  # noqa: BLE001
            rows.append(_error_row(EXP_RECUR, f"scan routes ({kind})", params, dtype, exc))
            continue
        memory = min(L, 1.0 / max(1.0 - rho, 1e-300))
        if dtype == "float64":
            tol_y = tol_x = bounds.SCAN64(N=n, L=L, eps=eps)
            note = bounds.SCAN64.note() + "; truth: the float64 step loop"
        else:
            tol_y, tol_x = (bounds.SCAN32(N=n, L=L, eps=eps, T=chunk, tau=memory, amp=a)
                            for a in (amp_y, amp_x))
            note = (bounds.SCAN32.note(f"tau = {1 / (1 - rho):.3g}")
                    + "; truth: the float64 step loop")
        for route in routes:
            p = dict(params, route=route)
            try:
                y, xf = ss.scan(sys_, u, C=C, halved=halved, method=route, chunk=chunk)
                y, xf = _np(y), _np(xf)
            except Exception as exc:  # noqa: BLE001
                rows.append(_error_row(EXP_RECUR, f"scan route {route} ({kind})", p, dtype, exc))
                continue
            rows.append(_row(EXP_RECUR, f"scan route {route} ({kind}) outputs vs float64 loop, "
                             "rel. max error", dict(p, amplification=amp_y), dtype, y, y_ref,
                             tol_y, note=note))
            rows.append(_row(EXP_RECUR, f"scan route {route} ({kind}) final state vs float64 "
                             "loop, rel. max error", dict(p, amplification=amp_x), dtype, xf,
                             x_ref, tol_x, note=note))
    return rows


# --------------------------------------------------------------------------- stability


def _mapped_radius(lamA, dt, method):
    z = dt * np.asarray(lamA, dtype=np.complex128)
    if method == "zoh":
        return float(np.max(np.abs(np.exp(z))))
    return float(np.max(np.abs((1 + z / 2) / (1 - z / 2))))


_TRIANGULAR = ("legs", "lagt", "tlagt", "glagt")
_MARGINAL = ("fout", "fourier_decay")


def stability(measure, N, dts, dtypes, backend):
    """Spectral radius of the dense bilinear and ZOH discretizations of one measure.

    Parameters
    ----------
    measure : str
        A name of :data:`statespace.hippo.MEASURES`.
    N : int
        State size.
    dts : sequence of float
        Steps.
    dtypes : sequence of str
        Dtype of the discretized matrix (its eigenvalues are computed in float64).
    backend : str
        Backend of the discretization.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import stability
    >>> rows = stability("legt", 8, [0.1, 10.0], ["float64"], "numpy")
    >>> len(rows), all(r.passed for r in rows)
    (4, True)
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    A64, _ = ss.hippo.transition(measure, N)
    lamA = np.linalg.eigvals(A64)
    maxre = float(np.max(lamA.real))
    strict = bounds.STABLE()
    rows = []
    if measure == "random":
        _, W = np.linalg.eig(A64)
        kW = float(np.linalg.cond(W))
        kdisc = {(dt, m): (_gbt_kappa(A64, dt, 0.5) if m == "bilinear" else _expm_kappa(A64, dt))
                 for dt in dts for m in ("bilinear", "zoh")}
    for dt in dts:
        for method in ("bilinear", "zoh"):
            exact = None
            if measure in _TRIANGULAR:
                exact = _mapped_radius(np.diag(A64), dt, method)
            for dtype in dtypes:
                params = {"measure": measure, "N": N, "dt": dt, "method": method,
                          "backend": backend}
                if exact is not None:
                    params["rho_exact"] = exact
                try:
                    A, B = ss.hippo.transition(measure, N, dtype=getattr(xp, dtype), xp=xp)
                    out = sd.discretize(sd.DenseSystem(A, B), dt, method)
                    Ad = _np(out[0]).astype(np.float64)
                    bad = int(np.count_nonzero(~np.isfinite(Ad)))
                    if bad:
                        rows.append(Row(EXP_STAB, f"spectral radius of {method} Ad", params,
                                        dtype, math.inf, 1.0, note=f"discretize.{method} "
                                        f"returned {bad} non-finite entries of Ad"))
                        continue
                    ev = np.linalg.eigvals(Ad)
                    rho = float(np.max(np.abs(ev)))
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_STAB, f"spectral radius ({method})", params, dtype,
                                           exc))
                    continue
                q = f"spectral radius of {method} Ad (eigvals of the dense {dtype} matrix)"
                if measure == "random":
                    mapped = _mapped_radius(lamA, dt, method)
                    # Bauer-Fike: |d rho| <= kappa(W) |E|_2 with the backward error of the
                    # computed Ad, |E| ~ N eps kappa_disc |Ad|; 4 for the mapped reference
                    tol = bounds.STAB_RANDOM(N=N, eps=_eps(dtype), kappa=kW * kdisc[(dt, method)],
                                             ratio=float(np.linalg.norm(Ad, 2)) / mapped)
                    rows.append(Row(EXP_STAB, "random ablation (unstable by construction): |rho "
                                    "- rho(mapped eig A)| / rho(mapped)",
                                    dict(params, rho=rho, max_re_eig_A=maxre), dtype,
                                    abs(rho - mapped) / mapped, tol,
                                    note=f"max Re eig(A) = {maxre:.3g} > 0, so rho > 1 is "
                                    f"expected; {bounds.STAB_RANDOM.note('Bauer-Fike')}"))
                    continue
                note = f"strictly stable: must be < 1 ({bounds.STABLE.note()})"
                if measure in ("legt", "lagt"):
                    note += "; the normal part has purely imaginary eigenvalues but A is stable"
                if exact is not None and abs(rho - exact) > 1e-6 * exact:
                    note += (f"; eigvals of the non-normal Ad are inaccurate: exact rho = "
                             f"{exact:.6g}")
                if measure in _MARGINAL:
                    rows.append(Row(EXP_STAB, q, params, dtype, rho, bounds.MARGINAL(),
                                    note=f"{bounds.MARGINAL.note()}; marginally stable: the "
                                    "frequency-0 sine coordinate is decoupled (zero row and "
                                    "column of A), an exact eigenvalue 0, so rho = 1 exactly; "
                                    "the normal part is skew"))
                    keep = [i for i in range(N) if i != 1]
                    ev2 = np.linalg.eigvals(Ad[np.ix_(keep, keep)])
                    rows.append(Row(EXP_STAB, f"spectral radius of {method} Ad without the "
                                    "decoupled coordinate", params, dtype,
                                    float(np.max(np.abs(ev2))), strict, note=note))
                else:
                    rows.append(Row(EXP_STAB, q, params, dtype, rho, strict, note=note))
    return rows


# =========================================================================== the suite


def experiments(quick=True, dtypes=("float32", "float64"), backend="numpy"):
    """The experiments of ``statespace verify``.

    Parameters
    ----------
    quick : bool, optional
        Small sizes (``--quick``, well under a minute on 2 cores); ``False``:
        all sizes (``--full``, several minutes).
    dtypes : sequence of str, optional
        ``"float32"`` and/or ``"float64"``.
    backend : str, optional
        ``"numpy"``, ``"torch"`` or ``"array_api_strict"``: the namespace the
        core computations run on (comparisons are made in NumPy).

    Returns
    -------
    experiments : list of statespace.verification.report.Experiment
        Picklable, for :func:`statespace.verification.report.run_suite` and any executor.
        Heaviest first, so a process pool finishes early.

    Examples
    --------
    >>> from statespace.verification.suite import experiments
    >>> names = [e.name for e in experiments(quick=True, dtypes=("float64",))]
    >>> "legs_N64" in names
    True
    """
    dtypes = tuple(dtypes)
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be float32 and/or float64, got {dtypes!r}")
    from statespace import hippo

    kw = {"dtypes": dtypes, "backend": backend}
    out = []

    def add(name, func, **kwargs):
        out.append(Experiment(name, func, dict(kwargs, **kw)))

    # LegS instability table
    Ns = (4, 8, 16, 32, 48, 64) if quick else (4, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 96, 128,
                                                192, 256)
    for N in sorted(Ns, reverse=True):
        add(f"legs_N{N}", legs_instability, N=N)

    # kernels
    Ls = (256, 1024, 4096) if quick else (256, 1024, 4096, 16384, 65536)
    kN = (16,) if quick else (16, 64, 256)
    for N in kN:
        for m in _KERNEL_MEASURES:
            dt = 0.005 if N == 256 else 0.01
            add(f"kernel_{m}_N{N}", kernel_hippo, measure=m, N=N, Ls=Ls, dt=dt)
    for m in (_KERNEL_MEASURES if not quick else ("legs",)):
        add(f"kernel_{m}_N16_zoh", kernel_hippo, measure=m, N=16, Ls=(256, 4096), dt=0.01,
            method="zoh")
    if not quick:
        for dt in (0.001, 0.1):
            for m in _KERNEL_MEASURES:
                add(f"kernel_{m}_N16_dt{dt:g}", kernel_hippo, measure=m, N=16,
                    Ls=(256, 1024, 4096), dt=dt)
    dN = (16,) if quick else (16, 64)
    inits = ("diag-lin", "diag-inv") if quick else ("diag-lin", "diag-inv", "diag-legs")
    for N in dN:
        for init in inits:
            for method in ("zoh", "bilinear"):
                dLs = Ls if (N == 16 or quick) else (256, 1024, 4096, 16384, 65536)
                add(f"kernel_diag_{init}_N{N}_{method}", kernel_diag_init, init=init, N=N,
                    Ls=dLs, dt=0.01, method=method)
    if not quick:
        for dt in (0.001, 0.1):
            add(f"kernel_diag_diag-lin_N16_dt{dt:g}", kernel_diag_init, init="diag-lin", N=16,
                Ls=(256, 1024, 4096), dt=dt, method="zoh")
    # growth with L: slowly decaying kernels (dt = LSCAN_DT), so that the max-norm error
    # is not set by the first lags alone; arb references at N = 16 up to L = 65536
    for m in LSCAN_SYSTEMS:
        if m.startswith("diag-"):
            add(f"lscan_{m}_N16", kernel_diag_init, init=m, N=16, Ls=Ls, dt=LSCAN_DT,
                method="zoh")
        else:
            add(f"lscan_{m}_N16", kernel_hippo, measure=m, N=16, Ls=Ls, dt=LSCAN_DT)

    # recurrence vs convolution
    rL = 4096 if quick else 65536
    for kind, N in (("dense", 16), ("diag", 16), ("dplr", 16)) if quick else \
            (("dense", 64), ("diag", 64), ("dplr", 64), ("dense", 16), ("dplr", 256)):
        add(f"recurrence_{kind}_N{N}_L{rL}", recurrence_vs_conv, kind=kind, N=N, L=rL, dt=0.01)
    sL = 1024 if quick else 16384
    for kind, N in (("diag", 16), ("dplr", 16), ("dense", 16)) if quick else \
            (("diag", 64), ("dplr", 64), ("dense", 64)):
        add(f"scan_routes_{kind}_N{N}_L{sL}", scan_routes, kind=kind, N=N, L=sL, dt=0.01)

    add("boundary_states", boundary_states, N=8 if quick else 16, L=64 if quick else 256, dt=0.01)
    add("kernel_trained", kernel_trained, N=64, L=4096, dts=(1e-3, 1e-2, 1e-1))
    add("kernel_trained_full", kernel_trained_full, N=64, L=4096, dts=(1e-3, 1e-2, 1e-1))
    add("verifier_selfcheck", verifier_selfcheck)
    # discretization
    dts = (1e-4, 1e-2, 1.0, 10.0) if quick else (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
    dmeas = (("legs", 8),) if quick else tuple((m, N) for m in _KERNEL_MEASURES for N in (8, 32))
    for m, N in dmeas:
        add(f"disc_{m}_N{N}", discretization_dense, measure=m, N=N, dts=dts)
    for init, N in ((("diag-inv", 16),) if quick else
                    (("diag-lin", 16), ("diag-inv", 16), ("diag-legs", 16), ("diag-inv", 64))):
        add(f"disc_{init}_N{N}", discretization_diag, init=init, N=N, dts=dts)

    # the reference implementation's initialisations; dense hold discretizations
    add("reference_inits", reference_inits, N=8 if quick else 64)
    hdts = (0.1,) if quick else (1e-4, 1e-2, 1.0, 10.0)
    for m, N in ((("legs", 8),) if quick else (("legs", 8), ("legs", 32), ("lagt", 16))):
        add(f"hold_{m}_N{N}", hold_discretization, measure=m, N=N, dts=hdts)

    # stability and HiPPO entries
    sN = (16,) if quick else (16, 64, 256)
    for m in hippo.MEASURES:
        for N in sN:
            add(f"stability_{m}_N{N}", stability, measure=m, N=N, dts=dts)
    hN = (16,) if quick else (16, 64, 256)
    for m in hippo.MEASURES:
        for N in hN:
            if m in ("fout", "fourier_decay", "foud") and N % 2:
                continue
            add(f"hippo_{m}_N{N}", hippo_entries, measure=m, N=N)
    # the HiPPO rows first in the list the user sees is not needed: the report groups
    # rows by experiment name; keep the expensive ones first for load balancing
    hippo_first = [e for e in out if e.name.startswith("hippo_")]
    rest = [e for e in out if not e.name.startswith("hippo_")]
    return hippo_first[:1] + rest + hippo_first[1:]


# --------------------------------------------------------------------------- initialisations

EXP_INITS = "Initialisations of the reference S4 implementation"

#: (init, options) cases of the S4D rows: the new inits, then every option on one init.
S4D_CASES = (
    ("diag-inv2", {}), ("diag-quad", {}), ("diag-rand", {"seed": 1}),
    ("diag-lin", {"real_scale": 0.25, "imag_scale": 3.0}),
    ("diag-inv", {"real_random": True, "imag_random": True, "seed": 2}),
    ("diag-real", {"real_random": True, "seed": 3}),
    ("diag-lin", {"B_init": "random", "B_scale": 0.5, "seed": 4}),
    ("diag-lin", {"B_init": "alternating"}),
    ("diag-lin", {"B_init": "unit-cw"}),
    ("diag-lin", {"B_init": "unit-ccw"}),
)


def _s4d_truth(init, N, opts, dps=40):
    """``(Lambda, B)`` of an S4D init from the formulas of :func:`statespace.dplr`'s
    docstring in mpmath (the random draws follow the documented recipe)."""
    import mpmath

    o = {"real_scale": 1.0, "imag_scale": 1.0, "real_random": False, "imag_random": False,
         "B_init": None, "B_scale": 1.0, "seed": 0}
    o.update(opts)
    h = N // 2
    rng = np.random.default_rng(o["seed"])
    with mpmath.workdps(dps):
        r = [mpmath.mpf(n + 1) if init == "diag-real" else mpmath.mpf(1) / 2 for n in range(h)]
        if o["real_random"]:
            u = rng.random(h)
            r = [(mpmath.mpf(N) / 2 if init == "diag-real" else 1) * mpmath.mpf(x) for x in u]
        io = [mpmath.mpf(n) for n in range(h)]
        if o["imag_random"]:
            io = [(N // 2) * mpmath.mpf(x) for x in rng.random(h)]
        g = rng.standard_normal(h) if init == "diag-rand" else None
        pi = mpmath.pi
        f = {"diag-lin": lambda i, n: pi * i,
             "diag-inv": lambda i, n: N / pi * (N / (2 * i + 1) - 1),
             "diag-inv2": lambda i, n: N / pi * (N / (i + 1) - 1),
             "diag-quad": lambda i, n: (1 + 2 * i) ** 2 / pi,
             "diag-rand": lambda i, n: mpmath.exp(mpmath.mpf(g[n])),
             "diag-real": lambda i, n: mpmath.mpf(0)}[init]
        lam = [complex(-o["real_scale"] * r[n], o["imag_scale"] * f(io[n], n))
               for n in range(h)]
        kind = o["B_init"] or "constant"
        if kind == "constant":
            b = [mpmath.mpc(1)] * h
        elif kind == "random":
            ab = rng.standard_normal((2, h))
            b = [mpmath.mpc(ab[0, n], ab[1, n]) / mpmath.sqrt(2) for n in range(h)]
        elif kind == "alternating":
            b = [mpmath.mpc((-1) ** n) for n in range(h)]
        else:
            sg = 1 if kind == "unit-cw" else -1
            b = [mpmath.expj(sg * 2 * pi * n / N) for n in range(h)]
        B = [complex(o["B_scale"] * x) for x in b]
    return np.array(lam), np.array(B)


def _fourier_ref_truth(name, N, dps=40):
    """``A, B, P`` of a reference Fourier name in mpmath, entry by entry."""
    import mpmath

    with mpmath.workdps(dps):
        omega, corr, bs, pf = {"fourier": (mpmath.pi, 1, 1, 1),
                               "fourier2": (2 * mpmath.pi, 2, 2, mpmath.sqrt(2)),
                               "fourier_diag": (2 * mpmath.pi, 0, 1, 0)}[name]
        b = [mpmath.mpf(1) if n == 0 else (mpmath.sqrt(2) if n % 2 == 0 else mpmath.mpf(0))
             for n in range(N)]
        A = mpmath.matrix(N, N)
        for m in range(N // 2):
            A[2 * m + 1, 2 * m] = omega * m
            A[2 * m, 2 * m + 1] = -omega * m
        for i in range(N):
            for j in range(N):
                A[i, j] -= corr * b[i] * b[j]
            if name == "fourier_diag":
                A[i, i] -= mpmath.mpf(1) / 2
        B = mpmath.matrix([bs * x for x in b])
        P = mpmath.matrix([[pf * x for x in b]])
    return A, B, P


def _window_projection(theta, N, w, t, phi, dps=30):
    """FouT coefficients of ``cos(w s + phi)`` on the window ``[t - theta, t]``."""
    import mpmath

    def p(n, s):
        m = n // 2
        if n == 0:
            return mpmath.mpf(1)
        c = mpmath.cos if n % 2 == 0 else (lambda x: -mpmath.sin(x))
        return mpmath.sqrt(2) * c(2 * mpmath.pi * m * s)

    with mpmath.workdps(dps):
        th = mpmath.mpf(theta)
        return np.array([float(mpmath.quad(
            lambda s, n=n: mpmath.cos(w * (t - th + s) + phi) * p(n, s / th),
            [0, th / 2, th]) / th) for n in range(N)])


def reference_inits(N, dtypes, backend):
    r"""The reference implementation's initialisations and the FouT time scale.

    Rows (each against an mpmath computation of the documented formula):

    * S4D inits and options (:data:`S4D_CASES`): ``Lambda`` and ``B`` of
      :func:`statespace.dplr`, max-norm relative error; tolerance
      :math:`8\varepsilon` (a handful of roundings relative to the largest term;
      float32 results are one rounding of the float64 values);
    * ``fourier``, ``fourier2``, ``fourier_diag``: entries of ``A``, ``B``, ``P``
      in ulps, tolerance 2 (float64), :math:`1/2 + 2^{-28}` (float32), as the HiPPO
      entries;
    * ``rank_correction(rank=)``: the padded rows are zero and :math:`P^T P` is
      unchanged (tolerance 0);
    * FouT time scale: the steady state of ``fout`` (window 1) and of the
      reference's ``fourier_decay`` (``fout / 2``, window 2) driven by a harmonic
      of the window equals the projection integral of the input over the window
      (mpmath quadrature); tolerance :math:`16 N \kappa \varepsilon`,
      :math:`\kappa = \mathrm{cond}(i\omega I - A)`.

    Parameters
    ----------
    N : int
        Even state size.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend of the core functions.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import reference_inits
    >>> rows = reference_inits(8, ["float64"], "numpy")
    >>> all(r.passed for r in rows)
    True
    """
    import statespace as ss

    xp = _xp(backend)
    rows = []
    for init, opts in S4D_CASES:
        lam_r, b_r = _s4d_truth(init, N, opts)
        label = init + "".join(f", {k}={v}" for k, v in sorted(opts.items()))
        for dtype in dtypes:
            params = {"init": init, "options": dict(opts), "N": N, "backend": backend}
            tol = bounds.INIT_ULPS(eps=_eps(dtype))
            try:
                d = ss.dplr(init, N, dtype=getattr(xp, dtype), xp=xp, **opts)
                lam, b = _np(d.Lambda), _np(d.B)
            except Exception as exc:  # noqa: BLE001 - a crash is a failed row
                rows.append(_error_row(EXP_INITS, f"S4D {label}", params, dtype, exc))
                continue
            note = ("reference: mpmath formula of the dplr docstring, dps=40; "
                    + bounds.INIT_ULPS.note())
            rows.append(compare_values(EXP_INITS, f"S4D Lambda ({label}), rel. max error",
                                       params, dtype, lam, lam_r, tol, [note]))
            rows.append(compare_values(EXP_INITS, f"S4D B ({label}), rel. max error",
                                       params, dtype, b, b_r, tol, [note]))
    for name in ss.hippo.REFERENCE_MEASURES:
        pairs = [_pair_of(v) for v in _fourier_ref_truth(name, N)]
        for dtype in dtypes:
            tol = 2.0 if dtype == "float64" else 0.5 + 2.0 ** -28
            params = {"measure": name, "N": N, "backend": backend}
            try:
                A, B = ss.hippo.transition(name, N, dtype=getattr(xp, dtype), xp=xp)
                P = ss.hippo.rank_correction(name, N, dtype=getattr(xp, dtype), xp=xp)
            except Exception as exc:  # noqa: BLE001
                rows.append(_error_row(EXP_INITS, f"{name} entries", params, dtype, exc))
                continue
            for mname, a, (hi, lo) in zip("ABP", (A, B, P), pairs, strict=True):
                a = _np(a).reshape(hi.shape)
                err = float(np.max(_ulp_errors(a, (hi, lo), dtype)))
                rows.append(Row(EXP_INITS, f"{mname} entries of reference name, max error "
                                "[ulps]", params, dtype, err, tol,
                                note="reference: mpmath closed form, dps=40"))
    for measure in ("legs", "legt", "fout", "fourier2"):
        for dtype in dtypes:
            params = {"measure": measure, "N": N, "rank": 4, "backend": backend}
            try:
                P = _np(ss.hippo.rank_correction(measure, N, dtype=getattr(xp, dtype), xp=xp))
                Q = _np(ss.hippo.rank_correction(measure, N, rank=4, dtype=getattr(xp, dtype),
                                                 xp=xp))
                own = P.shape[0]
                err = float(np.max(np.abs(Q[own:]), initial=0.0)
                            + np.max(np.abs(Q[:own] - P)) + np.max(np.abs(Q.T @ Q - P.T @ P)))
                if Q.shape != (4, N):
                    err = math.inf
            except Exception as exc:  # noqa: BLE001
                rows.append(_error_row(EXP_INITS, "rank_correction(rank=) padding", params,
                                       dtype, exc))
                continue
            rows.append(Row(EXP_INITS, "rank_correction(rank=) zero padding, max deviation",
                            params, dtype, err, 0.0, note="exact: zero rows appended"))
    t, phi = 0.37, 0.4
    for theta, system in ((1, "fout"), (2, "reference fourier_decay = fout / 2")):
        for k in (1, 2):
            w = 2 * math.pi * k / theta
            want = _window_projection(theta, N, w, t, phi)
            for dtype in dtypes:
                params = {"system": system, "window": theta, "harmonic": k, "N": N,
                          "backend": backend}
                try:
                    A, B = (_np(x) for x in ss.hippo.transition("fout", N,
                                                                 dtype=getattr(xp, dtype),
                                                                 xp=xp))
                    A, B = A / theta, B / theta
                    cdt = np.complex64 if dtype == "float32" else np.complex128
                    M = (1j * w * np.eye(N) - A).astype(cdt)
                    x = np.real(np.linalg.solve(M, B.astype(cdt)) * np.exp(1j * (w * t + phi)))
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_INITS, "FouT window projection", params, dtype,
                                           exc))
                    continue
                kappa = float(np.linalg.cond(1j * w * np.eye(N) - A.astype(np.float64)))
                tol = bounds.FOUT_WINDOW(N=N, kappa=kappa, eps=_eps(dtype))
                rows.append(compare_values(
                    EXP_INITS, "FouT time scale: steady state vs window projection, rel. max "
                    "error", params, dtype, x, want, tol,
                    ["reference: mpmath quadrature of the projection integrals, dps=30; "
                     + bounds.FOUT_WINDOW.note()]))
    return rows


#: The dense hold discretizations checked by :func:`hold_discretization`.
HOLD_METHODS = ("foh", "impulse")


def _hold_truth(A, B, dt, method, dps):
    """(Ad, Bd, Ed) at ``dps`` digits from ``Gamma1 = A^{-1}(e^{dt A} - I) B`` and
    ``Gamma2 = A^{-1}(Gamma1 / dt - B)`` (``A`` invertible), no augmented matrix."""
    import mpmath

    with mpmath.workdps(dps):
        Am = mpmath.matrix(A.tolist())
        b = mpmath.matrix(B.tolist())
        h = mpmath.mpf(float(dt))
        Ad = mpmath.expm(Am * h)
        if method == "impulse":
            Ed = b * h
            Bd = Ad * Ed
        else:
            g1 = mpmath.lu_solve(Am, (Ad - mpmath.eye(len(B))) * b)
            Ed = mpmath.lu_solve(Am, g1 / h - b)
            Bd = g1 - Ed + Ad * Ed
        return [np.array(x.tolist(), dtype=float) for x in (Ad, Bd, Ed)]


def hold_discretization(measure, N, dts, dtypes, backend):
    r"""First-order hold and impulse invariance of a dense HiPPO system against mpmath.

    The reference evaluates the defining integrals in closed form,
    :math:`\Gamma_1 = A^{-1}(e^{\Delta A} - I)B` and
    :math:`\Gamma_2 = A^{-1}(\Gamma_1/\Delta - B)`, at 50 and 70 digits (the two,
    rounded to float64, must agree to 2 ulps). ``Ad`` is :math:`e^{\Delta A}`, with
    the ZOH rows' tolerance :math:`N \kappa_{\exp}\varepsilon`; ``Bd`` and ``Ed``
    are read off an exponential of norm :math:`\ge 1`, so their tolerance is
    normwise relative to it: :math:`128\,\varepsilon \max(1, \lVert\Delta
    M\rVert_1)` times :math:`\max(1, \max|X|) / \max|X|` for each block
    :math:`X` (the ZOH ``Bd`` argument).

    Parameters
    ----------
    measure : str
        A measure with an invertible ``A`` (``legs``, ``lagt``).
    N : int
        State size.
    dts : sequence of float
        Steps.
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend of :mod:`statespace.discretize`.

    Returns
    -------
    rows : list of Row
        ``Ad``, ``Bd``, ``Ed`` per method, step and dtype.

    Examples
    --------
    >>> from statespace.verification.suite import hold_discretization
    >>> rows = hold_discretization("legs", 4, [0.1], ["float64"], "numpy")
    >>> len(rows), all(r.passed for r in rows)
    (6, True)
    """
    import statespace as ss
    from statespace import discretize as sd

    xp = _xp(backend)
    A64, B64 = ss.hippo.transition(measure, N)
    rows = []
    for dt in dts:
        norm = max(1.0, dt * np.abs(A64).sum(axis=0).max(), dt * np.abs(B64).sum() + 1.0)
        aug = np.zeros((N + 1, N + 1))
        aug[:N, :N], aug[:N, N] = A64, B64
        kappa = max(_expm_kappa(A64, dt), _expm_kappa(aug, dt))
        for method in HOLD_METHODS:
            lo = _hold_truth(A64, B64, dt, method, 50)
            hi = _hold_truth(A64, B64, dt, method, 70)
            # both rounded to float64: they must agree to the last bit or two
            conv = all(relative_error(a, b) <= 2 * _eps("float64")
                       for a, b in zip(lo, hi, strict=True))
            for dtype in dtypes:
                params = {"form": "dense", "measure": measure, "N": N, "dt": dt,
                          "method": method, "backend": backend}
                base = 128 * _eps(dtype) * norm
                try:
                    A, B = ss.hippo.transition(measure, N, dtype=getattr(xp, dtype), xp=xp)
                    out = [_np(o) for o in sd.discretize(sd.DenseSystem(A, B), dt, method)]
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_DISC, f"{method} Ad, Bd, Ed", params, dtype, exc))
                    continue
                for name, a, r in zip(("Ad", "Bd", "Ed"), out, hi, strict=True):
                    m = float(np.abs(r).max())
                    tol = base * max(1.0, m) / m
                    if name == "Ad":
                        tol = bounds.HOLD_AD(N=N, kappa=kappa, eps=_eps(dtype))
                    rows.append(compare_values(
                        EXP_DISC, f"{method} {name} (dense), rel. max error", params, dtype,
                        a, r, tol,
                        ["reference: mpmath closed form (expm, solves), dps=70 (vs 50: "
                         + ("agree to float64)" if conv else "DISAGREE)"),
                         bounds.HOLD_AD.note() + " (Ad), 128 eps max(1, |dt M|_1) max(1, |X|) "
                         "/ |X| (Bd, Ed)"],
                        converged=conv))
    return rows


# =========================================================================== summary


def fit_exponent(L, err):
    r"""Least-squares slope of :math:`\log(\text{err})` against :math:`\log L`.

    Parameters
    ----------
    L : sequence of float
        Lengths.
    err : sequence of float
        Errors (non-positive and non-finite points are dropped).

    Returns
    -------
    p : float
        The exponent in :math:`\text{err} \propto L^p`; NaN with fewer than two
        usable points.

    Examples
    --------
    >>> from statespace.verification.suite import fit_exponent
    >>> round(fit_exponent([256, 1024, 4096], [1e-12, 4e-12, 1.6e-11]), 6)
    1.0
    """
    x = np.asarray(L, dtype=np.float64)
    y = np.asarray(err, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if np.count_nonzero(keep) < 2 or np.unique(x[keep]).size < 2:
        return math.nan
    p = np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)
    return float(p[0])


def _fmt(x):
    if x is None:
        return "-"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf"
    return f"{x:.2e}"


def _cell(s):
    return str(s).replace("|", "\\|")


def _legs_table(rows):
    by_n = {}
    for r in rows:
        if r.experiment != EXP_LEGS:
            continue
        N = r.params.get("N")
        if N is None:
            continue
        e = by_n.setdefault(N, {})
        m = r.metric
        if m == M_LEGS_COND:
            e["cond"] = r.params.get("measured")
        elif m == M_LEGS_MAXV:
            e["maxV"] = r.params.get("measured")
        elif m == M_LEGS_MAXV_EXACT:
            e["maxVe"] = r.params.get("measured")
        elif m == M_LEGS_REC_NAIVE:
            e["rec_naive"] = r.params.get("measured")
        elif m == M_LEGS_K_NAIVE:
            e["k_naive"] = r.params.get("measured")
            e["dt"] = r.params.get("dt")
            e["L"] = r.params.get("L")
        elif m == M_LEGS_REC_NPLR:
            e[f"rec_nplr_{r.dtype}"] = r.error
        elif m == M_LEGS_K_NPLR:
            e[f"k_nplr_{r.dtype}"] = r.error
            e.setdefault("dt", r.params.get("dt"))
            e.setdefault("L", r.params.get("L"))
    return dict(sorted(by_n.items()))


def _kernel_series(rows):
    """{(path, system, N, dt, method, dtype): [(L, err), ...]} of the kernel rows."""
    out = {}
    for r in rows:
        if r.experiment != EXP_KERNEL or "path" not in r.params:
            continue
        p = r.params
        key = (p["path"], p["system"], p["N"], p["dt"], p["method"], r.dtype)
        out.setdefault(key, []).append((p["L"], r.error))
    return {k: sorted(v) for k, v in out.items()}


def postprocess(rows):
    """Cross-experiment plots and the summary section of the report.

    Parameters
    ----------
    rows : list of Row
        All rows of a run.

    Returns
    -------
    plots : list of dict
        Plot specs (see :mod:`statespace.verification.report`): kernel error against ``L``
        (with fitted exponents), kernel error against ``N``, and ``cond(V)`` /
        ``max|V|`` / naive and NPLR errors of LegS against ``N`` with the law
        :math:`2^{4N/3}`.
    markdown : str
        A ``## Summary`` section: worst error per path and dtype, the LegS
        table and the fitted exponents.

    Examples
    --------
    >>> from statespace.verification.suite import postprocess
    >>> plots, md = postprocess([])
    >>> md.startswith("## Summary")
    True
    """
    plots = []
    md = ["## Summary", ""]

    # worst error per path and dtype (errors relative to tolerance)
    groups = {}
    for r in rows:
        p = r.params
        if r.experiment == EXP_KERNEL:
            key = (r.experiment, p.get("path", "?"))
        elif r.experiment == EXP_LEGS:
            if r.metric == M_LEGS_K_NPLR:
                key = (r.experiment, "NPLR kernel (kernel_dplr)")
            elif r.metric == M_LEGS_REC_NPLR:
                key = (r.experiment, "NPLR reconstruction")
            else:
                continue
        elif r.experiment == EXP_DISC:
            key = (r.experiment, f"{p.get('form')} {p.get('method')}")
        elif r.experiment == EXP_RECUR:
            key = (r.experiment, f"scan {p.get('kind')}")
        elif r.experiment == EXP_HIPPO:
            key = (r.experiment, "entries [ulps]")
        else:
            continue
        g = groups.setdefault((key, r.dtype), [])
        g.append(r)
    if groups:
        md += ["### Worst error per path and dtype", "",
               "| experiment | path | dtype | rows | worst error | its tolerance | max "
               "error/tolerance | at (worst error) |", "|---|---|---|---|---|---|---|---|"]
        for (key, dtype), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            worst = max(rs, key=lambda r: r.error if math.isfinite(r.error) else math.inf)
            ratio = max((r.error / r.tolerance if r.tolerance > 0 and math.isfinite(r.error)
                         else math.inf) for r in rs)
            at = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in worst.params.items()
                           if k in ("measure", "system", "N", "L", "dt", "method"))
            md.append(f"| {key[0]} | {_cell(key[1])} | {dtype} | {len(rs)} | "
                      f"{_fmt(worst.error)} | "
                      f"{_fmt(worst.tolerance)} | {_fmt(ratio)} | {at} |")
        md.append("")

    # LegS table
    table = _legs_table(rows)
    if table:
        md += ["### LegS: naive diagonalization vs NPLR (S4 Appendix B)", "",
               "Naive: `numpy.linalg.eig(A)` of HiPPO-LegS, kernel "
               "`sum_n (C V)_n lambda_d^l (V^-1 B)_n` by `kernel_diag` (bilinear), float64. "
               "NPLR: `nplr` + `kernel_dplr`. Kernel errors are relative max-norm errors "
               "against the mpmath (arb) kernel. The naive rows of the report *pass* when the "
               "naive error is at least the growth-law lower bound eps 2^(4N/3)/64, i.e. when "
               "the instability is reproduced.", "",
               "| N | L | dt | 2^(4N/3) | cond(V) numpy | max\\|V\\| numpy (unit pivot) | "
               "max\\|V\\| exact | naive recon. | NPLR recon. (f64) | naive kernel err | "
               "NPLR kernel err (f64) | NPLR kernel err (f32) |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for N, e in table.items():
            md.append(
                f"| {N} | {e.get('L', '-')} | {e.get('dt', '-')} | {_fmt(2.0 ** (4 * N / 3))} | "
                f"{_fmt(e.get('cond'))} | {_fmt(e.get('maxV'))} | {_fmt(e.get('maxVe'))} | "
                f"{_fmt(e.get('rec_naive'))} | {_fmt(e.get('rec_nplr_float64'))} | "
                f"{_fmt(e.get('k_naive'))} | {_fmt(e.get('k_nplr_float64'))} | "
                f"{_fmt(e.get('k_nplr_float32'))} |")
        md.append("")
        Ns = list(table)
        fits_n = []
        for key, label, nmin in (("k_naive", "naive kernel error", 8),
                                 ("maxVe", "max|V| exact", 32),
                                 ("maxV", "max|V| numpy (unit pivot)", 32)):
            pts = [(N, table[N][key]) for N in Ns if N >= nmin and table[N].get(key)
                   and math.isfinite(table[N][key]) and table[N][key] > 0]
            if len(pts) >= 2:
                s = np.polyfit([p[0] for p in pts], np.log2([p[1] for p in pts]), 1)[0]
                fits_n.append(f"{_cell(label)} ~ 2^({s:.3f} N) (fit over N = {pts[0][0]}.."
                              f"{pts[-1][0]})")
        if fits_n:
            md += ["Fitted growth (least squares of log2 against N): " + "; ".join(fits_n)
                   + ". For comparison 4/3 = 1.333 (the law of S4 Appendix B, a lower bound) "
                   "and log2(phi^2) = 1.388.", ""]
        series = [{"label": "2^(4N/3)", "x": Ns, "y": [2.0 ** (4 * N / 3) for N in Ns],
                   "style": "k--"}]
        for key, label, style in (("cond", "cond(V), numpy eig", "C0-o"),
                                  ("maxV", "max|V| numpy (unit pivot)", "C1-s"),
                                  ("maxVe", "max|V| exact", "C2-^")):
            ys = [table[N].get(key) for N in Ns]
            if any(y is not None for y in ys):
                series.append({"label": label, "x": Ns,
                               "y": [math.nan if y is None else y for y in ys], "style": style})
        plots.append({"name": "legs_condV_vs_N", "title": "LegS: eigenvector matrix of eig(A) "
                      "against the 2^(4N/3) law", "xlabel": "N", "ylabel": "value",
                      "logy": True, "series": series, "experiment": EXP_LEGS})
        series = []
        for key, label, style in (("k_naive", "naive kernel error (f64)", "C3-o"),
                                  ("rec_naive", "naive reconstruction (f64)", "C3:"),
                                  ("k_nplr_float64", "NPLR kernel error (f64)", "C0-s"),
                                  ("k_nplr_float32", "NPLR kernel error (f32)", "C1-^"),
                                  ("rec_nplr_float64", "NPLR reconstruction (f64)", "C0:")):
            ys = [table[N].get(key) for N in Ns]
            if any(y is not None for y in ys):
                series.append({"label": label, "x": Ns,
                               "y": [math.nan if y is None else y for y in ys], "style": style})
        series.append({"label": "eps 2^(4N/3)/64", "x": Ns,
                       "y": [growth_lower_bound(N) for N in Ns], "style": "k--"})
        plots.append({"name": "legs_error_vs_N", "title": "LegS: naive diagonalization vs NPLR",
                      "xlabel": "N", "ylabel": "relative error", "logy": True,
                      "series": series, "experiment": EXP_LEGS})

    # kernel error vs L with fitted exponents
    ks = _kernel_series(rows)
    fits = []
    series = []
    color = 0
    for key, pts in ks.items():
        path, system, N, dt, method, dtype = key
        if len(pts) < 3:
            continue
        Lx = [p[0] for p in pts]
        ey = [p[1] for p in pts]
        expo = fit_exponent(Lx, ey)
        fits.append((path, system, N, dt, method, dtype, Lx, ey, expo))
        if N == 16 and dt == LSCAN_DT and system in LSCAN_SYSTEMS:
            style = f"C{color % 10}{'-o' if dtype == 'float64' else '--s'}"
            color += 1
            series.append({"label": f"{path} {system} {method} {dtype} (p={expo:.2f})",
                           "x": Lx, "y": ey, "style": style})
    if series:
        plots.append({"name": "kernel_error_vs_L", "title": f"Kernel error against L (N=16, "
                      f"dt={LSCAN_DT:g}); p: fitted exponent of error ~ L^p", "xlabel": "L",
                      "ylabel": "relative max error", "logx": True, "logy": True,
                      "series": series, "experiment": EXP_KERNEL})
    if fits:
        md += ["### Kernel error growth with L (fit of log error against log L)", "",
               "| path | system | N | dt | method | dtype | L range | errors | exponent p |",
               "|---|---|---|---|---|---|---|---|---|"]
        for path, system, N, dt, method, dtype, Lx, ey, expo in fits:
            md.append(f"| {path} | {system} | {N} | {dt:g} | {method} | {dtype} | "
                      f"{Lx[0]}..{Lx[-1]} | {', '.join(_fmt(e) for e in ey)} | {expo:.2f} |")
        md.append("")

    # kernel error vs N (L = 4096)
    byN = {}
    for r in rows:
        p = r.params
        if r.experiment == EXP_KERNEL and p.get("L") == 4096 and p.get("method") == "bilinear" \
                and p.get("system") in _KERNEL_MEASURES and p.get("dt") in (0.01, 0.005):
            byN.setdefault((p["path"], p["system"], r.dtype), []).append((p["N"], r.error))
    series = []
    for i, ((path, system, dtype), pts) in enumerate(sorted(byN.items())):
        pts = sorted(pts)
        if len(pts) >= 2:
            series.append({"label": f"{path} {system} {dtype}", "x": [p[0] for p in pts],
                           "y": [p[1] for p in pts],
                           "style": f"C{i % 10}{'-o' if dtype == 'float64' else '--s'}"})
    if series:
        plots.append({"name": "kernel_error_vs_N", "title": "Kernel error against N (L=4096, "
                      "bilinear)", "xlabel": "N", "ylabel": "relative max error", "logx": True,
                      "logy": True, "series": series, "experiment": EXP_KERNEL})
    if len(md) == 2:
        md.append("No rows.")
        md.append("")
    return plots, "\n".join(md)


# =========================================================================== boundary states

#: Section of the boundary-state rows (:func:`boundary_states`).
EXP_BOUND = "Boundary states (C~ <-> C, initial response, final state)"
__all__ += ["boundary_states", "EXP_BOUND"]

#: Systems of :func:`boundary_states`: (``dplr`` init, discretization); halved storage.
_BOUND_SYSTEMS = (("legs", "bilinear"), ("diag-lin", "zoh"), ("diag-inv", "bilinear"))


def _c64(a):
    """``a`` rounded to complex64 and back: inputs both dtypes represent exactly."""
    return np.asarray(a).astype(np.complex64).astype(np.complex128)


def _boundary_inputs(system, N, L):
    """``(lam, P, B, C, Ct, x, u)`` of a halved system, every value float32-exact."""
    import statespace as ss

    h = ss.dplr(system, N)
    rng = np.random.default_rng(4000 + 7 * N + L)
    n2 = N // 2
    lam, B = _c64(h.Lambda), _c64(h.B)
    P = _c64(h.P) if system == "legs" else np.zeros((0, n2), dtype=np.complex128)
    C, Ct, x = (_c64(rng.standard_normal(n2) + 1j * rng.standard_normal(n2)) for _ in range(3))
    u = rng.standard_normal(L).astype(np.float32).astype(np.float64)
    return lam, P, B, C, Ct, x, u


def _boundary_pipeline(lam, P, B, C, Ct, x, u, dt, L, method, dps):
    """mpmath references of the four maps on the full (doubled) system at ``dps`` digits."""
    A = ref.dplr_matrix(lam, P, halved=True, dps=dps)
    n2 = len(lam)

    def full(v):
        return list(v) + [complex(t).conjugate() for t in v]

    return {
        "c_tilde": ref.c_tilde(A, full(C), dt, L, method, dps=dps)[:n2],
        "c_from_tilde": ref.c_from_tilde(A, full(Ct), dt, L, method, dps=dps)[:n2],
        "initial_response": ref.initial_response(A, full(C), full(x), dt, L, method, dps=dps),
        "final_state": ref.final_state(A, full(B), full(x), list(u), dt, method, dps=dps)[:n2],
    }


@functools.lru_cache(maxsize=8)
def _boundary_truth(system, method, N, L, dt):
    lam, P, B, C, Ct, x, u = _boundary_inputs(system, N, L)
    r = ref.converged(_boundary_pipeline, lam.tolist(), P.tolist(), B.tolist(), C.tolist(),
                      Ct.tolist(), x.tolist(), u.tolist(), dt, L, method, dps=_DPS,
                      extra=_EXTRA, norm="max")
    out = {}
    for key in r.value:
        part = r.part(key)
        t = _from_reference(part, "mpmath explicit powers")
        t.value = ref.to_numpy(part.value, np.complex128)
        if key == "initial_response":
            t.value = np.real(t.value)
        out[key] = t
    return out


def _boundary_call(kind, key, a, dt, L, method):
    """One :mod:`statespace.boundary` function on the arrays ``a`` (halved storage)."""
    import statespace as ss

    if kind == "dplr":
        lam, P = a["lam"], a["P"]
        if key == "c_tilde":
            return ss.c_tilde_dplr(lam, P, a["C"], dt, L, halved=True)
        if key == "c_from_tilde":
            return ss.c_from_tilde_dplr(lam, P, a["Ct"], dt, L, halved=True)
        if key == "initial_response":
            return ss.initial_response_dplr(lam, P, a["C"], a["x"], dt, L, halved=True)
        return ss.final_state_dplr(lam, P, a["B"], a["x"], a["u"], dt, halved=True)
    lam = a["lam"]
    if key == "c_tilde":
        return ss.c_tilde_diag(lam, a["C"], dt, L, method)
    if key == "c_from_tilde":
        return ss.c_from_tilde_diag(lam, a["Ct"], dt, L, method)
    if key == "initial_response":
        return ss.initial_response_diag(lam, a["C"], a["x"], dt, L, method, halved=True)
    return ss.final_state_diag(lam, a["B"], a["x"], a["u"], dt, method, halved=True)


def boundary_states(N, L, dt, dtypes, backend):
    r""":mod:`statespace.boundary` (C~ <-> C, initial response, final state) against mpmath.

    Three halved systems: the S4 form of HiPPO-LegS (``dplr("legs", N)``,
    bilinear, the ``*_dplr`` functions), S4D-Lin with ZOH and S4D-Inv with the
    bilinear transform (the ``*_diag`` functions). Every input (``Lambda``, ``P``,
    ``B``, ``C``, :math:`\tilde C`, the state :math:`x_{-1}`, the inputs ``u``) is
    float32-exact, so the one reference judges both dtypes:
    :func:`~statespace.verification.reference.c_tilde`,
    :func:`~statespace.verification.reference.c_from_tilde`,
    :func:`~statespace.verification.reference.initial_response` and
    :func:`~statespace.verification.reference.final_state` on the full (doubled) dense system
    from :func:`~statespace.verification.reference.dplr_matrix`, by explicit powers at
    ``dps = 30`` (checked at 40).

    Tolerances (:math:`\varepsilon` of the dtype, ``N`` the full state size):
    :data:`~statespace.verification.bounds.C_TILDE`,
    :data:`~statespace.verification.bounds.C_FROM_TILDE` and
    :data:`~statespace.verification.bounds.KERNEL_DPLR` for the ``*_dplr`` functions,
    :data:`~statespace.verification.bounds.DIAG_C_TILDE`,
    :data:`~statespace.verification.bounds.KERNEL_DIAG` and
    :data:`~statespace.verification.bounds.DIAG_FINAL` for the ``*_diag`` ones (their
    formulas and derivations: the module docstring's "Tolerances").

    Parameters
    ----------
    N : int
        Full state size (``N // 2`` modes).
    L : int
        Length (of the correction, the response and the input sequence).
    dt : float
        Step (rounded to float32 so that both dtypes see the same system).
    dtypes : sequence of str
        Working dtypes.
    backend : str
        Backend.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import boundary_states
    >>> rows = boundary_states(4, 8, 0.1, ["float64"], "numpy")
    >>> len(rows), all(r.passed for r in rows)
    (12, True)
    """
    xp = _xp(backend)
    dt = float(np.float32(dt))
    rows = []
    for system, method in _BOUND_SYSTEMS:
        lam, P, B, C, Ct, x, u = _boundary_inputs(system, N, L)
        base = {"system": system, "method": method, "N": N, "L": L, "dt": dt,
                "backend": backend}
        try:
            truth = _boundary_truth(system, method, N, L, dt)
        except Exception as exc:  # noqa: BLE001
            for dtype in dtypes:
                rows.append(_error_row(EXP_BOUND, f"reference ({system})", base, dtype, exc))
            continue
        lf = np.concatenate([lam, np.conj(lam)])
        if system == "legs":
            Pf = np.concatenate([P, np.conj(P)], axis=-1)
            A = np.diag(lf) - Pf.conj().T @ Pf
            eye = np.eye(N)
            Ad = np.linalg.solve(eye - dt / 2 * A, eye + dt / 2 * A)
            kappa = float(np.linalg.cond(eye - np.linalg.matrix_power(Ad, L)))
            mem = _memory(max(0.0, -float(np.max(np.linalg.eigvals(A).real))), dt, L)
        else:
            z = dt * lam
            xs = z if method == "zoh" else 2 * np.arctanh(z / 2)
            with np.errstate(all="ignore"):
                kap = np.abs(L * xs * np.exp(L * xs) / -np.expm1(L * xs))
            kmax, xmax = float(np.max(kap)), float(np.max(np.abs(xs)))
            ld = np.exp(xs)
            bd = dt * B * (np.expm1(z) / z if method == "zoh" else 1 / (1 - z / 2))
            terms = np.abs(bd[:, None] * ld[:, None] ** np.arange(L) * u[::-1])
            amp = float(np.max(np.sum(terms, axis=1) + np.abs(ld**L * x))
                        / np.max(np.abs(truth["final_state"].value)))
        for dtype in dtypes:
            eps = _eps(dtype)
            fdt, cdt = getattr(xp, dtype), getattr(xp, _cdt(dtype))

            def arr(v, cdt=cdt, fdt=fdt, dtype=dtype):
                if np.iscomplexobj(v):
                    return xp.asarray(v.astype(_cdt(dtype)), dtype=cdt)
                return xp.asarray(v.astype(dtype), dtype=fdt)

            a = {k: arr(v) for k, v in zip("lam P B C Ct x u".split(), (lam, P, B, C, Ct, x, u),
                                          strict=True)}
            kind = "dplr" if system == "legs" else "diag"
            if kind == "dplr":
                dplr_tol = _dplr_tol(N, L, mem, eps)
                tols = {"c_tilde": (bounds.C_TILDE(N=N, L=L, eps=eps), bounds.C_TILDE.note()),
                        "c_from_tilde": (bounds.C_FROM_TILDE(N=N, L=L, kappa=kappa, eps=eps),
                                         bounds.C_FROM_TILDE.note(
                                             f"kappa = cond(I - Ad^L) = {kappa:.3g}")),
                        "initial_response": (dplr_tol, bounds.KERNEL_DPLR.note(f"M = {mem:.3g}")),
                        "final_state": (dplr_tol, bounds.KERNEL_DPLR.note(f"M = {mem:.3g}"))}
            else:
                ctol = (bounds.DIAG_C_TILDE(kappa=kmax, eps=eps),
                        bounds.DIAG_C_TILDE.note(f"max kappa_n = {kmax:.3g}"))
                tols = {"c_tilde": ctol, "c_from_tilde": ctol,
                        "initial_response": (bounds.KERNEL_DIAG(N=N, L=L, eps=eps, x=xmax),
                                             bounds.KERNEL_DIAG.note(
                                                 f"max|dt lambda_n| = {xmax:.3g}")),
                        "final_state": (bounds.DIAG_FINAL(L=L, eps=eps, x=xmax, amp=amp),
                                        bounds.DIAG_FINAL.note(
                                            f"max|x_n| = {xmax:.3g}, a = {amp:.3g}"))}
            for key, (tol, rule) in tols.items():
                fn = f"{key}_{kind}"
                params = dict(base, function=fn)
                q = f"{fn} ({method}) vs mpmath, " + \
                    ("max entrywise rel. error" if kind == "diag" and key.startswith("c_")
                     else "rel. max error")
                try:
                    got = _np(_boundary_call(kind, key, a, dt, L, method))
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_BOUND, q, params, dtype, exc, truth[key].note))
                    continue
                t = truth[key]
                if kind == "diag" and key.startswith("c_"):
                    rows.append(measured(EXP_BOUND, q, dict(params, kappa=kmax), dtype,
                                         _rel_entrywise(got, t.value), tol, t, note=rule))
                else:
                    rows.append(_row(EXP_BOUND, q, params, dtype, got, t, tol, note=rule))
    return rows


# =========================================================================== trained-like


#: Section of the rows of :func:`kernel_trained`.
EXP_TRAINED = "Kernel accuracy on trained-like parameters (float32)"
__all__ += ["kernel_trained", "EXP_TRAINED", "TRAINED_RE"]

#: Real parts given to every mode of the trained-like systems: trained S4 layers drive
#: ``Re(Lambda)`` of their long-memory modes towards 0, which puts the discrete poles
#: within about ``dt * abs(Re(Lambda))`` of the unit circle, where the roots of unity of
#: ``tilde=True`` lie.
TRAINED_RE = (-1e-2, -1e-4)


def _trained_inputs(measure, N, re, n_dt):
    """``(lam, P, B, C)``, halved, every value complex64-exact; ``C`` is ``(n_dt, N // 2)``."""
    import statespace as ss

    h = ss.dplr(measure, N)
    rng = np.random.default_rng(6000 + N + sum(map(ord, measure)))
    lam = _c64(re + 1j * np.imag(h.Lambda))
    C = _c64(rng.standard_normal((n_dt, N // 2)) + 1j * rng.standard_normal((n_dt, N // 2)))
    return lam, _c64(h.P), _c64(h.B), C


def _trained_truth(lam, P, B, C, dts, L, tilde):
    """float64 kernels of the full (doubled) dense systems, one per step, by explicit powers.

    Independent of ``kernel_dplr``: the bilinear ``Ad``, ``Bd`` by NumPy solves, with
    ``tilde=True`` the output vector ``C = C~ (I - Ad^L)^{-1}``, then
    ``K_l = C Ad^l Bd`` by explicit powers (error ~1e-12 here).
    """
    lf = np.concatenate([lam, np.conj(lam)])
    Pf = np.concatenate([P, np.conj(P)], axis=-1)
    A = np.diag(lf) - Pf.conj().T @ Pf
    n = len(lf)
    eye = np.eye(n)
    Ad = np.stack([np.linalg.solve(eye - dt / 2 * A, eye + dt / 2 * A) for dt in dts])
    Bd = np.stack([np.linalg.solve(eye - dt / 2 * A, dt * np.concatenate([B, np.conj(B)]))
                   for dt in dts])
    Cf = np.concatenate([C, np.conj(C)], axis=-1)
    if tilde:
        M = eye - np.linalg.matrix_power(Ad, L)
        Cf = np.linalg.solve(np.swapaxes(M, -1, -2), Cf[..., None])[..., 0]
    # the powers in blocks of b columns: [x, Ad x, .., Ad^(b-1) x], then times Ad^b
    b = max(1, math.isqrt(L))
    X = np.empty(Bd.shape + (b,), dtype=complex)
    X[..., 0] = Bd
    for j in range(1, b):
        X[..., j] = (Ad @ X[..., j - 1:j])[..., 0]
    Ab = np.linalg.matrix_power(Ad, b)
    K = np.empty((len(dts), -(-L // b) * b))
    for j0 in range(0, L, b):
        K[:, j0:j0 + b] = np.real(Cf[:, None, :] @ X)[:, 0, :]
        X = Ab @ X
    return K[:, :L]


def kernel_trained(N, L, dts, dtypes, backend, measures=None):
    r"""float32 ``kernel_dplr`` on HiPPO systems with trained-like real parts.

    Every NPLR measure that has a DPLR form (:data:`statespace.hippo.NPLR_MEASURES`
    but ``diagonal``, whose eigenvalues are real), halved, with every
    :math:`\mathrm{Re}\,\lambda_n` set to each value of :data:`TRAINED_RE` (down to
    :math:`-10^{-4}`: poles within :math:`10^{-8}` of the unit circle at
    :math:`\Delta t = 10^{-1}`), random ``C`` (``tilde=False``) or :math:`\tilde C`
    (``tilde=True``), one channel per step in ``dts``. All inputs are float32-exact,
    so the comparison measures the float32 computation, not the rounding of the system
    (to which a long-memory kernel is ill-conditioned: rounding
    :math:`\mathrm{Im}\,\lambda \sim 10^3` moves a phase by :math:`\Delta t\, L\,
    6\cdot 10^{-5}`).

    The truth is float64 and independent of ``kernel_dplr`` (:func:`_trained_truth`:
    dense NumPy solves and explicit powers, error ~1e-12), so only float32 rows are
    made. Error: per channel the max-norm relative error, the worst channel reported.

    Tolerance: :data:`statespace.verification.bounds.TRAINED` (formula and derivation
    in the module docstring's "Tolerances").

    Parameters
    ----------
    N : int
        Full state size (``N // 2`` modes).
    L : int
        Kernel length.
    dts : sequence of float
        Steps (rounded to float32), one channel each.
    dtypes : sequence of str
        Working dtypes; rows only for ``"float32"``.
    backend : str
        Backend of the kernels.
    measures : sequence of str, optional
        Default: all of them.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import kernel_trained
    >>> rows = kernel_trained(16, 256, [1e-2], ["float32"], "numpy", measures=["legt"])
    >>> len(rows), all(r.passed for r in rows)
    (4, True)
    """
    return _trained_rows(N, L, dts, dtypes, backend, measures, full=False)


def _trained_rows(N, L, dts, dtypes, backend, measures, *, full):
    """Rows of :func:`kernel_trained` (halved systems) or :func:`kernel_trained_full`."""
    import statespace as ss
    from statespace import hippo

    if "float32" not in dtypes:
        return []
    xp = _xp(backend)
    dts = np.asarray(dts, dtype=np.float32).astype(np.float64)
    if measures is None:
        measures = [m for m in hippo.NPLR_MEASURES if m != "diagonal"]
    tol = bounds.TRAINED(N=N, L=L, eps=_eps("float32"))
    rows = []
    for measure in measures:
        for re in TRAINED_RE:
            lam, P, B, C = _trained_inputs(measure, N, re, len(dts))
            system = (lam, P, B, C)
            if full:  # every pole and its conjugate listed
                system = tuple(np.concatenate([a, np.conj(a)], axis=-1) for a in system)
            for tilde in (True, False):
                params = {"system": measure, "re_lambda": re, "tilde": tilde, "N": N, "L": L,
                          "dts": [float(d) for d in dts], "backend": backend,
                          "reference": "float64 dense powers"}
                if full:
                    params["halved"] = False
                form = ", full system" if full else ""
                q = (f"kernel_dplr (tilde={tilde}{form}) vs float64, worst channel "
                     "rel. max error")
                try:
                    truth = _trained_truth(lam, P, B, C, dts, L, tilde)
                    args = [xp.asarray(a.astype(np.complex64)) for a in system]
                    K = _np(ss.kernel_dplr(*args, xp.asarray(dts.astype(np.float32)), L,
                                           halved=not full, tilde=tilde))
                except Exception as exc:  # noqa: BLE001
                    rows.append(_error_row(EXP_TRAINED, q, params, "float32", exc))
                    continue
                err = np.max(np.abs(K - truth), axis=-1) / np.max(np.abs(truth), axis=-1)
                worst = int(np.argmax(err))
                rows.append(Row(EXP_TRAINED, q, params, "float32", float(err[worst]), tol,
                                note=bounds.TRAINED.note(f"worst dt = {dts[worst]:.3g}")))
    return rows


# =========================================================================== verifier self-check
# A verification layer that cannot fail passes every correct library and every broken
# one alike, so its own machinery is checked here on answers whose verdict is known:
# a comparison must measure a known error exactly, reject a known-wrong answer and a
# forced failure, the convergence check must flag an under-resolved reference, and
# the tolerances that bound the library's errors must stay below the errors of the
# bugs they are there to catch.

EXP_SELF = "Verifier self-check (known answers)"
__all__ += ["verifier_selfcheck", "EXP_SELF"]


def _slow_reference(dps):
    """A synthetic reference whose value moves in its 15th digit with the precision:
    ``1 + 10^-15 (30 / dps)``, as a result that lost all but 15 digits would."""
    import mpmath

    with mpmath.workdps(dps):
        return [mpmath.mpf(1) + mpmath.mpf(10) ** -15 * mpmath.mpf(30) / dps]


def _rejects_fault():
    """Whether :func:`kernel_trained` fails a ``kernel_dplr`` whose last channel (the
    largest step) is off by ``1e-3`` of its size, as a bug near the unit circle is."""
    import statespace as ss

    good = ss.kernel_dplr

    def faulty(*args, **kwargs):
        K = np.array(_np(good(*args, **kwargs)))
        K[..., -1, :] += 1e-3 * np.max(np.abs(K[..., -1, :]))
        return K

    ss.kernel_dplr = faulty
    try:
        rows = kernel_trained(16, 256, (1e-2, 1e-1), ("float32",), "numpy", measures=("legs",))
    finally:
        ss.kernel_dplr = good
    return bool(rows) and not all(r.passed for r in rows)


def verifier_selfcheck(dtypes, backend):
    r"""The verification machinery on inputs whose verdict is known.

    Rows (each passes with error 0 and tolerance 0 only when the machinery gives
    the known verdict, and fails with error 1 otherwise):

    * :func:`~statespace.verification.report.relative_error` of ``0`` against
      ``d`` and of ``2 d`` against ``d`` is exactly 1 (the scale is ``max|d|``,
      the desired array, not the computed one);
    * :func:`~statespace.verification.report.compare_values` rejects an answer
      wrong by :math:`10^{-3}` relative at tolerance :math:`10^{-6}`;
    * a :class:`~statespace.verification.report.Row` forced to fail (a reference
      that did not converge) fails whatever its error, and a NaN error fails;
    * :func:`statespace.verification.reference.converged` at the suite's
      precisions flags a reference that moves in its 15th digit with the precision;
    * the ``kernel_dplr`` tolerance :math:`N(\log_2 L + M)\varepsilon` at
      ``N = 16``, ``L = 4096``, :math:`M = L` (the loosest memory) rejects a float64
      error of :math:`10^{-9}` and a float32 error of :math:`10^{-2}`: a tolerance
      above these would pass a kernel computed in the wrong precision;
    * :func:`kernel_trained` fails a float32 ``kernel_dplr`` whose channel at the
      largest step is off by :math:`10^{-3}` (its rows report the worst channel).

    Parameters
    ----------
    dtypes : sequence of str
        Unused (the checks concern the verifier, not the library); accepted so the
        experiment runs with the others.
    backend : str
        Unused, likewise.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import verifier_selfcheck
    >>> all(r.passed for r in verifier_selfcheck(("float64",), "numpy"))
    True
    """
    del dtypes, backend
    d = np.array([2.0, -2.0, 1.0])
    checks = []

    def known(what, ok):
        checks.append((what, bool(ok)))

    known("relative_error(0, d) == 1 (scale max|d|)", relative_error(np.zeros(3), d) == 1.0)
    known("relative_error(2 d, d) == 1", relative_error(2 * d, d) == 1.0)
    wrong = compare_values(EXP_SELF, "probe", {}, "float64", d * (1 + 1e-3), d, 1e-6, [])
    known("compare_values rejects an error of 1e-3 at tol 1e-6",
          not wrong.passed and abs(wrong.error - 1e-3) < 1e-9)
    known("a row forced to fail fails with error 0",
          not Row(EXP_SELF, "probe", {}, "float64", 0.0, 1.0, passed=False).passed)
    known("a NaN error fails", not Row(EXP_SELF, "probe", {}, "float64", math.nan, 1.0).passed)
    r = ref.converged(_slow_reference, dps=_DPS, extra=_EXTRA)
    known("converged flags a reference that moves in its 15th digit", not r.converged)
    for dtype, bug in (("float64", 1e-9), ("float32", 1e-2)):
        tol = _dplr_tol(16, 4096, 4096.0, _eps(dtype))
        known(f"kernel_dplr tolerance rejects a {dtype} error of {bug:g} (tol {tol:.2g})",
              tol < bug)
    known("kernel_trained rejects a float32 kernel_dplr wrong by 1e-3 in one channel",
          _rejects_fault())
    return [Row(EXP_SELF, what, {}, "float64", 0.0 if ok else 1.0, 0.0,
                note="" if ok else "the verifier gave the wrong verdict on a known answer")
            for what, ok in checks]


def kernel_trained_full(N, L, dts, dtypes, backend, measures=None):
    r"""float32 ``kernel_dplr`` on the trained-like systems of :func:`kernel_trained`,
    given as full systems (``halved=False``: every pole and its conjugate listed).

    The full form takes the plain (not conjugate-folded) Cauchy sums, a separate code
    path of every reduction (the fused CPU kernels' compensated loop among them). The
    kernel is complex here; its imaginary part, zero in exact arithmetic, counts as
    error. Truth and tolerance :math:`(N + \log_2 L)\,\varepsilon_{32}` as in
    :func:`kernel_trained` (``N`` the full state size, the number of Cauchy terms).

    Parameters
    ----------
    N : int
        Full state size (``N // 2`` modes, each listed with its conjugate).
    L : int
        Kernel length.
    dts : sequence of float
        Steps (rounded to float32), one channel each.
    dtypes : sequence of str
        Working dtypes; rows only for ``"float32"``.
    backend : str
        Backend of the kernels.
    measures : sequence of str, optional
        Default: every NPLR measure but ``diagonal``.

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.suite import kernel_trained_full
    >>> rows = kernel_trained_full(16, 256, [1e-2], ["float32"], "numpy", measures=["legt"])
    >>> len(rows), all(r.passed for r in rows)
    (4, True)
    """
    return _trained_rows(N, L, dts, dtypes, backend, measures, full=True)


__all__ += ["kernel_trained_full"]
