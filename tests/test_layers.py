"""Architecture: imports point one way, no cycles, and the wheel installs one name.

Layers, from the bottom: the core (``statespace/*.py``), ``statespace.torch`` on the
core, ``statespace.verification`` (the repository's ``verification/`` folder), then
``statespace.cli``; ``benchmarks/`` is checkout-only tooling on top, never installed.
``tools/import_graph.py`` reads every import of the checkout (those inside functions
too) without importing anything.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _import_graph():
    spec = importlib.util.spec_from_file_location("_import_graph",
                                                  ROOT / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graph():
    ig = _import_graph()
    mods, edges = ig.graph(ROOT)
    return ig, mods, edges


def test_no_layer_break(graph):
    ig, mods, edges = graph
    assert "statespace.verification.runner" in mods and "statespace.cli" in mods
    breaks = [f"{a} ({ig.layer(a)}) -> {b} ({ig.layer(b)})" for a, b in ig.layer_breaks(edges)]
    assert not breaks, "imports against the layers:\n  " + "\n  ".join(breaks)


def test_no_import_cycle(graph):
    ig, mods, edges = graph
    cycles = ig.cycles(mods, edges)
    assert not cycles, "import cycles:\n  " + "\n  ".join(", ".join(c) for c in cycles)


def test_asv_package_imports_only_statespace_and_itself():
    """asv imports benchmarks/benchmarks as a top-level package named ``benchmarks``."""
    inner = ROOT / "benchmarks" / "benchmarks"
    for path in sorted(inner.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            bad = [n for n in names if n.split(".")[0] in ("benchmarks", "verification")]
            assert not bad, f"{path.name} imports {bad}: import the package's own modules " \
                "relatively"
    code = ("import importlib, pkgutil, benchmarks\n"
            "for m in pkgutil.iter_modules(benchmarks.__path__):\n"
            "    importlib.import_module('benchmarks.' + m.name)\n"
            "print(benchmarks.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "benchmarks",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).parent == inner


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a clean copy of the sources (no stale build/ folder)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("statespace", "verification", "benchmarks"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (whl,) = out.glob("statespace-*.whl")
    with zipfile.ZipFile(whl) as z:
        return z.namelist()


def test_wheel_installs_only_statespace(wheel):
    top = {n.split("/")[0] for n in wheel}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"statespace"}


def test_wheel_holds_every_module_and_the_reference_data(wheel):
    names = set(wheel)
    expected = {f"statespace/{p.relative_to(ROOT / 'statespace').as_posix()}"
                for p in (ROOT / "statespace").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {f"statespace/verification/{p.name}" for p in (ROOT / "verification").glob("*.py")}
    data = [p.name for p in (ROOT / "verification" / "data").iterdir()
            if p.suffix in (".npz", ".json")]
    assert data
    expected |= {f"statespace/verification/data/{name}" for name in data}
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
