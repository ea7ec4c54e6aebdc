"""Vectorised numeric compute optimum vs a per-draw scipy loop, side by side.

Run: .venv/bin/python benchmarks/compute_optimum.py [--draws 4000]

Both solve min_N E + A/N^alpha + B/S(C/(6N); U)^beta for every posterior draw (here:
synthetic draws); the script checks they agree and prints wall times and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import minimize_scalar

from bayes_atlas.laws import compute_optimal_repeated, saturate


def per_draw_loop(C, E, A, alpha, B, beta, U, lam):  # noqa: ANN001, ANN201
    out = np.empty_like(alpha)
    for i in range(alpha.size):

        def loss(log_N: float, i: int = i) -> float:
            N = np.exp(log_N)
            return float(E + A * N ** -alpha[i] + B * saturate(C / (6 * N), U, lam[i]) ** -beta[i])

        out[i] = np.exp(minimize_scalar(loss, bounds=(np.log(1e5), np.log(1e14)), method="bounded", options={"xatol": 1e-9}).x)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    alpha = rng.normal(0.34, 0.02, args.draws)
    beta = rng.normal(0.28, 0.02, args.draws)
    lam = rng.lognormal(np.log(1 / 15.4), 0.2, args.draws)
    C, E, A, B, U = 1e22, 1.7, 406.4, 410.7, 2e10

    start = time.perf_counter()
    N_vec, _, _ = compute_optimal_repeated(C, E, A, alpha, B, beta, U=U, lam=lam)
    vectorised = time.perf_counter() - start
    start = time.perf_counter()
    N_loop = per_draw_loop(C, E, A, alpha, B, beta, U, lam)
    loop = time.perf_counter() - start

    print(f"draws: {args.draws}")
    print(f"max relative difference in N*: {np.max(np.abs(N_vec / N_loop - 1)):.2e}")
    print(f"vectorised golden section : {vectorised * 1e3:8.1f} ms")
    print(f"scipy loop over draws     : {loop * 1e3:8.1f} ms")
    print(f"ratio loop / vectorised   : {loop / vectorised:8.1f} x")


if __name__ == "__main__":
    main()
