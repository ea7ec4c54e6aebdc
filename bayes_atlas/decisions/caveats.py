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
    "CANCELS",
    "PLAUSIBLE_COMPUTE",
    "bound_caveats",
    "check_budget",
    "check_positive",
    "strict_json",
    "check_ci",
    "check_language",
    "check_languages",
    "extrapolation_decades",
    "given_unique_tokens",
    "fitted_ranges",
    "posterior_caveats",
    "public_runs_caveat",
    "published_unique_tokens",
    "quantiles",
    "range_caveats",
    "unique_tokens_for",
]


#: Training budgets (FLOPs) a decision answers for: from a 1M-parameter toy to beyond today's
#: largest runs. Outside it the law is extrapolated by many decades.
PLAUSIBLE_COMPUTE = (1e15, 1e27)


def check_positive(value: Any, name: str, what: str = "a positive number") -> float:
    """``value`` as a float; ``ValueError`` naming ``name`` unless it is a finite positive number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number


def check_budget(budget: float, name: str = "compute") -> float:
    """``budget`` (FLOPs) if within :data:`PLAUSIBLE_COMPUTE`, else a ``ValueError`` naming ``name``."""
    if not PLAUSIBLE_COMPUTE[0] <= budget <= PLAUSIBLE_COMPUTE[1]:
        raise ValueError(
            f"{name}: a training budget of {budget:.3g} FLOPs is outside the range this package answers for "
            f"[{PLAUSIBLE_COMPUTE[0]:.0e}, {PLAUSIBLE_COMPUTE[1]:.0e}] (C = 6 N D; e.g. 1e21 trains 2e9 parameters on "
            "8e10 tokens)"
        )
    return budget


def bound_caveats(at_bound: np.ndarray, bounds: tuple[float, float], what: str = "params") -> list[DecisionWarning]:
    """BA201 when the per-draw optimum sits at the model-size search bound (natural-log ``bounds``) in some draws."""
    at_bound = np.asarray(at_bound, dtype=bool)
    if not at_bound.any():
        return []
    return [
        DecisionWarning(
            "BA201",
            f"for {int(at_bound.sum())} of {at_bound.size} draws ({at_bound.mean():.1%}) the optimum sits at the search bound N in "
            f"[{np.exp(bounds[0]):.0e}, {np.exp(bounds[1]):.0e}]: the {what} interval is clipped there",
        )
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


def check_languages(values: Any, what: str) -> tuple[str, ...]:
    """Language codes from a list or a comma-separated string, each checked; ``ValueError`` on duplicates."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    codes = tuple(check_language(str(v).strip(), what) for v in values)
    if len(set(codes)) != len(codes):
        raise ValueError(f"{what}s have duplicates: {list(codes)}")
    return codes


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


#: The axes an answer is checked against its fitted runs on, with how each value is shown.
_AXES = ("model size", "token count", "compute")


def fitted_ranges(fit: Any, code: str | None = None) -> tuple[dict[str, tuple[float, float]], str]:
    """Natural-log bounds of the runs an answer for ``code`` rests on, and whose runs they are.

    ``{"model size": ..., "token count": ..., "compute": ...}`` (compute as ``log(N D)``, total
    tokens). With the fit's extrapolation discrepancy these are ``code``'s own fitted runs (a
    language with few small runs extrapolates sooner than the table), else the whole table's;
    without a discrepancy, the table's model sizes and token counts from ``fit.meta``.
    """
    discrepancy = getattr(fit, "discrepancy", None)
    if discrepancy is not None:
        bounds = discrepancy.range_of(code) if code is not None else discrepancy.table_range
        own = code is not None and code in discrepancy.ranges
        return dict(zip(_AXES, (tuple(bounds[k : k + 2]) for k in (0, 2, 4)), strict=True)), (
            f"{code}'s fitted runs" if own else "the fitted runs"
        )
    meta = getattr(fit, "meta", {})
    found = {
        name: tuple(meta[key])
        for name, key in zip(_AXES[:2], ("log_params_range", "log_tokens_range"), strict=True)
        if meta.get(key)
    }
    return found, "the fitted runs"


def _decades(bounds: dict[str, tuple[float, float]], params: float, tokens: float) -> dict[str, float]:
    values = {"model size": params, "token count": tokens, "compute": params * tokens}
    return {name: float(decades_outside(np.log(values[name]), bounds[name])) for name in bounds}


def extrapolation_decades(fit: Any, code: str | None, params: float, tokens: float) -> dict[str, float]:
    """Decades by which ``params``, ``tokens`` (total) and their compute lie outside :func:`fitted_ranges` (0 inside)."""
    return _decades(fitted_ranges(fit, code)[0], params, tokens)


#: What BA201 adds for an answer that compares two branches of one law at one design.
CANCELS = (
    "; the answer compares two branches of one law at the same design, so the law's extrapolation discrepancy "
    "cancels in it: its interval does not widen there"
)


def range_caveats(
    fit: Any, role: str, params: np.ndarray, tokens: np.ndarray, codes: list[str] | None = None, *, note: str = ""
) -> list[DecisionWarning]:
    """One BA201 naming each axis (model size, token count, compute) on which the median answer lies outside the fitted runs.

    Distances are in decades from :func:`fitted_ranges` of each of ``codes`` (the farthest is
    reported); ``tokens`` are total tokens and compute is ``6 N D`` of the per-draw answers;
    ``note`` is added to the text (e.g. :data:`CANCELS`). The answer is its median model size
    and median token count (their product for compute).
    """
    N, D = float(np.median(params)), float(np.median(tokens))
    centres = {"model size": N, "token count": D, "compute": N * D}
    scale = {"model size": 1.0, "token count": 1.0, "compute": 6.0}  # compute is shown as 6 N D
    ranges = [fitted_ranges(fit, code) for code in codes or [None]]
    distances = [_decades(bounds, N, D) for bounds, _ in ranges]
    parts = []
    for name in _AXES:
        worst = None
        for (bounds, whose), decades_of in zip(ranges, distances, strict=True):
            if name not in decades_of:
                continue
            decades = decades_of[name]
            if decades > np.log10(1.001) and (worst is None or decades > worst[0]):
                worst = (decades, bounds[name], whose)
        if worst is not None:
            decades, (low, high), whose = worst
            k = scale[name]
            parts.append(
                f"{name} {k * centres[name]:.3g}, {decades:.2f} decades outside {whose} "
                f"[{k * np.exp(low):.3g}, {k * np.exp(high):.3g}]"
            )
    if not parts:
        return []
    return [DecisionWarning("BA201", f"the answer extrapolates the {role} posterior: {'; '.join(parts)}{note}")]


@functools.lru_cache(maxsize=1)
def published_unique_tokens() -> dict[str, float]:
    """MADLAD-400 unique-token counts printed by ATLAS (``data/unique_tokens.csv``)."""
    from bayes_atlas import datasets

    return {str(code): float(value) for code, value in datasets.unique_tokens().items()}


def given_unique_tokens(unique_tokens: float | dict[str, float] | None, first: str) -> dict[str, float]:
    """The user's unique tokens per language: a dict (codes normalised, each once) or one number for ``first``.

    ``ValueError`` naming ``unique_tokens`` for a language given twice (``"ca"`` and ``"cat"``),
    a non-number or a non-positive count.
    """
    raw: dict[str, Any] = {}
    if isinstance(unique_tokens, dict):
        for code, value in unique_tokens.items():
            normal = check_language(code, "unique_tokens language")
            if normal in raw:
                raise ValueError(f"unique_tokens gives {normal!r} twice ({code!r} is the same language); give it once")
            raw[normal] = value
    elif unique_tokens is not None:
        raw[first] = unique_tokens
    given = {}
    for code, value in raw.items():
        try:
            given[code] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"unique_tokens for {code!r} must be a number of tokens, got {value!r}") from None
        if not given[code] > 0:
            raise ValueError(f"unique_tokens for {code!r} must be positive (tokens of unique text), got {value!r}")
    return given


def unique_tokens_for(codes: list[str], unique_tokens: float | dict[str, float] | None) -> dict[str, float]:
    """Unique tokens per language: the user's (:func:`given_unique_tokens`), else the published count, else unlimited (inf)."""
    published = published_unique_tokens()
    return {code: published.get(code, np.inf) for code in codes} | given_unique_tokens(unique_tokens, codes[0])


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
