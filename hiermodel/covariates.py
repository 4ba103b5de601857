"""Group-level covariates (meta-regression), checked: the table a user gives, as the
``(G, p)`` matrix :class:`~hiermodel.data.HierData` keeps.

:func:`covariate_matrix` reads a DataFrame or dict of covariates (rows matched to the groups
by label, or by position with a default index) and refuses what a meta-regression cannot
use: non-numeric or boolean columns, missing values, a constant column, more coefficients
than groups, and collinear columns (judged by the condition number of the centred, scaled
design).  :func:`group_level_columns` takes them from a rows table where each group has one
value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .core.arrays import MAX_DESIGN_CONDITION, collinear_columns, standardized_design
from .core.metareg import design_matrix

__all__ = ["RESERVED_NAMES", "covariate_matrix", "group_level_columns"]

#: names the statistics use in to_xarray / to_dataframe (a covariate may not take them)
RESERVED_NAMES = ("mean", "se", "n", "sigma", "ss", "group")


def covariate_matrix(covariates: Any, labels: tuple) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(x, names)`` from a DataFrame / dict of group-level covariates, checked (see
    :meth:`HierData.with_covariates`)."""
    g = len(labels)
    if isinstance(covariates, pd.Series):
        covariates = covariates.to_frame()
    elif isinstance(covariates, dict):
        covariates = pd.DataFrame(covariates)
    if not isinstance(covariates, pd.DataFrame):
        raise TypeError("`covariates` must be a pandas DataFrame (one row per group, one "
                        f"column per covariate) or a dict of name -> values, got "
                        f"{type(covariates).__name__}.")
    df = covariates
    if df.shape[1] == 0:
        raise ValueError("`covariates` has no columns.")
    names = list(df.columns)
    bad = [c for c in names if not isinstance(c, str) or not c]
    if bad:
        raise TypeError(f"`covariates` column names must be non-empty strings, got {bad[:3]}.")
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise ValueError(f"`covariates` has duplicate columns {dup}.")
    clash = [c for c in names if c in RESERVED_NAMES]
    if clash:
        raise ValueError(f"`covariates` columns {clash} clash with the names of the data's own "
                         f"statistics {list(RESERVED_NAMES)}; rename them.")
    wanted = list(labels)
    index = list(df.index)
    if isinstance(df.index, pd.RangeIndex) and len(df) == g:
        if set(index) & set(wanted) and index != wanted:
            raise ValueError(
                f"`covariates` has a default index {index[0]}..{index[-1]} that overlaps the "
                f"integer group labels {wanted[:5]}{'...' if g > 5 else ''} in another order, "
                "so it is ambiguous whether rows match by label or by position: set the "
                "table's index to the group label of each row (e.g. table.index = "
                "data.groups when the rows are in group order).")
        # else rows in group order (by position; where the index equals the labels, the
        # two readings agree)
    elif df.index.is_unique and set(wanted) <= set(index) and len(index) == g:
        df = df.loc[wanted]
    else:
        missing = [lab for lab in wanted if lab not in set(index)][:5]
        raise ValueError(f"`covariates` must have one row per group: indexed by the group "
                         f"labels (missing: {missing}) or {g} rows in group order with a "
                         f"default index; got {len(df)} rows.")
    cols = []
    for c in names:
        col = df[c]
        if col.dtype.kind == "b":
            raise TypeError(f"`covariates` column {c!r} is boolean; pass it as numbers "
                            "(e.g. .astype(float)) so that its coding is explicit.")
        if col.dtype.kind not in "iuf":
            raise TypeError(f"`covariates` column {c!r} is not numeric (dtype {col.dtype}); "
                            "encode categories first, e.g. pd.get_dummies(df[" + repr(c)
                            + "], drop_first=True, dtype=float).")
        vals = col.to_numpy(dtype=float)
        if not np.all(np.isfinite(vals)):
            where = [lab for lab, v in zip(wanted, vals, strict=True) if not np.isfinite(v)]
            raise ValueError(f"`covariates` column {c!r} has missing or infinite values for "
                             f"group(s) {where[:5]}; impute or drop them first.")
        if np.ptp(vals) == 0:
            raise ValueError(f"`covariates` column {c!r} is constant ({vals[0]:g} for every "
                             "group): it cannot be told apart from the intercept; drop it.")
        cols.append(vals)
    x = np.column_stack(cols)
    p = x.shape[1] + 1
    if p >= g:
        raise ValueError(f"`covariates`: {p - 1} covariate(s) plus the intercept are {p} "
                         f"coefficients, which need more than {p} groups; there are {g}.")
    cond, cols = collinear_columns(standardized_design(design_matrix(g, x))[0])
    if cols:
        which = [names[j - 1] for j in cols if j > 0]
        raise ValueError(f"`covariates` columns {which} are collinear: one is (nearly) a "
                         "linear combination of the intercept and the others (condition "
                         f"number {cond:.3g} of the centred, scaled columns, above "
                         f"{MAX_DESIGN_CONDITION:.2g}); drop one of them.")
    return x, tuple(names)


def group_level_columns(df: pd.DataFrame, group: str, covariates: Any) -> pd.DataFrame:
    """One row per group (indexed by label) of the group-level ``covariates`` columns."""
    cols = [covariates] if isinstance(covariates, str) else list(covariates)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"`covariates`: column(s) {missing} are not in the DataFrame; "
                         f"available columns: {list(df.columns)}.")
    varies = df.groupby(group, sort=False)[cols].nunique(dropna=False) > 1
    for c in cols:
        if varies[c].any():
            where = varies.index[varies[c]][0]
            seen = df.loc[df[group] == where, c].unique()[:4].tolist()
            raise ValueError(f"`covariates`: column {c!r} varies within group {where!r} "
                             f"({seen}); a covariate has one value per group.")
    return df.drop_duplicates(subset=[group]).set_index(group)[cols]
