"""Transitional shim: removed by the lead at integration.

The comparison layer moved to :mod:`hiermodel.comparison` (a module named ``compare`` would
be shadowed by the function ``hm.compare``); this module only re-exports its public names.
"""

from __future__ import annotations

from .comparison import (
    DEFAULT_HDI_PROB,
    DEFAULT_PROB,
    INTERVALS,
    check_fits,
    compare,
    compare_fits,
    compare_population,
    data_from_idata,
    fit_priors,
    normalize_group_dim,
    posterior_weights,
    summarize,
    tau_estimates,
)

__all__ = [
    "compare", "compare_population", "compare_fits", "summarize", "data_from_idata",
    "fit_priors", "tau_estimates", "posterior_weights", "normalize_group_dim", "check_fits",
    "DEFAULT_PROB", "DEFAULT_HDI_PROB", "INTERVALS",
]
