r"""Every figure of the package: shrinkage, forests, sampler geometry, the posterior of tau,
predictive checks, the pooling and shrinkage simulation studies and simulation-based
calibration.

Figures take precomputed inputs -- fits, comparison tables, predictive draws, study results --
and draw them; what they show beyond the draws themselves (central intervals, a density) is
summarised from those inputs, and any convenience default (the EB ``tau_hat``, the exact
posterior) comes from a public library function.  Every function builds a
:class:`matplotlib.figure.Figure` directly (no pyplot state, never ``plt.show()``), so it is
thread-safe, safe headless (Agg), in notebooks (the returned figure displays once under
``%matplotlib inline``) and in the CLI (``fig.savefig(path)``).  Each draws into a new figure
by default, or into the axes it is given (``ax=`` for one-panel figures, ``axes=`` for
multi-panel ones) and then returns the figure holding them.

* :func:`plot_shrinkage` -- the shrinkage plot (Efron & Morris 1975; in the style of Gelman &
  Hill 2007 fig. 12.1): each group's move from no pooling ``ybar_i`` to partial pooling
  (empirical Bayes and full Bayes), marker area by ``n_i`` (or the precision ``1/se_i^2``),
  the grand mean marked;
* :func:`plot_meta_forest` -- the meta-analyst's forest plot: per group the observed
  ``y_i +- 1.96 se_i`` beside the posterior ``theta_i``, then the pooled ``mu`` (a diamond)
  and the prediction interval of a new group's ``theta_new ~ N(mu, tau^2)`` (at the mean
  covariates for a meta-regression);
* :func:`plot_bubble` -- a meta-regression's bubble plot: ``y_i`` against a covariate (bubble
  area by precision ``1/se_i^2``) with the fitted line, its credible (or confidence) band and
  the prediction band for a new group, from a fit or an empirical-Bayes ``MetaAnalysis``;
* :func:`plot_forest` -- ``theta_i`` (or other variables) across fits / methods;
* :func:`plot_sampler_geometry` -- the sampler's view of one group against ``log tau``, one
  panel per fit, divergent draws in red: the funnel of the centered form and its absence in
  the non-centered one (sampler geometry, *not* a publication-bias funnel plot);
* :func:`plot_tau` -- the posterior of ``tau`` with each empirical-Bayes ``tau_hat`` marked,
  and the shrinkage weight curves ``w_i(tau) = tau^2 / (tau^2 + se_i^2)``;
* :func:`plot_test_statistics`, :func:`plot_ppc` -- predictive checks: histograms of
  ``T(y^rep)`` against ``T(y)``, and ArviZ's predictive density plot;
* :func:`plot_pooling_vs_tau`, :func:`plot_shrinkage_by_size`, :func:`plot_mse_study` -- the
  pooling and shrinkage simulation studies (:mod:`hiermodel.studies`);
* :func:`plot_sbc_ranks` -- the rank histograms of simulation-based calibration.

Intervals are central (equal-tailed): the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles,
``prob = 0.95`` by default.  The group dimension of ``theta`` may have any name (``group``,
ArviZ's ``school``, ...).  Labels never overlap: group labels are spread apart with leader
lines (:func:`plot_shrinkage`), row labels shrink or thin out when rows are too dense for
them, and legends sit outside the data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps, patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import Bbox, blended_transform_factory, offset_copy
from scipy.stats import binom, norm

from . import stack
from ._validate import check_finite_array, check_method, check_positive_int, check_prob
from .comparison import (
    check_fits,
    data_from_idata,
    fit_priors,
    normalize_group_dim,
)
from .core import TAU_METHOD_NAMES, predictive_quantiles, shrinkage_weights
from .data import HierData
from .exceptions import PredictiveCheckWarning
from .shrinkage import ExactPosterior, MetaAnalysis, exact_posterior, tau_estimates
from .stack import check_fitted
from .transforms import Transform, check_transform

if TYPE_CHECKING:
    import arviz as az

__all__ = ["plot_shrinkage", "plot_meta_forest", "plot_bubble", "plot_forest",
           "plot_sampler_geometry", "plot_tau", "plot_test_statistics", "plot_ppc",
           "plot_pooling_vs_tau", "plot_shrinkage_by_size", "plot_mse_study", "plot_sbc_ranks"]

_SAMPLE = ("chain", "draw")
#: comparison columns plot_shrinkage can draw, with their axis labels
SHRINKAGE_COLUMNS = {
    "no_pooling": "no pooling\n" + r"$\bar y_i$",
    "sd_of_means": "sd of means\n(plug-in)",
    "eb": "empirical Bayes\n({method})",
    "rb_mean": "full Bayes\n(Rao-Blackwell)",
    "mean": "full Bayes\n" + r"$E[\theta_i \mid y]$",
    "exact": "exact posterior\nmean",
}
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)))
_DIVERGENT_COLOR = "tab:red"
_DRAW_COLOR = "tab:blue"
_OBSERVED_COLOR = "0.15"
_POSTERIOR_COLOR = "tab:blue"
_POOLED_COLOR = "tab:red"
_LABEL_SIZE = 9.0        # group labels and row labels, points
_MIN_LABEL_SIZE = 4.0    # row labels never shrink below this; they thin out instead
_LINE_SPACING = 1.3      # a label's height as a multiple of its font size (with padding)
_MAX_LEGEND_ENTRIES = 10  # categorical colours (tab10) up to this many; a colour map beyond


# ----------------------------------------------------------------------------- helpers
def _new_figure(figsize: tuple[float, float] | None, default: tuple[float, float]) -> Figure:
    return Figure(figsize=default if figsize is None else figsize, layout="constrained")


def _check_ax(ax: Any, name: str = "ax") -> Axes | None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"`{name}` must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def _check_axes(axes: Any, n: int) -> list[Axes] | None:
    """``axes`` as a list of ``n`` matplotlib Axes (or None)."""
    if axes is None:
        return None
    if isinstance(axes, Axes):
        axes = [axes]
    if isinstance(axes, np.ndarray):
        axes = axes.ravel().tolist()
    if not isinstance(axes, Sequence) or not all(isinstance(a, Axes) for a in axes):
        raise TypeError(f"`axes` must be a sequence of {n} matplotlib Axes or None, got "
                        f"{type(axes).__name__}.")
    if len(axes) != n:
        raise ValueError(f"`axes` must hold {n} Axes (one per panel), got {len(axes)}.")
    return list(axes)


def _root_figure(ax: Axes) -> Figure:
    fig = ax.figure
    while isinstance(fig, SubFigure):
        fig = fig.figure  # SubFigure -> its parent figure
    return fig


def _pct(prob: float) -> str:
    return f"{100 * prob:g}%"


def _num(v: float) -> str:
    """A number for a legend or title: 3 significant digits, whole numbers from 100 on."""
    a = abs(float(v))
    if a >= 1e6 or 0 < a < 1e-4:
        return f"{v:.3g}"
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def _central(draws: np.ndarray, prob: float, axis: int = 0) -> np.ndarray:
    """Median and central ``prob`` interval along ``axis``: rows ``lo, median, hi``."""
    a = (1.0 - prob) / 2.0
    return np.quantile(draws, [a, 0.5, 1.0 - a], axis=axis)


def _labels(idata: az.InferenceData) -> list:
    return idata.posterior["group"].values.tolist()


def _data_for(idata: az.InferenceData, data: Any) -> HierData:
    """``data``, or the data rebuilt from a (normalized) fit that carries it; a ``data``
    given with a fit that carries its own must be that data."""
    if data is not None:
        HierData.check(data, covariates=True)
    try:
        stored = data_from_idata(idata)
    except (ValueError, KeyError) as err:
        if data is None:
            raise ValueError(f"Could not rebuild the data from `idata` ({err}); pass the "
                             "HierData the posterior was fitted to as `data=`.") from None
        stored = None
    if data is None:
        data = stored
    if [str(g) for g in _labels(idata)] != [str(g) for g in data.groups]:
        raise ValueError("`data` has other groups than `idata`'s posterior: pass the data the "
                         "posterior was fitted to.")
    if stored is not None and not (np.allclose(stored.means, data.means, rtol=1e-9)
                                   and np.allclose(stored.se, data.se, rtol=1e-9)):
        raise ValueError("`data` differs from the data stored in `idata` (means or se): pass "
                         "the data the posterior was fitted to, or data=None.")
    _check_covariates(idata, data, stored)
    return data


def _check_covariates(idata: az.InferenceData, data: HierData, stored: HierData | None) -> None:
    """``data``'s covariates are those of the fit: the posterior has ``beta`` exactly when
    the data have covariates, on the same names (and the same values as stored in it)."""
    post = idata.posterior
    names = list(data.covariate_names)
    if "beta" in post:
        fitted = ([str(c) for c in post["beta"]["covariate"].values.tolist()]
                  if "covariate" in post["beta"].dims else None)
        if not data.has_covariates:
            raise ValueError(f"`idata` is a meta-regression (its posterior has beta on "
                             f"{fitted}) but `data` has no covariates: pass the data it was "
                             "fitted to (HierData.with_covariates), or data=None.")
        if fitted is not None and fitted != names:
            raise ValueError(f"`data` has covariates {names} but `idata` was fitted with "
                             f"{fitted}: pass the data it was fitted to, or data=None.")
    elif data.has_covariates:
        raise ValueError(f"`data` has covariates {names} but `idata` was fitted without "
                         "them (its posterior has no beta): pass the data it was fitted to.")
    if stored is not None and (stored.covariate_names != data.covariate_names or (
            data.has_covariates
            and not np.allclose(np.asarray(stored.x), np.asarray(data.x), rtol=1e-9))):
        raise ValueError("`data` differs from the data stored in `idata` (covariates): pass "
                         "the data the posterior was fitted to, or data=None.")


# ----------------------------------------------------------------------- text geometry
def _text_extents_pts(strings: Sequence[str], **props: Any) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights, in points, of ``strings`` rendered as text with ``props``."""
    renderer = RendererAgg(10, 10, 72)           # at 72 dpi a pixel is a point
    text = Figure(dpi=72).text(0, 0, "", **props)
    sizes = []
    for s in strings:
        text.set_text(s)
        bb = text.get_window_extent(renderer)
        sizes.append((bb.width, bb.height))
    w, h = np.array(sizes, float).reshape(-1, 2).T
    return w, h


def _text_size_pts(strings: Sequence[str], **props: Any) -> tuple[float, float]:
    """The largest width and height, in points, of ``strings`` rendered with ``props``."""
    w, h = _text_extents_pts(strings, **props)
    return float(w.max(initial=0.0)), float(h.max(initial=0.0))


def _xaxis_depth_pts(ax: Axes, ticklabels: Sequence[str], xlabel: str | None) -> float:
    """How far below the axes the x tick labels (and the x label) reach, in points."""
    tick = ax.xaxis.get_major_ticks()[0] if ax.xaxis.get_major_ticks() else None
    pad = (tick.get_tick_padding() + tick.get_pad()) if tick is not None else 7.0
    size = ax.xaxis.get_ticklabels()[0].get_fontsize() if ax.xaxis.get_ticklabels() else 10
    depth = pad + _text_size_pts(ticklabels or ["0"], fontsize=size)[1]
    if xlabel:
        label = ax.xaxis.label
        depth += ax.xaxis.labelpad + _text_size_pts([xlabel], fontsize=label.get_fontsize())[1]
    return depth


def _legend_below(ax: Axes, handles: list, labels: list[str], *, depth_pts: float,
                  ncols: int = 2, fontsize: float = 8, **kwargs: Any):
    """A legend centred under the axes, below its x tick labels and x label."""
    trans = offset_copy(ax.transAxes, fig=ax.figure, y=-(depth_pts + 4.0), units="points")
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     bbox_transform=trans, ncols=ncols, fontsize=fontsize, frameon=False,
                     borderaxespad=0.0, **kwargs)


def _isotonic(values: np.ndarray) -> np.ndarray:
    """Least-squares non-decreasing fit to ``values`` (pool adjacent violators)."""
    blocks: list[list[float]] = []               # [mean, weight]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    return np.concatenate([np.full(int(w), m) for m, w in blocks])


def _spread(desired: np.ndarray, heights: np.ndarray, gap: float, lo: float,
            hi: float) -> np.ndarray:
    """Centres closest (least squares) to ``desired`` such that boxes of ``heights`` plus
    ``gap`` do not overlap and stay within ``[lo, hi]`` (assumed to have room)."""
    order = np.argsort(desired, kind="stable")
    d, h = desired[order], heights[order]
    step = np.r_[0.0, (h[:-1] + h[1:]) / 2.0 + gap]
    offset = np.cumsum(step)                     # minimal distance of each from the first
    q = _isotonic(d - offset)
    q = np.clip(q, lo + h[0] / 2.0, max(lo + h[0] / 2.0, hi - h[-1] / 2.0 - offset[-1]))
    out = np.empty_like(desired)
    out[order] = q + offset
    return out


class _DrawTimeArtist(Artist):
    """An invisible helper that lays out other artists when the axes is drawn: drawn first
    (lowest zorder), outside the layout, with no extent of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.set_zorder(-100)
        self.set_in_layout(False)

    def get_window_extent(self, renderer: Any = None) -> Bbox:
        return Bbox.null()


class _SpreadLabels(_DrawTimeArtist):
    """Draw-time placement of one label per point beside an axes, never overlapping.

    Before the labels are drawn (lowest zorder in the axes) it spreads them vertically as
    little as possible (``_spread``; label heights ``heights_pts``, in points) within the
    axes' height, draws leader lines from each label to its point, and hides the
    lowest-priority labels when the axes is too short for all of them (``on_count(shown,
    total)`` reports how many show).  Only what changed is updated.
    """

    def __init__(self, texts: list, heights_pts: np.ndarray, y: np.ndarray, x_point: float,
                 leaders: LineCollection, priority: np.ndarray,
                 on_count: Callable[[int, int], None] | None = None, gap_pts: float = 1.0):
        super().__init__()
        self._texts, self._y, self._x_point = texts, np.asarray(y, float), float(x_point)
        self._heights = np.asarray(heights_pts, float)
        self._leaders, self._priority = leaders, np.asarray(priority, int)
        self._on_count, self._gap_pts = on_count, gap_pts
        self.shown = len(texts)

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or not self._texts:
            return
        px = renderer.points_to_pixels(1.0)
        gap, heights = self._gap_pts * px, self._heights * px
        lo, hi = ax.bbox.y0, ax.bbox.y1
        chosen, used = [], 0.0
        for i in self._priority:                 # most important first
            if used + heights[i] + gap > hi - lo:
                break
            chosen.append(i)
            used += heights[i] + gap
        chosen = np.array(sorted(chosen), int)
        trans = ax.transData
        xy = np.c_[np.full(self._y.size, self._x_point), self._y]
        desired = trans.transform(xy)[:, 1]
        segments = []
        if chosen.size:
            pos = _spread(desired[chosen], heights[chosen], gap, lo, hi)
            ydata = trans.inverted().transform(np.c_[np.full(pos.size, self._x_point), pos])[:, 1]
            x_edge = ax.get_xlim()[0]
            for i, yl in zip(chosen, ydata, strict=True):
                text = self._texts[i]
                if text.get_position()[1] != yl:
                    text.set_y(yl)
                segments.append([(x_edge, yl), (self._x_point, self._y[i])])
        keep = set(chosen.tolist())
        for i, t in enumerate(self._texts):
            if t.get_visible() != (i in keep):
                t.set_visible(i in keep)
        old = self._leaders.get_segments()
        if len(old) != len(segments) or not all(np.array_equal(a, b) for a, b in
                                                zip(old, segments, strict=True)):
            self._leaders.set_segments(segments)
        self.shown = int(chosen.size)
        if self._on_count is not None:
            self._on_count(self.shown, len(self._texts))


class _FitRows(_DrawTimeArtist):
    """Draw-time fitting of row labels (y tick labels and per-row texts) to the row pitch.

    The font shrinks (down to ``_MIN_LABEL_SIZE``) when rows are denser than the labels,
    and below that rows lose their labels, those in ``keep`` last.  A row whose label is
    None has texts but no tick.
    """

    def __init__(self, rows: np.ndarray, labels: list[str | None],
                 texts: Sequence[Sequence] = (),
                 keep: Sequence[int] = (), size: float = _LABEL_SIZE,
                 text_size: float | None = None):
        super().__init__()
        self._rows, self._labels = np.asarray(rows, float), list(labels)
        self._texts = [list(t) for t in texts]       # per row: the texts on that row
        self._keep, self._size = set(keep), float(size)
        self._text_size = float(size if text_size is None else text_size)
        self._state: tuple | None = None

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or self._rows.size == 0:
            return
        pts = renderer.points_to_pixels(1.0)
        ydisp = ax.transData.transform(np.c_[np.zeros(self._rows.size), self._rows])[:, 1] / pts
        pitch = np.min(np.abs(np.diff(np.sort(ydisp)))) if ydisp.size > 1 else np.inf
        size = float(np.clip(pitch / _LINE_SPACING, _MIN_LABEL_SIZE, self._size))
        need = size * _LINE_SPACING
        shown: list[int] = []
        order = sorted(range(self._rows.size), key=lambda i: (i not in self._keep, i))
        for i in order:
            if all(abs(ydisp[i] - ydisp[j]) >= need for j in shown):
                shown.append(i)
        shown.sort()
        state = (size, tuple(shown))
        if state == self._state:
            return
        self._state = state
        ticks = [i for i in shown if self._labels[i] is not None]
        ax.set_yticks(self._rows[ticks], [self._labels[i] for i in ticks])
        ax.tick_params(axis="y", labelsize=size)
        text_size = min(self._text_size, size)
        for i, row in enumerate(self._texts):
            for t in row:
                t.set_fontsize(text_size)
                t.set_visible(i in shown)


# ----------------------------------------------------------------------------- shrinkage
def plot_shrinkage(
    comparison: pd.DataFrame,
    *,
    ax: Axes | None = None,
    columns: Sequence[str] = ("no_pooling", "eb", "mean"),
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Each group's move from no pooling to partial pooling: the shrinkage plot (Efron & Morris
    1975; in the style of Gelman & Hill 2007 fig. 12.1).

    One column of points per estimate (by default no pooling ``ybar_i``, empirical Bayes
    ``w_i ybar_i + (1 - w_i) mu_hat`` and the full-Bayes posterior mean), a line per group
    joining them, marker area proportional to ``n_i`` (or to the precision ``1/se_i^2``
    when group sizes are unknown), and horizontal lines at the grand mean: the posterior
    mean of ``mu`` (dashed) and the EB ``mu_hat`` (dotted).

    Group labels sit left of the axes, spread apart so that they never overlap, each joined
    to its no-pooling point by a leader line (the value axis is on the right).  A new
    figure grows with the number of groups so that every group is labelled; when the axes
    is too short for all labels, the groups that move most are labelled and the title says
    how many.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The result of :func:`hiermodel.comparison.compare`.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    columns : sequence of str, default ("no_pooling", "eb", "mean")
        Which estimates to show, left to right; any of ``"no_pooling"``, ``"sd_of_means"``,
        ``"eb"``, ``"rb_mean"``, ``"mean"``, ``"exact"`` present in ``comparison``.
    figsize : (float, float), optional
        Size of a new figure; default (7, max(5, 1.9 + 0.17 G)), at most 14 inches tall.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(comparison, pd.DataFrame):
        raise TypeError(f"`comparison` must be the DataFrame from compare(), got "
                        f"{type(comparison).__name__}.")
    ax = _check_ax(ax)
    if isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) < 2:
        raise TypeError(f"`columns` must be a sequence of at least two column names, got "
                        f"{columns!r}.")
    bad = [c for c in columns if c not in SHRINKAGE_COLUMNS]
    if bad:
        raise ValueError(f"Requested columns {bad} but they must be among "
                         f"{list(SHRINKAGE_COLUMNS)}.")
    missing = [c for c in (*columns, "se") if c not in comparison]
    if missing:
        raise ValueError(f"`comparison` lacks column(s) {missing}; pass the result of "
                         "compare() (the 'exact' column needs known sampling sds).")
    t = comparison
    n_groups = len(t)
    if ax is None:
        fig = _new_figure(figsize, (7.0, float(np.clip(1.9 + 0.17 * n_groups, 5.0, 14.0))))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    x = np.arange(len(columns), dtype=float)
    values = t[list(columns)].to_numpy(float)                     # (G, k)
    if "n" in t:
        size_of, size_name = t["n"].to_numpy(float), r"$n_i$"
    else:
        size_of, size_name = 1.0 / t["se"].to_numpy(float) ** 2, r"precision $1/se_i^2$"
    sizes = 20.0 + 230.0 * size_of / size_of.max()
    for i, g in enumerate(t.index):
        ax.plot(x, values[i], color="0.55", lw=1.0, zorder=1, gid=f"shrinkage-path:{g}")
    for k, col in enumerate(columns):
        ax.scatter(np.full(n_groups, x[k]), values[:, k], s=sizes, color=f"C{k}",
                   edgecolor="k", linewidth=0.5, alpha=0.85, zorder=2, label=None,
                   gid=f"shrinkage-points:{col}")
    a = t.attrs
    handles, labels = [], []
    regression = "covariates" in a       # each group shrinks toward its own fitted value
    if regression and "fitted_mean" in t:
        handles.append(ax.scatter(np.full(n_groups, x[-1] + 0.18), t["fitted_mean"],
                                  marker="_", s=120, color="k", zorder=2))
        labels.append(r"fitted value $E[\mu + (x_i - \bar x)'\beta \mid y]$")
    elif "mu_mean" in a:
        handles.append(ax.axhline(a["mu_mean"], color="k", ls="--", lw=1))
        labels.append(rf"grand mean $E[\mu \mid y]$ = {_num(a['mu_mean'])}")
    if "eb_mu" in a and "eb" in columns and not regression:
        handles.append(ax.axhline(a["eb_mu"], color="C1", ls=":", lw=1.2))
        labels.append(rf"EB $\hat\mu$ = {_num(a['eb_mu'])} ($\hat\tau$ = "
                       f"{_num(a['eb_tau'])})")
    method = str(a.get("eb_method", "reml")).upper()
    ticks = [SHRINKAGE_COLUMNS[c].format(method=method) for c in columns]
    ax.set_xticks(x, ticks)
    ax.set_xlim(x[0] - 0.35, x[-1] + (0.4 if regression else 0.3))
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.set_ylabel(r"estimate of $\theta_i$")
    toward = ("the regression line (" + ", ".join(a["covariates"]) + ")" if regression
              else "the grand mean")
    title = f"Shrinkage toward {toward} (marker area ∝ {size_name})"
    ax.set_title(title)

    # group labels: left of the axes, spread apart at draw time, leader lines to the points
    label_trans = offset_copy(blended_transform_factory(ax.transAxes, ax.transData),
                              fig=ax.figure, x=-4.0, units="points")
    texts = [ax.text(0.0, values[i, 0], str(g), transform=label_trans, ha="right",
                     va="center", fontsize=_LABEL_SIZE, clip_on=False,
                     gid=f"shrinkage-label:{g}") for i, g in enumerate(t.index)]
    leaders = LineCollection([], colors="0.6", linewidths=0.6, zorder=1.5,
                             gid="shrinkage-leaders")
    ax.add_collection(leaders, autolim=False)
    heights = _text_extents_pts([str(g) for g in t.index], fontsize=_LABEL_SIZE)[1]
    move = np.abs(values[:, 0] - values[:, -1])
    priority = np.lexsort((np.arange(n_groups), -move))          # largest move first

    def on_count(shown: int, total: int) -> None:
        note = "" if shown == total else (f"\nlabelled: {shown} of {total} groups (those "
                                          "that move most; too many to label all)")
        if ax.get_title() != title + note:
            ax.set_title(title + note)

    ax.add_artist(_SpreadLabels(texts, heights, values[:, 0], x[0], leaders, priority,
                                on_count))
    if handles:  # below the axes, clear of the paths
        _legend_below(ax, handles, labels, depth_pts=_xaxis_depth_pts(ax, ticks, None))
    # lay the figure out once, so that a title note on unlabelled groups gets its room
    fig.draw_without_rendering()
    return fig


# ----------------------------------------------------------------------------- meta forest
def _regression(idata: az.InferenceData, data: HierData) -> bool:
    """Whether the fit is a meta-regression: then ``mu`` is the effect at the covariates'
    means (the models centre the covariates)."""
    return bool(data.has_covariates or "beta" in idata.posterior)


def _meta_forest_rows(idata: az.InferenceData, data: HierData, prob: float) -> pd.DataFrame:
    """The numbers of the meta-analysis forest plot, on the model scale.

    One row per group (``kind`` "group": observed ``y``, ``y_lo``, ``y_hi`` = ``y -+ z se``
    with ``z = 1.96`` at ``prob = 0.95``, and the posterior ``median``, ``lo``, ``hi`` of
    ``theta_i``), then ``pooled`` (posterior of ``mu``) and ``prediction`` (``theta_new ~
    N(mu, tau^2)`` per draw).
    """
    z = 1.96 if prob == 0.95 else float(norm.ppf(0.5 + prob / 2.0))
    post = idata.posterior
    theta = post["theta"].transpose(*_SAMPLE, "group").values.reshape(-1, data.n_groups)
    q_theta = _central(theta, prob)                                 # (3, G)
    mu = post["mu"].transpose(*_SAMPLE).values.ravel()
    tau = post["tau"].transpose(*_SAMPLE).values.ravel()
    q_mu = _central(mu, prob)
    a = (1.0 - prob) / 2.0
    q_new = predictive_quantiles(mu, tau, [a, 0.5, 1.0 - a])
    y, se = np.asarray(data.means, float), np.asarray(data.se, float)
    rows = pd.DataFrame({
        "kind": "group", "label": [str(g) for g in data.groups],
        "y": y, "y_lo": y - z * se, "y_hi": y + z * se,
        "median": q_theta[1], "lo": q_theta[0], "hi": q_theta[2], "precision": 1.0 / se**2})
    at = ", at mean covariates" if _regression(idata, data) else ""
    summary = pd.DataFrame({
        "kind": ["pooled", "prediction"],
        "label": [rf"Pooled estimate ($\mu${at})",
                  "Prediction (new group at mean covariates)" if at else
                  "Prediction (new group)"],
        "median": [q_mu[1], q_new[1]], "lo": [q_mu[0], q_new[0]], "hi": [q_mu[2], q_new[2]]})
    return pd.concat([rows, summary], ignore_index=True)


def _apply_transform(rows: pd.DataFrame, back: Transform) -> pd.DataFrame:
    """Every point and interval end of the forest rows through the increasing ``back``
    (quantiles carry over: the median and central interval of ``exp(theta)`` are ``exp`` of
    those of ``theta``)."""
    out = rows.copy()
    for c in ("y", "y_lo", "y_hi", "median", "lo", "hi"):
        out[c] = back(out[c].to_numpy(float))
    return out


def _log_ratio_axis(ax: Axes, which: str = "x") -> None:
    """A log ``which`` axis with plain tick labels 0.1, 0.2, 0.5, 1, 2, ... (how ratios are
    drawn)."""
    if which == "x":
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _decimals(widths: np.ndarray) -> int:
    """Decimals that resolve an interval of the typical width to ~1%."""
    w = widths[np.isfinite(widths) & (widths > 0)]
    if not w.size:
        return 2
    return int(np.clip(2 - np.floor(np.log10(np.median(w))), 0, 8))


def _interval_strings(point: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      decimals: int) -> list[str]:
    """``"est [lo, hi]"`` per row, columns right-aligned for a monospace font ('' for NaN)."""
    def fmt(v: np.ndarray) -> list[str]:
        return ["" if np.isnan(x) else f"{x:,.{decimals}f}" for x in v]

    cols = [fmt(point), fmt(lo), fmt(hi)]
    w = [max((len(s) for s in c), default=0) for c in cols]
    return ["" if not p else f"{p:>{w[0]}} [{a:>{w[1]}}, {b:>{w[2]}}]"
            for p, a, b in zip(*cols, strict=True)]


def plot_meta_forest(
    idata: az.InferenceData,
    data: HierData | None = None,
    *,
    prob: float = 0.95,
    transform: str | None = None,
    transform_label: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Meta-analysis forest plot: the data, the posterior of each group, the pooled effect.

    One row per group (labelled from the posterior's group dimension, whatever its name)
    shows the observed estimate ``y_i +- 1.96 se_i`` (black square, area by precision
    ``1/se_i^2``) and, just below it, the posterior ``theta_i``: median and central
    ``prob`` interval (blue).  Below the groups come the pooled estimate -- the posterior
    of ``mu`` as a diamond spanning its central interval with its centre at the median --
    and the prediction interval for a new group, ``theta_new ~ N(mu, tau^2)`` per posterior
    draw (its quantiles solved exactly from that normal mixture).  The numbers
    ``estimate [interval]`` are printed on the right; a grey vertical line marks no effect
    (0, or its transform: 1 for ``"exp"``) when it lies in range.

    For a meta-regression (data with covariates, a posterior with ``beta``) the models
    centre the covariates, so ``mu`` is the mean effect at the covariates' means: the two
    summary rows are labelled "at mean covariates" and show exactly that (the fitted line
    and its bands across a covariate are :func:`plot_bubble`).

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior with ``mu``, ``tau`` and ``theta`` (dims chain, draw and one group
        dimension of any name): a fit, or exact draws with ``data=``.
    data : HierData, optional
        The data the posterior was fitted to; default rebuilt from ``idata``
        (:func:`hiermodel.comparison.data_from_idata`).
    prob : float, default 0.95
        Mass of the central intervals.  The observed intervals are ``y_i +- z se_i`` with
        the conventional ``z = 1.96`` at 0.95 (``Phi^{-1}(1/2 + prob/2)`` otherwise).
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS`: ``"exp"`` shows log ratios as
        ratios (on a logarithmic axis, as ratios are drawn), ``"expit"`` logits as
        proportions, ``"tanh"`` Fisher's z as correlations.  Every point and interval end is
        mapped after it is computed on the model scale; the transforms are increasing, so
        the posterior medians and central intervals are those of the transformed draws.
    transform_label : str, optional
        The x-axis label on the transformed scale (e.g. ``"risk ratio"``); default
        ``"<name>(theta): <the scale>"``, e.g. ``"exp(theta): ratio scale (exp of log
        ratio)"``.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    figsize : (float, float), optional
        Size of a new figure; default (10, 2.2 + 0.3 (G + 3)) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    norm_idata, dim = normalize_group_dim(idata)
    data = _data_for(norm_idata, data)
    prob = check_prob(prob)
    ax = _check_ax(ax)
    back = check_transform(transform)
    if transform_label is not None and not isinstance(transform_label, str):
        raise TypeError(f"`transform_label` must be a string or None, got "
                        f"{type(transform_label).__name__}.")
    rows = _apply_transform(_meta_forest_rows(norm_idata, data, prob), back)
    n_groups = data.n_groups
    g = rows.iloc[:n_groups]
    pooled, pred = rows.iloc[n_groups], rows.iloc[n_groups + 1]
    y_rows = np.r_[np.arange(n_groups, dtype=float), n_groups + 0.6, n_groups + 1.6]
    off = 0.18                                             # observed above, posterior below
    if ax is None:
        fig = _new_figure(figsize, (10.0, 2.2 + 0.3 * (n_groups + 3)))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    log_axis = back.name == "exp"
    if log_axis:
        _log_ratio_axis(ax)

    yg = y_rows[:n_groups]
    obs_lines = LineCollection(
        [[(a, y - off), (b, y - off)] for a, b, y in zip(g["y_lo"], g["y_hi"], yg, strict=True)],
        colors=_OBSERVED_COLOR, linewidths=1.2, gid="meta:observed")
    ax.add_collection(obs_lines)
    prec = g["precision"].to_numpy(float)
    ax.scatter(g["y"], yg - off, s=14.0 + 56.0 * prec / prec.max(), marker="s",
               color=_OBSERVED_COLOR, zorder=3, gid="meta:observed-point")
    post_lines = LineCollection(
        [[(a, y + off), (b, y + off)] for a, b, y in zip(g["lo"], g["hi"], yg, strict=True)],
        colors=_POSTERIOR_COLOR, linewidths=1.6, gid="meta:posterior")
    ax.add_collection(post_lines)
    ax.scatter(g["median"], yg + off, s=22.0, marker="o", color=_POSTERIOR_COLOR, zorder=3,
               gid="meta:posterior-point")
    yp, h = y_rows[n_groups], 0.32
    ax.add_patch(Polygon([(pooled["lo"], yp), (pooled["median"], yp - h), (pooled["hi"], yp),
                          (pooled["median"], yp + h)], closed=True, color=_POOLED_COLOR,
                         zorder=3, gid="meta:pooled"))
    ax.plot([pred["lo"], pred["hi"]], [y_rows[-1]] * 2, color=_POOLED_COLOR, lw=2.0,
            marker="|", markersize=9, markeredgewidth=2.0, gid="meta:prediction")
    ax.plot([pred["median"]], [y_rows[-1]], color=_POOLED_COLOR, marker="D", markersize=4,
            markerfacecolor="white", zorder=3, gid="meta:prediction-point")
    ax.axvline(pooled["median"], color=_POOLED_COLOR, ls=":", lw=0.9, zorder=0.5)
    ax.axhline(n_groups - 0.25, color="0.75", lw=0.6, zorder=0.5)

    ends = np.r_[g["y_lo"], g["y_hi"], rows["lo"], rows["hi"]].astype(float)
    xmin, xmax = float(np.nanmin(ends)), float(np.nanmax(ends))
    if log_axis:
        pad = (xmax / xmin) ** 0.04
        ax.set_xlim(xmin / pad, xmax * pad)
    else:
        pad = 0.04 * (xmax - xmin if xmax > xmin else max(abs(xmax), 1.0))
        ax.set_xlim(xmin - pad, xmax + pad)
    null = back(0.0)
    if xmin <= null <= xmax:
        ax.axvline(null, color="0.5", lw=0.9, zorder=0.5, gid="meta:null")
    ax.set_ylim(y_rows[-1] + 0.8, -1.3)

    labels = [*g["label"], pooled["label"], pred["label"]]
    ax.set_yticks(y_rows, labels)
    ax.tick_params(axis="y", length=0, labelsize=_LABEL_SIZE)
    ax.grid(axis="x", color="0.92", lw=0.6)
    ax.set_axisbelow(True)
    if back.is_identity:
        xlabel = transform_label or r"effect $\theta$ (model scale)"
    else:
        xlabel = transform_label or rf"{back.name}($\theta$): {back.scale}"
    ax.set_xlabel(xlabel)
    ax.set_title(f"Forest plot of {n_groups} {dim} effects ({_pct(prob)} central intervals)",
                 fontsize=10)

    # numbers on the right: observed, and posterior (median [interval])
    dec = _decimals(np.r_[g["y_hi"] - g["y_lo"], rows["hi"] - rows["lo"]].astype(float))
    observed = _interval_strings(rows["y"].to_numpy(float), rows["y_lo"].to_numpy(float),
                                 rows["y_hi"].to_numpy(float), dec)
    posterior = _interval_strings(rows["median"].to_numpy(float), rows["lo"].to_numpy(float),
                                  rows["hi"].to_numpy(float), dec)
    size = 8.0
    head_obs = f"observed [{_pct(prob)}]"
    head_post = f"posterior median [{_pct(prob)}]"
    w_obs = max(len(head_obs), *(len(s) for s in observed))
    char_w = _text_size_pts(["0" * 20], family="monospace", fontsize=size)[0] / 20.0
    x2 = 8.0 + (w_obs + 3) * char_w
    trans1 = offset_copy(blended_transform_factory(ax.transAxes, ax.transData),
                         fig=ax.figure, x=8.0, units="points")
    trans2 = offset_copy(blended_transform_factory(ax.transAxes, ax.transData),
                         fig=ax.figure, x=x2, units="points")
    style = dict(family="monospace", fontsize=size, va="center", ha="left", clip_on=False)
    row_texts = []
    for k, y in enumerate(y_rows):
        texts = []
        if observed[k]:
            texts.append(ax.text(1.0, y, observed[k].ljust(w_obs), transform=trans1,
                                 color=_OBSERVED_COLOR, gid=f"meta-text:observed:{k}",
                                 **style))
        color = _POSTERIOR_COLOR if k < n_groups else _POOLED_COLOR
        texts.append(ax.text(1.0, y, posterior[k], transform=trans2, color=color,
                             gid=f"meta-text:posterior:{k}", **style))
        row_texts.append(texts)
    header = [ax.text(1.0, -0.9, head_obs, transform=trans1, fontweight="bold",
                      gid="meta-text:header:observed", **style),
              ax.text(1.0, -0.9, head_post, transform=trans2, fontweight="bold",
                      gid="meta-text:header:posterior", **style)]
    ax.add_artist(_FitRows(np.r_[y_rows, -0.9], [*labels, None], [*row_texts, header],
                           keep=(n_groups, n_groups + 1, n_groups + 2), text_size=size))

    pct = _pct(prob)
    z_txt = "1.96" if prob == 0.95 else f"{norm.ppf(0.5 + prob / 2):.3g}"
    handles = [
        Line2D([], [], color=_OBSERVED_COLOR, marker="s", lw=1.2, markersize=5),
        Line2D([], [], color=_POSTERIOR_COLOR, marker="o", lw=1.6, markersize=4.5),
        Line2D([], [], color=_POOLED_COLOR, marker="D", lw=0, markersize=7),
        Line2D([], [], color=_POOLED_COLOR, marker="|", lw=2.0, markersize=8,
               markeredgewidth=2.0),
    ]
    at = " at mean covariates" if _regression(norm_idata, data) else ""
    names = [rf"observed $y_i \pm {z_txt}\,se_i$",
             rf"posterior $\theta_i$: median and {pct} central interval",
             rf"pooled $\mu${at}: median and {pct} central interval",
             rf"prediction for a new {dim}{at}: $\theta_{{new}} \sim N(\mu, \tau^2)$, {pct}"]
    if not back.is_identity:
        names = [f"{back.name} of the {n[0].lower()}{n[1:]}" for n in names]
    _legend_below(ax, handles, names, depth_pts=_xaxis_depth_pts(ax, ["0"], xlabel))
    return fig


# ----------------------------------------------------------------------------- bubble
_NEEDS_COVARIATES = ("a bubble plot needs group-level covariates; add them to the data with "
                     "data.with_covariates(df) (or HierData.from_estimates(y, se, groups, "
                     "covariates=df)), df a DataFrame of covariates indexed by group, then "
                     "fit or meta_analysis that data")
_BUBBLE_LABEL_SIZE = 7.5
_MAX_BUBBLE_LABELS = 30   # groups are labelled up to this many
_EB_COLOR = "tab:orange"


class _BubbleLabels(_DrawTimeArtist):
    """Draw-time placement of one label per bubble, never overlapping another label.

    Bubbles are visited largest first; each label goes to the first free spot around its
    bubble -- right, left, above, below, then the diagonals, just outside the bubble and
    then one label height further out -- that lies inside the axes, overlaps no label placed
    before it and, where one exists, no other bubble.  A label with no free spot is hidden.
    """

    _DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))

    def __init__(self, texts: list, xy: np.ndarray, radii_pts: np.ndarray,
                 priority: np.ndarray, gap_pts: float = 1.5):
        super().__init__()
        self._texts, self._xy = texts, np.asarray(xy, float)
        self._radii, self._priority = np.asarray(radii_pts, float), np.asarray(priority, int)
        self._gap_pts = gap_pts
        self.shown = len(texts)

    @staticmethod
    def _hits_discs(box: tuple, centres: np.ndarray, radii: np.ndarray) -> bool:
        x0, y0, x1, y1 = box
        dx = np.clip(centres[:, 0], x0, x1) - centres[:, 0]
        dy = np.clip(centres[:, 1], y0, y1) - centres[:, 1]
        return bool(np.any(dx * dx + dy * dy < radii * radii))

    def _spots(self, cx: float, cy: float, r: float, w: float, h: float,
               gap: float) -> list[tuple]:
        spots = []
        for extra in (0.0, h):
            for ux, uy in self._DIRECTIONS:
                far = (r / math.sqrt(2.0) if ux and uy else r) + gap + extra
                bx, by = cx + ux * (far + w / 2.0), cy + uy * (far + h / 2.0)
                spots.append((bx - w / 2.0, by - h / 2.0, bx + w / 2.0, by + h / 2.0))
        return spots

    def draw(self, renderer: Any) -> None:
        ax = self.axes
        if ax is None or not self.get_visible() or not self._texts:
            return
        px = renderer.points_to_pixels(1.0)
        centres = ax.transData.transform(self._xy)
        radii, gap = self._radii * px, self._gap_pts * px
        frame = ax.bbox
        placed: list[tuple] = []
        where: dict[int, tuple[float, float]] = {}
        for i in self._priority:
            bb = Text.get_window_extent(self._texts[i], renderer)
            spots = [b for b in self._spots(*centres[i], radii[i], bb.width, bb.height, gap)
                     if b[0] >= frame.x0 and b[2] <= frame.x1 and b[1] >= frame.y0
                     and b[3] <= frame.y1
                     and not any(b[0] < p[2] and p[0] < b[2] and b[1] < p[3] and p[1] < b[3]
                                 for p in placed)]
            if not spots:
                continue
            others = np.arange(len(self._texts)) != i
            free = [b for b in spots if not self._hits_discs(b, centres[others], radii[others])]
            box = (free or spots)[0]
            placed.append(box)
            where[i] = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
        inverse = ax.transData.inverted()
        for i, text in enumerate(self._texts):
            show = i in where
            if show:
                pos = tuple(float(v) for v in inverse.transform(where[i]))
                if tuple(text.get_position()) != pos:
                    text.set_position(pos)
            if text.get_visible() != show:
                text.set_visible(show)
        self.shown = len(where)


def _bubble_inputs(result: Any, data: Any) -> tuple[Any, HierData, str]:
    """``(result, data, group dim name)``: a fit normalized to a ``group`` dim, or a
    MetaAnalysis, with data that carry its covariates."""
    if isinstance(result, MetaAnalysis):
        if data is None:
            raise ValueError("`data` is required with a MetaAnalysis (it does not keep its "
                             "data): pass the HierData given to meta_analysis.")
        HierData.check(data, covariates=True)
        names = list(result.covariate_names)
        if not names:
            raise ValueError(f"`result` is a meta-analysis without covariates: "
                             f"{_NEEDS_COVARIATES}.")
        if list(data.covariate_names) != names:
            raise ValueError(f"`data` has covariates {list(data.covariate_names)} but the "
                             f"MetaAnalysis was computed with {names}: pass its data.")
        if [str(g) for g in result.theta.index] != [str(g) for g in data.groups]:
            raise ValueError("`data` has other groups than the MetaAnalysis: pass the data "
                             "given to meta_analysis.")
        fit = result.fit
        y, v = np.asarray(data.means, float), np.asarray(data.se, float) ** 2
        xb = fit.beta[0] + np.asarray(data.x, float) @ fit.beta[1:]
        theta = xb + fit.tau2 / (fit.tau2 + v) * (y - xb)   # the EB estimates it reports
        scale = max(float(np.max(np.abs(y))), float(np.sqrt(np.max(v))))
        if not np.allclose(theta, fit.theta, rtol=1e-7, atol=1e-9 * scale):
            raise ValueError("`data` differs from the data of the MetaAnalysis (its EB "
                             "estimates do not follow from them): pass the data given to "
                             "meta_analysis.")
        return result, data, "group"
    if not stack.is_result(result):
        raise TypeError(f"`result` must be an arviz.InferenceData (a fit with covariates, or "
                        f"ExactPosterior.sample draws with data=) or a MetaAnalysis, got "
                        f"{type(result).__name__}.")
    idata, dim = normalize_group_dim(result, "result")
    if "beta" not in idata.posterior:
        raise ValueError(f"`result` is a fit without covariates (its posterior has no beta): "
                         f"{_NEEDS_COVARIATES}.")
    return idata, _data_for(idata, data), dim


def _bubble_covariate(data: HierData, covariate: Any) -> int:
    """The column of ``covariate`` (a name; None: the first)."""
    names = list(data.covariate_names)
    if covariate is None:
        return 0
    if not isinstance(covariate, str):
        raise TypeError(f"`covariate` must be a covariate name (one of {names}) or None, got "
                        f"{type(covariate).__name__}.")
    if covariate not in names:
        raise ValueError(f"`covariate` {covariate!r} is not a covariate of the data; choose "
                         f"one of {names}.")
    return names.index(covariate)


def _bubble_lines(result: Any, data: HierData, j: int, grid: np.ndarray,
                  prob: float) -> pd.DataFrame:
    """The fitted line along covariate ``j`` at ``grid`` (the others at their means):
    ``fit``, its band ``lo``, ``hi`` and the prediction band ``pi_low``, ``pi_high``.

    A fit: the posterior median and central ``prob`` interval of ``mu + (x - xbar_j)
    beta_j``, and the central ``prob`` quantiles of ``N(mu_s + (x - xbar_j) beta_js,
    tau_s^2)`` mixed over the draws ``s`` (solved exactly).  A MetaAnalysis: its ``predict``
    at level ``prob``.
    """
    means = np.asarray(data.covariate_means, float)
    if isinstance(result, MetaAnalysis):
        names = list(data.covariate_names)
        table = pd.DataFrame({n: np.full(grid.size, means[k]) for k, n in enumerate(names)})
        table[names[j]] = grid
        at = result if result.level == prob else replace(result, level=prob)
        out = at.predict(table)
        return pd.DataFrame({"x": grid, "fit": out["pred"].to_numpy(float),
                             "lo": out["ci_low"].to_numpy(float),
                             "hi": out["ci_high"].to_numpy(float),
                             "pi_low": out["pi_low"].to_numpy(float),
                             "pi_high": out["pi_high"].to_numpy(float)})
    post = result.posterior
    mu = post["mu"].transpose(*_SAMPLE).values.ravel()
    tau = post["tau"].transpose(*_SAMPLE).values.ravel()
    beta = post["beta"].transpose(*_SAMPLE, "covariate").values.reshape(mu.size, -1)[:, j]
    line = mu[:, None] + (grid - means[j])[None, :] * beta[:, None]      # (S, K)
    lo, med, hi = _central(line, prob)
    a = (1.0 - prob) / 2.0
    pi = np.array([predictive_quantiles(line[:, k], tau, [a, 1.0 - a])
                   for k in range(grid.size)])
    return pd.DataFrame({"x": grid, "fit": med, "lo": lo, "hi": hi, "pi_low": pi[:, 0],
                         "pi_high": pi[:, 1]})


def _slope(est: float, lo: float, hi: float) -> str:
    """``"est [lo, hi]"`` with one number of decimals, enough to resolve the interval."""
    if not 1e-4 <= max(abs(est), abs(lo), abs(hi)) < 1e6:
        return f"{est:.3g} [{lo:.3g}, {hi:.3g}]"
    dec = _decimals(np.array([hi - lo]))
    return f"{est:,.{dec}f} [{lo:,.{dec}f}, {hi:,.{dec}f}]"


def plot_bubble(
    result: az.InferenceData | MetaAnalysis | Sequence[az.InferenceData | MetaAnalysis],
    data: HierData | None = None,
    *,
    covariate: str | None = None,
    prob: float = 0.95,
    prediction: bool = True,
    transform: str | None = None,
    ax: Axes | None = None,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Bubble plot of a meta-regression: each group's estimate ``y_i`` against one covariate,
    with the fitted line, its band and the prediction band for a new group.

    Bubble area grows with the precision weight ``1/se_i^2`` (linearly, from a small
    minimum so that the least precise stay visible); the groups are labelled when there are
    at most 30 of them.  The fitted line runs over the covariate's observed range with the
    other covariates held at their means (the models centre covariates, so ``mu`` is the
    effect at the means):

    * a fit (full Bayes): the posterior median of ``mu + (x - xbar_j) beta_j`` and its
      central ``prob`` credible band (shaded); with ``prediction`` the central ``prob``
      interval of a new group's ``theta_new ~ N(mu + (x - xbar_j) beta_j, tau^2)`` (dashed;
      quantiles solved exactly from the normal mixture over the draws);
    * a :class:`~hiermodel.shrinkage.MetaAnalysis` (empirical Bayes, e.g. REML): its
      :meth:`~hiermodel.shrinkage.MetaAnalysis.predict` line with the confidence band and the
      prediction interval (metafor's ``predict(rma)``), at level ``prob``.

    The title names the method and the slope on the covariate (posterior median, or the
    estimate, with its ``prob`` interval).

    Parameters
    ----------
    result : arviz.InferenceData or MetaAnalysis, or a list of them
        A fit of data with covariates (its posterior has ``beta``; or exact draws from
        ``ExactPosterior.sample`` with ``data=``), or :func:`hiermodel.meta_analysis` of data
        with covariates.  A list draws one panel per result, side by side on a shared y
        axis (e.g. ``[fit, meta_analysis(data)]``: full Bayes beside REML).
    data : HierData, optional
        The data: default rebuilt from a fit; required with a MetaAnalysis.
    covariate : str, optional
        The covariate on the x axis, by name; default the first.
    prob : float, default 0.95
        Mass of the bands.
    prediction : bool, default True
        Draw the prediction band for a new group.
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS` (``"exp"``, ``"expit"``,
        ``"tanh"``): the y axis on that scale (logarithmic for ``"exp"``).  The estimates,
        the line and both bands are mapped point by point (the transforms are increasing,
        so a median line and central bands stay the median and bands); the slope in the
        title stays on the analysis scale, as the coefficient is estimated.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    axes : sequence of matplotlib.axes.Axes, optional
        With a list of results: one axes per result; default: a new figure.
    figsize : (float, float), optional
        Size of a new figure; default (7.5, 6), or 6.5 wide per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Without covariates (add them with :meth:`HierData.with_covariates`), for an unknown
        ``covariate``, or for ``data`` that are not the result's.
    """
    if isinstance(result, (list, tuple)):
        if not result:
            raise ValueError("`result`: an empty list; pass a fit, a MetaAnalysis or a list "
                             "of them.")
        if ax is not None:
            raise ValueError("`ax`: a list of results draws one panel each; pass `axes=` "
                             "(one Axes per result) instead.")
        panels = _check_axes(axes, len(result))
        if panels is None:
            fig = _new_figure(figsize, (6.5 * len(result), 5.5))
            panels = list(np.atleast_1d(fig.subplots(1, len(result), sharey=True)))
        else:
            fig = _root_figure(panels[0])
        for one, panel in zip(result, panels, strict=True):
            plot_bubble(one, data, covariate=covariate, prob=prob, prediction=prediction,
                        transform=transform, ax=panel)
        return fig
    if axes is not None:
        raise ValueError("`axes` is for a list of results; with one result pass `ax=`.")
    result, data, dim = _bubble_inputs(result, data)
    j = _bubble_covariate(data, covariate)
    prob = check_prob(prob)
    if not isinstance(prediction, (bool, np.bool_)):
        raise TypeError(f"`prediction` must be True or False, got {prediction!r}.")
    back = check_transform(transform)
    ax = _check_ax(ax)
    eb = isinstance(result, MetaAnalysis)
    name = data.covariate_names[j]
    x = np.asarray(data.x, float)[:, j]
    se = np.asarray(data.se, float)
    y = back(np.asarray(data.means, float))
    grid = np.linspace(x.min(), x.max(), 61)
    lines = _bubble_lines(result, data, j, grid, prob)
    for col in ("fit", "lo", "hi", "pi_low", "pi_high"):
        lines[col] = back(lines[col].to_numpy(float))
    if ax is None:
        fig = _new_figure(figsize, (7.5, 6.0))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)

    n_groups = data.n_groups
    weight = 1.0 / se**2
    s_max = float(np.clip(12000.0 / n_groups, 200.0, 1000.0))     # largest area, points^2
    sizes = s_max * (0.05 + 0.95 * weight / weight.max())
    order = np.argsort(-sizes, kind="stable")                     # small bubbles on top
    ax.scatter(x[order], y[order], s=sizes[order], color="0.6", alpha=0.55,
               edgecolor="0.15", linewidth=0.6, zorder=3, gid="bubble:points")
    color = _EB_COLOR if eb else _POSTERIOR_COLOR
    pct = _pct(prob)
    ax.fill_between(lines["x"], lines["lo"], lines["hi"], color=color, alpha=0.22, lw=0,
                    zorder=1, gid="bubble:band")
    ax.plot(lines["x"], lines["fit"], color=color, lw=2.0, zorder=2, gid="bubble:line")
    if prediction:
        for end in ("pi_low", "pi_high"):
            ax.plot(lines["x"], lines[end], color=color, lw=1.2, ls="--", zorder=2,
                    gid=f"bubble:{end}")
    if back.name == "exp":
        _log_ratio_axis(ax, "y")
    else:
        ax.ticklabel_format(useOffset=False)
    ax.set_xlabel(name)
    ax.set_ylabel(r"estimate $y_i$" if back.is_identity else
                  rf"{back.name}($y_i$): {back.scale}")

    if eb:
        method = result.method.upper()
        k = 1 + j
        est = float(result.fit.beta[k])
        lo_b, hi_b = (float(v) for v in result.fit.beta_interval(prob)[k])
        model = f"empirical Bayes ({method}{', Knapp-Hartung' if result.knha else ''})"
        slope = f"slope {_slope(est, lo_b, hi_b)} ({pct} CI)"
        names = [f"{method} fit " + r"$x'\hat\beta$", f"{pct} confidence band",
                 f"{pct} prediction interval, new {dim}"]
    else:
        b = result.posterior["beta"].transpose(*_SAMPLE, "covariate").values
        lo_b, est, hi_b = _central(b.reshape(-1, b.shape[-1])[:, j], prob)
        model = "full Bayes"
        slope = f"slope {_slope(est, lo_b, hi_b)} (posterior median, {pct})"
        names = [r"posterior median of $\mu + (x - \bar x)\,\beta$", f"{pct} credible band",
                 f"{pct} prediction band, new {dim}: " + r"$N(\cdot, \tau^2)$"]
    head = f"Meta-regression of {n_groups} {dim} estimates on {name}"
    if not back.is_identity:
        head += f" (slope on the {back.analysis_scale} scale)"
        names[0] = f"{back.name} of the " + names[0]
    ax.set_title(f"{head}\n{model}: {slope}", fontsize=10)
    handles = [Line2D([], [], ls="", marker="o", markersize=9, color="0.6", alpha=0.55,
                      markeredgecolor="0.15"),
               Line2D([], [], color=color, lw=2.0),
               Polygon([(0, 0)], closed=True, color=color, alpha=0.22, lw=0)]
    point = r"estimate $y_i$" if back.is_identity else rf"{back.name}($y_i$)"
    labels = [point + r" (area $\propto 1/se_i^2$)", *names[:2]]
    if prediction:
        handles.append(Line2D([], [], color=color, lw=1.2, ls="--"))
        labels.append(names[2])
    if data.n_covariates > 1:
        labels[1] += " (others at their means)"
    if n_groups <= _MAX_BUBBLE_LABELS:
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]  # over lines
        texts = [ax.text(xi, yi, str(g), fontsize=_BUBBLE_LABEL_SIZE, ha="center",
                         va="center", color="0.2", zorder=4, path_effects=halo,
                         gid=f"bubble-label:{g}")
                 for xi, yi, g in zip(x, y, data.groups, strict=True)]
        ax.add_artist(_BubbleLabels(texts, np.c_[x, y], np.sqrt(sizes) / 2.0, order))
    _legend_below(ax, handles, labels, depth_pts=_xaxis_depth_pts(ax, ["0"], name))
    return fig


# ----------------------------------------------------------------------------- forest
def plot_forest(
    fits: az.InferenceData | Mapping[str, az.InferenceData],
    *,
    var_names: Sequence[str] = ("theta",),
    prob: float = 0.95,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Forest plot of ``theta_i`` (or other variables) across fits / methods.

    One row per group (or per element of each variable), one line per fit within a row,
    top to bottom in the order of ``fits``: the posterior median (dot), the central 50%
    interval (thick bar) and the central ``prob`` interval (thin bar), over the draws of
    all chains.  Rows are labelled with the group labels, the legend sits below the axes.

    Parameters
    ----------
    fits : arviz.InferenceData or dict of str to arviz.InferenceData
        E.g. ``{"marginal": idata, "noncentered": nc, "exact": exact.sample(...)}``; the
        group dimension may have any name, but every fit must have the same groups.
    var_names : sequence of str, default ("theta",)
        Posterior variables to show; each must be in every fit.
    prob : float, default 0.95
        Mass of the thin central interval.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    figsize : (float, float), optional
        Default (7, 1.6 + rows * max(0.18, 0.1 + 0.08 * fits)) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fits, _ = check_fits(fits, default_name="fit")
    prob = check_prob(prob)
    ax = _check_ax(ax)
    if isinstance(var_names, str):
        var_names = (var_names,)
    if not isinstance(var_names, Sequence) or not var_names:
        raise TypeError(f"`var_names` must be a non-empty sequence of names, got {var_names!r}.")
    var_names = [str(v) for v in var_names]
    for name, idata in fits.items():
        missing = [v for v in var_names if v not in idata.posterior]
        if missing:
            raise ValueError(f"`var_names` {missing} are not in the posterior of fits[{name!r}]"
                             f"; it has {list(idata.posterior.data_vars)}.")
    first = next(iter(fits.values())).posterior
    labels: list[str] = []
    for v in var_names:
        da = first[v]
        other = [d for d in da.dims if d not in _SAMPLE]
        if not other:
            labels.append(v)
            continue
        stacked = da.isel({d: 0 for d in _SAMPLE}).stack(_row=other)
        for idx in stacked["_row"].values.tolist():
            idx = idx if isinstance(idx, tuple) else (idx,)
            inner = ", ".join(str(i) for i in idx)
            labels.append(inner if var_names == ["theta"] else f"{v}[{inner}]")
    n_rows, n_fits = len(labels), len(fits)

    def draws_of(idata: az.InferenceData, name: str) -> np.ndarray:
        cols = []
        for v in var_names:
            da = idata.posterior[v]
            other = [d for d in da.dims if d not in _SAMPLE]
            arr = da.transpose(*_SAMPLE, *other).values
            cols.append(arr.reshape(arr.shape[0] * arr.shape[1], -1))
        out = np.concatenate(cols, axis=1)
        if out.shape[1] != n_rows:
            raise ValueError(f"fits[{name!r}] has {out.shape[1]} rows of {var_names}, the "
                             f"first fit {n_rows}: compare fits of the same groups.")
        if "theta" in var_names and _labels(idata) != _labels(next(iter(fits.values()))):
            raise ValueError(f"fits[{name!r}] has other groups than the first fit: compare "
                             "fits of the same data.")
        return out

    if ax is None:
        per_row = max(0.18, 0.1 + 0.08 * n_fits)
        fig = _new_figure(figsize, (7.0, 1.6 + n_rows * per_row))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    rows = np.arange(n_rows, dtype=float)
    spread = 0.0 if n_fits == 1 else min(0.62, 0.16 * (n_fits - 1))
    offsets = np.linspace(-spread / 2, spread / 2, n_fits)
    colors = ([f"C{k}" for k in range(n_fits)] if n_fits <= _MAX_LEGEND_ENTRIES else
              [colormaps["viridis"](v) for v in np.linspace(0, 0.9, n_fits)])
    handles = []
    for k, (name, idata) in enumerate(fits.items()):
        d = draws_of(idata, name)
        lo, med, hi = _central(d, prob)
        q1, q3 = np.quantile(d, [0.25, 0.75], axis=0)
        y = rows + offsets[k]
        ax.add_collection(LineCollection([[(a, b), (c, b)] for a, c, b in zip(lo, hi, y,
                                                                            strict=True)],
                                         colors=colors[k], linewidths=1.0,
                                         gid=f"forest:{name}:interval"))
        ax.add_collection(LineCollection([[(a, b), (c, b)] for a, c, b in zip(q1, q3, y,
                                                                            strict=True)],
                                         colors=colors[k], linewidths=3.0,
                                         gid=f"forest:{name}:quartiles"))
        marker = dict(marker="o", markersize=4.5, markerfacecolor="white",
                      markeredgecolor=colors[k], markeredgewidth=1.3)
        ax.plot(med, y, ls="none", gid=f"forest:{name}:median", **marker)
        handles.append(Line2D([], [], color=colors[k], lw=2.0, **marker))
    for r in rows[::2]:
        ax.axhspan(r - 0.5, r + 0.5, color="0.95", zorder=0, lw=0)
    ax.autoscale_view()
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks(rows, labels)
    ax.tick_params(axis="y", length=0, labelsize=_LABEL_SIZE)
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    xlabel = r"$\theta_i$" if var_names == ["theta"] else ", ".join(var_names)
    ax.set_xlabel(xlabel)
    ax.set_title(f"Posterior of {', '.join(var_names)} by method: median, central 50% and "
                 f"{_pct(prob)} intervals", fontsize=10)
    ax.add_artist(_FitRows(rows, labels))
    if n_fits > 1:
        _legend_below(ax, handles, list(fits), ncols=min(n_fits, 4),
                      depth_pts=_xaxis_depth_pts(ax, ["0"], xlabel))
    return fig


# ----------------------------------------------------------------------------- geometry
def _geometry_coordinate(idata: az.InferenceData, group: Any, var: str,
                         ) -> tuple[np.ndarray, str]:
    """The values and axis label of one group's coordinate in the sampler-geometry plot."""
    post = idata.posterior
    param = str(post.attrs.get("parameterization", post.attrs.get("method", "")))
    if var == "sampled" and "theta_tilde" in post and param != "centered":
        values = post["theta_tilde"].sel(group=group)
        label = (r"$z$" + f"[{group}] = " + r"$(\theta - \mu)/\tau$ (sampled)"
                 if param == "noncentered" else
                 r"$\tilde\theta$" + f"[{group}] (sampled, partially centered)")
    else:
        values = post["theta"].sel(group=group)
        label = r"$\theta$" + f"[{group}]" + (" (sampled)" if param == "centered" else "")
    return values.transpose(*_SAMPLE).values.ravel(), label


def _diverging(idata: az.InferenceData, shape: tuple[int, ...]) -> np.ndarray:
    if "sample_stats" in stack.groups(idata) and "diverging" in idata.sample_stats:
        div = idata.sample_stats["diverging"].transpose(*_SAMPLE).values
        if div.shape == shape:
            return div.astype(bool).ravel()
    return np.zeros(int(np.prod(shape)), bool)


def plot_sampler_geometry(
    fits: az.InferenceData | Mapping[str, az.InferenceData],
    *,
    group: Any = None,
    var: str = "sampled",
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Sampler geometry: one group's sampled coordinate against ``log tau``, one panel per fit.

    This shows what NUTS had to explore in the centered vs the non-centered form of the
    model -- it is *not* a publication-bias funnel plot (effect against its standard
    error).  In the centered form the sampler moves in ``(theta_i, log tau)``, where the
    posterior is a funnel -- ``theta_i | mu, tau ~ N(mu, tau^2)`` narrows as ``tau -> 0`` --
    and NUTS diverges at its neck; the non-centered form samples ``z_i = (theta_i - mu) /
    tau``, which is ``N(0, 1)`` a priori at every ``tau``.  Divergent draws are drawn on top
    in red.

    Parameters
    ----------
    fits : arviz.InferenceData or dict of str to arviz.InferenceData
        E.g. ``{"centered": c, "noncentered": nc}``; fits without ``sample_stats`` (exact
        draws) show no divergences.  The group dimension may have any name.
    group : label, optional
        The group to show; default the first one.
    var : {"sampled", "theta"}, default "sampled"
        ``"sampled"``: the coordinate the sampler moved in (``theta_tilde``: ``z_i`` for the
        non-centered form, ``theta_i`` for the centered one; ``theta_i`` for marginal and
        exact fits); ``"theta"``: always ``theta_i``.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per fit to draw into; default: a new figure.
    figsize : (float, float), optional
        Default (4 * panels, 4.4) inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per fit, titled ``"<name>: <k> divergent of <S> draws"``.
    """
    fits, _ = check_fits(fits, default_name="fit")
    if var not in ("sampled", "theta"):
        raise ValueError(f"Requested var {var!r} but it must be one of {{'sampled', 'theta'}}.")
    axes = _check_axes(axes, len(fits))
    labels = _labels(next(iter(fits.values())))
    if group is None:
        group = labels[0]
    for name, idata in fits.items():
        if group not in _labels(idata):
            raise ValueError(f"`group` {group!r} is not a group of fits[{name!r}]; choose one "
                             f"of {_labels(idata)[:10]}.")
    if axes is None:
        fig = _new_figure(figsize, (4.0 * len(fits), 4.4))
        axes = fig.subplots(1, len(fits), sharex=True, squeeze=False)[0]
    else:
        fig = _root_figure(axes[0])
    for ax, (name, idata) in zip(axes, fits.items(), strict=True):
        post = idata.posterior
        tau = post["tau"].transpose(*_SAMPLE).values
        div = _diverging(idata, tau.shape)
        y, ylabel = _geometry_coordinate(idata, group, var)
        tau = tau.ravel()
        keep = tau > 0                                    # log tau is finite
        logtau = np.log(np.where(keep, tau, 1.0))
        ok, bad = keep & ~div, keep & div
        h_ok = ax.scatter(logtau[ok], y[ok], s=5, alpha=0.3, color=_DRAW_COLOR, linewidths=0,
                          gid="geometry:draws")
        h_bad = ax.scatter(logtau[bad], y[bad], s=16, color=_DIVERGENT_COLOR, edgecolor="k",
                           linewidths=0.3, gid="geometry:divergent")
        xlabel = r"$\log\tau$"
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{name}: {int(div.sum())} divergent of {tau.size} draws", fontsize=10)
        _legend_below(ax, [h_ok, h_bad], ["draws", f"divergent ({int(bad.sum())})"],
                      markerscale=1.5, depth_pts=_xaxis_depth_pts(ax, ["-1"], xlabel))
    return fig


# ----------------------------------------------------------------------------- tau
def _tau_inputs(posterior: Any, data: Any) -> tuple[az.InferenceData | ExactPosterior, HierData]:
    """The posterior (a fit or exact draws normalized to a ``group`` dim, or an
    ExactPosterior) and the data behind it."""
    if isinstance(posterior, ExactPosterior):
        if data is None:
            data = posterior.data
        elif tuple(HierData.check(data).groups) != tuple(posterior.groups):
            raise ValueError("`data` has other groups than the ExactPosterior: pass the data "
                             "it was computed from, or data=None.")
        return posterior, data
    if not stack.is_result(posterior):
        raise TypeError(f"`posterior` must be an arviz.InferenceData (a fit, or exact draws "
                        f"from ExactPosterior.sample) or an ExactPosterior, got "
                        f"{type(posterior).__name__}.")
    idata, _ = normalize_group_dim(posterior, "posterior")
    return idata, _data_for(idata, data)


def _tau_hats(estimates: Any, data: HierData) -> pd.DataFrame:
    """``estimates`` checked (one ``tau`` per estimator), or every estimator's ``tau_hat``
    (:func:`hiermodel.shrinkage.tau_estimates`) when None."""
    if estimates is None:
        return tau_estimates(data)
    if not isinstance(estimates, pd.DataFrame):
        raise TypeError(f"`estimates` must be a DataFrame with one `tau` per estimator (e.g. "
                        f"tau_estimates(data)) or None, got {type(estimates).__name__}.")
    if len(estimates) == 0:
        return estimates
    if "tau" not in estimates:
        raise ValueError(f"`estimates` has no `tau` column (columns {list(estimates)}); pass "
                         "tau_estimates(data) or a table like it.")
    if np.any(check_finite_array(estimates["tau"].to_numpy(), "estimates['tau']") < 0):
        raise ValueError("`estimates['tau']` must be >= 0 (between-group sds).")
    return estimates


def _exact_for(posterior: az.InferenceData | ExactPosterior, data: HierData,
               exact: Any) -> ExactPosterior | None:
    """The exact posterior to draw: the posterior itself, the one given, or (``exact`` None
    or True) :func:`hiermodel.shrinkage.exact_posterior` of the data under the fit's priors
    (:func:`hiermodel.comparison.fit_priors`) when the sampling sds are known."""
    if exact is not None and not isinstance(exact, (bool, ExactPosterior)):
        raise TypeError(f"`exact` must be an ExactPosterior, True, False or None, got "
                        f"{type(exact).__name__}.")
    if isinstance(posterior, ExactPosterior):
        if isinstance(exact, ExactPosterior) and exact is not posterior:
            raise ValueError("`exact`: the posterior is itself an ExactPosterior; leave "
                             "exact=None.")
        return posterior
    if isinstance(exact, ExactPosterior):
        if tuple(exact.groups) != tuple(data.groups):
            raise ValueError("`exact` has other groups than the data: pass the "
                             "ExactPosterior of the data the posterior was fitted to.")
        return exact
    if exact is False:
        return None
    if data.sigma_known and "sigma" not in posterior.posterior:
        return exact_posterior(data, fit_priors(posterior))
    if exact:
        raise ValueError("`exact=True` needs known sampling sds, but sigma is estimated for "
                         "this data; use exact=None.")
    return None


def plot_tau(
    posterior: az.InferenceData | ExactPosterior,
    data: HierData | None = None,
    *,
    estimates: pd.DataFrame | None = None,
    exact: ExactPosterior | bool | None = None,
    prob: float = 0.95,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""The posterior of ``tau`` against the EB point estimates, and the weights ``w_i(tau)``.

    Left: ``p(tau | y)`` -- a boundary-corrected KDE of the draws (``arviz.kde``), or the
    exact density (:meth:`~hiermodel.shrinkage.ExactPosterior.tau_pdf`) for an
    :class:`~hiermodel.shrinkage.ExactPosterior` or for exact draws -- with its central
    ``prob`` interval shaded and a vertical line at each estimator's ``tau_hat`` (the rows
    of ``estimates``).  Right: one curve per group of the shrinkage weight
    (:func:`hiermodel.core.shrinkage_weights`)

        w_i(tau) = tau^2 / (tau^2 + se_i^2) = (n_i / sigma^2) / (n_i / sigma^2 + 1 / tau^2),

    the weight on ``ybar_i`` in the conditional posterior mean of ``theta_i`` given ``(mu,
    tau)`` (BDA3 eq. 5.17; Morris 1983; ``se_i`` is the plug-in ``sigma_hat / sqrt(n_i)``
    when sigma is estimated), coloured by ``se_i`` (groups with
    equal ``se_i`` share a curve): a legend of the groups for up to 10 distinct ``se_i``, a
    colour bar beyond; the ``tau_hat`` are repeated as grey lines of the same styles.

    Parameters
    ----------
    posterior : arviz.InferenceData or ExactPosterior
        Draws of ``tau`` (a fit from :func:`hiermodel.sampling.fit`, or exact draws from
        :meth:`ExactPosterior.sample <hiermodel.shrinkage.ExactPosterior.sample>`), or the
        exact posterior itself (:func:`hiermodel.shrinkage.exact_posterior`).
    data : HierData, optional
        The data behind the posterior (its ``se_i`` give the weight curves).  Default:
        rebuilt from the fit (:func:`hiermodel.comparison.data_from_idata`), or from the
        ExactPosterior's ``means`` and ``se``; needed for exact draws.
    estimates : pandas.DataFrame, optional
        The ``tau_hat`` to mark: one row per estimator (the index names it), column ``tau``
        -- e.g. ``tau_estimates(data, ("reml", "dl"))``
        (:func:`hiermodel.shrinkage.tau_estimates`); an empty table marks none.  Default: all
        five estimators of ``tau_estimates(data)``.
    exact : ExactPosterior or bool, optional
        The exact posterior: with draws, its density is the main curve for exact draws
        (``posterior.attrs["method"] == "exact"``) and is overlaid dashed on the KDE of NUTS
        draws.  ``None`` (default) or ``True``: computed from the data under the fit's priors
        (:func:`hiermodel.shrinkage.exact_posterior`, :func:`hiermodel.comparison.fit_priors`)
        when the sampling sds are known (``True`` insists on it); ``False``: none (a KDE of
        any draws).  Ignored for an ExactPosterior ``posterior``.
    prob : float, default 0.95
        Mass of the shaded central interval of ``tau`` (of the draws, or exact quantiles).
    axes : pair of matplotlib.axes.Axes, optional
        Draw the density and the weights into these; default: a new figure.
    figsize : (float, float), optional
        Default (11, 4.6).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: density (``xlabel`` tau) and weights (plus a colour bar for many groups).
    """
    posterior, data = _tau_inputs(posterior, data)
    prob = check_prob(prob)
    axes = _check_axes(axes, 2)
    est = _tau_hats(estimates, data)
    ep = _exact_for(posterior, data, exact)
    if isinstance(posterior, ExactPosterior):
        draws, from_exact = None, True
    else:
        draws = posterior.posterior["tau"].values.ravel()
        from_exact = ep is not None and posterior.posterior.attrs.get("method") == "exact"

    # range of tau: the bulk of the posterior and every tau_hat
    a = (1.0 - prob) / 2.0
    if draws is None:
        upper = float(ep.quantile([0.995])["tau"].values[0])
    else:
        upper = float(np.quantile(draws, 0.995))
    if len(est):
        upper = max(upper, 1.1 * float(est["tau"].max()))
    upper = upper if upper > 0 else 1.0
    grid = np.linspace(0.0, upper, 400)

    if axes is None:
        fig = _new_figure(figsize, (11.0, 4.6))
        ax_d, ax_w = fig.subplots(1, 2)
    else:
        ax_d, ax_w = axes
        fig = _root_figure(ax_d)
    handles, labels = [], []
    if from_exact:
        handles += ax_d.plot(grid, ep.tau_pdf(grid), color="k", lw=1.8, gid="tau:density")
        labels.append(r"exact $p(\tau \mid y)$")
        lo, hi = (float(v) for v in ep.quantile([a, 1.0 - a])["tau"].values)
    else:
        xk, pk = stack.kde(draws, bounded=True)
        handles += ax_d.plot(xk, pk, color="k", lw=1.8, gid="tau:density")
        labels.append(f"KDE of {draws.size} draws")
        lo, _, hi = (float(v) for v in _central(draws, prob))
        if ep is not None:
            handles += ax_d.plot(grid, ep.tau_pdf(grid), color="0.4", ls="--", lw=1.2,
                                 gid="tau:exact")
            labels.append(r"exact $p(\tau \mid y)$")
    handles.append(ax_d.axvspan(lo, hi, color="0.9", zorder=0, gid="tau:interval"))
    labels.append(f"{_pct(prob)} central interval")
    for k, (method, row) in enumerate(est.iterrows()):
        style = dict(ls=_LINESTYLES[k % len(_LINESTYLES)])
        handles.append(ax_d.axvline(row["tau"], color=f"C{k % 10}", lw=1.5,
                                    gid=f"tau-hat:{method}", **style))
        labels.append(rf"{TAU_METHOD_NAMES.get(method, method)} $\hat\tau$ = {_num(row['tau'])}")
        ax_w.axvline(row["tau"], color="0.45", lw=1.0, alpha=0.8, gid=f"tau-hat:{method}",
                     **style)
    ax_d.set_xlim(-0.02 * upper, upper)
    ax_d.set_ylim(bottom=0.0)
    xlabel = r"$\tau$"
    ax_d.set_xlabel(xlabel)
    ax_d.set_ylabel(r"posterior density $p(\tau \mid y)$")
    ax_d.set_title(r"Posterior of $\tau$ and the empirical-Bayes $\hat\tau$", fontsize=10)
    depth = _xaxis_depth_pts(ax_d, ["0"], xlabel)
    _legend_below(ax_d, handles, labels, depth_pts=depth, fontsize=7)

    se = np.asarray(data.se, float)
    weights = shrinkage_weights(se, grid)                   # (K, G)
    distinct = np.unique(se)
    if distinct.size <= _MAX_LEGEND_ENTRIES:                # a legend: colour per se value
        color_of = {s: f"C{k}" for k, s in enumerate(distinct)}
    else:                                                   # a colour map and a colour bar
        cmap, cnorm = _se_colours(se)
        color_of = {s: cmap(cnorm(s)) for s in distinct}
    for i, g in enumerate(data.groups):
        ax_w.plot(grid, weights[:, i], color=color_of[se[i]], lw=1.3, label=str(g),
                  gid=f"weight:{g}")
    ax_w.set_xlim(-0.02 * upper, upper)
    ax_w.set_ylim(0.0, 1.0)
    ax_w.set_xlabel(xlabel)
    ax_w.set_ylabel(r"shrinkage weight $w_i(\tau) = \tau^2 / (\tau^2 + se_i^2)$")
    ax_w.set_title(r"Weight on $\bar y_i$ (1 = no pooling, 0 = complete pooling)",
                   fontsize=10)
    if distinct.size <= _MAX_LEGEND_ENTRIES:
        entries = []
        for s in distinct:
            names = [str(g) for g, v in zip(data.groups, se, strict=True) if v == s]
            shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
            entries.append((Line2D([], [], color=color_of[s], lw=1.6),
                            f"{shown} (se {_num(s)})"))
        ax_w.legend(*zip(*entries, strict=True), loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    borderaxespad=0.0, fontsize=7, frameon=False, title="group",
                    title_fontsize=7)
    else:
        _se_colorbar(ax_w, se, cmap, cnorm, f"{data.n_groups} groups")
    return fig


def _se_colours(se: np.ndarray) -> tuple[ListedColormap, Normalize]:
    """A colour map of ``se_i`` (viridis without its last tenth: bright yellow is hard to see
    on white), logarithmic when the ``se_i`` span more than a factor of 10."""
    cmap = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.9, 256)), "viridis_90")
    lo, hi = float(np.min(se)), float(np.max(se))
    cnorm = LogNorm(lo, hi) if lo > 0 and hi / lo > 10 else Normalize(lo, hi)
    return cmap, cnorm


def _se_colorbar(ax: Axes, se: np.ndarray, cmap: ListedColormap, cnorm: Normalize,
                 what: str) -> None:
    sm = ScalarMappable(norm=cnorm, cmap=cmap)
    sm.set_array(se)
    cb = ax.figure.colorbar(sm, ax=ax, pad=0.02, fraction=0.05)
    cb.set_label(r"$se_i$ (curve colour; " + f"{what})", fontsize=8)


# ----------------------------------------------------------------------------- predictive
def _stat_objects(stats: Any, names: list[str]) -> list[Any]:
    """The statistic (name or callable) behind each row name of a ``ppc_table``."""
    if stats is None:
        objs = list(names)
    elif isinstance(stats, Mapping):
        objs = list(stats.values())
    elif isinstance(stats, str) or callable(stats):
        objs = [stats]
    elif isinstance(stats, Sequence):
        objs = list(stats)
    else:
        raise TypeError(f"`stats` must be a name, a callable, a sequence or a mapping of them, "
                        f"got {type(stats).__name__}.")
    if len(objs) != len(names):
        raise ValueError(f"`table` has {len(names)} statistics but `stats` {len(objs)}: pass "
                         "the stats the table was computed with.")
    return objs


def plot_test_statistics(
    idata: az.InferenceData,
    stats: Any = None,
    *,
    table: pd.DataFrame | None = None,
    var_name: str = "y",
    group: str = "posterior",
    bins: int = 30,
    ncols: int = 3,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Histograms of ``T(y^rep)``, one axes per test statistic, the observed ``T(y)`` marked.

    Each axes is titled ``"<statistic>  (p = <p_value>)"`` with the predictive p-value
    ``P(T(y^rep) >= T(y) | y)`` of ``table`` and holds one vertical line at ``T_obs``; the
    draws ``T(y^rep)`` come from :func:`hiermodel.predictive.t_statistic`.  The figure shows the
    p-values and does not warn about extreme ones (:func:`hiermodel.predictive.ppc_table` does).

    Parameters
    ----------
    idata : arviz.InferenceData
        Predictive draws (:func:`hiermodel.predictive.posterior_predictive` or
        ``prior_predictive``).
    stats : name, callable, sequence or mapping of them, optional
        As in :func:`hiermodel.predictive.ppc_table`; default its default statistics.
    table : pandas.DataFrame, optional
        ``ppc_table(idata, stats, var_name=, group=)`` if already computed (its ``T_obs``
        must match ``idata``); default: computed here.
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
    group : {"posterior", "prior"}, default "posterior"
    bins : int, default 30
        Bins of each histogram.
    ncols : int, default 3
        Axes per row of a new figure.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per statistic to draw into; default: a new figure (titled).
    figsize : (float, float), optional
        Default (3.6 ncols, 2.9 nrows + 0.5) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .predictive import ppc_table, t_statistic

    bins, ncols = check_positive_int(bins, "bins"), check_positive_int(ncols, "ncols")
    if table is None:
        with warnings.catch_warnings():  # the figure shows the p-values
            warnings.simplefilter("ignore", PredictiveCheckWarning)
            table = ppc_table(idata, stats, var_name=var_name, group=group)
    elif (not isinstance(table, pd.DataFrame) or not len(table)
          or not {"T_obs", "p_value"} <= set(table.columns)):
        raise TypeError("`table` must be the DataFrame from ppc_table() (columns T_obs, "
                        "p_value), or None.")
    names = [str(n) for n in table.index]
    objs = _stat_objects(stats, names)
    axes = _check_axes(axes, len(names))
    new = axes is None
    if new:
        ncols = min(ncols, len(names))
        nrows = -(-len(names) // ncols)
        fig = _new_figure(figsize, (3.6 * ncols, 2.9 * nrows + 0.5))
        grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in grid[len(names):]:
            fig.delaxes(ax)
        axes = list(grid[:len(names)])
    else:
        fig = _root_figure(axes[0])
    rep_label = {"y": "y^rep", "y_mixed": "y^mixed", "y_rows": "y_rows^rep"}.get(var_name,
                                                                                 var_name)
    for ax, name, stat in zip(axes, names, objs, strict=True):
        t_obs, t_rep = t_statistic(idata, stat, var_name=var_name, group=group)
        if not np.isclose(t_obs, float(table.loc[name, "T_obs"]), rtol=1e-9, equal_nan=True):
            raise ValueError(f"`table`: T_obs of {name!r} is {table.loc[name, 'T_obs']:.6g} "
                             f"but {t_obs:.6g} on `idata`; pass the ppc_table of these draws.")
        ax.hist(t_rep.values.ravel(), bins=bins, color="C0", alpha=0.7, label="T(y^rep)",
                gid=f"tstat:{name}:rep")
        ax.axvline(t_obs, color="k", lw=2, label="T(y) observed", gid=f"tstat:{name}:obs")
        ax.set_title(f"{name}  (p = {float(table.loc[name, 'p_value']):.3f})", fontsize=10)
        ax.set_xlabel(f"{name}({rep_label})")
        ax.set_ylabel("draws")
    handles, labels = axes[0].get_legend_handles_labels()
    _legend_below(axes[0], handles, labels,
                  depth_pts=_xaxis_depth_pts(axes[0], ["0"], axes[0].get_xlabel()))
    if new:
        fig.suptitle(f"{group} predictive check of {var_name}: P(T(y^rep) >= T(y))",
                     fontsize=11)
    return fig


def plot_ppc(
    idata: az.InferenceData,
    *,
    var_name: str = "y",
    group: str = "posterior",
    kind: str = "kde",
    num_pp_samples: int | None = 100,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
    **kwargs: Any,
) -> Figure:
    """ArviZ's ``plot_ppc`` of one replicated variable against the observed data.

    ``var_name="y_mixed"`` is drawn against the observed ``y``
    (:data:`hiermodel.predictive.PREDICTIVE_VARS`).  ``num_pp_samples`` (default 100) and
    ``kind`` (``"kde"``, ``"cumulative"`` or ``"scatter"``) are passed on, as are further
    ``arviz.plot_ppc`` keyword arguments.

    Parameters
    ----------
    idata : arviz.InferenceData
        Predictive draws (:func:`hiermodel.predictive.posterior_predictive` or
        ``prior_predictive``), with ``observed_data``.
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
    group : {"posterior", "prior"}, default "posterior"
    kind : {"kde", "cumulative", "scatter"}, default "kde"
    num_pp_samples : int, optional
        Predictive datasets drawn (default 100; None: all).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    figsize : (float, float), optional
        Default (6, 4.4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .predictive import PREDICTIVE_VARS

    var_name = check_method(var_name, tuple(PREDICTIVE_VARS), "var_name")
    group = check_method(group, ("posterior", "prior"), "group")
    kind = check_method(kind, ("kde", "cumulative", "scatter"), "kind")
    if num_pp_samples is not None:
        num_pp_samples = check_positive_int(num_pp_samples, "num_pp_samples")
    pp_group = f"{group}_predictive"
    idata = check_fitted(idata, (pp_group, "observed_data"))
    obs_name = PREDICTIVE_VARS[var_name]
    if var_name not in getattr(idata, pp_group) or obs_name not in idata.observed_data:
        raise ValueError(f"`var_name` {var_name!r} is not in the {group} predictive draws (or "
                         f"{obs_name!r} not in observed_data); draw it with "
                         f"hiermodel.predictive.{group}_predictive (y_rows needs rows, "
                         "y_mixed mu and tau).")
    ax = _check_ax(ax)
    if ax is None:
        fig = _new_figure(figsize, (6.0, 4.4))
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)
    with warnings.catch_warnings():  # arviz's own use of a deprecated matplotlib helper
        warnings.filterwarnings("ignore", message=".*alias_mapping.*")
        stack.draw_ppc(ax, idata.observed_data[obs_name].values,
                         idata[pp_group][var_name].values, kind=kind,
                         num_pp_samples=num_pp_samples, label=group.capitalize())
    ax.set_title(f"{group} predictive check of {var_name}", fontsize=10)
    legend = ax.get_legend()
    if legend is not None:  # below the axes, off the curves
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        _legend_below(ax, handles, labels, ncols=min(len(labels), 3),
                      depth_pts=_xaxis_depth_pts(ax, ["0"], ax.get_xlabel()))
    return fig


# ----------------------------------------------------------------------------- studies
def _check_columns(table: Any, columns: Sequence[str], maker: str) -> pd.DataFrame:
    """``table`` if it is a DataFrame with ``columns``, else a TypeError naming ``maker``."""
    if not isinstance(table, pd.DataFrame) or not set(columns) <= set(table.columns):
        raise TypeError(f"`table` must be the DataFrame returned by {maker}() (columns "
                        f"{list(columns)}).")
    return table


def _panels(axes: Any, n: int, figsize: tuple[float, float] | None,
            default: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw into: ``axes`` checked, or a new row of panels."""
    axes = _check_axes(axes, n)
    if axes is None:
        fig = _new_figure(figsize, default)
        return fig, list(fig.subplots(1, n, squeeze=False)[0])
    return _root_figure(axes[0]), axes


def plot_pooling_vs_tau(
    table: pd.DataFrame,
    *,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Exercise 1 (:func:`hiermodel.studies.pooling_vs_tau`): partial pooling along tau.

    Left: each group's partial-pooling estimate against the true tau, between its
    no-pooling estimate (dotted) and complete pooling (black); right: the shrinkage weights
    ``w_i`` (estimated: markers; oracle ``tau^2/(tau^2+se_i^2)``: lines), all read from the
    table.  The tau axis is symlog (linear below the smallest ``se_i``).  Up to 10 groups
    get a colour each and a legend; more are coloured by ``se_i`` with a colour bar.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`hiermodel.studies.pooling_vs_tau`.
    axes : pair of matplotlib.axes.Axes, optional
        Draw the estimates and the weights into these; default: a new figure.
    figsize : (float, float), optional
        Default (9.6, 4.2) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    tab = _check_columns(table, ("tau", "group", "se", "no_pooling", "complete_pooling",
                                 "partial_pooling", "weight", "weight_true"), "pooling_vs_tau")
    fig, (ax1, ax2) = _panels(axes, 2, figsize, (9.6, 4.2))
    by_group = list(tab.groupby("group", sort=True))
    many = len(by_group) > _MAX_LEGEND_ENTRIES
    se = np.array([float(d["se"].iloc[0]) for _, d in by_group])
    if many:
        cmap, cnorm = _se_colours(se)
    handles, labels = [], []
    for i, (grp, d) in enumerate(by_group):
        col = cmap(cnorm(se[i])) if many else f"C{i}"
        (h,) = ax1.plot(d["tau"], d["partial_pooling"], "o-", color=col, ms=3, lw=1.2,
                        gid=f"pooling:{grp}")
        ax1.plot(d["tau"], d["no_pooling"], ":", color=col, lw=1, gid=f"no-pooling:{grp}")
        ax2.plot(d["tau"], d["weight_true"], "-", color=col, lw=1, gid=f"weight-true:{grp}")
        ax2.plot(d["tau"], d["weight"], "o", color=col, ms=3, gid=f"weight:{grp}")
        if not many:
            handles.append(h)
            labels.append(f"group {grp} (se {_num(se[i])})")
    cp = tab.groupby("tau", sort=True)["complete_pooling"].first()
    handles += ax1.plot(cp.index, cp.to_numpy(), "k-", lw=2, gid="complete-pooling")
    labels.append("complete pooling")
    for ax in (ax1, ax2):
        ax.set_xscale("symlog", linthresh=max(float(tab["se"].min()), 1e-3))
        ax.set_xlabel(r"true $\tau$")
    ax1.set_ylabel(r"estimate of $\theta_i$  (dotted: no pooling)")
    ax1.set_title("Partial pooling moves from complete to no pooling", fontsize=10)
    ax2.set_ylabel(r"shrinkage weight $w_i$ on $\bar y_i$")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title(r"$w_i$: estimated (dots), oracle $\tau^2/(\tau^2 + se_i^2)$ (lines)",
                  fontsize=10)
    _legend_below(ax1, handles, labels, ncols=3 if len(labels) > 6 else 2, fontsize=7,
                  depth_pts=_xaxis_depth_pts(ax1, ["0"], ax1.get_xlabel()))
    if many:
        _se_colorbar(ax2, se, cmap, cnorm, f"{len(by_group)} groups")
    return fig


def plot_shrinkage_by_size(
    table: pd.DataFrame,
    *,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Exercise 2 (:func:`hiermodel.studies.shrinkage_by_size`): small groups shrink more.

    Left: the shrinkage factor ``1 - w`` against group size -- the EB estimate with its
    Monte Carlo interval and the oracle ``se^2/(tau^2+se^2)``; right: the MSE of no pooling
    and of EB partial pooling (with its interval) per size, all read from the table.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of :func:`hiermodel.studies.shrinkage_by_size`.
    axes : pair of matplotlib.axes.Axes, optional
        Draw the shrinkage and the MSE into these; default: a new figure.
    figsize : (float, float), optional
        Default (9.6, 4.2) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    tab = _check_columns(table, ("n", "shrinkage", "shrinkage_lo", "shrinkage_hi",
                                 "shrinkage_true", "mse_partial", "mse_partial_lo",
                                 "mse_partial_hi", "mse_no_pooling"), "shrinkage_by_size")
    fig, (ax1, ax2) = _panels(axes, 2, figsize, (9.6, 4.2))
    x = tab["n"].to_numpy(float)
    ax1.errorbar(x, tab["shrinkage"], yerr=[tab["shrinkage"] - tab["shrinkage_lo"],
                                            tab["shrinkage_hi"] - tab["shrinkage"]],
                 fmt="o", color="C0", capsize=3, label="EB estimate (mean, MC interval)",
                 gid="size:shrinkage")
    ax1.plot(x, tab["shrinkage_true"], "s--", color="C1", mfc="none",
             label=r"oracle $se^2 / (\tau^2 + se^2)$", gid="size:shrinkage-true")
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel(r"group size $n_i$")
    ax1.set_ylabel(r"shrinkage toward the mean, $1 - w_i$")
    ax1.set_title("Small groups shrink more", fontsize=10)
    ax2.plot(x, tab["mse_no_pooling"], "o-", color="C3", label="no pooling",
             gid="size:mse-no-pooling")
    ax2.errorbar(x, tab["mse_partial"], yerr=[tab["mse_partial"] - tab["mse_partial_lo"],
                                              tab["mse_partial_hi"] - tab["mse_partial"]],
                 fmt="o-", color="C0", capsize=3, label="EB partial pooling (MC interval)",
                 gid="size:mse-partial")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel(r"group size $n_i$")
    ax2.set_ylabel(r"MSE of $\theta_i$")
    ax2.set_title("The gain is where the data are thin", fontsize=10)
    for ax in (ax1, ax2):
        _legend_below(ax, *ax.get_legend_handles_labels(), ncols=1,
                      depth_pts=_xaxis_depth_pts(ax, ["100"], ax.get_xlabel()))
    return fig


def plot_mse_study(
    study: Any,
    *,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Exercise 3 (:func:`hiermodel.studies.mse_study`): which estimator beats no pooling.

    Left: per estimator the gain ``MSE(no pooling) - MSE(estimator)`` with its paired Monte
    Carlo interval (``> 0``: it beats no pooling); right: the MSE of each estimator with its
    interval -- the columns ``gain``, ``gain_lo``, ``gain_hi``, ``mse``, ``mse_lo``,
    ``mse_hi`` of ``study.table``, one row per estimator, top to bottom.

    Parameters
    ----------
    study : MSEStudy
        The result of :func:`hiermodel.studies.mse_study` (its ``table``, ``level`` and
        ``settings["tau"]``, ``settings["se"]``).
    axes : pair of matplotlib.axes.Axes, optional
        Draw the gains and the MSEs into these; default: a new figure.
    figsize : (float, float), optional
        Default (10, 1.6 + 0.32 rows) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    tab = getattr(study, "table", None)
    level, settings = getattr(study, "level", None), getattr(study, "settings", None)
    if (not isinstance(tab, pd.DataFrame) or not isinstance(settings, Mapping)
            or not {"gain", "gain_lo", "gain_hi", "mse", "mse_lo", "mse_hi"} <= set(tab)):
        raise TypeError(f"`study` must be the MSEStudy from mse_study(), got "
                        f"{type(study).__name__}.")
    level = check_prob(level, "study.level")
    fig, (ax1, ax2) = _panels(axes, 2, figsize, (10.0, 1.6 + 0.32 * len(tab)))
    y = np.arange(len(tab), dtype=float)
    names = [str(v) for v in tab.index]
    ax1.errorbar(tab["gain"], y, xerr=[tab["gain"] - tab["gain_lo"],
                                       tab["gain_hi"] - tab["gain"]],
                 fmt="o", color="C0", capsize=3, gid="mse:gain")
    ax1.axvline(0, color="0.4", lw=1)
    ax1.set_xlabel(f"MSE(no pooling) - MSE(estimator), {_pct(level)} MC interval")
    ax1.set_title("> 0: the estimator beats no pooling", fontsize=10)
    ax2.errorbar(tab["mse"], y, xerr=[tab["mse"] - tab["mse_lo"], tab["mse_hi"] - tab["mse"]],
                 fmt="s", color="C1", capsize=3, gid="mse:mse")
    ax2.set_xlabel(r"MSE of $\theta_i$ (mean over groups and datasets)")
    design = []
    if "tau" in settings:
        design.append(rf"$\tau$ = {_num(settings['tau'])}")
    if "se" in settings:
        design.append(f"G = {len(np.atleast_1d(settings['se']))}")
    n_datasets = tab["n_datasets"].max() if "n_datasets" in tab else None
    if n_datasets is not None:
        design.append(f"{int(n_datasets):,} datasets")
    ax2.set_title("MSE per estimator" + (f" ({', '.join(design)})" if design else ""),
                  fontsize=10)
    for ax in (ax1, ax2):
        ax.set_yticks(y, names)
        ax.set_ylim(len(tab) - 0.5, -0.5)
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    return fig


# ----------------------------------------------------------------------------- SBC
def plot_sbc_ranks(
    result: Any,
    *,
    band: float = 0.99,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Rank histograms of simulation-based calibration, one panel per ranked parameter.

    Each panel bins the ranks (``result.ranks``, values ``0..L``) into ``result.n_bins``
    equal bins, with the expected count ``N / B`` (line) and the pointwise ``band`` interval
    of a Binomial(N, 1/B) bin count (grey), titled by the chi-square p-value of
    ``result.tests``.  Uniform ranks stay in the band; a U shape means too narrow
    posteriors, a hump too wide ones, a slope bias.

    Parameters
    ----------
    result : SBCResult
        The result of :func:`hiermodel.studies.sbc` (its ``ranks``, ``L``, ``n_bins``,
        ``tests``, ``priors``, ``fit_priors`` and ``sampler_health``).
    band : float, default 0.99
        Mass of the binomial band.
    axes : sequence of matplotlib.axes.Axes, optional
        One axes per ranked parameter to draw into; default: a new figure (titled with the
        priors and the divergent fits).
    figsize : (float, float), optional
        Default (3.8 per panel, 3.4) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ranks = getattr(result, "ranks", None)
    tests = getattr(result, "tests", None)
    if (not isinstance(ranks, pd.DataFrame) or not isinstance(tests, pd.DataFrame)
            or not all(hasattr(result, a) for a in ("L", "n_bins", "n_replicates"))):
        raise TypeError(f"`result` must be the SBCResult from sbc(), got "
                        f"{type(result).__name__}.")
    band = check_prob(band, "band")
    n, b, L = int(result.n_replicates), int(result.n_bins), int(result.L)
    lo, hi = binom.ppf([(1 - band) / 2, (1 + band) / 2], n, 1 / b)
    width = (L + 1) // b                          # rank values per bin (b divides L + 1)
    new = axes is None
    fig, axes = _panels(axes, len(ranks.columns), figsize, (3.8 * len(ranks.columns), 3.4))
    edges = np.arange(b) * width
    for ax, name in zip(axes, ranks.columns, strict=True):
        counts = np.bincount(ranks[name].to_numpy() // width, minlength=b)
        ax.axhspan(lo, hi, color="0.85", zorder=0, gid=f"sbc:{name}:band")
        ax.axhline(n / b, color="0.4", lw=1, zorder=1, gid=f"sbc:{name}:expected")
        ax.bar(edges, counts, width=width, align="edge", color="C0", edgecolor="white",
               zorder=2, gid=f"sbc:{name}:ranks")
        ax.set_title(f"{name}  (chi-square p = {float(tests.loc[name, 'chisq_p']):.3g})",
                     fontsize=10)
        ax.set_xlabel(f"rank among L = {L} draws")
        ax.set_xlim(0, L + 1)
    axes[0].set_ylabel("replicates")
    handles = [Line2D([], [], color="0.85", lw=6), Line2D([], [], color="0.4", lw=1)]
    _legend_below(axes[0], handles, [f"{_pct(band)} binomial band", f"expected N/B = {n / b:g}"],
                  ncols=1, depth_pts=_xaxis_depth_pts(axes[0], ["0"], axes[0].get_xlabel()))
    if new:
        divergent = result.sampler_health["divergent_fits"]
        fig.suptitle(f"SBC, N = {n}: simulate {result.priors.describe().split('; sigma')[0]}"
                     f" | fit {result.fit_priors.describe().split('; sigma')[0]}"
                     f" | divergent fits {divergent}/{n}", fontsize="small")
    return fig
