"""What one report run computed, as frozen, typed data (the report is rendered from it).

:func:`hiermodel.report.run_report` computes a :class:`ReportResult` once, in order
(:mod:`.compute`, :mod:`.figures`), renders ``report.md`` from its named fields
(:mod:`.render`) and writes the folder (:mod:`.files`); the result it returns prints as the
report text, as arviz-stats' ``ELPDData`` is computed by ``loo`` and printed by itself.
Every field is read-only: assigning one raises ``dataclasses.FrozenInstanceError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from ..transforms import Transform

__all__ = ["RunSettings", "ReportTables", "EBEstimate", "NewGroup", "ReportChecks",
           "ReportResult"]


@dataclass(frozen=True)
class RunSettings:
    """The run's inputs, as the report states them."""

    title: str
    command: str
    seed: int
    sampler: str
    parameterization: str
    draws: int
    tune: int
    chains: int
    eb_method: str
    transform: Transform
    knha: bool
    interval: str        # "eti" (central) or "hdi" (highest density), resolve_interval's
    prob: float          # the probability mass of every interval

    @property
    def interval_columns(self) -> tuple[str, str]:
        """The names :func:`hiermodel.compare` gives the interval ends: ``eti_low`` ..."""
        return f"{self.interval}_low", f"{self.interval}_high"

    @property
    def central_quantiles(self) -> tuple[float, float]:
        """The lower and upper quantile of the central interval of mass ``prob``."""
        return (1 - self.prob) / 2, (1 + self.prob) / 2


@dataclass(frozen=True)
class ReportTables:
    """The tables of the report, each also written as a CSV (None: not computed)."""

    comparison: pd.DataFrame                  # compare(): one row per group
    comparison_scaled: pd.DataFrame | None    # the same on the transform's scale
    population: pd.DataFrame                  # compare_population(): mu, tau, ...
    exact: pd.DataFrame | None                # the exact posterior's summary
    ppc: pd.DataFrame                         # predictive checks, rows (replicate, statistic)
    diagnostics: pd.DataFrame                 # convergence_table(), rows parameters
    influence: pd.DataFrame | None = None     # MetaAnalysis.influence() (estimates data)


@dataclass(frozen=True)
class EBEstimate:
    """The intercept-only empirical-Bayes fit y ~ Normal(mu, tau^2 + se_i^2) of the data."""

    method: str
    mu: float
    mu_se: float
    tau: float


@dataclass(frozen=True)
class NewGroup:
    """theta_new ~ Normal(mu, tau^2), a new group (at the average covariates)."""

    mean: float                                # predictive mean (the mean of mu's draws)
    quantiles: tuple[float, float, float]      # central: lower, median, upper
    exact: tuple[float, float] | None          # the exact posterior's central interval
    mu_scaled: tuple[float, float, float] | None   # mu's quantiles on the transform's scale
    scaled: tuple[float, float, float] | None      # the quantiles above, transformed


@dataclass(frozen=True)
class StudyChecks:
    """Influence, small-study effects and exact Bayes factors of estimates-form data (a
    meta-analysis): computed once, rendered in the report's own section."""

    influence: pd.DataFrame          # MetaAnalysis.influence(): one row per study
    egger: Any                       # MetaAnalysis.egger_test(): EggerTest
    rank: Any | None                 # MetaAnalysis.rank_test() (no covariates), else None
    trim_fill: Any | None            # MetaAnalysis.trim_and_fill() (no covariates), else None
    bf_tau: float | None             # exact BF01 for tau = 0 (None: not computed)
    bf_mu: float | None              # exact BF01 for mu = 0 (None: flat mu prior or not computed)


@dataclass(frozen=True)
class ReportChecks:
    """What the run checked: sampling diagnostics and the warnings it raised."""

    diagnostics: Any                           # hiermodel.diagnostics.Diagnostics
    warnings: tuple[tuple[str, str], ...]      # (kind, message), figures skipped included
    n_replicates: int                          # replicated datasets of the predictive checks


@dataclass(frozen=True)
class ReportResult:
    """Everything one run computed and wrote; ``str(result)`` is the text of ``report.md``.

    Attributes
    ----------
    settings : RunSettings
        The run's inputs (seed, sampler, interval, ...).
    data : HierData
    priors : Priors
        The resolved priors the fit used.
    idata, predictive : DataTree
        The fit, and the fit with its posterior predictive draws (saved as ``idata.nc``).
    tables : ReportTables
    exact : ExactPosterior or None
        The exact (grid) posterior; None when sigma is estimated with covariates.
    meta : MetaAnalysis or None
        :func:`hiermodel.meta_analysis` (covariates or estimates data), else None.
    meta_prediction, meta_prediction_scaled : pandas.Series or None
        Its prediction for a new group at the average covariates (and on the transform's
        scale).
    eb : EBEstimate
    new_group : NewGroup
    checks : ReportChecks
    figures : tuple of (file name, caption)
    seconds : float
    studies : StudyChecks or None
        Influence, small-study tests and Bayes factors (estimates-form data), else None.
        Run time up to the report text.
    files : mapping of str to Path
        What the run wrote, by kind (``"report"``, ``"comparison"``, ``"fig_forest"``, ...),
        at their final place; empty until the folder is written.
    """

    settings: RunSettings
    data: Any
    priors: Any
    idata: Any
    predictive: Any
    tables: ReportTables
    exact: Any
    meta: Any
    meta_prediction: pd.Series | None
    meta_prediction_scaled: pd.Series | None
    eb: EBEstimate
    new_group: NewGroup
    checks: ReportChecks
    figures: tuple[tuple[str, str], ...]
    seconds: float
    studies: StudyChecks | None = None
    files: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    def to_markdown(self) -> str:
        """The text of ``report.md``."""
        from .render import render_report

        return render_report(self)

    def __str__(self) -> str:
        return self.to_markdown()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        s = self.settings
        return (f"ReportResult({s.title!r}: {self.data.n_groups} groups, {s.parameterization} "
                f"fit with {s.sampler}, seed {s.seed}, {len(self.files)} files"
                + (f" in {next(iter(self.files.values())).parent}" if self.files else "")
                + ")")
