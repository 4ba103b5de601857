"""Transitional shim: removed by the lead at integration.

Re-exports, under their old names, what :mod:`hiermodel.predictive`, :mod:`hiermodel.loo`
and :mod:`hiermodel.model` now hold (``prior_predictive_draws`` is
``predictive.prior_predictive``, ``posterior_predictive_draws`` is
``predictive.posterior_predictive``).  ``plot_test_statistics`` and ``plot_ppc`` are no longer
here: they are looked up in :mod:`hiermodel.plots` on first use.
"""

from __future__ import annotations

from .exceptions import ParetoKWarning, PredictiveCheckWarning
from .loo import (
    K_RULE,
    K_THRESHOLD,
    LOO_LIKELIHOODS,
    LOO_NOTE,
    LOO_NOTES,
    compare_loo,
    compare_pooling,
    integrated_log_likelihood,
    k_threshold,
)
from .model import POOLING, no_pooling_prior_sd, pooling_model
from .predictive import (
    DEFAULT_STATS,
    P_EXTREME,
    PREDICTIVE_VARS,
    STATISTICS,
    ppc_table,
    t_statistic,
)
from .predictive import posterior_predictive as posterior_predictive_draws
from .predictive import prior_predictive as prior_predictive_draws

__all__ = [
    "prior_predictive_draws", "posterior_predictive_draws", "t_statistic", "ppc_table",
    "pooling_model", "no_pooling_prior_sd", "compare_loo", "compare_pooling",
    "ParetoKWarning", "PredictiveCheckWarning", "P_EXTREME", "STATISTICS", "DEFAULT_STATS",
    "POOLING", "PREDICTIVE_VARS", "K_THRESHOLD", "K_RULE", "k_threshold",
    "integrated_log_likelihood", "LOO_LIKELIHOODS", "LOO_NOTES", "LOO_NOTE",
]


def __getattr__(name: str):
    """``plot_test_statistics`` / ``plot_ppc``, now in :mod:`hiermodel.plots` (if there)."""
    if name in ("plot_test_statistics", "plot_ppc"):
        from . import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'hiermodel.checks' has no attribute {name!r}")
