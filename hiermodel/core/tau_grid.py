"""The tau grid of the exact posterior (BDA3 section 5.4): the marginal likelihood of tau with
mu integrated out, the adaptive grid, its quadrature and the mixture quantiles.

With ``v_i = se_i^2`` and ``t = tau^2``, ``mu`` integrates out in closed form:

    p(tau | y) ∝ p(tau) V_mu^(1/2) prod_i (v_i + t)^(-1/2)
                 exp(-(ybar_i - mu_hat)^2 / (2 (v_i + t))),
    mu_hat = sum_i ybar_i/(v_i + t) / sum_i 1/(v_i + t),  V_mu = 1 / sum_i 1/(v_i + t)

for a flat prior on mu; a ``N(m0, 1/p0)`` prior on mu is one more "observation" ``m0`` with
variance ``1/p0`` (:func:`marginal`; with covariates :func:`marginal_regression`).
``p(tau | y)`` is evaluated on an adaptive grid (:func:`tau_grid`), uniform in
``u = tau / (tau + c)``, and integrated with Simpson's rule; given ``tau`` everything is
normal, so moments are mixtures over the grid (:func:`grid_moments`) and quantiles solve a
mixture CDF (:func:`mixture_quantiles`).  The posteriors built on it live in
:mod:`~hiermodel.core.exact_known_se` and :mod:`~hiermodel.core.exact_unknown_sigma`.
Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .arrays import (
    MAXITER,
    newton_bisect,
    standardized_design,
    vdot,
    wsum,
)

__all__ = [
    "LOG_TAIL", "TAU_MAX_SCALES", "TauGrid", "Marginal", "marginal", "RegressionMarginal",
    "marginal_regression", "simpson_weights", "trapezoid_cdf",
    "tau_grid", "grid_tau", "density_tau", "inverse_cdf", "mixture_quantiles",
    "predictive_quantiles", "grid_moments", "theta_new_mixture_quantiles",
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
    f, cdf = trapezoid_cdf(p, h)
    return TauGrid(u, tau, f, cdf, sw / z, scale, float(top + np.log(z)),
                   _outside_mass(first, lo, hi))


def _outside_mass(first: tuple, lo: float, hi: float) -> float:
    """Share of the first (full-range) pass's trapezoid mass outside ``[lo, hi]``."""
    u, lp, _, _ = first
    p = np.exp(lp - lp.max())
    cells = 0.5 * (p[1:] + p[:-1]) * np.diff(u)
    out = (u[1:] <= lo) | (u[:-1] >= hi)
    return float(cells[out].sum() / cells.sum())

def trapezoid_cdf(p: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """``(f, cdf)``: the density ``p`` on an equally spaced grid normalised by the trapezoid
    rule, and its cumulative integral (0 .. 1) -- a piecewise-linear density."""
    cells = 0.5 * (p[1:] + p[:-1]) * h
    cdf = np.concatenate([[0.0], np.cumsum(cells)])
    return p / cdf[-1], cdf / cdf[-1]


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
    ``s``: the root of ``mean_s Phi((x - mu_s) / tau_s) = q`` (exact, no extra noise).

    ``mu`` of shape ``(S,)`` gives shape ``(Q,)``; ``mu`` of shape ``(S, K)`` (``K`` lines,
    such as a regression line along a grid, the same ``tau_s`` for each) gives ``(K, Q)``.
    Every ``tau_s > 0`` (NUTS draws): safeguarded Newton on all ``K x Q`` roots at once;
    otherwise (point masses at ``mu_s``) bisection to machine precision.
    """
    mu, tau = np.asarray(mu, float), np.asarray(tau, float).ravel()
    lines = mu.reshape(tau.size, -1)                 # (S, K)
    qs = np.asarray(qs, float)
    if np.all(tau > 0):
        x = mixture_quantiles(qs, np.full(tau.size, 1.0 / tau.size), lines,
                              np.broadcast_to(tau[:, None], lines.shape))
    else:
        x = np.array([_bisect_predictive(lines[:, k], tau, qs) for k in range(lines.shape[1])])
    return x if mu.ndim == 2 else x[0]


def _bisect_predictive(mu: np.ndarray, tau: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """:func:`predictive_quantiles` of one line when some ``tau_s`` are 0, by bisection."""
    from scipy import special

    pos = tau > 0

    def cdf(x: np.ndarray) -> np.ndarray:           # x: (Q,) -> (Q,)
        z = (x[:, None] - mu[None, :]) / np.where(pos, tau, 1.0)[None, :]
        return np.where(pos[None, :], special.ndtr(z), (x[:, None] >= mu[None, :])).mean(axis=1)

    lo = np.full(qs.shape, float(np.min(mu - 10.0 * tau)))
    hi = np.full(qs.shape, float(np.max(mu + 10.0 * tau)))
    for _ in range(200):                              # bisection to machine precision
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < qs
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def grid_moments(w: np.ndarray, tau: np.ndarray,
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


def theta_new_mixture_quantiles(qs: np.ndarray, weights: np.ndarray, mu_mean: np.ndarray,
                                mu_var: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Quantiles ``qs`` of a new group's effect: the normal mixture over the grid
    ``N(mu_mean_k, mu_var_k + tau_k^2)`` with ``weights``, shape (Q,)."""
    s = np.sqrt(mu_var + tau**2)
    return mixture_quantiles(qs, weights, mu_mean[:, None], s[:, None])[0]
