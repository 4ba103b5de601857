"""The labelled facade over the closed-form core: HierData in, xarray / pandas out.

Everything here is about the normal three-level model with known sampling sds ``se_i``

    ybar_i | theta_i ~ N(theta_i, se_i^2),    theta_i | mu, tau ~ N(mu, tau^2).

The arithmetic lives in the numpy core, :mod:`hiermodel.core` (pooling, the tau estimators,
empirical Bayes, the exact grid posterior), which works on plain arrays and broadcasts over
batches of datasets.  This package puts labels on it: it takes
:class:`~hiermodel.data.HierData` and :class:`~hiermodel.priors.Priors`, passes the core
plain numbers, and returns xarray / pandas / ArviZ objects, one module per kind of estimate:

* :mod:`~hiermodel.shrinkage.empirical_bayes` -- :func:`empirical_bayes`,
  :func:`pooling_table`, :func:`tau_estimates`;
* :mod:`~hiermodel.shrinkage.conditional` -- :func:`conditional_means`,
  :func:`rao_blackwell`, :func:`covariate_offset` (on posterior draws);
* :mod:`~hiermodel.shrinkage.exact` -- :func:`exact_posterior`, :class:`ExactPosterior`;
* :mod:`~hiermodel.shrinkage.meta_analysis` -- :func:`meta_analysis`, :class:`MetaAnalysis`;
* :mod:`~hiermodel.shrinkage.small_study` -- the results of the small-study tests
  :class:`EggerTest`, :class:`RankTest`, :class:`TrimAndFill` (``MetaAnalysis.egger_test()``,
  ``rank_test()``, ``trim_and_fill()``).

This package imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

from .conditional import conditional_means, covariate_offset, rao_blackwell
from .empirical_bayes import EmpiricalBayes, empirical_bayes, pooling_table, tau_estimates
from .exact import ExactPosterior, exact_posterior
from .meta_analysis import MetaAnalysis, meta_analysis
from .small_study import EggerTest, RankTest, TrimAndFill

__all__ = [
    "EmpiricalBayes", "empirical_bayes", "pooling_table", "tau_estimates", "conditional_means",
    "rao_blackwell", "covariate_offset",
    "ExactPosterior", "exact_posterior",
    "MetaAnalysis", "meta_analysis",
    "EggerTest", "RankTest", "TrimAndFill",
]
