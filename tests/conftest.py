"""Shared, session-scoped fits: each model structure is compiled once for the whole run."""

from __future__ import annotations

import contextlib
import os
import warnings

import matplotlib
import pytest
from xdist.scheduler import LoadGroupScheduling

matplotlib.use("Agg")
os.environ.setdefault("CI", "true")  # progress bars off in tests

#: the test modules whose tests share one execution of the notebooks (``executed_notebook``
#: below: the notebook tests check its outputs, the docs build shows them) and so run on one
#: pytest-xdist worker, one after the other
ONE_WORKER_MODULES = ("test_notebooks.py", "test_docs.py")


class ModuleGroups(LoadGroupScheduling):
    """pytest-xdist's ``--dist loadgroup`` scheduling (every test its own unit of work) with
    the tests of :data:`ONE_WORKER_MODULES` one unit, named by module here and not by an
    ``xdist_group`` mark: pytest-xdist reads the mark from a suffix it writes into the node
    id, which pytest 9.2 no longer keeps (pytest-xdist issue #1386).  The tests were then
    spread over the workers, each executed every notebook, and two docs builds raced in
    docs/ (a CI run failed so)."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
        if module in ONE_WORKER_MODULES:
            return "notebooks"
        return super()._split_scope(nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """:class:`ModuleGroups` for ``--dist loadgroup`` (pyproject's addopts)."""
    return ModuleGroups(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.fixture
def pytensor_compiles(monkeypatch):
    """The call stacks of every PyTensor function built while the test runs (every compile
    goes through PyTensor's ``FunctionMaker``; the real one still runs: no mock).  Imported
    from ``pytensor.compile``, where PyTensor 2 and 3 both export it."""
    import traceback

    from pytensor.compile import FunctionMaker

    stacks = []
    real = FunctionMaker.__init__

    def counting(self, *args, **kwargs):
        stacks.append(traceback.extract_stack())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(FunctionMaker, "__init__", counting)
    return stacks


@pytest.fixture(scope="session")
def es_fit():
    """Default fit of Rubin's Eight Schools (nutpie, marginal, 4 x 1000)."""
    from hiermodel import eight_schools, fit

    return fit(eight_schools(), seed=20261125)


@pytest.fixture(scope="session")
def seed_fits():
    """Centered and non-centered fits of eight_schools_summary (well-measured groups)."""
    from hiermodel import eight_schools_summary, fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {p: fit(eight_schools_summary(), parameterization=p, seed=11)
                for p in ("centered", "noncentered")}


@pytest.fixture(scope="session")
def rows_unknown_sigma():
    """Raw rows of 4 groups (sizes 5-8), sigma unknown: the estimated-sigma paths."""
    import numpy as np

    from hiermodel import HierData

    rng = np.random.default_rng(4)
    g = np.repeat(list("abcd"), [5, 6, 7, 8])
    y = rng.normal(0, 1, g.size) + np.repeat(rng.normal(0, 1, 4), [5, 6, 7, 8])
    return HierData.from_observations(y, g)


@pytest.fixture(scope="session")
def stored_fits():
    """The small real fits stored under ``tests/data`` (``tests/data/make_fits.py`` says how
    each was made), for tests of what reads a fit -- comparison, figures -- without sampling.
    ``test_io`` checks that they still have the layout ``fit`` gives today."""
    from pathlib import Path

    from hiermodel import load

    here = Path(__file__).parent / "data"
    return {p.stem: load(p) for p in sorted(here.glob("*.nc"))}


def radon_like_data():
    """Radon-like raw rows (the radon data has 919 houses in 85 counties, three of one
    house): 85 groups of very unequal sizes (1 to ~130 rows, 13 of one row), sigma unknown;
    truth mu 1.3, tau 0.3, sigma 0.8."""
    import numpy as np

    from hiermodel import HierData

    rng = np.random.default_rng(85)
    n = np.maximum(1, np.round(rng.lognormal(1.8, 1.1, 85))).astype(int)
    n[:3] = 1
    theta = 1.3 + 0.3 * rng.standard_normal(85)
    g = np.repeat(np.arange(85), n)
    return HierData.from_observations(theta[g] + 0.8 * rng.standard_normal(g.size),
                                      [f"county{i:02d}" for i in g])


@pytest.fixture(scope="session")
def radon_like():
    """``(data, idata)``: :func:`radon_like_data` and a 2 x 500-draw NUTS fit of it (the
    default marginal form)."""
    from hiermodel import fit

    data = radon_like_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data, fit(data, draws=500, chains=2, seed=2)


@contextlib.contextmanager
def _notebook_env():
    """The environment a notebook kernel starts in: small draws (``HIERMODEL_NB_FAST``), Agg
    until the notebook switches to inline itself, and progress bars on, as a user sees them
    (``CI`` unset; nutpie then displays its progress object)."""
    saved = dict(os.environ)
    os.environ.update(HIERMODEL_NB_FAST="1", MPLBACKEND="Agg")
    os.environ.pop("CI", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """``executed_notebook(path)``: the notebook at ``path`` executed top to bottom (an
    nbformat notebook with its outputs), run once per session whichever tests ask for it
    (tests/test_notebooks.py checks the outputs, tests/test_docs.py builds the site's gallery
    from them).  An execution error is raised again for every later request."""
    import nbformat
    from nbclient import NotebookClient

    cache: dict = {}

    def execute(path):
        key = str(path)
        if key not in cache:
            nb = nbformat.read(path, as_version=4)
            cwd = tmp_path_factory.mktemp(f"nb_{path.stem}")
            client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": str(cwd)}})
            try:
                with _notebook_env():
                    client.execute()
                cache[key] = nb
            except Exception as err:  # kept, and raised again for every request
                cache[key] = err
        result = cache[key]
        if isinstance(result, Exception):
            raise result
        return nbformat.from_dict(result)  # a copy: tests may not change another's notebook

    return execute
