"""Tests of hiermodel.sbc: the uniformity test, and SBC of real NUTS fits.

Positive control: the non-centered model fitted with the priors that simulated the data
passes at 1% (Bonferroni over mu, tau, theta_1).  Negative control: the same data fitted
with a wrong tau prior (Half-Normal(1) instead of Half-Cauchy(5)) must fail.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from hiermodel.priors import Priors
from hiermodel.sbc import SBC_PARAMS, SBC_PRIORS, SBCResult, rank_uniformity, sbc

#: test size: 100 replicates, 2 x 200 draws thinned to L = 49 (every 8th draw)
SMALL = {"draws": 200, "tune": 300, "chains": 2, "L": 49, "n_bins": 5, "executor": "serial"}


def test_rank_uniformity_accepts_uniform_and_rejects_skewed():
    rng = np.random.default_rng(0)
    ok = rank_uniformity(rng.integers(0, 100, size=2000), 99)
    assert ok["chisq_p"] > 0.01 and ok["ks_p"] > 0.01
    # a too-narrow posterior piles ranks at both ends (U shape)
    u_shape = np.concatenate([rng.integers(0, 10, 300), rng.integers(90, 100, 300),
                              rng.integers(0, 100, 200)])
    bad = rank_uniformity(u_shape, 99)
    assert bad["chisq_p"] < 1e-10 and bad["ks_p"] < 1e-3
    # chi-square statistic by hand: counts (30, 10) over 2 bins of ranks 0..9
    r = np.array([0] * 30 + [9] * 10)
    assert rank_uniformity(r, 9, n_bins=2)["chisq"] == pytest.approx((10**2 + 10**2) / 20)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"ranks": np.arange(10), "L": 9, "n_bins": 3}, "must divide"),
    ({"ranks": np.arange(10) + 1, "L": 9, "n_bins": 2}, "values in 0..9"),
    ({"ranks": np.linspace(0, 9, 10), "L": 9, "n_bins": 2}, "integer"),
    ({"ranks": np.arange(10), "L": 0}, "`L`"),
])
def test_rank_uniformity_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rank_uniformity(**kwargs)


@pytest.mark.parametrize(("kwargs", "err", "match"), [
    ({"L": 100}, ValueError, "must divide"),
    ({"draws": 20, "chains": 2, "L": 49}, ValueError, "posterior draws < L"),
    ({"priors": Priors(mu="flat", tau_scale=5.0)}, ValueError, "proper"),
    ({"fit_priors": Priors(mu="flat", tau_scale=5.0)}, ValueError, "fit_priors.*proper"),
    ({"priors": Priors()}, ValueError, r"`priors`: \['mu_mean', 'mu_sd', 'tau_scale'\]"),
    ({"priors": Priors(mu_mean=0.0, mu_sd=5.0)}, ValueError, r"\['tau_scale'\].*fixed prior"),
    ({"fit_priors": Priors(tau="halfnormal")}, ValueError, "`fit_priors`.*scaled to the data"),
    ({"fit_priors": "halfnormal"}, TypeError, "fit_priors"),
    ({"se": 10.0}, ValueError, "n_groups"),
    ({"n_replicates": 1}, ValueError, "n_replicates"),
    ({"executor": "threads"}, ValueError, "serial"),
])
def test_sbc_bad_input(kwargs, err, match):
    args = {"n_replicates": 4, **SMALL, **kwargs}
    with pytest.raises(err, match=match):
        sbc(**args)


@pytest.fixture(scope="module")
def calibrated() -> SBCResult:
    return sbc(100, parameterization="noncentered", seed=1, **SMALL)


def test_sbc_default_priors_are_fixed_and_passed_to_the_fits(monkeypatch):
    """The default is one fixed prior, used both to simulate and (explicitly) to fit."""
    assert SBC_PRIORS == Priors(mu_mean=0.0, mu_sd=5.0, tau="halfcauchy", tau_scale=5.0)
    fit_module = sys.modules["hiermodel.fit"]  # hiermodel.fit is also the function's name
    seen = []
    real_fit = fit_module.fit

    def spy(data, **kw):
        seen.append(kw.get("priors"))
        return real_fit(data, **kw)

    monkeypatch.setattr(fit_module, "fit", spy)
    res = sbc(2, seed=0, **SMALL)
    assert res.priors == SBC_PRIORS and res.fit_priors == SBC_PRIORS
    assert seen == [SBC_PRIORS, SBC_PRIORS]


def test_sbc_noncentered_is_calibrated(calibrated):
    res = calibrated
    assert res.n_replicates == 100 and list(res.ranks.columns) == list(SBC_PARAMS)
    assert res.ranks.to_numpy().min() >= 0 and res.ranks.to_numpy().max() <= res.L
    assert res.passed(0.01, "chisq") and res.passed(0.01, "ks")
    assert int(res.replicates["divergences"].sum()) <= 5
    # the truths are prior draws: tau from Half-Cauchy(5) has median 5
    assert 2.5 < res.replicates["tau"].median() < 10
    assert "passed" in repr(res)


def test_sbc_same_seed_same_ranks(calibrated):
    a = sbc(6, parameterization="noncentered", seed=3, **SMALL)
    b = sbc(6, parameterization="noncentered", seed=3, **SMALL)
    c = sbc(6, parameterization="noncentered", seed=4, **SMALL)
    assert a.ranks.equals(b.ranks) and a.replicates.equals(b.replicates)
    assert not a.replicates["mu"].equals(c.replicates["mu"])


def test_sbc_rank_histogram_plot(calibrated):
    fig = calibrated.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    bars = fig.axes[0].containers[0]
    assert len(bars) == calibrated.n_bins
    assert sum(p.get_height() for p in bars) == calibrated.n_replicates
    with pytest.raises(ValueError, match="band"):
        calibrated.plot(band=1.5)


def test_sbc_detects_a_wrong_tau_prior():
    res = sbc(60, parameterization="noncentered", seed=1,
              fit_priors=Priors(mu_mean=0.0, mu_sd=5.0, tau="halfnormal", tau_scale=1.0),
              **SMALL)
    assert not res.passed(0.01)
    assert res.pvalues()["tau"] < 1e-6
    # truth above the too-narrow posterior: tau ranks pile up at the top
    assert (res.ranks["tau"] >= res.L - 4).mean() > 0.3
    assert "FAILED" in repr(res)
