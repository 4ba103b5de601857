r"""Executors for the studies' replicate fits: serial by default, or any pool you pass.

:func:`map_chunked` runs replicate fits in this process by default (``executor=None`` or
``"serial"``: safe in any script, notebook or worker, and fastest for up to a few dozen fits,
since the one model compile is paid once), or fans them out over any
``concurrent.futures.Executor`` or a ``dask.distributed.Client`` that you pass.  Work is cut
into one chunk per worker; a chunk runs its fits one after another in one process, and
:func:`hiermodel.fit` keeps the compiled model per process, so every worker compiles once
and then fits fast (``benchmarks/README.md`` has the timings).  Replicate ``r`` always gets the seed
``SeedSequence(seed).spawn(...)[r]`` (:func:`~hiermodel.studies.simulation.replicate_seeds`), so
results are identical for a given seed whatever the executor, the number of workers and the
chunking.

A process pool (:func:`default_executor`, started with "spawn") re-imports the calling script
in every worker: in a script, create and use it only under ``if __name__ == "__main__":``,
else each worker runs the script's top level again::

    if __name__ == "__main__":
        with default_executor() as pool:
            study = mse_study(10_000, n_bayes=200, executor=pool)

Threads give the serial answers but little or no speed-up: :func:`hiermodel.fit` keeps
one compiled model per model shape and process, and same-shaped fits in threads take turns on
it under a lock (each gets exactly its serial draws, whatever the sampler and whether the
priors are fixed or scaled to each dataset), so a thread pool -- or a Dask
``LocalCluster(processes=False)`` -- samples them one at a time.  For parallel studies use
processes: :func:`default_executor` (with the ``__main__`` guard above) or a Dask client whose
workers are processes (``LocalCluster()``'s default, or a real cluster).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import stack
from .._validate import check_count, check_finite_array, check_positive_array, root_seed
from ..data import HierData
from ..priors import Priors
from .simulation import replicate_seeds

__all__ = ["ExecutorLike", "default_executor", "map_chunked", "fit_replicates",
           "replicate_fit_kwargs", "fit_replicate"]

#: what the studies accept as ``executor`` (see :func:`map_chunked`)
ExecutorLike = Executor | Literal["serial"] | Any | None


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
    pays off only when the fits outweigh each worker's start-up (import and model compile):
    on a 2-core machine ``sbc(20, seed=1)`` ran faster serially than on a 2-process pool.
    """
    workers = ((os.cpu_count() or 1) if max_workers is None
               else check_count(max_workers, "max_workers"))
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
            else check_count(chunksize, "chunksize"))
    futures = [pool.submit(_run_chunk, func, chunk) for chunk in _chunks(items, size)]
    out: list = []
    for fut in futures:
        out.extend(fut.result())
    return out


# ============================================================================ full Bayes
_FIT_DEFAULTS = {"parameterization": "marginal", "draws": 500, "tune": 500, "chains": 2,
                 "sampler": "nutpie"}


def replicate_fit_kwargs(fit_kwargs: dict | None, priors: Priors | None) -> dict:
    """The keyword arguments of every replicate fit: the lean defaults (marginal, 2 chains x
    500 draws, nutpie) updated by ``fit_kwargs``, and ``priors`` when given.  Seeds, checks,
    progress bars and extra groups are the study's business, so ``fit_kwargs`` must not set
    them."""
    kw = {**_FIT_DEFAULTS, **(fit_kwargs or {})}
    forbidden = {"seed", "check", "progressbar", "log_likelihood", "posterior_predictive",
                 "data_or_model"} & set(kw)
    if forbidden:
        raise ValueError(f"`fit_kwargs` must not set {sorted(forbidden)}: seeds come from the "
                         "study's seed and the per-replicate fits are lean.")
    if priors is not None:
        kw["priors"] = Priors.check(priors)
    return kw


def fit_replicate(means: np.ndarray, se: np.ndarray, seed: int, kw: dict,
                  covariates: Any = None):
    """One replicate's lean fit (no checks, progress bar or log-likelihood; chains one after
    another unless ``kw`` sets ``cores``) of the known-se dataset ``means``, ``se`` (with
    group-level ``covariates``: the meta-regression), with the keyword arguments of
    :func:`replicate_fit_kwargs`; ``kw`` loses its ``cores``."""
    from ..sampling import fit

    data = HierData.from_estimates(means, se, covariates=covariates)
    return fit(data, seed=int(seed), progressbar=False, check=False, log_likelihood=False,
               cores=kw.pop("cores", 1), **kw)


def _fit_one(means: np.ndarray, se: np.ndarray, seed: int, kw: dict) -> dict:
    """Fit one known-se dataset and return posterior means (runs in a worker)."""
    from ..diagnostics import count_divergences

    idata = fit_replicate(means, se, seed, kw)
    post = stack.group(idata, "posterior")
    return {
        "theta": post["theta"].mean(("chain", "draw")).to_numpy(),
        "mu": float(post["mu"].mean()), "tau": float(post["tau"].mean()),
        "divergences": count_divergences(idata),
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
        Passed to :func:`hiermodel.fit` (default ``parameterization="marginal", draws=500,
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
    m = check_finite_array(means, "means")
    s = check_positive_array(se, "se")
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
