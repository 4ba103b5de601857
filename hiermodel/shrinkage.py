"""Closed-form shrinkage: pooling estimates, tau estimators, empirical Bayes, exact posterior.

Everything here is about the normal three-level model with known sampling sds ``se_i``

    ybar_i | theta_i ~ N(theta_i, se_i^2),    theta_i | mu, tau ~ N(mu, tau^2),

whose marginal likelihood is ``ybar_i | mu, tau ~ N(mu, tau^2 + se_i^2)``.  For the seed's
summary form ``se_i = sigma / sqrt(n_i)``.

Two layers, as in arviz-stats:

* a **numpy core** (:func:`shrinkage_weights`, :func:`partial_pooling`,
  :func:`estimate_tau`, :func:`eb_core`, :func:`conditional_posterior`, ...) that works on
  plain arrays with the **group axis last** and broadcasts over any leading batch axes, so a
  simulation study can pass ``means`` of shape ``(10000, 8)`` in one call.  Per-dataset
  parameters (``mu``, ``tau``) have the batch shape only, without the group axis.  The core
  uses no xarray and never loops in Python over datasets;
* a **labelled facade** taking :class:`~hiermodel.data.HierData` and returning xarray /
  pandas / ArviZ objects (:func:`empirical_bayes`, :func:`pooling_table`,
  :func:`rao_blackwell`, :func:`exact_posterior`).

This module imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from ._validate import check_data, check_method
from .data import HierData, check_magnitude
from .priors import Priors

__all__ = [
    "TAU_METHODS", "EB_METHODS",
    "no_pooling", "grand_mean", "complete_pooling", "shrinkage_weights", "partial_pooling",
    "SdOfMeansEstimates", "sd_of_means_estimates",
    "TauEstimate", "estimate_tau",
    "EBEstimates", "eb_core", "EmpiricalBayes", "empirical_bayes", "pooling_table",
    "conditional_posterior", "conditional_means", "rao_blackwell",
    "ExactPosterior", "exact_posterior", "restricted_loglik", "predictive_quantiles",
]

#: tau estimators of :func:`estimate_tau`
TAU_METHODS = ("dl", "pm", "ml", "reml", "sd_of_means")
EB_METHODS = TAU_METHODS
_RTOL = 1e-12
_MAXITER = 200
#: log-density drop (nats) below the mode beyond which the tau grid may stop: e^-46 ~ 1e-20
_LOG_TAIL = 46.0
#: largest tau on the grid for priors with unbounded support, in units of the grid scale
_TAU_MAX_SCALES = 1e10


# ============================================================================ validation
def _floats(name: str, x: Any) -> np.ndarray:
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be numeric, got a string {x!r}.")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be an array of numbers: {err}") from None
    if np.isnan(arr).any():
        raise ValueError(f"`{name}` contains NaN.")
    return arr


def _group_array(name: str, x: Any) -> np.ndarray:
    """A finite float array with a group axis last."""
    arr = _floats(name, x)
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have a group axis (last), got a scalar.")
    if arr.shape[-1] == 0:
        raise ValueError(f"`{name}` has an empty group axis; pass at least one group.")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains infinite values.")
    return check_magnitude(name, arr)


def _positive_group_array(name: str, x: Any) -> np.ndarray:
    arr = _group_array(name, x)
    if (arr <= 0).any():
        raise ValueError(f"`{name}` must be > 0 everywhere; got min {arr.min():g}.")
    return check_magnitude(name, arr, scale=True)


def _broadcast_groups(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast arrays that all carry the group axis last; the first one fixes G."""
    names, arrs = list(arrays), list(arrays.values())
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
    except ValueError:
        desc = ", ".join(f"`{k}` has shape {a.shape}" for k, a in arrays.items())
        raise ValueError(
            f"Mismatched shapes: {desc}; they must broadcast against each other, "
            "with the group axis last."
        ) from None
    if shape[-1] != arrs[0].shape[-1]:
        raise ValueError(
            f"Mismatched shapes: `{names[0]}` has {arrs[0].shape[-1]} groups but the "
            f"broadcast shape is {shape}."
        )
    return [np.broadcast_to(a, shape) for a in arrs]


def _means_se(means: Any, se: Any, *, min_groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    y = _group_array("means", means)
    s = _positive_group_array("se", se)
    y, s = _broadcast_groups(means=y, se=s)
    if y.shape[-1] < min_groups:
        raise ValueError(
            f"`means` has {y.shape[-1]} group(s) on its last axis; this needs at least "
            f"{min_groups}."
        )
    return y, s


def _batch_param(name: str, x: Any, *, nonneg: bool = False) -> np.ndarray:
    """A per-dataset parameter (shape = batch shape, no group axis)."""
    arr = _floats(name, x)
    if nonneg:
        if (arr < 0).any():
            raise ValueError(f"`{name}` must be >= 0 everywhere; got min {arr.min():g}.")
    elif not np.isfinite(arr).all():
        raise ValueError(f"`{name}` must be finite.")
    return arr


def _vdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over the last axis of ``a * b``.

    einsum, not BLAS: no thread start-up, and no large temporary.
    """
    return np.einsum("...i,...i->...", a, b)


def _wsum(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_k weights_k x_k...`` over the first (grid) axis."""
    return np.einsum("k,k...->...", weights, x)


# ============================================================================ pooling
def no_pooling(means: Any) -> np.ndarray:
    """No pooling (seed section 2.1): ``theta_i = ybar_i``.

    Parameters
    ----------
    means : array_like, shape (..., G)
        Group means ``ybar_i``.

    Returns
    -------
    ndarray, shape (..., G)
        A copy of ``means``.
    """
    return _group_array("means", means).copy()


def grand_mean(means: Any, se: Any = None, *, weighted: bool | None = None) -> np.ndarray:
    """The grand mean of the group means, unweighted or precision-weighted.

    ``unweighted: mean_i ybar_i`` (the seed text's ``np.mean(observed_means)``);
    ``weighted: sum_i ybar_i / se_i^2 / sum_i 1 / se_i^2`` (the fixed-effect estimate, the
    ``tau = 0`` limit of the hierarchical model).

    Parameters
    ----------
    means : array_like, shape (..., G)
        Group means.
    se : array_like, shape (..., G), optional
        Standard errors of the means; needed only for the weighted mean.
    weighted : bool or None, default None
        ``True``: precision-weighted (requires ``se``); ``False``: unweighted (``se`` is
        ignored); ``None``: weighted exactly when ``se`` is given.

    Returns
    -------
    ndarray, shape (...)
    """
    if weighted is None:
        weighted = se is not None
    if weighted not in (True, False):
        raise ValueError(f"`weighted` must be True, False or None, got {weighted!r}.")
    if not weighted:
        return _group_array("means", means).mean(axis=-1)
    if se is None:
        raise ValueError("`se` is required for the precision-weighted grand mean (weighted=True).")
    y, s = _means_se(means, se)
    p = 1.0 / s**2
    return _vdot(p, y) / p.sum(axis=-1)


def complete_pooling(means: Any, se: Any = None, *, weighted: bool | None = None) -> np.ndarray:
    """Complete pooling (seed section 2.2): every ``theta_i`` equals the grand mean.

    See :func:`grand_mean` for ``se`` and ``weighted``: the seed text's estimate is the
    unweighted mean (``weighted=False`` or no ``se``); ``weighted=True`` gives the
    precision-weighted mean ``sum ybar_i/se_i^2 / sum 1/se_i^2``.

    Returns
    -------
    ndarray, shape (..., G)
        The grand mean repeated along the group axis.
    """
    y = _group_array("means", means)
    g = grand_mean(y, se, weighted=weighted)
    return np.broadcast_to(g[..., None], np.broadcast_shapes(y.shape, g.shape + (1,))).copy()


def shrinkage_weights(se: Any, tau: Any) -> np.ndarray:
    """Shrinkage weights ``w_i = (1/se_i^2) / (1/se_i^2 + 1/tau^2) = tau^2 / (tau^2 + se_i^2)``.

    With ``se_i = sigma / sqrt(n_i)`` this is the seed text's ``n_i / (n_i + sigma^2/tau^2)``.
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
    s = _positive_group_array("se", se)
    t = _batch_param("tau", tau, nonneg=True)
    _check_batch(s.shape, tau=t)
    return _weights(s, t[..., None])


def _weights(se: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``1 / (1 + (se/tau)^2)``, computed in one buffer; exact 0 at tau=0, 1 at tau=inf."""
    with np.errstate(divide="ignore"):
        w = np.divide(se, tau)
    np.multiply(w, w, out=w)
    w += 1.0
    return np.divide(1.0, w, out=w)


def partial_pooling(means: Any, se: Any, mu: Any, tau: Any) -> np.ndarray:
    """Partial pooling (seed section 2.3): ``theta_i = w_i ybar_i + (1 - w_i) mu``.

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
    """The conditional posterior ``theta_i | y, mu, tau ~ N(theta_hat_i, V_i)`` (seed text 5.1).

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
    y, s = _means_se(means, se)
    m = _batch_param("mu", mu)
    t = _batch_param("tau", tau, nonneg=True)
    _check_batch(y.shape, mu=m, tau=t)
    return _conditional(y, s, m[..., None], t[..., None])


def _check_batch(shape: tuple, **params: np.ndarray) -> None:
    """Per-dataset parameters must broadcast against the batch axes of ``shape``."""
    try:
        np.broadcast_shapes(shape, *(p.shape + (1,) for p in params.values()))
    except ValueError:
        desc = ", ".join(f"`{k}` has shape {p.shape}" for k, p in params.items())
        raise ValueError(
            f"Mismatched shapes: the data have shape {shape} (group axis last) but {desc}; "
            "per-dataset parameters take the batch shape, without the group axis."
        ) from None


def _conditional(y: np.ndarray, s: np.ndarray, mu: np.ndarray,
                 tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = _weights(s, tau)
    mean = w * y
    mean += (1.0 - w) * mu
    w *= s * s                                           # V = w se^2 (w has se's shape)
    return mean, w if w.shape == mean.shape else np.broadcast_to(w, mean.shape).copy()


# ============================================================================ the seed
class SdOfMeansEstimates(NamedTuple):
    """Result of :func:`sd_of_means_estimates` (arrays of shape ``(..., G)``, tau ``(...)``)."""

    no_pooling: np.ndarray
    complete_pooling: np.ndarray
    partial_pooling: np.ndarray
    weights: np.ndarray
    tau: np.ndarray
    grand_mean: np.ndarray


def sd_of_means_estimates(means: Any, n: Any, sigma: Any) -> SdOfMeansEstimates:
    """The seed text's ``hierarchical_estimates`` (section 4.2), reproduced exactly and batched.

    ``tau_hat = np.std(means)`` (population sd, ``ddof=0``), ``mu = np.mean(means)``
    (unweighted) and ``w_i = n_i / (n_i + sigma^2 / tau_hat^2)``;
    ``partial_i = w_i ybar_i + (1 - w_i) mu``.  For ``tau_hat > 0`` the arithmetic is the
    seed's, operation for operation.

    Honest caveats:

    * ``np.std(means)`` estimates the sd of the *observed* means, ``~ sqrt(tau^2 + se^2)``,
      not ``tau``: it ignores the sampling noise in ``ybar_i`` (so it over-estimates ``tau``
      and under-shrinks) and the uncertainty in ``tau_hat`` itself.  Use
      :func:`estimate_tau` (``"reml"``, ``"pm"``, ...) for a real estimate.
    * When all means are equal, ``tau_hat = 0`` and the seed text's ``sigma**2 / tau_est**2``
      divides by zero.  Here that case is defined as its limit: weights 0 and complete
      pooling, without warnings.
    * The seed text's table 4.3 ("For a typical run ...": A 19.2, B 8.5, G 12.1, F 2.8) is
      illustrative: it does not follow from this code and table 4.1.  On
      :func:`~hiermodel.datasets.eight_schools_summary` the code gives ``tau_hat = 9.8446``,
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
        ``no_pooling``, ``complete_pooling``, ``partial_pooling``, ``weights`` (shape
        ``(..., G)``), ``tau`` and ``grand_mean`` (shape ``(...)``).
    """
    y = _group_array("means", means)
    nn = _positive_group_array("n", n)
    sig = _floats("sigma", sigma)
    if not np.isfinite(sig).all() or (sig <= 0).any():
        raise ValueError("`sigma` must be finite and > 0.")
    y, nn, sig = _broadcast_groups(means=y, n=nn, sigma=np.atleast_1d(sig))
    tau_est = np.std(y, axis=-1)
    mu = np.mean(y, axis=-1)
    t = tau_est[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(t > 0, nn / (nn + sig**2 / t**2), 0.0)
    m = mu[..., None]
    partial = weights * y + (1 - weights) * m
    complete = np.broadcast_to(m, y.shape).copy()
    return SdOfMeansEstimates(y.copy(), complete, partial, weights, tau_est, mu)


# ============================================================================ tau estimators
class TauEstimate(NamedTuple):
    """A tau estimate with the mu that goes with it (arrays of the batch shape).

    Attributes
    ----------
    tau : ndarray
        ``tau_hat >= 0``.
    mu : ndarray
        ``mu_hat(tau_hat) = sum w_i ybar_i / sum w_i`` with ``w_i = 1/(se_i^2 + tau_hat^2)``
        (the unweighted mean for ``"sd_of_means"``).
    mu_var : ndarray
        Sampling variance of ``mu_hat`` at ``tau_hat``: ``1 / sum_i w_i`` (for ``"sd_of_means"``:
        ``sum_i (se_i^2 + tau^2) / G^2``).
    method : str
    """

    tau: np.ndarray
    mu: np.ndarray
    mu_var: np.ndarray
    method: str


class _Sums(NamedTuple):
    s0: np.ndarray   # sum w
    s1: np.ndarray   # sum w^2
    mu: np.ndarray   # sum w y / sum w
    a: np.ndarray    # sum w r^2  (generalized Q)
    b: np.ndarray    # sum w^2 r^2
    s2: np.ndarray | None = None  # sum w^3
    c: np.ndarray | None = None   # sum w^3 r^2
    d: np.ndarray | None = None   # sum w^2 r


class _Work:
    """Data ``y``, ``v = se^2`` of a tau iteration and two buffers of their shape."""

    def __init__(self, y: np.ndarray, v: np.ndarray, buffers: _Work | None = None) -> None:
        self.y, self.v = y, v
        if buffers is None:
            self.w, self.r = np.empty(y.shape), np.empty(y.shape)
        else:                                             # reuse another's, reshaped
            self.w, self.r = buffers.w.reshape(y.shape), buffers.r.reshape(y.shape)


def _vdot3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i,...i->...", a, b, c)


def _sums(work: _Work, t2: np.ndarray, full: bool) -> _Sums:
    """Weighted sums at ``tau^2 = t2`` with ``w = 1/(v + t2)`` and ``r = y - mu(t2)``."""
    w, r = work.w, work.r
    np.add(work.v, t2[..., None], out=w)
    np.divide(1.0, w, out=w)
    s0 = w.sum(axis=-1)
    mu = _vdot(w, work.y) / s0
    np.subtract(work.y, mu[..., None], out=r)
    a = _vdot3(w, r, r)
    s1 = _vdot(w, w)
    np.multiply(r, w, out=r)                              # r now holds w * r
    base = (s0, s1, mu, a, _vdot(r, r))
    if not full:
        return _Sums(*base)
    return _Sums(*base, _vdot3(w, w, w), _vdot3(w, r, r), _vdot(w, r))


def _score(method: str, s: _Sums, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """``(g, dg/dt)`` in ``t = tau^2``; ``g`` decreases through its root.

    * ``pm``:   ``g = Q(t) - (G - 1)``, ``Q = sum w r^2``, ``dQ/dt = -sum w^2 r^2``;
    * ``ml``:   ``g = dl/dt = (sum w^2 r^2 - sum w) / 2`` (the profile score);
    * ``reml``: ``g = (sum w^2 r^2 - sum w + sum w^2 / sum w) / 2``.
    """
    if method == "pm":
        return s.a - (n_groups - 1), -s.b
    g = 0.5 * (s.b - s.s0)
    dg = -s.c + s.d * s.d / s.s0 + 0.5 * s.s1
    if method == "reml":
        ratio = s.s1 / s.s0
        g = g + 0.5 * ratio
        dg = dg - s.s2 / s.s0 + 0.5 * ratio * ratio
    return g, dg


def _newton_bisect(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lo: np.ndarray, hi: np.ndarray, x0: np.ndarray, active: np.ndarray,
    *, rtol: float, atol: np.ndarray | float, maxiter: int, what: str,
) -> np.ndarray:
    """Elementwise root of an increasing function with ``f(lo) <= 0 <= f(hi)``.

    Safeguarded Newton (Numerical Recipes' ``rtsafe``, vectorised): a Newton step is taken
    when it stays inside the bracket and at least halves the step before last (or is below
    tolerance); otherwise the bracket is bisected.  The bracket shrinks at every evaluation,
    so convergence is guaranteed.  ``fun(x, idx)`` returns ``(f, df)`` at the points ``x``
    of the flat element indices ``idx``; only unconverged elements are evaluated.  Elements
    with ``active=False`` keep ``x0``.
    """
    shape = np.shape(x0)
    x = np.array(x0, dtype=float).reshape(-1)
    full = [np.broadcast_to(np.asarray(a, dtype=float), shape).reshape(-1)
            for a in (lo, hi, atol)]
    idx = np.flatnonzero(np.broadcast_to(active, shape))
    lo_, hi_, atol_ = (a[idx] for a in full)
    xa = np.clip(x[idx], lo_, hi_)
    dx = hi_ - lo_
    dxold = dx.copy()
    for _ in range(maxiter):
        if idx.size == 0:
            break
        f, df = fun(xa, idx)
        lo_ = np.where(f < 0, xa, lo_)
        hi_ = np.where(f > 0, xa, hi_)
        tol = rtol * np.abs(xa) + atol_
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = f / df
            newton = xa - step
            # a step below tolerance is accepted even if rounding puts it on the bracket
            ok = (df > 0) & np.isfinite(newton) & (
                (np.abs(step) <= tol)
                | ((newton > lo_) & (newton < hi_) & (np.abs(step) <= 0.5 * np.abs(dxold))))
        x_new = np.where(ok, newton, 0.5 * (lo_ + hi_))
        dxold, dx = dx, x_new - xa
        done = (f == 0) | (np.abs(dx) <= tol) | (hi_ - lo_ <= tol)
        xa = np.where(f != 0, x_new, xa)
        x[idx] = xa
        keep = ~done
        idx, xa, lo_, hi_, atol_, dx, dxold = (
            a[keep] for a in (idx, xa, lo_, hi_, atol_, dx, dxold))
    if idx.size:
        warnings.warn(f"{what}: {idx.size} element(s) did not converge in {maxiter} "
                      "iterations; returning the last iterate.", RuntimeWarning, stacklevel=3)
    return x.reshape(shape)


class _TauScore:
    """``fun(t2, idx)`` for :func:`_newton_bisect`: minus the estimating function of
    ``method`` and its derivative, on a working set that shrinks as elements converge."""

    def __init__(self, method: str, work: _Work) -> None:
        self.method, self.full = method, method != "pm"
        self.y = work.y.reshape(-1, work.y.shape[-1])
        self.v = work.v.reshape(self.y.shape)
        self.cur = np.arange(self.y.shape[0])
        self.work = _Work(self.y, self.v, buffers=work)

    def __call__(self, t2: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if 2 * idx.size <= self.cur.size:
            self.cur = idx
            self.work = _Work(self.y[idx], self.v[idx])
        pos = np.searchsorted(self.cur, idx)
        t_all = np.zeros(self.cur.size)
        t_all[pos] = t2
        g, dg = _score(self.method, _sums(self.work, t_all, self.full), self.y.shape[-1])
        return -g[pos], -dg[pos]


def _tau2_iterative(method: str, work: _Work, rtol: float, maxiter: int) -> np.ndarray:
    y, v = work.y, work.v
    n_groups = y.shape[-1]
    s = _sums(work, np.zeros(y.shape[:-1]), method != "pm")
    g0 = _score(method, s, n_groups)[0]
    positive = g0 > 0                                     # else the estimate is 0
    spread = y.max(axis=-1) - y.min(axis=-1)
    # |y_i - mu(t)| <= spread for all t, so the score is < 0 beyond this bound (all methods)
    hi = 2.0 * n_groups / (n_groups - 1) * (spread * spread + v.max(axis=-1))
    x0 = np.where(positive, _dl_from_sums(s, n_groups), 0.0)
    atol = 1e-3 * rtol * n_groups / s.s0                  # a tiny fraction of the mean se^2
    t2 = _newton_bisect(_TauScore(method, work), np.zeros_like(hi), hi, x0, positive,
                        rtol=rtol, atol=atol, maxiter=maxiter,
                        what=f"estimate_tau(method={method!r})")
    return np.where(positive, t2, 0.0)


def _dl_from_sums(s: _Sums, n_groups: int) -> np.ndarray:
    """DerSimonian-Laird from the ``t = 0`` sums: ``max(0, (Q - (G-1)) / (S1 - S2/S1))``."""
    return np.maximum(0.0, (s.a - (n_groups - 1)) / (s.s0 - s.s1 / s.s0))


def estimate_tau(
    means: Any, se: Any, method: str = "reml", *, rtol: float = _RTOL,
    maxiter: int = _MAXITER,
) -> TauEstimate:
    """Estimate the between-group sd ``tau`` of ``ybar_i ~ N(mu, tau^2 + se_i^2)``.

    With ``v_i = se_i^2``, ``t = tau^2``, ``w_i(t) = 1/(v_i + t)``,
    ``mu(t) = sum w_i ybar_i / sum w_i`` and ``Q(t) = sum w_i (ybar_i - mu(t))^2``:

    * ``"dl"`` -- DerSimonian & Laird (1986) method of moments:
      ``t = max(0, (Q(0) - (G-1)) / (sum w_i - sum w_i^2 / sum w_i))`` with ``w = w(0)``;
    * ``"pm"`` -- Paule & Mandel (1982): the root of ``Q(t) = G - 1``;
    * ``"ml"`` -- maximum likelihood, maximising
      ``l(t) = -1/2 sum log(v_i + t) - 1/2 Q(t)``;
    * ``"reml"`` -- restricted ML, maximising ``l(t) - 1/2 log sum w_i(t)``;
    * ``"sd_of_means"`` -- the seed text's naive ``np.std(means)`` (it ignores ``se``) with the
      unweighted mean.

    All are truncated at 0: ``tau = 0`` (never NaN) when the between-group spread is below
    the sampling noise (``Q(0) <= G-1`` for PM, a non-positive score at ``t = 0`` for
    ML/REML).  PM/ML/REML solve their estimating equation in ``t`` by safeguarded Newton
    (exact derivatives, started at DL, bisection fallback inside a proven bracket
    ``[0, 2G/(G-1) (range(ybar)^2 + max v)]``), vectorised over the batch; relative
    tolerance ``rtol`` on ``tau^2``.  ML/REML return a local maximum; the likelihood in
    ``tau`` is unimodal in all but contrived heteroscedastic cases.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
        Group means and standard errors (> 0), ``G >= 2``.
    method : {"dl", "pm", "ml", "reml", "sd_of_means"}, default "reml"
    rtol : float, default 1e-12
        Relative tolerance on ``tau^2``.
    maxiter : int, default 200

    Returns
    -------
    TauEstimate
        ``tau``, ``mu``, ``mu_var`` of the batch shape ``(...)``, and ``method``.
    """
    method = check_method(method, TAU_METHODS)
    y, s = _means_se(means, se, min_groups=2)
    if not (isinstance(rtol, float | int) and 0 < rtol < 1):
        raise ValueError(f"`rtol` must be a number in (0, 1), got {rtol!r}.")
    if isinstance(maxiter, bool) or not isinstance(maxiter, int | np.integer) or maxiter < 1:
        raise ValueError(f"`maxiter` must be a positive integer, got {maxiter!r}.")
    return _estimate_tau(y, s, method, rtol, maxiter)


def _estimate_tau(y: np.ndarray, s: np.ndarray, method: str, rtol: float = _RTOL,
                  maxiter: int = _MAXITER) -> TauEstimate:
    v = s * s
    if method == "sd_of_means":
        tau = np.std(y, axis=-1)
        n_groups = y.shape[-1]
        mu_var = (v.sum(axis=-1) + n_groups * tau**2) / n_groups**2
        return TauEstimate(tau, np.mean(y, axis=-1), mu_var, method)
    work = _Work(y, v)
    if method == "dl":
        t2 = _dl_from_sums(_sums(work, np.zeros(y.shape[:-1]), False), y.shape[-1])
    else:
        t2 = _tau2_iterative(method, work, rtol, maxiter)
    final = _sums(work, t2, False)
    return TauEstimate(np.sqrt(t2), final.mu, 1.0 / final.s0, method)


# ============================================================================ empirical Bayes
class EBEstimates(NamedTuple):
    """Result of :func:`eb_core`; per-dataset fields have the batch shape, the rest (..., G).

    Attributes
    ----------
    mu, tau, mu_var : ndarray, shape (...)
        Estimates and ``Var(mu_hat)`` (see :class:`TauEstimate`).
    weights : ndarray, shape (..., G)
        ``w_i = tau^2 / (tau^2 + se_i^2)``.
    theta : ndarray, shape (..., G)
        EB estimates ``w_i ybar_i + (1 - w_i) mu_hat``.
    sd_cond : ndarray, shape (..., G)
        ``sqrt(V_i)``, ``V_i = 1/(1/se_i^2 + 1/tau^2) = w_i se_i^2`` (seed text 5.1).
    sd_adj : ndarray, shape (..., G)
        ``sqrt(V_i + (1 - w_i)^2 Var(mu_hat))`` (Morris 1983).
    """

    mu: np.ndarray
    tau: np.ndarray
    mu_var: np.ndarray
    weights: np.ndarray
    theta: np.ndarray
    sd_cond: np.ndarray
    sd_adj: np.ndarray


def eb_core(means: Any, se: Any, method: str = "reml") -> EBEstimates:
    """Parametric empirical Bayes, batched: plug ``(mu_hat, tau_hat)`` into seed text 5.1.

    ``theta_i = w_i ybar_i + (1 - w_i) mu_hat``, ``w_i = tau^2/(tau^2 + se_i^2)``,
    ``V_i = w_i se_i^2``.  The plug-in sd ``sqrt(V_i)`` treats ``mu_hat`` and ``tau_hat``
    as known and is too small; ``sd_adj`` adds the uncertainty of ``mu_hat``
    (Morris 1983, JASA 78:47-55, eq. 3.x; Kass & Steffey 1989, JASA 84:717-726):

        V_i^adj = V_i + (1 - w_i)^2 Var(mu_hat),   Var(mu_hat) = 1 / sum_j 1/(se_j^2 + tau^2)

    (for ``method="sd_of_means"``, ``Var`` of the unweighted mean, ``sum_j (se_j^2 + tau^2)/G^2``).
    Morris's further term for the uncertainty in ``tau_hat`` is not included, so
    ``sd_adj`` is still optimistic when ``G`` is small.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
    method : {"dl", "pm", "ml", "reml", "sd_of_means"}, default "reml"
        The tau estimator (:func:`estimate_tau`).

    Returns
    -------
    EBEstimates
    """
    method = check_method(method, EB_METHODS)
    y, s = _means_se(means, se, min_groups=2)
    est = _estimate_tau(y, s, method)
    mu = est.mu[..., None]
    w = _weights(s, est.tau[..., None])
    theta = w * y
    rest = 1.0 - w
    theta += rest * mu                                   # w y + (1 - w) mu
    var = np.multiply(s, s)
    var *= w                                             # V = w se^2
    sd_cond = np.sqrt(var)
    rest *= rest
    rest *= est.mu_var[..., None]
    rest += var                                          # V + (1 - w)^2 Var(mu_hat)
    return EBEstimates(est.mu, est.tau, est.mu_var, w, theta, sd_cond, np.sqrt(rest, out=rest))


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
    """Empirical Bayes on :class:`HierData` (wraps :func:`eb_core`).

    Uses ``data.se`` as known; for raw rows with unknown sigma that is the plug-in
    ``sigma_hat / sqrt(n_i)``.

    Parameters
    ----------
    data : HierData
    method : {"dl", "pm", "ml", "reml", "sd_of_means"}, default "reml"

    Returns
    -------
    EmpiricalBayes
    """
    data = check_data(data)
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

    Columns: ``no_pooling`` (``ybar_i``), ``complete_pooling`` (unweighted grand mean, the
    seed's), ``complete_pooling_weighted`` (precision-weighted), ``partial_pooling`` (EB
    with the ``method`` tau estimator), ``weight`` (its ``w_i``) and
    ``sd_of_means_partial_pooling`` (the seed text's ``np.std`` plug-in,
    :func:`sd_of_means_estimates`).

    Parameters
    ----------
    data : HierData
    method : {"dl", "pm", "ml", "reml", "sd_of_means"}, default "reml"

    Returns
    -------
    pandas.DataFrame
    """
    data = check_data(data)
    method = check_method(method, EB_METHODS)
    eb = eb_core(data.means, data.se, method)
    sdm = eb_core(data.means, data.se, "sd_of_means")
    index = pd.Index(data.to_xarray()["group"].values, name="group")
    return pd.DataFrame(
        {
            "no_pooling": data.means,
            "complete_pooling": complete_pooling(data.means, weighted=False),
            "complete_pooling_weighted": complete_pooling(data.means, data.se, weighted=True),
            "partial_pooling": eb.theta,
            "weight": eb.weights,
            "sd_of_means_partial_pooling": sdm.theta,
        },
        index=index,
    )


# ============================================================================ Rao-Blackwell
def _hyper_draws(posterior: Any) -> tuple[xr.DataArray, xr.DataArray, xr.Dataset | None]:
    """``(mu, tau, posterior dataset or None)`` with dims including (chain, draw)."""
    ds = None
    if hasattr(posterior, "posterior") and not isinstance(posterior, xr.Dataset):
        posterior = posterior.posterior
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
    arr = _floats(name, x)
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
    data = check_data(data)
    mu, tau, ds = _hyper_draws(posterior)
    gds = data.to_xarray()
    ybar = gds["mean"]
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
    )
    return out.transpose("chain", "draw", ..., "group").rename("theta_cond_mean")


def _cond_mean_core(y: np.ndarray, s: np.ndarray, mu: np.ndarray,
                    tau: np.ndarray) -> np.ndarray:
    return _conditional(y, s, mu[..., None], tau[..., None])[0]


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
class _Grid(NamedTuple):
    u: np.ndarray            # grid in u = tau / (tau + scale)
    tau: np.ndarray
    f: np.ndarray            # normalised density in u (trapezoid-normalised, for the CDF)
    cdf: np.ndarray          # its cumulative trapezoid, 0 .. 1
    weights: np.ndarray      # Simpson quadrature weights x density (sum 1)
    scale: float
    log_norm: float          # log of the normaliser of exp(lp_tau)
    truncated_mass: float


class _Marginal(NamedTuple):
    loglik: np.ndarray
    mu_hat: np.ndarray
    mu_var: np.ndarray


def _marginal(t2: np.ndarray, y: np.ndarray, v: np.ndarray, m0: float, p0: float) -> _Marginal:
    """``log p(y | tau)`` (up to a constant), ``mu | tau, y`` mean and variance.

    ``p(y | tau) ∝ V_mu^(1/2) prod (v_i + t)^(-1/2) exp(-sum (y_i - mu_hat)^2 / (2(v_i+t))
    - p0 (m0 - mu_hat)^2 / 2)``: a ``N(m0, 1/p0)`` prior on mu enters as one more
    "observation" ``m0`` with variance ``1/p0`` (``p0 = 0``: flat prior).
    """
    w = 1.0 / (v + t2[:, None])
    prec = w.sum(axis=-1) + p0
    mu_hat = (_vdot(w, y) + p0 * m0) / prec
    r = y - mu_hat[:, None]
    ll = (0.5 * np.log(w).sum(axis=-1) - 0.5 * np.log(prec) - 0.5 * (w * r * r).sum(axis=-1)
          - 0.5 * p0 * (m0 - mu_hat) ** 2)
    return _Marginal(ll, mu_hat, 1.0 / prec)


def restricted_loglik(means: Any, se: Any, tau: Any) -> np.ndarray:
    """The restricted (REML) log-likelihood of ``tau`` up to a constant, at each ``tau``:

        l_R(tau) = -1/2 [sum_i log(se_i^2 + tau^2) + log sum_i 1/(se_i^2 + tau^2)
                         + sum_i (ybar_i - mu_hat(tau))^2 / (se_i^2 + tau^2)]

    (= ``log p(tau | y)`` under flat priors on mu and tau, BDA3 eq. 5.21; maximised by the
    REML ``tau_hat``).  ``tau``: any shape; returns that shape."""
    y, s = _means_se(means, se, min_groups=2)
    if y.ndim != 1:
        raise ValueError("`means` and `se` must be 1-D (one dataset) here.")
    t = np.asarray(_batch_param("tau", tau, nonneg=True), dtype=float)
    ll = _marginal(np.ravel(t) ** 2, y, s * s, 0.0, 0.0).loglik
    return ll.reshape(t.shape)


def _simpson_weights(n: int, h: float) -> np.ndarray:
    c = np.ones(n)
    c[1:-1:2] = 4.0
    c[2:-1:2] = 2.0
    return c * h / 3.0


def _mu_precision(priors: Priors) -> float:
    """``1 / mu_sd^2`` of the prior of mu; 0 for the flat prior."""
    return 0.0 if priors.mu == "flat" else 1.0 / priors.mu_sd**2


def _mu_mean(priors: Priors) -> float:
    return 0.0 if priors.mu == "flat" else priors.mu_mean


def _tau_grid(y: np.ndarray, v: np.ndarray, priors: Priors, n: int) -> _Grid:
    """Adaptive grid for ``p(tau | y)`` in ``u = tau / (tau + c)`` on ``[0, u_max]``.

    A first pass covers all of ``[0, u_max]``; the grid is then zoomed onto the region where
    the log density is within ``_LOG_TAIL`` nats of its maximum (one cell of margin), until
    that region fills at least half of the grid.  The mass outside the final range is
    estimated on the first pass (``truncated_mass``).
    """
    prior = priors.tau_dist()
    m0 = _mu_mean(priors)
    p0 = _mu_precision(priors)
    scale = float(np.sqrt(np.mean(v) + np.var(y)))
    tau_max = priors.tau_scale if priors.tau == "uniform" else scale * _TAU_MAX_SCALES
    u_max = tau_max / (tau_max + scale)

    def logdens(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tau = np.minimum(scale * u / (1.0 - u), tau_max)
        with np.errstate(divide="ignore"):
            lp = _marginal(tau * tau, y, v, m0, p0).loglik + prior.logpdf(tau)
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
        keep = np.flatnonzero(lp > top - _LOG_TAIL)
        i0, i1 = max(keep[0] - 1, 0), min(keep[-1] + 1, n - 1)
        if first is None:
            first = (u, lp, i0, i1)
        if i1 - i0 >= n // 2 or it == 8:
            break
        lo, hi = u[i0], u[i1]
    h = (u[-1] - u[0]) / (n - 1)
    p = np.exp(lp - top)
    sw = _simpson_weights(n, h) * p
    z = sw.sum()
    cells = 0.5 * (p[1:] + p[:-1]) * h
    cdf = np.concatenate([[0.0], np.cumsum(cells)])
    f = p / cdf[-1]
    cdf = cdf / cdf[-1]
    return _Grid(u, tau, f, cdf, sw / z, scale, float(top + np.log(z)),
                 _outside_mass(first, lo, hi))


def _outside_mass(first: tuple, lo: float, hi: float) -> float:
    """Share of the first (full-range) pass's trapezoid mass outside ``[lo, hi]``."""
    u, lp, _, _ = first
    p = np.exp(lp - lp.max())
    cells = 0.5 * (p[1:] + p[:-1]) * np.diff(u)
    out = (u[1:] <= lo) | (u[:-1] >= hi)
    return float(cells[out].sum() / cells.sum())


def _inverse_cdf(q: np.ndarray, grid: _Grid) -> np.ndarray:
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


def _mixture_quantiles(q: np.ndarray, weights: np.ndarray, m: np.ndarray,
                       s: np.ndarray) -> np.ndarray:
    """Quantiles of ``sum_k weights_k N(m_kj, s_kj^2)`` per column j: shape (J, Q)."""
    mean = _wsum(weights, m)
    sd = np.sqrt(_wsum(weights, s * s + (m - mean) ** 2))
    x0 = mean[:, None] + sd[:, None] * special.ndtri(q)[None, :]
    lo = np.broadcast_to((m - 40.0 * s).min(axis=0)[:, None], x0.shape)
    hi = np.broadcast_to((m + 40.0 * s).max(axis=0)[:, None], x0.shape)
    mt, st, n_q = m.T, s.T, q.size                     # (J, K)

    def fun(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        j = idx // n_q
        z = (x[:, None] - mt[j]) / st[j]
        cdf = _vdot(special.ndtr(z), weights)
        pdf = _vdot(np.exp(-0.5 * z * z) / st[j], weights) / np.sqrt(2.0 * np.pi)
        return cdf - q[idx % n_q], pdf

    return _newton_bisect(fun, lo, hi, x0, np.ones(x0.shape, bool), rtol=1e-12,
                          atol=1e-12 * sd[:, None], maxiter=_MAXITER, what="quantile")


def predictive_quantiles(mu: Any, tau: Any, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of ``theta_new`` drawn as ``N(mu_s, tau_s^2)`` at a uniformly chosen draw
    ``s``: the root of ``mean_s Phi((x - mu_s) / tau_s) = q`` (exact, no extra noise)."""
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


@dataclass(frozen=True, eq=False, repr=False)
class ExactPosterior:
    """The sampling-free posterior of the normal three-level model (BDA3 section 5.4).

    Built by :func:`exact_posterior`.  ``tau`` has a density on a grid; given ``tau``
    everything is normal:

        mu | tau, y ~ N(mu_hat(tau), V_mu(tau)),
        theta_i | mu, tau, y ~ N(w_i ybar_i + (1 - w_i) mu, w_i se_i^2),
        theta_i | tau, y ~ N(w_i ybar_i + (1 - w_i) mu_hat, w_i se_i^2 + (1 - w_i)^2 V_mu),

    so marginal moments of ``mu`` and ``theta_i`` are mixtures over the grid (law of total
    expectation / variance) and their quantiles solve the mixture CDF.

    Attributes
    ----------
    groups : tuple
        Group labels.
    priors : Priors
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
    tau_grid: np.ndarray
    tau_density: np.ndarray
    weights: np.ndarray
    mu_cond_mean: np.ndarray
    mu_cond_var: np.ndarray
    theta_cond_mean: np.ndarray
    theta_cond_var: np.ndarray
    truncated_mass: float
    _grid: _Grid
    _y: np.ndarray
    _se: np.ndarray
    _coord: np.ndarray

    # ------------------------------------------------------------------ moments
    @cached_property
    def _moments(self) -> dict[str, np.ndarray]:
        w = self.weights
        mu = _wsum(w, self.mu_cond_mean)
        tau = _wsum(w, self.tau_grid)
        theta = _wsum(w, self.theta_cond_mean)
        return {
            "mu_mean": mu, "tau_mean": tau, "theta_mean": theta,
            "mu_sd": np.sqrt(_wsum(w, self.mu_cond_var + (self.mu_cond_mean - mu) ** 2)),
            "tau_sd": np.sqrt(_wsum(w, (self.tau_grid - tau) ** 2)),
            "theta_sd": np.sqrt(_wsum(w, self.theta_cond_var
                                      + (self.theta_cond_mean - theta) ** 2)),
        }

    def _dataset(self, stat: str) -> xr.Dataset:
        m = self._moments
        return xr.Dataset(
            {"mu": float(m[f"mu_{stat}"]), "tau": float(m[f"tau_{stat}"]),
             "theta": ("group", m[f"theta_{stat}"])},
            coords={"group": self._coord},
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
        qs = _floats("q", q)
        scalar = qs.ndim == 0
        qs = np.atleast_1d(qs)
        if qs.ndim != 1 or ((qs <= 0) | (qs >= 1)).any():
            raise ValueError(f"`q` must be probabilities strictly between 0 and 1; got {q!r}.")
        u = _inverse_cdf(qs, self._grid)
        tau = np.minimum(self._grid.scale * u / (1.0 - u), self.tau_grid[-1])
        m = np.column_stack([self.mu_cond_mean, self.theta_cond_mean])
        s = np.sqrt(np.column_stack([self.mu_cond_var, self.theta_cond_var]))
        x = _mixture_quantiles(qs, self.weights, m, s)
        ds = xr.Dataset(
            {"mu": ("quantile", x[0]), "tau": ("quantile", tau),
             "theta": (("group", "quantile"), x[1:])},
            coords={"group": self._coord, "quantile": qs},
        )
        return ds.isel(quantile=0) if scalar else ds

    def summary(self, quantiles: Sequence[float] = (0.025, 0.5, 0.975)) -> pd.DataFrame:
        """Table of exact means, sds and quantiles; rows ``mu``, ``tau``, ``theta[<group>]``."""
        mean, sd, qd = self.mean, self.sd, self.quantile(list(quantiles))
        rows = ["mu", "tau"] + [f"theta[{g}]" for g in self._coord.tolist()]
        table = {"mean": np.r_[mean.mu, mean.tau, mean.theta], "sd": np.r_[sd.mu, sd.tau,
                                                                          sd.theta]}
        for j, qv in enumerate(qd["quantile"].values):
            table[f"q{100 * qv:g}%"] = np.r_[qd.mu[j], qd.tau[j], qd.theta[:, j]]
        return pd.DataFrame(table, index=pd.Index(rows, name="variable"))

    def tau_pdf(self, tau: Any) -> np.ndarray:
        """The normalised density ``p(tau | y)`` at arbitrary ``tau >= 0``, from the formula."""
        t = np.atleast_1d(_batch_param("tau", tau, nonneg=True)).ravel()
        p0 = _mu_precision(self.priors)
        with np.errstate(divide="ignore"):
            lp = (_marginal(t * t, self._y, self._se**2, _mu_mean(self.priors), p0).loglik
                  + self.priors.tau_dist().logpdf(t))
        return np.exp(lp - self._grid.log_norm).reshape(np.shape(tau))

    # ------------------------------------------------------------------ draws
    def sample(self, draws: int = 1000, chains: int = 4, seed: Any = None):
        """Exact independent draws as ``arviz.InferenceData``.

        ``tau`` by inverse CDF of the grid density (continuous, linear interpolation of the
        density within cells), then ``mu | tau, y`` and ``theta | mu, tau, y`` from their
        normal conditionals.  The ``posterior`` group holds ``mu`` and ``tau`` (chain, draw)
        and ``theta`` (chain, draw, group), with the same names and coords as the NUTS fit,
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
        import arviz as az

        for name, val in (("draws", draws), ("chains", chains)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {val!r}.")
        rng = np.random.default_rng(seed)
        mu, tau, theta = self._draw(rng, int(chains) * int(draws))
        shape = (int(chains), int(draws))
        post = {"mu": mu.reshape(shape), "tau": tau.reshape(shape),
                "theta": theta.reshape(shape + (-1,))}
        attrs = {"method": "exact", **self.priors.to_attrs(),
                 "grid_points": int(self.tau_grid.size),
                 "seed": "None" if seed is None else str(seed),
                 "truncated_mass": self.truncated_mass}
        return az.from_dict(posterior=post, coords={"group": self._coord},
                            dims={"theta": ["group"]}, posterior_attrs=attrs)

    to_inference_data = sample

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        u = _inverse_cdf(rng.random(n), self._grid)
        tau = np.minimum(self._grid.scale * u / (1.0 - u), self.tau_grid[-1])
        p0 = _mu_precision(self.priors)
        cond = _marginal(tau * tau, self._y, self._se**2, _mu_mean(self.priors), p0)
        mu = cond.mu_hat + np.sqrt(cond.mu_var) * rng.standard_normal(n)
        mean, var = _conditional(self._y, self._se, mu[:, None], tau[:, None])
        theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
        return mu, tau, theta

    def __repr__(self) -> str:
        s = self.summary()
        return (f"ExactPosterior({self.priors.describe()}; {len(self.groups)} groups, "
                f"{self.tau_grid.size}-point tau grid)\n"
                + s.to_string(float_format=lambda x: f"{x:.4g}", max_rows=14))


def exact_posterior(data: HierData, priors: Priors | None = None, *,
                    grid: int = 2001) -> ExactPosterior:
    """The exact (sampling-free) posterior of the three-level normal model with known se.

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

    Parameters
    ----------
    data : HierData
        Needs known sampling sds (``data.sigma_known``).
    priors : Priors, optional
        Default ``Priors()``, scaled to the data (:mod:`hiermodel.priors`), the same as
        :func:`hiermodel.fit.fit` uses; ``mu="flat"`` is the flat prior (proper posterior
        for ``G >= 2``, as every tau prior is proper).
    grid : int, default 2001
        Number of grid points (made odd for Simpson's rule), >= 101.

    Returns
    -------
    ExactPosterior
        Means, sds, quantiles (``.mean``, ``.sd``, ``.quantile``, ``.summary()``), the tau
        grid and density, and exact draws (``.sample(draws, chains, seed)``).
    """
    data = check_data(data)
    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be a Priors, got {type(priors).__name__}.")
    priors = priors.resolve(data)
    if not data.sigma_known:
        raise ValueError("exact_posterior needs known sampling sds, but `data` has unknown "
                         "sigma (raw rows without sigma=); pass a known sigma or use fit().")
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 101:
        raise ValueError(f"`grid` must be an integer >= 101, got {grid!r}.")
    if priors.mu == "flat" and data.n_groups < 2:
        raise ValueError("A flat prior on mu needs at least 2 groups for a proper posterior.")
    n = int(grid) | 1
    y, se = np.asarray(data.means, float), np.asarray(data.se, float)
    v = se * se
    g = _tau_grid(y, v, priors, n)
    p0 = _mu_precision(priors)
    t2 = g.tau * g.tau
    marg = _marginal(t2, y, v, _mu_mean(priors), p0)
    mean, var = _conditional(y, se, marg.mu_hat[:, None], g.tau[:, None])
    w = _weights(se, g.tau[:, None])
    theta_var = var + (1.0 - w) ** 2 * marg.mu_var[:, None]
    if g.truncated_mass > 1e-10:
        warnings.warn(f"exact_posterior: about {g.truncated_mass:.2g} of the tau posterior "
                      "lies outside the grid.", RuntimeWarning, stacklevel=2)
    du_dtau = (1.0 - g.u) ** 2 / g.scale
    coord = data.to_xarray()["group"].values
    return ExactPosterior(
        groups=data.groups, priors=priors, tau_grid=g.tau, tau_density=_density_tau(g, du_dtau),
        weights=g.weights, mu_cond_mean=marg.mu_hat, mu_cond_var=marg.mu_var,
        theta_cond_mean=mean, theta_cond_var=theta_var, truncated_mass=g.truncated_mass,
        _grid=g, _y=y, _se=se, _coord=coord,
    )


def _density_tau(g: _Grid, du_dtau: np.ndarray) -> np.ndarray:
    """``p(tau | y)`` on the grid, Simpson-normalised: ``p_u(u) du/dtau``."""
    h = (g.u[-1] - g.u[0]) / (g.u.size - 1)
    p_u = g.weights / _simpson_weights(g.u.size, h)
    return p_u * du_dtau
