"""The Bayesian cross-lingual transfer map: fit, query and ship the posterior of BTS.

:class:`TransferModel` fits the partially pooled model of :mod:`bayes_atlas.models.transfer`
to a transfer matrix (rows target, columns source; NaN cells are predicted). The fitted
:class:`TransferFit` answers the questions users ask:

- :meth:`TransferFit.helpers`: the best source languages for a target, with intervals,
  ``p_helps`` = P(BTS > 0) and ``p_top_k`` = P(among the top k);
- :meth:`TransferFit.predict_pair`: BTS draws for any pair, languages outside the fit
  included (their effects drawn from the population, given their script and family);
- :meth:`TransferFit.predict_matrix`: posterior predictive draws of every cell;
- :meth:`TransferFit.tau`: the ATLAS transfer weight ``tau = BTS / (2 - BTS)`` per draw.

The fitted posterior of the published matrix ships with the package:
:func:`load_default` reads it without refitting (numpy and xarray only).

Examples
--------
>>> fit = load_default()
>>> fit.helpers("ms", k=3).index[0]
'id'
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_atlas import defaults
from bayes_atlas.errors import PosteriorFileError, TransferInputError, UnknownLanguageError
from bayes_atlas.inference import (
    Diagnostics,
    as_float64,
    compact_posterior,
    json_attr,
    read_posterior,
    write_posterior,
)
from bayes_atlas.laws.forms import tau_from_bts
from bayes_atlas.models.transfer import (
    LATENT_PARAMETERS,
    PAIR_PARAMETERS,
    TransferConfig,
    TransferData,
    latent_bts,
    likelihood_units,
    log_likelihood,
    prepare_transfer_data,
    sample_pair_effects,
)

__all__ = [
    "TransferConfig",
    "TransferFit",
    "TransferInputError",
    "TransferModel",
    "load_default",
    "model_card",
    "simulate_matrix",
]

MODEL_NAME = "transfer"
DEFAULT_FILE = "transfer.nc"
SAMPLE_DIMS = ("chain", "draw")
#: Sampler settings of :meth:`TransferModel.fit`. They differ from :mod:`bayes_atlas.defaults`
#: (1300 + 700 draws, target_accept 0.95) on purpose: the shipped ``models/transfer.nc`` was
#: fitted with these (``bayes-atlas fit-transfer`` passes the same), so the Python API and the
#: command line reproduce the shipped posterior for its seed.
FIT_DRAWS = 1000
FIT_TUNE = 1000
FIT_TARGET_ACCEPT = 0.9
#: The ``population="student_t"`` fit's default: its centred target deviations had 4 of 4000
#: transitions diverge at 0.9 on simulated nu = 3 data (seeds 1 and 3), none at 0.95.
STUDENT_T_TARGET_ACCEPT = 0.95
#: Groups of a saved fit: the data groups are always stored, the others unless ``compact``.
DATA_GROUPS = ("observed_data", "constant_data")
SAMPLER_GROUPS = ("sample_stats", "log_likelihood")
# Variables kept in a saved posterior (the non-centred raw variables are dropped).
_SAVED_SCALARS = (
    "intercept",
    "beta_script",
    "beta_family",
    "pair_sum_sd",
    "pair_diff_sd",
    "noise_share",
    "symmetric_sd",
    "asymmetric_sd",
    "language_corr",
    "language_nu",
    "mix_weight",
    "mix_gap",
)


# --------------------------------------------------------------------------------------
# Input checking
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    bts: np.ndarray
    codes: list[str]
    scripts: list[str]
    families: list[str]
    measured: np.ndarray | None
    rounding: float


def _coerce_inputs(
    matrix: xr.DataArray | pd.DataFrame,
    languages: pd.DataFrame | None,
    measured: np.ndarray | xr.DataArray | pd.DataFrame | None,
    rounding: float | None,
) -> _Inputs:
    from bayes_atlas.languages import languages as language_table
    from bayes_atlas.languages import normalize_code

    if isinstance(matrix, xr.DataArray):
        if set(matrix.dims) != {"target", "source"}:
            raise TransferInputError(f"matrix must have dims ('target', 'source'), got {matrix.dims}")
        matrix = matrix.transpose("target", "source")
        targets, sources = [str(c) for c in matrix.target.values], [str(c) for c in matrix.source.values]
        values = np.asarray(matrix.values)
        if measured is None and "measured" in matrix.coords:
            measured = np.asarray(matrix.coords["measured"].values, dtype=bool)
        if rounding is None:
            rounding = matrix.attrs.get("rounding")
        coord_meta = None
        if languages is None and {"target_script", "target_family"} <= set(matrix.coords):
            coord_meta = pd.DataFrame(
                {"script": matrix.target_script.values, "family": matrix.target_family.values}, index=targets
            )
    elif isinstance(matrix, pd.DataFrame):
        targets, sources = [str(c) for c in matrix.index], [str(c) for c in matrix.columns]
        try:
            values = matrix.to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise TransferInputError(f"matrix has non-numeric cells: {error}") from error
        coord_meta = None
    else:
        raise TransferInputError(
            f"matrix must be an xarray.DataArray (dims target, source) or a pandas.DataFrame "
            f"(rows target, columns source), got {type(matrix).__name__}"
        )
    if len(targets) < 3:
        raise TransferInputError(f"need at least 3 languages, got {len(targets)}")
    for axis, labels in (("target", targets), ("source", sources)):
        duplicated = sorted({c for c in labels if labels.count(c) > 1})
        if duplicated:
            raise TransferInputError(f"duplicated {axis} languages {duplicated}")
    if set(targets) != set(sources):
        raise TransferInputError(
            "matrix must list the same languages as targets and sources; "
            f"only targets: {sorted(set(targets) - set(sources))}, only sources: {sorted(set(sources) - set(targets))}"
        )
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise TransferInputError(f"matrix has non-numeric cells: {error}") from error
    order = [sources.index(code) for code in targets]
    values = values[:, order]
    if measured is not None:
        measured = np.asarray(getattr(measured, "values", measured), dtype=bool)
        if measured.shape != values.shape:
            raise TransferInputError(f"measured has shape {measured.shape}, the matrix {values.shape}")
        measured = measured[:, order]
    bad = np.isinf(values)
    if bad.any():
        t, s = np.argwhere(bad)[0]
        raise TransferInputError(f"cell (target={targets[t]}, source={targets[s]}) is infinite; use NaN for a missing cell")
    high = np.nan_to_num(values, nan=0.0) >= 2.0
    if high.any():
        t, s = np.argwhere(high)[0]
        raise TransferInputError(
            f"cell (target={targets[t]}, source={targets[s]}) has BTS {values[t, s]:g}; BTS must be < 2 "
            "(a 50/50 bilingual run cannot need fewer than zero tokens)"
        )
    off_diagonal = ~np.eye(len(targets), dtype=bool)
    if not np.isfinite(values[off_diagonal]).any():
        raise TransferInputError("matrix has no observed off-diagonal cell")

    codes = []
    for code in targets:
        try:
            codes.append(normalize_code(code))
        except UnknownLanguageError as error:
            raise TransferInputError(f"matrix language {code!r}: {error}") from error
    if languages is None:
        meta = coord_meta.set_axis(codes) if coord_meta is not None else language_table(codes)
    else:
        missing_cols = {"script", "family"} - set(languages.columns)
        if missing_cols:
            raise TransferInputError(f"languages table lacks columns {sorted(missing_cols)}")
        meta = languages.copy()
        meta.index = [normalize_code(str(c)) for c in meta.index]
        absent = [c for c in codes if c not in meta.index]
        if absent:
            raise TransferInputError(f"languages table has no row for {absent}")
        meta = meta.loc[codes]
    scripts = [str(s) if isinstance(s, str) and s else f"unknown:{c}" for c, s in zip(codes, meta["script"], strict=True)]
    families = [str(f) if isinstance(f, str) and f else f"unknown:{c}" for c, f in zip(codes, meta["family"], strict=True)]
    rounding = 0.1 if rounding is None else float(rounding)
    if not rounding >= 0:
        raise TransferInputError(f"rounding must be >= 0, got {rounding}")
    return _Inputs(values, codes, scripts, families, measured, rounding)


# --------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------


class TransferModel:
    """The partially pooled transfer model, ready to fit.

    Parameters
    ----------
    config
        Structure and priors (:class:`TransferConfig`); keyword overrides are applied on top.

    Examples
    --------
    >>> from bayes_atlas.datasets import transfer_matrix
    >>> fit = TransferModel().fit(transfer_matrix(), random_seed=1)  # doctest: +SKIP
    >>> fit.helpers("ms").head(3)  # doctest: +SKIP
    """

    def __init__(self, config: TransferConfig | None = None, **overrides: Any) -> None:
        base = (config or TransferConfig()).to_dict()
        base.update(overrides)
        self.config = TransferConfig.from_dict(base)

    def build(self, matrix: xr.DataArray | pd.DataFrame, languages: pd.DataFrame | None = None, measured=None):
        """The PyMC model for ``matrix``.

        Parameters
        ----------
        matrix, languages, measured
            As for :meth:`fit`.

        Returns
        -------
        pymc.Model
            From :func:`bayes_atlas.models.transfer.build_transfer_model`.
        """
        from bayes_atlas.models.transfer import build_transfer_model

        inputs = _coerce_inputs(matrix, languages, measured, None)
        return build_transfer_model(_prepare(inputs), self.config)

    def fit(
        self,
        matrix: xr.DataArray | pd.DataFrame,
        languages: pd.DataFrame | None = None,
        *,
        measured: np.ndarray | xr.DataArray | None = None,
        rounding: float | None = None,
        draws: int = FIT_DRAWS,
        tune: int = FIT_TUNE,
        chains: int = defaults.CHAINS,
        random_seed: int | None = None,
        nuts_sampler: str = "numpyro",
        target_accept: float | None = None,
        progressbar: bool = True,
        warn: bool = True,
    ) -> TransferFit:
        """Sample the posterior of the transfer model for ``matrix``.

        Parameters
        ----------
        matrix
            BTS(source -> target): a DataArray with dims ``(target, source)`` or a DataFrame
            with targets as rows and sources as columns; the same languages on both axes.
            NaN cells are missing and get predicted; the diagonal is ignored.
        languages
            Table indexed by language code with ``script`` and ``family`` columns. Default:
            the matrix's script/family coordinates, else :func:`bayes_atlas.languages.languages`.
        measured
            Boolean matrix: True for directly measured cells, False for cells that were
            themselves predicted (they get their own noise scale). Default: the matrix's
            ``measured`` coordinate, else every cell is treated as measured.
        rounding
            Rounding step of the values (noise floor ``rounding / sqrt(12)``); default the
            matrix's ``rounding`` attribute, else 0.1.
        draws, tune, chains, random_seed
            NUTS settings; the defaults (:data:`FIT_DRAWS`, :data:`FIT_TUNE`,
            ``bayes_atlas.defaults.CHAINS``) converge on the published matrix (about 25 s on
            2 cores) and are those of the shipped posterior.
        nuts_sampler
            ``"numpyro"`` (default), ``"pymc"`` or ``"nutpie"``.
        target_accept
            Step-size adaptation target; default :data:`FIT_TARGET_ACCEPT` (0.9), or
            :data:`STUDENT_T_TARGET_ACCEPT` (0.95) for ``population="student_t"``.
        progressbar
            Show the sampler's progress bar.
        warn
            Emit :class:`bayes_atlas.errors.ConvergenceWarning` for failed diagnostics.

        Returns
        -------
        TransferFit
            With the whole DataTree: posterior, sample_stats, observed_data, constant_data
            and log_likelihood.

        Notes
        -----
        The same seed gives the same posterior whether or not JAX was started before the fit:
        where JAX already runs with fewer host devices than ``chains`` (NumPyro would then run
        the chains one after another), the fit samples in a fresh process
        (:func:`bayes_atlas.inference.fit_in_fresh_process`), as :func:`bayes_atlas.fit` does.

        Raises
        ------
        TransferInputError
            For a matrix or language table that cannot be fitted.
        """
        from bayes_atlas.inference import (
            diagnose,
            fit_in_fresh_process,
            jax_started_with_fewer_devices,
            sample_nuts,
            warn_on_diagnostics,
        )
        from bayes_atlas.models.transfer import build_transfer_model

        if target_accept is None:
            target_accept = STUDENT_T_TARGET_ACCEPT if self.config.population == "student_t" else FIT_TARGET_ACCEPT
        inputs = _coerce_inputs(matrix, languages, measured, rounding)
        if nuts_sampler == "numpyro" and chains > 1 and jax_started_with_fewer_devices(chains):
            # As bayes_atlas.fit: chains would run one after another here, whose floating point
            # differs from parallel chains (another posterior for the same seed). Sample in a
            # fresh process, where JAX starts with one host device per chain.
            arguments = dict(
                matrix=matrix,
                languages=languages,
                measured=measured,
                rounding=rounding,
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=random_seed,
                nuts_sampler=nuts_sampler,
                target_accept=target_accept,
                progressbar=progressbar,
                warn=False,
            )
            fit = fit_in_fresh_process(self.fit, arguments)
            if warn:
                warn_on_diagnostics(fit.diagnostics, what="transfer model fit")
            return fit
        data = _prepare(inputs)
        model = build_transfer_model(data, self.config)
        idata, wall = sample_nuts(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            nuts_sampler=nuts_sampler,
            target_accept=target_accept,
            progressbar=progressbar,
            # The Student-t population's target deviations are centred: a chain jittered to
            # intercept +0.4 (truth -0.38) stayed there, absorbing the shift into 38 deviations
            # of scale 4.7 (simulated nu = 3, seed 3: r_hat 1.60). Only the *_z offsets disperse
            # (nutpie takes no per-chain start, so it keeps the jitter).
            init="z" if self.config.population == "student_t" and nuts_sampler != "nutpie" else "jitter",
        )
        # Every stored quantity is diagnosed: the sampled ones and the deterministics.
        diagnostics = diagnose(idata, wall_time_s=wall, sampler=nuts_sampler)
        if warn:
            warn_on_diagnostics(diagnostics, what="transfer model fit")
        pair_seed = int(np.random.default_rng(random_seed).integers(2**31 - 1))
        meta = {
            "pair_effect_seed": pair_seed,
            "created": _dt.date.today().isoformat(),
            "tune": int(tune),
            "random_seed": random_seed,
            "target_accept": float(target_accept),
        }
        posterior = _numpy(_posterior_dataset(idata["posterior"].to_dataset(), self.config))
        if self.config.population == "mixture":
            posterior = _unseen_from_mixture(posterior, data, random_seed)
        elif self.config.population == "student_t":
            posterior = _unseen_from_student_t(posterior, data, random_seed, self.config.family_effects)
        groups = {
            "posterior": posterior,
            "sample_stats": _numpy(idata["sample_stats"].to_dataset()),
            **_data_groups(inputs),
        }
        fit = TransferFit(xr.DataTree.from_dict(groups), self.config, diagnostics, meta)
        fit._groups["log_likelihood"] = fit._log_likelihood()
        return fit


def _stacked(posterior: xr.Dataset, name: str) -> np.ndarray:
    """Draws of ``name`` as floats, chains stacked: ``(chains * draws, *dims)``."""
    values = np.asarray(posterior[name].values, dtype=float)
    return values.reshape(posterior.sizes["chain"] * posterior.sizes["draw"], *values.shape[2:])


def _unseen_from_mixture(posterior: xr.Dataset, data: TransferData, seed: int | None) -> xr.Dataset:
    """Target effects of languages with no observed cell, drawn from each draw's mixture population.

    Given the hyperparameters such a language's effect is independent of the data, so a draw
    after sampling is exact; inside NUTS a bimodal prior would not mix.
    """
    from bayes_atlas.models.transfer import draw_mixture_targets, mixture_seen

    unseen = np.flatnonzero(~mixture_seen(data))
    if not unseen.size:
        return posterior
    rng = np.random.default_rng([0 if seed is None else int(seed), 7])
    drawn = draw_mixture_targets(
        _stacked(posterior, "mix_weight"), _stacked(posterior, "mix_gap"), _stacked(posterior, "target_sd"), unseen.size, rng
    )
    return _with_unseen(posterior, unseen, {"target_effect": drawn})


def _unseen_from_student_t(posterior: xr.Dataset, data: TransferData, seed: int | None, family_effects: bool) -> xr.Dataset:
    """Target and source effects of languages with no observed cell, drawn from each draw's Student-t population.

    Sampled centred, such a language's target deviation is its prior alone, whose near-Cauchy
    tails (nu ~ 1 on the published matrix) NUTS under-samples: with yo left out, its 0.5% / 99.5%
    quantiles were -1.99 / 2.12 against -6.45 / 6.66 drawn exactly from the same (nu, scale)
    draws. Given the hyperparameters the effects are independent of the data, so a draw after
    sampling is exact (as the :meth:`TransferFit._effect_draws` of an unfitted language).
    """
    from bayes_atlas.models.transfer import draw_population_effects, mixture_seen

    unseen = np.flatnonzero(~mixture_seen(data))
    if not unseen.size:
        return posterior
    rng = np.random.default_rng([0 if seed is None else int(seed), 11])
    sd, corr, nu = (_stacked(posterior, name) for name in ("language_sd", "language_corr", "language_nu"))
    effects = draw_population_effects(sd, corr, unseen.size, rng, nu=nu)
    if family_effects:
        effects += _stacked(posterior, "family_effect")[:, np.asarray(data.family_index)[unseen], :]
    return _with_unseen(posterior, unseen, {"target_effect": effects[..., 0], "source_effect": effects[..., 1]})


def _with_unseen(posterior: xr.Dataset, unseen: np.ndarray, drawn: dict[str, np.ndarray]) -> xr.Dataset:
    """``posterior`` with the ``unseen`` languages' columns of each named variable replaced by ``(draws, unseen)`` values."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    out = posterior.copy()
    for name, values in drawn.items():
        replaced = np.array(posterior[name].values, dtype=float)
        replaced[:, :, unseen] = values.reshape(chains, draws, unseen.size)
        out[name] = posterior[name].copy(data=replaced)
    return out


def _numpy(dataset: xr.Dataset) -> xr.Dataset:
    """The same dataset on numpy arrays (NumPyro's draws arrive as JAX arrays, which a process
    without JAX's float64 mode would unpickle as float32)."""
    return dataset.map(lambda variable: variable.copy(data=np.asarray(variable.values)), keep_attrs=True)


def _prepare(inputs: _Inputs) -> TransferData:
    return prepare_transfer_data(inputs.bts, inputs.codes, inputs.scripts, inputs.families, inputs.measured, inputs.rounding)


def _data_groups(inputs: _Inputs) -> dict[str, xr.Dataset]:
    """``observed_data`` (the matrix) and ``constant_data`` (noise groups, script, family)."""
    codes = inputs.codes
    measured = inputs.measured if inputs.measured is not None else np.ones_like(inputs.bts, dtype=bool)
    attrs = {"rounding": inputs.rounding, "has_measured_mask": int(inputs.measured is not None)}
    observed = xr.Dataset({"bts": (("target", "source"), inputs.bts)}, coords={"target": codes, "source": codes}, attrs=attrs)
    constant = xr.Dataset(
        {
            "measured": (("target", "source"), measured & ~np.eye(len(codes), dtype=bool)),
            "script": (("language",), np.asarray(inputs.scripts, dtype=str)),
            "family": (("language",), np.asarray(inputs.families, dtype=str)),
        },
        coords={"target": codes, "source": codes, "language": codes},
        attrs=attrs,
    )
    return {"observed_data": observed, "constant_data": constant}


def _split_old_observed(observed: xr.Dataset) -> dict[str, xr.Dataset]:
    """Files written before the full DataTree kept the constants in ``observed_data``."""
    constant = observed[["measured", "script", "family"]]
    return {"observed_data": observed[["bts"]].drop_vars("language", errors="ignore"), "constant_data": constant}


def _posterior_dataset(raw: xr.Dataset, config: TransferConfig) -> xr.Dataset:
    """Keep the interpretable variables (the non-centred raw ones are dropped)."""
    keep = [name for name in _SAVED_SCALARS if name in raw]
    keep += ["target_effect", "source_effect", "language_sd", "noise_sd"]
    if config.population == "mixture":
        keep += ["target_sd"]
    if config.family_effects:
        keep += ["family_effect", "family_sd"]
    return raw[keep]


_PAIR_EFFECT_INPUTS = (*LATENT_PARAMETERS, "symmetric_sd", "asymmetric_sd", "noise_sd")


def _with_pair_effects(posterior: xr.Dataset, data: TransferData, seed: int) -> xr.Dataset:
    """Add the integrated-out pair effects, drawn from their exact conditional given each draw.

    They are a deterministic function of the other draws, the data and ``seed``, so a saved
    posterior stores the seed instead of 1,400 numbers per draw.
    """
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    params = {name: _stacked(posterior, name) for name in _PAIR_EFFECT_INPUTS}
    symmetric, asymmetric = sample_pair_effects(data, params, np.random.default_rng(seed))
    pair_coords = {
        "pair": np.arange(data.pair_first.size),
        "pair_first": ("pair", np.asarray(data.languages)[data.pair_first]),
        "pair_second": ("pair", np.asarray(data.languages)[data.pair_second]),
    }
    out = posterior.copy()
    for name, values in zip(PAIR_PARAMETERS, (symmetric, asymmetric), strict=True):
        out[name] = xr.DataArray(
            values.reshape(chains, draws, -1),
            dims=("chain", "draw", "pair"),
            coords={"chain": posterior.chain, "draw": posterior.draw, **pair_coords},
            attrs={"note": "drawn from the exact conditional given the other parameters (integrated out when sampling)"},
        )
    return out


def _data_from_observed(observed: xr.Dataset) -> TransferData:
    measured = observed["measured"].values if observed.attrs.get("has_measured_mask", 1) else None
    return prepare_transfer_data(
        np.asarray(observed["bts"].values, dtype=float),
        [str(c) for c in observed.language.values],
        [str(c) for c in observed.script.values],
        [str(c) for c in observed.family.values],
        measured,
        float(observed.attrs.get("rounding", 0.1)),
    )


def _interval(draws: np.ndarray, ci: float) -> dict[str, Any]:
    """Median, sd and equal-tailed ``ci`` interval of draws along axis 0."""
    lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
    return {"median": median, "sd": draws.std(axis=0, ddof=1), "lower": lower, "upper": upper}


# --------------------------------------------------------------------------------------
# The fitted object
# --------------------------------------------------------------------------------------


class TransferFit:
    """A fitted transfer model: its posterior, the data it saw, and the queries users ask.

    Parameters
    ----------
    datatree
        An ArviZ DataTree with at least ``posterior`` and ``observed_data`` (the matrix
        ``bts``) and ``constant_data`` (``measured``, ``script``, ``family``); optionally
        ``sample_stats`` and ``log_likelihood``. An ``observed_data`` group that holds the
        constants too (files written before the full DataTree) is accepted. The pair effects
        are drawn (with ``meta["pair_effect_seed"]``) when the posterior lacks them.
    config
        The :class:`TransferConfig` used.
    diagnostics
        :class:`bayes_atlas.inference.Diagnostics` of the fit.
    meta
        Creation date, tuning steps, seeds, and where the fit came from.

    Attributes
    ----------
    posterior
        xarray Dataset with dims ``chain``, ``draw`` and ``target`` / ``source`` (language
        effects), ``pair`` (the symmetric and asymmetric pair effects, with ``pair_first`` /
        ``pair_second`` coordinates), ``effect`` and ``noise_group``.
    observed
        The fitted matrix (``bts``, ``measured``) and the ``script`` / ``family`` of each
        language, in one Dataset (``observed_data`` and ``constant_data`` merged).
    config, diagnostics, meta
        As given.
    """

    def __init__(
        self,
        datatree: xr.DataTree,
        config: TransferConfig,
        diagnostics: Diagnostics,
        meta: dict[str, Any] | None = None,
    ) -> None:
        groups = {str(name): node.to_dataset() for name, node in datatree.children.items()}
        missing = {"posterior", "observed_data"} - set(groups)
        if missing:
            raise PosteriorFileError(f"a transfer fit needs the groups {sorted(missing)}; refit and save again")
        if "constant_data" not in groups:
            groups.update(_split_old_observed(groups["observed_data"]))
        self.config = config
        self.diagnostics = diagnostics
        self.meta = dict(meta or {})
        self.observed = xr.merge([groups["observed_data"], groups["constant_data"]], combine_attrs="override")
        self.observed.attrs = {**groups["constant_data"].attrs, **groups["observed_data"].attrs}
        self._data = _data_from_observed(self.observed)
        posterior = groups.pop("posterior")
        if not set(PAIR_PARAMETERS) <= set(posterior.data_vars):
            if "pair_effect_seed" not in self.meta:
                raise PosteriorFileError("the posterior has no pair effects and no seed to draw them; refit and save again")
            posterior = _with_pair_effects(posterior, self._data, int(self.meta["pair_effect_seed"]))
        self.posterior = posterior
        self._groups = groups
        self.languages: tuple[str, ...] = tuple(str(c) for c in self.observed.language.values)
        self._position = {code: i for i, code in enumerate(self.languages)}
        self._scripts = np.asarray(self.observed.script.values, dtype=object)
        self._families = np.asarray(self.observed.family.values, dtype=object)
        stored_first = np.asarray(posterior["pair_first"].values, dtype=str)
        if not np.array_equal(stored_first, np.asarray(self.languages)[self._data.pair_first]):
            raise PosteriorFileError("pair order of the posterior does not match its languages")

    # -- the ArviZ view and the draws ---------------------------------------------------

    @property
    def datatree(self) -> xr.DataTree:
        """The fit as an ArviZ DataTree.

        Groups: ``posterior`` (pair effects included), ``observed_data`` (the matrix),
        ``constant_data`` (noise group, script and family), and for a fresh fit or a file
        saved without ``compact``: ``sample_stats`` (``diverging``, ``tree_depth``,
        ``energy``, ...) and ``log_likelihood`` (``bts``: one entry per likelihood unit, see
        :func:`bayes_atlas.models.transfer.likelihood_units`, so ``az.loo`` is
        leave-one-pair-out). Works with ``az.summary``, ``az.plot_trace``, ``az.loo``.

        Examples
        --------
        >>> import arviz as az  # doctest: +SKIP
        >>> az.summary(load_default().datatree, var_names=["beta_script"])  # doctest: +SKIP
        """
        return xr.DataTree.from_dict({"posterior": self.posterior, **self._groups})

    @property
    def n_draws(self) -> int:
        """Total posterior draws (chains x draws)."""
        return int(self.posterior.sizes["chain"] * self.posterior.sizes["draw"])

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of ``name``, chains stacked: shape ``(n_draws, *variable dims)``.

        Parameters
        ----------
        name
            A posterior variable (``intercept``, ``target_effect``, ``symmetric``, ...).

        Raises
        ------
        ValueError
            If the posterior has no such variable.

        Examples
        --------
        >>> load_default().draws("target_effect").shape
        (4000, 38)
        """
        if name not in self.posterior.data_vars:
            raise ValueError(f"the transfer posterior has no {name!r}; it has {sorted(self.posterior.data_vars)}")
        values = self.posterior[name].values
        return values.reshape(self.n_draws, *values.shape[2:])

    def _params(self, names: tuple[str, ...] = (*LATENT_PARAMETERS, *PAIR_PARAMETERS)) -> dict[str, np.ndarray]:
        return {name: self.draws(name) for name in names}

    def _unstack(self, values: np.ndarray) -> np.ndarray:
        return values.reshape(self.posterior.sizes["chain"], self.posterior.sizes["draw"], *values.shape[1:])

    def _log_likelihood(self) -> xr.Dataset:
        """The ``log_likelihood`` group: per likelihood unit and draw (see :func:`log_likelihood`)."""
        params = self._params((*LATENT_PARAMETERS, "symmetric_sd", "asymmetric_sd", "noise_sd"))
        values = log_likelihood(self._data, params)
        target, source, n_cells = likelihood_units(self._data)
        codes = np.asarray(self.languages)
        return xr.Dataset(
            {"bts": ((*SAMPLE_DIMS, "unit"), self._unstack(values))},
            coords={
                "chain": self.posterior.chain.values,
                "draw": self.posterior.draw.values,
                "unit": np.arange(target.size),
                "unit_target": ("unit", codes[target]),
                "unit_source": ("unit", codes[source]),
                "unit_cells": ("unit", n_cells),
            },
            attrs={"note": "pair effects integrated out; a unit is a pair with both cells observed or one cell"},
        )

    def _latent_cells(self, target_pos: np.ndarray, source_pos: np.ndarray) -> np.ndarray:
        """Latent BTS draws for fitted cells; shape ``(draws, *target_pos.shape)``, NaN on the diagonal."""
        t, s = np.ravel(target_pos), np.ravel(source_pos)
        d = self._data
        value = latent_bts(self._params(), t, s, d.same_script[t, s], d.same_family[t, s], d.pair_index[t, s], d.pair_sign[t, s])
        value = np.where(t == s, np.nan, value)
        return value.reshape(self.n_draws, *np.shape(target_pos))

    def bts(self) -> xr.DataArray:
        """Posterior draws of the latent (denoised) transfer matrix.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, target, source)``; NaN diagonal.
        """
        n = len(self.languages)
        t, s = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return self._matrix_array(self._latent_cells(t, s), "bts", "latent BTS(source -> target)")

    def _matrix_array(self, flat: np.ndarray, name: str, long_name: str) -> xr.DataArray:
        return xr.DataArray(
            self._unstack(flat),
            dims=("chain", "draw", "target", "source"),
            coords={
                "chain": self.posterior.chain.values,
                "draw": self.posterior.draw.values,
                "target": list(self.languages),
                "source": list(self.languages),
            },
            name=name,
            attrs={"long_name": long_name},
        )

    def observed_matrix(self) -> xr.DataArray:
        """The fitted matrix with the coordinates of :func:`bayes_atlas.datasets.transfer_matrix`.

        Returns
        -------
        xarray.DataArray
            Dims ``(target, source)``; coords ``measured``, ``target_script``,
            ``source_script``, ``target_family``, ``source_family``.
        """
        observed = self.observed
        return observed["bts"].assign_coords(
            measured=observed["measured"],
            target_script=("target", observed["script"].values),
            source_script=("source", observed["script"].values),
            target_family=("target", observed["family"].values),
            source_family=("source", observed["family"].values),
        )

    def predict_matrix(self, *, noise: bool = True, random_seed: int | None = None) -> xr.DataArray:
        """Posterior predictive draws of every cell of the matrix.

        Parameters
        ----------
        noise
            Add each cell's observation noise (its noise group's scale: measured or
            predicted), so draws are comparable with printed values, held-out cells
            included. ``False`` gives the latent transfer (:meth:`bts`).
        random_seed
            Seed of the noise draws.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, target, source)``; NaN diagonal.
        """
        latent = self.bts()
        if not noise:
            return latent
        rng = np.random.default_rng(random_seed)
        group = np.where(self.observed["measured"].values, 0, 1)
        if not self.observed.attrs.get("has_measured_mask", 1):
            group = np.zeros_like(group)
        scale = self.draws("noise_sd")[:, group]
        noisy = latent.values.reshape(self.n_draws, *group.shape) + scale * rng.standard_normal(scale.shape)
        return self._matrix_array(noisy, "bts_predictive", "posterior predictive BTS(source -> target)")

    # -- queries ------------------------------------------------------------------------

    def _code(self, code: str) -> str:
        from bayes_atlas.languages import normalize_code

        return normalize_code(code)

    def helpers(
        self,
        target: str,
        k: int = 5,
        *,
        ci: float = defaults.CI,
        top: int | None = None,
        all_sources: bool = False,
        random_seed: int | None = defaults.SEED,
    ) -> pd.DataFrame:
        """Source languages ranked for ``target`` by posterior mean BTS.

        Parameters
        ----------
        target
            Any language code. For a language outside the fit, its effects and pair effects
            are drawn from the population (see :meth:`predict_pair`), so the ranking rests on
            the sources' effects and shared script / family, with wide intervals
            (``table.attrs["fitted_target"]`` is False).
        k
            The ``k`` of ``p_top_k`` (probability of being among the target's ``k`` best sources).
        ci
            Credible mass of the equal-tailed interval.
        top
            Rows to return (default: ``k``, the best ``k`` sources by posterior mean BTS).
        all_sources
            Return every source (overrides ``top``).
        random_seed
            Seed of the population draws for a target outside the fit.

        Returns
        -------
        pandas.DataFrame
            Index ``source`` (best first); columns ``name``, ``bts_mean``, ``bts_median``,
            ``bts_lower``, ``bts_upper``, ``p_helps`` = P(BTS > 0), ``p_top_k``,
            ``published`` (the fitted value, NaN where the cell was missing), ``measured``.
            The ranking is by the mean (the expected transfer); ``bts_median`` is the centre
            reported beside the interval.

        Raises
        ------
        ValueError
            If ``k`` or ``ci`` are out of range.
        bayes_atlas.UnknownLanguageError
            If ``target`` is not a language code.

        Examples
        --------
        >>> load_default().helpers("ms", k=1, top=2)[["p_helps"]].round(2)  # doctest: +SKIP
        """
        code = self._code(target)
        fitted_target = code in self._position
        n_sources = len(self.languages) - int(fitted_target)
        if not 1 <= int(k) <= n_sources:
            raise ValueError(f"k must be between 1 and {n_sources}, got {k!r}")
        _check_ci(ci)
        if fitted_target:
            t = self._position[code]
            sources = np.array([i for i in range(len(self.languages)) if i != t])
            draws = self._latent_cells(np.full(sources.size, t), sources)
        else:
            sources = np.arange(len(self.languages))
            draws = self._unfitted_target_draws(code, np.random.default_rng(random_seed))
        # Rank within each draw: p_top_k = share of draws in which a source is among the k best.
        order = np.argsort(-draws, axis=1, kind="stable")
        top_k = np.zeros_like(draws, dtype=bool)
        np.put_along_axis(top_k, order[:, : int(k)], True, axis=1)
        lower, median, upper = np.quantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
        from bayes_atlas.languages import languages as language_table

        source_codes = [self.languages[i] for i in sources]
        try:
            names = language_table(source_codes)["name"].to_numpy()
        except Exception:  # noqa: BLE001 - names are cosmetic; a user code may be unknown to CLDR
            names = np.asarray(source_codes)
        table = pd.DataFrame(
            {
                "name": names,
                "bts_mean": draws.mean(axis=0),
                "bts_median": median,
                "bts_lower": lower,
                "bts_upper": upper,
                "p_helps": (draws > 0).mean(axis=0),
                "p_top_k": top_k.mean(axis=0),
                "published": self.observed["bts"].values[t, sources] if fitted_target else np.nan,
                "measured": self.observed["measured"].values[t, sources] if fitted_target else False,
            },
            index=pd.Index(source_codes, name="source"),
        )
        table = table.sort_values("bts_mean", ascending=False, kind="stable")
        found = []
        if not fitted_target:
            from bayes_atlas.errors import DecisionWarning

            found.append(
                DecisionWarning(
                    "BA204",
                    f"{code} is not one of the transfer posterior's {len(self.languages)} languages: its BTS comes "
                    "from the fitted population and its script/family (wider intervals)",
                )
            )
        table.attrs.update(target=code, k=int(k), ci=ci, fitted_target=fitted_target, warnings=found)
        return table if all_sources else table.head(int(k if top is None else top))

    def predict_pair(
        self,
        source: str,
        target: str,
        *,
        noise: bool = False,
        script: str | None = None,
        family: str | None = None,
        random_seed: int | None = defaults.SEED,
    ) -> xr.DataArray:
        """Posterior draws of BTS(source -> target) for any pair of languages.

        A fitted language uses its posterior effects. A language outside the fit gets its
        target and source effects drawn from the population distribution (correlated, as
        fitted), its script / family covariates from :func:`bayes_atlas.languages.language_info`
        (or the ``script`` / ``family`` arguments), and a pair effect drawn from the
        population of pair effects, so its interval is wider than a fitted pair's.

        Parameters
        ----------
        source, target
            ISO 639 codes (any language, fitted or not; they must differ).
        noise
            Add the observation noise of a predicted cell (for comparison with printed values).
        script, family
            Override the script / family used for a language outside the fit.
        random_seed
            Seed of the population draws.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw)``; attrs ``source``, ``target``, ``fitted_pair``.

        Examples
        --------
        >>> fit = load_default()
        >>> wide = fit.predict_pair("en", "hi").std().item()
        >>> narrow = fit.predict_pair("en", "ca").std().item()
        >>> bool(wide > narrow)
        True
        """
        from bayes_atlas.languages import language_info

        source_code, target_code = self._code(source), self._code(target)
        if source_code == target_code:
            raise ValueError(f"source and target are the same language ({source_code}); BTS is defined between two languages")
        rng = np.random.default_rng(random_seed)
        n = self.n_draws
        fitted = {code: code in self._position for code in (source_code, target_code)}
        if all(fitted.values()):
            t, s = self._position[target_code], self._position[source_code]
            values = self._latent_cells(np.array([t]), np.array([s]))[:, 0]
        else:
            meta = {}
            for code in (source_code, target_code):
                if fitted[code]:
                    i = self._position[code]
                    meta[code] = (self._scripts[i], self._families[i])
                else:
                    info = language_info(code)
                    meta[code] = (
                        script or info["script"] or f"unknown:{code}",
                        family or info["family"] or f"unknown:{code}",
                    )
            effects = {code: self._effect_draws(code, meta[code][1], rng) for code in (source_code, target_code)}
            # One cell, the pair's languages as a two-language system (target 0, source 1)
            # with a pair effect drawn from the population (its sign is immaterial).
            params = self._params(("intercept", "beta_script", "beta_family"))
            params["target_effect"] = effects[target_code][:, [0]]
            params["source_effect"] = effects[source_code][:, [1]]
            params["symmetric"] = (self.draws("symmetric_sd") * rng.standard_normal(n))[:, None]
            params["asymmetric"] = (self.draws("asymmetric_sd") * rng.standard_normal(n))[:, None]
            same_script = np.array([float(meta[source_code][0] == meta[target_code][0])])
            same_family = np.array([float(meta[source_code][1] == meta[target_code][1])])
            zero = np.array([0])
            values = latent_bts(params, zero, zero, same_script, same_family, zero, np.ones(1))[:, 0]
        if noise:
            values = values + self.draws("noise_sd")[:, -1] * rng.standard_normal(n)
        return xr.DataArray(
            self._unstack(values),
            dims=SAMPLE_DIMS,
            coords={"chain": self.posterior.chain.values, "draw": self.posterior.draw.values},
            name="bts",
            attrs={
                "source": source_code,
                "target": target_code,
                "fitted_pair": all(fitted.values()),
                "long_name": f"BTS({source_code} -> {target_code})",
            },
        )

    def _unfitted_target_draws(self, code: str, rng: np.random.Generator) -> np.ndarray:
        """(draws, L) BTS(source -> code) for every fitted source, ``code`` outside the fit.

        The target's own effect is one draw shared by all sources; pair effects are independent.
        """
        from bayes_atlas.languages import language_info

        info = language_info(code)
        script = info["script"] or f"unknown:{code}"
        family = info["family"] or f"unknown:{code}"
        n_sources = len(self.languages)
        params = self._params(("intercept", "beta_script", "beta_family", "source_effect"))
        params["target_effect"] = self._effect_draws(code, family, rng)[:, [0]]
        params["symmetric"] = self.draws("symmetric_sd")[:, None] * rng.standard_normal((self.n_draws, n_sources))
        params["asymmetric"] = self.draws("asymmetric_sd")[:, None] * rng.standard_normal((self.n_draws, n_sources))
        sources = np.arange(n_sources)
        return latent_bts(
            params,
            np.zeros(n_sources, dtype=np.int64),
            sources,
            (self._scripts == script).astype(float),
            (self._families == family).astype(float),
            sources,
            np.ones(n_sources),
        )

    def _effect_draws(self, code: str, family: str, rng: np.random.Generator) -> np.ndarray:
        """(draws, 2) target and source effects of a language: posterior if fitted, else population."""
        if code in self._position:
            i = self._position[code]
            return np.column_stack([self.draws("target_effect")[:, i], self.draws("source_effect")[:, i]])
        from bayes_atlas.models.transfer import draw_mixture_targets, draw_population_effects

        sd = self.draws("language_sd")
        if self.config.population == "mixture":
            target = draw_mixture_targets(self.draws("mix_weight"), self.draws("mix_gap"), self.draws("target_sd"), 1, rng)[:, 0]
            return np.column_stack([target, sd[:, 1] * rng.standard_normal(self.n_draws)])
        nu = self.draws("language_nu") if self.config.population == "student_t" else None
        effects = draw_population_effects(sd, self.draws("language_corr"), 1, rng, nu=nu)[:, 0, :]
        if self.config.family_effects:
            families = list(self.posterior["family"].values)
            if family in families:
                effects += self.draws("family_effect")[:, families.index(family), :]
            else:
                effects += self.draws("family_sd") * rng.standard_normal((self.n_draws, 2))
        return effects

    def tau(self, target: str | None = None, source: str | None = None) -> xr.DataArray:
        """The ATLAS transfer weight ``tau = BTS / (2 - BTS)`` per posterior draw.

        Parameters
        ----------
        target, source
            Restrict to one target and/or one source (fitted languages). ``None`` keeps all.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, target, source)`` minus the selected ones; NaN diagonal.

        Raises
        ------
        ValueError
            For a language outside the fit, or a draw with BTS >= 2.
        """
        bts = self.bts()
        selection = {}
        for dim, code in (("target", target), ("source", source)):
            if code is not None:
                canonical = self._code(code)
                if canonical not in self._position:
                    raise ValueError(f"{code!r} is not a fitted language; use predict_pair for others")
                selection[dim] = canonical
        bts = bts.sel(selection)
        if np.nanmax(bts.values) >= 2:
            raise ValueError("a posterior BTS draw is >= 2, where tau is undefined; check the fit")
        tau = tau_from_bts(bts)
        tau.name = "tau"
        tau.attrs = {"long_name": "ATLAS transfer weight tau = BTS / (2 - BTS)"}
        return tau

    def script_family_posterior(self, ci: float = defaults.CI) -> pd.DataFrame:
        """Posterior of the same-script and same-family coefficients.

        Parameters
        ----------
        ci
            Credible mass of the equal-tailed interval.

        Returns
        -------
        pandas.DataFrame
            Index ``term`` (``same_script``, ``same_family``); columns ``median``, ``sd``,
            ``lower``, ``upper`` (equal-tailed ``ci``) and ``p_positive``.
        """
        _check_ci(ci)
        rows = {}
        for term, name in (("same_script", "beta_script"), ("same_family", "beta_family")):
            draws = self.draws(name)
            rows[term] = {**_interval(draws, ci), "p_positive": (draws > 0).mean()}
        table = pd.DataFrame(rows).T.rename_axis("term").astype(float)
        table.attrs["ci"] = ci
        return table

    def summary(self, ci: float = defaults.CI) -> pd.DataFrame:
        """Posterior median, sd and equal-tailed interval of the hyperparameters.

        Parameters
        ----------
        ci
            Credible mass of the equal-tailed interval.

        Returns
        -------
        pandas.DataFrame
            One row per scalar (``intercept``, ``beta_script``, ...) and per element of
            ``language_sd`` / ``noise_sd`` (``language_sd[target]``, ...); columns
            ``median``, ``sd``, ``lower``, ``upper``.
        """
        _check_ci(ci)
        rows = {}
        for name in [*_SAVED_SCALARS, "language_sd", "noise_sd"]:
            if name not in self.posterior:
                continue
            variable = self.posterior[name]
            extra_dims = [d for d in variable.dims if d not in SAMPLE_DIMS]
            labels = [""] if not extra_dims else [f"[{v}]" for v in variable[extra_dims[0]].values]
            flat = self.draws(name).reshape(self.n_draws, -1)
            for j, label in enumerate(labels):
                rows[name + label] = _interval(flat[:, j], ci)
        table = pd.DataFrame(rows).T.astype(float)
        table.attrs["ci"] = ci
        return table

    # -- persistence --------------------------------------------------------------------

    def save(self, path: str | Path, *, compact: bool = False, max_draws: int | None = None, float32: bool = False) -> Path:
        """Write the fit to a netCDF file (atomically), with config, data hash and version.

        Parameters
        ----------
        path
            Target file (``.nc``).
        compact
            Keep the posterior only (with the matrix it was fitted to, ``observed_data`` and
            ``constant_data``, without which it cannot be used): no ``sample_stats`` or
            ``log_likelihood``. By default the whole DataTree is stored, so ``az.loo`` and
            trace/energy plots work on the loaded file.
        max_draws
            Keep at most this many draws in total, evenly thinned per chain (every group);
            the diagnostics stored are those of the full fit. The pair effects are not
            stored: they are redrawn on load from their exact conditional with the fit's seed.
        float32
            Store draws in single precision (halves the file; ample for BTS at 0.1 rounding).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        posterior = self.posterior.drop_vars([*PAIR_PARAMETERS, "pair_first", "pair_second", "pair"], errors="ignore")
        groups = {"posterior": posterior, **{name: self._groups[name] for name in DATA_GROUPS}}
        if not compact:
            groups.update({name: self._groups[name] for name in SAMPLER_GROUPS if name in self._groups})
        tree = xr.DataTree.from_dict(
            {
                name: compact_posterior(group, max_draws=max_draws, float32=float32) if "chain" in group.dims else group
                for name, group in groups.items()
            }
        )
        attrs = {
            "config": self.config.to_dict(),
            "diagnostics": self.diagnostics.to_dict(),
            "data_hash": self.data_hash(),
            "meta": {k: v for k, v in self.meta.items() if k not in ("source_file", "bayes_atlas_version")},
        }
        return write_posterior(tree, path, model=MODEL_NAME, attrs=attrs)

    @classmethod
    def load(cls, path: str | Path) -> TransferFit:
        """Read a fit written by :meth:`save` (any version of the format: whole DataTree,
        ``compact``, or the posterior-and-matrix files written before the DataTree).

        Parameters
        ----------
        path
            The netCDF file.

        Returns
        -------
        TransferFit

        Raises
        ------
        bayes_atlas.errors.PosteriorFileError
            If the file is not a transfer posterior of a compatible format, or its data hash
            does not match the data it holds.
        """
        tree = read_posterior(path, model=MODEL_NAME)
        return cls.from_datatree(tree, source=str(path))

    @classmethod
    def from_datatree(cls, tree: xr.DataTree, *, source: str = "posterior") -> TransferFit:
        """Rebuild a fit from a DataTree read by :func:`bayes_atlas.inference.read_posterior`.

        Parameters
        ----------
        tree
            The tree with the attributes written by :meth:`save`.
        source
            Where it came from, for messages and ``meta["source_file"]``.

        Returns
        -------
        TransferFit
        """
        try:
            # Files written before the population option had the normal population.
            config = TransferConfig.from_dict({"population": "normal", **json_attr(tree, "config")})
        except (TypeError, ValueError) as error:
            raise PosteriorFileError(f"{source}: incompatible transfer model config ({error}); refit and save again") from error
        diagnostics = Diagnostics.from_dict(json_attr(tree, "diagnostics"))
        meta = json_attr(tree, "meta")
        meta["source_file"] = source
        meta["bayes_atlas_version"] = tree.attrs.get("bayes_atlas_version")
        groups = {
            str(name): as_float64(node.to_dataset()) if str(name) in ("posterior", *SAMPLER_GROUPS) else node.to_dataset()
            for name, node in tree.children.items()
        }
        fit = cls(xr.DataTree.from_dict(groups), config, diagnostics, meta)
        if fit.data_hash() != tree.attrs.get("data_hash"):
            raise PosteriorFileError(f"{source}: the stored data hash does not match the stored matrix; the file is corrupt")
        return fit

    def data_hash(self) -> str:
        """SHA-256 of the fitted matrix, measured mask and language labels."""
        import hashlib

        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(np.round(self.observed["bts"].values, 12)).tobytes())
        digest.update(np.ascontiguousarray(self.observed["measured"].values).tobytes())
        for name in ("language", "script", "family"):
            digest.update("\x1f".join(str(v) for v in self.observed[name].values).encode())
        return digest.hexdigest()

    def __repr__(self) -> str:
        d = self.diagnostics
        return (
            f"<TransferFit: {len(self.languages)} languages, {self.n_draws} draws, "
            f"{int(np.isfinite(self.observed['bts'].values).sum())} observed cells; "
            f"divergences={d.divergences}, max r_hat={d.max_r_hat:.3f}, min ESS={d.min_ess_bulk:.0f}>"
        )


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")


#: The command that regenerates the shipped posterior and its model card.
SHIP_COMMAND = "bayes-atlas fit-transfer --out models/transfer.nc --card models/transfer.md --seed 20261128 --float32 --force"


def load_default() -> TransferFit:
    """The shipped posterior of the published 38 x 38 matrix (``models/transfer.nc``).

    Fitted with the default :class:`TransferModel`; its model card is ``models/transfer.md``.

    Returns
    -------
    TransferFit

    Raises
    ------
    bayes_atlas.errors.PosteriorFileError
        If the file is missing (the message gives the command that regenerates it).
    """
    from bayes_atlas._paths import models_dir

    path = models_dir() / DEFAULT_FILE
    if not path.is_file():
        raise PosteriorFileError(f"the shipped transfer posterior is missing ({path}); regenerate it with `{SHIP_COMMAND}`")
    return TransferFit.load(path)


def model_card(
    fit: TransferFit, *, title: str = "Transfer model posterior", data_note: str = "", command: str | None = None
) -> str:
    """Markdown model card of a transfer fit: data, config, diagnostics, headline results, how to regenerate.

    The one card writer for transfer fits (law fits have :func:`bayes_atlas.scaling.model_card`).

    Parameters
    ----------
    fit
        The fit.
    title
        First heading.
    data_note
        A line on where the matrix came from.
    command
        The command that regenerated the fit (default: the shipped posterior's, with the fit's seed).

    Returns
    -------
    str
        Markdown text.
    """
    d = fit.diagnostics
    observed = fit.observed
    ci = defaults.CI
    n_obs = int(np.isfinite(observed["bts"].values).sum() - np.isfinite(np.diag(observed["bts"].values)).sum())
    n_measured = int((observed["measured"].values & np.isfinite(observed["bts"].values)).sum())
    summary = fit.summary(ci=ci)
    coefficients = fit.script_family_posterior(ci=ci)

    def table(frame: pd.DataFrame) -> str:
        header = "| | " + " | ".join(frame.columns) + " |"
        rule = "|---" * (len(frame.columns) + 1) + "|"
        rows = [
            f"| {index} | " + " | ".join(f"{v:.3f}" if isinstance(v, float | np.floating) else str(v) for v in row) + " |"
            for index, row in zip(frame.index, frame.to_numpy(), strict=True)
        ]
        return "\n".join([header, rule, *rows])

    lines = [
        f"# {title}",
        "",
        f"Created {fit.meta.get('created', '?')} with bayes_atlas {fit.meta.get('bayes_atlas_version') or _package_version()}.",
        "",
        "## Data",
        "",
        f"{len(fit.languages)} languages; {n_obs} observed ordered cells ({n_measured} directly measured, "
        f"the others predicted by the authors' random forest); values rounded to {observed.attrs.get('rounding', 0.1)}. "
        f"Data hash (SHA-256 of the matrix, mask and labels): `{fit.data_hash()}`.",
        data_note,
        "",
        "## Model",
        "",
        "BTS(s -> t) = intercept + target effect + source effect (correlated within a language, partially pooled) "
        "+ beta_script * same_script + beta_family * same_family + symmetric pair effect "
        "+/- asymmetric pair effect + noise (one scale per noise group, floor = rounding / sqrt(12)). "
        "The pair effects are integrated out while sampling and redrawn from their exact conditional "
        "(seed stored in the file). The latent formula is `bayes_atlas.models.transfer.latent_bts`.",
        "",
        "Config: `" + str(fit.config.to_dict()) + "`",
        "",
        "## Sampling and diagnostics",
        "",
        f"Sampler {d.sampler} NUTS, {d.chains} chains x {d.draws} draws after {fit.meta.get('tune', '?')} tuning steps, "
        f"seed {fit.meta.get('random_seed')}, target_accept {fit.meta.get('target_accept')}; wall time {d.wall_time_s:.1f} s "
        "(compilation included).",
        "",
        f"- divergences: {d.divergences}",
        f"- max r_hat: {d.max_r_hat:.4f} ({d.worst_r_hat})",
        f"- min bulk ESS: {d.min_ess_bulk:.0f} ({d.worst_ess}); min tail ESS: {d.min_ess_tail:.0f}",
        f"- draws at the maximum tree depth ({d.max_tree_depth}): {d.tree_depth_hits}",
        f"- meets the project's bar (r_hat <= 1.01, no divergences, ESS >= 400): {'yes' if d.converged else 'NO'}",
        "",
        f"## Hyperparameters (posterior median, sd, {ci:.0%} equal-tailed interval)",
        "",
        table(summary),
        "",
        f"## Same-script and same-family coefficients ({ci:.0%} interval)",
        "",
        table(coefficients),
        "",
        "## Regenerate",
        "",
        "`"
        + (
            command
            or f"bayes-atlas fit-transfer --out models/transfer.nc --card models/transfer.md --seed {fit.meta.get('random_seed')}"
        )
        + "`",
        "",
    ]
    return "\n".join(lines)


def _package_version() -> str:
    from bayes_atlas import __version__

    return __version__


def simulate_matrix(
    languages: pd.DataFrame,
    *,
    intercept: float = -0.38,
    beta_script: float = 0.09,
    beta_family: float = 0.02,
    language_sd: tuple[float, float] = (0.38, 0.08),
    language_corr: float = -0.5,
    target_nu: float | None = None,
    symmetric_sd: float = 0.12,
    asymmetric_sd: float = 0.07,
    noise_sd: float = 0.05,
    rounding: float = 0.1,
    seed: int = defaults.SEED,
) -> tuple[xr.DataArray, dict[str, Any]]:
    """Draw a transfer matrix from the model with known parameters (for recovery checks).

    The defaults are close to the posterior of the published matrix. The noise-free matrix
    is :func:`bayes_atlas.models.transfer.latent_bts` of the drawn effects, the formula the
    model fits.

    Parameters
    ----------
    languages
        Table indexed by code with ``script`` and ``family`` columns.
    intercept, beta_script, beta_family
        Fixed effects.
    language_sd, language_corr
        Spread of the (target, source) effects of a language and their correlation.
    target_nu
        Draw the standardised target deviations from a Student-t with these degrees of
        freedom (``language_sd[0]`` is then its scale), as the ``population="student_t"``
        model does: ``z / sqrt(g)``, ``g ~ Gamma(nu/2, rate nu/2)``. ``None``: normal.
    symmetric_sd, asymmetric_sd
        Spread of the symmetric and asymmetric pair effects.
    noise_sd
        Observation noise.
    rounding
        Round the simulated values to this step (0 keeps them exact).
    seed
        Random seed.

    Returns
    -------
    (matrix, truth)
        The matrix (dims ``target``, ``source``, NaN diagonal, values capped at 1.9, coords
        as :func:`bayes_atlas.datasets.transfer_matrix` minus ``measured``) and the true
        values: the scalars, ``target_effect``, ``source_effect``, ``symmetric`` and
        ``asymmetric`` (per unordered pair, in ``numpy.triu_indices(n, 1)`` order: cell
        ``(a, b)`` with ``a < b`` gets ``symmetric + asymmetric``, cell ``(b, a)``
        ``symmetric - asymmetric``) and ``latent`` (the noise-free matrix).

    Examples
    --------
    >>> from bayes_atlas.datasets import languages
    >>> matrix, truth = simulate_matrix(languages().head(5), seed=1)
    >>> matrix.shape
    (5, 5)
    """
    from bayes_atlas.models.transfer import pair_indices

    rng = np.random.default_rng(seed)
    codes = [str(c) for c in languages.index]
    n = len(codes)
    scripts = languages["script"].astype(str).to_numpy()
    families = languages["family"].astype(str).to_numpy()
    cov = np.array(
        [
            [language_sd[0] ** 2, language_corr * language_sd[0] * language_sd[1]],
            [language_corr * language_sd[0] * language_sd[1], language_sd[1] ** 2],
        ]
    )
    if target_nu is None:
        effects = rng.multivariate_normal(np.zeros(2), cov, size=n)
    else:
        standard = rng.standard_normal((n, 2))
        standard[:, 0] /= np.sqrt(rng.gamma(target_nu / 2.0, 2.0 / target_nu, size=n))
        effects = standard @ np.linalg.cholesky(cov).T
    first, _, pair_index, pair_sign = pair_indices(n)
    symmetric = symmetric_sd * rng.standard_normal(first.size)
    asymmetric = asymmetric_sd * rng.standard_normal(first.size)
    truth_params = {
        "intercept": np.asarray(intercept, dtype=float),
        "beta_script": np.asarray(beta_script, dtype=float),
        "beta_family": np.asarray(beta_family, dtype=float),
        "target_effect": effects[:, 0],
        "source_effect": effects[:, 1],
        "symmetric": symmetric,
        "asymmetric": asymmetric,
    }
    t, s = (axis.ravel() for axis in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    latent = latent_bts(
        truth_params,
        t,
        s,
        (scripts[t] == scripts[s]).astype(float),
        (families[t] == families[s]).astype(float),
        pair_index[t, s],
        pair_sign[t, s],
    ).reshape(n, n)
    np.fill_diagonal(latent, np.nan)
    observed = latent + noise_sd * rng.standard_normal((n, n))
    if rounding:
        observed = np.round(observed / rounding) * rounding
    observed = np.minimum(observed, 1.9)
    matrix = xr.DataArray(
        observed,
        dims=("target", "source"),
        coords={
            "target": codes,
            "source": codes,
            "target_script": ("target", scripts),
            "source_script": ("source", scripts),
            "target_family": ("target", families),
            "source_family": ("source", families),
        },
        name="bts",
        attrs={"rounding": rounding, "simulated": "bayes_atlas.transfer.simulate_matrix"},
    )
    truth = {
        "intercept": intercept,
        "beta_script": beta_script,
        "beta_family": beta_family,
        "symmetric_sd": symmetric_sd,
        "asymmetric_sd": asymmetric_sd,
        "language_corr": language_corr,
        "target_effect": effects[:, 0],
        "source_effect": effects[:, 1],
        "symmetric": symmetric,
        "asymmetric": asymmetric,
        "latent": latent,
    }
    return matrix, truth
