"""``report.md`` from a :class:`~hiermodel.report.ReportResult`: text from named fields only
(no fit, no estimate, no draw is computed here; tables through ``DataFrame.to_markdown``).

Readable without the code: the model, the priors actually used (with their numbers and, for
data-scaled ones, the rule), the data, every warning at the top, then the tables, each with
a definition of every column right under it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from ..formatting import DASH, format_number
from ..predictive import P_EXTREME
from .markdown import interval_text
from .render_checks import diagnostic_lines, extreme_messages, ppc_lines
from .render_meta import eb_interval_text, meta_lines, meta_title
from .render_studies import study_lines
from .render_tables import (
    comparison_lines,
    exact_lines,
    exact_quantile_columns,
    population_lines,
    scaled_comparison_lines,
)
from .words import DataTerms, IntervalTerms, known_sigma_only, sigma_text

if TYPE_CHECKING:
    from .result import ReportResult

__all__ = ["render_report"]

_fmt = format_number


def render_report(result: ReportResult) -> str:
    """The text of ``report.md``."""
    r = result
    lines = [f"# {r.settings.title}", ""]
    lines += _intro(r) + [""]
    lines += ["## Warnings", ""] + _warning_lines(r) + [""]
    lines += ["## Model", ""] + _model_lines(r) + [""]
    lines += ["## Priors", ""] + _prior_lines(r) + [""]
    lines += ["## Data", ""] + _data_lines(r) + [""]
    lines += ["## Results in brief", ""] + _brief_lines(r) + [""]
    if r.meta is not None:
        lines += [f"## {meta_title(r)}", ""] + meta_lines(r) + [""]
    if r.studies is not None:
        lines += ["## Influence, small-study effects and Bayes factors", ""]
        lines += study_lines(r) + [""]
    head = ("no pooling and partial pooling toward the regression line, against the posterior"
            if r.data.has_covariates else
            "no, complete and partial pooling against the posterior")
    lines += [f"## Group estimates: {head}", ""] + comparison_lines(r) + [""]
    if r.tables.comparison_scaled is not None:
        lines += [f"### Group estimates on the {r.settings.transform.scale}", ""]
        lines += scaled_comparison_lines(r) + [""]
    lines += ["## Population parameters", ""] + population_lines(r) + [""]
    lines += ["## Exact posterior", ""] + exact_lines(r) + [""]
    lines += ["## Posterior predictive checks", ""] + ppc_lines(r) + [""]
    if r.figures:
        lines += ["## Figures", ""]
        for name, caption in r.figures:
            lines += [f"![{name[:-4]}]({name})", "", caption, ""]
    lines += ["## Sampler diagnostics", ""] + diagnostic_lines(r) + [""]
    lines += ["## Reproduce", ""] + _reproduce_lines(r)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------- intro
def _intro(r: ReportResult) -> list[str]:
    d, s = r.data, r.settings
    iv = IntervalTerms.of(s)
    n = r.checks.diagnostics.n_draws
    what = ("A Bayesian three-level normal (hierarchical / random-effects) model"
            if not d.has_covariates else
            f"A Bayesian random-effects meta-regression (a three-level normal model whose "
            f"group means depend on the covariate{'s' if d.n_covariates > 1 else ''} "
            f"{', '.join(d.covariate_names)})")
    if iv.is_hdi:
        conventions = (
            f"**Conventions.** The posterior intervals of the group and population tables "
            f"are {iv.pct} highest-density intervals (HDI: the narrowest interval holding "
            f"{iv.pct} of the draws); every other interval -- prediction intervals, the exact "
            f"posterior's quantiles, the figures -- is a {iv.pct} central (equal-tailed) "
            f"interval: from the {iv.low_pct} to the {iv.high_pct} quantile.")
    else:
        conventions = (
            f"**Conventions.** Every interval in this report is a {iv.pct} central "
            f"(equal-tailed) posterior interval: from the {iv.low_pct} to the "
            f"{iv.high_pct} posterior quantile.")
    return [
        f"{what} fitted to "
        f"{d.n_groups} groups with hiermodel: {s.chains} chains x {s.draws} draws of "
        f"NUTS ({n} in all; sampler {s.sampler}, {s.parameterization} form, seed "
        f"{s.seed}), set against no pooling"
        + ("" if d.has_covariates else ", complete pooling")
        + f"{', ' if r.exact is not None else ' and '}empirical-Bayes partial pooling"
        + (" toward the meta-regression line" if d.has_covariates else "")
        + f"{' and the exact posterior' if r.exact is not None else ''}.",
        "",
        conventions + f" Numbers have 4 significant digits (more for "
        f"large values); {DASH} marks a value that is not defined for that row."
        + _scale_convention(r),
    ]


def _scale_convention(r: ReportResult) -> str:
    back = r.settings.transform
    if back.is_identity:
        return ""
    return (f" Effect-scale numbers are on the {back.analysis_scale} scale, where the model is "
            f"fitted, unless the line, heading or figure names the {back.scale}: there they "
            f"are {back.name} of the value on the {back.analysis_scale} scale -- for estimates "
            f"and interval "
            f"ends the transformed value, for posterior draws the median and quantiles of the "
            f"transformed draws (a mean does not carry over through the transform).")


# ---------------------------------------------------------------------------- warnings
def _warning_lines(r: ReportResult) -> list[str]:
    """The 'Warnings' section: every problem found, then what was checked and found fine."""
    from ..diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX

    lines: list[str] = []
    kinds = {k for k, _ in r.checks.warnings}
    for kind, msg in r.checks.warnings:
        head, *items = msg.split("\n- ")
        head = head.strip().removeprefix("hiermodel ").rstrip(":")
        lines.append(f"- **{head[:1].upper() + head[1:]}** ({kind}):")
        lines += [f"  - {item.strip()}" for item in items] or [f"  - {head}"]
    extreme = extreme_messages(r)
    if extreme:
        lines.append(f"- **Posterior predictive checks: {len(extreme)} extreme p-value"
                     f"{'s' if len(extreme) > 1 else ''}** (below {P_EXTREME:g} or above "
                     f"{1 - P_EXTREME:g}; marked `EXTREME` in the predictive-check table):")
        lines += [f"  - {m}" for m in extreme]
        lines.append(
            "  - What it means: data simulated from the fitted model rarely look like the "
            "observed data in this respect, so the model misses a feature of the data (for "
            "`y_mixed`, the groups do not look like draws from one normal population). What "
            "to do: find the group(s) behind the statistic (an outlier, a data-entry error, "
            "a wrong standard error?), check whether the prior on tau is too narrow "
            f"(here {_tau_prior_text(r)}), and consider a model that separates or "
            "down-weights outlying groups (a covariate, or a heavier-tailed population "
            "distribution); do not rely on the pooled estimates until this is understood.")
    ok = []
    d = r.checks.diagnostics
    if "SamplingWarning" not in kinds:
        bfmi = ", ".join(_fmt(b) for b in d.bfmi) if d.bfmi else DASH
        ok.append(f"sampling: {d.divergences} divergent transitions of {d.n_draws} draws, "
                  f"max R-hat {d.max_rhat:.4f} (<= {RHAT_MAX}), min ESS bulk / tail "
                  f"{d.min_ess_bulk:.0f} / {d.min_ess_tail:.0f} (>= {ESS_MIN}), BFMI per "
                  f"chain {bfmi} (>= {BFMI_MIN}), {d.max_treedepth_hits} maximum tree-depth "
                  f"hits")
    if "PriorDataConflictWarning" not in kinds:
        ok.append("prior-data conflict: the posterior means of mu and tau are consistent "
                  "with the data's own (REML) estimates and not in the far tail of their "
                  "priors (hiermodel.prior_data_conflict)")
    if not extreme:
        p = r.tables.ppc["p_value"]
        ok.append(f"posterior predictive checks: all {len(p)} p-values lie between "
                  f"{P_EXTREME:g} and {1 - P_EXTREME:g} (from {_fmt(float(p.min()))} to "
                  f"{_fmt(float(p.max()))})")
    if not lines:
        lines.append("- None.")
    if ok:
        lines += ["", "Checked and found no problem:", ""] + [f"- {s}." for s in ok]
    return lines


def _tau_prior_text(r: ReportResult) -> str:
    p = r.priors
    text = f"tau ~ {p.describe_each()['tau']}" if p is not None else "tau's prior"
    if p is not None and "tau_scale" in getattr(p, "from_data", ()):
        return f"{text}, scaled to the data"
    return f"{text}, set by the user"


# ---------------------------------------------------------------------------- model
def _model_lines(r: ReportResult) -> list[str]:
    d, p = r.data, r.priors
    y_i = DataTerms.of(d).ybar_i
    parameterization = r.settings.parameterization
    eqs = []
    if d.source == "estimates":
        eqs.append("y_i     | theta_i        ~ Normal(theta_i, se_i^2)     se_i known (given)")
        meaning = ("y_i is group i's estimate and se_i its standard error, both given in the "
                   "data and se_i treated as known")
    elif d.sigma_known:
        eqs.append(f"ybar_i  | theta_i        ~ Normal(theta_i, sigma^2 / n_i)  "
                   f"{sigma_text(d)} known")
        meaning = (f"ybar_i is the mean of the n_i observations of group i; the within-group "
                   f"sd is known ({sigma_text(d)}, given), so se_i = sigma / sqrt(n_i) is "
                   f"known")
    else:
        eqs.append("y_ij    | theta_i, sigma ~ Normal(theta_i, sigma^2)    sigma unknown")
        meaning = ("y_ij is observation j of group i; the within-group sd sigma is not "
                   "known and is estimated with the other parameters (the model uses the "
                   "group means ybar_i and within-group sums of squares, which carry all "
                   "the information: ybar_i ~ Normal(theta_i, sigma^2 / n_i))")
    if d.has_covariates:
        eqs.append(f"theta_i | mu, beta, tau  ~ Normal(mu + (x_i - xbar)' beta, tau^2)   "
                   f"i = 1, ..., {d.n_groups}")
    else:
        eqs.append(f"theta_i | mu, tau        ~ Normal(mu, tau^2)           i = 1, ..., "
                   f"{d.n_groups}")
    eqs.append(",   ".join(known_sigma_only(p, d).split("; "))
               if p is not None else "priors: see below")
    mean_i = "mu + (x_i - xbar)' beta" if d.has_covariates else "mu"
    form = {
        "marginal": (f"theta integrated out while sampling ({y_i} ~ Normal({mean_i}, tau^2 + "
                     f"se_i^2)) and then drawn exactly from p(theta | mu, "
                     f"{'beta, ' if d.has_covariates else ''}tau, y)"
                     + ("; mu and beta are integrated out too (NUTS samples tau alone) and "
                        "drawn exactly from p(mu, beta | tau, y), a normal distribution"
                        if d.has_covariates else "")),
        "centered": "theta_i sampled directly",
        "noncentered": "theta_i = mu + tau z_i with z_i sampled",
        "auto": "each theta_i partially centered according to its precision",
    }.get(parameterization, parameterization)
    if d.has_covariates:
        roles = _covariate_roles(d)
    else:
        roles = ("mu the mean of the population of groups and tau the sd of the theta_i "
                 "between groups (tau = 0: all groups alike)")
    return ["```", *eqs, "```", "",
            f"{meaning}. theta_i is group i's true mean (effect), {roles}. The posterior is "
            f"sampled in the {parameterization} form: {form}."]


def _covariate_roles(d) -> str:
    """What mu, beta, intercept and tau are in the meta-regression, with the xbar used."""
    names = list(d.covariate_names)
    xbar = ", ".join(f"{c} = {_fmt(float(v))}" for c, v in zip(names, d.covariate_means,
                                                                  strict=True))
    x = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
    return (f"x_i = {x}_i the group's covariate{'s' if len(names) > 1 else ''} and xbar "
            f"their mean{'s' if len(names) > 1 else ''} over the {d.n_groups} groups "
            f"({xbar}). The covariates are centred at xbar, so mu is the mean effect of a "
            f"group at the average covariates; beta[c] is the change in theta per unit of "
            f"covariate c (the others fixed); intercept = mu - xbar' beta is the effect at "
            f"covariates 0 (the intercept that metafor's rma reports, in the posterior as "
            f"`intercept`); tau is the residual sd of the theta_i between groups, the "
            f"heterogeneity the covariates do not explain (tau = 0: the regression line "
            f"explains all of it)")


def _prior_lines(r: ReportResult) -> list[str]:
    p, d = r.priors, r.data
    if p is None:
        return ["(the fit recorded no priors)"]
    bullets = p.explain(symbol=d.value_symbol)
    if d.sigma_known:
        bullets = [b for b in bullets if not b.startswith("- `sigma")]
        bullets.append("- sigma: no prior; the sampling sds se_i are known here.")
    return ["The priors actually used, with their numbers:", "", *bullets]


# ---------------------------------------------------------------------------- data
def _range(name: str, x, *, median: bool = False) -> str:
    """``"n_i from 5 to 20"``, or ``"n_i = 20 in every group"`` when all are equal."""
    x = np.asarray(x)
    lo, hi = x.min(), x.max()
    if np.isclose(lo, hi, rtol=1e-9, atol=0):
        return f"{name} = {_fmt(lo)} in every group"
    text = f"{name} from {_fmt(lo)} to {_fmt(hi)}"
    return text + (f", median {_fmt(float(np.median(x)))}" if median else "")


def _data_lines(r: ReportResult) -> list[str]:
    d, eb = r.data, r.eb
    name = DataTerms.of(d).ybar_i
    y, se = np.asarray(d.means, float), np.asarray(d.se, float)
    out = []
    if d.source == "observations":
        out.append(f"- N = {d.n_total} rows in G = {d.n_groups} groups "
                   f"({_range('n_i', d.n)}).")
    elif d.source == "summary":
        out.append(f"- G = {d.n_groups} groups given as means ybar_i of n_i observations "
                   f"(N = {d.n_total} in all, {_range('n_i', d.n)}).")
    else:
        out.append(f"- G = {d.n_groups} groups, each an estimate y_i with its standard "
                   f"error se_i (no row-level data).")
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    out.append(f"- {name}: from {_fmt(y[lo])} ({d.groups[lo]}) to {_fmt(y[hi])} "
               f"({d.groups[hi]}); mean {_fmt(float(y.mean()))}, sd "
               f"{_fmt(float(y.std(ddof=1)))}.")
    if d.source == "estimates":
        how = "given"
    elif d.sigma_known:
        how = f"sigma / sqrt(n_i) with {sigma_text(d)} known"
    else:
        how = (f"sigma_hat / sqrt(n_i) with the pooled within-group sd sigma_hat = "
               f"{_fmt(d.sigma_hat)} (a plug-in: the fit estimates sigma)")
    out.append(f"- Standard errors ({how}): {_range('se_i', se, median=True)}.")
    if d.has_covariates:
        for c in d.covariate_names:
            x = d.covariates[c].to_numpy(dtype=float)
            out.append(f"- Covariate {_range(c, x)}; mean {_fmt(float(x.mean()))}, sd "
                       f"{_fmt(float(x.std(ddof=1)))}.")
    method = eb.method.upper()
    estimate = (f"mu_hat = {_fmt(eb.mu)} (se {_fmt(eb.mu_se)}), tau_hat = {_fmt(eb.tau)}")
    if d.has_covariates:
        out.append(f"- Without the covariates, the empirical Bayes ({method}) "
                   f"fit of {name} ~ Normal(mu, tau^2 + se_i^2) gives {estimate}: the total "
                   f"heterogeneity that the covariates may explain (the meta-regression "
                   f"section gives the residual).")
        return out
    out.append(f"- Empirical Bayes ({method}) fit of {name} ~ Normal(mu, "
               f"tau^2 + se_i^2), the data's own estimate of the population: {estimate}.")
    return out


# ---------------------------------------------------------------------------- brief
def _brief_lines(r: ReportResult) -> list[str]:
    d, s = r.data, r.settings
    iv = IntervalTerms.of(s)
    lo_col, hi_col = s.interval_columns
    cov = d.has_covariates
    out: list[str] = []
    names = {"mu": "mu (population mean)", "tau": "tau (between-group sd)",
             "sigma": "sigma (within-group sd)"}
    coefficient: dict[str, str] = {"intercept": "intercept"}
    if cov:
        names.update({"mu": "mu (mean effect at the average covariates)",
                      "intercept": "intercept (effect at covariates 0, = mu - xbar' beta)",
                      "tau": "tau (residual between-group sd)"})
        for c in d.covariate_names:
            names[f"beta[{c}]"] = f"beta[{c}] (change in theta per unit of {c})"
            coefficient[f"beta[{c}]"] = c
    pop, exact = r.tables.population, r.tables.exact
    ex_lo, _, ex_hi = exact_quantile_columns(r)
    for var in pop.index:
        row = pop.loc[var]
        text = (f"- {names.get(var, var)}: posterior mean {_fmt(float(row['mean']))}, sd "
                f"{_fmt(float(row['sd']))}, {iv.posterior} "
                f"{interval_text(float(row[lo_col]), float(row[hi_col]))}")
        if exact is not None and var in exact.index:
            ex = exact.loc[var]
            text += (f"; exact posterior mean {_fmt(float(ex['mean']))}, "
                     f"{'central ' if iv.is_hdi else ''}interval "
                     f"{interval_text(float(ex[ex_lo]), float(ex[ex_hi]))}")
        if np.isfinite(row["eb"]):
            what = "pooled within-group sd" if var == "sigma" else "empirical Bayes"
            text += f"; {what} {_fmt(float(row['eb']))}"
            if cov and var != "sigma":
                text += eb_interval_text(r, var, coefficient.get(var))
        out.append(text + ".")
    new = r.new_group
    q_lo, q_med, q_hi = new.quantiles
    pct = iv.pct + iv.central
    if cov:
        text = (f"- A new group at the average covariates, theta_new ~ Normal(mu, tau^2): "
                f"predictive mean {_fmt(new.mean)}, median {_fmt(q_med)}, {pct} "
                f"prediction interval {interval_text(q_lo, q_hi)}")
        if new.exact is not None:
            text += f"; exact posterior {interval_text(*new.exact)}"
        pr = r.meta_prediction
        out.append(text + f"; empirical Bayes ({r.meta.method.upper()}) prediction "
                          f"interval {interval_text(float(pr['pi_low']), float(pr['pi_high']))}"
                          f" (plugs in tau_hat, so it is narrower when tau is uncertain).")
    else:
        out.append(f"- A new group from the same population, theta_new ~ Normal(mu, tau^2): "
                   f"predictive mean {_fmt(new.mean)}, median {_fmt(q_med)}, "
                   f"{pct} prediction interval {interval_text(q_lo, q_hi)}.")
    back = s.transform
    if not back.is_identity:
        at = " (at the average covariates)" if cov else ""
        m, t = new.mu_scaled, new.scaled
        out.append(f"- On the {back.scale}: {back.of('mu')}{at} has posterior median "
                   f"{_fmt(m[1])} and {pct} interval {interval_text(m[0], m[2])}; a new "
                   f"group's {back.of('theta_new')} has median {_fmt(t[1])} and {pct} "
                   f"prediction interval {interval_text(t[0], t[2])} (medians and quantiles "
                   f"of the transformed draws: they carry over through an increasing "
                   f"transform; means do not, so none is given on this scale).")
    t = r.tables.comparison
    if "shrinkage" in t:
        lo_g, hi_g = t["shrinkage"].idxmin(), t["shrinkage"].idxmax()
        lo_s, hi_s = float(t.at[lo_g, "shrinkage"]), float(t.at[hi_g, "shrinkage"])
        how = (f"{_fmt(lo_s)} of the way for every group" if np.isclose(lo_s, hi_s, rtol=1e-9)
               else f"{_fmt(lo_s)} ({lo_g}) to {_fmt(hi_s)} ({hi_g}) of the way")
        toward = ("its fitted value mu + (x_i - xbar)' beta on the regression line" if cov
                  else "mu")
        out.append(f"- Pooling: the posterior pulls each group's own mean towards {toward} by "
                   f"E[1 - w_i | y] = {how} (0 = no pooling, 1 = complete pooling).")
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("hiermodel", "pymc", "pytensor", "arviz", "nutpie", "numpy", "scipy",
                "pandas", "xarray", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _reproduce_lines(r: ReportResult) -> list[str]:
    return ["```bash", r.settings.command or "(called from Python: hiermodel.report.run_report)",
            "```", "",
            f"Seed: {r.settings.seed}. Run time: {r.seconds:.1f} s. The same command gives "
            f"byte-identical CSV files and posterior draws.", "", "Versions:", "",
            *[f"- {k} {v}" for k, v in _versions().items()]]
