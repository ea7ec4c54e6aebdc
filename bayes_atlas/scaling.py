"""Fit a hierarchical scaling law to a run table: ``bayes_atlas.fit(runs, law=...)``.

The model is :mod:`bayes_atlas.models.law` (per-language Chinchilla/ATLAS parameters drawn
from a correlated population); sampling and diagnostics are
:mod:`bayes_atlas.inference`'s. The returned :class:`Fit` predicts losses for new runs
(posterior predictive draws), summarises per-language parameters with intervals, and
saves / loads with its config, data hash and package version.

Examples
--------
>>> from bayes_atlas import fit
>>> from bayes_atlas.public_runs import chinchilla_epoch
>>> result = fit(chinchilla_epoch(), law="chinchilla", random_seed=0)  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_atlas import defaults
from bayes_atlas.discrepancy import Discrepancy, extrapolation_offset
from bayes_atlas.errors import FitFailedError, FitInputError, IdentifiabilityWarning, PosteriorFileError
from bayes_atlas.inference import (
    Diagnostics,
    as_float64,
    compact_posterior,
    json_attr,
    read_posterior,
    write_posterior,
)
from bayes_atlas.laws.design import Design, LawData, prepare_law_data
from bayes_atlas.laws.forms import bts_from_tau, tau_from_bts
from bayes_atlas.laws.registry import LAWS, get_law
from bayes_atlas.laws.spec import CORE, LawSpec
from bayes_atlas.models.law import SHARES, LawConfig, theta_from_shares

__all__ = ["EMULATED_DESIGNS", "Fit", "FitInputError", "default_target_accept", "emulated_study_runs", "fit", "model_card"]

MODEL_NAME = "law"
THETA = CORE
#: Deprecated aliases of :data:`bayes_atlas.defaults.DRAWS` / ``TUNE``.
DEFAULT_DRAWS = defaults.DRAWS
DEFAULT_TUNE = defaults.TUNE
SAMPLE_DIMS = ("chain", "draw")


#: Between-setting spread of BTS added to the transfer posterior's when it is a prior for a run
#: table from another setting (model size, token horizon, corpus: ATLAS App. C.2 notes that
#: transfer changes with them). 0.25 in BTS lets a table move a pair from helping to hurting.
TRANSFER_SETTING_SD = 0.25


def _bts_prior(pairs: tuple[tuple[str, str], ...], transfer: Any, setting_sd: float) -> pd.DataFrame | None:
    if transfer is None or not pairs:
        return None
    rows = []
    for target, source in pairs:
        draws = transfer.predict_pair(source, target).values.ravel()
        sd = float(np.hypot(max(draws.std(), 0.02), setting_sd))
        rows.append({"target": target, "source": source, "mean": float(draws.mean()), "sd": sd})
    return pd.DataFrame(rows).set_index(["target", "source"])


#: Fewest runs :func:`fit` accepts.
MIN_ROWS = 3
#: A fit whose chains did not mix at all (r_hat above this, or not finite) is an error. Short
#: runs (under 500 draws per chain, e.g. the tiny fits of the notebooks) cannot tell 1.2 from
#: noise, so they fail only beyond R_HAT_FAILED_SHORT (stuck chains reach r_hat 1e16).
R_HAT_FAILED = 1.2
R_HAT_FAILED_SHORT = 2.0
#: ... or whose share of divergent draws is above this.
DIVERGENT_SHARE_FAILED = 0.5


def _failure(diagnostics: Diagnostics) -> str | None:
    """Why the chains did not mix at all (None when they did, even if short of the bar)."""
    d = diagnostics
    limit = R_HAT_FAILED if d.draws >= 500 else R_HAT_FAILED_SHORT
    if d.chains >= 2 and not d.max_r_hat <= limit:
        why = d.stuck_note() if d.stuck_chains else "the chains disagree or are stuck"
        return f"max r_hat {d.max_r_hat:.3g} ({d.worst_r_hat}): {why}"
    if d.divergences > DIVERGENT_SHARE_FAILED * d.chains * d.draws:
        return f"{d.divergences} of {d.chains * d.draws} draws divergent"
    return None


#: A parameter whose posterior sd is at least this share of its prior sd was not informed by the data.
PRIOR_DOMINATED_SHARE = 0.9


def _prior_dominated(result: Fit) -> dict[str, str]:
    """Population-level parameters whose posterior is no narrower than their prior."""
    config, found = result.config, {}
    scale = np.asarray(config.theta_scale)
    if "theta_mu" in result.posterior and result.config.pooling == "partial" and len(result.languages) > 1:
        posterior_sd, prior_sd = result.draws("theta_mu").std(axis=0), scale
    elif len(result.languages) == 1:
        # In the coordinates its prior is in.
        own = result.draws("theta_shares" if result.in_shares else "theta")[:, 0]
        posterior_sd, prior_sd = own.std(axis=0), np.hypot(scale, np.asarray(config.theta_sd))
    else:
        posterior_sd, prior_sd = None, None
    if posterior_sd is not None:
        names = SHARES if result.in_shares else THETA
        for k, name in enumerate(names):
            if posterior_sd[k] >= PRIOR_DOMINATED_SHARE * prior_sd[k]:
                label = {"log_E": "E"}.get(name, name)
                found[label] = (
                    f"its posterior sd {posterior_sd[k]:.3g} is {posterior_sd[k] / prior_sd[k]:.0%} of its prior's "
                    f"{prior_sd[k]:.3g}: the runs did not inform it"
                )
    for effect in result.spec.effects:
        if f"{effect.name}_mu" in result.posterior:
            sd, prior = float(result.draws(f"{effect.name}_mu").std()), effect.prior(config)[1]
            if sd >= PRIOR_DOMINATED_SHARE * prior:
                found[effect.exp_name or effect.name] = (
                    f"the posterior sd of its pooled mean {sd:.3g} is {sd / prior:.0%} of its prior's {prior:.3g}: "
                    "the runs did not inform it"
                )
    return found


def _identifiability(spec: LawSpec, data: LawData) -> dict[str, str]:
    """Parameters the design cannot identify, with the reason (empty when all can be)."""
    found = {}
    if np.unique(np.round(data.log_params, 9)).size < 2:
        found["alpha"] = "every row has the same model size, so alpha (and a) cannot be told apart"
    log_D = np.log(np.maximum(data.target_tokens if spec.needs_own_tokens else data.total_tokens, 1.0))
    if np.unique(np.round(log_D, 9)).size < 2:
        found["beta"] = "every row has the same token count, so beta (and b) cannot be told apart"
    if any(e.name in ("phi", "psi") for e in spec.effects) and np.unique(data.mixture_size).size < 2:
        found["phi"] = found["psi"] = (
            f"every row mixes the same number of languages (K = {data.mixture_size[0]:g}), so phi and psi "
            "(how loss changes with K) cannot be learnt"
        )
    return found


def _normalise_losses(runs: Any) -> tuple[Any, dict[str, float]]:
    """Divide each language's losses by its loss at its smallest-compute run.

    One anchor shared by design across languages (the smallest run), not the geometric mean
    of whatever runs a language has: with the mean, a language fitted on small runs only
    gets a higher scale than one with large runs too, so its rescaled floor sits lower and
    the languages no longer share one population.
    """
    from bayes_atlas.runs import RunTable

    frame = runs.frame.copy()
    compute = frame["params"].to_numpy(dtype=float) * runs.total_tokens.to_numpy(dtype=float)
    log_loss = pd.Series(np.log(frame["loss"].to_numpy(dtype=float)))
    languages = frame["language"].to_numpy()
    smallest = compute <= pd.Series(compute).groupby(languages).transform("min").to_numpy() * (1 + 1e-9)
    scale = log_loss[smallest].groupby(languages[smallest]).mean().map(np.exp)
    frame["loss"] = frame["loss"].to_numpy() / frame["language"].map(scale).to_numpy()
    return RunTable(frame, runs.loss_unit, runs.kind, dict(runs.meta)), {str(k): float(v) for k, v in scale.items()}


def _theta_prior(codes: list[str], prior: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Per-language mean and Cholesky factor of theta from an earlier fit.

    Fitted languages: the posterior mean and covariance of their five parameters (the
    correlations matter: b and beta trade off). Others: the fit's population, diagonal.
    """
    theta = prior.draws("theta")
    position = {code: i for i, code in enumerate(prior.languages)}
    mean = np.empty((len(codes), len(THETA)))
    chol = np.empty((len(codes), len(THETA), len(THETA)))
    for j, code in enumerate(codes):
        if code in position:
            draws = theta[:, position[code]]
            mean[j], cov = draws.mean(axis=0), np.cov(draws, rowvar=False)
        elif prior.in_shares:
            # A population in SHARES coordinates: moment-match its draws mapped to theta.
            draws = prior.theta_draws([code])[:, 0]
            mean[j], cov = draws.mean(axis=0), np.cov(draws, rowvar=False)
        elif "theta_mu" in prior.posterior:
            mu, spread = prior.draws("theta_mu"), prior.draws("theta_sd")
            mean[j] = mu.mean(axis=0)
            cov = np.diag((spread**2).mean(axis=0) + mu.var(axis=0))
        else:
            raise FitInputError(f"theta_prior has no parameters for {code!r} and no population to draw them from")
        chol[j] = np.linalg.cholesky(cov + 1e-8 * np.eye(len(THETA)))
    return mean, chol


def default_target_accept(given: LawConfig, resolved: LawConfig) -> float:
    """The NUTS ``target_accept`` that :func:`fit` uses when none is given.

    :data:`bayes_atlas.defaults.TARGET_ACCEPT_MANY_LANGUAGES` (0.9) where the package chose the
    population itself (``population_space`` and ``parameterization`` unset in ``given``) and
    chose the learnt shares population with data-rich languages centred (``resolved``:
    ``parameterization="auto"``, 6 languages or more, partially pooled) for a law of the ``law``
    role (atlas, chinchilla, dcsl, msl), where 0.95 only costs time (measurements beside the
    constant); :data:`bayes_atlas.defaults.TARGET_ACCEPT` (0.95) everywhere else, where the
    few-language and user-chosen defaults were measured. The curse and finetune laws keep 0.95:
    their per-language curse exponents and finetune offsets do not mix at 0.9 (seed-1 study: curse
    max r_hat 1.53 at 0.9 against 1.0045 at 0.95; finetune 1 divergence at 0.9, 0 at 0.95).

    Examples
    --------
    >>> from bayes_atlas.models.law import LawConfig
    >>> default_target_accept(LawConfig(), LawConfig(population_space="shares", parameterization="auto"))
    0.9
    >>> default_target_accept(LawConfig(), LawConfig(law="curse", population_space="shares", parameterization="auto"))
    0.95
    >>> default_target_accept(LawConfig(), LawConfig(population_space="amplitudes", parameterization="noncentered"))
    0.95
    """
    chosen_here = given.population_space is None and given.parameterization is None
    if chosen_here and resolved.parameterization == "auto" and get_law(resolved.law).role == "law":
        return defaults.TARGET_ACCEPT_MANY_LANGUAGES
    return defaults.TARGET_ACCEPT


def fit(
    runs: Any,
    law: str = "atlas",
    *,
    transfer: Any = "default",
    theta_prior: Any = None,
    config: LawConfig | None = None,
    draws: int = defaults.DRAWS,
    tune: int = defaults.TUNE,
    chains: int = defaults.CHAINS,
    random_seed: int | None = None,
    nuts_sampler: str = "numpyro",
    target_accept: float | None = None,
    dense_mass: bool | None = None,
    max_tree_depth: int = defaults.MAX_TREE_DEPTH,
    progressbar: bool = True,
    warn: bool = True,
    init: str = "jitter",
    transfer_setting_sd: float = TRANSFER_SETTING_SD,
    allow_failed: bool = False,
    discrepancy: bool = True,
) -> Fit:
    """Sample the posterior of a hierarchical scaling law for ``runs``.

    Parameters
    ----------
    runs
        A :class:`bayes_atlas.runs.RunTable` with per-token losses (``nats/token`` or
        ``bits/token``). Every row is used: subset it first (``runs.subset(...)``) to drop
        designs the law does not describe (capacity sweeps, finetunes).
    law
        ``"atlas"`` (effective data with repetition and transfer), ``"chinchilla"`` (total
        tokens), ``"dcsl"`` (data-constrained: own tokens and parameters decayed at the
        published R*_D, R*_N), ``"msl"`` (He et al.: Chinchilla times the family share
        ``p^-gamma``), ``"curse"`` (the curse of multilinguality: runs mixing K languages
        uniformly, with per-language ``phi``/``psi``; include monolingual runs so K = 1 is
        seen) or ``"finetune"`` (from-scratch runs and runs continued from a multilingual
        checkpoint, ``checkpoint`` column set; per-language floor penalty ``delta`` and a
        shared head start). See :mod:`bayes_atlas.models.law`.
    transfer
        For the ATLAS law, the prior of each transfer weight: ``"default"`` (the shipped
        transfer posterior), a :class:`bayes_atlas.transfer.TransferFit`, or ``None`` (one
        pooled prior for all pairs, learnt from the runs).
    theta_prior
        An earlier :class:`Fit` (or a path to one) whose posterior becomes the prior of every
        language's ``(log E, a, alpha, b, beta)`` (independent normals, moment-matched;
        languages it lacks get its population). Use it when the runs barely separate those
        parameters, as in the capacity sweeps (tokens are 40 N / K in every run) or the
        finetune runs (three model sizes): the shipped curse and finetune emulations take
        the ATLAS-law emulation as their prior. Do not pass a fit of the same runs (that
        counts them twice). Default: a learnt population.
    config
        Priors (:class:`bayes_atlas.models.law.LawConfig`); its ``law`` is set from ``law``.
    draws, tune, chains, random_seed, nuts_sampler, target_accept, dense_mass, progressbar
        NUTS settings (:func:`bayes_atlas.inference.sample_nuts`). The defaults: 4 chains x
        (700 tuning + 1300 kept draws); ``target_accept=None`` is :func:`default_target_accept`
        (0.9 for the many-language population the package chooses, 0.95 otherwise). On the
        emulated study (790 rows, 50 languages) they converge: 0 divergences, r_hat 1.005, bulk
        ESS 1206, no draw at the maximum tree depth, 99-106 s of sampling on 2 cores (2026-12-02). ``dense_mass=None`` picks a
        dense mass matrix for tables of up to 3 languages (few, strongly correlated
        parameters: Epoch's single-language runs reach ESS 2000 in 7 s) and a diagonal one
        above (790-row emulated study: diagonal 191 s and 0 divergences at target_accept
        0.95; dense 750 s with every draw at the maximum tree depth).
    max_tree_depth
        NUTS tree depth limit (default 10: at most 1023 leapfrog steps per draw). When most
        draws hit it (``Fit.diagnostics``; large tables with many languages, see the cost curve
        in ``benchmarks/README.md``), 8 caps a draw at 255 steps, 4x cheaper per draw, at the
        price of more autocorrelation: check bulk ESS afterwards.
    warn
        Emit :class:`bayes_atlas.ConvergenceWarning` for failed diagnostics and
        :class:`bayes_atlas.IdentifiabilityWarning` (BA105) for parameters the design cannot
        identify (one model size, one token count, one mixture size K for the curse law).
    transfer_setting_sd
        Between-setting spread added (in quadrature) to each transfer pair's BTS prior from
        the transfer posterior: that posterior was measured at 2B parameters and 42B tokens on
        one corpus, and transfer changes with model size, horizon and corpus (ATLAS App. C.2).
        0 treats your table as the same setting (the emulated study is).
    discrepancy
        Learn how the law's error grows outside the fitted range (rolling origin, see
        :mod:`bayes_atlas.discrepancy`) and widen every prediction and decision beyond that
        range accordingly (default). ``False``: the law's form is taken as exact everywhere
        (simulation studies whose truth is the law itself).
    allow_failed
        Return a fit whose chains did not mix at all (max r_hat above 1.2 or not finite, or
        more than half the draws divergent) instead of raising
        :class:`bayes_atlas.FitFailedError`. Such a fit cannot be saved or decided from until
        you call :meth:`Fit.accept_failure`.
    init
        Chain initialisation (:func:`bayes_atlas.inference.sample_nuts`): ``"jitter"``, or
        ``"z"`` for many languages with few runs each (Goldfish).

    Returns
    -------
    Fit

    Notes
    -----
    The NumPyro sampler needs JAX in float64: a fit turns on JAX's x64 mode for the process
    (and, only where unset, one host device per chain and the project's compile cache; see
    :func:`bayes_atlas.inference.configure_jax`).

    Raises
    ------
    FitInputError
        For a run table the law cannot use (fewer than 3 rows; per-sequence losses for the
        curse or finetune law). Per-sequence (and per-byte) losses are accepted by every law
        with ``LawSpec.per_sequence`` (atlas, chinchilla, dcsl, msl): each language's losses are
        divided by its loss at its smallest-compute run (``meta["loss_scale"]``), predictions
        are scaled back, and only fitted languages can be predicted.
    """
    from bayes_atlas.discrepancy import learn_discrepancy
    from bayes_atlas.inference import diagnose, fit_in_fresh_process, jax_started_with_fewer_devices, sample_nuts
    from bayes_atlas.models.law import build_law_model
    from bayes_atlas.runs import RunTable

    if law not in LAWS:
        raise FitInputError(f"law must be one of {LAWS}, got {law!r}")
    spec = get_law(law)
    if not isinstance(runs, RunTable):
        raise FitInputError(f"runs must be a RunTable (RunTable.from_csv / from_frame), got {type(runs).__name__}")
    if len(runs) < MIN_ROWS:
        raise FitInputError(f"need at least {MIN_ROWS} rows, got {len(runs)}")
    loss_scale: dict[str, float] = {}
    fitted_runs = runs
    if not runs.per_token:
        if not spec.per_sequence:
            raise FitInputError(
                f"the {law} law needs per-token losses; this table has loss_unit={runs.loss_unit!r} "
                "(convert to nats or bits per token first)"
            )
        # Per-sequence losses (e.g. Goldfish: bits per FLORES sentence) are on a different
        # scale in every language; dividing each language's losses by a per-language constant
        # is an exact reparameterisation of its floor and amplitudes, and puts every
        # language on the scale the population prior expects.
        fitted_runs, loss_scale = _normalise_losses(runs)
    config = LawConfig.from_dict({**(config or LawConfig()).to_dict(), "law": law})
    data = prepare_law_data(fitted_runs, with_family_share=spec.needs_family_share)
    _check_design(spec, data)
    # What the config leaves to the table.
    given = config
    config = config.resolved(data.log_loss, len(data.languages), data.log_params, data.total_tokens)
    if target_accept is None:
        target_accept = default_target_accept(given, config)
    if nuts_sampler == "numpyro" and chains > 1 and jax_started_with_fewer_devices(chains):
        # Chains run one after another in this process, and their floating point differs from
        # parallel chains: the same seed would give another posterior. Sample in a fresh
        # process instead, where JAX starts with one host device per chain.
        arguments = dict(
            runs=runs,
            law=law,
            transfer=transfer,
            theta_prior=theta_prior,
            config=config,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            nuts_sampler=nuts_sampler,
            target_accept=target_accept,
            dense_mass=dense_mass,
            max_tree_depth=max_tree_depth,
            progressbar=progressbar,
            warn=False,
            init=init,
            transfer_setting_sd=transfer_setting_sd,
            allow_failed=True,
            discrepancy=discrepancy,
        )
        result = fit_in_fresh_process(fit, arguments)
        return _finish(result, warn=warn, allow_failed=allow_failed)
    if transfer == "default":
        from bayes_atlas.transfer import load_default

        transfer = load_default() if spec.uses_transfer and data.pairs else None
    bts_prior = _bts_prior(data.pairs, transfer, transfer_setting_sd) if spec.uses_transfer else None
    prior_fit = Fit.load(theta_prior) if isinstance(theta_prior, str | Path) else theta_prior
    theta_moments = _theta_prior(list(data.languages), prior_fit) if prior_fit is not None else None
    model = build_law_model(data, config, bts_prior, theta_moments)
    if dense_mass is None:
        dense_mass = len(data.languages) <= 3
    idata, wall = sample_nuts(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        dense_mass=dense_mass,
        max_tree_depth=max_tree_depth,
        progressbar=progressbar,
        init=init,
    )
    diagnostics = diagnose(idata, wall_time_s=wall, sampler=nuts_sampler)
    posterior = idata["posterior"].to_dataset()
    posterior = posterior.drop_vars([v for v in posterior.data_vars if v.endswith("_z")])
    meta = {
        "created": _dt.date.today().isoformat(),
        "tune": int(tune),
        "random_seed": random_seed,
        "sampler": {
            "nuts_sampler": nuts_sampler,
            "chain_method": idata.attrs.get("chain_method", ""),
            "target_accept": float(target_accept),
            "dense_mass": bool(dense_mass),
            "max_tree_depth": int(max_tree_depth),
            "init": init,
            "draws": int(draws),
            "tune": int(tune),
            "chains": int(chains),
        },
        "versions": _versions(),
        "data_hash": runs.data_hash(),
        "n_rows": len(runs),
        "loss_unit": runs.loss_unit,
        "log_params_range": _log_range(data.log_params),
        "log_tokens_range": _log_range(np.log(data.total_tokens)),
        "log_compute_range": _log_range(np.log(6.0) + data.log_params + np.log(data.total_tokens)),
        "pairs": [list(p) for p in data.pairs],
        "transfer_prior": (
            f"transfer posterior, widened by a between-setting sd of {transfer_setting_sd:g} in BTS"
            if transfer is not None and bts_prior is not None
            else "pooled"
        ),
        "not_identified": _identifiability(spec, data),
        "dataset": str(runs.meta.get("dataset", "")),
        "theta_prior": None if prior_fit is None else f"{prior_fit.law} law fit of {prior_fit.meta.get('n_rows')} rows",
        # Simulated tables (bayes_atlas.simulate) say so; decisions from them carry warning BA202.
        "emulated": bool(runs.meta.get("emulated", False)),
        "loss_scale": loss_scale,
        "discrepancy": learn_discrepancy(fitted_runs, law, seed=int(random_seed or 0)).to_dict() if discrepancy else None,
    }
    groups = {
        "sample_stats": idata["sample_stats"].to_dataset(),
        "observed_data": xr.Dataset({"log_loss": ("run", data.log_loss)}, coords={"run": np.arange(data.n_rows)}),
        "constant_data": _constant_data(data),
    }
    result = Fit(posterior, config, diagnostics, meta, groups=groups)
    result._add_log_likelihood()
    result.meta["failure"] = _failure(diagnostics)
    if prior_fit is None:
        for name, reason in _prior_dominated(result).items():
            result.meta["not_identified"].setdefault(name, reason)
    return _finish(result, warn=warn, allow_failed=allow_failed)


def _log_range(values: np.ndarray) -> list[float]:
    return [float(values.min()), float(values.max())]


def _finish(result: Fit, *, warn: bool, allow_failed: bool) -> Fit:
    """Warn about the fit's diagnostics and identifiability; raise if its chains did not mix."""
    import warnings

    from bayes_atlas.inference import warn_on_diagnostics

    if warn:
        warn_on_diagnostics(result.diagnostics, what=f"{result.law} law fit", stacklevel=4)
        for name, reason in result.meta.get("not_identified", {}).items():
            warnings.warn(
                IdentifiabilityWarning(
                    "BA105", f"{result.law} law fit: {name} is not identified: {reason}; its posterior is its prior"
                ),
                stacklevel=3,
            )
    failure = result.meta.get("failure")
    if failure and not allow_failed:
        by_reason: dict[str, list[str]] = {}
        for name, reason in (result.meta.get("not_identified") or {}).items():
            by_reason.setdefault(reason, []).append(name)
        lacks = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in sorted(by_reason.items()))
        raise FitFailedError(
            f"the {result.law} law fit did not converge at all: {failure}. "
            + (f"The run table lacks what the law needs: {lacks}. " if lacks else "")
            + "Do not decide from it. Remedies: check "
            "the run table's units and that each language has runs at several model sizes and token counts; fit "
            "fewer languages or the chinchilla law first; raise tune (e.g. tune=2000) and target_accept (0.99); "
            "init='z' for many languages with few runs. The failed fit is error.fit (fit(..., allow_failed=True) "
            "returns it).",
            fit=result,
        )
    return result


def _check_design(spec: LawSpec, data: LawData) -> None:
    """Refuse a table whose rows the law cannot evaluate, naming the rows."""
    if spec.needs_own_tokens:
        missing = np.flatnonzero(data.target_tokens <= 0)
        if missing.size:
            rows = ", ".join(f"{data.run_ids[i]} ({data.languages[data.language_index[i]]})" for i in missing[:5])
            raise FitInputError(
                f"the {spec.name} law needs tokens of the evaluated language in every row; {missing.size} row(s) have "
                f"none, e.g. {rows}: drop them (runs.subset(...))"
            )
    if spec.needs_finetuned_and_scratch:
        finetuned = data.finetuned > 0
        if not (finetuned.any() and (~finetuned).any()):
            raise FitInputError(
                f"the {spec.name} law needs both finetuned rows (checkpoint column set) and from-scratch rows; "
                f"this table has {int(finetuned.sum())} finetuned of {data.n_rows}"
            )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from bayes_atlas import __version__

    out = {"bayes_atlas": __version__}
    for name in ("pymc", "pytensor", "numpyro", "jax", "arviz", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


#: LawData arrays stored in a fit's ``constant_data`` group (dim ``run``; transfer arrays also ``source_slot``).
_DESIGN_ARRAYS = (
    "log_params",
    "total_tokens",
    "target_tokens",
    "target_unique",
    "transfer_tokens",
    "transfer_unique",
    "other_tokens",
    "mixture_size",
    "family_share",
    "finetuned",
    "language_index",
    "transfer_pair",
)


def _constant_data(data: LawData) -> xr.Dataset:
    variables = {}
    for name in _DESIGN_ARRAYS:
        values = np.asarray(getattr(data, name))
        dims = ("run", "source_slot") if values.ndim == 2 else ("run",)
        variables[name] = (dims, values)
    return xr.Dataset(variables, coords={"run": np.arange(data.n_rows), "run_id": ("run", data.run_ids.astype(str))})


def _law_data_from(constant: xr.Dataset, observed: xr.Dataset, languages: tuple[str, ...], pairs: list[Any]) -> LawData:
    values = {name: np.asarray(constant[name].values) for name in _DESIGN_ARRAYS}
    values["language_index"] = values["language_index"].astype(np.int64)
    values["transfer_pair"] = values["transfer_pair"].astype(np.int64)
    return LawData(
        **values,
        languages=languages,
        pairs=tuple(tuple(p) for p in pairs),
        log_loss=np.asarray(observed["log_loss"].values, dtype=float),
        run_ids=np.asarray(constant["run_id"].values).astype(str),
    )


def _stored_data_hash(tree: xr.DataTree) -> str:
    """SHA-256 of the run table a saved fit carries (its constant_data and observed_data arrays)."""
    import hashlib

    digest = hashlib.sha256()
    for group in ("constant_data", "observed_data"):
        dataset = tree[group].to_dataset()
        for name in sorted(dataset.data_vars):
            values = np.asarray(dataset[name].values)
            digest.update(name.encode())
            digest.update(values.astype(str).tobytes() if values.dtype.kind in "OUS" else values.astype(np.float64).tobytes())
    return digest.hexdigest()


class Fit:
    """A fitted scaling law: posterior draws, diagnostics and predictions.

    Attributes
    ----------
    posterior
        xarray Dataset with dims ``chain``, ``draw``, ``language`` (``E``, ``a``, ``alpha``,
        ``b``, ``beta`` and the law's per-language effects), ``parameter`` (``theta`` = (log E,
        a, alpha, b, beta) per language; population ``theta_mu``, ``theta_sd``), ``pair``
        (``bts``, ``tau`` of the ATLAS law) and the law's shared scalars (``lam``, ...),
        ``sigma``.
    config
        :class:`bayes_atlas.models.law.LawConfig` (``config.law`` names the law).
    diagnostics
        :class:`bayes_atlas.inference.Diagnostics`.
    meta
        Data hash, fitted ranges of log N and log D, the transfer pairs, sampler settings,
        package versions, creation date.
    datatree
        The whole result as an ArviZ DataTree (see :attr:`datatree`).
    """

    def __init__(
        self,
        posterior: xr.Dataset,
        config: LawConfig,
        diagnostics: Diagnostics,
        meta: dict[str, Any],
        *,
        groups: dict[str, xr.Dataset] | None = None,
    ) -> None:
        self.posterior = posterior
        self.config = config
        self.diagnostics = diagnostics
        self.meta = dict(meta)
        self.languages = tuple(str(c) for c in posterior.language.values)
        self._groups = dict(groups or {})
        self._datatree: xr.DataTree | None = None

    # -- what the fit is ---------------------------------------------------------------

    @property
    def law(self) -> str:
        """Registry name of the fitted law."""
        return self.config.law

    @property
    def spec(self) -> LawSpec:
        """The law's :class:`bayes_atlas.laws.LawSpec` (its one mean and its parameters)."""
        return get_law(self.law)

    @property
    def in_shares(self) -> bool:
        """True when the languages were drawn from their population in :data:`SHARES` coordinates
        (``LawConfig.population_space="shares"`` without ``theta_prior``): ``theta_shares`` holds them."""
        return "theta_shares" in self.posterior

    @property
    def failed(self) -> bool:
        """True when the chains did not mix at all and nobody accepted that (:meth:`accept_failure`)."""
        return bool(self.meta.get("failure")) and not self.meta.get("failure_accepted", False)

    def accept_failure(self) -> Fit:
        """Allow saving and deciding from a fit whose chains did not mix (returns the fit)."""
        self.meta["failure_accepted"] = True
        return self

    @property
    def n_draws(self) -> int:
        """Posterior draws, all chains together."""
        return int(self.posterior.sizes["chain"] * self.posterior.sizes["draw"])

    @property
    def training_data(self) -> LawData | None:
        """The fitted rows as law arrays (None for a fit saved without its data)."""
        if "constant_data" not in self._groups or "observed_data" not in self._groups:
            return None
        return _law_data_from(self._groups["constant_data"], self._observed(), self.languages, self.meta.get("pairs", []))

    def _observed(self) -> xr.Dataset:
        return self._groups["observed_data"]

    @property
    def datatree(self) -> xr.DataTree:
        """The fit as an ArviZ DataTree: ``posterior``, ``sample_stats``, ``observed_data``,
        ``constant_data``, ``log_likelihood`` and ``posterior_predictive`` (log loss, drawn
        with seed 0, on the scale the model was fitted on) - whichever the fit holds. Works with
        ``az.summary``, ``az.plot_trace``, ``az.plot_energy``, ``az.loo``, ``az.compare`` and
        ``az.plot_ppc_dist``. Built once and cached: it reflects the fit as it was then.

        Examples
        --------
        >>> import arviz as az  # doctest: +SKIP
        >>> az.loo(my_fit.datatree)  # doctest: +SKIP
        """
        if self._datatree is not None:
            return self._datatree
        tree = {"posterior": self.posterior}
        tree.update(self._groups)
        data = self.training_data
        if data is not None:
            # On the scale the model saw (per-sequence losses: rescaled), like observed_data.
            predicted = self._predict_data(data, noise=True, random_seed=0, rescale=False)
            tree["posterior_predictive"] = (
                xr.Dataset({"log_loss": np.log(predicted).rename(None)})
                .drop_vars("run")
                .assign_coords(run=np.arange(data.n_rows))
            )
        self._datatree = xr.DataTree.from_dict(tree)
        return self._datatree

    # -- per-draw accessors --------------------------------------------------------------

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of ``name``, chains stacked: shape ``(n_draws, *variable dims)``.

        Examples
        --------
        >>> my_fit.draws("lam").shape  # doctest: +SKIP
        (5200,)
        """
        if name not in self.posterior:
            raise ValueError(f"this {self.law} fit has no {name!r}; it has {sorted(self.posterior.data_vars)}")
        values = self.posterior[name].values
        return values.reshape(self.n_draws, *values.shape[2:])

    def theta_draws(self, codes: list[str], random_seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """``(n_draws, len(codes), 5)`` draws of (log E, a, alpha, b, beta).

        Fitted languages come from the posterior; others are drawn from the fitted population
        (its mean and spread per draw, with the empirical correlation of the fitted languages).
        """
        theta = self.draws("theta")
        out = np.empty((self.n_draws, len(codes), len(THETA)))
        position = {code: i for i, code in enumerate(self.languages)}
        population = None
        for j, code in enumerate(codes):
            if code in position:
                out[:, j] = theta[:, position[code]]
                continue
            if "theta_mu" not in self.posterior:
                raise ValueError(f"language {code!r} was not fitted and a single-language fit has no population to draw it from")
            if population is None:
                mu, sd = self.draws("theta_mu"), self.draws("theta_sd")
                # The fitted languages' coordinates in the population's space (theta or shares).
                fitted = self.draws("theta_shares") if self.in_shares else theta
                corr = np.corrcoef(fitted.mean(axis=0).T) if len(self.languages) > 2 else np.eye(len(THETA))
                chol = np.linalg.cholesky(corr + 1e-9 * np.eye(len(THETA)))
                population = (mu, sd, chol)
            mu, sd, chol = population
            z = _stream(random_seed, f"theta:{code}").standard_normal((self.n_draws, len(THETA)))
            draw = mu + sd * (z @ chol.T)
            if self.in_shares:
                draw = theta_from_shares(np, draw, self.config.share_reference)
            out[:, j] = draw
        return out

    def effect_draws(self, name: str, codes: list[str], random_seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """``(n_draws, len(codes))`` of a pooled per-language effect (``phi``, ``psi``, ``log_delta``, ``gamma``).

        Fitted languages take their posterior draws; others a draw from the pooled
        distribution (``<name>_mu + <name>_sd z``).
        """
        fitted = self.draws(name)
        position = {code: i for i, code in enumerate(self.languages)}
        out = np.empty((self.n_draws, len(codes)))
        for j, code in enumerate(codes):
            if code in position:
                out[:, j] = fitted[:, position[code]]
            elif f"{name}_mu" in self.posterior:
                z = _stream(random_seed, f"{name}:{code}").standard_normal(self.n_draws)
                out[:, j] = self.draws(f"{name}_mu") + self.draws(f"{name}_sd") * z
            else:
                raise ValueError(f"language {code!r} was not fitted and a single-language fit has no population for {name!r}")
        return out

    def tau_draws(self, pairs: list[tuple[str, str]], random_seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """``(n_draws, len(pairs))`` transfer weights of ``(target, source)`` pairs.

        Fitted pairs take their posterior draws; others a draw around the fitted pairs'
        mean BTS with their spread (0 +- 0.3 in BTS when the fit has no pairs).
        """
        fitted = {tuple(p): i for i, p in enumerate(self.meta.get("pairs", []))}
        out = np.empty((self.n_draws, len(pairs)))
        if "tau" in self.posterior:
            bts = bts_from_tau(self.draws("tau"))
            centre, spread = bts.mean(), bts.mean(axis=0).std() if bts.shape[1] > 1 else 0.3
        else:
            bts, centre, spread = None, 0.0, 0.3
        for j, pair in enumerate(pairs):
            draw = (
                bts[:, fitted[tuple(pair)]]
                if bts is not None and tuple(pair) in fitted
                else centre + spread * _stream(random_seed, f"tau:{pair[1]}->{pair[0]}").standard_normal(self.n_draws)
            )
            out[:, j] = tau_from_bts(draw)
        return out

    def language_parameters(self, code: str, random_seed: int | np.random.Generator | None = 0) -> dict[str, np.ndarray]:
        """Per-draw law parameters of one language: ``{name: (n_draws,)}`` for every name the
        law's mean reads except ``tau`` (see :meth:`tau_draws`).

        Examples
        --------
        >>> p = my_fit.language_parameters("ca")  # doctest: +SKIP
        >>> sorted(p)  # doctest: +SKIP
        ['a', 'alpha', 'b', 'beta', 'lam', 'log_E', 'tau_other']
        """
        theta = self.theta_draws([code], random_seed)[:, 0]
        params = {name: theta[:, k] for k, name in enumerate(THETA)}
        for effect in self.spec.effects:
            params[effect.name] = self.effect_draws(effect.name, [code], random_seed)[:, 0]
        for shared in self.spec.shared:
            params[shared.name] = self.draws(shared.name)
        discrepancy = self.discrepancy
        if discrepancy is not None:
            params.update(discrepancy.language_parameters(code, self.n_draws))
        return params

    def row_parameters(self, data: LawData, random_seed: int | np.random.Generator | None = 0) -> dict[str, np.ndarray]:
        """Per-draw law parameters at the rows of ``data``: ``(n_draws, rows)`` per language
        parameter, ``(n_draws, 1)`` per shared one, ``tau`` ``(n_draws, rows, 3)``."""
        codes = list(data.languages)
        rows = data.language_index
        theta = self.theta_draws(codes, random_seed)[:, rows]
        params = {name: theta[..., k] for k, name in enumerate(THETA)}
        for effect in self.spec.effects:
            params[effect.name] = self.effect_draws(effect.name, codes, random_seed)[:, rows]
        for shared in self.spec.shared:
            params[shared.name] = self.draws(shared.name)[:, None]
        if self.spec.uses_transfer:
            tau = self.tau_draws(list(data.pairs), random_seed) if data.pairs else np.zeros((self.n_draws, 1))
            used = data.transfer_tokens > 0
            params["tau"] = np.where(used, tau[:, data.transfer_pair], 0.0)
        discrepancy = self.discrepancy
        if discrepancy is not None:
            params.update(discrepancy.row_parameters(codes, rows, self.n_draws))
        return params

    @property
    def discrepancy(self) -> Discrepancy | None:
        """The learnt extrapolation discrepancy (:mod:`bayes_atlas.discrepancy`); None if the fit has none."""
        stored = self.meta.get("discrepancy")
        return Discrepancy.from_dict(stored) if stored else None

    def mean_log_loss(self, design: Design, params: dict[str, np.ndarray]) -> np.ndarray:
        """The law's log loss at ``design`` for per-draw ``params`` (numpy), noise-free.

        When ``params`` carry the fit's extrapolation discrepancy (they do when they come from
        :meth:`language_parameters` or :meth:`row_parameters` of a fit that learnt one), each
        draw's loss surface is tilted outside the fitted range (0 inside it).
        """
        value = self.spec.mean_log_loss(np, design, params)
        if "tilt_N" in params:
            value = value + extrapolation_offset(design, params)
        return value

    # -- predictions ---------------------------------------------------------------------

    def predict(self, runs: Any, *, noise: bool = True, random_seed: int | None = 0) -> xr.DataArray:
        """Posterior predictive loss draws for the rows of ``runs``.

        Languages the fit never saw get parameters drawn from the population; transfer
        pairs it never saw get BTS from the fitted pairs' spread around their mean.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, run)``; the ``run`` coordinate holds the run ids.
        """
        data = prepare_law_data(runs, with_family_share=self.spec.needs_family_share)
        return self._predict_data(data, noise=noise, random_seed=random_seed)

    def _predict_data(self, data: LawData, *, noise: bool, random_seed: int | None, rescale: bool = True) -> xr.DataArray:
        # Unfitted languages draw from their own streams (row_parameters); the noise from this one.
        rng = np.random.default_rng(random_seed)
        mean_log = self.mean_log_loss(data, self.row_parameters(data, random_seed))
        scale = (self.meta.get("loss_scale") or {}) if rescale else {}
        if scale:
            unknown = sorted(set(data.languages) - set(scale))
            if unknown:
                raise ValueError(
                    f"this fit is on per-sequence losses, whose scale is per language; it cannot predict {unknown} "
                    "(no rows of theirs were fitted)"
                )
            mean_log = mean_log + np.log([scale[code] for code in data.languages])[data.language_index]
        if noise:
            sigma = self.draws("sigma")[:, None]
            nu = self.draws("nu")[:, None] if "nu" in self.posterior else self.config.student_nu
            mean_log = mean_log + sigma * rng.standard_t(nu, size=mean_log.shape)
        return xr.DataArray(
            np.exp(mean_log).reshape(self.posterior.sizes["chain"], self.posterior.sizes["draw"], -1),
            dims=(*SAMPLE_DIMS, "run"),
            coords={"run": data.run_ids},
            name="loss",
            attrs={"law": self.law, "noise": noise},
        )

    def _add_log_likelihood(self) -> None:
        """Pointwise Student-t log likelihood of the fitted rows (for ``az.loo``)."""
        from scipy import stats

        data = self.training_data
        if data is None:
            return
        mean_log = self.mean_log_loss(data, self.row_parameters(data, 0))
        observed = data.log_loss  # as the model saw them (per-sequence losses: rescaled)
        nu = self.draws("nu")[:, None] if "nu" in self.posterior else self.config.student_nu
        loglik = stats.t.logpdf(observed, nu, loc=mean_log, scale=self.draws("sigma")[:, None])
        shape = (self.posterior.sizes["chain"], self.posterior.sizes["draw"], data.n_rows)
        self._groups["log_likelihood"] = xr.Dataset(
            {"log_loss": ((*SAMPLE_DIMS, "run"), loglik.reshape(shape))},
            coords={"chain": self.posterior.chain.values, "draw": self.posterior.draw.values, "run": np.arange(data.n_rows)},
        )

    # -- summaries and files -------------------------------------------------------------

    def summary(self, ci: float = defaults.CI) -> pd.DataFrame:
        """Law parameters: posterior median, sd and equal-tailed ``ci`` interval.

        Returns
        -------
        pandas.DataFrame
            Index (``language``, ``parameter``), ``language == "all"`` for shared parameters;
            columns ``median``, ``sd``, ``lower``, ``upper`` and ``prior_dominated`` (the run table
            could not identify the parameter: warning BA105 at fit time).
        """
        if not 0 < ci < 1:
            raise ValueError(f"ci must be in (0, 1), got {ci!r}")
        per_language = ["E", "a", "alpha", "b", "beta"]
        for effect in self.spec.effects:
            per_language.append(effect.exp_name or effect.name)
        shared = [s.name for s in self.spec.shared] + [f"{e.name}_mu" for e in self.spec.effects] + ["sigma", "nu"]
        rows = []
        for name in per_language:
            draws = self.draws(name)
            lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
            for j, code in enumerate(self.languages):
                rows.append((code, name, median[j], draws[:, j].std(ddof=1), lower[j], upper[j]))
        for name in shared:
            if name in self.posterior:
                draws = self.draws(name)
                lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
                rows.append(("all", name, median, draws.std(ddof=1), lower, upper))
        table = pd.DataFrame(rows, columns=["language", "parameter", "median", "sd", "lower", "upper"])
        # Parameters the design could not identify (fit's BA105) are their prior: say so per row.
        unidentified = set(self.meta.get("not_identified") or {})
        core = {"a": "alpha", "b": "beta"}
        table["prior_dominated"] = [core.get(p, p) in unidentified or p in unidentified for p in table["parameter"]]
        table.attrs["ci"] = ci
        return table.set_index(["language", "parameter"])

    def save(self, path: str | Path, *, compact: bool = False, max_draws: int | None = None, float32: bool = False) -> Path:
        """Write the fit (netCDF, atomically) with its config, data hash, sampler settings and versions.

        By default the whole DataTree is stored (posterior, sample_stats, observed_data,
        constant_data, log_likelihood), so ``az.loo`` and friends work on the loaded file.
        ``compact=True`` keeps the posterior only. ``theta`` and ``bts`` are not stored (they
        are ``log E, a, alpha, b, beta`` and ``2 tau / (1 + tau)``, rebuilt on load).
        ``max_draws`` thins every group evenly per chain; ``float32`` halves the file. The
        stored diagnostics are those of the full fit.
        """
        if self.failed:
            raise FitFailedError(
                f"not saving a fit whose chains did not mix ({self.meta['failure']}); call fit.accept_failure() "
                "first if you really want it on disk"
            )
        groups = {"posterior": self.posterior.drop_vars(["theta", "bts"], errors="ignore")}
        if not compact:
            groups.update(self._groups)
        tree = xr.DataTree.from_dict(
            {
                name: compact_posterior(group, max_draws=max_draws, float32=float32) if "chain" in group.dims else group
                for name, group in groups.items()
            }
        )
        meta = dict(self.meta)
        if "constant_data" in tree.children and "observed_data" in tree.children:
            meta["stored_data_hash"] = _stored_data_hash(tree)
        attrs = {"config": self.config.to_dict(), "diagnostics": self.diagnostics.to_dict(), "meta": meta}
        return write_posterior(tree, path, model=MODEL_NAME, attrs=attrs)

    @classmethod
    def load(cls, path: str | Path) -> Fit:
        """Read a fit written by :meth:`save`; refuses files of another model or format.

        Prefer :func:`bayes_atlas.load`, which reads any saved posterior.
        """
        tree = read_posterior(path, model=MODEL_NAME)
        return cls.from_datatree(tree, source=str(path))

    @classmethod
    def from_datatree(cls, tree: xr.DataTree, *, source: str = "posterior") -> Fit:
        """Rebuild a fit from a DataTree read by :func:`bayes_atlas.inference.read_posterior`."""
        try:
            stored = json_attr(tree, "config")
            # Files written before the spread prior was a setting were fitted with half-normals.
            stored.setdefault("population_sd_prior", "halfnormal")
            # ... and before the population space was a setting, in amplitudes (log E, a, alpha, b, beta).
            stored.setdefault("population_space", "amplitudes")
            config = LawConfig.from_dict(stored)
        except (TypeError, ValueError) as error:
            raise PosteriorFileError(f"{source}: incompatible law config ({error}); refit and save again") from error
        posterior = as_float64(tree["posterior"].to_dataset())
        columns = [np.log(posterior["E"]), posterior["a"], posterior["alpha"], posterior["b"], posterior["beta"]]
        posterior["theta"] = xr.concat(columns, dim=xr.DataArray(list(THETA), dims="parameter", name="parameter")).transpose(
            "chain", "draw", "language", "parameter"
        )
        if "tau" in posterior:
            posterior["bts"] = bts_from_tau(posterior["tau"])
        groups = {
            name: as_float64(tree[name].to_dataset())
            for name in ("sample_stats", "observed_data", "constant_data", "log_likelihood")
            if name in tree.children
        }
        diagnostics = Diagnostics.from_dict(json_attr(tree, "diagnostics"))
        meta = json_attr(tree, "meta")
        expected = meta.get("stored_data_hash")
        if expected and "constant_data" in tree.children and _stored_data_hash(tree) != expected:
            raise PosteriorFileError(
                f"{source}: its stored run table does not match the hash written with it (the file was altered); "
                "refit and save again"
            )
        return cls(posterior, config, diagnostics, meta, groups=groups)

    def __repr__(self) -> str:
        d = self.diagnostics
        r_hat = f"{d.max_r_hat:.3f}" if np.isfinite(d.max_r_hat) else "n/a (one chain)" if d.chains < 2 else "not finite"
        return (
            f"<Fit {self.law}: {len(self.languages)} languages, {self.meta.get('n_rows')} rows, {self.n_draws} draws; "
            f"divergences={d.divergences}, max r_hat={r_hat}, min ESS={d.min_ess_bulk:.0f}>"
        )


#: Designs of :func:`bayes_atlas.simulate.atlas_study` each law is fitted to (``LawSpec.emulated_designs``).
EMULATED_DESIGNS = {name: get_law(name).emulated_designs for name in LAWS}


def _stream(random_seed: int | np.random.Generator | None, key: str) -> np.random.Generator:
    """The random stream of one unfitted language (or pair) ``key``: fixed by the seed and the key
    alone, so its draws do not depend on which other languages are asked for with it. A
    ``Generator`` is used as given (the caller owns that stream)."""
    if isinstance(random_seed, np.random.Generator):
        return random_seed
    if random_seed is None:
        return np.random.default_rng()
    if isinstance(random_seed, bool) or not isinstance(random_seed, int | np.integer) or random_seed < 0:
        raise ValueError(f"random_seed must be a non-negative integer, a numpy Generator or None, got {random_seed!r}")
    return np.random.default_rng([int(random_seed), zlib.crc32(key.encode())])


def emulated_study_runs(seed: int = 0, law: str = "atlas") -> Any:
    """The rows of :func:`bayes_atlas.simulate.atlas_study` that ``law`` describes.

    ``atlas``: monolingual, Unimax and bilingual designs (790 rows, 50 languages);
    ``curse``: the capacity sweeps (K = 1 comes from the ATLAS-law prior); ``finetune``: the
    finetuned runs and their from-scratch counterparts; ``chinchilla``: monolingual runs.
    """
    from bayes_atlas.simulate import atlas_study

    if law not in EMULATED_DESIGNS:
        raise FitInputError(f"law must be one of {tuple(EMULATED_DESIGNS)}, got {law!r}")
    runs, _ = atlas_study(seed=seed)
    return runs.subset(runs.frame["design"].isin(EMULATED_DESIGNS[law]).to_numpy())


def model_card(result: Fit, *, title: str, data_note: str, command: str | None = None) -> str:
    """Markdown model card of a law fit: data, priors, diagnostics, population summary, how to regenerate."""
    d = result.diagnostics
    summary = result.summary()
    population = summary.loc[summary.index.get_level_values("language") == "all"]
    per_language = summary.drop("all", level="language", errors="ignore")["median"].unstack("parameter")
    lines = [
        f"# {title}",
        "",
        f"Created {result.meta.get('created', '?')}; law `{result.law}`; {len(result.languages)} languages, "
        f"{result.meta.get('n_rows')} rows; data hash `{result.meta.get('data_hash')}`.",
        "",
        data_note,
        "",
        "## Sampling and diagnostics",
        "",
        f"{d.sampler} NUTS, {d.chains} chains x {d.draws} draws after {result.meta.get('tune')} tuning steps, seed "
        f"{result.meta.get('random_seed')}; wall time {d.wall_time_s:.0f} s (compilation included).",
        "",
        f"- divergences: {d.divergences}",
        f"- max r_hat: {d.max_r_hat:.4f} ({d.worst_r_hat})",
        f"- min bulk ESS: {d.min_ess_bulk:.0f} ({d.worst_ess}); min tail ESS: {d.min_ess_tail:.0f}",
        f"- draws at the maximum tree depth: {d.tree_depth_hits}",
        f"- meets the project's bar (r_hat <= 1.01, no divergences, ESS >= 400): {'yes' if d.converged else 'NO'}",
        "",
        "## Shared parameters (median, sd, 90% interval)",
        "",
        "```",
        population.droplevel("language").round(4).to_string(),
        "```",
        "",
        "## Per-language posterior medians",
        "",
        "```",
        per_language.round(3).to_string(),
        "```",
        "",
        "## Regenerate",
        "",
        f"`{command or 'bayes-atlas fit --emulated --law atlas --out models/atlas-emulated.nc --card models/atlas-emulated.md'}`",
        "",
    ]
    return "\n".join(lines)
