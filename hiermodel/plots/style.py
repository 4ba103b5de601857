"""The look of every figure, in one place: colours by role, markers, sizes, line widths.

Every figure of :mod:`hiermodel.plots` reads its colours (and the markers, sizes and
transparencies listed below) from the style in force when it draws, so a user restyles
every figure at once, as with matplotlib's ``rcParams`` or ArviZ's ``rcParams["plot.*"]``::

    import hiermodel as hm

    hm.get_style()                                   # Style(observed='0.15', ...)
    hm.set_style(posterior="purple")                 # from now on, in every thread
    with hm.style_context(cycle=("k", "0.5")):       # only inside the block, this thread/task
        hm.plots.plot_forest({"a": fit_a, "b": fit_b})

Colours are anything matplotlib accepts (``"tab:blue"``, ``"0.6"``, ``"#1f77b4"``, an RGB
tuple); an unknown name is refused with a ``TypeError``, a value matplotlib cannot draw with
a ``ValueError``.  :func:`style_context` changes the style for the current thread (or
asyncio task) only; :func:`set_style` replaces the process-wide style in one assignment.

This module imports only matplotlib's colour check.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

__all__ = ["Style", "get_style", "set_style", "style_context"]

_TEN = tuple(f"C{k}" for k in range(10))


@dataclasses.dataclass(frozen=True)
class Style:
    """The colours, markers, sizes and line widths of the figures (immutable: change them with
    :func:`set_style` or :func:`style_context`).  The parameters are colours by role; the
    other parameters are markers, sizes, line widths and transparency.

    Parameters
    ----------
    cycle : tuple of colours
        Categorical colours, in order: the estimates of :func:`plot_shrinkage`, the fits of
        :func:`plot_forest`, the ``tau_hat`` estimators and ``se_i`` classes of
        :func:`plot_tau`, the groups of :func:`plot_pooling_vs_tau` (default matplotlib's
        ``C0`` ... ``C9``).
    colormap : str
        The matplotlib colour map used beyond ``len(cycle)`` categories (``se_i`` colour bars,
        many fits); its last tenth is left out.
    observed : colour
        Observed data: ``y_i +- 1.96 se_i`` in the meta-analysis forest plot.
    posterior : colour
        The full-Bayes posterior (partial pooling): ``theta_i`` intervals, the fitted line of a
        bubble plot.
    pooled : colour
        The pooled ``mu`` and the prediction for a new group.
    eb : colour
        Empirical Bayes (a ``MetaAnalysis``'s line and bands, the EB ``mu_hat``).
    exact : colour
        The exact posterior density overlaid on a KDE of draws.
    reference : colour
        What data are compared against: ``T(y)``, the observed curve of a predictive check,
        the grand mean, the posterior density of ``tau``.
    complete_pooling, no_pooling, partial_pooling, oracle : colour
        The estimators of the pooling and shrinkage studies.
    draws, divergent : colour
        Sampler draws and divergent draws (:func:`plot_sampler_geometry`).
    replicated, replicated_mean : colour
        Replicated data of predictive checks and their mean.
    prior : colour
        Draws simulated from the prior: the rank bars of simulation-based calibration.
    filled : colour
        Studies filled in by trim and fill (hollow markers) and the adjusted estimate
        (:func:`plot_funnel`; Duval & Tweedie 2000).
    influential : colour
        Studies metafor's ``influence`` flags as influential (:func:`plot_influence`; red as
        metafor's ``plot(influence(res))``).
    neutral, path, guide, separator, band, stripe, grid : colour
        Greys: bubbles and leader lines (``neutral``), the lines joining a group's estimates
        in the shrinkage plot (``path``), reference lines such as no effect or zero gain
        (``guide``), the rule above the summary rows (``separator``), shaded intervals
        (``band``), alternating rows (``stripe``), grid lines.

    Other Parameters
    ----------------
    observed_marker, posterior_marker, pooled_marker : str
        Markers of the observed estimates, the posterior medians and the pooled ``mu``.
    marker_size : float
        Posterior median markers, points.
    linewidth : float
        Interval lines, points.
    draws_alpha, band_alpha, replicated_alpha : float
        Transparency of sampler draws, credible bands and replicated curves.
    """

    cycle: tuple = _TEN
    colormap: str = "viridis"
    observed: Any = "0.15"
    posterior: Any = "tab:blue"
    pooled: Any = "tab:red"
    eb: Any = "tab:orange"
    exact: Any = "0.4"
    reference: Any = "k"
    complete_pooling: Any = "k"
    no_pooling: Any = "C3"
    partial_pooling: Any = "C0"
    oracle: Any = "C1"
    draws: Any = "tab:blue"
    divergent: Any = "tab:red"
    replicated: Any = "C0"
    replicated_mean: Any = "C1"
    prior: Any = "C0"
    filled: Any = "tab:purple"
    influential: Any = "tab:red"
    neutral: Any = "0.6"
    path: Any = "0.55"
    guide: Any = "0.4"
    separator: Any = "0.75"
    band: Any = "0.9"
    stripe: Any = "0.95"
    grid: Any = "0.9"
    observed_marker: str = "s"
    posterior_marker: str = "o"
    pooled_marker: str = "D"
    marker_size: float = 4.5
    linewidth: float = 1.6
    draws_alpha: float = 0.3
    band_alpha: float = 0.22
    replicated_alpha: float = 0.2

    def __post_init__(self) -> None:
        from matplotlib.colors import is_color_like
        from matplotlib.markers import MarkerStyle

        cycle = self.cycle
        if isinstance(cycle, str) or not isinstance(cycle, (tuple, list)) or not cycle:
            raise ValueError(f"Style `cycle` must be a non-empty sequence of colours, got "
                             f"{cycle!r}.")
        object.__setattr__(self, "cycle", tuple(cycle))
        for name in (f.name for f in dataclasses.fields(self)):
            value = getattr(self, name)
            if name == "cycle":
                bad = [c for c in value if not is_color_like(c)]
                if bad:
                    raise ValueError(f"Style `cycle` holds {bad}, which are not colours.")
            elif name == "colormap":
                import matplotlib

                if value not in matplotlib.colormaps:
                    raise ValueError(f"Style `colormap` {value!r} is not a matplotlib colour "
                                     "map (e.g. 'viridis').")
            elif name.endswith("_marker"):
                try:
                    MarkerStyle(value)
                except (ValueError, TypeError):
                    raise ValueError(f"Style `{name}` {value!r} is not a matplotlib "
                                     "marker.") from None
            elif name in ("marker_size", "linewidth") or name.endswith("_alpha"):
                ok = (not isinstance(value, bool) and isinstance(value, (int, float))
                      and value >= 0 and (not name.endswith("_alpha") or value <= 1))
                if not ok:
                    raise ValueError(f"Style `{name}` must be a number >= 0"
                                     f"{' and <= 1' if name.endswith('_alpha') else ''}, "
                                     f"got {value!r}.")
            elif not is_color_like(value):
                raise ValueError(f"Style `{name}` {value!r} is not a matplotlib colour.")

    def color(self, k: int) -> Any:
        """The ``k``-th categorical colour (the cycle repeats)."""
        return self.cycle[k % len(self.cycle)]


_defaults = Style()
_in_context: contextvars.ContextVar[Style | None] = contextvars.ContextVar(
    "hiermodel_style", default=None)


def get_style() -> Style:
    """The style in force here: an enclosing :func:`style_context`'s, else the process-wide
    style."""
    return _in_context.get() or _defaults


def set_style(**changes: Any) -> Style:
    """Change the process-wide style (every thread); returns the new :class:`Style`.
    Unknown names are refused (``TypeError``), bad values too (``ValueError``);
    ``set_style()`` with no arguments leaves it as it is, ``set_style(**vars(Style()))``
    restores the defaults."""
    global _defaults
    _defaults = dataclasses.replace(_defaults, **_known(changes))
    return _defaults


@contextlib.contextmanager
def style_context(**changes: Any) -> Iterator[Style]:
    """Change the style inside a ``with`` block, for this thread (or asyncio task) only."""
    token = _in_context.set(dataclasses.replace(get_style(), **_known(changes)))
    try:
        yield get_style()
    finally:
        _in_context.reset(token)


def _known(changes: dict[str, Any]) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(Style)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise TypeError(f"Unknown style name(s) {unknown}; the style names are {names}.")
    return changes
