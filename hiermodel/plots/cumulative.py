"""The cumulative forest plot of a meta-analysis (metafor's ``forest(cumul(res))``): the
pooled estimate and its confidence interval as the studies accrue, one row per study added,
with the exact posterior of ``mu`` of the same studies beside each row."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ._common import check_ax, figure_and_axes, pct, root_figure
from ._layout import legend_below, xaxis_depth_pts
from .style import get_style

__all__ = ["plot_cumulative"]

_OFFSET = 0.18


def _check(result: Any, posterior: Any) -> None:
    from ..shrinkage.exact import ExactPosterior
    from ..shrinkage.meta_analysis import MetaAnalysis

    if not isinstance(result, MetaAnalysis):
        raise TypeError(f"`result` must be a MetaAnalysis (hiermodel.meta_analysis(data)), got "
                        f"{type(result).__name__}.")
    if posterior is not None and not isinstance(posterior, ExactPosterior):
        raise TypeError("`posterior` must be an ExactPosterior (hiermodel.exact_posterior) or "
                        f"None, got {type(posterior).__name__}.")


def plot_cumulative(result: Any, *, order: Any = None, posterior: Any = None,
                    interval: str | None = None, prob: float | None = None, ax: Any = None,
                    figsize: tuple[float, float] | None = None) -> Figure:
    """The cumulative forest plot (metafor's ``forest(cumul(res))``): row ``j`` is the
    meta-analysis of the first ``j`` studies in the order of ``order``
    (:meth:`MetaAnalysis.cumulative`), its estimate and confidence interval.

    Parameters
    ----------
    result : MetaAnalysis
        :func:`hiermodel.meta_analysis` without covariates.
    order : array-like, optional
        One value per study (e.g. publication years); default the data's order.
    posterior : ExactPosterior, optional
        With it, the posterior of ``mu`` given the same first ``j`` studies
        (:meth:`ExactPosterior.cumulative`) -- its mean and central ``prob`` interval --
        beside each row.
    interval, prob : optional
        The posterior interval (central only: ``interval`` must resolve to ``"eti"``).
    ax : matplotlib Axes, optional
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..options import resolve_interval

    ax = check_ax(ax)
    _check(result, posterior)
    table = result.cumulative(order=order)
    post = None
    label = ""
    if posterior is not None:
        kind, p = resolve_interval(interval, prob)
        if kind != "eti":
            raise ValueError("`interval` must be 'eti' here: the cumulative exact posterior "
                             "gives central intervals.")
        post = posterior.cumulative(order=order, prob=p)
        label = f"Posterior of $\\mu$: mean, {pct(p)} central interval"
    style = get_style()
    k = len(table)
    fig, ax = figure_and_axes(ax, figsize, (7.0, max(3.0, min(14.0, 1.2 + 0.22 * k))))
    rows = np.arange(k, dtype=float)
    off = _OFFSET if post is not None else 0.0
    est = table["estimate"].to_numpy(float)
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    ax.hlines(rows - off, lo, hi, color=style.eb, linewidth=style.linewidth * 0.8,
              gid="cumulative:ci")
    ax.scatter(est, rows - off, marker=style.observed_marker, color=style.eb,
               s=(style.marker_size * 1.6) ** 2 * (1.0 if k <= 30 else 0.5), zorder=3,
               gid="cumulative:estimate")
    handles = [Line2D([], [], color=style.eb, marker=style.observed_marker)]
    labels = [f"Cumulative estimate, {pct(result.level)} CI ({result.method})"
              if isinstance(result.level, float) and result.level < 1 else
              f"Cumulative estimate and CI ({result.method})"]
    if post is not None:
        ok = post["mu_low"].notna().to_numpy()
        ax.hlines(rows[ok] + off, post["mu_low"][ok], post["mu_high"][ok],
                  color=style.posterior, linewidth=style.linewidth * 0.8,
                  gid="cumulative:posterior")
        ax.scatter(post["mu_mean"][ok], rows[ok] + off, marker=style.posterior_marker,
                   color=style.posterior, s=(style.marker_size * 1.4) ** 2
                   * (1.0 if k <= 30 else 0.5), zorder=3, gid="cumulative:posterior-point")
        handles.append(Line2D([], [], color=style.posterior, marker=style.posterior_marker))
        labels.append(label)
    ax.axvline(0.0, color=style.guide, linewidth=0.8, linestyle=":", zorder=0)
    ax.set_yticks(rows)
    names = [f"+ {s}" for s in table.index]
    names[0] = str(table.index[0])
    row_pts = 72.0 * root_figure(ax).get_figheight() * ax.get_position().height / k
    fs = float(min(8.0, max(4.0, 0.6 * row_pts)))        # shrink only when rows are dense
    ax.set_yticklabels(names, fontsize=fs)
    ax.set_ylim(k - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("Pooled estimate")
    ax.set_title("Cumulative meta-analysis")
    depth = xaxis_depth_pts(ax, [t.get_text() for t in ax.get_xticklabels()],
                            "Pooled estimate")
    legend_below(ax, handles, labels, depth_pts=depth, ncols=1)
    return fig
