"""Figures with posterior uncertainty: the counterparts of the ATLAS figures.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes PNG
and PDF atomically, :func:`make_figures` / :func:`write_figures` make the study's whole set
(with a ``progress`` callback: the script/family permutation test takes most of the time).

Conventions shared by every figure:

- one fixed colour per language (:func:`language_colour`, :data:`LANGUAGE_COLOURS`: the
  Okabe-Ito colours for the six languages of ATLAS Fig. 1, Paul Tol's colour-blind safe
  colours for the rest); black is kept for pooled fits and references;
- every axis is labelled with its unit (losses in the posterior's ``loss_unit``,
  ``nats/token`` for the shipped ones);
- every band and interval is named in a legend with its mass (90% unless said otherwise);
- signed transfer uses the diverging ``RdBu`` map on a symmetric scale (white = 0).

Examples
--------
>>> from bayes_atlas.transfer import load_default
>>> fig = transfer_heatmap(load_default())
>>> fig.axes[0].get_ylabel()
'target language (trained on)'
>>> language_colour("en") == LANGUAGE_COLOURS["en"]
True
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayes_atlas import defaults
from bayes_atlas._io import write_atomically

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayes_atlas.transfer import TransferFit

__all__ = [
    "EXTRA_COLOURS",
    "FIGURES",
    "LANGUAGE_COLOURS",
    "OKABE_ITO",
    "asymmetry_plot",
    "calibration_plot",
    "compute_optimal_plot",
    "crossover_compute_plot",
    "curse_plot",
    "expansion_plot",
    "finetune_plot",
    "iter_figures",
    "language_colour",
    "make_figures",
    "save_figure",
    "script_family_plot",
    "transfer_heatmap",
    "write_figures",
]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

#: Colour-blind safe colours beyond Okabe-Ito (Paul Tol's "muted" set plus two), for languages
#: without a fixed entry in :data:`LANGUAGE_COLOURS`. No black and no pale yellow: black marks
#: pooled fits and references, yellow is unreadable on white.
EXTRA_COLOURS = (
    "#332288", "#117733", "#44AA99", "#88CCEE", "#DDCC77", "#CC6677", "#AA4499", "#882255", "#999933",
    "#661100", "#6699CC", "#888888",
)  # fmt: skip

#: The fixed colour of each language in every figure. The six languages of ATLAS Fig. 1 take
#: the Okabe-Ito colours; the other finetune/crossover languages take Tol colours. Any other
#: code gets a stable colour from :data:`EXTRA_COLOURS` (see :func:`language_colour`).
LANGUAGE_COLOURS: dict[str, str] = {
    "en": OKABE_ITO[0],
    "fr": OKABE_ITO[1],
    "ru": OKABE_ITO[2],
    "zh": OKABE_ITO[3],
    "hi": OKABE_ITO[4],
    "sw": OKABE_ITO[5],
    "de": "#882255",
    "es": "#332288",
    "pt": "#117733",
    "vi": "#999933",
    "ja": "#AA4499",
    "ca": "#44AA99",
}

#: Colour of pooled fits (all languages together) and of the paper's printed values.
POOLED_COLOUR = "#000000"
PRINTED_COLOUR = "#555555"


def language_colour(code: str) -> str:
    """The colour of language ``code`` in every figure (a hex string).

    Fixed for the languages in :data:`LANGUAGE_COLOURS`; any other code gets a colour from
    :data:`EXTRA_COLOURS` chosen by a checksum of the code, so it is the same in every figure,
    session and machine.
    """
    fixed = LANGUAGE_COLOURS.get(code)
    if fixed is not None:
        return fixed
    return EXTRA_COLOURS[zlib.crc32(code.encode("utf-8")) % len(EXTRA_COLOURS)]


def _pyplot():
    # Never choose a backend here: that is the user's (Jupyter's inline backend shows the
    # figures; matplotlib itself falls back to Agg where there is no display).
    import matplotlib.pyplot as plt

    return plt


def _loss_unit(fit: object) -> str:
    return str(getattr(fit, "meta", {}).get("loss_unit") or "nats/token")


def save_figure(fig: Figure, path: str | Path, formats: Sequence[str] = ("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats`` (atomically); return the paths."""
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in formats else stem
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        written.append(write_atomically(target, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")))
    return written


# -- the transfer figures (ATLAS Figs. 2-3), from the transfer posterior ---------------------


def transfer_heatmap(fit: TransferFit, *, ci: float = defaults.CI, title: str | None = None) -> Figure:
    """Posterior mean BTS(source -> target), rows = target as in ATLAS Fig. 2.

    The colour scale is symmetric about 0 (``vmin = -vmax``), so equal colour strength means
    equal |BTS| on either side: weak help (+0.25) looks as weak as weak interference (-0.25),
    not as strong as -1.5. Cells whose ``ci`` credible interval contains 0 are marked with a
    dot: the data cannot tell whether the source helps or hurts that target.
    """
    from matplotlib.colors import Normalize

    plt = _pyplot()
    bts = fit.bts()
    draws = bts.values.reshape(-1, *bts.shape[2:])
    off_diagonal = ~np.eye(draws.shape[1], dtype=bool)
    mean = np.where(off_diagonal, draws.mean(axis=0), np.nan)
    lower, upper = np.quantile(np.nan_to_num(draws), [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    uncertain = (lower < 0) & (upper > 0) & off_diagonal
    codes = list(fit.languages)
    n = len(codes)
    size = max(6.0, 0.22 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    # A symmetric scale keeps zero honest: white is 0 and a colour's strength is |BTS| on
    # either side (help stays below ~0.5 while interference reaches ~-1.5, and shows so).
    limit = max(float(np.nanmax(np.abs(mean))), 0.05)
    image = ax.imshow(mean, cmap="RdBu", norm=Normalize(vmin=-limit, vmax=limit), interpolation="nearest")
    t, s = np.nonzero(uncertain)
    ax.scatter(s, t, s=4, c="black", marker="o", linewidths=0, label=f"{ci:.0%} interval contains 0 (sign not known)")
    ax.set_xticks(range(n), codes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), codes, fontsize=7)
    ax.set_xlabel("source language (helper)")
    ax.set_ylabel("target language (trained on)")
    ax.set_title(title or f"Posterior mean bilingual transfer score BTS(source -> target), {fit.n_draws} draws")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("posterior mean BTS (> 0 helps, < 0 interferes; symmetric scale)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False, fontsize=8)
    return fig


def script_family_plot(table: pd.DataFrame, *, ci: float | None = None, title: str | None = None) -> Figure:
    """Estimates and intervals of the same-script / same-family effects, one row per method.

    Parameters
    ----------
    table
        :meth:`bayes_atlas.transfer_stats.ScriptFamilyTests.comparison` output (index method, term;
        columns ``estimate``, ``lower``, ``upper``, ``p_value``).
    ci
        The mass of the table's intervals, as printed on the figure. The figure draws the
        intervals the table has and never recomputes them: ``table.attrs["ci"]`` when the
        table records it, else this argument, else 0.95 (``comparison()`` gives the OLS
        models' 95% confidence intervals, and :func:`~bayes_atlas.transfer_stats.script_family_tests`
        gives the Bayesian rows at 95% by default to line up with them).
    """
    plt = _pyplot()
    mass = float(table.attrs.get("ci") or ci or 0.95)
    terms = list(dict.fromkeys(table.index.get_level_values("term")))
    methods = list(dict.fromkeys(table.index.get_level_values("method")))
    fig, axes = plt.subplots(1, len(terms), figsize=(5.2 * len(terms), 0.6 * len(methods) + 1.9), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, term in zip(axes, terms, strict=True):
        for row, method in enumerate(methods):
            if (method, term) not in table.index:
                continue
            entry = table.loc[(method, term)]
            colour = OKABE_ITO[row % len(OKABE_ITO)]
            if np.isfinite(entry["lower"]):
                ax.plot([entry["lower"], entry["upper"]], [row, row], color=colour, lw=2)
            ax.plot(entry["estimate"], row, "o", color=colour)
            p_value = entry["p_value"]
            floor = 1.0 / table.attrs.get("n_draws", np.inf) if method.startswith("bayes") else 0.0
            text = f"P < {floor:.1g}" if p_value < floor else f"p = {p_value:.2g}"
            ax.annotate(
                text, (entry["estimate"], row), textcoords="offset points", xytext=(0, 6), ha="center", va="bottom", fontsize=7
            )
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_title(term.replace("_", " "))
        ax.set_xlabel("shift in BTS (coefficient)")
        # Room above the first row for its p label: it must not touch the frame.
        ax.set_ylim(len(methods) - 0.4, -0.9)
        ax.margins(x=0.08)
    axes[0].set_yticks(range(len(methods)), [m.replace("_", " ") for m in methods], fontsize=8)
    axes[0].set_ylabel("test")
    fig.suptitle(
        title
        or f"Same script / same family: estimates with {mass:.0%} intervals (OLS: confidence; Bayesian: credible)\n"
        "(permutation: point and p only; Bayesian p = two-sided posterior tail probability)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _place_labels(ax: Axes, points: Sequence[tuple[float, float]], texts: Sequence[str], fontsize: float = 7) -> None:
    """Annotate ``points`` with ``texts`` so that no two labels overlap (greedy, with leader lines).

    Call after the axes limits and the layout are final: positions are worked out in display
    units. Each label tries offsets at growing distances in eight directions and takes the
    first whose box stays inside the axes and clear of the labels already placed.
    """
    fig = ax.figure
    scale = fig.dpi / 72.0  # points -> pixels
    frame = ax.get_window_extent()
    placed: list[tuple[float, float, float, float]] = []
    legend = ax.get_legend()
    if legend is not None:
        try:  # keep labels off the legend (where the canvas can measure it)
            box = legend.get_window_extent(fig.canvas.get_renderer())
            placed.append((box.x0, box.y0, box.x1, box.y1))
        except (AttributeError, TypeError):
            pass
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    for (x, y), text in zip(points, texts, strict=True):
        px, py = ax.transData.transform((x, y))
        width, height = (0.62 * fontsize * len(text) + 3) * scale, 1.35 * fontsize * scale
        choice = None
        for radius in (5, 12, 20, 30, 42, 56, 72, 90):
            for ux, uy in directions:
                dx, dy = ux * radius * scale, uy * radius * scale
                x0 = px + dx if ux > 0 else px + dx - width if ux < 0 else px - width / 2
                y0 = py + dy if uy > 0 else py + dy - height if uy < 0 else py - height / 2
                box = (x0, y0, x0 + width, y0 + height)
                inside = frame.x0 + 2 <= box[0] and box[2] <= frame.x1 - 2 and frame.y0 + 2 <= box[1] and box[3] <= frame.y1 - 2
                clear = all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in placed)
                if inside and clear:
                    choice = (ux, uy, radius, box)
                    break
            if choice is not None:
                break
        if choice is None:  # nowhere free: put it on the point rather than drop it
            choice = (1, 1, 5, (px, py, px + width, py + height))
        ux, uy, radius, box = choice
        placed.append(box)
        ax.annotate(
            text,
            (x, y),
            xytext=(ux * radius, uy * radius),
            textcoords="offset points",
            ha="left" if ux > 0 else "right" if ux < 0 else "center",
            va="bottom" if uy > 0 else "top" if uy < 0 else "center",
            fontsize=fontsize,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            arrowprops={"arrowstyle": "-", "color": "#000000", "lw": 0.7, "shrinkA": 0, "shrinkB": 3} if radius > 5 else None,
            zorder=6,
        )


def asymmetry_plot(fit: TransferFit, *, ci: float = defaults.CI, label_top: int = 8, title: str | None = None) -> Figure:
    """BTS(a -> b) against BTS(b -> a) for every pair, with intervals.

    Pairs whose two directions differ with posterior probability above ``ci`` are coloured
    (mostly because one language is much harder to help as a target than the other). The
    ``label_top`` pairs with the largest pair-specific asymmetry (the model's asymmetric
    pair effect, beyond the two languages' target and source effects) are labelled ``a->b``:
    the point's x is BTS(a -> b) (a's data helping target b), its y BTS(b -> a).
    """
    plt = _pyplot()
    bts = fit.bts()
    values = bts.values.reshape(-1, *bts.shape[2:])
    n = len(fit.languages)
    first, second = np.triu_indices(n, k=1)
    forward = values[:, second, first]  # BTS(a -> b): target b, source a
    backward = values[:, first, second]  # BTS(b -> a)
    q = [(1 - ci) / 2, 0.5, (1 + ci) / 2]
    fq = np.quantile(forward, q, axis=0)
    bq = np.quantile(backward, q, axis=0)
    p_forward_larger = (forward > backward).mean(axis=0)
    asymmetric = (p_forward_larger > ci) | (p_forward_larger < 1 - ci)
    fig, ax = plt.subplots(figsize=(6.8, 6.6))
    for mask, colour, label in (
        (~asymmetric, "#999999", "directions not distinguishable"),
        (asymmetric, OKABE_ITO[5], f"P(one direction larger) > {ci:.0%}"),
    ):
        ax.errorbar(
            fq[1, mask],
            bq[1, mask],
            xerr=[fq[1, mask] - fq[0, mask], fq[2, mask] - fq[1, mask]],
            yerr=[bq[1, mask] - bq[0, mask], bq[2, mask] - bq[1, mask]],
            fmt="o",
            ms=2.5,
            color=colour,
            ecolor=colour,
            elinewidth=0.4,
            alpha=0.6,
            label=f"{label} ({int(mask.sum())})",
        )
    low = float(min(fq[0].min(), bq[0].min()))
    high = float(max(fq[2].max(), bq[2].max()))
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="symmetric: BTS(a -> b) = BTS(b -> a)")
    pair_asymmetry = fit.posterior["asymmetric"].values.reshape(-1, first.size)
    strength = np.abs(pair_asymmetry.mean(axis=0)) / pair_asymmetry.std(axis=0)
    top = np.argsort(-strength)[:label_top]
    if top.size:
        ax.scatter(fq[1, top], bq[1, top], s=36, facecolors="none", edgecolors="#000000", linewidths=0.9, zorder=5,
                   label=f"labelled a->b: the {top.size} pairs with the strongest pair-specific asymmetry")  # fmt: skip
    ax.set_xlabel(f"BTS(a -> b): a's data helping target b (posterior median, {ci:.0%} interval)")
    ax.set_ylabel(f"BTS(b -> a): b's data helping target a (posterior median, {ci:.0%} interval)")
    ax.set_title(title or f"Transfer asymmetry: {n * (n - 1) // 2} language pairs, {ci:.0%} intervals", fontsize=10)
    ax.legend(fontsize=7.5, loc="lower left")
    pad = 0.04 * (high - low)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(low - pad, high + pad)
    fig.tight_layout()
    points = [(fq[1, i], bq[1, i]) for i in top]
    texts = [f"{fit.languages[first[i]]}->{fit.languages[second[i]]}" for i in top]
    _place_labels(ax, points, texts)
    return fig


# -- the law figures (ATLAS Figs. 1, 4-7), from the decision posteriors ------------------------

EMULATION_NOTE = "EMULATION: posterior fitted to simulated runs of the ATLAS design"

Handle = Any  # a matplotlib artist, or a tuple of artists drawn on top of each other in a legend


def _band(ax: Axes, x: np.ndarray, draws: np.ndarray, color: str, ci: float) -> Handle:
    """Median line and ``ci`` band of ``draws`` (draws, x); return the legend handle of both."""
    lower, median, upper = np.nanquantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
    band = ax.fill_between(x, lower, upper, color=color, alpha=0.25, linewidth=0)
    (median_line,) = ax.plot(x, median, color=color, linewidth=1.6)
    return (band, median_line)


def _emulation_footer(fig: Figure, fits: Sequence[object]) -> None:
    if any(getattr(f, "meta", {}).get("emulated") for f in fits):
        fig.text(0.99, 0.005, EMULATION_NOTE, ha="right", va="bottom", fontsize=7, color="#555555")


def _finish(
    fig: Figure, ax: Axes, heading: str, fits: Sequence[object], entries: Sequence[tuple[Handle, str]], **legend: Any
) -> Figure:
    """Title, legend (of ``entries``: handle, label), grid and emulation footer of the law figures."""
    ax.set_title(heading, fontsize=10)
    handles, labels = zip(*entries, strict=True) if entries else ((), ())
    ax.legend(list(handles), list(labels), **{"fontsize": 8, "frameon": False, "alignment": "left", **legend})
    ax.grid(True, which="both", alpha=0.3)
    _emulation_footer(fig, fits)
    fig.tight_layout()
    return fig


def _plain_log_ticks(axis: Any, low: float, high: float, suffix: str = "") -> None:
    """Readable ticks on a log axis spanning [low, high]: ``1.2x`` rather than ``1.2 x 10^0``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    nice = np.array([1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.8, 2, 2.5, 3, 4, 5, 6, 8])
    candidates = np.concatenate([nice * 10.0**e for e in range(-2, 4)])
    inside = candidates[(candidates >= low) & (candidates <= high)]
    # Keep ticks at least 1/7 of the axis apart in log space, so their labels never touch.
    gap = np.log10(high / low) / 7
    ticks: list[float] = []
    for value in inside:
        if not ticks or np.log10(value / ticks[-1]) >= gap:
            ticks.append(float(value))
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}{suffix}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def compute_optimal_plot(
    languages: Sequence[str] = ("en", "fr", "ru", "zh", "hi", "sw"),
    computes: np.ndarray | None = None,
    *,
    ci: float = defaults.CI,
    posterior: object = None,
) -> Figure:
    """Compute-optimal model size and tokens against compute per language (ATLAS Fig. 1).

    Median and ``ci`` band of the per-draw compute optimum
    (:func:`bayes_atlas.decisions.optimum.compute_optimum`, published unique-token counts, so
    sw and hi bend toward parameters once data repeat).
    """
    from bayes_atlas.decisions.caveats import unique_tokens_for
    from bayes_atlas.decisions.optimum import Mixture, compute_optimum
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    law = resolve("law", posterior)
    computes = np.geomspace(1e18, 1e24, 13) if computes is None else np.asarray(computes, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharex=True)
    entries = []
    for code in languages:
        color = language_colour(code)
        mixture = Mixture(code, (), unique_tokens_for([code], None), np.zeros((law.n_draws, 0)))
        optimum = compute_optimum(law, mixture, computes[:, None])
        for ax, values in zip(axes, (optimum.params, optimum.tokens), strict=True):
            handle = _band(ax, computes, values.T, color, ci)
        entries.append((handle, code))
    labels = ("compute-optimal model size N* (parameters)", "compute-optimal training tokens D* (tokens)")
    for ax, label in zip(axes, labels, strict=True):
        ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel=label)
        ax.grid(True, which="major", alpha=0.3)
    handles, names = zip(*entries, strict=True)
    axes[0].legend(
        list(handles),
        list(names),
        title=f"target: median, {ci:.0%} band",
        title_fontsize=8,
        fontsize=8,
        frameon=False,
        alignment="left",
    )
    fig.suptitle(f"Compute-optimal allocation per language (median, {ci:.0%} band)")
    _emulation_footer(fig, [law])
    fig.tight_layout()
    return fig


def curse_plot(
    languages: Sequence[str] = ("en", "fr", "zh", "hi", "sw"),
    mixture_sizes: Sequence[int] = (1, 2, 4, 8, 16, 24, 32, 50),
    *,
    params: float = 2.03e9,
    total_tokens: float = 8.12e10,
    ci: float = defaults.CI,
    posterior: object = None,
) -> Figure:
    """Loss of a language against the number of languages K it shares a model with (ATLAS Fig. 4).

    Fixed model size and total tokens, K languages sampled uniformly (each gets
    ``total_tokens / K``, unique data unlimited), from the curse-law posterior
    (the curse law's mean per draw).
    """
    from matplotlib.ticker import NullLocator

    from bayes_atlas.laws import Design
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("curse", posterior)
    K = np.asarray(mixture_sizes, dtype=float)[:, None]  # against draws
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    entries = []
    for code in languages:
        design = Design.of_run(params=params, tokens=total_tokens / K, mixture_size=K)
        loss = np.exp(fit.mean_log_loss(design, fit.language_parameters(code, 0)))
        entries.append((_band(ax, K[:, 0], loss.T, language_colour(code), ci), code))
    ax.set(
        xscale="log",
        xlabel="languages in the mixture K (uniform sampling)",
        ylabel=f"loss on the language ({_loss_unit(fit)})",
    )
    ax.set_xticks(K[:, 0], [str(int(k)) for k in K[:, 0]])
    ax.xaxis.set_minor_locator(NullLocator())
    return _finish(
        fig,
        ax,
        f"Curse of multilinguality at N = {params:.3g}, D_tot = {total_tokens:.3g} ({ci:.0%} band)",
        [fit],
        entries,
        title=f"language: median, {ci:.0%} band",
        title_fontsize=8,
    )


def expansion_plot(factors: Sequence[float] = (2, 4, 8, 16), *, ci: float = defaults.CI, posterior: object = None) -> Figure:
    """Iso-loss expansion K -> rK: N multiplier against D_tot multiplier (ATLAS Fig. 5), with the printed table."""
    from matplotlib.lines import Line2D

    from bayes_atlas.decisions import expand_languages
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.6))
    entries: list[tuple[Handle, str]] = []
    xs: list[float] = []
    ys: list[float] = []
    colours = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
    for color, r in zip(colours * 4, factors, strict=False):
        table = expand_languages(r, ci=ci, posterior=posterior).summary()
        n, d = table.loc["N"], table.loc["D_total"]
        handle = ax.errorbar(
            d["median"], n["median"], xerr=[[d["median"] - d["lower"]], [d["upper"] - d["median"]]],
            yerr=[[n["median"] - n["lower"]], [n["upper"] - n["median"]]], fmt="o", color=color, capsize=3,
        )  # fmt: skip
        entries.append((handle, f"{r:g}K: C x{table.loc['C', 'median']:.2f}"))
        xs += [d["lower"], d["upper"]]
        ys += [n["lower"], n["upper"]]
        if np.isfinite(d["printed"]):
            ax.plot(d["printed"], n["printed"], marker="x", color="#000000", markersize=7, linestyle="none")
            xs.append(d["printed"])
            ys.append(n["printed"])
    entries.append((Line2D([], [], marker="x", color="#000000", linestyle="none"), "printed (ATLAS)"))
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="total data multiplier D_tot' / D_tot (x)",
        ylabel="model size multiplier N' / N (x)",
    )
    x_low, x_high, y_low, y_high = min(xs) / 1.08, max(xs) * 1.08, min(ys) / 1.04, max(ys) * 1.04
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    _plain_log_ticks(ax.xaxis, x_low, x_high, "x")
    _plain_log_ticks(ax.yaxis, y_low, y_high, "x")
    return _finish(
        fig,
        ax,
        f"Growing K to rK languages at equal loss ({ci:.0%} intervals)",
        [resolve("curse", posterior)],
        entries,
        title=f"K -> rK languages: median, {ci:.0%} interval\n(C x: the compute multiplier)",
        title_fontsize=8,
        loc="upper left",
    )


def finetune_plot(
    language: str = "de",
    *,
    params: float = 2e9,
    tokens: np.ndarray | None = None,
    ci: float = defaults.CI,
    posterior: object = None,
) -> Figure:
    """From-scratch vs finetuned loss against training tokens, with the crossover (ATLAS Fig. 6)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from bayes_atlas.decisions import crossover
    from bayes_atlas.decisions.finetune import FinetuneLaw
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("finetune", posterior)
    tokens = np.geomspace(2e9, 2e12, 50) if tokens is None else np.asarray(tokens, dtype=float)
    scratch, finetuned = (v.T for v in FinetuneLaw(fit, language).losses(params, tokens[:, None]))
    fig, ax = plt.subplots(figsize=(6.4, 4.5))
    entries = [
        (_band(ax, tokens, scratch, OKABE_ITO[0], ci), f"pretrain from scratch (median, {ci:.0%} band)"),
        (_band(ax, tokens, finetuned, OKABE_ITO[1], ci), f"finetune a Unimax checkpoint (median, {ci:.0%} band)"),
    ]
    row = crossover(language, params, ci=ci, posterior=fit).iloc[0]
    median, lower, upper, p_never = row["tokens_median"], row["tokens_lower"], row["tokens_upper"], row["p_never"]
    if np.isfinite(lower):
        open_above = not np.isfinite(upper) or upper > tokens[-1]
        ax.axvspan(lower, min(upper, tokens[-1]) if np.isfinite(upper) else tokens[-1], color="#999999", alpha=0.18, linewidth=0)
        label = f"crossover {ci:.0%} interval [{lower:.3g}, " + (f"{upper:.3g}]" if np.isfinite(upper) else "never]")
        if open_above:
            label += f" (open above: P(never) = {p_never:.2f})"
        entries.append((Patch(color="#999999", alpha=0.18, linewidth=0), label))
    if np.isfinite(median):
        ax.axvline(median, color="#000000", linestyle="--", linewidth=1)
        entries.append((Line2D([], [], color="#000000", linestyle="--", linewidth=1), f"crossover median {median:.3g} tokens"))
    else:
        entries.append((Line2D([], [], linestyle="none"), f"no crossover in the median: P(never) = {p_never:.2f}"))
    ax.set(
        xscale="log",
        xlabel="training tokens of the target language (tokens)",
        ylabel=f"loss on {language} ({_loss_unit(fit)})",
    )
    return _finish(fig, ax, f"Pretrain vs finetune, {language}, N = {params:.3g} ({ci:.0%} bands)", [fit], entries)


def crossover_compute_plot(
    languages: Sequence[str] | None = None,
    params: np.ndarray | None = None,
    *,
    ci: float = defaults.CI,
    posterior: object = None,
    ncols: int = 5,
) -> Figure:
    """Crossover compute against model size, one panel per language (ATLAS Fig. 7), with bands.

    Each panel shows the language's median crossover compute and its ``ci`` band, the pooled
    fit over all languages (black, the same in every panel) and the paper's two printed fits.
    Where the band's upper end is "never" (finetuning stays ahead in more than
    ``(1 - ci) / 2`` of the draws) the band is hatched up to the top; where the median itself
    is "never" the line stops and the panel says from which model size. Model sizes outside
    the finetune posterior's fitted range are shaded: there the curves extrapolate the law.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    from bayes_atlas.decisions import crossover, crossover_compute_fit
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("finetune", posterior)
    codes = list(fit.languages) if languages is None else list(languages)
    params = np.geomspace(3e8, 8e9, 12) if params is None else np.asarray(params, dtype=float)
    tables = {code: crossover(code, params, ci=ci, posterior=fit) for code in codes}
    pooled = crossover_compute_fit(codes, params, ci=ci, posterior=fit)
    k, c = pooled.loc["exponent"], pooled.loc["log10_coefficient"]
    pooled_line = 10 ** c["median"] * params ** k["median"]
    printed = {key: 10 ** c[key] * params ** k[key] for key in ("printed_a", "printed_b")}
    finite = [t[col].to_numpy() for t in tables.values() for col in ("compute_lower", "compute_median", "compute_upper")]
    finite_values = np.concatenate([v[np.isfinite(v)] for v in finite] + [pooled_line, *printed.values()])
    y_low, y_high = finite_values.min() / 1.6, finite_values.max() * 1.6
    fitted = getattr(fit, "meta", {}).get("log_params_range")
    fitted_range = tuple(float(np.exp(v)) for v in fitted) if fitted is not None else None

    candidates = np.array([1e8, 2e8, 3e8, 5e8, 1e9, 2e9, 3e9, 5e9, 1e10, 2e10, 3e10, 5e10, 1e11])
    ticks = candidates[(candidates >= params.min() / 1.001) & (candidates <= params.max() * 1.001)]
    if ticks.size > 4:
        ticks = ticks[:: -(-ticks.size // 4)]
    ncols = max(1, min(ncols, len(codes)))
    nrows = -(-len(codes) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.35 * ncols + 0.7, 2.25 * nrows + 1.9), sharex=True, sharey=True, squeeze=False
    )
    styles = {"printed_a": ":", "printed_b": "-."}
    any_open = any_stop = any_extrapolated = False
    for index, ax in enumerate(axes.flat):
        if index >= len(codes):
            ax.set_visible(False)
            continue
        code, table = codes[index], tables[codes[index]]
        color = language_colour(code)
        lower, median, upper = (table[col].to_numpy() for col in ("compute_lower", "compute_median", "compute_upper"))
        closed = np.isfinite(lower) & np.isfinite(upper)
        ax.fill_between(params, lower, upper, where=closed, color=color, alpha=0.25, linewidth=0, interpolate=False)
        open_above = np.isfinite(lower) & ~np.isfinite(upper)
        if open_above.any():
            any_open = True
            top = np.full_like(params, y_high)
            ax.fill_between(params, np.where(open_above, lower, np.nan), top, where=open_above,
                            facecolor="none", edgecolor=color, hatch="////", alpha=0.5, linewidth=0)  # fmt: skip
        shown = np.where(np.isfinite(median), median, np.nan)
        ax.plot(params, shown, color=color, linewidth=1.6)
        ax.plot(params, pooled_line, color=POOLED_COLOUR, linewidth=1.0)
        for key, style in styles.items():
            ax.plot(params, printed[key], color=PRINTED_COLOUR, linestyle=style, linewidth=0.9)
        never = ~np.isfinite(median)
        if never.any():
            any_stop = True
            first_never = params[np.argmax(never)]
            p_never = float(table["p_never"].to_numpy()[np.argmax(never)])
            ax.text(0.96, 0.04, f"line stops: no crossover\nfrom N = {first_never:.2g}\n(P(never) = {p_never:.2f})",
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5, color="#333333")  # fmt: skip
        if fitted_range is not None and (params.min() < fitted_range[0] or params.max() > fitted_range[1]):
            any_extrapolated = True
            for start, stop in ((params.min(), fitted_range[0]), (fitted_range[1], params.max())):
                if stop > start:
                    ax.axvspan(start, stop, color="#000000", alpha=0.06, linewidth=0)
        ax.set_title(code, color=color, fontsize=10, fontweight="bold", pad=3)
        ax.set(xscale="log", yscale="log", ylim=(y_low, y_high))
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1e9:g}B"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3)
        if index % ncols == 0:
            ax.set_ylabel("crossover compute C (FLOPs)", fontsize=8)
        if index + ncols >= len(codes):
            ax.set_xlabel("model size N (parameters; B = 1e9)", fontsize=8)
            ax.xaxis.set_tick_params(labelbottom=True)
        ax.tick_params(labelsize=7)
    grey = "#666666"
    entries: list[tuple[Handle, str]] = [
        ((Patch(color=grey, alpha=0.25, linewidth=0), Line2D([], [], color=grey, linewidth=1.6)),
         f"language (panel colour): median, {ci:.0%} band"),
        (Line2D([], [], color=POOLED_COLOUR, linewidth=1.0),
         f"pooled over languages: C ~ N^{k['median']:.2f} [{k['lower']:.2f}, {k['upper']:.2f}] ({ci:.0%})"),
    ]  # fmt: skip
    for key, style in styles.items():
        entries.append(
            (
                Line2D([], [], color=PRINTED_COLOUR, linestyle=style, linewidth=0.9),
                f"printed: C = {10 ** c[key]:.3g} N^{k[key]:.2f}",
            )
        )
    if any_open:
        entries.append(
            (
                Patch(facecolor="none", edgecolor=grey, hatch="////"),
                f"band open above: no crossover in > {(1 - ci) / 2:.0%} of draws",
            )
        )
    if any_stop:
        entries.append((Line2D([], [], linestyle="none"), "line stops: median is 'never' (finetuning stays ahead)"))
    if any_extrapolated and fitted_range is not None:
        entries.append(
            (Patch(color="#000000", alpha=0.06, linewidth=0),
             f"outside the fitted model sizes [{fitted_range[0]:.2g}, {fitted_range[1]:.2g}]: extrapolated")
        )  # fmt: skip
    handles, labels = zip(*entries, strict=True)
    fig.legend(list(handles), list(labels), loc="lower center", ncol=2, fontsize=7.5, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Crossover compute: above it pretrain from scratch, below it finetune", fontsize=10)
    legend_rows = -(-len(entries) // 2)
    fig.tight_layout(rect=(0, (0.17 * legend_rows + 0.12) / fig.get_figheight(), 1, 1))
    _emulation_footer(fig, [fit])
    return fig


# -- the whole set, with progress ------------------------------------------------------------

#: The study's figures in the order :func:`make_figures` draws them (file stems of
#: ``bayes-atlas figures``), with what each one shows.
FIGURES: dict[str, str] = {
    "transfer_heatmap": "Fig. 2, posterior mean BTS",
    "script_family": "Fig. 3, script/family tests",
    "transfer_asymmetry": "Fig. 3, transfer asymmetry",
    "compute_optimal": "Fig. 1, compute-optimal N and D",
    "curse": "Fig. 4, curse of multilinguality",
    "expansion": "Fig. 5, K -> rK expansion",
    "finetune": "Fig. 6, pretrain vs finetune",
    "crossover_compute": "Fig. 7, crossover compute",
}

Progress = Callable[[str], Any]


def iter_figures(
    transfer_fit: TransferFit | None = None,
    *,
    permutations: int = 2000,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[str, Figure]]:
    """Draw the study's figures one at a time: yields ``(name, figure)`` in :data:`FIGURES` order.

    Parameters
    ----------
    transfer_fit
        The transfer posterior of Figs. 2-3 (default: the shipped one). The law figures use
        the shipped (emulated) law, curse and finetune posteriors.
    permutations
        Language relabellings of the script/family permutation test: the bulk of the time
        (16 s of the whole set's 34 s at 2,000 on two idle cores).
    names
        A subset of :data:`FIGURES` (default: all).
    progress
        Called with one line of text before each figure (``[2/8] script_family: ...``) and
        after it (``... done in 35.1 s``); e.g. ``progress=print`` or ``click.echo``.
    """
    from bayes_atlas.transfer_stats import script_family_tests

    chosen = list(FIGURES) if names is None else list(names)
    unknown = [name for name in chosen if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    report = progress if progress is not None else (lambda message: None)
    state: dict[str, Any] = {}

    def transfer() -> TransferFit:
        if "fit" not in state:
            if transfer_fit is None:
                from bayes_atlas.transfer import load_default

                state["fit"] = load_default()
            else:
                state["fit"] = transfer_fit
        return state["fit"]

    builders: dict[str, Callable[[], Figure]] = {
        "transfer_heatmap": lambda: transfer_heatmap(transfer()),
        "script_family": lambda: script_family_plot(
            script_family_tests(fit=transfer(), n_permutations=permutations).comparison()
        ),
        "transfer_asymmetry": lambda: asymmetry_plot(transfer()),
        "compute_optimal": compute_optimal_plot,
        "curse": curse_plot,
        "expansion": expansion_plot,
        "finetune": finetune_plot,
        "crossover_compute": crossover_compute_plot,
    }
    total = len(chosen)
    for number, name in enumerate(chosen, start=1):
        extra = f" ({permutations} permutations: the slow part)" if name == "script_family" else ""
        report(f"[{number}/{total}] {name}: {FIGURES[name]}{extra} ...")
        start = time.perf_counter()
        figure = builders[name]()
        report(f"[{number}/{total}] {name}: done in {time.perf_counter() - start:.1f} s")
        yield name, figure


def make_figures(
    transfer_fit: TransferFit | None = None,
    *,
    permutations: int = 2000,
    names: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Figure]:
    """The study's figures by name (:data:`FIGURES`); arguments as :func:`iter_figures`."""
    return dict(iter_figures(transfer_fit, permutations=permutations, names=names, progress=progress))


def write_figures(
    out: str | Path,
    transfer_fit: TransferFit | None = None,
    *,
    permutations: int = 2000,
    names: Sequence[str] | None = None,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 200,
    progress: Progress | None = None,
) -> list[Path]:
    """Draw and write the study's figures into directory ``out`` as each is made; return the paths.

    Each figure is saved (atomically, one file per format) and closed as soon as it is drawn,
    and ``progress`` gets ``wrote <path>`` for every file besides the lines of
    :func:`iter_figures` — what ``bayes-atlas figures`` prints while it works.
    """
    plt = _pyplot()
    directory = Path(out)
    written: list[Path] = []
    for name, figure in iter_figures(transfer_fit, permutations=permutations, names=names, progress=progress):
        try:
            for path in save_figure(figure, directory / name, formats=formats, dpi=dpi):
                written.append(path)
                if progress is not None:
                    progress(f"wrote {path}")
        finally:
            plt.close(figure)
    return written


# -- tokens per parameter against the evidence (data/EVIDENCE.md) ----------------------------


def tokens_per_param_plot(
    languages: Sequence[str] = ("en", "ca", "hi", "sw"),
    computes: np.ndarray | None = None,
    *,
    ci: float = defaults.CI,
    posterior: object = None,
    public: object = None,
    pooled: object = None,
) -> Figure:
    """Compute-optimal tokens per parameter against compute, beside the public evidence.

    Per language: median and ``ci`` band of ``D* / N*`` from the law posterior (published
    unique tokens, so hi and sw bend once their data repeat). Beside it: the public reference
    (the package's fit of Epoch's 245 runs, :mod:`bayes_atlas.decisions.public_reference`;
    dotted beyond Epoch's largest run), the five public corpora pooled (``pooled``, default
    ``models/public-pooled.nc``: the answer for a corpus not among them, dashed median and band
    edges), Epoch's and Muennighoff et al.'s point fits
    (:func:`bayes_atlas.datasets.public_compute_optima`), the documented range
    (``simulate.TOKENS_PER_PARAM_RANGE``) and what the provisional decode of ATLAS Table C.1
    would imply for monolingual training (:func:`bayes_atlas.datasets.table_c1_checks`).
    """
    from bayes_atlas import datasets
    from bayes_atlas.decisions.caveats import unique_tokens_for
    from bayes_atlas.decisions.optimum import Mixture, compute_optimum
    from bayes_atlas.decisions.public_reference import public_pool_reference, public_reference
    from bayes_atlas.posteriors import resolve
    from bayes_atlas.simulate import TOKENS_PER_PARAM_RANGE

    plt = _pyplot()
    law = resolve("law", posterior)
    computes = np.geomspace(1e18, 1e24, 13) if computes is None else np.asarray(computes, dtype=float)
    fig, ax = plt.subplots(figsize=(8.0, 6.2))
    low, high = TOKENS_PER_PARAM_RANGE
    entries = [(ax.axhspan(low, high, color="#dddddd", alpha=0.5, linewidth=0), f"documented range {low:g}-{high:g}")]
    c1 = datasets.table_c1_checks()
    mono = c1.loc[c1["regime"] == "mono_vocab_mono_data", "tokens_per_param"]
    entries.append(
        (
            ax.axhspan(mono.min(), mono.max(), color="#f4c2a8", alpha=0.6, linewidth=0),
            f"ATLAS Table C.1 as decoded ({mono.min():.0f}-{mono.max():.0f}; fails the checks in data/EVIDENCE.md)",
        )
    )
    for code in languages:
        mixture = Mixture(code, (), unique_tokens_for([code], None), np.zeros((law.n_draws, 0)))
        optimum = compute_optimum(law, mixture, computes[:, None])
        entries.append((_band(ax, computes, (optimum.tokens / optimum.params).T, language_colour(code), ci), code))
    references = [public_reference(c, posterior=public, ci=ci) for c in computes]
    ratio = np.array([r.tokens_per_param for r in references])
    inside = np.array([r.extrapolation <= 1 for r in references])
    band = ax.fill_between(computes, ratio[:, 1], ratio[:, 2], color="#333333", alpha=0.12, linewidth=0)
    ax.plot(computes[inside], ratio[inside, 0], color="#333333", linewidth=1.4)
    beyond = ~inside | np.roll(~inside, -1)
    ax.plot(computes[beyond], ratio[beyond, 0], color="#333333", linewidth=1.4, linestyle=":")
    entries.append(((band,), "Epoch's 245 runs, package fit (dotted: beyond its largest run)"))
    pool = np.array([public_pool_reference(c, posterior=pooled, ci=ci).tokens_per_param for c in computes])
    (pool_line,) = ax.plot(computes, pool[:, 0], color="#7a5195", linewidth=1.4, linestyle="--")
    for edge in (1, 2):
        ax.plot(computes, pool[:, edge], color="#7a5195", linewidth=0.8, linestyle="--", alpha=0.7)
    entries.append((pool_line, "5 public corpora pooled: a corpus not among them (dashed: median, band edges)"))
    points = datasets.public_compute_optima()
    for source, marker in (("Epoch AI point fit", "s"), ("Muennighoff", "^")):
        rows = points[points["source"].str.startswith(source)]
        (handle,) = ax.plot(rows["compute"], rows["tokens_per_param_median"], marker, color="#333333", markersize=5, linestyle="")
        entries.append((handle, str(rows["source"].iloc[0])))
    ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="compute-optimal tokens per parameter D*/N*")
    _plain_log_ticks(ax.yaxis, 1.0, 250.0)
    ax.set_ylim(1.0, 250.0)
    return _finish(
        fig,
        ax,
        f"Tokens per parameter: the default posterior beside the public evidence\n(median, {ci:.0%} band)",
        [law],
        entries,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.13),
        ncol=2,
    )


# -- calibration on public run tables (bayes_atlas.calibration.suite) ------------------------

#: Line colour of each calibration split (Okabe-Ito; the rolling origins darken with distance).
_SPLIT_COLOURS = {
    "random": OKABE_ITO[0],
    "top_compute": OKABE_ITO[1],
    "rolling_2x": OKABE_ITO[2],
    "rolling_4x": OKABE_ITO[5],
    "rolling_8x": OKABE_ITO[3],
    "few_runs": OKABE_ITO[4],
}


def calibration_plot(rows: pd.DataFrame, *, bins: int = 10, title: str | None = None) -> Figure:
    """PIT histograms and reliability curves of held-out predictions, one column per table.

    Parameters
    ----------
    rows
        :attr:`bayes_atlas.calibration.SuiteResult.rows` (or any frame with ``table``,
        ``split``, ``method`` and ``pit`` columns); only the Bayesian rows (``method ==
        "bayes"``) are drawn, since a point fit has no predictive distribution.
    bins
        Bins of the PIT histograms.
    title
        Figure title (default: a description).

    Returns
    -------
    matplotlib.figure.Figure
        Top row: the density of the PIT (the share of predictive draws at or below the
        observed loss) per split, flat at 1 when the predictions are calibrated; mass at the
        right edge means observed losses above the predictions, at the left edge below them.
        Bottom row: the coverage of central intervals against their nominal mass (a central
        p interval covers a run when ``|PIT - 1/2| <= p/2``), on the diagonal when calibrated.
    """
    plt = _pyplot()
    bayes = rows[rows["method"] == "bayes"] if "method" in rows.columns else rows
    bayes = bayes[np.isfinite(bayes["pit"].to_numpy(dtype=float))]
    tables = list(pd.unique(bayes["table"]))
    if not tables:
        raise ValueError("no Bayesian held-out rows with a PIT to draw")
    fig, axes = plt.subplots(2, len(tables), figsize=(3.3 * len(tables) + 0.6, 6.4), squeeze=False)
    edges = np.linspace(0.0, 1.0, bins + 1)
    nominal = np.linspace(0.0, 1.0, 21)
    for column, table in enumerate(tables):
        top, bottom = axes[0, column], axes[1, column]
        subset = bayes[bayes["table"] == table]
        splits = [s for s in _SPLIT_COLOURS if s in set(subset["split"])] + sorted(set(subset["split"]) - set(_SPLIT_COLOURS))
        for split in splits:
            pit = subset.loc[subset["split"] == split, "pit"].to_numpy(dtype=float)
            colour = _SPLIT_COLOURS.get(split, POOLED_COLOUR)
            density, _ = np.histogram(pit, bins=edges, density=True)
            top.stairs(density, edges, color=colour, linewidth=1.4, label=f"{split} (n={pit.size})")
            covered = [(np.abs(pit - 0.5) <= p / 2).mean() for p in nominal]
            bottom.plot(nominal, covered, color=colour, linewidth=1.4, marker="o", markersize=2.5, label=split)
        top.axhline(1.0, color=PRINTED_COLOUR, linestyle=":", linewidth=1, label="calibrated")
        top.set_xlim(0, 1)
        top.set_title(table)
        top.set_xlabel("PIT (share of predictive draws <= observed)")
        bottom.plot([0, 1], [0, 1], color=PRINTED_COLOUR, linestyle=":", linewidth=1, label="calibrated")
        for mass in (0.5, 0.9):
            bottom.axvline(mass, color="#cccccc", linewidth=0.8, zorder=0)
        bottom.set_xlim(0, 1)
        bottom.set_ylim(0, 1.02)
        bottom.set_xlabel("nominal mass of the central interval")
        if column == 0:
            top.set_ylabel("density")
            bottom.set_ylabel("share of held-out runs covered")
        top.legend(fontsize=6.5, loc="upper center", frameon=False)
    fig.suptitle(title or "Held-out calibration of the Bayesian law on public run tables (PIT and reliability)", fontsize=10)
    fig.tight_layout()
    return fig
