"""Warm latency of the mixture optimiser and the next-run advisor, as ratios, in one run.

Run: .venv/bin/python benchmarks/mixture.py [--repeats 5]

Prints the median warm time (posteriors loaded and cached) of ``optimal_mixture`` for Catalan
at 1e21 FLOPs with 10 candidate languages, and of ``next_run`` with 50 candidate runs, each
against ``posterior_recommend`` (the existing decision) as the unit, and against the issue's
targets (1 s and 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

CANDIDATES = ["es", "pt", "fr", "it", "en", "de", "ro", "nl", "id", "ms"]


def _time(fn, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import numpy as np

    from bayes_atlas import next_run, optimal_mixture, posterior_recommend
    from bayes_atlas.posteriors import resolve

    law = resolve("law")
    grid = [(n, n * r) for n in np.geomspace(1e7, 3e8, 10) for r in (5.0, 10.0, 20.0, 40.0, 80.0)]  # 50 runs
    calls = {
        "posterior_recommend(ca, 1e21)": lambda: posterior_recommend("ca", 1e21, warn=False),
        "optimal_mixture(ca, 1e21, 10 candidates)": lambda: optimal_mixture("ca", 1e21, candidates=CANDIDATES, warn=False),
        "optimal_mixture(ca, 1e21, 10 candidates, U_ca=1e8)": lambda: optimal_mixture(
            "ca", 1e21, candidates=CANDIDATES, unique_tokens=1e8, warn=False
        ),
        "next_run(ca, 1e22, 50 candidates, budget 1e21)": lambda: next_run(law, "ca", 1e22, grid, budget=1e21, warn=False),
    }
    for fn in calls.values():  # warm: load and cache the posteriors
        fn()
    times = {name: _time(fn, args.repeats) for name, fn in calls.items()}
    unit = times["posterior_recommend(ca, 1e21)"]
    targets = {"optimal_mixture": 1.0, "next_run": 60.0}
    print(f"warm latency, median of {args.repeats} (2-core machine)")
    for name, seconds in times.items():
        target = next((v for k, v in targets.items() if name.startswith(k)), None)
        extra = f", {seconds / target:.2f} x the issue's {target:g} s target" if target else ""
        print(f"  {name:55s} {seconds:7.3f} s  ({seconds / unit:.2f} x posterior_recommend{extra})")


if __name__ == "__main__":
    main()
