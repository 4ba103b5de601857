"""The report's section on influence, small-study effects and Bayes factors of a
meta-analysis, rendered from :class:`~hiermodel.report.result.StudyChecks`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..formatting import format_number as _fmt
from .render_meta import metafor_number

if TYPE_CHECKING:
    from .result import ReportResult

__all__ = ["study_lines"]

#: the influence columns shown for a flagged study (all are in influence.csv)
SHOWN = ("rstudent", "dffits", "cook_d", "cov_r", "hat", "weight")


def _p(p: float) -> str:
    return "p < .0001" if p < 1e-4 else f"p = {p:.4f}"


def study_lines(result: ReportResult) -> list[str]:
    """Bullets: influential studies, Egger's and Begg's tests, trim and fill, Bayes factors."""
    c = result.studies
    assert c is not None
    return (_influence_lines(c.influence) + _egger_lines(c.egger) + _rank_lines(c.rank)
            + _trim_fill_lines(c.trim_fill) + _bayes_factor_lines(c.bf_tau, c.bf_mu))


def _influence_lines(table) -> list[str]:
    flagged = table.index[table["influential"].astype(bool)]
    rule = ("metafor's influence(): |DFFITS| > 3 sqrt(p/(k-p)), Cook's distance above the "
            "median of chi^2_p, hat > 3p/k or any |DFBETAS| > 1")
    if len(flagged) == 0:
        return [f"- **Influence** (each study left out in turn; {rule}): no study is flagged "
                f"as influential. Every statistic per study is in `influence.csv`."]
    rows = "; ".join(
        f"{g} (" + ", ".join(f"{k} {_fmt(float(table.at[g, k]))}" for k in SHOWN) + ")"
        for g in flagged)
    return [f"- **Influence** (each study left out in turn; {rule}): "
            f"{len(flagged)} of {len(table)} studies flagged: {rows}. A flagged study moves "
            f"the pooled estimate or tau^2 noticeably; check its data, and report the "
            f"analysis with and without it. Every statistic is in `influence.csv`."]


def _egger_lines(e) -> list[str]:
    stat = "z" if math.isnan(e.df) else f"t({_fmt(e.df)})"
    limit = ("" if math.isnan(e.limit_estimate) else
             f"; the limit estimate as se -> 0 is {metafor_number(e.limit_estimate)} "
             f"[{metafor_number(e.limit_ci_low)}, {metafor_number(e.limit_ci_high)}]")
    return [f"- **Egger's regression test** for funnel-plot asymmetry (Egger et al. 1997; "
            f"metafor's regtest, the meta-regression on the standard error): {stat} = "
            f"{metafor_number(e.statistic)}, {_p(e.p)}{limit}. A small p says small (imprecise) "
            f"studies report different effects than large ones -- publication bias is one "
            f"cause among several; with fewer than about 10 studies the test has little "
            f"power."]


def _rank_lines(r) -> list[str]:
    if r is None:
        return ["- **Rank correlation test**: not computed (a model with covariates; "
                "metafor's ranktest is for models without moderators)."]
    return [f"- **Rank correlation test** (Begg & Mazumdar 1994; metafor's ranktest): "
            f"Kendall's tau = {metafor_number(r.tau)}, {_p(r.p)}."]


def _studies(k: int) -> str:
    return f"{k} study" if k == 1 else f"{k} studies"


def _trim_fill_lines(t) -> list[str]:
    if t is None:
        return ["- **Trim and fill**: not computed (a model with covariates)."]
    se = "" if math.isnan(t.se_k0) else f" (se {metafor_number(t.se_k0)})"
    if t.k0 == 0:
        return [f"- **Trim and fill** (Duval & Tweedie 2000, {t.estimator} estimator; "
                f"metafor's trimfill): no study estimated missing on the {t.side}{se}; the "
                f"estimate stays as it is."]
    adj = t.adjusted
    est = adj.coefficients.iloc[0]
    return [f"- **Trim and fill** (Duval & Tweedie 2000, {t.estimator} estimator; metafor's "
            f"trimfill): {_studies(t.k0)} estimated missing on the {t.side}{se}; with "
            f"{'them' if t.k0 != 1 else 'it'} filled in, the estimate is "
            f"{metafor_number(float(est['estimate']))} "
            f"[{metafor_number(float(est['ci_low']))}, {metafor_number(float(est['ci_high']))}] "
            f"(analysis scale). Trim and fill assumes the asymmetry is publication bias; "
            f"read it as a sensitivity analysis, not a corrected estimate."]


def _bayes_factor_lines(bf_tau: float | None, bf_mu: float | None) -> list[str]:
    if bf_tau is None:
        return []
    out = [f"- **Bayes factors** from the exact posterior (bayesmeta's bayesfactor; BF01 > 1 "
           f"favours the null): tau = 0 (no heterogeneity) against tau > 0, BF01 = "
           f"{_fmt(bf_tau)}"]
    if bf_mu is None:
        out[0] += "; mu = 0 is not tested (mu's prior is flat, so its Bayes factor is undefined)."
    else:
        out[0] += f"; mu = 0 (no effect) against mu free, BF01 = {_fmt(bf_mu)}."
    out[0] += (" Bayes factors depend on the priors (the Priors section): a wider prior on "
               "mu or tau moves them toward the null.")
    return out
