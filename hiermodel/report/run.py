""":func:`run_report`: compute (:mod:`.compute`, :mod:`.figures`), render (:mod:`.render`),
write (:mod:`.files`), in that order."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .compute import collect_warnings, fit_stage, tables_stage
from .figures import draw_figures
from .files import check_out, replace_folder, staging_folder, write_data, write_tables
from .render import render_report
from .render_checks import extreme_messages
from .result import ReportChecks, ReportResult, RunSettings
from .words import known_sigma_only

__all__ = ["run_report"]


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
    interval: str | None = None,
    prob: float | None = None,
    progressbar: bool | None = None,
    figures: bool = True,
    sampler_geometry: bool = False,
    transform: str | None = None,
    knha: bool = False,
    command: str = "",
    title: str = "hiermodel run",
    log: Callable[[str], Any] = print,
) -> ReportResult:
    """Fit, compare, check and write everything to ``out``; returns the run as a frozen
    :class:`~hiermodel.report.ReportResult` (``str(result)`` is the report text,
    ``result.files`` the files written).

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
    interval : {"eti", "hdi"}, optional
        The kind of the posterior intervals of the group and population tables (columns
        ``eti_low``/``eti_high`` or ``hdi_low``/``hdi_high``); default the option
        (:func:`hiermodel.get_options`, a central interval).  Prediction intervals, the
        exact posterior's quantiles and the figures' intervals are central either way.
    prob : float, optional
        The probability mass of every interval, posterior and confidence; default the option
        (0.95).
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
    from ..options import resolve_interval
    from ..transforms import check_transform

    kind, prob = resolve_interval(interval, prob)
    settings = RunSettings(title=title, command=command, seed=seed, sampler=sampler,
                           parameterization=parameterization, draws=draws, tune=tune,
                           chains=chains, eb_method=eb_method,
                           transform=check_transform(transform), knha=bool(knha),
                           interval=kind, prob=prob)
    if knha and eb_method == "ee":
        raise ValueError("--knha (Knapp-Hartung) is for random-effects models; with "
                         "--eb-method ee (equal effects, tau = 0) leave --knha out or pick "
                         "a tau estimator such as reml.")
    final = check_out(Path(out))
    staging = staging_folder(final)
    try:
        result = _run_into(staging, final, data, settings, priors=priors,
                           progressbar=progressbar,
                           figures=figures, sampler_geometry=sampler_geometry, log=log)
        replace_folder(staging, final, command)
    except BaseException:  # Ctrl-C included: the previous results stay as they were
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dataclasses.replace(result, files={k: final / p.name
                                              for k, p in result.files.items()})


def _run_into(out: Path, final: Path, data: Any, settings: RunSettings, *, priors: Any,
              progressbar: bool | None, figures: bool, sampler_geometry: bool,
              log: Callable[[str], Any]) -> ReportResult:
    """The run itself, writing into ``out`` (the staging folder) what goes to ``final``."""
    from ..priors import Priors

    s = settings
    t0 = time.perf_counter()
    planned = Priors.check(priors, data=data)   # for the log line; the fit records its own
    log(f"hiermodel: priors: {known_sigma_only(planned, data)}")
    log(f"hiermodel: fitting {data.n_groups} groups ({s.parameterization}, {s.sampler}, "
        f"{s.chains} x {s.draws} draws after {s.tune} tuning steps, seed {s.seed}) ...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = fit_stage(data, s, priors=priors, planned=planned, progressbar=progressbar)
        computed = tables_stage(data, s, fitted)
        files = write_data(out, fitted.predictive, computed.tables.diagnostics)
        files.update(write_tables(out, computed.tables, s.transform.name))
        drawn = None
        if figures or sampler_geometry:
            drawn = draw_figures(out, data, s, idata=fitted.idata,
                                 predictive=fitted.predictive, priors=fitted.priors,
                                 comparison=computed.tables.comparison, exact=computed.exact,
                                 meta=computed.meta, studies=computed.studies,
                                 figures=figures,
                                 sampler_geometry=sampler_geometry, progressbar=progressbar,
                                 log=log)
            files.update(drawn.files)
    found = collect_warnings(caught) + (drawn.skipped if drawn else [])
    result = ReportResult(
        settings=s, data=data, priors=fitted.priors, idata=fitted.idata,
        predictive=fitted.predictive, tables=computed.tables, exact=computed.exact,
        meta=computed.meta, meta_prediction=computed.meta_prediction,
        meta_prediction_scaled=computed.meta_prediction_scaled, eb=computed.eb,
        new_group=computed.new_group,
        checks=ReportChecks(diagnostics=computed.diagnostics, warnings=tuple(found),
                            n_replicates=computed.n_replicates),
        figures=tuple(drawn.figures if drawn else ()), seconds=0.0, studies=computed.studies)
    for _, msg in result.checks.warnings:
        log("hiermodel: WARNING: " + msg.removeprefix("hiermodel ").replace("\n", "\n  "))
    for msg in extreme_messages(result):
        log("hiermodel: WARNING: extreme predictive p-value: " + msg)
    result = dataclasses.replace(result, seconds=time.perf_counter() - t0)
    (out / "report.md").write_text(render_report(result), encoding="utf-8")
    files["report"] = out / "report.md"
    log(f"hiermodel: wrote {len(files)} files to {final}/ in {result.seconds:.1f} s")
    return dataclasses.replace(result, files=files)
