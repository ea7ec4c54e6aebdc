"""PyMC builder for the hierarchical scaling laws (DESIGN.md, model 2).

Per evaluation language ``l`` every law has five parameters
``theta_l = (log E_l, a_l, alpha_l, b_l, beta_l)`` drawn from a correlated population
``theta_l ~ MVN(mu, Sigma)`` (non-centred, LKJ prior on the correlation), plus the law's own
per-language effects (pooled, non-centred) and shared parameters. What each law *is* -
its parameters, their default priors and its one mean - lives in the law registry
(:mod:`bayes_atlas.laws`); this module only turns a spec into PyMC variables and calls the
spec's ``mean_log_loss`` with ``pytensor.tensor``. For the ATLAS law each (target, source)
pair's BTS gets a normal prior moment-matched to a transfer posterior when one is given,
else a pooled normal prior shared by all pairs, and ``tau = BTS / (2 - BTS)``.

The likelihood is a Student-t on log loss (robust to the odd diverged run).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from bayes_atlas.laws.design import MAX_TRANSFER_SOURCES, LawData, family_share, prepare_law_data
from bayes_atlas.laws.finetune import HEAD_START_PARAMS
from bayes_atlas.laws.forms import D_REF, N_REF, tau_from_bts
from bayes_atlas.laws.registry import LAWS, get_law
from bayes_atlas.laws.spec import CORE

__all__ = [
    "HEAD_START_PARAMS",
    "LAWS",
    "MAX_TRANSFER_SOURCES",
    "LawConfig",
    "LawData",
    "build_law_model",
    "family_share",
    "prepare_law_data",
]

THETA = CORE
#: Population coordinates of ``LawConfig(population_space="shares")``: the law's log loss at the
#: table's reference design (N_r, D_r), the log ratios of the parameter and data terms there to
#: the floor, and the two exponents (:func:`theta_from_shares`).
SHARES = ("log_L_ref", "log_param_over_floor", "alpha", "log_data_over_floor", "beta")
#: Default prior centres relative to the table's median loss (LawConfig.table_centres).
FLOOR_SHARE, PARAM_SHARE, DATA_SHARE = 0.7, 0.18, 0.22
#: Fewest languages from which LawConfig(population_correlation=None) learns the population correlation.
CORRELATION_MIN_LANGUAGES = 6


@dataclass(frozen=True)
class LawConfig:
    """Priors and structure of the hierarchical law.

    Parameters
    ----------
    law
        One of :data:`LAWS` (the law registry, :mod:`bayes_atlas.laws`): ``"atlas"``,
        ``"chinchilla"``, ``"dcsl"``, ``"msl"``, ``"curse"``, ``"finetune"``.
    theta_mean, theta_scale
        Normal prior means and scales of the population mean of
        ``(log E, a, alpha, b, beta)``. ``theta_mean=None`` (default) scales the centres to the
        table: with ``L`` the median fitted loss, the floor ``E`` is centred at ``0.7 L`` and the
        reference-scale amplitudes at ``exp(a) = 0.18 L`` (the parameter term at 1e9
        parameters) and ``exp(b) = 0.22 L`` (the data term at 1e10 tokens), alpha at 0.4 and
        beta at 0.3 (:meth:`table_centres`). The shares are what the emulated study and
        Epoch's runs show (E / median loss 0.67 and 0.70; reference amplitudes 0.14-0.26 of the
        median loss), and the rule is unit-free: the same runs in bits, nats or per sequence get
        the same prior relative to their losses. A fixed centre in nats (0.8, as before) pulled
        floors of 1.5-2.9 nats toward 0.8 on a real table and left its intervals too wide.
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
        ``None`` (default): learn it from :data:`CORRELATION_MIN_LANGUAGES` languages up. With
        2-3 languages a 5 x 5 correlation is the LKJ prior's, and sampling it costs tree depth
        (measured, 2 and 3 synthetic languages x 25 runs, defaults: correlated 1123 / 1196 of
        5200 draws at the maximum tree depth and bulk ESS 676 / 782; independent 829 / 278 and
        1265 / 1086).
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
        Of the per-language parameters: ``"noncentered"``, ``"centered"`` or ``"auto"``
        (centres the languages with at least ``centered_min_rows`` rows, the others stay
        non-centred). ``None`` (default): ``"auto"`` where the population is learnt with
        correlations in ``"shares"`` (the default from 6 languages), ``"noncentered"``
        otherwise. Measured on the emulated study (790 rows, 50 languages, defaults, 2 cores,
        2026-12-01): in shares, centring the 12 languages with >= 20 rows cut sampling from
        324 s to 203 s, 0 divergences, max r_hat 1.0046, bulk ESS 1442; centring from 10 rows
        (21 languages) took 141 s but r_hat 1.009, ESS 696; a dense mass matrix did not adapt
        in 700 tuning steps (every draw at the maximum depth, 1019 s). In amplitudes
        non-centred measured better at every size tried: 7 x 20 monolingual runs (0 vs 17
        divergences) and the 790-row study (r_hat 1.008 vs 12 divergences with the 7
        data-rich languages centred). A table with a single language has no population: its
        five parameters get the prior directly.
    centered_min_rows
        Threshold of ``parameterization="auto"``.
    population_space
        Coordinates in which languages are drawn from the population. ``None`` (default):
        ``"shares"`` for a partially pooled fit of :data:`CORRELATION_MIN_LANGUAGES` languages
        or more, else ``"amplitudes"``. ``"amplitudes"``: ``(log E, a, alpha, b, beta)``
        themselves. ``"shares"``: :data:`SHARES`,
        the log loss at the reference design ``share_reference`` and the log ratios of the
        parameter and data terms there to the floor, plus the exponents
        (:func:`theta_from_shares` maps them to ``theta``). Then how high a language's losses
        are is one coordinate, independent of how they split between floor and terms, which an
        independent population on ``(log E, a, b)`` cannot say (the three move together when
        a language's losses are all higher). ``theta_mean`` stays in ``theta`` coordinates and
        is mapped; ``theta_scale`` and ``theta_sd`` are read in :data:`SHARES` order.
        Non-centred languages have their level centred (it is pinned by any run, even one).
        Measured 2026-12-01: on Goldfish (166 languages, 1-3 runs each) pooling pays only in
        this space (:func:`bayes_atlas.calibration.goldfish_holdout`); on the emulated study
        (790 rows, 50 languages, atlas law, 4 x 300 draws after 300 tuning, load 2-5) it gave
        bulk ESS 275 in 111 s and no draw at the maximum tree depth, against 177 in 148 s and
        472 of 1200 for ``"amplitudes"`` (with the level non-centred as well: ESS 51 on
        ``theta_mu[log_L_ref]``); at the package's defaults (4 x 1300 draws after 700, seed 0,
        2 cores) max r_hat 1.0041, bulk ESS 1623, no divergence or draw at the maximum depth,
        370 s, against r_hat 1.011 for ``"amplitudes"`` (which needed 2000 draws for the
        shipped posterior). The shipped posteriors were fitted in ``"amplitudes"`` (files saved
        before this setting load as such). Languages fitted with ``theta_prior`` take their
        prior directly, in either space.
    share_reference
        ``(N_r, D_r)`` of ``population_space="shares"``; ``None`` (default): the medians of
        the fitted runs' parameters and total tokens.
    """

    law: str = "atlas"
    theta_mean: tuple[float, ...] | None = None
    theta_scale: tuple[float, ...] = (0.5, 1.0, 0.2, 1.0, 0.2)
    theta_sd: tuple[float, ...] = (0.3, 0.5, 0.1, 0.5, 0.1)
    population_sd_prior: str = "gamma"
    lkj_eta: float = 4.0
    sigma_scale: float = 0.05
    sigma_floor: float = 0.0
    population_correlation: bool | None = None
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
    parameterization: str | None = None
    centered_min_rows: int = 20
    pooling: str = "partial"
    population_space: str | None = None
    share_reference: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.law not in LAWS:
            raise ValueError(f"law must be one of {LAWS}, got {self.law!r}")
        if self.population_sd_prior not in ("gamma", "halfnormal"):
            raise ValueError(f"population_sd_prior must be 'gamma' or 'halfnormal', got {self.population_sd_prior!r}")
        if self.population_space not in (None, "amplitudes", "shares"):
            raise ValueError(f"population_space must be None, 'amplitudes' or 'shares', got {self.population_space!r}")
        if self.share_reference is not None and not (
            len(self.share_reference) == 2 and all(np.isfinite(v) and v > 0 for v in self.share_reference)
        ):
            raise ValueError(f"share_reference must be (parameters, tokens), both positive, got {self.share_reference!r}")
        if self.pooling not in ("partial", "none"):
            raise ValueError(f"pooling must be 'partial' or 'none', got {self.pooling!r}")
        if self.parameterization not in (None, "centered", "noncentered", "auto"):
            raise ValueError(f"parameterization must be 'centered', 'noncentered' or 'auto', got {self.parameterization!r}")
        for name in ("theta_mean", "theta_scale", "theta_sd"):
            value = getattr(self, name)
            if value is None and name == "theta_mean":
                continue
            if len(value) != len(THETA):
                raise ValueError(f"LawConfig.{name} needs {len(THETA)} values {THETA}")
        positive = [*self.theta_scale, *self.theta_sd, self.lkj_eta, self.sigma_scale, self.student_nu or 1.0, self.lam_median]
        if not all(np.isfinite(v) and v > 0 for v in positive):
            raise ValueError("LawConfig scales, lkj_eta, student_nu and lam_median must be positive")

    @staticmethod
    def table_centres(loss_level: float) -> tuple[float, ...]:
        """Default ``theta_mean`` for a table whose median (fitted) loss is ``loss_level``.

        Examples
        --------
        >>> import numpy as np
        >>> centres = LawConfig.table_centres(2.0)
        >>> np.round(np.exp(centres[0]), 2), centres[2:5:2]
        (np.float64(1.4), (0.4, 0.3))
        """
        if not (np.isfinite(loss_level) and loss_level > 0):
            raise ValueError(f"loss_level must be a positive loss, got {loss_level!r}")
        level = float(np.log(loss_level))
        return (
            level + float(np.log(FLOOR_SHARE)),
            level + float(np.log(PARAM_SHARE)),
            0.4,
            level + float(np.log(DATA_SHARE)),
            0.3,
        )

    def resolved(
        self, log_loss: np.ndarray, n_languages: int, log_params: np.ndarray | None = None, total_tokens: np.ndarray | None = None
    ) -> LawConfig:
        """This config with what it leaves to the table decided: ``theta_mean`` from the fitted
        log losses, ``population_correlation`` and ``population_space`` from the number of
        languages, ``parameterization`` from the population, and (for
        ``population_space="shares"``) ``share_reference`` from the runs' sizes."""
        out = self
        if out.population_space is None:
            pooled = out.pooling == "partial" and n_languages >= CORRELATION_MIN_LANGUAGES
            out = replace(out, population_space="shares" if pooled else "amplitudes")
        if out.population_space == "shares" and out.share_reference is None:
            if log_params is None or total_tokens is None:
                raise ValueError("population_space='shares' needs the runs' sizes (log_params, total_tokens) to resolve")
            out = replace(
                out,
                share_reference=(float(np.exp(np.median(log_params))), float(np.exp(np.median(np.log(total_tokens))))),
            )
        if out.theta_mean is None:
            out = replace(out, theta_mean=self.table_centres(float(np.exp(np.median(log_loss)))))
        if out.population_correlation is None:
            out = replace(out, population_correlation=n_languages >= CORRELATION_MIN_LANGUAGES)
        if out.parameterization is None:
            learnt = out.pooling == "partial" and out.population_space == "shares" and out.population_correlation
            out = replace(out, parameterization="auto" if learnt else "noncentered")
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("theta_mean", "theta_scale", "theta_sd", "share_reference"):
            out[name] = None if out[name] is None else [float(v) for v in out[name]]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LawConfig:
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown LawConfig fields {sorted(unknown)}")
        values = dict(values)
        for name in ("theta_mean", "theta_scale", "theta_sd", "share_reference"):
            if values.get(name) is not None:
                values[name] = tuple(float(v) for v in values[name])
        return cls(**values)


def theta_from_shares(xp: Any, shares: Any, reference: tuple[float, float]) -> Any:
    """Map :data:`SHARES` coordinates (last axis) to ``theta = (log E, a, alpha, b, beta)``.

    With ``r_A``, ``r_B`` the log ratios of the parameter and data terms at the reference
    design ``(N_r, D_r)`` to the floor, and ``L_r`` the loss there:
    ``E = L_r / (1 + e^r_A + e^r_B)``, ``A N_r^-alpha = E e^r_A``, ``B D_r^-beta = E e^r_B``.
    ``xp`` is numpy or ``pytensor.tensor``.

    Examples
    --------
    >>> import numpy as np
    >>> shares = np.array([np.log(3.0), np.log(0.5), 0.3, np.log(1.5), 0.3])
    >>> theta = theta_from_shares(np, shares, (1e9, 1e10))  # the reference scales: a, b are the terms' logs
    >>> np.round(np.exp(theta[[0, 1, 3]]), 6)
    array([1. , 0.5, 1.5])
    """
    log_n, log_d = (float(np.log(v)) for v in reference)
    log_l, r_a, alpha, r_b, beta = (shares[..., k] for k in range(len(SHARES)))
    log_e = log_l - xp.log1p(xp.exp(r_a) + xp.exp(r_b))
    a = log_e + r_a + alpha * (log_n - float(np.log(N_REF)))
    b = log_e + r_b + beta * (log_d - float(np.log(D_REF)))
    return xp.stack([log_e, a, alpha, b, beta], axis=-1)


def shares_from_theta(theta: np.ndarray, reference: tuple[float, float]) -> np.ndarray:
    """Inverse of :func:`theta_from_shares` (numpy)."""
    theta = np.asarray(theta, dtype=float)
    log_n, log_d = (float(np.log(v)) for v in reference)
    log_e, a, alpha, b, beta = (theta[..., k] for k in range(len(THETA)))
    term_a = a - alpha * (log_n - float(np.log(N_REF)))
    term_b = b - beta * (log_d - float(np.log(D_REF)))
    log_l = np.logaddexp(np.logaddexp(log_e, term_a), term_b)
    return np.stack([log_l, term_a - log_e, alpha, term_b - log_e, beta], axis=-1)


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


def _population_sd_dist(config: LawConfig, name: str | None = None, dim: str = "parameter"):  # noqa: ANN202
    """Prior of the five population spreads: an unregistered ``.dist`` (``name=None``) or a variable with dim ``dim``."""
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
    return family(name, **params, dims=dim)


def build_law_model(
    data: LawData,
    config: LawConfig,
    bts_prior: pd.DataFrame | None = None,
    theta_prior: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    keep_mean: bool = False,
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
        earlier law posterior, correlations included) instead of the learnt population.
        ``theta_mu`` / ``theta_sd`` are then the mean and spread of the fitted languages per draw.
    keep_mean
        Also store the noise-free mean log loss per row (``mean_log_loss``, dim ``run``).

    Returns
    -------
    pymc.Model
        Dims ``language``, ``parameter``, ``pair``, ``run`` (rows).
    """
    import pymc as pm
    import pytensor.tensor as pt

    config = config.resolved(data.log_loss, len(data.languages), data.log_params, data.total_tokens)
    coords = {"language": list(data.languages), "parameter": list(THETA), "run": np.arange(data.n_rows)}
    shares = config.population_space == "shares" and theta_prior is None
    # The population's coordinates: theta itself, or SHARES (mapped to theta below).
    space = "share" if shares else "parameter"
    if shares:
        coords["share"] = list(SHARES)
        centre = shares_from_theta(np.asarray(config.theta_mean), config.share_reference)
    else:
        centre = np.asarray(config.theta_mean)
    if get_law(config.law).uses_transfer and data.pairs:
        coords["pair"] = [f"{s}->{t}" for t, s in data.pairs]
    with pm.Model(coords=coords) as model:
        n_languages = len(data.languages)
        if theta_prior is not None:
            prior_mean, prior_chol = (np.asarray(v, dtype=float) for v in theta_prior)
            z = pm.Normal("theta_z", 0.0, 1.0, dims=("language", "parameter"))
            population = prior_mean + (prior_chol * z[:, None, :]).sum(axis=-1)
            if n_languages > 1:
                pm.Deterministic("theta_mu", population.mean(axis=0), dims="parameter")
                pm.Deterministic("theta_sd", population.std(axis=0), dims="parameter")
        elif n_languages == 1 or config.pooling == "none":
            # No population to learn from (one language, or pooling switched off): the prior
            # of each language's parameters is the population prior with the population
            # spread folded in.
            scale = np.sqrt(np.asarray(config.theta_scale) ** 2 + np.asarray(config.theta_sd) ** 2)
            if n_languages == 1:
                population = pm.Normal("theta_single", centre, scale, dims=space)[None, :]
            else:
                z = pm.Normal("theta_z", 0.0, 1.0, dims=("language", space))
                population = centre + scale * z
        else:
            mu = pm.Normal("theta_mu", centre, np.asarray(config.theta_scale), dims=space)
            if config.population_correlation:
                chol, _, _ = pm.LKJCholeskyCov(
                    "theta_cov",
                    n=len(THETA),
                    eta=config.lkj_eta,
                    sd_dist=_population_sd_dist(config),
                    compute_corr=True,
                    store_in_trace=False,
                )
                pm.Deterministic("theta_sd", pt.sqrt(pt.diag(chol @ chol.T)), dims=space)
            else:
                spread = _population_sd_dist(config, "theta_sd", space)
                chol = pt.diag(spread)
            if config.parameterization == "auto":
                rows_per_language = np.bincount(data.language_index, minlength=n_languages)
                centered_mask = rows_per_language >= config.centered_min_rows
            else:
                centered_mask = np.full(n_languages, config.parameterization == "centered")
            population = pt.zeros((n_languages, len(THETA)))
            centered_idx = np.flatnonzero(centered_mask)
            noncentered_idx = np.flatnonzero(~centered_mask)
            if centered_idx.size:
                model.add_coord("language_centered", [data.languages[i] for i in centered_idx])
                theta_c = pm.MvNormal("theta_centered", mu=mu, chol=chol, dims=("language_centered", space))
                population = pt.set_subtensor(population[centered_idx], theta_c)
            if noncentered_idx.size:
                model.add_coord("language_noncentered", [data.languages[i] for i in noncentered_idx])
                if shares:
                    # The level is pinned by any run, even one: non-centred, each language's
                    # z of the level would move with the population mean and spread (measured
                    # on the emulated study: ESS 51 for theta_mu[log_L_ref]). The Cholesky factor
                    # is lower triangular, so the level alone can be centred and the other four
                    # coordinates stay non-centred given it: the same distribution.
                    model.add_coord("share_rest", list(SHARES[1:]))
                    level = pm.Normal("theta_level", mu[0], chol[0, 0], dims="language_noncentered")
                    z_rest = pm.Normal("theta_z", 0.0, 1.0, dims=("language_noncentered", "share_rest"))
                    z = pt.concatenate([((level - mu[0]) / chol[0, 0])[:, None], z_rest], axis=1)
                else:
                    z = pm.Normal("theta_z", 0.0, 1.0, dims=("language_noncentered", space))
                population = pt.set_subtensor(population[noncentered_idx], mu + z @ chol.T)
        if shares:
            pm.Deterministic("theta_shares", population, dims=("language", "share"))
            population = theta_from_shares(pt, population, config.share_reference)
        theta = pm.Deterministic("theta", population, dims=("language", "parameter"))
        pm.Deterministic("E", pt.exp(theta[:, 0]), dims="language")
        for k, name in enumerate(THETA[1:], start=1):
            pm.Deterministic(name, theta[:, k], dims="language")
        spec = get_law(config.law)
        rows = data.language_index
        params: dict[str, Any] = {name: theta[rows, k] for k, name in enumerate(THETA)}
        for effect in spec.effects:
            value = _pooled_effect(effect.name, *effect.prior(config), n_languages)
            if effect.exp_name:
                pm.Deterministic(effect.exp_name, pt.exp(value), dims="language")
            params[effect.name] = value[rows]
        for shared in spec.shared:
            centre, spread = shared.prior(config)
            if shared.family == "lognormal":
                params[shared.name] = pm.LogNormal(shared.name, float(np.log(centre)), spread)
            else:
                params[shared.name] = pm.Normal(shared.name, centre, spread)
        if spec.uses_transfer:
            params["tau"] = _transfer_weights(data, config, bts_prior)
        mean_log_loss = spec.mean_log_loss(pt, data, params)
        if keep_mean:
            pm.Deterministic("mean_log_loss", mean_log_loss, dims="run")
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


def _transfer_weights(data: LawData, config: LawConfig, bts_prior: pd.DataFrame | None):  # noqa: ANN202
    """Per-row transfer weights ``(rows, MAX_TRANSFER_SOURCES)``: ``tau`` of each used slot's pair.

    Each pair's BTS has a normal prior (moment-matched to ``bts_prior`` when given, else a
    pooled normal), and ``tau = BTS / (2 - BTS)``; unused slots have no tokens, so their
    weight is irrelevant.
    """
    import pymc as pm

    if not data.pairs:
        return 0.0
    if bts_prior is not None:
        prior = bts_prior.loc[list(data.pairs)]
        bts = pm.Normal("bts", prior["mean"].to_numpy(), prior["sd"].to_numpy(), dims="pair")
    else:
        bts_mu = pm.Normal("bts_mu", config.bts_pooled_mean, config.bts_pooled_sd)
        bts_sd = pm.HalfNormal("bts_sd", 0.3)
        bts_z = pm.Normal("bts_z", 0.0, 1.0, dims="pair")
        bts = pm.Deterministic("bts", bts_mu + bts_sd * bts_z, dims="pair")
    tau = pm.Deterministic("tau", tau_from_bts(bts), dims="pair")
    return tau[data.transfer_pair]
