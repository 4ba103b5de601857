"""Everything a report run computes, once and in order: the fit, its predictive draws, the
group / population / exact-posterior / predictive-check tables, the empirical-Bayes fits and
the new-group summaries.  Nothing here writes a file or a word of the report."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import stack
from ..core import predictive_quantiles
from .result import EBEstimate, NewGroup, ReportTables, RunSettings, StudyChecks

__all__ = ["FitStage", "fit_stage", "tables_stage", "TableStage", "collect_warnings",
           "population_method"]


@dataclass(frozen=True)
class FitStage:
    """The fit, its resolved priors and the posterior predictive draws."""

    idata: Any
    priors: Any
    predictive: Any


@dataclass(frozen=True)
class TableStage:
    """The tables and the summaries computed from the fit."""

    tables: ReportTables
    exact: Any
    meta: Any
    meta_prediction: pd.Series | None
    meta_prediction_scaled: pd.Series | None
    eb: EBEstimate
    new_group: NewGroup
    diagnostics: Any
    n_replicates: int
    studies: StudyChecks | None


def fit_stage(data: Any, settings: RunSettings, *, priors: Any, planned: Any,
              progressbar: bool | None) -> FitStage:
    """Fit the model (:func:`hiermodel.fit`) and draw the posterior predictive replicates."""
    from ..sampling import fit

    s = settings
    idata = fit(data, parameterization=s.parameterization, priors=priors, sampler=s.sampler,
                draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed,
                progressbar=progressbar, posterior_predictive=False)
    return FitStage(idata=idata, priors=_fit_priors(idata, planned),
                    predictive=_predictive(idata, data, s.seed))


def _fit_priors(idata: Any, fallback: Any) -> Any:
    """The (resolved) priors the fit recorded in its posterior attrs."""
    from ..priors import Priors

    got = Priors.from_attrs(stack.group(idata, "posterior").attrs)
    return fallback if got is None else got


def _predictive(idata: Any, data: Any, seed: int) -> Any:
    """Posterior predictive draws: the same groups (y), new groups (y_mixed), a new group."""
    from ..predictive import posterior_predictive

    if data.sigma_known and data.n is not None:
        kw = {"n_new": int(np.median(data.n))}
    else:
        kw = {"se_new": float(np.median(data.se))}
    return posterior_predictive(idata, data, seed=seed, **kw)


def tables_stage(data: Any, settings: RunSettings, fitted: FitStage) -> TableStage:
    """Comparison, population, exact posterior and predictive-check tables, the
    empirical-Bayes fits and the new-group summaries."""
    from ..comparison import compare, compare_population
    from ..core import estimate_tau
    from ..diagnostics import convergence_table, sampling_diagnostics
    from ..predictive import ppc_table
    from ..shrinkage import exact_posterior

    s, idata = settings, fitted.idata
    q_lo, q_hi = s.central_quantiles
    diag_table = convergence_table(idata)
    diag_table.index.name = "parameter"
    diagnostics = sampling_diagnostics(idata)

    kind = {"interval": s.interval, "prob": s.prob, "priors": fitted.priors}
    comparison = compare(idata, data, eb_method=s.eb_method, **kind)
    scaled = None
    if not s.transform.is_identity:
        scaled = compare(idata, data, eb_method=s.eb_method, transform=s.transform.name,
                         **kind)
    exact = exact_table = None
    if data.sigma_known or not data.has_covariates:
        exact = exact_posterior(data, fitted.priors)
        exact_table = exact.summary(quantiles=(q_lo, 0.5, q_hi))
    meta = pred = pred_scaled = None
    if data.has_covariates or data.source == "estimates":
        meta, pred, pred_scaled = _meta(data, s)
    population = compare_population(idata, data, eb_method=population_method(data, s),
                                    **kind)
    ppc = pd.concat({v: ppc_table(fitted.predictive, var_name=v) for v in ("y", "y_mixed")},
                    names=["replicate"])
    studies = _study_checks(meta, exact) if data.source == "estimates" else None
    tables = ReportTables(comparison=comparison, comparison_scaled=scaled,
                          population=population, exact=exact_table, ppc=ppc,
                          diagnostics=diag_table,
                          influence=None if studies is None else studies.influence)

    y, se = np.asarray(data.means, float), np.asarray(data.se, float)
    eb = estimate_tau(y, se, s.eb_method)
    eb_estimate = EBEstimate(method=s.eb_method, mu=float(eb.mu),
                             mu_se=float(np.sqrt(eb.mu_var)), tau=float(eb.tau))
    pp = stack.group(fitted.predictive, "posterior_predictive")
    return TableStage(tables=tables, exact=exact, meta=meta, meta_prediction=pred,
                      meta_prediction_scaled=pred_scaled, eb=eb_estimate,
                      new_group=_new_group(idata, exact, s), diagnostics=diagnostics,
                      n_replicates=int(pp.sizes["chain"] * pp.sizes["draw"]), studies=studies)


def _study_checks(meta: Any, exact: Any) -> StudyChecks | None:
    """Influence (metafor's ``influence``), the small-study tests (``regtest``, ``ranktest``,
    ``trimfill``) and the exact Bayes factors of tau = 0 and mu = 0 (bayesmeta's
    ``bayesfactor``).  The rank test and trim and fill need a model without covariates; the
    Bayes factors the exact posterior of known standard errors without covariates, and mu's
    a proper prior on mu."""
    if meta is None or meta.data is None or meta.data.n_groups < 3:
        return None
    plain = not meta.covariate_names
    bf_tau = bf_mu = None
    if exact is not None and plain and exact.sigma_known:
        bf_tau = float(exact.bayes_factor("tau"))
        if exact.priors.mu != "flat":
            bf_mu = float(exact.bayes_factor("mu"))
    influence = meta.influence()
    influence.index.name = "study"
    return StudyChecks(influence=influence, egger=meta.egger_test(),
                       rank=meta.rank_test() if plain else None,
                       trim_fill=meta.trim_and_fill() if plain else None,
                       bf_tau=bf_tau, bf_mu=bf_mu)


def _meta(data: Any, settings: RunSettings) -> tuple[Any, pd.Series, pd.Series | None]:
    """The empirical-Bayes random-effects meta-analysis / meta-regression (metafor's ``rma``)
    and its prediction for a new group at the average covariates (also transformed)."""
    from ..core import METAREG_METHODS
    from ..shrinkage import meta_analysis

    method = settings.eb_method if settings.eb_method in METAREG_METHODS else "reml"
    meta = meta_analysis(data, method=method, knha=settings.knha, level=settings.prob)
    at = (pd.DataFrame([data.covariate_means], columns=list(data.covariate_names))
          if data.has_covariates else None)
    pred = meta.predict(at).iloc[0]
    scaled = None
    if not settings.transform.is_identity:
        scaled = meta.predict(at, transform=settings.transform.name).iloc[0]
    return meta, pred, scaled


def population_method(data: Any, settings: RunSettings) -> str:
    """The EB method of the population table: with covariates the meta-regression's (the
    sd-of-means plug-in has none; REML then, as the meta-regression)."""
    from ..core import METAREG_METHODS

    if data.has_covariates and settings.eb_method not in METAREG_METHODS:
        return "reml"
    return settings.eb_method


def _new_group(idata: Any, exact: Any, settings: RunSettings) -> NewGroup:
    """theta_new ~ Normal(mu, tau^2): the predictive mean and central quantiles from the
    draws, the exact posterior's central interval (a normal mixture over the tau grid) and,
    with a transform, both on its scale."""
    q_lo, q_hi = settings.central_quantiles
    post = stack.group(idata, "posterior")
    mu = np.asarray(post["mu"].values, float).ravel()
    q = predictive_quantiles(mu, np.asarray(post["tau"].values, float).ravel(),
                             [q_lo, 0.5, q_hi]).tolist()
    exact_q = None
    if exact is not None:
        e = exact.core.theta_new_quantiles(np.asarray((q_lo, q_hi), float))
        exact_q = (float(e[0]), float(e[1]))
    back = settings.transform
    mu_scaled = scaled = None
    if not back.is_identity:
        mu_scaled = tuple(float(v) for v in np.quantile(back(mu), [q_lo, 0.5, q_hi]))
        scaled = tuple(float(v) for v in back(np.asarray(q)))
    return NewGroup(mean=float(mu.mean()), quantiles=(q[0], q[1], q[2]), exact=exact_q,
                    mu_scaled=mu_scaled, scaled=scaled)


def collect_warnings(caught: Sequence[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """hiermodel's own warnings of the run, deduplicated, as (kind, message)."""
    from ..exceptions import HierModelWarning, PredictiveCheckWarning

    out: list[tuple[str, str]] = []
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, PredictiveCheckWarning):
            continue  # the report has its own, fuller section on extreme p-values
        if issubclass(w.category, HierModelWarning):
            kind = w.category.__name__
        elif msg.startswith("exact_posterior"):
            kind = "exact posterior"
        else:
            continue
        if (kind, msg) not in out:
            out.append((kind, msg))
    return out
