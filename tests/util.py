"""Test helpers: conversion to NumPy and dtype-aware comparison."""

from __future__ import annotations

import numpy as np

from statespace._array import to_numpy

__all__ = ["to_numpy", "assert_close", "rel_err", "eps_of"]


def eps_of(dtype) -> float:
    """Machine epsilon for a NumPy or backend dtype name."""
    name = str(dtype)
    single = "float32" in name or "complex64" in name
    return float(np.finfo(np.float32 if single else np.float64).eps)


def rel_err(actual, desired) -> float:
    """Max-norm relative error ``max|a - d| / max|d|`` (NaN counts as infinite)."""
    a = np.asarray(to_numpy(actual))
    d = np.asarray(to_numpy(desired))
    if not np.all(np.isfinite(a)):
        return float("inf")
    scale = np.max(np.abs(d)) if d.size else 1.0
    if scale == 0:
        scale = 1.0
    return float(np.max(np.abs(a - d)) / scale) if a.size else 0.0


def assert_close(actual, desired, *, rtol, atol=0.0, err_msg=""):
    """Elementwise ``|a - d| <= atol + rtol * |d|`` after moving both to NumPy."""
    a = np.asarray(to_numpy(actual))
    d = np.asarray(to_numpy(desired))
    assert a.shape == d.shape, f"shape {a.shape} != {d.shape} {err_msg}"
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)
