"""The conditional posterior of ``theta_i`` given the hyperparameters, on posterior draws:
:func:`conditional_means` (``E[theta_i | y, mu, tau]`` per draw, BDA3 eq. 5.17),
:func:`rao_blackwell` (their average, the Rao-Blackwellised posterior mean) and
:func:`covariate_offset` (the regression part ``(x_i - xbar)' beta`` of each draw)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import stack
from ..core.arrays import floats
from ..core.pooling import conditional_unchecked
from ..data import HierData, group_coord

__all__ = ["conditional_means", "rao_blackwell", "covariate_offset"]


def _hyper_draws(posterior: Any) -> tuple[xr.DataArray, xr.DataArray, xr.Dataset | None]:
    """``(mu, tau, posterior dataset or None)`` with dims including (chain, draw)."""
    ds = None

    if hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        posterior = stack.group(posterior, "posterior")
    posterior = stack.as_dataset(posterior)
    if isinstance(posterior, xr.Dataset):
        missing = [k for k in ("mu", "tau") if k not in posterior]
        if missing:
            raise ValueError(f"`posterior` lacks variable(s) {missing}; it needs `mu` and `tau`.")
        ds, mu, tau = posterior, posterior["mu"], posterior["tau"]
    elif isinstance(posterior, Mapping):
        mu, tau = posterior["mu"], posterior["tau"]
    elif isinstance(posterior, (tuple, list)) and len(posterior) == 2:
        mu, tau = posterior
    else:
        raise TypeError("`posterior` must be InferenceData, an xarray posterior Dataset, a "
                        "mapping with 'mu' and 'tau', or a (mu, tau) pair of arrays.")
    return _as_draws("mu", mu), _as_draws("tau", tau), ds


def _as_draws(name: str, x: Any) -> xr.DataArray:
    if isinstance(x, xr.DataArray):
        if not {"chain", "draw"} <= set(x.dims):
            raise ValueError(f"`{name}` must have dims (chain, draw); got {x.dims}.")
        return x
    arr = floats(name, x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"`{name}` draws must have shape (draw,) or (chain, draw); "
                         f"got {arr.shape}.")
    return xr.DataArray(arr, dims=("chain", "draw"))


def conditional_means(posterior: Any, data: HierData) -> xr.DataArray:
    """Per-draw conditional means ``E[theta_i | y, mu, tau] = w_i ybar_i + (1 - w_i) mu``.

    One value per posterior draw of ``(mu, tau)``: dims ``(chain, draw, group)``.  Their
    average is the Rao-Blackwellised estimate of ``E[theta_i | y]``
    (:func:`rao_blackwell`); pass this array to ``az.ess`` / ``az.mcse`` for its Monte Carlo
    error.  When sigma is unknown (raw rows), ``se_i = sigma / sqrt(n_i)`` per draw, from
    the posterior's ``sigma``.

    Parameters
    ----------
    posterior : InferenceData, xarray.Dataset, mapping or (mu, tau)
        Posterior draws of ``mu`` and ``tau`` with dims ``(chain, draw)`` (plain arrays of
        shape ``(draw,)`` or ``(chain, draw)`` are accepted).
    data : HierData

    Returns
    -------
    xarray.DataArray, dims (chain, draw, group)
    """
    data = HierData.check(data, covariates=True)
    mu, tau, ds = _hyper_draws(posterior)
    gds = data.to_xarray()
    ybar = gds["mean"]
    offset = 0.0
    if data.has_covariates:
        if ds is None or "beta" not in ds:
            raise ValueError("`posterior` needs `beta` draws: the data have covariates.")
        offset = covariate_offset(ds, data)
        ybar = ybar - offset
    if data.sigma_known:
        se = gds["se"]
    else:
        if ds is None or "sigma" not in ds:
            raise ValueError("`posterior` needs `sigma` draws: sigma is unknown for this data.")
        se = ds["sigma"] / np.sqrt(gds["n"])
    if (tau < 0).any():
        raise ValueError("`tau` draws must be >= 0.")
    out = xr.apply_ufunc(
        _cond_mean_core, ybar, se, mu, tau,
        input_core_dims=[["group"], ["group"], [], []], output_core_dims=[["group"]],
    ) + offset
    return out.transpose("chain", "draw", ..., "group").rename("theta_cond_mean")


def covariate_offset(posterior: xr.Dataset, data: HierData) -> xr.DataArray | float:
    """``(x_i - xbar)' beta`` per draw and group (dims ``chain, draw, group``) from a
    posterior with ``beta`` (dim ``covariate``); 0.0 for data without covariates.  Group i's
    population mean is ``mu`` plus this."""
    if not data.has_covariates:
        return 0.0
    x = xr.DataArray(np.asarray(data.centered_covariates, float), dims=("group", "covariate"),
                     coords={"group": group_coord(data.groups),
                             "covariate": list(data.covariate_names)})
    beta = posterior["beta"].assign_coords(covariate=x["covariate"].values)
    off = xr.dot(beta, x, dim="covariate")
    return off.transpose("chain", "draw", ..., "group")


def _cond_mean_core(y: np.ndarray, s: np.ndarray, mu: np.ndarray,
                    tau: np.ndarray) -> np.ndarray:
    return conditional_unchecked(y, s, mu[..., None], tau[..., None])[0]


def rao_blackwell(posterior: Any, data: HierData) -> xr.DataArray:
    """Rao-Blackwellised posterior means ``E[theta_i | y] ~ mean_s E[theta_i | y, mu_s, tau_s]``.

    Averages :func:`conditional_means` over the draws; it has smaller Monte Carlo error than
    the mean of raw ``theta`` draws.

    Parameters
    ----------
    posterior : InferenceData, xarray.Dataset, mapping or (mu, tau)
        See :func:`conditional_means`.
    data : HierData

    Returns
    -------
    xarray.DataArray, dims (group,)
    """
    return conditional_means(posterior, data).mean(("chain", "draw")).rename("theta_rb")
