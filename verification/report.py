r"""Verification rows, the suite runner and the report writer (one import for all).

This module re-exports the pieces of the report machinery, each kept in the module
of its job:

* :mod:`statespace.verification.rows` - :class:`Row` (metric, direction, rigorous
  and expected bounds, slack reason), :func:`compare` (the one comparison path),
  :func:`relative_error`, the slack counts;
* :mod:`statespace.verification.execution` - :class:`Experiment`,
  :func:`run_suite`, :class:`SuiteResult`;
* :mod:`statespace.verification.schema` - :data:`SCHEMA` of ``report.json`` and
  :func:`validate`;
* :mod:`statespace.verification.rendering` - :func:`write_report` (``report.md``,
  ``report.json``, PNG plots), :func:`bound_summary`, :func:`collect_meta`;
* :mod:`statespace.verification.folder` - the report folder: :func:`check_out_dir`,
  :class:`ReportLock`, :func:`recover_out_dir`, the atomic swap.

A row passes only when its error is a finite number no larger than its finite
tolerance: NaN is a failure, never a pass.

Examples
--------
>>> from statespace.verification.report import Row, run_suite
>>> run_suite([lambda: [Row("demo", "x", {}, "float64", 0.0, 1.0)]], progress=False).passed
True
"""

from __future__ import annotations

from statespace.verification.execution import (  # noqa: F401 - re-exported
    Experiment,
    ExperimentResult,
    SuiteResult,
    _execute,
    _failure_row,
    _normalise,
    _Progress,
    experiment_name,
    run_suite,
)
from statespace.verification.folder import (  # noqa: F401 - re-exported
    ReportError,
    ReportLock,
    _exchange,
    _publish,
    _signals_deferred,
    check_out_dir,
    recover_out_dir,
)
from statespace.verification.rendering import (  # noqa: F401 - re-exported
    _cell,
    _fmt,
    _params,
    _render_plot,
    _write_files,
    bound_summary,
    collect_meta,
    write_report,
)
from statespace.verification.rows import (  # noqa: F401 - re-exported
    LOOSE,
    Row,
    _from_json_float,
    _json_float,
    _jsonable,
    compare,
    compare_values,
    demote_expected,
    measured,
    reference_note,
    relative_error,
    slack,
    slack_counts,
)
from statespace.verification.schema import (  # noqa: F401 - re-exported
    SCHEMA,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    validate,
)

__all__ = [
    "Row",
    "Experiment",
    "ExperimentResult",
    "SuiteResult",
    "SCHEMA",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "LOOSE",
    "relative_error",
    "compare",
    "compare_values",
    "reference_note",
    "measured",
    "demote_expected",
    "slack",
    "slack_counts",
    "bound_summary",
    "run_suite",
    "write_report",
    "ReportError",
    "ReportLock",
    "check_out_dir",
    "recover_out_dir",
    "collect_meta",
    "validate",
    "experiment_name",
]
