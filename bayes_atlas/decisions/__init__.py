"""Decisions with credible intervals, computed with numpy over saved posterior draws.

- :func:`posterior_recommend` (:mod:`~bayes_atlas.decisions.recommend`): model size, tokens,
  loss, co-training and finetune-or-pretrain for a language at a budget;
- :func:`expand_languages` (:mod:`~bayes_atlas.decisions.expansion`): K -> rK languages;
- :func:`crossover`, :func:`crossover_compute_fit` (:mod:`~bayes_atlas.decisions.finetune`);
- :func:`optimal_mixture` (:mod:`~bayes_atlas.decisions.mixture`): sampling proportions, N and D
  with the lowest posterior expected loss, against monolingual, uniform, temperature and Unimax;
- :func:`next_run` (:mod:`~bayes_atlas.decisions.next_run`): which run next, by expected
  shrinkage of the N* interval per FLOP (preposterior analysis);
- the lower level: :mod:`~bayes_atlas.decisions.optimum` (compute optimum per draw for a fit
  and a target), :mod:`~bayes_atlas.decisions.cotraining`, :mod:`~bayes_atlas.decisions.caveats`.

Every number comes from the fitted law's one mean (:mod:`bayes_atlas.laws`). Nothing here
imports PyMC or JAX, so a call takes milliseconds once the posteriors are loaded.

Examples
--------
>>> from bayes_atlas import posterior_recommend
>>> rec = posterior_recommend("ca", compute=1e21)  # doctest: +SKIP
>>> rec.summary().loc[["params", "tokens", "loss"]]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from bayes_atlas.decisions.expansion import Expansion, expand_languages
from bayes_atlas.decisions.finetune import crossover, crossover_compute_fit
from bayes_atlas.decisions.mixture import MixtureResult, optimal_mixture
from bayes_atlas.decisions.next_run import NextRunPlan, next_run
from bayes_atlas.decisions.recommend import Recommendation, posterior_recommend
from bayes_atlas.errors import DecisionWarning

__all__ = [
    "DecisionWarning",
    "Expansion",
    "MixtureResult",
    "NextRunPlan",
    "Recommendation",
    "crossover",
    "crossover_compute_fit",
    "expand_languages",
    "load_posterior",
    "next_run",
    "optimal_mixture",
    "posterior_recommend",
]


def load_posterior(role: str, posterior: Any = None) -> Any:
    """The posterior for ``role``, checked: :func:`bayes_atlas.posteriors.resolve` (kept for old notebooks)."""
    from bayes_atlas.posteriors import resolve

    return resolve(role, posterior)
