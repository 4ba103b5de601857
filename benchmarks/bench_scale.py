"""Scale benchmarks: sufficient statistics vs rows, Dask reduction, vectorised EB studies.

    python benchmarks/bench_scale.py            # full: G = 1,000, N = 10^6; Dask N = 10^7
    python benchmarks/bench_scale.py --quick    # G = 100, N = 10^5; Dask N = 10^6 (< 2 min)
    python benchmarks/bench_scale.py --only-sbc --sbc 1000   # a bigger SBC alone

1. **Sufficient statistics vs the per-row likelihood**, side by side in one run: the same
   simulated rows (G groups, N rows, known sigma) fitted by ``hiermodel.fit`` on the
   sufficient statistics (``ybar_i ~ N(theta_i, sigma^2/n_i)``, O(G) per gradient) and by the
   naive per-row PyMC model (``build_model(..., likelihood="rows")``, ``y_ij ~ N(theta_i,
   sigma^2)``, O(N) per gradient).  Same parameterization ("auto": the same per-group
   centering), sampler (nutpie) and draws, independent seeds; plus hiermodel's default
   (marginal) fit of the same sufficient statistics, which is what a user gets.  Reported: wall time
   (compile + sample) and sampling time, their ratio, and agreement of the posteriors: for
   mu, tau and every theta_i, ``z = (mean_suff - mean_rows) / sqrt(mcse_suff^2 +
   mcse_rows^2)``; the two posteriors are identical in exact arithmetic, so ``|z|`` should
   look like |N(0, 1)|.
2. **A Dask DataFrame reduced to HierData**: N rows built lazily from ``dask.array`` random
   chunks (group code and value per row; the rows never exist at once), reduced by
   ``HierData.from_dataframe`` with one groupby pass; peak traced memory (tracemalloc) and
   peak RSS growth against the size of the rows, then a fit of the reduced data (its cost
   does not depend on N).
3. **Vectorised empirical Bayes**: ``mse_study`` over 10,000 datasets of 8 groups, every tau
   estimator, no full Bayes.
4. (``--sbc N``) **Simulation-based calibration** at benchmark size: N replicates of the
   non-centered model, L = 99, fanned out over a local process pool (``default_executor()``).

Prints a markdown table per section.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
import tracemalloc
import warnings

import numpy as np

os.environ.setdefault("CI", "true")  # no progress bars
warnings.filterwarnings("ignore")


def _rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _table(rows: list[tuple], head: tuple) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


# ----------------------------------------------------------------------------- 1
def suff_vs_rows(n_groups: int, n_rows: int, draws: int, tune: int, chains: int,
                 seed: int = 1) -> str:
    import arviz as az

    from hiermodel import build_model
    from hiermodel.sampling import clear_model_cache, fit
    from hiermodel.studies import simulate

    sizes = np.full(n_groups, n_rows // n_groups)
    sizes[: n_rows - sizes.sum()] += 1
    sim = simulate(0.0, 5.0, 15.0, sizes, rows=True, seed=seed)
    data = sim.data
    kw = dict(parameterization="auto", draws=draws, tune=tune, chains=chains,
              progressbar=False, check=False, log_likelihood=False)

    t0 = time.perf_counter()
    suff = fit(data, **kw, seed=seed)
    t_suff = time.perf_counter() - t0
    s_suff = suff.posterior.attrs["sampling_seconds"]
    t0 = time.perf_counter()  # what every later fit of same-shaped data costs
    fit(data, **{**kw, "seed": seed + 2})
    t_warm = time.perf_counter() - t0

    clear_model_cache()  # cold: the Dask section may have compiled this structure already
    t0 = time.perf_counter()  # what a user gets: the default (marginal) form, cold
    default = fit(data, **{**kw, "parameterization": "marginal", "seed": seed + 3})
    t_default = time.perf_counter() - t0
    s_default = default.posterior.attrs["sampling_seconds"]

    t0 = time.perf_counter()
    model = build_model(data, "auto", likelihood="rows")
    # an independent seed, so that the agreement check below is a real two-sample test
    rows = fit(model, **{k: v for k, v in kw.items() if k != "parameterization"},
               seed=seed + 1)
    t_rows = time.perf_counter() - t0
    s_rows = rows.posterior.attrs["sampling_seconds"]

    def agreement(fit_a, fit_b) -> tuple[dict, dict]:
        zs, dmax = {}, {}
        for name in ("mu", "tau", "theta"):
            a = az.summary(fit_a, var_names=[name], kind="all", round_to="none")
            b = az.summary(fit_b, var_names=[name], kind="all", round_to="none")
            diff = a["mean"].to_numpy() - b["mean"].to_numpy()
            dmax[name] = float(np.abs(diff).max())
            zs[name] = np.abs(diff / np.hypot(a["mcse_mean"].to_numpy(),
                                              b["mcse_mean"].to_numpy()))
        return zs, dmax

    zs, dmax = agreement(suff, rows)
    zm, _ = agreement(default, rows)
    z_theta = zs["theta"]
    div = [int(f.sample_stats["diverging"].sum()) for f in (suff, rows, default)]
    lines = [
        f"### Sufficient statistics vs per-row likelihood: G = {n_groups:,}, N = {n_rows:,}, "
        f"{chains} x {draws} draws (tune {tune}), nutpie, parameterization auto",
        "",
        _table([
            ("sufficient (hiermodel.fit)", f"{t_suff:.2f}", f"{s_suff:.2f}", div[0]),
            ("per-row PyMC likelihood", f"{t_rows:.2f}", f"{s_rows:.2f}", div[1]),
            ("sufficient, compiled model reused (next fit)", f"{t_warm:.2f}", "", ""),
            ("sufficient, hiermodel default (marginal), cold", f"{t_default:.2f}",
             f"{s_default:.2f}", div[2]),
            ("**ratio rows / sufficient**", f"**{t_rows / t_suff:.0f}x**",
             f"**{s_rows / s_suff:.0f}x**", ""),
            ("**ratio rows / sufficient (reused)**", f"**{t_rows / t_warm:.0f}x**", "", ""),
            ("**ratio rows / default (marginal)**", f"**{t_rows / t_default:.0f}x**",
             f"**{s_rows / s_default:.0f}x**", ""),
        ], ("model", "wall s (compile + sample)", "sampling s", "divergences")),
        "",
        "Agreement, |z| = |mean_suff - mean_rows| / sqrt(mcse_suff^2 + mcse_rows^2):",
        "",
        _table([
            ("mu", f"{zs['mu'][0]:.3g}", f"{dmax['mu']:.2g}", "", ""),
            ("tau", f"{zs['tau'][0]:.3g}", f"{dmax['tau']:.2g}", "", ""),
            (f"theta (G = {n_groups})", f"median {np.median(z_theta):.3g}, "
             f"max {z_theta.max():.3g}", f"{dmax['theta']:.2g}",
             f"{np.mean(z_theta < 1.96):.1%}", f"{np.mean(z_theta < 3):.1%}"),
            ("mu, tau: marginal vs rows", f"{zm['mu'][0]:.3g}, {zm['tau'][0]:.3g}", "", "", ""),
            ("theta: marginal vs rows", f"median {np.median(zm['theta']):.3g}, "
             f"max {zm['theta'].max():.3g}", "", f"{np.mean(zm['theta'] < 1.96):.1%}",
             f"{np.mean(zm['theta'] < 3):.1%}"),
        ], ("parameter", "abs(z)", "max abs(diff of means)",
            "share abs(z) < 1.96", "share abs(z) < 3")),
        "",
        "(Independent seeds: |z| should look like |N(0, 1)|, i.e. ~95% below 1.96.)",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 2
def _dask_rows(n_rows: int, n_groups: int, chunk: int, seed: int):
    """A lazy Dask DataFrame (``school`` int32 code, ``score`` float64), built from
    ``dask.array`` random chunks; nothing is computed here."""
    import dask.array as da
    import dask.dataframe as dd

    rng = da.random.default_rng(seed)
    theta = np.random.default_rng(seed).normal(0.0, 5.0, n_groups)
    code = rng.integers(0, n_groups, size=n_rows, chunks=chunk, dtype=np.int64)
    noise = rng.standard_normal(n_rows, chunks=chunk)
    score = code.map_blocks(lambda c: theta[c], dtype=float) + 15.0 * noise
    frame = dd.from_dask_array(da.stack([code.astype(float), score], axis=1),
                               columns=["school", "score"])
    return frame.astype({"school": "int32"}), theta


def dask_reduction(n_rows: int, n_groups: int, chunk: int, seed: int = 2) -> str:
    import dask

    from hiermodel import fit
    from hiermodel.data import HierData

    frame, theta = _dask_rows(n_rows, n_groups, chunk, seed)
    row_bytes = n_rows * (4 + 8)                          # int32 code + float64 value
    gc.collect()
    rss0 = _rss_mib()
    tracemalloc.start()
    t0 = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        data = HierData.from_dataframe(frame, value="score", group="school", sigma=15.0)
    t_red = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = _rss_mib()
    order = np.asarray(data.groups, dtype=int)
    z = (data.means - theta[order]) / data.se
    t_fit = []
    for s in (1, 2):                                      # cold (compile), then warm
        t0 = time.perf_counter()
        fit(data, draws=1000, tune=1000, chains=2, seed=s, progressbar=False, check=False)
        t_fit.append(time.perf_counter() - t0)
    lines = [
        f"### Dask DataFrame -> HierData: N = {n_rows:,} rows, G = {n_groups:,} groups, "
        f"{-(-n_rows // chunk)} partitions of {chunk:,} rows",
        "",
        _table([
            ("size of the rows (int32 + float64)", f"{row_bytes / 2**20:.0f} MiB"),
            ("peak traced memory during the reduction (tracemalloc)",
             f"{peak / 2**20:.1f} MiB ({peak / row_bytes:.1%} of the rows)"),
            ("peak RSS growth during the reduction", f"{max(rss1 - rss0, 0):.0f} MiB"),
            ("reduction wall time", f"{t_red:.2f} s ({n_rows / t_red / 1e6:.1f} M rows/s)"),
            ("check: ybar_i vs true theta_i, mean z / sd z (expect 0 / 1)",
             f"{z.mean():.3f} / {z.std(ddof=1):.3f}"),
            ("fit of the reduced data (marginal, 2 x 1000): cold (compile) / warm",
             f"{t_fit[0]:.2f} s / {t_fit[1]:.2f} s"),
        ], ("quantity", "value")),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 3
def eb_study(n_datasets: int = 10_000, repeats: int = 5) -> str:
    from hiermodel.studies import mse_study

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        study = mse_study(n_datasets, seed=0)
        times.append(time.perf_counter() - t0)
    tab = study.table
    rows = [(name, f"{r.mse:.3f} [{r.mse_lo:.3f}, {r.mse_hi:.3f}]",
             f"{r.gain:.3f} [{r.gain_lo:.3f}, {r.gain_hi:.3f}]", f"{r.relative:.3f}")
            for name, r in tab.iterrows()]
    return "\n".join([
        f"### MSE study, {n_datasets:,} datasets x 8 groups (the seed text's design, tau = 5), "
        f"every tau "
        f"estimator: median {np.median(times):.3f} s over {repeats} runs "
        "(simulation + 5 EB fits + table)",
        "",
        _table(rows, ("estimator", "MSE [95% MC CI]", "gain over no pooling [95% CI]",
                      "MSE / MSE(no pooling)")),
    ])


# ----------------------------------------------------------------------------- 4
def big_sbc(n_replicates: int) -> str:
    from hiermodel.studies import default_executor, sbc

    t0 = time.perf_counter()
    with default_executor() as pool:                      # a local process pool
        res = sbc(n_replicates, parameterization="noncentered", L=99, n_bins=20, draws=500,
                  tune=500, chains=2, seed=2026, executor=pool)
    elapsed = time.perf_counter() - t0
    rows = [(p, f"{r.chisq:.1f}", f"{r.chisq_p:.3f}", f"{r.ks:.3f}", f"{r.ks_p:.3f}")
            for p, r in res.tests.iterrows()]
    return "\n".join([
        f"### SBC, non-centered model, N = {n_replicates} replicates, L = 99 of 2 x 500 "
        f"draws, 20 bins: {'passed' if res.passed else 'FAILED'} at 1% "
        f"({elapsed:.0f} s, {int(res.replicates['divergences'].sum())} divergences in all)",
        "",
        _table(rows, ("parameter", "chi-square (19 df)", "p", "KS", "p")),
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (< 2 min)")
    ap.add_argument("--sbc", type=int, default=0, metavar="N",
                    help="also run a bigger SBC with N replicates (e.g. 1000)")
    ap.add_argument("--only-sbc", action="store_true", help="run only the SBC section")
    args = ap.parse_args()
    if args.only_sbc:
        print(big_sbc(args.sbc or 1000))
        return
    if args.quick:
        g, n, draws, dn, chunk = 100, 100_000, 500, 1_000_000, 100_000
    else:
        g, n, draws, dn, chunk = 1_000, 1_000_000, 1_000, 10_000_000, 100_000
    import platform

    print(f"# bench_scale ({'quick' if args.quick else 'full'}) on {platform.node()}, "
          f"{os.cpu_count()} CPUs\n")
    t0 = time.perf_counter()
    print(eb_study(), "\n", flush=True)
    print(dask_reduction(dn, g, chunk), "\n", flush=True)
    print(suff_vs_rows(g, n, draws=draws, tune=draws, chains=2), "\n", flush=True)
    if args.sbc:
        print(big_sbc(args.sbc), "\n", flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
