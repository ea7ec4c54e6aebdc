"""Point fits (multi-start Huber) and the held-out law comparison, on small slices of the emulated study."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_atlas.evaluation import SPLITS, evaluate, holdout_masks
from bayes_atlas.pointfit import POINT_LAWS, bootstrap, point_fit


@pytest.fixture(scope="module")
def table1_runs(study):
    runs, _ = study
    frame = runs.frame
    keep = frame["design"].isin(["monolingual", "unimax", "bilingual", "bilingual_2b"]) & frame["language"].isin(
        ["en", "fr", "sw"]
    )
    return runs.subset(keep.to_numpy())


def test_point_fits_recover_the_truth_on_monolingual_runs(study):
    runs, truth = study
    mono = runs.subset(((runs.frame["design"] == "monolingual") & runs.frame["language"].isin(["en", "fr"])).to_numpy())
    result = point_fit(mono, "csl", n_starts=4, seed=0)
    assert set(result.params.index) == {"en", "fr"}
    assert result.params.loc["en", "alpha"] == pytest.approx(truth.params("en")["alpha"], abs=0.08)
    # fr is not asserted: one run per size with tokens rising with N, and alpha ~ beta in the
    # truth, lets the exponents trade off (measured: alpha 0.53, beta 0.23 against a true 0.34,
    # 0.36, at the same fit quality): the weakness pooling addresses.
    predicted = result.predict(mono)
    assert np.median(np.abs(predicted / mono.frame["loss"].to_numpy() - 1)) < 0.01


@pytest.mark.parametrize("law", POINT_LAWS)
def test_every_point_law_fits_and_predicts(table1_runs, law):
    result = point_fit(table1_runs, law, n_starts=1, seed=1)
    predicted = result.predict(table1_runs)
    assert np.isfinite(predicted).all()
    assert np.median(np.abs(predicted / table1_runs.frame["loss"].to_numpy() - 1)) < 0.03
    if law == "atlas":
        assert any(name.startswith("tau[") for name in result.params.columns)


def test_holdout_masks_follow_their_definitions(table1_runs):
    masks = holdout_masks(table1_runs, ("en", "fr", "sw"), seed=0)
    assert set(masks) == set(SPLITS)
    params = table1_runs.frame["params"].to_numpy()
    assert set(np.unique(params[masks["N"]])) == set(np.sort(np.unique(params))[-2:])
    total = table1_runs.total_tokens.to_numpy()
    en = table1_runs.frame["language"].to_numpy() == "en"
    assert total[masks["D"] & en].min() >= np.quantile(total[en], 0.8) - 1
    held = set(table1_runs.frame.loc[masks["M"], "mixture"])
    assert held and "unimax" not in held
    assert not (set(table1_runs.frame.loc[~masks["M"], "mixture"].dropna()) & held)
    assert 0.1 < masks["random"].mean() < 0.3


def test_evaluate_returns_a_tidy_table(table1_runs):
    table = evaluate(table1_runs, laws=("csl", "atlas_dt"), splits=("N", "random"), languages=("en", "fr", "sw"), n_starts=1)
    assert {"split", "law", "language", "r2", "coverage50", "coverage90", "n_test"} <= set(table.columns)
    mean = table[table["language"] == "mean"]
    assert set(mean["law"]) == {"csl", "atlas_dt"} and set(mean["split"]) == {"N", "random"}
    assert mean["coverage90"].isna().all()  # point fits carry no intervals
    r2 = mean.set_index(["split", "law"])["r2"]
    # Random rows held out: the law on the target's own tokens fits (> 0.9); total-token
    # Chinchilla does worse on mixed runs, as in ATLAS Table 1 (multi CSL 0.64; here 0.74).
    assert r2.loc[("random", "atlas_dt")] > 0.9 > r2.loc[("random", "csl")]
    # As in ATLAS Table 1: total-token Chinchilla extrapolates badly to the largest models of
    # mixed runs; the law on the target's own (repetition-aware) tokens does better.
    assert r2.loc[("N", "atlas_dt")] > r2.loc[("N", "csl")]
    with pytest.raises(ValueError, match="unknown laws"):
        evaluate(table1_runs, laws=("nope",))


def test_bootstrap_refits_resampled_rows(study):
    runs, _ = study
    mono = runs.subset(((runs.frame["design"] == "monolingual") & (runs.frame["language"] == "en")).to_numpy())
    fits = bootstrap(mono, "csl", n_resamples=3, n_starts=1, seed=4)
    # By hand: the same within-language resample of rows, refitted, gives the same parameters.
    from bayes_atlas.pointfit import point_fit
    from bayes_atlas.runs import RunTable

    rng = np.random.default_rng(4)
    for i, fitted in enumerate(fits):
        rows = rng.choice(len(mono), size=len(mono), replace=True)
        table = RunTable(mono.frame.iloc[rows].reset_index(drop=True), mono.loss_unit, mono.kind, dict(mono.meta))
        by_hand = point_fit(table, "csl", n_starts=1, seed=4 + i)
        np.testing.assert_allclose(fitted.params.loc["en"].to_numpy(), by_hand.params.loc["en"].to_numpy())


def test_point_fits_say_why_a_language_was_skipped_and_keep_transfer_bounded(study):
    from bayes_atlas.pointfit import point_fit

    runs, _ = study
    frame = runs.frame
    keep = ((frame["design"] == "monolingual") & frame["language"].isin(["en", "fr"])) | (
        (frame["design"] == "monolingual_2b") & (frame["language"] == "sw")
    )
    fitted = point_fit(runs.subset(keep.to_numpy()), "csl", n_starts=1)
    assert set(fitted.params.index) == {"en", "fr"}
    assert fitted.skipped == {"sw": "1 row(s), fewer than min_rows=5"}
    bilingual = runs.subset(((frame["design"] == "bilingual") & (frame["language"] == "ca")).to_numpy())
    atlas = point_fit(bilingual, "atlas", n_starts=2)
    tau = atlas.params.filter(like="tau[").to_numpy()
    assert np.all((tau >= -1 / 3 - 1e-12) & (tau <= 1.0 + 1e-12))  # BTS within [-1, 1]


def test_point_fit_predictions_far_outside_the_training_losses_warn(study):
    import warnings

    from bayes_atlas.errors import DecisionWarning
    from bayes_atlas.pointfit import point_fit

    runs, _ = study
    frame = runs.frame
    en = runs.subset(((frame["design"] == "monolingual") & (frame["language"] == "en")).to_numpy())
    fitted = point_fit(en, "csl", n_starts=1)
    tiny = en.frame.copy()
    tiny["params"] = 1e3  # a thousand-parameter model: the law's parameter term explodes
    from bayes_atlas.runs import RunTable

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted.predict(RunTable(tiny, en.loss_unit, en.kind, dict(en.meta)))
    assert any(isinstance(w.message, DecisionWarning) and w.message.code == "BA201" for w in caught)
