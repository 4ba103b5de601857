r"""Simulation studies of pooling and shrinkage, each returning a table.

:func:`pooling_vs_tau` (shrinkage against the between-group sd), :func:`shrinkage_by_size`
(shrinkage against group size) and :func:`mse_study` (the risk comparison of Efron & Morris
1975: no pooling vs empirical-Bayes partial pooling with every
tau estimator vs full Bayes, with Monte Carlo confidence intervals).  Their figures are in
:mod:`hiermodel.plots` (``plot_pooling_vs_tau``, ``plot_shrinkage_by_size``,
``plot_mse_study``), which read these results.  The full-Bayes fits run serially by default,
or over an executor (:mod:`hiermodel.studies.executors`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validate import (
    check_count,
    check_finite_array,
    check_method,
    check_nonneg_array,
    check_positive_array,
    check_prob,
    root_seed,
)
from ..exceptions import SamplingWarning
from ..priors import Priors
from ._checks import SeedLike, group_sizes, make_rng, per_group
from .executors import ExecutorLike, fit_replicates
from .simulation import SUMMARY_N, SUMMARY_SIGMA, simulate_arrays

__all__ = ["pooling_vs_tau", "shrinkage_by_size", "MSEStudy", "mse_study"]


# ============================================================================ exercise 1
def pooling_vs_tau(
    taus: Sequence[float] | np.ndarray = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0), *,
    mu: float = 0.0, sigma: float | Sequence[float] | np.ndarray = SUMMARY_SIGMA,
    n: int | Sequence[int] | np.ndarray = SUMMARY_N, n_groups: int | None = None,
    method: str = "reml", seed: SeedLike = 0,
) -> pd.DataFrame:
    r"""Exercise 1: sweep the between-group sd tau and watch partial pooling move.

    One set of standard normals ``z_i, e_i`` is drawn once and reused for every tau (common
    random numbers), so the only thing that changes along the sweep is tau:

    .. math::

        \theta_i = \mu + \tau z_i, \qquad \bar y_i = \theta_i + se_i e_i, \qquad
        se_i = \sigma_i / \sqrt{n_i}.

    Each dataset gets the three classic estimates (BDA3 section 5.5): no pooling
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
    sigma : float or array of G floats, default 15
        (as :func:`hiermodel.datasets.eight_schools_summary`)
    n : int or array of G ints, default the sizes of
        :func:`hiermodel.datasets.eight_schools_summary`
    n_groups : int, optional
        Needed when ``n`` is a scalar.
    method : {"dl", "pm", "ml", "reml", "sd_of_means", "true"}, default "reml"
        The tau estimator (:func:`hiermodel.core.estimate_tau`), or "true" to plug in
        the true tau (and mu).
    seed : int, numpy Generator or SeedSequence, default 0

    Returns
    -------
    pandas.DataFrame
        One row per (tau, group): ``tau``, ``group``, ``n``, ``se``, ``theta`` (truth),
        ``no_pooling``, ``complete_pooling`` (the precision-weighted mean of the
        ``ybar_i``), ``partial_pooling``, ``weight`` (estimated
        ``w_i``), ``weight_true`` (oracle), ``tau_hat``, ``mu_hat``.
    """
    from ..core import TAU_METHODS, estimate_tau, precision_weighted_mean

    method = check_method(method, (*TAU_METHODS, "true"))
    t = check_nonneg_array(taus, "taus")
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"`taus` must be a non-empty 1-d sequence, got shape {t.shape}.")
    mu_ = float(check_finite_array(mu, "mu"))
    nn = group_sizes(n, n_groups)
    g = nn.size
    se = per_group("sigma", check_positive_array(sigma, "sigma"), g) / np.sqrt(nn)
    rng = make_rng(seed)
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
        "no_pooling": ybar.ravel(),
        "complete_pooling": np.repeat(precision_weighted_mean(ybar, se_b), g),
        "partial_pooling": partial.ravel(), "weight": w.ravel(),
        "weight_true": w_true.ravel(), "tau_hat": np.repeat(tau_hat, g),
        "mu_hat": np.repeat(mu_hat, g),
    })


# ============================================================================ exercise 2
def shrinkage_by_size(
    sizes: Sequence[int] = (5, 50, 500), *, groups_per_size: int = 3, mu: float = 0.0,
    tau: float = 5.0, sigma: float = SUMMARY_SIGMA, n_datasets: int = 2000,
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
    from ..core import TAU_METHODS, eb_core

    method = check_method(method, TAU_METHODS)
    z = _z(check_prob(level, "level"))
    sz = group_sizes(sizes, None)
    if np.unique(sz).size != sz.size:
        raise ValueError(f"`sizes` must be distinct, got {sz.tolist()}.")
    k = check_count(groups_per_size, "groups_per_size")
    nn = np.repeat(sz, k)
    sim = simulate_arrays(check_count(n_datasets, "n_datasets"), mu, tau, sigma=float(
        check_positive_array(sigma, "sigma")), n=nn, seed=seed)
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
        ``se_i = sigma_i / sqrt(n_i)``; default 15 and the sizes of
        :func:`hiermodel.datasets.eight_schools_summary`
        (:data:`SUMMARY_SIGMA`, :data:`SUMMARY_N`).  Or pass ``se`` instead.
    n_groups : int, optional
        G when ``n`` or ``se`` is a scalar.
    se : float or array of G floats, optional
        Known standard errors (replaces ``sigma`` and ``n``).
    methods : sequence of str, optional
        Tau estimators for EB; default every one of :data:`hiermodel.core.TAU_METHODS` but
        ``"ee"`` (tau = 0: that is the ``complete_pooling`` row).
    n_bayes : int, default 0
        Datasets to fit with full Bayes (0: none).
    priors : Priors, optional
        Hyperpriors of the full-Bayes fits.  Default ``None``: what a user would run,
        :func:`hiermodel.fit`'s data-scaled ``Priors()``, resolved from each simulated
        dataset alone (:meth:`Priors.resolve`); the analysis never sees the true ``mu`` or
        ``tau``.  Fields left at None in a ``Priors`` you pass are likewise resolved per
        dataset; pass fixed numbers (e.g. ``Priors(mu_mean=0, mu_sd=50, tau_scale=10)``)
        for one prior across the datasets.  Recorded in ``settings["priors"]``.
    fit_kwargs : dict, optional
        For :func:`hiermodel.fit` (default marginal, 2 chains x 500 draws, nutpie).
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
        ``.table``, ``.losses``, ``.settings`` (figure: :func:`hiermodel.plots.plot_mse_study`).
    """
    from ..core import TAU_METHODS, complete_pooling, eb_core

    r = check_count(n_datasets, "n_datasets", 2)
    level = check_prob(level, "level")
    z = _z(level)
    meths = tuple(m for m in TAU_METHODS if m != "ee") if methods is None else methods
    if isinstance(meths, str):
        raise TypeError(f"`methods` must be a sequence of method names, e.g. [{meths!r}].")
    meths = tuple(check_method(m, TAU_METHODS) for m in meths)
    nb = check_count(n_bayes, "n_bayes", 0)
    if nb > r:
        raise ValueError(f"`n_bayes`={nb} exceeds `n_datasets`={r}.")
    # what the full-Bayes fits use (None: fit's data-scaled default), as recorded in settings
    fitted_priors = Priors.check(priors if priors is not None
                                 else (fit_kwargs or {}).get("priors"))
    root = root_seed(seed)
    sim_ss, fit_ss = np.random.SeedSequence(root).spawn(2)
    if se is None:
        sigma = SUMMARY_SIGMA if sigma is None else sigma
        n = SUMMARY_N if n is None else n
    sim = simulate_arrays(r, mu, tau, se=se, sigma=sigma, n=n, n_groups=n_groups, seed=sim_ss)
    tau_ = float(sim.tau[0])
    se_row = sim.se[0]
    est: dict[str, np.ndarray] = {"no_pooling": sim.means}
    est["complete_pooling"] = complete_pooling(sim.means, sim.se)
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
            warnings.warn(
                f"mse_study: {int((div > 0).sum())} of {nb} full-Bayes fits had divergent "
                f"transitions ({int(div.sum())} in all), so the full_bayes MSE may be biased. "
                "Use the marginal form (the default) or raise target_accept through "
                "fit_kwargs.", SamplingWarning, stacklevel=2)
    losses.index.name = "dataset"
    settings = {"mu": float(sim.mu[0]), "tau": tau_, "se": se_row.copy(), "methods": meths,
                "n_bayes": nb, "n_datasets": r,
                "full_bayes_divergent_fits": int((div > 0).sum()) if nb else 0,
                "priors": fitted_priors}
    return MSEStudy(_summarise(losses, z), losses, level, root, settings)
