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
    # the marginal form: R-hat / ESS of what NUTS sampled (theta is drawn exactly given them);
    # the table rounds (ArviZ 0.23: 2 decimals), the checks use the unrounded values
    assert diag.max_rhat == pytest.approx(table.loc[["mu", "tau"], "r_hat"].max(), abs=0.006)
    assert diag.min_ess_bulk == pytest.approx(table.loc[["mu", "tau"], "ess_bulk"].min(),
                                              abs=0.6)
    import arviz as az

    post = stack.group(es_fit, "posterior")[["mu", "tau"]]
    assert diag.max_rhat == max(float(az.rhat(post)[v]) for v in ("mu", "tau"))
    assert diag.min_ess_tail == min(float(az.ess(post, method="tail")[v]) for v in ("mu", "tau"))
    assert "divergences: 0 / 4000" in str(diag)


def test_diagnostics_cover_theta_when_nuts_samples_it(stored_fits):
    fit = stored_fits["eight_schools_centered"]   # the funnel: theta mixes worst
    diag, table = sampling_diagnostics(fit), convergence_table(fit)
    assert table["r_hat"].idxmax().startswith("theta")   # so theta decides the worst R-hat
    assert diag.max_rhat == pytest.approx(table["r_hat"].max(), abs=0.006)
    assert diag.min_ess_tail == pytest.approx(table["ess_tail"].min(), abs=0.6)


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


def test_count_divergences_sums_the_diverging_flags():
    """On a hand-built result with known flags (2 chains x 50 draws, 7 divergent), without
    the flags, and without sample_stats: the count is the sum of ``diverging``, else 0."""
    from hiermodel.diagnostics import count_divergences, divergent_draws

    flags = np.zeros((2, 50), dtype=bool)
    flags[0, [3, 9, 40]] = True
    flags[1, [0, 1, 2, 49]] = True
    post = {"mu": np.zeros((2, 50)), "tau": np.ones((2, 50))}
    fit = stack.from_dict_kw(posterior=post, sample_stats={"diverging": flags,
                                                           "lp": np.zeros((2, 50))})
    assert count_divergences(fit) == 7
    np.testing.assert_array_equal(divergent_draws(fit), flags)
    assert count_divergences(stack.from_dict_kw(posterior=post, sample_stats={
        "lp": np.zeros((2, 50))})) == 0
    assert count_divergences(stack.from_dict_kw(posterior=post)) == 0
    assert divergent_draws(stack.from_dict_kw(posterior=post)).shape == (2, 50)
    with pytest.raises(TypeError, match="idata"):
        count_divergences(post)


def test_count_divergences_of_a_fit_that_diverges(stored_fits):
    """The stored centered fit of Eight Schools diverges (the funnel): the count is the sum
    of its flags, and sampling_diagnostics and compare_fits report that same count."""
    from hiermodel.comparison import compare_fits
    from hiermodel.diagnostics import count_divergences

    fit = stored_fits["eight_schools_centered"]
    flags = stack.group(fit, "sample_stats")["diverging"].values
    assert count_divergences(fit) == int(flags.sum()) > 0
    assert sampling_diagnostics(fit).divergences == count_divergences(fit)
    assert (compare_fits({"c": fit}, population=False)["divergences"]
            == count_divergences(fit)).all()
