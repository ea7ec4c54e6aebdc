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
