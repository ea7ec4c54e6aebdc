"""Latency of decisions from the shipped posteriors, and the CLI cold start, in one run.

Run: .venv/bin/python benchmarks/recommend.py [--repeats 20]

Prints: the first call of ``posterior_recommend`` in a fresh process (imports + loading the
three posteriors), the per-call latency once they are cached (median of ``--repeats``), for
a monolingual target, a mixture and a language outside the fitted set, ``expand_languages``
and ``crossover``; then the wall time of ``bayes-atlas recommend`` (a cold process) against
``bayes-atlas --version`` (the floor: Python + click start-up), and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path


def _time(fn, repeats: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cold(cmd: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    first = _cold([sys.executable, "-c", "from bayes_atlas import posterior_recommend; posterior_recommend('ca', 1e21)"])
    from bayes_atlas.decisions import crossover, expand_languages, posterior_recommend

    posterior_recommend("ca", 1e21)
    rows = [
        ("posterior_recommend('ca', 1e21)", _time(lambda: posterior_recommend("ca", 1e21), args.repeats)),
        (
            "posterior_recommend('ca', 1e21, languages=['es','pt'])",
            _time(lambda: posterior_recommend("ca", 1e21, languages=["es", "pt"]), args.repeats),
        ),
        ("posterior_recommend('eu', 1e21)  (outside the fit)", _time(lambda: posterior_recommend("eu", 1e21), args.repeats)),
        ("expand_languages(2)", _time(lambda: expand_languages(2), args.repeats)),
        ("crossover('de', 2e9)", _time(lambda: crossover("de", 2e9), args.repeats)),
    ]
    print(f"fresh process, first posterior_recommend (imports + loading posteriors): {first:.2f} s")
    print(f"{'call (posteriors cached)':58s} {'median ms':>10s}")
    for name, seconds in rows:
        print(f"{name:58s} {1000 * seconds:10.1f}")

    cli = shutil.which("bayes-atlas") or str(Path(sys.executable).with_name("bayes-atlas"))
    floor = _cold([cli, "--version"])
    recommend = _cold([cli, "recommend", "--target", "ca", "--compute", "1e21"])
    print(
        f"\nCLI cold start: `bayes-atlas --version` {floor:.2f} s; `bayes-atlas recommend --target ca --compute 1e21` "
        f"{recommend:.2f} s; ratio {recommend / floor:.1f}x (goal: recommend under 3 s)"
    )


if __name__ == "__main__":
    main()
