"""Finetune a multilingual checkpoint, or pretrain from scratch? The crossover, per posterior draw.

Both branches are the finetune law's one mean (:mod:`bayes_atlas.laws.finetune`) at the same
model size and tokens, with ``design.finetuned`` 0 or 1; the crossover is the token count
where they meet, found by bisection on their difference for every draw at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import (
    CANCELS,
    check_ci,
    check_language,
    fitted_ranges,
    posterior_caveats,
    published_unique_tokens,
    quantiles,
)
from bayes_atlas.laws import Design
from bayes_atlas.posteriors import resolve

__all__ = ["FinetuneLaw", "crossover", "crossover_compute_fit", "finetune_law"]


class FinetuneLaw:
    """Per-draw finetune-law losses of one language (its parameters drawn once)."""

    def __init__(self, fit: Any, target: str, random_seed: int = defaults.SEED, *, unique: float | None = None) -> None:
        self.fit = fit
        self.target = target
        self.params = fit.language_parameters(target, random_seed)
        # The target's unique tokens: the caller's, else the published count, else unlimited.
        self.unique = float(unique) if unique is not None else published_unique_tokens().get(target, np.inf)

    def losses(self, N: Any, D: Any) -> tuple[np.ndarray, np.ndarray]:
        """(scratch, finetuned) losses per draw at ``N`` parameters and ``D`` target tokens (last axis: draws)."""
        scratch, finetuned = (
            np.exp(self.fit.mean_log_loss(Design.of_run(params=N, tokens=D, unique=self.unique, finetuned=f), self.params))
            for f in (0.0, 1.0)
        )
        return scratch, finetuned

    def crossover_tokens(self, N: np.ndarray) -> np.ndarray:
        """``(draws, len(N))`` token counts where from-scratch training overtakes finetuning (inf: never)."""
        N = np.atleast_1d(np.asarray(N, dtype=float))[:, None]  # (sizes, 1) against draws

        def gap(log_D: np.ndarray) -> np.ndarray:
            scratch, finetuned = self.losses(N, np.exp(log_D))
            return scratch - finetuned  # > 0: finetuning still ahead

        shape = (N.shape[0], self.fit.n_draws)
        lo = np.full(shape, np.log(1e6))
        hi = np.full(shape, np.log(1e17))
        never = gap(hi) > 0  # finetuning stays ahead at any token count (scarce data)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            ahead = gap(mid) > 0
            lo = np.where(ahead, mid, lo)
            hi = np.where(ahead, hi, mid)
        return np.where(never, np.inf, np.exp(0.5 * (lo + hi))).T


def finetune_law(posterior: Any, target: str, random_seed: int = defaults.SEED) -> FinetuneLaw:
    """:class:`FinetuneLaw` of ``target`` from a finetune posterior (object, path or None: shipped)."""
    return FinetuneLaw(resolve("finetune", posterior), target, random_seed)


def crossover(
    target: str,
    params: float | list[float] | np.ndarray = 2e9,
    *,
    ci: float = defaults.CI,
    posterior: Any = None,
    random_seed: int = defaults.SEED,
) -> pd.DataFrame:
    """Tokens (and compute ``6 N D``) beyond which pretraining from scratch beats finetuning.

    Parameters
    ----------
    target
        Language code; outside the finetune posterior's languages it is answered from the
        population.
    params
        Model size(s) in parameters.
    ci
        Credible mass of the intervals.
    posterior
        A finetune-law fit, a path, or None for ``models/finetune-emulated.nc``.

    The interval is the finetune law's posterior uncertainty only: beyond its fitted runs the
    law's extrapolation discrepancy (:mod:`bayes_atlas.discrepancy`) tilts both branches alike
    and cancels in their comparison, so the crossover does not widen with distance (BA201 says so).

    Returns
    -------
    pandas.DataFrame
        Index ``params``; columns ``tokens_median``, ``tokens_lower``, ``tokens_upper``,
        ``compute_median``, ``compute_lower``, ``compute_upper``, ``p_never`` (share of
        draws in which finetuning stays ahead at any token count). ``attrs["draws"]`` holds
        the (draws, sizes) token draws.

    Examples
    --------
    >>> crossover("de", 2e9).round(-9)  # doctest: +SKIP
    """
    code = check_language(target)
    ci = check_ci(ci)
    fit = resolve("finetune", posterior)
    try:
        sizes = pd.unique(np.atleast_1d(np.asarray(params, dtype=float)))  # once each, in order
    except (TypeError, ValueError):
        raise ValueError(f"params must be positive model sizes, got {params!r}") from None
    if not (sizes.size and np.all(np.isfinite(sizes) & (sizes > 0))):
        raise ValueError(f"params must be positive model sizes, got {params!r}")
    draws = FinetuneLaw(fit, code, random_seed).crossover_tokens(sizes)
    rows = []
    for j, N in enumerate(sizes):
        t_med, t_lo, t_hi = quantiles(draws[:, j], ci)
        rows.append(
            {
                "params": N,
                "tokens_median": t_med,
                "tokens_lower": t_lo,
                "tokens_upper": t_hi,
                "compute_median": 6 * N * t_med,
                "compute_lower": 6 * N * t_lo,
                "compute_upper": 6 * N * t_hi,
                "p_never": float(np.mean(~np.isfinite(draws[:, j]))),
            }
        )
    table = pd.DataFrame(rows).set_index("params")
    found = posterior_caveats(fit, "finetune", [code])
    ranges, whose = fitted_ranges(fit, code)
    low, high = (np.exp(v) for v in ranges.get("model size", (np.log(sizes.min()), np.log(sizes.max()))))
    outside = sizes[(sizes < low / 1.001) | (sizes > high * 1.001)]
    if outside.size:
        from bayes_atlas.errors import DecisionWarning

        decades = float(np.max(np.abs(np.log10(np.clip(outside, low, high) / outside))))
        found.append(
            DecisionWarning(
                "BA201",
                f"model size(s) {', '.join(f'{v:.3g}' for v in outside)} lie up to {decades:.2f} decades outside "
                f"{whose} of the finetune posterior [{low:.3g}, {high:.3g}]: the crossover extrapolates the law{CANCELS}",
            )
        )
    table.attrs.update(target=code, ci=ci, draws=draws, warnings=found, caveats=[w.code for w in found])
    return table


def crossover_compute_fit(
    languages: list[str] | tuple[str, ...] | None = None,
    params: np.ndarray | None = None,
    *,
    ci: float = defaults.CI,
    posterior: Any = None,
    random_seed: int = defaults.SEED,
) -> pd.DataFrame:
    """Pooled regression of log crossover compute on log N, per posterior draw.

    For each draw, ``log10 C*(N, language)`` over the languages and model sizes is fitted by
    least squares ``log10 C = log10 c + k log10 N`` (over the finite crossovers of that
    draw: a language that never crosses over in a draw drops out of it); the posterior of ``c`` and ``k`` is
    set beside ATLAS's printed fits (``C = 1113708 N^1.65`` and ``C = 10283128 N^1.54``).

    Returns
    -------
    pandas.DataFrame
        Index ``quantity`` (``exponent``, ``log10_coefficient``, ``compute_at_2e9``);
        columns ``median``, ``lower``, ``upper``, ``printed_a``, ``printed_b``.
    """
    ci = check_ci(ci)
    fit = resolve("finetune", posterior)
    codes = list(languages) if languages is not None else list(fit.languages)
    sizes = np.geomspace(3.68e8, 2.03e9, 6) if params is None else np.asarray(params, dtype=float)
    rng = np.random.default_rng(random_seed)
    log_c = np.stack([np.log10(6 * sizes * FinetuneLaw(fit, c, rng).crossover_tokens(sizes)) for c in codes], axis=1)
    x = np.broadcast_to(np.log10(sizes), log_c.shape[1:]).ravel()
    y = log_c.reshape(log_c.shape[0], -1)
    # Per draw, least squares over the finite crossovers only (a scarce-data language may
    # never cross over in some draws: finetuning stays ahead).
    w = np.isfinite(y)
    y = np.where(w, y, 0.0)
    n_points = w.sum(axis=1)
    usable = n_points >= 3
    x_bar = (w * x).sum(axis=1) / np.maximum(n_points, 1)
    y_bar = (w * y).sum(axis=1) / np.maximum(n_points, 1)
    dx = np.where(w, x - x_bar[:, None], 0.0)
    slope = (dx * (y - y_bar[:, None])).sum(axis=1) / np.maximum((dx**2).sum(axis=1), 1e-12)
    intercept = y_bar - slope * x_bar
    slope, intercept = slope[usable], intercept[usable]
    finite = usable
    at_2b = intercept + slope * np.log10(2e9)
    from bayes_atlas import datasets

    printed = datasets.crossover_compute_fits().set_index("fit")
    rows = {
        "exponent": (*quantiles(slope, ci), printed.loc["a", "exponent"], printed.loc["b", "exponent"]),
        "log10_coefficient": (
            *quantiles(intercept, ci),
            np.log10(printed.loc["a", "coefficient"]),
            np.log10(printed.loc["b", "coefficient"]),
        ),
        "compute_at_2e9": (
            *quantiles(10**at_2b, ci),
            printed.loc["a", "coefficient"] * 2e9 ** printed.loc["a", "exponent"],
            printed.loc["b", "coefficient"] * 2e9 ** printed.loc["b", "exponent"],
        ),
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper", "printed_a", "printed_b"])
    table.index.name = "quantity"
    table.attrs.update(languages=codes, params=sizes.tolist(), draws_used=int(finite.sum()), share_never=float(np.mean(~w)))
    return table
