"""Leave-one-out and case-deletion influence of a meta-analysis (metafor's ``leave1out`` and
``influence``; issue 27, part 1), checked against metafor's printed numbers on the BCG trials
(log risk ratios: metafor's ``escalc(measure="RR", ...)`` on ``dat.bcg``).

metafor stops REML when tau^2 moves less than 1e-5; ours converges further, so numbers that
move with tau^2 may sit a few units of the 4th decimal from metafor's print (tolerances below
say where)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.core.influence import LEAVE_ONE_OUT_COLUMNS, influence, leave_one_out
from hiermodel.datasets import bcg_trials


def _bcg(covariates=None):
    b = bcg_trials()
    labels = [f"trial {t}" for t in b["trial"]]
    return hm.HierData.from_estimates(b["yi"], np.sqrt(b["vi"]), groups=labels,
                                      covariates=None if covariates is None else b[covariates])


def test_bcg_columns_are_metafors_log_risk_ratios():
    """metafor's tests/testthat/test_misc_influence.r fits rma(yi, vi) to
    escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg); its trial 1 has
    yi = log((4/123) / (11/139)) (dat.bcg's counts)."""
    b = bcg_trials()
    assert b.loc[0, "yi"] == pytest.approx(np.log((4 / 123) / (11 / 139)))
    assert b.loc[0, "vi"] == pytest.approx(1 / 4 - 1 / 123 + 1 / 11 - 1 / 139)


# metafor's docs, leave1out.rma.uni example (docs/reference/leave1out.html):
# res <- rma(yi, vi, data=dat); leave1out(res), all 13 rows printed to 4 decimals:
# estimate, se, zval, pval, ci.lb, ci.ub, Q, Qp, tau2, I2, H2
LEAVE1OUT_BCG = np.array([
    [-0.7071, 0.1900, -3.7223, 0.0002, -1.0794, -0.3348, 151.5826, 0.3362, 93.2259, 14.7622],
    [-0.6540, 0.1807, -3.6195, 0.0003, -1.0082, -0.2999, 145.3176, 0.2926, 92.2540, 12.9098],
    [-0.6856, 0.1857, -3.6916, 0.0002, -1.0495, -0.3216, 150.1970, 0.3207, 92.9354, 14.1551],
    [-0.6284, 0.1766, -3.5580, 0.0004, -0.9746, -0.2822, 96.5626, 0.2628, 90.4125, 10.4302],
    [-0.7642, 0.1918, -3.9845, 0.0001, -1.1401, -0.3883, 151.3200, 0.3278, 92.7634, 13.8187],
    [-0.7109, 0.2003, -3.5499, 0.0004, -1.1034, -0.3184, 128.1867, 0.3596, 90.9118, 11.0033],
    [-0.6552, 0.1805, -3.6307, 0.0003, -1.0090, -0.3015, 145.8296, 0.2930, 92.2777, 12.9495],
    [-0.7948, 0.1799, -4.4184, 0.0000, -1.1473, -0.4422, 67.9858, 0.2732, 87.0314, 7.7109],
    [-0.7412, 0.1967, -3.7686, 0.0002, -1.1267, -0.3557, 152.2051, 0.3495, 93.2133, 14.7346],
    [-0.6530, 0.1843, -3.5439, 0.0004, -1.0142, -0.2919, 139.8271, 0.2987, 92.2322, 12.8737],
    [-0.7579, 0.1958, -3.8708, 0.0001, -1.1416, -0.3741, 151.4655, 0.3405, 91.8110, 12.2114],
    [-0.7598, 0.1821, -4.1727, 0.0000, -1.1167, -0.4029, 150.7868, 0.3082, 92.6782, 13.6579],
    [-0.7775, 0.1855, -4.1908, 0.0000, -1.1412, -0.4139, 149.7884, 0.3037, 92.3444, 13.0623],
])


def test_leave_one_out_equals_metafors_leave1out_on_bcg():
    ma = hm.meta_analysis(_bcg())
    loo = ma.leave_one_out()
    assert list(loo.columns) == list(LEAVE_ONE_OUT_COLUMNS)
    assert list(loo.index) == [f"trial {t}" for t in range(1, 14)]
    printed = loo.drop(columns="Q_p").to_numpy()
    np.testing.assert_allclose(printed, LEAVE1OUT_BCG, rtol=0, atol=5e-5)
    assert (loo["Q_p"] < 5e-5).all()          # printed 0.0000
    # metafor's tests/testthat/test_misc_influence.r, leave1out(res)[1] at full precision:
    # estimate -0.707083788031436, se 0.189961024702717, Qp 7.0778599767807e-27
    first = loo.loc["trial 1"]
    assert first["estimate"] == pytest.approx(-0.707083788031436, abs=1e-5)
    assert first["se"] == pytest.approx(0.189961024702717, abs=1e-5)
    assert first["Q_p"] == pytest.approx(7.0778599767807e-27, rel=1e-4)
    assert loo.attrs["method"] == "reml" and loo.attrs["level"] == 0.95


def test_leave_one_out_transform_and_knha():
    """metafor's docs: leave1out(res, transf=exp) prints trial 1's risk ratio 0.4931
    (0.3398, 0.7155)."""
    ma = hm.meta_analysis(_bcg())
    rr = ma.leave_one_out(transform="exp")
    assert "se" not in rr
    assert rr.loc["trial 1", ["estimate", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.4931, 0.3398, 0.7155], abs=5e-5)
    assert rr.loc["trial 1", "z"] == pytest.approx(-3.7223, abs=5e-5)
    # Knapp-Hartung: a t column and each row equal to the meta-analysis of the other 12
    kh = hm.meta_analysis(_bcg(), method="dl", knha=True, level=0.9).leave_one_out()
    assert "t" in kh and "z" not in kh
    b = bcg_trials()
    rest = hm.HierData.from_estimates(b["yi"][1:], np.sqrt(b["vi"][1:]))
    direct = hm.meta_analysis(rest, method="dl", knha=True, level=0.9)
    row = kh.iloc[0]
    coef = direct.coefficients.loc["intercept"]
    assert (row["estimate"], row["se"], row["t"], row["p"], row["ci_low"], row["ci_high"]) == \
        pytest.approx((coef["estimate"], coef["se"], coef["t"], coef["p"], coef["ci_low"],
                       coef["ci_high"]), rel=1e-12)
    assert row["tau2"] == pytest.approx(direct.heterogeneity["tau2"], rel=1e-12)


# metafor's tests/testthat/test_misc_influence.r: influence(rma(yi, vi, data=dat)), trial 1:
# rstudent -0.218142474344442, dffits -0.0407075604868486, cook.d 0.00171654236729195,
# cov.r 1.11644891104804, tau2.del 0.336156745300306, QE.del 151.582572747109,
# hat 0.0505948307931551, weight 5.05948307931551, dfbs -0.0402659025974144, not influential
INFLUENCE_BCG_1 = {"rstudent": -0.218142474344442, "dffits": -0.0407075604868486,
                   "cook_d": 0.00171654236729195, "cov_r": 1.11644891104804,
                   "tau2_del": 0.336156745300306, "QE_del": 151.582572747109,
                   "hat": 0.0505948307931551, "weight": 5.05948307931551}


def test_influence_equals_metafors_on_bcg():
    ma = hm.meta_analysis(_bcg())
    inf = ma.influence()
    assert list(inf.columns) == [*INFLUENCE_BCG_1, "influential"]
    assert list(inf.index) == [f"trial {t}" for t in range(1, 14)]
    first = inf.loc["trial 1"]
    # the 4-decimal numbers: rstudent -0.2181, dffits -0.0407, cook_d 0.00172,
    # cov_r 1.1164, tau2_del 0.3362, QE_del 151.5826, hat 0.0506, weight 5.06
    assert first["rstudent"] == pytest.approx(-0.2181, abs=5e-5)
    assert first["dffits"] == pytest.approx(-0.0407, abs=5e-5)
    assert first["cook_d"] == pytest.approx(0.00172, abs=5e-6)
    assert first["cov_r"] == pytest.approx(1.1164, abs=5e-5)
    assert first["tau2_del"] == pytest.approx(0.3362, abs=5e-5)
    assert first["QE_del"] == pytest.approx(151.5826, abs=5e-5)
    assert first["hat"] == pytest.approx(0.0506, abs=5e-5)
    assert first["weight"] == pytest.approx(5.06, abs=5e-3)
    # metafor's stored values (its REML stops at a 1e-5 change in tau^2)
    for name, value in INFLUENCE_BCG_1.items():
        assert first[name] == pytest.approx(value, rel=1e-6, abs=1e-6), name
    assert not inf["influential"].any()
    assert ma.dfbetas().loc["trial 1", "intercept"] == pytest.approx(-0.0402659025974144,
                                                                      abs=1e-6)
    assert inf["weight"].sum() == pytest.approx(100)
    # the deleted fits are the meta-analysis of the other studies
    np.testing.assert_allclose(inf["tau2_del"], ma.leave_one_out()["tau2"], rtol=1e-12)
    np.testing.assert_allclose(inf["QE_del"], ma.leave_one_out()["Q"], rtol=1e-12)


# metafor's docs, influence.rma.uni example (docs/reference/influence.rma.uni.html):
# res <- rma(yi, vi, mods = ~ ablat + year, data=dat); influence(res), printed to 4 decimals:
# rstudent, dffits, cook.d, cov.r, tau2.del, QE.del, hat, weight; trial 4 alone flagged "*"
INFLUENCE_BCG_ABLAT_YEAR = np.array([
    [0.2978, 0.1785, 0.0348, 1.8003, 0.1317, 28.3142, 0.1725, 3.3664],
    [-0.4303, -0.2368, 0.0620, 1.9207, 0.1308, 27.5744, 0.2367, 4.8106],
    [-0.5100, -0.1094, 0.0125, 1.2348, 0.1191, 27.7572, 0.0487, 2.7920],
    [-1.4032, -2.9415, 7.3179, 3.5225, 0.0906, 23.1836, 0.8082, 11.2312],
    [-0.1490, -0.0263, 0.0032, 2.6341, 0.1497, 27.2543, 0.2483, 9.0681],
    [1.0551, 0.8926, 0.7205, 1.3621, 0.0994, 21.2875, 0.4061, 12.4817],
    [-2.5961, -0.6815, 0.4173, 0.2379, 0.0544, 19.1240, 0.0766, 4.4008],
    [0.4793, 0.3703, 0.1899, 2.9984, 0.1498, 24.1266, 0.3627, 12.8020],
    [0.2027, 0.1305, 0.0237, 2.2071, 0.1501, 28.2874, 0.1030, 8.7848],
    [-0.9872, -0.3870, 0.1470, 1.0702, 0.1072, 24.7567, 0.1310, 7.9919],
    [-0.1197, -0.0030, 0.0052, 2.8336, 0.1583, 25.5103, 0.2214, 11.9238],
    [1.4677, 0.2171, 0.0469, 0.9274, 0.1059, 26.1197, 0.0235, 2.2836],
    [2.1302, 0.8150, 0.4994, 0.2178, 0.0498, 21.4920, 0.1612, 8.0630],
])
# ... and dfbetas(res): intrcpt, ablat, year
DFBETAS_BCG_ABLAT_YEAR = np.array([
    [0.1492, -0.0622, -0.1491], [-0.0949, -0.1001, 0.0963], [-0.0280, -0.0403, 0.0283],
    [2.2248, -2.5380, -2.2161], [0.0350, 0.0063, -0.0354], [0.5935, -0.0008, -0.5954],
    [-0.2659, 0.5368, 0.2591], [-0.0394, -0.2110, 0.0431], [0.0728, -0.0865, -0.0718],
    [-0.1188, -0.0973, 0.1194], [0.0631, -0.0343, -0.0631], [-0.0413, 0.0465, 0.0419],
    [-0.8276, 0.6269, 0.8279],
])


def test_influence_of_a_meta_regression_equals_metafors_printed_table():
    """All 13 rows of metafor's docs example; rows move with tau^2, which metafor stops at a
    1e-5 change, so a few entries sit up to 1.5e-4 from its print (cook_d 7.3179 and cov_r
    of trial 4, the weights): tolerance 1e-4 plus 2e-5 relative, against 5e-5 for printed
    digits alone."""
    ma = hm.meta_analysis(_bcg(["ablat", "year"]))
    inf = ma.influence()
    np.testing.assert_allclose(inf.drop(columns="influential").to_numpy(),
                               INFLUENCE_BCG_ABLAT_YEAR, rtol=2e-5, atol=1e-4)
    assert inf.index[inf["influential"]].tolist() == ["trial 4"]
    dfb = ma.dfbetas()
    assert list(dfb.columns) == ["intercept", "ablat", "year"]
    np.testing.assert_allclose(dfb.to_numpy(), DFBETAS_BCG_ABLAT_YEAR, rtol=0, atol=1e-4)
    # metafor's docs print cooks.distance(res) and hatvalues(res) to 8-9 digits
    np.testing.assert_allclose(inf["hat"][:3], [0.17250070, 0.23668273, 0.04870101],
                               rtol=0, atol=5e-5)
    np.testing.assert_allclose(inf["cook_d"][:3], [0.034763870, 0.061956371, 0.012503192],
                               rtol=0, atol=5e-5)


def test_hat_values_and_cooks_distance_with_latitude():
    """metafor's tests/testthat/test_misc_influence.r: hatvalues(res) and cooks.distance(res)
    for rma(yi, vi, mods = ~ ablat, data=dat), to 4 decimals (metafor's .tol["inf"])."""
    inf = hm.meta_analysis(_bcg(["ablat"])).influence()
    np.testing.assert_allclose(inf["hat"], [0.049, 0.1493, 0.0351, 0.3481, 0.2248, 0.2367,
                                            0.064, 0.357, 0.0926, 0.1157, 0.2309, 0.0189,
                                            0.0778], rtol=0, atol=5e-5)
    np.testing.assert_allclose(inf["cook_d"], [0.0048, 0.0489, 0.0104, 0.2495, 0.0072, 0.2883,
                                               0.3643, 0.2719, 0.02, 0.1645, 0.0009, 0.0403,
                                               0.1433], rtol=0, atol=1e-4)


def test_influence_definitions_hold_by_hand():
    """The diagnostics from their definitions, with Knapp-Hartung (t and the s^2 factor)
    and the DL estimator, on one deleted study."""
    b = bcg_trials()
    y, v = b["yi"].to_numpy(), b["vi"].to_numpy()
    X = np.column_stack([np.ones(13), b["ablat"]])
    inf = influence(y, v, X, "dl", knha=True)
    full = hm.core.meta_regression(y, v, X, "dl", knha=True)
    i, keep = 5, np.arange(13) != 5
    dele = hm.core.meta_regression(y[keep], v[keep], X[keep], "dl", knha=True)
    w_del = 1 / (v[keep] + dele.tau2)
    s2w = np.sum(w_del * (y[keep] - X[keep] @ dele.beta) ** 2) / (12 - 2)
    w = 1 / (v + full.tau2)
    hat = (X @ np.linalg.inv(X.T @ (w[:, None] * X)) @ X.T)[i, i] * w[i]
    dfb = full.beta - dele.beta
    assert inf.hat[i] == pytest.approx(hat, rel=1e-10)
    assert inf.rstudent[i] == pytest.approx(
        (y[i] - X[i] @ dele.beta) / np.sqrt(s2w * (v[i] + dele.tau2) + X[i] @ dele.beta_cov
                                            @ X[i]), rel=1e-10)
    assert inf.dffits[i] == pytest.approx(X[i] @ dfb / np.sqrt(s2w * hat * (dele.tau2 + v[i])),
                                          rel=1e-10)
    assert inf.cook_d[i] == pytest.approx(dfb @ np.linalg.solve(full.beta_cov, dfb), rel=1e-10)
    assert inf.cov_r[i] == pytest.approx(np.linalg.det(dele.beta_cov)
                                         / np.linalg.det(full.beta_cov), rel=1e-10)
    assert (inf.tau2_del[i], inf.qe_del[i]) == pytest.approx((dele.tau2, dele.qe), rel=1e-12)


def test_equal_effects_and_a_failed_deletion():
    """method='ee': tau2_del is 0; a covariate that only one study carries makes its
    deletion inestimable: that row is NaN (metafor leaves NA), flagged by its hat value of 1
    alone (metafor's NA | TRUE is TRUE), and the others not by their NaN."""
    ee = hm.meta_analysis(_bcg(), method="ee")
    inf = ee.influence()
    assert (inf["tau2_del"] == 0).all() and (ee.leave_one_out()["tau2"] == 0).all()
    b = bcg_trials()
    only_one = pd.DataFrame({"first": (b["trial"] == 1).astype(float)})
    data = hm.HierData.from_estimates(b["yi"], np.sqrt(b["vi"]), covariates=only_one)
    res = hm.meta_analysis(data).influence()
    assert res.iloc[0][["rstudent", "dffits", "cook_d", "tau2_del"]].isna().all()
    assert res.iloc[0]["hat"] == pytest.approx(1.0) and res.iloc[0]["influential"]
    assert res.iloc[1:]["rstudent"].notna().all()


def test_bad_input_names_the_argument_or_reason():
    reg = hm.meta_analysis(_bcg(["ablat"]))
    with pytest.raises(ValueError, match="without covariates.*ablat"):
        reg.leave_one_out()
    b = bcg_trials()
    y, v = b["yi"].to_numpy(), b["vi"].to_numpy()
    with pytest.raises(ValueError, match="`X`: leave-one-out is for the intercept-only"):
        leave_one_out(y, v, np.column_stack([np.ones(13), b["ablat"]]))
    with pytest.raises(ValueError, match="at least 3 studies, got 2"):
        leave_one_out(y[:2], v[:2])
    with pytest.raises(ValueError, match="`level`"):
        leave_one_out(y, v, level=1.5)
    with pytest.raises(ValueError, match="method"):
        influence(y, v, method="nope")
    with pytest.raises(ValueError, match="transform"):
        hm.meta_analysis(_bcg()).leave_one_out(transform="nope")


def test_a_meta_analysis_built_without_data_says_so():
    import dataclasses

    ma = hm.meta_analysis(_bcg())
    assert ma.data is not None and "data=" not in repr(ma)
    bare = dataclasses.replace(ma, data=None)
    with pytest.raises(ValueError, match="needs the studies the meta-analysis was fitted to"):
        bare.influence()
    assert ma.influence()["influential"].dtype == bool


# ----------------------------------------------------------------------- the Bayesian side
def test_exact_leave_one_out_is_the_exact_posterior_without_the_study():
    """ExactPosterior.leave_one_out(): row i equals exact_posterior of the other studies
    under the same (resolved) prior."""
    from hiermodel.core.influence import EXACT_LEAVE_ONE_OUT_COLUMNS

    data = _bcg()
    post = hm.exact_posterior(data)
    loo = post.leave_one_out(prob=0.9)
    assert list(loo.columns) == list(EXACT_LEAVE_ONE_OUT_COLUMNS)
    assert list(loo.index) == [f"trial {t}" for t in range(1, 14)]
    b = bcg_trials()
    for i in (0, 7):
        keep = np.arange(13) != i
        rest = hm.HierData.from_estimates(b["yi"][keep], np.sqrt(b["vi"][keep]))
        direct = hm.exact_posterior(rest, post.priors).summary(quantiles=(0.05, 0.95))
        row = loo.iloc[i]
        assert row[["mu_mean", "mu_sd", "mu_low", "mu_high"]].tolist() == pytest.approx(
            direct.loc["mu"].tolist(), rel=1e-10)
        assert row[["tau_mean", "tau_sd", "tau_low", "tau_high"]].tolist() == pytest.approx(
            direct.loc["tau"].tolist(), rel=1e-10)
    # trial 4 moves mu the most, as in metafor's leave1out (-0.7145 -> -0.6284)
    assert (loo["mu_mean"] - post.mean["mu"].item()).abs().idxmax() == "trial 4"
    freq = hm.meta_analysis(data).leave_one_out()
    assert (freq["estimate"] + 0.7145).abs().idxmax() == "trial 4"
    assert loo["mu_low"].lt(loo["mu_high"]).all()


def test_exact_leave_one_out_needs_estimates_without_covariates():
    post = hm.exact_posterior(_bcg(["ablat"]))
    with pytest.raises(ValueError, match="no covariates; this one has covariates"):
        post.leave_one_out()
    b = bcg_trials()
    with pytest.raises(ValueError, match="at least 3 studies, got 2"):
        hm.core.influence.exact_leave_one_out(b["yi"][:2], np.sqrt(b["vi"][:2]),
                                              tau_logpdf=lambda t: 0 * t)
    with pytest.raises(ValueError, match="`prob`"):
        hm.exact_posterior(_bcg()).leave_one_out(prob=2)


def test_psis_log_weights_equal_arviz():
    """The smoothing of Vehtari et al. (2024) as ArviZ 0.x implements it (az.psislw)."""
    az = pytest.importorskip("arviz")
    if not hasattr(az, "psislw"):
        pytest.skip("arviz.psislw is ArviZ 0.x's")
    from hiermodel.core.influence import psis_log_weights

    rng = np.random.default_rng(7)
    lr = np.column_stack([rng.normal(size=2000), 2 * rng.standard_t(3, size=2000),
                          rng.gamma(0.5, size=2000)])
    lw, k = psis_log_weights(lr)
    lw_az, k_az = az.psislw(lr.T.copy())
    np.testing.assert_allclose(k, k_az, rtol=1e-10)
    np.testing.assert_allclose(lw, lw_az.T, rtol=0, atol=1e-10)


def test_psis_leave_one_out_from_exact_draws_equals_the_exact_one():
    """PSIS on 4000 exact posterior draws, with the integrated likelihood
    N(y_i | mu, tau^2 + se_i^2): each study's leave-one-out mean of mu and tau within 4
    Monte Carlo standard errors (sd / sqrt of the weights' effective sample size) of the
    grid posterior without the study, and every Pareto k below 0.7."""
    from scipy import stats

    from hiermodel.core.influence import psis_leave_one_out, psis_log_weights

    post = hm.exact_posterior(_bcg())
    exact = post.leave_one_out()
    mu, tau, _ = post.core.draw(np.random.default_rng(3), 4000)
    b = bcg_trials()
    ll = stats.norm.logpdf(b["yi"].to_numpy(), mu[:, None],
                           np.sqrt(tau[:, None] ** 2 + b["vi"].to_numpy()))
    psis = psis_leave_one_out(mu, tau, ll)
    assert (psis[:, -1] < 0.7).all()
    lw, _ = psis_log_weights(-ll)
    ess = 1 / np.sum(np.exp(lw) ** 2, axis=0)
    for col, name in ((0, "mu"), (4, "tau")):
        mcse = exact[f"{name}_sd"].to_numpy() / np.sqrt(ess)
        assert (np.abs(psis[:, col] - exact[f"{name}_mean"].to_numpy()) < 4 * mcse).all()
    np.testing.assert_allclose(psis[:, [1, 5]], exact[["mu_sd", "tau_sd"]], rtol=0.1)
    with pytest.raises(ValueError, match="`loglik`"):
        psis_leave_one_out(mu, tau, ll[:10])


def test_psis_leave_one_out_of_a_nuts_fit_matches_the_exact_one():
    """The issue's check: NUTS (2 x 2000 draws) + PSIS, each study's leave-one-out mean of mu
    and tau within 4 Monte Carlo standard errors of the exact grid posterior without it
    (MCSE from the chains' ESS scaled by the importance weights' relative ESS)."""
    import warnings

    from hiermodel import stack
    from hiermodel.core.influence import psis_log_weights
    from hiermodel.influence import psis_leave_one_out
    from hiermodel.loo import integrated_log_likelihood

    data = _bcg()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = hm.fit(data, seed=11, draws=2000, tune=1000, chains=2)
    table = psis_leave_one_out(idata)
    exact = hm.exact_posterior(data).leave_one_out()
    assert list(table.index) == list(exact.index)
    assert table["k_ok"].all() and table.attrs["k_threshold"] == 0.7   # ArviZ's cap
    ll = integrated_log_likelihood(idata).values.reshape(4000, -1)
    lw, _ = psis_log_weights(-ll)
    relative = 1 / np.sum(np.exp(lw) ** 2, axis=0) / 4000
    post = stack.group(idata, "posterior")
    for name in ("mu", "tau"):
        ess = stack.ess_array(post[name].values) * relative
        mcse = exact[f"{name}_sd"].to_numpy() / np.sqrt(ess)
        err = np.abs(table[f"{name}_mean"].to_numpy() - exact[f"{name}_mean"].to_numpy())
        assert (err < 4 * mcse).all(), (name, err / mcse)


# metafor's docs, cumul.rma.uni example (docs/reference/cumul.html): res <- rma(yi, vi,
# data=dat, digits=3); cumul(res, order=year), to 3 decimals: author, year, then estimate, se,
# zval, pval, ci.lb, ci.ub, Q, Qp, tau2, I2, H2
CUMUL_BCG = [
    ("Aronson", 1948, -0.889, 0.571, -1.559, 0.119, -2.008, 0.229, 0.000, 1.000, 0.000, 0.000,
     1.000),
    ("Ferguson & Simes", 1949, -1.325, 0.349, -3.797, 0.000, -2.009, -0.641, 0.931, 0.334, 0.000,
     0.000, 1.000),
    ("Stein & Aronson", 1953, -0.972, 0.245, -3.960, 0.000, -1.453, -0.491, 3.188, 0.203, 0.087,
     40.709, 1.687),
    ("Rosenthal et al", 1960, -1.001, 0.222, -4.504, 0.000, -1.437, -0.565, 3.861, 0.277, 0.076,
     33.975, 1.515),
    ("Rosenthal et al", 1961, -1.101, 0.200, -5.516, 0.000, -1.493, -0.710, 7.642, 0.106, 0.086,
     48.412, 1.938),
    ("Coetzee & Berjak", 1968, -0.973, 0.188, -5.188, 0.000, -1.341, -0.606, 10.185, 0.070,
     0.105, 60.001, 2.500),
    ("Comstock & Webster", 1969, -0.901, 0.191, -4.725, 0.000, -1.275, -0.527, 13.212, 0.040,
     0.120, 59.998, 2.500),
    ("Frimodt-Moller et al", 1973, -0.789, 0.197, -4.004, 0.000, -1.175, -0.403, 19.575, 0.007,
     0.178, 72.390, 3.622),
    ("Vandiviere et al", 1973, -0.866, 0.196, -4.411, 0.000, -1.250, -0.481, 22.821, 0.004,
     0.202, 73.506, 3.775),
    ("Comstock et al", 1974, -0.785, 0.180, -4.359, 0.000, -1.138, -0.432, 34.120, 0.000, 0.201,
     81.403, 5.377),
    ("Comstock et al", 1976, -0.708, 0.178, -3.970, 0.000, -1.058, -0.359, 39.612, 0.000, 0.228,
     83.011, 5.886),
    ("Hart & Sutherland", 1977, -0.795, 0.180, -4.418, 0.000, -1.147, -0.442, 67.986, 0.000,
     0.273, 87.031, 7.711),
    ("TPT Madras", 1980, -0.715, 0.180, -3.974, 0.000, -1.067, -0.362, 152.233, 0.000, 0.313,
     92.221, 12.856),
]


def test_cumulative_equals_metafors_cumul_by_year():
    """All 13 rows; I2 within 1.5e-3 (metafor's REML stops at a 1e-5 change in tau^2, which
    moves its 3rd decimal of I2 by one in rows 4 and 5), the rest within the printed 5e-4."""
    b = bcg_trials()
    ma = hm.meta_analysis(_bcg())
    cum = ma.cumulative(order=b["year"])
    assert cum["k"].tolist() == list(range(1, 14))
    # dat.bcg's trials in the printed order (Aronson 1948 is trial 1, ..., TPT Madras trial 8)
    assert cum.index.tolist() == [f"trial {t}" for t in (1, 2, 6, 3, 10, 9, 12, 5, 7, 11, 13,
                                                         4, 8)]
    year = dict(zip([f"trial {t}" for t in b["trial"]], b["year"], strict=True))
    assert [year[g] for g in cum.index] == [row[1] for row in CUMUL_BCG]
    printed = np.array([row[2:] for row in CUMUL_BCG])
    got = cum[["estimate", "se", "z", "p", "ci_low", "ci_high", "Q", "Q_p", "tau2", "I2",
               "H2"]].to_numpy()
    i2 = 9
    np.testing.assert_allclose(np.delete(got, i2, axis=1), np.delete(printed, i2, axis=1),
                               rtol=0, atol=5e-4)
    np.testing.assert_allclose(got[:, i2], printed[:, i2], rtol=0, atol=1.5e-3)
    # the last row is the full meta-analysis; the default order is the data's
    assert cum.iloc[-1]["tau2"] == pytest.approx(ma.heterogeneity["tau2"], rel=1e-12)
    assert list(ma.cumulative().index) == list(ma.theta.index)
    rr = ma.cumulative(order=b["year"], transform="exp")
    assert rr.iloc[0][["estimate", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [0.411, 0.134, 1.257], abs=5e-4)     # cumul(res, order=year, transf=exp), row 1
    with pytest.raises(ValueError, match="`order` needs one value per study"):
        ma.cumulative(order=[1, 2])
    with pytest.raises(ValueError, match="without covariates"):
        hm.meta_analysis(_bcg(["ablat"])).cumulative()


def test_exact_cumulative_is_the_exact_posterior_of_the_first_studies():
    b = bcg_trials()
    data = _bcg()
    post = hm.exact_posterior(data)
    cum = post.cumulative(order=b["year"], prob=0.9)
    assert cum["k"].tolist() == list(range(1, 14))
    assert cum.index.tolist() == hm.meta_analysis(data).cumulative(order=b["year"]).index.tolist()
    first5 = np.argsort(b["year"].to_numpy(), kind="stable")[:5]
    part = hm.HierData.from_estimates(b["yi"].to_numpy()[first5],
                                      np.sqrt(b["vi"].to_numpy()[first5]))
    direct = hm.exact_posterior(part, post.priors).summary(quantiles=(0.05, 0.95))
    row = cum.iloc[4]
    assert row[["mu_mean", "mu_sd", "mu_low", "mu_high"]].tolist() == pytest.approx(
        direct.loc["mu"].tolist(), rel=1e-10)
    assert row[["tau_mean", "tau_sd", "tau_low", "tau_high"]].tolist() == pytest.approx(
        direct.loc["tau"].tolist(), rel=1e-10)
    full = post.summary(quantiles=(0.05, 0.95))
    assert cum.iloc[-1][["mu_mean", "mu_low", "mu_high"]].tolist() == pytest.approx(
        full.loc["mu", ["mean", "q5%", "q95%"]].tolist(), rel=1e-10)
    flat = hm.exact_posterior(data, hm.Priors(mu="flat")).cumulative()
    assert flat.iloc[0].drop("k").isna().all() and flat.iloc[1:].notna().all().all()
    with pytest.raises(ValueError, match="`order` needs one value per study"):
        post.cumulative(order=[1])
