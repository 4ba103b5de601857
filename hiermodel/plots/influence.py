"""The case-deletion diagnostics of a meta-analysis, one small panel each (metafor's
``plot(influence(res))``; Viechtbauer & Cheung 2010): externally studentized residuals,
DFFITS, Cook's distances, covariance ratios, tau^2 and Q_E with each study deleted, hat values
and weights against the study, the studies metafor flags as influential highlighted."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import chi2

from ._common import check_axes, new_figure, root_figure
from .style import get_style

__all__ = ["plot_influence"]

#: (column, panel title) in metafor's order
PANELS = (("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook.d"),
          ("cov_r", "cov.r"), ("tau2_del", "tau2.del"), ("QE_del", "QE.del"),
          ("hat", "hat"), ("weight", "weight (%)"))
_MAX_LABELS = 20


def _check_result(result: Any) -> Any:
    from ..shrinkage.meta_analysis import MetaAnalysis

    if not isinstance(result, MetaAnalysis):
        raise TypeError(f"`result` must be a MetaAnalysis (hiermodel.meta_analysis(data)), got "
                        f"{type(result).__name__}.")
    if result.data is None:
        raise ValueError("`result` has no data (a MetaAnalysis built by hand): fit it with "
                         "hiermodel.meta_analysis(data).")
    return result


def _cutoffs(col: str, k: int, p: int, table: Any) -> list[float]:
    """metafor's reference lines of each panel."""
    if col == "rstudent":
        return [-1.96, 0.0, 1.96]
    if col == "dffits":
        c = 3.0 * np.sqrt(p / (k - p)) if k > p else np.nan
        return [-c, 0.0, c]
    if col == "cook_d":
        return [float(chi2.ppf(0.5, p))]
    if col == "cov_r":
        return [1.0]
    if col == "tau2_del":
        return []
    if col == "hat":
        return [3.0 * p / k, p / k]
    if col == "weight":
        return [100.0 / k]
    return []


def _tick_positions(k: int) -> np.ndarray:
    """Every study up to ``_MAX_LABELS`` studies, evenly thinned above."""
    if k <= _MAX_LABELS:
        return np.arange(k)
    step = int(np.ceil(k / _MAX_LABELS))
    return np.arange(0, k, step)


def plot_influence(result: Any, *, axes: Any = None,
                   figsize: tuple[float, float] | None = None) -> Figure:
    """The influence diagnostics of a meta-analysis, one panel each (metafor's
    ``plot(influence(res))``; Viechtbauer & Cheung 2010).

    Eight panels against the study: ``rstudent``, ``dffits``, ``cook_d``, ``cov_r``,
    ``tau2_del``, ``QE_del``, ``hat`` and ``weight`` (:meth:`MetaAnalysis.influence`), with
    metafor's reference lines (``-+1.96``; ``-+3 sqrt(p/(k-p))``; the median of ``chi^2_p``;
    1; the tau^2 and Q_E of the full fit; ``p/k`` and ``3p/k``; ``100/k``).  The studies
    metafor flags as influential are drawn in the style's ``influential`` colour (red, as
    metafor).  Study labels: all of them up to 20 studies, evenly thinned above.

    Parameters
    ----------
    result : MetaAnalysis
        :func:`hiermodel.meta_analysis` (with or without covariates).
    axes : sequence of 8 matplotlib Axes, optional
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    axes = check_axes(axes, len(PANELS))
    ma = _check_result(result)
    table = ma.influence()
    style = get_style()
    k = len(table)
    p = len(ma.coefficients)
    flag = table["influential"].to_numpy(bool)
    labels = [str(s) for s in table.index]
    given = axes is not None
    if not given:
        width = max(10.0, min(18.0, 0.12 * k + 8.0))
        fig = new_figure(figsize, (width, 5.5))
        axes = list(fig.subplots(2, 4, sharex=True).ravel())
    else:
        fig = root_figure(axes[0])
    x = np.arange(k, dtype=float)
    ticks = _tick_positions(k)
    size = 18.0 if k <= 20 else 8.0
    full = {"tau2_del": float(ma.heterogeneity["tau2"]), "QE_del": float(ma.heterogeneity["QE"])}
    for i, (ax, (col, title)) in enumerate(zip(axes, PANELS, strict=True)):
        v = table[col].to_numpy(float)
        refs = _cutoffs(col, k, p, table) + ([full[col]] if col in full else [])
        for r in refs:
            if np.isfinite(r):
                ax.axhline(r, color=style.guide, linestyle=":", linewidth=0.8, zorder=0)
        ax.plot(x, v, color=style.neutral, linewidth=0.8, zorder=1)
        ax.scatter(x[~flag], v[~flag], s=size, color=style.observed, zorder=2,
                   gid=f"influence:{col}")
        ax.scatter(x[flag], v[flag], s=size * 1.6, color=style.influential, zorder=3,
                   gid=f"influence:{col}:influential")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlim(-0.6, k - 0.4)
        ax.set_xticks(ticks)
        bottom = i >= len(PANELS) - 4
        ax.set_xticklabels([labels[t] for t in ticks] if bottom or given else [],
                           rotation=90, fontsize=7 if k <= 20 else 6)
    fig.suptitle(f"Influence diagnostics ({k} studies; flagged influential, "
                 f"highlighted: {int(flag.sum())})", fontsize=10)
    return fig
