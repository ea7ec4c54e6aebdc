"""Real run tables must fit, or fail loudly: stuck chains, unidentified parameters, transfer from
another setting, units (issue: real multilingual tables)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_atlas
from bayes_atlas import FitFailedError, IdentifiabilityWarning
from bayes_atlas.inference import Diagnostics
from bayes_atlas.scaling import _failure


def _diagnostics(**changes):
    values = dict(
        divergences=0,
        max_r_hat=1.0,
        min_ess_bulk=800.0,
        min_ess_tail=800.0,
        worst_r_hat="",
        worst_ess="",
        tree_depth_hits=0,
        max_tree_depth=10,
        chains=4,
        draws=1000,
        wall_time_s=1.0,
        sampler="numpyro",
    )
    return Diagnostics(**{**values, **changes})


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({}, False),
        ({"max_r_hat": 1.05}, False),  # short of the bar: a warning, not a failure
        ({"max_r_hat": 1.4}, True),
        ({"max_r_hat": 1.4, "draws": 150}, False),  # a tiny run cannot tell 1.4 from noise
        ({"max_r_hat": 2.3, "draws": 150}, True),
        ({"max_r_hat": 3e16}, True),  # stuck chains
        ({"max_r_hat": float("inf")}, True),  # a quantity stuck at one value in every chain
        ({"divergences": 4000}, True),  # every draw divergent
        ({"chains": 1, "max_r_hat": float("inf")}, False),  # one chain: r_hat cannot say
    ],
)
def test_failure_rule(changes, failed):
    assert (_failure(_diagnostics(**changes)) is not None) == failed


def test_non_finite_diagnostics_do_not_pass():
    import xarray as xr

    from bayes_atlas.inference import diagnose

    # A variable stuck at one value in every chain: r_hat and ESS are NaN, which must fail.
    stuck = xr.Dataset({"x": (("chain", "draw"), np.ones((4, 100)))}, coords={"chain": range(4), "draw": range(100)})
    moving = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 100), dtype=bool))})
    tree = xr.DataTree.from_dict({"posterior": stuck, "sample_stats": moving})
    d = diagnose(tree)
    assert not d.converged and d.max_r_hat == float("inf")


def _one_size_table():
    rng = np.random.default_rng(0)
    rows = []
    for i, tokens in enumerate([1e9, 3e9, 1e10, 3e10]):
        for language in ("en", "fr"):
            loss = 2.0 + 40 / tokens**0.3 + rng.normal(0, 0.005)
            rows.append(
                {"run_id": f"{language}{i}", "language": language, "params": 1.24e8, f"tokens_{language}": tokens, "loss": loss}
            )
    frame = pd.DataFrame(rows).fillna(0.0)
    return bayes_atlas.RunTable.from_frame(frame)


def test_a_single_model_size_warns_that_alpha_is_not_identified_and_decisions_say_so():
    # One model size: E and the parameter term are confounded (measured: r_hat 2.1-2.3 here).
    runs = _one_size_table()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = bayes_atlas.fit(
            runs, law="chinchilla", draws=60, tune=60, chains=2, random_seed=0, progressbar=False, allow_failed=True
        )
    result.accept_failure()
    found = [w.message for w in caught if isinstance(w.message, IdentifiabilityWarning)]
    assert [w.code for w in found] == ["BA105"] and "alpha" in found[0].text
    summary = result.summary()
    assert summary.loc[("en", "alpha"), "prior_dominated"] and not summary.loc[("en", "beta"), "prior_dominated"]
    rec = bayes_atlas.posterior_recommend("en", 1e21, posterior=result, warn=False)
    assert "BA206" in {w.code for w in rec.warnings}


def test_a_fit_that_did_not_mix_is_an_error_and_cannot_be_saved_or_decided_from(tmp_path, monkeypatch):
    import bayes_atlas.scaling as scaling

    runs = _one_size_table()
    monkeypatch.setattr(scaling, "_failure", lambda d: "max r_hat 3e+16 (alpha[en]): the chains disagree or are stuck")
    with pytest.raises(
        FitFailedError, match="did not converge at all.*lacks what the law needs: every row has the same model size"
    ) as raised:
        bayes_atlas.fit(runs, law="chinchilla", draws=30, tune=30, chains=2, random_seed=0, progressbar=False, warn=False)
    failed = raised.value.fit
    assert failed.failed
    with pytest.raises(FitFailedError, match="accept_failure"):
        failed.save(tmp_path / "bad.nc")
    with pytest.raises(FitFailedError, match="decisions refuse it"):
        bayes_atlas.posterior_recommend("en", 1e21, posterior=failed, warn=False)
    failed.accept_failure()
    assert bayes_atlas.load(failed.save(tmp_path / "bad.nc")).meta["failure_accepted"]


def test_a_table_from_another_setting_moves_the_transfer_prior():
    # The shipped transfer posterior says es helps ca (BTS 0.34 +- 0.07). Plant interference
    # instead (BTS -0.4) and fit Catalan's 11 runs: the between-setting spread lets the posterior
    # move toward the planted value (measured: median BTS 0.30 [0.19, 0.41] with no setting spread,
    # -0.04 [-0.35, 0.29] with the default 0.25).
    from bayes_atlas.laws import tau_from_bts
    from bayes_atlas.simulate import atlas_study, default_truth

    truth = default_truth()
    tau = truth.tau.copy()
    tau.loc[{"target": "ca", "source": "es"}] = float(tau_from_bts(-0.4))
    runs, _ = atlas_study(seed=2, truth=truth.replace(tau=tau))
    frame = runs.frame
    keep = frame["design"].isin(["bilingual", "monolingual_2b"]) & frame["language"].isin(["ca"])
    table = runs.subset(keep.to_numpy())
    law = bayes_atlas.posteriors.resolve("law")  # Catalan's own law, from the (other) emulated runs
    result = bayes_atlas.fit(
        table, law="atlas", theta_prior=law, draws=300, tune=300, chains=2, random_seed=1, progressbar=False, warn=False
    )
    pairs = [tuple(p) for p in result.meta["pairs"]]
    bts = 2 * result.draws("tau")[:, pairs.index(("ca", "es"))] / (1 + result.draws("tau")[:, pairs.index(("ca", "es"))])
    assert np.median(bts) < 0.34 - 0.4 * (0.34 + 0.4), np.median(bts)  # at least 40% of the way to -0.4
    assert "between-setting sd of 0.25" in result.meta["transfer_prior"]
