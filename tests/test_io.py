import pytest

from bayes_atlas._io import write_atomically


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def broken(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_successful_write_replaces(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    write_atomically(target, lambda path: path.write_text("new"))
    assert target.read_text() == "new"


def test_saved_attributes_are_strict_json(tmp_path):
    # A one-chain fit's r_hat is inf: stored as null (not the non-JSON "Infinity"), read back as NaN.
    import json

    import numpy as np
    import xarray as xr

    from bayes_atlas.inference import Diagnostics, json_attr, read_posterior, write_posterior

    d = Diagnostics(0, float("inf"), 2.3, 2.0, "", "", 0, 10, 1, 50, 1.0, "numpyro")
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), np.zeros((1, 3)))})})
    path = write_posterior(tree, tmp_path / "p.nc", model="law", attrs={"diagnostics": d.to_dict()})
    raw = read_posterior(path, model="law").attrs["diagnostics"]
    json.loads(raw, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert np.isnan(Diagnostics.from_dict(json_attr(read_posterior(path, model="law"), "diagnostics")).max_r_hat)
