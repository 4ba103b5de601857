"""The labelled facade over the closed-form core: HierData in, xarray / pandas out.

Everything here is about the normal three-level model with known sampling sds ``se_i``

    ybar_i | theta_i ~ N(theta_i, se_i^2),    theta_i | mu, tau ~ N(mu, tau^2).

The arithmetic lives in the numpy core, :mod:`hiermodel.core` (pooling, the tau estimators,
empirical Bayes, the exact grid posterior), which works on plain arrays and broadcasts over
batches of datasets.  This module puts labels on it: it takes
:class:`~hiermodel.data.HierData` and :class:`~hiermodel.priors.Priors`, passes the core
plain numbers, and returns xarray / pandas / ArviZ objects (:func:`empirical_bayes`,
:func:`pooling_table`, :func:`conditional_means`, :func:`rao_blackwell`,
:func:`exact_posterior`).

This module imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._validate import check_count, check_method, check_positive_int
from .core import (
    EB_METHODS,
    METAREG_METHODS,
    TAU_METHODS,
    GridPosterior,
    MetaRegression,
    RegressionGridPosterior,
    UnknownSigmaGridPosterior,
    complete_pooling,
    design_matrix,
    eb_core,
    estimate_tau,
    grid_posterior,
    meta_regression,
    prediction_interval,
    q_profile_interval,
    r_squared,
    regression_grid_posterior,
    unknown_sigma_grid_posterior,
)
from .core.arrays import floats
from .core.pooling import conditional_unchecked
from .data import HierData, group_coord
from .priors import Priors
from .transforms import check_transform

__all__ = [
    "EmpiricalBayes", "empirical_bayes", "pooling_table", "tau_estimates", "conditional_means",
    "rao_blackwell", "covariate_offset",
    "ExactPosterior", "exact_posterior",
    "MetaAnalysis", "meta_analysis",
]



# ============================================================================ empirical Bayes
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



# ============================================================================ Rao-Blackwell
def _hyper_draws(posterior: Any) -> tuple[xr.DataArray, xr.DataArray, xr.Dataset | None]:
    """``(mu, tau, posterior dataset or None)`` with dims including (chain, draw)."""
    ds = None
    from . import stack

    if hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        posterior = posterior.posterior
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


# ============================================================================ exact posterior
def _from_core(name: str, doc: str) -> property:
    """A read-only attribute of :class:`ExactPosterior` that is its core's ``name``."""
    return property(lambda self: getattr(self.core, name), doc=doc)


@dataclass(frozen=True, eq=False, repr=False)
class ExactPosterior:
    """The sampling-free posterior of the normal three-level model (BDA3 section 5.4).

    Built by :func:`exact_posterior`; the numbers come from the core
    (:class:`hiermodel.core.GridPosterior`), this class labels them.  ``tau`` has a density
    on a grid; given ``tau`` everything is normal:

        mu | tau, y ~ N(mu_hat(tau), V_mu(tau)),
        theta_i | mu, tau, y ~ N(w_i ybar_i + (1 - w_i) mu, w_i se_i^2),
        theta_i | tau, y ~ N(w_i ybar_i + (1 - w_i) mu_hat, w_i se_i^2 + (1 - w_i)^2 V_mu),

    so marginal moments of ``mu`` and ``theta_i`` are mixtures over the grid (law of total
    expectation / variance) and their quantiles solve the mixture CDF.

    For raw rows with sigma unknown the grid is over ``(tau, sigma)``
    (:class:`hiermodel.core.UnknownSigmaGridPosterior`; ``se_i = sigma / sqrt(n_i)`` at each
    point), and ``sigma`` joins ``mu`` and ``tau`` in every result; ``weights`` and the
    ``*_cond_*`` arrays are then over the grid's points, ``tau_density`` is the marginal
    ``p(tau | y)`` on ``tau_grid``, and ``sigma_grid`` / ``sigma_density`` the same for sigma.

    Attributes
    ----------
    groups : tuple
        Group labels.
    priors : Priors
        The priors, resolved against the data.
    data : HierData
        The data the posterior is conditioned on.
    group_coord : ndarray, shape (G,)
        The ``group`` coordinate of the labelled results (as ``data.to_xarray()`` has it).
    core : hiermodel.core.GridPosterior
        The numbers: grid, density, conditional moments.
    means, se : ndarray, shape (G,)
        The group means ``ybar_i`` and their standard errors ``se_i`` used.
    tau_grid : ndarray, shape (K,)
        Grid of ``tau`` values (non-uniform; uniform in ``u = tau / (tau + c)``).
    tau_density : ndarray, shape (K,)
        ``p(tau | y)`` on ``tau_grid`` (normalised in ``tau``).
    weights : ndarray, shape (K,)
        Quadrature weights (Simpson in ``u``, times the density), summing to 1:
        ``E[g(tau) | y] ~ sum_k weights_k g(tau_k)``.
    mu_cond_mean, mu_cond_var : ndarray, shape (K,)
        ``E[mu | tau_k, y]`` and ``Var[mu | tau_k, y]``.
    theta_cond_mean, theta_cond_var : ndarray, shape (K, G)
        ``E[theta_i | tau_k, y]`` and ``Var[theta_i | tau_k, y]``.
    truncated_mass : float
        Estimated posterior mass of ``tau`` outside the grid (the mass check).
    """

    groups: tuple
    priors: Priors
    data: HierData
    group_coord: np.ndarray
    core: GridPosterior | RegressionGridPosterior | UnknownSigmaGridPosterior

    @property
    def sigma_known(self) -> bool:
        """Whether the sampling sds are known (else sigma is a parameter, on the grid)."""
        return not isinstance(self.core, UnknownSigmaGridPosterior)

    @property
    def sigma_grid(self) -> np.ndarray | None:
        """The sigma axis of the grid (None when sigma is known)."""
        return None if self.sigma_known else self.core.sigma_grid

    @property
    def sigma_density(self) -> np.ndarray | None:
        """``p(sigma | y)`` on ``sigma_grid`` (None when sigma is known)."""
        return None if self.sigma_known else self.core.sigma_density

    @property
    def has_covariates(self) -> bool:
        """Whether the model has covariates (then also ``beta`` and ``intercept``)."""
        return isinstance(self.core, RegressionGridPosterior)

    def _intercept_contrast(self) -> np.ndarray:
        """``a`` with ``a' (mu, beta) = mu - xbar' beta``, the raw-scale intercept."""
        return np.r_[1.0, -np.asarray(self.data.covariate_means, float)][None, :]

    def _coords(self) -> dict[str, Any]:
        coords: dict[str, Any] = {"group": self.group_coord}
        if self.has_covariates:
            coords["covariate"] = list(self.data.covariate_names)
        return coords

    # ------------------------------------------------------------------ the core's numbers
    means = _from_core("means", "Group means ``ybar_i``, shape (G,).")
    se = _from_core("se", "Their standard errors ``se_i``, shape (G,).")
    tau_grid = _from_core("tau_grid", "The grid of ``tau`` values, shape (K,).")
    tau_density = _from_core("tau_density", "``p(tau | y)`` on ``tau_grid``.")
    weights = _from_core("weights", "Quadrature weights on ``tau_grid``, summing to 1.")
    mu_cond_mean = _from_core("mu_cond_mean", "``E[mu | tau_k, y]``, shape (K,).")
    mu_cond_var = _from_core("mu_cond_var", "``Var[mu | tau_k, y]``, shape (K,).")
    theta_cond_mean = _from_core("theta_cond_mean", "``E[theta_i | tau_k, y]``, shape (K, G).")
    theta_cond_var = _from_core("theta_cond_var", "``Var[theta_i | tau_k, y]``, shape (K, G).")
    truncated_mass = _from_core("truncated_mass", "Posterior mass of ``tau`` off the grid.")

    # ------------------------------------------------------------------ moments
    def _dataset(self, stat: str) -> xr.Dataset:
        m = self.core.moments
        if not self.has_covariates:
            sigma = {} if self.sigma_known else {"sigma": float(m[f"sigma_{stat}"])}
            return xr.Dataset(
                {"mu": float(m[f"mu_{stat}"]), "tau": float(m[f"tau_{stat}"]), **sigma,
                 "theta": ("group", m[f"theta_{stat}"])},
                coords=self._coords(),
            )
        b = m[f"beta_{stat}"]
        icpt = self.core.contrast_moments(self._intercept_contrast())[stat == "sd"]
        return xr.Dataset(
            {"mu": float(b[0]), "beta": ("covariate", b[1:]), "intercept": float(icpt[0]),
             "tau": float(m[f"tau_{stat}"]), "theta": ("group", m[f"theta_{stat}"])},
            coords=self._coords(),
        )

    @property
    def mean(self) -> xr.Dataset:
        """Exact posterior means of ``mu``, ``tau`` and ``theta`` (on ``group``)."""
        return self._dataset("mean")

    @property
    def sd(self) -> xr.Dataset:
        """Exact posterior sds of ``mu``, ``tau`` and ``theta``."""
        return self._dataset("sd")

    def quantile(self, q: float | Sequence[float]) -> xr.Dataset:
        """Exact posterior quantiles of ``mu``, ``tau`` and ``theta``, on a ``quantile`` dim.

        ``tau``: inverse of the grid CDF (piecewise-linear density); ``mu`` and ``theta``:
        roots of the normal-mixture CDF (safeguarded Newton, rtol 1e-12).
        """
        qs = floats("q", q)
        scalar = qs.ndim == 0
        qs = np.atleast_1d(qs)
        if qs.ndim != 1 or ((qs <= 0) | (qs >= 1)).any():
            raise ValueError(f"`q` must be probabilities strictly between 0 and 1; got {q!r}.")
        coords = {**self._coords(), "quantile": qs}
        if not self.has_covariates:
            if self.sigma_known:
                tau, x = self.core.quantiles(qs)
                sigma = {}
            else:
                tau, sig, x = self.core.quantiles(qs)
                sigma = {"sigma": ("quantile", sig)}
            ds = xr.Dataset({"mu": ("quantile", x[0]), "tau": ("quantile", tau), **sigma,
                             "theta": (("group", "quantile"), x[1:])}, coords=coords)
            return ds.isel(quantile=0) if scalar else ds
        tau, x = self.core.quantiles(qs, self._intercept_contrast())
        p = self.data.n_covariates
        ds = xr.Dataset({"mu": ("quantile", x[0]),
                         "beta": (("covariate", "quantile"), x[1:p + 1]),
                         "intercept": ("quantile", x[-1]), "tau": ("quantile", tau),
                         "theta": (("group", "quantile"), x[p + 1:-1])}, coords=coords)
        return ds.isel(quantile=0) if scalar else ds

    def summary(self, quantiles: Sequence[float] = (0.025, 0.5, 0.975)) -> pd.DataFrame:
        """Table of exact means, sds and quantiles; rows ``mu``, (with covariates
        ``beta[<covariate>]`` and ``intercept``), ``tau``, (sigma unknown) ``sigma``,
        ``theta[<group>]``."""
        mean, sd, qd = self.mean, self.sd, self.quantile(list(quantiles))
        names = ["mu"]
        if self.has_covariates:
            names += ["beta", "intercept"]
        names += ["tau"] + ([] if self.sigma_known else ["sigma"]) + ["theta"]
        rows = []
        for v in names:
            dim = mean[v].dims[0] if mean[v].dims else None
            rows += ([v] if dim is None
                     else [f"{v}[{c}]" for c in mean[v][dim].values.tolist()])
        table = {"mean": np.concatenate([np.atleast_1d(mean[v].values) for v in names]),
                 "sd": np.concatenate([np.atleast_1d(sd[v].values) for v in names])}
        for j, qv in enumerate(qd["quantile"].values):
            table[f"q{100 * qv:g}%"] = np.concatenate(
                [np.atleast_1d(qd[v].isel(quantile=j).values) for v in names])
        return pd.DataFrame(table, index=pd.Index(rows, name="variable"))

    def tau_pdf(self, tau: Any) -> np.ndarray:
        """The normalised density ``p(tau | y)`` at arbitrary ``tau >= 0``, from the formula."""
        return self.core.tau_pdf(tau)

    # ------------------------------------------------------------------ draws
    def sample(self, draws: int = 1000, chains: int = 4, seed: Any = None):
        """Exact independent draws as ``arviz.InferenceData``.

        ``tau`` by inverse CDF of the grid density (continuous, linear interpolation of the
        density within cells), then ``mu | tau, y`` and ``theta | mu, tau, y`` from their
        normal conditionals (sigma unknown: ``sigma`` from its marginal first, then ``tau``
        given it).  The ``posterior`` group holds ``mu`` and ``tau`` (and ``sigma``) (chain,
        draw) and ``theta`` (chain, draw, group), with the same names and coords as the NUTS fit,
        and ``attrs["method"] = "exact"``.  The same ``seed`` gives identical draws
        (``np.random.default_rng(seed)``).

        Parameters
        ----------
        draws, chains : int, default 1000 and 4
        seed : int, Generator or None

        Returns
        -------
        arviz.InferenceData
        """

        draws, chains = check_positive_int(draws, "draws"), check_positive_int(chains, "chains")
        rng = np.random.default_rng(seed)
        shape = (chains, draws)
        dims = {"theta": ["group"]}
        if self.has_covariates:
            coef, tau, theta = self.core.draw(rng, chains * draws)
            mu, beta = coef[:, 0], coef[:, 1:]
            post = {"mu": mu.reshape(shape), "beta": beta.reshape(shape + (-1,)),
                    "intercept": (coef @ self._intercept_contrast()[0]).reshape(shape)}
            dims["beta"] = ["covariate"]
        elif self.sigma_known:
            mu, tau, theta = self.core.draw(rng, chains * draws)
            post = {"mu": mu.reshape(shape)}
        else:
            mu, tau, sigma, theta = self.core.draw(rng, chains * draws)
            post = {"mu": mu.reshape(shape), "sigma": sigma.reshape(shape)}
        post.update(tau=tau.reshape(shape), theta=theta.reshape(shape + (-1,)))
        attrs = {"method": "exact", **self.priors.to_attrs(),
                 "grid_points": int(self.tau_grid.size),
                 "seed": "None" if seed is None else str(seed),
                 "truncated_mass": self.truncated_mass}
        from . import stack

        return stack.from_dict({"posterior": post}, coords=self._coords(), dims=dims,
                               attrs={"posterior": attrs})

    to_inference_data = sample

    def __repr__(self) -> str:
        s = self.summary()
        grid = (f"{self.tau_grid.size}-point tau grid" if self.sigma_known else
                f"{self.tau_grid.size} x {self.sigma_grid.size} (tau, sigma) grid")
        return (f"ExactPosterior({self.priors.describe()}; {len(self.groups)} groups, "
                f"{grid})\n"
                + s.to_string(float_format=lambda x: f"{x:.4g}", max_rows=14))


def exact_posterior(data: HierData, priors: Priors | None = None, *,
                    grid: int | None = None, sigma_grid: int = 151) -> ExactPosterior:
    """The exact (sampling-free) posterior of the three-level normal model.

    Following Gelman et al., BDA3 section 5.4, with ``v_i = se_i^2`` and ``t = tau^2``:

        p(tau | y) ∝ p(tau) V_mu^(1/2) prod_i (v_i + t)^(-1/2)
                     exp(-(ybar_i - mu_hat)^2 / (2 (v_i + t))),
        mu_hat = sum_i ybar_i/(v_i + t) / sum_i 1/(v_i + t),  V_mu = 1 / sum_i 1/(v_i + t)

    for a flat prior on mu.  A ``mu ~ N(mu0, s0^2)`` prior is one more "observation" ``mu0``
    with variance ``s0^2``: it adds ``1/s0^2`` to ``1/V_mu``, ``mu0/s0^2`` to the numerator
    of ``mu_hat`` and ``exp(-(mu0 - mu_hat)^2 / (2 s0^2))`` to ``p(tau | y)``.  ``p(tau)`` is
    ``priors.tau_dist()``.  The density is evaluated on an adaptive grid uniform in
    ``u = tau / (tau + c)``, ``c = sqrt(mean(se^2) + var(ybar))`` (which maps ``[0, inf)`` to
    ``[0, 1)`` and includes ``tau = 0``), zoomed onto the region within ``e^-46`` of the
    mode, and normalised with Simpson's rule in ``u`` (Jacobian ``dtau/du = c/(1-u)^2``).
    The numerics are :func:`hiermodel.core.grid_posterior`'s; this function hands it the
    priors as numbers.

    Raw rows with sigma unknown: given ``(tau, sigma)`` the model is the known-se one with
    ``se_i = sigma / sqrt(n_i)``, and the pooled within-group sum of squares gives sigma's
    likelihood ``sigma^-(N-G) exp(-SS / (2 sigma^2))`` (groups of one row add nothing), so
    ``p(tau, sigma | y)`` is a 2-D grid, uniform in ``u`` and in ``log sigma``, with mu and
    theta integrated out analytically at each point
    (:func:`hiermodel.core.unknown_sigma_grid_posterior`); sigma's prior is
    ``priors.sigma_dist()``, the one :func:`hiermodel.fit` uses.  (bayesmeta handles known
    se only.)

    Parameters
    ----------
    data : HierData
        Summary or estimates form, or raw rows with a known or unknown sigma; with
        covariates, sigma must be known (``NotImplementedError`` otherwise).
    priors : Priors, optional
        Default ``Priors()``, scaled to the data (:mod:`hiermodel.priors`), the same as
        :func:`hiermodel.fit` uses; ``mu="flat"`` is the flat prior (proper posterior
        for ``G >= 2``, as every tau prior is proper).
    grid : int, optional
        Number of tau grid points (made odd for Simpson's rule), >= 101; default 2001, and
        301 when sigma is unknown.
    sigma_grid : int, default 151
        Number of sigma grid points when sigma is unknown (made odd), >= 51.

    Returns
    -------
    ExactPosterior
        Means, sds, quantiles (``.mean``, ``.sd``, ``.quantile``, ``.summary()``), the tau
        grid and density, and exact draws (``.sample(draws, chains, seed)``).
    """
    data = HierData.check(data, covariates=True)
    priors = Priors.check(priors, data=data)
    flat = priors.mu == "flat"
    if not data.sigma_known:
        if data.has_covariates:
            raise NotImplementedError(
                "exact_posterior with covariates needs known sampling sds, but `data` has "
                "unknown sigma (raw rows without sigma=): use fit() for this model, or "
                "exact_posterior on the data without covariates or with a known `sigma=`.")
        core = unknown_sigma_grid_posterior(
            np.asarray(data.means, float), np.asarray(data.n, float),
            np.asarray(data.ss, float), tau_logpdf=priors.tau_dist().logpdf,
            sigma_logpdf=priors.sigma_dist().logpdf,
            mu_mean=0.0 if flat else priors.mu_mean,
            mu_precision=0.0 if flat else 1.0 / priors.mu_sd**2,
            tau_max=priors.tau_bound,
            points=(check_count(301 if grid is None else grid, "grid", 101),
                    check_count(sigma_grid, "sigma_grid", 51)))
        return _checked_exact(data, priors, core)
    grid = check_count(2001 if grid is None else grid, "grid", 101)
    if data.has_covariates:
        core = _regression_core(data, priors, grid)
    else:
        core = grid_posterior(
            np.asarray(data.means, float), np.asarray(data.se, float),
            tau_logpdf=priors.tau_dist().logpdf,
            mu_mean=0.0 if flat else priors.mu_mean,
            mu_precision=0.0 if flat else 1.0 / priors.mu_sd**2,
            tau_max=priors.tau_bound,
            points=grid,
        )
    return _checked_exact(data, priors, core)


def _checked_exact(data: HierData, priors: Priors, core: Any) -> ExactPosterior:
    """The labelled posterior, with a warning when the grid misses posterior mass."""
    if core.truncated_mass > 1e-10:
        warnings.warn(f"exact_posterior: about {core.truncated_mass:.2g} of the posterior "
                      "lies outside the grid.", RuntimeWarning, stacklevel=3)
    return ExactPosterior(groups=data.groups, priors=priors, data=data,
                          group_coord=data.to_xarray()["group"].values, core=core)


def _regression_core(data: HierData, priors: Priors, grid: int) -> RegressionGridPosterior:
    """The exact posterior with covariates: design ``[1, x - xbar]`` (as the models), prior
    ``(mu, beta) ~ N((mu_mean, beta_mean), diag(mu_sd^2, beta_sd^2))`` (mu's precision 0 when
    flat)."""
    mean, precision = priors.coefficient_prior(data.n_covariates)
    return regression_grid_posterior(
        np.asarray(data.means, float), np.asarray(data.se, float),
        design_matrix(data.n_groups, data.centered_covariates),
        tau_logpdf=priors.tau_dist().logpdf, beta_mean=mean, beta_precision=precision,
        tau_max=priors.tau_bound, points=grid)


# ============================================================================ meta-analysis
@dataclass(frozen=True, eq=False)
class MetaAnalysis:
    """The random-effects meta-analysis / meta-regression of :func:`meta_analysis`, as
    metafor's ``rma(yi, vi, mods=...)`` reports it.

    Attributes
    ----------
    coefficients : DataFrame
        One row per coefficient (``intercept``, then each covariate): ``estimate``, ``se``,
        ``z`` (``t`` with Knapp-Hartung), ``p``, ``ci_low``, ``ci_high``.
    heterogeneity : Series
        ``tau2`` with its Q-profile interval (``tau2_ci_low``, ``tau2_ci_high``; NaN for the
        equal-effects ``method="ee"``), ``tau``,
        ``QE``, ``QE_df``, ``QE_p``, ``I2`` and ``H2`` (``I2`` in percent), and with
        covariates ``R2`` (percent of the intercept-only ``tau2`` explained) and the test of
        the covariates ``QM``, ``QM_df``, ``QM_p`` (with Knapp-Hartung ``QM`` is the F
        statistic on ``(QM_df, QE_df)``).
    theta : Series
        The EB estimates of the group effects, by group.
    method, level, knha :
        How it was computed.
    fit : MetaRegression
        The core's numbers.
    """

    coefficients: pd.DataFrame
    heterogeneity: pd.Series
    theta: pd.Series
    method: str
    level: float
    knha: bool
    fit: MetaRegression
    covariate_names: tuple[str, ...]

    def predict(self, covariates: Any = None, transform: str | None = None) -> pd.DataFrame:
        """The fitted effect for a new group and its prediction interval: columns ``pred``,
        ``se``, ``ci_low``, ``ci_high``, ``pi_low``, ``pi_high``.  ``covariates``: a DataFrame
        (or dict) with the model's covariate columns, one row per new group; None for the
        intercept-only model.

        ``transform``: a name from :data:`hiermodel.transforms.TRANSFORMS` (``"exp"`` for log
        ratios, ``"expit"`` for logit proportions, ``"tanh"`` for Fisher's z) puts ``pred`` and
        the interval ends on that scale, as metafor's ``predict(res, transf=exp)`` does: the
        transforms are increasing, so the intervals map end to end.  The ``se`` column is then
        left out (it has no counterpart on the transformed scale; call without ``transform``
        for it); ``attrs["transform"]`` and ``attrs["scale"]`` name the scale."""
        back = check_transform(transform)
        names = list(self.covariate_names)
        if covariates is None:
            if names:
                raise ValueError(f"`covariates`: give values of {names} for the new group(s).")
            x0, index = np.ones((1, 1)), pd.RangeIndex(1)
        elif not names:
            raise ValueError("`covariates`: this meta-analysis has no covariates (an "
                             "intercept-only model predicts the same effect for every new "
                             "group); call predict() without them, or fit a meta-regression "
                             "on data with those covariates (HierData.with_covariates).")
        else:
            table = pd.DataFrame(covariates)
            missing = [c for c in names if c not in table.columns]
            if missing:
                raise ValueError(f"`covariates` lacks column(s) {missing}.")
            x0 = design_matrix(len(table), floats("covariates", table[names].to_numpy()))
            index = table.index
        out = pd.DataFrame(prediction_interval(self.fit, x0, self.level), index=index,
                           columns=["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"])
        if not back.is_identity:
            out = out.drop(columns="se").apply(back)
        out.attrs.update(transform=back.name, scale=back.scale)
        return out


def meta_analysis(data: HierData, method: str = "reml", *, knha: bool = False,
                  level: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis of ``data`` (estimates ``y_i`` with known ``se_i``), and
    meta-regression when the data carry covariates (:meth:`HierData.with_covariates`):
    ``y_i ~ N(x_i' beta, tau^2 + se_i^2)`` by empirical Bayes
    (:func:`hiermodel.core.meta_regression`; metafor's ``rma``).

    ``method``: ``"reml"`` (default), ``"ml"``, ``"dl"``, ``"pm"``, ``"he"`` (Hedges),
    ``"sj"`` (Sidik-Jonkman), ``"hs"`` (Hunter-Schmidt), or ``"ee"``: the equal-effects
    (common-effect) model, ``tau^2 = 0`` and weights ``1 / se_i^2`` (metafor's
    ``method="EE"``; ``tau2`` is reported as 0 with no Q-profile interval (NaN), ``I2`` and
    ``H2`` come from ``QE`` as metafor's, no ``R2``, and the prediction interval equals the
    confidence interval).  ``knha``: Knapp-Hartung intervals (t on ``G - p`` df; not with
    ``"ee"``).  ``level``: of every interval.
    """
    data = HierData.check(data, covariates=True)
    y, v = np.asarray(data.means), np.asarray(data.se) ** 2
    x = design_matrix(data.n_groups, None if data.x is None else np.asarray(data.x))
    fit = meta_regression(y, v, x, method, knha=knha)
    names = ("intercept", *data.covariate_names)
    ci = fit.beta_interval(level)
    stat = fit.beta / fit.beta_se
    coefficients = pd.DataFrame(
        {"estimate": fit.beta, "se": fit.beta_se, "t" if knha else "z": stat,
         "p": fit.beta_p(), "ci_low": ci[:, 0], "ci_high": ci[:, 1]},
        index=pd.Index(names, name="coefficient"))
    equal_effects = fit.method == "ee"
    lo, hi = (np.nan, np.nan) if equal_effects else q_profile_interval(y, v, x, level)
    het = {"tau2": fit.tau2, "tau2_ci_low": lo, "tau2_ci_high": hi, "tau": np.sqrt(fit.tau2),
           "QE": fit.qe, "QE_df": fit.qe_df, "QE_p": fit.qe_p, "I2": 100 * fit.i2,
           "H2": fit.h2}
    if data.has_covariates:
        if not equal_effects:
            null = meta_regression(y, v, None, method)
            het["R2"] = 100 * r_squared(null.tau2, fit.tau2)
        het["QM"], het["QM_df"], het["QM_p"] = fit.moderator_test()
    return MetaAnalysis(
        coefficients=coefficients, heterogeneity=pd.Series(het, name=method),
        theta=pd.Series(fit.theta, index=pd.Index(group_coord(data.groups), name="group"),
                        name="theta_eb"),
        method=method, level=float(level), knha=bool(knha), fit=fit,
        covariate_names=tuple(data.covariate_names))
