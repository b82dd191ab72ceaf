"""Integrity of ``statespace verify``: tamper-evident reference data, atomic and locked reports.

The reference data is checked against ``MANIFEST.json`` on every load; a changed
file stops the run with exit status 2 naming the file. The report folder is written
into a temporary sibling and swapped into place under a lock, so an interrupted run
leaves the previous complete report and no leftovers, and a second concurrent run
on the same folder is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from statespace import cli
from statespace.verification import folder, make_data, rendering, report, runner, suite
from statespace.verification.report import Row
from statespace.verification.store import ResultStore, store_path

# --------------------------------------------------------------------------- helpers


def _statespace_cmd():
    exe = shutil.which("statespace", path=os.path.dirname(sys.executable))
    return [exe] if exe else [sys.executable, "-m", "statespace.cli"]


def _copy_data(dst):
    dst.mkdir(parents=True, exist_ok=True)
    for name in (make_data.NPZ, make_data.INDEX, make_data.MANIFEST):
        shutil.copy(make_data.DATA_DIR / name, dst / name)
    return dst


def _rewrite_npz(folder, change):
    """Rewrite ``reference.npz`` with ``change(key, array) -> array`` applied."""
    path = folder / make_data.NPZ
    with np.load(path) as z:
        arrays = {k: change(k, z[k]) for k in z.files}
    tmp = folder / "rewritten.npz"
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


_KERNEL_EXPS = ("hippo_legs_N16", "kernel_legs_N16")


def _suite_subset(names):
    def load(quick, dtypes, backend):
        exps = [e for e in suite.experiments(quick=quick, dtypes=dtypes, backend=backend)
                if e.name in names]
        return exps, runner.SOURCE

    return load


def _plot(name):
    return {"name": name, "title": name, "series": [{"label": "a", "x": [1, 2, 3],
                                                     "y": [1.0, 0.5, 0.25]}]}


def exp_with_plots():
    rows = [Row("demo", "x", {}, "float64", 1e-17, 1e-15),
            Row("demo", "y", {}, "float32", 1e-8, 1e-6)]
    return rows, [_plot("first"), _plot("second"), _plot("third")]


def exp_interrupted():
    raise KeyboardInterrupt


def _png_run_id(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.text.get("statespace-run")


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _assert_complete(folder):
    """One run's report: md and json of the same run, exactly the plots it lists."""
    doc = json.loads((folder / "report.json").read_text())
    run_id = doc["meta"]["run_id"]
    md = (folder / "report.md").read_text()
    assert f"- run_id: {run_id}" in md
    listed = {p["file"] for p in doc["plots"]}
    present = {p.name for p in folder.glob("*.png")}
    assert listed == present
    for name in present:
        assert _png_run_id(folder / name) == run_id, name
    assert set(os.listdir(folder)) == {"report.md", "report.json"} | present
    return run_id


def _leftovers(out):
    """Temporary siblings of ``out``; the results store (``.NAME.store``) is not one: it
    is kept on purpose after an interrupted run, for ``--resume``."""
    return sorted(p.name for p in out.parent.iterdir()
                  if p.name.startswith(f".{out.name}.") and p.name != f".{out.name}.store")


# --------------------------------------------------------------------------- reference data


def test_shipped_manifest_matches_the_data():
    digests = make_data.check_data(make_data.DATA_DIR)
    manifest = json.loads((make_data.DATA_DIR / make_data.MANIFEST).read_text())
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == digests
    assert manifest["command"] == make_data.REGENERATE
    assert set(manifest["parameters"]["specs"]) == set(make_data.SPECS)


@pytest.mark.parametrize("tamper", ["scale_kernels", "float64_kernel", "index", "no_manifest"])
def test_tampered_reference_data_stops_the_run(tmp_path, monkeypatch, capsys, tamper):
    data = _copy_data(tmp_path / "data")
    bad_file = data / make_data.NPZ
    if tamper == "scale_kernels":  # every cached kernel times 1 + 1e-13
        _rewrite_npz(data, lambda k, a: a * (1 + 1e-13) if k.startswith("kernel_") and
                     k.split("/")[1] in ("K", "K_lo") else a)
    elif tamper == "float64_kernel":  # one kernel replaced by a float64-only value
        _rewrite_npz(data, lambda k, a: np.zeros_like(a)
                     if k == "kernel_legs_N16_L4096_bilinear/K_lo" else a)
    elif tamper == "index":
        bad_file = data / make_data.INDEX
        text = bad_file.read_text().replace('"digits_agree": 40.0', '"digits_agree": 41.0', 1)
        bad_file.write_text(text)
    else:
        bad_file = data / make_data.MANIFEST
        bad_file.unlink()
    monkeypatch.setenv(make_data.DATA_ENV, str(data))
    with pytest.raises(make_data.ReferenceDataError, match=str(bad_file)):
        make_data.load("kernel_legs_N16_L4096_bilinear")
    monkeypatch.setattr(runner, "_load_experiments", _suite_subset(_KERNEL_EXPS))
    out = tmp_path / "rep"
    status = cli.main(["verify", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert str(bad_file) in err and make_data.REGENERATE in err
    assert not out.exists() and not _leftovers(out)


def test_rows_say_cached_with_digest_or_live(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_load_experiments", _suite_subset(_KERNEL_EXPS))
    out = tmp_path / "rep"
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    doc = json.loads((out / "report.json").read_text())
    digest = make_data.check_data(make_data.DATA_DIR)[make_data.NPZ][:12]
    assert f"reference.npz sha256:{digest}" in doc["meta"]["reference_data"]
    kernel_rows = [r for r in doc["rows"] if r["params"].get("path") == "kernel_dense"]
    assert kernel_rows
    for r in kernel_rows:
        assert f"reference: cached kernel_legs_N16_L4096_bilinear (reference.npz " \
               f"sha256:{digest}" in r["note"]
    hippo_rows = [r for r in doc["rows"] if r["experiment"] == suite.EXP_HIPPO]
    assert hippo_rows and all("reference: computed live" in r["note"] for r in hippo_rows)


def test_missing_cache_is_stated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(make_data.DATA_ENV, str(tmp_path / "nothing"))
    monkeypatch.setattr(runner, "_load_experiments", _suite_subset(("hippo_legs_N16",)))
    out = tmp_path / "rep"
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    assert "computed live" in capsys.readouterr().err
    doc = json.loads((out / "report.json").read_text())
    assert doc["meta"]["reference_data"].startswith("NOT FOUND")
    assert "- reference_data: NOT FOUND" in (out / "report.md").read_text()


def test_manifest_only_rewrites_the_manifest(tmp_path, capsys):
    data = _copy_data(tmp_path / "data")
    (data / make_data.MANIFEST).unlink()
    assert make_data.main(["--manifest-only", "--data-dir", str(data)]) == 0
    assert make_data.check_data(data) == make_data.check_data(make_data.DATA_DIR)
    assert "sha256" in capsys.readouterr().out


# --------------------------------------------------------------------------- report folder


@pytest.fixture(params=["exchange", "rename"])
def swap(request, monkeypatch):
    """Both ways of putting the new folder in place: atomic exchange, two renames."""
    if request.param == "rename":
        monkeypatch.setattr(folder, "_exchange", lambda a, b: False)
    return request.param


def _interrupt_plots(monkeypatch):
    real, calls = report._render_plot, []

    def render(spec, path, run_id=None):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(spec, path, run_id)

    monkeypatch.setattr(rendering, "_render_plot", render)


def _interrupt_publish(monkeypatch):
    def publish(tmp, out):
        assert (tmp / "report.md").exists()  # everything written, nothing renamed yet
        raise KeyboardInterrupt

    monkeypatch.setattr(rendering, "_publish", publish)


def _interrupt_experiments(monkeypatch):
    monkeypatch.setattr(runner, "_load_experiments",
                        lambda q, d, b: ([exp_with_plots, exp_interrupted], "test"))


@pytest.mark.parametrize("where", [_interrupt_experiments, _interrupt_plots, _interrupt_publish],
                         ids=["experiments", "plots", "before-rename"])
def test_interrupted_run_leaves_the_previous_report(tmp_path, monkeypatch, capsys, swap, where):
    out = tmp_path / "rep"
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_with_plots], "test"))
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    first = _assert_complete(out)
    before = _snapshot(out)
    where(monkeypatch)
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert _snapshot(out) == before and _assert_complete(out) == first
    assert not _leftovers(out)
    # the completed point is kept in the results store for --resume
    kept = ResultStore(store_path(out)).read()
    assert [r["name"] for r in kept.values()] == ["exp_with_plots"]


def test_rerun_replaces_the_report_as_a_whole(tmp_path, monkeypatch, swap):
    out = tmp_path / "rep"
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_with_plots], "test"))
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    first = _assert_complete(out)
    (out / "stale.png").write_bytes((out / "first.png").read_bytes())  # from an older run
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    assert _assert_complete(out) != first
    assert not (out / "stale.png").exists() and not _leftovers(out)


def test_leftovers_of_a_killed_run_are_cleaned_up(tmp_path, monkeypatch):
    out = tmp_path / "rep"
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_with_plots], "test"))
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    (tmp_path / ".rep.tmp-1-dead").mkdir()  # a write killed before its swap
    (tmp_path / ".rep.tmp-1-dead" / "report.md").write_text("half")
    shutil.move(out, tmp_path / ".rep.old-1-dead")  # a swap killed between its renames
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 0
    _assert_complete(out)
    assert not _leftovers(out)


def test_sigint_never_leaves_a_mixed_report(tmp_path):
    """A real Ctrl-C at several moments of a small run of the real suite."""
    out = tmp_path / "rep"
    cmd = _statespace_cmd() + ["verify", "--only", "legs_N16", "hippo_legs_N16", "--dtype",
                               "float64", "--out", str(out), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    duration = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    ids = {_assert_complete(out)}
    interrupted = 0
    for frac in (0.3, 0.6, 0.8, 0.95):
        before = _snapshot(out)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(frac * duration)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=300)
        run_id = _assert_complete(out)
        if run_id in ids:  # interrupted: the previous report, byte for byte
            assert _snapshot(out) == before
            interrupted += 1
        ids.add(run_id)
        assert not _leftovers(out), (frac, _leftovers(out))
    assert interrupted, "no run was interrupted"


def test_out_must_be_usable_before_any_work(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for bad in (a_file, tmp_path / "missing" / "rep", foreign):
        t0 = time.perf_counter()
        proc = subprocess.run(_statespace_cmd() + ["verify", "--out", str(bad)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert time.perf_counter() - t0 < 20
        assert "--out" in proc.stderr and "experiments from" not in proc.stderr
    assert a_file.read_text() == "not a folder" and os.listdir(foreign) == ["notes.txt"]


def test_second_concurrent_run_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "rep"
    cmd = _statespace_cmd() + ["verify", "--only", "legs_N16", "--dtype", "float64", "--out",
                               str(out), "--no-progress"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".rep.lock"
    deadline = time.monotonic() + 60
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lock.exists(), "the first run never took the lock"
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_with_plots], "test"))
    assert cli.main(["verify", "--out", str(out), "--no-progress"]) == 2
    assert "being written by another run" in capsys.readouterr().err
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert json.loads((out / "report.json").read_text())["meta"]["only"] == ["legs_N16"]
    assert not _leftovers(out)


def test_stale_lock_is_taken_over(tmp_path, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".rep.lock").write_text(f"{dead.pid}\n")
    monkeypatch.setattr(runner, "_load_experiments", lambda q, d, b: ([exp_with_plots], "test"))
    assert cli.main(["verify", "--out", str(tmp_path / "rep"), "--no-progress"]) == 0
    assert not _leftovers(tmp_path / "rep")
