"""The exact grid posterior of the normal three-level model (BDA3 section 5.4): with known se
on a tau grid, and for raw rows with sigma unknown on a (tau, sigma) grid
(:func:`unknown_sigma_grid_posterior`).

With ``v_i = se_i^2`` and ``t = tau^2``, ``mu`` integrates out in closed form:

    p(tau | y) ∝ p(tau) V_mu^(1/2) prod_i (v_i + t)^(-1/2)
                 exp(-(ybar_i - mu_hat)^2 / (2 (v_i + t))),
    mu_hat = sum_i ybar_i/(v_i + t) / sum_i 1/(v_i + t),  V_mu = 1 / sum_i 1/(v_i + t)

for a flat prior on mu; a ``N(m0, 1/p0)`` prior on mu is one more "observation" ``m0`` with
variance ``1/p0`` (:func:`marginal`).  ``p(tau | y)`` is evaluated on an adaptive grid
(:func:`tau_grid`), uniform in ``u = tau / (tau + c)``, and integrated with Simpson's rule;
given ``tau`` everything is normal, so moments are mixtures over the grid and quantiles
solve a mixture CDF (:func:`mixture_quantiles`).  :func:`grid_posterior` puts it together as
a :class:`GridPosterior`, which also draws exactly.

The priors enter as plain numbers: ``mu_mean`` and ``mu_precision`` (``1 / mu_sd^2``; 0 for
the flat prior), the log density of tau's prior (a callable) and, for a bounded prior, the
upper end of its support.  Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .._validate import check_count
from .arrays import (
    MAXITER,
    batch_param,
    collinear_columns,
    means_se,
    newton_bisect,
    standardized_design,
    vdot,
    wsum,
)
from .pooling import conditional_unchecked, weights_unchecked

__all__ = [
    "LOG_TAIL", "TAU_MAX_SCALES", "TauGrid", "Marginal", "marginal", "RegressionMarginal",
    "marginal_regression", "simpson_weights",
    "tau_grid", "grid_tau", "density_tau", "inverse_cdf", "mixture_quantiles",
    "predictive_quantiles", "GridPosterior", "grid_posterior", "RegressionGridPosterior",
    "regression_grid_posterior", "ss_logpdf", "UnknownSigmaGridPosterior",
    "unknown_sigma_grid_posterior",
]

#: log-density drop (nats) below the mode beyond which the tau grid may stop: e^-46 ~ 1e-20
LOG_TAIL = 46.0
#: largest tau on the grid for priors with unbounded support, in units of the grid scale
TAU_MAX_SCALES = 1e10


class TauGrid(NamedTuple):
    """The adaptive grid of :func:`tau_grid` and the tau posterior on it."""

    u: np.ndarray            # grid in u = tau / (tau + scale)
    tau: np.ndarray
    f: np.ndarray            # normalised density in u (trapezoid-normalised, for the CDF)
    cdf: np.ndarray          # its cumulative trapezoid, 0 .. 1
    weights: np.ndarray      # Simpson quadrature weights x density (sum 1)
    scale: float
    log_norm: float          # log of the normaliser of exp(lp_tau)
    truncated_mass: float


class Marginal(NamedTuple):
    """Result of :func:`marginal`, one value per ``tau``."""

    loglik: np.ndarray
    mu_hat: np.ndarray
    mu_var: np.ndarray


def marginal(t2: np.ndarray, y: np.ndarray, v: np.ndarray, m0: float, p0: float) -> Marginal:
    """``log p(y | tau)`` (up to a constant), ``mu | tau, y`` mean and variance.

    ``p(y | tau) ∝ V_mu^(1/2) prod (v_i + t)^(-1/2) exp(-sum (y_i - mu_hat)^2 / (2(v_i+t))
    - p0 (m0 - mu_hat)^2 / 2)``: a ``N(m0, 1/p0)`` prior on mu enters as one more
    "observation" ``m0`` with variance ``1/p0`` (``p0 = 0``: flat prior).  ``t2``: 1-D
    values of ``tau^2``; ``y``, ``v``: 1-D means and their variances.
    """
    w = 1.0 / (v + t2[:, None])
    prec = w.sum(axis=-1) + p0
    mu_hat = (vdot(w, y) + p0 * m0) / prec
    r = y - mu_hat[:, None]
    ll = (0.5 * np.log(w).sum(axis=-1) - 0.5 * np.log(prec) - 0.5 * (w * r * r).sum(axis=-1)
          - 0.5 * p0 * (m0 - mu_hat) ** 2)
    return Marginal(ll, mu_hat, 1.0 / prec)


class RegressionMarginal(NamedTuple):
    """Result of :func:`marginal_regression`, one entry per ``tau``."""

    loglik: np.ndarray     # (K,)
    beta_hat: np.ndarray   # (K, p)
    beta_cov: np.ndarray   # (K, p, p)


def marginal_regression(t2: np.ndarray, y: np.ndarray, v: np.ndarray, X: np.ndarray,
                        b0: np.ndarray, p0: np.ndarray) -> RegressionMarginal:
    """:func:`marginal` with group-level covariates: ``theta_i ~ N(x_i' beta, tau^2)`` and
    ``beta ~ N(b0, P0^-1)`` integrated out given ``tau`` (meta-regression; issue 18).

    With ``W = diag(1 / (v_i + t))``, ``A = X'WX + P0`` and
    ``beta_hat = A^-1 (X'Wy + P0 b0)``:

        log p(y | tau) = 1/2 sum log w_i - 1/2 log|A| - 1/2 sum w_i (y_i - x_i' beta_hat)^2
                         - 1/2 (beta_hat - b0)' P0 (beta_hat - b0)  + const,

    and ``beta | tau, y ~ N(beta_hat, A^-1)``.  ``P0`` is the prior precision (``(p, p)``;
    zeros: flat).  With ``X`` a column of ones this is :func:`marginal`.

    Solved on the standardised design ``Z = X T`` (:func:`standardized_design`; coefficients
    ``T^-1 beta``, prior precision ``T' P0 T``) and mapped back, so covariates in any units
    (an offset of 1e12, a scale of 1e-12) give the same answer; ``log|A|`` is ``X``'s.
    """
    z, t = standardized_design(X)
    b0z = np.linalg.solve(t, b0)
    p0z = t.T @ p0 @ t
    w = 1.0 / (v + t2[:, None])                                    # (K, k)
    a = np.einsum("ki,ij,il->kjl", w, z, z) + p0z                  # (K, p, p)
    rhs = (w * y) @ z + p0z @ b0z                                  # (K, p)
    cov = np.linalg.inv(a)
    beta = np.einsum("kjl,kl->kj", cov, rhs)
    r = y - beta @ z.T                                             # (K, k)
    d = beta - b0z
    log_det = np.linalg.slogdet(a)[1] - 2.0 * np.linalg.slogdet(t)[1]   # log|X'WX + P0|
    ll = (0.5 * np.log(w).sum(axis=-1) - 0.5 * log_det
          - 0.5 * (w * r * r).sum(axis=-1) - 0.5 * np.einsum("kj,jl,kl->k", d, p0z, d))
    return RegressionMarginal(ll, beta @ t.T, np.einsum("ij,kjl,ml->kim", t, cov, t))


def simpson_weights(n: int, h: float) -> np.ndarray:
    """Simpson's rule weights for ``n`` (odd) equally spaced points ``h`` apart."""
    c = np.ones(n)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    return c * h / 3.0


def tau_grid(y: np.ndarray, v: np.ndarray, n: int, *, tau_logpdf: Callable[[Any], Any],
             mu_mean: float = 0.0, mu_precision: float = 0.0, tau_max: float | None = None,
             loglik: Callable[[np.ndarray], np.ndarray] | None = None) -> TauGrid:
    """Adaptive grid for ``p(tau | y)`` in ``u = tau / (tau + c)`` on ``[0, u_max]``.

    ``c = sqrt(mean(v) + var(y))``; ``u_max`` maps ``tau_max`` (default ``TAU_MAX_SCALES``
    grid scales, for priors with unbounded support).  A first pass covers all of
    ``[0, u_max]``; the grid is then zoomed onto the region where the log density is within
    ``LOG_TAIL`` nats of its maximum (one cell of margin), until that region fills at least
    half of the grid.  The mass outside the final range is estimated on the first pass
    (``truncated_mass``).  ``loglik`` (``tau^2`` values -> ``log p(y | tau)``) replaces
    :func:`marginal` with the mu prior, e.g. by :func:`marginal_regression`.
    """
    m0 = mu_mean
    p0 = mu_precision
    scale = float(np.sqrt(np.mean(v) + np.var(y)))
    tau_max = scale * TAU_MAX_SCALES if tau_max is None else tau_max
    u_max = tau_max / (tau_max + scale)

    def logdens(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tau = np.minimum(scale * u / (1.0 - u), tau_max)
        with np.errstate(divide="ignore"):
            ll = (marginal(tau * tau, y, v, m0, p0).loglik if loglik is None
                  else loglik(tau * tau))
            lp = ll + tau_logpdf(tau)
        lp = np.where(np.isnan(lp), -np.inf, lp)
        return lp + np.log(scale) - 2.0 * np.log1p(-u), tau

    lo, hi = 0.0, u_max
    first = None
    for it in range(9):
        u = np.linspace(lo, hi, n)
        lp, tau = logdens(u)
        top = lp.max()
        if not np.isfinite(top):
            raise ValueError("The posterior of tau could not be evaluated on the grid "
                             "(no finite density); check the data and priors.")
        keep = np.flatnonzero(lp > top - LOG_TAIL)
        i0, i1 = max(keep[0] - 1, 0), min(keep[-1] + 1, n - 1)
        if first is None:
            first = (u, lp, i0, i1)
        if i1 - i0 >= n // 2 or it == 8:
            break
        lo, hi = u[i0], u[i1]
    h = (u[-1] - u[0]) / (n - 1)
    p = np.exp(lp - top)
    sw = simpson_weights(n, h) * p
    z = sw.sum()
    f, cdf = _trapezoid_cdf(p, h)
    return TauGrid(u, tau, f, cdf, sw / z, scale, float(top + np.log(z)),
                   _outside_mass(first, lo, hi))


def _outside_mass(first: tuple, lo: float, hi: float) -> float:
    """Share of the first (full-range) pass's trapezoid mass outside ``[lo, hi]``."""
    u, lp, _, _ = first
    p = np.exp(lp - lp.max())
    cells = 0.5 * (p[1:] + p[:-1]) * np.diff(u)
    out = (u[1:] <= lo) | (u[:-1] >= hi)
    return float(cells[out].sum() / cells.sum())


def grid_tau(u: np.ndarray, grid: TauGrid) -> np.ndarray:
    """``tau`` at ``u`` (inverse of ``u = tau / (tau + c)``), capped at the grid's last tau."""
    return np.minimum(grid.scale * u / (1.0 - u), grid.tau[-1])


def density_tau(g: TauGrid) -> np.ndarray:
    """``p(tau | y)`` on the grid, Simpson-normalised: ``p_u(u) du/dtau``."""
    du_dtau = (1.0 - g.u) ** 2 / g.scale
    h = (g.u[-1] - g.u[0]) / (g.u.size - 1)
    p_u = g.weights / simpson_weights(g.u.size, h)
    return p_u * du_dtau


def inverse_cdf(q: np.ndarray, grid: TauGrid) -> np.ndarray:
    """``u`` with ``CDF(u) = q`` for the piecewise-linear density on the grid."""
    u, f, cdf = grid.u, grid.f, grid.cdf
    k = np.clip(np.searchsorted(cdf, q, side="right") - 1, 0, u.size - 2)
    h = u[k + 1] - u[k]
    d = np.maximum(q - cdf[k], 0.0)
    a = (f[k + 1] - f[k]) / (2.0 * h)
    b = f[k]
    root = np.sqrt(np.maximum(b * b + 4.0 * a * d, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(b + root > 0, 2.0 * d / (b + root), 0.0)
    return u[k] + np.clip(s, 0.0, h)


def mixture_quantiles(q: np.ndarray, weights: np.ndarray, m: np.ndarray,
                      s: np.ndarray) -> np.ndarray:
    """Quantiles of ``sum_k weights_k N(m_kj, s_kj^2)`` per column j: shape (J, Q)."""
    from scipy import special

    mean = wsum(weights, m)
    sd = np.sqrt(wsum(weights, s * s + (m - mean) ** 2))
    x0 = mean[:, None] + sd[:, None] * special.ndtri(q)[None, :]
    lo = np.broadcast_to((m - 40.0 * s).min(axis=0)[:, None], x0.shape)
    hi = np.broadcast_to((m + 40.0 * s).max(axis=0)[:, None], x0.shape)
    mt, st, n_q = m.T, s.T, q.size                     # (J, K)

    def fun(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = idx // n_q
        z = (x[:, None] - mt[j]) / st[j]
        cdf = vdot(special.ndtr(z), weights)
        pdf = vdot(np.exp(-0.5 * z * z) / st[j], weights) / np.sqrt(2.0 * np.pi)
        return cdf - q[idx % n_q], pdf

    return newton_bisect(fun, lo, hi, x0, np.ones(x0.shape, bool), rtol=1e-12,
                         atol=1e-12 * sd[:, None], maxiter=MAXITER, what="quantile")


def predictive_quantiles(mu: Any, tau: Any, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of ``theta_new`` drawn as ``N(mu_s, tau_s^2)`` at a uniformly chosen draw
    ``s``: the root of ``mean_s Phi((x - mu_s) / tau_s) = q`` (exact, no extra noise)."""
    from scipy import special

    mu, tau = np.asarray(mu, float).ravel(), np.asarray(tau, float).ravel()
    pos = tau > 0

    def cdf(x: np.ndarray) -> np.ndarray:           # x: (Q,) -> (Q,)
        z = (x[:, None] - mu[None, :]) / np.where(pos, tau, 1.0)[None, :]
        return np.where(pos[None, :], special.ndtr(z), (x[:, None] >= mu[None, :])).mean(axis=1)

    qs = np.asarray(qs, float)
    lo = np.full(qs.shape, float(np.min(mu - 10.0 * tau)))
    hi = np.full(qs.shape, float(np.max(mu + 10.0 * tau)))
    for _ in range(200):                              # bisection to machine precision
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < qs
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def _grid_moments(w: np.ndarray, tau: np.ndarray,
                  **normal: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Means and sds of ``tau`` and of each ``name=(cond_mean, cond_var)`` normal given tau on
    the grid (law of total expectation / variance): keys ``{name}_mean``, ``{name}_sd``."""
    tau_mean = wsum(w, tau)
    out = {"tau_mean": tau_mean, "tau_sd": np.sqrt(wsum(w, (tau - tau_mean) ** 2))}
    for name, (m, v) in normal.items():
        mean = wsum(w, m)
        out[f"{name}_mean"] = mean
        out[f"{name}_sd"] = np.sqrt(wsum(w, v + (m - mean) ** 2))
    return out


def _theta_new_quantiles(qs: np.ndarray, weights: np.ndarray, mu_mean: np.ndarray,
                         mu_var: np.ndarray, tau: np.ndarray) -> np.ndarray:
    s = np.sqrt(mu_var + tau**2)
    return mixture_quantiles(qs, weights, mu_mean[:, None], s[:, None])[0]


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
        return _theta_new_quantiles(qs, self.weights, self.mu_cond_mean, self.mu_cond_var,
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
        return _grid_moments(self.weights, self.tau_grid, mu=(self.mu_cond_mean,
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
        return _grid_moments(self.weights, self.grid.tau,
                             beta=(self.beta_cond_mean, beta_var),
                             theta=(self.theta_cond_mean, self.theta_cond_var))

    def contrast_moments(self, a: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact posterior mean and sd of each ``a' beta`` (rows of ``a``), shape (m,)."""
        m = _grid_moments(self.weights, self.grid.tau, c=self.contrast_cond(a))
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


# ============================================================================ sigma unknown
def ss_logpdf(ss: Any, n: Any, sigma: Any) -> np.ndarray:
    """``log p(ss_i | sigma)`` of a group's within-group sum of squares: ``ss_i / sigma^2 ~
    chi^2_{n_i - 1}``, i.e. ``Gamma((n_i - 1)/2, rate = 1 / (2 sigma^2))``; 0 for a group
    of one row (``ss_i = 0`` surely: it says nothing about sigma).  Broadcasts."""
    from scipy import stats

    a = (np.asarray(n, dtype=float) - 1.0) / 2.0
    one = a <= 0
    lp = stats.gamma.logpdf(np.where(one, 1.0, ss), np.where(one, 1.0, a), 0.0,
                            2.0 * np.asarray(sigma, dtype=float) ** 2)
    return np.where(one, 0.0, lp)


class _Axis(NamedTuple):
    """One axis of the 2-D grid and the marginal density on it (what :func:`inverse_cdf`
    reads): ``u`` the grid variable, ``f`` the trapezoid-normalised density, ``cdf``."""

    u: np.ndarray
    f: np.ndarray
    cdf: np.ndarray


def _trapezoid_cdf(p: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """``(f, cdf)``: the density ``p`` on an equally spaced grid normalised by the trapezoid
    rule, and its cumulative integral (0 .. 1) -- a piecewise-linear density."""
    cells = 0.5 * (p[1:] + p[:-1]) * h
    cdf = np.concatenate([[0.0], np.cumsum(cells)])
    return p / cdf[-1], cdf / cdf[-1]


def _sigma_log_range(ss_total: float, df: int) -> tuple[float, float]:
    """``log sigma`` where the pooled within-group likelihood ``sigma^-df
    exp(-SS / (2 sigma^2))`` is within ``4 LOG_TAIL`` nats of its maximum (at the pooled sd;
    the upper end at most ``TAU_MAX_SCALES`` pooled sds)."""
    s_hat = 0.5 * np.log(ss_total / df)
    return (s_hat - np.sqrt(4.0 * LOG_TAIL / df),
            s_hat + min(4.0 * LOG_TAIL / df + 1.0, np.log(TAU_MAX_SCALES)))


@dataclass(frozen=True, eq=False)
class UnknownSigmaGridPosterior:
    """The exact posterior of raw rows with sigma unknown (built by
    :func:`unknown_sigma_grid_posterior`):

        ybar_i | theta_i, sigma ~ N(theta_i, sigma^2 / n_i),   SS | sigma ~ sigma^2 chi^2_{N-G},
        theta_i ~ N(mu, tau^2).

    Given ``(tau, sigma)`` the model is the known-se one with ``se_i = sigma / sqrt(n_i)``, so
    ``mu`` and ``theta`` are integrated out as in :class:`GridPosterior`; ``p(tau, sigma | y)``
    lives on a 2-D product grid, uniform in ``u = tau / (tau + c)`` and in ``log sigma``, and
    is integrated with Simpson's rule in both.  The grid's points of non-negligible weight
    (``point_*``, K of them) carry the conditional moments.

    Attributes
    ----------
    means : ndarray, shape (G,)
    n : ndarray, shape (G,)
    ss_total : float
        The pooled within-group sum of squares (``N - G`` df).
    tau_grid, sigma_grid : ndarray
        The two axes.
    tau_density, sigma_density : ndarray
        The marginal densities ``p(tau | y)`` and ``p(sigma | y)`` on them.
    point_tau, point_sigma, weights : ndarray, shape (K,)
        The points kept and their quadrature weights (sum 1).
    mu_cond_mean, mu_cond_var : ndarray, shape (K,)
    theta_cond_mean, theta_cond_var : ndarray, shape (K, G)
    truncated_mass : float
        Estimated posterior mass outside the grid.
    """

    means: np.ndarray
    n: np.ndarray
    ss_total: float
    mu_mean: float
    mu_precision: float
    tau_logpdf: Callable[[Any], Any]
    sigma_logpdf: Callable[[Any], Any]
    scale: float
    tau_max: float
    u_axis: _Axis
    s_axis: _Axis
    log_norm: float
    truncated_mass: float
    tau_density: np.ndarray
    sigma_density: np.ndarray
    point_tau: np.ndarray
    point_sigma: np.ndarray
    weights: np.ndarray
    mu_cond_mean: np.ndarray
    mu_cond_var: np.ndarray
    theta_cond_mean: np.ndarray
    theta_cond_var: np.ndarray

    @property
    def se(self) -> np.ndarray:
        """The plug-in ``se_i = E[sigma | y] / sqrt(n_i)`` (for display; the posterior
        integrates over sigma)."""
        return self.moments["sigma_mean"] / np.sqrt(self.n)

    @property
    def tau_grid(self) -> np.ndarray:
        """The tau axis, shape (Kt,)."""
        return self._tau(self.u_axis.u)

    @property
    def sigma_grid(self) -> np.ndarray:
        """The sigma axis, shape (Ks,) (uniform in ``log sigma``)."""
        return np.exp(self.s_axis.u)

    def _tau(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(self.scale * u / (1.0 - u), self.tau_max)

    def _log_joint(self, s: np.ndarray, tau: np.ndarray) -> np.ndarray:
        """``log p(tau, sigma, y)`` up to a constant at ``sigma = exp(s)`` (A,) x ``tau`` (B,)
        -> (A, B) (densities in ``sigma`` and ``tau``)."""
        return _log_joint(s, tau, self.means, self.n, self.ss_total, self.mu_mean,
                          self.mu_precision, self.tau_logpdf, self.sigma_logpdf)

    def tau_pdf(self, tau: Any) -> np.ndarray:
        """The normalised marginal density ``p(tau | y)`` at arbitrary ``tau >= 0``:
        the joint density integrated over the sigma grid (Simpson in ``log sigma``)."""
        t = np.atleast_1d(batch_param("tau", tau, nonneg=True)).ravel()
        s = self.s_axis.u
        sw = simpson_weights(s.size, s[1] - s[0])
        lp = self._log_joint(s, t) + s[:, None] - self.log_norm
        return np.einsum("a,ab->b", sw, np.exp(lp)).reshape(np.shape(tau))

    def tau_at(self, q: np.ndarray) -> np.ndarray:
        """``tau`` at the probabilities ``q`` (inverse of the marginal CDF on the grid)."""
        return self._tau(inverse_cdf(q, self.u_axis))

    def sigma_at(self, q: np.ndarray) -> np.ndarray:
        """``sigma`` at the probabilities ``q`` (inverse of the marginal CDF on the grid)."""
        return np.exp(inverse_cdf(q, self.s_axis))

    @cached_property
    def moments(self) -> dict[str, np.ndarray]:
        """Exact means and sds: keys ``{mu,tau,sigma,theta}_{mean,sd}``."""
        out = _grid_moments(self.weights, self.point_tau,
                            mu=(self.mu_cond_mean, self.mu_cond_var),
                            theta=(self.theta_cond_mean, self.theta_cond_var),
                            sigma=(self.point_sigma, np.zeros_like(self.point_sigma)))
        return out

    def quantiles(self, qs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tau, sigma, x)`` at the probabilities ``qs``: ``tau`` and ``sigma`` of shape
        (Q,) from the marginal CDFs on the axes; ``x`` of shape (1 + G, Q), rows ``mu`` then
        each ``theta_i``, roots of the normal-mixture CDF over the points."""
        m = np.column_stack([self.mu_cond_mean, self.theta_cond_mean])
        s = np.sqrt(np.column_stack([self.mu_cond_var, self.theta_cond_var]))
        x = np.concatenate([mixture_quantiles(qs, self.weights, m[:, j], s[:, j])
                            for j in _chunks(m.shape[1], 16)])
        return self.tau_at(qs), self.sigma_at(qs), x

    def theta_new_quantiles(self, qs: np.ndarray) -> np.ndarray:
        """Quantiles of a new group's effect ``theta_new ~ N(mu, tau^2)``, shape (Q,)."""
        return _theta_new_quantiles(qs, self.weights, self.mu_cond_mean, self.mu_cond_var,
                                    self.point_tau)

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        """``(mu, tau, sigma, theta)``: ``n`` exact independent draws, shapes (n,), (n,),
        (n,), (n, G).  ``log sigma`` by inverse CDF of its marginal on the grid (linear
        interpolation of the density within cells), ``tau | sigma`` by inverse CDF of its
        conditional density on the tau axis at the drawn sigma, then ``mu`` and ``theta``
        from their normal conditionals."""
        s = inverse_cdf(rng.random(n), self.s_axis)
        sigma = np.exp(s)
        u = self.u_axis.u
        q = rng.random(n)
        tau = np.empty(n)
        for rows in _chunks(n, max(1, 2_000_000 // (u.size * self.n.size))):
            lp = self._log_joint(s[rows], self._tau(u)) - 2.0 * np.log1p(-u)
            p = np.exp(lp - lp.max(axis=1, keepdims=True))
            for k, i in enumerate(rows):
                f, cdf = _trapezoid_cdf(p[k], u[1] - u[0])
                tau[i] = self._tau(inverse_cdf(q[i:i + 1], _Axis(u, f, cdf)))[0]
        se = sigma[:, None] / np.sqrt(self.n)
        cond = marginal(tau * tau, self.means, se**2, self.mu_mean, self.mu_precision)
        mu = cond.mu_hat + np.sqrt(cond.mu_var) * rng.standard_normal(n)
        mean, var = conditional_unchecked(self.means, se, mu[:, None], tau[:, None])
        theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
        return mu, tau, sigma, theta


def _chunks(n: int, size: int) -> list[np.ndarray]:
    """``range(n)`` in consecutive index arrays of at most ``size``."""
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


def _log_joint(s: np.ndarray, tau: np.ndarray, y: np.ndarray, n: np.ndarray, ss_total: float,
               m0: float, p0: float, tau_logpdf: Callable[[Any], Any],
               sigma_logpdf: Callable[[Any], Any]) -> np.ndarray:
    """``log [p(tau) p(sigma) p(SS | sigma) p(ybar | tau, sigma)]`` (mu integrated out; up to
    a constant) at ``sigma = exp(s)`` (A,) x ``tau`` (B,) -> (A, B), in chunks of sigma."""
    df = float(n.sum() - n.size)
    sigma = np.exp(s)
    out = np.empty((s.size, tau.size))
    t2 = tau * tau
    for rows in _chunks(s.size, max(1, 2_000_000 // (tau.size * n.size))):
        v = (sigma[rows, None, None] ** 2 / n)                          # (a, 1, G)
        v = np.broadcast_to(v, (rows.size, tau.size, n.size)).reshape(-1, n.size)
        out[rows] = marginal(np.tile(t2, rows.size), y, v, m0, p0).loglik.reshape(
            rows.size, tau.size)
    with np.errstate(divide="ignore"):
        out += (-df * s - 0.5 * ss_total * np.exp(-2.0 * s) + sigma_logpdf(sigma))[:, None]
        out += tau_logpdf(tau)[None, :]
    return np.where(np.isnan(out), -np.inf, out)


def unknown_sigma_grid_posterior(
    means: Any, n: Any, ss: Any, *, tau_logpdf: Callable[[Any], Any],
    sigma_logpdf: Callable[[Any], Any], mu_mean: float = 0.0, mu_precision: float = 0.0,
    tau_max: float | None = None, points: tuple[int, int] = (301, 151),
) -> UnknownSigmaGridPosterior:
    """The exact posterior of raw rows, ``y_ij ~ N(theta_i, sigma^2)``,
    ``theta_i ~ N(mu, tau^2)``, with sigma unknown, from the sufficient statistics
    (group means ``ybar_i``, sizes ``n_i``, within-group sums of squares ``ss_i``).

    Given ``(tau, sigma)`` this is :func:`grid_posterior` with ``se_i = sigma / sqrt(n_i)``;
    sigma's likelihood from the rows is ``prod_i p(ss_i | sigma) ∝ sigma^-(N-G)
    exp(-SS / (2 sigma^2))`` with ``SS = sum_i ss_i`` (groups of one row add 0 to both), so

        p(tau, sigma | y) ∝ p(tau) p(sigma) sigma^-(N-G) exp(-SS / (2 sigma^2))
                            x p(ybar | tau, sigma)            (:func:`marginal`).

    It is evaluated on a product grid, uniform in ``u = tau / (tau + c)`` (as
    :func:`tau_grid`) and in ``log sigma`` (starting from where the chi-square likelihood
    of ``SS`` is within ``4 LOG_TAIL`` nats of its maximum), zoomed onto the region within
    ``LOG_TAIL`` nats of the mode until it fills half of each axis, and integrated by
    Simpson's rule in both.  ``points``: ``(tau, sigma)`` grid sizes (made odd, >= 51).
    ``sigma_logpdf``: the log density of sigma's prior (vectorised).
    """
    y = np.asarray(means, dtype=float)
    nn = np.asarray(n, dtype=float)
    ssv = np.asarray(ss, dtype=float)
    if y.ndim != 1 or nn.shape != y.shape or ssv.shape != y.shape:
        raise ValueError("`means`, `n` and `ss` must be 1-D with one entry per group.")
    if not (np.all(np.isfinite(y)) and np.all(nn >= 1) and np.all(ssv >= 0)):
        raise ValueError("`means` must be finite, `n` >= 1 and `ss` >= 0.")
    df = int(nn.sum() - nn.size)
    if df < 1 or ssv.sum() <= 0:
        raise ValueError("`n`, `ss`: sigma needs a group with two or more rows and some "
                         "within-group spread.")
    for f, name in ((tau_logpdf, "tau_logpdf"), (sigma_logpdf, "sigma_logpdf")):
        if not callable(f):
            raise TypeError(f"`{name}` must be callable, got {type(f).__name__}.")
    if y.size < 2 and mu_precision == 0:
        raise ValueError("A flat prior on mu needs at least 2 groups for a proper posterior.")
    nt, ns = (check_count(int(k), "points", 51) | 1 for k in points)
    ss_total = float(ssv.sum())
    s_hat2 = ss_total / df
    scale = float(np.sqrt(s_hat2 * np.mean(1.0 / nn) + np.var(y)))
    tau_max = scale * TAU_MAX_SCALES if tau_max is None else float(tau_max)

    def logdens(s: np.ndarray, u: np.ndarray) -> np.ndarray:
        tau = np.minimum(scale * u / (1.0 - u), tau_max)
        lp = _log_joint(s, tau, y, nn, ss_total, mu_mean, mu_precision, tau_logpdf,
                        sigma_logpdf)
        return lp + s[:, None] + np.log(scale) - 2.0 * np.log1p(-u)[None, :]

    s_lo, s_hi = _sigma_log_range(ss_total, df)
    u_lo, u_hi = 0.0, tau_max / (tau_max + scale)
    first = None
    for it in range(12):
        s = np.linspace(s_lo, s_hi, ns)
        u = np.linspace(u_lo, u_hi, nt)
        lp = logdens(s, u)
        top = lp.max()
        if not np.isfinite(top):
            raise ValueError("The posterior of (tau, sigma) could not be evaluated on the grid "
                             "(no finite density); check the data and priors.")
        keep = lp > top - LOG_TAIL
        rows, cols = np.flatnonzero(keep.any(axis=1)), np.flatnonzero(keep.any(axis=0))
        i0, i1 = max(rows[0] - 1, 0), min(rows[-1] + 1, ns - 1)
        j0, j1 = max(cols[0] - 1, 0), min(cols[-1] + 1, nt - 1)
        if first is None:
            first = (s, u, lp)
        s_done, u_done = i1 - i0 >= ns // 2, j1 - j0 >= nt // 2
        if (s_done and u_done) or it == 11:
            break
        if not s_done:
            s_lo, s_hi = s[i0], s[i1]
        if not u_done:
            u_lo, u_hi = u[j0], u[j1]
    hs, hu = s[1] - s[0], u[1] - u[0]
    sw_s, sw_u = simpson_weights(ns, hs), simpson_weights(nt, hu)
    p = np.exp(lp - top)
    w2 = sw_s[:, None] * sw_u[None, :] * p
    z = w2.sum()
    w2 /= z
    p_s, p_u = w2.sum(axis=1) / sw_s, w2.sum(axis=0) / sw_u        # marginal densities
    s_axis, u_axis = _Axis(s, *_trapezoid_cdf(p_s, hs)), _Axis(u, *_trapezoid_cdf(p_u, hu))
    fs, fu, flp = first
    pf = np.exp(flp - flp.max())
    inside = ((fs >= s[0]) & (fs <= s[-1]))[:, None] & ((fu >= u[0]) & (fu <= u[-1]))[None, :]
    truncated = float(pf[~inside].sum() / pf.sum())
    # the points that carry weight (the rest add < 1e-11 of the mass together)
    keep = np.flatnonzero(w2.ravel() > 1e-16 * w2.max())
    ia, ib = np.unravel_index(keep, w2.shape)
    weights = w2.ravel()[keep]
    weights = weights / weights.sum()
    sigma = np.exp(s[ia])
    tau = np.minimum(scale * u[ib] / (1.0 - u[ib]), tau_max)
    se = sigma[:, None] / np.sqrt(nn)
    marg = marginal(tau * tau, y, se**2, mu_mean, mu_precision)
    mean, var = conditional_unchecked(y, se, marg.mu_hat[:, None], tau[:, None])
    wt = weights_unchecked(se, tau[:, None])
    theta_var = var + (1.0 - wt) ** 2 * marg.mu_var[:, None]
    return UnknownSigmaGridPosterior(
        means=y, n=nn, ss_total=ss_total, mu_mean=float(mu_mean),
        mu_precision=float(mu_precision), tau_logpdf=tau_logpdf, sigma_logpdf=sigma_logpdf,
        scale=scale, tau_max=tau_max, u_axis=u_axis, s_axis=s_axis,
        log_norm=float(top + np.log(z)), truncated_mass=truncated,
        tau_density=p_u * (1.0 - u) ** 2 / scale, sigma_density=p_s / np.exp(s),
        point_tau=tau, point_sigma=sigma, weights=weights, mu_cond_mean=marg.mu_hat,
        mu_cond_var=marg.mu_var, theta_cond_mean=mean, theta_cond_var=theta_var)
