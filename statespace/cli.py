"""The ``statespace`` command line: ``verify``, ``bench`` and ``info``.

The commands parse their arguments and call the layer that does the work:

``statespace verify``
    :func:`statespace.verification.runner.run`: the verification suite against
    mpmath ground truth; writes ``report.md``, ``report.json`` and PNG plots to
    ``--out`` (default ``report``). Exit status 0 when every row passes, 1 when a
    row failed, 2 when the run could not be made (usage errors, an unusable or
    locked ``--out``, reference data that fails its manifest check), 130 when
    interrupted (the previous report is then left as it was).
``statespace verify --model PATH [--length L] [--dtype float32|bfloat16|float64]``
    :func:`statespace.verification.model_check.run`: checks a trained model's
    kernels, stability margin, C~ -> C recovery and step-vs-convolution drift per
    layer and channel; exit status 0 when every channel is within its bounds, 1
    when one exceeds a bound (the report lists the failing channels first, with
    the parameter values that make them fail), 2 when the file cannot be read.
``statespace bench``
    ``python -m benchmarks.compare`` (its options are listed by ``statespace bench
    --help``) run in the statespace source checkout (:func:`find_checkout`): speed
    and memory of the kernels against baselines measured in the same run. The
    benchmarks are not installed with the package; without a checkout the command
    says how to get one and exits 2.
``statespace info``
    The versions of statespace and its dependencies, the machine and its thread
    settings (:func:`statespace._env.format_environment`).

Examples
--------
>>> from statespace.cli import build_parser
>>> args = build_parser().parse_args(["verify", "--full", "--dtype", "float64"])
>>> args.quick, args.dtype, args.out
(False, 'float64', 'report')
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "find_checkout"]


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
    from .verification.runner import BACKENDS, DTYPES, SWEEPS

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
    mode.add_argument("--sweep", choices=SWEEPS, default=None,
                      help="a named sweep: quick, full (as the flags), large (LegS/LegT/LagT/"
                      "FouT NPLR and kernels to N=2048, L=2^20, numpy and torch: for a "
                      "cluster) or large-reduced (a part of it for one machine)")
    v.add_argument("--out", default="report", metavar="DIR",
                   help="output folder (default: report)")
    v.add_argument("--dtype", choices=(*DTYPES, "both", "bfloat16"), default=None,
                   help="working precision(s) to verify (default: both); with --model the "
                   "serving precision, float32 (default), bfloat16 or float64")
    v.add_argument("--model", default=None, metavar="PATH",
                   help="check this model's kernels, stability, C~ -> C recovery and step "
                   "mode per channel instead of the library (a statespace.torch state_dict "
                   "or saved module, an .npz of systems, or a reference-implementation "
                   "S4/S4D checkpoint)")
    v.add_argument("--length", type=_positive_int, default=None, metavar="L",
                   help="with --model: the length to check at (default: the stored "
                   "training length)")
    v.add_argument("--sample", type=_positive_int, default=2, metavar="K",
                   help="with --model: channels per layer checked against arb (default 2)")
    v.add_argument("--backend", choices=BACKENDS, default="numpy",
                   help="array namespace to run statespace on (default: numpy)")
    v.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                   help="worker processes: 1 runs in-process (default), more start a dask "
                   "LocalCluster (needs statespace[distributed])")
    v.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the points on a running dask cluster, e.g. tcp://HOST:8786")
    v.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same sweep from its results "
                   "store (.OUT.store beside --out) instead of starting over")
    v.add_argument("--blas-threads", type=_positive_int, default=1, metavar="N",
                   help="BLAS threads per process (default: 1; the matrices are small "
                   "and a multithreaded BLAS only oversubscribes the cores, badly so on "
                   "a loaded machine)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.add_argument("--lenient", action="store_true",
                   help="a row above its expected (calibrated) error bound but within its "
                   "rigorous bound passes with a warning instead of failing")
    v.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="run only the named experiments (for debugging; the report "
                   "then covers those alone)")
    v.set_defaults(func=_cmd_verify)

    b = sub.add_parser(
        "bench",
        help="speed/memory comparison against baselines in one run (Markdown, JSON, plots)",
        add_help=False,
    )
    b.set_defaults(func=_cmd_bench)

    i = sub.add_parser("info", help="versions of statespace and its dependencies, machine, "
                       "threads")
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
        failed, 2 for usage errors and runs that could not be made (and for
        ``bench`` without a source checkout), 130 for an interrupted ``verify``;
        ``bench`` otherwise passes on the exit status of ``benchmarks.compare``.

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

#: Environment variable naming the directory to look for a source checkout from,
#: instead of the current directory and the package's own source directory.
CHECKOUT_ENV = "STATESPACE_CHECKOUT"

NO_CHECKOUT = """\
statespace bench: no statespace source checkout found.
The benchmarks are not part of the installed package; they run from a checkout:

    git clone <statespace repository> statespace && cd statespace
    pip install -e ".[test]"
    statespace bench --help

Run it from inside the checkout (or set {env} to its path)."""


def _is_checkout(d):
    """Whether ``d`` holds statespace's pyproject.toml and benchmarks/compare.py."""
    try:
        text = (d / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    named = re.search(r"""^\s*name\s*=\s*["']statespace["']""", text, re.MULTILINE)
    return bool(named) and (d / "benchmarks" / "compare.py").is_file()


def find_checkout(starts=None):
    """The statespace source checkout at or above one of ``starts``, or None.

    Parameters
    ----------
    starts : iterable of path, optional
        Where to start looking (each directory and its parents). Default: the
        directory named by the ``STATESPACE_CHECKOUT`` environment variable when it
        is set; otherwise the current directory, then the directory holding the
        imported ``statespace`` package (a checkout, for an editable install).

    Returns
    -------
    root : pathlib.Path or None
        The first directory holding a ``pyproject.toml`` of project ``statespace``
        with ``benchmarks/compare.py`` beside it.

    Examples
    --------
    >>> import tempfile
    >>> from statespace.cli import find_checkout
    >>> find_checkout([tempfile.mkdtemp()]) is None
    True
    """
    if starts is None:
        env = os.environ.get(CHECKOUT_ENV)
        if env:
            starts = [env]
        else:
            starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        start = Path(start).resolve()
        for d in (start, *start.parents):
            if _is_checkout(d):
                return d
    return None


def _outside_paths(argv, cwd):
    """``argv`` with a relative ``--out`` made absolute against ``cwd``."""
    argv = list(argv)
    for i, a in enumerate(argv):
        if a == "--out" and i + 1 < len(argv):
            argv[i + 1] = str(Path(cwd, argv[i + 1]))
        elif a.startswith("--out="):
            argv[i] = "--out=" + str(Path(cwd, a[len("--out="):]))
    return argv


def _cmd_bench(argv) -> int:
    """``statespace bench [options]``: ``python -m benchmarks.compare`` in the checkout.

    The command runs with the checkout as its working directory; a relative
    ``--out`` is still taken relative to the caller's directory. Its exit status
    is passed through.
    """
    argv = list(argv) if isinstance(argv, (list, tuple)) else []
    root = find_checkout()
    if root is None:
        print(NO_CHECKOUT.format(env=CHECKOUT_ENV), file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "benchmarks.compare", *_outside_paths(argv, Path.cwd())]
    return subprocess.run(cmd, cwd=root).returncode


# --------------------------------------------------------------------------- info


def _cmd_info(args) -> int:
    from ._env import format_environment

    print(format_environment())
    return 0


# --------------------------------------------------------------------------- verify

#: Exit status of ``statespace verify`` interrupted by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def _cmd_verify(args) -> int:
    from .verification import runner

    if args.model is not None:
        from .verification import model_check

        if args.dtype == "both":
            print("statespace verify: --model checks one serving precision: --dtype "
                  "float32, bfloat16 or float64", file=sys.stderr)
            return 2
        return model_check.run(args.model, out=args.out, length=args.length,
                               dtype=args.dtype or "float32", sample=args.sample)
    if args.length is not None or args.dtype == "bfloat16":
        print("statespace verify: --length and --dtype bfloat16 need --model",
              file=sys.stderr)
        return 2
    dtypes = runner.DTYPES if args.dtype in (None, "both") else (args.dtype,)
    if args.sweep is not None:
        args.quick = args.sweep != "full"
    try:
        return runner.run(quick=args.quick, out=args.out, dtypes=dtypes, backend=args.backend,
                          workers=args.workers, blas_threads=args.blas_threads,
                          progress=not args.no_progress, only=args.only,
                          lenient=args.lenient, sweep=args.sweep, scheduler=args.scheduler,
                          resume=args.resume)
    except KeyboardInterrupt:
        print("statespace verify: interrupted; the report folder was left as it was "
              "(completed points are kept for --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
