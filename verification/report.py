r"""Verification rows, the suite runner and the report writer.

An *experiment* is a picklable callable taking no arguments (a module-level
function, a :func:`functools.partial` of one, or an :class:`Experiment`) that
returns its findings as

* a list of :class:`Row`, or
* a pair ``(rows, plots)`` with ``plots`` a list of plot specs (below), or
* an :class:`ExperimentResult`.

:func:`run_suite` runs experiments inline or through any
:class:`concurrent.futures.Executor`; :func:`write_report` writes ``report.md``,
``report.json`` and one PNG per plot spec. A row passes only when its error is a
finite number no larger than its finite tolerance: NaN is a failure, never a pass.

Plot spec
---------
A plain dict (so it pickles and serialises)::

    {"name": "kernel_error",             # file stem: kernel_error.png
     "title": "LegS kernel error",
     "xlabel": "l", "ylabel": "|K - K_ref| / max|K_ref|",
     "logx": False, "logy": True,          # optional, default False
     "series": [{"label": "float64", "x": [...], "y": [...],
                 "style": "-"}]}            # style: matplotlib format string, optional

Non-finite points are dropped, and so are non-positive ones on a log axis.

Report folder
-------------
:func:`write_report` writes the files into a temporary sibling of the output
folder (``.NAME.tmp-*``) and swaps it into place, so the folder always holds one
complete report: ``report.md``, ``report.json`` and the plots of the same run
(each carries the run's ``run_id``; the PNGs in their ``statespace-run`` text
chunk). An interrupted write leaves the previous report untouched.
:class:`ReportLock` (``.NAME.lock`` beside the folder, holding the writer's pid)
keeps two runs from writing one folder; :func:`check_out_dir` refuses a path that
cannot be a report folder before any work is done.

``report.json`` schema (version 1)
----------------------------------
::

    {
      "schema": "statespace-verify",          # constant
      "version": 1,                            # bumped on incompatible changes
      "meta": {                                # free-form; always present keys:
        "created": "2026-01-01T00:00:00+00:00",   # ISO 8601, UTC
        "machine": {"platform": str, "machine": str, "processor": str,
                    "python": str, "cpu_count": int | null, ...},
        "versions": {"statespace": str, "numpy": str, ...},   # str or null
        "threads": {"env": {...}, "blas": [[str, int], ...] | null,
                    "numba": int | null},
        "dtypes": [str, ...],                  # dtypes that rows were run in
        "elapsed_s": float | null,             # wall time of the suite
        "run_id": str,                         # the same in every file of a run
        ...                                    # anything the caller adds
      },                                       # (machine, versions, threads:
                                               # statespace._env.environment)
      "summary": {"rows": int, "passed": int, "failed": int,
                  "experiments": int, "status": "passed" | "failed"},
      "rows": [
        {"experiment": str, "quantity": str,
         "params": {str: any JSON value},
         "dtype": str,
         "error": number | "NaN" | "Infinity" | "-Infinity",
         "tolerance": number | "NaN" | "Infinity" | "-Infinity",
         "passed": bool,
         "note": str},
        ...
      ],
      "plots": [{"name": str, "title": str, "file": str}, ...]   # file: relative
    }

``status`` is ``"passed"`` only when there is at least one row and every row
passed (the exit status of ``statespace verify`` follows it). Non-finite floats
are written as the strings shown, so the file is strict JSON. :data:`SCHEMA` is
the same schema as a JSON Schema document and :func:`validate` checks a report
against it (without third-party packages).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import errno
import json
import math
import multiprocessing
import numbers
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Row",
    "Experiment",
    "ExperimentResult",
    "SuiteResult",
    "SCHEMA",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "relative_error",
    "compare",
    "compare_values",
    "demote_expected",
    "slack",
    "slack_counts",
    "bound_summary",
    "run_suite",
    "write_report",
    "ReportError",
    "ReportLock",
    "check_out_dir",
    "recover_out_dir",
    "collect_meta",
    "validate",
    "experiment_name",
]

SCHEMA_NAME = "statespace-verify"
SCHEMA_VERSION = 1


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

    def __post_init__(self):
        from statespace.verification import bounds

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


#: Slack (bound / error) from which a row counts as loose in the summaries.
LOOSE = 100.0


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
        ``{"rows": int, "rigorous": int, "effective": int}``: upper-bound rows, and
        those of them loose under the rigorous bound alone and under the tighter
        of the rigorous and the expected bound.

    Examples
    --------
    >>> slack_counts([Row("demo", "x", {}, "float64", 1e-15, 1e-12, expected=1e-14)])
    {'rows': 1, 'rigorous': 1, 'effective': 0}
    """
    up = [r for r in rows if r.direction == "upper"]
    return {"rows": len(up),
            "rigorous": sum(1 for r in up if slack(r, r.tolerance) >= LOOSE),
            "effective": sum(1 for r in up if slack(r) >= LOOSE)}


def bound_summary(rows) -> list:
    """Markdown lines: per metric and dtype, the expected model and the worst slack.

    "Worst" is the largest bound/error ratio of the metric (the loosest row), under
    the rigorous bound and under the tighter of both bounds; rows with an exact
    (zero) error are counted apart, their ratio being infinite.

    Parameters
    ----------
    rows : iterable of Row
        The rows.

    Returns
    -------
    lines : list of str
        The "Bounds by metric" section (empty without upper-bound rows).

    Examples
    --------
    >>> bound_summary([Row("demo", "x", {}, "float64", 1e-15, 1e-12)])[0]
    '## Bounds by metric'
    """
    groups = {}
    for r in rows:
        if r.direction == "upper":
            groups.setdefault((r.metric, r.dtype), []).append(r)
    if not groups:
        return []
    c = slack_counts(rows)
    out = ["## Bounds by metric", "",
           f"Rows whose bound is at least {LOOSE:g}x their error: {c['rigorous']} of "
           f"{c['rows']} under the rigorous bound alone, {c['effective']} under the tighter "
           "of the rigorous and the expected bound (exact zero errors included).", "",
           "| metric | dtype | rows | expected bound | worst tolerance/error | "
           "worst bound/error | exact | loose |", "|---|---|---|---|---|---|---|---|"]
    for (metric, dtype), rs in sorted(groups.items()):
        finite_r = [slack(r, r.tolerance) for r in rs]
        finite_e = [slack(r) for r in rs]
        worst_r = max((x for x in finite_r if math.isfinite(x)), default=math.nan)
        worst_e = max((x for x in finite_e if math.isfinite(x)), default=math.nan)
        exact = sum(1 for x in finite_e if x == math.inf)
        loose = sum(1 for x in finite_e if x >= LOOSE)
        models = list(dict.fromkeys(r.expected_model for r in rs if r.expected_model))
        model = "; ".join(models[:2]) + ("; ..." if len(models) > 2 else "") or "-"
        out.append(f"| {_cell(metric)} | {dtype} | {len(rs)} | {_cell(model)} | "
                   f"{_fmt(worst_r)} | {_fmt(worst_e)} | {exact} | {loose} |")
    return out + [""]


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
    reference : statespace.verification.reference.Reference or array_like
        The ground truth. A :class:`~statespace.verification.reference.Reference` that did
        not converge makes the row fail, whatever the error.
    tolerance : float
        Allowed :func:`relative_error`.
    note : str, optional
        Extra note.

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
    notes = [note] if note else []
    forced = None
    desired = reference
    if hasattr(reference, "digits_agree") and hasattr(reference, "value"):
        from statespace.verification.reference import to_numpy

        desired = to_numpy(reference.value)
        notes.append(
            f"reference dps={reference.dps}+{reference.extra}, "
            f"{reference.digits_agree:.1f} digits agree ({reference.norm})"
        )
        if not reference.converged:
            forced = False
            notes.append(f"REFERENCE NOT CONVERGED (needs {reference.required} digits)")
    return compare_values(experiment, quantity, params, dtype, actual, desired, tolerance,
                          notes, converged=forced is None)


def compare_values(experiment, quantity, params, dtype, actual, desired, tolerance, notes,
                   *, converged=True):
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
    return Row(experiment, quantity, params, dtype, err, tolerance,
               passed=None if converged else False, note="; ".join(n for n in notes if n))


# --------------------------------------------------------------------------- experiments


@dataclass(frozen=True)
class ExperimentResult:
    """What an experiment returns: rows and optional plot specs.

    Parameters
    ----------
    rows : list of Row
        The verified claims.
    plots : list of dict, optional
        Plot specifications for :func:`write_report` (default: none).
    """

    rows: list
    plots: list = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A named, picklable experiment: ``func(**kwargs)``.

    Parameters
    ----------
    name : str
        Name used for failure rows and progress output.
    func : callable
        Module-level function (so it pickles for process pools).
    kwargs : dict, optional
        Keyword arguments of ``func``.

    Examples
    --------
    >>> from statespace.verification.report import Experiment, Row
    >>> def demo(n):
    ...     return [Row("demo", "n", {"n": n}, "float64", 0.0, 1.0)]
    >>> Experiment("demo", demo, {"n": 3})()[0].params
    {'n': 3}
    """

    name: str
    func: Callable
    kwargs: dict = field(default_factory=dict)

    def __call__(self):
        return self.func(**self.kwargs)


def experiment_name(fn) -> str:
    """Display name of an experiment callable.

    Parameters
    ----------
    fn : callable
        An :class:`Experiment`, a partial, or a function.

    Returns
    -------
    name : str

    Examples
    --------
    >>> import functools
    >>> from statespace.verification.report import experiment_name
    >>> experiment_name(functools.partial(round, ndigits=2))
    'round(ndigits=2)'
    """
    name = getattr(fn, "name", None)
    if isinstance(name, str) and name:
        return name
    func = getattr(fn, "func", None)
    if func is not None and hasattr(fn, "keywords"):  # functools.partial
        kw = ", ".join(f"{k}={v!r}" for k, v in fn.keywords.items())
        args = ", ".join(repr(a) for a in getattr(fn, "args", ()))
        inner = ", ".join(s for s in (args, kw) if s)
        return f"{experiment_name(func)}({inner})"
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _failure_row(name, message, note):
    return Row(name, message, {}, "", math.nan, 0.0, passed=False, note=note)


def _normalise(name, out):
    """Experiment output -> (rows, plots) or raise TypeError."""
    if isinstance(out, ExperimentResult):
        rows, plots = out.rows, out.plots
    elif isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], (list, tuple)) and \
            not isinstance(out[0], Row):
        rows, plots = out
    else:
        rows, plots = out, []
    rows = list(rows) if isinstance(rows, (list, tuple)) else rows
    if not isinstance(rows, list) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"experiment {name} must return a list of Row, got {type(out).__name__}")
    plots = [dict(p) for p in (plots or [])]
    return rows, plots


def _execute(fn):
    """Run one experiment; never raises (runs in worker processes too)."""
    name = experiment_name(fn)
    t0 = time.perf_counter()
    try:
        rows, plots = _normalise(name, fn())
        owner = rows[0].experiment if rows else name
        for p in plots:
            p.setdefault("experiment", owner)
        if not rows:
            rows = [_failure_row(name, "experiment produced no rows", "an experiment that "
                                 "checks nothing counts as a failure")]
        return rows, plots, time.perf_counter() - t0
    except BaseException as exc:  # noqa: BLE001 - report every failure as a row
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        tb = traceback.format_exc(limit=8)
        row = _failure_row(name, f"experiment raised {type(exc).__name__}: {exc}", tb)
        return [row], [], time.perf_counter() - t0


@dataclass
class SuiteResult:
    """Outcome of :func:`run_suite`.

    Attributes
    ----------
    rows : list of Row
        All rows, in experiment order.
    plots : list of dict
        All plot specs, in experiment order.
    timings : dict
        Seconds per experiment name.
    elapsed : float
        Wall time of the whole suite.
    """

    rows: list
    plots: list
    timings: dict
    elapsed: float

    @property
    def passed(self) -> bool:
        """True when there is at least one row and every row passed."""
        return bool(self.rows) and all(r.passed for r in self.rows)


class _Progress:
    def __init__(self, total, enabled):
        self.total, self.done, self.bar = total, 0, None
        self.enabled = enabled
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="verify", unit="exp", file=sys.stderr)
        except ImportError:
            self.bar = None

    def update(self, name, failed):
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name[:40]}{' FAIL' if failed else ''}", refresh=False)
            self.bar.update(1)
        else:
            status = "FAIL" if failed else "ok"
            print(f"[{self.done}/{self.total}] {name} {status}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_suite(experiments, *, executor=None, workers=1, progress=True):
    """Run experiments and collect their rows and plots.

    Parameters
    ----------
    experiments : iterable of callable
        Experiments (see the module docstring); for a process pool they must
        pickle (module-level functions, partials, :class:`Experiment`).
    executor : concurrent.futures.Executor, optional
        Where to run them; it is not shut down here.
    workers : int, optional
        Without ``executor``: run inline for ``workers <= 1`` (default), else in
        a :class:`~concurrent.futures.ProcessPoolExecutor` of that size.
    progress : bool, optional
        Show a progress bar on stderr (tqdm when installed, else one line per
        experiment).

    Returns
    -------
    result : SuiteResult
        Rows in experiment order whatever the completion order. An experiment
        that raises (or returns something other than rows, or no rows) becomes a
        failed row naming the problem.

    Examples
    --------
    >>> from statespace.verification.report import Row, run_suite
    >>> def ok():
    ...     return [Row("ok", "x", {}, "float64", 0.0, 1.0)]
    >>> def broken():
    ...     raise RuntimeError("boom")
    >>> res = run_suite([ok, broken], progress=False)
    >>> [r.passed for r in res.rows], res.rows[1].quantity
    ([True, False], 'experiment raised RuntimeError: boom')
    """
    experiments = list(experiments)
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    t0 = time.perf_counter()
    names = [experiment_name(fn) for fn in experiments]
    results = [None] * len(experiments)
    bar = _Progress(len(experiments), progress)
    own = None
    try:
        if executor is None and workers > 1 and len(experiments) > 1:
            # forkserver: forking a process whose OpenMP runtime (numba's fused
            # kernels) is already running aborts the children
            ctx = multiprocessing.get_context("forkserver")
            executor = own = cf.ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx)
        if executor is None:
            for i, fn in enumerate(experiments):
                results[i] = _execute(fn)
                bar.update(names[i], not all(r.passed for r in results[i][0]))
        else:
            futures = {executor.submit(_execute, fn): i for i, fn in enumerate(experiments)}
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except BaseException as exc:  # noqa: BLE001 - e.g. pickling, dead worker
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    row = _failure_row(
                        names[i], f"experiment could not run: {type(exc).__name__}: {exc}",
                        traceback.format_exc(limit=4),
                    )
                    results[i] = ([row], [], 0.0)
                bar.update(names[i], not all(r.passed for r in results[i][0]))
    finally:
        bar.close()
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
    rows, plots, timings = [], [], {}
    for name, (r, p, dt) in zip(names, results, strict=True):
        rows.extend(r)
        plots.extend(p)
        timings[name] = timings.get(name, 0.0) + dt
    return SuiteResult(rows, plots, timings, time.perf_counter() - t0)


# --------------------------------------------------------------------------- meta


def collect_meta(**extra) -> dict:
    """Machine, versions, threads and a timestamp for a report.

    Parameters
    ----------
    **extra
        Added on top (e.g. ``dtypes``, ``elapsed_s``, ``backend``).

    Returns
    -------
    meta : dict
        :func:`statespace._env.environment` (``created``, ``machine``,
        ``versions``, ``threads``) with ``dtypes`` and ``elapsed_s`` (empty until
        the caller fills them in) and ``extra``.

    Examples
    --------
    >>> from statespace.verification.report import collect_meta
    >>> sorted(collect_meta())[:3]
    ['created', 'dtypes', 'elapsed_s']
    """
    from statespace import _env

    meta = _env.environment()
    meta.update({"dtypes": [], "elapsed_s": None})
    meta.update(extra)
    return meta


# --------------------------------------------------------------------------- schema

_NUM = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}

#: JSON Schema (draft 2020-12 subset) of ``report.json``; see the module docstring.
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "statespace verification report",
    "type": "object",
    "required": ["schema", "version", "meta", "summary", "rows", "plots"],
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "version": {"const": SCHEMA_VERSION},
        "meta": {
            "type": "object",
            "required": ["created", "machine", "versions", "dtypes", "elapsed_s"],
            "properties": {
                "created": {"type": "string"},
                "machine": {
                    "type": "object",
                    "required": ["platform", "machine", "processor", "python", "cpu_count"],
                },
                "versions": {
                    "type": "object",
                    "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
                "dtypes": {"type": "array", "items": {"type": "string"}},
                "elapsed_s": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            },
        },
        "summary": {
            "type": "object",
            "required": ["rows", "passed", "failed", "experiments", "status"],
            "properties": {
                "rows": {"type": "integer", "minimum": 0},
                "passed": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "experiments": {"type": "integer", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
            },
            "additionalProperties": False,
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "experiment", "quantity", "params", "dtype",
                    "error", "tolerance", "passed", "note",
                ],
                "properties": {
                    "experiment": {"type": "string"},
                    "quantity": {"type": "string"},
                    "params": {"type": "object"},
                    "dtype": {"type": "string"},
                    "error": _NUM,
                    "tolerance": _NUM,
                    "passed": {"type": "boolean"},
                    "note": {"type": "string"},
                    "metric": {"type": "string"},
                    "direction": {"enum": ["upper", "lower"]},
                    "expected": _NUM,
                    "expected_model": {"type": "string"},
                    "warning": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "plots": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "title", "file"],
                "properties": {
                    "name": {"type": "string"},
                    "title": {"type": "string"},
                    "file": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": False,
}

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
    return isinstance(value, _TYPES[t])


def _check(value, schema, path, errors):
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "anyOf" in schema:
        if not any(not _collect(value, s, path) for s in schema["anyOf"]):
            errors.append(f"{path}: {value!r} matches none of the allowed forms")
    if "type" in schema and not _type_ok(value, schema["type"]):
        errors.append(f"{path}: expected {schema['type']}, got {type(value).__name__}")
        return
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing key {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, v in value.items():
            if key in props:
                _check(v, props[key], f"{path}.{key}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                _check(v, extra, f"{path}.{key}", errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            _check(v, schema["items"], f"{path}[{i}]", errors)


def _collect(value, schema, path):
    errors = []
    _check(value, schema, path, errors)
    return errors


def validate(doc, schema=None):
    """Check a parsed ``report.json`` against :data:`SCHEMA` (and its invariants).

    Parameters
    ----------
    doc : dict
        The parsed JSON document.
    schema : dict, optional
        Schema to use (default :data:`SCHEMA`).

    Raises
    ------
    ValueError
        Listing every violation, including inconsistent summary counts.

    Examples
    --------
    >>> from statespace.verification.report import validate
    >>> try:
    ...     validate({"schema": "nope"})
    ... except ValueError as exc:
    ...     print("$.schema: expected 'statespace-verify'" in str(exc))
    True
    """
    errors = _collect(doc, SCHEMA if schema is None else schema, "$")
    if not errors and isinstance(doc, dict):
        rows, summ = doc["rows"], doc["summary"]
        npass = sum(1 for r in rows if r["passed"])
        if summ["rows"] != len(rows) or summ["passed"] != npass or \
                summ["failed"] != len(rows) - npass:
            errors.append("$.summary: counts disagree with the rows")
        ok = bool(rows) and npass == len(rows)
        if summ["status"] != ("passed" if ok else "failed"):
            errors.append("$.summary.status disagrees with the rows")
        for i, r in enumerate(rows):
            e, t = _from_json_float(r["error"]), _from_json_float(r["tolerance"])
            strict = math.isfinite(e) and math.isfinite(t) and e <= t
            if r["passed"] and not strict:
                errors.append(f"$.rows[{i}]: marked passed but error {e} > tolerance {t}")
            x = _from_json_float(r.get("expected", "NaN"))
            if r["passed"] and math.isfinite(x) and not e <= x and not r.get("warning"):
                errors.append(f"$.rows[{i}]: marked passed but error {e} > expected bound "
                              f"{x} without a warning")
    if errors:
        raise ValueError("report does not match the schema: " + "; ".join(errors))


# --------------------------------------------------------------------------- writing


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.3e}"


def _cell(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _params(p: dict) -> str:
    def one(v):
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    return ", ".join(f"{k}={one(v)}" for k, v in p.items())


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._")
    return s or "plot"


def _render_plot(spec, path, run_id=None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    logx, logy = bool(spec.get("logx")), bool(spec.get("logy"))
    drawn = 0
    for s in spec.get("series", []):
        x = np.asarray(s["x"], dtype=np.float64).ravel()
        y = np.asarray(s["y"], dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"series {s.get('label')!r}: x and y lengths differ")
        keep = np.isfinite(x) & np.isfinite(y)
        if logx:
            keep &= x > 0
        if logy:
            keep &= y > 0
        args = (x[keep], y[keep]) + ((s["style"],) if s.get("style") else ())
        ax.plot(*args, label=s.get("label"))
        drawn += int(keep.any())
    if logx:
        ax.set_xscale("log")
    if logy and drawn:
        ax.set_yscale("log")
    ax.set_title(spec.get("title", spec["name"]))
    ax.set_xlabel(spec.get("xlabel", ""))
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.grid(True, which="both", alpha=0.3)
    if any(s.get("label") for s in spec.get("series", [])):
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format="png",
                metadata={"statespace-run": str(run_id)} if run_id else None)


# --------------------------------------------------------------------------- report folder

#: Files a report folder may hold: what :func:`write_report` writes.
_REPORT_FILES = ("report.md", "report.json")


class ReportError(ValueError):
    """The report folder cannot be used: bad path, or another run is writing it."""


def _siblings(out, kind):
    """Temporary siblings of ``out`` of one kind (``tmp`` or ``old``), newest first."""
    found = [p for p in out.parent.glob(f".{out.name}.{kind}-*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_out_dir(out, *, create_parent=False):
    """Validate an output folder before any work is done.

    Parameters
    ----------
    out : str or path
        The report folder. It may be missing (it is created), empty, or hold a
        previous report (``report.md``, ``report.json``, ``*.png`` only): each
        write replaces the folder as a whole.
    create_parent : bool, optional
        Create a missing parent folder (default: refuse it).

    Returns
    -------
    out : pathlib.Path
        The absolute path (symbolic links resolved).

    Raises
    ------
    ReportError
        When ``out`` exists and is not a folder, holds other files, is the current
        directory or one above it, or its parent is missing or not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import check_out_dir
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a_file"
    >>> _ = f.write_text("x")
    >>> check_out_dir(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    statespace.verification.report.ReportError: output folder ... exists and is not a folder
    """
    if not str(out).strip():
        raise ReportError("the output folder must not be empty")
    path = Path(os.path.realpath(os.fspath(out)))
    if path.parent == path:
        raise ReportError(f"output folder {path} is the file system root")
    if path.exists() and not path.is_dir():
        raise ReportError(f"output folder {path} exists and is not a folder")
    parent = path.parent
    if not parent.exists() and create_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create the parent folder {parent}: {exc}") from None
    if not parent.is_dir():
        raise ReportError(f"the parent folder {parent} of the output folder does not exist "
                          "(or is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReportError(f"the parent folder {parent} of the output folder is not writable")
    cwd = Path(os.path.realpath(os.getcwd()))
    if cwd == path or path in cwd.parents:
        raise ReportError(f"output folder {path} is (or contains) the current directory; "
                          "each run replaces the folder as a whole")
    if path.is_dir():
        other = sorted(p.name for p in path.iterdir()
                       if not (p.is_file() and (p.name in _REPORT_FILES
                                                or p.suffix == ".png")))
        if other:
            raise ReportError(
                f"output folder {path} holds files that are not part of a report "
                f"({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); each run "
                "replaces the folder as a whole: choose a new or empty folder")
    return path


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class ReportLock:
    """An exclusive lock on a report folder: ``.NAME.lock`` beside it.

    The lock file is created with ``O_CREAT | O_EXCL`` and holds the pid of the
    writer. A lock whose process no longer exists is stale and is taken over.

    Parameters
    ----------
    out : str or path
        The report folder.

    Raises
    ------
    ReportError
        On entering, when a live process holds the lock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import ReportLock, ReportError
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "rep"
    >>> with ReportLock(out):
    ...     try:
    ...         ReportLock(out).acquire()
    ...     except ReportError as exc:
    ...         print("refused")
    refused
    """

    #: Seconds after which a lock file without a readable pid counts as stale.
    STALE_EMPTY_S = 30.0

    def __init__(self, out):
        out = Path(os.path.realpath(os.fspath(out)))
        self.out = out
        self.path = out.parent / f".{out.name}.lock"
        self._held = False

    def _holder(self):
        """The pid in the lock file; None when unreadable (then the age decides)."""
        try:
            text = self.path.read_text().strip()
            return int(text.split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _stale(self):
        pid = self._holder()
        if pid is not None:
            return not _pid_alive(pid)
        try:
            return time.time() - self.path.stat().st_mtime > self.STALE_EMPTY_S
        except FileNotFoundError:
            return True

    def acquire(self):
        """Take the lock or raise :class:`ReportError`."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    pid = self._holder()
                    raise ReportError(
                        f"output folder {self.out} is being written by another run "
                        f"(pid {pid if pid is not None else 'unknown'}; lock file "
                        f"{self.path}); wait for it to finish or choose another folder"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                continue
            except OSError as exc:
                raise ReportError(f"cannot create the lock file {self.path}: {exc}") from None
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
            self._held = True
            return self
        raise ReportError(f"could not take the lock {self.path}")

    def release(self):
        """Remove the lock file (only if this object holds it)."""
        if self._held:
            self._held = False
            if self._holder() == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def recover_out_dir(out):
    """Clean up after an interrupted write of ``out`` (call it holding the lock).

    Temporary folders of unfinished writes (``.NAME.tmp-*``) are removed. A
    previous report set aside by a swap that did not finish (``.NAME.old-*``) is
    put back when ``out`` is missing, and removed otherwise.

    Parameters
    ----------
    out : str or path
        The report folder.

    Returns
    -------
    removed : list of pathlib.Path
        The leftovers found (removed or restored).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import recover_out_dir
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / ".rep.tmp-1-x").mkdir()
    >>> [p.name for p in recover_out_dir(d / "rep")], list(d.iterdir())
    (['.rep.tmp-1-x'], [])
    """
    out = Path(os.path.realpath(os.fspath(out)))
    if not out.parent.is_dir():
        return []
    found = []
    for p in _siblings(out, "tmp"):
        shutil.rmtree(p, ignore_errors=True)
        found.append(p)
    for p in _siblings(out, "old"):
        if not out.exists():
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)
        found.append(p)
    return found


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends (main thread, POSIX only)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    if (not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a, b):
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _publish(tmp, out):
    """Put the complete folder ``tmp`` in place of ``out`` (signals held meanwhile).

    With an existing ``out`` the two are exchanged atomically where the system
    can; elsewhere ``out`` is renamed aside (``.NAME.old-*``) first, and
    :func:`recover_out_dir` restores it if the swap is cut short.
    """
    with _signals_deferred():
        if not out.exists():
            os.rename(tmp, out)
            return
        if _exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # now the previous report
            return
        old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)


def write_report(rows, out_dir, *, plots=None, meta=None, summary=None):
    """Write ``report.md``, ``report.json`` and PNG plots.

    Parameters
    ----------
    rows : list of Row
        The findings (e.g. ``run_suite(...).rows``).
    out_dir : str or path
        Output folder (created if missing, with its parents). The files are
        written to a temporary sibling folder and swapped into place, so the
        folder always holds one complete report; a previous report there is
        replaced as a whole (:func:`check_out_dir` says what it may hold).
    plots : list of dict, optional
        Plot specs (module docstring); each becomes ``out_dir/<name>.png``.
        Without matplotlib they are skipped and the report says so.
    meta : dict, optional
        Added to :func:`collect_meta`'s machine/version data.
    summary : str, optional
        A Markdown section with its own heading (the ``## Summary`` of
        :func:`statespace.verification.suite.postprocess`), placed after the
        failures, before the per-experiment tables.

    Returns
    -------
    written : dict
        ``{"markdown": Path, "json": Path, "plots": [Path, ...], "passed": bool}``;
        ``passed`` is true only for at least one row, all passing.

    Raises
    ------
    ReportError
        When ``out_dir`` cannot be a report folder (:func:`check_out_dir`).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from statespace.verification.report import Row, write_report
    >>> d = tempfile.mkdtemp()
    >>> out = write_report([Row("demo", "x", {}, "float64", 1e-17, 1e-15)], d)
    >>> json.loads(pathlib.Path(d, "report.json").read_text())["summary"]["status"]
    'passed'
    """
    rows = list(rows)
    if not all(isinstance(r, Row) for r in rows):
        raise TypeError("rows must be Row instances")
    final = check_out_dir(out_dir, create_parent=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # mode from the umask, like the folder it replaces
    try:
        names, ok = _write_files(tmp, rows, plots, meta, summary)
        _publish(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"markdown": final / "report.md", "json": final / "report.json",
            "plots": [final / n for n in names], "passed": ok}


def _write_files(out, rows, plots, meta, summary):
    """Write the report's files into the (temporary) folder ``out``.

    Returns the plot file names and whether the report passed.
    """
    meta_all = collect_meta()
    meta_all.update(meta or {})
    meta_all.setdefault("run_id", uuid.uuid4().hex[:16])
    if not meta_all.get("dtypes"):
        meta_all["dtypes"] = sorted({r.dtype for r in rows if r.dtype})
    meta_all = _jsonable(meta_all)

    # plots
    plot_entries, plot_files, plot_problems = [], [], []
    used = set()
    for spec in plots or []:
        name = _slug(spec.get("name", "plot"))
        base, k = name, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        path = out / f"{name}.png"
        try:
            _render_plot(spec, path, meta_all["run_id"])
        except ImportError as exc:
            plot_problems.append(f"{name}: matplotlib not available ({exc})")
            continue
        except Exception as exc:  # noqa: BLE001 - a bad plot must not lose the report
            plot_problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        plot_files.append(path)
        plot_entries.append(
            {"name": name, "title": str(spec.get("title", name)), "file": path.name,
             "experiment": str(spec.get("experiment", ""))}
        )
    if plot_problems:
        meta_all["plot_problems"] = plot_problems
        warnings.warn("plots not written: " + "; ".join(plot_problems), RuntimeWarning,
                      stacklevel=3)

    npass = sum(r.passed for r in rows)
    ok = bool(rows) and npass == len(rows)
    experiments = list(dict.fromkeys(r.experiment for r in rows))
    counts = {
        "rows": len(rows),
        "passed": npass,
        "failed": len(rows) - npass,
        "experiments": len(experiments),
        "status": "passed" if ok else "failed",
    }
    doc = {
        "schema": SCHEMA_NAME,
        "version": SCHEMA_VERSION,
        "meta": meta_all,
        "summary": counts,
        "rows": [r.to_json() for r in rows],
        "plots": [{k: v for k, v in p.items() if k != "experiment"} for p in plot_entries],
    }
    validate(doc)
    jpath = out / "report.json"
    jpath.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")

    # markdown
    md = ["# statespace verification report", ""]
    if ok:
        md.append(f"**PASSED**: all {len(rows)} rows of {len(experiments)} experiments passed.")
    elif not rows:
        md.append("**FAILED**: no rows were produced.")
    else:
        md.append(
            f"**FAILED**: {len(rows) - npass} of {len(rows)} rows failed "
            f"({len(experiments)} experiments)."
        )
    m = meta_all
    vers = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if v)
    md += [
        "",
        f"- created: {m.get('created')}",
        f"- machine: {m['machine'].get('platform')} ({m['machine'].get('cpu_count')} CPUs), "
        f"Python {m['machine'].get('python')}",
        f"- versions: {vers}",
        f"- dtypes: {', '.join(m.get('dtypes') or []) or '-'}",
    ]
    th = m.get("threads") or {}
    if th:
        blas = ("unknown" if th.get("blas") is None
                else ", ".join(f"{a} {n}" for a, n in th["blas"]) or "none loaded")
        md.append(f"- threads: BLAS {blas}; numba {th.get('numba') or '-'}"
                  + "".join(f"; {k}={v}" for k, v in (th.get("env") or {}).items()))
    if m.get("elapsed_s") is not None:
        md.append(f"- elapsed: {float(m['elapsed_s']):.1f} s")
    for key in sorted(set(m) - {"created", "machine", "versions", "threads", "dtypes",
                                "elapsed_s", "plot_problems", "timings"}):
        md.append(f"- {key}: {_cell(m[key])}")
    md += ["", "A row passes when its error is finite and no larger than its tolerance "
           "(the rigorous a-priori bound) and, where the row has one, its expected bound "
           "(a calibrated error model times a safety factor, see "
           "`statespace.verification.bounds`; `--lenient` turns a row above it into a "
           "warning).", ""]

    md += ["## Failures", ""]
    failed = [r for r in rows if not r.passed]
    if failed:
        md += [
            "| experiment | quantity | parameters | dtype | error | tolerance | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in failed:
            note = r.note.strip().splitlines()[-1] if r.note.strip() else ""
            md.append(
                f"| {_cell(r.experiment)} | {_cell(r.quantity)} | {_cell(_params(r.params))} | "
                f"{_cell(r.dtype)} | {_fmt(r.error)} | {_fmt(r.tolerance)} | {_cell(note)} |"
            )
    else:
        md.append("None." if rows else "No rows were produced, which counts as a failure.")
    md.append("")
    warned = [r for r in rows if r.warning]
    if warned:
        md += ["", f"**Warnings**: {len(warned)} rows are above their expected bound "
               "(passed with `--lenient`).", ""]
    if summary:
        md += [str(summary).strip("\n"), ""]

    for exp in experiments:
        md += [f"## {exp}", "",
               "| quantity | parameters | dtype | error | tolerance | pass | expected | "
               "bound/error |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r.experiment != exp:
                continue
            verdict = "pass" if r.passed else "**FAIL**"
            if r.warning:
                verdict = "pass (warning)"
            md.append(
                f"| {_cell(r.quantity)} | {_cell(_params(r.params))} | {_cell(r.dtype)} | "
                f"{_fmt(r.error)} | {_fmt(r.tolerance)} | {verdict} | {_fmt(r.expected)} | "
                f"{_fmt(slack(r))} |"
            )
        notes = [(r.quantity, r.note) for r in rows if r.experiment == exp and r.note]
        if notes:
            md.append("")
            for q, n in notes:
                first = n.strip().splitlines()
                md.append(f"- {_cell(q)}: {_cell(first[-1] if first else '')}")
        for p in plot_entries:
            if p["experiment"] == exp:
                md += ["", f"![{_cell(p['title'])}]({p['file']})"]
        md.append("")
    other = [p for p in plot_entries if p["experiment"] not in experiments]
    if other:
        md += ["## Plots", ""]
        for p in other:
            md += [f"![{_cell(p['title'])}]({p['file']})", ""]
    md += bound_summary(rows)
    if plot_problems:
        md += ["## Plot problems", ""] + [f"- {_cell(s)}" for s in plot_problems] + [""]
    mpath = out / "report.md"
    mpath.write_text("\n".join(md))
    return [p.name for p in plot_files], ok
