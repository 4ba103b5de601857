"""HierData: constructors, sufficient statistics, facades, and the bad-input table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hiermodel import HierData, eight_schools, eight_schools_summary
from hiermodel import core as hm_core


def _rows(seed: int = 1, sizes=(5, 9, 3, 12)):
    rng = np.random.default_rng(seed)
    labels = ["north", "south", "east", "west"]
    g = np.repeat(labels, sizes)
    y = rng.normal(10.0, 3.0, size=g.size) + np.repeat(rng.normal(0, 2, len(sizes)), sizes)
    perm = rng.permutation(g.size)
    return y[perm], g[perm]


def test_observations_equal_summary_exactly():
    y, g = _rows()
    obs = HierData.from_observations(y, g, sigma=3.0)
    labels = list(obs.groups)
    means = [y[g == lab].mean() for lab in labels]
    n = [int((g == lab).sum()) for lab in labels]
    summ = HierData.from_summary(means, n, 3.0, groups=labels)
    np.testing.assert_array_equal(obs.n, summ.n)
    np.testing.assert_allclose(obs.means, summ.means, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(obs.se, summ.se)
    assert obs.sigma_known and summ.sigma_known


def test_first_appearance_order_and_label_types():
    y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    d = HierData.from_observations(y, [12, 3, 12, 7, 3, 7], sigma=1.0)
    assert d.groups == (12, 3, 7)
    np.testing.assert_array_equal(d.n, [2, 2, 2])
    np.testing.assert_allclose(d.means, [2.0, 3.5, 5.0])
    # every label kind becomes a typed coordinate (nutpie and netCDF store them)
    for labels, kind in ((["a", "b"], "U"), ([1, 2], "i"), ([1.5, 2.5], "f")):
        assert HierData.from_estimates([1.0, 2.0], [1.0, 1.0], labels).to_xarray()[
            "group"].dtype.kind == kind


def test_odd_labels_and_magnitudes_fit_or_fail_clearly():
    """Float labels fit; values too large to square are refused before PyMC sees them."""
    from hiermodel import empirical_bayes

    d = HierData.from_estimates([1.0, 5.0, 3.0], [1.0, 2.0, 1.5], groups=[0.5, 1.5, 2.5])
    eb = empirical_bayes(d)
    assert np.isfinite(eb.mu) and list(eb.to_dataframe().index) == [0.5, 1.5, 2.5]
    big = HierData.from_estimates([1e140, 2e140, 3e140], [1e139] * 3)
    assert np.isfinite(empirical_bayes(big).mu)


def test_sufficient_statistics_and_pooled_sigma():
    y, g = _rows(2)
    d = HierData.from_observations(y, g)
    assert not d.sigma_known and d.sigma is None
    ss = np.array([((y[g == lab] - y[g == lab].mean()) ** 2).sum() for lab in d.groups])
    np.testing.assert_allclose(d.ss, ss, rtol=1e-12)
    s2 = ss.sum() / (y.size - d.n_groups)
    assert d.sigma_hat == pytest.approx(np.sqrt(s2), rel=1e-12)
    np.testing.assert_allclose(d.se, np.sqrt(s2 / d.n), rtol=1e-12)
    yy, codes = d.rows
    np.testing.assert_array_equal(yy, y)
    assert [d.groups[c] for c in codes] == list(g)


def test_groups_of_one_row_are_kept_when_sigma_is_unknown():
    """A group of one row adds nothing to sigma (ss 0 on 0 df) but keeps its mean; sigma_hat
    is the pooled sd of the other groups (np.var with ddof=1 per group, weighted by df); the
    Dask reduction gives the same statistics."""
    y = np.array([3.0, 1.0, 2.0, 4.5, 7.0, 5.0, 6.0, 10.0, -2.0])
    g = np.array(["a", "b", "b", "c", "d", "d", "d", "e", "e"])
    d = HierData.from_observations(y, g)
    assert d.groups == tuple("abcde")
    np.testing.assert_array_equal(d.n, [1, 2, 1, 3, 2])
    np.testing.assert_allclose(d.means, [3.0, 1.5, 4.5, 6.0, 4.0], rtol=1e-15)
    np.testing.assert_array_equal(d.ss[[0, 2]], [0.0, 0.0])
    multi = [y[g == lab] for lab in "bde"]
    s2 = (sum((v.size - 1) * np.var(v, ddof=1) for v in multi)
          / sum(v.size - 1 for v in multi))
    assert d.sigma_hat == pytest.approx(np.sqrt(s2), rel=1e-12)
    np.testing.assert_allclose(d.se, np.sqrt(s2 / d.n), rtol=1e-12)
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(pd.DataFrame({"v": y, "g": g}), npartitions=3)
    lazy = HierData.from_dataframe(frame, value="v", group="g")
    np.testing.assert_allclose(lazy.to_dataframe().loc[list("abcde")].to_numpy(),
                               d.to_dataframe().to_numpy(), rtol=1e-12, atol=1e-12)


def test_dataframe_matches_arrays():
    y, g = _rows(3)
    df = pd.DataFrame({"score": y, "school": g, "other": 1})
    a = HierData.from_dataframe(df, value="score", group="school")
    b = HierData.from_observations(y, g)
    assert a == b


def test_immutable():
    d = eight_schools()
    with pytest.raises(ValueError):
        d.means[0] = 1.0
    with pytest.raises(AttributeError):
        d.means = np.zeros(8)


def test_to_xarray_and_repr():
    d = eight_schools_summary()
    ds = d.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert list(ds["group"].values) == list("ABCDEFGH")
    np.testing.assert_allclose(ds["se"].values, 15 / np.sqrt(d.n))
    assert set(ds.data_vars) == {"mean", "se", "n", "sigma"}
    r = repr(d)
    assert r.startswith("HierData(summary, 8 groups, N=152, sigma known)")
    assert "28.4" in r


def test_datasets_values():
    e = eight_schools()
    np.testing.assert_array_equal(e.means, [28, 8, -3, 7, -1, 1, 18, 12])
    np.testing.assert_array_equal(e.se, [15, 10, 16, 11, 9, 11, 10, 18])
    assert e.n is None and e.source == "estimates"
    s = eight_schools_summary()
    np.testing.assert_array_equal(s.n, [28, 8, 23, 20, 12, 44, 6, 11])
    np.testing.assert_array_equal(s.means, [28.4, 7.9, -2.8, 6.8, -0.6, 0.6, 18.0, 12.2])
    assert s.groups == tuple("ABCDEFGH")


# ----------------------------------------------------------------------------- bad input
GOOD_M, GOOD_N = [1.0, 2.0, 3.0], [4, 5, 6]

BAD = [
    # (id, callable, exception, fragment of the message that names the argument)
    ("nan-means", lambda: HierData.from_summary([1, np.nan, 3], GOOD_N, 1.0), ValueError,
     "`means` contains NaN"),
    ("inf-y", lambda: HierData.from_observations([1, np.inf, 3, 4], list("aabb")), ValueError,
     "`y` contains NaN or infinite"),
    ("nan-se", lambda: HierData.from_estimates([1, 2], [1, np.nan]), ValueError, "`se`"),
    ("empty-y", lambda: HierData.from_observations([], []), ValueError, "`y` is empty"),
    ("empty-means", lambda: HierData.from_summary([], [], 1.0), ValueError, "`means` is empty"),
    ("single-group-summary", lambda: HierData.from_summary([1.0], [3], 1.0), ValueError,
     "`means`: a hierarchical model needs at least 2 groups"),
    ("single-group-estimates", lambda: HierData.from_estimates([1.0], [3.0]), ValueError,
     "`y`: a hierarchical model needs at least 2 groups"),
    ("single-group-rows", lambda: HierData.from_observations([1.0, 2.0], ["a", "a"]),
     ValueError, "`group`: a hierarchical model needs at least 2 groups"),
    ("mismatch-summary", lambda: HierData.from_summary(GOOD_M, [4, 5], 1.0), ValueError,
     "`means` has 3, `n` has 2"),
    ("mismatch-rows", lambda: HierData.from_observations([1.0, 2.0, 3.0], ["a", "b"]),
     ValueError, "`y` has 3 rows but `group` has 2"),
    ("mismatch-estimates", lambda: HierData.from_estimates([1.0, 2.0], [1.0]), ValueError,
     "`y` has 2, `se` has 1"),
    ("mismatch-labels", lambda: HierData.from_summary(GOOD_M, GOOD_N, 1.0, groups=["a"]),
     ValueError, "`groups` has 1 labels"),
    ("non-numeric-y", lambda: HierData.from_observations(["1", "x"], ["a", "b"]), TypeError,
     "`y` must contain only numbers; found non-numeric value 'x' at position 1"),
    ("non-numeric-means", lambda: HierData.from_summary([1.0, None, 2.0], GOOD_N, 1.0),
     TypeError, "`means` must contain only numbers"),
    ("bool-se", lambda: HierData.from_estimates([1.0, 2.0], [True, True]), TypeError,
     "`se` must be numeric"),
    ("string-sigma", lambda: HierData.from_summary(GOOD_M, GOOD_N, "15"), TypeError,
     "`sigma` must be numeric"),
    ("n-zero", lambda: HierData.from_summary(GOOD_M, [4, 0, 6], 1.0), ValueError,
     "`n` must be >= 1"),
    ("n-fraction", lambda: HierData.from_summary(GOOD_M, [4, 5.5, 6], 1.0), ValueError,
     "`n` must hold whole numbers"),
    ("sigma-zero", lambda: HierData.from_summary(GOOD_M, GOOD_N, 0.0), ValueError,
     "`sigma` must be > 0"),
    ("sigma-negative-rows", lambda: HierData.from_observations([1.0, 2.0], ["a", "b"],
                                                               sigma=-1.0), ValueError,
     "`sigma` must be > 0"),
    ("se-negative", lambda: HierData.from_estimates([1.0, 2.0], [1.0, -2.0]), ValueError,
     "`se` must be > 0"),
    ("duplicate-labels", lambda: HierData.from_summary(GOOD_M, GOOD_N, 1.0, groups=list("aba")),
     ValueError, "`groups` has duplicate labels ['a']"),
    ("all-singletons-unknown-sigma", lambda: HierData.from_observations([1.0, 2.0, 3.0],
                                                                        list("abc")),
     ValueError, "`y`: no group has two or more rows"),
    ("missing-value-column", lambda: HierData.from_dataframe(
        pd.DataFrame({"y": [1.0, 2.0], "g": ["a", "b"]}), value="score", group="g"),
     ValueError, "`value`: column 'score' is not in the DataFrame"),
    ("missing-group-column", lambda: HierData.from_dataframe(
        pd.DataFrame({"y": [1.0, 2.0], "g": ["a", "b"]}), value="y", group="school"),
     ValueError, "`group`: column 'school' is not in the DataFrame"),
    ("missing-label", lambda: HierData.from_observations([1.0, 2.0, 3.0], ["a", None, "b"],
                                                        sigma=1.0), ValueError,
     "`group` contains missing labels"),
    ("nan-in-value-column", lambda: HierData.from_dataframe(
        pd.DataFrame({"score": [1.0, np.nan, 2.0, 3.0], "g": list("aabb")}), value="score",
        group="g"), ValueError, "`value` (column 'score') contains NaN"),
    ("text-in-value-column", lambda: HierData.from_dataframe(
        pd.DataFrame({"score": ["1", "x", "2", "3"], "g": list("aabb")}), value="score",
        group="g"), TypeError, "`value` (column 'score') must contain only numbers"),
    ("one-row-per-group-frame", lambda: HierData.from_dataframe(
        pd.DataFrame({"score": [1.0, 2.0, 3.0], "g": list("abc")}), value="score",
        group="g"), ValueError, "`value` (column 'score'): no group has two or more rows"),
    ("not-a-frame", lambda: HierData.from_dataframe({"y": [1.0]}, value="y", group="g"),
     TypeError, "`df` must be a pandas"),
    ("2d-means", lambda: HierData.from_summary([[1.0, 2.0]], [1, 2], 1.0), ValueError,
     "`means` must be 1-dimensional"),
    # issue 14: crashes deep in nutpie / NaN results without a word
    ("none-label-estimates", lambda: HierData.from_estimates(
        [1.0, 2.0, 3.0], [1.0] * 3, groups=[None, "b", "c"]), TypeError,
     "`groups` labels must be hashable and not missing (None/NaN); got None"),
    ("mixed-label-types", lambda: HierData.from_estimates(
        [1.0, 5, 3], [1.0, 2, 1.5], groups=[1, "1", 2.5]), TypeError,
     "`groups` labels mix types ['float', 'int', 'str']"),
    ("mixed-label-rows", lambda: HierData.from_observations(
        [1.0, 2, 3, 4], [1, 1, "a", "a"]), TypeError, "`group` labels mix types"),
    ("tuple-labels", lambda: HierData.from_observations(
        [1.0, 2, 3, 4], [(0, "a"), (0, "a"), (1, "b"), (1, "b")]), TypeError,
     "`group` labels must be strings or numbers; got (0, 'a')"),
    ("empty-label", lambda: HierData.from_estimates([1.0, 2.0], [1.0, 1.0], groups=["", "b"]),
     ValueError, "`groups` has an empty label ''"),
    ("blank-label-rows", lambda: HierData.from_observations([1.0, 2, 3, 4], ["a", "a", " ", " "]),
     ValueError, "`group` has an empty label ' '"),
    ("huge-estimate", lambda: HierData.from_estimates([1e300, 1.0, 2.0], [1.0] * 3),
     ValueError, "`y` has values as large as 1e+300"),
    ("huge-se", lambda: HierData.from_estimates([1.0, 2.0, 3.0], [1e300, 1.0, 1.0]),
     ValueError, "`se` has values as large as 1e+300"),
    ("tiny-se", lambda: HierData.from_estimates([1.0, 2.0, 3.0], [1e-200, 1.0, 1.0]),
     ValueError, "`se` has values as small as 1e-200"),
    ("huge-rows", lambda: HierData.from_observations([1e300, 1.0, 2.0, 3.0], list("aabb")),
     ValueError, "`y` has values as large as 1e+300"),
    ("huge-eb-core", lambda: hm_core.eb_core(
        [1e300, 1.0, 2.0], [1.0] * 3), ValueError, "`means` has values as large as 1e+300"),
]


@pytest.mark.parametrize(("make", "exc", "fragment"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input(make, exc, fragment):
    with pytest.raises(exc) as info:
        make()
    assert fragment in str(info.value)


# --------------------------------------------------------------------------- covariates
def _bcg_data(**kw):
    from hiermodel.datasets import bcg_trials

    b = bcg_trials()
    labels = (b["author"] + " " + b["year"].astype(str)).tolist()
    return b, labels, HierData.from_estimates(b["yi"], np.sqrt(b["vi"]), groups=labels, **kw)


def test_covariates_by_label_in_any_order_or_by_position():
    b, labels, plain = _bcg_data()
    by_label = b.set_index(pd.Index(labels))[["ablat", "year"]].iloc[::-1]   # reversed rows
    d = plain.with_covariates(by_label)
    assert d.has_covariates and d.covariate_names == ("ablat", "year")
    np.testing.assert_array_equal(d.x, b[["ablat", "year"]].to_numpy(float))  # group order
    assert list(d.covariates.index) == labels and d.covariates.index.name == "group"
    assert d == plain.with_covariates(b[["ablat", "year"]])        # default index: positional
    assert d == plain.with_covariates({"ablat": b["ablat"].to_numpy(), "year": b["year"]})
    assert d != plain and not plain.has_covariates and plain.covariates is None
    assert "covariates ['ablat', 'year']" in repr(d) and "ablat" in d.to_dataframe()
    assert d.means is not None and not d.x.flags.writeable
    summary = HierData.from_summary([1.0, 2, 3, 4], [5, 6, 7, 8], 2.0,
                                    covariates={"dose": [1.0, 2, 4, 8]})
    assert summary.covariate_names == ("dose",)


@pytest.mark.parametrize(("covariates", "error", "match"), [
    ({"alloc": ["random"] * 13}, TypeError, "column 'alloc' is not numeric.*get_dummies"),
    ({"flag": [True, False] * 6 + [True]}, TypeError, "column 'flag' is boolean"),
    ({"ablat": [np.nan] + [1.0] * 12}, ValueError, "column 'ablat' has missing.*Aronson 1948"),
    ({"c": [3.0] * 13}, ValueError, "column 'c' is constant"),
    ({"a": np.arange(13.0), "b": 2 * np.arange(13.0) + 1}, ValueError,
     r"columns \[.a., .b.\] are collinear"),
    ({"se": np.arange(13.0)}, ValueError, "clash with the names"),
    ([1, 2, 3], TypeError, "must be a pandas DataFrame"),
    (pd.DataFrame({"a": np.arange(12.0)}), ValueError, "one row per group.*got 12 rows"),
    (pd.DataFrame({"a": np.arange(13.0)}, index=[f"x{i}" for i in range(13)]), ValueError,
     r"missing: \['Aronson 1948'"),
])
def test_bad_covariates_are_refused_naming_the_column(covariates, error, match):
    _, _, plain = _bcg_data()
    with pytest.raises(error, match=match):
        plain.with_covariates(covariates)


def test_more_coefficients_than_groups_are_refused():
    d = HierData.from_estimates([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="2 covariate.*3 coefficients, which need more than 3 "
                                         "groups; there are 3"):
        d.with_covariates({"a": [1.0, 2.0, 4.0], "b": [0.0, 1.0, 0.0]})


def test_functions_that_do_not_model_covariates_refuse_them():
    """What does not model covariates may not silently fit the model without them."""
    from hiermodel import empirical_bayes, pooling_table
    from hiermodel.model import pooling_model

    b, _, d = _bcg_data(covariates=_bcg_data()[0][["ablat"]])
    for call in (lambda: pooling_model(d, "no_pooling"), lambda: empirical_bayes(d),
                 lambda: pooling_table(d)):
        with pytest.raises(NotImplementedError,
                           match=r"covariates \['ablat'\].*does not take.*meta-regression"):
            call()


def test_group_level_covariates_from_the_rows_dataframe():
    y, g = _rows()
    level = {"north": 1.0, "south": 2.0, "east": 4.0, "west": 3.0}
    df = pd.DataFrame({"y": y, "g": g, "dose": [level[v] for v in g]})
    d = HierData.from_dataframe(df, value="y", group="g", sigma=3.0, covariates=["dose"])
    assert d.covariate_names == ("dose",)
    np.testing.assert_array_equal(d.x[:, 0], [level[lab] for lab in d.groups])
    df.loc[df.index[df["g"] == "east"][0], "dose"] = 9.0
    with pytest.raises(ValueError, match="column 'dose' varies within group 'east'"):
        HierData.from_dataframe(df, value="y", group="g", covariates="dose")
    with pytest.raises(ValueError, match=r"column\(s\) \['age'\] are not in the DataFrame"):
        HierData.from_dataframe(df, value="y", group="g", covariates=["age"])


def test_default_index_over_integer_labels_in_another_order_is_ambiguous():
    """CHANGELOG: a default index that overlaps integer group labels is refused; labels
    0..G-1 in order read the same by label and by position, so they are accepted."""
    shuffled = HierData.from_estimates([1.0, 2, 3, 4], [1.0] * 4, groups=[2, 0, 1, 3])
    with pytest.raises(ValueError, match=r"default index 0..3 that overlaps the integer group "
                                         r"labels \[2, 0, 1, 3\] in another order"):
        shuffled.with_covariates(pd.DataFrame({"a": [1.0, 2, 5, 3]}))
    by_label = shuffled.with_covariates(pd.DataFrame({"a": [1.0, 2, 5, 3]},
                                                     index=pd.Index([2, 0, 1, 3])))
    assert list(by_label.x[:, 0]) == [1.0, 2, 5, 3]
    ordered = HierData.from_estimates([1.0, 2, 3, 4], [1.0] * 4, groups=[0, 1, 2, 3])
    assert list(ordered.with_covariates({"a": [1.0, 2, 5, 3]}).x[:, 0]) == [1.0, 2, 5, 3]


def test_duplicate_labels_name_them_and_never_suggest_merging():
    with pytest.raises(ValueError, match=r"duplicate labels \['Pellegrini & Hicks'\]") as err:
        HierData.from_estimates([1.0, 2, 3], [1.0] * 3,
                                groups=["Pellegrini & Hicks", "Pellegrini & Hicks", "C"])
    assert "study id" in str(err.value)
    assert not any(w in str(err.value) for w in ("aggregate", "merge", "from_observations"))
