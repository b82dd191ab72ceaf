"""The documentation site builds with warnings as errors (the README's docs command).

Runs Sphinx in a subprocess into a temporary folder, so the checkout's ``docs/_build``
is left alone; the API stubs that autosummary writes under ``docs/api/generated/`` are
git-ignored build products.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("sphinx", reason="the docs tools come with the test extra")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           os.path.join(ROOT, "docs"), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    for page in ("index", "getting-started", "validation", "theory", "precision", "verification",
                 "benchmarks", "torch", "float32"):
        assert (out / f"{page}.html").exists(), page
    assert (out / "api" / "index.html").exists()
