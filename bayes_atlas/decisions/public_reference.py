"""The public reference: what real, public runs say about the compute-optimal split.

The shipped law posterior (``models/atlas-emulated.nc``) is an emulation of the ATLAS study,
whose runs are not public. Every recommendation also shows, beside it, what the largest
public run table implies at the same budget: the package's own fit of Epoch AI's 245
digitised Chinchilla runs (English, MassiveText, 5.7e7-1.6e10 parameters, up to 1.3e22
FLOPs; Besiroglu et al. 2024), shipped as ``models/public-epoch.nc`` (posterior only: no copy
of the runs). It answers one question, the monolingual compute-optimal N and D of an English
model with unlimited unique data; for another language it is a reference for the regime, not
an answer (see ``data/EVIDENCE.md``).

Beside it, every recommendation shows what ALL the public English run tables say together:
a law posterior pooled over five corpora (:func:`bayes_atlas.datasets.public_pool`: Epoch's
runs, datablations' single-epoch runs, Li et al.'s open_lm runs, Porian et al.'s RefinedWeb and
OpenWebText2 runs), shipped as ``models/public-pooled.nc``. Each corpus keeps its own loss
level (evaluation set, tokenizer); the groups share a population of how the loss splits
between floor and terms and of the exponents (``population_space="shares"``). Its answer for a
corpus not in the pool (drawn from that population) is what public evidence says about YOUR
setup, between-corpus disagreement included; three of the five corpora stop at or below
1.5e20 FLOPs (Porian's at 2.6e19), so at larger budgets they extrapolate and their intervals
widen by each corpus's learnt extrapolation error.

Regenerate (needs the Epoch and datablations tables: the pinned origin or ``BAYES_ATLAS_DATA_MIRROR``)::

    python -m bayes_atlas.decisions.public_reference --out models/public-epoch.nc --card models/public-epoch.md
    python -m bayes_atlas.decisions.public_reference --pooled --out models/public-pooled.nc --card models/public-pooled.md
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bayes_atlas import defaults

__all__ = [
    "NEW_CORPUS",
    "POOLED_FILE",
    "PUBLIC_FILE",
    "PublicReference",
    "fit_public_pool",
    "fit_public_reference",
    "public_pool_reference",
    "public_reference",
]

#: The shipped public reference posterior, in ``models/``.
PUBLIC_FILE = "public-epoch.nc"
#: How it was fitted (``bayes_atlas.fit`` arguments); the pinned numbers in the tests come from these.
FIT_SETTINGS: dict[str, Any] = {"law": "chinchilla", "random_seed": 0}
SOURCE = "Epoch AI's 245 digitised Chinchilla runs (Besiroglu et al. 2024; English, MassiveText)"
REGENERATE = "python -m bayes_atlas.decisions.public_reference --out models/public-epoch.nc --card models/public-epoch.md"

#: The shipped pooled posterior of the public English run tables, in ``models/``.
POOLED_FILE = "public-pooled.nc"
#: How it was fitted: the Chinchilla law, the groups drawn in SHARES coordinates (each its own loss
#: level) from an independent population (five groups are too few to learn a 5 x 5 correlation).
POOLED_SETTINGS: dict[str, Any] = {"law": "chinchilla", "random_seed": 0}
POOLED_CONFIG: dict[str, Any] = {"population_space": "shares", "population_correlation": False}
POOLED_SOURCE = (
    "5 public English corpora pooled (datasets.public_pool: Epoch's Chinchilla runs, datablations' single-epoch runs, "
    "Li et al.'s open_lm runs, Porian et al.'s RefinedWeb and OpenWebText2 runs)"
)
POOLED_REGENERATE = (
    "python -m bayes_atlas.decisions.public_reference --pooled --out models/public-pooled.nc --card models/public-pooled.md"
)
#: The name under which the pooled posterior answers for a corpus it has not seen (a draw from its population).
NEW_CORPUS = "new_corpus"


@dataclass(frozen=True)
class PublicReference:
    """The public runs' compute-optimal split at one budget (posterior medians and intervals).

    Attributes
    ----------
    compute
        The budget in FLOPs.
    params, tokens, tokens_per_param
        ``(median, lower, upper)`` of the per-draw optimum.
    largest_run_compute
        The largest training compute in the public table: ``compute`` above it extrapolates.
    source
        What the posterior rests on.
    what
        Whose optimum this is (English on Epoch's runs, or a corpus drawn from the pooled population).
    group_largest_compute
        For the pooled posterior: the largest run of each corpus (sorted); empty otherwise.
    """

    compute: float
    params: tuple[float, float, float]
    tokens: tuple[float, float, float]
    tokens_per_param: tuple[float, float, float]
    largest_run_compute: float
    source: str
    what: str = "English, unlimited data"
    group_largest_compute: tuple[float, ...] = ()

    @property
    def extrapolation(self) -> float:
        """``compute`` over the largest public run's compute (above 1: beyond the data)."""
        return self.compute / self.largest_run_compute

    def text(self) -> str:
        """One line for reports."""

        def fmt(values: tuple[float, float, float], spec: str) -> str:
            return f"{values[0]:{spec}} [{values[1]:{spec}}, {values[2]:{spec}}]"

        times = f"{self.extrapolation:.2g}" if self.extrapolation < 10 else f"{self.extrapolation:,.0f}"
        reach = (
            f"{times}x beyond its largest run ({self.largest_run_compute:.2g} FLOPs)"
            if self.extrapolation > 1
            else f"inside its compute range (largest run {self.largest_run_compute:.2g} FLOPs)"
        )
        if self.group_largest_compute:
            beyond = sum(self.compute > c for c in self.group_largest_compute)
            reach = (
                f"{beyond} of its {len(self.group_largest_compute)} corpora extrapolate to this budget (largest runs "
                f"{min(self.group_largest_compute):.2g}-{max(self.group_largest_compute):.2g} FLOPs)"
            )
        return (
            f"{self.what}: N {fmt(self.params, '.3g')}, D {fmt(self.tokens, '.3g')}, "
            f"{fmt(self.tokens_per_param, '.1f')} tokens per parameter; {reach}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain types, for JSON."""
        return {
            "compute": self.compute,
            "params": list(self.params),
            "tokens": list(self.tokens),
            "tokens_per_param": list(self.tokens_per_param),
            "largest_run_compute": self.largest_run_compute,
            "extrapolation": self.extrapolation,
            "source": self.source,
            "what": self.what,
            "group_largest_compute": list(self.group_largest_compute),
        }


def public_reference(compute: float, *, posterior: Any = None, ci: float = defaults.CI) -> PublicReference:
    """The public runs' compute-optimal N and D for English at ``compute``.

    Parameters
    ----------
    compute
        Training budget in FLOPs.
    posterior
        A law fit or a path; default the shipped ``models/public-epoch.nc``.
    ci
        Credible mass of the intervals.

    Returns
    -------
    PublicReference

    Examples
    --------
    >>> ref = public_reference(1e21)
    >>> 15 < ref.tokens_per_param[0] < 30
    True
    """
    return _reference(posterior, PUBLIC_FILE, "en", compute, ci, "English, unlimited data", SOURCE)


def public_pool_reference(compute: float, *, posterior: Any = None, ci: float = defaults.CI) -> PublicReference:
    """What the pooled public runs say about the compute-optimal N and D for a corpus not in the pool.

    The corpus is drawn from the pooled posterior's population (its loss level, how the loss
    splits between floor and terms, its exponents): the disagreement between the five public
    corpora is part of the interval.

    Parameters
    ----------
    compute
        Training budget in FLOPs.
    posterior
        A law fit or a path; default the shipped ``models/public-pooled.nc``.
    ci
        Credible mass of the intervals.

    Returns
    -------
    PublicReference

    Examples
    --------
    >>> ref = public_pool_reference(1e19)
    >>> 5 < ref.tokens_per_param[0] < 60
    True
    """
    return _reference(
        posterior,
        POOLED_FILE,
        NEW_CORPUS,
        compute,
        ci,
        "a corpus not in the pool (drawn from the population of the public corpora), unlimited data",
        POOLED_SOURCE,
    )


def _reference(
    posterior: Any, default_file: str, code: str, compute: float, ci: float, what: str, source: str
) -> PublicReference:
    """The optimum of ``code`` at ``compute`` under ``posterior`` (default: the shipped ``default_file``)."""
    from bayes_atlas.decisions.optimum import Mixture, compute_optimum
    from bayes_atlas.posteriors import load, resolve

    if posterior is None:
        from bayes_atlas._paths import models_dir

        posterior = load(models_dir() / default_file)
    law = resolve("law", posterior)
    mixture = Mixture(code, (), {code: np.inf}, np.zeros((law.n_draws, 0)))
    optimum = compute_optimum(law, mixture, float(compute))
    tail = (1.0 - ci) / 2.0

    def band(values: np.ndarray) -> tuple[float, float, float]:
        low, mid, high = np.quantile(values, [tail, 0.5, 1.0 - tail])
        return float(mid), float(low), float(high)

    largest = float(np.exp(law.meta["log_compute_range"][1])) if "log_compute_range" in law.meta else np.nan
    groups = law.meta.get("largest_compute_by_group") or {}
    return PublicReference(
        compute=float(compute),
        params=band(optimum.params),
        tokens=band(optimum.tokens),
        tokens_per_param=band(optimum.tokens / optimum.params),
        largest_run_compute=largest,
        source=str(law.meta.get("dataset") or source),
        what=what,
        group_largest_compute=tuple(sorted(float(v) for v in groups.values())),
    )


def fit_public_reference(*, progressbar: bool = False) -> Any:
    """Fit the public reference posterior to Epoch's runs (``FIT_SETTINGS``); returns the :class:`bayes_atlas.Fit`."""
    from bayes_atlas.public_runs import chinchilla_epoch
    from bayes_atlas.scaling import fit

    result = fit(chinchilla_epoch(), progressbar=progressbar, **FIT_SETTINGS)
    result.meta["dataset"] = SOURCE
    return result


def fit_public_pool(*, progressbar: bool = False) -> Any:
    """Fit the pooled public posterior (``POOLED_SETTINGS``, ``POOLED_CONFIG``) to
    :func:`bayes_atlas.datasets.public_pool`; returns the :class:`bayes_atlas.Fit`."""
    from bayes_atlas.datasets import public_pool
    from bayes_atlas.models.law import LawConfig
    from bayes_atlas.scaling import fit

    runs = public_pool()
    result = fit(runs, progressbar=progressbar, config=LawConfig(**POOLED_CONFIG), **POOLED_SETTINGS)
    frame = runs.frame
    compute = 6.0 * frame["params"] * runs.total_tokens
    result.meta["dataset"] = POOLED_SOURCE
    result.meta["largest_compute_by_group"] = {str(k): float(v) for k, v in compute.groupby(frame["language"]).max().items()}
    return result


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bayes_atlas.decisions.public_reference", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="netCDF file to write (posterior only).")
    parser.add_argument("--card", help="Also write a markdown model card here.")
    parser.add_argument("--pooled", action="store_true", help="Fit the pooled public posterior instead of Epoch's runs alone.")
    args = parser.parse_args(argv)
    from bayes_atlas._io import write_atomically
    from bayes_atlas.scaling import model_card

    result = fit_public_pool(progressbar=True) if args.pooled else fit_public_reference(progressbar=True)
    result.save(args.out, compact=True)
    print(f"wrote {result!r} to {args.out}")
    if not args.card:
        return
    if args.pooled:
        from bayes_atlas.datasets import PUBLIC_POOL_GROUPS

        largest = result.meta["largest_compute_by_group"]
        groups = "; ".join(f"`{k}`: {v} (largest run {largest[k]:.3g} FLOPs)" for k, v in PUBLIC_POOL_GROUPS.items())
        note = (
            f"Data: {POOLED_SOURCE}, loaded by `bayes_atlas.datasets.public_pool()` (Epoch's and datablations' files "
            f"from the pinned origin or BAYES_ATLAS_DATA_MIRROR). Posterior only: the file holds no copy of the runs. "
            f"Groups (the `language` dim): {groups}. Every group has its own loss level (evaluation set and tokenizer "
            "differ); the groups share an independent population of the other four coordinates "
            "(`population_space='shares'`). A corpus not in the pool is drawn from that population: "
            "`bayes_atlas.decisions.public_reference.public_pool_reference(C)`, shown beside every recommendation."
        )
        card = model_card(
            result,
            title="Public runs pooled: Chinchilla law over five public English corpora",
            data_note=note,
            command=POOLED_REGENERATE,
        )
    else:
        note = (
            f"Data: {SOURCE}, loaded by `bayes_atlas.public_runs.chinchilla_epoch()` from the pinned origin "
            "(or BAYES_ATLAS_DATA_MIRROR). Posterior only: the file holds no copy of the runs. Used by every "
            "recommendation as the public reference for the monolingual compute-optimal split (English, unlimited "
            f"data); largest run {np.exp(result.meta['log_compute_range'][1]):.3g} FLOPs, so answers above it extrapolate. "
            "Epoch's own published fit of these runs: E 1.82, A 482, alpha 0.348, B 2085, beta 0.366 "
            "(here in reference-scale form: E, a = log A - alpha log N0, b = log B - beta log D0)."
        )
        card = model_card(
            result, title="Public reference: Chinchilla law fitted to Epoch's runs", data_note=note, command=REGENERATE
        )
    write_atomically(Path(args.card), lambda tmp: tmp.write_text(card))
    print(f"wrote {args.card}")


if __name__ == "__main__":
    _main()
