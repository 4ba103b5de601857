r"""Full posterior vs empirical Bayes vs the exact posterior, as tables and in words.

For the three-level normal model ``ybar_i | theta_i ~ N(theta_i, se_i^2)``,
``theta_i | mu, tau ~ N(mu, tau^2)``, every estimate of ``theta_i`` this package produces is
put side by side, one row per group (:func:`compare`):

* the three pooling strategies (BDA3 section 5.5; Gelman & Hill 2007 ch. 12): no pooling
  ``ybar_i``, complete pooling (the precision-weighted mean, the common-effect estimate) and
  partial pooling ``w_i ybar_i + (1 - w_i) mu`` with the shrinkage weight
  ``w_i = tau^2 / (tau^2 + se_i^2)`` -- by empirical Bayes (``tau_hat`` from an estimator of
  :func:`hiermodel.core.estimate_tau`; Morris 1983) and by the sd-of-means plug-in
  ``mu_hat = mean(ybar)``, ``tau_hat = sd(ybar)`` (a naive moment estimator that ignores the
  sampling variance of ``ybar_i``);
* the full-Bayes posterior mean, sd and credible interval of ``theta_i`` from the draws
  (ArviZ), with the Monte Carlo standard error of the mean.  The interval is central
  (equal-tailed, ``interval="eti"``, columns ``eti_low``/``eti_high``) or highest-density
  (``interval="hdi"``, columns ``hdi_low``/``hdi_high``), of mass ``prob``; both default to
  the package options (:func:`hiermodel.get_options`: a 95% central interval unless set);
* the Rao-Blackwellised posterior mean -- the mean of the conditional posterior of ``theta_i``
  given ``(mu, tau)`` (BDA3 eq. 5.17) averaged over the posterior draws of ``(mu, tau)``::

      E[theta_i | y] = E[ w_i ybar_i + (1 - w_i) mu | y ]
                     ~ (1/S) sum_s ( w_i(tau_s) ybar_i + (1 - w_i(tau_s)) mu_s )

  with its own MCSE (ArviZ's ``mcse`` on the per-draw conditional means);
* the posterior shrinkage factor ``E[1 - w_i | y]`` (0 = no pooling, 1 = complete pooling);
* the exact posterior mean (sampling-free, :func:`hiermodel.shrinkage.exact_posterior`):
  with known sampling sds, and for raw rows with sigma unknown (no covariates) on a
  (tau, sigma) grid.

The population parameters get their own table, :func:`compare_population` (rows ``mu``,
``tau`` and, when it is estimated, ``sigma``; EB point estimate vs posterior mean and
interval), and several fits of the same data compare as one tidy long table,
:func:`compare_fits`.  :func:`summarize` turns a comparison into a few sentences on who
moved, how far and why.

Every function takes ``InferenceData`` from :func:`hiermodel.fit`, from
:meth:`hiermodel.shrinkage.ExactPosterior.sample`, or from another fit of the same model
(e.g. ArviZ's ``centered_eight``): the group dimension of ``theta`` may have any name
(``group``, ``school``, ...) and the tables keep that name.  Fits carry their data
(``observed_data``/``constant_data``) and ``data=None`` rebuilds it
(:func:`data_from_idata`); exact draws do not, so pass ``data=`` with them.  A ``data``
passed with a fit that carries its own must be that data (labels and values): a fit of one
dataset is never silently compared with another.

One module per job:

* :mod:`~hiermodel.comparison.fit_inputs` -- what a fit carries: its group dimension, data,
  priors and exact posterior;
* :mod:`~hiermodel.comparison.draw_summaries` -- draws to mean, sd, interval, MCSE, ESS,
  R-hat; the interval arguments resolved against the options;
* :mod:`~hiermodel.comparison.tables` -- :func:`compare` and :func:`compare_population`;
* :mod:`~hiermodel.comparison.several_fits` -- :func:`compare_fits`;
* :mod:`~hiermodel.comparison.text` -- :func:`summarize`.
"""

from __future__ import annotations

from .fit_inputs import data_from_idata, fit_priors, normalize_group_dim, posterior_weights
from .several_fits import check_fits, compare_fits
from .tables import TRANSFORMED_POINT_COLUMNS, compare, compare_population
from .text import summarize

__all__ = [
    "compare", "compare_population", "compare_fits", "summarize", "data_from_idata",
    "fit_priors", "posterior_weights", "normalize_group_dim", "check_fits",
    "TRANSFORMED_POINT_COLUMNS",
]
