"""Tests of hiermodel.studies.simulation: simulated data (one dataset, R datasets as arrays)
and the Dask input path of simulated rows.

Statistical assertions use closed forms (``E[(ybar - theta)^2] = se^2``,
``Var(ybar) = tau^2 + se^2``) with tolerances of several Monte Carlo standard errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hiermodel.data import HierData
from hiermodel.studies.simulation import SUMMARY_N, SUMMARY_SIGMA, simulate, simulate_arrays

SE_SUMMARY = SUMMARY_SIGMA / np.sqrt(np.array(SUMMARY_N))


# ----------------------------------------------------------------------------- data
def test_simulate_summary_reproducible_and_typed():
    a = simulate(75.0, 5.0, SUMMARY_SIGMA, SUMMARY_N, seed=3)
    b = simulate(75.0, 5.0, SUMMARY_SIGMA, SUMMARY_N, seed=3)
    c = simulate(75.0, 5.0, SUMMARY_SIGMA, SUMMARY_N, seed=4)
    assert isinstance(a.data, HierData) and a.data.source == "summary"
    assert a.data == b.data and np.array_equal(a.theta, b.theta)
    assert not np.array_equal(a.data.means, c.data.means)
    np.testing.assert_allclose(a.data.se, SE_SUMMARY)
    assert a.data.n.tolist() == list(SUMMARY_N)
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
    sim = simulate_arrays(r, 1.0, tau, sigma=SUMMARY_SIGMA, n=SUMMARY_N, seed=11)
    assert sim.means.shape == (r, 8) and len(sim) == r
    means, se, theta = sim
    v_true = tau**2 + SE_SUMMARY**2
    v_hat = means.var(axis=0, ddof=1)
    assert np.all(np.abs(v_hat - v_true) < 5 * v_true * np.sqrt(2 / (r - 1)))
    err2 = (means - theta) ** 2
    assert np.all(np.abs(err2.mean(0) - SE_SUMMARY**2) < 5 * SE_SUMMARY**2 * np.sqrt(2 / r))
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
    ({"mu": 0, "tau": 1, "sigma": 1, "n": [2, 3], "seed": -1}, TypeError, "`seed`"),
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
