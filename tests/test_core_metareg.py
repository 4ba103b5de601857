"""The meta-regression core against metafor's published BCG results and exact identities."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hiermodel.core import estimate_tau
from hiermodel.core.metareg import (
    design_matrix,
    generalized_q,
    meta_regression,
    prediction_interval,
    q_profile_interval,
    r_squared,
)
from hiermodel.datasets import bcg_trials

# metafor prints 4 decimals; its REML/ML iterations stop when tau^2 moves by < 1e-5 (its
# default `threshold`), so its printed tau^2 (and R^2, which divides by it) may sit that far
# from the converged optimum that we report
PRINTED = 0.5e-4
METAFOR_STOP = 1e-5


@pytest.fixture(scope="module")
def bcg():
    df = bcg_trials()
    return df["yi"].to_numpy(), df["vi"].to_numpy(), df["ablat"].to_numpy(float)


def test_bcg_data_are_metafors_escalc():
    df = bcg_trials()
    assert len(df) == 13 and df["tpos"].sum() == 1065 and df["cpos"].sum() == 1510
    # metafor: escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    np.testing.assert_allclose(df["yi"].round(4)[:3], [-0.8893, -1.5854, -1.3481])
    np.testing.assert_allclose(df["vi"].round(4)[:3], [0.3256, 0.1946, 0.4154])


def test_bcg_random_effects_equals_metafor(bcg):
    """rma(yi, vi, data=dat) (REML): tau^2 0.3132, estimate -0.7145 (se 0.1798),
    Q(df = 12) 152.2330, I^2 92.22%, H^2 12.86; confint: tau^2 [0.1197, 1.1115]."""
    y, v, _ = bcg
    fit = meta_regression(y, v)
    assert fit.tau2 == pytest.approx(0.3132, abs=PRINTED + METAFOR_STOP)
    assert fit.beta[0] == pytest.approx(-0.7145, abs=PRINTED)
    assert fit.beta_se[0] == pytest.approx(0.1798, abs=PRINTED)
    assert (fit.qe, fit.qe_df) == (pytest.approx(152.2330, abs=PRINTED), 12)
    assert fit.qe_p < 1e-4
    assert 100 * fit.i2 == pytest.approx(92.22, abs=0.005)
    assert fit.h2 == pytest.approx(12.86, abs=0.005)
    lo, hi = q_profile_interval(y, v)
    assert (lo, hi) == (pytest.approx(0.1197, abs=PRINTED), pytest.approx(1.1115, abs=PRINTED))
    # the same tau^2 as the intercept-only estimators of core.tau, for every method
    for method in ("reml", "ml", "dl", "pm"):
        tau = estimate_tau(y, np.sqrt(v), method)
        assert meta_regression(y, v, method=method).tau2 == pytest.approx(
            float(tau.tau) ** 2, rel=1e-8), method


def test_bcg_meta_regression_on_latitude_equals_metafor(bcg):
    """rma(yi, vi, mods = ~ ablat, data=dat) (REML): tau^2 0.0764, intercept 0.2515, slope
    -0.0291, QE(df = 11) 30.7331, I^2 68.39%, R^2 75.62%."""
    y, v, ablat = bcg
    fit = meta_regression(y, v, design_matrix(13, ablat))
    null = meta_regression(y, v)
    assert fit.tau2 == pytest.approx(0.0764, abs=PRINTED + METAFOR_STOP)
    np.testing.assert_allclose(fit.beta, [0.2515, -0.0291], atol=PRINTED)
    assert (fit.qe, fit.qe_df) == (pytest.approx(30.7331, abs=PRINTED), 11)
    assert 100 * fit.i2 == pytest.approx(68.39, abs=0.005)
    r2 = 100 * r_squared(null.tau2, fit.tau2)
    assert r2 == pytest.approx(75.62, abs=0.005 + 100 * METAFOR_STOP / null.tau2)


def test_the_estimators_solve_their_equations(bcg):
    """REML / ML: the score is zero at an interior optimum; PM: Q(tau^2) = k - p; DL: the
    moment equation on the fixed-effect Q; Q(0) = QE."""
    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    k, p = X.shape
    pm = meta_regression(y, v, X, "pm")
    assert generalized_q(y, v, X, pm.tau2) == pytest.approx(k - p, rel=1e-9)
    assert generalized_q(y, v, X, 0.0) == pytest.approx(pm.qe, rel=1e-12)

    def restricted(t2, reml):
        w = 1 / (v + t2)
        xtwx = X.T @ (w[:, None] * X)
        b = np.linalg.solve(xtwx, X.T @ (w * y))
        ll = -0.5 * np.sum(np.log(v + t2)) - 0.5 * np.sum(w * (y - X @ b) ** 2)
        return ll - 0.5 * np.linalg.slogdet(xtwx)[1] if reml else ll

    for method in ("reml", "ml"):
        t2 = meta_regression(y, v, X, method).tau2
        assert t2 > 0
        h = 1e-5 * t2
        best = restricted(t2, method == "reml")
        assert best >= restricted(t2 + h, method == "reml")
        assert best >= restricted(t2 - h, method == "reml")
    dl = meta_regression(y, v, X, "dl")
    assert dl.tau2 > 0 and dl.beta.shape == (2,)


def test_q_profile_bounds_hit_the_chi2_quantiles(bcg):
    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    lo, hi = q_profile_interval(y, v, X, level=0.9)
    assert 0 < lo < meta_regression(y, v, X).tau2 < hi
    np.testing.assert_allclose(generalized_q(y, v, X, [lo, hi]),
                               stats.chi2.ppf([0.95, 0.05], 11), rtol=1e-8)


def test_homogeneous_data_give_tau2_zero_and_a_zero_lower_bound():
    rng = np.random.default_rng(3)
    v = rng.uniform(0.5, 2.0, 40)
    y = rng.normal(1.0, np.sqrt(v)) * 0 + 1.0 + 0.01 * rng.standard_normal(40)
    for method in ("reml", "ml", "dl", "pm"):
        assert meta_regression(y, v, method=method).tau2 == 0.0
    assert q_profile_interval(y, v)[0] == 0.0


def test_knapp_hartung_and_prediction_interval(bcg):
    """Knapp-Hartung scales the covariance by sum w r^2 / (k - p) and uses t(k - p); the
    prediction interval adds tau^2 to the variance of the fitted value."""
    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    plain, kh = meta_regression(y, v, X), meta_regression(y, v, X, knha=True)
    w = 1 / (v + plain.tau2)
    s2 = np.sum(w * (y - X @ plain.beta) ** 2) / 11
    np.testing.assert_allclose(kh.beta_cov, plain.beta_cov * s2, rtol=1e-12)
    assert kh.critical(0.95) == pytest.approx(stats.t.ppf(0.975, 11))
    x0 = np.array([[1.0, 10.0], [1.0, 50.0]])
    out = prediction_interval(kh, x0)
    se = np.sqrt(np.einsum("ij,jk,ik->i", x0, kh.beta_cov, x0))
    np.testing.assert_allclose(out[:, 0], x0 @ kh.beta)
    np.testing.assert_allclose(out[:, 1], se)
    np.testing.assert_allclose(out[:, 5] - out[:, 0],
                               stats.t.ppf(0.975, 11) * np.sqrt(se**2 + kh.tau2))
    # EB estimates shrink each y_i towards its fitted value by B_i = tau^2 / (tau^2 + v_i)
    fitted = X @ plain.beta
    np.testing.assert_allclose((plain.theta - fitted) / (y - fitted),
                               plain.tau2 / (plain.tau2 + v))


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(X=np.ones((13, 1)) * [1, 2]), "rank deficient"),
    (dict(X=np.ones((5, 1))), "one row per group"),
    (dict(X=np.c_[np.ones(13), np.full(13, np.nan)]), "`X` contains NaN"),
    (dict(method="hsk"), "method"),
])
def test_bad_input_is_refused(bcg, kwargs, match):
    y, v, _ = bcg
    with pytest.raises(ValueError, match=match):
        meta_regression(y, v, **kwargs)


def test_bad_estimates_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match="`v` must be > 0"):
        meta_regression([1.0, 2.0, 3.0], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="`y` contains NaN"):
        meta_regression([1.0, np.nan, 3.0], [1.0, 1.0, 1.0])


def test_more_coefficients_than_groups_is_refused():
    with pytest.raises(ValueError, match="need more than 3 groups"):
        meta_regression([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], np.c_[np.ones(3), [1, 2, 4], [0, 1, 0]])


@pytest.mark.parametrize("scale", [0.01, 1e4])
@pytest.mark.parametrize("method", ["reml", "ml", "dl", "pm"])
def test_estimates_follow_the_scale_of_the_data(bcg, scale, method):
    """Effects near 0.01 or near 10,000: y -> c y, v -> c^2 v gives tau^2 -> c^2 tau^2,
    beta -> c beta, and the same Q, I^2 and Q-profile interval (relative to c^2)."""
    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    base, scaled = meta_regression(y, v, X, method), meta_regression(scale * y, scale**2 * v, X,
                                                                      method)
    assert scaled.tau2 == pytest.approx(scale**2 * base.tau2, rel=1e-7)
    np.testing.assert_allclose(scaled.beta, scale * base.beta, rtol=1e-7)
    assert (scaled.qe, scaled.i2) == (pytest.approx(base.qe, rel=1e-9),
                                      pytest.approx(base.i2, rel=1e-7))
    lo, hi = q_profile_interval(scale * y, scale**2 * v, X)
    np.testing.assert_allclose(np.array([lo, hi]) / scale**2, q_profile_interval(y, v, X),
                               rtol=1e-6)


def test_regression_marginal_is_the_gaussian_integral_over_beta(bcg):
    """``marginal_regression`` integrates beta ~ N(b0, P0^-1) out exactly: up to the constant
    1/2 log|P0| - k/2 log(2 pi) it is log N(y | X b0, diag(v + tau^2) + X P0^-1 X'), and with
    the intercept alone it is the intercept-only ``marginal``."""
    from hiermodel.core import marginal, marginal_regression

    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    b0, cov0 = np.array([0.5, -0.01]), np.array([[4.0, 0.01], [0.01, 0.002]])
    p0 = np.linalg.inv(cov0)
    t2 = np.array([0.0, 0.05, 0.3, 2.0])
    got = marginal_regression(t2, y, v, X, b0, p0)
    direct = [stats.multivariate_normal(X @ b0, np.diag(v + t) + X @ cov0 @ X.T).logpdf(y)
              for t in t2]
    const = 0.5 * np.linalg.slogdet(p0)[1] - 6.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(got.loglik + const, direct, rtol=1e-10)
    # beta | tau, y: the Gaussian posterior of the conjugate linear model
    for k, t in enumerate(t2):
        w = 1 / (v + t)
        a = X.T @ (w[:, None] * X) + p0
        np.testing.assert_allclose(got.beta_cov[k], np.linalg.inv(a), rtol=1e-10)
        np.testing.assert_allclose(got.beta_hat[k],
                                   np.linalg.solve(a, X.T @ (w * y) + p0 @ b0), rtol=1e-10)
    one = marginal_regression(t2, y, v, np.ones((13, 1)), np.array([0.2]), np.array([[0.5]]))
    ref = marginal(t2, y, v, 0.2, 0.5)
    np.testing.assert_allclose(one.loglik, ref.loglik, rtol=1e-12)
    np.testing.assert_allclose(one.beta_hat[:, 0], ref.mu_hat, rtol=1e-12)
    np.testing.assert_allclose(one.beta_cov[:, 0, 0], ref.mu_var, rtol=1e-12)
    # a flat prior (P0 = 0) gives the REML profile: maximised at the REML tau^2
    flat = marginal_regression(np.linspace(0.0, 0.3, 3001), y, v, X, np.zeros(2),
                               np.zeros((2, 2)))
    best = np.linspace(0.0, 0.3, 3001)[np.argmax(flat.loglik)]
    assert best == pytest.approx(meta_regression(y, v, X).tau2, abs=1e-4)


def test_regression_grid_posterior_with_the_intercept_alone_is_grid_posterior(bcg):
    from hiermodel.core import grid_posterior, regression_grid_posterior

    y, v, _ = bcg
    prior = stats.halfcauchy(scale=0.5).logpdf
    ref = grid_posterior(y, np.sqrt(v), tau_logpdf=prior, mu_mean=0.1, mu_precision=0.25)
    got = regression_grid_posterior(y, np.sqrt(v), np.ones((13, 1)), tau_logpdf=prior,
                                    beta_mean=[0.1], beta_precision=[[0.25]])
    a, b = ref.moments, got.moments
    np.testing.assert_allclose(b["beta_mean"][0], a["mu_mean"], rtol=1e-10)
    np.testing.assert_allclose(b["beta_sd"][0], a["mu_sd"], rtol=1e-10)
    for key in ("tau_mean", "tau_sd", "theta_mean", "theta_sd"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-10, err_msg=key)


def test_regression_grid_posterior_draws_match_its_moments(bcg):
    """Exact draws (independent) agree with the exact moments within 4 Monte Carlo sds, and
    the slope on latitude is clearly negative, as in every published analysis."""
    from hiermodel.core import regression_grid_posterior

    y, v, ablat = bcg
    X = design_matrix(13, ablat - ablat.mean())
    post = regression_grid_posterior(y, np.sqrt(v), X, tau_logpdf=stats.halfnorm(0, 1).logpdf,
                                     beta_mean=[0.0, 0.0], beta_precision=np.diag([0.01, 1.0]))
    beta, tau, theta = post.draw(np.random.default_rng(4), 20_000)
    m = post.moments
    for name, draws in (("beta", beta), ("tau", tau), ("theta", theta)):
        mc = m[f"{name}_sd"] / np.sqrt(draws.shape[0])
        assert np.all(np.abs(draws.mean(0) - m[f"{name}_mean"]) < 4 * mc), name
        np.testing.assert_allclose(draws.std(0), m[f"{name}_sd"], rtol=0.04, err_msg=name)
    assert m["beta_mean"][1] + 3 * m["beta_sd"][1] < 0 and post.grid.truncated_mass < 1e-12


def test_regression_grid_posterior_refuses_an_improper_posterior():
    from hiermodel.core import regression_grid_posterior

    with pytest.raises(ValueError, match="improper"):
        regression_grid_posterior([1.0, 2.0], [1.0, 1.0], np.c_[np.ones(2), [0.0, 1.0]],
                                  tau_logpdf=stats.halfnorm().logpdf, beta_mean=[0, 0],
                                  beta_precision=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="positive semi-definite"):
        regression_grid_posterior([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], np.ones((3, 1)),
                                  tau_logpdf=stats.halfnorm().logpdf, beta_mean=[0],
                                  beta_precision=[[-1.0]])


def test_moderator_test_is_the_wald_test(bcg):
    """QM = b' V^-1 b over the non-intercept coefficients: with one covariate the squared z
    (or, with Knapp-Hartung, F = t^2 on (1, k - p)); NaN without covariates."""
    from scipy import stats

    y, v, ablat = bcg
    for knha in (False, True):
        fit = meta_regression(y, v, design_matrix(13, ablat), knha=knha)
        qm, df, p = fit.moderator_test()
        z = fit.beta[1] / fit.beta_se[1]
        assert (qm, df) == (pytest.approx(z * z, rel=1e-12), 1)
        assert p == pytest.approx(fit.beta_p()[1], rel=1e-9)      # the slope's own test
        assert p == pytest.approx(stats.f.sf(qm, 1, 11) if knha else stats.chi2.sf(qm, 1),
                                  rel=1e-12)
    two = meta_regression(y, v, design_matrix(13, np.column_stack([ablat, ablat**2])))
    qm, df, p = two.moderator_test()
    b, cov = two.beta[1:], two.beta_cov[1:, 1:]
    assert df == 2 and qm == pytest.approx(b @ np.linalg.inv(cov) @ b, rel=1e-10)
    assert np.isnan(meta_regression(y, v).moderator_test()[0])


# ---------------------------------------------------------------- Hedges, SJ, HS, equal effects
def _linde2005_subset():
    """metafor's tests/testthat/test_analysis_example_viechtbauer2007b.r (Viechtbauer 2007,
    Stat. Med. 26:37-52): dat.linde2005 rows 7-10 and 13-25, escalc(measure="RR"), dosage in
    grams per week times the duration in weeks; the data as in wviechtb/metadat,
    data-raw/dat.linde2005.txt (id, baseline, duration, dosage mg/day, ai, n1i, ci, n2i)."""
    rows = np.array([
        (7, 19.5, 8, 380, 20, 25, 11, 25), (8, 12.5, 4, 900, 14, 20, 9, 20),
        (9, 22.7, 4, 900, 4, 25, 2, 25), (10, 16.5, 6, 900, 20, 32, 6, 33),
        (13, 15.8, 4, 900, 28, 50, 13, 55), (14, 23.6, 6, 240, 34, 48, 25, 49),
        (15, 20.7, 4, 900, 35, 53, 12, 54), (16, 21.1, 6, 900, 24, 49, 16, 49),
        (17, 19.4, 6, 500, 45, 80, 12, 79), (18, 22.7, 6, 1050, 67, 106, 22, 47),
        (19, 16.7, 6, 900, 34, 60, 17, 59), (20, 20.9, 6, 500, 46, 70, 34, 70),
        (21, 21.5, 6, 900, 55, 123, 57, 124), (22, 19.9, 6, 900, 23, 37, 15, 35),
        (23, 22.5, 8, 1050, 26, 98, 19, 102), (24, 22.9, 8, 1200, 46, 113, 56, 116),
        (25, 21.9, 6, 900, 98, 186, 80, 189)], dtype=float)
    _, baseline, weeks, dose, ai, n1i, ci, n2i = rows.T
    y = np.log(ai / n1i) - np.log(ci / n2i)
    v = 1 / ai - 1 / n1i + 1 / ci - 1 / n2i
    total = dose * 7 / 1000 * weeks
    X = np.column_stack([np.ones(17), total - 34, baseline - 20,
                         (total - 34) * (baseline - 20)])
    return y, v, X


def test_every_tau2_estimator_with_covariates_equals_metafor():
    """metafor's viechtbauer2007b test: rma(yi, vi, mods = ~ I(dosage-34) * I(baseline-20),
    method=...) gives tau^2 HS 0.0253, HE 0.0388, DL 0.0475, SJ 0.0912, PM 0.0633,
    ML 0.024, REML 0.0558 (and the intercept-only DL 0.0903, its page 109)."""
    y, v, X = _linde2005_subset()
    published = {"hs": 0.0253, "he": 0.0388, "dl": 0.0475, "sj": 0.0912, "pm": 0.0633,
                 "ml": 0.0240, "reml": 0.0558}
    for method, tau2 in published.items():
        assert meta_regression(y, v, X, method).tau2 == pytest.approx(
            tau2, abs=PRINTED + METAFOR_STOP), method
    assert meta_regression(y, v, None, "dl").tau2 == pytest.approx(0.0903, abs=PRINTED)


def test_hedges_sj_hs_moment_equations(bcg):
    """HE: the OLS residual sum of squares equals its expectation tr(P0 V) + (k - p) tau^2;
    SJ: tau^2 = t0 Q(t0) / (k - p); HS: (QE - k) / sum(1/v)."""
    y, v, ablat = bcg
    X = design_matrix(13, ablat)
    k, p = X.shape
    p0 = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    he = meta_regression(y, v, X, "he").tau2
    assert y @ p0 @ y == pytest.approx(np.trace(p0 @ np.diag(v)) + (k - p) * he, rel=1e-12)
    t0 = np.var(y)
    sj = meta_regression(y, v, X, "sj").tau2
    assert sj == pytest.approx(t0 * generalized_q(y, v, X, t0) / (k - p), rel=1e-12)
    hs = meta_regression(y, v, X, "hs")
    assert hs.tau2 == pytest.approx((hs.qe - k) / np.sum(1 / v), rel=1e-12)
    # intercept only: the same tau^2 as core.tau's batched estimators
    for method in ("he", "sj", "hs", "ee"):
        tau = estimate_tau(y, np.sqrt(v), method)
        assert meta_regression(y, v, method=method).tau2 == pytest.approx(
            float(tau.tau) ** 2, rel=1e-12), method


def test_equal_effects_model_equals_metafor(bcg):
    """metafor's tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r (also Stata's
    metan): rma(yi, vi, data=dat, method="EE") gives estimate -0.4303, CI [-0.5097, -0.3509],
    z -10.6247, QE 152.2330; I^2 and H^2 from QE as metafor's rma.uni defines them for EE."""
    y, v, ablat = bcg
    ee = meta_regression(y, v, method="ee")
    assert ee.tau2 == 0.0
    assert ee.beta[0] == pytest.approx(-0.4303, abs=PRINTED)
    assert ee.beta_se[0] == pytest.approx(0.0405, abs=PRINTED)
    assert ee.beta[0] / ee.beta_se[0] == pytest.approx(-10.6247, abs=PRINTED)
    np.testing.assert_allclose(ee.beta_interval()[0], [-0.5097, -0.3509], atol=PRINTED)
    assert ee.qe == pytest.approx(152.2330, abs=PRINTED)
    assert ee.i2 == pytest.approx((ee.qe - 12) / ee.qe, rel=1e-14)
    assert ee.h2 == pytest.approx(ee.qe / 12, rel=1e-14)
    np.testing.assert_allclose(ee.theta, ee.beta[0])               # complete pooling
    pi = prediction_interval(ee, [1.0])[0]
    np.testing.assert_allclose(pi[4:], pi[2:4], rtol=1e-14)          # PI = CI at tau^2 = 0
    # with a covariate: weighted least squares with weights 1/v
    X = design_matrix(13, ablat)
    ee_lat = meta_regression(y, v, X, "ee")
    w = 1 / v
    np.testing.assert_allclose(ee_lat.beta, np.linalg.solve(X.T @ (w[:, None] * X),
                                                            X.T @ (w * y)), rtol=1e-12)
    with pytest.raises(ValueError, match="knha=False"):
        meta_regression(y, v, method="ee", knha=True)
