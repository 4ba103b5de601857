"""Argument checks the studies share (group sizes, per-group values, random generators).

Generic checks live in :mod:`hiermodel._validate`; these are specific to simulating the
three-level model.  Public names in a private module, so the studies' modules can share them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_count, check_finite_array, check_seed

__all__ = ["SeedLike", "scalar_per_group", "group_sizes", "per_group",
           "make_rng", "at_least_two_groups"]

#: what the simulators accept as ``seed``
SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def at_least_two_groups(g: int) -> int:
    """``g`` itself, if a hierarchical model can have that many groups (>= 2)."""
    if g < 2:
        raise ValueError(f"A hierarchical model needs at least 2 groups; got {g}.")
    return g


def scalar_per_group(name: str, arr: np.ndarray, n_groups: int | None,
                     hint: str = "") -> np.ndarray:
    """``arr`` unchanged if it is not a scalar, else repeated ``n_groups`` times (which must
    then be given)."""
    if arr.ndim != 0:
        return arr
    if n_groups is None:
        raise ValueError(f"`{name}` is a scalar: pass `n_groups=` too{hint}.")
    return np.full(check_count(n_groups, "n_groups", 2), float(arr))


def group_sizes(n: Any, n_groups: int | None) -> np.ndarray:
    """Group sizes ``n_i`` (whole numbers >= 1, at least 2 groups) as int64; a scalar ``n``
    is repeated ``n_groups`` times."""
    arr = scalar_per_group("n", check_finite_array(n, "n"), n_groups, ", or one size per group")
    if arr.ndim != 1:
        raise ValueError(f"`n` must be a scalar or 1-d (one size per group), got {arr.shape}.")
    if n_groups is not None and arr.size != n_groups:
        raise ValueError(f"`n` has {arr.size} sizes but `n_groups`={n_groups}.")
    if np.any(arr != np.round(arr)) or np.any(arr < 1):
        raise ValueError(f"`n` must hold whole numbers >= 1; got {arr.tolist()}.")
    at_least_two_groups(arr.size)
    return arr.astype(np.int64)


def per_group(name: str, x: np.ndarray, g: int) -> np.ndarray:
    """A scalar repeated for ``g`` groups, or an array of exactly ``g`` values."""
    if x.ndim == 0:
        return np.full(g, float(x))
    if x.shape != (g,):
        raise ValueError(f"`{name}` must be a scalar or have one value per group ({g}), got "
                         f"shape {x.shape}.")
    return x


def make_rng(seed: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` for an int seed (:func:`check_seed`), a numpy
    Generator or SeedSequence, or None."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seed = check_seed(seed)
    elif not (seed is None or isinstance(seed, (np.random.Generator,
                                                np.random.SeedSequence))):
        raise TypeError(f"`seed` must be an int, a numpy Generator/SeedSequence or None, got "
                        f"{type(seed).__name__}.")
    return np.random.default_rng(seed)
