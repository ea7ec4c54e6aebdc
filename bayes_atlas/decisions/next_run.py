"""Which run to do next: expected shrinkage of the N* interval per FLOP, by preposterior analysis.

The decision of interest is the compute-optimal model size ``N*`` of a target language at a
compute ``C`` (per posterior draw: :func:`~bayes_atlas.decisions.optimum.compute_optimum`).
A candidate run (``N`` parameters, ``D`` tokens of the target's own text, cost ``6 N D``
FLOPs) is worth what it is expected to take off the width of the ``ci`` interval of
``log10 N*``.

The posterior of the target's law parameters is held as weighted particles
(:class:`Preposterior`): at first the fit's own draws, equally weighted. An observed run
reweights them by its Student-t likelihood (importance reweighting, no refit); once the
effective sample size (ESS) of the weights falls below ``min_ess`` (default
:data:`MIN_ESS_SHARE`, 10% of the particles) the particles are
**refitted**: fresh particles are drawn by adaptive importance sampling (a few rounds of a
Student-t proposal fitted to the weighted particles, with a defensive share from the fit's
spread) against the fit's posterior as a kernel density (Liu-West shrinkage, which keeps its
mean and covariance) times the likelihood of every run observed so far. Each particle's
``N*`` is recomputed through the fitted law's one mean
(:meth:`bayes_atlas.scaling.Fit.mean_log_loss`). The kernel density smooths the fit's
posterior: after one informative Catalan run the refit moved the mean of ``log10 N*`` 0.04
decades (0.2 posterior sd) less than exact reweighting, with the same interval width.

Expected shrinkage (preposterior analysis) has two estimates:

- **importance reweighting** of the particles with outcomes drawn from the posterior
  predictive (common random numbers across candidates), reported with the mean ESS after
  the update (``expected_width_is``, ``ess``). It is exact for one run while the ESS is
  large; for several runs at once the weights collapse onto a few particles and the
  reweighted interval is narrow because of the collapse, not because of the runs;
- the **Bayes linear** update on the particle ensemble (the variance of ``log10 N*`` after
  observing the runs' log losses, from the ensemble's joint covariance of ``log10 N*`` and
  the runs' predicted log losses, plus the noise): it never collapses and takes several runs
  jointly; a run is worth what its loss co-varies with ``N*`` over the posterior, so a tiny
  run far below the decision's compute counts only as far as the law's curvature lets its
  loss speak for ``N*``, and two runs that tell the same thing are not counted twice. The
  ranking and the plan use it (``expected_width``).

The plan within a FLOP budget is goal-directed: the cheapest set of runs expected to bring
the interval down to ``goal_width`` (default: half its current width), found by cost-benefit
greedy additions with a look-ahead that completes each greedy prefix with the best one run
or pair of runs that reaches the goal; the runs are ordered cheapest first (do the first,
observe, refit, plan again: :meth:`Preposterior.observe`, :meth:`Preposterior.plan`). When
no set within the budget reaches the goal, the plan is the greedy set with the narrowest
expected interval.

Examples
--------
>>> from bayes_atlas import next_run
>>> plan = next_run(None, "ca", 1e22, budget=1e20)  # doctest: +SKIP
>>> plan.ranking.head()  # doctest: +SKIP
>>> plan.decision["text"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import gammaln, logsumexp
from scipy.stats import multivariate_normal, multivariate_t

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import (
    bound_caveats,
    check_budget,
    check_ci,
    check_language,
    check_positive,
    posterior_caveats,
    range_caveats,
    strict_json,
    unique_tokens_for,
)
from bayes_atlas.decisions.optimum import LOG_N_BOUNDS, Mixture, at_search_bound
from bayes_atlas.errors import DecisionWarning
from bayes_atlas.laws import compute_optimal_numeric
from bayes_atlas.posteriors import resolve

__all__ = ["Kernel", "NextRunPlan", "Preposterior", "default_candidates", "next_run", "preposterior_for", "read_candidates"]

#: Default grid: model sizes as multiples of the smallest fitted model size, and tokens per parameter.
GRID_SIZE_MULTIPLES = (1.0, 2.5, 6.0, 16.0, 40.0, 100.0, 250.0)
GRID_TOKENS_PER_PARAM = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
#: Default budget for the sequence, as a share of the decision's compute.
DEFAULT_BUDGET_SHARE = 0.01
#: Default goal of the plan, as a share of the current width of the N* interval.
DEFAULT_GOAL_SHARE = 0.5
#: Refit the particles once the ESS of their weights falls below this share of their number.
MIN_ESS_SHARE = 0.1
#: A refit stops once its ESS reaches this share of its particles (else it keeps its best round).
REFIT_ESS_SHARE = 0.3
#: Rounds of adaptive importance sampling in a refit.
REFIT_ROUNDS = 6
#: Share of a refit's proposal drawn from the fit's own spread (defensive importance sampling).
DEFENSIVE_SHARE = 0.1


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


def _normalised(log_w: np.ndarray) -> np.ndarray:
    log_w = np.where(np.isfinite(log_w), log_w, -np.inf)
    log_w = log_w - np.max(log_w, axis=-1, keepdims=True)
    w = np.exp(log_w)
    return w / w.sum(axis=-1, keepdims=True)


def _moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ x
    centred = x - mean
    return mean, (centred * w[:, None]).T @ centred


@dataclass
class Kernel:
    """The fit's posterior of the free parameters as a density: a Liu-West shrinkage kernel estimate.

    Each draw is pulled toward the mean by ``sqrt(1 - h^2)`` and given a Gaussian kernel of
    covariance ``h^2 Sigma`` (``h`` by Silverman's rule), so the density keeps the draws' mean
    and covariance ``Sigma`` (a plain kernel estimate would widen it).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> k = Kernel.from_draws(rng.normal(size=(500, 2)))
    >>> bool(np.isfinite(k.logpdf(np.zeros((3, 2)))).all())
    True
    """

    mean: np.ndarray
    cov: np.ndarray
    centres: np.ndarray
    bandwidth: float

    @classmethod
    def from_draws(cls, draws: np.ndarray) -> Kernel:
        S, k = draws.shape
        mean = draws.mean(axis=0)
        cov = np.cov(draws.T).reshape(k, k)
        h = (4.0 / ((k + 2.0) * S)) ** (1.0 / (k + 4.0))
        shrink = np.sqrt(1.0 - h * h)
        return cls(mean, cov, shrink * draws + (1.0 - shrink) * mean, h)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at the rows of ``x`` ``(M, k)``."""
        k = self.mean.size
        chol = np.linalg.cholesky(self.cov) * self.bandwidth
        zx = np.linalg.solve(chol, (x - self.mean).T).T
        zc = np.linalg.solve(chol, (self.centres - self.mean).T).T
        d2 = (zx * zx).sum(1)[:, None] + (zc * zc).sum(1)[None, :] - 2.0 * zx @ zc.T
        log_det = np.log(np.diag(chol)).sum()
        return logsumexp(-0.5 * np.maximum(d2, 0.0), axis=1) - np.log(len(zc)) - log_det - 0.5 * k * np.log(2 * np.pi)


@dataclass
class Preposterior:
    """The posterior of one target's law parameters as weighted particles, for the N* decision.

    Attributes
    ----------
    law
        The law fit (its :meth:`~bayes_atlas.scaling.Fit.mean_log_loss` is the one formula used).
    target, compute, unique, ci
        The decision: ``log10 N*`` of ``target`` at ``compute`` FLOPs with ``unique`` unique
        tokens, and the credible mass of its interval.
    names, fixed
        The free parameters (those that vary over the draws and move the loss of a
        monolingual run or N*) and the medians of the rest.
    theta, weights
        Particles ``(M, len(names))`` and their normalised importance weights.
    log_n_star
        ``log10 N*`` per particle.
    sigma, nu
        Noise scale of the log loss (posterior median) and Student-t degrees of freedom.
    prior
        The fit's posterior of the free parameters as a :class:`Kernel` density (for refits).
    runs
        Observed runs ``(N, D, log loss)`` since the fit.
    refits
        How many times the particles were refitted.
    """

    law: Any
    target: str
    compute: float
    unique: float
    ci: float
    names: tuple[str, ...]
    fixed: dict[str, Any]
    theta: np.ndarray
    weights: np.ndarray
    log_n_star: np.ndarray
    sigma: float
    nu: float
    prior: Kernel
    runs: tuple[tuple[float, float, float], ...] = ()
    refits: int = 0
    log_scale: float = 0.0

    @property
    def n_draws(self) -> int:
        return int(self.log_n_star.size)

    @property
    def ess(self) -> float:
        """Effective sample size of the current weights."""
        return float(1.0 / np.sum(self.weights**2))

    @property
    def noise_variance(self) -> float:
        """Variance of a Gaussian observation carrying the Student-t likelihood's information about its mean."""
        return float(self.sigma**2 * (self.nu + 3.0) / (self.nu + 1.0))

    # -- the law at particles --------------------------------------------------------------

    def params(self, theta: np.ndarray | None = None) -> dict[str, Any]:
        """Law parameters of particles ``theta`` (default: the current ones)."""
        theta = self.theta if theta is None else theta
        out = {name: theta[:, j] for j, name in enumerate(self.names)}
        out.update(self.fixed)
        if self.law.spec.uses_transfer:
            out["tau"] = np.zeros((len(theta), 3))
        return out

    def _log_loss(self, theta: np.ndarray, N: Any, D: Any) -> np.ndarray:
        mixture = Mixture(self.target, (), {self.target: self.unique}, np.zeros((len(theta), 0)))
        design = mixture.design(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
        return self.law.mean_log_loss(design, self.params(theta)) + self.log_scale

    def mean_log_loss(self, N: Any, D: Any) -> np.ndarray:
        """The law's mean log loss of a monolingual run per particle (last axis)."""
        return self._log_loss(self.theta, N, D)

    def _n_star(self, theta: np.ndarray) -> np.ndarray:
        def loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
            return np.exp(self._log_loss(theta, N, D))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            N, _, _ = compute_optimal_numeric(self.compute, loss, log_N_bounds=LOG_N_BOUNDS, grid_size=128, tol=1e-6)
        return np.log10(N)

    def _log_likelihood_of_runs(self, theta: np.ndarray) -> np.ndarray:
        total = np.zeros(len(theta))
        for N, D, y in self.runs:
            total += self.log_likelihood(np.asarray(y), self._log_loss(theta, np.array([[N]]), np.array([[D]]))[0])
        return total

    # -- intervals and importance reweighting ---------------------------------------------

    def interval(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Weighted equal-tailed interval of ``log10 N*`` for weights ``(..., draws)`` (normalised here)."""
        weights = self.weights if weights is None else weights
        order = np.argsort(self.log_n_star)
        w = weights[..., order]
        cdf = np.cumsum(w, axis=-1)
        cdf /= cdf[..., -1:]
        lo = np.argmax(cdf >= (1 - self.ci) / 2, axis=-1)
        hi = np.argmax(cdf >= (1 + self.ci) / 2, axis=-1)
        return self.log_n_star[order][lo], self.log_n_star[order][hi]

    def width(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Width (decades) of the weighted interval of ``log10 N*``."""
        lo, hi = self.interval(weights)
        return hi - lo

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Student-t log likelihood of observed log losses ``y`` (broadcasting) under per-particle means ``mu``."""
        return _student_t_logpdf((y - mu) / self.sigma, self.nu) - np.log(self.sigma)

    def update(self, weights: np.ndarray, y: Any, mu: np.ndarray) -> np.ndarray:
        """Weights after observing log loss ``y`` (``(...,)``) at a run whose per-particle means are ``mu``."""
        log_w = np.log(np.maximum(weights, 1e-300)) + self.log_likelihood(np.asarray(y)[..., None], mu)
        return _normalised(log_w)

    def scenarios(self, n: int, n_candidates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` scenario particles (by weight) and their standardised noise per candidate ``(candidates, n)``."""
        s = rng.choice(self.n_draws, size=n, p=self.weights)
        z = rng.standard_t(self.nu, size=(n_candidates, n))
        return s, z

    def step(self, mu: np.ndarray, s: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Importance-reweighting preposterior: widths ``(C, J)`` and ESS ``(C, J)`` after each candidate.

        ``mu`` ``(C, draws)``, scenario particles ``s`` ``(J,)``, noise ``z`` ``(C, J)``.
        """
        y = mu[:, s] + self.sigma * z
        updated = self.update(self.weights[None, None, :], y, mu[:, None, :])
        return self.width(updated), 1.0 / (updated**2).sum(axis=-1)

    # -- observing runs, refitting -----------------------------------------------------------

    def observe(
        self,
        params: float,
        tokens: float,
        log_loss: float,
        *,
        rng: np.random.Generator | None = None,
        min_ess: float | None = None,
    ) -> Preposterior:
        """The posterior after a run of ``params`` and ``tokens`` with observed ``log_loss``.

        Importance reweighting; a refit (:meth:`refit`) once the ESS falls below ``min_ess``
        (default :data:`MIN_ESS_SHARE` of the particles).
        """
        mu = self.mean_log_loss(np.array([[params]]), np.array([[tokens]]))[0]
        weights = self.update(self.weights, float(log_loss), mu)
        out = dataclasses.replace(self, weights=weights, runs=(*self.runs, (float(params), float(tokens), float(log_loss))))
        floor = MIN_ESS_SHARE * self.n_draws if min_ess is None else float(min_ess)
        if out.ess < floor:
            out = out.refit(np.random.default_rng(defaults.SEED + len(out.runs)) if rng is None else rng)
        return out

    def refit(self, rng: np.random.Generator, n: int | None = None) -> Preposterior:
        """Fresh particles for the fit's posterior times the likelihood of :attr:`runs`.

        Adaptive importance sampling: each round draws from a Student-t (5 degrees of freedom,
        twice the covariance) at the weighted particles' mean and covariance, mixed with
        :data:`DEFENSIVE_SHARE` of a normal with the fit's spread; the weights are the target
        density (:attr:`prior` times the likelihood) over the proposal's. Stops when the ESS
        reaches :data:`REFIT_ESS_SHARE` of the particles, else keeps its best round.
        """
        n = self.n_draws if n is None else int(n)
        k = len(self.names)
        mean, cov = _moments(self.theta, self.weights)
        floor = 1e-6 * np.diag(self.prior.cov)
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for _ in range(REFIT_ROUNDS):
            cov = 0.5 * (cov + cov.T) + np.diag(floor)
            proposal = multivariate_t(loc=mean, shape=2.0 * cov, df=5)
            defensive = multivariate_normal(mean=self.prior.mean, cov=self.prior.cov)
            n_def = int(rng.binomial(n, DEFENSIVE_SHARE))
            x = np.concatenate(
                [
                    np.atleast_2d(proposal.rvs(size=n - n_def, random_state=rng)).reshape(-1, k),
                    np.atleast_2d(defensive.rvs(size=max(n_def, 1), random_state=rng)).reshape(-1, k)[:n_def],
                ]
            )
            log_q = np.logaddexp(np.log1p(-DEFENSIVE_SHARE) + proposal.logpdf(x), np.log(DEFENSIVE_SHARE) + defensive.logpdf(x))
            with np.errstate(all="ignore"):
                log_target = self.prior.logpdf(x) + self._log_likelihood_of_runs(x)
            w = _normalised(log_target - log_q)
            ess = float(1.0 / np.sum(w**2))
            if best is None or ess > best[0]:
                best = (ess, x, w)
            if ess >= REFIT_ESS_SHARE * n:
                break
            mean, cov = _moments(x, w)
        assert best is not None
        _, x, w = best
        with np.errstate(all="ignore"):
            log_n_star = self._n_star(x)
        ok = np.isfinite(log_n_star)
        w = np.where(ok, w, 0.0)
        return dataclasses.replace(
            self, theta=x, weights=w / w.sum(), log_n_star=np.where(ok, log_n_star, 0.0), refits=self.refits + 1
        )

    # -- Bayes linear preposterior and the plan ---------------------------------------------------

    def linear(self, mu: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Variance of ``log10 N*``, its covariance with the runs' observed log losses ``(C,)`` and
        their covariance ``(C, C)`` (the ensemble's, plus the noise), for candidates with means ``mu`` ``(C, draws)``."""
        w = self.weights
        h = self.log_n_star - w @ self.log_n_star
        centred = mu - (mu @ w)[:, None]
        cov = (centred * w) @ centred.T + self.noise_variance * np.eye(len(mu))
        return float(w @ (h * h)), centred @ (w * h), cov

    def linear_widths(self, mu: np.ndarray) -> np.ndarray:
        """Expected width after each candidate alone (Bayes linear; decades)."""
        var, c, K = self.linear(mu)
        after = np.maximum(var - c * c / np.diag(K), 0.0)
        return float(self.width()) * np.sqrt(after / var)

    def plan(self, mu: np.ndarray, cost: np.ndarray, budget: float, goal_width: float) -> tuple[list[int], list[float], bool]:
        """The cheapest set of candidates expected to reach ``goal_width`` within ``budget``.

        Returns the chosen candidates cheapest first, the expected width after each of them
        in that order (Bayes linear) and whether the goal is expected to be reached. See the
        module docstring for the search.
        """
        var0, c0, K0 = self.linear(mu)
        width0 = float(self.width())
        if width0 <= goal_width or var0 <= 0:
            return [], [], True
        goal_var = var0 * (goal_width / width0) ** 2
        n = len(cost)
        c, K = c0.copy(), K0.copy()
        chosen: list[int] = []
        var, spent = var0, 0.0
        best_set: list[int] | None = None
        best_cost = np.inf
        iu, ju = np.triu_indices(n, 1)
        while True:
            free = np.ones(n, dtype=bool)
            free[chosen] = False
            affordable = free & (spent + cost <= budget * (1 + 1e-9))
            diag = np.maximum(np.diag(K), 1e-300)
            gain = np.where(affordable, c * c / diag, 0.0)
            # look-ahead: complete the prefix with one run ...
            reach = affordable & (var - gain <= goal_var)
            if reach.any():
                j = int(np.flatnonzero(reach)[np.argmin(cost[reach])])
                if spent + cost[j] < best_cost:
                    best_set, best_cost = [*chosen, j], spent + cost[j]
            # ... or with a pair of runs
            pair_ok = affordable[iu] & affordable[ju] & (spent + cost[iu] + cost[ju] <= budget * (1 + 1e-9))
            if pair_ok.any():
                a, b = iu[pair_ok], ju[pair_ok]
                kaa, kbb, kab = diag[a], diag[b], K[a, b]
                det = np.maximum(kaa * kbb - kab * kab, 1e-300)
                gain2 = (kbb * c[a] ** 2 - 2 * kab * c[a] * c[b] + kaa * c[b] ** 2) / det
                ok = var - gain2 <= goal_var
                if ok.any():
                    pair_cost = cost[a[ok]] + cost[b[ok]]
                    m = int(np.argmin(pair_cost))
                    if spent + pair_cost[m] < best_cost:
                        best_set, best_cost = [*chosen, int(a[ok][m]), int(b[ok][m])], spent + pair_cost[m]
            if best_cost <= spent or not affordable.any():
                break
            ratio = np.where(affordable, gain / cost, -np.inf)
            j = int(np.argmax(ratio))
            if not gain[j] > 0:
                break
            kj = K[:, j].copy()
            c = c - kj * c[j] / K[j, j]
            K = K - np.outer(kj, kj) / K[j, j]
            var -= gain[j]
            spent += cost[j]
            chosen.append(j)
        reached = best_set is not None
        chosen = sorted(best_set if reached else chosen, key=lambda i: cost[i])
        widths = []
        for m in range(1, len(chosen) + 1):
            sub = chosen[:m]
            after = var0 - c0[sub] @ np.linalg.solve(K0[np.ix_(sub, sub)], c0[sub])
            widths.append(width0 * float(np.sqrt(max(after, 0.0) / var0)))
        return chosen, widths, reached


@dataclass
class NextRunPlan:
    """What :func:`next_run` returns: ranked candidates, a goal-directed plan and the decision in words.

    Attributes
    ----------
    target, compute
        The decision: compute-optimal N* for ``target`` at ``compute`` FLOPs.
    interval
        Current median and ``ci`` interval of N* (parameters) and its width in decades.
    ranking
        Candidates best first: ``params``, ``tokens``, ``cost`` (6 N D), ``expected_width``
        (decades after the run, Bayes linear), ``shrinkage`` (decades), ``shrinkage_per_eflop``
        (decades per 1e18 FLOPs), and the importance-reweighting check: ``expected_width_is``
        and ``ess`` (mean effective sample size after the update; small means the reweighted
        width is unreliable).
    sequence
        The plan: the cheapest runs expected to reach ``goal_width`` within ``budget``, cheapest
        first: step, run, cost, cumulative cost, expected width after it.
    decision
        ``next`` (the first run of the plan), ``goal_width``, ``goal_reached``, ``text``.
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


def _free_parameters(fit: Any, params: dict[str, np.ndarray], target: str, unique: float) -> list[str]:
    """Parameters that vary over the draws and move the mean log loss of some monolingual run."""
    N = np.geomspace(1e7, 1e11, 5)[:, None]
    D = np.geomspace(1e8, 1e13, 6)[None, :]
    mixture = Mixture(target, (), {target: unique}, np.zeros((1, 0)))
    design = mixture.design(N * np.ones_like(D), D * np.ones_like(N))
    median = {k: float(np.median(v)) for k, v in params.items()}
    if fit.spec.uses_transfer:
        median["tau"] = np.zeros(3)  # type: ignore[assignment]
    free = []
    for name, values in params.items():
        if np.ndim(values) == 0 or float(np.std(values)) == 0.0:
            continue
        lo, hi = np.quantile(values, [0.05, 0.95])
        moved = [fit.mean_log_loss(design, {**median, name: v}) for v in (lo, hi)]
        if np.nanmax(np.abs(moved[1] - moved[0])) > 1e-9:
            free.append(name)
    return free


def preposterior_for(
    fit: Any, target: str, compute: float, unique: float, ci: float, random_seed: int = defaults.SEED
) -> Preposterior:
    """The :class:`Preposterior` of the N* decision for ``target`` at ``compute`` (monolingual runs)."""
    from bayes_atlas.decisions.optimum import compute_optimum

    params = fit.language_parameters(target, random_seed)
    mixture = Mixture(target, (), {target: unique}, np.zeros((fit.n_draws, 0)))
    optimum = compute_optimum(fit, mixture, compute, random_seed=random_seed)
    names = _free_parameters(fit, params, target, unique)
    theta = np.column_stack([np.asarray(params[n], dtype=float) for n in names])
    fixed = {k: float(np.median(v)) for k, v in params.items() if k not in names}
    nu = fit.draws("nu") if "nu" in fit.posterior else (fit.config.student_nu or 1e6)
    scale = (fit.meta.get("loss_scale") or {}).get(target, 1.0)
    n = fit.n_draws
    return Preposterior(
        law=fit,
        target=target,
        compute=float(compute),
        unique=float(unique),
        ci=ci,
        names=tuple(names),
        fixed=fixed,
        theta=theta,
        weights=np.full(n, 1.0 / n),
        log_n_star=np.log10(optimum.params),
        sigma=float(np.median(fit.draws("sigma"))),
        nu=float(np.median(nu)),
        prior=Kernel.from_draws(theta),
        log_scale=float(np.log(scale)),
    )


def next_run(
    posterior: Any,
    target: str,
    compute: float,
    candidates: Any = None,
    *,
    budget: float | None = None,
    goal_width: float | None = None,
    unique_tokens: float | None = None,
    n_outcomes: int = 32,
    ci: float = defaults.CI,
    random_seed: int = defaults.SEED,
    warn: bool = True,
) -> NextRunPlan:
    """Rank candidate runs by expected shrinkage of the N* interval per FLOP, and plan the cheapest way to a goal.

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
        more are dropped, and the plan stays within it.
    goal_width
        Width (decades of N) of the ``ci`` interval of N* the plan aims at (default: half the
        current width).
    unique_tokens
        Unique tokens of the target's text (default: published count, else unlimited).
    n_outcomes
        Simulated outcomes per candidate for the importance-reweighting check.
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
        Non-positive compute, budget or goal, a budget at or above the compute, no affordable
        candidate, malformed candidates.

    Examples
    --------
    >>> plan = next_run(None, "ca", 1e22, budget=1e19, n_outcomes=8)  # doctest: +SKIP
    >>> plan.sequence[["params", "tokens", "cost", "expected_width"]]  # doctest: +SKIP
    """
    target = check_language(target)
    ci = check_ci(ci)
    compute = check_budget(check_positive(compute, "compute", "a positive number of FLOPs"))
    if budget is not None:
        budget = check_positive(budget, "budget", "a positive number of FLOPs")
    if goal_width is not None:
        goal_width = check_positive(goal_width, "goal_width", "a positive width in decades")
    budget = budget if budget is not None else DEFAULT_BUDGET_SHARE * compute
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
    n_star = 10.0**pre.log_n_star
    found += bound_caveats(at_search_bound(n_star), LOG_N_BOUNDS, "N*")
    found += range_caveats(law, "law", n_star, compute / (6.0 * n_star), [target])
    rng = np.random.default_rng(random_seed)
    N = runs["params"].to_numpy()
    D = runs["tokens"].to_numpy()
    cost = 6 * N * D
    mu = pre.mean_log_loss(N[:, None], D[:, None])  # (C, draws)
    lo, hi = pre.interval()
    width0 = float(hi - lo)
    expected = pre.linear_widths(mu)
    s, z = pre.scenarios(n_outcomes, len(runs), rng)
    widths_is, ess = pre.step(mu, s, z)
    ranking = runs.assign(
        cost=cost,
        tokens_per_param=D / N,
        expected_width=expected,
        shrinkage=width0 - expected,
        shrinkage_per_eflop=(width0 - expected) / (cost / 1e18),
        expected_width_is=widths_is.mean(axis=1),
        ess=ess.mean(axis=1),
    ).sort_values("shrinkage_per_eflop", ascending=False)
    ranking.index.name = "candidate"

    goal = DEFAULT_GOAL_SHARE * width0 if goal_width is None else float(goal_width)
    chosen, widths, reached = pre.plan(mu, cost, budget, goal)
    sequence = pd.DataFrame(
        [
            {
                "step": k + 1,
                "candidate": int(i),
                "params": float(N[i]),
                "tokens": float(D[i]),
                "cost": float(cost[i]),
                "cumulative_cost": float(cost[chosen[: k + 1]].sum()),
                "expected_width": widths[k],
            }
            for k, i in enumerate(chosen)
        ],
        columns=["step", "candidate", "params", "tokens", "cost", "cumulative_cost", "expected_width"],
    )
    first = int(chosen[0]) if chosen else int(ranking.index[0])
    median = float(np.median(pre.log_n_star))
    where = f"the {ci:.0%} interval of the compute-optimal N* at {compute:.3g} FLOPs"
    if not chosen:
        text = (
            f"next run for {target}: none needed - {where} is {width0:.2f} decades wide, already at the goal of "
            f"{goal:.2f}; the run with the most shrinkage per FLOP would be N = {N[first]:.3g} on D = {D[first]:.3g} tokens"
        )
    else:
        text = (
            f"next run for {target}: N = {N[first]:.3g} parameters on D = {D[first]:.3g} tokens "
            f"(cost {cost[first]:.3g} FLOPs), the first of "
        )
        total = float(sequence["cumulative_cost"].iloc[-1])
        if reached:
            text += (
                f"the cheapest plan expected to narrow {where} from {width0:.2f} to the goal of {goal:.2f} decades: "
                f"{len(chosen)} run(s) costing {total:.3g} of the {budget:.3g}-FLOP budget"
            )
        else:
            text += (
                f"{len(chosen)} run(s) costing {total:.3g} FLOPs expected to narrow {where} from {width0:.2f} to "
                f"{widths[-1]:.2f} decades; no set of runs within the {budget:.3g}-FLOP budget is expected to reach "
                f"the goal of {goal:.2f}"
            )
        text += "; do it, refit with its result and plan again"
    plan = NextRunPlan(
        target=target,
        compute=compute,
        budget=budget,
        interval={"median": 10**median, "lower": float(10**lo), "upper": float(10**hi), "width_decades": width0},
        ranking=ranking,
        sequence=sequence,
        decision={
            "next": {"params": float(N[first]), "tokens": float(D[first]), "cost": float(cost[first])},
            "goal_width": goal,
            "goal_reached": bool(reached),
            "text": text,
        },
        inputs={
            "target": target,
            "compute": compute,
            "budget": budget,
            "goal_width": goal,
            "unique_tokens": None if not np.isfinite(unique) else unique,
            "n_candidates": len(runs),
            "n_outcomes": n_outcomes,
            "ci": ci,
            "n_draws": pre.n_draws,
            "free_parameters": list(pre.names),
        },
        warnings=found,
    )
    if warn:
        for w in found:
            warnings.warn(w, stacklevel=2)
    return plan
