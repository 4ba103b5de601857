"""Classical random-effects meta-analysis and meta-regression with labels: :func:`meta_analysis`
(a :class:`MetaAnalysis`: tau^2 by REML and the other estimators of metafor's ``rma``, Q,
I^2, the Q-profile interval, Knapp-Hartung, prediction intervals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import (
    MetaRegression,
    design_matrix,
    meta_regression,
    prediction_interval,
    q_profile_interval,
    r_squared,
)
from ..core.arrays import floats
from ..data import HierData, group_coord
from ..options import get_options
from ..transforms import check_transform
from .small_study import (
    EggerTest,
    RankTest,
    TrimAndFill,
    egger_test_result,
    estimates_of,
    filled_data,
    rank_test_result,
    trim_and_fill_result,
)

__all__ = ["MetaAnalysis", "meta_analysis"]


@dataclass(frozen=True, eq=False)
class MetaAnalysis:
    """The random-effects meta-analysis / meta-regression of :func:`meta_analysis`, as
    metafor's ``rma(yi, vi, mods=...)`` reports it.

    Attributes
    ----------
    coefficients : DataFrame
        One row per coefficient (``intercept``, then each covariate): ``estimate``, ``se``,
        ``z`` (``t`` with Knapp-Hartung), ``p``, ``ci_low``, ``ci_high``.
    heterogeneity : Series
        ``tau2`` with its Q-profile interval (``tau2_ci_low``, ``tau2_ci_high``; NaN for the
        equal-effects ``method="ee"``), ``tau``,
        ``QE``, ``QE_df``, ``QE_p``, ``I2`` and ``H2`` (``I2`` in percent), and with
        covariates ``R2`` (percent of the intercept-only ``tau2`` explained) and the test of
        the covariates ``QM``, ``QM_df``, ``QM_p`` (with Knapp-Hartung ``QM`` is the F
        statistic on ``(QM_df, QE_df)``).
    theta : Series
        The EB estimates of the group effects, by group.
    method, level, knha :
        How it was computed.
    fit : MetaRegression
        The core's numbers.
    data : HierData or None
        The studies it was fitted to (what the small-study tests read and
        :meth:`leave_one_out` / :meth:`influence` refit without each study); None when
        built by hand.
    """

    coefficients: pd.DataFrame
    heterogeneity: pd.Series
    theta: pd.Series
    method: str
    level: float
    knha: bool
    fit: MetaRegression
    covariate_names: tuple[str, ...]
    data: HierData | None = field(default=None, repr=False)

    def predict(self, covariates: Any = None, transform: str | None = None) -> pd.DataFrame:
        """The fitted effect for a new group and its prediction interval: columns ``pred``,
        ``se``, ``ci_low``, ``ci_high``, ``pi_low``, ``pi_high``.  ``covariates``: a DataFrame
        (or dict) with the model's covariate columns, one row per new group; None for the
        intercept-only model.

        ``transform``: a name from :data:`hiermodel.transforms.TRANSFORMS` (``"exp"`` for log
        ratios, ``"expit"`` for logit proportions, ``"tanh"`` for Fisher's z) puts ``pred`` and
        the interval ends on that scale, as metafor's ``predict(res, transf=exp)`` does: the
        transforms are increasing, so the intervals map end to end.  The ``se`` column is then
        left out (it has no counterpart on the transformed scale; call without ``transform``
        for it); ``attrs["transform"]`` and ``attrs["scale"]`` name the scale."""
        back = check_transform(transform)
        names = list(self.covariate_names)
        if covariates is None:
            if names:
                raise ValueError(f"`covariates`: give values of {names} for the new group(s).")
            x0, index = np.ones((1, 1)), pd.RangeIndex(1)
        elif not names:
            raise ValueError("`covariates`: this meta-analysis has no covariates (an "
                             "intercept-only model predicts the same effect for every new "
                             "group); call predict() without them, or fit a meta-regression "
                             "on data with those covariates (HierData.with_covariates).")
        else:
            table = pd.DataFrame(covariates)
            missing = [c for c in names if c not in table.columns]
            if missing:
                raise ValueError(f"`covariates` lacks column(s) {missing}.")
            x0 = design_matrix(len(table), floats("covariates", table[names].to_numpy()))
            index = table.index
        out = pd.DataFrame(prediction_interval(self.fit, x0, self.level), index=index,
                           columns=["pred", "se", "ci_low", "ci_high", "pi_low", "pi_high"])
        if not back.is_identity:
            out = out.drop(columns="se").apply(back)
        out.attrs.update(transform=back.name, scale=back.scale)
        return out

    def egger_test(self, model: str = "rma") -> EggerTest:
        """The regression test for funnel-plot asymmetry (Egger et al. 1997; metafor's
        ``regtest``): this model with the studies' standard errors added as a covariate.
        ``model="rma"`` (default, as metafor): the meta-regression with this fit's tau^2
        estimator and Knapp-Hartung setting; ``"lm"``: Egger's weighted regression with a
        multiplicative dispersion (t test).  Without covariates the intercept is the limit
        estimate, the effect of a study with ``se -> 0``."""
        from ..core.small_study import egger_regression

        y, v = estimates_of(self.data, "egger_test()")
        x = design_matrix(y.size, None if self.data.x is None else np.asarray(self.data.x))
        return egger_test_result(egger_regression(y, v, x, self.method, model=model,
                                                  knha=self.knha, level=self.level),
                                 self.level)

    def rank_test(self, exact: bool = True) -> RankTest:
        """Begg and Mazumdar's (1994) rank correlation test (metafor's ``ranktest``):
        Kendall's tau between the standardised effects and their sampling variances; the
        exact p-value when ``exact`` and there are no ties.  Intercept-only models."""
        from ..core.small_study import rank_correlation

        self._intercept_only("rank_test()")
        y, v = estimates_of(self.data, "rank_test()")
        return rank_test_result(rank_correlation(y, v, exact=exact))

    def trim_and_fill(self, side: str | None = None, estimator: str = "L0") -> TrimAndFill:
        """Duval and Tweedie's (2000) trim and fill (metafor's ``trimfill``): the number of
        studies missing on ``side`` (None: metafor's rule, opposite the sign of the
        regression test's slope), the filled studies and the meta-analysis with them
        (this fit's tau^2 estimator and level, z tests as metafor).  ``estimator``:
        ``"L0"`` (default), ``"R0"`` or ``"Q0"``.  Intercept-only models."""
        from ..core.small_study import trim_fill

        self._intercept_only("trim_and_fill()")
        y, v = estimates_of(self.data, "trim_and_fill()")
        core = trim_fill(y, v, self.method, side=side, estimator=estimator)
        augmented = filled_data(self.data, core) if core.k0 else self.data
        adjusted = meta_analysis(augmented, self.method, level=self.level)
        return trim_and_fill_result(core, self.data, augmented, adjusted)

    def _intercept_only(self, what: str) -> None:
        if self.covariate_names:
            raise ValueError(f"{what} is for meta-analyses without covariates (as metafor); "
                             f"this one has {list(self.covariate_names)}: fit "
                             "meta_analysis() on the data without covariates.")

    def leave_one_out(self, transform: str | None = None) -> pd.DataFrame:
        """metafor's ``leave1out``: the meta-analysis refitted without each study in turn
        (same method, Knapp-Hartung setting and level), one row per study left out (index:
        the study's label): ``estimate``, ``se``, ``z`` (``t`` with Knapp-Hartung), ``p``,
        ``ci_low``, ``ci_high``, ``Q``, ``Q_p``, ``tau2``, ``I2`` (percent) and ``H2`` of the
        other studies (:func:`hiermodel.core.influence.leave_one_out`).  A row is NaN where
        the refit fails.

        For the intercept-only model only (as metafor's): with covariates the pooled
        estimate is not one number; :meth:`influence` covers meta-regressions.
        ``transform`` (as in :meth:`predict`) puts ``estimate`` and the interval on that
        scale and drops ``se``."""
        from ..core.influence import LEAVE_ONE_OUT_COLUMNS, leave_one_out

        back = check_transform(transform)
        if self.covariate_names:
            raise ValueError(
                f"leave_one_out() is for meta-analyses without covariates (metafor's "
                f"leave1out: models without moderators); this one has "
                f"{list(self.covariate_names)}.  Use influence() for the case-deletion "
                "diagnostics of a meta-regression, or fit meta_analysis on the data without "
                "covariates.")
        y, v, _ = self._estimates()
        columns = list(LEAVE_ONE_OUT_COLUMNS)
        if self.knha:
            columns[2] = "t"
        out = pd.DataFrame(leave_one_out(y, v, None, self.method, knha=self.knha,
                                         level=self.level),
                           index=self.theta.index.copy(), columns=columns)
        return self._on_scale(out, back)

    def influence(self) -> pd.DataFrame:
        """metafor's ``influence`` (Viechtbauer & Cheung 2010): each study deleted in turn
        and the model (with its covariates, method and Knapp-Hartung setting) refitted.  One
        row per study (index: its label): ``rstudent`` (externally studentized residual),
        ``dffits``, ``cook_d`` (Cook's distance), ``cov_r`` (covariance ratio), ``tau2_del``
        and ``QE_del`` (of the fit without the study), ``hat``, ``weight`` (percent) and
        ``influential``, metafor's flag: ``|dffits| > 3 sqrt(p / (k - p))``, or Cook's
        distance above the median of chi^2_p, or ``hat > 3 p / k``, or any
        ``|dfbetas| > 1`` (:meth:`dfbetas`).  Definitions:
        :mod:`hiermodel.core.influence`."""
        inf = self._influence()
        out = pd.DataFrame(
            {"rstudent": inf.rstudent, "dffits": inf.dffits, "cook_d": inf.cook_d,
             "cov_r": inf.cov_r, "tau2_del": inf.tau2_del, "QE_del": inf.qe_del,
             "hat": inf.hat, "weight": inf.weight, "influential": inf.influential},
            index=self.theta.index.copy())
        out.attrs.update(method=self.method)
        return out

    def dfbetas(self) -> pd.DataFrame:
        """metafor's ``dfbetas``: the change in each coefficient when a study is deleted,
        in units of its standard error (one row per study, one column per coefficient)."""
        return pd.DataFrame(self._influence().dfbetas, index=self.theta.index.copy(),
                            columns=self.coefficients.index.copy())

    def cumulative(self, order: Any = None, transform: str | None = None) -> pd.DataFrame:
        """metafor's ``cumul``: the meta-analysis (same method, Knapp-Hartung setting and
        level) of the first 1, 2, ..., k studies, in the order of ``order`` (one value per
        study, e.g. publication years; ties keep the data's order; default the data's order).
        One row per study added (index: its label), columns ``k`` and those of
        :meth:`leave_one_out`; the first row is the study alone (``tau2 = 0``, ``Q = 0``).
        For meta-analyses without covariates; ``transform`` as in :meth:`leave_one_out`."""
        from ..core.influence import LEAVE_ONE_OUT_COLUMNS, cumulative

        back = check_transform(transform)
        if self.covariate_names:
            raise ValueError(f"cumulative() is for meta-analyses without covariates (as "
                             f"metafor's cumul); this one has {list(self.covariate_names)}.")
        y, v, _ = self._estimates()
        if order is None:
            idx = np.arange(y.size)
        else:
            key = np.asarray(order)
            if key.shape != y.shape:
                raise ValueError(f"`order` needs one value per study ({y.size}), got shape "
                                 f"{key.shape}.")
            idx = np.argsort(key, kind="stable")
        columns = list(LEAVE_ONE_OUT_COLUMNS)
        if self.knha:
            columns[2] = "t"
        out = pd.DataFrame(cumulative(y[idx], v[idx], self.method, knha=self.knha,
                                      level=self.level),
                           index=self.theta.index[idx], columns=columns)
        out.insert(0, "k", np.arange(1, y.size + 1))
        return self._on_scale(out, back)

    def _on_scale(self, out: pd.DataFrame, back: Any) -> pd.DataFrame:
        """A leave-one-out / cumulative table on ``back``'s scale (estimate and CI ends
        transformed, se dropped), labelled with the fit's method and level."""
        if not back.is_identity:
            out = out.drop(columns="se")
            cols = ["estimate", "ci_low", "ci_high"]
            out[cols] = out[cols].apply(back)
        out.attrs.update(method=self.method, level=self.level, transform=back.name,
                         scale=back.scale)
        return out

    def _influence(self):
        from ..core.influence import influence

        y, v, x = self._estimates()
        return influence(y, v, x, self.method, knha=self.knha)

    def _estimates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(y, v, X)`` of the fitted data."""
        y, v = estimates_of(self.data, "leave_one_out() / influence() / cumulative()")
        d = self.data
        return y, v, design_matrix(d.n_groups, None if d.x is None else np.asarray(d.x))


def meta_analysis(data: HierData, method: str = "reml", *, knha: bool = False,
                  level: float | None = None) -> MetaAnalysis:
    """Random-effects meta-analysis of ``data`` (estimates ``y_i`` with known ``se_i``), and
    meta-regression when the data carry covariates (:meth:`HierData.with_covariates`):
    ``y_i ~ N(x_i' beta, tau^2 + se_i^2)`` by empirical Bayes
    (:func:`hiermodel.core.meta_regression`; metafor's ``rma``).

    ``method``: ``"reml"`` (default), ``"ml"``, ``"dl"``, ``"pm"``, ``"he"`` (Hedges),
    ``"sj"`` (Sidik-Jonkman), ``"hs"`` (Hunter-Schmidt), or ``"ee"``: the equal-effects
    (common-effect) model, ``tau^2 = 0`` and weights ``1 / se_i^2`` (metafor's
    ``method="EE"``; ``tau2`` is reported as 0 with no Q-profile interval (NaN), ``I2`` and
    ``H2`` come from ``QE`` as metafor's, no ``R2``, and the prediction interval equals the
    confidence interval).  ``knha``: Knapp-Hartung intervals (t on ``G - p`` df; not with
    ``"ee"``).  ``level``: the confidence level of every interval (central); default the
    package's interval probability (:func:`hiermodel.get_options`, 0.95 unless set).
    """
    data = HierData.check(data, covariates=True)
    if level is None:
        level = get_options().prob
    y, v = np.asarray(data.means), np.asarray(data.se) ** 2
    x = design_matrix(data.n_groups, None if data.x is None else np.asarray(data.x))
    fit = meta_regression(y, v, x, method, knha=knha)
    names = ("intercept", *data.covariate_names)
    ci = fit.beta_interval(level)
    stat = fit.beta / fit.beta_se
    coefficients = pd.DataFrame(
        {"estimate": fit.beta, "se": fit.beta_se, "t" if knha else "z": stat,
         "p": fit.beta_p(), "ci_low": ci[:, 0], "ci_high": ci[:, 1]},
        index=pd.Index(names, name="coefficient"))
    equal_effects = fit.method == "ee"
    lo, hi = (np.nan, np.nan) if equal_effects else q_profile_interval(y, v, x, level)
    het = {"tau2": fit.tau2, "tau2_ci_low": lo, "tau2_ci_high": hi, "tau": np.sqrt(fit.tau2),
           "QE": fit.qe, "QE_df": fit.qe_df, "QE_p": fit.qe_p, "I2": 100 * fit.i2,
           "H2": fit.h2}
    if data.has_covariates:
        if not equal_effects:
            null = meta_regression(y, v, None, method)
            het["R2"] = 100 * r_squared(null.tau2, fit.tau2)
        het["QM"], het["QM_df"], het["QM_p"] = fit.moderator_test()
    return MetaAnalysis(
        coefficients=coefficients, heterogeneity=pd.Series(het, name=method),
        theta=pd.Series(fit.theta, index=pd.Index(group_coord(data.groups), name="group"),
                        name="theta_eb"),
        method=method, level=float(level), knha=bool(knha), fit=fit,
        covariate_names=tuple(data.covariate_names), data=data)
