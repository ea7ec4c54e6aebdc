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
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayes_atlas.transfer import TransferFit

__all__ = [
    "OKABE_ITO",
    "asymmetry_plot",
    "compute_optimal_plot",
    "crossover_compute_plot",
    "curse_plot",
    "expansion_plot",
    "finetune_plot",
    "save_figure",
    "script_family_plot",
    "transfer_heatmap",
]

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def _pyplot():
    # Never choose a backend here: that is the user's (Jupyter's inline backend shows the
    # figures; matplotlib itself falls back to Agg where there is no display).
    import matplotlib.pyplot as plt

    return plt


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


# -- the law figures (ATLAS Figs. 1, 4-7), from the decision posteriors ------------------------

EMULATION_NOTE = "EMULATION: posterior fitted to simulated runs of the ATLAS design"


def _band(ax: Axes, x: np.ndarray, draws: np.ndarray, color: str, label: str, ci: float) -> None:
    lower, median, upper = np.nanquantile(draws, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
    ax.fill_between(x, lower, upper, color=color, alpha=0.25, linewidth=0)
    ax.plot(x, median, color=color, label=label, linewidth=1.6)


def _emulation_footer(fig: Figure, fits: Sequence[object]) -> None:
    if any(getattr(f, "meta", {}).get("emulated") for f in fits):
        fig.text(0.99, 0.005, EMULATION_NOTE, ha="right", va="bottom", fontsize=7, color="#555555")


def _finish(fig: Figure, ax: Axes, title: str, fits: Sequence[object], **legend: object) -> Figure:
    """Title, legend, grid and emulation footer shared by the law figures."""
    ax.set_title(title, fontsize=10)
    ax.legend(**{"fontsize": 8, "frameon": False, **legend})
    ax.grid(True, which="both", alpha=0.3)
    _emulation_footer(fig, fits)
    fig.tight_layout()
    return fig


def compute_optimal_plot(
    languages: Sequence[str] = ("en", "fr", "ru", "zh", "hi", "sw"),
    computes: np.ndarray | None = None,
    *,
    ci: float = 0.9,
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
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True)
    for color, code in zip(OKABE_ITO, languages, strict=False):
        mixture = Mixture(code, (), unique_tokens_for([code], None), np.zeros((law.n_draws, 0)))
        optimum = compute_optimum(law, mixture, computes[:, None])
        for ax, values in zip(axes, (optimum.params, optimum.tokens), strict=True):
            _band(ax, computes, values.T, color, code, ci)
    for ax, label in zip(axes, ("compute-optimal parameters N*", "compute-optimal tokens D*"), strict=True):
        ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel=label)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(title="target", fontsize=8, frameon=False)
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
    ci: float = 0.9,
    posterior: object = None,
) -> Figure:
    """Loss of a language against the number of languages K it shares a model with (ATLAS Fig. 4).

    Fixed model size and total tokens, K languages sampled uniformly (each gets
    ``total_tokens / K``, unique data unlimited), from the curse-law posterior
    (the curse law's mean per draw).
    """
    from bayes_atlas.laws import Design
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("curse", posterior)
    K = np.asarray(mixture_sizes, dtype=float)[:, None]  # against draws
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    for color, code in zip(OKABE_ITO, languages, strict=False):
        design = Design.of_run(params=params, tokens=total_tokens / K, mixture_size=K)
        loss = np.exp(fit.mean_log_loss(design, fit.language_parameters(code, 0)))
        _band(ax, K[:, 0], loss.T, color, code, ci)
    ax.set(xscale="log", xlabel="languages in the mixture K (uniform sampling)", ylabel="loss on the language")
    ax.set_xticks(K[:, 0], [str(int(k)) for k in K[:, 0]])
    return _finish(fig, ax, f"Curse of multilinguality at N = {params:.3g}, D_tot = {total_tokens:.3g} ({ci:.0%} band)", [fit])


def expansion_plot(factors: Sequence[float] = (2, 4, 8, 16), *, ci: float = 0.9, posterior: object = None) -> Figure:
    """Iso-loss expansion K -> rK: N multiplier against D_tot multiplier (ATLAS Fig. 5), with the printed table."""
    from bayes_atlas.decisions import expand_languages
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.6))
    for color, r in zip(OKABE_ITO, factors, strict=False):
        table = expand_languages(r, ci=ci, posterior=posterior).summary()
        n, d = table.loc["N"], table.loc["D_total"]
        ax.errorbar(
            d["median"], n["median"], xerr=[[d["median"] - d["lower"]], [d["upper"] - d["median"]]],
            yerr=[[n["median"] - n["lower"]], [n["upper"] - n["median"]]], fmt="o", color=color, capsize=3,
            label=f"{r:g}K: C x {table.loc['C', 'median']:.2f}",
        )  # fmt: skip
        if np.isfinite(d["printed"]):
            ax.plot(d["printed"], n["printed"], marker="x", color="#000000", markersize=7, linestyle="none")
    ax.plot([], [], marker="x", color="#000000", linestyle="none", label="printed (ATLAS)")
    ax.set(xscale="log", yscale="log", xlabel="total data multiplier D_tot' / D_tot", ylabel="model size multiplier N' / N")
    return _finish(fig, ax, f"Growing K to rK languages at equal loss ({ci:.0%} intervals)", [resolve("curse", posterior)])


def finetune_plot(
    language: str = "de", *, params: float = 2e9, tokens: np.ndarray | None = None, ci: float = 0.9, posterior: object = None
) -> Figure:
    """From-scratch vs finetuned loss against training tokens, with the crossover (ATLAS Fig. 6)."""
    from bayes_atlas.decisions import crossover
    from bayes_atlas.decisions.finetune import FinetuneLaw
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("finetune", posterior)
    tokens = np.geomspace(2e9, 2e12, 50) if tokens is None else np.asarray(tokens, dtype=float)
    scratch, finetuned = (v.T for v in FinetuneLaw(fit, language).losses(params, tokens[:, None]))
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    _band(ax, tokens, scratch, OKABE_ITO[0], "pretrain from scratch", ci)
    _band(ax, tokens, finetuned, OKABE_ITO[1], "finetune a Unimax checkpoint", ci)
    row = crossover(language, params, ci=ci, posterior=fit).iloc[0]
    if np.isfinite(row["tokens_median"]):
        ax.axvline(row["tokens_median"], color="#000000", linestyle="--", linewidth=1, label=f"crossover {row['tokens_median']:.3g} tokens")
        if np.isfinite(row["tokens_lower"]):
            ax.axvspan(row["tokens_lower"], min(row["tokens_upper"], tokens[-1]), color="#999999", alpha=0.15, linewidth=0)
    ax.set(xscale="log", xlabel="training tokens of the target", ylabel=f"loss ({language})")
    return _finish(fig, ax, f"Pretrain vs finetune, {language}, N = {params:.3g} ({ci:.0%} bands)", [fit])


def crossover_compute_plot(
    languages: Sequence[str] | None = None, params: np.ndarray | None = None, *, ci: float = 0.9, posterior: object = None
) -> Figure:
    """Crossover compute against model size per language, the pooled fit and the printed fits (ATLAS Fig. 7)."""
    from bayes_atlas.decisions import crossover, crossover_compute_fit
    from bayes_atlas.posteriors import resolve

    plt = _pyplot()
    fit = resolve("finetune", posterior)
    codes = list(fit.languages) if languages is None else list(languages)
    params = np.geomspace(3e8, 8e9, 12) if params is None else np.asarray(params, dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    palette = list(OKABE_ITO) + ["#999999", "#882255", "#44AA99"]
    for color, code in zip(palette, codes, strict=False):
        table = crossover(code, params, ci=ci, posterior=fit)
        ax.plot(params, table["compute_median"], color=color, linewidth=1.2, label=code)
    pooled = crossover_compute_fit(codes, params, ci=ci, posterior=fit)
    k = pooled.loc["exponent"]
    c = pooled.loc["log10_coefficient"]
    ax.plot(params, 10 ** c["median"] * params ** k["median"], color="#000000", linewidth=2, label=f"pooled: C ~ N^{k['median']:.2f} [{k['lower']:.2f}, {k['upper']:.2f}]")
    for key, style in (("printed_a", ":"), ("printed_b", "-.")):
        ax.plot(params, 10 ** c[key] * params ** k[key], color="#555555", linestyle=style, linewidth=1.2, label=f"printed: C = {10 ** c[key]:.3g} N^{k[key]:.2f}")
    from matplotlib.ticker import NullFormatter

    ax.set(xscale="log", yscale="log", xlabel="model size N (parameters)", ylabel="crossover compute C (FLOPs)")
    ax.xaxis.set_minor_formatter(NullFormatter())
    return _finish(fig, ax, "Above this compute, pretrain; below, finetune (posterior medians)", [fit], fontsize=7, ncol=2)
