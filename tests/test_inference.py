"""Diagnostics, structured convergence warnings and posterior files (no sampling needed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from bayes_atlas.inference import (
    ConvergenceWarning,
    Diagnostics,
    PosteriorFileError,
    diagnose,
    read_posterior,
    sample_nuts,
    warn_on_diagnostics,
    write_posterior,
)


def _tree(posterior: dict, diverging: np.ndarray, tree_depth: np.ndarray) -> xr.DataTree:
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({k: (("chain", "draw", *[f"{k}_dim"] * (v.ndim - 2)), v) for k, v in posterior.items()}),
            "sample_stats": xr.Dataset(
                {"diverging": (("chain", "draw"), diverging), "tree_depth": (("chain", "draw"), tree_depth)}
            ),
        }
    )


def test_healthy_chains_raise_no_warning():
    rng = np.random.default_rng(0)
    tree = _tree(
        {"a": rng.normal(size=(4, 1000)), "b": rng.normal(size=(4, 1000, 3))}, np.zeros((4, 1000), bool), np.full((4, 1000), 3)
    )
    d = diagnose(tree, wall_time_s=1.0)
    assert d.divergences == 0 and d.tree_depth_hits == 0
    assert d.max_r_hat < 1.01 and d.min_ess_bulk > 400
    assert d.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_on_diagnostics(d)
    assert Diagnostics.from_dict(d.to_dict()) == d


def test_each_failure_has_its_code():
    rng = np.random.default_rng(1)
    stuck = rng.normal(size=(4, 50)) + np.array([0, 0, 0, 5])[:, None]
    diverging = np.zeros((4, 50), bool)
    diverging[0, :3] = True
    depth = np.full((4, 50), 4)
    depth[1, 0] = 10
    d = diagnose(_tree({"a": stuck, "b": rng.normal(size=(4, 50, 2))}, diverging, depth))
    assert d.worst_r_hat == "a"
    with pytest.warns(ConvergenceWarning) as record:
        warn_on_diagnostics(d, what="test fit")
    codes = sorted(w.message.code for w in record)
    assert codes == ["BA101", "BA102", "BA103", "BA104"]
    assert all("test fit" in str(w.message) for w in record)
    assert not d.converged


def test_worst_quantity_is_named_with_its_coordinate():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(4, 400, 3))
    values[3, :, 2] += 4.0
    tree = _tree({"b": values}, np.zeros((4, 400), bool), np.ones((4, 400), int))
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset().assign_coords(b_dim=["x", "y", "z"]))
    assert diagnose(tree).worst_r_hat == "b[z]"


def test_sampler_arguments_are_checked():
    with pytest.raises(ValueError, match="nuts_sampler must be one of"):
        sample_nuts(None, draws=10, tune=10, chains=1, random_seed=0, nuts_sampler="stan")
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        sample_nuts(None, draws=0, tune=10, chains=1, random_seed=0)
    with pytest.raises(ValueError, match="target_accept"):
        sample_nuts(None, draws=10, tune=10, chains=1, random_seed=0, target_accept=1.2)


def test_posterior_file_round_trip_and_refusals(tmp_path):
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": (("chain", "draw"), np.ones((2, 3)))})})
    path = write_posterior(tree, tmp_path / "p.nc", model="demo", attrs={"config": {"x": 1}})
    loaded = read_posterior(path, model="demo")
    np.testing.assert_array_equal(loaded["posterior"]["a"].values, np.ones((2, 3)))
    assert loaded.attrs["config"] == '{"x": 1}'
    with pytest.raises(PosteriorFileError, match="not a 'other' one"):
        read_posterior(path, model="other")
    tree.attrs = {"bayes_atlas_model": "demo", "bayes_atlas_format": 99}
    tree.to_netcdf(tmp_path / "future.nc", engine="h5netcdf")
    with pytest.raises(PosteriorFileError, match="format 99"):
        read_posterior(tmp_path / "future.nc", model="demo")
    assert not list(tmp_path.glob(".*.tmp"))


def test_tree_depth_hits_warn_but_do_not_fail_convergence():
    rng = np.random.default_rng(3)
    depth = np.full((4, 400), 4)
    depth[2, 7] = 10
    d = diagnose(_tree({"a": rng.normal(size=(4, 400))}, np.zeros((4, 400), bool), depth))
    assert d.tree_depth_hits == 1
    assert d.converged  # the project's bar: divergences, r_hat, ESS
    with pytest.warns(ConvergenceWarning, match="costs time, not validity") as record:
        warn_on_diagnostics(d)
    assert [w.message.code for w in record] == ["BA104"]


@pytest.mark.parametrize("sampler", ["pymc", "nutpie"])
def test_every_sampler_is_asked_for_the_tree_depth_limit(monkeypatch, sampler):
    # nutpie was asked only for target_accept, so its limit stayed nutpie's own while the fit's
    # attrs recorded ours. PyMC renames max_treedepth to nutpie's maxdepth.
    import sys
    import types

    import pymc as pm

    from bayes_atlas.inference import sample_nuts

    asked: dict = {}

    class Asked(Exception):
        pass

    def fake_sample(**kwargs):  # noqa: ANN003
        asked.update(kwargs)
        raise Asked

    monkeypatch.setitem(sys.modules, "nutpie", types.ModuleType("nutpie"))
    monkeypatch.setattr(pm, "sample", fake_sample)
    with pm.Model() as model:
        pm.Normal("x")
    with pytest.raises(Asked):
        sample_nuts(model, draws=5, tune=5, chains=1, random_seed=0, nuts_sampler=sampler, max_tree_depth=7)
    assert asked["nuts"]["max_treedepth"] == 7
