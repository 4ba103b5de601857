r"""One reproducible run written to a folder: ``report.md``, CSV tables, ``idata.nc``, figures.

:func:`run_report` is what ``hiermodel eight-schools`` / ``hiermodel fit`` do after parsing
their arguments (:mod:`hiermodel.cli` only parses).  It fits the three-level normal model

    y_i | theta_i ~ N(theta_i, se_i^2),   theta_i | mu, tau ~ N(mu, tau^2),   priors on mu, tau

compares the fit with no / complete / partial pooling (empirical Bayes) and the exact
posterior, runs posterior predictive checks, and writes

* ``report.md`` -- readable without the code: the model, the priors actually used (with their
  numbers and, for data-scaled ones, the rule), the data, every warning at the top, then the
  tables, each with a definition of every column right under it;
* ``idata.nc`` (posterior, sample_stats, log_likelihood, observed/constant data, posterior
  predictive), ``comparison.csv``, ``population.csv``, ``diagnostics.csv``, ``ppc.csv`` and,
  unless sigma is estimated with covariates, ``exact_posterior.csv`` and, with ``transform``,
  the group table on the transformed scale ``comparison_<transform>.csv`` -- byte-identical
  for the same seed and options;
* figures: ``forest.png`` (the meta-analysis forest plot), ``forest_methods.png`` (theta_i by
  fit vs exact posterior), ``shrinkage.png``, ``tau.png``, ``ppc.png``, with covariates
  ``bubble_<covariate>.png`` (at most 4), and -- only when asked, since it needs a second fit
  of the centered form -- ``sampler_geometry.png``.  A figure the library cannot draw for the
  data is left out with a warning at the top of the report.

With group-level covariates (``data.has_covariates``) the model is the meta-regression
``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)`` and the report adds the empirical-Bayes
meta-regression as metafor reports it (:func:`hiermodel.meta_analysis`) beside the posterior
and exact-posterior summaries of mu, beta, intercept and tau; data in estimates form without
covariates get the intercept-only random-effects meta-analysis (Q, I^2, H^2, tau^2 CI,
prediction interval).

One interval convention throughout the report: 95% central (equal-tailed) posterior
intervals, from the 2.5% to the 97.5% posterior quantile.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import stack
from .core import predictive_quantiles
from .formatting import DASH as _DASH
from .formatting import format_number
from .predictive import P_EXTREME
from .transforms import IDENTITY, Transform

__all__ = ["run_report", "INTERVAL_PROB", "P_EXTREME", "markdown_table", "format_number"]

#: the file that marks a folder as a hiermodel run (which a later run may replace)
RUN_MARKER = ".hiermodel-run"
#: probability of every interval in the report (central, equal-tailed)
INTERVAL_PROB = 0.95
_Q = ((1 - INTERVAL_PROB) / 2, (1 + INTERVAL_PROB) / 2)
_PCT = f"{100 * INTERVAL_PROB:g}%"
_SAMPLE = ("chain", "draw")


# ============================================================================ formatting
_fmt = format_number


def _cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|")


def markdown_table(df: pd.DataFrame, index: str | None = None) -> str:
    """``df`` as a GitHub markdown table, numbers by :func:`format_number`, the index as the
    first column (named ``index`` or ``df.index.name``); numeric columns right-aligned."""
    name = index or df.index.name
    if not name:
        raise ValueError("markdown_table: name the index (every column gets a definition).")
    heads = [str(name)] + [str(c) for c in df.columns]
    numeric = [False] + [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    rows = [[_cell(i)] + [_cell(v) for v in row]
            for i, row in zip(df.index, df.itertuples(index=False), strict=True)]
    out = ["| " + " | ".join(heads) + " |",
           "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _columns_list(heads: Sequence[str], defs: Mapping[str, str]) -> str:
    missing = [h for h in heads if h not in defs]
    if missing:  # a programming error: every column shown must be defined
        raise KeyError(f"report: no definition for column(s) {missing}")
    return "Columns:\n\n" + "\n".join(f"- `{h}`: {defs[h]}" for h in heads)


def _table_block(df: pd.DataFrame, defs: Mapping[str, str], index: str | None = None) -> str:
    """The table and, right under it, the definition of each of its columns."""
    name = index or df.index.name
    heads = [str(name)] + [str(c) for c in df.columns]
    return markdown_table(df, name) + "\n\n" + _columns_list(heads, defs)


def _interval(lo: float, hi: float) -> str:
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


# ============================================================================ the run
@dataclass
class _Run:
    """Everything computed by one run, for writing the report."""

    data: Any
    title: str
    command: str
    seed: int
    sampler: str
    parameterization: str
    draws: int
    tune: int
    chains: int
    eb_method: str
    priors: Any = None                # the resolved priors the fit used
    idata: Any = None
    pp_idata: Any = None
    diag: Any = None
    diag_table: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    comparison_scaled: pd.DataFrame | None = None   # the group table on the transform's scale
    population: pd.DataFrame | None = None
    exact: Any = None
    exact_table: pd.DataFrame | None = None
    ppc: pd.DataFrame | None = None
    transform: Transform = IDENTITY   # the scale the effect-scale numbers are also shown on
    knha: bool = False
    meta: Any = None                  # hm.meta_analysis (EB, metafor's rma), or None
    meta_pred: pd.Series | None = None  # its prediction for a new group at the mean covariates
    meta_pred_scaled: pd.Series | None = None  # the same on the transform's scale
    figures: list[tuple[str, str]] = field(default_factory=list)   # (file, caption)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (kind, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (category, message)
    seconds: float = 0.0
    lo_col: str = "eti_low"       # compare()'s names for the interval columns
    hi_col: str = "eti_high"


def run_report(
    data: Any,
    out: str | os.PathLike,
    *,
    seed: int,
    priors: Any = None,
    sampler: str = "nutpie",
    parameterization: str = "marginal",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    eb_method: str = "reml",
    progressbar: bool | None = None,
    figures: bool = True,
    sampler_geometry: bool = False,
    transform: str | None = None,
    knha: bool = False,
    command: str = "",
    title: str = "hiermodel run",
    log: Callable[[str], Any] = print,
) -> dict[str, Path]:
    """Fit, compare, check and write everything to ``out``; returns the files written.

    Parameters
    ----------
    data : HierData
    out : path
        Output folder.  Written whole or not at all: everything goes to a temporary folder
        beside it, which replaces ``out`` only when the run has finished (an interrupted run
        leaves ``out`` as it was).  ``out`` must be new, empty, or a previous hiermodel run
        (it holds the marker file ``.hiermodel-run``), which is replaced as a whole.
    seed : int
        Same seed and options -> byte-identical CSVs and posterior draws.
    priors : Priors, optional
        Default ``Priors()`` (scaled to the data); the fit resolves them and the report
        states the numbers used.
    sampler, parameterization, draws, tune, chains, progressbar
        Passed to :func:`hiermodel.fit`.
    eb_method : {"dl", "pm", "ml", "reml", "he", "sj", "hs", "ee", "sd_of_means"}, default "reml"
        The tau estimator of the empirical-Bayes columns (:data:`hiermodel.core.EB_METHODS`;
        ``"ee"``: the equal-effects model, tau = 0).
    figures : bool, default True
        Write the PNG figures.
    sampler_geometry : bool, default False
        Also fit the centered form (the non-centered one if the main fit is centered) and
        write ``sampler_geometry.png``: the sampler's view of one group against log tau,
        divergences in red.  Off by default: it doubles the run time.
    transform : str, optional
        A name from :data:`hiermodel.transforms.TRANSFORMS`: ``"exp"`` for log ratios,
        ``"expit"`` for logit proportions, ``"tanh"`` for Fisher's z.  Every number on the
        effect scale is also given on the transformed scale, which is named: the pooled
        estimate, its confidence and prediction intervals (metafor's ``predict(res,
        transf=exp)``), the summary of mu and a new group (from the transformed draws), a
        group table (``comparison_<name>.csv``), the forest and bubble plots.  tau^2, se and
        Q stay on the analysis scale, labelled so.
    knha : bool, default False
        Knapp-Hartung (t) tests and intervals in the empirical-Bayes meta-analysis section
        (:func:`hiermodel.meta_analysis`).
    command, title : str
        Recorded in the report.
    log : callable
        Progress lines (the CLI prints them to stderr).
    """
    from .transforms import check_transform

    transform = check_transform(transform)
    if knha and eb_method == "ee":
        raise ValueError("--knha (Knapp-Hartung) is for random-effects models; with "
                         "--eb-method ee (equal effects, tau = 0) leave --knha out or pick "
                         "a tau estimator such as reml.")
    final = _check_out(Path(out))
    try:
        out = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    except OSError as err:  # e.g. a read-only file system
        raise ValueError(f"--out {str(final)!r}: cannot write beside it "
                         f"({err.strerror or err}).") from None
    try:
        files = _run_into(out, data, final=final, seed=seed, priors=priors, sampler=sampler,
                          parameterization=parameterization, draws=draws, tune=tune,
                          chains=chains, eb_method=eb_method, progressbar=progressbar,
                          figures=figures, sampler_geometry=sampler_geometry,
                          transform=transform, knha=knha, command=command, title=title,
                          log=log)
        (out / RUN_MARKER).write_text(f"hiermodel {command}\n", encoding="utf-8")
        _replace_folder(out, final)
    except BaseException:  # Ctrl-C included: the previous results stay as they were
        shutil.rmtree(out, ignore_errors=True)
        raise
    return {k: final / p.name for k, p in files.items()}


def _check_out(out: Path) -> Path:
    """``out`` as an absolute path whose parent exists, or a ValueError naming it."""
    out = out.expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder; choose a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_MARKER).exists():
        raise ValueError(f"--out {str(out)!r} is not empty and was not written by hiermodel "
                         "(no .hiermodel-run marker): choose a new or empty folder, so that "
                         "no file of yours is replaced.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {str(out)!r}: cannot create its parent folder "
                         f"({err.strerror or err}).") from None
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out {str(out)!r}: its parent folder is not writable.")
    return out


def _replace_folder(new: Path, final: Path) -> None:
    """Put the finished ``new`` folder at ``final`` (replacing a previous run whole)."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        old.rmdir()
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _run_into(out: Path, data: Any, *, final: Path, seed: int, priors: Any, sampler: str,
              parameterization: str, draws: int, tune: int, chains: int, eb_method: str,
              progressbar: bool | None, figures: bool, sampler_geometry: bool,
              transform: Transform, knha: bool, command: str, title: str,
              log: Callable[[str], Any]) -> dict[str, Path]:
    """The run itself, writing into ``out`` (the staging folder)."""
    from .diagnostics import convergence_table, sampling_diagnostics
    from .io import save
    from .priors import Priors
    from .sampling import fit

    files: dict[str, Path] = {}
    t0 = time.perf_counter()
    run = _Run(data=data, title=title, command=command, seed=seed, sampler=sampler,
               parameterization=parameterization, draws=draws, tune=tune, chains=chains,
               eb_method=eb_method, transform=transform, knha=bool(knha))
    planned = Priors.check(priors, data=data)   # for the log line; the fit records its own
    log(f"hiermodel: priors: {_known_only(planned.describe(), data)}")
    log(f"hiermodel: fitting {data.n_groups} groups ({parameterization}, {sampler}, "
        f"{chains} x {draws} draws after {tune} tuning steps, seed {seed}) ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = fit(data, parameterization=parameterization, priors=priors, sampler=sampler,
                    draws=draws, tune=tune, chains=chains, seed=seed,
                    progressbar=progressbar, posterior_predictive=False)
        run.idata = idata
        run.priors = _fit_priors(idata, planned)
        run.pp_idata = _predictive(idata, data, seed)
        files["idata"] = save(run.pp_idata, out / "idata.nc")
        run.diag_table = convergence_table(idata)
        run.diag_table.index.name = "parameter"
        run.diag_table.to_csv(out / "diagnostics.csv", float_format="%.10g")
        files["diagnostics"] = out / "diagnostics.csv"
        run.diag = sampling_diagnostics(idata)
        _tables(run, out, files)
        if figures or sampler_geometry:
            _figures(run, out, files, figures=figures, sampler_geometry=sampler_geometry,
                     progressbar=progressbar, log=log)
    run.warnings = _collect_warnings(caught) + run.skipped
    for _, msg in run.warnings:
        log("hiermodel: WARNING: " + msg.removeprefix("hiermodel ").replace("\n", "\n  "))
    for msg in _extreme_messages(run):
        log("hiermodel: WARNING: extreme predictive p-value: " + msg)
    run.seconds = time.perf_counter() - t0
    (out / "report.md").write_text(_report(run), encoding="utf-8")
    files["report"] = out / "report.md"
    log(f"hiermodel: wrote {len(files)} files to {final}/ in {run.seconds:.1f} s")
    return files


def _fit_priors(idata: Any, fallback: Any) -> Any:
    """The (resolved) priors the fit recorded in its posterior attrs."""
    from .priors import Priors

    got = Priors.from_attrs(idata.posterior.attrs)
    return fallback if got is None else got


def _known_only(describe: str, data: Any) -> str:
    """``Priors.describe()`` without the sigma part when sigma is known (it is not used)."""
    parts = describe.split("; ")
    if data.sigma_known:
        parts = [p for p in parts if not p.startswith("sigma ~")]
    return "; ".join(parts).replace(" (if unknown)", "")


def _predictive(idata: Any, data: Any, seed: int) -> Any:
    """Posterior predictive draws: the same groups (y), new groups (y_mixed), a new group."""
    from .predictive import posterior_predictive

    if data.sigma_known and data.n is not None:
        kw = {"n_new": int(np.median(data.n))}
    else:
        kw = {"se_new": float(np.median(data.se))}
    return posterior_predictive(idata, data, seed=seed, **kw)


# ============================================================================ tables
def _interval_columns(table: pd.DataFrame) -> tuple[str, str]:
    """The names compare() gave its lower and upper interval columns (``eti_low/high``)."""
    lows = [c for c in table.columns if str(c).endswith("_low")]
    highs = [c for c in table.columns if str(c).endswith("_high")]
    if len(lows) != 1 or len(highs) != 1:
        raise ValueError(f"report: expected one interval column pair in {list(table.columns)}")
    return lows[0], highs[0]


def _tables(run: _Run, out: Path, files: dict[str, Path]) -> None:
    """Comparison, population, exact posterior and predictive-check tables (and CSVs)."""
    from .comparison import compare, compare_population
    from .predictive import ppc_table
    from .shrinkage import exact_posterior

    data, idata = run.data, run.idata
    eti = {"interval": "eti", "prob": INTERVAL_PROB, "priors": run.priors}
    table = compare(idata, data, eb_method=run.eb_method, **eti)
    run.lo_col, run.hi_col = _interval_columns(table)
    run.comparison = table
    table.to_csv(out / "comparison.csv", float_format="%.10g")
    files["comparison"] = out / "comparison.csv"
    if not run.transform.is_identity:
        scaled = compare(idata, data, eb_method=run.eb_method, transform=run.transform.name,
                         **eti)
        run.comparison_scaled = scaled
        name = f"comparison_{run.transform.name}.csv"
        scaled.to_csv(out / name, float_format="%.10g")
        files["comparison_transformed"] = out / name

    if data.sigma_known or not data.has_covariates:
        run.exact = exact_posterior(data, run.priors)
        run.exact_table = run.exact.summary(quantiles=(_Q[0], 0.5, _Q[1]))
        run.exact_table.to_csv(out / "exact_posterior.csv", float_format="%.10g")
        files["exact"] = out / "exact_posterior.csv"

    if data.has_covariates or data.source == "estimates":
        _meta(run)
    pop = compare_population(idata, data, eb_method=_population_method(run), **eti)
    run.population = pop
    pop.to_csv(out / "population.csv", float_format="%.10g")
    files["population"] = out / "population.csv"

    ppc = pd.concat({v: ppc_table(run.pp_idata, var_name=v) for v in ("y", "y_mixed")},
                    names=["replicate"])
    ppc.to_csv(out / "ppc.csv", float_format="%.10g")
    files["ppc"] = out / "ppc.csv"
    run.ppc = ppc


def _meta(run: _Run) -> None:
    """The empirical-Bayes random-effects meta-analysis / meta-regression (metafor's ``rma``)
    and its prediction for a new group at the average covariates."""
    from .core import METAREG_METHODS
    from .shrinkage import meta_analysis

    d = run.data
    method = run.eb_method if run.eb_method in METAREG_METHODS else "reml"
    run.meta = meta_analysis(d, method=method, knha=run.knha, level=INTERVAL_PROB)
    at = (pd.DataFrame([d.covariate_means], columns=list(d.covariate_names))
          if d.has_covariates else None)
    run.meta_pred = run.meta.predict(at).iloc[0]
    if not run.transform.is_identity:
        run.meta_pred_scaled = run.meta.predict(at, transform=run.transform.name).iloc[0]


def _beta_names(data: Any) -> list[str]:
    return [f"beta[{c}]" for c in data.covariate_names]


def _population_method(run: _Run) -> str:
    """The EB method of the population table: with covariates the meta-regression's (the
    sd-of-means plug-in has none; REML then, as :func:`_meta`)."""
    from .core import METAREG_METHODS

    if run.data.has_covariates and run.eb_method not in METAREG_METHODS:
        return "reml"
    return run.eb_method


def _exact_new_group(run: _Run) -> tuple[float, float] | None:
    """The exact posterior's central interval of theta_new ~ Normal(mu, tau^2) (a new group
    at the average covariates): a normal mixture over the tau grid."""
    ex = run.exact
    if ex is None:
        return None
    q = ex.core.theta_new_quantiles(np.asarray(_Q, float))
    return float(q[0]), float(q[1])


# ============================================================================ figures
def _save(fig: Any, path: Path, files: dict[str, Path], key: str) -> None:
    fig.savefig(path, dpi=110)
    files[key] = path


def _figures(run: _Run, out: Path, files: dict[str, Path], *, figures: bool,
             sampler_geometry: bool, progressbar: bool | None, log: Callable) -> None:
    from . import plots

    data, idata, table = run.data, run.idata, run.comparison
    n_draws = int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
    cov = data.has_covariates
    at = " at the average covariates" if cov else ""
    if figures:
        back = run.transform
        scale = ("" if back.is_identity else
                 f" The axis is on the back-transformed scale, the {back.scale}: every point "
                 f"and interval end is {back.name} of its value on the {back.analysis_scale} "
                 f"scale (the transform is increasing, so medians and central intervals carry "
                 f"over).")
        _figure(run, out, files, "forest.png", lambda: plots.plot_meta_forest(
            idata, data, prob=INTERVAL_PROB, transform=back.name),
            f"Forest plot: each group's observed {_ybar(data)} ± 1.96 se_i (black), its "
            f"posterior theta_i (blue: median and {_PCT} interval), the pooled mu{at} "
            f"(diamond: median and {_PCT} interval) and the {_PCT} prediction interval for a "
            f"new group's theta_new ~ Normal(mu, tau^2){at}.{scale}", log)
        if run.exact is not None:
            def methods() -> Any:
                exact = run.exact.sample(draws=idata.posterior.sizes["draw"],
                                         chains=idata.posterior.sizes["chain"], seed=run.seed)
                return plots.plot_forest({run.parameterization: idata, "exact": exact},
                                         prob=INTERVAL_PROB)
            _figure(run, out, files, "forest_methods.png", methods,
                    f"theta_i by method: the {run.parameterization} NUTS fit ({n_draws} draws) "
                    f"against as many exact posterior draws; point = median, thick bar = "
                    f"quartiles, thin bar = {_PCT} interval of each method's draws.", log)
        for name in list(data.covariate_names)[:MAX_BUBBLES]:
            _figure(run, out, files, f"bubble_{_file_part(name)}.png",
                    lambda name=name: _bubble(run, name),
                    _bubble_caption(run, name), log)
        if len(data.covariate_names) > MAX_BUBBLES:
            rest = list(data.covariate_names)[MAX_BUBBLES:]
            _skip(run, f"bubble plots for covariate(s) {rest} not drawn",
                  f"the report draws at most {MAX_BUBBLES} bubble plots (one per covariate, "
                  f"the first {MAX_BUBBLES} of --covariates); draw the others with "
                  f"hiermodel.plots.plot_bubble(idata, covariate=...)")
        target = ("its fitted value on the regression line, mu + (x_i - xbar)' beta (the "
                  "horizontal lines at the posterior mean of mu and the empirical-Bayes "
                  "mu_hat are those fitted values at the average covariates)" if cov else
                  "mu; lines at the posterior mean of mu and the empirical-Bayes mu_hat")
        _figure(run, out, files, "shrinkage.png", lambda: plots.plot_shrinkage(table),
                f"Shrinkage: each group's move from its own {_own(data)} {_ybar(data)} (no "
                f"pooling) to its empirical-Bayes ({run.eb_method.upper()}) estimate and its "
                f"posterior mean (full Bayes), pulled toward {target}; marker area by "
                f"precision.", log)
        _figure(run, out, files, "tau.png",
                lambda: plots.plot_tau(idata, data, prob=INTERVAL_PROB),
                f"Left: the posterior density of tau (shaded: {_PCT} interval) with each "
                f"empirical-Bayes tau_hat marked. Right: the weight w_i(tau) = tau^2 / (tau^2 "
                f"+ se_i^2) each group's own mean gets, as a function of tau.", log)
        _figure(run, out, files, "ppc.png",
                lambda: plots.plot_test_statistics(run.pp_idata, var_name="y_mixed"),
                f"Posterior predictive check with new groups (y_mixed): histograms of each "
                f"test statistic over {n_draws} replicated datasets, the observed value as a "
                f"line (the `y_mixed` rows of the predictive-check table).", log)
    if sampler_geometry:
        _sampler_geometry(run, out, files, progressbar=progressbar, log=log)


#: at most this many bubble plots (one per covariate) in a report
MAX_BUBBLES = 4


def _figure(run: _Run, out: Path, files: dict[str, Path], name: str, make: Callable[[], Any],
            caption: str, log: Callable) -> None:
    """Draw and save one figure; a figure the library cannot draw for these data (it raises
    NotImplementedError, e.g. not yet with covariates) is skipped with a warning in the
    report and the log, never silently."""
    try:
        fig = make()
    except NotImplementedError as err:
        why = str(err).splitlines()[0].split(". ")[0].rstrip(".")
        _skip(run, f"figure {name} not drawn", f"{why} (hiermodel.plots cannot draw it for "
                                               f"these data yet).")
        return
    _save(fig, out / name, files, "fig_" + name[:-4])      # hiermodel's figures: no pyplot
    run.figures.append((name, caption))


def _skip(run: _Run, what: str, why: str) -> None:
    run.skipped.append(("skipped", f"{what}:\n- {why}"))


def _file_part(name: str) -> str:
    """A covariate name as a safe piece of a file name."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "covariate"


def _bubble(run: _Run, name: str) -> Any:
    """Bubble plot of one covariate: the full-Bayes fit (left) beside the empirical-Bayes
    meta-regression (right), on the same axes."""
    from . import plots

    return plots.plot_bubble([run.idata, run.meta], run.data, covariate=name,
                             prob=INTERVAL_PROB, transform=run.transform.name)


def _bubble_caption(run: _Run, name: str) -> str:
    d = run.data
    others = [c for c in d.covariate_names if c != name]
    held = (f" with {', '.join(others)} held at {'its' if len(others) == 1 else 'their'} "
            f"mean{'s' if len(others) > 1 else ''}" if others else "")
    return (f"Bubble plot of {name}: each group's {_ybar(d)} against its {name} (bubble area "
            f"by precision 1 / se_i^2). Left, full Bayes: the posterior median of the "
            f"regression line mu + ({name} - mean) beta[{name}]{held}, its {_PCT} credible "
            f"band (shaded) and the {_PCT} prediction interval of a new group (dashed). "
            f"Right, empirical Bayes ({run.meta.method.upper()}): the fitted line, its {_PCT} "
            f"confidence band and prediction interval (metafor's predict(rma))."
            + _bubble_scale(run))


def _bubble_scale(run: _Run) -> str:
    back = run.transform
    if back.is_identity:
        return ""
    return (f" The y axis is on the {back.scale}: the estimates, lines and bands are "
            f"{back.name} of their values on the {back.analysis_scale} scale; the slopes in "
            f"the titles stay on the {back.analysis_scale} scale.")


def _sampler_geometry(run: _Run, out: Path, files: dict[str, Path], *,
                      progressbar: bool | None, log: Callable) -> None:
    """Fit the centered form too (non-centered if the main fit is centered) and plot both."""
    from . import plots
    from .sampling import fit

    other = "centered" if run.parameterization != "centered" else "noncentered"
    log(f"hiermodel: fitting the {other} form too, for the sampler-geometry figure ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its divergences are the point; stated in the caption
        second = fit(run.data, parameterization=other, priors=run.priors, sampler=run.sampler,
                     draws=run.draws, tune=run.tune, chains=run.chains, seed=run.seed,
                     progressbar=progressbar)
    fits = {run.parameterization: run.idata, other: second}
    _save(plots.plot_sampler_geometry(fits), out / "sampler_geometry.png", files,
          "fig_sampler_geometry")
    div = {k: _divergences(v) for k, v in fits.items()}
    n = int(second.posterior.sizes["chain"] * second.posterior.sizes["draw"])
    group = run.data.groups[0]
    run.figures.append((
        "sampler_geometry.png",
        f"Sampler geometry (a diagnostic of the MCMC, not a publication-bias funnel plot): "
        f"group {group}'s coordinate against log tau in each fitted form, divergent "
        f"transitions in red. Divergences: "
        + ", ".join(f"{k} {v} of {n}" for k, v in div.items())
        + f". The {other} form was fitted only for this figure; its results are not used "
          "anywhere else in this report."))


def _divergences(idata: Any) -> int:
    if "sample_stats" in stack.groups(idata) and "diverging" in idata.sample_stats:
        return int(idata.sample_stats["diverging"].sum())
    return 0


# ============================================================================ warnings
def _collect_warnings(caught: Sequence[warnings.WarningMessage]) -> list[tuple[str, str]]:
    """hiermodel's own warnings of the run, deduplicated, as (kind, message)."""
    from .exceptions import HierModelWarning, PredictiveCheckWarning

    out: list[tuple[str, str]] = []
    for w in caught:
        msg = str(w.message)
        if issubclass(w.category, PredictiveCheckWarning):
            continue  # the report has its own, fuller section on extreme p-values
        if issubclass(w.category, HierModelWarning):
            kind = w.category.__name__
        elif msg.startswith("exact_posterior"):
            kind = "exact posterior"
        else:
            continue
        if (kind, msg) not in out:
            out.append((kind, msg))
    return out


def _extreme(ppc: pd.DataFrame) -> pd.Series:
    p = ppc["p_value"]
    return (p < P_EXTREME) | (p > 1 - P_EXTREME)


def _check_name(key: tuple) -> str:
    return f"{key[0]}: {key[1]}"


def _n_rep(run: _Run) -> int:
    pp = run.pp_idata.posterior_predictive
    return int(pp.sizes["chain"] * pp.sizes["draw"])


def _extreme_messages(run: _Run) -> list[str]:
    """One sentence per extreme predictive p-value, stating the numbers."""
    out = []
    s = _n_rep(run)
    ppc = run.ppc
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


def _warning_lines(run: _Run) -> list[str]:
    """The 'Warnings' section: every problem found, then what was checked and found fine."""
    from .diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX

    lines: list[str] = []
    kinds = {k for k, _ in run.warnings}
    for kind, msg in run.warnings:
        head, *items = msg.split("\n- ")
        head = head.strip().removeprefix("hiermodel ").rstrip(":")
        lines.append(f"- **{head[:1].upper() + head[1:]}** ({kind}):")
        lines += [f"  - {item.strip()}" for item in items] or [f"  - {head}"]
    extreme = _extreme_messages(run)
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
            f"(here {_tau_prior_text(run)}), and consider a model that separates or "
            "down-weights outlying groups (a covariate, or a heavier-tailed population "
            "distribution); do not rely on the pooled estimates until this is understood.")
    ok = []
    d = run.diag
    if "SamplingWarning" not in kinds:
        bfmi = ", ".join(_fmt(b) for b in d.bfmi) if d.bfmi else _DASH
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
        p = run.ppc["p_value"]
        ok.append(f"posterior predictive checks: all {len(p)} p-values lie between "
                  f"{P_EXTREME:g} and {1 - P_EXTREME:g} (from {_fmt(float(p.min()))} to "
                  f"{_fmt(float(p.max()))})")
    if not lines:
        lines.append("- None.")
    if ok:
        lines += ["", "Checked and found no problem:", ""] + [f"- {s}." for s in ok]
    return lines


def _tau_prior_text(run: _Run) -> str:
    p = run.priors
    text = p.describe().split("; ")[1] if p is not None else "tau's prior"
    if p is not None and "tau_scale" in getattr(p, "from_data", ()):
        return f"{text}, scaled to the data"
    return f"{text}, set by the user"


# ============================================================================ report text
def _report(run: _Run) -> str:
    lines = [f"# {run.title}", ""]
    lines += _intro(run) + [""]
    lines += ["## Warnings", ""] + _warning_lines(run) + [""]
    lines += ["## Model", ""] + _model_lines(run) + [""]
    lines += ["## Priors", ""] + _prior_lines(run) + [""]
    lines += ["## Data", ""] + _data_lines(run) + [""]
    lines += ["## Results in brief", ""] + _brief_lines(run) + [""]
    if run.meta is not None:
        lines += [f"## {_meta_title(run)}", ""] + _meta_lines(run) + [""]
    head = ("no pooling and partial pooling toward the regression line, against the posterior"
            if run.data.has_covariates else
            "no, complete and partial pooling against the posterior")
    lines += [f"## Group estimates: {head}", ""] + _comparison_lines(run) + [""]
    if run.comparison_scaled is not None:
        lines += [f"### Group estimates on the {run.transform.scale}", ""]
        lines += _scaled_comparison_lines(run) + [""]
    lines += ["## Population parameters", ""] + _population_lines(run) + [""]
    lines += ["## Exact posterior", ""] + _exact_lines(run) + [""]
    lines += ["## Posterior predictive checks", ""] + _ppc_lines(run) + [""]
    if run.figures:
        lines += ["## Figures", ""]
        for name, caption in run.figures:
            lines += [f"![{name[:-4]}]({name})", "", caption, ""]
    lines += ["## Sampler diagnostics", ""] + _diagnostic_lines(run) + [""]
    if run.data.source == "estimates":  # the data are estimates y_i, not group means ybar_i
        lines = [line if line.startswith(("# ", "|")) else line.replace("ybar", "y")
                 for line in "\n".join(lines).split("\n")]
    lines += ["## Reproduce", ""] + _reproduce_lines(run)
    return "\n".join(lines).rstrip("\n") + "\n"


def _intro(run: _Run) -> list[str]:
    d = run.data
    n = run.diag.n_draws
    what = ("A Bayesian three-level normal (hierarchical / random-effects) model"
            if not d.has_covariates else
            f"A Bayesian random-effects meta-regression (a three-level normal model whose "
            f"group means depend on the covariate{'s' if d.n_covariates > 1 else ''} "
            f"{', '.join(d.covariate_names)})")
    return [
        f"{what} fitted to "
        f"{d.n_groups} groups with hiermodel: {run.chains} chains x {run.draws} draws of "
        f"NUTS ({n} in all; sampler {run.sampler}, {run.parameterization} form, seed "
        f"{run.seed}), set against no pooling"
        + ("" if d.has_covariates else ", complete pooling")
        + f"{', ' if run.exact is not None else ' and '}empirical-Bayes partial pooling"
        + (" toward the meta-regression line" if d.has_covariates else "")
        + f"{' and the exact posterior' if run.exact is not None else ''}.",
        "",
        f"**Conventions.** Every interval in this report is a {_PCT} central "
        f"(equal-tailed) posterior interval: from the {100 * _Q[0]:g}% to the "
        f"{100 * _Q[1]:g}% posterior quantile. Numbers have 4 significant digits (more for "
        f"large values); {_DASH} marks a value that is not defined for that row."
        + _scale_convention(run),
    ]


def _scale_convention(run: _Run) -> str:
    back = run.transform
    if back.is_identity:
        return ""
    return (f" Effect-scale numbers are on the {back.analysis_scale} scale, where the model is "
            f"fitted, unless the line, heading or figure names the {back.scale}: there they "
            f"are {back.name} of the value on the {back.analysis_scale} scale -- for estimates "
            f"and interval "
            f"ends the transformed value, for posterior draws the median and quantiles of the "
            f"transformed draws (a mean does not carry over through the transform).")


def _sigma_text(d: Any) -> str:
    sig = np.unique(np.asarray(d.sigma, float))
    return f"sigma = {_fmt(float(sig[0]))}" if sig.size == 1 else "sigma_i (one per group)"


def _model_lines(run: _Run) -> list[str]:
    d, p = run.data, run.priors
    eqs = []
    if d.source == "estimates":
        eqs.append("y_i     | theta_i        ~ Normal(theta_i, se_i^2)     se_i known (given)")
        meaning = ("y_i is group i's estimate and se_i its standard error, both given in the "
                   "data and se_i treated as known")
    elif d.sigma_known:
        eqs.append(f"ybar_i  | theta_i        ~ Normal(theta_i, sigma^2 / n_i)  "
                   f"{_sigma_text(d)} known")
        meaning = (f"ybar_i is the mean of the n_i observations of group i; the within-group "
                   f"sd is known ({_sigma_text(d)}, given), so se_i = sigma / sqrt(n_i) is "
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
    eqs.append(_known_only(p.describe(), d).replace("; ", ",   ") if p is not None
               else "priors: see below")
    mean_i = "mu + (x_i - xbar)' beta" if d.has_covariates else "mu"
    form = {
        "marginal": (f"theta integrated out while sampling (ybar_i ~ Normal({mean_i}, tau^2 + "
                     f"se_i^2)) and then drawn exactly from p(theta | mu, "
                     f"{'beta, ' if d.has_covariates else ''}tau, y)"
                     + ("; mu and beta are integrated out too (NUTS samples tau alone) and "
                        "drawn exactly from p(mu, beta | tau, y), a normal distribution"
                        if d.has_covariates else "")),
        "centered": "theta_i sampled directly",
        "noncentered": "theta_i = mu + tau z_i with z_i sampled",
        "auto": "each theta_i partially centered according to its precision",
    }.get(run.parameterization, run.parameterization)
    if d.has_covariates:
        roles = _covariate_roles(d)
    else:
        roles = ("mu the mean of the population of groups and tau the sd of the theta_i "
                 "between groups (tau = 0: all groups alike)")
    return ["```", *eqs, "```", "",
            f"{meaning}. theta_i is group i's true mean (effect), {roles}. The posterior is "
            f"sampled in the {run.parameterization} form: {form}."]


def _covariate_roles(d: Any) -> str:
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


def _prior_lines(run: _Run) -> list[str]:
    p, d = run.priors, run.data
    if p is None:
        return ["(the fit recorded no priors)"]
    bullets = p.explain()
    if d.sigma_known:
        bullets = [b for b in bullets if not b.startswith("- `sigma")]
        bullets.append("- sigma: no prior; the sampling sds se_i are known here.")
    return ["The priors actually used, with their numbers:", "", *bullets]


def _data_lines(run: _Run) -> list[str]:
    from .core import estimate_tau

    d = run.data
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
    name = "y_i" if d.source == "estimates" else "ybar_i"
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    out.append(f"- {name}: from {_fmt(y[lo])} ({d.groups[lo]}) to {_fmt(y[hi])} "
               f"({d.groups[hi]}); mean {_fmt(float(y.mean()))}, sd "
               f"{_fmt(float(y.std(ddof=1)))}.")
    if d.source == "estimates":
        how = "given"
    elif d.sigma_known:
        how = f"sigma / sqrt(n_i) with {_sigma_text(d)} known"
    else:
        how = (f"sigma_hat / sqrt(n_i) with the pooled within-group sd sigma_hat = "
               f"{_fmt(d.sigma_hat)} (a plug-in: the fit estimates sigma)")
    out.append(f"- Standard errors ({how}): {_range('se_i', se, median=True)}.")
    if d.has_covariates:
        for c in d.covariate_names:
            x = d.covariates[c].to_numpy(dtype=float)
            out.append(f"- Covariate {_range(c, x)}; mean {_fmt(float(x.mean()))}, sd "
                       f"{_fmt(float(x.std(ddof=1)))}.")
    eb = estimate_tau(y, se, run.eb_method)
    if d.has_covariates:
        out.append(f"- Without the covariates, the empirical Bayes ({run.eb_method.upper()}) "
                   f"fit of {name} ~ Normal(mu, tau^2 + se_i^2) gives mu_hat = "
                   f"{_fmt(float(eb.mu))} (se {_fmt(float(np.sqrt(eb.mu_var)))}), tau_hat = "
                   f"{_fmt(float(eb.tau))}: the total heterogeneity that the covariates may "
                   f"explain (the meta-regression section gives the residual).")
        return out
    out.append(f"- Empirical Bayes ({run.eb_method.upper()}) fit of {name} ~ Normal(mu, "
               f"tau^2 + se_i^2), the data's own estimate of the population: mu_hat = "
               f"{_fmt(float(eb.mu))} (se {_fmt(float(np.sqrt(eb.mu_var)))}), tau_hat = "
               f"{_fmt(float(eb.tau))}.")
    return out


def _range(name: str, x: Any, *, median: bool = False) -> str:
    """``"n_i from 5 to 20"``, or ``"n_i = 20 in every group"`` when all are equal."""
    x = np.asarray(x)
    lo, hi = x.min(), x.max()
    if np.isclose(lo, hi, rtol=1e-9, atol=0):
        return f"{name} = {_fmt(lo)} in every group"
    text = f"{name} from {_fmt(lo)} to {_fmt(hi)}"
    return text + (f", median {_fmt(float(np.median(x)))}" if median else "")


def _brief_lines(run: _Run) -> list[str]:
    post = run.idata.posterior
    out: list[str] = []
    d = run.data
    cov = d.has_covariates
    names = {"mu": "mu (population mean)", "tau": "tau (between-group sd)",
             "sigma": "sigma (within-group sd)"}
    if cov:
        names.update({"mu": "mu (mean effect at the average covariates)",
                      "intercept": "intercept (effect at covariates 0, = mu - xbar' beta)",
                      "tau": "tau (residual between-group sd)"})
        names.update({b: f"{b} (change in theta per unit of {c})"
                      for c, b in zip(d.covariate_names, _beta_names(d), strict=True)})
    pop = run.population
    for var in pop.index:
        row = pop.loc[var]
        text = (f"- {names.get(var, var)}: posterior mean {_fmt(float(row['mean']))}, sd "
                f"{_fmt(float(row['sd']))}, {_PCT} interval "
                f"{_interval(float(row[run.lo_col]), float(row[run.hi_col]))}")
        if run.exact is not None and var in run.exact_table.index:
            ex = run.exact_table.loc[var]
            text += (f"; exact posterior mean {_fmt(float(ex['mean']))}, interval "
                     f"{_interval(float(ex.iloc[2]), float(ex.iloc[4]))}")
        if np.isfinite(row["eb"]):
            what = "pooled within-group sd" if var == "sigma" else "empirical Bayes"
            text += f"; {what} {_fmt(float(row['eb']))}"
            if cov and var != "sigma":
                text += _eb_interval_text(run, var)
        out.append(text + ".")
    mu = np.asarray(post["mu"].values, float).ravel()
    new_q = predictive_quantiles(mu, np.asarray(post["tau"].values, float).ravel(),
                                 [_Q[0], 0.5, _Q[1]]).tolist()
    if cov:
        text = (f"- A new group at the average covariates, theta_new ~ Normal(mu, tau^2): "
                f"predictive mean {_fmt(float(mu.mean()))}, median {_fmt(new_q[1])}, {_PCT} "
                f"prediction interval {_interval(new_q[0], new_q[2])}")
        exact_new = _exact_new_group(run)
        if exact_new is not None:
            text += f"; exact posterior {_interval(*exact_new)}"
        pr = run.meta_pred
        out.append(text + f"; empirical Bayes ({run.meta.method.upper()}) prediction "
                          f"interval {_interval(float(pr['pi_low']), float(pr['pi_high']))} "
                          f"(plugs in tau_hat, so it is narrower when tau is uncertain).")
    else:
        out.append(f"- A new group from the same population, theta_new ~ Normal(mu, tau^2): "
                   f"predictive mean {_fmt(float(mu.mean()))}, median {_fmt(new_q[1])}, "
                   f"{_PCT} prediction interval {_interval(new_q[0], new_q[2])}.")
    back = run.transform
    if not back.is_identity:
        at = " (at the average covariates)" if cov else ""
        q = np.quantile(back(mu), [_Q[0], 0.5, _Q[1]])
        t = back(np.asarray(new_q))
        out.append(f"- On the {back.scale}: {back.of('mu')}{at} has posterior median "
                   f"{_fmt(q[1])} and {_PCT} interval {_interval(q[0], q[2])}; a new group's "
                   f"{back.of('theta_new')} has median {_fmt(t[1])} and {_PCT} prediction "
                   f"interval {_interval(t[0], t[2])} (medians and quantiles of the "
                   f"transformed draws: they carry over through an increasing transform; "
                   f"means do not, so none is given on this scale).")
    t = run.comparison
    if t is not None and "shrinkage" in t:
        lo_g, hi_g = t["shrinkage"].idxmin(), t["shrinkage"].idxmax()
        lo_s, hi_s = float(t.at[lo_g, "shrinkage"]), float(t.at[hi_g, "shrinkage"])
        how = (f"{_fmt(lo_s)} of the way for every group" if np.isclose(lo_s, hi_s, rtol=1e-9)
               else f"{_fmt(lo_s)} ({lo_g}) to {_fmt(hi_s)} ({hi_g}) of the way")
        toward = ("its fitted value mu + (x_i - xbar)' beta on the regression line" if cov
                  else "mu")
        out.append(f"- Pooling: the posterior pulls each group's own mean towards {toward} by "
                   f"E[1 - w_i | y] = {how} (0 = no pooling, 1 = complete pooling).")
    return out


def _meta_title(run: _Run) -> str:
    if run.eb_method == "ee":
        what = ("Equal-effects meta-regression" if run.data.has_covariates
                else "Equal-effects meta-analysis")
    else:
        what = "Meta-regression" if run.data.has_covariates else "Random-effects meta-analysis"
    return f"{what}: empirical Bayes, as metafor reports it"


def _mf(x: float, decimals: int = 4) -> str:
    """``x`` with ``decimals`` decimals as metafor prints it, or 4 significant digits when
    that would leave fewer than 2 (data on a tiny scale)."""
    x = float(x)
    if not np.isfinite(x):
        return _fmt(x)
    if x == 0 or abs(x) >= 10.0 ** (1 - decimals):
        return f"{x:.{decimals}f}"
    return _fmt(x)


def _p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _moderator_test(run: _Run) -> str | None:
    """metafor's omnibus test of the covariates: QM = b' V^-1 b (chi^2 on p df), or with
    Knapp-Hartung F = QM / p on (p, G - p - 1) df."""
    d = run.data
    if not d.has_covariates:
        return None
    het = run.meta.heterogeneity
    qm, m, p = float(het["QM"]), int(het["QM_df"]), float(het["QM_p"])
    coefs = "2" if m == 1 else f"2:{m + 1}"
    head = f"Test of the covariates (coefficient{'s' if m > 1 else ''} {coefs}): "
    if run.meta.knha:
        return (head + f"F(df1 = {m}, df2 = {int(het['QE_df'])}) = {_mf(qm)}, "
                f"{_p_text(p)}.")
    return head + f"QM(df = {m}) = {_mf(qm)}, {_p_text(p)}."


def _meta_lines(run: _Run) -> list[str]:
    """The empirical-Bayes meta-analysis / meta-regression (hm.meta_analysis), metafor style."""
    m, d, pr = run.meta, run.data, run.meta_pred
    h = m.heterogeneity
    cov = d.has_covariates
    method = m.method.upper()
    if cov:
        mods = " + ".join(d.covariate_names)
        call = f"rma(yi, vi, mods = ~ {mods}, method = \"{method}\"{_knha_arg(m)})"
        model = (f"{_ybar(d)} ~ Normal(b0 + x_i' beta, tau^2 + se_i^2) on the raw "
                 f"(uncentred) covariates, b0 the intercept")
    else:
        call = f"rma(yi, vi, method = \"{method}\"{_knha_arg(m)})"
        model = f"{_ybar(d)} ~ Normal(mu, tau^2 + se_i^2)"
    equal_effects = m.method == "ee"
    if equal_effects:
        model = model.replace("tau^2 + se_i^2", "se_i^2")
    plug = ("" if d.sigma_known else
            f" The se_i are sigma_hat / sqrt(n_i) with the pooled sigma_hat = "
            f"{_fmt(d.sigma_hat)} plugged in.")
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
                     f"{_mf(h['tau2'])} ({_PCT} Q-profile CI [{_mf(h['tau2_ci_low'])}, "
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
    qm = _moderator_test(run)
    if qm:
        lines.append(f"- {qm}")
    at = ""
    if cov:
        at = " at the average covariates (" + ", ".join(
            f"{c} = {_fmt(float(v))}" for c, v in zip(d.covariate_names, d.covariate_means,
                                                        strict=True)) + ")"
    lines.append(f"- A new group{at}: predicted effect {_mf(pr['pred'])} (se "
                 f"{_mf(pr['se'])}), {_PCT} CI [{_mf(pr['ci_low'])}, {_mf(pr['ci_high'])}], "
                 f"{_PCT} prediction interval [{_mf(pr['pi_low'])}, {_mf(pr['pi_high'])}] "
                 f"(metafor's predict()).")
    lines += _meta_scaled_lines(run, at)
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
        "ci_low": f"lower end of the {_PCT} confidence interval.",
        "ci_high": f"upper end of the {_PCT} confidence interval.",
    }
    lines += ["", _table_block(m.coefficients, defs, "coefficient"), "",
              "These plug in tau_hat; the full posterior averages over tau instead: its "
              "counterparts are under Results in brief"
              + (" and Population parameters" if cov else "")
              + ", and the groups' empirical-Bayes estimates are the `eb` column of the "
                "group table below."]
    return lines


def _meta_scaled_lines(run: _Run, at: str) -> list[str]:
    """The pooled estimate and its intervals on the transform's scale, as metafor's
    ``predict(res, transf=exp)`` prints them; what stays on the analysis scale."""
    back, pr = run.transform, run.meta_pred_scaled
    if back.is_identity:
        return []
    fitted = "b0 + xbar' beta"
    what = (f"the predicted effect {back.of(fitted)}{at}" if run.data.has_covariates
            else f"the pooled estimate {back.of('mu_hat')}")
    return [f"- On the {back.scale}: {what} = {_mf(pr['pred'])}, {_PCT} CI "
            f"[{_mf(pr['ci_low'])}, {_mf(pr['ci_high'])}], {_PCT} prediction interval "
            f"[{_mf(pr['pi_low'])}, {_mf(pr['pi_high'])}] (metafor's `predict(res, transf = "
            f"{back.name})`: the estimate and each interval end transformed)."
            f" Everything else in this section -- tau^2, tau, the se, Q and the coefficient "
            f"table -- is on the {back.analysis_scale} scale, where the model is fitted: a "
            f"standard error or a variance has no counterpart on the {back.scale}."]


def _knha_arg(m: Any) -> str:
    return ", test = \"knha\"" if m.knha else ""


def _eb_interval_text(run: _Run, var: str) -> str:
    """`` (95% CI [a, b])`` of the EB meta-regression for ``var`` (Q-profile for tau)."""
    m, d = run.meta, run.data
    if var == "mu":
        lo, hi = run.meta_pred["ci_low"], run.meta_pred["ci_high"]
    elif var == "tau":
        h = m.heterogeneity
        if m.method == "ee":                            # tau = 0 assumed: no interval
            return ""
        lo, hi = np.sqrt(h["tau2_ci_low"]), np.sqrt(h["tau2_ci_high"])
        return f" ({_PCT} Q-profile CI {_interval(float(lo), float(hi))})"
    else:
        key = "intercept" if var == "intercept" else var[5:-1]
        if key not in m.coefficients.index or key not in ("intercept", *d.covariate_names):
            return ""
        lo, hi = m.coefficients.at[key, "ci_low"], m.coefficients.at[key, "ci_high"]
    return f" ({_PCT} CI {_interval(float(lo), float(hi))})"


# ---------------------------------------------------------------------------- definitions
def _ybar(d: Any) -> str:
    """What the data's group values are called: estimates y_i or group means ybar_i."""
    return "y_i" if d.source == "estimates" else "ybar_i"


def _own(d: Any) -> str:
    return "estimate" if d.source == "estimates" else "mean"


def _se_definition(d: Any) -> str:
    if d.source == "estimates":
        return "se_i, the standard error of y_i, as given in the data (treated as known)."
    if d.sigma_known:
        return f"se_i = sigma / sqrt(n_i), the standard error of ybar_i ({_sigma_text(d)} known)."
    return (f"se_i = sigma_hat / sqrt(n_i), the standard error of ybar_i with the pooled "
            f"within-group sd sigma_hat = {_fmt(d.sigma_hat)} plugged in (used by the "
            f"no-pooling, sd-of-means and empirical-Bayes columns; the full posterior estimates "
            f"sigma instead).")


def _interval_defs(run: _Run, what: str) -> dict[str, str]:
    return {run.lo_col: f"{100 * _Q[0]:g}% posterior quantile of {what}: the lower end of "
                        f"its {_PCT} central interval.",
            run.hi_col: f"{100 * _Q[1]:g}% posterior quantile of {what}: the upper end of "
                        f"its {_PCT} central interval."}


def _comparison_defs(run: _Run) -> dict[str, str]:
    d, a = run.data, run.comparison.attrs
    method = run.eb_method.upper()
    s = run.diag.n_draws
    defs = {
        "group": "the group's label in the data.",
        "n": "n_i, the number of observations in the group.",
        "se": _se_definition(d),
        "no_pooling": f"{_ybar(d)}, the group's own {_own(d)} (no pooling: each group on its "
                      f"own).",
        "complete_pooling": (f"the precision-weighted mean of the {_ybar(d)}, sum({_ybar(d)} "
                             f"/ se_i^2) / sum(1 / se_i^2) = "
                             f"{_fmt(float(run.comparison['complete_pooling'].iloc[0]))}: "
                             f"complete pooling (tau = 0, the equal-effects estimate), one "
                             f"value for every group."
                             if "complete_pooling" in run.comparison else ""),
        "sd_of_means": f"partial pooling with the sd-of-means plug-in (a naive moment "
                f"estimator): w_i ybar_i + (1 - w_i) mean(ybar) with w_i = "
                f"tau_s^2 / (tau_s^2 + se_i^2) and tau_s = sd(ybar) = "
                f"{_fmt(float(a.get('sd_of_means_tau', np.nan)))}, "
                f"the spread of the observed means "
                f"(which includes their sampling noise, so it tends to overstate tau and "
                f"shrink too little).",
        "eb": f"empirical-Bayes partial pooling w_i ybar_i + (1 - w_i) mu_hat, with mu_hat = "
              f"{_fmt(float(a.get('eb_mu', np.nan)))} and tau_hat = "
              f"{_fmt(float(a.get('eb_tau', np.nan)))} estimated by {method} from ybar_i ~ "
              f"Normal(mu, tau^2 + se_i^2) and plugged in as if known.",
        "eb_weight": "w_i = tau_hat^2 / (tau_hat^2 + se_i^2), the weight `eb` gives the group's "
                     "own mean (1 = no pooling, 0 = complete pooling).",
        "eb_sd": "the standard deviation of `eb`: sqrt(w_i se_i^2 + (1 - w_i)^2 Var(mu_hat)) "
                 "(Morris 1983); it ignores the uncertainty in tau_hat, so it is too small "
                 "when there are few groups.",
        "mean": f"posterior mean of theta_i, the average of its {s} draws.",
        "sd": "posterior standard deviation of theta_i.",
        "mcse_mean": "Monte Carlo standard error of `mean` (from the effective sample size).",
        "rb_mean": "Rao-Blackwellised posterior mean E[E[theta_i | mu, tau, y]]: the average "
                   "over the draws of (mu, tau) of w_i(tau) ybar_i + (1 - w_i(tau)) mu; the "
                   "same quantity as `mean`, with less Monte Carlo error.",
        "rb_mcse": "Monte Carlo standard error of `rb_mean`.",
        "shrinkage": "E[1 - w_i | y], the posterior mean share of the way from ybar_i to mu "
                     "that the group is pulled (0 = keeps its own mean, 1 = pulled all the "
                     "way to mu).",
        "exact": "the exact posterior mean of theta_i, by numerical integration over "
                 f"{_GRID_OVER[run.data.sigma_known]} (no sampling; Gelman et al., BDA3 "
                 "section 5.4) with the same priors.",
        "exact_sd": "the exact posterior standard deviation of theta_i.",
    }
    defs.update(_interval_defs(run, "theta_i"))
    if d.has_covariates:
        defs.update(_regression_comparison_defs(run))
    return defs


def _regression_comparison_defs(run: _Run) -> dict[str, str]:
    """The comparison columns that differ with covariates (pooling toward the regression)."""
    d, a = run.data, run.comparison.attrs
    method = str(a.get("eb_method", run.eb_method)).upper()
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
        "eb": f"empirical-Bayes partial pooling toward the regression line, w_i ybar_i + "
              f"(1 - w_i) `eb_fitted`, with the line and tau_hat = "
              f"{_fmt(float(a.get('eb_tau', np.nan)))} (the residual between-group sd) "
              f"estimated by {method} from ybar_i ~ Normal(x_i' b, tau^2 + se_i^2) and "
              f"plugged in as if known.",
        "eb_sd": "the standard deviation of `eb`: sqrt(w_i se_i^2 + (1 - w_i)^2 "
                 "Var(eb_fitted)); it ignores the uncertainty in tau_hat, so it is too small "
                 "when there are few groups.",
        "rb_mean": "Rao-Blackwellised posterior mean E[E[theta_i | mu, beta, tau, y]]: the "
                   "average over the draws of w_i(tau) ybar_i + (1 - w_i(tau)) (mu + (x_i - "
                   "xbar)' beta); the same quantity as `mean`, with less Monte Carlo error.",
        "shrinkage": "E[1 - w_i | y], the posterior mean share of the way from ybar_i to its "
                     "fitted value mu + (x_i - xbar)' beta that the group is pulled (0 = keeps "
                     "its own mean, 1 = pulled all the way to the regression line).",
    })
    return defs


_COMPARISON_SHOWN = ("n", "se", "COVARIATES", "no_pooling", "complete_pooling", "sd_of_means",
                     "eb_fitted", "eb", "eb_weight", "eb_sd", "fitted_mean", "mean", "sd", "LO",
                     "HI", "rb_mean", "shrinkage", "exact", "exact_sd")


def _comparison_lines(run: _Run) -> list[str]:
    from .comparison import summarize

    t = run.comparison
    cols = []
    for c in _COMPARISON_SHOWN:
        if c == "COVARIATES":
            cols += list(run.data.covariate_names)
        else:
            cols.append({"LO": run.lo_col, "HI": run.hi_col}.get(c, c))
    shown = t[[c for c in cols if c in t.columns]]
    return [_table_block(shown, _comparison_defs(run), "group"), "",
            "In words:", "", *[f"- {s}" for s in summarize(t).splitlines() if s.strip()]]


def _scaled_comparison_lines(run: _Run) -> list[str]:
    """The group table on the transform's scale (:func:`compare` with ``transform=``)."""
    from .comparison import TRANSFORMED_POINT_COLUMNS

    back, t = run.transform, run.comparison_scaled
    lo, hi = run.lo_col, run.hi_col
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
        "fitted_median": f"posterior median of {back.of(_group_mean(run))}"
                         f": the group's fitted value on the regression line, on the "
                         f"{back.scale}.",
        "median": f"posterior median of {theta}, from the transformed draws.",
        lo: f"{100 * _Q[0]:g}% posterior quantile of {theta}: the lower end of its {_PCT} "
            f"central interval.",
        hi: f"{100 * _Q[1]:g}% posterior quantile of {theta}: the upper end of its {_PCT} "
            f"central interval.",
        "exact_median": f"the exact posterior median of {theta} (numerical integration over "
                        f"{_GRID_OVER[run.data.sigma_known]}, same priors).",
    }
    defs.update({back.of(c): f"{back.name} of `{c}` in the table above: that estimate on the "
                             f"{back.scale}." for c in points})
    return [f"The same groups on the {back.scale}, also in `comparison_{back.name}.csv`: "
            f"each point estimate above transformed, and the posterior of {theta} summarised "
            f"by its median and {_PCT} central interval. No means or sds: the mean of "
            f"{theta} is not {back.name} of the mean of theta_i.", "",
            _table_block(shown, defs, "group")]


def _population_lines(run: _Run) -> list[str]:
    pop = run.population
    method = run.eb_method.upper()
    defs = {
        "parameter": "mu = the population mean of the theta_i, tau = their sd between "
                     "groups" + (", sigma = the sd within groups" if "sigma" in pop.index
                                 else "") + ".",
        "eb": f"the empirical-Bayes ({method}) point estimate: mu_hat, tau_hat"
              + ("; for sigma the pooled within-group sd" if "sigma" in pop.index else "")
              + ".",
        "eb_sd": f"the standard error of mu_hat, (sum_i 1 / (se_i^2 + tau_hat^2))^(-1/2); "
                 f"{_DASH} for the other rows.",
        "sd_of_means": f"the sd-of-means plug-in: mu_hat = mean(ybar), tau_hat = sd(ybar) (a "
                f"naive moment estimator that ignores the sampling variance of ybar_i); "
                f"{_DASH} otherwise.",
        "mean": f"posterior mean, from the {run.diag.n_draws} draws.",
        "sd": "posterior standard deviation.",
        "mcse_mean": "Monte Carlo standard error of `mean`.",
        "ess_bulk": "bulk effective sample size: the number of independent draws the "
                    "correlated draws are worth for the mean.",
        "r_hat": "rank-normalised split R-hat: near 1 when the chains agree (> 1.01 is a "
                 "problem).",
        "exact": "exact posterior mean (numerical integration over "
                 f"{_GRID_OVER[run.data.sigma_known]}, same priors).",
        "exact_sd": "exact posterior standard deviation.",
    }
    defs.update(_interval_defs(run, "the parameter"))
    if run.data.has_covariates:
        m = run.meta
        defs.update({
            "parameter": "mu = the mean effect at the average covariates, beta[c] = the "
                         "slope on covariate c, intercept = mu - xbar' beta (the effect at "
                         "covariates 0), tau = the residual sd of the theta_i between groups"
                         + (", sigma = the sd within groups" if "sigma" in pop.index else "")
                         + ".",
            "eb": f"the empirical-Bayes ({m.method.upper()}) meta-regression: for mu its "
                  f"fitted value at the average covariates, for beta[c] and intercept its "
                  f"coefficients, for tau the residual tau_hat"
                  + ("; for sigma the pooled within-group sd" if "sigma" in pop.index
                     else "") + ".",
            "eb_sd": f"the standard error of `eb` (as in the meta-regression section); "
                     f"{_DASH} for tau.",
        })
        keep = [c for c in pop.columns if c != "sd_of_means"]
        pop = pop[keep]
    return [_table_block(pop, defs, "parameter")]


#: what the exact posterior integrates over besides tau, by whether sigma is known
_GRID_OVER = {True: "tau", False: "tau and sigma"}


def _exact_lines(run: _Run) -> list[str]:
    if run.exact_table is None:
        return ["Not computed: sigma is estimated here with covariates, and the exact (grid) "
                "posterior with covariates needs known standard errors se_i."]
    t = run.exact_table
    qcols = list(t.columns[2:])
    defs = {
        "variable": ("mu (at the average covariates), beta[c] for each covariate c, "
                     "intercept (= mu - xbar' beta), tau, and theta[g] for each group g."
                     if run.data.has_covariates else
                     "mu, tau, and theta[g] for each group g." if run.exact.sigma_known else
                     "mu, tau, sigma (the within-group sd), and theta[g] for each group g."),
        "mean": "exact posterior mean.",
        "sd": "exact posterior standard deviation.",
    }
    for c in qcols:
        pct = c[1:]
        extra = {f"{100 * _Q[0]:g}%": f": the lower end of the {_PCT} central interval",
                 "50%": ": the posterior median",
                 f"{100 * _Q[1]:g}%": f": the upper end of the {_PCT} central interval"}
        defs[c] = f"the {pct} posterior quantile{extra.get(pct, '')}."
    mass = float(run.exact.truncated_mass)
    ex = run.exact
    grid = (f"p(tau | y) on a grid of {ex.tau_grid.size} points of tau" if ex.sigma_known
            else f"p(tau, sigma | y) on a grid of {ex.tau_grid.size} x {ex.sigma_grid.size} "
                 "points of (tau, sigma)")
    given = "tau" if ex.sigma_known else "(tau, sigma)"
    return [f"The posterior computed without sampling: {grid} (estimated mass outside the "
            f"grid {mass:.2g}), and given {given} everything is normal (Gelman et al., BDA3 "
            f"section 5.4). It checks the NUTS fit: compare `mean` here with the `mean` "
            f"columns above.", "", _table_block(t, defs, "variable")]


def _ppc_lines(run: _Run) -> list[str]:
    ppc = run.ppc
    flag = _extreme(ppc)
    table = pd.DataFrame(
        {"T_obs": ppc["T_obs"].to_numpy(), "mean_rep": ppc["mean_rep"].to_numpy(),
         "p_value": ppc["p_value"].to_numpy(), "mc_se": ppc["mc_se"].to_numpy(),
         "flag": np.where(flag, "EXTREME", "")},
        index=pd.Index([_check_name(k) for k in ppc.index], name="check"))
    s = _n_rep(run)
    defs = {
        "check": "`replicate: statistic`. Replicates: `y` = new data for the same groups, "
                 "ybar_i^rep ~ Normal(theta_i, se_i^2); `y_mixed` = new groups, theta_i^rep "
                 f"~ Normal({_group_mean(run)}, tau^2) and then ybar_i^rep ~ "
                 "Normal(theta_i^rep, se_i^2) "
                 "(this one can reveal an outlying group). Statistics of the G group means: "
                 "min, max, mean, sd, range (max - min).",
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
            _table_block(table, defs, "check")]


def _group_mean(run: _Run) -> str:
    return "mu + (x_i - xbar)' beta" if run.data.has_covariates else "mu"


def _diagnostic_lines(run: _Run) -> list[str]:
    d = run.diag
    bfmi = ", ".join(f"{b:.2f}" for b in d.bfmi) if d.bfmi else _DASH
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
            _table_block(run.diag_table, defs, "parameter")]


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


def _reproduce_lines(run: _Run) -> list[str]:
    return ["```bash", run.command or "(called from Python: hiermodel.report.run_report)",
            "```", "",
            f"Seed: {run.seed}. Run time: {run.seconds:.1f} s. The same command gives "
            f"byte-identical CSV files and posterior draws.", "", "Versions:", "",
            *[f"- {k} {v}" for k, v in _versions().items()]]
