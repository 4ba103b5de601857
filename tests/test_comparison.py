"""Comparison layer: full Bayes vs EB vs the exact posterior -- real NUTS, small draws.

Tolerances come from Monte Carlo standard errors (ArviZ) or from closed forms.  Fits:
``es_fit`` (conftest, marginal) and, compiled once per process, the theta-sampling form.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hiermodel as hm
from hiermodel import HierData, Priors, eight_schools, eight_schools_summary, fit, stack
from hiermodel.comparison import (
    compare,
    compare_fits,
    compare_population,
    data_from_idata,
    fit_priors,
    posterior_weights,
    summarize,
)
from hiermodel.core import estimate_tau
from hiermodel.exceptions import HierModelWarning, SamplingWarning
from hiermodel.shrinkage import exact_posterior, rao_blackwell, tau_estimates

SAMPLE = ("chain", "draw")
Z = 4.0  # tolerance in Monte Carlo standard errors


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def es_table(es_fit):
    return compare(es_fit)


@pytest.fixture(scope="module")
def es_exact_draws():
    """Exact independent draws of Rubin's Eight Schools posterior (default priors)."""
    return exact_posterior(eight_schools()).sample(draws=1000, chains=4, seed=6)


@pytest.fixture(scope="module")
def es_fit(stored_fits):
    """The default fit of Rubin's Eight Schools (4 x 1000, stored: tests/data)."""
    return stored_fits["eight_schools_marginal"]


@pytest.fixture(scope="module")
def theta_fits(stored_fits):
    """Centered (target_accept 0.8: it diverges) and non-centered fits of Rubin's Eight
    Schools (2 x 500 each, stored)."""
    return {p: stored_fits[f"eight_schools_{p}"] for p in ("centered", "noncentered")}


@pytest.fixture(scope="module")
def summary_fit(stored_fits):
    """Marginal fit of eight_schools_summary, the illustrative summary form (4 x 500, stored)."""
    return stored_fits["summary_marginal"]


def _between(x, a, b, tol=0.0):
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.all((x >= lo - tol) & (x <= hi + tol))


# ----------------------------------------------------------------------------- compare
def test_compare_table_columns_and_labelled_form(es_fit, es_table):
    t = es_table
    assert list(t.index) == list("ABCDEFGH") and t.index.name == "group"
    for col in ("se", "no_pooling", "complete_pooling", "sd_of_means", "eb", "eb_weight", "mean",
                "sd", "eti_low", "eti_high", "mcse_mean", "rb_mean", "rb_mcse", "shrinkage",
                "exact", "exact_sd"):
        assert col in t, col
    assert "n" not in t  # Rubin's data: estimates and se only
    d = eight_schools()
    np.testing.assert_array_equal(t["no_pooling"], d.means)
    np.testing.assert_array_equal(t["se"], d.se)
    # complete pooling is the precision-weighted mean (metafor's EE estimate 7.6856), not
    # the unweighted mean 8.75; that one is where sd_of_means shrinks toward
    np.testing.assert_allclose(t["complete_pooling"], 7.6856167, atol=1e-7)
    assert "complete_pooling_weighted" not in t
    assert t.attrs["sd_of_means_mu"] == pytest.approx(8.75)
    ds = t.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds["mean"].dims == ("group",)
    assert list(ds["group"].values) == list("ABCDEFGH")
    post = es_fit.posterior
    np.testing.assert_allclose(t["mean"], post["theta"].mean(SAMPLE), rtol=1e-12)
    np.testing.assert_allclose(t["sd"], post["theta"].std(SAMPLE, ddof=1), rtol=1e-12)
    assert (t["eti_low"] < t["mean"]).all() and (t["mean"] < t["eti_high"]).all()
    a = t.attrs
    assert a["eb_method"] == "reml" and a["parameterization"] == "marginal"
    assert a["draws"] == 4000 and a["interval"] == "eti" and a["prob"] == 0.95
    assert "hdi_prob" not in a
    assert a["mu_mean"] == pytest.approx(float(post["mu"].mean()))
    # a narrower interval is nested in the wider one
    t50 = compare(es_fit, prob=0.5)
    assert (t50["eti_low"] > t["eti_low"]).all() and (t50["eti_high"] < t["eti_high"]).all()


def test_eb_and_sd_of_means_columns_are_the_closed_forms(summary_fit):
    """EB: w_i = tau^2/(tau^2 + se_i^2) with the REML tau_hat; 'sd_of_means': the sd-of-means
    plug-in mu_hat = mean(ybar), tau_hat = sd(ybar)."""
    d = eight_schools_summary()
    t = compare(summary_fit, eb_method="reml")
    est = estimate_tau(d.means, d.se, "reml")
    assert est.tau > 0  # well-measured groups: EB does not pool completely
    w = est.tau**2 / (est.tau**2 + d.se**2)
    np.testing.assert_allclose(t["eb_weight"], w, rtol=1e-12)
    np.testing.assert_allclose(t["eb"], w * d.means + (1 - w) * est.mu, rtol=1e-12)
    # the sd-of-means plug-in, written out with np.std / np.mean
    tau_est, grand = np.std(d.means), np.mean(d.means)
    weights = d.n / (d.n + 15.0**2 / tau_est**2)
    np.testing.assert_allclose(t["sd_of_means"], weights * d.means + (1 - weights) * grand,
                               rtol=1e-12)
    np.testing.assert_array_equal(t["n"], d.n)
    # another estimator changes only the EB columns
    t_dl = compare(summary_fit, eb_method="dl")
    est_dl = estimate_tau(d.means, d.se, "dl")
    assert t_dl.attrs["eb_tau"] == pytest.approx(float(est_dl.tau))
    pd.testing.assert_series_equal(t_dl["mean"], t["mean"])


def test_rao_blackwell_equals_plain_mean_with_smaller_error(es_fit, es_table):
    d, t = eight_schools(), es_table
    post = es_fit.posterior
    np.testing.assert_allclose(t["rb_mean"], rao_blackwell(es_fit, d), rtol=1e-12)
    # by hand: mean over draws of w_i(tau_s) ybar_i + (1 - w_i(tau_s)) mu_s
    tau = post["tau"].values[..., None]
    w = tau**2 / (tau**2 + d.se**2)
    cond = w * d.means + (1 - w) * post["mu"].values[..., None]
    np.testing.assert_allclose(t["rb_mean"], cond.mean((0, 1)), rtol=1e-10)
    # the same quantity: |plain - RB| within Z MCSEs of their per-draw difference
    diff = xr.Dataset({"d": (("chain", "draw", "group"), post["theta"].values - cond)})
    mcse_diff = az.mcse(diff, method="mean")["d"].values
    assert np.all(np.abs(t["mean"] - t["rb_mean"]) <= Z * mcse_diff)
    # ... with smaller Monte Carlo error, for every group
    ratio = t["rb_mcse"] / t["mcse_mean"]
    assert (ratio < 1).all(), ratio
    np.testing.assert_allclose(t["shrinkage"], 1 - w.mean((0, 1)), rtol=1e-12)


def test_full_bayes_agrees_with_exact_posterior(es_fit, es_table):
    t = es_table
    z_plain = np.abs(t["mean"] - t["exact"]) / t["mcse_mean"]
    z_rb = np.abs(t["rb_mean"] - t["exact"]) / t["rb_mcse"]
    assert z_plain.max() < Z, z_plain
    assert z_rb.max() < Z, z_rb
    # the posterior sd too: MCSE(sd) ~ MCSE of the mean of (theta - mean)^2, / (2 sd)
    # (the delta method; ArviZ 0.23's own method="sd" fails under numba + numpy 2)
    theta = es_fit.posterior["theta"]
    sq = ((theta - theta.mean(SAMPLE)) ** 2).rename("sq").to_dataset()
    mcse_sd = az.mcse(sq, method="mean")["sq"].values / (2 * t["sd"].to_numpy())
    assert np.all(np.abs(t["sd"] - t["exact_sd"]) < Z * mcse_sd)


@pytest.mark.parametrize("which", ["rubin", "summary"])
def test_partial_estimates_lie_between_ybar_and_pooled_mean(which, es_fit, es_table, summary_fit):
    t = es_table if which == "rubin" else compare(summary_fit)
    a, y = t.attrs, t["no_pooling"].to_numpy()
    assert _between(t["eb"], y, a["eb_mu"])
    assert _between(t["sd_of_means"], y, a["sd_of_means_mu"])
    ex = exact_posterior(data_from_idata(es_fit if which == "rubin" else summary_fit),
                         fit_priors(es_fit if which == "rubin" else summary_fit))
    # E[theta_i | y] = E[w_i ybar_i + (1 - w_i) mu | y] need not lie exactly between ybar_i
    # and E[mu | y] (w_i and mu are correlated a posteriori): a group whose ybar_i is near
    # E[mu | y] may land just outside, so allow 5% of a posterior sd
    slack = 0.05 * t["exact_sd"].to_numpy()
    assert _between(t["exact"], y, float(ex.mean["mu"]), tol=slack)
    assert _between(t["mean"], y, a["mu_mean"], tol=Z * t["mcse_mean"].to_numpy() + slack)
    assert _between(t["rb_mean"], y, a["mu_mean"], tol=Z * t["rb_mcse"].to_numpy() + slack)
    assert ((t["shrinkage"] > 0) & (t["shrinkage"] < 1)).all()
    assert ((t["eb_weight"] >= 0) & (t["eb_weight"] <= 1)).all()
    # noisier groups shrink more: E[1 - w_i | y] increases with se_i
    assert (np.diff(t["shrinkage"].to_numpy()[np.argsort(t["se"].to_numpy())]) >= 0).all()


def test_compare_exact_draws(es_exact_draws):
    d = eight_schools()
    with pytest.raises(ValueError, match="data="):
        compare(es_exact_draws)
    t = compare(es_exact_draws, d)
    assert t.attrs["parameterization"] == "exact"
    z = np.abs(t["rb_mean"] - t["exact"]) / t["rb_mcse"]
    assert z.max() < Z, z
    # the recorded priors are used for the exact column
    hn = Priors(tau="halfnormal", tau_scale=3.0)
    draws = exact_posterior(d, hn).sample(draws=200, chains=2, seed=1)
    assert fit_priors(draws) == hn.resolve(d)  # recorded with the data-scaled mu prior
    assert fit_priors(draws, data=d) == hn.resolve(d)
    np.testing.assert_allclose(compare(draws, d)["exact"],
                               exact_posterior(d, hn).mean["theta"], rtol=1e-12)


def test_compare_population(es_fit):
    d = eight_schools()
    pop = compare_population(es_fit)
    assert list(pop.index) == ["mu", "tau"] and pop.index.name == "parameter"
    reml = estimate_tau(d.means, d.se, "reml")
    assert pop.at["tau", "eb"] == pytest.approx(float(reml.tau))
    assert pop.at["mu", "eb"] == pytest.approx(float(reml.mu))
    assert pop.at["mu", "eb_sd"] == pytest.approx(np.sqrt(1 / np.sum(1 / (d.se**2 + reml.tau**2))))
    assert pop.at["tau", "sd_of_means"] == pytest.approx(np.std(d.means))
    assert pop.at["mu", "sd_of_means"] == pytest.approx(np.mean(d.means))
    post = es_fit.posterior
    for p in ("mu", "tau"):
        assert pop.at[p, "mean"] == pytest.approx(float(post[p].mean()))
        assert abs(pop.at[p, "mean"] - pop.at[p, "exact"]) < Z * pop.at[p, "mcse_mean"]
        assert pop.at[p, "eti_low"] < pop.at[p, "mean"] < pop.at[p, "eti_high"]
    assert pop.at["tau", "eti_low"] >= 0


def test_compare_fits_long_table(es_fit, theta_fits, es_exact_draws):
    fits = {"marginal": es_fit, **theta_fits, "exact": es_exact_draws}
    long = compare_fits(fits)
    assert list(long.columns[:3]) == ["method", "variable", "group"]
    assert len(long) == len(fits) * (2 + 8)
    assert list(long["method"].unique()) == list(fits)
    theta = long[long["variable"] == "theta"].set_index(["method", "group"])
    for name, idata in fits.items():
        np.testing.assert_allclose(theta.loc[name, "mean"],
                                   idata.posterior["theta"].mean(SAMPLE), rtol=1e-12)
        divs = int(idata.sample_stats["diverging"].sum()) if name != "exact" else 0
        assert (long.loc[long["method"] == name, "divergences"] == divs).all()
    # divergence-free fits agree with the exact posterior within Z MCSE, theta, mu and tau
    for name in ("marginal", "noncentered", "exact"):
        rows = long[long["method"] == name]
        assert rows["z_exact"].abs().max() < Z, (name, rows[["variable", "group", "z_exact"]])
    # the table is tidy: one (method, variable, group) per row
    assert not long.set_index(["method", "variable", "group"]).index.duplicated().any()
    # the theta-only form and a single fit
    only = compare_fits(es_fit, population=False)
    assert len(only) == 8 and set(only["method"]) == {"marginal"}


def test_unknown_sigma_has_the_exact_column_from_the_tau_sigma_grid(rows_unknown_sigma):
    d = rows_unknown_sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        idata = fit(d, draws=200, tune=200, chains=2, seed=1)
    t = compare(idata)
    assert list(t["n"]) == [5, 6, 7, 8]
    exact = exact_posterior(d, fit_priors(idata, None, d))
    assert not exact.sigma_known
    np.testing.assert_array_equal(t["exact"], exact.mean["theta"].values)
    np.testing.assert_array_equal(t["exact_sd"], exact.sd["theta"].values)
    # per-draw se_i = sigma / sqrt(n_i) in the shrinkage factor
    post = idata.posterior
    s2 = post["sigma"].values[..., None] ** 2 / d.n
    t2 = post["tau"].values[..., None] ** 2
    np.testing.assert_allclose(t["shrinkage"], 1 - (t2 / (t2 + s2)).mean((0, 1)), rtol=1e-10)
    pop = compare_population(idata)
    assert list(pop.index) == ["mu", "tau", "sigma"]
    assert pop.at["sigma", "eb"] == pytest.approx(d.sigma_hat)
    assert pop.at["sigma", "exact"] == float(exact.mean["sigma"])
    long = compare_fits({"a": idata}).set_index(["variable", "group"])
    assert long.at[("sigma", None), "exact"] == float(exact.mean["sigma"])
    np.testing.assert_array_equal(long.loc["theta", "exact"], exact.mean["theta"].values)


def test_compare_with_groups_of_one_row_and_sigma_unknown(radon_like):
    """Radon-like rows (85 groups, 13 of one row): compare and compare_population carry the
    exact (tau, sigma) grid's means (their agreement with NUTS is tested with the exact
    posterior), and the prior-data check, on the plug-in se_i, raises no false alarm."""
    from hiermodel.diagnostics import prior_data_conflict

    data, idata = radon_like
    t = compare(idata, data)
    assert (t["n"] == 1).sum() == 13
    exact = exact_posterior(data)
    np.testing.assert_array_equal(t["exact"], exact.mean["theta"].values)
    pop = compare_population(idata, data)
    assert pop.at["sigma", "exact"] == float(exact.mean["sigma"])
    assert prior_data_conflict(idata, data) == []


def test_data_round_trip_and_tau_estimates(es_fit, summary_fit):
    assert data_from_idata(es_fit) == eight_schools()
    assert data_from_idata(summary_fit) == eight_schools_summary()
    est = tau_estimates(eight_schools())
    assert list(est.index) == ["dl", "pm", "ml", "reml", "he", "sj", "hs", "sd_of_means"]
    assert tau_estimates(eight_schools(), ["reml", "ee"]).at["ee", "tau"] == 0.0
    assert est.at["sd_of_means", "tau"] == pytest.approx(np.std(eight_schools().means))
    zero = ["dl", "pm", "ml", "reml", "he", "hs"]
    assert (est.loc[zero, "tau"] == 0).all()                    # Rubin: tau_hat = 0
    assert est.at["sj", "tau"] > 0                              # SJ is positive by design
    np.testing.assert_allclose(est.loc[zero, "mu"], 7.6856167, atol=1e-7)  # the EE estimate


# ----------------------------------------------------------------------------- group dim
def _rename_dim(idata, new="school"):
    """The same InferenceData with its group dimension called ``new`` (ArviZ's convention)."""
    return stack.rename_dims(idata, {"group": new})


def _arviz_like(idata, names):
    """Like ArviZ's centered_eight: posterior mu, tau, theta[school] only (no priors
    recorded), observed_data y[school], constant_data sigma[school] (the known sd of y)."""
    post = idata.posterior
    d = data_from_idata(idata)
    return stack.from_dict_kw(posterior={k: post[k].values for k in ("mu", "tau", "theta")},
        observed_data={"y": d.means}, constant_data={"sigma": d.se},
        coords={"school": names}, dims={"theta": ["school"], "y": ["school"],
                                        "sigma": ["school"]})


def test_compare_keeps_another_group_dim_name(es_fit, es_table):
    school = _rename_dim(es_fit)
    assert "group" not in school.posterior.dims
    t = compare(school)
    assert t.index.name == "school" and t.attrs["group_dim"] == "school"
    pd.testing.assert_frame_equal(t.rename_axis("group"), es_table, check_like=False)
    assert t.to_xarray()["mean"].dims == ("school",)
    assert data_from_idata(school) == eight_schools()
    pd.testing.assert_frame_equal(compare_population(school), compare_population(es_fit))
    w = posterior_weights(school, eight_schools())
    assert w.dims == ("chain", "draw", "school") and list(w["school"].values) == list("ABCDEFGH")
    long = compare_fits({"a": school, "b": school}, population=False)
    assert "school" in long.columns and "group" not in long.columns
    assert long.attrs["group_dim"] == "school" and len(long) == 16
    # the tables agree with those of the 'group'-named fit
    ref = compare_fits({"a": es_fit}, population=False)
    np.testing.assert_allclose(long.loc[long["method"] == "a", "mean"], ref["mean"])


def test_compare_arviz_centered_eight_like_posterior(es_fit, es_table):
    """mu, tau, theta[school] with y[school] and sigma[school] and no recorded priors."""
    names = ["Choate", "Deerfield", "Phillips Andover", "Phillips Exeter", "Hotchkiss",
             "Lawrenceville", "St. Paul's", "Mt. Hermon"]
    ad = _arviz_like(es_fit, names)
    d = data_from_idata(ad)
    assert d.source == "estimates" and d.groups == tuple(names)
    np.testing.assert_array_equal(d.se, eight_schools().se)
    with pytest.warns(HierModelWarning, match="records no priors"):
        t = compare(ad)
    assert t.index.name == "school" and list(t.index) == names
    for col in ("no_pooling", "se", "eb", "sd_of_means", "mean", "sd", "eti_low", "eti_high",
                "rb_mean", "shrinkage"):
        np.testing.assert_allclose(t[col].to_numpy(), es_table[col].to_numpy(), rtol=1e-12,
                                   err_msg=col)
    # no priors recorded: the exact column assumes the data-scaled default
    np.testing.assert_allclose(t["exact"], exact_posterior(d, Priors()).mean["theta"],
                               rtol=1e-12)
    # with the fit's priors passed explicitly, the exact column is the fit's, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error", HierModelWarning)
        t2 = compare(ad, priors=fit_priors(es_fit))
        pop = compare_population(ad, priors=fit_priors(es_fit))
    np.testing.assert_allclose(t2["exact"], es_table["exact"], rtol=1e-12)
    assert list(pop.index) == ["mu", "tau"]
    # labels must be the posterior's
    with pytest.raises(ValueError, match="groups"):
        compare(ad, eight_schools())


def test_compare_arviz_centered_eight():
    """ArviZ's own centered_eight (school dim, observed 'obs', no sampling sds stored)."""
    try:
        ce = az.load_arviz_data("centered_eight")
    except Exception as err:  # pragma: no cover - not bundled / offline
        pytest.skip(f"centered_eight not available: {err}")
    stores_se = ("constant_data" in stack.groups(ce)
                 and "sigma" in stack.group(ce, "constant_data"))   # ArviZ 1.x's example does
    if stores_se:   # ArviZ 1.x's example stores no priors either: the default is assumed
        with pytest.warns(HierModelWarning, match="records no priors"):
            assert list(compare(ce).index) == list(ce.posterior["school"].values)
    else:
        with pytest.raises(ValueError, match="data="):
            compare(ce)  # its constant_data has no sigma: the se_i are unknown
    names = list(ce.posterior["school"].values)
    d = HierData.from_estimates(eight_schools().means, eight_schools().se, groups=names)
    with pytest.warns(HierModelWarning, match="records no priors"):
        t = compare(ce, d, priors=None)
    assert t.index.name == "school" and list(t.index) == names
    np.testing.assert_allclose(t["mean"], ce.posterior["theta"].mean(SAMPLE))
    # its stored observations are checked against `data`
    bad = HierData.from_estimates(eight_schools().means + 1, eight_schools().se, groups=names)
    with pytest.raises(ValueError, match="does not match"):
        compare(ce, bad)


# ----------------------------------------------------------------------------- wrong data
def test_data_that_differs_from_the_fit_raises(es_fit, summary_fit):
    # same labels A-H, other numbers: never mixed silently
    assert eight_schools_summary().groups == eight_schools().groups
    with pytest.raises(ValueError, match=r"`data` does not match the data stored in `idata`"
                                         r".*omit `data=`"):
        compare(es_fit, eight_schools_summary())
    with pytest.raises(ValueError, match="does not match"):
        compare_population(summary_fit, eight_schools())
    with pytest.raises(ValueError, match=r"`fits\['summary'\]` was fitted to other data than "
                                         r"the data of `fits\['rubin'\]`"):
        compare_fits({"rubin": es_fit, "summary": summary_fit})
    with pytest.raises(ValueError, match=r"`data` does not match.*`fits\['rubin'\]`"):
        compare_fits({"rubin": es_fit}, eight_schools_summary())
    # the same means with other standard errors
    d = eight_schools()
    other_se = HierData.from_estimates(d.means, d.se * 2, groups=d.groups)
    with pytest.raises(ValueError, match="se_i"):
        compare(es_fit, other_se)
    # the data it was fitted to is accepted, in any equivalent form
    pd.testing.assert_frame_equal(compare(es_fit, eight_schools()), compare(es_fit))
    s = eight_schools_summary()
    as_estimates = HierData.from_estimates(s.means, s.se, groups=s.groups)
    np.testing.assert_allclose(compare(summary_fit, as_estimates)["eb"], compare(summary_fit)["eb"])


# ----------------------------------------------------------------------------- intervals
def test_default_interval_is_95_percent_central(es_fit, es_table):
    """compare's default interval (the package option) is the central 95% one: its ends are
    the 2.5% and 97.5% quantiles of the pooled draws."""
    t = es_table
    assert {"eti_low", "eti_high"} <= set(t.columns)
    assert not {"hdi_low", "hdi_high"} & set(t.columns)
    draws = es_fit.posterior["theta"].values.reshape(-1, 8)
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(t["eti_low"], lo, rtol=1e-12)
    np.testing.assert_allclose(t["eti_high"], hi, rtol=1e-12)
    assert t.attrs["interval"] == "eti" and t.attrs["prob"] == 0.95
    pd.testing.assert_frame_equal(t, compare(es_fit, interval="eti", prob=0.95))
    # the options set the default, here and in compare_population / compare_fits
    with hm.option_context(interval="hdi", prob=0.9):
        pd.testing.assert_frame_equal(compare(es_fit), compare(es_fit, interval="hdi", prob=0.9))
        assert compare_population(es_fit).attrs["interval"] == "hdi"
        assert compare_fits(es_fit).attrs["prob"] == 0.9
    pop = compare_population(es_fit)
    tau = es_fit.posterior["tau"].values.ravel()
    assert pop.attrs["interval"] == "eti" and pop.attrs["prob"] == 0.95
    assert pop.at["tau", "eti_low"] == pytest.approx(np.quantile(tau, 0.025), rel=1e-12)
    assert pop.at["tau", "eti_high"] == pytest.approx(np.quantile(tau, 0.975), rel=1e-12)
    long = compare_fits(es_fit)
    assert "eti_low" in long and "hdi_low" not in long and long.attrs["prob"] == 0.95
    np.testing.assert_allclose(long[long["variable"] == "theta"]["eti_high"], hi, rtol=1e-12)


def test_hdi_is_one_argument_away(es_fit, es_table):
    """interval="hdi" gives ArviZ's HDI, which differs from the central interval on a skewed
    quantity (tau, bounded at 0); the other columns stay as they are."""
    t = compare(es_fit, interval="hdi")
    assert t.attrs["interval"] == "hdi" and t.attrs["prob"] == 0.95
    hdi = np.array([_hdi(x, 0.95) for x in es_fit.posterior["theta"].values.reshape(-1, 8).T])
    np.testing.assert_allclose(t["hdi_low"], hdi[:, 0], rtol=1e-12)
    np.testing.assert_allclose(t["hdi_high"], hdi[:, 1], rtol=1e-12)
    pd.testing.assert_frame_equal(t.drop(columns=["hdi_low", "hdi_high"]),
                                  es_table.drop(columns=["eti_low", "eti_high"]),
                                  check_like=False)
    pop_hdi = compare_population(es_fit, interval="hdi")
    pop_eti = compare_population(es_fit)
    tau_hdi = _hdi(es_fit.posterior["tau"].values.ravel(), 0.95)
    assert pop_hdi.at["tau", "hdi_low"] == pytest.approx(tau_hdi[0], rel=1e-12)
    assert pop_hdi.at["tau", "hdi_high"] == pytest.approx(tau_hdi[1], rel=1e-12)
    # tau's posterior is right-skewed: its HDI sits lower than its central interval
    assert pop_hdi.at["tau", "hdi_low"] < pop_eti.at["tau", "eti_low"]
    assert pop_hdi.at["tau", "hdi_high"] < pop_eti.at["tau", "eti_high"]
    assert "hdi_low" in compare_fits(es_fit, interval="hdi")


def _hdi(x, prob):
    """ArviZ's HDI of 1-D draws, written out: the narrowest window holding
    ``floor(prob * n)`` + 1 of the sorted draws (``arviz.hdi``'s definition)."""
    x = np.sort(x)
    k = int(np.floor(prob * x.size))
    i = int(np.argmin(x[k:] - x[: x.size - k]))
    return x[i], x[i + k]


def test_hand_written_hdi_is_arvizs():
    """The reference above is what ArviZ computes (both stacks: through hiermodel.stack)."""
    x = np.random.default_rng(3).lognormal(0.0, 1.0, 4000)   # skewed: HDI != central
    ours = stack.hdi(xr.Dataset({"x": (("chain", "draw"), x.reshape(1, -1))}), 0.9)["x"]
    assert (float(ours.sel(bound="lower")), float(ours.sel(bound="upper"))) == _hdi(x, 0.9)
    assert _hdi(x, 0.9)[1] < np.quantile(x, 0.95)


@pytest.mark.parametrize("call", [compare, compare_population, compare_fits])
def test_hdi_prob_is_gone(es_fit, call):
    with pytest.raises(TypeError, match="hdi_prob"):
        call(es_fit, hdi_prob=0.9)


def test_equal_tailed_intervals(es_fit, es_table):
    lo = np.quantile(es_fit.posterior["theta"].values.reshape(-1, 8), 0.025, axis=0)
    pop = compare_population(es_fit, interval="eti", prob=0.95)
    tau = es_fit.posterior["tau"].values.ravel()
    assert pop.at["tau", "eti_low"] == pytest.approx(np.quantile(tau, 0.025))
    assert pop.at["tau", "eti_high"] == pytest.approx(np.quantile(tau, 0.975))
    long = compare_fits(es_fit, interval="eti", prob=0.95)
    assert "eti_low" in long and "hdi_low" not in long and long.attrs["interval"] == "eti"
    theta = long[long["variable"] == "theta"]
    np.testing.assert_allclose(theta["eti_low"], lo, rtol=1e-12)
    for call, exc, match in [
        (lambda: compare(es_fit, interval="ci"), ValueError, "interval.*'eti', 'hdi'"),
        (lambda: compare(es_fit, interval="eti", prob=1.0), ValueError, "prob"),
        (lambda: compare_fits(es_fit, interval="eti", prob="95%"), TypeError, "prob"),
    ]:
        with pytest.raises(exc, match=match):
            call()


def test_compare_on_a_transformed_scale(es_fit):
    """transform="exp": point estimates through exp, the posterior from the exp'd draws
    (medians and intervals of exp(theta_i): an HDI is recomputed, not mapped), no means."""
    base = compare(es_fit, interval="eti", prob=0.95)
    t = compare(es_fit, interval="eti", prob=0.95, transform="exp")
    assert list(t.columns) == ["se", "no_pooling", "complete_pooling", "sd_of_means", "eb",
                               "eb_weight",
                               "shrinkage", "median", "eti_low", "eti_high", "exact_median"]
    assert t.attrs["transform"] == "exp" and t.attrs["scale"].startswith("ratio scale")
    for col in ("no_pooling", "complete_pooling", "sd_of_means", "eb"):
        np.testing.assert_allclose(t[col], np.exp(base[col]), rtol=1e-14)
    for col in ("se", "eb_weight", "shrinkage"):
        np.testing.assert_array_equal(t[col], base[col])
    draws = np.exp(es_fit.posterior["theta"].values.reshape(-1, 8))
    np.testing.assert_allclose(t["median"], np.median(draws, axis=0), rtol=1e-12)
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
    np.testing.assert_allclose(t["eti_low"], lo, rtol=1e-12)
    np.testing.assert_allclose(t["eti_high"], hi, rtol=1e-12)
    ex = exact_posterior(eight_schools(), fit_priors(es_fit))
    np.testing.assert_allclose(t["exact_median"], np.exp(ex.quantile(0.5)["theta"]), rtol=1e-12)
    # a highest-density interval is that of the transformed draws, not exp of the old ends
    hdi = compare(es_fit, interval="hdi", transform="exp")
    ours = stack.hdi(xr.Dataset({"x": np.exp(es_fit.posterior["theta"])}), 0.95)["x"]
    np.testing.assert_allclose(hdi["hdi_low"], ours.sel(bound="lower"), rtol=1e-12)
    mapped = np.exp(compare(es_fit, interval="hdi")["hdi_low"])
    assert np.all(hdi["hdi_low"] < mapped)   # exp skews right: the HDI moves toward 0
    with pytest.raises(ValueError, match="`transform` must be one of 'identity', 'exp'"):
        compare(es_fit, transform="log")
    assert compare(es_fit, transform="identity").attrs["transform"] == "identity"


# ----------------------------------------------------------------------------- priors
def test_fit_priors_read_from_attrs(es_fit):
    rec = fit_priors(es_fit)
    assert rec == Priors.from_attrs(es_fit.posterior.attrs) and rec.is_resolved
    with warnings.catch_warnings():
        warnings.simplefilter("error", HierModelWarning)
        assert fit_priors(es_fit, data=eight_schools()) == rec
    other = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)
    with pytest.warns(HierModelWarning, match="exact posterior uses"):
        assert fit_priors(es_fit, other) == other
    # nothing recorded: the data-scaled default, resolved with the data when given
    bare = stack.from_dict_kw(posterior={k: es_fit.posterior[k].values for k in ("mu", "tau")})
    with pytest.warns(HierModelWarning, match="records no priors"):
        assert fit_priors(bare, data=eight_schools()) == Priors().resolve(eight_schools())


# ----------------------------------------------------------------------------- summarize
def test_summarize_names_who_moved_and_why(summary_fit, es_table):
    t = compare(summary_fit)
    text = summarize(t)
    move = (t["mean"] - t["no_pooling"]).abs()
    first = move.idxmax()
    assert f"Moved most: {first} " in text
    assert "grand mean" in text and "borrowing strength" in text
    assert "small n = 6" in text  # school G: n = 6, ybar = 18, the smallest and far out
    # no reference to a document users never see
    assert "table 4.3" not in text and "seed" not in text.lower()
    assert f"Moved least: {move.idxmin()} " in summarize(t, top=2)
    rubin = summarize(es_table)
    assert "tau = 0" in rubin and "pools completely" in rubin
    assert rubin.count(";") >= 2 and "table 4.3" not in rubin and "seed" not in rubin.lower()


def test_summarize_names_the_values_by_the_given_symbol(summary_fit):
    t = compare(summary_fit)
    assert "ybar_i" in summarize(t)
    as_estimates = summarize(t, symbol="y")
    assert "ybar" not in as_estimates and "y_i" in as_estimates and "sd(y) = " in as_estimates
    with pytest.raises(ValueError, match="symbol"):
        summarize(t, symbol="mean")


@pytest.mark.parametrize("method", ["dl", "pm", "ml", "reml"])
def test_summarize_sd_of_means_sentence_follows_the_numbers(method, summary_fit, es_table):
    """'shrinks more' / 'less' comes from comparing the sd-of-means tau_hat with EB's."""
    t = compare(summary_fit, eb_method=method)
    sd_of_means_tau, eb_tau = t.attrs["sd_of_means_tau"], t.attrs["eb_tau"]
    line = next(x for x in summarize(t).splitlines() if x.startswith("The sd-of-means plug-in"))
    word = "more" if sd_of_means_tau < eb_tau else "less"
    assert f"shrinks {word} than EB" in line, line
    assert ("below" if sd_of_means_tau < eb_tau else "above") in line
    assert "under-shrinks" not in line
    se = t["se"].to_numpy()
    b_plugin = np.mean(se**2 / (sd_of_means_tau**2 + se**2))
    b_eb = np.mean(se**2 / (eb_tau**2 + se**2))
    assert (b_plugin > b_eb) == (word == "more")
    if method == "reml":  # eight_schools_summary: sd(ybar) 9.84 < REML 10.18, shrinks MORE
        assert sd_of_means_tau == pytest.approx(9.8446, abs=1e-3)
        assert eb_tau == pytest.approx(10.18, abs=0.01)
        assert "(9.84 vs 10.2)" in line and "shrinks more" in line
    # Rubin's data: REML tau_hat = 0 < sd(ybar), so the sd-of-means plug-in shrinks LESS
    rubin = next(x for x in summarize(es_table).splitlines()
                 if x.startswith("The sd-of-means plug-in"))
    assert "above the REML tau_hat" in rubin and "shrinks less than EB" in rubin


def test_summarize_sentences_are_computed(summary_fit):
    t = compare(summary_fit)
    text = summarize(t)
    assert "every group's estimate" in text  # all posterior means lie toward mu here
    # move one group's posterior mean away from the grand mean: the sentence follows
    t2 = t.copy()
    t2.attrs = dict(t.attrs)
    mu = t.attrs["mu_mean"]
    g = (t["no_pooling"] - mu).abs().idxmin()
    t2.at[g, "mean"] = t.at[g, "no_pooling"] + np.sign(t.at[g, "no_pooling"] - mu) * 0.5
    text2 = summarize(t2)
    assert "every group's" not in text2
    assert "7 of 8 groups' estimates" in text2 and f"; {g} did not move toward it" in text2


# ----------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument(es_fit, es_table):
    cases = [
        (lambda: compare("idata"), TypeError, "idata"),
        (lambda: compare(es_fit, eb_method="bayes"), ValueError, "eb_method.*'reml'"),
        (lambda: compare(es_fit, prob=1.5), ValueError, "prob"),
        (lambda: compare(es_fit, prob="wide"), TypeError, "prob"),
        (lambda: compare(es_fit, interval="HPD"), ValueError, "interval"),
        (lambda: compare(es_fit, data=eight_schools_summary().to_dataframe()), TypeError, "data"),
        (lambda: compare(es_fit, data=HierData.from_estimates([1.0, 2.0], [1.0, 1.0])),
         ValueError, "groups"),
        (lambda: compare(stack.from_dict_kw(posterior={"mu": np.zeros((1, 5))})), ValueError,
         "tau"),
        (lambda: compare(stack.from_dict_kw(posterior={
            "mu": np.zeros((1, 5)), "tau": np.ones((1, 5)), "theta": np.zeros((1, 5, 2, 3))})),
         ValueError, "one group dimension"),
        (lambda: compare_fits({}), ValueError, "fits"),
        (lambda: compare_fits([es_fit]), TypeError, "fits"),
        (lambda: compare_fits({"x": "y"}), TypeError, "fits\\['x'\\]"),
        (lambda: compare_fits({"a": es_fit}, population="yes"), TypeError, "population"),
        (lambda: summarize(es_table[["mean"]]), ValueError, "compare"),
        (lambda: summarize("table"), TypeError, "comparison"),
        (lambda: summarize(es_table, top=0), ValueError, "top"),
        (lambda: tau_estimates(eight_schools(), ["dl", "nope"]), ValueError, "methods"),
        (lambda: fit_priors(es_fit, priors="halfcauchy"), TypeError, "priors"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()
