"""Sphinx configuration for the statespace documentation.

Build from the repository root (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API stubs under ``docs/api/generated/`` are git-ignored and regenerated on
every build from an empty folder (``autosummary_generate = True``).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
from datetime import date

# Import the package from the checkout being documented, even on a fresh clone
# where it has not been installed.
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import statespace  # noqa: E402

try:
    import statespace.verification  # noqa: F401, E402
except ModuleNotFoundError:
    # Not installed: the checkout keeps statespace.verification in its top-level
    # verification/ folder (setuptools maps it there); load it under that name.
    import importlib.util

    _dir = os.path.join(ROOT, "verification")
    _spec = importlib.util.spec_from_file_location(
        "statespace.verification", os.path.join(_dir, "__init__.py"),
        submodule_search_locations=[_dir])
    _verification = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _verification
    _spec.loader.exec_module(_verification)
    statespace.verification = _verification

# -- Project -----------------------------------------------------------------
project = "statespace"
author = "The statespace developers"
copyright = f"{date.today().year}, {author}"
release = statespace.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# docs/results/ holds the committed outputs of `statespace verify`, `statespace bench`
# and the training tasks; pages embed them with the MyST {include} directive, so they
# are not documents of their own.
exclude_patterns = ["_build", "results/**", "Thumbs.db", ".DS_Store"]

# Cross-references that do not resolve are not errors (array types such as
# "array" or "namespace" in docstrings are prose, not objects).
nitpicky = False

# -- autodoc / autosummary ---------------------------------------------------
autosummary_generate = True  # stubs go to docs/api/generated/ (git-ignored)
# Stubs of a module or name that no longer exists would be orphan pages (a warning,
# hence an error): start every build from an empty stub folder.
shutil.rmtree(pathlib.Path(__file__).parent / "api" / "generated", ignore_errors=True)
autosummary_imported_members = False
autosummary_ignore_module_all = False  # a module's public API is its __all__
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # types live in the numpydoc Parameters sections
add_module_names = False

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Docstring conformance is checked by tests/test_docstrings.py, not at build time.
numpydoc_validation_checks: set[str] = set()

# -- MyST (Markdown pages) ---------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- math --------------------------------------------------------------------
mathjax3_config = {
    "tex": {
        "macros": {
            "Re": r"\operatorname{Re}",
            "Im": r"\operatorname{Im}",
            "diag": r"\operatorname{diag}",
        }
    }
}
# MathJax 4 and its font load from the jsDelivr CDN. For a build read offline, set
# STATESPACE_MATHJAX_MODULES to a node_modules folder made by `npm install mathjax@4`
# (it holds mathjax/ and @mathjax/mathjax-newcm-font/).
_mathjax_modules = os.environ.get("STATESPACE_MATHJAX_MODULES")
if _mathjax_modules:
    _mj = pathlib.Path(_mathjax_modules).resolve()
    mathjax_path = (_mj / "mathjax" / "tex-mml-chtml.js").as_uri()
    mathjax3_config["output"] = {"fontPath": (_mj / "@mathjax" / "mathjax-newcm-font").as_uri()}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"statespace {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}



# -- NamedTuple fields --------------------------------------------------------
# A NamedTuple field without a docstring of its own is shown by autodoc as
# "Alias for field number N", which says nothing (our NamedTuples document such
# fields in the class's Attributes section). Skip exactly those; fields with an
# attribute docstring in the source (e.g. statespace.decomp.NPLR) are kept.
def _namedtuple_owner(obj, name):
    for module in list(sys.modules.values()):
        modname = getattr(module, "__name__", "") or ""
        if not modname.startswith("statespace"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and hasattr(value, "_fields"):
                if value.__dict__.get(name) is obj:
                    return value
    return None


def _skip_undocumented_namedtuple_fields(app, what, name, obj, skip, options):
    if what != "class" or skip:
        return None
    if not (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return None
    owner = _namedtuple_owner(obj, name)
    if owner is None:
        return None
    from sphinx.pycode import ModuleAnalyzer

    try:
        attr_docs = ModuleAnalyzer.for_module(owner.__module__).find_attr_docs()
    except Exception:  # no source available: nothing better than the alias text
        return True
    return (owner.__qualname__, name) not in attr_docs or None


def setup(app):
    app.connect("autodoc-skip-member", _skip_undocumented_namedtuple_fields)
