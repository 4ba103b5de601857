"""shrinkage: the labelled facade over the core -- empirical Bayes, the pooling table,
Rao-Blackwellisation and the exact posterior (HierData in, xarray / pandas / ArviZ out)."""

from __future__ import annotations

import dataclasses
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import integrate, special, stats

import hiermodel.core as hc
from hiermodel import HierData, Priors, eight_schools, eight_schools_summary
from hiermodel import shrinkage as sh

BDA3 = Priors(mu="flat", tau="uniform", tau_scale=1000)
CLASSIC = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)  # the PyMC example's fixed priors


# --------------------------------------------------------------------------- empirical Bayes
def test_empirical_bayes_facade_on_eight_schools():
    d = eight_schools()
    eb = sh.empirical_bayes(d)
    assert isinstance(eb, sh.EmpiricalBayes) and eb.method == "reml" and eb.tau == 0.0
    ds = eb.groups
    assert isinstance(ds, xr.Dataset) and list(ds["group"].values) == list("ABCDEFGH")
    np.testing.assert_array_equal(ds["weight"], 0.0)
    np.testing.assert_allclose(ds["theta_hat"], eb.mu, rtol=1e-15)
    np.testing.assert_array_equal(ds["sd_cond"], 0.0)          # plug-in: no uncertainty
    np.testing.assert_allclose(ds["sd_adj"], eb.mu_sd, rtol=1e-15)  # Morris: Var(mu_hat)
    df = eb.to_dataframe()
    assert list(df.columns) == ["ybar", "se", "weight", "theta_hat", "sd_cond", "sd_adj"]
    assert "EmpiricalBayes(method='reml'" in repr(eb)


def test_pooling_table():
    d = eight_schools_summary()
    tab = sh.pooling_table(d, method="pm")
    assert isinstance(tab, pd.DataFrame) and list(tab.index) == list("ABCDEFGH")
    assert list(tab.columns) == ["no_pooling", "complete_pooling", "partial_pooling", "weight",
                                 "sd_of_means_partial_pooling"]
    plug_in = hc.sd_of_means_estimates(d.means, d.n, 15.0)
    np.testing.assert_allclose(tab["sd_of_means_partial_pooling"], plug_in.partial_pooling,
                               rtol=1e-13)
    # complete pooling with a common sigma: the mean of all rows, sum n_i ybar_i / sum n_i
    np.testing.assert_allclose(tab["complete_pooling"], np.sum(d.n * d.means) / np.sum(d.n),
                               rtol=1e-14)
    np.testing.assert_allclose(sh.pooling_table(eight_schools())["complete_pooling"],
                               7.6856167, atol=1e-7)              # metafor's EE estimate
    np.testing.assert_allclose(tab["partial_pooling"], hc.eb_core(d.means, d.se, "pm").theta)


def test_rao_blackwell_from_exact_draws():
    d = eight_schools()
    post = sh.exact_posterior(d)
    idata = post.sample(draws=2000, chains=4, seed=7)
    cm = sh.conditional_means(idata, d)
    assert cm.dims == ("chain", "draw", "group") and cm.shape == (4, 2000, 8)
    assert list(cm["group"].values) == list("ABCDEFGH")
    rb = sh.rao_blackwell(idata, d)
    assert rb.dims == ("group",)
    mcse = az.mcse(cm.to_dataset(name="theta"))["theta"]
    assert np.all(np.abs(rb - post.mean["theta"]) < 5 * mcse)
    # Rao-Blackwellisation has less Monte Carlo error than the raw theta draws
    raw_mcse = az.mcse(idata, var_names=["theta"])["theta"]
    assert np.all(mcse < raw_mcse)
    # the same from a (mu, tau) pair of plain arrays
    pair = (idata.posterior["mu"].values, idata.posterior["tau"].values)
    np.testing.assert_allclose(sh.rao_blackwell(pair, d), rb, rtol=1e-13)


def test_conditional_means_with_unknown_sigma_uses_sigma_draws():
    rng = np.random.default_rng(4)
    g = np.repeat(["a", "b", "c"], [4, 6, 5])
    data = HierData.from_observations(rng.normal(0, 2, g.size), g)
    post = xr.Dataset({"mu": (("chain", "draw"), rng.normal(0, 1, (2, 30))),
                       "tau": (("chain", "draw"), np.abs(rng.normal(0, 1, (2, 30)))),
                       "sigma": (("chain", "draw"), rng.uniform(1, 3, (2, 30)))})
    cm = sh.conditional_means(post, data)
    se = post["sigma"].values[1, 3] / np.sqrt(data.n)
    expected = hc.partial_pooling(data.means, se, post["mu"].values[1, 3],
                                  post["tau"].values[1, 3])
    np.testing.assert_allclose(cm.values[1, 3], expected, rtol=1e-13)
    with pytest.raises(ValueError, match="sigma"):
        sh.conditional_means(post.drop_vars("sigma"), data)


# --------------------------------------------------------------------------- exact posterior
def _logp_halfcauchy(mu, tau, y, v, m0, s0, ts):
    """log p(mu, tau | y) + const under mu ~ N(m0, s0), tau ~ HalfCauchy(ts)."""
    s2 = v + tau * tau
    return (-0.5 * np.sum(np.log(s2) + (y - mu) ** 2 / s2) - 0.5 * ((mu - m0) / s0) ** 2
            - np.log1p((tau / ts) ** 2))


@pytest.mark.parametrize("priors", [None, CLASSIC], ids=["data-scaled", "classic"])
def test_exact_posterior_means_match_2d_brute_force_integration(priors):
    d = eight_schools()
    y, v = np.array(d.means), np.array(d.se) ** 2
    post = sh.exact_posterior(d, priors)
    pr = post.priors
    assert pr.is_resolved and (priors is not None or pr.from_data)
    args = (y, v, pr.mu_mean, pr.mu_sd, pr.tau_scale)
    c = _logp_halfcauchy(4.0, 3.0, *args)
    res = [integrate.dblquad(
        lambda mu, tau, k=k: (mu, tau, 1.0)[k] * np.exp(_logp_halfcauchy(mu, tau, *args) - c),
        0, np.inf, -np.inf, np.inf, epsabs=0, epsrel=1e-9)[0] for k in range(3)]
    assert float(post.mean["mu"]) == pytest.approx(res[0] / res[2], rel=1e-5)
    assert float(post.mean["tau"]) == pytest.approx(res[1] / res[2], rel=1e-5)


@pytest.mark.parametrize("priors", [Priors(), BDA3, Priors(tau="halfnormal", tau_scale=10)],
                         ids=["default", "bda3", "halfnormal"])
def test_exact_tau_density_integrates_to_one(priors):
    post = sh.exact_posterior(eight_schools(), priors)
    assert post.weights.sum() == pytest.approx(1.0, abs=1e-14)
    upper = priors.tau_scale if priors.tau == "uniform" else np.inf
    total = integrate.quad(post.tau_pdf, 0, upper, limit=200, epsabs=1e-12)[0]
    assert total == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(post.tau_pdf(post.tau_grid), post.tau_density, rtol=1e-9)
    assert post.truncated_mass < 1e-12


@pytest.mark.parametrize("data", [eight_schools(), eight_schools_summary()],
                         ids=["eight_schools", "sd_of_means"])
def test_exact_posterior_is_stable_to_grid_refinement(data):
    coarse, fine = sh.exact_posterior(data, grid=1001), sh.exact_posterior(data, grid=2001)
    for stat in ("mean", "sd"):
        a, b = getattr(coarse, stat), getattr(fine, stat)
        for var in ("mu", "tau", "theta"):
            np.testing.assert_allclose(a[var], b[var], rtol=1e-4, atol=1e-6, err_msg=var)


@pytest.mark.parametrize("priors", [Priors(), BDA3], ids=["default", "bda3"])
def test_exact_draws_reproduce_exact_moments(priors):
    d = eight_schools()
    post = sh.exact_posterior(d, priors)
    idata = post.sample(draws=5000, chains=4, seed=123)
    p = idata.posterior
    n = p.sizes["chain"] * p.sizes["draw"]
    for var in ("mu", "tau", "theta"):
        draws_mean = p[var].mean(("chain", "draw"))
        sd = post.sd[var]
        assert np.all(np.abs(draws_mean - post.mean[var]) < 4 * sd / np.sqrt(n)), var
        np.testing.assert_allclose(p[var].std(("chain", "draw")), sd, rtol=0.05)
    # exact quantiles against the draws' (within a few Monte Carlo sds of a quantile)
    q = post.quantile([0.1, 0.5, 0.9])
    for var in ("mu", "tau"):
        frac = [(p[var].values < q[var].values[j]).mean() for j in range(3)]
        np.testing.assert_allclose(frac, [0.1, 0.5, 0.9], atol=4 * np.sqrt(0.25 / n))


def test_exact_quantiles_solve_the_mixture_cdf():
    post = sh.exact_posterior(eight_schools_summary())
    qs = np.array([0.025, 0.5, 0.975])
    q = post.quantile(qs)
    mix = np.column_stack([post.mu_cond_mean, post.theta_cond_mean])
    sds = np.sqrt(np.column_stack([post.mu_cond_var, post.theta_cond_var]))
    xs = np.vstack([q["mu"].values, q["theta"].values])
    for j in range(xs.shape[0]):
        cdf = [np.sum(post.weights * special.ndtr((x - mix[:, j]) / sds[:, j])) for x in xs[j]]
        np.testing.assert_allclose(cdf, qs, atol=1e-10)
    tau_cdf = [integrate.quad(post.tau_pdf, 0, t, epsabs=1e-12)[0] for t in q["tau"].values]
    np.testing.assert_allclose(tau_cdf, qs, atol=1e-6)
    tab = post.summary()
    assert list(tab.index[:3]) == ["mu", "tau", "theta[A]"]
    assert list(tab.columns) == ["mean", "sd", "q2.5%", "q50%", "q97.5%"]


def test_exact_sample_is_reproducible_and_shaped_like_a_fit():
    d = eight_schools()
    post = sh.exact_posterior(d)
    a = post.sample(draws=300, chains=2, seed=42)
    b = post.to_inference_data(draws=300, chains=2, seed=42)
    c = post.sample(draws=300, chains=2, seed=43)
    for var in ("mu", "tau", "theta"):
        np.testing.assert_array_equal(a.posterior[var], b.posterior[var])
    assert not np.array_equal(a.posterior["mu"], c.posterior["mu"])
    p = a.posterior
    assert p["mu"].dims == ("chain", "draw") and p["tau"].dims == ("chain", "draw")
    assert p["theta"].dims == ("chain", "draw", "group")
    assert list(p["group"].values) == list(d.groups)
    assert p.attrs["method"] == "exact"
    assert (p["tau"] >= 0).all()
    # tau is drawn continuously, not just on grid points
    assert np.isin(p["tau"].values, post.tau_grid).mean() < 0.01


def test_exact_posterior_with_a_flat_mu_prior_is_bda3():
    post = sh.exact_posterior(eight_schools(), BDA3)
    q = post.quantile([0.025, 0.5, 0.975])
    # BDA3 table 5.3, school A (simulation, rounded): 2.5% -2, median 10, 97.5% 31
    np.testing.assert_allclose(q["theta"].sel(group="A"), [-2, 10, 31], atol=1.5)


def test_exact_posterior_refuses_unknown_sigma_with_covariates_and_bad_grid():
    rng = np.random.default_rng(1)
    g = np.repeat(["a", "b", "c", "d", "e"], 4)
    raw = HierData.from_observations(rng.normal(size=20), g).with_covariates(
        {"x": [0.0, 1.0, 3.0, 2.0, 5.0]})
    with pytest.raises(NotImplementedError, match="covariates needs known sampling sds"):
        sh.exact_posterior(raw)
    with pytest.raises(ValueError, match="`sigma_grid`"):
        sh.exact_posterior(HierData.from_observations(rng.normal(size=20), g), sigma_grid=3)
    with pytest.raises(ValueError, match="`grid`"):
        sh.exact_posterior(eight_schools(), grid=10)
    with pytest.raises(TypeError, match="`priors`"):
        sh.exact_posterior(eight_schools(), priors={"tau": "uniform"})
    with pytest.raises(ValueError, match="`draws`"):
        sh.exact_posterior(eight_schools()).sample(draws=0)


@pytest.mark.parametrize("priors", [Priors(), BDA3, CLASSIC], ids=["default", "bda3", "classic"])
def test_exact_posterior_labels_the_core_given_the_priors_as_numbers(priors):
    d = eight_schools()
    post = sh.exact_posterior(d, priors)
    pr = post.priors
    flat = pr.mu == "flat"
    core = hc.grid_posterior(d.means, d.se, tau_logpdf=pr.tau_dist().logpdf,
                             mu_mean=0.0 if flat else pr.mu_mean,
                             mu_precision=0.0 if flat else 1.0 / pr.mu_sd**2,
                             tau_max=pr.tau_scale if pr.tau == "uniform" else None)
    for name in ("tau_grid", "tau_density", "weights", "mu_cond_mean", "mu_cond_var",
                 "theta_cond_mean", "theta_cond_var", "truncated_mass"):
        np.testing.assert_array_equal(getattr(post, name), getattr(core, name), err_msg=name)
    # what other modules need is public: the data, its arrays and the group coordinate
    assert [f.name for f in dataclasses.fields(post) if f.name.startswith("_")] == []
    assert post.data is d and post.groups == d.groups
    np.testing.assert_array_equal(post.means, d.means)
    np.testing.assert_array_equal(post.se, d.se)
    assert list(post.group_coord) == list("ABCDEFGH")
    # the draws are the core's, reshaped (chain, draw)
    idata = post.sample(draws=10, chains=2, seed=5)
    mu, tau, theta = post.core.draw(np.random.default_rng(5), 20)
    np.testing.assert_array_equal(idata.posterior["mu"].values.ravel(), mu)
    np.testing.assert_array_equal(idata.posterior["tau"].values.ravel(), tau)
    np.testing.assert_array_equal(idata.posterior["theta"].values.reshape(20, 8), theta)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call", [
    lambda: sh.empirical_bayes(eight_schools(), method="mom"),
    lambda: sh.pooling_table(eight_schools(), method=3),
])
def test_unknown_method_lists_the_valid_ones(call):
    with pytest.raises(ValueError, match=r"Requested method .* must be one of \{'dl', 'pm'"):
        call()


def test_bad_data_names_the_argument():
    for call in (sh.empirical_bayes, sh.pooling_table, sh.exact_posterior):
        with pytest.raises(TypeError, match="`data` must be a HierData"):
            call({"y": np.arange(5.0)})
    with pytest.raises(TypeError, match="`data` must be a HierData"):
        sh.conditional_means((np.zeros(3), np.ones(3)), {"y": np.arange(5.0)})


# ----------------------------------------------------------------------------- meta-analysis
def _bcg(with_latitude: bool):
    from hiermodel.datasets import bcg_trials

    b = bcg_trials()
    labels = (b["author"] + " " + b["year"].astype(str)).tolist()
    return b, HierData.from_estimates(b["yi"], np.sqrt(b["vi"]), groups=labels,
                                      covariates=b[["ablat"]] if with_latitude else None)


def test_meta_analysis_reports_metafors_rma_on_the_bcg_trials():
    """metafor: rma(yi, vi, data=dat) and rma(yi, vi, mods = ~ ablat, data=dat) (REML); its
    tau^2 and R^2 may sit 1e-5 (its stopping threshold) from the converged optimum."""
    from hiermodel import meta_analysis

    _, plain = _bcg(False)
    res = meta_analysis(plain)
    het = res.heterogeneity
    assert res.coefficients.loc["intercept", "estimate"] == pytest.approx(-0.7145, abs=5e-5)
    assert res.coefficients.loc["intercept", "se"] == pytest.approx(0.1798, abs=5e-5)
    assert het["tau2"] == pytest.approx(0.3132, abs=6e-5)
    assert (het["tau2_ci_low"], het["tau2_ci_high"]) == (pytest.approx(0.1197, abs=5e-5),
                                                         pytest.approx(1.1115, abs=5e-5))
    assert (het["QE"], het["QE_df"]) == (pytest.approx(152.2330, abs=5e-5), 12)
    assert het["I2"] == pytest.approx(92.22, abs=5e-3)
    assert het["H2"] == pytest.approx(12.86, abs=5e-3)
    assert "R2" not in het and list(res.coefficients.index) == ["intercept"]

    b, lat = _bcg(True)
    reg = meta_analysis(lat)
    np.testing.assert_allclose(reg.coefficients["estimate"], [0.2515, -0.0291], atol=5e-5)
    assert list(reg.coefficients.index) == ["intercept", "ablat"]
    assert reg.heterogeneity["tau2"] == pytest.approx(0.0764, abs=6e-5)
    assert reg.heterogeneity["QE"] == pytest.approx(30.7331, abs=5e-5)
    assert reg.heterogeneity["I2"] == pytest.approx(68.39, abs=5e-3)
    assert reg.heterogeneity["R2"] == pytest.approx(75.62, abs=9e-3)
    assert reg.coefficients.loc["ablat", "p"] < 1e-4 and "z" in reg.coefficients
    assert list(reg.theta.index) == list(lat.groups)


def test_meta_analysis_predict_back_transformed_is_metafors():
    """metafor's ``predict(res, transf=exp)`` for ``res <- rma(yi, vi, data=dat)`` (REML) on
    the BCG trials, as quoted in issue 24 (the example of
    https://wviechtb.github.io/metafor/reference/predict.rma.html): 0.4894 [0.3441, 0.6962],
    prediction interval [0.1546, 1.5490].  Printed to 4 decimals, hence the 5e-5."""
    from hiermodel import meta_analysis

    _, plain = _bcg(False)
    res = meta_analysis(plain)
    ratio = res.predict(transform="exp")
    assert list(ratio.columns) == ["pred", "ci_low", "ci_high", "pi_low", "pi_high"]  # no se
    np.testing.assert_allclose(ratio.iloc[0], [0.4894, 0.3441, 0.6962, 0.1546, 1.5490],
                               rtol=0, atol=5e-5)
    assert ratio.attrs == {"transform": "exp", "scale": "ratio scale (exp of log ratio)"}
    # the other scales: the estimate and each interval end through the closed forms
    log_scale = res.predict().drop(columns="se")
    np.testing.assert_allclose(res.predict(transform="expit"), 1 / (1 + np.exp(-log_scale)),
                               rtol=1e-14)
    np.testing.assert_allclose(res.predict(transform="tanh"),
                               np.expm1(2 * log_scale) / (np.exp(2 * log_scale) + 1), rtol=1e-13)
    assert list(res.predict(transform="identity").columns)[1] == "se"


def test_meta_analysis_prediction_interval_and_knapp_hartung():
    from hiermodel import meta_analysis

    b, lat = _bcg(True)
    kh = meta_analysis(lat, knha=True, level=0.9)
    assert "t" in kh.coefficients and kh.fit.knha
    new = kh.predict(pd.DataFrame({"ablat": [10.0, 50.0]}, index=["tropics", "north"]))
    assert list(new.index) == ["tropics", "north"]
    fit = kh.fit
    for lat_deg, row in zip([10.0, 50.0], new.itertuples(), strict=True):
        x0 = np.array([1.0, lat_deg])
        se = np.sqrt(x0 @ fit.beta_cov @ x0)
        crit = stats.t.ppf(0.95, 11)
        assert row.pred == pytest.approx(x0 @ fit.beta)
        assert row.pi_high - row.pred == pytest.approx(crit * np.sqrt(se**2 + fit.tau2))
    assert new.loc["north", "pred"] < new.loc["tropics", "pred"]   # BCG works better far north
    with pytest.raises(ValueError, match=r"give values of \['ablat'\]"):
        kh.predict()
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['ablat'\]"):
        kh.predict({"year": [1950]})
    _, plain = _bcg(False)
    assert meta_analysis(plain).predict().shape == (1, 6)
    with pytest.raises(TypeError, match="must be a HierData"):
        meta_analysis({"y": [1, 2]})


def test_meta_analysis_level_defaults_to_the_interval_option():
    """level=None is the package's interval probability (95% unless set): the confidence
    intervals are those of the explicit level; an explicit level wins over the option."""
    import hiermodel as hm

    _, plain = _bcg(False)
    default = hm.meta_analysis(plain)
    assert default.level == 0.95
    explicit = hm.meta_analysis(plain, level=0.95)
    pd.testing.assert_frame_equal(default.coefficients, explicit.coefficients)
    est, se = default.coefficients.loc["intercept", ["estimate", "se"]]
    assert default.coefficients.at["intercept", "ci_high"] == pytest.approx(
        est + stats.norm.ppf(0.975) * se, rel=1e-10)
    with hm.option_context(prob=0.8):
        narrow = hm.meta_analysis(plain)
        assert narrow.level == 0.8 and hm.meta_analysis(plain, level=0.95).level == 0.95
    assert narrow.coefficients.at["intercept", "ci_high"] == pytest.approx(
        est + stats.norm.ppf(0.9) * se, rel=1e-10)


# ---------------------------------------------------------------- the two Eight Schools tables
def test_exact_posterior_on_the_unrounded_eight_schools_equals_bayesmeta():
    """bayesmeta's vignette (CRAN bayesmeta, inst/doc/bayesmeta.html; Roever 2020, J. Stat.
    Softw. 93(6), section 3): bayesmeta(Rubin1981, mu.prior.mean=0, mu.prior.sd=50,
    tau.prior=function(t) dhalfcauchy(t, scale=25)) prints the marginal posterior
    tau: median 4.758539, mean 5.884511, sd 4.869904; mu: median 7.962961, mean 7.985729,
    sd 4.995762.  tau's marginal is a 1-d integral bayesmeta evaluates to ~1e-6; mu's
    moments come from its normal-mixture approximation (delta = 0.01, epsilon = 1e-4), good
    to ~1e-3 of a posterior sd of 5."""
    from hiermodel import eight_schools_unrounded

    vignette = Priors(mu_mean=0.0, mu_sd=50.0, tau="halfcauchy", tau_scale=25.0)
    ep = sh.exact_posterior(eight_schools_unrounded(), vignette)
    q = ep.quantile(0.5)
    assert float(ep.mean["tau"]) == pytest.approx(5.884511, abs=2e-6)
    assert float(ep.sd["tau"]) == pytest.approx(4.869904, abs=2e-6)
    assert float(q["tau"]) == pytest.approx(4.758539, abs=2e-6)
    assert float(ep.mean["mu"]) == pytest.approx(7.985729, abs=1e-3)
    assert float(ep.sd["mu"]) == pytest.approx(4.995762, abs=1e-3)
    assert float(q["mu"]) == pytest.approx(7.962961, abs=1e-3)
    # BDA3's rounded table moves mu's mean by 0.16: 7.83, not bayesmeta's 7.99
    rounded = sh.exact_posterior(eight_schools(), vignette)
    assert float(rounded.mean["mu"]) == pytest.approx(7.827, abs=1e-3)
    np.testing.assert_array_equal(eight_schools().means.round(), eight_schools().means)
    assert np.abs(eight_schools_unrounded().means - eight_schools().means).max() < 0.5


def test_meta_analysis_equal_effects_equals_metafor():
    """metafor's tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r: rma(yi, vi,
    method="EE") on the BCG trials gives -0.4303 (CI -0.5097, -0.3509), z -10.6247,
    QE 152.2330; tau^2 is 0 and the prediction interval is the confidence interval."""
    from hiermodel import meta_analysis

    _, plain = _bcg(False)
    ee = meta_analysis(plain, "ee")
    c = ee.coefficients.loc["intercept"]
    np.testing.assert_allclose([c["estimate"], c["se"], c["z"], c["ci_low"], c["ci_high"]],
                               [-0.4303, 0.0405, -10.6247, -0.5097, -0.3509], atol=5e-5)
    het = ee.heterogeneity
    assert het["tau2"] == 0.0 and np.isnan(het["tau2_ci_low"]) and np.isnan(het["tau2_ci_high"])
    assert het["QE"] == pytest.approx(152.2330, abs=5e-5)
    pred = ee.predict().iloc[0]
    assert (pred["pi_low"], pred["pi_high"]) == (pred["ci_low"], pred["ci_high"])
    _, lat = _bcg(True)
    reg = meta_analysis(lat, "ee")
    assert "R2" not in reg.heterogeneity and reg.heterogeneity["QM"] > 0
    with pytest.raises(ValueError, match="knha"):
        meta_analysis(plain, "ee", knha=True)
    # the other estimators reach the labelled layer too
    for method in ("he", "sj", "hs"):
        assert meta_analysis(plain, method).heterogeneity["tau2"] > 0


# ------------------------------------------------------- exact posterior with sigma unknown
SINGLETON_N = np.array([1, 3, 2, 1, 4])


def _singleton_rows(scale: float = 1.0, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Raw rows of 5 groups, two of them of one row (sigma 1.5, tau 1, mu 2, times scale)."""
    rng = np.random.default_rng(seed)
    theta = 2.0 + rng.normal(0, 1.0, SINGLETON_N.size)
    g = np.repeat(np.arange(SINGLETON_N.size), SINGLETON_N)
    return scale * (theta[g] + rng.normal(0, 1.5, g.size)), g


def _brute_force_moments(y: np.ndarray, g: np.ndarray, pr: Priors) -> dict[str, float]:
    """E and sd of mu, tau, sigma and E[theta_0] by brute-force Simpson integration of the
    joint density of the raw rows written independently of the package: each group's rows
    are y_i ~ MVN(mu 1, sigma^2 I + tau^2 J) (theta_i integrated out; np.linalg on the full
    covariance), priors from scipy.stats, and mu, tau, sigma on a 3-D grid."""
    tau = np.linspace(0.0, 20.0, 301)
    sig = np.linspace(0.05, 8.0, 241)
    mu = np.linspace(-18.0, 22.0, 241)
    tt, ss = np.meshgrid(tau, sig, indexing="ij")                    # (T, S)
    quad = {k: np.zeros(tt.shape) for k in "abc"}
    logdet = np.zeros(tt.shape)
    blup = None                                                      # E[theta_0 | mu, ...]
    for i in range(SINGLETON_N.size):
        yi = y[g == i]
        k = yi.size
        cov = (ss[..., None, None] ** 2 * np.eye(k)
               + tt[..., None, None] ** 2 * np.ones((k, k)))
        inv = np.linalg.inv(cov)
        logdet += np.linalg.slogdet(cov)[1]
        quad["a"] += np.einsum("i,...ij,j->...", yi, inv, yi)
        quad["b"] += np.einsum("i,...ij->...", yi, inv)
        quad["c"] += inv.sum((-1, -2))
        if i == 0:   # theta_0 | mu, tau, sigma, y = mu + tau^2 1' inv (y_0 - mu 1)
            blup = (tt**2 * np.einsum("...ij,j->...", inv, yi),
                    tt**2 * inv.sum((-1, -2)))
    prior = (stats.norm(pr.mu_mean, pr.mu_sd).logpdf(mu)[None, None, :]
             + pr.tau_dist().logpdf(tt)[..., None] + pr.sigma_dist().logpdf(ss)[..., None])
    lp = (-0.5 * logdet[..., None] - 0.5 * (quad["a"][..., None] - 2 * quad["b"][..., None] * mu
          + quad["c"][..., None] * mu**2) + prior)
    p = np.exp(lp - lp.max())
    grids = np.broadcast_arrays(mu[None, None, :], tt[..., None], ss[..., None])
    theta0 = mu + blup[0][..., None] - blup[1][..., None] * mu

    def integral(f):
        return integrate.simpson(integrate.simpson(integrate.simpson(
            f * p, x=mu, axis=2), x=sig, axis=1), x=tau, axis=0)

    z = integral(1.0)
    out = {}
    for name, x in zip(("mu", "tau", "sigma"), grids, strict=True):
        m = integral(x) / z
        out[f"{name}_mean"], out[f"{name}_sd"] = m, np.sqrt(integral((x - m) ** 2) / z)
    out["theta0_mean"] = integral(theta0) / z
    return out


@pytest.mark.parametrize("tau_prior", ["halfnormal", "halfcauchy"])
def test_exact_posterior_with_sigma_unknown_matches_independent_3d_quadrature(tau_prior):
    """The (tau, sigma) grid with mu and theta integrated analytically against a brute-force
    3-D integral of the raw rows' joint density (groups of one row included)."""
    y, g = _singleton_rows()
    d = HierData.from_observations(y, g)
    pr = Priors(mu_mean=1.0, mu_sd=5.0, tau=tau_prior, tau_scale=1.5, sigma="halfcauchy",
                sigma_scale=2.0)
    post = sh.exact_posterior(d, pr)
    ref = _brute_force_moments(y, g, post.priors)
    mean, sd = post.mean, post.sd
    for v in ("mu", "tau", "sigma"):
        assert float(mean[v]) == pytest.approx(ref[f"{v}_mean"], rel=2e-4), v
        assert float(sd[v]) == pytest.approx(ref[f"{v}_sd"], rel=2e-3), v
    assert float(mean["theta"][0]) == pytest.approx(ref["theta0_mean"], rel=2e-4)
    # the marginal densities integrate to one: tau's from its formula, sigma's on its axis
    assert integrate.quad(post.tau_pdf, 0, np.inf, epsrel=1e-10)[0] == pytest.approx(1, 1e-7)
    assert integrate.simpson(post.sigma_density * post.sigma_grid,
                             x=np.log(post.sigma_grid)) == pytest.approx(1, rel=1e-9)
    assert post.truncated_mass < 1e-10


def _within_mcse(idata, data: HierData, k: float = 4.0) -> None:
    """NUTS means of mu, tau, sigma and theta within ``k`` MCSE (ArviZ's, as compare and
    compare_population report it) of the exact means in their ``exact`` columns."""
    from hiermodel import compare, compare_population

    pop, theta = compare_population(idata, data), compare(idata, data)
    assert list(pop.index) == ["mu", "tau", "sigma"]
    for t in (pop, theta):
        z = (t["mean"] - t["exact"]) / t["mcse_mean"]
        assert np.all(np.abs(z) < k), z.round(2).to_dict()


@pytest.mark.parametrize("scale", [0.01, 1e4])
def test_exact_posterior_with_sigma_unknown_agrees_with_nuts_at_extreme_scales(scale):
    """Raw rows with groups of one row, at scale 0.01 and 10,000: the (tau, sigma) grid and a
    2 x 500-draw NUTS fit (default priors, scaled to the data) agree within 4 MCSE."""
    from hiermodel import fit

    y, g = _singleton_rows(scale)
    d = HierData.from_observations(y, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = fit(d, draws=500, chains=2, seed=3)
    post = sh.exact_posterior(d)
    _within_mcse(idata, d)
    draws = post.sample(500, 2, seed=1).posterior
    assert set(draws.data_vars) == {"mu", "tau", "sigma", "theta"}
    assert float(draws["sigma"].mean()) == pytest.approx(float(post.mean["sigma"]),
                                                         abs=4 * float(post.sd["sigma"]) / 30)


def test_exact_posterior_with_sigma_unknown_agrees_with_nuts_on_radon_like_rows(radon_like):
    """85 groups of very unequal sizes, 13 of one row: exact vs 2 x 500 NUTS draws within 4
    MCSE, and sigma's posterior near the truth (0.8)."""
    data, idata = radon_like
    post = sh.exact_posterior(data)
    _within_mcse(idata, data)
    lo, hi = post.quantile([0.0005, 0.9995])["sigma"].values
    assert lo < 0.8 < hi
