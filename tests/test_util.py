"""The test helpers themselves: each check of xp_assert_close fires, default rtol per dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest
from util import default_rtol, relative_error, xp_assert_close, xp_assert_equal

from statespace._array import to_numpy


def _dev(x):
    from array_api_compat import device

    return device(x)


def test_passes_same_namespace_dtype_shape(xp):
    x = xp.asarray([1.0, 2.0, 3.0], dtype=xp.float64)
    xp_assert_close(x, xp.asarray([1.0, 2.0, 3.0], dtype=xp.float64, device=_dev(x)))
    xp_assert_equal(x, xp.asarray([1.0, 2.0, 3.0], dtype=xp.float64, device=_dev(x)))


def test_numpy_and_compat_numpy_are_one_namespace():
    import array_api_compat.numpy as xnp

    xp_assert_close(xnp.asarray([1.0, 2.0]), np.array([1.0, 2.0]))


def test_namespace_check_fires():
    torch = pytest.importorskip("torch")
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with pytest.raises(AssertionError, match="namespaces differ"):
        xp_assert_close(a, np.array([1.0, 2.0]))
    with pytest.raises(AssertionError, match="namespaces differ"):
        xp_assert_equal(a, np.array([1.0, 2.0]))
    # the oracle comparison: namespace off, dtype still checked across libraries
    xp_assert_close(a, np.array([1.0, 2.0]), check_namespace=False)
    with pytest.raises(AssertionError, match="dtypes differ"):
        xp_assert_close(a, np.array([1.0, 2.0], dtype=np.float32), check_namespace=False)


def test_dtype_check_fires(xp):
    a = xp.asarray([1.0, 2.0], dtype=xp.float32)
    d = xp.asarray([1.0, 2.0], dtype=xp.float64, device=_dev(a))
    with pytest.raises(AssertionError, match="dtypes differ: actual float32, desired float64"):
        xp_assert_close(a, d)
    with pytest.raises(AssertionError, match="dtypes differ"):
        xp_assert_equal(a, d)
    xp_assert_close(a, d, check_dtype=False)


def test_shape_check_fires(xp):
    a = xp.ones((2, 3), dtype=xp.float64)
    d = xp.ones((3,), dtype=xp.float64, device=_dev(a))
    with pytest.raises(AssertionError, match="shapes differ"):
        xp_assert_close(a, d)
    xp_assert_close(a, d, check_shape=False)  # broadcasts


def test_device_check_fires():
    torch = pytest.importorskip("torch")
    a = torch.ones(2, dtype=torch.float64)
    # the meta device holds no values: the device check must fire before any is read
    with pytest.raises(AssertionError, match="devices differ"):
        xp_assert_close(a, a.to("meta"))


@pytest.mark.gpu
def test_device_check_can_be_turned_off():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():  # CI and CPU machines: the GPU matrix skips too
        pytest.skip("needs a CUDA device")
    a = torch.ones(2, dtype=torch.float64)
    with pytest.raises(AssertionError, match="devices differ"):
        xp_assert_close(a, a.cuda())
    xp_assert_close(a, a.cuda(), check_device=False)


def test_value_check_fires(xp):
    a = xp.asarray([1.0, 2.0], dtype=xp.float64)
    d = xp.asarray([1.0, 2.0 + 1e-6], dtype=xp.float64, device=_dev(a))
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        xp_assert_close(a, d)
    xp_assert_close(a, d, rtol=1e-6)
    xp_assert_close(a, d, rtol=0, atol=2e-6)
    with pytest.raises(AssertionError, match="extra context"):
        xp_assert_close(a, d, err_msg="extra context")
    with pytest.raises(AssertionError):
        xp_assert_equal(a, d)


def test_checks_run_before_values():
    # a dtype mismatch is reported even where the values also differ
    with pytest.raises(AssertionError, match="dtypes differ"):
        xp_assert_close(np.array([1.0], np.float32), np.array([5.0]))


@pytest.mark.parametrize(
    "dtype, eps",
    [("float32", np.finfo(np.float32).eps), ("complex64", np.finfo(np.float32).eps),
     ("float64", np.finfo(np.float64).eps), ("complex128", np.finfo(np.float64).eps)],
)
def test_default_rtol_is_4_sqrt_eps(xp, dtype, eps):
    assert default_rtol(getattr(xp, dtype)) == pytest.approx(4 * math.sqrt(eps), rel=1e-12)
    # used when rtol is not given: 0.5 rtol passes, 2 rtol fails
    rtol = 4 * math.sqrt(eps)
    a = xp.asarray([1.0], dtype=getattr(xp, dtype))
    dev = _dev(a)
    xp_assert_close(a, xp.asarray([1.0 + 0.5 * rtol], dtype=getattr(xp, dtype), device=dev))
    with pytest.raises(AssertionError):
        xp_assert_close(a, xp.asarray([1.0 + 2 * rtol], dtype=getattr(xp, dtype), device=dev))


def test_default_rtol_non_floating():
    assert default_rtol(np.int64) == 1e-7
    xp_assert_close(np.array([3, 4]), np.array([3, 4]))


def test_relative_error_accepts_backend_arrays(xp):
    a = xp.asarray([1.0, 2.0], dtype=xp.float64)
    d = xp.asarray([1.0, 2.5], dtype=xp.float64, device=_dev(a))
    assert relative_error(a, d) == pytest.approx(0.2)
    assert relative_error(a, to_numpy(d)) == pytest.approx(0.2)


def test_relative_error_torch_requires_grad():
    torch = pytest.importorskip("torch")
    a = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert relative_error(a * 1, torch.tensor([1.0, 2.5], dtype=torch.float64)) == \
        pytest.approx(0.2)
