"""Fitting layer: NUTS to ``arviz.InferenceData``, with diagnostics that are never silent.

``fit`` is the one verb most users need.  It builds (or reuses) the model, samples with
NUTS through one of three backends -- nutpie (default, the fastest; see ``benchmarks/``),
PyMC's own sampler, or NumPyro -- and returns InferenceData with the groups ``posterior``,
``sample_stats``, ``observed_data``, ``constant_data``, ``log_likelihood`` (one value per
group) and optionally ``posterior_predictive``.  It then checks R-hat, ESS, divergences and
BFMI and warns with a :class:`SamplingWarning` that says what to do.

Compiled-model reuse: models are built once per *structure* (number of groups, known or
unknown sigma, priors, backend) with the data as ``pm.Data``; a later fit of same-shaped
data swaps the data in without recompiling (nutpie's ``with_data`` / PyMC's ``set_data``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from ._validate import positive_int, resolve_seed
from .data import HierData, group_coord
from .exceptions import HierModelWarning, PriorDataConflictWarning, SamplingWarning
from .formatting import format_number as _fmt
from .models import (
    Priors,
    build_model,
    centering,
    data_updates,
    model_data,
    model_spec,
    resolve_priors,
)
from .shrinkage import conditional_posterior, eb_core, restricted_loglik

__all__ = [
    "fit", "diagnose", "Diagnostics", "diagnostics", "save", "load", "HierModelWarning",
    "SamplingWarning", "PriorDataConflictWarning", "prior_data_conflict", "SAMPLERS",
    "DEFAULT_TARGET_ACCEPT", "clear_model_cache", "running_in_ci",
]

SAMPLERS = ("nutpie", "pymc", "numpyro")
Sampler = Literal["nutpie", "pymc", "numpyro"]
#: Default target_accept per parameterization, measured with the data-scaled default priors,
#: 4 x 1000 draws, nutpie, 20 seeds each (benchmarks/bench_divergences.py): marginal at 0.8
#: -> 0 divergent fits on eight_schools() but 3 of 20 on the mixed-precision data (se 1 and
#: 40), at 0.85 -> 1 of 20, at 0.9 -> 0 of 20 on both (about 25% fewer ESS/s than 0.8);
#: auto (= non-centered on Eight Schools) at 0.9 -> 3 of 20 fits diverged, at 0.95 -> 0.
DEFAULT_TARGET_ACCEPT = {"marginal": 0.9, "theta": 0.95}
DEFAULT_PARAMETERIZATION = "marginal"
#: thresholds of the automatic checks (Vehtari et al. 2021 for R-hat / ESS)
RHAT_MAX, ESS_MIN, BFMI_MIN = 1.01, 400, 0.3
_NUMPYRO_MAX_TREE_DEPTH = 10
_EXTRA = {"nutpie": "fast", "numpyro": "fast"}
_MODULE = {"nutpie": "nutpie", "numpyro": "numpyro"}


# ----------------------------------------------------------------------------- backends
def _require_backend(sampler: str) -> Any:
    if sampler not in SAMPLERS:
        raise ValueError(f"Requested sampler {sampler!r} but it must be one of {SAMPLERS}.")
    if sampler == "pymc":
        return None
    import importlib

    try:
        mod = importlib.import_module(_MODULE[sampler])
        if sampler == "numpyro":
            importlib.import_module("jax")
    except ImportError as err:
        raise ImportError(
            f"sampler={sampler!r} needs the optional package {_MODULE[sampler]!r}, which is not "
            f"installed ({err}). Install it with: pip install 'hiermodel[{_EXTRA[sampler]}]' "
            "-- or use sampler='pymc'."
        ) from None
    return mod


@dataclass
class _Compiled:
    """A compiled model shared by every fit of one structure; fits swap their data in and
    sample under ``lock`` (see :func:`_sampling`)."""

    model: pm.Model
    nutpie: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_CACHE: dict[tuple, _Compiled] = {}
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget the compiled models kept for reuse (they are rebuilt on demand)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cache_key(data: HierData, priors: Priors, sampler: str, marginal: bool) -> tuple:
    # the priors' numbers live in pm.Data, so only their families fix the structure
    return (data.n_groups, data.sigma_known, priors.mu, priors.tau, priors.sigma, sampler,
            marginal)


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
        model = build_model(data, "marginal" if marginal else c, priors)
        new = _Compiled(model)
        if sampler == "nutpie":
            import nutpie

            new.nutpie = nutpie.compile_pymc_model(model, freeze_model=False)
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
    with entry.lock:
        pm.set_data(updates, model=entry.model)
        compiled = entry.nutpie.with_data(**updates) if sampler == "nutpie" else None
        yield entry.model, compiled


# ----------------------------------------------------------------------------- fit
def running_in_ci() -> bool:
    """True when the ``CI`` environment variable is set to a true value (``CI=0``,
    ``false``, ``no``, ``off`` and empty count as unset)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _progress(progressbar: bool | None) -> bool:
    """An explicit choice wins; by default progress is shown except in CI."""
    if progressbar is None:
        return not running_in_ci()
    return bool(progressbar)




def fit(
    data_or_model: HierData | pm.Model,
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
) -> az.InferenceData:
    """Fit the three-level normal model with NUTS.

    Parameters
    ----------
    data_or_model : HierData or pymc.Model
        Data (the model is built, or a compiled one reused) or a model from
        :func:`~hiermodel.models.build_model` (sampled as is).
    parameterization : {"marginal", "auto", "centered", "noncentered"} or array
        Default "marginal": sample (mu, tau[, sigma]) with theta integrated out, then draw
        theta exactly from ``p(theta | mu, tau, y)`` -- the same posterior, no funnel, the
        fastest (see ``benchmarks/bench_fit.py``).  The others sample theta with per-group
        centering (see :mod:`hiermodel.models`).  Ignored when a model is passed.
    priors : Priors, optional
        Default ``Priors()``: scaled to the data (:mod:`hiermodel.priors`); the numbers used
        are in ``posterior.attrs`` (``priors``, ``prior_*``).  Ignored when a model is passed.
    draws, tune, chains : int, default 1000, 1000, 4
    seed : int, optional
        Same seed, same draws (bit for bit) for every backend.  None draws a fresh seed,
        recorded in ``posterior.attrs["seed"]``.
    sampler : {"nutpie", "pymc", "numpyro"}, default "nutpie"
    target_accept : float, optional
        Default 0.9 for "marginal", 0.95 when theta is sampled (:data:`DEFAULT_TARGET_ACCEPT`,
        chosen so that Eight Schools and mixed-precision data give 0 divergences).
    progressbar : bool, optional
        Default: on, except when the ``CI`` environment variable is true; an explicit value
        always wins.  With progress on, a line is printed before a first-time compile.
    posterior_predictive : bool, default False
        Add replicated group means ``y`` (the ``posterior_predictive`` group).
    log_likelihood : bool, default True
        Add the pointwise log-likelihood, one value per group (for LOO / leave-one-group-out).
    cores : int, optional
        Chains run in parallel on this many cores (default: all, at most ``chains``).
    check : bool, default True
        Run the automatic diagnostics and warn (:class:`SamplingWarning`) on problems, and
        the prior-data conflict check (:func:`prior_data_conflict`,
        :class:`PriorDataConflictWarning`).

    Returns
    -------
    arviz.InferenceData
    """
    _require_backend(sampler)
    draws, tune, chains = (positive_int(k, v) for k, v in
                           (("draws", draws), ("tune", tune), ("chains", chains)))
    seed = resolve_seed(seed)
    if target_accept is not None:
        if isinstance(target_accept, bool) or not isinstance(target_accept,
                                                             (int, float, np.number)):
            raise TypeError(f"`target_accept` must be a number in (0, 1) or None, got "
                            f"{target_accept!r}.")
        if not 0 < float(target_accept) < 1:
            raise ValueError(f"`target_accept` must be in (0, 1), got {target_accept}.")
    cores = min(chains, os.cpu_count() or 1) if cores is None else positive_int("cores", cores)
    progress = _progress(progressbar)

    if isinstance(data_or_model, pm.Model):
        model = data_or_model
        spec = model_spec(model)
        data = model_data(model)
        compiled = None
        if sampler == "nutpie":
            import nutpie

            compiled = nutpie.compile_pymc_model(model, freeze_model=False)
        sampling = contextlib.nullcontext((model, compiled))
    elif isinstance(data_or_model, HierData):
        data = data_or_model
        priors = resolve_priors(priors, data)
        name, c, _ = centering(data, parameterization)
        entry = _get_model(data, c, priors, sampler, marginal=name == "marginal",
                           progress=progress)
        sampling = _sampling(entry, data_updates(entry.model, data, c, priors), sampler)
        spec = _respec(model_spec(entry.model), data, parameterization, priors)
    else:
        raise TypeError(f"`data_or_model` must be a HierData or a pymc.Model built by "
                        f"build_model, got {type(data_or_model).__name__}.")

    if target_accept is None:
        marginal = spec.parameterization == "marginal"
        target_accept = DEFAULT_TARGET_ACCEPT["marginal" if marginal else "theta"]
    target_accept = float(target_accept)
    seeds = np.random.SeedSequence(seed).generate_state(3)
    t0 = time.perf_counter()
    kw = dict(draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept)
    with sampling as (model, compiled):
        if sampler == "nutpie":
            import nutpie

            idata = nutpie.sample(compiled, seed=int(seeds[0]), progress_bar=progress,
                                  save_warmup=False, **kw)
        else:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=FutureWarning)
                idata = pm.sample(
                    model=model, random_seed=int(seeds[0]), progressbar=progress,
                    nuts_sampler=sampler, compute_convergence_checks=False,
                    idata_kwargs={"log_likelihood": False}, **kw,
                )
    elapsed = time.perf_counter() - t0
    groups = list(spec.groups)
    idata = _relabel(idata, groups)
    if spec.parameterization == "marginal":
        _add_conditional_theta(idata, data, np.random.default_rng(seeds[2]))
    if data is not None:
        _add_data_groups(idata, data, np.asarray(spec.centering))
    if log_likelihood:
        _add_log_likelihood(idata, data)
    if posterior_predictive:
        _add_posterior_predictive(idata, data, int(seeds[1]))
    from . import __version__

    attrs = {
        "hiermodel_version": __version__, "sampler": sampler, "seed": seed,
        "draws": draws, "tune": tune, "chains": chains, "target_accept": target_accept,
        "sampling_seconds": elapsed, **spec.attrs(),
    }
    for name in ("posterior", "sample_stats"):
        getattr(idata, name).attrs.update(attrs)
    if check:
        diagnostics(idata).warn()
        if data is not None:
            _warn_conflict(prior_data_conflict(idata, data, spec.priors))
    return idata


def _respec(spec, data: HierData, parameterization, priors: Priors):
    """The spec of a cached model, updated to this data's centering, labels and priors."""
    from dataclasses import replace

    name, c, tau_hat = centering(data, parameterization)
    return replace(spec, parameterization=name, centering=tuple(float(v) for v in c),
                   tau_hat=tau_hat, groups=data.groups, priors=priors)


def _relabel_ds(ds: xr.Dataset, groups: list) -> xr.Dataset:
    if "group" in ds.dims:
        ds = ds.assign_coords(group=group_coord(tuple(groups)))
    return ds


def _relabel(idata: az.InferenceData, groups: list) -> az.InferenceData:
    for name in idata.groups():
        setattr(idata, name, _relabel_ds(getattr(idata, name), groups))
    return idata


def replication_model(data: HierData) -> pm.Model:
    """The sampling distribution of the data given theta (and sigma), as a ``pm.Model`` with
    flat placeholders for the parameters: ``ybar_i ~ N(theta_i, se_i^2)`` and, if sigma is
    unknown, ``ss_i ~ Gamma((n_i - 1)/2, rate 1/(2 sigma^2))``.  Data enter as constants
    (not ``pm.Data``), so ``pm.sample_posterior_predictive`` takes theta and sigma from the
    posterior and draws only the replicated data."""
    with pm.Model(coords={"group": list(data.groups)}) as model:
        theta = pm.Flat("theta", dims="group")
        if data.sigma_known:
            pm.Normal("y", mu=theta, sigma=data.se, dims="group")
        else:
            sigma = pm.HalfFlat("sigma")
            n = data.n.astype(float)
            pm.Normal("y", mu=theta, sigma=sigma / np.sqrt(n), dims="group")
            pm.Gamma("ss", alpha=(n - 1) / 2, beta=1 / (2 * sigma**2), dims="group")
    return model


def _add_posterior_predictive(idata: az.InferenceData, data: HierData, seed: int) -> None:
    """Replicated data for the same groups, ``ybar_i^rep ~ N(theta_i, se_i^2)`` (and
    ``ss_i^rep`` if sigma is unknown), drawn with ``pm.sample_posterior_predictive``."""
    model = replication_model(data)
    names = ["theta"] + ([] if data.sigma_known else ["sigma"])
    replicated = ["y"] + ([] if data.sigma_known else ["ss"])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        pp = pm.sample_posterior_predictive(
            az.InferenceData(posterior=idata.posterior[names]), model=model, random_seed=seed,
            progressbar=False, var_names=replicated)
    idata.add_groups(posterior_predictive=_relabel_ds(pp.posterior_predictive,
                                                      list(data.groups)))


def _add_data_groups(idata: az.InferenceData, data: HierData, c: np.ndarray) -> None:
    g = group_coord(data.groups)
    obs = {"y": ("group", data.means)}
    if not data.sigma_known:
        obs["ss"] = ("group", data.ss)
    const = {"se": ("group", data.se), "c": ("group", c)}
    if data.n is not None:
        const["n"] = ("group", data.n)
    if data.sigma is not None:
        const["sigma"] = ("group", data.sigma)
    for name in ("observed_data", "constant_data"):
        if name in idata.groups():
            delattr(idata, name)
            idata._groups = [gr for gr in idata._groups if gr != name]
    idata.add_groups(
        observed_data=xr.Dataset(obs, coords={"group": g}),
        constant_data=xr.Dataset(const, coords={"group": g}),
    )


def _group_se(idata: az.InferenceData, data: HierData) -> xr.DataArray:
    """se_i per draw: fixed when sigma is known, sigma / sqrt(n_i) when it is a parameter."""
    if data.sigma_known:
        return xr.DataArray(data.se, dims="group")
    return idata.posterior["sigma"] / xr.DataArray(np.sqrt(data.n), dims="group")


def _add_conditional_theta(idata: az.InferenceData, data: HierData,
                           rng: np.random.Generator) -> None:
    """Exact draws ``theta_i | mu, tau, y ~ N(mu + w_i (ybar_i - mu), w_i se_i^2)``, with
    ``w_i = tau^2 / (tau^2 + se_i^2)`` (the seed text's section 5.1), one per posterior draw."""
    post = idata.posterior
    se = _group_se(idata, data).broadcast_like(post["mu"]).transpose(..., "group")
    mean, var = conditional_posterior(data.means, se.values, post["mu"].values,
                                      post["tau"].values)
    theta = mean + np.sqrt(var) * rng.standard_normal(mean.shape)
    post["theta"] = (("chain", "draw", "group"), theta)
    post.coords["group"] = group_coord(data.groups)


def _add_log_likelihood(idata: az.InferenceData, data: HierData) -> None:
    """Pointwise log-likelihood, one value per group, ``log p(ybar_i [, ss_i] | theta_i, .)``:
    ``log N(ybar_i | theta_i, se_i^2)`` (+ ``log Gamma(ss_i | (n_i-1)/2, rate 1/(2 sigma^2))``
    when sigma is unknown).  Conditional on theta_i in every parameterization, so PSIS-LOO on
    it is leave-one-group-out."""
    post = idata.posterior
    se = _group_se(idata, data)
    ll = xr.apply_ufunc(stats.norm.logpdf, xr.DataArray(data.means, dims="group"),
                        post["theta"], se)
    if not data.sigma_known:
        shape = xr.DataArray((data.n - 1) / 2, dims="group")
        ll = ll + xr.apply_ufunc(stats.gamma.logpdf, xr.DataArray(data.ss, dims="group"),
                                 shape, 0.0, 2 * post["sigma"] ** 2)
    ll = ll.transpose("chain", "draw", "group").rename("y")
    idata.add_groups(log_likelihood=xr.Dataset({"y": ll}))


# ----------------------------------------------------------------------------- diagnostics
def diagnose(idata: az.InferenceData, var_names: list[str] | None = None) -> pd.DataFrame:
    """R-hat, bulk/tail ESS and MCSE per parameter (``arviz.summary``, kind "diagnostics"),
    for ``mu``, ``tau``, ``theta`` and ``sigma`` by default."""
    if not isinstance(idata, az.InferenceData) or "posterior" not in idata.groups():
        raise TypeError("`idata` must be an arviz.InferenceData with a posterior group.")
    if var_names is None:
        var_names = [v for v in ("mu", "tau", "theta", "sigma") if v in idata.posterior]
    return az.summary(idata, var_names=var_names, kind="diagnostics")


@dataclass(frozen=True)
class Diagnostics:
    """Sampler health in one object: divergences, tree-depth hits, BFMI, worst R-hat / ESS."""

    divergences: int
    max_treedepth_hits: int
    bfmi: tuple[float, ...]
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_draws: int
    parameterization: str = "?"

    @property
    def problems(self) -> list[str]:
        """One sentence per failed check, with what to do about it."""
        out = []
        if self.divergences > 0:
            pct = 100 * self.divergences / self.n_draws
            out.append(
                f"{self.divergences} divergent transitions ({pct:.1f}% of draws) with the "
                f"{self.parameterization} parameterization: the posterior has a funnel the "
                "sampler cannot follow. Switch to the marginal or non-centered form "
                "(parameterization='marginal' / 'noncentered' / 'auto') and/or raise "
                "target_accept (e.g. 0.99); do not trust the draws until divergences are 0.")
        if not np.isfinite(self.max_rhat):
            out.append("R-hat could not be computed (NaN) for some parameter: a chain is "
                       "constant or too short. Run >= 2 chains with more draws and check "
                       "that every parameter moves.")
        elif self.max_rhat > RHAT_MAX:
            out.append(f"max R-hat {self.max_rhat:.3f} > {RHAT_MAX}: chains disagree. Run "
                       "more tune/draws, or reparameterize (non-centered).")
        if not (np.isfinite(self.min_ess_bulk) and np.isfinite(self.min_ess_tail)):
            out.append("ESS could not be computed (NaN) for some parameter: its draws are "
                       "constant. Check the model and run more draws.")
        elif min(self.min_ess_bulk, self.min_ess_tail) < ESS_MIN:
            out.append(f"min ESS (bulk {self.min_ess_bulk:.0f}, tail {self.min_ess_tail:.0f}) "
                       f"< {ESS_MIN}: too few effective draws for reliable estimates. "
                       "Increase draws (or chains).")
        if self.bfmi and min(self.bfmi) < BFMI_MIN:
            out.append(f"BFMI {min(self.bfmi):.2f} < {BFMI_MIN} in some chain: poor energy "
                       "exploration, typical of the centered funnel. Use the non-centered "
                       "form.")
        if self.max_treedepth_hits > 0:
            out.append(f"{self.max_treedepth_hits} draws hit the maximum tree depth: "
                       "consider reparameterizing or a larger max tree depth.")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def warn(self, stacklevel: int = 3) -> None:
        """Emit one :class:`SamplingWarning` listing every problem (none if all is well)."""
        if self.problems:
            warnings.warn("hiermodel sampling diagnostics:\n- " + "\n- ".join(self.problems),
                          SamplingWarning, stacklevel=stacklevel)

    def __str__(self) -> str:
        bfmi = ", ".join(f"{b:.2f}" for b in self.bfmi)
        lines = [
            f"divergences: {self.divergences} / {self.n_draws} draws",
            f"max tree depth hits: {self.max_treedepth_hits}",
            f"BFMI per chain: {bfmi}",
            f"max R-hat: {self.max_rhat:.4f}",
            f"min ESS bulk / tail: {self.min_ess_bulk:.0f} / {self.min_ess_tail:.0f}",
            "status: " + ("OK" if self.ok else "PROBLEMS\n  - " + "\n  - ".join(self.problems)),
        ]
        return "\n".join(lines)


def diagnostics(idata: az.InferenceData) -> Diagnostics:
    """Summarise sampler health (uses ArviZ's R-hat, ESS and BFMI)."""
    table = diagnose(idata)
    ss = idata.sample_stats if "sample_stats" in idata.groups() else xr.Dataset()
    div = int(ss["diverging"].sum()) if "diverging" in ss else 0
    depth_var = next((v for v in ("reached_max_treedepth", "maxdepth_reached") if v in ss), None)
    depth = int(ss[depth_var].sum()) if depth_var else 0
    if depth_var is None and "tree_depth" in ss:  # numpyro reports the depth itself
        depth = int((ss["tree_depth"] >= _NUMPYRO_MAX_TREE_DEPTH).sum())
    bfmi = tuple(float(b) for b in az.bfmi(idata)) if "energy" in ss else ()
    post = idata.posterior
    return Diagnostics(
        divergences=div, max_treedepth_hits=depth, bfmi=bfmi,
        # skipna=False: a NaN R-hat / ESS is a problem to report, never a pass
        max_rhat=float(table["r_hat"].max(skipna=False)),
        min_ess_bulk=float(table["ess_bulk"].min(skipna=False)),
        min_ess_tail=float(table["ess_tail"].min(skipna=False)),
        n_draws=int(post.sizes["chain"] * post.sizes["draw"]),
        parameterization=str(post.attrs.get("parameterization", "?")),
    )


# ----------------------------------------------------------------------------- prior-data conflict
#: thresholds of :func:`prior_data_conflict`
CONFLICT_Z = 3.0            # |E[mu|y] - mu_hat| / sd(mu|y)
CONFLICT_TAIL = 0.001       # posterior / prior tail probabilities; the likelihood-ratio level
CONFLICT_LR = float(stats.chi2.isf(CONFLICT_TAIL, 1))   # 10.83
CONFLICT_PRIOR_Z = 4.0      # |E[mu|y] - prior mean| / prior sd


def prior_data_conflict(idata: az.InferenceData, data: HierData,
                        priors: Priors | None = None) -> list[str]:
    """Sentences describing a conflict between the priors and the data (empty: none found).

    The data's own answer is the empirical-Bayes (REML) fit ``(mu_hat, tau_hat)`` of
    ``ybar_i ~ N(mu, tau^2 + se_i^2)``; the posterior should not sit far from it unless the
    prior is meant to be informative.  Flagged:

    * ``|E[mu | y] - mu_hat| > 3 sd(mu | y)``;
    * ``tau_hat`` outside the posterior's central 99.8% interval of tau *and* the data
      reject the posterior median of tau: the restricted likelihood-ratio statistic
      ``2 [l_R(tau_hat) - l_R(median(tau | y))]`` exceeds the chi^2_1 0.1% point, 10.83
      (:func:`hiermodel.shrinkage.restricted_loglik`; so a ``tau_hat`` of 0 beside a
      posterior that is merely positive is not a conflict);
    * the posterior far in the prior's tail: ``E[mu | y]`` more than 4 prior sds from the
      prior mean, or the posterior median of tau above the prior's 99.9% quantile.

    ``priors`` defaults to those recorded in ``posterior.attrs``.  :func:`fit` warns with
    :class:`PriorDataConflictWarning` when this list is not empty.
    """
    post = idata.posterior
    if "mu" not in post or "tau" not in post:
        return []
    if priors is None:
        priors = Priors.from_attrs(post.attrs)
    mu = np.asarray(post["mu"].values, dtype=float).ravel()
    tau = np.asarray(post["tau"].values, dtype=float).ravel()
    if mu.size < 2 or not (np.all(np.isfinite(mu)) and np.all(np.isfinite(tau))):
        return []
    eb = eb_core(data.means, data.se, "reml")
    mu_hat, tau_hat = float(eb.mu), float(eb.tau)
    out = []
    m, sd = float(mu.mean()), float(mu.std(ddof=1))
    fix = ("Check that the priors are on the scale of your data: the default (priors=None; "
           "on the command line, no --mu-prior / --tau-prior) is scaled to the data, and "
           "fixed numbers should be too. Compare with "
           "hiermodel.shrinkage.exact_posterior(data, priors) and empirical_bayes(data).")
    if sd > 0 and abs(m - mu_hat) > CONFLICT_Z * sd:
        out.append(f"the posterior mean of mu, {_fmt(m)}, is {abs(m - mu_hat) / sd:.1f} "
                   f"posterior sds ({_fmt(sd)}) from the data's estimate mu_hat = "
                   f"{_fmt(mu_hat)} (REML)")
    lo, med, hi = np.quantile(tau, [CONFLICT_TAIL, 0.5, 1 - CONFLICT_TAIL])
    lr = 2.0 * float(np.diff(restricted_loglik(data.means, data.se, [med, tau_hat]))[0])
    if (tau_hat < lo or tau_hat > hi) and lr > CONFLICT_LR:
        out.append(f"the data's estimate tau_hat = {_fmt(tau_hat)} (REML) lies outside the "
                   f"central {100 * (1 - 2 * CONFLICT_TAIL):g}% posterior interval of tau "
                   f"[{_fmt(lo)}, {_fmt(hi)}], and the data reject the posterior median "
                   f"{_fmt(med)} (likelihood ratio {lr:.1f} > {CONFLICT_LR:.1f})")
    if priors is not None and priors.mu == "normal" and priors.mu_sd is not None:
        zp = abs(m - priors.mu_mean) / priors.mu_sd
        if zp > CONFLICT_PRIOR_Z:
            out.append(f"the posterior mean of mu, {_fmt(m)}, is {zp:.1f} prior sds from the "
                       f"prior mean (mu ~ Normal({_fmt(priors.mu_mean)}, "
                       f"{_fmt(priors.mu_sd)}))")
    if priors is not None and priors.tau_scale is not None:
        q = float(priors.tau_dist().cdf(med))
        if q > 1 - CONFLICT_TAIL:
            out.append(f"the posterior median of tau, {_fmt(med)}, is beyond the prior's "
                       f"{100 * (1 - CONFLICT_TAIL):g}% quantile "
                       f"({_fmt(float(priors.tau_dist().ppf(1 - CONFLICT_TAIL)))})")
    if out:
        out.append(fix)
    return out


def _warn_conflict(problems: list[str], stacklevel: int = 3) -> None:
    if problems:
        warnings.warn("hiermodel prior-data conflict:\n- " + "\n- ".join(problems),
                      PriorDataConflictWarning, stacklevel=stacklevel)


# ----------------------------------------------------------------------------- persistence
def save(idata: az.InferenceData, path: str | os.PathLike) -> Path:
    """Write every group (with coords and attrs) to one netCDF file; returns the path.

    Written whole or not at all: to a temporary file beside ``path``, renamed over it only
    when complete (an interrupted save leaves an earlier file as it was)."""
    import tempfile

    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"`idata` must be an arviz.InferenceData, got {type(idata).__name__}.")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"`path` {str(path)!r} is a folder; give a file name such as "
                         f"{str(path / 'idata.nc')!r}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise ValueError(f"`path` {str(path)!r}: cannot write there "
                         f"({err.strerror or err}).") from None
    try:
        idata.to_netcdf(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike) -> az.InferenceData:
    """Read an InferenceData written by :func:`save` (fully into memory)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"`path`: no such file {str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"`path` {str(path)!r} is a folder; pass the .nc file written by "
                         "hiermodel.save (e.g. <out>/idata.nc).")
    try:
        idata = az.from_netcdf(str(path))
    except (OSError, ValueError) as err:
        raise ValueError(f"`path` {str(path)!r} is not a netCDF file written by "
                         f"hiermodel.save ({type(err).__name__}: {err}).") from None
    for name in idata.groups():
        getattr(idata, name).load()
    return idata
