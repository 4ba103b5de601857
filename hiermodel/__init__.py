"""hiermodel: full Bayesian three-level normal models (the Eight Schools family) on PyMC."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .data import HierData
from .datasets import eight_schools, seed_eight_schools

try:
    __version__ = version("hiermodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["HierData", "eight_schools", "seed_eight_schools", "__version__"]
