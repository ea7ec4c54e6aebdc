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

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("ci")


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
def project_root() -> Path:
    return REPO
