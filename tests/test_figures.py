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


def test_figures_command_never_replaces_a_users_file_without_force(tmp_path):
    mine = tmp_path / "transfer_heatmap.png"
    mine.write_bytes(b"my own heatmap")
    result = CliRunner().invoke(main, ["figures", "--out", str(tmp_path), "--permutations", "20", "--format", "png"])
    assert result.exit_code == 2 and "--force" in result.output, result.output
    assert mine.read_bytes() == b"my own heatmap"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["transfer_heatmap.png"]  # nothing written half-way


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


def test_tokens_per_param_figure_shows_the_default_beside_the_public_evidence():
    from bayes_atlas.figures import language_colour

    computes = np.array([1e19, 1e21, 1e23])
    fig = figures.tokens_per_param_plot(languages=("en", "sw"), computes=computes)
    ax = fig.axes[0]
    by_colour = {line.get_color(): line for line in ax.lines if line.get_linestyle() == "-"}
    epoch = [line for line in ax.lines if line.get_color() == "#333333" and line.get_linestyle() == "-"][0]
    # Epoch's fit at 1e19 and 1e21 (inside its runs): 24.9 and 20.9 tokens per parameter (data/public_compute_optima.csv).
    np.testing.assert_allclose(epoch.get_ydata(), [24.91, 20.86], rtol=0.01)
    # The default's English line lies in Epoch's interval; Swahili's bends below 10 by 1e21 (770M unique tokens).
    en = by_colour[language_colour("en")].get_ydata()
    assert 18.05 <= en[1] <= 24.15
    assert by_colour[language_colour("sw")].get_ydata()[1] < 10
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(label.startswith("ATLAS Table C.1 as decoded (112-202") for label in labels)
    # The pooled public corpora, for a corpus not among them: 21.0 [2.46, 248] at 1e19 and 10.5 [0.636, 218] at 1e21
    # (data/EVIDENCE.md section 7); dashed median first, then the band edges.
    pooled = [line for line in ax.lines if line.get_linestyle() == "--"]
    np.testing.assert_allclose([line.get_ydata()[:2] for line in pooled], [[21.0, 10.5], [2.46, 0.636], [248, 218]], rtol=0.02)
    import matplotlib.pyplot as plt

    plt.close(fig)
