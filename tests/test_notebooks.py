"""Every notebook under notebooks/ runs top to bottom (small draws via HIERMODEL_NB_FAST) and
shows its figures: every cell that plots has a PNG output, and no output is a bare object repr
instead (``<Figure size ...>`` without an image, nutpie's ``<..._BackgroundSampler at 0x...>``
from its progress display)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
#: text that means an object was printed instead of displayed
BAD_TEXT = ("<Figure size", "_BackgroundSampler")
# on one pytest-xdist worker with tests/test_docs.py (conftest's ONE_WORKER_MODULES): its
# executed_notebook runs each notebook once per worker


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


def plots_in(source: str) -> bool:
    """Whether a cell's code calls a plotting function: ``plot_*(...)``, ``x.plot_*(...)`` or
    ``x.plot(...)`` (IPython magics and shell lines are skipped)."""
    code = "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(
                f, ast.Attribute) else ""
            if name == "plot" or name.startswith("plot_"):
                return True
    return False


def test_plots_in():
    assert plots_in("%matplotlib inline\nfrom hiermodel.plots import plot_tau\n\nplot_tau(i)")
    assert plots_in("hm.plots.plot_mse_study(study)") and plots_in("az.plot_khat(loo);")
    assert not plots_in("from hiermodel.plots import (\n    plot_ppc,\n    ppc_table,\n)")
    assert not plots_in("table = compare(idata)\ntable")


def _texts(output: dict) -> list[str]:
    """The text an output shows: stream text, errors, and its text forms -- except the
    plain-text fallback of an image (a displayed figure carries ``image/png`` and, for
    text-only viewers, ``text/plain`` ``<Figure size ...>``; only the image is shown)."""
    out = [output.get("text", "")] + output.get("traceback", [])
    data = output.get("data", {})
    keys = ("text/html", "text/markdown") if "image/png" in data else (
        "text/plain", "text/html", "text/markdown")
    for key in keys:
        value = data.get(key, "")
        out.append("".join(value) if isinstance(value, list) else str(value))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, executed_notebook):
    committed = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in committed.cells if c.cell_type == "code"), \
        f"{path.name} is committed with outputs; clear them"
    nb = executed_notebook(path)  # conftest: once per session, small draws, progress bars on
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors)[:2000]
    figure_cells = [c for c in code if plots_in(c.source)]
    assert figure_cells, f"{path.name} draws no figure"
    for c in figure_cells:
        kinds = [k for o in c.get("outputs", []) for k in o.get("data", {})]
        assert "image/png" in kinds, f"{path.name}: no figure shown for\n{c.source}\n{kinds}"
    for c in code:
        for o in c.get("outputs", []):
            for text in _texts(o):
                bad = [b for b in BAD_TEXT if b in text]
                assert not bad, f"{path.name}: {bad} in the output of\n{c.source}\n{text[:300]}"


def test_notebook_and_docs_tests_are_one_unit_of_work():
    """conftest's scheduler gives the notebook and docs tests one scope (so one worker
    executes the notebooks, once) and every other test its own, as ``--dist loadgroup``."""
    from conftest import ModuleGroups

    scope = object.__new__(ModuleGroups)._split_scope  # its workers are not needed here
    assert scope("tests/test_docs.py::test_site_builds") == scope(
        "tests/test_notebooks.py::test_notebook_runs[01_eight_schools]") == "notebooks"
    assert scope("tests/test_cli.py::test_a") != scope("tests/test_cli.py::test_b")
