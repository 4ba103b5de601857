r"""The parameterization of theta: the per-group centering weights every sampled form uses.

With a centering weight ``c_i`` in [0, 1] per group (Papaspiliopoulos, Roberts & Skold
2003, 2007; Gorinova, Moore & Hoffman 2020) :func:`hiermodel.model.build_model` samples
``theta_tilde_i ~ N(c_i mu, tau^{c_i})`` and sets ``theta_i = mu + tau^{1 - c_i}
(theta_tilde_i - c_i mu)``: ``c_i = 1`` is the centered form, ``c_i = 0`` the non-centered
one.  "auto" sets ``c_i`` to the shrinkage weight ``w_i = tau_hat^2 / (tau_hat^2 + se_i^2)``
at a quick REML estimate ``tau_hat`` (see :mod:`hiermodel.model` for why); "marginal"
integrates theta out and has no weights.  Choosing them needs numpy only: no PyMC here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ._validate import check_method
from .core import design_matrix, estimate_tau, meta_regression
from .data import HierData

__all__ = ["PARAMETERIZATIONS", "DEFAULT_PARAMETERIZATION", "Parameterization", "centering"]

PARAMETERIZATIONS = ("marginal", "centered", "noncentered", "auto")
#: the form :func:`hiermodel.fit` uses unless told otherwise
DEFAULT_PARAMETERIZATION = "marginal"
Parameterization = Literal["marginal", "centered", "noncentered", "auto"]


def _quick_tau(data: HierData) -> float:
    """REML estimate of tau for ``ybar_i ~ N(mu, tau^2 + se_i^2)`` (used by "auto"); with
    covariates, of the meta-regression ``ybar_i ~ N(x_i' beta, tau^2 + se_i^2)``."""
    if data.has_covariates:
        x = design_matrix(data.n_groups, data.x)
        return float(np.sqrt(meta_regression(data.means, data.se**2, x, "reml").tau2))
    return float(estimate_tau(data.means, data.se, method="reml").tau)


def centering(
    data: HierData, parameterization: str | np.ndarray | list = "auto",
) -> tuple[str, np.ndarray, float | None]:
    """Per-group centering weights ``c_i`` (1 = centered, 0 = non-centered).

    Parameters
    ----------
    data : HierData
    parameterization : {"marginal", "centered", "noncentered", "auto"} or array of G values
        in [0, 1].  "marginal" has no centering (theta is integrated out; c is all NaN).
        "auto" uses ``c_i = tau_hat^2 / (tau_hat^2 + se_i^2)`` with the REML ``tau_hat``.

    Returns
    -------
    name, c, tau_hat
        The parameterization's name ("centered", "noncentered", "auto" or "custom"), the
        weights, and the tau estimate used by "auto" (else None).
    """
    data = HierData.check(data, covariates=True)
    g = data.n_groups
    if isinstance(parameterization, str):
        try:
            name = check_method(parameterization, PARAMETERIZATIONS, "parameterization")
        except ValueError as err:
            raise ValueError(f"{err} Or pass an array of {g} centering weights in "
                             "[0, 1].") from None
        if name == "marginal":
            return "marginal", np.full(g, np.nan), None
        if name == "centered":
            return "centered", np.ones(g), None
        if name == "noncentered":
            return "noncentered", np.zeros(g), None
        tau_hat = _quick_tau(data)
        c = tau_hat**2 / (tau_hat**2 + data.se**2)
        return "auto", c, tau_hat
    c = np.asarray(parameterization)
    if c.dtype.kind not in "iuf" or c.shape != (g,):
        raise ValueError(
            f"`parameterization` as weights must be a numeric array of shape ({g},); got "
            f"{getattr(c, 'shape', None)} of dtype {getattr(c, 'dtype', type(c))}."
        )
    c = c.astype(float)
    if np.any(~np.isfinite(c)) or np.any((c < 0) | (c > 1)):
        raise ValueError("`parameterization` weights must lie in [0, 1] (1 = centered).")
    return "custom", c, None
