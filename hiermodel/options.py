"""Package-wide defaults, set in one place (as ArviZ's ``rcParams``).

Today one convention lives here: the **interval** every table, figure, report and CLI run
shows -- a 95% central (equal-tailed) interval unless the user says otherwise::

    import hiermodel as hm

    hm.get_options()                             # Options(interval='eti', prob=0.95)
    hm.set_options(interval="hdi", prob=0.9)     # from now on, in every thread
    with hm.option_context(prob=0.8):            # only inside the block, this thread/task
        hm.compare(idata)

Every function with ``interval=`` / ``prob=`` arguments takes ``None`` for "the option", and
resolves it with :func:`resolve_interval`.  Reading the options is thread-safe:
:func:`option_context` changes them for the current thread (or asyncio task) only, and
:func:`set_options` replaces the process-wide defaults in one assignment.

This module imports nothing from the package.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Any

__all__ = ["Options", "INTERVAL_KINDS", "get_options", "set_options", "option_context",
           "resolve_interval"]

#: the interval kinds: ``"eti"`` central (equal-tailed) interval, ``"hdi"`` highest-density
INTERVAL_KINDS = ("eti", "hdi")


@dataclasses.dataclass(frozen=True)
class Options:
    """The package defaults (immutable: change them with :func:`set_options` or
    :func:`option_context`).

    Attributes
    ----------
    interval : {"eti", "hdi"}
        The kind of every posterior interval: central (equal-tailed; default) or highest
        density.  Frequentist confidence intervals (``meta_analysis``) are always central.
    prob : float
        The probability mass of every interval, posterior and confidence (default 0.95).
    """

    interval: str = "eti"
    prob: float = 0.95

    def __post_init__(self) -> None:
        if self.interval not in INTERVAL_KINDS:
            raise ValueError(f"`interval` must be one of {list(INTERVAL_KINDS)}, got "
                             f"{self.interval!r}: 'eti' for a central interval, 'hdi' for the "
                             "highest-density one.")
        prob = self.prob
        if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 < prob < 1:
            raise ValueError(f"`prob` must be a number strictly between 0 and 1 (e.g. 0.95), "
                             f"got {prob!r}.")
        object.__setattr__(self, "prob", float(prob))


_defaults = Options()
_in_context: contextvars.ContextVar[Options | None] = contextvars.ContextVar(
    "hiermodel_options", default=None)


def get_options() -> Options:
    """The options in force here: an enclosing :func:`option_context`'s, else the
    process-wide defaults."""
    return _in_context.get() or _defaults


def set_options(**changes: Any) -> Options:
    """Change the process-wide defaults (every thread); returns the new :class:`Options`.
    Unknown names are refused (``TypeError``), bad values too (``ValueError``)."""
    global _defaults
    _defaults = dataclasses.replace(_defaults, **_known(changes))
    return _defaults


@contextlib.contextmanager
def option_context(**changes: Any) -> Iterator[Options]:
    """Change the options inside a ``with`` block, for this thread (or asyncio task) only."""
    token = _in_context.set(dataclasses.replace(get_options(), **_known(changes)))
    try:
        yield get_options()
    finally:
        _in_context.reset(token)


def resolve_interval(interval: Any = None, prob: Any = None) -> tuple[str, float]:
    """``(interval kind, probability)``: each argument as given, or the option where it is
    ``None``; a bad value raises a ``ValueError`` naming the argument."""
    opts = get_options()
    resolved = Options(interval=opts.interval if interval is None else interval,
                       prob=opts.prob if prob is None else prob)
    return resolved.interval, resolved.prob


def _known(changes: dict[str, Any]) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(Options)]
    unknown = sorted(set(changes) - set(names))
    if unknown:
        raise TypeError(f"Unknown option(s) {unknown}; the options are {names}.")
    return changes
