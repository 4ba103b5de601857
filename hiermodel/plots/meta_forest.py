"""The meta-analyst's forest plot: per group the observed ``y_i +- 1.96 se_i`` beside the
posterior ``theta_i``, then the pooled ``mu`` (a diamond) and the prediction interval of a
new group (the layout of metafor's ``forest.rma`` and bayesmeta's ``forestplot``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory, offset_copy
from scipy.stats import norm

from .. import stack
from ..comparison import normalize_group_dim
from ..core import predictive_quantiles
from ..data import HierData
from ..transforms import Transform, check_transform
from ._common import (
    INTERVAL_NAMES,
    SAMPLE,
    check_ax,
    check_interval,
    data_for,
    decimals,
    draws_interval,
    figure_and_axes,
    interval_strings,
    is_regression,
    log_ratio_axis,
    pct,
)
from ._layout import LABEL_SIZE, FitRows, legend_below, text_size_pts, xaxis_depth_pts
from .style import Style, get_style

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["plot_meta_forest"]

_OFFSET = 0.18            # observed rows above the group's row, posterior rows below
_TEXT_SIZE = 8.0          # the numbers on the right, points


@dataclass(frozen=True)
class _MetaForest:
    """What the forest plot shows, computed before anything is drawn (on the drawn scale)."""

    rows: pd.DataFrame     # groups, then "pooled" and "prediction" (see _forest_rows)
    n_groups: int
    dim: str               # the name of the group dimension
    kind: str              # "eti" or "hdi"
    prob: float
    z: float               # observed intervals are y -+ z se
    regression: bool
    back: Transform

    @property
    def y_rows(self) -> np.ndarray:
        g = self.n_groups
        return np.r_[np.arange(g, dtype=float), g + 0.6, g + 1.6]

    @property
    def groups(self) -> pd.DataFrame:
        return self.rows.iloc[:self.n_groups]

    @property
    def pooled(self) -> pd.Series:
        return self.rows.iloc[self.n_groups]

    @property
    def prediction(self) -> pd.Series:
        return self.rows.iloc[self.n_groups + 1]


def _forest_rows(idata: Result, data: HierData, kind: str, prob: float,
                 z: float) -> pd.DataFrame:
    """The numbers of the forest plot, on the model scale.

    One row per group (``kind`` "group": observed ``y``, ``y_lo``, ``y_hi`` = ``y -+ z se``
    and the posterior ``median``, ``lo``, ``hi`` of ``theta_i``), then ``pooled`` (posterior
    of ``mu``) and ``prediction`` (``theta_new ~ N(mu, tau^2)`` per draw: its central
    interval, solved exactly from the normal mixture).
    """
    post = stack.group(idata, "posterior")
    theta = post["theta"].transpose(*SAMPLE, "group").values.reshape(-1, data.n_groups)
    q_theta = draws_interval(theta, kind, prob)                           # (3, G)
    mu = post["mu"].transpose(*SAMPLE).values.ravel()
    tau = post["tau"].transpose(*SAMPLE).values.ravel()
    q_mu = draws_interval(mu, kind, prob)
    a = (1.0 - prob) / 2.0
    q_new = predictive_quantiles(mu, tau, [a, 0.5, 1.0 - a])
    y, se = np.asarray(data.means, float), np.asarray(data.se, float)
    rows = pd.DataFrame({
        "kind": "group", "label": [str(g) for g in data.groups],
        "y": y, "y_lo": y - z * se, "y_hi": y + z * se,
        "median": q_theta[1], "lo": q_theta[0], "hi": q_theta[2], "precision": 1.0 / se**2})
    at = ", at mean covariates" if is_regression(idata, data) else ""
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
    those of ``theta``; a highest-density interval keeps its mass but stays the one of the
    model scale)."""
    out = rows.copy()
    for c in ("y", "y_lo", "y_hi", "median", "lo", "hi"):
        out[c] = back(out[c].to_numpy(float))
    return out


def _summarize(result: Any, data: Any, interval_kind: Any, prob: Any,
               transform: Any) -> tuple[_MetaForest, str]:
    idata, dim = normalize_group_dim(result, "result")
    data = data_for(idata, data)
    kind, prob = check_interval(interval_kind, prob)
    back = check_transform(transform)
    z = 1.96 if prob == 0.95 else float(norm.ppf(0.5 + prob / 2.0))
    rows = _apply_transform(_forest_rows(idata, data, kind, prob, z), back)
    return _MetaForest(rows, data.n_groups, dim, kind, prob, z,
                       is_regression(idata, data), back), dim


def _segments(lo: Any, hi: Any, y: np.ndarray) -> list:
    return [[(a, r), (b, r)] for a, b, r in zip(lo, hi, y, strict=True)]


def _draw_observed(ax: Axes, f: _MetaForest, style: Style) -> None:
    g, yg = f.groups, f.y_rows[:f.n_groups] - _OFFSET
    ax.add_collection(LineCollection(_segments(g["y_lo"], g["y_hi"], yg),
                                     colors=style.observed, linewidths=1.2,
                                     gid="meta:observed"))
    prec = g["precision"].to_numpy(float)
    ax.scatter(g["y"], yg, s=14.0 + 56.0 * prec / prec.max(), marker=style.observed_marker,
               color=style.observed, zorder=3, gid="meta:observed-point")


def _draw_posterior(ax: Axes, f: _MetaForest, style: Style) -> None:
    g, yg = f.groups, f.y_rows[:f.n_groups] + _OFFSET
    ax.add_collection(LineCollection(_segments(g["lo"], g["hi"], yg), colors=style.posterior,
                                     linewidths=style.linewidth, gid="meta:posterior"))
    ax.scatter(g["median"], yg, s=22.0,
               marker=style.posterior_marker, color=style.posterior, zorder=3,
               gid="meta:posterior-point")


def _draw_pooled(ax: Axes, f: _MetaForest, style: Style) -> None:
    """The pooled ``mu`` as a diamond (its interval, its median at the centre) and the
    prediction interval of a new group."""
    pooled, pred = f.pooled, f.prediction
    yp, h = f.y_rows[f.n_groups], 0.32
    ax.add_patch(Polygon([(pooled["lo"], yp), (pooled["median"], yp - h), (pooled["hi"], yp),
                          (pooled["median"], yp + h)], closed=True, color=style.pooled,
                         zorder=3, gid="meta:pooled"))
    ax.plot([pred["lo"], pred["hi"]], [f.y_rows[-1]] * 2, color=style.pooled, lw=2.0,
            marker="|", markersize=9, markeredgewidth=2.0, gid="meta:prediction")
    ax.plot([pred["median"]], [f.y_rows[-1]], color=style.pooled, marker=style.pooled_marker,
            markersize=4, markerfacecolor="white", zorder=3, gid="meta:prediction-point")
    ax.axvline(pooled["median"], color=style.pooled, ls=":", lw=0.9, zorder=0.5)
    ax.axhline(f.n_groups - 0.25, color=style.separator, lw=0.6, zorder=0.5)


def _set_limits(ax: Axes, f: _MetaForest, style: Style) -> None:
    """The x range of every interval end (padded; a log axis for ratios), the no-effect line
    where it lies in range, the rows top to bottom."""
    g, rows = f.groups, f.rows
    ends = np.r_[g["y_lo"], g["y_hi"], rows["lo"], rows["hi"]].astype(float)
    xmin, xmax = float(np.nanmin(ends)), float(np.nanmax(ends))
    if f.back.name == "exp":
        pad = (xmax / xmin) ** 0.04
        ax.set_xlim(xmin / pad, xmax * pad)
    else:
        pad = 0.04 * (xmax - xmin if xmax > xmin else max(abs(xmax), 1.0))
        ax.set_xlim(xmin - pad, xmax + pad)
    null = f.back(0.0)
    if xmin <= null <= xmax:
        ax.axvline(null, color=style.guide, lw=0.9, zorder=0.5, gid="meta:null")
    ax.set_ylim(f.y_rows[-1] + 0.8, -1.3)


def _draw_numbers(ax: Axes, f: _MetaForest, labels: list[str], style: Style) -> None:
    """``estimate [interval]`` on the right, observed and posterior, under a header; row
    labels and numbers shrink or thin out together when the rows are dense."""
    rows, n = f.rows, f.n_groups
    g = f.groups
    dec = decimals(np.r_[g["y_hi"] - g["y_lo"], rows["hi"] - rows["lo"]].astype(float))
    observed = interval_strings(rows["y"].to_numpy(float), rows["y_lo"].to_numpy(float),
                                rows["y_hi"].to_numpy(float), dec)
    posterior = interval_strings(rows["median"].to_numpy(float), rows["lo"].to_numpy(float),
                                 rows["hi"].to_numpy(float), dec)
    head_obs = f"observed [{pct(f.prob)}]"
    head_post = f"posterior median [{pct(f.prob)}]"
    w_obs = max(len(head_obs), *(len(s) for s in observed))
    char_w = text_size_pts(["0" * 20], family="monospace", fontsize=_TEXT_SIZE)[0] / 20.0
    base = blended_transform_factory(ax.transAxes, ax.transData)
    trans1 = offset_copy(base, fig=ax.figure, x=8.0, units="points")
    trans2 = offset_copy(base, fig=ax.figure, x=8.0 + (w_obs + 3) * char_w, units="points")
    text = dict(family="monospace", fontsize=_TEXT_SIZE, va="center", ha="left", clip_on=False)
    row_texts = []
    for k, y in enumerate(f.y_rows):
        texts = []
        if observed[k]:
            texts.append(ax.text(1.0, y, observed[k].ljust(w_obs), transform=trans1,
                                 color=style.observed, gid=f"meta-text:observed:{k}", **text))
        color = style.posterior if k < n else style.pooled
        texts.append(ax.text(1.0, y, posterior[k], transform=trans2, color=color,
                             gid=f"meta-text:posterior:{k}", **text))
        row_texts.append(texts)
    header = [ax.text(1.0, -0.9, head_obs, transform=trans1, fontweight="bold",
                      gid="meta-text:header:observed", **text),
              ax.text(1.0, -0.9, head_post, transform=trans2, fontweight="bold",
                      gid="meta-text:header:posterior", **text)]
    ax.add_artist(FitRows(np.r_[f.y_rows, -0.9], [*labels, None], [*row_texts, header],
                          keep=(n, n + 1, n + 2), text_size=_TEXT_SIZE))


def _draw_legend(ax: Axes, f: _MetaForest, xlabel: str, style: Style) -> None:
    p, name = pct(f.prob), INTERVAL_NAMES[f.kind]
    z_txt = "1.96" if f.prob == 0.95 else f"{f.z:.3g}"
    handles = [
        Line2D([], [], color=style.observed, marker=style.observed_marker, lw=1.2,
               markersize=5),
        Line2D([], [], color=style.posterior, marker=style.posterior_marker,
               lw=style.linewidth, markersize=style.marker_size),
        Line2D([], [], color=style.pooled, marker=style.pooled_marker, lw=0, markersize=7),
        Line2D([], [], color=style.pooled, marker="|", lw=2.0, markersize=8,
               markeredgewidth=2.0),
    ]
    at = " at mean covariates" if f.regression else ""
    names = [rf"observed $y_i \pm {z_txt}\,se_i$",
             rf"posterior $\theta_i$: median and {p} {name} interval",
             rf"pooled $\mu${at}: median and {p} {name} interval",
             rf"prediction for a new {f.dim}{at}: $\theta_{{new}} \sim N(\mu, \tau^2)$, {p}"]
    if not f.back.is_identity:
        names = [f"{f.back.name} of the {n[0].lower()}{n[1:]}" for n in names]
    legend_below(ax, handles, names, depth_pts=xaxis_depth_pts(ax, ["0"], xlabel))


def plot_meta_forest(
    result: Result,
    data: HierData | None = None,
    *,
    interval: str | None = None,
    prob: float | None = None,
    transform: str | None = None,
    transform_label: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Meta-analysis forest plot: the data, the posterior of each group, the pooled effect.

    One row per group (labelled from the posterior's group dimension, whatever its name)
    shows the observed estimate ``y_i +- 1.96 se_i`` (square, area by precision
    ``1/se_i^2``; style colour ``observed``) and, just below it, the posterior ``theta_i``:
    median and ``prob`` interval (style colour ``posterior``).  Below the groups come the
    pooled estimate -- the posterior of ``mu`` as a diamond spanning its interval with its
    centre at the median -- and the prediction interval for a new group, ``theta_new ~
    N(mu, tau^2)`` per posterior draw (its central quantiles solved exactly from that normal
    mixture).  The numbers ``estimate [interval]`` are printed on the right; a grey vertical
    line marks no effect (0, or its transform: 1 for ``"exp"``) when it lies in range.

    For a meta-regression (data with covariates, a posterior with ``beta``) the models
    centre the covariates, so ``mu`` is the mean effect at the covariates' means: the two
    summary rows are labelled "at mean covariates" and show exactly that (the fitted line
    and its bands across a covariate are :func:`plot_bubble`).

    Parameters
    ----------
    result : arviz.InferenceData
        A posterior with ``mu``, ``tau`` and ``theta`` (dims chain, draw and one group
        dimension of any name): a fit, or exact draws with ``data=``.
    data : HierData, optional
        The data the posterior was fitted to; default rebuilt from ``result``
        (:func:`hiermodel.comparison.data_from_idata`).
    interval : {"eti", "hdi"}, optional
        The posterior intervals of ``theta_i`` and ``mu``: central (equal-tailed) or highest
        density; default the option (:func:`hiermodel.get_options`, central).
    prob : float, optional
        Mass of the intervals; default the option (0.95).  The observed intervals are
        ``y_i +- z se_i`` with the conventional ``z = 1.96`` at 0.95 (``Phi^{-1}(1/2 +
        prob/2)`` otherwise).
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS`: ``"exp"`` shows log ratios as
        ratios (on a logarithmic axis, as ratios are drawn), ``"expit"`` logits as
        proportions, ``"tanh"`` Fisher's z as correlations.  Every point and interval end is
        mapped after it is computed on the model scale; the transforms are increasing, so
        the posterior medians and central intervals are those of the transformed draws (a
        highest-density interval is the model scale's, mapped end by end).
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
    f, dim = _summarize(result, data, interval, prob, transform)
    ax = check_ax(ax)
    if transform_label is not None and not isinstance(transform_label, str):
        raise TypeError(f"`transform_label` must be a string or None, got "
                        f"{type(transform_label).__name__}.")
    style = get_style()
    fig, ax = figure_and_axes(ax, figsize, (10.0, 2.2 + 0.3 * (f.n_groups + 3)))
    if f.back.name == "exp":
        log_ratio_axis(ax)
    _draw_observed(ax, f, style)
    _draw_posterior(ax, f, style)
    _draw_pooled(ax, f, style)
    _set_limits(ax, f, style)
    labels = [*f.groups["label"], f.pooled["label"], f.prediction["label"]]
    ax.set_yticks(f.y_rows, labels)
    ax.tick_params(axis="y", length=0, labelsize=LABEL_SIZE)
    ax.grid(axis="x", color=style.grid, lw=0.6)
    ax.set_axisbelow(True)
    if f.back.is_identity:
        xlabel = transform_label or r"effect $\theta$ (model scale)"
    else:
        xlabel = transform_label or rf"{f.back.name}($\theta$): {f.back.scale}"
    ax.set_xlabel(xlabel)
    ax.set_title(f"Forest plot of {f.n_groups} {dim} effects ({pct(f.prob)} "
                 f"{INTERVAL_NAMES[f.kind]} intervals)", fontsize=10)
    _draw_numbers(ax, f, labels, style)
    _draw_legend(ax, f, xlabel, style)
    return fig
