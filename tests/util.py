"""Test helpers: backend-aware array assertions, conversion to NumPy, error measures.

Test modules import them as ``from util import ...``: ``tests/`` is not a package, and
pytest's default (``prepend``) import mode puts the directory of ``tests/conftest.py``
on ``sys.path``, so this works from any working directory and with plain ``pytest``.

:func:`xp_assert_close` and :func:`xp_assert_equal` follow SciPy's
``scipy._lib._array_api`` assertions: they check the array namespace, dtype, device
and shape of both arguments before comparing values, so a result that silently
changed library, precision or device fails even when its values are right.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace, device

from statespace._array import to_numpy
from statespace.verification.report import relative_error

__all__ = [
    "to_numpy",
    "eps_of",
    "relative_error",
    "default_rtol",
    "xp_assert_close",
    "xp_assert_equal",
]


def eps_of(dtype) -> float:
    """Machine epsilon for a NumPy or backend dtype name."""
    name = str(dtype)
    single = "float32" in name or "complex64" in name
    return float(np.finfo(np.float32 if single else np.float64).eps)


def _dtype_name(dtype) -> str:
    """``'float32'`` for ``np.float32``, ``torch.float32``, ``array_api_strict.float32``."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


def default_rtol(dtype) -> float:
    r"""Default relative tolerance of :func:`xp_assert_close` for ``dtype``.

    :math:`4\sqrt{\varepsilon}` for floating and complex dtypes, with
    :math:`\varepsilon` the machine epsilon of the real precision (``complex64``
    counts as ``float32``): about ``1.4e-3`` for float32 and ``6.0e-8`` for float64.
    ``1e-7`` (NumPy's ``assert_allclose`` default) for any other dtype.
    """
    name = _dtype_name(dtype)
    if name.startswith(("float", "complex")):
        return 4 * eps_of(name) ** 0.5
    return 1e-7


def _strict_check(actual, desired, *, check_namespace, check_dtype, check_shape,
                  check_device, err_msg):
    """Assert namespace, dtype, device and shape agree; return both as NumPy arrays."""
    __tracebackhide__ = True
    suffix = f"\n{err_msg}" if err_msg else ""
    if check_namespace:
        xa, xd = array_namespace(actual), array_namespace(desired)
        assert xa is xd, (
            f"namespaces differ: actual {xa.__name__}, desired {xd.__name__}{suffix}"
        )
    # metadata first: nothing is copied to the host until it agrees
    if check_dtype:
        da = _dtype_name(_dtype_of(actual))
        dd = _dtype_name(_dtype_of(desired))
        assert da == dd, f"dtypes differ: actual {da}, desired {dd}{suffix}"
    if check_device and _same_library(actual, desired):
        va, vd = device(actual), device(desired)
        assert va == vd, f"devices differ: actual {va}, desired {vd}{suffix}"
    a, d = np.asarray(to_numpy(actual)), np.asarray(to_numpy(desired))
    if check_shape:
        assert a.shape == d.shape, f"shapes differ: actual {a.shape}, desired {d.shape}{suffix}"
    return a, np.broadcast_to(d, a.shape)


def _dtype_of(x):
    """``x.dtype``, or that of ``numpy.asarray(x)`` for lists and scalars."""
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def _same_library(actual, desired) -> bool:
    """Both are arrays of one namespace (devices of different libraries do not compare)."""
    try:
        return array_namespace(actual) is array_namespace(desired)
    except TypeError:
        return False


def xp_assert_close(actual, desired, *, rtol=None, atol=0, check_namespace=True,
                    check_dtype=True, check_shape=True, check_device=True, err_msg=""):
    r"""Assert ``|actual - desired| <= atol + rtol * |desired|`` elementwise, checking
    namespace, dtype, device and shape first.

    Parameters
    ----------
    actual : array
        The result under test (NumPy, torch, array-api-strict or CuPy array).
    desired : array
        The expected value, built in the same namespace, dtype and device as
        ``actual`` (e.g. ``xp.asarray(expected, dtype=x.dtype, device=device(x))``)
        unless the corresponding check is switched off.
    rtol : float, optional
        Relative tolerance. Default :func:`default_rtol` of ``actual``'s dtype:
        :math:`4\sqrt{\varepsilon}` for floating and complex dtypes (SciPy's rule;
        ``1.4e-3`` for float32, ``6.0e-8`` for float64), ``1e-7`` otherwise.
    atol : float, optional
        Absolute tolerance (default 0).
    check_namespace : bool, optional
        ``array_namespace(actual)`` must be ``array_namespace(desired)``. NumPy arrays
        and ``array_api_compat.numpy`` arrays are the same namespace. Switch off to
        compare a backend result with a NumPy (or mpmath) oracle; then ``desired`` may
        be any array-like.
    check_dtype : bool, optional
        The dtypes must have the same name (``torch.float32`` matches ``np.float32``
        when the namespace check is off).
    check_shape : bool, optional
        The shapes must be equal; when off, ``desired`` broadcasts against ``actual``.
    check_device : bool, optional
        ``device(actual) == device(desired)``; checked only when both are arrays of one
        namespace, since devices of different libraries do not compare.
    err_msg : str, optional
        Appended to the failure message.

    Notes
    -----
    Values are compared on host NumPy copies with :func:`numpy.testing.assert_allclose`
    after the checks (NaNs in the same places compare equal). Complex values are
    compared by modulus of the difference.
    """
    __tracebackhide__ = True
    a, d = _strict_check(actual, desired, check_namespace=check_namespace,
                         check_dtype=check_dtype, check_shape=check_shape,
                         check_device=check_device, err_msg=err_msg)
    if rtol is None:
        rtol = default_rtol(getattr(actual, "dtype", a.dtype))
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)


def xp_assert_equal(actual, desired, *, check_namespace=True, check_dtype=True,
                    check_shape=True, check_device=True, err_msg=""):
    """Assert exact equality after the checks of :func:`xp_assert_close`.

    Parameters are those of :func:`xp_assert_close` without the tolerances. NaNs in
    the same places compare equal (:func:`numpy.testing.assert_array_equal`).
    """
    __tracebackhide__ = True
    a, d = _strict_check(actual, desired, check_namespace=check_namespace,
                         check_dtype=check_dtype, check_shape=check_shape,
                         check_device=check_device, err_msg=err_msg)
    np.testing.assert_array_equal(a, d, err_msg=err_msg)
