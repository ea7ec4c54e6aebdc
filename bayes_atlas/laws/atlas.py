"""ATLAS (Longpre et al. 2026, Eq. 1-3): Chinchilla at the effective data ``D_eff``.

``D_eff = S(D_t; U_t) + sum_k tau_k S(D_k; U_k) + tau_other D_other`` with the repetition
saturation ``S`` (rate ``lam``), ``K_t`` the (up to) three named sources with the most tokens
in the run and ``tau = BTS / (2 - BTS)`` per (target, source) pair.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayes_atlas.laws.forms import saturate
from bayes_atlas.laws.spec import LawSpec, SharedParam, chinchilla_log_loss, softplus

#: Floor of the effective data, as shares of the target's own effective data and of the
#: run's total tokens. Negative transfer can outweigh scarce target data; D_eff stays above
#: the floor smoothly (floor * (1 + softplus(raw / floor - 1)), equal to raw once raw is a few
#: times the floor, which it is unless transfer is strongly negative).
FLOOR_OWN_SHARE = 0.02
FLOOR_TOTAL_SHARE = 1e-4


def log_effective_data(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """log D_eff of ATLAS Eq. 2, with a smooth positive floor (see :data:`FLOOR_OWN_SHARE`)."""
    lam = params["lam"]
    own = saturate(design.target_tokens, design.target_unique, lam, xp)
    lam_per_source = lam if xp is np and np.ndim(lam) == 0 else xp.expand_dims(lam, -1)
    per_source = saturate(design.transfer_tokens, design.transfer_unique, lam_per_source, xp)
    transfer = xp.sum(params["tau"] * per_source, axis=-1)
    raw = own + transfer + params["tau_other"] * design.other_tokens
    floor = FLOOR_OWN_SHARE * own + FLOOR_TOTAL_SHARE * design.total_tokens
    return xp.log(floor) + xp.log1p(softplus(xp, raw / floor - 1.0))


def mean_log_loss(xp: Any, design: Any, params: dict[str, Any]) -> Any:
    """Log loss of the ATLAS law at ``design``."""
    return chinchilla_log_loss(xp, params, design.log_params, log_effective_data(xp, design, params))


SPEC = LawSpec(
    name="atlas",
    summary="ATLAS: effective data with repetition (lam) and transfer (tau per pair, tau_other)",
    mean_log_loss=mean_log_loss,
    role="law",
    emulated_designs=("monolingual", "unimax", "monolingual_2b", "bilingual_2b", "bilingual"),
    shared=(
        SharedParam("lam", "lognormal", lambda c: (c.lam_median, c.lam_log_sd), "repetition rate (1/15.4 in Muennighoff et al.)"),
        # Log-normal: where "other" tokens outnumber the target's 50:1 (Unimax), log D_eff is
        # nearly linear in log tau_other; a normal prior on tau_other itself left a curved
        # ridge with every language's b (measured: 1000-2700 divergences). Positive, as ATLAS
        # Table 1 implies (adding D_other lifts R^2 from 0.70 to 0.98).
        SharedParam("tau_other", "lognormal", lambda c: (c.tau_other_median, c.tau_other_log_sd), "weight of other tokens"),
    ),
    uses_transfer=True,
)
