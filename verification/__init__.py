"""Verification layer of :mod:`statespace`: ground truth, experiments and reports.

Submodules (imported lazily, so ``import verification`` is cheap):

* :mod:`verification.reference` - mpmath ground truth computed from definitions,
  with a two-precision self-check (:func:`verification.reference.converged`);
* :mod:`verification.report` - :class:`~verification.report.Row`,
  :func:`~verification.report.run_suite` and
  :func:`~verification.report.write_report` (``report.md``, ``report.json``, PNGs);
* :mod:`verification.make_data` - regenerates the cached reference data under
  ``verification/data/`` (``python -m verification.make_data``) and
  :func:`verification.make_data.load` reads it;
* :mod:`verification.suite` - the experiments run by ``statespace verify``
  (``experiments(quick, dtypes, backend) -> list of callables``).

This package depends on :mod:`statespace`, never the reverse (only
``statespace.cli`` imports it, lazily, to run ``statespace verify``).
"""

from __future__ import annotations

import importlib

__all__ = ["reference", "report", "make_data", "suite"]


def __getattr__(name):
    if name in __all__:
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'verification' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
