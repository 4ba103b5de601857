"""Figures of the simulation studies (:mod:`hiermodel.studies`): partial pooling along tau,
shrinkage by group size, the MSE of each estimator (Efron & Morris 1975; BDA3 sec. 5.5) and
the rank histograms of simulation-based calibration (Talts et al. 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.stats import binom

from .._validate import check_prob
from ._common import check_columns, num, panels, pct, se_colorbar, se_colours
from ._layout import legend_below, xaxis_depth_pts
from .style import get_style

__all__ = ["plot_pooling_vs_tau", "plot_shrinkage_by_size", "plot_mse_study", "plot_sbc_ranks"]


def plot_pooling_vs_tau(
    result: pd.DataFrame,
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
    result : pandas.DataFrame
        The table returned by :func:`hiermodel.studies.pooling_vs_tau`.
    axes : pair of matplotlib.axes.Axes, optional
        Draw the estimates and the weights into these; default: a new figure.
    figsize : (float, float), optional
        Default (9.6, 4.2) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    style = get_style()
    tab = check_columns(result, ("tau", "group", "se", "no_pooling", "complete_pooling",
                                 "partial_pooling", "weight", "weight_true"), "pooling_vs_tau")
    fig, (ax1, ax2) = panels(axes, 2, figsize, (9.6, 4.2))
    by_group = list(tab.groupby("group", sort=True))
    many = len(by_group) > len(style.cycle)
    se = np.array([float(d["se"].iloc[0]) for _, d in by_group])
    if many:
        cmap, cnorm = se_colours(se, style.colormap)
    handles, labels = [], []
    for i, (grp, d) in enumerate(by_group):
        col = cmap(cnorm(se[i])) if many else style.color(i)
        (h,) = ax1.plot(d["tau"], d["partial_pooling"], "o-", color=col, ms=3, lw=1.2,
                        gid=f"pooling:{grp}")
        ax1.plot(d["tau"], d["no_pooling"], ":", color=col, lw=1, gid=f"no-pooling:{grp}")
        ax2.plot(d["tau"], d["weight_true"], "-", color=col, lw=1, gid=f"weight-true:{grp}")
        ax2.plot(d["tau"], d["weight"], "o", color=col, ms=3, gid=f"weight:{grp}")
        if not many:
            handles.append(h)
            labels.append(f"group {grp} (se {num(se[i])})")
    cp = tab.groupby("tau", sort=True)["complete_pooling"].first()
    handles += ax1.plot(cp.index, cp.to_numpy(), "-", color=style.complete_pooling, lw=2,
                        gid="complete-pooling")
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
    legend_below(ax1, handles, labels, ncols=3 if len(labels) > 6 else 2, fontsize=7,
                  depth_pts=xaxis_depth_pts(ax1, ["0"], ax1.get_xlabel()))
    if many:
        se_colorbar(ax2, se, cmap, cnorm, f"{len(by_group)} groups")
    return fig


def plot_shrinkage_by_size(
    result: pd.DataFrame,
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
    result : pandas.DataFrame
        The table returned by :func:`hiermodel.studies.shrinkage_by_size`.
    axes : pair of matplotlib.axes.Axes, optional
        Draw the shrinkage and the MSE into these; default: a new figure.
    figsize : (float, float), optional
        Default (9.6, 4.2) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    style = get_style()
    tab = check_columns(result, ("n", "shrinkage", "shrinkage_lo", "shrinkage_hi",
                                 "shrinkage_true", "mse_partial", "mse_partial_lo",
                                 "mse_partial_hi", "mse_no_pooling"), "shrinkage_by_size")
    fig, (ax1, ax2) = panels(axes, 2, figsize, (9.6, 4.2))
    x = tab["n"].to_numpy(float)
    ax1.errorbar(x, tab["shrinkage"], yerr=[tab["shrinkage"] - tab["shrinkage_lo"],
                                            tab["shrinkage_hi"] - tab["shrinkage"]],
                 fmt="o", color=style.partial_pooling, capsize=3,
                 label="EB estimate (mean, MC interval)",
                 gid="size:shrinkage")
    ax1.plot(x, tab["shrinkage_true"], "s--", color=style.oracle, mfc="none",
             label=r"oracle $se^2 / (\tau^2 + se^2)$", gid="size:shrinkage-true")
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel(r"group size $n_i$")
    ax1.set_ylabel(r"shrinkage toward the mean, $1 - w_i$")
    ax1.set_title("Small groups shrink more", fontsize=10)
    ax2.plot(x, tab["mse_no_pooling"], "o-", color=style.no_pooling, label="no pooling",
             gid="size:mse-no-pooling")
    ax2.errorbar(x, tab["mse_partial"], yerr=[tab["mse_partial"] - tab["mse_partial_lo"],
                                              tab["mse_partial_hi"] - tab["mse_partial"]],
                 fmt="o-", color=style.partial_pooling, capsize=3,
                 label="EB partial pooling (MC interval)",
                 gid="size:mse-partial")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel(r"group size $n_i$")
    ax2.set_ylabel(r"MSE of $\theta_i$")
    ax2.set_title("The gain is where the data are thin", fontsize=10)
    for ax in (ax1, ax2):
        legend_below(ax, *ax.get_legend_handles_labels(), ncols=1,
                      depth_pts=xaxis_depth_pts(ax, ["100"], ax.get_xlabel()))
    return fig


def plot_mse_study(
    result: Any,
    *,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Exercise 3 (:func:`hiermodel.studies.mse_study`): which estimator beats no pooling.

    Left: per estimator the gain ``MSE(no pooling) - MSE(estimator)`` with its paired Monte
    Carlo interval (``> 0``: it beats no pooling); right: the MSE of each estimator with its
    interval -- the columns ``gain``, ``gain_lo``, ``gain_hi``, ``mse``, ``mse_lo``,
    ``mse_hi`` of ``result.table``, one row per estimator, top to bottom.

    Parameters
    ----------
    result : MSEStudy
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
    style = get_style()
    tab = getattr(result, "table", None)
    level, settings = getattr(result, "level", None), getattr(result, "settings", None)
    if (not isinstance(tab, pd.DataFrame) or not isinstance(settings, Mapping)
            or not {"gain", "gain_lo", "gain_hi", "mse", "mse_lo", "mse_hi"} <= set(tab)):
        raise TypeError(f"`result` must be the MSEStudy from mse_study(), got "
                        f"{type(result).__name__}.")
    level = check_prob(level, "result.level")
    fig, (ax1, ax2) = panels(axes, 2, figsize, (10.0, 1.6 + 0.32 * len(tab)))
    y = np.arange(len(tab), dtype=float)
    names = [str(v) for v in tab.index]
    ax1.errorbar(tab["gain"], y, xerr=[tab["gain"] - tab["gain_lo"],
                                       tab["gain_hi"] - tab["gain"]],
                 fmt="o", color=style.color(0), capsize=3, gid="mse:gain")
    ax1.axvline(0, color=style.guide, lw=1)
    ax1.set_xlabel(f"MSE(no pooling) - MSE(estimator), {pct(level)} MC interval")
    ax1.set_title("> 0: the estimator beats no pooling", fontsize=10)
    ax2.errorbar(tab["mse"], y, xerr=[tab["mse"] - tab["mse_lo"], tab["mse_hi"] - tab["mse"]],
                 fmt="s", color=style.color(1), capsize=3, gid="mse:mse")
    ax2.set_xlabel(r"MSE of $\theta_i$ (mean over groups and datasets)")
    design = []
    if "tau" in settings:
        design.append(rf"$\tau$ = {num(settings['tau'])}")
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
        ax.grid(axis="x", color=style.grid, lw=0.6)
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
    style = get_style()
    n, b, L = int(result.n_replicates), int(result.n_bins), int(result.L)
    lo, hi = binom.ppf([(1 - band) / 2, (1 + band) / 2], n, 1 / b)
    width = (L + 1) // b                          # rank values per bin (b divides L + 1)
    new = axes is None
    fig, axes = panels(axes, len(ranks.columns), figsize, (3.8 * len(ranks.columns), 3.4))
    edges = np.arange(b) * width
    for ax, name in zip(axes, ranks.columns, strict=True):
        counts = np.bincount(ranks[name].to_numpy() // width, minlength=b)
        ax.axhspan(lo, hi, color=style.band, zorder=0, gid=f"sbc:{name}:band")
        ax.axhline(n / b, color=style.guide, lw=1, zorder=1, gid=f"sbc:{name}:expected")
        ax.bar(edges, counts, width=width, align="edge", color=style.prior, edgecolor="white",
               zorder=2, gid=f"sbc:{name}:ranks")
        ax.set_title(f"{name}  (chi-square p = {float(tests.loc[name, 'chisq_p']):.3g})",
                     fontsize=10)
        ax.set_xlabel(f"rank among L = {L} draws")
        ax.set_xlim(0, L + 1)
    axes[0].set_ylabel("replicates")
    handles = [Line2D([], [], color=style.band, lw=6), Line2D([], [], color=style.guide, lw=1)]
    legend_below(axes[0], handles, [f"{pct(band)} binomial band", f"expected N/B = {n / b:g}"],
                  ncols=1, depth_pts=xaxis_depth_pts(axes[0], ["0"], axes[0].get_xlabel()))
    if new:
        divergent = result.sampler_health["divergent_fits"]
        fig.suptitle(f"SBC, N = {n}: simulate {_hyperpriors(result.priors)}"
                     f" | fit {_hyperpriors(result.fit_priors)}"
                     f" | divergent fits {divergent}/{n}", fontsize="small")
    return fig


def _hyperpriors(priors: Any) -> str:
    """``mu ~ ...; tau ~ ...`` (the priors SBC varies; sigma and the slopes left out)."""
    each = priors.describe_each()
    return f"mu ~ {each['mu']}; tau ~ {each['tau']}"
