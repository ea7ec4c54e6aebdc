"""The next-run advisor (bayes_atlas.next_run): ranking, sequence, errors, and on the simulator
(truth known) that its top run shrinks the N* interval more per FLOP than a random run."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from bayes_atlas import UnknownLanguageError, next_run, simulate
from bayes_atlas.decisions.next_run import default_candidates, preposterior_for
from bayes_atlas.laws import Design, get_law
from bayes_atlas.posteriors import resolve


def _plan(*args, **kwargs):
    return next_run(*args, warn=False, **kwargs)


def test_plan_structure_costs_and_sequence_within_budget():
    plan = _plan(None, "ca", 1e22, budget=1e19, n_outcomes=8)
    r = plan.ranking
    assert (r["cost"] <= 1e19 * (1 + 1e-9)).all()
    assert np.all(np.diff(r["shrinkage_per_eflop"].to_numpy()) <= 0)  # best first
    assert plan.interval["lower"] < plan.interval["median"] < plan.interval["upper"]
    if len(plan.sequence):
        assert plan.sequence["cumulative_cost"].iloc[-1] <= 1e19 * (1 + 1e-9)
        assert np.all(np.diff(plan.sequence["expected_width"].to_numpy()) < 0)
    payload = json.loads(json.dumps(plan.to_dict()))
    assert payload["decision"]["next"]["cost"] == pytest.approx(r["cost"].iloc[0])


def test_candidates_from_pairs_and_file(tmp_path):
    pairs = [(2e7, 4e8), (5e7, 1e9)]
    assert len(_plan(None, "ca", 1e22, pairs, budget=1e19, n_outcomes=4).ranking) == 2
    path = tmp_path / "runs.csv"
    path.write_text("params,tokens\n2e7,4e8\n5e7,1e9\n")
    assert len(_plan(None, "ca", 1e22, str(path), budget=1e19, n_outcomes=4).ranking) == 2


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("xx-notalang", 1e22), {}, UnknownLanguageError, "not a language"),
        (("ca", -1.0), {}, ValueError, "compute must be a positive"),
        (("ca", 1e22), {"budget": 1e23}, ValueError, "must be below compute"),
        (("ca", 1e22), {"budget": 1e10}, ValueError, "no run of the default grid"),
        (("ca", 1e22, [(1e9, -1.0)]), {"budget": 1e19}, ValueError, "positive params and tokens"),
        (("ca", 1e22, "/nonexistent/runs.csv"), {"budget": 1e19}, ValueError, "does not exist"),
        (("ca", 1e22), {"n_outcomes": 1}, ValueError, "n_outcomes"),
    ],
)
def test_bad_input_is_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        _plan(None, *args, **kwargs)


def test_cli_next_run_json():
    from bayes_atlas.cli import main

    result = CliRunner().invoke(
        main, ["next-run", "--target", "ca", "--compute", "1e22", "--budget", "1e19", "--outcomes", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ranking"] and payload["decision"]["text"].startswith("next run for ca")


def _true_log_loss(truth, target, N, D):
    params = {**truth.law_parameters(target), "tau": np.zeros(3)}
    return get_law("atlas").mean_log_loss(np, Design.of_run(params=N, tokens=D), params)


def test_top_candidate_shrinks_the_interval_more_per_flop_than_random_ones_on_the_simulator():
    """Realised shrinkage: outcomes drawn from the simulator's truth, posterior updated by importance weights."""
    truth = simulate.default_truth()
    law = resolve("law")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = _plan(law, "ca", 1e22, budget=1e19, n_outcomes=16)
    pre = preposterior_for(law, "ca", 1e22, np.inf, 0.9, 0)
    w0 = np.full(pre.n_draws, 1.0 / pre.n_draws)
    width0 = pre.width(w0)
    rng = np.random.default_rng(1)
    grid = default_candidates(law, 1e19)

    def realised(N, D):
        mu = pre.mean_log_loss(np.array([[N]]), np.array([[D]]))[0]
        y = _true_log_loss(truth, "ca", N, D) + truth.sigma * rng.standard_normal(8)
        return np.mean([width0 - pre.width(pre.update(w0, yi, mu)) for yi in y]) / (6 * N * D)

    top = plan.ranking.iloc[0]
    top_gain = realised(top["params"], top["tokens"])
    others = grid.sample(8, random_state=0)
    random_gain = np.mean([realised(r.params, r.tokens) for r in others.itertuples()])
    print(
        f"\nrealised shrinkage per FLOP: advisor's top {top_gain:.3e} decades/FLOP, random {random_gain:.3e} "
        f"(ratio {top_gain / random_gain:.1f})"
    )
    assert top_gain > random_gain


def _flops_to_goal(pre, mu_of, runs, truth, target, goal, budget, rng, choose=None):
    """Run ``runs`` in order (or the advisor's choice when ``choose``) until the weighted N* width <= goal."""
    w = np.full(pre.n_draws, 1.0 / pre.n_draws)
    spent, used = 0.0, set()
    while pre.width(w) > goal:
        if choose is not None:
            pick = choose(w, used, budget - spent)
            if pick is None:
                return np.inf
            N, D = pick
        else:
            if not runs:
                return np.inf
            N, D = runs.pop(0)
            if spent + 6 * N * D > budget:
                return np.inf
        used.add((N, D))
        spent += 6 * N * D
        y = _true_log_loss(truth, target, N, D) + truth.sigma * rng.standard_normal()
        w = pre.update(w, y, mu_of(N, D))
    return spent


@functools.lru_cache(maxsize=1)
def _advisor_studies():
    """>= 20 simulated studies (5 targets x 4 noise seeds, truth = the simulator's): FLOPs until the 90%
    interval of N* at 1e22 is half as wide, by importance reweighting only (no refits)."""
    from bayes_atlas.decisions.optimum import Mixture, compute_optimum

    truth = simulate.default_truth()
    law = resolve("law")
    compute, budget = 1e22, 1e20
    ratios = {"isoflop": [], "random": []}
    reached = {"advisor": 0, "isoflop": 0, "random": 0}
    for target in ("ca", "de", "ms", "pt", "vi"):
        pre = preposterior_for(law, target, compute, np.inf, 0.9, 0)
        goal = 0.5 * pre.width(np.full(pre.n_draws, 1.0 / pre.n_draws))
        grid = default_candidates(law, budget)
        N_grid, D_grid = grid["params"].to_numpy(), grid["tokens"].to_numpy()
        mu_grid = pre.mean_log_loss(N_grid[:, None], D_grid[:, None])

        def mu_of(N, D):
            return pre.mean_log_loss(np.array([[N]]), np.array([[D]]))[0]

        # IsoFLOP (Chinchilla approach 2): 5 sizes around the posterior's N* at each of 3 budgets.
        iso = []
        for c in (budget / 1000, budget / 100, budget / 10):
            opt = compute_optimum(law, Mixture(target, (), {target: np.inf}, np.zeros((law.n_draws, 0))), c)
            centre = float(np.median(opt.params))
            iso += [(centre * m, c / (6 * centre * m)) for m in (0.25, 0.5, 1.0, 2.0, 4.0)]
        for seed in range(4):
            scen_rng = np.random.default_rng(100 + seed)

            def choose(w, used, left):
                affordable = np.array([(n, d) not in used and 6 * n * d <= left for n, d in zip(N_grid, D_grid, strict=True)])
                if not affordable.any():
                    return None
                s, z = pre.scenarios(w, 16, len(N_grid), scen_rng)
                widths, _ = pre.step(w, mu_grid, s, z)
                gain = (pre.width(w) - widths.mean(axis=1)) / (6 * N_grid * D_grid)
                gain[~affordable] = -np.inf
                best = int(np.argmax(gain))
                return (N_grid[best], D_grid[best])

            advisor = _flops_to_goal(pre, mu_of, None, truth, target, goal, budget, np.random.default_rng(seed), choose)
            isoflop = _flops_to_goal(pre, mu_of, list(iso), truth, target, goal, budget, np.random.default_rng(seed))
            order = np.random.default_rng(1000 + seed).permutation(len(N_grid))
            random = _flops_to_goal(
                pre, mu_of, [(N_grid[i], D_grid[i]) for i in order], truth, target, goal, budget, np.random.default_rng(seed)
            )
            for name, value in (("advisor", advisor), ("isoflop", isoflop), ("random", random)):
                reached[name] += bool(np.isfinite(value))
            if np.isfinite(advisor):
                ratios["isoflop"].append(isoflop / advisor)
                ratios["random"].append(random / advisor)
    medians = {k: float(np.median(v)) for k, v in ratios.items()}
    print(f"\nstudies reaching half the N* interval width within {budget:.0e} FLOPs: {reached} of 20")
    print(f"median FLOP ratio (design / advisor): {medians}")
    return reached, medians


@pytest.mark.slow
def test_advisor_reaches_a_narrow_n_star_interval_with_fewer_flops_than_random_designs():
    reached, medians = _advisor_studies()
    assert reached["advisor"] >= 15 and reached["advisor"] >= reached["random"]
    assert medians["random"] > 1


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="measured gap: the greedy per-FLOP advisor favours many tiny runs; an IsoFLOP grid reached half the "
    "N* interval width with 0.67x the advisor's FLOPs (median over 20 studies)",
)
def test_advisor_needs_fewer_flops_than_an_isoflop_grid():
    _, medians = _advisor_studies()
    assert medians["isoflop"] > 1
