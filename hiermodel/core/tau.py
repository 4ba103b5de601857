"""Estimators of the between-group sd ``tau`` and parametric empirical Bayes, batched.

For ``ybar_i ~ N(mu, tau^2 + se_i^2)`` with known ``se_i``: DerSimonian-Laird, Paule-Mandel,
ML, REML, Hedges, Sidik-Jonkman, Hunter-Schmidt, the equal-effects ``tau = 0`` and the
``np.std`` plug-in of the means (:func:`estimate_tau`, as metafor's ``rma(yi, vi, method=)``
defines them); the empirical-Bayes
estimates built on them (:func:`eb_core`); the restricted log-likelihood of ``tau``
(:func:`restricted_loglik`).  Arrays carry the group axis last and any leading batch axes;
the iterative estimators are vectorised over the batch, never looping over datasets in
Python.  Numpy only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import check_method, check_positive_int, check_prob
from .arrays import MAXITER, batch_param, means_se, newton_bisect, vdot, vdot3
from .pooling import weights_unchecked
from .tau_grid import marginal

__all__ = ["TAU_METHODS", "TAU_METHOD_NAMES", "EB_METHODS", "RTOL", "TauEstimate",
           "estimate_tau", "EBEstimates", "eb_core", "restricted_loglik"]

#: tau estimators of :func:`estimate_tau` (``"ee"``: the equal-effects model, tau = 0)
TAU_METHODS = ("dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means")
#: what each estimator is called in figures and reports
TAU_METHOD_NAMES = {"dl": "DerSimonian-Laird", "pm": "Paule-Mandel", "ml": "ML",
                    "reml": "REML", "he": "Hedges", "sj": "Sidik-Jonkman",
                    "hs": "Hunter-Schmidt", "ee": "equal effects",
                    "sd_of_means": "sd of means"}
#: tau estimators of :func:`eb_core` (the same)
EB_METHODS = TAU_METHODS
#: default relative tolerance on ``tau^2`` of the iterative estimators
RTOL = 1e-12


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


def _sums(work: _Work, t2: np.ndarray, full: bool) -> _Sums:
    """Weighted sums at ``tau^2 = t2`` with ``w = 1/(v + t2)`` and ``r = y - mu(t2)``."""
    w, r = work.w, work.r
    np.add(work.v, t2[..., None], out=w)
    np.divide(1.0, w, out=w)
    s0 = w.sum(axis=-1)
    mu = vdot(w, work.y) / s0
    np.subtract(work.y, mu[..., None], out=r)
    a = vdot3(w, r, r)
    s1 = vdot(w, w)
    np.multiply(r, w, out=r)                              # r now holds w * r
    base = (s0, s1, mu, a, vdot(r, r))
    if not full:
        return _Sums(*base)
    return _Sums(*base, vdot3(w, w, w), vdot3(w, r, r), vdot(w, r))


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


class _TauScore:
    """``fun(t2, idx)`` for :func:`newton_bisect`: minus the estimating function of
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
    t2 = newton_bisect(_TauScore(method, work), np.zeros_like(hi), hi, x0, positive,
                        rtol=rtol, atol=atol, maxiter=maxiter,
                        what=f"estimate_tau(method={method!r})")
    return np.where(positive, t2, 0.0)


def _dl_from_sums(s: _Sums, n_groups: int) -> np.ndarray:
    """DerSimonian-Laird from the ``t = 0`` sums: ``max(0, (Q - (G-1)) / (S1 - S2/S1))``."""
    return np.maximum(0.0, (s.a - (n_groups - 1)) / (s.s0 - s.s1 / s.s0))


def _tau2_closed_form(method: str, work: _Work) -> np.ndarray:
    """The non-iterative estimators of ``tau^2`` (metafor's ``rma.uni`` formulas, intercept
    only), batched; ``he``, ``hs`` truncated at 0, ``sj`` is > 0 unless all means are equal."""
    y, v = work.y, work.v
    n_groups = y.shape[-1]
    zero = np.zeros(y.shape[:-1])
    if method == "ee":
        return zero
    if method == "dl":
        return _dl_from_sums(_sums(work, zero, False), n_groups)
    if method == "hs":                                # (Q(0) - G) / sum(1/v)
        s = _sums(work, zero, False)
        return np.maximum(0.0, (s.a - n_groups) / s.s0)
    spread = y - y.mean(axis=-1, keepdims=True)
    if method == "he":                                # var(y) - mean(v)
        return np.maximum(0.0, vdot(spread, spread) / (n_groups - 1) - v.mean(axis=-1))
    t0 = vdot(spread, spread) / n_groups              # sj: t0 Q(t0) / (G - 1)
    return t0 * _sums(work, t0, False).a / (n_groups - 1)


def estimate_tau(
    means: Any, se: Any, method: str = "reml", *, rtol: float = RTOL,
    maxiter: int = MAXITER,
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
    * ``"he"`` -- Hedges (1983) / Cochran (1954): ``t = max(0, s^2(ybar) - mean(v_i))`` with
      the sample variance ``s^2`` (divisor ``G - 1``);
    * ``"sj"`` -- Sidik & Jonkman (2005): ``t = t0 Q(t0) / (G - 1)`` started at
      ``t0 = mean((ybar_i - mean(ybar))^2)``; positive unless all means are equal;
    * ``"hs"`` -- Hunter & Schmidt (1990): ``t = max(0, (Q(0) - G) / sum(1/v_i))``;
    * ``"ee"`` -- the equal-effects (common-effect) model: ``t = 0``, so ``mu`` is the
      precision-weighted mean (complete pooling);
    * ``"sd_of_means"`` -- the naive ``np.std(means)`` (it ignores ``se``) with the
      unweighted mean of the means.

    All but ``"sj"`` and ``"sd_of_means"`` are truncated at 0: ``tau = 0`` (never NaN) when
    the between-group spread is below the sampling noise (``Q(0) <= G-1`` for PM, a
    non-positive score at ``t = 0`` for ML/REML).  The formulas are metafor's
    (``rma(yi, vi, method=)``, Viechtbauer 2010, J. Stat. Softw. 36(3)).
    PM/ML/REML solve their estimating equation in ``t`` by safeguarded Newton
    (exact derivatives, started at DL, bisection fallback inside a proven bracket
    ``[0, 2G/(G-1) (range(ybar)^2 + max v)]``), vectorised over the batch; relative
    tolerance ``rtol`` on ``tau^2``.  ML/REML return a local maximum; the likelihood in
    ``tau`` is unimodal in all but contrived heteroscedastic cases.

    Parameters
    ----------
    means, se : array_like, shape (..., G)
        Group means and standard errors (> 0), ``G >= 2``.
    method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"
    rtol : float, default 1e-12
        Relative tolerance on ``tau^2``.
    maxiter : int, default 200

    Returns
    -------
    TauEstimate
        ``tau``, ``mu``, ``mu_var`` of the batch shape ``(...)``, and ``method``.
    """
    method = check_method(method, TAU_METHODS)
    y, s = means_se(means, se, min_groups=2)
    rtol = check_prob(rtol, "rtol")
    maxiter = check_positive_int(maxiter, "maxiter")
    return _estimate_tau(y, s, method, rtol, maxiter)


def _estimate_tau(y: np.ndarray, s: np.ndarray, method: str, rtol: float = RTOL,
                  maxiter: int = MAXITER) -> TauEstimate:
    v = s * s
    if method == "sd_of_means":
        tau = np.std(y, axis=-1)
        n_groups = y.shape[-1]
        mu_var = (v.sum(axis=-1) + n_groups * tau**2) / n_groups**2
        return TauEstimate(tau, np.mean(y, axis=-1), mu_var, method)
    work = _Work(y, v)
    if method in ("pm", "ml", "reml"):
        t2 = _tau2_iterative(method, work, rtol, maxiter)
    else:
        t2 = _tau2_closed_form(method, work)
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
        ``sqrt(V_i)``, ``V_i = 1/(1/se_i^2 + 1/tau^2) = w_i se_i^2`` (BDA3 eq. 5.17).
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
    """Parametric empirical Bayes, batched: plug ``(mu_hat, tau_hat)`` into the conditional
    posterior of ``theta_i`` given ``(mu, tau)`` (BDA3 eq. 5.17; Morris 1983).

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
    method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"
        The tau estimator (:func:`estimate_tau`).

    Returns
    -------
    EBEstimates
    """
    method = check_method(method, EB_METHODS)
    y, s = means_se(means, se, min_groups=2)
    est = _estimate_tau(y, s, method)
    mu = est.mu[..., None]
    w = weights_unchecked(s, est.tau[..., None])
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


def restricted_loglik(means: Any, se: Any, tau: Any) -> np.ndarray:
    """The restricted (REML) log-likelihood of ``tau`` up to a constant, at each ``tau``:

        l_R(tau) = -1/2 [sum_i log(se_i^2 + tau^2) + log sum_i 1/(se_i^2 + tau^2)
                         + sum_i (ybar_i - mu_hat(tau))^2 / (se_i^2 + tau^2)]

    (= ``log p(tau | y)`` under flat priors on mu and tau, BDA3 eq. 5.21; maximised by the
    REML ``tau_hat``).  ``tau``: any shape; returns that shape."""
    y, s = means_se(means, se, min_groups=2)
    if y.ndim != 1:
        raise ValueError("`means` and `se` must be 1-D (one dataset) here.")
    t = np.asarray(batch_param("tau", tau, nonneg=True), dtype=float)
    ll = marginal(np.ravel(t) ** 2, y, s * s, 0.0, 0.0).loglik
    return ll.reshape(t.shape)
