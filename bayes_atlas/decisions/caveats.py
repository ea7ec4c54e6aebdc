"""Caveats attached to decisions, and the input checks decisions share.

Every decision returns its caveats as :class:`bayes_atlas.errors.DecisionWarning` objects
(code + text; codes in :mod:`bayes_atlas.errors`).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from bayes_atlas._io import strict_json  # noqa: F401 - re-exported: every decision's to_dict uses it
from bayes_atlas.discrepancy import decades_outside
from bayes_atlas.errors import DecisionWarning, UnknownLanguageError

__all__ = [
    "strict_json",
    "check_ci",
    "check_language",
    "posterior_caveats",
    "public_runs_caveat",
    "published_unique_tokens",
    "quantiles",
    "range_caveats",
    "unique_tokens_for",
]


def check_language(code: str, what: str = "target") -> str:
    """``code`` normalised to the package's language code; ``UnknownLanguageError`` naming ``what``."""
    from bayes_atlas.languages import normalize_code

    try:
        return normalize_code(code)
    except UnknownLanguageError as error:
        raise UnknownLanguageError(f"{what} {code!r} is not a language code ({error})") from None


def check_ci(ci: float) -> float:
    """``ci`` as a float in (0, 1); ``ValueError`` saying what a credible mass is otherwise."""
    try:
        value = float(ci)
    except (TypeError, ValueError):
        raise ValueError(f"ci is the credible mass of the intervals, a number in (0, 1) such as 0.9; got {ci!r}") from None
    if not 0 < value < 1:
        raise ValueError(f"ci is the credible mass of the intervals, a number in (0, 1) such as 0.9; got {ci!r}")
    return value


def quantiles(draws: np.ndarray, ci: float) -> tuple[float, float, float]:
    """(median, lower, upper) of the equal-tailed ``ci`` interval; NaN bounds when most draws are not finite."""
    finite = draws[np.isfinite(draws)]
    if finite.size < draws.size / 2:
        return float(np.median(draws)), float("nan"), float("nan")
    with np.errstate(invalid="ignore"):  # inf draws (never crosses over) interpolate to inf, not a warning
        lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
    return float(median), float(lower), float(upper)


def posterior_caveats(fit: Any, role: str, codes: list[str]) -> list[DecisionWarning]:
    """BA202 (emulation), BA203 (not converged) and BA204 (unseen languages) for ``fit``."""
    found = []
    if fit.meta.get("emulated"):
        option = {"law": "posterior", "transfer": "transfer", "finetune": "finetune", "curse": "posterior"}.get(role, role)
        found.append(
            DecisionWarning(
                "BA202",
                f"the {role} posterior is an EMULATION (fitted to simulated runs of the ATLAS design, not the paper's "
                f"runs); fit your own run table with bayes_atlas.fit and pass it as {option}= (CLI: --{option})",
            )
        )
    if not fit.diagnostics.converged:
        d = fit.diagnostics
        found.append(
            DecisionWarning(
                "BA203",
                f"the {role} posterior failed its convergence checks ({d.divergences} divergences, max r_hat "
                f"{d.max_r_hat:.3f}, min ESS {d.min_ess_bulk:.0f}); refit with more draws",
            )
        )
    not_identified = getattr(fit, "meta", {}).get("not_identified") or {}
    if not_identified:
        found.append(
            DecisionWarning(
                "BA206",
                f"the {role} posterior's {', '.join(sorted(not_identified))} were not identified by its run table "
                f"({'; '.join(sorted(set(not_identified.values())))}): the answer rests on their prior",
            )
        )
    unseen = [c for c in codes if c not in fit.languages]
    if unseen:
        found.append(
            DecisionWarning(
                "BA204",
                f"{', '.join(unseen)} not in the {role} posterior's {len(fit.languages)} languages: answered from the "
                "fitted population (wider intervals)",
            )
        )
    return found


def range_caveats(fit: Any, role: str, params: np.ndarray, tokens: np.ndarray) -> list[DecisionWarning]:
    """BA201 when the median model size or token count lies outside the fit's range, with the distance in decades."""
    found = []
    for name, values, key in (("model size", params, "log_params_range"), ("token count", tokens, "log_tokens_range")):
        bounds = fit.meta.get(key)
        if not bounds:
            continue
        low, high = np.exp(bounds[0]), np.exp(bounds[1])
        centre = float(np.median(values))
        if centre > high * 1.001 or centre < low / 1.001:
            decades = float(decades_outside(np.log(centre), bounds))
            found.append(
                DecisionWarning(
                    "BA201",
                    f"the {name} {centre:.3g} lies {decades:.2f} decades outside the {role} posterior's fitted range "
                    f"[{low:.3g}, {high:.3g}]: the answer extrapolates the law",
                )
            )
    return found


@functools.lru_cache(maxsize=1)
def published_unique_tokens() -> dict[str, float]:
    """MADLAD-400 unique-token counts printed by ATLAS (``data/unique_tokens.csv``)."""
    from bayes_atlas import datasets

    return {str(code): float(value) for code, value in datasets.unique_tokens().items()}


def unique_tokens_for(codes: list[str], unique_tokens: float | dict[str, float] | None) -> dict[str, float]:
    """Unique tokens per language: the user's, else the published count, else unlimited (inf)."""
    published = published_unique_tokens()
    out = {code: published.get(code, np.inf) for code in codes}
    if isinstance(unique_tokens, dict):
        for code, value in unique_tokens.items():
            out[check_language(code, "unique_tokens language")] = float(value)
    elif unique_tokens is not None:
        out[codes[0]] = float(unique_tokens)
    for code, value in out.items():
        if not value > 0:
            raise ValueError(f"unique_tokens for {code!r} must be positive (tokens of unique text), got {value!r}")
    return out


def public_runs_caveat(params: float, compute: float, allowed: tuple[float, float, float], ci: float) -> DecisionWarning | None:
    """``BA207`` when a compute-optimal model size lies outside the pooled public runs' interval.

    Parameters
    ----------
    params
        The recommended model size at ``compute`` (monolingual, unlimited unique data).
    compute
        The budget in FLOPs.
    allowed
        ``(median, lower, upper)`` of the compute-optimal size for a corpus not in the public
        pool (:func:`bayes_atlas.decisions.public_reference.public_pool_reference`): what the
        five public English corpora allow together, their disagreement included.
    ci
        The credible mass of ``allowed``.

    Examples
    --------
    >>> public_runs_caveat(3e9, 1e21, (4.1e9, 9.0e8, 1.6e10), 0.9) is None
    True
    >>> public_runs_caveat(9e10, 1e21, (4.1e9, 9.0e8, 1.6e10), 0.9).code
    'BA207'
    """
    median, lower, upper = allowed
    if lower <= params <= upper:
        return None
    tokens = compute / (6.0 * params)
    side = "larger" if params > upper else "smaller"
    return DecisionWarning(
        "BA207",
        f"the recommended {params:.3g} parameters ({tokens / params:.3g} tokens per parameter) at {compute:.3g} FLOPs is "
        f"{side} than any public English corpus allows: the pooled public runs give {median:.3g} [{lower:.3g}, {upper:.3g}] "
        f"({ci:.0%}) for a corpus not among them. Check the posterior's exponents (alpha, beta) against your runs, or fit "
        "your own run table (`bayes-atlas fit`) and pass it as --posterior",
    )
