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
        assert np.all(np.diff(plan.sequence["expected_width"].to_numpy()) <= 1e-12)
        assert plan.decision["next"]["params"] == pytest.approx(plan.sequence["params"].iloc[0])
    payload = json.loads(json.dumps(plan.to_dict()))
    # The next run is the first of the cheapest plan (the top of the per-FLOP ranking only when
    # no plan is needed): the two coincided on the earlier shipped posterior, not by design.
    first = plan.sequence if len(plan.sequence) else r
    assert payload["decision"]["next"]["cost"] == pytest.approx(first["cost"].iloc[0])


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
        (("ca", 1e22), {"goal_width": 0.0}, ValueError, "goal_width"),
        (("ca", 1e40), {}, ValueError, "compute: a training budget of 1e\\+40 FLOPs is outside the range"),
        (("ca", "lots"), {}, ValueError, "compute must be a positive number of FLOPs, got 'lots'"),
        (("ca", 1e22), {"budget": "some"}, ValueError, "budget must be a positive number"),
    ],
)
def test_bad_input_is_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        _plan(None, *args, **kwargs)


def test_a_clipped_or_extrapolated_n_star_is_said():
    # At 1e26 FLOPs the emulated law puts N* beyond every fitted model size; where the search
    # bound (1e13 parameters) clips a draw, the interval is narrower than the posterior's.
    plan = _plan(None, "en", 1e26, [(1e8, 2e9)], budget=1e19, n_outcomes=4)
    texts = [w.text for w in plan.warnings if w.code == "BA201"]
    law_range = np.exp(resolve("law").meta["log_params_range"])
    assert plan.interval["median"] > law_range[1]
    assert any("extrapolates the law posterior" in t and "model size" in t for t in texts), texts
    from bayes_atlas.decisions.caveats import published_unique_tokens

    n_star = 10.0 ** preposterior_for(resolve("law"), "en", 1e26, published_unique_tokens()["en"], 0.9).log_n_star
    clipped = np.mean(n_star > 0.999 * 1e13)
    assert any("search bound" in t for t in texts) == (clipped > 0), (clipped, texts)


def test_cli_next_run_json():
    from bayes_atlas.cli import main

    result = CliRunner().invoke(
        main, ["next-run", "--target", "ca", "--compute", "1e22", "--budget", "1e19", "--outcomes", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["ranking"] and payload["decision"]["text"].startswith("next run for ca")


#: Targets of the simulated studies of the advisor.
STUDY_TARGETS = ("ca", "de", "ms", "pt", "vi")


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


def _advisor_pick(N_grid, D_grid, goal):
    """The library's policy: the first (cheapest) run of the cheapest plan expected to reach ``goal``,
    replanned on the current posterior after every run (each candidate run at most once)."""
    cost = 6 * N_grid * D_grid

    def choose(current, used, left):
        c = np.where([(n, d) in used for n, d in zip(N_grid, D_grid, strict=True)], np.inf, cost)
        chosen, _, _ = current.plan(current.mean_log_loss(N_grid[:, None], D_grid[:, None]), c, left, goal)
        return (N_grid[chosen[0]], D_grid[chosen[0]]) if chosen else None

    return choose


def _greedy_pick(N_grid, D_grid, rng):
    """The previous criterion, for the record: the most importance-reweighting shrinkage per FLOP, one run ahead."""
    cost = 6 * N_grid * D_grid

    def choose(current, used, left):
        affordable = np.array([(n, d) not in used and c <= left for n, d, c in zip(N_grid, D_grid, cost, strict=True)])
        if not affordable.any():
            return None
        mu = current.mean_log_loss(N_grid[:, None], D_grid[:, None])
        s, z = current.scenarios(16, len(N_grid), rng)
        widths, _ = current.step(mu, s, z)
        gain = np.where(affordable, (current.width() - widths.mean(axis=1)) / cost, -np.inf)
        best = int(np.argmax(gain))
        return N_grid[best], D_grid[best]

    return choose


def _flops_to_goal(pre, runs, truth, goal, budget, noise_rng, refit_rng, choose=None):
    """Run ``runs`` in order (or the advisor's choice when ``choose``) until the N* interval is at most ``goal``
    wide. Outcomes come from the simulator's truth; the posterior is updated by importance reweighting and
    refitted whenever the ESS of the weights falls below 10% of the particles. Returns the FLOPs spent (inf
    if the goal is not reached within ``budget``)."""
    spent, used = 0.0, set()
    while pre.width() > goal:
        if choose is not None:
            pick = choose(pre, used, budget - spent)
            if pick is None:
                return np.inf
            N, D = pick
        else:
            if not runs:
                return np.inf
            N, D = runs.pop(0)
        if spent + 6 * N * D > budget * (1 + 1e-9):
            return np.inf
        used.add((N, D))
        spent += 6 * N * D
        y = _true_log_loss(truth, pre.target, N, D) + truth.sigma * noise_rng.standard_normal()
        pre = pre.observe(N, D, y, rng=refit_rng)
    return spent


def _isoflop_runs(law, target, budget):
    """Chinchilla approach 2: 5 sizes around the posterior's N* at each of 3 budgets (budget/1000 to budget/10)."""
    from bayes_atlas.decisions.optimum import Mixture, compute_optimum

    runs = []
    for c in (budget / 1000, budget / 100, budget / 10):
        opt = compute_optimum(law, Mixture(target, (), {target: np.inf}, np.zeros((law.n_draws, 0))), c)
        centre = float(np.median(opt.params))
        runs += [(centre * m, c / (6 * centre * m)) for m in (0.25, 0.5, 1.0, 2.0, 4.0)]
    return runs


def _ratio(design, advisor):
    """FLOPs of a design over the advisor's; a study neither finishes within the budget is a tie."""
    return 1.0 if np.isinf(design) and np.isinf(advisor) else design / advisor


def advisor_studies(targets=STUDY_TARGETS, seeds=(0, 1, 2, 3), compute=1e22, budget=1e20, greedy=False):
    """Simulated studies (targets x noise seeds, truth = the simulator's): FLOPs until the 90% interval of
    N* at ``compute`` is half as wide, for the advisor, an IsoFLOP grid and random orders of the default grid
    (and, with ``greedy``, the previous one-run-ahead importance-reweighting criterion)."""
    truth = simulate.default_truth()
    law = resolve("law")
    flops = {"advisor": [], "isoflop": [], "random": []} | ({"greedy": []} if greedy else {})
    for target in targets:
        pre = preposterior_for(law, target, compute, np.inf, 0.9, 0)
        goal = 0.5 * pre.width()
        grid = default_candidates(law, budget)
        N_grid, D_grid = grid["params"].to_numpy(), grid["tokens"].to_numpy()
        iso = _isoflop_runs(law, target, budget)
        for seed in seeds:
            choose = _advisor_pick(N_grid, D_grid, goal)
            order = np.random.default_rng(1000 + seed).permutation(len(N_grid))
            designs = {
                "advisor": ([], choose),
                "isoflop": (list(iso), None),
                "random": ([(N_grid[i], D_grid[i]) for i in order], None),
            }
            if greedy:
                designs["greedy"] = ([], _greedy_pick(N_grid, D_grid, np.random.default_rng(100 + seed)))
            for name, (runs, policy) in designs.items():
                spent = _flops_to_goal(
                    pre, runs, truth, goal, budget, np.random.default_rng(seed), np.random.default_rng(50 + seed), policy
                )
                flops[name].append(spent)
    reached = {k: int(np.isfinite(v).sum()) for k, v in flops.items()}
    ratios = {
        name: [_ratio(d, a) for d, a in zip(flops[name], flops["advisor"], strict=True)] for name in flops if name != "advisor"
    }
    medians = {k: float(np.median(v)) for k, v in ratios.items()}
    n = len(flops["advisor"])
    print(f"\nstudies reaching half the N* interval width within {budget:.0e} FLOPs: {reached} of {n}")
    print("FLOPs per study:", {k: [f"{x:.3g}" for x in v] for k, v in flops.items()})
    print(f"median FLOP ratio (design / advisor; neither reaching = 1): {medians}")
    both = {
        name: float(np.median([r for r, d in zip(ratios[name], flops[name], strict=True) if np.isfinite(r) and np.isfinite(d)]))
        for name in ratios
        if any(np.isfinite(d) and np.isfinite(a) for d, a in zip(flops[name], flops["advisor"], strict=True))
    }
    print(f"median FLOP ratio where both reached the goal: {both}")
    return reached, medians, flops


def test_advisor_beats_an_isoflop_grid_on_two_small_studies():
    """Fast-tier version of the slow studies: Catalan, two noise seeds."""
    reached, medians, _ = advisor_studies(targets=("ca",), seeds=(0, 1))
    assert reached["advisor"] == 2
    assert medians["isoflop"] > 1 and medians["random"] > 1


def test_refit_agrees_with_importance_reweighting_while_the_ess_is_large():
    law = resolve("law")
    pre = preposterior_for(law, "ca", 1e22, np.inf, 0.9, 0)
    truth = simulate.default_truth()
    N, D = 5.4e7, 1.1e9
    y = _true_log_loss(truth, "ca", N, D)
    reweighted = pre.observe(N, D, y, min_ess=0)
    # 8000 fresh particles: with the 2000 of the fit the refit's ESS was ~250 and its 90% width
    # 0.65-0.72 against 0.78 (seeds 0-3; importance sampling at a small ESS under-covers the
    # tails); with 8000, ESS 730-900 and widths 0.71-0.80 (measured on the 2026-12-01 posterior).
    refitted = reweighted.refit(np.random.default_rng(0), n=8000)
    assert reweighted.ess > 200 and refitted.ess > 500 and refitted.refits == 1
    # The refit's prior is a kernel density of the fit's draws, which smooths the posterior: measured,
    # it moves the mean of log10 N* less than exact reweighting here, by 0.2 posterior sd on the
    # earlier shipped posterior and 0.34-0.40 sd (seeds 0-3, 8000 particles) on the 2026-12-01 refit,
    # whose Catalan leans more on the population (a systematic kernel bias, not Monte Carlo noise).
    sd = float(np.sqrt(reweighted.weights @ (reweighted.log_n_star - reweighted.weights @ reweighted.log_n_star) ** 2))
    mean_a = float(reweighted.weights @ reweighted.log_n_star)
    mean_b = float(refitted.weights @ refitted.log_n_star)
    assert abs(mean_a - mean_b) < 0.5 * sd
    assert float(reweighted.width()) == pytest.approx(float(refitted.width()), rel=0.15)
    # Many runs collapse the weights; observe() refits and keeps the ESS up.
    for k, (n, d) in enumerate([(9e6, 4.5e7), (2.3e7, 1.1e8), (5.4e7, 2.7e8), (1.4e8, 2.9e9), (3.6e8, 7.2e9)]):
        pre = pre.observe(n, d, _true_log_loss(truth, "ca", n, d), rng=np.random.default_rng(k))
        assert pre.ess >= 0.1 * pre.n_draws


def test_kernel_keeps_the_draws_mean_and_covariance():
    from bayes_atlas.decisions.next_run import Kernel

    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal([1.0, -2.0], [[1.0, 0.6], [0.6, 2.0]], size=2000)
    kernel = Kernel.from_draws(draws)
    spread = kernel.centres + kernel.bandwidth * rng.multivariate_normal([0, 0], kernel.cov, size=len(draws))
    np.testing.assert_allclose(spread.mean(0), draws.mean(0), atol=0.1)
    np.testing.assert_allclose(np.cov(spread.T), np.cov(draws.T), rtol=0.1)


@pytest.mark.slow
def test_advisor_reaches_a_narrow_n_star_interval_with_fewer_flops_than_random_designs():
    reached, medians, _ = _slow_studies()
    assert reached["advisor"] >= reached["random"] and reached["advisor"] >= reached["isoflop"]
    assert medians["random"] > 1


@pytest.mark.slow
def test_advisor_needs_fewer_flops_than_an_isoflop_grid():
    _, medians, _ = _slow_studies()
    assert medians["isoflop"] > 1


@functools.lru_cache(maxsize=1)
def _slow_studies():
    """20 studies: 5 targets x 4 noise seeds."""
    return advisor_studies(greedy=True)
