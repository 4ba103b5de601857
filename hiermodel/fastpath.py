r"""The model's log density and gradient, compiled once and cached on disk, for every form.

:func:`hiermodel.sampling.fit` with nutpie (the default sampler) samples a density that is a
closed form of a few parameters and a handful of data arrays: the marginal form's of
``(mu, tau[, sigma])`` -- or of ``(tau[, sigma])`` when covariates integrate ``mu`` and
``beta`` out -- and the full form's (centered, non-centered, "auto": theta sampled with
per-group centering weights ``c_i``) of ``(mu, tau, beta, theta_tilde[, sigma])``.  This
module writes those densities and their gradients as numba functions with ``cache=True``: the first
process compiles them and writes machine code to numba's on-disk cache; every later process
loads it instead of compiling, where the PyMC graph costs a PyTensor/numba compile in every
process (the timings are in ``benchmarks/README.md``).  They are handed to nutpie as compiled
function pointers (a numba ``cfunc``: no Python call per gradient).

**The PyMC graph stays the definition.**  The unconstrained coordinates are exactly those of
:func:`hiermodel.model.build_model`'s model of the form -- ``mu``, ``tau_log__`` (or
``tau_interval__`` for the uniform prior), the full form's ``beta`` and ``theta_tilde``,
``sigma_log__`` -- with the same Jacobian terms,
and ``tests/test_fastpath.py`` checks this density and gradient equal the PyMC model's
(``compile_logp`` / ``compile_dlogp``) to 1e-10 at random points for every form and prior
family served (:func:`covers`).  Anything else falls back to the PyMC model.  (One
constant differs: PyMC writes the Half-Cauchy's ``log 2`` as a float32 constant, 1.9e-9 off
per Half-Cauchy term; here it is float64.  Constants do not change the posterior.)

The marginal form's densities, with ``v_i = tau^2 + se_i^2`` (``se_i^2 = sigma^2 / n_i``
when sigma is unknown):

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

The full form's (:func:`hiermodel.model.build_model`'s one graph for every
parameterization): ``m_i = mu + (x_i - xbar)' beta``, ``theta_tilde_i ~ N(c_i m_i,
tau^(2 c_i))``, ``theta_i = m_i + tau^(1 - c_i) (theta_tilde_i - c_i m_i)``, ``ybar_i ~
N(theta_i, se_i^2)``, the priors, and the same ``ss_i`` term when sigma is unknown; the
posterior carries ``theta`` (and ``intercept``) as the PyMC model's Deterministics.

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
from .parameterization import PARAMETERIZATIONS
from .prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES
from .priors import Priors, data_spread

__all__ = ["covers", "packed_data", "log_density", "unconstrained_names",
           "compiled_model", "initial_point"]

#: the forms served: every name :func:`hiermodel.parameterization.centering` gives
FORMS = (*PARAMETERIZATIONS, "custom")
#: the prior families the compiled density implements: those with a code in
#: :mod:`hiermodel.prior_families` (tests/test_fastpath.py checks each)
SERVED_PRIORS = {"mu": MU_FAMILIES,
                 "tau": tuple(f.name for f in TAU_FAMILIES.values() if f.code is not None),
                 "sigma": tuple(f.name for f in SIGMA_FAMILIES.values() if f.code is not None)}


def covers(data: HierData, priors: Priors, parameterization: str) -> bool:
    """Whether the fast path serves this fit: every form (``parameterization`` is the name
    :func:`hiermodel.parameterization.centering` gives), a prior family it knows, and
    (sigma unknown) no group with ``n_i > 1`` and ``ss_i = 0``, whose Gamma term the PyMC
    graph leaves at -inf."""
    if parameterization not in FORMS:
        return False
    if priors.mu not in SERVED_PRIORS["mu"] or priors.tau not in SERVED_PRIORS["tau"]:
        return False
    if not data.sigma_known:
        if priors.sigma not in SERVED_PRIORS["sigma"] or priors.sigma_scale is None:
            return False
        if np.any((data.n > 1) & ~(np.asarray(data.ss, float) > 0)):
            return False
    return True


def _value_variables(data: HierData, priors: Priors,
                     centering: np.ndarray | None) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, shape)`` of the sampled variables, in PyMC's order; ``centering`` None for
    the marginal form."""
    tau = f"tau_{TAU_FAMILIES[priors.tau].transform}__"
    if centering is None:
        out = [] if data.has_covariates else [("mu", ())]
        out.append((tau, ()))
    else:
        out = [("mu", ()), (tau, ())]
        if data.has_covariates:
            out.append(("beta", (data.n_covariates,)))
        out.append(("theta_tilde", (data.n_groups,)))
    if not data.sigma_known:
        out.append(("sigma_log__", ()))
    return out


def unconstrained_names(data: HierData, priors: Priors,
                        centering: np.ndarray | None = None) -> list[str]:
    """The sampled variables, in order, named as PyMC names the model's value variables
    (``centering``: the full form's weights ``c_i``; None for the marginal form)."""
    return [name for name, _ in _value_variables(data, priors, centering)]


def packed_data(data: HierData, priors: Priors,
                centering: np.ndarray | None = None) -> np.ndarray:
    """The one float64 vector the compiled density reads (resolved ``priors``;
    ``centering``: the full form's weights ``c_i``, None for the marginal form)."""
    from . import densities as k

    g, p = data.n_groups, data.n_covariates
    full = centering is not None
    coef = p if full else p + 1 if data.has_covariates else 0
    head = np.zeros(k.HEADER)
    head[k.N_GROUPS], head[k.N_COEF] = g, coef
    head[k.FORM] = k.FULL if full else k.MARGINAL
    head[k.MU_FAMILY] = k.MU_CODES[priors.mu]
    head[k.TAU_FAMILY] = k.TAU_CODES[priors.tau]
    head[k.SIGMA_FAMILY] = 0 if data.sigma_known else k.SIGMA_CODES[priors.sigma]
    if priors.mu == "normal":
        head[k.MU_LOC], head[k.MU_SCALE] = priors.mu_mean, priors.mu_sd
    head[k.TAU_SCALE] = priors.tau_scale
    if not data.sigma_known:
        head[k.SIGMA_SCALE] = priors.sigma_scale
    head[k.N_DIM] = sum(math.prod(shape) for _, shape in
                        _value_variables(data, priors, centering))
    y = np.asarray(data.means, float)
    if data.sigma_known:
        parts = [y, np.asarray(data.se, float) ** 2]
    else:
        parts = [y, np.asarray(data.n, float), np.asarray(data.ss, float)]
    if full:
        parts.append(np.asarray(centering, float))
        if p:
            loc, scale = priors.beta_arrays(p)
            parts += [np.asarray(data.centered_covariates, float).ravel(), loc, scale,
                      np.asarray(data.covariate_means, float)]
    elif coef:
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
def log_density(point: np.ndarray, data: HierData, priors: Priors,
                centering: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """``(log density, gradient)`` at the unconstrained ``point`` (resolved ``priors``;
    ``centering`` as :func:`packed_data`)."""
    from . import densities

    x = np.ascontiguousarray(point, dtype=float)
    grad = np.empty_like(x)
    lp = densities.log_density(x, packed_data(data, priors, centering), grad)
    return float(lp), grad


# ----------------------------------------------------------------------------- nutpie model
def initial_point(data: HierData, priors: Priors, seed: int,
                  centering: np.ndarray | None = None) -> np.ndarray:
    """A seeded starting point: each coordinate uniform within +-1 of a data-scaled centre
    (mu: the precision-weighted mean +- S; log tau: log S +- 1; log sigma: log sigma_hat
    +- 1), as PyMC jitters its initial point by U(-1, 1); in the full form beta within
    +-S/(10 sd(x_j)) of 0 and theta_i = m_i + tau z_i with z_i ~ U(-1, 1)."""
    rng = np.random.default_rng(seed)
    se = np.asarray(data.se, float)
    spread = data_spread(data.means, se)
    w = 1.0 / se**2
    centre = float(np.sum(w * data.means) / np.sum(w))
    point = []
    mu = centre + spread * rng.uniform(-1, 1)
    if centering is not None or not data.has_covariates:
        point.append(mu)
    if TAU_FAMILIES[priors.tau].bounded:
        frac = min(spread / priors.tau_scale, 0.5)
        u = math.log(frac / (1.0 - frac)) + rng.uniform(-1, 1)
        tau = priors.tau_scale / (1.0 + math.exp(-u))
    else:
        u = math.log(spread) + rng.uniform(-1, 1)
        tau = math.exp(u)
    point.append(u)
    if centering is not None:
        m = np.full(data.n_groups, mu)
        if data.has_covariates:
            x = np.asarray(data.centered_covariates, float)
            sd = x.std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            beta = spread / (10.0 * sd) * rng.uniform(-1, 1, data.n_covariates)
            point.extend(beta)
            m = m + x @ beta
        c = np.asarray(centering, float)
        point.extend(c * m + tau**c * rng.uniform(-1, 1, data.n_groups))
    if not data.sigma_known:
        point.append(math.log(data.sigma_hat) + rng.uniform(-1, 1))
    return np.asarray(point, float)


def _posterior_variables(data: HierData, priors: Priors,
                         centering: np.ndarray | None) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, shape)`` of what the expansion writes, in order: the value variables, tau,
    sigma (unknown), and the full form's Deterministics ``intercept`` (covariates) and
    ``theta``, as PyMC orders them."""
    out = _value_variables(data, priors, centering) + [("tau", ())]
    if not data.sigma_known:
        out.append(("sigma", ()))
    if centering is not None:
        if data.has_covariates:
            out.append(("intercept", ()))
        out.append(("theta", (data.n_groups,)))
    return out


#: the dims of the full form's vector variables (as :func:`hiermodel.model.build_model`)
DIMS = {"beta": ["covariate"], "theta_tilde": ["group"], "theta": ["group"]}


def compiled_model(data: HierData, priors: Priors, progress: bool = False,
                   centering: np.ndarray | None = None) -> Any:
    """A nutpie compiled model of the form on ``data`` (``centering``: the full form's
    weights ``c_i``; None for the marginal form): nutpie's own container for numba-compiled
    models (``nutpie.compile_pymc.CompiledPyMCModel``), holding this module's cached
    ``cfunc`` pointers and the packed data instead of a compiled PyMC graph.  None (with a
    warning) if nutpie's container has changed.  With ``progress``, a line is printed
    before the numba functions are first loaded in a process (compiled, the first time
    after an install)."""
    import pandas as pd
    from nutpie.compile_pymc import CompiledPyMCModel

    if progress and f"{__package__}.densities" not in sys.modules:
        print("hiermodel: loading the compiled model (compiled once after installing, "
              "~5-10 s; then cached on disk) ...", file=sys.stderr, flush=True)
    from . import densities

    buf = packed_data(data, priors, centering)
    buf.flags.writeable = False
    variables = _posterior_variables(data, priors, centering)
    names = [name for name, _ in variables]
    sizes = [math.prod(shape) for _, shape in variables]
    ends = np.cumsum(sizes)
    slices = [slice(int(end - size), int(end)) for end, size in zip(ends, sizes, strict=True)]
    coords = {}
    if centering is not None:
        coords["group"] = pd.Index(list(data.groups))
        if data.has_covariates:
            coords["covariate"] = pd.Index(list(data.covariate_names))

    def initial_points(seed):
        return initial_point(data, priors, int(seed), centering)

    fields = {
        "dims": {k: v for k, v in DIMS.items() if k in names},
        "compiled_logp_func": densities.logp_cfunc,
        "compiled_expand_func": densities.expand_cfunc, "initial_point_func": initial_points,
        "shared_data": {}, "user_data": buf, "n_expanded": int(ends[-1]),
        "shape_info": (names, slices, [shape for _, shape in variables]),
        "logp_func": None, "expand_func": None, "_n_dim": int(buf[densities.N_DIM]),
        "_shapes": dict(variables), "_coords": coords,
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
