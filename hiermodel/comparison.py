r"""Full posterior vs empirical Bayes vs the exact posterior, as one table.

For the three-level normal model ``ybar_i | theta_i ~ N(theta_i, se_i^2)``,
``theta_i | mu, tau ~ N(mu, tau^2)``, every estimate of ``theta_i`` this package produces is
put side by side, one row per group:

* the three pooling strategies (BDA3 section 5.5; Gelman & Hill 2007 ch. 12): no pooling
  ``ybar_i``, complete pooling (the precision-weighted mean, the common-effect estimate) and
  partial pooling
  ``w_i ybar_i + (1 - w_i) mu`` with the shrinkage weight
  ``w_i = tau^2 / (tau^2 + se_i^2)`` -- by empirical Bayes (``tau_hat`` from an estimator of
  :func:`hiermodel.core.estimate_tau`) and by the sd-of-means plug-in ``mu_hat = mean(ybar)``,
  ``tau_hat = sd(ybar)`` (a naive moment estimator that ignores the sampling variance of
  ``ybar_i``);
* the full-Bayes posterior mean, sd and credible interval of ``theta_i`` from the draws
  (ArviZ), with the Monte Carlo standard error of the mean.  The interval is the HDI
  (``interval="hdi"``, columns ``hdi_low``/``hdi_high``) or the equal-tailed central interval
  (``interval="eti"``, columns ``eti_low``/``eti_high``), of mass ``prob`` (default 0.94);
* the Rao-Blackwellised posterior mean -- the mean of the conditional posterior of ``theta_i``
  given ``(mu, tau)`` (BDA3 eq. 5.17) averaged over the posterior draws of ``(mu, tau)``::

      E[theta_i | y] = E[ w_i ybar_i + (1 - w_i) mu | y ]
                     ~ (1/S) sum_s ( w_i(tau_s) ybar_i + (1 - w_i(tau_s)) mu_s )

  with its own MCSE (ArviZ's ``mcse`` on the per-draw conditional means);
* the posterior shrinkage factor ``E[1 - w_i | y]`` (0 = no pooling, 1 = complete pooling);
* the exact posterior mean (sampling-free, :func:`hiermodel.shrinkage.exact_posterior`):
  with known sampling sds, and for raw rows with sigma unknown (no covariates) on a
  (tau, sigma) grid.

The population parameters get their own table, :func:`compare_population` (rows ``mu``,
``tau`` and, when it is estimated, ``sigma``; EB point estimate vs posterior mean and
interval), and several fits of the same data compare as one tidy long table,
:func:`compare_fits`.
:func:`summarize` turns a comparison into a few sentences on who moved, how far and why.

Every function takes ``InferenceData`` from :func:`hiermodel.fit`, from
:meth:`hiermodel.shrinkage.ExactPosterior.sample`, or from another fit of the same model
(e.g. ArviZ's ``centered_eight``): the group dimension of ``theta`` may have any name
(``group``, ``school``, ...) and the tables keep that name.  Fits carry their data
(``observed_data``/``constant_data``) and ``data=None`` rebuilds it
(:func:`data_from_idata`); exact draws do not, so pass ``data=`` with them.  A ``data``
passed with a fit that carries its own must be that data (labels and values): a fit of one
dataset is never silently compared with another.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from . import stack
from ._validate import check_method, check_positive_int, check_prob
from .core import (
    EB_METHODS,
    METAREG_METHODS,
    design_matrix,
    eb_core,
    estimate_tau,
    meta_regression,
    shrinkage_weights,
)
from .data import HierData
from .exceptions import HierModelWarning
from .priors import Priors
from .shrinkage import conditional_means, covariate_offset, exact_posterior, pooling_table
from .stack import check_fitted
from .transforms import check_transform

if TYPE_CHECKING:
    import arviz as az

__all__ = [
    "compare", "compare_population", "compare_fits", "summarize", "data_from_idata",
    "fit_priors", "posterior_weights", "normalize_group_dim", "check_fits",
    "DEFAULT_PROB", "DEFAULT_HDI_PROB", "INTERVALS",
]

#: the credible intervals: highest-density ("hdi", ``arviz.hdi``) or equal-tailed ("eti",
#: the central interval between the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles)
INTERVALS = ("hdi", "eti")
#: ArviZ's default probability of a credible interval
DEFAULT_PROB = 0.94
DEFAULT_HDI_PROB = DEFAULT_PROB
_SAMPLE = ("chain", "draw")


# ----------------------------------------------------------------------------- validation
def _group_dim(idata: az.InferenceData, name: str = "idata") -> str:
    """The group dimension of ``idata``: the one non-(chain, draw) dim of posterior theta."""
    dims = idata.posterior["theta"].dims
    other = [d for d in dims if d not in _SAMPLE]
    if not set(_SAMPLE) <= set(dims) or len(other) != 1:
        raise ValueError(f"`{name}`: posterior theta has dims {dims}; it needs (chain, draw) "
                         "and one group dimension (e.g. 'group' or ArviZ's 'school').")
    return str(other[0])


def normalize_group_dim(idata: Any, name: str = "idata") -> tuple[az.InferenceData, str]:
    """``(idata with its group dimension renamed to 'group', the original dim name)``.

    ``idata`` must be InferenceData whose posterior holds ``mu``, ``tau`` and ``theta``
    (dims chain, draw and one group dim of any name).  The renamed copy shares the arrays.
    """
    idata = check_fitted(idata, ("posterior",), name)
    missing = [v for v in ("mu", "tau", "theta") if v not in idata.posterior]
    if missing:
        raise ValueError(f"`{name}`: the posterior lacks variable(s) {missing}; it needs "
                         "mu, tau and theta (dims chain, draw and one group dimension).")
    dim = _group_dim(idata, name)
    if dim == "group":
        return idata, dim
    parts = {}
    for g in stack.groups(idata):
        ds = stack.group(idata, g)
        if dim in ds.dims:
            if "group" in ds.dims or "group" in ds.variables:
                raise ValueError(f"`{name}`.{g} has both a '{dim}' and a 'group' dimension or "
                                 f"variable; rename one (its group dimension is '{dim}').")
            ds = ds.rename({dim: "group"})
        parts[g] = ds
    return stack.make_result(**parts), dim


def _check_interval(interval: Any, prob: Any, hdi_prob: Any) -> tuple[str, float]:
    """``(interval kind, probability)`` from ``interval``, ``prob`` and the legacy
    ``hdi_prob``."""
    kind = check_method(interval, INTERVALS, "interval")
    if hdi_prob is not None:
        if prob is not None:
            raise ValueError("Pass the interval's probability once: `prob=` (`hdi_prob` is "
                             "its older name, for interval='hdi').")
        if kind != "hdi":
            raise ValueError(f"`hdi_prob` is the mass of an HDI, but interval={kind!r}: pass "
                             "`prob=` instead.")
        return kind, check_prob(hdi_prob, "hdi_prob")
    return kind, DEFAULT_PROB if prob is None else check_prob(prob)


def _check_eb_method(eb_method: Any) -> str:
    return check_method(eb_method, EB_METHODS, "eb_method")


def _labels(values: np.ndarray) -> tuple:
    return tuple(np.asarray(values).tolist())


def _observed_y(obs: xr.Dataset) -> str | None:
    """The observed group means: ``y``, else the one observed variable on ``group``."""
    if "y" in obs and obs["y"].dims == ("group",):
        return "y"
    on_group = [str(k) for k, v in obs.data_vars.items() if v.dims == ("group",)]
    return on_group[0] if len(on_group) == 1 else None


def _stored(idata: az.InferenceData) -> dict[str, np.ndarray]:
    """What the (normalized) ``idata`` records of its data: any of ``means``, ``se``,
    ``ss``, ``n``, ``sigma`` (arrays on ``group``)."""
    out: dict[str, np.ndarray] = {}
    have = set(stack.groups(idata))
    if "observed_data" in have:
        obs = idata.observed_data
        y = _observed_y(obs)
        if y is not None:
            out["means"] = np.asarray(obs[y].values, float)
        if "ss" in obs:
            out["ss"] = np.asarray(obs["ss"].values, float)
    if "constant_data" in have:
        const = idata.constant_data
        for k in ("n", "sigma"):
            if k in const and const[k].dims == ("group",):
                out[k] = np.asarray(const[k].values)
        if "se" in const:
            out["se"] = np.asarray(const["se"].values, float)
        elif "sigma" in out and "n" in out:
            out["se"] = out["sigma"] / np.sqrt(out["n"].astype(float))
        elif "sigma" in out:  # ArviZ's convention: sigma is the known sd of y_i
            out["se"] = np.asarray(out.pop("sigma"), float)
    return out


def data_from_idata(idata: az.InferenceData) -> HierData:
    """Rebuild the :class:`~hiermodel.data.HierData` a fit was made from.

    Uses ``observed_data["y"]`` (``ybar_i``; or the one observed variable on the group
    dimension, as ArviZ's examples name it) and ``constant_data`` ``se``, ``n`` and
    ``sigma`` as :func:`hiermodel.fit` stores them: with ``n`` and ``sigma`` the
    summary form (``se_i = sigma_i / sqrt(n_i)``); with ``se`` only -- or ``sigma`` without
    ``n``, ArviZ's Eight Schools convention for the known sd of ``y_i`` -- Rubin's estimates
    form; with ``observed_data["ss"]`` (sigma unknown) the sufficient statistics of raw rows,
    with the stored plug-in ``se_i``.  The group dimension may have any name (``group``,
    ``school``, ...): the one dimension of posterior ``theta`` besides chain and draw.

    Raises
    ------
    ValueError
        When ``idata`` has no ``observed_data``/``constant_data`` (e.g. draws from
        ``ExactPosterior.sample``): pass ``data=`` explicitly then.
    """
    idata = check_fitted(idata, ())
    have = set(stack.groups(idata))
    if not {"observed_data", "constant_data"} <= have:
        raise ValueError("`idata` carries no observed_data/constant_data (draws from "
                         "ExactPosterior.sample do not): pass the HierData as `data=`.")
    if "posterior" in have and "theta" in idata.posterior:
        idata = normalize_group_dim(idata)[0]
    elif "group" not in idata.observed_data.dims:
        raise ValueError("`idata` has no posterior theta to name its group dimension and "
                         "its observed_data has no 'group' dimension: pass `data=`.")
    stored = _stored(idata)
    if "means" not in stored:
        raise ValueError("`idata`: observed_data has no `y` (nor a single variable on the "
                         "group dimension): pass the HierData as `data=`.")
    if "se" not in stored:
        raise ValueError("`idata`: constant_data has neither `se` nor `sigma` (with or "
                         "without `n`): the sampling sds are unknown; pass the HierData as "
                         "`data=`.")
    groups = _labels(idata.observed_data["group"].values)
    const = idata.constant_data
    y = stored["means"]
    if "ss" in stored:  # sigma unknown: raw-row sufficient statistics
        data = HierData(groups, y, stored["se"], const["n"].values.astype(np.int64),
                        None, stored["ss"], "observations")
    elif "n" in stored and "sigma" in stored:
        data = HierData.from_summary(y, stored["n"], stored["sigma"], groups)
    else:
        data = HierData.from_estimates(y, stored["se"], groups)
    if "x" in const and const["x"].ndim == 2 and "covariate" in const["x"].dims:
        x = const["x"].transpose(..., "covariate")
        table = pd.DataFrame(np.asarray(x.values, float), index=list(data.groups),
                             columns=[str(c) for c in x["covariate"].values.tolist()])
        data = data.with_covariates(table)
    return data


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean mask of the groups where ``a`` and ``b`` differ beyond rounding."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return ~np.isclose(a, b, rtol=1e-9, atol=1e-12)


def _check_same_data(idata: az.InferenceData, data: HierData, name: str,
                     source: str | None = None) -> None:
    """Raise when ``data`` is not the data stored in ``idata`` (values, not just labels).
    ``source``: where ``data`` came from when the user did not pass it."""
    stored = _stored(idata)
    const = idata.constant_data if "constant_data" in stack.groups(idata) else xr.Dataset()
    has_x = "x" in const and "covariate" in const["x"].dims
    if has_x != data.has_covariates or (has_x and (
            [str(c) for c in const["covariate"].values.tolist()] != list(data.covariate_names)
            or _differs(np.asarray(const["x"].transpose(..., "covariate").values, float),
                        np.asarray(data.x)).any())):
        where = source if source is not None else "`data`"
        raise ValueError(f"`{name}` was fitted with other covariates than {where} has "
                         f"({list(data.covariate_names)}): compare fits of the same data "
                         "and model only.")
    checks = [("means", "ybar_i (observed_data y)"), ("se", "se_i (constant_data)"),
              ("ss", "within-group sums of squares (observed_data ss)")]
    for key, what in checks:
        mine = getattr(data, key)
        if key not in stored or mine is None:
            continue
        bad = _differs(mine, stored[key])
        if bad.any():
            idx = np.flatnonzero(bad)[:4]
            shown = ", ".join(f"{data.groups[i]}: {mine[i]:.6g} vs {stored[key][i]:.6g}"
                              for i in idx)
            if source is not None:
                raise ValueError(
                    f"`{name}` was fitted to other data than {source}: {what} differs in "
                    f"{int(bad.sum())} of {bad.size} groups ({shown}; {source} vs "
                    f"`{name}`).  Compare fits of the same data only.")
            raise ValueError(
                f"`data` does not match the data stored in `{name}`: {what} differs in "
                f"{int(bad.sum())} of {bad.size} groups ({shown}; `data` vs stored).  The "
                f"posterior was fitted to other data: omit `data=` to use the data stored in "
                f"`{name}`, or pass the HierData it was fitted to.")


def _resolve_data(idata: az.InferenceData, data: HierData | None,
                  name: str = "idata", source: str | None = None) -> HierData:
    """``data`` (checked against ``idata``'s posterior labels and stored data) or the data
    rebuilt from ``idata``.  ``idata`` is normalized (group dim named ``group``);
    ``source`` names where ``data`` came from when the user did not pass it."""
    data = data_from_idata(idata) if data is None else HierData.check(data, covariates=True)
    post = _labels(idata.posterior["group"].values)
    if post != tuple(data.groups) and source is not None:
        raise ValueError(f"`{name}`'s posterior has groups {list(post)[:8]} but {source} has "
                         f"{list(data.groups)[:8]}: compare fits of the same data only.")
    if post != tuple(data.groups):
        raise ValueError(f"`data` has groups {list(data.groups)[:8]} but `{name}`'s posterior "
                         f"has {list(post)[:8]}: pass the data the posterior was fitted to "
                         "(with the posterior's labels) or omit `data=`.")
    _check_same_data(idata, data, name, source)
    return data


# ----------------------------------------------------------------------------- priors
def _prior_key(p: Priors) -> tuple:
    """What defines the prior distributions (not how they were set)."""
    return (p.mu, p.mu_mean, p.mu_sd, p.tau, p.tau_scale, p.sigma, p.sigma_scale,
            p.beta_mean, p.beta_sd)


def fit_priors(idata: az.InferenceData, priors: Priors | None = None,
               data: HierData | None = None) -> Priors:
    """The :class:`~hiermodel.priors.Priors` a posterior was computed with.

    The fit records them in ``posterior.attrs`` (:meth:`Priors.to_attrs`); with
    ``priors=None`` they are read back with :meth:`Priors.from_attrs`.  When the posterior
    records none (e.g. ArviZ's example data), the data-scaled default ``Priors()`` is
    assumed -- resolved with ``data`` when given -- and a
    :class:`~hiermodel.exceptions.HierModelWarning` says so.  An explicit ``priors`` is returned
    (resolved with ``data`` when given); a warning says when it differs from the recorded
    one (an ``exact`` column would then describe another model).
    """
    if priors is not None:
        priors = Priors.check(priors)
    if data is not None:
        data = HierData.check(data, covariates=True)
    attrs = idata.posterior.attrs
    recorded = Priors.from_attrs(attrs)
    if recorded is not None and data is not None:
        recorded = recorded.resolve(data)
    if priors is None:
        if recorded is not None:
            return recorded
        assumed = Priors.check(None, data=data)
        text = attrs.get("priors")
        if isinstance(text, str) and text.strip() == assumed.describe():
            return assumed  # the recorded description confirms the default
        said = f" (it says only '{text}')" if isinstance(text, str) and text else ""
        warnings.warn(f"The posterior records no priors (Priors.to_attrs()){said}; assuming "
                      f"the default '{assumed.describe()}': pass the fit's `priors=` if it "
                      "used others.", HierModelWarning, stacklevel=3)
        return assumed
    if data is not None:
        priors = priors.resolve(data)
    if recorded is not None and _prior_key(recorded) != _prior_key(priors):
        warnings.warn(f"The posterior was computed with priors '{recorded.describe()}', but "
                      f"the exact posterior uses '{priors.describe()}': pass the fit's "
                      "`priors=`.", HierModelWarning, stacklevel=3)
    return priors


# ----------------------------------------------------------------------------- summaries
def _draw_summary(da: xr.DataArray, interval: str = "hdi",
                  prob: float = DEFAULT_PROB) -> dict[str, np.ndarray]:
    """Mean, sd, credible interval, MCSE of the mean, bulk ESS and R-hat of draws
    ``(chain, draw, ...)``.

    The interval is ArviZ's ``hdi`` (``interval="hdi"``) or the equal-tailed interval
    between the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles of the pooled draws
    (``"eti"``); its keys are ``<interval>_low`` and ``<interval>_high``.  ArviZ's ``mcse``
    (method "mean"), ``ess`` (bulk) and ``rhat``; sd with ``ddof=1``.
    """
    import arviz as az

    ds = da.rename("x").to_dataset()
    low, high = _interval_ends(da, interval, prob)
    with warnings.catch_warnings():  # constant draws (e.g. tau = 0 everywhere) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": da.mean(_SAMPLE).values,
            "sd": da.std(_SAMPLE, ddof=1).values,
            f"{interval}_low": low,
            f"{interval}_high": high,
            "mcse_mean": az.mcse(ds, method="mean")["x"].values,
            "ess_bulk": az.ess(ds, method="bulk")["x"].values,
            "r_hat": az.rhat(ds)["x"].values,
        }


def _interval_ends(da: xr.DataArray, interval: str, prob: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """The ``hdi`` or ``eti`` interval of draws ``(chain, draw, ...)``: (low, high)."""
    if interval == "hdi":
        hdi = stack.hdi(da.rename("x").to_dataset(), prob)["x"]
        return hdi.sel(bound="lower").values, hdi.sel(bound="upper").values
    q = da.quantile([(1 - prob) / 2, (1 + prob) / 2], dim=_SAMPLE)
    return q.isel(quantile=0).values, q.isel(quantile=1).values


def _group_se(posterior: xr.Dataset, data: HierData) -> np.ndarray:
    """``se_i``: fixed when sigma is known, per draw ``sigma / sqrt(n_i)`` when estimated."""
    if data.sigma_known or "sigma" not in posterior:
        return np.asarray(data.se, float)
    sigma = posterior["sigma"].transpose(*_SAMPLE).values
    return sigma[..., None] / np.sqrt(np.asarray(data.n, float))


def posterior_weights(idata: az.InferenceData, data: HierData) -> xr.DataArray:
    """Per-draw shrinkage weights ``w_i = tau^2 / (tau^2 + se_i^2)``, dims (chain, draw,
    <group dim>) -- the group dimension named as in ``idata`` (``group``, ``school``...)."""
    idata, dim = normalize_group_dim(idata)
    post = idata.posterior
    tau = post["tau"].transpose(*_SAMPLE).values
    w = shrinkage_weights(_group_se(post, data), tau)
    return xr.DataArray(w, dims=("chain", "draw", dim),
                        coords={dim: post["group"].values}, name="weight")


def _exact_applies(data: HierData, idata: az.InferenceData) -> bool:
    if data.sigma_known:
        return "sigma" not in idata.posterior
    return "sigma" in idata.posterior and not data.has_covariates


def _exact(data: HierData, idata: az.InferenceData, priors: Priors | None):
    """The exact posterior when it applies (known sampling sds, or raw rows with sigma
    unknown and no covariates: the (tau, sigma) grid), else None."""
    if not _exact_applies(data, idata):
        return None
    return exact_posterior(data, fit_priors(idata, priors, data))


def _priors_text(idata: az.InferenceData, exact: Any) -> str:
    """The priors behind the table: the exact posterior's, else those recorded."""
    if exact is not None and isinstance(getattr(exact, "priors", None), Priors):
        return exact.priors.describe()
    recorded = Priors.from_attrs(idata.posterior.attrs)
    if recorded is not None:
        return recorded.describe()
    return str(idata.posterior.attrs.get("priors", ""))


# ----------------------------------------------------------------------------- compare
def compare(
    idata: az.InferenceData,
    data: HierData | None = None,
    eb_method: str = "reml",
    hdi_prob: float | None = None,
    *,
    priors: Priors | None = None,
    interval: str = "hdi",
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
    hdi_prob : float, optional
        The older name of ``prob`` for ``interval="hdi"`` (kept for existing callers).
    priors : Priors, optional
        Priors for the ``exact`` column.  Default: those recorded in the posterior's attrs
        (:func:`fit_priors`), else the data-scaled ``Priors()`` (with a warning).
    interval : {"hdi", "eti"}, default "hdi"
        The credible interval of the full-Bayes columns: highest-density (``arviz.hdi``) or
        equal-tailed (central: between the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles
        of the draws).
    prob : float, optional
        Its probability mass; default 0.94 (ArviZ's default).  E.g.
        ``compare(idata, interval="eti", prob=0.95)`` for 95% central intervals.
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
        ``sd_of_means_tau``,
        ``mu_mean`` and ``tau_mean`` (posterior means), ``interval`` and ``prob`` (plus
        ``hdi_prob`` for HDIs), ``group_dim``, ``parameterization``, ``priors`` and
        ``draws`` (total number of draws).

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
    data = _resolve_data(idata, data)
    eb_method = _check_eb_method(eb_method)
    interval, prob = _check_interval(interval, prob, hdi_prob)
    back = check_transform(transform)
    post = idata.posterior
    if data.has_covariates:
        table = _compare_regression(idata, data, dim, eb_method, interval, prob, priors,
                                    exact_median=not back.is_identity)
        return _on_scale(table, idata, data, back)

    pool = pooling_table(data, eb_method)
    eb = eb_core(data.means, data.se, eb_method)
    sdm = eb_core(data.means, data.se, "sd_of_means")
    theta = _draw_summary(post["theta"].transpose(*_SAMPLE, "group"), interval, prob)
    cond = conditional_means(idata, data)
    rb = _draw_summary(cond, interval, prob)
    shrink = 1.0 - posterior_weights(idata, data).mean(_SAMPLE).values

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


def _on_scale(table: pd.DataFrame, idata: az.InferenceData, data: HierData,
              back: Any) -> pd.DataFrame:
    """:func:`compare`'s table on the scale of the Transform ``back``: point estimates
    transformed, the posterior summarised from the transformed draws (median and interval),
    the exact posterior by its median; means and sds left out."""
    table.attrs.update(transform=back.name, scale=back.scale)
    if back.is_identity:
        return table
    post = idata.posterior
    interval, prob = table.attrs["interval"], table.attrs["prob"]
    out = pd.DataFrame(index=table.index)
    out.attrs.update(table.attrs)
    for col in table.columns:
        if col in _SCALE_FREE_COLUMNS or col in data.covariate_names:
            out[col] = table[col]
        elif col in TRANSFORMED_POINT_COLUMNS and col != "exact_median":
            out[col] = back(table[col].to_numpy(float))
    if data.has_covariates:
        fitted = (post["mu"] + covariate_offset(post, data)).transpose(*_SAMPLE, "group")
        out["fitted_median"] = xr.apply_ufunc(back.function, fitted).median(_SAMPLE).values
    theta = xr.apply_ufunc(back.function, post["theta"].transpose(*_SAMPLE, "group"))
    out["median"] = theta.median(_SAMPLE).values
    out[f"{interval}_low"], out[f"{interval}_high"] = _interval_ends(theta, interval, prob)
    if "exact_median" in table:
        out["exact_median"] = back(table["exact_median"].to_numpy(float))
    return out


def _with_exact_and_attrs(table: pd.DataFrame, idata: az.InferenceData, data: HierData,
                          priors: Priors | None, dim: str, interval: str, prob: float, *,
                          exact_median: bool = False, **eb: Any) -> pd.DataFrame:
    """:func:`compare`'s ``exact`` columns (when they apply; with ``exact_median`` the exact
    posterior median too, for a transformed table) and its attrs (``eb`` first)."""
    post = idata.posterior
    exact = _exact(data, idata, priors)
    if exact is not None:
        table["exact"] = exact.mean["theta"].values
        table["exact_sd"] = exact.sd["theta"].values
        if exact_median:
            table["exact_median"] = exact.quantile(0.5)["theta"].values
    table.attrs.update(
        **eb, mu_mean=float(post["mu"].mean()), tau_mean=float(post["tau"].mean()),
        interval=interval, prob=prob, **({"hdi_prob": prob} if interval == "hdi" else {}),
        group_dim=dim, parameterization=str(_method_name(idata)),
        priors=_priors_text(idata, exact),
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


def _compare_regression(idata: az.InferenceData, data: HierData, dim: str, eb_method: str,
                        interval: str, prob: float, priors: Priors | None, *,
                        exact_median: bool = False) -> pd.DataFrame:
    """:func:`compare` for data with covariates: the EB columns come from the
    meta-regression (:func:`hiermodel.core.meta_regression` on the centred covariates)."""
    post = idata.posterior
    x, mr = _eb_regression(data, eb_method)
    v = np.asarray(data.se, float) ** 2
    y = np.asarray(data.means, float)
    fitted = x @ mr.beta
    w = mr.tau2 / (mr.tau2 + v)
    fitted_var = np.einsum("ij,jl,il->i", x, mr.beta_cov, x)
    theta = _draw_summary(post["theta"].transpose(*_SAMPLE, "group"), interval, prob)
    rb = _draw_summary(conditional_means(idata, data), interval, prob)
    table = pd.DataFrame(index=pd.Index(_labels(post["group"].values), name=dim))
    if data.n is not None:
        table["n"] = data.n
    table["se"] = data.se
    for name in data.covariate_names:
        table[name] = data.covariates[name].to_numpy()
    table["no_pooling"] = y
    table["eb_fitted"] = fitted
    table["fitted_mean"] = (post["mu"] + covariate_offset(post, data)).mean(_SAMPLE).values
    table["eb"] = mr.theta
    table["eb_weight"] = w
    table["eb_sd"] = np.sqrt(w * v + (1.0 - w) ** 2 * fitted_var)
    for key in ("mean", "sd", f"{interval}_low", f"{interval}_high", "mcse_mean"):
        table[key] = theta[key]
    table["rb_mean"] = rb["mean"]
    table["rb_mcse"] = rb["mcse_mean"]
    table["shrinkage"] = 1.0 - posterior_weights(idata, data).mean(_SAMPLE).values
    return _with_exact_and_attrs(
        table, idata, data, priors, dim, interval, prob, exact_median=exact_median,
        eb_method=eb_method, eb_mu=float(mr.beta[0]), eb_tau=float(np.sqrt(mr.tau2)),
        eb_beta=np.asarray(mr.beta[1:], float), covariates=list(data.covariate_names))


def _method_name(idata: az.InferenceData) -> str:
    attrs = idata.posterior.attrs
    return str(attrs.get("parameterization", attrs.get("method", "?")))


def compare_population(
    idata: az.InferenceData,
    data: HierData | None = None,
    eb_method: str = "reml",
    hdi_prob: float | None = None,
    *,
    priors: Priors | None = None,
    interval: str = "hdi",
    prob: float | None = None,
) -> pd.DataFrame:
    r"""The population parameters: EB point estimates vs the posterior, one row each.

    Parameters
    ----------
    idata, data, eb_method, hdi_prob, priors, interval, prob
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
        ``mean``, ``sd``, ``<interval>_low``, ``<interval>_high``, ``mcse_mean``,
        ``ess_bulk``, ``r_hat``
            from the posterior draws (ArviZ); ``hdi_low``/``hdi_high`` or
            ``eti_low``/``eti_high``;
        ``exact``, ``exact_sd``
            exact posterior mean and sd (with sigma unknown on the (tau, sigma) grid, not
            with covariates then).

        ``attrs``: ``eb_method``, ``interval``, ``prob`` (and ``hdi_prob`` for HDIs),
        ``parameterization``.
    """
    idata, _ = normalize_group_dim(idata)
    data = _resolve_data(idata, data)
    eb_method = _check_eb_method(eb_method)
    interval, prob = _check_interval(interval, prob, hdi_prob)
    post = idata.posterior
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
        summ = _draw_summary(post[name].transpose(*_SAMPLE), interval, prob)
        row.update({k: float(v) for k, v in summ.items()})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    _add_exact_population(table, _exact(data, idata, priors))
    table.attrs.update(eb_method=eb_method, interval=interval, prob=prob,
                       **({"hdi_prob": prob} if interval == "hdi" else {}),
                       parameterization=_method_name(idata))
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


def _population_regression(idata: az.InferenceData, data: HierData, eb_method: str,
                           interval: str, prob: float, priors: Priors | None) -> pd.DataFrame:
    """:func:`compare_population` with covariates."""
    post = idata.posterior
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
                    _draw_summary(da.transpose(*_SAMPLE), interval, prob).items()})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    _add_exact_population(table, _exact(data, idata, priors))
    table.attrs.update(eb_method=eb_method, interval=interval, prob=prob,
                       **({"hdi_prob": prob} if interval == "hdi" else {}),
                       parameterization=_method_name(idata),
                       covariates=list(data.covariate_names))
    return table


# ----------------------------------------------------------------------------- several fits
def check_fits(fits: Any, default_name: str = "?"
               ) -> tuple[dict[str, az.InferenceData], dict[str, str]]:
    """``(name -> normalized InferenceData, name -> original group dim)`` for one fit or a
    dict of them; a single fit is named by its parameterization (or method), else
    ``default_name``."""
    if stack.is_result(fits):
        idata, dim = normalize_group_dim(fits, name="fits")
        attrs = idata.posterior.attrs
        name = str(attrs.get("parameterization", attrs.get("method", default_name)))
        return {name: idata}, {name: dim}
    if not isinstance(fits, Mapping):
        raise TypeError(f"`fits` must be an InferenceData or a dict of name -> InferenceData, "
                        f"got {type(fits).__name__}.")
    if not fits:
        raise ValueError("`fits` is empty; pass at least one name -> InferenceData.")
    out, dims = {}, {}
    for name, idata in fits.items():
        out[str(name)], dims[str(name)] = normalize_group_dim(idata, name=f"fits[{name!r}]")
    return out, dims


def _data_for_fits(fits: Mapping[str, az.InferenceData],
                   data: HierData | None) -> tuple[HierData, str | None]:
    """``(data, None)``, or the data rebuilt from the first fit that carries it and a
    description of that fit."""
    if data is not None:
        return data, None
    for name, idata in fits.items():
        if {"observed_data", "constant_data"} <= set(stack.groups(idata)):
            return data_from_idata(idata), f"the data of `fits[{name!r}]`"
    raise ValueError("None of `fits` carries observed_data/constant_data (ExactPosterior.sample "
                     "draws do not): pass the HierData as `data=`.")


def compare_fits(
    fits: Mapping[str, az.InferenceData] | az.InferenceData,
    data: HierData | None = None,
    *,
    hdi_prob: float | None = None,
    priors: Priors | None = None,
    population: bool = True,
    interval: str = "hdi",
    prob: float | None = None,
) -> pd.DataFrame:
    r"""Posterior summaries from several fits of the same data, as one tidy long table.

    Parameters
    ----------
    fits : dict of str to arviz.InferenceData, or one InferenceData
        E.g. ``{"centered": idata1, "noncentered": idata2, "exact": exact.sample()}``: fits
        of the same data (same groups; the group dimension may have any name).  A single
        InferenceData is named by its ``parameterization`` (or ``method``) attribute.
    data : HierData, optional
        For the Rao-Blackwellised and exact columns; default: rebuilt from the first fit
        that carries its data.  Every fit that stores its data must store this data.
    hdi_prob : float, optional
        The older name of ``prob`` for ``interval="hdi"``.
    priors : Priors, optional
        Priors of the ``exact`` columns; default: those recorded in each fit
        (:func:`fit_priors`).
    population : bool, default True
        Also give rows for ``mu`` and ``tau`` (and ``sigma`` when estimated).
    interval : {"hdi", "eti"}, default "hdi"
        Highest-density or equal-tailed credible intervals (as in :func:`compare`).
    prob : float, optional
        Their probability mass; default 0.94.

    Returns
    -------
    pandas.DataFrame
        One row per ``(method, variable, group)``: ``variable`` is ``"mu"``, ``"tau"``
        (``group`` None) or ``"theta"``; the group column is named after the fits' group
        dimension (``group`` for hiermodel fits, e.g. ``school`` when every fit uses that;
        ``group`` when they differ).  Columns ``mean``, ``sd``, ``<interval>_low``,
        ``<interval>_high`` (``hdi_*`` or ``eti_*``), ``mcse_mean``, ``ess_bulk``,
        ``r_hat`` (ArviZ, from the draws); ``rb_mean``, ``rb_mcse`` for ``theta`` (the
        Rao-Blackwellised mean ``(1/S) sum_s E[theta_i | y, mu_s, tau_s]`` as in
        :func:`compare`; NaN for the population rows); ``exact``, ``exact_sd`` (exact
        posterior; with sigma unknown on the (tau, sigma) grid, not with covariates);
        ``z_exact = (mean - exact) /
        mcse_mean``; and ``divergences`` (the fit's divergent transitions, 0 without
        ``sample_stats``).  ``table.set_index(["method", "variable", "group"])`` gives the
        indexed form.  ``attrs``: ``interval``, ``prob`` (and ``hdi_prob`` for HDIs),
        ``group_dim``.
    """
    fits, dims = check_fits(fits)
    data, source = _data_for_fits(fits, data)
    interval, prob = _check_interval(interval, prob, hdi_prob)
    if not isinstance(population, bool):
        raise TypeError(f"`population` must be True or False, got {population!r}.")
    frames = []
    for name, idata in fits.items():
        _resolve_data(idata, data, name=f"fits[{name!r}]", source=source)
        post = idata.posterior
        exact = _exact(data, idata, priors)
        parts = []
        if population:
            for var in ("mu", "tau", "sigma"):
                if var not in post:
                    continue
                summ = _draw_summary(post[var].transpose(*_SAMPLE), interval, prob)
                row = {k: [float(v)] for k, v in summ.items()}
                row.update(variable=[var], group=[None], rb_mean=[np.nan], rb_mcse=[np.nan])
                if exact is not None and var in exact.mean:
                    row.update(exact=[float(exact.mean[var])], exact_sd=[float(exact.sd[var])])
                parts.append(pd.DataFrame(row))
        summ = _draw_summary(post["theta"].transpose(*_SAMPLE, "group"), interval, prob)
        frame = pd.DataFrame(summ)
        frame.insert(0, "group", list(data.groups))
        frame.insert(0, "variable", "theta")
        cond = conditional_means(idata, data)
        frame["rb_mean"] = cond.mean(_SAMPLE).values
        import arviz as az

        frame["rb_mcse"] = az.mcse(cond.rename("x").to_dataset(), method="mean")["x"].values
        if exact is not None:
            frame["exact"] = exact.mean["theta"].values
            frame["exact_sd"] = exact.sd["theta"].values
        parts.append(frame)
        frame = pd.concat(parts, ignore_index=True)
        frame.insert(0, "method", name)
        frame["divergences"] = _divergences(idata)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    if "exact" in table:
        table.insert(table.columns.get_loc("exact_sd") + 1, "z_exact",
                     (table["mean"] - table["exact"]) / table["mcse_mean"])
    cols = ["method", "variable", "group"]
    table = table[cols + [c for c in table.columns if c not in cols]]
    dim = next(iter(dims.values())) if len(set(dims.values())) == 1 else "group"
    if dim != "group":
        if dim in table.columns:
            dim = "group"
        else:
            table = table.rename(columns={"group": dim})
    table.attrs.update(interval=interval, prob=prob,
                       **({"hdi_prob": prob} if interval == "hdi" else {}), group_dim=dim)
    return table


def _divergences(idata: az.InferenceData) -> int:
    if "sample_stats" in stack.groups(idata) and "diverging" in idata.sample_stats:
        return int(idata.sample_stats["diverging"].sum())
    return 0


# ----------------------------------------------------------------------------- summarize
_NEEDED = ("se", "no_pooling", "mean", "shrinkage")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` formatted with enough digits to tell them apart (when they differ)."""
    for digits in (3, 4, 5, 6, 8):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb or a == b:
            return sa, sb
    return repr(float(a)), repr(float(b))


def summarize(comparison: pd.DataFrame, top: int = 3) -> str:
    r"""A few sentences on who moved, how far, and why.

    Each group's move from no pooling to the full-Bayes posterior mean is about
    ``E[1 - w_i | y] x |ybar_i - mu|``: the shrinkage factor (large when ``se_i`` is large,
    i.e. ``n_i`` small, relative to ``tau``) times the group's distance from the grand mean.
    Every sentence is worked out from the numbers it quotes (directions, "more"/"less",
    rankings), so it stays true for any data.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The result of :func:`compare`.
    top : int, default 3
        How many of the groups that moved most to name.

    Returns
    -------
    str
        Plain text, one point per line.
    """
    if not isinstance(comparison, pd.DataFrame):
        raise TypeError(f"`comparison` must be the DataFrame from compare(), got "
                        f"{type(comparison).__name__}.")
    missing = [c for c in _NEEDED if c not in comparison]
    if missing:
        raise ValueError(f"`comparison` lacks column(s) {missing}; pass the result of compare().")
    top = check_positive_int(top, "top")
    t, a = comparison, comparison.attrs
    mu = float(a.get("mu_mean", np.nan))
    # with covariates each group shrinks toward its own fitted value, not the grand mean
    target = t["fitted_mean"] if "fitted_mean" in t else mu
    move = (t["mean"] - t["no_pooling"]).abs().sort_values(ascending=False)
    dist = (t["no_pooling"] - target).abs()
    size = "n" if "n" in t else "se"
    lines = [_pull_sentence(t, mu),
             "Moved most: " + "; ".join(_move_text(t, g, dist, size)
                                        for g in move.index[:top]) + "."]
    lines.append(_least_sentence(t, move.index[-1], dist))
    lines.append(_size_sentence(t, size))
    lines += _eb_sentences(t)
    return "\n".join(lines)


def _pull_sentence(t: pd.DataFrame, mu: float) -> str:
    """Which groups' posterior means moved from ``ybar_i`` toward the grand mean."""
    step = (t["mean"] - t["no_pooling"]).to_numpy()
    if "fitted_mean" in t:
        gap = (t["fitted_mean"] - t["no_pooling"]).to_numpy()
        names = ", ".join(t.attrs.get("covariates", []))
        head = (f"its fitted value on the regression line (posterior mean of mu + (x_i - "
                f"xbar)' beta, covariates {names}): shrinkage toward the regression, each "
                "group borrowing strength from the others")
    else:
        gap = (mu - t["no_pooling"]).to_numpy()
        head = (f"the grand mean (posterior mean of mu = {_fmt(mu)}): shrinkage toward the "
                "grand mean, each group borrowing strength from the others")
    toward = step * gap > 0
    if toward.all():
        return ("Partial pooling pulls every group's estimate from its own mean ybar_i toward "
                f"{head}.")
    others = [str(g) for g, ok in zip(t.index, toward, strict=True) if not ok]
    far = float(np.abs(gap[~toward]).max())
    return (f"Partial pooling pulls {int(toward.sum())} of {len(t)} groups' estimates from "
            f"their own means ybar_i toward {head}; {', '.join(others)} did not move toward it "
            f"(ybar_i at most {_fmt(far)} from it).")


def _least_sentence(t: pd.DataFrame, g: Any, dist: pd.Series) -> str:
    head = f"Moved least: {g} ({_fmt(t.at[g, 'no_pooling'])} -> {_fmt(t.at[g, 'mean'])}), "
    shrink, med = t.at[g, "shrinkage"], t["shrinkage"].median()
    where = "its fitted value" if "fitted_mean" in t else "the grand mean"
    if dist[g] <= dist.median():
        return head + f"already near {where} ({_fmt(dist[g])} from it)."
    if shrink <= med:
        return head + (f"measured precisely enough to keep much of its own estimate "
                       f"(se = {_fmt(t.at[g, 'se'])}, shrinkage E[1-w] = {shrink:.2f}, at or "
                       f"below the median {med:.2f}).")
    return head + (f"{_fmt(dist[g])} from {where} with shrinkage E[1-w] = "
                   f"{shrink:.2f}.")


def _target_word(t: pd.DataFrame) -> str:
    return "its fitted value" if "fitted_mean" in t else "the mean"


def _move_text(t: pd.DataFrame, g: Any, dist: pd.Series, size: str) -> str:
    why = []
    if dist[g] >= dist.quantile(0.75):
        why.append(f"extreme, {_fmt(dist[g])} from {_target_word(t)}")
    if size == "n" and t.at[g, "n"] <= t["n"].quantile(0.25):
        why.append(f"small n = {int(t.at[g, 'n'])}")
    elif t.at[g, "se"] >= t["se"].quantile(0.75):
        why.append(f"large se = {_fmt(t.at[g, 'se'])}")
    reason = " and ".join(why) if why else f"{_fmt(dist[g])} from {_target_word(t)}"
    return (f"{g} {_fmt(t.at[g, 'no_pooling'])} -> {_fmt(t.at[g, 'mean'])} ({reason}; "
            f"shrinkage E[1-w] = {t.at[g, 'shrinkage']:.2f})")


def _size_sentence(t: pd.DataFrame, size: str) -> str:
    from scipy import stats

    lo, hi = t["shrinkage"].idxmin(), t["shrinkage"].idxmax()
    unit = (lambda g: f"n = {int(t.at[g, 'n'])}") if size == "n" else (
        lambda g: f"se = {_fmt(t.at[g, 'se'])}")
    corr = stats.spearmanr(t["se"], t["shrinkage"])[0] if t["se"].nunique() > 1 else np.nan
    head = ("Noisier groups (larger se_i, smaller n_i) shrink more" if corr > 0.5 else
            "Shrinkage varies with the groups' precision")
    return (f"{head}: E[1 - w_i | y] ranges from {t.at[lo, 'shrinkage']:.2f} ({lo}, "
            f"{unit(lo)}) to {t.at[hi, 'shrinkage']:.2f} ({hi}, {unit(hi)}).")


def _mean_shrinkage(tau: float, se: np.ndarray) -> float:
    """Mean over groups of ``1 - w_i = se_i^2 / (tau^2 + se_i^2)``."""
    return float(np.mean(se**2 / (tau**2 + se**2)))


def _eb_sentences(t: pd.DataFrame) -> list[str]:
    a = t.attrs
    out = []
    method = str(a.get("eb_method", "reml")).upper()
    if "eb_tau" in a:
        lo, hi = t["shrinkage"].min(), t["shrinkage"].max()
        if a["eb_tau"] == 0:
            span = f"E[1 - w_i | y] from {lo:.2f} to {hi:.2f}"
            if lo >= 1:
                full = "and pools completely too"
            elif lo >= 0.5:
                full = f"and so pools strongly but not completely ({span})"
            else:
                full = f"and so pools only partly ({span})"
            pooled = ("its fitted value x_i' beta_hat (column 'eb_fitted')" if "covariates" in a
                      else f"mu_hat = {_fmt(a['eb_mu'])}")
            out.append(f"Empirical Bayes ({method}) estimates tau = 0 and pools completely "
                       f"(every theta_hat_i = {pooled}); the full posterior "
                       f"averages over tau (posterior mean {_fmt(a['tau_mean'])}) {full}.")
        else:
            at = " at the average covariates" if "covariates" in a else ""
            out.append(f"Empirical Bayes ({method}: tau_hat = {_fmt(a['eb_tau'])}, mu_hat = "
                       f"{_fmt(a['eb_mu'])}{at}) plugs in one tau; the full posterior "
                       f"averages over tau (posterior mean {_fmt(a['tau_mean'])}).")
    if "sd_of_means_tau" in a:
        sd_of_means_tau = float(a["sd_of_means_tau"])
        text = ("The sd-of-means plug-in takes tau_hat = sd(ybar) = "
                f"{_fmt(sd_of_means_tau)}, "
                "the spread of the observed means including their sampling noise")
        if "eb_tau" in a:
            eb_tau = float(a["eb_tau"])
            s_plugin, s_eb = _fmt_pair(sd_of_means_tau, eb_tau)
            se = t["se"].to_numpy(float)
            b_plugin, b_eb = _fmt_pair(_mean_shrinkage(sd_of_means_tau, se),
                                     _mean_shrinkage(eb_tau, se))
            if sd_of_means_tau == eb_tau:
                text += (f", equal to the {method} tau_hat, so it shrinks as much as EB "
                         "(column 'sd_of_means' vs 'eb').")
            else:
                above = sd_of_means_tau > eb_tau
                text += (f"; that is {'above' if above else 'below'} the {method} tau_hat "
                         f"({s_plugin} vs {s_eb}), so its weights w_i = tau_hat^2 / (tau_hat^2 + "
                         f"se_i^2) are {'larger' if above else 'smaller'} and it shrinks "
                         f"{'less' if above else 'more'} than EB (mean 1 - w_i {b_plugin} vs "
                         f"{b_eb}; column 'sd_of_means' vs 'eb').")
        else:
            text += " (column 'sd_of_means')."
        out.append(text)
    return out
