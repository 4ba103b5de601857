r"""Predictive draws and checks: one prior-predictive path, one posterior-predictive path,
test statistics with p-values.

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

The draws are numpy draws from a seeded ``numpy.random.Generator`` (:func:`predictive_draws`):
given the parameters every replicate is normal (``ss`` a scaled chi-square), so no PyMC graph
is compiled or sampled.  The predictive graphs of :mod:`hiermodel.model`
(:func:`~hiermodel.model.prior_model`, :func:`~hiermodel.model.posterior_model`) stay the
definition of these distributions; the tests draw from both and compare.
:func:`hiermodel.sampling.fit` with ``posterior_predictive=True`` calls
:func:`posterior_predictive`.

**Test statistics and posterior predictive p-values** (BDA3 section 6.3)::

      p_T = P(T(y^rep) >= T(y) | y) ~= (1/S) sum_s 1[T(y^rep,s) >= T(y)]

with Monte Carlo standard error ``sqrt(p (1 - p) / ESS)``, where ESS is ArviZ's effective
sample size of the indicator ``1[T(y^rep,s) >= T(y)]`` over (chain, draw).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from . import stack
from ._validate import check_method, check_positive_int, check_positive_number, resolve_seed
from ._version import __version__
from .data import HierData, group_coord
from .exceptions import PredictiveCheckWarning
from .model_spec import HierModel, constant_data, label_groups, observed_data, prior_values
from .priors import Priors
from .stack import check_fitted

if TYPE_CHECKING:
    from .stack import Result

__all__ = [
    "prior_predictive", "posterior_predictive", "t_statistic", "ppc_table", "p_value",
    "resolve_stats", "observed_and_replicated", "P_EXTREME", "STATISTICS", "DEFAULT_STATS",
    "PREDICTIVE_VARS", "predictive_draws",
]

#: replicated variables and the observed variable each one is compared with
PREDICTIVE_VARS = {"y": "y", "y_mixed": "y", "y_rows": "y_rows", "ss": "ss"}
#: predictive p-values below this or above 1 - this are warned about
P_EXTREME = 0.01
Group = Literal["posterior", "prior"]
StatLike = str | Callable[[np.ndarray], Any]


# ----------------------------------------------------------------------------- validation
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
        return check_positive_number(se_new, "se_new"), None
    if n_new is None:
        return None, None
    n_new = check_positive_int(n_new, "n_new")
    if data.sigma_known and data.sigma is None:
        raise ValueError("`n_new` needs a within-group sd, which estimates-form data lack; "
                         "pass `se_new` instead.")
    if data.sigma is not None and not np.allclose(data.sigma, data.sigma[0]):
        raise ValueError("`n_new`: sigma differs between groups, so se_new = sigma / "
                         "sqrt(n_new) is ambiguous; pass `se_new` instead.")
    return None, n_new


def _attrs(kind: str, seed: int, rows: bool, se_new: float | None,
           n_new: int | None) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "arviz_version": version("arviz"),
        "inference_library": "hiermodel (numpy draws)",
        "inference_library_version": __version__,
        "kind": kind, "seed": seed, "rows": int(rows),
        "se_new": float("nan") if se_new is None else se_new,
        "n_new": -1 if n_new is None else n_new,
        "replication": "y: same groups; y_mixed: new theta_i ~ N(mu, tau^2) per group; "
                       "theta_new / y_new: one new group",
    }


def _normal(rng: np.random.Generator, mean: Any, sd: Any) -> np.ndarray:
    """``N(mean, sd^2)`` draws, broadcast over the shapes of ``mean`` and ``sd``."""
    mean, sd = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sd, float))
    return mean + sd * rng.standard_normal(mean.shape)


def predictive_draws(
    rng: np.random.Generator,
    data: HierData,
    theta: np.ndarray,
    sigma: np.ndarray | None = None,
    mu: np.ndarray | None = None,
    tau: np.ndarray | None = None,
    mean: np.ndarray | None = None,
    *,
    rows: bool = False,
    se_new: float | None = None,
    n_new: int | None = None,
) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    r"""The replicated and new-group draws given parameter draws, as numpy arrays.

    The same distributions as :func:`hiermodel.model.predictive_nodes` (the graph is the
    definition), drawn with ``rng`` in a fixed order, so one seed gives one result.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : HierData
        Gives ``se_i`` (or ``n_i``), the rows' groups and a known sigma.
    theta : array, shape (..., G)
        Group effects, one row per draw (leading axes: e.g. (chain, draw)).
    sigma : array, shape (...), optional
        The within-group sd per draw; needed when ``data`` has sigma unknown.
    mu, tau : arrays, shape (...), optional
        The population mean and sd per draw; with both, ``y_mixed``, ``theta_new`` (and
        ``y_new``) are drawn.
    mean : array, shape (..., G), optional
        Each group's population mean (``mu + (x_i - xbar)' beta`` with covariates); default
        ``mu``.
    rows, se_new, n_new
        As in :func:`prior_predictive`.

    Returns
    -------
    dict
        ``{name: (dims, values)}`` in the graph's order: ``y`` (``ybar_i^rep ~ N(theta_i,
        se_i^2)``), ``ss`` (``sigma^2 chi^2_{n_i - 1}``, 0 for a group of one row; sigma
        unknown), ``y_rows`` (``N(theta_i, sigma_i^2)`` per row), ``y_mixed``
        (``N(theta_i^mix, se_i^2)`` with ``theta_i^mix ~ N(mean_i, tau^2)``), ``theta_new ~
        N(mu, tau^2)`` and ``y_new ~ N(theta_new, se_new^2)``; dims after the leading
        ``("chain", "draw")``.
    """
    theta = np.asarray(theta, float)
    lead = theta.shape[:-1]
    out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    if data.sigma_known:
        se = np.asarray(data.se, float)
        sd_rows = None if not rows else np.asarray(data.sigma, float)[data.rows[1]]
    else:
        if sigma is None:
            raise ValueError("`sigma`: the data have sigma unknown; pass its draws.")
        sigma = np.asarray(sigma, float)[..., None]
        n = np.asarray(data.n, float)
        se = sigma / np.sqrt(n)
        sd_rows = sigma
    out["y"] = (("group",), _normal(rng, theta, se))
    if not data.sigma_known:
        # ss_i / sigma^2 ~ chi^2_{n_i - 1} = Gamma((n_i - 1)/2, scale 2); exactly 0 for n_i = 1
        some = n > 1
        shape = np.broadcast_to(np.where(some, (n - 1.0) / 2.0, 1.0), theta.shape)
        draw = rng.gamma(shape) * 2.0 * sigma**2
        out["ss"] = (("group",), np.where(some, draw, 0.0))
    if rows:
        idx = data.rows[1]
        out["y_rows"] = (("obs",), _normal(rng, theta[..., idx], sd_rows))
    if mu is None or tau is None:
        return out
    mu, tau = np.asarray(mu, float), np.asarray(tau, float)
    center = mu[..., None] if mean is None else np.asarray(mean, float)
    theta_mixed = _normal(rng, np.broadcast_to(center, theta.shape), tau[..., None])
    out["y_mixed"] = (("group",), _normal(rng, theta_mixed, se))
    theta_new = _normal(rng, np.broadcast_to(mu, lead), tau)
    out["theta_new"] = ((), theta_new)
    if se_new is not None or n_new is not None:
        if se_new is None:
            sig = float(data.sigma[0]) if data.sigma_known else sigma[..., 0]
            se_new = sig / np.sqrt(n_new)
        out["y_new"] = ((), _normal(rng, theta_new, se_new))
    return out


def _draws_dataset(draws: Mapping[str, tuple[tuple[str, ...], np.ndarray]], data: HierData,
                   rows: bool, chain: Any, draw: Any) -> xr.Dataset:
    """``{name: (dims, values)}`` with leading (chain, draw) as a Dataset with the model's
    coordinates (group labels, covariate names, ``obs`` with ``obs_group``)."""
    ds = xr.Dataset({k: (("chain", "draw", *dims), v) for k, (dims, v) in draws.items()},
                    coords={"chain": chain, "draw": draw})
    if rows and "obs" in ds.dims:
        ds = ds.assign_coords(obs=np.arange(ds.sizes["obs"]))
    return label_groups(ds, data, rows)


def prior_predictive(
    data: HierData,
    priors: Priors | None = None,
    *,
    draws: int = 1000,
    se_new: float | None = None,
    n_new: int | None = None,
    rows: bool | None = None,
    seed: int | None = None,
) -> Result:
    r"""Prior predictive draws of the hierarchical model, for the same groups and a new one.

    Draws ``mu``, ``tau`` from their priors, ``theta_i ~ N(mu, tau^2)`` (with covariates
    ``beta`` too and ``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)``), ``sigma`` (if unknown)
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
    if isinstance(data, HierModel):
        raise TypeError("`data` must be a HierData, got a HierModel; pass its data and priors: "
                        "prior_predictive(model.data, model.priors, ...).")
    data = HierData.check(data, covariates=True)
    priors = Priors.check(priors, data=data)
    if priors.mu == "flat":
        raise ValueError("`priors`: prior predictive draws need a proper prior on mu; the flat "
                         "prior (mu='flat') cannot be sampled. Pass Priors(mu='normal', ...).")
    draws = check_positive_int(draws, "draws")
    se_new, n_new = _new_group_se(data, se_new, n_new)
    rows = _use_rows(data, rows)
    seed = resolve_seed(seed)
    params, pp = _prior_draws(np.random.default_rng(seed), data, priors, draws, rows=rows,
                              se_new=se_new, n_new=n_new)
    attrs = {**_attrs("prior", seed, rows, se_new, n_new), **priors.to_attrs()}
    coords = {"chain": np.arange(1), "draw": np.arange(draws)}
    return stack.make_result(
        prior=_draws_dataset(params, data, rows, **coords).assign_attrs(attrs),
        prior_predictive=_draws_dataset(pp, data, rows, **coords).assign_attrs(attrs),
        observed_data=observed_data(data, rows), constant_data=constant_data(data))


def _prior_draws(rng: np.random.Generator, data: HierData, priors: Priors, draws: int, *,
                 rows: bool, se_new: float | None, n_new: int | None) -> tuple[dict, dict]:
    """Parameter draws from the priors of :func:`hiermodel.model.prior_model` (the same
    families and numbers: :meth:`Priors.mu_dist`, ``tau_dist``, ``sigma_dist`` and the
    normal slopes), theta_i ~ N(mu + (x_i - xbar)' beta, tau^2), then
    :func:`predictive_draws`.  Returns ``({param: (dims, values)}, {replicate: ...})``."""
    size = (1, draws)
    mu = priors.mu_dist().rvs(size=size, random_state=rng)
    tau = priors.tau_dist().rvs(size=size, random_state=rng)
    params: dict[str, tuple[tuple[str, ...], np.ndarray]] = {"mu": ((), mu), "tau": ((), tau)}
    mean = np.broadcast_to(mu[..., None], (*size, data.n_groups))
    beta = intercept = None
    if data.has_covariates:
        loc, scale = priors.beta_arrays(data.n_covariates)
        beta = _normal(rng, np.broadcast_to(loc, (*size, loc.size)), scale)
        intercept = mu - beta @ np.asarray(data.covariate_means, float)
        mean = mu[..., None] + beta @ np.asarray(data.centered_covariates, float).T
    theta = _normal(rng, mean, tau[..., None])
    params["theta"] = (("group",), theta)
    sigma = None
    if not data.sigma_known:
        scale = float(prior_values(data, priors)["sigma_scale"])
        sigma = replace(priors, sigma_scale=scale).sigma_dist().rvs(size=size,
                                                                    random_state=rng)
        params["sigma"] = ((), sigma)
    if beta is not None:
        params.update(beta=(("covariate",), beta), intercept=((), intercept))
    pp = predictive_draws(rng, data, theta, sigma, mu, tau, mean, rows=rows, se_new=se_new,
                          n_new=n_new)
    return params, pp


def _check_match(idata: Result, data: HierData) -> None:
    post = stack.group(idata, "posterior")
    if "theta" not in post:
        raise ValueError("`idata.posterior` has no `theta`: pass a fit of the hierarchical "
                         "model (hiermodel.sampling.fit) or of a pooling_model.")
    if "group" not in post.dims or list(post["group"].values) != list(group_coord(data.groups)):
        raise ValueError("`data` does not match `idata`: their groups differ; pass the HierData "
                         "the posterior was fitted to.")
    if not data.sigma_known and "sigma" not in post:
        raise ValueError("`data` has unknown sigma but `idata.posterior` has no `sigma`.")


def posterior_predictive(
    idata: Result,
    data: HierData | None = None,
    *,
    se_new: float | None = None,
    n_new: int | None = None,
    rows: bool | None = None,
    seed: int | None = None,
) -> Result:
    r"""Posterior predictive draws, one per posterior draw, for the same groups and a new one.

    With ``(mu, tau, theta, sigma)`` from each posterior draw: ``y`` (``ybar_i^rep ~
    N(theta_i, se_i^2)``), ``ss`` (if sigma is unknown), ``y_rows`` (``y_ij^rep ~ N(theta_i,
    sigma^2)``), and -- when the posterior has ``mu`` and ``tau`` -- ``y_mixed``, ``theta_new ~
    N(mu, tau^2)`` and ``y_new ~ N(theta_new, se_new^2)``.  So ``E[theta_new | y] = E[mu | y]``
    and ``Var[theta_new | y] = E[tau^2 | y] + Var[mu | y]``.  With covariates ``y_mixed``
    draws each group's ``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)`` and ``theta_new`` is a
    new group at the average covariates (``mu`` is the mean effect there).

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :func:`hiermodel.sampling.fit` (any parameterization) or of a
        :func:`~hiermodel.model.pooling_model`; its posterior needs ``theta`` (and ``sigma``
        if unknown).
    data : HierData, optional
        The data it was fitted to (for ``se_i`` and the rows).  Default: rebuilt from the
        fit's ``observed_data`` and ``constant_data``
        (:func:`hiermodel.comparison.data_from_idata`; no rows then).
    se_new, n_new, rows, seed
        As in :func:`prior_predictive`.  New-group draws need ``mu`` and ``tau`` (not
        available for the complete- and no-pooling models).

    Returns
    -------
    arviz.InferenceData
        A new object with ``idata``'s groups (``idata`` itself is not modified), a
        ``posterior_predictive`` group replacing any there was, and ``y_rows`` added to
        ``observed_data`` when rows are drawn.
    """
    idata = check_fitted(idata)
    if data is None:
        from .comparison import data_from_idata

        data = data_from_idata(idata)
    data = HierData.check(data, covariates=True)
    _check_match(idata, data)
    se_new, n_new = _new_group_se(data, se_new, n_new)
    rows = _use_rows(data, rows)
    seed = resolve_seed(seed)
    post = stack.group(idata, "posterior")
    present = {v for v in ("mu", "beta", "tau", "theta", "sigma") if v in post}
    if data.has_covariates and {"mu", "tau"} <= present and "beta" not in present:
        raise ValueError("`data` has covariates but `idata.posterior` has no `beta`: pass the "
                         "data the posterior was fitted to.")
    if (se_new is not None or n_new is not None) and not {"mu", "tau"} <= present:
        raise ValueError("`se_new`/`n_new`: a new group needs mu and tau in the posterior, i.e. "
                         "a fit of the hierarchical model.")
    draws = {v: post[v].transpose("chain", "draw", ...).values for v in present}
    mean = None
    if {"mu", "tau", "beta"} <= present and data.has_covariates:
        x = np.asarray(data.centered_covariates, float)
        mean = draws["mu"][..., None] + draws["beta"] @ x.T
    new = predictive_draws(np.random.default_rng(seed), data, draws["theta"],
                           draws.get("sigma"), draws.get("mu"), draws.get("tau"), mean,
                           rows=rows, se_new=se_new, n_new=n_new)
    pp = _draws_dataset(new, data, rows, chain=post["chain"].values, draw=post["draw"].values)
    pp = pp.assign_attrs(_attrs("posterior", seed, rows, se_new, n_new))
    groups = {g: stack.group(idata, g) for g in stack.groups(idata) if g != "posterior_predictive"}
    groups["observed_data"] = observed_data(data, rows)
    groups.setdefault("constant_data", constant_data(data))
    return stack.make_result(**groups, posterior_predictive=pp)


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


def resolve_stats(stats: Any, var_name: str = "y") -> list[tuple[str, StatLike]]:
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


def _pp_group(idata: Result, group: str) -> xr.Dataset:
    name = "posterior_predictive" if group == "posterior" else "prior_predictive"
    check_fitted(idata, (name, "observed_data"))
    return getattr(idata, name)


def observed_and_replicated(idata: Result, var_name: str, group: str
                 ) -> tuple[np.ndarray, xr.DataArray, np.ndarray | None]:
    if var_name not in PREDICTIVE_VARS:
        raise ValueError(f"Requested var_name {var_name!r} but it must be one of "
                         f"{tuple(PREDICTIVE_VARS)}.")
    group = check_method(group, ("posterior", "prior"), "group")
    pp = _pp_group(idata, group)
    obs_name = PREDICTIVE_VARS[var_name]
    if var_name not in pp or obs_name not in stack.group(idata, "observed_data"):
        raise ValueError(f"`var_name` {var_name!r} is not in the {group} predictive draws (or "
                         f"{obs_name!r} not in observed_data); draw it with "
                         f"{group}_predictive (y_rows needs rows, y_mixed mu and tau).")
    obs = stack.group(idata, "observed_data")[obs_name]
    rep = pp[var_name]
    if var_name == "ss" and "constant_data" in stack.groups(idata) \
            and "n" in stack.group(idata, "constant_data"):
        # a group of one row has ss = 0 in the data and in every replicate: it tells nothing
        # (and would pin min(ss) at 0, a p-value of 1 by ties), so the checks leave it out
        many = np.asarray(stack.group(idata, "constant_data")["n"].values) > 1
        obs, rep = obs.isel(group=many), rep.isel(group=many)
    codes = None
    if var_name == "y_rows":
        groups = pd.Index(stack.group(idata, "observed_data")["group"].values)
        codes = groups.get_indexer(obs["obs_group"].values)
    return obs.values, rep, codes


def t_statistic(
    idata: Result, stat: StatLike, *, var_name: str = "y", group: Group = "posterior",
) -> tuple[float, xr.DataArray]:
    """The test statistic on the observed data and on every predictive draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`posterior_predictive` or :func:`prior_predictive`.
    stat : str or callable
        A name in :data:`STATISTICS` (``min``, ``max``, ``mean``, ``sd`` (ddof=1), ``range``,
        ``spread`` = sd of the group means), or a callable taking one dataset's values (the
        group means for ``y``/``y_mixed``, the rows for ``y_rows``) and returning a number;
        it may be vectorised over leading axes (then it is called once on all draws).
    var_name : {"y", "y_mixed", "y_rows", "ss"}, default "y"
        Which replicated variable; ``y_mixed`` is compared with the observed ``y``; ``ss``
        leaves out the groups of one row (their ss is 0 in the data and every replicate).
    group : {"posterior", "prior"}, default "posterior"

    Returns
    -------
    T_obs : float
    T_rep : xarray.DataArray, dims (chain, draw)
    """
    (name, stat), = resolve_stats([stat])
    obs, rep, codes = observed_and_replicated(idata, var_name, group)
    rep = rep.transpose("chain", "draw", ...)
    flat = rep.values.reshape(-1, rep.shape[-1])
    t_obs, t_rep = _apply(name, stat, obs, flat, codes)
    da = xr.DataArray(t_rep.reshape(rep.shape[:2]), dims=("chain", "draw"),
                      coords={"chain": rep["chain"], "draw": rep["draw"]}, name=name)
    return t_obs, da


def p_value(t_obs: float, t_rep: xr.DataArray) -> tuple[float, float]:
    """p = mean(1[T_rep >= T_obs]) and its MC se sqrt(p (1 - p) / ESS(indicator))."""
    ind = (t_rep.values >= t_obs).astype(float)
    p = float(ind.mean())
    if p in (0.0, 1.0):
        return p, 0.0
    ess = stack.ess_array(ind)
    if not np.isfinite(ess) or ess <= 0:
        ess = float(ind.size)
    return p, float(np.sqrt(p * (1 - p) / ess))


def ppc_table(
    idata: Result,
    stats: StatLike | Sequence[StatLike] | Mapping[str, StatLike] | None = None,
    *,
    var_name: str = "y",
    group: Group = "posterior",
) -> pd.DataFrame:
    r"""Predictive p-values ``p_T = P(T(y^rep) >= T(y) | y)`` for several test statistics.

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`posterior_predictive` (``group="posterior"``) or
        :func:`prior_predictive` (``group="prior"``).
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
    for name, stat in resolve_stats(stats, var_name):
        t_obs, t_rep = t_statistic(idata, stat, var_name=var_name, group=group)
        p, se = p_value(t_obs, t_rep)
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
