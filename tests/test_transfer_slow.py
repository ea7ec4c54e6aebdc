"""Slow tier of the transfer model: the full fit, parameter recovery, held-out coverage.

Run with ``make test-slow`` (or ``pytest -m slow tests/test_transfer_slow.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from bayes_atlas import transfer
from bayes_atlas.datasets import languages, transfer_matrix
from bayes_atlas.models.transfer import TransferConfig
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
    strict=True,
    reason="known limitation: no population fitted to the other 37 languages reaches yo (the most extreme of the 38); "
    "a symmetric Student-t population does worse (issue 14)",
)
def test_leave_one_language_out_for_extreme_targets():
    # yo, ckb, ps, zh and ur have target effects near -1 (BTS around -1.3 from every source).
    # Left out (row and column masked), their rows are predicted from the population alone.
    # Measured 2026-11-30, 90% coverage of the fold's 74 cells (row / column):
    #   normal population (default): yo 0.39 (0.00 / 0.78), ckb 0.43 (0.03 / 0.84),
    #     ps 0.49 (0.14 / 0.84), zh 0.55 (0.27 / 0.84), ur 0.57 (0.27 / 0.86);
    #   population="student_t": yo 0.39 (0.00 / 0.78), zh 0.53 (0.22 / 0.84), 174 and 186
    #     divergences: the fitted t (nu ~ 1, scale 0.07) hugs the 29 languages clustered at
    #     +0.1..+0.3, so its 5% quantile of a row's cells moves up (-0.66 vs -0.95). Sampled
    #     centred (2026-12-02), it converges and still does not help: yo and zh together 0.46
    #     of 148 cells (nu 0.91 [0.60, 1.40], scale 0.065; the left-out language's effects
    #     drawn exactly from the population; 0.43 with NUTS's under-sampled tails).
    # The target effects are skewed (a tight cluster and a left tail of 9 languages), not
    # symmetric heavy-tailed; a two-component population is the candidate (see the issue note).
    # All 38 languages left out in turn (evaluate_languages(seed=0), 20 min on 2 cores,
    # 2026-12-01): 90% coverage 0.878 of 2812 cells (rows 0.859, columns 0.897; 50%: 0.649),
    # 31 of 38 folds >= 0.85; the 33 other languages 0.937 (cluster rows 0.97-1.00: too wide),
    # these five 0.489, cy 0.70, ja 0.77. Coverage falls with the left-out target effect.
    # Probe of a two-component population (2026-12-01, approximate: the shipped fit's other
    # parameters, a normal mixture fitted by EM to the other 37 target effects, w 0.22, means
    # -0.58 / +0.19, sds 0.20 / 0.06): 90% row coverage yo 0.00 -> 0.00, ckb 0.03 -> 0.05,
    # ps 0.14 -> 0.14, zh 0.27 -> 0.54, ur 0.27 -> 0.86, cy 0.46 -> 0.95, ja 0.70 -> 0.92,
    # cluster rows unchanged (en 1.00 -> 0.84); the same normal numbers as the real folds. A
    # mixture fixes the moderate tail, not yo/ckb/ps: the three most extreme of 38 lie below
    # the 5% quantile of any population the other 37 support.
    # Why no calibrated population can pass this (shipped fit's target-effect means, 2026-12-02):
    # yo (-0.97) lies below all 37 others, ckb (-0.90) below 36; even the most flexible
    # exchangeable population, the empirical distribution of the other 37, puts them at
    # leave-one-out PIT (rank + 0.5) / 38 = 0.013 and 0.039, outside its own 90% interval
    # (normal population: 0.003 and 0.006; ps 0.012, zh 0.029, ur 0.051). A 90% interval that
    # holds >= 85% of the cells of the five most extreme of 38 targets must hold nearly every
    # language, i.e. be too wide for the other 33 (already 0.937).
    result = evaluate_languages(languages=["yo", "zh"], seed=0)
    assert result.scores.loc["bayesian_transfer_model", "coverage90"] >= 0.85


def test_a_mixture_population_covers_the_moderate_tail_that_the_normal_one_misses():
    # All 38 languages left out in turn (2026-12-01, seed 0, 28 min on 2 cores), 90% coverage of
    # 2812 cells: normal 0.878 (31 of 38 folds >= 0.85), population="mixture" 0.894 (33 of 38);
    # the five hardest targets 0.489 -> 0.586, the other 33 0.937 -> 0.941; RMSE 0.314 -> 0.327
    # (cluster languages better, e.g. bn 0.21 -> 0.13; the tail worse: the predictive median sits
    # in the main mode). Per fold, normal -> mixture: zh 0.55 -> 0.70, ur 0.57 -> 0.86,
    # cy 0.70 -> 0.91, ja 0.77 -> 0.85; yo, ckb, ps unchanged (0.39, 0.46, 0.51).
    config = TransferConfig(population="mixture")
    result = evaluate_languages(languages=["ur", "cy"], seed=0, config=config)
    print(f"\n{result.scores}")
    assert result.scores.loc["bayesian_transfer_model", "coverage90"] >= 0.85


def _oracle_quantiles(effects: np.ndarray, config: TransferConfig) -> tuple[np.ndarray, np.ndarray]:
    """5/50/95% of the Student-t population's scale and nu given the *true* target effects (brute-force grid).

    The priors are the model's: scale half-normal(``config.language_sd``) (the LKJ sd prior's
    marginal), nu Gamma(``config.nu_prior``); the effects are centred at 0 (the intercept is separate).
    """
    from scipy import stats

    scale = np.linspace(0.01, 1.0, 991)[:, None]
    nu = np.geomspace(0.3, 300.0, 600)[None, :]
    log_post = (
        stats.t.logpdf(effects[:, None, None], nu[None], scale=scale[None]).sum(axis=0)
        + stats.halfnorm.logpdf(scale, scale=config.language_sd)
        + stats.gamma.logpdf(nu, config.nu_prior[0], scale=1.0 / config.nu_prior[1])
        + np.log(nu)  # the geometric grid's cell width
    )
    weight = np.exp(log_post - log_post.max())

    def quantiles(grid: np.ndarray, mass: np.ndarray) -> np.ndarray:
        return np.interp([0.05, 0.5, 0.95], np.cumsum(mass) / mass.sum(), grid)

    return quantiles(scale[:, 0], weight.sum(axis=1)), quantiles(nu[0], weight.sum(axis=0))


@pytest.mark.parametrize("seed", [0, 4])
def test_student_t_population_matches_the_posterior_of_its_true_effects(seed):
    # Target effects drawn from a Student-t with nu = 3 and scale 0.25, fitted with
    # population="student_t". The target deviation is sampled centred (each one is pinned by its
    # 37 cells); sampled non-centred as z / sqrt(g), g ~ Gamma(nu/2, nu/2), it had 100
    # divergences, r_hat 1.026 and bulk ESS 237 here (seed 4, 2026-11-30; 172 with log g
    # non-centred in nu, 2026-12-02). Measured 2026-12-02: seeds 0-4 0 divergences, max r_hat
    # 1.003-1.004, bulk ESS 1330-1650, 25-40 s each.
    # The reference is independent of the sampler: the grid posterior of (scale, nu) given the
    # 38 true target effects. The fit sees them only through noisy cells, so it can be a little
    # wider; measured: seed 0 scale 0.275 / 0.343 / 0.426 vs 0.274 / 0.343 / 0.428, nu 4.9 /
    # 16.6 / 45.6 vs 5.2 / 17.5 / 47.3; seed 4 scale 0.253 / 0.342 / 0.445 vs 0.260 / 0.353 /
    # 0.454, nu 3.0 / 9.7 / 34.4 vs 3.1 / 10.9 / 37.2. (Seeds 0 and 4 are the draws whose 38
    # effects put the true scale 0.25 below the 5% quantile of even this oracle: the 90% interval
    # missing the truth there is the data's doing, not the model's.)
    config = TransferConfig(population="student_t")
    matrix, truth = transfer.simulate_matrix(languages(), target_nu=3.0, language_sd=(0.25, 0.08), seed=seed)
    fit = transfer.TransferModel(population="student_t").fit(matrix, random_seed=seed, progressbar=False, warn=False)
    print(f"\nstudent_t recovery: {fit.diagnostics}")
    d = fit.diagnostics
    assert d.divergences == 0 and d.max_r_hat <= 1.01 and d.min_ess_bulk >= 400, d
    scale_ref, nu_ref = _oracle_quantiles(truth["target_effect"], config)
    scale_fit = np.quantile(fit.draws("language_sd")[:, 0], [0.05, 0.5, 0.95])
    nu_fit = np.quantile(fit.draws("language_nu"), [0.05, 0.5, 0.95])
    print(f"scale {scale_fit.round(3)} vs {scale_ref.round(3)}; nu {nu_fit.round(2)} vs {nu_ref.round(2)}")
    np.testing.assert_allclose(scale_fit, scale_ref, atol=0.025)
    np.testing.assert_allclose(nu_fit, nu_ref, rtol=0.25)


def test_student_t_left_out_language_has_the_population_tails():
    # yo left out of the published matrix (row and column): its effects are the population's.
    # Sampled centred by NUTS (before 2026-12-02's exact draw) the near-Cauchy tails (nu ~ 0.9)
    # were under-sampled: quantiles 0.5% / 99.5% -1.99 / 2.12 against -6.45 / 6.66, P(|dev| > 1)
    # 2.9% against 5.0%. Checked against scipy: target / scale is t_nu given each draw.
    from scipy import stats

    matrix = transfer_matrix().copy()
    matrix.loc[{"target": "yo"}] = np.nan
    matrix.loc[{"source": "yo"}] = np.nan
    fit = transfer.TransferModel(population="student_t").fit(matrix, random_seed=0, progressbar=False, warn=False)
    i = list(fit.languages).index("yo")
    sd, nu = fit.draws("language_sd"), fit.draws("language_nu")
    pit = stats.t.cdf(fit.draws("target_effect")[:, i] / sd[:, 0], nu)
    print(
        f"\nyo left out: KS p {stats.kstest(pit, 'uniform').pvalue:.3g}, tails {np.mean(pit < 0.01):.4f} / {np.mean(pit > 0.99):.4f}"
    )
    assert stats.kstest(pit, "uniform").pvalue > 0.01
    assert 0.005 < np.mean(pit < 0.01) < 0.015 and 0.005 < np.mean(pit > 0.99) < 0.015
