"""Tests of hiermodel.studies.calibration: the uniformity test, the verdict, and SBC of
real NUTS fits.

Positive control: the non-centered model fitted with the priors that simulated the data
passes at 1% (Bonferroni over mu, tau, theta_1) with no divergent fit.  Negative controls,
each of which must fail: the same data fitted with a wrong tau prior (Half-Normal(1)
instead of Half-Cauchy(5)), caught by the rank test; and a wrong sampler (the centered form
with target_accept 0.6 and 100 tuning steps), which the rank test alone does not catch at
this size -- the divergences do.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hiermodel.priors import Priors
from hiermodel.studies.calibration import (
    HEALTH_COLUMNS,
    SBC_PARAMS,
    SBC_PRIORS,
    SBCResult,
    SBCVerdict,
    rank_uniformity,
    sbc,
)

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
    ({"target_accept": 1.0}, ValueError, "target_accept"),
    ({"target_accept": "0.8"}, TypeError, "target_accept"),
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
    fit_module = sys.modules["hiermodel.sampling"]
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
    assert res.passed and res.passed(0.01, "chisq") and res.passed(0.01, "ks")
    assert res.passed.reasons == ()
    # clean fits: no divergence, and the health of every fit is recorded
    assert set(HEALTH_COLUMNS) <= set(res.replicates.columns)
    assert int(res.replicates["divergences"].sum()) == 0
    health = res.replicates[list(HEALTH_COLUMNS[1:])]
    assert np.isfinite(health.to_numpy()).all()
    assert (res.replicates["max_rhat"] >= 0.99).all() and (res.replicates["min_ess_bulk"] > 0).all()
    h = res.sampler_health
    assert h["fits"] == 100 and h["divergent_fits"] == 0 and h["divergent_share_of_draws"] == 0
    assert h["max_rhat_median"] < 1.05 and h["min_ess_bulk_median"] > res.L
    assert res.settings == {"parameterization": "noncentered", "sampler": "nutpie",
                            "draws": 200, "tune": 300, "chains": 2, "target_accept": 0.95}
    # the truths are prior draws: tau from Half-Cauchy(5) has median 5
    assert 2.5 < res.replicates["tau"].median() < 10
    text = repr(res)
    assert "passed at 1%" in text and "divergent fits 0 / 100" in text and "R-hat" in text


def test_sbc_same_seed_same_ranks(calibrated):
    a = sbc(6, parameterization="noncentered", seed=3, **SMALL)
    b = sbc(6, parameterization="noncentered", seed=3, **SMALL)
    c = sbc(6, parameterization="noncentered", seed=4, **SMALL)
    assert a.ranks.equals(b.ranks) and a.replicates.equals(b.replicates)
    assert not a.replicates["mu"].equals(c.replicates["mu"])


def test_sbc_rank_histogram_counts(calibrated):
    """What the rank-histogram figure draws: counts per bin, and the binomial band."""
    res = calibrated
    counts = res.rank_counts()
    assert counts.shape == (res.n_bins, 3) and list(counts.columns) == list(SBC_PARAMS)
    assert (counts.sum() == res.n_replicates).all() and res.bin_width == 10
    np.testing.assert_array_equal(counts["tau"], np.bincount(res.ranks["tau"] // 10,
                                                              minlength=res.n_bins))
    # the chi-square test of `tests` is computed on these counts
    assert stats.chisquare(counts["mu"]).statistic == pytest.approx(res.tests.loc["mu", "chisq"])
    lo, hi = res.count_band(0.99)
    assert (lo, hi) == tuple(stats.binom.ppf([0.005, 0.995], 100, 1 / 5))
    assert lo < res.n_replicates / res.n_bins < hi
    with pytest.raises(ValueError, match="band"):
        res.count_band(1.5)


def test_sbc_detects_a_wrong_tau_prior():
    res = sbc(60, parameterization="noncentered", seed=1,
              fit_priors=Priors(mu_mean=0.0, mu_sd=5.0, tau="halfnormal", tau_scale=1.0),
              **SMALL)
    assert not res.passed(0.01)
    assert res.pvalues()["tau"] < 1e-6
    # truth above the too-narrow posterior: tau ranks pile up at the top
    assert (res.ranks["tau"] >= res.L - 4).mean() > 0.3
    assert "FAILED" in repr(res)


def test_sbc_fails_on_divergent_fits_that_the_rank_test_misses():
    """Issue 14: the centered form's fits diverge in the funnel (40 of 100 fits here, 877
    transitions) while every rank p-value stays above 1% -- the verdict must be False, and
    say why."""
    res = sbc(100, parameterization="centered", seed=11, **SMALL)
    assert min(res.pvalues().values()) > 0.01 / 3        # the rank test alone would pass
    assert res.passed(max_divergent_share=1.0)           # ... i.e. ignoring divergences
    assert not res.passed and res.passed == False  # noqa: E712 -- the verdict is a bool
    h = res.sampler_health
    # 40 fits / 877 transitions on PyMC 5.28 + nutpie 0.16.8; 33 / 108 on PyMC 6.4 + 0.16.11
    assert h["divergent_fits"] >= 20 and h["divergences"] >= 100
    (reason,) = res.passed.reasons
    assert f"{h['divergent_fits']} of 100 fits" in reason
    assert "divergent transitions" in reason and "centered" in reason
    text = repr(res)
    assert text.startswith("SBCResult(N=100, L=49, FAILED at 1%")
    assert "divergent transitions" in text and "passed" not in text.splitlines()[0]


def test_sbc_detects_a_broken_sampler():
    """Sampler negative control: the centered form with a low target_accept (0.6) and short
    tuning (100) diverges in most fits and is biased toward large tau (the truth ranks low:
    at N = 400, 134 of 400 tau ranks fell in the lowest of 5 bins, chi-square p = 1e-10).
    At this cheap size (N = 40) the rank test alone does not catch it; the verdict must."""
    res = sbc(40, parameterization="centered", target_accept=0.6, seed=1,
              **{**SMALL, "tune": 100})
    assert res.settings["target_accept"] == 0.6 and res.settings["tune"] == 100
    h = res.sampler_health
    assert h["divergent_fits"] >= 15                     # 29 of 40 when written
    # what the rank test alone says (all p > 0.13 when written): it passes
    rank_only = res.passed(max_divergent_share=1.0)
    assert rank_only, rank_only.reasons
    # ... yet the verdict fails, and names the divergences
    assert not res.passed
    assert any("divergent transitions" in r for r in res.passed.reasons)
    # the bias: truths pile up at low ranks of tau (posterior too large), not high ones
    low = (res.ranks["tau"] < res.L // 5).mean()
    high = (res.ranks["tau"] >= res.L - res.L // 5).mean()
    assert low > high
    # poor mixing shows in the health record too
    assert h["max_rhat_worst"] > 1.1 and h["fits_ess_below_L"] >= 10


def _fake_result(divergences, rhat=1.0, pvalue=0.5) -> SBCResult:
    """A hand-made SBCResult (no fits) for the rules of the verdict."""
    n = len(divergences)
    ranks = pd.DataFrame({p: np.arange(n) % 10 for p in SBC_PARAMS})
    tests = pd.DataFrame({"chisq": 1.0, "chisq_p": [pvalue, 0.5, 0.5], "ks": 0.1,
                          "ks_p": 0.5}, index=pd.Index(SBC_PARAMS, name="param"))
    reps = pd.DataFrame({"mu": 0.0, "tau": np.linspace(1, 9, n), "theta_1": 0.0, "seed": 1,
                         "divergences": divergences, "max_rhat": rhat,
                         "min_ess_bulk": 100.0, "min_ess_tail": 100.0})
    settings = {"parameterization": "centered", "sampler": "nutpie", "draws": 100,
                "tune": 100, "chains": 2, "target_accept": 0.9}
    return SBCResult(ranks, reps, tests, 9, 2, SBC_PRIORS, SBC_PRIORS, 0, settings)


def test_sbc_verdict_rules():
    clean = _fake_result([0] * 50)
    assert clean.passed and clean.passed == True  # noqa: E712
    assert isinstance(clean.passed, SBCVerdict) and "passed" in repr(clean.passed)
    # one divergent fit fails the default verdict; a stated tolerance can allow it
    one = _fake_result([0] * 49 + [3])
    assert not one.passed
    assert "1 of 50 fits (2.0%) had divergent transitions (3 in all, 0.03% of the 10,000 " \
        "draws; none is allowed; most in replicate 49, true tau 9: 3)" in one.passed.reasons[0]
    assert one.passed(max_divergent_share=0.02) and not one.passed(max_divergent_share=0.01)
    # a rank-test rejection is a reason of its own (Bonferroni: p must exceed alpha / 3)
    skewed = _fake_result([0] * 50, pvalue=0.003)
    assert not skewed.passed and skewed.passed(0.001)
    assert "rank test (chisq) rejects uniformity" in skewed.passed.reasons[0]
    assert "mu (p = 0.003)" in skewed.passed.reasons[0]
    both = _fake_result([0] * 49 + [3], pvalue=1e-6)
    assert len(both.passed.reasons) == 2 and "FAILED" in repr(both)
    # a fit whose R-hat cannot be computed (a chain that never moved) is not clean
    nan = _fake_result([0] * 50, rhat=[1.0] * 49 + [np.nan])
    assert not nan.passed and "NaN in 1 of 50 fits" in nan.passed.reasons[0]
    for bad in ({"alpha": 0}, {"alpha": 1.5}, {"test": "ad"}, {"max_divergent_share": -0.1},
                {"max_divergent_share": 2}):
        with pytest.raises(ValueError):
            clean.passed(**bad)
