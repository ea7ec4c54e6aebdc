"""Every notebook runs: with tiny draws in the default tier, at full size in the slow tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def _run(path: Path, tiny: bool, timeout: int):
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), f"{path.name} is stored with outputs"
    env_before = {name: os.environ.get(name) for name in ("BAYES_ATLAS_TINY", "MPLBACKEND")}
    os.environ["BAYES_ATLAS_TINY"] = "1" if tiny else "0"
    # As a user's Jupyter: no MPLBACKEND, so the kernel's inline backend shows the figures.
    os.environ.pop("MPLBACKEND", None)
    try:
        NotebookClient(book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for name, value in env_before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return book


def test_there_are_seven_stories():
    assert len(NOTEBOOKS) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_tiny_draws(path, mirror):
    book = _run(path, tiny=True, timeout=600)
    # Every cell that draws a figure shows it (library code never switches the backend to Agg).
    for cell in book.cells:
        if cell.cell_type == "code" and ("figures." in cell.source or "_plot(" in cell.source):
            kinds = {key for output in cell.get("outputs", []) for key in output.get("data", {})}
            assert "image/png" in kinds, f"{path.name}: a figure cell shows no image:\n{cell.source[:200]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_full_size(path, mirror):
    _run(path, tiny=False, timeout=3600)
