"""``python -m hiermodel`` is the ``hiermodel`` command."""

import sys

from .cli import main

sys.exit(main())
