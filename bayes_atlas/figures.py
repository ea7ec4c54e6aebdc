"""Figures with posterior uncertainty: the counterparts of the ATLAS figures.

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes PNG
and PDF atomically. Palettes are colour-blind safe (diverging ``RdBu`` for signed
transfer, the Okabe-Ito colours for categories).

Examples
--------
>>> from bayes_atlas.transfer import load_default
>>> fig = transfer_heatmap(load_default())
>>> fig.axes[0].get_ylabel()
'target language (trained on)'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayes_atlas._io import write_atomically

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayes_atlas.transfer import TransferFit

__all__ = ["OKABE_ITO", "asymmetry_plot", "save_figure", "script_family_plot", "transfer_heatmap"]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def save_figure(fig: Figure, path: str | Path, formats: Sequence[str] = ("png", "pdf"), dpi: int = 200) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats`` (atomically); return the paths."""
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lstrip(".") in formats else stem
    written = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        written.append(write_atomically(target, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")))
    return written


def transfer_heatmap(fit: TransferFit, *, ci: float = 0.9, title: str | None = None) -> Figure:
    """Posterior mean BTS(source -> target), rows = target as in ATLAS Fig. 2.

    Cells whose ``ci`` credible interval contains 0 are marked with a dot: the data cannot
    tell whether the source helps or hurts that target.
    """
    from matplotlib.colors import TwoSlopeNorm

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
    # Two slopes: interference reaches -1.5 while help stays below 0.5, and both must show.
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(float(np.nanmin(mean)), -0.05), vmax=max(float(np.nanmax(mean)), 0.05))
    image = ax.imshow(mean, cmap="RdBu", norm=norm, interpolation="nearest")
    t, s = np.nonzero(uncertain)
    ax.scatter(s, t, s=4, c="black", marker="o", linewidths=0, label=f"{ci:.0%} interval contains 0")
    ax.set_xticks(range(n), codes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), codes, fontsize=7)
    ax.set_xlabel("source language (helper)")
    ax.set_ylabel("target language (trained on)")
    ax.set_title(title or f"Posterior mean bilingual transfer score BTS(source -> target), {fit.n_draws} draws")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("BTS (> 0 helps, < 0 interferes)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False, fontsize=8)
    return fig


def script_family_plot(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Estimates and intervals of the same-script / same-family effects, one row per method.

    Parameters
    ----------
    table
        :func:`bayes_atlas.transfer.script_family_tests` output (index method, term;
        columns ``estimate``, ``lower``, ``upper``, ``p_value``).
    """
    plt = _pyplot()
    terms = list(dict.fromkeys(table.index.get_level_values("term")))
    methods = list(dict.fromkeys(table.index.get_level_values("method")))
    fig, axes = plt.subplots(1, len(terms), figsize=(5.2 * len(terms), 0.55 * len(methods) + 1.6), sharey=True)
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
            ax.annotate(text, (entry["estimate"], row), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_title(term.replace("_", " "))
        ax.set_xlabel("shift in BTS")
    axes[0].set_yticks(range(len(methods)), [m.replace("_", " ") for m in methods], fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        title
        or "Same script / same family: estimates with 95% intervals\n"
        "(permutation: point and p only; Bayesian p = two-sided posterior tail probability)"
    )
    fig.tight_layout()
    return fig


def asymmetry_plot(fit: TransferFit, *, ci: float = 0.9, label_top: int = 8, title: str | None = None) -> Figure:
    """BTS(a -> b) against BTS(b -> a) for every pair, with intervals.

    Pairs whose two directions differ with posterior probability above ``ci`` are coloured
    (mostly because one language is much harder to help as a target than the other). The
    ``label_top`` pairs with the largest pair-specific asymmetry (the model's asymmetric
    pair effect, beyond the two languages' target and source effects) are labelled.
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
    fig, ax = plt.subplots(figsize=(6.5, 6.2))
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
    pair_asymmetry = fit.posterior["asymmetric"].values.reshape(-1, first.size)
    strength = np.abs(pair_asymmetry.mean(axis=0)) / pair_asymmetry.std(axis=0)
    for index in np.argsort(-strength)[:label_top]:
        a, b = fit.languages[first[index]], fit.languages[second[index]]
        ax.annotate(f"{a}/{b}", (fq[1, index], bq[1, index]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    low = float(min(fq[0].min(), bq[0].min()))
    high = float(max(fq[2].max(), bq[2].max()))
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="symmetric")
    ax.set_xlabel("BTS(a -> b) (posterior median, interval)")
    ax.set_ylabel("BTS(b -> a)")
    ax.set_title(title or f"Transfer asymmetry: {n * (n - 1) // 2} language pairs, {ci:.0%} intervals")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
