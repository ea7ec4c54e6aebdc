"""Fast tier of the calibration suite: splits, scores against brute force, the CLI's error paths."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from bayes_atlas import calibration, cli, datasets
from bayes_atlas.calibration import SUITE_SPLITS, SUITE_TABLES, SuiteResult, calibration_splits, score_holdout, suite
from bayes_atlas.cli import main
from bayes_atlas.errors import ConvergenceWarning


def strict_loads(text: str):
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# -- brute-force references ---------------------------------------------------------------------


def brute_crps(sample: np.ndarray, y: float) -> float:
    """E|X - y| - E|X - X'| / 2 over every pair of the sample (O(n^2))."""
    return float(np.mean(np.abs(sample - y)) - 0.5 * np.mean(np.abs(sample[:, None] - sample[None, :])))


def brute_scores(draws: np.ndarray, observed: np.ndarray) -> pd.DataFrame:
    rows = []
    for j, y in enumerate(observed):
        x = np.sort(draws[:, j])
        q = {p: np.quantile(x, p) for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
        rows.append(
            {
                "median": q[0.5],
                "in50": q[0.25] <= y <= q[0.75],
                "in90": q[0.05] <= y <= q[0.95],
                "crps_log": brute_crps(np.log(x), math.log(y)),
                "pit": sum(v <= y for v in x) / len(x),
                "relative_error": q[0.5] / y - 1,
            }
        )
    return pd.DataFrame(rows)


class KnownDraws:
    """A stand-in for a fitted law: ``predict`` returns fixed draws for the rows asked (by run id)."""

    failed = False

    def __init__(self, draws: pd.DataFrame) -> None:
        self.table = draws  # columns = run ids, rows = draws
        self.meta: dict = {}
        self.diagnostics = type("D", (), {"to_dict": staticmethod(lambda: {"divergences": 0, "max_r_hat": 1.0})})()

    def predict(self, runs, random_seed=0):  # noqa: ANN001, ARG002
        values = self.table[list(runs.frame["run_id"])].to_numpy()
        return type("A", (), {"values": values[None, :, :]})()


def known_draws(runs, n_draws: int = 400, seed: int = 3) -> pd.DataFrame:  # noqa: ANN001
    """Lognormal draws around each run's loss, shifted up or down so that some rows are missed."""
    rng = np.random.default_rng(seed)
    loss = runs.frame["loss"].to_numpy()
    shift = np.where(np.arange(loss.size) % 3 == 0, 1.03, 1.0)
    draws = loss[None, :] * shift * np.exp(0.01 * rng.standard_normal((n_draws, loss.size)))
    return pd.DataFrame(draws, columns=runs.frame["run_id"])


# -- scores ---------------------------------------------------------------------------------


def test_score_holdout_matches_brute_force_on_known_draws():
    runs = datasets.misfitting_openlm()
    test = np.zeros(len(runs), dtype=bool)
    test[::7] = True
    fake = KnownDraws(known_draws(runs))
    scored = score_holdout(runs, fake, test)
    held = runs.frame.loc[test]
    reference = brute_scores(fake.table[list(held["run_id"])].to_numpy(), held["loss"].to_numpy())
    for column in ("median", "crps_log", "pit", "relative_error"):
        np.testing.assert_allclose(scored[column].to_numpy(), reference[column].to_numpy(), rtol=1e-10, atol=1e-12)
    for column in ("in50", "in90"):
        assert scored[column].tolist() == reference[column].tolist()
    assert 0 < scored["in90"].mean() < 1  # the shifted rows are missed, the others covered


def test_crps_stays_finite_under_astronomical_predictive_draws():
    """Learnt Student-t noise puts a few draws at exp(40) times the loss; the score must not follow them.

    Measured 2026-12-02 on Epoch's rolling 4x split: one row's loss-scale CRPS was 31 (its 90%
    interval 2.27-2.37), the split's mean 62% of the loss. The CRPS of the log loss of the same
    sample is checked against the closed form of a normal's CRPS, sigma (z (2 Phi(z) - 1) +
    2 phi(z) - 1 / sqrt(pi)), for the bulk of the draws, and against brute force over all pairs.
    """
    rng = np.random.default_rng(0)
    loss, sigma, z = 2.3, 0.01, 0.5
    log_draws = np.log(loss) + sigma * rng.standard_normal(4000)
    log_draws[:3] += 40.0  # three draws of ~5e17 times the loss
    observed = loss * math.exp(z * sigma)
    held = pd.DataFrame({"run_id": ["r"], "language": ["en"], "loss": [observed]})
    scored = calibration._scores_from_draws(held, np.exp(log_draws)[:, None])
    normal = sigma * (z * math.erf(z / math.sqrt(2)) + 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi))
    assert scored["crps_log"].iloc[0] == pytest.approx(normal, rel=0.1)
    assert scored["crps_log"].iloc[0] == pytest.approx(brute_crps(log_draws, math.log(observed)), rel=1e-9)


def test_crps_survives_draws_that_overflowed_in_exp():
    # exp(mean + sigma * t) with nu ~ 1 overflows to inf (or underflows to 0) now and then; one
    # such draw made the whole row's CRPS NaN (inf - inf), and a split's mean with it.
    rng = np.random.default_rng(1)
    log_draws = np.log(2.3) + 0.01 * rng.standard_normal(2000)
    log_draws[:2] = [800.0, -800.0]
    held = pd.DataFrame({"run_id": ["r"], "language": ["en"], "loss": [2.31]})
    with np.errstate(over="ignore"):
        scored = calibration._scores_from_draws(held, np.exp(log_draws)[:, None])
    held_at_float_limits = np.clip(log_draws, math.log(np.finfo(float).tiny), math.log(np.finfo(float).max))
    assert scored["crps_log"].iloc[0] == pytest.approx(brute_crps(held_at_float_limits, math.log(2.31)), rel=1e-9)
    # Holding the two draws at the float limits moves the score 1.3% from the unclipped sample's.
    assert scored["crps_log"].iloc[0] == pytest.approx(brute_crps(log_draws, math.log(2.31)), rel=0.03)


def test_crps_of_a_point_mass_is_the_absolute_error():
    draws = np.full((5, 2), 3.0)
    np.testing.assert_allclose(calibration.crps_from_draws(draws, np.array([2.5, 3.25])), [0.5, 0.25])


def test_suite_on_known_draws_matches_brute_force(monkeypatch):
    """The whole suite path (splits, scoring, point fit, summary) with the law replaced by known draws."""
    runs = datasets.misfitting_openlm()
    fake = KnownDraws(known_draws(runs))
    monkeypatch.setattr(calibration, "_fit_training", lambda *args, **kwargs: fake)
    result = suite(("misfitting",), splits=("random", "top_compute", "rolling_2x"), random_seed=5)
    assert isinstance(result, SuiteResult)
    assert list(result.summary["split"]) == ["random", "top_compute", "rolling_2x"]
    masks = calibration_splits(calibration._compute(runs), runs.frame["language"].to_numpy(), seed=5)
    for split in ("random", "top_compute", "rolling_2x"):
        _, test, _ = masks[split]
        held = runs.frame.loc[test]
        reference = brute_scores(fake.table[list(held["run_id"])].to_numpy(), held["loss"].to_numpy())
        row = result.summary.set_index("split").loc[split]
        assert row["n_test"] == test.sum()
        assert row["coverage50"] == pytest.approx(reference["in50"].mean())
        assert row["coverage90"] == pytest.approx(reference["in90"].mean())
        assert row["crps_log"] == pytest.approx(reference["crps_log"].mean(), rel=1e-10)
        assert row["median_abs_error"] == pytest.approx(reference["relative_error"].abs().median(), rel=1e-10)
        # The point fit is scored on the same rows: its CRPS is its absolute error (of the log loss); no interval.
        point = result.rows[(result.rows["split"] == split) & (result.rows["method"] == "point")]
        assert list(point["run_id"]) == list(held["run_id"])
        np.testing.assert_allclose(point["crps_log"], np.abs(np.log(point["median"] / point["observed"])))
        assert np.isnan(row["point_coverage90"]) and row["n_point"] == test.sum()
        assert row["point_median_abs_error"] == pytest.approx(point["relative_error"].abs().median())
        inside90 = int(reference["in90"].sum())
        assert row["coverage90_p"] == pytest.approx(brute_binomial_p(inside90, len(reference), 0.9), rel=1e-9)
    payload = json.dumps(result.to_dict(), allow_nan=False)  # strict JSON: NaN written as null
    assert strict_loads(payload)["summary"][0]["point_coverage50"] is None


def brute_binomial_p(inside: int, n: int, mass: float) -> float:
    """Two-sided exact binomial test by enumeration: the mass of every count no likelier than ``inside``."""
    pmf = [math.comb(n, k) * mass**k * (1 - mass) ** (n - k) for k in range(n + 1)]
    return min(1.0, sum(p for p in pmf if p <= pmf[inside] * (1 + 1e-7)))


@pytest.mark.parametrize(
    ("inside", "n", "mass", "consistent"),
    [
        (14, 14, 0.9, True),  # Epoch rolling 8x (2026-12-01): 1.00 of 14 is chance at 90%
        (4, 4, 0.9, True),  # 4 runs: no count lies in 0.85-0.95, every one is chance
        (167, 167, 0.9, False),  # Goldfish few-runs / top-compute sizes: far too wide
        (114, 167, 0.9, False),  # Goldfish top compute (0.68): far too narrow
        (15, 49, 0.5, False),  # Epoch top compute cov. 50% 0.31
        (42, 49, 0.9, True),  # and its cov. 90% 0.86
    ],
)
def test_coverage_p_value_is_the_exact_binomial_test(inside, n, mass, consistent):
    p = calibration.coverage_p_value(inside, n, mass)
    assert p == pytest.approx(brute_binomial_p(inside, n, mass), rel=1e-9)
    assert (p >= 0.05) == consistent


def test_coverage_p_value_refuses_impossible_counts():
    with pytest.raises(ValueError, match="inside <= n"):
        calibration.coverage_p_value(5, 4, 0.9)
    with pytest.raises(ValueError, match="mass"):
        calibration.coverage_p_value(1, 4, 90)
    assert np.isnan(calibration.coverage_p_value(0, 0, 0.9))
    with pytest.raises(ValueError, match="inside must be a whole number"):
        calibration.coverage_p_value(2.5, 4, 0.5)
    assert calibration.coverage_p_value(np.int64(2), np.int64(4), 0.5) == pytest.approx(1.0)


def test_a_fit_that_did_not_mix_is_scored_and_reported_not_raised(monkeypatch):
    # Measured: one Goldfish fit of a 4-fit suite stopped at max r_hat 1.54 and the whole
    # suite raised, losing the other fits.
    from bayes_atlas.errors import FitFailedError

    runs = datasets.misfitting_openlm()
    fake = KnownDraws(known_draws(runs))
    fake.failed, fake.meta = True, {"failure": "max r_hat 1.54 (theta[ckb,b])"}

    def fit_training(*args, allow_failed=False, **kwargs):  # noqa: ANN001, ANN002, ANN003, ARG001
        if not allow_failed:
            raise FitFailedError("did not converge at all")
        return fake

    monkeypatch.setattr(calibration, "_fit_training", fit_training)
    messages: list[str] = []
    with pytest.warns(ConvergenceWarning, match=r"calibration fit misfitting/random did not converge \(max r_hat 1.54"):
        result = suite(("misfitting",), splits=("random",), random_seed=5, progress=messages.append)
    assert result.diagnostics.loc[0, "failure"] == "max r_hat 1.54 (theta[ckb,b])"
    assert any("DID NOT CONVERGE, scored anyway (max r_hat 1.54" in message for message in messages)
    assert result.summary.loc[0, "n_test"] > 0 and np.isfinite(result.summary.loc[0, "coverage90"])
    assert not result.summary.loc[0, "converged"]


def test_a_table_listed_twice_is_scored_once(monkeypatch):
    # Before, its held-out runs counted twice (n_test 32 for 16 runs) and the binomial p-value of
    # its coverage looked 100 times more significant.
    runs = datasets.misfitting_openlm()
    monkeypatch.setattr(calibration, "_fit_training", lambda *args, **kwargs: KnownDraws(known_draws(runs)))
    once = suite(("misfitting",), splits=("random",), random_seed=5)
    twice = suite(("misfitting", "misfitting"), splits=("random", "random"), random_seed=5)
    assert once.summary.equals(twice.summary) and len(twice.diagnostics) == 1
    assert once.summary.loc[0, "converged"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"random_seed": -1}, "random_seed must be a non-negative integer"),
        ({"max_rows": -1}, "max_rows must be a positive integer"),
        ({"max_rows": 6, "splits": ("rolling_2x",)}, r"calibration misfitting/rolling: \d training row\(s\) after max_rows=6"),
        ({"splits": ("few_runs",)}, "no held-out rows for splits \\['few_runs'\\]"),
    ],
)
def test_suite_arguments_that_cannot_be_scored_are_named_before_any_fit(monkeypatch, kwargs, match):
    def no_fit(*args, **kwargs):  # noqa: ANN002, ANN003, ARG001
        raise AssertionError("a fit started")

    monkeypatch.setattr(calibration, "_fit_training", no_fit)
    with pytest.raises(ValueError, match=match):
        suite(("misfitting",), **kwargs)


def test_suite_tiny_real_fit_scores_are_finite():
    """One real tiny NUTS fit (one table, one split, one chain): finite scores, coverage from the rows."""
    kwargs = {"splits": ("top_compute",), "draws": 40, "tune": 40, "chains": 1, "max_rows": 30, "random_seed": 1}
    result = suite(("misfitting",), **kwargs)
    row = result.summary.iloc[0]
    bayes = result.rows[result.rows["method"] == "bayes"]
    assert row["n_test"] == len(bayes) > 0
    assert row["coverage90"] == pytest.approx(bayes["in90"].astype(float).mean())
    assert np.isfinite([row["median_abs_error"], row["crps_log"], row["point_median_abs_error"]]).all()
    assert bayes["pit"].between(0, 1).all()
    assert result.diagnostics.loc[0, "n_train"] + row["n_test"] <= 30


# -- splits ---------------------------------------------------------------------------------


def design():
    groups = np.repeat(["a", "b", "c", "d", "e"], 10)
    compute = np.tile(2.0 ** np.arange(10), 5) * 1e18
    return compute, groups


def test_splits_follow_their_definitions():
    compute, groups = design()
    masks = calibration_splits(compute, groups, multilingual=True, seed=0)
    assert set(masks) == set(SUITE_SPLITS)
    train, test, key = masks["random"]
    assert key == "random" and test.sum() == 10 and not (train & test).any()
    train, test, _ = masks["top_compute"]
    assert test.sum() == 10 and set(np.log2(compute[test] / 1e18)) == {8.0, 9.0}  # top 20% of each group
    # Rolling: origin 2^9 / 8 = 2^6 per group; the fit sees 2^0..2^6, 2x scores 2^7, 4x 2^8, 8x 2^9.
    for name, power in (("rolling_2x", 7), ("rolling_4x", 8), ("rolling_8x", 9)):
        train, test, key = masks[name]
        assert key == "rolling"
        assert set(np.log2(compute[train] / 1e18)) == set(range(7))
        assert set(np.log2(compute[test] / 1e18)) == {power} and test.sum() == 5
    train, test, _ = masks["few_runs"]
    chosen = sorted(set(groups[test]))
    assert len(chosen) == 1  # 20% of 5 languages
    kept = train & (groups == chosen[0])
    assert kept.sum() in (1, 2) and compute[kept].max() < compute[test].min()


def test_each_split_holds_the_same_rows_whichever_splits_are_built():
    # `bayes-atlas calibrate --splits few_runs` must score the suite's few_runs rows: before,
    # the random split's draw came first from the same stream only when it was asked for.
    groups = np.repeat([f"g{k:02d}" for k in range(20)], 10)
    compute = np.tile(2.0 ** np.arange(10), 20) * 1e18
    every = calibration_splits(compute, groups, multilingual=True, seed=3)
    for split in SUITE_SPLITS:
        alone = calibration_splits(compute, groups, multilingual=True, seed=3, splits=(split,))
        assert set(alone) == {split}
        for built, expected in zip(alone[split], every[split], strict=True):
            np.testing.assert_array_equal(built, expected)


def test_splits_never_score_a_group_without_training_rows():
    compute = np.array([1e18, 2e18, 1e18, 64e18])
    groups = np.array(["a", "a", "b", "b"])
    masks = calibration_splits(compute, groups, splits=("rolling_8x", "top_compute"))
    _, test, _ = masks["top_compute"]
    assert test.tolist() == [False, True, False, True]
    # b's origin is 8e18: 64e18 is its 8x run; a's origin (2.5e17) leaves a without training rows.
    _, test, _ = masks["rolling_8x"]
    assert test.tolist() == [False, False, False, True]


def test_few_runs_only_for_multilingual_tables_and_unknown_splits_fail():
    compute, groups = design()
    assert "few_runs" not in calibration_splits(compute, groups, multilingual=False)
    with pytest.raises(ValueError, match="unknown splits"):
        calibration_splits(compute, groups, splits=("nope",))
    with pytest.raises(ValueError, match="unknown calibration tables"):
        suite(("nope",))
    with pytest.raises(ValueError, match="unknown splits"):
        suite(("misfitting",), splits=("random", "sideways"))


# -- the command line -------------------------------------------------------------------------


def test_cli_lists_match_the_suite():
    assert cli.CALIBRATION_TABLES == tuple(SUITE_TABLES)
    assert cli.CALIBRATION_SPLITS == SUITE_SPLITS


@pytest.fixture
def fake_suite(monkeypatch):
    calls = []

    def fake(tables, **kwargs):
        calls.append((tables, kwargs))
        kwargs["progress"]("calibrate: fake")
        summary = pd.DataFrame(
            {"table": ["misfitting"], "split": ["random"], "n_test": [3], "coverage50": [0.5], "coverage90": [np.nan]}
        )
        for column in ("median_abs_error", "point_median_abs_error", "crps_log", "point_crps_log"):
            summary[column] = 0.01
        summary["n_point"] = 3
        summary["coverage50_p"] = 2.3e-5  # 167 of 167 inside a 90% interval is p ~ 2e-8
        summary["coverage90_p"] = np.nan
        rows = pd.DataFrame(
            {"table": "misfitting", "split": "random", "method": "bayes", "pit": [0.1, 0.5, 0.9], "run_id": ["x", "y", "z"]}
        )
        diagnostics = pd.DataFrame(
            {"table": ["misfitting"], "fit": ["random"], "n_train": [10], "divergences": [0], "max_r_hat": [np.inf]}
        )
        diagnostics["min_ess_bulk"] = 100.0
        diagnostics["failure"] = "max r_hat inf (sigma): the chains disagree or are stuck"
        return SuiteResult(summary, rows, diagnostics, {"tables": list(tables)})

    monkeypatch.setattr(calibration, "suite", fake)
    return calls


def test_cli_unknown_table_is_a_usage_error(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--tables", "epoch,pythia"])
    assert result.exit_code == 2
    assert "unknown 'pythia'" in result.output and "misfitting" in result.output
    assert fake_suite == []  # refused before any work


def test_cli_unknown_split_is_a_usage_error(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--splits", "random,diagonal"])
    assert result.exit_code == 2 and "unknown 'diagonal'" in result.output
    assert fake_suite == []


def test_cli_bad_out_is_refused_before_work(fake_suite, tmp_path):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("keep me")
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--out", str(a_file)])
    assert result.exit_code == 2 and "is a file" in result.output
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--out", str(a_file / "sub")])
    assert result.exit_code == 2 and "not a directory" in result.output
    assert a_file.read_text() == "keep me" and fake_suite == []


def test_cli_never_overwrites_without_force(fake_suite, tmp_path):
    (tmp_path / "summary.csv").write_text("someone else's")
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert (tmp_path / "summary.csv").read_text() == "someone else's" and fake_suite == []
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--out", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert set(cli.CALIBRATION_OUTPUTS) <= {p.name for p in tmp_path.iterdir()}
    written = strict_loads((tmp_path / "calibration.json").read_text())
    assert written["summary"][0]["coverage90"] is None


def test_cli_json_is_strict_and_progress_goes_to_stderr(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting,porian", "--draws", "7", "--json"])
    assert result.exit_code == 0, result.output
    payload = strict_loads(result.stdout)
    assert payload["summary"][0]["coverage90"] is None and payload["diagnostics"][0]["max_r_hat"] is None
    assert payload["warnings"] == []
    assert "calibrate: fake" in result.stderr and "calibrate: fake" not in result.stdout
    tables, kwargs = fake_suite[0]
    assert tables == ("misfitting", "porian") and kwargs["draws"] == 7


def test_cli_table_prints_small_coverage_p_values_not_zero(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "cov50_p" in line)
    assert "cov90_p" in lines[header]
    row = next(line for line in lines[header:] if line.startswith("misfitting"))
    assert "2.3e-05" in row and "0.000" not in row, result.stdout


def test_cli_workers_and_scheduler_together_fail(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert result.exit_code == 2 and "not both" in result.output


# -- the figure -----------------------------------------------------------------------------


def test_calibration_plot_draws_one_column_per_table():
    import matplotlib

    from bayes_atlas.figures import calibration_plot

    backend = matplotlib.get_backend()
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "table": np.repeat(["epoch", "porian"], 40),
            "split": np.tile(np.repeat(["random", "rolling_2x"], 20), 2),
            "method": "bayes",
            "pit": rng.uniform(size=80),
        }
    )
    rows = pd.concat([rows, rows.assign(method="point", pit=np.nan)], ignore_index=True)
    fig = calibration_plot(rows)
    assert len(fig.axes) == 4 and [ax.get_title() for ax in fig.axes[:2]] == ["epoch", "porian"]
    assert matplotlib.get_backend() == backend  # no global state changed
    with pytest.raises(ValueError, match="no Bayesian"):
        calibration_plot(rows[rows["method"] == "point"])
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_cli_says_which_fits_did_not_converge(fake_suite):
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "converged" in line)
    assert "NO" in next(line for line in lines[header:] if line.startswith("misfitting"))


def test_cli_a_missing_public_table_is_one_error_not_a_traceback(monkeypatch):
    from bayes_atlas.errors import DatasetError

    def missing(*args, **kwargs):  # noqa: ANN002, ANN003, ARG001
        raise DatasetError("could not download epoch_chinchilla; set BAYES_ATLAS_DATA_MIRROR to a local copy")

    monkeypatch.setattr(calibration, "suite", missing)
    result = CliRunner().invoke(main, ["calibrate", "--tables", "epoch"])
    assert result.exit_code == 1 and "could not download epoch_chinchilla" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_out_writes_nothing_when_a_part_fails(fake_suite, tmp_path, monkeypatch):
    from bayes_atlas import figures

    def broken(rows):  # noqa: ANN001, ARG001
        raise RuntimeError("no figure")

    monkeypatch.setattr(figures, "calibration_plot", broken)
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())


def test_a_divergent_calibration_fit_warns_ba101_and_a_bad_seed_is_a_usage_error(monkeypatch):
    runs = datasets.misfitting_openlm()
    fake = KnownDraws(known_draws(runs))
    fake.failed, fake.meta = True, {"failure": "12 of 2000 draws divergent"}
    monkeypatch.setattr(calibration, "_fit_training", lambda *args, **kwargs: fake)
    with pytest.warns(ConvergenceWarning, match="12 of 2000 draws divergent") as caught:
        suite(("misfitting",), splits=("random",), random_seed=5)
    assert [w.message.code for w in caught if isinstance(w.message, ConvergenceWarning)] == ["BA101"]
    result = CliRunner().invoke(main, ["calibrate", "--tables", "misfitting", "--seed", "-1"])
    assert result.exit_code == 2 and "--seed" in result.output
