"""Slow tier of the calibration suite: every public run table and split, at the suite's defaults.

One run of :func:`bayes_atlas.calibration.suite` (16 fits: 500 draws + 500 tune x 4 chains),
measured 2026-12-01 on 2 shared cores at load 7-11: 29 minutes (6 min 45 s on 2 idle cores of a
faster machine; 8 min 27 s for this file on 2 idle cores, 2026-12-02), with the learnt extrapolation
discrepancy (its drift a random walk over the rolling-origin cuts), the data-scaled priors and the few-language defaults. What holds is asserted; the
extrapolation splits that meet issue 14's bar (90% coverage in 0.85-0.95, 50% in 0.40-0.60,
Bayesian median error no worse than the point fit's) are plain tests, the others strict xfails
with their measured numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from bayes_atlas.calibration import suite

pytestmark = pytest.mark.slow

#: Measured 2026-12-02 (seed 0, suite defaults, with the learnt extrapolation discrepancy, its drift
#: a random walk over the rolling-origin cuts, the data-scaled priors and the few-language
#: defaults): why each extrapolation split still misses.
MISSES = {
    ("epoch", "rolling_8x"): "cov50 0.64, cov90 1.00, median error 1.0% (point 2.4%), n 14",
    ("datablations", "top_compute"): "cov50 0.14, cov90 0.86, median error 6.1% (point 6.1%), n 94",
    ("datablations", "rolling_2x"): "cov50 0.25, cov90 0.84, median error 5.5% (point 4.8%), n 32",
    ("datablations", "rolling_4x"): "cov50 0.04, cov90 0.88, median error 8.5% (point 5.0%), n 50",
    ("datablations", "rolling_8x"): "cov50 0.05, cov90 0.95, median error 11.4% (point 6.4%), n 39",
    ("goldfish", "top_compute"): "cov50 0.16, cov90 0.68, median error 10.3% (point none), n 167",
    ("goldfish", "rolling_2x"): "cov50 0.54, cov90 1.00, median error 4.1% (point none), n 26",
    ("goldfish", "rolling_4x"): "cov50 0.82, cov90 1.00, median error 3.9% (point none), n 11",
    ("goldfish", "few_runs"): "cov50 0.75, cov90 1.00, median error 4.2% (point none), n 69",
    ("misfitting", "top_compute"): "cov50 0.53, cov90 1.00, median error 3.1% (point 0.4%), n 17",
    ("misfitting", "rolling_2x"): "cov50 1.00, cov90 1.00, median error 1.2% (point 1.2%), n 4",
    ("misfitting", "rolling_4x"): "cov50 0.71, cov90 1.00, median error 2.3% (point 1.5%), n 7",
    ("misfitting", "rolling_8x"): "cov50 0.33, cov90 1.00, median error 7.6% (point 0.8%), n 6",
    ("porian", "top_compute"): "cov50 1.00, cov90 1.00, median error 0.7% (point 2.5%), n 36",
    ("porian", "rolling_2x"): "cov50 1.00, cov90 1.00, median error 0.4% (point 1.4%), n 14",
    ("porian", "rolling_4x"): "cov50 1.00, cov90 1.00, median error 0.8% (point 2.7%), n 12",
    ("porian", "rolling_8x"): "cov50 1.00, cov90 1.00, median error 1.4% (point 4.3%), n 10",
}
#: The misses whose coverage chance cannot explain (exact binomial p < 0.05 at 50% or 90%, measured
#: 2026-12-02, ``summary["coverage50_p"]``): datablations' four (cov. 50% too low, p <= 0.007),
#: Goldfish top compute and few runs (both p <= 0.001) and Porian's four (intervals too wide:
#: cov. 50% 1.00 of 10-36 runs, p <= 0.002). The other seven are too small to tell (4-26 runs,
#: every p >= 0.06; with 4 or 6 runs no count lands in 0.85-0.95 at all).
COVERAGE_MISSES = {
    ("datablations", "top_compute"),
    ("datablations", "rolling_2x"),
    ("datablations", "rolling_4x"),
    ("datablations", "rolling_8x"),
    ("goldfish", "top_compute"),
    ("goldfish", "few_runs"),
    ("porian", "top_compute"),
    ("porian", "rolling_2x"),
    ("porian", "rolling_4x"),
    ("porian", "rolling_8x"),
}
#: Cells within sampling noise of p = 0.05 (measured 2026-12-01: Goldfish rolling 4x cov. 50% 9 of 11,
#: p 0.065; rolling 2x cov. 90% 26 of 26, p 0.10; their fit's r_hat 1.05): one more run inside the
#: interval on a rerun puts them below 0.05, so crossing it there is not a new miss.
BORDERLINE = {("goldfish", "rolling_2x"), ("goldfish", "rolling_4x")}
#: Extrapolation splits that meet the bar (measured 2026-12-02): epoch top compute (cov50 0.53,
#: cov90 0.88, error 0.5% vs 1.3%), epoch 2x (0.60, 0.95, 0.4% vs 1.1%), epoch 4x (0.55, 0.91,
#: 0.7% vs 2.0%), goldfish 8x (0.45, 0.93, 7.5%).
EXTRAPOLATION = [
    *MISSES,
    ("epoch", "top_compute"),
    ("epoch", "rolling_2x"),
    ("epoch", "rolling_4x"),
    ("goldfish", "rolling_8x"),
]


@pytest.fixture(scope="module")
def result(mirror):  # noqa: ARG001 - Epoch, datablations and Goldfish come from the mirror
    out = suite(random_seed=0, progress=print)
    print("\n" + out.summary.round(4).to_string())
    print(out.diagnostics.round(3).to_string())
    return out


def cell(result, table: str, split: str):  # noqa: ANN001
    return result.summary.set_index(["table", "split"]).loc[(table, split)]


def test_every_table_and_split_is_scored(result):
    pairs = set(zip(result.summary["table"], result.summary["split"], strict=True))
    expected = set(EXTRAPOLATION) | {(t, "random") for t in ("epoch", "datablations", "goldfish", "misfitting", "porian")}
    assert pairs == expected
    assert (result.summary["n_test"] >= 4).all()


def test_random_splits_are_close_to_calibrated(result):
    # Measured 2026-12-01: cov50 / cov90 epoch 0.47 / 0.86, datablations 0.52 / 0.87, goldfish 0.75 / 0.98,
    # misfitting 0.56 / 0.94, porian 0.34 / 0.80.
    random = result.summary[result.summary["split"] == "random"].set_index("table")
    assert (random["coverage90"] >= 0.75).all(), random
    assert (random["coverage50"] >= 0.3).all(), random
    with_point = random[random["n_point"] > 0]
    assert (with_point["median_abs_error"] <= 1.25 * with_point["point_median_abs_error"]).all(), with_point


def test_bayes_beats_the_point_fit_on_crps_where_measured(result):
    # The CRPS of the predictive log loss against the point fit's absolute error of the log loss:
    # lower on every split but Li et al.'s top compute (2.3% vs 0.8%), rolling 4x (2.6% vs 2.2%)
    # and 8x (4.3% vs 0.9%), measured 2026-12-02 (seed 0). Datablations' rolling 8x is borderline
    # (6.54% vs 6.63%; on the loss scale it was worse). Epoch's rolling 4x left the list when the
    # CRPS moved to the log loss (61.6% of the loss on the loss scale, rounding in exp(Student-t)
    # draws; 0.57% vs 1.69% now).
    summary = result.summary[result.summary["n_point"] > 0]
    worse = summary[summary["crps_log"] > summary["point_crps_log"]]
    allowed = {
        ("misfitting", "top_compute"),
        ("misfitting", "rolling_4x"),
        ("misfitting", "rolling_8x"),
        ("datablations", "rolling_8x"),
    }
    assert set(zip(worse["table"], worse["split"], strict=True)) <= allowed


def test_point_fit_cannot_predict_goldfish(result):
    # 2-6 runs per language: the 5-parameter point fit needs more rows than parameters.
    goldfish = result.summary[result.summary["table"] == "goldfish"]
    assert (goldfish["n_point"] == 0).all()
    assert "goldfish/random" in result.settings["point_notes"]


def test_fits_converge_or_nearly(result):
    # Measured 2026-12-01 (500 + 500 draws x 4 chains): max r_hat 1.002-1.056, at most 4 divergences
    # (datablations/random, r_hat 1.016, bulk ESS 206); Goldfish and Porian hit the maximum tree
    # depth on most draws (issue 14, item 5).
    diagnostics = result.diagnostics
    assert (diagnostics["max_r_hat"] <= 1.06).all(), diagnostics
    assert (diagnostics["divergences"] <= 4).all(), diagnostics
    epoch = diagnostics[diagnostics["table"] == "epoch"]
    assert (epoch["max_r_hat"] <= 1.01).all() and (epoch["min_ess_bulk"] >= 400).all()


@pytest.mark.parametrize(
    ("table", "split"),
    [
        pytest.param(
            *key,
            marks=[pytest.mark.xfail(strict=True, reason=f"known limitation (issue 14): {MISSES[key]}")] if key in MISSES else [],
        )
        for key in EXTRAPOLATION
    ],
)
def test_extrapolation_split_meets_the_issue_bar(result, table, split):
    row = cell(result, table, split)
    print(f"\n{table}/{split}: {row.round(4).to_dict()}")
    assert 0.85 <= row["coverage90"] <= 0.95
    assert 0.40 <= row["coverage50"] <= 0.60
    if row["n_point"] > 0:
        assert row["median_abs_error"] <= row["point_median_abs_error"]
    assert np.isfinite(row["crps_log"])


def test_only_the_known_misses_are_beyond_chance(result):
    # A cell whose coverage is consistent with its nominal mass at its n (two-sided exact binomial
    # test, p >= 0.05) is not a measured miss; none may newly fall outside what chance allows.
    summary = result.summary.set_index(["table", "split"]).loc[EXTRAPOLATION]
    beyond = summary[(summary["coverage50_p"] < 0.05) | (summary["coverage90_p"] < 0.05)]
    print("\n" + summary[["n_test", "coverage50", "coverage50_p", "coverage90", "coverage90_p"]].round(3).to_string())
    assert set(beyond.index) <= COVERAGE_MISSES | BORDERLINE
