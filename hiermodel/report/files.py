"""Writing a run's folder whole or not at all: everything goes to a temporary folder beside
``out`` (the staging folder), which replaces ``out`` only when the run has finished."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .result import ReportTables

__all__ = ["RUN_MARKER", "check_out", "staging_folder", "replace_folder", "write_data",
           "write_tables"]

#: the file that marks a folder as a hiermodel run (which a later run may replace)
RUN_MARKER = ".hiermodel-run"
#: how every CSV writes its floats (same seed and options: byte-identical files)
FLOAT_FORMAT = "%.10g"


def check_out(out: Path) -> Path:
    """``out`` as an absolute path whose parent exists, or a ValueError naming it."""
    out = out.expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file, not a folder; choose a folder.")
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_MARKER).exists():
        raise ValueError(f"--out {str(out)!r} is not empty and was not written by hiermodel "
                         "(no .hiermodel-run marker): choose a new or empty folder, so that "
                         "no file of yours is replaced.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"--out {str(out)!r}: cannot create its parent folder "
                         f"({err.strerror or err}).") from None
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out {str(out)!r}: its parent folder is not writable.")
    return out


def staging_folder(final: Path) -> Path:
    """A new temporary folder beside ``final``."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    except OSError as err:  # e.g. a read-only file system
        raise ValueError(f"--out {str(final)!r}: cannot write beside it "
                         f"({err.strerror or err}).") from None


def replace_folder(new: Path, final: Path, command: str) -> None:
    """Mark the finished ``new`` folder as a run and put it at ``final`` (replacing a
    previous run whole)."""
    (new / RUN_MARKER).write_text(f"hiermodel {command}\n", encoding="utf-8")
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        old.rmdir()
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_data(out: Path, predictive: Any, diagnostics_table: Any) -> dict[str, Path]:
    """``idata.nc`` (the fit with its predictive draws) and ``diagnostics.csv``."""
    from ..io import save

    files = {"idata": save(predictive, out / "idata.nc")}
    diagnostics_table.to_csv(out / "diagnostics.csv", float_format=FLOAT_FORMAT)
    files["diagnostics"] = out / "diagnostics.csv"
    return files


def write_tables(out: Path, tables: ReportTables, transform_name: str) -> dict[str, Path]:
    """The CSV tables: ``comparison.csv`` (and ``comparison_<transform>.csv``),
    ``exact_posterior.csv`` when computed, ``population.csv``, ``ppc.csv``, ``influence.csv``
    (estimates-form data)."""
    files: dict[str, Path] = {}

    def write(key: str, name: str, table: Any) -> None:
        table.to_csv(out / name, float_format=FLOAT_FORMAT)
        files[key] = out / name

    write("comparison", "comparison.csv", tables.comparison)
    if tables.comparison_scaled is not None:
        write("comparison_transformed", f"comparison_{transform_name}.csv",
              tables.comparison_scaled)
    if tables.exact is not None:
        write("exact", "exact_posterior.csv", tables.exact)
    write("population", "population.csv", tables.population)
    write("ppc", "ppc.csv", tables.ppc)
    if tables.influence is not None:
        write("influence", "influence.csv", tables.influence)
    return files
