import inspect

import numpy as np
import pytest
import xarray as xr

from bayes_atlas import datasets
from bayes_atlas.transfer_stats import pair_table, script_family_tests


@pytest.fixture(scope="module")
def published():
    return script_family_tests(n_permutations=300, seed=0)


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
    assert (published.permutation["n_permutations"] == 300).all()
    verdict = published.verdict()
    assert list(verdict.index) == ["same_script", "same_family"]
    assert "survives_p<0.001" in verdict.columns


def test_clustering_widens_the_naive_errors(published):
    naive = published.ols.xs("naive", level="model")["se"]
    clustered = published.ols.xs("two_way_cluster", level="model")["se"]
    assert (clustered > 2 * naive).all()


def test_default_uses_at_least_2000_permutations():
    assert inspect.signature(script_family_tests).parameters["n_permutations"].default >= 2000
    with pytest.raises(ValueError, match="n_permutations"):
        script_family_tests(n_permutations=0)


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


def test_reference_numbers_on_the_published_matrix():
    """The numbers quoted in the issue note (2,000 permutations, seed 0)."""
    result = script_family_tests(n_permutations=2000, seed=0)
    fe = result.ols.xs("fixed_effects_two_way_cluster", level="model")
    assert fe.loc["same_script", "coef"] == pytest.approx(0.0849, abs=1e-4)
    assert fe.loc["same_family", "coef"] == pytest.approx(0.0125, abs=1e-4)
    assert result.ols.loc[("two_way_cluster", "same_script"), "p_value"] == pytest.approx(0.0248, abs=1e-4)
    assert result.permutation.loc["same_script", "p_value"] <= 0.002
    assert result.permutation.loc["same_family", "p_value"] > 0.3
    assert not result.verdict()["survives_p<0.001"].any()
