"""The argument checks every module shares: one definition of each, one wording.

Each function validates one argument and returns it normalised, or raises a ``TypeError`` /
``ValueError`` whose message names the argument and says how to fix it.  Every check takes
``(value, name)``, in that order.  This module is a leaf: it imports nothing from hiermodel
(nor PyMC or xarray).  The checks that need a hiermodel type are that type's own:
:meth:`hiermodel.data.HierData.check`, :meth:`hiermodel.priors.Priors.check`,
:func:`hiermodel.stack.check_fitted`, :func:`hiermodel.transforms.check_transform`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_positive_int", "check_count", "check_seed", "resolve_seed", "root_seed",
           "check_method", "check_prob", "check_real", "check_finite_array",
           "check_positive_array", "check_nonneg_array", "check_positive_number",
           "check_squarable", "MAX_MAGNITUDE"]

#: largest magnitude of a value, and smallest of a scale: the model squares them (variances),
#: so anything beyond would overflow (or underflow) double precision
MAX_MAGNITUDE = 1e150
#: seeds are stored with results as 64-bit integers
MAX_SEED = 2**63


def check_positive_int(value: Any, name: str) -> int:
    """An integer >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_seed(seed: Any, name: str = "seed") -> int:
    """A non-negative integer seed below 2**63 (results store it as a 64-bit integer)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"`{name}` must be a non-negative integer or None, got {seed!r}.")
    if seed >= MAX_SEED:
        raise ValueError(f"`{name}` must be below 2**63 (it is stored with the result, as a "
                         f"64-bit integer), got {seed!r}.")
    return int(seed)


def resolve_seed(seed: Any) -> int:
    """``seed`` checked, or a fresh 32-bit seed from the OS when it is None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return check_seed(seed)


def root_seed(seed: Any) -> int:
    """``seed`` checked, or the entropy of a fresh ``numpy.random.SeedSequence`` when None
    (the root of a study's per-replicate seeds)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return check_seed(seed)


def check_method(method: Any, allowed: Sequence[str], name: str = "method") -> str:
    """One of ``allowed`` (case and surrounding blanks ignored)."""
    key = method.strip().lower() if isinstance(method, str) else method
    if key not in allowed:
        raise ValueError(
            f"Requested {name} {method!r} but it must be one of "
            "{" + ", ".join(repr(m) for m in allowed) + "}."
        )
    return key


def check_prob(prob: Any, name: str = "prob") -> float:
    """A probability strictly between 0 and 1."""
    if isinstance(prob, bool) or not isinstance(prob, (int, float, np.floating)):
        raise TypeError(f"`{name}` must be a number in (0, 1), got {prob!r}.")
    if not 0 < float(prob) < 1:
        raise ValueError(f"`{name}` must lie strictly between 0 and 1, got {prob!r}.")
    return float(prob)


def check_real(value: Any, name: str, *, positive: bool = False,
               prefix: str = "") -> float | None:
    """One finite real number (bools refused; > 0 with ``positive``), or None; ``prefix``
    starts the message (e.g. ``"Priors: "``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{prefix}`{name}` must be a real number or None (scaled to the "
                        f"data), got {type(value).__name__} {value!r}.")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{prefix}`{name}` must be finite, got {value!r}.")
    if positive and v <= 0:
        raise ValueError(f"{prefix}`{name}` is a scale and must be > 0, got {value!r}.")
    return v


def check_finite_array(value: Any, name: str) -> np.ndarray:
    """A float array (from ints or floats) with no NaN or infinite value."""
    x = value
    if isinstance(x, (str, bytes)) or (np.ndim(x) == 0 and isinstance(x, bool)):
        raise TypeError(f"`{name}` must be numeric, got {x!r}.")
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be numeric, got dtype {arr.dtype}.")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def check_positive_array(value: Any, name: str) -> np.ndarray:
    """A finite float array with every value > 0."""
    arr = check_finite_array(value, name)
    if np.any(arr <= 0):
        raise ValueError(f"`{name}` must be > 0 everywhere; got min {arr.min():g}.")
    return arr


def check_squarable(value: np.ndarray, name: str, *, scale: bool = False) -> np.ndarray:
    """Raise naming ``name`` when a value of ``value`` is too large (or, for a ``scale``, too
    small) to square in double precision; returns ``value``."""
    arr = value
    a = np.abs(np.asarray(arr, dtype=float))
    if a.size and a.max() > MAX_MAGNITUDE:
        raise ValueError(
            f"`{name}` has values as large as {a.max():.3g}: the model squares them "
            f"(variances), which overflows above {MAX_MAGNITUDE:g}. Rescale the data and its "
            "standard errors together (e.g. divide both by 1e6)."
        )
    if scale and a.size and a.min() < 1.0 / MAX_MAGNITUDE:
        raise ValueError(
            f"`{name}` has values as small as {a.min():.3g}: squared they underflow to 0. "
            "Rescale the data and its standard errors together (e.g. multiply both by 1e6)."
        )
    return arr


def check_nonneg_array(value: Any, name: str) -> np.ndarray:
    """A finite float array with every value >= 0."""
    arr = check_finite_array(value, name)
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0 everywhere; got min {arr.min():g}.")
    return arr


def check_positive_number(value: Any, name: str) -> float:
    """One finite number > 0 (a scalar :func:`check_positive_array`)."""
    if np.ndim(value) != 0:
        raise TypeError(f"`{name}` must be one positive number, got {value!r}.")
    return float(check_positive_array(value, name))


def check_flag(value: Any, name: str) -> bool:
    """A bool (``numpy.bool_`` too), not a truthy stand-in such as ``"no"`` or ``1``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)
