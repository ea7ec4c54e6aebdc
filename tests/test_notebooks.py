"""Every notebook runs: with tiny draws in the default tier, at full size in the slow tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _run(path: Path, tiny: bool, timeout: int) -> None:
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), f"{path.name} is stored with outputs"
    env_before = os.environ.get("BAYES_ATLAS_TINY")
    os.environ["BAYES_ATLAS_TINY"] = "1" if tiny else "0"
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        NotebookClient(book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("BAYES_ATLAS_TINY", None)
        else:
            os.environ["BAYES_ATLAS_TINY"] = env_before


def test_there_are_six_stories():
    assert len(NOTEBOOKS) == 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_tiny_draws(path, mirror):
    _run(path, tiny=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_full_size(path, mirror):
    _run(path, tiny=False, timeout=3600)
