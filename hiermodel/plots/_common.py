"""What the figures share: figure and axes checks, number formats, interval summaries, the
data behind a fit, log-ratio axes, ``se_i`` colour maps.  Private to :mod:`hiermodel.plots`
(its names are public so that the figure modules can import them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .. import stack
from .._validate import check_prob
from ..comparison import data_from_idata
from ..data import HierData
from ..options import resolve_interval

if TYPE_CHECKING:
    from ..stack import Result

#: the sample dimensions of a posterior
SAMPLE = ("chain", "draw")
#: line styles of the tau_hat estimators, in order
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)))


# ----------------------------------------------------------------------------- figures
def new_figure(figsize: tuple[float, float] | None, default: tuple[float, float]) -> Figure:
    return Figure(figsize=default if figsize is None else figsize, layout="constrained")


def check_ax(ax: Any, name: str = "ax") -> Axes | None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"`{name}` must be a matplotlib Axes or None, got {type(ax).__name__}.")
    return ax


def check_axes(axes: Any, n: int) -> list[Axes] | None:
    """``axes`` as a list of ``n`` matplotlib Axes (or None)."""
    if axes is None:
        return None
    if isinstance(axes, Axes):
        axes = [axes]
    if isinstance(axes, np.ndarray):
        axes = axes.ravel().tolist()
    if not isinstance(axes, Sequence) or not all(isinstance(a, Axes) for a in axes):
        raise TypeError(f"`axes` must be a sequence of {n} matplotlib Axes or None, got "
                        f"{type(axes).__name__}.")
    if len(axes) != n:
        raise ValueError(f"`axes` must hold {n} Axes (one per panel), got {len(axes)}.")
    return list(axes)


def root_figure(ax: Axes) -> Figure:
    fig = ax.figure
    while isinstance(fig, SubFigure):
        fig = fig.figure  # SubFigure -> its parent figure
    return fig


def figure_and_axes(ax: Axes | None, figsize: tuple[float, float] | None,
                    default: tuple[float, float]) -> tuple[Figure, Axes]:
    """The figure and the one axes to draw into: ``ax`` and its figure, or a new figure."""
    if ax is None:
        fig = new_figure(figsize, default)
        return fig, fig.add_subplot()
    return root_figure(ax), ax


def panels(axes: Any, n: int, figsize: tuple[float, float] | None,
           default: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """The figure and ``n`` axes to draw into: ``axes`` checked, or a new row of panels."""
    axes = check_axes(axes, n)
    if axes is None:
        fig = new_figure(figsize, default)
        return fig, list(fig.subplots(1, n, squeeze=False)[0])
    return root_figure(axes[0]), axes


def check_columns(table: Any, columns: Sequence[str], maker: str) -> pd.DataFrame:
    """``table`` if it is a DataFrame with ``columns``, else a TypeError naming ``maker``."""
    if not isinstance(table, pd.DataFrame) or not set(columns) <= set(table.columns):
        raise TypeError(f"`result` must be the DataFrame returned by {maker}() (columns "
                        f"{list(columns)}).")
    return table


# ----------------------------------------------------------------------------- numbers
def pct(prob: float) -> str:
    return f"{100 * prob:g}%"


def num(v: float) -> str:
    """A number for a legend or title: 3 significant digits, whole numbers from 100 on."""
    a = abs(float(v))
    if a >= 1e6 or 0 < a < 1e-4:
        return f"{v:.3g}"
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def decimals(widths: np.ndarray) -> int:
    """Decimals that resolve an interval of the typical width to ~1%."""
    w = widths[np.isfinite(widths) & (widths > 0)]
    if not w.size:
        return 2
    return int(np.clip(2 - np.floor(np.log10(np.median(w))), 0, 8))


def interval_strings(point: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     n_decimals: int) -> list[str]:
    """``"est [lo, hi]"`` per row, columns right-aligned for a monospace font ('' for NaN)."""
    def fmt(v: np.ndarray) -> list[str]:
        return ["" if np.isnan(x) else f"{x:,.{n_decimals}f}" for x in v]

    cols = [fmt(point), fmt(lo), fmt(hi)]
    w = [max((len(s) for s in c), default=0) for c in cols]
    return ["" if not p else f"{p:>{w[0]}} [{a:>{w[1]}}, {b:>{w[2]}}]"
            for p, a, b in zip(*cols, strict=True)]


# ----------------------------------------------------------------------------- intervals
INTERVAL_NAMES = {"eti": "central", "hdi": "highest-density"}


def check_interval(interval: Any, prob: Any) -> tuple[str, float]:
    """``(kind, prob)`` resolved against the options (:func:`hiermodel.get_options`): 95%
    central unless set otherwise; a ``prob`` that is not a number is a ``TypeError``."""
    return resolve_interval(interval, None if prob is None else check_prob(prob))


def draws_interval(draws: np.ndarray, kind: str, prob: float) -> np.ndarray:
    """Median and ``prob`` interval of ``draws`` (sample first, any further axes): rows
    ``lo, median, hi``.  ``kind`` ``"eti"``: the ``(1 - prob)/2`` and ``(1 + prob)/2``
    quantiles; ``"hdi"``: the highest-density interval (ArviZ's ``hdi``, through
    :func:`hiermodel.stack.hdi`)."""
    draws = np.asarray(draws, float)
    a = (1.0 - prob) / 2.0
    if kind == "eti":
        return np.quantile(draws, [a, 0.5, 1.0 - a], axis=0)
    import xarray as xr

    rest = draws.shape[1:]
    flat = draws.reshape(1, draws.shape[0], -1)          # (chain, draw, k)
    bounds = stack.hdi(xr.Dataset({"x": (("chain", "draw", "k"), flat)}), prob)["x"]
    lo = bounds.sel(bound="lower").values.reshape(rest)
    hi = bounds.sel(bound="upper").values.reshape(rest)
    return np.stack([lo, np.median(draws, axis=0), hi])


# ----------------------------------------------------------------------------- data of a fit
def group_labels(idata: Result) -> list:
    return stack.group(idata, "posterior")["group"].values.tolist()


def data_for(idata: Result, data: Any) -> HierData:
    """``data``, or the data rebuilt from a (normalized) fit that carries it; a ``data``
    given with a fit that carries its own must be that data."""
    if data is not None:
        HierData.check(data, covariates=True)
    try:
        stored = data_from_idata(idata)
    except (ValueError, KeyError) as err:
        if data is None:
            raise ValueError(f"Could not rebuild the data from `result` ({err}); pass the "
                             "HierData the posterior was fitted to as `data=`.") from None
        stored = None
    if data is None:
        data = stored
    if [str(g) for g in group_labels(idata)] != [str(g) for g in data.groups]:
        raise ValueError("`data` has other groups than `result`'s posterior: pass the data "
                         "the posterior was fitted to.")
    if stored is not None and not (np.allclose(stored.means, data.means, rtol=1e-9)
                                   and np.allclose(stored.se, data.se, rtol=1e-9)):
        raise ValueError("`data` differs from the data stored in `result` (means or se): "
                         "pass the data the posterior was fitted to, or data=None.")
    _check_covariates(idata, data, stored)
    return data


def _check_covariates(idata: Result, data: HierData, stored: HierData | None) -> None:
    """``data``'s covariates are those of the fit: the posterior has ``beta`` exactly when
    the data have covariates, on the same names (and the same values as stored in it)."""
    post = stack.group(idata, "posterior")
    names = list(data.covariate_names)
    if "beta" in post:
        fitted = ([str(c) for c in post["beta"]["covariate"].values.tolist()]
                  if "covariate" in post["beta"].dims else None)
        if not data.has_covariates:
            raise ValueError(f"`result` is a meta-regression (its posterior has beta on "
                             f"{fitted}) but `data` has no covariates: pass the data it was "
                             "fitted to (HierData.with_covariates), or data=None.")
        if fitted is not None and fitted != names:
            raise ValueError(f"`data` has covariates {names} but `result` was fitted with "
                             f"{fitted}: pass the data it was fitted to, or data=None.")
    elif data.has_covariates:
        raise ValueError(f"`data` has covariates {names} but `result` was fitted without "
                         "them (its posterior has no beta): pass the data it was fitted to.")
    if stored is not None and (stored.covariate_names != data.covariate_names or (
            data.has_covariates
            and not np.allclose(np.asarray(stored.x), np.asarray(data.x), rtol=1e-9))):
        raise ValueError("`data` differs from the data stored in `result` (covariates): pass "
                         "the data the posterior was fitted to, or data=None.")



def is_regression(idata: Result, data: HierData) -> bool:
    """Whether the fit is a meta-regression: then ``mu`` is the effect at the covariates'
    means (the models centre the covariates)."""
    return bool(data.has_covariates or "beta" in stack.group(idata, "posterior"))


# ----------------------------------------------------------------------------- axes, colours
def log_ratio_axis(ax: Axes, which: str = "x") -> None:
    """A log ``which`` axis with plain tick labels 0.1, 0.2, 0.5, 1, 2, ... (how ratios are
    drawn)."""
    if which == "x":
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def sequential_colors(name: str, n: int) -> list:
    """``n`` colours along the colour map ``name`` without its last tenth (bright yellow is
    hard to see on white)."""
    return [colormaps[name](v) for v in np.linspace(0, 0.9, n)]


def se_colours(se: np.ndarray, name: str) -> tuple[ListedColormap, Normalize]:
    """A colour map of ``se_i`` (the colour map ``name`` without its last tenth),
    logarithmic when the ``se_i`` span more than a factor of 10."""
    cmap = ListedColormap(colormaps[name](np.linspace(0.0, 0.9, 256)), f"{name}_90")
    lo, hi = float(np.min(se)), float(np.max(se))
    cnorm = LogNorm(lo, hi) if lo > 0 and hi / lo > 10 else Normalize(lo, hi)
    return cmap, cnorm


def se_colorbar(ax: Axes, se: np.ndarray, cmap: ListedColormap, cnorm: Normalize,
                what: str) -> None:
    sm = ScalarMappable(norm=cnorm, cmap=cmap)
    sm.set_array(se)
    cb = ax.figure.colorbar(sm, ax=ax, pad=0.02, fraction=0.05)
    cb.set_label(r"$se_i$ (curve colour; " + f"{what})", fontsize=8)
