"""Which run to do next: expected shrinkage of the N* interval per FLOP, by preposterior analysis.

The decision of interest is the compute-optimal model size ``N*`` of a target language at a
compute ``C`` (per posterior draw: :func:`~bayes_atlas.decisions.optimum.compute_optimum`).
A candidate run (``N`` parameters, ``D`` tokens of the target's own text, cost ``6 N D``
FLOPs) is scored by how much it is expected to narrow the ``ci`` interval of ``log10 N*``:

1. outcomes are drawn from the posterior predictive: a draw ``s`` (by its current weight),
   the law's mean log loss of that draw at the run (:meth:`bayes_atlas.scaling.Fit.mean_log_loss`
   through :func:`~bayes_atlas.decisions.optimum.loss_function`) plus Student-t noise
   (``sigma`` of the draw, ``nu`` of the fit);
2. the posterior is updated by importance reweighting of the existing draws (weight = the
   Student-t likelihood of the simulated outcome under each draw; no refit);
3. the weighted interval of ``log10 N*`` is recomputed; the expected width is the mean over
   outcomes (common random numbers across candidates, so their ranking is not noise).

The sequence within a FLOP budget is greedy over a fixed set of scenarios (each a "true"
draw with its own noise): at each step the candidate with the largest expected shrinkage per
FLOP is added and every scenario's weights are updated with its simulated outcome.
Importance reweighting degrades as runs accumulate; the effective sample size is reported.

Examples
--------
>>> from bayes_atlas import next_run
>>> plan = next_run(None, "ca", 1e22, budget=1e20)  # doctest: +SKIP
>>> plan.ranking.head()  # doctest: +SKIP
>>> plan.decision["text"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import check_ci, check_language, posterior_caveats, strict_json, unique_tokens_for
from bayes_atlas.decisions.optimum import Mixture, compute_optimum
from bayes_atlas.errors import DecisionWarning
from bayes_atlas.posteriors import resolve

__all__ = ["NextRunPlan", "Preposterior", "default_candidates", "next_run", "read_candidates"]

#: Default grid: model sizes as multiples of the smallest fitted model size, and tokens per parameter.
GRID_SIZE_MULTIPLES = (1.0, 2.5, 6.0, 16.0, 40.0, 100.0, 250.0)
GRID_TOKENS_PER_PARAM = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
#: Default budget for the sequence, as a share of the decision's compute.
DEFAULT_BUDGET_SHARE = 0.01


def default_candidates(fit: Any, budget: float) -> pd.DataFrame:
    """A grid of candidate runs around the smallest fitted model size, costing at most ``budget``.

    Sizes ``N_min x`` :data:`GRID_SIZE_MULTIPLES` (``N_min`` the fit's smallest model, 1e7
    without a recorded range) times tokens per parameter :data:`GRID_TOKENS_PER_PARAM`.

    Examples
    --------
    >>> import bayes_atlas
    >>> grid = default_candidates(bayes_atlas.posteriors.resolve("law"), 1e19)
    >>> bool((6 * grid["params"] * grid["tokens"] <= 1e19).all())
    True
    """
    bounds = fit.meta.get("log_params_range")
    n_min = float(np.exp(bounds[0])) if bounds else 1e7
    rows = [(n_min * m, n_min * m * r) for m in GRID_SIZE_MULTIPLES for r in GRID_TOKENS_PER_PARAM]
    grid = pd.DataFrame(rows, columns=["params", "tokens"])
    grid = grid[6 * grid["params"] * grid["tokens"] <= budget * (1 + 1e-9)].reset_index(drop=True)
    if grid.empty:
        raise ValueError(
            f"no run of the default grid costs at most the budget {budget:.3g} FLOPs (smallest: "
            f"{6 * n_min * n_min * GRID_TOKENS_PER_PARAM[0]:.3g}); raise budget= (CLI: --budget) or give candidates"
        )
    return grid


def read_candidates(candidates: Any) -> pd.DataFrame:
    """Candidate runs as a frame with ``params`` and ``tokens``: from a frame, (N, D) pairs, or a CSV path.

    Examples
    --------
    >>> read_candidates([(1e8, 2e9), (3e8, 6e9)])["params"].tolist()
    [100000000.0, 300000000.0]
    """
    if isinstance(candidates, str | Path):
        path = Path(candidates)
        if not path.is_file():
            raise ValueError(f"candidates file {path} does not exist (a CSV with columns params, tokens)")
        frame = pd.read_csv(path)
    elif isinstance(candidates, pd.DataFrame):
        frame = candidates.copy()
    else:
        frame = pd.DataFrame(list(candidates), columns=["params", "tokens"])
    missing = {"params", "tokens"} - set(frame.columns)
    if missing:
        raise ValueError(f"candidate runs need columns params and tokens; missing {sorted(missing)}")
    frame = frame[["params", "tokens"]].astype(float).reset_index(drop=True)
    bad = ~(np.isfinite(frame.to_numpy()) & (frame.to_numpy() > 0)).all(axis=1)
    if bad.any():
        raise ValueError(f"candidate runs need positive params and tokens; rows {np.flatnonzero(bad).tolist()} are not")
    if frame.empty:
        raise ValueError("no candidate runs given")
    return frame


def _student_t_logpdf(x: np.ndarray, nu: Any) -> np.ndarray:
    nu = np.asarray(nu, dtype=float)
    const = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return const - (nu + 1) / 2 * np.log1p(x * x / nu)


@dataclass
class Preposterior:
    """Per-draw pieces of the preposterior analysis for one target and decision.

    Attributes
    ----------
    log_n_star
        ``log10 N*`` per draw (the decision quantity).
    sigma, nu
        Per-draw noise scale (log loss) and the Student-t degrees of freedom.
    mean_log_loss
        ``f(N, D) -> (..., draws)`` the law's mean log loss of the target's monolingual run.
    ci
        Credible mass of the interval whose width is the criterion.
    """

    log_n_star: np.ndarray
    sigma: np.ndarray
    nu: Any
    mean_log_loss: Any
    ci: float

    def __post_init__(self) -> None:
        self.order = np.argsort(self.log_n_star)
        self.sorted = self.log_n_star[self.order]

    @property
    def n_draws(self) -> int:
        return int(self.log_n_star.size)

    def interval(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted equal-tailed interval of ``log10 N*`` for weights ``(..., draws)`` (normalised here)."""
        w = weights[..., self.order]
        cdf = np.cumsum(w, axis=-1)
        cdf /= cdf[..., -1:]
        lo = np.argmax(cdf >= (1 - self.ci) / 2, axis=-1)
        hi = np.argmax(cdf >= (1 + self.ci) / 2, axis=-1)
        return self.sorted[lo], self.sorted[hi]

    def width(self, weights: np.ndarray) -> np.ndarray:
        """Width (decades) of the weighted interval of ``log10 N*``."""
        lo, hi = self.interval(weights)
        return hi - lo

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Student-t log likelihood of observed log losses ``y`` (``(..., 1)``) under each draw's ``mu`` (``(..., draws)``)."""
        return _student_t_logpdf((y - mu) / self.sigma, self.nu) - np.log(self.sigma)

    def update(self, weights: np.ndarray, y: Any, mu: np.ndarray) -> np.ndarray:
        """Weights after observing log loss ``y`` at a run whose per-draw means are ``mu``."""
        log_w = np.log(np.maximum(weights, 1e-300)) + self.log_likelihood(np.asarray(y)[..., None], mu)
        log_w -= log_w.max(axis=-1, keepdims=True)
        w = np.exp(log_w)
        return w / w.sum(axis=-1, keepdims=True)

    def scenarios(
        self, weights: np.ndarray, n: int, n_candidates: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` scenario draws (by ``weights``) and their standardised noise per candidate ``(candidates, n)``."""
        s = rng.choice(self.n_draws, size=n, p=weights / weights.sum())
        nu = self.nu[s] if np.ndim(self.nu) else self.nu
        z = rng.standard_t(nu, size=(n_candidates, n))
        return s, z

    def step(self, weights: np.ndarray, mu: np.ndarray, s: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected width after each candidate and the updated weights.

        ``weights`` ``(J, draws)`` per scenario (or ``(draws,)`` shared), ``mu`` ``(C, draws)``,
        scenario draws ``s`` ``(J,)`` and noise ``z`` ``(C, J)``. Returns widths ``(C, J)``
        and weights ``(C, J, draws)``.
        """
        y = mu[:, s] + self.sigma[s][None, :] * z  # (C, J) simulated log losses
        W = np.broadcast_to(weights, (len(s), self.n_draws))
        updated = self.update(W[None, :, :], y, mu[:, None, :])
        return self.width(updated), updated


@dataclass
class NextRunPlan:
    """What :func:`next_run` returns: ranked candidates, a greedy sequence and the decision in words.

    Attributes
    ----------
    target, compute
        The decision: compute-optimal N* for ``target`` at ``compute`` FLOPs.
    interval
        Current median and ``ci`` interval of N* (parameters) and its width in decades.
    ranking
        Candidates best first: ``params``, ``tokens``, ``cost`` (6 N D), ``expected_width``
        (decades, after the run), ``shrinkage`` (decades), ``shrinkage_per_eflop`` (decades
        per 1e18 FLOPs), ``ess`` (mean effective sample size after the update).
    sequence
        The greedy sequence within ``budget``: step, run, cost, cumulative cost, expected width.
    decision
        ``next`` (the best run), ``text``.
    """

    target: str
    compute: float
    budget: float
    interval: dict[str, float]
    ranking: pd.DataFrame
    sequence: pd.DataFrame
    decision: dict[str, Any]
    inputs: dict[str, Any]
    warnings: list[DecisionWarning] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable plan."""
        out = {
            "target": self.target,
            "compute": self.compute,
            "budget": self.budget,
            "inputs": self.inputs,
            "interval": self.interval,
            "ranking": self.ranking.reset_index().to_dict(orient="records"),
            "sequence": self.sequence.to_dict(orient="records"),
            "decision": self.decision,
            "warnings": [{"code": w.code, "text": w.text} for w in self.warnings],
        }
        return json.loads(json.dumps(strict_json(out), allow_nan=False))

    def __repr__(self) -> str:
        return f"<NextRunPlan for {self.target} at C={self.compute:.3g}: {self.decision['text']}>"


def preposterior_for(fit: Any, target: str, compute: float, unique: float, ci: float, random_seed: int) -> Preposterior:
    """The :class:`Preposterior` of the N* decision for ``target`` at ``compute`` (monolingual runs)."""
    mixture = Mixture(target, (), {target: unique}, np.zeros((fit.n_draws, 0)))
    optimum = compute_optimum(fit, mixture, compute, random_seed=random_seed)
    loss = optimum.loss_function

    def mean_log_loss(N: Any, D: Any) -> np.ndarray:
        return np.log(loss(np.asarray(N, dtype=float), np.asarray(D, dtype=float)))

    nu = fit.draws("nu") if "nu" in fit.posterior else (fit.config.student_nu or 1e6)
    return Preposterior(np.log10(optimum.params), fit.draws("sigma"), nu, mean_log_loss, ci)


def next_run(
    posterior: Any,
    target: str,
    compute: float,
    candidates: Any = None,
    *,
    budget: float | None = None,
    unique_tokens: float | None = None,
    n_outcomes: int = 32,
    ci: float = defaults.CI,
    random_seed: int = defaults.SEED,
    warn: bool = True,
) -> NextRunPlan:
    """Rank candidate runs by expected shrinkage of the N* interval per FLOP, and plan a sequence.

    Parameters
    ----------
    posterior
        A law fit (ATLAS, Chinchilla, DCSL or MSL), a path to a saved one, or None for the shipped one.
    target
        The language of the decision and of the candidate runs (monolingual).
    compute
        The decision's budget: N* is the compute-optimal model size at ``compute`` FLOPs.
    candidates
        Candidate runs: a frame or CSV path with ``params`` and ``tokens``, a list of (N, D)
        pairs, or None / ``"grid"`` for :func:`default_candidates`.
    budget
        FLOPs available for the new runs (default 1% of ``compute``); candidates costing
        more are dropped, and the sequence stays within it.
    unique_tokens
        Unique tokens of the target's text (default: published count, else unlimited).
    n_outcomes
        Simulated outcomes (scenarios) per candidate.
    ci
        Credible mass of the interval whose width is the criterion.
    random_seed
        Seed of the outcomes and population draws.
    warn
        Also emit the caveats with :mod:`warnings`.

    Returns
    -------
    NextRunPlan

    Raises
    ------
    bayes_atlas.UnknownLanguageError
        ``target`` is not a language code.
    ValueError
        Non-positive compute or budget, a budget at or above the compute, no affordable candidate,
        malformed candidates.

    Examples
    --------
    >>> plan = next_run(None, "ca", 1e22, budget=1e19, n_outcomes=8)  # doctest: +SKIP
    >>> plan.ranking.iloc[0][["params", "tokens", "cost"]]  # doctest: +SKIP
    """
    target = check_language(target)
    ci = check_ci(ci)
    for name, value in (("compute", compute), ("budget", budget)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number of FLOPs, got {value!r}")
    compute = float(compute)
    budget = float(budget) if budget is not None else DEFAULT_BUDGET_SHARE * compute
    if budget >= compute:
        raise ValueError(
            f"budget ({budget:.3g} FLOPs) is for small runs before the decision; it must be below compute ({compute:.3g})"
        )
    if not (isinstance(n_outcomes, int | np.integer) and n_outcomes >= 2):
        raise ValueError(f"n_outcomes must be an integer >= 2, got {n_outcomes!r}")
    law = resolve("law", posterior)
    found = posterior_caveats(law, "law", [target])
    unique = unique_tokens_for([target], unique_tokens)[target]
    if candidates is None or (isinstance(candidates, str) and candidates == "grid"):
        runs = default_candidates(law, budget)
    else:
        runs = read_candidates(candidates)
        runs = runs[6 * runs["params"] * runs["tokens"] <= budget * (1 + 1e-9)].reset_index(drop=True)
        if runs.empty:
            raise ValueError(f"no candidate run costs at most the budget {budget:.3g} FLOPs (cost = 6 N D)")
    pre = preposterior_for(law, target, compute, unique, ci, random_seed)
    rng = np.random.default_rng(random_seed)
    N = runs["params"].to_numpy()
    D = runs["tokens"].to_numpy()
    cost = 6 * N * D
    mu = pre.mean_log_loss(N[:, None], D[:, None])  # (C, draws)
    w0 = np.full(pre.n_draws, 1.0 / pre.n_draws)
    lo, hi = pre.interval(w0)
    width0 = float(hi - lo)

    s, z = pre.scenarios(w0, n_outcomes, len(runs), rng)
    widths, updated = pre.step(w0, mu, s, z)
    expected = widths.mean(axis=1)
    ess = (1.0 / (updated**2).sum(axis=-1)).mean(axis=1)
    ranking = runs.assign(
        cost=cost,
        tokens_per_param=D / N,
        expected_width=expected,
        shrinkage=width0 - expected,
        shrinkage_per_eflop=(width0 - expected) / (cost / 1e18),
        ess=ess,
    ).sort_values("shrinkage_per_eflop", ascending=False)
    ranking.index.name = "candidate"

    # Greedy sequence over fixed scenarios.
    W = np.broadcast_to(w0, (n_outcomes, pre.n_draws)).copy()
    remaining = budget
    chosen: list[int] = []
    steps = []
    current = pre.width(W).mean()
    while True:
        affordable = np.array([c not in chosen and cost[c] <= remaining * (1 + 1e-9) for c in range(len(runs))])
        if not affordable.any():
            break
        widths, updated = pre.step(W, mu, s, z)
        gain = (current - widths.mean(axis=1)) / cost
        gain[~affordable] = -np.inf
        best = int(np.argmax(gain))
        if not gain[best] > 0:
            break
        chosen.append(best)
        W = updated[best]
        remaining -= cost[best]
        current = float(widths[best].mean())
        steps.append(
            {
                "step": len(chosen),
                "candidate": best,
                "params": float(N[best]),
                "tokens": float(D[best]),
                "cost": float(cost[best]),
                "cumulative_cost": float(budget - remaining),
                "expected_width": current,
                "ess": float((1.0 / (W**2).sum(axis=-1)).mean()),
            }
        )
    sequence = pd.DataFrame(
        steps, columns=["step", "candidate", "params", "tokens", "cost", "cumulative_cost", "expected_width", "ess"]
    )
    top = ranking.iloc[0]
    median = float(np.median(pre.log_n_star))
    text = (
        f"next run for {target}: N = {top['params']:.3g} parameters on D = {top['tokens']:.3g} tokens "
        f"(cost {top['cost']:.3g} FLOPs); it is expected to narrow the {ci:.0%} interval of the compute-optimal "
        f"N* at {compute:.3g} FLOPs from {width0:.2f} to {top['expected_width']:.2f} decades"
    )
    if len(sequence):
        text += (
            f"; a greedy sequence of {len(sequence)} run(s) costing {sequence['cumulative_cost'].iloc[-1]:.3g} of the "
            f"{budget:.3g}-FLOP budget is expected to reach {sequence['expected_width'].iloc[-1]:.2f} decades"
        )
    if len(sequence) and sequence["ess"].iloc[-1] < 100:
        text += f" (importance weights thin out: effective sample size {sequence['ess'].iloc[-1]:.0f} at the end; refit before trusting the later steps)"
    plan = NextRunPlan(
        target=target,
        compute=compute,
        budget=budget,
        interval={"median": 10**median, "lower": float(10**lo), "upper": float(10**hi), "width_decades": width0},
        ranking=ranking,
        sequence=sequence,
        decision={
            "next": {"params": float(top["params"]), "tokens": float(top["tokens"]), "cost": float(top["cost"])},
            "text": text,
        },
        inputs={
            "target": target,
            "compute": compute,
            "budget": budget,
            "unique_tokens": None if not np.isfinite(unique) else unique,
            "n_candidates": len(runs),
            "n_outcomes": n_outcomes,
            "ci": ci,
            "n_draws": pre.n_draws,
        },
        warnings=found,
    )
    if warn:
        for w in found:
            warnings.warn(w, stacklevel=2)
    return plan
