"""Contract tests: every registered law has ONE mean, and every path that evaluates it agrees.

For each law, at random parameters on a run table of the shape it describes, the compiled
PyMC mean, ``Fit.predict(noise=False)``, the point-fit baseline (where the law has one) and
the simulator's expected loss agree to 1e-10 relative; save -> load -> predict is identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayes_atlas
from bayes_atlas.inference import Diagnostics
from bayes_atlas.laws import LAWS, get_law, prepare_law_data
from bayes_atlas.models.law import LawConfig, build_law_model
from bayes_atlas.scaling import Fit

#: Designs of the simulated study each law is checked on (rows the law describes).
DESIGNS = {
    "atlas": ("monolingual", "unimax", "bilingual"),
    "chinchilla": ("monolingual", "bilingual"),
    "dcsl": ("monolingual",),
    "msl": ("monolingual", "bilingual", "unimax"),
    "curse": ("capacity",),
    "finetune": ("finetune", "scratch_curve"),
}
#: Point-fit baseline of each law (pointfit.POINT_LAWS name).
POINT = {"atlas": "atlas", "chinchilla": "csl", "dcsl": "dcsl", "msl": "msl"}
RTOL = 1e-10


def _table(study, law):
    runs, _ = study
    frame = runs.frame
    keep = frame["design"].isin(DESIGNS[law]).to_numpy()
    languages = frame.loc[keep, "language"].value_counts().index[:4]
    return runs.subset(keep & frame["language"].isin(languages).to_numpy())


def _random_point(model, rng):
    point = model.initial_point()
    return {name: value + rng.normal(0.0, 0.3, np.shape(value)) for name, value in point.items()}


def _evaluate(model, point):
    """Every free variable and deterministic (the model's mean included) at ``point``, by name."""
    outputs = model.unobserved_value_vars  # constrained values and deterministics, as functions of the value variables
    values = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore", point_fn=False)(**point)
    return {var.name: np.asarray(value) for var, value in zip(outputs, values, strict=True)}


def _fit_at(model, point, config, data, runs):
    """A one-draw Fit whose posterior is ``point`` (every deterministic computed by the model)."""
    evaluated = _evaluate(model, point)
    names = [n for n in evaluated if n != "mean_log_loss" and n in model.named_vars]
    values = [evaluated[n] for n in names]
    coords = {"chain": [0], "draw": [0], **{k: np.asarray(v) for k, v in model.coords.items()}}
    variables = {}
    for name, value in zip(names, values, strict=True):
        dims = model.named_vars_to_dims.get(name, ())
        if np.ndim(value) != len(dims):
            continue  # packed internals without dims (the LKJ Cholesky factor)
        variables[name] = (("chain", "draw", *dims), np.asarray(value)[None, None])
    posterior = xr.Dataset(
        variables, coords={k: v for k, v in coords.items() if k in {d for _, (dd, _) in variables.items() for d in dd}}
    )
    diagnostics = Diagnostics(0, 1.0, 1e4, 1e4, "", "", 0, 10, 1, 1, 0.0, "numpyro")
    meta = {"pairs": [list(p) for p in data.pairs], "n_rows": len(runs)}
    return Fit(posterior, config, diagnostics, meta)


@pytest.mark.parametrize("law", LAWS)
def test_pymc_mean_and_fit_predict_are_one_formula(law, study, tmp_path):
    runs = _table(study, law)
    data = prepare_law_data(runs, with_family_share=get_law(law).needs_family_share)
    config = LawConfig(law=law)
    model = build_law_model(data, config, keep_mean=True)
    rng = np.random.default_rng(7)
    for _ in range(3):
        point = _random_point(model, rng)
        pymc_mean = _evaluate(model, point)["mean_log_loss"]
        fit = _fit_at(model, point, config, data, runs)
        predicted = np.log(fit.predict(runs, noise=False).values[0, 0])
        np.testing.assert_allclose(predicted, pymc_mean, rtol=RTOL)
        # save -> load -> predict is identical
        path = fit.save(tmp_path / f"{law}.nc")
        again = Fit.load(path).predict(runs, noise=False).values[0, 0]
        np.testing.assert_allclose(again, np.exp(predicted), rtol=RTOL)


@pytest.mark.parametrize("law", sorted(POINT))
def test_point_fit_baseline_evaluates_the_same_law(law, study):
    from bayes_atlas.pointfit import PointFit

    runs = _table(study, law)
    data = prepare_law_data(runs, with_family_share=law == "msl")
    config = LawConfig(law=law)
    model = build_law_model(data, config, keep_mean=True)
    point = _random_point(model, np.random.default_rng(3))
    fit = _fit_at(model, point, config, data, runs)
    records = {}
    for j, code in enumerate(fit.languages):
        row = {
            name: float(fit.posterior["theta"].values[0, 0, j, k]) for k, name in enumerate(("log_E", "a", "alpha", "b", "beta"))
        }
        if law == "msl":
            row["gamma"] = float(fit.posterior["gamma"].values[0, 0, j])
        if law == "atlas":
            row["log_lam"] = float(np.log(fit.posterior["lam"].values[0, 0]))
            row["log_tau_other"] = float(np.log(fit.posterior["tau_other"].values[0, 0]))
            for i, (target, source) in enumerate(data.pairs):
                if target == code:
                    row[f"tau[{source}]"] = float(fit.posterior["tau"].values[0, 0, i])
        records[code] = row
    point_fit = PointFit(POINT[law], pd.DataFrame.from_dict(records, orient="index"), pd.Series(dtype=float))
    np.testing.assert_allclose(point_fit.predict(runs), fit.predict(runs, noise=False).values[0, 0], rtol=RTOL)


@pytest.mark.parametrize("law", ["atlas", "curse", "finetune"])
def test_simulator_truth_is_the_same_law(law, study):
    # A one-draw fit holding the simulator's true parameters predicts its expected losses.
    runs, truth = study
    keep = runs.frame["design"].isin(DESIGNS[law]).to_numpy()
    table = runs.subset(keep)
    data = prepare_law_data(table)
    codes = list(data.languages)
    params = {code: truth.law_parameters(code) for code in codes}
    variables = {
        "theta": (
            ("chain", "draw", "language", "parameter"),
            np.array([[[[params[c][n] for n in ("log_E", "a", "alpha", "b", "beta")] for c in codes]]]),
        ),
        "sigma": (("chain", "draw"), np.array([[0.01]])),
    }
    for name in ("E", "a", "alpha", "b", "beta"):
        variables[name] = (
            ("chain", "draw", "language"),
            np.array([[[np.exp(params[c]["log_E"]) if name == "E" else params[c][name] for c in codes]]]),
        )
    for effect in get_law(law).effects:
        variables[effect.name] = (("chain", "draw", "language"), np.array([[[params[c][effect.name] for c in codes]]]))
    for shared in get_law(law).shared:
        variables[shared.name] = (("chain", "draw"), np.array([[params[codes[0]][shared.name]]]))
    if get_law(law).uses_transfer:
        tau = truth.tau.to_pandas()
        variables["tau"] = (("chain", "draw", "pair"), np.array([[[tau.at[t, s] for t, s in data.pairs]]]))
    posterior = xr.Dataset(variables, coords={"language": codes, "parameter": ["log_E", "a", "alpha", "b", "beta"]})
    diagnostics = Diagnostics(0, 1.0, 1e4, 1e4, "", "", 0, 10, 1, 1, 0.0, "numpyro")
    fit = Fit(posterior, LawConfig(law=law), diagnostics, {"pairs": [list(p) for p in data.pairs]})
    predicted = fit.predict(table, noise=False).values[0, 0]
    expected = truth.expected_loss.loc[list(zip(table.frame["run_id"], table.frame["language"], strict=True))].to_numpy()
    np.testing.assert_allclose(predicted, expected, rtol=RTOL)


def test_every_law_is_registered_everywhere():
    # The CLI's --law choices and LawConfig accept exactly the registry's laws.
    from bayes_atlas.cli import LAW_CHOICES
    from bayes_atlas.models.law import LAWS as MODEL_LAWS

    assert tuple(MODEL_LAWS) == tuple(bayes_atlas.laws.LAWS) == LAW_CHOICES
    for law in LAWS:
        assert LawConfig(law=law).law == law
    with pytest.raises(ValueError, match="law must be one of"):
        LawConfig(law="kaplan")


def test_per_sequence_fits_predict_on_the_users_scale_and_check_on_the_fitted_one(per_sequence_fit):
    # Per-sequence losses are rescaled per language for the fit: predictions come back on the
    # user's scale, the DataTree's posterior predictive stays on the scale of its observed data.
    # The fit (conftest) is test_scaling's: chinchilla on three languages' bits per sequence.
    _, per_sequence, fit = per_sequence_fit
    scale = np.array([fit.meta["loss_scale"][c] for c in per_sequence.frame["language"]])
    data = fit.training_data
    fitted_scale = np.exp(fit.mean_log_loss(data, fit.row_parameters(data)))
    np.testing.assert_allclose(
        fit.predict(per_sequence, noise=False).values.reshape(fit.n_draws, -1), fitted_scale * scale, rtol=RTOL
    )
    tree = fit.datatree
    gap = float(np.median(tree["posterior_predictive"]["log_loss"].values) - np.median(tree["observed_data"]["log_loss"].values))
    assert abs(gap) < 0.05
