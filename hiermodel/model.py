r"""Every PyMC graph hiermodel builds: the hierarchical model, the three pooling models and the
predictive graphs -- with one sufficient-statistic likelihood for all of them.

The model, for groups i = 1..G with data summarised by :class:`~hiermodel.data.HierData`::

    mu    ~ Normal(mu0, sigma0)                       (or flat)
    tau   ~ Half-Cauchy(s) | Half-Normal(s) | Uniform(0, s)
    (mu0, sigma0, s scaled to the data unless given: :mod:`hiermodel.priors`)
    theta_i | mu, tau ~ N(mu, tau^2)
    ybar_i  | theta_i ~ N(theta_i, se_i^2)            se_i = sigma / sqrt(n_i)

and, when sigma is unknown (raw rows without a known sigma), ``sigma ~ Half-Normal`` with
``se_i = sigma / sqrt(n_i)`` and the within-group sum of squares as a second observation,
``ss_i | sigma ~ sigma^2 chi^2_{n_i - 1}``, i.e. ``Gamma((n_i - 1)/2, rate = 1/(2 sigma^2))``
(0 for a group of one row, which informs only its theta_i)
(:func:`ss_likelihood`, the one place that writes it).  Since ``(n_i, ybar_i, ss_i)`` are
sufficient, this likelihood equals the per-row likelihood ``prod_ij N(y_ij | theta_i,
sigma^2)`` up to a constant, and a gradient costs O(G), not O(N).

**One graph for every parameterization.**  With a centering weight ``c_i`` in [0, 1] per
group (Papaspiliopoulos, Roberts & Skold 2003, 2007; Gorinova, Moore & Hoffman 2020)::

    theta_tilde_i ~ N(c_i mu, tau^{c_i})
    theta_i       = mu + tau^{1 - c_i} (theta_tilde_i - c_i mu)

``c_i = 1`` is the centered form (theta_tilde = theta), ``c_i = 0`` the non-centered form
(theta_tilde ~ N(0, 1), theta = mu + tau z), and values in between are partial centering.
In every case ``theta_i | mu, tau ~ N(mu, tau^2)``.  ``c`` is a ``pm.Data`` node, so one
compiled model serves all parameterizations and datasets of the same shape; the weights are
chosen by :func:`hiermodel.parameterization.centering`.

**The marginal (collapsed) form.**  Because the likelihood is normal, theta can be integrated
out exactly: ``ybar_i | mu, tau ~ N(mu, tau^2 + se_i^2)``.  ``parameterization="marginal"``
samples only (mu, tau[, sigma]) -- a 2- or 3-dimensional posterior with no funnel -- and
:func:`hiermodel.sampling.fit` then draws ``theta_i | mu, tau, y ~ N(theta_hat_i, V_i)``
exactly (the conditional posterior, BDA3 eq. 5.17) for every posterior draw.  Same
posterior, far cheaper to sample.

**The "auto" rule.**  For the normal-normal model the centered form mixes well when group i's
data dominate its prior (``se_i << tau``) and the non-centered form when the prior dominates
(``se_i >> tau``); PRS (2003) show the partially non-centered weight equal to the shrinkage
weight ``w_i = tau^2 / (tau^2 + se_i^2)`` makes theta_tilde_i and mu a-priori-and-a-posteriori
uncorrelated given tau.  "auto" therefore sets ``c_i = w_i(tau_hat)`` with a quick
empirical-Bayes estimate tau_hat (REML); see Betancourt & Girolami (2013, "Hamiltonian Monte
Carlo for hierarchical models") for the geometry (the funnel) behind the rule.  Groups with
``w_i >= 0.5`` are effectively centered, those below non-centered.  On data that mix
precise and imprecise groups "auto" mixes better than either fixed form (measured by
``benchmarks/bench_divergences.py``; the numbers are in ``benchmarks/README.md``).

**Group-level covariates** (meta-regression; :meth:`HierData.with_covariates`).  With
covariates ``x_i`` the population mean of group i is ``mu + (x_i - xbar)' beta``::

    beta_j ~ Normal(beta_mean_j, beta_sd_j)           (:mod:`hiermodel.priors`)
    theta_i | mu, beta, tau ~ N(mu + (x_i - xbar)' beta, tau^2)

with ``xbar`` the covariates' means over the groups.  Centring keeps ``mu`` the mean effect
(at the average covariates; its data-scaled prior still fits) and nearly uncorrelated with
the slopes; the raw-scale intercept ``mu - xbar' beta`` is a Deterministic ``intercept``.
Every form takes them: the centering above applies to ``theta_i`` around its own mean.  The
marginal form integrates ``mu`` and ``beta`` out as well as theta (:func:`_collapsed`, a
``pm.Potential`` of ``log p(y | tau)``, as bayesmeta and the exact posterior do), so NUTS
samples tau (and sigma) alone, with no funnel between the slopes and tau; ``fit`` then draws
``(mu, beta)`` and theta exactly.  ``x`` (and, where the graph uses it, ``x_mean``) are
``pm.Data`` (dims ``group``, ``covariate``).

**The pooling models** (:func:`pooling_model`): the three pooling strategies (BDA3 5.5) as Bayesian
models of the same data -- complete pooling ``theta_i = mu``, no pooling ``theta_i ~ N(mu0,
s^2)`` independently, and partial pooling (the hierarchical model above).

**The predictive graphs** (:func:`prior_model`, :func:`posterior_model`) carry the same
variable names (``mu``, ``tau``, ``theta``, ``sigma``) plus the replicated and new-group
nodes of :mod:`hiermodel.predictive`, so posterior draws plug straight in.  They define the
predictive distributions; :mod:`hiermodel.predictive` draws the same ones with numpy (no
compile), and the tests check the two agree.

What :func:`build_model` and :func:`pooling_model` return is a :class:`HierModel`: the
``pm.Model`` together with the data, the resolved priors and the :class:`ModelSpec` it was
built from -- nothing is set on PyMC's object.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ._validate import check_method, check_positive_number
from .data import HierData
from .model_spec import (
    LIKELIHOODS,
    POOLING,
    HierModel,
    ModelSpec,
    covariate_values,
    sigma_prior_scale,
)
from .parameterization import Parameterization, centering
from .prior_families import SIGMA_FAMILIES, TAU_FAMILIES, PriorFamily
from .priors import Priors

__all__ = [
    "build_model", "pooling_model", "no_pooling_prior_sd",
    "mu_prior", "tau_prior", "sigma_prior", "ss_likelihood",
    "known_sigma_likelihood", "unknown_sigma_likelihood", "prior_model", "posterior_model",
    "predictive_nodes", "covariate_effects",
]

def _covariate_coords(data: HierData) -> dict[str, Any]:
    return {"covariate": list(data.covariate_names)} if data.has_covariates else {}


# ----------------------------------------------------------------------------- the pieces
def mu_prior(priors: Priors) -> pt.TensorVariable:
    """``mu`` (inside a model context): Normal on ``pm.Data`` loc / scale, or flat."""
    if priors.mu == "flat":
        return pm.Flat("mu")
    loc = pm.Data("mu_loc", float(priors.mu_mean))
    scale = pm.Data("mu_scale", float(priors.mu_sd))
    return pm.Normal("mu", mu=loc, sigma=scale)


def tau_prior(priors: Priors) -> pt.TensorVariable:
    """``tau`` (inside a model context), its scale a ``pm.Data`` node."""
    scale = pm.Data("tau_scale", float(priors.tau_scale))
    return _scale_prior(TAU_FAMILIES[priors.tau], "tau", scale)


def covariate_effects(data: HierData, priors: Priors, mu) -> Any:
    """``mu + (x_i - xbar)' beta`` (inside a model context), with ``beta``'s prior, the
    ``intercept`` Deterministic and the covariates as ``pm.Data``; just ``mu`` without
    covariates."""
    if not data.has_covariates:
        return mu
    values = covariate_values(data)
    loc, scale = priors.beta_arrays(data.n_covariates)
    x = pm.Data("x", values["x"], dims=("group", "covariate"))
    x_mean = pm.Data("x_mean", values["x_mean"], dims="covariate")
    beta = pm.Normal("beta", mu=pm.Data("beta_loc", loc, dims="covariate"),
                     sigma=pm.Data("beta_scale", scale, dims="covariate"), dims="covariate")
    pm.Deterministic("intercept", mu - pt.dot(x_mean, beta))
    return mu + pt.dot(x, beta)


def sigma_prior(data: HierData, priors: Priors):
    """``sigma`` (inside a model context), its scale a ``pm.Data`` node."""
    scale = pm.Data("sigma_scale", sigma_prior_scale(data, priors))
    return _scale_prior(SIGMA_FAMILIES[priors.sigma], "sigma", scale)


def _scale_prior(family: PriorFamily, name: str, scale) -> pt.TensorVariable:
    """The random variable ``name`` of ``family`` (:mod:`hiermodel.prior_families`) with
    ``scale``, inside a model context."""
    return getattr(pm, family.pymc_name)(name, **dict(family.pymc_fixed),
                                         **{family.pymc_scale: scale})


def _ss_logp(value, alpha, rate):
    """``log Gamma(value | alpha, rate)``, and 0 where ``alpha = 0`` (a group of one row:
    ``ss_i = 0`` surely, nothing about sigma).  The masked entries see safe stand-ins, so
    neither the value nor the gradient is NaN."""
    some = alpha > 0
    a = pt.switch(some, alpha, 1.0)
    x = pt.switch(some, value, 1.0)
    lp = a * pt.log(rate) - pt.gammaln(a) + (a - 1.0) * pt.log(x) - rate * x
    return pt.switch(some, lp, 0.0)


def _ss_dist(alpha, rate, size):
    """The replicated ``ss`` as a graph (no Python callback, so every backend compiles it):
    a Gamma draw, exactly 0 where ``alpha = 0``."""
    some = alpha > 0
    draw = pm.Gamma.dist(alpha=pt.switch(some, alpha, 1.0), beta=rate, size=size)
    return pt.switch(some, draw, 0.0)


def ss_likelihood(sigma, n, ss=None) -> pt.TensorVariable:
    """The within-group sum of squares ``ss`` (inside a model context; observed when ``ss``
    is given, else a replicated draw): ``ss_i / sigma^2 ~ chi^2_{n_i - 1}``, i.e. ``ss_i ~
    Gamma((n_i - 1)/2, rate = 1 / (2 sigma^2))``; a group of one row has ``ss_i = 0`` and
    adds nothing (its row informs ``theta_i`` only), so sigma's likelihood has ``N - G`` df."""
    return pm.CustomDist("ss", (n - 1.0) / 2.0, 1.0 / (2.0 * sigma**2), logp=_ss_logp,
                         dist=_ss_dist, observed=ss, dims="group")


def known_sigma_likelihood(data: HierData, theta, likelihood: str) -> None:
    """``y`` given theta with known se_i (rows: ``y_ij ~ N(theta_i, sigma_i^2)``)."""
    if likelihood == "rows":
        y, idx = data.rows
        sig = pm.Data("sigma_rows", data.sigma[idx], dims="obs")
        pm.Normal("y", mu=theta[idx], sigma=sig, observed=y, dims="obs")
        return
    ybar = pm.Data("ybar", data.means, dims="group")
    se = pm.Data("se", data.se, dims="group")
    pm.Normal("y", mu=theta, sigma=se, observed=ybar, dims="group")


def _sigma_and_ss_data(data: HierData, priors: Priors):
    sigma = sigma_prior(data, priors)
    n = pm.Data("n", data.n.astype(float), dims="group")
    ss = pm.Data("ss_data", data.ss, dims="group")
    return sigma, n, ss


def unknown_sigma_likelihood(data: HierData, priors: Priors, theta, likelihood: str) -> None:
    """``sigma``'s prior, ``y`` given theta and sigma, and (sufficient) the ``ss`` term."""
    if likelihood == "rows":
        sigma = sigma_prior(data, priors)
        y, idx = data.rows
        pm.Normal("y", mu=theta[idx], sigma=sigma, observed=y, dims="obs")
        return
    sigma, n, ss = _sigma_and_ss_data(data, priors)
    ybar = pm.Data("ybar", data.means, dims="group")
    pm.Normal("y", mu=theta, sigma=sigma / pt.sqrt(n), observed=ybar, dims="group")
    ss_likelihood(sigma, n, ss)


def _likelihood(data: HierData, priors: Priors, theta, likelihood: str = "sufficient") -> None:
    if data.sigma_known:
        known_sigma_likelihood(data, theta, likelihood)
    else:
        unknown_sigma_likelihood(data, priors, theta, likelihood)


# ----------------------------------------------------------------------------- hierarchical
def build_model(
    data: HierData,
    parameterization: Parameterization | np.ndarray = "auto",
    priors: Priors | None = None,
    *,
    likelihood: Literal["sufficient", "rows"] = "sufficient",
) -> HierModel:
    """Build the three-level normal model.

    Parameters
    ----------
    data : HierData
        The data; its labels become the ``group`` coordinate.
    parameterization : {"marginal", "centered", "noncentered", "auto"} or array
        See the module docstring; an array gives per-group centering weights in [0, 1].
        Default "auto".
    priors : Priors, optional
        Hyperpriors; default ``Priors()``, scaled to the data (:mod:`hiermodel.priors`).
        Fields left at None are resolved with :meth:`Priors.resolve`; the model's numbers
        are ``pm.Data`` nodes, so one compiled model serves every dataset of a shape.
    likelihood : {"sufficient", "rows"}, default "sufficient"
        "sufficient": ``ybar_i ~ N(theta_i, se_i^2)`` (+ the ``ss_i`` term if sigma is
        unknown), O(G) per gradient.  "rows": ``y_ij ~ N(theta_i, sigma^2)`` row by row,
        O(N) -- for testing and benchmarking the equivalence; needs raw rows.

    Returns
    -------
    HierModel
        ``.model`` is the ``pymc.Model``: free variables ``mu``, ``tau``, ``theta_tilde``
        (and ``sigma``; with covariates ``beta`` on dim ``covariate`` and the Deterministic
        ``intercept``); Deterministic ``theta`` on dim ``group`` (the marginal form has
        neither: only mu, tau[, sigma]; with covariates only tau[, sigma] and the Potential
        ``y_marginal``); observed ``y`` (group means) and, if sigma is
        unknown, ``ss``.  Data nodes ``ybar``, ``se`` (or ``n``, ``ss_data``), ``c`` can be
        swapped with ``pm.set_data``.  ``.spec`` records what was built, ``.data`` and
        ``.priors`` what from.
    """
    data = HierData.check(data, covariates=True)
    priors = Priors.check(priors, data=data)
    likelihood = check_method(likelihood, LIKELIHOODS, "likelihood")
    if likelihood == "rows" and parameterization == "marginal":
        raise ValueError("The marginal form needs the sufficient-statistic likelihood; use "
                         "likelihood='sufficient' or another parameterization.")
    if likelihood == "rows" and not data.has_rows:
        raise ValueError("`likelihood='rows'` needs raw rows: build the data with "
                         "HierData.from_observations(..., keep_rows=True).")
    name, c, tau_hat = centering(data, parameterization)
    coords: dict[str, Any] = {"group": list(data.groups), **_covariate_coords(data)}
    if likelihood == "rows":
        coords["obs"] = np.arange(data.n_total)

    with pm.Model(coords=coords) as model:
        if name == "marginal":
            _marginal(data, priors)
        else:
            _full(data, priors, c, likelihood)
    spec = ModelSpec(parameterization=name, centering=tuple(float(v) for v in c),
                     priors=priors, likelihood=likelihood, sigma_known=data.sigma_known,
                     tau_hat=tau_hat)
    return HierModel(model=model, data=data, spec=spec)


def _full(data: HierData, priors: Priors, c: np.ndarray, likelihood: str) -> None:
    """theta sampled, with per-group centering weights c (inside a model context)."""
    c_data = pm.Data("c", c, dims="group")
    mu = mu_prior(priors)
    tau = tau_prior(priors)
    m = covariate_effects(data, priors, mu)          # each group's population mean
    theta_tilde = pm.Normal("theta_tilde", mu=c_data * m, sigma=tau**c_data, dims="group")
    theta = pm.Deterministic(
        "theta", m + tau ** (1.0 - c_data) * (theta_tilde - c_data * m), dims="group")
    _likelihood(data, priors, theta, likelihood)


def _marginal(data: HierData, priors: Priors) -> None:
    """theta integrated out: ybar_i | mu, tau[, sigma] ~ N(mu, tau^2 + se_i^2).  With
    covariates mu and beta are integrated out too (:func:`_collapsed`)."""
    if data.has_covariates:
        _collapsed(data, priors)
        return
    mu = mu_prior(priors)
    tau = tau_prior(priors)
    ybar = pm.Data("ybar", data.means, dims="group")
    se = _group_se(data, priors)
    pm.Normal("y", mu=mu, sigma=pt.sqrt(tau**2 + se**2), observed=ybar, dims="group")


def _group_se(data: HierData, priors: Priors):
    """se_i inside a model context: ``pm.Data`` when known, else ``sigma / sqrt(n_i)`` with
    sigma's prior and the ``ss`` term."""
    if data.sigma_known:
        return pm.Data("se", data.se, dims="group")
    sigma, n, ss = _sigma_and_ss_data(data, priors)
    ss_likelihood(sigma, n, ss)
    return sigma / pt.sqrt(n)


def _collapsed(data: HierData, priors: Priors) -> None:
    r"""The marginal form with covariates: theta, mu and beta integrated out (inside a model
    context), as bayesmeta and :func:`hiermodel.core.regression_grid_posterior` do.

    With ``X = [1, x - xbar]``, the coefficients ``b = (mu, beta) ~ N(b0, P0^-1)`` (``P0``
    diagonal; mu's entry 0 when its prior is flat), ``w_i = 1 / (tau^2 + se_i^2)``,
    ``A = X' W X + P0`` and ``b_hat = A^-1 (X' W y + P0 b0)``::

        log p(y | tau) = -G/2 log 2 pi + 1/2 sum log w_i + 1/2 log|P0| - 1/2 log|A|
                         - 1/2 sum w_i (y_i - x_i' b_hat)^2 - 1/2 (b_hat - b0)' P0 (b_hat - b0)

    is a ``pm.Potential`` (``y_marginal``): NUTS samples tau (and sigma) alone, a posterior
    with no funnel left between the slopes and tau, and :func:`hiermodel.sampling.fit` then
    draws ``(mu, beta) | tau, y ~ N(b_hat, A^-1)`` and theta exactly.  ``log|A|`` and the
    quadratic form come from the Cholesky factor of ``A`` written out entry by entry
    (:func:`_cholesky_forward`), which samples faster than PyTensor's Cholesky-and-solve or
    inverse-and-determinant ops; its compile, once per process and shape, takes longer than
    that of the forms that sample the slopes (``benchmarks/README.md``).
    """
    tau = tau_prior(priors)
    ybar = pm.Data("ybar", data.means, dims="group")
    values = covariate_values(data)
    x = pm.Data("x", values["x"], dims=("group", "covariate"))
    loc, scale = priors.beta_arrays(data.n_covariates)
    beta_loc = pm.Data("beta_loc", loc, dims="covariate")
    beta_scale = pm.Data("beta_scale", scale, dims="covariate")
    if priors.mu == "flat":
        mu_loc, mu_prec = pt.constant(0.0), pt.constant(0.0)
    else:
        mu_loc = pm.Data("mu_loc", float(priors.mu_mean))
        mu_prec = 1.0 / pm.Data("mu_scale", float(priors.mu_sd)) ** 2
    # shift y and mu's prior mean by mean(y): the same density (X has the intercept), and
    # y'Wy - z'z below does not cancel catastrophically for data far from 0 (1e6 +- 10)
    shift = pt.mean(ybar)
    y = ybar - shift
    b0 = pt.concatenate([pt.atleast_1d(mu_loc - shift), beta_loc])
    p0 = pt.concatenate([pt.atleast_1d(mu_prec), 1.0 / beta_scale**2])
    se = _group_se(data, priors)
    design = pt.concatenate([pt.ones((data.n_groups, 1)), x], axis=1)
    w = 1.0 / (tau**2 + se**2)
    a = (design.T * w) @ design + pt.diag(p0)
    rhs = design.T @ (w * y) + p0 * b0
    # with A = L L' and z = L^-1 rhs:  sum w r^2 + d' P0 d = y'Wy + b0'P0 b0 - z'z
    diag, z = _cholesky_forward(a, rhs, data.n_covariates + 1)
    log_p0 = pt.sum(pt.switch(p0 > 0, pt.log(pt.switch(p0 > 0, p0, 1.0)), 0.0))
    quad = pt.sum(w * y**2) + pt.sum(p0 * b0**2) - sum(zj * zj for zj in z)
    pm.Potential("y_marginal", -0.5 * data.n_groups * np.log(2 * np.pi)
                 + 0.5 * pt.sum(pt.log(w)) + 0.5 * log_p0
                 - sum(pt.log(dj) for dj in diag) - 0.5 * quad)


def _cholesky_forward(a, rhs, n: int) -> tuple[list, list]:
    """The diagonal of the Cholesky factor ``L`` of the small ``n x n`` matrix ``a`` and
    ``z = L^-1 rhs``, written out entry by entry (``n`` is the number of coefficients, known
    when the graph is built).  In nutpie's compiled logp this is faster per gradient than
    PyTensor's inverse-and-determinant or Cholesky-and-solve ops (``benchmarks/README.md``)."""
    low: list[list] = [[None] * n for _ in range(n)]
    z: list = [None] * n
    for j in range(n):
        low[j][j] = pt.sqrt(a[j, j] - sum(low[j][k] ** 2 for k in range(j)))
        for i in range(j + 1, n):
            low[i][j] = (a[i, j] - sum(low[i][k] * low[j][k] for k in range(j))) / low[j][j]
        z[j] = (rhs[j] - sum(low[j][k] * z[k] for k in range(j))) / low[j][j]
    return [low[j][j] for j in range(n)], z


# ----------------------------------------------------------------------------- pooling
def no_pooling_prior_sd(data: HierData, mu0: float = 0.0) -> float:
    r"""The default prior sd of the no-pooling model, ``s = 10 max(max_i |ybar_i - mu0|,
    max_i se_i)``.

    The rule makes ``theta_i ~ N(mu0, s^2)`` weak on the data's own scale: the posterior is
    ``N(mu0 + w_i (ybar_i - mu0), w_i se_i^2)`` with ``w_i = s^2 / (s^2 + se_i^2) >= 0.99``,
    so no group's estimate moves more than 1% of its distance to ``mu0`` -- it is the
    no-pooling estimate ``ybar_i`` up to 1%.  (For unknown sigma ``se_i`` is the plug-in.)
    """
    data = HierData.check(data)
    return float(10.0 * max(np.max(np.abs(data.means - mu0)), np.max(data.se)))


def pooling_model(
    data: HierData,
    pooling: Literal["complete_pooling", "no_pooling", "partial_pooling"],
    priors: Priors | None = None,
    *,
    sd: float | None = None,
    parameterization: str = "marginal",
) -> HierModel:
    r"""One of the three pooling strategies (BDA3 5.5) as a Bayesian model (sufficient statistics).

    * ``"complete_pooling"``: ``mu ~ priors' mu prior``, ``theta_i = mu`` (Deterministic),
      ``ybar_i ~ N(mu, se_i^2)``.
    * ``"no_pooling"``: ``theta_i ~ N(mu0, s^2)`` independently, ``mu0 = priors.mu_mean``,
      ``s = sd`` or :func:`no_pooling_prior_sd` by default; ``ybar_i ~ N(theta_i, se_i^2)``.
    * ``"partial_pooling"``: the hierarchical model, :func:`build_model`.

    When sigma is unknown, every model has ``sigma ~ priors' sigma prior``, ``se_i = sigma /
    sqrt(n_i)`` and the ``ss_i`` term, as the hierarchical model.  :func:`hiermodel.sampling.fit`
    samples the returned :class:`HierModel` and adds the per-group log-likelihood; its
    ``posterior.attrs`` then record ``pooling`` and, for no pooling, ``no_pooling_mu0`` and
    ``no_pooling_sd`` (used by :func:`hiermodel.loo.integrated_log_likelihood`).
    """
    data = HierData.check(data)
    priors = Priors.check(priors, data=data)
    pooling = check_method(pooling, POOLING, "pooling")
    if pooling == "partial_pooling":
        return build_model(data, parameterization, priors)
    mu0 = 0.0 if priors.mu == "flat" else priors.mu_mean
    s = no_pooling_prior_sd(data, mu0) if sd is None else check_positive_number(sd, "sd")
    with pm.Model(coords={"group": list(data.groups)}) as model:
        if pooling == "complete_pooling":
            mu = mu_prior(priors)
            theta = pm.Deterministic("theta", mu + pt.zeros(data.n_groups), dims="group")
        else:
            theta = pm.Normal("theta", mu=mu0, sigma=s, dims="group")
        _likelihood(data, priors, theta)
    spec = ModelSpec(parameterization=pooling.replace("_", "-"),
                     centering=(float("nan"),) * data.n_groups, priors=priors,
                     likelihood="sufficient", sigma_known=data.sigma_known, pooling=pooling,
                     mu0=float(mu0), sd=float(s))
    return HierModel(model=model, data=data, spec=spec)


# ----------------------------------------------------------------------------- predictive graphs
def predictive_nodes(data: HierData, theta, sigma, mu, tau, *, rows: bool,
                     se_new: float | None, n_new: int | None, mean=None) -> list[str]:
    """Add the replicated / new-group nodes (inside a model context); return their names:
    ``ss`` (sigma unknown), ``y``, ``y_rows`` (rows), and with ``mu`` and ``tau``
    ``y_mixed`` (fresh ``theta_i ~ N(mean_i, tau^2)``; ``mean`` defaults to ``mu``, with
    covariates it is ``mu + (x_i - xbar)' beta``), ``theta_new ~ N(mu, tau^2)`` (a new group
    at the average covariates) and (given ``se_new`` or ``n_new``) ``y_new``."""
    names = ["y"]
    if data.sigma_known:
        se = pt.as_tensor_variable(data.se)
    else:
        n = pt.as_tensor_variable(data.n.astype(float))
        se = sigma / pt.sqrt(n)
        ss_likelihood(sigma, n)
        names.append("ss")
    pm.Normal("y", mu=theta, sigma=se, dims="group")
    if rows:
        idx = data.rows[1]
        sd = pt.as_tensor_variable(data.sigma[idx]) if data.sigma_known else sigma
        pm.Normal("y_rows", mu=theta[idx], sigma=sd, dims="obs")
        names.append("y_rows")
    if mu is None or tau is None:
        return names
    theta_mix = pm.Normal("theta_mixed", mu=mu if mean is None else mean, sigma=tau,
                          dims="group")
    pm.Normal("y_mixed", mu=theta_mix, sigma=se, dims="group")
    theta_new = pm.Normal("theta_new", mu=mu, sigma=tau)
    names += ["y_mixed", "theta_new"]
    if se_new is not None or n_new is not None:
        if se_new is None:
            sig = float(data.sigma[0]) if data.sigma_known else sigma
            se_new = sig / np.sqrt(n_new)
        pm.Normal("y_new", mu=theta_new, sigma=se_new)
        names.append("y_new")
    return names


def _coords(data: HierData, rows: bool) -> dict[str, Any]:
    coords: dict[str, Any] = {"group": list(data.groups), **_covariate_coords(data)}
    if rows:
        coords["obs"] = np.arange(data.n_total)
    return coords


def posterior_model(data: HierData, present: set[str], *, rows: bool,
                    se_new: float | None, n_new: int | None) -> tuple[pm.Model, list[str]]:
    """Flat placeholders for the posterior's parameters (their values come from the draws,
    so their priors never matter) and the predictive nodes; ``mu`` and ``tau`` only when in
    ``present``.  Returns the model and the names of its predictive nodes."""
    with pm.Model(coords=_coords(data, rows)) as model:
        theta = pm.Flat("theta", dims="group")
        mu = pm.Flat("mu") if "mu" in present else None
        tau = pm.HalfFlat("tau") if "tau" in present else None
        sigma = None if data.sigma_known else pm.HalfFlat("sigma")
        mean = None
        if mu is not None and data.has_covariates:
            beta = pm.Flat("beta", dims="covariate")
            mean = mu + pt.dot(pt.as_tensor_variable(data.centered_covariates), beta)
        names = predictive_nodes(data, theta, sigma, mu, tau, rows=rows, se_new=se_new,
                                 n_new=n_new, mean=mean)
    return model, names


def prior_model(data: HierData, priors: Priors, *, rows: bool, se_new: float | None,
                n_new: int | None) -> tuple[pm.Model, list[str], list[str]]:
    """The hierarchical model's priors (centered: theta ~ N(mu, tau^2)) and predictive nodes.
    Returns the model, its parameters' names and its predictive nodes' names."""
    with pm.Model(coords=_coords(data, rows)) as model:
        mu = mu_prior(priors)
        tau = tau_prior(priors)
        mean = covariate_effects(data, priors, mu)
        theta = pm.Normal("theta", mu=mean, sigma=tau, dims="group")
        sigma = None if data.sigma_known else sigma_prior(data, priors)
        names = predictive_nodes(data, theta, sigma, mu, tau, rows=rows, se_new=se_new,
                                 n_new=n_new, mean=mean)
    params = (["mu", "tau", "theta"] + ([] if data.sigma_known else ["sigma"])
              + (["beta", "intercept"] if data.has_covariates else []))
    return model, params, names
