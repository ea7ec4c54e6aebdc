"""Cost curve of the default law fit: wall time, ESS/s and peak memory against table size.

Run: .venv/bin/python benchmarks/cost_curve.py [--sizes 100:10,1000:50,10000:200 --law chinchilla
      --reduced 10000:150:150]

Each size ``RUNS:LANGUAGES`` is a synthetic table: LANGUAGES languages (real ISO 639 codes),
each with its own Chinchilla law drawn from the default population
(``LawConfig.table_centres(1.0)``, ``theta_sd``), RUNS / LANGUAGES runs per language on a grid of
model sizes (50M-4B) and token counts (1B-200B), log losses with 2% noise; the loss is the
package's own ``get_law("chinchilla").mean_log_loss``. Every size is fitted with
``bayes_atlas.fit(runs, law=...)`` at its defaults (4 chains x (700 tuning + 1300 draws)) in
a fresh process (``--one``), so peak memory (``ru_maxrss``) is that fit's alone; sizes named in
``--reduced RUNS:TUNE:DRAWS`` are fitted at fewer iterations and their time at the defaults
extrapolated: the sampler's time less JAX compilation (``jax.monitoring`` events) scaled
from the iterations run to 2000, the rest (model building, compilation, diagnostics) kept;
tuning steps are assumed to cost what draws do (early tuning often builds longer trees,
so this is rough), and such rows are marked ``extrapolated``. The growth exponent is the slope of log(seconds) on log(runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

DEFAULT_SIZES = "100:10,1000:50,10000:200"


def language_codes(n: int) -> list[str]:
    """``n`` distinct ISO 639 codes that the run-table schema accepts (two-letter ones first)."""
    from iso639 import iter_langs

    from bayes_atlas.languages import normalize_code

    codes: list[str] = []
    candidates = sorted(lang.pt1 for lang in iter_langs() if lang.pt1)
    candidates += sorted(
        lang.pt3
        for lang in iter_langs()
        if not lang.pt1 and lang.pt3 and lang.type() == "Living" and lang.scope() == "Individual"
    )
    for code in candidates:
        try:
            code = normalize_code(code)
        except Exception:  # noqa: BLE001 - skip codes the schema refuses (special, retired)
            continue
        if code not in codes:
            codes.append(code)
        if len(codes) == n:
            return codes
    raise ValueError(f"only {len(codes)} usable language codes")


def synthetic_table(n_runs: int, n_languages: int, seed: int = 0) -> object:
    """A run table of about ``n_runs`` runs over ``n_languages`` languages, per-language Chinchilla laws."""
    import pandas as pd

    from bayes_atlas.laws import get_law
    from bayes_atlas.laws.design import Design
    from bayes_atlas.models.law import LawConfig
    from bayes_atlas.runs import RunTable

    rng = np.random.default_rng(seed)
    config = LawConfig(law="chinchilla")
    per_language = max(int(round(n_runs / n_languages)), 4)
    sizes = int(np.ceil(np.sqrt(per_language)))
    grid_n, grid_d = np.meshgrid(np.geomspace(5e7, 4e9, sizes), np.geomspace(1e9, 2e11, sizes), indexing="ij")
    law = get_law("chinchilla")
    rows = []
    for code in language_codes(n_languages):
        theta = np.asarray(LawConfig.table_centres(1.0)) + np.asarray(config.theta_sd) * rng.normal(size=5)
        pick = rng.choice(grid_n.size, size=per_language, replace=False)
        N, D = grid_n.ravel()[pick], grid_d.ravel()[pick]
        params = dict(zip(("log_E", "a", "alpha", "b", "beta"), theta, strict=True))
        log_loss = law.mean_log_loss(np, Design.of_run(params=N, tokens=D), params) + 0.02 * rng.normal(size=per_language)
        for i in range(per_language):
            rows.append(
                {
                    "run_id": f"{code}-{i}",
                    "language": code,
                    "params": N[i],
                    "loss": float(np.exp(log_loss[i])),
                    "source": code,
                    "tokens": D[i],
                }
            )
    return RunTable.from_frame(pd.DataFrame(rows))


def one(n_runs: int, n_languages: int, law: str, tune: int | None, draws: int | None, seed: int) -> dict[str, object]:
    """Fit one size in this process; return its measurements."""
    from bayes_atlas import defaults
    from bayes_atlas.inference import configure_jax

    configure_jax(defaults.CHAINS)
    import jax

    import bayes_atlas

    compile_s = [0.0]
    events = (
        "/jax/core/compile/backend_compile_duration",
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
    )

    def listener(event: str, duration: float, **_: object) -> None:
        if event in events:
            compile_s[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)

    runs = synthetic_table(n_runs, n_languages, seed)
    kwargs = {} if tune is None else {"tune": tune, "draws": draws}
    start = time.perf_counter()
    fit = bayes_atlas.fit(runs, law=law, random_seed=seed, progressbar=False, warn=False, allow_failed=True, **kwargs)
    seconds = time.perf_counter() - start
    d = fit.diagnostics
    return {
        "runs": len(runs),
        "languages": len(runs.languages),
        "law": law,
        "tune": tune if tune is not None else defaults.TUNE,
        "draws": draws if draws is not None else defaults.DRAWS,
        "seconds": seconds,
        "sampler_seconds": d.wall_time_s,
        "compile_seconds": compile_s[0],
        "min_ess_bulk": d.min_ess_bulk,
        "ess_per_s": d.min_ess_bulk / seconds,
        "max_r_hat": d.max_r_hat,
        "divergences": d.divergences,
        "tree_depth_hits": d.tree_depth_hits,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_before": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="RUNS:LANGUAGES, comma-separated")
    parser.add_argument("--law", default="chinchilla")
    parser.add_argument("--reduced", default="10000:150:150", help="RUNS:TUNE:DRAWS sizes fitted at fewer iterations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.one:
        n_runs, n_languages, tune, draws = (int(v) if v != "-" else None for v in args.one.split(":"))
        print("RESULT " + json.dumps(one(n_runs, n_languages, args.law, tune, draws, args.seed)), flush=True)
        return
    reduced = {int(s.split(":")[0]): s.split(":")[1:] for s in args.reduced.split(",") if s}
    rows = []
    for size in args.sizes.split(","):
        n_runs, n_languages = (int(v) for v in size.split(":"))
        tune, draws = reduced.get(n_runs, ["-", "-"])
        print(f"fitting {n_runs} runs / {n_languages} languages (tune {tune}, draws {draws}); load {os.getloadavg()}", flush=True)
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                f"{n_runs}:{n_languages}:{tune}:{draws}",
                "--law",
                args.law,
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            print(done.stdout[-2000:], done.stderr[-4000:])
            raise SystemExit(f"size {size} failed")
        row = json.loads(lines[-1][len("RESULT ") :])
        from bayes_atlas import defaults

        iterations = row["tune"] + row["draws"]
        full = defaults.TUNE + defaults.DRAWS
        row["extrapolated"] = iterations != full
        # Sampling time without compilation scales with the iterations; the rest (model
        # building, compilation, diagnostics) does not.
        sampling = max(row["sampler_seconds"] - row["compile_seconds"], 0.0)
        row["seconds_at_defaults"] = row["seconds"] + sampling * (full / iterations - 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    import pandas as pd

    table = pd.DataFrame(rows)
    slope = np.polyfit(np.log(table["runs"]), np.log(table["seconds_at_defaults"]), 1)[0] if len(table) > 1 else float("nan")
    columns = [
        "runs",
        "languages",
        "tune",
        "draws",
        "seconds",
        "compile_seconds",
        "seconds_at_defaults",
        "extrapolated",
        "min_ess_bulk",
        "ess_per_s",
        "max_r_hat",
        "divergences",
        "tree_depth_hits",
        "peak_rss_mib",
        "load_before",
    ]
    print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"growth exponent (slope of log seconds at defaults on log runs): {slope:.2f}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"rows": rows, "exponent": slope}, handle, indent=1)


if __name__ == "__main__":
    main()
