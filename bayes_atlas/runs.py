"""The run-table schema: one row per (training run, evaluation language).

A run table is what every law in this package is fitted to. Its validated form,
:attr:`RunTable.frame`, is a pandas DataFrame in **wide** form:

===================== ========================================================================
column                meaning
===================== ========================================================================
``run_id``            identifier of the training run (str); a run evaluated on several
                      languages has one row per evaluation language, and those rows share
                      ``params`` and every ``tokens_*`` / ``unique_*`` value
``language``          evaluation language (ISO 639 code; a Pile domain for ``kind="domain"``)
``params``            model parameters N (> 1, at most 1e13)
``loss``              evaluation loss (> 0) in :attr:`RunTable.loss_unit`
``tokens_<source>``   training tokens drawn from each source language (>= 0, at most 1e15);
                      ``tokens_other`` holds all remaining languages (the ATLAS D_other)
``unique_<source>``   optional: unique tokens available for that source (> 0); missing means
                      unlimited (no repetition)
``mixture``           optional: mixture id (str)
``vocab``             optional: vocabulary label (str), ``vocab_size`` optional int
``checkpoint``        optional: id of the checkpoint a finetune started from (str)
``checkpoint_tokens`` optional: tokens the starting checkpoint was trained on
===================== ========================================================================

Other columns are kept as they are. Tokens may also be given **long**, with one row per
(run, evaluation language, source) and columns ``source``, ``tokens`` and optionally
``unique_tokens``; :meth:`RunTable.from_frame` pivots them to the wide form, and problems
are still reported by the rows of the long table.

Language codes (``kind="language"``): the ``language`` column and the codes in the
``tokens_<code>`` / ``unique_<code>`` column names (or the long ``source`` column) are
normalised the same way, by :func:`bayes_atlas.languages.normalize_code` (``eng`` -> ``en``,
``swh`` -> ``sw``, ``hau_Latn`` -> ``ha``), so ``language = "eng"`` and ``tokens_en`` are
the same language. A region or non-default script subtag (``en-US``, ``en-GB``,
``zh-Hant``) is then dropped to the base language, with a note in ``meta["notes"]``, unless
the table uses it to tell varieties apart (its evaluation languages, or its sources, hold
two forms of the same language such as ``zh`` and ``zh-Hant``: then every form is kept).
Two columns that name the same language (``tokens_en`` and ``tokens_eng``), and the special
codes ``mul``, ``und``, ``zxx`` and ``mis``, are refused.

Losses: ``bits/token`` is converted to ``nats/token`` and ``bits/byte`` to ``nats/byte``
when the table is built (``meta["loss_unit_given"]`` keeps the unit given);
``bits/sequence`` (e.g. Goldfish) is kept as it is.

Validation uses a declared :mod:`pandera` schema for single cells plus table-wide rules;
every problem found is reported at once in one :class:`RunTableError` that names the
row(s), the column, the rule and what to do. Values that are merely implausible (a units
slip?) give a :class:`RunTableWarning` instead.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_atlas.errors import RunTableError, RunTableWarning, UnknownLanguageError
from bayes_atlas.languages import NOT_LANGUAGES, OTHER_SOURCE, normalize_code

__all__ = [
    "LOSS_UNITS",
    "MAX_PARAMS",
    "MAX_TOKENS",
    "MIN_LOSS",
    "PER_BYTE_LOSS_LIMIT",
    "PER_TOKEN_LOSS_LIMIT",
    "RunTable",
    "RunTableError",
    "RunTableWarning",
]

#: Above this many parameters a value is taken for a units slip.
MAX_PARAMS = 1e13
#: Above this many tokens (per source or in total) a value is taken for a units slip.
MAX_TOKENS = 1e15
#: A per-token cross-entropy above this (nats; bits are converted) is not per-token:
#: even a uniform guess over a 1M-entry vocabulary costs ln(1e6) = 13.8 nats.
PER_TOKEN_LOSS_LIMIT = 20.0
#: A per-byte cross-entropy above this (nats) is not per-byte: a uniform guess over the
#: 256 byte values costs ln(256) = 5.5 nats.
PER_BYTE_LOSS_LIMIT = 10.0
#: A loss below this (in any unit) is a numerical artefact (an underflow), not a measurement.
MIN_LOSS = 1e-6
#: Below this many parameters in every row, ``params`` looks like millions or billions (BA301).
SMALL_PARAMS = 1e4
#: Below this many tokens in every row, tokens look like billions or millions (BA302).
SMALL_TOKENS = 1e5
#: Loss units a run table may declare, and whether each is a per-token cross-entropy (only
#: those feed the ATLAS laws directly). Bits are converted to nats on construction.
LOSS_UNITS = {
    "nats/token": True,
    "bits/token": True,
    "nats/byte": False,
    "bits/byte": False,
    "bits/sequence": False,
}
#: Units converted on construction: given unit -> (stored unit, factor).
_CONVERT = {"bits/token": ("nats/token", float(np.log(2.0))), "bits/byte": ("nats/byte", float(np.log(2.0)))}

REQUIRED_COLUMNS = ("run_id", "language", "params", "loss")
TOKEN_PREFIX = "tokens_"
UNIQUE_PREFIX = "unique_"
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


# RunTableError and RunTableWarning live in bayes_atlas.errors with every other exception class.


@dataclass(frozen=True)
class _Problem:
    column: str
    rule: str
    rows: tuple[object, ...]
    values: tuple[object, ...] = ()

    def render(self) -> str:
        rows = list(self.rows)
        shown = ", ".join(str(r) for r in rows[:8]) + (f", ... ({len(rows)} rows)" if len(rows) > 8 else "")
        where = f"row{'s' if len(rows) != 1 else ''} [{shown}]" if rows else "table"
        got = ""
        if self.values:
            vals = [repr(v) for v in self.values[:5]]
            got = f" (got {', '.join(vals)}{', ...' if len(self.values) > 5 else ''})"
        return f"  - column '{self.column}', {where}: {self.rule}{got}"


@dataclass
class _Origin:
    """Where each row (and token cell) of a pivoted long table came from in the user's table."""

    rows: list[tuple[int, ...]]
    cells: dict[tuple[int, str], int]

    def translate(self, problem: _Problem) -> _Problem:
        """The problem with rows of the long table and long column names."""
        rows: set[int] = set()
        for row in problem.rows:
            if not isinstance(row, (int, np.integer)) or not 0 <= int(row) < len(self.rows):
                continue
            cell = self.cells.get((int(row), problem.column))
            rows.update([cell] if cell is not None else self.rows[int(row)])
        return replace(problem, column=_long_column(problem.column), rows=tuple(sorted(rows)))


def _long_column(column: str) -> str:
    if column == "tokens_*":
        return "tokens"
    for prefix, name in ((TOKEN_PREFIX, "tokens"), (UNIQUE_PREFIX, "unique_tokens")):
        if column.startswith(prefix):
            return f"{name} (source {column[len(prefix) :]})"
    return column


def _raise(problems: list[_Problem], source: str) -> None:
    if not problems:
        return
    lines = "\n".join(p.render() for p in problems)
    raise RunTableError(
        f"invalid run table{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''}\n{lines}\n"
        "Rows are 0-based positions in the table (in a CSV file, line = row + 2)."
    )


def _schema(token_columns: list[str], unique_columns: list[str]):  # noqa: ANN202
    """The single-cell rules (the language column is checked by :func:`_check_codes`)."""
    import pandera.pandas as pa

    finite = pa.Check(lambda s: np.isfinite(s), element_wise=False, error="must be finite (no NaN or inf)")
    columns: dict[str, pa.Column] = {
        "run_id": pa.Column(str, nullable=False, coerce=True),
        "params": pa.Column(
            float,
            [
                finite,
                pa.Check.gt(0, error="must be > 0 (model parameters)"),
                pa.Check(
                    lambda s: (s <= 0) | (s > 1),
                    error="a model has more than 1 parameter: a placeholder, or sizes in millions/billions? "
                    "give raw parameter counts (e.g. 1.3e8)",
                ),
                pa.Check.le(MAX_PARAMS, error=f"N > {MAX_PARAMS:.0e} parameters is implausible: a units slip?"),
            ],
            nullable=False,
            coerce=True,
        ),
        "loss": pa.Column(
            float,
            [
                finite,
                pa.Check.gt(0, error="must be > 0 (a loss)"),
                pa.Check(
                    lambda s: (s <= 0) | (s >= MIN_LOSS),
                    error=f"below {MIN_LOSS:g}: no model is this certain (an underflow, or a probability or "
                    "accuracy in the loss column?); give the mean cross-entropy",
                ),
            ],
            nullable=False,
            coerce=True,
        ),
    }
    for name in token_columns:
        columns[name] = pa.Column(
            float,
            [
                finite,
                pa.Check.ge(0, error="must be >= 0 (tokens cannot be negative)"),
                pa.Check.le(MAX_TOKENS, error=f"D > {MAX_TOKENS:.0e} tokens is implausible: a units slip?"),
            ],
            nullable=False,
            coerce=True,
        )
    for name in unique_columns:
        columns[name] = pa.Column(
            float,
            [
                pa.Check(lambda s: ~np.isinf(s), error="must be finite (leave empty for unlimited)"),
                pa.Check.gt(0, error="must be > 0 (leave empty for unlimited)"),
                pa.Check.le(MAX_TOKENS, error=f"U > {MAX_TOKENS:.0e} tokens is implausible: a units slip?"),
            ],
            nullable=True,
            coerce=True,
        )
    optional = {
        "mixture": pa.Column(str, nullable=True, required=False),
        "vocab": pa.Column(str, nullable=True, required=False),
        "vocab_size": pa.Column(float, pa.Check.gt(0, error="must be > 0"), nullable=True, required=False, coerce=True),
        "checkpoint": pa.Column(str, nullable=True, required=False),
        "checkpoint_tokens": pa.Column(
            float,
            [pa.Check.ge(0, error="must be >= 0"), pa.Check.le(MAX_TOKENS, error="implausibly large: a units slip?")],
            nullable=True,
            required=False,
            coerce=True,
        ),
    }
    columns.update(optional)
    return pa.DataFrameSchema(columns, strict=False, ordered=False)


def _canonical_source(code: object, kind: str) -> object:
    """The canonical code of a long-form ``source`` value (unchanged if it is not a language code)."""
    if kind != "language" or not isinstance(code, str) or code.strip() == OTHER_SOURCE:
        return code.strip() if isinstance(code, str) else code
    try:
        return normalize_code(code)
    except UnknownLanguageError:
        return code.strip()


def _from_long(frame: pd.DataFrame, kind: str, source: str) -> tuple[pd.DataFrame, _Origin, list[_Problem]]:
    """Pivot (run, language, source) rows to one row per (run, language) with tokens_<source>.

    Returns the wide table, where each of its rows and token cells came from, and the
    problems found in the long rows (numbered by the long table's rows).
    """
    problems: list[_Problem] = []
    keys = ["run_id", "language"]
    for column, what in (("run_id", "its run"), ("language", "its evaluation language"), ("source", "its source language")):
        empty = frame[column].isna()
        if empty.any():
            problems.append(_Problem(column, f"must not be empty: every long row names {what}", tuple(frame.index[empty])))
    _raise(problems, source)  # rows that cannot be placed: nothing below is meaningful
    frame = frame.copy()
    frame["source"] = frame["source"].map(lambda c: _canonical_source(c, kind))

    tokens = pd.to_numeric(frame["tokens"], errors="coerce")
    not_numeric = tokens.isna() & frame["tokens"].notna()
    if not_numeric.any():
        problems.append(
            _Problem("tokens", "must be a number", tuple(frame.index[not_numeric]), tuple(frame.loc[not_numeric, "tokens"]))
        )
    empty = frame["tokens"].isna()
    if empty.any():
        problems.append(
            _Problem(
                "tokens",
                "must not be empty: a missing token count is not 0; write 0 if the run saw none of this source, or drop the row",
                tuple(frame.index[empty]),
            )
        )
    has_unique = "unique_tokens" in frame.columns
    unique = pd.to_numeric(frame["unique_tokens"], errors="coerce") if has_unique else None
    if unique is not None:
        bad = unique.isna() & frame["unique_tokens"].notna()
        if bad.any():
            problems.append(
                _Problem(
                    "unique_tokens",
                    "must be a number (leave empty for unlimited)",
                    tuple(frame.index[bad]),
                    tuple(frame.loc[bad, "unique_tokens"]),
                )
            )

    dup = frame.duplicated(keys + ["source"], keep=False)
    if dup.any():
        problems.append(
            _Problem(
                "source",
                "each (run_id, language, source) may appear once (source codes are normalised: 'eng' is 'en'); "
                "merge the rows, adding their tokens",
                tuple(frame.index[dup]),
                tuple(frame.loc[dup, "source"]),
            )
        )
        _raise(problems, source)

    value_columns = ["tokens"] + (["unique_tokens"] if has_unique else [])
    run_level = [c for c in frame.columns if c not in keys + ["source"] + value_columns]
    group = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    n_groups = int(group.max()) + 1
    for column in run_level:
        varying = frame.groupby(group)[column].transform(lambda s: s.nunique(dropna=False)) > 1
        if varying.any():
            problems.append(
                _Problem(
                    column,
                    "must be the same on every source row of a (run_id, language); fix the differing rows",
                    tuple(frame.index[varying]),
                    tuple(frame.loc[varying, column]),
                )
            )

    positions = np.arange(len(frame))
    rows = [tuple(int(i) for i in positions[group == g]) for g in range(n_groups)]
    wide = frame[keys + run_level].groupby(group, sort=True).first().reset_index(drop=True)
    cells: dict[tuple[int, str], int] = {}
    token_values = tokens.fillna(0.0).to_numpy(dtype=float)  # empty / non-numeric cells are reported above
    sources = list(pd.unique(frame["source"]))
    columns: dict[str, np.ndarray] = {}
    for name in sources:
        mask = (frame["source"] == name).to_numpy()
        column = f"{TOKEN_PREFIX}{name}"
        values = np.zeros(n_groups)
        values[group[mask]] = token_values[mask]
        columns[column] = values
        cells.update({(int(g), column): int(i) for g, i in zip(group[mask], positions[mask], strict=True)})
    if unique is not None:
        unique_values = unique.to_numpy(dtype=float)
        for name in sources:
            mask = (frame["source"] == name).to_numpy()
            column = f"{UNIQUE_PREFIX}{name}"
            values = np.full(n_groups, np.nan)
            values[group[mask]] = unique_values[mask]
            columns[column] = values
            cells.update({(int(g), column): int(i) for g, i in zip(group[mask], positions[mask], strict=True)})
    wide = pd.concat([wide, pd.DataFrame(columns)], axis=1)
    return wide, _Origin(rows, cells), problems


def _base(tag: str) -> str:
    return tag.split("-")[0]


@dataclass
class _Codes:
    """Language codes of a table after normalisation (see the module docstring)."""

    language: pd.Series  # the final code of each row; the given value where it is invalid
    valid: pd.Series  # True where the row's language is a valid code
    columns: dict[str, str]  # token/unique column -> its final name
    problems: list[_Problem]
    notes: list[str]


def _check_codes(frame: pd.DataFrame, token_columns: list[str], unique_columns: list[str], kind: str, long: bool) -> _Codes:
    """Check and normalise the ``language`` column and the codes in the token column names."""
    problems: list[_Problem] = []
    notes: list[str] = []
    values = frame["language"]
    all_rows = tuple(range(len(frame))) if long else ()
    empty = values.isna()
    if empty.any():
        problems.append(
            _Problem("language", "must not be empty: name the evaluation language (e.g. 'ca')", tuple(frame.index[empty]))
        )
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    not_text = values.notna() & ~values.map(lambda v: isinstance(v, str))
    if not_text.any():
        problems.append(
            _Problem(
                "language",
                "must be a code written as text (e.g. 'ca', 'sw')" if kind == "language" else "must be a domain name (text)",
                tuple(frame.index[not_text]),
                tuple(values[not_text]),
            )
        )
    is_text = values.map(lambda v: isinstance(v, str))
    columns: dict[str, str] = {c: c for c in token_columns + unique_columns}

    if kind != "language":
        bad = is_text & ~text.map(lambda v: bool(_DOMAIN_RE.match(v)) if isinstance(v, str) else False)
        if bad.any():
            problems.append(
                _Problem(
                    "language",
                    "must be a simple domain name (letters, digits, '_', '.', '-')",
                    tuple(frame.index[bad]),
                    tuple(values[bad]),
                )
            )
        for column in token_columns + unique_columns:
            prefix = TOKEN_PREFIX if column.startswith(TOKEN_PREFIX) else UNIQUE_PREFIX
            if not _DOMAIN_RE.match(column[len(prefix) :]):
                problems.append(_Problem(column, f"'{column[len(prefix) :]}' is not a simple domain name", all_rows))
        _unmatched_unique(columns, unique_columns, problems, all_rows)
        return _Codes(text, is_text & ~bad, columns, problems, notes)

    canonical: dict[str, str] = {}
    unknown: list[str] = []
    special: list[str] = []
    for value in pd.unique(text[is_text]):
        try:
            canonical[value] = normalize_code(value)
        except UnknownLanguageError:
            (special if _base(value.replace("_", "-")).lower() in NOT_LANGUAGES else unknown).append(value)
    for found, rule in (
        (unknown, "must be a known ISO 639 language code (e.g. 'ca' or 'cat', 'sw' or 'swh'); "
         "`bayes-atlas languages CODE` shows what a code names"),
        (special, "must name one language: 'mul', 'und', 'zxx' and 'mis' are ISO 639 special codes; "
         "give one row per evaluation language"),
    ):  # fmt: skip
        rows = text.isin(found) & is_text
        if rows.any():
            problems.append(_Problem("language", rule, tuple(frame.index[rows]), tuple(values[rows])))

    column_codes: dict[str, str] = {}
    for column in token_columns + unique_columns:
        prefix = TOKEN_PREFIX if column.startswith(TOKEN_PREFIX) else UNIQUE_PREFIX
        code = column[len(prefix) :]
        if code == OTHER_SOURCE and prefix == TOKEN_PREFIX:
            continue
        try:
            column_codes[column] = normalize_code(code)
        except UnknownLanguageError:
            if _base(code.replace("_", "-")).lower() in NOT_LANGUAGES:
                rule = (
                    f"'{code}' names no single language (ISO 639 special code for "
                    f"{NOT_LANGUAGES[_base(code.replace('_', '-')).lower()]}); give each language its own "
                    f"'{prefix}<code>' column and put the rest in 'tokens_other'"
                )
            else:
                rule = (
                    f"'{code}' is not a known language code; name columns '{prefix}<ISO 639 code>' "
                    f"(e.g. '{prefix}ca', '{prefix}swh'), or put these tokens in 'tokens_other'"
                )
            problems.append(_Problem(column, rule, all_rows))

    # Subtags: drop to the base language unless the table uses them to tell varieties apart.
    language_tags = set(canonical.values())
    source_tags = set(column_codes.values())
    split = {
        _base(tag)
        for tags in (language_tags, source_tags)
        for tag in tags
        if len({t for t in tags if _base(t) == _base(tag)}) > 1
    }

    def final(tag: str) -> str:
        return tag if _base(tag) in split else _base(tag)

    for base in sorted(split):
        forms = sorted({t for t in language_tags | source_tags if _base(t) == base})
        notes.append(f"language forms {', '.join(repr(f) for f in forms)} kept apart: the table holds more than one of them")
    for given, tag in sorted(canonical.items()):
        if final(tag) != tag:
            notes.append(f"language {given!r} read as {final(tag)!r} (the region/script subtag is dropped)")
    for column, tag in column_codes.items():
        prefix = TOKEN_PREFIX if column.startswith(TOKEN_PREFIX) else UNIQUE_PREFIX
        columns[column] = f"{prefix}{final(tag)}"
        if columns[column] != column:
            notes.append(f"column {column!r} read as {columns[column]!r}")
    by_name: dict[str, list[str]] = {}
    for column, name in columns.items():
        by_name.setdefault(name, []).append(column)
    for name, given in by_name.items():
        if len(given) > 1:
            prefix = TOKEN_PREFIX if name.startswith(TOKEN_PREFIX) else UNIQUE_PREFIX
            spellings = " and ".join(repr(c[len(prefix) :]) for c in given)
            problems.append(
                _Problem(
                    ", ".join(given),
                    f"{spellings} are the same language {name[len(prefix) :]!r}: keep one column "
                    "(add the tokens together if both hold some)",
                    all_rows,
                )
            )
    _unmatched_unique(columns, unique_columns, problems, all_rows)
    valid = text.isin(list(canonical)) & is_text
    language = text.where(~valid, text.map(lambda v: final(canonical[v]) if v in canonical else v))
    return _Codes(language, valid, columns, problems, notes)


def _unmatched_unique(
    columns: dict[str, str], unique_columns: list[str], problems: list[_Problem], rows: tuple[int, ...]
) -> None:
    """Add a problem for each ``unique_<code>`` column without a ``tokens_<code>`` column."""
    token_names = {name for column, name in columns.items() if column.startswith(TOKEN_PREFIX)}
    for column in unique_columns:
        wanted = TOKEN_PREFIX + columns[column][len(UNIQUE_PREFIX) :]
        if wanted not in token_names:
            problems.append(_Problem(column, f"has no matching '{wanted}' column: add it, or drop '{column}'", rows))


#: Column that marks simulated runs (written by :func:`bayes_atlas.simulate.atlas_study`).
EMULATION_COLUMN = "simulated_by"


@dataclass(frozen=True)
class RunTable:
    """A validated run table (see the module docstring for the schema).

    Build one with :meth:`from_frame` or :meth:`from_csv`; the validated DataFrame is
    :attr:`frame`.

    Attributes
    ----------
    frame
        One row per (run, evaluation language), wide token columns.
    loss_unit
        ``"nats/token"`` (default), ``"nats/byte"`` or ``"bits/sequence"``: losses given in
        bits per token or per byte are stored in nats (``meta["loss_unit_given"]`` keeps the
        unit given).
    kind
        ``"language"`` (sources and evaluation targets are languages) or ``"domain"``
        (e.g. Pile domains in RegMix).
    meta
        Free-form provenance (dataset, units, origin); ``notes`` lists what validation
        changed (codes read as another form, a file read with another separator).

    Examples
    --------
    >>> import pandas as pd
    >>> runs = RunTable.from_frame(pd.DataFrame({
    ...     "run_id": ["r1", "r2"], "language": ["ca", "ca"], "params": [1e8, 4e8],
    ...     "loss": [3.1, 2.8], "tokens_ca": [2e9, 8e9], "tokens_es": [0.0, 8e9]}))
    >>> runs.sources
    ['ca', 'es']
    """

    frame: pd.DataFrame
    loss_unit: str = "nats/token"
    kind: str = "language"
    meta: dict[str, object] = field(default_factory=dict)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        loss_unit: str = "nats/token",
        kind: str = "language",
        meta: dict[str, object] | None = None,
        _source: str = "",
    ) -> RunTable:
        """Validate a DataFrame (wide or long tokens) and return a :class:`RunTable`.

        Parameters
        ----------
        frame
            The runs, wide (``tokens_<source>`` columns) or long (``source`` and ``tokens``
            columns).
        loss_unit
            Unit of ``loss``: ``"nats/token"``, ``"bits/token"``, ``"nats/byte"``,
            ``"bits/byte"`` or ``"bits/sequence"``. Bits per token (per byte) are converted
            to nats per token (per byte): ``loss * ln 2``.
        kind
            ``"language"`` or ``"domain"``.
        meta
            Provenance to carry along. The table adds ``loss_unit_given`` and, where
            validation changed something (a code read as another form), ``notes``.

        Raises
        ------
        RunTableError
            With every problem found, each naming the row(s), the column, the rule and what
            to do. Rows are those of ``frame`` (of the long table, if tokens are long).

        Warns
        -----
        RunTableWarning
            ``BA301`` / ``BA302`` where model sizes or token counts look like millions or
            billions.
        """
        import pandera.pandas as pa
        from pandera.errors import SchemaErrors

        if not isinstance(frame, pd.DataFrame):
            raise RunTableError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if loss_unit not in LOSS_UNITS:
            raise RunTableError(f"loss_unit must be one of {sorted(LOSS_UNITS)}, got {loss_unit!r}")
        if kind not in ("language", "domain"):
            raise RunTableError(f"kind must be 'language' or 'domain', got {kind!r}")
        if frame.empty:
            raise RunTableError(f"invalid run table{_source}: it has no rows")
        meta = dict(meta or {})
        given_notes = meta.get("notes", [])
        notes = [given_notes] if isinstance(given_notes, str) else list(given_notes)  # type: ignore[call-overload]
        frame = frame.reset_index(drop=True).copy()
        frame.columns = [str(c).strip() for c in frame.columns]
        repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
        if repeated:
            raise RunTableError(f"invalid run table{_source}: column name(s) {repeated} appear more than once; keep one of each")
        for column in frame.columns:  # categories compare and print as their values
            if isinstance(frame[column].dtype, pd.CategoricalDtype):
                frame[column] = frame[column].astype(object)

        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        is_long = "source" in frame.columns and "tokens" in frame.columns
        if missing:
            raise RunTableError(
                f"invalid run table{_source}: missing required column(s) {missing}. "
                f"A run table needs {list(REQUIRED_COLUMNS)} plus tokens, either wide "
                "('tokens_<source>' columns) or long ('source' and 'tokens' columns)."
            )
        origin: _Origin | None = None
        long_problems: list[_Problem] = []  # numbered by the long table's rows already
        if is_long:
            frame, origin, long_problems = _from_long(frame, kind, _source)
        token_columns = [c for c in frame.columns if c.startswith(TOKEN_PREFIX)]
        unique_columns = [c for c in frame.columns if c.startswith(UNIQUE_PREFIX)]
        if not token_columns:
            raise RunTableError(
                f"invalid run table{_source}: no token columns. Give 'tokens_<source>' columns "
                "(e.g. 'tokens_ca', 'tokens_other') or long 'source'/'tokens' columns."
            )

        codes = _check_codes(frame, token_columns, unique_columns, kind, long=origin is not None)
        problems = list(codes.problems)

        reported: set[tuple[int, str]] = set()  # cells already named: no second message for them
        numeric = ["params", "loss", *token_columns, *unique_columns, "vocab_size", "checkpoint_tokens"]
        for column in (c for c in numeric if c in frame.columns):
            converted = pd.to_numeric(frame[column], errors="coerce")
            not_numeric = converted.isna() & frame[column].notna()
            if not_numeric.any():
                problems.append(
                    _Problem(column, "must be a number", tuple(frame.index[not_numeric]), tuple(frame.loc[not_numeric, column]))
                )
                reported.update((int(i), column) for i in frame.index[not_numeric])
            frame[column] = converted.astype(float)

        schema = _schema(token_columns, unique_columns)
        try:
            frame = schema.validate(frame, lazy=True)
        except SchemaErrors as err:
            problems.extend(_problems_from_pandera(err.failure_cases, reported))
        except pa.errors.SchemaError as err:  # pragma: no cover - lazy=True collects errors
            problems.append(_Problem(str(getattr(err, "column_name", "?")), str(err), ()))

        problems.extend(_table_rules(frame, token_columns, unique_columns, loss_unit, codes))
        _raise(long_problems + _translate(problems, origin), _source)

        frame["language"] = codes.language.to_numpy()
        frame = frame.rename(columns=codes.columns)
        _warn_units(frame, [codes.columns[c] for c in token_columns])
        meta["loss_unit_given"] = loss_unit
        if loss_unit in _CONVERT:
            loss_unit, factor = _CONVERT[loss_unit]
            frame["loss"] = frame["loss"] * factor
        notes.extend(codes.notes)
        if EMULATION_COLUMN in frame.columns and frame[EMULATION_COLUMN].notna().all() and not meta.get("emulated"):
            # A table written by bayes_atlas.simulate keeps its label through a CSV round trip,
            # so a posterior fitted to it still carries warning BA202.
            meta["emulated"] = True
            notes.append(f"simulated runs ({frame[EMULATION_COLUMN].iloc[0]}): labelled an emulation")
        if notes:
            meta["notes"] = notes
        return cls(frame=frame, loss_unit=loss_unit, kind=kind, meta=meta)

    @classmethod
    def from_csv(cls, path: str | Path, **kwargs: object) -> RunTable:
        """Read and validate a CSV run table (see :meth:`from_frame` for keyword arguments).

        A file whose header has no comma but semicolons, tabs or pipes is read with that
        separator (and with decimal commas where its numbers use them), with a note in
        ``meta["notes"]``.

        Raises
        ------
        RunTableError
            If the file is missing, empty or unreadable, or the table breaks the schema.

        Examples
        --------
        >>> RunTable.from_csv("my_runs.csv")  # doctest: +SKIP
        """
        path = Path(path)
        if not path.is_file():
            raise RunTableError(f"run table file not found: {path}")
        empty = RunTableError(
            f"run table file {path} is empty: write a header line (run_id,language,params,loss,tokens_<source>, ...) "
            "and one line per (run, evaluation language)"
        )
        with open(path, "rb") as handle:
            sample = handle.read(1 << 16).decode("utf-8-sig", errors="replace")
        if not sample.strip():
            raise empty
        sep, decimal, note = _sniff(sample)
        try:
            frame = pd.read_csv(
                path,
                sep=sep,
                decimal=decimal,
                encoding="utf-8-sig",
                dtype={"run_id": str, "language": str, "mixture": str, "checkpoint": str, "source": str},
            )
        except pd.errors.EmptyDataError:
            raise empty from None
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise RunTableError(f"could not parse {path} as CSV: {err}") from None
        if note:
            meta = dict(kwargs.pop("meta", None) or {})  # type: ignore[call-overload]
            given = meta.get("notes", [])
            meta["notes"] = [*([given] if isinstance(given, str) else given), f"{path.name}: {note}"]
            kwargs["meta"] = meta
        return cls.from_frame(frame, _source=f" {path}", **kwargs)  # type: ignore[arg-type]

    # -- views ------------------------------------------------------------------------------
    @property
    def sources(self) -> list[str]:
        """Source names with a token column (``"other"`` last if present)."""
        names = [c[len(TOKEN_PREFIX) :] for c in self.frame.columns if c.startswith(TOKEN_PREFIX)]
        return sorted(names, key=lambda s: s == OTHER_SOURCE)

    @property
    def languages(self) -> list[str]:
        """Evaluation languages, in order of first appearance."""
        return list(pd.unique(self.frame["language"]))

    @property
    def per_token(self) -> bool:
        """True if the loss is a per-token cross-entropy."""
        return LOSS_UNITS[self.loss_unit]

    @property
    def tokens(self) -> pd.DataFrame:
        """Tokens per source (rows aligned with :attr:`frame`, columns = :attr:`sources`)."""
        return self.frame[[TOKEN_PREFIX + s for s in self.sources]].set_axis(self.sources, axis=1)

    @property
    def unique_tokens(self) -> pd.DataFrame:
        """Unique tokens per source; NaN where unlimited (no column or empty cell)."""
        out = pd.DataFrame(np.nan, index=self.frame.index, columns=self.sources)
        for source in self.sources:
            column = UNIQUE_PREFIX + source
            if column in self.frame.columns:
                out[source] = self.frame[column].to_numpy(dtype=float)
        return out

    @property
    def total_tokens(self) -> pd.Series:
        """Total training tokens of each row's run."""
        return self.tokens.sum(axis=1).rename("total_tokens")

    def tokens_long(self) -> pd.DataFrame:
        """Tokens in long form: one row per (run_id, language, source) with tokens > 0."""
        tokens = self.tokens.assign(run_id=self.frame["run_id"], language=self.frame["language"])
        long = tokens.melt(id_vars=["run_id", "language"], var_name="source", value_name="tokens")
        unique = self.unique_tokens.assign(run_id=self.frame["run_id"], language=self.frame["language"])
        unique = unique.melt(id_vars=["run_id", "language"], var_name="source", value_name="unique_tokens")
        long = long.merge(unique, on=["run_id", "language", "source"])
        return long[long["tokens"] > 0].reset_index(drop=True)

    def subset(self, rows: pd.Series | np.ndarray | Iterable[bool]) -> RunTable:
        """A new RunTable holding the selected rows (a boolean mask aligned with :attr:`frame`)."""
        mask = np.asarray(list(rows) if not isinstance(rows, (pd.Series, np.ndarray)) else rows, dtype=bool)
        return RunTable(self.frame.loc[mask].reset_index(drop=True), self.loss_unit, self.kind, dict(self.meta))

    def data_hash(self) -> str:
        """SHA-256 of the validated table's content (for save/load checks).

        Numbers enter at 10 significant digits: the same runs simulated or parsed on another
        machine can differ in their last bits (vectorised ``exp`` and ``log``; measured: the
        emulated study's losses moved by one unit in the last place between two CPUs), and the
        hash identifies the runs, not the machine (almost always: a value within one unit in the
        last place of a 10-digit rounding boundary, about 1e-6 per value, can still flip it).
        """
        canonical = self.frame.copy()
        for name in canonical.columns:
            if pd.api.types.is_float_dtype(canonical[name].dtype):
                canonical[name] = [format(value, ".10g") for value in canonical[name].to_numpy()]
        payload = pd.util.hash_pandas_object(canonical, index=False).to_numpy().tobytes()
        header = ",".join(self.frame.columns) + self.loss_unit + self.kind
        return hashlib.sha256(header.encode() + payload).hexdigest()

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        runs = self.frame["run_id"].nunique()
        return (
            f"RunTable({len(self.frame)} rows, {runs} runs, {len(self.languages)} evaluation "
            f"{'languages' if self.kind == 'language' else 'domains'}, {len(self.sources)} sources, "
            f"loss in {self.loss_unit})"
        )


def _sniff(sample: str) -> tuple[str, str, str]:
    """Separator, decimal mark and a note (empty if the file is a plain CSV) for a file's text."""
    lines = [line for line in sample.splitlines() if line.strip()]
    header = lines[0]
    if "," in header:
        return ",", ".", ""
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=lambda s: counts[s])
    if not counts[sep]:
        return ",", ".", ""
    body = "\n".join(lines[1:])
    quoted = re.escape(sep)
    decimal_comma = re.search(rf"(^|{quoted})\s*-?\d+,\d+\s*($|{quoted})", body, flags=re.MULTILINE)
    decimal = "," if decimal_comma and not re.search(r"\d\.\d", body) else "."
    note = f"the file looks {_SEPARATORS[sep]}-separated; read with sep={sep!r}"
    if decimal == ",":
        note += " and decimal commas"
    return sep, decimal, note


def _translate(problems: list[_Problem], origin: _Origin | None) -> list[_Problem]:
    """Problems of a pivoted table renumbered by the rows of the user's long table."""
    if origin is None:
        return problems
    return [origin.translate(p) if p.rows else replace(p, column=_long_column(p.column)) for p in problems]


def _problems_from_pandera(failures: pd.DataFrame, reported: set[tuple[int, str]]) -> list[_Problem]:
    problems = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False, dropna=False):
        keep = [
            not (pd.notna(i) and (int(i), str(column)) in reported) for i in group["index"]
        ]  # a cell already reported as not a number is not also "empty"
        group = group[keep]
        if group.empty:
            continue
        rows = tuple(int(i) for i in group["index"].dropna())
        values = tuple(group["failure_case"]) if rows else ()
        rule = str(check)
        if rule == "not_nullable":
            rule = "must not be empty (NaN)"
        elif rule.startswith("coerce_dtype"):
            rule = f"must be numeric ({rule})"
        elif rule.startswith("column_in_dataframe"):
            rule = "column is missing"
        problems.append(_Problem(str(column), rule, rows, values))
    return problems


_RUN_LEVEL = {
    "params": "model size",
    TOKEN_PREFIX: "training tokens from this source",
    UNIQUE_PREFIX: "unique tokens of this source",
}


def _run_conflicts(frame: pd.DataFrame, columns: list[str]) -> list[_Problem]:
    """One problem per column whose value differs between rows of one run_id."""
    problems: list[_Problem] = []
    has_run = frame["run_id"].notna()
    runs = frame.loc[has_run, "run_id"].astype(str)
    if not runs.duplicated().any():
        return problems
    for column in columns:
        unique_column = column.startswith(UNIQUE_PREFIX)
        values = frame.loc[has_run, column]
        # Empty unique cells mean "unlimited": a run with both is in conflict too.
        keyed = values.fillna(-1.0) if unique_column else values
        counts = keyed.groupby(runs, sort=False).transform("nunique")
        clash = counts > 1
        if not clash.any():
            continue
        examples = []
        for run, group in values[clash].groupby(runs[clash], sort=False):
            shown = " vs ".join("empty" if pd.isna(v) else f"{v:g}" for v in pd.unique(group)[:3])
            examples.append(f"run {run!r}: {shown}")
        more = f"; {len(examples) - 3} more runs" if len(examples) > 3 else ""
        what = _RUN_LEVEL["params"] if column == "params" else _RUN_LEVEL[UNIQUE_PREFIX if unique_column else TOKEN_PREFIX]
        problems.append(
            _Problem(
                column,
                f"differs between rows of one run ({'; '.join(examples[:3])}{more}): a run_id names one "
                f"trained model, so its {what} is the same on every evaluation-language row; fix the value, "
                "or give different runs different run_ids",
                tuple(int(i) for i in values.index[clash]),
            )
        )
    return problems


def _table_rules(
    frame: pd.DataFrame, token_columns: list[str], unique_columns: list[str], loss_unit: str, codes: _Codes
) -> list[_Problem]:
    """Rules that look at more than one cell: duplicates, one value per run, totals, loss units."""
    problems: list[_Problem] = []
    keyed = frame["run_id"].notna() & codes.valid
    keys = pd.DataFrame({"run_id": frame["run_id"].astype(str), "language": codes.language})[keyed]
    dup = keys.duplicated(keep=False)
    if dup.any():
        index = keys.index[dup]
        problems.append(
            _Problem(
                "run_id",
                "duplicated run: each (run_id, language) may appear once, language codes compared after "
                "normalising ('eng' is 'en'); give repeated seeds distinct run_ids, or drop the repeated row",
                tuple(int(i) for i in index),
                tuple(zip(frame.loc[index, "run_id"], frame.loc[index, "language"], strict=True)),
            )
        )
    problems.extend(_run_conflicts(frame, ["params", *token_columns, *unique_columns]))
    tokens = frame[token_columns]
    clean = (np.isfinite(tokens) & (tokens >= 0)).all(axis=1)
    total = tokens.sum(axis=1)
    zero = clean & (total <= 0)
    if zero.any():
        problems.append(
            _Problem(
                "tokens_*",
                "a run must train on some tokens (all token columns are 0); give its tokens, or drop the row",
                tuple(frame.index[zero]),
            )
        )
    too_many = total > MAX_TOKENS
    if too_many.any():
        problems.append(
            _Problem(
                "tokens_*", f"total tokens above {MAX_TOKENS:.0e} are implausible: a units slip?", tuple(frame.index[too_many])
            )
        )
    nats = frame["loss"] * (np.log(2.0) if loss_unit.startswith("bits/") else 1.0)
    limits = {"token": PER_TOKEN_LOSS_LIMIT, "byte": PER_BYTE_LOSS_LIMIT}
    per = loss_unit.split("/")[1]
    if per in limits:
        big = nats > limits[per]
        if big.any():
            problems.append(
                _Problem(
                    "loss",
                    f"not a per-{per} loss: above {limits[per]:g} nats/{per} (a sum over a sequence "
                    f"or a perplexity?). Convert to mean per-{per} cross-entropy, or declare "
                    "loss_unit='bits/sequence'",
                    tuple(frame.index[big]),
                    tuple(frame.loc[big, "loss"]),
                )
            )
    return problems


def _warn_units(frame: pd.DataFrame, token_columns: list[str]) -> None:
    """Warn (BA301, BA302) where every model size or token count is implausibly small."""
    largest = float(frame["params"].max())
    if largest < SMALL_PARAMS:
        warnings.warn(
            RunTableWarning(
                "BA301",
                f"every params value is below {SMALL_PARAMS:g} (largest {largest:g}): model sizes in millions "
                "or billions? params wants raw parameter counts (1.3e8, not 130 or 0.13); multiply the column "
                "by 1e6 or 1e9",
            ),
            stacklevel=4,
        )
    most = float(frame[token_columns].sum(axis=1).max())
    if most < SMALL_TOKENS:
        warnings.warn(
            RunTableWarning(
                "BA302",
                f"every run trains on fewer than {SMALL_TOKENS:g} tokens (most {most:g}): tokens in billions or "
                "millions? tokens_* want raw token counts (2e10, not 20); multiply the columns by 1e9 or 1e6",
            ),
            stacklevel=4,
        )
