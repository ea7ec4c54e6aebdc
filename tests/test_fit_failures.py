"""Real run tables must fit, or fail loudly: stuck chains, unidentified parameters, transfer from
another setting, units (issue: real multilingual tables)."""

from __future__ import annotations

import dataclasses
import json
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


def _sampled_tree(stats: dict[str, np.ndarray], shift_chain: int | None = None):
    """A DataTree with ``(chain, draw)`` sample stats ``stats``; ``shift_chain``'s draws of x sit 5 sd away."""
    import xarray as xr

    chains, draws = next(iter(stats.values())).shape
    x = np.random.default_rng(0).normal(size=(chains, draws))
    if shift_chain is not None:
        x[shift_chain] += 5.0
    coords = {"chain": range(chains), "draw": range(draws)}
    posterior = xr.Dataset({"x": (("chain", "draw"), x)}, coords=coords)
    sample_stats = xr.Dataset({name: (("chain", "draw"), v) for name, v in stats.items()}, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})


def _numpyro_stats(depths: np.ndarray, step_sizes: list[float]) -> dict[str, np.ndarray]:
    """The sample stats NumPyro writes: a tree depth per draw and a step size per chain."""
    return {"tree_depth": depths, "step_size": np.repeat(np.asarray(step_sizes)[:, None], depths.shape[1], axis=1)}


def test_a_chain_stuck_at_the_maximum_tree_depth_is_named_with_what_to_do():
    # The Goldfish few-runs fit of the calibration suite (2026-12-02): one chain of four at step size
    # 0.0049 with every draw at depth 10, the others at 0.019-0.022 and depth 8, r_hat 1.54.
    from bayes_atlas.inference import diagnose

    rng = np.random.default_rng(1)
    depths = rng.integers(6, 10, size=(4, 600))  # below the limit of 10 ...
    depths[0, :20] = 10  # ... but for a few draws of chain 0 (7%: not stuck)
    depths[2] = 10  # chain 2 saturates on every draw
    d = diagnose(_sampled_tree(_numpyro_stats(depths, [0.021, 0.019, 0.0049, 0.022]), shift_chain=2), max_tree_depth=10)
    assert d.tree_depth_hits == 20 + 600  # brute-force count of the draws at the limit
    assert d.stuck_chains == (2,)
    assert d.step_sizes == pytest.approx((0.021, 0.019, 0.0049, 0.022))
    why = _failure(d)
    assert "chain 2 of 4 stuck at the maximum tree depth" in why
    assert "step size 0.0049 against 0.019-0.022 in the others" in why
    assert "another random_seed or more tune" in why
    with pytest.warns(bayes_atlas.ConvergenceWarning, match="chain 2 of 4 stuck"):
        from bayes_atlas.inference import warn_on_diagnostics

        warn_on_diagnostics(d)
    back = Diagnostics.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back.stuck_chains == (2,) and back.step_sizes == pytest.approx(d.step_sizes)


@pytest.mark.parametrize("saturated", [(), (0, 1, 2, 3), (1, 3)])
def test_no_chain_is_called_stuck_unless_the_others_mostly_are_not(saturated):
    # Every chain at the limit (the suite's Goldfish fits in amplitudes) is hard geometry, not a
    # stuck chain; neither is half of them, where no majority says what a healthy chain does.
    from bayes_atlas.inference import diagnose

    depths = np.full((4, 200), 7)
    depths[list(saturated)] = 10
    d = diagnose(_sampled_tree(_numpyro_stats(depths, [0.02] * 4)), max_tree_depth=10)
    assert d.stuck_chains == ()
    assert d.tree_depth_hits == 200 * len(saturated)
    assert "stuck at the maximum" not in _failure(dataclasses.replace(d, max_r_hat=2.5))


def test_pymc_and_nutpie_sample_stats_are_read_by_their_own_names():
    # PyMC's NUTS: reached_max_treedepth (exact; tree_depth also equals the limit for a tree that
    # U-turned in its last doubling) and step_size_bar (its step_size is the last tuning proposal).
    # nutpie: depth / maxdepth_reached / step_size_bar.
    from bayes_atlas.inference import diagnose

    chains, draws = 4, 500
    flag = np.zeros((chains, draws), dtype=bool)
    flag[3] = True
    depth = np.full((chains, draws), 10)  # every tree at depth 10, only chain 3's cut off there
    bar = np.repeat(np.array([[0.03], [0.028], [0.031], [0.004]]), draws, axis=1)
    noisy = bar * np.random.default_rng(0).lognormal(0.0, 1.0, size=bar.shape)
    layouts = {
        "pymc": {"tree_depth": depth, "reached_max_treedepth": flag, "step_size": noisy, "step_size_bar": bar},
        "nutpie": {"depth": depth, "maxdepth_reached": flag, "step_size": noisy, "step_size_bar": bar},
    }
    for sampler, columns in layouts.items():
        d = diagnose(_sampled_tree(columns), max_tree_depth=10)
        assert d.tree_depth_hits == draws, sampler  # the flag, not depth >= limit (which counts 2000)
        assert d.stuck_chains == (3,), sampler
        assert d.step_sizes == pytest.approx((0.03, 0.028, 0.031, 0.004)), sampler
        assert "step size 0.004 against 0.028-0.031 in the others" in d.stuck_note(), sampler


def test_a_stored_non_finite_step_size_does_not_break_the_note():
    # Strict JSON writes a non-finite step size as null; the note must still be written.
    stored = {**_diagnostics(max_r_hat=1.5).to_dict(), "stuck_chains": [1], "step_sizes": [0.02, None, 0.021, 0.019]}
    d = Diagnostics.from_dict(stored)
    assert np.isnan(d.step_sizes[1])
    assert d.stuck_note().startswith("chain 1 of 4 stuck at the maximum tree depth;")
    assert "chain 1 of 4 stuck" in _failure(d)


def test_diagnostics_written_before_stuck_chains_existed_still_load():
    old = {k: v for k, v in _diagnostics().to_dict().items() if k not in ("stuck_chains", "step_sizes")}
    d = Diagnostics.from_dict(old)
    assert d.stuck_chains == () and d.step_sizes == () and d.stuck_note() == ""


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
        FitFailedError, match="did not converge at all.*lacks what the law needs: alpha: every row has the same model size"
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


def test_constant_mixture_size_leaves_the_curse_exponents_unidentified():
    from bayes_atlas.laws import get_law, prepare_law_data
    from bayes_atlas.scaling import _identifiability

    rows = []
    for i, N in enumerate([1e8, 3e8, 1e9]):
        for language in ("en", "fr", "de", "es"):  # every run mixes the same four languages: K = 4
            tokens = {f"tokens_{c}": 40 * N / 4 for c in ("en", "fr", "de", "es")}
            rows.append({"run_id": f"k4_{i}", "language": language, "params": N, **tokens, "loss": 3.0 - 0.2 * i})
    data = prepare_law_data(bayes_atlas.RunTable.from_frame(pd.DataFrame(rows)))
    found = _identifiability(get_law("curse"), data)
    assert set(found) == {"phi", "psi"} and "K = 4" in found["phi"]
    # Two model sizes identify alpha (the design check asks for two distinct values, not many).
    assert "alpha" not in found


@pytest.mark.slow
def test_a_real_multilingual_shape_fits_or_fails_with_a_remedy():
    # The shape that broke the ATLAS law on a public table: three model sizes trained on a
    # 46-language corpus, evaluated on 90 languages (44 with no tokens of their own), strong
    # negative transfer into some trained languages from 100x larger sources.
    from bayes_atlas.datasets import transfer_matrix
    from bayes_atlas.laws import Design, get_law, tau_from_bts

    matrix = transfer_matrix()
    trained = [str(c) for c in matrix.target.values]  # the 38 of the matrix
    trained += [c for c in ("ga", "cy", "eu", "is", "mt", "sq", "mk", "hy", "lv", "lt", "et", "sl") if c not in trained][:8]
    unseen = ["af", "am", "az", "be", "bn", "bs", "ceb", "co", "eo", "fy", "gd", "gl", "gu", "ha", "haw", "hmn", "ht",
              "ig", "jv", "ka", "kk", "km", "kn", "ku", "ky", "la", "lb", "lo", "mg", "mi", "ml", "mn", "my", "ne", "ny",
              "or", "pa", "ps", "sd", "si", "sm", "sn", "so", "st", "su", "tg", "tk", "tt", "ug", "uz", "wo", "xh", "yi",
              "zu", "ln", "lg", "rw", "ti", "om", "ak", "ee", "tn", "ts", "ss", "ve", "nso", "qu", "ay", "gn"]  # fmt: skip
    unseen = [c for c in unseen if c not in trained][:44]  # 44 with no tokens of their own
    assert len(trained) == 46 and len(unseen) == 44
    rng = np.random.default_rng(0)
    shares = {c: (0.3 if c == "en" else 0.7 / (len(trained) - 1)) for c in trained}
    atlas, rows = get_law("atlas"), []
    for i, N in enumerate([8.5e7, 3e8, 1.1e9]):
        total = 20 * N * 20  # 20 tokens per parameter, over-trained x20 as small public models are
        tokens = {c: share * total for c, share in shares.items()}
        for language in trained + unseen:
            own = tokens.get(language, 0.0)
            sources = sorted((c for c in trained if c != language), key=lambda c: (-tokens[c], c))[:3]
            bts = [float(matrix.sel(target=language, source=s)) if language in matrix.target else -0.3 for s in sources]
            if language in ("ur", "yo", "sw"):
                bts = [-1.0, -1.2, -0.9]  # strong interference from the big sources
            p = {"log_E": np.log(1.5 + 0.3 * rng.random()), "a": -0.5, "alpha": 0.35, "b": -0.3, "beta": 0.37, "lam": 1 / 15.4}
            p.update(tau=tau_from_bts(np.array(bts)), tau_other=0.05)
            design = Design.of_run(params=N, tokens=own, transfer_tokens=np.array([tokens[s] for s in sources]),
                                   other_tokens=total - own - sum(tokens[s] for s in sources))  # fmt: skip
            loss = float(np.exp(atlas.mean_log_loss(np, design, p) + rng.normal(0, 0.01)))
            rows.append(
                {
                    "run_id": f"m{i}",
                    "language": language,
                    "params": N,
                    **{f"tokens_{c}": v for c, v in tokens.items()},
                    "loss": loss,
                }
            )
    runs = bayes_atlas.RunTable.from_frame(pd.DataFrame(rows))
    try:
        result = bayes_atlas.fit(runs, law="atlas", random_seed=0, progressbar=False, warn=False)
    except FitFailedError as error:
        print(f"\nmultilingual shape: fails with {error}")
        assert "Remedies" in str(error)
        return
    d = result.diagnostics
    print(f"\nmultilingual shape: {d}")
    assert d.divergences < 0.01 * d.chains * d.draws and d.max_r_hat < 1.2
    predicted = result.predict(runs, noise=False).median(("chain", "draw")).values
    assert np.median(np.abs(predicted / runs.frame["loss"].to_numpy() - 1)) < 0.05


def test_max_tree_depth_caps_the_leapfrog_steps_of_every_draw():
    # A one-size table puts the chains on a ridge where free NUTS trees grow long; the cap must
    # hold for every draw (at most 2**depth - 1 leapfrog steps), and the setting is recorded.
    runs = _one_size_table()
    result = bayes_atlas.fit(
        runs,
        law="chinchilla",
        draws=40,
        tune=40,
        chains=2,
        random_seed=0,
        max_tree_depth=2,
        progressbar=False,
        warn=False,
        allow_failed=True,
    )
    steps = result.datatree["sample_stats"]["n_steps"].values
    assert steps.max() <= 3 and result.diagnostics.max_tree_depth == 2
    assert result.meta["sampler"]["max_tree_depth"] == 2
    assert result.diagnostics.tree_depth_hits == int((result.datatree["sample_stats"]["tree_depth"].values >= 2).sum())
