"""The forest plot of ``theta_i`` (or other variables) across fits / methods: per row the
posterior median, central 50% and ``prob`` intervals of each fit (the layout of ArviZ's
``plot_forest``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import stack
from ..comparison import check_fits
from ._common import (
    SAMPLE,
    check_ax,
    check_interval,
    draws_interval,
    figure_and_axes,
    group_labels,
    pct,
    sequential_colors,
)
from ._layout import LABEL_SIZE, FitRows, legend_below, xaxis_depth_pts
from .style import Style, get_style

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["plot_forest"]


@dataclass(frozen=True)
class _FitIntervals:
    """One fit's intervals, one entry per row: median, quartiles, the ``prob`` interval."""

    name: str
    median: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    q1: np.ndarray
    q3: np.ndarray


def _check_var_names(var_names: Any, fits: Mapping[str, Any]) -> list[str]:
    if isinstance(var_names, str):
        var_names = (var_names,)
    if not isinstance(var_names, Sequence) or not var_names:
        raise TypeError(f"`var_names` must be a non-empty sequence of names, got {var_names!r}.")
    var_names = [str(v) for v in var_names]
    for name, idata in fits.items():
        missing = [v for v in var_names if v not in stack.group(idata, "posterior")]
        if missing:
            raise ValueError(f"`var_names` {missing} are not in the posterior of "
                             f"result[{name!r}]; it has {list(idata.posterior.data_vars)}.")
    return var_names


def _row_labels(posterior: Any, var_names: list[str]) -> list[str]:
    """One label per row: each element of each variable (the group labels for theta)."""
    labels: list[str] = []
    for v in var_names:
        da = posterior[v]
        other = [d for d in da.dims if d not in SAMPLE]
        if not other:
            labels.append(v)
            continue
        stacked = da.isel({d: 0 for d in SAMPLE}).stack(_row=other)
        for idx in stacked["_row"].values.tolist():
            idx = idx if isinstance(idx, tuple) else (idx,)
            inner = ", ".join(str(i) for i in idx)
            labels.append(inner if var_names == ["theta"] else f"{v}[{inner}]")
    return labels


def _fit_intervals(fits: Mapping[str, Any], var_names: list[str], n_rows: int, kind: str,
                   prob: float) -> list[_FitIntervals]:
    first = next(iter(fits.values()))
    out = []
    for name, idata in fits.items():
        cols = []
        for v in var_names:
            da = stack.group(idata, "posterior")[v]
            other = [d for d in da.dims if d not in SAMPLE]
            arr = da.transpose(*SAMPLE, *other).values
            cols.append(arr.reshape(arr.shape[0] * arr.shape[1], -1))
        d = np.concatenate(cols, axis=1)
        if d.shape[1] != n_rows:
            raise ValueError(f"result[{name!r}] has {d.shape[1]} rows of {var_names}, the "
                             f"first fit {n_rows}: compare fits of the same groups.")
        if "theta" in var_names and group_labels(idata) != group_labels(first):
            raise ValueError(f"result[{name!r}] has other groups than the first fit: compare "
                             "fits of the same data.")
        lo, med, hi = draws_interval(d, kind, prob)
        q1, q3 = np.quantile(d, [0.25, 0.75], axis=0)
        out.append(_FitIntervals(name, med, lo, hi, q1, q3))
    return out


def _draw_fit(ax: Axes, f: _FitIntervals, y: np.ndarray, color: Any, style: Style) -> Line2D:
    """One fit: the ``prob`` interval (thin), the quartiles (thick), the median (open dot);
    returns its legend handle."""
    ax.add_collection(LineCollection([[(a, b), (c, b)] for a, c, b in zip(f.lo, f.hi, y,
                                                                        strict=True)],
                                     colors=color, linewidths=1.0,
                                     gid=f"forest:{f.name}:interval"))
    ax.add_collection(LineCollection([[(a, b), (c, b)] for a, c, b in zip(f.q1, f.q3, y,
                                                                        strict=True)],
                                     colors=color, linewidths=3.0,
                                     gid=f"forest:{f.name}:quartiles"))
    marker = dict(marker=style.posterior_marker, markersize=style.marker_size,
                  markerfacecolor="white", markeredgecolor=color, markeredgewidth=1.3)
    ax.plot(f.median, y, ls="none", gid=f"forest:{f.name}:median", **marker)
    return Line2D([], [], color=color, lw=2.0, **marker)


def plot_forest(
    result: Result | Mapping[str, Result],
    *,
    var_names: Sequence[str] = ("theta",),
    interval: str | None = None,
    prob: float | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    r"""Forest plot of ``theta_i`` (or other variables) across fits / methods.

    One row per group (or per element of each variable), one line per fit within a row,
    top to bottom in the order of ``result``: the posterior median (dot), the central 50%
    interval (thick bar) and the ``prob`` interval (thin bar), over the draws of all
    chains.  Rows are labelled with the group labels, the legend sits below the axes.  Fits
    take the style's ``cycle`` colours in order (a ``colormap`` beyond).

    Parameters
    ----------
    result : arviz.InferenceData or dict of str to arviz.InferenceData
        E.g. ``{"marginal": idata, "noncentered": nc, "exact": exact.sample(...)}``; the
        group dimension may have any name, but every fit must have the same groups.
    var_names : sequence of str, default ("theta",)
        Posterior variables to show; each must be in every fit.
    interval : {"eti", "hdi"}, optional
        The thin interval: central (equal-tailed) or highest density; default the option
        (:func:`hiermodel.get_options`, central).
    prob : float, optional
        Mass of the thin interval; default the option (0.95).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; default: a new figure.
    figsize : (float, float), optional
        Default (7, 1.6 + rows * max(0.18, 0.1 + 0.08 * fits)) inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fits, _ = check_fits(result, default_name="fit")
    kind, prob = check_interval(interval, prob)
    ax = check_ax(ax)
    var_names = _check_var_names(var_names, fits)
    style = get_style()
    labels = _row_labels(stack.group(next(iter(fits.values())), "posterior"), var_names)
    n_rows, n_fits = len(labels), len(fits)
    intervals = _fit_intervals(fits, var_names, n_rows, kind, prob)
    fig, ax = figure_and_axes(ax, figsize,
                              (7.0, 1.6 + n_rows * max(0.18, 0.1 + 0.08 * n_fits)))
    rows = np.arange(n_rows, dtype=float)
    spread = 0.0 if n_fits == 1 else min(0.62, 0.16 * (n_fits - 1))
    offsets = np.linspace(-spread / 2, spread / 2, n_fits)
    colors = ([style.color(k) for k in range(n_fits)] if n_fits <= len(style.cycle) else
              sequential_colors(style.colormap, n_fits))
    handles = [_draw_fit(ax, f, rows + off, color, style)
               for f, off, color in zip(intervals, offsets, colors, strict=True)]
    for r in rows[::2]:
        ax.axhspan(r - 0.5, r + 0.5, color=style.stripe, zorder=0, lw=0)
    ax.autoscale_view()
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks(rows, labels)
    ax.tick_params(axis="y", length=0, labelsize=LABEL_SIZE)
    ax.grid(axis="x", color=style.grid, lw=0.6)
    ax.set_axisbelow(True)
    xlabel = r"$\theta_i$" if var_names == ["theta"] else ", ".join(var_names)
    ax.set_xlabel(xlabel)
    ax.set_title(f"Posterior of {', '.join(var_names)} by method: median, central 50% and "
                 f"{pct(prob)} {'highest-density ' if kind == 'hdi' else ''}intervals", fontsize=10)
    ax.add_artist(FitRows(rows, labels))
    if n_fits > 1:
        legend_below(ax, handles, list(fits), ncols=min(n_fits, 4),
                     depth_pts=xaxis_depth_pts(ax, ["0"], xlabel))
    return fig
