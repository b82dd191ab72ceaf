"""Planted bugs: a catalogue of realistic one-line mistakes and the mutation score.

Each :class:`Mutant` is one small edit of the library (``statespace/``) or of the
verification layer itself (``verification/``, installed as
``statespace.verification``) of the kind made while optimising or refactoring:
a wrong sign or index, an off-by-one power, a step size halved in one place but
not in another, precision silently lost in float32 or in set-up work done in the
working dtype, a numerically naive formula, a reference at too few digits, a
tolerance made vacuous, a check that cannot fail.

:func:`run` applies each mutant, one at a time, to a temporary copy of the
checkout (``<tmp>/statespace/`` with the verification layer at
``<tmp>/statespace/verification/``, the installed layout) and runs
``statespace verify --quick`` against the copy in a subprocess with
``PYTHONPATH=<tmp>``; with ``tests=True`` also a targeted pytest selection.

The subprocess runs every experiment of the quick suite (both dtypes, NumPy), as
the command loads them, until the first failed row; experiments likely to fail
for the mutant's file run first (the verdict does not depend on the order). A
mutant is *caught* when a row fails: a wrong result, or, reported separately, an
experiment that raised (a crash the mutant caused, since the control passes); a
subprocess that dies otherwise counts as a crash with its exit status. When no
row fails, the command itself (``statespace verify --quick``) is run on the copy
and its exit status is the verdict. An unmutated control copy is run first in
both ways, after a check that ``statespace`` and ``statespace.verification``
import from the copy; if it does not pass, the harness, not a mutant, is broken
and nothing is scored.

Edits that change no result are not bugs and are kept out of the catalogue;
found so far: halving the skew part in ``decomp._normal_eig`` (it only selects
eigenvectors), flipping the sign of ``imag(V^H b)`` in ``decomp._project`` (the
phases are fixed so that ``V^H b`` is real), a float32 power table in the fused
Vandermonde kernel, a complex64 Woodbury step in ``kernel_dplr``, and complex64
nodes or numerators in its near-node recompute (errors unchanged to two digits on every
verified system: the node nearest each pole is recomputed in complex128, and a
node moved by a rounding is still evaluated consistently).

Command line::

    python -m statespace.verification.mutants [--tests] [--only ID ...] [--list]
                                              [--jobs N] [--root DIR]

prints a table and the score, and exits 1 unless ``verify --quick`` caught every
mutant.

Examples
--------
>>> from statespace.verification.mutants import CATALOGUE
>>> len(CATALOGUE) >= 20
True
>>> len({m.id for m in CATALOGUE}) == len(CATALOGUE)
True
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Mutant", "CATALOGUE", "find_root", "check_catalogue", "apply", "run", "table",
           "main"]


@dataclass(frozen=True)
class Mutant:
    """One planted bug.

    Parameters
    ----------
    id : str
        Short unique name.
    file : str
        Path relative to the repository root (``statespace/...`` or
        ``verification/...``).
    original : str
        Exact source snippet; must occur exactly once in ``file``.
    replacement : str
        What replaces it.
    kind : str
        The kind of mistake.
    why : str
        One line on why the mistake is realistic.
    tests : tuple of str, optional
        Test files (relative to the repository root) of the targeted pytest
        selection.
    """

    id: str
    file: str
    original: str
    replacement: str
    kind: str
    why: str
    tests: tuple = ()


_K = "tests/test_kernels.py"
_F32 = "tests/test_float32.py"
_FAST = "tests/test_fast.py"
_DISC = "tests/test_discretize.py"
_SUITE = "tests/test_suite.py"

#: The catalogue. The last entries are the adversary's: edits chosen to slip past
#: the suite as it stood, each answered by a row of the suite.
CATALOGUE = (
    # ------------------------------------------------------------------ hippo
    Mutant(
        "hippo-legs-diag", "statespace/hippo.py",
        "A = A - xp.eye(N, dtype=xp.float64, device=device) * (q + 1)[:, None]",
        "A = A - xp.eye(N, dtype=xp.float64, device=device) * q[:, None]",
        "off-by-one index",
        "-(n+1) on the diagonal written as -n when moving from 1- to 0-based indices",
        ("tests/test_hippo_mpmath.py",)),
    Mutant(
        "hippo-legt-parity", "statespace/hippo.py",
        "odd = ((k - n) % 2) == 1",
        "odd = ((k - n) % 2) == 0",
        "wrong sign",
        "the (-1)^(n-k) sign pattern tested on the wrong parity",
        ("tests/test_hippo_mpmath.py",)),
    Mutant(
        "hippo-legs-P", "statespace/hippo.py",
        "P = xp.sqrt(q + 0.5)[None, :]",
        "P = xp.sqrt(q + 1.0)[None, :]",
        "wrong constant",
        "sqrt(n + 1/2) misremembered as sqrt(n + 1)",
        ("tests/test_decomp.py",)),
    # ------------------------------------------------------------------ decomp
    Mutant(
        "decomp-rayleigh-conj", "statespace/decomp.py",
        "Lh = xp.sum(xp.conj(Vh) * _rmul(xp, S, Vh), axis=0)",
        "Lh = xp.sum(Vh * _rmul(xp, S, Vh), axis=0)",
        "lost conjugate",
        "the Rayleigh quotient v^H S v written as v^T S v (a real-valued habit)",
        ("tests/test_decomp.py",)),
    # ------------------------------------------------------------------ discretize
    Mutant(
        "disc-gbt-half-step", "statespace/discretize.py",
        "lhs = xp.broadcast_to(eye - (alpha * dtm) * A, batch + (N, N))",
        "lhs = xp.broadcast_to(eye - (alpha * dtm / 2) * A, batch + (N, N))",
        "step halved in one place only",
        "dt/2 of the bilinear rule applied on the implicit side while alpha already holds "
        "the 1/2",
        (_DISC,)),
    Mutant(
        "disc-phi1-naive", "statespace/discretize.py",
        "return xp.where(small, one + z / 2, _array.expm1(xp, zs) / zs)",
        "return xp.where(small, one + z / 2, (xp.exp(zs) - 1) / zs)",
        "numerically naive formula",
        "expm1 replaced by exp - 1 for a backend without a complex expm1",
        (_DISC,)),
    Mutant(
        "disc-log-bilinear", "statespace/discretize.py",
        "2 * xp.atanh(zs / 2))",
        "xp.atanh(zs / 2))",
        "missing factor",
        "log((1 + z/2)/(1 - z/2)) = 2 artanh(z/2) with the factor 2 forgotten",
        (_K, _DISC)),
    # ------------------------------------------------------------------ kernels
    Mutant(
        "kern-dplr-half", "statespace/kernels.py",
        "half = dd[:, None] / 2",
        "half = dd[:, None]",
        "step halved in one place only",
        "the discrete poles use dt while the Woodbury sigma keeps dt/2",
        (_K,)),
    Mutant(
        "kern-rhoL-sign", "statespace/kernels.py",
        "cc = _c_tilde_shifted(xp, lam, pp, cc, dd, L, halved, math.exp(-_RADIUS))",
        "cc = _c_tilde_shifted(xp, lam, pp, cc, dd, L, halved, math.exp(_RADIUS))",
        "wrong sign",
        "rho^L = exp(-R) taken from the node radius exp(+R/L) of the other convention",
        (_K,)),
    Mutant(
        "kern-f32-nodes-c64", "statespace/kernels.py",
        "z = _nodes(xp, L, count, shifted, c128, dev, growth)",
        "z = _nodes(xp, L, count, shifted, cdt, dev, growth)",
        "float32-only precision loss",
        "set-up work (the nodes) done in the working dtype to save a cast",
        (_F32,)),
    Mutant(
        "kern-f32-near-node-skip", "statespace/kernels.py",
        "if cdt != c128 and not shifted:",
        "if cdt != c128 and shifted:",
        "inverted condition (float32 only)",
        "the near-node recompute's condition inverted while renaming tilde/shifted",
        (_F32,)),
    Mutant(
        "kern-f32-near-node-angle", "statespace/kernels.py",
        "re, im = _cis_quarter(xp, 4 * xp.astype(j, xp.int64), L)",
        "re, im = _cis_quarter(xp, 2 * xp.astype(j, xp.int64), L)",
        "wrong node (float32 only)",
        "the shifted-node angle pi/L reused for the roots of unity 2 pi/L",
        (_F32,)),
    # ------------------------------------------------------------------ reductions
    Mutant(
        "fast-fold-sign", "statespace/_fast_cpu.py",
        "return dr * (i1 + i2), -(e1 + e2), dr * (i1 - i2), e2 - e1",
        "return dr * (i1 + i2), -(e1 + e2), dr * (i1 - i2), e1 - e2",
        "wrong sign",
        "the folded conjugate-pair difference subtracted in the wrong order",
        (_FAST,)),
    Mutant(
        "fast-comp-lo-sign", "statespace/_fast_cpu.py",
        "di = (zi[j] - b) + (zli[j] - bl)",
        "di = (zi[j] - b) + (zli[j] + bl)",
        "wrong sign (float32 compensated path only)",
        "the low part of the pole added instead of subtracted in the compensated difference",
        (_FAST, _F32)),
    Mutant(
        "fast-vand-doubling-sign", "statespace/_fast_cpu.py",
        "hi[j] = tr[j] * ei + ti[j] * er",
        "hi[j] = tr[j] * ei - ti[j] * er",
        "wrong sign",
        "the imaginary part of a hand-expanded complex product with a sign slip",
        (_FAST, _F32)),
    # ------------------------------------------------------------------ conv, recurrence
    Mutant(
        "conv-fft-length", "statespace/conv.py",
        "n = fft_length(Lu + Lk - 1)",
        "n = fft_length(max(Lu, Lk))",
        "off-by-one length (circular aliasing)",
        "the padded FFT length shortened to save memory, so the linear convolution wraps",
        ("tests/test_conv.py", "tests/test_recurrence_conv.py")),
    Mutant(
        "recur-halved-real", "statespace/recurrence.py",
        "y = 2 * _array.real(xp, y)",
        "y = _array.real(xp, y)",
        "missing factor",
        "the conjugate half's factor 2 dropped when taking the real part",
        ("tests/test_recurrence.py", "tests/test_recurrence_conv.py")),
    # ------------------------------------------------------------------ boundary
    Mutant(
        "bound-ct-sign", "statespace/boundary.py",
        "Ct = -xp.matmul(Cf[..., None, :], Y)[..., 0, :]",
        "Ct = xp.matmul(Cf[..., None, :], Y)[..., 0, :]",
        "wrong sign",
        "C (I - Ad^L) = -C (Ad^L - I) with the minus lost",
        ("tests/test_boundary.py",)),
    Mutant(
        "bound-power-off-by-one", "statespace/boundary.py",
        "return -_array.expm1(xp, L * logd)",
        "return -_array.expm1(xp, (L - 1) * logd)",
        "off-by-one power",
        "1 - Ad^L written with the last lag index L - 1",
        ("tests/test_boundary.py",)),
    # ------------------------------------------------------------------ verification
    Mutant(
        "ver-dps-low", "verification/suite.py",
        "_DPS = 30  # base precision",
        "_DPS = 12  # base precision",
        "reference at too few digits",
        "the reference precision lowered to speed up the run",
        (_SUITE,)),
    Mutant(
        "ver-relerr-wrong-array", "verification/report.py",
        "scale = float(np.max(np.abs(d)))",
        "scale = float(np.max(np.abs(a)))",
        "relative error against the wrong array",
        "the scale taken from the computed array, which a wrong result also scales",
        ("tests/test_report.py",)),
    Mutant(
        "ver-row-cannot-fail", "verification/report.py",
        "            bool(self.passed) and strict and within)",
        "            bool(self.passed) or (strict and within))",
        "check that cannot fail",
        "a forced failure (reference not converged) overridden by a small error",
        ("tests/test_report.py",)),
    Mutant(
        "ver-dplr-tol-vacuous", "verification/bounds.py",
        "lambda N, L, eps, M, **_: N * (math.log2(max(L, 2)) + M) * eps)",
        "lambda N, L, eps, M, **_: N * (math.log2(max(L, 2)) + M) * eps * L)",
        "tolerance made vacuous",
        "a tolerance widened by a factor L to silence a failing row",
        (_SUITE,)),
    # ------------------------------------------------------------------ adversary
    Mutant(
        "adv-converged-same-dps", "verification/reference.py",
        "hi = fn(*args, dps=dps + extra, **kwargs)",
        "hi = fn(*args, dps=dps, **kwargs)",
        "check that cannot fail",
        "the check run made at the base precision: the two runs always agree",
        ("tests/test_reference.py",)),
    Mutant(
        "adv-trained-best-channel", "verification/suite.py",
        "worst = int(np.argmax(err))",
        "worst = int(np.argmin(err))",
        "check that cannot fail (wrong reduction)",
        "the reported channel picked with argmin after a copy-paste from a 'best dt' plot",
        (_SUITE,)),
    Mutant(
        "adv-compare-self", "verification/report.py",
        "err = relative_error(a, d)",
        "err = relative_error(a, a)",
        "check that cannot fail",
        "a rename leaves the comparison against the result itself",
        ("tests/test_report.py",)),
)


# --------------------------------------------------------------------------- harness


def find_root(start=None):
    """The repository root: the folder holding ``statespace/`` and ``verification/``.

    Parameters
    ----------
    start : path-like, optional
        Where to look from (default: this file's checkout).

    Returns
    -------
    root : pathlib.Path

    Raises
    ------
    FileNotFoundError
        When no such folder is found above ``start``.

    Examples
    --------
    >>> from statespace.verification.mutants import find_root
    >>> (find_root() / "verification" / "mutants.py").is_file()
    True
    """
    p = Path(start or Path(__file__).resolve()).resolve()
    for d in (p, *p.parents):
        if (d / "statespace").is_dir() and (d / "verification").is_dir():
            return d
    raise FileNotFoundError(f"no statespace checkout above {p}")


def check_catalogue(root=None, catalogue=CATALOGUE):
    """Problems with the catalogue on the tree at ``root`` (empty list: well formed).

    Parameters
    ----------
    root : path-like, optional
        Repository root (default: :func:`find_root`).
    catalogue : sequence of Mutant, optional
        Default: :data:`CATALOGUE`.

    Returns
    -------
    problems : list of str
        Each ``original`` must occur exactly once in its file and differ from its
        replacement, each test file must exist, and the ids must be unique.

    Examples
    --------
    >>> from statespace.verification.mutants import check_catalogue
    >>> check_catalogue()
    []
    """
    root = find_root(root)
    problems = []
    seen = set()
    for m in catalogue:
        if m.id in seen:
            problems.append(f"{m.id}: duplicate id")
        seen.add(m.id)
        path = root / m.file
        if not path.is_file():
            problems.append(f"{m.id}: no file {m.file}")
            continue
        n = path.read_text().count(m.original)
        if n != 1:
            problems.append(f"{m.id}: original occurs {n} times in {m.file}")
        if m.original == m.replacement:
            problems.append(f"{m.id}: replacement equals original")
        for t in m.tests:
            if not (root / t).is_file():
                problems.append(f"{m.id}: no test file {t}")
    return problems


_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def _copy_tree(root, dest):
    """The installed layout under ``dest``: statespace/ with verification/ inside it."""
    shutil.copytree(root / "statespace", dest / "statespace", ignore=_IGNORE)
    shutil.copytree(root / "verification", dest / "statespace" / "verification", ignore=_IGNORE)
    shutil.copytree(root / "tests", dest / "tests", ignore=_IGNORE)
    shutil.copy2(root / "pyproject.toml", dest / "pyproject.toml")


def _target(dest, file):
    if file.startswith("verification/"):
        return dest / "statespace" / file
    return dest / file


def apply(mutant, dest):
    """Apply ``mutant`` to the copy at ``dest``.

    Parameters
    ----------
    mutant : Mutant
        The edit.
    dest : pathlib.Path
        A copy in the installed layout (``dest/statespace/verification/...``); a
        ``verification/`` file of the catalogue lands there.

    Raises
    ------
    ValueError
        If the original snippet does not occur exactly once.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from statespace.verification.mutants import CATALOGUE, apply
    >>> m = CATALOGUE[0]
    >>> d = Path(tempfile.mkdtemp())
    >>> f = d / m.file
    >>> f.parent.mkdir(parents=True)
    >>> _ = f.write_text(m.original)
    >>> apply(m, d)
    >>> m.replacement in f.read_text()
    True
    """
    path = _target(dest, mutant.file)
    text = path.read_text()
    if text.count(mutant.original) != 1:
        raise ValueError(f"{mutant.id}: original snippet not found exactly once")
    path.write_text(text.replace(mutant.original, mutant.replacement))


def _env(dest):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(dest)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


#: Experiments run first for a mutant of each file (the verdict does not depend on the
#: order, only the time to the first failed row does).
_FIRST = {
    "statespace/hippo.py": ("hippo_", "legs_"),
    "statespace/decomp.py": ("legs_", "kernel_legs"),
    "statespace/discretize.py": ("disc_", "kernel_diag"),
    "statespace/kernels.py": ("kernel_trained", "kernel_legs", "boundary_"),
    "statespace/_fast_cpu.py": ("kernel_diag", "kernel_trained", "kernel_legs"),
    "statespace/conv.py": ("recurrence_",),
    "statespace/recurrence.py": ("recurrence_",),
    "statespace/boundary.py": ("boundary_",),
    "verification/": ("verifier_selfcheck", "hippo_", "disc_"),
}


def _first(mutant):
    if mutant is None:
        return ()
    for k, v in _FIRST.items():
        if mutant.file.startswith(k):
            return v
    return ()


# Every experiment of `statespace verify --quick` (both dtypes, numpy), as the command
# loads them, run until the first failed row; the order hint (argv[1:]) only reorders.
_FAST_VERIFY = """
import json, sys
from statespace.verification import report, runner
runner._reference_data_note()
exps, _ = runner._load_experiments(True, ("float32", "float64"), "numpy")
first = tuple(sys.argv[1:])
exps.sort(key=lambda e: not (first and e.name.startswith(first)))
for e in exps:
    rows, _, _ = report._execute(e)
    bad = [r for r in rows if not r.passed]
    if bad:
        print(json.dumps({"experiment": e.name, "failed": len(bad),
                          "raised": bad[0].quantity.startswith("experiment raised"),
                          "quantity": bad[0].quantity}))
        sys.exit(1)
"""

_SMOKE = ("import statespace, statespace.verification as v; "
          "print(statespace.__file__); print(v.__file__)")

_VERIFY = ("import sys; from statespace.cli import main; "
           "sys.exit(main(['verify', '--quick', '--no-progress', '--out', sys.argv[1]]))")


def _smoke(dest):
    """``statespace`` and ``statespace.verification`` must resolve to the copy."""
    out = subprocess.run([sys.executable, "-c", _SMOKE], cwd=dest, env=_env(dest),
                         capture_output=True, text=True, check=True).stdout.split()
    for f in out:
        if not Path(f).resolve().is_relative_to(Path(dest).resolve()):
            raise RuntimeError(f"the subprocess imported {f}, not the copy under {dest}")
    return out


def _failed_rows(report):
    try:
        rows = json.loads(Path(report).read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sum(1 for r in rows if not r.get("passed"))


def _verify_fast(dest, first, timeout):
    """The quick suite to its first failed row; ``None`` when every row passed."""
    try:
        p = subprocess.run([sys.executable, "-c", _FAST_VERIFY, *first], cwd=dest,
                           env=_env(dest), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "caught (timeout)", None, "timed out"
    tail = (p.stdout + p.stderr)[-2000:]
    if p.returncode == 0:
        return None, 0, tail
    if p.returncode == 1:
        try:
            info = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return f"caught (crash, exit {p.returncode})", p.returncode, tail
        how = "exception in " if info["raised"] else "rows failed in "
        return f"caught ({how}{info['experiment']})", 1, tail
    return f"caught (crash, exit {p.returncode})", p.returncode, tail


def _verify(dest, timeout, first=()):
    t0 = time.perf_counter()
    if first is not None:
        verdict, rc, tail = _verify_fast(dest, first, timeout)
        if verdict is not None:
            return {"verify": verdict, "verify_rc": rc, "verify_s": time.perf_counter() - t0,
                    "verify_tail": tail}
    # nothing failed so far: the verdict is the command's own exit status
    out = dest / "report"
    try:
        p = subprocess.run([sys.executable, "-c", _VERIFY, str(out)], cwd=dest, env=_env(dest),
                           capture_output=True, text=True, timeout=timeout)
        rc, tail = p.returncode, (p.stdout + p.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        rc, tail = None, "timed out"
    sec = time.perf_counter() - t0
    if rc == 0:
        verdict = "missed (passed)"
    elif rc == 1:
        n = _failed_rows(out / "report.json")
        verdict = f"caught ({n} rows)" if n else "caught"
    elif rc is None:
        verdict = "caught (timeout)"
    else:
        verdict = f"caught (crash, exit {rc})"
    return {"verify": verdict, "verify_rc": rc, "verify_s": sec, "verify_tail": tail}


def _pytest(dest, files, timeout):
    if not files:
        return {"tests": "n/a", "tests_s": 0.0}
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            "--no-header", *files], cwd=dest, env=_env(dest),
                           capture_output=True, text=True, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc = None
    verdict = {0: "missed", 1: "caught", None: "caught (timeout)"}.get(rc, f"error (exit {rc})")
    return {"tests": verdict, "tests_s": time.perf_counter() - t0}


def _one(root, mutant, tests, timeout):
    with tempfile.TemporaryDirectory(prefix="ss-mutant-") as tmp:
        dest = Path(tmp)
        _copy_tree(root, dest)
        if mutant is not None:
            apply(mutant, dest)
        else:
            _smoke(dest)
        res = {"id": mutant.id if mutant else "(control)"}
        res.update(_verify(dest, timeout, _first(mutant)))
        if tests:
            files = mutant.tests if mutant else ()
            res.update(_pytest(dest, files, timeout))
        return res


def run(ids=None, *, tests=False, jobs=2, root=None, timeout=900, log=print):
    """Run the catalogue (or the mutants ``ids``): one result dict per mutant.

    Parameters
    ----------
    ids : sequence of str, optional
        Mutant ids (default: all).
    tests : bool, optional
        Also run each mutant's targeted pytest selection.
    jobs : int, optional
        Mutants run in parallel (default 2).
    root : path-like, optional
        Repository root (default: :func:`find_root`).
    timeout : float, optional
        Seconds per subprocess.
    log : callable, optional
        Progress lines (default ``print``).

    Returns
    -------
    results : list of dict
        Keys ``id``, ``file``, ``kind``, ``verify`` (``"caught ..."`` or
        ``"missed (passed)"``), ``verify_s``; with ``tests`` also ``tests``.

    Raises
    ------
    RuntimeError
        If ``verify --quick`` does not pass on the unmutated control copy.
    ValueError
        If the catalogue is malformed or an id is unknown.

    Examples
    --------
    >>> from statespace.verification.mutants import run
    >>> run(["no-such-mutant"])
    Traceback (most recent call last):
    ...
    ValueError: unknown mutant ids: ['no-such-mutant']
    """
    root = find_root(root)
    problems = check_catalogue(root)
    if problems:
        raise ValueError("malformed catalogue:\n" + "\n".join(problems))
    chosen = [m for m in CATALOGUE if ids is None or m.id in ids]
    if ids is not None and len(chosen) != len(set(ids)):
        unknown = sorted(set(ids) - {m.id for m in CATALOGUE})
        raise ValueError(f"unknown mutant ids: {unknown}")
    control = _one(root, None, False, timeout)
    ok = "passed" if control["verify_rc"] == 0 else control["verify"]
    log(f"control (unmutated copy): {ok} in {control['verify_s']:.0f} s")
    if control["verify_rc"] != 0:
        raise RuntimeError("verify --quick fails on the unmutated copy:\n"
                           + control["verify_tail"])
    with ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futs = [pool.submit(_one, root, m, tests, timeout) for m in chosen]
        results = []
        for m, f in zip(chosen, futs, strict=True):
            r = f.result()
            r.update(file=m.file, kind=m.kind)
            log(f"  {m.id}: verify {r['verify']} ({r['verify_s']:.0f} s)"
                + (f", tests {r['tests']}" if tests else ""))
            results.append(r)
    return results


def table(results, tests=False):
    """The Markdown score table of :func:`run`'s results.

    Parameters
    ----------
    results : list of dict
        From :func:`run`.
    tests : bool, optional
        Include the tests column.

    Returns
    -------
    markdown : str

    Examples
    --------
    >>> from statespace.verification.mutants import table
    >>> r = {"id": "m", "file": "f.py", "kind": "k", "verify": "caught"}
    >>> table([r]).splitlines()[-1]
    'verify --quick: 1/1 caught'
    """
    head = "| mutant | file | kind | verify --quick |" + (" tests |" if tests else "")
    sep = "|---|---|---|---|" + ("---|" if tests else "")
    lines = [head, sep]
    for r in results:
        line = f"| `{r['id']}` | `{r['file']}` | {r['kind']} | {r['verify']} |"
        if tests:
            line += f" {r['tests']} |"
        lines.append(line)
    n = len(results)
    caught = sum(r["verify"].startswith("caught") for r in results)
    lines.append("")
    lines.append(f"verify --quick: {caught}/{n} caught")
    if tests:
        t = sum(r["tests"].startswith("caught") for r in results)
        lines.append(f"targeted tests: {t}/{n} caught")
    return "\n".join(lines)


def main(argv=None):
    """Command line: print the score table; exit 1 unless verify caught every mutant.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 when ``verify --quick`` caught every mutant run, else 1.

    Examples
    --------
    >>> from statespace.verification.mutants import main
    >>> main(["--list"])  # doctest: +ELLIPSIS
    hippo-legs-diag ...
    0
    """
    ap = argparse.ArgumentParser(prog="python -m statespace.verification.mutants",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", action="store_true", help="also run the targeted tests")
    ap.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the catalogue and exit")
    ap.add_argument("--jobs", type=int, default=2, help="parallel mutants (default 2)")
    ap.add_argument("--root", default=None, help="repository root (default: this checkout)")
    args = ap.parse_args(argv)
    if args.list:
        for m in CATALOGUE:
            print(f"{m.id:28s} {m.file:28s} {m.kind}: {m.why}")
        return 0
    t0 = time.perf_counter()
    results = run(args.only, tests=args.tests, jobs=args.jobs, root=args.root)
    print()
    print(table(results, tests=args.tests))
    print(f"catalogue run: {time.perf_counter() - t0:.0f} s")
    return 0 if all(r["verify"].startswith("caught") for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
