"""Group-level covariates (meta-regression, issue 18) through the Bayesian layers: priors,
the PyMC forms, fit, the exact posterior, predictive draws, LOO and compare.

Statistical checks use the exact posterior (closed form given tau, a grid over tau) and the
Monte Carlo standard errors of the NUTS draws; EB checks use metafor's published numbers
(tests/test_core_metareg.py has the full set)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import hiermodel as hm
from hiermodel.comparison import data_from_idata
from hiermodel.loo import integrated_log_likelihood
from hiermodel.model import build_model, pooling_model
from hiermodel.stack import group

FAST = dict(draws=1000, tune=1000, chains=4, progressbar=False)


@pytest.fixture(scope="module")
def bcg():
    df = hm.datasets.bcg_trials().set_index("trial")
    return hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), groups=df.index,
                                      covariates=df[["ablat", "year"]])


@pytest.fixture(scope="module")
def bcg_ablat():
    df = hm.datasets.bcg_trials().set_index("trial")
    return hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), groups=df.index,
                                      covariates=df[["ablat"]])


@pytest.fixture(scope="module")
def fits(bcg):
    return {form: hm.fit(bcg, parameterization=form, seed=11, **FAST)
            for form in ("marginal", "noncentered")}


# ----------------------------------------------------------------------------- priors
def test_beta_prior_scaled_to_the_data(bcg):
    p = hm.Priors().resolve(bcg)
    spread = hm.priors.data_spread(bcg.means, bcg.se)
    sd_x = np.std(bcg.x, axis=0, ddof=1)
    np.testing.assert_allclose(p.beta_sd, 2.5 * spread / sd_x, rtol=1e-12)
    assert p.beta_mean == (0.0, 0.0)
    assert "beta_sd" in p.from_data
    assert "beta ~ Normal([0, 0], [" in p.describe()
    assert any("2.5 S / sd(x_j)" in line for line in p.explain())
    assert p.resolve(bcg) == p                                     # idempotent
    assert hm.Priors.from_attrs(p.to_attrs()) == p                 # round trip


def test_beta_prior_one_number_or_one_per_covariate(bcg):
    assert hm.Priors(beta_sd=2.0).resolve(bcg).beta_sd == (2.0, 2.0)
    assert hm.Priors(beta_sd=[1, 3], beta_mean=[0.5, 0]).resolve(bcg).beta_mean == (0.5, 0.0)
    with pytest.raises(ValueError, match="`beta_sd` has 3 values but the data have 2"):
        hm.Priors(beta_sd=[1, 2, 3]).resolve(bcg)
    with pytest.raises(ValueError, match="beta_sd"):
        hm.Priors(beta_sd=-1.0)
    with pytest.raises(TypeError, match="beta_mean"):
        hm.Priors(beta_mean="zero")
    # no covariates: the beta prior is unused and not printed
    assert "beta" not in hm.Priors().resolve(hm.eight_schools()).describe()


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize("form", ["centered", "noncentered", "auto"])
def test_every_form_has_the_slopes(bcg, form):
    m = build_model(bcg, form)
    names = {v.name for v in m.model.free_RVs}
    assert {"beta", "mu", "tau", "theta_tilde"} == names
    assert m.model.coords["covariate"] == ("ablat", "year")
    assert "intercept" in {v.name for v in m.model.deterministics}
    # the model's log density at a point equals the closed form
    point = {"mu": -0.7, "beta": np.array([-0.03, 0.004]), "tau_log__": np.log(0.3)}
    c = m.model["c"].get_value()
    m_i = -0.7 + bcg.centered_covariates @ point["beta"]
    theta = m_i + 0.1
    # theta = m + tau^(1-c) (theta_tilde - c m)  =>  theta_tilde = c m + (theta - m) / tau^(1-c)
    point["theta_tilde"] = c * m_i + (theta - m_i) / 0.3 ** (1.0 - c)
    logp = m.model.compile_logp(jacobian=False)(point)
    p = m.priors
    lp = (stats.norm.logpdf(-0.7, p.mu_mean, p.mu_sd) + stats.halfcauchy.logpdf(0.3, 0, p.tau_scale)
          + stats.norm.logpdf(point["beta"], 0.0, p.beta_sd).sum()
          + stats.norm.logpdf(point["theta_tilde"], c * m_i, 0.3**c).sum()
          + stats.norm.logpdf(bcg.means, theta, bcg.se).sum())
    np.testing.assert_allclose(logp, lp, rtol=1e-8)


@pytest.mark.parametrize("mu", ["normal", "flat"])
def test_marginal_form_integrates_mu_and_beta_out(bcg, mu):
    """The marginal form samples tau alone; its density is p(tau) p(y | tau) with theta, mu and
    beta integrated out: y ~ N(X b0, diag(se^2 + tau^2) + X P0^-1 X') for a proper prior (and
    the restricted likelihood, up to a constant, for a flat mu)."""
    priors = hm.Priors() if mu == "normal" else hm.Priors(mu="flat")
    m = build_model(bcg, "marginal", priors)
    assert {v.name for v in m.model.free_RVs} == {"tau"}
    p = m.priors
    logp = m.model.compile_logp(jacobian=False)
    x = np.column_stack([np.ones(bcg.n_groups), bcg.centered_covariates])
    b0, p0 = p.coefficient_prior(bcg.n_covariates)
    taus = np.array([0.05, 0.3, 1.2])
    got = np.array([logp({"tau_log__": np.log(t)}) for t in taus])
    prior_tau = stats.halfcauchy.logpdf(taus, 0, p.tau_scale)
    if mu == "normal":
        want = [stats.multivariate_normal.logpdf(
            bcg.means, x @ b0, np.diag(bcg.se**2 + t**2) + x @ np.linalg.inv(p0) @ x.T)
            for t in taus]
        np.testing.assert_allclose(got - prior_tau, want, rtol=1e-9)
    else:
        want = hm.core.marginal_regression(taus**2, bcg.means, bcg.se**2, x, b0, p0).loglik
        diff = got - prior_tau - want
        np.testing.assert_allclose(diff - diff[0], 0.0, atol=1e-9)   # equal up to a constant


def test_pooling_models_refuse_covariates(bcg):
    with pytest.raises(NotImplementedError, match="covariates"):
        pooling_model(bcg, "complete_pooling")


# ----------------------------------------------------------------------------- NUTS vs exact
@pytest.mark.parametrize("form", ["marginal", "noncentered"])
def test_nuts_agrees_with_the_exact_posterior(bcg, fits, form):
    """Every beta, mu, intercept, tau and theta_i within 4 MCSE of the exact mean (two
    covariates, BCG); the fit's default target_accept with covariates leaves 0 divergences."""
    idata = fits[form]
    exact = hm.exact_posterior(bcg, hm.Priors.from_attrs(idata.posterior.attrs))
    post = group(idata, "posterior")
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert post.attrs["target_accept"] == (0.9 if form == "marginal" else 0.99)
    mcse = az.mcse(post[["mu", "beta", "intercept", "tau", "theta"]], method="mean")
    for name in ("mu", "beta", "intercept", "tau", "theta"):
        got = post[name].mean(("chain", "draw")).values
        want = exact.mean[name].values
        tol = 4 * mcse[name].values + 1e-6 * np.abs(want)
        assert np.all(np.abs(got - want) <= tol), (name, got, want, tol)
    # the sds too, loosely (their MC error is about sd / sqrt(2 ESS))
    for name in ("beta", "tau"):
        ess = az.ess(post[[name]])[name].values
        sd = post[name].std(("chain", "draw")).values
        assert np.all(np.abs(sd - exact.sd[name].values) <= 4 * sd / np.sqrt(2 * ess))


def test_exact_posterior_labels_and_eb_limit(bcg):
    ex = hm.exact_posterior(bcg)
    assert ex.has_covariates
    assert list(ex.mean["beta"]["covariate"].values) == ["ablat", "year"]
    rows = ex.summary().index.tolist()
    assert rows[:4] == ["mu", "beta[ablat]", "beta[year]", "intercept"]
    # intercept = mu - xbar' beta exactly, in mean; and its draws agree with the formula
    xbar = bcg.covariate_means
    np.testing.assert_allclose(float(ex.mean["intercept"]),
                               float(ex.mean["mu"]) - xbar @ ex.mean["beta"].values,
                               rtol=1e-10)
    draws = ex.sample(500, 2, seed=3).posterior
    np.testing.assert_allclose(draws["intercept"].values,
                               draws["mu"].values - draws["beta"].values @ xbar, rtol=1e-12)
    # quantiles of a normal-mixture margin bracket the mean and match the draws roughly
    q = ex.quantile([0.025, 0.975])
    assert np.all(q["beta"].isel(quantile=0) < ex.mean["beta"])
    # flat priors on (mu, beta) and a wide uniform on tau: the posterior of the slopes sits
    # on the REML estimates (it averages beta_hat(tau) over tau: within a fraction of a sd)
    flat = hm.exact_posterior(bcg, hm.Priors(mu="flat", beta_sd=1e6, tau="uniform",
                                             tau_scale=50.0))
    reml = hm.meta_analysis(bcg)
    gap = np.abs(flat.mean["beta"].values - reml.coefficients["estimate"].to_numpy()[1:])
    assert np.all(gap < 0.1 * flat.sd["beta"].values)
    # ... and is wider than REML's standard errors, which plug in one tau (13 trials)
    assert np.all(flat.sd["beta"].values > reml.coefficients["se"].to_numpy()[1:])


def test_scale_equivariance(bcg_ablat):
    """y -> c y with se -> c se: beta and tau scale by c (the default priors scale too)."""
    ex1 = hm.exact_posterior(bcg_ablat)
    for c in (0.01, 1e4):
        d = hm.HierData.from_estimates(c * bcg_ablat.means, c * bcg_ablat.se,
                                       groups=bcg_ablat.groups, covariates=bcg_ablat.covariates)
        ex = hm.exact_posterior(d)
        for name in ("mu", "beta", "intercept", "tau"):
            np.testing.assert_allclose(ex.mean[name].values, c * ex1.mean[name].values,
                                       rtol=1e-6)


# ----------------------------------------------------------------------------- what a fit carries
def test_fit_carries_the_covariates(bcg, fits, tmp_path):
    idata = fits["marginal"]
    assert idata.constant_data["x"].dims == ("group", "covariate")
    np.testing.assert_array_equal(idata.constant_data["x"].values, bcg.x)
    path = tmp_path / "fit.nc"
    hm.save(idata, path)
    back = data_from_idata(hm.load(path))
    assert back.covariate_names == ("ablat", "year")
    np.testing.assert_array_equal(back.x, bcg.x)
    # the slopes are the same on raw and centred covariates: intercept = mu - xbar' beta
    post = group(idata, "posterior")
    np.testing.assert_allclose(post["intercept"].values,
                               post["mu"].values - post["beta"].values @ bcg.covariate_means,
                               rtol=1e-10, atol=1e-12)


def test_exact_theta_draws_of_the_marginal_form(bcg, fits):
    """theta | mu, beta, tau, y: mean w y + (1 - w) (mu + (x - xbar)' beta) per draw."""
    post = group(fits["marginal"], "posterior")
    m = post["mu"].values[..., None] + post["beta"].values @ bcg.centered_covariates.T
    w = post["tau"].values[..., None] ** 2 / (post["tau"].values[..., None] ** 2 + bcg.se**2)
    mean = w * bcg.means + (1 - w) * m
    z = (post["theta"].values - mean) / np.sqrt(w * bcg.se**2)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.std() - 1) < 0.02


def test_integrated_log_likelihood_uses_the_regression(bcg, fits):
    idata = fits["noncentered"]
    post = group(idata, "posterior")
    m = post["mu"].values[..., None] + post["beta"].values @ bcg.centered_covariates.T
    want = stats.norm.logpdf(bcg.means, m, np.sqrt(post["tau"].values[..., None] ** 2
                                                   + bcg.se**2))
    np.testing.assert_allclose(integrated_log_likelihood(idata).values, want, rtol=1e-10)


def test_posterior_predictive_mixed_draws_follow_the_regression(bcg_ablat):
    idata = hm.fit(bcg_ablat, seed=2, posterior_predictive=True, **FAST)
    pp = group(idata, "posterior_predictive")
    assert {"y", "y_mixed", "theta_new"} <= set(pp.data_vars)
    post = group(idata, "posterior")
    m = post["mu"] + hm.shrinkage.covariate_offset(post, bcg_ablat)
    # E[y_mixed_i] = E[mu + (x_i - xbar)' beta]: the groups' regression line, not mu
    resid = (pp["y_mixed"] - m).mean(("chain", "draw")).values
    sd = np.sqrt(float((post["tau"] ** 2).mean()) + bcg_ablat.se**2)
    assert np.all(np.abs(resid) < 5 * sd / np.sqrt(4000))
    prior = hm.prior_predictive(bcg_ablat, draws=200, seed=1)
    assert {"beta", "intercept"} <= set(prior.prior.data_vars)


def test_compare_with_covariates(bcg, fits):
    t = hm.compare(fits["marginal"])
    reml = hm.meta_analysis(bcg)
    np.testing.assert_allclose(t["eb"].to_numpy(), reml.theta.to_numpy(), rtol=1e-10)
    assert {"ablat", "year", "eb_fitted", "fitted_mean", "exact"} <= set(t.columns)
    assert "complete_pooling" not in t.columns      # an intercept-only quantity
    assert np.all(np.abs(t["mean"] - t["exact"]) <= 4 * t["mcse_mean"] + 1e-9)
    text = hm.summarize(t)
    assert "regression line" in text and "grand mean" not in text
    with pytest.raises(ValueError, match="meta-regression form"):
        hm.compare(fits["marginal"], eb_method="sd_of_means")


def test_compare_refuses_other_covariates(bcg, bcg_ablat, fits):
    with pytest.raises(ValueError, match="other covariates"):
        hm.compare(fits["marginal"], data=bcg_ablat)


def test_conflict_check_uses_the_regression(bcg):
    """A prior on the slope far from the data is flagged; the default is not."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", hm.exceptions.PriorDataConflictWarning)
        hm.fit(bcg, seed=4, **FAST)
    bad = hm.Priors(mu_mean=5.0, mu_sd=0.05)
    with pytest.warns(hm.exceptions.PriorDataConflictWarning, match="mu"):
        hm.fit(bcg, priors=bad, seed=4, **FAST)


def test_dataframe_rows_with_covariates():
    """Raw rows with a group-level covariate column fit the regression on the group means
    with sigma estimated."""
    rng = np.random.default_rng(5)
    x = np.linspace(-1, 1, 12)
    theta = 10_000 + 30 * x + rng.normal(0, 5, 12)
    rows = pd.DataFrame({"g": np.repeat(np.arange(12), 6), "x": np.repeat(x, 6)})
    rows["y"] = rng.normal(theta[rows["g"]], 20.0)
    d = hm.HierData.from_dataframe(rows, value="y", group="g", covariates=["x"])
    idata = hm.fit(d, seed=1, **FAST)
    post = group(idata, "posterior")
    assert "sigma" in post and "beta" in post
    b = post["beta"].sel(covariate="x")
    assert abs(float(b.mean()) - 30) < 4 * float(b.std()) + 5


def test_compare_population_with_covariates(bcg, fits):
    t = hm.compare_population(fits["noncentered"])
    assert t.index.tolist() == ["mu", "beta[ablat]", "beta[year]", "intercept", "tau"]
    reml = hm.meta_analysis(bcg)
    np.testing.assert_allclose(t.loc[["beta[ablat]", "beta[year]"], "eb"],
                               reml.coefficients["estimate"].to_numpy()[1:], rtol=1e-10)
    np.testing.assert_allclose(t.at["intercept", "eb"],
                               reml.coefficients.at["intercept", "estimate"], rtol=1e-10)
    np.testing.assert_allclose(t.at["intercept", "eb_sd"],
                               reml.coefficients.at["intercept", "se"], rtol=1e-8)
    np.testing.assert_allclose(t.at["tau", "eb"], reml.heterogeneity["tau"], rtol=1e-10)
    assert np.all(np.abs(t["mean"] - t["exact"]) <= 4 * t["mcse_mean"] + 1e-9)


def test_tau_estimates_and_plot_tau_with_covariates(bcg_ablat):
    """The residual tau_hat of the meta-regression per method (metafor: REML tau^2 0.0764
    with latitude), and plot_tau of a covariate fit draws them beside the exact density."""
    t = hm.tau_estimates(bcg_ablat)
    assert t.index.tolist() == ["reml", "ml", "dl", "pm", "he", "sj", "hs"]
    assert hm.tau_estimates(bcg_ablat, ["ee"]).at["ee", "tau"] == 0.0
    assert abs(t.at["reml", "tau"] ** 2 - 0.0764) <= 0.5e-4 + 1e-5
    with pytest.raises(ValueError, match="methods"):
        hm.tau_estimates(bcg_ablat, ["sd_of_means"])
    idata = hm.fit(bcg_ablat, seed=3, **FAST)
    fig = hm.plots.plot_tau(idata)
    assert fig.axes
    fig = hm.plots.plot_tau(hm.exact_posterior(bcg_ablat))
    assert fig.axes


def test_reused_model_labels_the_new_covariates(bcg_ablat):
    """Same-shaped data with another covariate reuse the compiled model; the result carries
    the new names (and values) -- never the first fit's."""
    year = hm.datasets.bcg_trials()["year"].to_numpy()
    with pytest.raises(ValueError, match="ambiguous"):       # labels 1..13, index 0..12
        bcg_ablat.with_covariates(pd.DataFrame({"year": year}))
    other = bcg_ablat.with_covariates(
        pd.DataFrame({"year": year}, index=list(bcg_ablat.groups)))
    first = hm.fit(bcg_ablat, seed=1, draws=100, tune=100, chains=1, progressbar=False,
                   check=False)
    second = hm.fit(other, seed=1, draws=100, tune=100, chains=1, progressbar=False,
                    check=False)
    assert list(group(first, "posterior")["covariate"].values) == ["ablat"]
    assert list(group(second, "posterior")["covariate"].values) == ["year"]
    assert list(second.constant_data["covariate"].values) == ["year"]
    np.testing.assert_array_equal(second.constant_data["x"].values[:, 0], other.x[:, 0])


# ----------------------------------------------------------------------------- units of x
@pytest.mark.parametrize(("a", "b"), [(1.0, 1e12), (1e9, 0.0), (1e-12, 0.0), (-3.0, 7.0)],
                         ids=["offset-1e12", "scale-1e9", "scale-1e-12", "affine"])
def test_covariate_fits_are_invariant_to_affine_changes(bcg_ablat, a, b):
    """x -> a x + b: the slope scales by 1 / a, the raw-scale intercept moves to
    c0 - c1 b / a, and nothing else changes (REML, the exact posterior, the priors).  The
    tolerance of the 1e12 offset is float64's: values near 1e12 are stored to 1.2e-4, i.e.
    1e-5 of ablat's sd (12.9), so the centred covariate itself differs by that much."""
    rtol = 1e-4 if b else 1e-7
    moved = hm.HierData.from_estimates(
        bcg_ablat.means, bcg_ablat.se, groups=bcg_ablat.groups,
        covariates=pd.DataFrame({"ablat": a * bcg_ablat.x[:, 0] + b}, index=bcg_ablat.groups))
    base, new = hm.meta_analysis(bcg_ablat), hm.meta_analysis(moved)
    c0, c1 = base.coefficients["estimate"]
    np.testing.assert_allclose(new.coefficients["estimate"], [c0 - c1 * b / a, c1 / a],
                               rtol=rtol)
    np.testing.assert_allclose(new.coefficients["se"].iloc[1], base.coefficients["se"].iloc[1]
                               / abs(a), rtol=rtol)
    for key in ("tau2", "tau2_ci_low", "tau2_ci_high", "QE", "I2", "QM", "QM_p", "R2"):
        np.testing.assert_allclose(new.heterogeneity[key], base.heterogeneity[key],
                                   rtol=rtol, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(new.theta, base.theta, rtol=rtol)
    ex0, ex1 = hm.exact_posterior(bcg_ablat), hm.exact_posterior(moved)
    for name, scale in (("mu", 1.0), ("tau", 1.0), ("theta", 1.0), ("beta", 1 / a)):
        np.testing.assert_allclose(ex1.mean[name].values, scale * ex0.mean[name].values,
                                   rtol=rtol, err_msg=name)
        np.testing.assert_allclose(ex1.sd[name].values, abs(scale) * ex0.sd[name].values,
                                   rtol=rtol, err_msg=name)
    np.testing.assert_allclose(ex1.mean["intercept"].values,
                               ex0.mean["intercept"].values - ex0.mean["beta"].values * b / a,
                               rtol=rtol)
    p0, p1 = hm.Priors().resolve(bcg_ablat), hm.Priors().resolve(moved)
    np.testing.assert_allclose(p1.beta_sd, np.asarray(p0.beta_sd) / abs(a), rtol=rtol)


def test_nearly_collinear_covariates_are_refused_before_sampling(bcg_ablat):
    """Columns equal up to 1e-9 of their spread: a ValueError naming both, from HierData
    and from the core (never numpy's LinAlgError, never a fit)."""
    x = bcg_ablat.x[:, 0]
    near = x + 1e-9 * np.std(x) * np.random.default_rng(1).standard_normal(x.size)
    with pytest.raises(ValueError, match=r"`covariates` columns \['ablat', 'near'\] are "
                                         "collinear"):
        bcg_ablat.with_covariates(pd.DataFrame({"ablat": x, "near": near},
                                               index=bcg_ablat.groups))
    with pytest.raises(ValueError, match=r"columns \[1, 2\] .* are collinear"):
        hm.core.meta_regression(bcg_ablat.means, bcg_ablat.se**2,
                                hm.core.design_matrix(x.size, np.column_stack([x, near])))


def test_predict_of_an_intercept_only_model_refuses_covariates(bcg_ablat):
    plain = hm.meta_analysis(hm.HierData.from_estimates(bcg_ablat.means, bcg_ablat.se))
    with pytest.raises(ValueError, match="`covariates`: this meta-analysis has no covariates"):
        plain.predict({"ablat": [10.0]})
    assert plain.predict().shape == (1, 6)
