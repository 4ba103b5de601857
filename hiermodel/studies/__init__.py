"""Simulation studies of pooling and shrinkage, and simulation-based calibration: the
``hm.studies`` namespace.

* :mod:`~hiermodel.studies.simulation` -- data from the three-level model (:func:`simulate`,
  :func:`simulate_arrays`) and per-replicate seeds (:func:`replicate_seeds`);
* :mod:`~hiermodel.studies.executors` -- serial by default, or fanned out over a process
  pool or Dask (:func:`map_chunked`, :func:`fit_replicates`, :func:`default_executor`);
* :mod:`~hiermodel.studies.exercises` -- pooling and shrinkage studies (:func:`pooling_vs_tau`,
  :func:`shrinkage_by_size`, :func:`mse_study`);
* :mod:`~hiermodel.studies.calibration` -- simulation-based calibration (:func:`sbc`).

No submodule shares a name with a function it exports (``hiermodel.studies.sbc`` is the
function, :mod:`hiermodel.studies.calibration` its module).  Studies return results (tables,
:class:`MSEStudy`, :class:`SBCResult`); their figures are in :mod:`hiermodel.plots`, which
reads those results.
"""

from __future__ import annotations

from .calibration import SBC_PRIORS, SBCResult, SBCVerdict, rank_uniformity, sbc
from .executors import default_executor, fit_replicates, map_chunked
from .exercises import MSEStudy, mse_study, pooling_vs_tau, shrinkage_by_size
from .simulation import (
    SUMMARY_N,
    SUMMARY_SIGMA,
    SimulatedArrays,
    Simulation,
    replicate_seeds,
    simulate,
    simulate_arrays,
)

__all__ = [
    "simulate", "simulate_arrays", "Simulation", "SimulatedArrays", "pooling_vs_tau",
    "shrinkage_by_size", "mse_study", "MSEStudy", "fit_replicates", "map_chunked",
    "replicate_seeds", "default_executor", "sbc", "SBCResult", "SBCVerdict", "SBC_PRIORS",
    "rank_uniformity", "SUMMARY_N", "SUMMARY_SIGMA",
]
