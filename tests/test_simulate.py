import numpy as np
import pandas as pd
import pytest

from bayes_atlas import datasets
from bayes_atlas.simulate import FINETUNE_LANGUAGES, atlas_study, default_truth


def test_same_seed_same_table(study):
    runs, _ = study
    again, _ = atlas_study(seed=1)
    pd.testing.assert_frame_equal(runs.frame, again.frame)
    other, _ = atlas_study(seed=2)
    assert not np.allclose(other.frame["loss"], runs.frame["loss"])


def test_design_matches_table_b1(study):
    runs, _ = study
    counts = runs.frame.groupby("design")["run_id"].nunique()
    assert counts.to_dict() == {
        "monolingual": 140,  # 7 languages x 20 sizes
        "unimax": 20,
        "monolingual_2b": 50,
        "bilingual_2b": 90,
        "bilingual": 150,  # 15 pairs x 10 sizes
        "capacity": 120,  # 12 mixtures x 10 sizes
        "finetune": 120,
        "scratch_curve": 120,
    }
    capacity = runs.frame[runs.frame["design"] == "capacity"]
    assert set(capacity["mixture"]) == set(datasets.capacity_mixtures().index)
    assert (capacity["K"] == capacity["mixture"].map(datasets.capacity_mixtures()["K"])).all()
    assert set(runs.frame.loc[runs.frame["design"] == "monolingual", "params"]) == set(datasets.model_sizes()["params"])


def test_truth_is_never_in_the_table(study):
    runs, truth = study
    assert "loss_expected" not in runs.frame.columns
    assert truth.expected_loss is not None and len(truth.expected_loss) == len(runs.frame)


def test_noise_has_the_stated_scale(study):
    runs, truth = study
    expected = truth.expected_loss.loc[list(zip(runs.frame["run_id"], runs.frame["language"], strict=True))]
    log_ratio = np.log(runs.frame["loss"].to_numpy() / expected.to_numpy())
    assert abs(log_ratio.mean()) < 3 * truth.sigma / np.sqrt(len(log_ratio))
    assert log_ratio.std() == pytest.approx(truth.sigma, rel=0.1)


def test_losses_sit_in_the_papers_range_at_2b(study):
    runs, _ = study
    at_2b = runs.frame[runs.frame["design"] == "monolingual_2b"]["loss"]
    assert at_2b.median() == pytest.approx(0.95, abs=0.1)
    assert at_2b.between(0.7, 1.35).all()


def test_scarce_languages_repeat_data(study):
    runs, truth = study
    sw = runs.frame[(runs.frame["design"] == "monolingual") & (runs.frame["language"] == "sw")]
    assert (sw["tokens_sw"] / sw["unique_sw"]).max() > 100
    assert truth.lam == pytest.approx(1 / 15.4)


def test_truth_is_calibrated_to_the_printed_crossovers():
    truth = default_truth()
    printed = datasets.crossover_tokens().set_index("language")["crossover_tokens"]
    for code, tokens in printed.items():
        assert truth.crossover_tokens(code, 2e9) == pytest.approx(tokens, rel=1e-6)
    for code in FINETUNE_LANGUAGES:
        assert 1.44e11 * 0.99 <= truth.crossover_tokens(code, 2e9) <= 2.83e11 * 1.01
    sizes = np.array([3.68e8, 8.52e8, 2.03e9, 4.34e9])
    compute = [6 * n * truth.crossover_tokens("en", n) for n in sizes]
    slope = np.polyfit(np.log(sizes), np.log(compute), 1)[0]
    assert 1.5 <= slope <= 1.7  # printed fits: N^1.54 and N^1.65


def test_finetuned_curve_starts_lower_and_ends_higher():
    truth = default_truth(sigma=0.0)
    runs, truth = atlas_study(seed=0, truth=truth)
    frame = runs.frame.set_index("run_id")
    early_ft, early_scratch = frame.loc["ft_en_2.03e+09_5e+09", "loss"], frame.loc["scratch_en_2.03e+09_5e+09", "loss"]
    late_ft, late_scratch = frame.loc["ft_en_2.03e+09_3.2e+11", "loss"], frame.loc["scratch_en_2.03e+09_3.2e+11", "loss"]
    assert early_ft < early_scratch and late_ft > late_scratch
    assert (frame.loc[frame["design"] == "finetune", "checkpoint"].str.startswith("unimax_")).all()


def test_user_given_truth_is_used():
    base = default_truth(sigma=0.0)
    languages = base.languages.copy()
    languages.loc["sw", "E"] += 0.5
    runs_base, _ = atlas_study(seed=3, truth=base)
    runs_shifted, truth = atlas_study(seed=3, truth=base.replace(languages=languages))
    sw = runs_base.frame["language"] == "sw"
    np.testing.assert_allclose(runs_shifted.frame.loc[sw, "loss"] - runs_base.frame.loc[sw, "loss"], 0.5)
    np.testing.assert_allclose(runs_shifted.frame.loc[~sw, "loss"], runs_base.frame.loc[~sw, "loss"])
    assert truth.params("sw")["E"] == pytest.approx(base.params("sw")["E"] + 0.5)


def test_truth_must_cover_the_design():
    base = default_truth()
    with pytest.raises(ValueError, match="lacks parameters"):
        atlas_study(truth=base.replace(languages=base.languages.drop(index="yo")))
    with pytest.raises(KeyError, match="truth has no parameters"):
        base.params("xx")


def test_stated_assumptions_are_the_truth_used():
    truth = default_truth()
    text = " ".join(truth.assumptions)
    assert "lam = 1/15.4" in text and truth.lam == pytest.approx(1 / 15.4)
    assert "tau_other = 0.05" in text and truth.tau_other == 0.05
    assert "2e10 target tokens at 2B" in text and truth.ckpt_tokens_2b == 2e10
    assert "N^0.75" in text and truth.ckpt_exponent == 0.75
    table = truth.languages
    drawn = table.drop(index="en")  # en is the package's fit of Epoch's runs
    n = len(drawn)
    for name, mean, sd in (("alpha", 0.35, 0.02), ("beta", 0.37, 0.02)):
        assert f"{name}_t ~ N({mean}, {sd})" in text
        assert abs(drawn[name].mean() - mean) < 4 * sd / np.sqrt(n), name  # drawn around the stated centre
    assert "LogNormal(log 21, 0.2) clipped to [12, 36]" in text
    assert table["tokens_per_param"].between(12, 36).all()
    assert abs(np.log(drawn["tokens_per_param"]).mean() - np.log(21)) < 4 * 0.2 / np.sqrt(n)
    assert "g_t ~ N(0.243, 0.04), h_t ~ N(-0.272, 0.05)" in text
    assert any("yo = 3e8" in text for text in truth.assumptions) and table.loc["yo", "unique_tokens"] == 3e8


def test_truth_reproduces_the_printed_expansion_multipliers():
    # The curse regime keeps the printed invariants phi/alpha = 0.243 and psi/beta = -0.272
    # over the capacity-run languages, so the printed multipliers hold for the population.
    from bayes_atlas.laws import expansion_multipliers

    table = default_truth().languages
    capacity = sorted({code for mixture in datasets.capacity_mixtures()["languages"] for code in mixture})
    pop = table.loc[capacity, ["alpha", "beta", "phi", "psi"]].mean()
    printed = datasets.expansion_multipliers().set_index("r")
    for r, row in printed.iterrows():
        m = expansion_multipliers(float(r), pop["phi"], pop["psi"], pop["alpha"], pop["beta"])
        assert float(m.N) == pytest.approx(row["N_multiplier"], abs=0.006)
        assert float(m.D_total) == pytest.approx(row["D_total_multiplier"], abs=0.006)


def test_truth_gives_the_documented_tokens_per_parameter():
    # Monolingual compute optimum at 1e21 FLOPs with unlimited data: in the documented range
    # (data/EVIDENCE.md); English is the package's fit of Epoch's runs (20.9).
    from bayes_atlas.simulate import REFERENCE_COMPUTE, TOKENS_PER_PARAM_RANGE, _optimal_ratio

    table = default_truth().languages
    low, high = TOKENS_PER_PARAM_RANGE
    for code in ("en", "fr", "ru", "zh", "hi", "sw", "ca", "de"):
        ratio = _optimal_ratio(table.loc[code], REFERENCE_COMPUTE)
        assert low <= ratio <= high, code
        assert ratio == pytest.approx(table.loc[code, "tokens_per_param"], rel=1e-4)
    assert table.loc["en", "tokens_per_param"] == pytest.approx(20.9, abs=0.1)
