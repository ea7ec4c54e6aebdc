"""The ATLAS law on the emulated study (790 rows, 50 languages) with several NUTS samplers, side by side.

Run: .venv/bin/python benchmarks/law_fit.py [--samplers numpyro,pymc,nutpie --chains 4 --draws 1300 --tune 700]
GPU: see benchmarks/gpu.sh.

Prints per sampler: wall time (compilation included), divergences, max r_hat, min bulk
ESS, ESS/s and the ratios to the first sampler. Then the field's way on the same table:
the multi-start Huber point fit of the ATLAS law per language (``bayes_atlas.pointfit``,
languages with at least 5 rows) and its bootstrap: ``--bootstrap`` resamples are timed and
the cost of 1,000 is extrapolated linearly (each resample is an independent refit), with the
ratios to the first sampler's Bayesian fit.
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd
from _samplers import diagnostics_row, ratio_table

from bayes_atlas.inference import configure_jax
from bayes_atlas.scaling import DEFAULT_DRAWS, DEFAULT_TUNE

DESIGNS = ("monolingual", "unimax", "monolingual_2b", "bilingual_2b", "bilingual")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default="numpyro")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=DEFAULT_DRAWS, help="per chain (default: bayes_atlas.fit's)")
    parser.add_argument("--tune", type=int, default=DEFAULT_TUNE, help="per chain (default: bayes_atlas.fit's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--point-starts", type=int, default=8, help="starts per language of the point fit")
    parser.add_argument("--bootstrap", type=int, default=10, help="bootstrap resamples to time (0: skip)")
    args = parser.parse_args()
    configure_jax(args.chains)  # before JAX starts: one host device per chain

    import bayes_atlas
    from bayes_atlas.simulate import atlas_study

    runs, _ = atlas_study(seed=args.seed)
    subset = runs.subset(runs.frame["design"].isin(DESIGNS).to_numpy())
    rows = []
    for sampler in args.samplers.split(","):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = bayes_atlas.fit(
                    subset,
                    law="atlas",
                    draws=args.draws,
                    tune=args.tune,
                    chains=args.chains,
                    random_seed=args.seed,
                    nuts_sampler=sampler,
                    progressbar=False,
                )
            except ImportError as error:
                print(f"{sampler}: skipped ({error})")
                continue
        rows.append(diagnostics_row(sampler, fit.diagnostics))
    table = ratio_table(rows)
    first = table.index[0]
    with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
        print(f"\nATLAS law, emulated study ({len(subset)} rows), {args.chains} chains x ({args.tune} + {args.draws})")
        print(table.to_string())

    import time

    from bayes_atlas.pointfit import bootstrap, point_fit

    start = time.perf_counter()
    point = point_fit(subset, "atlas", n_starts=args.point_starts, seed=args.seed)
    point_s = time.perf_counter() - start
    bayes_s = table.loc[first, "wall_s"]
    print(
        f"\npoint fit (ATLAS law, {len(point.params)} languages with >= 5 rows, {args.point_starts} starts each): {point_s:.1f} s; "
        f"Bayesian ({first}, all {subset.frame['language'].nunique()} languages) / point = {bayes_s / point_s:.2f}"
    )
    if args.bootstrap:
        start = time.perf_counter()
        bootstrap(subset, "atlas", n_resamples=args.bootstrap, seed=args.seed, n_starts=args.point_starts)
        per_resample = (time.perf_counter() - start) / args.bootstrap
        print(
            f"bootstrap: {per_resample:.1f} s per resample (measured over {args.bootstrap}); 1,000 resamples ~ "
            f"{1000 * per_resample / 60:.0f} min; bootstrap(1000) / Bayesian = {1000 * per_resample / bayes_s:.1f}"
        )


if __name__ == "__main__":
    main()
