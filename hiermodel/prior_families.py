"""The prior families of the scales tau and sigma: one table that every reader takes them from.

One :class:`PriorFamily` entry per family says everything hiermodel needs to know about it:
its name (what ``Priors(tau=...)`` and the command line's ``--tau-prior`` take), the PyMC
distribution and the argument its scale goes to (:mod:`hiermodel.model` builds the graph from
them), the SciPy distribution (``Priors.tau_dist`` and the exact posterior), how it is
written in ``Priors.describe`` / ``Priors.explain``, the default scale in units of the data
spread ``S`` (:mod:`hiermodel.priors`), the transform PyMC samples it on, and the code of the
compiled densities (:mod:`hiermodel.densities`; None when the fast path does not
implement it, and then the fit falls back to the PyMC model).  Adding a family is adding one
entry here (and, for the fast path, its branch in :mod:`hiermodel.densities`).

The families: Half-Cauchy (Gelman 2006, the default for tau), Half-Normal (Gelman 2006's
weakly informative alternative; the default for sigma) and Uniform(0, upper) (BDA3 section
5.4's reference choice for tau).  Pure Python: PyMC is never imported here, SciPy only
when :meth:`PriorFamily.scipy` is called.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PriorFamily", "TAU_FAMILIES", "SIGMA_FAMILIES", "MU_FAMILIES", "family_key"]


@dataclass(frozen=True)
class PriorFamily:
    """One prior family of a scale parameter (tau or sigma)."""

    #: the name ``Priors`` and the command line take
    name: str
    #: how describe / explain write it, ``{}`` standing for the scale
    text: str
    #: the PyMC distribution (an attribute of ``pymc``) and the keyword its scale goes to
    pymc_name: str
    pymc_scale: str
    #: the SciPy distribution (an attribute of ``scipy.stats``) and its ``loc``
    scipy_name: str
    #: the command line's name of the one number (``--tau-prior uniform:UPPER``)
    parameter: str = "SCALE"
    #: the default scale, in units of the data spread S (``Priors.resolve``)
    scale_in_s: float = 1.0
    #: further fixed keywords of the PyMC distribution
    pymc_fixed: tuple[tuple[str, float], ...] = ()
    #: PyMC's default transform of the variable: "log" (positive) or "interval" (bounded)
    transform: str = "log"
    #: the family's code in the compiled density (None: the fast path does not serve it)
    code: int | None = None

    @property
    def bounded(self) -> bool:
        """Whether the scale is an upper bound of the support (Uniform(0, upper))."""
        return self.transform == "interval"

    def scipy(self, scale: float):
        """The frozen ``scipy.stats`` distribution with ``scale``."""
        from scipy import stats

        return getattr(stats, self.scipy_name)(0.0, scale)


_HALFCAUCHY = dict(name="halfcauchy", text="HalfCauchy({})", pymc_name="HalfCauchy",
                   pymc_scale="beta", scipy_name="halfcauchy")
_HALFNORMAL = dict(name="halfnormal", text="HalfNormal({})", pymc_name="HalfNormal",
                   pymc_scale="sigma", scipy_name="halfnorm")

#: the families of tau's prior (the first is the default); scale_in_s: S for Half-Cauchy,
#: 2.5 S for Half-Normal (rstanarm's and Bambi's multiplier), 10 S for Uniform
TAU_FAMILIES: dict[str, PriorFamily] = {f.name: f for f in (
    PriorFamily(**_HALFCAUCHY, scale_in_s=1.0, code=0),
    PriorFamily(**_HALFNORMAL, scale_in_s=2.5, code=1),
    PriorFamily(name="uniform", text="Uniform(0, {})", pymc_name="Uniform",
                pymc_scale="upper", pymc_fixed=(("lower", 0.0),), scipy_name="uniform",
                parameter="UPPER", scale_in_s=10.0, transform="interval", code=2),
)}
#: the families of sigma's prior (the first is the default; its scale is 2.5 x the pooled
#: within-group sd, not a multiple of S); code 0 of the compiled density is "sigma known"
SIGMA_FAMILIES: dict[str, PriorFamily] = {f.name: f for f in (
    PriorFamily(**_HALFNORMAL, scale_in_s=2.5, code=1),
    PriorFamily(**_HALFCAUCHY, scale_in_s=2.5, code=2),
)}
#: mu's families: Normal(loc, scale) or the improper flat prior
MU_FAMILIES: tuple[str, ...] = ("normal", "flat")


def family_key(value: str) -> str:
    """A family name as written by a user, normalised: lower case, blanks, ``-`` and ``_``
    dropped (``"Half-Cauchy"`` -> ``"halfcauchy"``)."""
    return value.strip().lower().replace("-", "").replace("_", "")
