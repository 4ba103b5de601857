"""hiermodel's version: the one place it is written (``hiermodel.__version__``).

pyproject.toml reads it from here (``[tool.setuptools.dynamic]``, a static read of this
assignment: nothing is imported), so the wheel's metadata and ``hiermodel.__version__``
cannot disagree.  Keep it a plain string literal.
"""

#: the version string (PEP 440), e.g. ``"0.1.0"``
__version__ = "0.1.0"
