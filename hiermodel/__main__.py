"""``python -m hiermodel`` is the ``hiermodel`` command."""

import sys

from .interrupt import exit_on_interrupt

with exit_on_interrupt(always=True):      # Ctrl-C at any moment: one line, exit 130
    from .cli import main

sys.exit(main())
