"""One formula for the transfer model's latent BTS: contract tests between its users.

``bayes_atlas.models.transfer.latent_bts`` is the only place the latent transfer is written.
These tests pin every user of it to an independent, cell-by-cell computation:

- the PyMC builder, compiled at a random point (its likelihood means and log density);
- :func:`bayes_atlas.models.transfer.log_likelihood` (the ``log_likelihood`` group);
- every :class:`bayes_atlas.transfer.TransferFit` path (``bts``, ``predict_pair`` and
  ``helpers`` for fitted and unfitted languages), on a fit whose draws are planted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from bayes_atlas.datasets import languages
from bayes_atlas.inference import Diagnostics
from bayes_atlas.models.transfer import (
    TransferConfig,
    build_transfer_model,
    latent_bts,
    likelihood_units,
    log_likelihood,
    prepare_transfer_data,
)
from bayes_atlas.transfer import TransferFit

CODES = ["en", "es", "pt", "ca", "id", "ms", "zh", "hi"]


def by_hand(p: dict, t: int, s: int, scripts, families, with_pair: bool = True) -> float:
    """The latent BTS of cell (t, s), written out from DESIGN.md without the package."""
    value = (
        p["intercept"]
        + p["target_effect"][t]
        + p["source_effect"][s]
        + p["beta_script"] * float(scripts[t] == scripts[s])
        + p["beta_family"] * float(families[t] == families[s])
    )
    if with_pair and t != s:
        a, b = min(t, s), max(t, s)
        k = [(i, j) for i in range(len(scripts)) for j in range(i + 1, len(scripts))].index((a, b))
        value += p["symmetric"][k] + (1.0 if t == a else -1.0) * p["asymmetric"][k]
    return value


@pytest.fixture(scope="module")
def data():
    table = languages(CODES)
    rng = np.random.default_rng(11)
    n = len(CODES)
    bts = np.round(rng.normal(-0.3, 0.4, (n, n)), 1)
    bts[0, 3] = np.nan  # one pair with a single cell observed
    bts[4, 5] = bts[5, 4] = np.nan  # one pair with none
    measured = rng.random((n, n)) < 0.3  # two noise groups
    return prepare_transfer_data(bts, CODES, list(table["script"]), list(table["family"]), measured, 0.1)


@pytest.fixture(scope="module")
def compiled(data):
    """The PyMC model at a random point: its parameters, likelihood means and elementwise log densities."""
    model = build_transfer_model(data, TransferConfig())
    names = [
        "intercept",
        "beta_script",
        "beta_family",
        "target_effect",
        "source_effect",
        "symmetric_sd",
        "asymmetric_sd",
        "noise_sd",
    ]
    observed = ["bts_first", "bts_second", "bts_single"]
    means = [model[name].owner.op.dist_params(model[name].owner)[0] for name in ("bts_first", "bts_single")]
    outputs = model.replace_rvs_by_values([model[name] for name in names] + means)
    logp = model.logp(vars=[model[name] for name in observed], sum=False)
    function = model.compile_fn(outputs + logp, point_fn=True)
    rng = np.random.default_rng(5)
    point = {k: v + rng.normal(0.0, 0.7, np.shape(v)) for k, v in model.initial_point(random_seed=5).items()}
    values = function(point)
    params = {name: np.asarray(v, dtype=float) for name, v in zip(names, values, strict=False)}
    mean_first, mean_single = values[len(names)], values[len(names) + 1]
    logp_first, logp_second, logp_single = values[len(names) + 2 :]
    return params, mean_first, mean_single, logp_first, logp_second, logp_single


def test_builder_mean_is_the_one_formula(data, compiled):
    params, mean_first, mean_single, *_ = compiled
    assert abs(float(params["beta_script"])) > 1e-3 and np.std(params["target_effect"]) > 1e-3  # a real random point
    both = np.flatnonzero(data.both_observed)
    a, b = data.pair_first[both], data.pair_second[both]
    ours = latent_bts(params, a, b, data.same_script[a, b], data.same_family[a, b])
    np.testing.assert_allclose(mean_first, ours, rtol=1e-10, atol=0)
    t, s = data.single_target, data.single_source
    assert t.size == 1
    ours_single = latent_bts(params, t, s, data.same_script[t, s], data.same_family[t, s])
    np.testing.assert_allclose(mean_single, ours_single, rtol=1e-10, atol=0)
    # ... and that formula is the model of DESIGN.md, cell by cell.
    hand = [by_hand(params, i, j, data.scripts, data.families, with_pair=False) for i, j in zip(a, b, strict=True)]
    np.testing.assert_allclose(mean_first, hand, rtol=1e-10, atol=0)


def test_log_likelihood_is_the_builders_density(data, compiled):
    params, _, _, logp_first, logp_second, logp_single = compiled
    draws = {k: v[None, ...] for k, v in params.items()}  # one draw
    ours = log_likelihood(data, draws)[0]
    expected = np.concatenate([logp_first + logp_second, logp_single])
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    # Independently: a pair's two cells are bivariate normal around the latent mean.
    target, source, n_cells = likelihood_units(data)
    sym, asym = float(params["symmetric_sd"]) ** 2, float(params["asymmetric_sd"]) ** 2
    noise = params["noise_sd"] ** 2
    for unit, (t, s, k) in enumerate(zip(target, source, n_cells, strict=True)):
        cells = [(t, s), (s, t)] if k == 2 else [(t, s)]
        mean = [by_hand(params, i, j, data.scripts, data.families, with_pair=False) for i, j in cells]
        cov = np.full((k, k), sym - asym) + np.eye(k) * (2 * asym + np.array([noise[data.group_matrix[i, j]] for i, j in cells]))
        y = [data.bts_matrix[i, j] for i, j in cells]
        assert ours[unit] == pytest.approx(stats.multivariate_normal(mean, cov).logpdf(y), rel=1e-10)


def planted_fit(config: TransferConfig | None = None, zero_spread: bool = False, shape: tuple[int, int] = (2, 3)) -> TransferFit:
    """A TransferFit whose posterior is drawn at random (``shape``: chains x draws), no sampler involved."""
    table = languages(CODES)
    n, n_pairs = len(CODES), len(CODES) * (len(CODES) - 1) // 2
    rng = np.random.default_rng(2)
    sd = 0.0 if zero_spread else 1.0

    def draw(*extra, scale=1.0):
        return rng.normal(0.0, scale, (*shape, *extra))

    first, second = np.triu_indices(n, 1)
    posterior = xr.Dataset(
        {
            "intercept": (("chain", "draw"), draw()),
            "beta_script": (("chain", "draw"), draw()),
            "beta_family": (("chain", "draw"), draw()),
            "symmetric_sd": (("chain", "draw"), np.abs(draw()) * sd + 1e-12),
            "asymmetric_sd": (("chain", "draw"), np.abs(draw()) * sd + 1e-12),
            "language_corr": (("chain", "draw"), np.tanh(draw())),
            "language_nu": (("chain", "draw"), np.exp(draw())),
            "target_effect": (("chain", "draw", "target"), draw(n)),
            "source_effect": (("chain", "draw", "source"), draw(n)),
            "language_sd": (("chain", "draw", "effect"), np.abs(draw(2)) * sd),
            "noise_sd": (("chain", "draw", "noise_group"), np.abs(draw(2)) + 0.05),
            "symmetric": (("chain", "draw", "pair"), draw(n_pairs)),
            "asymmetric": (("chain", "draw", "pair"), draw(n_pairs)),
        },
        coords={
            "chain": np.arange(shape[0]),
            "draw": np.arange(shape[1]),
            "target": CODES,
            "source": CODES,
            "effect": ["target", "source"],
            "noise_group": ["measured", "predicted"],
            "pair": np.arange(n_pairs),
            "pair_first": ("pair", np.asarray(CODES)[first]),
            "pair_second": ("pair", np.asarray(CODES)[second]),
        },
    )
    bts = np.full((n, n), -0.2)
    np.fill_diagonal(bts, np.nan)
    tree = xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "observed_data": xr.Dataset({"bts": (("target", "source"), bts)}, coords={"target": CODES, "source": CODES}),
            "constant_data": xr.Dataset(
                {
                    "measured": (("target", "source"), ~np.eye(n, dtype=bool)),
                    "script": ("language", table["script"].to_numpy(dtype=str)),
                    "family": ("language", table["family"].to_numpy(dtype=str)),
                },
                coords={"target": CODES, "source": CODES, "language": CODES},
                attrs={"rounding": 0.1, "has_measured_mask": 1},
            ),
        }
    )
    diagnostics = Diagnostics(
        divergences=0,
        max_r_hat=1.0,
        min_ess_bulk=1000.0,
        min_ess_tail=1000.0,
        worst_r_hat="",
        worst_ess="",
        tree_depth_hits=0,
        max_tree_depth=10,
        chains=shape[0],
        draws=shape[1],
        wall_time_s=0.0,
        sampler="planted",
    )
    return TransferFit(tree, config or TransferConfig(), diagnostics, {"pair_effect_seed": 0})


def flat_params(fit: TransferFit) -> list[dict]:
    names = ["intercept", "beta_script", "beta_family", "target_effect", "source_effect", "symmetric", "asymmetric"]
    stacked = {name: fit.posterior[name].values.reshape(fit.n_draws, *fit.posterior[name].shape[2:]) for name in names}
    return [{name: stacked[name][i] for name in names} for i in range(fit.n_draws)]


def test_fit_latent_matrix_is_the_planted_model():
    fit = planted_fit()
    scripts, families = fit.observed["script"].values, fit.observed["family"].values
    bts = fit.bts().values.reshape(fit.n_draws, len(CODES), len(CODES))
    for i, p in enumerate(flat_params(fit)):
        for t in range(len(CODES)):
            for s in range(len(CODES)):
                if t == s:
                    assert np.isnan(bts[i, t, s])
                else:
                    assert bts[i, t, s] == pytest.approx(by_hand(p, t, s, scripts, families), rel=1e-12, abs=1e-14)
    # predict_pair and helpers of fitted languages read the same cells.
    np.testing.assert_array_equal(fit.predict_pair("zh", "hi").values.ravel(), bts[:, CODES.index("hi"), CODES.index("zh")])
    helpers = fit.helpers("ca", k=2)
    column = bts[:, CODES.index("ca"), [CODES.index(c) for c in helpers.index]]
    np.testing.assert_allclose(helpers["bts_mean"], column.mean(axis=0), rtol=1e-12)


def test_unfitted_languages_use_the_same_formula():
    # Zero population spread: an unfitted language's effects and pair effects are exactly 0,
    # so its BTS is intercept + the fitted partner's effect + covariates, per draw.
    fit = planted_fit(zero_spread=True)
    p = flat_params(fit)
    es = CODES.index("es")
    # Marathi (Devanagari, Indo-European) as a target of Spanish (Latin, Indo-European).
    draws = fit.predict_pair("es", "mr").values.ravel()
    expected = [q["intercept"] + q["source_effect"][es] + q["beta_family"] for q in p]
    np.testing.assert_allclose(draws, expected, atol=1e-9)
    # Both outside the fit: the overrides apply to both, so they share script and family.
    draws = fit.predict_pair("eu", "mr", script="Deva", family="Other", random_seed=4).values.ravel()
    np.testing.assert_allclose(draws, [q["intercept"] + q["beta_script"] + q["beta_family"] for q in p], atol=1e-9)
    # Basque (Latin script, an isolate) from Marathi, looked up: neither covariate.
    draws = fit.predict_pair("mr", "eu", random_seed=4).values.ravel()
    np.testing.assert_allclose(draws, [q["intercept"] for q in p], atol=1e-9)
    # helpers of a target outside the fit: every fitted source, one formula.
    table = fit.helpers("mr", k=1, all_sources=True)
    scripts, families = fit.observed["script"].values, fit.observed["family"].values
    for code in CODES:
        j = CODES.index(code)
        cells = [
            q["intercept"]
            + q["source_effect"][j]
            + q["beta_script"] * (scripts[j] == "Deva")
            + q["beta_family"] * (families[j] == "Indo-European")
            for q in p
        ]
        assert table.loc[code, "bts_mean"] == pytest.approx(float(np.mean(cells)), abs=1e-9)


def test_pair_effects_are_drawn_when_missing():
    fit = planted_fit()
    stripped = fit.datatree
    posterior = stripped["posterior"].to_dataset().drop_vars(["symmetric", "asymmetric"])
    tree = xr.DataTree.from_dict(
        {"posterior": posterior, **{k: stripped[k].to_dataset() for k in ("observed_data", "constant_data")}}
    )
    redrawn = TransferFit(tree, fit.config, fit.diagnostics, {"pair_effect_seed": 7})
    again = TransferFit(tree, fit.config, fit.diagnostics, {"pair_effect_seed": 7})
    assert redrawn.draws("symmetric").shape == (6, 28)
    np.testing.assert_array_equal(redrawn.draws("asymmetric"), again.draws("asymmetric"))
    with pytest.raises(Exception, match="no seed"):
        TransferFit(tree, fit.config, fit.diagnostics, {})
    assert isinstance(redrawn.summary(), pd.DataFrame)


@pytest.mark.parametrize("population", ["normal", "student_t"])
def test_unfitted_languages_draw_from_the_fitted_population(population):
    # Scale 1, no correlation, nu = 3: an unfitted language's target effect is N(0, 1) under the
    # normal population and Student-t(3) under the heavy-tailed one; its source effect N(0, 1).
    fit = planted_fit(TransferConfig(population=population), shape=(2, 10000))
    fit.posterior["language_sd"][:] = 1.0
    fit.posterior["language_corr"][:] = 0.0
    fit.posterior["language_nu"][:] = 3.0
    effects = fit._effect_draws("mr", "Indo-European", np.random.default_rng(0))
    target = stats.t(3) if population == "student_t" else stats.norm()
    assert stats.kstest(effects[:, 0], target.cdf).pvalue > 0.01
    other = stats.norm() if population == "student_t" else stats.t(3)
    assert stats.kstest(effects[:, 0], other.cdf).pvalue < 1e-6
    assert stats.kstest(effects[:, 1], stats.norm().cdf).pvalue > 0.01


def test_student_t_builder_scales_the_target_deviations(data):
    # The target deviation is sampled centred, Student-t with nu = language_nu and scale
    # language_sd[target] (its log density checked against scipy's); the source deviation is
    # language_sd[source] * (corr * t_std + sqrt(1 - corr^2) * z), t_std = target / language_sd[target]
    # (the bivariate population of the normal case with the standardised target made a t).
    model = build_transfer_model(data, TransferConfig(population="student_t"))
    assert {"language_nu", "language_target_dev", "language_source_z"} <= {v.name for v in model.free_RVs}
    names = ["target_effect", "source_effect", "language_sd", "language_corr", "language_source_z", "language_nu"]
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    function = model.compile_fn(outputs, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")
    rng = np.random.default_rng(8)
    point = {k: v + rng.normal(0.0, 0.7, np.shape(v)) for k, v in model.initial_point(random_seed=8).items()}
    target, source, sd, corr, z, nu = (np.asarray(v, dtype=float) for v in function(point))
    t_std = target / sd[0]
    np.testing.assert_allclose(source, sd[1] * (corr * t_std + np.sqrt(1 - corr**2) * z), rtol=1e-8)
    logp_fn = model.compile_fn(
        model.logp(vars=[model["language_target_dev"]], sum=False),
        inputs=model.value_vars,
        point_fn=True,
        on_unused_input="ignore",
    )
    logp = logp_fn(point)
    np.testing.assert_allclose(np.asarray(logp[0]), stats.t.logpdf(target, float(nu), scale=sd[0]), rtol=1e-8)
