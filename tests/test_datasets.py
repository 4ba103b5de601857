"""The bundled real data against their published sources.

The meta-analyses go through ``hm.meta_analysis`` and must print what metafor prints; metafor
shows 4 decimals, and its REML iterations stop when tau^2 moves by < 1e-5 (its default
``threshold``), so numbers that hang on tau^2 get that much more room (as in
tests/test_core_metareg.py).  Where each published number comes from is said next to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import hiermodel as hm
from hiermodel.datasets import magnesium_trials, radon, stroke_units, teacher_expectancy

PRINTED = 0.5e-4          # half a unit of metafor's 4th decimal
METAFOR_STOP = 1e-5       # metafor's REML convergence threshold on tau^2
PAPER = 0.005             # half a unit of a 2-decimal published number


def _estimates(df: pd.DataFrame, label: str, covariates: list[str] = ()) -> hm.HierData:
    data = hm.HierData.from_estimates(df["yi"], np.sqrt(df["vi"]), groups=df[label].tolist())
    return data.with_covariates(df.set_index(label)[covariates]) if covariates else data


def _at_tau2(df: pd.DataFrame, tau2: float, covariates: list[str] = ()):
    """Closed forms at a fixed tau^2 (weighted least squares, Morris 1983; BDA3 eq. 5.17 with
    the mean at its estimate): the coefficients' z statistics and the EB estimates."""
    y, v = df["yi"].to_numpy(), df["vi"].to_numpy()
    X = np.column_stack([np.ones_like(y), *(df[c].to_numpy(float) for c in covariates)])
    w = 1 / (v + tau2)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * y)
    return beta / np.sqrt(np.diag(cov)), X @ beta + tau2 / (tau2 + v) * (y - X @ beta)


def _moved(df: pd.DataFrame, tau2: float, covariates: list[str] = ()):
    """How far the z statistics and EB estimates move when tau^2 moves by METAFOR_STOP
    (toward the interior): the extra room for metafor's printed values."""
    (z0, theta0), (z1, theta1) = (_at_tau2(df, t, covariates)
                                  for t in (tau2, tau2 + METAFOR_STOP))
    return np.abs(z1 - z0).max(), np.abs(theta1 - theta0).max()


# ------------------------------------------------------------------ teacher expectancy
def test_teacher_expectancy_table():
    df = teacher_expectancy()
    assert df.shape == (19, 10) and df["study"].is_unique
    # the two Pellegrini & Hicks (1972) studies share an author label, not an id
    ph = df[df["author"] == "Pellegrini & Hicks"]
    assert list(ph["study"]) == [4, 5] and list(ph["tester"]) == ["aware", "blind"]


def test_teacher_expectancy_random_effects_equals_metafor():
    """metafor tests/testthat/test_analysis_example_raudenbush1985.r (Raudenbush & Bryk 1985,
    pp. 83-86): rma(yi, vi) (REML): tau^2 0.0188, estimate 0.0837, QE 35.8295 (df 18; 35.85 in
    the paper), z 1.6208; blup(res)$pred as listed below."""
    df = teacher_expectancy()
    ma = hm.meta_analysis(_estimates(df, "study"))
    het, coef = ma.heterogeneity, ma.coefficients.loc["intercept"]
    assert het["tau2"] == pytest.approx(0.0188, abs=PRINTED + METAFOR_STOP)
    assert coef["estimate"] == pytest.approx(0.0837, abs=PRINTED)
    assert coef["z"] == pytest.approx(1.6208, abs=PRINTED)
    assert (het["QE"], het["QE_df"]) == (pytest.approx(35.8295, abs=PRINTED), 18)
    blup = [0.0543, 0.1006, -0.0064, 0.2144, 0.1051, -0.0082, 0.0174, -0.0293, 0.1604, 0.2485,
            0.1618, 0.1102, 0.0646, 0.1105, -0.0288, 0.0258, 0.1905, 0.0744, 0.0248]
    # metafor's tau^2 may sit METAFOR_STOP from ours: allow what that moves the BLUPs by
    _, moved = _moved(df, het["tau2"])
    assert moved < 1e-4                           # the extra room stays below 2 printed units
    np.testing.assert_allclose(ma.theta.to_numpy(), blup, rtol=0, atol=PRINTED + moved)


def test_teacher_expectancy_weeks_meta_regression_equals_metafor():
    """The same test file: weeks.c = min(weeks, 3); rma(yi, vi, mods = ~ weeks.c) (REML):
    tau^2 0, coefficients 0.4072 and -0.1572, QE 16.5708 (df 17; 16.58 in the paper),
    z 4.6782 and -4.3884; with tau^2 = 0 the EB estimates are the fitted values,
    predict(res)$pred as listed below.  At tau^2 = 0 exactly the z are 4.67825 and -4.38848:
    metafor stopped a little inside the boundary (tau^2 of order 1e-6), so the z get the room
    that a METAFOR_STOP move of tau^2 makes."""
    df = teacher_expectancy().assign(weeks_c=lambda d: np.minimum(d["weeks"], 3))
    ma = hm.meta_analysis(_estimates(df, "study", ["weeks_c"]))
    het, coef = ma.heterogeneity, ma.coefficients
    assert het["tau2"] == pytest.approx(0.0, abs=PRINTED + METAFOR_STOP)
    np.testing.assert_allclose(coef["estimate"], [0.4072, -0.1572], rtol=0, atol=PRINTED)
    z_moved, _ = _moved(df, 0.0, ["weeks_c"])
    assert z_moved < 1e-3
    np.testing.assert_allclose(coef["z"], [4.6782, -4.3884], rtol=0, atol=PRINTED + z_moved)
    assert (het["QE"], het["QE_df"]) == (pytest.approx(16.5708, abs=PRINTED), 17)
    fitted = {0: 0.4072, 1: 0.2499, 2: 0.0927, 3: -0.0645}
    np.testing.assert_allclose(ma.theta.to_numpy(), df["weeks_c"].map(fitted),
                               rtol=0, atol=PRINTED)


# ------------------------------------------------------------------ magnesium trials
def test_magnesium_log_odds_ratios_equal_metafors_escalc():
    """metafor's regtest reference page (docs/reference/regtest.html in wviechtb/metafor):
    escalc(measure="OR", ai, n1i, ci, n2i, data=dat.egger2001, subset=-16) prints these yi and
    attr(yi, "ni"); trial 8's zero cell gets 1/2 added to all four cells."""
    df = magnesium_trials()
    assert df.shape == (16, 9) and df["trial"].is_unique
    assert df.loc[df["trial"] == 16, ["ai", "n1i", "ci", "n2i"]].values.tolist() == [
        [2216, 29011, 2103, 29039]]
    without_isis = df[df["trial"] != 16]
    printed = [-0.83034830, -1.05605267, -1.27833981, -0.04348511, 0.22314355, -2.40751999,
               -1.28093385, -1.19170271, -0.69574796, -2.20827441, -2.03815988, -0.85015093,
               -0.79323064, -0.29933987, -1.57078846]
    np.testing.assert_allclose(without_isis["yi"], printed, rtol=0, atol=0.5e-8)
    assert (without_isis["n1i"] + without_isis["n2i"]).tolist() == [
        76, 270, 400, 94, 298, 115, 48, 43, 151, 54, 169, 56, 252, 2316, 215]


def test_magnesium_random_effects_without_isis4_equals_metafor():
    """The same page: rma(yi, vi) on the 15 trials without ISIS-4 (REML) prints tau^2 0.1911,
    tau 0.4371, I^2 38.19%, H^2 1.62, Q(df = 14) 20.9184 (p 0.1037), estimate -0.8745
    (se 0.2080, z -4.2049), 95% CI [-1.2822, -0.4669]."""
    df = magnesium_trials()
    ma = hm.meta_analysis(_estimates(df[df["trial"] != 16], "trial"))
    het, coef = ma.heterogeneity, ma.coefficients.loc["intercept"]
    assert het["tau2"] == pytest.approx(0.1911, abs=PRINTED + METAFOR_STOP)
    # tau = sqrt(tau^2): d tau = d tau^2 / (2 tau)
    assert het["tau"] == pytest.approx(0.4371, abs=PRINTED + METAFOR_STOP / (2 * 0.4371))
    assert het["I2"] == pytest.approx(38.19, abs=0.005 + 100 * METAFOR_STOP / het["tau2"])
    assert het["H2"] == pytest.approx(1.62, abs=0.005)
    assert (het["QE"], het["QE_df"]) == (pytest.approx(20.9184, abs=PRINTED), 14)
    assert het["QE_p"] == pytest.approx(0.1037, abs=PRINTED)
    assert coef["estimate"] == pytest.approx(-0.8745, abs=PRINTED)
    assert coef["se"] == pytest.approx(0.2080, abs=PRINTED)
    assert coef["z"] == pytest.approx(-4.2049, abs=PRINTED)
    assert (coef["ci_low"], coef["ci_high"]) == (pytest.approx(-1.2822, abs=PRINTED),
                                                 pytest.approx(-0.4669, abs=PRINTED))


# ------------------------------------------------------------------ stroke units
def test_stroke_units_equal_normands_tables():
    """Normand (1999), as metafor tests/testthat/test_analysis_example_normand1999.r checks it
    (2 decimals): table VIII mean differences and variances (pooled sd); table IX: fixed effect
    -3.49 [-5.03, -1.96]; DL -14.10 [-24.45, -3.75], tau^2 218.72; REML -15.12 [-32.67, 2.43],
    tau^2 685.20."""
    df = stroke_units()
    assert df.shape == (9, 10)
    np.testing.assert_array_equal(df["yi"], [-20, -2, -55, -71, -4, 1, 11, -10, 7])
    np.testing.assert_allclose(df["vi"], [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03,
                                          20.69], rtol=0, atol=PAPER)
    w = 1 / df["vi"]
    fixed, fixed_se = np.sum(w * df["yi"]) / np.sum(w), np.sum(w) ** -0.5
    np.testing.assert_allclose([fixed, fixed - 1.959964 * fixed_se, fixed + 1.959964 * fixed_se],
                               [-3.49, -5.03, -1.96], rtol=0, atol=PAPER)
    data = _estimates(df, "source")
    for method, (est, lo, hi, tau2) in {"dl": (-14.10, -24.45, -3.75, 218.72),
                                        "reml": (-15.12, -32.67, 2.43, 685.20)}.items():
        ma = hm.meta_analysis(data, method)
        coef = ma.coefficients.loc["intercept"]
        np.testing.assert_allclose([coef["estimate"], coef["ci_low"], coef["ci_high"],
                                    ma.heterogeneity["tau2"]], [est, lo, hi, tau2],
                                   rtol=0, atol=PAPER, err_msg=method)


# ------------------------------------------------------------------ radon
@pytest.fixture(scope="module")
def houses():
    return radon()


def test_radon_is_the_minnesota_subset(houses):
    """919 houses in 85 counties (Gelman & Hill 2007, ch. 12); the counts and the log-radon
    summary that the Stan case study "Multilevel regression modeling with CmdStanPy and
    plotnine" prints for its mn_radon.csv built from srrs2.dat / cty.dat
    (https://mc-stan.org/learn-stan/case-studies/radon_cmdstanpy_plotnine.html): mean 1.22,
    std 0.85, min -2.30, quartiles 0.64 / 1.28 / 1.79, max 3.88; floor 1 for 17% of houses;
    counties with a basement reading 85, with a first-floor reading 60; its first rows."""
    df = houses
    assert list(df.columns) == ["county", "floor", "log_radon", "log_uranium"]
    assert len(df) == 919 and df["county"].nunique() == 85
    assert set(df["floor"]) == {0, 1} and int(df["floor"].sum()) == 153
    assert round(100 * df["floor"].mean()) == 17
    assert df.loc[df["floor"] == 0, "county"].nunique() == 85
    assert df.loc[df["floor"] == 1, "county"].nunique() == 60
    summary = df["log_radon"].describe()
    np.testing.assert_allclose(summary[["mean", "std", "min", "25%", "50%", "75%", "max"]],
                               [1.22, 0.85, -2.30, 0.64, 1.28, 1.79, 3.88], rtol=0, atol=PAPER)
    np.testing.assert_allclose(df[["floor", "log_radon", "log_uranium"]].iloc[:5],
                               [[1, 0.788457, -0.689048], [0, 0.788457, -0.689048],
                                [0, 1.064711, -0.689048], [0, 0.0, -0.689048],
                                [0, 1.131402, -0.847313]], rtol=0, atol=0.5e-6)
    assert list(df["county"].iloc[[0, 4, -1]]) == ["AITKIN", "ANOKA", "YELLOW MEDICINE"]
    # uranium is a county-level measurement: one value per county
    assert (df.groupby("county")["log_uranium"].nunique() == 1).all()
    sizes = df.groupby("county").size()
    assert sizes.max() == 116 and sorted(sizes.index[sizes == 1]) == ["MAHNOMEN", "MURRAY",
                                                                        "WILKIN"]


def test_radon_reads_zero_activity_as_a_tenth(houses):
    """Gelman & Hill's y = log(ifelse(radon == 0, .1, radon)): activities are recorded to 0.1
    pCi/L, so exp(log_radon) sits on that grid and never below 0.1; the 4 houses at the floor
    are at log(0.1) = -2.3026."""
    activity = np.exp(houses["log_radon"].to_numpy())
    np.testing.assert_allclose(activity, np.round(activity, 1), rtol=1e-12)
    assert activity.min() == pytest.approx(0.1, rel=1e-12)
    assert np.isclose(houses["log_radon"], np.log(0.1), rtol=1e-12).sum() == 4
    assert houses["log_radon"].min() == pytest.approx(-2.3026, abs=PRINTED)


def _one_way_reml(y: np.ndarray, groups: np.ndarray, X: np.ndarray):
    """REML of y = X b + a_county + e, a ~ N(0, tau^2), e ~ N(0, sigma^2): the restricted
    log-likelihood written per county (V_j = sigma^2 I + tau^2 11'), maximised over
    (log sigma, log tau); returns (b, tau, sigma)."""
    codes = pd.factorize(groups)[0]
    n = np.bincount(codes).astype(float)
    sum_x = np.stack([np.bincount(codes, weights=col) for col in X.T], axis=1)   # (J, p)
    sum_y = np.bincount(codes, weights=y)
    xtx, xty, yty = X.T @ X, X.T @ y, y @ y

    def solve(log_sd):
        s2, t2 = np.exp(2 * log_sd)
        c = t2 / (s2 + n * t2)                       # V_j^-1 = (I - c_j 11') / sigma^2
        a = (xtx - (sum_x * c[:, None]).T @ sum_x) / s2
        r = (xty - (sum_x * (c * sum_y)[:, None]).sum(axis=0)) / s2
        b = np.linalg.solve(a, r)
        quad = (yty - np.sum(c * sum_y**2)) / s2 - r @ b
        logdet = np.sum((n - 1) * np.log(s2) + np.log(s2 + n * t2))
        return b, 0.5 * (logdet + np.linalg.slogdet(a)[1] + quad)

    best = optimize.minimize(lambda p: solve(p)[1], x0=np.log([0.8, 0.3]), method="Nelder-Mead",
                             options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    assert best.success
    sigma, tau = np.exp(best.x)
    return solve(best.x)[0], tau, sigma


def test_radon_reproduces_gelman_and_hills_varying_intercepts(houses):
    """Gelman & Hill (2007), ch. 12 (section 12.4's lmer fits, REML): y ~ 1 + (1 | county) gives
    intercept 1.31, county sd 0.31, residual sd 0.80; y ~ x + (1 | county) (x = floor) gives
    1.46 and -0.69, county sd 0.33, residual sd 0.76.  To 4 decimals, statsmodels 0.15's MixedLM
    REML on these rows gives 1.3126 / 0.3095 / 0.7979 and 1.4616, -0.6930 / 0.3282 / 0.7556."""
    y, county = houses["log_radon"].to_numpy(), houses["county"].to_numpy()
    ones = np.ones((len(y), 1))
    b, tau, sigma = _one_way_reml(y, county, ones)
    np.testing.assert_allclose([b[0], tau, sigma], [1.31, 0.31, 0.80], rtol=0, atol=PAPER)
    np.testing.assert_allclose([b[0], tau, sigma], [1.3126, 0.3095, 0.7979], rtol=0, atol=PRINTED)
    floor = houses["floor"].to_numpy(float)[:, None]
    b, tau, sigma = _one_way_reml(y, county, np.hstack([ones, floor]))
    np.testing.assert_allclose([*b, tau, sigma], [1.46, -0.69, 0.33, 0.76], rtol=0, atol=PAPER)
    np.testing.assert_allclose([*b, tau, sigma], [1.4616, -0.6930, 0.3282, 0.7556], rtol=0,
                               atol=PRINTED)


def test_radon_as_raw_rows(houses):
    """Raw rows go in as they are: the counties with two or more houses (82 counties, 916
    houses) and all 85 counties with a known sigma."""
    multi = houses[houses.groupby("county")["county"].transform("size") > 1]
    data = hm.HierData.from_dataframe(multi, value="log_radon", group="county")
    assert data.n_groups == 82 and int(np.sum(data.n)) == 916
    means = multi.groupby("county", sort=False)["log_radon"].mean()
    np.testing.assert_allclose(data.means, means.loc[list(data.groups)], rtol=1e-12)
    known = hm.HierData.from_dataframe(houses, value="log_radon", group="county", sigma=0.8)
    assert known.n_groups == 85 and int(np.sum(known.n)) == 919


#: statsmodels 0.15 MixedLM REML, ``log_radon ~ 1``, groups=county, on these 919 rows, as
#: printed to 4 decimals (see test_radon_reproduces_gelman_and_hills_varying_intercepts)
RADON_REML = {"mu": 1.3126, "tau": 0.3095, "sigma": 0.7979}


def test_radon_nuts_agrees_with_the_exact_posterior_and_reml(houses):
    """All 919 houses as raw rows (85 counties, three of one house, sigma unknown), default
    priors: a 2 x 500-draw NUTS fit (the marginal form) and the exact posterior on the
    (tau, sigma) grid agree within 4 MCSE (ArviZ's, as compare reports it) for mu, tau, sigma
    and all 85 county means theta_j.

    The exact posterior means sit near the REML estimates (RADON_REML) without being the
    same estimator: a posterior mean averages over the posterior, REML maximises a restricted
    likelihood, and the default priors are weak but not flat.  Their gap is a small fraction of
    a posterior sd -- largest for tau, whose posterior is right-skewed.  Measured: mean - REML
    = -0.0004 (mu), +0.0035 (tau), +0.0014 (sigma), i.e. 0.01, 0.07 and 0.07 posterior sds;
    the test allows a quarter of a posterior sd (about 0.012, 0.012 and 0.005)."""
    data = hm.HierData.from_dataframe(houses, value="log_radon", group="county")
    assert data.n_groups == 85 and int(np.sum(data.n)) == 919
    exact = hm.exact_posterior(data)
    mean, sd = exact.mean, exact.sd
    for name, reml in RADON_REML.items():
        assert abs(float(mean[name]) - reml) < 0.25 * float(sd[name]), (name, float(mean[name]))

    idata = hm.fit(data, draws=500, chains=2, seed=2)
    population, counties = hm.compare_population(idata, data), hm.compare(idata, data)
    assert list(population.index) == ["mu", "tau", "sigma"] and len(counties) == 85
    for table in (population, counties):
        assert table["exact"].notna().all()
        z = (table["mean"] - table["exact"]) / table["mcse_mean"]
        assert np.all(np.abs(z) < 4), z.round(2).to_dict()
