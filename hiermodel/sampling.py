"""Sampling: NUTS to ``arviz.InferenceData``, with diagnostics that are never silent.

``fit`` is the one verb most users need.  It builds (or reuses) the model
(:mod:`hiermodel.model`), samples with NUTS through one of three backends -- nutpie (default,
the fastest; see ``benchmarks/``), PyMC's own sampler, or NumPyro; one small function each,
registered in :data:`SAMPLERS` -- and assembles one InferenceData with the groups
``posterior``, ``sample_stats``, ``observed_data``, ``constant_data``, ``log_likelihood``
(one value per group) and optionally ``posterior_predictive`` (drawn by
:func:`hiermodel.predictive.posterior_predictive`).  It then checks R-hat, ESS, divergences
and BFMI (:mod:`hiermodel.diagnostics`) and warns with a
:class:`~hiermodel.exceptions.SamplingWarning` that says what to do.

The fast path: a fit of data sampled by nutpie (the default), in any form, needs no PyMC
model at all.  Its log density and gradient are closed forms written as numba functions
compiled once and kept in numba's on-disk cache (:mod:`hiermodel.fastpath`), so a fresh
process loads them instead of compiling a PyMC graph; ``posterior.attrs["compiled_model"]``
says which was used ("hiermodel.fastpath" or "pymc").  The other backends, a model passed
in, and data the fast path does not serve go through the PyMC model below.

Compiled-model reuse: models are built once per *structure* (number of groups, known or
unknown sigma, prior families, backend) with the data as ``pm.Data``; a later fit of
same-shaped data swaps the data in without recompiling (nutpie's ``with_data`` / PyMC's
``set_data``).  The cache holds the :class:`~hiermodel.model.HierModel` of each structure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from . import fastpath, predictive, stack
from ._validate import check_method, check_positive_int, check_prob, resolve_seed
from ._version import __version__
from .core import conditional_posterior, design_matrix, marginal_regression, ss_logpdf
from .data import HierData, group_coord
from .diagnostics import prior_data_conflict, sampling_diagnostics, warn_conflict
from .model_spec import (
    HierModel,
    ModelSpec,
    constant_data,
    data_updates,
    label_groups,
    observed_data,
)
from .parameterization import DEFAULT_PARAMETERIZATION, centering
from .priors import Priors
from .samplers import NUMPYRO_KERNEL, SAMPLER_KWARGS, SAMPLERS, Sampler
from .shrinkage import covariate_offset

if TYPE_CHECKING:
    import pymc as pm

    from .stack import Result

__all__ = [
    "fit", "DEFAULT_TARGET_ACCEPT",
    "clear_model_cache", "model_cache_size", "running_in_ci", "progress_enabled",
]

#: Default target_accept per parameterization: the lowest that gave no divergent fit, with
#: the data-scaled default priors and nutpie, on Eight Schools, mixed-precision data (se 1
#: and 40) and the BCG meta-regression (latitude and year) in benchmarks/bench_divergences.py
#: (its tables are in benchmarks/README.md).  The forms that sample theta need more with
#: covariates: precise groups narrow the slopes' posterior as tau -> 0, a funnel between beta
#: and tau.  The marginal form integrates mu and beta out and samples tau alone.
DEFAULT_TARGET_ACCEPT = {"marginal": 0.9, "theta": 0.95, "covariates": 0.99}


# ----------------------------------------------------------------------------- backends
def _compile_nutpie(model: pm.Model) -> Any:
    import nutpie

    return nutpie.compile_pymc_model(model, freeze_model=False)


def _nutpie(model: pm.Model, compiled: Any, seed: int, progress: bool,
            kw: dict[str, Any]) -> Result:
    import nutpie

    return nutpie.sample(compiled, seed=seed, progress_bar=progress, save_warmup=False, **kw)


def _pymc(model: pm.Model, compiled: Any, seed: int, progress: bool, kw: dict[str, Any],
          nuts_sampler: str = "pymc") -> Result:
    import pymc as pm

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return pm.sample(model=model, random_seed=seed, progressbar=progress,
                         nuts_sampler=nuts_sampler, compute_convergence_checks=False,
                         idata_kwargs={"log_likelihood": False}, **kw)


def _numpyro(model: pm.Model, compiled: Any, seed: int, progress: bool,
             kw: dict[str, Any]) -> Result:
    return _pymc(model, compiled, seed, progress, kw, nuts_sampler="numpyro")


def _nutpie_keywords(options: dict[str, Any]) -> dict[str, Any]:
    # nutpie.sample sets its keyword arguments on its sampler settings, where the tree
    # depth is called ``maxdepth``
    options = dict(options)
    if "max_treedepth" in options:
        options["maxdepth"] = options.pop("max_treedepth")
    return options


def _numpyro_keywords(options: dict[str, Any]) -> dict[str, Any]:
    # PyMC 5: pm.sample(nuts_sampler="numpyro") hands ``nuts_sampler_kwargs`` to
    # pymc.sampling.jax.sample_jax_nuts, which passes its ``nuts_kwargs`` to numpyro's NUTS.
    # PyMC 6: ``nuts={...}``, whose sample_jax_nuts arguments are lifted out and the rest
    # passed to numpyro's NUTS.
    kernel = {("max_tree_depth" if k == "max_treedepth" else k): v
              for k, v in options.items() if k in NUMPYRO_KERNEL}
    outer = {k: v for k, v in options.items() if k not in NUMPYRO_KERNEL}
    if not options:
        return {}
    if stack.PYMC_6:
        return {"nuts": {**outer, **kernel}}
    return {"nuts_sampler_kwargs": {**outer, "nuts_kwargs": kernel}}


#: keys fit sets itself: the argument of fit that sets them, or None (fit manages it)
_FIT_SETS = {
    "draws": "draws", "num_draws": "draws", "tune": "tune", "num_tune": "tune",
    "chains": "chains", "num_chains": "chains", "cores": "cores", "seed": "seed",
    "random_seed": "seed", "target_accept": "target_accept",
    "target_accept_prob": "target_accept", "progressbar": "progressbar",
    "progress_bar": "progressbar", "model": "data_or_model", "nuts_sampler": "sampler",
    "maxdepth": None, "max_tree_depth": None, "save_warmup": None,
    "discard_tuned_samples": None, "compute_convergence_checks": None,
    "idata_kwargs": None, "return_inferencedata": None, "return_raw_trace": None,
    "blocking": None, "nuts_sampler_kwargs": None, "nuts_kwargs": None, "step": None,
}


def _check_sampler_kwargs(options: Any, sampler: str) -> dict[str, Any]:
    """``options`` (None: none) as a dict of keys ``sampler`` accepts
    (:data:`SAMPLER_KWARGS`), else a TypeError / ValueError naming the key."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"`sampler_kwargs` must be a dict or None, got "
                        f"{type(options).__name__}.")
    accepted = SAMPLER_KWARGS[sampler]
    for key in options:
        if key in accepted:
            continue
        if key in ("maxdepth", "max_tree_depth"):
            hint = "the tree depth is `max_treedepth` for every sampler"
        elif _FIT_SETS.get(key):
            hint = f"use fit's own argument `{_FIT_SETS[key]}=`"
        elif key in _FIT_SETS:
            hint = "fit sets it itself"
        else:
            hint = f"sampler={sampler!r} accepts {sorted(accepted)}"
        raise ValueError(f"`sampler_kwargs` has the key {key!r}, which fit does not pass to "
                         f"sampler={sampler!r}: {hint}.")
    return dict(options)


@dataclass(frozen=True)
class _Backend:
    """One NUTS backend: how it samples a model, and what it needs first."""

    #: (pm.Model, compiled or None, seed, progress, sampler keywords) -> InferenceData
    sample: Callable[..., Result]
    #: pm.Model -> a compiled model kept in the cache (None: the pm.Model is enough)
    compile: Callable[[pm.Model], Any] | None = None
    #: (compiled, pm.Data updates) -> the compiled model on those data
    with_data: Callable[[Any, dict[str, np.ndarray]], Any] | None = None
    #: optional packages it imports, and the pip extra that installs them
    modules: tuple[str, ...] = ()
    extra: str = ""
    #: checked ``sampler_kwargs`` -> the keywords its ``sample`` passes on
    keywords: Callable[[dict[str, Any]], dict[str, Any]] = dict


_BACKENDS = {
    "nutpie": _Backend(_nutpie, _compile_nutpie, lambda c, upd: c.with_data(**upd),
                       ("nutpie",), "fast", _nutpie_keywords),
    "pymc": _Backend(_pymc),
    "numpyro": _Backend(_numpyro, modules=("numpyro", "jax"), extra="fast",
                        keywords=_numpyro_keywords),
}
assert tuple(_BACKENDS) == SAMPLERS, "hiermodel.samplers lists every backend"


def _backend(sampler: Any) -> tuple[str, _Backend]:
    """The checked sampler name and its backend; ImportError naming the extra to install
    when its optional packages are missing."""
    import importlib

    sampler = check_method(sampler, SAMPLERS, "sampler")
    backend = _BACKENDS[sampler]
    try:
        for module in backend.modules:
            importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"sampler={sampler!r} needs the optional package {backend.modules[0]!r}, which is "
            f"not installed ({err}). Install it with: pip install "
            f"'hiermodel[{backend.extra}]' -- or use sampler='pymc'."
        ) from None
    return sampler, backend


# ----------------------------------------------------------------------------- compiled-model cache
@dataclass
class _Compiled:
    """A compiled model shared by every fit of one structure; fits swap their data in and
    sample under ``lock`` (see :func:`_sampling`)."""

    model: HierModel
    compiled: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: dict[tuple, _Compiled] = {}
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget the compiled models kept for reuse (they are rebuilt on demand)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def model_cache_size() -> int:
    """How many compiled models are kept for reuse (one per model structure and backend)."""
    with _CACHE_LOCK:
        return len(_CACHE)


def _cache_key(data: HierData, priors: Priors, sampler: str, marginal: bool) -> tuple:
    # the priors' numbers and the covariates live in pm.Data, so only the priors' families
    # and the number of covariates fix the structure
    return (data.n_groups, data.sigma_known, priors.mu, priors.tau, priors.sigma, sampler,
            marginal, data.n_covariates)


def _get_model(data: HierData, c: np.ndarray, priors: Priors, sampler: str,
               marginal: bool, progress: bool) -> _Compiled:
    """The cached model for this structure (built and compiled on first use).  Its data are
    whichever fit used it last: :func:`_sampling` swaps this fit's data in safely."""
    key = _cache_key(data, priors, sampler, marginal)
    with _CACHE_LOCK:
        entry = _CACHE.get(key)
    if entry is None:
        if progress:
            print(f"hiermodel: compiling the model for {sampler} (once per model shape in "
                  "this process; ~5-15 s) ...", file=sys.stderr, flush=True)
        from .model import build_model  # PyMC is imported here, not by the fast path

        model = build_model(data, "marginal" if marginal else c, priors)
        backend = _BACKENDS[sampler]
        new = _Compiled(model, backend.compile(model.model) if backend.compile else None)
        with _CACHE_LOCK:  # two threads may have built it: keep the first
            entry = _CACHE.setdefault(key, new)
    return entry


@contextlib.contextmanager
def _sampling(entry: _Compiled, updates: dict[str, np.ndarray], sampler: str):
    """Yield ``(model, compiled)`` holding this fit's data, safe against other threads.

    Every backend reads the shared ``pm.Model``'s data while it samples (PyMC and NumPyro
    its logp, nutpie its initial-point function), so the entry's lock is held from
    ``pm.set_data`` to the end of sampling: same-shaped fits in threads run one at a time,
    and each gets exactly the draws it would get alone.  nutpie's logp reads a private copy
    (``with_data``)."""
    import pymc as pm

    backend = _BACKENDS[sampler]
    with entry.lock:
        pm.set_data(updates, model=entry.model.model)
        compiled = backend.with_data(entry.compiled, updates) if backend.with_data else None
        yield entry.model.model, compiled


# ----------------------------------------------------------------------------- fit
def running_in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a true value (``CI=0``,
    ``false``, ``no``, ``off`` and empty count as unset)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def progress_enabled(progressbar: bool | None) -> bool:
    """Whether to show progress: an explicit choice wins; by default progress is shown
    except in CI (:func:`running_in_ci`)."""
    if progressbar is None:
        return not running_in_ci()
    return bool(progressbar)


def fit(
    data_or_model: HierData | HierModel,
    *,
    parameterization: str | np.ndarray = DEFAULT_PARAMETERIZATION,
    priors: Priors | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: Sampler = "nutpie",
    target_accept: float | None = None,
    progressbar: bool | None = None,
    posterior_predictive: bool = False,
    log_likelihood: bool = True,
    cores: int | None = None,
    check: bool = True,
    sampler_kwargs: dict[str, Any] | None = None,
) -> Result:
    """Fit the three-level normal model with NUTS.

    Parameters
    ----------
    data_or_model : HierData or HierModel
        Data (the model is built, or a compiled one reused; with covariates the
        meta-regression ``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)``, see
        :mod:`hiermodel.model`) or a model from
        :func:`~hiermodel.model.build_model` or :func:`~hiermodel.model.pooling_model`
        (sampled as is).  A bare ``pymc.Model`` is refused: hiermodel needs the data and
        priors it was built from.
    parameterization : {"marginal", "auto", "centered", "noncentered"} or array
        Default "marginal": sample (mu, tau[, sigma]) with theta integrated out, then draw
        theta exactly from ``p(theta | mu, tau, y)`` (with covariates mu and beta are
        integrated out too: NUTS samples tau[, sigma] and (mu, beta) are drawn exactly) --
        the same posterior, no funnel, the fastest (see ``benchmarks/bench_fit.py``).  The
        others sample theta with per-group centering (see :mod:`hiermodel.model`).  With
        nutpie every form samples :mod:`hiermodel.fastpath`'s cached compiled density.
        Ignored when a model is passed.
    priors : Priors, optional
        Default ``Priors()``: scaled to the data (:mod:`hiermodel.priors`); the numbers used
        are in ``posterior.attrs`` (``priors``, ``prior_*``).  Ignored when a model is passed.
    draws, tune, chains : int, default 1000, 1000, 4
    seed : int, optional
        Same seed, same draws (bit for bit) for every backend.  None draws a fresh seed,
        recorded in ``posterior.attrs["seed"]``.  The fast path (:mod:`hiermodel.fastpath`)
        and the PyMC model give different draws for one seed (they start their chains from
        different points), from the same posterior.
    sampler : {"nutpie", "pymc", "numpyro"}, default "nutpie"
    target_accept : float, optional
        Default 0.9 for "marginal", 0.95 when theta is sampled, 0.99 when theta is sampled
        with covariates (:data:`DEFAULT_TARGET_ACCEPT`, chosen so that Eight Schools,
        mixed-precision data and the BCG meta-regression give 0 divergences).
    progressbar : bool, optional
        Default: on, except when the ``CI`` environment variable is true; an explicit value
        always wins.  With progress on, a line is printed before a first-time compile.
    posterior_predictive : bool, default False
        Add the ``posterior_predictive`` group of
        :func:`hiermodel.predictive.posterior_predictive` (replicated group means ``y``, and
        more: see there).
    log_likelihood : bool, default True
        Add the pointwise log-likelihood, one value per group (for LOO / leave-one-group-out).
    cores : int, optional
        Chains run in parallel on this many cores (default: all, at most ``chains``).
    check : bool, default True
        Run the automatic diagnostics and warn (:class:`SamplingWarning`) on problems, and
        the prior-data conflict check (:func:`~hiermodel.diagnostics.prior_data_conflict`,
        :class:`PriorDataConflictWarning`).
    sampler_kwargs : dict, optional
        Further NUTS settings passed to the backend, checked before anything is compiled or
        sampled: a key the backend does not take is refused (ValueError naming it), and so
        is one that fit sets itself (``draws``, ``tune``, ``chains``, ``cores``, ``seed`` /
        ``random_seed``, ``target_accept``, ``progressbar``: use fit's argument).  The tree
        depth is ``max_treedepth`` for every backend (default 10).  The keys
        (:data:`SAMPLER_KWARGS`):

        * ``"nutpie"`` -- ``nutpie.sample``'s sampler settings: ``max_treedepth`` (nutpie's
          ``maxdepth``), ``mindepth``, ``max_energy_error``, ``initial_step``,
          ``check_turning``, ``mass_matrix_eigval_cutoff``,
          ``mass_matrix_gamma``, ``mass_matrix_switch_freq``, ``early_window_switch_freq``,
          ``window_switch_freq``, ``store_divergences``, ``store_unconstrained``,
          ``store_gradient``, ``store_mass_matrix``.  The same for the compiled fast path.
        * ``"pymc"`` -- ``pymc.NUTS``'s ``max_treedepth``, ``early_max_treedepth``,
          ``step_scale``, ``Emax`` (the energy error that counts as a divergence),
          ``adapt_step_size``, ``gamma``, ``k``, ``t0``, and ``pymc.sample``'s ``init``,
          ``n_init``, ``jitter_max_retries``, ``initvals``, ``blas_cores``.
        * ``"numpyro"`` -- ``numpyro.infer.NUTS``'s ``max_treedepth`` (NumPyro's
          ``max_tree_depth``), ``step_size``, ``adapt_step_size``, ``adapt_mass_matrix``,
          ``dense_mass``, ``find_heuristic_step_size``, ``regularize_mass_matrix``,
          ``forward_mode_differentiation``, and ``pymc.sampling.jax.sample_jax_nuts``'s
          ``chain_method``, ``jitter``, ``postprocessing_backend`` (passed through
          ``pm.sample(nuts_sampler="numpyro", ...)``: ``nuts_sampler_kwargs`` on PyMC 5,
          ``nuts`` on PyMC 6).

        Given settings are recorded in ``posterior.attrs["sampler_kwargs"]``.

    Returns
    -------
    arviz.InferenceData
    """
    sampler, backend = _backend(sampler)
    options = _check_sampler_kwargs(sampler_kwargs, sampler)
    draws, tune, chains = (check_positive_int(v, k) for k, v in
                           (("draws", draws), ("tune", tune), ("chains", chains)))
    seed = resolve_seed(seed)
    if target_accept is not None:
        target_accept = check_prob(target_accept, "target_accept")
    cores = (min(chains, os.cpu_count() or 1) if cores is None
             else check_positive_int(cores, "cores"))
    progress = progress_enabled(progressbar)

    compiled_by = "pymc"
    if isinstance(data_or_model, HierModel):
        data, spec, model = data_or_model.data, data_or_model.spec, data_or_model.model
        compiled = backend.compile(model) if backend.compile else None
        sampling = contextlib.nullcontext((model, compiled))
    elif isinstance(data_or_model, HierData):
        data = HierData.check(data_or_model, covariates=True)
        priors = Priors.check(priors, data=data)
        name, c, tau_hat = centering(data, parameterization)
        compiled = (fastpath.compiled_model(data, priors, progress,
                                            None if name == "marginal" else c)
                    if sampler == "nutpie" and fastpath.covers(data, priors, name) else None)
        if compiled is not None:
            compiled_by = "hiermodel.fastpath"
            sampling = contextlib.nullcontext((None, compiled))
            spec = ModelSpec(parameterization=name, centering=tuple(float(v) for v in c),
                             priors=priors, likelihood="sufficient",
                             sigma_known=data.sigma_known, tau_hat=tau_hat)
        else:
            entry = _get_model(data, c, priors, sampler, marginal=name == "marginal",
                               progress=progress)
            sampling = _sampling(entry, data_updates(entry.model, data, c, priors), sampler)
            spec = dataclasses.replace(entry.model.spec, parameterization=name,
                                       centering=tuple(float(v) for v in c),
                                       tau_hat=tau_hat, priors=priors)
    elif type(data_or_model).__module__.startswith("pymc."):  # a pymc.Model, unimported
        raise TypeError("`data_or_model` is a bare pymc.Model, which fit cannot sample: it "
                        "needs the data and priors behind it. Pass the HierModel that "
                        "build_model(...) (or pooling_model(...)) returns, or the HierData.")
    else:
        raise TypeError(f"`data_or_model` must be a HierData or a HierModel from "
                        f"build_model, got {type(data_or_model).__name__}.")

    if target_accept is None:
        marginal = spec.parameterization == "marginal"
        target_accept = DEFAULT_TARGET_ACCEPT[
            "marginal" if marginal else "covariates" if data.has_covariates else "theta"]
    target_accept = float(target_accept)
    seeds = np.random.SeedSequence(seed).generate_state(3)
    t0 = time.perf_counter()
    kw = dict(draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
              **backend.keywords(options))
    with sampling as (model, compiled):
        idata = backend.sample(model, compiled, int(seeds[0]), progress, kw)
    elapsed = time.perf_counter() - t0
    got = stack.group(idata, "posterior").sizes.get("draw", 0)
    if got < draws:   # a sampler that stops on Ctrl-C and returns what it has (nutpie 0.16.11)
        raise KeyboardInterrupt(f"sampling was interrupted after {got} of {draws} draws per "
                                "chain; nothing is returned from a partial fit")
    _assemble(idata, data, spec, np.random.default_rng(seeds[2]), log_likelihood)
    if posterior_predictive:
        idata = predictive.posterior_predictive(idata, data, seed=int(seeds[1]))
    attrs = {
        "hiermodel_version": __version__, "sampler": sampler, "seed": seed,
        "draws": draws, "tune": tune, "chains": chains, "target_accept": target_accept,
        "sampling_seconds": elapsed, "compiled_model": compiled_by, **spec.attrs(),
    }
    if options:
        attrs["sampler_kwargs"] = repr(options)
    for name in ("posterior", "sample_stats"):
        idata[name].attrs.update(attrs)
    if check:
        sampling_diagnostics(idata).warn()
        warn_conflict(prior_data_conflict(idata, data, spec.priors))
    return idata


# ----------------------------------------------------------------------------- the result
def _assemble(idata: Result, data: HierData, spec: ModelSpec,
              rng: np.random.Generator, log_likelihood: bool) -> None:
    """Turn a backend's InferenceData into hiermodel's result, in place: the data's group
    labels on every group; exact theta draws for the marginal form; ``observed_data`` and
    ``constant_data`` as :mod:`hiermodel.model` writes them; the pointwise log-likelihood."""
    stack.map_groups(idata, label_groups, data=data)
    if spec.parameterization == "marginal" and data.has_covariates:
        _add_conditional_coefficients(idata, data, spec.priors, rng)
    if spec.parameterization == "marginal":
        _add_conditional_theta(idata, data, rng)
    for name in ("observed_data", "constant_data"):
        if name in stack.groups(idata):
            del idata[name]
    stack.set_group(idata, "observed_data", observed_data(data))
    stack.set_group(idata, "constant_data", constant_data(data, np.asarray(spec.centering)))
    if log_likelihood:
        _add_log_likelihood(idata, data)


def _group_se(idata: Result, data: HierData) -> xr.DataArray:
    """se_i per draw: fixed when sigma is known, sigma / sqrt(n_i) when it is a parameter."""
    if data.sigma_known:
        return xr.DataArray(data.se, dims="group")
    return idata.posterior["sigma"] / xr.DataArray(np.sqrt(data.n), dims="group")


def _add_conditional_coefficients(idata: Result, data: HierData, priors: Priors,
                                  rng: np.random.Generator) -> None:
    """Exact draws ``(mu, beta) | tau[, sigma], y ~ N(b_hat, A^-1)`` for the marginal form
    with covariates (:func:`hiermodel.model._collapsed` integrates them out), one per
    posterior draw, and ``intercept = mu - xbar' beta``."""
    post = stack.group(idata, "posterior")
    tau = post["tau"].transpose("chain", "draw").values
    se = _group_se(idata, data).broadcast_like(post["tau"]).transpose("chain", "draw", "group")
    x = design_matrix(data.n_groups, data.centered_covariates)
    b0, p0 = priors.coefficient_prior(data.n_covariates)
    cond = marginal_regression(tau.ravel() ** 2, np.asarray(data.means, float),
                               se.values.reshape(tau.size, -1) ** 2, x, b0, p0)
    chol = np.linalg.cholesky(cond.beta_cov)
    coef = cond.beta_hat + np.einsum("kjl,kl->kj", chol,
                                     rng.standard_normal(cond.beta_hat.shape))
    coef = coef.reshape(tau.shape + (-1,))
    post["mu"] = (("chain", "draw"), coef[..., 0])
    post["beta"] = (("chain", "draw", "covariate"), coef[..., 1:])
    post["intercept"] = (("chain", "draw"), coef[..., 0] - coef[..., 1:] @ data.covariate_means)
    post.coords["covariate"] = list(data.covariate_names)
    stack.set_group(idata, "posterior", post)


def _add_conditional_theta(idata: Result, data: HierData,
                           rng: np.random.Generator) -> None:
    """Exact draws ``theta_i | mu, tau, y ~ N(mu + w_i (ybar_i - mu), w_i se_i^2)``, with
    ``w_i = tau^2 / (tau^2 + se_i^2)`` (the conditional posterior, BDA3 eq. 5.17), one per
    posterior draw.
    With covariates ``mu`` is each group's ``mu + (x_i - xbar)' beta``: the same formula for
    ``theta_i - (x_i - xbar)' beta`` given ``ybar_i - (x_i - xbar)' beta``."""
    post = stack.group(idata, "posterior")
    se = _group_se(idata, data).broadcast_like(post["mu"]).transpose(..., "group")
    offset = covariate_offset(post, data)
    offset = offset if isinstance(offset, float) else offset.values
    mean, var = conditional_posterior(data.means - offset, se.values, post["mu"].values,
                                      post["tau"].values)
    mean += offset
    theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
    post["theta"] = (("chain", "draw", "group"), theta)
    post.coords["group"] = group_coord(data.groups)
    stack.set_group(idata, "posterior", post)


def _add_log_likelihood(idata: Result, data: HierData) -> None:
    """Pointwise log-likelihood, one value per group, ``log p(ybar_i [, ss_i] | theta_i, .)``:
    ``log N(ybar_i | theta_i, se_i^2)`` (+ ``log Gamma(ss_i | (n_i-1)/2, rate 1/(2 sigma^2))``
    when sigma is unknown; 0 for a group of one row).  Conditional on theta_i in every
    parameterization, so PSIS-LOO on it is leave-one-group-out."""
    from scipy import stats

    post = idata.posterior
    se = _group_se(idata, data)
    ll = xr.apply_ufunc(stats.norm.logpdf, xr.DataArray(data.means, dims="group"),
                        post["theta"], se)
    if not data.sigma_known:
        ll = ll + xr.apply_ufunc(ss_logpdf, xr.DataArray(data.ss, dims="group"),
                                 xr.DataArray(data.n, dims="group"), post["sigma"])
    ll = ll.transpose("chain", "draw", "group").rename("y")
    stack.set_group(idata, "log_likelihood", xr.Dataset({"y": ll}))
