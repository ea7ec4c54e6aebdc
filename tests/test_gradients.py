"""The ATLAS law's log density and gradient stay finite over the whole domain the schema allows,
and JAX's gradient (what NumPyro samples with) equals PyTensor's, at extreme designs and points.

One table holds the extreme rows at once (zero own tokens, languages absent from training,
strong negative transfer with 100x more source tokens, huge "other" shares, repeated data);
hypothesis then searches parameter points, including strongly negative transfer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

jax = pytest.importorskip("jax")


@pytest.fixture(scope="module")
def extreme_model():
    from bayes_atlas.laws import prepare_law_data
    from bayes_atlas.models.law import LawConfig, build_law_model
    from bayes_atlas.runs import RunTable

    rng = np.random.default_rng(0)
    rows = []
    for i, N in enumerate([8.5e7, 5e8, 2e9]):
        tokens = {
            "tokens_ur": 4.4e8,
            "tokens_yo": 4.4e8,
            "tokens_en": 1e11,
            "tokens_fr": 1e11,
            "tokens_zh": 1e11,
            "tokens_other": 1.4e11,
        }
        for language in ("ur", "yo", "en", "ha", "qu"):  # ha, qu: no tokens of their own
            rows.append(
                {
                    "run_id": f"r{i}",
                    "language": language,
                    "params": N,
                    **tokens,
                    "unique_yo": 1e8,
                    "loss": 3.5 - 0.2 * i + rng.normal(0, 0.02),
                }
            )
    runs = RunTable.from_frame(pd.DataFrame(rows))
    data = prepare_law_data(runs)
    prior = pd.DataFrame(
        [{"target": t, "source": s, "mean": -1.2 if t in ("ur", "yo") else 0.1, "sd": 0.05} for t, s in data.pairs]
    ).set_index(["target", "source"])
    model = build_law_model(data, LawConfig(law="atlas"), prior)
    from pymc.sampling.jax import get_jaxified_logp

    jax.config.update("jax_enable_x64", True)
    jaxified = get_jaxified_logp(model)
    start = model.initial_point()
    # Whichever sign this PyMC's jaxified density has, compare like with like.
    sign = np.sign(float(jaxified([jax.numpy.asarray(start[v.name]) for v in model.value_vars])) / model.compile_logp()(start))
    jax_grad = jax.jit(jax.grad(lambda *values: sign * jaxified(values), argnums=tuple(range(len(model.value_vars)))))
    return model, jax_grad, model.compile_dlogp(), start


@given(
    bts=st.floats(-1.9, 1.5),
    log_tau_other=st.floats(-12.0, 2.0),
    log_lam=st.floats(-6.0, 1.0),
    shift=st.floats(-3.0, 3.0),
)
def test_jax_and_pytensor_gradients_agree_and_are_finite(extreme_model, bts, log_tau_other, log_lam, shift):
    model, jax_grad, pytensor_grad, start = extreme_model
    point = dict(start)
    point["bts"] = np.full_like(start["bts"], bts)
    point["tau_other_log__"] = np.asarray(log_tau_other)
    point["lam_log__"] = np.asarray(log_lam)
    point["theta_z"] = start["theta_z"] + shift
    expected = pytensor_grad(point)
    found = np.concatenate([np.ravel(g) for g in jax_grad(*[jax.numpy.asarray(point[v.name]) for v in model.value_vars])])
    assert np.all(np.isfinite(expected)) and np.all(np.isfinite(found))
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-6)
