"""Batched sampling: simulation-based calibration of the Chinchilla law, many datasets in one JAX program.

Run: .venv/bin/python benchmarks/batched_sbc.py [--datasets 64 --warmup 300 --draws 300 --thin 3 --loop 8]

A small NumPyro model of one language's Chinchilla law on a small design (4 model sizes x
4 token counts), its mean the package's own ``get_law("chinchilla").mean_log_loss(jnp, ...)``:
``theta = (log E, a, alpha, b, beta) ~ Normal(LawConfig.table_centres(1.0), LawConfig.theta_sd)``
(one language drawn from the default population), ``log sigma ~ Normal(log 0.02, 0.3)``,
``log loss ~ Normal(mean, sigma)``. Every parameter is unconstrained, so NumPyro's functional
NUTS (``numpyro.infer.hmc.hmc``) runs on the model's potential directly, with the dataset as
a model argument: :func:`make_sampler` returns ``run_one(key, y)`` (warmup + draws of one
chain for one dataset, a ``lax.scan``), and ``jax.vmap(run_one)`` samples many datasets in one
compiled program. SBC (Talts et al. 2018): draw parameters from the prior, simulate a
dataset, sample its posterior, and record the rank of each true parameter among the
(thinned) draws; ranks are uniform when the sampler is right.

The benchmark times, on the same datasets and keys:

- ``mcmc loop``: ``numpyro.infer.MCMC(NUTS(model)).run`` once per dataset (how one writes it
  first; each run traces and compiles again);
- ``jit loop``: the jitted ``run_one`` called once per dataset (compiled once);
- ``vmap``: ``jax.jit(jax.vmap(run_one))`` over all datasets at once;

the loops on the first ``--loop`` datasets (per-dataset cost extrapolated), and prints
seconds per dataset and the speed-ups, then the SBC chi-square p-values of the vmap run.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

NAMES = ("log_E", "a", "alpha", "b", "beta")
LOG_SIGMA_MEAN, LOG_SIGMA_SD = float(np.log(0.02)), 0.3


def small_design(n_params: int = 4, n_tokens: int = 4) -> Any:
    """``n_params`` model sizes (50M-2B) x ``n_tokens`` token counts (1B-100B): one language's runs."""
    from bayes_atlas.laws.design import Design

    N, D = np.meshgrid(np.geomspace(5e7, 2e9, n_params), np.geomspace(1e9, 1e11, n_tokens), indexing="ij")
    return Design.of_run(params=N.ravel(), tokens=D.ravel())


def prior() -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and sd of theta: the default population's centre for a table of median loss 1 and its spread (``LawConfig``)."""
    from bayes_atlas.models.law import LawConfig

    config = LawConfig(law="chinchilla")
    return np.asarray(LawConfig.table_centres(1.0), dtype=float), np.asarray(config.theta_sd, dtype=float)


def make_model(design: Any) -> Any:
    """The NumPyro model: one language, the Chinchilla law's mean from the law registry."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    from bayes_atlas.laws import get_law

    law = get_law("chinchilla")
    mean, sd = prior()

    def model(y: Any = None) -> None:
        theta = numpyro.sample("theta", dist.Normal(jnp.asarray(mean), jnp.asarray(sd)).to_event(1))
        log_sigma = numpyro.sample("log_sigma", dist.Normal(LOG_SIGMA_MEAN, LOG_SIGMA_SD))
        params = {name: theta[..., i] for i, name in enumerate(NAMES)}
        mu = law.mean_log_loss(jnp, design, params)
        numpyro.sample("y", dist.Normal(mu, jnp.exp(log_sigma)), obs=y)

    return model


def simulate(key: Any, design: Any, n_datasets: int) -> tuple[np.ndarray, np.ndarray]:
    """Prior draws ``(n_datasets, 6)`` (theta, log sigma) and their log losses ``(n_datasets, rows)``."""
    import jax
    import jax.numpy as jnp

    from bayes_atlas.laws import get_law

    law = get_law("chinchilla")
    mean, sd = prior()
    k1, k2, k3 = jax.random.split(key, 3)
    theta = mean + sd * jax.random.normal(k1, (n_datasets, len(NAMES)))
    log_sigma = LOG_SIGMA_MEAN + LOG_SIGMA_SD * jax.random.normal(k2, (n_datasets,))
    params = {name: theta[:, i : i + 1] for i, name in enumerate(NAMES)}
    mu = law.mean_log_loss(jnp, design, params)
    y = mu + jnp.exp(log_sigma)[:, None] * jax.random.normal(k3, mu.shape)
    truth = jnp.concatenate([theta, log_sigma[:, None]], axis=1)
    return np.asarray(truth), np.asarray(y)


def make_sampler(design: Any, num_warmup: int, num_samples: int, thin: int = 1, target_accept: float = 0.9) -> Any:
    """``run_one(key, y) -> (draws (num_samples // thin, 6), divergences)``: one NUTS chain for one dataset."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer.hmc import hmc
    from numpyro.infer.util import potential_energy

    model = make_model(design)
    mean, _ = prior()

    def potential_fn_gen(y: Any) -> Any:
        return lambda z: potential_energy(model, (), {"y": y}, z)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")
    init = {"theta": jnp.asarray(mean), "log_sigma": jnp.asarray(LOG_SIGMA_MEAN)}

    def run_one(key: Any, y: Any) -> tuple[Any, Any]:
        state = init_kernel(init, num_warmup, dense_mass=True, target_accept_prob=target_accept, model_args=(y,), rng_key=key)

        def step(state: Any, _: Any) -> tuple[Any, Any]:
            state = sample_kernel(state, model_args=(y,))
            return state, (jnp.concatenate([state.z["theta"], state.z["log_sigma"][None]]), state.diverging)

        _, (z, diverging) = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
        return z[num_warmup::thin], diverging[num_warmup:].sum()

    return run_one


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


def sbc(n_datasets: int, *, warmup: int, draws: int, thin: int, seed: int = 0, design: Any = None) -> dict[str, Any]:
    """Batched SBC: ranks ``(n_datasets, 6)``, divergences, truth and the thinned draws."""
    import jax

    design = small_design() if design is None else design
    sim_key, run_key = jax.random.split(jax.random.PRNGKey(seed))
    truth, y = simulate(sim_key, design, n_datasets)
    keys = jax.random.split(run_key, n_datasets)
    run = jax.jit(jax.vmap(make_sampler(design, warmup, draws, thin)))
    z, diverging = run(keys, y)
    z = np.asarray(z)
    return {
        "ranks": ranks(truth, z),
        "n_draws": z.shape[1],
        "divergences": np.asarray(diverging),
        "truth": truth,
        "draws": z,
        "y": y,
        "keys": keys,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--thin", type=int, default=3)
    parser.add_argument("--loop", type=int, default=8, help="datasets timed in the Python loops")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import os

    from bayes_atlas.inference import configure_jax

    configure_jax(1)  # float64; one host device: the batch is one program
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS, init_to_value

    design = small_design()
    sim_key, run_key = jax.random.split(jax.random.PRNGKey(args.seed))
    truth, y = simulate(sim_key, design, args.datasets)
    keys = jax.random.split(run_key, args.datasets)
    run_one = make_sampler(design, args.warmup, args.draws, args.thin)
    print(
        f"load average {os.getloadavg()}; {args.datasets} datasets x {len(design.log_params)} runs; "
        f"{args.warmup} warmup + {args.draws} draws, 1 chain each",
        flush=True,
    )

    model = make_model(design)
    mean, _ = prior()
    start = time.perf_counter()
    for i in range(args.loop):
        mcmc = MCMC(
            NUTS(
                model,
                dense_mass=True,
                target_accept_prob=0.9,
                init_strategy=init_to_value(values={"theta": mean, "log_sigma": LOG_SIGMA_MEAN}),
            ),
            num_warmup=args.warmup,
            num_samples=args.draws,
            progress_bar=False,
        )
        mcmc.run(keys[i], y=y[i])
        mcmc.get_samples()["theta"].block_until_ready()
    mcmc_loop = (time.perf_counter() - start) / args.loop

    single = jax.jit(run_one)
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
    start = time.perf_counter()
    jax.block_until_ready(batched(keys, y))
    vmap_warm = (time.perf_counter() - start) / args.datasets

    z_one, _ = single(keys[0], y[0])
    same = float(np.max(np.abs(np.asarray(z_one) - np.asarray(z[0]))))
    print(f"numpyro {numpyro.__version__}, jax {jax.__version__}, backend {jax.default_backend()}")
    print(f"mcmc loop : {mcmc_loop:.3f} s / dataset (compile every run)")
    print(f"jit loop  : {jit_loop:.3f} s / dataset (+ {single_first - jit_loop:.1f} s compile once)")
    print(
        f"vmap      : {vmap_warm:.4f} s / dataset warm; {vmap_total:.1f} s for {args.datasets} with compile "
        f"({vmap_total / args.datasets:.4f} s / dataset)"
    )
    print(
        f"speed-up vmap (warm) vs jit loop {jit_loop / vmap_warm:.1f}x, vs mcmc loop {mcmc_loop / vmap_warm:.1f}x; "
        f"with compile: {jit_loop * args.datasets / vmap_total:.1f}x / {mcmc_loop * args.datasets / vmap_total:.1f}x"
    )
    print(f"dataset 0, vmap vs alone: max |difference| of draws {same:.2e}")
    rank = ranks(truth, np.asarray(z))
    p = uniformity_pvalues(rank, np.asarray(z).shape[1])
    print(
        "SBC chi-square p-values (log_E, a, alpha, b, beta, log_sigma):",
        np.round(p, 3),
        f"divergences {int(np.asarray(diverging).sum())}",
    )


if __name__ == "__main__":
    main()
