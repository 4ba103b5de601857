"""Priors: a small, validated, printable description of the hyperpriors.

    mu    ~ Normal(mu_mean, mu_sd)           (mu_sd=None: flat, improper)
    tau   ~ Half-Cauchy(tau_scale)           (default)
          | Half-Normal(tau_scale)           (the seed's alternative)
          | Uniform(0, tau_scale)            (BDA3 section 5.4's reference choice)
    sigma ~ Half-Normal(sigma_scale)         (only when the within-group sd is unknown)

The defaults, ``mu ~ Normal(0, 5)`` and ``tau ~ Half-Cauchy(5)``, are those of the classic
PyMC Eight Schools example.  They are on the scale of the data: rescale them for data
measured in other units.

This module imports neither PyMC nor PyTensor, so the numpy core (:mod:`hiermodel.shrinkage`)
can use it too; :mod:`hiermodel.models` turns it into PyMC distributions.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

__all__ = ["Priors", "TAU_PRIORS", "SIGMA_PRIORS"]

TAU_PRIORS = ("halfcauchy", "halfnormal", "uniform")
SIGMA_PRIORS = ("halfnormal", "halfcauchy")

_ALIASES = {
    "halfcauchy": "halfcauchy", "half-cauchy": "halfcauchy", "half_cauchy": "halfcauchy",
    "halfnormal": "halfnormal", "half-normal": "halfnormal", "half_normal": "halfnormal",
    "uniform": "uniform",
}


def _real(name: str, value: Any, *, positive: bool, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Priors: `{name}` must be a real number, got {type(value).__name__} "
                        f"{value!r}.")
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"Priors: `{name}` must be finite, got {value!r}.")
    if positive and v <= 0:
        raise ValueError(f"Priors: `{name}` is a scale and must be > 0, got {value!r}.")
    return v


def _family(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Priors: `{name}` must be a string, one of {allowed}; got {value!r}.")
    key = _ALIASES.get(value.strip().lower())
    if key not in allowed:
        raise ValueError(f"Priors: requested `{name}`={value!r} but it must be one of {allowed}.")
    return key


@dataclass(frozen=True)
class Priors:
    """Hyperpriors of the three-level normal model.

    Parameters
    ----------
    mu_mean, mu_sd : float
        ``mu ~ Normal(mu_mean, mu_sd)``; ``mu_sd=None`` gives a flat prior (only for the
        exact posterior; NUTS needs a proper prior). Defaults ``0`` and ``5``.
    tau : {"halfcauchy", "halfnormal", "uniform"}
        Family of the prior on the between-group sd. Default ``"halfcauchy"``.
    tau_scale : float
        Scale of the tau prior (upper bound for ``"uniform"``). Default ``5``.
    sigma : {"halfnormal", "halfcauchy"}
        Prior family for the within-group sd when it is unknown. Default ``"halfnormal"``.
    sigma_scale : float or None
        Its scale. ``None`` (default) means ``2.5 x`` the pooled within-group sd of the data,
        a weakly-informative, data-scaled choice (as rstanarm's autoscaling).
    """

    mu_mean: float = 0.0
    mu_sd: float | None = 5.0
    tau: str = "halfcauchy"
    tau_scale: float = 5.0
    sigma: str = "halfnormal"
    sigma_scale: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mu_mean", _real("mu_mean", self.mu_mean, positive=False))
        object.__setattr__(self, "mu_sd",
                           _real("mu_sd", self.mu_sd, positive=True, allow_none=True))
        object.__setattr__(self, "tau", _family("tau", self.tau, TAU_PRIORS))
        object.__setattr__(self, "tau_scale", _real("tau_scale", self.tau_scale, positive=True))
        object.__setattr__(self, "sigma", _family("sigma", self.sigma, SIGMA_PRIORS))
        object.__setattr__(self, "sigma_scale",
                           _real("sigma_scale", self.sigma_scale, positive=True, allow_none=True))

    # ------------------------------------------------------------------ scipy views
    def mu_dist(self):
        """``scipy.stats`` frozen prior of mu, or None for the flat prior."""
        return None if self.mu_sd is None else stats.norm(self.mu_mean, self.mu_sd)

    def tau_dist(self):
        """``scipy.stats`` frozen prior of tau."""
        if self.tau == "halfcauchy":
            return stats.halfcauchy(scale=self.tau_scale)
        if self.tau == "halfnormal":
            return stats.halfnorm(scale=self.tau_scale)
        return stats.uniform(0.0, self.tau_scale)

    # ------------------------------------------------------------------ printing
    def describe(self) -> str:
        """One line in mathematical notation."""
        mu = "flat" if self.mu_sd is None else f"Normal({self.mu_mean:g}, {self.mu_sd:g})"
        tau = {"halfcauchy": "HalfCauchy({})", "halfnormal": "HalfNormal({})",
               "uniform": "Uniform(0, {})"}[self.tau].format(f"{self.tau_scale:g}")
        ss = "2.5*sd(y)" if self.sigma_scale is None else f"{self.sigma_scale:g}"
        sig = {"halfnormal": "HalfNormal({})", "halfcauchy": "HalfCauchy({})"}[self.sigma]
        return f"mu ~ {mu}; tau ~ {tau}; sigma ~ {sig.format(ss)} (if unknown)"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for InferenceData attrs and reports)."""
        return asdict(self)

    def __str__(self) -> str:
        return self.describe()
