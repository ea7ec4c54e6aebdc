"""Data-constrained scaling law (Muennighoff et al. 2023).

``D'`` = the target's own tokens saturated at the published ``R*_D = 15.39``
(``lam = 1 / R*_D``, fixed) and ``N'`` = the parameters beyond those compute-optimal for the
unique data, decayed with ``R*_N = 5.31``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_atlas.laws.forms import R_D_STAR, R_N_STAR, saturate
from bayes_atlas.laws.spec import LOG_D_REF, LOG_N_REF, LawSpec, chinchilla_log_loss


def log_effective_params(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """log N' per row.

    ``U_N`` = the compute-optimal parameter count for the unique target tokens under the
    row's own law, capped at N; parameters beyond it count like repeated tokens (R*_N).
    Only rows whose target data repeat (D_t > U_t) are affected; the others keep N.
    """
    log_N = design.log_params
    repeats = np.isfinite(design.target_unique) & (design.target_tokens > design.target_unique)
    if not np.any(repeats):
        return log_N
    alpha, beta = xp.maximum(params["alpha"], 1e-3), xp.maximum(params["beta"], 1e-3)
    log_A = params["a"] + alpha * LOG_N_REF
    log_B = params["b"] + beta * LOG_D_REF
    log_U = np.log(np.where(repeats, design.target_unique, 1.0))
    log_G = (xp.log(alpha) + log_A - xp.log(beta) - log_B) / (alpha + beta)
    # Clipped below (at N / e^20) so exp() cannot overflow and poison the gradients.
    log_U_N = xp.clip(log_G + beta / alpha * (log_U + log_G), log_N - 20.0, log_N)
    excess = xp.maximum(xp.exp(log_N - log_U_N) - 1.0, 0.0)
    log_N_eff = log_U_N + xp.log1p(R_N_STAR * -xp.expm1(-excess / R_N_STAR))
    return xp.where(repeats, log_N_eff, log_N)


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the data-constrained law at ``design``."""
    own = saturate(np.maximum(design.target_tokens, 1.0), design.target_unique, 1.0 / R_D_STAR, np)
    return chinchilla_log_loss(xp, params, log_effective_params(xp, design, params), np.log(own))


SPEC = LawSpec(
    name="dcsl",
    summary="data-constrained (Muennighoff et al.): own tokens and parameters decayed at the published R*_D, R*_N",
    mean_log_loss=mean_log_loss,
    needs_own_tokens=True,
)
