"""The ``statespace`` command line: ``verify``, ``bench`` and ``info``.

``statespace verify`` runs the verification experiments and writes ``report.md``,
``report.json`` and PNG plots to ``--out`` (default ``report``); it exits 0 only
when every row passes (1 otherwise, 2 for usage errors). The experiments come
from ``verification.suite.experiments(quick, dtypes, backend)`` (without that
module a small built-in job runs instead: the LegS kernel of the
bilinear-discretized system by explicit powers, against the mpmath reference);
``verification.suite.postprocess(rows)`` then adds the cross-experiment plots and
a summary section, inserted into ``report.md`` after the failures.

``statespace bench`` runs :func:`benchmarks.compare.main` (its options are listed by
``statespace bench --help``): speed and memory of the kernels against baselines measured
in the same run, written as ``report.md``, ``report.json`` and plots.

``statespace info`` prints the versions of statespace and its dependencies and the
CPU count.

Examples
--------
>>> from statespace.cli import build_parser
>>> args = build_parser().parse_args(["verify", "--full", "--dtype", "float64"])
>>> args.quick, args.dtype, args.out
(False, 'float64', 'report')
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys

__all__ = ["main", "build_parser", "interim_experiments"]

BACKENDS = ("numpy", "torch", "array_api_strict")
DTYPE_CHOICES = ("float32", "float64", "both")

# Versions shown by `statespace info` (distribution names).
_INFO_DISTS = (
    "numpy",
    "scipy",
    "mpmath",
    "array-api-compat",
    "array-api-strict",
    "torch",
    "matplotlib",
    "tqdm",
    "python-flint",
)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``statespace`` command.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from statespace.cli import build_parser
    >>> build_parser().parse_args(["verify"]).backend
    'numpy'
    """
    parser = argparse.ArgumentParser(
        prog="statespace",
        description="Structured state space models: verification, benchmarks, environment info.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    v = sub.add_parser(
        "verify",
        help="run the verification suite and write report.md/report.json/plots",
        description=(
            "Run the verification experiments against mpmath ground truth and write "
            "report.md, report.json and PNG plots. Exit status 0 only if every row passes."
        ),
    )
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small sizes, under a minute on 2 cores (default)")
    mode.add_argument("--full", dest="quick", action="store_false",
                      help="all sizes (N to 256, L to 65536; several minutes)")
    v.add_argument("--out", default="report", metavar="DIR",
                   help="output folder (default: report)")
    v.add_argument("--dtype", choices=DTYPE_CHOICES, default="both",
                   help="working precision(s) to verify (default: both)")
    v.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="array namespace to run statespace on (default: numpy)")
    v.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                   help="worker processes (default: 1, inline)")
    v.add_argument("--blas-threads", type=_positive_int, default=1, metavar="N",
                   help="BLAS threads per process (default: 1; the matrices are small "
                   "and a multithreaded BLAS only oversubscribes the cores, badly so on "
                   "a loaded machine)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(func=_cmd_verify)

    b = sub.add_parser(
        "bench",
        help="speed/memory comparison against baselines in one run (Markdown, JSON, plots)",
        add_help=False,
    )
    b.set_defaults(func=_cmd_bench)

    i = sub.add_parser("info", help="versions of statespace and its dependencies, CPU count")
    i.set_defaults(func=_cmd_info)
    return parser


def _positive_int(s):
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return n


def main(argv=None) -> int:
    """Entry point of the ``statespace`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 on success (``verify``: every row passed), 1 when a verification row
        failed, 2 for usage errors.

    Examples
    --------
    >>> from statespace.cli import main
    >>> main([])  # doctest: +ELLIPSIS
    usage: statespace ...
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:  # its options are benchmarks.compare's own
        return _cmd_bench(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args))


# --------------------------------------------------------------------------- bench
def _cmd_bench(argv) -> int:
    """``statespace bench [options]``: :func:`benchmarks.compare.main` on ``argv``."""
    try:
        from benchmarks import compare
    except ModuleNotFoundError as exc:
        if exc.name not in ("benchmarks", "benchmarks.compare"):
            raise
        print("statespace bench: the 'benchmarks' package is not importable; install "
              "statespace from its source tree (pip install -e .)", file=sys.stderr)
        return 2
    return int(compare.main(argv if isinstance(argv, list) else []))


# --------------------------------------------------------------------------- info


def _dist_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _cmd_info(args) -> int:
    from . import __version__

    print(f"statespace        {__version__}")
    print(f"python            {platform.python_version()} ({sys.executable})")
    for name in _INFO_DISTS:
        v = _dist_version(name)
        print(f"{name:<17} {v if v else 'not installed'}")
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    extra = f" ({affinity} usable)" if affinity is not None else ""
    print(f"CPU count         {os.cpu_count()}{extra}")
    print(f"platform          {platform.platform()}")
    return 0


# --------------------------------------------------------------------------- verify


def _backend_namespace(name):
    """Array namespace for a backend name (raises ImportError when missing)."""
    if name == "numpy":
        import array_api_compat.numpy as xp
    elif name == "torch":
        import array_api_compat.torch as xp
    elif name == "array_api_strict":
        import array_api_strict as xp
    else:
        raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    return xp


def _postprocess(source):
    """``verification.suite.postprocess`` when the experiments came from the suite."""
    if source != "verification.suite":
        return None
    import importlib

    return getattr(importlib.import_module("verification.suite"), "postprocess", None)


def _insert_summary(md_path, summary):
    """Insert the suite's summary section after the failures, before the experiments."""
    text = md_path.read_text()
    i = text.find("## Failures")
    j = text.find("\n## ", i + 1) if i >= 0 else -1
    if j < 0:
        text = text.rstrip("\n") + "\n\n" + summary + "\n"
    else:
        text = text[: j + 1] + summary.rstrip("\n") + "\n\n" + text[j + 1:]
    md_path.write_text(text)


def _load_experiments(quick, dtypes, backend):
    """Experiments of ``verification.suite`` if present, else the interim job."""
    import importlib

    try:
        suite = importlib.import_module("verification.suite")
    except ModuleNotFoundError as exc:
        if exc.name == "verification":
            raise RuntimeError(
                "the 'verification' package is not importable; install statespace "
                "from its source tree (pip install -e .)"
            ) from exc
        if exc.name != "verification.suite":
            raise
        return interim_experiments(quick, dtypes, backend), "interim job (statespace.cli)"
    return list(suite.experiments(quick=quick, dtypes=dtypes, backend=backend)), \
        "verification.suite"


def interim_experiments(quick, dtypes, backend):
    """Stand-in for ``verification.suite.experiments`` until the suite exists.

    Parameters
    ----------
    quick : bool
        Only LegS ``N = 16``, ``L = 256``; otherwise also ``N = 64``, ``L = 1024``.
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    backend : str
        One of ``"numpy"``, ``"torch"``, ``"array_api_strict"``.

    Returns
    -------
    experiments : list of callable
        Picklable experiments for :func:`verification.report.run_suite`.

    Examples
    --------
    >>> from statespace.cli import interim_experiments
    >>> [e.name for e in interim_experiments(True, ["float64"], "numpy")]
    ['interim_kernel_legs_N16_L256']
    """
    from verification.report import Experiment

    sizes = [(16, 256, 0.05)] + ([] if quick else [(64, 1024, 0.01)])
    return [
        Experiment(
            f"interim_kernel_legs_N{N}_L{L}",
            _interim_kernel,
            {"N": N, "L": L, "dt": dt, "dtypes": tuple(dtypes), "backend": backend},
        )
        for N, L, dt in sizes
    ]


def _legs_kernel_reference(N, C, dt, L, dps):
    """mpmath LegS kernel (transition and kernel both at ``dps``)."""
    from verification import reference as ref

    A, B = ref.transition("legs", N, dps=dps)
    return ref.kernel(A, B, C, dt, L, "bilinear", dps=dps)


def _legs_bilinear_reference(N, dt, dps):
    from verification import reference as ref

    A, B = ref.transition("legs", N, dps=dps)
    return ref.discretize(A, B, dt, "bilinear", dps=dps)


def _interim_kernel(N, L, dt, dtypes, backend, dps=40):
    """LegS kernel by explicit powers of the bilinear system vs the mpmath reference."""
    import numpy as np

    from verification import reference as ref
    from verification.report import compare

    from . import _array, hippo

    xp = _backend_namespace(backend)
    name = f"interim_kernel_legs_N{N}_L{L}"
    # C: fixed draws, rounded to float32 so both dtypes see exactly the same C.
    C64 = np.random.default_rng(N).standard_normal(N).astype(np.float32).astype(np.float64)
    kref = ref.converged(_legs_kernel_reference, N, C64.tolist(), dt, L, dps=dps, norm="max",
                         required=ref.FLOAT64_DIGITS)
    dref = ref.converged(_legs_bilinear_reference, N, dt, dps=dps, norm="max",
                         required=ref.FLOAT64_DIGITS)
    K_true = ref.to_numpy(kref.value)
    scale = float(np.max(np.abs(K_true)))
    # Error model (float64 NumPy, only sets the tolerances): kappa = cond(I - dt/2 A)
    # amplifies the solve's rounding errors; memory = sum_k ||Ad^k||_2 (k < L) is how
    # many earlier steps' errors still weigh on K[l] (Ad contracts, so it saturates
    # instead of growing like L).
    A64, _ = hippo.transition("legs", N)
    M64 = np.eye(N) - dt / 2 * A64
    kappa = float(np.linalg.cond(M64))
    Ad64 = np.linalg.solve(M64, np.eye(N) + dt / 2 * A64)
    power, memory = np.eye(N), 0.0
    for _ in range(L):
        memory += float(np.linalg.norm(power, 2))
        power = Ad64 @ power

    rows = []
    err_series = []
    for color, dtype_name in enumerate(dtypes):
        dtype = getattr(xp, dtype_name)
        eps = float(np.finfo(dtype_name).eps)
        A, B = hippo.transition("legs", N, dtype=dtype, xp=xp)
        C = xp.asarray(C64.tolist(), dtype=dtype)
        eye = xp.eye(N, dtype=dtype)
        M = eye - (dt / 2) * A
        Ad = xp.linalg.solve(M, eye + (dt / 2) * A)
        Bd = xp.linalg.solve(M, xp.reshape(dt * B, (N, 1)))[:, 0]
        x, ks = Bd, []
        for _ in range(L):
            ks.append(xp.sum(C * x))
            x = xp.matmul(Ad, x)
        K = np.asarray(_array.to_numpy(xp.stack(ks)), dtype=np.float64)
        p = {"measure": "legs", "N": N, "L": L, "dt": dt, "method": "bilinear",
             "backend": backend}
        # LU solve: rounding errors of N-term sums grow like sqrt(N) eps (probabilistic
        # model, Higham & Mary 2019), amplified by kappa(I - dt/2 A); float32 inputs
        # (A rounded) add ~ kappa eps. Factor 4: slack for the max-norm and the
        # right-hand side rounding.
        tol_disc = 4 * math.sqrt(N) * eps * kappa
        rows.append(compare(name, "Ad = (I - dt/2 A)^-1 (I + dt/2 A), rel. max error", p,
                            dtype_name, _array.to_numpy(Ad), dref.part(0), tol_disc))
        rows.append(compare(name, "Bd = (I - dt/2 A)^-1 dt B, rel. max error", p, dtype_name,
                            _array.to_numpy(Bd), dref.part(1), tol_disc))
        # K[l] = C Ad^l Bd: the errors of Ad, Bd and of each matvec (~ sqrt(N) eps)
        # are propagated by later powers of Ad; independent errors add in quadrature
        # over the system's memory: tol_disc * sqrt(memory).
        tol_k = tol_disc * math.sqrt(memory)
        rows.append(compare(name, "K[l] = C Ad^l Bd (explicit powers), rel. max error", p,
                            dtype_name, K, kref, tol_k))
        with np.errstate(invalid="ignore"):
            pointwise = np.abs(K - K_true) / scale
        err_series.append({"label": f"{dtype_name} |K - K_ref| / max|K_ref|",
                           "x": list(range(L)), "y": pointwise.tolist(), "style": f"C{color}-"})
        err_series.append({"label": f"{dtype_name} tolerance", "x": [0, L - 1],
                           "y": [tol_k, tol_k], "style": f"C{color}--"})
    plots = [
        {"name": f"{name}_error", "title": f"LegS N={N}, dt={dt}: kernel error by position",
         "xlabel": "l", "ylabel": "relative error", "logy": True, "series": err_series},
        {"name": f"{name}_kernel", "title": f"LegS N={N}, dt={dt}: reference kernel (mpmath)",
         "xlabel": "l", "ylabel": "K[l]",
         "series": [{"label": f"mpmath dps={kref.dps}", "x": list(range(L)),
                     "y": K_true.tolist(), "style": "-"}]},
    ]
    return rows, plots


def _blas_limit(n):
    """Limit BLAS threads to ``n`` for this process and the workers it forks.

    Before NumPy is imported the usual environment variables do it (and are
    inherited by worker processes); afterwards threadpoolctl, when installed.
    Returns a context manager that restores the previous setting where it can.
    """
    import contextlib

    if "numpy" not in sys.modules:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(n))
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _cmd_verify(args) -> int:
    with _blas_limit(getattr(args, "blas_threads", 1)):
        return _run_verify(args)


def _run_verify(args) -> int:
    from verification.report import run_suite, write_report

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    try:
        _backend_namespace(args.backend)
    except ImportError as exc:
        print(f"statespace verify: backend {args.backend!r} is not available: {exc}",
              file=sys.stderr)
        return 2
    experiments, source = _load_experiments(args.quick, dtypes, args.backend)
    print(f"statespace verify: {len(experiments)} experiments from {source}, "
          f"{'quick' if args.quick else 'full'} mode, dtypes {', '.join(dtypes)}, "
          f"backend {args.backend}", file=sys.stderr)
    result = run_suite(experiments, workers=args.workers, progress=not args.no_progress)
    plots, summary = list(result.plots), None
    post = _postprocess(source)
    if post is not None:
        try:
            extra_plots, summary = post(result.rows)
            plots += list(extra_plots)
        except Exception as exc:  # noqa: BLE001 - a broken summary must not lose the report
            summary = f"## Summary\n\nThe summary could not be built: {type(exc).__name__}: {exc}"
    meta = {
        "mode": "quick" if args.quick else "full",
        "backend": args.backend,
        "dtypes": list(dtypes),
        "workers": args.workers,
        "blas_threads": getattr(args, "blas_threads", 1),
        "experiments_from": source,
        "elapsed_s": round(result.elapsed, 3),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
    }
    written = write_report(result.rows, args.out, plots=plots, meta=meta)
    if summary:
        _insert_summary(written["markdown"], summary)
    n = len(result.rows)
    failed = [r for r in result.rows if not r.passed]
    print(f"{n - len(failed)}/{n} rows passed in {result.elapsed:.1f} s; "
          f"report: {written['markdown']}")
    for r in failed[:10]:
        print(f"  FAIL {r.experiment}: {r.quantity} [{r.dtype}] error={r.error:.3e} "
              f"tolerance={r.tolerance:.3e}")
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more (see the report)")
    return 0 if written["passed"] else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
