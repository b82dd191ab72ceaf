r"""The ``report.json`` schema: :data:`SCHEMA` and :func:`validate`.

``report.json`` schema (version 1)
----------------------------------
::

    {
      "schema": "statespace-verify",          # constant
      "version": 1,                            # bumped on incompatible changes
      "meta": {                                # free-form; always present keys:
        "created": "2026-01-01T00:00:00+00:00",   # ISO 8601, UTC
        "machine": {"platform": str, "machine": str, "processor": str,
                    "python": str, "cpu_count": int | null, ...},
        "versions": {"statespace": str, "numpy": str, ...},   # str or null
        "threads": {"env": {...}, "blas": [[str, int], ...] | null,
                    "numba": int | null},
        "dtypes": [str, ...],                  # dtypes that rows were run in
        "elapsed_s": float | null,             # wall time of the suite
        "run_id": str,                         # the same in every file of a run
        ...                                    # anything the caller adds
      },                                       # (machine, versions, threads:
                                               # statespace._env.environment)
      "summary": {"rows": int, "passed": int, "failed": int,
                  "experiments": int, "status": "passed" | "failed"},
      "rows": [
        {"experiment": str, "quantity": str,
         "params": {str: any JSON value},
         "dtype": str,
         "error": number | "NaN" | "Infinity" | "-Infinity",
         "tolerance": number | "NaN" | "Infinity" | "-Infinity",
         "passed": bool,
         "note": str,
         "metric": str, "direction": "upper" | "lower",   # optional, the
         "expected": number | "NaN", "expected_model": str, # keys after note
         "warning": str, "slack_reason": str},
        ...
      ],
      "plots": [{"name": str, "title": str, "file": str}, ...]   # file: relative
    }

``status`` is ``"passed"`` only when there is at least one row and every row
passed (the exit status of ``statespace verify`` follows it). Non-finite floats
are written as the strings shown, so the file is strict JSON. :data:`SCHEMA` is
the same schema as a JSON Schema document and :func:`validate` checks a report
against it (without third-party packages).
"""

from __future__ import annotations

import math

from statespace.verification.rows import _from_json_float

__all__ = ["SCHEMA", "SCHEMA_NAME", "SCHEMA_VERSION", "validate"]

SCHEMA_NAME = "statespace-verify"
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- schema

_NUM = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}

#: JSON Schema (draft 2020-12 subset) of ``report.json``; see the module docstring.
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "statespace verification report",
    "type": "object",
    "required": ["schema", "version", "meta", "summary", "rows", "plots"],
    "properties": {
        "schema": {"const": SCHEMA_NAME},
        "version": {"const": SCHEMA_VERSION},
        "meta": {
            "type": "object",
            "required": ["created", "machine", "versions", "dtypes", "elapsed_s"],
            "properties": {
                "created": {"type": "string"},
                "machine": {
                    "type": "object",
                    "required": ["platform", "machine", "processor", "python", "cpu_count"],
                },
                "versions": {
                    "type": "object",
                    "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
                "dtypes": {"type": "array", "items": {"type": "string"}},
                "elapsed_s": {"anyOf": [{"type": "number"}, {"type": "null"}]},
            },
        },
        "summary": {
            "type": "object",
            "required": ["rows", "passed", "failed", "experiments", "status"],
            "properties": {
                "rows": {"type": "integer", "minimum": 0},
                "passed": {"type": "integer", "minimum": 0},
                "failed": {"type": "integer", "minimum": 0},
                "experiments": {"type": "integer", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
            },
            "additionalProperties": False,
        },
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "experiment", "quantity", "params", "dtype",
                    "error", "tolerance", "passed", "note",
                ],
                "properties": {
                    "experiment": {"type": "string"},
                    "quantity": {"type": "string"},
                    "params": {"type": "object"},
                    "dtype": {"type": "string"},
                    "error": _NUM,
                    "tolerance": _NUM,
                    "passed": {"type": "boolean"},
                    "note": {"type": "string"},
                    "metric": {"type": "string"},
                    "direction": {"enum": ["upper", "lower"]},
                    "expected": _NUM,
                    "expected_model": {"type": "string"},
                    "warning": {"type": "string"},
                    "slack_reason": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "plots": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "title", "file"],
                "properties": {
                    "name": {"type": "string"},
                    "title": {"type": "string"},
                    "file": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": False,
}

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
    return isinstance(value, _TYPES[t])


def _check(value, schema, path, errors):
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "anyOf" in schema:
        if not any(not _collect(value, s, path) for s in schema["anyOf"]):
            errors.append(f"{path}: {value!r} matches none of the allowed forms")
    if "type" in schema and not _type_ok(value, schema["type"]):
        errors.append(f"{path}: expected {schema['type']}, got {type(value).__name__}")
        return
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing key {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, v in value.items():
            if key in props:
                _check(v, props[key], f"{path}.{key}", errors)
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, dict):
                _check(v, extra, f"{path}.{key}", errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            _check(v, schema["items"], f"{path}[{i}]", errors)


def _collect(value, schema, path):
    errors = []
    _check(value, schema, path, errors)
    return errors


def validate(doc, schema=None):
    """Check a parsed ``report.json`` against :data:`SCHEMA` (and its invariants).

    Parameters
    ----------
    doc : dict
        The parsed JSON document.
    schema : dict, optional
        Schema to use (default :data:`SCHEMA`).

    Raises
    ------
    ValueError
        Listing every violation, including inconsistent summary counts.

    Examples
    --------
    >>> from statespace.verification.report import validate
    >>> try:
    ...     validate({"schema": "nope"})
    ... except ValueError as exc:
    ...     print("$.schema: expected 'statespace-verify'" in str(exc))
    True
    """
    errors = _collect(doc, SCHEMA if schema is None else schema, "$")
    if not errors and isinstance(doc, dict):
        rows, summ = doc["rows"], doc["summary"]
        npass = sum(1 for r in rows if r["passed"])
        if summ["rows"] != len(rows) or summ["passed"] != npass or \
                summ["failed"] != len(rows) - npass:
            errors.append("$.summary: counts disagree with the rows")
        ok = bool(rows) and npass == len(rows)
        if summ["status"] != ("passed" if ok else "failed"):
            errors.append("$.summary.status disagrees with the rows")
        for i, r in enumerate(rows):
            e, t = _from_json_float(r["error"]), _from_json_float(r["tolerance"])
            strict = math.isfinite(e) and math.isfinite(t) and e <= t
            if r["passed"] and not strict:
                errors.append(f"$.rows[{i}]: marked passed but error {e} > tolerance {t}")
            x = _from_json_float(r.get("expected", "NaN"))
            if r["passed"] and math.isfinite(x) and not e <= x and not r.get("warning"):
                errors.append(f"$.rows[{i}]: marked passed but error {e} > expected bound "
                              f"{x} without a warning")
    if errors:
        raise ValueError("report does not match the schema: " + "; ".join(errors))
