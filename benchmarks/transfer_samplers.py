"""The transfer model on the published matrix with NumPyro NUTS, PyMC's NUTS and nutpie, side by side.

Run: .venv/bin/python benchmarks/transfer_samplers.py [--draws 1000 --tune 1000 --chains 4]
(nutpie is optional: `pip install -e '.[bench]'`; without it its row says so.)

Every sampler runs the same PyMC model (bayes_atlas.models.transfer) with the same
draws, tuning and seed, in one process. Printed per sampler: wall time (compilation
included), divergences, max r_hat, min bulk ESS over every sampled quantity, ESS per
second, and the ratios to NumPyro.
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd
from _samplers import diagnostics_row, ratio_table

from bayes_atlas.inference import configure_jax, diagnose, sample_nuts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samplers", default="numpyro,pymc,nutpie")
    args = parser.parse_args()
    configure_jax(args.chains)  # before anything starts JAX, so NumPyro chains run in parallel

    from bayes_atlas.datasets import transfer_matrix
    from bayes_atlas.transfer import TransferModel

    rows = []
    for sampler in args.samplers.split(","):
        model = TransferModel().build(transfer_matrix())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                idata, wall = sample_nuts(
                    model,
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
        sampled = [rv.name for rv in model.free_RVs if rv.name in idata["posterior"].data_vars]
        d = diagnose(idata, var_names=sampled, wall_time_s=wall, sampler=sampler)
        rows.append(diagnostics_row(sampler, d))
    table = ratio_table(rows, "numpyro")
    with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
        print(f"\ntransfer model, published 38 x 38 matrix, {args.chains} chains x ({args.tune} tune + {args.draws} draws)")
        print(table.to_string())


if __name__ == "__main__":
    main()
