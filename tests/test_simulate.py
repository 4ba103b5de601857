"""Tests of hiermodel.simulate: data simulation, the seed's exercises, executors, Dask input.

Statistical assertions use closed forms (``E[(ybar - theta)^2] = se^2``,
``Var(ybar) = tau^2 + se^2``, oracle weights ``tau^2 / (tau^2 + se^2)``) with tolerances of
several Monte Carlo standard errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hiermodel.data import HierData
from hiermodel.priors import Priors
from hiermodel.shrinkage import eb_core
from hiermodel.simulate import (
    SEED_N,
    SEED_SIGMA,
    MSEStudy,
    default_executor,
    fit_replicates,
    map_chunked,
    mse_study,
    plot_pooling_vs_tau,
    plot_shrinkage_by_size,
    pooling_vs_tau,
    replicate_seeds,
    shrinkage_by_size,
    simulate,
    simulate_arrays,
)

SE_SEED = SEED_SIGMA / np.sqrt(np.array(SEED_N))


def _add(a, b):
    return a + b


# ----------------------------------------------------------------------------- data
def test_simulate_summary_reproducible_and_typed():
    a = simulate(75.0, 5.0, SEED_SIGMA, SEED_N, seed=3)
    b = simulate(75.0, 5.0, SEED_SIGMA, SEED_N, seed=3)
    c = simulate(75.0, 5.0, SEED_SIGMA, SEED_N, seed=4)
    assert isinstance(a.data, HierData) and a.data.source == "summary"
    assert a.data == b.data and np.array_equal(a.theta, b.theta)
    assert not np.array_equal(a.data.means, c.data.means)
    np.testing.assert_allclose(a.data.se, SE_SEED)
    assert a.data.n.tolist() == list(SEED_N)
    assert "tau=5" in repr(a)


def test_simulate_rows_sufficient_stats_and_sigma_unknown():
    sim = simulate(10.0, 2.0, 3.0, [4, 6, 9], rows=True, groups=["a", "b", "c"], seed=1)
    d = sim.data
    assert d.has_rows and d.sigma_known and d.groups == ("a", "b", "c")
    y, idx = d.rows
    assert y.size == 19
    np.testing.assert_allclose(d.means, [y[idx == i].mean() for i in range(3)])
    un = simulate(10.0, 2.0, 3.0, 50, n_groups=4, rows=True, sigma_known=False, seed=1)
    assert not un.data.sigma_known and un.data.sigma_hat > 0
    with pytest.raises(ValueError, match="sigma_known=False"):
        simulate(0, 1, [1.0, 2.0], [3, 3], rows=True, sigma_known=False, seed=0)


def test_simulate_arrays_moments_match_closed_form():
    # Var(ybar_i) = tau^2 + se_i^2 and E[(ybar - theta)^2] = se^2, checked to 5 MC sds
    r, tau = 40_000, 4.0
    sim = simulate_arrays(r, 1.0, tau, sigma=SEED_SIGMA, n=SEED_N, seed=11)
    assert sim.means.shape == (r, 8) and len(sim) == r
    means, se, theta = sim
    v_true = tau**2 + SE_SEED**2
    v_hat = means.var(axis=0, ddof=1)
    assert np.all(np.abs(v_hat - v_true) < 5 * v_true * np.sqrt(2 / (r - 1)))
    err2 = (means - theta) ** 2
    assert np.all(np.abs(err2.mean(0) - SE_SEED**2) < 5 * SE_SEED**2 * np.sqrt(2 / r))
    assert np.all(np.abs(means.mean(0) - 1.0) < 5 * np.sqrt(v_true / r))
    d = sim.dataset(0)
    assert d.source == "estimates" and np.array_equal(d.means, means[0])


@pytest.mark.parametrize(("kwargs", "err", "match"), [
    ({"mu": 0, "tau": -1, "sigma": 1, "n": [2, 3]}, ValueError, "`tau` must be >= 0"),
    ({"mu": 0, "tau": 1, "sigma": 0, "n": [2, 3]}, ValueError, "`sigma` must be > 0"),
    ({"mu": 0, "tau": 1, "sigma": 1, "n": 5}, ValueError, "n_groups"),
    ({"mu": 0, "tau": 1, "sigma": 1, "n": [2.5, 3]}, ValueError, "whole numbers"),
    ({"mu": 0, "tau": 1, "sigma": 1, "n": [3]}, ValueError, "at least 2 groups"),
    ({"mu": "a", "tau": 1, "sigma": 1, "n": [2, 3]}, TypeError, "`mu` must be numeric"),
    ({"mu": 0, "tau": 1, "sigma": 1, "n": [2, 3], "seed": -1}, ValueError, "`seed`"),
    ({"mu": 0, "tau": 1, "sigma": 1, "n": [2, 3], "seed": "x"}, TypeError, "`seed`"),
])
def test_simulate_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        simulate(**kwargs)


def test_simulate_arrays_bad_input():
    with pytest.raises(ValueError, match="either `se`"):
        simulate_arrays(5, 0, 1)
    with pytest.raises(ValueError, match="not both"):
        simulate_arrays(5, 0, 1, se=[1, 2], sigma=1, n=[2, 2])
    with pytest.raises(ValueError, match=r"`tau` must be a scalar or have shape \(5,\)"):
        simulate_arrays(5, 0, [1, 2], se=[1, 2])
    with pytest.raises(ValueError, match="n_datasets"):
        simulate_arrays(0, 0, 1, se=[1, 2])


# ----------------------------------------------------------------------------- exercise 1
def test_pooling_vs_tau_moves_from_complete_to_no_pooling():
    taus = [0.0, 1.0, 5.0, 50.0, 1e4]
    tab = pooling_vs_tau(taus, method="true", mu=2.0, seed=5)
    assert len(tab) == len(taus) * 8
    np.testing.assert_allclose(tab["weight"], tab["weight_true"])
    se2 = tab["se"] ** 2
    np.testing.assert_allclose(tab["weight_true"], tab["tau"] ** 2 / (tab["tau"] ** 2 + se2))
    t0 = tab[tab["tau"] == 0]   # tau = 0: every estimate is the grand mean (mu)
    np.testing.assert_allclose(t0["partial_pooling"], 2.0)
    big = tab[tab["tau"] == 1e4]  # tau -> inf: no pooling
    np.testing.assert_allclose(big["partial_pooling"], big["no_pooling"], rtol=1e-6)
    # partial pooling lies between the two everywhere, and w increases with tau per group
    lo = np.minimum(tab["no_pooling"], tab["complete_pooling"]) - 1e-9
    hi = np.maximum(tab["no_pooling"], tab["complete_pooling"]) + 1e-9
    assert ((tab["partial_pooling"] >= lo) & (tab["partial_pooling"] <= hi)).all()
    w = tab.pivot(index="tau", columns="group", values="weight")
    assert (w.diff().iloc[1:] > 0).all().all()


def test_pooling_vs_tau_estimated_weights_and_plot():
    tab = pooling_vs_tau(seed=2)             # REML on one set of common random numbers
    w = tab.groupby("tau")["weight"].mean()
    assert w.loc[0.0] < 0.2 and w.loc[50.0] > 0.95
    lo = np.minimum(tab["no_pooling"], tab["mu_hat"]) - 1e-9
    hi = np.maximum(tab["no_pooling"], tab["mu_hat"]) + 1e-9
    assert ((tab["partial_pooling"] >= lo) & (tab["partial_pooling"] <= hi)).all()
    assert pooling_vs_tau(seed=2).equals(tab)
    fig = plot_pooling_vs_tau(tab)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    with pytest.raises(ValueError, match="method"):
        pooling_vs_tau(method="bayes")
    with pytest.raises(ValueError, match="`taus` must be >= 0"):
        pooling_vs_tau([-1.0])
    with pytest.raises(TypeError, match="pooling_vs_tau"):
        plot_pooling_vs_tau(pd.DataFrame({"x": [1]}))


# ----------------------------------------------------------------------------- exercise 2
def test_shrinkage_by_size_small_groups_shrink_more():
    tab = shrinkage_by_size(seed=4)
    assert tab["n"].tolist() == [5, 50, 500]
    # the oracle factor is the closed form; the estimate decreases with n, well separated
    se = SEED_SIGMA / np.sqrt(tab["n"])
    np.testing.assert_allclose(tab["shrinkage_true"], se**2 / (25 + se**2))
    assert (np.diff(tab["shrinkage"]) < 0).all()
    assert (tab["shrinkage_lo"].to_numpy()[:-1] > tab["shrinkage_hi"].to_numpy()[1:]).all()
    # no-pooling MSE is se^2 exactly: the simulation agrees within 5 MC sds
    r, k = tab["n_datasets"].iloc[0], tab["n_groups"].iloc[0]
    tol = 5 * se**2 * np.sqrt(2 / (r * k))
    assert (np.abs(tab["mse_no_pooling"] - se**2) < tol).all()
    # pooling helps the small groups (interval below se^2) and barely touches n = 500
    assert tab["mse_partial_hi"].iloc[0] < se.iloc[0] ** 2
    assert tab["moved"].iloc[0] > 5 * tab["moved"].iloc[2]
    assert isinstance(plot_shrinkage_by_size(tab), Figure)
    with pytest.raises(ValueError, match="distinct"):
        shrinkage_by_size((5, 5))


# ----------------------------------------------------------------------------- exercise 3
def test_mse_study_partial_pooling_beats_no_pooling():
    study = mse_study(seed=0)                # defaults: 10,000 datasets, every tau estimator
    assert isinstance(study, MSEStudy)
    tab = study.table
    assert set(tab.index) == {"no_pooling", "complete_pooling", "eb_dl", "eb_pm", "eb_ml",
                              "eb_reml", "eb_seed"}
    assert (tab["n_datasets"] == 10_000).all()
    for m in ("dl", "pm", "ml", "reml", "sd_of_means"):
        assert tab.loc[f"eb_{m}", "gain_lo"] > 0, m
    # no pooling's MSE is mean(se^2) exactly: inside its Monte Carlo interval (widened 2x)
    exact = np.mean(SE_SEED**2)
    half = tab.loc["no_pooling", "mse_hi"] - tab.loc["no_pooling", "mse"]
    assert abs(tab.loc["no_pooling", "mse"] - exact) < 2 * half
    # the losses table reproduces the vectorised EB core
    sim = simulate_arrays(10_000, 0.0, 5.0, sigma=SEED_SIGMA, n=SEED_N,
                          seed=np.random.SeedSequence(0).spawn(2)[0])
    loss = ((eb_core(sim.means, sim.se, "reml").theta - sim.theta) ** 2).mean(1)
    np.testing.assert_allclose(study.losses["eb_reml"], loss)
    assert isinstance(study.plot(), Figure)
    assert "eb_reml" in repr(study)


def test_mse_study_bad_input():
    with pytest.raises(ValueError, match="method"):
        mse_study(100, methods=["bogus"])
    with pytest.raises(TypeError, match="sequence of method names"):
        mse_study(100, methods="reml")
    with pytest.raises(ValueError, match="not both"):
        mse_study(100, se=[1, 2, 3], n=[2, 3, 4])
    with pytest.raises(ValueError, match="n_bayes"):
        mse_study(10, n_bayes=20)
    with pytest.raises(ValueError, match="level"):
        mse_study(10, level=95)


# ----------------------------------------------------------------------------- executors
def test_replicate_seeds_depend_only_on_seed_and_index():
    s10 = replicate_seeds(7, 10)
    assert np.array_equal(replicate_seeds(7, 4), s10[:4])
    assert len(set(s10.tolist())) == 10
    assert not np.array_equal(replicate_seeds(8, 4), s10[:4])


def test_map_chunked_order_and_validation():
    args = [(i, 10 * i) for i in range(11)]
    expected = [11 * i for i in range(11)]
    assert map_chunked(_add, args, executor="serial") == expected
    with ThreadPoolExecutor(3) as pool:
        assert map_chunked(_add, args, executor=pool, chunksize=2) == expected
        assert map_chunked(_add, args, executor=pool) == expected
    assert map_chunked(_add, [], executor="serial") == []
    with pytest.raises(ValueError, match="serial"):
        map_chunked(_add, args, executor="parallel")
    with pytest.raises(TypeError, match="Executor"):
        map_chunked(_add, args, executor=3)


def test_map_chunked_default_runs_in_this_process():
    calls = []

    def record(i):  # a closure: not picklable, so it can only run in this process
        calls.append(i)
        return os.getpid()

    assert map_chunked(record, [(i,) for i in range(5)]) == [os.getpid()] * 5
    assert calls == list(range(5))


NO_GUARD_SCRIPT = """
import warnings

warnings.simplefilter("ignore")
from hiermodel.priors import Priors
from hiermodel.sbc import sbc
from hiermodel.simulate import mse_study

P = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)
FIT = {"draws": 30, "tune": 30, "chains": 1}
study = mse_study(20, methods=["reml"], n_bayes=2, priors=P, fit_kwargs=FIT, seed=1)
res = sbc(2, priors=P, parameterization="marginal", L=9, n_bins=2, seed=1, **FIT)
print("HIERMODEL-SCRIPT-DONE", study.table.shape, res.n_replicates, flush=True)
"""


def test_studies_run_from_a_plain_script_without_main_guard(tmp_path):
    """mse_study and sbc with their default executor, called at the top level of a script
    with no ``if __name__ == "__main__":`` guard: the script runs once, and completes (a
    spawn process pool would re-run it in every worker and break)."""
    script = Path(tmp_path) / "study_script.py"
    script.write_text(textwrap.dedent(NO_GUARD_SCRIPT))
    env = {**os.environ, "CI": "true"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("HIERMODEL-SCRIPT-DONE") == 1, proc.stdout
    assert "HIERMODEL-SCRIPT-DONE (4, 8) 2" in proc.stdout


def test_fit_replicates_bad_input():
    with pytest.raises(ValueError, match=r"shape \(R, G\)"):
        fit_replicates(np.zeros(8), np.ones(8))
    with pytest.raises(ValueError, match="must not set"):
        fit_replicates(np.zeros((2, 3)), np.ones((2, 3)), fit_kwargs={"seed": 1})
    with pytest.raises(TypeError, match="Priors"):
        fit_replicates(np.zeros((2, 3)), np.ones((2, 3)), priors="flat")


def test_full_bayes_identical_on_every_executor():
    """Full-Bayes fits with the default (data-scaled) priors give bit-identical results
    serially, on a Dask LocalCluster (threads) and on a local process pool; and full Bayes
    shrinks like partial pooling."""
    from dask.distributed import Client, LocalCluster

    kw = {"n_datasets": 200, "methods": ["reml"], "n_bayes": 6, "seed": 9,
          "fit_kwargs": {"draws": 200, "tune": 200}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = mse_study(executor="serial", **kw)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            on_dask = mse_study(executor=client, **kw)
        with default_executor(1) as pool:
            on_pool = mse_study(executor=pool, **kw)
    assert serial.settings["priors"] == Priors()
    pd.testing.assert_frame_equal(serial.losses, on_dask.losses)
    pd.testing.assert_frame_equal(serial.losses, on_pool.losses)
    fb = serial.losses["full_bayes"]
    assert fb.notna().sum() == 6 and serial.table.loc["full_bayes", "n_datasets"] == 6
    # posterior means shrink: their loss tracks EB's far more closely than no pooling's
    sub = serial.losses.iloc[:6]
    assert np.abs(sub["full_bayes"] - sub["eb_reml"]).mean() < np.abs(
        sub["no_pooling"] - sub["eb_reml"]).mean()


def test_mse_study_default_priors_come_from_each_dataset_not_the_truth(monkeypatch):
    """Issue 14: the default full-Bayes priors are fit's data-scaled ones, resolved from each
    simulated dataset (what a user would run), never built from the true mu and tau."""
    fit_module = sys.modules["hiermodel.fit"]  # hiermodel.fit is also the function's name
    real_fit = fit_module.fit
    seen = []

    def spy(data, **kw):
        idata = real_fit(data, **kw)
        seen.append((kw.get("priors"), data, Priors.from_attrs(idata.posterior.attrs)))
        return idata

    monkeypatch.setattr(fit_module, "fit", spy)
    fit_kw = {"draws": 50, "tune": 50, "chains": 1}
    study = mse_study(20, mu=1000.0, tau=3.0, methods=["reml"], n_bayes=2, seed=2,
                      fit_kwargs=fit_kw)
    assert study.settings["priors"] == Priors() and len(seen) == 2
    for passed, data, used in seen:
        assert passed is None                           # fit resolves Priors() itself
        assert used == Priors().resolve(data)           # ... from this dataset alone
        # not the old truth-peeking default Priors(mu_mean=mu, mu_sd=10 (tau + max se))
        assert used.mu_mean != 1000.0 and abs(used.mu_mean - data.means.mean()) < 30
    assert seen[0][2] != seen[1][2]                     # one prior per dataset
    # fixed priors are still one argument away, and are used as given
    seen.clear()
    fixed = Priors(mu_mean=0.0, mu_sd=50.0, tau_scale=10.0)
    study = mse_study(20, methods=["reml"], n_bayes=2, seed=2, priors=fixed,
                      fit_kwargs=fit_kw)
    assert study.settings["priors"] == fixed
    assert [p for p, _, _ in seen] == [fixed, fixed]
    assert [u for _, _, u in seen] == [fixed.resolve(d) for _, d, _ in seen]


@pytest.mark.parametrize(("sampler", "priors"), [
    ("pymc", Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)),
    ("nutpie", None),                                   # the defaults: data-scaled priors
])
def test_fit_replicates_in_threads_equal_serial_bit_for_bit(sampler, priors):
    """Issue 14: fits in a thread pool (2 threads, one replicate per task) give exactly the
    serial numbers -- the report had mu [-2.314, -2.995, -2.362, -2.148] threaded vs
    [1.332, -2.995, 0.994, -2.148] serially with sampler="pymc".  (They share one compiled
    model and sample one at a time, so threads do not make them faster.)"""
    sim = simulate_arrays(4, 0.0, 5.0, se=SE_SEED, seed=3)
    kw = {"seed": 5, "priors": priors,
          "fit_kwargs": {"sampler": sampler, "draws": 40, "tune": 40, "chains": 2}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = fit_replicates(sim.means, sim.se, executor="serial", **kw)
        with ThreadPoolExecutor(2) as pool:
            threaded = fit_replicates(sim.means, sim.se, executor=pool, chunksize=1, **kw)
    for col in ("seed", "mu", "tau", "divergences"):
        pd.testing.assert_series_equal(serial[col], threaded[col], check_exact=True)
    assert np.array_equal(np.stack(serial["theta"]), np.stack(threaded["theta"]))
    assert serial["mu"].nunique() == 4                  # four different datasets and fits


# ----------------------------------------------------------------------------- Dask input
def test_dask_dataframe_reduces_to_the_same_sufficient_statistics():
    dd = pytest.importorskip("dask.dataframe")
    sim = simulate(1e4, 3.0, 2.0, [50, 80, 30, 40], rows=True, seed=2)
    y, idx = sim.data.rows
    pdf = pd.DataFrame({"score": y, "school": np.asarray(sim.data.groups)[idx]})
    lazy = dd.from_pandas(pdf, npartitions=4)
    got = HierData.from_dataframe(lazy, value="score", group="school", sigma=2.0)
    ref = HierData.from_dataframe(pdf, value="score", group="school", sigma=2.0)
    order = [got.groups.index(g) for g in ref.groups]
    np.testing.assert_allclose(got.means[order], ref.means, rtol=1e-12)
    np.testing.assert_allclose(got.ss[order], ref.ss, rtol=1e-10)  # mean 1e4, sd 2
    assert got.n[order].tolist() == ref.n.tolist() and not got.has_rows


def test_dask_dataframe_bad_values_raise():
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "g": ["a", "a", "b", "b"]})
    with pytest.raises(ValueError, match="`value`: column 'y' contains NaN"):
        HierData.from_dataframe(dd.from_pandas(df, npartitions=2), value="y", group="g")
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", None, "b", "b"]})
    with pytest.raises(ValueError, match="`group`: column 'g' contains missing"):
        HierData.from_dataframe(dd.from_pandas(df, npartitions=2), value="y", group="g")
    with pytest.raises(ValueError, match="`value`: column 'z'"):
        HierData.from_dataframe(dd.from_pandas(df, npartitions=2), value="z", group="g")


def test_mse_study_says_when_full_bayes_fits_diverge():
    """A full-Bayes MSE from divergent fits is not silent: SamplingWarning and the repr."""
    from hiermodel.fit import SamplingWarning

    kw = {"parameterization": "centered", "target_accept": 0.6, "tune": 100, "draws": 100,
          "chains": 2}
    with pytest.warns(SamplingWarning, match="full-Bayes fits had divergent transitions"):
        study = mse_study(20, n_bayes=6, seed=3, fit_kwargs=kw)
    assert study.settings["full_bayes_divergent_fits"] > 0
    assert "full-Bayes fits divergent" in repr(study)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)
        clean = mse_study(20, n_bayes=2, seed=3, fit_kwargs={"draws": 200, "tune": 200,
                                                             "chains": 2})
    assert clean.settings["full_bayes_divergent_fits"] == 0
