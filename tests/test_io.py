"""save / load: exact netCDF round trips, atomic writes, errors that name the path."""

from __future__ import annotations

import numpy as np
import pytest

from hiermodel import eight_schools, stack
from hiermodel.io import load, save
from hiermodel.sampling import fit


def test_netcdf_round_trip_is_exact(es_fit, tmp_path):
    path = save(es_fit, tmp_path / "fit.nc")
    back = load(path)
    assert set(stack.groups(back)) == set(stack.groups(es_fit))
    for name in stack.groups(es_fit):
        a, b = getattr(es_fit, name), getattr(back, name)
        assert a.identical(b), name
    np.testing.assert_array_equal(back.posterior.attrs["centering"],
                                  es_fit.posterior.attrs["centering"])


def test_load_names_the_path_of_a_file_that_is_not_netcdf(tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netCDF file")
    with pytest.raises(ValueError, match="is not a netCDF file written by hiermodel.save"):
        load(junk)
    with pytest.raises(ValueError, match="is a folder"):
        load(tmp_path)


def test_save_is_whole_or_nothing_and_names_the_path(tmp_path, es_fit):
    path = save(es_fit, tmp_path / "a" / "fit.nc")
    assert sorted(p.name for p in path.parent.iterdir()) == ["fit.nc"]   # no temporary left
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="cannot write there"):
        save(es_fit, tmp_path / "file" / "fit.nc")
    with pytest.raises(ValueError, match="is a folder"):
        save(es_fit, tmp_path)
    with pytest.raises(TypeError, match="`idata` must be an arviz.InferenceData"):
        save({"posterior": 1}, tmp_path / "x.nc")


def test_the_largest_seed_round_trips(tmp_path):
    idata = fit(eight_schools(), seed=2**63 - 1, draws=50, tune=50, chains=1, check=False,
                progressbar=False)
    assert load(save(idata, tmp_path / "s.nc")).posterior.attrs["seed"] == 2**63 - 1


def test_stored_test_fits_have_the_layout_fit_gives_today(es_fit, stored_fits):
    """The fits under tests/data stand in for sampling in the comparison and figure tests:
    they must have today's groups, variables, dims and attrs (else rerun
    ``python tests/data/make_fits.py``), and, for the same data, seed and settings, the same
    posterior as a fresh fit up to Monte Carlo error."""
    import arviz as az
    import numpy as np

    assert set(stored_fits) == {"eight_schools_marginal", "summary_marginal",
                                "eight_schools_centered", "eight_schools_noncentered"}
    stored = stored_fits["eight_schools_marginal"]
    assert set(stack.groups(stored)) == set(stack.groups(es_fit))
    def layout(ds):   # the sampler's own unconstrained copies (tau_log__) come and go
        return {v: ds[v].dims for v in ds.data_vars if not v.endswith("__")}

    for name in ("posterior", "observed_data", "constant_data", "log_likelihood"):
        assert layout(stack.group(es_fit, name)) == layout(stack.group(stored, name)), name
    assert "diverging" in stack.group(stored, "sample_stats")
    # hiermodel's own record of the fit (ArviZ and the samplers add their own, by version)
    from hiermodel import Priors

    ours = {"hiermodel_version", "sampler", "seed", "draws", "tune", "chains",
            "target_accept", "parameterization", "centering", *Priors().to_attrs()}
    assert ours <= set(es_fit.posterior.attrs) and ours <= set(stored.posterior.attrs)
    assert (Priors.from_attrs(stored.posterior.attrs)
            == Priors.from_attrs(es_fit.posterior.attrs))
    for var in ("mu", "tau"):
        se = np.hypot(az.mcse(es_fit, var_names=[var])[var], az.mcse(stored, var_names=[var])[var])
        diff = es_fit.posterior[var].mean() - stored.posterior[var].mean()
        assert abs(float(diff)) < 4 * float(se), var


def test_a_fit_saved_on_pymc6_loads_on_this_stack(es_fit):
    """``tests/data/pymc6/eight_schools_marginal.nc`` was written by ``hm.save`` on Python 3.13
    with PyMC 6 / ArviZ 1 (an ``xarray.DataTree``; ``make_fits.py`` says how).  On either stack
    it loads with the groups, variables and dims ``fit`` gives here, hiermodel's record of the
    fit, and a posterior that matches the exact posterior within 4 MCSE; the comparison layer
    reads it."""
    from pathlib import Path

    import arviz as az

    from hiermodel import Priors, compare, exact_posterior

    path = Path(__file__).parent / "data" / "pymc6" / "eight_schools_marginal.nc"
    written = load(path)
    assert stack.is_result(written)
    assert set(stack.groups(written)) == set(stack.groups(es_fit))

    def layout(ds):   # the sampler's own unconstrained copies (tau_log__) come and go
        return {v: ds[v].dims for v in ds.data_vars if not v.endswith("__")}

    for name in ("posterior", "observed_data", "constant_data", "log_likelihood"):
        assert layout(stack.group(written, name)) == layout(stack.group(es_fit, name)), name
    attrs = written.posterior.attrs
    assert attrs["hiermodel_version"] and attrs["sampler"] == "nutpie"
    assert (attrs["seed"], attrs["draws"], attrs["chains"]) == (6, 500, 4)
    assert str(attrs["parameterization"]) == "marginal"
    priors = Priors.from_attrs(attrs)
    assert priors == Priors.from_attrs(es_fit.posterior.attrs)   # same data, same default
    exact = exact_posterior(eight_schools(), priors)
    for var in ("mu", "tau", "theta"):
        mcse = np.asarray(az.mcse(written, var_names=[var])[var])
        diff = np.asarray(written.posterior[var].mean(("chain", "draw"))
                          - exact.mean[var])
        assert np.all(np.abs(diff) < 4 * mcse), (var, diff, mcse)
    table = compare(written)
    assert list(table.index) == list(es_fit.posterior["theta"].coords["group"].values)
