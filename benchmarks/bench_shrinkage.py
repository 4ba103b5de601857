"""Benchmarks of the closed-form core (``hiermodel.core``) and the exact posterior.

    python benchmarks/bench_shrinkage.py                  # markdown table on stdout
    python benchmarks/bench_shrinkage.py --json out.json  # ... and the results as JSON

Cases (wall time per call, ``time.perf_counter``, median and min over repeats, after one
warm-up call):

1. Empirical Bayes with REML on one dataset of 10^5 groups (``eb_core``); target <= 10 ms.
2. The exact posterior of Rubin's Eight Schools (grid, normalisation, means and sds);
   target <= 50 ms.  Also with 95% quantiles, and 4 x 1000 exact draws as InferenceData.
3. Batched EB with REML on 10,000 datasets x 8 groups in one call, next to a Python loop
   of ``eb_core`` over 1,000 of them (scaled x10) for comparison.
4. EB meta-regression (``core.meta_regression``) on 10^5 groups x 3 covariates, each tau^2
   estimator; target <= 50 ms (issue 18).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hiermodel import eight_schools, exact_posterior  # noqa: E402
from hiermodel.core import design_matrix, eb_core, meta_regression  # noqa: E402


def _timeit(fn: Callable[[], object], repeats: int) -> dict:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return {"median_ms": float(np.median(ms)), "min_ms": float(ms.min()), "repeats": repeats}


def _many_groups(g: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.5, 3.0, g)
    return 1.0 + 2.0 * rng.standard_normal(g) + se * rng.standard_normal(g), se


def _many_datasets(n: int, g: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Eight-Schools-like datasets: se in [5, 20], tau in [0, 15] (a quarter with tau=0)."""
    rng = np.random.default_rng(seed)
    se = rng.uniform(5.0, 20.0, (n, g))
    tau = np.where(rng.random((n, 1)) < 0.25, 0.0, rng.uniform(0.0, 15.0, (n, 1)))
    y = rng.normal(0.0, 5.0, (n, 1)) + tau * rng.standard_normal((n, g))
    return y + se * rng.standard_normal((n, g)), se


def run(repeats: int) -> list[dict]:
    rows = []
    y, se = _many_groups(100_000)
    rows.append({"case": "EB, REML, 1 dataset x 100,000 groups (eb_core)", "target_ms": 10.0,
                 **_timeit(lambda: eb_core(y, se, "reml"), repeats)})
    data = eight_schools()
    rows.append({"case": "exact posterior, Eight Schools (grid + means/sds)", "target_ms": 50.0,
                 **_timeit(lambda: exact_posterior(data).sd, repeats)})
    rows.append({"case": "exact posterior + 2.5/50/97.5% quantiles", "target_ms": None,
                 **_timeit(lambda: exact_posterior(data).summary(), repeats)})
    post = exact_posterior(data)
    rows.append({"case": "exact draws, 4 x 1000, as InferenceData", "target_ms": None,
                 **_timeit(lambda: post.sample(1000, 4, seed=1), repeats)})
    yb, sb = _many_datasets(10_000, 8)
    rows.append({"case": "EB, REML, 10,000 datasets x 8 groups, batched", "target_ms": None,
                 **_timeit(lambda: eb_core(yb, sb, "reml"), repeats)})
    for method in ("dl", "pm", "ml"):
        rows.append({"case": f"EB, {method.upper()}, 10,000 datasets x 8 groups, batched",
                     "target_ms": None,
                     **_timeit(lambda m=method: eb_core(yb, sb, m), max(3, repeats // 3))})

    def loop() -> None:
        for i in range(1000):
            eb_core(yb[i], sb[i], "reml")

    res = _timeit(loop, 1)
    rows.append({"case": "EB, REML, Python loop over datasets (1,000 timed, x10)",
                 "target_ms": None, "median_ms": 10 * res["median_ms"],
                 "min_ms": 10 * res["min_ms"], "repeats": 1})
    rng = np.random.default_rng(2)
    z = rng.standard_normal((100_000, 3))
    v = rng.uniform(0.5, 2.0, 100_000)
    ym = z @ [0.5, -0.2, 0.1] + rng.normal(0.0, np.sqrt(v + 0.3))
    x = design_matrix(100_000, z)
    for method in ("reml", "ml", "dl", "pm"):
        rows.append({"case": f"EB meta-regression, {method.upper()}, 100,000 groups x 3 "
                             "covariates", "target_ms": 50.0,
                     **_timeit(lambda m=method: meta_regression(ym, v, x, m),
                               max(3, repeats // 3))})
    return rows


def to_markdown(rows: list[dict]) -> str:
    lines = ["| case | median (ms) | min (ms) | target (ms) | repeats |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        target = "" if r["target_ms"] is None else (
            f"<= {r['target_ms']:g} " + ("(met)" if r["median_ms"] <= r["target_ms"]
                                         else "(missed)"))
        lines.append(f"| {r['case']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | {target} "
                     f"| {r['repeats']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per case")
    args = parser.parse_args(argv)
    rows = run(args.repeats)
    print(to_markdown(rows))
    if args.json:
        meta = {"python": platform.python_version(), "numpy": np.__version__,
                "machine": platform.machine(), "cpus": os.cpu_count(),
                "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": rows}, fh, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
