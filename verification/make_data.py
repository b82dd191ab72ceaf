r"""Cached ground truth: generate once with mpmath, ship, load in tests and the suite.

Run ``python -m statespace.verification.make_data`` to (re)generate every dataset (a few
minutes on one core; ``--workers 2`` halves it), ``--only NAME...`` to
regenerate some, ``--list`` to see what exists. Each dataset is computed by
:func:`statespace.verification.reference.converged` at ``dps`` and ``dps + 20`` digits and
is written only if the runs agree on at least :data:`REQUIRED_DIGITS` digits.

Files
-----
``verification/data/reference.npz`` (compressed) holds every array; a real
value ``x`` is stored as the float64 pair ``x`` (rounded to nearest) and
``x_lo`` (the rounded remainder), about 32 significant digits together;
complex values as ``x`` (complex128) plus ``x_lo`` (complex128 remainders).
``verification/data/reference.json`` is the index (below), and
``verification/data/MANIFEST.json`` records the SHA-256 digest and size of both
files with the parameters of the command that wrote them. Every read checks the
digests (:func:`check_data`): a file changed by even one bit since the manifest
was written (rescaled values, a dataset replaced by a float64 computation) is
refused with :class:`ReferenceDataError`, naming the file and the command that
regenerates it. ``--manifest-only`` rewrites the manifest for the files as they
are, without recomputing anything (after a deliberate, reviewed change).

The environment variable ``STATESPACE_REFERENCE_DATA`` names another data folder
(same three files) to read instead of the shipped one.

The index::

    {"schema": "statespace-reference-data", "version": 1,
     "mpmath": "1.3.0", "generated": "<ISO time>",
     "datasets": {NAME: {"kind": ..., "measure": ..., "N": ..., "dps": ...,
                         "extra": 20, "digits_agree": ..., "norm": ...,
                         "converged": true, "seconds": ..., "generated": ...,
                         "mpmath": ..., "arrays": [...], ...}}}

Datasets
--------
``kernel_{measure}_N{N}_L{L}_{method}``
    ``K`` (length L), ``C`` (the output vector, float32-exact), ``B``; the
    system is the HiPPO ``(A, B)`` of ``measure`` discretized at ``dt`` (in the
    metadata); :math:`K_\ell = C \bar A^\ell \bar B` by explicit powers
    (``N = 16, 64``: mpmath; ``N = 256``: python-flint ``arb``, ``engine`` in
    the metadata).
``disc_{measure}_N{N}_{method}``
    ``Ad``, ``Bd`` (``Bd`` of shape ``(N, 1)``).
``normal_eig_{measure}_N{N}``
    ``lam``: eigenvalues of ``A + P^T P`` sorted by imaginary part.

Examples
--------
>>> from statespace.verification import make_data
>>> d = make_data.load("kernel_legs_N16_L4096_bilinear")
>>> d.arrays["K"].shape, d.meta["converged"]
((4096,), True)
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mpmath
import numpy as np

from statespace.verification import reference as ref

__all__ = ["Dataset", "SPECS", "DATA_DIR", "DATA_ENV", "REQUIRED_DIGITS", "ReferenceDataError",
           "resolve_data_dir", "check_data", "write_manifest", "provenance", "load", "available",
           "generate", "main"]

DATA_DIR = Path(__file__).resolve().parent / "data"
NPZ = "reference.npz"
INDEX = "reference.json"
MANIFEST = "MANIFEST.json"
MANIFEST_SCHEMA = "statespace-reference-manifest"
#: Environment variable naming a data folder to read instead of :data:`DATA_DIR`.
DATA_ENV = "STATESPACE_REFERENCE_DATA"
#: Digits of ``mpmath`` beyond ``dps`` of the second run of every dataset.
EXTRA_DIGITS = 20
SCHEMA = "statespace-reference-data"
VERSION = 1
#: Digits the two precisions must agree on before a dataset is written: float64
#: checks need 17; the stored double-double pair carries ~32.
REQUIRED_DIGITS = 25
REGENERATE = "python -m statespace.verification.make_data"

KERNEL_MEASURES = ("legs", "legt", "fout", "lagt")


def _c_vector(N):
    """Deterministic output vector, exactly representable in float32 and float64."""
    rng = np.random.default_rng(1000 + N)
    return rng.standard_normal(N).astype(np.float32).astype(np.float64)


def _spec_list():
    specs = []
    for N, L, dt, dps in ((16, 4096, 0.01, 40), (64, 4096, 0.01, 40)):
        for m in KERNEL_MEASURES:
            specs.append({"kind": "kernel", "measure": m, "N": N, "L": L, "dt": dt,
                          "method": "bilinear", "dps": dps})
    for m in KERNEL_MEASURES:
        specs.append({"kind": "kernel", "measure": m, "N": 16, "L": 4096, "dt": 0.01,
                      "method": "zoh", "dps": 40})
    # N = 256: mpmath's Python loop would take ~15 min per kernel; python-flint's
    # arb_mat products (C) take ~1.5 min, so these use engine="arb" (midpoints,
    # checked at two precisions like the rest).
    for m in KERNEL_MEASURES:
        specs.append({"kind": "kernel", "measure": m, "N": 256, "L": 4096, "dt": 0.005,
                      "method": "bilinear", "dps": 40, "engine": "arb"})
    for method in ("bilinear", "zoh"):
        specs.append({"kind": "disc", "measure": "legs", "N": 64, "dt": 0.01,
                      "method": method, "dps": 40})
    for m in KERNEL_MEASURES:
        specs.append({"kind": "normal_eig", "measure": m, "N": 64, "dps": 40})
    out = {}
    for s in specs:
        out[_name(s)] = s
    return out


def _name(s):
    if s["kind"] == "kernel":
        return f"kernel_{s['measure']}_N{s['N']}_L{s['L']}_{s['method']}"
    if s["kind"] == "disc":
        return f"disc_{s['measure']}_N{s['N']}_{s['method']}"
    return f"normal_eig_{s['measure']}_N{s['N']}"


#: Every dataset :func:`generate` knows, by name.
SPECS = _spec_list()


# --------------------------------------------------------------------------- pipelines
# Each runs the whole computation (HiPPO entries included) at the given dps, so the
# two-precision check covers every step.


def _kernel_pipeline(measure, N, C, dt, L, method, dps, engine="mpmath"):
    A, B = ref.transition(measure, N, dps=dps)
    return ref.kernel(A, B, C, dt, L, method, dps=dps, engine=engine)


def _disc_pipeline(measure, N, dt, method, dps):
    A, B = ref.transition(measure, N, dps=dps)
    return ref.discretize(A, B, dt, method, dps=dps)


def _split(value):
    """mpmath result -> (hi, lo) arrays, real or complex."""
    arr = ref._leaf_array(value)
    flat = arr.ravel().tolist()
    if any(hasattr(v, "_mpc_") and v.imag != 0 for v in flat):
        re = ref.to_float_pair([mpmath.re(v) for v in flat])
        im = ref.to_float_pair([mpmath.im(v) for v in flat])
        hi = (re.hi + 1j * im.hi).reshape(arr.shape)
        lo = (re.lo + 1j * im.lo).reshape(arr.shape)
        return hi, lo
    pair = ref.to_float_pair(value)
    return pair.hi, pair.lo


def generate(name):
    """Compute one dataset.

    Parameters
    ----------
    name : str
        A key of :data:`SPECS`.

    Returns
    -------
    arrays : dict of numpy.ndarray
    meta : dict
        Includes ``digits_agree`` and ``converged`` (at :data:`REQUIRED_DIGITS`).

    Examples
    --------
    >>> from statespace.verification.make_data import SPECS
    >>> sorted(SPECS)[0]
    'disc_legs_N64_bilinear'
    """
    s = dict(SPECS[name])
    t0 = time.perf_counter()
    arrays = {}
    dps, extra = s["dps"], EXTRA_DIGITS
    if s["kind"] == "kernel":
        C = _c_vector(s["N"])
        r = ref.converged(_kernel_pipeline, s["measure"], s["N"], C.tolist(), s["dt"], s["L"],
                          s["method"], dps=dps, extra=extra, norm="max",
                          required=REQUIRED_DIGITS, engine=s.get("engine", "mpmath"))
        arrays["K"], arrays["K_lo"] = _split(r.value)
        arrays["C"] = C
        _, B = ref.transition(s["measure"], s["N"], dps=dps)
        arrays["B"] = ref.to_numpy(B)[:, 0]
        s["c_seed"] = 1000 + s["N"]
    elif s["kind"] == "disc":
        r = ref.converged(_disc_pipeline, s["measure"], s["N"], s["dt"], s["method"], dps=dps,
                          extra=extra, norm="entrywise", required=REQUIRED_DIGITS)
        arrays["Ad"], arrays["Ad_lo"] = _split(r.value[0])
        arrays["Bd"], arrays["Bd_lo"] = _split(r.value[1])
    else:
        r = ref.converged(ref.normal_eigenvalues, s["measure"], s["N"], dps=dps, extra=extra,
                          norm="max", required=REQUIRED_DIGITS)
        arrays["lam"], arrays["lam_lo"] = _split(r.value)
    meta = dict(s)
    meta.update(
        name=name,
        extra=extra,
        digits_agree=round(r.digits_agree, 3),
        norm=r.norm,
        required=REQUIRED_DIGITS,
        converged=r.converged,
        engine=s.get("engine", "mpmath"),
        seconds=round(time.perf_counter() - t0, 2),
        generated=_now(),
        mpmath=mpmath.__version__,
        arrays=sorted(arrays),
    )
    return arrays, meta


def _now():
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Dataset:
    """A loaded reference dataset.

    Attributes
    ----------
    name : str
    arrays : dict of numpy.ndarray
        ``x`` (rounded to float64/complex128) and ``x_lo`` (remainder) per value,
        plus inputs such as ``C``.
    meta : dict
        Parameters, ``dps``, ``digits_agree``, generation time, mpmath version,
        and ``sha256`` / ``data_file``: the verified digest and path of the
        ``reference.npz`` it was read from.
    """

    name: str
    arrays: dict
    meta: dict

    def __getitem__(self, key):
        return self.arrays[key]


class ReferenceDataError(RuntimeError):
    """The cached reference data does not match its manifest (or has none).

    The message names the file and the command that regenerates the data.
    """


def resolve_data_dir(path=None):
    """The reference data folder to read.

    Parameters
    ----------
    path : path, optional
        An explicit folder; default: the folder named by the environment variable
        :data:`DATA_ENV` when it is set, else :data:`DATA_DIR` (the shipped data).

    Returns
    -------
    folder : pathlib.Path

    Examples
    --------
    >>> from statespace.verification.make_data import resolve_data_dir
    >>> resolve_data_dir("/tmp/elsewhere").name
    'elsewhere'
    """
    if path is not None:
        return Path(path)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else DATA_DIR


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest_parameters():
    """The parameters of the generating command, recorded in the manifest."""
    return {"required_digits": REQUIRED_DIGITS, "extra_digits": EXTRA_DIGITS,
            "specs": {name: dict(spec) for name, spec in SPECS.items()}}


def write_manifest(folder=None):
    """Write ``MANIFEST.json``: SHA-256 digests of the data files as they are now.

    Parameters
    ----------
    folder : path, optional
        Data folder (default :func:`resolve_data_dir`).

    Returns
    -------
    manifest : dict
        The written document: ``files`` (``{name: {"sha256", "bytes"}}``),
        ``command`` and ``parameters`` of the generation, ``generated``.

    Examples
    --------
    >>> import shutil, tempfile, pathlib
    >>> from statespace.verification import make_data
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for f in ("reference.npz", "reference.json"):
    ...     _ = shutil.copy(make_data.DATA_DIR / f, d)
    >>> sorted(make_data.write_manifest(d)["files"])
    ['reference.json', 'reference.npz']
    """
    folder = resolve_data_dir(folder)
    files = {}
    for name in (NPZ, INDEX):
        path = folder / name
        files[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    doc = {
        "schema": MANIFEST_SCHEMA,
        "version": 1,
        "generated": _now(),
        "command": REGENERATE,
        "parameters": _manifest_parameters(),
        "files": files,
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    tmp.replace(folder / MANIFEST)
    _CHECKED.clear()
    return doc


#: Digests already checked in this process, keyed by the files' (path, size, mtime).
_CHECKED = {}


def _stat_key(folder):
    key = []
    for name in (NPZ, INDEX, MANIFEST):
        st = (folder / name).stat()
        key.append((str((folder / name).resolve()), st.st_size, st.st_mtime_ns))
    return tuple(key)


def check_data(folder=None):
    """Check the reference data files against ``MANIFEST.json``.

    Parameters
    ----------
    folder : path, optional
        Data folder (default :func:`resolve_data_dir`).

    Returns
    -------
    digests : dict
        ``{file name: sha256 hex digest}`` of ``reference.npz`` and
        ``reference.json``, as verified.

    Raises
    ------
    FileNotFoundError
        When ``reference.npz`` or ``reference.json`` is missing (no cached data:
        every reference must be computed live).
    ReferenceDataError
        When the manifest is missing or unreadable, or a file's digest or size
        differs from it; the message names the file and the regeneration command.

    Examples
    --------
    >>> from statespace.verification.make_data import check_data
    >>> sorted(check_data())
    ['reference.json', 'reference.npz']
    """
    folder = resolve_data_dir(folder)
    missing = [str(folder / n) for n in (NPZ, INDEX) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"reference data is missing ({', '.join(missing)}); "
            f"regenerate it with `{REGENERATE}`"
        )
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise ReferenceDataError(
            f"{mpath} is missing: the reference data in {folder} cannot be verified; "
            f"reinstall statespace or regenerate the data with `{REGENERATE}`"
        )
    key = _stat_key(folder)
    if key in _CHECKED:
        return dict(_CHECKED[key])
    try:
        manifest = json.loads(mpath.read_text())
        expected = manifest["files"]
        if manifest.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"schema {manifest.get('schema')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ReferenceDataError(
            f"{mpath} is not a reference data manifest ({exc}); reinstall statespace or "
            f"regenerate the data with `{REGENERATE}`"
        ) from None
    digests = {}
    for name in (NPZ, INDEX):
        path = folder / name
        want = expected.get(name) or {}
        got = _sha256(path)
        if want.get("sha256") != got or want.get("bytes") != path.stat().st_size:
            raise ReferenceDataError(
                f"reference data file {path} does not match {mpath}: sha256 {got[:12]}..., "
                f"manifest {str(want.get('sha256'))[:12]}...; the file was changed after the "
                f"manifest was written. Reinstall statespace or regenerate the data with "
                f"`{REGENERATE}`"
            )
        digests[name] = got
    _CHECKED[key] = dict(digests)
    return digests


def provenance(dataset):
    """One line naming a cached dataset, its file's digest and its convergence.

    Parameters
    ----------
    dataset : Dataset
        A dataset from :func:`load`.

    Returns
    -------
    note : str
        ``"reference: cached NAME (reference.npz sha256:0123456789ab, ENGINE,
        dps=D+E, X digits agree)"``; the digest is the first 12 hex digits of the
        verified file's SHA-256.

    Examples
    --------
    >>> from statespace.verification.make_data import load, provenance
    >>> provenance(load("normal_eig_legs_N64"))  # doctest: +ELLIPSIS
    'reference: cached normal_eig_legs_N64 (reference.npz sha256:..., mpmath, dps=40+20, ...'
    """
    m = dataset.meta
    return (f"reference: cached {dataset.name} ({NPZ} sha256:{m.get('sha256', '?')[:12]}, "
            f"{m.get('engine', 'mpmath')}, dps={m['dps']}+{m['extra']}, "
            f"{m['digits_agree']} digits agree)")


def _read_index(data_dir):
    path = Path(data_dir) / INDEX
    if not path.exists() or not (Path(data_dir) / NPZ).exists():
        raise FileNotFoundError(
            f"reference data is missing ({Path(data_dir) / NPZ}, {path}); "
            f"regenerate it with `{REGENERATE}`"
        )
    check_data(data_dir)
    return json.loads(path.read_text())


def available(data_dir=None):
    """Names of the stored datasets.

    Parameters
    ----------
    data_dir : path, optional
        Folder of ``reference.npz`` / ``reference.json`` / ``MANIFEST.json``
        (default :func:`resolve_data_dir`: the shipped data, or ``STATESPACE_REFERENCE_DATA``).

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from statespace.verification.make_data import available
    >>> "kernel_legs_N64_L4096_bilinear" in available()
    True
    """
    return sorted(_read_index(resolve_data_dir(data_dir))["datasets"])


def load(name, data_dir=None):
    """Load one stored dataset.

    Parameters
    ----------
    name : str
        Dataset name (see :func:`available`).
    data_dir : path, optional
        Folder of ``reference.npz`` / ``reference.json`` / ``MANIFEST.json``
        (default :func:`resolve_data_dir`: the shipped data, or ``STATESPACE_REFERENCE_DATA``).

    Returns
    -------
    dataset : Dataset

    Raises
    ------
    FileNotFoundError
        When the data files are missing (the message names the regeneration
        command).
    ReferenceDataError
        When a file does not match ``MANIFEST.json`` (:func:`check_data`).
    KeyError
        For an unknown name (likewise).

    Examples
    --------
    >>> from statespace.verification.make_data import load
    >>> d = load("normal_eig_legs_N64")
    >>> round(float(d["lam"].real.max()), 12), d.meta["N"]
    (-0.5, 64)
    """
    folder = resolve_data_dir(data_dir)
    index = _read_index(folder)
    meta = index["datasets"].get(name)
    if meta is None:
        raise KeyError(
            f"no reference dataset {name!r}; stored: {sorted(index['datasets'])}. "
            f"Regenerate with `{REGENERATE} --only {name}` if it is one of "
            f"{sorted(SPECS)}"
        )
    with np.load(folder / NPZ) as z:
        arrays = {k: z[f"{name}/{k}"] for k in meta["arrays"]}
    meta = dict(meta, sha256=check_data(folder)[NPZ], data_file=str(folder / NPZ))
    return Dataset(name, arrays, meta)


# --------------------------------------------------------------------------- writing


def _write(data_dir, arrays_by_name, meta_by_name, total_seconds):
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    old_arrays, old_meta = {}, {}
    keep_old = set(SPECS) - set(arrays_by_name)
    if keep_old and (data_dir / INDEX).exists() and (data_dir / NPZ).exists():
        check_data(data_dir)  # datasets kept from the old files must be the verified ones
        old_meta = json.loads((data_dir / INDEX).read_text())["datasets"]
        with np.load(data_dir / NPZ) as z:
            for key in z.files:
                old_arrays[key] = z[key]
    flat = {k: v for k, v in old_arrays.items() if k.split("/")[0] not in arrays_by_name}
    for name, arrays in arrays_by_name.items():
        for k, v in arrays.items():
            flat[f"{name}/{k}"] = v
    meta = {k: v for k, v in old_meta.items() if k in SPECS or k in meta_by_name}
    meta.update(meta_by_name)
    flat = {k: v for k, v in flat.items() if k.split("/")[0] in meta}  # drop retired sets
    index = {
        "schema": SCHEMA,
        "version": VERSION,
        "generated": _now(),
        "mpmath": mpmath.__version__,
        "python": platform.python_version(),
        "last_run_seconds": round(total_seconds, 1),
        # sum of every stored dataset's generation time (one process, both precisions)
        "total_dataset_seconds": round(sum(float(m.get("seconds", 0)) for m in meta.values()), 1),
        "regenerate": REGENERATE,
        "datasets": dict(sorted(meta.items())),
    }
    tmp = data_dir / (NPZ + ".tmp.npz")
    np.savez_compressed(tmp, **flat)
    tmp.replace(data_dir / NPZ)
    (data_dir / INDEX).write_text(json.dumps(index, indent=1) + "\n")
    write_manifest(data_dir)


def main(argv=None):
    """Command line: ``python -m statespace.verification.make_data [--only NAME ...]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    status : int
        0 when every requested dataset converged and was written (with a new
        ``MANIFEST.json``), 1 otherwise. ``--manifest-only`` writes the manifest
        of the files as they are and recomputes nothing.

    Examples
    --------
    >>> from statespace.verification.make_data import main
    >>> main(["--list"])  # doctest: +ELLIPSIS
    kernel_legs_N16_L4096_bilinear (stored: ...
    ...
    0
    """
    p = argparse.ArgumentParser(prog="python -m statespace.verification.make_data",
                                description="Regenerate the cached mpmath reference data.")
    p.add_argument("--only", nargs="+", metavar="NAME", help="datasets to regenerate")
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--list", action="store_true", help="list datasets and exit")
    p.add_argument("--manifest-only", action="store_true",
                   help=f"rewrite {MANIFEST} for the data files as they are (no recomputation)")
    p.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.data_dir = str(resolve_data_dir(args.data_dir))
    if args.manifest_only:
        doc = write_manifest(args.data_dir)
        for name, f in doc["files"].items():
            print(f"{name}: sha256 {f['sha256']} ({f['bytes']} bytes)")
        print(f"wrote {Path(args.data_dir) / MANIFEST}")
        return 0
    if args.list:
        try:
            stored = _read_index(args.data_dir)["datasets"]
        except FileNotFoundError:
            stored = {}
        except ReferenceDataError as exc:
            print(f"WARNING: {exc}", file=sys.stderr)
            stored = json.loads((Path(args.data_dir) / INDEX).read_text())["datasets"]
        for name in SPECS:
            m = stored.get(name)
            state = (f"stored: {m['digits_agree']} digits, {m['seconds']} s"
                     if m else "not stored")
            print(f"{name} ({state})")
        return 0
    names = args.only or list(SPECS)
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        p.error(f"unknown dataset(s) {unknown}; known: {sorted(SPECS)}")
    t0 = time.perf_counter()
    arrays_by_name, meta_by_name, bad = {}, {}, []

    def done(name, arrays, meta):
        flag = "ok" if meta["converged"] else "NOT CONVERGED"
        print(f"{name}: {meta['digits_agree']} digits agree, {meta['seconds']} s, {flag}",
              flush=True)
        if meta["converged"]:
            arrays_by_name[name], meta_by_name[name] = arrays, meta
        else:
            bad.append(name)

    if args.workers > 1:
        with cf.ProcessPoolExecutor(args.workers) as ex:
            futs = {ex.submit(generate, n): n for n in names}
            for f in cf.as_completed(futs):
                done(futs[f], *f.result())
    else:
        for n in names:
            done(n, *generate(n))
    total = time.perf_counter() - t0
    if arrays_by_name:
        _write(args.data_dir, arrays_by_name, meta_by_name, total)
    print(f"wrote {len(arrays_by_name)} dataset(s) to {args.data_dir} in {total:.1f} s",
          flush=True)
    if bad:
        print(f"NOT written (did not converge): {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
