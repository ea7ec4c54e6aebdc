"""bayes_atlas: Bayesian multilingual scaling laws.

The ATLAS study (Longpre et al. 2026) fitted point-estimate scaling laws to 774 unreleased
training runs. bayes_atlas re-expresses every ATLAS law as a hierarchical Bayesian model so
that each recommendation carries a credible interval.

Modules, data flowing one way (ARCHITECTURE.md has the map)::

    datasets / languages / runs -> laws -> models -> inference -> scaling / transfer (fits)
        -> posteriors -> decisions -> figures / cli

Submodules are imported lazily, so ``import bayes_atlas`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from bayes_atlas import errors as _errors  # tiny, no dependencies: its class list is the export list

__version__ = "0.1.0"

_SUBMODULES = (
    "calibration",
    "datasets",
    "decisions",
    "defaults",
    "errors",
    "figures",
    "evaluation",
    "inference",
    "languages",
    "pointfit",
    "laws",
    "models",
    "posteriors",
    "public_runs",
    "published",
    "runs",
    "scaling",
    "simulate",
    "transfer",
    "transfer_eval",
    "transfer_stats",
)
_EXPORTS = {
    "RunTable": "runs",
    "load": "posteriors",
    "fit": "scaling",
    "Fit": "scaling",
    "posterior_recommend": "decisions",
    "expand_languages": "decisions",
    "crossover": "decisions",
    "Recommendation": "decisions",
    "optimal_mixture": "decisions",
    "MixtureResult": "decisions",
    "next_run": "decisions",
    "NextRunPlan": "decisions",
    "evaluate": "evaluation",
    "TransferFit": "transfer",
    "crossover_compute_fit": "decisions",
    "Expansion": "decisions",
    "get_law": "laws",
    "LawSpec": "laws",
    "LawConfig": "models.law",
    **{name: "errors" for name in _errors.__all__ if name != "WARNING_CODES"},
}

__all__ = [*_SUBMODULES, *_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"bayes_atlas.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"bayes_atlas.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'bayes_atlas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
