"""Figures are produced from the shipped posterior and written as PNG and PDF."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from bayes_atlas import figures  # noqa: E402
from bayes_atlas.cli import main  # noqa: E402
from bayes_atlas.transfer import load_default  # noqa: E402
from bayes_atlas.transfer_stats import script_family_tests  # noqa: E402


@pytest.fixture(scope="module")
def fit():
    return load_default()


def test_heatmap_marks_uncertain_cells(fit):
    fig = figures.transfer_heatmap(fit)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("source") and ax.get_ylabel().startswith("target")
    image = ax.images[0].get_array()
    assert image.shape == (38, 38)
    marked = ax.collections[0].get_offsets()
    bts = fit.bts().values.reshape(-1, 38, 38)
    lower, upper = np.quantile(np.nan_to_num(bts), [0.05, 0.95], axis=0)
    expected = ((lower < 0) & (upper > 0) & ~np.eye(38, dtype=bool)).sum()
    assert len(marked) == expected > 0


def test_script_family_and_asymmetry_plots(fit):
    table = script_family_tests(fit=fit, n_permutations=20).comparison()
    fig = figures.script_family_plot(table)
    assert len(fig.axes) == 2
    fig = figures.asymmetry_plot(fit)
    assert "703 language pairs" in fig.axes[0].get_title()


def test_figures_command_writes_every_file(tmp_path):
    result = CliRunner().invoke(main, ["figures", "--out", str(tmp_path), "--permutations", "20"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    stems = (
        "transfer_heatmap", "script_family", "transfer_asymmetry", "compute_optimal", "curse", "expansion", "finetune",
        "crossover_compute",
    )  # fmt: skip
    expected = sorted(f"{stem}.{ext}" for stem in stems for ext in ("png", "pdf"))
    assert names == expected
    assert all((tmp_path / name).stat().st_size > 10_000 for name in names)


def test_law_figures_show_bands_and_label_the_emulation():
    fig = figures.compute_optimal_plot(languages=("en", "sw"), computes=np.geomspace(1e19, 1e23, 5))
    assert fig.axes[0].get_xlabel() == "training compute C (FLOPs)"
    assert len(fig.axes[0].collections) == 2  # one band per language
    assert any("EMULATION" in t.get_text() for t in fig.texts)
    fig = figures.expansion_plot(factors=(2, 4))
    assert "printed (ATLAS)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    fig = figures.finetune_plot("de")
    assert any("crossover" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    fig = figures.curse_plot(languages=("en",), mixture_sizes=(1, 4, 16))
    line = fig.axes[0].lines[0].get_ydata()
    assert line[-1] > line[0]  # sharing the model with more languages costs loss
    fig = figures.crossover_compute_plot(languages=("en", "de"))
    assert fig.axes[0].get_yscale() == "log"
