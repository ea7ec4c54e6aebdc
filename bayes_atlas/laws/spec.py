"""What defines a law: its parameters, their default priors, its data needs and ONE mean.

A :class:`LawSpec` is all a law is. Its ``mean_log_loss(xp, design, params)`` is written once
against an array namespace ``xp`` (``numpy``, ``jax.numpy`` or ``pytensor.tensor``) and is
what the PyMC builder (:mod:`bayes_atlas.models.law`), predictions
(:class:`bayes_atlas.scaling.Fit`), every decision, the point-fit baselines
(:mod:`bayes_atlas.pointfit`) and the simulator's truth (:mod:`bayes_atlas.simulate`) call.

``params`` maps names to arrays that broadcast against the design's rows:

- ``log_E, a, alpha, b, beta``: every law's per-language Chinchilla core in reference-scale
  form, ``L = E + exp(a - alpha log(N / N0)) + exp(b - beta log(D / D0))``;
- each of the spec's per-language :attr:`LawSpec.effects` and shared parameters
  (:attr:`LawSpec.shared`) under its own name;
- ``tau`` (last axis: the transfer sources of :class:`bayes_atlas.laws.design.Design`) when
  the law :attr:`LawSpec.uses_transfer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayes_atlas.laws.forms import D_REF, N_REF

__all__ = ["CORE", "Effect", "LawSpec", "SharedParam", "chinchilla_log_loss", "softplus"]

#: The five per-language parameters every law has, in this order (``theta``).
CORE = ("log_E", "a", "alpha", "b", "beta")
LOG_N_REF = float(np.log(N_REF))
LOG_D_REF = float(np.log(D_REF))


@dataclass(frozen=True)
class Effect:
    """A per-language effect pooled across languages (non-centred normal).

    ``prior(config) -> (mean, scale, spread)``: normal prior of the pooled mean and half-normal
    scale of the spread over languages, read from a :class:`bayes_atlas.models.law.LawConfig`.
    ``exp_name`` also reports ``exp(effect)`` under that name (``log_delta`` -> ``delta``).
    """

    name: str
    prior: Callable[[Any], tuple[float, float, float]]
    exp_name: str | None = None
    description: str = ""


@dataclass(frozen=True)
class SharedParam:
    """A scalar parameter shared by all languages.

    ``family`` is ``"lognormal"`` (``prior(config) -> (median, log_sd)``) or ``"normal"``
    (``prior(config) -> (mean, sd)``).
    """

    name: str
    family: str
    prior: Callable[[Any], tuple[float, float]]
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in ("lognormal", "normal"):
            raise ValueError(f"SharedParam family must be 'lognormal' or 'normal', got {self.family!r}")


@dataclass(frozen=True)
class LawSpec:
    """One scaling law, defined once.

    Attributes
    ----------
    name
        Registry key (``bayes_atlas.fit(runs, law=name)``).
    summary
        One line for docs and ``--law`` help.
    mean_log_loss
        ``f(xp, design, params) -> log loss`` (see the module docstring).
    effects
        Per-language effects beyond the Chinchilla core, pooled across languages.
    shared
        Parameters shared by every language.
    uses_transfer
        Transfer weights ``tau`` per (target, source) pair enter the mean (their prior comes
        from a transfer posterior or is pooled).
    needs_own_tokens
        Every row must have tokens of its evaluated language (the law takes their log).
    needs_finetuned_and_scratch
        Rows that continued a checkpoint and rows trained from scratch are both needed.
    per_sequence
        Per-sequence losses (rescaled per language) are allowed.
    needs_family_share
        The design's ``family_share`` is read (needs language metadata).
    role
        Which decisions a fit of this law answers (:func:`bayes_atlas.posteriors.resolve`):
        ``"law"`` (compute-optimal N and D, mixtures, next runs), ``"curse"`` (adding
        languages) or ``"finetune"`` (finetune or pretrain).
    emulated_designs
        Designs of the simulated ATLAS study (:func:`bayes_atlas.simulate.atlas_study`) the
        law describes: what ``bayes-atlas fit --emulated --law NAME`` fits.
    """

    name: str
    summary: str
    mean_log_loss: Callable[[Any, Any, dict[str, Any]], Any]
    effects: tuple[Effect, ...] = ()
    shared: tuple[SharedParam, ...] = ()
    uses_transfer: bool = False
    needs_own_tokens: bool = False
    needs_finetuned_and_scratch: bool = False
    per_sequence: bool = True
    needs_family_share: bool = False
    role: str = "law"
    emulated_designs: tuple[str, ...] = ("monolingual", "monolingual_2b")

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Every name ``mean_log_loss`` reads from ``params``."""
        return (*CORE, *(e.name for e in self.effects), *(s.name for s in self.shared), *(("tau",) if self.uses_transfer else ()))


def softplus(xp: Any, x: Any) -> Any:
    """``log(1 + exp(x))`` without overflow, in any namespace, with finite gradients in JAX.

    The tail term's argument is clipped at -40 (exp(-40) = 4e-18): PyTensor rewrites
    ``log1p(exp(y))`` into its own softplus, whose JAX version is a ``where`` over branches
    that include ``y + exp(-y)``; for y far below 0 that branch overflows and, although not
    taken, turns the gradient into NaN (measured: every draw divergent on a table with huge
    "other" shares).
    """
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(xp.maximum(-xp.abs(x), -40.0)))


def chinchilla_log_loss(
    xp: Any, params: dict[str, Any], log_N: Any, log_D: Any, *, floor: Any = None, param_shift: Any = 0.0, data_shift: Any = 0.0
) -> Any:
    """``log(E + exp(a - alpha log(N/N0) + param_shift) + exp(b - beta log(D/D0) + data_shift))``.

    The Chinchilla core every law shares; ``floor`` replaces ``E`` when given (finetune's
    ``E + delta``), the shifts add to the log of each term (the curse law's ``phi log K``).
    """
    E = xp.exp(params["log_E"]) if floor is None else floor
    param_term = params["a"] - params["alpha"] * (log_N - LOG_N_REF) + param_shift
    data_term = params["b"] - params["beta"] * (log_D - LOG_D_REF) + data_shift
    return xp.log(E + xp.exp(param_term) + xp.exp(data_term))
