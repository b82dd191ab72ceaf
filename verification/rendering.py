r"""Writing a report: ``report.md``, ``report.json`` and the plots.

:func:`write_report` renders the rows (:mod:`statespace.verification.rows`) into a
temporary sibling of the output folder and swaps it into place
(:mod:`statespace.verification.folder`); ``report.json`` follows
:data:`statespace.verification.schema.SCHEMA`. The summaries are keyed on the rows'
metrics (:func:`bound_summary`), not on their display text.

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
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import uuid
import warnings

import numpy as np

from statespace.verification.folder import _publish, check_out_dir
from statespace.verification.rows import LOOSE, Row, _jsonable, slack, slack_counts
from statespace.verification.schema import SCHEMA_NAME, SCHEMA_VERSION, validate

__all__ = ["write_report", "collect_meta", "bound_summary"]


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
           "of the rigorous and the expected bound (exact zero errors included); "
           f"{c['unexplained']} of these without a slack reason (the reasons: "
           "`statespace.verification.bounds.SLACK_REASONS`).", "",
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
        notes = [(r.quantity, r.note, r.slack_reason) for r in rows
                 if r.experiment == exp and (r.note or r.slack_reason)]
        if notes:
            md.append("")
            for q, n, why in notes:
                first = n.strip().splitlines()
                text = first[-1] if first else ""
                if why:
                    text = f"{text}; slack: {why}" if text else f"slack: {why}"
                md.append(f"- {_cell(q)}: {_cell(text)}")
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
