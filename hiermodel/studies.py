"""Simulation studies, the seed text's exercises and simulation-based calibration, in one
namespace (``hm.studies``): everything is re-exported from :mod:`hiermodel.simulate` and
:mod:`hiermodel.sbc`, where it is documented."""

from __future__ import annotations

from .sbc import SBC_PRIORS, SBCResult, SBCVerdict, rank_uniformity, sbc
from .simulate import (
    MSEStudy,
    SimulatedArrays,
    Simulation,
    default_executor,
    fit_replicates,
    map_chunked,
    mse_study,
    pooling_vs_tau,
    replicate_seeds,
    shrinkage_by_size,
    simulate,
    simulate_arrays,
)

__all__ = [
    "simulate", "simulate_arrays", "Simulation", "SimulatedArrays", "pooling_vs_tau",
    "shrinkage_by_size", "mse_study", "MSEStudy", "fit_replicates", "map_chunked",
    "replicate_seeds", "default_executor", "sbc", "SBCResult", "SBCVerdict", "SBC_PRIORS",
    "rank_uniformity",
]
