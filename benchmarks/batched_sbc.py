"""Batched sampling: simulation-based calibration of a law, many datasets in one JAX program.

Run: .venv/bin/python benchmarks/batched_sbc.py [--law chinchilla|atlas|transfer --datasets 64 --warmup 300 --draws 300 --thin 3 --loop 8]

One sampler, the model as a parameter (:class:`LawModel`): one language's runs on a small
design, the mean the package's own ``get_law(law).mean_log_loss(jnp, design, params)``, every
parameter unconstrained with an independent normal prior, ``log sigma ~ Normal(log 0.02,
0.3)`` and ``log loss ~ Normal(mean, sigma)``. Two models:

- :func:`chinchilla_model`: the Chinchilla law on 4 model sizes x 4 token counts,
  ``theta = (log E, a, alpha, b, beta) ~ Normal(LawConfig.table_centres(1.0), LawConfig.theta_sd)``
  (one language drawn from the default population around its centre);
- :func:`atlas_model`: the ATLAS law (effective data with repetition saturation ``S``, rate
  ``lam``, and transfer ``tau`` from a named co-training source) on :func:`atlas_design`:
  monolingual runs with unlimited data, monolingual runs that repeat 2e9 unique tokens 4-50
  epochs (identifying ``lam``) and bilingual runs with one named source (identifying
  ``tau``). Parameters ``theta`` as above plus ``log lam ~ Normal(log LawConfig.lam_median,
  LawConfig.lam_log_sd)`` and the pair's ``BTS ~ Normal(LawConfig.bts_pooled_mean,
  LawConfig.bts_pooled_sd)``, ``tau = BTS / (2 - BTS)`` (``forms.tau_from_bts``); no "other"
  tokens, so ``tau_other`` does not enter.

The same sampler also runs the package's transfer model (:func:`transfer_model`: the PyMC
builder of ``bayes_atlas/models/transfer.py`` on an 8 x 8 matrix, its log density compiled
to JAX with the matrix as an input; :func:`transfer_sbc`).

One sampler (:func:`make_nuts`): NumPyro's functional NUTS (``numpyro.infer.hmc.hmc``) on a
potential that takes the dataset as an argument returns ``run_one(key, data)`` (warmup + draws
of one chain for one dataset, a ``lax.scan``), and ``jax.vmap(run_one)`` samples many datasets
in one compiled program (:func:`make_sampler` for a :class:`LawModel`,
:func:`make_transfer_sampler` for the transfer model). SBC (Talts et al. 2018): draw
parameters from the prior, simulate a dataset, sample its posterior, and record the rank of
each true parameter among the (thinned) draws; ranks are uniform when the sampler and the
model's code are right.

The benchmark times, on the same datasets and keys:

- ``mcmc loop``: ``numpyro.infer.MCMC(NUTS(model)).run`` once per dataset (how one writes it
  first; each run traces and compiles again);
- ``jit loop``: the jitted ``run_one`` called once per dataset (compiled once);
- ``vmap``: ``jax.jit(jax.vmap(run_one))`` over all datasets at once;

the loops on the first ``--loop`` datasets (per-dataset cost extrapolated; ``--loop 0`` skips
them), and prints seconds per dataset and the speed-ups, then the SBC chi-square and KS
p-values of the vmap run and the posterior contraction per parameter.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The Chinchilla core, in ``theta`` order (``bayes_atlas.laws.spec.CORE``).
NAMES = ("log_E", "a", "alpha", "b", "beta")
#: The ATLAS model's parameters: the core, the log repetition rate and the pair's BTS.
ATLAS_NAMES = (*NAMES, "log_lam", "bts")
LOG_SIGMA_MEAN, LOG_SIGMA_SD = float(np.log(0.02)), 0.3
#: Unique target tokens of the ATLAS design's repeated monolingual runs.
ATLAS_UNIQUE = 2e9


@dataclass(frozen=True, eq=False)
class LawModel:
    """A one-language SBC model: a law, its design and the prior of its parameters.

    Attributes
    ----------
    law
        Registry name (``get_law(law)``).
    design
        The runs (``bayes_atlas.laws.Design``).
    names
        The law's sampled parameters, in ``theta`` order (``log_sigma`` comes after them).
    mean, sd
        Independent normal prior of ``theta``.
    to_params
        ``theta (..., len(names)) -> params`` of ``mean_log_loss``; parameters that are
        scalars per language come out with the batch shape of ``theta``.
    """

    law: str
    design: Any
    names: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    to_params: Callable[[Any], dict[str, Any]]

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every ranked parameter: ``names`` and ``log_sigma``."""
        return (*self.names, "log_sigma")

    def mean_log_loss(self, theta: Any) -> Any:
        """The law's mean log loss at ``theta`` (batch shape ``theta.shape[:-1]`` prepended to the rows)."""
        import jax.numpy as jnp

        from bayes_atlas.laws import get_law

        return get_law(self.law).mean_log_loss(jnp, self.design, self.to_params(theta))


def small_design(n_params: int = 4, n_tokens: int = 4) -> Any:
    """``n_params`` model sizes (50M-2B) x ``n_tokens`` token counts (1B-100B): one language's runs."""
    from bayes_atlas.laws.design import Design

    N, D = np.meshgrid(np.geomspace(5e7, 2e9, n_params), np.geomspace(1e9, 1e11, n_tokens), indexing="ij")
    return Design.of_run(params=N.ravel(), tokens=D.ravel())


def atlas_design() -> Any:
    """One target language, 36 runs: what identifies the ATLAS law's parameters.

    - 16 monolingual runs, unlimited unique data: 4 model sizes (50M-2B) x 4 token counts
      (1B-100B), the Chinchilla core;
    - 12 monolingual runs on :data:`ATLAS_UNIQUE` (2e9) unique tokens repeated 4, 16 and 50
      epochs (8e9, 3.2e10, 1e11 tokens) at the same sizes: the repetition rate ``lam``;
    - 8 bilingual runs, a third of the tokens the target's and two thirds from one named source
      (unlimited data), 3e9 and 3e10 tokens in all, at the same sizes: the transfer weight
      ``tau`` (two source tokens per own token double the sensitivity of a 50/50 run to
      ``tau``, and keep ``D_eff = D/3 (1 + 2 tau)`` clear of the floor down to ``BTS = -1.2``).
    """
    from bayes_atlas.laws.design import Design

    sizes = np.geomspace(5e7, 2e9, 4)
    N, D = np.meshgrid(sizes, np.geomspace(1e9, 1e11, 4), indexing="ij")
    N_rep, D_rep = np.meshgrid(sizes, ATLAS_UNIQUE * np.array([4.0, 16.0, 50.0]), indexing="ij")
    N_bi, D_bi = np.meshgrid(sizes, np.array([3e9, 3e10]), indexing="ij")
    params = np.concatenate([N.ravel(), N_rep.ravel(), N_bi.ravel()])
    own = np.concatenate([D.ravel(), D_rep.ravel(), D_bi.ravel() / 3])
    unique = np.concatenate([np.full(N.size, np.inf), np.full(N_rep.size, ATLAS_UNIQUE), np.full(N_bi.size, np.inf)])
    source = np.concatenate([np.zeros(N.size + N_rep.size), 2 * D_bi.ravel() / 3])
    return Design.of_run(params=params, tokens=own, unique=unique, transfer_tokens=source[:, None])


def _core_params(theta: Any) -> dict[str, Any]:
    return {name: theta[..., i] for i, name in enumerate(NAMES)}


def _atlas_params(theta: Any) -> dict[str, Any]:
    import jax.numpy as jnp

    from bayes_atlas.laws.forms import tau_from_bts

    params = _core_params(theta)
    params["lam"] = jnp.exp(theta[..., 5])
    # One named source (slot 0; the other two slots carry no tokens): tau broadcasts over the slots.
    params["tau"] = tau_from_bts(theta[..., 6])[..., None]
    params["tau_other"] = 0.0  # no "other" tokens in the design
    return params


def chinchilla_model(design: Any = None) -> LawModel:
    """The Chinchilla law on :func:`small_design` (or ``design``), the default population's prior."""
    from bayes_atlas.models.law import LawConfig

    config = LawConfig(law="chinchilla")
    return LawModel(
        law="chinchilla",
        design=small_design() if design is None else design,
        names=NAMES,
        mean=np.asarray(LawConfig.table_centres(1.0), dtype=float),
        sd=np.asarray(config.theta_sd, dtype=float),
        to_params=_core_params,
    )


def atlas_model(design: Any = None) -> LawModel:
    """The ATLAS law on :func:`atlas_design` (or ``design``), priors from ``LawConfig``'s defaults."""
    from bayes_atlas.models.law import LawConfig

    config = LawConfig(law="atlas")
    return LawModel(
        law="atlas",
        design=atlas_design() if design is None else design,
        names=ATLAS_NAMES,
        mean=np.array([*LawConfig.table_centres(1.0), np.log(config.lam_median), config.bts_pooled_mean]),
        sd=np.array([*config.theta_sd, config.lam_log_sd, config.bts_pooled_sd]),
        to_params=_atlas_params,
    )


MODELS = {"chinchilla": chinchilla_model, "atlas": atlas_model}


def prior(model: LawModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and sd of theta (of :func:`chinchilla_model` by default)."""
    model = chinchilla_model() if model is None else model
    return model.mean, model.sd


def make_model(model: LawModel) -> Any:
    """The NumPyro model: ``theta ~ Normal(mean, sd)``, ``log_sigma``, ``y ~ Normal(law mean, sigma)``."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def numpyro_model(y: Any = None) -> None:
        theta = numpyro.sample("theta", dist.Normal(jnp.asarray(model.mean), jnp.asarray(model.sd)).to_event(1))
        log_sigma = numpyro.sample("log_sigma", dist.Normal(LOG_SIGMA_MEAN, LOG_SIGMA_SD))
        numpyro.sample("y", dist.Normal(model.mean_log_loss(theta), jnp.exp(log_sigma)), obs=y)

    return numpyro_model


def simulate(key: Any, model: LawModel, n_datasets: int) -> tuple[np.ndarray, np.ndarray]:
    """Prior draws ``(n_datasets, len(all_names))`` (theta, log sigma) and their log losses ``(n_datasets, rows)``."""
    import jax
    import jax.numpy as jnp

    k1, k2, k3 = jax.random.split(key, 3)
    theta = model.mean + model.sd * jax.random.normal(k1, (n_datasets, len(model.names)))
    log_sigma = LOG_SIGMA_MEAN + LOG_SIGMA_SD * jax.random.normal(k2, (n_datasets,))
    mu = model.mean_log_loss(theta[:, None, :])
    y = mu + jnp.exp(log_sigma)[:, None] * jax.random.normal(k3, mu.shape)
    truth = jnp.concatenate([theta, log_sigma[:, None]], axis=1)
    return np.asarray(truth), np.asarray(y)


def make_nuts(
    potential_fn_gen: Callable[[Any], Callable[[Any], Any]],
    init: Any,
    record: Callable[[Any], Any],
    num_warmup: int,
    num_samples: int,
    thin: int = 1,
    target_accept: float = 0.9,
) -> Callable[[Any, Any], tuple[Any, Any]]:
    """The one batched sampler: ``run_one(key, data) -> (records (num_samples // thin, ...), divergences)``.

    One NUTS chain (NumPyro's functional ``hmc``, dense mass, ``target_accept``) on the
    potential ``potential_fn_gen(data)(z)`` from ``init``, warmup and draws in one
    ``lax.scan``; ``record(z)`` is what each kept draw stores. ``jax.vmap(run_one)`` samples
    many datasets in one compiled program.
    """
    import jax
    from numpyro.infer.hmc import hmc

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def run_one(key: Any, data: Any) -> tuple[Any, Any]:
        state = init_kernel(init, num_warmup, dense_mass=True, target_accept_prob=target_accept, model_args=(data,), rng_key=key)

        def step(state: Any, _: Any) -> tuple[Any, Any]:
            state = sample_kernel(state, model_args=(data,))
            return state, (record(state.z), state.diverging)

        _, (z, diverging) = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        return jax.tree.map(lambda v: v[num_warmup::thin], z), diverging[num_warmup:].sum()

    return run_one


def make_sampler(model: LawModel, num_warmup: int, num_samples: int, thin: int = 1, target_accept: float = 0.9) -> Any:
    """``run_one(key, y) -> (draws (num_samples // thin, len(all_names)), divergences)``: one NUTS chain, one dataset."""
    import jax.numpy as jnp
    from numpyro.infer.util import potential_energy

    numpyro_model = make_model(model)

    def potential_fn_gen(y: Any) -> Any:
        return lambda z: potential_energy(numpyro_model, (), {"y": y}, z)

    return make_nuts(
        potential_fn_gen,
        {"theta": jnp.asarray(model.mean), "log_sigma": jnp.asarray(LOG_SIGMA_MEAN)},
        lambda z: jnp.concatenate([z["theta"], z["log_sigma"][None]]),
        num_warmup,
        num_samples,
        thin,
        target_accept,
    )


def ranks(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """SBC ranks: per dataset and parameter, the number of draws below the true value (0..L)."""
    return (np.asarray(draws) < np.asarray(truth)[:, None, :]).sum(axis=1)


def uniformity_pvalues(rank: np.ndarray, n_draws: int, bins: int = 10) -> np.ndarray:
    """Chi-square test of uniform ranks (0..n_draws) per parameter, ``bins`` equal bins."""
    from scipy import stats

    edges = np.linspace(0, n_draws + 1, bins + 1)
    out = []
    for column in rank.T:
        counts, _ = np.histogram(column, bins=edges)
        expected = len(column) * np.diff(edges) / (n_draws + 1)
        out.append(stats.chisquare(counts, expected).pvalue)
    return np.asarray(out)


def ks_pvalues(rank: np.ndarray, n_draws: int, seed: int = 0) -> np.ndarray:
    """KS test of uniform ranks per parameter: ranks 0..n_draws plus a uniform jitter, scaled to (0, 1)."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    return np.asarray(
        [stats.kstest((column + rng.uniform(size=column.size)) / (n_draws + 1), "uniform").pvalue for column in rank.T]
    )


def contraction(result: dict[str, Any], model: LawModel) -> np.ndarray:
    """Posterior contraction per parameter, ``1 - posterior var / prior var``, median over datasets."""
    prior_var = np.append(model.sd, LOG_SIGMA_SD) ** 2
    return np.median(1.0 - result["draws"].var(axis=1) / prior_var, axis=0)


def sbc(
    n_datasets: int,
    *,
    warmup: int,
    draws: int,
    thin: int,
    seed: int = 0,
    model: LawModel | None = None,
    batch: int | None = None,
) -> dict[str, Any]:
    """Batched SBC of ``model`` (:func:`chinchilla_model` by default): ranks ``(n_datasets, len(all_names))``,
    divergences, truth and the thinned draws.

    ``batch`` datasets per call of the one compiled ``vmap`` program (default: all at once;
    a dataset's draws do not depend on which datasets share its batch).
    """
    import jax

    model = chinchilla_model() if model is None else model
    sim_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    truth, y = simulate(sim_key, model, n_datasets)
    keys = jax.random.split(run_key, n_datasets)
    run = jax.jit(jax.vmap(make_sampler(model, warmup, draws, thin)))
    batch = n_datasets if batch is None else batch
    parts = [run(keys[i : i + batch], y[i : i + batch]) for i in range(0, n_datasets, batch)]
    z = np.concatenate([np.asarray(p[0]) for p in parts])
    diverging = np.concatenate([np.asarray(p[1]) for p in parts])
    return {
        "ranks": ranks(truth, z),
        "n_draws": z.shape[1],
        "divergences": diverging,
        "truth": truth,
        "draws": z,
        "y": y,
        "keys": keys,
        "names": model.all_names,
    }


# --- The transfer model (bayes_atlas/models/transfer.py), the package's own PyMC builder ----------

#: The small transfer matrix: 8 languages in 3 scripts and 4 families.
TRANSFER_LANGUAGES = ("l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7")
TRANSFER_SCRIPTS = ("Latn", "Latn", "Latn", "Latn", "Cyrl", "Cyrl", "Arab", "Arab")
TRANSFER_FAMILIES = ("ie", "ie", "ie", "ura", "ie", "sla", "afro", "afro")
#: Cells (target, source) left missing: their reverse cells are single observations.
TRANSFER_MISSING = ((1, 0), (5, 2), (7, 3), (4, 6))
#: Cells printed from the authors' random forest (noise group "predicted"): every source l6, l7 cell.
TRANSFER_PREDICTED_SOURCES = (6, 7)


@dataclass(frozen=True, eq=False)
class TransferSBC:
    """The transfer model of ``models/transfer.py`` on a small matrix, its logp a JAX function of the data.

    The package's builder (:func:`bayes_atlas.models.transfer.build_transfer_model`) is built
    once with the BTS matrix a pytensor shared variable; its log density (transforms and
    Jacobians included) and its constrained parameters are compiled to JAX with that matrix
    replaced by an input, so one compiled program samples every simulated matrix.

    Attributes
    ----------
    data
        The template ``TransferData`` (missing cells NaN, noise groups, covariates).
    config
        The ``TransferConfig`` the model was built with.
    model
        The PyMC model.
    value_names
        Names of the model's value variables (unconstrained), the sampler's ``z``.
    init
        The model's initial point (unconstrained).
    logp
        ``logp(z: dict, bts: (L, L)) -> float``.
    constrained
        ``constrained(z: dict) -> dict`` of the free variables and deterministics on their own scale.
    """

    data: Any
    config: Any
    model: Any
    value_names: tuple[str, ...]
    init: dict[str, np.ndarray]
    logp: Callable[[dict[str, Any], Any], Any]
    constrained: Callable[[dict[str, Any]], dict[str, Any]]

    @property
    def pair_both(self) -> int:
        """A pair with both cells observed (the first)."""
        return int(np.flatnonzero(self.data.both_observed)[0])

    @property
    def pair_single(self) -> int:
        """A pair with one cell missing (the first)."""
        return int(np.flatnonzero(~self.data.both_observed)[0])

    @property
    def ranked(self) -> tuple[str, ...]:
        """The quantities whose ranks are tested: population parameters, two languages' effects, two pairs' effects."""
        return (
            "intercept",
            "beta_script",
            "beta_family",
            "language_sd[target]",
            "language_sd[source]",
            "language_corr",
            "symmetric_sd",
            "asymmetric_sd",
            "noise_sd[measured]",
            "noise_sd[predicted]",
            "noise_share",
            "target_effect[0]",
            "source_effect[0]",
            "target_effect[7]",
            f"symmetric[{self.pair_both}]",
            f"asymmetric[{self.pair_both}]",
            f"symmetric[{self.pair_single}]",
            f"asymmetric[{self.pair_single}]",
        )


def transfer_model(config: Any = None) -> TransferSBC:
    """:class:`TransferSBC` of the 8-language matrix (:data:`TRANSFER_LANGUAGES`) with ``config`` (default ``TransferConfig()``)."""
    import dataclasses

    import jax.numpy as jnp
    import pytensor
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.graph.replace import clone_replace

    from bayes_atlas.models.transfer import TransferConfig, build_transfer_model, prepare_transfer_data

    config = TransferConfig() if config is None else config
    n = len(TRANSFER_LANGUAGES)
    template = np.zeros((n, n))
    for t, s in TRANSFER_MISSING:
        template[t, s] = np.nan
    measured = np.ones((n, n), dtype=bool)
    measured[:, list(TRANSFER_PREDICTED_SOURCES)] = False
    data = prepare_transfer_data(template, list(TRANSFER_LANGUAGES), list(TRANSFER_SCRIPTS), list(TRANSFER_FAMILIES), measured)
    shared = pytensor.shared(np.nan_to_num(data.bts_matrix), name="bts_matrix")
    model = build_transfer_model(dataclasses.replace(data, bts_matrix=shared), config)
    bts = pt.matrix("bts", dtype="float64")
    values = list(model.value_vars)
    names = tuple(v.name for v in values)
    logp_fn = get_jaxified_graph(inputs=[*values, bts], outputs=clone_replace([model.logp()], replace={shared: bts}))
    keep = [*model.free_RVs, *model.deterministics]
    keep_fn = get_jaxified_graph(inputs=values, outputs=model.replace_rvs_by_values(keep))
    keep_names = [v.name for v in keep]

    def logp(z: dict[str, Any], y: Any) -> Any:
        return logp_fn(*(jnp.asarray(z[name]) for name in names), jnp.asarray(y))[0]

    def constrained(z: dict[str, Any]) -> dict[str, Any]:
        return dict(zip(keep_names, keep_fn(*(jnp.asarray(z[name]) for name in names)), strict=True))

    init = {name: np.asarray(value, dtype=float) for name, value in model.initial_point().items()}
    return TransferSBC(data=data, config=config, model=model, value_names=names, init=init, logp=logp, constrained=constrained)


def simulate_transfer(sbc_model: TransferSBC, n_datasets: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Truths drawn from the model's prior (``pymc.draw`` of its own variables) and their BTS matrices.

    The pair effects, integrated out by the sampler, are drawn explicitly:
    ``symmetric ~ N(0, symmetric_sd)``, ``asymmetric ~ N(0, asymmetric_sd)`` per pair, a cell
    ``latent_bts(...)`` of them plus ``N(0, noise_sd[group])`` noise (the joint law whose
    pair-marginal is the builder's bivariate normal likelihood). Missing cells and the
    diagonal are NaN.
    """
    import pymc as pm

    from bayes_atlas.models.transfer import latent_bts

    data, model = sbc_model.data, sbc_model.model
    names = ["intercept", "beta_script", "beta_family", "target_effect", "source_effect"]
    names += ["language_sd", "language_corr", "symmetric_sd", "asymmetric_sd", "noise_sd", "noise_share"]
    draws = pm.draw([model[name] for name in names], draws=n_datasets, random_seed=seed)
    truth = {name: np.asarray(value, dtype=float) for name, value in zip(names, draws, strict=True)}
    rng = np.random.default_rng([seed, 1])
    n_pairs = data.pair_first.size
    truth["symmetric"] = truth["symmetric_sd"][:, None] * rng.standard_normal((n_datasets, n_pairs))
    truth["asymmetric"] = truth["asymmetric_sd"][:, None] * rng.standard_normal((n_datasets, n_pairs))
    n = len(data.languages)
    t, s = np.nonzero(~np.eye(n, dtype=bool))
    mean = latent_bts(truth, t, s, data.same_script[t, s], data.same_family[t, s], data.pair_index[t, s], data.pair_sign[t, s])
    noise = truth["noise_sd"][:, data.group_matrix[t, s]] * rng.standard_normal(mean.shape)
    y = np.full((n_datasets, n, n), np.nan)
    y[:, t, s] = mean + noise
    y[:, ~data.observed] = np.nan
    return truth, y


def _ranked_values(sbc_model: TransferSBC, values: dict[str, np.ndarray]) -> np.ndarray:
    """``(..., len(ranked))`` of the ranked quantities from arrays of the named variables."""
    both, single = sbc_model.pair_both, sbc_model.pair_single
    columns = [
        values["intercept"],
        values["beta_script"],
        values["beta_family"],
        values["language_sd"][..., 0],
        values["language_sd"][..., 1],
        values["language_corr"],
        values["symmetric_sd"],
        values["asymmetric_sd"],
        values["noise_sd"][..., 0],
        values["noise_sd"][..., 1],
        values["noise_share"],
        values["target_effect"][..., 0],
        values["source_effect"][..., 0],
        values["target_effect"][..., 7],
        values["symmetric"][..., both],
        values["asymmetric"][..., both],
        values["symmetric"][..., single],
        values["asymmetric"][..., single],
    ]
    return np.stack([np.asarray(c, dtype=float) for c in columns], axis=-1)


def make_transfer_sampler(
    sbc_model: TransferSBC, num_warmup: int, num_samples: int, thin: int = 1, target_accept: float = 0.9
) -> Callable[[Any, Any], tuple[Any, Any]]:
    """``run_one(key, bts) -> (unconstrained draws {name: (num_samples // thin, ...)}, divergences)``."""
    import jax.numpy as jnp

    def potential_fn_gen(y: Any) -> Any:
        return lambda z: -sbc_model.logp(z, y)

    init = {name: jnp.asarray(value) for name, value in sbc_model.init.items()}
    return make_nuts(potential_fn_gen, init, lambda z: z, num_warmup, num_samples, thin, target_accept)


def transfer_sbc(
    n_datasets: int,
    *,
    warmup: int,
    draws: int,
    thin: int,
    seed: int = 0,
    sbc_model: TransferSBC | None = None,
    batch: int | None = None,
) -> dict[str, Any]:
    """Batched SBC of the transfer model: ranks ``(n_datasets, len(ranked))``, divergences, truth,
    draws of the ranked quantities, every variable's draws (``values``) and the sampler's
    unconstrained draws (``z``).

    Every dataset's posterior draws of the pair effects come from the package's
    ``sample_pair_effects`` (their exact conditional given each draw), as a fit's do.
    """
    import dataclasses

    import jax

    from bayes_atlas.models.transfer import sample_pair_effects

    sbc_model = transfer_model() if sbc_model is None else sbc_model
    truth, y = simulate_transfer(sbc_model, n_datasets, seed)
    keys = jax.random.split(jax.random.PRNGKey(seed), n_datasets)
    run = jax.jit(jax.vmap(make_transfer_sampler(sbc_model, warmup, draws, thin)))
    constrained = jax.jit(jax.vmap(jax.vmap(sbc_model.constrained)))
    y_in = np.nan_to_num(y)  # the model reads only the observed cells
    batch = n_datasets if batch is None else batch
    parts = [run(keys[i : i + batch], y_in[i : i + batch]) for i in range(0, n_datasets, batch)]
    diverging = np.concatenate([np.asarray(p[1]) for p in parts])
    z_all = {name: np.concatenate([np.asarray(p[0][name]) for p in parts]) for name in sbc_model.value_names}
    values = {}
    for z, _ in parts:
        for name, value in constrained(z).items():
            values.setdefault(name, []).append(np.asarray(value))
    values = {name: np.concatenate(v) for name, v in values.items()}
    rng = np.random.default_rng([seed, 2])
    symmetric, asymmetric = [], []
    for i in range(n_datasets):
        data_i = dataclasses.replace(sbc_model.data, bts_matrix=y[i])
        params = {name: values[name][i] for name in ("intercept", "beta_script", "beta_family", "target_effect", "source_effect")}
        params.update({name: values[name][i] for name in ("symmetric_sd", "asymmetric_sd", "noise_sd")})
        sym, asym = sample_pair_effects(data_i, params, rng)
        symmetric.append(sym)
        asymmetric.append(asym)
    values["symmetric"], values["asymmetric"] = np.stack(symmetric), np.stack(asymmetric)
    draws_ranked = _ranked_values(sbc_model, values)
    truth_ranked = _ranked_values(sbc_model, truth)
    return {
        "ranks": ranks(truth_ranked, draws_ranked),
        "n_draws": draws_ranked.shape[1],
        "divergences": diverging,
        "truth": truth_ranked,
        "draws": draws_ranked,
        "y": y,
        "keys": keys,
        "names": sbc_model.ranked,
        "values": values,
        "z": z_all,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--law", choices=[*sorted(MODELS), "transfer"], default="chinchilla", help="transfer: SBC only")
    parser.add_argument("--datasets", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--thin", type=int, default=3)
    parser.add_argument("--loop", type=int, default=8, help="datasets timed in the Python loops (0: SBC only)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import os

    from bayes_atlas.inference import configure_jax

    configure_jax(1)  # float64; one host device: the batch is one program
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS, init_to_value

    if args.law == "transfer":
        start = time.perf_counter()
        result = transfer_sbc(args.datasets, warmup=args.warmup, draws=args.draws, thin=args.thin, seed=args.seed, batch=50)
        print(
            f"load average {os.getloadavg()}; transfer model, 8 x 8 matrix; {args.datasets} datasets; {time.perf_counter() - start:.0f} s"
        )
        p_chi2 = uniformity_pvalues(result["ranks"], result["n_draws"])
        p_ks = ks_pvalues(result["ranks"], result["n_draws"])
        for name, p, q in zip(result["names"], p_chi2, p_ks, strict=True):
            print(f"{name:22s} chi-square p {p:.3f}  KS p {q:.3f}")
        diverging = result["divergences"]
        print(f"divergences {int(diverging.sum())} in {int((diverging > 0).sum())} of {args.datasets} datasets")
        return
    model = MODELS[args.law]()
    sim_key, run_key = jax.random.split(jax.random.PRNGKey(args.seed))
    truth, y = simulate(sim_key, model, args.datasets)
    keys = jax.random.split(run_key, args.datasets)
    run_one = make_sampler(model, args.warmup, args.draws, args.thin)
    print(
        f"load average {os.getloadavg()}; law {args.law}; {args.datasets} datasets x {len(model.design.log_params)} runs; "
        f"{args.warmup} warmup + {args.draws} draws (thin {args.thin}), 1 chain each",
        flush=True,
    )
    print(f"numpyro {numpyro.__version__}, jax {jax.__version__}, backend {jax.default_backend()}")

    single = jax.jit(run_one)
    if args.loop:
        numpyro_model = make_model(model)
        start = time.perf_counter()
        for i in range(args.loop):
            mcmc = MCMC(
                NUTS(
                    numpyro_model,
                    dense_mass=True,
                    target_accept_prob=0.9,
                    init_strategy=init_to_value(values={"theta": model.mean, "log_sigma": LOG_SIGMA_MEAN}),
                ),
                num_warmup=args.warmup,
                num_samples=args.draws,
                progress_bar=False,
            )
            mcmc.run(keys[i], y=y[i])
            mcmc.get_samples()["theta"].block_until_ready()
        mcmc_loop = (time.perf_counter() - start) / args.loop

        start = time.perf_counter()
        jax.block_until_ready(single(keys[0], y[0]))
        single_first = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(args.loop):
            jax.block_until_ready(single(keys[i], y[i]))
        jit_loop = (time.perf_counter() - start) / args.loop

    batched = jax.jit(jax.vmap(run_one))
    start = time.perf_counter()
    z, diverging = jax.block_until_ready(batched(keys, y))
    vmap_total = time.perf_counter() - start
    print(f"vmap      : {vmap_total:.1f} s for {args.datasets} with compile ({vmap_total / args.datasets:.4f} s / dataset)")
    if args.loop:
        start = time.perf_counter()
        jax.block_until_ready(batched(keys, y))
        vmap_warm = (time.perf_counter() - start) / args.datasets
        z_one, _ = single(keys[0], y[0])
        same = float(np.max(np.abs(np.asarray(z_one) - np.asarray(z[0]))))
        print(f"mcmc loop : {mcmc_loop:.3f} s / dataset (compile every run)")
        print(f"jit loop  : {jit_loop:.3f} s / dataset (+ {single_first - jit_loop:.1f} s compile once)")
        print(f"vmap      : {vmap_warm:.4f} s / dataset warm")
        print(
            f"speed-up vmap (warm) vs jit loop {jit_loop / vmap_warm:.1f}x, vs mcmc loop {mcmc_loop / vmap_warm:.1f}x; "
            f"with compile: {jit_loop * args.datasets / vmap_total:.1f}x / {mcmc_loop * args.datasets / vmap_total:.1f}x"
        )
        print(f"dataset 0, vmap vs alone: max |difference| of draws {same:.2e}")
    z = np.asarray(z)
    rank = ranks(truth, z)
    result = {"draws": z}
    print("parameters         :", " ".join(f"{n:>9}" for n in model.all_names))
    print("chi-square p       :", " ".join(f"{p:9.3f}" for p in uniformity_pvalues(rank, z.shape[1])))
    print("KS p               :", " ".join(f"{p:9.3f}" for p in ks_pvalues(rank, z.shape[1])))
    print("contraction (med.) :", " ".join(f"{c:9.2f}" for c in contraction(result, model)))
    diverging = np.asarray(diverging)
    print(f"divergences {int(diverging.sum())} in {int((diverging > 0).sum())} of {args.datasets} datasets")
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
