"""The report's tables -- groups, groups on the transform's scale, population parameters,
exact posterior -- each with the definition of every column, from the result's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..formatting import DASH, format_number
from .markdown import table_block
from .words import GRID_OVER, DataTerms, IntervalTerms, sigma_text

if TYPE_CHECKING:
    from .result import ReportResult

__all__ = ["comparison_lines", "scaled_comparison_lines", "population_lines", "exact_lines",
           "exact_quantile_columns", "group_mean"]

_fmt = format_number

#: the columns of compare() the group table shows, in order ("COVARIATES": the covariates,
#: "LO"/"HI": the interval ends)
_COMPARISON_SHOWN = ("n", "se", "COVARIATES", "no_pooling", "complete_pooling", "sd_of_means",
                     "eb_fitted", "eb", "eb_weight", "eb_sd", "fitted_mean", "mean", "sd", "LO",
                     "HI", "rb_mean", "shrinkage", "exact", "exact_sd")


def group_mean(result: ReportResult) -> str:
    """What a group's theta_i is centred on: mu, or its fitted value on the regression."""
    return "mu + (x_i - xbar)' beta" if result.data.has_covariates else "mu"


def exact_quantile_columns(result: ReportResult) -> tuple[str, str, str]:
    """The names of the exact posterior's lower, median and upper quantile columns."""
    iv = IntervalTerms.of(result.settings)
    return f"q{iv.low_pct}", "q50%", f"q{iv.high_pct}"


def _se_definition(result: ReportResult) -> str:
    d, w = result.data, DataTerms.of(result.data)
    if d.source == "estimates":
        return "se_i, the standard error of y_i, as given in the data (treated as known)."
    if d.sigma_known:
        return (f"se_i = sigma / sqrt(n_i), the standard error of {w.ybar_i} "
                f"({sigma_text(d)} known).")
    return (f"se_i = sigma_hat / sqrt(n_i), the standard error of {w.ybar_i} with the pooled "
            f"within-group sd sigma_hat = {_fmt(d.sigma_hat)} plugged in (used by the "
            f"no-pooling, sd-of-means and empirical-Bayes columns; the full posterior estimates "
            f"sigma instead).")


def _interval_defs(result: ReportResult, what: str) -> dict[str, str]:
    iv = IntervalTerms.of(result.settings)
    lo, hi = result.settings.interval_columns
    if iv.is_hdi:
        return {lo: f"lower end of the {iv.pct} highest-density interval (HDI) of {what}.",
                hi: f"upper end of the {iv.pct} highest-density interval (HDI) of {what}."}
    return {lo: f"{iv.low_pct} posterior quantile of {what}: the lower end of its {iv.pct} "
                f"central interval.",
            hi: f"{iv.high_pct} posterior quantile of {what}: the upper end of its {iv.pct} "
                f"central interval."}


def _comparison_defs(result: ReportResult) -> dict[str, str]:
    d, table = result.data, result.tables.comparison
    a = table.attrs
    w = DataTerms.of(d)
    y, y_i = w.ybar, w.ybar_i
    method = result.settings.eb_method.upper()
    s = result.checks.diagnostics.n_draws
    defs = {
        "group": "the group's label in the data.",
        "n": "n_i, the number of observations in the group.",
        "se": _se_definition(result),
        "no_pooling": f"{y_i}, the group's own {w.own} (no pooling: each group on its own).",
        "complete_pooling": (f"the precision-weighted mean of the {y_i}, sum({y_i} "
                             f"/ se_i^2) / sum(1 / se_i^2) = "
                             f"{_fmt(float(table['complete_pooling'].iloc[0]))}: "
                             f"complete pooling (tau = 0, the equal-effects estimate), one "
                             f"value for every group."
                             if "complete_pooling" in table else ""),
        "sd_of_means": f"partial pooling with the sd-of-means plug-in (a naive moment "
                       f"estimator): w_i {y_i} + (1 - w_i) mean({y}) with w_i = "
                       f"tau_s^2 / (tau_s^2 + se_i^2) and tau_s = sd({y}) = "
                       f"{_fmt(float(a.get('sd_of_means_tau', np.nan)))}, "
                       f"the spread of the observed means "
                       f"(which includes their sampling noise, so it tends to overstate tau "
                       f"and shrink too little).",
        "eb": f"empirical-Bayes partial pooling w_i {y_i} + (1 - w_i) mu_hat, with mu_hat = "
              f"{_fmt(float(a.get('eb_mu', np.nan)))} and tau_hat = "
              f"{_fmt(float(a.get('eb_tau', np.nan)))} estimated by {method} from {y_i} ~ "
              f"Normal(mu, tau^2 + se_i^2) and plugged in as if known.",
        "eb_weight": "w_i = tau_hat^2 / (tau_hat^2 + se_i^2), the weight `eb` gives the group's "
                     "own mean (1 = no pooling, 0 = complete pooling).",
        "eb_sd": "the standard deviation of `eb`: sqrt(w_i se_i^2 + (1 - w_i)^2 Var(mu_hat)) "
                 "(Morris 1983); it ignores the uncertainty in tau_hat, so it is too small "
                 "when there are few groups.",
        "mean": f"posterior mean of theta_i, the average of its {s} draws.",
        "sd": "posterior standard deviation of theta_i.",
        "mcse_mean": "Monte Carlo standard error of `mean` (from the effective sample size).",
        "rb_mean": f"Rao-Blackwellised posterior mean E[E[theta_i | mu, tau, y]]: the average "
                   f"over the draws of (mu, tau) of w_i(tau) {y_i} + (1 - w_i(tau)) mu; the "
                   f"same quantity as `mean`, with less Monte Carlo error.",
        "rb_mcse": "Monte Carlo standard error of `rb_mean`.",
        "shrinkage": f"E[1 - w_i | y], the posterior mean share of the way from {y_i} to mu "
                     f"that the group is pulled (0 = keeps its own mean, 1 = pulled all the "
                     f"way to mu).",
        "exact": "the exact posterior mean of theta_i, by numerical integration over "
                 f"{GRID_OVER[d.sigma_known]} (no sampling; Gelman et al., BDA3 "
                 "section 5.4) with the same priors.",
        "exact_sd": "the exact posterior standard deviation of theta_i.",
    }
    defs.update(_interval_defs(result, "theta_i"))
    if d.has_covariates:
        defs.update(_regression_comparison_defs(result))
    return defs


def _regression_comparison_defs(result: ReportResult) -> dict[str, str]:
    """The comparison columns that differ with covariates (pooling toward the regression)."""
    d, a = result.data, result.tables.comparison.attrs
    y_i = DataTerms.of(d).ybar_i
    method = str(a.get("eb_method", result.settings.eb_method)).upper()
    beta = np.atleast_1d(np.asarray(a.get("eb_beta", np.full(d.n_covariates, np.nan)), float))
    line = _fmt(float(a.get("eb_mu", np.nan))) + "".join(
        f" {'-' if b < 0 else '+'} {_fmt(abs(float(b)))} ({c} - {_fmt(float(m))})"
        for b, c, m in zip(beta, d.covariate_names, d.covariate_means, strict=True))
    defs = {c: f"the group's covariate {c} (x_i)." for c in d.covariate_names}
    defs.update({
        "eb_fitted": f"the group's fitted value on the empirical-Bayes ({method}) "
                     f"meta-regression line, {line}: where `eb` pools toward.",
        "fitted_mean": "posterior mean of mu + (x_i - xbar)' beta: the group's fitted value "
                       "on the Bayesian regression line, where the posterior pools toward.",
        "eb": f"empirical-Bayes partial pooling toward the regression line, w_i {y_i} + "
              f"(1 - w_i) `eb_fitted`, with the line and tau_hat = "
              f"{_fmt(float(a.get('eb_tau', np.nan)))} (the residual between-group sd) "
              f"estimated by {method} from {y_i} ~ Normal(x_i' b, tau^2 + se_i^2) and "
              f"plugged in as if known.",
        "eb_sd": "the standard deviation of `eb`: sqrt(w_i se_i^2 + (1 - w_i)^2 "
                 "Var(eb_fitted)); it ignores the uncertainty in tau_hat, so it is too small "
                 "when there are few groups.",
        "rb_mean": f"Rao-Blackwellised posterior mean E[E[theta_i | mu, beta, tau, y]]: the "
                   f"average over the draws of w_i(tau) {y_i} + (1 - w_i(tau)) (mu + (x_i - "
                   f"xbar)' beta); the same quantity as `mean`, with less Monte Carlo error.",
        "shrinkage": f"E[1 - w_i | y], the posterior mean share of the way from {y_i} to its "
                     f"fitted value mu + (x_i - xbar)' beta that the group is pulled (0 = keeps "
                     f"its own mean, 1 = pulled all the way to the regression line).",
    })
    return defs


def comparison_lines(result: ReportResult) -> list[str]:
    from ..comparison import summarize

    t = result.tables.comparison
    lo, hi = result.settings.interval_columns
    cols = []
    for c in _COMPARISON_SHOWN:
        if c == "COVARIATES":
            cols += list(result.data.covariate_names)
        else:
            cols.append({"LO": lo, "HI": hi}.get(c, c))
    shown = t[[c for c in cols if c in t.columns]]
    return [table_block(shown, _comparison_defs(result), "group"), "",
            "In words:", "", *[f"- {s}" for s in
                               summarize(t, symbol=result.data.value_symbol).splitlines()
                               if s.strip()]]


def scaled_comparison_lines(result: ReportResult) -> list[str]:
    """The group table on the transform's scale (:func:`compare` with ``transform=``)."""
    from ..comparison import TRANSFORMED_POINT_COLUMNS

    back, t = result.settings.transform, result.tables.comparison_scaled
    iv = IntervalTerms.of(result.settings)
    lo, hi = result.settings.interval_columns
    points = [c for c in t.columns if c in TRANSFORMED_POINT_COLUMNS and c != "exact_median"
              and c in _COMPARISON_SHOWN]          # those of the table above
    order = ["se", *points, "fitted_median", "median", lo, hi, "exact_median"]
    shown = t[[c for c in order if c in t.columns]]
    shown = shown.rename(columns={c: back.of(c) for c in points})
    theta = back.of("theta_i")
    defs = {
        "group": "the group's label in the data.",
        "se": f"se_i, on the {back.analysis_scale} scale (a standard error does not "
              f"transform).",
        "fitted_median": f"posterior median of {back.of(group_mean(result))}"
                         f": the group's fitted value on the regression line, on the "
                         f"{back.scale}.",
        "median": f"posterior median of {theta}, from the transformed draws.",
        "exact_median": f"the exact posterior median of {theta} (numerical integration over "
                        f"{GRID_OVER[result.data.sigma_known]}, same priors).",
    }
    defs.update(_interval_defs(result, theta))
    defs.update({back.of(c): f"{back.name} of `{c}` in the table above: that estimate on the "
                             f"{back.scale}." for c in points})
    kind = "highest-density interval" if iv.is_hdi else "central interval"
    return [f"The same groups on the {back.scale}, also in `comparison_{back.name}.csv`: "
            f"each point estimate above transformed, and the posterior of {theta} summarised "
            f"by its median and {iv.pct} {kind}. No means or sds: the mean of "
            f"{theta} is not {back.name} of the mean of theta_i.", "",
            table_block(shown, defs, "group")]


def population_lines(result: ReportResult) -> list[str]:
    pop = result.tables.population
    y = DataTerms.of(result.data).ybar
    method = result.settings.eb_method.upper()
    sigma = "sigma" in pop.index
    defs = {
        "parameter": "mu = the population mean of the theta_i, tau = their sd between "
                     "groups" + (", sigma = the sd within groups" if sigma else "") + ".",
        "eb": f"the empirical-Bayes ({method}) point estimate: mu_hat, tau_hat"
              + ("; for sigma the pooled within-group sd" if sigma else "") + ".",
        "eb_sd": f"the standard error of mu_hat, (sum_i 1 / (se_i^2 + tau_hat^2))^(-1/2); "
                 f"{DASH} for the other rows.",
        "sd_of_means": f"the sd-of-means plug-in: mu_hat = mean({y}), tau_hat = sd({y}) (a "
                       f"naive moment estimator that ignores the sampling variance of "
                       f"{y}_i); {DASH} otherwise.",
        "mean": f"posterior mean, from the {result.checks.diagnostics.n_draws} draws.",
        "sd": "posterior standard deviation.",
        "mcse_mean": "Monte Carlo standard error of `mean`.",
        "ess_bulk": "bulk effective sample size: the number of independent draws the "
                    "correlated draws are worth for the mean.",
        "r_hat": "rank-normalised split R-hat: near 1 when the chains agree (> 1.01 is a "
                 "problem).",
        "exact": "exact posterior mean (numerical integration over "
                 f"{GRID_OVER[result.data.sigma_known]}, same priors).",
        "exact_sd": "exact posterior standard deviation.",
    }
    defs.update(_interval_defs(result, "the parameter"))
    if result.data.has_covariates:
        m = result.meta
        defs.update({
            "parameter": "mu = the mean effect at the average covariates, beta[c] = the "
                         "slope on covariate c, intercept = mu - xbar' beta (the effect at "
                         "covariates 0), tau = the residual sd of the theta_i between groups"
                         + (", sigma = the sd within groups" if sigma else "") + ".",
            "eb": f"the empirical-Bayes ({m.method.upper()}) meta-regression: for mu its "
                  f"fitted value at the average covariates, for beta[c] and intercept its "
                  f"coefficients, for tau the residual tau_hat"
                  + ("; for sigma the pooled within-group sd" if sigma else "") + ".",
            "eb_sd": f"the standard error of `eb` (as in the meta-regression section); "
                     f"{DASH} for tau.",
        })
        pop = pop[[c for c in pop.columns if c != "sd_of_means"]]
    return [table_block(pop, defs, "parameter")]


def exact_lines(result: ReportResult) -> list[str]:
    t, ex = result.tables.exact, result.exact
    if t is None:
        return ["Not computed: sigma is estimated here with covariates, and the exact (grid) "
                "posterior with covariates needs known standard errors se_i."]
    iv = IntervalTerms.of(result.settings)
    lo, median, hi = exact_quantile_columns(result)
    defs = {
        "variable": ("mu (at the average covariates), beta[c] for each covariate c, "
                     "intercept (= mu - xbar' beta), tau, and theta[g] for each group g."
                     if result.data.has_covariates else
                     "mu, tau, and theta[g] for each group g." if ex.sigma_known else
                     "mu, tau, sigma (the within-group sd), and theta[g] for each group g."),
        "mean": "exact posterior mean.",
        "sd": "exact posterior standard deviation.",
        lo: f"the {iv.low_pct} posterior quantile: the lower end of the {iv.pct} central "
            f"interval.",
        median: "the 50% posterior quantile: the posterior median.",
        hi: f"the {iv.high_pct} posterior quantile: the upper end of the {iv.pct} central "
            f"interval.",
    }
    grid = (f"p(tau | y) on a grid of {ex.tau_grid.size} points of tau" if ex.sigma_known
            else f"p(tau, sigma | y) on a grid of {ex.tau_grid.size} x {ex.sigma_grid.size} "
                 "points of (tau, sigma)")
    given = "tau" if ex.sigma_known else "(tau, sigma)"
    return [f"The posterior computed without sampling: {grid} (estimated mass outside the "
            f"grid {float(ex.truncated_mass):.2g}), and given {given} everything is normal "
            f"(Gelman et al., BDA3 section 5.4). It checks the NUTS fit: compare `mean` here "
            f"with the `mean` columns above.", "", table_block(t, defs, "variable")]
