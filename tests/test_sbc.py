"""Simulation-based calibration of the Chinchilla law, batched: many datasets in one JAX program
(``benchmarks/batched_sbc.py``)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def batched_sbc():
    spec = importlib.util.spec_from_file_location("batched_sbc", REPO / "benchmarks" / "batched_sbc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from bayes_atlas.inference import configure_jax

    configure_jax(1)  # float64 (the device count is moot: the batch is one program)
    return module


def test_batched_sampler_equals_the_single_dataset_sampler(batched_sbc):
    import jax

    result = batched_sbc.sbc(3, warmup=40, draws=20, thin=1, seed=1)
    assert result["draws"].shape == (3, 20, 6) and result["ranks"].shape == (3, 6)
    assert ((result["ranks"] >= 0) & (result["ranks"] <= 20)).all()
    run_one = batched_sbc.make_sampler(batched_sbc.small_design(), 40, 20, 1)
    # Dataset 1 sampled alone (no vmap) with the same key: the same chain, up to the rounding
    # of the batched kernels (~1e-8 here; over hundreds of iterations such rounding sends the
    # two chains on different, equally valid, paths).
    alone, _ = jax.jit(run_one)(result["keys"][1], result["y"][1])
    np.testing.assert_allclose(np.asarray(alone), result["draws"][1], rtol=0, atol=1e-6)
    # In another batch (datasets 1 and 2) with the same key: bit for bit the same draws.
    pair, _ = jax.jit(jax.vmap(run_one))(result["keys"][1:], result["y"][1:])
    np.testing.assert_array_equal(np.asarray(pair)[0], result["draws"][1])


def test_the_model_mean_is_the_registry_law(batched_sbc):
    import jax
    import jax.numpy as jnp

    from bayes_atlas.laws import get_law

    design = batched_sbc.small_design()
    theta = np.array([np.log(0.8), -1.5, 0.4, -1.0, 0.3])
    params = dict(zip(batched_sbc.NAMES, theta, strict=True))
    truth, y = batched_sbc.simulate(jax.random.PRNGKey(0), design, 2)
    assert y.shape == (2, design.log_params.size)
    expected = get_law("chinchilla").mean_log_loss(np, design, params)
    np.testing.assert_allclose(np.asarray(get_law("chinchilla").mean_log_loss(jnp, design, params)), expected, rtol=1e-12)


@pytest.mark.slow
def test_sbc_ranks_of_the_chinchilla_law_are_uniform(batched_sbc):
    from scipy import stats

    result = batched_sbc.sbc(400, warmup=300, draws=300, thin=3, seed=0)
    rank, n_draws = result["ranks"], result["n_draws"]
    assert n_draws == 100
    p_chi2 = batched_sbc.uniformity_pvalues(rank, n_draws, bins=10)
    # Ranks 0..100 scaled to (0, 1) with a uniform jitter: KS against U(0, 1).
    rng = np.random.default_rng(0)
    p_ks = [stats.kstest((column + rng.uniform(size=column.size)) / (n_draws + 1), "uniform").pvalue for column in rank.T]
    # Six parameters, two tests each: 0.001 per test keeps the family-wise false alarm near 1%.
    assert (p_chi2 > 1e-3).all(), p_chi2
    assert (np.asarray(p_ks) > 1e-3).all(), p_ks
    # A few prior draws make a hard posterior (an amplitude with no say in 16 runs): some
    # divergences there, without biasing the ranks above.
    assert np.median(result["divergences"]) == 0
    assert np.mean(result["divergences"] > 0) < 0.2
