"""hiermodel: full Bayesian three-level normal models (the Eight Schools family) on PyMC.

Layers (data flows one way)::

    data, priors  ->  model (every PyMC graph)  ->  sampling (fit)  ->  diagnostics, io
    core (numpy only)  ->  shrinkage (labelled EB, exact posterior)  ->  comparison
    predictive, loo (checks)        plots (every figure)       report -> cli

The top level holds what a user needs; ``hm.plots`` (every figure), ``hm.studies``
(simulation studies, SBC) and ``hm.core`` (the numpy closed-form core) are namespaces.
"""

from __future__ import annotations

from .interrupt import exit_on_interrupt

with exit_on_interrupt():   # Ctrl-C of the command while PyMC imports: one line, exit 130
    from . import core
    from ._version import __version__
    from .comparison import compare, compare_fits, compare_population, summarize
    from .data import HierData
    from .datasets import eight_schools, eight_schools_summary, eight_schools_unrounded
    from .diagnostics import convergence_table, prior_data_conflict, sampling_diagnostics
    from .exceptions import (
        HierModelWarning,
        ParetoKWarning,
        PredictiveCheckWarning,
        PriorDataConflictWarning,
        SamplingWarning,
    )
    from .io import load, save
    from .loo import compare_loo, compare_pooling
    from .model import HierModel, build_model
    from .predictive import posterior_predictive, ppc_table, prior_predictive
    from .priors import Priors
    from .sampling import fit
    from .shrinkage import (
        empirical_bayes,
        exact_posterior,
        meta_analysis,
        pooling_table,
        tau_estimates,
    )

__all__ = [
    # data and priors
    "HierData", "eight_schools", "eight_schools_unrounded", "eight_schools_summary", "Priors",
    # model, fit, diagnostics, files
    "build_model", "HierModel", "fit", "sampling_diagnostics", "convergence_table",
    "prior_data_conflict", "save", "load",
    # closed forms and the comparison with the full posterior
    "empirical_bayes", "pooling_table", "tau_estimates", "exact_posterior", "meta_analysis",
    "compare",
    "compare_population", "compare_fits", "summarize",
    # predictive checks and LOO
    "prior_predictive", "posterior_predictive", "ppc_table", "compare_loo", "compare_pooling",
    # warnings
    "HierModelWarning", "SamplingWarning", "PriorDataConflictWarning", "PredictiveCheckWarning",
    "ParetoKWarning",
    # namespaces
    "core", "plots", "studies", "__version__",
]


def __getattr__(name: str):
    """``hm.plots`` and ``hm.studies``, imported on first use (they are not needed to fit)."""
    if name in ("plots", "studies"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hiermodel' has no attribute {name!r}")
