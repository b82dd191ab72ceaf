"""Run the verification suite and write its report: the work of ``statespace verify``.

:func:`run` takes the experiments of a sweep (the suite's quick or full mode,
:func:`statespace.verification.suite.experiments`, or the large preset,
:mod:`statespace.verification.large`), runs each point in-process, on a dask
``LocalCluster`` or on a running dask cluster
(:mod:`statespace.verification.executor`), appending every completed point to the
results store (:mod:`statespace.verification.store`), builds the cross-experiment
plots and summary (:func:`statespace.verification.suite.postprocess`) from the
store's rows and writes ``report.md``, ``report.json`` and the PNG plots once,
complete (:func:`statespace.verification.report.write_report`). It returns the exit
status of the command: 0 when every row passed, 1 when one failed, 2 when the run
could not be made (see :func:`run`).

Before any experiment runs, the output folder is validated
(:func:`~statespace.verification.report.check_out_dir`) and locked
(:class:`~statespace.verification.report.ReportLock`), and the cached reference data
is checked against its manifest
(:func:`~statespace.verification.make_data.check_data`). The report is written
into a temporary sibling folder and swapped into place at the end, so an
interrupted run leaves the previous report as it was; its completed points stay
in the store ``.NAME.store`` beside the folder until a run with ``resume=True``
(``--resume``) finishes them, or a run without it starts over. The store is
removed once the report is in place.

Examples
--------
>>> from statespace.verification import runner
>>> runner.BACKENDS
('numpy', 'torch', 'array_api_strict', 'jax')
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from statespace._array import backend_namespace

__all__ = ["BACKENDS", "DTYPES", "SWEEPS", "SOURCE", "EXIT_PASSED", "EXIT_FAILED",
           "EXIT_NOT_RUN", "run"]

#: Exit status: every row passed.
EXIT_PASSED = 0
#: Exit status: at least one row failed (or none was produced).
EXIT_FAILED = 1
#: Exit status: the run could not be made (usage, reference data, lock, I/O).
EXIT_NOT_RUN = 2

#: Backends ``statespace verify`` runs the suite on (names of
#: :data:`statespace._array.BACKENDS`).
BACKENDS = ("numpy", "torch", "array_api_strict", "jax")

#: Working precisions the suite verifies.
DTYPES = ("float32", "float64")

#: Sweeps of ``statespace verify --sweep``: the suite's quick and full modes, and the
#: large preset (:mod:`statespace.verification.large`) with its reduced version.
SWEEPS = ("quick", "full", "large", "large-reduced")

#: Where the experiments come from (recorded as ``experiments_from`` in the report).
SOURCE = "statespace.verification.suite"


def _load_sweep(sweep, dtypes, backend):
    """The experiments of a sweep and their source name."""
    if sweep in ("quick", "full"):
        return _load_experiments(sweep == "quick", dtypes, backend)
    from statespace.verification import large

    return large.experiments(sweep, dtypes=dtypes), large.SOURCE


def _load_experiments(quick, dtypes, backend):
    """The suite's experiments and their source name."""
    from statespace.verification import suite

    return list(suite.experiments(quick=quick, dtypes=dtypes, backend=backend)), SOURCE


def _postprocess(source):
    """The suite's cross-experiment summary builder for experiments from the suite."""
    if source != SOURCE:
        return None
    from statespace.verification import suite

    return suite.postprocess


@contextlib.contextmanager
def _blas_limit(n):
    """Limit BLAS threads to ``n`` in this process, the libraries it loads later and the
    workers it starts.

    The usual environment variables hold for every BLAS library loaded from now on
    (SciPy's and torch's are loaded lazily) and for worker processes; threadpoolctl,
    when installed, limits the ones already loaded (NumPy's). The previous
    environment is restored on exit. The LocalCluster workers get the same setting
    (:func:`statespace.verification.executor.open_executor`), so that an in-process
    run and a cluster run compute the same rows.
    """
    old = {v: os.environ.get(v) for v in _BLAS_VARS}
    os.environ.update({v: str(n) for v in _BLAS_VARS})
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            limits = contextlib.nullcontext()
        else:
            limits = threadpool_limits(limits=n, user_api="blas")
        with limits:
            yield
    finally:
        for v, value in old.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value


_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def run(*, quick=True, out="report", dtypes=DTYPES, backend="numpy", workers=1,
        blas_threads=1, progress=True, only=None, lenient=False, sweep=None, scheduler=None,
        resume=False):
    """Run the verification suite and write the report to ``out``.

    Parameters
    ----------
    quick : bool, optional
        Small sizes (default) or, when false, every size.
    out : str or path, optional
        Output folder of ``report.md``, ``report.json`` and the plots.
    dtypes : sequence of str, optional
        Working precisions, a subset of :data:`DTYPES` (default both).
    backend : str, optional
        Array namespace statespace runs on, one of :data:`BACKENDS`.
    workers : int, optional
        1: in-process; more: a dask ``LocalCluster`` of that many worker processes
        (:mod:`statespace.verification.executor`; needs ``statespace[distributed]``).
    blas_threads : int, optional
        BLAS threads per process.
    progress : bool, optional
        Show a progress bar on stderr.
    only : sequence of str, optional
        Run only the experiments of these names (default: all).
    lenient : bool, optional
        Rows above their expected (calibrated) bound but within their rigorous
        bound pass with a warning instead of failing.
    sweep : str, optional
        One of :data:`SWEEPS`; default ``"quick"`` or ``"full"`` following ``quick``.
        The ``large`` sweeps (:mod:`statespace.verification.large`) run on NumPy and
        torch whatever ``backend`` says.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://HOST:8786``) to run the points on.
    resume : bool, optional
        Continue the interrupted run of the same sweep from its results store
        (:mod:`statespace.verification.store`) instead of starting over.

    Returns
    -------
    status : int
        :data:`EXIT_PASSED` (0) when every row passed, :data:`EXIT_FAILED` (1) when a
        row failed (or none was produced), :data:`EXIT_NOT_RUN` (2) when the run
        could not be made: ``out`` is not a usable folder, another run holds its
        lock, the cached reference data does not match its manifest, ``backend``
        is not installed, an experiment of ``only`` does not exist, dask is missing
        or its scheduler unreachable, ``resume`` finds the store of another sweep,
        or the report could not be written. A one-line summary and the first failures go to
        stdout, the reason for a 2 to stderr. A missing reference cache is not an
        error: every reference is then computed live, and the report says so.

    Raises
    ------
    ValueError
        If ``backend`` or a dtype is not one of the accepted names.

    Examples
    --------
    >>> import tempfile
    >>> from statespace.verification.runner import run
    >>> run(backend="mxnet", out=tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    ValueError: backend must be one of numpy, torch, array_api_strict, jax; got 'mxnet'
    """
    if sweep is None:
        sweep = "quick" if quick else "full"
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {', '.join(SWEEPS)}; got {sweep!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    dtypes = tuple(dtypes)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}; got {dtypes!r}")
    from statespace.verification import make_data, report
    from statespace.verification.executor import ExecutorError
    from statespace.verification.store import StoreError

    try:
        out = report.check_out_dir(out)
    except report.ReportError as exc:
        return _not_run(f"--out: {exc}")
    try:
        with _blas_limit(blas_threads), report.ReportLock(out):
            report.recover_out_dir(out)
            return _run(sweep, out, dtypes, backend, workers, blas_threads, progress, only,
                        lenient, scheduler, resume)
    except (report.ReportError, make_data.ReferenceDataError, StoreError,
            ExecutorError) as exc:
        return _not_run(str(exc))
    except OSError as exc:
        return _not_run(f"{type(exc).__name__}: {exc}")


def _enable_jax_x64():
    """JAX with 64-bit types for this process and its workers.

    The float64 rows need them (JAX truncates float64 to float32 by default). The
    environment variable reaches worker processes, which import JAX afresh; the
    configuration update covers a JAX already imported here.
    """
    os.environ["JAX_ENABLE_X64"] = "1"
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)


def _not_run(message):
    print(f"statespace verify: could not run: {message}", file=sys.stderr)
    return EXIT_NOT_RUN


def _reference_data_note():
    """Check the cached reference data; a line for the report (raises when tampered)."""
    from statespace.verification import make_data

    folder = make_data.resolve_data_dir()
    try:
        digests = make_data.check_data(folder)
    except FileNotFoundError:
        note = (f"NOT FOUND in {folder}: every reference of this run was computed live "
                f"(regenerate the cache with `{make_data.REGENERATE}`)")
        print(f"statespace verify: WARNING: reference data {note}", file=sys.stderr)
        return note
    return (f"cached in {folder}, verified against {make_data.MANIFEST}: "
            + ", ".join(f"{n} sha256:{d[:12]}" for n, d in sorted(digests.items())))


def _run(sweep, out, dtypes, backend, workers, blas_threads, progress, only, lenient=False,
         scheduler=None, resume=False):
    from statespace.verification.executor import (
        make_points,
        open_executor,
        row_from_json,
        run_points,
    )
    from statespace.verification.report import demote_expected, write_report
    from statespace.verification.store import ResultStore, store_path

    if backend == "jax":
        _enable_jax_x64()
    try:
        backend_namespace(backend)
    except ImportError as exc:
        return _not_run(f"backend {backend!r} is not available: {exc}")
    ref_note = _reference_data_note()
    experiments, source = _load_sweep(sweep, dtypes, backend)
    if only is not None:
        names = [getattr(e, "name", None) for e in experiments]
        unknown = sorted(set(only) - set(names))
        if unknown:
            return _not_run(f"--only: no experiment named {', '.join(unknown)}; known: "
                            f"{', '.join(n for n in names if n)}")
        experiments = [e for e, n in zip(experiments, names, strict=True) if n in set(only)]
    points = make_points(experiments)
    store = ResultStore(store_path(out))
    config = {"sweep": sweep, "source": source, "backend": backend, "dtypes": list(dtypes),
              "only": None if only is None else list(only),
              "points": _digest([p.key for p in points])}
    backends = "numpy, torch" if source == "statespace.verification.large" else backend
    print(f"statespace verify: {len(experiments)} experiments ({len(points)} points) from "
          f"{source}, {sweep} sweep, dtypes {', '.join(dtypes)}, backend {backends}",
          file=sys.stderr)
    t0 = time.perf_counter()
    with open_executor(workers=workers, scheduler=scheduler,
                       blas_threads=blas_threads) as executor:
        # the store is touched only once the executor is up (an unreachable
        # scheduler leaves nothing behind)
        if not resume and store.exists():
            print(f"statespace verify: discarding the results store {store.folder} of an "
                  "earlier run (--resume continues it)", file=sys.stderr)
        kept = store.start(config, resume=resume)
        if resume:
            print(f"statespace verify: resuming: {kept} points done", file=sys.stderr)
        if executor.dashboard:
            print(f"statespace verify: {executor.label}, dashboard at {executor.dashboard}",
                  file=sys.stderr)
        records, computed = run_points(points, executor, store, progress=progress)
        label = executor.label
    elapsed = time.perf_counter() - t0
    rows, plots, timings = [], [], {}
    for rec in records:
        rows.extend(row_from_json(r) for r in rec["rows"])
        plots.extend(rec["plots"])
        timings[rec["name"]] = timings.get(rec["name"], 0.0) + float(rec["elapsed"])
    warned = demote_expected(rows) if lenient else 0
    summary = None
    post = _postprocess(source)
    if post is not None:
        try:
            extra_plots, summary = post(rows)
            plots += list(extra_plots)
        except Exception as exc:  # noqa: BLE001 - a broken summary must not lose the report
            summary = f"## Summary\n\nThe summary could not be built: {type(exc).__name__}: {exc}"
    meta = {
        "mode": sweep,
        "backend": backends,
        "dtypes": list(dtypes),
        "workers": workers,
        "executor": label,
        "blas_threads": blas_threads,
        "lenient": bool(lenient),
        "experiments_from": source,
        "reference_data": ref_note,
        **({"only": list(only)} if only is not None else {}),
        "points": len(points),
        "points_from_store": len(points) - computed,
        "points_failed": sum(rec["status"] != "ok" for rec in records),
        "elapsed_s": round(elapsed, 3),
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    written = write_report(rows, out, plots=plots, meta=meta, summary=summary)
    store.remove()  # the report holds every row now
    n = len(rows)
    failed = [r for r in rows if not r.passed]
    print(f"{n - len(failed)}/{n} rows passed in {elapsed:.1f} s; "
          f"report: {written['markdown']}")
    if warned:
        print(f"WARNING: {warned} rows above their expected bound passed (--lenient)")
    for r in failed[:10]:
        print(f"  FAIL {r.experiment}: {r.quantity} [{r.dtype}] error={r.error:.3e} "
              f"tolerance={r.tolerance:.3e} expected={r.expected:.3e}")
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the report)")
    return EXIT_PASSED if written["passed"] else EXIT_FAILED


def _digest(keys):
    import hashlib

    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
