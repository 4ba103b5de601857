"""Small-study effects: MetaAnalysis.egger_test / rank_test / trim_and_fill against metafor's
regtest, ranktest and trimfill (the printed numbers are metafor's; each is checked to the
digits it prints).  Sources:

* [pub_bias]: metafor ``tests/testthat/test_misc_pub_bias.r`` (dat.egger2001, log odds ratios
  from ``escalc(measure="OR")``, REML);
* [regtest]: metafor's ``regtest`` help page examples (dat.egger2001 without ISIS-4,
  ``subset=-16``);
* [ranktest]: metafor's ``ranktest`` help page example (dat.bcg, log risk ratios);
* [trimfill]: metafor's ``trimfill`` help page examples (dat.bcg, log risk ratios).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hiermodel import HierData, meta_analysis
from hiermodel.core.small_study import egger_regression, rank_correlation, trim_fill
from hiermodel.datasets import bcg_trials, magnesium_trials
from hiermodel.shrinkage.small_study import EggerTest, RankTest, TrimAndFill


def _magnesium(drop_isis4: bool = False) -> HierData:
    m = magnesium_trials()
    if drop_isis4:
        assert m["study"].iloc[15] == "ISIS-4"
        m = m.iloc[:15]
    return HierData.from_estimates(m["yi"], np.sqrt(m["vi"]), groups=m["trial"].tolist())


def _bcg(with_latitude: bool = False) -> HierData:
    b = bcg_trials()
    labels = (b["author"] + " " + b["year"].astype(str)).tolist()
    return HierData.from_estimates(b["yi"], np.sqrt(b["vi"]), groups=labels,
                                   covariates=b[["ablat"]] if with_latitude else None)


# ------------------------------------------------------------------------------ egger_test
def test_egger_test_equals_metafors_regtest_on_the_magnesium_trials():
    # [pub_bias]: regtest(rma(yi, vi, data=dat)) -> zval -4.6686
    res = meta_analysis(_magnesium()).egger_test()
    assert isinstance(res, EggerTest)
    assert res.statistic == pytest.approx(-4.6686, abs=5e-5)
    assert res.statistic_name == "z" and np.isnan(res.df)
    assert res.p < 1e-4 and res.model == "rma" and res.method == "reml"
    assert res.limit_ci_low < res.limit_estimate < res.limit_ci_high
    assert "z = -4.6686" in repr(res) and "Egger" in repr(res)


def test_egger_test_equals_metafors_regtest_examples_without_isis4():
    fit = meta_analysis(_magnesium(drop_isis4=True))
    # [regtest]: regtest(res): z = -2.8062, p = 0.0050, b = -0.1639 (CI: -0.5681, 0.2402)
    rma = fit.egger_test()
    assert rma.statistic == pytest.approx(-2.8062, abs=5e-5)
    assert rma.p == pytest.approx(0.0050, abs=5e-5)
    assert rma.limit_estimate == pytest.approx(-0.1639, abs=5e-5)
    assert (rma.limit_ci_low, rma.limit_ci_high) == (pytest.approx(-0.5681, abs=5e-5),
                                                     pytest.approx(0.2402, abs=5e-5))
    # [regtest]: regtest(res, model="lm"): t = -3.1783, df = 13, p = 0.0073,
    # b = -0.1512 (CI: -0.5130, 0.2106)
    lm = fit.egger_test(model="lm")
    assert lm.statistic == pytest.approx(-3.1783, abs=5e-5)
    assert lm.statistic_name == "t" and lm.df == 13
    assert lm.p == pytest.approx(0.0073, abs=5e-5)
    assert lm.limit_estimate == pytest.approx(-0.1512, abs=5e-5)
    assert (lm.limit_ci_low, lm.limit_ci_high) == (pytest.approx(-0.5130, abs=5e-5),
                                                   pytest.approx(0.2106, abs=5e-5))
    assert "df = 13" in repr(lm) and "multiplicative dispersion" in repr(lm)


def test_egger_test_follows_the_fit_knha_and_covariates():
    kh = meta_analysis(_bcg(), knha=True).egger_test()
    assert kh.statistic_name == "t" and kh.df == 11            # k - 2 (intercept, se)
    # with covariates: the se coefficient's test, no limit estimate (as metafor)
    reg = meta_analysis(_bcg(with_latitude=True)).egger_test()
    b = bcg_trials()
    x = np.column_stack([np.ones(13), b["ablat"]])
    core = egger_regression(b["yi"], b["vi"], x)
    assert reg.statistic == pytest.approx(core.statistic, rel=1e-12)
    assert np.isnan(reg.limit_estimate) and "limit estimate" not in repr(reg)


# ------------------------------------------------------------------------------- rank_test
def test_rank_test_equals_metafors_ranktest():
    # [pub_bias]: ranktest(res): tau 0.15, pval 0.4503
    res = meta_analysis(_magnesium()).rank_test()
    assert isinstance(res, RankTest)
    assert res.tau == pytest.approx(0.15, abs=5e-13)
    assert res.p == pytest.approx(0.4503, abs=5e-5)
    assert res.exact
    # [ranktest]: dat.bcg: Kendall's tau = 0.0256, p = 0.9524
    bcg = meta_analysis(_bcg()).rank_test()
    assert bcg.tau == pytest.approx(0.0256, abs=5e-5)
    assert bcg.p == pytest.approx(0.9524, abs=5e-5)
    assert "tau = 0.0256, p = 0.9524" in repr(bcg)


def test_rank_test_with_ties_uses_the_tie_corrected_normal_approximation():
    from scipy import stats

    y = np.array([0.1, 0.4, -0.2, 0.3, 0.9, 0.0])
    v = np.array([0.1, 0.1, 0.2, 0.3, 0.3, 0.05])                 # ties in v
    res = rank_correlation(y, v)
    ys = (y - np.sum(y / v) / np.sum(1 / v)) / np.sqrt(v - 1 / np.sum(1 / v))
    ref = stats.kendalltau(ys, v, method="asymptotic")          # tau-b, tie-corrected var
    assert not res.exact
    assert res.tau == pytest.approx(ref.statistic, rel=1e-12)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert rank_correlation(y[:5], v[:5] + np.arange(5) * 1e-3, exact=False).exact is False


# --------------------------------------------------------------------------- trim_and_fill
def test_trim_and_fill_equals_metafors_trimfill_equal_effects():
    # [trimfill]: trimfill(rma(yi, vi, data=dat, method="EE")): "Estimated number of
    # missing studies on the right side: 4 (SE = 2.3853)"; k = 17, Q(df = 16) = 262.7316,
    # I^2 93.91%, H^2 16.42; estimate -0.2910, se 0.0383, zval -7.6057, CI -0.3660, -0.2160
    taf = meta_analysis(_bcg(), "ee").trim_and_fill()
    assert isinstance(taf, TrimAndFill)
    assert (taf.k0, taf.side, taf.estimator) == (4, "right", "L0")
    assert taf.se_k0 == pytest.approx(2.3853, abs=5e-5)
    assert np.isnan(taf.p_k0)
    adj = taf.adjusted
    het, row = adj.heterogeneity, adj.coefficients.loc["intercept"]
    assert taf.data.n_groups == 17 and het["QE_df"] == 16
    assert het["QE"] == pytest.approx(262.7316, abs=5e-5)
    assert het["I2"] == pytest.approx(93.91, abs=5e-3)
    assert het["H2"] == pytest.approx(16.42, abs=5e-3)
    assert taf.estimate == pytest.approx(-0.2910, abs=5e-5)
    assert row["se"] == pytest.approx(0.0383, abs=5e-5)
    assert row["z"] == pytest.approx(-7.6057, abs=5e-5)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(-0.3660, abs=5e-5),
                                               pytest.approx(-0.2160, abs=5e-5))
    # [trimfill]: the filled studies 14-17 (data.frame(yi = taf$yi, vi = taf$vi, ...))
    np.testing.assert_allclose(taf.filled["yi"], [0.78929282, 0.85949921, 1.00333667,
                                                  1.03884624], atol=5e-9)
    np.testing.assert_allclose(taf.filled["vi"], [0.073024794, 0.020010032, 0.194581121,
                                                  0.223017248], atol=5e-10)
    assert list(taf.filled.index) == ["Filled 1", "Filled 2", "Filled 3", "Filled 4"]
    assert taf.filled["reflects"].iloc[1] == "Hart & Sutherland 1977"
    assert list(taf.data.groups)[-4:] == list(taf.filled.index)
    # [trimfill]: rma(yi, vi, data=filled) (the equal-random approach): tau^2 0.7164,
    # I^2 96.03%, H^2 25.19
    er = meta_analysis(taf.data).heterogeneity
    assert er["tau2"] == pytest.approx(0.7164, abs=6e-5)
    assert er["I2"] == pytest.approx(96.03, abs=5e-3)
    assert er["H2"] == pytest.approx(25.19, abs=5e-3)
    text = repr(taf)
    assert "right side: 4 (SE = 2.3853)" in text and "-0.2910" in text


def test_trim_and_fill_r0_estimator_and_its_test():
    # [trimfill]: trimfill(res, estimator="R0"): 4 (SE = 3.1623); "Test of H0: no missing
    # studies on the right side: p-val = 0.0312"; same estimate -0.2910
    taf = meta_analysis(_bcg(), "ee").trim_and_fill(estimator="R0")
    assert (taf.k0, taf.estimator) == (4, "R0")
    assert taf.se_k0 == pytest.approx(3.1623, abs=5e-5)
    # p = 0.5^(k0 + 1) = 0.03125 exactly, which R (and Python) print as 0.0312
    assert taf.p_k0 == 0.5**5 and f"{taf.p_k0:.4f}" == "0.0312"
    assert taf.estimate == pytest.approx(-0.2910, abs=5e-5)
    assert "p = 0.0312" in repr(taf)


def test_trim_and_fill_equals_metafors_trimfill_random_effects():
    # [trimfill]: trimfill(rma(yi, vi, data=dat)): "Estimated number of missing studies on
    # the right side: 1 (SE = 2.4528)"; k = 14; tau^2 0.3313, Q(df = 13) = 154.6750,
    # I^2 92.14%, H^2 12.72; estimate -0.6571, se 0.1785, zval -3.6805, CI -1.0070, -0.3072
    taf = meta_analysis(_bcg()).trim_and_fill()
    assert (taf.k0, taf.side) == (1, "right")
    assert taf.se_k0 == pytest.approx(2.4528, abs=5e-5)
    het, row = taf.adjusted.heterogeneity, taf.adjusted.coefficients.loc["intercept"]
    assert taf.data.n_groups == 14
    assert het["tau2"] == pytest.approx(0.3313, abs=6e-5)   # metafor's REML tolerance
    assert het["QE"] == pytest.approx(154.6750, abs=5e-5)
    assert het["I2"] == pytest.approx(92.14, abs=5e-3)
    assert het["H2"] == pytest.approx(12.72, abs=5e-3)
    assert taf.estimate == pytest.approx(-0.6571, abs=5e-5)
    assert row["se"] == pytest.approx(0.1785, abs=5e-5)
    # metafor's REML stops within 1e-5 of the optimum: its z sits 1e-6 off ours (-3.680551)
    assert row["z"] == pytest.approx(-3.6805, abs=6e-5)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(-1.0070, abs=5e-5),
                                               pytest.approx(-0.3072, abs=5e-5))


def test_trim_and_fill_mirrors_the_side_and_reports_no_missing_studies():
    y = bcg_trials()["yi"].to_numpy()
    v = bcg_trials()["vi"].to_numpy()
    right = trim_fill(y, v, "ee")
    left = trim_fill(-y, v, "ee")                    # the mirror image: missing on the left
    assert left.side == "left" and left.k0 == right.k0
    np.testing.assert_allclose(left.y_fill, -right.y_fill, rtol=1e-12)
    forced = meta_analysis(_bcg()).trim_and_fill(side="left")    # nothing missing there
    assert forced.side == "left" and forced.k0 == 0
    assert forced.estimate == meta_analysis(_bcg()).coefficients.loc["intercept", "estimate"]
    sym = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    se = np.array([0.3, 0.2, 0.1, 0.2, 0.3])
    near = np.array([-1.0, -0.6, 0.1, 0.7, 1.1])
    none = meta_analysis(HierData.from_estimates(near, se)).trim_and_fill()
    assert none.k0 == 0 and none.filled.empty and none.data.n_groups == 5
    assert np.isnan(none.p_k0) and "missing studies on the" in repr(none)
    with pytest.raises(ValueError, match="side"):                # no regression on a constant
        trim_fill(sym, np.full(5, 0.09))
    assert trim_fill(sym, np.full(5, 0.09), side="right").side == "right"


# ---------------------------------------------------------------------------------- errors
def test_small_study_methods_reject_bad_input_naming_the_argument():
    fit = meta_analysis(_bcg())
    with pytest.raises(ValueError, match="model"):
        fit.egger_test(model="glm")
    with pytest.raises(ValueError, match="estimator"):
        fit.trim_and_fill(estimator="L1")
    with pytest.raises(ValueError, match="side"):
        fit.trim_and_fill(side="top")
    reg = meta_analysis(_bcg(with_latitude=True))
    for method in (reg.rank_test, reg.trim_and_fill):
        with pytest.raises(ValueError, match="covariates"):
            method()
    bare = meta_analysis(_bcg())
    hand = type(bare)(**{**{f: getattr(bare, f) for f in
                            ("coefficients", "heterogeneity", "theta", "method", "level",
                             "knha", "fit", "covariate_names")}})
    with pytest.raises(ValueError, match="data"):
        hand.rank_test()
    with pytest.raises(ValueError, match="`v`"):
        egger_regression([0.1, 0.2, 0.3], [0.1, -0.1, 0.1])
    with pytest.raises(ValueError, match="`y`"):
        rank_correlation([0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="`v`"):
        trim_fill([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(TypeError, match="`exact`"):
        fit.rank_test(exact="no")
    with pytest.raises(TypeError, match="`y`"):
        rank_correlation(["a", "b", "c"], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="`y`"):
        trim_fill([0.1, np.nan, 0.3], [0.1, 0.2, 0.3])
    assert isinstance(fit.trim_and_fill().filled, pd.DataFrame)


def test_trim_and_fill_with_integer_labels():
    """Integer study labels (a CSV's trial numbers) and the filled studies' string labels:
    the augmented data labels every study by its string."""
    bcg = bcg_trials()
    data = HierData.from_estimates(bcg["yi"], np.sqrt(bcg["vi"]),
                                   groups=list(range(1, len(bcg) + 1)))
    tf = meta_analysis(data, "ee").trim_and_fill()
    assert tf.k0 == 4 and list(tf.data.groups[:2]) == ["1", "2"]
    assert list(tf.data.groups[-1:]) == ["Filled 4"]
