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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_atlas.inference import (
    Diagnostics,
    PosteriorFileError,
    as_float64,
    compact_posterior,
    json_attr,
    read_posterior,
    write_posterior,
)
from bayes_atlas.laws import D_REF, N_REF, R_D_STAR
from bayes_atlas.models.law import (
    HEAD_START_PARAMS,
    LAWS,
    dcsl_log_params,
    THETA,
    LawConfig,
    LawData,
    effective_data,
    prepare_law_data,
    saturate_tokens,
)

__all__ = ["EMULATED_DESIGNS", "Fit", "FitInputError", "emulated_study_runs", "fit", "model_card"]

MODEL_NAME = "law"
#: Default NUTS draws and tuning steps per chain. Same cost as 1000 + 1000, more kept draws:
#: on the emulated study (790 rows, 4 chains, 2 cores) 700 + 1300 gave r_hat 1.006, bulk
#: ESS 516 in 176 s; 1000 + 1000 gave r_hat 1.013, ESS 373 in 173 s.
DEFAULT_DRAWS = 1300
DEFAULT_TUNE = 700
SAMPLE_DIMS = ("chain", "draw")


class FitInputError(ValueError):
    """A run table or argument the law fit cannot use; the message says what to change."""


def _bts_prior(pairs: tuple[tuple[str, str], ...], transfer: Any) -> pd.DataFrame | None:
    if transfer is None or not pairs:
        return None
    rows = []
    for target, source in pairs:
        draws = transfer.predict_pair(source, target).values.ravel()
        rows.append({"target": target, "source": source, "mean": float(draws.mean()), "sd": float(max(draws.std(), 0.02))})
    return pd.DataFrame(rows).set_index(["target", "source"])


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
    theta = prior._flat("theta")
    position = {code: i for i, code in enumerate(prior.languages)}
    mean = np.empty((len(codes), len(THETA)))
    chol = np.empty((len(codes), len(THETA), len(THETA)))
    for j, code in enumerate(codes):
        if code in position:
            draws = theta[:, position[code]]
            mean[j], cov = draws.mean(axis=0), np.cov(draws, rowvar=False)
        elif "theta_mu" in prior.posterior:
            mu, spread = prior._flat("theta_mu"), prior._flat("theta_sd")
            mean[j] = mu.mean(axis=0)
            cov = np.diag((spread**2).mean(axis=0) + mu.var(axis=0))
        else:
            raise FitInputError(f"theta_prior has no parameters for {code!r} and no population to draw them from")
        chol[j] = np.linalg.cholesky(cov + 1e-8 * np.eye(len(THETA)))
    return mean, chol


def fit(
    runs: Any,
    law: str = "atlas",
    *,
    transfer: Any = "default",
    theta_prior: Any = None,
    config: LawConfig | None = None,
    draws: int = DEFAULT_DRAWS,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    random_seed: int | None = None,
    nuts_sampler: str = "numpyro",
    target_accept: float = 0.95,
    dense_mass: bool | None = None,
    progressbar: bool = True,
    warn: bool = True,
    init: str = "jitter",
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
        NUTS settings (:func:`bayes_atlas.inference.sample_nuts`). The defaults (4 chains x
        (700 tuning + 1300 kept draws), target_accept 0.95) converge on the emulated study:
        0 divergences, r_hat 1.006, bulk ESS 516 in 175 s on 2 cores. ``dense_mass=None`` picks a
        dense mass matrix for tables of up to 3 languages (few, strongly correlated
        parameters: Epoch's single-language runs reach ESS 2000 in 7 s) and a diagonal one
        above (790-row emulated study: diagonal 191 s and 0 divergences at target_accept
        0.95; dense 750 s with every draw at the maximum tree depth).
    warn
        Emit :class:`bayes_atlas.inference.ConvergenceWarning` for failed diagnostics.
    init
        Chain initialisation (:func:`bayes_atlas.inference.sample_nuts`): ``"jitter"``, or
        ``"z"`` for many languages with few runs each (Goldfish).

    Returns
    -------
    Fit

    Raises
    ------
    FitInputError
        For a run table the law cannot use (fewer than 3 rows; per-sequence losses for the
        curse or finetune law). Per-sequence losses (``bits/sequence``) are accepted for the
        ATLAS and Chinchilla laws: each language's losses are divided by its loss at its
        smallest-compute run (``meta["loss_scale"]``), predictions are scaled back, and only fitted languages
        can be predicted.
    """
    from bayes_atlas.inference import diagnose, sample_nuts, warn_on_diagnostics
    from bayes_atlas.models.law import build_law_model
    from bayes_atlas.runs import RunTable

    if law not in LAWS:
        raise FitInputError(f"law must be one of {LAWS}, got {law!r}")
    if not isinstance(runs, RunTable):
        raise FitInputError(f"runs must be a RunTable (RunTable.from_frame / from_csv), got {type(runs).__name__}")
    if len(runs) < 3:
        raise FitInputError(f"need at least 3 rows, got {len(runs)}")
    loss_scale: dict[str, float] = {}
    fitted_runs = runs
    if not runs.per_token:
        if law not in ("atlas", "chinchilla", "dcsl", "msl"):
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
    data = prepare_law_data(fitted_runs, with_family_share=law == "msl")
    if law in ("curse", "finetune"):
        missing = np.flatnonzero(data.target_tokens <= 0)
        if missing.size:
            rows = ", ".join(f"{data.run_ids[i]} ({data.languages[data.language_index[i]]})" for i in missing[:5])
            raise FitInputError(
                f"the {law} law needs tokens of the evaluated language in every row; {missing.size} row(s) have none, "
                f"e.g. {rows}: drop them (runs.subset(...))"
            )
    if law == "finetune" and not (data.finetuned.any() and (~data.finetuned).any()):
        raise FitInputError(
            "the finetune law needs both finetuned rows (checkpoint column set) and from-scratch rows; "
            f"this table has {int(data.finetuned.sum())} finetuned of {data.n_rows}"
        )
    if transfer == "default":
        from bayes_atlas.transfer import load_default

        transfer = load_default() if law == "atlas" and data.pairs else None
    bts_prior = _bts_prior(data.pairs, transfer) if law == "atlas" else None
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
        progressbar=progressbar,
        init=init,
    )
    diagnostics = diagnose(idata, wall_time_s=wall, sampler=nuts_sampler)
    if warn:
        warn_on_diagnostics(diagnostics, what=f"{law} law fit")
    posterior = idata["posterior"].to_dataset()
    posterior = posterior.drop_vars([v for v in posterior.data_vars if v.endswith("_z")])
    meta = {
        "created": _dt.date.today().isoformat(),
        "tune": int(tune),
        "random_seed": random_seed,
        "data_hash": runs.data_hash(),
        "n_rows": len(runs),
        "loss_unit": runs.loss_unit,
        "log_params_range": [float(data.log_params.min()), float(data.log_params.max())],
        "log_tokens_range": [float(np.log(data.total_tokens).min()), float(np.log(data.total_tokens).max())],
        "pairs": [list(p) for p in data.pairs],
        "transfer_prior": "shipped transfer posterior" if transfer is not None and bts_prior is not None else "pooled",
        "dataset": str(runs.meta.get("dataset", "")),
        "theta_prior": None if prior_fit is None else f"{prior_fit.law} law fit of {prior_fit.meta.get('n_rows')} rows",
        # Simulated tables (bayes_atlas.simulate) say so; decisions from them carry warning BA202.
        "emulated": bool(runs.meta.get("emulated", False)),
        "loss_scale": loss_scale,
    }
    return Fit(posterior, config, diagnostics, meta)


class Fit:
    """A fitted scaling law: posterior draws, diagnostics and predictions.

    Attributes
    ----------
    posterior
        xarray Dataset with dims ``chain``, ``draw``, ``language`` (``E``, ``a``, ``alpha``,
        ``b``, ``beta``), ``parameter`` (population ``theta_mu``, ``theta_sd`` of ``theta`` = (log E, a, alpha, b, beta)), ``pair`` (``bts``,
        ``tau`` of the ATLAS law) and scalars ``lam``, ``tau_other``, ``sigma``.
    config
        :class:`bayes_atlas.models.law.LawConfig` (``config.law`` names the law).
    diagnostics
        :class:`bayes_atlas.inference.Diagnostics`.
    meta
        Data hash, fitted ranges of log N and log D, the transfer pairs, creation date.
    """

    def __init__(self, posterior: xr.Dataset, config: LawConfig, diagnostics: Diagnostics, meta: dict[str, Any]) -> None:
        self.posterior = posterior
        self.config = config
        self.diagnostics = diagnostics
        self.meta = dict(meta)
        self.languages = tuple(str(c) for c in posterior.language.values)

    @property
    def law(self) -> str:
        return self.config.law

    @property
    def n_draws(self) -> int:
        return int(self.posterior.sizes["chain"] * self.posterior.sizes["draw"])

    def _flat(self, name: str) -> np.ndarray:
        values = self.posterior[name].values
        return values.reshape(self.n_draws, *values.shape[2:])

    def _theta_for(self, codes: list[str], rng: np.random.Generator) -> np.ndarray:
        """(draws, len(codes), 5): fitted languages from the posterior, others from the population."""
        theta = self._flat("theta")
        out = np.empty((self.n_draws, len(codes), len(THETA)))
        position = {code: i for i, code in enumerate(self.languages)}
        population = None
        for j, code in enumerate(codes):
            if code in position:
                out[:, j] = theta[:, position[code]]
                continue
            if "theta_mu" not in self.posterior:
                raise ValueError(
                    f"language {code!r} was not fitted and a single-language fit has no population to draw it from"
                )
            if population is None:
                # Population draw: the fitted mean plus a deviation with the fitted spread
                # and the empirical correlation of the fitted languages' parameters.
                mu = self._flat("theta_mu")
                sd = self._flat("theta_sd")
                corr = np.corrcoef(theta.mean(axis=0).T) if len(self.languages) > 2 else np.eye(len(THETA))
                chol = np.linalg.cholesky(corr + 1e-9 * np.eye(len(THETA)))
                population = (mu, sd, chol)
            mu, sd, chol = population
            out[:, j] = mu + sd * (rng.standard_normal((self.n_draws, len(THETA))) @ chol.T)
        return out

    def predict(self, runs: Any, *, noise: bool = True, random_seed: int | None = 0) -> xr.DataArray:
        """Posterior predictive loss draws for the rows of ``runs``.

        Languages the fit never saw get parameters drawn from the population; transfer
        pairs it never saw get BTS from the fitted pairs' spread around their mean.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, run)``; the ``run`` coordinate holds the run ids.
        """
        rng = np.random.default_rng(random_seed)
        data = prepare_law_data(runs, with_family_share=self.law == "msl")
        mean_log = self._mean_log_loss(data, rng)
        scale = self.meta.get("loss_scale") or {}
        if scale:
            unknown = sorted(set(data.languages) - set(scale))
            if unknown:
                raise ValueError(
                    f"this fit is on per-sequence losses, whose scale is per language; it cannot predict {unknown} "
                    "(no rows of theirs were fitted)"
                )
            mean_log = mean_log + np.log([scale[code] for code in data.languages])[data.language_index]
        if noise:
            sigma = self._flat("sigma")[:, None]
            nu = self._flat("nu")[:, None] if "nu" in self.posterior else self.config.student_nu
            mean_log = mean_log + sigma * rng.standard_t(nu, size=mean_log.shape)
        return xr.DataArray(
            np.exp(mean_log).reshape(self.posterior.sizes["chain"], self.posterior.sizes["draw"], -1),
            dims=(*SAMPLE_DIMS, "run"),
            coords={"run": data.run_ids},
            name="loss",
            attrs={"law": self.law, "noise": noise},
        )

    def effect_draws(self, name: str, codes: list[str], rng: np.random.Generator | None = None) -> np.ndarray:
        """(draws, len(codes)) of a pooled per-language effect (``phi``, ``psi``, ``log_delta``).

        Fitted languages take their posterior draws; others a draw from the pooled
        distribution (``<name>_mu + <name>_sd z``).
        """
        rng = np.random.default_rng(0) if rng is None else rng
        if name not in self.posterior:
            raise ValueError(f"this {self.law} fit has no {name!r}")
        fitted = self._flat(name)
        position = {code: i for i, code in enumerate(self.languages)}
        out = np.empty((self.n_draws, len(codes)))
        for j, code in enumerate(codes):
            if code in position:
                out[:, j] = fitted[:, position[code]]
            elif f"{name}_mu" in self.posterior:
                out[:, j] = self._flat(f"{name}_mu") + self._flat(f"{name}_sd") * rng.standard_normal(self.n_draws)
            else:
                raise ValueError(f"language {code!r} was not fitted and a single-language fit has no population for {name!r}")
        return out

    def _mean_log_loss(self, data: LawData, rng: np.random.Generator) -> np.ndarray:
        """(draws, rows) noise-free log loss of the law at the rows of ``data``."""
        codes = list(data.languages)
        theta = self._theta_for(codes, rng)[:, data.language_index]
        log_param_term = theta[..., 1] - theta[..., 2] * (data.log_params - np.log(N_REF))
        floor = np.exp(theta[..., 0])
        if self.law == "atlas":
            tau_pairs = self._tau_for(data, rng)
            log_data = effective_data(data, self._flat("lam"), tau_pairs, self._flat("tau_other"))
        elif self.law in ("chinchilla", "msl"):
            log_data = np.broadcast_to(np.log(data.total_tokens), (self.n_draws, data.n_rows))
        elif self.law == "dcsl":
            own = saturate_tokens(np.maximum(data.target_tokens, 1.0), data.target_unique, 1.0 / R_D_STAR)
            log_data = np.broadcast_to(np.log(own), (self.n_draws, data.n_rows))
            log_param_term = theta[..., 1] - theta[..., 2] * (dcsl_log_params(data.log_params, data.target_tokens, data.target_unique, theta) - np.log(N_REF))
        else:
            own = saturate_tokens(data.target_tokens, data.target_unique, self._flat("lam")[:, None], np)
            if self.law == "finetune":
                head = np.exp(
                    self._flat("log_head_start")[:, None]
                    + self._flat("head_exponent")[:, None] * (data.log_params - np.log(HEAD_START_PARAMS))
                )
                own = own + data.finetuned * head
                delta = np.exp(self.effect_draws("log_delta", codes, rng))[:, data.language_index]
                floor = floor + data.finetuned * delta
            log_data = np.log(own)
        log_data_term = theta[..., 3] - theta[..., 4] * (log_data - np.log(D_REF))
        if self.law == "curse":
            log_K = np.log(data.mixture_size)
            log_param_term = log_param_term + self.effect_draws("phi", codes, rng)[:, data.language_index] * log_K
            log_data_term = log_data_term + self.effect_draws("psi", codes, rng)[:, data.language_index] * log_K
        mean_log = np.log(floor + np.exp(log_param_term) + np.exp(log_data_term))
        if self.law == "msl":
            mean_log = mean_log - self.effect_draws("gamma", codes, rng)[:, data.language_index] * np.log(data.family_share)
        return mean_log

    def _tau_for(self, data: LawData, rng: np.random.Generator) -> np.ndarray:
        fitted = {tuple(p): i for i, p in enumerate(self.meta.get("pairs", []))}
        out = np.empty((self.n_draws, max(len(data.pairs), 1)))
        if "bts" in self.posterior:
            bts = self._flat("bts")
            centre, spread = bts.mean(), bts.mean(axis=0).std() if bts.shape[1] > 1 else 0.3
        else:
            bts, centre, spread = None, 0.0, 0.3
        for j, pair in enumerate(data.pairs):
            if bts is not None and pair in fitted:
                draw = bts[:, fitted[pair]]
            else:
                draw = centre + spread * rng.standard_normal(self.n_draws)
            out[:, j] = draw / (2.0 - draw)
        return out

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """Per-language law parameters: mean and equal-tailed ``ci`` interval.

        Returns
        -------
        pandas.DataFrame
            Index (``language``, ``parameter``); columns ``mean``, ``sd``, ``lower``, ``upper``.
        """
        if not 0 < ci < 1:
            raise ValueError(f"ci must be in (0, 1), got {ci!r}")
        rows = []
        for name in ("E", "a", "alpha", "b", "beta"):
            draws = self._flat(name)
            lower, upper = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
            for j, code in enumerate(self.languages):
                rows.append((code, name, draws[:, j].mean(), draws[:, j].std(ddof=1), lower[j], upper[j]))
        for name in ("phi", "psi", "delta", "gamma"):
            if name in self.posterior:
                draws = self._flat(name)
                lower, upper = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
                for j, code in enumerate(self.languages):
                    rows.append((code, name, draws[:, j].mean(), draws[:, j].std(ddof=1), lower[j], upper[j]))
        for name in ("lam", "tau_other", "phi_mu", "psi_mu", "head_start", "head_exponent", "sigma"):
            if name in self.posterior:
                draws = self._flat(name)
                lower, upper = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2])
                rows.append(("all", name, draws.mean(), draws.std(ddof=1), lower, upper))
        table = pd.DataFrame(rows, columns=["language", "parameter", "mean", "sd", "lower", "upper"])
        return table.set_index(["language", "parameter"])

    def save(self, path: str | Path, *, max_draws: int | None = None, float32: bool = False) -> Path:
        """Write the fit (netCDF, atomically) with its config, data hash and package version.

        ``theta`` and ``bts`` are not stored (they are ``log E, a, alpha, b, beta`` and
        ``2 tau / (1 + tau)``, rebuilt on load). ``max_draws`` thins evenly per chain;
        ``float32`` halves the file. The stored diagnostics are those of the full fit.
        """
        posterior = compact_posterior(self.posterior.drop_vars(["theta", "bts"], errors="ignore"), max_draws=max_draws, float32=float32)
        tree = xr.DataTree.from_dict({"posterior": posterior})
        attrs = {"config": self.config.to_dict(), "diagnostics": self.diagnostics.to_dict(), "meta": self.meta}
        return write_posterior(tree, path, model=MODEL_NAME, attrs=attrs)

    @classmethod
    def load(cls, path: str | Path) -> Fit:
        """Read a fit written by :meth:`save`; refuses files of another model or format."""
        tree = read_posterior(path, model=MODEL_NAME)
        try:
            stored = json_attr(tree, "config")
            # Files written before the spread prior was a setting were fitted with half-normals.
            stored.setdefault("population_sd_prior", "halfnormal")
            config = LawConfig.from_dict(stored)
        except (TypeError, ValueError) as error:
            raise PosteriorFileError(f"{path}: incompatible law config ({error}); refit and save again") from error
        posterior = tree["posterior"].to_dataset()
        posterior = as_float64(posterior)
        columns = [np.log(posterior["E"]), posterior["a"], posterior["alpha"], posterior["b"], posterior["beta"]]
        posterior["theta"] = xr.concat(columns, dim=xr.DataArray(list(THETA), dims="parameter", name="parameter")).transpose(
            "chain", "draw", "language", "parameter"
        )
        if "tau" in posterior:
            posterior["bts"] = 2.0 * posterior["tau"] / (1.0 + posterior["tau"])
        diagnostics = Diagnostics.from_dict(json_attr(tree, "diagnostics"))
        return cls(posterior, config, diagnostics, json_attr(tree, "meta"))

    def __repr__(self) -> str:
        d = self.diagnostics
        return (
            f"<Fit {self.law}: {len(self.languages)} languages, {self.meta.get('n_rows')} rows, {self.n_draws} draws; "
            f"divergences={d.divergences}, max r_hat={d.max_r_hat:.3f}, min ESS={d.min_ess_bulk:.0f}>"
        )


#: Designs of :func:`bayes_atlas.simulate.atlas_study` each law is fitted to.
EMULATED_DESIGNS = {
    "atlas": ("monolingual", "unimax", "monolingual_2b", "bilingual_2b", "bilingual"),
    "chinchilla": ("monolingual", "monolingual_2b"),
    "dcsl": ("monolingual", "monolingual_2b"),
    "msl": ("monolingual", "unimax", "monolingual_2b", "bilingual_2b", "bilingual"),
    "curse": ("capacity",),
    "finetune": ("finetune", "scratch_curve"),
}


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
    per_language = summary.drop("all", level="language", errors="ignore")["mean"].unstack("parameter")
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
        "## Shared parameters (mean, sd, 90% interval)",
        "",
        "```",
        population.droplevel("language").round(4).to_string(),
        "```",
        "",
        "## Per-language posterior means",
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

