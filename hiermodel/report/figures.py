"""Which figures a report draws, with their captions; the drawing is hiermodel.plots'.

A figure the library cannot draw for the data (it raises NotImplementedError) is left out
with a warning at the top of the report, never silently."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import stack
from ..diagnostics import count_divergences
from .result import RunSettings
from .words import DataTerms, IntervalTerms

__all__ = ["MAX_BUBBLES", "FigureStage", "draw_figures"]

#: at most this many bubble plots (one per covariate) in a report
MAX_BUBBLES = 4


@dataclass
class FigureStage:
    """The figures written (file, caption), those skipped (kind, message), their paths."""

    figures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append(("skipped", f"{what}:\n- {why}"))


def draw_figures(out: Path, data: Any, settings: RunSettings, *, idata: Any, predictive: Any,
                 priors: Any, comparison: Any, exact: Any, meta: Any, studies: Any,
                 figures: bool,
                 sampler_geometry: bool, progressbar: bool | None,
                 log: Callable) -> FigureStage:
    """Draw the report's figures into ``out``."""
    from .. import plots

    stage = FigureStage()
    s, w, iv = settings, DataTerms.of(data), IntervalTerms.of(settings)
    pct = iv.pct + iv.central
    sizes = stack.group(idata, "posterior").sizes
    n_draws = int(sizes["chain"] * sizes["draw"])
    cov = data.has_covariates
    at = " at the average covariates" if cov else ""

    def figure(name: str, make: Callable[[], Any], caption: str) -> None:
        try:
            fig = make()
        except NotImplementedError as err:
            why = str(err).splitlines()[0].split(". ")[0].rstrip(".")
            stage.skip(f"figure {name} not drawn",
                       f"{why} (hiermodel.plots cannot draw it for these data yet).")
            return
        _save(fig, out / name, stage.files, "fig_" + name[:-4])  # hiermodel's: no pyplot
        stage.figures.append((name, caption))

    if figures:
        back = s.transform
        scale = ("" if back.is_identity else
                 f" The axis is on the back-transformed scale, the {back.scale}: every point "
                 f"and interval end is {back.name} of its value on the {back.analysis_scale} "
                 f"scale (the transform is increasing, so medians and central intervals carry "
                 f"over).")
        figure("forest.png", lambda: plots.plot_meta_forest(
            idata, data, interval="eti", prob=s.prob, transform=back.name),
            f"Forest plot: each group's observed {w.ybar_i} ± 1.96 se_i (black), its "
            f"posterior theta_i (blue: median and {pct} interval), the pooled mu{at} "
            f"(diamond: median and {pct} interval) and the {pct} prediction interval for a "
            f"new group's theta_new ~ Normal(mu, tau^2){at}.{scale}")
        if exact is not None:
            def methods() -> Any:
                sizes = stack.group(idata, "posterior").sizes
                draws = exact.sample(draws=sizes["draw"], chains=sizes["chain"], seed=s.seed)
                return plots.plot_forest({s.parameterization: idata, "exact": draws},
                                         interval="eti", prob=s.prob)
            figure("forest_methods.png", methods,
                   f"theta_i by method: the {s.parameterization} NUTS fit ({n_draws} draws) "
                   f"against as many exact posterior draws; point = median, thick bar = "
                   f"quartiles, thin bar = {pct} interval of each method's draws.")
        for name in list(data.covariate_names)[:MAX_BUBBLES]:
            figure(f"bubble_{_file_part(name)}.png",
                   lambda name=name: plots.plot_bubble(
                       [idata, meta], data, covariate=name, interval="eti", prob=s.prob,
                       transform=back.name),
                   _bubble_caption(data, settings, meta, name))
        if len(data.covariate_names) > MAX_BUBBLES:
            rest = list(data.covariate_names)[MAX_BUBBLES:]
            stage.skip(f"bubble plots for covariate(s) {rest} not drawn",
                       f"the report draws at most {MAX_BUBBLES} bubble plots (one per "
                       f"covariate, the first {MAX_BUBBLES} of --covariates); draw the others "
                       f"with hiermodel.plots.plot_bubble(idata, covariate=...)")
        target = ("its fitted value on the regression line, mu + (x_i - xbar)' beta (the "
                  "horizontal lines at the posterior mean of mu and the empirical-Bayes "
                  "mu_hat are those fitted values at the average covariates)" if cov else
                  "mu; lines at the posterior mean of mu and the empirical-Bayes mu_hat")
        figure("shrinkage.png", lambda: plots.plot_shrinkage(comparison),
               f"Shrinkage: each group's move from its own {w.own} {w.ybar_i} (no "
               f"pooling) to its empirical-Bayes ({s.eb_method.upper()}) estimate and its "
               f"posterior mean (full Bayes), pulled toward {target}; marker area by "
               f"precision.")
        figure("tau.png", lambda: plots.plot_tau(idata, data, interval="eti", prob=s.prob),
               f"Left: the posterior density of tau (shaded: {pct} interval) with each "
               f"empirical-Bayes tau_hat marked. Right: the weight w_i(tau) = tau^2 / (tau^2 "
               f"+ se_i^2) each group's own mean gets, as a function of tau.")
        figure("ppc.png",
               lambda: plots.plot_test_statistics(predictive, var_name="y_mixed"),
               f"Posterior predictive check with new groups (y_mixed): histograms of each "
               f"test statistic over {n_draws} replicated datasets, the observed value as a "
               f"line (the `y_mixed` rows of the predictive-check table).")
    if figures and studies is not None and not cov:    # metafor's funnel: no moderators
        filled = studies.trim_fill if studies.trim_fill is not None else False
        beside = exact if exact is not None and exact.sigma_known else None
        figure("funnel.png",
               lambda: plots.plot_funnel(meta, posterior=beside, trim_and_fill=filled,
                                         interval="eti", prob=s.prob),
               "Funnel plot (metafor's funnel; Egger et al. 1997): each study's estimate "
               "against its standard error (the axis points down), the pooled estimate "
               "with its pseudo-confidence region (estimate ± 1.96 se)"
               + ("" if filled is False else ", the studies trim and fill adds drawn hollow "
                  "with the adjusted estimate")
               + ("" if beside is None else
                  f", and above it the exact posterior of mu ({pct} interval)")
               + ". Asymmetry -- small studies on one side only -- is what Egger's and the "
                 "rank test measure.")
    if figures and studies is not None:
        figure("influence.png", lambda: plots.plot_influence(meta),
               "Influence of each study (metafor's plot(influence(res))): studentized "
               "residual, DFFITS, Cook's distance, covariance ratio, tau^2 and Q without the "
               "study, hat value and weight; studies metafor's rule flags are highlighted "
               "(their numbers are in `influence.csv`).")
    if sampler_geometry:
        _sampler_geometry(out, data, settings, stage, idata=idata, priors=priors,
                          progressbar=progressbar, log=log)
    return stage


def _save(fig: Any, path: Path, files: dict[str, Path], key: str) -> None:
    fig.savefig(path, dpi=110)
    files[key] = path


def _file_part(name: str) -> str:
    """A covariate name as a safe piece of a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "covariate"


def _bubble_caption(data: Any, settings: RunSettings, meta: Any, name: str) -> str:
    iv, w = IntervalTerms.of(settings), DataTerms.of(data)
    pct = iv.pct + iv.central
    others = [c for c in data.covariate_names if c != name]
    held = (f" with {', '.join(others)} held at {'its' if len(others) == 1 else 'their'} "
            f"mean{'s' if len(others) > 1 else ''}" if others else "")
    back = settings.transform
    scale = ("" if back.is_identity else
             f" The y axis is on the {back.scale}: the estimates, lines and bands are "
             f"{back.name} of their values on the {back.analysis_scale} scale; the slopes in "
             f"the titles stay on the {back.analysis_scale} scale.")
    return (f"Bubble plot of {name}: each group's {w.ybar_i} against its {name} (bubble area "
            f"by precision 1 / se_i^2). Left, full Bayes: the posterior median of the "
            f"regression line mu + ({name} - mean) beta[{name}]{held}, its {pct} credible "
            f"band (shaded) and the {pct} prediction interval of a new group (dashed). "
            f"Right, empirical Bayes ({meta.method.upper()}): the fitted line, its {pct} "
            f"confidence band and prediction interval (metafor's predict(rma))." + scale)


def _sampler_geometry(out: Path, data: Any, settings: RunSettings, stage: FigureStage, *,
                      idata: Any, priors: Any, progressbar: bool | None,
                      log: Callable) -> None:
    """Fit the centered form too (non-centered if the main fit is centered) and plot both."""
    from .. import plots
    from ..sampling import fit

    s = settings
    other = "centered" if s.parameterization != "centered" else "noncentered"
    log(f"hiermodel: fitting the {other} form too, for the sampler-geometry figure ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its divergences are the point; stated in the caption
        second = fit(data, parameterization=other, priors=priors, sampler=s.sampler,
                     draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed,
                     progressbar=progressbar)
    fits = {s.parameterization: idata, other: second}
    _save(plots.plot_sampler_geometry(fits), out / "sampler_geometry.png", stage.files,
          "fig_sampler_geometry")
    div = {k: count_divergences(v) for k, v in fits.items()}
    n = int(second.posterior.sizes["chain"] * second.posterior.sizes["draw"])
    group = data.groups[0]
    stage.figures.append((
        "sampler_geometry.png",
        f"Sampler geometry (a diagnostic of the MCMC, not a publication-bias funnel plot): "
        f"group {group}'s coordinate against log tau in each fitted form, divergent "
        f"transitions in red. Divergences: "
        + ", ".join(f"{k} {v} of {n}" for k, v in div.items())
        + f". The {other} form was fitted only for this figure; its results are not used "
          "anywhere else in this report."))
