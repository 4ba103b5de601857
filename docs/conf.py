"""Sphinx configuration of hiermodel's documentation site.

Build: ``pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html``.
The gallery's notebooks run during the build (small draws); with ``HIERMODEL_DOCS_NOTEBOOKS``
naming a folder of executed copies they are shown as they are (tests/test_docs.py does so).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import sys
from pathlib import Path

import hiermodel
import hiermodel.core
import hiermodel.plots
import hiermodel.studies

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "hiermodel"
author = "the hiermodel developers"
copyright = "2026, the hiermodel developers"
release = hiermodel.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
    "argparse_help",  # docs/_ext: the command's --help on the CLI page
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

html_theme = "pydata_sphinx_theme"
html_title = f"hiermodel {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Guides are MyST notebooks: every ``{code-cell}`` runs when the site is built, and an error
# fails the build.
nb_execution_mode = "force"
nb_execution_in_temp = True  # files a page writes (a saved fit) do not land in docs/
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_merge_streams = True

autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# ---------------------------------------------------------------- API reference
#: the modules whose ``__all__`` the API reference documents, one page per name
#: (tests/test_docs.py checks that every name has its page)
API_MODULES = (hiermodel, hiermodel.plots, hiermodel.studies, hiermodel.core)


def _case_safe_filenames(modules) -> dict[str, str]:
    """Page names for names that differ only in case (``hiermodel.core.Marginal`` and
    ``hiermodel.core.marginal``): their generated files would overwrite each other on a
    case-insensitive file system, so every one after the first gets a suffix."""
    seen: dict[str, int] = {}
    out = {}
    for module in modules:
        for name in module.__all__:
            full = f"{module.__name__}.{name}"
            count = seen.get(full.lower(), 0)
            if count:
                out[full] = f"{full}-{count}"
            seen[full.lower()] = count + 1
    return out


autosummary_filename_map = _case_safe_filenames(API_MODULES)


def _aliases(modules) -> dict[str, str]:
    """``{full name: full name of its page}`` for classes and functions exported by more than
    one of ``modules`` (``hiermodel.plots.Style`` is ``hiermodel.Style``): the first module
    documents the object, the others get a short page that links there (two full pages of one
    class would describe its canonical name, ``hiermodel.plots.style.Style``, twice)."""
    home: dict[int, str] = {}
    out = {}
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            full = f"{module.__name__}.{name}"
            if id(obj) in home:
                out[full] = home[id(obj)]
            else:
                home[id(obj)] = full
    return out


autosummary_context = {"api_aliases": _aliases(API_MODULES)}


def _public_names(modules) -> dict[int, str]:
    """``{id(object): the full name of its page}`` of every documented object but modules and
    plain numbers or strings (another name may hold an equal, even the same, object)."""
    out: dict[int, str] = {}
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.ismodule(obj) and not isinstance(obj, str | int | float):
                out.setdefault(id(obj), f"{module.__name__}.{name}")
    return out


_PUBLIC = _public_names(API_MODULES)


def _lookup(path: str):
    """The object at a dotted import path, or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _candidates(target: str, objects) -> list[str]:
    """Documented names that a reference the Python domain could not resolve means:
    the public name of an object named by where it is defined (``hiermodel.sampling.fit`` is
    :func:`hiermodel.fit`; also for a class's members), the page of the nearest documented
    package of a module without a page of its own (``hiermodel.core.pooling`` ->
    ``hiermodel.core``), or the one documented object whose name ends with a short name
    (``plot_tau`` in a docstring of ``hiermodel.Style``)."""
    target = target.lstrip(".~")
    if target.startswith("hiermodel"):
        parts = target.split(".")
        for i in range(len(parts), 0, -1):
            public = _PUBLIC.get(id(_lookup(".".join(parts[:i]))))
            if public:
                return [".".join([public, *parts[i:]])]
        obj = _lookup(target)
        if inspect.ismodule(obj):
            return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
        return []
    ends = [name for name in objects if name.endswith("." + target)]
    return ends if len(ends) == 1 else []  # an ambiguous short name is left unlinked


def _resolve_missing(app, env, node, contnode):
    """Links the references of the docstrings that name an object by where it is defined
    or by its short name to the object's page (see :func:`_candidates`)."""
    if node.get("refdomain") != "py":
        return None
    py = env.get_domain("py")
    for name in _candidates(node["reftarget"], py.objects):
        ref = py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name,
                              node, contnode)
        if ref is not None:
            return ref
    return None


def _data_docs(modules) -> dict[str, list[str]]:
    """``{full name: its doc comment}`` of the constants of ``modules``: a ``#:`` comment
    belongs to the module that assigns the constant, not to the namespace that re-exports it,
    where autodoc looks (and then shows the docstring of the constant's type)."""
    from sphinx.pycode import ModuleAnalyzer, PycodeError

    homes = [m for name, m in sorted(sys.modules.items())
             if name == "hiermodel" or name.startswith("hiermodel.")]
    out = {}
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
                continue
            for home in homes:
                if getattr(home, name, None) is not obj:
                    continue
                try:
                    doc = ModuleAnalyzer.for_module(home.__name__).find_attr_docs()
                except PycodeError:
                    continue
                if ("", name) in doc:
                    out[f"{module.__name__}.{name}"] = list(doc["", name])
                    break
    return out


_DATA_DOCS = _data_docs(API_MODULES)


def _data_docstring(app, what, name, obj, options, lines):
    """A constant's doc comment from the module that assigns it (see :func:`_data_docs`)."""
    if what in ("data", "attribute") and name in _DATA_DOCS:
        lines[:] = _DATA_DOCS[name]


def _skip_fields(app, what, name, obj, skip, options):
    """A result's fields are described in its docstring's Attributes section, so autodoc
    skips the NamedTuple field descriptors (whose own docstring is "Alias for field number
    N")."""
    if what == "class" and type(obj).__name__ == "_tuplegetter":
        return True
    return None


# ---------------------------------------------------------------- gallery
#: the notebooks of notebooks/ are copied into gallery/ (gitignored) at every build.  With
#: HIERMODEL_DOCS_NOTEBOOKS set to a folder of already executed copies (the test suite's),
#: those are shown as they are; otherwise they run here, in the fast mode of the test suite.
GALLERY = DOCS / "gallery"
_executed = os.environ.get("HIERMODEL_DOCS_NOTEBOOKS")
_notebooks = Path(_executed) if _executed else ROOT / "notebooks"
for _old in GALLERY.glob("*.ipynb"):
    _old.unlink()
for _nb in sorted(_notebooks.glob("*.ipynb")):
    shutil.copy2(_nb, GALLERY / _nb.name)
if _executed:
    nb_execution_excludepatterns = ["gallery/*"]
# notebooks run with small draws, as tests/test_notebooks.py runs them (the kernels inherit the
# variable; HIERMODEL_NB_FAST=0 for the full draws)
os.environ.setdefault("HIERMODEL_NB_FAST", "1")


def setup(app):
    app.connect("autodoc-skip-member", _skip_fields)
    app.connect("missing-reference", _resolve_missing)
    app.connect("autodoc-process-docstring", _data_docstring)
