"""The bundled data: Eight Schools in both of its forms, and the BCG vaccine trials.

* :func:`eight_schools` -- Rubin (1981), as analysed in Gelman et al., *Bayesian Data
  Analysis* (3rd ed.), section 5.5: one estimated coaching effect and its standard error
  per school, rounded to integers as BDA3's table 5.2 prints them.
* :func:`eight_schools_unrounded` -- the same schools with Rubin's (1981) unrounded
  estimates and standard errors, as bayesmeta's ``Rubin1981`` data set and Roever (2020)
  use them: check against bayesmeta with this one.
* :func:`eight_schools_summary` -- the seed text's table 4.1: a group mean, a group size and a
  known within-group sd sigma = 15 per school (the seed text's illustrative reconstruction, not
  Rubin's data).
* :func:`bcg_trials` -- the 13 BCG vaccine trials of Colditz et al. (1994), the classic
  meta-regression example (2x2 counts and absolute latitude).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .data import HierData

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["eight_schools", "eight_schools_unrounded", "eight_schools_summary", "bcg_trials",
           "SCHOOLS", "DATASETS"]

SCHOOLS = tuple("ABCDEFGH")

_RUBIN_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
_RUBIN_SE = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

_RUBIN_UNROUNDED_Y = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
_RUBIN_UNROUNDED_SE = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])

_SUMMARY_N = np.array([28, 8, 23, 20, 12, 44, 6, 11])
_SUMMARY_MEANS = np.array([28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0, 12.2])
_SUMMARY_SIGMA = 15.0


def eight_schools() -> HierData:
    """Rubin's (1981) Eight Schools: SAT coaching effects ``y_i`` with standard errors ``se_i``.

    Source: D. B. Rubin (1981), "Estimation in parallel randomized experiments",
    *Journal of Educational Statistics* 6(4), 377-401; Gelman et al. (2013), BDA3 table 5.2.
    ``y = 28, 8, -3, 7, -1, 1, 18, 12``; ``se = 15, 10, 16, 11, 9, 11, 10, 18``; schools A-H.
    The standard errors are treated as known, so the likelihood is ``y_i ~ N(theta_i, se_i^2)``.

    These are BDA3's rounded numbers (and PyMC's, Stan's and ArviZ's ``centered_eight``).
    bayesmeta (``data("Rubin1981")``) and Roever (2020) use Rubin's unrounded table,
    :func:`eight_schools_unrounded`; the posteriors differ in the first decimal (e.g. the
    posterior mean of mu under bayesmeta's vignette priors, mu ~ N(0, 50^2) and
    tau ~ HalfCauchy(25), is 7.83 here and 7.99 there).
    """
    return HierData.from_estimates(_RUBIN_Y, _RUBIN_SE, groups=SCHOOLS)


def eight_schools_unrounded() -> HierData:
    """Rubin's (1981) Eight Schools with the unrounded estimates and standard errors.

    ``y = 28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16``;
    ``se = 14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6``; schools A-H.  Source: D. B.
    Rubin (1981), *Journal of Educational Statistics* 6(4), 377-401, as the R package
    bayesmeta ships it (``data("Rubin1981")``) and C. Roever (2020), "Bayesian random-effects
    meta-analysis using the bayesmeta R package", *Journal of Statistical Software* 93(6)
    analyses it.  Use this one to compare with bayesmeta; :func:`eight_schools` is BDA3's
    rounded table.
    """
    return HierData.from_estimates(_RUBIN_UNROUNDED_Y, _RUBIN_UNROUNDED_SE, groups=SCHOOLS)


def eight_schools_summary() -> HierData:
    """The seed text's table 4.1: ``n_i``, ``ybar_i`` and a known ``sigma = 15``.

    ``n = 28, 8, 23, 20, 12, 44, 6, 11``; ``ybar = 28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0,
    12.2``.  This is the seed text's own illustrative version of Eight Schools (group sizes and a
    common sigma instead of Rubin's standard errors), so ``se_i = 15 / sqrt(n_i)`` and the
    groups are much better measured than in :func:`eight_schools`.
    """
    return HierData.from_summary(_SUMMARY_MEANS, _SUMMARY_N, _SUMMARY_SIGMA, groups=SCHOOLS)


_BCG_COLUMNS = ("trial", "author", "year", "tpos", "tneg", "cpos", "cneg", "ablat", "alloc")
_BCG = (
    (1, "Aronson", 1948, 4, 119, 11, 128, 44, "random"),
    (2, "Ferguson & Simes", 1949, 6, 300, 29, 274, 55, "random"),
    (3, "Rosenthal et al", 1960, 3, 228, 11, 209, 42, "random"),
    (4, "Hart & Sutherland", 1977, 62, 13536, 248, 12619, 52, "random"),
    (5, "Frimodt-Moller et al", 1973, 33, 5036, 47, 5761, 13, "alternate"),
    (6, "Stein & Aronson", 1953, 180, 1361, 372, 1079, 44, "alternate"),
    (7, "Vandiviere et al", 1973, 8, 2537, 10, 619, 19, "random"),
    (8, "TPT Madras", 1980, 505, 87886, 499, 87892, 13, "random"),
    (9, "Coetzee & Berjak", 1968, 29, 7470, 45, 7232, 27, "random"),
    (10, "Rosenthal et al", 1961, 17, 1699, 65, 1600, 42, "systematic"),
    (11, "Comstock et al", 1974, 186, 50448, 141, 27197, 18, "systematic"),
    (12, "Comstock & Webster", 1969, 5, 2493, 3, 2338, 33, "systematic"),
    (13, "Comstock et al", 1976, 27, 16886, 29, 17825, 33, "systematic"),
)


def bcg_trials() -> pd.DataFrame:
    """The 13 BCG vaccine trials (Colditz et al. 1994), one row per trial.

    Source: G. A. Colditz et al. (1994), "Efficacy of BCG vaccine in the prevention of
    tuberculosis: meta-analysis of the published literature", *JAMA* 271(9), 698-702; the same
    counts as metafor's ``dat.bcg``.  Columns: ``trial``, ``author``, ``year``, the 2x2 counts
    ``tpos``/``tneg`` (vaccinated, TB positive / negative) and ``cpos``/``cneg`` (controls),
    ``ablat`` (absolute latitude of the study site, degrees), ``alloc`` (treatment
    allocation), and the log risk ratio ``yi = log[(tpos / n_t) / (cpos / n_c)]`` with its
    sampling variance ``vi = 1/tpos - 1/n_t + 1/cpos - 1/n_c`` (``n_t = tpos + tneg``,
    ``n_c = cpos + cneg``).
    """
    import pandas as pd

    df = pd.DataFrame(list(_BCG), columns=list(_BCG_COLUMNS))
    n_t, n_c = df["tpos"] + df["tneg"], df["cpos"] + df["cneg"]
    df["yi"] = np.log(df["tpos"] / n_t) - np.log(df["cpos"] / n_c)
    df["vi"] = 1 / df["tpos"] - 1 / n_t + 1 / df["cpos"] - 1 / n_c
    return df


#: the bundled datasets by their command-line name (``hiermodel eight-schools --dataset``)
DATASETS = {"rubin": eight_schools, "summary": eight_schools_summary}
