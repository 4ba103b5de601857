"""The code base is ruff-clean (config in pyproject.toml), notebooks included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ruff_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _private_imports(source: str) -> list[str]:
    import ast

    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            out += [f"from {'.' * node.level}{node.module or ''} import {a.name}"
                    for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    return out


def test_no_module_imports_another_modules_underscore_names():
    """Modules talk through public names only (shared checks live in ``_validate``, whose
    names are public)."""
    found = {str(p.relative_to(ROOT)): _private_imports(p.read_text())
             for p in sorted((ROOT / "hiermodel").rglob("*.py"))}
    assert {k: v for k, v in found.items() if v} == {}
    # the check itself can fail
    assert _private_imports("from .fit import _progress, fit\n") == [
        "from .fit import _progress"]


def test_every_public_name_exists():
    import hiermodel as hm

    assert [n for n in hm.__all__ if not hasattr(hm, n)] == []
    assert hm.plots.plot_meta_forest and hm.studies.sbc and hm.studies.mse_study


_MODULES_AFTER = """
import sys
import {}
print("\\n".join(sorted(sys.modules)))
"""


def test_import_hiermodel_loads_nothing_heavy_that_pymc_does_not():
    """``import hiermodel`` should cost little more than ``import pymc`` (issue 17, target 4):
    ArviZ (whose 1.x import loads its figures and matplotlib), scipy.stats and scipy.special
    are imported where they are used.  On PyMC 5 ``import pymc`` loads them all itself, so
    the check bites on PyMC 6."""
    def loaded(module):
        out = subprocess.run([sys.executable, "-c", _MODULES_AFTER.format(module)],
                             capture_output=True, text=True, check=True).stdout
        return set(out.split())

    extra = loaded("hiermodel") - loaded("pymc")
    heavy = ("arviz", "arviz_stats", "arviz_plots", "matplotlib", "scipy.stats",
             "scipy.special", "scipy.optimize", "numba", "nutpie")
    assert not [m for m in heavy if m in extra]


def test_conflict_threshold_is_the_chi2_point():
    from scipy import stats

    from hiermodel.diagnostics import CONFLICT_LR, CONFLICT_TAIL

    assert stats.chi2.isf(CONFLICT_TAIL, 1) == CONFLICT_LR


def test_closed_forms_load_no_pymc():
    """The package's names load on first use: ``import hiermodel`` and the numpy closed forms
    (data, empirical Bayes, the exact posterior) run without importing PyMC, PyTensor, ArviZ
    or matplotlib; a fit imports PyMC."""
    code = ("import sys\nimport hiermodel as hm\nd = hm.eight_schools()\n"
            "hm.exact_posterior(d).summary()\nhm.tau_estimates(d)\nhm.empirical_bayes(d)\n"
            "print(' '.join(sorted(sys.modules)))\n"
            "hm.build_model(d)\nprint('pymc' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    loaded = set(out[0].split())
    assert [m for m in ("pymc", "pytensor", "arviz", "matplotlib") if m in loaded] == []
    assert out[1] == "True"
