"""Exact Bayes factors and Bayesian model averaging for the normal-normal hierarchical model
with known sampling sds, as the R package bayesmeta reports them (``bayesfactor``, actual and
minimum; C. Roever 2020, "Bayesian random-effects meta-analysis using the bayesmeta R
package", *J. Stat. Softw.* 93(6)) and as metaBMA / RoBMA average over the fixed- and
random-effects models with and without an effect (Q. F. Gronau et al. 2021, "A primer on
Bayesian model-averaged meta-analysis", *Adv. Methods Pract. Psychol. Sci.* 4(3); M. Maier,
F. Bartos and E.-J. Wagenmakers 2023, "Robust Bayesian meta-analysis", *Psychol. Methods*
28(1)) -- here by one-dimensional quadrature instead of bridge sampling.

Model ``y_i ~ N(theta_i, v_i)``, ``theta_i ~ N(mu, tau^2)``, ``mu ~ N(m0, 1/p0)``, tau with a
proper prior density ``p(tau)``.  The four marginal likelihoods

    M00: tau = 0, mu = 0     p(y) = prod_i N(y_i; 0, v_i)
    M01: tau = 0, mu free    p(y) = int prod_i N(y_i; mu, v_i) N(mu; m0, 1/p0) dmu
    M10: tau > 0, mu = 0     p(y) = int p(tau) prod_i N(y_i; 0, v_i + tau^2) dtau
    M11: tau > 0, mu free    p(y) = int p(tau) p(y | tau) dtau

are closed form (M00, M01) or one-dimensional integrals on the adaptive tau grid of
:func:`~hiermodel.core.tau_grid.tau_grid` (M10, M11).  ``BF01`` for ``tau = 0`` is
``p(y | M01) / p(y | M11)`` and for ``mu = 0`` is ``p(y | M10) / p(y | M11)``, equal to the
Savage-Dickey density ratios (posterior over prior density at the null value).  With a flat
prior on mu (``p0 = 0``) the constant of the improper prior cancels from the ``tau = 0`` Bayes
factor, which is then still defined (as in bayesmeta), but the ``mu = 0`` Bayes factor and the
model averaging are not.  Numpy and scipy only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .tau_grid import TauGrid, marginal, tau_grid

__all__ = ["LogMarginals", "log_marginals", "mixture_density", "ModelAverage",
           "model_average", "MODELS", "ml_marginal_tau", "ml_marginal_mu"]

#: the four models, in the order of every array here: (tau = 0 | tau > 0) x (mu = 0 | free)
MODELS = ("tau=0, mu=0", "tau=0, mu free", "tau>0, mu=0", "tau>0, mu free")

_LOG_2PI = float(np.log(2.0 * np.pi))


class LogMarginals(NamedTuple):
    """Log marginal likelihoods ``log p(y | M)`` of the four models (order :data:`MODELS`);
    with a flat mu prior the two "mu free" ones omit the (infinite) constant of the flat
    prior, and the two "mu = 0" ones are NaN.  ``grid10`` and ``grid11`` are the tau grids
    (posteriors of tau) of the two tau > 0 models (``grid10`` None with a flat mu prior)."""

    m00: float
    m01: float
    m10: float
    m11: float
    grid10: TauGrid | None = None
    grid11: TauGrid | None = None

    def as_array(self) -> np.ndarray:
        return np.array([self.m00, self.m01, self.m10, self.m11])


def _log_mu_free(t2: np.ndarray, y: np.ndarray, v: np.ndarray, m0: float,
                 p0: float) -> np.ndarray:
    """``log p(y | tau, mu integrated under N(m0, 1/p0))`` with all constants (``p0 = 0``: the
    flat prior's ``0.5 log p0`` is left out)."""
    const = -0.5 * y.size * _LOG_2PI + (0.5 * np.log(p0) if p0 > 0 else 0.0)
    return marginal(t2, y, v, m0, p0).loglik + const


def _log_mu_zero(t2: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``log p(y | tau, mu = 0) = sum_i log N(y_i; 0, v_i + tau^2)``."""
    s = v + t2[:, None]
    return -0.5 * (y.size * _LOG_2PI + np.log(s).sum(axis=-1) + (y * y / s).sum(axis=-1))


def log_marginals(y: Any, v: Any, *, tau_logpdf: Callable[[Any], Any], mu_mean: float,
                  mu_precision: float, tau_max: float | None = None,
                  points: int = 2001) -> LogMarginals:
    """The four log marginal likelihoods (:class:`LogMarginals`) for means ``y`` with
    sampling variances ``v`` (1-D), ``mu ~ N(mu_mean, 1/mu_precision)`` (``0``: flat) and
    tau's normalised prior log density ``tau_logpdf`` (support ``[0, tau_max]``)."""
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    m0, p0 = float(mu_mean), float(mu_precision)
    n = int(points) | 1
    zero = np.zeros(1)
    g11 = tau_grid(y, v, n, tau_logpdf=tau_logpdf, tau_max=tau_max,
                   loglik=lambda t2: _log_mu_free(t2, y, v, m0, p0))
    m01 = float(_log_mu_free(zero, y, v, m0, p0)[0])
    if p0 == 0:
        return LogMarginals(np.nan, m01, np.nan, g11.log_norm, None, g11)
    g10 = tau_grid(y, v, n, tau_logpdf=tau_logpdf, tau_max=tau_max,
                   loglik=lambda t2: _log_mu_zero(t2, y, v))
    m00 = float(_log_mu_zero(zero, y, v)[0])
    return LogMarginals(m00, m01, g10.log_norm, g11.log_norm, g10, g11)


def mixture_density(x: Any, weights: np.ndarray, mean: np.ndarray,
                    var: np.ndarray) -> np.ndarray:
    """``sum_k weights_k N(x; mean_k, var_k)`` at each ``x`` (any shape)."""
    x = np.asarray(x, float)
    z = x.reshape(-1)[:, None] - mean[None, :]
    d = np.exp(-0.5 * z * z / var[None, :]) / np.sqrt(2.0 * np.pi * var[None, :])
    return (d @ weights).reshape(x.shape)


def _refine_max(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[float, float]:
    """``(argmax, max)`` of the scalar function ``f`` (vectorised): the best point of the grid
    ``x`` (sorted), refined by bounded Brent between its neighbours."""
    from scipy import optimize

    fx = f(x)
    k = int(np.argmax(fx))
    lo, hi = x[max(k - 1, 0)], x[min(k + 1, x.size - 1)]
    if hi > lo:
        r = optimize.minimize_scalar(lambda t: -float(f(np.array([t]))[0]), bounds=(lo, hi),
                                     method="bounded", options={"xatol": 1e-10 * max(1.0, hi)})
        if -r.fun > fx[k]:
            return float(r.x), float(-r.fun)
    return float(x[k]), float(fx[k])


def ml_marginal_tau(y: Any, v: Any, tau: np.ndarray, *, mu_mean: float,
                    mu_precision: float) -> tuple[float, float]:
    """bayesmeta's "ML marginal" tau: ``(tau_ml, log p(y | tau_ml) - log p(y | tau = 0))``,
    the maximum over ``tau >= 0`` of the marginal likelihood with mu integrated out under its
    prior, searched on the points ``tau`` (e.g. the posterior grid, with 0) and refined."""
    y, v = np.asarray(y, float), np.asarray(v, float)

    def f(t: np.ndarray) -> np.ndarray:
        return marginal(t * t, y, v, mu_mean, mu_precision).loglik

    x = np.unique(np.r_[0.0, np.asarray(tau, float)])
    t_ml, top = _refine_max(f, x)
    return t_ml, top - float(f(np.zeros(1))[0])


def ml_marginal_mu(y: Any, weights: np.ndarray, mean: np.ndarray, var: np.ndarray, *,
                   mu_mean: float, mu_precision: float) -> tuple[float, float]:
    """bayesmeta's "ML marginal" mu: ``(mu_ml, log p(y | mu_ml) - log p(y | mu = 0))`` for
    ``p(y | mu) = int p(tau) p(y | mu, tau) dtau``.  By Bayes' theorem ``p(y | mu) = p(y)
    p(mu | y) / p(mu)``, so it is the posterior density of mu (the normal mixture over the
    tau grid, ``weights`` / ``mean`` / ``var``) over the prior density (1 for the flat prior);
    its maximum lies between ``min(y)`` and ``max(y)`` (every ``p(y | mu, tau)`` falls
    outside them)."""
    y = np.asarray(y, float)
    m0, p0 = float(mu_mean), float(mu_precision)

    def f(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            ld = np.log(mixture_density(x, weights, mean, var))
        return ld + 0.5 * p0 * (x - m0) ** 2

    x = np.linspace(y.min(), y.max(), 2001) if np.ptp(y) > 0 else y[:1]
    m_ml, top = _refine_max(f, x)
    return m_ml, top - float(f(np.zeros(1))[0])


class ModelAverage(NamedTuple):
    """Result of :func:`model_average` (model order :data:`MODELS`)."""

    prior_probs: np.ndarray
    posterior_probs: np.ndarray
    log_marginals: np.ndarray
    inclusion_bf_mu: float       # BF10 for mu != 0 (posterior over prior inclusion odds)
    inclusion_bf_tau: float      # BF10 for tau > 0
    mu_mean: float               # model-averaged, with a point mass at 0
    mu_sd: float
    mu_quantiles: np.ndarray
    tau_mean: float              # model-averaged, with a point mass at 0
    tau_sd: float
    models: tuple[str, ...] = MODELS


def model_average(lm: LogMarginals, prior_probs: Any = None,
                  quantiles: Any = (0.025, 0.5, 0.975), *, means: np.ndarray,
                  se: np.ndarray, mu_mean: float, mu_precision: float, weights: np.ndarray,
                  mu_cond_mean: np.ndarray, mu_cond_var: np.ndarray) -> ModelAverage:
    """Bayesian model averaging over :data:`MODELS` with prior probabilities ``prior_probs``
    (4 numbers >= 0 summing to 1; default 1/4 each): posterior model probabilities
    ``prior_k p(y | M_k)`` normalised, the inclusion Bayes factors (posterior inclusion odds
    over prior inclusion odds) of ``mu != 0`` and ``tau > 0``, and the model-averaged
    posterior of mu: a point mass at 0 (models with mu = 0), the common-effect normal
    posterior (tau = 0, mu free; from ``means``, ``se`` and the ``N(mu_mean,
    1/mu_precision)`` prior) and the tau-grid normal mixture ``weights`` / ``mu_cond_*``
    (tau > 0, mu free); its ``quantiles`` solve the mixture CDF (bisection to machine
    precision; a probability falling in the jump at 0 gives 0).  The model-averaged mean and
    sd of tau mix a point mass at 0 (tau = 0 models) with the tau posteriors on
    ``lm.grid10`` and ``lm.grid11``."""
    from scipy import special

    from .arrays import floats

    pri = np.full(4, 0.25) if prior_probs is None else floats("prior_probs", prior_probs)
    if pri.shape != (4,) or not np.all(np.isfinite(pri)) or (pri < 0).any() \
            or not np.isclose(pri.sum(), 1.0):
        raise ValueError("`prior_probs` must be 4 probabilities >= 0 summing to 1 (models "
                         f"{', '.join(MODELS)}), got {prior_probs!r}.")
    qs = np.atleast_1d(floats("quantiles", quantiles))
    if qs.ndim != 1 or ((qs <= 0) | (qs >= 1)).any():
        raise ValueError("`quantiles` must be probabilities strictly between 0 and 1; got "
                         f"{quantiles!r}.")
    if lm.grid10 is None or mu_precision <= 0:
        raise ValueError("model_average needs a proper (normal) prior on `mu`.")
    ce = marginal(np.zeros(1), np.asarray(means, float), np.asarray(se, float) ** 2,
                  mu_mean, mu_precision)
    m0, v0 = float(ce.mu_hat[0]), float(ce.mu_var[0])
    logm = lm.as_array()
    with np.errstate(divide="ignore"):
        lp = np.log(pri) + logm
    lp = np.where(pri > 0, lp, -np.inf)
    post = np.exp(lp - lp.max())
    post /= post.sum()
    mu_in = np.array([False, True, False, True])
    tau_in = np.array([False, False, True, True])

    def incl(mask: np.ndarray) -> float:
        po, pr = post[mask].sum(), pri[mask].sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            return float((po / post[~mask].sum()) / (pr / pri[~mask].sum()))

    a, b = post[1], post[3]
    mean = a * m0 + b * float(weights @ mu_cond_mean)
    second = a * (v0 + m0 * m0) + b * float(weights @ (mu_cond_var + mu_cond_mean**2))
    sd = float(np.sqrt(max(second - mean * mean, 0.0)))
    point = post[0] + post[2]
    cm = np.r_[m0, mu_cond_mean]
    cs = np.sqrt(np.r_[v0, mu_cond_var])
    w = np.r_[a, b * weights]

    def cdf(x: np.ndarray) -> np.ndarray:
        z = (x[:, None] - cm[None, :]) / cs[None, :]
        return special.ndtr(z) @ w + point * (x >= 0)

    lo = np.full(qs.shape, min(0.0, float((cm - 40 * cs).min())))
    hi = np.full(qs.shape, max(0.0, float((cm + 40 * cs).max())))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        below = cdf(mid) < qs
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(mid))):
            break
    # inf{x : CDF(x) >= q}: hi; snap to the atom at 0 when q falls in its jump
    quant = np.where((lo < 0) & (hi >= 0), 0.0, hi) if point > 0 else hi
    t1, t2 = 0.0, 0.0
    for p, g in ((post[2], lm.grid10), (post[3], lm.grid11)):
        if p > 0:
            t1 += p * float(g.weights @ g.tau)
            t2 += p * float(g.weights @ g.tau**2)
    return ModelAverage(pri, post, logm, incl(mu_in), incl(tau_in), float(mean), sd,
                        quant, t1, float(np.sqrt(max(t2 - t1 * t1, 0.0))))
