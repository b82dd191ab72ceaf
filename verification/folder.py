r"""The report folder: validated before any work, locked, replaced atomically.

Report folder
-------------
:func:`write_report` writes the files into a temporary sibling of the output
folder (``.NAME.tmp-*``) and swaps it into place, so the folder always holds one
complete report: ``report.md``, ``report.json`` and the plots of the same run
(each carries the run's ``run_id``; the PNGs in their ``statespace-run`` text
chunk). An interrupted write leaves the previous report untouched.
:class:`ReportLock` (``.NAME.lock`` beside the folder, holding the writer's pid)
keeps two runs from writing one folder; :func:`check_out_dir` refuses a path that
cannot be a report folder before any work is done.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

__all__ = ["ReportError", "ReportLock", "check_out_dir", "recover_out_dir"]


# --------------------------------------------------------------------------- report folder

#: Files a report folder may hold: what :func:`write_report` writes.
_REPORT_FILES = ("report.md", "report.json")


class ReportError(ValueError):
    """The report folder cannot be used: bad path, or another run is writing it."""


def _siblings(out, kind):
    """Temporary siblings of ``out`` of one kind (``tmp`` or ``old``), newest first."""
    found = [p for p in out.parent.glob(f".{out.name}.{kind}-*") if p.is_dir()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_out_dir(out, *, create_parent=False):
    """Validate an output folder before any work is done.

    Parameters
    ----------
    out : str or path
        The report folder. It may be missing (it is created), empty, or hold a
        previous report (``report.md``, ``report.json``, ``*.png`` only): each
        write replaces the folder as a whole.
    create_parent : bool, optional
        Create a missing parent folder (default: refuse it).

    Returns
    -------
    out : pathlib.Path
        The absolute path (symbolic links resolved).

    Raises
    ------
    ReportError
        When ``out`` exists and is not a folder, holds other files, is the current
        directory or one above it, or its parent is missing or not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import check_out_dir
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a_file"
    >>> _ = f.write_text("x")
    >>> check_out_dir(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    statespace.verification.folder.ReportError: output folder ... exists and is not a folder
    """
    if not str(out).strip():
        raise ReportError("the output folder must not be empty")
    path = Path(os.path.realpath(os.fspath(out)))
    if path.parent == path:
        raise ReportError(f"output folder {path} is the file system root")
    if path.exists() and not path.is_dir():
        raise ReportError(f"output folder {path} exists and is not a folder")
    parent = path.parent
    if not parent.exists() and create_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create the parent folder {parent}: {exc}") from None
    if not parent.is_dir():
        raise ReportError(f"the parent folder {parent} of the output folder does not exist "
                          "(or is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReportError(f"the parent folder {parent} of the output folder is not writable")
    cwd = Path(os.path.realpath(os.getcwd()))
    if cwd == path or path in cwd.parents:
        raise ReportError(f"output folder {path} is (or contains) the current directory; "
                          "each run replaces the folder as a whole")
    if path.is_dir():
        other = sorted(p.name for p in path.iterdir()
                       if not (p.is_file() and (p.name in _REPORT_FILES
                                                or p.suffix == ".png")))
        if other:
            raise ReportError(
                f"output folder {path} holds files that are not part of a report "
                f"({', '.join(other[:3])}{', ...' if len(other) > 3 else ''}); each run "
                "replaces the folder as a whole: choose a new or empty folder")
    return path


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class ReportLock:
    """An exclusive lock on a report folder: ``.NAME.lock`` beside it.

    The lock file is created with ``O_CREAT | O_EXCL`` and holds the pid of the
    writer. A lock whose process no longer exists is stale and is taken over.

    Parameters
    ----------
    out : str or path
        The report folder.

    Raises
    ------
    ReportError
        On entering, when a live process holds the lock.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import ReportLock, ReportError
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "rep"
    >>> with ReportLock(out):
    ...     try:
    ...         ReportLock(out).acquire()
    ...     except ReportError as exc:
    ...         print("refused")
    refused
    """

    #: Seconds after which a lock file without a readable pid counts as stale.
    STALE_EMPTY_S = 30.0

    def __init__(self, out):
        out = Path(os.path.realpath(os.fspath(out)))
        self.out = out
        self.path = out.parent / f".{out.name}.lock"
        self._held = False

    def _holder(self):
        """The pid in the lock file; None when unreadable (then the age decides)."""
        try:
            text = self.path.read_text().strip()
            return int(text.split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _stale(self):
        pid = self._holder()
        if pid is not None:
            return not _pid_alive(pid)
        try:
            return time.time() - self.path.stat().st_mtime > self.STALE_EMPTY_S
        except FileNotFoundError:
            return True

    def acquire(self):
        """Take the lock or raise :class:`ReportError`."""
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    pid = self._holder()
                    raise ReportError(
                        f"output folder {self.out} is being written by another run "
                        f"(pid {pid if pid is not None else 'unknown'}; lock file "
                        f"{self.path}); wait for it to finish or choose another folder"
                    ) from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                continue
            except OSError as exc:
                raise ReportError(f"cannot create the lock file {self.path}: {exc}") from None
            try:
                os.write(fd, f"{os.getpid()}\n".encode())
            finally:
                os.close(fd)
            self._held = True
            return self
        raise ReportError(f"could not take the lock {self.path}")

    def release(self):
        """Remove the lock file (only if this object holds it)."""
        if self._held:
            self._held = False
            if self._holder() == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def recover_out_dir(out):
    """Clean up after an interrupted write of ``out`` (call it holding the lock).

    Temporary folders of unfinished writes (``.NAME.tmp-*``) are removed. A
    previous report set aside by a swap that did not finish (``.NAME.old-*``) is
    put back when ``out`` is missing, and removed otherwise.

    Parameters
    ----------
    out : str or path
        The report folder.

    Returns
    -------
    removed : list of pathlib.Path
        The leftovers found (removed or restored).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from statespace.verification.report import recover_out_dir
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / ".rep.tmp-1-x").mkdir()
    >>> [p.name for p in recover_out_dir(d / "rep")], list(d.iterdir())
    (['.rep.tmp-1-x'], [])
    """
    out = Path(os.path.realpath(os.fspath(out)))
    if not out.parent.is_dir():
        return []
    found = []
    for p in _siblings(out, "tmp"):
        shutil.rmtree(p, ignore_errors=True)
        found.append(p)
    for p in _siblings(out, "old"):
        if not out.exists():
            os.rename(p, out)
        else:
            shutil.rmtree(p, ignore_errors=True)
        found.append(p)
    return found


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends (main thread, POSIX only)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    if (not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a, b):
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _publish(tmp, out):
    """Put the complete folder ``tmp`` in place of ``out`` (signals held meanwhile).

    With an existing ``out`` the two are exchanged atomically where the system
    can; elsewhere ``out`` is renamed aside (``.NAME.old-*``) first, and
    :func:`recover_out_dir` restores it if the swap is cut short.
    """
    with _signals_deferred():
        if not out.exists():
            os.rename(tmp, out)
            return
        if _exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # now the previous report
            return
        old = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
