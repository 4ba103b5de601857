"""The bundled data: Eight Schools in both of its forms, three classic meta-analyses and the
Minnesota radon survey.

* :func:`eight_schools` -- Rubin (1981), as analysed in Gelman et al., *Bayesian Data
  Analysis* (3rd ed.), section 5.5: one estimated coaching effect and its standard error
  per school, rounded to integers as BDA3's table 5.2 prints them.
* :func:`eight_schools_unrounded` -- the same schools with Rubin's (1981) unrounded
  estimates and standard errors, as bayesmeta's ``Rubin1981`` data set and Roever (2020)
  use them: check against bayesmeta with this one.
* :func:`eight_schools_summary` -- an illustrative summary form of Eight Schools: a group
  mean, a hypothetical group size and a known within-group sd sigma = 15 per school (a
  teaching example for the ``(ybar_i, n_i, sigma)`` form, not Rubin's data).
* :func:`bcg_trials` -- the 13 BCG vaccine trials of Colditz et al. (1994), the classic
  meta-regression example (2x2 counts and absolute latitude).
* :func:`teacher_expectancy` -- the 19 teacher-expectancy experiments of Raudenbush (1984) and
  Raudenbush & Bryk (1985): standardized mean differences in pupil IQ.
* :func:`magnesium_trials` -- the 16 trials of intravenous magnesium after myocardial infarction
  (Egger, Davey Smith & Altman 2001, table 18.2): 2x2 counts and log odds ratios.
* :func:`stroke_units` -- the 9 comparisons of length of hospital stay under specialist stroke
  unit care and routine care (Normand 1999): group means, sds and sizes.
* :func:`radon` -- 919 houses in 85 Minnesota counties (Price, Nero & Gelman 1996; Gelman & Hill
  2007, ch. 12): log radon, floor of measurement, county log uranium.

The small tables are typed in below from metafor's datasets (the ``metadat`` package's
``data-raw`` files), each checked against metafor's printed output in ``tests/test_datasets.py``;
the radon rows ship as ``hiermodel/data_files/radon.csv.gz``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .data import HierData

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["eight_schools", "eight_schools_unrounded", "eight_schools_summary", "bcg_trials",
           "teacher_expectancy", "magnesium_trials", "stroke_units", "radon", "SCHOOLS",
           "DATASETS"]

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
    """Eight Schools in an illustrative summary form: ``n_i``, ``ybar_i``, ``sigma = 15``.

    ``n = 28, 8, 23, 20, 12, 44, 6, 11``; ``ybar = 28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0,
    12.2``.  The means are Rubin's estimates to one decimal; the group sizes and the common
    sigma are hypothetical (not Rubin's data: his schools have standard errors, not sizes),
    so ``se_i = 15 / sqrt(n_i)`` and the groups are much better measured than in
    :func:`eight_schools`.
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


_TEACHER_COLUMNS = ("study", "author", "year", "weeks", "setting", "tester", "n1i", "n2i", "yi",
                    "vi")
_TEACHER = (
    (1, "Rosenthal et al.", 1974, 2, "group", "aware", 77, 339, 0.03, 0.0156),
    (2, "Conn et al.", 1968, 21, "group", "aware", 60, 198, 0.12, 0.0216),
    (3, "Jose & Cody", 1971, 19, "group", "aware", 72, 72, -0.14, 0.0279),
    (4, "Pellegrini & Hicks", 1972, 0, "group", "aware", 11, 22, 1.18, 0.1391),
    (5, "Pellegrini & Hicks", 1972, 0, "group", "blind", 11, 22, 0.26, 0.1362),
    (6, "Evans & Rosenthal", 1969, 3, "group", "aware", 129, 348, -0.06, 0.0106),
    (7, "Fielder et al.", 1971, 17, "group", "blind", 110, 636, -0.02, 0.0106),
    (8, "Claiborn", 1969, 24, "group", "aware", 26, 99, -0.32, 0.0484),
    (9, "Kester", 1969, 0, "group", "aware", 75, 74, 0.27, 0.0269),
    (10, "Maxwell", 1970, 1, "indiv", "blind", 32, 32, 0.80, 0.0630),
    (11, "Carter", 1970, 0, "group", "blind", 22, 22, 0.54, 0.0912),
    (12, "Flowers", 1966, 0, "group", "blind", 43, 38, 0.18, 0.0497),
    (13, "Keshock", 1970, 1, "indiv", "blind", 24, 24, -0.02, 0.0835),
    (14, "Henrikson", 1970, 2, "indiv", "blind", 19, 32, 0.23, 0.0841),
    (15, "Fine", 1972, 17, "group", "aware", 80, 79, -0.18, 0.0253),
    (16, "Grieger", 1970, 5, "group", "blind", 72, 72, -0.06, 0.0279),
    (17, "Rosenthal & Jacobson", 1968, 1, "group", "aware", 65, 255, 0.30, 0.0193),
    (18, "Fleming & Anttonen", 1971, 2, "group", "blind", 233, 224, 0.07, 0.0088),
    (19, "Ginsburg", 1970, 7, "group", "aware", 65, 67, -0.07, 0.0303),
)


def teacher_expectancy() -> pd.DataFrame:
    """The 19 teacher-expectancy ("Pygmalion") experiments, one row per study.

    Sources: S. W. Raudenbush (1984), "Magnitude of teacher expectancy effects on pupil IQ as a
    function of the credibility of expectancy induction: a synthesis of findings from 18
    experiments", *Journal of Educational Psychology* 76(1), 85-97; S. W. Raudenbush & A. S.
    Bryk (1985), "Empirical Bayes meta-analysis", *Journal of Educational Statistics* 10(2),
    75-98.  The values are metafor's ``dat.raudenbush1985`` (metadat's
    ``data-raw/dat.raudenbush1985.txt``), checked against metafor's
    ``tests/testthat/test_analysis_example_raudenbush1985.r``.

    Columns: ``study`` (1-19, the unique id: studies 4 and 5 share the author label
    "Pellegrini & Hicks", 1972, and differ in ``tester``), ``author``, ``year``, ``weeks`` (weeks
    of teacher-pupil contact before the expectancy induction), ``setting`` (``"group"`` or
    ``"indiv"``: how the IQ test was given), ``tester`` (``"aware"`` or ``"blind"`` to the
    expectancy designation), ``n1i`` / ``n2i`` (pupils in the expectancy / control group),
    ``yi`` (standardized mean difference in IQ, positive when the "bloomers" scored higher; two
    decimals as published) and ``vi`` (its sampling variance, four decimals as published).
    """
    import pandas as pd

    return pd.DataFrame(list(_TEACHER), columns=list(_TEACHER_COLUMNS))


_MAGNESIUM_COLUMNS = ("trial", "study", "year", "ai", "n1i", "ci", "n2i")
_MAGNESIUM = (
    (1, "Morton", 1984, 1, 40, 2, 36),
    (2, "Rasmussen", 1986, 9, 135, 23, 135),
    (3, "Smith", 1986, 2, 200, 7, 200),
    (4, "Abraham", 1987, 1, 48, 1, 46),
    (5, "Feldstedt", 1988, 10, 150, 8, 148),
    (6, "Shechter", 1989, 1, 59, 9, 56),
    (7, "Ceremuzynski", 1989, 1, 25, 3, 23),
    (8, "Bertschat", 1989, 0, 22, 1, 21),
    (9, "Singh", 1990, 6, 76, 11, 75),
    (10, "Pereira", 1990, 1, 27, 7, 27),
    (11, "Shechter", 1991, 2, 89, 12, 80),
    (12, "Golf", 1991, 5, 23, 13, 33),
    (13, "Thogersen", 1991, 4, 130, 8, 122),
    (14, "LIMIT-2", 1992, 90, 1159, 118, 1157),
    (15, "Shechter", 1995, 4, 107, 17, 108),
    (16, "ISIS-4", 1995, 2216, 29011, 2103, 29039),
)


def magnesium_trials() -> pd.DataFrame:
    """The 16 trials of intravenous magnesium after acute myocardial infarction, one row per
    trial: the classic example of small-study effects (the small trials favour magnesium, the
    ISIS-4 mega-trial does not).

    Source: M. Egger, G. Davey Smith & D. G. Altman (eds., 2001), *Systematic Reviews in Health
    Care: Meta-Analysis in Context* (2nd ed.), table 18.2; see also M. Egger & G. Davey Smith
    (1995), "Misleading meta-analysis", *BMJ* 310, 752-754.  The counts are metafor's
    ``dat.egger2001`` (metadat's ``data-raw/dat.egger2001.txt``).

    Columns: ``trial`` (1-16, the unique id: "Shechter" labels trials 6, 11 and 15), ``study``
    (first author or trial name), ``year``, ``ai`` / ``n1i`` (deaths / patients given
    magnesium), ``ci`` / ``n2i`` (deaths / patients in the control group), and the log odds ratio
    of death ``yi`` with its sampling variance ``vi = 1/a + 1/b + 1/c + 1/d`` (``b = n1i - ai``,
    ``d = n2i - ci``); as metafor's ``escalc(measure="OR")`` does by default, 1/2 is added to
    all four cells of a trial with a zero cell (trial 8, Bertschat, has no deaths on magnesium).
    """
    import pandas as pd

    df = pd.DataFrame(list(_MAGNESIUM), columns=list(_MAGNESIUM_COLUMNS))
    cells = np.column_stack([df["ai"], df["n1i"] - df["ai"], df["ci"], df["n2i"] - df["ci"]])
    cells = cells + 0.5 * (cells == 0).any(axis=1, keepdims=True)
    a, b, c, d = cells.T
    df["yi"] = np.log(a * d / (b * c))
    df["vi"] = (1 / cells).sum(axis=1)
    return df


_STROKE_COLUMNS = ("study", "source", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")
_STROKE = (
    (1, "Edinburgh", 155, 55, 47, 156, 75, 64),
    (2, "Orpington-Mild", 31, 27, 7, 32, 29, 4),
    (3, "Orpington-Moderate", 75, 64, 17, 71, 119, 29),
    (4, "Orpington-Severe", 18, 66, 20, 18, 137, 48),
    (5, "Montreal-Home", 8, 14, 8, 13, 18, 11),
    (6, "Montreal-Transfer", 57, 19, 7, 52, 18, 4),
    (7, "Newcastle", 34, 52, 45, 33, 41, 34),
    (8, "Umea", 110, 21, 16, 183, 31, 27),
    (9, "Uppsala", 60, 30, 27, 52, 23, 20),
)


def stroke_units() -> pd.DataFrame:
    """Length of hospital stay (days) of stroke patients under specialist stroke unit care and
    under routine care: 9 comparisons, one row each.

    Source: S.-L. T. Normand (1999), "Meta-analysis: formulating, evaluating, combining, and
    reporting", *Statistics in Medicine* 18(3), 321-359, tables VIII and IX; the values are
    metafor's ``dat.normand1999`` (metadat's ``data-raw/dat.normand1999.txt``).

    Columns: ``study`` (1-9), ``source`` (trial and patient subgroup), ``n1i`` / ``m1i`` /
    ``sd1i`` (patients, mean and sd of the stay under specialist care), ``n2i`` / ``m2i`` /
    ``sd2i`` (the same under routine care), and, as in Normand's table VIII, the mean difference
    ``yi = m1i - m2i`` (days; negative = shorter stays in stroke units) with its sampling
    variance ``vi = s_p^2 (1/n1i + 1/n2i)`` from the pooled sd
    ``s_p^2 = ((n1i - 1) sd1i^2 + (n2i - 1) sd2i^2) / (n1i + n2i - 2)``.
    """
    import pandas as pd

    df = pd.DataFrame(list(_STROKE), columns=list(_STROKE_COLUMNS))
    n1, n2 = df["n1i"], df["n2i"]
    pooled = ((n1 - 1) * df["sd1i"] ** 2 + (n2 - 1) * df["sd2i"] ** 2) / (n1 + n2 - 2)
    df["yi"] = (df["m1i"] - df["m2i"]).astype(float)
    df["vi"] = pooled * (1 / n1 + 1 / n2)
    return df


def radon() -> pd.DataFrame:
    """The Minnesota radon survey as analysed by Gelman & Hill (2007): 919 houses in 85
    counties, one row per house.

    Sources: the U.S. EPA's State Residential Radon Survey (Gelman & Hill's ``srrs2.dat``,
    Minnesota rows); P. N. Price, A. V. Nero & A. Gelman (1996), "Bayesian prediction of mean
    indoor radon concentrations for Minnesota counties", *Health Physics* 71(6), 922-936;
    A. Gelman & J. Hill (2007), *Data Analysis Using Regression and Multilevel/Hierarchical
    Models*, ch. 12 (the varying-intercept models of log radon by county).  The rows are the R
    package HLMdiag's ``radon`` (its copy of Gelman & Hill's Minnesota subset, from
    http://www.stat.columbia.edu/~gelman/arm/software/), in its row order, as the Rdatasets
    collection distributes it; the columns were renamed (HLMdiag's ``basement`` is the floor
    indicator, its ``uranium`` the log uranium) and its numeric county id (the alphabetical rank
    of the name) dropped.  ``tests/test_datasets.py`` checks the rows against the summaries
    that other analyses of ``srrs2.dat`` print and against Gelman & Hill's fitted models.

    Columns:

    * ``county`` -- the county name, upper case (``"AITKIN"`` ... ``"YELLOW MEDICINE"``); 85
      counties with 1 to 116 houses each (three, MAHNOMEN, MURRAY and WILKIN, have one).
    * ``floor`` -- where the measurement was taken: 0 = basement, 1 = first floor (153 houses).
    * ``log_radon`` -- natural log of the radon activity in pCi/L (picocuries per litre);
      Gelman & Hill's rule: an activity recorded as 0 is read as 0.1 pCi/L, so the minimum is
      ``log(0.1) = -2.3026`` (4 houses).
    * ``log_uranium`` -- natural log of the county's soil uranium (ppm), one value per county.
    """
    from importlib import resources

    import pandas as pd

    with resources.files(__package__).joinpath("data_files", "radon.csv.gz").open("rb") as f:
        return pd.read_csv(f, compression="gzip", dtype={"floor": np.int64})


#: the bundled datasets by their command-line name (``hiermodel eight-schools --dataset``)
DATASETS = {"rubin": eight_schools, "summary": eight_schools_summary}
