"""Where the points of a sweep run: in-process, on a ``LocalCluster``, or on a cluster.

The unit of work is one *point*: one experiment with its parameters (an
:class:`~statespace.verification.report.Experiment`, or any callable taking no
arguments), i.e. one ground-truth computation and the rows checked against it.
:func:`run_points` runs the points the results store does not hold yet, appends
each completed batch to the store (:class:`statespace.verification.store.ResultStore`)
and returns every point's record, in the order of the points.

Executors (:func:`open_executor`)
---------------------------------
``workers == 1`` and no scheduler
    In-process, one point after the other (no dask needed).
``workers > 1`` and no scheduler
    A :class:`distributed.LocalCluster` of ``workers`` processes, one thread each.
``scheduler="tcp://HOST:8786"``
    A running dask cluster (``dask-ssh``, dask-jobqueue, ``dask scheduler`` and
    ``dask worker`` by hand); its workers must have ``statespace[distributed]``
    installed. dask.distributed is the optional extra ``statespace[distributed]``.

Reference computations
----------------------
An experiment's keyword argument may be a :class:`Reference`: a ground-truth
computation ``func(*args, **kwargs)`` named by a content key (a digest of the
function's qualified name and its arguments). The executor computes it before the
point and passes its value in its place. Points that name the same reference share
one computation: in-process it is kept until the last point needing it has run;
on dask it is one task with the key ``statespace-ref-<digest>``, so every client of
the cluster that asks for it gets the same task, computed once.

Failures
--------
A point whose experiment raises is tried again once (dask: ``retries=1``); a lost
worker's points are rescheduled by the scheduler (a ``LocalCluster`` allows one
lost worker per point, ``distributed.scheduler.allowed-failures = 1``). A point
that fails twice is recorded as failed, with a failed row carrying its
traceback: never dropped.

Examples
--------
>>> from statespace.verification.executor import Reference
>>> r = Reference(pow, (2, 10))
>>> r.compute(), r.key == Reference(pow, (2, 10)).key, r.key == Reference(pow, (2, 11)).key
(1024, True, False)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Reference", "Point", "ExecutorError", "make_points", "open_executor",
           "run_points", "row_to_json", "row_from_json", "INSTALL_HINT", "ALLOWED_FAILURES"]

#: How to get the optional dependency.
INSTALL_HINT = "pip install 'statespace[distributed]'"
#: Lost workers a point survives on a LocalCluster before it is reported failed.
ALLOWED_FAILURES = 1


class ExecutorError(RuntimeError):
    """The executor cannot be set up (dask missing, scheduler unreachable)."""


# --------------------------------------------------------------------------- keys


def _canonical(x):
    """A JSON-able form of ``x`` that identifies its content."""
    if isinstance(x, Reference):
        return {"reference": x.key}
    if isinstance(x, float):
        return {"float": x.hex()} if math.isfinite(x) else {"float": repr(x)}
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, (list, tuple)):
        return [_canonical(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _canonical(v) for k, v in sorted(x.items(), key=lambda kv: str(kv[0]))}
    if callable(x):
        return {"callable": _qualname(x)}
    tobytes = getattr(x, "tobytes", None)
    if tobytes is not None:  # NumPy arrays and scalars
        return {"array": str(getattr(x, "dtype", "")), "shape": list(getattr(x, "shape", ())),
                "sha256": hashlib.sha256(tobytes()).hexdigest()}
    return {"repr": repr(x)}


def _qualname(fn):
    inner = getattr(fn, "func", None)
    if inner is not None and hasattr(fn, "keywords"):  # functools.partial
        return [_qualname(inner), _canonical(list(fn.args)), _canonical(fn.keywords)]
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _digest(*parts):
    text = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True, eq=False)
class Reference:
    """A ground-truth computation ``func(*args, **kwargs)`` named by its content.

    Parameters
    ----------
    func : callable
        A module-level function (it must pickle by reference for dask).
    args : tuple, optional
    kwargs : dict, optional

    Attributes
    ----------
    key : str
        Digest of ``func``'s qualified name and the arguments' values: two
        references with equal keys compute the same thing.
    """

    func: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return _digest(_qualname(self.func), list(self.args), self.kwargs)

    def compute(self):
        """Run the computation."""
        return self.func(*self.args, **self.kwargs)


@dataclass(frozen=True, eq=False)
class Point:
    """One unit of work: an experiment with its parameters.

    Attributes
    ----------
    key : str
        Content key (experiment name, function and parameters): the store's key.
    name : str
        Display name (:func:`statespace.verification.report.experiment_name`).
    experiment : str
        The store file it goes to (the experiment's function name).
    func : callable
        What runs: ``func(**kwargs)`` with every :class:`Reference` resolved.
    kwargs : dict
    """

    key: str
    name: str
    experiment: str
    func: Callable
    kwargs: dict

    @property
    def references(self):
        """``{argument: Reference}`` of this point."""
        return {k: v for k, v in self.kwargs.items() if isinstance(v, Reference)}


def make_points(experiments):
    """The points of a list of experiments (their order kept).

    Parameters
    ----------
    experiments : iterable of callable
        :class:`~statespace.verification.report.Experiment` objects (``func`` and
        ``kwargs``, whose values may be :class:`Reference`) or callables taking no
        arguments.

    Returns
    -------
    points : list of Point
        Keys are unique (a repeated experiment gets a numbered key).

    Examples
    --------
    >>> from statespace.verification.executor import make_points
    >>> from statespace.verification.report import Experiment
    >>> ps = make_points([Experiment("a", pow, {"base": 2, "exp": 3})])
    >>> ps[0].name, ps[0].experiment, ps[0].func(**ps[0].kwargs)
    ('a', 'pow', 8)
    """
    from statespace.verification.report import experiment_name

    points, seen = [], Counter()
    for fn in experiments:
        name = experiment_name(fn)
        func, kwargs = getattr(fn, "func", None), getattr(fn, "kwargs", None)
        if not (callable(func) and isinstance(kwargs, dict)):
            func, kwargs = fn, {}
        key = _digest(name, _qualname(func), kwargs)
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        stem = getattr(func, "__name__", None) or name
        points.append(Point(key, name, str(stem), func, dict(kwargs)))
    return points


# --------------------------------------------------------------------------- one point


def _normalise(name, out):
    """Experiment output -> (rows, plots); raises TypeError for anything else."""
    from statespace.verification.report import ExperimentResult, Row

    if isinstance(out, ExperimentResult):
        rows, plots = out.rows, out.plots
    elif isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], (list, tuple)) \
            and not isinstance(out[0], Row):
        rows, plots = out
    else:
        rows, plots = out, []
    rows = list(rows) if isinstance(rows, (list, tuple)) else rows
    if not isinstance(rows, list) or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"experiment {name} must return a list of Row, got {type(out).__name__}")
    return rows, [dict(p) for p in (plots or [])]


def _failure_row(name, message, note):
    from statespace.verification.report import Row

    return Row(name, message, {}, "", math.nan, 0.0, passed=False, note=note)


def attempt(name, func, kwargs):
    """Run one point once; its record without key (raises what the experiment raises).

    Runs on the workers. Returns ``{"rows": [...], "plots": [...], "elapsed": s}``
    with the rows as :meth:`~statespace.verification.report.Row.to_json` dicts.
    """
    t0 = time.perf_counter()
    rows, plots = _normalise(name, func(**kwargs))
    owner = rows[0].experiment if rows else name
    for p in plots:
        p.setdefault("experiment", owner)
    if not rows:
        rows = [_failure_row(name, "experiment produced no rows",
                             "an experiment that checks nothing counts as a failure")]
    return {"rows": [row_to_json(r) for r in rows], "plots": plots,
            "elapsed": time.perf_counter() - t0}


def row_to_json(row):
    """A row as a store line's dict: :meth:`Row.to_json` and whether it was forced to fail.

    Parameters
    ----------
    row : statespace.verification.report.Row

    Returns
    -------
    d : dict
        Read back by :func:`row_from_json`.

    Examples
    --------
    >>> from statespace.verification.executor import row_from_json, row_to_json
    >>> from statespace.verification.report import Row
    >>> r = Row("demo", "x", {}, "float64", 0.0, 1.0, passed=False)
    >>> row_to_json(r)["forced"], row_from_json(row_to_json(r)).passed
    (True, False)
    """
    d = row.to_json()
    d["forced"] = bool(getattr(row, "_forced", False))
    return d


def row_from_json(d):
    """The :class:`~statespace.verification.report.Row` of :func:`row_to_json`.

    Its pass/fail is recomputed from the error and the bounds, unless it was
    forced to fail (then ``--lenient`` cannot turn it into a pass either).

    Parameters
    ----------
    d : dict

    Returns
    -------
    row : statespace.verification.report.Row

    Examples
    --------
    >>> from statespace.verification.executor import row_from_json, row_to_json
    >>> from statespace.verification.report import Row
    >>> r = Row("demo", "x", {"N": 4}, "float64", 1e-16, 1e-15)
    >>> row_from_json(row_to_json(r)) == r
    True
    """
    from statespace.verification.report import Row

    d = dict(d)
    d["passed"] = False if d.pop("forced", False) else None
    return Row.from_json(d)


def _record(point, result, attempts):
    return {"key": point.key, "name": point.name, "experiment": point.experiment,
            "status": "ok", "attempts": attempts, **result}


def _failed_record(point, exc, tb, attempts, elapsed=0.0):
    message = f"experiment raised {type(exc).__name__}: {exc}"
    row = _failure_row(point.name, message, f"failed {attempts} times; last traceback:\n{tb}")
    return {"key": point.key, "name": point.name, "experiment": point.experiment,
            "status": "failed", "attempts": attempts, "elapsed": elapsed,
            "rows": [row_to_json(row)], "plots": [], "error": tb}


# --------------------------------------------------------------------------- executors


class InProcess:
    """Runs the points one after the other in this process."""

    label = "in-process"
    dashboard = None

    def run(self, points, on_batch):
        uses = Counter(r.key for p in points for r in p.references.values())
        cache = {}
        for p in points:
            t0 = time.perf_counter()
            for n in (1, 2):
                try:
                    kwargs = dict(p.kwargs)
                    for arg, ref in p.references.items():
                        if ref.key not in cache:
                            cache[ref.key] = ref.compute()
                        kwargs[arg] = cache[ref.key]
                    rec = _record(p, attempt(p.name, p.func, kwargs), n)
                    break
                except Exception as exc:  # noqa: BLE001 - a point that fails twice is a row
                    rec = _failed_record(p, exc, traceback.format_exc(limit=12), n,
                                         time.perf_counter() - t0)
            for ref in p.references.values():
                uses[ref.key] -= 1
                if uses[ref.key] <= 0:
                    cache.pop(ref.key, None)
            on_batch([rec])

    def close(self):
        pass


def _compute_reference(ref):
    return ref.compute()


class Dask:
    """Runs the points as dask tasks through a ``distributed.Client``."""

    def __init__(self, client, label, cluster=None):
        self.client, self.label, self.cluster = client, label, cluster
        self.dashboard = getattr(client, "dashboard_link", None)

    def run(self, points, on_batch):
        from distributed import as_completed

        client = self.client
        refs = {}
        futures = {}
        for p in points:
            kwargs = dict(p.kwargs)
            for arg, ref in p.references.items():
                if ref.key not in refs:
                    refs[ref.key] = client.submit(_compute_reference, ref, pure=False,
                                                  key=f"statespace-ref-{ref.key}", retries=1)
                kwargs[arg] = refs[ref.key]
            fut = client.submit(attempt, p.name, p.func, kwargs, pure=False,
                                key=f"statespace-point-{p.key}", retries=1)
            futures[fut.key] = (fut, p)
        refs = None  # held by the point tasks that need them, released with them
        try:
            for batch in as_completed([f for f, _ in futures.values()]).batches():
                records = []
                for fut in batch:
                    _, p = futures.pop(fut.key)
                    if fut.status == "finished":
                        records.append(_record(p, fut.result(), _attempts(fut)))
                    else:  # erred (twice), or cancelled by the cluster
                        try:
                            exc = fut.exception()
                            tb = "".join(traceback.format_exception(
                                type(exc), exc, fut.traceback(), limit=12))
                        except Exception as err:  # noqa: BLE001 - e.g. CancelledError
                            exc, tb = err, f"{type(err).__name__}: {err}"
                        records.append(_failed_record(p, exc, tb, 2))
                    fut.release()
                on_batch(records)
        finally:
            for fut, _ in futures.values():
                fut.cancel()

    def close(self):
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=10)


def _attempts(fut):
    return 1  # dask does not report how many tries a finished task took


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(f"dask.distributed is needed for --workers > 1 and --scheduler "
                            f"({exc}); install it with: {INSTALL_HINT}") from None
    return distributed


def _blas_env(n):
    """BLAS threads of the workers: the in-process run's setting (``--blas-threads``), so
    both compute the same rows (LAPACK's results depend on its thread count)."""
    return {v: str(n) for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")}


@contextlib.contextmanager
def open_executor(workers=1, scheduler=None, blas_threads=1):
    """The executor of a run, closed on exit (module docstring).

    Parameters
    ----------
    workers : int, optional
        1 (default): in-process; more: a ``LocalCluster`` of that many processes.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://HOST:8786``); ``workers`` is
        then the cluster's business.
    blas_threads : int, optional
        BLAS threads of each ``LocalCluster`` worker.

    Yields
    ------
    executor
        With ``label`` (what it is), ``dashboard`` (the dask dashboard's address
        or None) and ``run(points, on_batch)``.

    Raises
    ------
    ExecutorError
        dask.distributed is not installed, or the scheduler cannot be reached.

    Examples
    --------
    >>> from statespace.verification.executor import open_executor
    >>> with open_executor() as ex:
    ...     ex.label
    'in-process'
    """
    if scheduler is None and workers <= 1:
        ex = InProcess()
    else:
        distributed = _distributed()
        import dask

        if scheduler is not None:
            try:
                client = distributed.Client(scheduler, timeout="20s")
            except OSError as exc:
                raise ExecutorError(f"cannot reach the dask scheduler {scheduler}: "
                                    f"{exc}") from None
            ex = Dask(client, f"dask scheduler {scheduler}")
        else:
            import logging

            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
                cluster = distributed.LocalCluster(
                    n_workers=int(workers), threads_per_worker=1, processes=True,
                    dashboard_address=":0", env=_blas_env(blas_threads),
                    silence_logs=logging.ERROR)
                client = distributed.Client(cluster)
            ex = Dask(client, f"dask LocalCluster({int(workers)} processes)", cluster)
    try:
        yield ex
    finally:
        ex.close()


# --------------------------------------------------------------------------- driver


class _Progress:
    """A tqdm bar over completed points (a line per point without tqdm)."""

    def __init__(self, total, done, enabled):
        self.total, self.done, self.bar, self.enabled = total, done, None, enabled
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, initial=done, desc="verify", unit="pt",
                                file=sys.stderr, smoothing=0.05)
            except ImportError:
                self.bar = None

    def update(self, rec):
        self.done += 1
        failed = rec["status"] != "ok" or not all(r.get("passed") for r in rec["rows"])
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"{rec['name'][:40]}{' FAIL' if failed else ''}",
                                     refresh=False)
            self.bar.update(1)
        else:
            print(f"[{self.done}/{self.total}] {rec['name']} {'FAIL' if failed else 'ok'}",
                  file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_points(points, executor, store, *, progress=True):
    """Run the points the store lacks; every point's record, in the points' order.

    Parameters
    ----------
    points : list of Point
    executor : object
        From :func:`open_executor`.
    store : statespace.verification.store.ResultStore
        Started (:meth:`~statespace.verification.store.ResultStore.start`); each
        completed batch is appended to it before the next is awaited.
    progress : bool, optional
        A progress bar over completed points, with its ETA, on stderr.

    Returns
    -------
    records : list of dict
        The store's record of each point (module docstring of
        :mod:`statespace.verification.store`).
    computed : int
        Points run now (the others came from the store).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.executor import make_points, open_executor, run_points
    >>> from statespace.verification.report import Experiment, Row
    >>> from statespace.verification.store import ResultStore
    >>> def check(x):
    ...     return [Row("demo", "x", {"x": x}, "float64", 0.0, 1.0)]
    >>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / ".rep.store")
    >>> store.start({}, resume=False)
    0
    >>> with open_executor() as ex:
    ...     records, computed = run_points(make_points([Experiment("a", check, {"x": 1})]),
    ...                                    ex, store, progress=False)
    >>> records[0]["status"], computed, len(store.read())
    ('ok', 1, 1)
    """
    done = store.read()
    keys = {p.key for p in points}
    have = {k: r for k, r in done.items() if k in keys}
    pending = [p for p in points if p.key not in have]
    bar = _Progress(len(points), len(have), progress)

    def on_batch(records):
        store.append(records)
        for rec in records:
            have[rec["key"]] = rec
            bar.update(rec)

    try:
        if pending:
            executor.run(pending, on_batch)
    finally:
        bar.close()
    return [have[p.key] for p in points], len(pending)
