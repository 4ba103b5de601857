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
(:func:`hiermodel.fit`, given those priors explicitly; serially by default, or fanned out
over an executor as in :mod:`hiermodel.studies.executors`), thins the draws to ``L`` roughly
independent ones (equally spaced, default ``L = 99`` from 2 x 500 draws: every ~10th) and
ranks ``mu``, ``tau`` and ``theta_1``.  Uniformity is tested with a chi-square test on ``B``
equal bins of ranks and a Kolmogorov-Smirnov test on randomised ranks
``u = (r + U(0, 1)) / (L + 1)``, which are exactly Uniform(0, 1) under calibration.

**Meta-regression** (``sbc(covariates=x)``, issue 18): with group-level covariates ``x``
(G x p, the same in every replicate) it also draws ``beta_j ~ N(beta_mean_j, beta_sd_j)``
from the priors -- whose ``beta_sd`` must then be fixed numbers too -- and simulates
``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)`` (``xbar`` the covariates' means, as the models
centre them), fits the meta-regression and ranks each slope as well (``beta_<name>``; the
Bonferroni correction is then over ``K = 3 + p`` parameters).  On Eight Schools' ``se`` with
two covariates the marginal form at 2 x 200 draws has been calibrated at
N = 1000 (every rank p-value above 1%, no divergent fit at the covariates' default
``target_accept`` of 0.99).

**The verdict also needs clean fits.**  Uniform ranks are necessary, not sufficient: with
N = 100 replicates and 5 bins the rank test has little power against a sampler that is
wrong on a minority of datasets.  The centered form at Eight Schools' ``se`` (``sbc(100,
parameterization="centered", seed=11, draws=200, tune=300, L=49, n_bins=5)``) had 877
divergent transitions in 40 of the 100 fits, yet every rank p-value was above 1% (tau's
0.036).  A divergent transition means NUTS could not follow the posterior's curvature
(here, the neck of the funnel at small tau) and the draws under-represent that region: the
fit is biased, whatever the ranks say.  So :attr:`SBCResult.passed` is true only if

1. no parameter's rank-uniformity test rejects at ``alpha`` (default 1%, Bonferroni over
   the K = 3 ranked parameters: every p-value > ``alpha / K``), **and**
2. no fit had a divergent transition (``max_divergent_share=0``: the share of replicates
   with divergences that is tolerated; zero by default, since each divergent fit is
   biased by an unknown amount and SBC cannot tell how much of it averages out), **and**
3. R-hat and ESS could be computed for every fit (a NaN means a chain that never moved).

Per replicate it also records the worst R-hat and the smallest bulk / tail ESS of the
ranked parameters (``SBCResult.replicates``), summarised in the ``repr`` and
:attr:`SBCResult.sampler_health`.  They are reported, not part of the verdict: SBC's fits
are deliberately short (2 x 200 draws in the tests), where R-hat and ESS are themselves
noisy -- the calibrated non-centered control has a few replicates with R-hat above 1.05 and
ESS below ``L`` while its ranks are uniform -- and too few effective draws (ESS < L:
autocorrelated thinned draws) makes the rank test fail more often, not less.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import stack
from .._validate import check_count, check_method, check_positive_array, check_prob, root_seed
from ..data import HierData
from ..datasets import eight_schools
from ..priors import SCALE_MULTIPLIER, Priors
from ._checks import scalar_per_group
from .executors import ExecutorLike, fit_replicate, map_chunked, replicate_fit_kwargs
from .simulation import replicate_seeds, simulate_arrays

__all__ = ["SBCResult", "SBCVerdict", "sbc", "rank_uniformity", "rank_bin_counts",
           "SBC_PARAMS", "SBC_PRIORS", "SBC_SLOPE_SCALE", "HEALTH_COLUMNS", "TESTS"]

#: the parameters ranked by :func:`sbc` (``theta_1`` is the first group's mean)
SBC_PARAMS = ("mu", "tau", "theta_1")
#: the default simulating (and fitted) priors of :func:`sbc`: fixed, on the scale of Rubin's
#: Eight Schools (the classic PyMC example's ``mu ~ Normal(0, 5)``, ``tau ~ Half-Cauchy(5)``)
SBC_PRIORS = Priors(mu_mean=0.0, mu_sd=5.0, tau="halfcauchy", tau_scale=5.0)
#: with ``covariates`` and no ``priors``, :func:`sbc` adds the slope priors
#: ``beta_j ~ Normal(0, SBC_SLOPE_SCALE / sd(x_j))``: the data-scaled rule ``2.5 S / sd(x_j)``
#: of :mod:`hiermodel.priors` with the spread ``S`` fixed at :data:`SBC_PRIORS`' scale, 5 --
#: one fixed prior, since the covariates are the same in every replicate
SBC_SLOPE_SCALE = SCALE_MULTIPLIER * 5.0
#: the rank-uniformity tests (:func:`rank_uniformity`): chi-square on bins, KS on randomised
#: ranks
TESTS = ("chisq", "ks")
#: the sampler-health columns of :attr:`SBCResult.replicates`, one value per fit: divergent
#: transitions, and the worst R-hat and smallest bulk / tail ESS over the ranked parameters
HEALTH_COLUMNS = ("divergences", "max_rhat", "min_ess_bulk", "min_ess_tail")


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
    L = check_count(L, "L")
    b = check_count(n_bins, "n_bins", 2)
    if (L + 1) % b:
        raise ValueError(f"`n_bins`={b} must divide L + 1 = {L + 1} (equal-width rank bins).")
    r = np.asarray(ranks)
    if r.ndim != 1 or r.size < 2 or r.dtype.kind not in "iu" or r.min() < 0 or r.max() > L:
        raise ValueError(f"`ranks` must be a 1-d integer array with values in 0..{L}.")
    chi = stats.chisquare(rank_bin_counts(r, L, b))
    u = (r + np.random.default_rng(seed).uniform(size=r.size)) / (L + 1)
    ks = stats.kstest(u, "uniform")
    return {"chisq": float(chi.statistic), "chisq_p": float(chi.pvalue),
            "ks": float(ks.statistic), "ks_p": float(ks.pvalue)}


def rank_bin_counts(ranks: np.ndarray, L: int, n_bins: int) -> np.ndarray:
    """How many of ``ranks`` (values in ``0..L``) fall in each of ``n_bins`` equal bins of
    ``(L + 1) / n_bins`` rank values (``n_bins`` divides ``L + 1``)."""
    return np.bincount(np.asarray(ranks) // ((L + 1) // n_bins), minlength=n_bins)


class SBCVerdict:
    """The verdict of an SBC run: true iff the ranks look uniform **and** the fits are clean.

    Returned by :attr:`SBCResult.passed`.  Use it as a bool (``if res.passed:``,
    ``assert not res.passed``); call it for other settings (``res.passed(0.05, "ks")``
    returns a new verdict, also usable as a bool); ``reasons`` says why it failed.

    Rule (see :mod:`hiermodel.studies.calibration`): it passes iff

    * every ranked parameter's uniformity test (``test``: "chisq" or "ks") has p-value
      > ``alpha / K`` (Bonferroni over the K ranked parameters), and
    * at most ``max_divergent_share`` of the fits had a divergent transition (default 0:
      none may), and
    * R-hat and ESS are finite for every fit.

    Attributes
    ----------
    alpha : float
    test : str
    max_divergent_share : float
    reasons : tuple of str
        One sentence per failed condition (empty when it passed).
    """

    __slots__ = ("_result", "alpha", "test", "max_divergent_share", "reasons")

    def __init__(self, result: SBCResult, alpha: float = 0.01, test: str = "chisq",
                 max_divergent_share: float = 0.0) -> None:
        alpha = check_prob(alpha, "alpha")
        test = check_method(test, TESTS, "test")
        if isinstance(max_divergent_share, bool) or not isinstance(
                max_divergent_share, (int, float, np.number)) \
                or not 0 <= max_divergent_share <= 1:
            raise ValueError(f"`max_divergent_share` must be in [0, 1], got "
                             f"{max_divergent_share!r}.")
        self._result = result
        self.alpha = float(alpha)
        self.test = test
        self.max_divergent_share = float(max_divergent_share)
        self.reasons = tuple(_failures(result, self.alpha, test, self.max_divergent_share))

    def __bool__(self) -> bool:
        return not self.reasons

    def __call__(self, alpha: float = 0.01, test: str = "chisq",
                 max_divergent_share: float = 0.0) -> SBCVerdict:
        """The verdict at another level, test or divergence tolerance."""
        return SBCVerdict(self._result, alpha, test, max_divergent_share)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bool, np.bool_)):
            return bool(self) == bool(other)
        if isinstance(other, SBCVerdict):
            return bool(self) == bool(other) and self.reasons == other.reasons
        return NotImplemented

    def __hash__(self) -> int:
        return hash(bool(self))

    def __repr__(self) -> str:
        head = (f"{'passed' if self else 'FAILED'} at {100 * self.alpha:g}% ({self.test}, "
                f"Bonferroni over {len(self._result.tests)} parameters; divergent fits "
                f"allowed: {100 * self.max_divergent_share:g}%)")
        return head + "".join(f"\n  - {r}" for r in self.reasons)

    __str__ = __repr__


def _failures(res: SBCResult, alpha: float, test: str, max_divergent_share: float) -> list[str]:
    """One sentence per failed condition of the verdict (empty: passed)."""
    out = []
    p = res.pvalues(test)
    cut = alpha / len(p)
    bad = {k: v for k, v in p.items() if not v > cut}
    if bad:
        which = ", ".join(f"{k} (p = {v:.3g})" for k, v in bad.items())
        out.append(f"rank test ({test}) rejects uniformity at alpha/K = {cut:.3g}: {which}.")
    rep = res.replicates
    n = len(rep)
    if "divergences" in rep:
        div = rep["divergences"].to_numpy()
        n_div = int((div > 0).sum())
        if n_div > max_divergent_share * n:
            per_fit = int(res.settings.get("draws", 0)) * int(res.settings.get("chains", 0))
            pct = (f", {div.sum() / (per_fit * n):.2%} of the {per_fit * n:,} draws"
                   if per_fit else "")
            form = res.settings.get("parameterization")
            with_form = f" with the {form} form" if form else ""
            allowed = ("none is allowed" if max_divergent_share == 0 else
                       f"at most {max_divergent_share:.1%} of fits allowed")
            worst = int(np.argmax(div))
            tau_txt = f", true tau {rep['tau'].iloc[worst]:.3g}" if "tau" in rep else ""
            out.append(
                f"{n_div} of {n} fits ({n_div / n:.1%}) had divergent transitions "
                f"({int(div.sum())} in all{pct}; {allowed}; most in replicate "
                f"{rep.index[worst]}{tau_txt}: {div[worst]}): "
                f"NUTS could not follow the posterior's curvature{with_form} (a funnel), so "
                "those fits are biased whatever the ranks say. Use "
                "parameterization='marginal' (no funnel), or raise target_accept and tune.")
    cols = [c for c in ("max_rhat", "min_ess_bulk", "min_ess_tail") if c in rep]
    if cols:
        nan = int(rep[cols].isna().any(axis=1).sum())
        if nan:
            out.append(f"R-hat or ESS is NaN in {nan} of {n} fits: a chain did not move.")
    return out


@dataclass(frozen=True, repr=False)
class SBCResult:
    """Ranks, uniformity tests and sampler health of one SBC run.

    Attributes
    ----------
    ranks : pandas.DataFrame
        One row per replicate, one integer column per parameter (:data:`SBC_PARAMS`, then
        with covariates ``beta_<name>`` per slope), values in ``0..L``.
    replicates : pandas.DataFrame
        Per replicate: the true ``mu``, ``tau``, ``theta_1`` (and ``beta_<name>``), the fit
        seed, and the fit's health (:data:`HEALTH_COLUMNS`): ``divergences`` (divergent
        transitions after warm-up), ``max_rhat`` (worst rank-normalised split R-hat of the
        ranked parameters), ``min_ess_bulk`` and ``min_ess_tail`` (their smallest bulk /
        tail ESS).
    tests : pandas.DataFrame
        Per parameter: chi-square and KS statistics and p-values (:func:`rank_uniformity`)
        -- the rank test alone; :attr:`passed` also needs clean fits.
    L, n_bins : int
    priors, fit_priors : Priors
        The simulating and the fitted model's priors.
    seed : int
    settings : dict
        How the fits ran: ``parameterization``, ``sampler``, ``draws``, ``tune``,
        ``chains``, ``target_accept`` (the value the fits used).
    covariates : pandas.DataFrame or None
        The fixed group-level covariates of a meta-regression SBC (one row per group, in
        the order of ``se``), or None.
    """

    ranks: pd.DataFrame
    replicates: pd.DataFrame
    tests: pd.DataFrame
    L: int
    n_bins: int
    priors: Priors
    fit_priors: Priors
    seed: int
    settings: dict = field(default_factory=dict)
    covariates: pd.DataFrame | None = None

    @property
    def n_replicates(self) -> int:
        """Number of SBC replicates N."""
        return len(self.ranks)

    def pvalues(self, test: str = "chisq") -> dict[str, float]:
        """p-value per parameter of the chosen rank test ("chisq" or "ks")."""
        test = check_method(test, TESTS, "test")
        return {p: float(self.tests.loc[p, f"{test}_p"]) for p in self.tests.index}

    @property
    def passed(self) -> SBCVerdict:
        """The verdict at 1% with the chi-square test and no divergent fit allowed:
        an :class:`SBCVerdict`, true iff the ranks look uniform **and** the fits are clean
        (rule: :class:`SBCVerdict`).  Call it for other settings:
        ``res.passed(alpha=0.01, test="chisq", max_divergent_share=0.0)``; its ``reasons``
        say why it failed."""
        return SBCVerdict(self)

    @property
    def sampler_health(self) -> pd.Series:
        """The fits' health in one place: fits with divergences and the total, the share
        of draws that diverged, the median and worst per-fit R-hat, the fits with R-hat
        > 1.01, the median and smallest per-fit ESS (bulk, tail) and the fits whose ESS
        is below ``L`` (the thinned draws are then autocorrelated)."""
        rep = self.replicates
        n_draws = int(self.settings.get("draws", 0)) * int(self.settings.get("chains", 0))
        div = rep["divergences"].to_numpy()
        ess = rep[["min_ess_bulk", "min_ess_tail"]].min(axis=1)
        return pd.Series({
            "fits": len(rep),
            "divergent_fits": int((div > 0).sum()),
            "divergences": int(div.sum()),
            "divergent_share_of_draws": (div.sum() / (n_draws * len(rep)) if n_draws
                                         else np.nan),
            "max_rhat_median": float(rep["max_rhat"].median()),
            "max_rhat_worst": float(rep["max_rhat"].max(skipna=False)),
            "fits_rhat_above_1.01": int((rep["max_rhat"] > 1.01).sum()),
            "min_ess_bulk_median": float(rep["min_ess_bulk"].median()),
            "min_ess_tail_median": float(rep["min_ess_tail"].median()),
            "min_ess_worst": float(ess.min(skipna=False)),
            "fits_ess_below_L": int((ess < self.L).sum()),
        }, name="sampler_health", dtype=object)

    @property
    def bin_width(self) -> int:
        """Rank values per histogram bin, ``(L + 1) / n_bins``."""
        return (self.L + 1) // self.n_bins

    def rank_counts(self) -> pd.DataFrame:
        """The rank histograms: replicates per rank bin (rows: the ``n_bins`` bins, bin ``k``
        holding ranks ``k * bin_width`` to ``(k + 1) * bin_width - 1``; one column per ranked
        parameter), the counts the chi-square test of :attr:`tests` is computed on."""
        return pd.DataFrame(
            {p: rank_bin_counts(self.ranks[p].to_numpy(), self.L, self.n_bins)
             for p in self.ranks.columns}, index=pd.RangeIndex(self.n_bins, name="bin"))

    def count_band(self, band: float = 0.99) -> tuple[float, float]:
        """The pointwise ``band`` interval of one bin's count under calibration: the
        ``(1 -+ band) / 2`` quantiles of Binomial(N, 1 / n_bins)."""
        band = check_prob(band, "band")
        lo, hi = stats.binom.ppf([(1 - band) / 2, (1 + band) / 2], self.n_replicates,
                                 1 / self.n_bins)
        return float(lo), float(hi)

    def _health_text(self) -> str:
        h = self.sampler_health
        st = self.settings
        how = (f" ({st['parameterization']}, {st['sampler']}, {st['chains']} x {st['draws']} "
               f"draws, tune {st['tune']}, target_accept {st['target_accept']:g})"
               if {"parameterization", "sampler", "chains", "draws", "tune",
                   "target_accept"} <= set(st) else "")
        share = h["divergent_share_of_draws"]
        pct = f", {share:.2%} of draws" if np.isfinite(share) else ""
        return (
            f"sampler health per fit{how}:\n"
            f"  divergent fits {h['divergent_fits']} / {h['fits']} "
            f"({h['divergences']} transitions{pct})\n"
            f"  max R-hat: median {h['max_rhat_median']:.3f}, worst {h['max_rhat_worst']:.3f}"
            f" ({h['fits_rhat_above_1.01']} fits > 1.01)\n"
            f"  min ESS bulk / tail: median {h['min_ess_bulk_median']:.0f} / "
            f"{h['min_ess_tail_median']:.0f}, worst {h['min_ess_worst']:.0f} "
            f"({h['fits_ess_below_L']} fits below L = {self.L})")

    def __repr__(self) -> str:
        v = self.passed
        verdict = "passed" if v else "FAILED"
        lines = [f"SBCResult(N={self.n_replicates}, L={self.L}, {verdict} at 1%; the verdict "
                 "needs uniform ranks and no divergent fit)"]
        lines += [f"  - {r}" for r in v.reasons]
        if self.covariates is not None:
            lines.append(f"meta-regression on covariates {list(self.covariates.columns)} "
                         f"(G = {len(self.covariates)}); fitted priors: "
                         f"{self.fit_priors.describe()}")
        lines.append("rank uniformity:")
        lines.append(self.tests.to_string(float_format=lambda x: f"{x:.4g}"))
        lines.append(self._health_text())
        return "\n".join(lines)


def _check_fixed(name: str, p: object, covariates: bool = False) -> None:
    """``p`` must be Priors with a proper mu prior and fixed numbers for mu and tau (and for
    the slopes' sds when the model has ``covariates``)."""
    if not isinstance(p, Priors):
        raise TypeError(f"`{name}` must be a hiermodel.Priors, got {type(p).__name__}.")
    if p.mu == "flat":
        raise ValueError(f"`{name}`: SBC draws mu from its prior and NUTS needs a proper "
                         "one, but mu is flat; use Priors(mu_mean=..., mu_sd=...).")
    fields = ("mu_mean", "mu_sd", "tau_scale") + (("beta_sd",) if covariates else ())
    unset = [f for f in fields if getattr(p, f) is None]
    if unset:
        example = ("Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0, beta_sd=1.0) (beta_sd in "
                   "the covariates' units, one number or one per covariate)" if covariates
                   else "Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0) (the default, "
                   "SBC_PRIORS)")
        raise ValueError(
            f"`{name}`: {unset} are None (scaled to the data), but SBC must simulate from and "
            "fit with one fixed prior -- a prior rescaled to each simulated dataset breaks "
            f"the calibration.  Set them, e.g. {example}.")


def _covariate_matrix(covariates: Any, se: np.ndarray) -> HierData:
    """The fixed covariates of :func:`sbc` checked, as a template :class:`HierData` (zero
    means, the ``se``) holding them: rows in the order of ``se``; an array's columns are
    named ``x1 .. xp``."""
    g = se.size
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    if isinstance(covariates, Mapping):
        try:
            covariates = pd.DataFrame(dict(covariates))
        except (ValueError, TypeError) as err:
            raise ValueError(f"`covariates`: a dict of name -> values needs one value per "
                             f"group for every column ({err}).") from None
    if isinstance(covariates, pd.DataFrame):
        df = covariates.reset_index(drop=True)       # by position: rows follow `se`
    else:
        x = np.asarray(covariates)
        if x.dtype.kind not in "iuf":
            raise TypeError(f"`covariates` must be a numeric (G, p) array, a DataFrame or a "
                            f"dict of columns; got dtype {x.dtype} "
                            f"({type(covariates).__name__}).")
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"`covariates` must be a (G, p) array (one row per group, one "
                             f"column per covariate), got shape {x.shape}.")
        df = pd.DataFrame(x.astype(float), columns=[f"x{j + 1}" for j in range(x.shape[1])])
    if df.shape[1] == 0:
        raise ValueError("`covariates` has no columns; give at least one covariate.")
    if len(df) != g:
        raise ValueError(f"`covariates` has {len(df)} rows but `se` has {g} groups; give one "
                         "row per group, in the order of `se`.")
    return HierData.from_estimates(np.zeros(g), se, covariates=df)


def _sbc_one(means: np.ndarray, se: np.ndarray, seed: int, truth: np.ndarray, kw: dict,
             L: int, covariates: dict | None = None) -> dict:
    """Fit one simulated dataset, rank the truth among L thinned draws and record the fit's
    health (:data:`HEALTH_COLUMNS`, over the ranked parameters) -- in a worker.  With
    ``covariates`` (name -> the G values) the fit is the meta-regression and each slope is
    ranked too, as ``beta_<name>`` (``truth`` then ends with the p true slopes)."""
    import arviz as az
    import xarray as xr

    from ..diagnostics import count_divergences

    idata = fit_replicate(means, se, seed, kw, covariates)
    post = stack.group(idata, "posterior")
    total = post.sizes["chain"] * post.sizes["draw"]
    idx = np.round(np.linspace(0, total - 1, L)).astype(int)
    ranked = xr.Dataset({"mu": post["mu"], "tau": post["tau"],
                         "theta_1": post["theta"].isel(group=0, drop=True)})
    # by position (the data's column order): the labels of a cached model's posterior
    # coordinate can be those of an earlier fit's covariates
    for j, name in enumerate(covariates or ()):
        ranked[f"beta_{name}"] = post["beta"].isel(covariate=j, drop=True)
    out: dict[str, Any] = {
        k: int(np.sum(ranked[k].to_numpy().ravel()[idx] < t))
        for k, t in zip(ranked.data_vars, truth, strict=True)}
    out["divergences"] = count_divergences(idata)
    # NaN propagates (np.max / np.min): a chain that never moved is reported, not hidden
    out["max_rhat"] = float(np.max(az.rhat(ranked).to_array().to_numpy()))
    out["min_ess_bulk"] = float(np.min(az.ess(ranked, method="bulk").to_array().to_numpy()))
    out["min_ess_tail"] = float(np.min(az.ess(ranked, method="tail").to_array().to_numpy()))
    out["target_accept"] = float(post.attrs.get("target_accept", np.nan))
    return out


def sbc(
    n_replicates: int = 200, *, se: float | Sequence[float] | np.ndarray | None = None,
    n_groups: int | None = None, covariates: Any = None, priors: Priors | None = None,
    fit_priors: Priors | None = None, parameterization: str = "marginal", L: int = 99,
    draws: int = 500, tune: int = 500, chains: int = 2, sampler: str = "nutpie",
    target_accept: float | None = None, n_bins: int = 10, seed: int | None = 0,
    executor: ExecutorLike = None, chunksize: int | None = None,
) -> SBCResult:
    r"""Simulation-based calibration of the NUTS fit of the three-level normal model, or of
    the meta-regression when ``covariates`` are given.

    For replicate :math:`r = 1..N`: draw :math:`\mu_r \sim p(\mu)`, :math:`\tau_r \sim
    p(\tau)` (and with covariates :math:`\beta_{rj} \sim N(m_j, s_j^2)`, ``m``, ``s`` the
    ``beta_mean``, ``beta_sd`` of ``priors``) from ``priors``;
    :math:`\theta_{ri} \sim N(\mu_r + (x_i - \bar x)'\beta_r, \tau_r^2)` (just
    :math:`N(\mu_r, \tau_r^2)` without covariates; :math:`\bar x` the covariates' means over
    the groups, as the models centre them, so ``mu`` is the mean effect at :math:`\bar x`);
    :math:`\bar y_{ri} \sim N(\theta_{ri}, se_i^2)`; fit with ``fit_priors``; rank
    :math:`\mu_r, \tau_r, \theta_{r1}` (and each :math:`\beta_{rj}`) among ``L`` equally
    spaced draws of the ``chains x draws`` posterior draws; record each fit's divergences,
    worst R-hat and smallest ESS.  The verdict, :attr:`SBCResult.passed`, needs uniform
    ranks *and* no divergent fit (see :class:`SBCVerdict`); with covariates its Bonferroni
    correction is over the ``3 + p`` ranked parameters.

    Parameters
    ----------
    n_replicates : int, default 200
        N, the number of simulated datasets (and fits).
    se : float or array of G floats, optional
        Known standard errors; default Rubin's Eight Schools ``se`` (15, 10, ..., 18).  A
        scalar needs ``n_groups``.
    n_groups : int, optional
    covariates : (G, p) array, DataFrame or dict of columns, optional
        Group-level covariates ``x_i`` (meta-regression), the same in every replicate: one
        row per group in the order of ``se`` (a DataFrame's index is ignored; an array's
        columns are named ``x1 .. xp``, a 1-d array is one covariate).  Checked like
        :meth:`hiermodel.HierData.with_covariates`: finite, numeric, at least one column,
        none constant or collinear, fewer than ``G - 1`` columns.  Each slope is then ranked
        as ``beta_<name>`` (columns of :attr:`SBCResult.ranks`, rows of ``.tests``), and
        both priors need a fixed ``beta_sd``.  Default None: the model without covariates
        (results identical to those before covariates existed).
    priors : Priors, optional
        The simulating priors; default :data:`SBC_PRIORS` (``mu ~ Normal(0, 5)``,
        ``tau ~ Half-Cauchy(5)``), plus with covariates ``beta_j ~ Normal(0,``
        :data:`SBC_SLOPE_SCALE` ``/ sd(x_j))`` (sd over the groups, ddof=1).  They must be
        fixed and proper: ``mu="normal"`` with ``mu_mean`` and ``mu_sd`` set, ``tau_scale``
        set, and with covariates ``beta_sd`` set (``Priors()``'s data-scaled None fields
        are rejected; ``sigma_scale`` is unused, the ``se_i`` being known; ``beta_mean`` /
        ``beta_sd`` take one number or one per covariate).  The fits are given these
        priors explicitly.
    fit_priors : Priors, optional
        The fitted model's priors; default ``priors``.  Different priors give a
        deliberately wrong posterior (the negative control).  Also fixed and proper.
    parameterization : str, default "marginal"
        Passed to :func:`hiermodel.fit`; the default is the fit's own default, so the check
        calibrates the fit a user runs (and every replicate loads the compiled density from
        disk instead of compiling a PyMC model).  The forms that sample theta
        ("noncentered", "centered", "auto") are calibrated by naming them.
    L : int, default 99
        Posterior draws per rank (ranks in ``0..L``); needs ``chains * draws >= L``, and
        ``chains * draws / L`` (the thinning) should exceed the autocorrelation time.
    draws, tune, chains : int, default 500, 500, 2
    sampler : {"nutpie", "pymc", "numpyro"}, default "nutpie"
    target_accept : float, optional
        NUTS's target acceptance rate; default :func:`hiermodel.fit`'s (0.95 for the
        forms that sample theta, 0.9 for "marginal", 0.99 with covariates).  A low value
        with short ``tune`` makes the centered form diverge (the sampler negative control).
    n_bins : int, default 10
        Bins of the chi-square test and the histogram; must divide ``L + 1``.
    seed : int, optional
        Master seed: the same seed gives the same result on every executor.
    executor, chunksize
        See :func:`hiermodel.studies.executors.map_chunked`.  Default: serially, in this process
        (no ``__main__`` guard needed; one model compile, then every fit reuses it).  A
        process pool (:func:`hiermodel.studies.executors.default_executor`) or a Dask client pays
        off only for many replicates on several cores (each worker imports and compiles
        once); in a script use it only under ``if __name__ == "__main__":``.

    Returns
    -------
    SBCResult
        ``.passed`` (the verdict, usable as a bool), ``.tests`` (the rank test alone),
        ``.replicates`` (truths and per-fit health), ``.sampler_health``, ``.ranks``
        (figure: :func:`hiermodel.plots.plot_sbc_ranks`), ``.covariates``.
    """
    n = check_count(n_replicates, "n_replicates", 2)
    L = check_count(L, "L")
    b = check_count(n_bins, "n_bins", 2)
    if (L + 1) % b:
        raise ValueError(f"`n_bins`={b} must divide L + 1 = {L + 1}.")
    if check_count(chains, "chains") * check_count(draws, "draws") < L:
        raise ValueError(f"`chains` x `draws` = {chains * draws} posterior draws < L = {L}; "
                         "draw more or lower L.")
    if target_accept is not None:
        check_prob(target_accept, "target_accept")
    if se is None:
        se_ = np.asarray(eight_schools().se)
    else:
        se_ = scalar_per_group("se", check_positive_array(se, "se"), n_groups)
        if se_.ndim != 1 or se_.size < 2:
            raise ValueError(f"`se` must be one value per group (at least 2), got {se_.shape}.")
    template = None if covariates is None else _covariate_matrix(covariates, se_)
    if priors is None:
        priors = SBC_PRIORS
        if template is not None:
            sd_x = np.std(np.asarray(template.x), axis=0, ddof=1)
            priors = replace(priors, beta_sd=tuple(float(SBC_SLOPE_SCALE / s) for s in sd_x))
    fit_priors = priors if fit_priors is None else fit_priors
    for name, pr in (("priors", priors), ("fit_priors", fit_priors)):
        _check_fixed(name, pr, covariates=template is not None)
        if template is not None:
            try:
                pr.resolve(template)          # beta_mean / beta_sd: one or p numbers
            except ValueError as err:
                raise ValueError(f"`{name}`: {err}") from None
    fit_kw = {"parameterization": parameterization, "draws": draws, "tune": tune,
              "chains": chains, "sampler": sampler}
    if target_accept is not None:
        fit_kw["target_accept"] = target_accept
    kw = replicate_fit_kwargs(fit_kw, fit_priors)
    root = root_seed(seed)
    sim_ss, fit_ss, ks_ss = np.random.SeedSequence(root).spawn(3)
    rng = np.random.default_rng(sim_ss)
    mu = priors.mu_dist().rvs(size=n, random_state=rng)
    tau = priors.tau_dist().rvs(size=n, random_state=rng)
    if template is None:
        names: tuple[str, ...] = ()
        beta = np.empty((n, 0))
        cov_cols = None
        cov_df = None
    else:
        names = tuple(template.covariate_names)
        b_mean, b_sd = priors.resolve(template).beta_arrays(len(names))
        beta = b_mean + b_sd * rng.standard_normal((n, len(names)))      # (N, p)
        cov_cols = {c: np.asarray(template.x[:, j], float) for j, c in enumerate(names)}
        cov_df = pd.DataFrame(cov_cols)
    sim = simulate_arrays(n, mu, tau, se=se_, seed=rng)    # theta = mu + tau z, ybar = theta + se e
    means, theta = sim.means, sim.theta
    if template is not None:
        offset = beta @ np.asarray(template.centered_covariates, float).T   # (N, G)
        means, theta = means + offset, theta + offset
    seeds = replicate_seeds(fit_ss, n)
    params = SBC_PARAMS + tuple(f"beta_{c}" for c in names)
    truth = np.column_stack([sim.mu, sim.tau, theta[:, 0], beta])
    res = map_chunked(_sbc_one, [(means[r], sim.se[r], int(seeds[r]), truth[r], dict(kw), L)
                                 + ((cov_cols,) if cov_cols is not None else ())
                                 for r in range(n)], executor=executor, chunksize=chunksize)
    ranks = pd.DataFrame({p: [x[p] for x in res] for p in params}, dtype=np.int64)
    ranks.index.name = "replicate"
    replicates = pd.DataFrame({"mu": sim.mu, "tau": sim.tau, "theta_1": theta[:, 0],
                               **{f"beta_{c}": beta[:, j] for j, c in enumerate(names)},
                               "seed": seeds,
                               **{c: [x[c] for x in res] for c in HEALTH_COLUMNS}})
    replicates.index.name = "replicate"
    ks_rng = np.random.default_rng(ks_ss)
    tests = pd.DataFrame([rank_uniformity(ranks[p].to_numpy(), L, n_bins=b, seed=ks_rng)
                          for p in params], index=pd.Index(params, name="param"))
    settings = {"parameterization": parameterization, "sampler": sampler, "draws": draws,
                "tune": tune, "chains": chains, "target_accept": res[0]["target_accept"]}
    return SBCResult(ranks, replicates, tests, L, b, priors, fit_priors, root, settings,
                     cov_df)
