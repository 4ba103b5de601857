"""What a comparison reads off a fit: its group dimension, its data, its priors and its exact
posterior.

A fit of the three-level normal model -- from :func:`hiermodel.fit`, from
:meth:`hiermodel.shrinkage.ExactPosterior.sample`, or another PyMC/ArviZ fit such as ArviZ's
``centered_eight`` -- may name its group dimension anything (:func:`normalize_group_dim`
renames it ``group``).  Fits carry their data (``observed_data``/``constant_data``:
:func:`data_from_idata` rebuilds the :class:`~hiermodel.data.HierData`) and their priors
(``posterior.attrs``: :func:`fit_priors`); a ``data`` passed with a fit that carries its own
must be that data (:func:`resolve_data`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import stack
from .._validate import check_method
from ..core import EB_METHODS, shrinkage_weights
from ..data import HierData
from ..exceptions import HierModelWarning
from ..priors import Priors
from ..shrinkage import exact_posterior
from ..stack import check_fitted

if TYPE_CHECKING:
    from ..stack import Result

__all__ = [
    "normalize_group_dim", "data_from_idata", "resolve_data", "fit_priors", "posterior_weights",
    "exact_for_fit", "priors_text", "method_name", "group_labels", "stored_data",
    "check_eb_method", "SAMPLE",
]

#: the sample dimensions of a posterior
SAMPLE = ("chain", "draw")


def _group_dim(idata: Result, name: str = "idata") -> str:
    """The group dimension of ``idata``: the one non-(chain, draw) dim of posterior theta."""
    dims = stack.group(idata, "posterior")["theta"].dims
    other = [d for d in dims if d not in SAMPLE]
    if not set(SAMPLE) <= set(dims) or len(other) != 1:
        raise ValueError(f"`{name}`: posterior theta has dims {dims}; it needs (chain, draw) "
                         "and one group dimension (e.g. 'group' or ArviZ's 'school').")
    return str(other[0])


def normalize_group_dim(idata: Any, name: str = "idata") -> tuple[Result, str]:
    """``(idata with its group dimension renamed to 'group', the original dim name)``.

    ``idata`` must be InferenceData whose posterior holds ``mu``, ``tau`` and ``theta``
    (dims chain, draw and one group dim of any name).  The renamed copy shares the arrays.
    """
    idata = check_fitted(idata, ("posterior",), name)
    missing = [v for v in ("mu", "tau", "theta") if v not in stack.group(idata, "posterior")]
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



def check_eb_method(eb_method: Any) -> str:
    return check_method(eb_method, EB_METHODS, "eb_method")


def group_labels(values: np.ndarray) -> tuple:
    return tuple(np.asarray(values).tolist())


def _observed_y(obs: xr.Dataset) -> str | None:
    """The observed group means: ``y``, else the one observed variable on ``group``."""
    if "y" in obs and obs["y"].dims == ("group",):
        return "y"
    on_group = [str(k) for k, v in obs.data_vars.items() if v.dims == ("group",)]
    return on_group[0] if len(on_group) == 1 else None


def stored_data(idata: Result) -> dict[str, np.ndarray]:
    """What the (normalized) ``idata`` records of its data: any of ``means``, ``se``,
    ``ss``, ``n``, ``sigma`` (arrays on ``group``)."""
    out: dict[str, np.ndarray] = {}
    have = set(stack.groups(idata))
    if "observed_data" in have:
        obs = stack.group(idata, "observed_data")
        y = _observed_y(obs)
        if y is not None:
            out["means"] = np.asarray(obs[y].values, float)
        if "ss" in obs:
            out["ss"] = np.asarray(obs["ss"].values, float)
    if "constant_data" in have:
        const = stack.group(idata, "constant_data")
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


def data_from_idata(idata: Result) -> HierData:
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
    if "posterior" in have and "theta" in stack.group(idata, "posterior"):
        idata = normalize_group_dim(idata)[0]
    elif "group" not in stack.group(idata, "observed_data").dims:
        raise ValueError("`idata` has no posterior theta to name its group dimension and "
                         "its observed_data has no 'group' dimension: pass `data=`.")
    stored = stored_data(idata)
    if "means" not in stored:
        raise ValueError("`idata`: observed_data has no `y` (nor a single variable on the "
                         "group dimension): pass the HierData as `data=`.")
    if "se" not in stored:
        raise ValueError("`idata`: constant_data has neither `se` nor `sigma` (with or "
                         "without `n`): the sampling sds are unknown; pass the HierData as "
                         "`data=`.")
    groups = group_labels(stack.group(idata, "observed_data")["group"].values)
    const = stack.group(idata, "constant_data")
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


def _check_same_data(idata: Result, data: HierData, name: str,
                     source: str | None = None) -> None:
    """Raise when ``data`` is not the data stored in ``idata`` (values, not just labels).
    ``source``: where ``data`` came from when the user did not pass it."""
    stored = stored_data(idata)
    const = (stack.group(idata, "constant_data") if "constant_data" in stack.groups(idata)
             else xr.Dataset())
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


def resolve_data(idata: Result, data: HierData | None,
                  name: str = "idata", source: str | None = None) -> HierData:
    """``data`` (checked against ``idata``'s posterior labels and stored data) or the data
    rebuilt from ``idata``.  ``idata`` is normalized (group dim named ``group``);
    ``source`` names where ``data`` came from when the user did not pass it."""
    data = data_from_idata(idata) if data is None else HierData.check(data, covariates=True)
    post = group_labels(stack.group(idata, "posterior")["group"].values)
    if post != tuple(data.groups) and source is not None:
        raise ValueError(f"`{name}`'s posterior has groups {list(post)[:8]} but {source} has "
                         f"{list(data.groups)[:8]}: compare fits of the same data only.")
    if post != tuple(data.groups):
        raise ValueError(f"`data` has groups {list(data.groups)[:8]} but `{name}`'s posterior "
                         f"has {list(post)[:8]}: pass the data the posterior was fitted to "
                         "(with the posterior's labels) or omit `data=`.")
    _check_same_data(idata, data, name, source)
    return data


def _prior_key(p: Priors) -> tuple:
    """What defines the prior distributions (not how they were set)."""
    return (p.mu, p.mu_mean, p.mu_sd, p.tau, p.tau_scale, p.sigma, p.sigma_scale,
            p.beta_mean, p.beta_sd)


def fit_priors(idata: Result, priors: Priors | None = None,
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
    attrs = stack.group(idata, "posterior").attrs
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




def _group_se(posterior: xr.Dataset, data: HierData) -> np.ndarray:
    """``se_i``: fixed when sigma is known, per draw ``sigma / sqrt(n_i)`` when estimated."""
    if data.sigma_known or "sigma" not in posterior:
        return np.asarray(data.se, float)
    sigma = posterior["sigma"].transpose(*SAMPLE).values
    return sigma[..., None] / np.sqrt(np.asarray(data.n, float))


def posterior_weights(idata: Result, data: HierData) -> xr.DataArray:
    """Per-draw shrinkage weights ``w_i = tau^2 / (tau^2 + se_i^2)``, dims (chain, draw,
    <group dim>) -- the group dimension named as in ``idata`` (``group``, ``school``...)."""
    idata, dim = normalize_group_dim(idata)
    post = stack.group(idata, "posterior")
    tau = post["tau"].transpose(*SAMPLE).values
    w = shrinkage_weights(_group_se(post, data), tau)
    return xr.DataArray(w, dims=("chain", "draw", dim),
                        coords={dim: post["group"].values}, name="weight")


def _exact_applies(data: HierData, idata: Result) -> bool:
    if data.sigma_known:
        return "sigma" not in stack.group(idata, "posterior")
    return "sigma" in stack.group(idata, "posterior") and not data.has_covariates


def exact_for_fit(data: HierData, idata: Result, priors: Priors | None):
    """The exact posterior when it applies (known sampling sds, or raw rows with sigma
    unknown and no covariates: the (tau, sigma) grid), else None."""
    if not _exact_applies(data, idata):
        return None
    return exact_posterior(data, fit_priors(idata, priors, data))


def priors_text(idata: Result, exact: Any) -> str:
    """The priors behind the table: the exact posterior's, else those recorded."""
    if exact is not None and isinstance(getattr(exact, "priors", None), Priors):
        return exact.priors.describe()
    recorded = Priors.from_attrs(stack.group(idata, "posterior").attrs)
    if recorded is not None:
        return recorded.describe()
    return str(stack.group(idata, "posterior").attrs.get("priors", ""))




def method_name(idata: Result) -> str:
    attrs = stack.group(idata, "posterior").attrs
    return str(attrs.get("parameterization", attrs.get("method", "?")))
