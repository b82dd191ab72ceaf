r"""The large precision sweep: ``statespace verify --sweep large``, made for a cluster.

LegS, LegT, LagT and FouT at state sizes to ``N = 2048`` and kernel lengths to
``L = 2^20``, float32 and float64, on the NumPy and torch backends:

``NPLR``
    :func:`statespace.nplr` reconstruction
    :math:`\lVert V(\Lambda - P^*P)V^* - A\rVert_{\max} / \lVert A\rVert_{\max}`
    against the HiPPO matrix from its closed forms
    (:func:`statespace.verification.reference.transition` at 30 digits), held to
    the suite's bound :math:`4 N \varepsilon`. One point per (measure, N, backend).
``Kernels``
    :func:`statespace.kernel_dplr` (S4 Algorithm 1 on the halved DPLR form of
    :func:`statespace.dplr`) and :func:`statespace.kernel_dense` (up to
    :data:`DENSE_MAX_NL`) against the kernel
    :math:`K_\ell = C \bar A^\ell \bar B` computed by explicit powers in
    python-flint's ``arb`` (C ball arithmetic, about 20 times faster than mpmath),
    at 30 and 40 digits with the two-precision convergence check of
    :func:`statespace.verification.reference.converged`; the same rows, bounds and
    calibrated expected bounds as the suite's kernel rows
    (:func:`statespace.verification.suite.kernel_hippo`). One point per
    (measure, N, L, backend); the ground truth of a (measure, N) is one
    :class:`~statespace.verification.executor.Reference` at the largest ``L``,
    computed once and shared by every length and both backends.

The ground truth dominates the cost: the explicit powers take :math:`N^2 L`
multiply-adds in arb, twice (two precisions). :func:`size` counts the points and
estimates the CPU time from the per-operation costs :data:`COST` measured on the
reduced sweep. ``large-reduced`` is the part of it that runs on one machine (the
report under ``docs/results/large-reduced/``).

Examples
--------
>>> from statespace.verification import large
>>> len(large.experiments("large-reduced", dtypes=("float64",)))
72
"""

from __future__ import annotations

import numpy as np

from statespace.verification import bounds
from statespace.verification import reference as ref
from statespace.verification.executor import Reference
from statespace.verification.report import Experiment, Row, relative_error

__all__ = ["SOURCE", "PRESETS", "MEASURES", "BACKENDS", "DT", "DENSE_MAX_NL", "COST",
           "experiments",
           "kernel_truth", "transition_truth", "nplr_point", "kernel_point", "size"]

#: Where the experiments come from (``experiments_from`` in the report).
SOURCE = "statespace.verification.large"
#: The measures of the sweep.
MEASURES = ("legs", "legt", "lagt", "fout")
#: Backends every point runs on.
BACKENDS = ("numpy", "torch")
#: Step of every kernel (the slowest LegS mode decays over 1/dt = 100 lags).
DT = 0.01
#: Largest N L of a ``kernel_dense`` row: its Krylov doubling holds an (N, L) array
#: (2 GiB in float64 at 2^28; N = 2048, L = 2^20 would need 16 GiB and twice that
#: while it grows), so beyond it the point checks ``kernel_dplr`` alone.
DENSE_MAX_NL = 2 ** 28
#: The sweeps: NPLR sizes, kernel sizes and kernel lengths.
PRESETS = {
    "large": {"nplr_N": (64, 256, 1024, 2048), "kernel_N": (64, 256, 1024, 2048),
              "L": (2 ** 12, 2 ** 16, 2 ** 20)},
    "large-reduced": {"nplr_N": (64, 256, 512), "kernel_N": (64, 256),
                      "L": (2 ** 10, 2 ** 12, 2 ** 14)},
}
#: Seconds per unit, measured on the reduced sweep (2-core x86-64, shared by other
#: jobs): ``truth`` per N^2 L multiply-add of the arb kernel, both precisions
#: (CPU time of ``kernel_truth("legs", 256, 0.01, 2048)``), ``kernel`` per N L of
#: the float computations of one kernel point (both dtypes, both paths; wall time
#: per point of the reduced run), ``nplr`` per N^3 of one NPLR point (reference
#: included; same).
COST = {"truth": 4.3e-8, "kernel": 2.1e-6, "nplr": 2.8e-8}

_DPS, _EXTRA = 30, 10
EXP_NPLR = "Large sweep: NPLR reconstruction"


def _eps(dtype):
    return float(np.finfo(dtype).eps)


def _cvec(N):
    from statespace.verification import make_data

    return make_data._c_vector(N)


def kernel_truth(measure, N, dt, L):
    """The arb kernel of HiPPO ``measure`` with ``C`` = the suite's vector, length ``L``.

    Parameters
    ----------
    measure : str
    N, L : int
    dt : float

    Returns
    -------
    truth : statespace.verification.suite._Truth
        Value (NumPy, rounded from 30 digits), convergence and provenance note.

    Examples
    --------
    >>> from statespace.verification.large import kernel_truth
    >>> t = kernel_truth("legs", 4, 0.01, 8)
    >>> t.value.shape, t.converged
    ((8,), True)
    """
    from statespace.verification import suite

    r = ref.converged(suite._kernel_truth_pipeline, measure, N, _cvec(N).tolist(), dt, L,
                      "bilinear", dps=_DPS, extra=_EXTRA, norm="max", engine="arb")
    return suite._from_reference(r, "arb kernel by explicit powers")


def transition_truth(measure, N):
    """HiPPO ``A`` of ``measure`` from its closed forms at 30 digits, rounded to float64.

    Parameters
    ----------
    measure : str
    N : int

    Returns
    -------
    A : numpy.ndarray, shape (N, N)

    Examples
    --------
    >>> from statespace.verification.large import transition_truth
    >>> float(transition_truth("legs", 2)[1, 0])
    -1.7320508075688772
    """
    A, _ = ref.transition(measure, N, dps=_DPS)
    return ref.to_numpy(A)


def nplr_point(measure, N, dtypes, backend, A):
    """NPLR reconstruction rows of one (measure, N, backend) point.

    Parameters
    ----------
    measure : str
    N : int
    dtypes : sequence of str
    backend : str
    A : numpy.ndarray
        The reference matrix (:func:`transition_truth`).

    Returns
    -------
    rows : list of Row

    Examples
    --------
    >>> from statespace.verification.large import nplr_point, transition_truth
    >>> rows = nplr_point("legs", 8, ["float64"], "numpy", transition_truth("legs", 8))
    >>> [r.passed for r in rows]
    [True]
    """
    import statespace as ss
    from statespace.verification import suite

    xp = suite._xp(backend)
    params = {"system": measure, "N": N, "backend": backend}
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        try:
            d = ss.nplr(measure, N, dtype=getattr(xp, dtype), xp=xp)
            Lam, P, V = (suite._np(t).astype(np.complex128) for t in (d.Lambda, d.P, d.V))
            rec = relative_error(V @ (np.diag(Lam) - P.conj().T @ P) @ V.conj().T, A)
        except Exception as exc:  # noqa: BLE001 - a failed computation is a failed row
            rows.append(suite._error_row(EXP_NPLR, "NPLR decomposition", params, dtype, exc))
            continue
        rows.append(Row(EXP_NPLR, "NPLR reconstruction V (Lambda - P^H P) V^H vs A, rel. max "
                        "error", dict(params), dtype, rec, bounds.NPLR_RECON(N=N, eps=eps),
                        note=f"tol = {bounds.NPLR_RECON.formula}; reference: closed forms "
                        f"at {_DPS} digits"))
    return rows


def kernel_point(measure, N, L, dt, dtypes, backend, truth):
    """Kernel rows of one (measure, N, L, backend) point against a shared truth.

    Parameters
    ----------
    measure : str
    N, L : int
    dt : float
    dtypes : sequence of str
    backend : str
    truth : statespace.verification.suite._Truth
        The ground truth of at least ``L`` lags (:func:`kernel_truth`).

    Returns
    -------
    rows : list of Row
        ``kernel_dense`` (where ``N L <= DENSE_MAX_NL``) and ``kernel_dplr`` per
        dtype, as :func:`statespace.verification.suite.kernel_hippo` writes them.

    Examples
    --------
    >>> from statespace.verification.large import kernel_point, kernel_truth
    >>> truth = kernel_truth("legt", 8, 0.01, 64)
    >>> rows = kernel_point("legt", 8, 32, 0.01, ["float64"], "numpy", truth)
    >>> [(r.params["path"], r.passed) for r in rows]
    [('kernel_dense', True), ('kernel_dplr', True)]
    """
    import statespace as ss
    from statespace.verification import suite

    xp = suite._xp(backend)
    t = truth.head(L)
    alpha = suite._decay_rate(measure, N)
    C = _cvec(N)
    rows = []
    for dtype in dtypes:
        eps = _eps(dtype)
        xdt = getattr(xp, dtype)
        try:
            A, B = ss.hippo.transition(measure, N, dtype=xdt, xp=xp)
            Cx = xp.asarray(C.astype(dtype), dtype=xdt)
            h = ss.dplr(measure, N, dtype=xdt, xp=xp)
            Cv = xp.sum(xp.astype(Cx, getattr(xp, suite._cdt(dtype)))[:, None] * h.V, axis=0)
        except Exception as exc:  # noqa: BLE001
            rows.append(suite._error_row(suite.EXP_KERNEL, "kernel inputs",
                                         {"system": measure, "N": N}, dtype, exc))
            continue
        paths = ("kernel_dense", "kernel_dplr") if N * L <= DENSE_MAX_NL else ("kernel_dplr",)
        for path in paths:
            params = suite._kernel_params(path, measure, N, L, dt, "bilinear", backend,
                                          "arb kernel (large sweep)")
            try:
                if path == "kernel_dense":
                    K = ss.kernels.kernel_dense(A, B, Cx, dt, L, "bilinear")
                    tol = bounds.KERNEL_DENSE(N=N, L=L, eps=eps)
                    rule = bounds.KERNEL_DENSE.formula
                else:
                    K = ss.kernels.kernel_dplr(h.Lambda, h.P, h.B, Cv, dt, L, halved=True)
                    mem = suite._memory(alpha, dt, L)
                    tol = suite._dplr_tol(N, L, mem, eps)
                    rule = f"{bounds.KERNEL_DPLR.formula} = {mem:.3g}"
                K = suite._np(K)
            except Exception as exc:  # noqa: BLE001
                rows.append(suite._error_row(suite.EXP_KERNEL, f"{path} vs ground truth",
                                             params, dtype, exc, t.note))
                continue
            rows.append(suite._row(suite.EXP_KERNEL,
                                   f"{path} (bilinear) vs ground truth, rel. max error",
                                   params, dtype, K, t, tol, note=f"tol = {rule}"))
    return rows


def experiments(sweep="large", dtypes=("float32", "float64")):
    """The points of a large sweep, heaviest first.

    Parameters
    ----------
    sweep : {"large", "large-reduced"}
    dtypes : sequence of str

    Returns
    -------
    experiments : list of statespace.verification.report.Experiment
        Their ``truth`` / ``A`` arguments are
        :class:`~statespace.verification.executor.Reference` objects, resolved by
        the executor (one computation per content key).

    Examples
    --------
    >>> from statespace.verification.large import experiments
    >>> exps = experiments("large")
    >>> len(exps), exps[0].name
    (128, 'large_kernel_legs_N2048_L1048576_numpy')
    """
    if sweep not in PRESETS:
        raise ValueError(f"sweep must be one of {', '.join(PRESETS)}; got {sweep!r}")
    p = PRESETS[sweep]
    dtypes = list(dtypes)
    Lmax = max(p["L"])
    out = []
    for N in sorted(p["kernel_N"], reverse=True):
        for m in MEASURES:
            truth = Reference(kernel_truth, (m, N, DT, Lmax))
            for L in sorted(p["L"], reverse=True):
                for b in BACKENDS:
                    out.append(Experiment(f"large_kernel_{m}_N{N}_L{L}_{b}", kernel_point,
                                          {"measure": m, "N": N, "L": L, "dt": DT,
                                           "dtypes": dtypes, "backend": b, "truth": truth}))
    for N in sorted(p["nplr_N"], reverse=True):
        for m in MEASURES:
            A = Reference(transition_truth, (m, N))
            for b in BACKENDS:
                out.append(Experiment(f"large_nplr_{m}_N{N}_{b}", nplr_point,
                                      {"measure": m, "N": N, "dtypes": dtypes, "backend": b,
                                       "A": A}))
    return out


def size(sweep="large", dtypes=("float32", "float64")):
    """Points, ground-truth computations and estimated CPU-hours of a sweep.

    Parameters
    ----------
    sweep : {"large", "large-reduced"}
    dtypes : sequence of str

    Returns
    -------
    size : dict
        ``points``, ``references``, ``rows`` (upper estimate) and ``cpu_hours``
        (from :data:`COST`).

    Examples
    --------
    >>> from statespace.verification.large import size
    >>> size("large")["points"]
    128
    """
    p = PRESETS[sweep]
    exps = experiments(sweep, dtypes)
    nm, nb, nd = len(MEASURES), len(BACKENDS), len(dtypes)
    Lmax = max(p["L"])
    truth = sum(nm * N * N * Lmax for N in p["kernel_N"]) * COST["truth"]
    kern = sum(nm * nb * N * L for N in p["kernel_N"] for L in p["L"]) * COST["kernel"]
    nplr = sum(nm * nb * N ** 3 for N in p["nplr_N"]) * COST["nplr"]
    refs = {r.key for e in exps for r in e.kwargs.values() if isinstance(r, Reference)}
    return {"points": len(exps), "references": len(refs),
            "rows": nd * sum(1 + (e.func is kernel_point
                                  and e.kwargs["N"] * e.kwargs["L"] <= DENSE_MAX_NL)
                             for e in exps),
            "cpu_hours": (truth + kern + nplr) / 3600}
