r"""A comparison in words: :func:`summarize` -- who moved, how far and why (BDA3 section 5.5;
Morris 1983 for the empirical-Bayes shrinkage)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validate import check_method, check_positive_int
from ..data import VALUE_SYMBOLS

__all__ = ["summarize"]

_NEEDED = ("se", "no_pooling", "mean", "shrinkage")


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def _fmt_pair(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` formatted with enough digits to tell them apart (when they differ)."""
    for digits in (3, 4, 5, 6, 8):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb or a == b:
            return sa, sb
    return repr(float(a)), repr(float(b))


def summarize(comparison: pd.DataFrame, top: int = 3, *, symbol: str = "ybar") -> str:
    r"""A few sentences on who moved, how far, and why.

    Each group's move from no pooling to the full-Bayes posterior mean is about
    ``E[1 - w_i | y] x |ybar_i - mu|``: the shrinkage factor (large when ``se_i`` is large,
    i.e. ``n_i`` small, relative to ``tau``) times the group's distance from the grand mean.
    Every sentence is worked out from the numbers it quotes (directions, "more"/"less",
    rankings), so it stays true for any data.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The result of :func:`compare`.
    top : int, default 3
        How many of the groups that moved most to name.
    symbol : {"ybar", "y"}, default "ybar"
        The name of the groups' own values in the text: ``ybar_i`` for group means, ``y_i``
        for estimates (:attr:`hiermodel.HierData.value_symbol`).

    Returns
    -------
    str
        Plain text, one point per line.
    """
    if not isinstance(comparison, pd.DataFrame):
        raise TypeError(f"`comparison` must be the DataFrame from compare(), got "
                        f"{type(comparison).__name__}.")
    missing = [c for c in _NEEDED if c not in comparison]
    if missing:
        raise ValueError(f"`comparison` lacks column(s) {missing}; pass the result of compare().")
    top = check_positive_int(top, "top")
    symbol = check_method(symbol, VALUE_SYMBOLS, "symbol")
    t, a = comparison, comparison.attrs
    mu = float(a.get("mu_mean", np.nan))
    # with covariates each group shrinks toward its own fitted value, not the grand mean
    target = t["fitted_mean"] if "fitted_mean" in t else mu
    move = (t["mean"] - t["no_pooling"]).abs().sort_values(ascending=False)
    dist = (t["no_pooling"] - target).abs()
    size = "n" if "n" in t else "se"
    lines = [_pull_sentence(t, mu, symbol),
             "Moved most: " + "; ".join(_move_text(t, g, dist, size)
                                        for g in move.index[:top]) + "."]
    lines.append(_least_sentence(t, move.index[-1], dist))
    lines.append(_size_sentence(t, size))
    lines += _eb_sentences(t, symbol)
    return "\n".join(lines)


def _pull_sentence(t: pd.DataFrame, mu: float, symbol: str) -> str:
    """Which groups' posterior means moved from ``ybar_i`` toward the grand mean."""
    step = (t["mean"] - t["no_pooling"]).to_numpy()
    if "fitted_mean" in t:
        gap = (t["fitted_mean"] - t["no_pooling"]).to_numpy()
        names = ", ".join(t.attrs.get("covariates", []))
        head = (f"its fitted value on the regression line (posterior mean of mu + (x_i - "
                f"xbar)' beta, covariates {names}): shrinkage toward the regression, each "
                "group borrowing strength from the others")
    else:
        gap = (mu - t["no_pooling"]).to_numpy()
        head = (f"the grand mean (posterior mean of mu = {_fmt(mu)}): shrinkage toward the "
                "grand mean, each group borrowing strength from the others")
    toward = step * gap > 0
    if toward.all():
        return (f"Partial pooling pulls every group's estimate from its own mean {symbol}_i "
                f"toward {head}.")
    others = [str(g) for g, ok in zip(t.index, toward, strict=True) if not ok]
    far = float(np.abs(gap[~toward]).max())
    return (f"Partial pooling pulls {int(toward.sum())} of {len(t)} groups' estimates from "
            f"their own means {symbol}_i toward {head}; {', '.join(others)} did not move "
            f"toward it ({symbol}_i at most {_fmt(far)} from it).")


def _least_sentence(t: pd.DataFrame, g: Any, dist: pd.Series) -> str:
    head = f"Moved least: {g} ({_fmt(t.at[g, 'no_pooling'])} -> {_fmt(t.at[g, 'mean'])}), "
    shrink, med = t.at[g, "shrinkage"], t["shrinkage"].median()
    where = "its fitted value" if "fitted_mean" in t else "the grand mean"
    if dist[g] <= dist.median():
        return head + f"already near {where} ({_fmt(dist[g])} from it)."
    if shrink <= med:
        return head + (f"measured precisely enough to keep much of its own estimate "
                       f"(se = {_fmt(t.at[g, 'se'])}, shrinkage E[1-w] = {shrink:.2f}, at or "
                       f"below the median {med:.2f}).")
    return head + (f"{_fmt(dist[g])} from {where} with shrinkage E[1-w] = "
                   f"{shrink:.2f}.")


def _target_word(t: pd.DataFrame) -> str:
    return "its fitted value" if "fitted_mean" in t else "the mean"


def _move_text(t: pd.DataFrame, g: Any, dist: pd.Series, size: str) -> str:
    why = []
    if dist[g] >= dist.quantile(0.75):
        why.append(f"extreme, {_fmt(dist[g])} from {_target_word(t)}")
    if size == "n" and t.at[g, "n"] <= t["n"].quantile(0.25):
        why.append(f"small n = {int(t.at[g, 'n'])}")
    elif t.at[g, "se"] >= t["se"].quantile(0.75):
        why.append(f"large se = {_fmt(t.at[g, 'se'])}")
    reason = " and ".join(why) if why else f"{_fmt(dist[g])} from {_target_word(t)}"
    return (f"{g} {_fmt(t.at[g, 'no_pooling'])} -> {_fmt(t.at[g, 'mean'])} ({reason}; "
            f"shrinkage E[1-w] = {t.at[g, 'shrinkage']:.2f})")


def _size_sentence(t: pd.DataFrame, size: str) -> str:
    from scipy import stats

    lo, hi = t["shrinkage"].idxmin(), t["shrinkage"].idxmax()
    unit = (lambda g: f"n = {int(t.at[g, 'n'])}") if size == "n" else (
        lambda g: f"se = {_fmt(t.at[g, 'se'])}")
    corr = stats.spearmanr(t["se"], t["shrinkage"])[0] if t["se"].nunique() > 1 else np.nan
    head = ("Noisier groups (larger se_i, smaller n_i) shrink more" if corr > 0.5 else
            "Shrinkage varies with the groups' precision")
    return (f"{head}: E[1 - w_i | y] ranges from {t.at[lo, 'shrinkage']:.2f} ({lo}, "
            f"{unit(lo)}) to {t.at[hi, 'shrinkage']:.2f} ({hi}, {unit(hi)}).")


def _mean_shrinkage(tau: float, se: np.ndarray) -> float:
    """Mean over groups of ``1 - w_i = se_i^2 / (tau^2 + se_i^2)``."""
    return float(np.mean(se**2 / (tau**2 + se**2)))


def _eb_sentences(t: pd.DataFrame, symbol: str) -> list[str]:
    a = t.attrs
    out = []
    method = str(a.get("eb_method", "reml")).upper()
    if "eb_tau" in a:
        lo, hi = t["shrinkage"].min(), t["shrinkage"].max()
        if a["eb_tau"] == 0:
            span = f"E[1 - w_i | y] from {lo:.2f} to {hi:.2f}"
            if lo >= 1:
                full = "and pools completely too"
            elif lo >= 0.5:
                full = f"and so pools strongly but not completely ({span})"
            else:
                full = f"and so pools only partly ({span})"
            pooled = ("its fitted value x_i' beta_hat (column 'eb_fitted')" if "covariates" in a
                      else f"mu_hat = {_fmt(a['eb_mu'])}")
            out.append(f"Empirical Bayes ({method}) estimates tau = 0 and pools completely "
                       f"(every theta_hat_i = {pooled}); the full posterior "
                       f"averages over tau (posterior mean {_fmt(a['tau_mean'])}) {full}.")
        else:
            at = " at the average covariates" if "covariates" in a else ""
            out.append(f"Empirical Bayes ({method}: tau_hat = {_fmt(a['eb_tau'])}, mu_hat = "
                       f"{_fmt(a['eb_mu'])}{at}) plugs in one tau; the full posterior "
                       f"averages over tau (posterior mean {_fmt(a['tau_mean'])}).")
    if "sd_of_means_tau" in a:
        sd_of_means_tau = float(a["sd_of_means_tau"])
        text = (f"The sd-of-means plug-in takes tau_hat = sd({symbol}) = "
                f"{_fmt(sd_of_means_tau)}, "
                "the spread of the observed means including their sampling noise")
        if "eb_tau" in a:
            eb_tau = float(a["eb_tau"])
            s_plugin, s_eb = _fmt_pair(sd_of_means_tau, eb_tau)
            se = t["se"].to_numpy(float)
            b_plugin, b_eb = _fmt_pair(_mean_shrinkage(sd_of_means_tau, se),
                                     _mean_shrinkage(eb_tau, se))
            if sd_of_means_tau == eb_tau:
                text += (f", equal to the {method} tau_hat, so it shrinks as much as EB "
                         "(column 'sd_of_means' vs 'eb').")
            else:
                above = sd_of_means_tau > eb_tau
                text += (f"; that is {'above' if above else 'below'} the {method} tau_hat "
                         f"({s_plugin} vs {s_eb}), so its weights w_i = tau_hat^2 / (tau_hat^2 + "
                         f"se_i^2) are {'larger' if above else 'smaller'} and it shrinks "
                         f"{'less' if above else 'more'} than EB (mean 1 - w_i {b_plugin} vs "
                         f"{b_eb}; column 'sd_of_means' vs 'eb').")
        else:
            text += " (column 'sd_of_means')."
        out.append(text)
    return out
