"""Multilingual scaling law of He et al. 2024: ``(E + A/N^alpha + B/D^beta) p^(-gamma)``.

``p`` is the share of the run's tokens in the target's language family; ``gamma`` is
per language, partially pooled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_atlas.laws.spec import Effect, LawSpec, chinchilla_log_loss


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the MSL law at ``design`` (D = total tokens)."""
    base = chinchilla_log_loss(xp, params, design.log_params, np.log(design.total_tokens))
    return base - params["gamma"] * np.log(design.family_share)


SPEC = LawSpec(
    name="msl",
    summary="He et al.'s multilingual law: Chinchilla on total tokens times the family share p^-gamma",
    mean_log_loss=mean_log_loss,
    role="law",
    emulated_designs=("monolingual", "unimax", "monolingual_2b", "bilingual_2b", "bilingual"),
    effects=(Effect("gamma", lambda c: (0.0, c.gamma_scale, c.gamma_sd), description="family-share exponent"),),
    needs_family_share=True,
)
