"""Figures: each renders to PNG under Agg and holds what it should (groups, labels, points)."""

from __future__ import annotations

import warnings

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from hiermodel import eight_schools, seed_eight_schools
from hiermodel.compare import compare, tau_estimates
from hiermodel.fit import SamplingWarning, fit
from hiermodel.plots import plot_forest, plot_funnel, plot_shrinkage, plot_tau
from hiermodel.shrinkage import exact_posterior

GROUPS = list("ABCDEFGH")


@pytest.fixture(scope="module")
def funnel_fits():
    """Centered (target_accept 0.8: it diverges) and non-centered fits of Rubin's data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        return {
            "centered": fit(eight_schools(), parameterization="centered", draws=500, tune=500,
                            chains=2, seed=2, target_accept=0.8),
            "noncentered": fit(eight_schools(), parameterization="noncentered", draws=500,
                               tune=500, chains=2, seed=2),
        }


@pytest.fixture(scope="module")
def exact_draws():
    return exact_posterior(eight_schools()).sample(draws=500, chains=2, seed=4)


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """The plot functions never touch pyplot's global figure list."""
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _render(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    assert matplotlib.get_backend().lower() == "agg"
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return path


def _by_gid(items, prefix):
    return {a.get_gid().split(":", 1)[1]: a for a in items
            if a.get_gid() and a.get_gid().startswith(prefix)}


def test_plot_shrinkage(es_fit, tmp_path):
    table = compare(es_fit)
    fig = plot_shrinkage(table)
    _render(fig, tmp_path, "shrinkage")
    (ax,) = fig.axes
    points = _by_gid(ax.collections, "shrinkage-points:")
    assert list(points) == ["no_pooling", "eb", "mean"]
    for k, (col, coll) in enumerate(points.items()):
        xy = coll.get_offsets()
        assert len(xy) == 8
        np.testing.assert_allclose(xy[:, 0], k)
        np.testing.assert_allclose(xy[:, 1], table[col])
    # marker area grows with the precision 1/se_i^2 (no n_i in Rubin's data)
    sizes = points["mean"].get_sizes()
    assert np.all(np.diff(sizes[np.argsort(table["se"].to_numpy())[::-1]]) >= 0)
    paths = _by_gid(ax.lines, "shrinkage-path:")
    assert list(paths) == GROUPS
    np.testing.assert_allclose(paths["A"].get_ydata(), table.loc["A", ["no_pooling", "eb",
                                                                       "mean"]].to_numpy(float))
    assert sorted(t.get_text() for t in ax.texts) == GROUPS
    hlines = [ln for ln in ax.lines if ln.get_gid() is None]
    assert any(np.allclose(ln.get_ydata(), table.attrs["mu_mean"]) for ln in hlines)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "no pooling" in ticks[0] and "REML" in ticks[1] and "full Bayes" in ticks[2]
    assert "theta" in ax.get_ylabel() and "grand mean" in ax.get_title()


def test_plot_shrinkage_into_given_axes_sized_by_n(tmp_path):
    fig = Figure()
    ax = fig.add_subplot()
    d = seed_eight_schools()
    table = compare(exact_posterior(d).sample(draws=200, chains=2, seed=1), d)
    out = plot_shrinkage(table, ax=ax, columns=("no_pooling", "seed", "eb", "exact"))
    assert out is fig and fig.axes == [ax]
    _render(fig, tmp_path, "shrinkage_n")
    points = _by_gid(ax.collections, "shrinkage-points:")
    assert list(points) == ["no_pooling", "seed", "eb", "exact"]
    sizes = points["exact"].get_sizes()
    assert np.argmax(sizes) == np.argmax(d.n) and np.argmin(sizes) == np.argmin(d.n)
    assert "n_i" in ax.get_title()


def test_plot_forest(es_fit, funnel_fits, exact_draws, tmp_path):
    fits = {"marginal": es_fit, "noncentered": funnel_fits["noncentered"],
            "exact": exact_draws}
    fig = plot_forest(fits, hdi_prob=0.9)
    _render(fig, tmp_path, "forest")
    (ax,) = fig.axes
    labels = " ".join(t.get_text() for t in ax.get_yticklabels())
    assert all(f"[{g}]" in labels for g in GROUPS)
    assert len(ax.get_yticklabels()) == 8
    legend = ax.get_legend()
    assert legend is not None
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted(fits)
    assert "theta" in ax.get_xlabel() and "90% HDI" in ax.get_title()
    # one median marker and one HDI segment per (group, fit), at ArviZ's numbers
    medians = np.concatenate([idata.posterior["theta"].median(("chain", "draw")).values
                              for idata in fits.values()])
    markers = np.concatenate([ln.get_xdata() for ln in ax.lines])
    np.testing.assert_allclose(np.sort(markers), np.sort(medians), rtol=1e-10)
    segments = [seg for c in ax.collections for seg in c.get_segments()]
    ends = np.array([[seg[0, 0], seg[-1, 0]] for seg in segments if len(seg) == 2])
    for idata in fits.values():
        hdi = az.hdi(idata, var_names=["theta"], hdi_prob=0.9)["theta"].values  # (G, 2)
        for lo, hi in hdi:
            assert np.isclose(ends, [lo, hi], rtol=1e-10).all(axis=1).any()
    # a single fit and other variables
    fig1 = plot_forest(es_fit, var_names=("mu", "tau"))
    assert "mu" in fig1.axes[0].get_xlabel()
    assert len(fig1.axes[0].get_yticklabels()) == 2


def test_plot_funnel(funnel_fits, es_fit, tmp_path):
    fits = {**funnel_fits, "marginal": es_fit}
    fig = plot_funnel(fits)
    _render(fig, tmp_path, "funnel")
    assert len(fig.axes) == 3
    for ax, (name, idata) in zip(fig.axes, fits.items(), strict=True):
        div = idata.sample_stats["diverging"].values.ravel()
        pts = _by_gid(ax.collections, "funnel:")
        red, blue = pts["divergent"].get_offsets(), pts["draws"].get_offsets()
        assert len(red) == div.sum() and len(red) + len(blue) == div.size
        tau = idata.posterior["tau"].values.ravel()
        np.testing.assert_allclose(np.sort(np.r_[red[:, 0], blue[:, 0]]), np.sort(np.log(tau)))
        assert "log" in ax.get_xlabel() and "tau" in ax.get_xlabel()
        assert ax.get_title().startswith(f"{name}: {int(div.sum())} divergent")
        assert "[A]" in ax.get_ylabel()
    assert int(funnel_fits["centered"].sample_stats["diverging"].sum()) > 0
    # divergent draws are drawn in a contrasting colour
    red = _by_gid(fig.axes[0].collections, "funnel:")["divergent"].get_facecolor()[0]
    blue = _by_gid(fig.axes[0].collections, "funnel:")["draws"].get_facecolor()[0]
    assert red[0] > 0.7 and red[2] < 0.3 and blue[2] > red[2]
    # the centered panel shows theta_A, the non-centered one the sampled z_A
    assert "z" in fig.axes[1].get_ylabel() and "theta" in fig.axes[0].get_ylabel()
    z = funnel_fits["noncentered"].posterior["theta_tilde"].sel(group="A").values.ravel()
    y = np.concatenate([c.get_offsets()[:, 1] for c in fig.axes[1].collections
                        if c.get_gid()])
    np.testing.assert_allclose(np.sort(y), np.sort(z))
    # another group, and theta everywhere
    fig_h = plot_funnel(funnel_fits, group="H", var="theta")
    assert all("theta" in ax.get_ylabel() and "[H]" in ax.get_ylabel() for ax in fig_h.axes)


def test_plot_tau(es_fit, tmp_path):
    d = eight_schools()
    fig = plot_tau(es_fit, d)
    _render(fig, tmp_path, "tau")
    ax_d, ax_w = fig.axes
    # the density: a KDE of the draws integrating to ~1, and the exact density
    kde = _by_gid(ax_d.lines, "tau:")["density"]
    x, p = kde.get_xdata(), kde.get_ydata()
    assert np.trapezoid(p, x) == pytest.approx(1.0, abs=0.02)
    exact = _by_gid(ax_d.lines, "tau:")["exact"]
    ep = exact_posterior(d)
    np.testing.assert_allclose(exact.get_ydata(), ep.tau_pdf(exact.get_xdata()), rtol=1e-12)
    # one vertical line per estimator at its tau_hat, in both panels
    est = tau_estimates(d)
    for ax in (ax_d, ax_w):
        marks = _by_gid(ax.lines, "tau-hat:")
        assert list(marks) == list(est.index)
        for m, line in marks.items():
            np.testing.assert_allclose(line.get_xdata(), est.at[m, "tau"])
    legend = " ".join(t.get_text() for t in ax_d.get_legend().get_texts())
    assert "REML" in legend and "9.77" in legend  # the seed's sd(ybar)
    # the weight curves: one per group, w_i(tau) = tau^2 / (tau^2 + se_i^2)
    curves = _by_gid(ax_w.lines, "weight:")
    assert list(curves) == GROUPS
    for g, se in zip(GROUPS, d.se, strict=True):
        t = curves[g].get_xdata()
        np.testing.assert_allclose(curves[g].get_ydata(), t**2 / (t**2 + se**2), rtol=1e-12)
    for ax in (ax_d, ax_w):
        assert "tau" in ax.get_xlabel()
    assert "p(" in ax_d.get_ylabel() and "w_i" in ax_w.get_ylabel()


def test_plot_tau_exact(exact_draws, tmp_path):
    d = eight_schools()
    ep = exact_posterior(d)
    for source, data in ((exact_draws, d), (ep, d), (ep, None)):
        fig = plot_tau(source, data, methods=("reml", "seed"))
        _render(fig, tmp_path, "tau_exact")
        ax_d, ax_w = fig.axes
        dens = _by_gid(ax_d.lines, "tau:")
        assert "exact" not in dens  # the density itself is exact
        line = dens["density"]
        np.testing.assert_allclose(line.get_ydata(), ep.tau_pdf(line.get_xdata()), rtol=1e-12)
        assert list(_by_gid(ax_d.lines, "tau-hat:")) == ["reml", "seed"]
        assert len(_by_gid(ax_w.lines, "weight:")) == 8


def test_bad_input_names_the_argument(es_fit, exact_draws):
    table = compare(es_fit)
    cases = [
        (lambda: plot_shrinkage(table.to_dict()), TypeError, "comparison"),
        (lambda: plot_shrinkage(table, columns=("no_pooling", "bayes")), ValueError,
         "columns"),
        (lambda: plot_shrinkage(table, columns="eb"), TypeError, "columns"),
        (lambda: plot_shrinkage(table, columns=("no_pooling", "n")), ValueError, "columns"),
        (lambda: plot_shrinkage(table[["no_pooling", "se"]]), ValueError, "compare"),
        (lambda: plot_shrinkage(table, ax="left"), TypeError, "ax"),
        (lambda: plot_forest({"a": es_fit}, var_names=("nope",)), ValueError, "var_names"),
        (lambda: plot_forest([es_fit]), TypeError, "fits"),
        (lambda: plot_forest(es_fit, hdi_prob=2), ValueError, "hdi_prob"),
        (lambda: plot_funnel({"a": es_fit}, group="Z"), ValueError, "group"),
        (lambda: plot_funnel({"a": es_fit}, var="z"), ValueError, "var"),
        (lambda: plot_tau(es_fit, methods=("reml", "bayes")), ValueError, "eb_method"),
        (lambda: plot_tau(exact_draws), ValueError, "data="),
        (lambda: plot_tau(es_fit, seed_eight_schools().to_dataframe()), TypeError, "data"),
        (lambda: plot_tau(es_fit, exact="yes"), TypeError, "exact"),
        (lambda: plot_tau("idata"), TypeError, "idata"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()
