"""Slow tier of the transfer model: the full fit, parameter recovery, held-out coverage.

Run with ``make test-slow`` (or ``pytest -m slow tests/test_transfer_slow.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bayes_atlas import transfer
from bayes_atlas.datasets import languages, transfer_matrix
from bayes_atlas.transfer_eval import evaluate_languages, evaluate_random

pytestmark = pytest.mark.slow


def _coverage(draws: np.ndarray, truth: np.ndarray, level: float = 0.9) -> float:
    lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    finite = np.isfinite(truth)
    return float(((truth >= lower) & (truth <= upper))[finite].mean())


def test_default_fit_converges_on_the_published_matrix():
    fit = transfer.TransferModel().fit(transfer_matrix(), random_seed=20261128, progressbar=False)
    d = fit.diagnostics
    print(f"\ndefault fit: {d}")
    assert d.divergences == 0
    assert d.max_r_hat <= 1.01
    assert d.min_ess_bulk >= 400 and d.min_ess_tail >= 400
    assert d.tree_depth_hits == 0
    assert fit.helpers("ms").index[0] == "id"


@pytest.mark.parametrize("seed", [1, 2])
def test_recovers_known_parameters(seed):
    matrix, truth = transfer.simulate_matrix(languages(), seed=seed)
    fit = transfer.TransferModel().fit(matrix, random_seed=seed, progressbar=False)
    assert fit.diagnostics.converged, fit.diagnostics
    effects = np.concatenate([fit.draws("target_effect"), fit.draws("source_effect")], axis=1)
    effect_coverage = _coverage(effects, np.concatenate([truth["target_effect"], truth["source_effect"]]))
    latent_coverage = _coverage(fit.bts().values.reshape(fit.n_draws, 38, 38), truth["latent"])
    print(
        f"\nseed {seed}: 90% coverage of the 76 language effects {effect_coverage:.3f}, of the 1406 latent cells {latent_coverage:.3f}"
    )
    assert 0.8 <= effect_coverage <= 0.99
    assert 0.85 <= latent_coverage <= 0.95
    for name in ("beta_script", "beta_family", "symmetric_sd", "intercept"):
        lower, upper = np.quantile(fit.draws(name), [0.005, 0.995])
        assert lower <= truth[name] <= upper, (name, truth[name], lower, upper)


def test_random_holdout_is_calibrated_and_beats_the_baselines():
    result = evaluate_random(fraction=0.2, seed=0)
    scores = result.scores
    print(f"\n{scores}")
    bayes = scores.loc["bayesian_transfer_model"]
    assert 0.83 <= bayes["coverage90"] <= 0.97
    assert bayes["rmse"] < scores.loc["row_means", "rmse"]
    assert bayes["rmse"] < scores.loc["ols_covariates", "rmse"]
    assert bayes["rmse"] <= scores.loc["ols_fixed_effects", "rmse"] + 0.01


def test_leave_one_language_out():
    result = evaluate_languages(languages=["ca", "ms", "no", "ar"], seed=0)
    scores = result.scores
    print(f"\n{scores}")
    bayes = scores.loc["bayesian_transfer_model"]
    assert bayes["coverage90"] >= 0.85
    assert bayes["rmse"] < scores.loc["ols_covariates", "rmse"]


@pytest.mark.xfail(
    strict=True, reason="known limitation: a normal population under-covers the languages that are hardest to help"
)
def test_leave_one_language_out_for_extreme_targets():
    # yo, ckb, ps, zh and ur have target effects near -1 (BTS around -1.3 from every source);
    # left out, the normal population puts them too close to the others: 90% coverage
    # 0.41-0.57 in the full leave-one-language-out run. A heavier-tailed population would
    # fix it; this test then passes and must be turned into a plain one.
    result = evaluate_languages(languages=["yo", "zh"], seed=0)
    assert result.scores.loc["bayesian_transfer_model", "coverage90"] >= 0.8
