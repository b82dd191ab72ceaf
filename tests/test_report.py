"""statespace.verification.report (rows, suite runner, report writer) and the statespace CLI."""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from statespace import cli
from statespace.verification import report, runner, suite
from statespace.verification.report import Experiment, Row, run_suite, validate, write_report

# --------------------------------------------------------------------------- rows


@pytest.mark.parametrize("error", [math.nan, math.inf, -math.inf, "nan", None])
def test_non_finite_error_fails(error):
    assert not Row("e", "q", {}, "float64", error, 1.0).passed


def test_pass_and_fail_rules():
    assert Row("e", "q", {}, "float64", 1e-16, 1e-16).passed  # error == tolerance passes
    assert not Row("e", "q", {}, "float64", 2e-16, 1e-16).passed
    assert not Row("e", "q", {}, "float64", 0.0, math.nan).passed  # NaN tolerance
    assert not Row("e", "q", {}, "float64", 0.0, math.inf).passed  # no tolerance, no pass
    # passed=False forces a failure; passed=True cannot rescue a failing comparison
    assert not Row("e", "q", {}, "float64", 0.0, 1.0, passed=False).passed
    assert not Row("e", "q", {}, "float64", math.nan, 1.0, passed=True).passed
    assert Row("e", "q", {}, np.float32, 0.0, 1.0).dtype == "float32"
    assert Row("e", "q", {}, np.dtype("complex128"), 0.0, 1.0).dtype == "complex128"


def test_row_json_roundtrip():
    r = Row("e", "q", {"N": np.int64(4), "dt": np.float64(0.5), "shape": (2, 3)},
            "float64", math.nan, 1e-15, note="x")
    d = r.to_json()
    assert d["error"] == "NaN" and d["params"] == {"N": 4, "dt": 0.5, "shape": [2, 3]}
    json.dumps(d, allow_nan=False)  # strict JSON
    back = Row.from_json(d)
    assert math.isnan(back.error) and not back.passed and back.params["N"] == 4


def test_relative_error():
    assert report.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert report.relative_error([1.0, np.nan], [1.0, 2.0]) == math.inf
    assert report.relative_error([1.0], [1.0, 2.0]) == math.inf  # shape mismatch
    assert report.relative_error([1e-20], [0.0]) == 1e-20  # all-zero reference: absolute
    assert math.isclose(report.relative_error([2 + 1j], [2.0]), 0.5)


# --------------------------------------------------------------------------- report files


def _rows():
    return [
        Row("alpha", "good one", {"N": 4}, "float64", 1e-17, 1e-15),
        Row("alpha", "bad | pipe", {"N": 8}, "float32", 2e-3, 1e-6, note="too big"),
        Row("beta", "nan one", {"N": 16, "dt": 0.1}, "float64", math.nan, 1e-15),
        Row("beta", "fine", {}, "float64", 0.0, 1e-15),
    ]


def _plot():
    x = np.arange(1, 33)
    return {"name": "demo err/plot", "title": "demo", "xlabel": "l", "ylabel": "err",
            "logy": True, "experiment": "beta",
            "series": [{"label": "a", "x": x, "y": np.exp(-x / 4.0), "style": "-o"},
                       {"label": "with nan", "x": x, "y": np.where(x % 5, 1.0 / x, np.nan)}]}


def test_failures_are_listed_first(tmp_path):
    out = write_report(_rows(), tmp_path, plots=[_plot()], meta={"backend": "numpy"})
    md = (tmp_path / "report.md").read_text()
    assert not out["passed"]
    assert "**FAILED**: 2 of 4 rows failed" in md
    i_fail, i_alpha, i_beta = md.index("## Failures"), md.index("## alpha"), md.index("## beta")
    assert i_fail < i_alpha < i_beta
    failures = md[i_fail:i_alpha]
    assert "bad \\| pipe" in failures and "nan one" in failures
    assert "good one" not in failures and "fine" not in failures
    assert "| NaN |" in md and "**FAIL**" in md
    # per-experiment tables have the required columns
    assert "| quantity | parameters | dtype | error | tolerance | pass |" in md
    # the plot is embedded under its experiment and exists
    assert len(out["plots"]) == 1 and out["plots"][0].exists()
    assert out["plots"][0].name == "demo_err_plot.png"
    assert md.index("demo_err_plot.png") > i_beta


def test_report_json_validates_against_schema(tmp_path):
    write_report(_rows(), tmp_path, plots=[_plot()], meta={"elapsed_s": 1.5,
                                                          "dtypes": ["float32", "float64"]})
    text = (tmp_path / "report.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    validate(doc)
    assert doc["schema"] == "statespace-verify" and doc["version"] == 1
    assert doc["summary"] == {"rows": 4, "passed": 2, "failed": 2, "experiments": 2,
                              "status": "failed"}
    assert doc["rows"][2]["error"] == "NaN" and doc["rows"][2]["passed"] is False
    assert doc["meta"]["elapsed_s"] == 1.5 and doc["meta"]["versions"]["numpy"]
    assert doc["plots"][0]["file"] == "demo_err_plot.png"
    # the validator rejects broken documents
    bad = json.loads(text)
    bad["rows"][2]["passed"] = True  # a NaN marked as pass
    with pytest.raises(ValueError, match="marked passed"):
        validate(bad)
    bad = json.loads(text)
    bad["summary"]["failed"] = 0
    with pytest.raises(ValueError, match="counts"):
        validate(bad)
    bad = json.loads(text)
    del bad["rows"][0]["tolerance"]
    with pytest.raises(ValueError, match="tolerance"):
        validate(bad)
    bad = json.loads(text)
    bad["version"] = 2
    with pytest.raises(ValueError, match="version"):
        validate(bad)


def test_jsonschema_agrees_if_installed(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write_report(_rows(), tmp_path)
    jsonschema.validate(json.loads((tmp_path / "report.json").read_text()), report.SCHEMA)


def test_all_passing_and_empty_reports(tmp_path):
    out = write_report(_rows()[:1], tmp_path / "ok")
    assert out["passed"]
    assert "**PASSED**" in (tmp_path / "ok" / "report.md").read_text()
    out = write_report([], tmp_path / "empty")  # nothing verified is not a pass
    assert not out["passed"]
    validate(json.loads((tmp_path / "empty" / "report.json").read_text()))


def test_bad_plot_does_not_lose_the_report(tmp_path):
    bad = {"name": "broken", "series": [{"x": [1, 2, 3], "y": [1, 2]}]}
    with pytest.warns(RuntimeWarning, match="plots not written: broken"):
        out = write_report(_rows()[:1], tmp_path, plots=[bad, _plot()])
    assert len(out["plots"]) == 1
    doc = json.loads((tmp_path / "report.json").read_text())
    assert any("broken" in p for p in doc["meta"]["plot_problems"])
    assert "Plot problems" in (tmp_path / "report.md").read_text()


# --------------------------------------------------------------------------- run_suite
# Experiments must be module level so that they pickle for process pools.


def exp_ok(n=3):
    return [Row("ok", f"row {i}", {"i": i, "pid_free": True}, "float64", i * 1e-17, 1e-15)
            for i in range(n)]


def exp_with_plot():
    rows = [Row("plotted", "x", {}, "float32", 1e-8, 1e-6)]
    return rows, [{"name": "p", "title": "t", "series": [{"x": [1, 2], "y": [3, 4]}]}]


def exp_raises():
    raise ZeroDivisionError("deliberate")


def exp_empty():
    return []


def exp_wrong_type():
    return {"not": "rows"}


EXPERIMENTS = [exp_ok, Experiment("ok5", exp_ok, {"n": 5}), exp_with_plot, exp_raises,
               exp_empty, exp_wrong_type]


def test_run_suite_inline():
    res = run_suite(EXPERIMENTS, progress=False)
    assert len(res.rows) == 3 + 5 + 1 + 3
    assert not res.passed
    by_q = {r.quantity: r for r in res.rows if not r.passed}
    raised = [q for q in by_q if "ZeroDivisionError" in q]
    assert raised and "deliberate" in raised[0] and "exp_raises" in by_q[raised[0]].experiment
    assert "Traceback" in by_q[raised[0]].note
    assert any("no rows" in q for q in by_q)
    assert any("list of Row" in q for q in by_q)
    assert res.plots == [{"name": "p", "title": "t", "series": [{"x": [1, 2], "y": [3, 4]}],
                          "experiment": "plotted"}]
    assert set(res.timings) == {"exp_ok", "ok5", "exp_with_plot", "exp_raises", "exp_empty",
                                "exp_wrong_type"}


def _comparable(rows):
    # the note of a raised experiment holds a traceback whose frames may differ;
    # repr() so that NaN errors compare equal
    return [(r.experiment, r.quantity, r.params, r.dtype, repr(r.error), repr(r.tolerance),
             r.passed) for r in rows]


def test_run_suite_process_pool_matches_inline():
    inline = run_suite(EXPERIMENTS, progress=False)
    with cf.ProcessPoolExecutor(2) as ex:
        pooled = run_suite(EXPERIMENTS, executor=ex, progress=False)
    assert _comparable(pooled.rows) == _comparable(inline.rows)
    assert pooled.plots == inline.plots
    workers = run_suite(EXPERIMENTS[:3], workers=2, progress=False)
    assert _comparable(workers.rows) == _comparable(inline.rows[:9])


def test_run_suite_thread_pool_and_unpicklable():
    with cf.ThreadPoolExecutor(2) as ex:
        res = run_suite([exp_ok, exp_raises], executor=ex, progress=False)
    assert [r.passed for r in res.rows] == [True, True, True, False]
    # a lambda cannot be sent to a process: a failed row, not a crash
    with cf.ProcessPoolExecutor(1) as ex:
        res = run_suite([lambda: exp_ok(1)], executor=ex, progress=False)
    assert len(res.rows) == 1 and not res.rows[0].passed
    assert "could not run" in res.rows[0].quantity


def test_progress_output(capsys, monkeypatch):
    run_suite([exp_ok], progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # fallback: a plain counter
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    run_suite([exp_ok, exp_raises], progress=True)
    err = capsys.readouterr().err
    assert "[1/2] exp_ok ok" in err and "[2/2] exp_raises FAIL" in err


def test_run_suite_rejects_bad_workers():
    with pytest.raises(ValueError, match="workers"):
        run_suite([exp_ok], workers=0)


# --------------------------------------------------------------------------- CLI


def _statespace_cmd():
    exe = shutil.which("statespace", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "statespace.cli"]


_CHEAP = ("hippo_legs_N16", "legs_N16", "kernel_legs_N16")


def _cheap_suite(quick, dtypes, backend):
    """A few quick experiments of the real suite (under a second), as the suite's own."""
    exps = [e for e in suite.experiments(quick=quick, dtypes=dtypes, backend=backend)
            if e.name in _CHEAP]
    return exps, runner.SOURCE


# The whole suite is run through the console script by tests/test_suite.py; here a
# few of its experiments run in process.
def test_cli_verify_in_process(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rep"
    monkeypatch.setattr(runner, "_load_experiments", _cheap_suite)
    status = cli.main(["verify", "--out", str(out), "--no-progress"])
    stdout = capsys.readouterr().out
    assert status == 0, stdout
    assert (out / "report.md").exists() and (out / "report.json").exists()
    assert list(out.glob("*.png"))
    doc = json.loads((out / "report.json").read_text())
    validate(doc)
    assert doc["summary"]["status"] == "passed" and doc["summary"]["rows"] >= 3
    assert {r["dtype"] for r in doc["rows"]} == {"float32", "float64"}
    assert doc["meta"]["experiments_from"] == "statespace.verification.suite"
    # the suite's summary is written with the report, once, after the failures
    md = (out / "report.md").read_text()
    assert md.count("## Summary") == 1
    assert md.index("## Failures") < md.index("## Summary") < md.index(f"## {suite.EXP_HIPPO}")
    assert "rows passed" in stdout


def test_cli_verify_exit_status_follows_rows(tmp_path, monkeypatch, capsys):
    def fake(quick, dtypes, backend):
        return [exp_ok, exp_raises], "test"

    monkeypatch.setattr(runner, "_load_experiments", fake)
    status = cli.main(["verify", "--out", str(tmp_path), "--no-progress", "--dtype",
                       "float64"])
    assert status == 1
    assert "FAIL" in capsys.readouterr().out
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_ok], "test"))
    assert cli.main(["verify", "--out", str(tmp_path), "--no-progress"]) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["meta"]["experiments_from"] == "test" and doc["meta"]["mode"] == "quick"


def test_cli_verify_other_backend_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_load_experiments", _cheap_suite)
    status = cli.main(["verify", "--out", str(tmp_path), "--no-progress", "--backend",
                       "array_api_strict", "--dtype", "float32"])
    assert status == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert {r["params"]["backend"] for r in doc["rows"]} == {"array_api_strict"}
    assert {r["dtype"] for r in doc["rows"]} == {"float32"}


def test_cli_info_runs():
    proc = subprocess.run(_statespace_cmd() + ["info"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("statespace", "numpy", "scipy", "mpmath", "array-api-compat", "torch",
                 "CPU count"):
        assert name in proc.stdout
    import numpy

    assert numpy.__version__ in proc.stdout


def test_cli_usage_errors(capsys):
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["verify", "--quick", "--full"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["verify", "--workers", "0"])
    assert cli.main(["bench", "--sections", "nope"]) == 2  # benchmarks.compare's own error
    capsys.readouterr()


def test_cli_bench_writes_a_report(tmp_path, capsys):
    """``statespace bench`` runs benchmarks.compare (a tiny generation section here)."""
    status = cli.main(["bench", "--quick", "--sections", "generation", "--generation-L", "64",
                       "--repeat", "1", "--no-plots", "--out", str(tmp_path)])
    assert status == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["generation"]["speedup"] > 0 and not doc["errors"]
    assert "## Autoregressive generation" in (tmp_path / "report.md").read_text()


def test_cli_bench_without_a_checkout(tmp_path):
    """Outside a source checkout ``statespace bench`` says how to get one and exits 2."""
    env = dict(os.environ, STATESPACE_CHECKOUT=str(tmp_path))  # no package-source walk
    proc = subprocess.run(_statespace_cmd() + ["bench", "--quick"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no statespace source checkout found" in proc.stderr
    assert 'pip install -e ".[test]"' in proc.stderr
    assert not (tmp_path / "bench-report").exists()


def test_find_checkout(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[1]
    assert cli.find_checkout([root / "docs" / "api"]) == root  # walks up
    assert cli.find_checkout([tmp_path]) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "compare.py").write_text("")
    assert cli.find_checkout([tmp_path]) is None  # another project
    monkeypatch.setenv(cli.CHECKOUT_ENV, str(root / "tests"))
    assert cli.find_checkout() == root
    # a relative --out stays relative to the caller's directory
    assert cli._outside_paths(["--quick", "--out", "r", "--out=s"], tmp_path) == \
        ["--quick", "--out", str(tmp_path / "r"), f"--out={tmp_path / 's'}"]


def test_report_paths_are_relative(tmp_path):
    write_report(_rows(), Path(tmp_path), plots=[_plot()])
    doc = json.loads((tmp_path / "report.json").read_text())
    assert not os.path.isabs(doc["plots"][0]["file"])
