"""The exact posterior with labels: :func:`exact_posterior` (an :class:`ExactPosterior`) over
the numpy grid posteriors of :mod:`hiermodel.core` -- known sampling sds on a tau grid (BDA3
section 5.4), with covariates, and raw rows with sigma unknown on a (tau, sigma) grid."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._validate import check_count, check_method, check_positive_int
from ..core import (
    GridPosterior,
    RegressionGridPosterior,
    UnknownSigmaGridPosterior,
    design_matrix,
    grid_posterior,
    regression_grid_posterior,
    unknown_sigma_grid_posterior,
)
from ..core.arrays import floats
from ..data import HierData
from ..priors import Priors

__all__ = ["ExactPosterior", "exact_posterior"]


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
        from .. import stack

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

    # ------------------------------------------------------------------ Bayes factors
    def _bf_core(self, what: str) -> GridPosterior:
        """The known-se, intercept-only core, or NotImplementedError naming why not."""
        if not self.sigma_known:
            raise NotImplementedError(f"ExactPosterior.{what} needs known sampling sds; this "
                                      "posterior has sigma unknown (raw rows without sigma=).")
        if self.has_covariates:
            raise NotImplementedError(f"ExactPosterior.{what} is for the intercept-only model; "
                                      "this posterior has covariates (meta-regression).")
        return self.core

    def _log_marginals(self, what: str, need_mu_prior: bool):
        from ..core.bayes_factors import log_marginals

        c = self._bf_core(what)
        if need_mu_prior and c.mu_precision == 0:
            raise ValueError(f"ExactPosterior.{what}: the prior of `mu` is flat (improper), so "
                             "the marginal likelihood of mu = 0 against mu free is undefined; "
                             "use a proper prior, Priors(mu_mean=..., mu_sd=...).")
        return log_marginals(c.means, c.se**2, tau_logpdf=c.tau_logpdf, mu_mean=c.mu_mean,
                             mu_precision=c.mu_precision, tau_max=self.priors.tau_bound,
                             points=self.tau_grid.size)

    def density(self, name: str, x: Any) -> np.ndarray:
        """The exact posterior density of ``"mu"`` (the normal mixture over the tau grid,
        ``sum_k weights_k N(x; E[mu | tau_k, y], Var[mu | tau_k, y])``) or ``"tau"``
        (``p(tau | y)`` from the formula, :meth:`tau_pdf`) at the points ``x``."""
        name = check_method(name, ("mu", "tau"), "name")
        c = self._bf_core("density")
        x = floats("x", x)
        if name == "tau":
            if (x < 0).any():
                raise ValueError(f"`x` must be >= 0 for the density of tau, got {x!r}.")
            return c.tau_pdf(x)
        from ..core.bayes_factors import mixture_density

        return mixture_density(x, c.weights, c.mu_cond_mean, c.mu_cond_var)

    def bayes_factor(self, name: str, minimum: bool = False) -> float:
        """The Bayes factor ``BF01 = p(y | H0) / p(y | H1)`` of ``"tau"`` (H0: tau = 0, the
        common-effect model) or ``"mu"`` (H0: mu = 0) from the exact marginal likelihoods, as
        bayesmeta's ``bayesfactor`` (Roever 2020, *J. Stat. Softw.* 93(6)); equal to the
        Savage-Dickey ratio of posterior to prior density at the null value.  ``"mu"`` needs
        a proper (normal) prior on mu: a flat one is a ValueError.

        ``minimum=True``: bayesmeta's minimum Bayes factor, ``p(y | H0)`` over the largest
        ``p(y | tau)`` (mu integrated under its prior) or ``p(y | mu)`` (tau integrated under
        its prior), i.e. at the "ML marginal" estimate; defined with a flat mu prior too."""
        name = check_method(name, ("mu", "tau"), "name")
        if not isinstance(minimum, bool):
            raise TypeError(f"`minimum` must be True or False, got {minimum!r}.")
        if minimum:
            from ..core.bayes_factors import ml_marginal_mu, ml_marginal_tau

            c = self._bf_core("bayes_factor")
            if name == "tau":
                _, gain = ml_marginal_tau(c.means, c.se**2, c.tau_grid, mu_mean=c.mu_mean,
                                          mu_precision=c.mu_precision)
            else:
                _, gain = ml_marginal_mu(c.means, c.weights, c.mu_cond_mean, c.mu_cond_var,
                                         mu_mean=c.mu_mean, mu_precision=c.mu_precision)
            return float(np.exp(-gain))
        lm = self._log_marginals("bayes_factor", need_mu_prior=name == "mu")
        return float(np.exp((lm.m01 if name == "tau" else lm.m10) - lm.m11))

    def model_average(self, prior_probs: Any = None,
                      quantiles: Sequence[float] = (0.025, 0.5, 0.975)):
        """Bayesian model averaging over the four models {tau = 0, tau > 0} x {mu = 0, mu
        free} (order :data:`hiermodel.core.bayes_factors.MODELS`), as metaBMA / RoBMA
        (Gronau et al. 2021; Maier, Bartos and Wagenmakers 2023) but exact: posterior model
        probabilities, inclusion Bayes factors of mu and tau, the model-averaged mean, sd
        and ``quantiles`` of mu (a point mass at 0 mixed with the mu-free posteriors), and
        the model-averaged mean and sd of tau (a point mass at 0 mixed with the tau > 0
        posteriors).  ``prior_probs``: four prior model probabilities (default 1/4 each).
        Needs a proper prior on mu.

        Returns a :class:`hiermodel.core.bayes_factors.ModelAverage`."""
        from ..core.bayes_factors import model_average

        lm = self._log_marginals("model_average", need_mu_prior=True)
        c = self.core
        return model_average(lm, prior_probs, quantiles, means=c.means, se=c.se,
                             mu_mean=c.mu_mean, mu_precision=c.mu_precision, weights=c.weights,
                             mu_cond_mean=c.mu_cond_mean, mu_cond_var=c.mu_cond_var)

    def leave_one_out(self, prob: float | None = None) -> pd.DataFrame:
        """Each study's influence on the posterior, exactly: the posterior of ``mu`` and
        ``tau`` given all studies but one (the same resolved prior and grid size), one row per
        study left out (index: its label): ``mu_mean``, ``mu_sd``, ``mu_low``, ``mu_high``,
        ``tau_mean``, ``tau_sd``, ``tau_low``, ``tau_high`` (central ``prob`` intervals;
        default the package's interval probability).  The Bayesian counterpart of metafor's
        ``leave1out`` (:meth:`hiermodel.MetaAnalysis.leave_one_out`); known sampling sds and
        no covariates only (:func:`hiermodel.core.influence.exact_leave_one_out`)."""
        from ..core.influence import EXACT_LEAVE_ONE_OUT_COLUMNS, exact_leave_one_out

        rows = exact_leave_one_out(self.means, self.se, **self._study_prior(prob))
        return pd.DataFrame(rows, index=pd.Index(self.group_coord, name="group"),
                            columns=list(EXACT_LEAVE_ONE_OUT_COLUMNS))

    def cumulative(self, order: Any = None, prob: float | None = None) -> pd.DataFrame:
        """The posterior of ``mu`` and ``tau`` as studies accrue, exactly: row ``j`` is the
        posterior of the first ``j`` studies in the order of ``order`` (one value per study,
        e.g. publication years; ties keep the data's order; default the data's order), under
        the same resolved prior and grid size.  Columns ``k`` and those of
        :meth:`leave_one_out`; the Bayesian counterpart of metafor's ``cumul``
        (:meth:`hiermodel.MetaAnalysis.cumulative`).  The first rows sit near the prior: with
        a flat prior on ``mu`` the first row is NaN (one study leaves the posterior
        improper), and under a half-Cauchy prior the mean and sd of ``tau`` of a few studies
        do not exist (the grid's numbers are finite): read the intervals there."""
        from ..core.influence import EXACT_LEAVE_ONE_OUT_COLUMNS, exact_cumulative

        prior = self._study_prior(prob)
        if order is None:
            idx = np.arange(self.means.size)
        else:
            key = np.asarray(order)
            if key.shape != self.means.shape:
                raise ValueError(f"`order` needs one value per study ({self.means.size}), got "
                                 f"shape {key.shape}.")
            idx = np.argsort(key, kind="stable")
        rows = exact_cumulative(self.means[idx], self.se[idx], **prior)
        out = pd.DataFrame(rows, index=pd.Index(self.group_coord[idx], name="group"),
                           columns=list(EXACT_LEAVE_ONE_OUT_COLUMNS))
        out.insert(0, "k", np.arange(1, idx.size + 1))
        return out

    def _study_prior(self, prob: float | None) -> dict[str, Any]:
        """The grid posterior's prior and size, and ``prob``, for refits on subsets of the
        studies (known sampling sds, no covariates only)."""
        from ..options import get_options

        if self.has_covariates or not self.sigma_known:
            raise ValueError("leave_one_out() and cumulative() need the exact posterior of "
                             "estimates with known standard errors and no covariates; this "
                             "one has "
                             + ("covariates." if self.has_covariates else "unknown sigma."))
        flat = self.priors.mu == "flat"
        return {"tau_logpdf": self.priors.tau_dist().logpdf,
                "mu_mean": 0.0 if flat else self.priors.mu_mean,
                "mu_precision": 0.0 if flat else 1.0 / self.priors.mu_sd**2,
                "tau_max": self.priors.tau_bound, "points": int(self.tau_grid.size),
                "prob": get_options().prob if prob is None else prob}


def exact_posterior(data: HierData, priors: Priors | None = None, *,
                    grid: int | None = None, sigma_grid: int = 151) -> ExactPosterior:
    """The exact (sampling-free) posterior of the three-level normal model.

    Following Gelman et al., BDA3 section 5.4, with ``v_i = se_i^2`` and ``t = tau^2``::

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
