"""Tests of hiermodel.studies.calibration: the uniformity test, the verdict, and SBC of
real NUTS fits.

Positive control: the non-centered model fitted with the priors that simulated the data
passes at 1% (Bonferroni over mu, tau, theta_1) with no divergent fit.  Negative controls,
each of which must fail: the same data fitted with a wrong tau prior (Half-Normal(1)
instead of Half-Cauchy(5)), caught by the rank test; and a wrong sampler (the centered form
with target_accept 0.6 and 100 tuning steps), which the rank test alone does not catch at
this size -- the divergences do.

Meta-regression (issue 18): the same with two group-level covariates, ranking each slope too;
negative controls with a slope prior shifted by 2 prior sds, or 10 times too narrow.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hiermodel.priors import Priors
from hiermodel.studies.calibration import (
    HEALTH_COLUMNS,
    SBC_PARAMS,
    SBC_PRIORS,
    SBC_SLOPE_SCALE,
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
    fit_module = importlib.import_module("hiermodel.sampling")
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
    """Prior negative control, on the default (marginal) fit: the data are simulated with tau
    ~ Half-Cauchy(5) and fitted with Half-Normal(1)."""
    res = sbc(60, seed=1,
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


# ============================================================================ meta-regression
#: issue 18: two group-level covariates for Eight Schools' 8 groups (fixed across replicates;
#: "year" on a raw scale far from 0, which the models' centring must absorb)
COVARIATES = {"dose": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
              "year": [1990.0, 1995.0, 1992.0, 2001.0, 1998.0, 1989.0, 2005.0, 1994.0]}
BETA_PARAMS = ("beta_dose", "beta_year")
#: the default slope priors sbc() adds: Normal(0, 12.5 / sd(x_j))
DEFAULT_BETA_SD = tuple(SBC_SLOPE_SCALE / np.std(v, ddof=1) for v in COVARIATES.values())


@pytest.fixture(scope="module")
def calibrated_metareg() -> SBCResult:
    """200 replicates of the marginal meta-regression (~0.1 s a fit; ~25 s with the compile
    on 2 cores)."""
    return sbc(200, covariates=COVARIATES, parameterization="marginal", seed=2, **SMALL)


def test_sbc_of_the_covariate_model_passes(calibrated_metareg):
    """Issue 18: data simulated with theta_i ~ N(mu + (x_i - xbar)' beta, tau^2) and fitted
    with the same priors give uniform ranks of mu, tau, theta_1 and both slopes (chi-square
    p-values 0.84, 0.84, 0.90, 0.081, 0.59 when written; all above 1% at N = 1000, seed 5)."""
    res = calibrated_metareg
    params = SBC_PARAMS + BETA_PARAMS
    assert list(res.ranks.columns) == list(params) and list(res.tests.index) == list(params)
    assert res.ranks.to_numpy().min() >= 0 and res.ranks.to_numpy().max() <= res.L
    assert res.passed, res.passed.reasons
    assert res.passed(0.01, "ks"), res.passed("ks").reasons
    assert "Bonferroni over 5 parameters" in repr(res.passed)
    # the default slope priors: fixed, from the fixed covariates' sds
    assert res.priors == replace(SBC_PRIORS, beta_sd=DEFAULT_BETA_SD) == res.fit_priors
    # the truths: slopes drawn from their priors, and theta from the regression
    reps = res.replicates
    assert list(reps.columns[:5]) == list(params)
    for name, sd in zip(BETA_PARAMS, DEFAULT_BETA_SD, strict=True):
        assert 0.7 * sd < reps[name].std() < 1.3 * sd and abs(reps[name].mean()) < 0.3 * sd
    # clean fits at the covariates' default target_accept
    assert res.settings["target_accept"] == 0.9 and res.settings["parameterization"] == "marginal"
    assert int(reps["divergences"].sum()) == 0
    assert np.isfinite(reps[list(HEALTH_COLUMNS[1:])].to_numpy()).all()
    pd.testing.assert_frame_equal(res.covariates, pd.DataFrame(COVARIATES))
    counts = res.rank_counts()
    assert list(counts.columns) == list(params) and (counts.sum() == 200).all()
    text = repr(res)
    assert "passed at 1%" in text and "covariates ['dose', 'year']" in text
    assert "beta_dose" in text and "beta_year" in text and "divergent fits 0 / 200" in text


def test_sbc_metareg_takes_arrays_and_records_covariates_and_priors():
    """An array's columns are named x1..xp; the result
    records the covariates and the priors the fits were given (that the fits really model
    the covariates is what the passing and failing SBC tests above show)."""
    x = np.column_stack(list(COVARIATES.values()))
    pri = Priors(mu_mean=1.0, mu_sd=4.0, tau_scale=3.0, beta_mean=(0.5, 0.0), beta_sd=(2.0, 0.5))
    res = sbc(2, covariates=x, priors=pri, parameterization="marginal", seed=0, **SMALL)
    assert list(res.ranks.columns) == [*SBC_PARAMS, "beta_x1", "beta_x2"]
    assert list(res.covariates.columns) == ["x1", "x2"]
    np.testing.assert_array_equal(res.covariates.to_numpy(), x)
    assert res.fit_priors == pri and res.priors == pri


def test_sbc_metareg_same_seed_same_result_on_every_executor():
    from concurrent.futures import ThreadPoolExecutor

    kw = {**SMALL, "covariates": COVARIATES, "parameterization": "marginal"}
    a = sbc(6, seed=3, **kw)
    with ThreadPoolExecutor(2) as pool:
        b = sbc(6, seed=3, **{**kw, "executor": pool, "chunksize": 2})
    c = sbc(6, seed=4, **kw)
    assert a.ranks.equals(b.ranks) and a.replicates.equals(b.replicates)
    assert a.tests.equals(b.tests)
    assert not a.replicates["beta_dose"].equals(c.replicates["beta_dose"])


def test_sbc_without_covariates_unchanged_by_the_meta_regression():
    """The meta-regression draws come after mu and tau and before theta: without covariates
    nothing is drawn, so the same seed's truths are those of the plain model (and the
    slope draws of the meta-regression do not move mu and tau)."""
    plain = sbc(4, seed=7, **SMALL)
    reg = sbc(4, seed=7, covariates=COVARIATES, parameterization="marginal", **SMALL)
    assert plain.covariates is None and list(plain.ranks.columns) == list(SBC_PARAMS)
    assert "covariates" not in repr(plain)
    np.testing.assert_array_equal(plain.replicates["mu"], reg.replicates["mu"])
    np.testing.assert_array_equal(plain.replicates["tau"], reg.replicates["tau"])
    np.testing.assert_array_equal(plain.replicates["seed"], reg.replicates["seed"])


def test_sbc_detects_a_wrong_slope_prior():
    """Negative control: fitted with the dose slope's prior mean shifted up by 2 prior sds,
    the posterior of beta_dose sits above the truth: its ranks pile up in the lowest bin and
    its rank test -- only its -- rejects (p = 1.5e-13 when written; the rest above 0.17)."""
    sd = DEFAULT_BETA_SD
    wrong = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0, beta_mean=(2 * sd[0], 0.0),
                   beta_sd=sd)
    res = sbc(60, covariates=COVARIATES, parameterization="marginal", seed=1,
              fit_priors=wrong, **SMALL)
    assert res.priors == replace(SBC_PRIORS, beta_sd=sd) and res.fit_priors == wrong
    assert not res.passed
    p = res.pvalues()
    assert p["beta_dose"] < 1e-6 and min(p, key=p.get) == "beta_dose"
    (reason,) = res.passed.reasons
    assert "beta_dose" in reason and "rank test" in reason
    for other in ("mu", "tau", "beta_year"):
        assert other not in reason
    assert (res.ranks["beta_dose"] < res.bin_width).mean() > 0.4
    assert int(res.replicates["divergences"].sum()) == 0        # the sampler is not to blame
    assert "FAILED" in repr(res)


def test_sbc_detects_a_too_narrow_slope_prior():
    """Negative control: the dose slope fitted with a prior 10 times too narrow: the truths
    fall outside the posterior on both sides (a U-shaped rank histogram)."""
    sd = DEFAULT_BETA_SD
    narrow = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0, beta_sd=(sd[0] / 10, sd[1]))
    res = sbc(60, covariates=COVARIATES, parameterization="marginal", seed=1,
              fit_priors=narrow, **SMALL)
    assert not res.passed and res.pvalues()["beta_dose"] < 1e-6
    r = res.ranks["beta_dose"]
    low, high = (r < res.bin_width).mean(), (r >= res.L + 1 - res.bin_width).mean()
    assert low > 0.25 and high > 0.25


@pytest.mark.parametrize(("kwargs", "err", "match"), [
    ({"covariates": np.arange(7.0)}, ValueError, r"`covariates` has 7 rows but `se` has 8"),
    ({"covariates": {"a": np.arange(9.0)}}, ValueError, "`covariates` has 9 rows"),
    ({"covariates": np.array([1.0, 2, np.nan, 4, 5, 6, 7, 8])}, ValueError,
     "`covariates` column 'x1' has missing or infinite"),
    ({"covariates": np.full((8, 1), np.inf)}, ValueError, "`covariates`.*infinite"),
    ({"covariates": np.ones(8)}, ValueError, "`covariates` column 'x1' is constant"),
    ({"covariates": np.empty((8, 0))}, ValueError, "`covariates` has no columns"),
    ({"covariates": np.zeros((8, 2, 2))}, ValueError, r"`covariates` must be a \(G, p\)"),
    ({"covariates": np.array(list("abcdefgh"))}, TypeError, "`covariates` must be a numeric"),
    ({"covariates": np.column_stack([np.arange(8.0), 2 * np.arange(8.0)])}, ValueError,
     "`covariates`.*collinear"),
    ({"covariates": np.arange(8.0), "priors": Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)},
     ValueError, r"`priors`: \['beta_sd'\] are None.*fixed prior"),
    ({"covariates": np.arange(8.0),
      "fit_priors": Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)},
     ValueError, r"`fit_priors`: \['beta_sd'\] are None"),
    ({"covariates": np.arange(8.0),
      "priors": Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0, beta_sd=(1.0, 2.0))},
     ValueError, "`priors`.*`beta_sd` has 2 values but the data have 1 covariate"),
])
def test_sbc_covariates_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        sbc(**{"n_replicates": 4, **SMALL, **kwargs})
