"""Leave-one-out and case-deletion influence diagnostics of the meta-regression of
:mod:`hiermodel.core.metareg`, as metafor's ``leave1out`` and ``influence`` define them
(Viechtbauer & Cheung 2010, "Outlier and influence diagnostics for meta-analysis",
*Research Synthesis Methods* 1, 112-125; metafor's ``influence.rma.uni``).

Each study ``i`` is deleted in turn and the model refitted with the same tau^2 estimator
(and Knapp-Hartung setting) on the other ``k - 1``; from the deleted fit (``b_(i)``,
``Cov_(i)``, ``tau^2_(i)``, ``QE_(i)``, Knapp-Hartung factor ``s^2_(i)``, 1 without) and the
full fit (``b``, ``Cov``, weights ``w_j = 1 / (v_j + tau^2)``):

* ``hat_i``: the diagonal of ``X (X' W X)^-1 X' W``; ``weight_i = 100 w_i / sum_j w_j``;
* the externally studentized residual
  ``rstudent_i = (y_i - x_i' b_(i)) / sqrt(s^2_(i) (v_i + tau^2_(i)) + x_i' Cov_(i) x_i)``;
* ``dffits_i = x_i' (b - b_(i)) / sqrt(s^2_(i) hat_i (tau^2_(i) + v_i))``;
* Cook's distance ``cook_d_i = (b - b_(i))' Cov^-1 (b - b_(i))``;
* the covariance ratio ``cov_r_i = det Cov_(i) / det Cov``;
* ``dfbetas_ij = (b_j - b_(i)j) / sqrt(s^2_(i) [(X' W_(i) X)^-1]_jj)`` with
  ``W_(i) = diag(1 / (v + tau^2_(i)))`` over all ``k`` studies;

and metafor's flag: study ``i`` is influential when ``|dffits_i| > 3 sqrt(p / (k - p))``, or
``P(chi^2_p <= cook_d_i) > 0.5``, or ``hat_i > 3 p / k``, or any ``|dfbetas_ij| > 1``.

The Bayesian counterpart, :func:`exact_leave_one_out`, is the exact grid posterior of
:mod:`hiermodel.core.exact_known_se` recomputed without each study: the posterior of ``mu``
and ``tau`` given the other ``k - 1`` studies, with no sampling and no importance weights.
:func:`psis_leave_one_out` estimates the same from posterior draws (a NUTS fit) by
Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto
smoothed importance sampling", JMLR 25(72)), with the Pareto k that says when the importance
weights are not to be trusted.

A deletion whose refit fails (a coefficient no longer estimable, an estimator that does not
converge) leaves NaN in that study's row, as metafor leaves NA.  Numpy and scipy only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import check_prob
from .exact_known_se import grid_posterior
from .metareg import MetaRegression, design_matrix, meta_regression

__all__ = ["LEAVE_ONE_OUT_COLUMNS", "EXACT_LEAVE_ONE_OUT_COLUMNS", "Influence",
           "PSIS_LEAVE_ONE_OUT_COLUMNS", "leave_one_out", "influence", "exact_leave_one_out",
           "psis_log_weights", "psis_leave_one_out", "cumulative",
           "exact_cumulative"]

#: the columns of :func:`exact_leave_one_out`
EXACT_LEAVE_ONE_OUT_COLUMNS = ("mu_mean", "mu_sd", "mu_low", "mu_high", "tau_mean", "tau_sd",
                               "tau_low", "tau_high")
#: the columns of :func:`psis_leave_one_out`
PSIS_LEAVE_ONE_OUT_COLUMNS = (*EXACT_LEAVE_ONE_OUT_COLUMNS, "pareto_k")
#: the columns of :func:`leave_one_out` (metafor's ``leave1out``; ``I2`` in percent)
LEAVE_ONE_OUT_COLUMNS = ("estimate", "se", "z", "p", "ci_low", "ci_high", "Q", "Q_p", "tau2",
                         "I2", "H2")


class Influence(NamedTuple):
    """The case-deletion diagnostics of :func:`influence`, one entry per study (the
    module docstring defines each).

    Attributes
    ----------
    rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight : ndarray
        Shape ``(k,)``; ``weight`` in percent.
    dfbetas : ndarray
        Shape ``(k, p)``: one column per coefficient.
    influential : ndarray
        Boolean ``(k,)``: metafor's flag.
    """

    rstudent: np.ndarray
    dffits: np.ndarray
    cook_d: np.ndarray
    cov_r: np.ndarray
    tau2_del: np.ndarray
    qe_del: np.ndarray
    hat: np.ndarray
    weight: np.ndarray
    dfbetas: np.ndarray
    influential: np.ndarray


def _data(y: Any, v: Any, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full fit checks ``y``, ``v`` and ``X``; here only their shapes for deletion."""
    y = np.asarray(y, dtype=float)
    v = np.asarray(v, dtype=float)
    X = design_matrix(y.size) if X is None else np.asarray(X, dtype=float)
    return y, v, X


def _deleted_fits(y, v, X, method: str, knha: bool) -> list[MetaRegression | None]:
    """The fit without study ``i``, for each ``i`` (None where the refit fails)."""
    keep = np.ones(y.size, dtype=bool)
    out: list[MetaRegression | None] = []
    for i in range(y.size):
        keep[i] = False
        try:
            out.append(meta_regression(y[keep], v[keep], X[keep], method, knha=knha))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            out.append(None)
        keep[i] = True
    return out


def _check_deletable(k: int, p: int) -> None:
    if k - 1 <= p:
        raise ValueError(f"Deleting a study leaves {k - 1} studies for {p} coefficient(s); "
                         f"case deletion needs at least {p + 2} studies, got {k}.")


def leave_one_out(y: Any, v: Any, X: Any = None, method: str = "reml", *, knha: bool = False,
                  level: float = 0.95) -> np.ndarray:
    """metafor's ``leave1out``: the random-effects meta-analysis refitted without each study
    in turn (same ``method``, ``knha`` and ``level``).

    Returns a ``(k, 11)`` array whose columns are :data:`LEAVE_ONE_OUT_COLUMNS`: the pooled
    estimate, its se, z (t with Knapp-Hartung), p, the confidence interval, ``QE`` and its
    p-value, ``tau^2``, ``I^2`` (percent) and ``H^2`` of the remaining ``k - 1`` studies.

    ``X`` must be the intercept alone (``None`` or one column of ones): with covariates the
    pooled estimate is not one number, and metafor's ``leave1out`` likewise is "only
    applicable to models without moderators"; use :func:`influence` for meta-regressions.
    """
    full = meta_regression(y, v, X, method, knha=knha)        # checks y, v, X, method
    level = check_prob(level, "level")
    y, v, X = _data(y, v, X)
    if X.shape[1] != 1:
        raise ValueError(f"`X`: leave-one-out is for the intercept-only model (metafor's "
                         f"leave1out: models without moderators), got {X.shape[1]} columns; "
                         "use influence() for the case-deletion diagnostics of a "
                         "meta-regression.")
    _check_deletable(y.size, 1)
    out = np.full((y.size, len(LEAVE_ONE_OUT_COLUMNS)), np.nan)
    for i, fit in enumerate(_deleted_fits(y, v, X, full.method, full.knha)):
        if fit is None:
            continue
        est, se = float(fit.beta[0]), float(fit.beta_se[0])
        lo, hi = fit.beta_interval(level)[0]
        out[i] = (est, se, est / se, fit.beta_p()[0], lo, hi, fit.qe, fit.qe_p, fit.tau2,
                  100 * fit.i2, fit.h2)
    return out


def cumulative(y: Any, v: Any, method: str = "reml", *, knha: bool = False,
               level: float = 0.95) -> np.ndarray:
    """metafor's ``cumul``: the meta-analysis of the first 1, 2, ..., k studies in the order
    given (same ``method``, ``knha`` and ``level``).  Returns a ``(k, 11)`` array with the
    columns :data:`LEAVE_ONE_OUT_COLUMNS`; row ``j`` is the fit of studies ``0..j``.  The
    first row is the study alone, as metafor reports it: its estimate and se, ``Q = 0``
    (p-value 1), ``tau^2 = 0``, ``I^2 = 0``, ``H^2 = 1`` (with Knapp-Hartung its test and
    interval are NaN: no degrees of freedom)."""
    from scipy import stats

    full = meta_regression(y, v, None, method, knha=knha)       # checks y, v, method
    level = check_prob(level, "level")
    y, v, _ = _data(y, v, None)
    out = np.full((y.size, len(LEAVE_ONE_OUT_COLUMNS)), np.nan)
    se0 = float(np.sqrt(v[0]))
    out[0, [0, 1, 6, 7, 8, 9, 10]] = (y[0], se0, 0.0, 1.0, 0.0, 0.0, 1.0)
    if not knha:
        crit = float(stats.norm.ppf(0.5 + level / 2))
        out[0, [2, 3, 4, 5]] = (y[0] / se0, 2 * stats.norm.sf(abs(y[0]) / se0),
                                y[0] - crit * se0, y[0] + crit * se0)
    for j in range(1, y.size):
        try:
            fit = meta_regression(y[:j + 1], v[:j + 1], None, full.method, knha=knha)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        est, se = float(fit.beta[0]), float(fit.beta_se[0])
        lo, hi = fit.beta_interval(level)[0]
        out[j] = (est, se, est / se, fit.beta_p()[0], lo, hi, fit.qe, fit.qe_p, fit.tau2,
                  100 * fit.i2, fit.h2)
    return out


def _knha_factor(fit: MetaRegression, y, v, X) -> float:
    """metafor's ``s2w``: ``sum_j w_j r_j^2 / (k - p)`` with Knapp-Hartung, else 1."""
    if not fit.knha:
        return 1.0
    w = 1.0 / (v + fit.tau2)
    r = y - X @ fit.beta
    return float(np.sum(w * r**2)) / fit.qe_df


def influence(y: Any, v: Any, X: Any = None, method: str = "reml", *,
              knha: bool = False) -> Influence:
    """metafor's ``influence`` (``influence.rma.uni``): the case-deletion diagnostics of the
    meta-regression of ``y`` (sampling variances ``v``) on ``X`` (``(k, p)``, intercept
    included; default the intercept alone), each study deleted in turn and the model refitted
    with the same ``method`` and ``knha``.  The module docstring gives the definitions and
    the rule that flags a study as influential."""
    from scipy import stats

    full = meta_regression(y, v, X, method, knha=knha)        # checks y, v, X, method
    y, v, X = _data(y, v, X)
    k, p = X.shape
    _check_deletable(k, p)
    w = 1.0 / (v + full.tau2)
    xtwx_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    hat = np.einsum("ij,jk,ik->i", X, xtwx_inv, X) * w
    weight = 100 * w / np.sum(w)
    cov_inv = np.linalg.inv(full.beta_cov)
    det_full = float(np.linalg.det(full.beta_cov))
    rows = np.full((k, 6), np.nan)                 # rstudent dffits cook_d cov_r tau2 QE
    dfbetas = np.full((k, p), np.nan)
    keep = np.ones(k, dtype=bool)
    for i, fit in enumerate(_deleted_fits(y, v, X, full.method, full.knha)):
        if fit is None:
            continue
        keep[i] = False
        s2w = _knha_factor(fit, y[keep], v[keep], X[keep])
        keep[i] = True
        xi = X[i]
        pred_del = float(xi @ fit.beta)
        resid = y[i] - pred_del
        resid = 0.0 if abs(resid) < 100 * np.finfo(float).eps else resid
        rstudent = resid / np.sqrt(s2w * (v[i] + fit.tau2) + float(xi @ fit.beta_cov @ xi))
        dfb = full.beta - fit.beta
        dffits = float(xi @ dfb) / np.sqrt(s2w * hat[i] * (fit.tau2 + v[i]))
        rows[i] = (rstudent, dffits, float(dfb @ cov_inv @ dfb),
                   float(np.linalg.det(fit.beta_cov)) / det_full, fit.tau2, fit.qe)
        w_del = 1.0 / (v + fit.tau2)
        vb_del = np.linalg.inv(X.T @ (w_del[:, None] * X))
        dfbetas[i] = dfb / np.sqrt(s2w * np.diag(vb_del))
    rstudent, dffits, cook_d, cov_r, tau2_del, qe_del = rows.T
    with np.errstate(invalid="ignore"):
        influential = ((np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
                       | (stats.chi2.cdf(cook_d, p) > 0.5)
                       | (hat > 3 * p / k)
                       | np.any(np.abs(dfbetas) > 1, axis=1))
    return Influence(rstudent=rstudent, dffits=dffits, cook_d=cook_d, cov_r=cov_r,
                     tau2_del=tau2_del, qe_del=qe_del, hat=hat, weight=weight,
                     dfbetas=dfbetas, influential=influential)


def exact_leave_one_out(means: Any, se: Any, *, tau_logpdf: Any, mu_mean: float = 0.0,
                        mu_precision: float = 0.0, tau_max: float | None = None,
                        points: int = 2001, prob: float = 0.95) -> np.ndarray:
    """The exact posterior of ``mu`` and ``tau`` without each study in turn: for study ``i``
    the grid posterior (:func:`~hiermodel.core.exact_known_se.grid_posterior`, same prior and
    grid size) of the other ``k - 1`` studies.

    Returns a ``(k, 8)`` array whose columns are :data:`EXACT_LEAVE_ONE_OUT_COLUMNS`: the
    posterior mean and sd of ``mu``, its central ``prob`` interval, and the same for ``tau``.
    """
    prob = check_prob(prob, "prob")
    means = np.asarray(means, dtype=float)
    se = np.asarray(se, dtype=float)
    if means.ndim != 1 or se.shape != means.shape:
        raise ValueError(f"`means` and `se` must be 1-D of one length, got shapes "
                         f"{means.shape} and {se.shape}.")
    _check_deletable(means.size, 1)
    subsets = [np.arange(means.size) != i for i in range(means.size)]
    return _exact_rows(means, se, subsets, prob, tau_logpdf=tau_logpdf, mu_mean=mu_mean,
                       mu_precision=mu_precision, tau_max=tau_max, points=points)


def _exact_rows(means, se, subsets, prob: float, **prior: Any) -> np.ndarray:
    """:data:`EXACT_LEAVE_ONE_OUT_COLUMNS` of the grid posterior of each subset of studies."""
    qs = np.array([0.5 - prob / 2, 0.5 + prob / 2])
    out = np.empty((len(subsets), len(EXACT_LEAVE_ONE_OUT_COLUMNS)))
    for i, keep in enumerate(subsets):
        post = grid_posterior(means[keep], se[keep], **prior)
        m = post.moments
        tau_q, x = post.quantiles(qs)
        out[i] = (m["mu_mean"], m["mu_sd"], x[0, 0], x[0, 1], m["tau_mean"], m["tau_sd"],
                  tau_q[0], tau_q[1])
    return out


def exact_cumulative(means: Any, se: Any, *, tau_logpdf: Any, mu_mean: float = 0.0,
                     mu_precision: float = 0.0, tau_max: float | None = None,
                     points: int = 2001, prob: float = 0.95) -> np.ndarray:
    """The exact posterior of ``mu`` and ``tau`` as studies accrue: row ``j`` is the grid
    posterior of the first ``j + 1`` studies in the order given (same prior and grid size;
    the Bayesian counterpart of metafor's ``cumul``).  Columns
    :data:`EXACT_LEAVE_ONE_OUT_COLUMNS`.  With a flat prior on ``mu`` the posterior needs two
    studies, so the first row is NaN there."""
    prob = check_prob(prob, "prob")
    means = np.asarray(means, dtype=float)
    se = np.asarray(se, dtype=float)
    if means.ndim != 1 or se.shape != means.shape or means.size < 2:
        raise ValueError(f"`means` and `se` must be 1-D of one length, at least 2, got shapes "
                         f"{means.shape} and {se.shape}.")
    first = 1 if mu_precision > 0 else 2
    out = np.full((means.size, len(EXACT_LEAVE_ONE_OUT_COLUMNS)), np.nan)
    subsets = [np.arange(means.size) <= j for j in range(first - 1, means.size)]
    out[first - 1:] = _exact_rows(means, se, subsets, prob, tau_logpdf=tau_logpdf,
                                  mu_mean=mu_mean, mu_precision=mu_precision, tau_max=tau_max,
                                  points=points)
    return out


def _gpd_fit(x: np.ndarray) -> tuple[float, float]:
    """``(k, sigma)`` of the generalized Pareto distribution fitted to the sorted positive
    exceedances ``x`` (Zhang & Stephens 2009, with the weak prior of Vehtari et al. 2024 on
    ``k``: ``k`` shrunk toward 0.5 as if by 10 observations)."""
    n = x.size
    m = 30 + int(n**0.5)
    b = 1 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))
    b = b / (3 * x[int(n / 4 + 0.5) - 1]) + 1 / x[-1]
    k = np.log1p(-b[:, None] * x).mean(axis=1)
    length = n * (np.log(-(b / k)) - k - 1)
    w = 1 / np.exp(length - length[:, None]).sum(axis=1)
    ok = w >= 10 * np.finfo(float).eps
    w, b = w[ok] / w[ok].sum(), b[ok]
    b_post = float(np.sum(b * w))
    k_post = float(np.log1p(-b_post * x).mean())
    sigma = -k_post / b_post
    return (n * k_post + 10 * 0.5) / (n + 10), sigma


def psis_log_weights(log_ratios: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pareto-smoothed importance sampling (Vehtari et al. 2024): the normalised log weights
    (same shape as ``log_ratios``, ``(S, k)``: draws by observations) and each column's
    Pareto ``k``.  The largest ``min(S / 5, 3 sqrt(S))`` ratios of a column are replaced by
    the expected order statistics of the generalized Pareto distribution fitted to them and
    truncated at the largest raw ratio; ``k`` is inf where the tail has 4 draws or fewer.
    For leave-one-out of observation ``i`` the log ratios are ``-log p(y_i | draw)``."""
    from scipy.special import logsumexp

    lr = np.asarray(log_ratios, dtype=float)
    if lr.ndim != 2 or not np.all(np.isfinite(lr)):
        raise ValueError(f"`log_ratios` must be a finite (draws, observations) array, got "
                         f"shape {lr.shape}.")
    s = lr.shape[0]
    tail = int(np.ceil(min(0.2 * s, 3 * np.sqrt(s))))
    out, ks = np.empty_like(lr), np.empty(lr.shape[1])
    for j in range(lr.shape[1]):
        x = lr[:, j] - lr[:, j].max()
        order = np.argsort(x)
        cutoff = max(np.exp(x[order[-tail - 1]]), np.finfo(float).tiny)
        idx = np.flatnonzero(x > np.log(cutoff))
        k = np.inf
        if idx.size > 4:
            sub = np.argsort(x[idx])
            k, sigma = _gpd_fit(np.exp(x[idx][sub]) - cutoff)
            if np.isfinite(k) and sigma > 0:
                p = np.arange(0.5, idx.size) / idx.size
                q = -np.log1p(-p) if abs(k) < np.finfo(float).eps else np.expm1(
                    -k * np.log1p(-p)) / k
                x[idx[sub]] = np.log(sigma * q + cutoff)
                x[x > 0] = 0
        out[:, j], ks[j] = x - logsumexp(x), k
    return out, ks


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Quantiles of draws ``x`` with normalised weights ``w``: the weighted empirical CDF at
    the midpoints of its steps, interpolated."""
    order = np.argsort(x)
    xs, ws = x[order], w[order]
    cdf = np.cumsum(ws) - ws / 2
    return np.interp(qs, cdf, xs)


def psis_leave_one_out(mu: Any, tau: Any, loglik: Any, prob: float = 0.95) -> np.ndarray:
    """The posterior of ``mu`` and ``tau`` without each study, from posterior draws by PSIS:
    ``mu``, ``tau`` of shape ``(S,)`` and ``loglik`` ``(S, k)``, the pointwise log-likelihood
    of each study at each draw (``log N(y_i | mu, tau^2 + se_i^2)``, theta_i integrated out,
    keeps the weights light-tailed).  Returns a ``(k, 9)`` array, columns
    :data:`PSIS_LEAVE_ONE_OUT_COLUMNS`: the weighted mean, sd and central ``prob`` interval of
    ``mu`` and of ``tau``, and the Pareto ``k`` (above ``min(1 - 1 / log10(S), 0.7)`` the
    estimate is not to be trusted; compare :func:`exact_leave_one_out`)."""
    prob = check_prob(prob, "prob")
    mu = np.asarray(mu, dtype=float).ravel()
    tau = np.asarray(tau, dtype=float).ravel()
    ll = np.asarray(loglik, dtype=float)
    if tau.shape != mu.shape or ll.ndim != 2 or ll.shape[0] != mu.size:
        raise ValueError(f"`loglik` must be (draws, studies) with one row per draw of `mu` "
                         f"and `tau` ({mu.size}, {tau.size}), got shape {ll.shape}.")
    lw, ks = psis_log_weights(-ll)
    qs = np.array([0.5 - prob / 2, 0.5 + prob / 2])
    out = np.empty((ll.shape[1], len(PSIS_LEAVE_ONE_OUT_COLUMNS)))
    for i in range(ll.shape[1]):
        w = np.exp(lw[:, i])
        row = []
        for x in (mu, tau):
            m = float(w @ x)
            row += [m, float(np.sqrt(w @ (x - m) ** 2)), *_weighted_quantiles(x, w, qs)]
        out[i] = (*row, ks[i])
    return out
