"""Results store of ``statespace verify``: JSON Lines that survive an interrupted run.

Every completed parameter point of a sweep is appended to the store as one JSON
line (its rows, plots, time and status) as soon as its batch completes, and the
file is flushed and synced, so a run that is interrupted (Ctrl-C), crashes or is
killed loses at most the points still running. ``statespace verify --resume``
reads the store back and runs only the points it does not hold; the final report
is rendered from the store, so a resumed run writes the same report, row for
row, as an uninterrupted one.

Layout
------
The store is a working folder beside the report folder ``NAME`` (next to its
lock ``.NAME.lock``)::

    .NAME.store/
        run.json                 # the sweep's configuration and its point keys
        <experiment>.jsonl       # one line per completed point of that experiment

One file per experiment (the name of the experiment's function, e.g.
``kernel_hippo.jsonl``). A line is::

    {"key": str, "name": str, "experiment": str, "status": "ok" | "failed",
     "attempts": int, "elapsed": float, "rows": [Row.to_json(), ...],
     "plots": [plot spec, ...], "error": str}   # error: traceback of a failed point

The report folder itself stays atomic (written into a temporary sibling and
swapped into place, :func:`statespace.verification.report.write_report`); the
store is removed once the report is in place. A line cut short by a crash (the
last line of a file) is ignored on reading and cut off before the next append;
every complete line before it is kept.

Examples
--------
>>> import tempfile, pathlib
>>> from statespace.verification.store import ResultStore
>>> s = ResultStore(pathlib.Path(tempfile.mkdtemp()) / ".rep.store")
>>> s.start({"sweep": "demo"}, resume=False)
0
>>> s.append([{"key": "a", "name": "a", "experiment": "demo", "status": "ok",
...            "attempts": 1, "elapsed": 0.1, "rows": [], "plots": []}])
>>> sorted(s.read())
['a']
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

__all__ = ["ResultStore", "StoreError", "store_path", "read_jsonl", "CONFIG"]

#: Name of the configuration file of a store.
CONFIG = "run.json"


class StoreError(ValueError):
    """A store that cannot be used (a different sweep, an unreadable configuration)."""


def store_path(out):
    """The store folder of the report folder ``out``: ``.NAME.store`` beside it.

    Parameters
    ----------
    out : str or path
        The report folder.

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> from statespace.verification.store import store_path
    >>> store_path("/tmp/rep").name
    '.rep.store'
    """
    out = Path(os.path.realpath(os.fspath(out)))
    return out.parent / f".{out.name}.store"


def read_jsonl(path):
    """The complete lines of a JSON Lines file, and the byte length they cover.

    A last line without its newline (a write cut short) or one that does not
    parse is not returned; every complete line before it is.

    Parameters
    ----------
    path : str or path

    Returns
    -------
    records : list of dict
    good : int
        Bytes of the file up to and including the last complete line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.store import read_jsonl
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = p.write_text('{"a": 1}\\n{"a": 2}\\n{"a": 3')
    >>> read_jsonl(p)
    ([{'a': 1}, {'a': 2}], 18)
    """
    data = Path(path).read_bytes()
    records, good, start = [], 0, 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            break  # a last line without its newline was cut short: ignored
        line = data[start:end]
        start = end + 1
        if not line.strip():
            good = start
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            break  # a damaged line: keep what precedes it
        if not isinstance(rec, dict):
            break
        records.append(rec)
        good = start
    return records, good


def _slug(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "experiment"


class ResultStore:
    """The JSON Lines results store of one report folder (module docstring).

    Parameters
    ----------
    folder : str or path
        The store folder (:func:`store_path` of the report folder).
    """

    def __init__(self, folder):
        self.folder = Path(folder)

    def exists(self):
        """Whether a store (with its configuration) is there."""
        return (self.folder / CONFIG).is_file()

    def config(self):
        """The configuration the store was started with."""
        try:
            return json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the store configuration "
                             f"{self.folder / CONFIG}: {exc}") from None

    def start(self, config, *, resume):
        """Start a run: continue the store (``resume``) or begin an empty one.

        Parameters
        ----------
        config : dict
            The sweep's configuration (JSON-serialisable); a resumed store must
            have been started with the same one.
        resume : bool
            Keep the completed points of an existing store.

        Returns
        -------
        kept : int
            Completed points kept (0 for a new store).

        Raises
        ------
        StoreError
            When ``resume`` finds a store started with another configuration.
        """
        config = json.loads(json.dumps(config))
        if resume and self.exists():
            old = self.config()
            if old != config:
                diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
                raise StoreError(
                    f"--resume: the store {self.folder} belongs to a different sweep "
                    f"(differs in {', '.join(diff)}); rerun with the same options, or "
                    f"without --resume to start over")
            self._trim()
            return len(self.read())
        self.remove()
        self.folder.mkdir(parents=True)
        tmp = self.folder / (CONFIG + ".tmp")
        tmp.write_text(json.dumps(config, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.folder / CONFIG)
        return 0

    def _files(self):
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []

    def _trim(self):
        """Cut a damaged last line off every file, so appends start on a new line."""
        for path in self._files():
            _, good = read_jsonl(path)
            if good != path.stat().st_size:
                with open(path, "r+b") as f:
                    f.truncate(good)
                    f.flush()
                    os.fsync(f.fileno())

    def read(self):
        """Completed points by key (a later line of the same key wins).

        Returns
        -------
        records : dict
            ``{key: record}`` of every complete line of every file.
        """
        out = {}
        for path in self._files():
            for rec in read_jsonl(path)[0]:
                if "key" in rec:
                    out[rec["key"]] = rec
        return out

    def append(self, records):
        """Append records (one batch), one line each, flushed and synced.

        Parameters
        ----------
        records : iterable of dict
            Each with ``key`` and ``experiment`` (the file it goes to).
        """
        by_file = {}
        for rec in records:
            line = json.dumps(rec, allow_nan=True, separators=(",", ":"), default=_default)
            by_file.setdefault(_slug(rec.get("experiment", "")), []).append(line)
        for stem, lines in by_file.items():
            with open(self.folder / f"{stem}.jsonl", "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
                f.flush()
                os.fsync(f.fileno())

    def remove(self):
        """Delete the store (after the report it fed is in place)."""
        if self.folder.exists():
            shutil.rmtree(self.folder)


def _default(x):
    """JSON for NumPy scalars and arrays in plot specs."""
    tolist = getattr(x, "tolist", None)
    if tolist is not None:
        return tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
