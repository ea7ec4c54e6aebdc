"""PyMC builder for the cross-lingual transfer model (DESIGN.md, model 1).

Observed ``BTS(s -> t)`` = latent transfer + noise, with

    latent[t, s] = intercept
                 + target_effect[t] + source_effect[s]        (partially pooled, correlated
                                                               within a language, optionally
                                                               nested in family)
                 + beta_script * same_script[t, s] + beta_family * same_family[t, s]
                 + symmetric[{t, s}] + sign(t, s) * asymmetric[{t, s}]

where ``{t, s}`` is the unordered pair and ``sign`` is +1 when ``t`` comes before ``s`` in
the language order, -1 otherwise, so the symmetric part is shared by ``s -> t`` and
``t -> s`` and the asymmetric part pushes them apart. The noise scale is per noise group
(cells measured directly vs cells predicted by the authors' random forest) and never falls
below the rounding of the printed values: ``sigma_g = sqrt(rounding^2 / 12 + extra_g^2)``.

Every random effect is non-centred (most languages and pairs are weakly informed by the
data, the regime where non-centring wins).

The population of the language effects (``TransferConfig.population``):

- ``"normal"``: ``(target, source)`` deviations bivariate normal, ``u @ chol.T`` with
  ``u ~ N(0, I)`` and ``chol`` the LKJ Cholesky factor (scales ``language_sd``, correlation
  ``language_corr``);
- ``"student_t"``: the same, but the standardised target deviation is Student-t with a
  learnt ``language_nu`` (``nu ~ Gamma(2, 0.1)``), sampled **centred**
  (``language_target_dev ~ t_nu(0, language_sd[target])``; each observed language's target
  effect is pinned by its 37 cells, where the non-centred scale mixture ``z / sqrt(g)``
  diverged; a language with no observed cell gets its effects drawn exactly from each draw's
  population after sampling, as in the mixture), the source deviation
  ``language_sd[source] (corr t_std + sqrt(1 - corr^2) z)`` with ``t_std`` the standardised
  target deviation. ``language_sd[target]`` is then the t's
  scale, not its sd. The source deviations stay normal (their spread on the published matrix
  has no heavy tail: excess kurtosis -0.4). On the published matrix it converges but does not
  widen the predictions of the hardest targets (see ``TransferConfig``).

- ``"mixture"``: the target effects from a two-component normal mixture (a main component
  at 0, the intercept's level, and a low component ``mix_gap`` below it, weight
  ``mix_weight``, scales ``target_sd``), the source effects independent normal. The published
  matrix's target effects are bimodal (29 languages at +0.1..+0.3, 9 from -0.3 to -1.0), which
  one normal covers too widely for the cluster and too narrowly for the tail. A language with
  observed cells has its target effect centred on the mixture density (37 cells pin it); one
  with none is drawn from the mixture after sampling, per draw (exact: given the
  hyperparameters it is independent of the data), since NUTS would not move between the modes.

A language with no observed cell (left out in :func:`bayes_atlas.transfer_eval.evaluate_languages`)
has effects drawn from the population inside the sampler; a language outside the fit gets
them from the fitted population afterwards (:meth:`bayes_atlas.transfer.TransferFit.predict_pair`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LATENT_PARAMETERS",
    "PAIR_PARAMETERS",
    "TransferConfig",
    "TransferData",
    "build_transfer_model",
    "latent_bts",
    "log_likelihood",
    "likelihood_units",
    "prepare_transfer_data",
    "sample_pair_effects",
]

NOISE_GROUPS = ("measured", "predicted")
#: Populations of the language effects (:class:`TransferConfig` ``population``).
POPULATIONS = ("normal", "student_t", "mixture")
#: Parameters of the latent BTS without the pair effects (the mean the sampler sees).
LATENT_PARAMETERS = ("intercept", "beta_script", "beta_family", "target_effect", "source_effect")
#: The pair effects (integrated out while sampling, redrawn afterwards).
PAIR_PARAMETERS = ("symmetric", "asymmetric")


def latent_bts(
    params: Mapping[str, Any],
    target: np.ndarray,
    source: np.ndarray,
    same_script: np.ndarray,
    same_family: np.ndarray,
    pair: np.ndarray | None = None,
    sign: np.ndarray | None = None,
) -> Any:
    """The latent BTS of the transfer model: the one place its formula is written.

    ``latent[t, s] = intercept + target_effect[t] + source_effect[s]
    + beta_script * same_script + beta_family * same_family
    + symmetric[pair] + sign * asymmetric[pair]``.

    Backend-generic: it uses only indexing (``x[..., i]``, ``x[..., None]``) and arithmetic,
    so the parameters may be numpy arrays (posterior draws, a simulator's truth) or pytensor
    tensors (the PyMC builder). Every path that needs the latent transfer calls it: the
    builder's likelihood mean, :func:`sample_pair_effects`, :func:`log_likelihood`,
    :func:`bayes_atlas.transfer.simulate_matrix` and every query of
    :class:`bayes_atlas.transfer.TransferFit`.

    Parameters
    ----------
    params
        ``intercept``, ``beta_script``, ``beta_family`` with shape ``batch`` (``()`` or
        ``(n_draws,)``); ``target_effect`` and ``source_effect`` with shape ``(*batch, L)``;
        with ``pair``: ``symmetric`` and ``asymmetric`` with shape ``(*batch, n_pairs)``.
    target, source
        1-d integer positions of each cell's target and source in the effect arrays.
    same_script, same_family
        1-d 0/1 covariates per cell.
    pair, sign
        1-d pair position and sign (+1 when the target is the pair's first language, -1
        otherwise) per cell. ``None`` leaves the pair effects out: the mean given everything
        but the pair effects, which the sampler integrates out (they have mean zero).

    Returns
    -------
    array
        Shape ``(*batch, n_cells)``, same backend as ``params``.

    Examples
    --------
    >>> params = {"intercept": np.array(-0.4), "beta_script": np.array(0.1), "beta_family": np.array(0.0),
    ...           "target_effect": np.array([0.0, 0.2]), "source_effect": np.array([0.1, 0.0])}
    >>> latent_bts(params, np.array([0]), np.array([1]), np.array([1.0]), np.array([0.0])).round(3)
    array([-0.3])
    """

    def scalar(name: str) -> Any:
        return params[name][..., None]

    value = (
        scalar("intercept")
        + params["target_effect"][..., target]
        + params["source_effect"][..., source]
        + scalar("beta_script") * same_script
        + scalar("beta_family") * same_family
    )
    if pair is not None:
        if sign is None:
            raise ValueError("latent_bts: pair effects need the sign of each cell")
        value = value + params["symmetric"][..., pair] + sign * params["asymmetric"][..., pair]
    return value


#: Config fields that hold two numbers.
_PAIRS = ("noise_sd", "noise_share_prior", "nu_prior")


@dataclass(frozen=True)
class TransferConfig:
    """Structure and prior scales of the transfer model.

    Parameters
    ----------
    family_effects
        Nest the target and source effects in language families (a family effect per
        family plus a language deviation). Languages outside the fit that belong to a fitted
        family then borrow that family's effect.
    intercept_sd, coef_sd
        Normal prior scales of the intercept and of the same-script / same-family
        coefficients.
    language_sd, family_sd, pair_sd
        Half-normal prior scales of the language, family and pair (symmetric and asymmetric)
        standard deviations.
    noise_sd
        Half-normal prior scales of the extra noise above the rounding floor, for the
        ``measured`` and the ``predicted`` cells.
    lkj_eta
        LKJ shape of the correlation between a language's target and source effects.
    population
        ``"normal"`` (default) or ``"student_t"`` (a learnt-``nu`` Student-t population of
        the target effects, normal source effects; see the module docstring). The Student-t
        is an opt-in for exploration, not the default, because on the published matrix it
        does not help (measured 2026-12-02, issue 14; seed 0, 47 s, 3 of 4000 transitions
        divergent, r_hat 1.006, bulk ESS 1446; the non-centred version had 160 divergences
        and r_hat 1.60): ``nu`` 0.91 [0.60, 1.40] with scale 0.065 [0.038, 0.109], a t that
        hugs the 29 languages clustered at +0.1..+0.3, so leaving out yo and zh covers 0.46
        of the folds' 148 cells at 90% (normal: 0.39 / 0.55). The target effects are skewed (a
        left tail of 9 hard-to-help languages), not symmetric.
        ``"mixture"``: a two-component normal mixture of the target effects (main component at
        0, low component ``mix_gap`` below, weight ``mix_weight`` with a Beta(2, 5) prior,
        scales ``target_sd``), independent normal source effects; no family nesting.
    nu_prior
        Gamma (shape, rate) prior of the Student-t degrees of freedom ``language_nu``
        (default (2, 0.1): mean 20, 5% below 3.6, Juarez and Steel 2010).
    """

    family_effects: bool = False
    intercept_sd: float = 1.0
    coef_sd: float = 0.5
    language_sd: float = 0.5
    family_sd: float = 0.3
    pair_sd: float = 0.2
    noise_sd: tuple[float, float] = (0.05, 0.2)
    noise_share_prior: tuple[float, float] = (1.0, 1.0)
    lkj_eta: float = 2.0
    population: str = "normal"
    nu_prior: tuple[float, float] = (2.0, 0.1)

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "family_effects":
                if not isinstance(value, bool):
                    raise TypeError(f"TransferConfig.family_effects must be a bool, got {value!r}")
                continue
            if field.name == "population":
                if value not in POPULATIONS:
                    raise ValueError(f"TransferConfig.population must be one of {POPULATIONS}, got {value!r}")
                if value == "mixture" and self.family_effects:
                    raise ValueError(
                        "TransferConfig(population='mixture') does not nest effects in families; set family_effects=False"
                    )
                continue
            values = value if isinstance(value, tuple) else (value,)
            if field.name in _PAIRS and len(values) != 2:
                raise ValueError(f"TransferConfig.{field.name} needs two numbers, got {value!r}")
            if not all(np.isfinite(v) and v > 0 for v in values):
                raise ValueError(f"TransferConfig.{field.name} must be positive and finite, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (stored in saved posteriors)."""
        out = asdict(self)
        for key in _PAIRS:
            out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TransferConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown TransferConfig fields {sorted(unknown)}; known: {sorted(known)}")
        values = dict(values)
        for key in _PAIRS:
            if key in values:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)


@dataclass(frozen=True)
class TransferData:
    """Index arrays of a transfer matrix, ready for the model.

    Attributes
    ----------
    languages
        Language codes in model order (rows and columns of the matrix).
    scripts, families
        Script and family label per language.
    family_names
        Distinct families, in order of first appearance; ``family_index`` maps languages to them.
    pair_first, pair_second
        Positions of the two languages of each unordered pair (first < second).
    pair_index, pair_sign
        For every ordered cell ``(t, s)``, its pair and +1 / -1 (``t`` first / second).
    bts_matrix, group_matrix
        The ``(L, L)`` BTS values (NaN where missing) and noise group per cell (0 measured,
        1 predicted).
    observed
        ``(L, L)`` True where a cell enters the likelihood (finite, off-diagonal).
    both_observed
        Per pair: both of its cells observed.
    single_target, single_source
        Cells observed whose reverse cell is missing.
    same_script, same_family
        Full ``(L, L)`` indicator matrices.
    rounding
        Rounding step of the printed values (the noise floor).
    main_group
        The noise group with the most observed cells (0 measured, 1 predicted).
    """

    languages: tuple[str, ...]
    scripts: np.ndarray
    families: np.ndarray
    family_names: tuple[str, ...]
    family_index: np.ndarray
    pair_first: np.ndarray
    pair_second: np.ndarray
    pair_index: np.ndarray
    pair_sign: np.ndarray
    bts_matrix: np.ndarray
    group_matrix: np.ndarray
    observed: np.ndarray
    both_observed: np.ndarray
    single_target: np.ndarray
    single_source: np.ndarray
    same_script: np.ndarray
    same_family: np.ndarray
    rounding: float
    main_group: int


def pair_indices(n_languages: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unordered pairs of ``n_languages`` and, per ordered cell, its pair and sign."""
    first, second = np.triu_indices(n_languages, k=1)
    pair_index = np.full((n_languages, n_languages), -1, dtype=np.int64)
    pair_index[first, second] = np.arange(len(first))
    pair_index[second, first] = np.arange(len(first))
    pair_sign = np.zeros((n_languages, n_languages))
    pair_sign[first, second] = 1.0
    pair_sign[second, first] = -1.0
    return first, second, pair_index, pair_sign


def prepare_transfer_data(
    bts: np.ndarray,
    languages: list[str],
    scripts: list[str],
    families: list[str],
    measured: np.ndarray | None = None,
    rounding: float = 0.1,
) -> TransferData:
    """Turn a square BTS matrix (rows target, columns source) into model index arrays.

    The caller (:class:`bayes_atlas.transfer.TransferModel`) validates the inputs; this
    function only reshapes.
    """
    n = len(languages)
    first, second, pair_index, pair_sign = pair_indices(n)
    off_diagonal = ~np.eye(n, dtype=bool)
    observed = off_diagonal & np.isfinite(bts)
    observed_first = observed[first, second]
    observed_second = observed[second, first]
    both = observed_first & observed_second
    only_first = observed_first & ~observed_second
    only_second = observed_second & ~observed_first
    single_target = np.concatenate([first[only_first], second[only_second]])
    single_source = np.concatenate([second[only_first], first[only_second]])
    if measured is None:
        group = np.zeros((n, n), dtype=np.int64)
    else:
        group = np.where(measured, 0, 1).astype(np.int64)
    scripts_arr = np.asarray(scripts, dtype=object)
    families_arr = np.asarray(families, dtype=object)
    family_codes, family_names = pd.factorize(pd.Series(families_arr))
    return TransferData(
        languages=tuple(languages),
        scripts=scripts_arr,
        families=families_arr,
        family_names=tuple(str(f) for f in family_names),
        family_index=np.asarray(family_codes, dtype=np.int64),
        pair_first=first,
        pair_second=second,
        pair_index=pair_index,
        pair_sign=pair_sign,
        bts_matrix=np.where(observed, bts, np.nan).astype(float),
        group_matrix=group,
        observed=observed,
        both_observed=both,
        single_target=single_target,
        single_source=single_source,
        same_script=(scripts_arr[:, None] == scripts_arr[None, :]).astype(float),
        same_family=(families_arr[:, None] == families_arr[None, :]).astype(float),
        rounding=float(rounding),
        main_group=int(np.bincount(group[observed], minlength=2).argmax()),
    )


def _normal_effects(data: TransferData, config: TransferConfig):  # noqa: ANN202
    """Target and source effects from the bivariate normal (or Student-t target) population."""
    import pymc as pm
    import pytensor.tensor as pt

    chol, _, _ = pm.LKJCholeskyCov(
        "language_cov",
        n=2,
        eta=config.lkj_eta,
        sd_dist=pm.HalfNormal.dist(config.language_sd, shape=2),
        compute_corr=True,
        store_in_trace=False,
    )
    pm.Deterministic("language_sd", pt.sqrt(pt.diag(chol @ chol.T)), dims="effect")
    pm.Deterministic("language_corr", (chol @ chol.T)[0, 1] / pt.sqrt((chol @ chol.T)[0, 0] * (chol @ chol.T)[1, 1]))
    if config.population == "student_t":
        # The Student-t target deviation is centred: each observed language's target effect is
        # pinned by its 37 cells, and a non-centred t (z / sqrt(g), g ~ Gamma(nu/2, nu/2)) puts a
        # curved ridge between z and g there (simulated nu = 3: 100 divergences at small nu). The
        # source deviation keeps its non-centred normal part, correlated through chol.
        nu = pm.Gamma("language_nu", alpha=config.nu_prior[0], beta=config.nu_prior[1])
        target_dev = pm.StudentT("language_target_dev", nu=nu, mu=0.0, sigma=chol[0, 0], dims="language")
        source_z = pm.Normal("language_source_z", 0.0, 1.0, dims="language")
        language_dev = pt.stack([target_dev, chol[1, 0] * target_dev / chol[0, 0] + chol[1, 1] * source_z], axis=1)
    else:
        language_z = pm.Normal("language_z", 0.0, 1.0, dims=("language", "effect"))
        language_dev = language_z @ chol.T
    if config.family_effects:
        family_sd = pm.HalfNormal("family_sd", config.family_sd, dims="effect")
        family_z = pm.Normal("family_z", 0.0, 1.0, dims=("family", "effect"))
        family_effect = pm.Deterministic("family_effect", family_z * family_sd, dims=("family", "effect"))
        effects = family_effect[data.family_index] + language_dev
    else:
        effects = language_dev
    target_effect = pm.Deterministic("target_effect", effects[:, 0], dims="target")
    source_effect = pm.Deterministic("source_effect", effects[:, 1], dims="source")
    return target_effect, source_effect


def _mixture_effects(data: TransferData, config: TransferConfig, model: Any):  # noqa: ANN202
    """Target effects from a two-component normal mixture, source effects normal (``population="mixture"``).

    Languages with no observed cell get a placeholder target effect (a main-component draw)
    that :meth:`bayes_atlas.transfer.TransferModel.fit` replaces by a mixture draw per draw.
    """
    import pymc as pm
    import pytensor.tensor as pt

    seen = mixture_seen(data)
    model.add_coord("component", ["main", "low"])
    weight = pm.Beta("mix_weight", 2.0, 5.0)
    gap = pm.HalfNormal("mix_gap", 1.0)
    target_sd = pm.HalfNormal("target_sd", config.language_sd, dims="component")
    source_sd = pm.HalfNormal("source_sd", config.language_sd)
    variance = (1 - weight) * target_sd[0] ** 2 + weight * target_sd[1] ** 2 + weight * (1 - weight) * gap**2
    pm.Deterministic("language_sd", pt.stack([pt.sqrt(variance), source_sd]), dims="effect")
    target = pt.zeros(len(data.languages))
    if seen.any():
        model.add_coord("language_seen", [data.languages[i] for i in np.flatnonzero(seen)])
        drawn = pm.NormalMixture(
            "target_seen",
            w=pt.stack([1 - weight, weight]),
            mu=pt.stack([pt.as_tensor_variable(0.0), -gap]),
            sigma=target_sd,
            dims="language_seen",
        )
        target = pt.set_subtensor(target[np.flatnonzero(seen)], drawn)
    if (~seen).any():
        model.add_coord("language_unseen", [data.languages[i] for i in np.flatnonzero(~seen)])
        placeholder = pm.Normal("target_unseen_z", 0.0, 1.0, dims="language_unseen")
        target = pt.set_subtensor(target[np.flatnonzero(~seen)], target_sd[0] * placeholder)
    source_z = pm.Normal("source_z", 0.0, 1.0, dims="source")
    target_effect = pm.Deterministic("target_effect", target, dims="target")
    source_effect = pm.Deterministic("source_effect", source_sd * source_z, dims="source")
    return target_effect, source_effect


def mixture_seen(data: TransferData) -> np.ndarray:
    """Languages with at least one observed cell, as target or as source."""
    return data.observed.any(axis=0) | data.observed.any(axis=1)


def draw_mixture_targets(
    weight: np.ndarray, gap: np.ndarray, target_sd: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``(draws, size)`` target effects from each draw's mixture population (``target_sd``: ``(draws, 2)``)."""
    low = rng.random((weight.size, size)) < weight[:, None]
    z = rng.standard_normal((weight.size, size))
    return np.where(low, -gap[:, None] + target_sd[:, [1]] * z, target_sd[:, [0]] * z)


def draw_population_effects(
    language_sd: np.ndarray, language_corr: np.ndarray, size: int, rng: np.random.Generator, nu: np.ndarray | None = None
) -> np.ndarray:
    """``(draws, size, 2)`` (target, source) effects from each draw's bivariate population.

    ``language_sd`` ``(draws, 2)``, ``language_corr`` ``(draws,)``; with ``nu`` the standardised
    target deviation is Student-t (``z / sqrt(g)``, ``g ~ Gamma(nu/2, nu/2)``), else normal.
    """
    z = rng.standard_normal((language_sd.shape[0], size, 2))
    if nu is not None:
        z[:, :, 0] /= np.sqrt(rng.gamma(nu[:, None] / 2.0, 2.0 / nu[:, None], size=z.shape[:2]))
    corr = language_corr[:, None]
    target = language_sd[:, [0]] * z[:, :, 0]
    source = language_sd[:, [1]] * (corr * z[:, :, 0] + np.sqrt(1.0 - corr**2) * z[:, :, 1])
    return np.stack([target, source], axis=-1)


def build_transfer_model(data: TransferData, config: TransferConfig | None = None):
    """The PyMC model of :mod:`bayes_atlas.models.transfer`.

    Parameters
    ----------
    data
        From :func:`prepare_transfer_data`.
    config
        Structure and priors; defaults to :class:`TransferConfig()`.

    Returns
    -------
    pymc.Model
        Dims ``language``, ``target``, ``source`` (the same codes), ``family``, ``effect``
        (``target``/``source``), ``pair``, ``noise_group`` and ``cell`` (observed cells).
    """
    import pymc as pm
    import pytensor.tensor as pt

    config = config or TransferConfig()
    coords = {
        "language": list(data.languages),
        "target": list(data.languages),
        "source": list(data.languages),
        "effect": ["target", "source"],
        "pair": np.arange(len(data.pair_first)),
        "noise_group": list(NOISE_GROUPS),
        "pair_both": np.flatnonzero(data.both_observed),
        "cell_single": np.arange(data.single_target.size),
    }
    if config.family_effects:
        coords["family"] = list(data.family_names)

    with pm.Model(coords=coords) as model:
        intercept = pm.Normal("intercept", 0.0, config.intercept_sd)
        beta_script = pm.Normal("beta_script", 0.0, config.coef_sd)
        beta_family = pm.Normal("beta_family", 0.0, config.coef_sd)

        if config.population == "mixture":
            target_effect, source_effect = _mixture_effects(data, config, model)
        else:
            target_effect, source_effect = _normal_effects(data, config)

        # The pair effects and the noise of the main noise group are identified only
        # through two sums: per pair, (y_ab + y_ba)/2 varies by sym^2 + noise^2/2 and
        # (y_ab - y_ba)/2 by asym^2 + noise^2/2. Sampling (sym_sd, asym_sd, noise) directly
        # leaves a curved ridge that diverges where asym_sd -> 0 (measured: 23-109
        # divergences). So the two identified scales are the parameters and the
        # unidentified share of them that is noise gets an explicit Beta prior.
        main = data.main_group
        other = 1 - main
        floor_var = data.rounding**2 / 12.0
        sum_sd = pm.HalfNormal("pair_sum_sd", config.pair_sd)
        diff_sd = pm.HalfNormal("pair_diff_sd", config.pair_sd)
        noise_share = pm.Beta("noise_share", *config.noise_share_prior)
        main_extra_var = noise_share * 2.0 * pt.minimum(sum_sd**2, diff_sd**2)
        symmetric_sd = pm.Deterministic("symmetric_sd", pt.sqrt(sum_sd**2 - main_extra_var / 2.0))
        asymmetric_sd = pm.Deterministic("asymmetric_sd", pt.sqrt(diff_sd**2 - main_extra_var / 2.0))
        other_extra = pm.HalfNormal("noise_extra_" + NOISE_GROUPS[other], config.noise_sd[other])
        extra_var = pt.stack([main_extra_var, other_extra**2]) if main == 0 else pt.stack([other_extra**2, main_extra_var])
        noise_sd = pm.Deterministic("noise_sd", pt.sqrt(floor_var + extra_var), dims="noise_group")

        latent = {
            "intercept": intercept,
            "beta_script": beta_script,
            "beta_family": beta_family,
            "target_effect": target_effect,
            "source_effect": source_effect,
        }

        def cell_mean(t: np.ndarray, s: np.ndarray):
            return latent_bts(latent, t, s, data.same_script[t, s], data.same_family[t, s])

        # The pair effects are integrated out: given everything else, the two cells of a
        # pair are bivariate normal with variance sym^2 + asym^2 + noise^2 and covariance
        # sym^2 - asym^2. Sampling them instead leaves a 1,400-dimensional funnel tied to
        # the noise scale (measured: r_hat 1.6, tree depth 8); they are drawn afterwards
        # from their exact conditional (sample_pair_effects).
        pair_var = symmetric_sd**2 + asymmetric_sd**2
        pair_cov = symmetric_sd**2 - asymmetric_sd**2
        first, second = data.pair_first, data.pair_second
        both = data.both_observed
        var_first = pair_var + noise_sd[data.group_matrix[first[both], second[both]]] ** 2
        var_second = pair_var + noise_sd[data.group_matrix[second[both], first[both]]] ** 2
        mean_first = cell_mean(first[both], second[both])
        mean_second = cell_mean(second[both], first[both])
        y_first = data.bts_matrix[first[both], second[both]]
        pm.Normal("bts_first", mu=mean_first, sigma=pt.sqrt(var_first), observed=y_first, dims="pair_both")
        pm.Normal(
            "bts_second",
            mu=mean_second + pair_cov / var_first * (y_first - mean_first),
            sigma=pt.sqrt(var_second - pair_cov**2 / var_first),
            observed=data.bts_matrix[second[both], first[both]],
            dims="pair_both",
        )
        if data.single_target.size:
            t, s = data.single_target, data.single_source
            pm.Normal(
                "bts_single",
                mu=cell_mean(t, s),
                sigma=pt.sqrt(pair_var + noise_sd[data.group_matrix[t, s]] ** 2),
                observed=data.bts_matrix[t, s],
                dims="cell_single",
            )
    return model


def sample_pair_effects(
    data: TransferData,
    params: dict[str, np.ndarray],
    rng: np.random.Generator,
    chunk: int = 250,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the integrated-out pair effects from their exact Gaussian conditional.

    For pair ``(a, b)`` with ``a`` first, cell ``(a, b)`` = mean + sym + asym + noise and
    cell ``(b, a)`` = mean + sym - asym + noise. Given one posterior draw of everything
    else, ``(sym, asym)`` has a bivariate normal posterior; missing cells drop out of it.

    Parameters
    ----------
    data
        The fitted data.
    params
        Flat draws: ``intercept``, ``beta_script``, ``beta_family``, ``symmetric_sd``,
        ``asymmetric_sd`` ``(draws,)``; ``target_effect``, ``source_effect`` ``(draws, L)``;
        ``noise_sd`` ``(draws, 2)`` (measured, predicted).
    rng
        Random generator.
    chunk
        Draws per block (keeps the temporaries small, so a load stays fast).

    Returns
    -------
    (symmetric, asymmetric)
        Each ``(draws, n_pairs)``.
    """
    first, second = data.pair_first, data.pair_second
    n_draws = params["intercept"].shape[0]
    observed_1 = data.observed[first, second]
    observed_2 = data.observed[second, first]
    y_1 = np.where(observed_1, data.bts_matrix[first, second], 0.0)
    y_2 = np.where(observed_2, data.bts_matrix[second, first], 0.0)
    group_1 = data.group_matrix[first, second]
    group_2 = data.group_matrix[second, first]
    # The covariates are symmetric in the pair: the same for (a, b) and (b, a).
    covariate_script = data.same_script[first, second]
    covariate_family = data.same_family[first, second]
    symmetric = np.empty((n_draws, first.size))
    asymmetric = np.empty((n_draws, first.size))
    for start in range(0, n_draws, chunk):
        block = slice(start, min(start + chunk, n_draws))
        z = rng.standard_normal((2, block.stop - block.start, first.size))
        latent = {name: params[name][block] for name in LATENT_PARAMETERS}
        mean_1 = latent_bts(latent, first, second, covariate_script, covariate_family)
        mean_2 = latent_bts(latent, second, first, covariate_script, covariate_family)
        # Residuals of the two cells: r1 = y(a,b) - mean(a,b), design (1, +1); r2 = y(b,a) - mean(b,a), design (1, -1).
        resid_1 = (y_1 - mean_1) * observed_1
        resid_2 = (y_2 - mean_2) * observed_2
        inverse_var = 1.0 / params["noise_sd"][block] ** 2
        precision_1 = inverse_var[:, group_1] * observed_1
        precision_2 = inverse_var[:, group_2] * observed_2
        # Posterior precision of (sym, asym): prior diag + H' R^-1 H.
        p_ss = 1.0 / params["symmetric_sd"][block, None] ** 2 + precision_1 + precision_2
        p_aa = 1.0 / params["asymmetric_sd"][block, None] ** 2 + precision_1 + precision_2
        p_sa = precision_1 - precision_2
        b_s = precision_1 * resid_1 + precision_2 * resid_2
        b_a = precision_1 * resid_1 - precision_2 * resid_2
        det = p_ss * p_aa - p_sa**2
        # Covariance = inverse precision; sample through its Cholesky factor.
        c_ss = p_aa / det
        l_11 = np.sqrt(c_ss)
        l_21 = -p_sa / det / l_11
        l_22 = np.sqrt(np.maximum(p_ss / det - l_21**2, 0.0))
        symmetric[block] = (p_aa * b_s - p_sa * b_a) / det + l_11 * z[0]
        asymmetric[block] = (p_ss * b_a - p_sa * b_s) / det + l_21 * z[0] + l_22 * z[1]
    return symmetric, asymmetric


def likelihood_units(data: TransferData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The conditionally independent units of the likelihood, in the order of :func:`log_likelihood`.

    Given the sampled parameters (pair effects integrated out) the two cells of a pair are
    dependent, so a unit is a pair whose two cells are both observed, or a single observed
    cell whose reverse cell is missing. PSIS-LOO over these units is leave-one-pair-out.

    Returns
    -------
    (target, source, n_cells)
        Positions of the unit's (first) cell and its number of cells (2 or 1).
    """
    both = np.flatnonzero(data.both_observed)
    target = np.concatenate([data.pair_first[both], data.single_target]).astype(np.int64)
    source = np.concatenate([data.pair_second[both], data.single_source]).astype(np.int64)
    n_cells = np.concatenate([np.full(both.size, 2), np.ones(data.single_target.size, dtype=np.int64)])
    return target, source, n_cells


def log_likelihood(data: TransferData, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """Pointwise log likelihood per unit (:func:`likelihood_units`) and posterior draw.

    The density the sampler used, with the pair effects integrated out: a pair with both
    cells observed is bivariate normal (variances ``sym^2 + asym^2 + noise_g^2``, covariance
    ``sym^2 - asym^2``); a single cell is normal with its marginal variance. The means come
    from :func:`latent_bts`.

    Parameters
    ----------
    data
        The fitted data.
    params
        Flat draws: the :data:`LATENT_PARAMETERS`, ``symmetric_sd``, ``asymmetric_sd``
        ``(draws,)`` and ``noise_sd`` ``(draws, 2)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, n_units)``; summed over units it is the model's log likelihood.
    """
    both = np.flatnonzero(data.both_observed)
    a, b = data.pair_first[both], data.pair_second[both]
    t, s = data.single_target, data.single_source
    symmetric_var = params["symmetric_sd"][:, None] ** 2
    asymmetric_var = params["asymmetric_sd"][:, None] ** 2
    noise_var = params["noise_sd"] ** 2
    pair_var = symmetric_var + asymmetric_var
    pair_cov = symmetric_var - asymmetric_var

    r_1 = data.bts_matrix[a, b] - latent_bts(params, a, b, data.same_script[a, b], data.same_family[a, b])
    r_2 = data.bts_matrix[b, a] - latent_bts(params, b, a, data.same_script[b, a], data.same_family[b, a])
    var_1 = pair_var + noise_var[:, data.group_matrix[a, b]]
    var_2 = pair_var + noise_var[:, data.group_matrix[b, a]]
    det = var_1 * var_2 - pair_cov**2
    quadratic = (var_2 * r_1**2 - 2.0 * pair_cov * r_1 * r_2 + var_1 * r_2**2) / det
    pairs = -np.log(2.0 * np.pi) - 0.5 * np.log(det) - 0.5 * quadratic

    r = data.bts_matrix[t, s] - latent_bts(params, t, s, data.same_script[t, s], data.same_family[t, s])
    var = pair_var + noise_var[:, data.group_matrix[t, s]]
    singles = -0.5 * np.log(2.0 * np.pi * var) - 0.5 * r**2 / var
    return np.concatenate([pairs, singles], axis=1)
