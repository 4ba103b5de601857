"""The documentation site builds with warnings as errors (``python -m sphinx -W -b html docs
OUT``), from the notebooks the session executed once (conftest's ``executed_notebook``), and
has a page for every public name, every option of the command and the gallery's figures."""

from __future__ import annotations

import argparse
import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

for _module in ("sphinx", "myst_nb", "numpydoc", "pydata_sphinx_theme", "sphinx_copybutton"):
    pytest.importorskip(_module, reason="the docs extra is not installed "
                                        "(pip install -e \".[docs]\")")

import hiermodel  # noqa: E402 - after the skips
import hiermodel.core  # noqa: E402
import hiermodel.plots  # noqa: E402
import hiermodel.studies  # noqa: E402
from hiermodel.cli import build_parser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: the modules whose ``__all__`` the API reference documents (as docs/conf.py's API_MODULES)
API_MODULES = (hiermodel, hiermodel.plots, hiermodel.studies, hiermodel.core)

#: on one pytest-xdist worker with tests/test_notebooks.py (conftest's ONE_WORKER_MODULES)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def site(executed_notebook, tmp_path_factory):
    """``(completed process, output folder)`` of one build of the site, its gallery from the
    executed notebooks (``HIERMODEL_DOCS_NOTEBOOKS``: not executed again).  Session-scoped:
    on a pytest-xdist worker the notebook tests (same group) may run between these tests,
    and a module-scoped fixture would then be built again (it was, once: 184 s twice)."""
    notebooks = tmp_path_factory.mktemp("executed_notebooks")
    for path in NOTEBOOKS:
        nbformat.write(executed_notebook(path), notebooks / path.name)
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, HIERMODEL_DOCS_NOTEBOOKS=str(notebooks),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                        os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-b", "html", "-q",
                           str(ROOT / "docs"), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    return proc, out


def built(site) -> Path:
    proc, out = site
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])
    return out


def test_site_builds(site):
    built(site)


def test_every_public_name_has_a_page(site):
    api = built(site) / "api"
    pages: dict[str, list[str]] = {}  # anchor id -> the pages that define it
    for page in sorted(api.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for anchor in re.findall(r'\bid="([^"]+)"', text):
            pages.setdefault(anchor, []).append(page.relative_to(api).as_posix())
        # a constant shows its doc comment, not the docstring of its type (tuple, str)
        assert "Built-in immutable sequence" not in text, page
        assert "str(object=" not in text, page
    missing = []
    for module in API_MODULES:
        for name in module.__all__:
            full = f"{module.__name__}.{name}"
            if inspect.ismodule(getattr(module, name)):  # a namespace: its section
                ok = f"module-{full}" in pages
            else:  # its own page, generated/<name>.html (a suffix if only case tells apart)
                ok = any(p.startswith("generated/") and Path(p).stem.split("-")[0] == full
                         for p in pages.get(full, []))
            if not ok:
                missing.append(full)
    assert not missing, missing
    assert sum(len(m.__all__) for m in API_MODULES) >= 100


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    out = set()
    for action in parser._actions:
        out.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)  # the subcommands' names
            for sub in action.choices.values():
                out |= _option_strings(sub)
    return out


def test_cli_page_has_every_option(site):
    text = html.unescape((built(site) / "cli.html").read_text(encoding="utf-8"))
    options = _option_strings(build_parser())
    assert {"--knha", "--covariates", "--interval", "eight-schools", "fit"} <= options
    missing = sorted(o for o in options if o not in text)
    assert not missing, missing


def test_gallery_shows_figures(site, executed_notebook):
    gallery = built(site) / "gallery"
    index = (gallery / "index.html").read_text(encoding="utf-8")
    with_figures = []
    for path in NOTEBOOKS:
        page = gallery / f"{path.stem}.html"
        assert page.is_file(), page
        assert f'href="{path.stem}.html"' in index, f"{path.stem} is not on the gallery page"
        images = re.findall(r'<img [^>]*src="\.\./_images/[^"]+\.png"', page.read_text("utf-8"))
        shown = sum("image/png" in o.get("data", {})
                    for c in executed_notebook(path).cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
        assert len(images) >= min(shown, 1), f"{path.stem}: {shown} figures, none on its page"
        if images:
            with_figures.append(path.stem)
    assert len(with_figures) >= 5, with_figures
