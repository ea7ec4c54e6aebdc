"""Priors that scale with the data: prior predictive checks of the default law priors (issue 14).

The default centres of the floor and the reference amplitudes are fractions of the table's
median loss (``LawConfig.table_centres``), so the prior predictive must cover a table's losses
whatever their level or unit, without being absurdly wide, and the same runs in bits or nats
must get the same prior relative to their losses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayes_atlas
from bayes_atlas.models.law import LawConfig, build_law_model, prepare_law_data

#: The previous fixed centres (floor 0.8 nats): what a table of high losses was pulled toward.
FIXED_NATS = (np.log(0.8), -1.5, 0.4, -1.0, 0.3)


def _table(floor: float, unit: str = "nats/token", seed: int = 0) -> bayes_atlas.RunTable:
    """25 runs of one language whose floor is ``floor`` nats and whose reducible terms scale with it."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(5e7, 4e9, 5):
        for D in np.geomspace(1e9, 2e11, 5):
            loss = floor * (1 + 0.25 * (N / 1e9) ** -0.34 + 0.3 * (D / 1e10) ** -0.3) * np.exp(rng.normal(0, 0.01))
            rows.append(
                {
                    "run_id": f"r{len(rows)}",
                    "language": "en",
                    "params": N,
                    "tokens_en": D,
                    "loss": loss / (np.log(2) if unit == "bits/token" else 1),
                }
            )
    return bayes_atlas.RunTable.from_frame(pd.DataFrame(rows), loss_unit=unit)


def _prior_predictive(runs: bayes_atlas.RunTable, config: LawConfig) -> tuple[np.ndarray, np.ndarray]:
    """5%, 50%, 95% prior predictive loss per row (on the fitted scale) and the observed losses."""
    data = prepare_law_data(runs)
    with build_law_model(data, config):
        draws = pm.sample_prior_predictive(draws=1000, random_seed=0)
    log_loss = np.asarray(draws["prior_predictive"]["log_loss"]).reshape(-1, data.n_rows)
    return np.quantile(np.exp(log_loss), [0.05, 0.5, 0.95], axis=0), np.exp(data.log_loss)


@pytest.mark.parametrize(("floor", "unit"), [(0.6, "nats/token"), (2.5, "nats/token"), (2.5, "bits/token")])
def test_the_default_prior_predictive_covers_the_table_without_being_absurdly_wide(floor, unit):
    (low, median, high), observed = _prior_predictive(_table(floor, unit), LawConfig(law="chinchilla"))
    assert np.mean((low <= observed) & (observed <= high)) >= 0.95
    # Measured: the 90% prior predictive interval spans 6.4x; the prior median sits 1.49x above the losses.
    assert np.median(high / low) < 10
    assert 0.5 <= np.median(median / observed) <= 2.0


def test_the_prior_is_the_same_relative_to_the_losses_at_any_level_or_unit():
    # Brute force: the same runs at another loss level give prior predictive quantiles that are the
    # losses' own multiple (same seed, centres shifted by the log of the level).
    (q_low, _), (q_high, _), (q_bits, _) = (
        _prior_predictive(_table(floor, unit), LawConfig(law="chinchilla"))
        for floor, unit in ((0.6, "nats/token"), (2.5, "nats/token"), (2.5, "bits/token"))
    )
    np.testing.assert_allclose(q_high / q_low, 2.5 / 0.6, rtol=1e-6)
    # A bits table is read into nats (RunTable): the same runs, the same prior.
    np.testing.assert_allclose(q_bits, q_high, rtol=1e-6)


def test_fixed_centres_in_nats_pull_a_high_loss_table_toward_them():
    # The old default: a fixed floor centre of 0.8 nats. On a table whose floor is 2.5 nats the prior
    # predictive median sits at 0.46 of the losses (measured), so the data must fight the prior.
    (_, median, _), observed = _prior_predictive(_table(2.5), LawConfig(law="chinchilla", theta_mean=FIXED_NATS))
    assert np.median(median / observed) < 0.5
    assert LawConfig(law="chinchilla").resolved(np.log(_table(2.5).frame["loss"].to_numpy()), 1).theta_mean[0] == pytest.approx(
        np.log(0.7 * np.median(_table(2.5).frame["loss"]))
    )
