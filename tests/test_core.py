"""hiermodel.core: the numpy core against the sd-of-means plug-in written out in plain numpy
(the oracle), pooling limits, the tau estimators against their textbook formulas, empirical
Bayes, the exact grid posterior's numerics, and the core's isolation from the labelled stack."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import hiermodel.core as hc
from hiermodel import eight_schools, eight_schools_summary
from hiermodel.core import tau_grid

ROOT = Path(__file__).parent.parent


# ------------------------------------------- the sd-of-means plug-in, written out (the oracle)
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


def _summary_arrays():
    d = eight_schools_summary()
    return np.array(d.means), np.array(d.n), 15.0


def test_sd_of_means_estimates_match_the_written_out_plug_in():
    means, n, sigma = _summary_arrays()
    ref = hierarchical_estimates(means, n, sigma)
    got = hc.sd_of_means_estimates(means, n, sigma)
    for key in ("no_pooling", "partial_pooling", "weights"):
        np.testing.assert_allclose(getattr(got, key), ref[key], rtol=0, atol=1e-12, err_msg=key)
    # what it shrinks toward is the unweighted mean, not complete pooling
    np.testing.assert_array_equal(np.full(8, got.unweighted_mean), ref["complete_pooling"])
    assert got.tau == np.std(means) and got.unweighted_mean == np.mean(means)
    # sigma as a per-group array (HierData.sigma) gives the same
    d = eight_schools_summary()
    again = hc.sd_of_means_estimates(d.means, d.n, d.sigma)
    np.testing.assert_allclose(again.partial_pooling, ref["partial_pooling"], rtol=0, atol=1e-12)


def test_sd_of_means_on_the_summary_form():
    got = hc.sd_of_means_estimates(*_summary_arrays())
    assert got.tau == pytest.approx(9.844597, abs=1e-6)
    a, b, f, g = (got.partial_pooling[i] for i in (0, 1, 5, 6))
    # the values sd_of_means_estimates' docstring quotes
    np.testing.assert_allclose([a, b, g, f], [26.90, 8.11, 15.44, 1.01], atol=6e-3)


def test_sd_of_means_equal_means_is_complete_pooling_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = hc.sd_of_means_estimates(np.full(5, 3.25), [4, 9, 2, 7, 5], 2.0)
    assert got.tau == 0.0
    np.testing.assert_array_equal(got.weights, 0.0)
    np.testing.assert_array_equal(got.partial_pooling, 3.25)
    assert np.isfinite(got.partial_pooling).all()


def test_sd_of_means_estimates_batched():
    rng = np.random.default_rng(3)
    means = rng.normal(0, 4, (6, 5))
    means[2] = 1.5
    n = rng.integers(2, 30, (6, 5))
    got = hc.sd_of_means_estimates(means, n, 3.0)
    for b in range(6):
        one = hc.sd_of_means_estimates(means[b], n[b], 3.0)
        for key in one._fields:
            np.testing.assert_allclose(getattr(got, key)[b], getattr(one, key), rtol=1e-14,
                                       atol=1e-14, err_msg=key)


# --------------------------------------------------------------------------- pooling
def test_weights_in_n_form_and_se_form_agree_with_exact_limits():
    d = eight_schools_summary()
    for tau in (0.5, 5.0, 40.0):
        n_form = d.n / (d.n + 15.0**2 / tau**2)
        np.testing.assert_allclose(hc.shrinkage_weights(d.se, tau), n_form, rtol=1e-14)
    np.testing.assert_array_equal(hc.shrinkage_weights(d.se, 0.0), 0.0)
    np.testing.assert_array_equal(hc.shrinkage_weights(d.se, np.inf), 1.0)


def test_limits_tau_to_infinity_is_no_pooling_and_tau_to_zero_complete_pooling():
    d = eight_schools()
    mu = 7.3
    np.testing.assert_array_equal(hc.partial_pooling(d.means, d.se, mu, np.inf),
                                  hc.no_pooling(d.means))
    np.testing.assert_array_equal(hc.partial_pooling(d.means, d.se, mu, 0.0), mu)
    big = hc.partial_pooling(d.means, d.se, mu, 1e8)
    np.testing.assert_allclose(big, d.means, rtol=0, atol=1e-10)
    small = hc.partial_pooling(d.means, d.se, mu, 1e-8)
    np.testing.assert_allclose(small, mu, rtol=0, atol=1e-12)
    # complete pooling is the tau=0 limit with mu = the weighted grand mean
    cw = hc.complete_pooling(d.means, d.se)
    np.testing.assert_allclose(
        hc.partial_pooling(d.means, d.se, hc.precision_weighted_mean(d.means, d.se), 0.0), cw,
        rtol=1e-15)


def test_partial_pooling_lies_between_ybar_and_mu_property():
    rng = np.random.default_rng(20261125)
    n_sets, g = 2000, 7
    means = rng.normal(0, rng.uniform(0.1, 50, (n_sets, 1)), (n_sets, g))
    se = rng.uniform(0.01, 30, (n_sets, g))
    mu = rng.normal(0, 20, n_sets)
    tau = np.where(rng.random(n_sets) < 0.1, 0.0, rng.lognormal(0, 2, n_sets))
    est = hc.partial_pooling(means, se, mu, tau)
    lo = np.minimum(means, mu[:, None])
    hi = np.maximum(means, mu[:, None])
    eps = 1e-12 * (np.abs(means) + np.abs(mu[:, None]))
    assert np.all(est >= lo - eps) and np.all(est <= hi + eps)
    # more heterogeneity, less shrinkage: |est - mu| grows with tau
    est2 = hc.partial_pooling(means, se, mu, 2 * tau)
    assert np.all(np.abs(est2 - mu[:, None]) >= np.abs(est - mu[:, None]) - eps)


def test_complete_pooling_is_the_precision_weighted_mean():
    d = eight_schools()
    # BDA3 section 5.5: the pooled estimate of Eight Schools is 7.7 (metafor's
    # rma(yi, vi, method="EE") prints 7.6856); the unweighted mean 8.75 is not it
    np.testing.assert_allclose(hc.complete_pooling(d.means, d.se), np.full(8, 7.6856167),
                               atol=1e-7)
    assert hc.precision_weighted_mean(d.means, d.se) == pytest.approx(7.6856167, abs=1e-7)
    # with a common sigma the weights are n_i: the mean of all rows
    s = eight_schools_summary()
    assert hc.precision_weighted_mean(s.means, s.se) == pytest.approx(
        np.sum(s.n * s.means) / np.sum(s.n), rel=1e-14)
    # batched: one mean per dataset
    y = np.stack([d.means, d.means + 1.0])
    np.testing.assert_allclose(hc.complete_pooling(y, d.se)[:, 0], [7.6856167, 8.6856167],
                               atol=1e-7)
    with pytest.raises(TypeError):
        hc.complete_pooling(d.means)                 # se is required


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
    sets = {"eight_schools": eight_schools(), "summary": eight_schools_summary()}
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
    got = hc.estimate_tau(y, se, method)
    ref = ORACLES[method](y, se)
    t2, r2 = float(got.tau) ** 2, ref**2
    assert abs(t2 - r2) <= max(1e-8 * r2, 1e-8), (float(got.tau), ref)
    assert float(got.mu) == pytest.approx(_mu(y, se**2, t2), rel=1e-13, abs=1e-13)
    if method in ("ml", "reml"):        # never a worse (restricted) likelihood than brute force
        assert _nll(got.tau, y, se**2, method == "reml") <= _nll(ref, y, se**2,
                                                                 method == "reml") + 1e-12


def test_every_estimator_on_eight_schools_and_the_summary_form():
    d = eight_schools()
    mu_fe = float(hc.precision_weighted_mean(d.means, d.se))
    for method in ("dl", "pm", "ml", "reml", "he", "hs", "ee"):
        est = hc.estimate_tau(d.means, d.se, method)
        assert est.tau == 0.0 and est.mu == pytest.approx(mu_fe, rel=1e-14)
    plug_in = hc.estimate_tau(d.means, d.se, "sd_of_means")
    assert plug_in.tau == np.std(d.means) and plug_in.mu == np.mean(d.means)
    s = eight_schools_summary()
    taus = {m: float(hc.estimate_tau(s.means, s.se, m).tau) for m in hc.TAU_METHODS}
    expected = {"dl": 11.5919, "pm": 9.9339, "ml": 9.4704, "reml": 10.1766, "sd_of_means": 9.8446}
    for m, val in expected.items():
        assert taus[m] == pytest.approx(val, abs=1e-4), m


@pytest.mark.parametrize("method", hc.TAU_METHODS)
def test_tau_is_zero_not_nan_below_the_noise(method):
    se = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    cases = [np.full(5, 2.0), 2.0 + 1e-9 * np.arange(5), 2.0 + 0.01 * np.sin(np.arange(5))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in cases:
            est = hc.estimate_tau(y, se, method)
            assert np.isfinite(est.tau) and np.isfinite(est.mu)
            if method not in ("sd_of_means", "sj"):   # SJ is > 0 unless the means are equal
                assert est.tau == 0.0
            eb = hc.eb_core(y, se, method)
            assert np.isfinite(eb.theta).all() and np.isfinite(eb.sd_adj).all()


@pytest.mark.parametrize("method", hc.TAU_METHODS)
def test_batched_call_equals_loop(method):
    rng = np.random.default_rng(11)
    n_sets, g = 60, 6
    se = rng.uniform(0.5, 3, (n_sets, g))
    tau = rng.choice([0.0, 0.3, 1.0, 4.0], n_sets)[:, None]
    y = rng.normal(0, 2, (n_sets, 1)) + tau * rng.standard_normal((n_sets, g)) \
        + se * rng.standard_normal((n_sets, g))
    y[7] = 1.0                                        # one dataset with identical means
    batch = hc.estimate_tau(y, se, method)
    loop = [hc.estimate_tau(y[i], se[i], method) for i in range(n_sets)]
    for field in ("tau", "mu", "mu_var"):
        np.testing.assert_allclose(getattr(batch, field), [getattr(e, field) for e in loop],
                                   rtol=1e-10, atol=1e-12, err_msg=field)
    eb = hc.eb_core(y.reshape(3, 20, g), se.reshape(3, 20, g), method)
    assert eb.theta.shape == (3, 20, g) and eb.tau.shape == (3, 20)
    one = hc.eb_core(y[25], se[25], method)
    np.testing.assert_allclose(eb.theta[1, 5], one.theta, rtol=1e-10, atol=1e-12)
    # a common se for all datasets broadcasts
    common = hc.estimate_tau(y, se[0], method)
    np.testing.assert_allclose(common.tau[3], hc.estimate_tau(y[3], se[0], method).tau,
                               rtol=1e-10, atol=1e-12)


def test_reml_on_many_groups_matches_brute_force():
    rng = np.random.default_rng(2)
    se = rng.uniform(0.5, 3, 3000)
    y = 1 + 2 * rng.standard_normal(3000) + se * rng.standard_normal(3000)
    got = float(hc.estimate_tau(y, se, "reml").tau)
    assert got**2 == pytest.approx(ml_oracle(y, se, True) ** 2, rel=1e-8)


# --------------------------------------------------------------------------- empirical Bayes
def test_eb_core_formulas():
    d = eight_schools_summary()
    eb = hc.eb_core(d.means, d.se, "reml")
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


# --------------------------------------------------------------------------- conditional
def test_conditional_posterior_broadcasts_over_draws():
    d = eight_schools()
    rng = np.random.default_rng(0)
    mu, tau = rng.normal(5, 3, (4, 50)), np.abs(rng.normal(0, 5, (4, 50)))
    mean, var = hc.conditional_posterior(d.means, d.se, mu, tau)
    assert mean.shape == var.shape == (4, 50, 8)
    c, k = 2, 17
    prec = 1 / d.se**2 + 1 / tau[c, k] ** 2
    np.testing.assert_allclose(mean[c, k], (d.means / d.se**2 + mu[c, k] / tau[c, k] ** 2)
                               / prec, rtol=1e-13)
    np.testing.assert_allclose(var[c, k], 1 / prec, rtol=1e-13)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call", [
    lambda y, s: hc.estimate_tau(y, s, "bayes"),
    lambda y, s: hc.eb_core(y, s, "REMLL"),
])
def test_unknown_method_lists_the_valid_ones(call):
    d = eight_schools()
    with pytest.raises(ValueError, match=r"Requested method .* must be one of \{'dl', 'pm'"):
        call(d.means, d.se)


def test_negative_se_and_mismatched_shapes_name_the_argument():
    y = np.arange(5.0)
    bad_se = np.array([1.0, -1.0, 1.0, 1.0, 1.0])
    for call in (hc.estimate_tau, hc.eb_core):
        with pytest.raises(ValueError, match="`se` must be > 0"):
            call(y, bad_se)
        with pytest.raises(ValueError, match="Mismatched shapes: `means` has shape \\(5,\\)"):
            call(y, np.ones(4))
    with pytest.raises(ValueError, match="`se`"):
        hc.shrinkage_weights(bad_se, 1.0)
    with pytest.raises(ValueError, match="`tau` must be >= 0"):
        hc.partial_pooling(y, np.ones(5), 0.0, -1.0)
    with pytest.raises(ValueError, match="`mu`"):
        hc.conditional_posterior(np.ones((3, 5)), np.ones(5), np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="`n` must be > 0"):
        hc.sd_of_means_estimates(y, [1, 2, 0, 4, 5], 1.0)
    with pytest.raises(ValueError, match="`sigma`"):
        hc.sd_of_means_estimates(y, [1, 2, 3, 4, 5], -1.0)
    with pytest.raises(ValueError, match="`means` contains NaN"):
        hc.estimate_tau([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        hc.estimate_tau([1.0], [1.0])
    with pytest.raises(ValueError, match="`rtol`"):
        hc.estimate_tau(y, np.ones(5), "reml", rtol=2.0)
    with pytest.raises(ValueError, match="`maxiter` must be a positive integer"):
        hc.estimate_tau(y, np.ones(5), "reml", maxiter=0)
    with pytest.raises(ValueError, match="1-D"):
        hc.restricted_loglik(np.ones((2, 5)), np.ones(5), 1.0)


# --------------------------------------------------------------------------- restricted loglik
def test_restricted_loglik_is_the_reml_objective():
    d = eight_schools_summary()
    y, se = np.array(d.means), np.array(d.se)
    taus = np.array([0.0, 1.0, 5.0, 10.0, 30.0])
    got = hc.restricted_loglik(y, se, taus)
    np.testing.assert_allclose(got, [-float(_nll(t, y, se**2, True)) for t in taus], rtol=1e-12)
    assert hc.restricted_loglik(y, se, taus.reshape(5, 1)).shape == (5, 1)
    reml = float(hc.estimate_tau(y, se, "reml").tau)
    fine = np.linspace(0.5 * reml, 1.5 * reml, 2001)
    assert abs(fine[np.argmax(hc.restricted_loglik(y, se, fine))] - reml) < 2 * (fine[1] - fine[0])


# --------------------------------------------------------------------------- exact grid posterior
def _core_posterior(**kw):
    d = eight_schools()
    args = dict(tau_logpdf=stats.halfnorm(scale=10.0).logpdf, mu_mean=2.0, mu_precision=0.01)
    args.update(kw)
    return d, hc.grid_posterior(d.means, d.se, **args)


def test_grid_posterior_moments_match_one_dimensional_quadrature():
    d, post = _core_posterior()
    y, v = np.array(d.means), np.array(d.se) ** 2
    assert post.weights.sum() == pytest.approx(1.0, abs=1e-14)
    total = integrate.quad(post.tau_pdf, 0, np.inf, limit=200, epsabs=1e-13)[0]
    assert total == pytest.approx(1.0, abs=1e-9)
    tau_mean = integrate.quad(lambda t: t * post.tau_pdf(t), 0, np.inf, limit=200)[0]

    def mu_hat(t):
        return tau_grid.marginal(np.array([t * t]), y, v, 2.0, 0.01).mu_hat[0]

    mu_mean = integrate.quad(lambda t: mu_hat(t) * post.tau_pdf(t), 0, np.inf, limit=200)[0]
    m = post.moments
    assert float(m["tau_mean"]) == pytest.approx(tau_mean, rel=1e-7)
    assert float(m["mu_mean"]) == pytest.approx(mu_mean, rel=1e-7)
    np.testing.assert_allclose(post.tau_pdf(post.tau_grid), post.tau_density, rtol=1e-9)
    # quantiles solve the mixture CDF; tau's the grid CDF
    qs = np.array([0.1, 0.5, 0.9])
    tau_q, x = post.quantiles(qs)
    assert x.shape == (1 + d.n_groups, 3)
    cdf = [np.sum(post.weights * special.ndtr((xv - post.mu_cond_mean)
                                              / np.sqrt(post.mu_cond_var))) for xv in x[0]]
    np.testing.assert_allclose(cdf, qs, atol=1e-10)
    tau_cdf = [integrate.quad(post.tau_pdf, 0, t, epsabs=1e-12)[0] for t in tau_q]
    np.testing.assert_allclose(tau_cdf, qs, atol=1e-6)


def test_grid_posterior_bounded_prior_and_draws():
    _, post = _core_posterior(tau_logpdf=stats.uniform(0.0, 20.0).logpdf, mu_precision=0.0,
                              tau_max=20.0)
    assert post.tau_grid[-1] <= 20.0
    assert integrate.quad(post.tau_pdf, 0, 20.0, limit=200)[0] == pytest.approx(1.0, abs=1e-8)
    a = post.draw(np.random.default_rng(3), 500)
    b = post.draw(np.random.default_rng(3), 500)
    for x, z in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, z)
    mu, tau, theta = a
    assert mu.shape == tau.shape == (500,) and theta.shape == (500, 8)
    assert (tau >= 0).all() and (tau <= 20.0).all()


def test_grid_posterior_rejects_bad_input():
    d = eight_schools()
    logpdf = stats.halfcauchy(scale=5.0).logpdf
    with pytest.raises(ValueError, match="flat prior on mu needs at least 2 groups"):
        hc.grid_posterior([1.0], [1.0], tau_logpdf=logpdf)
    with pytest.raises(ValueError, match="`points` must be an integer >= 101"):
        hc.grid_posterior(d.means, d.se, tau_logpdf=logpdf, points=50)
    with pytest.raises(TypeError, match="`tau_logpdf` must be callable"):
        hc.grid_posterior(d.means, d.se, tau_logpdf=5.0)
    with pytest.raises(ValueError, match="1-D"):
        hc.grid_posterior(np.ones((2, 8)), d.se, tau_logpdf=logpdf)
    with pytest.raises(ValueError, match="`mu_precision`"):
        hc.grid_posterior(d.means, d.se, tau_logpdf=logpdf, mu_precision=-1.0)


def test_predictive_quantiles_solve_the_mixture_cdf():
    rng = np.random.default_rng(8)
    mu, tau = rng.normal(0, 2, 300), rng.uniform(0, 3, 300)
    tau[:20] = 0.0                                   # point masses at mu_s
    qs = [0.025, 0.25, 0.5, 0.75, 0.975]
    x = hc.predictive_quantiles(mu, tau, qs)
    pos = tau > 0
    cdf = [np.mean(np.where(pos, special.ndtr((v - mu) / np.where(pos, tau, 1.0)), v >= mu))
           for v in x]
    np.testing.assert_allclose(cdf, qs, atol=1e-3)   # a point mass may sit on a quantile
    assert np.all(np.diff(x) > 0)
    np.testing.assert_allclose(hc.predictive_quantiles([1.0], [2.0], [0.5, 0.975]),
                               [1.0, 1.0 + 2.0 * special.ndtri(0.975)], rtol=1e-12)


def test_predictive_quantiles_of_many_lines_solve_each_lines_mixture_cdf():
    """``mu`` of shape (S, K) (a regression line along a grid): each column's quantiles,
    solved by Newton together, are the roots of that column's mixture CDF (to 1e-12)."""
    rng = np.random.default_rng(3)
    mu, beta, tau = rng.normal(0, 1, 2000), rng.normal(0.1, 0.02, 2000), rng.uniform(.1, 1, 2000)
    line = mu[:, None] + np.linspace(-20, 20, 9)[None, :] * beta[:, None]
    qs = [0.025, 0.5, 0.975]
    x = hc.predictive_quantiles(line, tau, qs)
    assert x.shape == (9, 3)
    cdf = special.ndtr((x[:, :, None] - line.T[:, None, :]) / tau).mean(axis=-1)
    np.testing.assert_allclose(cdf, np.broadcast_to(qs, x.shape), atol=1e-12)
    np.testing.assert_allclose(x[4], hc.predictive_quantiles(line[:, 4], tau, qs), rtol=1e-13)


# --------------------------------------------------------------------------- isolation
_ISOLATION = """
import importlib, sys, types
pkg = types.ModuleType("hiermodel")        # the package without its __init__ (which loads PyMC)
pkg.__path__ = [sys.argv[1]]
sys.modules["hiermodel"] = pkg
importlib.import_module(sys.argv[2])
heavy = sorted(m for m in ("xarray", "pandas", "pymc", "pytensor", "arviz", "matplotlib")
               if m in sys.modules)
others = sorted(m for m in sys.modules if m.startswith("hiermodel.")
                and not m.startswith("hiermodel.core") and m != "hiermodel._validate")
assert not heavy and not others, f"{sys.argv[2]} imports {heavy + others}"
"""


def _isolated(module: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _ISOLATION, str(ROOT / "hiermodel"), module],
                          capture_output=True, text=True)


def test_core_imports_only_numpy_and_scipy():
    """hiermodel.core loads no xarray / pandas / PyMC / ArviZ and nothing of hiermodel outside
    the core but the numpy-only argument checks (``_validate``)."""
    proc = _isolated("hiermodel.core")              # its __init__ loads every core module
    assert proc.returncode == 0, proc.stderr
    # the check itself can fail: the labelled data module needs pandas and xarray
    proc = _isolated("hiermodel.data")
    assert proc.returncode != 0 and "xarray" in proc.stderr


def test_core_modules_import_only_the_core():
    """Statically: every import in hiermodel/core is numpy, scipy, the standard library, the
    core itself or ``.._validate``."""
    allowed_abs = {"numpy", "scipy", "__future__", "collections", "dataclasses", "functools",
                   "typing", "warnings", "math"}
    bad = []
    for path in sorted((ROOT / "hiermodel" / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                bad += [(path.name, a.name) for a in node.names
                        if a.name.split(".")[0] not in allowed_abs]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module.split(".")[0] not in allowed_abs:
                    bad.append((path.name, node.module))
                if node.level >= 2 and node.module != "_validate":
                    bad.append((path.name, "." * node.level + (node.module or "")))
    assert bad == []


def test_core_public_names_exist():
    assert [n for n in hc.__all__ if not hasattr(hc, n)] == []


# --------------------------------------------------------------------------- HE, SJ, HS, EE
def test_hedges_sidik_jonkman_hunter_schmidt_equal_metafor():
    """metafor's tests/testthat/test_analysis_example_dersimonian2007.r (DerSimonian & Kacker
    2007, Contemp. Clin. Trials 28:105-114, tables 3-4; the CLASP log odds ratios):
    tau, mu, se = HE ("CA") 0.4410, -0.4035, 0.2327; HS 0.1330, -0.2666, 0.1125;
    SJ 0.4572, -0.4079, 0.2386.  And test_analysis_example_viechtbauer2005.r (Viechtbauer
    2005, J. Educ. Behav. Stat. 30:261-293, example 1, page 271): tau^2 HS 0.2282,
    HE 0.1484, SJ 0.1992."""
    n1 = np.array([156, 303, 565, 1570, 103, 4659.0])
    n2 = np.array([74, 303, 477, 1565, 105, 4650.0])
    a = np.array([5, 5, 12, 69, 9, 313.0])
    c = np.array([8, 17, 9, 94, 11, 352.0])
    y = np.log(a * (n2 - c) / ((n1 - a) * c))
    se = np.sqrt(1 / a + 1 / (n1 - a) + 1 / c + 1 / (n2 - c))
    published = {"he": (0.4410, -0.4035, 0.2327), "hs": (0.1330, -0.2666, 0.1125),
                 "sj": (0.4572, -0.4079, 0.2386)}
    for method, expected in published.items():
        est = hc.estimate_tau(y, se, method)
        got = (float(est.tau), float(est.mu), float(np.sqrt(est.mu_var)))
        np.testing.assert_allclose(got, expected, atol=0.5e-4, err_msg=method)
    y = np.array([-0.581, 0.530, 0.771, 1.031, 0.553, 0.295, 0.078, 0.573, -0.176, -0.232])
    v = np.array([0.023, 0.052, 0.060, 0.115, 0.095, 0.203, 0.200, 0.211, 0.051, 0.040])
    for method, tau2 in {"hs": 0.2282, "he": 0.1484, "sj": 0.1992}.items():
        assert float(hc.estimate_tau(y, np.sqrt(v), method).tau) ** 2 == pytest.approx(
            tau2, abs=0.5e-4), method


def test_closed_form_estimators_by_their_formulas():
    """HE = max(0, s^2(y) - mean(v)); HS = max(0, (Q(0) - G) / sum(1/v));
    SJ = t0 Q(t0) / (G - 1) with t0 = mean((y - ybar)^2); EE: tau = 0, mu the weighted mean."""
    rng = np.random.default_rng(5)
    se = rng.uniform(0.5, 3, (4, 7))
    y = rng.normal(0, 3, (4, 7))
    v = se**2

    def q(t2):
        w = 1 / (v + t2[:, None])
        mu = np.sum(w * y, -1) / np.sum(w, -1)
        return np.sum(w * (y - mu[:, None]) ** 2, -1)

    t0 = np.var(y, axis=-1)
    expected = {"he": np.maximum(0, np.var(y, axis=-1, ddof=1) - v.mean(-1)),
                "hs": np.maximum(0, (q(0 * t0) - 7) / np.sum(1 / v, -1)),
                "sj": t0 * q(t0) / 6, "ee": np.zeros(4)}
    for method, tau2 in expected.items():
        np.testing.assert_allclose(hc.estimate_tau(y, se, method).tau ** 2, tau2,
                                   rtol=1e-12, err_msg=method)
    np.testing.assert_allclose(hc.estimate_tau(y, se, "ee").mu,
                               hc.precision_weighted_mean(y, se), rtol=1e-14)
    np.testing.assert_allclose(hc.eb_core(y, se, "ee").theta, hc.complete_pooling(y, se),
                               rtol=1e-14)
