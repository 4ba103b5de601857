"""The ``hiermodel`` command: parse the command line, then :func:`hiermodel.report.run_report`.

    hiermodel eight-schools --out DIR [--seed N] [--sampler ...] [--parameterization ...]
    hiermodel fit FILE.csv --value COL --group COL [options]          raw rows
    hiermodel fit FILE.csv --mean COL --n COL --sigma X [--label COL]  summary form
    hiermodel fit FILE.csv --estimate COL --se COL [--label COL]      Rubin's form
    any form: --covariates COL[,COL...]   group-level covariates (meta-regression)
              --knha                      Knapp-Hartung tests in the empirical-Bayes section
              --sep ';' --decimal ','     a file written with semicolons and decimal commas
              --interval eti|hdi --prob P  the posterior intervals (default: 95% central)

    priors:  --mu-prior normal[:LOC[,SCALE]] | flat
             --tau-prior halfcauchy[:SCALE] | halfnormal[:SCALE] | uniform[:UPPER]
             --sigma-prior halfnormal[:SCALE] | halfcauchy[:SCALE]
             (a number left out is scaled to the data, see hiermodel.priors)

This module only parses; what a run computes and writes (``report.md``, ``idata.nc``, CSV
tables, figures) is :mod:`hiermodel.report`.  User errors print one line
``hiermodel: error: ...`` on stderr, naming the option and what to type, and exit 2 (the
library's messages pass through :func:`in_cli_words`); Ctrl-C prints one line and exits 130.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import math
import sys
from pathlib import Path
from typing import Any, NoReturn

from .interrupt import (
    INTERRUPTED_MESSAGE,
    INTERRUPTED_STATUS,
    caused_by_interrupt,
    exit_on_interrupt,
    raise_if_interrupted,
)

with exit_on_interrupt():   # Ctrl-C of the command while PyMC imports: one line, exit 130
    from .core import EB_METHODS
    from .datasets import DATASETS
    from .options import INTERVAL_KINDS
    from .parameterization import DEFAULT_PARAMETERIZATION, PARAMETERIZATIONS
    from .prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES, family_key
    from .samplers import SAMPLERS
    from .transforms import TRANSFORMS

__all__ = ["main", "build_parser", "priors_from_args", "parse_prior", "data_from_args",
           "in_cli_words", "CLI_PHRASES"]

#: prior option -> (families with their parameter names); a parameter left out is None.
#: The families are hiermodel.prior_families' tables.
PRIOR_FORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "--mu-prior": {f: ("LOC", "SCALE") if f == "normal" else () for f in MU_FAMILIES},
    "--tau-prior": {f.name: (f.parameter,) for f in TAU_FAMILIES.values()},
    "--sigma-prior": {f.name: (f.parameter,) for f in SIGMA_FAMILIES.values()},
}


class UserError(Exception):
    """An error in what the user asked for: reported in one line, no traceback."""


# ----------------------------------------------------------------------------- parser
def _add_fit_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fit options")
    g.add_argument("--out", default=None, help="output folder (default: eight_schools_out or "
                   "<file>_out)")
    g.add_argument("--seed", type=int, default=20261125,
                   help="random seed; same seed and options, byte-identical CSVs "
                        "(default: %(default)s)")
    g.add_argument("--sampler", choices=SAMPLERS, default=SAMPLERS[0],
                   help="NUTS backend (default: %(default)s)")
    g.add_argument("--parameterization", choices=PARAMETERIZATIONS,
                   default=DEFAULT_PARAMETERIZATION,
                   help="model form (default: %(default)s)")
    g.add_argument("--draws", type=int, default=1000, help="draws per chain (default: 1000)")
    g.add_argument("--tune", type=int, default=1000, help="tuning steps per chain (1000)")
    g.add_argument("--chains", type=int, default=4, help="chains (default: 4)")
    g.add_argument("--eb-method", choices=EB_METHODS, default="reml",
                   help="empirical-Bayes tau estimator for the comparison (default: reml)")
    g.add_argument("--interval", choices=INTERVAL_KINDS, default=None,
                   help="posterior intervals of the group and population tables: eti, central "
                        "(equal-tailed), or hdi, highest density (default: eti, "
                        "hiermodel.get_options())")
    g.add_argument("--prob", type=float, default=None, metavar="P",
                   help="probability mass of every interval, between 0 and 1 (default: 0.95)")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")

    pr = p.add_argument_group(
        "priors",
        "Default: every prior scaled to the data, with S = sqrt(var(ybar_i) + mean(se_i^2)) "
        "(the spread of the group means plus their sampling error): mu ~ Normal(precision-"
        "weighted mean of the ybar_i, 2.5 S), tau ~ HalfCauchy(S) (HalfNormal(2.5 S), "
        "Uniform(0, 10 S)), sigma ~ HalfNormal(2.5 x the pooled within-group sd). A number "
        "left out of an option keeps its data-scaled value, e.g. --tau-prior halfnormal. "
        "report.md states the priors used, with their numbers.")
    pr.add_argument("--mu-prior", metavar="normal[:LOC[,SCALE]]|flat",
                    help="prior of the population mean mu, e.g. normal:0,10; flat is the "
                         "improper uniform prior (default: data-scaled normal)")
    pr.add_argument("--tau-prior", metavar="FAMILY[:SCALE]",
                    help=f"prior of the between-group sd tau: {_choices('--tau-prior')} "
                         f"(default: data-scaled {next(iter(TAU_FAMILIES))})")
    pr.add_argument("--sigma-prior", metavar="FAMILY[:SCALE]",
                    help="prior of the within-group sd sigma, used only when it is estimated "
                         f"(raw rows without --sigma): {_choices('--sigma-prior')} "
                         f"(default: data-scaled {next(iter(SIGMA_FAMILIES))})")

    o = p.add_argument_group("output")
    o.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    o.add_argument("--sampler-geometry", action="store_true",
                   help="also fit the centered form (the non-centered one when "
                        "--parameterization centered) and write sampler_geometry.png, the "
                        "sampler's view of one group against log tau with divergences (an "
                        "MCMC diagnostic: one more fit)")
    o.add_argument("--transform", choices=tuple(TRANSFORMS), default=None,
                   help="also report every effect-scale number on a back-transformed scale: "
                        + "; ".join(f"{k}: {t.scale}" for k, t in TRANSFORMS.items()
                                    if not t.is_identity)
                        + " (the pooled estimate, its CI and prediction interval, a group "
                          "table and the figures; tau^2, se and Q stay on the analysis "
                          "scale)")


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error format of every other user error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"hiermodel: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hiermodel",
        description="Full Bayesian three-level normal models (the Eight Schools family) on "
                    "PyMC: fit, compare with empirical Bayes and the exact posterior, check, "
                    "and write a reproducible report.",
        epilog="Example: hiermodel eight-schools --out eight_schools_out --seed 1",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    es = sub.add_parser("eight-schools", help="the reproducible Eight Schools run",
                        description="Fit Eight Schools and write every result to --out.")
    es.add_argument("--dataset", choices=tuple(DATASETS), default="rubin",
                    help="rubin: Rubin (1981) estimates and standard errors (default); "
                         "summary: an illustrative summary form of Eight Schools (Rubin's "
                         "estimates to one decimal, hypothetical group sizes n_i, sigma = 15)")
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
    cols.add_argument("--covariates", metavar="COL[,COL...]",
                      help="group-level covariates for a meta-regression, comma-separated "
                           "column names (numeric; for raw rows constant within each group): "
                           "theta_i ~ Normal(mu + (x_i - xbar)' beta, tau^2), the covariates "
                           "centred at their means, e.g. --covariates ablat,year")
    cols.add_argument("--sep", default=",", metavar="CHAR",
                      help="the file's column separator (default ','; e.g. --sep ';' for "
                           "files written with decimal commas)")
    cols.add_argument("--decimal", default=".", metavar="CHAR",
                      help="the file's decimal mark (default '.'; --decimal ',' for 1,5)")
    cols.add_argument("--knha", action="store_true",
                      help="Knapp-Hartung (t) tests and intervals in the report's "
                           "empirical-Bayes meta-analysis / meta-regression section")
    _add_fit_options(ft)
    return parser


# ----------------------------------------------------------------------------- data
#: how the library's advice to Python users is said on the command line (one table: a
#: library message passes through it after its argument names became options)
CLI_PHRASES: dict[str, str] = {
    "pass a known `sigma=`": "give the known within-group sd with --sigma X (e.g. --sigma 15)",
    "remove or impute them before building HierData": "remove or fill them in the file",
    "strings are not converted: parse them first": "correct that cell of the file",
    "impute or drop them first": "fill them in the file or drop those rows",
}

#: the hints for category columns, said for a file
_CATEGORY_HINTS = ("encode categories first", "pass it as numbers")

_DECIMAL_COMMA = r"^\s*[-+]?\d+,\d+\s*$"


def _read_csv(path: str, sep: str = ",", decimal: str = "."):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError(f"file not found: {path}")
    if sep == decimal:
        raise UserError(f"--sep and --decimal are both {sep!r}; give different characters "
                        "(e.g. --sep ';' --decimal ',')")
    try:
        df = pd.read_csv(p, sep=sep, decimal=decimal)
        with p.open(newline="", encoding="utf-8-sig") as fh:  # pandas renames repeats 'y.1'
            header = next(csv.reader(fh, delimiter=sep), [])
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: give a CSV file with a header row of column "
                        "names and one row per observation or group") from None
    except Exception as err:  # parse errors of any kind are the user's file
        raise UserError(f"could not read {path} as CSV: {err}".splitlines()[0]) from None
    dup = sorted({str(c) for c in header if header.count(c) > 1})
    if dup:
        raise UserError(f"{path}: column name(s) {dup} appear more than once in the header; "
                        "rename them so that each column is named once")
    wrong_sep = _separator_hint(df, sep)
    if wrong_sep:
        raise UserError(f"{path} {wrong_sep}")
    if df.empty:
        raise UserError(f"{path} has a header but no rows: give one row per observation or "
                        "group")
    return df


def _separator_hint(df, sep: str) -> str:
    """What to type when the file is separated by another character than ``sep`` (every
    data form needs two columns or more, so one column whose name holds a separator is
    that), else ``""``."""
    if len(df.columns) != 1:
        return ""
    other = next((c for c in ";\t|," if c != sep and c in str(df.columns[0])), None)
    if other is None:
        return ""
    shown = "'\\t'" if other == "\t" else repr(other)
    return (f"looks separated by {shown}, not {sep!r}: pass --sep {shown}"
            + (" (and --decimal ',' if its numbers have decimal commas)" if other == ";"
               else ""))


def _column(df, name: str, option: str):
    if name not in df.columns:
        raise UserError(f"{option}: column {name!r} is not in the file; columns are "
                        f"{list(df.columns)}")
    values = df[name]
    comma = values.astype(str).str.match(_DECIMAL_COMMA)
    if values.dtype.kind not in "iufb" and comma.any():
        shown = values[comma].iloc[0]
        raise UserError(f"{option} (column {name!r}): {shown!r} has a decimal comma; for a "
                        "file written that way (semicolons between columns) pass --sep ';' "
                        "--decimal ',', or save it with decimal points")
    return values.to_numpy()


def _sigma_arg(df, value: str | None):
    """``--sigma``: a column of the file, or a positive number."""
    if value is None:
        return None
    if value in df.columns:
        return _column(df, value, "--sigma")
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"--sigma: {value!r} is neither a number nor a column of the file; "
                        "give the known within-group sd as a positive number (e.g. --sigma "
                        f"15) or a column name (columns are {list(df.columns)})") from None
    if not (math.isfinite(number) and number > 0):
        raise UserError(f"--sigma: the within-group sd must be a positive finite number, got "
                        f"{value!r} (e.g. --sigma 15)")
    return number


def _check_labels(df, column: str, option: str) -> None:
    """A label column names one group per row: repeated labels are refused, naming them."""
    labels = df[column]
    counts = labels[labels.notna()].value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        shown = [str(v) for v in repeated.index[:5]]
        raise UserError(f"{option} (column {column!r}) repeats the label(s) {shown}, but each "
                        "row is a group of its own: name a column whose values differ on "
                        "every row (e.g. a study id) with " + option + ", or leave " + option
                        + " out to number the rows")


def _sigma_estimable(df, group: str) -> None:
    """Raw rows without --sigma estimate sigma from groups with two or more rows."""
    if df[group].value_counts().max() < 2:
        raise UserError(f"--group (column {group!r}): every group has a single row, so the "
                        "within-group sd cannot be estimated from the file: give it with "
                        "--sigma X (e.g. --sigma 15), or use --mean/--n/--sigma or "
                        "--estimate/--se for one row per group")


def data_from_args(args: argparse.Namespace):
    """The HierData a ``fit`` command line describes."""
    from .data import HierData

    df = _read_csv(args.file, getattr(args, "sep", ","), getattr(args, "decimal", "."))
    forms = {"rows": args.value or args.group, "summary": args.mean or args.n,
             "estimates": args.estimate or args.se}
    chosen = [k for k, v in forms.items() if v]
    if len(chosen) != 1:
        raise UserError("give exactly one data form: --value/--group (raw rows), "
                        "--mean/--n/--sigma (summaries) or --estimate/--se (estimates)")
    data_flags = {"rows": ("--value", "--group", "--sigma"),
                  "summary": ("--mean", "--n", "--sigma", "--label"),
                  "estimates": ("--estimate", "--se", "--label")}[chosen[0]]
    sigma_column = args.sigma if args.sigma in df.columns else None
    covariates = _covariate_columns(df, args.covariates, {
        flag: getattr(args, flag[2:]) for flag in data_flags})
    if chosen[0] == "rows":
        if not (args.value and args.group):
            raise UserError("raw rows need both --value and --group")
        _column(df, args.value, "--value")
        _column(df, args.group, "--group")
        sigma = _sigma_arg(df, args.sigma)
        if sigma is None:
            _sigma_estimable(df, args.group)
        names = {"value": ("--value", None), "group": ("--group", None),
                 "y": ("--value", args.value), "sigma": ("--sigma", sigma_column),
                 "covariates": ("--covariates", None)}
        with _in_cli_words(names):
            return HierData.from_dataframe(df, value=args.value, group=args.group,
                                           sigma=sigma, covariates=covariates)
    labels = None
    if args.label:
        labels = _column(df, args.label, "--label")
        _check_labels(df, args.label, "--label")
    if chosen[0] == "summary":
        if not (args.mean and args.n and args.sigma):
            raise UserError("summary form needs --mean, --n and --sigma")
        names = {"means": ("--mean", args.mean), "n": ("--n", args.n),
                 "sigma": ("--sigma", sigma_column), "groups": ("--label", args.label)}
        with _in_cli_words(names):
            data = HierData.from_summary(_column(df, args.mean, "--mean"),
                                         _column(df, args.n, "--n"),
                                         _sigma_arg(df, args.sigma), groups=labels)
        return _with_covariates(data, df, covariates)
    if not (args.estimate and args.se):
        raise UserError("estimates form needs both --estimate and --se")
    names = {"y": ("--estimate", args.estimate), "se": ("--se", args.se),
             "groups": ("--label", args.label)}
    with _in_cli_words(names):
        data = HierData.from_estimates(_column(df, args.estimate, "--estimate"),
                                       _column(df, args.se, "--se"), groups=labels)
    return _with_covariates(data, df, covariates)


def _covariate_columns(df, text: str | None, data_columns: dict[str, str | None]
                       ) -> list[str] | None:
    """``--covariates a,b`` -> ``["a", "b"]``, each a column of the file other than the data
    columns (``data_columns``: option -> the column it names); None if not given."""
    if text is None:
        return None
    names = [c.strip() for c in text.split(",")]
    if not any(names):
        raise UserError("--covariates: give one or more column names, comma-separated "
                        "(e.g. --covariates ablat,year)")
    if not all(names):
        raise UserError(f"--covariates: empty column name in {text!r}; separate the names by "
                        "single commas (e.g. --covariates ablat,year)")
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise UserError(f"--covariates: column(s) {dup} named more than once")
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise UserError(f"--covariates: column(s) {missing} not in the file; columns are "
                        f"{list(df.columns)}")
    taken = [(c, flag) for c in names for flag, col in data_columns.items() if col == c]
    if taken:
        c, flag = taken[0]
        raise UserError(f"--covariates: column {c!r} is already the {flag} column; a "
                        "covariate must be another column of the file (a regression on the "
                        "data themselves explains nothing)")
    return names


def _with_covariates(data, df, covariates: list[str] | None):
    """``data`` (one group per row of ``df``, in file order) with the ``covariates`` columns."""
    if covariates is None:
        return data
    table = df[covariates].set_axis(list(data.groups), axis=0)
    with _in_cli_words({"covariates": ("--covariates", None)}):
        return data.with_covariates(table)


def in_cli_words(message: str, names: dict[str, tuple[str, str | None]]) -> str:
    """A library message said for the command line: each backquoted argument ``names``
    maps (``"y": ("--estimate", "effect")``) becomes its option and column (``--estimate
    (column 'effect')``; a column of None: the option alone), and the advice to Python users
    becomes what to type (:data:`CLI_PHRASES`)."""
    for head in _CATEGORY_HINTS:
        if head in message:
            message = (message.split(head)[0] + "code it as numbers in the file (for a "
                       "category, one 0/1 column per level but one) and name those columns.")
    for phrase, said in CLI_PHRASES.items():
        message = message.replace(phrase, said)
    for arg, (option, column) in names.items():
        where = option if column is None else f"{option} (column {column!r})"
        message = message.replace(f"`{arg}`", where)
    return message


@contextlib.contextmanager
def _in_cli_words(names: dict[str, tuple[str, str | None]]):
    """Re-raise the library's ValueError/TypeError as a UserError :func:`in_cli_words`."""
    try:
        yield
    except (ValueError, TypeError) as err:
        raise UserError(in_cli_words(str(err), names)) from None


# ----------------------------------------------------------------------------- priors
def _number(option: str, name: str, text: str, *, positive: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"{option}: {name} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise UserError(f"{option}: {name} must be finite, got {text!r}")
    if positive and v <= 0:
        raise UserError(f"{option}: {name} is a scale and must be > 0, got {text!r}")
    return v


def _choices(option: str) -> str:
    """``"halfcauchy:SCALE, halfnormal:SCALE or uniform:UPPER"`` for ``option``."""
    forms = [f + (":" + ",".join(p) if p else "") for f, p in PRIOR_FORMS[option].items()]
    return ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else forms[0]


def _forms(option: str) -> str:
    return ", ".join(f + (":" + ",".join(p) if p else "") for f, p in PRIOR_FORMS[option].items())


def parse_prior(option: str, text: str) -> tuple[str, dict[str, float | None]]:
    """``"halfnormal:2.5"`` -> ``("halfnormal", {"SCALE": 2.5})`` for ``option``; a
    parameter left out (``"halfnormal"``, ``"normal:,10"``) is None (scaled to the data).

    Raises
    ------
    UserError
        Naming ``option``, for an unknown family, too many parameters or a bad number.
    """
    forms = PRIOR_FORMS[option]
    family, sep, rest = text.strip().partition(":")
    key = family_key(family)
    if key not in forms:
        raise UserError(f"{option}: unknown prior {family.strip()!r}; use one of "
                        f"{_forms(option)} (a number left out is scaled to the data)")
    names = forms[key]
    parts = [s.strip() for s in rest.split(",")] if sep else []
    if not names and any(parts):
        raise UserError(f"{option}: {key} takes no parameters, got {text.strip()!r}")
    if len(parts) > len(names):
        raise UserError(f"{option}: {key} takes at most {len(names)} number"
                        f"{'s' if len(names) > 1 else ''} ({key}:{','.join(names)}), got "
                        f"{text.strip()!r}")
    values: dict[str, float | None] = dict.fromkeys(names)
    for name, part in zip(names, parts, strict=False):
        if part:
            values[name] = _number(option, name, part, positive=name != "LOC")
    return key, values


def priors_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~hiermodel.priors.Priors` of ``--mu-prior``, ``--tau-prior`` and
    ``--sigma-prior``; what is not given stays None (scaled to the data by the fit)."""
    from .priors import Priors

    kw: dict[str, Any] = {}
    if args.mu_prior is not None:
        fam, v = parse_prior("--mu-prior", args.mu_prior)
        kw["mu"] = fam
        if fam == "normal":
            kw.update(mu_mean=v["LOC"], mu_sd=v["SCALE"])
    if args.tau_prior is not None:
        fam, v = parse_prior("--tau-prior", args.tau_prior)
        kw.update(tau=fam, tau_scale=next(iter(v.values())))
    if args.sigma_prior is not None:
        fam, v = parse_prior("--sigma-prior", args.sigma_prior)
        kw.update(sigma=fam, sigma_scale=v["SCALE"])
    try:
        return Priors(**kw)
    except (TypeError, ValueError) as err:  # pragma: no cover - parse_prior checks first
        raise UserError(f"--mu-prior/--tau-prior/--sigma-prior: {err}") from None


# ----------------------------------------------------------------------------- entry
def command() -> NoReturn:
    """The ``hiermodel`` command's process (the ``[project.scripts]`` entry point and ``python
    -m hiermodel``): :func:`main` on ``sys.argv``, then exit with its status.

    Before exiting, every object still alive is moved out of the garbage collector's reach
    (:func:`gc.freeze`): the interpreter's final collections over the loaded scientific stack
    (ArviZ, PyTensor, numba: ~0.6 s of a ~8 s run) are skipped and the operating system frees
    the memory at once.  Every file the run wrote is closed by then; atexit handlers and
    module teardown still run.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``): 0 when done, 2 for a user
    error (one line on stderr), 130 when interrupted (Ctrl-C)."""
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
        return INTERRUPTED_STATUS


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    argv_used = sys.argv[1:] if argv is None else argv
    command = "hiermodel " + " ".join(argv_used)
    try:
        for name in ("draws", "tune", "chains"):
            if getattr(args, name) < 1:
                raise UserError(f"--{name} must be a positive integer, got {getattr(args, name)}")
        priors = priors_from_args(args)
        if args.command == "eight-schools":
            data = DATASETS[args.dataset]()
            out = args.out or "eight_schools_out"
            title = ("Eight Schools (Rubin 1981)" if args.dataset == "rubin"
                     else "Eight Schools (illustrative summary form, sigma = 15)")
        else:
            data = data_from_args(args)
            out = args.out or (Path(args.file).stem + "_out")
            title = f"hiermodel fit of {args.file}"
        from .report import run_report  # PyMC loads here, not for --help or a usage error

        raise_if_interrupted()            # a Ctrl-C that a library swallowed while loading

        with _in_cli_words({"interval": ("--interval", None), "prob": ("--prob", None)}):
            run_report(data, out, seed=args.seed, priors=priors, sampler=args.sampler,
                       parameterization=args.parameterization, draws=args.draws, tune=args.tune,
                       chains=args.chains, eb_method=args.eb_method, interval=args.interval,
                       prob=args.prob, progressbar=False if args.no_progress else None,
                       figures=not args.no_figures, sampler_geometry=args.sampler_geometry,
                       transform=args.transform, knha=getattr(args, "knha", False),
                       command=command, title=title,
                       log=lambda m: print(m, file=sys.stderr, flush=True))
    except (UserError, ValueError, TypeError, ImportError, SystemError,
            FileNotFoundError) as err:
        if caused_by_interrupt(err):    # Ctrl-C while PyMC's C extensions load
            raise KeyboardInterrupt from None
        if isinstance(err, SystemError):
            raise
        print(f"hiermodel: error: {err}".splitlines()[0], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    command()
