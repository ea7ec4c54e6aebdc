"""Chinchilla (Hoffmann et al. 2022): ``L = E + A / N^alpha + B / D^beta``, D the run's total tokens."""

from __future__ import annotations

from typing import Any

from bayes_atlas.laws.spec import LawSpec, chinchilla_log_loss


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the Chinchilla law at ``design`` (D = total training tokens)."""
    import numpy as np

    return chinchilla_log_loss(xp, params, design.log_params, np.log(design.total_tokens))


SPEC = LawSpec(
    name="chinchilla",
    summary="Chinchilla on total training tokens (per-language E, A, alpha, B, beta)",
    mean_log_loss=mean_log_loss,
)
