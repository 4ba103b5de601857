r"""Full posterior vs empirical Bayes vs the exact posterior, as one table per kind of parameter.

For the three-level normal model ``ybar_i | theta_i ~ N(theta_i, se_i^2)``,
``theta_i | mu, tau ~ N(mu, tau^2)``, :func:`compare` puts every estimate of ``theta_i`` this
package produces side by side, one row per group (pooling, empirical Bayes, full Bayes, the
Rao-Blackwellised mean, shrinkage, exact), and :func:`compare_population` does the same for
``mu``, ``tau`` (and ``sigma``, and the coefficients with covariates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import stack
from ..core import METAREG_METHODS, design_matrix, eb_core, estimate_tau, meta_regression
from ..data import HierData
from ..priors import Priors
from ..shrinkage import conditional_means, covariate_offset, pooling_table
from ..transforms import check_transform
from .draw_summaries import draw_summary, interval_ends, resolve_interval_arguments
from .fit_inputs import (
    SAMPLE,
    check_eb_method,
    exact_for_fit,
    group_labels,
    method_name,
    normalize_group_dim,
    posterior_weights,
    priors_text,
    resolve_data,
)

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["compare", "compare_population", "TRANSFORMED_POINT_COLUMNS"]


def compare(
    idata: Result,
    data: HierData | None = None,
    eb_method: str = "reml",
    *,
    priors: Priors | None = None,
    interval: str | None = None,
    prob: float | None = None,
    transform: str | None = None,
) -> pd.DataFrame:
    r"""Every estimate of ``theta_i`` side by side: pooling, EB, full Bayes, exact.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior with ``mu``, ``tau`` and ``theta`` (dims chain, draw and one group
        dimension -- ``group`` from :func:`hiermodel.fit`, or any other name such as
        ArviZ's ``school``), from :func:`hiermodel.fit` (any parameterization),
        ``ExactPosterior.sample`` or another PyMC/ArviZ fit of the same model.
    data : HierData, optional
        The data the posterior is conditioned on.  Default: rebuilt from the fit's
        ``observed_data``/``constant_data`` (:func:`data_from_idata`); required for
        ``ExactPosterior.sample`` draws.  When ``idata`` stores its data, ``data`` must
        equal it (labels and values), else a ValueError.
    eb_method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"
        The ``tau`` estimator of the empirical-Bayes columns.
    priors : Priors, optional
        Priors for the ``exact`` column.  Default: those recorded in the posterior's attrs
        (:func:`fit_priors`), else the data-scaled ``Priors()`` (with a warning).
    interval : {"eti", "hdi"}, optional
        The credible interval of the full-Bayes columns: central (equal-tailed, ``"eti"``:
        between the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles of the draws) or
        highest-density (``"hdi"``, ``arviz.hdi``).  Default: the package option
        (:func:`hiermodel.get_options`), a central interval unless set.
    prob : float, optional
        Its probability mass; default the package option, 0.95 unless set.  E.g.
        ``compare(idata, interval="hdi", prob=0.9)`` for 90% highest-density intervals.
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS` (``"exp"`` for log ratios,
        ``"expit"`` for logit proportions, ``"tanh"`` for Fisher's z): the table of
        ``f(theta_i)`` on that scale instead (see "On a transformed scale" below).

    Returns
    -------
    pandas.DataFrame
        Indexed by the group labels, the index named after ``idata``'s group dimension
        (``group`` for hiermodel fits; ``.to_xarray()`` gives the labelled form), with columns

        ``n``
            group size ``n_i`` (only when known);
        ``se``
            ``se_i``, the sd of ``ybar_i`` (the plug-in ``sigma_hat / sqrt(n_i)`` if sigma
            is estimated);
        ``no_pooling``
            ``ybar_i``, each group on its own;
        ``complete_pooling``
            the precision-weighted mean ``sum ybar_i/se_i^2 / sum 1/se_i^2``: the
            complete-pooling model's estimate, the ``tau = 0`` limit and metafor's
            equal-effects estimate (with a common sigma the mean of all rows,
            ``(1/N) sum_ij y_ij``);
        ``sd_of_means``
            partial pooling with the sd-of-means plug-in ``tau_hat = sd(ybar)`` toward the
            unweighted mean of the ``ybar_i`` (``attrs["sd_of_means_mu"]``), a naive moment
            estimator that ignores the sampling variance of ``ybar_i``;
        ``eb``, ``eb_weight``, ``eb_sd``
            empirical Bayes ``theta_hat_i = w_i ybar_i + (1 - w_i) mu_hat`` with
            ``w_i = tau_hat^2 / (tau_hat^2 + se_i^2)`` and the Morris-adjusted sd
            ``sqrt(w_i se_i^2 + (1 - w_i)^2 Var(mu_hat))``;
        ``mean``, ``sd``, ``<interval>_low``, ``<interval>_high``, ``mcse_mean``
            full-Bayes posterior mean, sd, credible interval and the MCSE of the mean, from
            the draws; the interval columns are ``hdi_low``/``hdi_high`` or
            ``eti_low``/``eti_high``, named for the kind of interval;
        ``rb_mean``, ``rb_mcse``
            the Rao-Blackwellised mean ``(1/S) sum_s [w_i(tau_s) ybar_i + (1 - w_i(tau_s))
            mu_s]`` (the conditional posterior mean of BDA3 eq. 5.17 averaged over the
            draws) and its MCSE;
        ``shrinkage``
            ``E[1 - w_i | y]``, the posterior share of the way from ``ybar_i`` to the
            population mean (0 = no pooling, 1 = complete pooling);
        ``exact``, ``exact_sd``
            the exact posterior mean and sd of ``theta_i``
            (:func:`~hiermodel.shrinkage.exact_posterior` with ``priors``; with sigma
            unknown on the (tau, sigma) grid, not with covariates then).

        ``attrs`` holds ``eb_method``, ``eb_mu``, ``eb_tau``, ``sd_of_means_mu``,
        ``sd_of_means_tau``, ``mu_mean`` and ``tau_mean`` (posterior means), ``interval``
        and ``prob``, ``group_dim``, ``parameterization``, ``priors`` and ``draws`` (total
        number of draws).

        **On a transformed scale** (``transform`` other than None / ``"identity"``): the point
        estimates ``no_pooling``, ``complete_pooling``, ``sd_of_means``, ``eb`` and ``eb_fitted``
        are transformed (an estimate maps through an increasing transform, as metafor's
        ``predict(res, transf=exp)``); the posterior is summarised from the transformed draws
        ``f(theta_i)``: ``median``, the interval columns (a highest-density interval is recomputed
        on the new scale; a central one is ``f`` of the old ends) and, with covariates,
        ``fitted_median``; the exact posterior gives ``exact_median``.  Means, sds and MCSEs are
        left out (``E[exp(theta)] != exp(E[theta])``: a mean does not carry over); ``n``, ``se``,
        ``eb_weight``, ``shrinkage`` and the covariates stay as they are (``se`` on the analysis
        scale). ``attrs`` adds ``transform`` and ``scale``.

    Raises
    ------
    ValueError
        When ``data`` differs from the data stored in ``idata`` (other labels or values).

    See Also
    --------
    compare_population : the same for ``mu`` and ``tau``.
    compare_fits : several fits as one long table.
    """
    idata, dim = normalize_group_dim(idata)
    data = resolve_data(idata, data)
    eb_method = check_eb_method(eb_method)
    interval, prob = resolve_interval_arguments(interval, prob)
    back = check_transform(transform)
    post = stack.group(idata, "posterior")
    if data.has_covariates:
        table = _compare_regression(idata, data, dim, eb_method, interval, prob, priors,
                                    exact_median=not back.is_identity)
        return _on_scale(table, idata, data, back)

    pool = pooling_table(data, eb_method)
    eb = eb_core(data.means, data.se, eb_method)
    sdm = eb_core(data.means, data.se, "sd_of_means")
    theta = draw_summary(post["theta"].transpose(*SAMPLE, "group"), interval, prob)
    cond = conditional_means(idata, data)
    rb = draw_summary(cond, interval, prob)
    shrink = 1.0 - posterior_weights(idata, data).mean(SAMPLE).values

    table = pd.DataFrame(index=pool.index.rename(dim))
    if data.n is not None:
        table["n"] = data.n
    table["se"] = data.se
    for col in ("no_pooling", "complete_pooling"):
        table[col] = pool[col].to_numpy()
    table["sd_of_means"] = pool["sd_of_means_partial_pooling"].to_numpy()
    table["eb"] = pool["partial_pooling"].to_numpy()
    table["eb_weight"] = pool["weight"].to_numpy()
    table["eb_sd"] = eb.sd_adj
    for key in ("mean", "sd", f"{interval}_low", f"{interval}_high", "mcse_mean"):
        table[key] = theta[key]
    table["rb_mean"] = rb["mean"]
    table["rb_mcse"] = rb["mcse_mean"]
    table["shrinkage"] = shrink
    table = _with_exact_and_attrs(
        table, idata, data, priors, dim, interval, prob, exact_median=not back.is_identity,
        eb_method=eb_method, eb_mu=float(eb.mu), eb_tau=float(eb.tau),
        sd_of_means_mu=float(sdm.mu), sd_of_means_tau=float(sdm.tau))
    return _on_scale(table, idata, data, back)


#: compare()'s point estimates of theta_i that an increasing transform maps as they are
TRANSFORMED_POINT_COLUMNS = ("no_pooling", "complete_pooling", "sd_of_means", "eb_fitted", "eb",
                             "exact_median")
#: its columns that stay as they are on a transformed scale (sizes, weights, shares, the
#: covariates; se on the analysis scale)
_SCALE_FREE_COLUMNS = ("n", "se", "eb_weight", "shrinkage")


def _on_scale(table: pd.DataFrame, idata: Result, data: HierData,
              back: Any) -> pd.DataFrame:
    """:func:`compare`'s table on the scale of the Transform ``back``: point estimates
    transformed, the posterior summarised from the transformed draws (median and interval),
    the exact posterior by its median; means and sds left out."""
    table.attrs.update(transform=back.name, scale=back.scale)
    if back.is_identity:
        return table
    post = stack.group(idata, "posterior")
    interval, prob = table.attrs["interval"], table.attrs["prob"]
    out = pd.DataFrame(index=table.index)
    out.attrs.update(table.attrs)
    for col in table.columns:
        if col in _SCALE_FREE_COLUMNS or col in data.covariate_names:
            out[col] = table[col]
        elif col in TRANSFORMED_POINT_COLUMNS and col != "exact_median":
            out[col] = back(table[col].to_numpy(float))
    if data.has_covariates:
        fitted = (post["mu"] + covariate_offset(post, data)).transpose(*SAMPLE, "group")
        out["fitted_median"] = xr.apply_ufunc(back.function, fitted).median(SAMPLE).values
    theta = xr.apply_ufunc(back.function, post["theta"].transpose(*SAMPLE, "group"))
    out["median"] = theta.median(SAMPLE).values
    out[f"{interval}_low"], out[f"{interval}_high"] = interval_ends(theta, interval, prob)
    if "exact_median" in table:
        out["exact_median"] = back(table["exact_median"].to_numpy(float))
    return out


def _with_exact_and_attrs(table: pd.DataFrame, idata: Result, data: HierData,
                          priors: Priors | None, dim: str, interval: str, prob: float, *,
                          exact_median: bool = False, **eb: Any) -> pd.DataFrame:
    """:func:`compare`'s ``exact`` columns (when they apply; with ``exact_median`` the exact
    posterior median too, for a transformed table) and its attrs (``eb`` first)."""
    post = stack.group(idata, "posterior")
    exact = exact_for_fit(data, idata, priors)
    if exact is not None:
        table["exact"] = exact.mean["theta"].values
        table["exact_sd"] = exact.sd["theta"].values
        if exact_median:
            table["exact_median"] = exact.quantile(0.5)["theta"].values
    table.attrs.update(
        **eb, mu_mean=float(post["mu"].mean()), tau_mean=float(post["tau"].mean()),
        interval=interval, prob=prob,
        group_dim=dim, parameterization=str(method_name(idata)),
        priors=priors_text(idata, exact),
        draws=int(post.sizes["chain"] * post.sizes["draw"]),
    )
    return table


def _eb_regression(data: HierData, eb_method: str):
    """``(X, fit)``: the design ``[1, x - xbar]`` (as the models) and its EB meta-regression."""
    if eb_method not in METAREG_METHODS:
        raise ValueError(f"`eb_method`={eb_method!r} has no meta-regression form; with "
                         f"covariates use one of {METAREG_METHODS}.")
    x = design_matrix(data.n_groups, data.centered_covariates)
    y, v = np.asarray(data.means, float), np.asarray(data.se, float) ** 2
    return x, meta_regression(y, v, x, eb_method)


def _compare_regression(idata: Result, data: HierData, dim: str, eb_method: str,
                        interval: str, prob: float, priors: Priors | None, *,
                        exact_median: bool = False) -> pd.DataFrame:
    """:func:`compare` for data with covariates: the EB columns come from the
    meta-regression (:func:`hiermodel.core.meta_regression` on the centred covariates)."""
    post = stack.group(idata, "posterior")
    x, mr = _eb_regression(data, eb_method)
    v = np.asarray(data.se, float) ** 2
    y = np.asarray(data.means, float)
    fitted = x @ mr.beta
    w = mr.tau2 / (mr.tau2 + v)
    fitted_var = np.einsum("ij,jl,il->i", x, mr.beta_cov, x)
    theta = draw_summary(post["theta"].transpose(*SAMPLE, "group"), interval, prob)
    rb = draw_summary(conditional_means(idata, data), interval, prob)
    table = pd.DataFrame(index=pd.Index(group_labels(post["group"].values), name=dim))
    if data.n is not None:
        table["n"] = data.n
    table["se"] = data.se
    for name in data.covariate_names:
        table[name] = data.covariates[name].to_numpy()
    table["no_pooling"] = y
    table["eb_fitted"] = fitted
    table["fitted_mean"] = (post["mu"] + covariate_offset(post, data)).mean(SAMPLE).values
    table["eb"] = mr.theta
    table["eb_weight"] = w
    table["eb_sd"] = np.sqrt(w * v + (1.0 - w) ** 2 * fitted_var)
    for key in ("mean", "sd", f"{interval}_low", f"{interval}_high", "mcse_mean"):
        table[key] = theta[key]
    table["rb_mean"] = rb["mean"]
    table["rb_mcse"] = rb["mcse_mean"]
    table["shrinkage"] = 1.0 - posterior_weights(idata, data).mean(SAMPLE).values
    return _with_exact_and_attrs(
        table, idata, data, priors, dim, interval, prob, exact_median=exact_median,
        eb_method=eb_method, eb_mu=float(mr.beta[0]), eb_tau=float(np.sqrt(mr.tau2)),
        eb_beta=np.asarray(mr.beta[1:], float), covariates=list(data.covariate_names))




def compare_population(
    idata: Result,
    data: HierData | None = None,
    eb_method: str = "reml",
    *,
    priors: Priors | None = None,
    interval: str | None = None,
    prob: float | None = None,
) -> pd.DataFrame:
    r"""The population parameters: EB point estimates vs the posterior, one row each.

    Parameters
    ----------
    idata, data, eb_method, priors, interval, prob
        As in :func:`compare`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parameter``: ``mu``, ``tau`` and -- when the within-group sd is
        estimated -- ``sigma``; with covariates also ``beta[<name>]`` per covariate and
        ``intercept`` (after ``mu``, the mean effect at the average covariates), their EB
        values from the meta-regression (:func:`hiermodel.core.meta_regression` on the
        centred covariates; ``eb_sd`` from its covariance).  Columns

        ``eb``, ``eb_sd``
            the EB estimate (``mu_hat``, ``tau_hat`` of ``eb_method``; for ``sigma`` the
            pooled within-group sd ``sqrt(sum_i ss_i / (N - G))``) and, for ``mu``,
            ``sqrt(Var(mu_hat)) = (sum_i 1/(se_i^2 + tau_hat^2))^{-1/2}`` (NaN otherwise);
        ``sd_of_means``
            the sd-of-means plug-in ``mu_hat = mean(ybar)``, ``tau_hat = sd(ybar)`` (NaN for
            sigma);
        ``mean``, ``sd``, ``mcse_mean``, ``ess_bulk``, ``r_hat``
            from the posterior draws (ArviZ), with the interval's bounds
            ``<interval>_low``, ``<interval>_high`` (``hdi_low``/``hdi_high`` or
            ``eti_low``/``eti_high``) after ``sd``;
        ``exact``, ``exact_sd``
            exact posterior mean and sd (with sigma unknown on the (tau, sigma) grid, not
            with covariates then).

        ``attrs``: ``eb_method``, ``interval``, ``prob``, ``parameterization``.
    """
    idata, _ = normalize_group_dim(idata)
    data = resolve_data(idata, data)
    eb_method = check_eb_method(eb_method)
    interval, prob = resolve_interval_arguments(interval, prob)
    post = stack.group(idata, "posterior")
    if data.has_covariates:
        return _population_regression(idata, data, eb_method, interval, prob, priors)
    eb = estimate_tau(data.means, data.se, eb_method)
    sdm = estimate_tau(data.means, data.se, "sd_of_means")
    names = ["mu", "tau"] + (["sigma"] if "sigma" in post else [])
    rows = {}
    for name in names:
        row = {"eb": np.nan, "eb_sd": np.nan, "sd_of_means": np.nan}
        if name == "mu":
            row.update(eb=float(eb.mu), eb_sd=float(np.sqrt(eb.mu_var)), sd_of_means=float(sdm.mu))
        elif name == "tau":
            row.update(eb=float(eb.tau), sd_of_means=float(sdm.tau))
        elif data.sigma_hat is not None:
            row["eb"] = data.sigma_hat
        summ = draw_summary(post[name].transpose(*SAMPLE), interval, prob)
        row.update({k: float(v) for k, v in summ.items()})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    _add_exact_population(table, exact_for_fit(data, idata, priors))
    table.attrs.update(eb_method=eb_method, interval=interval, prob=prob,
                       parameterization=method_name(idata))
    return table


def _add_exact_population(table: pd.DataFrame, exact: Any) -> None:
    """The exact posterior's mean and sd of each row (``mu``, ``beta[<name>]``, ...), in
    place; nothing when there is no exact posterior."""
    if exact is None:
        return

    def value(ds: xr.Dataset, row: str) -> float:
        name, _, label = row.partition("[")
        return float(ds[name].sel(covariate=label[:-1]) if label else ds[name])

    mean, sd = exact.mean, exact.sd
    table["exact"] = [value(mean, k) for k in table.index]
    table["exact_sd"] = [value(sd, k) for k in table.index]


def _population_regression(idata: Result, data: HierData, eb_method: str,
                           interval: str, prob: float, priors: Priors | None) -> pd.DataFrame:
    """:func:`compare_population` with covariates."""
    post = stack.group(idata, "posterior")
    _, mr = _eb_regression(data, eb_method)
    a = np.r_[1.0, -np.asarray(data.covariate_means, float)]      # intercept = a' (mu, beta)
    p = data.n_covariates
    names = ["mu", *(f"beta[{c}]" for c in data.covariate_names), "intercept", "tau"]
    eb = np.r_[mr.beta, a @ mr.beta, np.sqrt(mr.tau2)]
    eb_sd = np.r_[np.sqrt(np.diag(mr.beta_cov)), np.sqrt(a @ mr.beta_cov @ a), np.nan]
    draws = [post["mu"], *(post["beta"].isel(covariate=j, drop=True) for j in range(p)),
             post["intercept"], post["tau"]]
    if "sigma" in post:
        names.append("sigma")
        eb = np.r_[eb, np.nan if data.sigma_hat is None else data.sigma_hat]
        eb_sd = np.r_[eb_sd, np.nan]
        draws.append(post["sigma"])
    rows = {}
    for name, e, es, da in zip(names, eb, eb_sd, draws, strict=True):
        row = {"eb": float(e), "eb_sd": float(es)}
        row.update({k: float(val) for k, val in
                    draw_summary(da.transpose(*SAMPLE), interval, prob).items()})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    _add_exact_population(table, exact_for_fit(data, idata, priors))
    table.attrs.update(eb_method=eb_method, interval=interval, prob=prob,
                       parameterization=method_name(idata),
                       covariates=list(data.covariate_names))
    return table
