"""The shrinkage plot: each group's move from no pooling to partial pooling (Efron & Morris
1975; in the style of Gelman & Hill 2007 fig. 12.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory, offset_copy

from ._common import check_ax, figure_and_axes, num
from ._layout import LABEL_SIZE, SpreadLabels, legend_below, text_extents_pts, xaxis_depth_pts
from .style import Style, get_style

__all__ = ["plot_shrinkage", "SHRINKAGE_COLUMNS"]

#: comparison columns plot_shrinkage can draw, with their axis labels
SHRINKAGE_COLUMNS = {
    "no_pooling": "no pooling\n" + r"$\bar y_i$",
    "sd_of_means": "sd of means\n(plug-in)",
    "eb": "empirical Bayes\n({method})",
    "rb_mean": "full Bayes\n(Rao-Blackwell)",
    "mean": "full Bayes\n" + r"$E[\theta_i \mid y]$",
    "exact": "exact posterior\nmean",
}


@dataclass(frozen=True)
class _Shrinkage:
    """What the shrinkage plot shows, computed before anything is drawn."""

    groups: list[str]
    columns: list[str]
    values: np.ndarray          # (G, k): each group's estimate per column
    sizes: np.ndarray           # marker areas, points^2
    size_name: str              # what the marker area is proportional to
    ticks: list[str]            # the column labels
    regression: bool            # each group shrinks toward its own fitted value
    title: str

    @property
    def x(self) -> np.ndarray:
        return np.arange(len(self.columns), dtype=float)


def _check(result: object, columns: object) -> list[str]:
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"`result` must be the DataFrame from compare(), got "
                        f"{type(result).__name__}.")
    if isinstance(columns, str) or not isinstance(columns, Sequence) or len(columns) < 2:
        raise TypeError(f"`columns` must be a sequence of at least two column names, got "
                        f"{columns!r}.")
    bad = [c for c in columns if c not in SHRINKAGE_COLUMNS]
    if bad:
        raise ValueError(f"Requested columns {bad} but they must be among "
                         f"{list(SHRINKAGE_COLUMNS)}.")
    missing = [c for c in (*columns, "se") if c not in result]
    if missing:
        raise ValueError(f"`result` lacks column(s) {missing}; pass the result of "
                         "compare() (the 'exact' column needs known sampling sds).")
    return list(columns)


def _summarize(t: pd.DataFrame, columns: list[str]) -> _Shrinkage:
    if "n" in t:
        size_of, size_name = t["n"].to_numpy(float), r"$n_i$"
    else:
        size_of, size_name = 1.0 / t["se"].to_numpy(float) ** 2, r"precision $1/se_i^2$"
    a = t.attrs
    regression = "covariates" in a
    method = str(a.get("eb_method", "reml")).upper()
    toward = ("the regression line (" + ", ".join(a["covariates"]) + ")" if regression
              else "the grand mean")
    return _Shrinkage(
        groups=[str(g) for g in t.index], columns=columns,
        values=t[columns].to_numpy(float), sizes=20.0 + 230.0 * size_of / size_of.max(),
        size_name=size_name,
        ticks=[SHRINKAGE_COLUMNS[c].format(method=method) for c in columns],
        regression=regression,
        title=f"Shrinkage toward {toward} (marker area ∝ {size_name})")


def _draw_paths(ax: Axes, s: _Shrinkage, style: Style) -> None:
    for g, row in zip(s.groups, s.values, strict=True):
        ax.plot(s.x, row, color=style.path, lw=1.0, zorder=1, gid=f"shrinkage-path:{g}")


def _draw_points(ax: Axes, s: _Shrinkage, style: Style) -> None:
    for k, col in enumerate(s.columns):
        ax.scatter(np.full(len(s.groups), s.x[k]), s.values[:, k], s=s.sizes,
                   color=style.color(k), edgecolor="k", linewidth=0.5, alpha=0.85, zorder=2,
                   label=None, gid=f"shrinkage-points:{col}")


def _draw_centres(ax: Axes, t: pd.DataFrame, s: _Shrinkage, style: Style) -> tuple[list, list]:
    """The grand mean (or each group's fitted value) and the EB ``mu_hat``: legend entries."""
    a, handles, labels = t.attrs, [], []
    if s.regression and "fitted_mean" in t:
        handles.append(ax.scatter(np.full(len(s.groups), s.x[-1] + 0.18), t["fitted_mean"],
                                  marker="_", s=120, color=style.reference, zorder=2))
        labels.append(r"fitted value $E[\mu + (x_i - \bar x)'\beta \mid y]$")
    elif "mu_mean" in a:
        handles.append(ax.axhline(a["mu_mean"], color=style.reference, ls="--", lw=1))
        labels.append(rf"grand mean $E[\mu \mid y]$ = {num(a['mu_mean'])}")
    if "eb_mu" in a and "eb" in s.columns and not s.regression:
        handles.append(ax.axhline(a["eb_mu"], color=style.eb, ls=":", lw=1.2))
        labels.append(rf"EB $\hat\mu$ = {num(a['eb_mu'])} ($\hat\tau$ = "
                      f"{num(a['eb_tau'])})")
    return handles, labels


def _draw_group_labels(ax: Axes, s: _Shrinkage, style: Style) -> None:
    """Group labels left of the axes, spread apart at draw time, leader lines to the points;
    when not all fit, those that move most, and the title says how many."""
    label_trans = offset_copy(blended_transform_factory(ax.transAxes, ax.transData),
                              fig=ax.figure, x=-4.0, units="points")
    texts = [ax.text(0.0, s.values[i, 0], g, transform=label_trans, ha="right",
                     va="center", fontsize=LABEL_SIZE, clip_on=False,
                     gid=f"shrinkage-label:{g}") for i, g in enumerate(s.groups)]
    leaders = LineCollection([], colors=style.neutral, linewidths=0.6, zorder=1.5,
                             gid="shrinkage-leaders")
    ax.add_collection(leaders, autolim=False)
    heights = text_extents_pts(s.groups, fontsize=LABEL_SIZE)[1]
    move = np.abs(s.values[:, 0] - s.values[:, -1])
    priority = np.lexsort((np.arange(len(s.groups)), -move))     # largest move first

    def on_count(shown: int, total: int) -> None:
        note = "" if shown == total else (f"\nlabelled: {shown} of {total} groups (those "
                                          "that move most; too many to label all)")
        if ax.get_title() != s.title + note:
            ax.set_title(s.title + note)

    ax.add_artist(SpreadLabels(texts, heights, s.values[:, 0], s.x[0], leaders, priority,
                               on_count))


def plot_shrinkage(
    result: pd.DataFrame,
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
    mean of ``mu`` (dashed) and the EB ``mu_hat`` (dotted).  Colours come from the style
    (:func:`hiermodel.plots.style.get_style`: ``cycle`` per column, ``path``, ``eb``).

    Group labels sit left of the axes, spread apart so that they never overlap, each joined
    to its no-pooling point by a leader line (the value axis is on the right).  A new
    figure grows with the number of groups so that every group is labelled; when the axes
    is too short for all labels, the groups that move most are labelled and the title says
    how many.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`hiermodel.comparison.compare`.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    columns : sequence of str, default ("no_pooling", "eb", "mean")
        Which estimates to show, left to right; any of ``"no_pooling"``, ``"sd_of_means"``,
        ``"eb"``, ``"rb_mean"``, ``"mean"``, ``"exact"`` present in ``result``.
    figsize : (float, float), optional
        Size of a new figure; default (7, max(5, 1.9 + 0.17 G)), at most 14 inches tall.

    Returns
    -------
    matplotlib.figure.Figure
    """
    columns = _check(result, columns)
    ax = check_ax(ax)
    style = get_style()
    s = _summarize(result, columns)
    fig, ax = figure_and_axes(ax, figsize,
                              (7.0, float(np.clip(1.9 + 0.17 * len(s.groups), 5.0, 14.0))))
    _draw_paths(ax, s, style)
    _draw_points(ax, s, style)
    handles, labels = _draw_centres(ax, result, s, style)
    ax.set_xticks(s.x, s.ticks)
    ax.set_xlim(s.x[0] - 0.35, s.x[-1] + (0.4 if s.regression else 0.3))
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.set_ylabel(r"estimate of $\theta_i$")
    ax.set_title(s.title)
    _draw_group_labels(ax, s, style)
    if handles:  # below the axes, clear of the paths
        legend_below(ax, handles, labels, depth_pts=xaxis_depth_pts(ax, s.ticks, None))
    # lay the figure out once, so that a title note on unlabelled groups gets its room
    fig.draw_without_rendering()
    return fig
