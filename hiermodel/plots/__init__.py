r"""Every figure of the package: shrinkage, forests, sampler geometry, the posterior of tau,
predictive checks, the pooling and shrinkage simulation studies and simulation-based
calibration -- one module per family, one label-layout engine (``_layout``), one style.

Figures take precomputed inputs -- fits, comparison tables, predictive draws, study results --
and draw them; what they show beyond the draws themselves (central intervals, a density) is
summarised from those inputs, and any convenience default (the EB ``tau_hat``, the exact
posterior) comes from a public library function.  Every function builds a
:class:`matplotlib.figure.Figure` directly (no pyplot state, never ``plt.show()``), so it is
thread-safe, safe headless (Agg), in notebooks (the returned figure displays once under
``%matplotlib inline``) and in the CLI (``fig.savefig(path)``).  Each draws into a new figure
by default, or into the axes it is given (``ax=`` for one-panel figures, ``axes=`` for
multi-panel ones) and then returns the figure holding them.  The first argument is always
``result``: whatever the figure draws (a comparison table, a fit, predictive draws, a study).

Each figure is built in the same steps (as arviz-plots' ``plot_forest``): check the inputs,
compute a small summary of what it shows, then one call per visual element, then labels and
legend.  Colours, markers and sizes come from the current :class:`~hiermodel.plots.style.Style`
(:func:`hiermodel.set_style`, :func:`hiermodel.style_context`), so every figure can be
restyled at once.

* :func:`plot_shrinkage` -- the shrinkage plot (Efron & Morris 1975; in the style of Gelman &
  Hill 2007 fig. 12.1): each group's move from no pooling ``ybar_i`` to partial pooling
  (empirical Bayes and full Bayes), marker area by ``n_i`` (or the precision ``1/se_i^2``),
  the grand mean marked;
* :func:`plot_meta_forest` -- the meta-analyst's forest plot: per group the observed
  ``y_i +- 1.96 se_i`` beside the posterior ``theta_i``, then the pooled ``mu`` (a diamond)
  and the prediction interval of a new group's ``theta_new ~ N(mu, tau^2)`` (at the mean
  covariates for a meta-regression);
* :func:`plot_bubble` -- a meta-regression's bubble plot: ``y_i`` against a covariate (bubble
  area by precision ``1/se_i^2``) with the fitted line, its credible (or confidence) band and
  the prediction band for a new group, from a fit or an empirical-Bayes ``MetaAnalysis``;
* :func:`plot_funnel` -- the funnel plot of a meta-analysis (metafor's ``funnel``; Egger et
  al. 1997), contour-enhanced (Peters et al. 2008), with trim-and-fill's filled studies
  (Duval & Tweedie 2000) and the posterior of ``mu`` beside the plug-in estimate;
* :func:`plot_influence` -- the influence diagnostics of a meta-analysis, one panel each
  (metafor's ``plot(influence(res))``; Viechtbauer & Cheung 2010), influential studies red;
* :func:`plot_cumulative` -- the cumulative forest plot (metafor's ``forest(cumul(res))``),
  with the exact posterior of ``mu`` of the same studies beside each row;
* :func:`plot_forest` -- ``theta_i`` (or other variables) across fits / methods;
* :func:`plot_sampler_geometry` -- the sampler's view of one group against ``log tau``, one
  panel per fit, divergent draws in red: the funnel of the centered form and its absence in
  the non-centered one (sampler geometry, *not* a publication-bias funnel plot);
* :func:`plot_tau` -- the posterior of ``tau`` with each empirical-Bayes ``tau_hat`` marked,
  and the shrinkage weight curves ``w_i(tau) = tau^2 / (tau^2 + se_i^2)``;
* :func:`plot_test_statistics`, :func:`plot_ppc` -- predictive checks: histograms of
  ``T(y^rep)`` against ``T(y)``, and the predictive density plot;
* :func:`plot_pooling_vs_tau`, :func:`plot_shrinkage_by_size`, :func:`plot_mse_study` -- the
  pooling and shrinkage simulation studies (:mod:`hiermodel.studies`);
* :func:`plot_sbc_ranks` -- the rank histograms of simulation-based calibration.

Posterior intervals follow the package option (:func:`hiermodel.get_options`): central
(equal-tailed, the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles) with ``prob = 0.95`` by
default, highest density with ``interval="hdi"``. The group dimension of ``theta`` may have
any name (``group``, ArviZ's ``school``, ...). Labels never overlap: group labels are spread
apart with leader lines (:func:`plot_shrinkage`), row labels shrink or thin out when rows
are too dense for them, and legends sit outside the data.
"""

from .checks import plot_ppc, plot_sampler_geometry, plot_test_statistics
from .cumulative import plot_cumulative
from .forest import plot_forest
from .funnel import plot_funnel
from .influence import plot_influence
from .meta_forest import plot_meta_forest
from .regression import plot_bubble
from .shrinkage import plot_shrinkage
from .studies import plot_mse_study, plot_pooling_vs_tau, plot_sbc_ranks, plot_shrinkage_by_size
from .style import Style, get_style, set_style, style_context
from .tau import plot_tau

__all__ = ["plot_shrinkage", "plot_meta_forest", "plot_bubble", "plot_forest",
           "plot_funnel", "plot_influence", "plot_cumulative",
           "plot_sampler_geometry", "plot_tau", "plot_test_statistics", "plot_ppc",
           "plot_pooling_vs_tau", "plot_shrinkage_by_size", "plot_mse_study", "plot_sbc_ranks",
           "Style", "get_style", "set_style", "style_context"]
