"""Transitional shim: removed by the lead at integration.

Simulation-based calibration moved to :mod:`hiermodel.studies.calibration`; the rank
histograms to :func:`hiermodel.plots.plot_sbc_ranks`.
"""

from __future__ import annotations

from .studies.calibration import (
    HEALTH_COLUMNS,
    SBC_PARAMS,
    SBC_PRIORS,
    TESTS,
    SBCResult,
    SBCVerdict,
    rank_uniformity,
    sbc,
)

__all__ = ["SBCResult", "SBCVerdict", "sbc", "rank_uniformity", "SBC_PARAMS", "SBC_PRIORS",
           "HEALTH_COLUMNS", "TESTS"]
