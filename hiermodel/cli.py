"""The ``hiermodel`` command: reproducible runs that write a folder of results.

    hiermodel eight-schools --out DIR [--seed N] [--sampler ...] [--parameterization ...]
    hiermodel fit FILE.csv --value COL --group COL [options]          raw rows
    hiermodel fit FILE.csv --mean COL --n COL --sigma X [--label COL]  the seed's summary form
    hiermodel fit FILE.csv --estimate COL --se COL [--label COL]      Rubin's form

Each run writes ``idata.nc``, ``comparison.csv``, ``diagnostics.csv``, ``ppc.csv``, PNG
figures and ``report.md`` (which opens with the comparison table and records the command
line, seed and package versions).  User errors print one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "run_report", "build_parser"]

SAMPLER_CHOICES = ("nutpie", "pymc", "numpyro")
PARAM_CHOICES = ("marginal", "auto", "centered", "noncentered")


class UserError(Exception):
    """An error in what the user asked for: reported in one line, no traceback."""


# ----------------------------------------------------------------------------- parser
def _add_fit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fit options")
    g.add_argument("--out", default=None, help="output folder (default: %(default)s -> "
                   "eight_schools_out or <file>_out)")
    g.add_argument("--seed", type=int, default=20261125,
                   help="random seed; same seed, same numbers (default: %(default)s)")
    g.add_argument("--sampler", choices=SAMPLER_CHOICES, default="nutpie",
                   help="NUTS backend (default: %(default)s)")
    g.add_argument("--parameterization", choices=PARAM_CHOICES, default="marginal",
                   help="model form (default: %(default)s)")
    g.add_argument("--draws", type=int, default=1000, help="draws per chain (default: 1000)")
    g.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (1000)")
    g.add_argument("--chains", type=int, default=4, help="chains (default: 4)")
    g.add_argument("--eb-method", choices=("reml", "ml", "pm", "dl", "seed"), default="reml",
                   help="empirical-Bayes tau estimator for the comparison (default: reml)")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")
    g.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiermodel",
        description="Full Bayesian three-level normal models (the Eight Schools family) on "
                    "PyMC: fit, compare with empirical Bayes and the exact posterior, check, "
                    "and write a reproducible report.",
        epilog="Example: hiermodel eight-schools --out eight_schools_out --seed 1",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    es = sub.add_parser("eight-schools", help="the reproducible Eight Schools run",
                        description="Fit Eight Schools and write every result to --out.")
    es.add_argument("--dataset", choices=("rubin", "seed"), default="rubin",
                    help="rubin: Rubin (1981) estimates and standard errors (default); "
                         "seed: the seed text's table 4.1 (n_i, ybar_i, sigma = 15)")
    _add_fit_options(es)
    ft = sub.add_parser("fit", help="fit a CSV of your own",
                        description="Fit the three-level model to a CSV file: raw rows "
                                    "(--value, --group), group summaries (--mean, --n, "
                                    "--sigma) or estimates (--estimate, --se).")
    ft.add_argument("file", help="CSV file")
    cols = ft.add_argument_group("columns")
    cols.add_argument("--value", help="raw rows: the column of observations y_ij")
    cols.add_argument("--group", help="raw rows: the column of group labels")
    cols.add_argument("--mean", help="summary form: the column of group means")
    cols.add_argument("--n", help="summary form: the column of group sizes")
    cols.add_argument("--sigma", help="known within-group sd: a number or a column name "
                      "(summary form; optional for raw rows)")
    cols.add_argument("--estimate", help="estimates form: the column of estimates")
    cols.add_argument("--se", help="estimates form: the column of standard errors")
    cols.add_argument("--label", help="summary/estimates form: the column of group labels")
    _add_fit_options(ft)
    return parser


# ----------------------------------------------------------------------------- data
def _read_csv(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError(f"file not found: {path}")
    try:
        return pd.read_csv(p)
    except Exception as err:  # parse errors of any kind are the user's file
        raise UserError(f"could not read {path} as CSV: {err}") from None


def _column(df, name: str, option: str):
    if name not in df.columns:
        raise UserError(f"{option}: column {name!r} is not in the file; columns are "
                        f"{list(df.columns)}")
    return df[name].to_numpy()


def _sigma_arg(df, value: str | None):
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return _column(df, value, "--sigma")


def data_from_args(args: argparse.Namespace):
    """The HierData a ``fit`` command line describes."""
    from .data import HierData

    df = _read_csv(args.file)
    forms = {"rows": args.value or args.group, "summary": args.mean or args.n,
             "estimates": args.estimate or args.se}
    chosen = [k for k, v in forms.items() if v]
    if len(chosen) != 1:
        raise UserError("give exactly one data form: --value/--group (raw rows), "
                        "--mean/--n/--sigma (summaries) or --estimate/--se (estimates)")
    labels = _column(df, args.label, "--label") if args.label else None
    if chosen[0] == "rows":
        if not (args.value and args.group):
            raise UserError("raw rows need both --value and --group")
        _column(df, args.value, "--value")
        _column(df, args.group, "--group")
        return HierData.from_dataframe(df, value=args.value, group=args.group,
                                       sigma=_sigma_arg(df, args.sigma))
    if chosen[0] == "summary":
        if not (args.mean and args.n and args.sigma):
            raise UserError("summary form needs --mean, --n and --sigma")
        return HierData.from_summary(_column(df, args.mean, "--mean"),
                                     _column(df, args.n, "--n"), _sigma_arg(df, args.sigma),
                                     groups=labels)
    if not (args.estimate and args.se):
        raise UserError("estimates form needs both --estimate and --se")
    return HierData.from_estimates(_column(df, args.estimate, "--estimate"),
                                   _column(df, args.se, "--se"), groups=labels)


# ----------------------------------------------------------------------------- the run
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


def run_report(data: Any, out: str | os.PathLike, *, seed: int, sampler: str = "nutpie",
               parameterization: str = "marginal", draws: int = 1000, tune: int = 1000,
               chains: int = 4, eb_method: str = "reml", progressbar: bool | None = None,
               figures: bool = True, command: str = "", title: str = "hiermodel run",
               log=print) -> dict[str, Path]:
    """Fit, compare, check and write everything to ``out``; returns the files written."""
    from .fit import diagnose, diagnostics, fit, save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    t0 = time.perf_counter()
    log(f"hiermodel: fitting {data.n_groups} groups ({parameterization}, {sampler}, "
        f"{chains} x {draws} draws, seed {seed})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = fit(data, parameterization=parameterization, sampler=sampler, draws=draws,
                    tune=tune, chains=chains, seed=seed, progressbar=progressbar,
                    posterior_predictive=False)
    sampling_warnings = [str(w.message) for w in caught
                         if issubclass(w.category, UserWarning)
                         and str(w.message).startswith("hiermodel")]
    for msg in sampling_warnings:
        log("hiermodel: WARNING " + msg)
    pp_idata = _predictive(idata, data, seed)
    files["idata"] = save(pp_idata, out / "idata.nc")
    diag_table = diagnose(idata)
    diag_table.to_csv(out / "diagnostics.csv", float_format="%.10g")
    files["diagnostics"] = out / "diagnostics.csv"
    diag = diagnostics(idata)

    sections = _extra_sections(idata, pp_idata, data, out, files, seed=seed,
                               eb_method=eb_method, figures=figures, fit_kwargs=dict(
                                   sampler=sampler, draws=draws, tune=tune, chains=chains,
                                   progressbar=progressbar),
                               parameterization=parameterization, log=log)
    report = _report(title, command, seed, diag, diag_table, sections, sampling_warnings,
                     time.perf_counter() - t0)
    (out / "report.md").write_text(report)
    files["report"] = out / "report.md"
    log(f"hiermodel: wrote {len(files)} files to {out}/ in {time.perf_counter() - t0:.1f} s")
    return files


def _predictive(idata, data, seed: int):
    """Posterior predictive draws: the same groups (y, y_mixed) and a new group."""
    from .checks import posterior_predictive_draws

    if data.sigma_known and data.n is not None:
        return posterior_predictive_draws(idata, data, n_new=int(np.median(data.n)),
                                          seed=seed)
    return posterior_predictive_draws(idata, data, se_new=float(np.median(data.se)),
                                      seed=seed)


def _save_fig(fig, path: Path, files: dict, key: str) -> None:
    fig.savefig(path, dpi=110)
    files[key] = path


def _extra_sections(idata, pp_idata, data, out: Path, files: dict, *, seed: int,
                    eb_method: str, figures: bool, fit_kwargs: dict, parameterization: str,
                    log) -> list[tuple[str, str]]:
    """Comparison, population, exact posterior, predictive checks and figures."""
    import pandas as pd

    from .checks import ppc_table
    from .compare import compare, compare_population, summarize
    from .shrinkage import exact_posterior

    exact = exact_posterior(data) if data.sigma_known else None  # same Priors() as the fit

    sections: list[tuple[str, str]] = []
    table = compare(idata, data, eb_method=eb_method)
    table.to_csv(out / "comparison.csv", float_format="%.10g")
    files["comparison"] = out / "comparison.csv"
    cols = [c for c in ("n", "se", "no_pooling", "complete_pooling", "seed", "eb",
                        "eb_weight", "mean", "sd", "hdi_low", "hdi_high", "rb_mean",
                        "shrinkage", "exact") if c in table.columns]
    sections.append(("Comparison: no, complete and partial pooling against the full "
                     "posterior of theta_i",
                     _md_table(table[cols]) + "\n\n" + summarize(table)))
    pop = compare_population(idata, data, eb_method=eb_method)
    sections.append(("Population parameters", _md_table(pop)))
    if exact is not None:
        summary = exact.summary()
        summary.to_csv(out / "exact_posterior.csv", float_format="%.10g")
        files["exact"] = out / "exact_posterior.csv"
        sections.append(("Exact posterior (grid over tau, BDA3 section 5.4)",
                         _md_table(summary)))
    ppc = pd.concat({v: ppc_table(pp_idata, var_name=v) for v in ("y", "y_mixed")},
                    names=["replicate"])
    ppc.to_csv(out / "ppc.csv", float_format="%.10g")
    files["ppc"] = out / "ppc.csv"
    sections.append(("Posterior predictive checks: p = P(T(y_rep) >= T(y) | y)",
                     "`y`: new data for the same groups; `y_mixed`: new groups "
                     "(theta_i redrawn from N(mu, tau^2)).\n\n" + _md_table(ppc)))
    if figures:
        sections.append(("Figures", _figures(idata, pp_idata, data, table, exact, out, files,
                                             seed=seed, fit_kwargs=fit_kwargs,
                                             parameterization=parameterization, log=log)))
    return sections


def _figures(idata, pp_idata, data, table, exact, out: Path, files: dict, *, seed: int,
             fit_kwargs: dict, parameterization: str, log) -> str:
    from .checks import plot_test_statistics
    from .fit import fit
    from .plots import plot_forest, plot_funnel, plot_shrinkage, plot_tau

    _save_fig(plot_shrinkage(table), out / "shrinkage.png", files, "fig_shrinkage")
    fits = {parameterization: idata}
    if parameterization != "centered":
        log("hiermodel: fitting the centered form too, for the funnel plot")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the centered funnel is the point here
            fits["centered"] = fit(data, parameterization="centered", seed=seed,
                                   **fit_kwargs)
    if exact is not None:
        fits["exact"] = exact.sample(
            draws=idata.posterior.sizes["draw"], chains=idata.posterior.sizes["chain"],
            seed=seed)
    _save_fig(plot_forest(fits), out / "forest.png", files, "fig_forest")
    funnel = {k: v for k, v in fits.items() if k != "exact"}
    _save_fig(plot_funnel(funnel), out / "funnel.png", files, "fig_funnel")
    _save_fig(plot_tau(idata, data), out / "tau.png", files, "fig_tau")
    _save_fig(plot_test_statistics(pp_idata, var_name="y_mixed"), out / "ppc.png", files, "fig_ppc")
    names = ("shrinkage", "forest", "funnel", "tau", "ppc")
    return "\n".join(f"![{n}]({n}.png)" for n in names)


def _md_table(df) -> str:
    return df.to_markdown(floatfmt=".4g")


def _report(title, command, seed, diag, diag_table, sections, sampling_warnings, secs) -> str:
    lines = [f"# {title}", ""]
    for head, body in sections:
        lines += [f"## {head}", "", body, ""]
    lines += ["## Sampler diagnostics", "", "```", str(diag), "```", "",
              _md_table(diag_table), ""]
    if sampling_warnings:
        lines += ["**Warnings:**", ""] + [f"- {w}" for w in sampling_warnings] + [""]
    lines += ["## Reproduce", "", "```bash", command or "(called from Python)", "```", "",
              f"Seed: {seed}. Run time: {secs:.1f} s.", "", "Versions:", ""]
    lines += [f"- {k} {v}" for k, v in _versions().items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- entry
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else argv
    command = "hiermodel " + " ".join(argv_used)
    try:
        for name in ("draws", "tune", "chains"):
            if getattr(args, name) < 1:
                raise UserError(f"--{name} must be a positive integer, got {getattr(args, name)}")
        if args.command == "eight-schools":
            from .datasets import eight_schools, seed_eight_schools

            data = eight_schools() if args.dataset == "rubin" else seed_eight_schools()
            out = args.out or "eight_schools_out"
            title = ("Eight Schools (Rubin 1981)" if args.dataset == "rubin"
                     else "Eight Schools (the seed's table 4.1)")
        else:
            data = data_from_args(args)
            out = args.out or (Path(args.file).stem + "_out")
            title = f"hiermodel fit of {args.file}"
        run_report(data, out, seed=args.seed, sampler=args.sampler,
                   parameterization=args.parameterization, draws=args.draws, tune=args.tune,
                   chains=args.chains, eb_method=args.eb_method,
                   progressbar=False if args.no_progress else None,
                   figures=not args.no_figures, command=command, title=title,
                   log=lambda m: print(m, file=sys.stderr))
    except (UserError, ValueError, TypeError, ImportError, FileNotFoundError) as err:
        print(f"hiermodel: error: {err}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
