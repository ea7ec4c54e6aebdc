"""Where shipped data, shipped models and caches live (source checkout or installed wheel)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent


def _shipped(name: str) -> Path:
    # A wheel carries data/ and models/ inside the package (pyproject force-include);
    # an editable install or a source checkout reads them from the repository root.
    inside = _PACKAGE_DIR / "_shipped" / name
    return inside if inside.is_dir() else _REPO_ROOT / name


def data_dir() -> Path:
    """Directory holding the published ATLAS tables (``data/``)."""
    return _shipped("data")


def models_dir() -> Path:
    """Directory holding shipped posteriors (``models/``)."""
    return _shipped("models")


def cache_dir() -> Path:
    """Project-local cache directory (downloads, JAX compile cache).

    ``BAYES_ATLAS_CACHE`` overrides it; the default is ``.cache`` in a source checkout,
    else pooch's per-user cache.
    """
    env = os.environ.get("BAYES_ATLAS_CACHE")
    if env:
        return Path(env)
    if (_REPO_ROOT / "pyproject.toml").is_file():
        return _REPO_ROOT / ".cache"
    import pooch

    return Path(pooch.os_cache("bayes_atlas"))
