"""The paper's law comparison (ATLAS Table 1), re-run with point fits and the Bayesian law.

:func:`evaluate` holds out each of the five test sets of ATLAS Table 1, fits every law to the
rest and scores the held-out rows: R^2 of the prediction (posterior mean for the Bayesian
fit) per evaluated language, averaged as the paper does, and for the Bayesian fit the
coverage of its 50% and 90% posterior predictive intervals.

Splits (test rows among the evaluated languages' rows):

- ``random``: 20% of rows, seeded;
- ``D``: per language, the 20% of rows with the most training tokens;
- ``N``: rows of the two largest model sizes in the table;
- ``C``: per language, the 20% of rows with the most compute ``6 N D``;
- ``M``: unseen mixtures: all rows of 20% of the (non-Unimax) mixture ids, seeded.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas.distributed import Task, check_scheduler_options, run_tasks
from bayes_atlas.pointfit import POINT_LAWS, point_fit

__all__ = ["SPLITS", "TABLE1_LANGUAGES", "evaluate", "holdout_masks"]

SPLITS = ("random", "D", "N", "C", "M")
#: Languages of ATLAS Table 1's multilingual setting (mono: the first six).
TABLE1_LANGUAGES = ("en", "fr", "ru", "zh", "hi", "sw", "es", "de")
BAYES = "bayes_atlas"


def holdout_masks(
    runs: Any, languages: tuple[str, ...] = TABLE1_LANGUAGES, *, fraction: float = 0.2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Boolean test masks over the rows of ``runs``, one per split (see the module docstring)."""
    frame = runs.frame
    rng = np.random.default_rng(seed)
    evaluated = frame["language"].isin(languages).to_numpy()
    total = runs.total_tokens.to_numpy()
    params = frame["params"].to_numpy(dtype=float)
    masks = {}
    masks["random"] = evaluated & (rng.uniform(size=len(frame)) < fraction)
    by_language = frame["language"].to_numpy()

    def top_share(values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(frame), dtype=bool)
        for code in languages:
            rows = np.flatnonzero(by_language == code)
            if rows.size:
                cut = np.quantile(values[rows], 1.0 - fraction)
                out[rows] = values[rows] >= cut
        return out

    masks["D"] = top_share(total)
    largest = np.sort(np.unique(params))[-2:]
    masks["N"] = evaluated & np.isin(params, largest)
    masks["C"] = top_share(6.0 * params * total)
    if "mixture" in frame.columns:
        mixtures = frame.loc[evaluated & frame["mixture"].notna().to_numpy(), "mixture"].unique()
        mixtures = np.array(sorted(m for m in mixtures if m != "unimax"))
        held = rng.choice(mixtures, size=max(1, int(round(fraction * mixtures.size))), replace=False) if mixtures.size else []
        masks["M"] = evaluated & frame["mixture"].isin(held).to_numpy()
    else:
        masks["M"] = np.zeros(len(frame), dtype=bool)
    return masks


def _r2_by_language(codes: np.ndarray, observed: np.ndarray, predicted: np.ndarray, min_rows: int = 3) -> dict[str, float]:
    out = {}
    for code in np.unique(codes):
        rows = codes == code
        if rows.sum() < min_rows or not np.all(np.isfinite(predicted[rows])):
            continue
        y = observed[rows]
        out[str(code)] = float(1.0 - np.sum((y - predicted[rows]) ** 2) / np.sum((y - y.mean()) ** 2))
    return out


def evaluate(
    runs: Any = None,
    *,
    laws: tuple[str, ...] = (*POINT_LAWS, BAYES),
    splits: tuple[str, ...] = SPLITS,
    languages: tuple[str, ...] = TABLE1_LANGUAGES,
    seed: int = 0,
    n_starts: int = 8,
    fit_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Held-out comparison of the point-fitted laws and the Bayesian ATLAS law.

    Parameters
    ----------
    runs
        A run table; default the emulated study's ATLAS-law rows
        (:func:`bayes_atlas.scaling.emulated_study_runs`).
    laws
        Any of :data:`bayes_atlas.pointfit.POINT_LAWS` and ``"bayes_atlas"`` (the hierarchical
        ATLAS law, fitted to every training row of every language, transfer prior from the
        shipped transfer posterior).
    splits
        Any of :data:`SPLITS`.
    languages
        The evaluated languages (test rows and point fits are theirs).
    seed
        Seed of the random split, the mixture split, the starts and NUTS.
    n_starts
        Starts per language of the point fits.
    fit_kwargs
        Passed to :func:`bayes_atlas.fit` (e.g. ``draws``, ``tune``, ``chains``).
    progress
        Print one line per (split, law) fitted (as each finishes).
    workers
        Fit the (split, law) cells on a Dask ``LocalCluster`` of this many single-threaded
        worker processes, created and closed inside the call
        (:func:`bayes_atlas.distributed.run_tasks`). Same table as the serial run (the
        ``seconds`` column aside): each cell carries its seed and JAX settings.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to fit the cells on instead.

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per (split, law, language) plus ``language == "mean"`` (the paper's
        average over languages); columns ``r2``, ``coverage50``, ``coverage90`` (Bayesian fit
        only), ``n_test``, ``seconds``.
    """
    from bayes_atlas.scaling import emulated_study_runs

    check_scheduler_options(workers, scheduler)
    runs = emulated_study_runs(0) if runs is None else runs
    unknown = set(laws) - {*POINT_LAWS, BAYES}
    if unknown:
        raise ValueError(f"unknown laws {sorted(unknown)}; choose from {(*POINT_LAWS, BAYES)}")
    bad_splits = set(splits) - set(SPLITS)
    if bad_splits:
        raise ValueError(f"unknown splits {sorted(bad_splits)}; choose from {SPLITS}")
    masks = holdout_masks(runs, languages, seed=seed)
    chains = int((fit_kwargs or {}).get("chains", defaults.CHAINS))
    tasks = [
        Task(
            _score_one,
            {
                "runs": runs,
                "split": split,
                "law": law,
                "test": masks[split],
                "languages": tuple(languages),
                "seed": seed,
                "n_starts": n_starts,
                "fit_kwargs": fit_kwargs,
            },
            jax_devices=chains if law == BAYES else 0,
            key=f"evaluate-{split}-{law}",
        )
        for split in splits
        if masks[split].sum() > 0
        for law in laws
    ]

    def report(task: Task, records: list[dict[str, Any]]) -> None:
        mean = [r for r in records if r["language"] == "mean"]
        r2 = mean[0]["r2"] if mean else float("nan")
        seconds = mean[0]["seconds"] if mean else float("nan")
        print(f"{task.kwargs['split']:7s} {task.kwargs['law']:16s} mean R2 {r2:.3f} ({seconds:.0f} s)", flush=True)

    results = run_tasks(tasks, workers=workers, scheduler=scheduler, progress=report if progress else None)
    records = [record for result in results for record in result]
    return pd.DataFrame.from_records(records)


def _score_one(
    runs: Any,
    split: str,
    law: str,
    test: np.ndarray,
    languages: tuple[str, ...],
    seed: int,
    n_starts: int,
    fit_kwargs: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """One (split, law) cell of the table: fit on the training rows, score the ``test`` rows."""
    from bayes_atlas.calibration import score_holdout
    from bayes_atlas.scaling import fit

    codes = runs.frame["language"].to_numpy()
    observed = runs.frame["loss"].to_numpy(dtype=float)
    evaluated = np.isin(codes, languages)
    records = []
    start = time.perf_counter()
    cov50 = cov90 = np.full(test.sum(), np.nan)
    loo: dict[str, float] = {}
    if law == BAYES:
        kwargs = {"random_seed": seed, "progressbar": False, "warn": False}
        kwargs.update(fit_kwargs or {})
        result = fit(runs.subset(~test), law="atlas", **kwargs)
        scored = score_holdout(runs, result, test, random_seed=seed)
        predicted = scored["median"].to_numpy()
        cov50 = scored["in50"].to_numpy(dtype=float)
        cov90 = scored["in90"].to_numpy(dtype=float)
        loo = _loo(result)
    else:
        train = runs.subset(evaluated & ~test)
        predicted = point_fit(train, law, n_starts=n_starts, seed=seed).predict(runs.subset(test))
    seconds = time.perf_counter() - start
    r2 = _r2_by_language(codes[test], observed[test], predicted)
    for code, value in r2.items():
        rows = codes[test] == code
        records.append(
            {
                "split": split,
                "law": law,
                "language": code,
                "r2": value,
                "coverage50": float(np.nanmean(cov50[rows])) if law == BAYES else np.nan,
                "coverage90": float(np.nanmean(cov90[rows])) if law == BAYES else np.nan,
                "n_test": int(rows.sum()),
                "seconds": seconds,
                **loo,
            }
        )
    if r2:
        records.append(
            {
                "split": split,
                "law": law,
                "language": "mean",
                "r2": float(np.mean(list(r2.values()))),
                "coverage50": float(np.nanmean(cov50)) if law == BAYES else np.nan,
                "coverage90": float(np.nanmean(cov90)) if law == BAYES else np.nan,
                "n_test": int(test.sum()),
                "seconds": seconds,
                **loo,
            }
        )
    return records


def _loo(result: Any) -> dict[str, float]:
    """PSIS-LOO of a Bayesian fit on its training rows: elpd, its se, and rows with Pareto k > 0.7."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bad Pareto k: counted in pareto_k_bad
        loo = az.loo(result.datatree)
    k = np.asarray(loo.pareto_k)
    return {"elpd_loo": float(loo.elpd), "elpd_loo_se": float(loo.se), "pareto_k_bad": int(np.sum(k > 0.7))}
