r"""Calibrate the expected error bounds of the verification rows.

Usage::

    python -m statespace.verification.calibrate              # run quick + full sweeps
    python -m statespace.verification.calibrate --report a/report.json b/report.json
    python -m statespace.verification.calibrate --write      # also rewrite the table

For every metric and dtype (:func:`statespace.verification.bounds.metric_of`) and
every candidate model :math:`m` of :data:`statespace.verification.bounds.MODELS`,
the ratios :math:`r_i = e_i / m_i` are taken over the sweep's rows with a positive,
finite error. The model kept is the one leaving the fewest rows with a bound of at
least :data:`statespace.verification.report.LOOSE` times their error once
:math:`c = \max_i r_i` and the safety factor are applied (ties: the smallest spread
:math:`\max r/\min r`, then the simplest model, in the order of ``MODELS``); a
group with fewer than ``MIN_SIZES`` distinct sizes :math:`(N, L)` gets a model that
does not grow with them. The
table is printed (Markdown), with the count of loose rows before (rigorous bound
alone) and after (the tighter of both bounds); ``--write`` replaces the
``CALIBRATION`` table of ``verification/bounds.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from statespace.verification import bounds
from statespace.verification.report import LOOSE, Row, slack_counts

__all__ = ["fit", "sweep_rows", "load_rows", "render_table", "main"]


def load_rows(paths):
    """Rows of report.json files.

    Parameters
    ----------
    paths : iterable of path
        ``report.json`` files of ``statespace verify``.

    Returns
    -------
    rows : list of statespace.verification.report.Row
        Their rows, as stored (the expected bounds of the run that wrote them).

    Examples
    --------
    >>> load_rows([])
    []
    """
    rows = []
    for p in paths:
        doc = json.loads(Path(p).read_text())
        for d in doc["rows"]:
            r = Row.from_json(d)
            rows.append(r)
    return rows


def sweep_rows(modes=("quick", "full"), dtypes=("float32", "float64")):
    """Run the quick and/or full experiments in-process and return their rows.

    Parameters
    ----------
    modes : sequence of str, optional
        ``"quick"`` and/or ``"full"``.
    dtypes : sequence of str, optional
        Working dtypes.

    Returns
    -------
    rows : list of statespace.verification.report.Row

    Examples
    --------
    >>> sweep_rows(modes=())
    []
    """
    from statespace.verification import suite
    from statespace.verification.report import run_suite

    rows = []
    for mode in modes:
        exps = suite.experiments(quick=(mode == "quick"), dtypes=dtypes)
        rows += run_suite(exps, progress=False).rows
    return rows


def _size_free(name):
    m = bounds.MODELS[name]
    return name != "rigorous" and m(N=1, L=2) == m(N=7, L=1024)


def _candidates(metric, rows):
    names = list(bounds.MODELS)
    if "ulps" not in metric:
        names.remove("const")
    sizes = {(r.params.get("N"), r.params.get("L")) for r in rows}
    if len(sizes) < MIN_SIZES:  # too few sizes to identify a growth law
        names = [n for n in names if _size_free(n)]
    return names


#: Fewest distinct (N, L) sizes of a group for a model growing with N or L.
MIN_SIZES = 3


def fit(rows, safety=bounds.SAFETY):
    """Fit ``{(metric, dtype): (model name, c)}`` on ``rows``.

    Parameters
    ----------
    rows : list of statespace.verification.report.Row
        The sweep.
    safety : float, optional
        Safety factor the expected bound will carry (for the loose-row count).

    Returns
    -------
    table : dict
        The calibration table, for :data:`statespace.verification.bounds.CALIBRATION`:
        ``(metric, dtype, system) -> (model name, c)``, and ``system = "*"`` fitted
        over every system of the metric.

    Examples
    --------
    >>> rows = [Row("E", "q", {"N": n}, "float64", n * 2.0 ** -52, 1.0) for n in (4, 16, 64)]
    >>> fit(rows)
    {('e/q', 'float64', ''): ('N_eps', 1.0), ('e/q', 'float64', '*'): ('N_eps', 1.0)}
    """
    groups = {}
    for r in rows:
        if r.direction != "upper" or r.metric in bounds.RIGOROUS_ONLY:
            continue
        groups.setdefault((r.metric, r.dtype, bounds.system_of(r.params)), []).append(r)
        groups.setdefault((r.metric, r.dtype, "*"), []).append(r)
    table = {}
    for (metric, dtype, system), rs in sorted(groups.items()):
        best = None
        for name in _candidates(metric, rs):
            model = bounds.MODELS[name]
            ratios = []
            for r in rs:
                if not (math.isfinite(r.error) and r.error > 0):
                    continue
                m = model(**bounds.model_args(r.params, dtype, r.tolerance))
                if not (math.isfinite(m) and m > 0):
                    ratios = None
                    break
                ratios.append(r.error / m)
            if not ratios:
                continue
            c = max(ratios)
            loose = sum(1 for x in ratios if safety * c / x >= LOOSE)
            key = (loose, c / min(ratios))
            if best is None or key < best[0]:
                best = (key, name, c)
        if best is not None:
            table[(metric, dtype, system)] = (best[1], float(f"{best[2]:.3g}"))
    return table


def render_table(table):
    """The calibration table as Markdown.

    Parameters
    ----------
    table : dict
        ``(metric, dtype, system) -> (model name, c)``, as from :func:`fit`.

    Returns
    -------
    text : str

    Examples
    --------
    >>> print(render_table({("e/q", "float64", "*"): ("N_eps", 1.0)}).splitlines()[-1])
    | e/q | float64 | * | N * eps | 1 |
    """
    out = [f"Safety factor S = {bounds.SAFETY:g}; expected bound = S * c * model.", "",
           "| metric | dtype | system | model | c |", "|---|---|---|---|---|"]
    for (metric, dtype, system), (name, c) in sorted(table.items()):
        out.append(f"| {metric} | {dtype} | {system or '-'} | {bounds.MODELS[name].formula} | "
                   f"{c:.3g} |")
    return "\n".join(out)


def _recompute(rows):
    return [Row(r.experiment, r.quantity, r.params, r.dtype, r.error, r.tolerance,
                note=r.note, metric=r.metric, direction=r.direction) for r in rows]


def _write(table, path=None):
    path = Path(path or Path(bounds.__file__))
    text = path.read_text()
    lines = []
    for (metric, dtype, system), (name, c) in sorted(table.items()):
        line = f'    ("{metric}", "{dtype}", "{system}"): ("{name}", {c!r}),'
        lines.append(line + ("  # noqa: E501" if len(line) > 100 else "") + "\n")
    body = "CALIBRATION: dict = {\n" + "".join(lines) + "}\n"
    new, n = re.subn(r"# BEGIN CALIBRATION\n.*?# END CALIBRATION",
                     "# BEGIN CALIBRATION\n" + body.replace("\\", "\\\\") + "# END CALIBRATION",
                     text, flags=re.S)
    if n != 1:
        raise RuntimeError(f"no calibration markers in {path}")
    path.write_text(new)


def main(argv=None) -> int:
    """Command line entry (see the module docstring).

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0.

    Examples
    --------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    ap = argparse.ArgumentParser(prog="python -m statespace.verification.calibrate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--report", nargs="+", metavar="JSON",
                    help="calibrate on these report.json files instead of running the sweep")
    ap.add_argument("--write", action="store_true",
                    help="rewrite the CALIBRATION table of verification/bounds.py")
    args = ap.parse_args(argv)
    rows = load_rows(args.report) if args.report else sweep_rows()
    before = slack_counts(_recompute_without_expected(rows))
    table = fit(rows)
    bounds.CALIBRATION.clear()
    bounds.CALIBRATION.update(table)
    after_rows = _recompute(rows)
    after = slack_counts(after_rows)
    over = sum(1 for r in after_rows if r.above_expected)
    print(render_table(table))
    print()
    print(f"rows with bound >= {LOOSE:g} x error: {before['rigorous']} of {before['rows']} "
          f"(rigorous bound alone) -> {after['effective']} (tighter of both bounds), "
          f"{after['unexplained']} of them without a slack reason; "
          f"{over} rows above their expected bound")
    if args.write:
        _write(table)
        print(f"wrote {len(table)} entries to {bounds.__file__}")
    return 0


def _recompute_without_expected(rows):
    return [Row(r.experiment, r.quantity, r.params, r.dtype, r.error, r.tolerance,
                note=r.note, metric=r.metric, direction=r.direction, expected=math.nan)
            for r in rows]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
