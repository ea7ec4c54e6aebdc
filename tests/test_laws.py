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
    raw = laws.chinchilla_loss(3e8, 6e9, 1.82, 482.0, 0.348, 2085.0, 0.366)
    b = laws.reference_from_amplitude(2085.0, 0.366, laws.D_REF)
    assert laws.chinchilla_loss_ref(3e8, 6e9, 1.82, a, 0.348, b, 0.366) == pytest.approx(raw)


def test_baselines_reduce_to_chinchilla():
    args = (1.8, 480.0, 0.35, 2000.0, 0.37)
    plain = laws.chinchilla_loss(1e8, 1e9, *args)
    assert laws.msl_loss(1e8, 1e9, 1.0, *args, 0.2) == pytest.approx(plain)
    # One epoch and a model no bigger than U_N: nothing is repeated.
    assert laws.dcsl_loss(1e8, 1e9, 1e9, *args, U_N=1e9) == pytest.approx(plain)
    assert laws.dcsl_loss(1e8, 1e11, 1e9, *args, U_N=1e9) > laws.chinchilla_loss(1e8, 1e11, *args)
    assert laws.curse_loss(1, 1e8, 1e9, 1.8, 480.0, 0.11, 0.35, 2000.0, -0.04, 0.37) == pytest.approx(plain)
    assert laws.atlas_loss(1e8, 1e9, *args) == pytest.approx(plain)


def test_atlas_effective_data():
    plain = laws.atlas_effective_data(1e9, 5e8, 0.065)
    assert plain == pytest.approx(laws.saturate(1e9, 5e8, 0.065))
    with_transfer = laws.atlas_effective_data(
        1e9, np.inf, 0.065, D_transfer=np.array([1e9, 2e9]), tau=np.array([0.3, -0.1]), D_other=1e10, tau_other=0.05
    )
    assert with_transfer == pytest.approx(1e9 + 0.3e9 - 0.2e9 + 0.5e9)
    with pytest.raises(ValueError, match="tau is required"):
        laws.atlas_effective_data(1e9, np.inf, 0.065, D_transfer=np.array([1e9]))


def test_functions_accept_jax_arrays():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    D = jnp.array([1e8, 2e9, 1e12])
    out = laws.saturate(D, 1e9, 0.065)
    assert isinstance(out, jax.Array)
    np.testing.assert_allclose(np.asarray(out), laws.saturate(np.asarray(D), 1e9, 0.065))
    loss = laws.chinchilla_loss_ref(jnp.array(1e9), jnp.array(1e10), 1.7, -1.6, 0.4, -1.4, 0.3)
    assert isinstance(loss, jax.Array)
    grad = jax.grad(lambda lam: laws.saturate(5e9, 1e9, lam))(0.065)
    assert float(grad) < 0  # a faster-decaying repetition value means less effective data
