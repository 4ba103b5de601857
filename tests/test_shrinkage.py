"""shrinkage: the seed's code as oracle, pooling limits, tau estimators against their
textbook formulas, empirical Bayes, Rao-Blackwellisation and the exact posterior."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import integrate, optimize, special

from hiermodel import HierData, Priors, eight_schools, eight_schools_summary
from hiermodel import shrinkage as sh

BDA3 = Priors(mu="flat", tau="uniform", tau_scale=1000)
CLASSIC = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)  # the PyMC example's fixed priors


# --------------------------------------------------------------------------- the seed
def hierarchical_estimates(observed_means, sample_sizes, sigma=15.0):
    """
    Compute no pooling, complete pooling, and partial pooling estimates.

    Parameters
    ----------
    observed_means : array
        Group sample means
    sample_sizes : array
        Sample size for each group
    sigma : float
        Known within-group standard deviation

    Returns
    -------
    dict with estimates for each pooling strategy
    """
    n_groups = len(observed_means)

    # No pooling: use observed means directly
    no_pool = observed_means.copy()

    # Complete pooling: grand mean
    complete_pool = np.full(n_groups, np.mean(observed_means))

    # Partial pooling: shrink toward grand mean
    tau_est = np.std(observed_means)  # Empirical estimate
    grand_mean = np.mean(observed_means)

    weights = sample_sizes / (sample_sizes + sigma**2 / tau_est**2)
    partial_pool = weights * observed_means + (1 - weights) * grand_mean

    return {
        'no_pooling': no_pool,
        'complete_pooling': complete_pool,
        'partial_pooling': partial_pool,
        'weights': weights
    }


def _seed_arrays():
    d = eight_schools_summary()
    return np.array(d.means), np.array(d.n), 15.0


def test_seed_estimates_match_the_seed_code():
    means, n, sigma = _seed_arrays()
    ref = hierarchical_estimates(means, n, sigma)
    got = sh.sd_of_means_estimates(means, n, sigma)
    for key, val in ref.items():
        np.testing.assert_allclose(getattr(got, key), val, rtol=0, atol=1e-12, err_msg=key)
    assert got.tau == np.std(means) and got.grand_mean == np.mean(means)
    # sigma as a per-group array (HierData.sigma) gives the same
    d = eight_schools_summary()
    again = sh.sd_of_means_estimates(d.means, d.n, d.sigma)
    np.testing.assert_allclose(again.partial_pooling, ref["partial_pooling"], rtol=0, atol=1e-12)


def test_seed_table_4_3_does_not_follow_from_its_code():
    got = sh.sd_of_means_estimates(*_seed_arrays())
    assert got.tau == pytest.approx(9.844597, abs=1e-6)
    a, b, f, g = (got.partial_pooling[i] for i in (0, 1, 5, 6))
    np.testing.assert_allclose([a, b, g, f], [26.90, 8.11, 15.44, 1.01], atol=6e-3)
    # the table prints A 19.2, B 8.5, G 12.1, F 2.8: not what the code gives
    assert abs(a - 19.2) > 7 and abs(g - 12.1) > 3


def test_seed_estimates_equal_means_is_complete_pooling_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sh.sd_of_means_estimates(np.full(5, 3.25), [4, 9, 2, 7, 5], 2.0)
    assert got.tau == 0.0
    np.testing.assert_array_equal(got.weights, 0.0)
    np.testing.assert_array_equal(got.partial_pooling, 3.25)
    assert np.isfinite(got.partial_pooling).all()


def test_seed_estimates_batched():
    rng = np.random.default_rng(3)
    means = rng.normal(0, 4, (6, 5))
    means[2] = 1.5
    n = rng.integers(2, 30, (6, 5))
    got = sh.sd_of_means_estimates(means, n, 3.0)
    for b in range(6):
        one = sh.sd_of_means_estimates(means[b], n[b], 3.0)
        for key in one._fields:
            np.testing.assert_allclose(getattr(got, key)[b], getattr(one, key), rtol=1e-14,
                                       atol=1e-14, err_msg=key)


# --------------------------------------------------------------------------- pooling
def test_weights_are_the_seeds_in_se_form_with_exact_limits():
    d = eight_schools_summary()
    for tau in (0.5, 5.0, 40.0):
        seed_w = d.n / (d.n + 15.0**2 / tau**2)
        np.testing.assert_allclose(sh.shrinkage_weights(d.se, tau), seed_w, rtol=1e-14)
    np.testing.assert_array_equal(sh.shrinkage_weights(d.se, 0.0), 0.0)
    np.testing.assert_array_equal(sh.shrinkage_weights(d.se, np.inf), 1.0)


def test_limits_tau_to_infinity_is_no_pooling_and_tau_to_zero_complete_pooling():
    d = eight_schools()
    mu = 7.3
    np.testing.assert_array_equal(sh.partial_pooling(d.means, d.se, mu, np.inf),
                                  sh.no_pooling(d.means))
    np.testing.assert_array_equal(sh.partial_pooling(d.means, d.se, mu, 0.0), mu)
    big = sh.partial_pooling(d.means, d.se, mu, 1e8)
    np.testing.assert_allclose(big, d.means, rtol=0, atol=1e-10)
    small = sh.partial_pooling(d.means, d.se, mu, 1e-8)
    np.testing.assert_allclose(small, mu, rtol=0, atol=1e-12)
    # complete pooling is the tau=0 limit with mu = the weighted grand mean
    cw = sh.complete_pooling(d.means, d.se, weighted=True)
    np.testing.assert_allclose(
        sh.partial_pooling(d.means, d.se, sh.grand_mean(d.means, d.se), 0.0), cw, rtol=1e-15)


def test_partial_pooling_lies_between_ybar_and_mu_property():
    rng = np.random.default_rng(20261125)
    n_sets, g = 2000, 7
    means = rng.normal(0, rng.uniform(0.1, 50, (n_sets, 1)), (n_sets, g))
    se = rng.uniform(0.01, 30, (n_sets, g))
    mu = rng.normal(0, 20, n_sets)
    tau = np.where(rng.random(n_sets) < 0.1, 0.0, rng.lognormal(0, 2, n_sets))
    est = sh.partial_pooling(means, se, mu, tau)
    lo = np.minimum(means, mu[:, None])
    hi = np.maximum(means, mu[:, None])
    eps = 1e-12 * (np.abs(means) + np.abs(mu[:, None]))
    assert np.all(est >= lo - eps) and np.all(est <= hi + eps)
    # more heterogeneity, less shrinkage: |est - mu| grows with tau
    est2 = sh.partial_pooling(means, se, mu, 2 * tau)
    assert np.all(np.abs(est2 - mu[:, None]) >= np.abs(est - mu[:, None]) - eps)


def test_complete_pooling_weighted_and_unweighted():
    d = eight_schools()
    np.testing.assert_array_equal(sh.complete_pooling(d.means), np.full(8, 8.75))
    p = 1 / d.se**2
    np.testing.assert_allclose(sh.complete_pooling(d.means, d.se, weighted=True),
                               np.full(8, np.sum(p * d.means) / p.sum()), rtol=1e-15)
    # se given but weighted=False: the seed's unweighted mean
    np.testing.assert_array_equal(sh.complete_pooling(d.means, d.se, weighted=False), 8.75)
    assert sh.grand_mean(d.means, d.se) == pytest.approx(7.6856167, abs=1e-7)
    with pytest.raises(ValueError, match="`se` is required"):
        sh.grand_mean(d.means, weighted=True)


# --------------------------------------------------------------------------- tau oracles
def _mu(y, v, t2):
    w = 1 / (v + t2)
    return np.sum(w * y) / np.sum(w)


def dl_oracle(y, se):
    """DerSimonian & Laird (1986), closed form."""
    w = 1 / se**2
    mu_fe = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - mu_fe) ** 2)
    return np.sqrt(max(0.0, (q - (len(y) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w))))


def pm_oracle(y, se):
    """Paule & Mandel (1982): the root of the generalized Q(tau^2) = G - 1, by brentq."""
    v = se**2

    def q(t2):
        return np.sum((y - _mu(y, v, t2)) ** 2 / (v + t2)) - (len(y) - 1)

    if q(0.0) <= 0:
        return 0.0
    hi = 1.0
    while q(hi) > 0:
        hi *= 2
    return np.sqrt(optimize.brentq(q, 0.0, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps))


def _nll(tau, y, v, reml):
    """Minus the (restricted) profile log-likelihood in tau, in extended precision."""
    y, v = np.asarray(y, np.longdouble), np.asarray(v, np.longdouble)
    s2 = v + np.longdouble(tau) ** 2
    w = 1 / s2
    mu = np.sum(w * y) / np.sum(w)
    out = 0.5 * np.sum(np.log(s2)) + 0.5 * np.sum(w * (y - mu) ** 2)
    return out + 0.5 * np.log(np.sum(w)) if reml else out


def ml_oracle(y, se, reml):
    """Brute force: bounded minimize_scalar of the (restricted) log-likelihood in tau.

    Brent's method only locates a minimum to ~sqrt(eps) ~ 1.5e-8 relative (the objective is
    flat there), so a second bounded search in a +-1e-6 relative window, on the objective
    evaluated in extended precision and measured from its value at the first answer,
    polishes it to ~1e-10.
    """
    v = se**2
    upper = 10 * (np.ptp(y) + se.max())
    first = optimize.minimize_scalar(lambda t: float(_nll(t, y, v, reml)), bounds=(0, upper),
                                     method="bounded", options={"xatol": 1e-13,
                                                                "maxiter": 5000}).x
    if first < 1e-6:
        return first
    f0 = _nll(first, y, v, reml)
    res = optimize.minimize_scalar(
        lambda d: float((_nll(first * (1 + 1e-6 * d), y, v, reml) - f0) * 1e12),
        bounds=(-1, 1), method="bounded", options={"xatol": 1e-6})
    return first * (1 + 1e-6 * res.x)


ORACLES = {
    "dl": dl_oracle, "pm": pm_oracle,
    "ml": lambda y, se: ml_oracle(y, se, False), "reml": lambda y, se: ml_oracle(y, se, True),
}


def _datasets():
    sets = {"eight_schools": eight_schools(), "seed": eight_schools_summary()}
    out = {k: (np.array(d.means), np.array(d.se)) for k, d in sets.items()}
    rng = np.random.default_rng(5)
    for i, (g, tau) in enumerate([(3, 2.0), (5, 0.0), (5, 4.0), (10, 1.0), (12, 6.0),
                                  (25, 0.5), (40, 3.0)]):
        se = rng.uniform(0.5, 4.0, g)
        out[f"random{i}_G{g}"] = (5 + tau * rng.standard_normal(g) + se * rng.standard_normal(g),
                                  se)
    return out


DATASETS = _datasets()


@pytest.mark.parametrize("method", ["dl", "pm", "ml", "reml"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_tau_estimators_match_their_textbook_formulas(method, name):
    y, se = DATASETS[name]
    got = sh.estimate_tau(y, se, method)
    ref = ORACLES[method](y, se)
    t2, r2 = float(got.tau) ** 2, ref**2
    assert abs(t2 - r2) <= max(1e-8 * r2, 1e-8), (float(got.tau), ref)
    assert float(got.mu) == pytest.approx(_mu(y, se**2, t2), rel=1e-13, abs=1e-13)
    if method in ("ml", "reml"):        # never a worse (restricted) likelihood than brute force
        assert _nll(got.tau, y, se**2, method == "reml") <= _nll(ref, y, se**2,
                                                                 method == "reml") + 1e-12


def test_every_estimator_on_eight_schools_and_the_seed_data():
    d = eight_schools()
    mu_fe = float(sh.grand_mean(d.means, d.se))
    for method in ("dl", "pm", "ml", "reml"):
        est = sh.estimate_tau(d.means, d.se, method)
        assert est.tau == 0.0 and est.mu == pytest.approx(mu_fe, rel=1e-14)
    seed = sh.estimate_tau(d.means, d.se, "sd_of_means")
    assert seed.tau == np.std(d.means) and seed.mu == np.mean(d.means)
    s = eight_schools_summary()
    taus = {m: float(sh.estimate_tau(s.means, s.se, m).tau) for m in sh.TAU_METHODS}
    expected = {"dl": 11.5919, "pm": 9.9339, "ml": 9.4704, "reml": 10.1766, "sd_of_means": 9.8446}
    for m, val in expected.items():
        assert taus[m] == pytest.approx(val, abs=1e-4), m


@pytest.mark.parametrize("method", sh.TAU_METHODS)
def test_tau_is_zero_not_nan_below_the_noise(method):
    se = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    cases = [np.full(5, 2.0), 2.0 + 1e-9 * np.arange(5), 2.0 + 0.01 * np.sin(np.arange(5))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in cases:
            est = sh.estimate_tau(y, se, method)
            assert np.isfinite(est.tau) and np.isfinite(est.mu)
            if method != "sd_of_means":
                assert est.tau == 0.0
            eb = sh.eb_core(y, se, method)
            assert np.isfinite(eb.theta).all() and np.isfinite(eb.sd_adj).all()


@pytest.mark.parametrize("method", sh.TAU_METHODS)
def test_batched_call_equals_loop(method):
    rng = np.random.default_rng(11)
    n_sets, g = 60, 6
    se = rng.uniform(0.5, 3, (n_sets, g))
    tau = rng.choice([0.0, 0.3, 1.0, 4.0], n_sets)[:, None]
    y = rng.normal(0, 2, (n_sets, 1)) + tau * rng.standard_normal((n_sets, g)) \
        + se * rng.standard_normal((n_sets, g))
    y[7] = 1.0                                        # one dataset with identical means
    batch = sh.estimate_tau(y, se, method)
    loop = [sh.estimate_tau(y[i], se[i], method) for i in range(n_sets)]
    for field in ("tau", "mu", "mu_var"):
        np.testing.assert_allclose(getattr(batch, field), [getattr(e, field) for e in loop],
                                   rtol=1e-10, atol=1e-12, err_msg=field)
    eb = sh.eb_core(y.reshape(3, 20, g), se.reshape(3, 20, g), method)
    assert eb.theta.shape == (3, 20, g) and eb.tau.shape == (3, 20)
    one = sh.eb_core(y[25], se[25], method)
    np.testing.assert_allclose(eb.theta[1, 5], one.theta, rtol=1e-10, atol=1e-12)
    # a common se for all datasets broadcasts
    common = sh.estimate_tau(y, se[0], method)
    np.testing.assert_allclose(common.tau[3], sh.estimate_tau(y[3], se[0], method).tau,
                               rtol=1e-10, atol=1e-12)


def test_reml_on_many_groups_matches_brute_force():
    rng = np.random.default_rng(2)
    se = rng.uniform(0.5, 3, 3000)
    y = 1 + 2 * rng.standard_normal(3000) + se * rng.standard_normal(3000)
    got = float(sh.estimate_tau(y, se, "reml").tau)
    assert got**2 == pytest.approx(ml_oracle(y, se, True) ** 2, rel=1e-8)


# --------------------------------------------------------------------------- empirical Bayes
def test_eb_core_formulas():
    d = eight_schools_summary()
    eb = sh.eb_core(d.means, d.se, "reml")
    t2, v = float(eb.tau) ** 2, d.se**2
    w = 1 / (v + t2)
    assert eb.mu_var == pytest.approx(1 / w.sum(), rel=1e-14)
    np.testing.assert_allclose(eb.weights, (1 / v) / (1 / v + 1 / t2), rtol=1e-14)
    np.testing.assert_allclose(eb.theta, (d.means / v + eb.mu / t2) / (1 / v + 1 / t2),
                               rtol=1e-13)
    vi = 1 / (1 / v + 1 / t2)
    np.testing.assert_allclose(eb.sd_cond, np.sqrt(vi), rtol=1e-14)
    np.testing.assert_allclose(eb.sd_adj, np.sqrt(vi + (1 - eb.weights) ** 2 / w.sum()),
                               rtol=1e-14)


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
    assert list(tab.columns) == ["no_pooling", "complete_pooling", "complete_pooling_weighted",
                                 "partial_pooling", "weight", "sd_of_means_partial_pooling"]
    seed = sh.sd_of_means_estimates(d.means, d.n, 15.0)
    np.testing.assert_allclose(tab["sd_of_means_partial_pooling"], seed.partial_pooling, rtol=1e-13)
    np.testing.assert_allclose(tab["complete_pooling"], seed.complete_pooling, rtol=0)
    np.testing.assert_allclose(tab["partial_pooling"], sh.eb_core(d.means, d.se, "pm").theta)


# --------------------------------------------------------------------------- conditional
def test_conditional_posterior_broadcasts_over_draws():
    d = eight_schools()
    rng = np.random.default_rng(0)
    mu, tau = rng.normal(5, 3, (4, 50)), np.abs(rng.normal(0, 5, (4, 50)))
    mean, var = sh.conditional_posterior(d.means, d.se, mu, tau)
    assert mean.shape == var.shape == (4, 50, 8)
    c, k = 2, 17
    prec = 1 / d.se**2 + 1 / tau[c, k] ** 2
    np.testing.assert_allclose(mean[c, k], (d.means / d.se**2 + mu[c, k] / tau[c, k] ** 2)
                               / prec, rtol=1e-13)
    np.testing.assert_allclose(var[c, k], 1 / prec, rtol=1e-13)


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
    expected = sh.partial_pooling(data.means, se, post["mu"].values[1, 3],
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


def test_exact_posterior_rejects_unknown_sigma_and_bad_grid():
    rng = np.random.default_rng(1)
    g = np.repeat(["a", "b", "c"], 4)
    raw = HierData.from_observations(rng.normal(size=12), g)
    with pytest.raises(ValueError, match="known sampling sds"):
        sh.exact_posterior(raw)
    with pytest.raises(ValueError, match="`grid`"):
        sh.exact_posterior(eight_schools(), grid=10)
    with pytest.raises(TypeError, match="`priors`"):
        sh.exact_posterior(eight_schools(), priors={"tau": "uniform"})
    with pytest.raises(ValueError, match="`draws`"):
        sh.exact_posterior(eight_schools()).sample(draws=0)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call", [
    lambda y, s: sh.estimate_tau(y, s, "bayes"),
    lambda y, s: sh.eb_core(y, s, "REMLL"),
    lambda y, s: sh.empirical_bayes(eight_schools(), method="mom"),
    lambda y, s: sh.pooling_table(eight_schools(), method=3),
])
def test_unknown_method_lists_the_valid_ones(call):
    d = eight_schools()
    with pytest.raises(ValueError, match=r"Requested method .* must be one of \{'dl', 'pm'"):
        call(d.means, d.se)


def test_negative_se_and_mismatched_shapes_name_the_argument():
    y = np.arange(5.0)
    bad_se = np.array([1.0, -1.0, 1.0, 1.0, 1.0])
    for call in (sh.estimate_tau, sh.eb_core):
        with pytest.raises(ValueError, match="`se` must be > 0"):
            call(y, bad_se)
        with pytest.raises(ValueError, match="Mismatched shapes: `means` has shape \\(5,\\)"):
            call(y, np.ones(4))
    with pytest.raises(ValueError, match="`se`"):
        sh.shrinkage_weights(bad_se, 1.0)
    with pytest.raises(ValueError, match="`tau` must be >= 0"):
        sh.partial_pooling(y, np.ones(5), 0.0, -1.0)
    with pytest.raises(ValueError, match="`mu`"):
        sh.conditional_posterior(np.ones((3, 5)), np.ones(5), np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="`n` must be > 0"):
        sh.sd_of_means_estimates(y, [1, 2, 0, 4, 5], 1.0)
    with pytest.raises(ValueError, match="`sigma`"):
        sh.sd_of_means_estimates(y, [1, 2, 3, 4, 5], -1.0)
    with pytest.raises(ValueError, match="`means` contains NaN"):
        sh.estimate_tau([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        sh.estimate_tau([1.0], [1.0])
    with pytest.raises(TypeError, match="`data` must be a HierData"):
        sh.empirical_bayes({"y": y})
