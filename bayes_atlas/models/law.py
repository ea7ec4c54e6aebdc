"""PyMC builder for the hierarchical scaling law (DESIGN.md, model 2).

Per evaluation language ``l`` the law has five parameters
``theta_l = (log E_l, a_l, alpha_l, b_l, beta_l)`` in reference-scale form

    L = E + exp(a - alpha * log(N / N0)) + exp(b - beta * log(D / D0))

(N0 = 1e9, D0 = 1e10; see :mod:`bayes_atlas.laws`), drawn from a correlated population
``theta_l ~ MVN(mu, Sigma)`` (non-centred, LKJ prior on the correlation). ``D`` depends on
the law:

- ``chinchilla``: total training tokens of the run;
- ``atlas``: ATLAS effective data, ``S(D_t; U_t) + sum_k tau_{t,k} S(D_k; U_k) + tau_other
  S(D_other)`` with the repetition saturation ``S`` (rate ``lam``), ``K_t`` the three named
  sources with the most tokens in the run, and ``tau = BTS / (2 - BTS)`` per (target,
  source) pair: its BTS has a normal prior moment-matched to a transfer posterior when one
  is given, else a pooled normal prior shared by all pairs;
- ``dcsl`` (Muennighoff et al. 2023): ``D'`` = the target's own tokens saturated at the
  published ``R*_D = 15.39`` (``lam = 1/R*_D``, fixed) and ``N'`` the parameters beyond
  those compute-optimal for the unique data, decayed with ``R*_N = 5.31``;
- ``msl`` (He et al. 2024): Chinchilla on total tokens times ``p^-gamma_l``, ``p`` the share
  of the run's tokens in the target's language family, ``gamma_l`` partially pooled;
- ``curse`` (ATLAS Sec. 5): ``D = S(D_t; U_t)``, the target's own tokens, and the two terms
  are multiplied by ``K^phi_l`` and ``K^psi_l`` where ``K`` is the number of languages in the
  run's mixture; ``phi_l`` and ``psi_l`` are partially pooled (non-centred normals);
- ``finetune`` (ATLAS Sec. 6): rows with a ``checkpoint`` continue a multilingual
  checkpoint, ``L = E_l + delta_l + A_l/N^alpha_l + B_l/(S(D_t) + H(N))^beta_l`` with a floor
  penalty ``delta_l > 0`` (log-normal, pooled) and a head start worth
  ``H(N) = H_2B (N / 2e9)^gamma`` target tokens; rows without a checkpoint are from-scratch
  runs of the same language, ``D = S(D_t)``.

The likelihood is a Student-t on log loss (robust to the odd diverged run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas.laws import D_REF, N_REF, R_D_STAR, R_N_STAR

__all__ = ["HEAD_START_PARAMS", "LAWS", "LawConfig", "LawData", "build_law_model", "prepare_law_data", "saturate_tokens"]

LAWS = ("atlas", "chinchilla", "dcsl", "msl", "curse", "finetune")
#: Model size at which the finetuning head start ``H_2B`` is stated.
HEAD_START_PARAMS = 2e9
THETA = ("log_E", "a", "alpha", "b", "beta")
MAX_TRANSFER_SOURCES = 3


@dataclass(frozen=True)
class LawConfig:
    """Priors and structure of the hierarchical law.

    Parameters
    ----------
    law
        One of :data:`LAWS`: ``"atlas"``, ``"chinchilla"``, ``"curse"``, ``"finetune"``.
    theta_mean, theta_scale
        Normal prior means and scales of the population mean of
        ``(log E, a, alpha, b, beta)``.
    theta_sd
        Prior means (``population_sd_prior="gamma"``) or half-normal scales of the population
        standard deviations.
    population_sd_prior
        ``"gamma"`` (default): Gamma(2, 2 / theta_sd), zero density at zero spread, so the
        sampler never enters the funnel of a vanishing spread. Measured on the emulated
        study (790 rows, defaults): the population spread of ``b`` mixed slowly under a
        half-normal (r_hat 1.024, bulk ESS 230) because the floor ``E`` can absorb what
        ``b`` does, letting the spread slide toward 0; ``"halfnormal"`` for the earlier prior.
    lkj_eta
        LKJ shape of the population correlation.
    sigma_scale
        Half-normal prior scale of the noise on log loss.
    population_correlation
        Learn the correlation of the five population parameters (LKJ). ``False``: independent
        normals, for tables whose languages have too few runs to inform a 5 x 5 correlation.
    sigma_floor
        Lower bound added to that noise scale. Needed when languages have fewer runs than
        parameters (Goldfish: 1-3 runs for 5 parameters): every language can then be fitted
        exactly, and without a floor the posterior collapses toward sigma -> 0 with chains
        stuck at different depths of that funnel (measured: r_hat 2.1-2.3).
    student_nu
        Degrees of freedom of the Student-t likelihood; ``None`` learns them (prior Gamma(2,
        0.1), variable ``nu``), for run tables with outlying runs (Epoch: nu ~ 1.6).
    lam_median, lam_log_sd
        Log-normal prior of the repetition rate (median 1/15.4, Muennighoff et al. 2023).
    bts_pooled_mean, bts_pooled_sd
        Prior of the pooled BTS mean when no transfer posterior is given.
    tau_other_median, tau_other_log_sd
        Log-normal prior of the weight of "other" tokens (positive).
    gamma_scale, gamma_sd
        MSL: normal prior scale of the pooled mean of ``gamma`` (centred at 0) and half-normal
        scale of its spread over languages.
    phi_mean, phi_scale, phi_sd, psi_mean, psi_scale, psi_sd
        Curse law: normal priors of the pooled means of ``phi`` and ``psi`` and half-normal
        scales of their spread over languages (ATLAS prints 0.11 and -0.04 pooled; the
        default priors are wide around 0).
    delta_median, delta_log_sd, delta_spread
        Finetune law: log-normal prior of the median floor penalty, and half-normal scale of
        its log-spread over languages.
    head_start_median, head_start_log_sd, head_exponent_mean, head_exponent_sd
        Finetune law: log-normal prior of the head start ``H_2B`` (target tokens a 2B
        checkpoint is worth) and normal prior of its exponent ``gamma`` in N.
    pooling
        ``"partial"`` (default): languages share a learnt population. ``"none"``: every
        language is fitted alone, its parameters getting the population prior with its
        prior spread folded in (the comparison that shows what pooling buys).
    parameterization
        Of the per-language parameters. ``"noncentered"`` (default) measured better on the
        emulated study at every size tried: 7 x 20 monolingual runs (0 vs 17 divergences) and
        the 790-row study (0 divergences, r_hat 1.008 vs 12 divergences with the 7 data-rich
        languages centred). ``"centered"`` is there for tables with many runs per language.
        ``"auto"`` centres the languages with at least ``centered_min_rows`` rows. A table
        with a single language has no population: its five parameters get the prior directly.
    centered_min_rows
        Threshold of ``parameterization="auto"``.
    """

    law: str = "atlas"
    theta_mean: tuple[float, ...] = (np.log(0.8), -1.5, 0.4, -1.0, 0.3)
    theta_scale: tuple[float, ...] = (0.5, 1.0, 0.2, 1.0, 0.2)
    theta_sd: tuple[float, ...] = (0.3, 0.5, 0.1, 0.5, 0.1)
    population_sd_prior: str = "gamma"
    lkj_eta: float = 4.0
    sigma_scale: float = 0.05
    sigma_floor: float = 0.0
    population_correlation: bool = True
    student_nu: float | None = 5.0
    lam_median: float = 1 / 15.4
    lam_log_sd: float = 0.5
    bts_pooled_mean: float = -0.3
    bts_pooled_sd: float = 0.3
    tau_other_median: float = 0.05
    tau_other_log_sd: float = 1.0
    gamma_scale: float = 0.5
    gamma_sd: float = 0.2
    phi_mean: float = 0.0
    phi_scale: float = 0.2
    phi_sd: float = 0.05
    psi_mean: float = 0.0
    psi_scale: float = 0.2
    psi_sd: float = 0.05
    delta_median: float = 0.01
    delta_log_sd: float = 1.5
    delta_spread: float = 0.5
    head_start_median: float = 1e10
    head_start_log_sd: float = 1.5
    head_exponent_mean: float = 0.5
    head_exponent_sd: float = 0.5
    parameterization: str = "noncentered"
    centered_min_rows: int = 40
    pooling: str = "partial"

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise ValueError(f"law must be one of {LAWS}, got {self.law!r}")
        if self.population_sd_prior not in ("gamma", "halfnormal"):
            raise ValueError(f"population_sd_prior must be 'gamma' or 'halfnormal', got {self.population_sd_prior!r}")
        if self.pooling not in ("partial", "none"):
            raise ValueError(f"pooling must be 'partial' or 'none', got {self.pooling!r}")
        if self.parameterization not in ("centered", "noncentered", "auto"):
            raise ValueError(
                f"parameterization must be 'centered', 'noncentered' or 'auto', got {self.parameterization!r}"
            )
        for name in ("theta_mean", "theta_scale", "theta_sd"):
            if len(getattr(self, name)) != len(THETA):
                raise ValueError(f"LawConfig.{name} needs {len(THETA)} values {THETA}")
        positive = [*self.theta_scale, *self.theta_sd, self.lkj_eta, self.sigma_scale, self.student_nu or 1.0, self.lam_median]
        if not all(np.isfinite(v) and v > 0 for v in positive):
            raise ValueError("LawConfig scales, lkj_eta, student_nu and lam_median must be positive")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("theta_mean", "theta_scale", "theta_sd"):
            out[name] = [float(v) for v in out[name]]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LawConfig:
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown LawConfig fields {sorted(unknown)}")
        values = dict(values)
        for name in ("theta_mean", "theta_scale", "theta_sd"):
            if name in values:
                values[name] = tuple(float(v) for v in values[name])
        return cls(**values)


@dataclass(frozen=True)
class LawData:
    """Arrays of a run table, ready for the law model (one entry per row)."""

    languages: tuple[str, ...]
    language_index: np.ndarray
    log_params: np.ndarray
    total_tokens: np.ndarray
    target_tokens: np.ndarray
    target_unique: np.ndarray
    transfer_tokens: np.ndarray  # (rows, MAX_TRANSFER_SOURCES), 0 where unused
    transfer_unique: np.ndarray
    transfer_pair: np.ndarray  # (rows, MAX_TRANSFER_SOURCES) index into pairs, 0 where unused
    other_tokens: np.ndarray
    pairs: tuple[tuple[str, str], ...]  # (target, source)
    log_loss: np.ndarray
    run_ids: np.ndarray
    mixture_size: np.ndarray  # K: named languages with tokens in the run (>= 1)
    family_share: np.ndarray | None  # MSL's p per row (None unless asked for)
    finetuned: np.ndarray  # bool: the run continued a checkpoint

    @property
    def n_rows(self) -> int:
        return int(self.log_params.size)


def prepare_law_data(runs: Any, *, with_family_share: bool = False) -> LawData:
    """Turn a :class:`bayes_atlas.runs.RunTable` (per-token losses) into model arrays.

    ``K_t`` for each row: the (up to) three named sources other than the target with the most
    tokens, ties broken by language code; every other token counts as ``other``. The
    mixture size ``K`` (curse law) counts the named languages with tokens, at least 1; a row
    is ``finetuned`` when its ``checkpoint`` column is set.
    """
    frame = runs.frame
    tokens = runs.tokens
    unique = runs.unique_tokens
    languages = tuple(runs.languages)
    position = {code: i for i, code in enumerate(languages)}
    named = [s for s in tokens.columns if s != "other"]
    n = len(frame)
    target_tokens = np.zeros(n)
    target_unique = np.full(n, np.inf)
    transfer_tokens = np.zeros((n, MAX_TRANSFER_SOURCES))
    transfer_unique = np.full((n, MAX_TRANSFER_SOURCES), np.inf)
    transfer_pair = np.zeros((n, MAX_TRANSFER_SOURCES), dtype=np.int64)
    other_tokens = np.zeros(n)
    pair_index: dict[tuple[str, str], int] = {}
    token_values = tokens.to_numpy(dtype=float)
    unique_values = unique.reindex(columns=tokens.columns).to_numpy(dtype=float)
    column = {s: j for j, s in enumerate(tokens.columns)}
    for i, target in enumerate(frame["language"].to_numpy()):
        row = token_values[i]
        if target in column:
            target_tokens[i] = row[column[target]]
            if np.isfinite(unique_values[i, column[target]]):
                target_unique[i] = unique_values[i, column[target]]
        candidates = [s for s in named if s != target and row[column[s]] > 0]
        candidates.sort(key=lambda s: (-row[column[s]], s))
        chosen = candidates[:MAX_TRANSFER_SOURCES]
        for k, source in enumerate(chosen):
            transfer_tokens[i, k] = row[column[source]]
            if np.isfinite(unique_values[i, column[source]]):
                transfer_unique[i, k] = unique_values[i, column[source]]
            transfer_pair[i, k] = pair_index.setdefault((target, source), len(pair_index))
        used = {target, *chosen}
        other_tokens[i] = sum(row[column[s]] for s in tokens.columns if s not in used)
    return LawData(
        languages=languages,
        language_index=frame["language"].map(position).to_numpy(dtype=np.int64),
        log_params=np.log(frame["params"].to_numpy(dtype=float)),
        total_tokens=token_values.sum(axis=1),
        target_tokens=target_tokens,
        target_unique=target_unique,
        transfer_tokens=transfer_tokens,
        transfer_unique=transfer_unique,
        transfer_pair=transfer_pair,
        other_tokens=other_tokens,
        pairs=tuple(pair_index),
        log_loss=np.log(frame["loss"].to_numpy(dtype=float)),
        run_ids=frame["run_id"].astype(str).to_numpy(),
        mixture_size=np.maximum((token_values[:, [column[s] for s in named]] > 0).sum(axis=1), 1).astype(float)
        if named
        else np.ones(n),
        finetuned=frame["checkpoint"].notna().to_numpy() if "checkpoint" in frame.columns else np.zeros(n, dtype=bool),
        family_share=family_share(runs) if with_family_share else None,
    )


def family_share(runs: Any) -> np.ndarray:
    """Share of each row's tokens in languages of the evaluated language's family (MSL's p)."""
    from bayes_atlas.languages import language_info

    tokens = runs.tokens
    family = {}
    for code in [*tokens.columns, *runs.languages]:
        if code not in family:
            try:
                family[code] = language_info(code)["family"] if code != "other" else None
            except ValueError:
                family[code] = None
    total = tokens.sum(axis=1).to_numpy()
    share = np.empty(len(runs))
    for i, target in enumerate(runs.frame["language"].to_numpy()):
        same = [c for c in tokens.columns if c == target or (family[c] is not None and family[c] == family[target])]
        share[i] = tokens.iloc[i][same].sum() / total[i]
    return np.clip(share, 1e-6, 1.0)


def saturate_tokens(tokens, unique, lam, xp=np):  # noqa: ANN001, ANN201
    """S(D; U) for array backends (pytensor.tensor or numpy); U = inf means no repetition."""
    finite_unique = np.where(np.isfinite(unique), unique, 1.0)
    excess = np.maximum(tokens / finite_unique - 1.0, 0.0)
    repeated = finite_unique * (1.0 - xp.expm1(-lam * excess) / lam)
    no_repeat = (tokens <= unique) | ~np.isfinite(unique)
    return xp.where(no_repeat, tokens, repeated)


def effective_data(data: LawData, lam, tau_pairs, tau_other, xp=np):  # noqa: ANN001, ANN201
    """Log of the ATLAS effective data per row; works on numpy draws and pytensor tensors alike.

    For numpy, ``lam`` / ``tau_other`` may be ``(draws,)`` and ``tau_pairs`` ``(draws, pairs)``:
    the result is then ``(draws, rows)``.
    """
    lam_b = lam[..., None] if np.ndim(lam) else lam
    target = saturate_tokens(data.target_tokens, data.target_unique, lam_b, xp)
    transfer = 0.0
    for k in range(MAX_TRANSFER_SOURCES):
        used = data.transfer_tokens[:, k] > 0
        if not used.any():
            continue
        tau_k = tau_pairs[..., data.transfer_pair[:, k]]
        transfer = transfer + used * tau_k * saturate_tokens(data.transfer_tokens[:, k], data.transfer_unique[:, k], lam_b, xp)
    tau_other_b = tau_other[..., None] if np.ndim(tau_other) else tau_other
    raw = target + transfer + tau_other_b * data.other_tokens
    # Negative transfer can outweigh scarce target data; keep D_eff positive with a smooth
    # floor at a small share of the target's own effective data.
    # floor + softplus(raw - floor) at the floor's scale: equal to raw once raw > 2 floor or so.
    floor = 0.02 * target + 1e-4 * data.total_tokens
    excess = (raw - floor) / floor
    return xp.log(floor * (1.0 + xp.maximum(excess, 0.0) + xp.log1p(xp.exp(-xp.abs(excess)))))


def _pooled_effect(name: str, mean: float, scale: float, spread: float, n_languages: int):  # noqa: ANN202
    """A per-language effect ``name`` (dims ``language``): pooled mean + spread, non-centred.

    With one language there is no spread to learn: the effect gets the pooled prior widened
    by the prior spread scale.
    """
    import pymc as pm

    if n_languages == 1:
        value = pm.Normal(f"{name}_single", mean, float(np.hypot(scale, spread)))
        return pm.Deterministic(name, value[None], dims="language")
    centre = pm.Normal(f"{name}_mu", mean, scale)
    sd = pm.HalfNormal(f"{name}_sd", spread)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims="language")
    return pm.Deterministic(name, centre + sd * z, dims="language")


def _population_sd_dist(config: LawConfig, name: str | None = None):  # noqa: ANN202
    """Prior of the five population spreads: an unregistered ``.dist`` (``name=None``) or a variable with dim ``parameter``."""
    import pymc as pm

    scale = np.asarray(config.theta_sd)
    if config.population_sd_prior == "gamma":
        # Gamma(2) with mean theta_sd: zero density at zero spread. With a half-normal the
        # spread of b slid toward 0 (E absorbs what b would) and the chains met a funnel
        # there (measured on the emulated study: theta_sd[b] r_hat 1.02-1.035, bulk ESS 105-230).
        family, params = pm.Gamma, {"alpha": 2.0, "beta": 2.0 / scale}
    else:
        family, params = pm.HalfNormal, {"sigma": scale}
    if name is None:
        return family.dist(**params, shape=len(THETA))
    return family(name, **params, dims="parameter")


def dcsl_log_params(log_params, target_tokens, target_unique, theta_rows, xp=np):  # noqa: ANN001, ANN201
    """log N' of the data-constrained law per row (``theta_rows``: (..., rows, 5) or (rows, 5)).

    ``U_N`` = the compute-optimal parameter count for the unique target tokens under the
    row's own law, capped at N; parameters beyond it count like repeated tokens (R*_N = 5.31).
    Only rows whose target data actually repeat (D_t > U_t) are affected; the others keep N.
    Used by the Bayesian builder (pytensor), :class:`bayes_atlas.scaling.Fit` and the point
    fits (numpy).
    """
    finite = np.isfinite(target_unique) & (target_tokens > target_unique)
    if not finite.any():
        return log_params
    alpha, beta = xp.maximum(theta_rows[..., 2], 1e-3), xp.maximum(theta_rows[..., 4], 1e-3)
    log_A = theta_rows[..., 1] + alpha * np.log(N_REF)
    log_B = theta_rows[..., 3] + beta * np.log(D_REF)
    log_U = np.log(np.where(finite, target_unique, 1.0))
    log_G = (xp.log(alpha) + log_A - xp.log(beta) - log_B) / (alpha + beta)
    # Clipped below (at N / e^20) so exp() cannot overflow and poison the gradients.
    log_U_N = xp.clip(log_G + beta / alpha * (log_U + log_G), log_params - 20.0, log_params)
    excess = xp.maximum(xp.exp(log_params - log_U_N) - 1.0, 0.0)
    log_N_eff = log_U_N + xp.log1p(R_N_STAR * -xp.expm1(-excess / R_N_STAR))
    return xp.where(finite, log_N_eff, log_params)


def build_law_model(
    data: LawData,
    config: LawConfig,
    bts_prior: pd.DataFrame | None = None,
    theta_prior: tuple[np.ndarray, np.ndarray] | None = None,
):
    """The PyMC model of the hierarchical law.

    Parameters
    ----------
    data
        From :func:`prepare_law_data`.
    config
        :class:`LawConfig`.
    bts_prior
        For the ATLAS law: index ``(target, source)`` covering ``data.pairs`` with columns
        ``mean`` and ``sd`` of BTS (from a transfer posterior). ``None``: pooled prior.
    theta_prior
        ``(mean, chol)`` of shapes ``(languages, 5)`` and ``(languages, 5, 5)``: a
        multivariate normal prior of every language's ``theta`` (moment-matched to an
        earlier law posterior, correlations included) instead of the learnt population. ``theta_mu`` / ``theta_sd`` are then the mean and spread of the
        fitted languages per draw.

    Returns
    -------
    pymc.Model
        Dims ``language``, ``theta``, ``pair``, ``run`` (rows).
    """
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"language": list(data.languages), "parameter": list(THETA), "run": np.arange(data.n_rows)}
    if config.law == "atlas" and data.pairs:
        coords["pair"] = [f"{s}->{t}" for t, s in data.pairs]
    with pm.Model(coords=coords) as model:
        n_languages = len(data.languages)
        if theta_prior is not None:
            prior_mean, prior_chol = (np.asarray(v, dtype=float) for v in theta_prior)
            z = pm.Normal("theta_z", 0.0, 1.0, dims=("language", "parameter"))
            theta = pm.Deterministic(
                "theta", prior_mean + (prior_chol * z[:, None, :]).sum(axis=-1), dims=("language", "parameter")
            )
            if n_languages > 1:
                pm.Deterministic("theta_mu", theta.mean(axis=0), dims="parameter")
                pm.Deterministic("theta_sd", theta.std(axis=0), dims="parameter")
        elif n_languages == 1 or config.pooling == "none":
            # No population to learn from (one language, or pooling switched off): the prior
            # of each language's parameters is the population prior with the population
            # spread folded in.
            scale = np.sqrt(np.asarray(config.theta_scale) ** 2 + np.asarray(config.theta_sd) ** 2)
            if n_languages == 1:
                theta_row = pm.Normal("theta_single", np.asarray(config.theta_mean), scale, dims="parameter")
                theta = pm.Deterministic("theta", theta_row[None, :], dims=("language", "parameter"))
            else:
                z = pm.Normal("theta_z", 0.0, 1.0, dims=("language", "parameter"))
                theta = pm.Deterministic("theta", np.asarray(config.theta_mean) + scale * z, dims=("language", "parameter"))
        else:
            mu = pm.Normal("theta_mu", np.asarray(config.theta_mean), np.asarray(config.theta_scale), dims="parameter")
            if config.population_correlation:
                chol, _, _ = pm.LKJCholeskyCov(
                    "theta_cov",
                    n=len(THETA),
                    eta=config.lkj_eta,
                    sd_dist=_population_sd_dist(config),
                    compute_corr=True,
                    store_in_trace=False,
                )
                pm.Deterministic("theta_sd", pt.sqrt(pt.diag(chol @ chol.T)), dims="parameter")
            else:
                spread = _population_sd_dist(config, "theta_sd")
                chol = pt.diag(spread)
            if config.parameterization == "auto":
                rows_per_language = np.bincount(data.language_index, minlength=n_languages)
                centered_mask = rows_per_language >= config.centered_min_rows
            else:
                centered_mask = np.full(n_languages, config.parameterization == "centered")
            theta = pt.zeros((n_languages, len(THETA)))
            centered_idx = np.flatnonzero(centered_mask)
            noncentered_idx = np.flatnonzero(~centered_mask)
            if centered_idx.size:
                model.add_coord("language_centered", [data.languages[i] for i in centered_idx])
                theta_c = pm.MvNormal("theta_centered", mu=mu, chol=chol, dims=("language_centered", "parameter"))
                theta = pt.set_subtensor(theta[centered_idx], theta_c)
            if noncentered_idx.size:
                model.add_coord("language_noncentered", [data.languages[i] for i in noncentered_idx])
                z = pm.Normal("theta_z", 0.0, 1.0, dims=("language_noncentered", "parameter"))
                theta = pt.set_subtensor(theta[noncentered_idx], mu + z @ chol.T)
            theta = pm.Deterministic("theta", theta, dims=("language", "parameter"))
        E = pm.Deterministic("E", pt.exp(theta[:, 0]), dims="language")
        pm.Deterministic("a", theta[:, 1], dims="language")
        pm.Deterministic("alpha", theta[:, 2], dims="language")
        pm.Deterministic("b", theta[:, 3], dims="language")
        pm.Deterministic("beta", theta[:, 4], dims="language")

        if config.law not in ("chinchilla", "dcsl", "msl"):
            lam = pm.LogNormal("lam", np.log(config.lam_median), config.lam_log_sd)
        if config.law == "atlas":
            if data.pairs:
                if bts_prior is not None:
                    prior = bts_prior.loc[list(data.pairs)]
                    bts = pm.Normal("bts", prior["mean"].to_numpy(), prior["sd"].to_numpy(), dims="pair")
                else:
                    bts_mu = pm.Normal("bts_mu", config.bts_pooled_mean, config.bts_pooled_sd)
                    bts_sd = pm.HalfNormal("bts_sd", 0.3)
                    bts_z = pm.Normal("bts_z", 0.0, 1.0, dims="pair")
                    bts = pm.Deterministic("bts", bts_mu + bts_sd * bts_z, dims="pair")
                tau = pm.Deterministic("tau", bts / (2.0 - bts), dims="pair")
            else:
                tau = pt.zeros(1)
            # Log scale: in mixtures where "other" tokens outnumber the target's 50:1 (Unimax),
            # log D_eff ~ log(1 + 50 tau_other), nearly linear in log tau_other; a normal
            # prior on tau_other itself leaves a curved ridge with every language's b
            # (measured: 1000-2700 divergences on the emulated mono + Unimax runs). Positive,
            # as ATLAS Table 1 implies (adding D_other lifts R^2 from 0.70 to 0.98).
            log_tau_other = pm.Normal("log_tau_other", np.log(config.tau_other_median), config.tau_other_log_sd)
            tau_other = pm.Deterministic("tau_other", pt.exp(log_tau_other))
            log_data = effective_data(data, lam, tau, tau_other, xp=pt)
        elif config.law in ("chinchilla", "msl"):
            log_data = np.log(data.total_tokens)
        elif config.law == "dcsl":
            log_data = np.log(saturate_tokens(np.maximum(data.target_tokens, 1.0), data.target_unique, 1.0 / R_D_STAR))
        else:
            own_data = saturate_tokens(data.target_tokens, data.target_unique, lam, pt)
            log_data = pt.log(own_data)

        l = data.language_index
        log_param_term = theta[l, 1] - theta[l, 2] * (data.log_params - np.log(N_REF))
        if config.law == "dcsl":
            log_param_term = theta[l, 1] - theta[l, 2] * (dcsl_log_params(data.log_params, data.target_tokens, data.target_unique, theta[l], pt) - np.log(N_REF))
        floor = E[l]
        if config.law == "curse":
            phi = _pooled_effect("phi", config.phi_mean, config.phi_scale, config.phi_sd, n_languages)
            psi = _pooled_effect("psi", config.psi_mean, config.psi_scale, config.psi_sd, n_languages)
            log_K = np.log(data.mixture_size)
            log_param_term = log_param_term + phi[l] * log_K
            log_data_term = theta[l, 3] - theta[l, 4] * (log_data - np.log(D_REF)) + psi[l] * log_K
        elif config.law == "finetune":
            log_delta = _pooled_effect(
                "log_delta", np.log(config.delta_median), config.delta_log_sd, config.delta_spread, n_languages
            )
            delta = pm.Deterministic("delta", pt.exp(log_delta), dims="language")
            log_head = pm.Normal("log_head_start", np.log(config.head_start_median), config.head_start_log_sd)
            head_exponent = pm.Normal("head_exponent", config.head_exponent_mean, config.head_exponent_sd)
            pm.Deterministic("head_start", pt.exp(log_head))
            head = pt.exp(log_head + head_exponent * (data.log_params - np.log(HEAD_START_PARAMS)))
            finetuned = data.finetuned.astype(float)
            log_data = pt.log(own_data + finetuned * head)
            floor = floor + finetuned * delta[l]
            log_data_term = theta[l, 3] - theta[l, 4] * (log_data - np.log(D_REF))
        else:
            log_data_term = theta[l, 3] - theta[l, 4] * (log_data - np.log(D_REF))
        mean_log_loss = pt.log(floor + pt.exp(log_param_term) + pt.exp(log_data_term))
        if config.law == "msl":
            gamma = _pooled_effect("gamma", 0.0, config.gamma_scale, config.gamma_sd, n_languages)
            mean_log_loss = mean_log_loss - gamma[l] * np.log(data.family_share)
        if config.sigma_floor > 0:
            sigma = pm.Deterministic("sigma", config.sigma_floor + pm.HalfNormal("sigma_excess", config.sigma_scale))
        else:
            sigma = pm.HalfNormal("sigma", config.sigma_scale)
        if config.student_nu is None:
            # Learnt tails, Gamma(2, 0.1) (Juarez & Steel 2010): mean 20, mass down to ~1.
            nu = pm.Gamma("nu", alpha=2.0, beta=0.1)
        else:
            nu = config.student_nu
        pm.StudentT("log_loss", nu=nu, mu=mean_log_loss, sigma=sigma, observed=data.log_loss, dims="run")
    return model
