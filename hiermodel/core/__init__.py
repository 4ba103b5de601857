"""The closed-form numpy core of the normal three-level model with known sampling sds ``se_i``

    ybar_i | theta_i ~ N(theta_i, se_i^2),    theta_i | mu, tau ~ N(mu, tau^2),

whose marginal likelihood is ``ybar_i | mu, tau ~ N(mu, tau^2 + se_i^2)`` (the three-level
normal model, BDA3 section 5.4).  For the summary form (ybar_i, n_i, sigma)
``se_i = sigma / sqrt(n_i)``.

Plain arrays in, plain arrays out, with the **group axis last** and any leading batch axes
(a simulation study passes ``means`` of shape ``(10000, 8)`` in one call); per-dataset
parameters (``mu``, ``tau``) have the batch shape only.  No labels, no Python loops over
datasets, and no dependency beyond numpy and scipy (not xarray, pandas, PyMC or ArviZ; from
hiermodel only the numpy-only argument checks of ``hiermodel._validate``).  The labelled
facade (:class:`~hiermodel.data.HierData` in, xarray / pandas out) is
:mod:`hiermodel.shrinkage`.

* :mod:`~hiermodel.core.pooling` -- no / complete / partial pooling, shrinkage weights, the
  conditional posterior of ``theta_i`` given ``(mu, tau)`` (BDA3 eq. 5.17) and the sd-of-means
  plug-in ``mu_hat = mean(ybar)``, ``tau_hat = sd(ybar)``;
* :mod:`~hiermodel.core.tau` -- the tau estimators, empirical Bayes and the restricted
  log-likelihood;
* :mod:`~hiermodel.core.metareg` -- meta-regression (group-level covariates): tau^2 by REML,
  ML, DL, PM, HE, SJ, HS and the equal-effects model, Q, I^2, H^2, R^2, the Q-profile
  interval, Knapp-Hartung, prediction intervals;
* :mod:`~hiermodel.core.small_study` -- small-study effects (one dataset per call): the
  regression test (Egger et al. 1997), the rank correlation test (Begg & Mazumdar 1994) and
  trim and fill (Duval & Tweedie 2000), as metafor's ``regtest``, ``ranktest``, ``trimfill``;
* :mod:`~hiermodel.core.tau_grid` -- the marginal likelihood of tau (``mu`` or the
  coefficients integrated out), the adaptive tau grid, its quadrature, mixture quantiles and
  predictive quantiles;
* :mod:`~hiermodel.core.exact_known_se` -- the exact grid posterior with known sampling sds
  (BDA3 section 5.4), with or without covariates;
* :mod:`~hiermodel.core.exact_unknown_sigma` -- the exact posterior of raw rows with sigma
  unknown on a 2-D (tau, sigma) grid, and the likelihood of the within-group sums of squares;
* :mod:`~hiermodel.core.arrays` -- the array checks and numerical helpers they share.
"""

from __future__ import annotations

from .exact_known_se import (
    GridPosterior,
    RegressionGridPosterior,
    grid_posterior,
    regression_grid_posterior,
)
from .exact_unknown_sigma import UnknownSigmaGridPosterior, ss_logpdf, unknown_sigma_grid_posterior
from .metareg import (
    METAREG_METHODS,
    MetaRegression,
    design_matrix,
    generalized_q,
    meta_regression,
    prediction_interval,
    q_profile_interval,
    r_squared,
)
from .pooling import (
    SdOfMeansEstimates,
    complete_pooling,
    conditional_posterior,
    no_pooling,
    partial_pooling,
    precision_weighted_mean,
    sd_of_means_estimates,
    shrinkage_weights,
)
from .small_study import (
    EggerRegression,
    RankCorrelation,
    TrimFill,
    egger_regression,
    rank_correlation,
    trim_fill,
)
from .tau import (
    EB_METHODS,
    TAU_METHOD_NAMES,
    TAU_METHODS,
    EBEstimates,
    TauEstimate,
    eb_core,
    estimate_tau,
    restricted_loglik,
)
from .tau_grid import (
    Marginal,
    RegressionMarginal,
    marginal,
    marginal_regression,
    predictive_quantiles,
)

__all__ = [
    "TAU_METHODS", "TAU_METHOD_NAMES", "EB_METHODS",
    "no_pooling", "precision_weighted_mean", "complete_pooling", "shrinkage_weights",
    "partial_pooling",
    "conditional_posterior", "SdOfMeansEstimates", "sd_of_means_estimates",
    "TauEstimate", "estimate_tau", "EBEstimates", "eb_core", "restricted_loglik",
    "GridPosterior", "grid_posterior", "predictive_quantiles", "RegressionGridPosterior",
    "regression_grid_posterior", "UnknownSigmaGridPosterior", "unknown_sigma_grid_posterior",
    "ss_logpdf", "Marginal", "marginal", "RegressionMarginal", "marginal_regression",
    "METAREG_METHODS", "MetaRegression", "meta_regression", "design_matrix", "generalized_q",
    "q_profile_interval", "r_squared", "prediction_interval",
    "EggerRegression", "egger_regression", "RankCorrelation", "rank_correlation", "TrimFill",
    "trim_fill",
]
