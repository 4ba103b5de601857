"""Array helpers shared by the core modules: argument checks on plain arrays (group axis
last), broadcasting, fused reductions and a vectorised safeguarded root finder.

Numpy only; nothing here knows about labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .._validate import check_squarable

__all__ = [
    "MAXITER", "floats", "group_array",
    "positive_group_array", "broadcast_groups", "means_se", "batch_param", "check_batch",
    "vdot", "vdot3", "wsum", "newton_bisect", "MAX_DESIGN_CONDITION", "standardized_design",
    "collinear_columns",
]

#: default iteration cap of the core's root finders
MAXITER = 200


#: the largest condition number of a standardised design (:func:`standardized_design`) that
#: is still estimable: 1 / sqrt(machine epsilon) ~ 6.7e7, beyond which the normal equations
#: (whose condition number is its square) keep no significant digit
MAX_DESIGN_CONDITION = float(1.0 / np.sqrt(np.finfo(float).eps))


# ============================================================================ validation
def floats(name: str, x: Any) -> np.ndarray:
    """``x`` as a float array without NaN (infinities allowed), else an error naming it."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be numeric, got a string {x!r}.")
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be an array of numbers: {err}") from None
    if np.isnan(arr).any():
        raise ValueError(f"`{name}` contains NaN.")
    return arr


def group_array(name: str, x: Any) -> np.ndarray:
    """A finite float array with a group axis last."""
    arr = floats(name, x)
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have a group axis (last), got a scalar.")
    if arr.shape[-1] == 0:
        raise ValueError(f"`{name}` has an empty group axis; pass at least one group.")
    if not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains infinite values.")
    return check_squarable(arr, name)


def positive_group_array(name: str, x: Any) -> np.ndarray:
    """A :func:`group_array` with every value > 0 (a scale: se, n)."""
    arr = group_array(name, x)
    if (arr <= 0).any():
        raise ValueError(f"`{name}` must be > 0 everywhere; got min {arr.min():g}.")
    return check_squarable(arr, name, scale=True)


def broadcast_groups(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast arrays that all carry the group axis last; the first one fixes G."""
    names, arrs = list(arrays), list(arrays.values())
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
    except ValueError:
        desc = ", ".join(f"`{k}` has shape {a.shape}" for k, a in arrays.items())
        raise ValueError(
            f"Mismatched shapes: {desc}; they must broadcast against each other, "
            "with the group axis last."
        ) from None
    if shape[-1] != arrs[0].shape[-1]:
        raise ValueError(
            f"Mismatched shapes: `{names[0]}` has {arrs[0].shape[-1]} groups but the "
            f"broadcast shape is {shape}."
        )
    return [np.broadcast_to(a, shape) for a in arrs]


def means_se(means: Any, se: Any, *, min_groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Group means and their standard errors, checked and broadcast (group axis last)."""
    y = group_array("means", means)
    s = positive_group_array("se", se)
    y, s = broadcast_groups(means=y, se=s)
    if y.shape[-1] < min_groups:
        raise ValueError(
            f"`means` has {y.shape[-1]} group(s) on its last axis; this needs at least "
            f"{min_groups}."
        )
    return y, s


def batch_param(name: str, x: Any, *, nonneg: bool = False) -> np.ndarray:
    """A per-dataset parameter (shape = batch shape, no group axis)."""
    arr = floats(name, x)
    if nonneg:
        if (arr < 0).any():
            raise ValueError(f"`{name}` must be >= 0 everywhere; got min {arr.min():g}.")
    elif not np.isfinite(arr).all():
        raise ValueError(f"`{name}` must be finite.")
    return arr


def check_batch(shape: tuple, **params: np.ndarray) -> None:
    """Per-dataset parameters must broadcast against the batch axes of ``shape``."""
    try:
        np.broadcast_shapes(shape, *(p.shape + (1,) for p in params.values()))
    except ValueError:
        desc = ", ".join(f"`{k}` has shape {p.shape}" for k, p in params.items())
        raise ValueError(
            f"Mismatched shapes: the data have shape {shape} (group axis last) but {desc}; "
            "per-dataset parameters take the batch shape, without the group axis."
        ) from None


# ============================================================================ reductions
def vdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over the last axis of ``a * b``.

    einsum, not BLAS: no thread start-up, and no large temporary.
    """
    return np.einsum("...i,...i->...", a, b)


def vdot3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sum over the last axis of ``a * b * c``."""
    return np.einsum("...i,...i,...i->...", a, b, c)


def wsum(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum_k weights_k x_k...`` over the first (grid) axis."""
    return np.einsum("k,k...->...", weights, x)


# ============================================================================ root finding
def newton_bisect(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lo: np.ndarray, hi: np.ndarray, x0: np.ndarray, active: np.ndarray,
    *, rtol: float, atol: np.ndarray | float, maxiter: int, what: str,
) -> np.ndarray:
    """Elementwise root of an increasing function with ``f(lo) <= 0 <= f(hi)``.

    Safeguarded Newton (Numerical Recipes' ``rtsafe``, vectorised): a Newton step is taken
    when it stays inside the bracket and at least halves the step before last (or is below
    tolerance); otherwise the bracket is bisected.  The bracket shrinks at every evaluation,
    so convergence is guaranteed.  ``fun(x, idx)`` returns ``(f, df)`` at the points ``x``
    of the flat element indices ``idx``; only unconverged elements are evaluated.  Elements
    with ``active=False`` keep ``x0``.
    """
    shape = np.shape(x0)
    x = np.array(x0, dtype=float).reshape(-1)
    full = [np.broadcast_to(np.asarray(a, dtype=float), shape).reshape(-1)
            for a in (lo, hi, atol)]
    idx = np.flatnonzero(np.broadcast_to(active, shape))
    lo_, hi_, atol_ = (a[idx] for a in full)
    xa = np.clip(x[idx], lo_, hi_)
    dx = hi_ - lo_
    dxold = dx.copy()
    for _ in range(maxiter):
        if idx.size == 0:
            break
        f, df = fun(xa, idx)
        lo_ = np.where(f < 0, xa, lo_)
        hi_ = np.where(f > 0, xa, hi_)
        tol = rtol * np.abs(xa) + atol_
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = f / df
            newton = xa - step
            # a step below tolerance is accepted even if rounding puts it on the bracket
            ok = (df > 0) & np.isfinite(newton) & (
                (np.abs(step) <= tol)
                | ((newton > lo_) & (newton < hi_) & (np.abs(step) <= 0.5 * np.abs(dxold))))
        x_new = np.where(ok, newton, 0.5 * (lo_ + hi_))
        dxold, dx = dx, x_new - xa
        done = (f == 0) | (np.abs(dx) <= tol) | (hi_ - lo_ <= tol)
        xa = np.where(f != 0, x_new, xa)
        x[idx] = xa
        keep = ~done
        idx, xa, lo_, hi_, atol_, dx, dxold = (
            a[keep] for a in (idx, xa, lo_, hi_, atol_, dx, dxold))
    if idx.size:
        warnings.warn(f"{what}: {idx.size} element(s) did not converge in {maxiter} "
                      "iterations; returning the last iterate.", RuntimeWarning, stacklevel=3)
    return x.reshape(shape)


# ============================================================================ designs
def standardized_design(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, A)`` with ``Z = X A`` the design a fit can solve accurately whatever the units of
    its covariates: with an intercept (a constant column, the first one found) every other
    non-constant column is centred at its mean and scaled to unit sd, ``(x_j - m_j) / s_j``,
    and the intercept to ones; without one every column is scaled to unit root mean square.

    ``Z`` spans the columns of ``X``, so fitted values, residuals and every statistic of the
    fit are unchanged; coefficients on ``Z`` map back by ``beta = A beta_Z`` (covariances by
    ``A C A'``).  So a fit on ``Z`` is invariant to affine changes ``x -> a x + b`` of a
    covariate (its slope scales by ``1 / a``) and to ``X``'s units: no rounding of
    ``x' x`` at an offset of 1e12 or a scale of 1e-12.
    """
    X = np.asarray(X, dtype=float)
    p = X.shape[1]
    const = np.ptp(X, axis=0) == 0
    icpt = next((j for j in range(p) if const[j] and X[0, j] != 0), None)
    a = np.eye(p)
    z = np.array(X, copy=True)
    for j in range(p):
        if const[j]:
            if X[0, j] != 0:
                a[j, j] = 1.0 / X[0, j]
                z[:, j] = 1.0
            continue
        if icpt is None:
            s = float(np.sqrt(np.mean(X[:, j] ** 2)))
            a[j, j] = 1.0 / s
            z[:, j] = X[:, j] / s
        else:
            m, s = float(np.mean(X[:, j])), float(np.std(X[:, j]))
            a[j, j] = 1.0 / s
            a[icpt, j] = -m / (s * X[0, icpt])
            z[:, j] = (X[:, j] - m) / s
    return z, a


def collinear_columns(z: np.ndarray) -> tuple[float, list[int]]:
    """``(condition number, columns)`` of a standardised design ``z``: the columns that
    carry the near linear dependence (weight above 0.1 of the largest in the right singular
    vector of the smallest singular value) when the condition number exceeds
    :data:`MAX_DESIGN_CONDITION`, else ``[]``."""
    _, sv, vt = np.linalg.svd(np.asarray(z, dtype=float), full_matrices=False)
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
    if cond <= MAX_DESIGN_CONDITION:
        return cond, []
    weight = np.abs(vt[-1])
    return cond, np.flatnonzero(weight > 0.1 * weight.max()).tolist()
