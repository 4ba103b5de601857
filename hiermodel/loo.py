r"""Leave-one-group-out PSIS-LOO: the pooling comparison and its pointwise log-likelihoods.

**Pooling comparison.**  The three pooling strategies (BDA3 5.5) as Bayesian models fitted to
the same data -- complete pooling ``ybar_i ~ N(mu, se_i^2)``, no pooling with independent weak
priors ``theta_i ~ N(mu0, s^2)``, and partial pooling (the hierarchical model) -- compared by
PSIS-LOO (``arviz.compare``).  The pointwise log-likelihood holds **one value per group**, so
this LOO is *leave-one-group-out*: it scores how well each model predicts a whole group's data from
the other groups, ``elpd = sum_i log p(ybar_i[, ss_i] | data of the other groups)``.

Two pointwise log-likelihoods can be importance-sampled (``likelihood=``):

* ``"integrated"`` (the default) -- theta_i integrated out, one term per group and draw::

      complete pooling   log N(ybar_i | mu, se_i^2)             (theta_i = mu)
      no pooling         log N(ybar_i | mu0, s^2 + se_i^2)      (theta_i ~ N(mu0, s^2))
      partial pooling    log N(ybar_i | mu, tau^2 + se_i^2)     (theta_i ~ N(mu, tau^2))

  plus ``log Gamma(ss_i | (n_i - 1)/2, rate 1/(2 sigma^2))`` and ``se_i = sigma / sqrt(n_i)``
  when sigma is unknown (:func:`integrated_log_likelihood`).
* ``"conditional"`` -- ``log p(ybar_i[, ss_i] | theta_i[, sigma])``, as
  :func:`hiermodel.sampling.fit` stores it in ``log_likelihood["y"]``.

Both target the same leave-one-group-out predictive density, but leaving a group out of the
conditional form removes the only data on its own theta_i, so the importance weights are
heavy-tailed; the integrated form keeps theta_i out of the weights.  On Eight Schools
(default fit, 4 x 1000 draws, five seeds) the two elpd agree to 0.11 (se 0.9; the exact
leave-one-group-out elpd is -31.09, the integrated estimates lie within 0.06 of it) while
the largest Pareto k falls from 0.63-0.87 to 0.29-0.50.  For no pooling with known se_i the
integrated terms do not depend on the posterior, so the LOO value is exact (the prior
predictive), where the conditional one has k near 1 and is ~15 nats too high.  Pareto k is
judged against ArviZ's sample-size-dependent threshold ``min(1 - 1/log10(S), 0.7)``
(:func:`k_threshold`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import stack
from ._validate import check_method, check_positive_int, check_positive_number, resolve_seed
from .core import ss_logpdf
from .data import HierData
from .exceptions import ParetoKWarning
from .model import no_pooling_prior_sd, pooling_model
from .model_spec import POOLING
from .priors import Priors
from .sampling import fit
from .stack import check_fitted

if TYPE_CHECKING:
    from .stack import Result

__all__ = [
    "integrated_log_likelihood", "compare_loo", "compare_pooling", "k_threshold",
    "K_THRESHOLD", "K_RULE", "LOO_NOTES", "LOO_NOTE", "LOO_LIKELIHOODS", "POOLING",
]

#: Cap of the Pareto-k reliability threshold.  The threshold itself depends on the number of
#: posterior draws S (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance
#: sampling", JMLR 25(72)): ``min(1 - 1/log10(S), 0.7)`` -- 0.5 at S = 100, 0.667 at
#: S = 1000, 0.7 from S = 2155 on.  It is ``arviz.loo``'s ``good_k`` (ArviZ >= 0.19); see
#: :func:`k_threshold`.  A group with k above it has an unreliable PSIS-LOO estimate.
K_THRESHOLD = 0.7
#: the pointwise log-likelihoods PSIS-LOO can use (see the module docstring)
LOO_LIKELIHOODS = ("integrated", "conditional")
#: what the LOO table's ``attrs["loo"]`` says, per ``likelihood``
LOO_NOTES = {
    "integrated": (
        "Leave-one-group-out PSIS-LOO on the integrated likelihood, one value per group: "
        "log N(ybar_i | mu, tau^2 + se_i^2) for partial pooling, log N(ybar_i | mu0, s^2 + "
        "se_i^2) for no pooling, log N(ybar_i | mu, se_i^2) for complete pooling (theta_i "
        "integrated out; + log Gamma(ss_i | (n_i-1)/2, rate 1/(2 sigma^2)) with se_i = sigma / "
        "sqrt(n_i) when sigma is unknown). Not leave-one-row-out."),
    "conditional": (
        "Leave-one-group-out PSIS-LOO on the conditional likelihood log_likelihood['y'], one "
        "value per group: log p(ybar_i[, ss_i] | theta_i[, sigma]). Leaving a group out removes "
        "the only data on its theta_i, so Pareto k runs higher than with the integrated "
        "likelihood. Not leave-one-row-out."),
}
#: the note of the default, integrated likelihood
LOO_NOTE = LOO_NOTES["integrated"]
#: ArviZ's rule for the Pareto-k threshold, as written in the tables' attrs
K_RULE = "min(1 - 1/log10(S), 0.7), S = number of posterior draws (chains x draws)"
Likelihood = Literal["integrated", "conditional"]


def k_threshold(n_draws: int) -> float:
    """The Pareto-k reliability threshold for ``n_draws`` posterior draws (all chains).

    ``min(1 - 1/log10(S), K_THRESHOLD)``, ArviZ's ``good_k`` (Vehtari et al. 2024): with few
    draws even a moderately heavy tail cannot be estimated reliably, so the bar is lower
    (0.5 at S = 100, 0.667 at S = 1000, the cap 0.7 from S = 2155 on).  S must exceed 10.
    """
    s = check_positive_int(n_draws, "n_draws")
    if s <= 10:
        raise ValueError(f"`n_draws` must be above 10 for a Pareto-k threshold, got {s}.")
    return float(min(1.0 - 1.0 / np.log10(s), K_THRESHOLD))


# ----------------------------------------------------------------------------- LOO
def _pooling_of(idata: Result) -> str:
    """Which of :data:`POOLING` a fit is, from its attrs (or, for fits that predate them,
    its parameterization and parameters)."""
    post = stack.group(idata, "posterior")
    pooling = post.attrs.get("pooling")
    if pooling in POOLING:
        return pooling
    name = str(post.attrs.get("parameterization", "")).replace("-", "_")
    if name in ("complete_pooling", "no_pooling"):
        return name
    if {"mu", "tau"} <= set(post.data_vars):
        return "partial_pooling"
    raise ValueError("`idata`: cannot tell which model this is (no `pooling` attribute and no "
                     "mu and tau in the posterior); pass a fit from hiermodel.fit of the "
                     "hierarchical model or of a pooling_model, or use "
                     "likelihood='conditional'.")


def integrated_log_likelihood(idata: Result) -> xr.DataArray:
    from scipy import stats

    r"""Pointwise log-likelihood with theta_i integrated out: one value per draw and group.

    The density of a group's data given the parameters that the *other* groups inform,
    which is what leave-one-group-out PSIS-LOO importance-samples (``likelihood=
    "integrated"`` in :func:`compare_loo`)::

        complete pooling   log N(ybar_i | mu, se_i^2)              (theta_i = mu)
        no pooling         log N(ybar_i | mu0, s^2 + se_i^2)       (theta_i ~ N(mu0, s^2))
        partial pooling    log N(ybar_i | mu, tau^2 + se_i^2)      (theta_i ~ N(mu, tau^2))
        with covariates    log N(ybar_i | mu + (x_i - xbar)' beta, tau^2 + se_i^2)

    When sigma is unknown, ``se_i = sigma / sqrt(n_i)`` per draw and ``log Gamma(ss_i |
    (n_i - 1)/2, rate 1/(2 sigma^2))`` is added (ss_i does not depend on theta_i; 0 for a
    group of one row).  For no
    pooling with known se_i no term depends on the posterior: leaving a group out leaves
    its prior predictive, and the LOO value is exact.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`hiermodel.sampling.fit` of the hierarchical model (any
        parameterization) or of a :func:`~hiermodel.model.pooling_model`: its ``posterior``
        (mu[, tau][, sigma]), ``observed_data`` (y[, ss]) and ``constant_data`` (se or n).
        The model is read from ``posterior.attrs["pooling"]`` (pooling models) or else taken
        to be the hierarchical one; no pooling needs ``no_pooling_mu0`` and ``no_pooling_sd`` there.

    Returns
    -------
    xarray.DataArray
        Named ``"y"``, dims ``(chain, draw, group)``, the fit's labels.
    """
    idata = check_fitted(idata, ("posterior", "observed_data", "constant_data"))
    post, obs, const = (stack.group(idata, name)
                        for name in ("posterior", "observed_data", "constant_data"))
    pooling = _pooling_of(idata)
    if "y" not in obs or obs["y"].dims != ("group",):
        raise ValueError("`idata.observed_data` needs the group means `y` (dim group), as "
                         "hiermodel.fit adds.")
    unknown = "ss" in obs
    if unknown:
        if "sigma" not in post or "n" not in const:
            raise ValueError("`idata`: the data have ss (sigma unknown) but the posterior has "
                             "no `sigma` or constant_data no `n`.")
        sigma = post["sigma"]
        se = sigma / np.sqrt(const["n"])
    else:
        if "se" not in const:
            raise ValueError("`idata.constant_data` has no `se`.")
        se = const["se"]
    if pooling == "no_pooling":
        mu0 = post.attrs.get("no_pooling_mu0")
        s = post.attrs.get("no_pooling_sd")
        if mu0 is None or s is None or not np.isfinite([mu0, s]).all():
            raise ValueError("`idata`: this no-pooling fit does not record its prior theta_i "
                             "~ N(mu0, s^2) (posterior.attrs no_pooling_mu0, no_pooling_sd); "
                             "refit it with fit(pooling_model(...)) or use "
                             "likelihood='conditional'.")
        loc, var = float(mu0), float(s) ** 2 + se**2
    elif pooling == "complete_pooling":
        loc, var = post["mu"], se**2
    else:
        loc, var = post["mu"], post["tau"] ** 2 + se**2
        if "x" in const and "covariate" in const["x"].dims:    # meta-regression
            if "beta" not in post:
                raise ValueError("`idata`: constant_data has covariates `x` but the posterior "
                                 "has no `beta`.")
            x = const["x"] - const["x"].mean("group")           # centred, as in the model
            loc = loc + xr.dot(post["beta"], x, dim="covariate")
    ll = xr.apply_ufunc(stats.norm.logpdf, obs["y"], loc, np.sqrt(var))
    if unknown:
        ll = ll + xr.apply_ufunc(ss_logpdf, obs["ss"], const["n"], sigma)
    draws = xr.zeros_like(post["chain"] + post["draw"], dtype=float)  # (chain, draw) template
    return (ll + draws).transpose("chain", "draw", "group").rename("y")


def _pointwise(name: str, idata: Result, likelihood: str) -> xr.DataArray:
    if likelihood == "integrated":
        ll = integrated_log_likelihood(idata)
    else:
        check_fitted(idata, ("posterior", "log_likelihood"))
        ll = stack.group(idata, "log_likelihood").get("y")
    if ll is None or ll.dims != ("chain", "draw", "group"):
        raise ValueError(f"`fits`: {name!r} needs log_likelihood['y'] with one value per "
                         "group (dims chain, draw, group), as hiermodel.fit adds.")
    return ll


def _loo(idata: Result, ll: xr.DataArray):
    """arviz.loo on ``ll``.  A group whose log-likelihood is the same at every draw (no
    pooling, known se_i, integrated) has equal importance weights: its LOO value is exact,
    and its Pareto k, which ArviZ returns as inf, is set to -inf (a tail-less, degenerate
    distribution of the ratios)."""
    src = stack.make_result(posterior=stack.group(idata, "posterior"),
                            log_likelihood=xr.Dataset({"y": ll}))
    with warnings.catch_warnings():  # reported once, as a ParetoKWarning, by compare_loo
        warnings.filterwarnings("ignore", message=".*[Pp]areto.*")
        warnings.filterwarnings("ignore", message=".*point-wise LOO is the same.*")
        elpd = stack.loo(src, var_name="y")
    good_k = stack.loo_get(elpd, "good_k")
    elpd["good_k"] = float(k_threshold(int(elpd["n_samples"])) if good_k is None else good_k)
    values = ll.values.reshape(-1, ll.shape[-1])
    exact = np.all(values == values[:1], axis=0)
    if exact.any():
        elpd["pareto_k"] = elpd["pareto_k"].where(~xr.DataArray(exact, dims="group"), -np.inf)
    elpd["warning"] = bool((np.asarray(elpd["pareto_k"]) > elpd["good_k"]).any())
    return elpd


def _k_columns(loo: dict[str, Any], groups: list) -> pd.DataFrame:
    rows = {}
    for name, elpd in loo.items():
        k = np.asarray(elpd["pareto_k"])
        rows[name] = {"pareto_k_max": float(k.max()),
                      "k_threshold": elpd["good_k"],
                      "n_k_above_threshold": int((k > elpd["good_k"]).sum()),
                      "worst_group": groups[int(k.argmax())] if k.max() > -np.inf else None}
    return pd.DataFrame.from_dict(rows, orient="index")


def _warn_k(ks: pd.DataFrame, loo: dict[str, Any], groups: list, likelihood: str) -> None:
    bad = ks[ks["n_k_above_threshold"] > 0]
    if bad.empty:
        return
    lines = []
    for name in bad.index:
        k, good = np.asarray(loo[name]["pareto_k"]), loo[name]["good_k"]
        which = [f"{groups[i]} (k={k[i]:.2f})" for i in np.flatnonzero(k > good)]
        lines.append(f"{name} (threshold {good:.2f} at S = {int(loo[name]['n_samples'])} "
                     "draws): " + ", ".join(which))
    why = ("the posterior of the hyperparameters moves a lot when it is left out"
           if likelihood == "integrated" else
           "the posterior moves a lot when it is left out -- and with the conditional "
           "likelihood leaving a group out removes the only data on its theta_i (for no "
           "pooling theta_i then keeps only its prior); likelihood='integrated' is more stable")
    warnings.warn(
        "Pareto-k above the threshold min(1 - 1/log10(S), 0.7) in leave-one-group-out "
        f"PSIS-LOO ({likelihood} likelihood), so those groups' elpd estimates (and the "
        "comparison) are unreliable:\n- " + "\n- ".join(lines) + f"\nSuch a group is "
        f"influential: {why}. Check by exact refits without the group (K-fold by group) or "
        "moment matching; more draws also raise the threshold (up to 0.7).",
        ParetoKWarning, stacklevel=3)


def compare_loo(fits: Mapping[str, Result], *,
                likelihood: Likelihood = "integrated") -> pd.DataFrame:
    r"""Rank fits of the same groups by leave-one-group-out PSIS-LOO (``arviz.compare``).

    Parameters
    ----------
    fits : mapping of str to arviz.InferenceData
        Fits from :func:`hiermodel.sampling.fit` (of the hierarchical model or a
        :func:`~hiermodel.model.pooling_model`) of the same data.  Each scores one value per
        *group*, so PSIS-LOO leaves out one group at a time.
    likelihood : {"integrated", "conditional"}, default "integrated"
        The pointwise log-likelihood importance-sampled.  ``"integrated"``:
        :func:`integrated_log_likelihood`, theta_i integrated out (``log N(ybar_i | mu, tau^2
        + se_i^2)`` for the hierarchical model; see the module docstring for the pooling
        models and unknown sigma) -- the robust choice, since leaving a group out then does
        not remove the only data on its own theta_i.  ``"conditional"``: the fit's
        ``log_likelihood["y"]``, ``log p(ybar_i[, ss_i] | theta_i[, sigma])``.  Both
        estimate the same elpd; the conditional one has larger Pareto k.

    Returns
    -------
    pandas.DataFrame
        ``arviz.compare(..., ic="loo")`` ranked best first (``elpd_loo``, ``p_loo``,
        ``elpd_diff``, ``dse`` = se of the difference, ``se``, ``weight``, ``warning``), plus
        per model ``pareto_k_max``, ``k_threshold`` (:func:`k_threshold` of its draw count,
        ArviZ's ``good_k``), ``n_k_above_threshold`` and ``worst_group`` (the group with the
        largest k).  ``pareto_k_max`` is -inf (and ``worst_group`` None) when every group's
        LOO value is exact (no pooling with known se_i, integrated).  ``attrs``:
        ``likelihood``, ``loo`` (the note ``LOO_NOTES[likelihood]``: what was left out and
        scored), ``k_threshold`` (one number, or a dict per model if the draw counts differ)
        and ``k_rule``.

    Warns
    -----
    ParetoKWarning
        When any group of any model has Pareto-k above its threshold, naming them.
    """
    if not isinstance(fits, Mapping) or not fits:
        raise TypeError("`fits` must be a non-empty dict of name -> InferenceData.")
    likelihood = check_method(likelihood, LOO_LIKELIHOODS, "likelihood")
    labels = None
    loo = {}
    for name, idata in fits.items():
        check_fitted(idata, ("posterior",))
        ll = _pointwise(name, idata, likelihood)
        these = list(ll["group"].values)
        if labels is not None and these != labels:
            raise ValueError(f"`fits`: {name!r} was fitted to other groups than the rest.")
        labels = these
        loo[name] = _loo(idata, ll)
    with warnings.catch_warnings():  # arviz's own pandas deprecation noise
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        table = stack.compare(loo)
    ks = _k_columns(loo, labels)
    table = table.join(ks)
    thresholds = {name: float(elpd["good_k"]) for name, elpd in loo.items()}
    same = len(set(thresholds.values())) == 1
    table.attrs.update(likelihood=likelihood, loo=LOO_NOTES[likelihood], k_rule=K_RULE,
                       k_threshold=next(iter(thresholds.values())) if same else thresholds)
    _warn_k(ks, loo, labels, likelihood)
    return table


def compare_pooling(
    data: HierData,
    *,
    priors: Priors | None = None,
    parameterization: str = "marginal",
    no_pooling_sd: float | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: Literal["nutpie", "pymc", "numpyro"] = "nutpie",
    check: bool = True,
    likelihood: Likelihood = "integrated",
) -> tuple[pd.DataFrame, dict[str, Result]]:
    r"""Fit complete, no and partial pooling to the same data and compare them by PSIS-LOO.

    The pointwise log-likelihood of every model holds one value per group, so the LOO here
    is **leave-one-group-out**: ``elpd = sum_i log p(ybar_i[, ss_i] | data of the other
    groups)``, estimated by Pareto-smoothed importance sampling (:func:`compare_loo`).  By
    default the pointwise terms have theta_i integrated out (:func:`integrated_log_likelihood`:
    ``N(ybar_i | mu, se_i^2)``, ``N(ybar_i | mu0, s^2 + se_i^2)``, ``N(ybar_i | mu, tau^2 +
    se_i^2)`` for complete, no and partial pooling), which keeps the importance weights stable.

    Parameters
    ----------
    data : HierData
    priors : Priors, optional
        Hyperpriors of the hierarchical model (default ``Priors()``); the complete-pooling
        model uses its mu prior, the no-pooling model its ``mu_mean``.
    parameterization : str, default "marginal"
        Of the hierarchical fit (:func:`hiermodel.sampling.fit`).
    no_pooling_sd : float, optional
        Prior sd ``s`` of ``theta_i`` under no pooling; default :func:`no_pooling_prior_sd`.
    draws, tune, chains : int, default 1000, 1000, 4
    seed : int, optional
        Seeds the three fits (through ``numpy.random.SeedSequence``); None draws a fresh one.
    sampler : {"nutpie", "pymc", "numpyro"}, default "nutpie"
    check : bool, default True
        Sampling diagnostics of each fit (``SamplingWarning``).
    likelihood : {"integrated", "conditional"}, default "integrated"
        The pointwise log-likelihood of the LOO (see :func:`compare_loo`); the other one is
        one ``compare_loo(fits, likelihood=...)`` away, without refitting.

    Returns
    -------
    table : pandas.DataFrame
        ``arviz.compare`` (ic="loo"), ranked best first: ``elpd_loo``, ``p_loo``,
        ``elpd_diff`` and its standard error ``dse``, ``se``, ``weight``, ``warning``, plus
        ``pareto_k_max``, ``k_threshold``, ``n_k_above_threshold`` and ``worst_group`` per
        model.  ``table.attrs`` records ``likelihood``, ``loo`` (what was left out and
        scored), ``k_threshold``, ``k_rule``, ``seed``, ``no_pooling_sd``.
    fits : dict of str to arviz.InferenceData
        Keys ``"complete_pooling"``, ``"no_pooling"``, ``"partial_pooling"``.

    Warns
    -----
    ParetoKWarning
        When any group has Pareto-k above :func:`k_threshold` in any model (see
        :func:`compare_loo`).
    """
    data = HierData.check(data)
    likelihood = check_method(likelihood, LOO_LIKELIHOODS, "likelihood")
    priors = Priors.check(priors, data=data)
    seed = resolve_seed(seed)
    s = (no_pooling_prior_sd(data, 0.0 if priors.mu == "flat" else priors.mu_mean)
         if no_pooling_sd is None
         else check_positive_number(no_pooling_sd, "no_pooling_sd"))
    seeds = [int(v) for v in np.random.SeedSequence(seed).generate_state(3)]
    kw = dict(draws=draws, tune=tune, chains=chains, sampler=sampler, check=check)
    fits = {}
    for name, sd, sd_seed in (("complete_pooling", None, seeds[0]), ("no_pooling", s, seeds[1])):
        fits[name] = fit(pooling_model(data, name, priors, sd=sd), seed=sd_seed, **kw)
    fits["partial_pooling"] = fit(data, parameterization=parameterization, priors=priors,
                                  seed=seeds[2], **kw)
    table = compare_loo(fits, likelihood=likelihood)
    table.attrs.update(seed=seed, no_pooling_sd=s)
    return table, fits
