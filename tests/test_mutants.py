"""The planted-bug catalogue (statespace.verification.mutants).

The fast tests check that the catalogue is well formed on the current tree: every
original snippet occurs exactly once in its file, so each mutant still applies. The
slow test runs the whole catalogue (each mutant on a temporary copy, ``statespace
verify --quick`` in a subprocess to its first failed row: ~7 minutes on 2 busy
cores) and requires every
mutant to be caught.
"""

import pytest

from statespace.verification import mutants


def test_catalogue_is_well_formed():
    assert mutants.check_catalogue() == []
    assert len(mutants.CATALOGUE) >= 20
    ids = [m.id for m in mutants.CATALOGUE]
    assert len(set(ids)) == len(ids)


def test_catalogue_covers_library_and_verifier():
    files = {m.file for m in mutants.CATALOGUE}
    for f in ("statespace/hippo.py", "statespace/decomp.py", "statespace/discretize.py",
              "statespace/kernels.py", "statespace/_fast_cpu.py", "statespace/conv.py",
              "statespace/recurrence.py", "statespace/boundary.py", "verification/suite.py",
              "verification/rows.py"):
        assert f in files
    assert any("float32" in m.kind for m in mutants.CATALOGUE)


def test_check_catalogue_reports_a_stale_snippet():
    bad = mutants.Mutant("stale", "statespace/hippo.py", "no such line ~~", "x", "k", "w")
    twice = mutants.Mutant("twice", "statespace/hippo.py", "import", "x", "k", "w")
    problems = mutants.check_catalogue(catalogue=(bad, twice, bad))
    assert any("stale: original occurs 0 times" in p for p in problems)
    assert any("twice: original occurs" in p for p in problems)
    assert any("duplicate id" in p for p in problems)


def test_apply_patches_the_copy_only(tmp_path):
    root = mutants.find_root()
    m = mutants.CATALOGUE[0]
    mutants._copy_tree(root, tmp_path)
    mutants.apply(m, tmp_path)
    assert m.replacement in (tmp_path / m.file).read_text()
    assert m.original in (root / m.file).read_text()
    v = next(x for x in mutants.CATALOGUE if x.file.startswith("verification/"))
    mutants.apply(v, tmp_path)
    assert v.replacement in (tmp_path / "statespace" / v.file).read_text()


def test_smoke_imports_resolve_to_the_copy(tmp_path):
    mutants._copy_tree(mutants.find_root(), tmp_path)
    files = mutants._smoke(tmp_path)
    assert len(files) == 2
    assert all(str(tmp_path) in f for f in files)


@pytest.mark.slow
def test_every_mutant_is_caught_by_verify_quick():
    results = mutants.run(jobs=2, log=lambda *a: None)
    missed = [r["id"] for r in results if not r["verify"].startswith("caught")]
    assert missed == []
