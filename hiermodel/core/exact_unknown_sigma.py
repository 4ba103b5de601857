"""The exact posterior of raw rows with sigma unknown (no covariates), on a 2-D
(tau, sigma) grid: :func:`unknown_sigma_grid_posterior` (an
:class:`UnknownSigmaGridPosterior`) and :func:`ss_logpdf`, the likelihood of the within-group
sums of squares (``ss_i / sigma^2 ~ chi^2_{n_i - 1}``; BDA3 section 5.4 with sigma
unknown).  Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .._validate import check_count
from .arrays import batch_param
from .pooling import conditional_unchecked, weights_unchecked
from .tau_grid import (
    LOG_TAIL,
    TAU_MAX_SCALES,
    grid_moments,
    inverse_cdf,
    marginal,
    mixture_quantiles,
    simpson_weights,
    theta_new_mixture_quantiles,
    trapezoid_cdf,
)

__all__ = ["ss_logpdf", "UnknownSigmaGridPosterior", "unknown_sigma_grid_posterior"]


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
        out = grid_moments(self.weights, self.point_tau,
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
        return theta_new_mixture_quantiles(qs, self.weights, self.mu_cond_mean, self.mu_cond_var,
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
                f, cdf = trapezoid_cdf(p[k], u[1] - u[0])
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
    s_axis, u_axis = _Axis(s, *trapezoid_cdf(p_s, hs)), _Axis(u, *trapezoid_cdf(p_u, hu))
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
