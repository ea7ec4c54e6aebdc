"""Co-training languages: per-draw transfer weights, and what they add to the target's data.

A pair the law fit saw takes the fit's own ``tau``; any other pair takes the transfer
posterior's BTS (``tau = BTS / (2 - BTS)``), resampled to the law fit's draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bayes_atlas.decisions.optimum import Mixture
from bayes_atlas.laws import MAX_TRANSFER_SOURCES, tau_from_bts
from bayes_atlas.laws.atlas import log_effective_data

__all__ = ["co_training_tau", "effective_own_tokens"]


def co_training_tau(target: str, sources: list[str], law: Any, transfer: Any, random_seed: int = 0) -> np.ndarray:
    """``(law draws, len(sources))`` transfer weights of ``sources`` into ``target``."""
    rng = np.random.default_rng(random_seed)
    fitted = {tuple(p) for p in law.meta.get("pairs", [])}
    out = np.empty((law.n_draws, len(sources)))
    for j, source in enumerate(sources):
        if (target, source) in fitted and "tau" in law.posterior:
            out[:, j] = law.tau_draws([(target, source)], rng)[:, 0]
        else:
            bts = transfer.predict_pair(source, target).values.ravel()
            out[:, j] = tau_from_bts(np.clip(rng.choice(bts, size=law.n_draws, replace=bts.size < law.n_draws), -10, 1.99))
    return out


def effective_own_tokens(law: Any, mixture: Mixture, random_seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """``D -> D_eff`` per draw: the target's effective data in a run of ``D`` total tokens of ``mixture``.

    For laws without transfer it is the target's own share, ``D / K``.
    """
    if not law.spec.uses_transfer:
        return lambda D: np.asarray(D, dtype=float) / mixture.size + np.zeros(law.n_draws)
    params = law.language_parameters(mixture.target, random_seed)
    named = mixture.tau[:, :MAX_TRANSFER_SOURCES]
    params["tau"] = np.concatenate([named, np.zeros((law.n_draws, MAX_TRANSFER_SOURCES - named.shape[1]))], axis=1)
    return lambda D: np.exp(log_effective_data(np, mixture.design(np.ones_like(D), D), params))
