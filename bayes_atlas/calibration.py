"""Calibration of the law on real public runs: held-out predictive intervals, scored.

Each function fits the hierarchical law to part of a public run table, predicts the held-out
rows and returns one row per held-out run with the posterior predictive mean and 50% / 90%
intervals (``table``) plus a summary of coverage and error (``table.attrs["summary"]``), so
notebooks and the slow tests share one code path.

- :func:`goldfish_holdout`: Goldfish (Chang et al. 2024), 166 FLORES languages with 2-6 model
  sizes each, losses in bits per sentence; the largest data size of every language is held
  out, and partial pooling is compared with fitting every language alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["goldfish_holdout", "score_holdout"]


def score_holdout(runs: Any, result: Any, test: np.ndarray, *, random_seed: int = 0) -> pd.DataFrame:
    """Posterior predictive summary of the ``test`` rows of ``runs`` under a fitted law.

    Returns
    -------
    pandas.DataFrame
        One row per test row: ``run_id``, ``language``, ``observed``, ``mean``, ``lower50``,
        ``upper50``, ``lower90``, ``upper90``, ``in50``, ``in90``, ``relative_error``.
    """
    held = runs.subset(test)
    draws = result.predict(held, random_seed=random_seed).values.reshape(-1, int(test.sum()))
    observed = held.frame["loss"].to_numpy(dtype=float)
    q = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
    mean = draws.mean(axis=0)
    return pd.DataFrame(
        {
            "run_id": held.frame["run_id"].to_numpy(),
            "language": held.frame["language"].to_numpy(),
            "observed": observed,
            "mean": mean,
            "lower50": q[1],
            "upper50": q[2],
            "lower90": q[0],
            "upper90": q[3],
            "in50": (q[1] <= observed) & (observed <= q[2]),
            "in90": (q[0] <= observed) & (observed <= q[3]),
            "relative_error": mean / observed - 1.0,
        }
    )


def goldfish_holdout(
    *,
    pooling: tuple[str, ...] = ("partial", "none"),
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int = 0,
    progressbar: bool = False,
) -> pd.DataFrame:
    """Hold out each Goldfish language's largest data size; partial pooling vs no pooling.

    The Chinchilla-form law on (parameters, training tokens) is fitted to the remaining runs
    of all 166 languages at once (losses per language rescaled, see :func:`bayes_atlas.fit`),
    with ``pooling="partial"`` (a learnt population) and ``"none"`` (each language alone,
    same priors). Goldfish models train 10 epochs on every dataset, so repetition is a
    constant factor and the total-token (Chinchilla) form is used.

    Returns
    -------
    pandas.DataFrame
        :func:`score_holdout` rows plus ``pooling`` and ``n_train`` (the language's training
        runs). ``attrs["summary"]``: coverage of the 50% / 90% intervals, median absolute
        relative error and count, by pooling and by ``n_train``; ``attrs["diagnostics"]``:
        the fits' diagnostics.
    """
    from bayes_atlas.models.law import LawConfig
    from bayes_atlas.public_runs import goldfish
    from bayes_atlas.scaling import fit

    runs = goldfish()
    frame = runs.frame
    tokens = runs.total_tokens.to_numpy()
    languages = frame["language"].to_numpy()
    largest = pd.Series(tokens).groupby(languages).transform("max").to_numpy()
    test = tokens >= largest
    n_train = pd.Series(~test).groupby(languages).sum()
    tables, diagnostics = [], {}
    for mode in pooling:
        result = fit(
            runs.subset(~test),
            law="chinchilla",
            config=LawConfig(pooling=mode),
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            warn=False,
        )
        diagnostics[mode] = result.diagnostics.to_dict()
        scored = score_holdout(runs, result, test, random_seed=random_seed)
        scored["pooling"] = mode
        scored["n_train"] = scored["language"].map(n_train).to_numpy()
        tables.append(scored)
    table = pd.concat(tables, ignore_index=True)
    grouped = table.assign(abs_error=table["relative_error"].abs()).groupby(["pooling", "n_train"])
    by_size = grouped.agg(coverage50=("in50", "mean"), coverage90=("in90", "mean"), median_abs_error=("abs_error", "median"), n=("in90", "size"))
    overall = table.assign(abs_error=table["relative_error"].abs()).groupby("pooling").agg(
        coverage50=("in50", "mean"), coverage90=("in90", "mean"), median_abs_error=("abs_error", "median"), n=("in90", "size")
    )
    overall.index = pd.MultiIndex.from_arrays([overall.index, ["all"] * len(overall)], names=["pooling", "n_train"])
    table.attrs["summary"] = pd.concat([by_size.astype({"n": int}).rename(index=str, level=1), overall])
    table.attrs["diagnostics"] = diagnostics
    return table
