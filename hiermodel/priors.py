"""Priors: a small, validated, printable description of the hyperpriors.

    mu    ~ Normal(mu_mean, mu_sd)           | flat (``mu="flat"``; improper)
    tau   ~ Half-Cauchy(tau_scale)           (default)
          | Half-Normal(tau_scale)           (Gelman 2006's weakly informative alternative)
          | Uniform(0, tau_scale)            (BDA3 section 5.4's reference choice)
    sigma ~ Half-Normal(sigma_scale)         (only when the within-group sd is unknown)
    beta_j ~ Normal(beta_mean_j, beta_sd_j)  (only with group-level covariates)

**Covariates** (meta-regression) enter the models centred at their means over the groups,
``theta_i ~ N(mu + (x_i - xbar)' beta, tau^2)``, so ``mu`` stays the mean effect -- now at the
average covariate values -- and keeps its data-scaled prior; the slopes ``beta_j`` are the
same as on the raw covariates, and the raw-scale intercept ``mu - xbar' beta`` is reported as
``intercept``.  Each slope has its own prior, in the covariate's own (raw) units:

**Defaults are scaled to the data** (as Bambi and rstanarm scale theirs, and baggr derives
and prints its own).  A numeric field left at ``None`` is filled in by
:meth:`Priors.resolve` from the group means ``ybar_i`` and their standard errors ``se_i``::

    S        = sqrt( var(ybar_i) + mean(se_i^2) )      the spread of the group means plus
                                                       their sampling error (var: ddof=1)
    mu_mean  = sum(ybar_i / se_i^2) / sum(1 / se_i^2)  the precision-weighted mean
    mu_sd    = 2.5 S
    tau      ~ Half-Cauchy(S) | Half-Normal(2.5 S) | Uniform(0, 10 S)
    sigma    ~ Half-Normal(2.5 sigma_hat)               (pooled within-group sd; raw rows)
    beta_j   ~ Normal(0, 2.5 S / sd(x_j))               (sd over the groups, ddof=1)

the last being Bambi's and rstanarm's rule for slopes: a one-sd change of the covariate moves
the mean by about 2.5 S at most.  ``beta_sd`` (and ``beta_mean``) take one number for every
slope or one per covariate, in the order of ``data.covariate_names``.

Why: marginally ``var(ybar_i) ~ tau^2 + se_i^2``, so ``S`` bounds the plausible ``tau`` and
sets the scale on which ``mu`` can move; ``2.5`` is rstanarm's and Bambi's multiplier.  The
rule is location-scale equivariant: fitting ``a * y + b`` (with ``|a| * se``) gives exactly
``a * theta + b``, so the answer does not depend on the units of the data.  On Eight Schools
it gives ``mu ~ Normal(7.686, 41.46)`` and ``tau ~ Half-Cauchy(16.59)``.  Fixed priors stay
one argument away: ``Priors(mu_mean=0, mu_sd=5, tau_scale=5)`` is the classic PyMC
Eight Schools choice.

This module imports neither PyMC nor PyTensor, so the numpy core (:mod:`hiermodel.shrinkage`)
can use it too; :mod:`hiermodel.model` turns it into PyMC distributions.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validate import check_method, check_real
from .formatting import format_number as _fmt
from .prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES, family_key

if TYPE_CHECKING:  # pragma: no cover
    from .data import HierData

__all__ = ["Priors", "MU_PRIORS", "TAU_PRIORS", "SIGMA_PRIORS", "SCALE_MULTIPLIER",
           "data_spread"]

#: the family names, from :mod:`hiermodel.prior_families` (the first is the default)
MU_PRIORS = MU_FAMILIES
TAU_PRIORS = tuple(TAU_FAMILIES)
SIGMA_PRIORS = tuple(SIGMA_FAMILIES)
#: multiplier of the data spread S for mu's sd and the sigma prior (rstanarm, Bambi)
SCALE_MULTIPLIER = 2.5
_NUMERIC = ("mu_mean", "mu_sd", "tau_scale", "sigma_scale")
_VECTORS = ("beta_mean", "beta_sd")


def _real(value: Any, name: str, *, positive: bool) -> float | None:
    return check_real(value, name, positive=positive, prefix="Priors: ")


def _reals(value: Any, name: str, *, positive: bool) -> float | tuple[float, ...] | None:
    """A number, or a non-empty sequence of numbers (a tuple), or None."""
    if value is None or isinstance(value, numbers.Real) and not isinstance(value, bool):
        return _real(value, name, positive=positive)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"Priors: `{name}` must be a number, a sequence of numbers (one per "
                        f"covariate) or None, got {type(value).__name__} {value!r}.")
    vals = tuple(np.asarray(value, dtype=object).ravel().tolist())
    if not vals:
        raise ValueError(f"Priors: `{name}` is an empty sequence; give one number per "
                         "covariate, or one number for all.")
    return tuple(_real(v, f"{name}[{j}]", positive=positive) for j, v in enumerate(vals))


def _per_covariate(value: float | tuple[float, ...], name: str, p: int,
                   names: tuple[str, ...]) -> tuple[float, ...]:
    """``value`` as p numbers: a number repeated, or a sequence of exactly p."""
    if isinstance(value, tuple):
        if len(value) != p:
            raise ValueError(f"Priors: `{name}` has {len(value)} values but the data have {p} "
                             f"covariate(s) {list(names)}; give one per covariate, or one "
                             "number for all.")
        return value
    return (float(value),) * p


def _family(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"Priors: `{name}` must be a string, one of {allowed}; got {value!r}.")
    key = family_key(value)
    if key not in allowed:
        raise ValueError(f"Priors: requested `{name}`={value!r} but it must be one of {allowed}.")
    return key


def data_spread(means: Any, se: Any) -> float:
    """``S = sqrt(var(ybar_i) + mean(se_i^2))`` (var with ddof=1): the scale of the default
    priors.  Always > 0 because every ``se_i`` is."""
    y = np.asarray(means, dtype=float)
    s = np.asarray(se, dtype=float)
    var = float(np.var(y, ddof=1)) if y.size > 1 else 0.0
    return math.sqrt(var + float(np.mean(s**2)))


@dataclass(frozen=True)
class Priors:
    """Hyperpriors of the three-level normal model; ``None`` fields are scaled to the data.

    Parameters
    ----------
    mu : {"normal", "flat"}, default "normal"
        ``"flat"`` is the improper uniform prior (the exact posterior handles it; NUTS and
        predictive draws need a proper prior).
    mu_mean, mu_sd : float or None
        ``mu ~ Normal(mu_mean, mu_sd)``.  Default None: the precision-weighted mean of the
        group means and ``2.5 S`` (see the module docstring for ``S``).
    tau : {"halfcauchy", "halfnormal", "uniform"}
        Family of the prior on the between-group sd (the names of
        :data:`hiermodel.prior_families.TAU_FAMILIES`).  Default ``"halfcauchy"``.
    tau_scale : float or None
        Its scale (upper bound for ``"uniform"``).  Default None: ``S`` for Half-Cauchy,
        ``2.5 S`` for Half-Normal, ``10 S`` for Uniform.
    sigma : {"halfnormal", "halfcauchy"}
        Prior family for the within-group sd when it is unknown (the names of
        :data:`hiermodel.prior_families.SIGMA_FAMILIES`).  Default ``"halfnormal"``.
    sigma_scale : float or None
        Its scale.  Default None: ``2.5 x`` the pooled within-group sd of the data.
    beta_mean : float or sequence, default 0
        Prior means of the covariates' slopes (one for all, or one per covariate).
    beta_sd : float, sequence or None
        Prior sds of the slopes, in the covariates' units.  Default None: ``2.5 S / sd(x_j)``
        per covariate.  Unused when the data have no covariates.

    Attributes
    ----------
    from_data : tuple of str
        After :meth:`resolve`: the fields that were filled in from the data.
    spread : float or None
        After :meth:`resolve`: the data spread ``S`` the defaults were scaled by.

    Examples
    --------
    ``Priors()`` -- every scale from the data; ``Priors(tau="halfnormal")`` -- Half-Normal,
    scale from the data; ``Priors(mu_mean=0, mu_sd=5, tau_scale=5)`` -- fixed (the classic
    PyMC Eight Schools priors); ``Priors(mu="flat", tau="uniform", tau_scale=1000)`` --
    BDA3's reference prior.
    """

    mu: str = "normal"
    mu_mean: float | None = None
    mu_sd: float | None = None
    tau: str = TAU_PRIORS[0]
    tau_scale: float | None = None
    sigma: str = SIGMA_PRIORS[0]
    sigma_scale: float | None = None
    beta_mean: float | tuple[float, ...] = 0.0
    beta_sd: float | tuple[float, ...] | None = None
    from_data: tuple[str, ...] = ()
    spread: float | None = None

    def __post_init__(self) -> None:
        mu = _family(self.mu, "mu", MU_PRIORS)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "mu_mean", _real(self.mu_mean, "mu_mean", positive=False))
        object.__setattr__(self, "mu_sd", _real(self.mu_sd, "mu_sd", positive=True))
        if mu == "flat" and (self.mu_mean is not None or self.mu_sd is not None):
            raise ValueError("Priors: `mu='flat'` has no `mu_mean` / `mu_sd`; drop them or "
                             "use mu='normal'.")
        object.__setattr__(self, "tau", _family(self.tau, "tau", TAU_PRIORS))
        object.__setattr__(self, "tau_scale", _real(self.tau_scale, "tau_scale", positive=True))
        object.__setattr__(self, "sigma", _family(self.sigma, "sigma", SIGMA_PRIORS))
        object.__setattr__(self, "sigma_scale",
                           _real(self.sigma_scale, "sigma_scale", positive=True))
        beta_mean = _reals(self.beta_mean, "beta_mean", positive=False)
        if beta_mean is None:
            raise TypeError("Priors: `beta_mean` must be a number or one number per "
                            "covariate, not None.")
        object.__setattr__(self, "beta_mean", beta_mean)
        object.__setattr__(self, "beta_sd", _reals(self.beta_sd, "beta_sd", positive=True))
        bad = [f for f in self.from_data if f not in _NUMERIC + _VECTORS]
        if bad:
            raise ValueError(f"Priors: `from_data` names unknown fields {bad}.")
        object.__setattr__(self, "from_data", tuple(self.from_data))
        object.__setattr__(self, "spread", _real(self.spread, "spread", positive=True))

    # ------------------------------------------------------------------ the argument check
    @classmethod
    def check(cls, value: Any, name: str = "priors", *, data: HierData | None = None) -> Priors:
        """``value`` (None: ``Priors()``) if it is a Priors, else a TypeError; with ``data``,
        every data-scaled field filled in from them (:meth:`resolve`)."""
        priors = cls() if value is None else value
        if not isinstance(priors, cls):
            raise TypeError(f"`{name}` must be a hiermodel.Priors or None, got "
                            f"{type(priors).__name__}.")
        return priors if data is None else priors.resolve(data)

    # ------------------------------------------------------------------ data scaling
    @property
    def unresolved(self) -> tuple[str, ...]:
        """The numeric fields still to be scaled to the data (None)."""
        need = ["tau_scale", "sigma_scale"]
        if self.mu == "normal":
            need[:0] = ["mu_mean", "mu_sd"]
        return tuple(f for f in need if getattr(self, f) is None)

    @property
    def is_resolved(self) -> bool:
        """True when every prior except possibly sigma's has numbers (see :meth:`resolve`)."""
        return all(f == "sigma_scale" for f in self.unresolved)

    def resolve(self, data: HierData) -> Priors:
        """These priors with every ``None`` field scaled to ``data`` (the rule in the module
        docstring); fields already set are kept.  Idempotent."""
        fill: dict[str, Any] = {}
        missing = self.unresolved
        beta = self._resolve_beta(data)
        scale_beta = "beta_sd" in beta and beta["beta_sd"] is None
        if not missing and not beta:
            return self
        if not missing and not scale_beta:
            return replace(self, **beta)
        spread = data_spread(data.means, data.se)
        if "mu_mean" in missing:
            w = 1.0 / np.asarray(data.se, dtype=float) ** 2
            fill["mu_mean"] = float(np.sum(w * data.means) / np.sum(w))
        if "mu_sd" in missing:
            fill["mu_sd"] = SCALE_MULTIPLIER * spread
        if "tau_scale" in missing:
            fill["tau_scale"] = TAU_FAMILIES[self.tau].scale_in_s * spread
        if "sigma_scale" in missing and data.sigma_hat is not None:
            fill["sigma_scale"] = SCALE_MULTIPLIER * data.sigma_hat
        if scale_beta:
            del beta["beta_sd"]
            sd_x = np.std(np.asarray(data.x, dtype=float), axis=0, ddof=1)
            fill["beta_sd"] = tuple(float(SCALE_MULTIPLIER * spread / s) for s in sd_x)
        if not fill:
            return replace(self, **beta) if beta else self
        return replace(self, **fill, **beta,
                       from_data=tuple(self.from_data) + tuple(fill), spread=spread)

    def _resolve_beta(self, data: HierData) -> dict[str, Any]:
        """The beta fields to change for ``data``'s covariates: one number per covariate
        (``beta_sd`` is None here when it is to be scaled to the data)."""
        p = getattr(data, "n_covariates", 0)
        if not p:
            return {}
        names = tuple(data.covariate_names)
        out: dict[str, Any] = {}
        mean = _per_covariate(self.beta_mean, "beta_mean", p, names)
        if mean != self.beta_mean:
            out["beta_mean"] = mean
        if self.beta_sd is None:
            out["beta_sd"] = None
        else:
            sd = _per_covariate(self.beta_sd, "beta_sd", p, names)
            if sd != self.beta_sd:
                out["beta_sd"] = sd
        return out

    def coefficient_prior(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """``(b0, P0)``: the prior mean and (diagonal) precision matrix of ``(mu, beta_1..p)``
        that the models with ``p`` covariates use (mu's precision 0 when its prior is flat;
        after :meth:`resolve`)."""
        loc, scale = self.beta_arrays(p)
        flat = self.mu == "flat"
        if not flat:
            self._require("mu_mean", "mu_sd")
        mean = np.r_[0.0 if flat else self.mu_mean, loc]
        return mean, np.diag(np.r_[0.0 if flat else 1.0 / self.mu_sd**2, 1.0 / scale**2])

    def beta_arrays(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """``(beta_mean, beta_sd)`` as arrays of ``p`` numbers (after :meth:`resolve`)."""
        self._require("beta_sd")
        mean = np.broadcast_to(np.asarray(self.beta_mean, dtype=float), (p,)).copy()
        sd = np.broadcast_to(np.asarray(self.beta_sd, dtype=float), (p,)).copy()
        return mean, sd

    # ------------------------------------------------------------------ scipy views
    def _require(self, *fields: str) -> None:
        missing = [f for f in fields if getattr(self, f) is None]
        if missing:
            raise ValueError(f"Priors: {missing} are scaled to the data and not set yet; "
                             "call priors.resolve(data) first.")

    @property
    def tau_bound(self) -> float | None:
        """The upper end of tau's support (``tau_scale`` for a bounded family, Uniform(0,
        upper)); None when the support is unbounded."""
        return self.tau_scale if TAU_FAMILIES[self.tau].bounded else None

    def mu_dist(self):
        """``scipy.stats`` frozen prior of mu, or None for the flat prior."""
        from scipy import stats

        if self.mu == "flat":
            return None
        self._require("mu_mean", "mu_sd")
        return stats.norm(self.mu_mean, self.mu_sd)

    def tau_dist(self):
        """``scipy.stats`` frozen prior of tau."""
        self._require("tau_scale")
        return TAU_FAMILIES[self.tau].scipy(self.tau_scale)

    def sigma_dist(self):
        """``scipy.stats`` frozen prior of sigma (used when sigma is unknown)."""
        self._require("sigma_scale")
        return SIGMA_FAMILIES[self.sigma].scipy(self.sigma_scale)

    # ------------------------------------------------------------------ printing
    def describe(self) -> str:
        """One line in mathematical notation (``S`` where a scale is still to be set)."""
        each = self.describe_each()
        text = (f"mu ~ {each['mu']}; tau ~ {each['tau']}; sigma ~ {each['sigma']} "
                "(if unknown)")
        if "beta" in each:
            text += f"; beta ~ {each['beta']}"
        return text

    def describe_each(self) -> dict[str, str]:
        """Each parameter's prior in mathematical notation, by name (``mu``, ``tau``,
        ``sigma``, and ``beta`` when a slope prior is set): what :meth:`describe` joins."""
        if self.mu == "flat":
            mu = "flat"
        else:
            m = "wmean(y)" if self.mu_mean is None else _fmt(self.mu_mean)
            s = "2.5*S" if self.mu_sd is None else _fmt(self.mu_sd)
            mu = f"Normal({m}, {s})"
        ts = (f"{TAU_FAMILIES[self.tau].scale_in_s:g}*S" if self.tau_scale is None
              else _fmt(self.tau_scale))
        ss = "2.5*sd(y)" if self.sigma_scale is None else _fmt(self.sigma_scale)
        each = {"mu": mu, "tau": TAU_FAMILIES[self.tau].text.format(ts),
                "sigma": SIGMA_FAMILIES[self.sigma].text.format(ss)}
        if self.has_beta:
            each["beta"] = self._beta_text()
        return each

    @property
    def has_beta(self) -> bool:
        """Whether a slope prior is set (by the user, or by :meth:`resolve` on data with
        covariates)."""
        return self.beta_sd is not None or self.beta_mean != 0.0

    def _beta_text(self) -> str:
        def vec(v: Any) -> str:
            if isinstance(v, tuple):
                return v and "[" + ", ".join(_fmt(x) for x in v) + "]"
            return _fmt(v)

        sd = "2.5*S/sd(x)" if self.beta_sd is None else vec(self.beta_sd)
        return f"Normal({vec(self.beta_mean)}, {sd})"

    def explain(self, symbol: str = "ybar") -> list[str]:
        """Markdown bullets: each prior with its numbers, and for data-scaled ones the rule
        and the statistic used (for reports); ``symbol`` names the groups' values, ``"ybar"``
        (group means) or ``"y"`` (estimates; :attr:`HierData.value_symbol`)."""
        d = set(self.from_data)
        S = "" if self.spread is None else f" = {_fmt(self.spread)}"
        from .data import VALUE_SYMBOLS

        symbol = check_method(symbol, VALUE_SYMBOLS, "symbol")
        rule_s = f"S = sqrt(var({symbol}_i) + mean(se_i^2)){S}"
        out = []
        if self.mu == "flat":
            out.append("- `mu ~ flat` (improper uniform): set by the user.")
        else:
            how = []
            if "mu_mean" in d:
                how.append("mean = the precision-weighted mean of the group means")
            if "mu_sd" in d:
                how.append(f"sd = 2.5 S, {rule_s}")
            src = ("scaled to the data: " + "; ".join(how)) if how else "set by the user"
            m = "?" if self.mu_mean is None else _fmt(self.mu_mean)
            s = "?" if self.mu_sd is None else _fmt(self.mu_sd)
            out.append(f"- `mu ~ Normal({m}, {s})`: {src}.")
        t = "?" if self.tau_scale is None else _fmt(self.tau_scale)
        if "tau_scale" in d:
            src = f"scaled to the data: {TAU_FAMILIES[self.tau].scale_in_s:g} S, {rule_s}"
        else:
            src = "set by the user"
        out.append(f"- `tau ~ {TAU_FAMILIES[self.tau].text.format(t)}`: {src}.")
        s = "2.5 sigma_hat" if self.sigma_scale is None else _fmt(self.sigma_scale)
        src = ("scaled to the data: 2.5 x the pooled within-group sd" if "sigma_scale" in d
               else "set by the user" if self.sigma_scale is not None
               else "2.5 x the pooled within-group sd")
        out.append(f"- `sigma ~ {SIGMA_FAMILIES[self.sigma].text.format(s)}` (only when sigma is "
                   f"estimated): {src}.")
        if self.has_beta:
            src = ("scaled to the data: sd_j = 2.5 S / sd(x_j), one per covariate in its own "
                   "units" if "beta_sd" in d else "set by the user")
            out.append(f"- `beta ~ {self._beta_text()}` (the covariates' slopes; covariates "
                       f"centred at their means, so mu is the mean effect there): {src}.")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return asdict(self)

    def to_attrs(self) -> dict[str, Any]:
        """Flat, netCDF-safe attributes (``None`` becomes NaN); :meth:`from_attrs` inverts."""
        out: dict[str, Any] = {"priors": self.describe(), "prior_mu": self.mu,
                               "prior_tau": self.tau, "prior_sigma": self.sigma}
        for f in _NUMERIC:
            v = getattr(self, f)
            out[f"prior_{f}"] = float("nan") if v is None else float(v)
        for f in _VECTORS if self.has_beta else ():    # only where a slope prior is set
            v = getattr(self, f)
            out[f"prior_{f}"] = (float("nan") if v is None
                                 else np.asarray(v, dtype=float) if isinstance(v, tuple)
                                 else float(v))
        out["prior_from_data"] = ",".join(self.from_data)
        out["prior_spread"] = float("nan") if self.spread is None else float(self.spread)
        return out

    @classmethod
    def from_attrs(cls, attrs: Any) -> Priors | None:
        """The priors recorded by :meth:`to_attrs` in ``attrs`` (a mapping), or None when
        they are absent."""
        if not hasattr(attrs, "get") or "prior_tau" not in attrs:
            return None

        def num(key: str) -> float | None:
            v = float(attrs[key])
            return None if math.isnan(v) else v

        def vec(key: str, default: Any) -> Any:
            if key not in attrs:
                return default
            v = np.asarray(attrs[key], dtype=float)
            if v.ndim == 0:
                return None if math.isnan(float(v)) else float(v)
            return tuple(v.tolist())

        fields: dict[str, Any] = {f: num(f"prior_{f}") for f in _NUMERIC}
        fields["beta_mean"] = vec("prior_beta_mean", 0.0)
        fields["beta_sd"] = vec("prior_beta_sd", None)
        text = str(attrs.get("prior_from_data", ""))
        return cls(mu=str(attrs["prior_mu"]), tau=str(attrs["prior_tau"]),
                   sigma=str(attrs["prior_sigma"]), **fields,
                   from_data=tuple(f for f in text.split(",") if f),
                   spread=num("prior_spread"))

    def __str__(self) -> str:
        return self.describe()
