"""hiermodel: full Bayesian three-level normal models (the Eight Schools family) on PyMC.

Layers (data flows one way)::

    data, priors  ->  model (every PyMC graph)  ->  sampling (fit)  ->  diagnostics, io
    core (numpy only)  ->  shrinkage (labelled EB, exact posterior)  ->  comparison
    predictive, loo (checks)        plots (every figure)       report -> cli

The top level holds what a user needs; ``hm.plots`` (every figure), ``hm.studies``
(simulation studies, SBC) and ``hm.core`` (the numpy closed-form core) are namespaces.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from ._version import __version__
from .exceptions import (
    HierModelWarning,
    ParetoKWarning,
    PredictiveCheckWarning,
    PriorDataConflictWarning,
    SamplingWarning,
)
from .interrupt import exit_on_interrupt
from .options import get_options, option_context, set_options

if TYPE_CHECKING:   # the names below are imported on first use (``__getattr__``)
    from . import core, plots, studies
    from .comparison import compare, compare_fits, compare_population, summarize
    from .data import HierData
    from .datasets import eight_schools, eight_schools_summary, eight_schools_unrounded
    from .diagnostics import convergence_table, prior_data_conflict, sampling_diagnostics
    from .io import load, save
    from .loo import compare_loo, compare_pooling
    from .model import build_model
    from .model_spec import HierModel
    from .plots.style import Style, get_style, set_style, style_context
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
    # package-wide defaults (the interval convention) and the style of every figure
    "get_options", "set_options", "option_context",
    "Style", "get_style", "set_style", "style_context",
    # warnings
    "HierModelWarning", "SamplingWarning", "PriorDataConflictWarning", "PredictiveCheckWarning",
    "ParetoKWarning",
    # namespaces
    "core", "plots", "studies", "__version__",
]

#: where each top-level name lives; imported on first use, so ``import hiermodel`` (and the
#: command's ``--help``) does not pay for PyMC, ArviZ or matplotlib until something needs them
_HOMES = {
    "compare": "comparison", "compare_fits": "comparison",
    "compare_population": "comparison", "summarize": "comparison",
    "HierData": "data",
    "eight_schools": "datasets", "eight_schools_summary": "datasets",
    "eight_schools_unrounded": "datasets",
    "convergence_table": "diagnostics", "prior_data_conflict": "diagnostics",
    "sampling_diagnostics": "diagnostics",
    "load": "io", "save": "io",
    "compare_loo": "loo", "compare_pooling": "loo",
    "HierModel": "model_spec", "build_model": "model",
    "posterior_predictive": "predictive", "ppc_table": "predictive",
    "prior_predictive": "predictive",
    "Style": "plots.style", "get_style": "plots.style", "set_style": "plots.style",
    "style_context": "plots.style",
    "Priors": "priors",
    "fit": "sampling",
    "empirical_bayes": "shrinkage", "exact_posterior": "shrinkage",
    "meta_analysis": "shrinkage", "pooling_table": "shrinkage", "tau_estimates": "shrinkage",
}


def _is_submodule(name: str) -> bool:
    return not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None


def __getattr__(name: str):
    """The top-level names and the modules (``hm.core``, ``hm.plots``, ``hm.studies``,
    ``hm.datasets``, ...), imported on first use."""
    if name not in _HOMES and not _is_submodule(name):
        raise AttributeError(f"module 'hiermodel' has no attribute {name!r}")
    with exit_on_interrupt():   # Ctrl-C of the command while PyMC imports: one line, exit 130
        if name in _HOMES:
            value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
        else:
            value = importlib.import_module(f".{name}", __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
