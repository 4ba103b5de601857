"""Ctrl-C of the ``hiermodel`` command at any moment, even while the package imports PyMC:
one line on stderr and exit status 130, never a traceback.

Standard library only, so that ``hiermodel/__init__.py`` can install it before its first
heavy import; in a Python session (``import hiermodel``) an interrupt stays a
``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["INTERRUPTED_MESSAGE", "INTERRUPTED_STATUS", "running_as_command",
           "exit_on_interrupt", "caused_by_interrupt", "watch_interrupts",
           "raise_if_interrupted"]

#: the Ctrl-Cs seen by :func:`watch_interrupts`' handler
_SEEN: list[int] = []

INTERRUPTED_MESSAGE = ("hiermodel: interrupted; --out was left as it was (outputs appear only "
                       "when a run finishes)")
#: the shell's status of a process ended by SIGINT (128 + 2)
INTERRUPTED_STATUS = 130


def running_as_command() -> bool:
    """Whether this process is the ``hiermodel`` command (``python -m hiermodel`` or the
    console script), not a Python session that imports the package."""
    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "hiermodel":
        return True
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name in ("hiermodel", "hiermodel.exe")


@contextlib.contextmanager
def exit_on_interrupt(always: bool = False) -> Iterator[None]:
    """Turn a ``KeyboardInterrupt`` inside the block into :data:`INTERRUPTED_MESSAGE` and
    ``SystemExit(130)`` when this process is the command (or ``always``); otherwise let
    it through."""
    try:
        yield
    except KeyboardInterrupt:
        if not (always or running_as_command()):
            raise
        print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
        raise SystemExit(INTERRUPTED_STATUS) from None


def caused_by_interrupt(err: BaseException) -> bool:
    """Whether ``err`` comes of a Ctrl-C: a C extension interrupted while it loads reports an
    ``ImportError`` / ``SystemError`` ("initialization failed") whose cause or context is the
    ``KeyboardInterrupt``."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, KeyboardInterrupt):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


def watch_interrupts() -> None:
    """Remember every Ctrl-C of the command, even one whose ``KeyboardInterrupt`` a library
    swallows while it imports (``try: import x except ImportError``, with the interrupt
    turned into an ImportError by a C extension): :func:`raise_if_interrupted` raises it
    again.  Only where Python's own handler is installed (not where SIGINT is ignored)."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def handler(signum: int, frame: object) -> None:
        _SEEN.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)


def raise_if_interrupted() -> None:
    """``KeyboardInterrupt`` if a Ctrl-C was seen (:func:`watch_interrupts`)."""
    if _SEEN:
        raise KeyboardInterrupt
