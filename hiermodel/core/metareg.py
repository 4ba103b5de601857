"""Meta-regression with known sampling variances, the empirical-Bayes way.

    y_i | theta_i ~ N(theta_i, v_i),    theta_i ~ N(x_i' beta, tau^2)

so that ``y_i ~ N(x_i' beta, tau^2 + v_i)`` (``x_i`` holds the intercept; with the intercept
alone this is the random-effects meta-analysis of :mod:`hiermodel.core.tau`).  Given
``tau^2`` the coefficients are weighted least squares with ``w_i = 1 / (v_i + tau^2)``:

    beta_hat = (X' W X)^-1 X' W y,        Cov(beta_hat) = (X' W X)^-1.

``tau^2`` by REML, ML (Fisher scoring), DerSimonian-Laird (the method of moments on the
fixed-effect residual Q), Paule-Mandel (the generalised Q equal to its degrees of
freedom), Hedges (the method of moments on the OLS residuals), Sidik-Jonkman, Hunter-Schmidt,
or ``tau^2 = 0`` (the equal-effects model), and the summaries meta-analysts report, as
metafor's ``rma(yi, vi, mods=..., method=)`` defines them (Viechtbauer 2010; Raudenbush 2009):

* ``QE = sum_i (y_i - x_i' b_FE)^2 / v_i`` (b_FE: weights ``1 / v_i``), chi^2 on ``k - p``;
* the typical sampling variance ``s^2 = (k - p) / tr(P)`` with
  ``P = W - W X (X' W X)^-1 X' W`` at ``W = diag(1 / v_i)``; ``I^2 = tau^2 / (tau^2 + s^2)``,
  ``H^2 = (tau^2 + s^2) / s^2`` (for the equal-effects model, from ``QE``:
  ``I^2 = max(0, (QE - (k - p)) / QE)``, ``H^2 = QE / (k - p)``);
* ``R^2 = (tau^2_0 - tau^2) / tau^2_0`` against the intercept-only ``tau^2_0`` (floored at 0);
* the Q-profile interval of ``tau^2``: the ``tau^2`` at which the generalised
  ``Q(tau^2) = sum_i w_i (y_i - x_i' beta_hat(tau^2))^2`` equals the chi^2 quantiles;
* Knapp-Hartung: ``Cov(beta_hat)`` times ``sum_i w_i r_i^2 / (k - p)``, with t on ``k - p``
  degrees of freedom;
* the prediction interval for a new group at ``x_0``:
  ``x_0' beta_hat -/+ crit sqrt(x_0' Cov x_0 + tau^2)``.

Numpy and scipy only; one dataset per call (``y`` of shape ``(k,)``, ``X`` of ``(k, p)``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import check_method, check_prob
from .arrays import (
    MAXITER,
    collinear_columns,
    floats,
    group_array,
    positive_group_array,
    standardized_design,
)

__all__ = ["METAREG_METHODS", "MetaRegression", "meta_regression", "generalized_q",
           "q_profile_interval", "r_squared", "prediction_interval", "design_matrix"]

#: tau^2 estimators of :func:`meta_regression` (``"ee"``: the equal-effects model, tau^2 = 0)
METAREG_METHODS = ("reml", "ml", "dl", "pm", "he", "sj", "hs", "ee")
_RTOL = 1e-10


class MetaRegression(NamedTuple):
    """The empirical-Bayes fit of ``y_i ~ N(x_i' beta, tau^2 + v_i)``.

    Attributes
    ----------
    beta, beta_cov : ndarray
        ``beta_hat`` at ``tau2`` (shape ``(p,)``) and its covariance ``(p, p)`` (Knapp-Hartung
        scaled when ``knha``).
    tau2 : float
        ``tau^2_hat >= 0``.
    method : str
    qe, qe_df, qe_p : float, int, float
        The residual heterogeneity statistic, its degrees of freedom ``k - p`` and p-value.
    i2, h2 : float
        ``I^2`` (a share, 0-1) and ``H^2``; ``s2`` is the typical sampling variance.
    s2 : float
    knha : bool
        Whether Knapp-Hartung: tests and intervals use t on ``k - p`` degrees of freedom.
    theta : ndarray
        The EB estimates ``theta_i = x_i' beta + B_i (y_i - x_i' beta)`` with
        ``B_i = tau^2 / (tau^2 + v_i)``.
    """

    beta: np.ndarray
    beta_cov: np.ndarray
    tau2: float
    method: str
    qe: float
    qe_df: int
    qe_p: float
    i2: float
    h2: float
    s2: float
    knha: bool
    theta: np.ndarray

    @property
    def beta_se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.beta_cov))

    def critical(self, level: float = 0.95) -> float:
        """The two-sided critical value: normal, or t on ``k - p`` df with Knapp-Hartung."""
        from scipy import stats

        level = check_prob(level, "level")
        q = 0.5 + level / 2
        return float(stats.t.ppf(q, self.qe_df) if self.knha else stats.norm.ppf(q))

    def beta_interval(self, level: float = 0.95) -> np.ndarray:
        """``(p, 2)`` confidence intervals of the coefficients."""
        half = self.critical(level) * self.beta_se
        return np.column_stack([self.beta - half, self.beta + half])

    def beta_p(self) -> np.ndarray:
        """Two-sided p-values of ``beta_j = 0`` (z, or t with Knapp-Hartung)."""
        from scipy import stats

        z = np.abs(self.beta / self.beta_se)
        return 2 * (stats.t.sf(z, self.qe_df) if self.knha else stats.norm.sf(z))

    def moderator_test(self) -> tuple[float, int, float]:
        """metafor's omnibus test that every coefficient but the intercept is 0:
        ``(QM, df, p)`` with ``QM = b' V^-1 b`` on ``df = p - 1`` (chi^2), or with
        Knapp-Hartung ``(F, df, p)`` with ``F = QM / df`` on ``(df, k - p)``.  NaN without
        covariates."""
        from scipy import stats

        b, v = self.beta[1:], self.beta_cov[1:, 1:]
        m = int(b.size)
        if not m:
            return float("nan"), 0, float("nan")
        qm = float(b @ np.linalg.solve(v, b))
        if self.knha:
            return qm / m, m, float(stats.f.sf(qm / m, m, self.qe_df))
        return qm, m, float(stats.chi2.sf(qm, m))


def design_matrix(k: int, covariates: Any = None) -> np.ndarray:
    """``[1, covariates]`` as a ``(k, p)`` float array (the intercept first)."""
    ones = np.ones((k, 1))
    if covariates is None:
        return ones
    x = np.asarray(covariates, dtype=float)
    x = x.reshape(k, -1) if x.ndim == 1 else x
    return np.hstack([ones, x])


def _check(y: Any, v: Any, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, v, Z, A)``: the checked data and the standardised design ``Z = X A``
    (:func:`~hiermodel.core.arrays.standardized_design`) every fit here solves on."""
    y = group_array("y", y)
    v = positive_group_array("v", v)
    if y.ndim != 1 or v.shape != y.shape:
        raise ValueError(f"`y` and `v` must be 1-D of one length (one dataset), got shapes "
                         f"{y.shape} and {v.shape}.")
    X = design_matrix(y.size) if X is None else floats("X", X)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"`X` must have one row per group ({y.size}), got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("`X` contains infinite values.")
    k, p = X.shape
    if p >= k:
        raise ValueError(f"{p} coefficients need more than {p} groups, got {k}.")
    z, a = standardized_design(X)
    cond, cols = collinear_columns(z)
    if cols:
        raise ValueError(f"`X` is rank deficient or nearly so: columns {cols} (the intercept "
                         f"is column 0) are collinear (condition number {cond:.3g} of the "
                         "centred, scaled columns); drop one of them.")
    return y, v, z, a


def _wls(y: np.ndarray, X: np.ndarray, w: np.ndarray):
    """beta, (X'WX)^-1, residuals, P y (= W r) for weights ``w``."""
    xtwx = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (X.T @ (w * y))
    r = y - X @ beta
    return beta, cov, r


def _traces(X: np.ndarray, w: np.ndarray, cov: np.ndarray) -> tuple[float, float]:
    """``tr(P)`` and ``tr(P P)`` for ``P = W - W X C X' W``, ``C = (X' W X)^-1``, from p x p
    products only: ``tr(P) = sum w - tr(C X'W^2X)``, ``tr(PP) = sum w^2 - 2 tr(C X'W^3X) +
    tr((C X'W^2X)^2)``."""
    a2 = X.T @ (w[:, None] ** 2 * X)
    a3 = X.T @ (w[:, None] ** 3 * X)
    ca2 = cov @ a2
    tr_p = float(np.sum(w) - np.trace(ca2))
    tr_pp = float(np.sum(w**2) - 2.0 * np.trace(cov @ a3) + np.trace(ca2 @ ca2))
    return tr_p, tr_pp


def generalized_q(y: Any, v: Any, X: Any, tau2: Any) -> np.ndarray:
    """``Q(tau^2) = sum_i w_i (y_i - x_i' beta_hat(tau^2))^2``, ``w_i = 1 / (v_i + tau^2)``,
    for each ``tau^2`` given (decreasing in ``tau^2``; ``Q(0)`` is ``QE``)."""
    y, v, X, _ = _check(y, v, X)
    t2 = np.atleast_1d(np.asarray(tau2, dtype=float))
    out = np.empty(t2.shape)
    for j, t in enumerate(t2.ravel()):
        w = 1.0 / (v + t)
        _, _, r = _wls(y, X, w)
        out.ravel()[j] = float(np.sum(w * r**2))
    return out.reshape(np.shape(tau2))


def _root_of_q(y, v, X, target: float) -> float:
    """The ``tau^2 >= 0`` where ``Q(tau^2) = target`` (0 when ``Q(0) <= target``).

    Newton's method from 0: ``Q`` is decreasing and convex in ``tau^2`` with
    ``dQ / dtau^2 = -y'PPy = -sum_i (w_i r_i)^2``, so the iterates rise monotonically to the
    root without overshooting it."""
    t2 = 0.0
    for _ in range(MAXITER):
        w = 1.0 / (v + t2)
        _, _, r = _wls(y, X, w)
        wr = w * r
        excess = float(np.sum(wr * r)) - target
        if t2 == 0.0 and excess <= 0:
            return 0.0
        step = excess / float(wr @ wr)
        t2 += step
        if abs(step) <= _RTOL * t2:
            return t2
    raise FloatingPointError(f"Q(tau^2) = {target:g} was not solved in {MAXITER} steps.")


def _tau2_likelihood(y, v, X, method: str) -> float:
    """REML / ML by Fisher scoring, started at DL, each step floored at 0."""
    t2 = _tau2_dl(y, v, X)
    for _ in range(MAXITER):
        w = 1.0 / (v + t2)
        beta, cov, r = _wls(y, X, w)
        pr = w * r                                    # P y
        if method == "reml":
            tr_p, tr_pp = _traces(X, w, cov)
            step = (float(pr @ pr) - tr_p) / tr_pp
        else:
            step = (float(pr @ pr) - float(np.sum(w))) / float(np.sum(w**2))
        new = max(t2 + step, 0.0)
        if abs(new - t2) <= _RTOL * max(t2, 1e-12) or (new == 0.0 and t2 == 0.0):
            return new
        t2 = new
    raise FloatingPointError(f"{method.upper()} did not converge in {MAXITER} iterations.")


def _tau2_dl(y, v, X) -> float:
    w = 1.0 / v
    _, cov, r = _wls(y, X, w)
    qe = float(np.sum(w * r**2))
    tr_p, _ = _traces(X, w, cov)
    return max(0.0, (qe - (y.size - X.shape[1])) / tr_p)


def _tau2_moments(y, v, X, method: str) -> float:
    """metafor's non-iterative estimators with covariates (``rma.uni``):

    * ``he`` (Hedges): ``(y'P_0 y - tr(P_0 V)) / (k - p)``, ``P_0 = I - X (X'X)^-1 X'``;
    * ``hs`` (Hunter-Schmidt): ``(QE - k) / sum(1 / v_i)``;
    * ``sj`` (Sidik-Jonkman): ``t0 Q(t0) / (k - p)``, ``t0 = mean((y_i - mean(y))^2)``;

    ``he`` and ``hs`` truncated at 0."""
    k, p = X.shape
    if method == "sj":
        t0 = float(np.mean((y - y.mean()) ** 2))
        w = 1.0 / (v + t0)
        _, _, r = _wls(y, X, w)
        return t0 * float(np.sum(w * r**2)) / (k - p)
    if method == "hs":
        w = 1.0 / v
        _, _, r = _wls(y, X, w)
        return max(0.0, (float(np.sum(w * r**2)) - k) / float(np.sum(w)))
    _, cov, r = _wls(y, X, np.ones(k))                    # he: ordinary least squares
    tr_pv = float(np.sum(v) - np.trace(cov @ (X.T @ (v[:, None] * X))))
    return max(0.0, (float(r @ r) - tr_pv) / (k - p))


def meta_regression(y: Any, v: Any, X: Any = None, method: str = "reml", *,
                    knha: bool = False) -> MetaRegression:
    """The empirical-Bayes (random-effects) meta-regression of ``y`` with sampling variances
    ``v`` on the design ``X`` (``(k, p)``, intercept included; default the intercept alone:
    :func:`design_matrix` builds one from covariates).

    ``method``: ``"reml"`` (default, as metafor), ``"ml"``, ``"dl"``, ``"pm"``, ``"he"``
    (Hedges), ``"sj"`` (Sidik-Jonkman), ``"hs"`` (Hunter-Schmidt) or ``"ee"`` (the
    equal-effects model: ``tau^2 = 0``, weights ``1 / v_i``).
    ``knha``: Knapp-Hartung covariance and t intervals (random-effects methods only).
    """
    from scipy import stats

    y, v, X, to_x = _check(y, v, X)          # solved on the standardised design
    method = check_method(method, METAREG_METHODS, "method")
    if knha and method == "ee":
        raise ValueError("`knha=True` (Knapp-Hartung) is for random-effects models; with "
                         "method='ee' (equal effects) pass knha=False, or pick a tau^2 "
                         "estimator such as method='reml'.")
    k, p = X.shape
    if method in ("reml", "ml"):
        tau2 = _tau2_likelihood(y, v, X, method)
    elif method == "dl":
        tau2 = _tau2_dl(y, v, X)
    elif method == "pm":
        tau2 = _root_of_q(y, v, X, float(k - p))
    elif method == "ee":
        tau2 = 0.0
    else:
        tau2 = _tau2_moments(y, v, X, method)
    w = 1.0 / (v + tau2)
    beta, cov, r = _wls(y, X, w)
    if knha:
        cov = cov * float(np.sum(w * r**2)) / (k - p)
    w0 = 1.0 / v
    _, cov0, r0 = _wls(y, X, w0)
    qe = float(np.sum(w0 * r0**2))
    tr_p0, _ = _traces(X, w0, cov0)
    s2 = (k - p) / tr_p0
    fitted = X @ beta
    theta = fitted + tau2 / (tau2 + v) * (y - fitted)
    if method == "ee":                                   # metafor: from QE, not tau^2
        i2 = max(0.0, (qe - (k - p)) / qe) if qe > 0 else 0.0
        h2 = qe / (k - p)
    else:
        i2, h2 = tau2 / (tau2 + s2), (tau2 + s2) / s2
    return MetaRegression(
        beta=to_x @ beta, beta_cov=to_x @ cov @ to_x.T, tau2=float(tau2), method=method,
        qe=qe, qe_df=k - p, qe_p=float(stats.chi2.sf(qe, k - p)), i2=float(i2), h2=float(h2),
        s2=float(s2), knha=bool(knha), theta=theta)


def r_squared(tau2_without: float, tau2_with: float) -> float:
    """The share of heterogeneity the covariates explain, ``(tau^2_0 - tau^2) / tau^2_0``,
    floored at 0 (0 when ``tau^2_0 = 0``), as metafor's ``R^2``."""
    if tau2_without <= 0:
        return 0.0
    return max(0.0, (tau2_without - tau2_with) / tau2_without)


def q_profile_interval(y: Any, v: Any, X: Any = None, level: float = 0.95) -> tuple[float,
                                                                                   float]:
    """The Q-profile confidence interval of ``tau^2`` (Viechtbauer 2007): the ``tau^2`` where
    the generalised ``Q(tau^2)`` equals the upper and lower chi^2_{k-p} quantiles (bounds
    floored at 0)."""
    from scipy import stats

    y, v, X, _ = _check(y, v, X)
    level = check_prob(level, "level")
    df = y.size - X.shape[1]
    lo = _root_of_q(y, v, X, float(stats.chi2.ppf(0.5 + level / 2, df)))
    hi = _root_of_q(y, v, X, float(stats.chi2.ppf(0.5 - level / 2, df)))
    return lo, hi


def prediction_interval(fit: MetaRegression, x0: Any, level: float = 0.95) -> np.ndarray:
    """For new groups at covariate rows ``x0`` (``(m, p)``, intercept included, or one row):
    columns ``pred, se, ci_low, ci_high, pi_low, pi_high``."""
    x0 = np.atleast_2d(np.asarray(x0, dtype=float))
    if x0.shape[1] != fit.beta.size:
        raise ValueError(f"`x0` needs {fit.beta.size} columns (the intercept included), got "
                         f"{x0.shape[1]}.")
    pred = x0 @ fit.beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", x0, fit.beta_cov, x0))
    crit = fit.critical(level)
    half_pi = crit * np.sqrt(se**2 + fit.tau2)
    return np.column_stack([pred, se, pred - crit * se, pred + crit * se,
                            pred - half_pi, pred + half_pi])
