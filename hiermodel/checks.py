r"""Model checks: predictive draws, test statistics with p-values, and the three pooling models.

**Predictive draws** answer the two questions users ask of a fitted hierarchical model:

* *Replicated data for the same groups* -- for every draw of ``(theta, sigma)``::

      ybar_i^rep ~ N(theta_i, se_i^2)                       ("y", dim "group")
      ss_i^rep   ~ sigma^2 chi^2_{n_i - 1}                  ("ss", only if sigma is unknown)
      y_ij^rep   ~ N(theta_i, sigma_i^2)                    ("y_rows", dim "obs", raw rows only)

* *A new, unseen group* -- for every draw of ``(mu, tau)``::

      theta_new ~ N(mu, tau^2)                              ("theta_new")
      ybar_new  ~ N(theta_new, se_new^2)                    ("y_new", given se_new or n_new)

  with ``se_new = sigma / sqrt(n_new)`` when ``n_new`` is given.

plus the *mixed* replication (Marshall & Spiegelhalter 2007; BDA3 section 6.3, "new groups"):
fresh group effects for every group, measured as precisely as the observed ones::

      theta_i^mix ~ N(mu, tau^2),   ybar_i^mix ~ N(theta_i^mix, se_i^2)    ("y_mixed")

Replication for the same groups cannot reveal an outlying *group*: theta_i's posterior follows
its own ybar_i, so ybar^rep reproduces the outlier.  ``y_mixed`` asks whether groups drawn
from the fitted population look like the observed ones, and does reveal it.

The draws come from ``pm.sample_prior_predictive`` / ``pm.sample_posterior_predictive`` on a
model built here with the same variable names as :func:`hiermodel.models.build_model` (``mu``,
``tau``, ``theta``, ``sigma``), so posterior draws plug straight in.

**Test statistics and posterior predictive p-values** (BDA3 section 6.3)::

      p_T = P(T(y^rep) >= T(y) | y) ~= (1/S) sum_s 1[T(y^rep,s) >= T(y)]

with Monte Carlo standard error ``sqrt(p (1 - p) / ESS)``, where ESS is ArviZ's effective
sample size of the indicator ``1[T(y^rep,s) >= T(y)]`` over (chain, draw).

**Pooling comparison.**  The seed text's three strategies as Bayesian models fitted to the same
data -- complete pooling ``ybar_i ~ N(mu, se_i^2)``, no pooling with independent weak priors
``theta_i ~ N(mu0, s^2)``, and partial pooling (the hierarchical model) -- compared by PSIS-LOO
(``arviz.compare``).  The pointwise log-likelihood holds **one value per group**, so this LOO
is *leave-one-group-out*: it scores how well each model predicts a whole group's data from
the other groups, ``elpd = sum_i log p(ybar_i[, ss_i] | data of the other groups)``.

Two pointwise log-likelihoods can be importance-sampled (``likelihood=``):

* ``"integrated"`` (the default) -- theta_i integrated out, one term per group and draw::

      complete pooling   log N(ybar_i | mu, se_i^2)             (theta_i = mu)
      no pooling         log N(ybar_i | mu0, s^2 + se_i^2)      (theta_i ~ N(mu0, s^2))
      partial pooling    log N(ybar_i | mu, tau^2 + se_i^2)     (theta_i ~ N(mu, tau^2))

  plus ``log Gamma(ss_i | (n_i - 1)/2, rate 1/(2 sigma^2))`` and ``se_i = sigma / sqrt(n_i)``
  when sigma is unknown (:func:`integrated_log_likelihood`).
* ``"conditional"`` -- ``log p(ybar_i[, ss_i] | theta_i[, sigma])``, as
  :func:`hiermodel.fit.fit` stores it in ``log_likelihood["y"]``.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from matplotlib.figure import Figure
from scipy import stats

from ._validate import check_data, positive_int, resolve_seed
from .data import HierData, group_coord
from .exceptions import ParetoKWarning, PredictiveCheckWarning
from .fit import fit
from .models import (
    ModelSpec,
    build_model,
    known_sigma_likelihood,
    mu_prior,
    register_model,
    resolve_priors,
    sigma_prior,
    tau_prior,
    unknown_sigma_likelihood,
)
from .priors import Priors

__all__ = [
    "prior_predictive_draws", "posterior_predictive_draws", "t_statistic", "ppc_table",
    "plot_test_statistics", "plot_ppc", "pooling_model", "no_pooling_prior_sd", "compare_loo",
    "compare_pooling", "ParetoKWarning", "PredictiveCheckWarning", "P_EXTREME", "STATISTICS",
    "POOLING", "PREDICTIVE_VARS",
    "K_THRESHOLD", "k_threshold", "integrated_log_likelihood", "LOO_LIKELIHOODS", "LOO_NOTES",
]

#: Cap of the Pareto-k reliability threshold.  The threshold itself depends on the number of
#: posterior draws S (Vehtari, Simpson, Gelman, Yao & Gabry 2024, "Pareto smoothed importance
#: sampling", JMLR 25(72)): ``min(1 - 1/log10(S), 0.7)`` -- 0.5 at S = 100, 0.667 at
#: S = 1000, 0.7 from S = 2155 on.  It is ``arviz.loo``'s ``good_k`` (ArviZ >= 0.19); see
#: :func:`k_threshold`.  A group with k above it has an unreliable PSIS-LOO estimate.
K_THRESHOLD = 0.7
POOLING = ("complete_pooling", "no_pooling", "partial_pooling")
#: the pointwise log-likelihoods PSIS-LOO can use (see the module docstring)
LOO_LIKELIHOODS = ("integrated", "conditional")
#: replicated variables and the observed variable each one is compared with
PREDICTIVE_VARS = {"y": "y", "y_mixed": "y", "y_rows": "y_rows", "ss": "ss"}
Group = Literal["posterior", "prior"]
StatLike = str | Callable[[np.ndarray], Any]

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


#: predictive p-values below this or above 1 - this are warned about
P_EXTREME = 0.01


def k_threshold(n_draws: int) -> float:
    """The Pareto-k reliability threshold for ``n_draws`` posterior draws (all chains).

    ``min(1 - 1/log10(S), K_THRESHOLD)``, ArviZ's ``good_k`` (Vehtari et al. 2024): with few
    draws even a moderately heavy tail cannot be estimated reliably, so the bar is lower
    (0.5 at S = 100, 0.667 at S = 1000, the cap 0.7 from S = 2155 on).  S must exceed 10.
    """
    s = positive_int("n_draws", n_draws)
    if s <= 10:
        raise ValueError(f"`n_draws` must be above 10 for a Pareto-k threshold, got {s}.")
    return float(min(1.0 - 1.0 / np.log10(s), K_THRESHOLD))


# ----------------------------------------------------------------------------- validation
def _check_idata(idata: Any, groups: Sequence[str] = ("posterior",)) -> az.InferenceData:
    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"`idata` must be an arviz.InferenceData, got {type(idata).__name__}.")
    missing = [g for g in groups if g not in idata.groups()]
    if missing:
        raise ValueError(f"`idata` has no {missing} group(s); it has {idata.groups()}.")
    return idata


def _positive_real(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a positive number, got {v!r}.")
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0, got {v!r}.")
    return float(v)


def _check_group(group: Any) -> str:
    if group not in ("posterior", "prior"):
        raise ValueError(f"Requested group {group!r} but it must be one of ('posterior', "
                         "'prior').")
    return group


def _use_rows(data: HierData, rows: bool | None) -> bool:
    if rows is None:
        return data.has_rows
    if rows and not data.has_rows:
        raise ValueError("`rows=True` needs raw rows: build the data with "
                         "HierData.from_observations(..., keep_rows=True).")
    return bool(rows)


def _new_group_se(data: HierData, se_new: Any, n_new: Any) -> tuple[float | None, int | None]:
    """Validate (se_new, n_new): at most one, n_new only where sigma is defined."""
    if se_new is not None and n_new is not None:
        raise ValueError("Pass either `se_new` or `n_new` for the new group, not both.")
    if se_new is not None:
        return _positive_real("se_new", se_new), None
    if n_new is None:
        return None, None
    n_new = positive_int("n_new", n_new)
    if data.sigma_known and data.sigma is None:
        raise ValueError("`n_new` needs a within-group sd, which estimates-form data lack; "
                         "pass `se_new` instead.")
    if data.sigma is not None and not np.allclose(data.sigma, data.sigma[0]):
        raise ValueError("`n_new`: sigma differs between groups, so se_new = sigma / "
                         "sqrt(n_new) is ambiguous; pass `se_new` instead.")
    return None, n_new


# ----------------------------------------------------------------------------- predictive model
def _predictive_nodes(data: HierData, theta, sigma, mu, tau, *, rows: bool,
                      se_new: float | None, n_new: int | None) -> list[str]:
    """Add the replicated / new-group nodes (inside a model context); return their names."""
    names = ["y"]
    if data.sigma_known:
        se = pt.as_tensor_variable(data.se)
    else:
        n = pt.as_tensor_variable(data.n.astype(float))
        se = sigma / pt.sqrt(n)
        # ss_i / sigma^2 ~ chi^2_{n_i - 1}
        pm.Gamma("ss", alpha=(n - 1.0) / 2.0, beta=1.0 / (2.0 * sigma**2), dims="group")
        names.append("ss")
    pm.Normal("y", mu=theta, sigma=se, dims="group")
    if rows:
        idx = data.rows[1]
        sd = pt.as_tensor_variable(data.sigma[idx]) if data.sigma_known else sigma
        pm.Normal("y_rows", mu=theta[idx], sigma=sd, dims="obs")
        names.append("y_rows")
    if mu is None or tau is None:
        return names
    theta_mix = pm.Normal("theta_mixed", mu=mu, sigma=tau, dims="group")
    pm.Normal("y_mixed", mu=theta_mix, sigma=se, dims="group")
    theta_new = pm.Normal("theta_new", mu=mu, sigma=tau)
    names += ["y_mixed", "theta_new"]
    if se_new is not None or n_new is not None:
        if se_new is None:
            sig = float(data.sigma[0]) if data.sigma_known else sigma
            se_new = sig / np.sqrt(n_new)
        pm.Normal("y_new", mu=theta_new, sigma=se_new)
        names.append("y_new")
    return names


def _coords(data: HierData, rows: bool) -> dict[str, Any]:
    coords: dict[str, Any] = {"group": list(data.groups)}
    if rows:
        coords["obs"] = np.arange(data.n_total)
    return coords


def _posterior_model(data: HierData, present: set[str], *, rows: bool,
                     se_new: float | None, n_new: int | None) -> tuple[pm.Model, list[str]]:
    """Flat placeholders for the posterior's parameters (their values come from the draws,
    so their priors never matter) and the predictive nodes."""
    with pm.Model(coords=_coords(data, rows)) as model:
        theta = pm.Flat("theta", dims="group")
        mu = pm.Flat("mu") if "mu" in present else None
        tau = pm.HalfFlat("tau") if "tau" in present else None
        sigma = None if data.sigma_known else pm.HalfFlat("sigma")
        names = _predictive_nodes(data, theta, sigma, mu, tau, rows=rows, se_new=se_new,
                                  n_new=n_new)
    return model, names


def _prior_model(data: HierData, priors: Priors, *, rows: bool, se_new: float | None,
                 n_new: int | None) -> tuple[pm.Model, list[str], list[str]]:
    """The hierarchical model's priors (centered: theta ~ N(mu, tau^2)) and predictive nodes."""
    with pm.Model(coords=_coords(data, rows)) as model:
        mu = mu_prior(priors)
        tau = tau_prior(priors)
        theta = pm.Normal("theta", mu=mu, sigma=tau, dims="group")
        sigma = None if data.sigma_known else sigma_prior(data, priors)
        names = _predictive_nodes(data, theta, sigma, mu, tau, rows=rows, se_new=se_new,
                                  n_new=n_new)
    params = ["mu", "tau", "theta"] + ([] if data.sigma_known else ["sigma"])
    return model, params, names


def _relabel(ds: xr.Dataset, data: HierData, rows: bool) -> xr.Dataset:
    labels = group_coord(data.groups)
    if "group" in ds.dims:
        ds = ds.assign_coords(group=labels)
    if rows and "obs" in ds.dims:
        ds = ds.assign_coords(obs_group=("obs", labels[data.rows[1]]))
    return ds


def _observed(data: HierData, rows: bool) -> xr.Dataset:
    obs = {"y": ("group", data.means)}
    if not data.sigma_known:
        obs["ss"] = ("group", data.ss)
    coords: dict[str, Any] = {"group": group_coord(data.groups)}
    if rows:
        y, idx = data.rows
        obs["y_rows"] = ("obs", y)
        coords.update(obs=np.arange(y.size), obs_group=("obs", group_coord(data.groups)[idx]))
    return xr.Dataset(obs, coords=coords)


def _constant(data: HierData) -> xr.Dataset:
    const = {"se": ("group", data.se)}
    if data.n is not None:
        const["n"] = ("group", data.n)
    if data.sigma is not None:
        const["sigma"] = ("group", data.sigma)
    return xr.Dataset(const, coords={"group": group_coord(data.groups)})


def _attrs(kind: str, seed: int, rows: bool, se_new: float | None,
           n_new: int | None) -> dict[str, Any]:
    return {
        "kind": kind, "seed": seed, "rows": int(rows),
        "se_new": float("nan") if se_new is None else se_new,
        "n_new": -1 if n_new is None else n_new,
        "replication": "y: same groups; y_mixed: new theta_i ~ N(mu, tau^2) per group; "
                       "theta_new / y_new: one new group",
    }


def prior_predictive_draws(
    data: HierData,
    priors: Priors | None = None,
    *,
    draws: int = 1000,
    se_new: float | None = None,
    n_new: int | None = None,
    rows: bool | None = None,
    seed: int | None = None,
) -> az.InferenceData:
    r"""Prior predictive draws of the hierarchical model, for the same groups and a new one.

    Draws ``mu``, ``tau`` from their priors, ``theta_i ~ N(mu, tau^2)``, ``sigma`` (if unknown)
    and then, as in the module docstring, ``y`` (``ybar_i^rep ~ N(theta_i, se_i^2)``),
    ``ss``, ``y_rows``, ``y_mixed``, ``theta_new`` and ``y_new``.

    Parameters
    ----------
    data : HierData
        Fixes the groups, ``se_i`` and (for ``y_rows``) the rows' group membership.
    priors : Priors, optional
        Default ``Priors()``, scaled to the data; ``mu`` needs a proper prior (not
        ``mu="flat"``).
    draws : int, default 1000
    se_new : float, optional
        Standard error of the new group's mean: adds ``y_new ~ N(theta_new, se_new^2)``.
    n_new : int, optional
        Or its size: ``se_new = sigma / sqrt(n_new)`` (needs a common sigma, known or modelled).
    rows : bool, optional
        Draw per-row ``y_rows`` (dim ``obs``, with an ``obs_group`` coordinate). Default: when
        ``data`` kept its rows.
    seed : int, optional
        Same seed, same draws.  None draws a fresh seed, recorded in the attrs.

    Returns
    -------
    arviz.InferenceData
        Groups ``prior`` (mu, tau, theta[, sigma]), ``prior_predictive`` (y[, ss][, y_rows],
        y_mixed, theta_new[, y_new]), ``observed_data`` (y[, ss][, y_rows]) and
        ``constant_data`` (se[, n][, sigma]).
    """
    data = check_data(data)
    priors = resolve_priors(priors, data)
    if priors.mu == "flat":
        raise ValueError("`priors`: prior predictive draws need a proper prior on mu; the flat "
                         "prior (mu='flat') cannot be sampled. Pass Priors(mu='normal', ...).")
    draws = positive_int("draws", draws)
    se_new, n_new = _new_group_se(data, se_new, n_new)
    rows = _use_rows(data, rows)
    seed = resolve_seed(seed)
    model, params, names = _prior_model(data, priors, rows=rows, se_new=se_new, n_new=n_new)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        raw = pm.sample_prior_predictive(draws=draws, model=model, random_seed=seed,
                                         var_names=params + names)
    attrs = {**_attrs("prior", seed, rows, se_new, n_new), "priors": priors.describe()}
    prior = _relabel(raw.prior[params], data, rows).assign_attrs(attrs)
    pp = _relabel(raw.prior[names], data, rows).assign_attrs(attrs)
    return az.InferenceData(prior=prior, prior_predictive=pp, observed_data=_observed(data, rows),
                            constant_data=_constant(data))


def _check_match(idata: az.InferenceData, data: HierData) -> None:
    post = idata.posterior
    if "theta" not in post:
        raise ValueError("`idata.posterior` has no `theta`: pass a fit of the hierarchical "
                         "model (hiermodel.fit) or of a pooling_model.")
    if "group" not in post.dims or list(post["group"].values) != list(group_coord(data.groups)):
        raise ValueError("`data` does not match `idata`: their groups differ; pass the HierData "
                         "the posterior was fitted to.")
    if not data.sigma_known and "sigma" not in post:
        raise ValueError("`data` has unknown sigma but `idata.posterior` has no `sigma`.")


def posterior_predictive_draws(
    idata: az.InferenceData,
    data: HierData,
    *,
    se_new: float | None = None,
    n_new: int | None = None,
    rows: bool | None = None,
    seed: int | None = None,
) -> az.InferenceData:
    r"""Posterior predictive draws, one per posterior draw, for the same groups and a new one.

    With ``(mu, tau, theta, sigma)`` from each posterior draw: ``y`` (``ybar_i^rep ~
    N(theta_i, se_i^2)``), ``ss`` (if sigma is unknown), ``y_rows`` (``y_ij^rep ~ N(theta_i,
    sigma^2)``), and -- when the posterior has ``mu`` and ``tau`` -- ``y_mixed``, ``theta_new ~
    N(mu, tau^2)`` and ``y_new ~ N(theta_new, se_new^2)``.  So ``E[theta_new | y] = E[mu | y]``
    and ``Var[theta_new | y] = E[tau^2 | y] + Var[mu | y]``.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`hiermodel.fit.fit` (any parameterization) or of a
        :func:`pooling_model`; its posterior needs ``theta`` (and ``sigma`` if unknown).
    data : HierData
        The data it was fitted to (for ``se_i`` and the rows).
    se_new, n_new, rows, seed
        As in :func:`prior_predictive_draws`.  New-group draws need ``mu`` and ``tau`` (not
        available for the complete- and no-pooling models).

    Returns
    -------
    arviz.InferenceData
        A new object with ``idata``'s groups (``idata`` itself is not modified), a
        ``posterior_predictive`` group replacing any there was, and ``y_rows`` added to
        ``observed_data`` when rows are drawn.
    """
    idata = _check_idata(idata)
    data = check_data(data)
    _check_match(idata, data)
    se_new, n_new = _new_group_se(data, se_new, n_new)
    rows = _use_rows(data, rows)
    seed = resolve_seed(seed)
    post = idata.posterior
    present = {v for v in ("mu", "tau", "theta", "sigma") if v in post}
    if (se_new is not None or n_new is not None) and not {"mu", "tau"} <= present:
        raise ValueError("`se_new`/`n_new`: a new group needs mu and tau in the posterior, i.e. "
                         "a fit of the hierarchical model.")
    model, names = _posterior_model(data, present, rows=rows, se_new=se_new, n_new=n_new)
    src = az.InferenceData(posterior=post[sorted(present & {v.name for v in model.free_RVs})])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        raw = pm.sample_posterior_predictive(src, model=model, var_names=names,
                                             random_seed=seed, progressbar=False)
    pp = _relabel(raw.posterior_predictive, data, rows)
    pp = pp.assign_attrs(_attrs("posterior", seed, rows, se_new, n_new))
    groups = {g: getattr(idata, g) for g in idata.groups() if g != "posterior_predictive"}
    groups["observed_data"] = _observed(data, rows)
    groups.setdefault("constant_data", _constant(data))
    return az.InferenceData(**groups, posterior_predictive=pp)


# ----------------------------------------------------------------------------- statistics
def _sd(x: np.ndarray) -> np.ndarray:
    return np.std(x, axis=-1, ddof=1)


def _group_means(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    onehot = np.zeros((codes.size, int(codes.max()) + 1))
    onehot[np.arange(codes.size), codes] = 1.0
    return (x @ onehot) / onehot.sum(axis=0)


def _spread(x: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
    return _sd(x if codes is None else _group_means(x, codes))


#: built-in T(y), vectorised over leading axes; ``codes`` (group index of each row) is given
#: for ``y_rows`` so that "spread" is the sd of the group means there too.
STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "min": lambda x, codes=None: np.min(x, axis=-1),
    "max": lambda x, codes=None: np.max(x, axis=-1),
    "mean": lambda x, codes=None: np.mean(x, axis=-1),
    "sd": lambda x, codes=None: _sd(x),
    "range": lambda x, codes=None: np.ptp(x, axis=-1),
    "spread": _spread,
}
#: default statistics; for group-level variables "spread" (sd of the group means) is "sd"
#: itself, so it is added only for ``y_rows``.
DEFAULT_STATS = ("min", "max", "mean", "sd", "range")


def _default_stats(var_name: str) -> tuple[str, ...]:
    return DEFAULT_STATS + (("spread",) if var_name == "y_rows" else ())


def _resolve_stats(stats: Any, var_name: str = "y") -> list[tuple[str, StatLike]]:
    """[(name, builtin name or callable)] from a name, a callable, a sequence or a mapping."""
    if stats is None:
        stats = _default_stats(var_name)
    if isinstance(stats, str) or callable(stats):
        stats = [stats]
    if isinstance(stats, Mapping):
        items = list(stats.items())
    elif isinstance(stats, Sequence):
        items = [(s if isinstance(s, str) else getattr(s, "__name__", f"stat_{i}"), s)
                 for i, s in enumerate(stats)]
    else:
        raise TypeError(f"`stats` must be a name, a callable, a sequence or a mapping of "
                        f"them, got {type(stats).__name__}.")
    if not items:
        raise ValueError("`stats` is empty; pass at least one statistic.")
    for name, s in items:
        if isinstance(s, str) and s not in STATISTICS:
            raise ValueError(f"Requested statistic {s!r} but it must be one of "
                             f"{tuple(STATISTICS)} or a callable.")
        if not isinstance(s, str) and not callable(s):
            raise TypeError(f"`stats`: {name!r} must be a statistic name or a callable, got "
                            f"{type(s).__name__}.")
    return [(str(name), s) for name, s in items]


def _scalar(name: str, v: Any) -> float:
    arr = np.asarray(v, dtype=float)
    if arr.ndim != 0:
        raise ValueError(f"`stats`: {name!r} must return one number per dataset, got shape "
                         f"{arr.shape}.")
    return float(arr)


def _apply(name: str, stat: StatLike, obs: np.ndarray, rep: np.ndarray,
           codes: np.ndarray | None) -> tuple[float, np.ndarray]:
    """T(y) for the observed vector and T(y^rep) for every row of ``rep`` (shape (S, n))."""
    if isinstance(stat, str):
        fn = STATISTICS[stat]
        return float(fn(obs, codes)), np.asarray(fn(rep, codes), dtype=float)
    t_obs = _scalar(name, stat(obs))
    try:  # vectorised over leading axes?
        vec = np.asarray(stat(rep), dtype=float)
        ok = vec.shape == rep.shape[:1] and np.isclose(vec[0], _scalar(name, stat(rep[0])))
    except Exception:  # noqa: BLE001 - any failure means "apply per draw"
        ok = False
    if not ok:
        vec = np.array([_scalar(name, stat(r)) for r in rep])
    return t_obs, vec


def _pp_group(idata: az.InferenceData, group: str) -> xr.Dataset:
    name = "posterior_predictive" if group == "posterior" else "prior_predictive"
    _check_idata(idata, (name, "observed_data"))
    return getattr(idata, name)


def _obs_and_rep(idata: az.InferenceData, var_name: str, group: str
                 ) -> tuple[np.ndarray, xr.DataArray, np.ndarray | None]:
    if var_name not in PREDICTIVE_VARS:
        raise ValueError(f"Requested var_name {var_name!r} but it must be one of "
                         f"{tuple(PREDICTIVE_VARS)}.")
    group = _check_group(group)
    pp = _pp_group(idata, group)
    obs_name = PREDICTIVE_VARS[var_name]
    if var_name not in pp or obs_name not in idata.observed_data:
        raise ValueError(f"`var_name` {var_name!r} is not in the {group} predictive draws (or "
                         f"{obs_name!r} not in observed_data); draw it with "
                         f"{group}_predictive_draws (y_rows needs rows, y_mixed mu and tau).")
    obs = idata.observed_data[obs_name]
    rep = pp[var_name]
    codes = None
    if var_name == "y_rows":
        groups = pd.Index(idata.observed_data["group"].values)
        codes = groups.get_indexer(obs["obs_group"].values)
    return obs.values, rep, codes


def t_statistic(
    idata: az.InferenceData, stat: StatLike, *, var_name: str = "y", group: Group = "posterior",
) -> tuple[float, xr.DataArray]:
    """The test statistic on the observed data and on every predictive draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`posterior_predictive_draws` or :func:`prior_predictive_draws`.
    stat : str or callable
        A name in :data:`STATISTICS` (``min``, ``max``, ``mean``, ``sd`` (ddof=1), ``range``,
        ``spread`` = sd of the group means), or a callable taking one dataset's values (the
        group means for ``y``/``y_mixed``, the rows for ``y_rows``) and returning a number;
        it may be vectorised over leading axes (then it is called once on all draws).
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
        Which replicated variable; ``y_mixed`` is compared with the observed ``y``.
    group : {"posterior", "prior"}, default "posterior"

    Returns
    -------
    T_obs : float
    T_rep : xarray.DataArray, dims (chain, draw)
    """
    (name, stat), = _resolve_stats([stat])
    obs, rep, codes = _obs_and_rep(idata, var_name, group)
    rep = rep.transpose("chain", "draw", ...)
    flat = rep.values.reshape(-1, rep.shape[-1])
    t_obs, t_rep = _apply(name, stat, obs, flat, codes)
    da = xr.DataArray(t_rep.reshape(rep.shape[:2]), dims=("chain", "draw"),
                      coords={"chain": rep["chain"], "draw": rep["draw"]}, name=name)
    return t_obs, da


def _p_value(t_obs: float, t_rep: xr.DataArray) -> tuple[float, float]:
    """p = mean(1[T_rep >= T_obs]) and its MC se sqrt(p (1 - p) / ESS(indicator))."""
    ind = (t_rep.values >= t_obs).astype(float)
    p = float(ind.mean())
    if p in (0.0, 1.0):
        return p, 0.0
    ess = float(az.ess(ind))
    if not np.isfinite(ess) or ess <= 0:
        ess = float(ind.size)
    return p, float(np.sqrt(p * (1 - p) / ess))


def ppc_table(
    idata: az.InferenceData,
    stats: StatLike | Sequence[StatLike] | Mapping[str, StatLike] | None = None,
    *,
    var_name: str = "y",
    group: Group = "posterior",
) -> pd.DataFrame:
    r"""Predictive p-values ``p_T = P(T(y^rep) >= T(y) | y)`` for several test statistics.

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`posterior_predictive_draws` (``group="posterior"``) or
        :func:`prior_predictive_draws` (``group="prior"``).
    stats : name, callable, sequence or mapping of them, optional
        Default ``("min", "max", "mean", "sd", "range")``, and ``"spread"`` for ``y_rows`` (for
        the group-level variables spread *is* sd); see :func:`t_statistic`.
        A mapping gives the row names; callables are otherwise named by ``__name__``.
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
    group : {"posterior", "prior"}, default "posterior"

    Returns
    -------
    pandas.DataFrame
        Indexed by ``statistic``; columns ``T_obs``, ``mean_rep`` (mean of T(y^rep)),
        ``p_value`` = ``(1/S) sum_s 1[T(y^rep,s) >= T(y)]`` and ``mc_se`` =
        ``sqrt(p (1 - p) / ESS)`` with ArviZ's ESS of the indicator (0 when p is 0 or 1: then
        p < 1/S or p > 1 - 1/S).  p-values near 0 or 1 flag misfit.
    """
    rows = []
    for name, stat in _resolve_stats(stats, var_name):
        t_obs, t_rep = t_statistic(idata, stat, var_name=var_name, group=group)
        p, se = _p_value(t_obs, t_rep)
        rows.append({"statistic": name, "T_obs": t_obs, "mean_rep": float(t_rep.mean()),
                     "p_value": p, "mc_se": se})
    table = pd.DataFrame(rows).set_index("statistic")
    table.attrs.update(var_name=var_name, group=group,
                       definition="p_value = P(T(y_rep) >= T(y) | y)")
    p = table["p_value"]
    extreme = table[(p < P_EXTREME) | (p > 1 - P_EXTREME)]
    if len(extreme):
        what = ("the fitted model rarely reproduces" if group == "posterior" else
                "the prior predictive distribution rarely reaches (a prior-data conflict)")
        items = ", ".join(f"{k} (T_obs {v.T_obs:.4g}, p = {v.p_value:.3g})"
                          for k, v in extreme.iterrows())
        warnings.warn(
            f"hiermodel predictive check: extreme p-values for `{var_name}`: {items}; "
            f"{what} these features of the data. Look at the groups behind them (an outlying "
            "group, a wrong scale, a missing covariate), check the priors, and compare models "
            "(compare_pooling / compare_loo).", PredictiveCheckWarning, stacklevel=2)
    return table


# ----------------------------------------------------------------------------- plots
def plot_test_statistics(
    idata: az.InferenceData,
    stats: StatLike | Sequence[StatLike] | Mapping[str, StatLike] | None = None,
    *,
    var_name: str = "y",
    group: Group = "posterior",
    bins: int = 30,
    ncols: int = 3,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Histograms of ``T(y^rep)``, one axis per statistic, the observed ``T(y)`` marked.

    Each axis is titled ``"<statistic>  (p = <p_value>)"`` and holds one vertical line at
    ``T_obs``.  Parameters as in :func:`ppc_table`; ``bins`` for the histograms, ``ncols``
    axes per row.  Returns a ``matplotlib.figure.Figure`` (made without pyplot: safe headless,
    never shown).
    """
    bins, ncols = positive_int("bins", bins), positive_int("ncols", ncols)
    items = _resolve_stats(stats, var_name)
    ncols = min(ncols, len(items))
    nrows = -(-len(items) // ncols)
    fig = Figure(figsize=figsize or (3.6 * ncols, 2.9 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    rep_label = {"y": "y^rep", "y_mixed": "y^mixed", "y_rows": "y_rows^rep"}.get(var_name,
                                                                                 var_name)
    for ax, (name, stat) in zip(axes, items, strict=False):
        t_obs, t_rep = t_statistic(idata, stat, var_name=var_name, group=group)
        p, _ = _p_value(t_obs, t_rep)
        ax.hist(t_rep.values.ravel(), bins=bins, color="C0", alpha=0.7, label="T(y^rep)")
        ax.axvline(t_obs, color="k", lw=2, label="T(y) observed")
        ax.set_title(f"{name}  (p = {p:.3f})")
        ax.set_xlabel(f"{name}({rep_label})")
        ax.set_ylabel("draws")
    for ax in axes[len(items):]:
        fig.delaxes(ax)
    axes[0].legend(fontsize="small")
    fig.suptitle(f"{group} predictive check of {var_name}: P(T(y^rep) >= T(y))")
    return fig


def plot_ppc(
    idata: az.InferenceData,
    *,
    var_name: str = "y",
    group: Group = "posterior",
    kind: Literal["kde", "cumulative", "scatter"] = "kde",
    num_pp_samples: int | None = 100,
    figsize: tuple[float, float] | None = None,
    **kwargs: Any,
) -> Figure:
    """ArviZ's ``plot_ppc`` of one replicated variable against the observed data.

    ``var_name="y_mixed"`` is drawn against the observed ``y``.  ``num_pp_samples`` (default
    100) and ``kind`` are passed on, as are further ``arviz.plot_ppc`` keyword arguments.
    Returns the ``matplotlib.figure.Figure`` (made without pyplot: safe headless).
    """
    obs, _, _ = _obs_and_rep(idata, var_name, group)
    obs_name = PREDICTIVE_VARS[var_name]
    fig = Figure(figsize=figsize or (6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    with warnings.catch_warnings():  # arviz's own use of a deprecated matplotlib helper
        warnings.filterwarnings("ignore", message=".*alias_mapping.*")
        az.plot_ppc(idata, kind=kind, group=group, var_names=[obs_name],
                    data_pairs={obs_name: var_name}, num_pp_samples=num_pp_samples, ax=ax,
                    show=False, **kwargs)
    return fig


# ----------------------------------------------------------------------------- pooling
def no_pooling_prior_sd(data: HierData, mu0: float = 0.0) -> float:
    r"""The default prior sd of the no-pooling model, ``s = 10 max(max_i |ybar_i - mu0|,
    max_i se_i)``.

    The rule makes ``theta_i ~ N(mu0, s^2)`` weak on the data's own scale: the posterior is
    ``N(mu0 + w_i (ybar_i - mu0), w_i se_i^2)`` with ``w_i = s^2 / (s^2 + se_i^2) >= 0.99``,
    so no group's estimate moves more than 1% of its distance to ``mu0`` -- it is the seed's
    no-pooling estimate ``ybar_i`` up to 1%.  (For unknown sigma ``se_i`` is the plug-in.)
    """
    data = check_data(data)
    return float(10.0 * max(np.max(np.abs(data.means - mu0)), np.max(data.se)))


@dataclass(frozen=True)
class _PoolingSpec(ModelSpec):
    """A pooling model's spec: also records the pooling and the no-pooling prior of theta_i
    (``N(mu0, s^2)``), which :func:`integrated_log_likelihood` needs, in the fit's attrs."""

    pooling: str = ""
    mu0: float = float("nan")
    sd: float = float("nan")

    def attrs(self) -> dict[str, Any]:
        out = {**super().attrs(), "pooling": self.pooling}
        if self.pooling == "no_pooling":
            out.update(no_pooling_mu0=self.mu0, no_pooling_sd=self.sd)
        return out


def _pooling_spec(data: HierData, pooling: str, priors: Priors, mu0: float = float("nan"),
                  sd: float = float("nan")) -> ModelSpec:
    return _PoolingSpec(parameterization=pooling.replace("_", "-"),
                        centering=(float("nan"),) * data.n_groups, priors=priors,
                        likelihood="sufficient", sigma_known=data.sigma_known,
                        groups=data.groups, pooling=pooling, mu0=float(mu0), sd=float(sd))


def _likelihood(data: HierData, priors: Priors, theta) -> None:
    if data.sigma_known:
        known_sigma_likelihood(data, theta, "sufficient")
    else:
        unknown_sigma_likelihood(data, priors, theta, "sufficient")


def pooling_model(
    data: HierData,
    pooling: Literal["complete_pooling", "no_pooling", "partial_pooling"],
    priors: Priors | None = None,
    *,
    sd: float | None = None,
    parameterization: str = "marginal",
) -> pm.Model:
    r"""One of the seed text's three pooling strategies as a Bayesian model (sufficient statistics).

    * ``"complete_pooling"``: ``mu ~ priors' mu prior``, ``theta_i = mu`` (Deterministic),
      ``ybar_i ~ N(mu, se_i^2)``.
    * ``"no_pooling"``: ``theta_i ~ N(mu0, s^2)`` independently, ``mu0 = priors.mu_mean``,
      ``s = sd`` or :func:`no_pooling_prior_sd` by default; ``ybar_i ~ N(theta_i, se_i^2)``.
    * ``"partial_pooling"``: the hierarchical model, :func:`hiermodel.models.build_model`.

    When sigma is unknown, every model has ``sigma ~ priors' sigma prior``, ``se_i = sigma /
    sqrt(n_i)`` and the ``ss_i`` term, as the hierarchical model.  The models are registered
    (:func:`hiermodel.models.register_model`), so :func:`hiermodel.fit.fit` samples them and
    adds the per-group log-likelihood; its ``posterior.attrs`` then record ``pooling`` and,
    for no pooling, ``no_pooling_mu0`` and ``no_pooling_sd`` (used by
    :func:`integrated_log_likelihood`).
    """
    data = check_data(data)
    priors = resolve_priors(priors, data)
    if pooling not in POOLING:
        raise ValueError(f"Requested pooling {pooling!r} but it must be one of {POOLING}.")
    if pooling == "partial_pooling":
        return build_model(data, parameterization, priors)
    mu0 = 0.0 if priors.mu == "flat" else priors.mu_mean
    s = no_pooling_prior_sd(data, mu0) if sd is None else _positive_real("sd", sd)
    with pm.Model(coords={"group": list(data.groups)}) as model:
        if pooling == "complete_pooling":
            mu = mu_prior(priors)
            theta = pm.Deterministic("theta", mu + pt.zeros(data.n_groups), dims="group")
        else:
            theta = pm.Normal("theta", mu=mu0, sigma=s, dims="group")
        _likelihood(data, priors, theta)
    spec = _pooling_spec(data, pooling, priors, mu0, s)
    return register_model(model, spec, data)


# ----------------------------------------------------------------------------- LOO
Likelihood = Literal["integrated", "conditional"]


def _check_likelihood(likelihood: Any) -> str:
    if likelihood not in LOO_LIKELIHOODS:
        raise ValueError(f"Requested likelihood {likelihood!r} but it must be one of "
                         f"{LOO_LIKELIHOODS}.")
    return likelihood


def _pooling_of(idata: az.InferenceData) -> str:
    """Which of :data:`POOLING` a fit is, from its attrs (or, for fits that predate them,
    its parameterization and parameters)."""
    post = idata.posterior
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


def integrated_log_likelihood(idata: az.InferenceData) -> xr.DataArray:
    r"""Pointwise log-likelihood with theta_i integrated out: one value per draw and group.

    The density of a group's data given the parameters that the *other* groups inform,
    which is what leave-one-group-out PSIS-LOO importance-samples (``likelihood=
    "integrated"`` in :func:`compare_loo`)::

        complete pooling   log N(ybar_i | mu, se_i^2)              (theta_i = mu)
        no pooling         log N(ybar_i | mu0, s^2 + se_i^2)       (theta_i ~ N(mu0, s^2))
        partial pooling    log N(ybar_i | mu, tau^2 + se_i^2)      (theta_i ~ N(mu, tau^2))

    When sigma is unknown, ``se_i = sigma / sqrt(n_i)`` per draw and ``log Gamma(ss_i |
    (n_i - 1)/2, rate 1/(2 sigma^2))`` is added (ss_i does not depend on theta_i).  For no
    pooling with known se_i no term depends on the posterior: leaving a group out leaves
    its prior predictive, and the LOO value is exact.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`hiermodel.fit.fit` of the hierarchical model (any
        parameterization) or of a :func:`pooling_model`: its ``posterior`` (mu[, tau][,
        sigma]), ``observed_data`` (y[, ss]) and ``constant_data`` (se or n).  The model is
        read from ``posterior.attrs["pooling"]`` (pooling models) or else taken to be the
        hierarchical one; no pooling needs ``no_pooling_mu0`` and ``no_pooling_sd`` there.

    Returns
    -------
    xarray.DataArray
        Named ``"y"``, dims ``(chain, draw, group)``, the fit's labels.
    """
    idata = _check_idata(idata, ("posterior", "observed_data", "constant_data"))
    post, obs, const = idata.posterior, idata.observed_data, idata.constant_data
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
    ll = xr.apply_ufunc(stats.norm.logpdf, obs["y"], loc, np.sqrt(var))
    if unknown:
        shape = (const["n"] - 1) / 2
        ll = ll + xr.apply_ufunc(stats.gamma.logpdf, obs["ss"], shape, 0.0, 2 * sigma**2)
    draws = xr.zeros_like(post["chain"] + post["draw"], dtype=float)  # (chain, draw) template
    return (ll + draws).transpose("chain", "draw", "group").rename("y")


def _pointwise(name: str, idata: az.InferenceData, likelihood: str) -> xr.DataArray:
    if likelihood == "integrated":
        ll = integrated_log_likelihood(idata)
    else:
        _check_idata(idata, ("posterior", "log_likelihood"))
        ll = idata.log_likelihood.get("y")
    if ll is None or ll.dims != ("chain", "draw", "group"):
        raise ValueError(f"`fits`: {name!r} needs log_likelihood['y'] with one value per "
                         "group (dims chain, draw, group), as hiermodel.fit adds.")
    return ll


def _loo(idata: az.InferenceData, ll: xr.DataArray):
    """arviz.loo on ``ll``.  A group whose log-likelihood is the same at every draw (no
    pooling, known se_i, integrated) has equal importance weights: its LOO value is exact,
    and its Pareto k, which ArviZ returns as inf, is set to -inf (a tail-less, degenerate
    distribution of the ratios)."""
    src = az.InferenceData(posterior=idata.posterior, log_likelihood=xr.Dataset({"y": ll}))
    with warnings.catch_warnings():  # reported once, as a ParetoKWarning, by compare_loo
        warnings.filterwarnings("ignore", message=".*[Pp]areto.*")
        warnings.filterwarnings("ignore", message=".*point-wise LOO is the same.*")
        elpd = az.loo(src, pointwise=True, var_name="y")
    good_k = elpd.get("good_k")
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


def compare_loo(fits: Mapping[str, az.InferenceData], *,
                likelihood: Likelihood = "integrated") -> pd.DataFrame:
    r"""Rank fits of the same groups by leave-one-group-out PSIS-LOO (``arviz.compare``).

    Parameters
    ----------
    fits : mapping of str to arviz.InferenceData
        Fits from :func:`hiermodel.fit.fit` (of the hierarchical model or a
        :func:`pooling_model`) of the same data.  Each scores one value per *group*, so
        PSIS-LOO leaves out one group at a time.
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
    likelihood = _check_likelihood(likelihood)
    labels = None
    loo = {}
    for name, idata in fits.items():
        _check_idata(idata, ("posterior",))
        ll = _pointwise(name, idata, likelihood)
        these = list(ll["group"].values)
        if labels is not None and these != labels:
            raise ValueError(f"`fits`: {name!r} was fitted to other groups than the rest.")
        labels = these
        loo[name] = _loo(idata, ll)
    with warnings.catch_warnings():  # arviz's own pandas deprecation noise
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        table = az.compare(loo, ic="loo")
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
) -> tuple[pd.DataFrame, dict[str, az.InferenceData]]:
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
        Of the hierarchical fit (:func:`hiermodel.fit.fit`).
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
    data = check_data(data)
    likelihood = _check_likelihood(likelihood)
    priors = resolve_priors(priors, data)
    seed = resolve_seed(seed)
    s = (no_pooling_prior_sd(data, 0.0 if priors.mu == "flat" else priors.mu_mean)
         if no_pooling_sd is None
         else _positive_real("no_pooling_sd", no_pooling_sd))
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
