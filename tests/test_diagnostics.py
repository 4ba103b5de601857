"""Sampler health: the convergence table, the Diagnostics object and its warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hiermodel import stack
from hiermodel.diagnostics import Diagnostics, convergence_table, sampling_diagnostics
from hiermodel.exceptions import HierModelWarning, SamplingWarning


def test_diagnostics_summary(es_fit):
    diag = sampling_diagnostics(es_fit)
    assert diag.divergences == 0 and diag.ok and diag.n_draws == 4000
    assert len(diag.bfmi) == 4 and min(diag.bfmi) > 0.3
    table = convergence_table(es_fit)
    assert {"r_hat", "ess_bulk", "ess_tail", "mcse_mean"} <= set(table.columns)
    assert table.index[0] == "mu" and "theta[H]" in table.index
    # the marginal form: R-hat / ESS of what NUTS sampled (theta is drawn exactly given them)
    assert diag.max_rhat == pytest.approx(table.loc[["mu", "tau"], "r_hat"].max())
    assert diag.min_ess_bulk == pytest.approx(table.loc[["mu", "tau"], "ess_bulk"].min())
    assert "divergences: 0 / 4000" in str(diag)


def test_diagnostics_cover_theta_when_nuts_samples_it(stored_fits):
    fit = stored_fits["eight_schools_centered"]   # the funnel: theta mixes worst
    diag, table = sampling_diagnostics(fit), convergence_table(fit)
    assert table["r_hat"].idxmax().startswith("theta")   # so theta decides the worst R-hat
    assert diag.max_rhat == pytest.approx(table["r_hat"].max())
    assert diag.min_ess_tail == pytest.approx(table["ess_tail"].min())


def _diag(**kw):
    base = dict(divergences=0, max_treedepth_hits=0, bfmi=(1.0, 1.0), max_rhat=1.0,
                min_ess_bulk=2000.0, min_ess_tail=2000.0, n_draws=4000,
                parameterization="centered")
    return Diagnostics(**{**base, **kw})


@pytest.mark.parametrize(("field", "value", "advice"), [
    ("divergences", 12, "non-centered"),
    ("max_rhat", 1.05, "R-hat 1.050 > 1.01"),
    ("max_rhat", float("nan"), "R-hat could not be computed"),
    ("min_ess_bulk", 150.0, "Increase draws"),
    ("min_ess_tail", float("nan"), "ESS could not be computed"),
    ("bfmi", (1.0, 0.2), "BFMI 0.20 < 0.3"),
    ("max_treedepth_hits", 3, "maximum tree depth"),
])
def test_every_problem_warns_with_advice_and_is_filterable(field, value, advice):
    assert _diag().ok and _diag().problems == []
    diag = _diag(**{field: value})
    assert not diag.ok and len(diag.problems) == 1 and advice in diag.problems[0]
    with pytest.warns(SamplingWarning, match=advice.split()[0]):
        diag.warn()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=HierModelWarning)
        diag.warn()  # filtered through the package's base class: no error


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_constant_draws_are_never_silent():

    idata = stack.from_dict_kw(posterior={"mu": np.zeros((2, 100)), "tau": np.ones((2, 100))})
    diag = sampling_diagnostics(idata)
    assert any("could not be computed" in p for p in diag.problems)
