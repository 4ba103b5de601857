"""What a model is, without PyMC: the record of what was built (:class:`ModelSpec`,
:class:`HierModel`), the values its ``pm.Data`` nodes take, and the data groups a result
carries (``observed_data``, ``constant_data``, the data's labels).

:mod:`hiermodel.model` builds the graphs from these; :func:`hiermodel.fit` assembles its
result from them without importing PyMC when it samples the compiled densities of
:mod:`hiermodel.fastpath`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .data import HierData, group_coord
from .priors import Priors

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "LIKELIHOODS", "POOLING", "ModelSpec", "HierModel", "sigma_prior_scale", "prior_values",
    "covariate_values", "data_updates", "label_groups", "observed_data", "constant_data",
]

LIKELIHOODS = ("sufficient", "rows")
#: the three pooling strategies, complete / no / partial (:func:`pooling_model`)
POOLING = ("complete_pooling", "no_pooling", "partial_pooling")


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`build_model` or :func:`pooling_model` built; recorded in InferenceData
    attrs by :meth:`attrs`.  ``pooling`` (with ``mu0`` and ``sd`` for no pooling) is set
    for the complete- and no-pooling models only."""

    parameterization: str
    centering: tuple[float, ...]
    priors: Priors
    likelihood: str
    sigma_known: bool
    tau_hat: float | None = None
    pooling: str = ""
    mu0: float = float("nan")
    sd: float = float("nan")

    def attrs(self) -> dict[str, Any]:
        """Flat, netCDF-safe attributes."""
        out = {
            "parameterization": self.parameterization,
            "centering": np.asarray(self.centering, dtype=float),
            **self.priors.to_attrs(),
            "likelihood": self.likelihood,
            "sigma_known": int(self.sigma_known),
            "auto_tau_hat": float("nan") if self.tau_hat is None else self.tau_hat,
        }
        if self.pooling:
            out["pooling"] = self.pooling
            if self.pooling == "no_pooling":
                out.update(no_pooling_mu0=self.mu0, no_pooling_sd=self.sd)
        return out


@dataclass(frozen=True, eq=False)
class HierModel:
    """A model hiermodel built: the ``pm.Model`` with the data, priors and spec behind it.

    Returned by :func:`build_model` and :func:`pooling_model`; :func:`hiermodel.sampling.fit`
    samples it as is.  ``model`` is an ordinary ``pymc.Model`` (``hier.model.str_repr()``,
    ``with hier.model: ...``); nothing hiermodel needs is stored on it.
    """

    model: pm.Model = field(repr=False)
    data: HierData = field(repr=False)
    spec: ModelSpec

    @property
    def priors(self) -> Priors:
        """The resolved priors (every data-scaled number filled in)."""
        return self.spec.priors

    @property
    def parameterization(self) -> str:
        return self.spec.parameterization

    def attrs(self) -> dict[str, Any]:
        """The spec's attributes, as a fit records them."""
        return self.spec.attrs()

    def __repr__(self) -> str:
        s = self.spec
        form = s.pooling.replace("_", " ") if s.pooling else s.parameterization
        sigma = "known" if s.sigma_known else "estimated"
        priors = s.priors.describe()
        if s.sigma_known:                      # no sigma prior in the model
            priors = priors.split("; sigma ~")[0]
        priors = priors.replace(" (if unknown)", "")
        return (f"HierModel({form}; {self.data.n_groups} groups, sigma {sigma}, "
                f"{s.likelihood} likelihood; {priors})")


def sigma_prior_scale(data: HierData, priors: Priors) -> float:
    """The scale of sigma's prior: the priors' own, else 2.5 x the pooled within-group sd."""
    return priors.sigma_scale if priors.sigma_scale is not None else 2.5 * data.sigma_hat


def prior_values(data: HierData, priors: Priors) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values of the (resolved) priors' numbers."""
    out = {"tau_scale": np.asarray(priors.tau_scale, dtype=float)}
    if priors.mu == "normal":
        out["mu_loc"] = np.asarray(priors.mu_mean, dtype=float)
        out["mu_scale"] = np.asarray(priors.mu_sd, dtype=float)
    if not data.sigma_known:
        out["sigma_scale"] = np.asarray(sigma_prior_scale(data, priors), dtype=float)
    if data.has_covariates:
        out["beta_loc"], out["beta_scale"] = priors.beta_arrays(data.n_covariates)
    return out


def covariate_values(data: HierData) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values of the covariates: ``x`` (centred, (G, p)) and ``x_mean``."""
    if not data.has_covariates:
        return {}
    return {"x": np.asarray(data.centered_covariates, float),
            "x_mean": np.asarray(data.covariate_means, float)}


def data_updates(model: HierModel, data: HierData, c: np.ndarray,
                 priors: Priors | None = None) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values that turn ``model`` into the same model on ``data`` (with
    ``priors``' numbers, default the model's own, resolved for ``data``)."""
    spec = model.spec
    if spec.likelihood != "sufficient":
        raise ValueError("Swapping data needs the sufficient-statistic likelihood.")
    if (data.sigma_known != spec.sigma_known or data.n_groups != len(spec.centering)
            or data.n_covariates != model.data.n_covariates):
        raise ValueError("`data` does not have the structure the model was built for.")
    upd = {"ybar": data.means,
           **{k: v for k, v in covariate_values(data).items() if k in model.model.named_vars}}
    if spec.parameterization != "marginal":
        upd["c"] = np.asarray(c, float)
    if data.sigma_known:
        upd["se"] = data.se
    else:
        upd.update(n=data.n.astype(float), ss_data=data.ss)
    upd.update(prior_values(data, Priors.check(priors, data=data) if priors is not None
                            else spec.priors))
    return upd


# ----------------------------------------------------------------------------- data in ArviZ's form
def label_groups(ds: xr.Dataset, data: HierData, rows: bool = False) -> xr.Dataset:
    """``ds`` with ``data``'s labels on its ``group`` dimension, its covariate names on
    ``covariate`` (and, with ``rows``, each row's group as an ``obs_group`` coordinate on
    ``obs``)."""
    labels = group_coord(data.groups)
    if "group" in ds.dims:
        ds = ds.assign_coords(group=labels)
    if "covariate" in ds.dims:      # a reused compiled model carries its first data's names
        ds = ds.assign_coords(covariate=list(data.covariate_names))
    if rows and "obs" in ds.dims:
        ds = ds.assign_coords(obs_group=("obs", labels[data.rows[1]]))
    return ds


def observed_data(data: HierData, rows: bool = False) -> xr.Dataset:
    """The model's observed values: ``y`` (group means), ``ss`` (sigma unknown) and, with
    ``rows``, ``y_rows`` (dim ``obs``, with ``obs_group``)."""
    obs = {"y": ("group", data.means)}
    if not data.sigma_known:
        obs["ss"] = ("group", data.ss)
    coords: dict[str, Any] = {"group": group_coord(data.groups)}
    if rows:
        y, idx = data.rows
        obs["y_rows"] = ("obs", y)
        coords.update(obs=np.arange(y.size), obs_group=("obs", group_coord(data.groups)[idx]))
    return xr.Dataset(obs, coords=coords)


def constant_data(data: HierData, c: np.ndarray | None = None) -> xr.Dataset:
    """The model's constants per group: ``se``, the centering ``c`` (when given), ``n`` and
    ``sigma`` (when the data have them) and the covariates ``x`` (group, covariate), as
    given, not centred."""
    const = {"se": ("group", data.se)}
    if c is not None:
        const["c"] = ("group", c)
    if data.n is not None:
        const["n"] = ("group", data.n)
    if data.sigma is not None:
        const["sigma"] = ("group", data.sigma)
    coords: dict[str, Any] = {"group": group_coord(data.groups)}
    if data.has_covariates:     # the covariates as given (the models centre them)
        const["x"] = (("group", "covariate"), np.asarray(data.x, float))
        coords["covariate"] = list(data.covariate_names)
    return xr.Dataset(const, coords=coords)
