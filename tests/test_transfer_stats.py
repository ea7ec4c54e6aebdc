import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr

from bayes_atlas import datasets
from bayes_atlas.transfer_stats import pair_table, script_family_tests


@pytest.fixture(scope="module")
def published():
    # 2000 permutations: the reference test needs the p-value floor 1 / 2001 below 0.002.
    return script_family_tests(n_permutations=2000, seed=0)


def synthetic(script_effect: float, seed: int) -> xr.DataArray:
    """The published matrix's labels with BTS = target effect + source effect + planted script effect + noise."""
    matrix = datasets.transfer_matrix()
    rng = np.random.default_rng(seed)
    n = matrix.sizes["target"]
    same_script = matrix.target_script.values[:, None] == matrix.source_script.values[None, :]
    values = rng.normal(0, 0.2, (n, 1)) + rng.normal(0, 0.05, (1, n)) + script_effect * same_script
    values = values + rng.normal(0, 0.05, (n, n))
    np.fill_diagonal(values, np.nan)
    return matrix.copy(data=values)


def test_pair_table_matches_the_published_checks():
    pairs = pair_table()
    assert len(pairs) == 1406
    means = pairs.groupby("same_script")["bts"].mean()
    assert means[1] == pytest.approx(-0.225, abs=0.001) and means[0] == pytest.approx(-0.392, abs=0.001)
    assert pairs["measured"].sum() == 72


def test_result_structure(published):
    assert set(published.ols.index.get_level_values("model")) == {
        "naive", "two_way_cluster", "fixed_effects_two_way_cluster"
    }  # fmt: skip
    assert published.group_means["n_cells"].sum() == 1406
    assert (published.permutation["n_permutations"] == 2000).all()
    verdict = published.verdict()
    assert list(verdict.index) == ["same_script", "same_family"]
    assert "survives_p<0.001" in verdict.columns


def test_clustering_widens_the_naive_errors(published):
    naive = published.ols.xs("naive", level="model")["se"]
    clustered = published.ols.xs("two_way_cluster", level="model")["se"]
    assert (clustered > 2 * naive).all()


def small_matrix() -> xr.DataArray:
    codes = ["en", "es", "pt", "ca", "id", "ms", "zh", "ar", "he"]
    return datasets.transfer_matrix().sel(target=codes, source=codes)


def test_default_can_report_p_below_one_in_a_thousand():
    # The permutation p-value floor is 1 / (n + 1): the default must be able to go below the
    # published "p < .001" threshold, or the verdict could never be "survives".
    result = script_family_tests(small_matrix())
    n = result.permutation["n_permutations"]
    assert (n >= 2000).all()
    assert (result.permutation["p_value"] >= 1 / (n + 1)).all()
    assert (1 / (n + 1) < 0.001).all()
    with pytest.raises(ValueError, match="n_permutations"):
        script_family_tests(n_permutations=0)
    with pytest.raises(ValueError, match="ci must be"):
        script_family_tests(small_matrix(), n_permutations=5, ci=1.0)


def test_permutation_test_finds_a_planted_effect():
    result = script_family_tests(synthetic(0.3, seed=1), n_permutations=300, seed=2)
    assert result.permutation.loc["same_script", "p_value"] < 0.01
    assert result.permutation.loc["same_script", "coef"] == pytest.approx(0.3, abs=0.05)


def test_permutation_test_is_quiet_without_an_effect():
    p_values = [
        script_family_tests(synthetic(0.0, seed=s), n_permutations=200, seed=s).permutation.loc["same_script", "p_value"]
        for s in range(3)
    ]
    assert min(p_values) > 0.01


def test_seeded():
    a = script_family_tests(n_permutations=50, seed=5).permutation
    b = script_family_tests(n_permutations=50, seed=5).permutation
    assert a.equals(b)


def independent_ols(formula: str, clustered: bool):
    """statsmodels straight from the published CSV-backed matrix, without the package's pair table."""
    matrix = datasets.transfer_matrix()
    frame = matrix.to_series().rename("bts").reset_index().dropna(subset=["bts"])
    frame = frame[frame["target"] != frame["source"]]
    script = dict(zip(matrix.target.values, matrix.target_script.values, strict=True))
    family = dict(zip(matrix.target.values, matrix.target_family.values, strict=True))
    frame["same_script"] = (frame["target"].map(script) == frame["source"].map(script)).astype(int)
    frame["same_family"] = (frame["target"].map(family) == frame["source"].map(family)).astype(int)
    kwargs = {}
    if clustered:
        groups = np.column_stack([pd.factorize(frame["target"])[0], pd.factorize(frame["source"])[0]])
        kwargs = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # two-way cluster covariance of the dummies
        return smf.ols(formula, frame).fit(**kwargs)


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_reference_numbers_on_the_published_matrix(published):
    """The package's OLS rows are statsmodels' formula API on the same cells; the verdicts follow."""
    result = published
    specs = {
        "naive": ("bts ~ same_script + same_family", False),
        "two_way_cluster": ("bts ~ same_script + same_family", True),
        "fixed_effects_two_way_cluster": ("bts ~ same_script + same_family + C(source) + C(target)", True),
    }
    for model, (formula, clustered) in specs.items():
        reference = independent_ols(formula, clustered)
        interval = reference.conf_int(0.05)
        for term in ("same_script", "same_family"):
            row = result.ols.loc[(model, term)]
            assert row["coef"] == pytest.approx(reference.params[term], rel=1e-9), (model, term)
            assert row["se"] == pytest.approx(reference.bse[term], rel=1e-9), (model, term)
            assert row["p_value"] == pytest.approx(reference.pvalues[term], rel=1e-9), (model, term)
            assert (row["ci_lower"], row["ci_upper"]) == pytest.approx(tuple(interval.loc[term]), rel=1e-9)
    # The permutation test's observed coefficient is the fixed-effects OLS one (Frisch-Waugh-Lovell).
    fe = independent_ols(specs["fixed_effects_two_way_cluster"][0], True)
    for term in ("same_script", "same_family"):
        assert result.permutation.loc[term, "coef"] == pytest.approx(fe.params[term], rel=1e-9)
    # Clustering moves script's p above the threshold; the permutation test agrees on family.
    assert result.ols.loc[("two_way_cluster", "same_script"), "p_value"] > 0.001
    assert result.permutation.loc["same_script", "p_value"] <= 0.002
    assert result.permutation.loc["same_family", "p_value"] > 0.3
    assert not result.verdict()["survives_p<0.001"].any()
