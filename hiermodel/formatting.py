"""How numbers are printed in messages, priors and reports: one rule everywhere."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["format_number", "DASH"]

DASH = "–"


def format_number(v: Any) -> str:
    """4 significant digits, more for large values so that 10,023.4 does not become
    ``1.002e+04``; integers as they are; None and NaN as an en dash."""
    if v is None:
        return DASH
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if not isinstance(v, (float, np.floating)):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return DASH
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    return f"{v:.{max(4, mag + 2)}g}"
