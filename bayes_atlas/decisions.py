"""Decisions with credible intervals, computed with numpy over saved posterior draws.

:func:`posterior_recommend` answers "how large a model and how many tokens for this
language at this budget, with which co-training languages, and should I finetune?" from
three posteriors: the ATLAS law (``models/atlas-emulated.nc`` by default), the transfer map
(``models/transfer.nc``) and the finetune law (``models/finetune-emulated.nc``).
:func:`expand_languages` gives the compute-optimal expansion K -> rK from the curse law
(``models/curse-emulated.nc``); :func:`crossover` the pretrain-vs-finetune crossover.

Nothing here imports PyMC or JAX: the posteriors are read with xarray and every answer is
numpy over draws, so a call takes milliseconds once the posteriors are loaded (they are
cached after the first call).

Examples
--------
>>> from bayes_atlas import posterior_recommend
>>> rec = posterior_recommend("ca", compute=1e21)  # doctest: +SKIP
>>> rec.summary().loc[["params", "tokens", "loss"]]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas.errors import UnknownLanguageError
from bayes_atlas.inference import PosteriorFileError
from bayes_atlas.laws import D_REF, N_REF, chinchilla_loss, compute_optimal_numeric, saturate

__all__ = [
    "DecisionWarning",
    "Expansion",
    "Recommendation",
    "crossover",
    "crossover_compute_fit",
    "expand_languages",
    "load_posterior",
    "posterior_recommend",
]

#: Shipped posteriors by role (files in ``models/``).
DEFAULT_FILES = {
    "law": "atlas-emulated.nc",
    "curse": "curse-emulated.nc",
    "finetune": "finetune-emulated.nc",
    "transfer": "transfer.nc",
}
#: Model sizes of the search for a compute-optimal N.
LOG_N_BOUNDS = (np.log(1e6), np.log(1e13))
MAX_SOURCES = 3


class DecisionWarning(UserWarning):
    """A caveat attached to a decision. ``code`` says which one.

    Codes: ``BA201`` the answer extrapolates beyond the model sizes or token counts the
    posterior was fitted on (the message gives the distance in decades); ``BA202`` an
    emulated posterior (fitted to simulated runs) is in use; ``BA203`` the posterior used
    failed its convergence checks; ``BA204`` a language the posterior never saw is answered
    from the fitted population (wider intervals); ``BA205`` a part of the answer is missing
    because its posterior is (the finetune-vs-pretrain advice without a finetune posterior).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.text = message


def _models_dir() -> Path:
    from bayes_atlas._paths import models_dir

    return models_dir()


@functools.lru_cache(maxsize=8)
def _load_cached(role: str, path: str) -> Any:
    if role == "transfer":
        from bayes_atlas.transfer import TransferFit

        return TransferFit.load(path)
    from bayes_atlas.scaling import Fit

    return Fit.load(path)


def load_posterior(role: str, posterior: Any = None) -> Any:
    """The posterior for ``role`` (``law``, ``curse``, ``finetune``, ``transfer``).

    ``posterior`` may be a fitted object (returned as is), a path to a saved posterior, or
    None for the shipped one. Loaded files are cached.
    """
    if role not in DEFAULT_FILES:
        raise ValueError(f"role must be one of {tuple(DEFAULT_FILES)}, got {role!r}")
    if posterior is not None and not isinstance(posterior, str | Path):
        return posterior
    path = Path(posterior) if posterior is not None else _models_dir() / DEFAULT_FILES[role]
    if not path.is_file():
            raise PosteriorFileError(f"no {role} posterior at {path}; see models/README.md for how to regenerate it")
    return _load_cached(role, str(path.resolve()))


def _check_language(code: str) -> str:
    from bayes_atlas.languages import normalize_code

    try:
        return normalize_code(code)
    except UnknownLanguageError as error:
        raise UnknownLanguageError(f"target {code!r} is not a language code ({error})") from None


def _quantiles(draws: np.ndarray, ci: float) -> tuple[float, float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size < draws.size / 2:
        return float(np.median(draws)), float("nan"), float("nan")
    with np.errstate(invalid="ignore"):  # inf draws (never crosses over) interpolate to inf, not a warning
        lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
    return float(median), float(lower), float(upper)


def _posterior_caveats(fit: Any, role: str, codes: list[str]) -> list[DecisionWarning]:
    found = []
    if fit.meta.get("emulated"):
        found.append(
            DecisionWarning(
                "BA202",
                f"the {role} posterior is an EMULATION (fitted to simulated runs of the ATLAS design, not the paper's "
                "runs); fit your own run table with bayes_atlas.fit and pass it as posterior=",
            )
        )
    if not fit.diagnostics.converged:
        found.append(
            DecisionWarning(
                "BA203",
                f"the {role} posterior failed its convergence checks ({fit.diagnostics.divergences} divergences, max r_hat "
                f"{fit.diagnostics.max_r_hat:.3f}, min ESS {fit.diagnostics.min_ess_bulk:.0f}); refit with more draws",
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


def _range_caveat(fit: Any, role: str, params: np.ndarray, tokens: np.ndarray) -> list[DecisionWarning]:
    found = []
    for name, values, key in (("model size", params, "log_params_range"), ("token count", tokens, "log_tokens_range")):
        bounds = fit.meta.get(key)
        if not bounds:
            continue
        low, high = np.exp(bounds[0]), np.exp(bounds[1])
        centre = float(np.median(values))
        if centre > high * 1.001 or centre < low / 1.001:
            edge = high if centre > high else low
            decades = abs(np.log10(centre / edge))
            found.append(
                DecisionWarning(
                    "BA201",
                    f"the {name} {centre:.3g} lies {decades:.2f} decades outside the {role} posterior's fitted range "
                    f"[{low:.3g}, {high:.3g}]: the answer extrapolates the law",
                )
            )
    return found


@functools.lru_cache(maxsize=1)
def _published_unique_tokens() -> dict[str, float]:
    from bayes_atlas import datasets

    return {str(code): float(value) for code, value in datasets.unique_tokens().items()}


def _unique_tokens_for(codes: list[str], unique_tokens: float | dict[str, float] | None) -> dict[str, float]:
    published = _published_unique_tokens()
    out = {code: published.get(code, np.inf) for code in codes}
    if isinstance(unique_tokens, dict):
        for code, value in unique_tokens.items():
            out[_check_language(code)] = float(value)
    elif unique_tokens is not None:
        out[codes[0]] = float(unique_tokens)
    for code, value in out.items():
        if not value > 0:
            raise ValueError(f"unique_tokens for {code!r} must be positive (tokens of unique text), got {value!r}")
    return out


def _tau_draws(target: str, sources: list[str], law: Any, transfer: Any, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, sources) transfer weights: the law fit's where it fitted the pair, else the transfer posterior's."""
    fitted = {tuple(p): i for i, p in enumerate(law.meta.get("pairs", []))}
    out = np.empty((n_draws, len(sources)))
    for j, source in enumerate(sources):
        if (target, source) in fitted and "tau" in law.posterior:
            out[:, j] = law._flat("tau")[:, fitted[(target, source)]]
        else:
            bts = transfer.predict_pair(source, target).values.ravel()
            bts = rng.choice(bts, size=n_draws, replace=bts.size < n_draws)
            out[:, j] = bts / (2.0 - bts)
    return out


@dataclass
class Recommendation:
    """A decision with its posterior: what :func:`posterior_recommend` returns.

    Attributes
    ----------
    target
        The language the model is for.
    inputs
        The arguments of the call (compute, fixed params/tokens, languages, ci, ...).
    draws
        Per-draw arrays by quantity (``params``, ``tokens``, ``compute``, ``loss``,
        ``tokens_<code>``, ``p_pretrain`` inputs ...); each has one entry per posterior draw.
    decision
        Point decisions: ``recommended_params`` (the model size with the lowest expected
        loss), ``regret_params_low`` / ``regret_params_high`` (sizes whose expected loss is
        within ``regret`` of that minimum), ``p_pretrain`` (probability pretraining from
        scratch beats finetuning), ``advice``, ``co_training`` (which candidates are likely
        to help).
    helpers
        The best co-training languages for the target (transfer posterior), best first.
    warnings
        :class:`DecisionWarning` objects (also emitted with :mod:`warnings`).
    """

    target: str
    inputs: dict[str, Any]
    draws: dict[str, np.ndarray]
    decision: dict[str, Any]
    helpers: pd.DataFrame
    warnings: list[DecisionWarning] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Median and equal-tailed interval of every quantity (index ``quantity``)."""
        ci = self.inputs["ci"]
        rows = {name: _quantiles(values, ci) for name, values in self.draws.items()}
        for name in ("recommended_params", "regret_params_low", "regret_params_high", "p_pretrain"):
            if self.decision.get(name) is not None:
                rows[name] = (float(self.decision[name]), float("nan"), float("nan"))
        table = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper"])
        table.index.name = "quantity"
        table.attrs["ci"] = ci
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: inputs, quantities, decision, helpers, warnings."""
        summary = self.summary()
        quantities = {
            name: {key: (None if not np.isfinite(value) else float(value)) for key, value in row.items()}
            for name, row in summary.to_dict(orient="index").items()
        }
        helpers = self.helpers.reset_index().replace({np.nan: None}).to_dict(orient="records")
        out = {
            "target": self.target,
            "inputs": self.inputs,
            "quantities": quantities,
            "decision": self.decision,
            "helpers": helpers,
            "warnings": [{"code": w.code, "message": w.text} for w in self.warnings],
        }
        return json.loads(json.dumps(out, default=_jsonable))

    def __repr__(self) -> str:
        s = self.summary()
        ci = int(round(100 * self.inputs["ci"]))
        parts = [f"<Recommendation for {self.target!r} at C={self.draws['compute'].mean():.3g} FLOPs ({ci}% intervals)"]
        for name in ("params", "tokens", "loss"):
            m, lo, hi = s.loc[name]
            parts.append(f"  {name}: {m:.4g} [{lo:.4g}, {hi:.4g}]")
        if self.decision.get("advice"):
            parts.append(f"  {self.decision['advice']}")
        for w in self.warnings:
            parts.append(f"  warning {w.code}")
        return "\n".join(parts) + ">"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _target_law(law: Any, target: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    theta = law._theta_for([target], rng)[:, 0]
    return {
        "E": np.exp(theta[:, 0]),
        "A": np.exp(theta[:, 1] + theta[:, 2] * np.log(N_REF)),
        "alpha": theta[:, 2],
        "B": np.exp(theta[:, 3] + theta[:, 4] * np.log(D_REF)),
        "beta": theta[:, 4],
    }


def posterior_recommend(
    target: str,
    compute: float | None = None,
    *,
    tokens: float | None = None,
    params: float | None = None,
    unique_tokens: float | dict[str, float] | None = None,
    languages: list[str] | tuple[str, ...] | None = None,
    ci: float = 0.9,
    posterior: Any = None,
    transfer: Any = None,
    finetune: Any = None,
    regret: float = 0.005,
    helpers: int = 5,
    random_seed: int = 0,
    warn: bool = True,
) -> Recommendation:
    """Compute-optimal model size and tokens for ``target``, with credible intervals.

    Parameters
    ----------
    target
        ISO 639 code of the language the model is for. Languages outside the fitted set are
        answered from the fitted population (warning ``BA204``, wider intervals).
    compute
        Training budget in FLOPs (``C = 6 N D``). With ``params`` or ``tokens`` also given,
        the other follows from the budget; with neither, the compute-optimal split is found
        per posterior draw.
    tokens, params
        Fix the total training tokens and/or the model size. Without ``compute`` both are
        needed (the budget is then ``6 N D``).
    unique_tokens
        Unique tokens of text available for the target (a number) or per language (a dict);
        beyond it data repeat and lose value (saturation ``S`` with the posterior's
        repetition rate). Default: the published MADLAD-400 counts for en fr ru zh hi sw,
        unlimited otherwise.
    languages
        Co-training languages mixed uniformly with the target (K = 1 + len(languages)
        languages, each ``tokens / K``); their data count through the transfer weights.
        Default: monolingual.
    ci
        Credible mass of the reported intervals.
    posterior, transfer, finetune
        The ATLAS-law, transfer and finetune posteriors: a fitted object, a path to a saved
        one, or None for the shipped ones (``models/``).
    regret
        Relative loss tolerance of the regret band: model sizes whose expected loss is within
        ``regret`` (e.g. 0.005 = 0.5%) of the lowest expected loss.
    helpers
        How many co-training candidates to list.
    random_seed
        Seed for population draws (unknown languages) and transfer resampling.
    warn
        Also emit the caveats with :mod:`warnings` (they are always in ``.warnings``).

    Returns
    -------
    Recommendation

    Raises
    ------
    bayes_atlas.UnknownLanguageError
        If ``target`` or a co-training language is not a language code.
    ValueError
        For a non-positive budget, or an under-determined question.

    Examples
    --------
    >>> rec = posterior_recommend("sw", compute=1e21)  # doctest: +SKIP
    >>> rec.summary().loc["params"]  # doctest: +SKIP
    """
    target = _check_language(target)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    if not regret > 0:
        raise ValueError(f"regret must be a positive relative tolerance (e.g. 0.005), got {regret!r}")
    for name, value in (("compute", compute), ("tokens", tokens), ("params", params)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if compute is None and (tokens is None or params is None):
        raise ValueError("give compute= (FLOPs), or both params= and tokens= (the budget is then 6 N D)")
    if compute is not None and tokens is not None and params is not None:
        raise ValueError("compute, params and tokens over-determine the run (C = 6 N D): give at most two of them")
    co_training = [_check_language(code) for code in (languages or [])]
    if target in co_training:
        raise ValueError(f"languages lists co-training languages; drop the target {target!r} from it")
    if len(set(co_training)) != len(co_training):
        raise ValueError(f"languages has duplicates: {co_training}")

    rng = np.random.default_rng(random_seed)
    law = load_posterior("law", posterior)
    transfer_fit = load_posterior("transfer", transfer)
    found: list[DecisionWarning] = _posterior_caveats(law, "law", [target])
    p = _target_law(law, target, rng)
    lam = law._flat("lam") if "lam" in law.posterior else np.full(law.n_draws, 1 / 15.4)
    members = [target, *co_training]
    unique = _unique_tokens_for(members, unique_tokens)
    K = len(members)
    named = sorted(co_training)[:MAX_SOURCES]
    others = [code for code in co_training if code not in named]
    tau = _tau_draws(target, named, law, transfer_fit, law.n_draws, rng) if named else np.zeros((law.n_draws, 0))
    tau_other = law._flat("tau_other") if "tau_other" in law.posterior else np.full(law.n_draws, 0.05)

    def own(share: np.ndarray, code: str) -> np.ndarray:
        return share if not np.isfinite(unique[code]) else saturate(share, unique[code], lam)

    def effective(D: np.ndarray) -> np.ndarray:
        share = D / K
        target_data = own(share, target)
        value = target_data
        for j, code in enumerate(named):
            value = value + tau[:, j] * own(share, code)
        for code in others:
            value = value + tau_other * own(share, code)
        # Strong interference must not drive effective data to zero (as in the law model).
        return np.maximum(value, 0.02 * target_data)

    def loss(N: np.ndarray, D: np.ndarray) -> np.ndarray:
        return p["E"] + p["A"] * np.power(N, -p["alpha"]) + p["B"] * np.power(effective(D), -p["beta"])

    n = law.n_draws
    if compute is None:
        N_opt, D_opt = np.full(n, float(params)), np.full(n, float(tokens))
        budget = 6.0 * float(params) * float(tokens)
    elif params is not None:
        budget = float(compute)
        N_opt, D_opt = np.full(n, float(params)), np.full(n, budget / (6.0 * params))
    elif tokens is not None:
        budget = float(compute)
        N_opt, D_opt = np.full(n, budget / (6.0 * tokens)), np.full(n, float(tokens))
    else:
        budget = float(compute)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            N_opt, D_opt, _ = compute_optimal_numeric(budget, loss, log_N_bounds=LOG_N_BOUNDS, grid_size=128, tol=1e-6)
        if np.mean((np.log(N_opt) - LOG_N_BOUNDS[0] < 1e-3) | (LOG_N_BOUNDS[1] - np.log(N_opt) < 1e-3)) > 0.05:
            found.append(
                DecisionWarning("BA201", f"for more than 5% of draws the optimum sits at the search bound N in [1e6, 1e13]")
            )

    # Expected loss along the iso-compute line: the Bayes choice and its regret band.
    decision: dict[str, Any] = {}
    if compute is not None and params is None and tokens is None:
        grid = np.linspace(*np.quantile(np.log(N_opt), [0.0, 1.0]) + np.array([-2.5, 2.5]), 301)
        N_grid = np.exp(grid)[:, None]
        expected = loss(N_grid, budget / (6.0 * N_grid)).mean(axis=1)
        best = int(np.argmin(expected))
        within = np.flatnonzero(expected <= expected[best] * (1.0 + regret))
        N_rec = float(N_grid[best, 0])
        decision.update(
            recommended_params=N_rec,
            recommended_tokens=budget / (6.0 * N_rec),
            regret_params_low=float(N_grid[within.min(), 0]),
            regret_params_high=float(N_grid[within.max(), 0]),
            regret=regret,
        )
        loss_draws = loss(np.full(n, N_rec), np.full(n, budget / (6.0 * N_rec)))
    else:
        N_rec = float(np.median(N_opt))
        decision.update(recommended_params=N_rec, recommended_tokens=float(np.median(D_opt)))
        loss_draws = loss(N_opt, D_opt)
    draws: dict[str, np.ndarray] = {
        "params": N_opt,
        "tokens": D_opt,
        "compute": np.full(n, budget),
        "loss": loss_draws,
        "tokens_per_param": D_opt / N_opt,
    }
    if K > 1:
        for code in members:
            draws[f"tokens_{code}"] = D_opt / K
    draws[f"effective_tokens_{target}"] = effective(D_opt)
    found += _range_caveat(law, "law", N_opt, D_opt)

    # Finetune a multilingual checkpoint, or pretrain from scratch, at this size and budget?
    try:
        finetune_fit = load_posterior("finetune", finetune)
    except PosteriorFileError as error:
        if finetune is not None:
            raise
        found.append(DecisionWarning("BA205", f"no finetune-vs-pretrain answer: {error}"))
        finetune_fit = None
    if finetune_fit is not None:
        N_dec, D_dec = float(decision["recommended_params"]), float(decision["recommended_tokens"])
        p_finetune = _finetune_params(finetune_fit, target, np.random.default_rng(random_seed))
        cross = _crossover_draws(p_finetune, np.array([N_dec]))[:, 0]
        scratch, finetuned = _finetune_losses(p_finetune, N_dec, D_dec)
        p_pretrain = float(np.mean(scratch < finetuned))
        draws["crossover_tokens"] = cross
        draws["loss_scratch_minus_finetuned"] = scratch - finetuned
        decision["p_pretrain"] = p_pretrain
        choice = "pretrain from scratch" if p_pretrain >= 0.5 else "finetune a multilingual checkpoint"
        decision["advice"] = (
            f"{choice}: P(pretraining beats finetuning at {N_dec:.3g} params, {D_dec:.3g} tokens) = {p_pretrain:.2f}"
        )
        found += [
            w
            for w in _posterior_caveats(finetune_fit, "finetune", [target]) + _range_caveat(finetune_fit, "finetune", np.array([N_dec]), np.array([D_dec]))
            if w.code != "BA202" or not any(v.code == "BA202" for v in found)
        ]

    helper_table = transfer_fit.helpers(target, k=helpers, ci=ci, top=helpers, random_seed=random_seed)
    helper_table = helper_table[["bts_mean", "bts_lower", "bts_upper", "p_helps", f"p_top{helpers}"]]
    found += [w for w in _posterior_caveats(transfer_fit, "transfer", [target]) if w.code == "BA204"]
    likely = helper_table.index[helper_table["p_helps"] >= 0.8].tolist()
    decision["co_training"] = (
        f"likely helpers (P(helps) >= 0.8): {', '.join(likely)}"
        if likely
        else f"no source is likely to help {target} (every P(helps) < 0.8): co-training buys little; train monolingually or pick by other needs"
    )
    rec = Recommendation(
        target=target,
        inputs={
            "compute": compute,
            "tokens": tokens,
            "params": params,
            "unique_tokens": {code: (None if not np.isfinite(v) else v) for code, v in unique.items()},
            "languages": co_training,
            "ci": ci,
            "regret": regret,
            "n_draws": int(n),
        },
        draws=draws,
        decision=decision,
        helpers=helper_table,
        warnings=found,
    )
    if warn:
        for w in found:
            warnings.warn(w, stacklevel=2)
    return rec


# -- pretrain vs finetune -------------------------------------------------------------------


def _finetune_params(fit: Any, target: str, rng: np.random.Generator) -> dict[str, Any]:
    """Per-draw finetune-law parameters of ``target`` (population draw if the fit lacks it)."""
    p: dict[str, Any] = _target_law(fit, target, rng)
    p["delta"] = np.exp(fit.effect_draws("log_delta", [target], rng)[:, 0])
    p["log_head"] = fit._flat("log_head_start")
    p["gamma"] = fit._flat("head_exponent")
    p["lam"] = fit._flat("lam")
    p["unique"] = _published_unique_tokens().get(target, np.inf)
    return p


def _head_start(p: dict[str, Any], N: np.ndarray) -> np.ndarray:
    from bayes_atlas.models.law import HEAD_START_PARAMS

    return np.exp(p["log_head"][:, None] + p["gamma"][:, None] * (np.log(N)[None, :] - np.log(HEAD_START_PARAMS)))


def _finetune_losses(p: dict[str, Any], N: float, D: float) -> tuple[np.ndarray, np.ndarray]:
    """(draws,) losses of from-scratch and finetuned training at N parameters and D target tokens."""
    own = saturate(D, p["unique"], p["lam"])
    head = _head_start(p, np.array([N]))[:, 0]
    scratch = chinchilla_loss(N, own, p["E"], p["A"], p["alpha"], p["B"], p["beta"])
    finetuned = chinchilla_loss(N, own + head, p["E"] + p["delta"], p["A"], p["alpha"], p["B"], p["beta"])
    return scratch, finetuned


def _crossover_draws(p: dict[str, Any], N: np.ndarray) -> np.ndarray:
    """(draws, len(N)) token count where from-scratch training overtakes finetuning (inf: never)."""
    head = _head_start(p, N)
    B, beta, delta = p["B"][:, None], p["beta"][:, None], p["delta"][:, None]
    lam = p["lam"][:, None]

    def gap(log_D: np.ndarray) -> np.ndarray:
        own = saturate(np.exp(log_D), p["unique"], lam)
        return B * own ** -beta - B * (own + head) ** -beta - delta

    lo = np.full(head.shape, np.log(1e6))
    hi = np.full(head.shape, np.log(1e17))
    never = gap(hi) > 0  # finetuning stays ahead at any token count (scarce data)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        ahead = gap(mid) > 0
        lo = np.where(ahead, mid, lo)
        hi = np.where(ahead, hi, mid)
    return np.where(never, np.inf, np.exp(0.5 * (lo + hi)))


def crossover(
    target: str,
    params: float | list[float] | np.ndarray = 2e9,
    *,
    ci: float = 0.9,
    posterior: Any = None,
    random_seed: int = 0,
) -> pd.DataFrame:
    """Tokens (and compute ``6 N D``) beyond which pretraining from scratch beats finetuning.

    Parameters
    ----------
    target
        Language code; outside the finetune posterior's languages it is answered from the
        population.
    params
        Model size(s) in parameters.
    ci
        Credible mass of the intervals.
    posterior
        A finetune-law fit, a path, or None for ``models/finetune-emulated.nc``.

    Returns
    -------
    pandas.DataFrame
        Index ``params``; columns ``tokens_median``, ``tokens_lower``, ``tokens_upper``,
        ``compute_median``, ``compute_lower``, ``compute_upper``, ``p_never`` (share of
        draws in which finetuning stays ahead at any token count). ``attrs["draws"]`` holds
        the (draws, sizes) token draws.

    Examples
    --------
    >>> crossover("de", 2e9).round(-9)  # doctest: +SKIP
    """
    code = _check_language(target)
    fit = load_posterior("finetune", posterior)
    sizes = np.atleast_1d(np.asarray(params, dtype=float))
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ValueError(f"params must be positive model sizes, got {params!r}")
    draws = _crossover_draws(_finetune_params(fit, code, np.random.default_rng(random_seed)), sizes)
    rows = []
    for j, N in enumerate(sizes):
        t_med, t_lo, t_hi = _quantiles(draws[:, j], ci)
        rows.append(
            {
                "params": N,
                "tokens_median": t_med,
                "tokens_lower": t_lo,
                "tokens_upper": t_hi,
                "compute_median": 6 * N * t_med,
                "compute_lower": 6 * N * t_lo,
                "compute_upper": 6 * N * t_hi,
                "p_never": float(np.mean(~np.isfinite(draws[:, j]))),
            }
        )
    table = pd.DataFrame(rows).set_index("params")
    table.attrs.update(target=code, ci=ci, draws=draws, caveats=[w.code for w in _posterior_caveats(fit, "finetune", [code])])
    return table


def crossover_compute_fit(
    languages: list[str] | tuple[str, ...] | None = None,
    params: np.ndarray | None = None,
    *,
    ci: float = 0.9,
    posterior: Any = None,
    random_seed: int = 0,
) -> pd.DataFrame:
    """Pooled regression of log crossover compute on log N, per posterior draw.

    For each draw, ``log10 C*(N, language)`` over the languages and model sizes is fitted by
    least squares ``log10 C = log10 c + k log10 N`` (over the finite crossovers of that
    draw: a language that never crosses over in a draw drops out of it); the posterior of ``c`` and ``k`` is
    set beside ATLAS's printed fits (``C = 1113708 N^1.65`` and ``C = 10283128 N^1.54``).

    Returns
    -------
    pandas.DataFrame
        Index ``quantity`` (``exponent``, ``log10_coefficient``, ``compute_at_2e9``);
        columns ``median``, ``lower``, ``upper``, ``printed_a``, ``printed_b``.
    """
    fit = load_posterior("finetune", posterior)
    codes = list(languages) if languages is not None else list(fit.languages)
    sizes = np.geomspace(3.68e8, 2.03e9, 6) if params is None else np.asarray(params, dtype=float)
    rng = np.random.default_rng(random_seed)
    log_c = np.stack([np.log10(6 * sizes * _crossover_draws(_finetune_params(fit, c, rng), sizes)) for c in codes], axis=1)
    x = np.broadcast_to(np.log10(sizes), log_c.shape[1:]).ravel()
    y = log_c.reshape(log_c.shape[0], -1)
    # Per draw, least squares over the finite crossovers only (a scarce-data language may
    # never cross over in some draws: finetuning stays ahead).
    w = np.isfinite(y)
    y = np.where(w, y, 0.0)
    n_points = w.sum(axis=1)
    usable = n_points >= 3
    x_bar = (w * x).sum(axis=1) / np.maximum(n_points, 1)
    y_bar = (w * y).sum(axis=1) / np.maximum(n_points, 1)
    dx = np.where(w, x - x_bar[:, None], 0.0)
    slope = (dx * (y - y_bar[:, None])).sum(axis=1) / np.maximum((dx**2).sum(axis=1), 1e-12)
    intercept = y_bar - slope * x_bar
    slope, intercept = slope[usable], intercept[usable]
    finite = usable
    at_2b = intercept + slope * np.log10(2e9)
    from bayes_atlas import datasets

    printed = datasets.crossover_compute_fits().set_index("fit")
    rows = {
        "exponent": (*_quantiles(slope, ci), printed.loc["a", "exponent"], printed.loc["b", "exponent"]),
        "log10_coefficient": (
            *_quantiles(intercept, ci),
            np.log10(printed.loc["a", "coefficient"]),
            np.log10(printed.loc["b", "coefficient"]),
        ),
        "compute_at_2e9": (
            *_quantiles(10**at_2b, ci),
            printed.loc["a", "coefficient"] * 2e9 ** printed.loc["a", "exponent"],
            printed.loc["b", "coefficient"] * 2e9 ** printed.loc["b", "exponent"],
        ),
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["median", "lower", "upper", "printed_a", "printed_b"])
    table.index.name = "quantity"
    table.attrs.update(
        languages=codes, params=sizes.tolist(), draws_used=int(finite.sum()), share_never=float(np.mean(~w))
    )
    return table


# -- curse of multilinguality ---------------------------------------------------------------


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
            median, lower, upper = _quantiles(values, self.ci)
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
    ci: float = 0.9,
    posterior: Any = None,
    random_seed: int = 0,
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

    if not (np.isfinite(r) and r > 0):
        raise ValueError(f"r must be a positive expansion factor (2 = twice the languages), got {r!r}")
    fit = load_posterior("curse", posterior)
    found: list[DecisionWarning] = []
    if language is None:
        mu = fit._flat("theta_mu")
        alpha, beta = mu[:, 2], mu[:, 4]
        phi, psi = fit._flat("phi_mu"), fit._flat("psi_mu")
        found += [w for w in _posterior_caveats(fit, "curse", []) if w.code != "BA204"]
    else:
        code = _check_language(language)
        rng = np.random.default_rng(random_seed)
        theta = fit._theta_for([code], rng)[:, 0]
        alpha, beta = theta[:, 2], theta[:, 4]
        phi = fit.effect_draws("phi", [code], rng)[:, 0]
        psi = fit.effect_draws("psi", [code], rng)[:, 0]
        found += _posterior_caveats(fit, "curse", [code])
    m = expansion_multipliers(float(r), phi, psi, alpha, beta)
    draws = {"N": m.N, "D_per_language": m.D_per_language, "D_total": m.D_total, "C": m.C}
    return Expansion(r=float(r), draws=draws, ci=ci, language=language, warnings=found)
