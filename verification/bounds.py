r"""Error bounds of the verification rows: metric keys, error models, calibrated constants.

Every row of ``statespace verify`` carries two bounds on its measured error:

* the **rigorous** bound (the row's ``tolerance``): an a-priori worst-case bound,
  stated with its derivation in :mod:`statespace.verification.suite`. It holds for
  every input the row could be run on, so it is loose where worst cases are rare
  (``kernel_dense``: :math:`N L \varepsilon` against errors near
  :math:`\sqrt{N}\log_2(L)\,\varepsilon`).
* the **expected** bound: :math:`S \cdot c \cdot m(\text{row})` with an error model
  :math:`m` (a :class:`Tolerance` of :data:`MODELS`, e.g.
  :math:`\sqrt{N}\log_2(L)\,\varepsilon`), its constant :math:`c` calibrated on a
  sweep and the safety factor :math:`S` = :data:`SAFETY`. A row above its
  expected bound fails (``statespace verify --lenient`` demotes that failure to a
  warning); a row above its rigorous bound always fails.

Rows are grouped by *metric*, a machine key derived from the experiment and the
quantity (:func:`metric_of`, e.g. ``"kernel_accuracy/kernel_dense_vs_ground_truth_
rel_max_error"``); the constants are per metric and dtype (:data:`CALIBRATION`).

Calibration
-----------
``python -m statespace.verification.calibrate`` runs the quick and the full sweep
of ``statespace verify`` (or reads report.json files given with ``--report``)
and, per metric and dtype, takes for every candidate model of :data:`MODELS` the
ratios :math:`r_i = e_i / m_i` over the rows with a positive finite error; it keeps
the model of the smallest spread :math:`\max r / \min r` and sets
:math:`c = \max_i r_i`, so the worst row of the sweep sits at :math:`1/S` of its
expected bound. ``--write`` replaces the table below with the result.

Metrics without an error model (:data:`RIGOROUS_ONLY`) keep their rigorous bound
alone, for the reason stated there (their "error" is not a rounding error, or the
bound is the claim itself, e.g. a spectral radius that must stay below 1).

Examples
--------
>>> from statespace.verification import bounds
>>> bounds.metric_of("Kernel accuracy", "kernel_dense (bilinear) vs ground truth, rel. max error")
'kernel_accuracy/kernel_dense_vs_ground_truth_rel_max_error'
>>> m = bounds.MODELS["sqrtN_log2L_eps"]
>>> m.formula
'sqrt(N) * log2(L) * eps'
>>> m(N=16, L=1024, eps=1.0, tolerance=1.0)
40.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Tolerance",
    "KERNEL_DENSE",
    "KERNEL_DPLR",
    "KERNEL_DIAG",
    "MODELS",
    "SAFETY",
    "CALIBRATION",
    "RIGOROUS_ONLY",
    "LOWER_BOUND_METRICS",
    "metric_of",
    "direction_of",
    "expected_bound",
    "eps_of",
]

#: Safety factor of the expected bound over the calibrated worst case.
SAFETY = 10.0


@dataclass(frozen=True)
class Tolerance:
    """A tolerance formula: its name, its text and the function computing it.

    Parameters
    ----------
    name : str
        Machine key (e.g. ``"sqrtN_log2L_eps"``).
    formula : str
        The formula as text, shown in the report and the docs.
    func : callable
        ``func(N, L, eps, kappa, tolerance) -> float``; every argument is passed by
        keyword, ``kappa`` (a condition number) and ``tolerance`` (the row's rigorous
        bound) default to 1.

    Examples
    --------
    >>> t = Tolerance("N_eps", "N * eps", lambda N, eps, **_: N * eps)
    >>> t(N=4, eps=0.5)
    2.0
    """

    name: str
    formula: str
    func: Callable

    def __call__(self, **kwargs) -> float:
        args = {"N": 1, "L": 1, "eps": 1.0, "kappa": 1.0, "tolerance": 1.0}
        args.update(kwargs)
        return float(self.func(**args))


def _log2(L):
    return max(1.0, math.log2(max(L, 1)))


_MODEL_LIST = (
    Tolerance("const", "1 (error in ulps)", lambda **_: 1.0),
    Tolerance("eps", "eps", lambda eps, **_: eps),
    Tolerance("sqrtN_eps", "sqrt(N) * eps", lambda N, eps, **_: math.sqrt(N) * eps),
    Tolerance("N_eps", "N * eps", lambda N, eps, **_: N * eps),
    Tolerance("log2L_eps", "log2(L) * eps", lambda L, eps, **_: _log2(L) * eps),
    Tolerance("sqrtN_log2L_eps", "sqrt(N) * log2(L) * eps",
              lambda N, L, eps, **_: math.sqrt(N) * _log2(L) * eps),
    Tolerance("N_log2L_eps", "N * log2(L) * eps", lambda N, L, eps, **_: N * _log2(L) * eps),
    Tolerance("sqrtL_eps", "sqrt(L) * eps", lambda L, eps, **_: math.sqrt(L) * eps),
    Tolerance("L_eps", "L * eps", lambda L, eps, **_: L * eps),
    Tolerance("sqrtNL_eps", "sqrt(N * L) * eps", lambda N, L, eps, **_: math.sqrt(N * L) * eps),
    Tolerance("kappa_eps", "kappa * eps", lambda kappa, eps, **_: kappa * eps),
    Tolerance("sqrtN_kappa_eps", "sqrt(N) * kappa * eps",
              lambda N, kappa, eps, **_: math.sqrt(N) * kappa * eps),
    Tolerance("rigorous", "rigorous bound", lambda tolerance, **_: tolerance),
)


def _power_model(a, b, g, k):
    parts = [t for t, e in (("N", a), ("L", b), ("log2(L)", g), ("kappa", k)) if e]
    text = " * ".join(f"{t}^{e:g}" if e != 1 else t for t, e in
                      zip(parts, [e for e in (a, b, g, k) if e], strict=True))
    name = f"pow_N{a:g}_L{b:g}_lg{g:g}_k{k:g}"

    def func(N, L, eps, kappa, **_):
        return N ** a * L ** b * _log2(L) ** g * kappa ** k * eps

    return Tolerance(name, (text + " * eps") if text else "eps", func)


# the power-law family N^a L^b log2(L)^g kappa^k eps (the models above are members
# of it written out); the calibration picks among all of them
_POWERS = tuple(
    _power_model(a, b, g, k)
    for a in (0, 0.5, 1, 2) for b in (0, 0.25, 0.5, 1) for g in (0, 1) for k in (0, 0.5, 1)
    if a or b or g or k
)

#: Rigorous bound of ``kernel_dense`` (each doubling level of the Krylov sequence
#: adds the error of one product).
KERNEL_DENSE = Tolerance("kernel_dense", "N L eps", lambda N, L, eps, **_: N * L * eps)
#: Rigorous bound of ``kernel_dplr``; ``M = min(L, 1/(dt alpha))`` is the kernel's
#: memory in lags (see :mod:`statespace.verification.suite`).
KERNEL_DPLR = Tolerance("kernel_dplr", "N (log2 L + M) eps, M = min(L, 1/(dt alpha))",
                        lambda N, L, eps, M, **_: N * (math.log2(max(L, 2)) + M) * eps)
#: Rigorous bound of ``kernel_diag``; ``x = max_n |dt lambda_n|``.
KERNEL_DIAG = Tolerance("kernel_diag", "(N + L max|dt lambda_n|) eps",
                        lambda N, L, eps, x, **_: (N + L * x) * eps)

#: Candidate error models by name.
MODELS = {m.name: m for m in _MODEL_LIST + _POWERS}

#: Metrics judged by their rigorous bound alone, with the reason.
RIGOROUS_ONLY = {
    "stability/spectral_radius_of_bilinear_ad": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_zoh_ad": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_bilinear_ad_without_the_decoupled_coordinate": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
    "stability/spectral_radius_of_zoh_ad_without_the_decoupled_coordinate": (
        "the error column is the spectral radius itself and the bound (< 1) is the claim"),
}

#: Metrics whose row asserts a *lower* bound on the measured error (the error
#: column is bound / measured, at most 1); they have no expected bound.
LOWER_BOUND_METRICS = ("divided_by_measured",)


def metric_of(experiment: str, quantity: str) -> str:
    """The metric key of a row: experiment and quantity without the parenthesised parts.

    Parameters
    ----------
    experiment : str
        The row's experiment (section) name.
    quantity : str
        The row's quantity text.

    Returns
    -------
    metric : str
        ``"<experiment slug>/<quantity slug>"``: lower case, parenthesised parts
        (methods, sizes, measured values) and digits dropped, other characters
        joined by ``_``.

    Examples
    --------
    >>> metric_of("Stability", "spectral radius of zoh Ad (legs)")
    'stability/spectral_radius_of_zoh_ad'
    """
    def slug(s):
        s = str(s).lower()
        while True:  # innermost parentheses first
            t = re.sub(r"\([^()]*\)", " ", s)
            if t == s:
                break
            s = t
        s = re.sub(r"[0-9]+", " ", s)
        s = re.sub(r"[^a-z_]+", "_", s)
        return re.sub(r"_+", "_", s).strip("_")

    exp = slug(experiment.split(":")[0])
    return f"{exp}/{slug(quantity)}" if exp else slug(quantity)


def direction_of(metric: str) -> str:
    """``"lower"`` for rows asserting a lower bound on the measured error, else ``"upper"``.

    Examples
    --------
    >>> direction_of("legs/max_v_of_numpy_eig_unit_pivot_columns_lower_bound_divided_by_measured")
    'lower'
    """
    return "lower" if any(k in metric for k in LOWER_BOUND_METRICS) else "upper"


def eps_of(dtype: str) -> float:
    """Machine epsilon of ``"float32"``/``"float64"`` (also complex); 1 otherwise."""
    d = str(dtype)
    if d in ("float32", "complex64"):
        return 2.0 ** -23
    if d in ("float64", "complex128"):
        return 2.0 ** -52
    return 1.0


def _num(params, key, default):
    v = params.get(key, default)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return float(default)
    return v if math.isfinite(v) else float(default)


def model_args(params: dict, dtype: str, tolerance: float) -> dict:
    """The keyword arguments of a :class:`Tolerance` for a row."""
    return {"N": _num(params, "N", 1), "L": _num(params, "L", 1), "eps": eps_of(dtype),
            "kappa": max(1.0, _num(params, "kappa", 1)), "tolerance": float(tolerance)}


def expected_bound(metric: str, dtype: str, params: dict, tolerance: float):
    """The expected bound of a row and its formula text.

    Parameters
    ----------
    metric : str
        The row's metric (:func:`metric_of`).
    dtype : str
        The row's dtype name.
    params : dict
        The row's parameters (``N``, ``L``, ``kappa`` are read when present).
    tolerance : float
        The row's rigorous bound (read by the ``rigorous`` model).

    Returns
    -------
    bound : float
        :math:`S\\cdot c\\cdot m`; NaN when the metric has no calibrated model.
    formula : str
        ``"S * c * model"`` with the numbers, or the reason there is none.

    Examples
    --------
    >>> expected_bound("no/such_metric", "float64", {}, 1e-12)
    (nan, 'not calibrated')
    """
    if metric in RIGOROUS_ONLY:
        return math.nan, "rigorous bound only: " + RIGOROUS_ONLY[metric]
    if direction_of(metric) == "lower":
        return math.nan, "rigorous bound only: a lower bound on the measured error"
    entry = CALIBRATION.get((metric, dtype))
    if entry is None:
        return math.nan, "not calibrated"
    name, c = entry
    model = MODELS[name]
    value = SAFETY * c * model(**model_args(params, dtype, tolerance))
    return value, f"{SAFETY:g} * {c:.3g} * {model.formula}"


# The table below is written by ``python -m statespace.verification.calibrate --write``:
# (metric, dtype) -> (model name, c), c = max over the sweep of error / model.
# BEGIN CALIBRATION
CALIBRATION: dict = {}
# END CALIBRATION
