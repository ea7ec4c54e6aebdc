"""Held-out accuracy of the transfer model against the frequentist baselines.

Two schemes, both scored on the printed values of the masked cells:

- ``random``: a random share of the observed cells (default 20%) is masked;
- ``language``: leave one language out, masking its whole row and column, so the model
  must predict a language it never saw from the population and its script / family.

Methods compared: the Bayesian transfer model (posterior predictive, observation noise
included), statsmodels OLS of BTS on same-script / same-family (with target and source
fixed effects when every held-out language still has cells), and row (target) means.
Intervals of the baselines are their usual normal prediction intervals. Column names follow
:mod:`bayes_atlas.calibration`: ``median``, ``lower50`` ... ``upper90``, ``coverage50``,
``coverage90``.

Examples
--------
>>> result = evaluate_random(fraction=0.2, seed=0, draws=300, tune=300)  # doctest: +SKIP
>>> result.scores  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from bayes_atlas import defaults

__all__ = ["HoldoutResult", "evaluate_languages", "evaluate_random", "score_predictions"]

LEVELS = (0.5, 0.9)


@dataclass(frozen=True)
class HoldoutResult:
    """Predictions for held-out cells and their scores.

    Attributes
    ----------
    predictions
        One row per (method, held-out cell): ``fold``, ``target``, ``source``, ``observed``,
        ``median`` (the point prediction), and ``lower50`` / ``upper50`` / ``lower90`` /
        ``upper90`` (equal-tailed predictive intervals).
    scores
        Index ``method``; columns ``rmse`` (of the median), ``coverage50``, ``coverage90``,
        ``width90`` (mean 90% interval width) and ``n_cells``.
    """

    predictions: pd.DataFrame
    scores: pd.DataFrame


def score_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """RMSE, interval coverage and width per method.

    Parameters
    ----------
    predictions
        :attr:`HoldoutResult.predictions` (several results concatenated are fine).

    Returns
    -------
    pandas.DataFrame
        Index ``method``; columns ``rmse``, ``coverage50``, ``coverage90``, ``width90``,
        ``n_cells``.
    """
    rows = {}
    for method, group in predictions.groupby("method", sort=False):
        error = group["median"] - group["observed"]
        row = {"rmse": float(np.sqrt(np.mean(error**2)))}
        for level in LEVELS:
            tag = int(round(level * 100))
            inside = (group["observed"] >= group[f"lower{tag}"]) & (group["observed"] <= group[f"upper{tag}"])
            row[f"coverage{tag}"] = float(inside.mean())
        row["width90"] = float((group["upper90"] - group["lower90"]).mean())
        row["n_cells"] = len(group)
        rows[method] = row
    return pd.DataFrame(rows).T.rename_axis("method")


def _cells_frame(matrix: xr.DataArray, mask: np.ndarray) -> pd.DataFrame:
    t, s = np.nonzero(mask)
    return pd.DataFrame(
        {
            "target": matrix.target.values[t],
            "source": matrix.source.values[s],
            "observed": matrix.values[t, s],
            "t": t,
            "s": s,
        }
    )


def _normal_interval(mean: np.ndarray, sd: np.ndarray, frame: pd.DataFrame, df: float | None = None) -> pd.DataFrame:
    out = frame.copy()
    out["median"] = mean  # symmetric: the mean is the median
    for level in LEVELS:
        tag = int(round(level * 100))
        q = stats.t.ppf((1 + level) / 2, df) if df else stats.norm.ppf((1 + level) / 2)
        out[f"lower{tag}"] = mean - q * sd
        out[f"upper{tag}"] = mean + q * sd
    return out


def _bayesian(train: xr.DataArray, cells: pd.DataFrame, fit_kwargs: dict[str, Any], seed: int) -> pd.DataFrame:
    from bayes_atlas.transfer import TransferModel

    fit_kwargs = dict(fit_kwargs)
    model = TransferModel(fit_kwargs.pop("config", None))
    fit = model.fit(train, random_seed=seed, progressbar=False, warn=False, **fit_kwargs)
    draws = fit.predict_matrix(noise=True, random_seed=seed).values
    draws = draws.reshape(-1, *draws.shape[2:])[:, cells["t"].to_numpy(), cells["s"].to_numpy()]
    out = cells.copy()
    out["median"] = np.median(draws, axis=0)
    for level in LEVELS:
        tag = int(round(level * 100))
        out[f"lower{tag}"], out[f"upper{tag}"] = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    out.attrs["diagnostics"] = fit.diagnostics
    return out


def _ols(train: xr.DataArray, cells: pd.DataFrame, fixed_effects: bool) -> pd.DataFrame:
    import statsmodels.formula.api as smf

    from bayes_atlas.transfer_stats import pair_table

    pairs = pair_table(train)
    formula = "bts ~ same_script + same_family" + (" + C(target) + C(source)" if fixed_effects else "")
    result = smf.ols(formula, pairs).fit()
    scripts = dict(zip(train.target.values, train.target_script.values, strict=True))
    families = dict(zip(train.target.values, train.target_family.values, strict=True))
    new = pd.DataFrame(
        {
            "target": cells["target"].to_numpy(),
            "source": cells["source"].to_numpy(),
            "same_script": [int(scripts[t] == scripts[s]) for t, s in zip(cells["target"], cells["source"], strict=True)],
            "same_family": [int(families[t] == families[s]) for t, s in zip(cells["target"], cells["source"], strict=True)],
        }
    )
    frame = result.get_prediction(new).summary_frame(alpha=0.1)
    sd = np.sqrt(frame["mean_se"].to_numpy() ** 2 + result.scale)
    return _normal_interval(frame["mean"].to_numpy(), sd, cells, df=result.df_resid)


def _row_means(train: xr.DataArray, cells: pd.DataFrame) -> pd.DataFrame:
    values = train.values.copy()
    np.fill_diagonal(values, np.nan)
    counts = np.isfinite(values).sum(axis=1)
    row_mean = np.where(counts > 0, np.nanmean(np.where(counts[:, None] > 0, values, 0.0), axis=1), np.nan)
    grand = np.nanmean(values)
    residual = values - row_mean[:, None]
    within_sd = float(np.sqrt(np.nansum(residual**2) / (np.isfinite(residual).sum() - (counts > 0).sum())))
    between_sd = float(np.nanstd(row_mean))
    t = cells["t"].to_numpy()
    seen = counts[t] > 0
    mean = np.where(seen, row_mean[t], grand)
    # An unseen row gets the grand mean and the spread of row means on top of the within-row spread.
    sd = np.where(
        seen,
        within_sd * np.sqrt(1 + 1 / np.maximum(counts[t], 1)),
        np.sqrt(within_sd**2 + between_sd**2),
    )
    return _normal_interval(mean, sd, cells)


def _fold(
    matrix: xr.DataArray, fold: str, mask: np.ndarray, fit_kwargs: dict[str, Any], seed: int
) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """Every method's predictions of one fold's masked cells, and the Bayesian fit's diagnostics."""
    train = matrix.where(~xr.DataArray(mask, dims=("target", "source")))
    train.attrs = matrix.attrs
    cells = _cells_frame(matrix, mask)
    seen = np.isfinite(train.values) & ~np.eye(mask.shape[0], dtype=bool)
    full_rows = bool(seen.any(axis=1).all() and seen.any(axis=0).all())
    methods = {
        "bayesian_transfer_model": lambda: _bayesian(train, cells, fit_kwargs, seed),
        "ols_covariates": lambda: _ols(train, cells, fixed_effects=False),
        "row_means": lambda: _row_means(train, cells),
    }
    if full_rows:
        methods["ols_fixed_effects"] = lambda: _ols(train, cells, fixed_effects=True)
    frames, diagnostics = [], []
    for method, run in methods.items():
        prediction = run()
        if "diagnostics" in prediction.attrs:
            diagnostics.append({"fold": fold, **prediction.attrs["diagnostics"].to_dict()})
        prediction.insert(0, "method", method)
        prediction.insert(1, "fold", fold)
        frames.append(prediction.drop(columns=["t", "s"]))
    return frames, diagnostics


def _evaluate(
    matrix: xr.DataArray,
    folds: list[tuple[str, np.ndarray]],
    fit_kwargs: dict[str, Any],
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
) -> HoldoutResult:
    from bayes_atlas.distributed import Task, run_tasks

    chains = int(fit_kwargs.get("chains", defaults.CHAINS))
    tasks = [
        Task(
            _fold,
            {"matrix": matrix, "fold": fold, "mask": mask, "fit_kwargs": fit_kwargs, "seed": seed},
            jax_devices=chains,
            key=f"transfer-fold-{fold}",
        )
        for fold, mask in folds
    ]
    results = run_tasks(tasks, workers=workers, scheduler=scheduler)
    frames = [frame for fold_frames, _ in results for frame in fold_frames]
    diagnostics = [row for _, fold_rows in results for row in fold_rows]
    predictions = pd.concat(frames, ignore_index=True)
    scores = score_predictions(predictions)
    scores.attrs["diagnostics"] = pd.DataFrame(diagnostics)
    return HoldoutResult(predictions, scores)


def evaluate_random(
    matrix: xr.DataArray | None = None,
    *,
    fraction: float = 0.2,
    seed: int = defaults.SEED,
    workers: int | None = None,
    scheduler: str | None = None,
    **fit_kwargs: Any,
) -> HoldoutResult:
    """Mask a random ``fraction`` of the observed off-diagonal cells and predict them.

    Parameters
    ----------
    matrix
        Transfer matrix (default: the published one).
    fraction
        Share of observed cells to hold out.
    seed
        Seed of the mask and of the fit.
    workers
        Fit the folds on a Dask ``LocalCluster`` of this many single-threaded worker
        processes, created and closed inside the call (:func:`bayes_atlas.distributed.run_tasks`);
        the same result as the serial run (the diagnostics' wall times aside).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to fit the folds on instead.
    **fit_kwargs
        Passed to :meth:`bayes_atlas.transfer.TransferModel.fit` (``draws``, ``tune``, ...);
        ``config`` (a :class:`bayes_atlas.transfer.TransferConfig`) chooses the model, e.g.
        ``TransferConfig(population="normal")``.

    Returns
    -------
    HoldoutResult
        Per-cell predictions and scores (``coverage50``, ``coverage90``, ...) per method.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    matrix = _default_matrix(matrix)
    observed = np.isfinite(matrix.values) & ~np.eye(matrix.shape[0], dtype=bool)
    index = np.flatnonzero(observed)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(index, size=int(round(fraction * index.size)), replace=False)
    mask = np.zeros(matrix.shape, dtype=bool)
    mask.flat[chosen] = True
    return _evaluate(matrix, [(f"random_{fraction:g}_seed{seed}", mask)], fit_kwargs, seed, workers, scheduler)


def evaluate_languages(
    matrix: xr.DataArray | None = None,
    *,
    languages: Iterable[str] | None = None,
    seed: int = defaults.SEED,
    workers: int | None = None,
    scheduler: str | None = None,
    **fit_kwargs: Any,
) -> HoldoutResult:
    """Leave each language out in turn (its row and column masked) and predict its cells.

    Parameters
    ----------
    matrix
        Transfer matrix (default: the published one).
    languages
        Languages to leave out (default: all of them; one fit each).
    seed
        Seed of the fits.
    workers
        Fit the folds on a Dask ``LocalCluster`` of this many single-threaded worker
        processes, created and closed inside the call (:func:`bayes_atlas.distributed.run_tasks`);
        the same result as the serial run (the diagnostics' wall times aside).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to fit the folds on instead.
    **fit_kwargs
        Passed to :meth:`bayes_atlas.transfer.TransferModel.fit` (``draws``, ``tune``, ...);
        ``config`` (a :class:`bayes_atlas.transfer.TransferConfig`) chooses the model.

    Returns
    -------
    HoldoutResult
        Per-cell predictions and scores per method; ``fold`` is the language left out.

    Raises
    ------
    ValueError
        If a language is not in the matrix.
    """
    from bayes_atlas.distributed import check_scheduler_options

    check_scheduler_options(workers, scheduler)
    matrix = _default_matrix(matrix)
    codes = list(matrix.target.values)
    chosen = codes if languages is None else list(languages)
    unknown = [c for c in chosen if c not in codes]
    if unknown:
        raise ValueError(f"languages {unknown} are not in the matrix")
    folds = []
    for code in chosen:
        i = codes.index(code)
        mask = np.zeros(matrix.shape, dtype=bool)
        mask[i, :] = mask[:, i] = True
        mask &= np.isfinite(matrix.values)
        np.fill_diagonal(mask, False)
        folds.append((code, mask))
    return _evaluate(matrix, folds, fit_kwargs, seed, workers, scheduler)


def _default_matrix(matrix: xr.DataArray | None) -> xr.DataArray:
    if matrix is None:
        from bayes_atlas.datasets import transfer_matrix

        matrix = transfer_matrix()
    return matrix
