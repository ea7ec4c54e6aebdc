"""Latency of the mixture optimiser and the next-run advisor, as ratios, in one run.

Run: .venv/bin/python benchmarks/mixture.py [--repeats 5] [--cli]

Prints the median warm time (posteriors loaded and cached) of ``optimal_mixture`` for Catalan
at 1e21 FLOPs with 10 candidate languages, and of ``next_run`` with 50 candidate runs, each
against ``posterior_recommend`` (the existing decision) as the unit, and against the issue's
targets (1 s and 60 s on 2 cores). With ``--cli`` it also times the commands the issue names,
``bayes-atlas mixture ... --json`` and ``bayes-atlas next-run ... --json`` (50 candidate runs
from a CSV), each a fresh process (imports and posterior loading included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CANDIDATES = ["es", "pt", "fr", "it", "en", "de", "ro", "nl", "id", "ms"]


def _time(fn, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cli", action="store_true", help="also time the CLI commands (fresh processes)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import numpy as np

    from bayes_atlas import next_run, optimal_mixture, posterior_recommend
    from bayes_atlas.posteriors import resolve

    print(f"start: {_load()}")
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
    print(f"warm latency, median of {args.repeats} (2-core machine; {_load()} at the end)")
    for name, seconds in times.items():
        target = next((v for k, v in targets.items() if name.startswith(k)), None)
        extra = f", {seconds / target:.2f} x the issue's {target:g} s target" if target else ""
        print(f"  {name:55s} {seconds:7.3f} s  ({seconds / unit:.2f} x posterior_recommend{extra})")
    if not args.cli:
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "runs.csv"
        csv.write_text("params,tokens\n" + "".join(f"{n:.6g},{d:.6g}\n" for n, d in grid))
        commands = {
            "bayes-atlas mixture --target ca --compute 1e21 --candidates <10> --json": [
                "mixture", "--target", "ca", "--compute", "1e21", "--candidates", ",".join(CANDIDATES), "--json",
            ],
            "bayes-atlas next-run --target ca --compute 1e22 --candidates <50 runs> --budget 1e21 --json": [
                "next-run", "--target", "ca", "--compute", "1e22", "--candidates", str(csv), "--budget", "1e21", "--json",
            ],
        }  # fmt: skip
        print(f"CLI, fresh process each (imports and posterior loading included), median of {args.repeats}")
        for name, argv in commands.items():

            def call(argv: list[str] = argv) -> None:
                subprocess.run([sys.executable, "-m", "bayes_atlas", *argv], check=True, capture_output=True)

            before = _load()
            seconds = _time(call, args.repeats)
            print(f"  {name:90s} {seconds:7.2f} s  ({before} before, {_load()} after)")


if __name__ == "__main__":
    main()
