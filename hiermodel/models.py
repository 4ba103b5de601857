"""Transitional shim: removed by the lead at integration.

Re-exports, under their old names, what :mod:`hiermodel.model` (and
:mod:`hiermodel.predictive`, :mod:`hiermodel.priors`) now hold.  ``build_model`` returns a
:class:`~hiermodel.model.HierModel` (``register_model`` / ``model_spec`` / ``model_data`` are
gone: read ``.spec`` / ``.data``); ``prior_predictive`` is
:func:`hiermodel.predictive.prior_predictive` and takes ``(data, priors, *, draws, seed)``.
"""

from __future__ import annotations

from ._validate import check_priors as resolve_priors
from .model import (
    LIKELIHOODS,
    PARAMETERIZATIONS,
    HierModel,
    ModelSpec,
    build_model,
    centering,
    data_updates,
    known_sigma_likelihood,
    mu_prior,
    prior_values,
    sigma_prior,
    tau_prior,
    unknown_sigma_likelihood,
)
from .predictive import prior_predictive
from .priors import Priors

__all__ = [
    "Priors", "ModelSpec", "HierModel", "build_model", "centering", "prior_predictive",
    "resolve_priors", "prior_values", "data_updates", "PARAMETERIZATIONS", "LIKELIHOODS",
    "mu_prior", "tau_prior", "sigma_prior", "known_sigma_likelihood",
    "unknown_sigma_likelihood",
]
