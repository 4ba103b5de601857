"""Markdown pieces of the report: tables through ``DataFrame.to_markdown`` (tabulate), each
with the definition of every column right under it."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..formatting import format_number

__all__ = ["markdown_table", "table_block", "interval_text"]


def _cell(v: object) -> str:
    return format_number(v).replace("|", "\\|")


def markdown_table(df: pd.DataFrame, index: str | None = None) -> str:
    """``df`` as a GitHub (pipe) markdown table, numbers by
    :func:`hiermodel.formatting.format_number`, the index as the first column (named
    ``index`` or ``df.index.name``); numeric columns right-aligned, the others left."""
    name = index or df.index.name
    if not name:
        raise ValueError("markdown_table: name the index (every column gets a definition).")
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]
    cells = pd.DataFrame({str(c): [_cell(v) for v in df[c]] for c in df.columns},
                         index=pd.Index([_cell(i) for i in df.index], name=str(name)))
    return cells.to_markdown(tablefmt="pipe", disable_numparse=True,
                             colalign=["left"] + ["right" if n else "left" for n in numeric])


def table_block(df: pd.DataFrame, defs: Mapping[str, str], index: str | None = None) -> str:
    """The table and, right under it, the definition of each of its columns."""
    name = index or df.index.name
    heads = [str(name)] + [str(c) for c in df.columns]
    missing = [h for h in heads if h not in defs]
    if missing:  # a programming error: every column shown must be defined
        raise KeyError(f"report: no definition for column(s) {missing}")
    return (markdown_table(df, name) + "\n\nColumns:\n\n"
            + "\n".join(f"- `{h}`: {defs[h]}" for h in heads))


def interval_text(lo: float, hi: float) -> str:
    """``[lo, hi]``, each end by :func:`~hiermodel.formatting.format_number`."""
    return f"[{format_number(lo)}, {format_number(hi)}]"
