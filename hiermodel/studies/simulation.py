r"""Simulated data from the three-level normal model, and the per-replicate seeds.

The generating model (BDA3 section 5.4), for groups i = 1..G::

    theta_i | mu, tau ~ N(mu, tau^2)
    y_ij | theta_i    ~ N(theta_i, sigma^2),          j = 1..n_i
    ybar_i | theta_i  ~ N(theta_i, se_i^2),           se_i = sigma / sqrt(n_i)

:func:`simulate` draws one dataset and returns it as a :class:`HierData` (summary form or raw
rows) with its true theta; :func:`simulate_arrays` draws ``R`` datasets at once as ``(R, G)``
arrays, the input of the vectorised empirical-Bayes core.  :func:`replicate_seeds` gives
replicate ``r`` of a study its own seed, whatever the executor and the chunking.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validate import check_count, check_finite_array, check_nonneg_array, check_positive_array
from ..data import HierData
from ..datasets import eight_schools_summary
from ._checks import (
    SeedLike,
    at_least_two_groups,
    group_sizes,
    make_rng,
    per_group,
    scalar_per_group,
)

__all__ = [
    "Simulation", "SimulatedArrays", "simulate", "simulate_arrays", "replicate_seeds",
    "SUMMARY_N", "SUMMARY_SIGMA",
]

_SUMMARY = eight_schools_summary()
#: the group sizes ``n_i`` of :func:`hiermodel.datasets.eight_schools_summary`'s design
SUMMARY_N = tuple(int(v) for v in _SUMMARY.n)
#: the known within-group sd ``sigma`` of :func:`hiermodel.datasets.eight_schools_summary`'s
#: design
SUMMARY_SIGMA = float(_SUMMARY.sigma[0])
del _SUMMARY


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
    mu_ = float(check_finite_array(mu, "mu"))
    tau_ = float(check_nonneg_array(tau, "tau"))
    nn = group_sizes(n, n_groups)
    g = nn.size
    sig = per_group("sigma", check_positive_array(sigma, "sigma"), g)
    labels = [f"group_{i}" for i in range(g)] if groups is None else list(groups)
    if len(labels) != g:
        raise ValueError(f"`groups` has {len(labels)} labels but there are {g} groups.")
    rng = make_rng(seed)
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
    r = check_count(n_datasets, "n_datasets")
    if se is None:
        if sigma is None or n is None:
            raise ValueError("Pass either `se`, or both `sigma` and `n` (se = sigma/sqrt(n)).")
        nn = group_sizes(n, n_groups)
        se_ = per_group("sigma", check_positive_array(sigma, "sigma"), nn.size) / np.sqrt(nn)
    else:
        if sigma is not None or n is not None:
            raise ValueError("Pass either `se` or `sigma` and `n`, not both.")
        se_ = scalar_per_group("se", check_positive_array(se, "se"), n_groups)
        if se_.ndim not in (1, 2) or (se_.ndim == 2 and se_.shape[0] != r):
            raise ValueError(f"`se` must have shape (G,) or ({r}, G), got {se_.shape}.")
    g = at_least_two_groups(se_.shape[-1])
    mu_ = check_finite_array(mu, "mu")
    tau_ = check_nonneg_array(tau, "tau")
    for name, v in (("mu", mu_), ("tau", tau_)):
        if v.ndim > 1 or (v.ndim == 1 and v.size != r):
            raise ValueError(f"`{name}` must be a scalar or have shape ({r},), got {v.shape}.")
    mu_ = np.broadcast_to(mu_, (r,)).copy()
    tau_ = np.broadcast_to(tau_, (r,)).copy()
    rng = make_rng(seed)
    z = rng.standard_normal((r, g))
    e = rng.standard_normal((r, g))
    theta = mu_[:, None] + tau_[:, None] * z
    se_full = np.broadcast_to(se_, (r, g)).copy()
    return SimulatedArrays(theta + se_full * e, se_full, theta, mu_, tau_)


# ============================================================================ seeds
def replicate_seeds(seed: int | np.random.SeedSequence, n: int) -> np.ndarray:
    """One integer seed per replicate: ``SeedSequence(seed).spawn(n)[r].generate_state(1)``.

    Child ``r`` depends only on ``(seed, r)``, so replicate ``r`` gets the same seed whatever
    ``n``, the executor or the chunking.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key)  # fresh spawn counter
    n = check_count(n, "n", 0) if n else 0
    return np.array([int(c.generate_state(1, np.uint32)[0]) for c in ss.spawn(n)],
                    dtype=np.int64)
