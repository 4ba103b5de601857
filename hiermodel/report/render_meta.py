"""The report's empirical-Bayes meta-analysis / meta-regression section, as metafor prints
it (:func:`hiermodel.meta_analysis`), rendered from the result's named fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..formatting import format_number
from .markdown import interval_text, table_block
from .words import DataTerms, IntervalTerms

if TYPE_CHECKING:
    from .result import ReportResult

__all__ = ["meta_title", "meta_lines", "eb_interval_text", "metafor_number"]


def meta_title(result: ReportResult) -> str:
    cov = result.data.has_covariates
    if result.settings.eb_method == "ee":
        what = "Equal-effects meta-regression" if cov else "Equal-effects meta-analysis"
    else:
        what = "Meta-regression" if cov else "Random-effects meta-analysis"
    return f"{what}: empirical Bayes, as metafor reports it"


def metafor_number(x: float, decimals: int = 4) -> str:
    """``x`` with ``decimals`` decimals as metafor prints it, or 4 significant digits when
    that would leave fewer than 2 (data on a tiny scale)."""
    x = float(x)
    if not np.isfinite(x):
        return format_number(x)
    if x == 0 or abs(x) >= 10.0 ** (1 - decimals):
        return f"{x:.{decimals}f}"
    return format_number(x)


_mf = metafor_number


def _p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _knha_arg(meta) -> str:
    return ", test = \"knha\"" if meta.knha else ""


def _moderator_test(result: ReportResult) -> str | None:
    """metafor's omnibus test of the covariates: QM = b' V^-1 b (chi^2 on p df), or with
    Knapp-Hartung F = QM / p on (p, G - p - 1) df."""
    if not result.data.has_covariates:
        return None
    het = result.meta.heterogeneity
    qm, m, p = float(het["QM"]), int(het["QM_df"]), float(het["QM_p"])
    coefs = "2" if m == 1 else f"2:{m + 1}"
    head = f"Test of the covariates (coefficient{'s' if m > 1 else ''} {coefs}): "
    if result.meta.knha:
        return (head + f"F(df1 = {m}, df2 = {int(het['QE_df'])}) = {_mf(qm)}, "
                f"{_p_text(p)}.")
    return head + f"QM(df = {m}) = {_mf(qm)}, {_p_text(p)}."


def meta_lines(result: ReportResult) -> list[str]:
    """The empirical-Bayes meta-analysis / meta-regression (hm.meta_analysis), metafor style."""
    m, d, pr = result.meta, result.data, result.meta_prediction
    pct = IntervalTerms.of(result.settings).pct
    ybar_i = DataTerms.of(d).ybar_i
    h = m.heterogeneity
    cov = d.has_covariates
    method = m.method.upper()
    equal_effects = m.method == "ee"
    spread = "se_i^2" if equal_effects else "tau^2 + se_i^2"
    if cov:
        mods = " + ".join(d.covariate_names)
        call = f"rma(yi, vi, mods = ~ {mods}, method = \"{method}\"{_knha_arg(m)})"
        model = (f"{ybar_i} ~ Normal(b0 + x_i' beta, {spread}) on the raw "
                 f"(uncentred) covariates, b0 the intercept")
    else:
        call = f"rma(yi, vi, method = \"{method}\"{_knha_arg(m)})"
        model = f"{ybar_i} ~ Normal(mu, {spread})"
    plug = ("" if d.sigma_known else
            f" The se_i are sigma_hat / sqrt(n_i) with the pooled sigma_hat = "
            f"{format_number(d.sigma_hat)} plugged in.")
    fit_text = ("tau^2 = 0 by assumption (the equal-effects, or common-effect, model)"
                if equal_effects else
                f"tau^2 estimated by {method} and then plugged in as if known")
    head = (f"The classical {'equal-effects' if equal_effects else 'random-effects'} "
            f"{'meta-regression' if cov else 'meta-analysis'} {model}, {fit_text} "
            f"(hiermodel.meta_analysis; the numbers equal metafor's printed digits for "
            f"`{call}` with vi = se_i^2, up to its convergence tolerance: its REML stops at a "
            f"1e-5 change in tau^2, so a last digit can differ).{plug} The heterogeneity "
            f"numbers are printed as metafor prints them (4 decimals; I^2, "
            f"H^2{', R^2' if cov else ''} with 2).")
    resid = "residual " if cov else ""
    lines = [head, ""]
    kind = ("residual heterogeneity, not explained by the covariates" if cov
            else "total heterogeneity")
    if equal_effects:
        lines.append(f"- tau^2 ({kind}): 0 by assumption; the test for {resid}heterogeneity "
                     f"below checks it.")
    else:
        lines.append(f"- tau^2 ({kind}): "
                     f"{_mf(h['tau2'])} ({pct} Q-profile CI [{_mf(h['tau2_ci_low'])}, "
                     f"{_mf(h['tau2_ci_high'])}]); tau = {_mf(h['tau'])}.")
    lines.append(f"- I^2 ({resid}heterogeneity / {'unaccounted' if cov else 'total'} "
                 f"variability): {h['I2']:.2f}%.")
    lines.append(f"- H^2 ({'unaccounted' if cov else 'total'} variability / sampling "
                 f"variability): {h['H2']:.2f}.")
    if cov and "R2" in h:
        lines.append(f"- R^2 (share of the intercept-only tau^2 that the covariates account "
                     f"for): {h['R2']:.2f}%.")
    q = "QE" if cov else "Q"
    lines.append(f"- Test for {resid}heterogeneity: {q}(df = {int(h['QE_df'])}) = "
                 f"{_mf(h['QE'])}, {_p_text(float(h['QE_p']))}.")
    qm = _moderator_test(result)
    if qm:
        lines.append(f"- {qm}")
    at = ""
    if cov:
        at = " at the average covariates (" + ", ".join(
            f"{c} = {format_number(float(v))}"
            for c, v in zip(d.covariate_names, d.covariate_means, strict=True)) + ")"
    lines.append(f"- A new group{at}: predicted effect {_mf(pr['pred'])} (se "
                 f"{_mf(pr['se'])}), {pct} CI [{_mf(pr['ci_low'])}, {_mf(pr['ci_high'])}], "
                 f"{pct} prediction interval [{_mf(pr['pi_low'])}, {_mf(pr['pi_high'])}] "
                 f"(metafor's predict()).")
    lines += _meta_scaled_lines(result, at)
    stat = "t" if m.knha else "z"
    defs = {
        "coefficient": ("`intercept` = b0, the effect at covariates 0 (on the raw scale of "
                        "each covariate); then one slope per covariate, the change in the "
                        "effect per unit of it." if cov else
                        "`intercept` = mu_hat, the estimated mean effect."),
        "estimate": f"the {method} estimate (generalised least squares at tau_hat^2).",
        "se": "its standard error" + (" (Knapp-Hartung adjusted)." if m.knha else "."),
        stat: ("estimate / se, compared with a t distribution on "
               f"{int(h['QE_df'])} df (Knapp-Hartung)." if m.knha else
               "estimate / se, compared with the standard normal (Wald test)."),
        "p": "two-sided p-value of the test that the coefficient is 0.",
        "ci_low": f"lower end of the {pct} confidence interval.",
        "ci_high": f"upper end of the {pct} confidence interval.",
    }
    lines += ["", table_block(m.coefficients, defs, "coefficient"), "",
              "These plug in tau_hat; the full posterior averages over tau instead: its "
              "counterparts are under Results in brief"
              + (" and Population parameters" if cov else "")
              + ", and the groups' empirical-Bayes estimates are the `eb` column of the "
                "group table below."]
    return lines


def _meta_scaled_lines(result: ReportResult, at: str) -> list[str]:
    """The pooled estimate and its intervals on the transform's scale, as metafor's
    ``predict(res, transf=exp)`` prints them; what stays on the analysis scale."""
    back, pr = result.settings.transform, result.meta_prediction_scaled
    if back.is_identity:
        return []
    pct = IntervalTerms.of(result.settings).pct
    fitted = "b0 + xbar' beta"
    what = (f"the predicted effect {back.of(fitted)}{at}" if result.data.has_covariates
            else f"the pooled estimate {back.of('mu_hat')}")
    return [f"- On the {back.scale}: {what} = {_mf(pr['pred'])}, {pct} CI "
            f"[{_mf(pr['ci_low'])}, {_mf(pr['ci_high'])}], {pct} prediction interval "
            f"[{_mf(pr['pi_low'])}, {_mf(pr['pi_high'])}] (metafor's `predict(res, transf = "
            f"{back.name})`: the estimate and each interval end transformed)."
            f" Everything else in this section -- tau^2, tau, the se, Q and the coefficient "
            f"table -- is on the {back.analysis_scale} scale, where the model is fitted: a "
            f"standard error or a variance has no counterpart on the {back.scale}."]


def eb_interval_text(result: ReportResult, parameter: str, coefficient: str | None) -> str:
    """`` (95% CI [a, b])`` of the EB meta-regression for a row of the population table
    (Q-profile for tau); ``coefficient`` names the meta-regression's coefficient of that
    row (``"intercept"`` or a covariate), None for mu and tau."""
    m = result.meta
    pct = IntervalTerms.of(result.settings).pct
    if parameter == "mu":
        lo, hi = result.meta_prediction["ci_low"], result.meta_prediction["ci_high"]
    elif parameter == "tau":
        h = m.heterogeneity
        if m.method == "ee":                            # tau = 0 assumed: no interval
            return ""
        lo, hi = np.sqrt(h["tau2_ci_low"]), np.sqrt(h["tau2_ci_high"])
        return f" ({pct} Q-profile CI {interval_text(float(lo), float(hi))})"
    else:
        if coefficient is None or coefficient not in m.coefficients.index:
            return ""
        lo, hi = m.coefficients.at[coefficient, "ci_low"], m.coefficients.at[coefficient,
                                                                              "ci_high"]
    return f" ({pct} CI {interval_text(float(lo), float(hi))})"
