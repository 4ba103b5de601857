"""hiermodel: full Bayesian three-level normal models (the Eight Schools family) on PyMC.

Layers (data flows one way): ``data`` -> ``models`` -> ``fit`` -> ``compare`` / ``checks``
-> ``plots`` / ``report`` / ``cli``; ``shrinkage`` is the closed-form numpy core beside them.

The top level holds what a user needs; ``hm.plots`` (every figure) and ``hm.studies``
(simulation studies, SBC) are namespaces, imported on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .data import HierData
from .datasets import eight_schools, eight_schools_summary
from .exceptions import (
    HierModelWarning,
    ParetoKWarning,
    PredictiveCheckWarning,
    PriorDataConflictWarning,
    SamplingWarning,
)
from .fit import (
    Diagnostics,
    diagnose,
    diagnostics,
    fit,
    load,
    save,
)
from .models import Priors, build_model, prior_predictive

try:
    __version__ = version("hiermodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "HierData", "eight_schools", "eight_schools_summary", "Priors", "build_model",
    "prior_predictive", "fit", "diagnose", "diagnostics", "Diagnostics", "save", "load",
    "HierModelWarning", "SamplingWarning", "PriorDataConflictWarning", "PredictiveCheckWarning",
    "ParetoKWarning", "plots", "studies", "__version__",
]


def __getattr__(name: str):
    """``hm.plots`` and ``hm.studies``, imported on first use (they are not needed to fit)."""
    if name in ("plots", "studies"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'hiermodel' has no attribute {name!r}")
