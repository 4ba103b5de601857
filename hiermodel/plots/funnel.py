"""The funnel plot of a meta-analysis (metafor's ``funnel``; Egger et al. 1997): each study's
estimate against its standard error (se 0 at the top), the pseudo-confidence region
``mu_hat -+ 1.96 se`` about the pooled estimate, optionally the contour-enhanced funnel of
Peters et al. (2008) (regions of significance about 0), the studies filled in by trim and fill
(Duval & Tweedie 2000, drawn hollow) with the adjusted estimate, and the posterior of ``mu``
beside the plug-in estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from scipy.integrate import cumulative_trapezoid
from scipy.stats import norm

from .. import stack
from ._common import SAMPLE, check_ax, check_interval, draws_interval, figure_and_axes, pct
from ._layout import legend_below, xaxis_depth_pts
from .style import get_style

__all__ = ["plot_funnel"]


@dataclass(frozen=True)
class _Funnel:
    y: np.ndarray
    se: np.ndarray
    estimate: float
    ci: tuple[float, float]
    filled: np.ndarray | None            # (k0, 2): yi, se of the filled studies
    adjusted: float | None
    posterior: np.ndarray | None         # lo, median, hi of mu
    interval_label: str


def _check_result(result: Any) -> Any:
    from ..shrinkage.meta_analysis import MetaAnalysis

    if not isinstance(result, MetaAnalysis):
        raise TypeError(f"`result` must be a MetaAnalysis (hiermodel.meta_analysis(data)), got "
                        f"{type(result).__name__}.")
    if result.covariate_names:
        raise ValueError("`result` must be a meta-analysis without covariates (as metafor's "
                         f"funnel of an rma without moderators); it has "
                         f"{list(result.covariate_names)}.")
    if result.data is None:
        raise ValueError("`result` has no data (a MetaAnalysis built by hand): fit it with "
                         "hiermodel.meta_analysis(data).")
    return result


def _check_contours(contours: Any) -> tuple[float, ...]:
    if contours is None:
        return ()
    if isinstance(contours, (str, bytes)) or not hasattr(contours, "__iter__"):
        raise TypeError("`contours` must be a sequence of confidence levels such as "
                        f"(0.90, 0.95, 0.99), or None; got {contours!r}.")
    levels = []
    for c in contours:
        if isinstance(c, bool) or not isinstance(c, (int, float, np.floating)):
            raise TypeError(f"`contours` must hold numbers in (0, 1), got {c!r}.")
        if not 0.0 < float(c) < 1.0:
            raise ValueError(f"`contours` must hold levels in (0, 1), got {c!r}.")
        levels.append(float(c))
    if not levels:
        raise ValueError("`contours` must hold at least one level (e.g. (0.90, 0.95, 0.99)).")
    return tuple(sorted(set(levels)))


def _trim_and_fill(result: Any, trim_and_fill: Any) -> tuple[np.ndarray | None, float | None]:
    from ..shrinkage.small_study import TrimAndFill

    if trim_and_fill is False or trim_and_fill is None:
        return None, None
    if trim_and_fill is True:
        taf = result.trim_and_fill()
    elif isinstance(trim_and_fill, TrimAndFill):
        taf = trim_and_fill
    else:
        raise TypeError("`trim_and_fill` must be True, False or the result of "
                        f"MetaAnalysis.trim_and_fill(), got {type(trim_and_fill).__name__}.")
    filled = taf.filled[["yi", "se"]].to_numpy(float).reshape(-1, 2)
    return filled, float(taf.adjusted.coefficients["estimate"].iloc[0])


def _grid_interval(x: np.ndarray, dens: np.ndarray, kind: str, prob: float) -> np.ndarray:
    """lo, median, hi of a density on an even grid (central or highest density)."""
    cdf = cumulative_trapezoid(dens, x, initial=0.0)
    cdf = cdf / cdf[-1]
    med = float(np.interp(0.5, cdf, x))
    if kind == "eti":
        a = (1.0 - prob) / 2.0
        return np.array([np.interp(a, cdf, x), med, np.interp(1.0 - a, cdf, x)])
    order = np.argsort(dens)[::-1]
    mass = np.cumsum(dens[order]) / dens.sum()
    keep = order[:int(np.searchsorted(mass, prob)) + 1]
    return np.array([x[keep].min(), med, x[keep].max()])


def _posterior(posterior: Any, kind: str, prob: float) -> np.ndarray | None:
    from ..shrinkage.exact import ExactPosterior

    if posterior is None:
        return None
    if isinstance(posterior, ExactPosterior):
        m = float(posterior.mean["mu"].values)
        s = float(posterior.sd["mu"].values)
        x = np.linspace(m - 10.0 * s, m + 10.0 * s, 4001)
        return _grid_interval(x, np.asarray(posterior.density("mu", x), float), kind, prob)
    try:
        mu = stack.group(posterior, "posterior")["mu"].transpose(*SAMPLE).values.ravel()
    except (TypeError, KeyError, ValueError, AttributeError):
        raise TypeError("`posterior` must be an ExactPosterior (hiermodel.exact_posterior), a "
                        f"fit with a posterior of mu, or None; got {type(posterior).__name__}."
                        ) from None
    return draws_interval(mu, kind, prob)


def _summarize(result: Any, posterior: Any, trim_and_fill: Any, interval: Any,
               prob: Any) -> _Funnel:
    ma = _check_result(result)
    y = np.asarray(ma.data.means, float)
    se = np.asarray(ma.data.se, float)
    coef = ma.coefficients.iloc[0]
    filled, adjusted = _trim_and_fill(ma, trim_and_fill)
    kind, p = check_interval(interval, prob)
    post = _posterior(posterior, kind, p)
    label = f"{pct(p)} {'central' if kind == 'eti' else 'highest-density'} interval"
    return _Funnel(y, se, float(coef["estimate"]), (float(coef["ci_low"]),
                   float(coef["ci_high"])), filled, adjusted, post, label)


def plot_funnel(result: Any, *, posterior: Any = None, trim_and_fill: Any = False,
                contours: Any = None, interval: str | None = None, prob: float | None = None,
                ax: Any = None, figsize: tuple[float, float] | None = None) -> Figure:
    """The funnel plot of a meta-analysis (metafor's ``funnel``; Egger et al. 1997).

    Each study's estimate ``y_i`` (x) against its standard error ``se_i`` (y, inverted: the
    most precise studies at the top), the vertical line at the pooled estimate ``mu_hat`` and
    the pseudo-confidence region ``mu_hat -+ 1.96 se`` (the white triangle of metafor).

    Parameters
    ----------
    result : MetaAnalysis
        :func:`hiermodel.meta_analysis` without covariates.
    posterior : ExactPosterior or fit, optional
        The posterior of ``mu`` (:func:`hiermodel.exact_posterior`, or a fit's draws) drawn
        above the funnel -- median and ``prob`` interval -- beside the plug-in estimate and
        its confidence interval.
    trim_and_fill : bool or TrimAndFill
        ``True`` (or the result of :meth:`MetaAnalysis.trim_and_fill`): the filled studies
        drawn hollow and the adjusted estimate (Duval & Tweedie 2000; metafor's
        ``funnel(trimfill(res))``).
    contours : sequence of float, optional
        Confidence levels such as ``(0.90, 0.95, 0.99)``: the contour-enhanced funnel of
        Peters et al. (2008), shaded regions where a study is significant (two-sided) at
        each level, about 0 (metafor's ``level=``, ``refline=0``).
    interval, prob : optional
        The posterior interval (default the package option; only with ``posterior``).
    ax : matplotlib Axes, optional
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    ax = check_ax(ax)
    levels = _check_contours(contours)
    f = _summarize(result, posterior, trim_and_fill, interval, prob)
    style = get_style()
    fig, ax = figure_and_axes(ax, figsize, (6.0, 5.0))

    se_all = f.se if f.filled is None else np.r_[f.se, f.filled[:, 1]]
    se_max = float(se_all.max()) * 1.05
    z = 1.96
    handles: list = []
    labels: list[str] = []
    # --- contours: shaded significance regions about 0 (Peters et al. 2008)
    if levels:
        shades = np.linspace(0.92, 0.72, len(levels))
        for lev, shade in zip(levels, shades, strict=True):
            zl = float(norm.ppf(0.5 + lev / 2.0))
            for sign in (-1.0, 1.0):
                far = sign * 1e6
                poly = Polygon([(0.0, 0.0), (sign * zl * se_max, se_max), (far, se_max),
                                (far, 0.0)], closed=True, facecolor=str(shade),
                               edgecolor="none", zorder=0, gid=f"funnel:contour-{lev:g}")
                ax.add_patch(poly)
            handles.append(Patch(facecolor=str(shade)))
            labels.append(f"p < {1 - lev:.2g}")
        ax.set_facecolor("white")
    # --- the pseudo-confidence region about the pooled estimate (metafor)
    tri = Polygon([(f.estimate, 0.0), (f.estimate - z * se_max, se_max),
                   (f.estimate + z * se_max, se_max)], closed=True, facecolor="none",
                  edgecolor=style.guide, linestyle="--", linewidth=0.9, zorder=1,
                  gid="funnel:region")
    ax.add_patch(tri)
    ax.axvline(f.estimate, color=style.eb, linewidth=1.2, zorder=1, gid="funnel:estimate")
    handles += [Line2D([], [], color=style.eb), Line2D([], [], color=style.guide, ls="--")]
    labels += [r"Pooled estimate $\hat\mu$", r"$\hat\mu \pm 1.96\,$se"]
    ax.axvline(0.0, color=style.grid, linewidth=0.8, zorder=0.5)
    # --- studies
    k = f.y.size
    size = 30.0 if k <= 20 else 16.0
    ax.scatter(f.y, f.se, s=size, color=style.observed, marker="o", zorder=3,
               edgecolors="white", linewidths=0.5, gid="funnel:studies")
    if f.filled is not None:
        if f.filled.shape[0]:
            ax.scatter(f.filled[:, 0], f.filled[:, 1], s=size, facecolors="white",
                       edgecolors=style.filled, marker="o", linewidths=1.1, zorder=3,
                       gid="funnel:filled")
        ax.axvline(f.adjusted, color=style.filled, linestyle=":", linewidth=1.4, zorder=1,
                   gid="funnel:adjusted")
        handles += [Line2D([], [], ls="none", marker="o", mfc="white", mec=style.filled),
                    Line2D([], [], color=style.filled, ls=":")]
        labels += [f"Filled studies (k0 = {f.filled.shape[0]})",
                   "Adjusted estimate (trim and fill)"]
    # --- intervals above se = 0: the plug-in CI and the posterior of mu
    top = 0.0
    if f.posterior is not None:
        step = 0.06 * se_max
        y_ci, y_post = -step, -2.0 * step
        ax.plot(f.ci, [y_ci, y_ci], color=style.eb, linewidth=style.linewidth,
                solid_capstyle="butt", gid="funnel:ci")
        ax.plot([f.estimate], [y_ci], marker=style.pooled_marker, color=style.eb,
                markersize=style.marker_size)
        lo, med, hi = f.posterior
        ax.plot([lo, hi], [y_post, y_post], color=style.posterior, linewidth=style.linewidth,
                solid_capstyle="butt", gid="funnel:posterior")
        ax.plot([med], [y_post], marker=style.posterior_marker, color=style.posterior,
                markersize=style.marker_size)
        handles += [Line2D([], [], color=style.eb, marker=style.pooled_marker),
                    Line2D([], [], color=style.posterior, marker=style.posterior_marker)]
        labels += [r"$\hat\mu$ and its confidence interval",
                   rf"Posterior of $\mu$: median, {f.interval_label}"]
        top = 2.6 * step
        ax.axhline(0.0, color=style.separator, linewidth=0.6, zorder=0.5)
    ax.set_ylim(se_max, -top)
    x_all = np.r_[f.y, f.estimate - z * se_max, f.estimate + z * se_max]
    if f.filled is not None and f.filled.shape[0]:
        x_all = np.r_[x_all, f.filled[:, 0]]
    if f.posterior is not None:
        x_all = np.r_[x_all, f.posterior, f.ci]
    pad = 0.05 * (x_all.max() - x_all.min())
    ax.set_xlim(x_all.min() - pad, x_all.max() + pad)
    ax.set_yticks([t for t in ax.get_yticks() if 0.0 <= t <= se_max])
    ax.set_ylim(se_max, -top)
    ax.set_xlabel("Estimate")
    ax.set_ylabel("Standard error")
    ax.set_title(f"Funnel plot ({k} studies)")
    depth = xaxis_depth_pts(ax, [t.get_text() for t in ax.get_xticklabels()], "Estimate")
    legend_below(ax, handles, labels, depth_pts=depth)
    return fig
