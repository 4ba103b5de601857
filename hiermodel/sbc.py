r"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

If data are simulated from the prior predictive distribution and the model is fitted with a
correct posterior algorithm, then for any parameter :math:`\phi` the rank of the true value
among :math:`L` independent posterior draws

.. math::

    r = \#\{\, l \le L : \phi^{(l)} < \tilde\phi \,\}, \qquad
    \tilde\phi \sim p(\phi),\ \tilde y \sim p(y \mid \tilde\phi),\
    \phi^{(l)} \sim p(\phi \mid \tilde y)

is uniform on :math:`\{0, \dots, L\}`.  A wrong posterior -- a sampler that fails, or a
fitted model whose prior differs from the simulating one -- shows up as a non-uniform rank
histogram: a U shape for too narrow posteriors, a hump for too wide ones, a slope for bias.

:func:`sbc` draws ``mu`` and ``tau`` from the simulating :class:`~hiermodel.priors.Priors`
-- fixed numbers, :data:`SBC_PRIORS` by default, never the data-scaled defaults: a prior
rescaled to each simulated dataset is not the prior the truths were drawn from, and the
ranks would not be uniform even for a perfect sampler -- then ``theta_i ~ N(mu, tau^2)``
and ``ybar_i ~ N(theta_i, se_i^2)`` with known ``se_i``, fits with NUTS
(:func:`hiermodel.fit.fit`, given those priors explicitly; serially by default, or fanned out
over an executor as in :mod:`hiermodel.simulate`), thins the draws to ``L`` roughly
independent ones (equally spaced, default ``L = 99`` from 2 x 500 draws: every ~10th) and
ranks ``mu``, ``tau`` and ``theta_1``.  Uniformity is tested with a chi-square test on ``B``
equal bins of ranks and a Kolmogorov-Smirnov test on randomised ranks
``u = (r + U(0, 1)) / (L + 1)``, which are exactly Uniform(0, 1) under calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from .priors import Priors
from .simulate import (
    ExecutorLike,
    _count,
    _figure,
    _fit_kwargs,
    _pos,
    _root_seed,
    map_chunked,
    replicate_seeds,
    simulate_arrays,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["SBCResult", "sbc", "rank_uniformity", "SBC_PARAMS", "SBC_PRIORS"]

#: the parameters ranked by :func:`sbc` (``theta_1`` is the first group's mean)
SBC_PARAMS = ("mu", "tau", "theta_1")
#: the default simulating (and fitted) priors of :func:`sbc`: fixed, on the scale of Rubin's
#: Eight Schools (the classic PyMC example's ``mu ~ Normal(0, 5)``, ``tau ~ Half-Cauchy(5)``)
SBC_PRIORS = Priors(mu_mean=0.0, mu_sd=5.0, tau="halfcauchy", tau_scale=5.0)
TESTS = ("chisq", "ks")


def rank_uniformity(ranks: np.ndarray, L: int, *, n_bins: int = 10,
                    seed: int | np.random.Generator | None = 0) -> dict[str, float]:
    r"""Test ranks on ``{0, ..., L}`` for uniformity.

    Parameters
    ----------
    ranks : array of int, shape (N,)
    L : int
        Number of posterior draws ranked against (ranks take ``L + 1`` values).
    n_bins : int, default 10
        Bins of the chi-square test; ``L + 1`` must be a multiple of ``n_bins`` so every bin
        holds the same number of rank values.  Statistic
        :math:`X^2 = \sum_b (c_b - N/B)^2 / (N/B)` on ``B - 1`` degrees of freedom.
    seed : int or Generator, default 0
        For the randomisation of the KS test: ``u = (r + U) / (L + 1)``, ``U ~ U(0, 1)``.

    Returns
    -------
    dict
        ``chisq``, ``chisq_p``, ``ks``, ``ks_p``.
    """
    L = _count("L", L)
    b = _count("n_bins", n_bins, 2)
    if (L + 1) % b:
        raise ValueError(f"`n_bins`={b} must divide L + 1 = {L + 1} (equal-width rank bins).")
    r = np.asarray(ranks)
    if r.ndim != 1 or r.size < 2 or r.dtype.kind not in "iu" or r.min() < 0 or r.max() > L:
        raise ValueError(f"`ranks` must be a 1-d integer array with values in 0..{L}.")
    counts = np.bincount(r // ((L + 1) // b), minlength=b)
    chi = stats.chisquare(counts)
    u = (r + np.random.default_rng(seed).uniform(size=r.size)) / (L + 1)
    ks = stats.kstest(u, "uniform")
    return {"chisq": float(chi.statistic), "chisq_p": float(chi.pvalue),
            "ks": float(ks.statistic), "ks_p": float(ks.pvalue)}


@dataclass(frozen=True, repr=False)
class SBCResult:
    """Ranks and uniformity tests of one SBC run.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per replicate, one integer column per parameter (:data:`SBC_PARAMS`), values
        in ``0..L``.
    replicates : pandas.DataFrame
        Per replicate: the true ``mu``, ``tau``, ``theta_1``, the fit seed and the number of
        divergent transitions.
    tests : pandas.DataFrame
        Per parameter: chi-square and KS statistics and p-values (:func:`rank_uniformity`).
    L, n_bins : int
    priors, fit_priors : Priors
        The simulating and the fitted model's priors.
    seed : int
    """

    ranks: pd.DataFrame
    replicates: pd.DataFrame
    tests: pd.DataFrame
    L: int
    n_bins: int
    priors: Priors
    fit_priors: Priors
    seed: int

    @property
    def n_replicates(self) -> int:
        """Number of SBC replicates N."""
        return len(self.ranks)

    def pvalues(self, test: str = "chisq") -> dict[str, float]:
        """p-value per parameter of the chosen test ("chisq" or "ks")."""
        if test not in TESTS:
            raise ValueError(f"Requested test {test!r} but it must be one of {TESTS}.")
        return {p: float(self.tests.loc[p, f"{test}_p"]) for p in self.tests.index}

    def passed(self, alpha: float = 0.01, test: str = "chisq") -> bool:
        """True if no parameter's uniformity test rejects at level ``alpha`` after a
        Bonferroni correction over the parameters (each p-value > ``alpha / K``)."""
        if not 0 < alpha < 1:
            raise ValueError(f"`alpha` must be in (0, 1), got {alpha!r}.")
        p = self.pvalues(test)
        return min(p.values()) > alpha / len(p)

    def plot(self, band: float = 0.99) -> Figure:
        """Rank histograms, one panel per parameter, with the expected count ``N / B`` and
        the pointwise ``band`` (default 99%) interval of a Binomial(N, 1/B) bin count."""
        if not 0 < band < 1:
            raise ValueError(f"`band` must be in (0, 1), got {band!r}.")
        n, b = self.n_replicates, self.n_bins
        lo, hi = stats.binom.ppf([(1 - band) / 2, (1 + band) / 2], n, 1 / b)
        width = (self.L + 1) / b
        fig, axes = _figure(len(self.ranks.columns), width=3.8, height=3.0)
        edges = np.arange(b) * width
        for ax, name in zip(axes, self.ranks.columns, strict=True):
            counts = np.bincount(self.ranks[name].to_numpy() // int(width), minlength=b)
            ax.axhspan(lo, hi, color="0.85", zorder=0, label=f"{band:.0%} binomial band")
            ax.axhline(n / b, color="0.4", lw=1, zorder=1)
            ax.bar(edges, counts, width=width, align="edge", color="C0", edgecolor="white",
                   zorder=2)
            p = self.tests.loc[name, "chisq_p"]
            ax.set_title(f"{name}  (chi-square p = {p:.3g})")
            ax.set_xlabel(f"rank among L = {self.L} draws")
            ax.set_xlim(0, self.L + 1)
        axes[0].set_ylabel("replicates")
        axes[0].legend(loc="lower left", fontsize="small")
        fig.suptitle(f"SBC, N = {n}: simulate {self.priors.describe().split('; sigma')[0]}"
                     f" | fit {self.fit_priors.describe().split('; sigma')[0]}",
                     fontsize="small")
        return fig

    def __repr__(self) -> str:
        verdict = "passed" if self.passed() else "FAILED"
        return (f"SBCResult(N={self.n_replicates}, L={self.L}, {verdict} at 1%)\n"
                + self.tests.to_string(float_format=lambda v: f"{v:.4g}"))


def _check_fixed(name: str, p: object) -> None:
    """``p`` must be Priors with a proper mu prior and fixed numbers for mu and tau."""
    if not isinstance(p, Priors):
        raise TypeError(f"`{name}` must be a hiermodel.Priors, got {type(p).__name__}.")
    if p.mu == "flat":
        raise ValueError(f"`{name}`: SBC draws mu from its prior and NUTS needs a proper "
                         "one, but mu is flat; use Priors(mu_mean=..., mu_sd=...).")
    unset = [f for f in ("mu_mean", "mu_sd", "tau_scale") if getattr(p, f) is None]
    if unset:
        raise ValueError(
            f"`{name}`: {unset} are None (scaled to the data), but SBC must simulate from and "
            "fit with one fixed prior -- a prior rescaled to each simulated dataset breaks "
            "the calibration.  Set them, e.g. Priors(mu_mean=0.0, mu_sd=5.0, "
            "tau_scale=5.0) (the default, SBC_PRIORS).")


def _sbc_one(means: np.ndarray, se: np.ndarray, seed: int, truth: np.ndarray, kw: dict,
             L: int) -> dict:
    """Fit one simulated dataset and rank the truth among L thinned draws (in a worker)."""
    from .data import HierData
    from .fit import fit

    data = HierData.from_estimates(means, se)
    idata = fit(data, seed=int(seed), progressbar=False, check=False, log_likelihood=False,
                cores=kw.pop("cores", 1), **kw)
    post = idata.posterior
    total = post.sizes["chain"] * post.sizes["draw"]
    idx = np.round(np.linspace(0, total - 1, L)).astype(int)
    draws = {
        "mu": post["mu"].to_numpy().ravel(),
        "tau": post["tau"].to_numpy().ravel(),
        "theta_1": post["theta"].isel(group=0).to_numpy().ravel(),
    }
    ranks = {k: int(np.sum(v[idx] < t)) for (k, v), t in zip(draws.items(), truth, strict=True)}
    ss = idata.sample_stats
    ranks["divergences"] = int(ss["diverging"].sum()) if "diverging" in ss else 0
    return ranks


def sbc(
    n_replicates: int = 200, *, se: float | Sequence[float] | np.ndarray | None = None,
    n_groups: int | None = None, priors: Priors | None = None,
    fit_priors: Priors | None = None, parameterization: str = "noncentered", L: int = 99,
    draws: int = 500, tune: int = 500, chains: int = 2, sampler: str = "nutpie",
    n_bins: int = 10, seed: int | None = 0, executor: ExecutorLike = None,
    chunksize: int | None = None,
) -> SBCResult:
    r"""Simulation-based calibration of the NUTS fit of the three-level normal model.

    For replicate :math:`r = 1..N`: draw :math:`\mu_r \sim p(\mu)`, :math:`\tau_r \sim
    p(\tau)` from ``priors``; :math:`\theta_{ri} \sim N(\mu_r, \tau_r^2)`;
    :math:`\bar y_{ri} \sim N(\theta_{ri}, se_i^2)`; fit with ``fit_priors``; rank
    :math:`\mu_r, \tau_r, \theta_{r1}` among ``L`` equally spaced draws of the
    ``chains x draws`` posterior draws.

    Parameters
    ----------
    n_replicates : int, default 200
        N, the number of simulated datasets (and fits).
    se : float or array of G floats, optional
        Known standard errors; default Rubin's Eight Schools ``se`` (15, 10, ..., 18).  A
        scalar needs ``n_groups``.
    n_groups : int, optional
    priors : Priors, optional
        The simulating priors; default :data:`SBC_PRIORS` (``mu ~ Normal(0, 5)``,
        ``tau ~ Half-Cauchy(5)``).  They must be fixed and proper: ``mu="normal"`` with
        ``mu_mean`` and ``mu_sd`` set, and ``tau_scale`` set (``Priors()``'s data-scaled
        None fields are rejected; ``sigma_scale`` is unused, the ``se_i`` being known).  The
        fits are given these priors explicitly.
    fit_priors : Priors, optional
        The fitted model's priors; default ``priors``.  Different priors give a
        deliberately wrong posterior (the negative control).  Also fixed and proper.
    parameterization : str, default "noncentered"
        Passed to :func:`hiermodel.fit.fit`.
    L : int, default 99
        Posterior draws per rank (ranks in ``0..L``); needs ``chains * draws >= L``, and
        ``chains * draws / L`` (the thinning) should exceed the autocorrelation time.
    draws, tune, chains : int, default 500, 500, 2
    sampler : {"nutpie", "pymc", "numpyro"}, default "nutpie"
    n_bins : int, default 10
        Bins of the chi-square test and the histogram; must divide ``L + 1``.
    seed : int, optional
        Master seed: the same seed gives the same result on every executor.
    executor, chunksize
        See :func:`hiermodel.simulate.map_chunked`.  Default: serially, in this process
        (no ``__main__`` guard needed; one model compile, then ~0.1-0.5 s per fit).  A
        process pool (:func:`hiermodel.simulate.default_executor`) or a Dask client pays
        off only for many replicates on several cores (each worker imports and compiles
        once); in a script use it only under ``if __name__ == "__main__":``.

    Returns
    -------
    SBCResult
    """
    n = _count("n_replicates", n_replicates, 2)
    L = _count("L", L)
    b = _count("n_bins", n_bins, 2)
    if (L + 1) % b:
        raise ValueError(f"`n_bins`={b} must divide L + 1 = {L + 1}.")
    if _count("chains", chains) * _count("draws", draws) < L:
        raise ValueError(f"`chains` x `draws` = {chains * draws} posterior draws < L = {L}; "
                         "draw more or lower L.")
    priors = SBC_PRIORS if priors is None else priors
    fit_priors = priors if fit_priors is None else fit_priors
    for name, p in (("priors", priors), ("fit_priors", fit_priors)):
        _check_fixed(name, p)
    if se is None:
        from .datasets import eight_schools

        se_ = np.asarray(eight_schools().se)
    else:
        se_ = _pos("se", se)
        if se_.ndim == 0:
            if n_groups is None:
                raise ValueError("`se` is a scalar: pass `n_groups=` too.")
            se_ = np.full(_count("n_groups", n_groups, 2), float(se_))
        if se_.ndim != 1 or se_.size < 2:
            raise ValueError(f"`se` must be one value per group (at least 2), got {se_.shape}.")
    kw = _fit_kwargs({"parameterization": parameterization, "draws": draws, "tune": tune,
                      "chains": chains, "sampler": sampler}, fit_priors)
    root = _root_seed(seed)
    sim_ss, fit_ss, ks_ss = np.random.SeedSequence(root).spawn(3)
    rng = np.random.default_rng(sim_ss)
    mu = priors.mu_dist().rvs(size=n, random_state=rng)
    tau = priors.tau_dist().rvs(size=n, random_state=rng)
    sim = simulate_arrays(n, mu, tau, se=se_, seed=rng)
    seeds = replicate_seeds(fit_ss, n)
    truth = np.column_stack([sim.mu, sim.tau, sim.theta[:, 0]])
    res = map_chunked(_sbc_one, [(sim.means[r], sim.se[r], int(seeds[r]), truth[r], dict(kw), L)
                                 for r in range(n)], executor=executor, chunksize=chunksize)
    ranks = pd.DataFrame({p: [x[p] for x in res] for p in SBC_PARAMS}, dtype=np.int64)
    ranks.index.name = "replicate"
    replicates = pd.DataFrame({"mu": sim.mu, "tau": sim.tau, "theta_1": sim.theta[:, 0],
                               "seed": seeds, "divergences": [x["divergences"] for x in res]})
    replicates.index.name = "replicate"
    ks_rng = np.random.default_rng(ks_ss)
    tests = pd.DataFrame([rank_uniformity(ranks[p].to_numpy(), L, n_bins=b, seed=ks_rng)
                          for p in SBC_PARAMS], index=pd.Index(SBC_PARAMS, name="param"))
    return SBCResult(ranks, replicates, tests, L, b, priors, fit_priors, root)
