"""Co-training languages: per-draw transfer weights, and what they add to the target's data.

A pair the law fit saw takes the fit's own ``tau``; any other pair takes the transfer
posterior's BTS (``tau = BTS / (2 - BTS)``), resampled to the law fit's draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bayes_atlas.decisions.optimum import Mixture
from bayes_atlas.laws import tau_from_bts
from bayes_atlas.laws.atlas import log_effective_data

__all__ = ["co_training_tau", "effective_own_tokens"]


def co_training_tau(target: str, sources: list[str], law: Any, transfer: Any, random_seed: int = 0) -> np.ndarray:
    """``(law draws, len(sources))`` transfer weights of ``sources`` into ``target``.

    Each pair's draws depend on the pair and the seed only, not on the order of ``sources``.
    """
    fitted = {tuple(p) for p in law.meta.get("pairs", [])}
    out = np.empty((law.n_draws, len(sources)))
    for j, source in enumerate(sources):
        rng = np.random.default_rng([random_seed, *(ord(c) for c in f"{target}>{source}")])
        if (target, source) in fitted and "tau" in law.posterior:
            out[:, j] = law.tau_draws([(target, source)], rng)[:, 0]
        else:
            bts = transfer.predict_pair(source, target).values.ravel()
            out[:, j] = tau_from_bts(np.clip(rng.choice(bts, size=law.n_draws, replace=bts.size < law.n_draws), -10, 1.99))
    return out


def effective_own_tokens(law: Any, mixture: Mixture, random_seed: int = 0) -> Callable[[np.ndarray], np.ndarray] | None:
    """``D -> D_eff`` per draw: the ATLAS effective data of the target in a run of ``D`` total
    tokens of ``mixture`` (None for laws without an effective-data term)."""
    if law.law != "atlas":
        return None
    params = law.language_parameters(mixture.target, random_seed)
    params["tau"] = mixture.named_tau()
    return lambda D: np.exp(log_effective_data(np, mixture.design(np.ones_like(D), D), params))
