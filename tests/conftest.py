"""Test configuration: point dataset loaders at the local mirror, keep caches in the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
MIRROR = (REPO.parent / "shared" / "external").resolve()

os.environ.setdefault("BAYES_ATLAS_DATA_MIRROR", str(MIRROR))
os.environ.setdefault("BAYES_ATLAS_CACHE", str(REPO / ".cache"))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(REPO / ".cache" / "jax"))
if "PYTEST_XDIST_WORKER" in os.environ:
    # One compile cache per pytest-xdist worker: without a size limit JAX writes cache entries
    # unlocked, so a worker could read the other's half-written entry.
    os.environ["JAX_COMPILATION_CACHE_DIR"] += f"-{os.environ['PYTEST_XDIST_WORKER']}"

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("ci")

#: Test files that share conftest's session fits: one pytest-xdist group, so the fits are made
#: once (``make test`` runs ``--dist loadgroup``; apart, test_datatree and test_law_contract
#: fitted them again in the other worker: 70 s).
SHARED_FIT_FILES = ("test_scaling.py", "test_datatree.py", "test_law_contract.py")
#: The longest groups (seconds on 2 cores, 2026-12-02), handed out first so that no worker starts
#: a long file as the other finishes (xdist's default order is by number of tests: the notebooks,
#: 8 tests and 220 s, went last).
LONGEST_FIRST = (
    "fits", "test_notebooks.py", "test_transfer.py", "test_decisions.py", "test_fit_failures.py",
    "test_figures.py", "test_evaluation.py", "test_transfer_stats.py", "test_distributed.py",
)  # fmt: skip


def _group(item: pytest.Item) -> str:
    return "fits" if item.path.name in SHARED_FIT_FILES else item.path.name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:  # noqa: ARG001
    """One xdist group per test file (the shared-fit files together), longest groups first."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: file order kept within a group


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not MIRROR.is_dir():
        pytest.skip(f"no local mirror of the public run tables at {MIRROR}")
    return MIRROR


@pytest.fixture(scope="session")
def study():
    from bayes_atlas.simulate import atlas_study

    return atlas_study(seed=1)


@pytest.fixture(scope="session")
def mono_runs(study):
    """The emulated study's monolingual runs of en, fr and sw (the law tests' small table)."""
    runs, _ = study
    keep = (runs.frame["design"] == "monolingual") & runs.frame["language"].isin(["en", "fr", "sw"])
    return runs.subset(keep.to_numpy())


@pytest.fixture(scope="session")
def small_chinchilla_fit(mono_runs):
    """A short chinchilla fit of ``mono_runs`` (test_scaling, test_datatree). Read-only."""
    import bayes_atlas

    return bayes_atlas.fit(
        mono_runs, law="chinchilla", draws=200, tune=300, chains=2, random_seed=1, progressbar=False, warn=False
    )


@pytest.fixture(scope="session")
def dcsl_smoke_fit(mono_runs):
    """A smoke dcsl fit of ``mono_runs`` (test_scaling, test_datatree). Read-only.

    120 draws: sw's repeated-data rows make a and alpha mix slowly (r_hat ~1.9 measured at
    this size), so it is allowed to fail; whoever saves it accepts that on a copy.
    """
    import bayes_atlas

    return bayes_atlas.fit(
        mono_runs, law="dcsl", draws=120, tune=200, chains=2, random_seed=7, progressbar=False, warn=False, allow_failed=True
    )


@pytest.fixture(scope="session")
def per_sequence_fit(mono_runs):
    """``mono_runs`` with per-sequence losses at very different scales per language (bits per
    sequence: en x40, fr x90, sw x150) and a short chinchilla fit of them, shared by
    test_scaling and test_law_contract (one fit instead of two). Returns ``(frame, runs, fit)``:
    the user's frame, its RunTable and the fit. Read-only: tests must not change them."""
    import bayes_atlas
    from bayes_atlas.runs import RunTable

    frame = mono_runs.frame.copy()
    frame["loss"] = frame["loss"] * frame["language"].map({"en": 40.0, "fr": 90.0, "sw": 150.0})
    runs = RunTable.from_frame(frame, loss_unit="bits/sequence")
    fit = bayes_atlas.fit(runs, law="chinchilla", draws=150, tune=200, chains=2, random_seed=5, progressbar=False, warn=False)
    return frame, runs, fit


@pytest.fixture(scope="session")
def project_root() -> Path:
    return REPO


@pytest.fixture(scope="module")
def batched_sbc():
    """``benchmarks/batched_sbc.py`` as a module (the SBC tests' batched sampler), JAX in float64."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("batched_sbc", REPO / "benchmarks" / "batched_sbc.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("batched_sbc", module)  # dataclasses look their module up while defining
    spec.loader.exec_module(sys.modules["batched_sbc"])
    module = sys.modules["batched_sbc"]
    from bayes_atlas.inference import configure_jax

    configure_jax(1)  # float64 (the device count is moot: the batch is one program)
    return module
