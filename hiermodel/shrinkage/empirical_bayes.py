"""Empirical Bayes on labelled data: ``tau`` estimated, then plugged in (Morris 1983; BDA3
section 5.5): :func:`empirical_bayes` (an :class:`EmpiricalBayes`), :func:`pooling_table` (no,
complete and partial pooling side by side) and :func:`tau_estimates` (every tau estimator of
:func:`hiermodel.core.estimate_tau`, one row each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .._validate import check_method
from ..core import (
    EB_METHODS,
    METAREG_METHODS,
    TAU_METHODS,
    complete_pooling,
    design_matrix,
    eb_core,
    estimate_tau,
    meta_regression,
)
from ..data import HierData

__all__ = ["EmpiricalBayes", "empirical_bayes", "pooling_table", "tau_estimates"]


@dataclass(frozen=True, eq=False)
class EmpiricalBayes:
    """Labelled empirical-Bayes result of :func:`empirical_bayes`.

    Attributes
    ----------
    mu, tau : float
        ``mu_hat`` and ``tau_hat``.
    mu_sd : float
        ``sqrt(Var(mu_hat))`` at ``tau_hat``.
    method : str
        The tau estimator.
    groups : xarray.Dataset
        On a ``group`` dim: ``ybar``, ``se``, ``weight`` (``w_i``), ``theta_hat``,
        ``sd_cond`` (``sqrt(V_i)``) and ``sd_adj`` (Morris-adjusted sd).
    """

    mu: float
    tau: float
    mu_sd: float
    method: str
    groups: xr.Dataset

    def to_dataframe(self) -> pd.DataFrame:
        """The per-group table as a DataFrame indexed by group."""
        return self.groups.to_dataframe()

    def __repr__(self) -> str:
        head = (f"EmpiricalBayes(method={self.method!r}, mu={self.mu:.4g} "
                f"(sd {self.mu_sd:.3g}), tau={self.tau:.4g})")
        table = self.to_dataframe().to_string(float_format=lambda x: f"{x:.4g}", max_rows=12)
        return head + "\n" + table


def empirical_bayes(data: HierData, method: str = "reml") -> EmpiricalBayes:
    """Empirical Bayes on :class:`HierData` (wraps :func:`hiermodel.core.eb_core`).

    Uses ``data.se`` as known; for raw rows with unknown sigma that is the plug-in
    ``sigma_hat / sqrt(n_i)``.

    Parameters
    ----------
    data : HierData
    method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"

    Returns
    -------
    EmpiricalBayes
    """
    data = HierData.check(data)
    method = check_method(method, EB_METHODS)
    eb = eb_core(data.means, data.se, method)
    ds = data.to_xarray()
    out = xr.Dataset(
        {
            "ybar": ds["mean"], "se": ds["se"],
            "weight": ("group", eb.weights), "theta_hat": ("group", eb.theta),
            "sd_cond": ("group", eb.sd_cond), "sd_adj": ("group", eb.sd_adj),
        },
        attrs={"method": method, "mu": float(eb.mu), "tau": float(eb.tau),
               "mu_sd": float(np.sqrt(eb.mu_var))},
    )
    return EmpiricalBayes(float(eb.mu), float(eb.tau), float(np.sqrt(eb.mu_var)), method, out)


def pooling_table(data: HierData, method: str = "reml") -> pd.DataFrame:
    """The pooling estimates side by side, one row per group.

    Columns: ``no_pooling`` (``ybar_i``), ``complete_pooling`` (the precision-weighted mean
    ``sum ybar_i/se_i^2 / sum 1/se_i^2``, the common-effect estimate; with a common sigma the
    mean of all rows), ``partial_pooling`` (EB with the ``method`` tau estimator),
    ``weight`` (its ``w_i``) and ``sd_of_means_partial_pooling`` (the ``np.std`` plug-in
    shrinking toward the unweighted mean of the means,
    :func:`hiermodel.core.sd_of_means_estimates`).

    Parameters
    ----------
    data : HierData
    method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"

    Returns
    -------
    pandas.DataFrame
    """
    data = HierData.check(data)
    method = check_method(method, EB_METHODS)
    eb = eb_core(data.means, data.se, method)
    sdm = eb_core(data.means, data.se, "sd_of_means")
    index = pd.Index(data.to_xarray()["group"].values, name="group")
    return pd.DataFrame(
        {
            "no_pooling": data.means,
            "complete_pooling": complete_pooling(data.means, data.se),
            "partial_pooling": eb.theta,
            "weight": eb.weights,
            "sd_of_means_partial_pooling": sdm.theta,
        },
        index=index,
    )


def _estimators(methods: Sequence[str]) -> tuple[str, ...]:
    """The methods that estimate tau (the equal-effects model assumes tau = 0)."""
    return tuple(m for m in methods if m != "ee")


def tau_estimates(data: HierData, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """``tau_hat`` and its ``mu_hat`` for each estimator of :func:`hiermodel.core.estimate_tau`.

    With covariates, the residual ``tau_hat`` of the meta-regression
    (:func:`hiermodel.core.meta_regression` on the centred covariates, so ``mu`` is the mean
    effect at the average covariates) for each of its methods.

    Parameters
    ----------
    data : HierData
    methods : sequence of {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}
        Default every estimator of :data:`hiermodel.core.TAU_METHODS`; with covariates
        of :data:`hiermodel.core.METAREG_METHODS` (``sd_of_means`` has no regression form).
        ``"ee"``, the equal-effects model (``tau = 0`` by assumption and the
        precision-weighted mean), estimates no tau and is given only when asked for.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``method``, columns ``tau`` and ``mu``.
    """
    data = HierData.check(data, covariates=True)
    if isinstance(methods, str):
        methods = [methods]
    if data.has_covariates:
        x = design_matrix(data.n_groups, data.centered_covariates)
        rows = {}
        for method in _estimators(METAREG_METHODS) if methods is None else methods:
            fit = meta_regression(data.means, np.asarray(data.se) ** 2, x,
                                  check_method(method, METAREG_METHODS, "methods"))
            rows[fit.method] = {"tau": float(np.sqrt(fit.tau2)), "mu": float(fit.beta[0])}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "method"
        return table
    methods = _estimators(TAU_METHODS) if methods is None else methods
    rows = {}
    for method in methods:
        est = estimate_tau(data.means, data.se, check_method(method, TAU_METHODS, "methods"))
        rows[est.method] = {"tau": float(est.tau), "mu": float(est.mu)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table
