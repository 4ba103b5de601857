"""Each study's influence on the posterior of a NUTS fit: the posterior of ``mu`` and ``tau``
without the study, by Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao &
Gabry 2024, "Pareto smoothed importance sampling", JMLR 25(72)) on the integrated likelihood
``N(y_i | mu, tau^2 + se_i^2)`` (:func:`hiermodel.loo.integrated_log_likelihood`), with the
Pareto k that says when the importance weights are not to be trusted.

The exact counterpart (no sampling) is :meth:`hiermodel.ExactPosterior.leave_one_out`; the
frequentist one metafor's ``leave1out`` (:meth:`hiermodel.MetaAnalysis.leave_one_out`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import stack
from .core.influence import PSIS_LEAVE_ONE_OUT_COLUMNS
from .core.influence import psis_leave_one_out as _psis_core
from .loo import integrated_log_likelihood, k_threshold
from .options import get_options

__all__ = ["psis_leave_one_out"]


def psis_leave_one_out(idata: Any, prob: float | None = None) -> pd.DataFrame:
    """The posterior of ``mu`` and ``tau`` without each study, from the draws of a fit of the
    hierarchical model with known standard errors and no covariates
    (:func:`hiermodel.fit`), by PSIS.

    One row per study (index: its label): ``mu_mean``, ``mu_sd``, ``mu_low``, ``mu_high``,
    ``tau_mean``, ``tau_sd``, ``tau_low``, ``tau_high`` (central ``prob`` intervals; default
    the package's interval probability), ``pareto_k`` and ``k_ok`` (``pareto_k`` at most
    ArviZ's threshold ``min(1 - 1/log10(S), 0.7)`` for ``S`` draws, in
    ``attrs["k_threshold"]``; above it the row is not to be trusted: use
    :meth:`hiermodel.ExactPosterior.leave_one_out`).
    """
    ll = integrated_log_likelihood(idata)
    post = stack.group(idata, "posterior")
    if "beta" in post or "sigma" in post or "tau" not in post:
        raise ValueError("`idata`: psis_leave_one_out is for the hierarchical model of "
                         "estimates with known standard errors and no covariates (posterior "
                         "mu and tau only).")
    s = ll.sizes["chain"] * ll.sizes["draw"]
    rows = _psis_core(post["mu"].transpose("chain", "draw").values.ravel(),
                      post["tau"].transpose("chain", "draw").values.ravel(),
                      ll.values.reshape(s, -1), get_options().prob if prob is None else prob)
    out = pd.DataFrame(rows, index=pd.Index(ll["group"].values, name="group"),
                       columns=list(PSIS_LEAVE_ONE_OUT_COLUMNS))
    threshold = k_threshold(s)
    out["k_ok"] = out["pareto_k"] <= threshold
    out.attrs.update(k_threshold=threshold, draws=s)
    return out
