"""The ``hiermodel`` command: the files it writes, its reproducibility and its user errors.

Real runs through ``subprocess`` (the console entry, as a user types it) with small draws.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from hiermodel.cli import build_parser, main

SMALL = ["--draws", "300", "--tune", "300", "--chains", "2", "--no-progress"]
FILES = ("idata.nc", "comparison.csv", "diagnostics.csv", "ppc.csv", "exact_posterior.csv",
         "report.md", "shrinkage.png", "forest.png", "funnel.png", "tau.png", "ppc.png")


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


def test_main_job_writes_every_file(two_runs):
    a, _, proc = two_runs
    for name in FILES:
        assert (a / name).stat().st_size > 0, name
    assert "hiermodel: wrote" in proc.stderr
    idata = az.from_netcdf(a / "idata.nc")
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood",
                  "posterior_predictive"):
        assert group in idata.groups(), group
    assert list(idata.posterior["theta"].coords["group"].values) == list("ABCDEFGH")
    comp = pd.read_csv(a / "comparison.csv", index_col="group")
    assert list(comp.index) == list("ABCDEFGH")
    for col in ("no_pooling", "complete_pooling", "eb", "eb_weight", "seed", "mean", "sd",
                "hdi_low", "hdi_high", "rb_mean", "shrinkage", "exact"):
        assert comp[col].notna().all(), col
    np.testing.assert_array_equal(comp["no_pooling"], [28, 8, -3, 7, -1, 1, 18, 12])
    ppc = pd.read_csv(a / "ppc.csv")
    assert ppc["p_value"].between(0, 1).all() and set(ppc["replicate"]) == {"y", "y_mixed"}


def test_report_opens_with_the_comparison_table(two_runs):
    a, _, _ = two_runs
    text = (a / "report.md").read_text()
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads[0].startswith("## Comparison")
    body = text.split(heads[0])[1]
    assert body.lstrip().startswith("| group")
    assert "hiermodel eight-schools --out" in text and "Seed: 5" in text
    assert "- pymc 5.28" in text and "- arviz 0.23" in text
    for png in ("shrinkage", "forest", "funnel", "tau", "ppc"):
        assert f"({png}.png)" in text


def test_figures_are_real_images(two_runs):
    a, _, _ = two_runs
    for png in ("shrinkage", "forest", "funnel", "tau", "ppc"):
        img = imread(a / f"{png}.png")
        h, w = img.shape[:2]
        assert h >= 300 and w >= 400, (png, img.shape)
        # a plot, not a blank canvas: many distinct colours
        assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 50, png


def test_same_seed_same_numbers(two_runs):
    a, b, _ = two_runs
    for name in ("comparison.csv", "diagnostics.csv", "ppc.csv", "exact_posterior.csv"):
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
    small = ["--draws", "100", "--tune", "100", "--chains", "1", "--no-progress",
             "--no-figures", "--seed", "1"]
    cases = {
        "rows": ["rows.csv", "--value", "score", "--group", "site"],
        "est": ["est.csv", "--estimate", "y", "--se", "se", "--label", "school"],
        "summ": ["summ.csv", "--mean", "m", "--n", "n", "--sigma", "2", "--label", "lab"],
    }
    expect = {"rows": ["north", "south", "east", "west"], "est": list("ABCDEFGH"),
              "summ": ["a", "b", "c"]}
    for key, args in cases.items():
        out = tmp_path / f"{key}_out"
        with warnings.catch_warnings():  # small draws: ESS warnings are not the point here
            warnings.simplefilter("ignore")
            code = main(["fit", str(tmp_path / args[0]), *args[1:], "--out", str(out), *small])
        assert code == 0, key
        comp = pd.read_csv(out / "comparison.csv", index_col="group")
        assert [str(x) for x in comp.index] == expect[key]
        assert (out / "exact_posterior.csv").exists() == (key != "rows")


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
        (["fit", "data.csv", "--mean", "y", "--n", "g", "--sigma", "3"], "`n`"),
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


def test_bad_choice_is_argparse_usage_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eight-schools", "--eb-method", "magic"])
    assert exc.value.code == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["eight-schools", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--seed", "--sampler", "--parameterization", "--draws",
                   "--chains"):
        assert option in out
