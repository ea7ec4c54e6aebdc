"""Scaling laws: each defined once, in its own module, and registered by name.

- :mod:`~bayes_atlas.laws.forms`: shared closed forms (repetition saturation ``S``,
  reference-scale amplitudes, ``tau <-> BTS``, compute optima, expansion multipliers);
- :mod:`~bayes_atlas.laws.spec`: what a law is (:class:`LawSpec`: parameters, default
  priors, data needs, one backend-generic ``mean_log_loss``);
- :mod:`~bayes_atlas.laws.design`: the rows a law is evaluated at (:class:`Design`, and a run
  table's :class:`LawData`);
- one module per law (``atlas``, ``chinchilla``, ``dcsl``, ``msl``, ``curse``, ``finetune``)
  and :mod:`~bayes_atlas.laws.registry` (``get_law(name)``).

No sampling and no I/O happen here.
"""

from __future__ import annotations

from bayes_atlas.laws.design import MAX_TRANSFER_SOURCES, Design, LawData, prepare_law_data
from bayes_atlas.laws.forms import (
    D_REF,
    N_REF,
    R_D_STAR,
    R_N_STAR,
    ExpansionMultipliers,
    amplitude_from_reference,
    bts_from_tau,
    chinchilla_loss,
    compute_optimal_chinchilla,
    compute_optimal_numeric,
    compute_optimal_repeated,
    expansion_multipliers,
    reference_from_amplitude,
    saturate,
    tau_from_bts,
)
from bayes_atlas.laws.registry import LAWS, REGISTRY, get_law
from bayes_atlas.laws.spec import CORE, Effect, LawSpec, SharedParam

__all__ = [
    "CORE",
    "D_REF",
    "LAWS",
    "MAX_TRANSFER_SOURCES",
    "N_REF",
    "REGISTRY",
    "R_D_STAR",
    "R_N_STAR",
    "Design",
    "Effect",
    "ExpansionMultipliers",
    "LawData",
    "LawSpec",
    "SharedParam",
    "amplitude_from_reference",
    "bts_from_tau",
    "chinchilla_loss",
    "compute_optimal_chinchilla",
    "compute_optimal_numeric",
    "compute_optimal_repeated",
    "expansion_multipliers",
    "get_law",
    "prepare_law_data",
    "reference_from_amplitude",
    "saturate",
    "tau_from_bts",
]
