"""The distribution: ``python -m build`` makes an sdist and a wheel that ``twine check --strict``
accepts, and the wheel, installed into a fresh virtual environment, runs the main job.

The wheel is built from the sdist (``python -m build``'s default), so a file missing from the
sdist fails here too.  The build is isolated (``setuptools>=77`` is fetched from the package
index into a throw-away environment, as ``pip install`` does; ~5 s with a warm pip cache);
``--no-isolation`` would use whatever setuptools the test environment happens to have.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import hiermodel

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "hiermodel"


def _run(cmd, *, cwd, env=None, timeout=300):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{cmd} exited {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH (it would put the source tree first),
    no PYTHONHOME / PYTHONSTARTUP, CI set as the CI runs the main job."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH")}
    env.update(CI="true", MPLBACKEND="Agg", PYTHONNOUSERSITE="1")
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(sdist, wheel) built from a copy of the source tree (building writes
    ``hiermodel.egg-info`` into the tree it builds; the checkout stays as it is)."""
    src = tmp_path_factory.mktemp("src") / "hiermodel-src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".ipynb_checkpoints", "_build", "eight_schools_out", "out"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, src], cwd=out, env=_clean_env())
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return sdists[0], wheels[0]


@pytest.fixture(scope="module")
def venv(dists, tmp_path_factory):
    """A fresh venv with the wheel installed, its dependencies (PyMC, ...) taken from this
    interpreter's site-packages, nothing downloaded.

    Not ``venv --system-site-packages``: that processes the base interpreter's ``.pth`` files,
    and the editable install of the repo (``pip install -e .``) is a ``.pth`` that puts a
    meta-path finder for ``hiermodel`` on ``sys.meta_path`` -- the venv would import the
    source tree whenever its own copy is missing or broken.  Its "system" site is also the
    base interpreter's, not this environment's when the tests run inside a venv (as on the
    Python 3.13 stack), so PyMC would not be found.  Instead: a venv without system site
    packages plus one ``.pth`` that lists this interpreter's site-packages directories as
    plain paths.  A path line in a ``.pth`` only extends ``sys.path``; the ``.pth`` files in
    those directories are not processed, so the editable finder never loads, and the venv's
    own site-packages (the wheel) come first on ``sys.path``.
    """
    _sdist, wheel = dists
    root = tmp_path_factory.mktemp("venv") / "v"
    env = _clean_env()
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root.parent, env=env)
    py = root / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        cwd=root, env=env).stdout.strip())
    ours = {*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "_hiermodel_test_deps.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours) if Path(p).is_dir()))
    # this environment's pip installs into the venv's interpreter (pip >= 22.3)
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
          "--no-cache-dir", "--disable-pip-version-check", "-q", wheel], cwd=root.parent, env=env)
    return root, py


def test_twine_check_strict_accepts_both(dists):
    _run([sys.executable, "-m", "twine", "check", "--strict", *dists], cwd=dists[0].parent)


def test_wheel_holds_every_module_the_data_and_py_typed(dists):
    names = set(zipfile.ZipFile(dists[1]).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in PKG.rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules and modules <= names, sorted(modules - names)
    data = {p.relative_to(ROOT).as_posix() for p in (PKG / "data_files").glob("*.csv.gz")}
    assert data and data <= names, sorted(data - names)
    assert "hiermodel/py.typed" in names
    dist_info = f"hiermodel-{hiermodel.__version__}.dist-info"
    assert {f"{dist_info}/METADATA", f"{dist_info}/licenses/LICENSE"} <= names
    # nothing from outside the package (tests, notebooks) lands in site-packages
    assert {n.split("/")[0] for n in names} == {"hiermodel", dist_info}


def test_sdist_holds_the_source_tree_the_tests_need(dists):
    sdist = dists[0]
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(f"{top}/") for n in tar.getnames()}
    for must in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "PKG-INFO",
                 "hiermodel/py.typed", "tests/conftest.py", "tests/test_packaging.py"):
        assert must in names, must
    wanted = {p.relative_to(ROOT).as_posix()
              for d in ("hiermodel", "tests/data", "notebooks")
              for p in (ROOT / d).rglob("*") if p.is_file()
              and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
              and p.suffix not in (".pyc", ".pyo")}
    assert wanted <= names, sorted(wanted - names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_installed_wheel_runs_the_main_job(venv, tmp_path):
    root, py = venv
    env = _clean_env()
    # the venv's hiermodel is the wheel's copy, not the source tree
    probe = _run([py, "-c", "import importlib.metadata as m, hiermodel, hiermodel.datasets as d;"
                  "r = d.radon();"
                  "print(hiermodel.__file__, hiermodel.__version__, m.version('hiermodel'),"
                  " m.distribution('hiermodel').locate_file(''), r.shape[0], sep='\\n')"],
                 cwd=tmp_path, env=env).stdout.splitlines()
    file_, version, meta_version, dist_dir, n_radon = probe[-5:]
    assert Path(file_).resolve().is_relative_to(root.resolve()), file_
    assert not Path(file_).resolve().is_relative_to(ROOT), file_
    assert Path(dist_dir).resolve().is_relative_to(root.resolve()), dist_dir
    assert version == meta_version == hiermodel.__version__
    assert int(n_radon) == 919          # the bundled rows (package data) load from the wheel

    # the README's main line, from the venv's console script, outside the repository
    out = tmp_path / "eight_schools_out"
    script = py.parent / ("hiermodel.exe" if os.name == "nt" else "hiermodel")
    proc = _run([script, "eight-schools", "--out", out], cwd=tmp_path, env=env, timeout=600)
    assert (out / "report.md").is_file() and (out / "idata.nc").is_file(), proc.stdout
