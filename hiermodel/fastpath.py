r"""The marginal form's log density and gradient, compiled once and cached on disk.

:func:`hiermodel.sampling.fit`'s default (``parameterization="marginal"`` with nutpie) samples
a density that is a closed form of ``(mu, tau[, sigma])`` -- or of ``(tau[, sigma])`` when
covariates integrate ``mu`` and ``beta`` out -- and a handful of data arrays.  This module
writes that density and its gradient as numba functions with ``cache=True``: the first
process compiles them and writes machine code to numba's on-disk cache; every later process
loads it instead of compiling, where the PyMC graph costs a PyTensor/numba compile in every
process (the timings are in ``benchmarks/README.md``).  They are handed to nutpie as compiled
function pointers (a numba ``cfunc``: no Python call per gradient).

**The PyMC graph stays the definition.**  The unconstrained coordinates are exactly those of
:func:`hiermodel.model.build_model`'s marginal model -- ``mu``, ``tau_log__`` (or
``tau_interval__`` for the uniform prior), ``sigma_log__`` -- with the same Jacobian terms,
and ``tests/test_fastpath.py`` checks this density and gradient equal the PyMC model's
(``compile_logp`` / ``compile_dlogp``) to 1e-10 at random points for every form and prior
family served (:func:`covers`).  Anything else falls back to the PyMC model.  (One
constant differs: PyMC writes the Half-Cauchy's ``log 2`` as a float32 constant, 1.9e-9 off
per Half-Cauchy term; here it is float64.  Constants do not change the posterior.)

The densities, with ``v_i = tau^2 + se_i^2`` (``se_i^2 = sigma^2 / n_i`` when sigma is
unknown):

* no covariates: ``sum_i log N(ybar_i | mu, v_i)`` + the priors (BDA3 section 5.4);
* covariates (``X = [1, x - xbar]``, ``b = (mu, beta) ~ N(b0, P0^-1)``, ``w_i = 1 / v_i``,
  ``A = X'WX + P0``, ``rhs = X'Wy + P0 b0``): ``log p(y | tau) = -G/2 log 2 pi
  + 1/2 sum log w_i + 1/2 log|P0| - 1/2 log|A| - 1/2 (y'Wy + b0'P0 b0 - rhs' A^-1 rhs)`` (as
  bayesmeta and
  :func:`hiermodel.core.regression_grid_posterior`), whose derivative in ``w_i`` is
  ``1/(2 w_i) - x_i' A^-1 x_i / 2 - r_i^2 / 2`` with ``r = y - X b_hat`` (the quadratic
  form is minimal at ``b_hat``, so ``b_hat``'s own change drops out);
* sigma unknown adds ``sum_i log Gamma(ss_i | (n_i - 1)/2, rate 1/(2 sigma^2))`` (0 for a
  group of one row).

Draws: the fast path starts its chains from its own seeded points (the PyMC path from PyMC's
jittered initial point), so the same seed gives the same draws every time on each path, but
not the same draws on both; the posterior is the same.

**Where the compiled code is kept**: numba's cache (``NUMBA_CACHE_DIR`` if set, else a
``__pycache__`` beside this file if writable, else the user cache dir, ``~/.cache/numba`` on
Linux).  With none writable the functions are compiled in memory, once per process.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from typing import Any

import numpy as np

from .data import HierData
from .prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES
from .priors import Priors, data_spread

__all__ = ["covers", "packed_data", "log_density", "unconstrained_names",
           "compiled_model", "initial_point"]

#: the prior families the compiled density implements: those with a code in
#: :mod:`hiermodel.prior_families` (tests/test_fastpath.py checks each)
SERVED_PRIORS = {"mu": MU_FAMILIES,
                 "tau": tuple(f.name for f in TAU_FAMILIES.values() if f.code is not None),
                 "sigma": tuple(f.name for f in SIGMA_FAMILIES.values() if f.code is not None)}


def covers(data: HierData, priors: Priors, parameterization: str) -> bool:
    """Whether the fast path serves this fit: the marginal form, a prior family it knows,
    and (sigma unknown) no group with ``n_i > 1`` and ``ss_i = 0``, whose Gamma term the
    PyMC graph leaves at -inf."""
    if parameterization != "marginal":
        return False
    if priors.mu not in SERVED_PRIORS["mu"] or priors.tau not in SERVED_PRIORS["tau"]:
        return False
    if not data.sigma_known:
        if priors.sigma not in SERVED_PRIORS["sigma"] or priors.sigma_scale is None:
            return False
        if np.any((data.n > 1) & ~(np.asarray(data.ss, float) > 0)):
            return False
    return True


def unconstrained_names(data: HierData, priors: Priors) -> list[str]:
    """The sampled coordinates, in order, named as PyMC names the marginal model's value
    variables."""
    names = [] if data.has_covariates else ["mu"]
    names.append(f"tau_{TAU_FAMILIES[priors.tau].transform}__")
    if not data.sigma_known:
        names.append("sigma_log__")
    return names


def packed_data(data: HierData, priors: Priors) -> np.ndarray:
    """The one float64 vector the compiled density reads (resolved ``priors``)."""
    from . import marginal_density as k

    g, p = data.n_groups, data.n_covariates
    coef = p + 1 if data.has_covariates else 0
    head = np.zeros(k.HEADER)
    head[k.N_GROUPS], head[k.N_COEF] = g, coef
    head[k.MU_FAMILY] = k.MU_CODES[priors.mu]
    head[k.TAU_FAMILY] = k.TAU_CODES[priors.tau]
    head[k.SIGMA_FAMILY] = 0 if data.sigma_known else k.SIGMA_CODES[priors.sigma]
    if priors.mu == "normal":
        head[k.MU_LOC], head[k.MU_SCALE] = priors.mu_mean, priors.mu_sd
    head[k.TAU_SCALE] = priors.tau_scale
    if not data.sigma_known:
        head[k.SIGMA_SCALE] = priors.sigma_scale
    head[k.N_DIM] = len(unconstrained_names(data, priors))
    y = np.asarray(data.means, float)
    if data.sigma_known:
        parts = [y, np.asarray(data.se, float) ** 2]
    else:
        parts = [y, np.asarray(data.n, float), np.asarray(data.ss, float)]
    if coef:
        # shift y and mu's prior mean by mean(y), as the PyMC graph does: the same density
        # (X has the intercept), and no catastrophic cancellation for data far from 0
        shift = float(np.mean(y))
        parts[0] = y - shift
        b0, p0 = priors.coefficient_prior(p)
        b0 = b0.copy()
        b0[0] -= shift
        design = np.column_stack([np.ones(g), np.asarray(data.centered_covariates, float)])
        parts += [design.ravel(), b0, np.diag(p0).copy()]
    buf = np.concatenate([head, *parts])
    buf[k.SIZE] = buf.size
    return buf


# ----------------------------------------------------------------------------- the density
def log_density(point: np.ndarray, data: HierData, priors: Priors) -> tuple[float, np.ndarray]:
    """``(log density, gradient)`` at the unconstrained ``point`` (resolved ``priors``)."""
    from . import marginal_density as kernels

    x = np.ascontiguousarray(point, dtype=float)
    grad = np.empty_like(x)
    lp = kernels.log_density(x, packed_data(data, priors), grad)
    return float(lp), grad


# ----------------------------------------------------------------------------- nutpie model
def initial_point(data: HierData, priors: Priors, seed: int) -> np.ndarray:
    """A seeded starting point: each coordinate uniform within +-1 of a data-scaled centre
    (mu: the precision-weighted mean +- S; log tau: log S +- 1; log sigma: log sigma_hat
    +- 1), as PyMC jitters its initial point by U(-1, 1)."""
    rng = np.random.default_rng(seed)
    se = np.asarray(data.se, float)
    spread = data_spread(data.means, se)
    point = []
    if not data.has_covariates:
        w = 1.0 / se**2
        centre = float(np.sum(w * data.means) / np.sum(w))
        point.append(centre + spread * rng.uniform(-1, 1))
    if TAU_FAMILIES[priors.tau].bounded:
        frac = min(spread / priors.tau_scale, 0.5)
        point.append(math.log(frac / (1.0 - frac)) + rng.uniform(-1, 1))
    else:
        point.append(math.log(spread) + rng.uniform(-1, 1))
    if not data.sigma_known:
        point.append(math.log(data.sigma_hat) + rng.uniform(-1, 1))
    return np.asarray(point, float)


def _posterior_names(data: HierData, priors: Priors) -> list[str]:
    return unconstrained_names(data, priors) + ["tau"] + ([] if data.sigma_known else ["sigma"])


def compiled_model(data: HierData, priors: Priors, progress: bool = False) -> Any:
    """A nutpie compiled model of the marginal form on ``data``: nutpie's own container for
    numba-compiled models (``nutpie.compile_pymc.CompiledPyMCModel``), holding this module's
    cached ``cfunc`` pointers and the packed data instead of a compiled PyMC graph.  None
    (with a warning) if nutpie's container has changed.  With ``progress``, a line is
    printed before the numba functions are first loaded in a process (compiled, the first
    time after an install)."""
    from nutpie.compile_pymc import CompiledPyMCModel

    if progress and f"{__package__}.marginal_density" not in sys.modules:
        print("hiermodel: loading the compiled model (compiled once after installing, "
              "~5-10 s; then cached on disk) ...", file=sys.stderr, flush=True)
    from . import marginal_density as kernels

    buf = packed_data(data, priors)
    buf.flags.writeable = False
    names = _posterior_names(data, priors)
    n_dim = len(unconstrained_names(data, priors))

    def initial_points(seed):
        return initial_point(data, priors, int(seed))

    fields = {
        "dims": {}, "compiled_logp_func": kernels.logp_cfunc,
        "compiled_expand_func": kernels.expand_cfunc, "initial_point_func": initial_points,
        "shared_data": {}, "user_data": buf, "n_expanded": len(names),
        "shape_info": (names, [slice(i, i + 1) for i in range(len(names))],
                       [()] * len(names)),
        "logp_func": None, "expand_func": None, "_n_dim": n_dim,
        "_shapes": {name: () for name in names}, "_coords": {},
    }
    known = {f.name for f in dataclasses.fields(CompiledPyMCModel)}
    if "shared_var_keys" in known:                                  # nutpie >= 0.16.11
        fields["shared_var_keys"] = {}
    missing = {f.name for f in dataclasses.fields(CompiledPyMCModel)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and f.name not in fields}
    if missing or not set(fields) <= known:
        warnings.warn(f"nutpie's CompiledPyMCModel has changed (fields {sorted(missing)}); "
                      "the compiled fast path is not available", RuntimeWarning, stacklevel=2)
        return None
    return CompiledPyMCModel(**fields)
