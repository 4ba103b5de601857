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


# ----------------------------------------------------------------------------- import graph
def _is_type_checking(test) -> bool:
    import ast

    return ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
            or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(tree, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package's modules that ``module`` imports anywhere (module level, inside
    functions and classes), resolved to module names: ``from . import x`` is the module
    ``x`` when there is one, else the package; ``from .pkg import y`` is ``pkg.y`` when that
    is a module, else ``pkg``; importing ``pkg.y`` from outside ``pkg`` also runs
    ``pkg/__init__``, an edge to ``pkg``.  Left out: ``if TYPE_CHECKING:`` blocks (never run;
    they name types for annotations)."""
    import ast

    base = module if is_package else module.rpartition(".")[0]
    out: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{anchor}.{node.module}" if node.module else anchor
            else:
                target = node.module or ""
            if target in modules or any(f"{target}.{a.name}" in modules for a in node.names):
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    out.add(sub if sub in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    # importing pkg.mod first runs pkg/__init__: an edge to each package above the target
    # that the importer is not inside (the root package's __init__ loads lazily: below)
    for target in list(out):
        parts = target.split(".")
        for k in range(2, len(parts)):
            package = ".".join(parts[:k])
            if package in modules and not (module + ".").startswith(package + "."):
                out.add(package)
    out.discard(module)
    return out


def import_graph(root: Path, package: str = "hiermodel") -> dict[str, set[str]]:
    """``{module: the package's modules it imports}`` for every module under ``root``.

    A package's ``__init__`` that loads its names on first use -- a module ``__getattr__``
    that imports them through ``importlib`` from a mapping of name to home module
    (``hiermodel/__init__.py``'s ``_HOMES``) -- has no import statements for them: those
    lazy loads are not edges (they run only when a user asks for the name, after every
    module is loaded)."""
    import ast

    files = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        files[".".join(parts)] = (path, rel.name == "__init__")
    modules = set(files)
    return {name: _imports(ast.parse(path.read_text()), name, is_package, modules)
            for name, (path, is_package) in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``) of ``graph``, or None."""
    state: dict[str, int] = {}          # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_import_graph_is_acyclic():
    """No module imports, at any depth and from any function, a module that imports it
    back: the layers (core, _validate, options, formatting, data, priors) sit below model,
    sampling, comparison, report, plots and the CLI."""
    graph = import_graph(ROOT)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    assert graph["hiermodel._validate"] == set()        # the leaf every check lives in


def test_import_graph_sees_function_level_and_relative_imports(tmp_path):
    """The checker can fail: a function-level import closing a loop is found, ``from . import
    x`` resolves to the module x, ``from .pkg import y`` to pkg.y or pkg."""
    pkg = tmp_path / "hiermodel"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("from .sub import c, helper\n")
    (pkg / "sub" / "__init__.py").write_text("helper = 1\n")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import x\n")
    (pkg / "sub" / "e.py").write_text("from . import c\n")
    (pkg / "f.py").write_text("import hiermodel.sub.e\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from .a import x\n")
    graph = import_graph(tmp_path)
    assert graph["hiermodel.a"] == {"hiermodel.b"}
    assert graph["hiermodel.b"] == {"hiermodel.sub.c", "hiermodel.sub"}
    assert graph["hiermodel.sub.c"] == {"hiermodel.a"}
    assert graph["hiermodel.d"] == set()
    assert graph["hiermodel.sub.e"] == {"hiermodel.sub.c"}          # inside sub: no edge to it
    assert graph["hiermodel.f"] == {"hiermodel.sub.e", "hiermodel.sub"}
    assert find_cycle(graph) == ["hiermodel.a", "hiermodel.b", "hiermodel.sub.c", "hiermodel.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_every_check_takes_the_value_first_then_its_name():
    """``_validate``'s checks are ``(value, name)``: the value first, the argument's name
    (for the message) after it; none takes the name first."""
    import inspect

    from hiermodel import _validate

    for fname in _validate.__all__:
        fn = getattr(_validate, fname)
        if not callable(fn) or fname in ("resolve_seed", "root_seed"):
            continue
        params = list(inspect.signature(fn).parameters)
        assert "name" in params[1:], (fname, params)
