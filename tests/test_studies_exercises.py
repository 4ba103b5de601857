"""Tests of hiermodel.studies.exercises: the pooling and shrinkage studies (pooling against tau,
shrinkage by group size, the MSE study with empirical and full Bayes).

Statistical assertions use closed forms (``E[(ybar - theta)^2] = se^2``, oracle weights
``tau^2 / (tau^2 + se^2)``) with tolerances of several Monte Carlo standard errors.  The
figures of these results are tested with the plots.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from hiermodel.core import eb_core
from hiermodel.exceptions import SamplingWarning
from hiermodel.priors import Priors
from hiermodel.studies.exercises import MSEStudy, mse_study, pooling_vs_tau, shrinkage_by_size
from hiermodel.studies.simulation import SUMMARY_N, SUMMARY_SIGMA, simulate_arrays

SE_SUMMARY = SUMMARY_SIGMA / np.sqrt(np.array(SUMMARY_N))


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
    # (toward mu_hat, here the true mu; complete pooling is the precision-weighted mean)
    lo = np.minimum(tab["no_pooling"], tab["mu_hat"]) - 1e-9
    hi = np.maximum(tab["no_pooling"], tab["mu_hat"]) + 1e-9
    assert ((tab["partial_pooling"] >= lo) & (tab["partial_pooling"] <= hi)).all()
    w = tab.pivot(index="tau", columns="group", values="weight")
    assert (w.diff().iloc[1:] > 0).all().all()
    for _, d in tab.groupby("tau"):
        p = 1 / d["se"] ** 2
        np.testing.assert_allclose(d["complete_pooling"], np.sum(p * d["no_pooling"]) / p.sum(),
                                   rtol=1e-13)


def test_pooling_vs_tau_estimated_weights():
    tab = pooling_vs_tau(seed=2)             # REML on one set of common random numbers
    w = tab.groupby("tau")["weight"].mean()
    assert w.loc[0.0] < 0.2 and w.loc[50.0] > 0.95
    lo = np.minimum(tab["no_pooling"], tab["mu_hat"]) - 1e-9
    hi = np.maximum(tab["no_pooling"], tab["mu_hat"]) + 1e-9
    assert ((tab["partial_pooling"] >= lo) & (tab["partial_pooling"] <= hi)).all()
    assert pooling_vs_tau(seed=2).equals(tab)
    with pytest.raises(ValueError, match="method"):
        pooling_vs_tau(method="bayes")
    with pytest.raises(ValueError, match="`taus` must be >= 0"):
        pooling_vs_tau([-1.0])


# ----------------------------------------------------------------------------- exercise 2
def test_shrinkage_by_size_small_groups_shrink_more():
    tab = shrinkage_by_size(seed=4)
    assert tab["n"].tolist() == [5, 50, 500]
    # the oracle factor is the closed form; the estimate decreases with n, well separated
    se = SUMMARY_SIGMA / np.sqrt(tab["n"])
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
    with pytest.raises(ValueError, match="distinct"):
        shrinkage_by_size((5, 5))


# ----------------------------------------------------------------------------- exercise 3
def test_mse_study_partial_pooling_beats_no_pooling():
    study = mse_study(seed=0)                # defaults: 10,000 datasets, every tau estimator
    assert isinstance(study, MSEStudy)
    tab = study.table
    assert set(tab.index) == {"no_pooling", "complete_pooling", "eb_dl", "eb_pm", "eb_ml",
                              "eb_reml", "eb_he", "eb_sj", "eb_hs", "eb_sd_of_means"}
    assert (tab["n_datasets"] == 10_000).all()
    for m in ("dl", "pm", "ml", "reml", "sd_of_means"):
        assert tab.loc[f"eb_{m}", "gain_lo"] > 0, m
    # no pooling's MSE is mean(se^2) exactly: inside its Monte Carlo interval (widened 2x)
    exact = np.mean(SE_SUMMARY**2)
    half = tab.loc["no_pooling", "mse_hi"] - tab.loc["no_pooling", "mse"]
    assert abs(tab.loc["no_pooling", "mse"] - exact) < 2 * half
    # the losses table reproduces the vectorised EB core
    sim = simulate_arrays(10_000, 0.0, 5.0, sigma=SUMMARY_SIGMA, n=SUMMARY_N,
                          seed=np.random.SeedSequence(0).spawn(2)[0])
    loss = ((eb_core(sim.means, sim.se, "reml").theta - sim.theta) ** 2).mean(1)
    np.testing.assert_allclose(study.losses["eb_reml"], loss)
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


def test_mse_study_default_priors_come_from_each_dataset_not_the_truth(monkeypatch):
    """Issue 14: the default full-Bayes priors are fit's data-scaled ones, resolved from each
    simulated dataset (what a user would run), never built from the true mu and tau."""
    fit_module = sys.modules["hiermodel.sampling"]
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



def test_mse_study_says_when_full_bayes_fits_diverge():
    """A full-Bayes MSE from divergent fits is not silent: SamplingWarning and the repr."""
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
