"""Checks of a fit: the sampler's geometry (the funnel of the centered form), histograms of
test statistics ``T(y^rep)`` against ``T(y)`` and the predictive density against the data
(BDA3 ch. 6; Gabry et al. 2019)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import stack
from .._validate import check_method, check_positive_int
from ..comparison import check_fits
from ..diagnostics import divergent_draws
from ..exceptions import PredictiveCheckWarning
from ..stack import check_fitted
from ._common import (
    SAMPLE,
    check_ax,
    check_axes,
    figure_and_axes,
    group_labels,
    new_figure,
    root_figure,
)
from ._layout import legend_below, xaxis_depth_pts
from .style import get_style

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["plot_sampler_geometry", "plot_test_statistics", "plot_ppc"]


def _geometry_coordinate(idata: Result, group: Any, var: str,
                         ) -> tuple[np.ndarray, str]:
    """The values and axis label of one group's coordinate in the sampler-geometry plot."""
    post = stack.group(idata, "posterior")
    param = str(post.attrs.get("parameterization", post.attrs.get("method", "")))
    if var == "sampled" and "theta_tilde" in post and param != "centered":
        values = post["theta_tilde"].sel(group=group)
        label = (r"$z$" + f"[{group}] = " + r"$(\theta - \mu)/\tau$ (sampled)"
                 if param == "noncentered" else
                 r"$\tilde\theta$" + f"[{group}] (sampled, partially centered)")
    else:
        values = post["theta"].sel(group=group)
        label = r"$\theta$" + f"[{group}]" + (" (sampled)" if param == "centered" else "")
    return values.transpose(*SAMPLE).values.ravel(), label


def plot_sampler_geometry(
    result: Result | Mapping[str, Result],
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
    in the style's ``divergent`` colour (red).

    Parameters
    ----------
    result : arviz.InferenceData or dict of str to arviz.InferenceData
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
    fits, _ = check_fits(result, default_name="fit")
    style = get_style()
    if var not in ("sampled", "theta"):
        raise ValueError(f"Requested var {var!r} but it must be one of {{'sampled', 'theta'}}.")
    axes = check_axes(axes, len(fits))
    labels = group_labels(next(iter(fits.values())))
    if group is None:
        group = labels[0]
    for name, idata in fits.items():
        if group not in group_labels(idata):
            raise ValueError(f"`group` {group!r} is not a group of result[{name!r}]; choose one "
                             f"of {group_labels(idata)[:10]}.")
    if axes is None:
        fig = new_figure(figsize, (4.0 * len(fits), 4.4))
        axes = fig.subplots(1, len(fits), sharex=True, squeeze=False)[0]
    else:
        fig = root_figure(axes[0])
    for ax, (name, idata) in zip(axes, fits.items(), strict=True):
        post = stack.group(idata, "posterior")
        tau = post["tau"].transpose(*SAMPLE).values
        div = divergent_draws(idata).ravel()
        y, ylabel = _geometry_coordinate(idata, group, var)
        tau = tau.ravel()
        keep = tau > 0                                    # log tau is finite
        logtau = np.log(np.where(keep, tau, 1.0))
        ok, bad = keep & ~div, keep & div
        h_ok = ax.scatter(logtau[ok], y[ok], s=5, alpha=style.draws_alpha, color=style.draws,
                          linewidths=0, gid="geometry:draws")
        h_bad = ax.scatter(logtau[bad], y[bad], s=16, color=style.divergent, edgecolor="k",
                           linewidths=0.3, gid="geometry:divergent")
        xlabel = r"$\log\tau$"
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{name}: {int(div.sum())} divergent of {tau.size} draws", fontsize=10)
        legend_below(ax, [h_ok, h_bad], ["draws", f"divergent ({int(bad.sum())})"],
                      markerscale=1.5, depth_pts=xaxis_depth_pts(ax, ["-1"], xlabel))
    return fig


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
    result: Result,
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
    result : arviz.InferenceData
        Predictive draws (:func:`hiermodel.predictive.posterior_predictive` or
        ``prior_predictive``).
    stats : name, callable, sequence or mapping of them, optional
        As in :func:`hiermodel.predictive.ppc_table`; default its default statistics.
    table : pandas.DataFrame, optional
        ``ppc_table(result, stats, var_name=, group=)`` if already computed (its ``T_obs``
        must match ``result``); default: computed here.
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
    from ..predictive import ppc_table, t_statistic

    idata = result
    bins, ncols = check_positive_int(bins, "bins"), check_positive_int(ncols, "ncols")
    style = get_style()
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
    axes = check_axes(axes, len(names))
    new = axes is None
    if new:
        ncols = min(ncols, len(names))
        nrows = -(-len(names) // ncols)
        fig = new_figure(figsize, (3.6 * ncols, 2.9 * nrows + 0.5))
        grid = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax in grid[len(names):]:
            fig.delaxes(ax)
        axes = list(grid[:len(names)])
    else:
        fig = root_figure(axes[0])
    rep_label = {"y": "y^rep", "y_mixed": "y^mixed", "y_rows": "y_rows^rep"}.get(var_name,
                                                                                 var_name)
    for ax, name, stat in zip(axes, names, objs, strict=True):
        t_obs, t_rep = t_statistic(idata, stat, var_name=var_name, group=group)
        if not np.isclose(t_obs, float(table.loc[name, "T_obs"]), rtol=1e-9, equal_nan=True):
            raise ValueError(f"`table`: T_obs of {name!r} is {table.loc[name, 'T_obs']:.6g} "
                             f"but {t_obs:.6g} on `result`; pass the ppc_table of these draws.")
        ax.hist(t_rep.values.ravel(), bins=bins, color=style.replicated, alpha=0.7,
                label="T(y^rep)", gid=f"tstat:{name}:rep")
        ax.axvline(t_obs, color=style.reference, lw=2, label="T(y) observed",
                   gid=f"tstat:{name}:obs")
        ax.set_title(f"{name}  (p = {float(table.loc[name, 'p_value']):.3f})", fontsize=10)
        ax.set_xlabel(f"{name}({rep_label})")
        ax.set_ylabel("draws")
    handles, labels = axes[0].get_legend_handles_labels()
    legend_below(axes[0], handles, labels,
                  depth_pts=xaxis_depth_pts(axes[0], ["0"], axes[0].get_xlabel()))
    if new:
        fig.suptitle(f"{group} predictive check of {var_name}: P(T(y^rep) >= T(y))",
                     fontsize=11)
    return fig


def plot_ppc(
    result: Result,
    *,
    var_name: str = "y",
    group: str = "posterior",
    kind: str = "kde",
    num_pp_samples: int | None = 100,
    seed: int = 0,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """The predictive density (or distribution) of one replicated variable against the
    observed data, in the manner of ArviZ's ``plot_ppc`` (Gabry et al. 2019, fig. 6).

    ``num_pp_samples`` replicated datasets are drawn as thin curves (style colour
    ``replicated``), the observed data as a thick one (``reference``) and the pooled
    replicated draws dashed (``replicated_mean``).  ``var_name="y_mixed"`` is drawn against
    the observed ``y`` (:data:`hiermodel.predictive.PREDICTIVE_VARS`).  Unknown keyword
    arguments are refused (``TypeError``).

    Parameters
    ----------
    result : arviz.InferenceData
        Predictive draws (:func:`hiermodel.predictive.posterior_predictive` or
        ``prior_predictive``), with ``observed_data``.
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
    group : {"posterior", "prior"}, default "posterior"
    kind : {"kde", "cumulative", "scatter"}, default "kde"
        A kernel density, the empirical distribution function, or the values themselves.
    num_pp_samples : int, optional
        Replicated datasets drawn (default 100; None: all).
    seed : int, default 0
        Seed of the choice of the ``num_pp_samples`` datasets (the same seed, the same
        figure).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    figsize : (float, float), optional
        Default (6, 4.4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..predictive import PREDICTIVE_VARS

    idata = result
    var_name = check_method(var_name, tuple(PREDICTIVE_VARS), "var_name")
    group = check_method(group, ("posterior", "prior"), "group")
    kind = check_method(kind, ("kde", "cumulative", "scatter"), "kind")
    if num_pp_samples is not None:
        num_pp_samples = check_positive_int(num_pp_samples, "num_pp_samples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"`seed` must be a non-negative integer, got {seed!r}.")
    pp_group = f"{group}_predictive"
    idata = check_fitted(idata, (pp_group, "observed_data"))
    obs_name = PREDICTIVE_VARS[var_name]
    replicated = stack.group(idata, pp_group)
    observed = stack.group(idata, "observed_data")
    if var_name not in replicated or obs_name not in observed:
        raise ValueError(f"`var_name` {var_name!r} is not in the {group} predictive draws (or "
                         f"{obs_name!r} not in observed_data); draw it with "
                         f"hiermodel.predictive.{group}_predictive (y_rows needs rows, "
                         "y_mixed mu and tau).")
    ax = check_ax(ax)
    style = get_style()
    fig, ax = figure_and_axes(ax, figsize, (6.0, 4.4))
    stack.draw_ppc(ax, observed[obs_name].values, replicated[var_name].values,
                   kind=kind, num_pp_samples=num_pp_samples, seed=int(seed),
                   label=group.capitalize(), colors=(style.replicated, style.reference,
                                                     style.replicated_mean),
                   alpha=style.replicated_alpha)
    ax.set_title(f"{group} predictive check of {var_name}", fontsize=10)
    legend = ax.get_legend()
    if legend is not None:  # below the axes, off the curves
        handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
        legend.remove()
        legend_below(ax, handles, labels, ncols=min(len(labels), 3),
                     depth_pts=xaxis_depth_pts(ax, ["0"], ax.get_xlabel()))
    return fig
