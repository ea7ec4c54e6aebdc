"""The compute-optimal model size and tokens, per posterior draw, through the fitted law's one mean.

:func:`loss_function` turns a fit, a target and a training mixture into ``loss(N, D)`` (numpy,
one value per posterior draw) by building the runs' :class:`bayes_atlas.laws.Design` and
calling the law registry's mean - the same formula the model was fitted with.
:func:`compute_optimum` minimises it along ``C = 6 N D`` per draw.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bayes_atlas.errors import PosteriorKindError
from bayes_atlas.laws import MAX_TRANSFER_SOURCES, Design, compute_optimal_numeric
from bayes_atlas.laws.design import same_family

__all__ = ["LOG_N_BOUNDS", "Mixture", "Optimum", "at_search_bound", "compute_optimum", "loss_function"]

#: Model sizes of the search for a compute-optimal N.
LOG_N_BOUNDS = (float(np.log(1e6)), float(np.log(1e13)))


@dataclass(frozen=True)
class Mixture:
    """A training mixture for ``target``: it and ``co_training`` sampled uniformly (K = 1 + len).

    ``tau`` holds per-draw transfer weights ``(draws, len(co_training))`` in the order of
    ``co_training``. As the law model reads a run table, the (up to)
    :data:`~bayes_atlas.laws.MAX_TRANSFER_SOURCES` co-training languages with the most tokens
    are named sources - with uniform shares, ties broken by language code - and the rest count
    as "other" tokens (weight ``tau_other``). ``unique`` maps each language to its unique
    tokens (inf: never repeated); ``family_share`` is MSL's p (the share of the mixture in the
    target's family).
    """

    target: str
    co_training: tuple[str, ...]
    unique: dict[str, float]
    tau: np.ndarray
    family_share: float = 1.0

    @property
    def size(self) -> int:
        return 1 + len(self.co_training)

    @property
    def named(self) -> list[int]:
        """Positions in ``co_training`` of the named transfer sources (the rule of ``prepare_law_data``)."""
        return sorted(range(len(self.co_training)), key=lambda i: self.co_training[i])[:MAX_TRANSFER_SOURCES]

    def named_tau(self) -> np.ndarray:
        """``(draws, MAX_TRANSFER_SOURCES)`` weights of the named sources, zero-padded."""
        named = self.tau[:, self.named]
        return np.concatenate([named, np.zeros((named.shape[0], MAX_TRANSFER_SOURCES - named.shape[1]))], axis=1)

    def design(self, N: np.ndarray, D: np.ndarray) -> Design:
        """Rows of runs with ``N`` parameters and ``D`` total tokens (broadcast), the mixture's shares."""
        share = np.asarray(D, dtype=float) / self.size
        named = [self.co_training[i] for i in self.named]
        others = [c for c in self.co_training if c not in named]
        transfer = np.stack([share] * len(named), axis=-1) if named else None
        return Design.of_run(
            params=N,
            tokens=share,
            unique=self.unique[self.target],
            transfer_tokens=transfer,
            transfer_unique=np.array([self.unique[c] for c in named]),
            other_tokens=share * len(others),
            mixture_size=float(self.size),
            family_share=self.family_share,
        )


def loss_function(fit: Any, mixture: Mixture, random_seed: int = 0) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``loss(N, D)`` of ``mixture``'s target per posterior draw of ``fit`` (last axis: draws).

    Raises
    ------
    bayes_atlas.PosteriorKindError
        A fit on per-sequence losses asked about a language it did not fit (its loss scale
        is per language).
    """
    params = fit.language_parameters(mixture.target, random_seed)
    if fit.spec.uses_transfer:
        params["tau"] = mixture.named_tau()
    if fit.spec.needs_family_share and mixture.co_training:
        members = [mixture.target, *mixture.co_training]
        mixture = replace(mixture, family_share=float(np.mean(same_family(mixture.target, members))))
    scale = (fit.meta.get("loss_scale") or {}).get(mixture.target, 1.0)
    if fit.meta.get("loss_scale") and mixture.target not in fit.meta["loss_scale"]:
        raise PosteriorKindError(
            f"this fit is on per-sequence losses ({fit.meta.get('loss_unit')}), whose scale is per language; "
            f"it cannot answer for {mixture.target!r}, which it did not fit"
        )

    def loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        return scale * np.exp(fit.mean_log_loss(mixture.design(N, D), params))

    return loss


@dataclass
class Optimum:
    """Per-draw compute-optimal ``params``, ``tokens`` and ``loss`` (and whether each hit the search bound)."""

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    at_bound: np.ndarray
    loss_function: Callable[[np.ndarray, np.ndarray], np.ndarray]


def compute_optimum(
    fit: Any, mixture: Mixture, compute: float, *, random_seed: int = 0, log_N_bounds: tuple[float, float] = LOG_N_BOUNDS
) -> Optimum:
    """Minimise the law's loss along ``C = 6 N D`` for every posterior draw.

    Examples
    --------
    >>> import numpy as np, bayes_atlas
    >>> from bayes_atlas.decisions.optimum import Mixture, compute_optimum
    >>> law = bayes_atlas.posteriors.resolve("law")
    >>> opt = compute_optimum(law, Mixture("en", (), {"en": np.inf}, np.zeros((law.n_draws, 0))), 1e21)
    >>> bool(np.all(np.isclose(6 * opt.params * opt.tokens, 1e21)))
    True
    """
    loss = loss_function(fit, mixture, random_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the bound is reported in at_bound
        N, D, best = compute_optimal_numeric(compute, loss, log_N_bounds=log_N_bounds, grid_size=128, tol=1e-6)
    return Optimum(params=N, tokens=D, loss=best, at_bound=at_search_bound(N, log_N_bounds), loss_function=loss)


def at_search_bound(N: np.ndarray, log_N_bounds: tuple[float, float] = LOG_N_BOUNDS) -> np.ndarray:
    """Whether each optimum model size ``N`` sits at the search bounds (natural logs), i.e. is clipped there."""
    log_N = np.log(np.asarray(N, dtype=float))
    return (log_N - log_N_bounds[0] < 1e-3) | (log_N_bounds[1] - log_N < 1e-3)
