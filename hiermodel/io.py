"""Saving and loading fits: every InferenceData group, with coords and attrs, in one netCDF
file, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import stack
from .stack import check_fitted

if TYPE_CHECKING:
    from .stack import Result

__all__ = ["save", "load"]


def save(idata: Result, path: str | os.PathLike) -> Path:
    """Write every group (with coords and attrs) to one netCDF file; returns the path.

    Written whole or not at all: to a temporary file beside ``path``, renamed over it only
    when complete (an interrupted save leaves an earlier file as it was)."""
    check_fitted(idata, groups=())
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"`path` {str(path)!r} is a folder; give a file name such as "
                         f"{str(path / 'idata.nc')!r}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise ValueError(f"`path` {str(path)!r}: cannot write there "
                         f"({err.strerror or err}).") from None
    try:
        idata.to_netcdf(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike) -> Result:
    """Read an InferenceData written by :func:`save` (fully into memory)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"`path`: no such file {str(path)!r}.")
    if path.is_dir():
        raise ValueError(f"`path` {str(path)!r} is a folder; pass the .nc file written by "
                         "hiermodel.save (e.g. <out>/idata.nc).")
    try:
        idata = stack.from_netcdf(str(path))
    except (OSError, ValueError) as err:
        raise ValueError(f"`path` {str(path)!r} is not a netCDF file written by "
                         f"hiermodel.save ({type(err).__name__}: {err}).") from None
    for name in stack.groups(idata):
        getattr(idata, name).load()
    return idata
