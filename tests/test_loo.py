"""Leave-one-group-out PSIS-LOO and the pooling comparison -- real NUTS, small draws.

Fits are shared through module-scoped fixtures: one compile per model structure (Eight
Schools: three models).  Small draws are intentional, so SamplingWarning (low ESS) is
silenced here.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from hiermodel import HierData, Priors, eight_schools
from hiermodel.exceptions import HierModelWarning, ParetoKWarning
from hiermodel.loo import (
    K_THRESHOLD,
    LOO_NOTES,
    POOLING,
    compare_loo,
    compare_pooling,
    integrated_log_likelihood,
    k_threshold,
)
from hiermodel.model import no_pooling_prior_sd, pooling_model
from hiermodel.sampling import fit
from hiermodel.shrinkage import exact_posterior

pytestmark = pytest.mark.filterwarnings("ignore::hiermodel.exceptions.SamplingWarning")
FAST = {"draws": 500, "tune": 500, "chains": 2}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def es():
    """compare_pooling on Rubin's Eight Schools, with the warnings it raised."""
    data = eight_schools()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        table, fits = compare_pooling(data, seed=7, **FAST)
    pareto = [w for w in rec if issubclass(w.category, ParetoKWarning)]
    return SimpleNamespace(data=data, table=table, fits=fits, pareto=pareto)


@pytest.fixture(scope="module")
def es_conditional(es):
    """The same three fits compared on the conditional likelihood, with its warnings."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        table = compare_loo(es.fits, likelihood="conditional")
    pareto = [w for w in rec if issubclass(w.category, ParetoKWarning)]
    return SimpleNamespace(table=table, pareto=pareto)


# ----------------------------------------------------------------------------- pooling / LOO
def test_compare_pooling_eight_schools(es, es_conditional):
    table = es.table
    assert set(table.index) == set(POOLING)
    assert list(table["rank"]) == [0, 1, 2]
    assert table["elpd_diff"].iloc[0] == 0 and (table["elpd_diff"].iloc[1:] > 0).all()
    assert np.isfinite(table[["elpd_loo", "se", "dse"]].to_numpy()).all()
    assert table.attrs["likelihood"] == "integrated"
    assert table.attrs["loo"] == LOO_NOTES["integrated"]
    assert "leave-one-group-out" in table.attrs["loo"].lower()
    # 2 chains x 500 draws: threshold min(1 - 1/log10(1000), 0.7) = 2/3
    assert table.attrs["k_threshold"] == pytest.approx(2 / 3, rel=1e-12)
    assert (table["k_threshold"] == table.attrs["k_threshold"]).all()
    # centred at the default prior's mu mean (the precision-weighted mean, 7.686):
    # 10 * max(max |ybar_i - 7.686|, max se_i) = 10 * |28 - 7.686| = 203.14
    mu0 = Priors().resolve(es.data).mu_mean
    assert table.attrs["no_pooling_sd"] == no_pooling_prior_sd(es.data, mu0)
    assert table.attrs["no_pooling_sd"] == pytest.approx(10 * (28 - mu0), rel=1e-12)
    for idata in es.fits.values():
        assert es_ll_dims(idata) == ("chain", "draw", "group")
    # integrated: no group of any model above the threshold, so no warning
    assert (table["n_k_above_threshold"] == 0).all() and not table["warning"].any()
    assert es.pareto == []
    # no pooling, known se: log N(ybar_i | mu0, s^2 + se_i^2) is the same at every draw, so
    # the LOO value is exact (the prior predictive), p_loo = 0 and k is -inf (no tail)
    s = table.attrs["no_pooling_sd"]
    exact = stats.norm.logpdf(es.data.means, mu0, np.sqrt(s**2 + es.data.se**2)).sum()
    assert table.loc["no_pooling", "elpd_loo"] == pytest.approx(exact, rel=1e-10)
    assert table.loc["no_pooling", "p_loo"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["no_pooling", "pareto_k_max"] == -np.inf
    # conditional: leaving a group out leaves theta_i with its prior only -> k above the
    # threshold for no pooling, whose elpd is then badly off the exact value
    cond = es_conditional.table
    assert cond.attrs["likelihood"] == "conditional"
    assert cond.attrs["loo"] == LOO_NOTES["conditional"]
    assert cond.loc["no_pooling", "n_k_above_threshold"] > 0
    assert bool(cond.loc["no_pooling", "warning"])
    assert cond.loc["no_pooling", "elpd_loo"] > exact + 5
    assert len(es_conditional.pareto) == 1
    msg = str(es_conditional.pareto[0].message)
    assert "no_pooling (threshold 0.67 at S = 1000 draws)" in msg and "conditional" in msg
    # complete pooling: theta_i = mu, so the two likelihoods coincide
    for col in ("elpd_loo", "p_loo", "pareto_k_max"):
        assert table.loc["complete_pooling", col] == pytest.approx(
            cond.loc["complete_pooling", col], rel=1e-12)
    # the partial-pooling k are smaller with theta_i integrated out
    assert (table.loc["partial_pooling", "pareto_k_max"]
            < cond.loc["partial_pooling", "pareto_k_max"])
    assert issubclass(ParetoKWarning, HierModelWarning)


def _exact_logo_elpd(data: HierData, priors: Priors, draws: int = 2000) -> float:
    """Exact leave-one-group-out elpd of the hierarchical model (known se): for each group,
    exact posterior draws of (mu, tau) without it, log mean N(ybar_i | mu, tau^2 + se_i^2)."""
    total = 0.0
    for i in range(data.n_groups):
        keep = np.arange(data.n_groups) != i
        rest = HierData.from_estimates(data.means[keep], data.se[keep],
                                       groups=list(np.asarray(data.groups)[keep]))
        post = exact_posterior(rest, priors).sample(draws=draws, chains=4, seed=i).posterior
        mu, tau = post["mu"].values.ravel(), post["tau"].values.ravel()
        ll = stats.norm.logpdf(data.means[i], mu, np.sqrt(tau**2 + data.se[i] ** 2))
        total += logsumexp(ll) - np.log(ll.size)
    return float(total)


def test_integrated_vs_conditional_loo_default_fit(es_fit):
    """Default fit (4 x 1000): the two elpd agree within their standard errors (and with the
    exact leave-one-group-out elpd, -31.09); max k is smaller when theta_i is integrated
    out.  Seeds 1, 2, 3, 7, 20261125: |elpd difference| <= 0.11, integrated within 0.06 of
    exact; max k 0.63-0.87 (conditional) vs 0.29-0.50 (integrated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        cond = compare_loo({"pp": es_fit}, likelihood="conditional").loc["pp"]
    integ = compare_loo({"pp": es_fit}).loc["pp"]
    assert abs(integ["elpd_loo"] - cond["elpd_loo"]) < min(integ["se"], cond["se"])
    assert integ["pareto_k_max"] < cond["pareto_k_max"]
    assert integ["pareto_k_max"] < integ["k_threshold"] == K_THRESHOLD  # S = 4000
    assert integ["p_loo"] < cond["p_loo"]  # the conditional one also counts the theta_i
    exact = _exact_logo_elpd(eight_schools(), Priors.from_attrs(es_fit.posterior.attrs))
    assert abs(integ["elpd_loo"] - exact) < 0.2
    assert abs(cond["elpd_loo"] - exact) < cond["se"]


def test_integrated_log_likelihood_by_hand(es):
    """Exact against scipy at a few draws, for the three pooling models (known se_i)."""
    data = es.data
    ybar, se = data.means, data.se
    mu0 = Priors().resolve(data).mu_mean
    s = es.table.attrs["no_pooling_sd"]
    for name, idata in es.fits.items():
        ll = integrated_log_likelihood(idata)
        assert ll.dims == ("chain", "draw", "group") and ll.name == "y"
        assert ll.shape == (2, 500, 8) and list(ll["group"].values) == list("ABCDEFGH")
        post = idata.posterior
        for c, d in ((0, 0), (0, 123), (1, 499)):
            if name == "complete_pooling":
                expect = stats.norm.logpdf(ybar, float(post["mu"][c, d]), se)
            elif name == "no_pooling":
                expect = stats.norm.logpdf(ybar, mu0, np.sqrt(s**2 + se**2))
            else:
                tau = float(post["tau"][c, d])
                expect = stats.norm.logpdf(ybar, float(post["mu"][c, d]), np.sqrt(tau**2 + se**2))
            np.testing.assert_allclose(ll.values[c, d], expect, rtol=1e-12)
    # complete pooling: identical to fit's conditional log_likelihood (theta_i = mu)
    cp = es.fits["complete_pooling"]
    np.testing.assert_allclose(integrated_log_likelihood(cp), cp.log_likelihood["y"],
                               rtol=1e-12)
    assert es.fits["no_pooling"].posterior.attrs["pooling"] == "no_pooling"
    assert es.fits["no_pooling"].posterior.attrs["no_pooling_mu0"] == mu0
    assert es.fits["no_pooling"].posterior.attrs["no_pooling_sd"] == s


@pytest.fixture(scope="module")
def unknown_sigma_fits(rows_unknown_sigma):
    """Partial and no pooling of raw rows with sigma estimated (the ss_i term)."""
    data = rows_unknown_sigma
    return data, {"partial_pooling": fit(data, seed=5, **FAST),
                  "no_pooling": fit(pooling_model(data, "no_pooling"), seed=6, **FAST)}


def test_integrated_log_likelihood_unknown_sigma_has_ss_term(unknown_sigma_fits):
    """se_i = sigma / sqrt(n_i) per draw, plus log Gamma(ss_i | (n_i - 1)/2, rate
    1/(2 sigma^2)) -- the same ss term as fit's conditional log-likelihood."""
    data, fits = unknown_sigma_fits
    n, ybar, ss = data.n.astype(float), data.means, data.ss
    mu0 = Priors().resolve(data).mu_mean
    s = no_pooling_prior_sd(data, mu0)
    for name, idata in fits.items():
        post = idata.posterior
        ll = integrated_log_likelihood(idata).values
        cond = idata.log_likelihood["y"].values
        for c, d in ((0, 0), (1, 250), (1, 499)):
            sigma = float(post["sigma"][c, d])
            se = sigma / np.sqrt(n)
            ss_term = stats.gamma.logpdf(ss, (n - 1) / 2, scale=2 * sigma**2)
            if name == "partial_pooling":
                normal = stats.norm.logpdf(ybar, float(post["mu"][c, d]),
                                           np.sqrt(float(post["tau"][c, d]) ** 2 + se**2))
            else:
                normal = stats.norm.logpdf(ybar, mu0, np.sqrt(s**2 + se**2))
            np.testing.assert_allclose(ll[c, d], normal + ss_term, rtol=1e-12)
            theta = post["theta"].values[c, d]
            np.testing.assert_allclose(cond[c, d] - stats.norm.logpdf(ybar, theta, se),
                                       ss_term, rtol=1e-9)
            assert np.all(np.abs(ss_term) > 0.1)  # a term that matters
    # no pooling is no longer exact: sigma, shared by all groups, varies over draws
    with warnings.catch_warnings():  # 4 groups: leaving one out moves tau (k ~ 0.8)
        warnings.simplefilter("ignore", ParetoKWarning)
        table = compare_loo(fits)
    assert np.isfinite(table.loc["no_pooling", "pareto_k_max"])
    assert table.loc["no_pooling", "p_loo"] > 0


def test_k_threshold_follows_draw_count(es, es_fit):
    assert k_threshold(100) == pytest.approx(0.5, rel=1e-12)
    assert k_threshold(1000) == pytest.approx(2 / 3, rel=1e-12)
    assert k_threshold(2000) == pytest.approx(1 - 1 / np.log10(2000), rel=1e-12)
    assert k_threshold(2000) < K_THRESHOLD
    assert k_threshold(4000) == K_THRESHOLD == 0.7
    for bad in (0, 10, 2.5):
        with pytest.raises(ValueError, match="n_draws"):
            k_threshold(bad)
    # 4 chains x 25 draws: S = 100, threshold 0.5 -- ArviZ's good_k
    small = es_fit.isel(draw=slice(0, 25))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Pareto.*")
        elpd = az.loo(small, pointwise=True)
    assert elpd.good_k == pytest.approx(0.5, rel=1e-12)
    k = np.asarray(elpd.pareto_k)
    assert (k > 0.5).sum() > 0 and (k > K_THRESHOLD).sum() < (k > 0.5).sum()
    with pytest.warns(ParetoKWarning, match=r"pp \(threshold 0\.50 at S = 100 draws\)"):
        table = compare_loo({"pp": small}, likelihood="conditional")
    assert table.attrs["k_threshold"] == table.loc["pp", "k_threshold"] == elpd.good_k
    assert table.loc["pp", "n_k_above_threshold"] == (k > 0.5).sum()
    # different draw counts: one threshold per model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)
        mixed = compare_loo({"s100": small, "s1000": es.fits["partial_pooling"],
                             "s4000": es_fit})
    assert mixed.attrs["k_threshold"] == {"s100": 0.5, "s1000": pytest.approx(2 / 3),
                                          "s4000": 0.7}
    assert mixed.loc["s4000", "k_threshold"] == 0.7


def es_ll_dims(idata):
    return idata.log_likelihood["y"].dims


def test_pooling_models(es):
    data = es.data
    cp = es.fits["complete_pooling"].posterior
    np.testing.assert_array_equal(cp["theta"].values, np.repeat(cp["mu"].values[..., None], 8,
                                                                axis=-1))
    assert cp.attrs["parameterization"] == "complete-pooling"
    # no pooling ~ ybar_i: the prior moves each estimate by <= 1% (plus MC error)
    npool = es.fits["no_pooling"].posterior["theta"].mean(("chain", "draw")).values
    assert np.all(np.abs(npool - data.means) < 0.01 * np.abs(data.means) + 4 * data.se / 20)


def test_pareto_k_warning_for_extreme_well_measured_group(es):
    """Complete pooling with one school at 40 measured with se 1 (others ~0, se 10): mu is
    pinned by that school, so leaving it out moves the posterior far -- k > 0.7."""
    data = HierData.from_estimates([0, 2, -1, 1, -2, 0, 1, 40.0], [10.0] * 7 + [1.0],
                                   groups=list("ABCDEFGH"))
    fits = {"complete_pooling": fit(pooling_model(data, "complete_pooling"), seed=1, **FAST),
            "partial_pooling": fit(data, seed=1, **FAST)}
    for likelihood in ("integrated", "conditional"):  # the same for complete pooling
        with pytest.warns(ParetoKWarning, match=r"complete_pooling \(threshold 0\.67 at S = "
                                                r"1000 draws\): H \(k="):
            table = compare_loo(fits, likelihood=likelihood)
        assert table.loc["complete_pooling", "pareto_k_max"] > 0.7
        assert table.loc["complete_pooling", "n_k_above_threshold"] == 1
        assert table.loc["complete_pooling", "worst_group"] == "H"
        assert table.index[0] == "partial_pooling"


def test_argument_errors(es):
    data, post = es.data, es.fits["partial_pooling"]
    cases = [
        (lambda: compare_loo({}), TypeError, "fits"),
        (lambda: compare_loo({"a": post}, likelihood="marginal"), ValueError, "likelihood"),
        (lambda: compare_pooling(data, likelihood="exact"), ValueError, "likelihood"),
        (lambda: compare_pooling(data, no_pooling_sd=0.0), ValueError, "no_pooling_sd"),
        (lambda: integrated_log_likelihood(post.posterior), TypeError, "InferenceData"),
        (lambda: integrated_log_likelihood(_without_np_attrs(es.fits["no_pooling"])),
         ValueError, "no_pooling_sd"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()


def _without_np_attrs(idata):
    """A copy of a no-pooling fit that lacks the recorded prior (as from an older version)."""
    out = idata.copy()
    out.posterior.attrs = {k: v for k, v in idata.posterior.attrs.items()
                           if not k.startswith("no_pooling")}
    return out


def test_groups_of_one_row_add_no_ss_term_to_loo(radon_like):
    """Radon-like rows (13 groups of one row, sigma unknown): the integrated log-likelihood of
    a group of one row is log N(ybar_i | mu, tau^2 + sigma^2) alone, of the others it adds
    log p(ss_i | sigma) (scipy's gamma), and leave-one-group-out LOO is finite."""
    data, idata = radon_like
    ll = integrated_log_likelihood(idata)
    post = idata.posterior
    mu, tau, sigma = (post[v].values[..., None] for v in ("mu", "tau", "sigma"))
    expect = stats.norm.logpdf(data.means, mu, np.sqrt(tau**2 + sigma**2 / data.n))
    many = data.n > 1
    expect[..., many] += stats.gamma.logpdf(data.ss[many], (data.n[many] - 1) / 2,
                                            scale=2 * sigma**2)
    np.testing.assert_allclose(ll.values, expect, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = compare_loo({"hier": idata}, likelihood="integrated")
    assert np.isfinite(table["elpd_loo"]).all()
