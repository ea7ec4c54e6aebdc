"""The figures read as a reviewer would have them (issue #13): one colour per language, units on
every axis, every band named in a legend with its mass, honest colour scales, readable ticks,
labels that do not overlap, and progress while the whole set is drawn."""

from __future__ import annotations

import re
import zlib

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import FillBetweenPolyCollection, PolyCollection  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from bayes_atlas import figures  # noqa: E402
from bayes_atlas.transfer import load_default  # noqa: E402
from bayes_atlas.transfer_stats import script_family_tests  # noqa: E402

BLACK = (0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def transfer_fit():
    return load_default()


@pytest.fixture(scope="module")
def made(transfer_fit):
    """One small instance of each figure (fewer points than the defaults, same code paths)."""
    import matplotlib.pyplot as plt

    plt.close("all")  # other test modules leave figures open
    table = script_family_tests(fit=transfer_fit, n_permutations=20).comparison()
    out = {
        "transfer_heatmap": figures.transfer_heatmap(transfer_fit),
        "script_family": figures.script_family_plot(table),
        "transfer_asymmetry": figures.asymmetry_plot(transfer_fit),
        "compute_optimal": figures.compute_optimal_plot(languages=("en", "zh", "hi", "sw"), computes=np.geomspace(1e19, 1e23, 4)),
        "curse": figures.curse_plot(languages=("en", "zh", "hi", "sw"), mixture_sizes=(1, 4, 16)),
        "expansion": figures.expansion_plot(factors=(2, 4, 8)),
        "finetune": figures.finetune_plot("de", tokens=np.geomspace(2e9, 2e12, 12)),
        "crossover_compute": figures.crossover_compute_plot(languages=("en", "zh", "hi"), params=np.geomspace(3e8, 8e9, 6)),
    }
    for fig in out.values():
        fig.canvas.draw()
    yield out
    for fig in out.values():
        plt.close(fig)


def _rgb(colour) -> tuple[float, float, float]:
    return tuple(round(float(v), 3) for v in to_rgb(colour))


def _legends(fig):
    return [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)


def _legend_entries(fig) -> list[tuple[str, object]]:
    return [
        (text.get_text(), handle)
        for legend in _legends(fig)
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    ]


def _legend_text(fig) -> str:
    titles = [legend.get_title().get_text() for legend in _legends(fig)]
    return " | ".join(titles + [text for text, _ in _legend_entries(fig)])


def _colour_of(fig, code: str) -> tuple[float, float, float]:
    """The colour a figure gives language ``code``: its legend entry, else its panel title."""
    for text, handle in _legend_entries(fig):
        if text == code:
            return _rgb(handle.get_facecolor())
    for ax in fig.axes:
        if ax.get_title() == code:
            return _rgb(ax.title.get_color())
    raise AssertionError(f"{code} is not in the figure")


def test_one_colour_per_language_in_every_figure(made):
    for code in ("en", "zh", "hi", "sw"):
        seen = {
            name: _colour_of(made[name], code)
            for name in ("compute_optimal", "curse", "crossover_compute")
            if code != "sw" or name != "crossover_compute"
        }
        assert set(seen.values()) == {_rgb(figures.language_colour(code))}, (code, seen)
    # zh is not drawn black like the pooled fit, and its lines carry its own colour.
    zh_panel = next(ax for ax in made["crossover_compute"].axes if ax.get_title() == "zh")
    assert _rgb(zh_panel.title.get_color()) != BLACK
    assert _rgb(figures.language_colour("zh")) in {_rgb(line.get_color()) for line in zh_panel.lines}


def test_language_colours_are_distinct_stable_and_never_black():
    fixed = [_rgb(c) for c in figures.LANGUAGE_COLOURS.values()]
    assert len(set(fixed)) == len(fixed)
    assert BLACK not in fixed
    for code in ("yo", "eu", "quz", "ckb"):
        colour = figures.language_colour(code)
        assert colour == figures.EXTRA_COLOURS[zlib.crc32(code.encode()) % len(figures.EXTRA_COLOURS)]
        assert _rgb(colour) != BLACK and colour == figures.language_colour(code)


def _labelled(ax, which: str) -> bool:
    """The axis (x or y) of ``ax`` has a label, its own or that of an axes it is shared with."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    siblings = shared.get_siblings(ax)
    return any((s.get_xlabel() if which == "x" else s.get_ylabel()).strip() for s in siblings)


def test_every_axis_is_labelled_and_losses_carry_their_unit(made):
    for name, fig in made.items():
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            if ax.get_label() == "<colorbar>":
                assert ax.get_ylabel().strip(), f"{name}: colour bar without a label"
                continue
            assert _labelled(ax, "x") and _labelled(ax, "y"), f"{name}: an axis has no label"
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                if "loss" in label:
                    assert "nats/token" in label, f"{name}: loss axis without its unit: {label!r}"
    assert "nats/token" in made["curse"].axes[0].get_ylabel()
    assert "nats/token" in made["finetune"].axes[0].get_ylabel()


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, FillBetweenPolyCollection | PolyCollection)]


def test_every_band_is_in_a_legend_with_its_mass(made):
    for name in ("compute_optimal", "curse", "finetune", "crossover_compute"):
        fig = made[name]
        text = _legend_text(fig)
        assert "90%" in text and ("band" in text or "interval" in text), f"{name}: legend does not name the bands: {text}"
        legend_colours = {_rgb(handle.get_facecolor()) for _, handle in _legend_entries(fig) if hasattr(handle, "get_facecolor")}
        for ax in fig.axes:
            for band in _bands(ax):
                if band.get_facecolor().size == 0 or band.get_facecolor()[0][3] == 0:  # hatched, no fill: checked below
                    continue
                colour = _rgb(band.get_facecolor()[0][:3])
                panel = _rgb(ax.title.get_color()) == colour and "panel colour" in text
                assert colour in legend_colours or panel, f"{name}: a band of colour {colour} is in no legend"
    # The finetune crossover interval (a shaded span) is in the legend.
    finetune_text = _legend_text(made["finetune"])
    assert re.search(r"crossover 90% interval \[", finetune_text), finetune_text


def test_crossover_compute_has_bands_and_explains_a_line_that_stops(made):
    fig = made["crossover_compute"]
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert set(panels) == {"en", "zh", "hi"}
    for code, ax in panels.items():
        assert _bands(ax), f"{code}: no band"
        assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    # hi: the median crossover is "never" above ~2.4e9 parameters; the panel and legend say so.
    notes = " ".join(t.get_text() for t in panels["hi"].texts)
    assert "no crossover" in notes and "P(never)" in notes
    legend = _legend_text(fig)
    assert "line stops" in legend and "band open above" in legend and "pooled" in legend and "extrapolated" in legend
    assert not panels["en"].texts  # en always crosses over: no note


def test_expansion_ticks_read_as_plain_multipliers(made):
    ax = made["expansion"].axes[0]
    for axis in (ax.xaxis, ax.yaxis):
        labels = [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_text()]
        assert labels, "no tick labels"
        assert all(re.fullmatch(r"\d+(\.\d+)?x", label) for label in labels), labels


def test_heatmap_scale_is_symmetric_about_zero(made):
    norm = made["transfer_heatmap"].axes[0].images[0].norm
    assert norm.vmin == pytest.approx(-norm.vmax)
    assert norm(0.0) == pytest.approx(0.5)
    # +0.25 sits as far from white as -0.25, not as far as -1.5.
    assert abs(norm(0.25) - 0.5) == pytest.approx(abs(norm(-0.25) - 0.5))
    assert abs(norm(-1.5) - 0.5) > 4 * abs(norm(0.25) - 0.5)


def _inside(inner, outer, pad: float = 0.0) -> bool:
    return inner.x0 >= outer.x0 + pad and inner.x1 <= outer.x1 - pad and inner.y0 >= outer.y0 + pad and inner.y1 <= outer.y1 - pad


def test_script_family_says_the_tables_interval_mass_and_keeps_p_labels_inside(made, transfer_fit):
    fig = made["script_family"]
    assert "95% intervals" in fig._suptitle.get_text()  # comparison(): OLS at 95%, Bayesian rows at 95% by default
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        labels = [t for t in ax.texts if t.get_text().startswith(("p =", "P <"))]
        assert len(labels) == 5
        for text in labels:
            assert _inside(text.get_window_extent(renderer), frame, pad=1.0), f"p label {text.get_text()!r} touches the frame"
    table = script_family_tests(fit=transfer_fit, n_permutations=5, ci=0.9).comparison()
    table.attrs["ci"] = 0.9
    fig = figures.script_family_plot(table)
    assert "90% intervals" in fig._suptitle.get_text() and "95%" not in fig._suptitle.get_text()


def test_asymmetry_labels_do_not_overlap_and_name_a_and_b(made):
    fig = made["transfer_asymmetry"]
    ax = fig.axes[0]
    assert "BTS(a -> b)" in ax.get_xlabel() and "BTS(b -> a)" in ax.get_ylabel()
    assert "target b" in ax.get_xlabel() and "target a" in ax.get_ylabel()
    assert "labelled a->b" in _legend_text(fig)
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if "->" in t.get_text()]
    assert len(labels) == 8
    boxes = [t.get_window_extent(renderer) for t in labels]
    frame = ax.get_window_extent(renderer)
    for i, box in enumerate(boxes):
        assert _inside(box, frame), labels[i].get_text()
        for j in range(i):
            assert not box.overlaps(boxes[j]), f"{labels[i].get_text()} overlaps {labels[j].get_text()}"


def test_make_figures_reports_progress(tmp_path, transfer_fit):
    messages: list[str] = []
    made = figures.make_figures(transfer_fit, names=("curse", "expansion"), progress=messages.append)
    assert list(made) == ["curse", "expansion"]
    assert messages[0].startswith("[1/2] curse") and messages[1].startswith("[1/2] curse: done in")
    assert messages[2].startswith("[2/2] expansion") and re.search(r"done in \d+\.\d s$", messages[3])
    messages.clear()
    written = figures.write_figures(
        tmp_path, transfer_fit, names=("script_family",), permutations=5, formats=("png",), progress=messages.append
    )
    assert written == [tmp_path / "script_family.png"] and written[0].stat().st_size > 10_000
    assert "5 permutations" in messages[0] and messages[-1] == f"wrote {written[0]}"
    with pytest.raises(ValueError, match="unknown figure"):
        figures.make_figures(names=("fig9",))
    assert list(figures.FIGURES) == [
        "transfer_heatmap", "script_family", "transfer_asymmetry", "compute_optimal", "curse", "expansion", "finetune",
        "crossover_compute",
    ]  # fmt: skip
