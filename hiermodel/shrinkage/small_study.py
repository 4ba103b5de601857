"""Small-study effects of a :class:`~hiermodel.shrinkage.meta_analysis.MetaAnalysis`, with
labels: the results of :meth:`MetaAnalysis.egger_test` (metafor's ``regtest``; Egger et al.
1997), :meth:`MetaAnalysis.rank_test` (``ranktest``; Begg & Mazumdar 1994) and
:meth:`MetaAnalysis.trim_and_fill` (``trimfill``; Duval & Tweedie 2000).  The numbers come
from :mod:`hiermodel.core.small_study`; this module only labels them (it does not import
the meta-analysis module: the methods pass it what it needs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.small_study import EggerRegression, RankCorrelation, TrimFill
from ..data import HierData

__all__ = ["EggerTest", "RankTest", "TrimAndFill", "egger_test_result", "rank_test_result",
           "filled_data", "trim_and_fill_result", "estimates_of"]


def estimates_of(data: HierData | None, test: str) -> tuple[np.ndarray, np.ndarray]:
    """``(y, v)`` of the data a meta-analysis was fitted to."""
    if data is None:
        raise ValueError(f"`data`: {test} needs the studies the meta-analysis was fitted to; "
                         "fit it with hiermodel.meta_analysis(data), which keeps them.")
    return np.asarray(data.means, float), np.asarray(data.se, float) ** 2


def _p(p: float) -> str:
    return "p < .0001" if p < 1e-4 else f"p = {p:.4f}"


@dataclass(frozen=True)
class EggerTest:
    """The regression test for funnel-plot asymmetry (metafor ``regtest``; Egger et al.
    1997): the effects regressed on their standard errors.

    Attributes
    ----------
    statistic, p : float
        The z (``t`` with Knapp-Hartung or ``model="lm"``) statistic of the standard-error
        coefficient and its two-sided p-value.
    df : float
        Degrees of freedom of the t statistic (NaN for z).
    slope : float
        The standard-error coefficient.
    limit_estimate, limit_ci_low, limit_ci_high : float
        The intercept: the effect expected of a study with ``se -> 0``, with its interval at
        ``level`` (NaN for a meta-regression with covariates, as metafor).
    model, method, level :
        ``"rma"`` (the meta-regression with the fit's tau^2 estimator ``method``) or ``"lm"``
        (weighted regression with a multiplicative dispersion).
    """

    statistic: float
    p: float
    df: float
    slope: float
    limit_estimate: float
    limit_ci_low: float
    limit_ci_high: float
    model: str
    method: str
    level: float

    @property
    def statistic_name(self) -> str:
        return "z" if np.isnan(self.df) else "t"

    def __repr__(self) -> str:
        kind = ("weighted regression with multiplicative dispersion" if self.model == "lm"
                else f"mixed-effects meta-regression (tau^2: {self.method.upper()})")
        df = "" if np.isnan(self.df) else f", df = {self.df:.0f}"
        lines = ["Regression test for funnel-plot asymmetry (Egger et al. 1997; metafor "
                 "regtest)", f"  model: {kind}; predictor: standard error",
                 f"  {self.statistic_name} = {self.statistic:.4f}{df}, {_p(self.p)}"]
        if not np.isnan(self.limit_estimate):
            lines.append(f"  limit estimate (se -> 0): {self.limit_estimate:.4f} "
                         f"({100 * self.level:g}% CI {self.limit_ci_low:.4f}, "
                         f"{self.limit_ci_high:.4f})")
        return "\n".join(lines)


def egger_test_result(core: EggerRegression, level: float) -> EggerTest:
    lo, hi = core.limit_ci
    return EggerTest(statistic=core.statistic, p=core.p, df=core.df, slope=core.slope,
                     limit_estimate=core.limit, limit_ci_low=lo, limit_ci_high=hi,
                     model=core.model, method=core.method, level=float(level))


@dataclass(frozen=True)
class RankTest:
    """Begg and Mazumdar's (1994) rank correlation test (metafor ``ranktest``): Kendall's
    ``tau`` between the standardised effects and their sampling variances, and its two-sided
    ``p`` (``exact``: the exact permutation p-value, used when there are no ties)."""

    tau: float
    p: float
    exact: bool

    def __repr__(self) -> str:
        how = "exact" if self.exact else "normal approximation"
        return ("Rank correlation test for funnel-plot asymmetry (Begg & Mazumdar 1994; "
                f"metafor ranktest)\n  Kendall's tau = {self.tau:.4f}, {_p(self.p)} ({how})")


def rank_test_result(core: RankCorrelation) -> RankTest:
    return RankTest(tau=core.tau, p=core.p, exact=core.exact)


@dataclass(frozen=True, eq=False)
class TrimAndFill:
    """Duval and Tweedie's (2000) trim and fill (metafor ``trimfill``).

    Attributes
    ----------
    k0, se_k0 : int, float
        The estimated number of studies missing on ``side`` and its standard error.
    p_k0 : float
        With the R0 estimator, the p-value of no missing study on ``side``; else NaN.
    side, estimator : str
        ``"left"`` or ``"right"``; ``"L0"``, ``"R0"`` or ``"Q0"``.
    filled : DataFrame
        One row per filled study (``Filled 1``, ...): ``yi``, ``vi``, ``se`` and
        ``reflects`` (the study it mirrors about the trimmed estimate).
    adjusted : MetaAnalysis
        The meta-analysis of the observed and filled studies (same tau^2 estimator and
        level; z tests, as metafor's ``trimfill`` refits).
    data : HierData
        The augmented studies (the observed, then the filled): fit them any other way too,
        e.g. ``hiermodel.exact_posterior(taf.data)`` for the posterior of mu with the filled
        studies, or ``meta_analysis(taf.data)`` for metafor's "equal-random" approach.
    """

    k0: int
    se_k0: float
    p_k0: float
    side: str
    estimator: str
    filled: pd.DataFrame
    adjusted: Any
    data: HierData

    @property
    def estimate(self) -> float:
        """The adjusted pooled estimate."""
        return float(self.adjusted.coefficients.loc["intercept", "estimate"])

    def __repr__(self) -> str:
        row = self.adjusted.coefficients.loc["intercept"]
        lines = ["Trim and fill (Duval & Tweedie 2000; metafor trimfill), estimator "
                 f"{self.estimator}",
                 f"  estimated number of missing studies on the {self.side} side: {self.k0} "
                 f"(SE = {self.se_k0:.4f})"]
        if not np.isnan(self.p_k0):
            lines.append(f"  test of no missing studies on the {self.side} side: "
                         f"{_p(self.p_k0)}")
        level = 100 * self.adjusted.level
        lines.append(f"  adjusted estimate (k = {self.data.n_groups}): {row['estimate']:.4f} "
                     f"(se {row['se']:.4f}; {level:g}% CI {row['ci_low']:.4f}, "
                     f"{row['ci_high']:.4f})")
        return "\n".join(lines)


def filled_data(data: HierData, core: TrimFill) -> HierData:
    """``data`` with the filled studies appended (labels ``Filled 1``, ...; labels that are
    not strings, e.g. integer trial numbers, become their strings so that every label has
    one type)."""
    labels = list(data.groups)
    if not all(isinstance(g, str) for g in labels):
        labels = [str(g) for g in labels]
    new = [f"Filled {i + 1}" for i in range(core.k0)]
    return HierData.from_estimates(np.r_[np.asarray(data.means, float), core.y_fill],
                                   np.sqrt(np.r_[np.asarray(data.se, float) ** 2,
                                                 core.v_fill]),
                                   groups=labels + new)


def trim_and_fill_result(core: TrimFill, data: HierData, augmented: HierData,
                         adjusted: Any) -> TrimAndFill:
    labels = list(data.groups)
    filled = pd.DataFrame(
        {"yi": core.y_fill, "vi": core.v_fill, "se": np.sqrt(core.v_fill),
         "reflects": [labels[i] for i in core.reflected]},
        index=pd.Index([f"Filled {i + 1}" for i in range(core.k0)], name="group"))
    return TrimAndFill(k0=core.k0, se_k0=core.se_k0, p_k0=core.p_k0, side=core.side,
                       estimator=core.estimator, filled=filled, adjusted=adjusted,
                       data=augmented)
