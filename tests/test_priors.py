"""Default priors scaled to the data, and the prior-data conflict check (issue 13).

Closed forms where they exist (the exact posterior, the rule's own arithmetic); real NUTS
fits (the default marginal form, small draws) for the "right answer on other scales" tests,
with tolerances from the posterior sd.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hiermodel as hm
from hiermodel import empirical_bayes, exact_posterior, prior_data_conflict
from hiermodel.core import eb_core
from hiermodel.priors import Priors, data_spread

CLASSIC = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)  # the PyMC example's fixed priors
FIT = dict(draws=1000, tune=500, chains=4, progressbar=False)


def _estimates(center: float, spread: float, g: int = 10, seed: int = 0) -> hm.HierData:
    """G groups with true tau = spread and se_i = spread / 2 (tau_hat clearly > 0)."""
    rng = np.random.default_rng(seed)
    se = spread * rng.uniform(0.3, 0.7, g)
    theta = center + spread * rng.standard_normal(g)
    return hm.HierData.from_estimates(theta + se * rng.standard_normal(g), se)


def _school_rows(seed: int = 0) -> hm.HierData:
    """The issue's data: 10 schools x 20 pupils, scores around 70 (sd 12)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(70.0, 5.0, 10)
    y = np.concatenate([rng.normal(t, 12.0, 20) for t in theta])
    return hm.HierData.from_observations(y, np.repeat([f"school {i}" for i in range(10)], 20))


# ----------------------------------------------------------------------------- the rule
def test_the_rule_on_eight_schools_by_hand():
    d = hm.eight_schools()
    p = Priors().resolve(d)
    w = 1 / d.se**2
    s = np.sqrt(np.var(d.means, ddof=1) + np.mean(d.se**2))
    assert data_spread(d.means, d.se) == pytest.approx(s, rel=1e-14)
    assert p.mu_mean == pytest.approx(np.sum(w * d.means) / np.sum(w), rel=1e-14)
    assert p.mu_sd == pytest.approx(2.5 * s, rel=1e-14)
    assert p.tau_scale == pytest.approx(s, rel=1e-14)
    assert p.sigma_scale is None  # sigma is known here
    assert p.from_data == ("mu_mean", "mu_sd", "tau_scale") and p.spread == pytest.approx(s)
    assert p.resolve(d) is p  # idempotent
    assert str(p) == "mu ~ Normal(7.686, 41.46); tau ~ HalfCauchy(16.59); " \
                     "sigma ~ HalfNormal(2.5*sd(y)) (if unknown)"
    # family-specific tau scales, user-set fields kept
    assert Priors(tau="halfnormal").resolve(d).tau_scale == pytest.approx(2.5 * s)
    assert Priors(tau="uniform").resolve(d).tau_scale == pytest.approx(10 * s)
    q = Priors(mu_sd=3.0, tau_scale=2.0).resolve(d)
    assert (q.mu_sd, q.tau_scale, q.from_data) == (3.0, 2.0, ("mu_mean",))
    # raw rows, sigma unknown: sigma's scale is 2.5 x the pooled within-group sd
    rows = _school_rows()
    assert Priors().resolve(rows).sigma_scale == pytest.approx(2.5 * rows.sigma_hat)


def test_explain_states_every_number_and_where_it_came_from():
    p = Priors().resolve(hm.eight_schools())
    text = "\n".join(p.explain())
    for fragment in ("Normal(7.686, 41.46)", "HalfCauchy(16.59)", "precision-weighted mean",
                     "S = sqrt(var(ybar_i) + mean(se_i^2)) = 16.59", "scaled to the data"):
        assert fragment in text
    fixed = "\n".join(CLASSIC.resolve(hm.eight_schools()).explain())
    assert "Normal(0, 5)" in fixed and "set by the user" in fixed
    assert "scaled to the data" not in fixed.split("sigma")[0]


def test_attrs_round_trip_through_netcdf(tmp_path):
    d = hm.eight_schools()
    for pri in (Priors().resolve(d), CLASSIC, Priors(mu="flat", tau="uniform", tau_scale=50)):
        assert Priors.from_attrs(pri.to_attrs()) == pri
    ep = exact_posterior(d).sample(draws=50, chains=1, seed=1)
    back = hm.load(hm.save(ep, tmp_path / "e.nc"))
    assert Priors.from_attrs(back.posterior.attrs) == Priors().resolve(d)
    assert Priors.from_attrs({"priors": "mu ~ Normal(0, 5)"}) is None


@pytest.mark.parametrize(("make", "exc", "fragment"), [
    (lambda: Priors(mu="flat", mu_sd=1.0), ValueError, "`mu='flat'` has no"),
    (lambda: Priors(mu="student"), ValueError, "`mu`='student'"),
    (lambda: Priors().tau_dist(), ValueError, "call priors.resolve(data)"),
    (lambda: Priors(mu_sd=float("nan")), ValueError, "`mu_sd` must be finite"),
], ids=["flat-with-sd", "bad-family", "unresolved", "nan"])
def test_bad_priors(make, exc, fragment):
    with pytest.raises(exc) as info:
        make()
    assert fragment in str(info.value)


@pytest.mark.parametrize(("a", "b"), [(1e-3, 0.01), (1000.0, 10_000.0), (-2.0, 70.0),
                                      (0.07, -0.7)])
def test_default_priors_are_location_scale_equivariant(a, b):
    """Exact posterior of a*y + b (se scaled by |a|) is the affine image of y's: the
    default answer does not depend on the data's units.  Closed form, so to 1e-6."""
    d = _estimates(0.0, 1.0, g=12, seed=3)
    moved = hm.HierData.from_estimates(a * d.means + b, abs(a) * d.se, d.groups)
    e0, e1 = exact_posterior(d), exact_posterior(moved)
    np.testing.assert_allclose(e1.mean["mu"], a * e0.mean["mu"] + b, rtol=1e-6,
                               atol=1e-6 * abs(a))
    np.testing.assert_allclose(e1.mean["theta"], a * e0.mean["theta"] + b, rtol=1e-6,
                               atol=1e-6 * abs(a))
    np.testing.assert_allclose(e1.mean["tau"], abs(a) * e0.mean["tau"], rtol=1e-6)
    np.testing.assert_allclose(e1.sd["theta"], abs(a) * e0.sd["theta"], rtol=1e-6)


# ----------------------------------------------------------------------------- right answers
CASES = [("means ~70, spread 10", 70.0, 10.0), ("means ~-0.7, spread 0.1", -0.7, 0.1),
         ("means ~0.01, spread 0.01", 0.01, 0.01), ("means ~10,000, spread 100", 1e4, 100.0),
         ("means ~70, spread 100", 70.0, 100.0)]


@pytest.mark.parametrize(("center", "spread"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_default_fit_agrees_with_empirical_bayes_on_any_scale(center, spread):
    d = _estimates(center, spread, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hm.PriorDataConflictWarning)
        idata = hm.fit(d, seed=2, **FIT)
    eb = empirical_bayes(d)
    mu, tau = idata.posterior["mu"].values.ravel(), idata.posterior["tau"].values.ravel()
    assert abs(mu.mean() - eb.mu) < 2 * mu.std()
    lo, hi = np.quantile(tau, [0.025, 0.975])
    assert eb.tau > 0 and lo < eb.tau < hi
    # the priors used are recorded, with the data's numbers
    pri = Priors.from_attrs(idata.posterior.attrs)
    assert pri == Priors().resolve(d)
    assert idata.posterior.attrs["priors"] == pri.describe()


def test_the_issue_13_school_rows_now_and_with_the_old_fixed_priors():
    """10 schools x 20 pupils around 70: the old N(0, 5) / HalfCauchy(5) default gave
    mu ~ 4 and tau ~ 65 silently; the data-scaled default agrees with EB, and the old priors
    now raise PriorDataConflictWarning saying what to do."""
    d = _school_rows()
    eb = eb_core(d.means, d.se)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hm.PriorDataConflictWarning)
        good = hm.fit(d, seed=1, **FIT)
    mu = good.posterior["mu"].values.ravel()
    assert abs(mu.mean() - float(eb.mu)) < 2 * mu.std()
    assert good.posterior.attrs["sigma_known"] == 0
    with pytest.warns(hm.PriorDataConflictWarning) as rec:
        bad = hm.fit(d, seed=1, priors=CLASSIC, **FIT)
    msg = str(rec[0].message)
    assert "posterior sds" in msg and "mu_hat" in msg and "scale of your data" in msg
    assert abs(float(bad.posterior["mu"].mean()) - float(eb.mu)) > 20  # the prior won
    assert prior_data_conflict(bad, d) == prior_data_conflict(bad, d, CLASSIC)  # from attrs


def test_conflict_check_is_quiet_on_data_drawn_from_the_model():
    """False-alarm rate under the default priors: exact posterior draws (no sampling error
    of NUTS) for 60 datasets of 3, 8 and 50 groups, tau from 0 to 10 se, any scale."""
    rng = np.random.default_rng(11)
    flagged = []
    for k in range(60):
        g = (3, 8, 50)[k % 3]
        se = rng.uniform(0.5, 2, g) * rng.choice([0.01, 1.0, 100.0])
        tau = (0.0, 0.3, 1.0, 3.0, 10.0)[k % 5] * se.mean()
        y = rng.normal(rng.normal(0, 50) * se.mean(), tau, g) + se * rng.standard_normal(g)
        d = hm.HierData.from_estimates(y, se)
        ep = exact_posterior(d)
        if prior_data_conflict(ep.sample(draws=500, chains=2, seed=k), d, ep.priors):
            flagged.append(k)
    assert flagged == []


def test_conflict_when_the_tau_prior_is_far_too_narrow():
    d = _estimates(0.0, 10.0, g=30, seed=4)
    tight = Priors(tau="halfnormal", tau_scale=0.01)
    draws = exact_posterior(d, tight).sample(draws=500, chains=2, seed=1)
    problems = prior_data_conflict(draws, d, tight)
    assert any("tau_hat" in p and "reject the posterior median" in p for p in problems)
    assert problems[-1].startswith("Check that the priors are on the scale of your data")


def test_conflict_when_the_data_drag_the_posterior_into_the_prior_tail():
    d = _estimates(70.0, 1.0, g=30, seed=5)
    narrow = Priors(mu_mean=0.0, mu_sd=1.0, tau="halfnormal", tau_scale=0.05)
    draws = exact_posterior(d, narrow).sample(draws=500, chains=2, seed=1)
    problems = prior_data_conflict(draws, d, narrow)
    assert any("prior sds from the prior mean" in p for p in problems)
    assert any("beyond the prior's 99.9% quantile" in p for p in problems)


def test_compiled_model_is_reused_across_priors_and_gives_the_fresh_answer():
    """The priors' numbers are pm.Data: a second fit of the same shape with other numbers
    reuses the compiled model and equals a fit from a freshly built one."""
    from hiermodel.sampling import model_cache_size

    d = hm.eight_schools()
    # the PyMC model's cache (PyMC's sampler; nutpie takes the fast path)
    small = dict(draws=100, tune=100, chains=1, progressbar=False, sampler="pymc", check=False)
    kw = dict(small, parameterization="noncentered")
    hm.fit(d, seed=1, **kw)                          # compiled here, or by an earlier test
    cached = model_cache_size()
    other = Priors(mu_mean=1.0, mu_sd=3.0, tau_scale=2.0)
    reused = hm.fit(d, seed=5, priors=other, **kw)
    assert model_cache_size() == cached >= 1          # no second compile
    fresh = hm.fit(hm.build_model(d, "noncentered", other), seed=5, **small)
    np.testing.assert_array_equal(reused.posterior["mu"], fresh.posterior["mu"])
    assert Priors.from_attrs(reused.posterior.attrs) == other.resolve(d)


def test_compile_line_is_printed_before_a_first_fit(capfd):
    from hiermodel.sampling import clear_model_cache

    clear_model_cache()
    hm.fit(hm.eight_schools(), seed=1, draws=50, tune=50, chains=1, progressbar=True,
           check=False, parameterization="noncentered", sampler="pymc")
    err = capfd.readouterr().err
    assert "hiermodel: compiling the model for pymc" in err
    hm.fit(hm.eight_schools(), seed=1, draws=50, tune=50, chains=1, progressbar=True,
           check=False)
    assert "compiling" not in capfd.readouterr().err


@pytest.mark.parametrize("which", ["tau", "sigma"])
def test_every_family_in_the_table_is_a_prior(which):
    """hiermodel.prior_families is the one list: Priors takes every family (also as a user
    spells it), describes it with the table's text, scales it by the table's multiple of S
    and gives the table's SciPy distribution."""
    from scipy import stats

    from hiermodel.prior_families import SIGMA_FAMILIES, TAU_FAMILIES

    table = TAU_FAMILIES if which == "tau" else SIGMA_FAMILIES
    d = hm.eight_schools()
    s = data_spread(d.means, d.se)
    for name, family in table.items():
        spelled = name.replace("half", "Half-")
        p = Priors(**{which: spelled})
        assert getattr(p, which) == name
        fixed = Priors(**{which: name, f"{which}_scale": 3.0})
        assert f"{which} ~ {family.text.format('3')}" in fixed.describe()
        dist = fixed.tau_dist() if which == "tau" else fixed.sigma_dist()
        expect = getattr(stats, family.scipy_name)(0.0, 3.0)
        np.testing.assert_allclose(dist.cdf([0.5, 2.0, 2.9]), expect.cdf([0.5, 2.0, 2.9]))
        if which == "tau":
            assert p.resolve(d).tau_scale == pytest.approx(family.scale_in_s * s)
            assert fixed.tau_bound == (3.0 if family.bounded else None)
    with pytest.raises(ValueError, match=rf"must be one of {tuple(table)}".replace("(", r"\(")
                       .replace(")", r"\)")):
        Priors(**{which: "studentt"})


def test_explain_names_the_values_as_the_data_does():
    """Estimates are y_i, group means ybar_i (HierData.value_symbol); text is written in the
    data's terms, not rewritten afterwards."""
    est = hm.HierData.from_estimates([0.1, -0.3, 0.5, 0.2], [0.2, 0.25, 0.3, 0.2])
    assert est.value_symbol == "y" and hm.eight_schools_summary().value_symbol == "ybar"
    p = Priors().resolve(est)
    text = "\n".join(p.explain(symbol=est.value_symbol))
    assert "S = sqrt(var(y_i) + mean(se_i^2))" in text and "ybar" not in text
    with pytest.raises(ValueError, match="symbol"):
        p.explain(symbol="x")
