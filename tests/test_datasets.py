import numpy as np
import pytest

from bayes_atlas import datasets


@pytest.fixture(scope="module")
def matrix():
    return datasets.transfer_matrix()


def test_transfer_matrix_layout(matrix):
    assert matrix.dims == ("target", "source")
    assert matrix.shape == (38, 38)
    assert list(matrix.target.values) == list(matrix.source.values)
    assert np.isnan(np.diag(matrix.values)).all()
    assert not np.isnan(matrix.values[~np.eye(38, dtype=bool)]).any()
    assert "Fig. 2" in matrix.attrs["provenance"]


def test_rows_are_targets(matrix):
    # Printed: Malay is helped by Indonesian; Norwegian by Swedish and German.
    assert matrix.sel(target="ms").drop_sel(source="ms").idxmax().item() == "id"
    no_row = matrix.sel(target="no").to_series().drop("no").sort_values(ascending=False)
    assert {"sv", "de"} <= set(no_row.index[:3])


def test_measured_block_is_the_first_nine(matrix):
    measured = matrix.measured.values
    assert measured.sum() == 72
    assert measured[:9, :9].sum() == 72
    assert list(matrix.target.values[:9]) == list(datasets.MEASURED_LANGUAGES)


def test_checks_printed_in_facts(matrix):
    values = matrix.values
    off = ~np.eye(38, dtype=bool)
    upper = np.triu(off)
    r = np.corrcoef(values[upper], values.T[upper])[0, 1]
    assert r == pytest.approx(-0.12, abs=0.005)
    same_script = matrix.target_script.values[:, None] == matrix.source_script.values[None, :]
    same = values[same_script & off]
    different = values[~same_script & off]
    assert len(same) == 406 and len(different) == 1000
    assert same.mean() == pytest.approx(-0.225, abs=0.001)
    assert different.mean() == pytest.approx(-0.392, abs=0.001)
    row_means = np.nanmean(values, axis=1, keepdims=True)
    explained = 1 - np.nanvar(values - row_means) / np.nanvar(values)
    assert explained == pytest.approx(0.83, abs=0.01)


def test_model_sizes():
    assert len(datasets.model_sizes()) == 20
    assert len(datasets.model_sizes("partial")) == 11
    minimal = datasets.model_sizes("minimal")
    assert list(minimal["params"]) == [9.04e6, 1.46e8, 3.68e8, 8.52e8, 2.03e9, 4.34e9, 8.45e9]
    assert "Table B.3" in minimal.attrs["provenance"]
    with pytest.raises(ValueError, match="subset must be"):
        datasets.model_sizes("tiny")


def test_capacity_mixtures():
    mixtures = datasets.capacity_mixtures()
    assert len(mixtures) == 12
    assert (mixtures["languages"].map(len) == mixtures["K"]).all()
    assert set(mixtures.loc["12v0", "languages"]) == set(mixtures.loc["8v0", "languages"]) | {"hi", "it", "ja", "pl"}
    assert "Table B.5" in mixtures.attrs["provenance"]


def test_small_printed_tables():
    rates = datasets.unimax_rates().set_index("language")["rate_percent"]
    assert rates["en"] == 5.0 and rates["yo"] == 0.06 and rates["_large_default"] == 1.42
    unique = datasets.unique_tokens()
    assert unique["en"] == 2.8e12 and unique["hi"] == 7.9e9
    curse = datasets.curse_fit()
    assert (curse["phi"], curse["psi"]) == (0.11, -0.04)
    multipliers = datasets.expansion_multipliers()
    assert list(multipliers["N_multiplier"]) == [1.18, 1.40, 1.66, 1.96]
    crossovers = datasets.crossover_tokens().set_index("language")["crossover_tokens"]
    assert crossovers.min() == 1.44e11 and crossovers.max() == 2.83e11 and len(crossovers) == 8
    fits = datasets.crossover_compute_fits()
    compute_2b = fits["coefficient"] * 2e9 ** fits["exponent"]
    assert ((compute_2b > 1.5e21) & (compute_2b < 3.6e21)).all()
    r2 = datasets.r2_table()
    assert len(r2) == 8 and r2["R2_N"].min() == -0.99


def test_table_c1_is_flagged_provisional():
    c1 = datasets.table_c1_laws()
    assert len(c1) == 18 and c1["provisional"].all()
    assert c1.attrs["tag"] == "provisional"
    assert len(datasets.table_c1_laws("multi_vocab_unimax_data")) == 6
    with pytest.raises(ValueError, match="regime must be one of"):
        datasets.table_c1_laws("nope")


def test_every_data_file_has_provenance():
    from bayes_atlas._paths import data_dir

    files = {p.name for p in data_dir().glob("*.csv")} - {"provenance.csv"}
    recorded = set(datasets.provenance().index)
    assert files == recorded
    assert datasets.provenance()["section"].notna().all()


def test_misfitting_openlm_matches_its_source():
    """Li et al.'s open_lm runs: values of data/scaling_results_last_ckpt_only.csv at hadasah/scaling_laws@1f3708c0."""
    runs = datasets.misfitting_openlm()
    frame = runs.frame.set_index("run_id")
    assert len(runs) == 81 and frame.index.is_unique and runs.languages == ["en"]
    assert runs.loss_unit == "nats/token"
    assert frame["model"].nunique() == 11
    # Source rows (C4 Eval Loss, peak_lr): 50m at 16.8B tokens, lr 0.004 -> 3.208512811921537 (lr 0.001: 3.2413660,
    # 0.002: 3.2113824); the best learning rate of each (N, D) is kept, as the authors' "lr opt" selection does.
    row = frame.loc["misfitting_50m_16777216000"]
    assert row["loss"] == pytest.approx(3.208513, abs=1e-6) and row["peak_lr"] == 0.004 and row["lr_tried"] == 3
    assert row["params"] == 113718400 and row["params_no_embedding"] == 49165440
    assert frame.loc["misfitting_1b_20971520000", "loss"] == pytest.approx(2.685065, abs=1e-6)
    assert frame.loc["misfitting_12m_104857600", "loss"] == pytest.approx(6.186798, abs=1e-6)
    np.testing.assert_allclose(frame["training_flop"], 6 * frame["params"] * frame["tokens_en"])
    assert "hadasah/scaling_laws@1f3708c0a12df0effb0ee906b1da5f9f0ff4f4f1" in runs.meta["provenance"]


def test_porian_isoflop_matches_its_source():
    """Porian et al.'s IsoFLOP runs: values of the summary pickles at formll/resolving-scaling-law-discrepancies@0dc60d91."""
    runs = datasets.porian_isoflop()
    frame = runs.frame
    assert len(runs) == 176 and runs.kind == "domain"
    assert frame.groupby("language").size().to_dict() == {"openwebtext2": 88, "refinedweb": 88}
    assert sorted(frame["flop_budget"].unique()) == pytest.approx([1.25e16 * 2**k for k in range(12)])
    # Each run's tokens are its budget over 6 N (the source's own 6NT/budget is 1 for every point).
    np.testing.assert_allclose(6 * frame["params"] * runs.total_tokens / frame["flop_budget"], 1.0, rtol=1e-8)
    # Source: the smallest RefinedWeb run (N 5,173,248 at 1.25e16) has loss 5.559906; the lowest loss of the
    # RefinedWeb and OpenWebText2 configurations (their min_loss) is 2.984568 and 2.651256, at 2.56e19 FLOPs.
    first = frame.set_index("run_id").loc["rw_1.25e+16_5173248"]
    assert first["loss"] == pytest.approx(5.559906, abs=1e-6) and first["tokens_refinedweb"] == 402712828
    lowest = frame.loc[frame.groupby("language")["loss"].idxmin()].set_index("language")
    assert lowest.loc["refinedweb", "loss"] == pytest.approx(2.984568, abs=1e-6)
    assert lowest.loc["openwebtext2", "loss"] == pytest.approx(2.651256, abs=1e-6)
    assert (lowest["flop_budget"] == 2.56e19).all()
    assert "formll/resolving-scaling-law-discrepancies@0dc60d91b8a525858a3067fc9e4a46ff5374cc6f" in runs.meta["provenance"]
