"""A meta-regression's bubble plot: ``y_i`` against a covariate (bubble area by precision
``1/se_i^2``) with the fitted line, its credible (or confidence) band and the prediction band
for a new group, from a fit or an empirical-Bayes ``MetaAnalysis`` (metafor's
``regplot``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from .. import stack
from ..comparison import normalize_group_dim
from ..core import predictive_quantiles
from ..data import HierData
from ..shrinkage import MetaAnalysis
from ..transforms import Transform, check_transform
from ._common import (
    SAMPLE,
    check_ax,
    check_axes,
    check_interval,
    data_for,
    decimals,
    draws_interval,
    figure_and_axes,
    log_ratio_axis,
    new_figure,
    pct,
    root_figure,
)
from ._layout import BubbleLabels, legend_below, xaxis_depth_pts
from .style import Style, get_style

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["plot_bubble"]

_NEEDS_COVARIATES = ("a bubble plot needs group-level covariates; add them to the data with "
                     "data.with_covariates(df) (or HierData.from_estimates(y, se, groups, "
                     "covariates=df)), df a DataFrame of covariates indexed by group, then "
                     "fit or meta_analysis that data")
_LABEL_SIZE = 7.5
_MAX_LABELS = 30   # groups are labelled up to this many


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
    if "beta" not in stack.group(idata, "posterior"):
        raise ValueError(f"`result` is a fit without covariates (its posterior has no beta): "
                         f"{_NEEDS_COVARIATES}.")
    return idata, data_for(idata, data), dim


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


def _bubble_lines(result: Any, data: HierData, j: int, grid: np.ndarray, kind: str,
                  prob: float) -> pd.DataFrame:
    """The fitted line along covariate ``j`` at ``grid`` (the others at their means):
    ``fit``, its band ``lo``, ``hi`` and the prediction band ``pi_low``, ``pi_high``.

    A fit: the posterior median and ``prob`` interval (``kind`` "eti" or "hdi") of ``mu +
    (x - xbar_j) beta_j``, and the central ``prob`` quantiles of ``N(mu_s + (x - xbar_j) beta_js,
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
    post = stack.group(result, "posterior")
    mu = post["mu"].transpose(*SAMPLE).values.ravel()
    tau = post["tau"].transpose(*SAMPLE).values.ravel()
    beta = post["beta"].transpose(*SAMPLE, "covariate").values.reshape(mu.size, -1)[:, j]
    line = mu[:, None] + (grid - means[j])[None, :] * beta[:, None]      # (S, K)
    lo, med, hi = draws_interval(line, kind, prob)
    a = (1.0 - prob) / 2.0
    pi = predictive_quantiles(line, tau, [a, 1.0 - a])                     # (K, 2)
    return pd.DataFrame({"x": grid, "fit": med, "lo": lo, "hi": hi, "pi_low": pi[:, 0],
                         "pi_high": pi[:, 1]})


def _slope(est: float, lo: float, hi: float) -> str:
    """``"est [lo, hi]"`` with one number of decimals, enough to resolve the interval."""
    if not 1e-4 <= max(abs(est), abs(lo), abs(hi)) < 1e6:
        return f"{est:.3g} [{lo:.3g}, {hi:.3g}]"
    dec = decimals(np.array([hi - lo]))
    return f"{est:,.{dec}f} [{lo:,.{dec}f}, {hi:,.{dec}f}]"


@dataclass(frozen=True)
class _Bubbles:
    """What the bubble plot shows, computed before anything is drawn (on the drawn scale)."""

    x: np.ndarray              # the covariate
    y: np.ndarray              # the estimates y_i
    sizes: np.ndarray          # bubble areas, points^2
    groups: list[str]
    lines: pd.DataFrame        # x, fit, lo, hi, pi_low, pi_high along a grid
    covariate: str
    n_covariates: int
    dim: str
    eb: bool                   # a MetaAnalysis (confidence bands) or a fit (credible bands)
    title: str
    names: list[str]           # legend names: the line, its band, the prediction band
    back: Transform


def _summarize(result: Any, data: HierData, dim: str, j: int, kind: str, prob: float,
               back: Transform) -> _Bubbles:
    eb = isinstance(result, MetaAnalysis)
    name = data.covariate_names[j]
    x = np.asarray(data.x, float)[:, j]
    se = np.asarray(data.se, float)
    grid = np.linspace(x.min(), x.max(), 61)
    lines = _bubble_lines(result, data, j, grid, kind, prob)
    for col in ("fit", "lo", "hi", "pi_low", "pi_high"):
        lines[col] = back(lines[col].to_numpy(float))
    n_groups = data.n_groups
    weight = 1.0 / se**2
    s_max = float(np.clip(12000.0 / n_groups, 200.0, 1000.0))     # largest area, points^2
    p = pct(prob)
    if eb:
        method = result.method.upper()
        k = 1 + j
        est = float(result.fit.beta[k])
        lo_b, hi_b = (float(v) for v in result.fit.beta_interval(prob)[k])
        model = f"empirical Bayes ({method}{', Knapp-Hartung' if result.knha else ''})"
        slope = f"slope {_slope(est, lo_b, hi_b)} ({p} CI)"
        names = [f"{method} fit " + r"$x'\hat\beta$", f"{p} confidence band",
                 f"{p} prediction interval, new {dim}"]
    else:
        b = stack.group(result, "posterior")["beta"].transpose(*SAMPLE, "covariate").values
        lo_b, est, hi_b = draws_interval(b.reshape(-1, b.shape[-1])[:, j], kind, prob)
        model = "full Bayes"
        slope = f"slope {_slope(est, lo_b, hi_b)} (posterior median, {p})"
        band = f"{p} credible band" + (" (highest density)" if kind == "hdi" else "")
        names = [r"posterior median of $\mu + (x - \bar x)\,\beta$", band,
                 f"{p} prediction band, new {dim}: " + r"$N(\cdot, \tau^2)$"]
    head = f"Meta-regression of {n_groups} {dim} estimates on {name}"
    if not back.is_identity:
        head += f" (slope on the {back.analysis_scale} scale)"
        names[0] = f"{back.name} of the " + names[0]
    return _Bubbles(x=x, y=back(np.asarray(data.means, float)),
                    sizes=s_max * (0.05 + 0.95 * weight / weight.max()),
                    groups=[str(g) for g in data.groups], lines=lines, covariate=name,
                    n_covariates=data.n_covariates, dim=dim, eb=eb,
                    title=f"{head}\n{model}: {slope}", names=names, back=back)


def _draw_bubbles(ax: Axes, b: _Bubbles, style: Style) -> np.ndarray:
    """The estimates, largest first (small bubbles on top); returns that order."""
    order = np.argsort(-b.sizes, kind="stable")
    ax.scatter(b.x[order], b.y[order], s=b.sizes[order], color=style.neutral, alpha=0.55,
               edgecolor=style.observed, linewidth=0.6, zorder=3, gid="bubble:points")
    return order


def _draw_lines(ax: Axes, b: _Bubbles, color: Any, prediction: bool, style: Style) -> None:
    lines = b.lines
    ax.fill_between(lines["x"], lines["lo"], lines["hi"], color=color, alpha=style.band_alpha,
                    lw=0, zorder=1, gid="bubble:band")
    ax.plot(lines["x"], lines["fit"], color=color, lw=2.0, zorder=2, gid="bubble:line")
    if prediction:
        for end in ("pi_low", "pi_high"):
            ax.plot(lines["x"], lines[end], color=color, lw=1.2, ls="--", zorder=2,
                    gid=f"bubble:{end}")


def _draw_labels(ax: Axes, b: _Bubbles, order: np.ndarray, style: Style) -> None:
    """Group labels beside their bubbles, never overlapping (up to 30 groups)."""
    if len(b.groups) > _MAX_LABELS:
        return
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]  # over lines
    texts = [ax.text(xi, yi, g, fontsize=_LABEL_SIZE, ha="center", va="center",
                     color=style.observed, zorder=4, path_effects=halo,
                     gid=f"bubble-label:{g}")
             for xi, yi, g in zip(b.x, b.y, b.groups, strict=True)]
    ax.add_artist(BubbleLabels(texts, np.c_[b.x, b.y], np.sqrt(b.sizes) / 2.0, order))


def _draw_legend(ax: Axes, b: _Bubbles, color: Any, prediction: bool, style: Style) -> None:
    handles = [Line2D([], [], ls="", marker="o", markersize=9, color=style.neutral,
                      alpha=0.55, markeredgecolor=style.observed),
               Line2D([], [], color=color, lw=2.0),
               Polygon([(0, 0)], closed=True, color=color, alpha=style.band_alpha, lw=0)]
    point = r"estimate $y_i$" if b.back.is_identity else rf"{b.back.name}($y_i$)"
    labels = [point + r" (area $\propto 1/se_i^2$)", *b.names[:2]]
    if prediction:
        handles.append(Line2D([], [], color=color, lw=1.2, ls="--"))
        labels.append(b.names[2])
    if b.n_covariates > 1:
        labels[1] += " (others at their means)"
    legend_below(ax, handles, labels, depth_pts=xaxis_depth_pts(ax, ["0"], b.covariate))


def plot_bubble(
    result: Result | MetaAnalysis | Sequence[Result | MetaAnalysis],
    data: HierData | None = None,
    *,
    covariate: str | None = None,
    interval: str | None = None,
    prob: float | None = None,
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
      ``prob`` credible band (shaded; central, or highest density with
      ``interval="hdi"``); with ``prediction`` the central ``prob`` interval of a new
      group's ``theta_new ~ N(mu + (x - xbar_j) beta_j, tau^2)`` (dashed;
      quantiles solved exactly from the normal mixture over the draws);
    * a :class:`~hiermodel.shrinkage.MetaAnalysis` (empirical Bayes, e.g. REML): its
      :meth:`~hiermodel.shrinkage.MetaAnalysis.predict` line with the confidence band and the
      prediction interval (metafor's ``predict(rma)``), at level ``prob``.

    Colours come from the style (``posterior`` for a fit, ``eb`` for a MetaAnalysis;
    :func:`hiermodel.plots.style.get_style`).

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
    interval : {"eti", "hdi"}, optional
        The credible band of a fit: central (equal-tailed) or highest density; default the
        option (:func:`hiermodel.get_options`, central).  A MetaAnalysis's confidence band
        and every prediction band are central.
    prob : float, optional
        Mass of the bands; default the option (0.95).
    prediction : bool, default True
        Draw the prediction band for a new group.
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS` (``"exp"``, ``"expit"``,
        ``"tanh"``): the y axis on that scale (logarithmic for ``"exp"``).  The estimates,
        the line and both bands are mapped point by point (the transforms are increasing,
        so a median line and central bands stay the median and bands; a highest-density
        band is the analysis scale's, mapped point by point); the slope in the
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
        panels = check_axes(axes, len(result))
        if panels is None:
            fig = new_figure(figsize, (6.5 * len(result), 5.5))
            panels = list(np.atleast_1d(fig.subplots(1, len(result), sharey=True)))
        else:
            fig = root_figure(panels[0])
        for one, panel in zip(result, panels, strict=True):
            plot_bubble(one, data, covariate=covariate, interval=interval, prob=prob,
                        prediction=prediction, transform=transform, ax=panel)
        return fig
    if axes is not None:
        raise ValueError("`axes` is for a list of results; with one result pass `ax=`.")
    result, data, dim = _bubble_inputs(result, data)
    j = _bubble_covariate(data, covariate)
    kind, prob = check_interval(interval, prob)
    if not isinstance(prediction, (bool, np.bool_)):
        raise TypeError(f"`prediction` must be True or False, got {prediction!r}.")
    back = check_transform(transform)
    ax = check_ax(ax)
    style = get_style()
    b = _summarize(result, data, dim, j, kind, prob, back)
    fig, ax = figure_and_axes(ax, figsize, (7.5, 6.0))
    color = style.eb if b.eb else style.posterior
    order = _draw_bubbles(ax, b, style)
    _draw_lines(ax, b, color, prediction, style)
    if back.name == "exp":
        log_ratio_axis(ax, "y")
    else:
        ax.ticklabel_format(useOffset=False)
    ax.set_xlabel(b.covariate)
    ax.set_ylabel(r"estimate $y_i$" if back.is_identity else
                  rf"{back.name}($y_i$): {back.scale}")
    ax.set_title(b.title, fontsize=10)
    _draw_labels(ax, b, order, style)
    _draw_legend(ax, b, color, prediction, style)
    return fig
