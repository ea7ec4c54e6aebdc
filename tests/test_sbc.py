"""Simulation-based calibration of the Chinchilla and ATLAS laws, batched: many datasets in one JAX
program (``benchmarks/batched_sbc.py``: one sampler, the model as a parameter)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("law", ["chinchilla", "atlas"])
def test_batched_sampler_equals_the_single_dataset_sampler(batched_sbc, law):
    import jax

    model = batched_sbc.MODELS[law]()
    n_params = len(model.all_names)
    result = batched_sbc.sbc(8, warmup=10, draws=10, thin=1, seed=1, model=model)
    assert result["draws"].shape == (8, 10, n_params) and result["ranks"].shape == (8, n_params)
    assert ((result["ranks"] >= 0) & (result["ranks"] <= 10)).all()
    assert np.isfinite(result["draws"]).all()
    run_one = batched_sbc.make_sampler(model, 10, 10, 1)
    # Every dataset sampled alone (no vmap) with the same key: the same chain, up to the
    # rounding of the batched kernels in the warmup's adaptation (measured: at most 1e-11 after
    # these 20 iterations; without adaptation the chains are bit-identical). Over more
    # iterations the adaptation amplifies that rounding until the chains take different,
    # equally valid, paths (the ATLAS model: O(1) apart for some datasets after 40 iterations).
    single = jax.jit(run_one)
    for i in range(8):
        alone, _ = single(result["keys"][i], result["y"][i])
        np.testing.assert_allclose(np.asarray(alone), result["draws"][i], rtol=0, atol=1e-8)
    # In another batch (datasets 1 and 2) with the same key: bit for bit the same draws.
    pair, _ = jax.jit(jax.vmap(run_one))(result["keys"][1:3], result["y"][1:3])
    np.testing.assert_array_equal(np.asarray(pair), result["draws"][1:3])


def test_the_model_mean_is_the_registry_law(batched_sbc):
    import jax
    import jax.numpy as jnp

    from bayes_atlas.laws import get_law

    model = batched_sbc.chinchilla_model()
    design = model.design
    theta = np.array([np.log(0.8), -1.5, 0.4, -1.0, 0.3])
    params = dict(zip(batched_sbc.NAMES, theta, strict=True))
    truth, y = batched_sbc.simulate(jax.random.PRNGKey(0), model, 2)
    assert truth.shape == (2, 6) and y.shape == (2, design.log_params.size)
    expected = get_law("chinchilla").mean_log_loss(np, design, params)
    np.testing.assert_allclose(np.asarray(get_law("chinchilla").mean_log_loss(jnp, design, params)), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(model.mean_log_loss(jnp.asarray(theta))), expected, rtol=1e-12)


def test_the_atlas_model_is_the_registry_law_on_a_design_that_needs_lam_and_tau(batched_sbc):
    import jax
    import jax.numpy as jnp

    from bayes_atlas.laws import get_law
    from bayes_atlas.laws.forms import tau_from_bts
    from bayes_atlas.models.law import LawConfig

    model = batched_sbc.atlas_model()
    design = model.design
    law = get_law("atlas")
    # Priors are the package's defaults: table centres at loss 1, population spread, lam, BTS.
    config = LawConfig(law="atlas")
    np.testing.assert_allclose(model.mean[:5], LawConfig.table_centres(1.0))
    np.testing.assert_allclose(model.sd, [*config.theta_sd, config.lam_log_sd, config.bts_pooled_sd])
    assert model.mean[5] == pytest.approx(np.log(config.lam_median)) and model.mean[6] == config.bts_pooled_mean
    # The design: repeated monolingual runs (4-50 epochs), bilingual runs with one named source.
    epochs = design.target_tokens / design.target_unique
    assert epochs.max() == pytest.approx(50) and (epochs > 1).sum() == 12
    bilingual = design.transfer_tokens[:, 0] > 0
    assert bilingual.sum() == 8 and (design.transfer_tokens[:, 1:] == 0).all() and (design.other_tokens == 0).all()
    np.testing.assert_allclose(design.total_tokens, design.target_tokens + design.transfer_tokens[:, 0])
    # The model's mean is the registry's ATLAS law (numpy, the package's parameterisation).
    theta = np.array([np.log(0.7), np.log(0.18), 0.4, np.log(0.22), 0.3, np.log(1 / 10), 0.4])
    params = dict(zip(batched_sbc.NAMES, theta[:5], strict=True))
    params.update(lam=1 / 10, tau=np.array([float(tau_from_bts(0.4)), 0.0, 0.0]), tau_other=0.05)
    expected = law.mean_log_loss(np, design, params)
    np.testing.assert_allclose(np.asarray(model.mean_log_loss(jnp.asarray(theta))), expected, rtol=1e-12)
    # Both lam and the BTS move the mean where the design says they should, and only there.
    for k, rows in ((5, epochs > 1), (6, bilingual)):
        moved = theta.copy()
        moved[k] += 0.3
        change = np.abs(np.asarray(model.mean_log_loss(jnp.asarray(moved))) - expected)
        assert (change[rows] > 1e-3).all() and (change[~rows] < 1e-12).all()
    # Batched simulation: the same mean per dataset as one at a time.
    truth, y = batched_sbc.simulate(jax.random.PRNGKey(3), model, 3)
    assert truth.shape == (3, 8) and y.shape == (3, design.log_params.size) and np.isfinite(y).all()
    one = np.asarray(model.mean_log_loss(jnp.asarray(truth[2, :7])))
    batch = np.asarray(model.mean_log_loss(jnp.asarray(truth[:, None, :7])))
    np.testing.assert_allclose(batch[2], one, rtol=1e-12)


def _assert_uniform(batched_sbc, result):
    rank, n_draws = result["ranks"], result["n_draws"]
    assert n_draws == 100
    p_chi2 = batched_sbc.uniformity_pvalues(rank, n_draws, bins=10)
    p_ks = batched_sbc.ks_pvalues(rank, n_draws)
    print("parameters  ", result["names"])
    print("chi-square p", np.round(p_chi2, 3))
    print("KS p        ", np.round(p_ks, 3))
    print("divergences ", int(result["divergences"].sum()), "in", int((result["divergences"] > 0).sum()), "datasets")
    # k parameters, two tests each: 0.001 per test keeps the family-wise false alarm near 1-2%.
    assert (p_chi2 > 1e-3).all(), dict(zip(result["names"], p_chi2, strict=True))
    assert (p_ks > 1e-3).all(), dict(zip(result["names"], p_ks, strict=True))


@pytest.mark.slow
def test_sbc_ranks_of_the_chinchilla_law_are_uniform(batched_sbc):
    result = batched_sbc.sbc(400, warmup=300, draws=300, thin=3, seed=0)
    _assert_uniform(batched_sbc, result)
    # A few prior draws make a hard posterior (an amplitude with no say in 16 runs): some
    # divergences there, without biasing the ranks above.
    assert np.median(result["divergences"]) == 0
    assert np.mean(result["divergences"] > 0) < 0.2


@pytest.mark.slow
def test_sbc_ranks_of_the_atlas_law_are_uniform(batched_sbc):
    model = batched_sbc.atlas_model()
    result = batched_sbc.sbc(400, warmup=300, draws=300, thin=3, seed=0, model=model)
    _assert_uniform(batched_sbc, result)
    assert np.median(result["divergences"]) == 0
    assert np.mean(result["divergences"] > 0) < 0.2
    # The design identifies every parameter: the posterior is narrower than the prior
    # (median over datasets of 1 - posterior var / prior var).
    shrink = batched_sbc.contraction(result, model)
    print("contraction ", np.round(shrink, 2))
    assert (shrink > 0.3).all(), dict(zip(result["names"], shrink, strict=True))
