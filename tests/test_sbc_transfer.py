"""Simulation-based calibration of the transfer model (``bayes_atlas/models/transfer.py``) on an
8 x 8 matrix: the package's own PyMC builder, its log density compiled to JAX with the matrix as
an input, sampled for many simulated matrices at once by ``benchmarks/batched_sbc.py``'s sampler."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


@pytest.fixture(scope="module")
def sbc_model(batched_sbc):
    return batched_sbc.transfer_model()


def test_the_jax_density_is_the_builders(batched_sbc, sbc_model):
    """The sampled density is build_transfer_model's, for any matrix: compare with a model built on it."""
    from bayes_atlas.models.transfer import TransferConfig, build_transfer_model

    assert sbc_model.config == TransferConfig()  # the committed model's defaults
    data = sbc_model.data
    assert len(data.languages) == 8 and data.single_target.size == 4 and data.both_observed.sum() == 24
    assert set(np.unique(data.group_matrix[data.observed])) == {0, 1}
    truth, y = batched_sbc.simulate_transfer(sbc_model, 2, seed=7)
    assert y.shape == (2, 8, 8) and (np.isfinite(y) == data.observed).all()
    assert truth["target_effect"].shape == (2, 8) and truth["symmetric"].shape == (2, 28)
    rng = np.random.default_rng(0)
    logp = build_transfer_model(dataclasses.replace(data, bts_matrix=y[1]), sbc_model.config).compile_logp()
    for _ in range(3):
        point = {name: value + 0.5 * rng.standard_normal(np.shape(value)) for name, value in sbc_model.init.items()}
        expected = float(logp(point))
        assert float(sbc_model.logp(point, np.nan_to_num(y[1]))) == pytest.approx(expected, rel=1e-10, abs=1e-9)
        # A different matrix gives a different density (the data are an input, not baked in).
        assert float(sbc_model.logp(point, np.nan_to_num(y[0]))) != pytest.approx(expected, rel=1e-6)


def test_batched_transfer_sampler_equals_the_single_dataset_sampler(batched_sbc, sbc_model):
    import jax

    result = batched_sbc.transfer_sbc(4, warmup=10, draws=10, thin=1, seed=1, sbc_model=sbc_model)
    n_ranked = len(sbc_model.ranked)
    assert result["ranks"].shape == (4, n_ranked) and result["draws"].shape == (4, 10, n_ranked)
    assert ((result["ranks"] >= 0) & (result["ranks"] <= 10)).all()
    assert np.isfinite(result["draws"]).all()
    # The same key alone (no vmap): the same chain up to the rounding of the batched kernels.
    run_one = jax.jit(batched_sbc.make_transfer_sampler(sbc_model, 10, 10, 1))
    for i in range(4):
        alone, _ = run_one(result["keys"][i], np.nan_to_num(result["y"][i]))
        for name in sbc_model.value_names:
            np.testing.assert_allclose(np.asarray(alone[name]), result["z"][name][i], rtol=0, atol=1e-8)


@pytest.mark.slow
def test_sbc_ranks_of_the_transfer_model_are_uniform(batched_sbc, sbc_model):
    result = batched_sbc.transfer_sbc(200, warmup=300, draws=300, thin=3, seed=0, sbc_model=sbc_model, batch=50)
    rank, n_draws = result["ranks"], result["n_draws"]
    assert n_draws == 100
    p_chi2 = batched_sbc.uniformity_pvalues(rank, n_draws, bins=10)
    p_ks = batched_sbc.ks_pvalues(rank, n_draws)
    divergences = result["divergences"]
    for name, p, q in zip(result["names"], p_chi2, p_ks, strict=True):
        print(f"{name:22s} chi-square p {p:.3f}  KS p {q:.3f}")
    print("divergences", int(divergences.sum()), "in", int((divergences > 0).sum()), "datasets")
    # Where the divergences are: the median true scales of the datasets with and without them.
    truth = dict(zip(result["names"], result["truth"].T, strict=True))
    hit = divergences > 0
    for name in ("language_sd[target]", "language_sd[source]", "symmetric_sd", "asymmetric_sd", "noise_sd[measured]"):
        print(f"{name:22s} true median {np.median(truth[name][hit]):.3f} (divergent) {np.median(truth[name][~hit]):.3f} (not)")
    # 18 quantities, two tests each, 0.001 per test: family-wise false alarm ~3.5%.
    assert (p_chi2 > 1e-3).all(), dict(zip(result["names"], p_chi2, strict=True))
    assert (p_ks > 1e-3).all(), dict(zip(result["names"], p_ks, strict=True))
    # Prior draws make some hard posteriors at the package's target_accept 0.9 (measured: 286
    # divergent transitions in 59 of 200 datasets, 0.5% of the draws); the ranks above stay
    # uniform. The bound: most datasets none, under 1% of all draws.
    assert np.median(divergences) == 0
    assert divergences.sum() < 0.01 * divergences.size * 300
