"""What a law is evaluated at: the arrays of a run table, or of runs a decision considers.

:class:`Design` holds, per row (a training run evaluated on one language), what every law's
mean reads: log model size, total / own / transfer / other tokens, unique tokens, mixture
size, family share and whether the run continued a checkpoint. Arrays broadcast: a row axis
may be any batch shape (a grid of model sizes by posterior draws, say), and the transfer
arrays carry one more, last, axis for the (up to) three named transfer sources.

:func:`prepare_law_data` turns a validated run table into a :class:`LawData` (a Design plus
the row labels a fit needs); :meth:`Design.of_run` builds the rows of a hypothetical run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["MAX_TRANSFER_SOURCES", "Design", "LawData", "family_share", "prepare_law_data", "same_family"]

#: Named transfer sources per row (the rest of the mixture counts as "other" tokens).
MAX_TRANSFER_SOURCES = 3


@dataclass(frozen=True)
class Design:
    """Rows a law is evaluated at (numpy arrays that broadcast; see the module docstring).

    Attributes
    ----------
    log_params
        log N.
    total_tokens
        Training tokens of the run, all languages.
    target_tokens, target_unique
        Tokens of the evaluated language and their unique count (inf: never repeated).
    transfer_tokens, transfer_unique
        ``(..., MAX_TRANSFER_SOURCES)``: tokens of the named transfer sources (0 where unused).
    other_tokens
        Every other token of the run.
    mixture_size
        K, the number of named languages with tokens (curse law).
    family_share
        Share of the run's tokens in the target's language family (MSL's ``p``).
    finetuned
        1 where the run continued a multilingual checkpoint (finetune law), else 0.
    """

    log_params: np.ndarray
    total_tokens: np.ndarray
    target_tokens: np.ndarray
    target_unique: np.ndarray
    transfer_tokens: np.ndarray
    transfer_unique: np.ndarray
    other_tokens: np.ndarray
    mixture_size: np.ndarray
    family_share: np.ndarray
    finetuned: np.ndarray

    @classmethod
    def of_run(
        cls,
        *,
        params: Any,
        tokens: Any,
        unique: Any = np.inf,
        transfer_tokens: Any = None,
        transfer_unique: Any = np.inf,
        other_tokens: Any = 0.0,
        mixture_size: Any = 1.0,
        family_share: Any = 1.0,
        finetuned: Any = 0.0,
    ) -> Design:
        """Rows of hypothetical runs: ``params`` parameters, ``tokens`` of the target's own text.

        ``transfer_tokens`` (last axis: sources, at most :data:`MAX_TRANSFER_SOURCES`) and
        ``other_tokens`` add co-training data; the total is their sum with ``tokens``.

        Examples
        --------
        >>> d = Design.of_run(params=1e9, tokens=2e10, transfer_tokens=[1e10])
        >>> round(float(np.exp(d.log_params))), float(d.total_tokens), d.transfer_tokens.tolist()
        (1000000000, 30000000000.0, [10000000000.0, 0.0, 0.0])
        """
        params = np.asarray(params, dtype=float)
        tokens = np.asarray(tokens, dtype=float)
        shape = np.broadcast_shapes(params.shape, tokens.shape)
        if transfer_tokens is None:
            transfer = np.zeros((*shape, MAX_TRANSFER_SOURCES))
        else:
            transfer = np.asarray(transfer_tokens, dtype=float)
            if transfer.shape[-1] > MAX_TRANSFER_SOURCES:
                raise ValueError(f"at most {MAX_TRANSFER_SOURCES} named transfer sources per row")
            pad = MAX_TRANSFER_SOURCES - transfer.shape[-1]
            transfer = np.concatenate([transfer, np.zeros((*transfer.shape[:-1], pad))], axis=-1)
        transfer_unique = np.asarray(transfer_unique, dtype=float)
        if transfer_unique.ndim and transfer_unique.shape[-1] < MAX_TRANSFER_SOURCES:
            pad = MAX_TRANSFER_SOURCES - transfer_unique.shape[-1]
            transfer_unique = np.concatenate([transfer_unique, np.full((*transfer_unique.shape[:-1], pad), np.inf)], axis=-1)
        other = np.asarray(other_tokens, dtype=float)
        return cls(
            log_params=np.log(params) + np.zeros(shape),
            total_tokens=tokens + transfer.sum(axis=-1) + other,
            target_tokens=tokens + np.zeros(shape),
            target_unique=np.asarray(unique, dtype=float) + np.zeros(shape),
            transfer_tokens=transfer,
            transfer_unique=np.broadcast_to(transfer_unique, transfer.shape),
            other_tokens=other + np.zeros(shape),
            mixture_size=np.asarray(mixture_size, dtype=float) + np.zeros(shape),
            family_share=np.asarray(family_share, dtype=float) + np.zeros(shape),
            finetuned=np.asarray(finetuned, dtype=float) + np.zeros(shape),
        )

    def subset(self, rows: np.ndarray) -> Design:
        """The design restricted to ``rows`` (index or mask on the first axis)."""
        return Design(**{f.name: getattr(self, f.name)[rows] for f in fields(Design)})

    def replace(self, **changes: Any) -> Design:
        """A copy with some arrays replaced."""
        values = {f.name: getattr(self, f.name) for f in fields(Design)}
        values.update(changes)
        return Design(**values)


@dataclass(frozen=True)
class LawData(Design):
    """A run table's :class:`Design` with the labels of its rows (one entry per row).

    Attributes
    ----------
    languages
        Evaluated languages, in the order of ``language_index``.
    language_index
        Per row, the position of its language in ``languages``.
    transfer_pair
        ``(rows, MAX_TRANSFER_SOURCES)``: index into ``pairs`` of each used transfer slot (0
        where unused).
    pairs
        ``(target, source)`` transfer pairs seen in the table.
    log_loss
        Observed log loss.
    run_ids
        Run id per row.
    """

    languages: tuple[str, ...] = ()
    language_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    transfer_pair: np.ndarray = field(default_factory=lambda: np.zeros((0, MAX_TRANSFER_SOURCES), dtype=np.int64))
    pairs: tuple[tuple[str, str], ...] = ()
    log_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    run_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    @property
    def n_rows(self) -> int:
        return int(self.log_params.size)

    @property
    def design(self) -> Design:
        """The law-facing arrays only."""
        return Design(**{f.name: getattr(self, f.name) for f in fields(Design)})


def prepare_law_data(runs: Any, *, with_family_share: bool = False) -> LawData:
    """Turn a :class:`bayes_atlas.runs.RunTable` into law arrays.

    ``K_t`` for each row: the (up to) three named sources other than the target with the most
    tokens, ties broken by language code; every other token counts as ``other``. The
    mixture size ``K`` (curse law) counts the named languages with tokens, at least 1; a row
    is ``finetuned`` when its ``checkpoint`` column is set. ``family_share`` is computed
    only when asked (it needs language metadata), else 1.
    """
    frame = runs.frame
    tokens = runs.tokens
    unique = runs.unique_tokens
    languages = tuple(runs.languages)
    position = {code: i for i, code in enumerate(languages)}
    named = [s for s in tokens.columns if s != "other"]
    n = len(frame)
    target_tokens = np.zeros(n)
    target_unique = np.full(n, np.inf)
    transfer_tokens = np.zeros((n, MAX_TRANSFER_SOURCES))
    transfer_unique = np.full((n, MAX_TRANSFER_SOURCES), np.inf)
    transfer_pair = np.zeros((n, MAX_TRANSFER_SOURCES), dtype=np.int64)
    other_tokens = np.zeros(n)
    pair_index: dict[tuple[str, str], int] = {}
    token_values = tokens.to_numpy(dtype=float)
    unique_values = unique.reindex(columns=tokens.columns).to_numpy(dtype=float)
    column = {s: j for j, s in enumerate(tokens.columns)}
    for i, target in enumerate(frame["language"].to_numpy()):
        row = token_values[i]
        if target in column:
            target_tokens[i] = row[column[target]]
            if np.isfinite(unique_values[i, column[target]]):
                target_unique[i] = unique_values[i, column[target]]
        candidates = [s for s in named if s != target and row[column[s]] > 0]
        candidates.sort(key=lambda s: (-row[column[s]], s))
        chosen = candidates[:MAX_TRANSFER_SOURCES]
        for k, source in enumerate(chosen):
            transfer_tokens[i, k] = row[column[source]]
            if np.isfinite(unique_values[i, column[source]]):
                transfer_unique[i, k] = unique_values[i, column[source]]
            transfer_pair[i, k] = pair_index.setdefault((target, source), len(pair_index))
        used = {target, *chosen}
        other_tokens[i] = sum(row[column[s]] for s in tokens.columns if s not in used)
    mixture = np.maximum((token_values[:, [column[s] for s in named]] > 0).sum(axis=1), 1).astype(float) if named else np.ones(n)
    return LawData(
        log_params=np.log(frame["params"].to_numpy(dtype=float)),
        total_tokens=token_values.sum(axis=1),
        target_tokens=target_tokens,
        target_unique=target_unique,
        transfer_tokens=transfer_tokens,
        transfer_unique=transfer_unique,
        other_tokens=other_tokens,
        mixture_size=mixture,
        family_share=family_share(runs) if with_family_share else np.ones(n),
        finetuned=(frame["checkpoint"].notna().to_numpy() if "checkpoint" in frame.columns else np.zeros(n, dtype=bool)).astype(
            float
        ),
        languages=languages,
        language_index=frame["language"].map(position).to_numpy(dtype=np.int64),
        transfer_pair=transfer_pair,
        pairs=tuple(pair_index),
        log_loss=np.log(frame["loss"].to_numpy(dtype=float)),
        run_ids=frame["run_id"].astype(str).to_numpy(),
    )


def same_family(target: str, languages: list[str] | tuple[str, ...]) -> np.ndarray:
    """Per language of ``languages``: is it ``target`` or of ``target``'s language family (MSL's p)?"""
    from bayes_atlas.languages import language_info

    def family(code: str) -> str | None:
        try:
            return language_info(code)["family"]
        except ValueError:
            return None

    mine = family(target)
    return np.array([c == target or (mine is not None and family(c) == mine) for c in languages])


def family_share(runs: Any) -> np.ndarray:
    """Share of each row's tokens in languages of the evaluated language's family (MSL's p)."""
    from bayes_atlas.languages import language_info

    tokens = runs.tokens
    family = {}
    for code in [*tokens.columns, *runs.languages]:
        if code not in family:
            try:
                family[code] = language_info(code)["family"] if code != "other" else None
            except ValueError:
                family[code] = None
    total = tokens.sum(axis=1).to_numpy()
    share = np.empty(len(runs))
    for i, target in enumerate(runs.frame["language"].to_numpy()):
        same = [c for c in tokens.columns if c == target or (family[c] is not None and family[c] == family[target])]
        share[i] = tokens.iloc[i][same].sum() / total[i]
    return np.clip(share, 1e-6, 1.0)
