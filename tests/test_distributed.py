"""Many fits through Dask: a 2-worker LocalCluster gives the serial results, bit for bit."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from bayes_atlas.distributed import Task, run_tasks
from bayes_atlas.evaluation import evaluate

# One chain per fit: chains run the same way (no pmap) in this test process, whatever JAX
# device count other tests started it with, and in a worker.
TINY = {"draws": 40, "tune": 40, "chains": 1, "allow_failed": True}


@pytest.fixture(scope="module")
def table1_runs(study):
    runs, _ = study
    frame = runs.frame
    keep = frame["design"].isin(["monolingual", "unimax", "bilingual"]) & frame["language"].isin(["en", "fr", "sw"])
    return runs.subset(keep.to_numpy())


@pytest.fixture(scope="module")
def scheduler():
    """A running 2-worker cluster, as a user would start one (its address is what they pass)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
    with cluster:
        yield cluster.scheduler_address


def test_importing_the_module_imports_no_dask():
    import subprocess

    code = "import bayes_atlas.distributed, bayes_atlas.evaluation, bayes_atlas.cli, sys; print('distributed' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_run_tasks_checks_its_options():
    with pytest.raises(ValueError, match="not both"):
        run_tasks([], workers=2, scheduler="tcp://localhost:1")
    with pytest.raises(ValueError, match="positive integer"):
        run_tasks([], workers=0)
    assert run_tasks([Task(dict, {"a": 7}, jax_devices=0)]) == [{"a": 7}]


def test_evaluate_on_a_two_worker_local_cluster_equals_serial(table1_runs):
    kwargs = dict(laws=("csl", "atlas_dt", "msl"), splits=("N", "random"), languages=("en", "fr", "sw"), n_starts=2)
    serial = evaluate(table1_runs, **kwargs)
    parallel = evaluate(table1_runs, workers=2, **kwargs)
    assert len(serial) == 4 * 3 * 2
    pd.testing.assert_frame_equal(serial.drop(columns="seconds"), parallel.drop(columns="seconds"))


@pytest.mark.slow  # each Bayesian fit compiles afresh in a worker: 107-120 s on 2 cores (2026-12-01)
def test_bayesian_evaluate_on_a_running_cluster_equals_serial(table1_runs, scheduler):
    # One language (94 s for two on a faster machine); the point-fit cluster test stays in the fast tier.
    kwargs = dict(laws=("bayes_atlas", "csl"), splits=("N",), languages=("en",), n_starts=1, fit_kwargs=TINY)
    serial = evaluate(table1_runs, **kwargs)
    remote = evaluate(table1_runs, scheduler=scheduler, **kwargs)
    assert np.isfinite(serial["coverage90"]).any()
    pd.testing.assert_frame_equal(serial.drop(columns="seconds"), remote.drop(columns="seconds"))


@pytest.mark.slow  # two transfer fits per side: ~1.5 min on 2 cores
def test_transfer_leave_one_language_out_on_a_running_cluster_equals_serial(scheduler):
    from bayes_atlas.transfer_eval import evaluate_languages

    kwargs = dict(languages=["ca", "sw"], seed=3, draws=30, tune=30, chains=1)
    serial = evaluate_languages(**kwargs)
    remote = evaluate_languages(scheduler=scheduler, **kwargs)
    assert set(serial.predictions["fold"]) == {"ca", "sw"}
    pd.testing.assert_frame_equal(serial.predictions, remote.predictions)
    pd.testing.assert_frame_equal(serial.scores, remote.scores)


def test_calibration_suite_checks_its_names():
    from bayes_atlas.calibration import SUITE, run_suite

    assert set(SUITE) == {"epoch", "datablations", "goldfish"}
    with pytest.raises(ValueError, match="unknown calibration checks"):
        run_suite(("nope",))
    with pytest.raises(ValueError, match="not both"):
        run_suite(("epoch",), workers=2, scheduler="tcp://localhost:1")
