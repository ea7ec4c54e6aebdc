"""Fast tier of the hierarchical law: structure, a small fit, prediction, save/load, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayes_atlas
from bayes_atlas.inference import PosteriorFileError
from bayes_atlas.models.law import LawConfig, prepare_law_data
from bayes_atlas.runs import RunTable
from bayes_atlas.scaling import EMULATED_DESIGNS, Fit, FitInputError


@pytest.fixture(scope="module")
def bilingual_runs(study):
    runs, _ = study
    frame = runs.frame
    keep = frame["design"].isin(["bilingual"]) & frame["language"].isin(["es", "ca", "pt"])
    return runs.subset(keep.to_numpy())


@pytest.fixture(scope="module")
def small_fit(small_chinchilla_fit):
    """conftest's short chinchilla fit of ``mono_runs`` (test_datatree uses it too)."""
    return small_chinchilla_fit


def test_prepare_law_data_picks_transfer_sources(bilingual_runs):
    data = prepare_law_data(bilingual_runs)
    assert data.n_rows == len(bilingual_runs)
    assert (data.target_tokens > 0).all()
    used = data.transfer_tokens > 0
    assert used[:, 0].all() and not used[:, 1:].any()  # bilingual: one transfer source each
    for target, source in data.pairs:
        assert target != source


def test_small_chinchilla_fit_structure(small_fit, study):
    assert small_fit.law == "chinchilla"
    assert small_fit.languages == ("en", "fr", "sw")
    assert small_fit.posterior["alpha"].dims == ("chain", "draw", "language")
    summary = small_fit.summary()
    assert {"E", "alpha", "beta"} <= set(summary.index.get_level_values("parameter"))
    _, truth = study
    # Even a short fit puts the true exponent of English near its interval.
    alpha_en = summary.loc[("en", "alpha")]
    assert alpha_en["lower"] - 0.1 < truth.params("en")["alpha"] < alpha_en["upper"] + 0.1


def test_predict_covers_the_training_losses(small_fit, mono_runs):
    draws = small_fit.predict(mono_runs)
    assert draws.dims == ("chain", "draw", "run")
    lower, upper = np.quantile(draws.values.reshape(-1, draws.sizes["run"]), [0.05, 0.95], axis=0)
    observed = mono_runs.frame["loss"].to_numpy()
    assert np.mean((observed >= lower) & (observed <= upper)) > 0.8


def test_unseen_language_gets_a_population_draw(small_fit, study):
    runs, _ = study
    other = runs.subset(((runs.frame["design"] == "monolingual") & (runs.frame["language"] == "zh")).to_numpy())
    seen = small_fit.predict(runs.subset(((runs.frame["design"] == "monolingual") & (runs.frame["language"] == "en")).to_numpy()))
    unseen = small_fit.predict(other)
    assert np.isfinite(unseen.values).all()
    assert float(np.log(unseen).std("draw").mean()) > float(np.log(seen).std("draw").mean())


def test_save_load(small_fit, tmp_path):
    path = small_fit.save(tmp_path / "law.nc")
    loaded = Fit.load(path)
    assert loaded.config == small_fit.config
    assert loaded.meta["data_hash"] == small_fit.meta["data_hash"]
    pd.testing.assert_frame_equal(loaded.summary(), small_fit.summary())
    from bayes_atlas.transfer import load_default

    load_default().save(tmp_path / "transfer.nc", max_draws=50)
    with pytest.raises(PosteriorFileError, match="not a 'law' one"):
        Fit.load(tmp_path / "transfer.nc")


def test_fit_input_errors(mono_runs):
    with pytest.raises(FitInputError, match="law must be one of"):
        bayes_atlas.fit(mono_runs, law="kaplan")
    with pytest.raises(FitInputError, match="RunTable"):
        bayes_atlas.fit(mono_runs.frame)
    with pytest.raises(FitInputError, match="at least 3 rows"):
        bayes_atlas.fit(mono_runs.subset(np.arange(len(mono_runs)) < 2))
    with pytest.raises(FitInputError, match="per-token losses"):
        bayes_atlas.fit(RunTable.from_frame(mono_runs.frame, loss_unit="bits/sequence"), law="curse")


def test_law_config_validation():
    with pytest.raises(ValueError, match="law must be one of"):
        LawConfig(law="x")
    with pytest.raises(ValueError, match="needs 5 values"):
        LawConfig(theta_mean=(0.0,))
    assert LawConfig.from_dict(LawConfig().to_dict()) == LawConfig()


def test_epoch_chinchilla_runs_match_the_published_fit(mirror):
    """Real data: Epoch AI's 245 Chinchilla runs; their published estimates sit inside our 90% intervals."""
    from bayes_atlas.laws import D_REF, N_REF, amplitude_from_reference
    from bayes_atlas.public_runs import chinchilla_epoch

    result = bayes_atlas.fit(
        chinchilla_epoch(), law="chinchilla", draws=500, tune=500, chains=4, random_seed=0, progressbar=False
    )
    assert result.diagnostics.divergences == 0 and result.diagnostics.max_r_hat < 1.02
    published = {"E": 1.82, "alpha": 0.348, "beta": 0.366}
    summary = result.summary()
    for name, value in published.items():
        lower, upper = summary.loc[("en", name), ["lower", "upper"]]
        assert lower - 0.01 <= value <= upper + 0.01, (name, value, lower, upper)
    A = amplitude_from_reference(result.draws("a")[:, 0], result.draws("alpha")[:, 0], N_REF)
    B = amplitude_from_reference(result.draws("b")[:, 0], result.draws("beta")[:, 0], D_REF)
    assert np.quantile(A, 0.05) < 482 < np.quantile(A, 0.95)
    assert np.quantile(B, 0.05) < 2085 < np.quantile(B, 0.95)


@pytest.mark.filterwarnings("ignore::bayes_atlas.inference.ConvergenceWarning")  # 100 draws: structure only
def test_fit_command(mono_runs, tmp_path):
    from click.testing import CliRunner

    from bayes_atlas.cli import main

    csv = tmp_path / "runs.csv"
    mono_runs.frame.drop(columns=["design"]).to_csv(csv, index=False)
    out, card = tmp_path / "law.nc", tmp_path / "law.md"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "fit",
            str(csv),
            "--law",
            "chinchilla",
            "--out",
            str(out),
            "--card",
            str(card),
            "--draws",
            "100",
            "--tune",
            "100",
            "--chains",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert Fit.load(out).languages == ("en", "fr", "sw")
    assert "## Sampling and diagnostics" in card.read_text()
    result = runner.invoke(main, ["fit", "--out", str(out)])
    assert result.exit_code != 0 and "either RUNS_CSV or --emulated" in result.output


def test_shipped_emulated_posterior():
    from bayes_atlas._paths import models_dir
    from bayes_atlas.scaling import emulated_study_runs

    path = models_dir() / "atlas-emulated.nc"
    shipped = Fit.load(path)
    assert shipped.law == "atlas" and len(shipped.languages) == 50
    assert shipped.diagnostics.converged, shipped.diagnostics
    assert "EMULATION" in (models_dir() / "atlas-emulated.md").read_text()
    runs = emulated_study_runs(0)
    assert shipped.meta["data_hash"] == runs.data_hash()
    draws = shipped.predict(runs.subset(np.arange(len(runs)) < 40))
    observed = runs.frame["loss"].to_numpy()[:40]
    lower, upper = np.quantile(draws.values.reshape(-1, 40), [0.05, 0.95], axis=0)
    assert np.mean((observed >= lower) & (observed <= upper)) > 0.8


@pytest.fixture(scope="module")
def curse_runs(study):
    runs, _ = study
    frame = runs.frame
    keep = frame["language"].isin(["de", "fr", "es"]) & (
        (frame["design"] == "monolingual_2b") | frame["mixture"].isin(["4v0", "8v0", "16v0"])
    )
    return runs.subset(keep.to_numpy())


def test_curse_law_fit_structure_and_prediction(curse_runs, tmp_path):
    data = prepare_law_data(curse_runs)
    assert set(np.unique(data.mixture_size)) == {1.0, 4.0, 8.0, 16.0}
    # A smoke fit (150 draws): its chains need not agree (r_hat ~2 measured); structure only.
    result = bayes_atlas.fit(
        curse_runs, law="curse", draws=150, tune=200, chains=2, random_seed=3, progressbar=False, warn=False, allow_failed=True
    ).accept_failure()
    assert result.posterior["phi"].dims == ("chain", "draw", "language")
    assert {"phi", "psi"} <= set(result.summary().index.get_level_values("parameter"))
    predicted = result.predict(curse_runs, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / curse_runs.frame["loss"].to_numpy() - 1)) < 0.03
    loaded = Fit.load(result.save(tmp_path / "curse.nc"))
    assert loaded.law == "curse"
    np.testing.assert_allclose(loaded.posterior["psi"].values, result.posterior["psi"].values)
    # An unseen language gets phi/psi from the pooled distribution.
    assert loaded.effect_draws("phi", ["sw"]).std() > 0


def test_finetune_law_needs_both_kinds_of_rows(study):
    runs, _ = study
    frame = runs.frame
    scratch_only = runs.subset((frame["design"] == "scratch_curve").to_numpy())
    with pytest.raises(FitInputError, match="finetuned rows"):
        bayes_atlas.fit(scratch_only, law="finetune")
    both = runs.subset((frame["design"].isin(["finetune", "scratch_curve"]) & frame["language"].isin(["en", "de"])).to_numpy())
    result = bayes_atlas.fit(both, law="finetune", draws=150, tune=200, chains=2, random_seed=4, progressbar=False, warn=False)
    assert result.posterior["delta"].dims == ("chain", "draw", "language")
    assert float(result.posterior["head_start"].median()) > 1e9
    predicted = result.predict(both, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / both.frame["loss"].to_numpy() - 1)) < 0.03


def test_curse_law_rejects_rows_without_target_tokens(study):
    runs, _ = study
    unimax = runs.subset((runs.frame["design"] == "unimax").to_numpy())
    frame = unimax.frame.copy()
    first_run = frame["run_id"] == frame.loc[0, "run_id"]
    frame.loc[first_run, "tokens_en"] = 0.0  # a run that trained on no English, evaluated on English
    broken = RunTable.from_frame(frame)
    with pytest.raises(FitInputError, match="tokens of the evaluated language"):
        bayes_atlas.fit(broken, law="curse")


def test_per_sequence_losses_are_rescaled_per_language(per_sequence_fit):
    # The same runs in "bits per sequence" at very different scales per language (conftest:
    # en x40, fr x90, sw x150): the fit rescales each language and predicts back on the
    # original scale.
    frame, runs, result = per_sequence_fit
    assert set(result.meta["loss_scale"]) == {"en", "fr", "sw"}
    # The anchor is each language's smallest-compute run, a design point every language shares.
    english = frame[frame["language"] == "en"]
    smallest = (english["params"] * runs.total_tokens[english.index]).idxmin()
    assert result.meta["loss_scale"]["en"] == pytest.approx(english.loc[smallest, "loss"])
    predicted = result.predict(runs, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / frame["loss"].to_numpy() - 1)) < 0.02
    unseen = pd.DataFrame({"run_id": ["d1"], "language": ["de"], "params": [1e8], "loss": [80.0], "tokens_de": [2e9]})
    with pytest.raises(ValueError, match="per-sequence"):
        result.predict(RunTable.from_frame(unseen, loss_unit="bits/sequence"))


def test_unpooled_fit_has_no_population(mono_runs):
    config = LawConfig(pooling="none")
    result = bayes_atlas.fit(
        mono_runs, law="chinchilla", config=config, draws=100, tune=150, chains=2, random_seed=6, progressbar=False, warn=False
    )
    assert "theta_mu" not in result.posterior
    assert result.posterior["alpha"].sizes["language"] == 3
    with pytest.raises(ValueError, match="pooling must be"):
        LawConfig(pooling="some")


def test_dcsl_and_msl_laws_fit_and_predict(mono_runs, bilingual_runs, dcsl_smoke_fit):
    # A smoke fit of 120 draws (conftest): sw's repeated-data rows make a and alpha mix slowly
    # (r_hat ~2 at this size), so the test accepts it and checks the predictions only.
    dcsl = dcsl_smoke_fit
    predicted = dcsl.predict(mono_runs, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / mono_runs.frame["loss"].to_numpy() - 1)) < 0.03
    msl = bayes_atlas.fit(bilingual_runs, law="msl", draws=120, tune=200, chains=2, random_seed=8, progressbar=False, warn=False)
    assert msl.posterior["gamma"].dims == ("chain", "draw", "language")
    assert "gamma" in set(msl.summary().index.get_level_values("parameter"))
    predicted = msl.predict(bilingual_runs, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / bilingual_runs.frame["loss"].to_numpy() - 1)) < 0.03


def test_population_options_build_the_named_variables(study):
    """``parameterization="auto"`` centres data-rich languages; the Gamma spread prior; learnt Student-t tails."""
    from bayes_atlas.models.law import build_law_model

    runs, _ = study
    keep = runs.frame["design"].isin(EMULATED_DESIGNS["atlas"]).to_numpy()
    data = prepare_law_data(runs.subset(keep))
    rows = np.bincount(data.language_index, minlength=len(data.languages))
    config = LawConfig(parameterization="auto", centered_min_rows=10, population_correlation=False, student_nu=None)
    model = build_law_model(data, config)
    centred = list(model.coords["language_centered"])
    assert centred == [code for code, n in zip(data.languages, rows, strict=False) if n >= 10] and 0 < len(centred) < len(
        data.languages
    )
    assert len(model.coords["language_noncentered"]) == len(data.languages) - len(centred)
    assert {"nu", "theta_sd"} <= {v.name for v in model.free_RVs}
    assert type(model["theta_sd"].owner.op).__name__.startswith("Gamma")
    assert "nu" not in {v.name for v in build_law_model(data, LawConfig()).free_RVs}
    with pytest.raises(ValueError, match="population_sd_prior"):
        LawConfig(population_sd_prior="flat")
    with pytest.raises(ValueError, match="parameterization"):
        LawConfig(parameterization="half")


def test_learnt_tails_are_used_by_predict(mono_runs):
    config = LawConfig(student_nu=None)
    result = bayes_atlas.fit(
        mono_runs, law="chinchilla", config=config, draws=100, tune=150, chains=2, random_seed=9, progressbar=False, warn=False
    )
    assert result.posterior["nu"].dims == ("chain", "draw")
    assert LawConfig.from_dict(result.config.to_dict()).student_nu is None
    # predict draws its noise with the learnt nu: set every draw's nu to 1 (Cauchy) and the
    # standardised noise must have Cauchy tails, P(|z| > 10) = 2 atan(1/10) / pi = 0.0635.
    result.posterior["nu"] = result.posterior["nu"] * 0 + 1.0
    noisy = np.log(result.predict(mono_runs, random_seed=0).values)
    mean = np.log(result.predict(mono_runs, noise=False).values)
    z = (noisy - mean) / result.posterior["sigma"].values[..., None]
    assert np.mean(np.abs(z) > 10) == pytest.approx(2 * np.arctan(0.1) / np.pi, abs=0.01)


def test_files_from_before_the_spread_prior_setting_load_as_half_normal(small_fit, tmp_path):
    import json

    import xarray as xr

    path = small_fit.save(tmp_path / "new.nc")
    tree = xr.open_datatree(path, engine="h5netcdf").load()
    config = json.loads(tree.attrs["config"])
    del config["population_sd_prior"]
    del config["population_space"]  # the shipped posteriors were saved before it was a setting
    tree.attrs = {**tree.attrs, "config": json.dumps(config)}
    tree.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    assert Fit.load(path).config.population_sd_prior == "gamma"
    old = Fit.load(tmp_path / "old.nc").config
    assert old.population_sd_prior == "halfnormal" and old.population_space == "amplitudes"
