"""Figures: each renders to PNG under Agg, holds what it should (groups, labels, numbers) and
stays readable at 8, 13 and 50 groups: no two labels overlap, legends sit off the data.  Every
figure function takes ``ax=`` or ``axes=`` and draws into the axes it is given."""

from __future__ import annotations

import inspect
import warnings

import arviz as az
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from scipy.special import ndtr
from scipy.stats import binom

import hiermodel as hm
import hiermodel.plots as plots
from hiermodel import eight_schools, eight_schools_summary, stack, tau_estimates
from hiermodel.comparison import compare, fit_priors
from hiermodel.plots import (
    plot_bubble,
    plot_forest,
    plot_meta_forest,
    plot_mse_study,
    plot_pooling_vs_tau,
    plot_ppc,
    plot_sampler_geometry,
    plot_sbc_ranks,
    plot_shrinkage,
    plot_shrinkage_by_size,
    plot_tau,
    plot_test_statistics,
)
from hiermodel.predictive import posterior_predictive, ppc_table
from hiermodel.shrinkage import exact_posterior

GROUPS = list("ABCDEFGH")

# BCG vaccine trials (Colditz et al. 1994; metafor's dat.bcg): TB cases / no TB, vaccinated
# then control; the log risk ratio and its standard error per trial.
BCG = [("Aronson 1948", 4, 119, 11, 128), ("Ferguson & Simes 1949", 6, 300, 29, 274),
       ("Rosenthal et al 1960", 3, 228, 11, 209), ("Hart & Sutherland 1977", 62, 13536, 248,
                                                   12619),
       ("Frimodt-Moller et al 1973", 33, 5036, 47, 5761),
       ("Stein & Aronson 1953", 180, 1361, 372, 1079), ("Vandiviere et al 1973", 8, 2537, 10,
                                                        619),
       ("TPT Madras 1980", 505, 87886, 499, 87892), ("Coetzee & Berjak 1968", 29, 7470, 45,
                                                     7232),
       ("Rosenthal et al 1961", 17, 1699, 65, 1600), ("Comstock et al 1974", 186, 50448, 141,
                                                      27197),
       ("Comstock & Webster 1969", 5, 2493, 3, 2338), ("Comstock et al 1976", 27, 16886, 29,
                                                       17825)]


def bcg() -> hm.HierData:
    a, b, c, d = (np.array([row[k] for row in BCG], float) for k in range(1, 5))
    log_rr = np.log(a / (a + b)) - np.log(c / (c + d))
    se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    return hm.HierData.from_estimates(log_rr, se, groups=[row[0] for row in BCG])


def simulated(n_groups: int, scale: float = 1.0, loc: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    se = scale * rng.uniform(2, 20, n_groups)
    y = loc + scale * rng.normal(5, 6, n_groups) + se * rng.normal(size=n_groups)
    return hm.HierData.from_estimates(y, se, groups=[f"group {i}" for i in range(n_groups)])


DATASETS = {8: eight_schools, 13: bcg, 50: lambda: simulated(50)}


@pytest.fixture(scope="module")
def by_size():
    """Data and exact posterior draws (two independent sets) at 8, 13 and 50 groups."""
    out = {}
    for n, make in DATASETS.items():
        d = make()
        ep = exact_posterior(d)
        out[n] = (d, ep.sample(draws=200, chains=2, seed=1), ep.sample(draws=200, chains=2,
                                                                        seed=2))
    return out


@pytest.fixture(scope="module")
def es_fit(stored_fits):
    """The default fit of Rubin's Eight Schools (marginal, 4 x 1000), stored: no sampling."""
    return stored_fits["eight_schools_marginal"]


@pytest.fixture(scope="module")
def funnel_fits(stored_fits):
    """Centered (target_accept 0.8: it diverges) and non-centered fits of Rubin's data
    (2 x 500 draws each), stored."""
    return {p: stored_fits[f"eight_schools_{p}"] for p in ("centered", "noncentered")}


@pytest.fixture(scope="module")
def exact_draws():
    return exact_posterior(eight_schools()).sample(draws=500, chains=2, seed=4)


@pytest.fixture(scope="module")
def es_pp(es_fit):
    """Posterior predictive draws of the default Eight Schools fit, a new group of se 10."""
    return posterior_predictive(es_fit, eight_schools(), se_new=10.0, seed=3)


@pytest.fixture(scope="module")
def sbc_result():
    """A small real SBC run: 12 NUTS fits (2 x 100 draws) of the non-centered form, L = 9,
    5 bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits: low-ESS and R-hat notes
        return hm.studies.sbc(12, parameterization="noncentered", seed=3, draws=100, tune=100,
                              chains=2, L=9, n_bins=5, executor="serial")


@pytest.fixture(autouse=True)
def _no_pyplot_figures():
    """The plot functions never touch pyplot's global figure list."""
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _render(fig, tmp_path, name):
    """Draw ``fig`` once on an Agg canvas (as ``savefig`` does) and write that image as PNG."""
    assert isinstance(fig, Figure)
    assert matplotlib.get_backend().lower() == "agg"
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    path = tmp_path / f"{name}.png"
    matplotlib.image.imsave(path, np.asarray(canvas.buffer_rgba()))
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return path


def _by_gid(items, prefix):
    return {a.get_gid().split(":", 1)[1]: a for a in items
            if a.get_gid() and a.get_gid().startswith(prefix)}


# ----------------------------------------------------------------------------- layout checks
def _drawn_ticklabels(axis):
    """The tick labels the axis draws: visible, non-empty, inside the view interval."""
    lo, hi = sorted(axis.get_view_interval())
    tol = 1e-9 * max(1.0, abs(lo), abs(hi))
    return [t.label1 for t in axis.get_major_ticks()
            if lo - tol <= t.get_loc() <= hi + tol and t.label1.get_visible()
            and t.label1.get_text().strip()]


def _text_boxes(fig):
    """Window extents of every drawn label of ``fig``, by its text, as last drawn on an Agg
    canvas (drawn here unless it was drawn and has not changed since)."""
    if fig.stale or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        texts = [*_drawn_ticklabels(ax.xaxis), *_drawn_ticklabels(ax.yaxis), *ax.texts,
                 ax.title, ax.xaxis.label, ax.yaxis.label]
        for t in texts:
            if t.get_visible() and t.get_text().strip():
                # the text alone (an annotation's extent would include its arrow)
                boxes.append((t.get_text(), Text.get_window_extent(t, renderer)))
    return boxes


def _overlap(a, b, tol=0.5):
    """Whether two display bboxes overlap by more than ``tol`` pixels both ways."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tol
            and min(a.y1, b.y1) - max(a.y0, b.y0) > tol)


def assert_readable(fig):
    """No two labels overlap; every legend lies outside every axes and clear of labels."""
    boxes = _text_boxes(fig)
    assert len(boxes) > 5
    clashes = [(s, t) for i, (s, a) in enumerate(boxes) for t, b in boxes[i + 1:]
               if _overlap(a, b)]
    assert not clashes, clashes[:5]
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:  # data artists live inside the axes (colour bars included)
            assert not _overlap(box, ax.bbox), (legend, ax)
        own = {t.get_text() for t in legend.get_texts()}
        assert not [s for s, b in boxes if s not in own and _overlap(box, b)]
        fig_box = fig.bbox
        assert box.x0 >= fig_box.x0 - 1 and box.x1 <= fig_box.x1 + 1
        assert box.y0 >= fig_box.y0 - 1 and box.y1 <= fig_box.y1 + 1
    return legends


# ----------------------------------------------------------------------------- shrinkage
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
    assert all(t.get_visible() for t in ax.texts)
    # each label's leader line ends at its group's no-pooling point
    (leaders,) = [c for c in ax.collections if c.get_gid() == "shrinkage-leaders"]
    ends = sorted(tuple(np.round(seg[-1], 9)) for seg in leaders.get_segments())
    assert ends == sorted((0.0, round(v, 9)) for v in table["no_pooling"])
    hlines = [ln for ln in ax.lines if ln.get_gid() is None]
    assert any(np.allclose(ln.get_ydata(), table.attrs["mu_mean"]) for ln in hlines)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "no pooling" in ticks[0] and "REML" in ticks[1] and "full Bayes" in ticks[2]
    assert "theta" in ax.get_ylabel() and "grand mean" in ax.get_title()
    assert "labelled" not in ax.get_title()
    (legend,) = assert_readable(fig)
    assert "grand mean" in legend.get_texts()[0].get_text()


def test_plot_shrinkage_into_given_axes_sized_by_n(tmp_path):
    fig = Figure()
    ax = fig.add_subplot()
    d = eight_schools_summary()
    table = compare(exact_posterior(d).sample(draws=200, chains=2, seed=1), d)
    out = plot_shrinkage(table, ax=ax, columns=("no_pooling", "sd_of_means", "eb", "exact"))
    assert out is fig and fig.axes == [ax]
    _render(fig, tmp_path, "shrinkage_n")
    points = _by_gid(ax.collections, "shrinkage-points:")
    assert list(points) == ["no_pooling", "sd_of_means", "eb", "exact"]
    sizes = points["exact"].get_sizes()
    assert np.argmax(sizes) == np.argmax(d.n) and np.argmin(sizes) == np.argmin(d.n)
    assert "n_i" in ax.get_title()


@pytest.mark.parametrize("n_groups", [13, 50])  # 8 groups: the tests above
def test_plot_shrinkage_labels_never_overlap(by_size, n_groups, tmp_path):
    d, draws, _ = by_size[n_groups]
    table = compare(draws, d)
    fig = plot_shrinkage(table)
    _render(fig, tmp_path, f"shrinkage_{n_groups}")
    assert_readable(fig)
    (ax,) = fig.axes
    labels = [t for t in ax.texts if t.get_visible()]
    assert sorted(t.get_text() for t in labels) == sorted(str(g) for g in d.groups)
    assert "labelled" not in ax.get_title()  # a new figure grows to label every group


def test_plot_shrinkage_too_many_groups_for_the_axes(by_size):
    d, draws, _ = by_size[50]
    table = compare(draws, d)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    plot_shrinkage(table, ax=ax)
    assert_readable(fig)
    shown = [t.get_text() for t in ax.texts if t.get_visible()]
    assert 5 < len(shown) < 50
    assert f"labelled: {len(shown)} of 50 groups" in ax.get_title()
    # the groups that move most are the ones labelled
    move = (table["no_pooling"] - table["mean"]).abs().sort_values(ascending=False)
    assert set(shown) == {str(g) for g in move.index[:len(shown)]}
    (leaders,) = [c for c in ax.collections if c.get_gid() == "shrinkage-leaders"]
    assert len(leaders.get_segments()) == len(shown)


# ----------------------------------------------------------------------------- meta forest
def _meta_parts(ax):
    coll = _by_gid(ax.collections, "meta:")
    (diamond,) = _by_gid(ax.patches, "meta:").values()
    lines = _by_gid(ax.lines, "meta:")
    return coll, diamond, lines


def _segments(coll):
    return np.array([[seg[0, 0], seg[-1, 0]] for seg in coll.get_segments()])


def test_plot_meta_forest_numbers(es_fit, tmp_path):
    d = eight_schools()
    fig = plot_meta_forest(es_fit)  # data rebuilt from the fit
    _render(fig, tmp_path, "meta_forest")
    (ax,) = fig.axes
    coll, diamond, lines = _meta_parts(ax)
    # the data: y_i -+ 1.96 se_i exactly, the square at y_i
    obs = _segments(coll["observed"])
    np.testing.assert_array_equal(obs[:, 0], d.means - 1.96 * d.se)
    np.testing.assert_array_equal(obs[:, 1], d.means + 1.96 * d.se)
    np.testing.assert_array_equal(coll["observed-point"].get_offsets()[:, 0], d.means)
    # the posterior of theta_i: median and central 95% interval of all draws
    theta = es_fit.posterior["theta"].values.reshape(-1, 8)
    lo, med, hi = np.quantile(theta, [0.025, 0.5, 0.975], axis=0)
    np.testing.assert_allclose(_segments(coll["posterior"]), np.c_[lo, hi], rtol=1e-12)
    np.testing.assert_allclose(coll["posterior-point"].get_offsets()[:, 0], med, rtol=1e-12)
    # the pooled diamond: centre at the posterior median of mu, tips at its central interval
    mu = es_fit.posterior["mu"].values.ravel()
    xy = diamond.get_xy()
    np.testing.assert_allclose(xy[1, 0], np.median(mu), rtol=1e-12)
    np.testing.assert_allclose(xy[3, 0], np.median(mu), rtol=1e-12)
    np.testing.assert_allclose([xy[0, 0], xy[2, 0]], np.quantile(mu, [0.025, 0.975]),
                               rtol=1e-12)
    # the prediction interval of theta_new ~ N(mu, tau^2): exact quantiles of that mixture
    tau = es_fit.posterior["tau"].values.ravel()
    ends = lines["prediction"].get_xdata()
    cdf = [np.mean(ndtr((x - mu) / tau)) for x in ends]
    np.testing.assert_allclose(cdf, [0.025, 0.975], atol=1e-9)
    rng = np.random.default_rng(0)
    new = (mu[:, None] + tau[:, None] * rng.normal(size=(mu.size, 50))).ravel()
    np.testing.assert_allclose(ends, np.quantile(new, [0.025, 0.975]), rtol=0.03)
    assert ends[1] - ends[0] > xy[2, 0] - xy[0, 0]  # wider than the pooled interval
    # rows: the groups top to bottom, then pooled and prediction; numbers on the right
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:8] == GROUPS and "Pooled" in labels[8] and "Prediction" in labels[9]
    y_rows = ax.get_yticks()
    assert np.all(np.diff(y_rows) > 0) and ax.yaxis_inverted()
    texts = {t.get_gid(): t.get_text() for t in ax.texts}
    # 28 -+ 1.96 * 15 = -1.4, 57.4; columns padded for a monospace font
    assert "".join(texts["meta-text:observed:0"].split()) == "28.0[-1.4,57.4]"
    assert texts["meta-text:posterior:8"].split()[0] == f"{np.median(mu):.1f}"
    assert "95%" in ax.get_title() and "model scale" in ax.get_xlabel()
    assert_readable(fig)


def test_plot_meta_forest_transform_and_prob(by_size):
    d, draws, _ = by_size[13]
    fig = plot_meta_forest(draws, d, transform="exp", transform_label="risk ratio")
    (ax,) = fig.axes
    coll, diamond, lines = _meta_parts(ax)
    obs = _segments(coll["observed"])
    np.testing.assert_allclose(obs, np.exp(np.c_[d.means - 1.96 * d.se,
                                                 d.means + 1.96 * d.se]), rtol=1e-12)
    mu = draws.posterior["mu"].values.ravel()
    np.testing.assert_allclose(diamond.get_xy()[1, 0], np.exp(np.median(mu)), rtol=1e-12)
    plain = plot_meta_forest(draws, d)
    ends = _meta_parts(plain.axes[0])[2]["prediction"].get_xdata()
    np.testing.assert_allclose(lines["prediction"].get_xdata(), np.exp(ends), rtol=1e-9)
    assert ax.get_xscale() == "log" and "risk ratio" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()][:13] == [r[0] for r in BCG]
    null = _by_gid(ax.lines, "meta:")["null"]
    np.testing.assert_allclose(null.get_xdata(), 1.0)  # no effect: exp(0)
    # another probability: z = Phi^{-1}(0.95) for the data, 90% central intervals
    fig90 = plot_meta_forest(draws, d, prob=0.9)
    obs90 = _segments(_meta_parts(fig90.axes[0])[0]["observed"])
    np.testing.assert_allclose(obs90[:, 1], d.means + 1.6448536269514722 * d.se, rtol=1e-12)
    assert "90%" in fig90.axes[0].get_title()
    # into given axes
    host = Figure()
    ax = host.add_subplot()
    assert plot_meta_forest(draws, d, ax=ax) is host and host.axes == [ax]


@pytest.mark.parametrize("n_groups", [13, 50])  # 8 groups: the tests above
def test_plot_meta_forest_readable(by_size, n_groups, tmp_path):
    d, draws, _ = by_size[n_groups]
    fig = plot_meta_forest(draws, d)
    _render(fig, tmp_path, f"meta_forest_{n_groups}")
    (legend,) = assert_readable(fig)
    assert len(legend.get_texts()) == 4
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:n_groups] == [str(g) for g in d.groups]
    assert all(t.get_visible() for t in ax.texts)


@pytest.mark.parametrize("scale, loc", [(0.001, 0.01), (10.0, 10_000.0)])
def test_plot_meta_forest_any_scale(scale, loc, tmp_path):
    d = simulated(13, scale=scale, loc=loc, seed=5)
    draws = exact_posterior(d).sample(draws=200, chains=2, seed=1)
    fig = plot_meta_forest(draws, d)
    _render(fig, tmp_path, "meta_scale")
    assert_readable(fig)
    obs = _segments(_meta_parts(fig.axes[0])[0]["observed"])
    np.testing.assert_array_equal(obs[:, 0], d.means - 1.96 * d.se)
    lo, hi = fig.axes[0].get_xlim()
    assert lo <= obs.min() and hi >= obs.max() and hi - lo < 3 * (obs.max() - obs.min())


# ----------------------------------------------------------------------------- bubble
def bcg_regression(columns=("ablat",)) -> hm.HierData:
    """metafor's dat.bcg: log risk ratios with absolute latitude (and year) per trial."""
    df = hm.datasets.bcg_trials()
    return hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), groups=df.trial,
                                      covariates=df.set_index("trial")[list(columns)])


@pytest.fixture(scope="module")
def bcg_reg():
    """BCG on latitude: a real NUTS fit (2 x 300 draws) and the REML meta-regression."""
    d = bcg_regression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fit: low-ESS notes
        fit = hm.fit(d, seed=1, progressbar=False, draws=300, tune=300, chains=2)
    return d, fit, hm.meta_analysis(d)


def _band_ends(band, xs):
    """The lower and upper edge of a fill_between band at each of ``xs``."""
    v = band.get_paths()[0].vertices
    lo = [v[np.isclose(v[:, 0], x, rtol=0, atol=1e-12), 1].min() for x in xs]
    hi = [v[np.isclose(v[:, 0], x, rtol=0, atol=1e-12), 1].max() for x in xs]
    return np.array(lo), np.array(hi)


def _bubble_parts(fig):
    (ax,) = fig.axes
    lines = _by_gid(ax.lines, "bubble:")
    coll = _by_gid(ax.collections, "bubble:")
    return ax, lines, coll


def test_plot_bubble_eb_is_predict(bcg_reg, tmp_path):
    d, _, ma = bcg_reg
    fig = plot_bubble(ma, d)
    _render(fig, tmp_path, "bubble_eb")
    ax, lines, coll = _bubble_parts(fig)
    xs, ys = lines["line"].get_xdata(), lines["line"].get_ydata()
    ablat = hm.datasets.bcg_trials()["ablat"].to_numpy(float)
    assert xs[0] == ablat.min() and xs[-1] == ablat.max() and np.all(np.diff(xs) > 0)
    # the line, its confidence band and the prediction interval are metafor's predict()
    pred = ma.predict(pd.DataFrame({"ablat": xs}))
    np.testing.assert_allclose(ys, pred["pred"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(_band_ends(coll["band"], xs), [pred["ci_low"], pred["ci_high"]],
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(lines["pi_low"].get_ydata(), pred["pi_low"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(lines["pi_high"].get_ydata(), pred["pi_high"], rtol=0,
                               atol=1e-10)
    # the bubbles: y_i against the covariate, area affine in the precision 1/se_i^2
    xy = coll["points"].get_offsets()
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    expect = np.c_[ablat, d.means][np.lexsort((d.means, ablat))]
    np.testing.assert_allclose(xy[order], expect, rtol=1e-12)
    sizes = coll["points"].get_sizes()
    w = 1.0 / np.asarray(d.se)[np.lexsort((d.means, ablat))] ** 2
    slope, icept = np.polyfit(w, sizes[order], 1)
    np.testing.assert_allclose(sizes[order], icept + slope * w, rtol=1e-9)
    assert slope > 0 and sizes.min() > 20
    b = ma.coefficients.loc["ablat"]
    title = ax.get_title()
    assert "REML" in title and "empirical Bayes" in title and f"{b['estimate']:.4f}" in title
    assert ax.get_xlabel() == "ablat" and "y_i" in ax.get_ylabel()
    # every trial labelled, no two labels overlapping, the legend below the axes
    shown = [t.get_text() for t in ax.texts if t.get_visible()]
    assert sorted(shown) == sorted(str(g) for g in d.groups)
    (legend,) = assert_readable(fig)
    assert len(legend.get_texts()) == 4 and "REML" in legend.get_texts()[1].get_text()
    # another level: the intervals of meta_analysis(level=0.9)
    fig90 = plot_bubble(ma, d, prob=0.9, prediction=False)
    _, lines90, coll90 = _bubble_parts(fig90)
    pred90 = hm.meta_analysis(d, level=0.9).predict(pd.DataFrame({"ablat": xs}))
    np.testing.assert_allclose(_band_ends(coll90["band"], xs),
                               [pred90["ci_low"], pred90["ci_high"]], rtol=0, atol=1e-10)
    assert set(lines90) == {"line"}   # no prediction band


def test_plot_bubble_transform_maps_points_line_and_bands(bcg_reg):
    d, _, ma = bcg_reg
    fig = plot_bubble(ma, d, transform="exp")
    ax, lines, coll = _bubble_parts(fig)
    xs = lines["line"].get_xdata()
    # the line and bands are metafor's predict(res, newmods, transf=exp)
    pred = ma.predict(pd.DataFrame({"ablat": xs}), transform="exp")
    np.testing.assert_allclose(lines["line"].get_ydata(), pred["pred"], rtol=1e-12)
    np.testing.assert_allclose(_band_ends(coll["band"], xs), [pred["ci_low"], pred["ci_high"]],
                               rtol=1e-12)
    np.testing.assert_allclose(lines["pi_high"].get_ydata(), pred["pi_high"], rtol=1e-12)
    np.testing.assert_allclose(np.sort(coll["points"].get_offsets()[:, 1]),
                               np.sort(np.exp(d.means)), rtol=1e-12)
    assert ax.get_yscale() == "log" and "ratio scale" in ax.get_ylabel()
    assert "on the log ratio scale" in ax.get_title()     # the slope is not transformed
    # expit: proportions, the closed form 1 / (1 + e^-y), on a linear axis
    ax2, _, coll2 = _bubble_parts(plot_bubble(ma, d, transform="expit"))
    np.testing.assert_allclose(np.sort(coll2["points"].get_offsets()[:, 1]),
                               np.sort(1.0 / (1.0 + np.exp(-np.asarray(d.means)))), rtol=1e-12)
    assert ax2.get_yscale() == "linear" and "proportion" in ax2.get_ylabel()


def test_plot_bubble_bayes_line(bcg_reg, tmp_path):
    d, fit, _ = bcg_reg
    fig = plot_bubble(fit)                       # data rebuilt from the fit
    _render(fig, tmp_path, "bubble_fit")
    ax, lines, coll = _bubble_parts(fig)
    xs, ys = lines["line"].get_xdata(), lines["line"].get_ydata()
    # independently: draws of mu + (x - mean latitude) beta, their median and 95% interval
    mu = fit.posterior["mu"].values.ravel()
    beta = fit.posterior["beta"].sel(covariate="ablat").values.ravel()
    tau = fit.posterior["tau"].values.ravel()
    xbar = hm.datasets.bcg_trials()["ablat"].mean()
    draws = mu[:, None] + (xs[None, :] - xbar) * beta[:, None]
    np.testing.assert_allclose(ys, np.median(draws, axis=0), rtol=1e-12, atol=1e-14)
    lo, hi = _band_ends(coll["band"], xs)
    np.testing.assert_allclose([lo, hi], np.quantile(draws, [0.025, 0.975], axis=0),
                               rtol=1e-12, atol=1e-14)
    assert np.all(lo < ys) and np.all(ys < hi)   # the band holds the line
    # the prediction band: exact 2.5% and 97.5% quantiles of N(line_s, tau_s^2) over draws
    pl, ph = lines["pi_low"].get_ydata(), lines["pi_high"].get_ydata()
    for k in (0, 30, 60):
        cdf = [np.mean(ndtr((v - draws[:, k]) / tau)) for v in (pl[k], ph[k])]
        np.testing.assert_allclose(cdf, [0.025, 0.975], atol=1e-9)
    assert np.all(pl < lo) and np.all(hi < ph)   # wider than the credible band
    title = ax.get_title()
    assert "full Bayes" in title and f"{np.median(beta):.4f}" in title
    (legend,) = assert_readable(fig)
    assert "credible" in legend.get_texts()[2].get_text()
    # into given axes; data given explicitly (the same data) gives the same line
    host = Figure()
    ax2 = host.add_subplot()
    out = plot_bubble(fit, d, ax=ax2)
    assert out is host and out is ax2.figure and host.axes == [ax2]
    np.testing.assert_array_equal(_by_gid(ax2.lines, "bubble:")["line"].get_ydata(), ys)


def test_plot_bubble_two_covariates_exact_draws(tmp_path):
    """Exact posterior draws (data given) with two covariates: the line along ``year`` holds
    latitude at its mean, so it is mu + (year - mean year) beta_year."""
    d = bcg_regression(("ablat", "year"))
    draws = exact_posterior(d).sample(draws=200, chains=2, seed=3)
    fig = plot_bubble(draws, d, covariate="year")
    _render(fig, tmp_path, "bubble_year")
    ax, lines, _ = _bubble_parts(fig)
    xs = lines["line"].get_xdata()
    mu = draws.posterior["mu"].values.ravel()
    beta = draws.posterior["beta"].sel(covariate="year").values.ravel()
    year = hm.datasets.bcg_trials()["year"].to_numpy(float)
    np.testing.assert_allclose(xs[[0, -1]], [year.min(), year.max()])
    np.testing.assert_allclose(
        lines["line"].get_ydata(),
        np.median(mu[:, None] + (xs - year.mean())[None, :] * beta[:, None], axis=0),
        rtol=1e-12, atol=1e-14)
    assert ax.get_xlabel() == "year"
    assert "others at their means" in ax.get_legend().get_texts()[1].get_text()
    eb = plot_bubble(hm.meta_analysis(d), d, covariate="year")
    ys = _bubble_parts(eb)[1]["line"].get_ydata()
    table = pd.DataFrame({"ablat": np.full(xs.size, d.covariate_means[0]), "year": xs})
    np.testing.assert_allclose(ys, hm.meta_analysis(d).predict(table)["pred"], atol=1e-10)


@pytest.mark.parametrize("n_groups", [30, 60])
def test_plot_bubble_readable(n_groups, tmp_path):
    """Crowded bubbles: labels (up to 30 groups) never overlap; none beyond 30 groups."""
    rng = np.random.default_rng(n_groups)
    base = simulated(n_groups, seed=n_groups)
    cov = pd.DataFrame({"dose": rng.uniform(0, 1, n_groups)}, index=list(base.groups))
    d = base.with_covariates(cov)
    fig = plot_bubble(hm.meta_analysis(d), d)
    _render(fig, tmp_path, f"bubble_{n_groups}")
    assert_readable(fig)
    ax = fig.axes[0]
    labels = _by_gid(ax.texts, "bubble-label:")
    if n_groups > 30:
        assert not labels
    else:
        assert len(labels) == n_groups and sum(t.get_visible() for t in labels.values()) > 20


def test_plot_bubble_bad_input(bcg_reg, es_fit):
    d, fit, ma = bcg_reg
    es = eight_schools()
    other = bcg_regression(("year",))
    plain = hm.HierData.from_estimates(d.means, d.se, d.groups)   # no covariates
    cases = [
        (lambda: plot_bubble(fit, covariate="latitude"), ValueError, r"latitude.*\['ablat'\]"),
        (lambda: plot_bubble(ma, d, covariate=0), TypeError, "covariate"),
        (lambda: plot_bubble(es_fit), ValueError, "needs group-level covariates.*with_covariates"),
        (lambda: plot_bubble(hm.meta_analysis(es), es), ValueError, "with_covariates"),
        (lambda: plot_bubble(ma), ValueError, "data"),
        (lambda: plot_bubble(ma, other), ValueError, "covariates"),
        (lambda: plot_bubble(ma, plain), ValueError, r"\[\] but the MetaAnalysis"),
        (lambda: plot_bubble(fit, other), ValueError, "covariates"),
        (lambda: plot_bubble(fit, plain), ValueError, "`data` has no covariates"),
        (lambda: plot_bubble(fit, prob=1.5), ValueError, "prob"),
        (lambda: plot_bubble(fit, prediction="yes"), TypeError, "prediction"),
        (lambda: plot_bubble(ma, d, transform="log"), ValueError, "transform.*'exp'"),
        (lambda: plot_bubble(fit, ax="left"), TypeError, "ax"),
        (lambda: plot_bubble(fit.posterior), TypeError, "result"),
        (lambda: plot_meta_forest(fit, plain), ValueError, "`data` has no covariates"),
        (lambda: plot_meta_forest(es_fit, es.with_covariates({"z": np.arange(8.0)})),
         ValueError, "without them"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()
    # data whose numbers are not the MetaAnalysis's
    shifted = hm.HierData.from_estimates(np.asarray(d.means) + 0.1, d.se, d.groups,
                                         covariates=d.covariates)
    with pytest.raises(ValueError, match="differs"):
        plot_bubble(ma, shifted)
    moved = d.with_covariates(d.covariates + 1.0)                   # other latitudes
    with pytest.raises(ValueError, match="differs"):
        plot_bubble(fit, moved)


def test_plot_meta_forest_with_covariates(bcg_reg, es_fit, tmp_path):
    """mu is the effect at the covariates' means: the summary rows say so."""
    _, fit, _ = bcg_reg
    fig = plot_meta_forest(fit)
    _render(fig, tmp_path, "meta_forest_covariates")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-2:] == [r"Pooled estimate ($\mu$, at mean covariates)",
                           "Prediction (new group at mean covariates)"]
    _, diamond, _ = _meta_parts(ax)
    np.testing.assert_allclose(diamond.get_xy()[1, 0],
                               np.median(fit.posterior["mu"].values), rtol=1e-12)
    assert "at mean covariates" in ax.get_legend().get_texts()[2].get_text()
    assert_readable(fig)
    plain = [t.get_text() for t in plot_meta_forest(es_fit).axes[0].get_yticklabels()]
    assert plain[-2:] == [r"Pooled estimate ($\mu$)", "Prediction (new group)"]


# ----------------------------------------------------------------------------- forest
def test_plot_forest(es_fit, funnel_fits, exact_draws, tmp_path):
    fits = {"marginal": es_fit, "noncentered": funnel_fits["noncentered"],
            "exact": exact_draws}
    fig = plot_forest(fits, prob=0.9)
    _render(fig, tmp_path, "forest")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == GROUPS
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(fits)
    assert "theta" in ax.get_xlabel() and "90%" in ax.get_title()
    # per fit: the median, central 50% and central 90% intervals of all draws
    rows = []
    for name, idata in fits.items():
        theta = idata.posterior["theta"].values.reshape(-1, 8)
        lo, q1, med, q3, hi = np.quantile(theta, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        marks = _by_gid(ax.lines, "forest:")[f"{name}:median"]
        np.testing.assert_allclose(marks.get_xdata(), med, rtol=1e-12)
        segs = _by_gid(ax.collections, "forest:")
        np.testing.assert_allclose(_segments(segs[f"{name}:interval"]), np.c_[lo, hi],
                                   rtol=1e-12)
        np.testing.assert_allclose(_segments(segs[f"{name}:quartiles"]), np.c_[q1, q3],
                                   rtol=1e-12)
        rows.append(marks.get_ydata())
    # fits top to bottom in order, within each group's row (the y axis points down)
    np.testing.assert_allclose(np.round(rows), np.tile(np.arange(8), (3, 1)))
    assert np.all(np.diff(rows, axis=0) > 0) and ax.yaxis_inverted()
    assert_readable(fig)
    # a single fit and other variables
    fig1 = plot_forest(es_fit, var_names=("mu", "tau"))
    assert [t.get_text() for t in fig1.axes[0].get_yticklabels()] == ["mu", "tau"]
    assert "mu" in fig1.axes[0].get_xlabel() and fig1.axes[0].get_legend() is None
    host = Figure()
    ax = host.add_subplot()
    assert plot_forest(fits, ax=ax) is host and host.axes == [ax]


@pytest.mark.parametrize("n_groups", [13, 50])  # 8 groups: the tests above
def test_plot_forest_readable(by_size, n_groups, tmp_path):
    d, draws, again = by_size[n_groups]
    fig = plot_forest({"exact (seed 1)": draws, "exact (seed 2)": again})
    _render(fig, tmp_path, f"forest_{n_groups}")
    assert_readable(fig)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [str(g) for g in d.groups]


def test_plot_forest_rows_too_dense_for_the_axes(by_size):
    d, draws, _ = by_size[50]
    fig = Figure(figsize=(5, 3), layout="constrained")
    plot_forest(draws, ax=fig.add_subplot())
    assert_readable(fig)  # labels shrink, then thin out
    shown = _drawn_ticklabels(fig.axes[0].yaxis)
    assert 5 < len(shown) < 50


# ----------------------------------------------------------------------------- geometry
def test_plot_sampler_geometry(funnel_fits, es_fit, tmp_path):
    fits = {**funnel_fits, "marginal": es_fit}
    fig = plot_sampler_geometry(fits)
    _render(fig, tmp_path, "geometry")
    assert len(fig.axes) == 3
    for ax, (name, idata) in zip(fig.axes, fits.items(), strict=True):
        div = idata.sample_stats["diverging"].values.ravel()
        pts = _by_gid(ax.collections, "geometry:")
        red, blue = pts["divergent"].get_offsets(), pts["draws"].get_offsets()
        assert len(red) == div.sum() and len(red) + len(blue) == div.size
        tau = idata.posterior["tau"].values.ravel()
        np.testing.assert_allclose(np.sort(np.r_[red[:, 0], blue[:, 0]]), np.sort(np.log(tau)))
        assert "log" in ax.get_xlabel() and "tau" in ax.get_xlabel()
        assert ax.get_title().startswith(f"{name}: {int(div.sum())} divergent")
        assert "[A]" in ax.get_ylabel()
    assert int(funnel_fits["centered"].sample_stats["diverging"].sum()) > 0
    # divergent draws are drawn in a contrasting colour
    red = _by_gid(fig.axes[0].collections, "geometry:")["divergent"].get_facecolor()[0]
    blue = _by_gid(fig.axes[0].collections, "geometry:")["draws"].get_facecolor()[0]
    assert red[0] > 0.7 and red[2] < 0.3 and blue[2] > red[2]
    # the centered panel shows theta_A, the non-centered one the sampled z_A
    assert "z" in fig.axes[1].get_ylabel() and "theta" in fig.axes[0].get_ylabel()
    z = funnel_fits["noncentered"].posterior["theta_tilde"].sel(group="A").values.ravel()
    y = np.concatenate([c.get_offsets()[:, 1] for c in fig.axes[1].collections
                        if c.get_gid()])
    np.testing.assert_allclose(np.sort(y), np.sort(z))
    assert len(assert_readable(fig)) == 3
    # another group, theta everywhere, into given axes
    host = Figure(layout="constrained")
    axes = host.subplots(1, 2)
    out = plot_sampler_geometry(funnel_fits, group="H", var="theta", axes=axes)
    assert out is host and list(host.axes) == list(axes)
    assert all("theta" in ax.get_ylabel() and "[H]" in ax.get_ylabel() for ax in host.axes)


def test_no_funnel_alias():
    import hiermodel.plots as plots

    # plot_funnel is the publication-bias funnel plot (issue 27), not the sampler geometry
    assert plots.plot_funnel is not plots.plot_sampler_geometry
    assert "Egger" in plots.plot_funnel.__doc__
    assert "not* a publication-bias funnel plot" in plots.plot_sampler_geometry.__doc__


# ----------------------------------------------------------------------------- tau
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
    ep = exact_posterior(d, fit_priors(es_fit))
    np.testing.assert_allclose(exact.get_ydata(), ep.tau_pdf(exact.get_xdata()), rtol=1e-12)
    # the shaded central 95% interval of the draws
    (band,) = _by_gid(ax_d.patches, "tau:").values()
    np.testing.assert_allclose([band.get_x(), band.get_x() + band.get_width()],
                               np.quantile(es_fit.posterior["tau"].values, [0.025, 0.975]))
    # one vertical line per estimator at its tau_hat, in both panels
    est = tau_estimates(d)
    for ax in (ax_d, ax_w):
        marks = _by_gid(ax.lines, "tau-hat:")
        assert list(marks) == list(est.index)
        for m, line in marks.items():
            np.testing.assert_allclose(line.get_xdata(), est.at[m, "tau"])
    legend = " ".join(t.get_text() for t in ax_d.get_legend().get_texts())
    assert "REML" in legend and "9.77" in legend and "95% central" in legend
    # the weight curves: one per group, w_i(tau) = tau^2 / (tau^2 + se_i^2)
    curves = _by_gid(ax_w.lines, "weight:")
    assert list(curves) == GROUPS
    for g, se in zip(GROUPS, d.se, strict=True):
        t = curves[g].get_xdata()
        np.testing.assert_allclose(curves[g].get_ydata(), t**2 / (t**2 + se**2), rtol=1e-12)
    # one colour per distinct se_i (equal se, equal curve), named in the legend
    colours = {g: matplotlib.colors.to_hex(curves[g].get_color()) for g in GROUPS}
    assert colours["B"] == colours["G"] and colours["D"] == colours["F"]
    assert len(set(colours.values())) == len(set(d.se))
    entries = [t.get_text() for t in ax_w.get_legend().get_texts()]
    assert "B, G (se 10)" in entries
    for ax in (ax_d, ax_w):
        assert "tau" in ax.get_xlabel()
    assert "p(" in ax_d.get_ylabel() and "w_i" in ax_w.get_ylabel()
    assert len(assert_readable(fig)) == 2


@pytest.mark.parametrize("n_groups", [13, 50])  # 8 groups: the tests above
def test_plot_tau_readable(by_size, n_groups, tmp_path):
    d, draws, _ = by_size[n_groups]
    fig = plot_tau(draws, d)
    _render(fig, tmp_path, f"tau_{n_groups}")
    assert_readable(fig)
    ax_w = fig.axes[1]
    curves = _by_gid(ax_w.lines, "weight:")
    assert len(curves) == n_groups
    # a colour never repeats for another se_i: groups sharing a colour share (nearly) se_i
    by_colour = {}
    for g, se in zip(d.groups, d.se, strict=True):
        by_colour.setdefault(matplotlib.colors.to_hex(curves[str(g)].get_color()), []).append(se)
    spread = max(np.ptp(v) for v in by_colour.values())
    assert spread <= 0.02 * np.ptp(d.se)
    if len(np.unique(d.se)) > 10:  # many groups: a colour bar of se_i, no legend
        assert len(fig.axes) == 3 and "se_i" in fig.axes[2].get_ylabel()
        assert ax_w.get_legend() is None


def test_plot_tau_exact(exact_draws, tmp_path):
    d = eight_schools()
    ep = exact_posterior(d)
    two = tau_estimates(d, ("reml", "sd_of_means"))
    for source, data in ((exact_draws, d), (ep, d), (ep, None)):
        fig = plot_tau(source, data, estimates=two)
        ax_d, ax_w = fig.axes
        dens = _by_gid(ax_d.lines, "tau:")
        assert "exact" not in dens  # the density itself is exact
        line = dens["density"]
        np.testing.assert_allclose(line.get_ydata(), ep.tau_pdf(line.get_xdata()), rtol=1e-12)
        assert list(_by_gid(ax_d.lines, "tau-hat:")) == ["reml", "sd_of_means"]
        assert len(_by_gid(ax_w.lines, "weight:")) == 8
    _render(fig, tmp_path, "tau_exact")
    band = _by_gid(ax_d.patches, "tau:")["interval"]
    np.testing.assert_allclose([band.get_x(), band.get_x() + band.get_width()],
                               ep.quantile([0.025, 0.975])["tau"].values, rtol=1e-10)
    host = Figure(layout="constrained")
    axes = host.subplots(1, 2)
    assert plot_tau(ep, axes=axes) is host and list(host.axes) == list(axes)


def test_plot_tau_takes_what_it_shows(es_fit, exact_draws, tmp_path):
    """The tau_hat marked are the rows of `estimates`; the exact overlay is the one given
    (or none); the interval is the central `prob` interval of what is drawn."""
    d = eight_schools()
    est = pd.DataFrame({"tau": [2.5, 12.0]}, index=pd.Index(["mine", "reml"], name="method"))
    ep = exact_posterior(d, fit_priors(es_fit))
    host = Figure(layout="constrained")
    axes = host.subplots(1, 2)
    fig = plot_tau(es_fit, d, estimates=est, exact=ep, prob=0.8, axes=axes)
    assert fig is host and list(host.axes) == list(axes)
    _render(fig, tmp_path, "tau_given")
    ax_d, ax_w = axes
    for ax in (ax_d, ax_w):
        marks = _by_gid(ax.lines, "tau-hat:")
        assert list(marks) == ["mine", "reml"]
        np.testing.assert_allclose([m.get_xdata()[0] for m in marks.values()], [2.5, 12.0])
    legend = [t.get_text() for t in ax_d.get_legend().get_texts()]
    assert any(t.startswith("mine") and "2.5" in t for t in legend)
    assert "80% central interval" in legend
    exact = _by_gid(ax_d.lines, "tau:")["exact"]
    np.testing.assert_allclose(exact.get_ydata(), ep.tau_pdf(exact.get_xdata()), rtol=1e-12)
    band = _by_gid(ax_d.patches, "tau:")["interval"]
    np.testing.assert_allclose([band.get_x(), band.get_x() + band.get_width()],
                               np.quantile(es_fit.posterior["tau"].values, [0.1, 0.9]))
    # no exact posterior, no estimators: the KDE of the draws (exact ones too) alone
    for source in (es_fit, exact_draws):
        bare = plot_tau(source, d, estimates=tau_estimates(d, ()), exact=False)
        ax_d = bare.axes[0]
        assert list(_by_gid(ax_d.lines, "tau:")) == ["density"]
        assert not _by_gid(ax_d.lines, "tau-hat:") and not _by_gid(bare.axes[1].lines, "tau-hat:")
        kde = _by_gid(ax_d.lines, "tau:")["density"]
        assert np.trapezoid(kde.get_ydata(), kde.get_xdata()) == pytest.approx(1.0, abs=0.02)


# ----------------------------------------------------------------------------- group dim
def test_any_group_dimension_name(es_fit, by_size):
    """A posterior whose group dimension is called ``school`` (as in ArviZ's examples)."""
    d, draws, _ = by_size[8]
    schools = stack.rename_dims(draws, {"group": "school"})
    assert "school" in schools.posterior["theta"].dims
    fig = plot_meta_forest(schools, d)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()][:8] == GROUPS
    assert "school" in ax.get_title()
    assert [t.get_text() for t in plot_forest(schools).axes[0].get_yticklabels()] == GROUPS
    fig = plot_sampler_geometry({"exact": schools}, group="C")
    assert "[C]" in fig.axes[0].get_ylabel()
    assert len(_by_gid(plot_tau(schools, d).axes[1].lines, "weight:")) == 8
    # a fit renamed throughout (observed and constant data too): the data are rebuilt
    fit_s = stack.rename_dims(es_fit, {"group": "school"})
    a = plot_meta_forest(fit_s)
    b = plot_meta_forest(es_fit)
    for part in ("observed", "posterior"):
        np.testing.assert_array_equal(_by_gid(a.axes[0].collections, "meta:")[part].get_segments(),
                                      _by_gid(b.axes[0].collections, "meta:")[part].get_segments())


def test_arviz_centered_eight():
    """ArviZ's own Eight Schools fit (dim ``school``, school names), with the data given."""
    idata = az.load_arviz_data("centered_eight")
    names = idata.posterior["school"].values.tolist()
    data = hm.HierData.from_estimates(idata.observed_data["obs"].values,
                                      eight_schools().se, groups=names)
    fig = plot_meta_forest(idata, data)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()][:8] == names
    assert_readable(fig)
    geometry = plot_sampler_geometry({"centered_eight": idata}, group=names[0])
    div = int(idata.sample_stats["diverging"].sum())
    assert geometry.axes[0].get_title().startswith(f"centered_eight: {div} divergent")
    if "constant_data" in stack.groups(idata) and "sigma" in stack.group(idata,
                                                                            "constant_data"):
        plot_meta_forest(idata)        # ArviZ 1.x's example stores the se_i as sigma
    else:
        with pytest.raises(ValueError, match="data="):
            plot_meta_forest(idata)    # no sampling sds stored in ArviZ 0.23's example


# ----------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument(es_fit, exact_draws):
    table = compare(es_fit)
    d = eight_schools()
    cases = [
        (lambda: plot_shrinkage(table.to_dict()), TypeError, "result"),
        (lambda: plot_shrinkage(table, columns=("no_pooling", "bayes")), ValueError,
         "columns"),
        (lambda: plot_shrinkage(table, columns="eb"), TypeError, "columns"),
        (lambda: plot_shrinkage(table, columns=("no_pooling", "n")), ValueError, "columns"),
        (lambda: plot_shrinkage(table[["no_pooling", "se"]]), ValueError, "compare"),
        (lambda: plot_shrinkage(table, ax="left"), TypeError, "ax"),
        (lambda: plot_forest({"a": es_fit}, var_names=("nope",)), ValueError, "var_names"),
        (lambda: plot_forest([es_fit]), TypeError, "fits"),
        (lambda: plot_forest({}), ValueError, "fits"),
        (lambda: plot_forest(es_fit, prob=2), ValueError, "prob"),
        (lambda: plot_forest(es_fit, ax=[1]), TypeError, "ax"),
        (lambda: plot_sampler_geometry({"a": es_fit}, group="Z"), ValueError, "group"),
        (lambda: plot_sampler_geometry({"a": es_fit}, var="z"), ValueError, "var"),
        (lambda: plot_sampler_geometry({"a": es_fit}, axes=[]), ValueError, "axes"),
        (lambda: plot_sampler_geometry({"a": es_fit}, axes="x"), TypeError, "axes"),
        (lambda: plot_tau(es_fit, estimates=("reml", "dl")), TypeError, "estimates"),
        (lambda: plot_tau(es_fit, estimates=tau_estimates(d)[["mu"]]), ValueError, "tau"),
        (lambda: plot_tau(es_fit, estimates=pd.DataFrame({"tau": [-1.0]})), ValueError,
         "estimates"),
        (lambda: plot_tau(es_fit, exact=exact_posterior(simulated(8))), ValueError, "exact"),
        (lambda: plot_tau(exact_posterior(d), simulated(8)), ValueError, "data"),
        (lambda: plot_tau(exact_draws), ValueError, "data="),
        (lambda: plot_tau(es_fit, eight_schools_summary().to_dataframe()), TypeError, "data"),
        (lambda: plot_tau(es_fit, eight_schools_summary()), ValueError, "data"),
        (lambda: plot_tau(es_fit, exact="yes"), TypeError, "exact"),
        (lambda: plot_tau(es_fit, prob="0.9"), TypeError, "prob"),
        (lambda: plot_tau("idata"), TypeError, "result"),
        (lambda: plot_meta_forest(exact_draws), ValueError, "data="),
        (lambda: plot_meta_forest(es_fit, prob=1.0), ValueError, "prob"),
        (lambda: plot_meta_forest(es_fit, transform=np.exp), TypeError, "transform='exp'"),
        (lambda: plot_meta_forest(es_fit, transform="log"), ValueError,
         "transform.*'exp', 'expit', 'tanh'"),
        (lambda: plot_meta_forest(es_fit, transform_label=3), TypeError, "transform_label"),
        (lambda: plot_meta_forest(es_fit, simulated(8)), ValueError, "data"),
        (lambda: plot_meta_forest(es_fit, d.to_dataframe()), TypeError, "data"),
        (lambda: plot_meta_forest(es_fit.posterior), TypeError, "result"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()


# ----------------------------------------------------------------------------- predictive
def test_plot_test_statistics(es_pp, tmp_path):
    stats = ["min", "max", "range"]
    fig = plot_test_statistics(es_pp, stats)
    _render(fig, tmp_path, "tstats")
    assert len(fig.axes) == len(stats)
    table = ppc_table(es_pp, stats)
    for ax, name in zip(fig.axes, stats, strict=True):
        vlines = [ln for ln in ax.get_lines() if ln.get_label() == "T(y) observed"]
        assert len(vlines) == 1
        x = vlines[0].get_xdata()
        assert x[0] == x[1] == pytest.approx(table.loc[name, "T_obs"])
        assert ax.get_title() == f"{name}  (p = {table.loc[name, 'p_value']:.3f})"
        assert ax.get_xlabel() == f"{name}(y^rep)" and ax.get_ylabel() == "draws"
        assert sum(p.get_height() for p in ax.patches) == 4000  # every draw binned
    assert "posterior predictive check of y" in fig.get_suptitle()
    (legend,) = assert_readable(fig)
    assert [t.get_text() for t in legend.get_texts()] == ["T(y^rep)", "T(y) observed"]
    # a precomputed table (a mapping names the statistics), into given axes
    spread = {"lowest": "min", "spread": np.std}
    table = ppc_table(es_pp, spread, var_name="y_mixed")
    host = Figure(layout="constrained")
    axes = host.subplots(1, 2)
    out = plot_test_statistics(es_pp, spread, table=table, var_name="y_mixed", axes=axes)
    assert out is host and list(host.axes) == list(axes)
    assert [ax.get_title().split()[0] for ax in axes] == ["lowest", "spread"]
    assert axes[1].get_xlabel() == "spread(y^mixed)"
    assert host.get_suptitle() == ""  # a figure it did not make keeps its title
    with pytest.raises(ValueError, match="T_obs"):  # the table of other statistics
        plot_test_statistics(es_pp, {"lowest": "max", "spread": np.std}, table=table)
    with pytest.raises(ValueError, match="2 statistics"):
        plot_test_statistics(es_pp, "min", table=table)


def test_plot_ppc(es_pp, tmp_path):
    fig = plot_ppc(es_pp, var_name="y_mixed", num_pp_samples=50)
    _render(fig, tmp_path, "ppc")
    (ax,) = fig.axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Observed" in legend and "Posterior predictive" in legend
    assert "y_mixed" in ax.get_title()
    assert_readable(fig)
    host = Figure()
    ax = host.add_subplot()
    assert plot_ppc(es_pp, kind="cumulative", num_pp_samples=20, ax=ax) is host
    assert host.axes == [ax] and len(ax.get_lines()) > 20  # every draw, the data, the mean


# ----------------------------------------------------------------------------- studies
def test_plot_pooling_vs_tau(tmp_path):
    tab = hm.studies.pooling_vs_tau(seed=2)
    fig = plot_pooling_vs_tau(tab)
    _render(fig, tmp_path, "pooling_vs_tau")
    ax1, ax2 = fig.axes
    groups = sorted(tab["group"].unique())
    paths = _by_gid(ax1.lines, "pooling:")
    assert list(paths) == [str(g) for g in groups]
    for g in groups:
        rows = tab[tab["group"] == g].sort_values("tau")
        np.testing.assert_array_equal(paths[str(g)].get_ydata(), rows["partial_pooling"])
        np.testing.assert_array_equal(_by_gid(ax2.lines, "weight:")[str(g)].get_ydata(),
                                      rows["weight"])
        np.testing.assert_array_equal(_by_gid(ax2.lines, "weight-true:")[str(g)].get_ydata(),
                                      rows["weight_true"])
    (cp,) = [ln for ln in ax1.lines if ln.get_gid() == "complete-pooling"]
    np.testing.assert_array_equal(cp.get_ydata(),
                                  tab.groupby("tau")["complete_pooling"].first())
    assert ax1.get_xscale() == "symlog" and ax2.get_ylim() == (-0.02, 1.02)
    legend = assert_readable(fig)[0]
    assert len(legend.get_texts()) == len(groups) + 1
    # many groups: coloured by se_i with a colour bar, into given axes
    many = hm.studies.pooling_vs_tau(n=np.arange(5, 35), sigma=15.0, seed=2)
    host = Figure(figsize=(10, 4), layout="constrained")
    axes = host.subplots(1, 2)
    assert plot_pooling_vs_tau(many, axes=axes) is host
    assert len(host.axes) == 3 and "se_i" in host.axes[2].get_ylabel()
    assert len(_by_gid(axes[0].lines, "pooling:")) == 30
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["complete pooling"]
    with pytest.raises(TypeError, match="pooling_vs_tau"):
        plot_pooling_vs_tau(pd.DataFrame({"x": [1]}))


def test_plot_shrinkage_by_size(tmp_path):
    tab = hm.studies.shrinkage_by_size(seed=4, n_datasets=500)
    fig = plot_shrinkage_by_size(tab)
    _render(fig, tmp_path, "by_size")
    ax1, ax2 = fig.axes
    (true,) = [ln for ln in ax1.lines if ln.get_gid() == "size:shrinkage-true"]
    np.testing.assert_array_equal(true.get_xdata(), tab["n"])
    np.testing.assert_array_equal(true.get_ydata(), tab["shrinkage_true"])
    # the estimated shrinkage with its MC interval: one vertical bar per size
    (bars,) = ax1.containers
    points, _, (segments,) = bars.lines
    np.testing.assert_array_equal(points.get_ydata(), tab["shrinkage"])
    ends = np.array([[seg[0, 1], seg[1, 1]] for seg in segments.get_segments()])
    np.testing.assert_allclose(ends, tab[["shrinkage_lo", "shrinkage_hi"]], rtol=1e-12)
    (np_line,) = [ln for ln in ax2.lines if ln.get_gid() == "size:mse-no-pooling"]
    np.testing.assert_array_equal(np_line.get_ydata(), tab["mse_no_pooling"])
    assert ax1.get_xscale() == "log" and ax2.get_yscale() == "log"
    assert len(assert_readable(fig)) == 2
    host = Figure(layout="constrained")
    axes = host.subplots(2, 1)
    assert plot_shrinkage_by_size(tab, axes=axes) is host and list(host.axes) == list(axes)
    with pytest.raises(TypeError, match="shrinkage_by_size"):
        plot_shrinkage_by_size(tab.drop(columns="mse_partial"))


def test_plot_mse_study(tmp_path):
    study = hm.studies.mse_study(500, seed=0)
    fig = plot_mse_study(study)
    _render(fig, tmp_path, "mse")
    ax1, ax2 = fig.axes
    tab = study.table
    for ax, col in ((ax1, "gain"), (ax2, "mse")):
        assert [t.get_text() for t in ax.get_yticklabels()] == list(tab.index)
        (bars,) = ax.containers                 # errorbar: points and their MC intervals
        points, _, (segments,) = bars.lines
        np.testing.assert_array_equal(points.get_xdata(), tab[col])
        np.testing.assert_array_equal(points.get_ydata(), np.arange(len(tab)))
        ends = np.array([[seg[0, 0], seg[1, 0]] for seg in segments.get_segments()])
        np.testing.assert_allclose(ends, tab[[f"{col}_lo", f"{col}_hi"]], rtol=1e-12)
        assert ax.yaxis_inverted()
    assert "95% MC interval" in ax1.get_xlabel()
    assert "G = 8" in ax2.get_title() and "500 datasets" in ax2.get_title()
    assert "sd_of_means" in " ".join(tab.index)
    assert_readable(fig)
    host = Figure(layout="constrained")
    axes = host.subplots(1, 2)
    assert plot_mse_study(study, axes=axes) is host and list(host.axes) == list(axes)
    with pytest.raises(TypeError, match="MSEStudy"):
        plot_mse_study(tab)


def test_plot_sbc_ranks(sbc_result, tmp_path):
    res = sbc_result
    fig = plot_sbc_ranks(res)
    _render(fig, tmp_path, "sbc")
    assert len(fig.axes) == 3
    lo, hi = binom.ppf([0.005, 0.995], res.n_replicates, 1 / res.n_bins)
    for ax, name in zip(fig.axes, res.ranks.columns, strict=True):
        (bars,) = ax.containers
        assert len(bars) == res.n_bins
        heights = [p.get_height() for p in bars]
        assert sum(heights) == res.n_replicates
        np.testing.assert_array_equal(heights, np.bincount(res.ranks[name] // 2, minlength=5))
        band = _by_gid(ax.patches, "sbc:")[f"{name}:band"]
        np.testing.assert_allclose([band.get_y(), band.get_y() + band.get_height()], [lo, hi])
        assert f"p = {res.tests.loc[name, 'chisq_p']:.3g}" in ax.get_title()
        assert ax.get_xlim() == (0, res.L + 1)
    assert "divergent fits" in fig.get_suptitle() and "N = 12" in fig.get_suptitle()
    assert_readable(fig)
    host = Figure(layout="constrained")
    axes = host.subplots(3, 1)
    out = plot_sbc_ranks(res, band=0.9, axes=axes)
    assert out is host and list(host.axes) == list(axes)
    lo90 = binom.ppf(0.05, res.n_replicates, 1 / res.n_bins)
    assert _by_gid(axes[0].patches, "sbc:")["mu:band"].get_y() == lo90
    with pytest.raises(ValueError, match="band"):
        plot_sbc_ranks(res, band=1.5)
    with pytest.raises(TypeError, match="SBCResult"):
        plot_sbc_ranks(res.ranks)


# ----------------------------------------------------------------------------- the API
def test_every_figure_takes_ax_or_axes():
    """Each figure function of the package lives here and draws into given axes."""
    figures = [n for n in plots.__all__ if n.startswith("plot_")]
    assert len(figures) == 15
    for name in figures:
        params = inspect.signature(getattr(plots, name)).parameters
        keys = [k for k in ("ax", "axes") if k in params]
        # one panel: ax=; several: axes=; plot_bubble takes one result (ax=) or a list (axes=)
        if name == "plot_bubble":
            assert keys == ["ax", "axes"]
        else:
            assert len(keys) == 1, name
        for key in keys:
            assert params[key].kind is inspect.Parameter.KEYWORD_ONLY, (name, key)
            assert params[key].default is None, (name, key)


def test_no_figure_outside_plots():
    """No other module of the package defines a figure function or imports matplotlib."""
    import ast
    from pathlib import Path

    home = Path(plots.__file__).parent                # the package hiermodel/plots/
    root = home.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if home in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("plot"):
                found.append(f"{path.relative_to(root)}: def {node.name}")
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.relative_to(root)}: import {n}" for n in names
                      if n.split(".")[0] == "matplotlib"]
    assert found == []


def test_plot_bubble_side_by_side(bcg_reg):
    """A list of results: one panel each on a shared y axis, each the same as alone."""
    d, fit, ma = bcg_reg
    fig = hm.plots.plot_bubble([fit, ma], d)
    left, right = [a for a in fig.axes if a.get_title()]
    assert "full Bayes" in left.get_title() and "empirical Bayes" in right.get_title()
    assert left.get_shared_y_axes().joined(left, right)
    alone = hm.plots.plot_bubble(ma, d)
    (ax,) = [a for a in alone.axes if a.get_title()]
    mine, solo = _by_gid(right.lines, "bubble:"), _by_gid(ax.lines, "bubble:")
    assert mine.keys() == solo.keys() and mine
    for key in mine:
        np.testing.assert_array_equal(mine[key].get_ydata(), solo[key].get_ydata())
    with pytest.raises(ValueError, match="`axes=`"):
        hm.plots.plot_bubble([fit, ma], d, ax=left)
    with pytest.raises(ValueError, match="empty list"):
        hm.plots.plot_bubble([], d)
    with pytest.raises(ValueError, match="with one result pass `ax=`"):
        hm.plots.plot_bubble(ma, d, axes=[left])


# ----------------------------------------------------------------------------- style
def _rgba(color) -> tuple:
    return tuple(matplotlib.colors.to_rgba(color))


def _collection_color(fig: Figure, gid: str) -> tuple:
    (coll,) = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    return tuple(coll.get_edgecolor()[0]) if coll.get_edgecolor().size else tuple(
        coll.get_facecolor()[0])


def test_style_override_changes_the_drawn_colours(es_fit):
    """The posterior, pooled and observed colours of the forest plot come from the style in
    force: read back from the artists, default and overridden."""
    default = hm.get_style()
    fig = plot_meta_forest(es_fit)
    assert _collection_color(fig, "meta:posterior") == _rgba(default.posterior)
    assert _collection_color(fig, "meta:observed") == _rgba(default.observed)
    with hm.style_context(posterior="purple", observed="#00aa00", pooled="orange"):
        fig = plot_meta_forest(es_fit)
    assert _collection_color(fig, "meta:posterior") == _rgba("purple")
    assert _collection_color(fig, "meta:observed") == _rgba("#00aa00")
    (diamond,) = [p for p in fig.axes[0].patches if p.get_gid() == "meta:pooled"]
    assert tuple(diamond.get_facecolor()) == _rgba("orange")
    # the categorical cycle: plot_forest's fits take its colours in order
    with hm.style_context(cycle=("k", "tab:green")):
        fig = plot_forest({"a": es_fit, "b": es_fit})
    assert _collection_color(fig, "forest:a:interval") == _rgba("k")
    assert _collection_color(fig, "forest:b:interval") == _rgba("tab:green")


def test_style_context_restores_and_set_style_is_process_wide(es_pp):
    before = hm.get_style()
    with hm.style_context(replicated="red", replicated_alpha=0.5) as inside:
        assert hm.get_style() is inside and inside.replicated == "red"
        fig = plot_ppc(es_pp, num_pp_samples=5)
    lines = [ln for ln in fig.axes[0].lines if ln.get_alpha() == 0.5]
    assert len(lines) == 5 and all(_rgba(ln.get_color()) == _rgba("red") for ln in lines)
    assert hm.get_style() == before
    try:
        hm.set_style(divergent="black")
        assert hm.get_style().divergent == "black"
        with hm.style_context(draws="0.3"):        # a context starts from the set style
            assert hm.get_style().divergent == "black" and hm.get_style().draws == "0.3"
        assert hm.get_style().draws == before.draws
    finally:
        hm.set_style(**{f: getattr(before, f) for f in before.__dataclass_fields__})
    assert hm.get_style() == before


def test_style_refuses_unknown_names_and_bad_values():
    with pytest.raises(TypeError, match="posterier"):
        hm.set_style(posterier="red")
    with pytest.raises(TypeError, match="colour_of_mu"):
        with hm.style_context(colour_of_mu="red"):
            pass
    with pytest.raises(ValueError, match="posterior"):
        hm.set_style(posterior="not-a-colour")
    with pytest.raises(ValueError, match="cycle"):
        hm.Style(cycle=())
    with pytest.raises(ValueError, match="band_alpha"):
        hm.Style(band_alpha=2.0)
    with pytest.raises(ValueError, match="colormap"):
        hm.Style(colormap="no_such_map")
    assert hm.get_style() == hm.Style()


def test_plot_ppc_refuses_unknown_keywords_and_seeds_its_choice(es_pp):
    with pytest.raises(TypeError, match="alpha"):
        plot_ppc(es_pp, alpha=0.3)
    with pytest.raises(TypeError, match="seed"):
        plot_ppc(es_pp, seed="one")

    def curves(seed):
        fig = plot_ppc(es_pp, num_pp_samples=3, seed=seed)
        return [ln.get_ydata().tolist() for ln in fig.axes[0].lines if ln.get_alpha()]

    assert curves(1) == curves(1)
    assert curves(1) != curves(2)


def test_hdi_differs_from_the_central_interval_on_tau(es_fit):
    """tau's posterior is skewed right (a mode near 0): its highest-density interval is
    shorter than the central one and lies further left; the option selects it too."""
    tau = es_fit.posterior["tau"].values.ravel()

    def shaded(fig):
        (span,) = [p for p in fig.axes[0].patches if p.get_gid() == "tau:interval"]
        if hasattr(span, "get_width"):           # matplotlib >= 3.9: a Rectangle
            return float(span.get_x()), float(span.get_x() + span.get_width())
        xs = np.asarray(span.get_xy())[:, 0]
        return float(xs.min()), float(xs.max())

    eti = shaded(plot_tau(es_fit, exact=False))
    hdi = shaded(plot_tau(es_fit, exact=False, interval="hdi"))
    assert eti == pytest.approx(tuple(np.quantile(tau, [0.025, 0.975])))
    assert hdi[1] - hdi[0] < eti[1] - eti[0]
    assert hdi[0] < eti[0] and hdi[1] < eti[1]
    assert np.mean((tau >= hdi[0]) & (tau <= hdi[1])) == pytest.approx(0.95, abs=0.01)
    with hm.option_context(interval="hdi"):
        assert shaded(plot_tau(es_fit, exact=False)) == hdi
    # the exact posterior's density gives an HDI too, also left of the central interval
    ep = exact_posterior(eight_schools())
    lo, hi = shaded(plot_tau(ep, interval="hdi"))
    c_lo, c_hi = (float(v) for v in ep.quantile([0.025, 0.975])["tau"].values)
    assert lo < c_lo and hi - lo < c_hi - c_lo
    # the forest plot takes it too, and its title says which interval it shows
    fig = plot_meta_forest(es_fit, interval="hdi")
    assert "highest-density" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="interval"):
        plot_forest(es_fit, interval="hpd")


def test_every_figure_takes_result_first_and_no_catch_all():
    """One name for what a figure draws, and no keyword silently ignored."""
    for name in [n for n in plots.__all__ if n.startswith("plot_")]:
        params = list(inspect.signature(getattr(plots, name)).parameters.values())
        assert params[0].name == "result", name
        assert not [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD], name


def test_style_context_is_per_thread():
    """A style_context in one thread leaves the style of the others alone."""
    import threading

    seen = {}

    def worker():
        with hm.style_context(posterior="black"):
            seen["inside"] = hm.get_style().posterior
            started.set()
            release.wait(5)

    started, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(5)
    seen["main"] = hm.get_style().posterior
    release.set()
    thread.join()
    assert seen == {"inside": "black", "main": hm.Style().posterior}


# ----------------------------------------------------------------------------- issue 27 figures
def _meta_studies(k, seed=27):
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.05, 0.6, k)
    y = 0.3 + rng.normal(0, 0.2, k) + rng.normal(0, se)
    keep = ~((y < 0.3) & (se > 0.35))              # small negative studies "unpublished"
    return hm.HierData.from_estimates(y[keep], se[keep],
                                      groups=[f"Study {i + 1}" for i in range(keep.sum())])


def _gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_plot_funnel_points_inverted_region_and_estimate():
    ma = hm.meta_analysis(eight_schools())
    fig = plots.plot_funnel(ma)
    ax = fig.axes[0]
    (pts,) = _gid(ax, "funnel:studies")
    assert pts.get_offsets().shape == (8, 2)
    assert ax.yaxis_inverted()
    assert ax.get_ylim()[1] <= 0.0
    assert len(_gid(ax, "funnel:region")) == 1
    (line,) = _gid(ax, "funnel:estimate")
    assert np.isclose(line.get_xdata()[0], ma.coefficients["estimate"].iloc[0])
    assert _gid(ax, "funnel:filled") == []


def test_plot_funnel_contours_trim_fill_posterior_and_ax():
    data = _meta_studies(60)
    ma = hm.meta_analysis(data)
    taf = ma.trim_and_fill()
    assert taf.k0 > 0
    ep = hm.exact_posterior(data)
    fig = Figure()
    ax = fig.add_subplot()
    out = plots.plot_funnel(ma, posterior=ep, trim_and_fill=taf,
                            contours=(0.90, 0.95, 0.99), ax=ax)
    assert out is fig and fig.axes[0] is ax
    assert len(_gid(ax, "funnel:contour-0.95")) == 2
    (hollow,) = _gid(ax, "funnel:filled")
    assert hollow.get_offsets().shape[0] == taf.k0
    assert np.all(hollow.get_facecolors()[:, :3] == 1.0)          # hollow: white faces
    (adj,) = _gid(ax, "funnel:adjusted")
    assert np.isclose(adj.get_xdata()[0], taf.adjusted.coefficients["estimate"].iloc[0])
    (post,) = _gid(ax, "funnel:posterior")
    lo, hi = post.get_xdata()
    q = ep.quantile([0.025, 0.975])["mu"].values
    assert np.allclose([lo, hi], q, atol=0.01)
    assert (_gid(ax, "funnel:studies")[0].get_offsets().shape[0] == data.n_groups)


def test_plot_funnel_refuses_bad_input():
    ma = hm.meta_analysis(eight_schools())
    with pytest.raises(TypeError, match="result"):
        plots.plot_funnel(eight_schools())
    with pytest.raises(ValueError, match="contours"):
        plots.plot_funnel(ma, contours=(0.95, 1.5))
    with pytest.raises(TypeError, match="contours"):
        plots.plot_funnel(ma, contours=0.95)
    with pytest.raises(TypeError, match="trim_and_fill"):
        plots.plot_funnel(ma, trim_and_fill="yes")
    with pytest.raises(TypeError, match="posterior"):
        plots.plot_funnel(ma, posterior=3)
    with pytest.raises(TypeError, match="ax"):
        plots.plot_funnel(ma, ax=1)


def test_plot_influence_panels_flags_and_labels():
    rng = np.random.default_rng(1)
    k = 60
    se = rng.uniform(0.05, 0.6, k)
    y = 0.3 + rng.normal(0, 0.2, k) + rng.normal(0, se)
    y[5] += 2.0                                                   # one outlier
    ma = hm.meta_analysis(hm.HierData.from_estimates(y, se, groups=[f"S{i}" for i in range(k)]))
    table = ma.influence()
    fig = plots.plot_influence(ma)
    assert len(fig.axes) == 8
    n_flag = int(table["influential"].sum())
    assert n_flag >= 1
    for ax, col in zip(fig.axes, ["rstudent", "dffits", "cook_d", "cov_r", "tau2_del",
                                  "QE_del", "hat", "weight"], strict=True):
        (pts,) = _gid(ax, f"influence:{col}")
        (hot,) = _gid(ax, f"influence:{col}:influential")
        assert pts.get_offsets().shape[0] + hot.get_offsets().shape[0] == k
        assert hot.get_offsets().shape[0] == n_flag
        assert np.allclose(hot.get_offsets()[:, 1], table[col][table["influential"]])
        assert np.allclose(hot.get_facecolors()[0][:3], matplotlib.colors.to_rgb("tab:red"))
    # thinned labels above 20 studies, all of them at 8
    assert 0 < len([t for t in fig.axes[-1].get_xticklabels() if t.get_text()]) <= 20
    fig8 = plots.plot_influence(hm.meta_analysis(eight_schools()))
    assert [t.get_text() for t in fig8.axes[-1].get_xticklabels()] == list("ABCDEFGH")


def test_plot_influence_axes_and_bad_input():
    ma = hm.meta_analysis(eight_schools())
    fig = Figure()
    axes = fig.subplots(4, 2)
    assert plots.plot_influence(ma, axes=axes) is fig
    with pytest.raises(ValueError, match="axes"):
        plots.plot_influence(ma, axes=fig.subplots(1, 3))
    with pytest.raises(TypeError, match="axes"):
        plots.plot_influence(ma, axes="no")
    with pytest.raises(TypeError, match="result"):
        plots.plot_influence(ma.influence())


def test_plot_cumulative_rows_order_and_posterior():
    data = eight_schools()
    ma = hm.meta_analysis(data)
    ep = hm.exact_posterior(data)
    order = np.array([8, 7, 6, 5, 4, 3, 2, 1])
    fig = plots.plot_cumulative(ma, order=order, posterior=ep)
    ax = fig.axes[0]
    table = ma.cumulative(order=order)
    (pts,) = _gid(ax, "cumulative:estimate")
    assert np.allclose(pts.get_offsets()[:, 0], table["estimate"])
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "H"
    assert ax.yaxis_inverted()
    (band,) = _gid(ax, "cumulative:posterior")
    post = ep.cumulative(order=order)
    assert len(band.get_segments()) == int(post["mu_low"].notna().sum())
    seg = band.get_segments()[-1]
    assert np.allclose([seg[0][0], seg[1][0]], post[["mu_low", "mu_high"]].iloc[-1])


def test_plot_cumulative_ax_and_bad_input():
    ma = hm.meta_analysis(eight_schools())
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.plot_cumulative(ma, ax=ax) is fig
    assert _gid(ax, "cumulative:posterior") == []
    with pytest.raises(TypeError, match="result"):
        plots.plot_cumulative(eight_schools())
    with pytest.raises(TypeError, match="posterior"):
        plots.plot_cumulative(ma, posterior=ma)
    with pytest.raises(ValueError, match="order"):
        plots.plot_cumulative(ma, order=[1, 2])
    with pytest.raises(TypeError, match="ax"):
        plots.plot_cumulative(ma, ax="x")


def test_plot_funnel_posterior_interval_option():
    data = eight_schools()
    ma, ep = hm.meta_analysis(data), hm.exact_posterior(data)
    ax = plots.plot_funnel(ma, posterior=ep).axes[0]
    (post,) = _gid(ax, "funnel:posterior")
    assert np.allclose(post.get_xdata(), ep.quantile([0.025, 0.975])["mu"].values, atol=1e-3)
    ax90 = plots.plot_funnel(ma, posterior=ep, interval="hdi", prob=0.9).axes[0]
    (hdi,) = _gid(ax90, "funnel:posterior")
    assert np.ptp(hdi.get_xdata()) < np.ptp(post.get_xdata())
    with pytest.raises(ValueError, match="interval"):
        plots.plot_funnel(ma, posterior=ep, interval="wide")


def test_plot_funnel_posterior_from_a_fit(es_fit):
    ma = hm.meta_analysis(eight_schools())
    ax = plots.plot_funnel(ma, posterior=es_fit).axes[0]
    (post,) = _gid(ax, "funnel:posterior")
    mu = stack.group(es_fit, "posterior")["mu"].values.ravel()
    assert np.allclose(post.get_xdata(), np.quantile(mu, [0.025, 0.975]))
