r"""Simulation studies for the three-level normal model, and the executors that run them.

The generating model (the seed text's section 1.1), for groups i = 1..G::

    theta_i | mu, tau ~ N(mu, tau^2)
    y_ij | theta_i    ~ N(theta_i, sigma^2),          j = 1..n_i
    ybar_i | theta_i  ~ N(theta_i, se_i^2),           se_i = sigma / sqrt(n_i)

Three layers:

* **Data** -- :func:`simulate` draws one dataset and returns it as a :class:`HierData`
  (summary form or raw rows) with its true theta; :func:`simulate_arrays` draws ``R``
  datasets at once as ``(R, G)`` arrays, the input of the vectorised empirical-Bayes core.
* **The seed text's exercises** (section 9) as functions returning a tidy ``pandas.DataFrame``
  and a ``matplotlib.figure.Figure``: :func:`pooling_vs_tau` (exercise 1),
  :func:`shrinkage_by_size` (exercise 2) and :func:`mse_study` (exercise 3: no pooling vs
  empirical-Bayes partial pooling with every tau estimator vs full Bayes, with Monte Carlo
  confidence intervals).
* **Executors** -- :func:`map_chunked` runs replicate fits in this process by default
  (``executor=None`` or ``"serial"``: safe in any script, notebook or worker, and fastest for
  up to a few dozen fits, since the one model compile is paid once), or fans them out over
  any ``concurrent.futures.Executor`` or a ``dask.distributed.Client`` that you pass.  Work is
  cut into one chunk per worker; a chunk runs its fits one after another in one process, and
  :func:`hiermodel.fit.fit` keeps the compiled model per process, so every worker compiles
  once (about 10 s) and then fits in about 0.1 s.  Replicate ``r`` always gets the seed
  ``SeedSequence(seed).spawn(...)[r]``, so results are identical for a given seed whatever the
  executor, the number of workers and the chunking.

  A process pool (:func:`default_executor`, started with "spawn") re-imports the calling
  script in every worker: in a script, create and use it only under
  ``if __name__ == "__main__":``, else each worker runs the script's top level again::

      if __name__ == "__main__":
          with default_executor() as pool:
              study = mse_study(10_000, n_bayes=200, executor=pool)

  Threads give the serial answers but little or no speed-up: :func:`hiermodel.fit.fit`
  keeps one compiled model per model shape and process, and same-shaped fits in threads
  take turns on it under a lock (each gets exactly its serial draws, whatever the sampler
  and whether the priors are fixed or scaled to each dataset), so a thread pool -- or a
  Dask ``LocalCluster(processes=False)`` -- samples them one at a time.  For parallel
  studies use processes: :func:`default_executor` (with the ``__main__`` guard above) or a
  Dask client whose workers are processes (``LocalCluster()``'s default, or a real cluster).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import warnings
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._validate import count, finite_array, positive_array, root_seed
from .data import HierData
from .plots import figure_row
from .priors import Priors

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "Simulation", "SimulatedArrays", "simulate", "simulate_arrays",
    "pooling_vs_tau", "plot_pooling_vs_tau", "shrinkage_by_size", "plot_shrinkage_by_size",
    "MSEStudy", "mse_study", "fit_replicates", "map_chunked", "replicate_seeds",
    "default_executor",
    "SEED_N", "SEED_SIGMA",
]

#: the seed text's table 4.1 design: group sizes and the known within-group sd
SEED_N = (28, 8, 23, 20, 12, 44, 6, 11)
SEED_SIGMA = 15.0

SeedLike = int | np.random.Generator | np.random.SeedSequence | None
ExecutorLike = Executor | Literal["serial"] | Any | None


# ============================================================================ validation
def _nonneg(name: str, x: Any) -> np.ndarray:
    arr = finite_array(name, x)
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0 everywhere; got min {arr.min():g}.")
    return arr


def _sizes(n: Any, n_groups: int | None) -> np.ndarray:
    arr = finite_array("n", n)
    if arr.ndim == 0:
        if n_groups is None:
            raise ValueError("`n` is a scalar: pass `n_groups=` too, or one size per group.")
        arr = np.full(count("n_groups", n_groups, 2), float(arr))
    elif arr.ndim != 1:
        raise ValueError(f"`n` must be a scalar or 1-d (one size per group), got {arr.shape}.")
    elif n_groups is not None and arr.size != n_groups:
        raise ValueError(f"`n` has {arr.size} sizes but `n_groups`={n_groups}.")
    if np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError(f"`n` must hold whole numbers >= 1; got {arr.tolist()}.")
    if arr.size < 2:
        raise ValueError(f"A hierarchical model needs at least 2 groups; got {arr.size}.")
    return arr.astype(np.int64)


def _per_group(name: str, x: np.ndarray, g: int) -> np.ndarray:
    if x.ndim == 0:
        return np.full(g, float(x))
    if x.shape != (g,):
        raise ValueError(f"`{name}` must be a scalar or have one value per group ({g}), got "
                         f"shape {x.shape}.")
    return x


def _rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, bool) or not (seed is None or isinstance(
            seed, (int, np.integer, np.random.Generator, np.random.SeedSequence))):
        raise TypeError(f"`seed` must be an int, a numpy Generator/SeedSequence or None, got "
                        f"{type(seed).__name__}.")
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"`seed` must be >= 0, got {seed}.")
    return np.random.default_rng(seed)


# ============================================================================ data
@dataclass(frozen=True, repr=False)
class Simulation:
    """One simulated dataset with the truth that generated it.

    Attributes
    ----------
    data : HierData
        The data, in summary form (``ybar_i``, ``n_i``, ``sigma``) or as raw rows.
    theta : ndarray, shape (G,)
        The true group means ``theta_i``.
    mu, tau : float
        The population mean and between-group sd used.
    sigma : ndarray, shape (G,)
        The within-group sd per group.
    """

    data: HierData
    theta: np.ndarray
    mu: float
    tau: float
    sigma: np.ndarray

    def __repr__(self) -> str:
        return (f"Simulation(mu={self.mu:g}, tau={self.tau:g}, G={len(self.theta)}, "
                f"N={self.data.n_total})\n{self.data!r}")


def simulate(
    mu: float, tau: float, sigma: float | Sequence[float] | np.ndarray,
    n: int | Sequence[int] | np.ndarray, *, n_groups: int | None = None,
    rows: bool = False, sigma_known: bool = True, groups: Sequence[Hashable] | None = None,
    seed: SeedLike = None,
) -> Simulation:
    r"""Draw one dataset from the three-level normal model.

    .. math::

        \theta_i \sim N(\mu, \tau^2), \qquad
        y_{ij} \sim N(\theta_i, \sigma_i^2) \;\; (j = 1..n_i)
        \quad\text{or}\quad \bar y_i \sim N(\theta_i, \sigma_i^2 / n_i).

    Parameters
    ----------
    mu : float
        Population mean.
    tau : float
        Between-group sd, ``>= 0`` (0 gives identical groups).
    sigma : float or array of G floats
        Within-group sd, ``> 0``.
    n : int or array of G ints
        Group sizes ``n_i >= 1`` (a scalar needs ``n_groups``).
    n_groups : int, optional
        Number of groups when ``n`` is a scalar.
    rows : bool, default False
        False: draw only the group means (``ybar_i ~ N(theta_i, sigma_i^2 / n_i)``, exact and
        O(G)) and return :meth:`HierData.from_summary`.  True: draw every row ``y_ij`` and
        return :meth:`HierData.from_observations` (rows kept).
    sigma_known : bool, default True
        With ``rows=True``: whether the returned data treat sigma as known (passed on) or as
        a parameter to estimate (needs ``n_i >= 2`` and a scalar sigma).
    groups : sequence of hashable, optional
        Group labels (default ``group_0 ... group_{G-1}``).
    seed : int, numpy Generator or SeedSequence, optional

    Returns
    -------
    Simulation
        ``.data`` (HierData) and the truth ``.theta``, ``.mu``, ``.tau``, ``.sigma``.
    """
    mu_ = float(finite_array("mu", mu))
    tau_ = float(_nonneg("tau", tau))
    nn = _sizes(n, n_groups)
    g = nn.size
    sig = _per_group("sigma", positive_array("sigma", sigma), g)
    labels = [f"group_{i}" for i in range(g)] if groups is None else list(groups)
    if len(labels) != g:
        raise ValueError(f"`groups` has {len(labels)} labels but there are {g} groups.")
    rng = _rng(seed)
    theta = mu_ + tau_ * rng.standard_normal(g)
    if not rows:
        ybar = theta + sig / np.sqrt(nn) * rng.standard_normal(g)
        data = HierData.from_summary(ybar, nn, sig, groups=labels)
    else:
        idx = np.repeat(np.arange(g), nn)
        y = theta[idx] + sig[idx] * rng.standard_normal(idx.size)
        lab = np.empty(g, dtype=object)
        lab[:] = labels
        if sigma_known:
            data = HierData.from_observations(y, lab[idx], sigma=sig)
        else:
            if np.ptp(sig) > 0:
                raise ValueError("`sigma_known=False` needs one common `sigma` (the model has "
                                 "a single unknown sigma).")
            data = HierData.from_observations(y, lab[idx])
    return Simulation(data, theta, mu_, tau_, sig)


@dataclass(frozen=True, repr=False)
class SimulatedArrays:
    """``R`` datasets of ``G`` groups as arrays (the input of the vectorised EB core).

    Attributes
    ----------
    means : ndarray, shape (R, G)
        ``ybar_ri``.
    se : ndarray, shape (R, G)
        Known standard errors ``se_ri``.
    theta : ndarray, shape (R, G)
        True group means.
    mu, tau : ndarray, shape (R,)
        The hyperparameters of each dataset.
    """

    means: np.ndarray
    se: np.ndarray
    theta: np.ndarray
    mu: np.ndarray
    tau: np.ndarray

    def __iter__(self):  # ``means, se, theta = simulate_arrays(...)``
        return iter((self.means, self.se, self.theta))

    def __len__(self) -> int:
        return self.means.shape[0]

    def dataset(self, r: int, groups: Sequence[Hashable] | None = None) -> HierData:
        """Dataset ``r`` as :meth:`HierData.from_estimates`."""
        return HierData.from_estimates(self.means[r], self.se[r], groups=groups)

    def __repr__(self) -> str:
        r, g = self.means.shape
        return f"SimulatedArrays({r} datasets x {g} groups)"


def simulate_arrays(
    n_datasets: int, mu: float | np.ndarray, tau: float | np.ndarray, *,
    se: float | np.ndarray | None = None, sigma: float | np.ndarray | None = None,
    n: int | Sequence[int] | np.ndarray | None = None, n_groups: int | None = None,
    seed: SeedLike = None,
) -> SimulatedArrays:
    r"""Draw ``R = n_datasets`` datasets at once, vectorised.

    .. math::

        \theta_{ri} = \mu_r + \tau_r z_{ri}, \qquad
        \bar y_{ri} = \theta_{ri} + se_{ri}\, e_{ri}, \qquad z, e \sim N(0, 1)\ \text{iid}.

    Parameters
    ----------
    n_datasets : int
        ``R >= 1``.
    mu, tau : float or array of shape (R,)
        Hyperparameters, common or one per dataset (``tau >= 0``).
    se : float or array of shape (G,) or (R, G), optional
        Known standard errors of the group means.  Either ``se`` or both ``sigma`` and ``n``
        (``se_i = sigma / sqrt(n_i)``).
    sigma : float or array of shape (G,), optional
    n : int or array of shape (G,), optional
    n_groups : int, optional
        G, when ``se`` (or ``n``) is a scalar.
    seed : int, numpy Generator or SeedSequence, optional

    Returns
    -------
    SimulatedArrays
        ``.means``, ``.se``, ``.theta`` of shape (R, G) (unpacks as ``means, se, theta``),
        and ``.mu``, ``.tau`` of shape (R,).
    """
    r = count("n_datasets", n_datasets)
    if se is None:
        if sigma is None or n is None:
            raise ValueError("Pass either `se`, or both `sigma` and `n` (se = sigma/sqrt(n)).")
        nn = _sizes(n, n_groups)
        se_ = _per_group("sigma", positive_array("sigma", sigma), nn.size) / np.sqrt(nn)
    else:
        if sigma is not None or n is not None:
            raise ValueError("Pass either `se` or `sigma` and `n`, not both.")
        se_ = positive_array("se", se)
        if se_.ndim == 0:
            if n_groups is None:
                raise ValueError("`se` is a scalar: pass `n_groups=` too.")
            se_ = np.full(count("n_groups", n_groups, 2), float(se_))
        if se_.ndim not in (1, 2) or (se_.ndim == 2 and se_.shape[0] != r):
            raise ValueError(f"`se` must have shape (G,) or ({r}, G), got {se_.shape}.")
    g = se_.shape[-1]
    if g < 2:
        raise ValueError(f"A hierarchical model needs at least 2 groups; got {g}.")
    mu_ = finite_array("mu", mu)
    tau_ = _nonneg("tau", tau)
    for name, v in (("mu", mu_), ("tau", tau_)):
        if v.ndim > 1 or (v.ndim == 1 and v.size != r):
            raise ValueError(f"`{name}` must be a scalar or have shape ({r},), got {v.shape}.")
    mu_ = np.broadcast_to(mu_, (r,)).copy()
    tau_ = np.broadcast_to(tau_, (r,)).copy()
    rng = _rng(seed)
    z = rng.standard_normal((r, g))
    e = rng.standard_normal((r, g))
    theta = mu_[:, None] + tau_[:, None] * z
    se_full = np.broadcast_to(se_, (r, g)).copy()
    return SimulatedArrays(theta + se_full * e, se_full, theta, mu_, tau_)


# ============================================================================ executors
def replicate_seeds(seed: int | np.random.SeedSequence, n: int) -> np.ndarray:
    """One integer seed per replicate: ``SeedSequence(seed).spawn(n)[r].generate_state(1)``.

    Child ``r`` depends only on ``(seed, r)``, so replicate ``r`` gets the same seed whatever
    ``n``, the executor or the chunking.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key)  # fresh spawn counter
    n = count("n", n, 0) if n else 0
    return np.array([int(c.generate_state(1, np.uint32)[0]) for c in ss.spawn(n)],
                    dtype=np.int64)


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.startswith("distributed") and hasattr(obj, "get_executor")


def _n_workers(executor: Any) -> int:
    if _is_dask_client(executor):
        try:
            info = executor.scheduler_info()
            nthreads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())
            return max(nthreads, 1)
        except Exception:  # pragma: no cover - scheduler unreachable
            return os.cpu_count() or 1
    return int(getattr(executor, "_max_workers", None) or os.cpu_count() or 1)


def _run_chunk(func: Callable, chunk: list[tuple]) -> list:
    """Run ``func(*args)`` for each args in ``chunk`` sequentially (in one worker)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [func(*args) for args in chunk]


def _chunks(items: list, chunksize: int) -> list[list]:
    return [items[i:i + chunksize] for i in range(0, len(items), chunksize)]


def default_executor(max_workers: int | None = None) -> ProcessPoolExecutor:
    """A local process pool, one process per CPU, started with "spawn" (safe with the
    sampler's threads; each process imports hiermodel and compiles its model once).

    Not used unless you pass it: the studies run serially by default.  "spawn" re-imports
    the ``__main__`` script in each worker, so in a script create and use the pool only
    under ``if __name__ == "__main__":`` (a notebook or ``python -c`` needs no guard).  It
    pays off only when the fits outweigh each worker's start-up (import and model compile,
    ~10-15 s): on a 2-core machine ``sbc(20, seed=1)`` took 22-35 s on a 2-process pool and
    11-19 s serially.
    """
    workers = ((os.cpu_count() or 1) if max_workers is None
               else count("max_workers", max_workers))
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"))


def map_chunked(
    func: Callable[..., Any], args: Sequence[tuple], *, executor: ExecutorLike = None,
    chunksize: int | None = None,
) -> list:
    """``[func(*a) for a in args]``, fanned out over an executor in chunks, in order.

    Parameters
    ----------
    func : callable
        A module-level (picklable) function.
    args : sequence of tuples
        One argument tuple per replicate.
    executor : Executor, dask.distributed.Client, "serial" or None, default None
        ``None`` or ``"serial"``: run in this process, one after another (safe from any
        script; no ``__main__`` guard needed).  Any ``concurrent.futures.Executor`` (e.g.
        :func:`default_executor`, a thread pool, ``client.get_executor()``) or a
        ``dask.distributed.Client`` (its ``get_executor()`` is used) runs unchanged and
        gives the serial results.  For speed use processes -- a process pool (needs the
        ``if __name__ == "__main__":`` guard in scripts; see the module docstring) or a
        Dask client with process workers: in a thread pool (or a Dask
        ``LocalCluster(processes=False)``) same-shaped fits share one compiled model and
        sample one at a time under its lock, so threads give the serial answers but do not
        speed the fits up.
    chunksize : int, optional
        Replicates per task.  Default ``ceil(len(args) / workers)``: one chunk per worker,
        so each worker process compiles its model once and runs its fits in sequence.

    Returns
    -------
    list
        The results, in the order of ``args`` (independent of executor and chunking).
    """
    if not callable(func):
        raise TypeError(f"`func` must be callable, got {type(func).__name__}.")
    items = list(args)
    if not items:
        return []
    if isinstance(executor, str) and executor != "serial":
        raise ValueError(f"Requested executor {executor!r} but it must be one of "
                         "{'serial', None, a concurrent.futures.Executor, a "
                         "dask.distributed.Client}.")
    if executor is None or isinstance(executor, str):
        return _run_chunk(func, items)
    if _is_dask_client(executor):
        pool = executor.get_executor(pure=False)
    elif isinstance(executor, Executor):
        pool = executor
    else:
        raise TypeError(f"`executor` must be a concurrent.futures.Executor, a "
                        f"dask.distributed.Client, 'serial' or None; got "
                        f"{type(executor).__name__}.")
    workers = _n_workers(executor)
    size = (math.ceil(len(items) / workers) if chunksize is None
            else count("chunksize", chunksize))
    futures = [pool.submit(_run_chunk, func, chunk) for chunk in _chunks(items, size)]
    out: list = []
    for fut in futures:
        out.extend(fut.result())
    return out


# ============================================================================ full Bayes
_FIT_DEFAULTS = {"parameterization": "marginal", "draws": 500, "tune": 500, "chains": 2,
                 "sampler": "nutpie"}


def replicate_fit_kwargs(fit_kwargs: dict | None, priors: Priors | None) -> dict:
    kw = {**_FIT_DEFAULTS, **(fit_kwargs or {})}
    forbidden = {"seed", "check", "progressbar", "log_likelihood", "posterior_predictive",
                 "data_or_model"} & set(kw)
    if forbidden:
        raise ValueError(f"`fit_kwargs` must not set {sorted(forbidden)}: seeds come from the "
                         "study's seed and the per-replicate fits are lean.")
    if priors is not None:
        if not isinstance(priors, Priors):
            raise TypeError(f"`priors` must be a hiermodel.Priors, got {type(priors).__name__}.")
        kw["priors"] = priors
    return kw


def _fit_one(means: np.ndarray, se: np.ndarray, seed: int, kw: dict) -> dict:
    """Fit one known-se dataset and return posterior means (runs in a worker)."""
    from .fit import fit

    data = HierData.from_estimates(means, se)
    idata = fit(data, seed=int(seed), progressbar=False, check=False, log_likelihood=False,
                cores=kw.pop("cores", 1), **kw)
    post = idata.posterior
    ss = idata.sample_stats
    return {
        "theta": post["theta"].mean(("chain", "draw")).to_numpy(),
        "mu": float(post["mu"].mean()), "tau": float(post["tau"].mean()),
        "divergences": int(ss["diverging"].sum()) if "diverging" in ss else 0,
    }


def fit_replicates(
    means: np.ndarray, se: np.ndarray, *, seed: int | None = 0, priors: Priors | None = None,
    fit_kwargs: dict | None = None, executor: ExecutorLike = None,
    chunksize: int | None = None,
) -> pd.DataFrame:
    """Full-Bayes fits of ``R`` known-se datasets, fanned out over an executor.

    Parameters
    ----------
    means, se : ndarray, shape (R, G)
    seed : int, optional
        Master seed; replicate ``r`` is fitted with ``replicate_seeds(seed, R)[r]``.
    priors : Priors, optional
        Hyperpriors of the fitted model.  Default ``Priors()``, scaled by :func:`fit` to
        each replicate's data; fields left at None are likewise resolved per replicate.
        Pass fixed numbers for one prior across the replicates.
    fit_kwargs : dict, optional
        Passed to :func:`hiermodel.fit.fit` (default ``parameterization="marginal", draws=500,
        tune=500, chains=2, sampler="nutpie"``; chains run one after another, ``cores=1``).
    executor, chunksize
        See :func:`map_chunked` (default: serially, in this process).  Every executor gives
        the serial numbers; only processes run the fits in parallel (threads take turns on
        the shared compiled model).

    Returns
    -------
    pandas.DataFrame
        One row per replicate: ``seed``, ``mu``, ``tau`` (posterior means), ``divergences``
        and ``theta`` (an array of the G posterior means).
    """
    m = finite_array("means", means)
    s = positive_array("se", se)
    if m.ndim != 2 or s.shape != m.shape:
        raise ValueError(f"`means` and `se` must both have shape (R, G); got {m.shape} and "
                         f"{s.shape}.")
    kw = replicate_fit_kwargs(fit_kwargs, priors)
    seeds = replicate_seeds(root_seed(seed), m.shape[0])
    res = map_chunked(_fit_one, [(m[r], s[r], int(seeds[r]), dict(kw))
                                 for r in range(m.shape[0])],
                      executor=executor, chunksize=chunksize)
    out = pd.DataFrame({"seed": seeds, "mu": [x["mu"] for x in res],
                        "tau": [x["tau"] for x in res],
                        "divergences": [x["divergences"] for x in res]})
    out["theta"] = [x["theta"] for x in res]
    return out


# ============================================================================ plotting helpers
def _method(method: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(method, str) or method not in allowed:
        raise ValueError(f"Requested method {method!r} but it must be one of {set(allowed)}.")
    return method


def _level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"`level` must be a number in (0, 1), e.g. 0.95; got {level!r}.")
    return float(level)


# ============================================================================ exercise 1
def pooling_vs_tau(
    taus: Sequence[float] | np.ndarray = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0), *,
    mu: float = 0.0, sigma: float | Sequence[float] | np.ndarray = SEED_SIGMA,
    n: int | Sequence[int] | np.ndarray = SEED_N, n_groups: int | None = None,
    method: str = "reml", seed: SeedLike = 0,
) -> pd.DataFrame:
    r"""Exercise 1: sweep the between-group sd tau and watch partial pooling move.

    One set of standard normals ``z_i, e_i`` is drawn once and reused for every tau (common
    random numbers), so the only thing that changes along the sweep is tau:

    .. math::

        \theta_i = \mu + \tau z_i, \qquad \bar y_i = \theta_i + se_i e_i, \qquad
        se_i = \sigma_i / \sqrt{n_i}.

    Each dataset gets the three estimates of the seed text's section 2: no pooling
    :math:`\bar y_i`; complete pooling :math:`\hat\mu` (precision-weighted at
    :math:`\hat\tau`); partial pooling :math:`w_i \bar y_i + (1 - w_i) \hat\mu` with
    :math:`w_i = \hat\tau^2 / (\hat\tau^2 + se_i^2)` and :math:`\hat\tau` from ``method``.
    As tau grows the weights go from 0 (complete pooling) to 1 (no pooling); the oracle
    weight :math:`\tau^2 / (\tau^2 + se_i^2)` is reported next to the estimated one.

    Parameters
    ----------
    taus : sequence of float, default (0, 1, 2, 5, 10, 20, 50)
        True between-group sds, each ``>= 0``.
    mu : float, default 0
    sigma : float or array of G floats, default 15 (the seed's)
    n : int or array of G ints, default the seed text's table 4.1 sizes
    n_groups : int, optional
        Needed when ``n`` is a scalar.
    method : {"dl", "pm", "ml", "reml", "sd_of_means", "true"}, default "reml"
        The tau estimator (:func:`hiermodel.shrinkage.estimate_tau`), or "true" to plug in
        the true tau (and mu).
    seed : int, numpy Generator or SeedSequence, default 0

    Returns
    -------
    pandas.DataFrame
        One row per (tau, group): ``tau``, ``group``, ``n``, ``se``, ``theta`` (truth),
        ``no_pooling``, ``complete_pooling``, ``partial_pooling``, ``weight`` (estimated
        ``w_i``), ``weight_true`` (oracle), ``tau_hat``, ``mu_hat``.
    """
    from .shrinkage import TAU_METHODS, estimate_tau

    method = _method(method, (*TAU_METHODS, "true"))
    t = _nonneg("taus", taus)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`taus` must be a non-empty 1-d sequence, got shape {t.shape}.")
    mu_ = float(finite_array("mu", mu))
    nn = _sizes(n, n_groups)
    g = nn.size
    se = _per_group("sigma", positive_array("sigma", sigma), g) / np.sqrt(nn)
    rng = _rng(seed)
    z = rng.standard_normal(g)
    e = rng.standard_normal(g)
    theta = mu_ + t[:, None] * z                     # (K, G), common random numbers
    ybar = theta + se * e
    se_b = np.broadcast_to(se, ybar.shape)
    if method == "true":
        tau_hat, mu_hat = t, np.full(t.size, mu_)
    else:
        est = estimate_tau(ybar, se_b, method)
        tau_hat, mu_hat = est.tau, est.mu
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(tau_hat[:, None] > 0, tau_hat[:, None] ** 2
                     / (tau_hat[:, None] ** 2 + se_b**2), 0.0)
        w_true = np.where(t[:, None] > 0, t[:, None] ** 2 / (t[:, None] ** 2 + se_b**2), 0.0)
    partial = w * ybar + (1 - w) * mu_hat[:, None]
    k = t.size
    return pd.DataFrame({
        "tau": np.repeat(t, g), "group": np.tile(np.arange(g), k),
        "n": np.tile(nn, k), "se": np.tile(se, k), "theta": theta.ravel(),
        "no_pooling": ybar.ravel(), "complete_pooling": np.repeat(mu_hat, g),
        "partial_pooling": partial.ravel(), "weight": w.ravel(),
        "weight_true": w_true.ravel(), "tau_hat": np.repeat(tau_hat, g),
        "mu_hat": np.repeat(mu_hat, g),
    })


def _check_table(table: Any, columns: Sequence[str], maker: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame) or not set(columns) <= set(table.columns):
        raise TypeError(f"`table` must be the DataFrame returned by {maker}() (columns "
                        f"{list(columns)}).")
    return table


def plot_pooling_vs_tau(table: pd.DataFrame) -> Figure:
    """Figure of :func:`pooling_vs_tau`: left, each group's partial-pooling estimate against
    tau, between its no-pooling estimate (dotted) and complete pooling (black); right, the
    shrinkage weights ``w_i`` (estimated: markers; oracle ``tau^2/(tau^2+se_i^2)``: lines).
    The tau axis is symlog (linear below the smallest ``se_i``)."""
    tab = _check_table(table, ("tau", "group", "no_pooling", "complete_pooling",
                               "partial_pooling", "weight", "weight_true"), "pooling_vs_tau")
    fig, (ax1, ax2) = figure_row(2)
    for i, (grp, d) in enumerate(tab.groupby("group", sort=True)):
        col = f"C{i % 10}"
        ax1.plot(d["tau"], d["partial_pooling"], "o-", color=col, ms=3, lw=1.2,
                 label=f"group {grp}" if i < 10 else None)
        ax1.plot(d["tau"], d["no_pooling"], ":", color=col, lw=1)
        ax2.plot(d["tau"], d["weight_true"], "-", color=col, lw=1)
        ax2.plot(d["tau"], d["weight"], "o", color=col, ms=3)
    cp = tab.groupby("tau", sort=True)["complete_pooling"].first()
    ax1.plot(cp.index, cp.to_numpy(), "k-", lw=2, label="complete pooling")
    for ax in (ax1, ax2):
        ax.set_xscale("symlog", linthresh=max(float(tab["se"].min()), 1e-3)
                      if "se" in tab else 1.0)
        ax.set_xlabel("true tau")
    ax1.set_ylabel("estimate of theta_i  (dotted: no pooling)")
    ax1.set_title("partial pooling moves from complete to no pooling")
    ax2.set_ylabel("shrinkage weight w_i on ybar_i")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("w_i: estimated (dots), oracle (lines)")
    ax1.legend(fontsize="x-small", ncol=2)
    return fig


# ============================================================================ exercise 2
def shrinkage_by_size(
    sizes: Sequence[int] = (5, 50, 500), *, groups_per_size: int = 3, mu: float = 0.0,
    tau: float = 5.0, sigma: float = SEED_SIGMA, n_datasets: int = 2000,
    method: str = "reml", level: float = 0.95, seed: SeedLike = 0,
) -> pd.DataFrame:
    r"""Exercise 2: groups of very different sizes -- small groups shrink more.

    ``n_datasets`` datasets, each with ``groups_per_size`` groups of every size in
    ``sizes``, are simulated at once and shrunk by empirical Bayes (vectorised
    :func:`hiermodel.shrinkage.eb_core`).  Per size, the shrinkage factor

    .. math::

        B_i = 1 - w_i = \frac{se_i^2}{\tau^2 + se_i^2}, \qquad se_i = \sigma/\sqrt{n_i},

    grows as ``n_i`` falls.  Reported per size: the oracle :math:`B_i`, the mean estimated
    :math:`\hat B_i`, the mean distance moved :math:`|\hat\theta_i - \bar y_i|`, and the MSE
    of no pooling (:math:`se_i^2` exactly) and of EB partial pooling, with ``level``
    Monte Carlo intervals (mean +- z sd / sqrt(R)).

    Parameters
    ----------
    sizes : sequence of int, default (5, 50, 500)
        Distinct group sizes.
    groups_per_size : int, default 3
    mu, tau, sigma : float, default 0, 5, 15
    n_datasets : int, default 2000
    method : {"dl", "pm", "ml", "reml", "sd_of_means"}, default "reml"
    level : float, default 0.95
    seed : int, numpy Generator or SeedSequence, default 0

    Returns
    -------
    pandas.DataFrame
        One row per size, sorted by ``n``: ``n``, ``se``, ``shrinkage_true``,
        ``shrinkage``, ``shrinkage_lo/hi``, ``moved``, ``mse_no_pooling``,
        ``mse_partial``, ``mse_partial_lo/hi``, ``n_groups``, ``n_datasets``.
    """
    from .shrinkage import TAU_METHODS, eb_core

    method = _method(method, TAU_METHODS)
    z = _z(_level(level))
    sz = _sizes(sizes, None)
    if np.unique(sz).size != sz.size:
        raise ValueError(f"`sizes` must be distinct, got {sz.tolist()}.")
    k = count("groups_per_size", groups_per_size)
    nn = np.repeat(sz, k)
    sim = simulate_arrays(count("n_datasets", n_datasets), mu, tau, sigma=float(
        positive_array("sigma", sigma)), n=nn, seed=seed)
    eb = eb_core(sim.means, sim.se, method)
    shrink = 1.0 - eb.weights
    moved = np.abs(eb.theta - sim.means)
    err_np = (sim.means - sim.theta) ** 2
    err_pp = (eb.theta - sim.theta) ** 2
    r = len(sim)
    rows = []
    for size in np.sort(sz):
        cols = nn == size
        se = float(sim.se[0, cols][0])
        b = shrink[:, cols].mean(axis=1)          # one value per dataset (iid over datasets)
        m_pp = err_pp[:, cols].mean(axis=1)
        m_np = err_np[:, cols].mean(axis=1)
        rows.append({
            "n": int(size), "se": se, "shrinkage_true": se**2 / (float(tau) ** 2 + se**2),
            "shrinkage": b.mean(), "shrinkage_lo": b.mean() - z * b.std(ddof=1) / np.sqrt(r),
            "shrinkage_hi": b.mean() + z * b.std(ddof=1) / np.sqrt(r),
            "moved": moved[:, cols].mean(), "mse_no_pooling": m_np.mean(),
            "mse_no_pooling_exact": se**2, "mse_partial": m_pp.mean(),
            "mse_partial_lo": m_pp.mean() - z * m_pp.std(ddof=1) / np.sqrt(r),
            "mse_partial_hi": m_pp.mean() + z * m_pp.std(ddof=1) / np.sqrt(r),
            "n_groups": k, "n_datasets": r,
        })
    return pd.DataFrame(rows)


def plot_shrinkage_by_size(table: pd.DataFrame) -> Figure:
    """Figure of :func:`shrinkage_by_size`: left, shrinkage factor ``1 - w`` against group
    size (estimated with its interval, and the oracle ``se^2/(tau^2+se^2)``); right, MSE of
    no pooling and of partial pooling per size."""
    tab = _check_table(table, ("n", "shrinkage", "shrinkage_true", "mse_partial",
                               "mse_no_pooling"), "shrinkage_by_size")
    fig, (ax1, ax2) = figure_row(2)
    x = tab["n"].to_numpy()
    ax1.errorbar(x, tab["shrinkage"], yerr=[tab["shrinkage"] - tab["shrinkage_lo"],
                                            tab["shrinkage_hi"] - tab["shrinkage"]],
                 fmt="o", color="C0", capsize=3, label="EB estimate (mean, MC interval)")
    ax1.plot(x, tab["shrinkage_true"], "s--", color="C1", mfc="none",
             label="oracle se^2 / (tau^2 + se^2)")
    ax1.set_xscale("log")
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("group size n_i")
    ax1.set_ylabel("shrinkage toward the mean, 1 - w_i")
    ax1.set_title("small groups shrink more")
    ax1.legend(fontsize="small")
    ax2.plot(x, tab["mse_no_pooling"], "o-", color="C3", label="no pooling")
    ax2.errorbar(x, tab["mse_partial"], yerr=[tab["mse_partial"] - tab["mse_partial_lo"],
                                              tab["mse_partial_hi"] - tab["mse_partial"]],
                 fmt="o-", color="C0", capsize=3, label="EB partial pooling")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("group size n_i")
    ax2.set_ylabel("MSE of theta_i")
    ax2.set_title("the gain is where the data are thin")
    ax2.legend(fontsize="small")
    return fig


def _z(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))


# ============================================================================ exercise 3
@dataclass(frozen=True, repr=False)
class MSEStudy:
    """Result of :func:`mse_study`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per estimator (index ``estimator``): ``mse`` with its Monte Carlo interval
        ``mse_lo``/``mse_hi``, ``gain`` = MSE(no pooling) - MSE(estimator) on the same
        datasets with its paired interval ``gain_lo``/``gain_hi``, ``relative`` =
        MSE / MSE(no pooling), and ``n_datasets``.
    losses : pandas.DataFrame
        Per dataset (rows) and estimator (columns): the loss
        ``L_r = mean_i (theta_hat_ri - theta_ri)^2``; NaN where an estimator was not run
        (full Bayes runs on the first ``n_bayes`` datasets only).
    level : float
    seed : int
    settings : dict
        The simulation design (``mu``, ``tau``, ``se``, ``methods``, ``n_bayes``, ...).
    """

    table: pd.DataFrame
    losses: pd.DataFrame
    level: float
    seed: int
    settings: dict

    def plot(self) -> Figure:
        """Gain over no pooling per estimator with its Monte Carlo interval (left) and the
        MSE per estimator (right)."""
        tab = self.table
        fig, (ax1, ax2) = figure_row(2, width=5.0)
        y = np.arange(len(tab))
        ax1.errorbar(tab["gain"], y, xerr=[tab["gain"] - tab["gain_lo"],
                                           tab["gain_hi"] - tab["gain"]],
                     fmt="o", color="C0", capsize=3)
        ax1.axvline(0, color="0.4", lw=1)
        ax1.set_yticks(y, tab.index.tolist())
        ax1.set_xlabel(f"MSE(no pooling) - MSE(estimator), {self.level:.0%} MC interval")
        ax1.set_title("> 0: the estimator beats no pooling")
        ax2.errorbar(tab["mse"], y, xerr=[tab["mse"] - tab["mse_lo"],
                                          tab["mse_hi"] - tab["mse"]],
                     fmt="s", color="C1", capsize=3)
        ax2.set_yticks(y, tab.index.tolist())
        ax2.set_xlabel("MSE of theta_i (mean over groups and datasets)")
        ax2.set_title(f"tau = {self.settings['tau']:g}, G = {len(self.settings['se'])}")
        ax1.invert_yaxis()
        ax2.invert_yaxis()
        return fig

    def __repr__(self) -> str:
        bad = self.settings.get("full_bayes_divergent_fits", 0)
        health = (f"; {bad} of {self.settings['n_bayes']} full-Bayes fits divergent"
                  if self.settings.get("n_bayes") else "")
        return (f"MSEStudy(level={self.level:g}, seed={self.seed}{health})\n"
                + self.table.to_string(float_format=lambda v: f"{v:.4g}"))


def _summarise(losses: pd.DataFrame, z: float) -> pd.DataFrame:
    rows = {}
    base = losses["no_pooling"]
    for name in losses.columns:
        col = losses[name]
        ok = col.notna().to_numpy()
        x = col.to_numpy()[ok]
        d = base.to_numpy()[ok] - x
        r = int(ok.sum())
        half = z * x.std(ddof=1) / np.sqrt(r) if r > 1 else np.nan
        dhalf = z * d.std(ddof=1) / np.sqrt(r) if r > 1 else np.nan
        rows[name] = {"mse": x.mean(), "mse_lo": x.mean() - half, "mse_hi": x.mean() + half,
                      "gain": d.mean(), "gain_lo": d.mean() - dhalf,
                      "gain_hi": d.mean() + dhalf,
                      "relative": x.mean() / base.to_numpy()[ok].mean(), "n_datasets": r}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "estimator"
    return out


def mse_study(
    n_datasets: int = 10_000, *, mu: float = 0.0, tau: float = 5.0,
    sigma: float | Sequence[float] | np.ndarray | None = None,
    n: int | Sequence[int] | np.ndarray | None = None, n_groups: int | None = None,
    se: float | Sequence[float] | np.ndarray | None = None,
    methods: Sequence[str] | None = None, n_bayes: int = 0, priors: Priors | None = None,
    fit_kwargs: dict | None = None, executor: ExecutorLike = None,
    chunksize: int | None = None, level: float = 0.95, seed: int | None = 0,
) -> MSEStudy:
    r"""Exercise 3 (and 4): MSE of no pooling vs partial pooling vs full Bayes.

    ``R = n_datasets`` datasets :math:`\theta_{ri} = \mu + \tau z_{ri}`,
    :math:`\bar y_{ri} = \theta_{ri} + se_i e_{ri}` are drawn at once
    (:func:`simulate_arrays`).  For every estimator the loss of dataset ``r`` is
    :math:`L_r = G^{-1} \sum_i (\hat\theta_{ri} - \theta_{ri})^2` and the reported MSE is
    :math:`\bar L = R^{-1} \sum_r L_r` with the Monte Carlo interval
    :math:`\bar L \pm z_{(1+level)/2}\, s_L / \sqrt R`.  The gain over no pooling is the
    paired mean :math:`\bar D`, :math:`D_r = L_r^{\rm none} - L_r`, with its own interval
    (pairing on the same datasets removes most of the Monte Carlo noise).

    Estimators: ``no_pooling`` (:math:`\bar y_i`, MSE :math:`G^{-1}\sum_i se_i^2` exactly),
    ``complete_pooling`` (precision-weighted mean), ``eb_<method>`` for each tau estimator
    (:func:`hiermodel.shrinkage.eb_core`, vectorised over all ``R`` datasets in one call),
    and, if ``n_bayes > 0``, ``full_bayes``: the posterior mean of theta from a NUTS fit
    (:func:`fit_replicates`) of each of the first ``n_bayes`` datasets -- fanned out over
    ``executor``; its row compares against no pooling on those datasets only.

    Parameters
    ----------
    n_datasets : int, default 10000
    mu, tau : float, default 0, 5
        The true population mean and between-group sd.
    sigma, n : float / array, optional
        ``se_i = sigma_i / sqrt(n_i)``; default 15 and the seed text's table 4.1 sizes
        (:data:`SEED_SIGMA`, :data:`SEED_N`).  Or pass ``se`` instead.
    n_groups : int, optional
        G when ``n`` or ``se`` is a scalar.
    se : float or array of G floats, optional
        Known standard errors (replaces ``sigma`` and ``n``).
    methods : sequence of str, optional
        Tau estimators for EB; default all of ``("dl", "pm", "ml", "reml", "sd_of_means")``.
    n_bayes : int, default 0
        Datasets to fit with full Bayes (0: none).
    priors : Priors, optional
        Hyperpriors of the full-Bayes fits.  Default ``None``: what a user would run,
        :func:`hiermodel.fit.fit`'s data-scaled ``Priors()``, resolved from each simulated
        dataset alone (:meth:`Priors.resolve`); the analysis never sees the true ``mu`` or
        ``tau``.  Fields left at None in a ``Priors`` you pass are likewise resolved per
        dataset; pass fixed numbers (e.g. ``Priors(mu_mean=0, mu_sd=50, tau_scale=10)``)
        for one prior across the datasets.  Recorded in ``settings["priors"]``.
    fit_kwargs : dict, optional
        For :func:`hiermodel.fit.fit` (default marginal, 2 chains x 500 draws, nutpie).
    executor, chunksize
        See :func:`map_chunked` (default: serially, in this process; pass
        ``default_executor()`` or a Dask client to fan out, under an
        ``if __name__ == "__main__":`` guard in scripts).
    level : float, default 0.95
    seed : int, optional
        The same seed gives the same numbers on every executor.

    Returns
    -------
    MSEStudy
        ``.table``, ``.losses``, ``.plot()``.
    """
    from .shrinkage import TAU_METHODS, eb_core

    r = count("n_datasets", n_datasets, 2)
    z = _z(_level(level))
    meths = TAU_METHODS if methods is None else methods
    if isinstance(meths, str):
        raise TypeError(f"`methods` must be a sequence of method names, e.g. [{meths!r}].")
    meths = tuple(_method(m, TAU_METHODS) for m in meths)
    nb = count("n_bayes", n_bayes, 0)
    if nb > r:
        raise ValueError(f"`n_bayes`={nb} exceeds `n_datasets`={r}.")
    root = root_seed(seed)
    sim_ss, fit_ss = np.random.SeedSequence(root).spawn(2)
    if se is not None:
        if sigma is not None or n is not None:
            raise ValueError("Pass either `se`, or `sigma` and `n` (se = sigma/sqrt(n)), "
                             "not both.")
        sim = simulate_arrays(r, mu, tau, se=se, n_groups=n_groups, seed=sim_ss)
    else:
        sim = simulate_arrays(r, mu, tau, sigma=SEED_SIGMA if sigma is None else sigma,
                              n=SEED_N if n is None else n, n_groups=n_groups, seed=sim_ss)
    tau_ = float(sim.tau[0])
    se_row = sim.se[0]
    est: dict[str, np.ndarray] = {"no_pooling": sim.means}
    w0 = 1.0 / sim.se**2
    est["complete_pooling"] = np.broadcast_to(
        ((w0 * sim.means).sum(-1) / w0.sum(-1))[:, None], sim.means.shape)
    for m in meths:
        est[f"eb_{m}"] = eb_core(sim.means, sim.se, m).theta
    losses = pd.DataFrame({k: ((v - sim.theta) ** 2).mean(axis=1) for k, v in est.items()})
    if nb:
        # priors=None: fit's data-scaled default, resolved from each dataset (not the truth)
        fits = fit_replicates(sim.means[:nb], sim.se[:nb], seed=int(
            fit_ss.generate_state(1)[0]), priors=priors, fit_kwargs=fit_kwargs,
            executor=executor, chunksize=chunksize)
        theta_fb = np.stack(fits["theta"].to_list())
        fb = np.full(r, np.nan)
        fb[:nb] = ((theta_fb - sim.theta[:nb]) ** 2).mean(axis=1)
        losses["full_bayes"] = fb
        div = fits["divergences"].to_numpy()
        if div.sum() > 0:
            from .exceptions import SamplingWarning

            warnings.warn(
                f"mse_study: {int((div > 0).sum())} of {nb} full-Bayes fits had divergent "
                f"transitions ({int(div.sum())} in all), so the full_bayes MSE may be biased. "
                "Use the marginal form (the default) or raise target_accept through "
                "fit_kwargs.", SamplingWarning, stacklevel=2)
    losses.index.name = "dataset"
    settings = {"mu": float(sim.mu[0]), "tau": tau_, "se": se_row.copy(), "methods": meths,
                "n_bayes": nb, "n_datasets": r,
                "full_bayes_divergent_fits": int((div > 0).sum()) if nb else 0,
                "priors": priors if priors is not None else (fit_kwargs or {}).get(
                    "priors", Priors())}
    return MSEStudy(_summarise(losses, z), losses, _level(level), root, settings)
