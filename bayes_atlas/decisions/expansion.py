"""How much to grow model and data when going from K to rK languages (the curse law, per draw)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import check_ci, check_language, check_positive, posterior_caveats, quantiles
from bayes_atlas.errors import DecisionWarning
from bayes_atlas.posteriors import resolve

__all__ = ["Expansion", "expand_languages"]


@dataclass
class Expansion:
    """Posterior of the compute-optimal expansion from K to ``r`` K languages at equal loss."""

    r: float
    draws: dict[str, np.ndarray]
    ci: float
    language: str | None
    warnings: list[DecisionWarning] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Median and interval of each multiplier, beside the printed one where ATLAS gives it."""
        from bayes_atlas import datasets

        printed = datasets.expansion_multipliers().set_index("r")
        rows = {}
        for name, values in self.draws.items():
            median, lower, upper = quantiles(values, self.ci)
            column = {"N": "N_multiplier", "D_total": "D_total_multiplier"}.get(name)
            value = float(printed.loc[self.r, column]) if column and self.r in printed.index else float("nan")
            rows[name] = (median, lower, upper, value)
        table = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper", "printed"])
        table.index.name = "multiplier"
        return table


def expand_languages(
    r: float,
    *,
    language: str | None = None,
    ci: float = defaults.CI,
    posterior: Any = None,
    random_seed: int = defaults.SEED,
) -> Expansion:
    """How much to grow model and data when going from K to ``r`` K languages (equal loss).

    Per posterior draw of the curse law, ``N' = N r^(phi/alpha)``, data per language
    ``D_t' = D_t r^(psi/beta)``, total data ``D_tot' = D_tot r^(1 + psi/beta)`` and compute
    ``C' = C r^(1 + phi/alpha + psi/beta)`` (ATLAS Sec. 5).

    Parameters
    ----------
    r
        Expansion factor (> 0; 2 doubles the number of languages).
    language
        Use this language's ``phi``, ``psi``, ``alpha``, ``beta``; default the population
        means (the paper's pooled fit).
    ci
        Credible mass of the intervals.
    posterior
        A curse-law fit, a path, or None for ``models/curse-emulated.nc``.

    Returns
    -------
    Expansion
        ``.summary()`` has rows ``N``, ``D_per_language``, ``D_total``, ``C``.

    Examples
    --------
    >>> expand_languages(2).summary()  # doctest: +SKIP
    """
    from bayes_atlas.laws import expansion_multipliers

    r = check_positive(r, "r", "a positive expansion factor (2 = twice the languages)")
    ci = check_ci(ci)
    fit = resolve("curse", posterior)
    found: list[DecisionWarning] = []
    if language is None:
        mu = fit.draws("theta_mu")
        alpha, beta = mu[:, 2], mu[:, 4]
        phi, psi = fit.draws("phi_mu"), fit.draws("psi_mu")
        found += [w for w in posterior_caveats(fit, "curse", []) if w.code != "BA204"]
    else:
        code = check_language(language, "language")
        p = fit.language_parameters(code, random_seed)
        alpha, beta, phi, psi = p["alpha"], p["beta"], p["phi"], p["psi"]
        found += posterior_caveats(fit, "curse", [code])
    with np.errstate(over="ignore"):
        m = expansion_multipliers(r, phi, psi, alpha, beta)
    draws = {"N": m.N, "D_per_language": m.D_per_language, "D_total": m.D_total, "C": m.C}
    if not all(np.all(np.isfinite(v) & (v > 0)) for v in draws.values()):
        raise ValueError(
            f"r = {r:.3g} overflows the multipliers (r^(1 + phi/alpha + psi/beta)); give a realistic expansion factor"
        )
    return Expansion(r=r, draws=draws, ci=ci, language=language, warnings=found)
