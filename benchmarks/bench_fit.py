"""Fitting-layer speed targets (issue 17), each side by side with its peer in one run.

    python benchmarks/bench_fit.py                 # every target (about 15 min on 2 cores)
    python benchmarks/bench_fit.py --quick         # fewer repeats, N = 10^5 rows (< 5 min)
    python benchmarks/bench_fit.py --only cold,import
    python benchmarks/bench_fit.py --only cli      # the README's main line vs a pm.sample() script
    bash ci/current-stack.sh . "python benchmarks/bench_fit.py"     # the same on PyMC 6

The peers are real, as the stack ships them:

- "pm.sample()": the pymc-examples non-centered Eight Schools model, priors
  ``mu ~ Normal(0, 5)``, ``tau ~ HalfCauchy(5)``, a default ``pm.sample(chains=4)`` (PyMC's
  NUTS on PyMC 5; nutpie on PyMC 6, where it is the default);
- "nutpie direct": the same model compiled once with ``nutpie.compile_pymc_model`` and
  sampled with ``nutpie.sample(draws=1000, tune=1000, chains=4)``.

Every fit is 4 chains x 1000 draws after 1000 tuning steps (nutpie's own defaults are 6
chains and 300 tuning steps; they are set to hiermodel's so that ESS/s compares like with
like).

Targets (ratios > 1 mean hiermodel is faster unless said otherwise):

1. cold: a single default fit of Eight Schools (and its non-centered fit, and the default fit
   of the BCG meta-regression on latitude) in a fresh process, import to result.  "First
   process": on-disk caches empty (a fresh install: empty PyTensor compiledir and numba
   cache); "later process": after one process has run (the fit then loads
   hiermodel.fastpath's compiled density from numba's cache).  Target: later <= 0.5x the
   time of pm.sample(), first <= 1x.
2. warm: whole call as a user times it (build, sample, result assembly, diagnostics), compile
   excluded for all, min(ESS_bulk of mu, tau) per second, 20 seeds.  Target: >= 2x nutpie
   direct, 0 divergences over the 20 seeds.
3. loop: 100 same-shaped fits (simulation studies, SBC) vs a loop of pm.sample().
   Target >= 10x.
4. import: ``import hiermodel`` minus ``import pymc``, fresh processes.  Target <= 0.3 s.
5. rows: G = 1,000 groups, N = 10^6 rows, 2 x 1000 draws: hiermodel.fit from the rows (its
   default, compile included) vs the per-row PyMC likelihood (nutpie, compile included).
   Target >= 100x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np

os.environ.setdefault("CI", "true")  # no progress bars
warnings.filterwarnings("ignore")

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SE = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

PLAIN = """
import numpy as np, pymc as pm
def plain_model(y, se):
    with pm.Model(coords={"school": list("ABCDEFGH")}) as model:
        mu = pm.Normal("mu", mu=0, sigma=5)
        tau = pm.HalfCauchy("tau", beta=5)
        z = pm.Normal("z", mu=0, sigma=1, dims="school")
        theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        pm.Normal("obs", mu=theta, sigma=se, observed=y, dims="school")
    return model
def plain_fit(y, se, seed):
    with plain_model(y, se):
        return pm.sample(chains=4, random_seed=seed, progressbar=False)
"""
exec(PLAIN)  # defines plain_model, plain_fit  # noqa: S102
SECTIONS = ("cold", "cli", "warm", "loop", "import", "rows")


def _min_ess(idata) -> float:
    import arviz as az

    ess = az.ess(idata, var_names=["mu", "tau"])
    return float(min(ess["mu"], ess["tau"]))


def _divergences(idata) -> int:
    return int(idata.sample_stats["diverging"].sum())


# ----------------------------------------------------------------------------- 1. cold
COLD_HM = """
import time; t0 = time.perf_counter()
import hiermodel as hm
idata = hm.fit(hm.eight_schools(), seed=1, progressbar=False)
print(time.perf_counter() - t0)
"""
COLD_PLAIN = "import time; t0 = time.perf_counter()\n" + PLAIN + textwrap.dedent("""
import numpy as np
plain_fit(np.array([28., 8, -3, 7, -1, 1, 18, 12]),
          np.array([15., 10, 16, 11, 9, 11, 10, 18]), 1)
print(time.perf_counter() - t0)
""")


def _run_seconds(code: str, env: dict) -> float:
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if res.returncode:
        raise RuntimeError(f"benchmark subprocess failed:\n{res.stderr[-2000:]}")
    return float(res.stdout.strip().splitlines()[-1])


COLD_HM_NONCENTERED = COLD_HM.replace("seed=1,", 'seed=1, parameterization="noncentered",')
COLD_HM_COVARIATES = """
import time; t0 = time.perf_counter()
import numpy as np
import hiermodel as hm
df = hm.datasets.bcg_trials()
data = hm.HierData.from_estimates(df.yi, np.sqrt(df.vi), covariates=df[["ablat"]])
idata = hm.fit(data, seed=1, progressbar=False)
print(time.perf_counter() - t0)
"""


def cold(repeats: int) -> list[dict]:
    """Fresh processes, each case with its own on-disk caches, empty at first (a fresh
    install): the first process of every case, then ``repeats`` rounds of one later process
    per case, interleaved so that a busy spell of a shared machine hits every case alike
    (medians)."""
    cases = {"pm.sample()": COLD_PLAIN, "hiermodel.fit (default)": COLD_HM,
             "hiermodel.fit, non-centered (the plain model's form)": COLD_HM_NONCENTERED,
             "hiermodel.fit, BCG meta-regression on ablat": COLD_HM_COVARIATES}
    with tempfile.TemporaryDirectory(prefix="hm-bench-cache-") as tmp:
        envs = {name: {**os.environ, "CI": "true", "PYTHONWARNINGS": "ignore",
                       "PYTENSOR_FLAGS": f"base_compiledir={tmp}/{i}/pytensor",
                       "NUMBA_CACHE_DIR": f"{tmp}/{i}/numba"}
                for i, name in enumerate(cases)}
        first = {name: _run_seconds(code, envs[name]) for name, code in cases.items()}
        later: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, code in cases.items():
                later[name].append(_run_seconds(code, envs[name]))
    rows = [{"case": name, "first_process_s": first[name],
             "later_process_s": float(np.median(later[name])), "repeats": repeats}
            for name in cases]
    plain = rows[0]
    for r in rows[1:len(cases)]:
        rows.append({"case": f"ratio {r['case']} / pm.sample (target: first <= 1, "
                             "later <= 0.5)",
                     "first_process_s": r["first_process_s"] / plain["first_process_s"],
                     "later_process_s": r["later_process_s"] / plain["later_process_s"],
                     "repeats": ""})
    return rows


# ----------------------------------------------------------------------------- 1b. cli
def _wall(argv: list[str], env: dict, cwd: str) -> float:
    """Wall seconds of a whole process, interpreter start to exit."""
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    if res.returncode:
        raise RuntimeError(f"benchmark subprocess failed:\n{res.stderr[-2000:]}")
    return time.perf_counter() - t0


def cli(repeats: int) -> list[dict]:
    """The README's main line and a meta-regression CLI run, whole processes, against a bare
    ``pm.sample()`` script (import + model + sample, nothing written): the first process of
    each case with its own empty on-disk caches, then ``repeats`` interleaved later
    processes (medians).  Target: later <= 1x, first <= 1.5x."""
    import pandas as pd

    from hiermodel.datasets import bcg_trials

    with tempfile.TemporaryDirectory(prefix="hm-bench-cli-") as tmp:
        bcg = bcg_trials()
        pd.DataFrame({"trial": bcg.trial, "yi": bcg.yi, "se": np.sqrt(bcg.vi),
                      "ablat": bcg.ablat}).to_csv(f"{tmp}/bcg.csv", index=False)
        cases = {
            "bare pm.sample() script": [sys.executable, "-c", COLD_PLAIN],
            "hiermodel eight-schools": [sys.executable, "-m", "hiermodel", "eight-schools",
                                        "--out", f"{tmp}/es"],
            "hiermodel fit bcg.csv --covariates ablat": [
                sys.executable, "-m", "hiermodel", "fit", f"{tmp}/bcg.csv", "--estimate", "yi",
                "--se", "se", "--label", "trial", "--covariates", "ablat", "--out",
                f"{tmp}/bcg"],
        }
        envs = {name: {**os.environ, "CI": "true", "PYTHONWARNINGS": "ignore",
                       "PYTENSOR_FLAGS": f"base_compiledir={tmp}/{i}/pytensor",
                       "NUMBA_CACHE_DIR": f"{tmp}/{i}/numba"}
                for i, name in enumerate(cases)}
        first = {name: _wall(argv, envs[name], tmp) for name, argv in cases.items()}
        later: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(repeats):
            for name, argv in cases.items():
                later[name].append(_wall(argv, envs[name], tmp))
    rows = [{"case": name, "first_process_s": first[name],
             "later_process_s": float(np.median(later[name])), "repeats": repeats}
            for name in cases]
    plain = rows[0]
    for r in rows[1:len(cases)]:
        rows.append({"case": f"ratio {r['case']} / script (target: first <= 1.5, later <= 1)",
                     "first_process_s": r["first_process_s"] / plain["first_process_s"],
                     "later_process_s": r["later_process_s"] / plain["later_process_s"],
                     "repeats": ""})
    return rows


# ----------------------------------------------------------------------------- 2. warm
def warm(seeds: int) -> list[dict]:
    import nutpie

    import hiermodel as hm

    classic = hm.Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)  # the plain model's priors
    compiled = nutpie.compile_pymc_model(plain_model(Y, SE))  # noqa: F821
    cases = {
        "pm.sample() on the plain model": lambda s: plain_fit(Y, SE, s),  # noqa: F821
        "nutpie direct on the plain model": lambda s: nutpie.sample(
            compiled, draws=1000, tune=1000, chains=4, seed=s, progress_bar=False),
        "hiermodel.fit, the plain model's priors": lambda s: hm.fit(
            hm.eight_schools(), seed=s, priors=classic, progressbar=False),
        "hiermodel.fit (default, data-scaled priors)": lambda s: hm.fit(
            hm.eight_schools(), seed=s, progressbar=False),
    }
    rows = []
    for name, run in cases.items():
        run(10_000)  # compile / warm caches: excluded
        rates, divs = [], []
        for s in range(seeds):
            t0 = time.perf_counter()
            idata = run(s)
            rates.append(_min_ess(idata) / (time.perf_counter() - t0))
            divs.append(_divergences(idata))
        rows.append({"case": name, "ess_per_s": float(np.median(rates)),
                     "fits_with_divergences": f"{sum(d > 0 for d in divs)} / {seeds}",
                     "divergences": int(sum(divs))})
    base = rows[1]["ess_per_s"]
    for r in rows:
        r["ratio_vs_nutpie"] = r["ess_per_s"] / base
    return rows


# ----------------------------------------------------------------------------- 3. loop
def loop(n_fits: int, n_plain: int) -> list[dict]:
    import hiermodel as hm
    from hiermodel.sampling import clear_model_cache

    rng = np.random.default_rng(1)
    datasets = [rng.normal(8, 10, 8) for _ in range(n_fits)]
    clear_model_cache()
    t0 = time.perf_counter()
    for i, y in enumerate(datasets):
        hm.fit(hm.HierData.from_estimates(y, SE, groups=list("ABCDEFGH")), seed=i,
               check=False, progressbar=False)
    t_hm = (time.perf_counter() - t0) / n_fits
    t0 = time.perf_counter()
    for i, y in enumerate(datasets[:n_plain]):
        plain_fit(y, SE, i)  # noqa: F821
    t_plain = (time.perf_counter() - t0) / n_plain
    return [
        {"case": f"pm.sample() loop, fresh model each ({n_plain} fits)", "s_per_fit": t_plain,
         "ratio": 1.0},
        {"case": f"hiermodel.fit loop ({n_fits} fits, first compile included)",
         "s_per_fit": t_hm, "ratio": t_plain / t_hm},
    ]


# ----------------------------------------------------------------------------- 4. import
def import_cost(repeats: int) -> list[dict]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    code = "import time; t0 = time.perf_counter(); import {}; print(time.perf_counter() - t0)"
    times = {"pymc": [], "hiermodel": []}
    for m in times:   # warm the bytecode caches
        _run_seconds(code.format(m), env)
    for _ in range(repeats):  # alternate, so drift hits both
        for m in times:
            times[m].append(_run_seconds(code.format(m), env))
    med = {m: float(np.median(t)) for m, t in times.items()}
    return [{"case": "import pymc", "seconds": med["pymc"]},
            {"case": "import hiermodel", "seconds": med["hiermodel"]},
            {"case": "difference (target <= 0.3 s)", "seconds": med["hiermodel"] - med["pymc"]}]


# ----------------------------------------------------------------------------- 5. rows
def rows_vs_sufficient(n_groups: int, n_rows: int, draws: int) -> list[dict]:
    import hiermodel as hm
    from hiermodel.sampling import clear_model_cache
    from hiermodel.studies import simulate

    sizes = np.full(n_groups, n_rows // n_groups)
    sizes[: n_rows - sizes.sum()] += 1
    data = simulate(0.0, 5.0, 15.0, sizes, rows=True, seed=1).data
    kw = dict(draws=draws, tune=draws, chains=2, progressbar=False, check=False)
    clear_model_cache()
    t0 = time.perf_counter()
    ours = hm.fit(data, seed=1, **kw)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = hm.fit(hm.build_model(data, "auto", likelihood="rows"), seed=2, **kw)
    t_rows = time.perf_counter() - t0
    return [
        {"case": f"per-row PyMC likelihood, nutpie (G = {n_groups:,}, N = {n_rows:,})",
         "wall_s": t_rows, "divergences": _divergences(rows), "ratio": 1.0},
        {"case": "hiermodel.fit from the rows (default), compile included", "wall_s": t_ours,
         "divergences": _divergences(ours), "ratio": t_rows / t_ours},
    ]


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])

    def fmt(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, N = 10^5 rows")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, of {', '.join(SECTIONS)}")
    ap.add_argument("--json", help="also write the results as JSON to this path")
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"--only: unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    q = args.quick
    import pymc

    head = (f"Python {sys.version.split()[0]}, pymc {pymc.__version__}, "
            f"{os.cpu_count()} CPUs")
    print(f"# bench_fit: {head}\n")
    runs = {
        "cold": ("1. Cold single fit, fresh process, import to result (seconds)",
                 lambda: cold(repeats=2 if q else 3)),
        "cli": ("1b. Command line, whole process (seconds)", lambda: cli(repeats=2 if q else 3)),
        "warm": ("2. Warm whole-call throughput, Eight Schools 4 x 1000, compile excluded "
                 "(min ESS_bulk of mu, tau per second of the call)",
                 lambda: warm(seeds=5 if q else 20)),
        "loop": ("3. Same-shaped fits in a loop, seconds per fit",
                 lambda: loop(n_fits=20 if q else 100, n_plain=5 if q else 20)),
        "import": ("4. Import cost, fresh processes (median seconds)",
                   lambda: import_cost(repeats=3 if q else 7)),
        "rows": ("5. Large data, compile included",
                 lambda: rows_vs_sufficient(1_000, 100_000 if q else 1_000_000, 1000)),
    }
    results = {"machine": head}
    for key in SECTIONS:
        if key in only:
            title, run = runs[key]
            results[key] = run()
            print(f"## {title}\n{_table(results[key])}\n", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
