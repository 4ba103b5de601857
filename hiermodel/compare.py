r"""Full posterior vs empirical Bayes vs the exact posterior, as one table.

For the three-level normal model ``ybar_i | theta_i ~ N(theta_i, se_i^2)``,
``theta_i | mu, tau ~ N(mu, tau^2)``, every estimate of ``theta_i`` this package produces is
put side by side, one row per group:

* the seed's three pooling strategies (section 2): no pooling ``ybar_i``, complete pooling
  (the grand mean) and partial pooling ``w_i ybar_i + (1 - w_i) mu`` with the shrinkage weight
  ``w_i = tau^2 / (tau^2 + se_i^2)`` -- by empirical Bayes (``tau_hat`` from an estimator of
  :func:`hiermodel.shrinkage.estimate_tau`) and by the seed's own section 4.2 formula;
* the full-Bayes posterior mean, sd and HDI of ``theta_i`` from the draws (ArviZ), with the
  Monte Carlo standard error of the mean;
* the Rao-Blackwellised posterior mean -- the seed's section 5.1 conditional mean averaged
  over the posterior draws of ``(mu, tau)``::

      E[theta_i | y] = E[ w_i ybar_i + (1 - w_i) mu | y ]
                     ~ (1/S) sum_s ( w_i(tau_s) ybar_i + (1 - w_i(tau_s)) mu_s )

  with its own MCSE (ArviZ's ``mcse`` on the per-draw conditional means);
* the posterior shrinkage factor ``E[1 - w_i | y]`` (0 = no pooling, 1 = complete pooling);
* the exact posterior mean (sampling-free, :func:`hiermodel.shrinkage.exact_posterior`) when
  the sampling sds are known.

The population parameters get their own table, :func:`compare_population` (rows ``mu``,
``tau`` and, when it is estimated, ``sigma``; EB point estimate vs posterior mean and HDI),
and several fits of the same data compare as one tidy long table, :func:`compare_fits`.
:func:`summarize` turns a comparison into a few sentences in the seed's terms.

Every function takes ``InferenceData`` from :func:`hiermodel.fit.fit` or from
:meth:`hiermodel.shrinkage.ExactPosterior.sample`.  Fits carry their data
(``observed_data``/``constant_data``) and ``data=None`` rebuilds it
(:func:`data_from_idata`); exact draws do not, so pass ``data=`` with them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .data import HierData
from .priors import Priors
from .shrinkage import (
    EB_METHODS,
    TAU_METHODS,
    conditional_means,
    eb_core,
    estimate_tau,
    exact_posterior,
    pooling_table,
    shrinkage_weights,
)

__all__ = [
    "compare", "compare_population", "compare_fits", "summarize", "data_from_idata",
    "fit_priors", "tau_estimates", "posterior_weights", "DEFAULT_HDI_PROB",
]

#: ArviZ's default HDI probability
DEFAULT_HDI_PROB = 0.94
_SAMPLE = ("chain", "draw")


# ----------------------------------------------------------------------------- validation
def _check_idata(idata: Any, name: str = "idata") -> az.InferenceData:
    """``idata`` as InferenceData with a posterior holding ``mu``, ``tau`` and ``theta``."""
    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"`{name}` must be an arviz.InferenceData (from hiermodel.fit.fit or "
                        f"ExactPosterior.sample), got {type(idata).__name__}.")
    if "posterior" not in idata.groups():
        raise ValueError(f"`{name}` has no posterior group.")
    missing = [v for v in ("mu", "tau", "theta") if v not in idata.posterior]
    if missing:
        raise ValueError(f"`{name}`: the posterior lacks variable(s) {missing}; it needs "
                         "mu, tau and theta (dims chain, draw, group).")
    if "group" not in idata.posterior["theta"].dims:
        raise ValueError(f"`{name}`: posterior theta has dims {idata.posterior['theta'].dims}; "
                         "it needs a 'group' dimension.")
    return idata


def _check_hdi_prob(hdi_prob: Any) -> float:
    if isinstance(hdi_prob, bool) or not isinstance(hdi_prob, (int, float, np.floating)):
        raise TypeError(f"`hdi_prob` must be a number in (0, 1), got {hdi_prob!r}.")
    if not 0 < float(hdi_prob) < 1:
        raise ValueError(f"`hdi_prob` must lie strictly between 0 and 1, got {hdi_prob!r}.")
    return float(hdi_prob)


def _check_eb_method(eb_method: Any) -> str:
    key = eb_method.strip().lower() if isinstance(eb_method, str) else eb_method
    if key not in EB_METHODS:
        raise ValueError(f"Requested eb_method {eb_method!r} but it must be one of "
                         "{" + ", ".join(repr(m) for m in EB_METHODS) + "}.")
    return key


def _labels(values: np.ndarray) -> tuple:
    return tuple(np.asarray(values).tolist())


def data_from_idata(idata: az.InferenceData) -> HierData:
    """Rebuild the :class:`~hiermodel.data.HierData` a fit was made from.

    Uses ``observed_data["y"]`` (``ybar_i``) and ``constant_data`` ``se``, ``n`` and
    ``sigma`` as :func:`hiermodel.fit.fit` stores them: with ``n`` and ``sigma`` the seed's
    summary form (``se_i = sigma_i / sqrt(n_i)``); with ``se`` only Rubin's estimates form;
    with ``observed_data["ss"]`` (sigma unknown) the sufficient statistics of raw rows, with
    the stored plug-in ``se_i``.

    Raises
    ------
    ValueError
        When ``idata`` has no ``observed_data``/``constant_data`` (e.g. draws from
        ``ExactPosterior.sample``): pass ``data=`` explicitly then.
    """
    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"`idata` must be an arviz.InferenceData, got {type(idata).__name__}.")
    have = set(idata.groups())
    if not {"observed_data", "constant_data"} <= have or "y" not in idata.observed_data:
        raise ValueError("`idata` carries no observed_data/constant_data (draws from "
                         "ExactPosterior.sample do not): pass the HierData as `data=`.")
    obs, const = idata.observed_data, idata.constant_data
    groups = _labels(obs["group"].values)
    y = obs["y"].values
    if "ss" in obs:  # sigma unknown: raw-row sufficient statistics
        return HierData(groups, y, const["se"].values, const["n"].values.astype(np.int64),
                        None, obs["ss"].values, "observations")
    if "n" in const and "sigma" in const:
        return HierData.from_summary(y, const["n"].values, const["sigma"].values, groups)
    if "se" not in const:
        raise ValueError("`idata`: constant_data has neither `se` nor (`n`, `sigma`).")
    return HierData.from_estimates(y, const["se"].values, groups)


def _resolve_data(idata: az.InferenceData, data: HierData | None,
                  name: str = "idata") -> HierData:
    if data is None:
        data = data_from_idata(idata)
    elif not isinstance(data, HierData):
        raise TypeError(f"`data` must be a HierData or None, got {type(data).__name__}.")
    post = _labels(idata.posterior["group"].values)
    if post != tuple(data.groups):
        raise ValueError(f"`data` has groups {list(data.groups)[:8]} but `{name}`'s posterior "
                         f"has {list(post)[:8]}: pass the data the posterior was fitted to.")
    return data


# ----------------------------------------------------------------------------- priors
_PRIORS_RE = re.compile(
    r"mu ~ (?:flat|Normal\((?P<m>[^,]+), (?P<s>[^)]+)\)); "
    r"tau ~ (?P<tau>HalfCauchy|HalfNormal|Uniform)\((?:0, )?(?P<ts>[^)]+)\); "
    r"sigma ~ (?P<sig>HalfNormal|HalfCauchy)\((?P<ss>2\.5\*sd\(y\)|[^)]+)\) \(if unknown\)$"
)
_FAMILIES = {"HalfCauchy": "halfcauchy", "HalfNormal": "halfnormal", "Uniform": "uniform"}


def _parse_priors(text: str) -> Priors | None:
    """Invert :meth:`Priors.describe`; None unless the round trip is exact."""
    m = _PRIORS_RE.match(text.strip())
    if m is None:
        return None
    try:
        priors = Priors(
            mu_mean=float(m["m"]) if m["m"] else 0.0,
            mu_sd=float(m["s"]) if m["s"] else None,
            tau=_FAMILIES[m["tau"]], tau_scale=float(m["ts"]),
            sigma=_FAMILIES[m["sig"]],
            sigma_scale=None if m["ss"] == "2.5*sd(y)" else float(m["ss"]),
        )
    except (TypeError, ValueError):
        return None
    return priors if priors.describe() == text.strip() else None


def fit_priors(idata: az.InferenceData, priors: Priors | None = None) -> Priors:
    """The :class:`~hiermodel.models.Priors` a posterior was computed with.

    ``posterior.attrs["priors"]`` holds ``Priors.describe()``.  With ``priors=None`` that
    string is parsed back (when it round-trips exactly), else ``Priors()`` is assumed.  An
    explicit ``priors`` is returned as is; a :class:`~hiermodel.fit.HierModelWarning` says
    when it differs from the recorded one (an ``exact`` column would then describe another
    model).
    """
    from .fit import HierModelWarning

    if priors is not None and not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be a hiermodel.Priors or None, got "
                        f"{type(priors).__name__}.")
    recorded = idata.posterior.attrs.get("priors")
    if priors is None:
        parsed = _parse_priors(recorded) if isinstance(recorded, str) else None
        if parsed is not None:
            return parsed
        priors = Priors()
    if isinstance(recorded, str) and recorded.strip() != priors.describe():
        warnings.warn(f"The posterior was computed with priors '{recorded}', but the exact "
                      f"posterior uses '{priors.describe()}': pass the fit's `priors=`.",
                      HierModelWarning, stacklevel=3)
    return priors


# ----------------------------------------------------------------------------- summaries
def _draw_summary(da: xr.DataArray, hdi_prob: float) -> dict[str, np.ndarray]:
    """Mean, sd, HDI, MCSE of the mean, bulk ESS and R-hat of draws ``(chain, draw, ...)``.

    ArviZ's ``hdi``, ``mcse`` (method "mean"), ``ess`` (bulk) and ``rhat``; sd with ``ddof=1``.
    """
    ds = da.rename("x").to_dataset()
    hdi = az.hdi(ds, hdi_prob=hdi_prob)["x"]
    with warnings.catch_warnings():  # constant draws (e.g. tau = 0 everywhere) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": da.mean(_SAMPLE).values,
            "sd": da.std(_SAMPLE, ddof=1).values,
            "hdi_low": hdi.sel(hdi="lower").values,
            "hdi_high": hdi.sel(hdi="higher").values,
            "mcse_mean": az.mcse(ds, method="mean")["x"].values,
            "ess_bulk": az.ess(ds, method="bulk")["x"].values,
            "r_hat": az.rhat(ds)["x"].values,
        }


def _group_se(posterior: xr.Dataset, data: HierData) -> np.ndarray:
    """``se_i``: fixed when sigma is known, per draw ``sigma / sqrt(n_i)`` when estimated."""
    if data.sigma_known or "sigma" not in posterior:
        return np.asarray(data.se, float)
    sigma = posterior["sigma"].transpose(*_SAMPLE).values
    return sigma[..., None] / np.sqrt(np.asarray(data.n, float))


def posterior_weights(idata: az.InferenceData, data: HierData) -> xr.DataArray:
    """Per-draw shrinkage weights ``w_i = tau^2 / (tau^2 + se_i^2)``, dims (chain, draw, group)."""
    post = idata.posterior
    tau = post["tau"].transpose(*_SAMPLE).values
    w = shrinkage_weights(_group_se(post, data), tau)
    return xr.DataArray(w, dims=("chain", "draw", "group"),
                        coords={"group": post["group"].values}, name="weight")


def _exact(data: HierData, idata: az.InferenceData, priors: Priors | None):
    """The exact posterior when it applies (known sampling sds), else None."""
    if not data.sigma_known or "sigma" in idata.posterior:
        return None
    return exact_posterior(data, fit_priors(idata, priors))


# ----------------------------------------------------------------------------- compare
def compare(
    idata: az.InferenceData,
    data: HierData | None = None,
    eb_method: str = "reml",
    hdi_prob: float = DEFAULT_HDI_PROB,
    *,
    priors: Priors | None = None,
) -> pd.DataFrame:
    r"""Every estimate of ``theta_i`` side by side: pooling, EB, full Bayes, exact.

    Parameters
    ----------
    idata : arviz.InferenceData
        A posterior with ``mu``, ``tau`` and ``theta`` (dims chain, draw, group), from
        :func:`hiermodel.fit.fit` (any parameterization) or ``ExactPosterior.sample``.
    data : HierData, optional
        The data the posterior is conditioned on.  Default: rebuilt from the fit's
        ``observed_data``/``constant_data`` (:func:`data_from_idata`); required for
        ``ExactPosterior.sample`` draws.
    eb_method : {"dl", "pm", "ml", "reml", "seed"}, default "reml"
        The ``tau`` estimator of the empirical-Bayes columns.
    hdi_prob : float, default 0.94
        Probability mass of the highest-density interval (``arviz.hdi``).
    priors : Priors, optional
        Priors for the ``exact`` column.  Default: those recorded in the posterior's attrs
        (:func:`fit_priors`), else ``Priors()``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group`` (``.to_xarray()`` gives the labelled form), with columns

        ``n``
            group size ``n_i`` (only when known);
        ``se``
            ``se_i``, the sd of ``ybar_i`` (the plug-in ``sigma_hat / sqrt(n_i)`` if sigma
            is estimated);
        ``no_pooling``
            ``ybar_i`` (seed 2.1);
        ``complete_pooling``, ``complete_pooling_weighted``
            the unweighted grand mean (the seed's ``np.mean``) and the precision-weighted
            ``sum ybar_i/se_i^2 / sum 1/se_i^2`` (the ``tau = 0`` limit; with a common sigma
            the seed's 2.2 ``(1/N) sum_ij y_ij``);
        ``seed``
            the seed's 4.2 formula, ``tau_hat = sd(ybar)`` and the unweighted mean;
        ``eb``, ``eb_weight``, ``eb_sd``
            empirical Bayes ``theta_hat_i = w_i ybar_i + (1 - w_i) mu_hat`` with
            ``w_i = tau_hat^2 / (tau_hat^2 + se_i^2)`` and the Morris-adjusted sd
            ``sqrt(w_i se_i^2 + (1 - w_i)^2 Var(mu_hat))``;
        ``mean``, ``sd``, ``hdi_low``, ``hdi_high``, ``mcse_mean``
            full-Bayes posterior mean, sd, HDI and the MCSE of the mean, from the draws;
        ``rb_mean``, ``rb_mcse``
            the Rao-Blackwellised mean ``(1/S) sum_s [w_i(tau_s) ybar_i + (1 - w_i(tau_s))
            mu_s]`` (seed 5.1 averaged over the draws) and its MCSE;
        ``shrinkage``
            ``E[1 - w_i | y]``, the posterior share of the way from ``ybar_i`` to the
            population mean (0 = no pooling, 1 = complete pooling);
        ``exact``, ``exact_sd``
            the exact posterior mean and sd of ``theta_i`` (only when the sampling sds are
            known; :func:`~hiermodel.shrinkage.exact_posterior` with ``priors``).

        ``attrs`` holds ``eb_method``, ``eb_mu``, ``eb_tau``, ``seed_mu``, ``seed_tau``,
        ``mu_mean`` and ``tau_mean`` (posterior means), ``hdi_prob``, ``parameterization``,
        ``priors`` and ``draws`` (total number of draws).

    See Also
    --------
    compare_population : the same for ``mu`` and ``tau``.
    compare_fits : several fits as one long table.
    """
    idata = _check_idata(idata)
    data = _resolve_data(idata, data)
    eb_method = _check_eb_method(eb_method)
    hdi_prob = _check_hdi_prob(hdi_prob)
    post = idata.posterior

    pool = pooling_table(data, eb_method)
    eb = eb_core(data.means, data.se, eb_method)
    seed = eb_core(data.means, data.se, "seed")
    theta = _draw_summary(post["theta"].transpose(*_SAMPLE, "group"), hdi_prob)
    cond = conditional_means(idata, data)
    rb = _draw_summary(cond, hdi_prob)
    shrink = 1.0 - posterior_weights(idata, data).mean(_SAMPLE).values

    table = pd.DataFrame(index=pool.index)
    if data.n is not None:
        table["n"] = data.n
    table["se"] = data.se
    table["no_pooling"] = pool["no_pooling"]
    table["complete_pooling"] = pool["complete_pooling"]
    table["complete_pooling_weighted"] = pool["complete_pooling_weighted"]
    table["seed"] = pool["seed_partial_pooling"]
    table["eb"] = pool["partial_pooling"]
    table["eb_weight"] = pool["weight"]
    table["eb_sd"] = eb.sd_adj
    for key in ("mean", "sd", "hdi_low", "hdi_high", "mcse_mean"):
        table[key] = theta[key]
    table["rb_mean"] = rb["mean"]
    table["rb_mcse"] = rb["mcse_mean"]
    table["shrinkage"] = shrink
    exact = _exact(data, idata, priors)
    if exact is not None:
        table["exact"] = exact.mean["theta"].values
        table["exact_sd"] = exact.sd["theta"].values
    table.attrs.update(
        eb_method=eb_method, eb_mu=float(eb.mu), eb_tau=float(eb.tau),
        seed_mu=float(seed.mu), seed_tau=float(seed.tau),
        mu_mean=float(post["mu"].mean()), tau_mean=float(post["tau"].mean()),
        hdi_prob=hdi_prob, parameterization=str(_method_name(idata)),
        priors=str(post.attrs.get("priors", "")),
        draws=int(post.sizes["chain"] * post.sizes["draw"]),
    )
    return table


def _method_name(idata: az.InferenceData) -> str:
    attrs = idata.posterior.attrs
    return str(attrs.get("parameterization", attrs.get("method", "?")))


def compare_population(
    idata: az.InferenceData,
    data: HierData | None = None,
    eb_method: str = "reml",
    hdi_prob: float = DEFAULT_HDI_PROB,
    *,
    priors: Priors | None = None,
) -> pd.DataFrame:
    r"""The population parameters: EB point estimates vs the posterior, one row each.

    Parameters
    ----------
    idata, data, eb_method, hdi_prob, priors
        As in :func:`compare`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parameter``: ``mu``, ``tau`` and -- when the within-group sd is
        estimated -- ``sigma``.  Columns

        ``eb``, ``eb_sd``
            the EB estimate (``mu_hat``, ``tau_hat`` of ``eb_method``; for ``sigma`` the
            pooled within-group sd ``sqrt(sum_i ss_i / (N - G))``) and, for ``mu``,
            ``sqrt(Var(mu_hat)) = (sum_i 1/(se_i^2 + tau_hat^2))^{-1/2}`` (NaN otherwise);
        ``seed``
            the seed's 4.2 plug-ins ``mean(ybar)`` and ``sd(ybar)`` (NaN for sigma);
        ``mean``, ``sd``, ``hdi_low``, ``hdi_high``, ``mcse_mean``, ``ess_bulk``, ``r_hat``
            from the posterior draws (ArviZ);
        ``exact``, ``exact_sd``
            exact posterior mean and sd (known sampling sds only).
    """
    idata = _check_idata(idata)
    data = _resolve_data(idata, data)
    eb_method = _check_eb_method(eb_method)
    hdi_prob = _check_hdi_prob(hdi_prob)
    post = idata.posterior
    eb = estimate_tau(data.means, data.se, eb_method)
    seed = estimate_tau(data.means, data.se, "seed")
    names = ["mu", "tau"] + (["sigma"] if "sigma" in post else [])
    rows = {}
    for name in names:
        row = {"eb": np.nan, "eb_sd": np.nan, "seed": np.nan}
        if name == "mu":
            row.update(eb=float(eb.mu), eb_sd=float(np.sqrt(eb.mu_var)), seed=float(seed.mu))
        elif name == "tau":
            row.update(eb=float(eb.tau), seed=float(seed.tau))
        elif data.sigma_hat is not None:
            row["eb"] = data.sigma_hat
        summ = _draw_summary(post[name].transpose(*_SAMPLE), hdi_prob)
        row.update({k: float(v) for k, v in summ.items()})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "parameter"
    exact = _exact(data, idata, priors)
    if exact is not None:
        mean, sd = exact.mean, exact.sd
        table["exact"] = [float(mean[k]) for k in table.index]
        table["exact_sd"] = [float(sd[k]) for k in table.index]
    table.attrs.update(eb_method=eb_method, hdi_prob=hdi_prob,
                       parameterization=_method_name(idata))
    return table


def tau_estimates(data: HierData, methods: Sequence[str] = TAU_METHODS) -> pd.DataFrame:
    """``tau_hat`` and its ``mu_hat`` for each estimator of ``shrinkage.estimate_tau``.

    Parameters
    ----------
    data : HierData
    methods : sequence of {"dl", "pm", "ml", "reml", "seed"}, default all five

    Returns
    -------
    pandas.DataFrame
        Indexed by ``method``, columns ``tau`` and ``mu``.
    """
    if not isinstance(data, HierData):
        raise TypeError(f"`data` must be a HierData, got {type(data).__name__}.")
    if isinstance(methods, str):
        methods = [methods]
    rows = {}
    for method in methods:
        est = estimate_tau(data.means, data.se, _check_eb_method(method))
        rows[est.method] = {"tau": float(est.tau), "mu": float(est.mu)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


# ----------------------------------------------------------------------------- several fits
def _check_fits(fits: Any) -> dict[str, az.InferenceData]:
    if isinstance(fits, az.InferenceData):
        return {_method_name(_check_idata(fits, name="fits")): fits}
    if not isinstance(fits, Mapping):
        raise TypeError(f"`fits` must be a dict of name -> InferenceData, got "
                        f"{type(fits).__name__}.")
    if not fits:
        raise ValueError("`fits` is empty; pass at least one name -> InferenceData.")
    for name, idata in fits.items():
        _check_idata(idata, name=f"fits[{name!r}]")
    return {str(k): v for k, v in fits.items()}


def _data_for_fits(fits: Mapping[str, az.InferenceData], data: HierData | None) -> HierData:
    """``data``, or the data rebuilt from the first fit that carries it."""
    if data is not None:
        return data
    for idata in fits.values():
        if "observed_data" in idata.groups():
            return data_from_idata(idata)
    raise ValueError("None of `fits` carries observed_data (ExactPosterior.sample draws do "
                     "not): pass the HierData as `data=`.")


def compare_fits(
    fits: Mapping[str, az.InferenceData] | az.InferenceData,
    data: HierData | None = None,
    *,
    hdi_prob: float = DEFAULT_HDI_PROB,
    priors: Priors | None = None,
    population: bool = True,
) -> pd.DataFrame:
    r"""Posterior summaries from several fits of the same data, as one tidy long table.

    Parameters
    ----------
    fits : dict of str to arviz.InferenceData, or one InferenceData
        E.g. ``{"centered": idata1, "noncentered": idata2, "exact": exact.sample()}``: fits
        of the same data (same groups).  A single InferenceData is named by its
        ``parameterization`` (or ``method``) attribute.
    data : HierData, optional
        For the Rao-Blackwellised and exact columns; default: rebuilt from the first fit
        that carries its data.
    hdi_prob : float, default 0.94
        Probability mass of the HDI.
    priors : Priors, optional
        Priors of the ``exact`` columns; default: those recorded in each fit
        (:func:`fit_priors`).
    population : bool, default True
        Also give rows for ``mu`` and ``tau`` (and ``sigma`` when estimated).

    Returns
    -------
    pandas.DataFrame
        One row per ``(method, variable, group)``: ``variable`` is ``"mu"``, ``"tau"``
        (``group`` None) or ``"theta"``.  Columns ``mean``, ``sd``, ``hdi_low``,
        ``hdi_high``, ``mcse_mean``, ``ess_bulk``, ``r_hat`` (ArviZ, from the draws);
        ``rb_mean``, ``rb_mcse`` for ``theta`` (the Rao-Blackwellised mean
        ``(1/S) sum_s E[theta_i | y, mu_s, tau_s]`` as in :func:`compare`; NaN for the
        population rows); ``exact``, ``exact_sd`` (exact posterior, when the sampling sds are
        known); ``z_exact = (mean - exact) / mcse_mean``; and ``divergences`` (the fit's
        divergent transitions, 0 without ``sample_stats``).  ``table.set_index(["method",
        "variable", "group"])`` gives the indexed form.
    """
    fits = _check_fits(fits)
    data = _data_for_fits(fits, data)
    hdi_prob = _check_hdi_prob(hdi_prob)
    if not isinstance(population, bool):
        raise TypeError(f"`population` must be True or False, got {population!r}.")
    frames = []
    for name, idata in fits.items():
        _resolve_data(idata, data, name=f"fits[{name!r}]")
        post = idata.posterior
        exact = _exact(data, idata, priors)
        parts = []
        if population:
            for var in ("mu", "tau", "sigma"):
                if var not in post:
                    continue
                summ = _draw_summary(post[var].transpose(*_SAMPLE), hdi_prob)
                row = {k: [float(v)] for k, v in summ.items()}
                row.update(variable=[var], group=[None], rb_mean=[np.nan], rb_mcse=[np.nan])
                if exact is not None and var in ("mu", "tau"):
                    row.update(exact=[float(exact.mean[var])], exact_sd=[float(exact.sd[var])])
                parts.append(pd.DataFrame(row))
        summ = _draw_summary(post["theta"].transpose(*_SAMPLE, "group"), hdi_prob)
        frame = pd.DataFrame(summ)
        frame.insert(0, "group", list(data.groups))
        frame.insert(0, "variable", "theta")
        cond = conditional_means(idata, data)
        frame["rb_mean"] = cond.mean(_SAMPLE).values
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
    table.attrs.update(hdi_prob=hdi_prob)
    return table


def _divergences(idata: az.InferenceData) -> int:
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        return int(idata.sample_stats["diverging"].sum())
    return 0


# ----------------------------------------------------------------------------- summarize
_NEEDED = ("se", "no_pooling", "mean", "shrinkage")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def summarize(comparison: pd.DataFrame, top: int = 3) -> str:
    r"""A few sentences on who moved, how far, and why, in the seed's terms.

    Each group's move from no pooling to the full-Bayes posterior mean is about
    ``E[1 - w_i | y] x |ybar_i - mu|``: the shrinkage factor (large when ``se_i`` is large,
    i.e. ``n_i`` small, relative to ``tau``) times the group's distance from the grand mean.

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
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"`top` must be a positive integer, got {top!r}.")
    t, a = comparison, comparison.attrs
    mu = float(a.get("mu_mean", np.nan))
    move = (t["mean"] - t["no_pooling"]).abs().sort_values(ascending=False)
    dist = (t["no_pooling"] - mu).abs()
    size = "n" if "n" in t else "se"
    lines = [
        f"Partial pooling pulls every group's estimate from its own mean ybar_i toward the "
        f"grand mean (posterior mean of mu = {_fmt(mu)}): shrinkage toward the grand mean, "
        f"each group borrowing strength from the others.",
        "Moved most: " + "; ".join(_move_text(t, g, dist, size) for g in move.index[:top]) + ".",
    ]
    least = move.index[-1]
    lines.append(f"Moved least: {least} ({_fmt(t.at[least, 'no_pooling'])} -> "
                 f"{_fmt(t.at[least, 'mean'])}), "
                 + ("already near the grand mean." if dist[least] <= dist.median()
                    else "measured precisely enough to keep its own estimate."))
    lines.append(_size_sentence(t, size))
    lines += _eb_sentences(t)
    return "\n".join(lines)


def _move_text(t: pd.DataFrame, g: Any, dist: pd.Series, size: str) -> str:
    why = []
    if dist[g] >= dist.quantile(0.75):
        why.append(f"extreme, {_fmt(dist[g])} from the mean")
    if size == "n" and t.at[g, "n"] <= t["n"].quantile(0.25):
        why.append(f"small n = {int(t.at[g, 'n'])}")
    elif t.at[g, "se"] >= t["se"].quantile(0.75):
        why.append(f"large se = {_fmt(t.at[g, 'se'])}")
    reason = " and ".join(why) if why else f"{_fmt(dist[g])} from the mean"
    return (f"{g} {_fmt(t.at[g, 'no_pooling'])} -> {_fmt(t.at[g, 'mean'])} ({reason}; "
            f"shrinkage E[1-w] = {t.at[g, 'shrinkage']:.2f})")


def _size_sentence(t: pd.DataFrame, size: str) -> str:
    lo, hi = t["shrinkage"].idxmin(), t["shrinkage"].idxmax()
    unit = (lambda g: f"n = {int(t.at[g, 'n'])}") if size == "n" else (
        lambda g: f"se = {_fmt(t.at[g, 'se'])}")
    corr = stats.spearmanr(t["se"], t["shrinkage"])[0] if t["se"].nunique() > 1 else np.nan
    head = ("Noisier groups (larger se_i, smaller n_i) shrink more" if corr > 0.5 else
            "Shrinkage varies with the groups' precision")
    return (f"{head}: E[1 - w_i | y] ranges from {t.at[lo, 'shrinkage']:.2f} ({lo}, "
            f"{unit(lo)}) to {t.at[hi, 'shrinkage']:.2f} ({hi}, {unit(hi)}).")


def _eb_sentences(t: pd.DataFrame) -> list[str]:
    a = t.attrs
    out = []
    if "eb_tau" in a:
        method = a.get("eb_method", "reml").upper()
        if a["eb_tau"] == 0:
            out.append(f"Empirical Bayes ({method}) estimates tau = 0 and pools completely "
                       f"(every theta_hat_i = mu_hat = {_fmt(a['eb_mu'])}); the full posterior "
                       f"averages over tau (posterior mean {_fmt(a['tau_mean'])}) and so pools "
                       "strongly but not completely.")
        else:
            out.append(f"Empirical Bayes ({method}: tau_hat = {_fmt(a['eb_tau'])}, mu_hat = "
                       f"{_fmt(a['eb_mu'])}) plugs in one tau; the full posterior averages "
                       f"over tau (posterior mean {_fmt(a['tau_mean'])}).")
    if "seed_tau" in a:
        out.append(f"The seed's section 4.2 formula takes tau_hat = sd(ybar) = "
                   f"{_fmt(a['seed_tau'])}, the spread of the observed means including their "
                   "sampling noise, so it under-shrinks (column 'seed').")
    if _is_seed_table(t):
        picks = ", ".join(f"{g} {t.at[g, 'seed']:.2f}" for g in ("A", "B", "G", "F"))
        out.append("The seed's table 4.3 (A 19.2, B 8.5, G 12.1, F 2.8) is illustrative: its "
                   f"own code on table 4.1 gives {picks}.")
    return out


def _is_seed_table(t: pd.DataFrame) -> bool:
    """Whether the comparison is of the seed's table 4.1 (seed_eight_schools)."""
    from .datasets import seed_eight_schools

    ref = seed_eight_schools()
    return ("n" in t and "seed" in t and len(t) == ref.n_groups
            and list(map(str, t.index)) == list(ref.groups)
            and np.array_equal(t["n"].to_numpy(), ref.n)
            and np.allclose(t["no_pooling"].to_numpy(), ref.means))
