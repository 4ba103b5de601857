"""Exact Bayes factors and model averaging (hiermodel.core.bayes_factors via ExactPosterior):
bayesmeta's ``bayesfactor`` (Roever 2020, J. Stat. Softw. 93(6)), the Savage-Dickey identity,
and metaBMA / RoBMA-style averaging over {tau = 0, tau > 0} x {mu = 0, mu free}."""

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import hiermodel as hm
from hiermodel.core.bayes_factors import MODELS, log_marginals
from hiermodel.priors import Priors

# bayesmeta's vignette priors for Rubin1981: mu ~ N(0, 50^2), tau ~ HalfCauchy(25)
VIGNETTE = Priors(mu_mean=0, mu_sd=50, tau="halfcauchy", tau_scale=25)
# BCG log risk ratios: mu ~ N(0, 1), tau ~ HalfNormal(0.5) (the priors of Roever 2020,
# section 3.6's pppvalue example)
BCG_PRIORS = Priors(mu_mean=0, mu_sd=1, tau="halfnormal", tau_scale=0.5)


def _bcg():
    df = hm.datasets.bcg_trials()
    return hm.HierData.from_estimates(df.yi, np.sqrt(df.vi))


@pytest.fixture(scope="module")
def schools():
    return hm.exact_posterior(hm.datasets.eight_schools_unrounded(), VIGNETTE)


@pytest.fixture(scope="module")
def bcg():
    return hm.exact_posterior(_bcg(), BCG_PRIORS)


def test_vignette_posterior_is_bayesmetas(schools):
    # bayesmeta vignette (inst/doc/bayesmeta.html, print(schools.example.1)): posterior
    # mean of mu 7.985729, of tau 5.884511; so the Bayes factors below are on its model.
    # bayesmeta's mu summaries come from its DIRECT normal-mixture approximation (Roever
    # 2020, section 2.4, accurate to about 1e-4 relative), hence rel=1e-4 for mu
    assert float(schools.mean["mu"]) == pytest.approx(7.985729, rel=1e-4)
    assert float(schools.mean["tau"]) == pytest.approx(5.884511, abs=5e-5)


@pytest.mark.parametrize("which", ["schools", "bcg"])
def test_bayes_factor_equals_savage_dickey(which, schools, bcg):
    ep = {"schools": schools, "bcg": bcg}[which]
    pri = ep.priors
    # tau = 0: posterior density at the boundary over the half-distribution's density there
    sd_tau = ep.density("tau", 0.0) / pri.tau_dist().pdf(0.0)
    assert ep.bayes_factor("tau") == pytest.approx(float(sd_tau), rel=1e-3)
    # mu = 0: the normal mixture over the tau grid at 0 over the normal prior at 0
    sd_mu = ep.density("mu", 0.0) / pri.mu_dist().pdf(0.0)
    assert ep.bayes_factor("mu") == pytest.approx(float(sd_mu), rel=1e-3)


def _quad_marglik(y, se, tau_pdf, mu_sd, mu0=None):
    """bayesmeta's definition by brute force: ``likelihood(tau) = int N(y; mu 1, diag(se^2 +
    tau^2)) N(mu; 0, mu_sd^2) dmu`` in closed form (multivariate normal with covariance
    ``diag(se^2 + tau^2) + mu_sd^2 11'``), or at ``mu = mu0``; then ``int
    likelihood(tau) p(tau) dtau`` with scipy's quad."""
    y, v = np.asarray(y, float), np.asarray(se, float) ** 2

    def lik(t):
        if mu0 is not None:
            return np.exp(stats.norm(mu0, np.sqrt(v + t * t)).logpdf(y).sum())
        cov = np.diag(v + t * t) + mu_sd**2
        return stats.multivariate_normal(np.zeros(y.size), cov).pdf(y)

    val = integrate.quad(lambda t: lik(t) * tau_pdf(t), 0, np.inf, epsabs=0, epsrel=1e-10,
                         limit=200)[0]
    return lik(0.0), val


@pytest.mark.parametrize("which", ["schools", "bcg"])
def test_bayes_factor_matches_quadrature(which, schools, bcg):
    ep = {"schools": schools, "bcg": bcg}[which]
    pri = ep.priors
    l0, m11 = _quad_marglik(ep.means, ep.se, pri.tau_dist().pdf, pri.mu_sd)
    _, m10 = _quad_marglik(ep.means, ep.se, pri.tau_dist().pdf, pri.mu_sd, mu0=0.0)
    assert ep.bayes_factor("tau") == pytest.approx(l0 / m11, rel=1e-6)
    assert ep.bayes_factor("mu") == pytest.approx(m10 / m11, rel=1e-6)


def test_tau_bayes_factor_with_flat_mu_prior_is_the_wide_normal_limit():
    d = hm.datasets.eight_schools_unrounded()
    flat = hm.exact_posterior(d, Priors(mu="flat", tau="halfcauchy", tau_scale=25))
    wide = hm.exact_posterior(d, Priors(mu_mean=0, mu_sd=1e5, tau="halfcauchy",
                                        tau_scale=25))
    # the flat prior's constant cancels from BF(tau = 0); a very wide normal prior agrees
    assert flat.bayes_factor("tau") == pytest.approx(wide.bayes_factor("tau"), rel=1e-4)
    with pytest.raises(ValueError, match="mu"):
        flat.bayes_factor("mu")
    with pytest.raises(ValueError, match="mu"):
        flat.model_average()


def test_bounded_tau_prior_savage_dickey():
    # Uniform(0, 50) on tau (BDA3's choice for Eight Schools): prior density 1/50 at 0
    ep = hm.exact_posterior(hm.datasets.eight_schools(),
                            Priors(mu_mean=0, mu_sd=50, tau="uniform", tau_scale=50))
    assert ep.bayes_factor("tau") == pytest.approx(float(ep.density("tau", 0.0)) * 50,
                                                   rel=1e-3)
    l0, m11 = _quad_marglik(ep.means, ep.se, stats.uniform(0, 50).pdf, 50.0)
    assert ep.bayes_factor("tau") == pytest.approx(l0 / m11, rel=1e-6)


def test_density(schools):
    x = np.linspace(-400, 400, 8001)   # trapezoid: exact to 1e-15 for this smooth density
    f = schools.density("mu", x)
    assert f.shape == x.shape
    assert np.trapezoid(f, x) == pytest.approx(1.0, abs=1e-8)
    assert np.trapezoid(x * f, x) == pytest.approx(float(schools.mean["mu"]), rel=1e-6)
    t = np.array([0.0, 1.0, 5.0, 20.0])
    np.testing.assert_allclose(schools.density("tau", t), schools.tau_pdf(t))
    assert schools.density("MU", 0.0).shape == ()


def test_model_average_agrees_with_pairwise_bayes_factors(schools, bcg):
    for ep in (schools, bcg):
        ma = ep.model_average()
        p = ma.posterior_probs
        assert p.sum() == pytest.approx(1.0, abs=1e-14)
        assert ma.models == MODELS and np.all(ma.prior_probs == 0.25)
        bf_tau, bf_mu = ep.bayes_factor("tau"), ep.bayes_factor("mu")
        assert p[1] / p[3] == pytest.approx(bf_tau, rel=1e-12)
        assert p[2] / p[3] == pytest.approx(bf_mu, rel=1e-12)
        # inclusion BFs: posterior over prior inclusion odds
        assert ma.inclusion_bf_tau == pytest.approx((p[2] + p[3]) / (p[0] + p[1]), rel=1e-12)
        assert ma.inclusion_bf_mu == pytest.approx((p[1] + p[3]) / (p[0] + p[2]), rel=1e-12)


def test_model_average_prior_probs_and_quantiles(schools):
    pri = np.array([0.1, 0.2, 0.3, 0.4])
    ma = schools.model_average(pri, quantiles=[0.1, 0.5, 0.9])
    odds = np.exp(ma.log_marginals - ma.log_marginals[3]) * pri / pri[3]
    np.testing.assert_allclose(ma.posterior_probs, odds / odds.sum(), rtol=1e-12)
    assert ma.inclusion_bf_tau == pytest.approx(
        (ma.posterior_probs[2:].sum() / ma.posterior_probs[:2].sum()) / (0.7 / 0.3), rel=1e-12)
    # only the full model: the exact posterior of mu
    full = schools.model_average([0, 0, 0, 1], quantiles=[0.025, 0.5, 0.975])
    assert full.posterior_probs[3] == 1.0
    assert full.mu_mean == pytest.approx(float(schools.mean["mu"]), rel=1e-12)
    assert full.mu_sd == pytest.approx(float(schools.sd["mu"]), rel=1e-10)
    assert full.tau_mean == pytest.approx(float(schools.mean["tau"]), rel=1e-10)
    assert full.tau_sd == pytest.approx(float(schools.sd["tau"]), rel=1e-8)
    np.testing.assert_allclose(full.mu_quantiles,
                               schools.quantile([0.025, 0.5, 0.975])["mu"].values, rtol=1e-9)
    # only tau = 0, mu free: the common-effect posterior, a normal
    ce = schools.model_average([0, 1, 0, 0], quantiles=[0.025, 0.975])
    w = 1 / schools.se**2
    prec = w.sum() + 1 / 50**2
    m = (w * schools.means).sum() / prec
    assert ce.mu_mean == pytest.approx(m, rel=1e-12)
    assert ce.mu_sd == pytest.approx(prec**-0.5, rel=1e-12)
    assert ce.tau_mean == 0.0 and ce.tau_sd == 0.0
    np.testing.assert_allclose(ce.mu_quantiles, m + prec**-0.5 * special.ndtri([0.025, 0.975]),
                               rtol=1e-10)


def test_model_average_point_mass_quantiles(schools):
    ma = schools.model_average()
    point = ma.posterior_probs[0] + ma.posterior_probs[2]
    assert 0.5 < point < 0.9          # most mass on mu = 0 with the default 1/4 each
    # the median falls in the jump at 0
    q = schools.model_average(quantiles=[0.5, 0.99]).mu_quantiles
    assert q[0] == 0.0 and q[1] > 0
    # the mixture CDF at the 0.99 quantile is 0.99
    p = ma.posterior_probs
    c = schools.core
    wp = 1 / schools.se**2
    prec = wp.sum() + 1 / 50**2
    m0 = (wp * schools.means).sum() / prec
    cdf = (point + p[1] * special.ndtr((q[1] - m0) * np.sqrt(prec))
           + p[3] * c.weights @ special.ndtr((q[1] - c.mu_cond_mean) / np.sqrt(c.mu_cond_var)))
    assert cdf == pytest.approx(0.99, abs=1e-12)
    # model-averaged mean: the mu-free models' means, weighted
    mean = p[1] * m0 + p[3] * float(schools.mean["mu"])
    assert ma.mu_mean == pytest.approx(mean, rel=1e-12)
    # tau: the mu = 0, tau > 0 model's tau posterior (by quadrature) and the full model's
    y, v = schools.means, schools.se**2
    lik0 = lambda t: np.exp(stats.norm(0, np.sqrt(v + t * t)).logpdf(y).sum())  # noqa: E731
    prior = schools.priors.tau_dist().pdf
    cuts = [0, 5, 10, 20, 50, 100, 1000, np.inf]      # quad over pieces: heavy tails

    def quad(f):
        return sum(integrate.quad(f, a, b, epsrel=1e-12)[0] for a, b in
                   zip(cuts[:-1], cuts[1:], strict=True))

    e10 = quad(lambda t: t * lik0(t) * prior(t)) / quad(lambda t: lik0(t) * prior(t))
    tau_mean = p[2] * e10 + p[3] * float(schools.mean["tau"])
    assert ma.tau_mean == pytest.approx(tau_mean, rel=1e-6)


def test_log_marginals_closed_forms():
    y, se = np.array([0.3, -0.1, 0.5]), np.array([0.2, 0.3, 0.25])
    lm = log_marginals(y, se**2, tau_logpdf=stats.halfnorm(scale=0.5).logpdf, mu_mean=0.1,
                       mu_precision=4.0)
    assert lm.m00 == pytest.approx(stats.norm(0, se).logpdf(y).sum(), rel=1e-13)
    cov = np.diag(se**2) + 0.25
    assert lm.m01 == pytest.approx(stats.multivariate_normal(np.full(3, 0.1), cov).logpdf(y),
                                   rel=1e-12)


def test_bad_input(schools):
    with pytest.raises(ValueError, match="name"):
        schools.bayes_factor("sigma")
    with pytest.raises(ValueError, match="name"):
        schools.density("theta", 0.0)
    with pytest.raises(ValueError, match="prior_probs"):
        schools.model_average([0.5, 0.5])
    with pytest.raises(ValueError, match="prior_probs"):
        schools.model_average([0.5, 0.5, 0.5, -0.5])
    with pytest.raises(ValueError, match="quantiles"):
        schools.model_average(quantiles=[1.5])
    with pytest.raises(TypeError, match="x"):
        schools.density("mu", "a")
    with pytest.raises(ValueError, match="x"):
        schools.density("tau", [-1.0, 2.0])


def test_not_implemented_cases():
    df = hm.datasets.bcg_trials()
    cov = hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), covariates=df[["ablat"]])
    ep = hm.exact_posterior(cov, Priors(mu_mean=0, mu_sd=1, tau="halfnormal", tau_scale=0.5))
    with pytest.raises(NotImplementedError, match="covariates"):
        ep.bayes_factor("tau")
    raw = hm.HierData.from_observations([1.0, 2.0, 0.5, 3.0, 2.5, 1.5], list("aabbcc"))
    ep = hm.exact_posterior(raw, Priors(mu_mean=0, mu_sd=5, tau="halfnormal", tau_scale=2),
                            grid=101, sigma_grid=51)
    with pytest.raises(NotImplementedError, match="sigma"):
        ep.model_average()


def test_minimum_bayes_factors_and_ml_marginal_estimates(schools, bcg):
    from hiermodel.core.bayes_factors import ml_marginal_mu, ml_marginal_tau

    c = schools.core
    # bayesmeta vignette, print(schools.example.1): "ML marginal  tau 0, mu 7.998270" (R's
    # optimize(), tolerance ~1e-4)
    t_ml, gain = ml_marginal_tau(c.means, c.se**2, c.tau_grid, mu_mean=0.0,
                                 mu_precision=1 / 50**2)
    assert t_ml == 0.0 and gain == 0.0
    assert schools.bayes_factor("tau", minimum=True) == 1.0
    m_ml, _ = ml_marginal_mu(c.means, c.weights, c.mu_cond_mean, c.mu_cond_var,
                             mu_mean=0.0, mu_precision=1 / 50**2)
    assert m_ml == pytest.approx(7.998270, abs=1e-3)
    for ep in (schools, bcg):
        pri = ep.priors
        for name in ("tau", "mu"):
            bf_min = ep.bayes_factor(name, minimum=True)
            assert 0 < bf_min <= ep.bayes_factor(name) * (1 + 1e-9)
        # brute force: p(y | mu) by quadrature over tau, maximised over mu
        def neg_log_lik(mu, ep=ep, pri=pri):
            return -np.log(_quad_marglik(ep.means, ep.se, pri.tau_dist().pdf, pri.mu_sd,
                                         mu0=mu)[1])

        lo, hi = float(ep.means.min()), float(ep.means.max())
        r = optimize.minimize_scalar(neg_log_lik, bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-8})
        assert ep.bayes_factor("mu", minimum=True) == pytest.approx(
            np.exp(r.fun - neg_log_lik(0.0)), rel=1e-6)
    # BCG: heterogeneous, so the ML marginal tau > 0 and the minimum BF of tau = 0 is < 1;
    # brute force: the multivariate normal likelihood (mu integrated under N(0, 1)) maximised
    y, v = bcg.means, bcg.se**2

    def neg_ll(t):
        return -stats.multivariate_normal(np.zeros(y.size), np.diag(v + t * t) + 1.0).logpdf(y)

    r = optimize.minimize_scalar(neg_ll, bounds=(0.0, 2.0), method="bounded",
                                 options={"xatol": 1e-10})
    t_ml, gain = ml_marginal_tau(y, v, bcg.tau_grid, mu_mean=0.0, mu_precision=1.0)
    assert t_ml == pytest.approx(r.x, rel=1e-6) and t_ml > 0.2
    assert bcg.bayes_factor("tau", minimum=True) == pytest.approx(
        np.exp(r.fun - neg_ll(0.0)), rel=1e-8)
    flat = hm.exact_posterior(hm.datasets.eight_schools_unrounded(),
                              Priors(mu="flat", tau="halfcauchy", tau_scale=25))
    assert 0 < flat.bayes_factor("mu", minimum=True) < 1
    with pytest.raises(TypeError, match="minimum"):
        schools.bayes_factor("mu", minimum="yes")
