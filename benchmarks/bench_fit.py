"""Fitting-layer benchmarks, each side by side with the plain PyMC idiom in one run.

    python benchmarks/bench_fit.py            # full (about 10 min on 2 cores)
    python benchmarks/bench_fit.py --quick    # smaller loop, fewer repeats

1. Throughput on Eight Schools, compile excluded: min(ESS_bulk(mu), ESS_bulk(tau)) per second
   of sampling, 4 chains x 1000 draws (median over repeats).
2. A loop of same-shaped datasets (what simulation studies and SBC do): end-to-end wall time
   per fit, hiermodel's ``fit`` (compiled-model reuse) vs building and sampling a fresh PyMC
   model each time.
3. A cold single fit in a fresh process, import to InferenceData.

The "plain idiom" is the pymc-examples non-centered Eight Schools model with a default
``pm.sample`` (target_accept 0.8, PyMC's NUTS, chains in parallel), with its priors
``mu ~ Normal(0, 5)``, ``tau ~ HalfCauchy(5)``.  The like-for-like hiermodel rows pass the same
priors; one more row is hiermodel as a user calls it, with its data-scaled default priors
(a different posterior, so compare its ESS/s, not its draws).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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
def plain_fit(y, se, seed):
    with pm.Model(coords={"school": list("ABCDEFGH")}):
        mu = pm.Normal("mu", mu=0, sigma=5)
        tau = pm.HalfCauchy("tau", beta=5)
        z = pm.Normal("z", mu=0, sigma=1, dims="school")
        theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        pm.Normal("obs", mu=theta, sigma=se, observed=y, dims="school")
        return pm.sample(random_seed=seed, progressbar=False)
"""
exec(PLAIN)  # defines plain_fit  # noqa: S102


def _min_ess(idata) -> float:
    import arviz as az

    ess = az.ess(idata, var_names=["mu", "tau"])
    return float(min(ess["mu"], ess["tau"]))


def throughput(repeats: int) -> list[dict]:
    from hiermodel import Priors, eight_schools, fit

    classic = Priors(mu_mean=0.0, mu_sd=5.0, tau_scale=5.0)  # the plain idiom's priors
    rows = []
    cases = {
        "plain PyMC idiom (pm.sample)": lambda s: plain_fit(Y, SE, s),  # noqa: F821
        "hiermodel fit, sampler='pymc', same priors": lambda s: fit(
            eight_schools(), sampler="pymc", seed=s, priors=classic),
        "hiermodel fit (nutpie, marginal), same priors": lambda s: fit(
            eight_schools(), seed=s, priors=classic),
        "hiermodel fit (default, data-scaled priors)": lambda s: fit(eight_schools(), seed=s),
    }
    for name, run in cases.items():
        run(0)  # compile / warm caches
        rates, divs = [], []
        for r in range(repeats):
            idata = run(100 + r)
            secs = idata.posterior.attrs.get("sampling_seconds",
                                             idata.posterior.attrs.get("sampling_time"))
            rates.append(_min_ess(idata) / float(secs))
            divs.append(int(idata.sample_stats["diverging"].sum()))
        rows.append({"case": name, "ess_per_s": float(np.median(rates)),
                     "divergences": int(np.sum(divs)), "repeats": repeats})
    base = rows[0]["ess_per_s"]
    for r in rows:
        r["ratio"] = r["ess_per_s"] / base
    return rows


def loop(n_fits: int, n_plain: int) -> list[dict]:
    from hiermodel import HierData
    from hiermodel.sampling import clear_model_cache, fit

    rng = np.random.default_rng(1)
    datasets = [(rng.normal(8, 10, 8), SE) for _ in range(n_fits)]
    clear_model_cache()
    t0 = time.perf_counter()
    for i, (y, se) in enumerate(datasets):
        fit(HierData.from_estimates(y, se, groups=list("ABCDEFGH")), seed=i, check=False)
    t_hm = (time.perf_counter() - t0) / n_fits
    t0 = time.perf_counter()
    for i, (y, se) in enumerate(datasets[:n_plain]):
        plain_fit(y, se, i)  # noqa: F821
    t_plain = (time.perf_counter() - t0) / n_plain
    return [
        {"case": f"plain idiom: fresh model + pm.sample ({n_plain} fits)",
         "s_per_fit": t_plain, "ratio": 1.0},
        {"case": f"hiermodel fit, compiled-model reuse ({n_fits} fits, incl. first compile)",
         "s_per_fit": t_hm, "ratio": t_plain / t_hm},
    ]


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


def cold(repeats: int) -> list[dict]:
    env = {**os.environ, "CI": "true", "PYTHONWARNINGS": "ignore"}
    out = []
    for name, code in (("plain PyMC idiom", COLD_PLAIN), ("hiermodel fit (default)", COLD_HM)):
        ts = []
        for _ in range(repeats):
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env=env, check=True)
            ts.append(float(res.stdout.strip().splitlines()[-1]))
        out.append({"case": name, "seconds": float(np.median(ts)), "repeats": repeats})
    for r in out:
        r["ratio_vs_plain"] = out[0]["seconds"] / r["seconds"]
    return out


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])

    def fmt(v: object) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller loop and fewer repeats")
    ap.add_argument("--json", help="also write the results as JSON to this path")
    args = ap.parse_args()
    q = args.quick
    results = {
        "throughput": throughput(repeats=3 if q else 5),
        "loop": loop(n_fits=20 if q else 100, n_plain=5 if q else 20),
        "cold": cold(repeats=1 if q else 3),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    print("## 1. Eight Schools throughput, compile excluded (min ESS_bulk of mu, tau per s)")
    print(_table(results["throughput"]))
    print("\n## 2. Loop of same-shaped fits (4 x 1000 draws each), wall time per fit")
    print(_table(results["loop"]))
    print("\n## 3. Cold single fit in a fresh process (import to InferenceData)")
    print(_table(results["cold"]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
