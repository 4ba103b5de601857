"""The ``hiermodel`` command: options, the files it writes, reproducibility, user errors.

Real runs with small draws: through ``subprocess`` (the console entry, as a user types it) and
in-process through ``main`` (which shares the compiled models, so it is cheaper).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from hiermodel import Priors, eight_schools, exact_posterior, stack
from hiermodel.cli import build_parser, main, parse_prior
from hiermodel.priors import data_spread

SMALL = ["--draws", "200", "--tune", "200", "--chains", "2", "--no-progress"]
QUIET = [*SMALL, "--no-figures", "--seed", "1"]
def compact(text: str) -> str:
    """``text`` with the padding of its markdown table cells removed (``| a   |`` -> ``| a |``):
    the report pads its tables (``DataFrame.to_markdown``), the assertions name cells."""
    return "\n".join(re.sub(r" *\| *", " | ", line).strip() if line.startswith("|") else line
                     for line in text.splitlines())


PNGS = ("forest", "forest_methods", "shrinkage", "tau", "ppc")
FILES = ("idata.nc", "comparison.csv", "population.csv", "diagnostics.csv", "ppc.csv",
         "exact_posterior.csv", "report.md", *(f"{p}.png" for p in PNGS))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hiermodel", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The main job twice with the same seed: once with figures, once without."""
    root = tmp_path_factory.mktemp("cli")
    a = run("eight-schools", "--out", str(root / "a"), "--seed", "5", *SMALL)
    b = run("eight-schools", "--out", str(root / "b"), "--seed", "5", "--no-figures", *SMALL)
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    return root / "a", root / "b", a


@pytest.fixture
def fit_calls(monkeypatch):
    """Count the fits a run makes (the real fit is called: no mock)."""
    calls = []
    module = importlib.import_module("hiermodel.sampling")
    real = module.fit

    def counting(*args, **kwargs):
        calls.append(kwargs.get("parameterization"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "fit", counting)
    return calls


# ----------------------------------------------------------------------------- files
def test_main_job_writes_every_file(two_runs):
    a, _, proc = two_runs
    for name in FILES:
        assert (a / name).stat().st_size > 0, name
    assert not (a / "sampler_geometry.png").exists()
    # estimates-form data: the publication-bias funnel and the influence panels are drawn
    assert (a / "funnel.png").stat().st_size > 0 and (a / "influence.png").stat().st_size > 0
    assert (a / "influence.csv").stat().st_size > 0
    idata = az.from_netcdf(a / "idata.nc")
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood",
                  "posterior_predictive"):
        assert group in stack.groups(idata), group
    assert list(idata.posterior["theta"].coords["group"].values) == list("ABCDEFGH")
    comp = pd.read_csv(a / "comparison.csv", index_col="group")
    assert list(comp.index) == list("ABCDEFGH")
    for col in ("no_pooling", "complete_pooling", "eb", "eb_weight", "sd_of_means", "mean", "sd",
                "eti_low", "eti_high", "rb_mean", "shrinkage", "exact"):
        assert comp[col].notna().all(), col
    np.testing.assert_array_equal(comp["no_pooling"], [28, 8, -3, 7, -1, 1, 18, 12])
    ppc = pd.read_csv(a / "ppc.csv")
    assert ppc["p_value"].between(0, 1).all() and set(ppc["replicate"]) == {"y", "y_mixed"}
    pop = pd.read_csv(a / "population.csv", index_col="parameter")
    assert list(pop.index) == ["mu", "tau"]


def test_log_lines_before_the_fit_and_at_the_end(two_runs):
    _, _, proc = two_runs
    err = proc.stderr
    assert err.index("hiermodel: priors: mu ~ Normal(7.686, 41.46)") < err.index(
        "hiermodel: fitting 8 groups") < err.index("hiermodel: wrote")
    assert "hiermodel: WARNING: sampling diagnostics" in err   # 2 x 200 draws: ESS < 400
    assert "Sampling: [" not in err                        # PyMC's chatter stays out


def test_report_links_every_figure(two_runs):
    a, b, _ = two_runs
    text = (a / "report.md").read_text()
    for png in PNGS:
        assert f"({png}.png)" in text
    assert "(funnel.png)" in text and "(influence.png)" in text   # estimates-form data
    assert "sampler_geometry" not in text
    assert ".png)" not in (b / "report.md").read_text()
    assert "hiermodel eight-schools --out" in text and "Seed: 5" in text


def test_figures_are_real_images(two_runs):
    a, _, _ = two_runs
    for png in PNGS:
        img = imread(a / f"{png}.png")
        h, w = img.shape[:2]
        assert h >= 300 and w >= 400, (png, img.shape)
        # a plot, not a blank canvas: many distinct colours
        assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 50, png


def test_same_seed_same_numbers(two_runs):
    a, b, _ = two_runs
    for name in ("comparison.csv", "population.csv", "diagnostics.csv", "ppc.csv",
                 "exact_posterior.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    pa, pb = (az.from_netcdf(d / "idata.nc").posterior for d in (a, b))
    for var in ("mu", "tau", "theta"):
        np.testing.assert_array_equal(pa[var].values, pb[var].values)


def test_fit_csv_in_three_forms(tmp_path):
    rng = np.random.default_rng(0)
    g = np.repeat(["north", "south", "east", "west"], 15)
    rows = pd.DataFrame({"score": rng.normal(0, 2, g.size) + (g == "east"), "site": g})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    est = pd.DataFrame({"school": list("ABCDEFGH"), "y": [28, 8, -3, 7, -1, 1, 18, 12],
                        "se": [15, 10, 16, 11, 9, 11, 10, 18]})
    est.to_csv(tmp_path / "est.csv", index=False)
    summ = pd.DataFrame({"m": [1.0, 2.0, 0.5], "n": [5, 8, 13], "lab": ["a", "b", "c"]})
    summ.to_csv(tmp_path / "summ.csv", index=False)
    cases = {
        "rows": ["rows.csv", "--value", "score", "--group", "site"],
        "est": ["est.csv", "--estimate", "y", "--se", "se", "--label", "school"],
        "summ": ["summ.csv", "--mean", "m", "--n", "n", "--sigma", "2", "--label", "lab"],
    }
    expect = {"rows": ["north", "south", "east", "west"], "est": list("ABCDEFGH"),
              "summ": ["a", "b", "c"]}
    for key, args in cases.items():
        out = tmp_path / f"{key}_out"
        code = main(["fit", str(tmp_path / args[0]), *args[1:], "--out", str(out), *QUIET])
        assert code == 0, key
        comp = pd.read_csv(out / "comparison.csv", index_col="group")
        assert [str(x) for x in comp.index] == expect[key]
        assert (out / "exact_posterior.csv").exists()   # rows: the (tau, sigma) grid


# ----------------------------------------------------------------------------- priors
def test_prior_options_reach_the_fit_the_exact_posterior_and_the_report(tmp_path):
    out = tmp_path / "out"
    assert main(["eight-schools", "--out", str(out), "--mu-prior", "normal:1,20",
                 "--tau-prior", "halfnormal:7", *QUIET]) == 0
    post = az.from_netcdf(out / "idata.nc").posterior
    p = Priors.from_attrs(post.attrs)
    assert (p.mu, p.mu_mean, p.mu_sd, p.tau, p.tau_scale) == ("normal", 1.0, 20.0,
                                                               "halfnormal", 7.0)
    assert p.from_data == ()
    exact = pd.read_csv(out / "exact_posterior.csv", index_col="variable")
    ref = exact_posterior(eight_schools(), Priors(mu_mean=1, mu_sd=20, tau="halfnormal",
                                                  tau_scale=7))
    np.testing.assert_allclose(exact.loc["mu", "mean"], float(ref.mean["mu"]), rtol=1e-9)
    text = (out / "report.md").read_text()
    assert "`mu ~ Normal(1, 20)`: set by the user" in text
    assert "`tau ~ HalfNormal(7)`: set by the user" in text
    assert "mu ~ Normal(1, 20),   tau ~ HalfNormal(7)" in text          # the model block
    assert "--mu-prior normal:1,20 --tau-prior halfnormal:7" in text     # reproduce


def test_prior_numbers_left_out_are_scaled_to_the_data(tmp_path):
    out = tmp_path / "out"
    assert main(["eight-schools", "--out", str(out), "--mu-prior", "flat",
                 "--tau-prior", "uniform", *QUIET]) == 0
    p = Priors.from_attrs(az.from_netcdf(out / "idata.nc").posterior.attrs)
    s = data_spread(eight_schools().means, eight_schools().se)
    assert p.mu == "flat" and p.tau == "uniform"
    np.testing.assert_allclose(p.tau_scale, 10 * s, rtol=1e-12)
    assert p.from_data == ("tau_scale",)
    text = (out / "report.md").read_text()
    assert "`mu ~ flat`" in text and f"`tau ~ Uniform(0, {10 * s:.4g})`" in text
    assert "scaled to the data" in text


def test_sigma_prior_for_raw_rows(tmp_path):
    rng = np.random.default_rng(2)
    g = np.repeat(list("abcde"), 12)
    pd.DataFrame({"y": rng.normal(50, 5, g.size), "g": g}).to_csv(tmp_path / "r.csv",
                                                                  index=False)
    out = tmp_path / "out"
    assert main(["fit", str(tmp_path / "r.csv"), "--value", "y", "--group", "g", "--out",
                 str(out), "--sigma-prior", "halfcauchy:30", "--mu-prior", "normal:,100",
                 *QUIET]) == 0
    p = Priors.from_attrs(az.from_netcdf(out / "idata.nc").posterior.attrs)
    assert (p.sigma, p.sigma_scale, p.mu_sd) == ("halfcauchy", 30.0, 100.0)
    assert "mu_mean" in p.from_data and 45 < p.mu_mean < 55
    text = (out / "report.md").read_text()
    assert "`sigma ~ HalfCauchy(30)`" in text and "sigma unknown" in text


@pytest.mark.parametrize(
    ("option", "text", "family", "values"),
    [
        ("--tau-prior", "halfnormal", "halfnormal", {"SCALE": None}),
        ("--tau-prior", "Half-Cauchy:2.5", "halfcauchy", {"SCALE": 2.5}),
        ("--tau-prior", "uniform:100", "uniform", {"UPPER": 100.0}),
        ("--mu-prior", "normal:-3,10", "normal", {"LOC": -3.0, "SCALE": 10.0}),
        ("--mu-prior", "normal:,10", "normal", {"LOC": None, "SCALE": 10.0}),
        ("--mu-prior", "normal:4", "normal", {"LOC": 4.0, "SCALE": None}),
        ("--mu-prior", "flat", "flat", {}),
        ("--sigma-prior", "halfcauchy:1e3", "halfcauchy", {"SCALE": 1000.0}),
    ],
)
def test_parse_prior(option, text, family, values):
    assert parse_prior(option, text) == (family, values)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tau-prior", "gamma:2"], "--tau-prior: unknown prior 'gamma'"),
        (["--tau-prior", "halfnormal:-1"], "--tau-prior: SCALE is a scale and must be > 0"),
        (["--tau-prior", "halfnormal:1,2"], "--tau-prior: halfnormal takes at most 1 number"),
        (["--tau-prior", "uniform:inf"], "--tau-prior: UPPER must be finite"),
        (["--mu-prior", "normal:a,1"], "--mu-prior: LOC must be a number, got 'a'"),
        (["--mu-prior", "normal:0,0"], "--mu-prior: SCALE is a scale and must be > 0"),
        (["--mu-prior", "flat:3"], "--mu-prior: flat takes no parameters"),
        (["--sigma-prior", "uniform:3"], "--sigma-prior: unknown prior 'uniform'"),
    ],
)
def test_bad_prior_is_one_line_naming_the_option(capsys, fit_calls, args, message):
    assert main(["eight-schools", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiermodel: error: "), lines
    assert message in lines[0]
    assert fit_calls == []      # rejected before any fitting


def test_bad_prior_from_the_shell(tmp_path):
    proc = run("eight-schools", "--tau-prior", "halfnormal:zero", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    want = "hiermodel: error: --tau-prior: SCALE must be a number, got 'zero'"
    err = proc.stderr.strip()
    # ArviZ 0.23 prints its refactor notice on its first import of each day (a FutureWarning
    # from `import pymc`, before hiermodel runs); nothing else may precede the error
    if "ArviZ is undergoing a major refactor" in err:
        err = err.split("  warn(\n", 1)[-1].strip()
    assert err == want


def _outside_fit(stacks):
    """The compiles (of ``pytensor_compiles``) made outside ``hiermodel.sampling.fit``."""
    return [" > ".join(f.name for f in st[-8:]) for st in stacks
            if not any(f.name == "fit" and f.filename.endswith("sampling.py") for f in st)]


# ----------------------------------------------------------------------------- figures
def test_one_fit_without_sampler_geometry(tmp_path, fit_calls, pytensor_compiles):
    """One fit, and the fit is the run's only compile: the posterior predictive, tables and
    report are numpy."""
    assert main(["eight-schools", "--out", str(tmp_path / "a"), *QUIET]) == 0
    assert fit_calls == ["marginal"]
    assert _outside_fit(pytensor_compiles) == []
    assert not list((tmp_path / "a").glob("*.png"))


def test_sampler_geometry_fits_the_centered_form_too(tmp_path, fit_calls, capsys):
    out = tmp_path / "g"
    assert main(["eight-schools", "--out", str(out), "--sampler-geometry", *QUIET]) == 0
    assert fit_calls == ["marginal", "centered"]
    assert [p.name for p in out.glob("*.png")] == ["sampler_geometry.png"]
    text = (out / "report.md").read_text()
    assert "(sampler_geometry.png)" in text and "not a publication-bias funnel" in text
    assert "centered form too" in capsys.readouterr().err


def test_transform_exp_puts_every_effect_number_on_the_ratio_scale(bcg_csv):
    """Issue 24: BCG as estimates (yi, sqrt(vi)), intercept-only REML, --transform exp.
    metafor's predict(res, transf=exp) on these data, as quoted in the issue (the example of
    https://wviechtb.github.io/metafor/reference/predict.rma.html): 0.4894 [0.3441, 0.6962],
    prediction interval [0.1546, 1.5490]."""
    out = bcg_csv.parent / "exp_out"
    assert main(["fit", str(bcg_csv), "--estimate", "yi", "--se", "se", "--label", "trial",
                 "--transform", "exp", "--out", str(out), *SMALL]) == 0
    text = (out / "report.md").read_text()
    assert ("- On the ratio scale (exp of log ratio): the pooled estimate exp(mu_hat) = 0.4894, "
            "95% CI [0.3441, 0.6962], 95% prediction interval [0.1546, 1.5490] (metafor's "
            "`predict(res, transf = exp)`") in text
    assert "tau^2, tau, the se, Q and the coefficient table -- is on the log ratio scale" in text
    assert "tau^2 (total heterogeneity): 0.3132" in text          # still on the log scale
    # the posterior: median and quantiles of the transformed draws
    mu = np.exp(az.from_netcdf(out / "idata.nc").posterior["mu"].values.ravel())
    lo, med, hi = np.quantile(mu, [0.025, 0.5, 0.975])
    assert (f"exp(mu) has posterior median {med:.4g} and 95% interval [{lo:.4g}, {hi:.4g}]"
            in text)
    # the group table on the ratio scale, its CSV the analysis-scale one transformed
    assert "### Group estimates on the ratio scale (exp of log ratio)" in text
    assert "| group | se | exp(no_pooling) |" in compact(text) and "`comparison_exp.csv`" in text
    log_scale = pd.read_csv(out / "comparison.csv", index_col=0)
    ratio = pd.read_csv(out / "comparison_exp.csv", index_col=0)
    np.testing.assert_allclose(ratio["eb"], np.exp(log_scale["eb"]), rtol=1e-9)
    assert "mean" not in ratio and "median" in ratio
    assert "The axis is on the back-transformed scale, the ratio scale" in text
    assert imread(out / "forest.png").shape[0] >= 300


# ----------------------------------------------------------------------------- user errors
def test_user_error_from_the_shell_is_one_line_and_exit_2(tmp_path):
    proc = run("fit", "no_such_file.csv", "--value", "y", "--group", "g", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "hiermodel: error: file not found: no_such_file.csv"
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "data.csv", "--value", "nope", "--group", "g"], "--value: column 'nope'"),
        (["fit", "data.csv", "--value", "y"], "raw rows need both --value and --group"),
        (["fit", "data.csv", "--value", "y", "--mean", "y"], "give exactly one data form"),
        (["fit", "data.csv", "--mean", "y", "--n", "g", "--sigma", "3"],
         "--n (column 'g') must contain only numbers"),
        (["eight-schools", "--draws", "0"], "--draws must be a positive integer"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"]}).to_csv(
        tmp_path / "data.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiermodel: error:"), lines
    assert message in lines[0]


def test_bad_values_in_the_file_are_a_user_error(tmp_path, capsys):
    pd.DataFrame({"y": [1.0, np.nan, 3.0, 4.0], "g": ["a", "a", "b", "b"]}).to_csv(
        tmp_path / "bad.csv", index=False)
    code = main(["fit", str(tmp_path / "bad.csv"), "--value", "y", "--group", "g"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "hiermodel: error:" in err[0]
    assert "`value`" in err[0] or "y" in err[0]


@pytest.mark.parametrize(("args", "message"), [
    (["eight-schools", "--eb-method", "magic"], "invalid choice: 'magic'"),
    (["eight-schools", "--transform", "log"], "invalid choice: 'log'"),
])
def test_bad_choice_is_argparse_usage_exit_2(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["eight-schools", "fit"])
def test_help_reads_well(capsys, command):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--out", "--seed", "--sampler", "--parameterization", "--draws",
                   "--chains", "--mu-prior", "--tau-prior", "--sigma-prior",
                   "--sampler-geometry", "--transform", "--no-figures"):
        assert option in out, option
    for text in ("halfcauchy:SCALE", "halfnormal:SCALE", "uniform:UPPER", "normal:0,10",
                 "scaled to the data", "S = sqrt(var(ybar_i) + mean(se_i^2))",
                 "tau ~ HalfCauchy(S)", "one more fit"):
        assert text in out, text
    # no reference to a document users never see (\s+: also across a wrapped line)
    assert not re.search(r"seed\s+text|table\s+4\.", out, re.IGNORECASE), out
    if command == "eight-schools":
        assert "illustrative summary form of Eight Schools" in out


def test_duplicated_column_names_are_refused(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("school,y,y,se\nA,1,2,3\nB,2,3,4\nC,3,4,5\n")
    assert main(["fit", str(path), "--estimate", "y", "--se", "se",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "column name(s) ['y'] appear more than once" in err[0]


@pytest.mark.parametrize(("args", "message"), [
    (["eight-schools", "--draws", "abc"], "argument --draws: invalid int value: 'abc'"),
    (["eight-schools", "--seed", "1.5"], "argument --seed: invalid int value"),
    (["fit"], "the following arguments are required: file"),
])
def test_argument_errors_are_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1
    assert err[0].startswith("hiermodel: error: ") and message in err[0]


def test_seed_too_large_is_refused_before_fitting(tmp_path, capsys):
    assert main(["eight-schools", "--seed", str(2**70), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "`seed` must be below 2**63" in err[-1]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("content", "args", "message"), [
    ("study,y,se\nA,1,1\nB,x,1\nC,3,1\n", ["--estimate", "y", "--se", "se"],
     "--estimate (column 'y') must contain only numbers; found non-numeric value 'x'"),
    ("study,y,se\nA,1,1\nB,2,-1\nC,3,1\n", ["--estimate", "y", "--se", "se"],
     "--se (column 'se') must be > 0"),
    ("study,y,se\nA,1,1\n,2,1\nC,3,1\n", ["--estimate", "y", "--se", "se", "--label", "study"],
     "--label (column 'study') labels must be hashable and not missing"),
    ("study;y;se\nA;1;1\nB;2;1\n", ["--estimate", "y", "--se", "se"],
     "looks separated by ';', not ',': pass --sep ';'"),
], ids=["text-in-estimate", "negative-se", "missing-label", "semicolons"])
def test_bad_files_name_the_option_and_column(tmp_path, capsys, content, args, message):
    path = tmp_path / "f.csv"
    path.write_text(content)
    assert main(["fit", str(path), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


# ----------------------------------------------------------------------------- covariates
@pytest.fixture(scope="module")
def bcg_csv(tmp_path_factory):
    from hiermodel.datasets import bcg_trials

    df = bcg_trials()
    df["se"] = np.sqrt(df["vi"])
    path = tmp_path_factory.mktemp("bcg") / "bcg.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def bcg_ablat(bcg_csv):
    """Issue 18's example with figures: BCG log risk ratios on absolute latitude."""
    out = bcg_csv.parent / "ablat_out"
    code = main(["fit", str(bcg_csv), "--estimate", "yi", "--se", "se", "--label", "trial",
                 "--covariates", "ablat", "--out", str(out), *SMALL, "--seed", "2"])
    assert code == 0
    return out, (out / "report.md").read_text()


def _bcg_data(csv, covariates=None):
    from hiermodel import HierData

    df = pd.read_csv(csv)
    cov = None if covariates is None else df[covariates].set_axis(df["trial"].tolist())
    return HierData.from_estimates(df["yi"], df["se"], groups=df["trial"], covariates=cov)


def test_covariates_report_has_metafors_meta_regression(bcg_ablat, bcg_csv):
    from hiermodel import meta_analysis

    _, text = bcg_ablat
    ma = meta_analysis(_bcg_data(bcg_csv, ["ablat"]))
    h = ma.heterogeneity
    # metafor: tau^2 0.0764 (fully converged REML: 0.07635), intercept 0.2515, slope -0.0291,
    # QE(df = 11) = 30.7331, I^2 68.39%, H^2 3.16, R^2 75.62% (ours 75.63: the converged tau^2)
    assert abs(h["tau2"] - 0.0764) < 1e-4 and f"{h['tau2']:.4f}" == "0.0763"
    assert "tau^2 (residual heterogeneity, not explained by the covariates): 0.0763 (95% " \
           "Q-profile CI" in text
    coefficients = compact(text)
    assert "| intercept | 0.2515 |" in coefficients and "| ablat | -0.0291 |" in coefficients
    assert "QE(df = 11) = 30.7331, p = 0.0012" in text
    assert "68.39%" in text and "H^2 (unaccounted variability / sampling variability): 3.16" in text
    assert abs(h["R2"] - 75.62) < 0.02 and f"{h['R2']:.2f}%" in text
    pred = ma.predict(pd.DataFrame({"ablat": [33.46153846153846]})).iloc[0]
    assert f"{pred['pi_low']:.4f}, {pred['pi_high']:.4f}] (metafor's predict())" in text
    assert "theta_i | mu, beta, tau  ~ Normal(mu + (x_i - xbar)' beta, tau^2)" in text
    assert "centred at xbar" in text and "ablat = 33.46" in text
    brief = text.split("## Results in brief")[1].split("\n## ")[0]
    for name in ("mu (mean effect at the average covariates)", "beta[ablat]", "intercept",
                 "tau (residual between-group sd)", "A new group at the average covariates"):
        assert name in brief, name
    assert brief.count("exact posterior") == 5 and "empirical Bayes 0.2515" in brief


def test_covariates_run_writes_every_artefact(bcg_ablat):
    out, text = bcg_ablat
    idata = az.from_netcdf(out / "idata.nc")
    assert list(idata.posterior["beta"].coords["covariate"].values) == ["ablat"]
    assert "intercept" in idata.posterior and "x" in idata.constant_data
    for name in ("comparison.csv", "population.csv", "diagnostics.csv", "ppc.csv",
                 "exact_posterior.csv"):
        assert (out / name).stat().st_size > 0, name
    pop = pd.read_csv(out / "population.csv", index_col="parameter")
    assert list(pop.index) == ["mu", "beta[ablat]", "intercept", "tau"]
    comp = pd.read_csv(out / "comparison.csv", index_col="group")
    assert {"ablat", "eb_fitted", "fitted_mean"} <= set(comp.columns)
    for png in ("forest", "forest_methods", "bubble_ablat", "shrinkage", "tau", "ppc"):
        if (out / f"{png}.png").exists():        # drawn: linked and a real image
            assert f"({png}.png)" in text
            img = imread(out / f"{png}.png")
            assert img.shape[0] >= 300 and len(np.unique(img.reshape(-1, img.shape[-1]),
                                                         axis=0)) > 50, png
        else:                                    # not drawn: never silently
            assert f"figure {png}.png not drawn" in text.split("## Model")[0], png
    assert (out / "forest.png").exists() and (out / "bubble_ablat.png").exists()


def test_two_covariates_without_labels(bcg_csv, tmp_path):
    from hiermodel import meta_analysis
    from hiermodel.formatting import format_number

    out = tmp_path / "o"
    assert main(["fit", str(bcg_csv), "--estimate", "yi", "--se", "se", "--covariates",
                 "ablat, year", "--knha", "--out", str(out), *QUIET]) == 0
    post = az.from_netcdf(out / "idata.nc").posterior
    assert list(post["beta"].coords["covariate"].values) == ["ablat", "year"]
    text = (out / "report.md").read_text()
    ma = meta_analysis(_bcg_data(bcg_csv, ["ablat", "year"]), knha=True)
    year = ma.coefficients.loc["year"]
    assert f"| year | {format_number(year['estimate'])} |" in compact(text)
    assert "| coefficient | estimate | se | t | p | ci_low | ci_high |" in compact(text)
    assert f"QE(df = 10) = {ma.heterogeneity['QE']:.4f}" in text
    assert "test = \"knha\"" in text and "F(df1 = 2, df2 = 10)" in text
    assert "beta[year]" in pd.read_csv(out / "population.csv")["parameter"].tolist()


def test_intercept_only_estimates_get_the_meta_analysis(bcg_csv, tmp_path):
    out = tmp_path / "o"
    assert main(["fit", str(bcg_csv), "--estimate", "yi", "--se", "se", "--label", "trial",
                 "--out", str(out), *QUIET]) == 0
    text = compact((out / "report.md").read_text())
    sec = text.split("## Random-effects meta-analysis: empirical Bayes")[1].split("\n## ")[0]
    # metafor: tau^2 0.3132, I^2 92.22%, H^2 12.86, Q(df = 12) = 152.2330, mu -0.7145
    for s in ("0.3132 (95% Q-profile CI", "92.22%", "12.86", "Q(df = 12) = 152.2330, p < 0.0001",
              "| intercept | -0.7145 |", "95% prediction interval [-1.8667, 0.4376]"):
        assert s in sec, s
    assert "beta" not in (out / "population.csv").read_text()


@pytest.mark.parametrize(("covariates", "message"), [
    ("nope", "--covariates: column(s) ['nope'] not in the file; columns are ['trial',"),
    ("alloc", "--covariates column 'alloc' is not numeric"),
    ("ablat,,year", "--covariates: empty column name"),
    ("ablat,ablat", "column(s) ['ablat'] named more than once"),
])
def test_bad_covariate_is_one_line_exit_2(bcg_csv, tmp_path, capsys, fit_calls, covariates,
                                          message):
    assert main(["fit", str(bcg_csv), "--estimate", "yi", "--se", "se", "--covariates",
                 covariates, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hiermodel: error: ") and message in err[0], err
    assert fit_calls == [] and not (tmp_path / "o").exists()


def test_covariates_in_the_rows_and_summary_forms(tmp_path, capsys):
    from hiermodel.cli import data_from_args

    rows = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6, 7, 8], "g": list("aabbccdd"),
                         "dose": [1.0, 1, 2, 2, 4, 4, 3, 3], "bad": [1.0, 2, 2, 2, 4, 4, 3, 3]})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    parser = build_parser()
    args = parser.parse_args(["fit", str(tmp_path / "rows.csv"), "--value", "y", "--group", "g",
                              "--covariates", "dose"])
    data = data_from_args(args)
    assert data.covariate_names == ("dose",) and list(data.x[:, 0]) == [1, 2, 4, 3]
    summ = pd.DataFrame({"m": [1.0, 2, 0.5, 3], "n": [5, 8, 13, 9], "lab": list("wxyz"),
                         "x": [0.0, 1, 0, 2]})
    summ.to_csv(tmp_path / "summ.csv", index=False)
    args = parser.parse_args(["fit", str(tmp_path / "summ.csv"), "--mean", "m", "--n", "n",
                              "--sigma", "2", "--label", "lab", "--covariates", "x"])
    data = data_from_args(args)
    assert data.groups == tuple("wxyz") and list(data.covariates["x"]) == [0, 1, 0, 2]
    assert main(["fit", str(tmp_path / "rows.csv"), "--value", "y", "--group", "g",
                 "--covariates", "bad"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--covariates: column 'bad' varies within group 'a'" in err[0]


# ----------------------------------------------------------------------------- CLI words
@pytest.mark.parametrize(("content", "args", "message"), [
    ("g,y\na,1\nb,2\nc,3\n", ["--value", "y", "--group", "g"],
     "every group has a single row, so the within-group sd cannot be estimated from the file: "
     "give it with --sigma X"),
    ("g,y\na,1\na,2\nb,2\nb,3\n", ["--value", "y", "--group", "g", "--sigma", "nan"],
     "--sigma: the within-group sd must be a positive finite number, got 'nan'"),
    ("m,n\n1,5\n2,8\n0.5,13\n", ["--mean", "m", "--n", "n", "--sigma", "-2"],
     "--sigma: the within-group sd must be a positive finite number, got '-2'"),
    ("m,n\n1,5\n2,8\n0.5,13\n", ["--mean", "m", "--n", "n", "--sigma", "sd"],
     "--sigma: 'sd' is neither a number nor a column of the file"),
    ("study;y;se\nA;1,5;1\nB;2,1;1\nC;3;1\n", ["--estimate", "y", "--se", "se", "--sep", ";"],
     "--estimate (column 'y'): '1,5' has a decimal comma; for a file written that way "
     "(semicolons between columns) pass --sep ';' --decimal ','"),
    ("", ["--estimate", "y", "--se", "se"], "is empty: give a CSV file with a header row"),
    ("study,y,se\n", ["--estimate", "y", "--se", "se"], "has a header but no rows"),
    ("study,y,se\nPellegrini & Hicks,1,1\nPellegrini & Hicks,2,1\nC,3,1\n",
     ["--estimate", "y", "--se", "se", "--label", "study"],
     "--label (column 'study') repeats the label(s) ['Pellegrini & Hicks'], but each row is a "
     "group of its own: name a column whose values differ on every row (e.g. a study id)"),
    ("study,y,se,x\nA,1,1,1\nB,2,1,3\nC,3,2,2\nD,0,1,5\n",
     ["--estimate", "y", "--se", "se", "--covariates", "x,y"],
     "--covariates: column 'y' is already the --estimate column"),
    ("g,y,x\na,1,1\na,2,1\nb,2,2\nb,3,2\nc,1,3\nc,5,3\n",
     ["--value", "y", "--group", "g", "--covariates", "g"],
     "--covariates: column 'g' is already the --group column"),
], ids=["all-singletons", "sigma-nan", "sigma-negative", "sigma-unknown-name",
        "decimal-comma", "empty-file", "header-only", "duplicate-labels", "covariate-is-estimate",
        "covariate-is-group"])
def test_cli_errors_name_the_flag_and_what_to_type(tmp_path, capsys, fit_calls, content, args,
                                                   message):
    path = tmp_path / "f.csv"
    path.write_text(content)
    assert main(["fit", str(path), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hiermodel: error: ") and message in err[0], err
    assert "`" not in err[0] and "=" not in err[0].split("error: ", 1)[1], err   # no Python
    assert fit_calls == [] and not (tmp_path / "o").exists()


def test_sep_and_decimal_read_a_semicolon_file(tmp_path):
    from hiermodel.cli import data_from_args

    (tmp_path / "f.csv").write_text("study;y;se\nA;1,5;1\nB;2,25;0,5\nC;3;1\n")
    args = build_parser().parse_args(["fit", str(tmp_path / "f.csv"), "--estimate", "y",
                                      "--se", "se", "--label", "study", "--sep", ";",
                                      "--decimal", ","])
    data = data_from_args(args)
    assert data.groups == ("A", "B", "C") and list(data.means) == [1.5, 2.25, 3.0]
    assert list(data.se) == [1.0, 0.5, 1.0]


def test_library_messages_in_cli_words():
    from hiermodel.cli import in_cli_words

    said = in_cli_words("`y` contains NaN or infinite values (at position(s) [1]); remove or "
                        "impute them before building HierData.",
                        {"y": ("--estimate", "effect"), "se": ("--se", "se")})
    assert said == ("--estimate (column 'effect') contains NaN or infinite values (at "
                    "position(s) [1]); remove or fill them in the file.")
    said = in_cli_words("`value` (column 'y'): ... or pass a known `sigma=`.",
                        {"value": ("--value", None)})
    assert said == ("--value (column 'y'): ... or give the known within-group sd with --sigma X "
                    "(e.g. --sigma 15).")


def test_ctrl_c_while_importing_is_one_line_and_130(tmp_path):
    """SIGINT 0.3 s after start lands while the package imports PyMC (seconds): the one-line
    message, no traceback, and the status of an interrupt (130, or killed by SIGINT, which
    the shell also reports as 130)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "hiermodel", "eight-schools", "--out",
                             "never_written"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
    assert err.strip().splitlines() == ["hiermodel: interrupted; --out was left as it was "
                                        "(outputs appear only when a run finishes)"], err
    assert out == "" and not (tmp_path / "never_written").exists()


def test_prior_choices_are_the_family_tables():
    from hiermodel.cli import PRIOR_FORMS
    from hiermodel.prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES

    assert tuple(PRIOR_FORMS["--tau-prior"]) == tuple(TAU_FAMILIES)
    assert tuple(PRIOR_FORMS["--sigma-prior"]) == tuple(SIGMA_FAMILIES)
    assert tuple(PRIOR_FORMS["--mu-prior"]) == MU_FAMILIES
    for name, family in TAU_FAMILIES.items():
        assert parse_prior("--tau-prior", f"{name}:2") == (name, {family.parameter: 2.0})


def test_help_and_usage_errors_load_no_sampler():
    """``hiermodel --help`` and a usage error answer without importing PyMC, ArviZ or
    matplotlib (the command's choices are data: hiermodel.samplers, .parameterization,
    .prior_families); PyMC loads only when a run starts."""
    probe = ("import sys\n"
             "from hiermodel.cli import main\n"
             "try:\n"
             "    main(sys.argv[1:])\n"
             "except SystemExit:\n"
             "    pass\n"
             "print('LOADED', *sorted(m for m in ('pymc', 'pytensor', 'arviz', 'matplotlib')\n"
             "                        if m in sys.modules))\n")
    for argv in (["--help"], ["fit", "--help"], ["fit"]):
        out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True,
                             text=True, check=True).stdout
        assert out.splitlines()[-1] == "LOADED", (argv, out.splitlines()[-1])


def test_an_import_failure_caused_by_ctrl_c_counts_as_the_interrupt():
    """A C extension interrupted while it loads raises ImportError("initialization failed")
    with the KeyboardInterrupt as its context: the command reports the interrupt (exit 130),
    not "error: initialization failed"; a real import error stays an error."""
    from hiermodel.interrupt import caused_by_interrupt

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("initialization failed")  # noqa: B904 (as a C extension does)
    except ImportError as err:
        interrupted = err
    assert caused_by_interrupt(interrupted)
    assert not caused_by_interrupt(ImportError("No module named 'nutpie'"))
    assert not caused_by_interrupt(ValueError("x"))
