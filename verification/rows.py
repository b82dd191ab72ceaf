r"""Verification rows: a measured error against its two bounds, and the one comparison.

A :class:`Row` is one verified claim. It carries a machine key (``metric``), a bound
direction (``"upper"`` or ``"lower"``), its rigorous bound (``tolerance``) and its
expected bound (``expected``, from :mod:`statespace.verification.bounds`), and a
``slack_reason`` when its tighter bound is at least :data:`LOOSE` times its error.
A row passes only when its error is a finite number no larger than its finite
tolerance (and its expected bound): NaN is a failure, never a pass.

:func:`compare` is the one comparison path of the suite: every row of a computed
array against ground truth goes through it, and a reference that did not converge
makes its row fail whatever the error.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from statespace.verification import bounds

__all__ = [
    "Row",
    "LOOSE",
    "relative_error",
    "compare",
    "compare_values",
    "reference_note",
    "measured",
    "demote_expected",
    "slack",
    "slack_counts",
]


# --------------------------------------------------------------------------- rows


def _as_float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _dtype_name(dtype) -> str:
    if dtype is None:
        return ""
    if isinstance(dtype, str):
        return dtype
    name = getattr(dtype, "name", None)  # numpy dtypes / scalar types
    if isinstance(name, str):
        return name
    if isinstance(dtype, type) and hasattr(dtype, "__name__"):
        return dtype.__name__
    s = str(dtype)
    return s.rsplit(".", 1)[-1]  # torch.float64 -> float64


@dataclass
class Row:
    """One verified claim: a measured error against its tolerance.

    Parameters
    ----------
    experiment : str
        Experiment that produced the row (groups rows in the report).
    quantity : str
        What was measured, e.g. ``"kernel K[l] (bilinear), rel. max error"``.
    params : dict
        Parameters of the measurement (JSON-serialisable values).
    dtype : str or dtype
        Working dtype (stored by name, e.g. ``"float64"``).
    error : float
        Measured error; NaN or infinity always fails.
    tolerance : float
        Allowed error; must be finite, else the row fails.
    passed : bool or None, optional
        Leave ``None`` to compute it: ``error <= tolerance`` with both finite.
        ``False`` forces a failure (e.g. the reference did not converge); ``True``
        cannot override a failing comparison.
    note : str, optional
        Free text (why a row failed, the reference precision, ...).
    metric : str, optional
        Machine key of the quantity; default
        :func:`statespace.verification.bounds.metric_of` of experiment and quantity.
    direction : str, optional
        ``"upper"`` (the error must stay below its bounds) or ``"lower"`` (the row
        asserts a lower bound on a measured error, stored as bound / measured);
        default :func:`statespace.verification.bounds.direction_of`.
    expected : float or None, optional
        The expected (calibrated) bound; ``None`` (default) looks it up with
        :func:`statespace.verification.bounds.expected_bound`, NaN means none. A
        row above it fails unless it carries a ``warning``.
    expected_model : str, optional
        The formula of the expected bound, with its numbers (set by the look-up).
    warning : str, optional
        Why a row above its expected bound still passes (``--lenient``, see
        :func:`demote_expected`).
    slack_reason : str, optional
        Why the tighter bound may be :data:`LOOSE` or more times the error
        (``"key: text"``); default
        :func:`statespace.verification.bounds.slack_reason`, ``""`` for a row that
        is not loose.

    Examples
    --------
    >>> from statespace.verification.report import Row
    >>> Row("demo", "x", {"N": 4}, "float64", 1e-16, 1e-15).passed
    True
    >>> Row("demo", "x", {}, "float64", float("nan"), 1e-15).passed
    False
    >>> Row("demo", "x", {}, "float64", 0.0, 1.0, passed=False).passed
    False
    """

    experiment: str
    quantity: str
    params: dict
    dtype: str
    error: float
    tolerance: float
    passed: bool | None = None
    note: str = ""
    metric: str = ""
    direction: str = ""
    expected: float | None = None
    expected_model: str = ""
    warning: str = ""
    slack_reason: str = ""

    def __post_init__(self):
        self.experiment = str(self.experiment)
        self.quantity = str(self.quantity)
        self.params = dict(self.params or {})
        self.dtype = _dtype_name(self.dtype)
        self.error = _as_float(self.error)
        self.tolerance = _as_float(self.tolerance)
        self.metric = str(self.metric or bounds.metric_of(self.experiment, self.quantity))
        self.direction = str(self.direction or bounds.direction_of(self.metric))
        if self.direction not in ("upper", "lower"):
            raise ValueError(f"direction must be 'upper' or 'lower', got {self.direction!r}")
        if self.expected is None:
            self.expected, model = bounds.expected_bound(
                self.metric, self.dtype, self.params, self.tolerance)
            self.expected_model = self.expected_model or model
        self.expected = _as_float(self.expected)
        self.expected_model = str(self.expected_model or "")
        self.warning = str(self.warning or "")
        strict = (
            math.isfinite(self.error)
            and math.isfinite(self.tolerance)
            and self.error <= self.tolerance
        )
        within = not self.above_expected or bool(self.warning)
        self._forced = self.passed is not None and not self.passed
        self.passed = (strict and within) if self.passed is None else (
            bool(self.passed) and strict and within)
        self.note = str(self.note or "")
        self.slack_reason = str(self.slack_reason or bounds.slack_reason(
            self.metric, self.dtype, self.params, self.error, self.effective, self.expected))

    @property
    def bound(self) -> float:
        """The rigorous (a-priori) bound; the same as :attr:`tolerance`."""
        return self.tolerance

    @property
    def above_expected(self) -> bool:
        """Whether the error exceeds a finite expected bound."""
        return math.isfinite(self.expected) and not self.error <= self.expected

    @property
    def effective(self) -> float:
        """The tighter of the rigorous and the expected bound."""
        if math.isfinite(self.expected):
            return min(self.tolerance, self.expected)
        return self.tolerance

    def to_json(self) -> dict:
        """The row as a JSON-ready dict (non-finite floats as strings)."""
        d = asdict(self)
        d["params"] = _jsonable(self.params)
        d["error"] = _json_float(self.error)
        d["tolerance"] = _json_float(self.tolerance)
        d["expected"] = _json_float(self.expected)
        return d

    @classmethod
    def from_json(cls, d: dict) -> Row:
        """Inverse of :meth:`to_json`."""
        return cls(
            d["experiment"],
            d["quantity"],
            d.get("params", {}),
            d.get("dtype", ""),
            _from_json_float(d["error"]),
            _from_json_float(d["tolerance"]),
            passed=d.get("passed"),
            note=d.get("note", ""),
            metric=d.get("metric", ""),
            direction=d.get("direction", ""),
            expected=_from_json_float(d["expected"]) if "expected" in d else math.nan,
            expected_model=d.get("expected_model", ""),
            warning=d.get("warning", ""),
            slack_reason=d.get("slack_reason", ""),
        )


def demote_expected(rows) -> int:
    """Let rows that fail only their expected bound pass, with a warning (``--lenient``).

    Rows above their rigorous bound, with a non-finite error or forced to fail
    (e.g. an unconverged reference) keep failing.

    Parameters
    ----------
    rows : list of Row
        Changed in place.

    Returns
    -------
    n : int
        How many rows were demoted to a warning.

    Examples
    --------
    >>> r = Row("demo", "x", {}, "float64", 1e-9, 1e-6, expected=1e-12)
    >>> r.passed, demote_expected([r]), r.passed, r.warning[:20]
    (False, 1, True, 'above expected bound')
    """
    n = 0
    for r in rows:
        strict = math.isfinite(r.error) and math.isfinite(r.tolerance) and \
            r.error <= r.tolerance
        if not r.passed and r.above_expected and strict and not getattr(r, "_forced", False):
            r.warning = (f"above expected bound {r.expected:.3g} ({r.expected_model}); "
                         "passed with --lenient")
            r.passed = True
            n += 1
    return n


#: Slack (bound / error) from which a row counts as loose in the summaries
#: (:data:`statespace.verification.bounds.LOOSE`).
LOOSE = bounds.LOOSE


def slack(row, bound=None) -> float:
    """``bound / error`` of a row (default bound: :attr:`Row.effective`).

    Parameters
    ----------
    row : Row
        The row.
    bound : float, optional
        The bound to use instead of the tighter of the row's two bounds.

    Returns
    -------
    slack : float
        NaN for lower-bound rows and rows with a non-finite error or bound;
        infinity for an exact (zero) error under a positive bound.

    Examples
    --------
    >>> slack(Row("demo", "x", {}, "float64", 1e-12, 1e-9, expected=1e-10))
    100.0
    """
    b = row.effective if bound is None else bound
    if row.direction != "upper" or not (math.isfinite(row.error) and math.isfinite(b)):
        return math.nan
    if row.error <= 0:
        return math.inf if b > 0 else math.nan
    return b / row.error


def slack_counts(rows) -> dict:
    """Rows whose bound is at least :data:`LOOSE` times their error, before and after.

    Parameters
    ----------
    rows : iterable of Row
        The rows.

    Returns
    -------
    counts : dict
        ``{"rows": int, "rigorous": int, "effective": int, "unexplained": int}``:
        upper-bound rows, those of them loose under the rigorous bound alone and
        under the tighter of the rigorous and the expected bound, and the loose
        ones without a slack reason.

    Examples
    --------
    >>> slack_counts([Row("demo", "x", {}, "float64", 1e-15, 1e-12, expected=1e-14)])
    {'rows': 1, 'rigorous': 1, 'effective': 0, 'unexplained': 0}
    """
    up = [r for r in rows if r.direction == "upper"]
    return {"rows": len(up),
            "rigorous": sum(1 for r in up if slack(r, r.tolerance) >= LOOSE),
            "effective": sum(1 for r in up if slack(r) >= LOOSE),
            "unexplained": sum(1 for r in up if slack(r) >= LOOSE and _unexplained(r))}


def _unexplained(row) -> bool:
    reason = getattr(row, "slack_reason", "")
    return not reason or reason.startswith("unexplained")



def _json_float(x: float):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _from_json_float(x) -> float:
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[x]
    return float(x)


def _jsonable(x):
    """Convert numpy scalars/arrays, tuples and odd keys to plain JSON values."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return _json_float(float(x))
    if x is None or isinstance(x, str):
        return x
    return str(x)


# --------------------------------------------------------------------------- comparisons


def relative_error(actual, desired) -> float:
    r"""Norm-wise relative error :math:`\max_i |a_i - d_i| / \max_i |d_i|`.

    Parameters
    ----------
    actual : array_like
        Computed values: any array-like, or an array of any supported namespace
        (torch tensors, also on CUDA or requiring grad, CuPy and array-api-strict
        arrays are copied to host NumPy first).
    desired : array_like
        Reference values, same shape; converted like ``actual``.

    Returns
    -------
    err : float
        ``inf`` if ``actual`` has a NaN or infinity, or if the shapes differ;
        the absolute error when ``desired`` is all zero.

    Examples
    --------
    >>> from statespace.verification.report import relative_error
    >>> relative_error([1.0, 2.0], [1.0, 2.5])
    0.2
    >>> relative_error([float("nan")], [1.0])
    inf
    """
    from statespace._array import to_numpy

    a = np.asarray(to_numpy(actual))
    d = np.asarray(to_numpy(desired))
    if a.shape != d.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    if not np.all(np.isfinite(a)):
        return math.inf
    scale = float(np.max(np.abs(d)))
    diff = float(np.max(np.abs(a.astype(np.complex128) - d.astype(np.complex128))))
    return diff / scale if scale > 0 else diff


def compare(
    experiment,
    quantity,
    params,
    dtype,
    actual,
    reference,
    tolerance,
    *,
    note="",
    metric="",
):
    """A :class:`Row` comparing ``actual`` with a (converged) reference.

    Parameters
    ----------
    experiment : str
        Experiment name.
    quantity : str
        What is compared.
    params : dict
        Parameters of the comparison.
    dtype : str or dtype
        Working dtype of ``actual``.
    actual : array_like
        Computed values (NumPy-convertible).
    reference : Reference, ground truth with provenance, or array_like
        The ground truth: a :class:`~statespace.verification.reference.Reference`
        (its note is :func:`reference_note`), any object with ``value``,
        ``converged`` and ``note`` (e.g. cached data with its digest), or a plain
        array. One that did not converge makes the row fail, whatever the error.
    tolerance : float
        Allowed :func:`relative_error`.
    note : str, optional
        Extra note.
    metric : str, optional
        The row's machine key (default: derived from experiment and quantity).

    Returns
    -------
    row : Row
        Error is :func:`relative_error`; the note records the reference's digits.

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> from statespace.verification.report import compare
    >>> r = ref.converged(ref.kernel, [[-1.0]], [1.0], [1.0], 0.5, 4, dps=30, norm="max")
    >>> row = compare("demo", "K", {}, "float64", [0.4, 0.24, 0.144, 0.0864], r, 1e-15)
    >>> row.passed
    True
    """
    converged, provenance = _provenance(reference)
    desired = getattr(reference, "value", reference)
    if hasattr(reference, "digits_agree"):
        from statespace.verification.reference import to_numpy

        desired = to_numpy(reference.value)
    return compare_values(experiment, quantity, params, dtype, actual, desired, tolerance,
                          [note, provenance], converged=converged, metric=metric)


def _provenance(reference, source=""):
    """``(converged, note)`` of a reference: a two-precision Reference, ground truth
    carrying ``converged`` and ``note`` (the suite's, cached data with its digest), or a
    plain array (converged, no note)."""
    if hasattr(reference, "digits_agree") and hasattr(reference, "value"):
        return bool(reference.converged), reference_note(reference, source)
    if hasattr(reference, "converged") and hasattr(reference, "value"):
        return bool(reference.converged), str(getattr(reference, "note", "") or "")
    return True, ""


def measured(experiment, quantity, params, dtype, error, tolerance, reference=None, *,
             note="", source="", **row_kw):
    """A :class:`Row` of an error measured against ``reference`` by other means.

    With :func:`compare` (which computes the max-norm relative error first) this is
    the one place where the reference's convergence decides: a reference that did
    not converge makes the row fail whatever the error, and its provenance note
    (:func:`reference_note` for a live reference) follows the row's own note.

    Parameters
    ----------
    experiment, quantity : str
        Experiment name and what was measured.
    params : dict
        Parameters of the measurement.
    dtype : str or dtype
        Working dtype.
    error, tolerance : float
        The measured error (e.g. in ulps, entrywise relative) and its rigorous bound.
    reference : Reference, ground truth with provenance, or None, optional
        As for :func:`compare`; ``None``: no reference (always converged).
    note : str, optional
        The row's own note (e.g. the tolerance's formula).
    source : str, optional
        How a live reference was computed (for its note).
    **row_kw
        Other :class:`Row` fields (``metric``, ``expected``, ...).

    Returns
    -------
    row : Row

    Examples
    --------
    >>> class Truth:
    ...     value, converged, note = [1.0], False, "reference: cached, NOT CONVERGED"
    >>> measured("demo", "x", {}, "float64", 0.0, 1.0, Truth()).passed
    False
    """
    converged, provenance = (True, "") if reference is None else \
        _provenance(reference, source)
    return Row(experiment, quantity, params, dtype, error, tolerance,
               passed=None if converged else False,
               note="; ".join(n for n in (note, provenance) if n), **row_kw)


def reference_note(reference, source="") -> str:
    """The provenance note of a live reference: precision, digits agreeing, convergence.

    The one place that writes "REFERENCE NOT CONVERGED": :func:`compare` and the
    suite's rows take their note from here, and :func:`compare_values` makes the
    row of an unconverged reference fail.

    Parameters
    ----------
    reference : statespace.verification.reference.Reference
        A two-precision reference (:func:`statespace.verification.reference.converged`).
    source : str, optional
        How it was computed (e.g. ``"mpmath closed form"``).

    Returns
    -------
    note : str

    Examples
    --------
    >>> from statespace.verification import reference as ref
    >>> r = ref.converged(ref.kernel, [[-1.0]], [1.0], [1.0], 0.5, 4, dps=30, norm="max")
    >>> reference_note(r, "mpmath")[:40]
    'reference: computed live, mpmath, dps=30'
    """
    head = "reference: computed live" + (f", {source}" if source else "")
    note = (f"{head}, dps={reference.dps}+{reference.extra}, "
            f"{reference.digits_agree:.1f} digits agree ({reference.norm})")
    if not reference.converged:
        note += f"; REFERENCE NOT CONVERGED (needs {reference.required} digits)"
    return note


def compare_values(experiment, quantity, params, dtype, actual, desired, tolerance, notes,
                   *, converged=True, metric=""):
    """The row of ``actual`` against the plain array ``desired`` (max-norm relative).

    The one comparison behind :func:`compare` and the suite's rows: ``desired`` is
    reshaped to ``actual``'s shape when only the shapes differ, a non-finite result is
    noted (its error is infinite, so the row fails), and a reference that did not
    converge forces the row to fail whatever the error.

    Parameters
    ----------
    experiment, quantity : str
        Experiment name and what is compared.
    params : dict
        Parameters of the comparison.
    dtype : str or dtype
        Working dtype of ``actual``.
    actual, desired : array_like
        Computed and reference values (NumPy arrays).
    tolerance : float
        The rigorous bound on :func:`relative_error`.
    notes : sequence of str
        Become the row's note (empty ones dropped).
    converged : bool, optional
        False forces the row to fail.
    metric : str, optional
        The row's machine key (default: derived from experiment and quantity).

    Returns
    -------
    row : Row

    Examples
    --------
    >>> compare_values("demo", "x", {}, "float64", [1.0, 2.0], [1.0, 2.0], 1e-15, []).passed
    True
    """
    a = np.asarray(actual)
    d = np.asarray(desired)
    if d.shape != a.shape and d.size == a.size:
        d = d.reshape(a.shape)
    err = relative_error(a, d)
    notes = list(notes)
    if not np.all(np.isfinite(a)):
        notes.append("non-finite values in result")
    return measured(experiment, quantity, params, dtype, err, tolerance,
                    _Provenance(d, converged), note="; ".join(n for n in notes if n),
                    metric=metric)


class _Provenance:
    """Ground truth whose provenance note is already in the row's note."""

    def __init__(self, value, converged):
        self.value, self.converged, self.note = value, bool(converged), ""
