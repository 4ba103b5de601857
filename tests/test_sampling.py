"""fit: InferenceData groups, determinism, warnings, backends, the compiled-model cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from scipy import stats

from hiermodel import HierData, eight_schools, eight_schools_summary, stack
from hiermodel.diagnostics import convergence_table
from hiermodel.exceptions import SamplingWarning
from hiermodel.model import build_model
from hiermodel.sampling import (
    clear_model_cache,
    fit,
    model_cache_size,
    progress_enabled,
    running_in_ci,
)


def test_groups_coords_and_attrs(es_fit):
    idata = es_fit
    assert {"posterior", "sample_stats", "observed_data", "constant_data",
            "log_likelihood"} <= set(stack.groups(idata))
    post = idata.posterior
    assert list(post["group"].values) == list("ABCDEFGH")
    assert post["theta"].dims == ("chain", "draw", "group")
    assert post.sizes["chain"] == 4 and post.sizes["draw"] == 1000
    np.testing.assert_array_equal(idata.observed_data["y"], eight_schools().means)
    np.testing.assert_array_equal(idata.constant_data["se"], eight_schools().se)
    for key in ("hiermodel_version", "parameterization", "priors", "seed", "sampler",
                "centering", "target_accept"):
        assert key in post.attrs
    assert post.attrs["seed"] == 20261125 and post.attrs["sampler"] == "nutpie"


def test_log_likelihood_is_one_normal_term_per_group(es_fit):
    ll = es_fit.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "group")
    d = eight_schools()
    theta = es_fit.posterior["theta"].values
    np.testing.assert_allclose(ll.values, stats.norm.logpdf(d.means, theta, d.se), rtol=1e-10)


def test_log_likelihood_unknown_sigma_sums_both_terms(rows_unknown_sigma):
    d = rows_unknown_sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        idata = fit(d, draws=100, tune=200, chains=2, seed=1)
    post = idata.posterior
    th, sg = post["theta"].values, post["sigma"].values[..., None]
    expect = (stats.norm.logpdf(d.means, th, sg / np.sqrt(d.n))
              + stats.gamma.logpdf(d.ss, (d.n - 1) / 2, scale=2 * sg**2))
    np.testing.assert_allclose(idata.log_likelihood["y"].values, expect, rtol=1e-9)
    assert "sigma" in convergence_table(idata).index


@pytest.mark.parametrize("parameterization", ["marginal", "noncentered", "centered", "auto"])
def test_groups_of_one_row_fit_in_every_parameterization(parameterization):
    """Raw rows with two groups of one row, sigma unknown (4 groups, the shape of the
    rows_unknown_sigma fits, so the compiled models are shared): sigma's posterior matches the
    exact (tau, sigma) grid within 4 MCSE and holds the truth (1.0); the stored
    log-likelihood of a group of one row is the normal term alone (ss adds nothing) and, in
    the forms that sample theta, equals PyMC's own pointwise logp of the model's y and ss."""
    import arviz as az
    import pymc as pm

    from hiermodel.shrinkage import exact_posterior

    rng = np.random.default_rng(7)
    g = np.repeat(list("abcd"), [1, 9, 1, 12])
    y = np.repeat(rng.normal(5.0, 1.0, 4), [1, 9, 1, 12]) + rng.normal(0.0, 1.0, g.size)
    d = HierData.from_observations(y, g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        idata = fit(d, parameterization=parameterization, draws=300, chains=2, seed=5,
                    target_accept=0.95)
    exact = exact_posterior(d)
    mcse = float(az.mcse(idata, var_names=["sigma"])["sigma"])
    assert abs(float(idata.posterior["sigma"].mean()) - float(exact.mean["sigma"])) < 4 * mcse
    lo, hi = exact.quantile([0.001, 0.999])["sigma"].values
    assert lo < 1.0 < hi
    ll = idata.log_likelihood["y"]
    post = idata.posterior
    single = ll.sel(group=["a", "c"]).values
    se = post["sigma"].values[..., None] / np.sqrt(d.n[[0, 2]])
    theta = post["theta"].sel(group=["a", "c"]).values
    np.testing.assert_allclose(single, stats.norm.logpdf(d.means[[0, 2]], theta, se),
                               rtol=1e-12)
    if parameterization == "marginal":
        return
    model = build_model(d, parameterization).model
    part = idata.sel(draw=slice(0, 50))
    own = pm.compute_log_likelihood(part, model=model, extend_inferencedata=False,
                                    progressbar=False)
    total = (own["y"] + own["ss"]).transpose(*ll.dims).values
    np.testing.assert_allclose(ll.sel(draw=slice(0, 50)).values, total, rtol=1e-9)
    np.testing.assert_array_equal(own["ss"].sel(group=["a", "c"]).values, 0.0)


DETERMINISM = textwrap.dedent("""
    import json, hashlib, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    from hiermodel import eight_schools
    from hiermodel.sampling import fit
    out = {}
    for sampler, cores in (("nutpie", 2), ("pymc", 1), ("numpyro", 2)):
        idata = fit(eight_schools(), sampler=sampler, seed=123, draws=200, tune=200,
                    cores=cores, log_likelihood=False, check=False)
        blob = b"".join(np.ascontiguousarray(idata.posterior[v].values).tobytes()
                        for v in ("mu", "tau", "theta"))
        out[f"{sampler}-{cores}"] = hashlib.sha256(blob).hexdigest()
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_same_seed_bit_identical_across_fresh_processes():
    runs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", DETERMINISM], capture_output=True,
                             text=True, timeout=600, env={"CI": "true", **_env()})
        assert res.returncode == 0, res.stderr[-2000:]
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1] and len(runs[0]) == 3


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "CI"}


def test_nutpie_parallel_equals_serial_and_seed_changes_draws():
    kw = dict(draws=100, tune=100, log_likelihood=False, check=False)
    a = fit(eight_schools(), seed=7, cores=1, **kw)
    b = fit(eight_schools(), seed=7, cores=2, **kw)
    c = fit(eight_schools(), seed=8, cores=2, **kw)
    np.testing.assert_array_equal(a.posterior["theta"].values, b.posterior["theta"].values)
    assert not np.array_equal(a.posterior["mu"].values, c.posterior["mu"].values)


def test_reused_compiled_model_equals_a_fresh_build():
    """Swapping data into the cached compiled model gives exactly what a fresh build gives.
    (The PyMC model's cache, used by PyMC's and NumPyro's samplers: nutpie samples
    hiermodel.fastpath's density instead.)"""
    rng = np.random.default_rng(9)
    d2 = HierData.from_estimates(rng.normal(0, 10, 8), rng.uniform(5, 15, 8),
                                 groups=[f"s{i}" for i in range(8)])
    kw = dict(draws=100, tune=100, chains=2, cores=1, seed=3, log_likelihood=False,
              check=False, parameterization="noncentered", sampler="pymc")
    fit(eight_schools(), **kw)  # make sure an 8-group model is cached
    cached = model_cache_size()
    reused = fit(d2, **kw)
    assert model_cache_size() == cached >= 1   # reused, not rebuilt
    clear_model_cache()
    assert model_cache_size() == 0
    fresh = fit(d2, **kw)
    assert model_cache_size() == 1
    np.testing.assert_array_equal(reused.posterior["theta"].values,
                                  fresh.posterior["theta"].values)
    assert list(reused.posterior["group"].values) == [f"s{i}" for i in range(8)]
    np.testing.assert_array_equal(reused.observed_data["y"].values, d2.means)


def test_centered_fit_warns_about_divergences_and_says_what_to_do():
    with pytest.warns(SamplingWarning) as rec:
        idata = fit(eight_schools(), parameterization="centered", draws=300, tune=300,
                    target_accept=0.8, seed=2, log_likelihood=False)
    assert int(idata.sample_stats["diverging"].sum()) > 0
    msg = " ".join(str(w.message) for w in rec)
    assert "divergent transitions" in msg and "non-centered" in msg
    assert "target_accept" in msg


def test_low_ess_warns():
    with pytest.warns(SamplingWarning, match="min ESS"):
        fit(eight_schools(), draws=50, tune=100, chains=2, seed=1, log_likelihood=False)


def test_posterior_predictive_and_model_input():
    from hiermodel.predictive import posterior_predictive

    data = eight_schools_summary()
    model = build_model(data, "noncentered")
    idata = fit(model, draws=200, tune=200, seed=5, posterior_predictive=True, check=False,
                sampler="pymc", cores=1)
    pp = idata.posterior_predictive["y"]
    # one path: the same draws as hiermodel.predictive.posterior_predictive with fit's seed
    bare = idata.copy()
    del bare["posterior_predictive"]
    again = posterior_predictive(bare, data, seed=int(np.random.SeedSequence(5)
                                                      .generate_state(3)[1]))
    assert again.posterior_predictive.equals(idata.posterior_predictive)   # attrs: timestamps
    assert set(idata.posterior_predictive.data_vars) == {"y", "y_mixed", "theta_new"}
    assert pp.dims == ("chain", "draw", "group") and pp.shape == (4, 200, 8)
    # replicated means are centred on theta with sd se: standardised residuals ~ N(0, 1)
    z = (pp - idata.posterior["theta"]) / idata.constant_data["se"]
    # z_k are iid N(0, 1): sd(mean) = 1/sqrt(N), sd(sample sd) ~ sqrt(1/(2N))
    assert abs(float(z.mean())) < 4 / np.sqrt(z.size)
    assert abs(float(z.std()) - 1) < 4 * np.sqrt(0.5 / z.size)
    assert idata.posterior.attrs["parameterization"] == "noncentered"


def test_missing_backend_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpyro", None)  # numpyro not importable
    with pytest.raises(ImportError, match=r"pip install 'hiermodel\[fast\]'"):
        fit(eight_schools(), sampler="numpyro")


BAD_FIT = [
    (dict(sampler="stan"), ValueError, "sampler 'stan' but it must be one of"),
    (dict(draws=0), ValueError, "`draws` must be a positive integer"),
    (dict(chains=2.5), ValueError, "`chains` must be a positive integer"),
    (dict(seed=-1), TypeError, "`seed` must be a non-negative integer"),
    (dict(target_accept=1.2), ValueError, "`target_accept` must lie strictly between 0 and 1"),
    (dict(target_accept="high"), TypeError, "`target_accept` must be a number in (0, 1)"),
    (dict(seed=2**70), ValueError, "`seed` must be below 2**63"),
]


@pytest.mark.parametrize(("kw", "exc", "fragment"), BAD_FIT, ids=[str(b[0]) for b in BAD_FIT])
def test_bad_fit_arguments(kw, exc, fragment):
    with pytest.raises(exc) as info:
        fit(eight_schools(), **kw)
    assert fragment in str(info.value)


def test_bad_data_type():
    with pytest.raises(TypeError, match="`data_or_model` must be a HierData"):
        fit({"y": [1, 2]})
    # a bare pm.Model lacks the data and priors fit needs: pass build_model's result
    with pytest.raises(TypeError, match=r"bare pymc.Model.*build_model\(\.\.\.\)"):
        fit(build_model(eight_schools(), "marginal").model)


@pytest.mark.parametrize(("ci", "default_on"), [("true", False), ("1", False), ("yes", False),
                                               ("0", True), ("false", True), ("", True)])
def test_progress_follows_ci_as_a_boolean_and_an_explicit_choice_wins(monkeypatch, ci,
                                                                       default_on):
    monkeypatch.setenv("CI", ci)
    assert running_in_ci() is not default_on
    assert progress_enabled(None) is default_on
    assert progress_enabled(True) is True and progress_enabled(False) is False
    monkeypatch.delenv("CI")
    assert progress_enabled(None) is True and progress_enabled(False) is False


def test_marginal_theta_draws_are_exact_conditionals(es_fit):
    """Default (marginal) fit: theta | mu, tau, y ~ N(mu + w (y - mu), w se^2),
    w = tau^2 / (tau^2 + se^2)."""
    post, d = es_fit.posterior, eight_schools()
    tau2 = post["tau"].values[..., None] ** 2
    w = tau2 / (tau2 + d.se**2)
    mu = post["mu"].values[..., None]
    z = (post["theta"].values - (mu + w * (d.means - mu))) / np.sqrt(w * d.se**2)
    assert z.shape == (4, 1000, 8)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.std() - 1) < 4 * np.sqrt(0.5 / z.size)
    assert stats.kstest(z.ravel()[::7], "norm").pvalue > 1e-3


def test_marginal_and_noncentered_posteriors_agree(es_fit):
    import arviz as az

    nc = fit(eight_schools(), parameterization="noncentered", seed=4, check=False)
    for var in ("mu", "tau", "theta"):
        diff = es_fit.posterior[var].mean(("chain", "draw")) - nc.posterior[var].mean(
            ("chain", "draw"))
        se = np.sqrt(az.mcse(es_fit, var_names=[var])[var] ** 2
                     + az.mcse(nc, var_names=[var])[var] ** 2)
        assert float(np.abs(diff / se).max()) < 4.0, var
    # issue 3: the non-centered build samples Eight Schools with 0 divergences at defaults
    assert int(nc.sample_stats["diverging"].sum()) == 0


def test_auto_samples_eight_schools_without_divergences():
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplingWarning)  # defaults: no warning at all
        idata = fit(eight_schools(), parameterization="auto", seed=8)
    assert int(idata.sample_stats["diverging"].sum()) == 0
    assert idata.posterior.attrs["parameterization"] == "auto"
    # tau_hat = 0 on Rubin's data: every school is poorly measured -> fully non-centered
    np.testing.assert_array_equal(idata.posterior.attrs["centering"], np.zeros(8))


def test_log_likelihood_equals_pymcs_own_for_the_model(seed_fits):
    """The closed-form log-likelihood stored by fit equals PyMC's pointwise logp of the
    observed node of the very model that was sampled (non-centered, known sigma)."""
    import pymc as pm

    idata = seed_fits["noncentered"]
    model = build_model(eight_schools_summary(), "noncentered").model
    ll = pm.compute_log_likelihood(idata.sel(draw=slice(0, 100)), model=model,
                                   extend_inferencedata=False, progressbar=False)
    ours = idata.log_likelihood["y"].sel(draw=slice(0, 100))
    np.testing.assert_allclose(ours.values, ll["y"].transpose(*ours.dims).values,
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc"])
def test_threads_give_the_serial_answers(sampler):
    """Two same-shaped datasets fitted in a thread pool share one compiled model; each
    fit must still get its own data's posterior, bit for bit as when run serially."""
    from concurrent.futures import ThreadPoolExecutor

    d = eight_schools()
    datasets = [d, HierData.from_estimates(d.means + 50, d.se, d.groups)] * 2
    kw = dict(draws=100, tune=100, chains=2, sampler=sampler, check=False,
              log_likelihood=False, progressbar=False)
    serial = [fit(d, seed=i, **kw).posterior["mu"].values for i, d in enumerate(datasets)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda a: fit(a[1], seed=a[0], **kw).posterior["mu"].values,
                                 enumerate(datasets)))
    for s, t in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(s, t)
    assert abs(serial[1].mean() - serial[0].mean() - 50) < 5  # each got its own data


def test_centered_and_noncentered_posteriors_agree(seed_fits):
    import arviz as az

    a, b = seed_fits["centered"], seed_fits["noncentered"]
    for var in ("mu", "tau", "theta"):
        ma, mb = a.posterior[var].mean(("chain", "draw")), b.posterior[var].mean(("chain", "draw"))
        sa = az.mcse(a, var_names=[var])[var]
        sb = az.mcse(b, var_names=[var])[var]
        z = np.abs(ma - mb) / np.sqrt(sa**2 + sb**2)
        assert float(z.max()) < 4.0, (var, z.values)


def test_default_fit_of_eight_schools_has_no_divergences(es_fit):
    assert int(es_fit.sample_stats["diverging"].sum()) == 0
    assert es_fit.posterior.attrs["parameterization"] == "marginal"


@pytest.mark.parametrize(("sampler", "parameterization", "depth", "depth_stat", "reached_stat"),
                         [("nutpie", "marginal", 2, "depth", "maxdepth_reached"),
                          ("pymc", "noncentered", 3, "tree_depth", "reached_max_treedepth")])
def test_sampler_kwargs_max_treedepth_is_honoured(sampler, parameterization, depth,
                                                  depth_stat, reached_stat):
    """``max_treedepth`` reaches the backend (nutpie's ``maxdepth`` on the compiled fast
    path, PyMC's NUTS): no draw's tree is deeper, and the cap binds (some draws reach it,
    which they do not without it), so the setting was not simply unneeded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplingWarning)
        idata = fit(eight_schools(), sampler=sampler, parameterization=parameterization,
                    draws=100, tune=100, chains=2, seed=3, progressbar=False,
                    sampler_kwargs={"max_treedepth": depth})
    stats_ = idata.sample_stats
    assert int(stats_[depth_stat].max()) <= depth
    assert int(stats_["n_steps"].max()) <= 2**depth - 1
    assert bool(stats_[reached_stat].any())
    assert idata.posterior.attrs["sampler_kwargs"] == f"{{'max_treedepth': {depth}}}"


BAD_SAMPLER_KWARGS = [
    ("pymc", {"max_tree_depth": 3}, "the tree depth is `max_treedepth` for every sampler"),
    ("nutpie", {"maxdepth": 3}, "the tree depth is `max_treedepth` for every sampler"),
    ("pymc", {"bogus": 1}, "'bogus'"),
    ("nutpie", {"target_accept": 0.9}, "use fit's own argument `target_accept=`"),
    ("pymc", {"random_seed": 1}, "use fit's own argument `seed=`"),
    ("pymc", {"draws": 10}, "use fit's own argument `draws=`"),
    ("numpyro", {"save_warmup": True}, "fit sets it itself"),
]


@pytest.mark.parametrize(("sampler", "options", "fragment"), BAD_SAMPLER_KWARGS,
                         ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BAD_SAMPLER_KWARGS])
def test_sampler_kwargs_refused_before_anything_is_built(sampler, options, fragment):
    clear_model_cache()
    with pytest.raises(ValueError, match=r"`sampler_kwargs` has the key") as info:
        fit(eight_schools(), sampler=sampler, parameterization="noncentered",
            sampler_kwargs=options)
    assert fragment in str(info.value)
    assert model_cache_size() == 0          # raised before a model was built or compiled


def test_sampler_kwargs_unknown_key_lists_the_accepted_ones():
    from hiermodel.samplers import SAMPLER_KWARGS

    with pytest.raises(ValueError) as info:
        fit(eight_schools(), sampler_kwargs={"max_depth": 3})
    for key in SAMPLER_KWARGS["nutpie"]:
        assert repr(key) in str(info.value)
    with pytest.raises(TypeError, match="`sampler_kwargs` must be a dict"):
        fit(eight_schools(), sampler_kwargs=[("max_treedepth", 3)])


def test_sampler_kwargs_reach_numpyros_nuts():
    """On NumPyro ``max_treedepth`` becomes ``nuts_kwargs={"max_tree_depth": ...}`` of
    ``pm.sample(nuts_sampler="numpyro", nuts_sampler_kwargs=...)``: the trees stop at depth
    2 (at most 3 leapfrog steps), and some reach it."""
    pytest.importorskip("numpyro")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = fit(eight_schools(), sampler="numpyro", parameterization="noncentered",
                    draws=100, tune=100, chains=2, seed=3, progressbar=False, check=False,
                    sampler_kwargs={"max_treedepth": 2, "dense_mass": False})
    steps = idata.sample_stats["n_steps"]
    assert int(steps.max()) == 2**2 - 1


def test_sampler_kwargs_table_names_what_each_backend_takes():
    """Every key of SAMPLER_KWARGS is an argument of the installed backend (nutpie's sampler
    settings or ``nutpie.sample``; ``pymc.NUTS`` or ``pm.sample``; numpyro's NUTS or
    ``sample_jax_nuts``), ``max_treedepth`` under each backend's own name, and fit's
    docstring documents each key."""
    import inspect

    import pymc as pm
    from pymc.step_methods.hmc.base_hmc import BaseHMC

    from hiermodel.samplers import SAMPLER_KWARGS

    def params(*fns):
        return {p for fn in fns for p in inspect.signature(fn).parameters}

    native = {"nutpie": "maxdepth", "pymc": "max_treedepth", "numpyro": "max_tree_depth"}
    takes = {"pymc": params(pm.sample, pm.NUTS.__init__, BaseHMC.__init__)}
    nutpie = pytest.importorskip("nutpie")

    def nutpie_setting(key):
        settings = nutpie._lib.PyNutsSettings.Diag(0)
        if not hasattr(settings, "update"):     # nutpie 0.16.8: the settings are attributes
            return key in dir(settings)
        try:                                    # nutpie 0.16.11: update() names the unknown
            settings.update({key: 1})
        except AttributeError as err:
            return "Unknown settings attribute" not in str(err)
        except (TypeError, ValueError):         # a known setting of another type
            return True
        return True

    candidates = SAMPLER_KWARGS["nutpie"] | {"maxdepth", "not_a_nutpie_setting"}
    takes["nutpie"] = params(nutpie.sample) | {k for k in candidates if nutpie_setting(k)}
    assert "not_a_nutpie_setting" not in takes["nutpie"]
    pytest.importorskip("numpyro")
    import numpyro.infer
    import pymc.sampling.jax

    takes["numpyro"] = params(numpyro.infer.NUTS.__init__, pymc.sampling.jax.sample_jax_nuts)
    for sampler, keys in SAMPLER_KWARGS.items():
        assert "max_treedepth" in keys and native[sampler] in takes[sampler]
        assert sorted(keys - {"max_treedepth"} - takes[sampler]) == [], sampler
        for key in keys:
            assert f"``{key}``" in fit.__doc__, key
