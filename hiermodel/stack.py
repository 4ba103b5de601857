"""The one module that knows which PyMC / ArviZ stack is installed.

Python 3.11: PyMC 5.28 / ArviZ 0.23 (a fit is an ``arviz.InferenceData``).  Python >= 3.12:
PyMC >= 6.4 / ArviZ >= 1.3 (a fit is an ``xarray.DataTree``, which ArviZ 1 calls
InferenceData; statistics in arviz-stats, I/O in arviz-base, figures in arviz-plots).  Every
other module reads and writes results through these functions, so the differences (group
access, netCDF, HDI / LOO / compare / KDE / BFMI, the predictive-check figure) live here and
nowhere else.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    import arviz

ARVIZ_1 = int(version("arviz").split(".")[0]) >= 1
#: PyMC 6 (the stack of ArviZ 1); some keyword arguments of ``pm.sample`` differ
PYMC_6 = int(version("pymc").split(".")[0]) >= 6

#: The type of a fit, for annotations: ``arviz.InferenceData`` on ArviZ 0.23, an
#: ``xarray.DataTree`` on ArviZ 1.x (which calls it InferenceData).
Result: TypeAlias = Union["arviz.InferenceData", xr.DataTree]  # noqa: UP007


def is_result(obj: Any) -> bool:
    """A whole result (not one of its groups: on ArviZ 1.x a group is a DataTree too)."""
    if ARVIZ_1:
        return isinstance(obj, xr.DataTree) and obj.is_root and bool(obj.children)
    # ArviZ is imported on use: if it is not imported yet, nothing is an InferenceData
    az = sys.modules.get("arviz")
    return az is not None and isinstance(obj, az.InferenceData)


def as_dataset(obj: Any) -> Any:
    """A group node (DataTree on ArviZ 1.x -- which is a Mapping, not an xr.Dataset) as a
    Dataset; anything else unchanged."""
    return obj.to_dataset() if ARVIZ_1 and isinstance(obj, xr.DataTree) else obj


def rename_dims(idata, mapping: dict):
    """Rename a dimension in every group that has it (was ``InferenceData.rename``)."""
    if not ARVIZ_1:
        return idata.rename(mapping)
    return idata.map_over_datasets(
        lambda ds: ds.rename({k: v for k, v in mapping.items() if k in ds.dims}))


def groups(idata) -> list[str]:
    """Group names, e.g. ["posterior", "sample_stats"] (DataTree: child names; no "/")."""
    return list(idata.children) if ARVIZ_1 else list(idata.groups())


_group_names = groups     # check_fitted's argument `groups` hides the function


def check_fitted(idata: Any, groups: Sequence[str] = ("posterior",), name: str = "idata"):
    """``idata`` itself if it is ArviZ's result type holding every group in ``groups``, else
    a TypeError / ValueError that names what is missing."""
    if not is_result(idata):
        raise TypeError(f"`{name}` must be an arviz.InferenceData (from hiermodel.fit or "
                        f"ExactPosterior.sample), got {type(idata).__name__}.")
    have = _group_names(idata)
    missing = [g for g in groups if g not in have]
    if missing:
        raise ValueError(f"`{name}` has no {missing} group(s); it has {have}.")
    return idata


def group(idata, name: str) -> xr.Dataset:
    """A group as a plain ``xr.Dataset`` (a shallow copy on ArviZ 1.x: write back with
    :func:`set_group`)."""
    return idata[name].to_dataset() if ARVIZ_1 else getattr(idata, name)


def set_group(idata, name: str, ds: xr.Dataset) -> None:
    """Add or replace a group, in place.  (ArviZ 0.23's ``idata[name] = ds`` lists an
    existing group twice in ``groups()``.)"""
    if ARVIZ_1:
        idata[name] = ds
    elif name in idata.groups():
        setattr(idata, name, ds)
    else:
        idata.add_groups({name: ds})


def map_groups(idata, fn, **kw) -> None:
    """``fn(ds, **kw)`` on every group, in place (was ``InferenceData.map(inplace=True)``)."""
    for name in groups(idata):
        set_group(idata, name, fn(group(idata, name), **kw))


def make_result(**parts: xr.Dataset):
    """A new result from group Datasets (was ``az.InferenceData(**parts)``)."""
    parts = {k: (v.to_dataset() if isinstance(v, xr.DataTree) else v) for k, v in parts.items()}
    if ARVIZ_1:
        return xr.DataTree.from_dict(parts)
    import arviz as az

    return az.InferenceData(**parts)


def from_dict(data: dict[str, dict], *, coords=None, dims=None, attrs=None):
    """``{"posterior": {...}}`` -> result; ``attrs`` is ``{group: {...}}``."""
    import arviz as az

    if ARVIZ_1:
        return az.from_dict(data, coords=coords, dims=dims, attrs=attrs)
    kw = {f"{g}_attrs": a for g, a in (attrs or {}).items()}
    return az.from_dict(**data, coords=coords, dims=dims, **kw)


def from_netcdf(path: str):
    """Read a saved result fully into memory and close the file."""
    if ARVIZ_1:
        with xr.open_datatree(path) as dt:
            return dt.load()
    import arviz as az

    idata = az.from_netcdf(path)
    for name in idata.groups():
        getattr(idata, name).load()
    return idata


# ----------------------------------------------------------------------------- statistics
def hdi(ds: xr.Dataset, prob: float) -> xr.Dataset:
    """Highest-density interval of ``(chain, draw, ...)`` draws; dim ``bound`` ("lower",
    "upper") on both stacks (ArviZ 0.23: dim ``hdi`` "lower"/"higher", ``hdi_prob=``;
    1.x: dim ``ci_bound`` "lower"/"upper", ``prob=``)."""
    import arviz as az

    if ARVIZ_1:
        return az.hdi(ds, prob=prob).rename(ci_bound="bound")
    out = az.hdi(ds, hdi_prob=prob).rename(hdi="bound")
    return out.assign_coords(bound=["lower", "upper"])


def ess_array(x) -> float:
    """Bulk ESS of draws shaped (chain, draw) or (draw,) (1.x rejects 1-D arrays)."""
    import arviz as az

    x = np.asarray(x, dtype=float)
    return float(az.ess(x[None, :] if x.ndim == 1 else x))


def bfmi(idata) -> np.ndarray:
    """E-BFMI per chain (1.x returns a DataTree node, 0.23 an array)."""
    import arviz as az

    out = az.bfmi(idata)
    return np.asarray(out["energy"].values if ARVIZ_1 else out, dtype=float)


def kde(x, bounded: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(grid, density) of 1-D draws (1.x also returns the bandwidth)."""
    import arviz as az

    out = az.kde(np.asarray(x, dtype=float), bound_correction=bounded)
    return out[0], out[1]


def loo(idata, var_name: str = "y"):
    """PSIS-LOO, pointwise.  Observations whose log-likelihood is the same at every draw
    get uniform weights and k = -inf (exact); ArviZ 0.23 warns and returns k = inf there,
    arviz-stats 1.x raises "All tail values are the same"."""
    import arviz as az

    if not ARVIZ_1:
        return az.loo(idata, pointwise=True, var_name=var_name)
    ll = idata["log_likelihood"][var_name].transpose("chain", "draw", ...)
    flat = ll.values.reshape(ll.sizes["chain"] * ll.sizes["draw"], -1)
    const = np.all(flat == flat[:1], axis=0)
    if not const.any():
        return az.loo(idata, pointwise=True, var_name=var_name)
    dim = ll.dims[-1]
    lw = xr.full_like(ll, -np.log(flat.shape[0]))
    k = xr.full_like(ll.isel(chain=0, draw=0, drop=True), -np.inf)
    idx = np.flatnonzero(~const)
    if idx.size:
        lw_s, k_s = ll.isel({dim: idx}).azstats.psislw(dim=["chain", "draw"])
        lw[{dim: idx}] = lw_s.transpose(*ll.dims).values
        k[{dim: idx}] = k_s.values
    return az.loo(idata, pointwise=True, var_name=var_name, log_weights=lw, pareto_k=k)


def loo_get(elpd, key: str, default=None):
    """Read a field of a LOO result; old names (``elpd_loo``, ``p_loo``, ``loo_i``) map to
    1.x's (``elpd``, ``p``, ``elpd_i``)."""
    if not ARVIZ_1:
        return elpd.get(key, default)
    key = {"elpd_loo": "elpd", "p_loo": "p", "loo_i": "elpd_i"}.get(key, key)
    return getattr(elpd, key, default)


def _field(elpd, key: str):
    try:
        return elpd[key]
    except (KeyError, TypeError, AttributeError):
        return getattr(elpd, key, False)


def compare(loos: dict):
    """``az.compare`` on LOO results, columns as on ArviZ 0.23 (elpd_loo, p_loo, ...)."""
    import arviz as az

    if not ARVIZ_1:
        return az.compare(loos, ic="loo")
    table = az.compare(loos).rename(columns={"elpd": "elpd_loo", "p": "p_loo"})
    # 1.x rounds the table's numbers: take them from the LOO results themselves
    for col in ("elpd_loo", "p_loo", "se"):
        table[col] = [float(loo_get(loos[name], col if col != "se" else "se"))
                      for name in table.index]
    table["elpd_diff"] = table["elpd_loo"].max() - table["elpd_loo"]   # 0.23's sign: >= 0
    if "warning" not in table:                # 1.x has no such column
        table["warning"] = [bool(_field(loos[name], "warning")) for name in table.index]
    return table


# ----------------------------------------------------------------------------- figures
def draw_ppc(ax, observed: np.ndarray, replicated: np.ndarray, *, kind: str = "kde",
             num_pp_samples: int | None = 100, seed: int = 0, label: str = "Posterior",
             colors: tuple = ("C0", "k", "C1"), alpha: float = 0.2):
    """A predictive check in plain matplotlib (``az.plot_ppc`` is gone in ArviZ 1.x):
    ``replicated`` (sample, n) lines, ``observed`` (n,), the predictive mean dashed;
    ``colors`` = (replicated, observed, mean), ``alpha`` that of the replicated lines."""
    rep_color, obs_color, mean_color = colors
    rng = np.random.default_rng(seed)
    rep = np.asarray(replicated, dtype=float).reshape(-1, np.shape(observed)[-1])
    if num_pp_samples is not None and num_pp_samples < rep.shape[0]:
        rep = rep[rng.choice(rep.shape[0], num_pp_samples, replace=False)]
    obs = np.asarray(observed, dtype=float)

    def curve(v):
        if kind == "cumulative":
            x = np.sort(v)
            return x, np.arange(1, x.size + 1) / x.size
        x, d = kde(v, bounded=False)
        return x, d

    if kind == "scatter":
        for i, r in enumerate(rep):
            ax.plot(r, np.full(r.size, 0.1 + 0.8 * i / max(len(rep), 1)), ".", color=rep_color,
                    alpha=alpha, label=f"{label} predictive" if i == 0 else None)
        ax.plot(obs, np.zeros(obs.size), "o", color=obs_color, label="Observed")
    else:
        for i, r in enumerate(rep):
            ax.plot(*curve(r), color=rep_color, alpha=alpha, lw=0.8,
                    label=f"{label} predictive" if i == 0 else None)
        ax.plot(*curve(obs), color=obs_color, lw=1.8, label="Observed")
        ax.plot(*curve(rep.ravel()), color=mean_color, ls="--", lw=1.4,
                label=f"{label} predictive mean")
    ax.legend()
    return ax


def from_dict_kw(**groups):
    """Test helper: the 0.23 call form ``az.from_dict(posterior=..., coords=..., dims=...)``."""
    kw = {k: groups.pop(k) for k in ("coords", "dims") if k in groups}
    attrs = {k[:-6]: groups.pop(k) for k in list(groups) if k.endswith("_attrs")}
    return from_dict(groups, attrs=attrs or None, **kw)
