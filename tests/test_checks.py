"""Predictive checks, p-values, plots and the pooling comparison -- real NUTS, small draws.

Fits are shared through module-scoped fixtures: one compile per model structure (Eight
Schools: three models; the simulated raw-row data: one).  Small draws are intentional, so
SamplingWarning (low ESS) is silenced here.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import arviz as az
import numpy as np
import pytest
from matplotlib.figure import Figure

from hiermodel import HierData, Priors, eight_schools
from hiermodel.checks import (
    POOLING,
    ParetoKWarning,
    compare_loo,
    compare_pooling,
    no_pooling_prior_sd,
    plot_ppc,
    plot_test_statistics,
    pooling_model,
    posterior_predictive_draws,
    ppc_table,
    prior_predictive_draws,
    t_statistic,
)
from hiermodel.fit import HierModelWarning, fit

pytestmark = pytest.mark.filterwarnings("ignore::hiermodel.fit.SamplingWarning")
FAST = {"draws": 500, "tune": 500, "chains": 2}
#: simulation seeds of the planted-misfit tests (seeds 0-11 tried: see those tests)
SIM_SEEDS = (0, 2)


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
def es_pp(es):
    """Posterior predictive draws of the hierarchical fit, with a new group of se 10."""
    return posterior_predictive_draws(es.fits["partial_pooling"], es.data, se_new=10.0, seed=3)


def simulate(seed: int, kind: str, n_groups: int = 30, n: int = 10) -> HierData:
    """Raw rows y_ij = theta_i + e_ij, theta_i ~ N(0, 1): e ~ N(0, 1) ("model"), the same
    with theta_0 shifted by 12 ("outlier"), or e ~ Student-t with 2 df ("heavy")."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, n_groups)
    if kind == "outlier":
        theta[0] += 12.0
    g = np.repeat(np.arange(n_groups), n)
    noise = rng.standard_t(2, g.size) if kind == "heavy" else rng.normal(0.0, 1.0, g.size)
    return HierData.from_observations(theta[g] + noise, [f"g{i}" for i in g])


@pytest.fixture(scope="module")
def sims():
    """{(seed, kind): (data, posterior predictive idata)}; one compiled model serves all."""
    out = {}
    for seed in SIM_SEEDS:
        for kind in ("model", "outlier", "heavy"):
            data = simulate(seed, kind)
            idata = fit(data, seed=seed, **FAST)
            out[seed, kind] = data, posterior_predictive_draws(idata, data, n_new=10, seed=seed)
    return out


# ----------------------------------------------------------------------------- predictive draws
def test_prior_predictive_groups_shapes_and_seed():
    data = eight_schools()
    a = prior_predictive_draws(data, draws=300, se_new=10.0, seed=1)
    b = prior_predictive_draws(data, draws=300, se_new=10.0, seed=1)
    c = prior_predictive_draws(data, draws=300, se_new=10.0, seed=2)
    assert {"prior", "prior_predictive", "observed_data", "constant_data"} <= set(a.groups())
    pp = a.prior_predictive
    assert set(pp.data_vars) == {"y", "y_mixed", "theta_new", "y_new"}
    assert pp["y"].dims == ("chain", "draw", "group") and pp["y"].shape == (1, 300, 8)
    assert list(pp["group"].values) == list("ABCDEFGH")
    assert set(a.prior.data_vars) == {"mu", "tau", "theta"}
    np.testing.assert_array_equal(pp["y"], b.prior_predictive["y"])
    assert not np.allclose(pp["y"], c.prior_predictive["y"])
    # y_new | theta_new ~ N(theta_new, 10^2)
    resid = (pp["y_new"] - pp["theta_new"]).values.ravel()
    assert abs(resid.std() - 10.0) < 10.0 * 5 / np.sqrt(2 * 300)
    table = ppc_table(a, group="prior")
    assert table["p_value"].between(0, 1).all()


def test_posterior_predictive_same_groups(es, es_pp):
    post = es.fits["partial_pooling"]
    assert "posterior_predictive" not in post.groups()  # input left alone
    pp = es_pp.posterior_predictive
    assert set(pp.data_vars) == {"y", "y_mixed", "theta_new", "y_new"}
    assert pp["y"].dims == ("chain", "draw", "group")
    assert list(pp["group"].values) == list("ABCDEFGH")
    assert pp.sizes["chain"] == 2 and pp.sizes["draw"] == 500
    # ybar_i^rep - theta_i ~ N(0, se_i^2), theta_i from the same posterior draw
    resid = (pp["y"] - post.posterior["theta"]).std(("chain", "draw")).values
    np.testing.assert_allclose(resid, es.data.se, rtol=5 / np.sqrt(2 * 1000))


def test_posterior_predictive_reproducible_and_pooling_fits(es):
    data, cp = es.data, es.fits["complete_pooling"]
    a = posterior_predictive_draws(cp, data, seed=11)
    b = posterior_predictive_draws(cp, data, seed=11)
    c = posterior_predictive_draws(cp, data, seed=12)
    np.testing.assert_array_equal(a.posterior_predictive["y"], b.posterior_predictive["y"])
    assert not np.allclose(a.posterior_predictive["y"], c.posterior_predictive["y"])
    assert set(a.posterior_predictive.data_vars) == {"y"}  # no population: no new group
    with pytest.raises(ValueError, match="se_new"):
        posterior_predictive_draws(cp, data, se_new=10.0)


def test_new_group_moments(es, es_pp):
    """theta_new ~ N(mu, tau^2) per draw: E = E[mu], Var = E[tau^2] + Var(mu) (MC error)."""
    post = es.fits["partial_pooling"].posterior
    mu, tau = post["mu"].values.ravel(), post["tau"].values.ravel()
    tn = es_pp.posterior_predictive["theta_new"].values.ravel()
    s = tn.size
    assert abs(tn.mean() - mu.mean()) < 4 * np.sqrt(np.mean(tau**2) / s)
    expect = np.mean(tau**2) + mu.var()
    sd_var = np.sqrt((2 * np.mean(tau**4) + 4 * np.mean((mu - mu.mean()) ** 2 * tau**2)) / s)
    assert abs(tn.var() - expect) < 4 * sd_var
    yn = es_pp.posterior_predictive["y_new"].values.ravel()
    assert abs((yn - tn).std() - 10.0) < 10.0 * 5 / np.sqrt(2 * s)


def test_rows_replicates_shape_and_labels(sims):
    data, pp = sims[SIM_SEEDS[0], "model"]
    y, idx = data.rows
    rows = pp.posterior_predictive["y_rows"]
    assert rows.dims == ("chain", "draw", "obs") and rows.sizes["obs"] == y.size == 300
    labels = np.asarray(data.groups)[idx]
    np.testing.assert_array_equal(rows["obs_group"].values, labels)
    np.testing.assert_array_equal(pp.observed_data["y_rows"].values, y)
    np.testing.assert_array_equal(pp.observed_data["obs_group"].values, labels)
    assert {"y", "ss", "y_rows", "y_mixed", "theta_new", "y_new"} == set(
        pp.posterior_predictive.data_vars)
    # y_ij^rep - theta_i ~ N(0, sigma^2); y_new - theta_new ~ N(0, sigma^2 / 10)
    post = pp.posterior
    theta_rows = post["theta"].values[..., idx]
    sigma = post["sigma"].values
    z = (rows.values - theta_rows) / sigma[..., None]
    assert abs(z.std() - 1) < 0.02
    pred = pp.posterior_predictive
    zn = (pred["y_new"] - pred["theta_new"]).values / (sigma / np.sqrt(10))
    assert abs(zn.std() - 1) < 5 / np.sqrt(2 * zn.size)


# ----------------------------------------------------------------------------- p-values
def _top_gap(y):
    """A scalar statistic (applied per draw): the gap between the two largest means."""
    s = np.sort(y)
    return s[-1] - s[-2]


def test_p_values_from_draws_by_hand(es, es_pp):
    def q75(y):
        return np.percentile(y, 75, axis=-1)  # vectorised over draws

    table = ppc_table(es_pp, {"max": "max", "sd": "sd", "q75": q75, "gap": _top_gap})
    assert list(table.columns) == ["T_obs", "mean_rep", "p_value", "mc_se"]
    assert table["p_value"].between(0, 1).all() and (table["mc_se"] >= 0).all()
    yobs = es.data.means
    yrep = es_pp.posterior_predictive["y"].values  # (chain, draw, group)
    for name, fn in (("max", lambda a: a.max(-1)), ("sd", lambda a: a.std(-1, ddof=1)),
                     ("q75", q75), ("gap", lambda a: np.apply_along_axis(_top_gap, -1, a))):
        ind = fn(yrep) >= fn(yobs)
        p = np.mean(ind)
        assert table.loc[name, "T_obs"] == pytest.approx(float(fn(yobs)))
        assert table.loc[name, "p_value"] == pytest.approx(p, abs=1e-12)
        se = np.sqrt(p * (1 - p) / az.ess(ind.astype(float)))
        assert table.loc[name, "mc_se"] == pytest.approx(se, rel=1e-9)
    t_obs, t_rep = t_statistic(es_pp, "max")
    assert t_obs == 28.0 and t_rep.dims == ("chain", "draw")


@pytest.mark.parametrize("seed", SIM_SEEDS)
def test_outlying_group_caught_by_mixed_replication(sims, seed):
    """One group 12 sd out: y_mixed (new theta_i per group) flags max; data from the model do
    not.  Same-group replication (y) cannot: theta_0's posterior follows its own ybar_0.
    Over seeds 0-11: outlier p(max) <= 0.006; model p(max), p(range) in [0.07, 0.87]."""
    out = ppc_table(sims[seed, "outlier"][1], ["max", "range"], var_name="y_mixed")
    good = ppc_table(sims[seed, "model"][1], ["max", "range"], var_name="y_mixed")
    assert out.loc["max", "p_value"] < 0.01
    assert good["p_value"].between(0.01, 0.99).all()
    same = ppc_table(sims[seed, "outlier"][1], ["max"], var_name="y")
    assert same.loc["max", "p_value"] > 0.05


@pytest.mark.parametrize("seed", SIM_SEEDS)
def test_heavy_tailed_rows_caught(sims, seed):
    """t(2) noise: the range of the rows is far beyond every normal replicate; data from the
    model are not flagged.  Over seeds 0-11: heavy p(range) = 0; model p(max), p(range) in
    [0.04, 0.93]."""
    heavy = ppc_table(sims[seed, "heavy"][1], ["max", "range"], var_name="y_rows")
    good = ppc_table(sims[seed, "model"][1], var_name="y_rows")
    assert heavy.loc["range", "p_value"] < 0.01
    assert list(good.index) == ["min", "max", "mean", "sd", "range", "spread"]
    assert good["p_value"].between(0.01, 0.99).all()


# ----------------------------------------------------------------------------- pooling / LOO
def test_compare_pooling_eight_schools(es):
    table = es.table
    assert set(table.index) == set(POOLING)
    assert list(table["rank"]) == [0, 1, 2]
    assert table["elpd_diff"].iloc[0] == 0 and (table["elpd_diff"].iloc[1:] > 0).all()
    assert np.isfinite(table[["elpd_loo", "se", "dse", "pareto_k_max"]].to_numpy()).all()
    assert "leave-one-group-out" in table.attrs["loo"]
    # centred at the default prior's mu mean (the precision-weighted mean, 7.686):
    # 10 * max(max |ybar_i - 7.686|, max se_i) = 10 * |28 - 7.686| = 203.14
    mu0 = Priors().resolve(es.data).mu_mean
    assert table.attrs["no_pooling_sd"] == no_pooling_prior_sd(es.data, mu0)
    assert table.attrs["no_pooling_sd"] == pytest.approx(10 * (28 - mu0), rel=1e-12)
    for idata in es.fits.values():
        assert es_ll_dims(idata) == ("chain", "draw", "group")
    # no pooling: leaving a group out leaves theta_i with its prior only -> k > 0.7
    assert table.loc["no_pooling", "n_k_above_0.7"] > 0
    assert bool(table.loc["no_pooling", "warning"])
    assert len(es.pareto) == 1 and "no_pooling" in str(es.pareto[0].message)
    assert issubclass(ParetoKWarning, HierModelWarning)


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
    rows = simulate(0, "model", n_groups=4, n=3)
    m = pooling_model(rows, "no_pooling")
    assert {v.name for v in m.free_RVs} == {"theta", "sigma"}
    assert {v.name for v in m.observed_RVs} == {"y", "ss"}
    m = pooling_model(data, "complete_pooling")
    assert [v.name for v in m.free_RVs] == ["mu"]


def test_pareto_k_warning_for_extreme_well_measured_group(es):
    """Complete pooling with one school at 40 measured with se 1 (others ~0, se 10): mu is
    pinned by that school, so leaving it out moves the posterior far -- k > 0.7."""
    data = HierData.from_estimates([0, 2, -1, 1, -2, 0, 1, 40.0], [10.0] * 7 + [1.0],
                                   groups=list("ABCDEFGH"))
    fits = {"complete_pooling": fit(pooling_model(data, "complete_pooling"), seed=1, **FAST),
            "partial_pooling": fit(data, seed=1, **FAST)}
    with pytest.warns(ParetoKWarning, match=r"complete_pooling: H \(k="):
        table = compare_loo(fits)
    assert table.loc["complete_pooling", "pareto_k_max"] > 0.7
    assert table.loc["complete_pooling", "worst_group"] == "H"
    assert table.index[0] == "partial_pooling"


# ----------------------------------------------------------------------------- plots
def test_plot_test_statistics(es_pp, tmp_path):
    stats = ["min", "max", "range"]
    fig = plot_test_statistics(es_pp, stats)
    assert isinstance(fig, Figure) and len(fig.axes) == len(stats)
    table = ppc_table(es_pp, stats)
    for ax, name in zip(fig.axes, stats, strict=True):
        vlines = [ln for ln in ax.get_lines() if ln.get_label() == "T(y) observed"]
        assert len(vlines) == 1
        x = vlines[0].get_xdata()
        assert x[0] == x[1] == pytest.approx(table.loc[name, "T_obs"])
        assert ax.get_title() == f"{name}  (p = {table.loc[name, 'p_value']:.3f})"
        assert ax.get_xlabel() == f"{name}(y^rep)" and ax.get_ylabel() == "draws"
        assert sum(p.get_height() for p in ax.patches) == 1000  # every draw binned
    fig.savefig(tmp_path / "tstats.png")
    assert (tmp_path / "tstats.png").stat().st_size > 1000


def test_plot_ppc(es_pp, tmp_path):
    fig = plot_ppc(es_pp, var_name="y_mixed", num_pp_samples=50)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Observed" in legend and "Posterior predictive" in legend
    fig.savefig(tmp_path / "ppc.png")
    assert (tmp_path / "ppc.png").stat().st_size > 1000


# ----------------------------------------------------------------------------- validation
def test_argument_errors(es, es_pp):
    data, post = es.data, es.fits["partial_pooling"]
    cases = [
        (lambda: posterior_predictive_draws(post, data, se_new=1.0, n_new=4), ValueError,
         "not both"),
        (lambda: posterior_predictive_draws(post, data, n_new=4), ValueError, "se_new"),
        (lambda: posterior_predictive_draws(post, data, rows=True), ValueError, "rows"),
        (lambda: posterior_predictive_draws(post, data, se_new=-1.0), ValueError, "se_new"),
        (lambda: posterior_predictive_draws(post, "data"), TypeError, "data"),
        (lambda: posterior_predictive_draws(post, simulate(0, "model", 8, 2)), ValueError,
         "groups differ"),
        (lambda: prior_predictive_draws(data, draws=0), ValueError, "draws"),
        (lambda: ppc_table(es_pp, "kurtosis"), ValueError, "must be one of"),
        (lambda: ppc_table(es_pp, var_name="z"), ValueError, "var_name"),
        (lambda: ppc_table(es_pp, group="post"), ValueError, "group"),
        (lambda: ppc_table(es_pp, [lambda y: y]), ValueError, "one number"),
        (lambda: ppc_table(es_pp, var_name="y_rows"), ValueError, "y_rows"),
        (lambda: ppc_table(post), ValueError, "posterior_predictive"),
        (lambda: pooling_model(data, "partial"), ValueError, "must be one of"),
        (lambda: compare_loo({}), TypeError, "fits"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()
