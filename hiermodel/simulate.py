"""Transitional shim: removed by the lead at integration.

The simulation studies moved to :mod:`hiermodel.studies` (``simulate``, ``executors``,
``exercises``); their figures to :mod:`hiermodel.plots`.  ``SEED_N`` / ``SEED_SIGMA`` are now
``SUMMARY_N`` / ``SUMMARY_SIGMA``.
"""

from __future__ import annotations

from .studies.executors import (
    ExecutorLike,
    default_executor,
    fit_replicates,
    map_chunked,
    replicate_fit_kwargs,
)
from .studies.exercises import MSEStudy, mse_study, pooling_vs_tau, shrinkage_by_size
from .studies.simulation import (
    SUMMARY_N,
    SUMMARY_SIGMA,
    SimulatedArrays,
    Simulation,
    replicate_seeds,
    simulate,
    simulate_arrays,
)

SEED_N = SUMMARY_N
SEED_SIGMA = SUMMARY_SIGMA

__all__ = [
    "Simulation", "SimulatedArrays", "simulate", "simulate_arrays", "pooling_vs_tau",
    "shrinkage_by_size", "MSEStudy", "mse_study", "fit_replicates", "map_chunked",
    "replicate_seeds", "default_executor", "replicate_fit_kwargs", "ExecutorLike",
    "SEED_N", "SEED_SIGMA", "SUMMARY_N", "SUMMARY_SIGMA",
]
