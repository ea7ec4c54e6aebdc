"""Every notebook runs: with tiny draws in the default tier, at full size in the slow tier.

The default tier runs the seven notebooks in ONE kernel (its start, the imports of PyMC, JAX
and ArviZ and the shipped posteriors loaded by the decisions are paid once: about half of the
notebooks' time). Before each notebook the kernel's namespace is emptied (``%reset -f``), its
warning filters are put back as the kernel started with them and open figures are closed, so a
notebook that uses a name it does not define itself still fails; a kernel that a failed or
timed-out notebook leaves behind is restarted for the next one. The slow tier runs every
notebook in a kernel of its own, as a user does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

#: Run in the shared kernel before each notebook: an empty namespace, the kernel's first warning
#: filters (notebook 7 ignores every warning) and no figures left open.
RESET = """\
get_ipython().run_line_magic("reset", "-f")
import sys as _sys, warnings as _warnings
if not hasattr(_sys, "_notebook_tests_warning_filters"):
    _sys._notebook_tests_warning_filters = list(_warnings.filters)
_warnings.filters[:] = _sys._notebook_tests_warning_filters
_warnings._filters_mutated()
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
del _sys, _warnings
"""


def _kernel_env(tiny: bool) -> dict[str, str]:
    # As a user's Jupyter: no MPLBACKEND, so the kernel's inline backend shows the figures.
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    env["BAYES_ATLAS_TINY"] = "1" if tiny else "0"
    return env


def _read(path: Path):
    import nbformat

    book = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), f"{path.name} is stored with outputs"
    return book


def _run(path: Path, tiny: bool, timeout: int):
    """Execute the notebook at ``path`` in a fresh kernel of its own."""
    from nbclient import NotebookClient

    book = _read(path)
    client = NotebookClient(book, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=_kernel_env(tiny))
    return book


def _run_in(km, book, timeout: int):
    """Execute ``book`` in the running kernel of ``km`` (which stays up)."""
    from nbclient import NotebookClient

    client = NotebookClient(book, km=km, timeout=timeout, kernel_name="python3")
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
    return book


@pytest.fixture(scope="module")
def tiny_kernel(mirror):
    """One running kernel (tiny draws) for every notebook of the default tier."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    # As nbclient starts its own kernels: cwd the notebooks' folder, IPython history in memory.
    km.start_kernel(
        cwd=str(NOTEBOOKS[0].parent), env=_kernel_env(tiny=True), extra_arguments=["--HistoryManager.hist_file=:memory:"]
    )
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


def test_there_are_seven_stories():
    assert len(NOTEBOOKS) == 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_tiny_draws(path, tiny_kernel):
    import nbformat

    book = _read(path)
    try:
        _run_in(tiny_kernel, nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(RESET)]), timeout=60)
        _run_in(tiny_kernel, book, timeout=600)
    except BaseException:
        tiny_kernel.restart_kernel(now=True)  # the next notebook gets a working kernel
        raise
    # Every cell that draws a figure shows it (library code never switches the backend to Agg).
    for cell in book.cells:
        if cell.cell_type == "code" and ("figures." in cell.source or "_plot(" in cell.source):
            kinds = {key for output in cell.get("outputs", []) for key in output.get("data", {})}
            assert "image/png" in kinds, f"{path.name}: a figure cell shows no image:\n{cell.source[:200]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_full_size(path, mirror):
    _run(path, tiny=False, timeout=3600)
