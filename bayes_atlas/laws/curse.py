"""Curse-of-multilinguality law (ATLAS Sec. 5).

``L(K, N, D_t) = E + A K^phi / N^alpha + B K^psi / S(D_t)^beta`` for K languages sampled
uniformly with ``D_t`` own tokens each; ``phi`` and ``psi`` per language, partially pooled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_atlas.laws.forms import saturate
from bayes_atlas.laws.spec import Effect, LawSpec, SharedParam, chinchilla_log_loss


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the curse law at ``design`` (K = ``design.mixture_size``)."""
    own = saturate(design.target_tokens, design.target_unique, params["lam"], xp)
    log_K = np.log(design.mixture_size)
    return chinchilla_log_loss(
        xp, params, design.log_params, xp.log(own), param_shift=params["phi"] * log_K, data_shift=params["psi"] * log_K
    )


SPEC = LawSpec(
    name="curse",
    summary="curse of multilinguality: K-language uniform mixtures, per-language phi (params) and psi (data)",
    mean_log_loss=mean_log_loss,
    role="curse",
    emulated_designs=("capacity",),
    effects=(
        Effect("phi", lambda c: (c.phi_mean, c.phi_scale, c.phi_sd), description="capacity exponent of K"),
        Effect("psi", lambda c: (c.psi_mean, c.psi_scale, c.psi_sd), description="data exponent of K"),
    ),
    shared=(SharedParam("lam", "lognormal", lambda c: (c.lam_median, c.lam_log_sd), "repetition rate"),),
    needs_own_tokens=True,
    per_sequence=False,
)
