"""Verification layer of :mod:`statespace`: ground truth, experiments and reports.

Installed as :mod:`statespace.verification` (the repository keeps it in its top-level
``verification/`` folder). Submodules, imported lazily, so
``import statespace.verification`` is cheap:

* :mod:`statespace.verification.reference` - mpmath ground truth computed from
  definitions, with a two-precision self-check
  (:func:`statespace.verification.reference.converged`);
* :mod:`statespace.verification.report` - :class:`~statespace.verification.report.Row`,
  :func:`~statespace.verification.report.run_suite` and
  :func:`~statespace.verification.report.write_report` (``report.md``,
  ``report.json``, PNGs): the facade over :mod:`~statespace.verification.rows` (rows and the one
  comparison), :mod:`~statespace.verification.execution` (running experiments),
  :mod:`~statespace.verification.schema` (``report.json``),
  :mod:`~statespace.verification.rendering` (writing the report) and
  :mod:`~statespace.verification.folder` (the atomic, locked report folder);
* :mod:`statespace.verification.bounds` - metric keys, the declared tolerances and
  the calibrated expected bounds;
* :mod:`statespace.verification.make_data` - regenerates the cached reference data
  under ``verification/data/`` (``python -m statespace.verification.make_data``)
  and :func:`statespace.verification.make_data.load` reads it;
* :mod:`statespace.verification.suite` - the experiments run by ``statespace verify``
  (``experiments(quick, dtypes, backend) -> list of callables``);
* :mod:`statespace.verification.runner` - runs the suite and writes the report
  (:func:`statespace.verification.runner.run`, called by ``statespace verify``);
* :mod:`statespace.verification.executor` - where the points of a sweep run
  (in-process, a dask ``LocalCluster``, a dask cluster) and the shared references;
* :mod:`statespace.verification.store` - the JSON Lines results store behind
  ``--resume``;
* :mod:`statespace.verification.large` - the large sweep (``--sweep large``).
* :mod:`statespace.verification.model_check` - checks a trained model's numerics
  (``statespace verify --model``); its entry point
  :func:`~statespace.verification.model_check.check_model` is also reachable as
  ``statespace.verification.check_model``.

This package depends on the core of :mod:`statespace`, never the reverse; only
:mod:`statespace.cli` imports it.
"""

from __future__ import annotations

import importlib

__all__ = ["reference", "report", "rows", "execution", "schema", "rendering", "folder",
           "bounds", "make_data", "suite", "runner", "executor", "store", "large",
           "model_check", "check_model"]


def __getattr__(name):
    if name == "check_model":
        from statespace.verification.model_check import check_model

        return check_model
    if name in __all__:
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
