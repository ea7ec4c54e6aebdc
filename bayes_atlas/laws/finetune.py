"""Finetune vs pretrain (ATLAS Sec. 6).

Rows that continue a multilingual checkpoint: ``L = E + delta + A/N^alpha + B/(S(D_t) + H(N))^beta``
with a floor penalty ``delta > 0`` per language (log-normal, pooled) and a head start worth
``H(N) = H_2B (N / 2e9)^gamma`` target tokens; rows trained from scratch: ``D = S(D_t)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_atlas.laws.forms import saturate
from bayes_atlas.laws.spec import Effect, LawSpec, SharedParam, chinchilla_log_loss

#: Model size at which the finetuning head start ``H_2B`` is stated.
HEAD_START_PARAMS = 2e9


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the finetune law at ``design`` (``design.finetuned`` selects the branch)."""
    own = saturate(design.target_tokens, design.target_unique, params["lam"], xp)
    head = xp.exp(xp.log(params["head_start"]) + params["head_exponent"] * (design.log_params - np.log(HEAD_START_PARAMS)))
    floor = xp.exp(params["log_E"]) + design.finetuned * xp.exp(params["log_delta"])
    return chinchilla_log_loss(xp, params, design.log_params, xp.log(own + design.finetuned * head), floor=floor)


SPEC = LawSpec(
    name="finetune",
    summary="pretrain vs finetune: from-scratch and checkpoint-continued runs, floor penalty delta and head start H(N)",
    mean_log_loss=mean_log_loss,
    role="finetune",
    emulated_designs=("finetune", "scratch_curve"),
    effects=(
        Effect(
            "log_delta",
            lambda c: (float(np.log(c.delta_median)), c.delta_log_sd, c.delta_spread),
            exp_name="delta",
            description="log floor penalty of a finetuned checkpoint",
        ),
    ),
    shared=(
        SharedParam("lam", "lognormal", lambda c: (c.lam_median, c.lam_log_sd), "repetition rate"),
        SharedParam(
            "head_start",
            "lognormal",
            lambda c: (c.head_start_median, c.head_start_log_sd),
            "H_2B: target tokens a 2B checkpoint is worth",
        ),
        SharedParam("head_exponent", "normal", lambda c: (c.head_exponent_mean, c.head_exponent_sd), "exponent of H(N) in N"),
    ),
    needs_own_tokens=True,
    needs_finetuned_and_scratch=True,
    per_sequence=False,
)
