"""Published ATLAS numbers as data, and loaders for the public run tables.

Every table here is printed in Longpre et al., *ATLAS* (arXiv 2510.22037 v2, ICLR 2026);
``data/provenance.csv`` records the section and table of each, and every returned
DataFrame / DataArray carries that record in ``.attrs["provenance"]``.

The public run tables (:func:`chinchilla_epoch`, :func:`datablations`, :func:`goldfish`,
:func:`regmix`) live in :mod:`bayes_atlas.public_runs` and are re-exported here. Two small
public run tables are extracted into ``data/`` with their repository, commit and file in
``data/provenance.csv`` (:func:`misfitting_openlm`, :func:`porian_isoflop`): they load
without a mirror or network.

Examples
--------
>>> from bayes_atlas import datasets
>>> bts = datasets.transfer_matrix()
>>> float(bts.sel(target="ms", source="id"))
0.4
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import xarray as xr

from bayes_atlas._paths import data_dir
from bayes_atlas.languages import languages
from bayes_atlas.public_runs import chinchilla_epoch, datablations, goldfish, regmix
from bayes_atlas.runs import RunTable

__all__ = [
    "MEASURED_LANGUAGES",
    "PUBLIC_POOL_GROUPS",
    "capacity_mixtures",
    "chinchilla_epoch",
    "crossover_compute_fits",
    "crossover_tokens",
    "curse_fit",
    "datablations",
    "expansion_multipliers",
    "goldfish",
    "languages",
    "misfitting_openlm",
    "model_sizes",
    "porian_isoflop",
    "provenance",
    "public_compute_optima",
    "public_pool",
    "r2_table",
    "regmix",
    "table_c1_checks",
    "table_c1_laws",
    "transfer_matrix",
    "unimax_rates",
    "unique_tokens",
]

#: The 9 languages whose pairwise transfer was measured directly (ATLAS Sec. 4).
MEASURED_LANGUAGES: tuple[str, ...] = ("en", "ru", "es", "fr", "de", "pt", "zh", "vi", "ja")


@functools.lru_cache(maxsize=1)
def provenance() -> pd.DataFrame:
    """Provenance of every file in ``data/``: source, section, table or figure, tag, note."""
    return pd.read_csv(data_dir() / "provenance.csv").set_index("file")


def _provenance_text(file: str) -> str:
    row = provenance().loc[file]
    return f"{row['source']}; {row['section']}; {row['table_or_figure']} [{row['tag']}]. {row['note']}"


def _read(file: str, **kwargs: object) -> pd.DataFrame:
    frame = pd.read_csv(data_dir() / file, **kwargs)
    frame.attrs["provenance"] = _provenance_text(file)
    frame.attrs["tag"] = provenance().loc[file, "tag"]
    return frame


def transfer_matrix() -> xr.DataArray:
    """The 38 x 38 bilingual transfer score (BTS) matrix of ATLAS Fig. 2.

    Returns
    -------
    xarray.DataArray
        Dims ``("target", "source")``; cell ``(t, s)`` is BTS(s -> t), rounded to 0.1, with a
        NaN diagonal. The boolean coordinate ``measured`` (same dims) is True for the 9 x 9
        block measured directly (en ru es fr de pt zh vi ja); all other cells were predicted
        by the authors' random forest. Coordinates ``target_script`` / ``source_script`` and
        ``target_family`` / ``source_family`` come from :func:`languages`.

    Examples
    --------
    >>> m = transfer_matrix()
    >>> m.dims, m.shape, int(m.measured.sum())
    (('target', 'source'), (38, 38), 72)
    """
    table = pd.read_csv(data_dir() / "transfer_matrix_38x38.csv", index_col=0)
    targets = list(table.index)
    sources = list(table.columns)
    if targets != sources:
        raise ValueError("transfer_matrix_38x38.csv must list the same languages on rows and columns")
    values = table.to_numpy(dtype=float)
    np.fill_diagonal(values, np.nan)
    measured_row = np.isin(targets, MEASURED_LANGUAGES)
    measured = np.outer(measured_row, measured_row) & ~np.eye(len(targets), dtype=bool)
    meta = languages(targets)
    matrix = xr.DataArray(
        values,
        dims=("target", "source"),
        coords={
            "target": targets,
            "source": sources,
            "measured": (("target", "source"), measured),
            "target_script": ("target", meta["script"].to_numpy(dtype=object)),
            "source_script": ("source", meta["script"].to_numpy(dtype=object)),
            "target_family": ("target", meta["family"].to_numpy(dtype=object)),
            "source_family": ("source", meta["family"].to_numpy(dtype=object)),
        },
        name="bts",
        attrs={
            "long_name": "bilingual transfer score BTS(source -> target)",
            "units": "dimensionless (0 neutral, >0 helps, <0 interferes)",
            "rounding": 0.1,
            "provenance": _provenance_text("transfer_matrix_38x38.csv"),
        },
    )
    return matrix


def model_sizes(subset: str = "all") -> pd.DataFrame:
    """Model sizes of ATLAS Table B.3.

    Parameters
    ----------
    subset
        ``"all"`` (20 sizes), ``"partial"`` (11) or ``"minimal"`` (7).

    Returns
    -------
    pandas.DataFrame
        Columns ``label``, ``params`` (parameter count), ``partial``, ``minimal``.

    Examples
    --------
    >>> list(model_sizes("minimal")["label"])
    ['9.04M', '146M', '368M', '852M', '2.03B', '4.34B', '8.45B']
    """
    table = _read("model_sizes.csv")
    if subset == "all":
        return table
    if subset not in ("partial", "minimal"):
        raise ValueError(f"subset must be 'all', 'partial' or 'minimal', got {subset!r}")
    selected = table[table[subset]].reset_index(drop=True)
    selected.attrs = table.attrs
    return selected


def capacity_mixtures() -> pd.DataFrame:
    """The 12 capacity mixtures of ATLAS Table B.5 (K languages sampled uniformly).

    Returns
    -------
    pandas.DataFrame
        Index ``mixture``; columns ``K`` and ``languages`` (a tuple of codes).

    Examples
    --------
    >>> capacity_mixtures().loc["4v0", "languages"]
    ('de', 'es', 'fr', 'pt')
    """
    table = _read("capacity_mixtures.csv")
    table["languages"] = table["languages"].str.split().map(tuple)
    bad = table[table["languages"].map(len) != table["K"]]
    if len(bad):
        raise ValueError(f"capacity_mixtures.csv: K disagrees with the language list for {list(bad['mixture'])}")
    attrs = table.attrs
    table = table.set_index("mixture")
    table.attrs = attrs
    return table


def unimax_rates() -> pd.DataFrame:
    """Unimax sampling rates (percent) printed for the base model of ATLAS Sec. 6.

    The row ``_large_default`` is the class rate printed for "most large languages".
    """
    return _read("unimax_rates.csv")


def unique_tokens() -> pd.Series:
    """Unique MADLAD-400 tokens per language printed with ATLAS Table C.1.

    Examples
    --------
    >>> float(unique_tokens()["sw"])
    770000000.0
    """
    table = _read("unique_tokens.csv")
    series = table.set_index("language")["unique_tokens"]
    series.attrs = table.attrs
    return series


def table_c1_laws(regime: str | None = None) -> pd.DataFrame:
    """Per-language monolingual laws of ATLAS Table C.1 (**provisional**).

    Form ``L = E + e^a / N^alpha + e^b / D^beta``. Recovered from a garbled text layer:
    the zh rows imply implausible loss levels and ``E = 0`` rows look like a bound. Use as
    weak priors or checks, never as ground truth.

    Parameters
    ----------
    regime
        ``"mono_vocab_mono_data"``, ``"multi_vocab_mono_data"``, ``"multi_vocab_unimax_data"``
        or None for all.
    """
    table = _read("table_c1_laws.csv")
    table["provisional"] = True
    if regime is None:
        return table
    known = sorted(table["regime"].unique())
    if regime not in known:
        raise ValueError(f"regime must be one of {known}, got {regime!r}")
    selected = table[table["regime"] == regime].reset_index(drop=True)
    selected.attrs = table.attrs
    return selected


def curse_fit() -> pd.Series:
    """The pooled curse-of-multilinguality fit (ATLAS Sec. 5): phi, psi, R^2 and exponents.

    Examples
    --------
    >>> float(curse_fit()["phi"]), float(curse_fit()["psi"])
    (0.11, -0.04)
    """
    table = _read("curse_fit.csv")
    series = table.set_index("quantity")["value"]
    series.attrs = table.attrs
    return series


def expansion_multipliers() -> pd.DataFrame:
    """Printed compute-optimal multipliers for K -> rK languages (ATLAS Sec. 5)."""
    return _read("expansion_multipliers.csv")


def crossover_tokens() -> pd.DataFrame:
    """Pretrain-vs-finetune crossover tokens at 2B parameters (ATLAS Sec. 6)."""
    return _read("crossover_tokens_2b.csv")


def crossover_compute_fits() -> pd.DataFrame:
    """Crossover compute fits ``C = coefficient * N^exponent`` consistent with the 2B crossovers."""
    return _read("crossover_compute_fits.csv")


def r2_table() -> pd.DataFrame:
    """Held-out R^2 of the compared laws (ATLAS Table 1)."""
    return _read("r2_table.csv")


def public_compute_optima() -> pd.DataFrame:
    """Compute-optimal N, D and D/N at 1e19-1e23 FLOPs implied by public runs (``data/EVIDENCE.md``).

    Rows per ``source`` (the package's fit of Epoch's runs with its 90% interval, Epoch's
    published point fit, Muennighoff et al.'s C4 fit) and ``compute``.
    """
    return _read("public_compute_optima.csv")


def table_c1_checks() -> pd.DataFrame:
    """What each decoded row of ATLAS Table C.1 implies (losses at 2B / 42B, tokens per parameter, ...).

    Derived here (``data/EVIDENCE.md``); the decode is provisional and fails several checks.
    """
    return _read("table_c1_checks.csv")


def _extracted_runs(file: str, frame: pd.DataFrame, meta: dict[str, object]) -> RunTable:
    table = RunTable.from_frame(frame, loss_unit="nats/token", meta={**meta, "provenance": _provenance_text(file)})
    return table


def misfitting_openlm() -> RunTable:
    """Li et al. 2025's open_lm runs ("(Mis)Fitting scaling laws"): final C4 loss per (N, D).

    81 runs of 11 model sizes (57M-1.18B parameters including embeddings) on 0.1-21B tokens,
    one per (N, D): the learning rate with the lowest final C4 eval loss among those tried
    (the authors' own selection). Extracted from hadasah/scaling_laws (pinned commit in
    ``data/provenance.csv``).

    Returns
    -------
    RunTable
        ``language`` ``"en"``; ``params`` (N incl. embeddings); ``tokens_en`` (D, one
        epoch); ``loss`` in nats/token (C4 evaluation). Extra columns: ``model``,
        ``params_no_embedding``, ``peak_lr``, ``lr_tried``, ``training_flop`` = 6ND.

    Examples
    --------
    >>> runs = misfitting_openlm()
    >>> len(runs), round(float(runs.frame["loss"].min()), 4)
    (81, 2.6851)
    """
    raw = _read("misfitting_openlm_runs.csv")
    frame = pd.DataFrame(
        {
            "run_id": raw["run_id"],
            "language": "en",
            "params": raw["params"].astype(float),
            "loss": raw["loss"].astype(float),
            "tokens_en": raw["tokens"].astype(float),
            "model": raw["model"],
            "params_no_embedding": raw["params_no_embedding"].astype(float),
            "peak_lr": raw["peak_lr"].astype(float),
            "lr_tried": raw["lr_tried"].astype(int),
            "training_flop": 6.0 * raw["params"].astype(float) * raw["tokens"].astype(float),
        }
    )
    return _extracted_runs(
        "misfitting_openlm_runs.csv",
        frame,
        {
            "dataset": "Li et al. 2025 open_lm runs (hadasah/scaling_laws), best learning rate per (N, D)",
            "units": "params: parameters incl. embeddings; tokens_en: D tokens; loss: C4 eval nats/token",
        },
    )


#: Porian et al.'s dataset tags -> the domain names of :func:`porian_isoflop`.
_PORIAN_DOMAINS = {"rw": "refinedweb", "owt2": "openwebtext2"}


def porian_isoflop() -> RunTable:
    """Porian et al. 2024's IsoFLOP runs on RefinedWeb and OpenWebText2 (cosine decay per budget).

    176 runs (88 per dataset): 12 FLOP budgets from 1.25e16 to 2.56e19 (doubling), 5-8 model
    sizes each (5.2M-0.9B parameters), each trained with a cosine schedule decayed to its own
    budget, so every loss is a final validation loss. Extracted from
    formll/resolving-scaling-law-discrepancies (pinned commit in ``data/provenance.csv``).

    Returns
    -------
    RunTable
        ``kind="domain"``: ``language`` is the training (and validation) dataset,
        ``"refinedweb"`` or ``"openwebtext2"``; ``tokens_<dataset>`` = budget / (6 N);
        ``loss`` in nats/token (GPT-NeoX tokenizer). Extra columns: ``flop_budget``
        (= ``training_flop``), ``dataset`` (the authors' tag).

    Examples
    --------
    >>> runs = porian_isoflop()
    >>> len(runs), sorted(runs.languages)
    (176, ['openwebtext2', 'refinedweb'])
    """
    raw = _read("porian_isoflop_runs.csv")
    domains = raw["dataset"].map(_PORIAN_DOMAINS)
    if domains.isna().any():
        raise ValueError(f"porian_isoflop_runs.csv: unknown dataset tags {sorted(set(raw['dataset']) - set(_PORIAN_DOMAINS))}")
    frame = pd.DataFrame(
        {
            "run_id": raw["run_id"],
            "language": domains,
            "params": raw["params"].astype(float),
            "loss": raw["loss"].astype(float),
            "dataset": raw["dataset"],
            "flop_budget": raw["flop_budget"].astype(float),
            "training_flop": raw["flop_budget"].astype(float),
        }
    )
    for domain in _PORIAN_DOMAINS.values():
        frame[f"tokens_{domain}"] = np.where(domains == domain, raw["tokens"].astype(float), 0.0)
    table = RunTable.from_frame(
        frame,
        kind="domain",
        meta={
            "dataset": "Porian et al. 2024 IsoFLOP runs, cosine decay to each budget (formll/resolving-scaling-law-discrepancies)",
            "units": "language: training dataset; tokens_<dataset>: budget / (6 params); loss: validation nats/token",
            "provenance": _provenance_text("porian_isoflop_runs.csv"),
        },
    )
    return table


#: The corpora of :func:`public_pool`: group name -> (loader, what it is).
PUBLIC_POOL_GROUPS = {
    "massivetext_chinchilla": "Hoffmann et al. 2022 runs digitised by Epoch AI (MassiveText, nats/token)",
    "c4_datablations": "Muennighoff et al. 2023, the single-epoch runs (C4 validation, GPT-2 tokenizer)",
    "c4_openlm": "Li et al. 2025 open_lm runs, best learning rate per (N, D) (C4 evaluation)",
    "refinedweb_porian": "Porian et al. 2024 IsoFLOP runs on RefinedWeb (GPT-NeoX tokenizer)",
    "openwebtext2_porian": "Porian et al. 2024 IsoFLOP runs on OpenWebText2 (GPT-NeoX tokenizer)",
}


def public_pool() -> RunTable:
    """The public English run tables pooled, one group per (table, corpus).

    Five groups (:data:`PUBLIC_POOL_GROUPS`), as ``kind="domain"`` with the group name as
    ``language``: Epoch's 245 Chinchilla runs, the 41 single-epoch runs of datablations
    (repeated-data runs are left out: on total tokens the Chinchilla law cannot describe them),
    Li et al.'s 81 open_lm runs and Porian et al.'s 2 x 88 IsoFLOP runs. Every loss is a
    final validation loss in nats per token, but on a different evaluation set and tokenizer:
    a fit gives each group its own loss level (in ``LawConfig(population_space="shares")`` the
    level is a coordinate of its own, so the groups still share how the loss splits between
    floor and terms and the exponents). Goldfish is not in the pool: its runs grow model and
    data together at up to 125M parameters (the exponents are not separately identified there)
    and its losses are per sentence.

    Returns
    -------
    RunTable
        Columns ``run_id``, ``language`` (the group), ``params``, ``loss`` (nats/token),
        ``tokens_<group>`` (training tokens, one epoch), ``table`` (the source loader).
        Needs the mirror or network for Epoch's and datablations' files.

    Examples
    --------
    >>> runs = public_pool()  # doctest: +SKIP
    >>> runs.frame.groupby("language").size().to_dict()  # doctest: +SKIP
    {'c4_datablations': 41, 'c4_openlm': 81, 'massivetext_chinchilla': 245, 'openwebtext2_porian': 88, 'refinedweb_porian': 88}
    """
    parts = []

    def add(group: str, table: str, frame: pd.DataFrame, tokens: pd.Series) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "run_id": f"{group}/" + frame["run_id"].astype(str),
                    "language": group,
                    "params": frame["params"].to_numpy(dtype=float),
                    "loss": frame["loss"].to_numpy(dtype=float),
                    "tokens": tokens.to_numpy(dtype=float),
                    "table": table,
                }
            )
        )

    epoch = chinchilla_epoch().frame
    add("massivetext_chinchilla", "chinchilla_epoch", epoch, epoch["tokens_en"])
    blations = datablations().frame
    single = blations[(blations["epochs"] <= 1.0 + 1e-9) & ~blations["diverged"].astype(bool)]
    add("c4_datablations", "datablations", single, single["tokens_en"])
    openlm = misfitting_openlm().frame
    add("c4_openlm", "misfitting_openlm", openlm, openlm["tokens_en"])
    porian = porian_isoflop().frame
    for domain in ("refinedweb", "openwebtext2"):
        rows = porian[porian["language"] == domain]
        add(f"{domain}_porian", "porian_isoflop", rows, rows[f"tokens_{domain}"])
    frame = pd.concat(parts, ignore_index=True)
    for group in PUBLIC_POOL_GROUPS:
        frame[f"tokens_{group}"] = np.where(frame["language"] == group, frame["tokens"], 0.0)
    return RunTable.from_frame(
        frame.drop(columns="tokens"),
        kind="domain",
        meta={
            "dataset": "public English run tables pooled: " + "; ".join(f"{k}: {v}" for k, v in PUBLIC_POOL_GROUPS.items()),
            "units": "language: the group (table, corpus); tokens_<group>: training tokens; loss: validation nats/token",
        },
    )
