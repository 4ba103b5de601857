"""Pooling estimates of the normal three-level model with known sampling sds ``se_i``.

    ybar_i | theta_i ~ N(theta_i, se_i^2),    theta_i | mu, tau ~ N(mu, tau^2).

No pooling, complete pooling, the shrinkage weights, partial pooling, the conditional
posterior of ``theta_i`` given ``(mu, tau)`` (BDA3 eq. 5.17) and the sd-of-means plug-in
``mu_hat = mean(ybar)``, ``tau_hat = sd(ybar)``.  Every
function works on plain arrays with the **group axis last** and broadcasts over leading batch
axes; per-dataset parameters (``mu``, ``tau``) have the batch shape only.  Numpy only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .arrays import (
    batch_param,
    broadcast_groups,
    check_batch,
    floats,
    group_array,
    means_se,
    positive_group_array,
    vdot,
)

__all__ = [
    "no_pooling", "precision_weighted_mean", "complete_pooling", "shrinkage_weights",
    "partial_pooling",
    "conditional_posterior", "SdOfMeansEstimates", "sd_of_means_estimates",
    "weights_unchecked", "conditional_unchecked",
]


def no_pooling(means: Any) -> np.ndarray:
    """No pooling (BDA3 section 5.5): ``theta_i = ybar_i``.

    Parameters
    ----------
    means : array_like, shape (..., G)
        Group means ``ybar_i``.

    Returns
    -------
    ndarray, shape (..., G)
        A copy of ``means``.
    """
    return group_array("means", means).copy()


def precision_weighted_mean(means: Any, se: Any) -> np.ndarray:
    """The precision-weighted mean ``sum_i ybar_i / se_i^2 / sum_i 1 / se_i^2``.

    The complete-pooling estimate of ``mu``: the common-effect (equal-effects,
    ``tau = 0``) estimate of meta-analysis (metafor's ``rma(yi, vi, method="EE")``), and with
    a common sigma (``se_i = sigma / sqrt(n_i)``) the mean of all the rows,
    ``sum_i n_i ybar_i / sum_i n_i``.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
        Group means and their standard errors (> 0).

    Returns
    -------
    ndarray, shape (...)
    """
    y, s = means_se(means, se)
    p = 1.0 / s**2
    return vdot(p, y) / p.sum(axis=-1)


def complete_pooling(means: Any, se: Any) -> np.ndarray:
    """Complete pooling: every ``theta_i`` equals the precision-weighted mean
    (:func:`precision_weighted_mean`, the ``tau = 0`` limit of partial pooling; BDA3
    section 5.5, "pooled estimate").

    Returns
    -------
    ndarray, shape (..., G)
        The precision-weighted mean repeated along the group axis.
    """
    y, s = means_se(means, se)
    g = precision_weighted_mean(y, s)
    return np.broadcast_to(g[..., None], y.shape).copy()


def shrinkage_weights(se: Any, tau: Any) -> np.ndarray:
    """Shrinkage weights ``w_i = (1/se_i^2) / (1/se_i^2 + 1/tau^2) = tau^2 / (tau^2 + se_i^2)``.

    With ``se_i = sigma / sqrt(n_i)`` this is ``n_i / (n_i + sigma^2/tau^2)`` (Morris 1983;
    Efron & Morris 1975).
    ``tau = 0`` gives ``w = 0`` exactly (complete pooling) and ``tau = inf`` gives ``w = 1``
    exactly (no pooling).

    Parameters
    ----------
    se : array_like, shape (..., G)
        Standard errors, > 0.
    tau : array_like, shape (...)
        Between-group sd, >= 0 (``inf`` allowed); batch shape only, no group axis.

    Returns
    -------
    ndarray, shape broadcast((..., G), tau.shape + (1,))
    """
    s = positive_group_array("se", se)
    t = batch_param("tau", tau, nonneg=True)
    check_batch(s.shape, tau=t)
    return weights_unchecked(s, t[..., None])


def weights_unchecked(se: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``1 / (1 + (se/tau)^2)``, computed in one buffer; exact 0 at tau=0, 1 at tau=inf.

    :func:`shrinkage_weights` without the checks: ``se`` and ``tau`` are float arrays that
    already broadcast (``tau`` with a trailing axis of length 1).
    """
    with np.errstate(divide="ignore"):
        w = np.divide(se, tau)
    np.multiply(w, w, out=w)
    w += 1.0
    return np.divide(1.0, w, out=w)


def partial_pooling(means: Any, se: Any, mu: Any, tau: Any) -> np.ndarray:
    """Partial pooling (BDA3 section 5.5): ``theta_i = w_i ybar_i + (1 - w_i) mu``.

    ``w_i`` from :func:`shrinkage_weights`; the estimate lies between ``ybar_i`` and ``mu``.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
        Group means and their standard errors.
    mu, tau : array_like, shape (...)
        Population mean and between-group sd (batch shape, no group axis).

    Returns
    -------
    ndarray, shape (..., G)
    """
    return conditional_posterior(means, se, mu, tau)[0]


def conditional_posterior(
    means: Any, se: Any, mu: Any, tau: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """The conditional posterior ``theta_i | y, mu, tau ~ N(theta_hat_i, V_i)`` (BDA3 eq. 5.17).

    ``theta_hat_i = (ybar_i/se_i^2 + mu/tau^2) / (1/se_i^2 + 1/tau^2) = w_i ybar_i +
    (1 - w_i) mu`` and ``V_i = 1 / (1/se_i^2 + 1/tau^2) = w_i se_i^2``.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
        Group means and standard errors.
    mu, tau : array_like, shape (...)
        Draws or values of the hyperparameters, e.g. shape ``(chains, draws)``; they
        broadcast against the leading axes of ``means``.

    Returns
    -------
    mean, var : ndarray, shape broadcast((..., G), mu.shape + (1,))
        E.g. ``(chains, draws, G)`` for ``means`` of shape ``(G,)``.
    """
    y, s = means_se(means, se)
    m = batch_param("mu", mu)
    t = batch_param("tau", tau, nonneg=True)
    check_batch(y.shape, mu=m, tau=t)
    return conditional_unchecked(y, s, m[..., None], t[..., None])


def conditional_unchecked(y: np.ndarray, s: np.ndarray, mu: np.ndarray,
                          tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, var)`` of :func:`conditional_posterior` without the checks: float arrays that
    already broadcast, ``mu`` and ``tau`` with a trailing axis of length 1."""
    w = weights_unchecked(s, tau)
    mean = w * y
    mean += (1.0 - w) * mu
    w *= s * s                                           # V = w se^2 (w has se's shape)
    return mean, w if w.shape == mean.shape else np.broadcast_to(w, mean.shape).copy()


# ============================================================= the sd-of-means plug-in
class SdOfMeansEstimates(NamedTuple):
    """Result of :func:`sd_of_means_estimates` (arrays of shape ``(..., G)``; ``tau`` and
    ``unweighted_mean`` of shape ``(...)``)."""

    no_pooling: np.ndarray
    partial_pooling: np.ndarray
    weights: np.ndarray
    tau: np.ndarray
    unweighted_mean: np.ndarray


def sd_of_means_estimates(means: Any, n: Any, sigma: Any) -> SdOfMeansEstimates:
    """The sd-of-means plug-in, batched: partial pooling with ``mu_hat = mean(ybar)``,
    ``tau_hat = sd(ybar)``, a naive moment estimator that ignores the sampling variance of
    ``ybar_i``.

    ``tau_hat = np.std(means)`` (population sd, ``ddof=0``), ``mu = np.mean(means)``
    (unweighted) and ``w_i = n_i / (n_i + sigma^2 / tau_hat^2)``;
    ``partial_i = w_i ybar_i + (1 - w_i) mu``, computed in exactly that order of
    operations for ``tau_hat > 0``.

    Honest caveats:

    * ``np.std(means)`` estimates the sd of the *observed* means, ``~ sqrt(tau^2 + se^2)``,
      not ``tau``: it ignores the sampling noise in ``ybar_i`` (so it over-estimates ``tau``
      and under-shrinks) and the uncertainty in ``tau_hat`` itself.  Use
      :func:`~hiermodel.core.tau.estimate_tau` (``"reml"``, ``"pm"``, ...) for a real
      estimate.
    * When all means are equal, ``tau_hat = 0`` and ``sigma**2 / tau_hat**2`` divides by
      zero.  Here that case is defined as its limit: weights 0 and complete
      pooling, without warnings.
    * On :func:`~hiermodel.datasets.eight_schools_summary` it gives ``tau_hat = 9.8446``,
      ``mu = 8.8125`` and partial-pooling estimates A 26.90, B 8.11, G 15.44, F 1.01
      (weights 0.923, 0.775, 0.721, 0.950).

    Parameters
    ----------
    means : array_like, shape (..., G)
        Group means ``ybar_i``.
    n : array_like, shape (..., G)
        Group sizes, > 0.
    sigma : float or array_like, broadcastable to (..., G)
        Known within-group sd, > 0.

    Returns
    -------
    SdOfMeansEstimates
        ``no_pooling``, ``partial_pooling``, ``weights`` (shape ``(..., G)``), ``tau`` and
        ``unweighted_mean`` (the ``mean(ybar)`` it shrinks toward; shape ``(...)``).
    """
    y = group_array("means", means)
    nn = positive_group_array("n", n)
    sig = floats("sigma", sigma)
    if not np.isfinite(sig).all() or (sig <= 0).any():
        raise ValueError("`sigma` must be finite and > 0.")
    y, nn, sig = broadcast_groups(means=y, n=nn, sigma=np.atleast_1d(sig))
    tau_est = np.std(y, axis=-1)
    mu = np.mean(y, axis=-1)
    t = tau_est[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(t > 0, nn / (nn + sig**2 / t**2), 0.0)
    partial = weights * y + (1 - weights) * mu[..., None]
    return SdOfMeansEstimates(y.copy(), partial, weights, tau_est, mu)
