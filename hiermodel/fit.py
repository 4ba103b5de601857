"""Transitional shim: removed by the lead at integration.

Re-exports, under their old names, what :mod:`hiermodel.sampling`, :mod:`hiermodel.diagnostics`
and :mod:`hiermodel.io` now hold (``diagnose`` is ``convergence_table``, ``diagnostics`` is
``sampling_diagnostics``).
"""

from __future__ import annotations

from . import sampling as _sampling
from .diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX, Diagnostics, prior_data_conflict
from .diagnostics import convergence_table as diagnose
from .diagnostics import sampling_diagnostics as diagnostics
from .exceptions import HierModelWarning, PriorDataConflictWarning, SamplingWarning
from .io import load, save
from .sampling import (
    DEFAULT_PARAMETERIZATION,
    DEFAULT_TARGET_ACCEPT,
    SAMPLERS,
    clear_model_cache,
    fit,
    running_in_ci,
)

#: the compiled-model cache itself, for tests/test_priors.py until it uses
#: hiermodel.sampling.model_cache_size()
_CACHE = _sampling._CACHE

__all__ = [
    "fit", "diagnose", "Diagnostics", "diagnostics", "save", "load", "HierModelWarning",
    "SamplingWarning", "PriorDataConflictWarning", "prior_data_conflict", "SAMPLERS",
    "DEFAULT_TARGET_ACCEPT", "DEFAULT_PARAMETERIZATION", "clear_model_cache", "running_in_ci",
    "RHAT_MAX", "ESS_MIN", "BFMI_MIN",
]
