"""Sampler health and prior-data conflict: the checks :func:`hiermodel.sampling.fit` runs.

* :func:`convergence_table` -- R-hat, bulk/tail ESS and MCSE per parameter (ArviZ);
* :func:`count_divergences`, :func:`divergent_draws` -- the divergent transitions of a fit
  (on both ArviZ stacks);
* :func:`sampling_diagnostics` -- one :class:`Diagnostics` object: divergences, tree-depth
  hits, BFMI, the worst R-hat and ESS, with :attr:`Diagnostics.problems` in words and
  :meth:`Diagnostics.warn` (a :class:`~hiermodel.exceptions.SamplingWarning`);
* :func:`prior_data_conflict` -- sentences describing a conflict between the priors and the
  data, warned by :func:`warn_conflict` (a
  :class:`~hiermodel.exceptions.PriorDataConflictWarning`).

The thresholds (:data:`RHAT_MAX`, :data:`ESS_MIN`, :data:`BFMI_MIN`; Vehtari et al. 2021 for
R-hat and ESS) and those of the conflict check live here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from . import stack
from .core import design_matrix, eb_core, marginal_regression, meta_regression, restricted_loglik
from .data import HierData
from .exceptions import PriorDataConflictWarning, SamplingWarning
from .formatting import format_number as _fmt
from .priors import Priors
from .stack import check_fitted

if TYPE_CHECKING:
    from .stack import Result

__all__ = [
    "count_divergences", "divergent_draws", "convergence_table", "sampling_diagnostics",
    "Diagnostics", "prior_data_conflict",
    "warn_conflict", "RHAT_MAX", "ESS_MIN", "BFMI_MIN", "CONFLICT_Z", "CONFLICT_TAIL",
    "CONFLICT_LR", "CONFLICT_PRIOR_Z",
]

#: thresholds of the automatic checks (Vehtari et al. 2021 for R-hat / ESS)
RHAT_MAX, ESS_MIN, BFMI_MIN = 1.01, 400, 0.3
#: NumPyro's default maximum tree depth (it reports the depth, not whether it was hit)
_NUMPYRO_MAX_TREE_DEPTH = 10


def convergence_table(idata: Result,
                      var_names: list[str] | None = None) -> pd.DataFrame:
    """R-hat, bulk/tail ESS and MCSE per parameter (``arviz.summary``, kind "diagnostics"),
    for ``mu``, ``beta``, ``intercept``, ``tau``, ``theta`` and ``sigma`` by default (those
    the posterior has)."""
    idata = check_fitted(idata)
    if var_names is None:
        var_names = [v for v in ("mu", "beta", "intercept", "tau", "theta", "sigma")
                     if v in stack.group(idata, "posterior")]
    import arviz as az  # imported on use: ArviZ 1.x's import costs ~1 s (its figures)

    return az.summary(idata, var_names=var_names, kind="diagnostics")


def _worst_rhat_ess(post: xr.Dataset) -> tuple[float, float, float]:
    """The largest rank-normalized R-hat and the smallest bulk and tail ESS over every
    element of ``post``'s variables (ArviZ's ``rhat`` / ``ess``, unrounded; a third of the
    time of :func:`convergence_table`, which a warm fit would otherwise spend on MCSEs and a
    DataFrame).  A NaN anywhere is returned as NaN: a problem to report, never a pass."""
    import arviz as az

    def values(ds: xr.Dataset) -> np.ndarray:
        return np.concatenate([np.ravel(ds[v].values) for v in ds.data_vars])

    rhat = values(az.rhat(post))
    bulk, tail = values(az.ess(post, method="bulk")), values(az.ess(post, method="tail"))
    return float(np.max(rhat)), float(np.min(bulk)), float(np.min(tail))


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
            if self.parameterization == "marginal":
                fix = ("The marginal form has no funnel; what is left is usually the "
                       "curvature near tau = 0 or a heavy-tailed prior. Raise target_accept "
                       "(e.g. 0.99)")
            else:
                fix = ("The posterior has a funnel the sampler cannot follow. Switch to the "
                       "marginal or non-centered form (parameterization='marginal' / "
                       "'noncentered' / 'auto') and/or raise target_accept (e.g. 0.99)")
            out.append(
                f"{self.divergences} divergent transitions ({pct:.1f}% of draws) with the "
                f"{self.parameterization} parameterization. {fix}; do not trust the draws "
                "until divergences are 0.")
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


def divergent_draws(idata: Result) -> np.ndarray:
    """The divergence flag of every draw, a boolean array ``(chain, draw)``: the fit's
    ``sample_stats.diverging``, or all False when it records none (no ``sample_stats``, as
    draws from ``ExactPosterior.sample``, or no ``diverging``).  Works on ArviZ 0.23's
    ``InferenceData`` and on ArviZ 1's ``xarray.DataTree`` alike (through
    :mod:`hiermodel.stack`)."""
    if not stack.is_result(idata):
        raise TypeError(f"`idata` must be a fit (InferenceData), got {type(idata).__name__}.")
    have = stack.groups(idata)
    stats = stack.group(idata, "sample_stats") if "sample_stats" in have else xr.Dataset()
    if "diverging" in stats:
        return np.asarray(stats["diverging"].transpose("chain", "draw").values, dtype=bool)
    post = stack.group(idata, "posterior") if "posterior" in have else xr.Dataset()
    return np.zeros((post.sizes.get("chain", 0), post.sizes.get("draw", 0)), dtype=bool)


def count_divergences(idata: Result) -> int:
    """The number of divergent transitions in a fit: the sum of ``sample_stats.diverging``
    over chains and draws (0 when the fit records none; :func:`divergent_draws`)."""
    return int(divergent_draws(idata).sum())


def sampling_diagnostics(idata: Result) -> Diagnostics:
    """Summarise sampler health (ArviZ's rank-normalized R-hat, bulk and tail ESS, unrounded,
    and BFMI).

    R-hat and ESS are those of the parameters NUTS moved: ``mu``, ``tau``, ``theta`` (and
    ``sigma``), but not ``theta`` in the marginal form, where NUTS samples ``(mu, tau[,
    sigma])`` only and each ``theta`` draw is an exact, independent draw from
    ``p(theta | mu, tau, y)`` given its ``(mu, tau)`` draw (so it inherits their mixing).
    :func:`convergence_table` still lists every parameter."""
    post = stack.group(check_fitted(idata), "posterior")
    marginal = str(post.attrs.get("parameterization", "")) == "marginal"
    sampled = ("mu", "beta", "tau", "sigma") + (() if marginal else ("theta",))
    rhat, ess_bulk, ess_tail = _worst_rhat_ess(post[[v for v in sampled if v in post]])
    ss = (stack.group(idata, "sample_stats") if "sample_stats" in stack.groups(idata)
          else xr.Dataset())
    div = count_divergences(idata)
    depth_var = next((v for v in ("reached_max_treedepth", "maxdepth_reached") if v in ss), None)
    depth = int(ss[depth_var].sum()) if depth_var else 0
    if depth_var is None and "tree_depth" in ss:  # numpyro reports the depth itself
        depth = int((ss["tree_depth"] >= _NUMPYRO_MAX_TREE_DEPTH).sum())
    bfmi = tuple(float(b) for b in stack.bfmi(idata)) if "energy" in ss else ()
    return Diagnostics(
        divergences=div, max_treedepth_hits=depth, bfmi=bfmi,
        max_rhat=rhat, min_ess_bulk=ess_bulk, min_ess_tail=ess_tail,
        n_draws=int(post.sizes["chain"] * post.sizes["draw"]),
        parameterization=str(post.attrs.get("parameterization", "?")),
    )


#: thresholds of :func:`prior_data_conflict`
CONFLICT_Z = 3.0            # |E[mu|y] - mu_hat| / sd(mu|y)
CONFLICT_TAIL = 0.001       # posterior / prior tail probabilities; the likelihood-ratio level
#: the chi^2_1 upper CONFLICT_TAIL point, scipy.stats.chi2.isf(0.001, 1) (a test checks it;
#: a literal so that importing hiermodel does not import scipy.stats)
CONFLICT_LR = 10.827566170662733
CONFLICT_PRIOR_Z = 4.0      # |E[mu|y] - prior mean| / prior sd


def prior_data_conflict(idata: Result, data: HierData,
                        priors: Priors | None = None) -> list[str]:
    """Sentences describing a conflict between the priors and the data (empty: none found).

    The data's own answer is the empirical-Bayes (REML) fit ``(mu_hat, tau_hat)`` of
    ``ybar_i ~ N(mu, tau^2 + se_i^2)``; the posterior should not sit far from it unless the
    prior is meant to be informative.  Flagged:

    * ``|E[mu | y] - mu_hat| > 3 sd(mu | y)``;
    * ``tau_hat`` outside the posterior's central 99.8% interval of tau *and* the data
      reject the posterior median of tau: the restricted likelihood-ratio statistic
      ``2 [l_R(tau_hat) - l_R(median(tau | y))]`` exceeds the chi^2_1 0.1% point, 10.83
      (:func:`hiermodel.core.restricted_loglik`; so a ``tau_hat`` of 0 beside a
      posterior that is merely positive is not a conflict);
    * the posterior far in the prior's tail: ``E[mu | y]`` more than 4 prior sds from the
      prior mean, or the posterior median of tau above the prior's 99.9% quantile.

    ``priors`` defaults to those recorded in ``posterior.attrs``.
    :func:`hiermodel.sampling.fit` warns with :class:`PriorDataConflictWarning` (through
    :func:`warn_conflict`) when this list is not empty.
    """
    post = stack.group(check_fitted(idata), "posterior")
    data = HierData.check(data, covariates=True)
    if "mu" not in post or "tau" not in post:
        return []
    if priors is None:
        priors = Priors.from_attrs(post.attrs)
    mu = np.asarray(post["mu"].values, dtype=float).ravel()
    tau = np.asarray(post["tau"].values, dtype=float).ravel()
    if mu.size < 2 or not (np.all(np.isfinite(mu)) and np.all(np.isfinite(tau))):
        return []
    mu_hat, tau_hat, loglik = _data_estimate(data)
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
    lr = 2.0 * float(np.diff(loglik(np.array([med, tau_hat])))[0])
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


def _data_estimate(data: HierData):
    """``(mu_hat, tau_hat, l_R)``: the REML fit and the restricted log-likelihood of tau.
    With covariates, of the meta-regression on the centred covariates (so ``mu_hat`` is the
    mean effect at the average covariates, as ``mu`` is in the models)."""
    if not data.has_covariates:
        eb = eb_core(data.means, data.se, "reml")
        return float(eb.mu), float(eb.tau), lambda t: restricted_loglik(data.means, data.se, t)
    x = design_matrix(data.n_groups, data.centered_covariates)
    y, v = np.asarray(data.means, float), np.asarray(data.se, float) ** 2
    fit = meta_regression(y, v, x, "reml")
    flat = np.zeros(x.shape[1]), np.zeros((x.shape[1],) * 2)
    return (float(fit.beta[0]), float(np.sqrt(fit.tau2)),
            lambda t: marginal_regression(np.asarray(t) ** 2, y, v, x, *flat).loglik)


def warn_conflict(problems: list[str], stacklevel: int = 3) -> None:
    """Emit one :class:`PriorDataConflictWarning` listing ``problems`` (none if empty)."""
    if problems:
        warnings.warn("hiermodel prior-data conflict:\n- " + "\n- ".join(problems),
                      PriorDataConflictWarning, stacklevel=stacklevel)
