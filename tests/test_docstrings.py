"""Docstrings are part of the API: numpydoc form and runnable examples.

(a) Every public function (the names in each public module's ``__all__``) has a
    numpydoc docstring whose Parameters section documents every parameter of its
    signature in ``name : type`` form, documents no parameter the signature lacks,
    parses without numpydoc warnings, and has an Examples section with a ``>>>``
    doctest (python-control's ``docstrings_test`` idea).
(b) The doctests of every public module run and pass, so docstring examples are
    part of the test suite.

Modules are imported lazily inside the tests; a module is skipped only when it does
not exist yet (the core is being written module by module). Any other import error
fails.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import warnings

import pytest

numpydoc_docscrape = pytest.importorskip(
    "numpydoc.docscrape", reason="numpydoc is needed to parse docstrings (docs extra)"
)

PUBLIC_MODULES = (
    "statespace.hippo",
    "statespace.decomp",
    "statespace.discretize",
    "statespace.reductions",
    "statespace.conv",
    "statespace.recurrence",
    "statespace.kernels",
    "statespace.boundary",
    "statespace.cli",
    "statespace.torch",
    "statespace.verification.reference",
    "statespace.verification.report",
    "statespace.verification.suite",
    "statespace.verification.make_data",
    "statespace.verification.runner",
    "statespace.verification.executor",
    "statespace.verification.store",
    "statespace.verification.large",
    "statespace.verification.bounds",
    "statespace.verification.calibrate",
    "statespace.verification.mutants",
    "statespace.verification.model_check",
    "statespace._env",
)

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _import_public(name):
    """Import ``name`` (every listed module exists; a missing one is a failure)."""
    return importlib.import_module(name)


def _public_objects(module):
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} defines no __all__"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{module.__name__}.__all__ names undefined objects: {missing}"
    return [(n, getattr(module, n)) for n in names]


def _public_functions(module):
    return [(n, obj) for n, obj in _public_objects(module) if inspect.isfunction(obj)]


def _documented_params(doc, sections=("Parameters", "Other Parameters")):
    """``{name: type}`` from the Parameters and Other Parameters sections."""
    out = {}
    for section in sections:
        for param in doc[section]:
            # "x, y : float" documents two parameters; "*args" / "**kwargs" keep stars
            for raw in param.name.split(","):
                name = raw.strip().lstrip("*")
                out[name] = out.get(name) or param.type.strip()
    return out


def _function_problems(qualname, func):
    """Every way ``func``'s docstring misses the project's numpydoc contract."""
    if not (func.__doc__ and func.__doc__.strip()):
        return [f"{qualname}: no docstring"]
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = numpydoc_docscrape.FunctionDoc(func)
    problems += [f"{qualname}: numpydoc warning: {w.message}" for w in caught]

    if not doc["Summary"]:
        problems.append(f"{qualname}: no summary line")

    sig = inspect.signature(func)
    documented = _documented_params(doc)
    for pname, p in sig.parameters.items():
        if pname in ("self", "cls"):
            continue
        if pname not in documented:
            problems.append(f"{qualname}: parameter {pname!r} is not documented")
        elif not documented[pname] and p.kind not in _VARIADIC:
            problems.append(
                f"{qualname}: parameter {pname!r} is documented without a type "
                f"(expected '{pname} : type')"
            )
    for dname in documented:
        if dname not in sig.parameters:
            problems.append(
                f"{qualname}: documents parameter {dname!r}, which the signature lacks"
            )

    examples = "\n".join(doc["Examples"])
    if not examples.strip():
        problems.append(f"{qualname}: no Examples section")
    elif ">>>" not in examples:
        problems.append(f"{qualname}: Examples section has no '>>>' doctest")
    return problems


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_public_functions_have_numpydoc_docstrings(modname):
    module = _import_public(modname)
    functions = _public_functions(module)
    problems = []
    for name, func in functions:
        problems += _function_problems(f"{modname}.{name}", func)
    assert not problems, "docstring problems:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_public_classes_have_docstrings(modname):
    module = _import_public(modname)
    problems = []
    for name, obj in _public_objects(module):
        if not inspect.isclass(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        # a NamedTuple without a docstring gets "Name(field, ...)" automatically
        fields = getattr(obj, "_fields", None)
        auto = f"{obj.__name__}({', '.join(fields)})" if fields is not None else None
        if not doc.strip() or doc.strip() == auto:
            problems.append(f"{modname}.{name}: class has no docstring of its own")
    assert not problems, "\n".join(problems)


def _constructor_problems(qualname, cls):
    """Constructor parameters missing from (or typeless in) the class docstring."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # builtins without a signature
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # a dataclass's constructor parameters are its fields, documented as Attributes
        extra = ("Attributes",) if dataclasses.is_dataclass(cls) else ()
        documented = _documented_params(numpydoc_docscrape.ClassDoc(cls, config={}),
                                        ("Parameters", "Other Parameters") + extra)
    problems = []
    for pname, p in sig.parameters.items():
        if pname not in documented:
            problems.append(f"{qualname}: constructor parameter {pname!r} is not documented")
        elif not documented[pname] and p.kind not in _VARIADIC:
            problems.append(f"{qualname}: constructor parameter {pname!r} has no type")
    return problems


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_public_class_constructors_are_documented(modname):
    """Every public class (NamedTuple results aside) documents its constructor."""
    module = _import_public(modname)
    problems = []
    for name, obj in _public_objects(module):
        if inspect.isclass(obj) and getattr(obj, "_fields", None) is None:
            problems += _constructor_problems(f"{modname}.{name}", obj)
    assert not problems, "docstring problems:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("modname", PUBLIC_MODULES)
def test_doctests(modname):
    module = _import_public(modname)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=flags, verbose=False)
    report = []
    for test in finder.find(module, module.__name__, globs=dict(vars(module))):
        runner.run(test, out=report.append)
    assert runner.failures == 0, (
        f"{runner.failures} of {runner.tries} doctest examples in {modname} failed:\n"
        + "".join(report)
    )


def test_doctest_runner_catches_failures():
    """The doctest harness above really fails on a wrong example (no silent pass)."""

    def bad():
        """Wrong on purpose.

        >>> 1 + 1
        3
        """

    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False
    )
    for test in doctest.DocTestFinder().find(bad, "bad", globs={}):
        runner.run(test, out=lambda s: None)
    assert (runner.failures, runner.tries) == (1, 1)


def test_docstring_checker_catches_problems():
    """The numpydoc checker flags an undocumented, an untyped and a stale parameter."""

    def f(a, b, *, c=None, **kwargs):
        """Summary.

        Parameters
        ----------
        a : int
            Typed.
        b
            Untyped.
        d : float
            Not in the signature.
        **kwargs
            Variadic, needs no type.
        """

    problems = "\n".join(_function_problems("f", f))
    assert "parameter 'b' is documented without a type" in problems
    assert "parameter 'c' is not documented" in problems
    assert "documents parameter 'd'" in problems
    assert "no Examples section" in problems
    assert "kwargs" not in problems
