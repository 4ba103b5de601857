"""The installed package's version, looked up once (``hiermodel.__version__``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    #: the installed distribution's version string (PEP 440), e.g. ``"0.1.0"``
    __version__ = version("hiermodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
