r"""Model builders: the three-level normal model in PyMC, centered, non-centered or in between.

The model, for groups i = 1..G with data summarised by :class:`~hiermodel.data.HierData`::

    mu    ~ Normal(mu0, sigma0)                       (or flat)
    tau   ~ Half-Cauchy(s) | Half-Normal(s) | Uniform(0, s)
    (mu0, sigma0, s scaled to the data unless given: :mod:`hiermodel.priors`)
    theta_i | mu, tau ~ N(mu, tau^2)
    ybar_i  | theta_i ~ N(theta_i, se_i^2)            se_i = sigma / sqrt(n_i)

and, when sigma is unknown (raw rows without a known sigma), ``sigma ~ Half-Normal`` with
``se_i = sigma / sqrt(n_i)`` and the within-group sum of squares as a second observation,
``ss_i | sigma ~ sigma^2 chi^2_{n_i - 1}``, i.e. ``Gamma((n_i - 1)/2, rate = 1/(2 sigma^2))``.
Since ``(n_i, ybar_i, ss_i)`` are sufficient, this likelihood equals the per-row likelihood
``prod_ij N(y_ij | theta_i, sigma^2)`` up to a constant, and a gradient costs O(G), not O(N).

**One graph for every parameterization.**  With a centering weight ``c_i`` in [0, 1] per
group (Papaspiliopoulos, Roberts & Skold 2003, 2007; Gorinova, Moore & Hoffman 2020)::

    theta_tilde_i ~ N(c_i mu, tau^{c_i})
    theta_i       = mu + tau^{1 - c_i} (theta_tilde_i - c_i mu)

``c_i = 1`` is the centered form (theta_tilde = theta), ``c_i = 0`` the non-centered form
(theta_tilde ~ N(0, 1), theta = mu + tau z), and values in between are partial centering.
In every case ``theta_i | mu, tau ~ N(mu, tau^2)``.  ``c`` is a ``pm.Data`` node, so one
compiled model serves all parameterizations and datasets of the same shape.

**The marginal (collapsed) form.**  Because the likelihood is normal, theta can be integrated
out exactly: ``ybar_i | mu, tau ~ N(mu, tau^2 + se_i^2)``.  ``parameterization="marginal"``
samples only (mu, tau[, sigma]) -- a 2- or 3-dimensional posterior with no funnel -- and
:func:`hiermodel.fit.fit` then draws ``theta_i | mu, tau, y ~ N(theta_hat_i, V_i)`` exactly
(the seed text's section 5.1) for every posterior draw.  Same posterior, far cheaper to sample.

**The "auto" rule.**  For the normal-normal model the centered form mixes well when group i's
data dominate its prior (``se_i << tau``) and the non-centered form when the prior dominates
(``se_i >> tau``); PRS (2003) show the partially non-centered weight equal to the shrinkage
weight ``w_i = tau^2 / (tau^2 + se_i^2)`` makes theta_tilde_i and mu a-priori-and-a-posteriori
uncorrelated given tau.  "auto" therefore sets ``c_i = w_i(tau_hat)`` with a quick
empirical-Bayes estimate tau_hat (REML); see Betancourt & Girolami (2013, "Hamiltonian Monte
Carlo for hierarchical models") for the geometry (the funnel) behind the rule.  Groups with
``w_i >= 0.5`` are effectively centered, those below non-centered.  Measured
(``benchmarks/bench_divergences.py``): on 8 groups with se 1 and 8 with se 40 (tau = 5) the
worst-parameter ESS of "auto" is 4.6x the centered and 7.5x the non-centered form's.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ._validate import check_data
from .data import HierData
from .priors import Priors

__all__ = [
    "Priors", "ModelSpec", "build_model", "model_spec", "centering", "prior_predictive",
    "resolve_priors", "prior_values", "register_model", "model_data",
    "PARAMETERIZATIONS", "LIKELIHOODS",
]

PARAMETERIZATIONS = ("marginal", "centered", "noncentered", "auto")
LIKELIHOODS = ("sufficient", "rows")
Parameterization = Literal["marginal", "centered", "noncentered", "auto"]


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`build_model` built: recorded on the model and in InferenceData attrs."""

    parameterization: str
    centering: tuple[float, ...]
    priors: Priors
    likelihood: str
    sigma_known: bool
    tau_hat: float | None = None
    groups: tuple = field(default=(), repr=False)

    def attrs(self) -> dict[str, Any]:
        """Flat, netCDF-safe attributes."""
        return {
            "parameterization": self.parameterization,
            "centering": np.asarray(self.centering, dtype=float),
            **self.priors.to_attrs(),
            "likelihood": self.likelihood,
            "sigma_known": int(self.sigma_known),
            "auto_tau_hat": float("nan") if self.tau_hat is None else self.tau_hat,
        }


def _quick_tau(data: HierData) -> float:
    """REML estimate of tau for ``ybar_i ~ N(mu, tau^2 + se_i^2)`` (used by "auto")."""
    from .shrinkage import estimate_tau

    return float(estimate_tau(data.means, data.se, method="reml").tau)


def centering(
    data: HierData, parameterization: str | np.ndarray | list = "auto",
) -> tuple[str, np.ndarray, float | None]:
    """Per-group centering weights ``c_i`` (1 = centered, 0 = non-centered).

    Parameters
    ----------
    data : HierData
    parameterization : {"marginal", "centered", "noncentered", "auto"} or array of G values
        in [0, 1].  "marginal" has no centering (theta is integrated out; c is all NaN).
        "auto" uses ``c_i = tau_hat^2 / (tau_hat^2 + se_i^2)`` with the REML ``tau_hat``.

    Returns
    -------
    name, c, tau_hat
        The parameterization's name ("centered", "noncentered", "auto" or "custom"), the
        weights, and the tau estimate used by "auto" (else None).
    """
    data = check_data(data)
    g = data.n_groups
    if isinstance(parameterization, str):
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"Requested parameterization {parameterization!r} but it must be one of "
                f"{PARAMETERIZATIONS} or an array of {g} centering weights in [0, 1]."
            )
        if parameterization == "marginal":
            return "marginal", np.full(g, np.nan), None
        if parameterization == "centered":
            return "centered", np.ones(g), None
        if parameterization == "noncentered":
            return "noncentered", np.zeros(g), None
        tau_hat = _quick_tau(data)
        c = tau_hat**2 / (tau_hat**2 + data.se**2)
        return "auto", c, tau_hat
    c = np.asarray(parameterization)
    if c.dtype.kind not in "iuf" or c.shape != (g,):
        raise ValueError(
            f"`parameterization` as weights must be a numeric array of shape ({g},); got "
            f"{getattr(c, 'shape', None)} of dtype {getattr(c, 'dtype', type(c))}."
        )
    c = c.astype(float)
    if np.any(~np.isfinite(c)) or np.any((c < 0) | (c > 1)):
        raise ValueError("`parameterization` weights must lie in [0, 1] (1 = centered).")
    return "custom", c, None


def resolve_priors(priors: Priors | None, data: HierData) -> Priors:
    """``priors`` (default ``Priors()``) with every data-scaled field filled in from ``data``."""
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be a hiermodel.Priors or None, got "
                        f"{type(priors).__name__}.")
    return priors.resolve(data)


def _sigma_scale(data: HierData, priors: Priors) -> float:
    return priors.sigma_scale if priors.sigma_scale is not None else 2.5 * data.sigma_hat


def prior_values(data: HierData, priors: Priors) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values of the (resolved) priors' numbers."""
    out = {"tau_scale": np.asarray(priors.tau_scale, dtype=float)}
    if priors.mu == "normal":
        out["mu_loc"] = np.asarray(priors.mu_mean, dtype=float)
        out["mu_scale"] = np.asarray(priors.mu_sd, dtype=float)
    if not data.sigma_known:
        out["sigma_scale"] = np.asarray(_sigma_scale(data, priors), dtype=float)
    return out


def build_model(
    data: HierData,
    parameterization: Parameterization | np.ndarray = "auto",
    priors: Priors | None = None,
    *,
    likelihood: Literal["sufficient", "rows"] = "sufficient",
) -> pm.Model:
    """Build the three-level normal model as a ``pm.Model``.

    Parameters
    ----------
    data : HierData
        The data; its labels become the ``group`` coordinate.
    parameterization : {"marginal", "centered", "noncentered", "auto"} or array
        See the module docstring; an array gives per-group centering weights in [0, 1].
        Default "auto".
    priors : Priors, optional
        Hyperpriors; default ``Priors()``, scaled to the data (:mod:`hiermodel.priors`).
        Fields left at None are resolved with :meth:`Priors.resolve`; the model's numbers
        are ``pm.Data`` nodes, so one compiled model serves every dataset of a shape.
    likelihood : {"sufficient", "rows"}, default "sufficient"
        "sufficient": ``ybar_i ~ N(theta_i, se_i^2)`` (+ the ``ss_i`` term if sigma is
        unknown), O(G) per gradient.  "rows": ``y_ij ~ N(theta_i, sigma^2)`` row by row,
        O(N) -- for testing and benchmarking the equivalence; needs raw rows.

    Returns
    -------
    pymc.Model
        Free variables ``mu``, ``tau``, ``theta_tilde`` (and ``sigma``); Deterministic
        ``theta`` on dim ``group`` (the marginal form has neither: only mu, tau[, sigma]);
        observed ``y`` (group means) and, if sigma is unknown, ``ss``.  Data nodes ``ybar``,
        ``se`` (or ``n``, ``ss_data``), ``c`` can be swapped with ``pm.set_data``.
        :func:`model_spec` returns what was built.
    """
    data = check_data(data)
    priors = resolve_priors(priors, data)
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"Requested likelihood {likelihood!r} but it must be one of "
                         f"{LIKELIHOODS}.")
    if likelihood == "rows" and parameterization == "marginal":
        raise ValueError("The marginal form needs the sufficient-statistic likelihood; use "
                         "likelihood='sufficient' or another parameterization.")
    if likelihood == "rows" and not data.has_rows:
        raise ValueError("`likelihood='rows'` needs raw rows: build the data with "
                         "HierData.from_observations(..., keep_rows=True).")
    name, c, tau_hat = centering(data, parameterization)
    coords: dict[str, Any] = {"group": list(data.groups)}
    if likelihood == "rows":
        coords["obs"] = np.arange(data.n_total)

    with pm.Model(coords=coords) as model:
        if name == "marginal":
            _marginal(data, priors)
        else:
            _full(data, priors, c, likelihood)
    register_model(model, ModelSpec(
        parameterization=name, centering=tuple(float(v) for v in c), priors=priors,
        likelihood=likelihood, sigma_known=data.sigma_known, tau_hat=tau_hat,
        groups=data.groups,
    ), data)
    return model


#: what hiermodel built, per model, without setting anything on the pm.Model itself; weak
#: keys, so an entry goes when its model does
_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register_model(model: pm.Model, spec: ModelSpec, data: HierData) -> pm.Model:
    """Record that hiermodel built ``model`` from ``data`` as ``spec`` (read back by
    :func:`model_spec` and :func:`model_data`); returns ``model``."""
    _BUILT[model] = (spec, data)
    return model


def model_data(model: pm.Model) -> HierData | None:
    """The :class:`HierData` ``model`` was built from, or None for a model hiermodel did not
    build."""
    entry = _BUILT.get(model)
    return None if entry is None else entry[1]


def _full(data: HierData, priors: Priors, c: np.ndarray, likelihood: str) -> None:
    """theta sampled, with per-group centering weights c (inside a model context)."""
    c_data = pm.Data("c", c, dims="group")
    mu = mu_prior(priors)
    tau = tau_prior(priors)
    theta_tilde = pm.Normal("theta_tilde", mu=c_data * mu, sigma=tau**c_data, dims="group")
    theta = pm.Deterministic(
        "theta", mu + tau ** (1.0 - c_data) * (theta_tilde - c_data * mu), dims="group")
    if data.sigma_known:
        known_sigma_likelihood(data, theta, likelihood)
    else:
        unknown_sigma_likelihood(data, priors, theta, likelihood)


def _marginal(data: HierData, priors: Priors) -> None:
    """theta integrated out: ybar_i | mu, tau[, sigma] ~ N(mu, tau^2 + se_i^2)."""
    mu = mu_prior(priors)
    tau = tau_prior(priors)
    ybar = pm.Data("ybar", data.means, dims="group")
    if data.sigma_known:
        se = pm.Data("se", data.se, dims="group")
    else:
        sigma, n, ss = _sigma_and_ss_data(data, priors)
        se = sigma / pt.sqrt(n)
        _ss_likelihood(sigma, n, ss)
    pm.Normal("y", mu=mu, sigma=pt.sqrt(tau**2 + se**2), observed=ybar, dims="group")


def mu_prior(priors: Priors) -> pt.TensorVariable:
    if priors.mu == "flat":
        return pm.Flat("mu")
    loc = pm.Data("mu_loc", float(priors.mu_mean))
    scale = pm.Data("mu_scale", float(priors.mu_sd))
    return pm.Normal("mu", mu=loc, sigma=scale)


def tau_prior(priors: Priors) -> pt.TensorVariable:
    scale = pm.Data("tau_scale", float(priors.tau_scale))
    if priors.tau == "halfcauchy":
        return pm.HalfCauchy("tau", beta=scale)
    if priors.tau == "halfnormal":
        return pm.HalfNormal("tau", sigma=scale)
    return pm.Uniform("tau", lower=0.0, upper=scale)


def known_sigma_likelihood(data: HierData, theta, likelihood: str) -> None:
    if likelihood == "rows":
        y, idx = data.rows
        sig = pm.Data("sigma_rows", data.sigma[idx], dims="obs")
        pm.Normal("y", mu=theta[idx], sigma=sig, observed=y, dims="obs")
        return
    ybar = pm.Data("ybar", data.means, dims="group")
    se = pm.Data("se", data.se, dims="group")
    pm.Normal("y", mu=theta, sigma=se, observed=ybar, dims="group")


def sigma_prior(data: HierData, priors: Priors):
    scale = pm.Data("sigma_scale", _sigma_scale(data, priors))
    if priors.sigma == "halfnormal":
        return pm.HalfNormal("sigma", sigma=scale)
    return pm.HalfCauchy("sigma", beta=scale)


def _sigma_and_ss_data(data: HierData, priors: Priors):
    sigma = sigma_prior(data, priors)
    n = pm.Data("n", data.n.astype(float), dims="group")
    ss = pm.Data("ss_data", data.ss, dims="group")
    return sigma, n, ss


def _ss_likelihood(sigma, n, ss) -> None:
    # ss_i / sigma^2 ~ chi^2_{n_i - 1}  <=>  ss_i ~ Gamma((n_i - 1)/2, rate = 1 / (2 sigma^2))
    pm.Gamma("ss", alpha=(n - 1.0) / 2.0, beta=1.0 / (2.0 * sigma**2), observed=ss,
             dims="group")


def unknown_sigma_likelihood(data: HierData, priors: Priors, theta, likelihood: str) -> None:
    if likelihood == "rows":
        sigma = sigma_prior(data, priors)
        y, idx = data.rows
        pm.Normal("y", mu=theta[idx], sigma=sigma, observed=y, dims="obs")
        return
    sigma, n, ss = _sigma_and_ss_data(data, priors)
    ybar = pm.Data("ybar", data.means, dims="group")
    pm.Normal("y", mu=theta, sigma=sigma / pt.sqrt(n), observed=ybar, dims="group")
    _ss_likelihood(sigma, n, ss)


def model_spec(model: pm.Model) -> ModelSpec:
    """The :class:`ModelSpec` recorded by :func:`build_model`."""
    entry = _BUILT.get(model)
    if entry is None:
        raise ValueError("`model` was not built by hiermodel.build_model.")
    return entry[0]


def data_updates(model: pm.Model, data: HierData, c: np.ndarray,
                 priors: Priors | None = None) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values that turn ``model`` into the same model on ``data`` (with
    ``priors``' numbers, default the model's own, resolved for ``data``)."""
    spec = model_spec(model)
    if spec.likelihood != "sufficient":
        raise ValueError("Swapping data needs the sufficient-statistic likelihood.")
    if data.sigma_known != spec.sigma_known or data.n_groups != len(spec.centering):
        raise ValueError("`data` does not have the structure the model was built for.")
    upd = {"ybar": data.means}
    if spec.parameterization != "marginal":
        upd["c"] = np.asarray(c, float)
    if data.sigma_known:
        upd["se"] = data.se
    else:
        upd.update(n=data.n.astype(float), ss_data=data.ss)
    upd.update(prior_values(data, resolve_priors(priors, data) if priors is not None
                            else spec.priors))
    return upd


def prior_predictive(model: pm.Model, draws: int = 500, seed: int | None = None):
    """Prior and prior-predictive draws: ``arviz.InferenceData`` with groups ``prior``
    (mu, tau, theta, ...) and ``prior_predictive`` (y, and ss if sigma is unknown)."""
    if not isinstance(model, pm.Model):
        raise TypeError(f"`model` must be a pymc.Model, got {type(model).__name__}.")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"`draws` must be a positive integer, got {draws!r}.")
    if any(isinstance(rv.owner.op, type(pm.Flat.dist().owner.op)) for rv in model.free_RVs):
        raise ValueError("Prior predictive draws need proper priors; `mu` is flat. "
                         "Use Priors(mu='normal', ...).")
    idata = pm.sample_prior_predictive(draws=int(draws), model=model, random_seed=seed)
    entry = _BUILT.get(model)
    if entry is not None:
        idata.attrs.update(entry[0].attrs())
    return idata
