"""The input-validation policy (docs/validation.md), one test per condition.

Every public function checks its inputs through the helpers of ``statespace._array``:
finite values, the types of ``dt`` and of the boolean flags, masked arrays, one
broadcasting rule for ``dt``, overflow of the result, and one exception type per
condition on every backend. The first tests pin the silent wrong results this policy
exists for: a conjugate-pair (halved) system whose arrays happen to be real-typed.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest
from util import relative_error, to_numpy, xp_assert_close

import statespace as ss
from statespace import _array
from statespace import boundary as bd
from statespace import discretize as sd
from statespace import recurrence as rec

# NumPy warns on the overflow that the checks under test turn into a ValueError
pytestmark = pytest.mark.filterwarnings(
    "ignore:(overflow|invalid value|divide by zero) encountered:RuntimeWarning"
)


def _f64(xp, a):
    a = np.asarray(a)
    return xp.asarray(a, dtype=xp.complex128 if np.iscomplexobj(a) else xp.float64)


def _is_numpy(xp):
    return xp.__name__ == "array_api_compat.numpy"


# ------------------------------------------------------------------------------------
# real- or complex-typed halved systems give the same answer
# ------------------------------------------------------------------------------------
def test_halved_real_typed_diag_scan(xp):
    lam, B, C, u = [-1.0], [1.0], [1.0], [1.0, 0.0, 0.0]
    y_real = ss.scan(sd.bilinear_diag(_f64(xp, lam), _f64(xp, B), 0.1), _f64(xp, u),
                     C=_f64(xp, C), halved=True)[0]
    y_cplx = ss.scan(sd.bilinear_diag(_f64(xp, np.array(lam) + 0j), _f64(xp, np.array(B) + 0j),
                                      0.1), _f64(xp, u), C=_f64(xp, np.array(C) + 0j),
                     halved=True)[0]
    # 2 Re(C Ad^l Bd) with Ad = 0.95/1.05, Bd = 0.1/1.05
    expected = 2 * (0.1 / 1.05) * (0.95 / 1.05) ** np.arange(3)
    np.testing.assert_allclose(to_numpy(y_real), expected, rtol=1e-14)
    xp_assert_close(y_real, y_cplx, rtol=1e-14)


def _real_dplr(rng, n=3):
    lam = -rng.uniform(0.2, 1.0, n)
    P = 0.5 * rng.standard_normal((1, n))
    B, C, x = (rng.standard_normal(n) for _ in range(3))
    return lam, P, B, C, x


def test_halved_real_typed_dplr_scan_matches_kernel(xp, rng):
    lam, P, B, C, _ = _real_dplr(rng)
    L = 16
    u = np.zeros(L)
    u[0] = 1.0
    K = ss.kernel_dplr(_f64(xp, lam), _f64(xp, P), _f64(xp, B), _f64(xp, C), 0.1, L,
                       halved=True)
    sys_ = sd.bilinear_dplr(_f64(xp, lam), _f64(xp, P), _f64(xp, B), 0.1, halved=True)
    y = ss.scan(sys_, _f64(xp, u), C=_f64(xp, C), halved=True)[0]
    assert relative_error(to_numpy(y), to_numpy(K)) < 1e-13


def test_halved_real_typed_dplr_pieces_match_complex(xp, rng):
    lam, P, B, _, x = _real_dplr(rng)
    real = [_f64(xp, a) for a in (lam, P, B, x)]
    cplx = [_f64(xp, np.asarray(a) + 0j) for a in (lam, P, B, x)]
    out = []
    for lam_, P_, B_, x_ in (real, cplx):
        sys_ = sd.bilinear_dplr(lam_, P_, B_, 0.1, halved=True)
        out.append([sys_.to_dense().Ad, sd.dplr_transition(sys_, x_), ss.step(sys_, x_, 1.0),
                    sd.dplr_to_dense(lam_, P_, halved=True)])
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-14, atol=1e-15)


def _typing_cases():
    rng = np.random.default_rng(7)
    lam, P, B, C, x = _real_dplr(rng)
    u = rng.standard_normal(6)

    def cases(h):
        return {
            "kernel_dplr": lambda l, p, b, c, s: ss.kernel_dplr(l, p, b, c, 0.1, 8, halved=h),
            "kernel_dplr_tilde": lambda l, p, b, c, s: ss.kernel_dplr(l, p, b, c, 0.1, 8,
                                                                      halved=h, tilde=True),
            "kernel_diag": lambda l, p, b, c, s: ss.kernel_diag(l, b, c, 0.1, 8, halved=h),
            "kernel_diag_dss": lambda l, p, b, c, s: ss.kernel_diag(l, b, c, 0.1, 8, "dss",
                                                                    halved=h),
            "scan_diag": lambda l, p, b, c, s: ss.scan(sd.zoh_diag(l, b, 0.1), u, x0=s, C=c,
                                                       halved=h)[0],
            "scan_dplr": lambda l, p, b, c, s: ss.scan(sd.bilinear_dplr(l, p, b, 0.1, halved=h),
                                                       u, x0=s, C=c, halved=h)[0],
            "scan_dplr_state": lambda l, p, b, c, s: ss.scan(
                sd.bilinear_dplr(l, p, b, 0.1, halved=h), u, x0=s, halved=h)[1],
            "c_tilde_dplr": lambda l, p, b, c, s: bd.c_tilde_dplr(l, p, c, 0.1, 8, halved=h),
            "c_from_tilde_dplr": lambda l, p, b, c, s: bd.c_from_tilde_dplr(l, p, c, 0.1, 8,
                                                                            halved=h),
            "initial_response_dplr": lambda l, p, b, c, s: bd.initial_response_dplr(
                l, p, c, s, 0.1, 8, halved=h),
            "initial_response_diag": lambda l, p, b, c, s: bd.initial_response_diag(
                l, c, s, 0.1, 8, halved=h),
            "final_state_dplr": lambda l, p, b, c, s: bd.final_state_dplr(l, p, b, s, u, 0.1,
                                                                          halved=h),
            "final_state_diag": lambda l, p, b, c, s: bd.final_state_diag(l, b, s, u, 0.1,
                                                                          halved=h),
        }

    out = []
    for h in (False, True):
        out += [pytest.param(f, (lam, P, B, C, x), id=f"{k}-halved={h}")
                for k, f in cases(h).items()]
    out += [
        pytest.param(lambda l, p, b, c, s: ss.kernel_dense(sd.dplr_to_dense(l, p), b, c, 0.1, 8),
                     (lam, P, B, C, x), id="kernel_dense"),
        pytest.param(lambda l, p, b, c, s: bd.c_tilde_diag(l, c, 0.1, 8), (lam, P, B, C, x),
                     id="c_tilde_diag"),
        pytest.param(lambda l, p, b, c, s: sd.zoh(sd.dplr_to_dense(l, p), b, 0.1).Ad,
                     (lam, P, B, C, x), id="zoh"),
        pytest.param(lambda l, p, b, c, s: ss.causal_conv(u, c, D=b[0]), (lam, P, B, C, x),
                     id="causal_conv"),
    ]
    return out


@pytest.mark.parametrize(("fn", "args"), _typing_cases())
def test_same_values_same_answer_whatever_the_typing(fn, args):
    real = fn(*args)
    cplx = fn(*(np.asarray(a) + 0j for a in args))
    np.testing.assert_allclose(np.asarray(real), np.asarray(cplx), rtol=1e-12, atol=1e-14)


def test_complex_input_of_a_halved_system_is_a_type_error():
    sys_ = sd.bilinear_dplr(np.array([-1.0 + 1j]), np.array([[0.5j]]), np.ones(1), 0.1,
                            halved=True)
    with pytest.raises(TypeError, match="u must have a real dtype when halved=True"):
        ss.scan(sys_, np.ones(3) + 0j, halved=True)
    with pytest.raises(TypeError, match="u must have a real dtype when halved=True"):
        ss.step(sys_, np.ones(1) + 0j, np.complex128(1.0))
    with pytest.raises(TypeError, match="u must have a real dtype when halved=True"):
        bd.final_state_diag(np.array([-1.0 + 1j]), np.ones(1), np.ones(1), np.ones(3) + 0j,
                            0.1, halved=True)


def test_integer_arrays_are_numbers():
    # one array rule: integer dtypes are converted, in kernels as in discretizations
    Kint = ss.kernel_diag([-1], [1], [1], 0.1, 4)
    Kflt = ss.kernel_diag([-1.0], [1.0], [1.0], 0.1, 4)
    np.testing.assert_array_equal(Kint, Kflt)
    np.testing.assert_array_equal(sd.zoh_diag([-1], [1], 0.1).Bd, sd.zoh_diag([-1.0], [1.0],
                                                                               0.1).Bd)



def test_nested_lists_count_as_double_precision():
    # a list of floats stands for the float64 array NumPy makes of it, on every
    # backend: mixed with single-precision arrays it makes the computation double
    lam = np.array([-0.46, -1.09], dtype=np.float32)
    C = np.array([0.9, -0.5], dtype=np.float32)
    B = np.array([-0.9, -0.77])
    K64 = ss.kernel_diag(lam, B, C, 0.9, 5)
    K_list = ss.kernel_diag(lam, B.tolist(), C, 0.9, 5)
    assert K_list.dtype == np.float64
    np.testing.assert_array_equal(K_list, K64)
    torch = pytest.importorskip("torch")
    Kt = ss.kernel_diag(torch.from_numpy(lam), B.tolist(), torch.from_numpy(C), 0.9, 5)
    assert Kt.dtype == torch.float64
    # integer lists choose no precision, as integer arrays
    assert ss.kernel_diag(lam, [1, 2], C, 0.9, 5).dtype == np.float32

# ------------------------------------------------------------------------------------
# overflow: ValueError naming the cause, never inf/NaN
# ------------------------------------------------------------------------------------
def test_kernel_dense_overflow(xp):
    with pytest.raises(ValueError, match="kernel_dense overflowed.*grows"):
        ss.kernel_dense(_f64(xp, [[1.0]]), _f64(xp, [1.0]), _f64(xp, [1.0]), 1.0, 700)


def test_kernel_dense_overflow_with_integer_lists():
    with pytest.raises(ValueError, match="kernel_dense overflowed"):
        ss.kernel_dense([[1.0]], [1], [1], 1.0, 700)


@pytest.mark.parametrize("fn", [sd.zoh_diag, sd.zoh])
def test_zoh_overflow(xp, fn):
    lam = _f64(xp, [1.0]) if fn is sd.zoh_diag else _f64(xp, [[1.0]])
    with pytest.raises(ValueError, match=r"overflowed.*exp\(dt\*"):
        fn(lam, _f64(xp, [1.0]), 1e3)


def test_zoh_dense_input_overflow(xp):
    # dt*A overflows before the exponential (was OverflowError from the Pade scaling)
    with pytest.raises(ValueError, match=r"ZOH discretization overflowed.*dt\*A"):
        sd.zoh(_f64(xp, [[1e300]]), _f64(xp, [1.0]), 1e10)


def test_diag_gbt_overflow(xp):
    with pytest.raises(ValueError, match="overflowed.*dt\\*Lambda overflows"):
        sd.forward_euler_diag(_f64(xp, [1e300]), _f64(xp, [1.0]), 1e10)


def test_kernel_diag_overflow_says_why(xp):
    one = _f64(xp, [1.0])
    with pytest.raises(ValueError, match=r"kernel_diag overflowed.*exp\(dt\*Lambda\)"):
        ss.kernel_diag(one, one, one, 1e3, 3)
    with pytest.raises(ValueError, match=r"kernel_diag: exp\(l \* log Lambda_d\)"):
        ss.kernel_diag(one, one, one, 1.0, 1000)


def test_kernel_diag_bilinear_singular_says_why(xp):
    # was "v contains NaN or infinite values", from inside the Vandermonde reduction
    one = _f64(xp, [1.0])
    with pytest.raises(ValueError, match="kernel_diag: the bilinear transform is singular"):
        ss.kernel_diag(2 * one, one, one, 1.0, 3, "bilinear")


def test_kernel_dplr_bilinear_singular_says_why(xp):
    lam, P, one = _f64(xp, [2.0 + 0j]), _f64(xp, [[0.0j]]), _f64(xp, [1.0])
    with pytest.raises(ValueError, match="kernel_dplr: the bilinear transform is singular"):
        ss.kernel_dplr(lam, P, one, one, 1.0, 8)
    with pytest.raises(ValueError, match="c_tilde_dplr: the bilinear transform is singular"):
        bd.c_tilde_dplr(lam, P, one, 1.0, 8)


def test_bilinear_zero_pole_is_exact(xp):
    # dt*Lambda = -2 maps to the discrete pole 0: K = [Bd, 0, 0, ...], finite
    m2, one = _f64(xp, [-2.0]), _f64(xp, [1.0])
    K = ss.kernel_diag(m2, one, one, 1.0, 4, "bilinear")
    np.testing.assert_array_equal(to_numpy(K), [0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(to_numpy(bd.c_tilde_diag(m2, one, 1.0, 4, "bilinear")),
                                  [1.0])


@pytest.mark.parametrize("what", ["scan", "step"])
def test_recurrence_overflow(xp, what):
    sys_ = sd.DiagDiscrete(_f64(xp, [1e200]), _f64(xp, [1.0]))
    with pytest.raises(ValueError, match=f"{what} overflowed.*unstable"):
        if what == "scan":
            ss.scan(sys_, _f64(xp, np.ones(5)), C=_f64(xp, [1.0]))
        else:
            ss.step(sys_, _f64(xp, [1e200]), 1.0)


def test_conv_overflow(xp):
    big = _f64(xp, np.full(4, 1e300))
    with pytest.raises(ValueError, match="causal_conv overflowed"):
        ss.causal_conv(big, big)
    with pytest.raises(ValueError, match="bidirectional_conv overflowed"):
        ss.bidirectional_conv(big, big, big)


@pytest.mark.parametrize("fn", [
    lambda one, P: bd.c_tilde_diag(one, one, 1.0, 1000),
    lambda one, P: bd.c_tilde_dplr(one, P, one, 1.0, 3000),
    lambda one, P: bd.initial_response_diag(one, one, one, 1.0, 1000),
    lambda one, P: bd.initial_response_dplr(one, P, one, one, 1.0, 3000),
    lambda one, P: bd.final_state_diag(one, one, one, np.ones(1000), 1.0),
    lambda one, P: bd.final_state_dplr(one, P, one, one, np.ones(3000), 1.0),
], ids=["c_tilde_diag", "c_tilde_dplr", "initial_response_diag", "initial_response_dplr",
        "final_state_diag", "final_state_dplr"])
def test_boundary_overflow(fn):
    with pytest.raises(ValueError, match="overflowed|exceeds the floating-point range"):
        fn(np.ones(1), np.zeros((1, 1)))


# ------------------------------------------------------------------------------------
# NaN never passes through
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", ["lagt", "tlagt"])
@pytest.mark.parametrize("beta", [math.nan, math.inf])
def test_transition_parameter_nan(measure, beta):
    with pytest.raises(ValueError, match="beta must be finite"):
        ss.hippo.transition(measure, 4, beta=beta)
    with pytest.raises(ValueError, match="beta must be finite"):
        ss.hippo.rank_correction(measure, 4, beta=beta)


def test_transition_parameter_types():
    with pytest.raises(TypeError, match="beta must be a real number, got bool"):
        ss.hippo.transition("lagt", 4, beta=True)
    with pytest.raises(TypeError, match="beta must be a real number, got complex"):
        ss.hippo.transition("lagt", 4, beta=1 + 0j)
    with pytest.raises(TypeError, match="seed must be an integer, got float"):
        ss.hippo.transition("random", 4, seed=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        ss.hippo.transition("random", 4, seed=-1)
    A, B = ss.hippo.transition("lagt", 3, beta=np.float32(2.0))
    np.testing.assert_array_equal(B, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("which", ["u", "x", "sys"])
def test_step_nan(xp, which):
    lam, B, x, u = [0.5], [1.0], [0.0], 1.0
    if which == "u":
        u = math.nan
    elif which == "x":
        x = [math.nan]
    else:
        lam = [math.nan]
    sys_ = sd.DiagDiscrete(_f64(xp, lam), _f64(xp, B))
    name = "sys.Lambda_d" if which == "sys" else which
    with pytest.raises(ValueError, match=f"^{name} contains NaN or infinite values"):
        rec.step(sys_, _f64(xp, x), u)


def test_scan_nan_system(xp):
    sys_ = sd.DiagDiscrete(_f64(xp, [0.5]), _f64(xp, [math.inf]))
    with pytest.raises(ValueError, match="^sys.Bd contains NaN or infinite values"):
        ss.scan(sys_, _f64(xp, np.ones(3)), C=_f64(xp, [1.0]))


def test_dplr_to_dense_nan(xp):
    with pytest.raises(ValueError, match="^Lambda contains NaN"):
        sd.dplr_to_dense(_f64(xp, [math.nan]), _f64(xp, [[1.0]]))
    with pytest.raises(ValueError, match="^P contains NaN"):
        sd.dplr_to_dense(_f64(xp, [-1.0]), _f64(xp, [[math.inf]]))


def test_dplr_transition_nan(xp):
    sys_ = sd.bilinear_dplr(_f64(xp, [-1.0 + 1j]), _f64(xp, [[0.5j]]), _f64(xp, [1.0 + 0j]),
                            0.1)
    with pytest.raises(ValueError, match="^x contains NaN"):
        sd.dplr_transition(sys_, _f64(xp, [math.nan + 0j]))


# ------------------------------------------------------------------------------------
# loose acceptance: bools as dt, masked arrays, bool arrays
# ------------------------------------------------------------------------------------
_ONE = np.array([-1.0])


def _dt_calls():
    one, P, A = np.ones(1), np.zeros((1, 1)), -np.eye(1)
    return {
        "discretize": lambda dt: sd.discretize(sd.DiagSystem(_ONE, one), dt),
        "zoh": lambda dt: sd.zoh(A, one, dt),
        "bilinear_dplr": lambda dt: sd.bilinear_dplr(_ONE, P, one, dt),
        "kernel_dense": lambda dt: ss.kernel_dense(A, one, one, dt, 4),
        "kernel_dplr": lambda dt: ss.kernel_dplr(_ONE, P, one, one, dt, 4),
        "kernel_diag": lambda dt: ss.kernel_diag(_ONE, one, one, dt, 4),
        "c_tilde_dplr": lambda dt: bd.c_tilde_dplr(_ONE, P, one, dt, 4),
        "c_from_tilde_diag": lambda dt: bd.c_from_tilde_diag(_ONE, one, dt, 4),
        "initial_response_dplr": lambda dt: bd.initial_response_dplr(_ONE, P, one, one, dt, 4),
        "final_state_diag": lambda dt: bd.final_state_diag(_ONE, one, one, one, dt),
    }


@pytest.mark.parametrize("fn", sorted(_dt_calls()))
@pytest.mark.parametrize("dt", [True, np.bool_(True), None, "0.1", 0.1j, np.array([True]),
                                np.array([0.1 + 0j]), np.ma.masked_array([0.1], mask=[True])],
                         ids=["True", "np.bool_", "None", "str", "complex", "bool-array",
                              "complex-array", "masked"])
def test_dt_type_errors_name_dt(fn, dt):
    with pytest.raises(TypeError, match="^dt "):
        _dt_calls()[fn](dt)


def test_dt_true_was_one():
    # dt=True used to be taken as 1.0
    with pytest.raises(TypeError, match="dt must be a positive real number or array, got a "
                                        "bool"):
        sd.bilinear_diag(_ONE, np.ones(1), True)


@pytest.mark.parametrize("fn", sorted(_dt_calls()))
@pytest.mark.parametrize("dt", [0.0, -1.0, math.nan, math.inf, np.array([0.1, math.nan])])
def test_dt_values(fn, dt):
    with pytest.raises(ValueError, match="dt"):
        _dt_calls()[fn](dt)


def _array_calls():
    one, P, A = np.ones(1), np.zeros((1, 1)), -np.eye(1)
    u = np.ones(3)
    return [
        ("Lambda", lambda a: sd.zoh_diag(a, one, 0.1)),
        ("A", lambda a: sd.bilinear(a, one, 0.1)),
        ("P", lambda a: sd.dplr_to_dense(_ONE, a)),
        ("C", lambda a: ss.kernel_dense(A, one, a, 0.1, 4)),
        ("B", lambda a: ss.kernel_dplr(_ONE, P, a, one, 0.1, 4)),
        ("Lambda", lambda a: ss.kernel_diag(a, one, one, 0.1, 4)),
        ("u", lambda a: ss.scan(sd.zoh_diag(_ONE, one, 0.1), a)),
        ("x", lambda a: ss.step(sd.zoh_diag(_ONE, one, 0.1), a, 1.0)),
        ("K", lambda a: ss.causal_conv(u, a)),
        ("v", lambda a: ss.cauchy(a, one, _ONE)),
        ("x", lambda a: ss.vandermonde(one, a, 3)),
        ("Ct", lambda a: bd.c_from_tilde_dplr(_ONE, P, a, 0.1, 4)),
        ("x", lambda a: bd.final_state_dplr(_ONE, P, one, a, u, 0.1)),
        ("lengths", lambda a: bd.final_state_diag(_ONE, one, one, u, 0.1, lengths=a)),
    ]


@pytest.mark.parametrize(("name", "fn"), _array_calls(),
                         ids=[f"{i}-{n}" for i, (n, _) in enumerate(_array_calls())])
def test_masked_arrays_refused(name, fn):
    shape = (1, 1) if name in ("A", "P") else (1,)
    masked = np.ma.masked_array(np.ones(shape, dtype=int if name == "lengths" else float),
                                mask=True)
    with pytest.raises(TypeError, match=f"^{name} is a numpy masked array"):
        fn(masked)


@pytest.mark.parametrize(("name", "fn"), [c for c in _array_calls() if c[0] != "lengths"],
                         ids=[f"{i}-{n}" for i, (n, _) in enumerate(_array_calls())
                              if n != "lengths"])
def test_bool_and_object_arrays_refused(name, fn):
    shape = (1, 1) if name in ("A", "P") else (1,)
    with pytest.raises(TypeError, match=f"^{name} must have a numeric dtype"):
        fn(np.ones(shape, dtype=bool))
    with pytest.raises(TypeError, match=f"^{name} must"):
        fn(np.full(shape, None, dtype=object))


@pytest.mark.parametrize(("name", "fn"), [c for c in _array_calls() if c[0] != "lengths"],
                         ids=[f"{i}-{n}" for i, (n, _) in enumerate(_array_calls())
                              if n != "lengths"])
def test_half_precision_refused(name, fn):
    # computing float16 values in float64 and returning float64 would hide the change of
    # precision; the caller casts (the torch modules do so for their half parameters)
    shape = (1, 1) if name in ("A", "P") else (1,)
    with pytest.raises(TypeError, match=f"^{name} has dtype float16"):
        fn(np.ones(shape, dtype=np.float16))


@pytest.mark.parametrize("fn", [ss.causal_conv, lambda u, k: ss.bidirectional_conv(u, k, k)])
def test_empty_batch_convolution(xp, fn):
    # torch's CPU FFT rejects an empty batch; the result is the empty output
    u = xp.zeros((0, 3, 8), dtype=xp.float32)
    y = fn(u, xp.ones((3, 8), dtype=xp.float32))
    assert tuple(y.shape) == (0, 3, 8) and y.dtype == xp.float32


# ------------------------------------------------------------------------------------
# flags: bool and numpy.bool_, nothing else
# ------------------------------------------------------------------------------------
def _flag_calls():
    lam, P, one = np.array([-1.0 + 1j]), np.array([[0.3 + 0j]]), np.ones(1)
    return [
        ("halved", lambda f: ss.kernel_diag(lam, one, one, 0.1, 4, halved=f)),
        ("halved", lambda f: ss.kernel_dplr(lam, P, one, one, 0.1, 4, halved=f)),
        ("tilde", lambda f: ss.kernel_dplr(lam, P, one, one, 0.1, 4, tilde=f)),
        ("halved", lambda f: sd.bilinear_dplr(lam, P, one, 0.1, halved=f).to_dense().Ad),
        ("halved", lambda f: sd.dplr_to_dense(lam, P, halved=f)),
        ("halved", lambda f: ss.scan(sd.zoh_diag(lam, one, 0.1), np.ones(3), C=one,
                                     halved=f)[0]),
        ("halved", lambda f: bd.initial_response_diag(lam, one, one, 0.1, 4, halved=f)),
        ("tilde", lambda f: bd.initial_response_dplr(lam, P, one, one, 0.1, 4, tilde=f)),
        ("return_cond", lambda f: bd.c_from_tilde_dplr(lam, P, one, 0.1, 4,
                                                       return_cond=f)[0]),
    ]


@pytest.mark.parametrize(("name", "fn"), _flag_calls(),
                         ids=[f"{i}-{n}" for i, (n, _) in enumerate(_flag_calls())])
def test_flags(name, fn):
    np.testing.assert_array_equal(fn(np.bool_(True)), fn(True))
    np.testing.assert_array_equal(fn(np.bool_(False)), fn(False) if name != "return_cond"
                                  else fn(False))
    for bad in (1, None, "yes", np.array(True)):
        with pytest.raises(TypeError, match=f"^{name} must be a bool, got"):
            fn(bad)


# ------------------------------------------------------------------------------------
# one exception type per condition on every backend
# ------------------------------------------------------------------------------------
def test_singular_gbt_is_a_value_error(xp):
    A, B = _f64(xp, [[1.0]]), _f64(xp, [1.0])
    with pytest.raises(ValueError, match=r"^I - alpha\*dt\*A is singular"):
        sd.backward_euler(A, B, 1.0)
    with pytest.raises(ValueError, match=r"^I - alpha\*dt\*A is singular"):
        ss.kernel_dense(A, B, B, 1.0, 4, "backward_euler")
    with pytest.raises(ValueError, match="singular"):
        sd.backward_euler_diag(_f64(xp, [1.0]), B, 1.0)


def test_singular_correction_is_a_value_error(xp):
    zero, P, one = _f64(xp, [0.0]), _f64(xp, [[0.0]]), _f64(xp, [1.0])
    with pytest.raises(ValueError, match="^I - Ad\\^L is singular"):
        bd.c_from_tilde_dplr(zero, P, one, 1.0, 10, max_cond=math.inf)


# ------------------------------------------------------------------------------------
# one dt rule: dt broadcasts against the batch shape
# ------------------------------------------------------------------------------------
def _unbatched_calls():
    lam, one, P, u = np.array([-0.5 + 1j, -1.0 + 0j]), np.ones(2), np.zeros((1, 2)), np.ones(4)
    return {
        "kernel_dense": lambda dt: ss.kernel_dense(np.diag(lam), one, one, dt, 4),
        "kernel_dplr": lambda dt: ss.kernel_dplr(lam, P, one, one, dt, 4),
        "kernel_diag": lambda dt: ss.kernel_diag(lam, one, one, dt, 4),
        "bilinear_diag": lambda dt: sd.bilinear_diag(lam, one, dt).Bd,
        "bilinear_dplr": lambda dt: sd.bilinear_dplr(lam, P, one, dt).Bd,
        "zoh": lambda dt: sd.zoh(np.diag(lam), one, dt).Ad,
        "c_tilde_diag": lambda dt: bd.c_tilde_diag(lam, one, dt, 4),
        "c_from_tilde_diag": lambda dt: bd.c_from_tilde_diag(lam, one, dt, 4),
        "c_tilde_dplr": lambda dt: bd.c_tilde_dplr(lam, P, one, dt, 4),
        "c_from_tilde_dplr": lambda dt: bd.c_from_tilde_dplr(lam, P, one, dt, 4),
        "initial_response_diag": lambda dt: bd.initial_response_diag(lam, one, one, dt, 4),
        "initial_response_dplr": lambda dt: bd.initial_response_dplr(lam, P, one, one, dt, 4),
        "final_state_diag": lambda dt: bd.final_state_diag(lam, one, one, u, dt),
        "final_state_dplr": lambda dt: bd.final_state_dplr(lam, P, one, one, u, dt),
    }


@pytest.mark.parametrize("fn", sorted(_unbatched_calls()))
def test_dt_of_shape_H_gives_H_results(fn):
    call = _unbatched_calls()[fn]
    dts = np.array([0.1, 0.2, 0.3])
    out = call(dts)
    assert out.shape[0] == 3
    for h, dt in enumerate(dts):
        np.testing.assert_allclose(out[h], call(float(dt)), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("fn", sorted(_unbatched_calls()))
def test_dt_mismatch_names_both(fn):
    # a system of batch shape (3,) and dt of shape (2,): the message names both
    with pytest.raises(ValueError, match=r"\(3,\).*, dt \(2,\) do not broadcast"):
        _batched(fn)(np.array([0.1, 0.2]))


def _batched(fn):
    """``fn`` of :func:`_unbatched_calls` with a system of batch shape (3,)."""
    lam = np.tile(np.array([-0.5 + 1j, -1.0 + 0j]), (3, 1))
    one, P, u = np.ones(2), np.zeros((1, 2)), np.ones(4)
    A = np.tile(-np.eye(2), (3, 1, 1))
    return {
        "kernel_dense": lambda dt: ss.kernel_dense(A, one, one, dt, 4),
        "zoh": lambda dt: sd.zoh(A, one, dt).Ad,
        "kernel_dplr": lambda dt: ss.kernel_dplr(lam, P, one, one, dt, 4),
        "kernel_diag": lambda dt: ss.kernel_diag(lam, one, one, dt, 4),
        "bilinear_diag": lambda dt: sd.bilinear_diag(lam, one, dt).Bd,
        "bilinear_dplr": lambda dt: sd.bilinear_dplr(lam, P, one, dt).Bd,
        "c_tilde_diag": lambda dt: bd.c_tilde_diag(lam, one, dt, 4),
        "c_from_tilde_diag": lambda dt: bd.c_from_tilde_diag(lam, one, dt, 4),
        "c_tilde_dplr": lambda dt: bd.c_tilde_dplr(lam, P, one, dt, 4),
        "c_from_tilde_dplr": lambda dt: bd.c_from_tilde_dplr(lam, P, one, dt, 4),
        "initial_response_diag": lambda dt: bd.initial_response_diag(lam, one, one, dt, 4),
        "initial_response_dplr": lambda dt: bd.initial_response_dplr(lam, P, one, one, dt, 4),
        "final_state_diag": lambda dt: bd.final_state_diag(lam, one, one, u, dt),
        "final_state_dplr": lambda dt: bd.final_state_dplr(lam, P, one, one, u, dt),
    }[fn]


def test_dt_rule_on_backends(xp):
    lam, one = _f64(xp, [-0.5 + 1j, -1.0 + 0j]), _f64(xp, [1.0, 1.0])
    dts = _f64(xp, [0.1, 0.2, 0.3])
    K = ss.kernel_diag(lam, one, one, dts, 4, "bilinear")
    Kd = ss.kernel_dplr(lam, _f64(xp, np.zeros((1, 2)) + 0j), one, one, dts, 4)
    assert tuple(K.shape) == tuple(Kd.shape) == (3, 4)
    xp_assert_close(K, Kd, rtol=1e-12, check_dtype=False)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: ss.kernel_diag(np.ones((2, 3)), np.ones((3, 3)), np.ones(3), 0.1, 3),
     r"Lambda \(2,\), B \(3,\)"),
    (lambda: ss.kernel_dense(-np.eye(2), np.ones((3, 2)), np.ones((2, 2)), 0.1, 4),
     r"A, B and dt \(3,\), C \(2,\)"),
    (lambda: ss.step(sd.zoh_diag(-np.ones((3, 2)), np.ones(2), 0.1), np.ones((2, 2)), 1.0),
     r"sys \(3,\), x \(2,\)"),
    (lambda: ss.scan(sd.zoh_diag(-np.ones((3, 2)), np.ones(2), 0.1), np.ones((3, 4)),
                     C=np.ones((3, 2)), D=np.ones(2)), r"D \(2,\)"),
    (lambda: bd.c_tilde_diag(-np.ones((3, 2)), np.ones((2, 2)), 0.1, 4),
     r"Lambda \(3,\), C \(2,\)"),
    (lambda: bd.c_tilde_dplr(-np.ones((3, 2)), np.zeros((1, 2)), np.ones((2, 2)), 0.1, 4),
     r"C \(2,\)"),
    (lambda: sd.dplr_transition(sd.bilinear_dplr(-np.ones((3, 2)), np.zeros((1, 2)),
                                                 np.ones(2), 0.1), np.ones((2, 2))),
     r"sys \(3,\), x \(2,\)"),
], ids=["kernel_diag", "kernel_dense", "step", "scan", "c_tilde_diag", "c_tilde_dplr",
        "dplr_transition"])
def test_broadcast_errors_name_the_arguments(call, match):
    with pytest.raises(ValueError, match=match + ".*do not broadcast"):
        call()


# ------------------------------------------------------------------------------------
# the helpers themselves, and what is skipped while tracing
# ------------------------------------------------------------------------------------
def test_check_flag():
    assert _array.check_flag(np.bool_(True), "halved") is True
    with pytest.raises(TypeError, match="^halved must be a bool, got int$"):
        _array.check_flag(1, "halved")


def test_check_number():
    assert _array.check_number(np.float32(0.5), "beta") == 0.5
    with pytest.raises(TypeError, match="beta must be a real number, got bool"):
        _array.check_number(np.bool_(True), "beta")
    with pytest.raises(ValueError, match="beta must be > 0"):
        _array.check_number(0.0, "beta", positive=True)


def test_check_dt_returns_the_working_dtype(xp):
    dt = _array.check_dt(xp, np.float32(0.5), dtype=xp.float64, device=None)
    assert dt.dtype == xp.float64
    dt = _array.check_dt(xp, _f64(xp, [1, 2]), dtype=xp.float32, device=None)
    assert dt.dtype == xp.float32


def test_checks_skip_tracers(monkeypatch):
    """Value checks skip arrays the host cannot read (a JAX tracer, torch.compile)."""

    class Tracer:
        pass

    core = types.ModuleType("jax.core")
    core.Tracer = Tracer
    monkeypatch.setitem(sys.modules, "jax.core", core)
    xp = _array.namespace()
    # would raise TypeError from bool(...) on a real tracer; never touched here
    _array.check_finite(xp, Tracer(), "x")
    _array.check_result(xp, Tracer(), "f", "cause")
    monkeypatch.setattr(_array, "compiling", lambda: True)
    bad = np.array([math.nan])
    _array.check_finite(xp, bad, "x")
    _array.check_result(xp, bad, "f", "cause")
    # type checks still run while tracing
    with pytest.raises(TypeError, match="dt"):
        _array.check_dt(xp, True, dtype=xp.float64, device=None)


def test_linalg_errors_are_value_errors(xp):
    a = _f64(xp, [[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="^M is singular"):
        _array.solve(xp, a, _f64(xp, [[1.0], [0.0]]), what="M")


# ------------------------------------------------------------------------------------
# mixed precision, NumPy scalars, empty state, namespaces and devices
# ------------------------------------------------------------------------------------
def test_mixed_precision_is_computed_in_double(xp):
    # a float32 A with a float64 C gives a float64 kernel: it must carry float64 digits,
    # not those of a float32 discretization (measured 7e-9 before the inputs were cast)
    A, B = ss.hippo.transition("legs", 4)
    A32, B32 = np.float32(A), np.float32(B)
    K = ss.kernel_dense(xp.asarray(A32), xp.asarray(B32), xp.asarray(np.ones(4)), 0.1, 16)
    ref = ss.kernel_dense(A32.astype(np.float64), B32.astype(np.float64), np.ones(4), 0.1, 16)
    assert K.dtype == xp.float64
    assert relative_error(K, ref) <= 64 * np.finfo(np.float64).eps
    sys = sd.DiagDiscrete(xp.asarray(np.float32([0.5, 0.25])), xp.asarray(np.float32([1, 2])))
    x = ss.step(sys, xp.asarray(np.array([1 / 3, 1 / 7])), 1.0)
    assert x.dtype == xp.float64
    exact = np.float32([0.5, 0.25]).astype(float) * [1 / 3, 1 / 7] + [1.0, 2.0]
    assert relative_error(x, exact) <= 4 * np.finfo(np.float64).eps


def test_numpy_scalar_dt_with_torch_arrays():
    torch = pytest.importorskip("torch")
    d = ss.dplr("legs", 8)
    t = [torch.as_tensor(np.asarray(a)) for a in (d.Lambda, d.P, d.B)]
    K = ss.kernel_dplr(*t, t[2], np.float64(0.1), 8, halved=True)
    ref = ss.kernel_dplr(d.Lambda, d.P, d.B, d.B, 0.1, 8, halved=True)
    assert relative_error(K, ref) <= 16 * np.finfo(np.float64).eps


def test_empty_state_refused():
    z = np.zeros(0)
    with pytest.raises(ValueError, match="state size"):
        ss.kernel_dplr(z + 0j, np.zeros((1, 0)), z, z, 0.1, 4)


def test_discrete_system_fields_are_checked():
    with pytest.raises(TypeError, match="^sys.Ad must be an array"):
        ss.step(sd.DenseDiscrete("abc", np.ones(2)), np.ones(2), 1.0)
    with pytest.raises(TypeError, match="^sys.Lambda_d"):
        ss.scan(sd.DiagDiscrete(np.array([True]), np.ones(1)), np.ones(3))


def test_namespace_and_device_arguments():
    import math as m

    for bad in (3, m):
        with pytest.raises(TypeError, match="^xp must be an array namespace"):
            ss.hippo.transition("legt", 4, xp=bad)
    with pytest.raises(ValueError, match="^device 'bogus'"):
        ss.hippo.rank_correction("legs", 4, device="bogus")
    with pytest.raises(ValueError, match="^device 'bogus'"):
        ss.nplr("legs", 4, device="bogus")
