"""Wall-clock ratio serial / Dask LocalCluster for a restricted Table 1 re-run (``bayes_atlas.evaluate``).

Run: .venv/bin/python benchmarks/distributed_evaluate.py [--workers 2 --splits random,N --draws 300]

Times the same ``evaluate`` call twice, serially in this process and on a LocalCluster of
``--workers`` single-threaded worker processes (created and closed inside the call, its
start-up counted), checks that the two tables are identical (the ``seconds`` column aside)
and prints both wall times, the ratio and the load average before each run.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from bayes_atlas.inference import configure_jax


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--splits", default="random,N")
    parser.add_argument("--laws", default="csl,dcsl,msl,atlas_dt,atlas_dt_other,atlas,bayes_atlas")
    parser.add_argument("--draws", type=int, default=300, help="draws = tune of the Bayesian fits")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--order", default="serial,dask", help="which run first")
    args = parser.parse_args()
    configure_jax(args.chains)  # the serial run: one host device per chain, as in a worker

    from bayes_atlas.evaluation import evaluate

    kwargs = dict(
        laws=tuple(args.laws.split(",")),
        splits=tuple(args.splits.split(",")),
        n_starts=args.starts,
        fit_kwargs={"draws": args.draws, "tune": args.draws, "chains": args.chains},
    )
    tables, seconds = {}, {}
    for how in args.order.split(","):
        print(f"{how}: load average before {os.getloadavg()}", flush=True)
        start = time.perf_counter()
        tables[how] = evaluate(None, workers=args.workers if how == "dask" else None, **kwargs)
        seconds[how] = time.perf_counter() - start
        print(f"{how}: {seconds[how]:.1f} s", flush=True)
    pd.testing.assert_frame_equal(tables["serial"].drop(columns="seconds"), tables["dask"].drop(columns="seconds"))
    print("tables identical (seconds column aside)")
    print(tables["serial"][tables["serial"]["language"] == "mean"][["split", "law", "r2", "coverage90", "seconds"]])
    print(
        f"serial {seconds['serial']:.1f} s, {args.workers} workers {seconds['dask']:.1f} s: "
        f"ratio {seconds['serial'] / seconds['dask']:.2f}x on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
