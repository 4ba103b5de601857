r"""Several fits of the same data as one tidy long table: :func:`compare_fits` (e.g. the
centered and non-centered forms and exact draws side by side, with their divergences)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import stack
from ..data import HierData
from ..diagnostics import count_divergences
from ..priors import Priors
from ..shrinkage import conditional_means
from .draw_summaries import draw_summary, resolve_interval_arguments
from .fit_inputs import SAMPLE, data_from_idata, exact_for_fit, normalize_group_dim, resolve_data

if TYPE_CHECKING:
    from ..stack import Result

__all__ = ["compare_fits", "check_fits"]


def check_fits(fits: Any, default_name: str = "?"
               ) -> tuple[dict[str, Result], dict[str, str]]:
    """``(name -> normalized InferenceData, name -> original group dim)`` for one fit or a
    dict of them; a single fit is named by its parameterization (or method), else
    ``default_name``."""
    if stack.is_result(fits):
        idata, dim = normalize_group_dim(fits, name="fits")
        attrs = stack.group(idata, "posterior").attrs
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


def _data_for_fits(fits: Mapping[str, Result],
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
    fits: Mapping[str, Result] | Result,
    data: HierData | None = None,
    *,
    priors: Priors | None = None,
    population: bool = True,
    interval: str | None = None,
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
    priors : Priors, optional
        Priors of the ``exact`` columns; default: those recorded in each fit
        (:func:`fit_priors`).
    population : bool, default True
        Also give rows for ``mu`` and ``tau`` (and ``sigma`` when estimated).
    interval : {"eti", "hdi"}, optional
        Central (equal-tailed) or highest-density credible intervals (as in
        :func:`compare`); default the package option, central unless set.
    prob : float, optional
        Their probability mass; default the package option, 0.95 unless set.

    Returns
    -------
    pandas.DataFrame
        One row per ``(method, variable, group)``: ``variable`` is ``"mu"``, ``"tau"``
        (``group`` None) or ``"theta"``; the group column is named after the fits' group
        dimension (``group`` for hiermodel fits, e.g. ``school`` when every fit uses that;
        ``group`` when they differ).  Columns ``mean``, ``sd``, ``<interval>_low``,
        ``<interval>_high`` (``eti_*`` or ``hdi_*``), ``mcse_mean``, ``ess_bulk``,
        ``r_hat`` (ArviZ, from the draws); ``rb_mean``, ``rb_mcse`` for ``theta`` (the
        Rao-Blackwellised mean ``(1/S) sum_s E[theta_i | y, mu_s, tau_s]`` as in
        :func:`compare`; NaN for the population rows); ``exact``, ``exact_sd`` (exact
        posterior; with sigma unknown on the (tau, sigma) grid, not with covariates);
        ``z_exact = (mean - exact) / mcse_mean``; and ``divergences`` (the fit's divergent
        transitions, :func:`hiermodel.diagnostics.count_divergences`; 0 without
        ``sample_stats``).  ``table.set_index(["method", "variable", "group"])`` gives the
        indexed form.  ``attrs``: ``interval``, ``prob``, ``group_dim``.
    """
    fits, dims = check_fits(fits)
    data, source = _data_for_fits(fits, data)
    interval, prob = resolve_interval_arguments(interval, prob)
    if not isinstance(population, bool):
        raise TypeError(f"`population` must be True or False, got {population!r}.")
    frames = []
    for name, idata in fits.items():
        resolve_data(idata, data, name=f"fits[{name!r}]", source=source)
        post = stack.group(idata, "posterior")
        exact = exact_for_fit(data, idata, priors)
        parts = []
        if population:
            for var in ("mu", "tau", "sigma"):
                if var not in post:
                    continue
                summ = draw_summary(post[var].transpose(*SAMPLE), interval, prob)
                row = {k: [float(v)] for k, v in summ.items()}
                row.update(variable=[var], group=[None], rb_mean=[np.nan], rb_mcse=[np.nan])
                if exact is not None and var in exact.mean:
                    row.update(exact=[float(exact.mean[var])], exact_sd=[float(exact.sd[var])])
                parts.append(pd.DataFrame(row))
        summ = draw_summary(post["theta"].transpose(*SAMPLE, "group"), interval, prob)
        frame = pd.DataFrame(summ)
        frame.insert(0, "group", list(data.groups))
        frame.insert(0, "variable", "theta")
        cond = conditional_means(idata, data)
        frame["rb_mean"] = cond.mean(SAMPLE).values
        import arviz as az

        frame["rb_mcse"] = az.mcse(cond.rename("x").to_dataset(), method="mean")["x"].values
        if exact is not None:
            frame["exact"] = exact.mean["theta"].values
            frame["exact_sd"] = exact.sd["theta"].values
        parts.append(frame)
        frame = pd.concat(parts, ignore_index=True)
        frame.insert(0, "method", name)
        frame["divergences"] = count_divergences(idata)
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
    table.attrs.update(interval=interval, prob=prob, group_dim=dim)
    return table
