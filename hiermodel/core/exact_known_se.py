"""The exact grid posterior with known sampling sds (BDA3 section 5.4): :func:`grid_posterior`
(a :class:`GridPosterior`) and, with group-level covariates, :func:`regression_grid_posterior`
(a :class:`RegressionGridPosterior`).

``p(tau | y)`` lives on the grid of :mod:`~hiermodel.core.tau_grid`; given ``tau`` the
posterior of ``mu`` (or the coefficients) and of every ``theta_i`` is normal (BDA3 eqs.
5.17-5.20), so moments are mixtures over the grid and quantiles solve a mixture CDF; both
posteriors also draw exactly.

The priors enter as plain numbers: ``mu_mean`` and ``mu_precision`` (``1 / mu_sd^2``; 0 for
the flat prior), the log density of tau's prior (a callable) and, for a bounded prior, the
upper end of its support.  Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .._validate import check_count
from .arrays import batch_param, collinear_columns, means_se, standardized_design
from .pooling import conditional_unchecked, weights_unchecked
from .tau_grid import (
    TauGrid,
    density_tau,
    grid_moments,
    grid_tau,
    inverse_cdf,
    marginal,
    marginal_regression,
    mixture_quantiles,
    tau_grid,
    theta_new_mixture_quantiles,
)

__all__ = ["GridPosterior", "grid_posterior", "RegressionGridPosterior",
           "regression_grid_posterior"]


class _OnTauGrid:
    """What both grid posteriors read off their tau grid: a subclass has ``grid`` (a
    :class:`TauGrid`) and ``tau_logpdf``, and :meth:`_loglik` (``log p(y | tau)`` at
    ``tau^2``)."""

    grid: TauGrid
    tau_logpdf: Callable[[Any], Any]

    @property
    def tau_grid(self) -> np.ndarray:
        """The grid of ``tau`` values, shape (K,)."""
        return self.grid.tau

    @property
    def weights(self) -> np.ndarray:
        """Quadrature weights (Simpson in ``u``, times the density), summing to 1."""
        return self.grid.weights

    @property
    def truncated_mass(self) -> float:
        """Estimated posterior mass of ``tau`` outside the grid."""
        return self.grid.truncated_mass

    def _loglik(self, t2: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def tau_pdf(self, tau: Any) -> np.ndarray:
        """The normalised density ``p(tau | y)`` at arbitrary ``tau >= 0``, from the formula."""
        t = np.atleast_1d(batch_param("tau", tau, nonneg=True)).ravel()
        with np.errstate(divide="ignore"):
            lp = self._loglik(t * t) + self.tau_logpdf(t)
        return np.exp(lp - self.grid.log_norm).reshape(np.shape(tau))

    def tau_at(self, q: np.ndarray) -> np.ndarray:
        """``tau`` at the probabilities ``q`` (the inverse of the grid's CDF)."""
        return grid_tau(inverse_cdf(q, self.grid), self.grid)

    def theta_new_quantiles(self, qs: np.ndarray) -> np.ndarray:
        """Quantiles of a new group's effect ``theta_new ~ N(mu, tau^2)`` (with covariates at
        the covariates of the first coefficient's row), shape (Q,): a normal mixture over the
        grid, ``N(E[mu | tau_k, y], Var[mu | tau_k, y] + tau_k^2)``."""
        return theta_new_mixture_quantiles(qs, self.weights, self.mu_cond_mean, self.mu_cond_var,
                                    self.grid.tau)


@dataclass(frozen=True, eq=False)
class GridPosterior(_OnTauGrid):
    """The numbers of the exact posterior (built by :func:`grid_posterior`).

    Given ``tau`` everything is normal:

        mu | tau, y ~ N(mu_hat(tau), V_mu(tau)),
        theta_i | mu, tau, y ~ N(w_i ybar_i + (1 - w_i) mu, w_i se_i^2),
        theta_i | tau, y ~ N(w_i ybar_i + (1 - w_i) mu_hat, w_i se_i^2 + (1 - w_i)^2 V_mu),

    so marginal moments of ``mu`` and ``theta_i`` are mixtures over the grid (law of total
    expectation / variance) and their quantiles solve the mixture CDF.

    Attributes
    ----------
    means, se : ndarray, shape (G,)
        The data: group means and their standard errors.
    mu_mean, mu_precision : float
        The prior of mu, ``N(mu_mean, 1/mu_precision)``; ``mu_precision = 0``: flat.
    tau_logpdf : callable
        Log density of tau's prior.
    grid : TauGrid
        The adaptive grid and the tau posterior on it.
    tau_density : ndarray, shape (K,)
        ``p(tau | y)`` on ``grid.tau`` (normalised in ``tau``).
    mu_cond_mean, mu_cond_var : ndarray, shape (K,)
        ``E[mu | tau_k, y]`` and ``Var[mu | tau_k, y]``.
    theta_cond_mean, theta_cond_var : ndarray, shape (K, G)
        ``E[theta_i | tau_k, y]`` and ``Var[theta_i | tau_k, y]``.
    """

    means: np.ndarray
    se: np.ndarray
    mu_mean: float
    mu_precision: float
    tau_logpdf: Callable[[Any], Any]
    grid: TauGrid
    tau_density: np.ndarray
    mu_cond_mean: np.ndarray
    mu_cond_var: np.ndarray
    theta_cond_mean: np.ndarray
    theta_cond_var: np.ndarray

    @cached_property
    def moments(self) -> dict[str, np.ndarray]:
        """Exact means and sds: keys ``{mu,tau,theta}_{mean,sd}`` (theta: shape (G,))."""
        return grid_moments(self.weights, self.tau_grid, mu=(self.mu_cond_mean,
                                                               self.mu_cond_var),
                             theta=(self.theta_cond_mean, self.theta_cond_var))

    def quantiles(self, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(tau, x)`` at the probabilities ``qs`` (1-D, in (0, 1)): ``tau`` of shape (Q,),
        inverse of the grid CDF (piecewise-linear density); ``x`` of shape (1 + G, Q), rows
        ``mu`` then each ``theta_i``, roots of the normal-mixture CDF (safeguarded Newton,
        rtol 1e-12)."""
        tau = self.tau_at(qs)
        m = np.column_stack([self.mu_cond_mean, self.theta_cond_mean])
        s = np.sqrt(np.column_stack([self.mu_cond_var, self.theta_cond_var]))
        return tau, mixture_quantiles(qs, self.weights, m, s)

    def _loglik(self, t2: np.ndarray) -> np.ndarray:
        return marginal(t2, self.means, self.se**2, self.mu_mean, self.mu_precision).loglik

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        """``(mu, tau, theta)``: ``n`` exact independent draws, shapes (n,), (n,), (n, G).

        ``tau`` by inverse CDF of the grid density (continuous, linear interpolation of the
        density within cells), then ``mu | tau, y`` and ``theta | mu, tau, y`` from their
        normal conditionals.
        """
        tau = self.tau_at(rng.random(n))
        p0 = self.mu_precision
        cond = marginal(tau * tau, self.means, self.se**2, self.mu_mean, p0)
        mu = cond.mu_hat + np.sqrt(cond.mu_var) * rng.standard_normal(n)
        mean, var = conditional_unchecked(self.means, self.se, mu[:, None], tau[:, None])
        theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
        return mu, tau, theta


def grid_posterior(means: Any, se: Any, *, tau_logpdf: Callable[[Any], Any],
                   mu_mean: float = 0.0, mu_precision: float = 0.0,
                   tau_max: float | None = None, points: int = 2001) -> GridPosterior:
    """The exact posterior of ``ybar_i ~ N(theta_i, se_i^2)``, ``theta_i ~ N(mu, tau^2)``.

    Parameters
    ----------
    means, se : array_like, shape (G,)
        Group means and their (known) standard errors.
    tau_logpdf : callable
        Log density of tau's prior, vectorised (e.g. a frozen ``scipy.stats``
        distribution's ``logpdf``).
    mu_mean, mu_precision : float, default 0
        The prior ``mu ~ N(mu_mean, 1/mu_precision)``; ``mu_precision = 0`` is the flat
        prior (proper posterior for ``G >= 2``).
    tau_max : float, optional
        Upper end of the support of tau's prior when it is bounded (a uniform prior);
        default: unbounded.
    points : int, default 2001
        Number of grid points (made odd for Simpson's rule), >= 101.

    Returns
    -------
    GridPosterior
    """
    y, se = means_se(means, se)
    if y.ndim != 1:
        raise ValueError("`means` and `se` must be 1-D (one dataset) here.")
    if not callable(tau_logpdf):
        raise TypeError(f"`tau_logpdf` must be callable, got {type(tau_logpdf).__name__}.")
    if batch_param("mu_mean", mu_mean).ndim:
        raise ValueError(f"`mu_mean` must be a number, got {mu_mean!r}.")
    prec = batch_param("mu_precision", mu_precision, nonneg=True)
    if prec.ndim or not np.isfinite(prec):
        raise ValueError(f"`mu_precision` must be a finite number >= 0, got {mu_precision!r}.")
    if prec == 0 and y.size < 2:
        raise ValueError("A flat prior on mu needs at least 2 groups for a proper posterior.")
    n = check_count(points, "points", 101) | 1
    v = se * se
    g = tau_grid(y, v, n, tau_logpdf=tau_logpdf, mu_mean=mu_mean, mu_precision=mu_precision,
                 tau_max=tau_max)
    t2 = g.tau * g.tau
    marg = marginal(t2, y, v, mu_mean, mu_precision)
    mean, var = conditional_unchecked(y, se, marg.mu_hat[:, None], g.tau[:, None])
    w = weights_unchecked(se, g.tau[:, None])
    theta_var = var + (1.0 - w) ** 2 * marg.mu_var[:, None]
    return GridPosterior(
        means=y, se=se, mu_mean=mu_mean, mu_precision=mu_precision, tau_logpdf=tau_logpdf,
        grid=g, tau_density=density_tau(g), mu_cond_mean=marg.mu_hat, mu_cond_var=marg.mu_var,
        theta_cond_mean=mean, theta_cond_var=theta_var,
    )


@dataclass(frozen=True)
class RegressionGridPosterior(_OnTauGrid):
    """The exact posterior with group-level covariates (built by
    :func:`regression_grid_posterior`): ``theta_i ~ N(x_i' beta, tau^2)``,
    ``beta ~ N(b0, P0^-1)``.  Given ``tau``, ``beta | tau, y ~ N(beta_hat, V)``
    (:func:`marginal_regression`) and, with ``w_i = tau^2 / (tau^2 + se_i^2)``,

        theta_i | tau, y ~ N(w_i y_i + (1 - w_i) x_i' beta_hat,
                             w_i se_i^2 + (1 - w_i)^2 x_i' V x_i).

    Attributes: the data (``means``, ``se``, ``X``), the grid, ``tau_density``,
    ``beta_cond_mean`` (K, p), ``beta_cond_cov`` (K, p, p), ``theta_cond_mean`` and
    ``theta_cond_var`` (K, G).
    """

    means: np.ndarray
    se: np.ndarray
    X: np.ndarray
    beta_mean_prior: np.ndarray
    beta_precision: np.ndarray
    tau_logpdf: Callable[[Any], Any]
    grid: TauGrid
    tau_density: np.ndarray
    beta_cond_mean: np.ndarray
    beta_cond_cov: np.ndarray
    theta_cond_mean: np.ndarray
    theta_cond_var: np.ndarray

    @property
    def mu_cond_mean(self) -> np.ndarray:
        """``E[beta_0 | tau_k, y]`` (the first coefficient; ``mu`` for a centred design)."""
        return self.beta_cond_mean[:, 0]

    @property
    def mu_cond_var(self) -> np.ndarray:
        """``Var[beta_0 | tau_k, y]``."""
        return self.beta_cond_cov[:, 0, 0]

    def contrast_cond(self, a: Any) -> tuple[np.ndarray, np.ndarray]:
        """``E`` and ``Var`` of ``a' beta`` given each ``tau_k``: shapes (K, m) for ``a`` of
        shape (m, p) (one linear combination of the coefficients per row)."""
        a = np.atleast_2d(np.asarray(a, dtype=float))
        mean = self.beta_cond_mean @ a.T
        var = np.einsum("mj,kjl,ml->km", a, self.beta_cond_cov, a)
        return mean, var

    @cached_property
    def moments(self) -> dict[str, np.ndarray]:
        """Exact means and sds: ``{beta,tau,theta}_{mean,sd}`` (beta: (p,), theta: (G,))."""
        beta_var = np.diagonal(self.beta_cond_cov, axis1=1, axis2=2)
        return grid_moments(self.weights, self.grid.tau,
                             beta=(self.beta_cond_mean, beta_var),
                             theta=(self.theta_cond_mean, self.theta_cond_var))

    def contrast_moments(self, a: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact posterior mean and sd of each ``a' beta`` (rows of ``a``), shape (m,)."""
        m = grid_moments(self.weights, self.grid.tau, c=self.contrast_cond(a))
        return m["c_mean"], m["c_sd"]

    def quantiles(self, qs: np.ndarray, contrasts: Any = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``(tau, x)`` at the probabilities ``qs``: ``tau`` of shape (Q,); ``x`` of shape
        (p + G [+ m], Q), rows each coefficient, then each ``theta_i``, then each
        ``contrasts`` row's ``a' beta`` -- roots of the normal-mixture CDF."""
        tau = self.tau_at(qs)
        beta_var = np.diagonal(self.beta_cond_cov, axis1=1, axis2=2)
        m = [self.beta_cond_mean, self.theta_cond_mean]
        v = [beta_var, self.theta_cond_var]
        if contrasts is not None:
            cm, cv = self.contrast_cond(contrasts)
            m.append(cm)
            v.append(cv)
        return tau, mixture_quantiles(qs, self.weights, np.column_stack(m),
                                      np.sqrt(np.column_stack(v)))

    def _loglik(self, t2: np.ndarray) -> np.ndarray:
        return marginal_regression(t2, self.means, self.se**2, self.X, self.beta_mean_prior,
                                   self.beta_precision).loglik

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        """``(beta, tau, theta)``: ``n`` exact independent draws, shapes (n, p), (n,), (n, G):
        ``tau`` by inverse CDF of the grid, then ``beta | tau, y`` and
        ``theta | beta, tau, y`` from their normal conditionals."""
        tau = self.tau_at(rng.random(n))
        cond = marginal_regression(tau * tau, self.means, self.se**2, self.X,
                                   self.beta_mean_prior, self.beta_precision)
        chol = np.linalg.cholesky(cond.beta_cov)
        z = rng.standard_normal(cond.beta_hat.shape)
        beta = cond.beta_hat + np.einsum("kjl,kl->kj", chol, z)
        mean, var = conditional_unchecked(self.means, self.se, beta @ self.X.T, tau[:, None])
        theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
        return beta, tau, theta


def _check_proper(X: np.ndarray, p0: np.ndarray) -> None:
    """Refuse an improper posterior of beta: a direction of the coefficients that neither the
    data (the standardised design ``Z = X T``) nor the prior (``T' P0 T``) pins down."""
    z, t = standardized_design(X)
    cond, cols = collinear_columns(z)
    if not cols:
        return
    p0z = t.T @ p0 @ t
    scale = np.abs(p0z).max()
    if scale > 0:
        # Z'Z has eigenvalues ~ k (unit-sd columns): the prior completes the design where
        # it has precision along each near-null direction of Z
        k = z.shape[0]
        _, cols = collinear_columns(np.vstack([z / np.sqrt(k), _sqrt_psd(p0z / scale)]))
    if cols:
        raise ValueError(f"The posterior of beta is improper: the columns {cols} of `X` (the "
                         f"intercept is column 0) are collinear (condition number {cond:.3g} "
                         "of the centred, scaled columns) and the prior has no precision "
                         "there; drop one of them.")


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """``R`` with ``R'R = m`` for a symmetric positive semi-definite ``m``."""
    vals, vecs = np.linalg.eigh(m)
    return np.sqrt(np.clip(vals, 0.0, None))[:, None] * vecs.T


def regression_grid_posterior(means: Any, se: Any, X: Any, *,
                              tau_logpdf: Callable[[Any], Any], beta_mean: Any,
                              beta_precision: Any, tau_max: float | None = None,
                              points: int = 2001) -> RegressionGridPosterior:
    """The exact posterior of ``ybar_i ~ N(theta_i, se_i^2)``,
    ``theta_i ~ N(x_i' beta, tau^2)``, ``beta ~ N(beta_mean, beta_precision^-1)``: beta is
    integrated out analytically given tau (:func:`marginal_regression`) and tau on the
    adaptive grid of :func:`tau_grid`, as bayesmeta does.  ``X`` is ``(G, p)`` with the
    intercept; ``beta_precision`` a ``(p, p)`` precision matrix (zeros: flat, which needs
    ``G > p``).  With ``X`` a column of ones this is :func:`grid_posterior`."""
    y, se = means_se(means, se)
    if y.ndim != 1:
        raise ValueError("`means` and `se` must be 1-D (one dataset) here.")
    if not callable(tau_logpdf):
        raise TypeError(f"`tau_logpdf` must be callable, got {type(tau_logpdf).__name__}.")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] != y.size or not np.all(np.isfinite(X)):
        raise ValueError(f"`X` must be a finite ({y.size}, p) matrix, got shape {X.shape}.")
    p = X.shape[1]
    b0 = np.asarray(beta_mean, dtype=float).reshape(p)
    p0 = np.asarray(beta_precision, dtype=float).reshape(p, p)
    if not (np.all(np.isfinite(p0)) and np.allclose(p0, p0.T)
            and np.all(np.linalg.eigvalsh(p0) >= -1e-12 * max(1.0, np.abs(p0).max()))):
        raise ValueError("`beta_precision` must be a symmetric positive semi-definite matrix.")
    if not p0.any() and y.size <= p:
        raise ValueError(f"The posterior of beta is improper: a flat prior on {p} "
                         f"coefficients needs more than {p} groups, got {y.size}.")
    _check_proper(X, p0)
    n = check_count(points, "points", 101) | 1
    v = se * se

    def loglik(t2: np.ndarray) -> np.ndarray:
        return marginal_regression(t2, y, v, X, b0, p0).loglik

    g = tau_grid(y, v, n, tau_logpdf=tau_logpdf, tau_max=tau_max, loglik=loglik)
    marg = marginal_regression(g.tau * g.tau, y, v, X, b0, p0)
    fitted = marg.beta_hat @ X.T                                   # (K, G)
    mean, var = conditional_unchecked(y, se, fitted, g.tau[:, None])
    w = weights_unchecked(se, g.tau[:, None])
    fitted_var = np.einsum("ij,kjl,il->ki", X, marg.beta_cov, X)
    return RegressionGridPosterior(
        means=y, se=se, X=X, beta_mean_prior=b0, beta_precision=p0, tau_logpdf=tau_logpdf,
        grid=g,
        tau_density=density_tau(g), beta_cond_mean=marg.beta_hat, beta_cond_cov=marg.beta_cov,
        theta_cond_mean=mean, theta_cond_var=var + (1.0 - w) ** 2 * fitted_var)
