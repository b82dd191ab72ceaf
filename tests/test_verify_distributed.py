"""``statespace verify`` on dask.distributed, its results store and ``--resume``.

A ``LocalCluster`` of two worker processes gives the same rows as the in-process
run; a worker killed mid-run loses no point; a run interrupted by SIGINT and
resumed gives the report of an uninterrupted run, row for row; a store whose last
line was cut short is read back without losing a complete line; a point that
fails twice is a failed row with its traceback, never dropped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from statespace import cli
from statespace.verification import executor, large, runner, suite
from statespace.verification.executor import Reference, make_points, open_executor, run_points
from statespace.verification.report import Experiment, Row
from statespace.verification.store import ResultStore, read_jsonl, store_path

distributed = pytest.importorskip("distributed")

# A few quick experiments of the suite, and points of the large sweep sharing one
# (small) arb reference through the executor.
_SUITE_SUBSET = ("hippo_legs_N16", "kernel_legs_N16", "legs_N16", "disc_legs_N8",
                 "stability_legs_N16")


def _subset_with_reference(quick, dtypes, backend):
    exps = [e for e in suite.experiments(quick=quick, dtypes=dtypes, backend=backend)
            if e.name in _SUITE_SUBSET]
    truth = Reference(large.kernel_truth, ("legt", 16, 0.01, 512))
    for L in (256, 512):
        exps.append(Experiment(f"large_kernel_legt_N16_L{L}", large.kernel_point,
                               {"measure": "legt", "N": 16, "L": L, "dt": 0.01,
                                "dtypes": list(dtypes), "backend": backend, "truth": truth}))
    return exps, runner.SOURCE


def _rows(out):
    """The report's rows without their notes (a note may name a process or a path)."""
    doc = json.loads((out / "report.json").read_text())
    return [{k: v for k, v in r.items() if k != "note"} for r in doc["rows"]], doc


def _statespace_cmd():
    import shutil

    exe = shutil.which("statespace", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "statespace.cli"]


# --------------------------------------------------------------------------- store


def test_truncated_last_line_is_read_back_without_loss(tmp_path):
    store = ResultStore(tmp_path / ".rep.store")
    assert store.start({"sweep": "t"}, resume=False) == 0
    recs = [{"key": f"k{i}", "name": f"p{i}", "experiment": "demo", "status": "ok",
             "attempts": 1, "elapsed": 0.5, "rows": [Row("demo", "x", {"i": i}, "float64",
                                                         1e-17 * i, 1e-15).to_json()],
             "plots": []} for i in range(5)]
    store.append(recs[:2])
    store.append(recs[2:4])
    path = store.folder / "demo.jsonl"
    whole = path.read_bytes()
    line5 = json.dumps(recs[4]).encode()
    for cut in (1, len(line5) // 2, len(line5)):  # cut anywhere in the last line
        path.write_bytes(whole + line5[:cut])
        assert sorted(store.read()) == ["k0", "k1", "k2", "k3"]
    assert read_jsonl(path)[1] == len(whole)
    # resuming cuts the damaged tail off, so the next append starts on its own line
    assert store.start({"sweep": "t"}, resume=True) == 4
    assert path.read_bytes() == whole
    store.append(recs[4:])
    got = store.read()
    assert sorted(got) == [f"k{i}" for i in range(5)]
    assert [Row.from_json(r) for r in got["k3"]["rows"]] == \
        [Row.from_json(r) for r in recs[3]["rows"]]
    # a store of another sweep is not resumed
    with pytest.raises(ValueError, match="different sweep"):
        store.start({"sweep": "other"}, resume=True)


def test_lenient_still_applies_to_rows_read_from_the_store(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_load_experiments",
                        lambda q, d, b: ([above_expected_only, forced_failure], "test"))
    out = tmp_path / "rep"
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 1
    assert cli.main(["verify", "--out", str(out), "--no-progress", "--lenient"]) == 1
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert [(r["quantity"], r["passed"]) for r in rows] == [("above", True), ("forced", False)]
    assert rows[0]["warning"].startswith("above expected bound")


def above_expected_only():
    return [Row("demo", "above", {}, "float64", 1e-9, 1e-6, expected=1e-12)]


def forced_failure():
    return [Row("demo", "forced", {}, "float64", 1e-9, 1e-6, passed=False)]


# --------------------------------------------------------------------------- points

_CALLS = []


def counted_truth(x):
    _CALLS.append(x)
    return x * 2


def uses_truth(i, truth):
    return [Row("demo", "uses truth", {"i": i}, "float64", 0.0 if truth == 6 else 1.0, 0.5)]


def always_raises(i):
    raise RuntimeError(f"broken point {i}")


def flaky(marker):
    """Fails the first time (on any worker), then passes."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first try fails")
    return [Row("demo", "flaky", {}, "float64", 0.0, 1.0)]


def sleepy(i, delay):
    time.sleep(delay)
    return [Row("demo", "slept", {"i": i}, "float64", 1e-16 * i, 1e-15)]


def test_shared_reference_is_computed_once_in_process(tmp_path):
    _CALLS.clear()
    ref = Reference(counted_truth, (3,))
    pts = make_points([Experiment(f"p{i}", uses_truth, {"i": i, "truth": ref})
                       for i in range(3)])
    store = ResultStore(tmp_path / "s")
    store.start({}, resume=False)
    with open_executor() as ex:
        recs, computed = run_points(pts, ex, store, progress=False)
    assert _CALLS == [3] and computed == 3
    assert all(r["status"] == "ok" and r["rows"][0]["passed"] for r in recs)


def _check_failures(recs):
    broken, ok = recs
    assert broken["status"] == "failed" and broken["attempts"] == 2
    row = Row.from_json(broken["rows"][0])
    assert not row.passed and math.isnan(row.error)
    assert row.quantity == "experiment raised RuntimeError: broken point 7"
    assert "always_raises" in row.note and "Traceback" in broken["error"]
    assert ok["status"] == "ok" and Row.from_json(ok["rows"][0]).passed


def test_point_failing_twice_is_a_failed_row_in_process(tmp_path):
    pts = make_points([Experiment("broken", always_raises, {"i": 7}),
                       Experiment("flaky", flaky, {"marker": str(tmp_path / "m")})])
    store = ResultStore(tmp_path / "s")
    store.start({}, resume=False)
    with open_executor() as ex:
        recs, _ = run_points(pts, ex, store, progress=False)
    _check_failures(recs)
    assert sorted(store.read()) == sorted(p.key for p in pts)


@pytest.fixture(scope="module")
def cluster_executor():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    with open_executor(workers=2) as ex:
        yield ex


def test_cluster_retries_then_reports_failures(tmp_path, cluster_executor):
    pts = make_points([Experiment("broken", always_raises, {"i": 7}),
                       Experiment("flaky", flaky, {"marker": str(tmp_path / "m")})])
    store = ResultStore(tmp_path / "s")
    store.start({}, resume=False)
    recs, _ = run_points(pts, cluster_executor, store, progress=False)
    _check_failures(recs)


def test_killed_worker_still_completes_with_all_rows(tmp_path, cluster_executor):
    ex = cluster_executor
    pts = make_points([Experiment(f"s{i}", sleepy, {"i": i, "delay": 0.4})
                       for i in range(16)])
    store = ResultStore(tmp_path / "s")
    store.start({}, resume=False)
    killed = []
    real = store.append

    def append(records):
        real(records)
        if not killed:  # after the first batch, kill a worker running a point
            pids = ex.client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    store.append = append
    recs, computed = run_points(pts, ex, store, progress=False)
    assert killed and computed == 16
    assert [r["status"] for r in recs] == ["ok"] * 16
    assert [Row.from_json(r["rows"][0]).params["i"] for r in recs] == list(range(16))
    assert len(store.read()) == 16
    ex.client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_local_cluster_gives_the_rows_of_the_in_process_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "_load_experiments", _subset_with_reference)
    a, b = tmp_path / "inproc", tmp_path / "cluster"
    assert cli.main(["verify", "--out", str(a), "--dtype", "float64", "--no-progress"]) == 0
    assert cli.main(["verify", "--out", str(b), "--dtype", "float64", "--no-progress",
                     "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "LocalCluster(2 processes), dashboard at http" in err
    rows_a, doc_a = _rows(a)
    rows_b, doc_b = _rows(b)
    assert len(rows_a) > 20 and rows_a == rows_b
    assert doc_a["meta"]["executor"] == "in-process"
    assert doc_b["meta"]["executor"] == "dask LocalCluster(2 processes)"
    assert any(r["params"].get("reference") == "arb kernel (large sweep)" for r in rows_b)
    assert not store_path(a).exists() and not store_path(b).exists()


def test_missing_distributed_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import raises ImportError
    monkeypatch.setattr(runner, "_load_experiments", _subset_with_reference)
    status = cli.main(["verify", "--out", str(tmp_path / "r"), "--workers", "2",
                       "--no-progress"])
    assert status == 2
    assert executor.INSTALL_HINT in capsys.readouterr().err


# --------------------------------------------------------------------------- resume


def test_sigint_then_resume_equals_an_uninterrupted_run(tmp_path):
    # enough points after the first two that the run cannot finish before the signal
    names = ["legs_N32", "legs_N16", "kernel_legs_N16", "kernel_legt_N16", "kernel_fout_N16",
             "kernel_lagt_N16", "kernel_diag_diag-lin_N16_zoh", "recurrence_dense_N16_L4096",
             "boundary_states", "hippo_legs_N16", "disc_legs_N8", "stability_legs_N16"]
    base = _statespace_cmd() + ["verify", "--dtype", "float64", "--no-progress", "--only",
                                *names]
    whole = tmp_path / "whole"
    proc = subprocess.run(base + ["--out", str(whole)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "rep"
    store = ResultStore(store_path(out))
    p = subprocess.Popen(base + ["--out", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while p.poll() is None and time.monotonic() < deadline:
        if store.folder.is_dir() and len(store.read()) >= 2:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == cli.EXIT_INTERRUPTED, err
    assert not out.exists()
    kept = len(store.read())
    assert 2 <= kept < len(names)
    proc = subprocess.run(base + ["--out", str(out), "--resume"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming: {kept} points done" in proc.stderr
    rows_whole, _ = _rows(whole)
    rows_resumed, doc = _rows(out)
    assert rows_resumed == rows_whole
    assert doc["meta"]["points_from_store"] == kept
    assert not store.folder.exists()
