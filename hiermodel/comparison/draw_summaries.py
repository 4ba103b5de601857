"""Posterior draws summarised: mean, sd, the credible interval, MCSE, ESS and R-hat (ArviZ).

The interval is central (equal-tailed, ``"eti"``: between the ``(1 - prob)/2`` and
``(1 + prob)/2`` quantiles of the pooled draws) or highest-density (``"hdi"``, ArviZ's
``hdi``); kind and mass default to the package options (:mod:`hiermodel.options`: 95%
central unless set), resolved by :func:`resolve_interval_arguments`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from .. import stack
from .._validate import check_method, check_prob
from ..options import INTERVAL_KINDS, resolve_interval
from .fit_inputs import SAMPLE

__all__ = ["resolve_interval_arguments", "draw_summary", "interval_ends"]


def resolve_interval_arguments(interval: Any, prob: Any) -> tuple[str, float]:
    """``(interval kind, probability)``: ``interval`` (``"eti"`` or ``"hdi"``) and ``prob``
    checked as given, each ``None`` replaced by the package option
    (:func:`hiermodel.options.resolve_interval`; 95% central by default)."""
    if interval is not None:
        interval = check_method(interval, INTERVAL_KINDS, "interval")
    if prob is not None:
        prob = check_prob(prob)
    return resolve_interval(interval, prob)


def draw_summary(da: xr.DataArray, interval: str, prob: float) -> dict[str, np.ndarray]:
    """Mean, sd, credible interval, MCSE of the mean, bulk ESS and R-hat of draws
    ``(chain, draw, ...)``.

    The interval is ArviZ's ``hdi`` (``interval="hdi"``) or the equal-tailed interval
    between the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles of the pooled draws
    (``"eti"``); its keys are ``<interval>_low`` and ``<interval>_high``.  ArviZ's ``mcse``
    (method "mean"), ``ess`` (bulk) and ``rhat``; sd with ``ddof=1``.
    """
    import arviz as az

    ds = da.rename("x").to_dataset()
    low, high = interval_ends(da, interval, prob)
    with warnings.catch_warnings():  # constant draws (e.g. tau = 0 everywhere) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": da.mean(SAMPLE).values,
            "sd": da.std(SAMPLE, ddof=1).values,
            f"{interval}_low": low,
            f"{interval}_high": high,
            "mcse_mean": az.mcse(ds, method="mean")["x"].values,
            "ess_bulk": az.ess(ds, method="bulk")["x"].values,
            "r_hat": az.rhat(ds)["x"].values,
        }


def interval_ends(da: xr.DataArray, interval: str, prob: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """The ``hdi`` or ``eti`` interval of draws ``(chain, draw, ...)``: (low, high)."""
    if interval == "hdi":
        hdi = stack.hdi(da.rename("x").to_dataset(), prob)["x"]
        return hdi.sel(bound="lower").values, hdi.sel(bound="upper").values
    q = da.quantile([(1 - prob) / 2, (1 + prob) / 2], dim=SAMPLE)
    return q.isel(quantile=0).values, q.isel(quantile=1).values
