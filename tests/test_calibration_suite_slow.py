"""Slow tier of the calibration suite: every public run table and split, at the suite's defaults.

One run of :func:`bayes_atlas.calibration.suite` (16 fits: 500 draws + 500 tune x 4 chains),
measured 2026-11-30 on 2 shared cores at load 6.6-12: 19.3 minutes, with the law as of commit
e1a5784 (before the discrepancy term of 2b46da7 and the priors/defaults of 62d8d53, e87b3c2:
re-measure and update MISSES after those). What held then is
asserted; every extrapolation split misses issue 14's bar (90% coverage in 0.85-0.95, 50% in
0.40-0.60, Bayesian median error no worse than the point fit's) and is a strict xfail with
its measured numbers: the law has no term for how its error grows beyond the fitted range.
"""

from __future__ import annotations

import numpy as np
import pytest

from bayes_atlas.calibration import suite

pytestmark = pytest.mark.slow

#: Measured 2026-11-30 (seed 0, suite defaults): why each extrapolation split misses the bar.
MISSES = {
    ("epoch", "top_compute"): "cov50 0.12, cov90 0.69, median error 0.8% (point 1.3%), n 49",
    ("epoch", "rolling_2x"): "cov50 0.20, cov90 0.90, median error 0.6% (point 1.2%), n 20",
    ("epoch", "rolling_4x"): "cov50 0.09, cov90 0.59, median error 1.0% (point 2.0%), n 22",
    ("epoch", "rolling_8x"): "cov50 0.14, cov90 0.43, median error 1.3% (point 2.4%), n 14",
    ("datablations", "top_compute"): "cov50 0.11, cov90 0.80, median error 6.1% (point 6.1%), n 94",
    ("datablations", "rolling_2x"): "cov50 0.16, cov90 0.81, median error 5.1% (point 4.8%), n 32",
    ("datablations", "rolling_4x"): "cov50 0.06, cov90 0.84, median error 6.5% (point 5.0%), n 50",
    ("datablations", "rolling_8x"): "cov50 0.05, cov90 0.44, median error 8.3% (point 6.4%), n 39",
    ("goldfish", "top_compute"): "cov50 0.04, cov90 0.18, median error 10.4% (point none), n 167",
    ("goldfish", "rolling_2x"): "cov50 0.12, cov90 0.38, median error 4.4% (point none), n 26",
    ("goldfish", "rolling_4x"): "cov50 0.09, cov90 0.27, median error 4.1% (point none), n 11",
    ("goldfish", "rolling_8x"): "cov50 0.11, cov90 0.27, median error 7.5% (point none), n 158",
    ("goldfish", "few_runs"): "cov50 0.35, cov90 0.57, median error 4.3% (point none), n 69",
    ("misfitting", "top_compute"): "cov50 0.47, cov90 0.94, median error 1.2% (point 0.4%), n 17",
    ("misfitting", "rolling_2x"): "cov50 0.25, cov90 0.75, median error 1.5% (point 1.2%), n 4",
    ("misfitting", "rolling_4x"): "cov50 0.43, cov90 0.71, median error 1.9% (point 1.5%), n 7",
    ("misfitting", "rolling_8x"): "cov50 0.83, cov90 1.00, median error 1.1% (point 0.8%), n 6",
    ("porian", "top_compute"): "cov50 0.17, cov90 0.64, median error 2.3% (point 2.5%), n 36",
    ("porian", "rolling_2x"): "cov50 0.43, cov90 1.00, median error 1.2% (point 1.4%), n 14",
    ("porian", "rolling_4x"): "cov50 0.00, cov90 0.83, median error 2.5% (point 2.7%), n 12",
    ("porian", "rolling_8x"): "cov50 0.00, cov90 0.00, median error 3.9% (point 4.3%), n 10",
}


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
    expected = set(MISSES) | {(t, "random") for t in ("epoch", "datablations", "goldfish", "misfitting", "porian")}
    assert pairs == expected
    assert (result.summary["n_test"] >= 4).all()


def test_random_splits_are_close_to_calibrated(result):
    # Measured: cov50 / cov90 epoch 0.43 / 0.84, datablations 0.52 / 0.87, goldfish 0.51 / 0.83,
    # misfitting 0.56 / 0.94, porian 0.34 / 0.77.
    random = result.summary[result.summary["split"] == "random"].set_index("table")
    assert (random["coverage90"] >= 0.75).all(), random
    assert (random["coverage50"] >= 0.3).all(), random
    with_point = random[random["n_point"] > 0]
    assert (with_point["median_abs_error"] <= 1.25 * with_point["point_median_abs_error"]).all(), with_point


def test_bayes_beats_the_point_fit_on_crps_where_measured(result):
    # The CRPS of the predictive distribution against the point fit's absolute error: lower on
    # every split but two of Li et al.'s (top_compute 0.88% vs 0.81%, rolling_8x 0.90% vs 0.85%).
    summary = result.summary[result.summary["n_point"] > 0]
    worse = summary[summary["crps_relative"] > summary["point_crps_relative"]]
    assert set(zip(worse["table"], worse["split"], strict=True)) <= {("misfitting", "top_compute"), ("misfitting", "rolling_8x")}


def test_point_fit_cannot_predict_goldfish(result):
    # 2-6 runs per language: the 5-parameter point fit needs more rows than parameters.
    goldfish = result.summary[result.summary["table"] == "goldfish"]
    assert (goldfish["n_point"] == 0).all()
    assert "goldfish/random" in result.settings["point_notes"]


def test_fits_converge_or_nearly(result):
    # Measured: max r_hat 1.002-1.056, at most 1 divergence; Goldfish and Porian (2 groups) hit
    # the maximum tree depth on most draws (issue 14, item 5).
    diagnostics = result.diagnostics
    assert (diagnostics["max_r_hat"] <= 1.06).all(), diagnostics
    assert (diagnostics["divergences"] <= 1).all(), diagnostics
    single = diagnostics[diagnostics["table"].isin(["epoch", "datablations"])]
    assert (single["max_r_hat"] <= 1.01).all() and (single["min_ess_bulk"] >= 400).all()


@pytest.mark.parametrize(
    ("table", "split"),
    [
        pytest.param(
            *key,
            marks=pytest.mark.xfail(strict=True, reason=f"known limitation (issue 14, no discrepancy term yet): {why}"),
        )
        for key, why in MISSES.items()
    ],
)
def test_extrapolation_split_meets_the_issue_bar(result, table, split):
    row = cell(result, table, split)
    print(f"\n{table}/{split}: {row.round(4).to_dict()}")
    assert 0.85 <= row["coverage90"] <= 0.95
    assert 0.40 <= row["coverage50"] <= 0.60
    if row["n_point"] > 0:
        assert row["median_abs_error"] <= row["point_median_abs_error"]
    assert np.isfinite(row["crps"])
