r"""Figures of the comparison layer: shrinkage, forest, funnel and the posterior of tau.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot state, never
``plt.show()``), so it is safe headless (Agg), in notebooks (the returned figure displays
once) and in the CLI (``fig.savefig(path)``):

* :func:`plot_shrinkage` -- the seed's section 3.3 picture: each group's move from no pooling
  ``ybar_i`` to partial pooling (empirical Bayes and full Bayes), marker area by ``n_i`` (or
  the precision ``1/se_i^2``), the grand mean marked;
* :func:`plot_forest` -- ``theta_i`` across fits / methods (``arviz.plot_forest``);
* :func:`plot_funnel` -- the sampler's view of one group against ``log tau``, one panel per
  fit, divergent draws in red: the funnel of the centered form and its absence in the
  non-centered one;
* :func:`plot_tau` -- the posterior of ``tau`` with each empirical-Bayes ``tau_hat`` marked,
  and the shrinkage weight curves ``w_i(tau) = tau^2 / (tau^2 + se_i^2)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .compare import (
    _check_eb_method,
    _check_fits,
    _check_hdi_prob,
    _check_idata,
    data_from_idata,
    fit_priors,
    tau_estimates,
)
from .data import HierData
from .shrinkage import TAU_METHODS, ExactPosterior, exact_posterior, shrinkage_weights

__all__ = ["plot_shrinkage", "plot_forest", "plot_funnel", "plot_tau"]

_SAMPLE = ("chain", "draw")
#: comparison columns plot_shrinkage can draw, with their axis labels
SHRINKAGE_COLUMNS = {
    "no_pooling": "no pooling\n" + r"$\bar y_i$",
    "seed": "seed's formula\n(section 4.2)",
    "eb": "empirical Bayes\n({method})",
    "rb_mean": "full Bayes\n(Rao-Blackwell)",
    "mean": "full Bayes\n" + r"$E[\theta_i \mid y]$",
    "exact": "exact posterior\nmean",
}
_TAU_LABELS = {"dl": "DerSimonian-Laird", "pm": "Paule-Mandel", "ml": "ML", "reml": "REML",
               "seed": "seed sd(ybar)"}
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)))
_DIVERGENT_COLOR = "tab:red"
_DRAW_COLOR = "tab:blue"


# ----------------------------------------------------------------------------- helpers
def _new_figure(figsize: tuple[float, float] | None, default: tuple[float, float]) -> Figure:
    return Figure(figsize=default if figsize is None else figsize, layout="constrained")


def _check_ax(ax: Any) -> Axes | None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"`ax` must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def _root_figure(ax: Axes) -> Figure:
    fig = ax.figure
    while not isinstance(fig, Figure) and hasattr(fig, "figure") and fig.figure is not fig:
        fig = fig.figure  # SubFigure -> its parent figure
    return fig


# ----------------------------------------------------------------------------- shrinkage
def plot_shrinkage(
    comparison: pd.DataFrame,
    *,
    ax: Axes | None = None,
    columns: Sequence[str] = ("no_pooling", "eb", "mean"),
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Each group's move from no pooling to partial pooling: the seed's section 3.3 picture.

    One column of points per estimate (by default no pooling ``ybar_i``, empirical Bayes
    ``w_i ybar_i + (1 - w_i) mu_hat`` and the full-Bayes posterior mean), a line per group
    joining them, marker area proportional to ``n_i`` (or to the precision ``1/se_i^2``
    when group sizes are unknown), and horizontal lines at the grand mean: the posterior
    mean of ``mu`` (dashed) and the EB ``mu_hat`` (dotted).

    Parameters
    ----------
    comparison : pandas.DataFrame
        The result of :func:`hiermodel.compare.compare`.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    columns : sequence of str, default ("no_pooling", "eb", "mean")
        Which estimates to show, left to right; any of ``"no_pooling"``, ``"seed"``,
        ``"eb"``, ``"rb_mean"``, ``"mean"``, ``"exact"`` present in ``comparison``.
    figsize : (float, float), optional
        Size of a new figure; default (7, 5).

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
    if ax is None:
        fig = _new_figure(figsize, (7.0, 5.0))
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
        ax.annotate(str(g), (x[0], values[i, 0]), xytext=(-10, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=9)
    for k, col in enumerate(columns):
        ax.scatter(np.full(len(t), x[k]), values[:, k], s=sizes, color=f"C{k}",
                   edgecolor="k", linewidth=0.5, alpha=0.85, zorder=2, label=None,
                   gid=f"shrinkage-points:{col}")
    a = t.attrs
    if "mu_mean" in a:
        ax.axhline(a["mu_mean"], color="k", ls="--", lw=1,
                   label=rf"grand mean $E[\mu \mid y]$ = {a['mu_mean']:.3g}")
    if "eb_mu" in a and "eb" in columns:
        ax.axhline(a["eb_mu"], color="C1", ls=":", lw=1.2,
                   label=rf"EB $\hat\mu$ = {a['eb_mu']:.3g} ($\hat\tau$ = {a['eb_tau']:.3g})")
    method = str(a.get("eb_method", "reml")).upper()
    ax.set_xticks(x, [SHRINKAGE_COLUMNS[c].format(method=method) for c in columns])
    ax.set_xlim(x[0] - 0.6, x[-1] + 0.3)
    ax.set_ylabel(r"estimate of $\theta_i$")
    ax.set_title(f"Shrinkage toward the grand mean (marker area ∝ {size_name})")
    if ax.get_legend_handles_labels()[0]:  # below the axes, clear of the paths
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize=8,
                  frameon=False)
    return fig


# ----------------------------------------------------------------------------- forest
def plot_forest(
    fits: az.InferenceData | Mapping[str, az.InferenceData],
    *,
    var_names: Sequence[str] = ("theta",),
    hdi_prob: float = 0.94,
    figsize: tuple[float, float] | None = None,
    **kwargs: Any,
) -> Figure:
    r"""Forest plot of ``theta_i`` (or other variables) across fits: ``arviz.plot_forest``.

    Each fit's draws are combined over chains; per group, the point is the posterior
    median, the thick bar the interquartile range and the thin bar the ``hdi_prob`` HDI.

    Parameters
    ----------
    fits : arviz.InferenceData or dict of str to arviz.InferenceData
        E.g. ``{"marginal": idata, "noncentered": nc, "exact": exact.sample(...)}``.
    var_names : sequence of str, default ("theta",)
        Posterior variables to show; each must be in every fit.
    hdi_prob : float, default 0.94
    figsize : (float, float), optional
        Default (7, 1.5 + 0.2 * rows * max(fits, 2)) inches.
    **kwargs
        Passed to ``arviz.plot_forest`` (e.g. ``colors``, ``markersize``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fits = _check_fits(fits)
    hdi_prob = _check_hdi_prob(hdi_prob)
    if isinstance(var_names, str):
        var_names = (var_names,)
    if not isinstance(var_names, Sequence) or not var_names:
        raise TypeError(f"`var_names` must be a non-empty sequence of names, got {var_names!r}.")
    for name, idata in fits.items():
        missing = [v for v in var_names if v not in idata.posterior]
        if missing:
            raise ValueError(f"`var_names` {missing} are not in the posterior of fits[{name!r}]"
                             f"; it has {list(idata.posterior.data_vars)}.")
    first = next(iter(fits.values())).posterior
    rows = sum(int(np.prod([first.sizes[d] for d in first[v].dims if d not in _SAMPLE]))
               for v in var_names)
    fig = _new_figure(figsize, (7.0, 1.5 + 0.2 * rows * max(len(fits), 2)))
    ax = fig.add_subplot()
    az.plot_forest(list(fits.values()), model_names=list(fits), var_names=list(var_names),
                   combined=True, hdi_prob=hdi_prob, ax=ax, **kwargs)
    ax.set_xlabel(r"$\theta_i$" if tuple(var_names) == ("theta",) else ", ".join(var_names))
    ax.set_title(f"Posterior of {', '.join(var_names)} by method: median, quartiles and "
                 f"{100 * hdi_prob:g}% HDI", fontsize=10)
    return fig


# ----------------------------------------------------------------------------- funnel
def _funnel_coordinate(idata: az.InferenceData, group: Any, var: str) -> tuple[np.ndarray, str]:
    """The values and axis label of one group's coordinate in the funnel plot."""
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
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        div = idata.sample_stats["diverging"].transpose(*_SAMPLE).values
        if div.shape == shape:
            return div.astype(bool).ravel()
    return np.zeros(int(np.prod(shape)), bool)


def plot_funnel(
    fits: az.InferenceData | Mapping[str, az.InferenceData],
    *,
    group: Any = None,
    var: str = "sampled",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""The funnel: one group's coordinate against ``log tau``, one panel per fit.

    In the centered form the sampler moves in ``(theta_i, log tau)``, where the posterior is
    a funnel -- ``theta_i | mu, tau ~ N(mu, tau^2)`` narrows as ``tau -> 0`` -- and NUTS
    diverges at its neck; the non-centered form samples ``z_i = (theta_i - mu) / tau``,
    which is ``N(0, 1)`` a priori at every ``tau``.  Divergent draws are drawn on top in
    red.

    Parameters
    ----------
    fits : arviz.InferenceData or dict of str to arviz.InferenceData
        E.g. ``{"centered": c, "noncentered": nc}``; fits without ``sample_stats`` (exact
        draws) show no divergences.
    group : label, optional
        The group to show; default the first one.
    var : {"sampled", "theta"}, default "sampled"
        ``"sampled"``: the coordinate the sampler moved in (``theta_tilde``: ``z_i`` for the
        non-centered form, ``theta_i`` for the centered one; ``theta_i`` for marginal and
        exact fits); ``"theta"``: always ``theta_i``.
    figsize : (float, float), optional
        Default (4 * panels, 4) inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per fit, titled ``"<name>: <k> divergent of <S> draws"``.
    """
    fits = _check_fits(fits)
    if var not in ("sampled", "theta"):
        raise ValueError(f"Requested var {var!r} but it must be one of {{'sampled', 'theta'}}.")
    labels = next(iter(fits.values())).posterior["group"].values.tolist()
    if group is None:
        group = labels[0]
    for name, idata in fits.items():
        if group not in idata.posterior["group"].values.tolist():
            raise ValueError(f"`group` {group!r} is not a group of fits[{name!r}]; choose one "
                             f"of {idata.posterior['group'].values.tolist()[:10]}.")
    fig = _new_figure(figsize, (4.0 * len(fits), 4.0))
    axes = fig.subplots(1, len(fits), sharex=True, squeeze=False)[0]
    for ax, (name, idata) in zip(axes, fits.items(), strict=True):
        post = idata.posterior
        tau = post["tau"].transpose(*_SAMPLE).values
        div = _diverging(idata, tau.shape)
        y, ylabel = _funnel_coordinate(idata, group, var)
        tau = tau.ravel()
        keep = tau > 0                                    # log tau is finite
        logtau = np.log(np.where(keep, tau, 1.0))
        ok, bad = keep & ~div, keep & div
        ax.scatter(logtau[ok], y[ok], s=5, alpha=0.3, color=_DRAW_COLOR, linewidths=0,
                   label="draws", gid="funnel:draws")
        ax.scatter(logtau[bad], y[bad], s=16, color=_DIVERGENT_COLOR, edgecolor="k",
                   linewidths=0.3, label=f"divergent ({int(bad.sum())})", gid="funnel:divergent")
        ax.set_xlabel(r"$\log\tau$")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{name}: {int(div.sum())} divergent of {tau.size} draws", fontsize=10)
        ax.legend(loc="upper left", fontsize=8, markerscale=1.5)
    return fig


# ----------------------------------------------------------------------------- tau
def _tau_panel_data(idata: Any, data: HierData | None) -> tuple[Any, HierData]:
    if isinstance(idata, ExactPosterior):
        if data is None:
            data = HierData.from_estimates(idata._y, idata._se, idata.groups)
        return idata, data
    idata = _check_idata(idata)
    if data is None:
        data = data_from_idata(idata)
    elif not isinstance(data, HierData):
        raise TypeError(f"`data` must be a HierData or None, got {type(data).__name__}.")
    if tuple(idata.posterior["group"].values.tolist()) != tuple(data.groups):
        raise ValueError("`data` has other groups than `idata`'s posterior: pass the data the "
                         "posterior was fitted to.")
    return idata, data


def plot_tau(
    idata: az.InferenceData | ExactPosterior,
    data: HierData | None = None,
    *,
    methods: Sequence[str] = TAU_METHODS,
    hdi_prob: float = 0.94,
    exact: bool | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""The posterior of ``tau`` against the EB point estimates, and the weights ``w_i(tau)``.

    Left: ``p(tau | y)`` -- a boundary-corrected KDE of the draws (``arviz.kde``), or, for
    draws from :meth:`~hiermodel.shrinkage.ExactPosterior.sample` (or an
    :class:`~hiermodel.shrinkage.ExactPosterior` itself), the exact density
    (:meth:`~hiermodel.shrinkage.ExactPosterior.tau_pdf`) -- with its HDI shaded and a
    vertical line at each estimator's ``tau_hat`` (:func:`hiermodel.compare.tau_estimates`).
    Right: one curve per group of the shrinkage weight

        w_i(tau) = tau^2 / (tau^2 + se_i^2) = (n_i / sigma^2) / (n_i / sigma^2 + 1 / tau^2),

    the seed's section 3.1 weight on ``ybar_i`` (``se_i`` is the plug-in
    ``sigma_hat / sqrt(n_i)`` when sigma is estimated).

    Parameters
    ----------
    idata : arviz.InferenceData or ExactPosterior
        A fit (:func:`hiermodel.fit.fit`), exact draws, or the exact posterior.
    data : HierData, optional
        Default: rebuilt from the fit (:func:`hiermodel.compare.data_from_idata`); needed
        for exact draws.
    methods : sequence of {"dl", "pm", "ml", "reml", "seed"}, default all five
        The EB estimators to mark.
    hdi_prob : float, default 0.94
        The shaded interval of ``tau``.
    exact : bool, optional
        Overlay the exact density on the KDE of NUTS draws (dashed).  Default: when the
        sampling sds are known.
    figsize : (float, float), optional
        Default (11, 4.2).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: density (``xlabel`` tau) and weights.
    """
    idata, data = _tau_panel_data(idata, data)
    hdi_prob = _check_hdi_prob(hdi_prob)
    if isinstance(methods, str):
        methods = (methods,)
    methods = [_check_eb_method(m) for m in methods]
    if exact is not None and not isinstance(exact, bool):
        raise TypeError(f"`exact` must be True, False or None, got {exact!r}.")
    est = tau_estimates(data, methods) if methods else pd.DataFrame(columns=["tau", "mu"])

    is_exact_obj = isinstance(idata, ExactPosterior)
    from_exact = is_exact_obj or idata.posterior.attrs.get("method") == "exact"
    ep = None
    if is_exact_obj:
        ep = idata
    elif data.sigma_known and (from_exact or exact in (None, True)):
        ep = exact_posterior(data, fit_priors(idata))
    elif exact:
        raise ValueError("`exact=True` needs known sampling sds, but sigma is estimated for "
                         "this data; use exact=None.")

    # range of tau: the bulk of the posterior and every tau_hat
    if is_exact_obj:
        q = idata.quantile([0.995])["tau"].values
        upper = float(q[0])
        draws = None
    else:
        draws = idata.posterior["tau"].values.ravel()
        upper = float(np.quantile(draws, 0.995))
    if len(est):
        upper = max(upper, 1.1 * float(est["tau"].max()))
    upper = upper if upper > 0 else 1.0
    grid = np.linspace(0.0, upper, 400)

    fig = _new_figure(figsize, (11.0, 4.2))
    ax_d, ax_w = fig.subplots(1, 2)
    if from_exact:
        ax_d.plot(grid, ep.tau_pdf(grid), color="k", lw=1.8,
                  label=r"exact $p(\tau \mid y)$", gid="tau:density")
        lo, hi = _exact_hdi(ep, hdi_prob)
    else:
        xk, pk = az.kde(draws, bound_correction=True)
        ax_d.plot(xk, pk, color="k", lw=1.8, label=f"KDE of {draws.size} draws",
                  gid="tau:density")
        lo, hi = (float(v) for v in az.hdi(draws, hdi_prob=hdi_prob))
        if ep is not None and exact is not False:
            ax_d.plot(grid, ep.tau_pdf(grid), color="0.4", ls="--", lw=1.2,
                      label=r"exact $p(\tau \mid y)$", gid="tau:exact")
    ax_d.axvspan(lo, hi, color="0.9", zorder=0, label=f"{100 * hdi_prob:g}% HDI")
    for k, (method, row) in enumerate(est.iterrows()):
        style = dict(color=f"C{k}", ls=_LINESTYLES[k % len(_LINESTYLES)], lw=1.5)
        ax_d.axvline(row["tau"], label=rf"{_TAU_LABELS.get(method, method)} $\hat\tau$ = "
                     f"{row['tau']:.3g}", gid=f"tau-hat:{method}", **style)
        ax_w.axvline(row["tau"], alpha=0.6, gid=f"tau-hat:{method}", **{**style, "lw": 1.0})
    ax_d.set_xlim(-0.02 * upper, upper)
    ax_d.set_ylim(bottom=0.0)
    ax_d.set_xlabel(r"$\tau$")
    ax_d.set_ylabel(r"posterior density $p(\tau \mid y)$")
    ax_d.set_title(r"Posterior of $\tau$ and the empirical-Bayes $\hat\tau$", fontsize=10)
    ax_d.legend(fontsize=7, loc="upper right")

    se = np.asarray(data.se, float)
    weights = shrinkage_weights(se, grid)                   # (K, G)
    for i, g in enumerate(data.groups):
        ax_w.plot(grid, weights[:, i], color=f"C{i % 10}", lw=1.3, label=str(g),
                  gid=f"weight:{g}")
    ax_w.set_xlim(-0.02 * upper, upper)
    ax_w.set_ylim(0.0, 1.0)
    ax_w.set_xlabel(r"$\tau$")
    ax_w.set_ylabel(r"shrinkage weight $w_i(\tau) = \tau^2 / (\tau^2 + se_i^2)$")
    ax_w.set_title(r"Weight on $\bar y_i$ (1 = no pooling, 0 = complete pooling)",
                   fontsize=10)
    if data.n_groups <= 12:
        ax_w.legend(fontsize=7, loc="lower right", ncols=2, title="group", title_fontsize=7)
    return fig


def _exact_hdi(ep: ExactPosterior, prob: float) -> tuple[float, float]:
    """HDI of ``tau`` from the exact density: the highest-density set on a fine grid,
    reported as its hull ``[lo, hi]`` (the density is unimodal or decreasing from 0)."""
    fine = np.linspace(0.0, float(ep.quantile([0.9999])["tau"].values[0]), 20001)
    dens = ep.tau_pdf(fine)
    mass = dens * np.gradient(fine)
    order = np.argsort(dens)[::-1]
    take = order[: int(np.searchsorted(np.cumsum(mass[order]), prob)) + 1]
    return float(fine[take].min()), float(fine[take].max())
