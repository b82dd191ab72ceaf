"""The environment a result was measured in: versions, machine, threads.

One collector for ``statespace info``, the ``meta`` of the verification report
(``statespace verify``) and the ``environment`` of the benchmark report
(``statespace bench``). Versions are read from the installed distributions'
metadata, so nothing heavy (torch, say) is imported to find them.

Examples
--------
>>> from statespace import _env
>>> env = _env.environment()
>>> sorted(env)
['created', 'machine', 'threads', 'versions']
>>> env["versions"]["statespace"] is not None
True
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys

__all__ = ["DISTRIBUTIONS", "versions", "cpu_model", "machine", "threads", "environment",
           "format_environment"]

#: Distributions whose versions are collected (PyPI names): statespace, its
#: dependencies and the optional packages that change what runs or is measured.
DISTRIBUTIONS = (
    "statespace",
    "numpy",
    "scipy",
    "mpmath",
    "array-api-compat",
    "array-api-strict",
    "torch",
    "cupy-cuda12x",
    "numba",
    "matplotlib",
    "tqdm",
    "python-flint",
)

#: Environment variables that set thread counts of the BLAS, OpenMP and numba pools.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def _version(dist):
    if dist == "statespace":
        from . import __version__

        return __version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - broken metadata reads as not installed
        return None


def versions(dists=DISTRIBUTIONS):
    """Installed version of each distribution, ``None`` when it is not installed.

    Parameters
    ----------
    dists : sequence of str, optional
        Distribution names (default :data:`DISTRIBUTIONS`).

    Returns
    -------
    versions : dict
        ``{name: version or None}`` in the order of ``dists``; ``statespace`` is the
        version of the package imported, whether installed or run from a checkout.

    Examples
    --------
    >>> from statespace._env import versions
    >>> list(versions(["statespace", "no-such-distribution"]).items())[1]
    ('no-such-distribution', None)
    """
    return {d: _version(d) for d in dists}


def cpu_model():
    """Name of the processor (``model name`` of ``/proc/cpuinfo`` on Linux), or None.

    Returns
    -------
    model : str or None

    Examples
    --------
    >>> from statespace._env import cpu_model
    >>> isinstance(cpu_model(), (str, type(None)))
    True
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine():
    """Platform, processor, Python and CPU counts.

    Returns
    -------
    machine : dict
        ``platform``, ``machine``, ``processor``, ``cpu_model``, ``python``,
        ``python_executable``, ``cpu_count`` (``os.cpu_count()``) and
        ``cpu_affinity`` (the CPUs this process may run on, ``None`` where the
        platform cannot tell).

    Examples
    --------
    >>> from statespace._env import machine
    >>> machine()["cpu_count"] >= 1
    True
    """
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
    }


def threads():
    """Thread settings: the environment variables, the BLAS pools, numba's pool.

    Returns
    -------
    threads : dict
        ``env``: the :data:`THREAD_VARIABLES` that are set; ``blas``: a list of
        ``[internal_api, num_threads]`` for each BLAS loaded by NumPy (``None``
        without threadpoolctl); ``numba``: numba's thread count (``None`` without
        numba).

    Notes
    -----
    NumPy is imported (its BLAS must be loaded to be seen) and numba too, when it
    is installed; numba's thread pool is not started.

    Examples
    --------
    >>> from statespace._env import threads
    >>> sorted(threads())
    ['blas', 'env', 'numba']
    """
    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl reports

    out = {"env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
           "blas": None, "numba": None}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        out["blas"] = [[i.get("internal_api"), i.get("num_threads")]
                       for i in threadpool_info() if i.get("user_api") == "blas"]
    if _version("numba") is not None:
        try:
            import numba

            out["numba"] = int(numba.config.NUMBA_NUM_THREADS)
        except Exception:  # noqa: BLE001 - a broken numba install reads as absent
            pass
    return out


def environment():
    """Everything above, with a timestamp: the metadata of a report.

    Returns
    -------
    env : dict
        ``created`` (ISO 8601, UTC, seconds), ``machine`` (:func:`machine`),
        ``versions`` (:func:`versions`) and ``threads`` (:func:`threads`); plain
        JSON values only.

    Examples
    --------
    >>> import json
    >>> from statespace._env import environment
    >>> env = environment()
    >>> json.loads(json.dumps(env)) == env
    True
    """
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"created": created, "machine": machine(), "versions": versions(),
            "threads": threads()}


def format_environment(env=None):
    """The environment as aligned text lines (what ``statespace info`` prints).

    Parameters
    ----------
    env : dict, optional
        An :func:`environment` (default: collected now).

    Returns
    -------
    text : str

    Examples
    --------
    >>> from statespace._env import format_environment
    >>> format_environment().splitlines()[0].startswith("statespace")
    True
    """
    env = environment() if env is None else env
    m, t = env["machine"], env["threads"]
    lines = []
    for name, v in env["versions"].items():
        lines.append(f"{name:<17} {v if v else 'not installed'}")
        if name == "statespace":
            lines.append(f"{'python':<17} {m['python']} ({m['python_executable']})")
    usable = f" ({m['cpu_affinity']} usable)" if m.get("cpu_affinity") is not None else ""
    lines.append(f"{'CPU count':<17} {m['cpu_count']}{usable}")
    lines.append(f"{'CPU':<17} {m.get('cpu_model') or 'unknown'}")
    lines.append(f"{'platform':<17} {m['platform']}")
    if t.get("blas") is None:
        blas = "unknown (threadpoolctl is not installed)"
    else:
        blas = ", ".join(f"{api} {n}" for api, n in t["blas"]) or "no BLAS loaded"
    lines.append(f"{'BLAS threads':<17} {blas}")
    lines.append(f"{'numba threads':<17} {t['numba'] if t.get('numba') else '-'}")
    for k, v in t.get("env", {}).items():
        lines.append(f"{k:<17} {v}")
    return "\n".join(lines)
