"""The posterior of ``tau`` against the empirical-Bayes ``tau_hat``, and the shrinkage weights
``w_i(tau) = tau^2 / (tau^2 + se_i^2)`` (BDA3 eq. 5.17; Morris 1983)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import stack
from .._validate import check_finite_array
from ..comparison import fit_priors, normalize_group_dim
from ..core import TAU_METHOD_NAMES, shrinkage_weights
from ..data import HierData
from ..shrinkage import ExactPosterior, exact_posterior, tau_estimates
from ._common import (
    INTERVAL_NAMES,
    LINESTYLES,
    check_axes,
    check_interval,
    data_for,
    draws_interval,
    new_figure,
    num,
    pct,
    root_figure,
    se_colorbar,
    se_colours,
)
from ._layout import legend_below, xaxis_depth_pts
from .style import Style, get_style

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["plot_tau"]


def _tau_inputs(posterior: Any, data: Any) -> tuple[Result | ExactPosterior, HierData]:
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
        raise TypeError(f"`result` must be an arviz.InferenceData (a fit, or exact draws "
                        f"from ExactPosterior.sample) or an ExactPosterior, got "
                        f"{type(posterior).__name__}.")
    idata, _ = normalize_group_dim(posterior, "result")
    return idata, data_for(idata, data)


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


def _exact_for(posterior: Result | ExactPosterior, data: HierData,
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
    if data.sigma_known and "sigma" not in stack.group(posterior, "posterior"):
        return exact_posterior(data, fit_priors(posterior))
    if exact:
        raise ValueError("`exact=True` needs known sampling sds, but sigma is estimated for "
                         "this data; use exact=None.")
    return None


def _density_hdi(grid: np.ndarray, pdf: np.ndarray, prob: float) -> tuple[float, float]:
    """The highest-density interval of a unimodal density tabulated on a fine ``grid``: the
    points of highest density holding ``prob`` of the mass (trapezoid rule)."""
    mass = np.r_[0.0, (pdf[1:] + pdf[:-1]) / 2.0 * np.diff(grid)]
    order = np.argsort(-pdf, kind="stable")
    inside = order[:int(np.searchsorted(np.cumsum(mass[order]) / mass.sum(), prob)) + 1]
    return float(grid[inside].min()), float(grid[inside].max())


@dataclass(frozen=True)
class _TauPosterior:
    """What the tau figure shows, computed before anything is drawn."""

    grid: np.ndarray              # tau from 0 to past the bulk and every tau_hat
    density_x: np.ndarray         # the main density curve
    density: np.ndarray
    density_label: str
    exact: np.ndarray | None      # the exact density on the grid, overlaid on a KDE
    lo: float                     # the interval of tau
    hi: float
    kind: str
    prob: float
    estimates: pd.DataFrame       # one tau per estimator
    se: np.ndarray
    groups: list[str]

    @property
    def upper(self) -> float:
        return float(self.grid[-1])


def _summarize(posterior: Any, data: HierData, est: pd.DataFrame, ep: ExactPosterior | None,
               kind: str, prob: float) -> _TauPosterior:
    if isinstance(posterior, ExactPosterior):
        draws, from_exact = None, True
    else:
        post = stack.group(posterior, "posterior")
        draws = post["tau"].values.ravel()
        from_exact = ep is not None and post.attrs.get("method") == "exact"
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
    overlay = None
    if from_exact:
        x, density, label = grid, ep.tau_pdf(grid), r"exact $p(\tau \mid y)$"
        if kind == "hdi":
            fine = np.linspace(0.0, float(ep.quantile([0.9999])["tau"].values[0]), 4001)
            lo, hi = _density_hdi(fine, ep.tau_pdf(fine), prob)
        else:
            lo, hi = (float(v) for v in ep.quantile([a, 1.0 - a])["tau"].values)
    else:
        x, density = stack.kde(draws, bounded=True)
        label = f"KDE of {draws.size} draws"
        lo, _, hi = (float(v) for v in draws_interval(draws, kind, prob))
        overlay = None if ep is None else ep.tau_pdf(grid)
    return _TauPosterior(grid, x, density, label, overlay, lo, hi, kind, prob, est,
                         np.asarray(data.se, float), [str(g) for g in data.groups])


def _draw_density(ax: Axes, t: _TauPosterior, style: Style) -> tuple[list, list]:
    """The density of tau (and the exact one, dashed, over a KDE) and its interval."""
    handles = ax.plot(t.density_x, t.density, color=style.reference, lw=1.8, gid="tau:density")
    labels = [t.density_label]
    if t.exact is not None:
        handles += ax.plot(t.grid, t.exact, color=style.exact, ls="--", lw=1.2,
                           gid="tau:exact")
        labels.append(r"exact $p(\tau \mid y)$")
    handles.append(ax.axvspan(t.lo, t.hi, color=style.band, zorder=0, gid="tau:interval"))
    labels.append(f"{pct(t.prob)} {INTERVAL_NAMES[t.kind]} interval")
    return handles, labels


def _draw_tau_hats(ax_d: Axes, ax_w: Axes, t: _TauPosterior,
                   style: Style) -> tuple[list, list]:
    """A vertical line per estimator's ``tau_hat`` in both panels (grey in the weights)."""
    handles, labels = [], []
    for k, (method, row) in enumerate(t.estimates.iterrows()):
        ls = LINESTYLES[k % len(LINESTYLES)]
        handles.append(ax_d.axvline(row["tau"], color=style.color(k), lw=1.5, ls=ls,
                                    gid=f"tau-hat:{method}"))
        labels.append(rf"{TAU_METHOD_NAMES.get(method, method)} $\hat\tau$ = {num(row['tau'])}")
        ax_w.axvline(row["tau"], color=style.guide, lw=1.0, alpha=0.8, ls=ls,
                     gid=f"tau-hat:{method}")
    return handles, labels


def _draw_weights(ax: Axes, t: _TauPosterior, style: Style) -> None:
    """One weight curve per group, coloured by ``se_i``: a legend of the groups for up to
    ``len(style.cycle)`` distinct ``se_i``, a colour bar beyond."""
    se = t.se
    weights = shrinkage_weights(se, t.grid)                  # (K, G)
    distinct = np.unique(se)
    few = distinct.size <= len(style.cycle)
    if few:                                                  # a legend: colour per se value
        color_of = {s: style.color(k) for k, s in enumerate(distinct)}
    else:                                                    # a colour map and a colour bar
        cmap, cnorm = se_colours(se, style.colormap)
        color_of = {s: cmap(cnorm(s)) for s in distinct}
    for i, g in enumerate(t.groups):
        ax.plot(t.grid, weights[:, i], color=color_of[se[i]], lw=1.3, label=g,
                gid=f"weight:{g}")
    if not few:
        se_colorbar(ax, se, cmap, cnorm, f"{len(t.groups)} groups")
        return
    entries = []
    for s in distinct:
        names = [g for g, v in zip(t.groups, se, strict=True) if v == s]
        shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
        entries.append((Line2D([], [], color=color_of[s], lw=1.6), f"{shown} (se {num(s)})"))
    ax.legend(*zip(*entries, strict=True), loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, fontsize=7, frameon=False, title="group", title_fontsize=7)


def plot_tau(
    result: Result | ExactPosterior,
    data: HierData | None = None,
    *,
    estimates: pd.DataFrame | None = None,
    exact: ExactPosterior | bool | None = None,
    interval: str | None = None,
    prob: float | None = None,
    axes: Sequence[Axes] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""The posterior of ``tau`` against the EB point estimates, and the weights ``w_i(tau)``.

    Left: ``p(tau | y)`` -- a boundary-corrected KDE of the draws (``arviz.kde``), or the
    exact density (:meth:`~hiermodel.shrinkage.ExactPosterior.tau_pdf`) for an
    :class:`~hiermodel.shrinkage.ExactPosterior` or for exact draws -- with its
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
    result : arviz.InferenceData or ExactPosterior
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
        (``result.posterior.attrs["method"] == "exact"``) and is overlaid dashed on the KDE of NUTS
        draws.  ``None`` (default) or ``True``: computed from the data under the fit's priors
        (:func:`hiermodel.shrinkage.exact_posterior`, :func:`hiermodel.comparison.fit_priors`)
        when the sampling sds are known (``True`` insists on it); ``False``: none (a KDE of
        any draws).  Ignored for an ExactPosterior ``result``.
    interval : {"eti", "hdi"}, optional
        The shaded interval of ``tau``: central (equal-tailed) or highest density (of the
        draws, or of the exact density); default the option (:func:`hiermodel.get_options`,
        central).  The posterior of ``tau`` is skewed, so the two differ: the highest-density
        interval reaches further down, to 0 when the density is highest there.
    prob : float, optional
        Mass of the shaded interval; default the option (0.95).
    axes : pair of matplotlib.axes.Axes, optional
        Draw the density and the weights into these; default: a new figure.
    figsize : (float, float), optional
        Default (11, 4.6).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: density (``xlabel`` tau) and weights (plus a colour bar for many groups).
    """
    posterior, data = _tau_inputs(result, data)
    kind, prob = check_interval(interval, prob)
    axes = check_axes(axes, 2)
    est = _tau_hats(estimates, data)
    ep = _exact_for(posterior, data, exact)
    style = get_style()
    t = _summarize(posterior, data, est, ep, kind, prob)
    if axes is None:
        fig = new_figure(figsize, (11.0, 4.6))
        ax_d, ax_w = fig.subplots(1, 2)
    else:
        ax_d, ax_w = axes
        fig = root_figure(ax_d)
    handles, labels = _draw_density(ax_d, t, style)
    more = _draw_tau_hats(ax_d, ax_w, t, style)
    handles, labels = handles + more[0], labels + more[1]
    xlabel = r"$\tau$"
    for ax in (ax_d, ax_w):
        ax.set_xlim(-0.02 * t.upper, t.upper)
        ax.set_xlabel(xlabel)
    ax_d.set_ylim(bottom=0.0)
    ax_d.set_ylabel(r"posterior density $p(\tau \mid y)$")
    ax_d.set_title(r"Posterior of $\tau$ and the empirical-Bayes $\hat\tau$", fontsize=10)
    legend_below(ax_d, handles, labels, depth_pts=xaxis_depth_pts(ax_d, ["0"], xlabel),
                 fontsize=7)
    _draw_weights(ax_w, t, style)
    ax_w.set_ylim(0.0, 1.0)
    ax_w.set_ylabel(r"shrinkage weight $w_i(\tau) = \tau^2 / (\tau^2 + se_i^2)$")
    ax_w.set_title(r"Weight on $\bar y_i$ (1 = no pooling, 0 = complete pooling)",
                   fontsize=10)
    return fig
