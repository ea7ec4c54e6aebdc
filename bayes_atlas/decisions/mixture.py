"""The language mixture to train on: sampling proportions, N and D minimising posterior expected loss.

:func:`optimal_mixture` chooses the share of each language in a training run (the target(s)
and candidate co-training languages) together with the model size ``N`` and total tokens
``D`` (``C = 6 N D``), minimising the posterior **expected** loss of the target(s), weighted
by ``target_weights``. Every loss is the fitted law's one mean
(:meth:`bayes_atlas.scaling.Fit.mean_log_loss`) at a :class:`bayes_atlas.laws.Design` built
here for non-uniform proportions: each language's tokens ``w_i D`` against its unique tokens
``U_i`` (repetition), and the other languages' tokens through the transfer weights ``tau``
(the law fit's own for pairs it fitted, else the transfer posterior's:
:func:`~bayes_atlas.decisions.cotraining.co_training_tau`).

Support rule (the law's own): for each target, the (up to)
:data:`~bayes_atlas.laws.MAX_TRANSFER_SOURCES` other languages with the most tokens in the
mixture (ties by language code) are its named transfer sources; every further language's
tokens count as "other" tokens with weight ``tau_other`` - exactly as
:func:`bayes_atlas.laws.prepare_law_data` reads a run table, so the optimiser answers the
question the fitted law can answer. The optimiser is free to give any candidate weight; a
fourth or later language simply counts as "other" for that target.

The optimiser: L-BFGS-B jointly over ``log N`` and the proportions (``w = x / sum x``,
``x`` in [0, 1], so a language can get exactly zero), with forward-difference gradients
evaluated as one batched call of the law, from several starts (target(s) only, uniform,
each of the best three candidates beside the target(s));
the answer is the best of these and of the baseline strategies at their own best ``N``, so it
is never worse in posterior expected loss than any strategy it is compared with.

Baselines, each at its own Bayes model size along ``C = 6 N D``: the target(s) alone
(``monolingual``), ``uniform`` over all languages, ``temperature`` sampling
(``p_i ~ n_i^(1/T)``, ``T = 3.33``) and ``unimax`` (Chung et al. 2023: a uniform budget,
each language capped at :data:`UNIMAX_MAX_EPOCHS` epochs of its unique tokens, the rest
spread over the others). Both read the text available to the run, ``n_i = min(U_i, D)``
(a language of unlimited or unknown text counts as ``D`` tokens).

Examples
--------
>>> from bayes_atlas import optimal_mixture
>>> mix = optimal_mixture("ca", 1e21, candidates=["es", "pt"])  # doctest: +SKIP
>>> mix.decision["text"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import (
    bound_caveats,
    check_budget,
    check_ci,
    check_languages,
    check_positive,
    given_unique_tokens,
    posterior_caveats,
    published_unique_tokens,
    quantiles,
    range_caveats,
    strict_json,
)
from bayes_atlas.decisions.cotraining import co_training_tau
from bayes_atlas.decisions.optimum import LOG_N_BOUNDS, at_search_bound
from bayes_atlas.errors import DecisionWarning, PosteriorKindError
from bayes_atlas.laws import MAX_TRANSFER_SOURCES, Design, compute_optimal_numeric
from bayes_atlas.laws.design import same_family
from bayes_atlas.posteriors import resolve

__all__ = [
    "STRATEGIES",
    "TEMPERATURE",
    "UNIMAX_MAX_EPOCHS",
    "MixtureLoss",
    "MixtureResult",
    "bayes_params",
    "named_sources",
    "optimal_mixture",
    "optimise_mixture",
    "strategy_weights",
]

#: Temperature of temperature sampling (``p_i ~ n_i^(1/T)``; mT5 / XLM-R style, alpha = 0.3).
TEMPERATURE = 3.33
#: Unimax's cap on epochs of any language's unique tokens (Chung et al. 2023 sweep 1-10; 4 is
#: where Muennighoff et al. find repeated data still nearly as good as new).
UNIMAX_MAX_EPOCHS = 4.0
#: The baseline strategies every mixture is compared with.
STRATEGIES = ("monolingual", "uniform", "temperature", "unimax")
#: Weights below this share are dropped from the Bayes mixture (then N is re-optimised).
PRUNE_SHARE = 2e-3
#: Posterior draws the optimiser searches with (evenly thinned); every reported number uses all draws.
SEARCH_DRAWS = 500
#: Default number of candidate languages (best mean BTS per target) when none are given.
DEFAULT_CANDIDATES = 4


# -- the law at a mixture -------------------------------------------------------------------


def named_sources(weights: np.ndarray, target_index: int, languages: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """(named, other) language indices for the target at ``target_index`` under ``weights``.

    Named: the (up to) :data:`~bayes_atlas.laws.MAX_TRANSFER_SOURCES` other languages with
    the largest weight > 0, ties broken by language code (the rule of
    :func:`bayes_atlas.laws.prepare_law_data`); other: the rest with weight > 0.

    Examples
    --------
    >>> named_sources(np.array([0.4, 0.3, 0.1, 0.1, 0.1]), 0, ("ca", "es", "pt", "fr", "it"))
    ([1, 3, 4], [2])
    """
    order = sorted(
        (i for i in range(len(weights)) if i != target_index and weights[i] > 0), key=lambda i: (-weights[i], languages[i])
    )
    return order[:MAX_TRANSFER_SOURCES], order[MAX_TRANSFER_SOURCES:]


@dataclass
class MixtureLoss:
    """Per-draw losses of the target(s) of a mixture over ``languages``, through one law mean.

    Attributes
    ----------
    mean_log_loss
        ``f(design, params) -> log loss`` (a fit's :meth:`~bayes_atlas.scaling.Fit.mean_log_loss`,
        or a registered law's mean for a known truth).
    targets, languages
        Target codes, and every language of the mixture (targets first).
    unique
        Unique tokens per language (inf: never repeated).
    params
        Per target: the law parameters (arrays with one entry per draw, or scalars), no ``tau``.
    tau
        Per target: ``(draws, len(languages))`` transfer weights of each language into it
        (the target's own column is unused), or None for a law without transfer.
    target_weights
        Weight of each target's loss in the objective (sums to 1).
    scale
        Per target: factor of the loss (per-sequence fits), else 1.
    family
        Per target: boolean mask of languages in its family (only for laws reading ``family_share``).
    """

    mean_log_loss: Any
    targets: tuple[str, ...]
    languages: tuple[str, ...]
    unique: dict[str, float]
    params: dict[str, dict[str, Any]]
    tau: dict[str, np.ndarray | None]
    target_weights: np.ndarray
    scale: dict[str, float] = field(default_factory=dict)
    family: dict[str, np.ndarray] | None = None

    @classmethod
    def from_fit(
        cls,
        law: Any,
        transfer: Any,
        targets: tuple[str, ...],
        languages: tuple[str, ...],
        unique: dict[str, float],
        target_weights: np.ndarray,
        random_seed: int = defaults.SEED,
    ) -> MixtureLoss:
        """From a law fit (and the transfer posterior for pairs the fit did not see)."""
        params, tau, scale = {}, {}, {}
        loss_scale = law.meta.get("loss_scale") or {}
        for t in targets:
            if loss_scale and t not in loss_scale:
                raise PosteriorKindError(
                    f"this fit is on per-sequence losses ({law.meta.get('loss_unit')}), whose scale is per language; "
                    f"it cannot answer for {t!r}, which it did not fit"
                )
            scale[t] = float(loss_scale.get(t, 1.0))
            params[t] = law.language_parameters(t, random_seed)
            if law.spec.uses_transfer:
                sources = [c for c in languages if c != t]
                values = co_training_tau(t, sources, law, transfer, random_seed)
                full = np.zeros((law.n_draws, len(languages)))
                full[:, [languages.index(c) for c in sources]] = values
                tau[t] = full
            else:
                tau[t] = None
        family = _family_masks(targets, languages) if law.spec.needs_family_share else None
        return cls(law.mean_log_loss, targets, languages, unique, params, tau, target_weights, scale, family)

    @classmethod
    def from_truth(
        cls,
        truth: Any,
        targets: tuple[str, ...],
        languages: tuple[str, ...],
        unique: dict[str, float],
        target_weights: np.ndarray | None = None,
    ) -> MixtureLoss:
        """The same losses under a known truth (:class:`bayes_atlas.simulate.StudyTruth`): one "draw".

        Examples
        --------
        >>> from bayes_atlas import simulate
        >>> truth = simulate.default_truth()
        >>> loss = MixtureLoss.from_truth(truth, ("ca",), ("ca", "es"), {"ca": np.inf, "es": np.inf})
        >>> float(loss.expected(np.array([1.0, 0.0]), 1e9, 2e10)) > 0
        True
        """
        from bayes_atlas.laws import get_law

        law = get_law("atlas")
        table = truth.tau.to_pandas()
        params, tau = {}, {}
        for t in targets:
            params[t] = {k: np.atleast_1d(v) for k, v in truth.law_parameters(t).items()}
            tau[t] = np.array([[0.0 if c == t else float(table.at[t, c]) for c in languages]])
        weights = np.full(len(targets), 1.0 / len(targets)) if target_weights is None else np.asarray(target_weights, float)
        return cls(lambda design, p: law.mean_log_loss(np, design, p), targets, languages, unique, params, tau, weights)

    def thin(self, k: int) -> MixtureLoss:
        """The same losses on ``k`` evenly spaced draws (the optimiser's search; answers use all draws)."""
        S = self.n_draws
        if S <= k:
            return self
        keep = np.linspace(0, S - 1, k).round().astype(int)

        def take(v: Any) -> Any:
            return v[keep] if np.ndim(v) >= 1 and np.shape(v)[0] == S else v

        return dataclasses.replace(
            self,
            params={t: {n: take(v) for n, v in p.items()} for t, p in self.params.items()},
            tau={t: (None if v is None else v[keep]) for t, v in self.tau.items()},
        )

    @property
    def n_draws(self) -> int:
        first = self.tau[self.targets[0]]
        if first is not None:
            return int(first.shape[0])
        return int(np.size(next(iter(self.params[self.targets[0]].values()))))

    def target_log_loss(
        self, target: str, W: np.ndarray, N: np.ndarray, D: np.ndarray, named: list[int], other: list[int]
    ) -> np.ndarray:
        """Log loss of ``target``: ``W`` ``(B, M)`` proportions, ``N`` and ``D`` ``(B, X)`` (X: 1 or draws) -> ``(B, draws)``."""
        t = self.languages.index(target)
        own = W[:, t, None] * D
        transfer = W[:, named][:, None, :] * D[..., None] if named else None
        other_tokens = W[:, other].sum(axis=1)[:, None] * D if other else 0.0
        size = (W > 0).sum(axis=1)[:, None].astype(float)
        share = 1.0
        if self.family is not None:
            share = np.clip((W * self.family[target]).sum(axis=1)[:, None], 1e-6, 1.0)
        design = Design.of_run(
            params=N,
            tokens=own,
            unique=self.unique[target],
            transfer_tokens=transfer,
            transfer_unique=np.array([self.unique[self.languages[i]] for i in named]) if named else np.inf,
            other_tokens=other_tokens,
            mixture_size=size,
            family_share=share,
        )
        p = self.params[target]
        if self.tau[target] is not None:
            tau = np.zeros((self.tau[target].shape[0], MAX_TRANSFER_SOURCES))
            tau[:, : len(named)] = self.tau[target][:, named]
            p = {**p, "tau": tau}
        return self.mean_log_loss(design, p) + np.log(self.scale.get(target, 1.0))

    def per_target(self, weights: np.ndarray, N: Any, D: Any, named_from: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``{target: loss}`` for one proportion vector (or a batch ``(B, M)``); ``N``, ``D`` ``(B, X)``.

        ``named_from`` fixes which languages are named sources (default: from each row's own
        weights when one row, else from the first row).
        """
        W = np.atleast_2d(np.asarray(weights, dtype=float))
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        if N.ndim < 2:
            N = N.reshape(1, -1) if W.shape[0] == 1 else N.reshape(-1, 1)
        if D.ndim < 2:
            D = D.reshape(1, -1) if W.shape[0] == 1 else D.reshape(-1, 1)
        reference = W[0] if named_from is None else named_from
        out = {}
        for target in self.targets:
            named, other = named_sources(reference, self.languages.index(target), self.languages)
            out[target] = np.exp(self.target_log_loss(target, W, N, D, named, other))
        return out

    def weighted(self, weights: np.ndarray, N: Any, D: Any, named_from: np.ndarray | None = None) -> np.ndarray:
        """Target-weighted loss per draw (``(B, draws)``)."""
        losses = self.per_target(weights, N, D, named_from)
        return sum(w * losses[t] for w, t in zip(self.target_weights, self.targets, strict=True))

    def expected(self, weights: np.ndarray, N: float, D: float) -> float:
        """Posterior expected target-weighted loss of one mixture at ``N``, ``D``."""
        return float(self.weighted(weights, N, D).mean())


def _family_masks(targets: tuple[str, ...], languages: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {t: same_family(t, languages) for t in targets}


# -- optimisation ---------------------------------------------------------------------------


def bayes_params(
    loss: MixtureLoss, weights: np.ndarray, compute: float, log_N_bounds: tuple[float, float] = LOG_N_BOUNDS
) -> float:
    """The model size minimising the expected loss of ``weights`` along ``C = 6 N D``."""
    w = np.asarray(weights, dtype=float)

    def mean_loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(N), np.shape(D))
        N = np.atleast_1d(N).reshape(-1, 1)
        D = np.atleast_1d(D).reshape(-1, 1)
        W = np.broadcast_to(w, (N.shape[0], w.size))
        return loss.weighted(W, N, D, named_from=w).mean(axis=1).reshape(shape)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        N, _, _ = compute_optimal_numeric(np.array([compute]), mean_loss, log_N_bounds=log_N_bounds, grid_size=48, tol=1e-5)
    return float(N[0])


def per_draw_optimum(loss: MixtureLoss, weights: np.ndarray, compute: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-draw compute-optimal (N, D) of the target-weighted loss at fixed proportions."""
    w = np.asarray(weights, dtype=float)

    def draw_loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        if N.ndim == 2:  # the grid (G, 1)
            return loss.weighted(np.broadcast_to(w, (N.shape[0], w.size)), N, D, named_from=w)
        return loss.weighted(w, N.reshape(1, -1), D.reshape(1, -1))[0]  # (draws,)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        N, D, _ = compute_optimal_numeric(compute, draw_loss, log_N_bounds=LOG_N_BOUNDS, grid_size=96, tol=1e-5)
    return N, D


def optimise_mixture(
    loss: MixtureLoss,
    compute: float,
    starts: list[np.ndarray],
    *,
    log_N_start: float | None = None,
    n_targets: int | None = None,
) -> tuple[np.ndarray, float, float]:
    """Minimise the expected loss over (proportions, log N) from several ``starts``.

    Returns ``(weights, N, expected loss)`` of the best start, with shares below
    :data:`PRUNE_SHARE` dropped when that does not raise the expected loss.
    """
    from scipy.optimize import minimize

    M = len(loss.languages)
    n_targets = len(loss.targets) if n_targets is None else n_targets
    if log_N_start is None:
        log_N_start = float(np.log(bayes_params(loss, starts[0], compute)))
    bounds = [LOG_N_BOUNDS] + [(1e-3, 1.0)] * n_targets + [(0.0, 1.0)] * (M - n_targets)
    h = 1e-6

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.clip(z[1:], 0.0, 1.0)
        base_w = x / x.sum()
        # Batch: the point, then one forward (or backward, at an upper bound) step per coordinate.
        steps = np.where(z + h > np.array([b[1] for b in bounds]), -h, h)
        Z = np.repeat(z[None, :], M + 2, axis=0)
        Z[np.arange(1, M + 2), np.arange(M + 1)] += steps
        X = np.clip(Z[:, 1:], 0.0, 1.0)
        W = X / X.sum(axis=1, keepdims=True)
        N = np.exp(Z[:, :1])
        values = loss.weighted(W, N, compute / (6.0 * N), named_from=base_w).mean(axis=1)
        return float(values[0]), (values[1:] - values[0]) / steps

    best: tuple[np.ndarray, float, float] | None = None
    for start in starts:
        x0 = np.asarray(start, dtype=float) / np.max(start)
        x0[:n_targets] = np.maximum(x0[:n_targets], 1e-3)
        z0 = np.concatenate([[log_N_start], x0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = minimize(
                objective, z0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 100, "ftol": 1e-11, "gtol": 1e-8}
            )
        x = np.clip(result.x[1:], 0.0, 1.0)
        w = x / x.sum()
        N = float(np.exp(result.x[0]))
        value = loss.expected(w, N, compute / (6 * N))
        if best is None or value < best[2]:
            best = (w, N, value)
    assert best is not None
    w, N, value = best
    if np.any((w > 0) & (w < PRUNE_SHARE)):
        pruned = np.where(w < PRUNE_SHARE, 0.0, w)
        pruned /= pruned.sum()
        N_p = bayes_params(loss, pruned, compute)
        value_p = loss.expected(pruned, N_p, compute / (6 * N_p))
        if value_p <= value * (1 + 1e-6):
            w, N, value = pruned, N_p, value_p
    N_1d = bayes_params(loss, w, compute)  # the 1-D search along C = 6 N D is the more precise one
    value_1d = loss.expected(w, N_1d, compute / (6 * N_1d))
    if value_1d <= value:
        N, value = N_1d, value_1d
    return w, N, value


def strategy_weights(
    strategy: str,
    targets: tuple[str, ...],
    languages: tuple[str, ...],
    unique: dict[str, float],
    tokens: float,
    target_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Proportions of a baseline strategy over ``languages`` for a run of ``tokens`` total tokens.

    ``monolingual``: the target(s) only, in proportion to ``target_weights``; ``uniform``: all
    equal; ``temperature``: ``p_i ~ n_i^(1/T)``; ``unimax``: a uniform budget with at most
    :data:`UNIMAX_MAX_EPOCHS` epochs of any language (Chung et al. 2023). ``n_i = min(U_i, tokens)``.

    Examples
    --------
    >>> w = strategy_weights("unimax", ("sw",), ("sw", "en"), {"sw": 1e9, "en": np.inf}, 1e11)
    >>> [round(float(v), 3) for v in w]  # sw capped at 4 epochs of its 1e9 unique tokens
    [0.04, 0.96]
    """
    M = len(languages)
    available = np.array([min(unique[c], tokens) for c in languages])
    if strategy == "monolingual":
        w = np.zeros(M)
        w[: len(targets)] = np.full(len(targets), 1.0) if target_weights is None else target_weights
    elif strategy == "uniform":
        w = np.ones(M)
    elif strategy == "temperature":
        w = available ** (1.0 / TEMPERATURE)
    elif strategy == "unimax":
        cap = UNIMAX_MAX_EPOCHS * available
        alloc = np.zeros(M)
        remaining = tokens
        order = np.argsort(cap, kind="stable")
        for k, i in enumerate(order):
            share = remaining / (M - k)
            alloc[i] = min(cap[i], share)
            remaining -= alloc[i]
        if remaining > 1e-9 * tokens:  # every language capped: spread the rest in proportion to the caps
            alloc += remaining * cap / cap.sum()
        w = alloc
    else:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    return np.asarray(w, dtype=float) / np.sum(w)


def _strategy(
    strategy: str, loss: MixtureLoss, compute: float, target_weights: np.ndarray, N_start: float
) -> tuple[np.ndarray, float]:
    """A strategy's proportions and its Bayes N; proportions that depend on D iterate to a fixed point."""
    N = N_start
    w = strategy_weights(strategy, loss.targets, loss.languages, loss.unique, compute / (6 * N), target_weights)
    if strategy in ("monolingual", "uniform"):
        return w, bayes_params(loss, w, compute)
    for _ in range(3):
        N = bayes_params(loss, w, compute)
        w_new = strategy_weights(strategy, loss.targets, loss.languages, loss.unique, compute / (6 * N), target_weights)
        if np.allclose(w_new, w, rtol=1e-4, atol=1e-6):
            break
        w = w_new
    return w, bayes_params(loss, w, compute)


def solve_mixture(
    loss: MixtureLoss, compute: float, target_weights: np.ndarray, search_draws: int = SEARCH_DRAWS
) -> dict[str, tuple[np.ndarray, float]]:
    """Every strategy's (proportions, Bayes N) and the Bayes mixture's (key ``bayes``) for ``loss``.

    Works for the posterior (many draws) and for a known truth alike (one draw). The search
    runs on ``search_draws`` thinned draws; the final comparison with the strategies and the
    Bayes N use all draws.
    """
    full = loss
    loss = loss.thin(search_draws)
    n_t = len(loss.targets)
    mono_w = strategy_weights("monolingual", loss.targets, loss.languages, loss.unique, 1.0, target_weights)
    N_mono = bayes_params(loss, mono_w, compute)
    found = {"monolingual": (mono_w, N_mono)}
    for name in STRATEGIES[1:]:
        found[name] = _strategy(name, loss, compute, target_weights, N_mono) if len(loss.languages) > n_t else (mono_w, N_mono)
    starts = [mono_w, found["uniform"][0]]
    if len(loss.languages) > n_t and loss.tau[loss.targets[0]] is not None:
        mean_tau = sum(w * loss.tau[t].mean(axis=0) for w, t in zip(target_weights, loss.targets, strict=True))
        for i in sorted(range(n_t, len(loss.languages)), key=lambda i: -mean_tau[i])[:3]:
            pair = mono_w.copy()
            pair[i] = 1.0 / max(n_t, 1)
            starts.append(pair / pair.sum())
    w, _, _ = optimise_mixture(loss, compute, starts, log_N_start=float(np.log(N_mono)))
    if full is not loss:  # the answer on all draws
        found = {name: (w_s, bayes_params(full, w_s, compute)) for name, (w_s, _) in found.items()}
    N = bayes_params(full, w, compute)
    value = full.expected(w, N, compute / (6 * N))
    for w_s, N_s in found.values():  # never worse than a strategy it is compared with
        v = full.expected(w_s, N_s, compute / (6 * N_s))
        if v < value or (np.allclose(w_s, w, atol=1e-9) and v <= value * (1 + 1e-9)):
            w, N, value = w_s.copy(), N_s, v
    found["bayes"] = (w, N)
    return found


# -- the decision ---------------------------------------------------------------------------


@dataclass
class MixtureResult:
    """The Bayes mixture and its comparisons: what :func:`optimal_mixture` returns.

    Attributes
    ----------
    targets, languages
        Target codes; every language considered (targets first, then candidates).
    weights
        The Bayes mixture: share of each language's tokens (a Series over ``languages``, sums to 1).
    params, tokens, compute
        The Bayes model size and total tokens (lowest expected loss), ``compute = 6 N D``.
    draws
        Per-draw arrays: ``loss`` (target-weighted), ``loss_<target>``, ``params`` /
        ``tokens`` (per-draw compute optimum at the Bayes proportions),
        ``diff_<strategy>`` (strategy's loss minus the Bayes mixture's, paired by draw).
    effects
        Per language in the mixture: its weight and the per-draw loss change when its weight
        is set to 0 and the rest renormalised (positive: the language helps), with interval
        and ``p_helps``.
    comparison
        Per strategy: its proportions, Bayes N, expected loss, and the paired difference to
        the Bayes mixture (median, interval, ``p_bayes_better``).
    decision
        ``co_training_pays`` (bool), ``p_improves`` (P(mixture beats monolingual)),
        ``loss_change`` (mixture minus monolingual: median, lower, upper), ``text``.
    notes
        Assumptions the answer rests on (e.g. unique tokens taken from published counts).
    warnings
        :class:`DecisionWarning` caveats (also emitted with :mod:`warnings`).
    """

    targets: tuple[str, ...]
    languages: tuple[str, ...]
    weights: pd.Series
    params: float
    tokens: float
    compute: float
    draws: dict[str, np.ndarray]
    effects: pd.DataFrame
    comparison: pd.DataFrame
    decision: dict[str, Any]
    inputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[DecisionWarning] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Median and equal-tailed interval of every per-draw quantity (index ``quantity``)."""
        ci = self.inputs["ci"]
        rows = {name: quantiles(values, ci) for name, values in self.draws.items()}
        table = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper"])
        table.index.name = "quantity"
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable answer: mixture, N, D, loss, effects, comparison, decision, notes, warnings."""
        summary = self.summary()
        out = {
            "targets": list(self.targets),
            "inputs": self.inputs,
            "mixture": {c: float(v) for c, v in self.weights.items()},
            "params": self.params,
            "tokens": self.tokens,
            "tokens_per_language": {c: float(v) * self.tokens for c, v in self.weights.items() if v > 0},
            "compute": self.compute,
            "quantities": {
                k: dict(zip(("median", "lower", "upper"), v, strict=True))
                for k, v in zip(summary.index, summary.to_numpy().tolist(), strict=True)
            },
            "effects": self.effects.reset_index().to_dict(orient="records"),
            "comparison": self.comparison.reset_index().to_dict(orient="records"),
            "decision": self.decision,
            "notes": self.notes,
            "warnings": [{"code": w.code, "text": w.text} for w in self.warnings],
        }
        return json.loads(json.dumps(strict_json(out), allow_nan=False))

    def __repr__(self) -> str:
        ci = int(round(100 * self.inputs["ci"]))
        m, lo, hi = quantiles(self.draws["loss"], self.inputs["ci"])
        share = ", ".join(f"{c} {v:.2f}" for c, v in self.weights.items() if v > 0)
        lines = [
            f"<Bayes mixture for {'+'.join(self.targets)} at C={self.compute:.3g} FLOPs ({ci}% intervals)",
            f"  mixture: {share}",
            f"  N = {self.params:.4g}, D = {self.tokens:.4g}; loss {m:.4f} [{lo:.4f}, {hi:.4f}]",
            f"  {self.decision['text']}",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  warning {w.code}: {w.text}" for w in self.warnings]
        return "\n".join(lines) + ">"


def _unique_tokens(
    languages: tuple[str, ...], targets: tuple[str, ...], unique_tokens: Any
) -> tuple[dict[str, float], list[str]]:
    """Unique tokens per language (the user's, else published, else unlimited) and a note on the defaults."""
    if unique_tokens is not None and not isinstance(unique_tokens, dict) and len(targets) != 1:
        raise ValueError("unique_tokens as one number needs one target; give a dict {language: tokens} for several")
    given = given_unique_tokens(unique_tokens, targets[0])
    stray = sorted(set(given) - set(languages))
    if stray:
        raise ValueError(f"unique_tokens names {stray}, which are not targets or candidates of this mixture")
    published = published_unique_tokens()
    out, from_published, unlimited = {}, [], []
    for code in languages:
        if code in given:
            out[code] = given[code]
        elif code in published:
            out[code] = published[code]
            from_published.append(f"{code} {published[code]:.3g}")
        else:
            out[code] = np.inf
            unlimited.append(code)
    notes = []
    if from_published:
        notes.append(f"unique tokens not given for {', '.join(from_published)}: the published MADLAD-400 counts (ATLAS) are used")
    if unlimited:
        notes.append(
            f"unique tokens not given and not published for {', '.join(unlimited)}: treated as unlimited (never repeated); "
            "give unique_tokens= (CLI: --unique-tokens) if text is scarce"
        )
    return out, notes


def _default_candidates(targets: tuple[str, ...], transfer: Any, random_seed: int) -> tuple[str, ...]:
    out: list[str] = []
    for t in targets:
        table = transfer.helpers(t, k=DEFAULT_CANDIDATES, top=DEFAULT_CANDIDATES + len(targets), random_seed=random_seed)
        out += [c for c in table.index if c not in targets and c not in out][:DEFAULT_CANDIDATES]
    return tuple(out)


def optimal_mixture(
    targets: str | list[str] | tuple[str, ...],
    compute: float,
    *,
    unique_tokens: float | dict[str, float] | None = None,
    candidates: list[str] | tuple[str, ...] | str | None = None,
    target_weights: list[float] | tuple[float, ...] | np.ndarray | None = None,
    ci: float = defaults.CI,
    posterior: Any = None,
    transfer: Any = None,
    random_seed: int = defaults.SEED,
    warn: bool = True,
) -> MixtureResult:
    """The sampling proportions, model size and tokens with the lowest posterior expected loss.

    Parameters
    ----------
    targets
        The language(s) the model is for: a code, a list, or ``"ca,eu"``.
    compute
        Training budget in FLOPs (``C = 6 N D``).
    unique_tokens
        Unique tokens per language (a dict), or one number for a single target. Languages
        not given take the published MADLAD-400 count where ATLAS prints one, else are
        unlimited; the result's ``notes`` say which.
    candidates
        Co-training languages the optimiser may mix in. Default: the transfer posterior's
        best :data:`DEFAULT_CANDIDATES` sources (mean BTS) of each target.
    target_weights
        Weight of each target's loss in the objective (positive, summing to 1; default equal).
    ci
        Credible mass of the intervals.
    posterior, transfer
        The law posterior (ATLAS law; also chinchilla / dcsl / msl, which have no transfer)
        and the transfer posterior: fitted objects, paths, or None for the shipped ones.
    random_seed
        Seed of population draws (unfitted languages) and transfer resampling.
    warn
        Also emit the caveats with :mod:`warnings`.

    Returns
    -------
    MixtureResult

    Raises
    ------
    bayes_atlas.UnknownLanguageError
        A target or candidate is not a language code.
    ValueError
        ``compute <= 0``, target weights not positive or not summing to 1, a candidate that
        is also a target, duplicates, non-positive unique tokens.

    Examples
    --------
    >>> from bayes_atlas import optimal_mixture
    >>> mix = optimal_mixture("ca", 1e21, candidates=["es", "pt", "fr", "it"])  # doctest: +SKIP
    >>> mix.weights  # doctest: +SKIP
    >>> mix.comparison[["loss", "diff_median", "p_bayes_better"]]  # doctest: +SKIP
    """
    target_codes = check_languages([targets] if isinstance(targets, str) and "," not in targets else targets, "target")
    if not target_codes:
        raise ValueError("give at least one target language")
    budget = check_budget(check_positive(compute, "compute", "a positive number of FLOPs (e.g. 1e21)"))
    ci = check_ci(ci)
    if target_weights is None:
        tw = np.full(len(target_codes), 1.0 / len(target_codes))
    else:
        tw = np.asarray(target_weights, dtype=float).ravel()
        if tw.size != len(target_codes):
            raise ValueError(f"target_weights has {tw.size} values for {len(target_codes)} targets; give one per target")
        if not np.all(np.isfinite(tw) & (tw > 0)):
            raise ValueError(f"target_weights must be positive, got {tw.tolist()}")
        if not np.isclose(tw.sum(), 1.0, atol=1e-6):
            raise ValueError(f"target_weights must sum to 1, got {tw.tolist()} (sum {tw.sum():.6g})")
    law = resolve("law", posterior)
    transfer_fit = resolve("transfer", transfer)
    found: list[DecisionWarning] = posterior_caveats(law, "law", list(target_codes))
    notes: list[str] = []
    if candidates is None:
        cand = _default_candidates(target_codes, transfer_fit, random_seed)
        notes.append(f"candidates not given: the transfer posterior's best sources by mean BTS ({', '.join(cand)})")
    else:
        cand = check_languages(candidates, "candidate")
        both = sorted(set(cand) & set(target_codes))
        if both:
            raise ValueError(f"candidates lists co-training languages; drop the target(s) {both} from it")
    languages = (*target_codes, *cand)
    unique, unique_notes = _unique_tokens(languages, target_codes, unique_tokens)
    notes += unique_notes
    if not law.spec.uses_transfer and cand:
        notes.append(f"the {law.law} law has no transfer: other languages only take tokens from the target(s)")
    loss = MixtureLoss.from_fit(law, transfer_fit, target_codes, languages, unique, tw, random_seed)
    solved = solve_mixture(loss, budget, tw)
    w, N = solved["bayes"]
    D = budget / (6 * N)

    per_target = loss.per_target(w, N, D)
    draws: dict[str, np.ndarray] = {"loss": sum(tw[i] * per_target[t][0] for i, t in enumerate(target_codes))}
    if len(target_codes) > 1:
        for t in target_codes:
            draws[f"loss_{t}"] = per_target[t][0]
    N_draw, D_draw = per_draw_optimum(loss, w, budget)
    draws["params"], draws["tokens"] = N_draw, D_draw

    rows = {}
    for name in STRATEGIES:
        w_s, N_s = solved[name]
        loss_s = loss.weighted(w_s, N_s, budget / (6 * N_s))[0]
        diff = loss_s - draws["loss"]
        draws[f"diff_{name}"] = diff
        med, lo, hi = quantiles(diff, ci)
        rows[name] = {
            "weights": {c: round(float(v), 6) for c, v in zip(languages, w_s, strict=True) if v > 0},
            "params": N_s,
            "tokens": budget / (6 * N_s),
            "expected_loss": float(loss_s.mean()),
            "diff_median": med,
            "diff_lower": lo,
            "diff_upper": hi,
            "p_bayes_better": float(np.mean(diff > 0)),
        }
    comparison = pd.DataFrame.from_dict(rows, orient="index")
    comparison.index.name = "strategy"

    effect_rows = {}
    for i, code in enumerate(languages):
        if w[i] <= 0 or np.isclose(w[i], 1.0):
            continue
        without = w.copy()
        without[i] = 0.0
        without /= without.sum()
        delta = loss.weighted(without, N, D)[0] - draws["loss"]
        med, lo, hi = quantiles(delta, ci)
        effect_rows[code] = {
            "weight": float(w[i]),
            "tokens": float(w[i] * D),
            "unique_tokens": unique[code],
            "effect_median": med,
            "effect_lower": lo,
            "effect_upper": hi,
            "p_helps": float(np.mean(delta > 0)),
        }
    effects = pd.DataFrame.from_dict(
        effect_rows,
        orient="index",
        columns=["weight", "tokens", "unique_tokens", "effect_median", "effect_lower", "effect_upper", "p_helps"],
    )
    effects.index.name = "language"

    n_t = len(target_codes)
    co_share = float(w[n_t:].sum())
    change = 0.0 - draws["diff_monolingual"]  # mixture minus monolingual, per draw (no -0.0)
    med, lo, hi = quantiles(change, ci)
    p_improves = float(np.mean(change < 0))
    pays = co_share > 0 and float(change.mean()) < 0
    where = f"{'+'.join(target_codes)} at {budget:.3g} FLOPs"
    if pays:
        mix_text = ", ".join(f"{c} {v:.2f}" for c, v in zip(languages, w, strict=True) if v > 0)
        text = (
            f"co-training pays for {where}: the mixture {mix_text} changes the expected loss by {med:+.4f} "
            f"[{lo:+.4f}, {hi:+.4f}] against {'the targets alone' if n_t > 1 else 'monolingual training'} "
            f"(P(improves) = {p_improves:.2f})"
        )
    else:
        text = (
            f"co-training does not pay for {where} with these unique tokens: "
            f"{'the targets alone have' if n_t > 1 else 'monolingual training has'} the lowest expected loss"
        )
        if cand:
            vs_mono = draws["diff_uniform"] - draws["diff_monolingual"]  # uniform minus monolingual, per draw
            u_med, u_lo, u_hi = quantiles(vs_mono, ci)
            text += (
                f"; a uniform mix with {', '.join(cand)} would change it by {u_med:+.4f} [{u_lo:+.4f}, {u_hi:+.4f}] "
                f"(P(improves) = {float(np.mean(vs_mono < 0)):.2f})"
            )
    decision = {
        "co_training_pays": bool(pays),
        "co_training_share": co_share,
        "p_improves": p_improves,
        "loss_change": {"median": med, "lower": lo, "upper": hi},
        "mixture": {c: float(v) for c, v in zip(languages, w, strict=True) if v > 0},
        "text": text,
    }
    found += bound_caveats(at_search_bound(N_draw), LOG_N_BOUNDS) + range_caveats(law, "law", N_draw, D_draw, list(target_codes))
    found += [x for x in posterior_caveats(transfer_fit, "transfer", list(target_codes)) if x.code == "BA204"]
    result = MixtureResult(
        targets=target_codes,
        languages=languages,
        weights=pd.Series(w, index=pd.Index(languages, name="language"), name="weight"),
        params=N,
        tokens=D,
        compute=budget,
        draws=draws,
        effects=effects,
        comparison=comparison,
        decision=decision,
        inputs={
            "targets": list(target_codes),
            "compute": budget,
            "candidates": list(cand),
            "unique_tokens": {c: (None if not np.isfinite(v) else v) for c, v in unique.items()},
            "target_weights": tw.tolist(),
            "ci": ci,
            "n_draws": loss.n_draws,
            "support_rule": f"per target, the {MAX_TRANSFER_SOURCES} other languages with the most tokens are named "
            "transfer sources; further languages count as other tokens (tau_other)",
        },
        notes=notes,
        warnings=found,
    )
    if warn:
        for x in found:
            warnings.warn(x, stacklevel=2)
    return result
