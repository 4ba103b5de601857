"""Divergences on Eight Schools per parameterization and target_accept, over many seeds.

    python benchmarks/bench_divergences.py            # 20 seeds per setting
    python benchmarks/bench_divergences.py --seeds 5

This is the measurement behind ``hiermodel.fit.DEFAULT_TARGET_ACCEPT``: for each form, the
number of fits (4 chains x 1000 draws, nutpie) with at least one divergent transition, the
total divergences and the median min(ESS_bulk of mu, tau) per second of sampling.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np

os.environ.setdefault("CI", "true")
warnings.filterwarnings("ignore")

SETTINGS = [("marginal", 0.8), ("noncentered", 0.8), ("noncentered", 0.9),
            ("noncentered", 0.95), ("auto", 0.95), ("centered", 0.95), ("centered", 0.99)]


def main() -> None:
    import arviz as az

    from hiermodel import eight_schools
    from hiermodel.fit import fit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    data = eight_schools()
    print("| parameterization | target_accept | fits with divergences | total divergences "
          "| median ESS/s (mu, tau) |")
    print("|---|---:|---:|---:|---:|")
    for form, ta in SETTINGS:
        bad, total, rates = 0, 0, []
        for seed in range(args.seeds):
            idata = fit(data, parameterization=form, target_accept=ta, seed=seed, check=False,
                        log_likelihood=False, progressbar=False)
            div = int(idata.sample_stats["diverging"].sum())
            bad += div > 0
            total += div
            ess = az.ess(idata, var_names=["mu", "tau"])
            rates.append(min(float(ess["mu"]), float(ess["tau"]))
                         / idata.posterior.attrs["sampling_seconds"])
        print(f"| {form} | {ta} | {bad} / {args.seeds} | {total} | {np.median(rates):,.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
