"""HierData: the one validated, immutable description of grouped normal data.

Every later layer (models, fit, shrinkage, compare, checks) takes a :class:`HierData`.
It holds the sufficient statistics of the three-level normal model

    y_ij | theta_i ~ N(theta_i, sigma^2),    j = 1..n_i,  i = 1..G,

namely, per group i: the count ``n_i``, the mean ``ybar_i``, the standard error
``se_i = sigma / sqrt(n_i)`` of that mean and -- for raw rows -- the within-group sum of
squares ``ss_i = sum_j (y_ij - ybar_i)^2``.  Because ``(n_i, ybar_i, ss_i)`` are sufficient,
no later layer needs the rows again.

Four constructors cover the forms data arrive in:

* :meth:`HierData.from_observations` -- raw rows with a group label per row;
* :meth:`HierData.from_dataframe` -- the same from a pandas DataFrame;
* :meth:`HierData.from_summary` -- the summary form (ybar_i, n_i, sigma);
* :meth:`HierData.from_estimates` -- Rubin's form (estimate_i, se_i).

Bad input raises ``ValueError``/``TypeError`` naming the argument, before PyMC sees it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ._validate import check_positive_array, check_squarable
from .covariates import covariate_matrix, group_level_columns

__all__ = ["HierData", "group_coord", "VALUE_SYMBOLS"]

#: the names text gives the groups' values: group means ``ybar_i``, estimates ``y_i``
VALUE_SYMBOLS = ("ybar", "y")

Source = Literal["observations", "summary", "estimates"]


# --------------------------------------------------------------------------- validation
def _float_vector(x: Any, name: str, *, allow_scalar: bool = False) -> np.ndarray:
    """Return ``x`` as a finite 1-d float array, or raise naming ``name``."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be numeric, got a string {x!r}.")
    if isinstance(x, (pd.Series, pd.Index)):
        x = x.to_numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "USV" or arr.dtype == object:
        flat = arr.ravel()
        bad = [i for i, v in enumerate(flat) if not _is_number(v)]
        if bad:
            i = next((j for j in bad if not _parses_as_number(flat[j])), bad[0])
            how = ("strings are not converted: parse them first" if _parses_as_number(flat[i])
                   else "remove or correct it")
            shown = str(flat[i]) if isinstance(flat[i], str) else flat[i]
            raise TypeError(f"`{name}` must contain only numbers; found non-numeric value "
                            f"{shown!r} at position {i} ({how}).")
        arr = arr.astype(float)
    if arr.dtype.kind == "b":
        raise TypeError(f"`{name}` must be numeric, not boolean.")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must be numeric, got dtype {arr.dtype}.")
    if arr.ndim == 0:
        if not allow_scalar:
            raise ValueError(f"`{name}` must be a 1-d sequence of numbers, got a scalar.")
    elif arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-dimensional, got shape {arr.shape}.")
    elif arr.size == 0:
        raise ValueError(f"`{name}` is empty; pass at least one value per group.")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        idx = np.flatnonzero(~np.isfinite(np.atleast_1d(arr)))
        raise ValueError(
            f"`{name}` contains NaN or infinite values (at position(s) {idx[:5].tolist()}); "
            "remove or impute them before building HierData."
        )
    return arr


def _parses_as_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _positive(arr: np.ndarray, name: str) -> np.ndarray:
    return check_squarable(check_positive_array(arr, name), name, scale=True)


def _counts(x: Any, name: str) -> np.ndarray:
    arr = _float_vector(x, name)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"`{name}` must hold whole numbers (group sizes); got {arr.tolist()}.")
    if np.any(arr < 1):
        raise ValueError(f"`{name}` must be >= 1 for every group; got min {arr.min():g}.")
    return arr.astype(np.int64)


def _labels(groups: Any, name: str, size: int) -> tuple:
    if groups is None:
        return tuple(f"group_{i}" for i in range(size))
    if isinstance(groups, (str, bytes)):
        raise TypeError(f"`{name}` must be a sequence of labels, not a single string.")
    if isinstance(groups, (pd.Index, pd.Series, np.ndarray)):
        labels = tuple(pd.Index(groups).tolist())   # numpy scalars -> plain str / int / float
    else:
        labels = tuple(groups)
    if len(labels) != size:
        raise ValueError(f"`{name}` has {len(labels)} labels but there are {size} groups.")
    for lab in labels:
        if not isinstance(lab, Hashable) or _isnan(lab) or lab is None or lab is pd.NA:
            raise TypeError(f"`{name}` labels must be hashable and not missing (None/NaN); "
                            f"got {lab!r}.")
    _check_label_types(labels, name)
    counts = pd.Series(labels).value_counts()
    dup = counts[counts > 1]
    if len(dup):
        raise ValueError(
            f"`{name}` has duplicate labels {dup.index.tolist()[:5]}: each group (row) needs a "
            "label of its own; pass labels that differ for every group, e.g. a study id, "
            "or leave `groups` out to number them."
        )
    return labels


_LABEL_KINDS = {"str": (str,), "int": (int, np.integer), "float": (float, np.floating)}


def _label_kind(v: Any) -> str | None:
    if isinstance(v, (bool, np.bool_)):
        return None
    return next((k for k, types in _LABEL_KINDS.items() if isinstance(v, types)), None)


def _check_label_types(labels: tuple, name: str) -> None:
    """Labels become a coordinate (and netCDF values): all strings, all integers or all
    floats, so that no two of them print alike and every backend can store them."""
    empty = [v for v in labels if isinstance(v, str) and not v.strip()]
    if empty:
        raise ValueError(f"`{name}` has an empty label {empty[0]!r}; every group needs a "
                         "visible name.")
    kinds = {_label_kind(v) for v in labels}
    if None in kinds:
        bad = next(v for v in labels if _label_kind(v) is None)
        raise TypeError(f"`{name}` labels must be strings or numbers; got {bad!r} of type "
                        f"{type(bad).__name__}. Convert them, e.g. [str(g) for g in ...].")
    if len(kinds) > 1:
        raise TypeError(f"`{name}` labels mix types {sorted(kinds)} (e.g. 1 and '1'); use one "
                        "type for every label, e.g. [str(g) for g in ...].")


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and np.isnan(v)


def _same_length(**arrays: np.ndarray) -> None:
    sizes = {k: np.size(v) for k, v in arrays.items() if np.ndim(v) == 1}
    if len(set(sizes.values())) > 1:
        desc = ", ".join(f"`{k}` has {v}" for k, v in sizes.items())
        raise ValueError(f"Mismatched lengths: {desc}; they must all have one entry per group.")


def _at_least_two_groups(n_groups: int, arg: str = "group") -> None:
    if n_groups < 2:
        raise ValueError(
            f"`{arg}`: a hierarchical model needs at least 2 groups; got {n_groups}. "
            "Pass data for two or more groups."
        )


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------- the object
@dataclass(frozen=True, repr=False, eq=False)
class HierData:
    """Validated sufficient statistics for ``y_ij ~ N(theta_i, sigma^2)``, one entry per group.

    Build it with one of the ``from_*`` constructors, not directly.

    Attributes
    ----------
    groups : tuple
        Group labels, in order of first appearance (raw rows) or as given.
    means : ndarray, shape (G,)
        ``ybar_i`` (or Rubin's estimate ``y_i``).
    se : ndarray, shape (G,)
        Standard error of ``ybar_i``: ``sigma_i / sqrt(n_i)`` when sigma is known, the given
        ``se_i`` in estimates form, and the plug-in ``sigma_hat / sqrt(n_i)`` (pooled
        within-group sd) when sigma is unknown.
    n : ndarray of int, shape (G,), or None
        Group sizes; ``None`` in estimates form, where only ``se_i`` is known.
    sigma : ndarray, shape (G,), or None
        The known within-group sd per group, ``None`` when sigma must be estimated or in
        estimates form.
    ss : ndarray, shape (G,), or None
        Within-group sums of squares ``sum_j (y_ij - ybar_i)^2`` (raw rows only).
    source : {"observations", "summary", "estimates"}
        Which form the data came in.
    x : ndarray, shape (G, p), or None
        Group-level covariates (no intercept column), from :meth:`with_covariates` or the
        constructors' ``covariates=``; ``covariate_names`` names the columns and
        :attr:`covariates` gives them as a DataFrame.
    """

    groups: tuple
    means: np.ndarray
    se: np.ndarray
    n: np.ndarray | None
    sigma: np.ndarray | None
    ss: np.ndarray | None
    source: Source
    _rows: tuple[np.ndarray, np.ndarray] | None = field(default=None)
    #: group-level covariates, shape (G, p) without the intercept, or None
    x: np.ndarray | None = field(default=None)
    #: their names, one per column of ``x``
    covariate_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("means", "se", "n", "sigma", "ss", "x"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))
        if self._rows is not None:
            object.__setattr__(self, "_rows", tuple(_readonly(r) for r in self._rows))

    # ----------------------------------------------------------------- the argument check
    @classmethod
    def check(cls, value: Any, name: str = "data", *, covariates: bool = False) -> HierData:
        """``value`` itself if it is a HierData, else a TypeError that says how to make one.
        Data with covariates are refused (NotImplementedError) unless the caller models them
        (``covariates=True``): a model that ignored them would silently fit another model."""
        if not isinstance(value, cls):
            raise TypeError(
                f"`{name}` must be a HierData, got {type(value).__name__}; build one with "
                "HierData.from_observations / from_dataframe / from_summary / from_estimates."
            )
        if value.has_covariates and not covariates:
            raise NotImplementedError(
                f"`{name}` has covariates {list(value.covariate_names)}, which this function "
                "does not take: it would use the model without them. Fit the meta-regression "
                "(a function whose documentation lists covariates, such as hiermodel.fit), or "
                "drop the covariates (HierData.from_estimates(data.means, data.se, "
                "data.groups))."
            )
        return value

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_observations(
        cls, y: Sequence[float] | np.ndarray, group: Sequence[Hashable] | np.ndarray,
        *, sigma: float | None = None, keep_rows: bool = True,
    ) -> HierData:
        """Raw rows ``y`` with one group label per row.

        Parameters
        ----------
        y : array-like of float, shape (N,)
            Observations ``y_ij``.
        group : array-like of hashable, shape (N,)
            Group label of each row; groups are ordered by first appearance.
        sigma : float, optional
            Known within-group sd.  If omitted, sigma is unknown and will be estimated from
            the groups with two or more rows (pooled, ``N - G`` df); groups of one row are
            kept (they inform their ``theta_i``), but at least one group needs two rows.
        keep_rows : bool, default True
            Keep the rows (for the per-row likelihood and per-row predictive checks).  Only
            the sufficient statistics are needed for fitting.
        """
        yv = check_squarable(_float_vector(y, "y"), "y")
        if isinstance(group, (str, bytes)):
            raise TypeError("`group` must be a sequence with one label per row, not a string.")
        g = group.to_numpy() if isinstance(group, (pd.Series, pd.Index)) else group
        if not isinstance(g, np.ndarray):
            seq = list(g)
            g = np.empty(len(seq), dtype=object)  # tuples stay labels, not a 2-d array
            g[:] = seq
        if g.ndim != 1:
            raise ValueError(f"`group` must be 1-dimensional, got shape {g.shape}.")
        if g.size != yv.size:
            raise ValueError(
                f"Mismatched lengths: `y` has {yv.size} rows but `group` has {g.size}; "
                "pass one group label per observation."
            )
        if pd.isna(pd.Series(g)).any():
            raise ValueError("`group` contains missing labels (NaN/None); label every row.")
        codes, uniques = pd.factorize(pd.Series(g), sort=False)
        labels = tuple(pd.Index(uniques).tolist())
        _check_label_types(labels, "group")
        _at_least_two_groups(len(labels))
        n, means, ss = _sufficient(yv, codes, len(labels))
        return cls._from_stats(labels, n, means, ss, sigma, rows=(yv, codes) if keep_rows else None)

    @classmethod
    def from_dataframe(
        cls, df: Any, *, value: str, group: str, sigma: float | None = None,
        keep_rows: bool = True, covariates: str | Sequence[str] | None = None,
    ) -> HierData:
        """Raw rows from a DataFrame: column ``value`` holds ``y_ij``, column ``group`` the label.

        ``covariates`` names group-level columns (one value per group, repeated on its rows;
        a column that varies within a group is an error); they are checked as in
        :meth:`with_covariates`.

        A Dask DataFrame is reduced in one pass to per-partition, per-group
        ``(n, mean, M2)`` (M2 = sum of squared deviations), merged exactly (Chan, Golub &
        LeVeque 1979); the rows are never materialised together.
        """
        if _is_dask_frame(df):
            if covariates is not None:
                raise NotImplementedError(
                    "`covariates` with a Dask DataFrame: build the data without them, then "
                    "add the group-level table with .with_covariates(table).")
            return cls._from_dask(df, value=value, group=group, sigma=sigma)
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"`df` must be a pandas (or Dask) DataFrame, got {type(df).__name__}.")
        for arg, col in (("value", value), ("group", group)):
            if col not in df.columns:
                raise ValueError(
                    f"`{arg}`: column {col!r} is not in the DataFrame; "
                    f"available columns: {list(df.columns)}."
                )
        try:
            data = cls.from_observations(df[value], df[group], sigma=sigma,
                                         keep_rows=keep_rows)
        except (ValueError, TypeError) as err:  # name the DataFrame arguments, not y/group
            msg = str(err).replace("`y`", f"`value` (column {value!r})")
            msg = msg.replace("`group`", f"`group` (column {group!r})")
            raise type(err)(msg) from None
        if covariates is None:
            return data
        return data.with_covariates(group_level_columns(df, group, covariates))

    @classmethod
    def _from_dask(cls, df: Any, *, value: str, group: str, sigma: float | None) -> HierData:
        for arg, col in (("value", value), ("group", group)):
            if col not in df.columns:
                raise ValueError(
                    f"`{arg}`: column {col!r} is not in the DataFrame; "
                    f"available columns: {list(df.columns)}."
                )
        if df[value].dtype.kind not in "iuf":
            raise TypeError(f"`value`: column {value!r} must be numeric, got {df[value].dtype}.")
        sub = df[[group, value]]
        meta = pd.DataFrame({"n": pd.Series(dtype="int64"), "mean": pd.Series(dtype=float),
                             "m2": pd.Series(dtype=float)},
                            index=pd.Index([], dtype=df[group].dtype, name=group))
        # per partition (n, mean, M2) per group -- stable two-pass in pandas -- then the
        # exact pairwise merge (Chan, Golub & LeVeque 1979) on the small per-partition table
        # one pass: each partition is read once, checked and reduced (the checks raise)
        parts = sub.map_partitions(_partition_stats, value, group, meta=meta)
        (parts,) = _dask_compute(parts)
        parts = parts.assign(_sum=parts["n"] * parts["mean"])
        by = parts.groupby(level=0, sort=False)
        n_s = by["n"].sum()
        labels = tuple(n_s.index.tolist())
        _at_least_two_groups(len(labels))
        n = n_s.to_numpy(np.int64)
        means = by["_sum"].sum().to_numpy(float) / n
        dev = parts["mean"].to_numpy() - pd.Series(means, index=n_s.index).reindex(
            parts.index).to_numpy()
        between = pd.Series(parts["n"].to_numpy() * dev**2, index=parts.index)
        ss = (by["m2"].sum() + between.groupby(level=0, sort=False).sum()).to_numpy(float)
        return cls._from_stats(labels, n, means, np.maximum(ss, 0.0), sigma, rows=None)

    @classmethod
    def _from_stats(cls, labels, n, means, ss, sigma, rows) -> HierData:
        if sigma is None:
            # a group of one row says nothing about sigma (ss_i = 0 on n_i - 1 = 0 df) but all
            # its row says about theta_i: sigma comes from the groups with two or more rows
            if not np.any(n >= 2):
                raise ValueError(
                    "`y`: no group has two or more rows, so sigma cannot be estimated from "
                    "within-group spread: pass a known `sigma=`, or data where at least one "
                    "group has two or more rows."
                )
            df = int(n.sum() - len(n))
            sigma_hat = np.sqrt(ss.sum() / df)
            if sigma_hat <= 0:
                raise ValueError(
                    "`y`: all rows equal their group means, so sigma cannot be estimated; "
                    "pass a known `sigma=`."
                )
            se = sigma_hat / np.sqrt(n)
            sig = None
        else:
            sig = _positive(_float_vector(sigma, "sigma", allow_scalar=True), "sigma")
            if sig.ndim == 1:
                _same_length(sigma=sig, groups=np.empty(len(labels)))
            sig = np.broadcast_to(sig, (len(labels),)).astype(float)
            se = sig / np.sqrt(n)
        return cls(labels, means, se, n, sig, ss, "observations", rows)

    @classmethod
    def from_summary(
        cls, means: Sequence[float] | np.ndarray, n: Sequence[int] | np.ndarray,
        sigma: float | Sequence[float] | np.ndarray, groups: Sequence[Hashable] | None = None,
        covariates: Any = None,
    ) -> HierData:
        """The summary form: group means ``ybar_i``, sizes ``n_i`` and a known sd ``sigma``.

        ``se_i = sigma_i / sqrt(n_i)``; ``sigma`` is a scalar or one value per group
        (``covariates``: see :meth:`with_covariates`).
        """
        m = check_squarable(_float_vector(means, "means"), "means")
        nn = _counts(n, "n")
        s = _positive(_float_vector(sigma, "sigma", allow_scalar=True), "sigma")
        _same_length(means=m, n=nn, sigma=s)
        _at_least_two_groups(m.size, "means")
        labels = _labels(groups, "groups", m.size)
        s = np.broadcast_to(s, m.shape).astype(float)
        data = cls(labels, m, s / np.sqrt(nn), nn, s, None, "summary")
        return data if covariates is None else data.with_covariates(covariates)

    @classmethod
    def from_estimates(
        cls, y: Sequence[float] | np.ndarray, se: Sequence[float] | np.ndarray,
        groups: Sequence[Hashable] | None = None, covariates: Any = None,
    ) -> HierData:
        """Rubin's form: one estimate ``y_i`` and its standard error ``se_i`` per group
        (``covariates``: see :meth:`with_covariates`)."""
        m = check_squarable(_float_vector(y, "y"), "y")
        s = _positive(_float_vector(se, "se"), "se")
        _same_length(y=m, se=s)
        _at_least_two_groups(m.size, "y")
        labels = _labels(groups, "groups", m.size)
        data = cls(labels, m, s, None, None, None, "estimates")
        return data if covariates is None else data.with_covariates(covariates)

    def with_covariates(self, covariates: Any) -> HierData:
        """The same data with group-level covariates (for meta-regression,
        ``theta_i ~ N(x_i' beta, tau^2)``; the intercept is added by the models, not here).

        ``covariates`` is a DataFrame (or a dict of column name -> values) with one numeric
        column per covariate and one row per group: indexed by the group labels (any order;
        rows for other labels are an error), or with a default RangeIndex in group order.
        Refused, naming the column: non-numeric or boolean columns (encode them first, e.g.
        ``pd.get_dummies(..., drop_first=True, dtype=float)``), missing or infinite values,
        constant columns (they duplicate the intercept), columns that are linear combinations
        of the intercept and others, and more coefficients than the groups can identify.
        """
        from dataclasses import replace

        x, names = covariate_matrix(covariates, self.groups)
        return replace(self, x=x, covariate_names=names)

    @property
    def covariates(self) -> pd.DataFrame | None:
        """The covariates as a DataFrame indexed by group (None when there are none)."""
        if self.x is None:
            return None
        return pd.DataFrame(np.array(self.x), index=pd.Index(group_coord(self.groups),
                                                             name="group"),
                            columns=list(self.covariate_names))

    @property
    def has_covariates(self) -> bool:
        """Whether group-level covariates are attached."""
        return self.x is not None

    @property
    def n_covariates(self) -> int:
        """Number of covariates p (0 without them; the intercept is not counted)."""
        return 0 if self.x is None else int(self.x.shape[1])

    @property
    def covariate_means(self) -> np.ndarray | None:
        """The mean of each covariate over the groups, shape (p,) (None without covariates).
        The models centre the covariates at these means (:attr:`centered_covariates`)."""
        return None if self.x is None else np.mean(self.x, axis=0)

    @property
    def centered_covariates(self) -> np.ndarray | None:
        """``x - covariate_means``, shape (G, p): the covariates as the models use them, so
        that ``mu`` is the mean effect at the average covariate values (None without)."""
        return None if self.x is None else self.x - np.mean(self.x, axis=0)

    # ----------------------------------------------------------------- properties
    @property
    def n_groups(self) -> int:
        """Number of groups G."""
        return len(self.groups)

    @property
    def value_symbol(self) -> str:
        """The name of the groups' values in formulas and text: ``"y"`` for estimates
        (``y_i``, se_i), ``"ybar"`` for group means (raw rows or the summary form)."""
        return "y" if self.source == "estimates" else "ybar"

    @property
    def sigma_known(self) -> bool:
        """True when the sampling sd of each ``ybar_i`` is known (summary/estimates form or a
        known sigma for raw rows); False when sigma is a parameter to estimate."""
        return self.source != "observations" or self.sigma is not None

    @property
    def n_total(self) -> int | None:
        """Total number of rows N (None in estimates form)."""
        return None if self.n is None else int(self.n.sum())

    @property
    def sigma_hat(self) -> float | None:
        """Pooled within-group sd ``sqrt(sum_i ss_i / (N - G))`` (raw rows only; None too
        when no group has two rows, N = G)."""
        if self.ss is None or self.n.sum() == self.n_groups:
            return None
        return float(np.sqrt(self.ss.sum() / (self.n.sum() - self.n_groups)))

    @property
    def rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(y, group_index)`` for raw rows kept at construction, else None."""
        return self._rows

    @property
    def has_rows(self) -> bool:
        """Whether the raw rows were kept."""
        return self._rows is not None

    # ----------------------------------------------------------------- facades
    def to_xarray(self) -> xr.Dataset:
        """The statistics as an ``xarray.Dataset`` on a ``group`` dimension."""
        coords = {"group": group_coord(self.groups)}
        data = {"mean": ("group", self.means), "se": ("group", self.se)}
        if self.n is not None:
            data["n"] = ("group", self.n)
        if self.sigma is not None:
            data["sigma"] = ("group", self.sigma)
        if self.ss is not None:
            data["ss"] = ("group", self.ss)
        for j, name in enumerate(self.covariate_names):
            data[name] = ("group", self.x[:, j])
        return xr.Dataset(
            data, coords=coords,
            attrs={"source": self.source, "sigma_known": int(self.sigma_known)},
        )

    def to_dataframe(self) -> pd.DataFrame:
        """The statistics as a DataFrame indexed by group."""
        return self.to_xarray().to_dataframe()

    def __len__(self) -> int:
        return self.n_groups

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HierData):
            return NotImplemented
        arrays = ("means", "se", "n", "sigma", "ss", "x")
        return (self.groups == other.groups and self.source == other.source
                and self.covariate_names == other.covariate_names
                and all(_arr_eq(getattr(self, a), getattr(other, a)) for a in arrays))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        head = (f"HierData({self.source}, {self.n_groups} groups"
                + (f", N={self.n_total}" if self.n is not None else "")
                + (", sigma known" if self.sigma_known else
                   f", sigma unknown (pooled sd {self.sigma_hat:.4g})")
                + (f", covariates {list(self.covariate_names)}" if self.x is not None else "")
                + ")")
        table = self.to_dataframe().to_string(float_format=lambda v: f"{v:.4g}", max_rows=12)
        return head + "\n" + table

    def _repr_html_(self) -> str:  # notebooks
        return f"<pre>{self.__repr__().splitlines()[0]}</pre>" + self.to_dataframe()._repr_html_()


def _arr_eq(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.all(a == b))


def group_coord(labels: tuple) -> np.ndarray:
    arr = np.empty(len(labels), dtype=object)
    arr[:] = list(labels)
    if all(isinstance(v, str) for v in labels):
        return arr.astype(str)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels):
        return arr.astype(np.int64)
    if all(isinstance(v, (float, np.floating)) for v in labels):
        return arr.astype(np.float64)
    return arr


def _sufficient(y: np.ndarray, codes: np.ndarray, g: int) -> tuple[np.ndarray, ...]:
    """Per-group count, mean and within-group sum of squares (two-pass, stable)."""
    n = np.bincount(codes, minlength=g).astype(np.int64)
    means = np.bincount(codes, weights=y, minlength=g) / n
    ss = np.bincount(codes, weights=(y - means[codes]) ** 2, minlength=g)
    return n, means, ss


def _is_dask_frame(df: Any) -> bool:
    mod = type(df).__module__
    return mod.startswith("dask") and hasattr(df, "npartitions")


def _partition_stats(part: pd.DataFrame, value: str, group: str) -> pd.DataFrame:
    """Per-group count, mean and sum of squared deviations of one partition (raises on
    NaN/inf values or missing labels)."""
    bad = int((~np.isfinite(part[value].to_numpy(float))).sum())
    if bad:
        raise ValueError(f"`value`: column {value!r} contains NaN/inf values ({bad} in one "
                         "partition); drop or impute them first.")
    nulls = int(part[group].isna().sum())
    if nulls:
        raise ValueError(f"`group`: column {group!r} contains missing labels ({nulls} in one "
                         "partition); label every row.")
    g = part.groupby(group, sort=False)[value]
    n = g.count()
    mean = g.mean()
    m2 = (part[value] - part[group].map(mean)) ** 2
    return pd.DataFrame({"n": n.astype("int64"), "mean": mean,
                         "m2": m2.groupby(part[group], sort=False).sum()})


def _dask_compute(*objs: Any) -> tuple:
    import dask

    return dask.compute(*objs)
