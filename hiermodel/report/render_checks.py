"""The report's checks: the posterior predictive checks (with the sentences on extreme
p-values that also head the report) and the sampler diagnostics, from the result's fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..formatting import DASH, format_number
from ..predictive import P_EXTREME
from .markdown import table_block
from .render_tables import group_mean
from .words import DataTerms

if TYPE_CHECKING:
    from .result import ReportResult

__all__ = ["extreme_messages", "ppc_lines", "diagnostic_lines"]

_fmt = format_number


def _check_name(key: tuple) -> str:
    return f"{key[0]}: {key[1]}"


def _extreme(ppc: pd.DataFrame) -> pd.Series:
    p = ppc["p_value"]
    return (p < P_EXTREME) | (p > 1 - P_EXTREME)


def extreme_messages(result: ReportResult) -> list[str]:
    """One sentence per extreme predictive p-value, stating the numbers."""
    out = []
    s = result.checks.n_replicates
    ppc = result.tables.ppc
    for key in ppc.index[_extreme(ppc)]:
        row = ppc.loc[key]
        p, t, m = float(row["p_value"]), float(row["T_obs"]), float(row["mean_rep"])
        stat = key[1]
        if p <= 0.0:
            share = f"none of the {s} replicated datasets reached it (p < 1/{s})"
        elif p >= 1.0:
            share = f"every one of the {s} replicated datasets reached or exceeded it"
        elif p < P_EXTREME:
            share = f"only {100 * p:.2g}% of the {s} replicated datasets reached it"
        else:
            share = (f"{100 * p:.3g}% of the {s} replicated datasets reached or exceeded it "
                     f"(only {100 * (1 - p):.2g}% fell below)")
        what = "same groups" if key[0] == "y" else "new groups"
        out.append(f"`{_check_name(key)}` ({what}): p = {_fmt(p)}; the observed {stat} of the "
                   f"group means is {_fmt(t)}, and {share}; the replicated {stat} averages "
                   f"{_fmt(m)}.")
    return out


def ppc_lines(r: ReportResult) -> list[str]:
    ppc = r.tables.ppc
    y = DataTerms.of(r.data).ybar
    flag = _extreme(ppc)
    table = pd.DataFrame(
        {"T_obs": ppc["T_obs"].to_numpy(), "mean_rep": ppc["mean_rep"].to_numpy(),
         "p_value": ppc["p_value"].to_numpy(), "mc_se": ppc["mc_se"].to_numpy(),
         "flag": np.where(flag, "EXTREME", "")},
        index=pd.Index([_check_name(k) for k in ppc.index], name="check"))
    s = r.checks.n_replicates
    defs = {
        "check": f"`replicate: statistic`. Replicates: `y` = new data for the same groups, "
                 f"{y}_i^rep ~ Normal(theta_i, se_i^2); `y_mixed` = new groups, theta_i^rep "
                 f"~ Normal({group_mean(r)}, tau^2) and then {y}_i^rep ~ "
                 f"Normal(theta_i^rep, se_i^2) "
                 f"(this one can reveal an outlying group). Statistics of the G group means: "
                 f"min, max, mean, sd, range (max - min).",
        "T_obs": "the statistic on the observed group means.",
        "mean_rep": f"its average over the {s} replicated datasets.",
        "p_value": "P(T(y_rep) >= T(y) | y): the share of replicated datasets whose "
                   "statistic is at least the observed one.",
        "mc_se": "Monte Carlo standard error of `p_value` (0 when p is 0 or 1).",
        "flag": f"`EXTREME` when p_value < {P_EXTREME:g} or > {1 - P_EXTREME:g} (including "
                f"exactly 0 or 1): the model rarely reproduces this statistic (see "
                f"Warnings).",
    }
    n_flag = int(flag.sum())
    verdict = (f"{n_flag} of {len(ppc)} p-values are extreme (flagged below and under "
               f"Warnings)." if n_flag else
               f"None of the {len(ppc)} p-values is below {P_EXTREME:g} or above "
               f"{1 - P_EXTREME:g}.")
    return [f"Each check simulates {s} replicated datasets from the posterior and asks how "
            f"often a statistic of the replicated group means is at least its observed "
            f"value: a p-value near 0.5 is unremarkable, one near 0 or 1 means the model "
            f"does not reproduce that feature of the data. {verdict}", "",
            table_block(table, defs, "check")]


def diagnostic_lines(r: ReportResult) -> list[str]:
    d = r.checks.diagnostics
    bfmi = ", ".join(f"{b:.2f}" for b in d.bfmi) if d.bfmi else DASH
    defs = {
        "parameter": "the model parameter (theta[g]: group g's theta_i).",
        "mcse_mean": "Monte Carlo standard error of the posterior mean.",
        "mcse_sd": "Monte Carlo standard error of the posterior standard deviation.",
        "ess_bulk": "bulk effective sample size (for means and central intervals).",
        "ess_tail": "tail effective sample size (for the 5% and 95% quantiles).",
        "r_hat": "rank-normalised split R-hat (> 1.01: the chains disagree).",
    }
    return [f"- Divergent transitions: {d.divergences} of {d.n_draws} draws.",
            f"- Maximum tree-depth hits: {d.max_treedepth_hits}.",
            f"- BFMI per chain: {bfmi}.",
            f"- Max R-hat {d.max_rhat:.4f}; min ESS bulk / tail {d.min_ess_bulk:.0f} / "
            f"{d.min_ess_tail:.0f}.", "",
            table_block(r.tables.diagnostics, defs, "parameter")]
