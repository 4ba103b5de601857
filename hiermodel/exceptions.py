"""hiermodel's warnings, in one place: every module raises these, none defines its own.

Filter them all with ``warnings.filterwarnings("ignore", category=hm.HierModelWarning)``, or
one kind at a time.
"""

from __future__ import annotations

__all__ = ["HierModelWarning", "SamplingWarning", "PriorDataConflictWarning",
           "PredictiveCheckWarning", "ParetoKWarning"]


class HierModelWarning(UserWarning):
    """Base class of hiermodel's warnings (filter them with ``warnings.filterwarnings``)."""


class SamplingWarning(HierModelWarning):
    """A fit whose diagnostics (divergences, R-hat, ESS, BFMI) flag a problem."""


class PriorDataConflictWarning(HierModelWarning):
    """A posterior of mu or tau far from what the data say on their own (the empirical-Bayes
    estimates) or far in the prior's tail: the prior fights the data."""


class PredictiveCheckWarning(HierModelWarning):
    """A predictive p-value below ``P_EXTREME`` (:mod:`hiermodel.predictive`) or above
    ``1 - P_EXTREME``: the model (posterior) or the prior (prior predictive) rarely
    reproduces that feature of the data."""


class ParetoKWarning(HierModelWarning):
    """PSIS-LOO found Pareto-k above the reliability threshold (``k_threshold``) for some
    group: its elpd estimate is unreliable."""
