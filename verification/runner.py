"""Run the verification suite and write its report: the work of ``statespace verify``.

:func:`run` takes the experiments of :func:`statespace.verification.suite.experiments`,
runs them (:func:`statespace.verification.report.run_suite`), builds the
cross-experiment plots and summary (:func:`statespace.verification.suite.postprocess`)
and writes ``report.md``, ``report.json`` and the PNG plots once, complete
(:func:`statespace.verification.report.write_report`). It returns the exit status
of the command: 0 when every row passed, 1 when one failed, 2 when the run could
not be made (see :func:`run`).

Before any experiment runs, the output folder is validated
(:func:`~statespace.verification.report.check_out_dir`) and locked
(:class:`~statespace.verification.report.ReportLock`), and the cached reference data
is checked against its manifest
(:func:`~statespace.verification.make_data.check_data`). The report is written
into a temporary sibling folder and swapped into place at the end, so an
interrupted run leaves the previous report as it was.

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

from statespace._array import backend_namespace

__all__ = ["BACKENDS", "DTYPES", "SOURCE", "EXIT_PASSED", "EXIT_FAILED", "EXIT_NOT_RUN", "run"]

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

#: Where the experiments come from (recorded as ``experiments_from`` in the report).
SOURCE = "statespace.verification.suite"


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


def _blas_limit(n):
    """Limit BLAS threads to ``n`` for this process and the workers it starts.

    Before NumPy is imported the usual environment variables do it (and are
    inherited by worker processes); afterwards threadpoolctl, when installed.
    Returns a context manager that restores the previous setting where it can.
    """
    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(n))
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def run(*, quick=True, out="report", dtypes=DTYPES, backend="numpy", workers=1,
        blas_threads=1, progress=True, only=None, lenient=False):
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
        Worker processes (1: inline).
    blas_threads : int, optional
        BLAS threads per process.
    progress : bool, optional
        Show a progress bar on stderr.
    only : sequence of str, optional
        Run only the experiments of these names (default: all).
    lenient : bool, optional
        Rows above their expected (calibrated) bound but within their rigorous
        bound pass with a warning instead of failing.

    Returns
    -------
    status : int
        :data:`EXIT_PASSED` (0) when every row passed, :data:`EXIT_FAILED` (1) when a
        row failed (or none was produced), :data:`EXIT_NOT_RUN` (2) when the run
        could not be made: ``out`` is not a usable folder, another run holds its
        lock, the cached reference data does not match its manifest, ``backend``
        is not installed, an experiment of ``only`` does not exist, or the report
        could not be written. A one-line summary and the first failures go to
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
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    dtypes = tuple(dtypes)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"dtypes must be a non-empty subset of {DTYPES}; got {dtypes!r}")
    from statespace.verification import make_data, report

    try:
        out = report.check_out_dir(out)
    except report.ReportError as exc:
        return _not_run(f"--out: {exc}")
    try:
        with _blas_limit(blas_threads), report.ReportLock(out):
            report.recover_out_dir(out)
            return _run(quick, out, dtypes, backend, workers, blas_threads, progress, only,
                        lenient)
    except (report.ReportError, make_data.ReferenceDataError) as exc:
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


def _run(quick, out, dtypes, backend, workers, blas_threads, progress, only, lenient=False):
    from statespace.verification.report import demote_expected, run_suite, write_report

    if backend == "jax":
        _enable_jax_x64()
    try:
        backend_namespace(backend)
    except ImportError as exc:
        return _not_run(f"backend {backend!r} is not available: {exc}")
    ref_note = _reference_data_note()
    experiments, source = _load_experiments(quick, dtypes, backend)
    if only is not None:
        names = [getattr(e, "name", None) for e in experiments]
        unknown = sorted(set(only) - set(names))
        if unknown:
            return _not_run(f"--only: no experiment named {', '.join(unknown)}; known: "
                            f"{', '.join(n for n in names if n)}")
        experiments = [e for e, n in zip(experiments, names, strict=True) if n in set(only)]
    print(f"statespace verify: {len(experiments)} experiments from {source}, "
          f"{'quick' if quick else 'full'} mode, dtypes {', '.join(dtypes)}, "
          f"backend {backend}", file=sys.stderr)
    result = run_suite(experiments, workers=workers, progress=progress)
    warned = demote_expected(result.rows) if lenient else 0
    plots, summary = list(result.plots), None
    post = _postprocess(source)
    if post is not None:
        try:
            extra_plots, summary = post(result.rows)
            plots += list(extra_plots)
        except Exception as exc:  # noqa: BLE001 - a broken summary must not lose the report
            summary = f"## Summary\n\nThe summary could not be built: {type(exc).__name__}: {exc}"
    meta = {
        "mode": "quick" if quick else "full",
        "backend": backend,
        "dtypes": list(dtypes),
        "workers": workers,
        "blas_threads": blas_threads,
        "lenient": bool(lenient),
        "experiments_from": source,
        "reference_data": ref_note,
        **({"only": list(only)} if only is not None else {}),
        "elapsed_s": round(result.elapsed, 3),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    written = write_report(result.rows, out, plots=plots, meta=meta, summary=summary)
    n = len(result.rows)
    failed = [r for r in result.rows if not r.passed]
    print(f"{n - len(failed)}/{n} rows passed in {result.elapsed:.1f} s; "
          f"report: {written['markdown']}")
    if warned:
        print(f"WARNING: {warned} rows above their expected bound passed (--lenient)")
    for r in failed[:10]:
        print(f"  FAIL {r.experiment}: {r.quantity} [{r.dtype}] error={r.error:.3e} "
              f"tolerance={r.tolerance:.3e} expected={r.expected:.3e}")
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the report)")
    return EXIT_PASSED if written["passed"] else EXIT_FAILED
