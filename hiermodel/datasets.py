"""The Eight Schools data in both of its forms.

* :func:`eight_schools` -- Rubin (1981), as analysed in Gelman et al., *Bayesian Data
  Analysis* (3rd ed.), section 5.5: one estimated coaching effect and its standard error
  per school.
* :func:`eight_schools_summary` -- the seed text's table 4.1: a group mean, a group size and a
  known within-group sd sigma = 15 per school (the seed text's illustrative reconstruction, not
  Rubin's data).
"""

from __future__ import annotations

import numpy as np

from .data import HierData

__all__ = ["eight_schools", "eight_schools_summary", "SCHOOLS", "DATASETS"]

SCHOOLS = tuple("ABCDEFGH")

_RUBIN_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
_RUBIN_SE = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

_SUMMARY_N = np.array([28, 8, 23, 20, 12, 44, 6, 11])
_SUMMARY_MEANS = np.array([28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0, 12.2])
_SUMMARY_SIGMA = 15.0


def eight_schools() -> HierData:
    """Rubin's (1981) Eight Schools: SAT coaching effects ``y_i`` with standard errors ``se_i``.

    Source: D. B. Rubin (1981), "Estimation in parallel randomized experiments",
    *Journal of Educational Statistics* 6(4), 377-401; Gelman et al. (2013), BDA3 table 5.2.
    ``y = 28, 8, -3, 7, -1, 1, 18, 12``; ``se = 15, 10, 16, 11, 9, 11, 10, 18``; schools A-H.
    The standard errors are treated as known, so the likelihood is ``y_i ~ N(theta_i, se_i^2)``.
    """
    return HierData.from_estimates(_RUBIN_Y, _RUBIN_SE, groups=SCHOOLS)


def eight_schools_summary() -> HierData:
    """The seed text's table 4.1: ``n_i``, ``ybar_i`` and a known ``sigma = 15``.

    ``n = 28, 8, 23, 20, 12, 44, 6, 11``; ``ybar = 28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0,
    12.2``.  This is the seed text's own illustrative version of Eight Schools (group sizes and a
    common sigma instead of Rubin's standard errors), so ``se_i = 15 / sqrt(n_i)`` and the
    groups are much better measured than in :func:`eight_schools`.
    """
    return HierData.from_summary(_SUMMARY_MEANS, _SUMMARY_N, _SUMMARY_SIGMA, groups=SCHOOLS)


#: the bundled datasets by their command-line name (``hiermodel eight-schools --dataset``)
DATASETS = {"rubin": eight_schools, "summary": eight_schools_summary}
