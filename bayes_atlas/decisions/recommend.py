"""Compute-optimal model size and tokens for a language, with intervals: :func:`posterior_recommend`.

Combines the lower-level decisions: the compute optimum per draw
(:mod:`~bayes_atlas.decisions.optimum`), co-training transfer weights
(:mod:`~bayes_atlas.decisions.cotraining`), finetune-or-pretrain
(:mod:`~bayes_atlas.decisions.finetune`) and caveats (:mod:`~bayes_atlas.decisions.caveats`).
Nothing here imports PyMC or JAX: answers are numpy over saved draws.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas.decisions.caveats import (
    CANCELS,
    PLAUSIBLE_COMPUTE,
    bound_caveats,
    check_budget,
    check_ci,
    check_language,
    check_languages,
    check_positive,
    extrapolation_decades,
    fitted_ranges,
    posterior_caveats,
    public_runs_caveat,
    quantiles,
    range_caveats,
    strict_json,
    unique_tokens_for,
)
from bayes_atlas.decisions.cotraining import co_training_tau, effective_own_tokens
from bayes_atlas.decisions.finetune import FinetuneLaw
from bayes_atlas.decisions.optimum import LOG_N_BOUNDS, Mixture, compute_optimum, loss_function
from bayes_atlas.decisions.public_reference import public_pool_reference, public_reference
from bayes_atlas.errors import DecisionWarning, PosteriorFileError, PosteriorKindError
from bayes_atlas.posteriors import resolve

__all__ = ["PLAUSIBLE_COMPUTE", "Recommendation", "posterior_recommend"]


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
        scratch beats finetuning), ``advice``, ``co_training`` (whether co-training pays at
        this budget and these unique tokens, by how much, with P(improves), and which mixture:
        :func:`~bayes_atlas.decisions.mixture.optimal_mixture` over the user's ``languages``
        or the best BTS sources) and ``co_training_mixture`` (the same as numbers).
    helpers
        The transfer posterior's BTS table for the target, best first (what a 50/50 bilingual
        run at the paper's scale gains; not whether mixing pays at this budget).
    warnings
        :class:`DecisionWarning` objects (also emitted with :mod:`warnings`).
    provenance
        Where each part of the answer comes from and how far it extrapolates: one line per
        posterior used (law, finetune, transfer), the public reference
        (:mod:`bayes_atlas.decisions.public_reference`: what Epoch's public English runs imply at this budget)
        and the public runs pooled (what five public English corpora together imply for a corpus not among them).
    """

    target: str
    inputs: dict[str, Any]
    draws: dict[str, np.ndarray]
    decision: dict[str, Any]
    helpers: pd.DataFrame
    warnings: list[DecisionWarning] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Median and equal-tailed interval of every quantity (index ``quantity``)."""
        ci = self.inputs["ci"]
        rows = {name: quantiles(values, ci) for name, values in self.draws.items()}
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
            "provenance": list(self.provenance),
            "warnings": [{"code": w.code, "text": w.text, "message": w.text} for w in self.warnings],
        }
        return json.loads(json.dumps(strict_json(out), allow_nan=False))

    def __repr__(self) -> str:
        s = self.summary()
        ci = int(round(100 * self.inputs["ci"]))
        parts = [
            f"<Recommendation for {self.target!r} at C={self.draws['compute'].mean():.3g} FLOPs "
            f"(posterior medians, {ci}% intervals)"
        ]
        for name in ("params", "tokens", "loss"):
            m, lo, hi = s.loc[name]
            parts.append(f"  {name}: {m:.4g} [{lo:.4g}, {hi:.4g}]")
        if self.decision.get("advice"):
            parts.append(f"  {self.decision['advice']}")
        if self.decision.get("recommended_params") is not None:
            parts.append(
                f"  Bayes choice (lowest expected loss): N = {self.decision['recommended_params']:.4g}, "
                f"D = {self.decision['recommended_tokens']:.4g}"
            )
        for line in self.provenance:
            parts.append(f"  source: {line}")
        for w in self.warnings:
            parts.append(f"  warning {w.code}: {w.text}")
        return "\n".join(parts) + ">"


def _span(bounds: Any, what: str) -> str:
    return f"{what} {np.exp(bounds[0]):.2g}-{np.exp(bounds[1]):.2g}" if bounds else ""


def _law_source(fit: Any, role: str, target: str, params: float, tokens: float, *, compares_branches: bool = False) -> str:
    """One provenance line for a law posterior: what it was fitted to, and the answer's distance from it.

    ``compares_branches``: the answer compares two branches of the law at one design (finetune
    or pretrain), in which the extrapolation discrepancy cancels.
    """
    meta = fit.meta
    what = meta.get("dataset") or "your run table"
    kind = "an EMULATION" if meta.get("emulated") else "fitted to real runs"
    bounds, whose = fitted_ranges(fit, target)
    ranges = ", ".join(
        _span(bounds.get(axis), label)
        for axis, label in (("model size", "model sizes"), ("token count", "tokens"))
        if axis in bounds
    )
    fitted = target in fit.languages
    who = (
        f"{target} fitted"
        if fitted
        else f"{target} not fitted: drawn from the fitted population of {len(fit.languages)} languages"
    )
    beyond = max(extrapolation_decades(fit, target, params, tokens).values(), default=0.0)
    reach = f"the answer extrapolates {beyond:.2f} decades beyond them" if beyond > 0 else "the answer lies inside them"
    discrepancy = fit.discrepancy
    if beyond > 0 and discrepancy is not None:
        spread, drift = discrepancy.interval("kappa")[0], discrepancy.interval("drift")[0]
        how = "learnt" if discrepancy.n_residuals else "prior (this law has no rolling-origin estimate)"
        error = f"the law's {how} extrapolation error ({spread:.3f} spread, {drift:+.3f} drift in log loss per decade)"
        if compares_branches:
            reach += f"; both branches' losses carry {error}, which cancels in their comparison: not widened"
        else:
            reach += f", its intervals widened by {error}"
    elif beyond > 0:
        reach += ", and this posterior carries no extrapolation discrepancy: its intervals assume the law's form holds there"
    return f"{role}: {fit.law} law posterior, {kind}: {what} ({meta.get('n_rows')} rows; {whose}: {ranges}; {who}); {reach}"


def _transfer_source(transfer: Any, given: Any) -> str:
    if given is None:
        return (
            "co-training (transfer weights): the shipped transfer posterior (models/transfer.nc), fitted to ATLAS's "
            "published 38 x 38 BTS matrix (bilingual runs at 2B parameters, 42B tokens; data/transfer_matrix_38x38.csv)"
        )
    return f"co-training (transfer weights): your transfer posterior ({transfer.meta.get('source_file', 'in memory')})"


def posterior_recommend(
    target: str,
    compute: float | None = None,
    *,
    tokens: float | None = None,
    params: float | None = None,
    unique_tokens: float | dict[str, float] | None = None,
    languages: list[str] | tuple[str, ...] | None = None,
    ci: float = defaults.CI,
    posterior: Any = None,
    transfer: Any = None,
    finetune: Any = None,
    regret: float = 0.005,
    helpers: int = 5,
    random_seed: int = defaults.SEED,
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
        languages, each ``tokens / K``); their data count through the transfer weights. A
        list, or one comma-separated string (``"es,pt"``).
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
    target = check_language(target)
    ci = check_ci(ci)
    regret = check_positive(regret, "regret", "a positive relative tolerance (e.g. 0.005)")
    compute, tokens, params = (
        None if value is None else check_positive(value, name)
        for name, value in (("compute", compute), ("tokens", tokens), ("params", params))
    )
    if compute is None and (tokens is None or params is None):
        raise ValueError("give compute= (FLOPs), or both params= and tokens= (the budget is then 6 N D)")
    budget = check_budget(*((compute, "compute") if compute is not None else (6.0 * params * tokens, "params x tokens (6 N D)")))
    if compute is not None and tokens is not None and params is not None:
        raise ValueError("compute, params and tokens over-determine the run (C = 6 N D): give at most two of them")
    co_training = list(check_languages(languages or [], "co-training language"))
    if target in co_training:
        raise ValueError(f"languages lists co-training languages; drop the target {target!r} from it")

    law = resolve("law", posterior)
    transfer_fit = resolve("transfer", transfer)
    found: list[DecisionWarning] = posterior_caveats(law, "law", [target])
    members = [target, *co_training]
    unique = unique_tokens_for(members, unique_tokens)
    tau = co_training_tau(target, co_training, law, transfer_fit, random_seed)
    mixture = Mixture(target, tuple(co_training), unique, tau)
    loss = loss_function(law, mixture, random_seed)
    effective = effective_own_tokens(law, mixture, random_seed)
    K = mixture.size
    n = law.n_draws
    if compute is None:
        N_opt, D_opt = np.full(n, float(params)), np.full(n, float(tokens))
    elif params is not None:
        N_opt, D_opt = np.full(n, float(params)), np.full(n, budget / (6.0 * params))
    elif tokens is not None:
        N_opt, D_opt = np.full(n, budget / (6.0 * tokens)), np.full(n, float(tokens))
    else:
        optimum = compute_optimum(law, mixture, budget, random_seed=random_seed)
        N_opt, D_opt = optimum.params, optimum.tokens
        found += bound_caveats(optimum.at_bound, LOG_N_BOUNDS)

    # Expected loss along the iso-compute line: the Bayes choice and its regret band.
    decision: dict[str, Any] = {
        "params_interval_clipped": bool(compute is not None and params is None and tokens is None and np.any(optimum.at_bound))
    }
    if compute is not None and params is None and tokens is None:
        # The Bayes choice is searched in the same range as the per-draw optima, never beyond.
        grid = np.linspace(*np.clip(np.quantile(np.log(N_opt), [0.0, 1.0]) + np.array([-2.5, 2.5]), *LOG_N_BOUNDS), 301)
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
    if effective is not None:
        draws[f"effective_tokens_{target}"] = effective(D_opt)
    found += range_caveats(law, "law", N_opt, D_opt, [target])

    # Finetune a multilingual checkpoint, or pretrain from scratch, at this size and budget?
    try:
        finetune_fit = resolve("finetune", finetune)
    except PosteriorKindError:
        raise
    except PosteriorFileError as error:
        if finetune is not None:
            raise
        found.append(DecisionWarning("BA205", f"no finetune-vs-pretrain answer: {error}"))
        finetune_fit = None
    if finetune_fit is not None:
        N_dec, D_dec = float(decision["recommended_params"]), float(decision["recommended_tokens"])
        branches = FinetuneLaw(finetune_fit, target, random_seed, unique=unique[target])
        cross = branches.crossover_tokens(np.array([N_dec]))[:, 0]
        # The finetune law reads the target's own tokens: its share of a K-language run.
        scratch, finetuned = branches.losses(N_dec, D_dec / K)
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
            for w in posterior_caveats(finetune_fit, "finetune", [target])
            + range_caveats(finetune_fit, "finetune", np.array([N_dec]), np.array([D_dec / K]), [target], note=CANCELS)
            if w.code != "BA202" or not any(v.code == "BA202" for v in found)
        ]

    helper_table = transfer_fit.helpers(target, k=helpers, ci=ci, top=helpers, random_seed=random_seed)
    helper_table = helper_table[["bts_mean", "bts_lower", "bts_upper", "p_helps", "p_top_k"]]
    found += [w for w in posterior_caveats(transfer_fit, "transfer", [target]) if w.code == "BA204"]
    # Does co-training pay at THIS budget and these unique tokens? The mixture optimiser answers
    # (posterior expected loss through the law); BTS (a 50/50 bilingual run at 42B tokens) does not.
    from bayes_atlas.decisions.mixture import DEFAULT_CANDIDATES, optimal_mixture

    candidates = co_training or [c for c in helper_table.index if c != target][:DEFAULT_CANDIDATES]
    if isinstance(unique_tokens, dict):
        mixture_unique: Any = {
            c: v for c, v in unique_tokens.items() if check_language(c, "unique_tokens language") in (target, *candidates)
        }
    else:
        mixture_unique = unique_tokens
    mix = optimal_mixture(
        target,
        budget,
        unique_tokens=mixture_unique,
        candidates=candidates,
        ci=ci,
        posterior=law,
        transfer=transfer_fit,
        random_seed=random_seed,
        warn=False,
    )
    decision["co_training"] = mix.decision["text"]
    decision["co_training_mixture"] = {
        "pays": mix.decision["co_training_pays"],
        "p_improves": mix.decision["p_improves"],
        "loss_change": mix.decision["loss_change"],
        "mixture": mix.decision["mixture"],
        "params": mix.params,
        "tokens": mix.tokens,
        "candidates": list(candidates),
        "at_compute": budget,
    }
    draws["co_training_loss_change"] = 0.0 - mix.draws["diff_monolingual"]
    found += [w for w in mix.warnings if w.code not in {x.code for x in found}]

    # Where each part of the answer comes from, and what the public runs say at this budget.
    N_dec, D_dec = float(decision["recommended_params"]), float(decision["recommended_tokens"])
    provenance = [_law_source(law, "model size and tokens", target, N_dec, D_dec)]
    if finetune_fit is not None:
        provenance.append(_law_source(finetune_fit, "finetune or pretrain", target, N_dec, D_dec / K, compares_branches=True))
    provenance.append(_transfer_source(transfer_fit, transfer))
    for key, label, answer in (
        ("public_reference", "public reference", public_reference),
        ("public_pool", "public runs pooled", public_pool_reference),
    ):
        try:
            reference = answer(budget, ci=ci)
        except PosteriorFileError as error:
            provenance.append(f"{label}: unavailable ({error})")
        else:
            decision[key] = reference.to_dict()
            provenance.append(f"{label} ({reference.source}): {reference.text()}")
    # A monolingual optimum with unlimited data is what the pooled public runs measure.
    free = compute is not None and params is None and tokens is None and K == 1 and D_dec <= unique[target]
    if free and "public_pool" in decision:
        caveat = public_runs_caveat(N_dec, budget, tuple(decision["public_pool"]["params"]), ci)
        if caveat is not None:
            found.append(caveat)
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
            "loss_unit": law.meta.get("loss_unit", "nats/token"),
            "n_draws": int(n),
        },
        draws=draws,
        decision=decision,
        helpers=helper_table,
        warnings=found,
        provenance=provenance,
    )
    if warn:
        for w in found:
            warnings.warn(w, stacklevel=2)
    return rec
