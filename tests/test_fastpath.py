"""The compiled fast path (hiermodel.fastpath) against its definition, the PyMC model.

The density and gradient must equal the PyMC model's (``compile_logp`` / ``compile_dlogp``)
to 1e-10 at random unconstrained points, for every form -- the marginal form and the full
form with centering weights 1 (centered), 0 (non-centered) and in between ("auto") --
every data shape (intercept-only and 1-2 covariates; sigma known and unknown, with a group
of one row) and every prior family the fast path serves; ``fit`` must use it exactly there;
and its NUTS posterior must equal the exact grid posterior within Monte Carlo error.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

import hiermodel as hm
from hiermodel import fastpath
from hiermodel.model import build_model
from hiermodel.parameterization import centering
from hiermodel.prior_families import MU_FAMILIES, SIGMA_FAMILIES, TAU_FAMILIES
from hiermodel.priors import Priors

#: PyMC writes HalfCauchy's log(2) as ``pt.log(2)``, a float32 constant (an int8 input):
#: every Half-Cauchy term of its logp is off by this constant; the gradient is unaffected.
PYMC_HALFCAUCHY_OFFSET = float(np.log(np.float32(2))) - math.log(2)


def _bcg(columns):
    df = hm.datasets.bcg_trials().set_index("trial")
    return hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), groups=df.index,
                                      covariates=df[columns] if columns else None)


def _rows(sizes, seed=4):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    y = 3.0 + rng.normal(0, 2, g.size) + np.repeat(rng.normal(0, 1.5, len(sizes)), sizes)
    return hm.HierData.from_observations(y, g)


def _rows_with_covariate():
    data = _rows([4, 1, 6, 3, 5, 2], seed=8)
    return data.with_covariates({"x": [0.5, 1.0, -2.0, 3.0, 0.0, 1.5]})


DATASETS = {
    "eight_schools": hm.eight_schools,
    "rows_sigma_unknown": lambda: _rows([5, 1, 7, 3, 6]),    # g1 has one row: no ss term
    "bcg_ablat": lambda: _bcg(["ablat"]),
    "bcg_ablat_year": lambda: _bcg(["ablat", "year"]),
    "rows_sigma_unknown_covariate": _rows_with_covariate,
}
#: every family of each prior in hiermodel.prior_families' tables at least once per dataset
#: (the terms add, so pairs need not all be crossed)
_FAMILIES = (MU_FAMILIES, tuple(TAU_FAMILIES), tuple(SIGMA_FAMILIES))
PRIORS = {
    f"{mu}-{tau}-{sigma}": dict(mu=mu, tau=tau, sigma=sigma)
    for mu, tau, sigma in (tuple(f[i % len(f)] for f in _FAMILIES)
                           for i in range(max(map(len, _FAMILIES))))
}


@pytest.mark.parametrize("priors", PRIORS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_density_and_gradient_equal_the_pymc_model(dataset, priors):
    data = DATASETS[dataset]()
    pri = Priors.check(hm.Priors(**PRIORS[priors]), data=data)
    assert fastpath.covers(data, pri, "marginal")
    model = build_model(data, "marginal", pri).model
    names = fastpath.unconstrained_names(data, pri)
    assert [v.name for v in model.value_vars] == names
    fast = dict(mode="FAST_COMPILE")        # PyTensor's Python ops: no C compile per case
    logp, dlogp = model.compile_logp(**fast), model.compile_dlogp(**fast)
    offset = PYMC_HALFCAUCHY_OFFSET * ((pri.tau == "halfcauchy")
                                       + (not data.sigma_known and pri.sigma == "halfcauchy"))
    rng = np.random.default_rng(zlib.crc32(f"{dataset}{priors}".encode()))
    centre = np.where(np.array(names) == "mu", np.mean(data.means), 0.0)
    for _ in range(12):
        x = centre + rng.normal(0, 2.0, len(names))
        point = dict(zip(names, x, strict=True))
        lp, grad = fastpath.log_density(x, data, pri)
        expected = float(logp(point)) - offset
        assert lp == pytest.approx(expected, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(grad, dlogp(point), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dataset", DATASETS)
def test_full_form_density_and_gradient_equal_the_pymc_model(dataset):
    """The full form (theta sampled) at centering weights 1, 0, and a spread in between:
    one PyMC model per dataset, its weights swapped in with ``pm.set_data`` (``c`` is a
    ``pm.Data`` node); each dataset with one prior combination, in turn (the prior terms
    are the marginal form's, tested above with every combination)."""
    import pymc as pm

    data = DATASETS[dataset]()
    combination = list(PRIORS)[list(DATASETS).index(dataset) % len(PRIORS)]
    pri = Priors.check(hm.Priors(**PRIORS[combination]), data=data)
    g = data.n_groups
    weights = {"centered": np.ones(g), "noncentered": np.zeros(g),
               "spread": np.linspace(0.05, 0.95, g), "auto": centering(data, "auto")[1]}
    model = build_model(data, weights["spread"], pri).model
    fast = dict(mode="FAST_COMPILE")
    logp, dlogp = model.compile_logp(**fast), model.compile_dlogp(**fast)
    offset = PYMC_HALFCAUCHY_OFFSET * ((pri.tau == "halfcauchy")
                                       + (not data.sigma_known and pri.sigma == "halfcauchy"))
    rng = np.random.default_rng(zlib.crc32(dataset.encode()))
    for form, c in weights.items():
        assert fastpath.covers(data, pri, "custom" if form == "spread" else form)
        names = fastpath.unconstrained_names(data, pri, c)
        assert [v.name for v in model.value_vars] == names
        pm.set_data({"c": c}, model=model)
        shapes = [model.initial_point()[name].shape for name in names]
        for _ in range(6):
            point = {name: (np.mean(data.means) if name == "mu" else 0.0)
                     + rng.normal(0, 1.5, shape)
                     for name, shape in zip(names, shapes, strict=True)}
            x = np.concatenate([np.ravel(point[name]) for name in names])
            lp, grad = fastpath.log_density(x, data, pri, c)
            assert lp == pytest.approx(float(logp(point)) - offset, rel=1e-10, abs=1e-10), form
            np.testing.assert_allclose(grad, dlogp(point), rtol=1e-10, atol=1e-10,
                                       err_msg=form)


def test_covers_every_form_with_a_finite_density():
    data = hm.eight_schools()
    pri = Priors.check(None, data=data)
    for form in ("marginal", "centered", "noncentered", "auto", "custom"):
        assert fastpath.covers(data, pri, form)
    assert not fastpath.covers(data, pri, "something else")
    # a group of two identical rows: ss = 0 with n = 2, where the PyMC graph's Gamma term
    # is -inf; the fast path leaves such data to it
    tied = hm.HierData.from_observations([1.0, 1.0, 2.0, 3.5, 0.5], list("aabbb"))
    for form in ("marginal", "noncentered"):
        assert not fastpath.covers(tied, Priors.check(None, data=tied), form)


def test_fit_uses_the_fast_path_exactly_where_covered(es_fit, seed_fits):
    assert es_fit.posterior.attrs["compiled_model"] == "hiermodel.fastpath"
    for form in ("centered", "noncentered"):
        assert seed_fits[form].posterior.attrs["compiled_model"] == "hiermodel.fastpath"
    kw = dict(draws=100, tune=100, chains=1, seed=2, check=False, log_likelihood=False)
    via_pymc = hm.fit(hm.eight_schools(), sampler="pymc", **kw)
    assert via_pymc.posterior.attrs["compiled_model"] == "pymc"
    built = hm.fit(build_model(hm.eight_schools(), "marginal"), **kw)
    assert built.posterior.attrs["compiled_model"] == "pymc"    # a model is sampled as is


def test_fast_path_fit_has_the_layout_of_a_pymc_path_fit(es_fit, seed_fits):
    """The same groups, sampler statistics, and (full form) posterior variables and dims as
    a fit of the PyMC model by the same nutpie (the marginal form's variables against a
    stored fit: test_io)."""
    pymc_path = hm.fit(build_model(hm.eight_schools(), "noncentered"), draws=20, tune=20,
                       chains=1, seed=1, check=False, log_likelihood=True)
    assert pymc_path.posterior.attrs["compiled_model"] == "pymc"
    full = seed_fits["noncentered"]
    for fast in (es_fit, full):
        assert sorted(hm.stack.groups(fast)) == sorted(hm.stack.groups(pymc_path))
        stats = hm.stack.group(fast, "sample_stats")
        assert set(stats.data_vars) == set(hm.stack.group(pymc_path, "sample_stats").data_vars)
        assert stats["diverging"].dtype == bool
    assert set(es_fit.posterior.data_vars) == {"mu", "tau_log__", "tau", "theta"}
    def layout(ds):   # the sampler's own unconstrained copies (tau_log__) come and go
        return {v: ds[v].dims for v in ds.data_vars if not v.endswith("__")}

    assert layout(full.posterior) == layout(pymc_path.posterior)
    np.testing.assert_array_equal(full.posterior["group"], pymc_path.posterior["group"])


def test_same_seed_same_draws_and_another_seed_others():
    kw = dict(draws=300, tune=300, chains=2, check=False)
    a = hm.fit(hm.eight_schools(), seed=31, **kw)
    b = hm.fit(hm.eight_schools(), seed=31, **kw)
    c = hm.fit(hm.eight_schools(), seed=32, **kw)
    for v in ("mu", "tau", "theta"):
        np.testing.assert_array_equal(a.posterior[v].values, b.posterior[v].values)
    assert not np.array_equal(a.posterior["tau"].values, c.posterior["tau"].values)


EXACT_CASES = {   # (data, parameterization)
    "eight_schools": (hm.eight_schools, "marginal"),
    "rows_sigma_unknown": (lambda: _rows([5, 1, 7, 3, 6]), "marginal"),
    "bcg_ablat": (lambda: _bcg(["ablat"]), "marginal"),
    "eight_schools-noncentered": (hm.eight_schools, "noncentered"),
    "rows_sigma_unknown-noncentered": (lambda: _rows([5, 1, 7, 3, 6]), "noncentered"),
    "bcg_ablat-auto": (lambda: _bcg(["ablat"]), "auto"),
}


@pytest.mark.parametrize("case", EXACT_CASES)
def test_fast_path_posterior_equals_the_exact_posterior(case):
    """Posterior means of the fast path's NUTS draws within 4 MCSE of the exact grid
    posterior's (BDA3 5.4; hm.exact_posterior), for every form it serves."""
    make, form = EXACT_CASES[case]
    data = make()
    idata = hm.fit(data, parameterization=form, seed=2026, draws=1000, tune=1000, chains=4)
    assert idata.posterior.attrs["compiled_model"] == "hiermodel.fastpath"
    assert int(idata.sample_stats["diverging"].sum()) == 0
    exact = hm.exact_posterior(data)
    for name in [v for v in ("mu", "tau", "sigma", "beta") if v in exact.mean]:
        draws = idata.posterior[name].transpose("chain", "draw", ...).values
        draws = draws.reshape(draws.shape[:2] + (-1,))
        truth = np.atleast_1d(exact.mean[name].values)
        for j in range(draws.shape[-1]):
            x = draws[..., j]
            mcse = x.std() / np.sqrt(hm.stack.ess_array(x))
            assert abs(x.mean() - truth[j]) < 4 * mcse, (name, j, x.mean(), truth[j], mcse)


CACHE_PROBE = """
import sys, warnings
warnings.simplefilter("ignore")      # 100 draws: the diagnostics warn about the ESS
import hiermodel as hm
idata = hm.fit(hm.eight_schools(), seed=5, draws=100, tune=100, chains=1, progressbar=True)
from hiermodel import densities as kernels
print(idata.posterior.attrs["compiled_model"], kernels.logp_cfunc.cache_hits,
      kernels.expand_cfunc.cache_hits, float(idata.posterior["tau"].sum()),
      *sorted(m for m in ("pymc", "pytensor") if m in sys.modules))
"""


@pytest.mark.slow
def test_compiled_density_outlives_the_process(tmp_path):
    """The first process compiles the density into numba's cache; the next one loads it
    (a cache hit, no compile) and gives the same draws.  Both print the loading line, and
    neither imports PyMC or PyTensor (most of a cold start's import time): the fit, its
    result and its checks on the fast path need neither."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "CI": "true"}
    outs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", CACHE_PROBE], capture_output=True,
                             text=True, timeout=600, env=env)
        assert res.returncode == 0, res.stderr[-2000:]
        assert "hiermodel: loading the compiled model" in res.stderr
        outs.append(res.stdout.split())
    assert outs[0][:3] == ["hiermodel.fastpath", "0", "0"]      # compiled, and cached
    assert outs[1][:3] == ["hiermodel.fastpath", "1", "1"]      # loaded from the cache
    assert outs[0][3] == outs[1][3]
    assert outs[0][4:] == outs[1][4:] == []          # no pymc, no pytensor loaded
    assert any(tmp_path.rglob("*.nbi"))
