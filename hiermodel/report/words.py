"""The words the report chooses from the run: what the data's values are called, the
interval's name.  Chosen once from the data kind and the settings, never patched into
finished text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..formatting import format_number

if TYPE_CHECKING:
    from .result import RunSettings

__all__ = ["DataTerms", "IntervalTerms", "sigma_text", "known_sigma_only",
           "GRID_OVER"]

#: what the exact posterior integrates over besides tau, by whether sigma is known
GRID_OVER = {True: "tau", False: "tau and sigma"}


@dataclass(frozen=True)
class DataTerms:
    """Names of the data's group values: estimates ``y_i`` or group means ``ybar_i``."""

    ybar: str     # "y" for estimates, "ybar" for group means (as in "mean(ybar)")
    own: str      # "estimate" or "mean"

    @classmethod
    def of(cls, data: Any) -> DataTerms:
        symbol = data.value_symbol
        return cls(ybar=symbol, own="estimate" if symbol == "y" else "mean")

    @property
    def ybar_i(self) -> str:
        return f"{self.ybar}_i"


@dataclass(frozen=True)
class IntervalTerms:
    """How the report names its intervals.  Posterior intervals of parameters are of the
    run's kind (``eti``: central, ``hdi``: highest density); prediction intervals, the exact
    posterior's quantiles and the figures' intervals are central in either case, and say
    so when the posterior intervals are HDIs."""

    kind: str
    pct: str          # "95%"
    low_pct: str      # "2.5%": the lower quantile of the central interval
    high_pct: str     # "97.5%"

    @classmethod
    def of(cls, settings: RunSettings) -> IntervalTerms:
        lo, hi = settings.central_quantiles
        return cls(kind=settings.interval, pct=f"{100 * settings.prob:g}%",
                   low_pct=f"{100 * lo:g}%", high_pct=f"{100 * hi:g}%")

    @property
    def is_hdi(self) -> bool:
        return self.kind == "hdi"

    @property
    def central(self) -> str:
        """``""`` (every interval is central) or ``" central"`` (posterior ones are HDIs)."""
        return " central" if self.is_hdi else ""

    @property
    def posterior(self) -> str:
        """The name of a posterior interval: ``"95% interval"`` / ``"95% HDI"``."""
        return f"{self.pct} HDI" if self.is_hdi else f"{self.pct} interval"


def sigma_text(data: Any) -> str:
    sig = np.unique(np.asarray(data.sigma, float))
    return (f"sigma = {format_number(float(sig[0]))}" if sig.size == 1
            else "sigma_i (one per group)")


def known_sigma_only(priors: Any, data: Any) -> str:
    """The priors in one line, without sigma's when sigma is known (it is not used)."""
    return "; ".join(f"{name} ~ {text}" for name, text in priors.describe_each().items()
                     if not (name == "sigma" and data.sigma_known))
