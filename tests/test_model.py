"""Model graphs: likelihood equivalence, parameterizations, priors, auto rule, pooling and
predictive graphs, HierModel."""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from hiermodel import HierData, eight_schools, eight_schools_summary, stack
from hiermodel.model import (
    build_model,
    no_pooling_prior_sd,
    pooling_model,
    posterior_model,
    prior_model,
)
from hiermodel.model_spec import POOLING, HierModel
from hiermodel.parameterization import centering
from hiermodel.priors import Priors


def _rows(seed=5, sizes=(4, 7, 2, 9, 5)):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    y = rng.normal(3.0, 2.0, g.size) + np.repeat(rng.normal(0, 1.5, len(sizes)), sizes)
    return y, g


def _logp_differences(m_suff: pm.Model, m_rows: pm.Model, n_points: int = 6, seed: int = 0):
    f_s, f_r = m_suff.model.compile_logp(), m_rows.model.compile_logp()
    rng = np.random.default_rng(seed)
    base = m_suff.model.initial_point()
    diffs = []
    for _ in range(n_points):
        pt_ = {k: v + rng.normal(0, 1.0, np.shape(v)) for k, v in base.items()}
        diffs.append(f_s(pt_) - f_r(pt_))
    return np.array(diffs)


@pytest.mark.parametrize("sigma,sizes", [(None, (4, 7, 2, 9, 5)), (2.0, (4, 7, 2, 9, 5)),
                                         (None, (1, 7, 1, 9, 1))],
                         ids=["sigma-unknown", "sigma-known", "sigma-unknown-singletons"])
@pytest.mark.parametrize("param", ["centered", "noncentered"])
def test_sufficient_equals_rows_up_to_constant(sigma, sizes, param):
    """Also with groups of one row: their ss term is 0, so the sufficient likelihood still
    differs from the per-row one by a constant."""
    y, g = _rows(sizes=sizes)
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
    hm_ = build_model(eight_schools_summary(), "noncentered")
    assert isinstance(hm_, HierModel) and hm_.parameterization == "noncentered"
    m = hm_.model
    assert m.coords["group"] == tuple("ABCDEFGH")
    names = {v.name for v in m.free_RVs}
    assert names == {"mu", "tau", "theta_tilde"}
    assert "theta" in {v.name for v in m.deterministics}
    assert [v.name for v in m.observed_RVs] == ["y"]
    y, g = _rows()
    m2 = build_model(HierData.from_observations(y, g), "centered")
    assert {v.name for v in m2.model.free_RVs} == {"mu", "tau", "theta_tilde", "sigma"}
    assert [v.name for v in m2.model.observed_RVs] == ["y", "ss"]
    spec = m2.spec
    assert spec.parameterization == "centered" and not spec.sigma_known
    assert m2.priors == Priors().resolve(m2.data) and m2.priors is spec.priors


def test_prior_on_theta_is_the_same_in_both_forms():
    d = eight_schools()
    pri = Priors(mu_mean=0.0, mu_sd=5.0, tau="halfnormal", tau_scale=5.0)
    draws = 4000
    a, b = (pm.sample_prior_predictive(draws=draws, model=build_model(d, form, pri).model,
                                       random_seed=seed)
            for form, seed in (("centered", 1), ("noncentered", 2)))
    assert set(stack.groups(a)) >= {"prior", "prior_predictive"}
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
    assert m.spec.centering == tuple(c) and m.spec.tau_hat == tau_hat


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
    assert type(m.model["tau"].owner.op).__name__ == "UniformRV"


@pytest.mark.parametrize("which", ["tau", "sigma"])
def test_every_family_in_the_table_builds_its_pymc_prior(which):
    """build_model reads hiermodel.prior_families: each family's PyMC distribution, its
    scale a pm.Data node with the prior's number, and the same log density as SciPy's."""
    from hiermodel.prior_families import SIGMA_FAMILIES, TAU_FAMILIES

    table = TAU_FAMILIES if which == "tau" else SIGMA_FAMILIES
    rows = HierData.from_observations([1.0, 2.5, 0.5, 3.0, 2.0, 1.0], list("aabbcc"))
    for name, family in table.items():
        priors = Priors(**{which: name, f"{which}_scale": 4.0})
        model = build_model(rows, "noncentered", priors).model
        rv = model[which]
        assert type(rv.owner.op).__name__ == f"{family.pymc_name}RV"
        assert float(model[f"{which}_scale"].get_value()) == 4.0
        expect = getattr(priors, f"{which}_dist")().logpdf(1.5)
        assert float(pm.logp(rv, 1.5).eval()) == pytest.approx(expect, abs=1e-6)


def test_marginal_logp_is_the_integral_of_the_full_model():
    """log p_marg(mu, tau) = log p(mu) + log p(tau) + sum_i log int N(y_i|t,se_i) N(t|mu,tau) dt."""
    from scipy import integrate

    d = eight_schools()
    m = build_model(d, "marginal")
    assert {v.name for v in m.model.free_RVs} == {"mu", "tau"}
    logp = m.model.compile_logp(jacobian=False)
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
    m = build_model(HierData.from_observations(y, g), "marginal").model
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
                        "noncentered").model
        obs = {v.name: tuple(int(k) for k in m.rvs_to_values[v].shape.eval())
               for v in m.observed_RVs}
        data = {d.name: d.get_value().shape for d in m.data_vars}
        assert all(shape == (5,) for shape in obs.values()), obs
        assert all(shape in {(5,), ()} for shape in data.values()), data
        assert list(m.coords) == ["group"]
        sizes[n_rows] = (obs, data)
    assert sizes[50] == sizes[50_000]


def test_nothing_is_set_on_the_pm_model():
    """What hiermodel built travels beside the model, in the HierModel (data, priors, spec),
    not as attributes set on PyMC's object from outside."""
    d = eight_schools()
    fresh = set(vars(pm.Model()))
    for h in (build_model(d, "marginal"), pooling_model(d, "no_pooling")):
        m = h.model
        assert isinstance(m, pm.Model)
        assert set(vars(m)) <= fresh | set(m.named_vars)   # PyMC's own attributes only
        assert h.data is d and h.priors == Priors().resolve(d)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.data = None


def test_pooling_model_graphs():
    """Complete pooling: mu only, theta = mu; no pooling: theta_i ~ N(mu0, s^2); partial:
    the hierarchical model.  Unknown sigma adds sigma and the one ss likelihood."""
    d = eight_schools()
    mu0 = Priors().resolve(d).mu_mean
    cp, npool, pp = (pooling_model(d, p) for p in POOLING)
    assert [v.name for v in cp.model.free_RVs] == ["mu"]
    assert cp.spec.attrs()["pooling"] == "complete_pooling"
    assert cp.parameterization == "complete-pooling"
    assert {v.name for v in npool.model.free_RVs} == {"theta"}
    s = no_pooling_prior_sd(d, mu0)
    assert npool.spec.attrs()["no_pooling_sd"] == s and npool.spec.mu0 == mu0
    assert "pooling" not in pp.spec.attrs() and pp.parameterization == "marginal"
    y, g = _rows()
    rows = HierData.from_observations(y, g)
    m = pooling_model(rows, "no_pooling", sd=3.0)
    assert {v.name for v in m.model.free_RVs} == {"theta", "sigma"}
    assert {v.name for v in m.model.observed_RVs} == {"y", "ss"}
    assert m.spec.sd == 3.0
    for bad, exc in (("partial", ValueError), ):
        with pytest.raises(exc, match="must be one of"):
            pooling_model(d, bad)
    with pytest.raises(ValueError, match="`sd` must be > 0"):
        pooling_model(d, "no_pooling", sd=-1.0)


def test_predictive_graphs_share_the_ss_term():
    """The prior and posterior predictive graphs draw ss_i ~ Gamma((n_i - 1)/2, rate
    1/(2 sigma^2)) (0 for a group of one row) -- the likelihood of the fitted model, written
    once (its density is checked against the per-row likelihood above)."""
    y, g = _rows()
    d = HierData.from_observations(y, g, keep_rows=True)
    pri = Priors().resolve(d)
    model, params, names = prior_model(d, pri, rows=True, se_new=None, n_new=4)
    assert params == ["mu", "tau", "theta", "sigma"]
    assert names == ["y", "ss", "y_rows", "y_mixed", "theta_new", "y_new"]
    post, post_names = posterior_model(d, {"theta", "sigma"}, rows=False, se_new=None,
                                       n_new=None)
    assert post_names == ["y", "ss"]
    fitted = build_model(d, "centered").model
    # one ss_likelihood: PyMC makes a CustomDist class per node, all of that name
    ss = {m["ss"].owner.op.__class__.__name__ for m in (model, post, fitted)}
    assert ss == {"CustomDist_ss"}
    assert [m["ss"].ndim for m in (model, post, fitted)] == [1, 1, 1]


def test_hier_model_repr_is_one_line_at_any_size():
    """The repr says the form, the size and the priors used -- not 60 centering weights."""
    import numpy as np

    from hiermodel import HierData, build_model, eight_schools

    nc = repr(build_model(eight_schools(), "noncentered"))
    assert nc == ("HierModel(noncentered; 8 groups, sigma known, sufficient likelihood; "
                  "mu ~ Normal(7.686, 41.46); tau ~ HalfCauchy(16.59))")
    rng = np.random.default_rng(1)
    rows = HierData.from_observations(rng.normal(size=600), np.repeat(np.arange(60), 10))
    r = repr(build_model(rows, "marginal"))
    assert "\n" not in r and len(r) < 200 and "60 groups, sigma estimated" in r
    assert "sigma ~ HalfNormal(" in r and "if unknown" not in r
