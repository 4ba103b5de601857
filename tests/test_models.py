"""Model builders: likelihood equivalence, parameterizations, priors, auto rule."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from hiermodel import HierData, eight_schools, eight_schools_summary
from hiermodel.models import Priors, build_model, centering, model_spec, prior_predictive


def _rows(seed=5, sizes=(4, 7, 2, 9, 5)):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    y = rng.normal(3.0, 2.0, g.size) + np.repeat(rng.normal(0, 1.5, len(sizes)), sizes)
    return y, g


def _logp_differences(m_suff: pm.Model, m_rows: pm.Model, n_points: int = 6, seed: int = 0):
    f_s, f_r = m_suff.compile_logp(), m_rows.compile_logp()
    rng = np.random.default_rng(seed)
    base = m_suff.initial_point()
    diffs = []
    for _ in range(n_points):
        pt_ = {k: v + rng.normal(0, 1.0, np.shape(v)) for k, v in base.items()}
        diffs.append(f_s(pt_) - f_r(pt_))
    return np.array(diffs)


@pytest.mark.parametrize("sigma", [None, 2.0], ids=["sigma-unknown", "sigma-known"])
@pytest.mark.parametrize("param", ["centered", "noncentered"])
def test_sufficient_equals_rows_up_to_constant(sigma, param):
    y, g = _rows()
    d = HierData.from_observations(y, g, sigma=sigma)
    m_s = build_model(d, param, likelihood="sufficient")
    m_r = build_model(d, param, likelihood="rows")
    diffs = _logp_differences(m_s, m_r)
    # the constant does not depend on the parameters: all differences equal to 1e-8
    np.testing.assert_allclose(diffs, diffs[0], rtol=0, atol=1e-8)
    # ...and it is the right constant for known sigma: sum_i [log n_i/2 ... ] closed form
    if sigma is not None:
        n, ss, s2 = d.n, d.ss, sigma**2
        const = (0.5 * np.log(n).sum() + (n.sum() - len(n)) * (0.5 * np.log(2 * np.pi * s2))
                 + ss.sum() / (2 * s2))
        assert diffs[0] == pytest.approx(const, abs=1e-8)


def test_model_structure_and_coords():
    m = build_model(eight_schools_summary(), "noncentered")
    assert m.coords["group"] == tuple("ABCDEFGH")
    names = {v.name for v in m.free_RVs}
    assert names == {"mu", "tau", "theta_tilde"}
    assert "theta" in {v.name for v in m.deterministics}
    assert [v.name for v in m.observed_RVs] == ["y"]
    y, g = _rows()
    m2 = build_model(HierData.from_observations(y, g), "centered")
    assert {v.name for v in m2.free_RVs} == {"mu", "tau", "theta_tilde", "sigma"}
    assert [v.name for v in m2.observed_RVs] == ["y", "ss"]
    spec = model_spec(m2)
    assert spec.parameterization == "centered" and not spec.sigma_known


def test_prior_on_theta_is_the_same_in_both_forms():
    d = eight_schools()
    pri = Priors(mu_mean=0.0, mu_sd=5.0, tau="halfnormal", tau_scale=5.0)
    draws = 4000
    a = prior_predictive(build_model(d, "centered", pri), draws=draws, seed=1)
    b = prior_predictive(build_model(d, "noncentered", pri), draws=draws, seed=2)
    assert set(a.groups()) >= {"prior", "prior_predictive"}
    ta = a.prior["theta"].values.ravel()
    tb = b.prior["theta"].values.ravel()
    # exact prior moments: E theta = 0, Var theta = 5^2 + tau_scale^2 (E tau^2 = scale^2)
    var = 25.0 + 25.0
    # groups are correlated within a prior draw (shared mu, tau): test one group's marginal
    a0, b0 = a.prior["theta"].values[..., 0].ravel(), b.prior["theta"].values[..., 0].ravel()
    se_mean = np.sqrt(var / draws)
    assert abs(a0.mean() - b0.mean()) < 4 * np.sqrt(2) * se_mean
    # sd of a sample variance: sqrt((mu4 - var^2) / draws), with the exact 4th moment of the
    # normal scale mixture theta | tau ~ N(0, 25 + tau^2), tau ~ HalfNormal(5):
    # mu4 = 3 E[(25 + tau^2)^2] = 3 (625 + 50 * 25 + 3 * 5^4) = 11250
    se_var = np.sqrt((11250.0 - var**2) / draws)
    assert abs(a0.var() - b0.var()) < 4 * np.sqrt(2) * se_var
    assert abs(a0.var() - var) < 4 * se_var
    assert stats.ks_2samp(a0, b0).pvalue > 1e-3
    assert ta.size == tb.size == draws * d.n_groups


def test_centered_and_noncentered_posteriors_agree(seed_fits):
    import arviz as az

    a, b = seed_fits["centered"], seed_fits["noncentered"]
    for var in ("mu", "tau", "theta"):
        ma, mb = a.posterior[var].mean(("chain", "draw")), b.posterior[var].mean(("chain", "draw"))
        sa = az.mcse(a, var_names=[var])[var]
        sb = az.mcse(b, var_names=[var])[var]
        z = np.abs(ma - mb) / np.sqrt(sa**2 + sb**2)
        assert float(z.max()) < 4.0, (var, z.values)


def test_default_fit_of_eight_schools_has_no_divergences(es_fit):
    assert int(es_fit.sample_stats["diverging"].sum()) == 0
    assert es_fit.posterior.attrs["parameterization"] == "marginal"


def test_auto_rule():
    name, c, tau_hat = centering(eight_schools(), "auto")
    # Rubin's data: REML tau_hat = 0 -> every group non-centered
    assert name == "auto" and tau_hat == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(c, 0.0, atol=1e-10)
    d = eight_schools_summary()
    name, c, tau_hat = centering(d, "auto")
    np.testing.assert_allclose(c, tau_hat**2 / (tau_hat**2 + d.se**2))
    assert np.all(c > 0.5)  # well-measured groups -> (mostly) centered
    m = build_model(d, "auto")
    assert model_spec(m).centering == tuple(c)


BAD_PRIORS = [
    (lambda: Priors(tau_scale=0.0), ValueError, "`tau_scale` is a scale and must be > 0"),
    (lambda: Priors(mu_sd=-1.0), ValueError, "`mu_sd` is a scale and must be > 0"),
    (lambda: Priors(sigma_scale=-2), ValueError, "`sigma_scale`"),
    (lambda: Priors(tau="studentt"), ValueError,
     "requested `tau`='studentt' but it must be one of ('halfcauchy', 'halfnormal', 'uniform')"),
    (lambda: Priors(tau=3), TypeError, "`tau` must be a string"),
    (lambda: Priors(mu_mean="0"), TypeError, "`mu_mean` must be a real number"),
    (lambda: Priors(tau_scale=True), TypeError, "`tau_scale` must be a real number"),
    (lambda: Priors(mu_sd=float("inf")), ValueError, "`mu_sd` must be finite"),
    (lambda: build_model(eight_schools(), priors={"tau": "halfnormal"}), TypeError,
     "`priors` must be a hiermodel.Priors"),
    (lambda: build_model(eight_schools(), "semi"), ValueError,
     "parameterization 'semi' but it must be one of"),
    (lambda: build_model(eight_schools(), np.full(8, 1.5)), ValueError, "in [0, 1]"),
    (lambda: build_model([1, 2, 3]), TypeError, "`data` must be a HierData"),
    (lambda: build_model(eight_schools(), likelihood="rows"), ValueError, "needs raw rows"),
]


@pytest.mark.parametrize(("make", "exc", "fragment"), BAD_PRIORS,
                         ids=[f"bad{i}" for i in range(len(BAD_PRIORS))])
def test_invalid_priors_and_arguments(make, exc, fragment):
    with pytest.raises(exc) as info:
        make()
    assert fragment in str(info.value)


def test_priors_print_and_aliases():
    p = Priors(mu_mean=0, mu_sd=5, tau="Half-Normal", tau_scale=2.5)
    assert p.tau == "halfnormal"
    assert str(p) == "mu ~ Normal(0, 5); tau ~ HalfNormal(2.5); sigma ~ HalfNormal(2.5*sd(y)) " \
                     "(if unknown)"
    m = build_model(eight_schools(), priors=Priors(tau="uniform", tau_scale=50))
    assert type(m["tau"].owner.op).__name__ == "UniformRV"


def test_marginal_logp_is_the_integral_of_the_full_model():
    """log p_marg(mu, tau) = log p(mu) + log p(tau) + sum_i log int N(y_i|t,se_i) N(t|mu,tau) dt."""
    from scipy import integrate

    d = eight_schools()
    m = build_model(d, "marginal")
    assert {v.name for v in m.free_RVs} == {"mu", "tau"}
    logp = m.compile_logp(jacobian=False)
    pri = Priors().resolve(d)
    diffs = []
    for mu, tau in [(0.0, 1.0), (5.0, 8.0), (-3.0, 0.3)]:
        total = pri.mu_dist().logpdf(mu) + pri.tau_dist().logpdf(tau)
        for y, se in zip(d.means, d.se, strict=True):
            val, _ = integrate.quad(
                lambda t, y=y, se=se, m=mu, s=tau: stats.norm.pdf(y, t, se)
                * stats.norm.pdf(t, m, s), mu - 12 * tau, mu + 12 * tau, epsabs=0,
                epsrel=1e-12, limit=200)
            total += np.log(val)
        diffs.append(logp({"mu": mu, "tau_log__": np.log(tau)}) - total)
    # equal up to a parameter-free constant (PyMC's rounded log-normalisers differ from
    # scipy's by ~6e-8), exactly to 1e-9 across points
    np.testing.assert_allclose(diffs, diffs[0], rtol=0, atol=1e-9)
    assert abs(diffs[0]) < 1e-6


def test_marginal_unknown_sigma_structure():
    y, g = _rows()
    m = build_model(HierData.from_observations(y, g), "marginal")
    assert {v.name for v in m.free_RVs} == {"mu", "tau", "sigma"}
    assert [v.name for v in m.observed_RVs] == ["ss", "y"]
    with pytest.raises(ValueError, match="marginal form needs the sufficient"):
        build_model(HierData.from_observations(y, g), "marginal", likelihood="rows")


@pytest.mark.parametrize("sigma", [None, 2.0])
def test_sufficient_model_does_not_grow_with_rows(sigma):
    """Same G, 50 vs 50,000 rows: every observed node and data node has one entry per group
    (or is a scalar), so a gradient costs the same whatever the number of rows."""
    rng = np.random.default_rng(0)
    sizes = {}
    for n_rows in (50, 50_000):
        g = np.arange(n_rows) % 5
        m = build_model(HierData.from_observations(rng.normal(size=n_rows), g, sigma=sigma),
                        "noncentered")
        obs = {v.name: tuple(int(k) for k in m.rvs_to_values[v].shape.eval())
               for v in m.observed_RVs}
        data = {d.name: d.get_value().shape for d in m.data_vars}
        assert all(shape == (5,) for shape in obs.values()), obs
        assert all(shape in {(5,), ()} for shape in data.values()), data
        assert list(m.coords) == ["group"]
        sizes[n_rows] = (obs, data)
    assert sizes[50] == sizes[50_000]


def test_nothing_is_set_on_the_pm_model():
    """What hiermodel built is recorded beside the model (model_spec / model_data), not as
    attributes set on PyMC's object from outside."""
    import pymc as pm

    from hiermodel.checks import pooling_model
    from hiermodel.models import model_data

    d = eight_schools()
    fresh = set(vars(pm.Model()))
    for m in (build_model(d, "marginal"), pooling_model(d, "no_pooling")):
        assert set(vars(m)) <= fresh | set(m.named_vars)   # PyMC's own attributes only
        assert model_data(m) is d and model_spec(m).groups == d.groups
    assert model_data(pm.Model()) is None
    with pytest.raises(ValueError, match="was not built by hiermodel"):
        model_spec(pm.Model())
