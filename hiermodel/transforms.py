r"""The named back-transforms from the analysis scale to the scale a reader reports on.

A meta-analysis is fitted on a scale where the estimates are roughly normal -- log risk or
odds ratios, logit proportions, Fisher's z of correlations -- and reported on the natural
scale: ratios, proportions, correlations.  :data:`TRANSFORMS` is the one table of the
transforms hiermodel applies, read by :meth:`hiermodel.shrinkage.MetaAnalysis.predict`,
:func:`hiermodel.compare`, :func:`hiermodel.plots.plot_meta_forest`,
:func:`hiermodel.plots.plot_bubble`, the report and the CLI's ``--transform`` choices.

Every ``transform=`` argument takes a **name** from this table (or None, the same as
``"identity"``).  Each transform is continuous and strictly increasing, so:

* an interval maps endpoint-wise: ``[lo, hi]`` becomes ``[f(lo), f(hi)]``, and a quantile of
  ``f(theta)`` is ``f`` of the quantile of ``theta`` -- posterior medians and central
  intervals, confidence and prediction intervals all carry over;
* a mean does **not**: ``E[exp(theta)] != exp(E[theta])``.  Posterior summaries on the
  transformed scale are computed from the transformed draws (the median and quantiles of
  ``exp(theta)``, highest-density intervals of the transformed draws); empirical-Bayes and
  frequentist numbers transform the estimate and its interval ends, as metafor's
  ``predict(res, transf=exp)`` does;
* a standard error, a tau or a Q statistic has no counterpart on the transformed scale: they
  stay on the analysis scale, labelled so.

This module is numpy / scipy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["Transform", "TRANSFORMS", "IDENTITY", "check_transform"]


@dataclass(frozen=True)
class Transform:
    """One named, strictly increasing map from the analysis scale to the reporting scale.

    Attributes
    ----------
    name : str
        Its key in :data:`TRANSFORMS` and the name printed before a transformed quantity,
        ``exp(mu)``.
    function : callable
        Elementwise on float arrays (a numpy ufunc).
    scale : str
        What the transformed numbers are, for headings and axis labels.
    analysis_scale : str
        What the untransformed numbers are (where tau, se and Q live).
    """

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    scale: str
    analysis_scale: str

    def __call__(self, x):
        """``function`` applied elementwise to ``x`` as floats (a float for a scalar)."""
        out = self.function(np.asarray(x, dtype=float))
        return float(out) if np.ndim(out) == 0 else out

    @property
    def is_identity(self) -> bool:
        return self.name == "identity"

    def of(self, quantity: str) -> str:
        """``"exp(quantity)"``, or ``quantity`` itself for the identity."""
        return quantity if self.is_identity else f"{self.name}({quantity})"


def _identity(x: np.ndarray) -> np.ndarray:
    return x


#: no transform: the numbers on the scale of the analysis
IDENTITY = Transform("identity", _identity, "the analysis scale", "the analysis scale")

#: name -> Transform; the choices of every ``transform=`` argument and of ``--transform``
TRANSFORMS: dict[str, Transform] = {
    t.name: t for t in (
        IDENTITY,
        Transform("exp", np.exp, "ratio scale (exp of log ratio)", "log ratio"),
        Transform("expit", expit, "proportion (expit of logit)", "logit"),
        Transform("tanh", np.tanh, "correlation (tanh of Fisher z)", "Fisher z"),
    )
}


def check_transform(transform: object, name: str = "transform") -> Transform:
    """The :class:`Transform` named by ``transform`` (a key of :data:`TRANSFORMS`; None is
    the identity), else a TypeError / ValueError that lists the names."""
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
