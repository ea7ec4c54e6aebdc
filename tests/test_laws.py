import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayes_atlas import datasets, laws

tokens = st.floats(min_value=1e6, max_value=1e13)
lams = st.floats(min_value=1e-3, max_value=2.0)
exponents = st.floats(min_value=0.1, max_value=0.8)
amplitudes = st.floats(min_value=10.0, max_value=5000.0)
budgets = st.floats(min_value=1e17, max_value=1e25)


@given(D=tokens, U=tokens, lam=lams)
def test_saturation_never_exceeds_the_data(D, U, lam):
    assert laws.saturate(D, U, lam) <= D * (1 + 1e-12)


@given(U=tokens, lam=lams)
def test_saturation_is_continuous_at_one_epoch(U, lam):
    below = laws.saturate(U * (1 - 1e-9), U, lam)
    above = laws.saturate(U * (1 + 1e-9), U, lam)
    assert above == pytest.approx(below, rel=1e-7)
    assert laws.saturate(U, U, lam) == pytest.approx(U)


@given(U=tokens, lam=lams)
def test_saturation_asymptote(U, lam):
    far = laws.saturate(U * (1 + 200 / lam), U, lam)
    assert far == pytest.approx(U * (1 + 1 / lam), rel=1e-6)
    assert far < U * (1 + 1 / lam) * (1 + 1e-12)


@given(D=tokens, factor=st.floats(1.0, 100.0), U=tokens, lam=lams)
def test_saturation_is_monotone(D, factor, U, lam):
    assert laws.saturate(D * factor, U, lam) >= laws.saturate(D, U, lam) * (1 - 1e-12)


def test_unlimited_unique_data_means_no_repetition():
    D = np.array([1e9, 1e12])
    np.testing.assert_array_equal(laws.saturate(D, np.inf, 0.065), D)
    np.testing.assert_array_equal(laws.saturate(D, np.nan, 0.065), D)


@given(C=budgets, A=amplitudes, alpha=exponents, B=amplitudes, beta=exponents)
def test_closed_form_equals_numeric_optimum(C, A, alpha, B, beta):
    N_closed, D_closed = laws.compute_optimal_chinchilla(C, A, alpha, B, beta)
    N_num, D_num, _ = laws.compute_optimal_numeric(
        C, lambda N, D: laws.chinchilla_loss(N, D, 1.7, A, alpha, B, beta), log_N_bounds=(np.log(1e-10), np.log(1e40))
    )
    assert N_num == pytest.approx(N_closed, rel=1e-4)
    assert D_num == pytest.approx(D_closed, rel=1e-4)
    assert 6 * N_closed * D_closed == pytest.approx(C)


def test_optimum_at_the_search_bound_warns():
    with pytest.warns(RuntimeWarning, match="widen log_N_bounds"):
        laws.compute_optimal_numeric(1e21, lambda N, D: 1.0 / N, log_N_bounds=(np.log(1e6), np.log(1e9)))


def test_numeric_optimum_is_vectorised_over_draws():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0.3, 0.5, (500, 1))
    C = np.array([1e19, 1e21, 1e23])
    N, D, loss = laws.compute_optimal_repeated(C, 1.7, 400.0, alpha, 410.0, 0.3, U=np.inf, lam=0.065)
    assert N.shape == D.shape == loss.shape == (500, 3)
    N_closed, _ = laws.compute_optimal_chinchilla(C, 400.0, alpha, 410.0, 0.3)
    np.testing.assert_allclose(N, N_closed, rtol=1e-4)
    assert (np.diff(N, axis=1) > 0).all() and (np.diff(D, axis=1) > 0).all()


def test_scarce_data_shifts_the_optimum_toward_parameters():
    args = (1e23, 1.7, 400.0, 0.34, 410.0, 0.28)
    N_plenty, D_plenty, L_plenty = laws.compute_optimal_repeated(*args, U=np.inf, lam=0.065)
    N_scarce, D_scarce, L_scarce = laws.compute_optimal_repeated(*args, U=1e10, lam=0.065)
    assert N_scarce > 1.5 * N_plenty and D_scarce < D_plenty and L_scarce > L_plenty


def test_printed_expansion_multipliers():
    phi, psi = 0.11, -0.04
    alpha = phi / 0.243  # the printed N exponent phi/alpha
    beta = -psi / (1 - 0.728)  # the printed D_tot exponent 1 + psi/beta
    assert alpha == pytest.approx(0.45, abs=0.01) and beta == pytest.approx(0.15, abs=0.01)
    printed = datasets.expansion_multipliers()
    m = laws.expansion_multipliers(printed["r"].to_numpy(), phi, psi, alpha, beta)
    np.testing.assert_allclose(m.N, printed["N_multiplier"], atol=0.006)
    np.testing.assert_allclose(m.D_total, printed["D_total_multiplier"], rtol=1e-3, atol=0.005)
    assert round(float(m.N[0]), 2) == 1.18 and round(float(m.D_total[0]), 2) == 1.66
    assert np.log(m.C[0]) / np.log(2) == pytest.approx(0.970, abs=0.002)


@given(bts=st.floats(min_value=-5.0, max_value=1.99))
def test_tau_bts_round_trip(bts):
    assert laws.bts_from_tau(laws.tau_from_bts(bts)) == pytest.approx(bts, abs=1e-9)


def test_tau_domain_errors():
    with pytest.raises(ValueError, match="BTS must be < 2"):
        laws.tau_from_bts(2.0)
    with pytest.raises(ValueError, match="tau must be > -1"):
        laws.bts_from_tau(-1.0)
    assert laws.tau_from_bts(0.0) == 0.0


def test_reference_amplitudes_round_trip():
    a = laws.reference_from_amplitude(482.0, 0.348, laws.N_REF)
    assert laws.amplitude_from_reference(a, 0.348, laws.N_REF) == pytest.approx(482.0)
    # The registry's Chinchilla mean (reference-scale form) against the raw formula by hand.
    raw = laws.chinchilla_loss(3e8, 6e9, 1.82, 482.0, 0.348, 2085.0, 0.366)
    assert raw == pytest.approx(1.82 + 482.0 / 3e8**0.348 + 2085.0 / 6e9**0.366, rel=1e-12)


def _core(E, A, alpha, B, beta):
    return {
        "log_E": np.log(E),
        "a": laws.reference_from_amplitude(A, alpha, laws.N_REF),
        "alpha": alpha,
        "b": laws.reference_from_amplitude(B, beta, laws.D_REF),
        "beta": beta,
    }


def test_every_law_reduces_to_chinchilla_where_its_extra_terms_vanish():
    args = (1.8, 480.0, 0.35, 2000.0, 0.37)
    plain = 1.8 + 480.0 / 1e8**0.35 + 2000.0 / 1e9**0.37  # by hand
    one_epoch = laws.Design.of_run(params=1e8, tokens=1e9, unique=1e10)
    p = {**_core(*args), "gamma": 0.2, "phi": 0.11, "psi": -0.04, "lam": 0.065, "tau": 0.0, "tau_other": 0.05}
    p.update(log_delta=np.log(0.1), head_start=1e10, head_exponent=0.5)
    for name in laws.LAWS:  # family share 1, K = 1, no transfer, not finetuned, one epoch
        value = np.exp(laws.get_law(name).mean_log_loss(np, one_epoch, p))
        assert value == pytest.approx(plain, rel=1e-12), name
    repeated = laws.Design.of_run(params=1e8, tokens=1e11, unique=1e9)
    assert np.exp(laws.get_law("dcsl").mean_log_loss(np, repeated, p)) > laws.chinchilla_loss(1e8, 1e11, *args)


def test_atlas_effective_data():
    from bayes_atlas.laws.atlas import log_effective_data

    p = {"lam": 0.065, "tau": np.array([0.3, -0.1, 0.0]), "tau_other": 0.05}
    alone = laws.Design.of_run(params=1e9, tokens=1e9, unique=5e8)
    assert np.exp(log_effective_data(np, alone, p)) == pytest.approx(laws.saturate(1e9, 5e8, 0.065), rel=1e-9)
    mixed = laws.Design.of_run(params=1e9, tokens=1e9, transfer_tokens=np.array([1e9, 2e9]), other_tokens=1e10)
    assert np.exp(log_effective_data(np, mixed, p)) == pytest.approx(1e9 + 0.3e9 - 0.2e9 + 0.5e9, rel=1e-12)
    # Strong interference cannot drive the effective data to zero: the smooth floor holds it positive.
    harmful = {**p, "tau": np.array([-0.9, -0.9, -0.9])}
    crowded = laws.Design.of_run(params=1e9, tokens=1e8, transfer_tokens=np.array([1e10, 1e10, 1e10]))
    assert 0 < np.exp(log_effective_data(np, crowded, harmful)) < 1e8


def test_functions_accept_jax_arrays():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    D = jnp.array([1e8, 2e9, 1e12])
    out = laws.saturate(D, 1e9, 0.065)
    assert isinstance(out, jax.Array)
    np.testing.assert_allclose(np.asarray(out), laws.saturate(np.asarray(D), 1e9, 0.065))
    design = laws.Design.of_run(params=1e9, tokens=1e10, unique=2e9)
    p = {"log_E": jnp.log(1.7), "a": -1.6, "alpha": 0.4, "b": -1.4, "beta": 0.3, "lam": jnp.array(0.065)}
    p.update(tau=jnp.zeros(3), tau_other=jnp.array(0.05))
    loss = laws.get_law("atlas").mean_log_loss(jnp, design, p)
    assert isinstance(loss, jax.Array)
    assert float(loss) == pytest.approx(
        float(laws.get_law("atlas").mean_log_loss(np, design, {k: np.asarray(v) for k, v in p.items()}))
    )
    grad = jax.grad(lambda lam: laws.saturate(5e9, 1e9, lam))(0.065)
    assert float(grad) < 0  # a faster-decaying repetition value means less effective data
