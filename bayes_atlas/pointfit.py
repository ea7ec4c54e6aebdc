"""Multi-start Huber point fits of the laws ATLAS compares (the field's method), per language.

Each target language gets its own least-Huber fit of log loss (Hoffmann et al. 2022:
Huber delta 1e-3 on log residuals, L-BFGS-B from a grid of starts, keep the best), for

- ``csl``: Chinchilla, ``D`` = total tokens;
- ``dcsl``: data-constrained (Muennighoff et al. 2023), ``D'`` the repetition-saturated
  *target* tokens with the published ``R*_D = 15.39`` and ``N'`` with ``R*_N = 5.31``;
- ``msl``: He et al. 2024, Chinchilla on total tokens times ``p^-gamma`` with ``p`` the
  share of the target's language family in the mixture;
- ``atlas_dt``: ATLAS with ``D_eff = S(D_t)`` (repetition rate fitted);
- ``atlas_dt_other``: ``+ tau_other S(D_other)`` (every non-target token is "other");
- ``atlas``: the full law, ``+ tau_k S(D_k)`` for the three largest named sources.

Amplitudes are fitted at reference scale (``a``, ``b`` at N0 = 1e9, D0 = 1e10) so the
optimiser does not fight the A-alpha collinearity. :func:`bootstrap` resamples rows and
refits, which is how the field gets intervals today.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from bayes_atlas.laws import CORE, LawData, get_law, prepare_law_data
from bayes_atlas.laws.design import family_share

__all__ = ["POINT_LAWS", "PointFit", "bootstrap", "point_fit"]

POINT_LAWS = ("csl", "dcsl", "msl", "atlas_dt", "atlas_dt_other", "atlas")
BASE = CORE
#: The registered law each point law evaluates (its one mean); the ATLAS variants differ in
#: which tokens they let count (see :func:`_point_design`).
_REGISTERED = {
    "csl": "chinchilla",
    "dcsl": "dcsl",
    "msl": "msl",
    "atlas_dt": "atlas",
    "atlas_dt_other": "atlas",
    "atlas": "atlas",
}
_EXTRA = {
    "csl": (),
    "dcsl": (),
    "msl": ("gamma",),
    "atlas_dt": ("log_lam",),
    "atlas_dt_other": ("log_lam", "log_tau_other"),
    "atlas": ("log_lam", "log_tau_other"),
}
_BOUNDS = {
    "log_E": (np.log(0.05), np.log(5.0)),
    "a": (-8.0, 4.0),
    "alpha": (0.02, 1.5),
    "b": (-8.0, 4.0),
    "beta": (0.02, 1.5),
    "gamma": (-1.0, 1.0),
    "log_lam": (np.log(1e-3), np.log(2.0)),
    "log_tau_other": (np.log(1e-4), np.log(2.0)),
    # BTS in [-1, 1] (tau = BTS / (2 - BTS)): the published matrix spans -1.5 to 0.9 at the
    # paper's scale; wider weights let a 5-row fit buy any loss (measured: en->fr -0.46 from 5
    # rows predicted 46.6 nats for runs near 3.5).
    "tau": (-1 / 3, 1.0),
}


def _huber(residual: np.ndarray, delta: float) -> np.ndarray:
    absolute = np.abs(residual)
    return np.where(absolute <= delta, 0.5 * residual**2, delta * (absolute - 0.5 * delta))


class _Rows:
    """One language's rows: the law's design (as the point law sees it) and the transfer slots."""

    def __init__(self, data: LawData, rows: np.ndarray, family_share: np.ndarray, law: str) -> None:
        self.design = _point_design(law, data.design.replace(family_share=family_share).subset(rows))
        self.log_loss = data.log_loss[rows]
        pair = data.transfer_pair[rows]
        used = data.transfer_tokens[rows] > 0
        # Per transfer slot, 1 + the index of the pair's tau among this language's extras (0 unused).
        self.pairs = [int(p) for p in np.unique(pair[used])]
        position = {p: i + 1 for i, p in enumerate(self.pairs)}
        self.slot = np.where(used, np.vectorize(lambda p: position.get(int(p), 0))(pair), 0)


def _point_design(law: str, design: Any) -> Any:
    """ATLAS variants of Table 1: ``atlas_dt`` counts own tokens only, ``atlas_dt_other`` counts
    every other token as "other", ``atlas`` names the three largest sources."""
    if law == "atlas_dt":
        return design.replace(
            transfer_tokens=np.zeros_like(design.transfer_tokens), other_tokens=np.zeros_like(design.other_tokens)
        )
    if law == "atlas_dt_other":
        return design.replace(
            transfer_tokens=np.zeros_like(design.transfer_tokens), other_tokens=design.total_tokens - design.target_tokens
        )
    return design


def _log_loss(law: str, theta: np.ndarray, rows: _Rows) -> np.ndarray:
    """Log loss of point law ``law`` at parameter vector ``theta`` (core, then the law's extras)."""
    params: dict[str, Any] = dict(zip(BASE, theta[:5], strict=True))
    extra = theta[5:]
    if law == "msl":
        params["gamma"] = extra[0]
    elif law.startswith("atlas"):
        params["lam"] = np.exp(extra[0])
        params["tau_other"] = np.exp(extra[1]) if law != "atlas_dt" else 0.0
        taus = np.concatenate([[0.0], extra[2:]]) if law == "atlas" else np.zeros(1)
        params["tau"] = taus[rows.slot] if law == "atlas" else 0.0
    return get_law(_REGISTERED[law]).mean_log_loss(np, rows.design, params)


@dataclass
class PointFit:
    """Per-language point estimates of one law.

    Attributes
    ----------
    law
        One of :data:`POINT_LAWS`.
    params
        Index ``language``; one column per parameter (``log_E``, ``a``, ``alpha``, ``b``,
        ``beta`` and the law's extras; ``tau[<source>]`` for the full ATLAS law).
    objective
        Best Huber objective per language.
    skipped
        Languages not fitted, with the reason (too few rows for the law's parameters, one
        model size, one token count).
    loss_range
        ``(lowest, highest)`` training loss per fitted language; :meth:`predict` warns
        (``BA201``) for predictions far outside it.
    """

    law: str
    params: pd.DataFrame
    objective: pd.Series
    skipped: dict[str, str] = field(default_factory=dict)
    loss_range: dict[str, tuple[float, float]] = field(default_factory=dict)

    def predict(self, runs: Any) -> np.ndarray:
        """Predicted loss for every row of ``runs`` (NaN for a language the fit lacks).

        Transfer pairs the fit never saw get tau = 0.
        """
        data = prepare_law_data(runs)
        share = family_share(runs) if self.law == "msl" else np.ones(data.n_rows)
        out = np.full(data.n_rows, np.nan)
        for code in data.languages:
            if code not in self.params.index:
                continue
            rows_idx = np.flatnonzero(np.asarray(data.languages)[data.language_index] == code)
            rows = _Rows(data, rows_idx, share, self.law)
            out[rows_idx] = np.exp(_log_loss(self.law, self._theta(code, data, rows), rows))
            low, high = self.loss_range.get(code, (0.0, np.inf))
            wild = (out[rows_idx] < 0.5 * low) | (out[rows_idx] > 2.0 * high)
            if np.any(wild):
                from bayes_atlas.errors import DecisionWarning

                warnings.warn(
                    DecisionWarning(
                        "BA201",
                        f"the {self.law} point fit predicts {int(wild.sum())} loss(es) for {code} outside half to twice "
                        f"its training losses [{low:.3g}, {high:.3g}] (up to {np.nanmax(out[rows_idx]):.3g}): it extrapolates "
                        "a law fitted to few rows",
                    ),
                    stacklevel=2,
                )
        return out

    def _theta(self, code: str, data: LawData, rows: _Rows) -> np.ndarray:
        row = self.params.loc[code]
        theta = [float(row[n]) for n in (*BASE, *_EXTRA[self.law])]
        if self.law == "atlas":
            for p in rows.pairs:
                value = row.get(f"tau[{data.pairs[p][1]}]", np.nan)
                theta.append(0.0 if not np.isfinite(value) else float(value))
        return np.asarray(theta)


def point_fit(
    runs: Any, law: str = "atlas", *, n_starts: int = 12, huber_delta: float = 1e-3, seed: int = 0, min_rows: int = 5
) -> PointFit:
    """Fit ``law`` separately to each language's rows of ``runs`` by multi-start Huber.

    Parameters
    ----------
    runs
        A :class:`bayes_atlas.runs.RunTable` (per-token losses).
    law
        One of :data:`POINT_LAWS`.
    n_starts
        Random starts per language (plus one at the centre of the bounds); the best wins.
    huber_delta
        Huber threshold on log-loss residuals (Hoffmann et al. use 1e-3).
    seed
        Seed of the starts.
    min_rows
        Languages with fewer rows, with no more rows than the law has parameters, or with one
        model size or one token count are skipped, with the reason in ``PointFit.skipped`` (a
        per-language fit needs more; that is what the hierarchical fit is for).

    Returns
    -------
    PointFit

    Examples
    --------
    >>> from bayes_atlas.scaling import emulated_study_runs
    >>> runs = emulated_study_runs()  # doctest: +SKIP
    >>> point_fit(runs, "csl").params.loc["en"]  # doctest: +SKIP
    """
    if law not in POINT_LAWS:
        raise ValueError(f"law must be one of {POINT_LAWS}, got {law!r}")
    data = prepare_law_data(runs)
    share = family_share(runs) if law == "msl" else np.ones(data.n_rows)
    rng = np.random.default_rng(seed)
    records, objectives, skipped, loss_range = {}, {}, {}, {}
    codes = np.asarray(data.languages)[data.language_index]
    for code in data.languages:
        rows_idx = np.flatnonzero(codes == code)
        rows = _Rows(data, rows_idx, share, law)
        names = [*BASE, *_EXTRA[law]]
        if law == "atlas":
            names += [f"tau[{data.pairs[p][1]}]" for p in rows.pairs]
        reason = _too_little(rows, rows_idx.size, len(names), min_rows)
        if reason:
            skipped[code] = reason
            continue
        bounds = [_BOUNDS["tau"] if n.startswith("tau[") else _BOUNDS[n] for n in names]
        low, high = np.array(bounds).T

        def objective(theta: np.ndarray, rows: _Rows = rows) -> float:
            residual = _log_loss(law, theta, rows) - rows.log_loss
            value = float(np.sum(_huber(residual, huber_delta)))
            return value if np.isfinite(value) else 1e10

        starts = [0.5 * (low + high)] + [low + (high - low) * rng.uniform(0.15, 0.85, len(names)) for _ in range(n_starts)]
        best = None
        for start in starts:
            result = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
            if best is None or result.fun < best.fun:
                best = result
        records[code] = dict(zip(names, best.x, strict=True))
        objectives[code] = float(best.fun)
        observed = np.exp(rows.log_loss)
        loss_range[code] = (float(observed.min()), float(observed.max()))
    params = pd.DataFrame.from_dict(records, orient="index")
    params.index.name = "language"
    return PointFit(law, params, pd.Series(objectives, name="objective"), skipped, loss_range)


def _too_little(rows: _Rows, n_rows: int, n_params: int, min_rows: int) -> str | None:
    """Why a language's rows cannot support a point fit (None when they can)."""
    if n_rows < min_rows:
        return f"{n_rows} row(s), fewer than min_rows={min_rows}"
    if n_rows <= n_params:
        return f"{n_rows} rows for {n_params} parameters"
    if np.unique(np.round(rows.design.log_params, 9)).size < 2:
        return "one model size: its exponent alpha cannot be fitted"
    if np.unique(np.round(np.log(np.maximum(rows.design.total_tokens, 1.0)), 9)).size < 2:
        return "one token count: its exponent beta cannot be fitted"
    return None


def bootstrap(runs: Any, law: str = "atlas", *, n_resamples: int = 1000, seed: int = 0, **kwargs: Any) -> list[PointFit]:
    """Refit ``law`` on ``n_resamples`` row resamples (with replacement, within language).

    The spread of the refits' predictions is the field's usual interval. Slow by nature:
    see ``benchmarks/law_fit.py`` for its cost against one Bayesian fit.
    """
    rng = np.random.default_rng(seed)
    frame = runs.frame
    groups = [np.flatnonzero(frame["language"].to_numpy() == code) for code in runs.languages]
    fits = []
    for i in range(n_resamples):
        chosen = np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])
        fits.append(point_fit(_resample(runs, chosen), law, seed=seed + i, **kwargs))
    return fits


def _resample(runs: Any, rows: np.ndarray) -> Any:
    from bayes_atlas.runs import RunTable

    return RunTable(runs.frame.iloc[rows].reset_index(drop=True), runs.loss_unit, runs.kind, dict(runs.meta))
