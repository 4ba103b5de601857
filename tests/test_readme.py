"""The README keeps its promises: short, its example and command-line lines run as written,
its links point at files that exist, and the two set-up lines are where `.ci/run` finds them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def block_after(marker: str) -> str:
    """The fenced code block that follows ``<!-- marker -->``."""
    match = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)\n```", README, re.S)
    assert match, f"no code block after <!-- {marker} --> in README.md"
    return match.group(1)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_readme_is_short_with_both_setup_lines():
    assert len(README.splitlines()) <= 200
    assert block_after("ci:main").startswith("pip install -e . && hiermodel eight-schools")
    assert block_after("ci:test") == 'pip install -e ".[test]" && python -m pytest'


def test_readme_links_exist():
    links = re.findall(r"\]\(([^)#\s]+)\)", README)
    assert len(links) >= 6, links
    missing = [link for link in links
               if not link.startswith(("http://", "https://")) and not (ROOT / link).exists()]
    assert not missing, missing


def test_example_line_count():
    assert len(block_after("readme:example").splitlines()) <= 25


@pytest.mark.slow
def test_example_runs_as_written(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(block_after("readme:example"))
    done = run([sys.executable, str(script)], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # what it prints: the diagnostics, the meta-regression slope, the side-by-side table
    assert "divergences: 0" in done.stdout
    assert "ablat" in done.stdout and "beta[ablat]" in done.stdout
    for figure in ("shrinkage.png", "bubble.png"):
        assert (tmp_path / figure).stat().st_size > 10_000, figure


@pytest.mark.slow
def test_command_line_lines_run_as_written(tmp_path):
    for line in block_after("readme:cli").splitlines():
        done = run(["bash", "-c", line], tmp_path)
        assert done.returncode == 0, (line, done.stderr[-3000:])
    report = (tmp_path / "bcg_out" / "report.md").read_text()
    assert "ablat" in report
    for name in ("idata.nc", "comparison_exp.csv", "bubble_ablat.png"):
        assert (tmp_path / "bcg_out" / name).exists(), name
