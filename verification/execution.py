r"""Running experiments: :class:`Experiment`, :func:`run_suite`, :class:`SuiteResult`.

An *experiment* is a picklable callable taking no arguments (a module-level
function, a :func:`functools.partial` of one, or an :class:`Experiment`) that
returns its findings as

* a list of :class:`~statespace.verification.rows.Row`, or
* a pair ``(rows, plots)`` with ``plots`` a list of plot specs
  (:mod:`statespace.verification.rendering`), or
* an :class:`ExperimentResult`.

:func:`run_suite` runs experiments inline or through any
:class:`concurrent.futures.Executor`; an experiment that raises becomes a failed row.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import numbers
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from statespace.verification.rows import Row

__all__ = ["Experiment", "ExperimentResult", "SuiteResult", "run_suite", "experiment_name"]


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
