"""The argument checks every module shares: one definition of each, one wording.

Each function validates one argument and returns it normalised, or raises a ``TypeError`` /
``ValueError`` whose message names the argument and says how to fix it.  Nothing here
imports PyMC or xarray.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_data", "check_priors", "check_fitted", "positive_int", "count", "check_seed",
           "resolve_seed", "root_seed", "check_method", "check_prob", "finite_array",
           "positive_array", "nonneg_array", "positive_number", "check_magnitude",
           "check_transform", "MAX_MAGNITUDE"]

#: largest magnitude of a value, and smallest of a scale: the model squares them (variances),
#: so anything beyond would overflow (or underflow) double precision
MAX_MAGNITUDE = 1e150
#: seeds are stored with results as 64-bit integers
MAX_SEED = 2**63


def check_data(data: Any, *, covariates: bool = False):
    """``data`` itself if it is a :class:`~hiermodel.data.HierData`, else a TypeError that
    says how to make one.  Data with covariates are refused (NotImplementedError) unless the
    caller handles them (``covariates=True``): a model that ignored them would silently fit
    another model."""
    from .data import HierData

    if not isinstance(data, HierData):
        raise TypeError(
            f"`data` must be a HierData, got {type(data).__name__}; build one with "
            "HierData.from_observations / from_dataframe / from_summary / from_estimates."
        )
    if data.has_covariates and not covariates:
        raise NotImplementedError(
            f"`data` has covariates {list(data.covariate_names)}, which this function does "
            "not take: it would use the model without them. The meta-regression is in "
            "hiermodel.fit, build_model, exact_posterior, meta_analysis, compare, "
            "prior_predictive and posterior_predictive; or drop the covariates "
            "(HierData.from_estimates(data.means, data.se, data.groups))."
        )
    return data


def check_priors(priors: Any, data: Any = None):
    """``priors`` (default ``Priors()``) checked; with ``data``, every data-scaled field is
    filled in from it (:meth:`~hiermodel.priors.Priors.resolve`)."""
    from .priors import Priors

    priors = Priors() if priors is None else priors
    if not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be a hiermodel.Priors or None, got "
                        f"{type(priors).__name__}.")
    return priors if data is None else priors.resolve(data)


def check_fitted(idata: Any, groups: Sequence[str] = ("posterior",), name: str = "idata"):
    """``idata`` itself if it is ArviZ's result type holding every group in ``groups``, else
    a TypeError / ValueError that names what is missing."""

    from . import stack

    if not stack.is_result(idata):
        raise TypeError(f"`{name}` must be an arviz.InferenceData (from hiermodel.fit or "
                        f"ExactPosterior.sample), got {type(idata).__name__}.")
    missing = [g for g in groups if g not in stack.groups(idata)]
    if missing:
        raise ValueError(f"`{name}` has no {missing} group(s); it has {stack.groups(idata)}.")
    return idata


def positive_int(name: str, v: Any) -> int:
    """An integer >= 1 (bools refused)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {v!r}.")
    return int(v)


def count(name: str, v: Any, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools refused)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {v!r}.")
    return int(v)


def check_seed(seed: Any) -> int:
    """A non-negative integer seed below 2**63 (results store it as a 64-bit integer)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"`seed` must be a non-negative integer or None, got {seed!r}.")
    if seed >= MAX_SEED:
        raise ValueError(f"`seed` must be below 2**63 (it is stored with the result, as a "
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


def check_method(method: Any, allowed: Sequence[str], arg: str = "method") -> str:
    """One of ``allowed`` (case and surrounding blanks ignored)."""
    key = method.strip().lower() if isinstance(method, str) else method
    if key not in allowed:
        raise ValueError(
            f"Requested {arg} {method!r} but it must be one of "
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


def finite_array(name: str, x: Any) -> np.ndarray:
    """A float array (from ints or floats) with no NaN or infinite value."""
    if isinstance(x, (str, bytes)) or (np.ndim(x) == 0 and isinstance(x, bool)):
        raise TypeError(f"`{name}` must be numeric, got {x!r}.")
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be numeric, got dtype {arr.dtype}.")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return arr


def positive_array(name: str, x: Any) -> np.ndarray:
    """A finite float array with every value > 0."""
    arr = finite_array(name, x)
    if np.any(arr <= 0):
        raise ValueError(f"`{name}` must be > 0 everywhere; got min {arr.min():g}.")
    return arr


def check_magnitude(name: str, arr: np.ndarray, *, scale: bool = False) -> np.ndarray:
    """Raise naming ``name`` when a value of ``arr`` is too large (or, for a ``scale``, too
    small) to square in double precision; returns ``arr``."""
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


def nonneg_array(name: str, x: Any) -> np.ndarray:
    """A finite float array with every value >= 0."""
    arr = finite_array(name, x)
    if np.any(arr < 0):
        raise ValueError(f"`{name}` must be >= 0 everywhere; got min {arr.min():g}.")
    return arr


def positive_number(name: str, v: Any) -> float:
    """One finite number > 0 (a scalar :func:`positive_array`)."""
    if np.ndim(v) != 0:
        raise TypeError(f"`{name}` must be one positive number, got {v!r}.")
    return float(positive_array(name, v))


def check_transform(transform: Any, name: str = "transform"):
    """The :class:`~hiermodel.transforms.Transform` named by ``transform`` (a key of
    :data:`hiermodel.transforms.TRANSFORMS`; None is the identity), else a TypeError /
    ValueError that lists the names."""
    from .transforms import IDENTITY, TRANSFORMS

    choices = ", ".join(repr(k) for k in TRANSFORMS)
    if transform is None:
        return IDENTITY
    if not isinstance(transform, str):
        hint = getattr(transform, "__name__", None)
        hint = (f"; for {hint} pass {name}={hint!r}" if callable(transform) and hint in TRANSFORMS
                else "")
        raise TypeError(f"`{name}` must be the name of a transform, one of {choices}, or None, "
                        f"got {type(transform).__name__}{hint} (a name carries the scale's "
                        f"label and is known to be increasing, so intervals map end to end).")
    key = transform.strip().lower()
    if key not in TRANSFORMS:
        raise ValueError(f"`{name}` must be one of {choices} or None, got {transform!r}.")
    return TRANSFORMS[key]
