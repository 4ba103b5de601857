"""``report.md`` reads without the code: model, priors with numbers, every column defined,
one interval convention, plain predictive-check names, nothing suspicious left silent.

Real runs (small draws) through :func:`hiermodel.report.run_report` and the CLI's ``main``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hiermodel import HierData, eight_schools
from hiermodel.cli import main
from hiermodel.formatting import format_number
from hiermodel.report import ReportResult, markdown_table, run_report

SMALL = dict(draws=200, tune=200, chains=2, progressbar=False)
CLI_SMALL = ["--draws", "200", "--tune", "200", "--chains", "2", "--no-progress",
             "--no-figures", "--seed", "3"]
_SEP = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


# ----------------------------------------------------------------------------- helpers
def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def tables(text: str) -> list[dict]:
    """Every markdown table of ``text``: header cells, rows, and the names defined in the
    ``Columns:`` list right under it (``- `name`: ...``)."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines) - 1:
        if lines[i].startswith("|") and _SEP.match(lines[i + 1].strip()):
            heads = _cells(lines[i])
            j = i + 2
            rows = []
            while j < len(lines) and lines[j].startswith("|"):
                rows.append(_cells(lines[j]))
                j += 1
            k = j
            while k < len(lines) and not lines[k].strip():
                k += 1
            defined = []
            if k < len(lines) and lines[k].strip() == "Columns:":
                k += 1
                while k < len(lines) and not lines[k].strip():
                    k += 1
                while k < len(lines) and lines[k].startswith("- `"):
                    defined.append(lines[k][3:lines[k].index("`", 3)])
                    k += 1
            out.append({"heads": heads, "rows": rows, "defined": defined})
            i = j
        else:
            i += 1
    return out


def section(text: str, head: str) -> str:
    """The body of the ``## head...`` section."""
    m = re.search(rf"^## {re.escape(head)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"no section {head!r}"
    return m.group(1)


def table_after(text: str, head: str) -> pd.DataFrame:
    """The first table of section ``head`` as a DataFrame of strings, indexed by column 0."""
    t = tables(section(text, head))[0]
    return pd.DataFrame(t["rows"], columns=t["heads"]).set_index(t["heads"][0])


def num(s: str) -> float:
    return float(s.replace("–", "nan"))


@pytest.fixture(scope="module")
def es_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report_es")
    result = run_report(eight_schools(), out, seed=7, figures=False, command="hiermodel test",
                        title="Eight Schools", log=lambda m: None, **SMALL)
    return out, result, (out / "report.md").read_text()


# ----------------------------------------------------------------------------- the report
def test_report_states_model_priors_and_data_first(es_report):
    _, _, text = es_report
    heads = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert heads[:5] == ["Warnings", "Model", "Priors", "Data", "Results in brief"]
    model = section(text, "Model")
    for eq in ("y_i     | theta_i", "~ Normal(theta_i, se_i^2)", "theta_i | mu, tau",
               "~ Normal(mu, tau^2)", "mu ~ Normal(", "tau ~ HalfCauchy("):
        assert eq in model, eq
    assert "se_i known" in model and "sigma unknown" not in model
    priors = section(text, "Priors")
    # Eight Schools: mu ~ Normal(7.686, 41.46), tau ~ HalfCauchy(16.59), S = 16.59
    assert "`mu ~ Normal(7.686, 41.46)`" in priors
    assert "`tau ~ HalfCauchy(16.59)`" in priors
    assert "scaled to the data" in priors and "16.59" in priors
    data = section(text, "Data")
    assert "G = 8 groups" in data and "mu_hat = 7.686" in data


def test_estimates_form_gets_the_eb_meta_analysis(es_report):
    """Eight Schools (estimates y_i, se_i): metafor's rma(yi, vi) numbers, tau^2 = 0."""
    _, _, text = es_report
    heads = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert heads[5] == "Random-effects meta-analysis: empirical Bayes, as metafor reports it"
    sec = section(text, "Random-effects meta-analysis")
    for s in ("tau^2 (total heterogeneity): 0.0000 (95% Q-profile CI [0.0000, 270.3672])",
              "I^2 (heterogeneity / total variability): 0.00%", "Q(df = 7) = 4.7071, p = 0.6957",
              "predicted effect 7.6856 (se 4.0719)"):
        assert s in sec, s
    assert "R^2" not in sec and "beta" not in sec
    # metafor's REML stops at a 1e-5 change in tau^2: the wording promises no more than that
    assert "equal metafor's printed digits" in sec and "up to its convergence tolerance" in sec
    assert "prints the same" not in text
    assert not re.search(r"seed\s+text|table\s+4\.", text, re.IGNORECASE)
    t = table_after(text, "Random-effects meta-analysis")
    assert list(t.index) == ["intercept"] and t.loc["intercept", "estimate"] == "7.686"


def test_every_column_of_every_table_is_defined(es_report):
    _, _, text = es_report
    found = tables(text)
    assert len(found) >= 6  # meta-analysis, comparison, population, exact, ppc, diagnostics
    for t in found:
        assert t["defined"], f"table {t['heads']} has no Columns list"
        missing = [h for h in t["heads"] if h not in t["defined"]]
        assert not missing, (t["heads"], missing)
        assert all(h for h in t["heads"]), t["heads"]   # no unnamed index column


def test_one_interval_convention(es_report):
    out, _, text = es_report
    assert "95% central (equal-tailed)" in text
    assert "94%" not in text and "hdi" not in text.lower()
    for t in tables(text):
        assert not any("hdi" in h for h in t["heads"])
    comp = pd.read_csv(out / "comparison.csv", index_col="group")
    assert {"eti_low", "eti_high"} <= set(comp.columns)
    # the interval is the 2.5% / 97.5% quantiles of the draws
    import arviz as az

    theta = az.from_netcdf(out / "idata.nc").posterior["theta"]
    q = theta.quantile([0.025, 0.975], dim=("chain", "draw"))
    np.testing.assert_allclose(comp["eti_low"], q.isel(quantile=0), rtol=1e-8)
    np.testing.assert_allclose(comp["eti_high"], q.isel(quantile=1), rtol=1e-8)


def test_ppc_rows_are_plain_names(es_report):
    _, _, text = es_report
    assert "('y'" not in text and "('y_mixed'" not in text
    ppc = table_after(text, "Posterior predictive checks")
    assert list(ppc.index) == [f"{v}: {s}" for v in ("y", "y_mixed")
                               for s in ("min", "max", "mean", "sd", "range")]


def test_sampling_warnings_are_at_the_top(es_report):
    _, _, text = es_report
    warn = section(text, "Warnings")   # 2 x 200 draws: ESS < 400
    assert "SamplingWarning" in warn and "ESS" in warn
    assert "Checked and found no problem" in warn


def test_report_records_how_to_reproduce(es_report):
    out, result, text = es_report
    assert "hiermodel test" in section(text, "Reproduce") and "Seed: 7" in text
    from importlib.metadata import version

    assert f"- pymc {version('pymc')}" in text and f"- arviz {version('arviz')}" in text
    assert {"idata", "comparison", "population", "diagnostics", "ppc", "exact",
            "report"} <= set(result.files)
    assert all(p.parent == out and p.exists() for p in result.files.values())
    assert not list(out.glob("*.png"))


# ----------------------------------------------------------------------------- user data
def test_rows_around_70_give_mu_near_the_data(tmp_path):
    """The bug behind issue 13: fixed N(0, 5) priors put mu at 4.2 for scores around 70."""
    rng = np.random.default_rng(13)
    school = np.repeat([f"s{i:02d}" for i in range(10)], 20)
    score = 70 + np.repeat(rng.normal(0, 4, 10), 20) + rng.normal(0, 12, school.size)
    pd.DataFrame({"school": school, "score": score}).to_csv(tmp_path / "scores.csv",
                                                            index=False)
    assert main(["fit", str(tmp_path / "scores.csv"), "--value", "score", "--group", "school",
                 "--out", str(tmp_path / "out"), *CLI_SMALL]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "N = 200 rows in G = 10 groups" in section(text, "Data")
    model = section(text, "Model")
    assert "sigma unknown" in model and "sigma ~ HalfNormal(" in model
    assert "`sigma ~ HalfNormal(" in section(text, "Priors")
    pop = table_after(text, "Population parameters")
    mu_hat, mean, sd = (num(pop.at["mu", c]) for c in ("eb", "mean", "sd"))
    assert abs(mean - mu_hat) < 2 * sd, (mean, mu_hat, sd)
    assert 60 < mean < 80
    assert "sigma" in pop.index and 9 < num(pop.at["sigma", "mean"]) < 15
    exact_text = section(text, "Exact posterior")
    assert "p(tau, sigma | y) on a grid of" in exact_text
    exact = table_after(text, "Exact posterior")
    assert abs(num(exact.at["sigma", "mean"]) - num(pop.at["sigma", "mean"])) < 0.5
    assert num(pop.at["sigma", "exact"]) == pytest.approx(num(exact.at["sigma", "mean"]),
                                                          rel=1e-3)
    for t in tables(text):
        assert set(t["heads"]) <= set(t["defined"]), t["heads"]


def test_extreme_p_value_is_flagged(tmp_path):
    """One huge outlier group with a tiny se under a narrow tau prior: the model cannot
    reproduce the max of the group means."""
    y = [0.3, -0.2, 0.1, 0.0, -0.4, 0.2, 0.1, -0.1, 50.0]
    se = [1.0] * 8 + [0.5]
    pd.DataFrame({"study": list("abcdefghi"), "y": y, "se": se}).to_csv(
        tmp_path / "outlier.csv", index=False)
    assert main(["fit", str(tmp_path / "outlier.csv"), "--estimate", "y", "--se", "se",
                 "--label", "study", "--tau-prior", "halfnormal:0.1",
                 "--out", str(tmp_path / "out"), *CLI_SMALL]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    ppc = table_after(text, "Posterior predictive checks")
    flagged = ppc[ppc["flag"] == "EXTREME"]
    assert len(flagged) >= 1
    p = flagged["p_value"].map(num)
    assert ((p < 0.01) | (p > 0.99)).all()
    assert (ppc.loc[ppc["flag"] != "EXTREME", "p_value"].map(num).between(0.01, 0.99)).all()
    warn = section(text, "Warnings")
    assert "extreme p-value" in warn and "What it means" in warn and "What to do" in warn
    for check in flagged.index:
        assert f"`{check}`" in warn
    assert "HalfNormal(0.1), set by the user" in warn
    # the narrow prior fights the data: the prior-data conflict is listed too
    assert "PriorDataConflictWarning" in warn
    assert "Normal(" in section(text, "Priors") and "`tau ~ HalfNormal(0.1)`: set by the user" \
        in section(text, "Priors")


@pytest.mark.parametrize("center", [0.01, 10_000.0])
def test_numbers_readable_at_any_scale(tmp_path, center):
    rng = np.random.default_rng(1)
    g = 50
    theta = center + 0.2 * center * rng.normal(size=g) / 10
    se = np.full(g, 0.02 * center) * rng.uniform(0.5, 2, g)
    y = theta + se * rng.normal(size=g)
    pd.DataFrame({"g": [f"g{i}" for i in range(g)], "y": y, "se": se}).to_csv(
        tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), "--estimate", "y", "--se", "se", "--label",
                 "g", "--out", str(tmp_path / "out"), *CLI_SMALL]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "e+0" not in text
    pop = table_after(text, "Population parameters")
    mu = num(pop.at["mu", "mean"])
    assert abs(mu - center) < 0.05 * center
    comp = table_after(text, "Group estimates")
    assert len(comp) == g
    # at least 4 significant digits survive: the table matches the CSV to 4 digits
    csv = pd.read_csv(tmp_path / "out" / "comparison.csv", index_col="group")
    np.testing.assert_allclose(comp["mean"].map(num).to_numpy(), csv["mean"], rtol=1e-3)


# ----------------------------------------------------------------------------- helpers' units
@pytest.mark.parametrize(("value", "text"), [
    (10023.45, "10023.5"), (4.39712, "4.397"), (0.0123456, "0.01235"), (28.0, "28"),
    (0.0, "0"), (np.nan, "–"), (12, "12"), (-3.5e-7, "-3.5e-07"), (1234567.8, "1234567.8"),
])
def test_format_number(value, text):
    assert format_number(value) == text


def test_markdown_table_needs_a_named_index():
    df = pd.DataFrame({"a": [1.0, np.nan]}, index=pd.Index(["x|y", "z"], name="row"))
    md = markdown_table(df)
    assert _cells(md.splitlines()[0]) == ["row", "a"]
    align = _cells(md.splitlines()[1])
    assert align[0].startswith(":") and align[1].endswith(":") and not align[1].startswith(":")
    assert _cells(md.splitlines()[2]) == ["x\\|y", "1"]
    assert _cells(md.splitlines()[3]) == ["z", "–"]
    with pytest.raises(ValueError, match="name the index"):
        markdown_table(pd.DataFrame({"a": [1]}))


def test_run_report_rejects_unknown_transform(tmp_path):
    with pytest.raises(ValueError, match="transform"):
        run_report(eight_schools(), tmp_path, seed=1, transform="log10", **SMALL)


def test_run_report_from_python_with_rows(tmp_path):
    data = HierData.from_summary([70.0, 72.0, 68.0], [20, 25, 30], 12.0, groups=list("abc"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything of hiermodel's is captured into the report
        run_report(data, tmp_path, seed=2, figures=False, log=lambda m: None, **SMALL)
    text = Path(tmp_path / "report.md").read_text()
    assert "sigma = 12 known" in section(text, "Model")
    assert "N = 75 in all" in section(text, "Data")


# ----------------------------------------------------------------------------- atomic output
def _quick(out, **kw):
    return run_report(eight_schools(), out, seed=1, log=lambda m: None,
                      **{**SMALL, "figures": False, **kw})


def test_a_rerun_replaces_its_own_folder_whole(tmp_path):
    out = tmp_path / "run"
    _quick(out, figures=True)
    assert (out / "forest.png").exists() and (out / ".hiermodel-run").exists()
    files = _quick(out).files                    # other options: no figures
    assert not (out / "forest.png").exists()     # nothing of the first run is left
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".hiermodel-run"] + [p.name for p in files.values()])
    assert [p.name for p in tmp_path.iterdir()] == ["run"]   # no staging folders left


@pytest.mark.parametrize("case", ["file", "foreign", "under-a-file"])
def test_out_that_is_not_ours_is_refused_before_fitting(tmp_path, case):
    if case == "file":
        out = tmp_path / "x.txt"
        out.write_text("mine")
        fragment = "is a file"
    elif case == "foreign":
        out = tmp_path / "thesis"
        out.mkdir()
        (out / "chapter1.tex").write_text("mine")
        fragment = "was not written by hiermodel"
    else:
        (tmp_path / "f").write_text("mine")
        out = tmp_path / "f" / "run"
        fragment = "cannot create its parent folder"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=fragment):
        run_report(eight_schools(), out, seed=1, log=lambda m: None,
                   **{**SMALL, "draws": 1})
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_an_interrupted_run_leaves_the_previous_results(tmp_path):
    out = tmp_path / "run"
    _quick(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupt(line):                 # Ctrl-C after every file of the new run is written
        if line.startswith("hiermodel: wrote"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_report(eight_schools(), out, seed=2, figures=False, log=interrupt, **SMALL)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_ctrl_c_from_the_shell(tmp_path):
    """A real SIGINT to the CLI while it fits: exit code 130 or 1, no traceback noise
    required, and --out keeps the previous run."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    _quick(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # 2 x 2e7 draws: minutes of sampling, so the interrupt always lands inside the fit (with
    # 2 x 2e5 the two-parameter marginal fit could finish within the 3 s below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hiermodel", "eight-schools", "--out", str(out),
         "--draws", "20000000", "--tune", "200", "--chains", "2", "--no-figures"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(tmp_path.glob(".run.partial-*")):
        time.sleep(0.2)
    time.sleep(3)                                 # inside the fit
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "interrupted" in err.lower()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# ----------------------------------------------------------------------------- complete pooling
def test_complete_pooling_column_is_the_precision_weighted_mean(es_report):
    """The comparison's complete_pooling is metafor's equal-effects estimate 7.6856 on Eight
    Schools (rma(yi, vi, method="EE")), defined as such; not the unweighted mean 8.75."""
    out, _, text = es_report
    comp = pd.read_csv(out / "comparison.csv", index_col="group")
    np.testing.assert_allclose(comp["complete_pooling"], 7.6856167, atol=1e-7)
    assert "complete_pooling_weighted" not in comp
    sec = section(text, "Group estimates")
    assert "`complete_pooling`: the precision-weighted mean of the y_i" in sec
    assert "= 7.686" in sec and "unweighted mean of the" not in sec


def test_equal_effects_run_reports_tau2_zero(tmp_path):
    with pytest.raises(ValueError, match="--knha"):
        run_report(eight_schools(), tmp_path / "kh", seed=1, eb_method="ee", knha=True, **SMALL)
    assert not (tmp_path / "kh").exists()
    run_report(eight_schools(), tmp_path / "ee", seed=3, eb_method="ee", figures=False,
               log=lambda m: None, **SMALL)
    text = (tmp_path / "ee" / "report.md").read_text()
    assert "Random-effects meta-analysis" not in text
    sec = section(text, "Equal-effects meta-analysis")
    for s in ("equal-effects meta-analysis y_i ~ Normal(mu, se_i^2)", "0 by assumption",
              "Q(df = 7) = 4.7071", "predicted effect 7.6856 (se 4.0719)"):
        assert s in sec, s
    assert "Q-profile" not in sec
    comp = pd.read_csv(tmp_path / "ee" / "comparison.csv", index_col="group")
    np.testing.assert_allclose(comp["eb"], comp["complete_pooling"], rtol=1e-12)


# ----------------------------------------------------------------------------- the result
def test_run_report_returns_a_frozen_result_that_prints_the_report(es_report):
    import dataclasses

    out, result, text = es_report
    assert isinstance(result, ReportResult)
    assert str(result) == text == result._repr_markdown_()
    assert "Eight Schools" in repr(result) and "seed 7" in repr(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.seconds = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.settings.seed = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.tables.comparison = None
    with pytest.raises(TypeError):
        result.files["report"] = out / "other.md"
    assert result.settings.interval_columns == ("eti_low", "eti_high")
    assert result.files["report"] == out / "report.md"


def test_rendering_computes_nothing(es_report, monkeypatch):
    """The text comes from the result's fields alone: without the fit and its draws, with
    every estimator replaced by a tripwire, rendering twice gives the same text."""
    import dataclasses

    import hiermodel.comparison
    import hiermodel.core
    import hiermodel.sampling
    import hiermodel.shrinkage

    _, result, text = es_report

    def tripwire(*args, **kwargs):
        raise AssertionError("rendering recomputed something")

    for module, name in [(hiermodel.core, "estimate_tau"), (hiermodel.core,
                         "predictive_quantiles"), (hiermodel.comparison, "compare"),
                         (hiermodel.comparison, "compare_population"),
                         (hiermodel.sampling, "fit"), (hiermodel.shrinkage, "exact_posterior"),
                         (hiermodel.shrinkage, "meta_analysis")]:
        monkeypatch.setattr(module, name, tripwire)
    bare = dataclasses.replace(result, idata=None, predictive=None)
    assert str(bare) == str(bare) == text
    with pytest.raises(AssertionError, match="recomputed"):    # the tripwires are live
        hiermodel.core.estimate_tau(np.zeros(3), np.ones(3), "reml")


def test_hdi_changes_the_interval_columns_and_the_words(es_report, tmp_path):
    out_eti, eti, eti_text = es_report
    result = run_report(eight_schools(), tmp_path / "hdi", seed=7, figures=False,
                        interval="hdi", command="hiermodel test", title="Eight Schools",
                        log=lambda m: None, **SMALL)
    text = str(result)
    assert result.settings.interval_columns == ("hdi_low", "hdi_high")
    for name in ("comparison.csv", "population.csv"):
        hdi = pd.read_csv(tmp_path / "hdi" / name, index_col=0)
        central = pd.read_csv(out_eti / name, index_col=0)
        assert {"hdi_low", "hdi_high"} <= set(hdi.columns) and "eti_low" not in hdi.columns
        np.testing.assert_array_equal(hdi["mean"], central["mean"])    # the same draws
        assert not np.allclose(hdi["hdi_low"], central["eti_low"])     # another interval
    heads = tables(section(text, "Group estimates"))[0]["heads"]
    assert "hdi_low" in heads and "eti_low" not in heads
    assert "highest-density interval (HDI) of theta_i" in text
    assert "95% HDI [" in section(text, "Results in brief")
    assert "Every interval in this report is a 95% central" in eti_text
    assert "Every interval in this report" not in text and "95% highest-density" in text
    assert "95% HDI" not in eti_text


def test_cli_interval_and_prob_are_passed_on(tmp_path, capsys):
    from hiermodel.cli import build_parser

    args = build_parser().parse_args(["eight-schools", "--interval", "hdi", "--prob", "0.9"])
    assert (args.interval, args.prob) == ("hdi", 0.9)
    assert build_parser().parse_args(["eight-schools"]).interval is None
    out = tmp_path / "o"
    assert main(["eight-schools", "--out", str(out), "--interval", "hdi", "--prob", "0.9",
                 *CLI_SMALL]) == 0
    text = (out / "report.md").read_text()
    assert "90% HDI [" in text and "90% highest-density" in text
    assert "hdi_low" in pd.read_csv(out / "population.csv").columns
    capsys.readouterr()
    assert main(["eight-schools", "--out", str(tmp_path / "p"), "--prob", "1.5",
                 *CLI_SMALL]) == 2
    assert "hiermodel: error: --prob must be a number strictly between 0 and 1" in (
        capsys.readouterr().err)


def test_estimates_report_has_influence_small_study_tests_and_bayes_factors(es_report):
    """Estimates-form data: the report's section carries metafor's influence flag rule, the
    Egger and rank tests, trim and fill and the exact Bayes factors, each with the numbers
    of the library call; influence.csv is MetaAnalysis.influence()."""
    from hiermodel import exact_posterior, meta_analysis
    from hiermodel.report.render_meta import metafor_number

    _, result, text = es_report
    meta = meta_analysis(eight_schools(), "reml")
    section = text.split("## Influence, small-study effects and Bayes factors")[1].split("\n## ")[0]
    egger, rank, tf = meta.egger_test(), meta.rank_test(), meta.trim_and_fill()
    assert f"z = {metafor_number(egger.statistic)}" in section
    assert f"Kendall's tau = {metafor_number(rank.tau)}" in section
    assert tf.k0 == 0 and f"no study estimated missing on the {tf.side}" in section
    exact = exact_posterior(eight_schools(), result.priors)
    assert f"BF01 = {format_number(exact.bayes_factor('tau'))}" in section
    table = pd.read_csv(result.files["influence"], index_col="study")
    expected = meta.influence()
    np.testing.assert_allclose(table["cook_d"].to_numpy(), expected["cook_d"].to_numpy(),
                               rtol=1e-8)
    assert list(table["influential"]) == list(expected["influential"])
