"""Small-study effects (funnel-plot asymmetry) with known sampling variances, as metafor's
``regtest``, ``ranktest`` and ``trimfill`` compute them.

* :func:`egger_regression` -- the regression test (Egger et al. 1997; metafor ``regtest``):
  the meta-regression of ``y_i`` on ``se_i`` (and any covariates) with the fit's tau^2
  estimator (``model="rma"``, metafor's default), or the weighted least-squares regression
  with weights ``1 / v_i`` and a multiplicative dispersion (``model="lm"``: Egger's original
  test, t on ``k - p`` df).  The test of the ``se`` coefficient is the test of asymmetry;
  without covariates the intercept is the *limit estimate*, the effect as ``se -> 0``.
* :func:`rank_correlation` -- Begg & Mazumdar (1994): Kendall's tau between the standardised
  deviations ``(y_i - b) / sqrt(v_i - v_b)`` (``b``: the equal-effects estimate, ``v_b`` its
  variance) and ``v_i``; the exact p-value when there are no ties (as R's
  ``cor.test(..., method="kendall", exact=TRUE)``), else the normal approximation with the
  tie-corrected variance and no continuity correction.
* :func:`trim_fill` -- Duval & Tweedie (2000): the trim-and-fill count ``k0`` of studies
  missing on one side (estimators L0, R0, Q0), its standard error, and the ``k0`` studies
  reflected about the trimmed estimate.  The side, unless given, is metafor's: the side
  opposite to the sign of the ``se`` coefficient of the regression test.

Numpy and scipy only; one dataset per call.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import (
    check_count,
    check_finite_array,
    check_flag,
    check_method,
    check_positive_array,
    check_prob,
)
from .metareg import METAREG_METHODS, design_matrix, meta_regression

__all__ = ["EGGER_MODELS", "TRIMFILL_ESTIMATORS", "EggerRegression", "egger_regression",
           "RankCorrelation", "rank_correlation", "TrimFill", "trim_fill"]

#: models of :func:`egger_regression`
EGGER_MODELS = ("rma", "lm")
#: estimators of the number of missing studies in :func:`trim_fill`
TRIMFILL_ESTIMATORS = ("l0", "r0", "q0")


def _estimates(y: Any, v: Any, min_k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    y = check_finite_array(y, "y").ravel()
    v = check_positive_array(v, "v").ravel()
    if y.size != v.size:
        raise ValueError(f"`v`: {v.size} sampling variances for {y.size} estimates `y`.")
    if y.size < min_k:
        raise ValueError(f"`y`: the test needs at least {min_k} studies, got {y.size}.")
    return y, v


class EggerRegression(NamedTuple):
    """The regression test for funnel-plot asymmetry.

    ``statistic`` (z, or t on ``df`` degrees of freedom), ``p`` (two-sided) of the ``se``
    coefficient ``slope``; ``limit``, ``limit_ci`` the intercept and its interval (NaN with
    covariates); ``df`` NaN for a z test; ``model``, ``method`` (the tau^2 estimator, ``"lm"``
    for the weighted regression)."""

    statistic: float
    p: float
    df: float
    slope: float
    limit: float
    limit_ci: tuple[float, float]
    model: str
    method: str


def egger_regression(y: Any, v: Any, X: Any = None, method: str = "reml", *,
                     model: str = "rma", knha: bool = False,
                     level: float = 0.95) -> EggerRegression:
    """The regression test of ``y`` (sampling variances ``v``) on ``se = sqrt(v)``, added as
    the last column of ``X`` (``(k, p)``, intercept first; default the intercept alone).

    ``model="rma"`` (metafor's default): the meta-regression :func:`meta_regression` with
    ``method`` and ``knha`` (z, or t on ``k - p - 1`` df).  ``model="lm"``: weighted least
    squares with weights ``1 / v_i`` and the residual variance as a multiplicative dispersion
    (Egger et al. 1997), t on ``k - p - 1`` df.  ``level``: of the limit estimate's interval."""
    from scipy import stats

    y, v = _estimates(y, v)
    model = check_method(model, EGGER_MODELS, "model")
    method = check_method(method, METAREG_METHODS, "method")
    level = check_prob(level, "level")
    knha = check_flag(knha, "knha")
    X = design_matrix(y.size) if X is None else check_finite_array(X, "X")
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"`X`: a ({y.size}, p) design matrix, got shape {X.shape}.")
    Xs = np.column_stack([X, np.sqrt(v)])
    k, p = Xs.shape
    if k <= p:
        raise ValueError(f"`y`: the regression on the standard error needs more than {p} "
                         f"studies, got {k}.")
    if model == "rma":
        fit = meta_regression(y, v, Xs, method, knha=knha)
        beta, se = fit.beta, fit.beta_se
        t_dist = fit.knha
        name = fit.method
    else:
        w = 1.0 / v
        xtw = Xs.T * w
        cov = np.linalg.inv(xtw @ Xs)
        beta = cov @ (xtw @ y)
        r = y - Xs @ beta
        cov = cov * float(np.sum(w * r**2)) / (k - p)
        se = np.sqrt(np.diag(cov))
        t_dist, name = True, "lm"
    df = float(k - p) if t_dist else float("nan")
    stat = float(beta[-1] / se[-1])
    if t_dist:
        pval = float(2 * stats.t.sf(abs(stat), df))
        crit = float(stats.t.ppf(0.5 + level / 2, df))
    else:
        pval = float(2 * stats.norm.sf(abs(stat)))
        crit = float(stats.norm.ppf(0.5 + level / 2))
    if p == 2 and np.allclose(X[:, 0], 1.0):
        limit = float(beta[0])
        ci = (limit - crit * float(se[0]), limit + crit * float(se[0]))
    else:
        limit, ci = float("nan"), (float("nan"), float("nan"))
    return EggerRegression(statistic=stat, p=pval, df=df, slope=float(beta[-1]), limit=limit,
                           limit_ci=ci, model=model, method=name)


class RankCorrelation(NamedTuple):
    """Begg and Mazumdar's rank correlation test: Kendall's ``tau`` (tau-b) and its two-sided
    ``p``; ``exact`` whether ``p`` is the exact permutation p-value."""

    tau: float
    p: float
    exact: bool


def rank_correlation(y: Any, v: Any, *, exact: bool = True) -> RankCorrelation:
    """Kendall's tau between ``(y_i - b) / sqrt(v_i - v_b)`` and ``v_i`` (``b = sum w y /
    sum w``, ``w = 1 / v``, ``v_b = 1 / sum w``), with R's ``cor.test`` p-value: exact when
    ``exact`` and neither variable has ties, else normal with the tie-corrected variance."""
    from scipy import stats

    y, v = _estimates(y, v)
    exact = check_flag(exact, "exact")
    w = 1.0 / v
    b = float(np.sum(w * y) / np.sum(w))
    ys = (y - b) / np.sqrt(v - 1.0 / np.sum(w))
    tau = float(stats.kendalltau(ys, v).statistic)
    n = y.size
    ties = min(np.unique(ys).size, np.unique(v).size) < n
    if exact and not ties:
        p = float(stats.kendalltau(ys, v, method="exact").pvalue)
        return RankCorrelation(tau=tau, p=min(p, 1.0), exact=True)
    t0 = n * (n - 1) / 2
    xt, yt = (np.unique(a, return_counts=True)[1] for a in (ys, v))
    xt, yt = xt[xt > 1].astype(float), yt[yt > 1].astype(float)
    t1, t2 = np.sum(xt * (xt - 1)) / 2, np.sum(yt * (yt - 1)) / 2
    s = tau * np.sqrt((t0 - t1) * (t0 - t2))
    var_s = ((n * (n - 1) * (2 * n + 5) - np.sum(xt * (xt - 1) * (2 * xt + 5))
              - np.sum(yt * (yt - 1) * (2 * yt + 5))) / 18
             + np.sum(xt * (xt - 1)) * np.sum(yt * (yt - 1)) / (2 * n * (n - 1))
             + np.sum(xt * (xt - 1) * (xt - 2)) * np.sum(yt * (yt - 1) * (yt - 2))
             / (9 * n * (n - 1) * (n - 2)))
    p = float(2 * stats.norm.sf(abs(s / np.sqrt(var_s))))
    return RankCorrelation(tau=tau, p=p, exact=False)


class TrimFill(NamedTuple):
    """Trim and fill: ``k0`` studies missing on ``side`` (``"left"`` or ``"right"``), the
    standard error ``se_k0`` of its estimator (NaN where its variance formula goes
    negative, as metafor's), ``p_k0`` (R0 only: the p-value of no missing
    study; else NaN), and the filled studies ``y_fill``, ``v_fill`` (length ``k0``), the
    reflections ``2 b - y_i`` of the ``k0`` most extreme studies about the trimmed estimate
    ``b``, and ``reflected``: the indices in ``y`` of the studies they mirror; ``iterations``
    of the trimming."""

    k0: int
    se_k0: float
    p_k0: float
    side: str
    estimator: str
    y_fill: np.ndarray
    v_fill: np.ndarray
    reflected: np.ndarray
    iterations: int


def _side(y: np.ndarray, v: np.ndarray, method: str) -> str:
    if np.ptp(v) <= 1e-12 * np.max(v):
        raise ValueError("`side`: with equal sampling variances the regression on the "
                         "standard error that picks the side is undefined; pass "
                         "side='left' or side='right'.")
    slope = meta_regression(y, v, np.column_stack([np.ones(y.size), np.sqrt(v)]),
                            method).beta[1]
    return "right" if slope < 0 else "left"


def trim_fill(y: Any, v: Any, method: str = "reml", *, side: str | None = None,
              estimator: str = "L0", maxiter: int = 100) -> TrimFill:
    """Duval and Tweedie's trim and fill (metafor ``trimfill``) for the random-effects
    (``method``; ``"ee"``: equal effects) model of ``y`` with sampling variances ``v``.

    ``side``: where studies are missing; None: metafor's rule, ``"right"`` when the ``se``
    coefficient of the regression test (with ``method``) is negative, else ``"left"``.
    ``estimator``: ``"L0"`` (default), ``"R0"`` or ``"Q0"`` (any case;
    reported upper case).  ``maxiter``: of the trimming."""
    y, v = _estimates(y, v, min_k=2)
    method = check_method(method, METAREG_METHODS, "method")
    estimator = check_method(estimator, TRIMFILL_ESTIMATORS, "estimator").upper()
    maxiter = check_count(maxiter, "maxiter")
    if side is None:
        side = _side(y, v, method) if y.size > 2 else "left"
    side = check_method(side, ("left", "right"), "side")
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y, kind="stable")
    ys, vs = sign * y[order], v[order]
    k = ys.size
    k0, previous, it = 0, -1, 0
    se_k0, beta = float("nan"), float("nan")
    while k0 != previous:
        previous, it = k0, it + 1
        if it > maxiter:
            raise RuntimeError(f"trim and fill did not converge in maxiter={maxiter} "
                               "iterations; raise `maxiter`.")
        beta = float(meta_regression(ys[:k - k0], vs[:k - k0], None, method).beta[0])
        c = ys - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(c), kind="stable")] = np.arange(1, k + 1)
        signed = np.sign(c) * ranks
        if estimator == "R0":
            neg = signed[signed < 0]
            est = (k - (np.max(-neg) if neg.size else 0.0)) - 1
            se = np.sqrt(2 * max(0.0, est) + 2)
        else:
            sr = float(np.sum(signed[signed > 0]))
            if estimator == "L0":
                est = (4 * sr - k * (k + 1)) / (2 * k - 1)
            else:
                est = k - 0.5 - np.sqrt(max(0.0, 2 * k**2 - 4 * sr + 0.25))
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * est**3 + 27 * est**2 + 17 * est
                      - 18 * k * est**2 - 18 * k * est + 6 * k**2 * est) / 24
            with np.errstate(invalid="ignore"):     # a negative variance: NaN, as metafor
                if estimator == "L0":
                    se = 4 * np.sqrt(var_sr) / (2 * k - 1)
                else:
                    se = 2 * np.sqrt(var_sr) / np.sqrt((k - 0.5)**2 - est * (2 * k - est - 1))
        k0 = int(max(0.0, np.round(est)))   # R's round: halves to even, as numpy
        se_k0 = float("nan") if np.isnan(se) else float(max(0.0, se))
    y_fill = sign * (2 * beta - ys[k - k0:])
    # metafor: 1 - sum_{m=-1}^{k0-1} choose(m + 1, m + 1) 0.5^(m + 2) = 0.5^(k0 + 1)
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else float("nan")
    return TrimFill(k0=k0, se_k0=se_k0, p_k0=p_k0, side=side, estimator=estimator,
                    y_fill=y_fill, v_fill=vs[k - k0:].copy(),
                    reflected=order[k - k0:].copy(), iterations=it)

