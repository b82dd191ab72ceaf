"""Strategies, the outcome checker and the NumPy references of the fuzz suite.

Used by ``tests/test_fuzz.py`` as ``from fuzz_strategies import ...`` (``tests/`` is not a
package; pytest puts it on ``sys.path``).

The property checked for every call
-----------------------------------
A public function of :mod:`statespace`, given any inputs, either

* raises ``ValueError`` or ``TypeError`` *from statespace's own code* (the innermost
  traceback frame is a ``raise`` statement in the ``statespace`` package, so no raw NumPy,
  SciPy or torch error bubbles up), of the type the contract asks for (``TypeError`` for
  bad types, ``ValueError`` for bad values), whose message names the offending argument
  (or, for inputs that are all valid, the cause: overflow, singularity, ...); or
* returns a result whose every array is finite, and that agrees with an independent
  NumPy/SciPy reference in float64/complex128 (explicit powers, direct sums,
  :func:`scipy.signal.cont2discrete`) to a tolerance derived from the precision, the
  size and the condition of the problem (each reference states it).

In both cases no input is modified (arrays, torch tensors and lists are compared
byte for byte before and after), and real-typed inputs give the same values as the same
inputs typed complex (or a clean error).

Failures are tagged with the class of defect (``[deep error]``, ``[wrong exception
type]``, ``[unclear message]``, ``[accepted bad input]``, ``[non-finite result]``,
``[silent wrong result]``, ``[typing disagreement]``, ``[mutation]``, ``[path
disagreement]`` between the fused and generic reductions, ``[inconsistent contract]``
between functions that share a rule) so that a failing run reads as a defect list.

Survey mode: with the environment variable ``FUZZ_SURVEY`` set to a file name, a failing
property is appended to that file (one JSON object a line: test, tag, message, the call)
and the example ends there instead of failing the test, so one run lists every class of
defect the examples reach rather than the first one hypothesis shrinks.
"""

from __future__ import annotations

import functools
import json
import linecache
import os
import re
import types
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import statespace

# ---------------------------------------------------------------------------------------
# run profiles
# ---------------------------------------------------------------------------------------
#: Examples of the slow profile per example of the default one (``-m slow``).
SLOW_FACTOR = 20

_BASE = {
    "derandomize": True,  # deterministic: a failure reproduces (tests/conftest.py's "ci")
    "database": None,
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "print_blob": False,
}


# The default profile stops at the first failing example and reports it unshrunk (the
# message carries the whole call; shrinking several distinct failures can take minutes);
# the slow profile shrinks and reports every distinct failure.
_PROFILE = {
    "default": {"phases": [Phase.explicit, Phase.reuse, Phase.generate],
                "report_multiple_bugs": False},
    "slow": {},
}


def fuzz(n_examples, **strategies):
    """Decorator: a property test run with ``n_examples`` (default) and
    ``SLOW_FACTOR * n_examples`` (marked ``slow``) deterministic hypothesis examples.

    ``strategies`` are passed to :func:`hypothesis.given`. The test shows up twice,
    ``test_x[default]`` and ``test_x[slow]``; the slow one is deselected by the
    project's default ``-m 'not slow'`` and runs with ``-m slow``.
    """

    def deco(body):
        @functools.wraps(body)
        def guarded(*args, **kwargs):
            try:
                return body(*args, **kwargs)
            except _Recorded:  # survey mode: the failure is written down, go on
                return None

        runs = {}
        for profile, n in (("default", n_examples), ("slow", SLOW_FACTOR * n_examples)):
            fresh = types.FunctionType(guarded.__code__, guarded.__globals__, body.__name__,
                                       guarded.__defaults__, guarded.__closure__)
            fresh.__wrapped__ = body
            runs[profile] = given(**strategies)(
                settings(max_examples=n, **_BASE, **_PROFILE[profile])(fresh))

        @pytest.mark.parametrize(
            "profile", [pytest.param("default"),
                        pytest.param("slow", marks=pytest.mark.slow)]
        )
        def test(profile):
            runs[profile]()

        test.__name__ = body.__name__
        test.__qualname__ = body.__qualname__
        test.__doc__ = body.__doc__
        test.__module__ = body.__module__
        return test

    return deco


# ---------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------
class _Recorded(Exception):
    """Ends an example in survey mode after its failure was written down."""


_CURRENT = {"call": ""}


def fail(tag, message):
    """Fail the property with a defect-class ``tag`` (or record it in survey mode)."""
    text = f"[{tag}] {message}"
    path = os.environ.get("FUZZ_SURVEY")
    if path:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": test, "tag": tag, "message": message[:600],
                                 "call": _CURRENT["call"][:1500]}) + "\n")
        raise _Recorded(text)
    raise AssertionError(text + f"\n  call: {_CURRENT['call'][:3000]}")


# ---------------------------------------------------------------------------------------
# defects and the expected reaction
# ---------------------------------------------------------------------------------------
VALUE = (ValueError,)
TYPE = (TypeError,)
EITHER = (ValueError, TypeError)


@dataclass(frozen=True)
class Defect:
    """A bad input put into a call on purpose, and the reaction the contract asks for.

    ``names``: the words of which the error message must contain one (the argument's
    name, or the names of every argument involved in a shape mismatch).
    """

    arg: str
    kind: str
    expect: tuple = VALUE
    names: tuple = ()

    def words(self):
        return self.names or (self.arg,)


@dataclass
class Case:
    """Keyword arguments of one call and the defects put into them."""

    kwargs: dict
    defects: list = field(default_factory=list)

    def __repr__(self):
        inner = ", ".join(f"{k}={short_repr(v)}" for k, v in self.kwargs.items())
        bad = "; ".join(f"{d.arg}: {d.kind}" for d in self.defects)
        return f"({inner})" + (f"  defects: {bad}" if bad else "")


def short_repr(v, limit=160):
    """A repr of ``v`` that shows dtype, shape and values of small arrays."""
    if isinstance(v, np.ma.MaskedArray):
        return f"np.ma.array({v.data.tolist()!r}, mask={np.ma.getmaskarray(v).tolist()!r})"
    if isinstance(v, np.ndarray):
        if v.size == 0:
            return f"np.zeros({v.shape}, dtype=np.{v.dtype.name})"
        if v.size <= 16 and v.dtype != object:  # exact: the repr reproduces the call
            return f"np.array({v.tolist()!r}, dtype=np.{v.dtype.name})"
        body = np.array2string(v, threshold=12, precision=4, separator=", ")
        r = f"np.array({body}, dtype=np.{v.dtype.name})"
        return r if len(r) < 4 * limit else r[: 4 * limit] + "...]"
    if _is_torch(v):
        return f"torch.{short_repr(v.detach().cpu().numpy())}"
    if type(v).__module__.startswith("array_api_strict"):
        return f"aas.{short_repr(np.asarray(v))}"
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        inner = ", ".join(f"{k}={short_repr(getattr(v, k))}" for k in v._fields)
        return f"{type(v).__name__}({inner})"
    if isinstance(v, (list, tuple)):
        r = repr(v) if not any(_is_arrayish(x) for x in v) else (
            "[" + ", ".join(short_repr(x) for x in v) + "]")
        return r[: 4 * limit]
    r = repr(v)
    return r if len(r) < limit else r[:limit] + "..."


def _is_torch(v):
    return type(v).__module__.startswith("torch") and hasattr(v, "detach")


def _is_arrayish(v):
    return isinstance(v, np.ndarray) or _is_torch(v) or type(v).__module__.startswith(
        "array_api_strict")


# ---------------------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------------------
_SS_DIR = os.path.dirname(os.path.abspath(statespace.__file__)) + os.sep

#: words that name the cause of a refusal of valid-typed inputs
CAUSES = ("singular", "overflow", "non-finite", "finite", "unstable", "coincide",
          "ill-conditioned", "nan", "infinite", "too large", "zero")


#: causes that belong to the system rather than to one argument
# an empty state (N = 0) is refused by its own check, which may come before the defect's
SYSTEM_CAUSES = ("singular", "overflow", "non-finite values", "unstable", "coincides",
                 "ill-conditioned", "state size (last axis) n >= 1")


def _origin(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "", 0, ""
    fname = tb.tb_frame.f_code.co_filename
    return fname, tb.tb_lineno, linecache.getline(fname, tb.tb_lineno).strip()


def _mentions(message, words):
    low = message.lower()
    for w in words:
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(w.lower()) + r"(?![A-Za-z0-9_])", low):
            return True
    return False


@dataclass
class Raised:
    """The outcome of a call that raised a clean ``ValueError``/``TypeError``."""

    exc: BaseException


def check_error(exc, defects, params):
    """The error is a ValueError/TypeError raised by statespace and names its cause."""
    fname, line, src = _origin(exc)
    where = f"{os.path.relpath(fname) if fname else '?'}:{line} `{src}`"
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, np.linalg.LinAlgError) or not isinstance(exc, (ValueError, TypeError)):
        fail("deep error", f"{name}: {exc} (raised at {where})")
    if not (os.path.abspath(fname).startswith(_SS_DIR) and src.startswith("raise")):
        fail("deep error", f"{name}: {exc} (not raised by statespace: {where})")
    msg = str(exc)
    if defects:
        expect = tuple({t for d in defects for t in d.expect})
        empty_state = "state size (last axis) n >= 1" in str(exc).lower()
        if not isinstance(exc, expect) and not empty_state:
            wanted = "/".join(sorted(t.__name__ for t in expect))
            fail("wrong exception type",
                 f"{name} for {', '.join(d.arg + ': ' + d.kind for d in defects)} "
                 f"(expected {wanted}): {msg}")
        words = [w for d in defects for w in d.words()]
        # a property of the (otherwise valid) system found first is a clean refusal too
        system = isinstance(exc, ValueError) and any(c in msg.lower() for c in SYSTEM_CAUSES)
        if not _mentions(msg, words) and not system:
            fail("unclear message",
                 f"{name} for {', '.join(d.arg + ': ' + d.kind for d in defects)} does not "
                 f"name {'/'.join(words)}: {msg!r}")
    else:
        if not isinstance(exc, ValueError):
            fail("wrong exception type", f"{name} for valid-typed inputs: {msg}")
        if not _mentions(msg, tuple(params) + CAUSES) and not any(
                c in msg.lower() for c in CAUSES):
            fail("unclear message", f"{name} names no argument and no cause: {msg!r}")


def call(fn, case, *, params=None, label=None, accept=False):
    """Call ``fn(**case.kwargs)`` and check the property; the result or :class:`Raised`.

    A clean error passes (and returns :class:`Raised`); so does a result when no defect
    was put in (or ``accept`` is true: the "defects" are merely allowed to be refused),
    provided every array in it is finite. A bad input that is accepted fails
    (``[accepted bad input]``). Inputs must come back unchanged either way.
    """
    label = label or getattr(fn, "__qualname__", repr(fn))
    _CURRENT["call"] = f"{label}{case!r}"
    if params is None:
        params = tuple(case.kwargs)
    before = snapshot(case.kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(**case.kwargs)
        except Exception as exc:  # noqa: BLE001 - classified by check_error
            check_unchanged(before, case.kwargs)
            check_error(exc, case.defects, params)
            return Raised(exc)
    check_unchanged(before, case.kwargs)
    if case.defects and not accept:
        fail("accepted bad input",
             f"{'; '.join(d.arg + ': ' + d.kind for d in case.defects)} accepted, returned "
             f"{short_repr(result)}")
    check_finite(result)
    return result


def check_finite(result, what="result"):
    for path, a in arrays_in(result):
        v = to_np(a)
        if v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
            bad = "NaN" if np.any(np.isnan(v)) else "inf"
            fail("non-finite result", f"{what}{path} contains {bad}: {short_repr(v)}")


def arrays_in(obj, path=""):
    """``(path, array)`` for every array in a result (tuples, NamedTuples, lists, dicts)."""
    if _is_arrayish(obj):
        yield path, obj
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        for k in obj._fields:
            yield from arrays_in(getattr(obj, k), f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            yield from arrays_in(x, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, x in obj.items():
            yield from arrays_in(x, f"{path}[{k!r}]")


# ---------------------------------------------------------------------------------------
# mutation
# ---------------------------------------------------------------------------------------
def _fingerprint(a):
    if isinstance(a, np.ma.MaskedArray):
        return ("ma", a.dtype.str, a.shape, a.data.tobytes(),
                np.ma.getmaskarray(a).tobytes())
    if isinstance(a, np.ndarray):
        return ("np", a.dtype.str, a.shape, a.tobytes() if a.dtype != object else repr(a))
    if _is_torch(a):
        t = a.detach().cpu()
        return ("torch", str(t.dtype), tuple(t.shape), t.numpy().tobytes(), a.requires_grad)
    if type(a).__module__.startswith("array_api_strict"):
        v = np.asarray(a)
        return ("aas", v.dtype.str, v.shape, v.tobytes())
    return None


def snapshot(obj):
    """Fingerprints of every array in ``obj`` and the contents of every list."""
    fp = _fingerprint(obj)
    if fp is not None:
        return fp
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return ("list", len(obj), [id(x) for x in obj], [snapshot(x) for x in obj])
    if isinstance(obj, tuple):
        return ("tuple", [snapshot(x) for x in obj])
    return ("obj", id(obj))


def check_unchanged(before, obj, path=""):
    after = snapshot(obj)
    if after != before:
        fail("mutation", f"input{_diff_path(before, after, path)} was modified by the call")


def _diff_path(a, b, path):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if a[k] != b.get(k):
                return _diff_path(a[k], b.get(k), f"{path}[{k!r}]" if path else k)
    if (isinstance(a, tuple) and isinstance(b, tuple) and a[:1] == b[:1]
            and a[:1] in (("list",), ("tuple",))):
        return path + " (a list/tuple or an array in it)"
    return path


# ---------------------------------------------------------------------------------------
# conversions
# ---------------------------------------------------------------------------------------
def to_np(a):
    """Host NumPy copy (complex dtype kept)."""
    if isinstance(a, np.ma.MaskedArray):
        return np.asarray(a.data)
    if _is_torch(a):
        return a.detach().cpu().resolve_conj().numpy()
    return np.asarray(a)


def backend_array(a, backend):
    """``a`` (a NumPy array) in ``backend``; other values unchanged."""
    if not isinstance(a, np.ndarray) or isinstance(a, np.ma.MaskedArray) or a.dtype == object:
        return a
    if backend == "torch":
        import torch

        return torch.asarray(a.copy())
    if backend == "array_api_strict":
        import array_api_strict as aas

        aas.set_array_api_strict_flags(api_version="2025.12")
        return aas.asarray(a)
    return a


def eps_of(dtype):
    name = str(dtype)
    single = "float32" in name or "complex64" in name
    return float(np.finfo(np.float32 if single else np.float64).eps)


def is_single(dtype):
    return eps_of(dtype) > 1e-10


def complexify(a):
    """``a`` with a complex dtype of the same precision, same values (arrays only)."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.astype(np.complex64 if a.dtype == np.float32 else np.complex128)
    if _is_torch(a) and a.is_floating_point():
        import torch

        return a.to(torch.complex64 if a.dtype == torch.float32 else torch.complex128)
    return a


def is_real_array(a):
    if isinstance(a, np.ndarray) and not isinstance(a, np.ma.MaskedArray):
        return a.dtype.kind == "f"
    return _is_torch(a) and a.is_floating_point()


# ---------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------
#: magnitudes of valid values: ordinary ones, zero, huge, tiny and subnormal
MAGS64 = (1.0, 1.0, 1.0, 1e-3, 1e3, 0.0, 1e-300, 1e300, 5e-324, 1e-30, 1e30)
MAGS32 = (1.0, 1.0, 1.0, 1e-3, 1e3, 0.0, 1e-30, 1e30, 1e-45, 1e-10, 1e10)
FLOAT_DTYPES = ("float64", "float32")
ALL_DTYPES = ("float64", "float32", "complex128", "complex64")
BACKENDS = ("numpy", "numpy", "numpy", "torch", "array_api_strict")


def magnitude(draw, dtype, ordinary=0.6):
    """A magnitude: 1 with probability ``ordinary`` (before shrinking), else an extreme."""
    mags = MAGS32 if is_single(dtype) else MAGS64
    if draw(st.floats(0, 1)) < ordinary:
        return 1.0
    return draw(st.sampled_from(mags))


def values(seed, shape, dtype, mag=1.0, *, low=0.5, high=1.5, sign=True):
    """Reproducible values of magnitude ``mag`` (|x| in [low, high] * mag, random signs)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    cplx = dt.kind == "c"
    if is_single(dt):  # the huge values of single precision are 1e30 (1e300 overflows)
        mag = min(mag, 1e30)

    def part():
        x = rng.uniform(low, high, shape)
        if sign:
            x = x * rng.choice([-1.0, 1.0], shape)
        return x

    x = part() + (1j * part() if cplx else 0)
    with np.errstate(all="ignore"):
        return np.asarray(x * mag).astype(dt)


def state_vals(seed, shape, dtype, mag=1.0):
    return values(seed, shape, dtype, mag)


# ---------------------------------------------------------------------------------------
# defects drawn for one argument
# ---------------------------------------------------------------------------------------
def _poison_array(draw, name, a):
    """A copy of array ``a`` with a NaN or an infinity (ValueError naming ``name``)."""
    if a.size == 0:
        return None
    bad = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    b = np.array(a, copy=True)
    idx = draw(st.integers(0, a.size - 1))
    b.reshape(-1)[idx] = bad
    return b, Defect(name, f"{bad} entry", VALUE)


def _masked(draw, name, a):
    if a.size == 0:
        return None
    mask = np.zeros(a.shape, bool)
    mask.reshape(-1)[draw(st.integers(0, a.size - 1))] = True
    return np.ma.array(a, mask=mask), Defect(name, "masked array", EITHER)


def array_defect(draw, name, a, *, allow_int=True):
    """A bad replacement for the array argument ``name`` (value ``a``) and its Defect."""
    kind = draw(st.sampled_from(
        ["nan", "nan", "none", "str", "bool_dtype", "masked", "object", "bool_scalar",
         "other_library", "dict", "str_array"]))
    if kind == "nan":
        out = _poison_array(draw, name, a)
        if out is not None:
            return out
        kind = "none"
    if kind == "masked":
        out = _masked(draw, name, a)
        if out is not None:
            return out
        kind = "none"
    if kind == "none":
        return None, Defect(name, "None", TYPE)
    if kind == "str":
        return "abc", Defect(name, "a string", TYPE)
    if kind == "str_array":
        return np.full(a.shape, "x"), Defect(name, "string dtype array", TYPE)
    if kind == "bool_dtype":
        return np.ones(a.shape, bool), Defect(name, "bool dtype array", TYPE)
    if kind == "object":
        return np.array([1.0, "a"], dtype=object), Defect(name, "object array", TYPE)
    if kind == "bool_scalar":
        return True, Defect(name, "a bool", TYPE)
    if kind == "dict":
        return {"a": 1}, Defect(name, "a dict", TYPE)
    # a torch tensor among NumPy arrays
    import torch

    return torch.asarray(np.array(a, copy=True)), Defect(
        name, "array of another library", TYPE, names=(name, "libraries"))


def dt_defect(draw, name="dt"):
    kind = draw(st.sampled_from(
        ["zero", "negative", "nan", "inf", "true", "none", "str", "complex", "masked",
         "neg_array", "nan_array", "false"]))
    table = {
        "zero": (0.0, "0.0", VALUE),
        "negative": (-0.1, "negative", VALUE),
        "nan": (float("nan"), "NaN", VALUE),
        "inf": (float("inf"), "inf", VALUE),
        "true": (True, "True", TYPE),
        "false": (False, "False", TYPE),
        "none": (None, "None", TYPE),
        "str": ("0.1", "a string", TYPE),
        "complex": (0.1 + 0j, "complex", TYPE),
        "masked": (np.ma.array([0.1, -1.0], mask=[False, True]), "masked array", EITHER),
        "neg_array": (np.array([0.1, -0.2]), "array with a negative entry", VALUE),
        "nan_array": (np.array([0.1, np.nan]), "array with NaN", VALUE),
    }
    v, what, exp = table[kind]
    # an array dt may also fail the batch rule first: that message names dt too
    return v, Defect(name, what, exp if kind not in ("neg_array", "nan_array", "masked")
                     else EITHER)


def length_defect(draw, name="L"):
    kind = draw(st.sampled_from(["zero", "negative", "float", "true", "none", "str",
                                 "np_bool", "float_int"]))
    table = {
        "zero": (0, "0", VALUE),
        "negative": (-3, "negative", VALUE),
        "float": (2.5, "a float", TYPE),
        "float_int": (4.0, "a float with an integer value", TYPE),
        "true": (True, "True", TYPE),
        "none": (None, "None", TYPE),
        "str": ("4", "a string", TYPE),
        "np_bool": (np.bool_(True), "numpy.bool_", TYPE),
    }
    v, what, exp = table[kind]
    return v, Defect(name, what, exp)


def flag_defect(draw, name):
    kind = draw(st.sampled_from(["int", "none", "str", "float", "array"]))
    table = {
        "int": (1, "the int 1", TYPE),
        "none": (None, "None", TYPE),
        "str": ("yes", "a string", TYPE),
        "float": (1.0, "a float", TYPE),
        "array": (np.array([True, False]), "an array", TYPE),
    }
    v, what, exp = table[kind]
    return v, Defect(name, what, exp)


def option_defect(draw, name, choices):
    kind = draw(st.sampled_from(["unknown", "upper", "int", "none", "list"]))
    if kind == "unknown":
        return "nope", Defect(name, "unknown string", VALUE)
    if kind == "upper":
        return choices[0].upper(), Defect(name, "upper-case spelling", VALUE)
    if kind == "int":
        return 3, Defect(name, "an int", TYPE)
    if kind == "list":
        return [choices[0]], Defect(name, "a list", TYPE)
    return None, Defect(name, "None", TYPE)


def real_defect(draw, name, *, lo=None, hi=None):
    """A bad real-number parameter (alpha, rate, lr, ...)."""
    kinds = ["nan", "inf", "true", "str", "complex", "none"]
    if lo is not None:
        kinds.append("below")
    if hi is not None:
        kinds.append("above")
    kind = draw(st.sampled_from(kinds))
    table = {
        "nan": (float("nan"), "NaN", VALUE),
        "inf": (float("inf"), "inf", VALUE),
        "true": (True, "True", TYPE),
        "str": ("0.5", "a string", TYPE),
        "complex": (0.5 + 0j, "complex", TYPE),
        "none": (None, "None", TYPE),
        "below": ((lo - 0.5) if lo is not None else 0, f"below {lo}", VALUE),
        "above": ((hi + 0.5) if hi is not None else 0, f"above {hi}", VALUE),
    }
    v, what, exp = table[kind]
    return v, Defect(name, what, exp)


#: arguments for which None is a valid value (the default)
OPTIONAL = frozenset({"x0", "C", "D", "lengths", "state", "chunk", "alpha", "max_cond",
                      "device", "dtype", "xp", "ssm_lr"})


def maybe_defect(draw, case, kinds, p=0.5):
    """Put at most one defect into ``case`` (a Case), chosen among ``kinds``.

    ``kinds`` maps an argument name to ``"array"``, ``"dt"``, ``"length"``, ``"flag"``,
    ``("option", choices)``, ``("real", lo, hi)`` or a callable ``draw -> (value,
    Defect)``. With probability about ``1 - p`` nothing is changed.
    """
    if not kinds or draw(st.floats(0, 1)) >= p:
        return case
    name = draw(st.sampled_from(sorted(kinds)))
    kind = kinds[name]
    old = case.kwargs.get(name)
    if kind == "array":
        arr = old if isinstance(old, np.ndarray) else np.asarray(to_np(old))
        v, d = array_defect(draw, name, arr)
        if v is None and name in OPTIONAL:
            return case  # None is the default of an optional argument
    elif kind == "dt":
        v, d = dt_defect(draw, name)
    elif kind == "length":
        v, d = length_defect(draw, name)
    elif kind == "flag":
        v, d = flag_defect(draw, name)
    elif isinstance(kind, tuple) and kind[0] == "option":
        v, d = option_defect(draw, name, kind[1])
    elif isinstance(kind, tuple) and kind[0] == "real":
        v, d = real_defect(draw, name, lo=kind[1], hi=kind[2])
    else:
        v, d = kind(draw)
    kw = dict(case.kwargs)
    kw[name] = v
    return Case(kw, case.defects + [d])


# ---------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------
BATCHES = ((), (), (2,), (1,), (2, 1), (3,))


@st.composite
def batch_shapes(draw):
    return draw(st.sampled_from(BATCHES))


@st.composite
def sub_batch(draw, batch):
    """A batch shape that broadcasts to ``batch`` (some axes dropped or set to 1)."""
    if not batch:
        return ()
    keep = draw(st.integers(0, len(batch)))
    tail = batch[len(batch) - keep:]
    return tuple(1 if draw(st.booleans()) else s for s in tail)


def incompatible(batch):
    """A batch shape that does not broadcast against ``batch`` (needs a size > 1 there)."""
    for i, s in enumerate(batch):
        if s > 1:
            b = list(batch)
            b[i] = s + 1
            return tuple(b)
    return None


# ---------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------
def assert_agree(actual, ref, tol, what="result", tag="silent wrong result"):
    """``|actual - ref| <= tol`` elementwise (tol broadcasts); shapes must be equal."""
    a = to_np(actual).astype(np.complex128)
    r = np.asarray(ref).astype(np.complex128)
    if a.shape != r.shape:
        fail(tag, f"{what}: shape {a.shape}, reference shape {r.shape}")
    if a.size == 0:
        return
    # gradual underflow: below the smallest normal number only an absolute accuracy of
    # a few of it remains (results of that size may also flush to zero)
    tiny = float(np.finfo(np.float32 if is_single(to_np(actual).dtype) else np.float64).tiny)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64) + 1e4 * tiny, a.shape)
    err = np.abs(a - r)
    bad = ~(err <= tol)
    if np.any(bad):
        i = np.unravel_index(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), 0)), a.shape)
        scale = float(np.max(np.abs(r)))
        fail(tag, f"{what}: |actual - reference| = {err[i]:.3g} > tolerance {tol[i]:.3g} at "
                  f"{tuple(int(j) for j in i)} (actual {a[i]:.6g}, reference {r[i]:.6g}; "
                  f"max|reference| {scale:.3g}; max relative error "
                  f"{float(np.max(err)) / max(scale, 1e-300):.3g})")


def in_range(scale, dtype):
    """Whether a reference scale lies where relative rounding bounds hold.

    Below it gradual underflow (subnormals) loses relative accuracy, above it the
    intermediates of any algorithm may overflow: agreement is not checked there
    (the result must still be finite or a clean error).
    """
    lo, hi = (1e-25, 1e25) if is_single(dtype) else (1e-250, 1e250)
    return bool(np.isfinite(scale)) and lo <= scale <= hi


def check_typed(fn, case, result, tol, params=None, *, draw=None, names=None):
    """Real-typed vs complex-typed inputs: same values, or a clean error.

    Every real array argument among ``names`` (default: all) is given the complex dtype
    of its precision (a subset of them when ``draw`` is given) and the result compared
    with ``result`` to ``tol``.
    """
    real_args = [k for k, v in case.kwargs.items()
                 if is_real_array(v) and (names is None or k in names)
                 and k not in ("dt", "lengths")]
    if not real_args:
        return
    if draw is not None:
        pick = draw(st.lists(st.sampled_from(real_args), min_size=1, unique=True))
    else:
        pick = real_args
    kw = {k: (complexify(v) if k in pick else v) for k, v in case.kwargs.items()}
    # a clean error naming one of the complex-typed arguments is allowed (e.g. an input
    # that must be real)
    c2 = Case(kw, [Defect(k, "complex-typed", EITHER) for k in pick])
    label = getattr(fn, "__qualname__", repr(fn))
    out = call(fn, c2, params=params, label=f"{label} [complex-typed {', '.join(pick)}]",
               accept=True)
    if isinstance(out, Raised):
        return
    for (_, a), (p2, b) in zip(arrays_in(result), arrays_in(out), strict=False):
        assert_agree(b, to_np(a), tol, what=f"complex-typed {', '.join(pick)}: result{p2}",
                     tag="typing disagreement")


def check_variants(draw, fn, case, result, tol, *, flags=(), lengths=(), arrays=None,
                   params=None):
    """Equivalent spellings of one argument give the same result, or a clean TypeError.

    One of: a flag as ``numpy.bool_``, a length as ``numpy.int64``, a NumPy array as a
    nested list, or an array with integer values as an integer array (compared with the
    same values as float64). ``tol`` is the agreement tolerance of the test.
    """
    label = getattr(fn, "__qualname__", repr(fn))
    options = [("flag", k) for k in flags if isinstance(case.kwargs.get(k), bool)]
    options += [("length", k) for k in lengths if type(case.kwargs.get(k)) is int]
    names = case.kwargs if arrays is None else arrays

    def plain64(v):
        return (isinstance(v, np.ndarray) and not isinstance(v, np.ma.MaskedArray)
                and v.dtype == np.float64 and 0 < v.size <= 64)

    # a list becomes a float64 array: offered for float64 arrays only; integer arrays
    # count for no precision, so they are offered only when every other floating input
    # is 64-bit (then float64 is the working precision either way)
    others64 = all(not is_single(v.dtype) for v in case.kwargs.values()
                   if isinstance(v, np.ndarray) and v.dtype.kind in "fc")
    # (a 0-d array's tolist() is a Python scalar, which by policy chooses no precision)
    options += [("list", k) for k in names if plain64(case.kwargs.get(k))
                and np.ndim(case.kwargs.get(k)) > 0]
    options += [("int", k) for k in names if plain64(case.kwargs.get(k)) and others64]
    if not options:
        return
    kind, name = draw(st.sampled_from(options))
    value = case.kwargs[name]
    base = result
    if kind == "flag":
        new = np.bool_(value)
    elif kind == "length":
        new = np.int64(value)
    elif kind == "list":
        new = value.tolist()
    else:  # integer values: compare the int64 array with the same values as float64
        ints = np.round(np.clip(value, -1e6, 1e6)).astype(np.int64)
        new = ints
        ref_kw = dict(case.kwargs, **{name: ints.astype(np.float64)})
        base = call(fn, Case(ref_kw), params=params, label=f"{label} [{name} rounded]")
        if isinstance(base, Raised):
            return
    what = {"flag": "numpy.bool_", "length": "numpy.int64", "list": "a nested list",
            "int": "an int64 array"}[kind]
    kw = dict(case.kwargs, **{name: new})
    out = call(fn, Case(kw, [Defect(name, what, TYPE)]), params=params,
               label=f"{label} [{name} as {what}]", accept=True)
    if isinstance(out, Raised):
        return
    for (_, a), (p2, b) in zip(arrays_in(base), arrays_in(out), strict=False):
        assert_agree(b, to_np(a), tol, what=f"{name} as {what}: result{p2}",
                     tag="typing disagreement")
