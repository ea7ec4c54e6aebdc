import shutil

import numpy as np
import pytest

from bayes_atlas import datasets
from bayes_atlas.errors import DatasetError
from bayes_atlas.public_runs import MIRROR_ENV, fetch


def test_chinchilla_epoch(mirror):
    runs = datasets.chinchilla_epoch()
    frame = runs.frame
    assert len(frame) == 245 and runs.per_token
    assert np.allclose(6 * frame["params"] * frame["tokens_en"], frame["training_flop"])
    assert frame["loss"].between(2.0, 5.1).all()
    assert "nats/token" in runs.meta["units"]


def test_datablations_final_and_divergence_flags(mirror):
    runs = datasets.datablations()
    frame = runs.frame
    assert len(frame) == 308
    assert np.allclose(frame["tokens_en"] / frame["unique_en"], frame["epochs"])
    flagged = set(frame.loc[frame["diverged"], "run_id"])
    assert {"1b566b100m", "2b836b100m", "421m32b100m"} <= flagged
    assert not frame.loc[frame["run_id"].str.startswith("14m"), "diverged"].any()


def test_datablations_curves(mirror):
    runs = datasets.datablations(curves=True)
    assert runs.frame["curve"].nunique() == 48
    assert runs.frame["unique_en"].notna().all()


def test_goldfish_units_and_mapping(mirror):
    runs = datasets.goldfish()
    assert runs.loss_unit == "bits/sequence" and not runs.per_token
    frame = runs.frame
    assert not frame["lang_mapped"].any()
    assert set(frame["size"]) == {"5mb", "10mb", "100mb", "1000mb", "full"}
    everything = datasets.goldfish(include_mapped=True).frame
    assert len(everything) == 741 and everything["lang_mapped"].sum() == 741 - len(frame)
    # Every row trains only on its own language's tokens, 10 epochs of the unique data.
    tokens = runs.tokens.to_numpy()
    assert ((tokens > 0).sum(axis=1) == 1).all()
    row = frame.iloc[0]
    assert row[f"tokens_{row['language']}"] == pytest.approx(10 * row[f"unique_{row['language']}"])


def test_regmix(mirror):
    train = datasets.regmix()
    assert train.kind == "domain"
    assert train.frame["run_id"].nunique() == 512 and train.frame["language"].nunique() == 13
    assert np.allclose(train.total_tokens, 1e9)
    big = datasets.regmix("1B", "test")
    assert np.allclose(big.total_tokens, 25e9)
    with pytest.raises(ValueError, match="total_tokens"):
        datasets.regmix("60m", "test")
    assert datasets.regmix("60m", "test", total_tokens=5e9).frame["params"].iloc[0] == 6e7
    with pytest.raises(ValueError, match="split"):
        datasets.regmix("1B", "train")


def test_mirror_copy_that_differs_is_refused(mirror, tmp_path, monkeypatch):
    target = tmp_path / "epoch_chinchilla"
    target.mkdir()
    shutil.copy(mirror / "epoch_chinchilla" / "svg_extracted_data.csv", target)
    with open(target / "svg_extracted_data.csv", "a") as handle:
        handle.write("\n")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(DatasetError, match="does not match its pinned SHA-256"):
        datasets.chinchilla_epoch()


def test_extraction_without_mirror_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    with pytest.raises(DatasetError, match="BAYES_ATLAS_DATA_MIRROR"):
        datasets.datablations()


def test_a_relative_mirror_that_points_nowhere_is_named_in_the_error(tmp_path, monkeypatch):
    # Measured 2026-12-02: BAYES_ATLAS_DATA_MIRROR=../shared/external, read by a notebook kernel
    # whose working directory is notebooks/, fell back to a download and failed with a bare
    # network error.
    import pooch

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(pooch, "retrieve", offline)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MIRROR_ENV, "../shared/external")
    with pytest.raises(DatasetError) as caught:
        fetch("epoch_chinchilla/svg_extracted_data.csv")
    message = str(caught.value)
    assert "could not download" in message and "set it to an absolute path" in message
    assert str(tmp_path.parent / "shared" / "external" / "epoch_chinchilla") in message


def test_unknown_file():
    with pytest.raises(DatasetError, match="unknown public file"):
        fetch("nope.csv")
