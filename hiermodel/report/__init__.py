r"""One reproducible run written to a folder: ``report.md``, CSV tables, ``idata.nc``, figures.

:func:`run_report` is what ``hiermodel eight-schools`` / ``hiermodel fit`` do after parsing
their arguments (:mod:`hiermodel.cli` only parses).  It fits the three-level normal model

    y_i | theta_i ~ N(theta_i, se_i^2),   theta_i | mu, tau ~ N(mu, tau^2),   priors on mu, tau

compares the fit with no / complete / partial pooling (empirical Bayes) and the exact
posterior, runs posterior predictive checks, and returns the run as a frozen
:class:`ReportResult` (computed once; ``str(result)`` renders the report text from its named
fields, as arviz-stats' ``ELPDData`` is computed by ``loo`` and prints itself).  It writes

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

Intervals: ``interval=`` / ``prob=`` (default the options of :mod:`hiermodel.options`: 95%
central, from the 2.5% to the 97.5% posterior quantile); with ``interval="hdi"`` the
posterior intervals of the group and population tables are highest-density intervals.

Modules: :mod:`.result` (the frozen result types), :mod:`.compute` (everything computed,
once, in order), :mod:`.figures` (which figures, drawn by :mod:`hiermodel.plots`),
:mod:`.render` with :mod:`.render_tables` and :mod:`.render_meta` (the text),
:mod:`.markdown` (tables via ``DataFrame.to_markdown``), :mod:`.words` (the terms chosen from
the data and settings), :mod:`.files` (writing, whole or not at all), :mod:`.run`
(:func:`run_report`).
"""

from __future__ import annotations

from .files import RUN_MARKER
from .markdown import markdown_table
from .result import EBEstimate, NewGroup, ReportChecks, ReportResult, ReportTables, RunSettings
from .run import run_report

__all__ = ["run_report", "ReportResult", "RunSettings", "ReportTables", "ReportChecks",
           "EBEstimate", "NewGroup", "markdown_table", "RUN_MARKER"]
