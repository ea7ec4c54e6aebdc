"""The run-table schema: one row per (training run, evaluation language).

A run table is what every law in this package is fitted to. Its validated form,
:attr:`RunTable.frame`, is a pandas DataFrame in **wide** form:

===================== ========================================================================
column                meaning
===================== ========================================================================
``run_id``            identifier of the training run (str); a run evaluated on several
                      languages has one row per evaluation language
``language``          evaluation language (ISO 639 code; a Pile domain for ``kind="domain"``)
``params``            model parameters N (> 0, at most 1e13)
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
``unique_tokens``; :meth:`RunTable.from_frame` pivots them to the wide form.

Validation uses a declared :mod:`pandera` schema; every problem found is reported at once in
one :class:`RunTableError` that names the row(s), the column and the rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_atlas.languages import OTHER_SOURCE, is_language_code

__all__ = [
    "LOSS_UNITS",
    "MAX_PARAMS",
    "MAX_TOKENS",
    "PER_TOKEN_LOSS_LIMIT",
    "RunTable",
    "RunTableError",
]

#: Above this many parameters a value is taken for a units slip.
MAX_PARAMS = 1e13
#: Above this many tokens (per source or in total) a value is taken for a units slip.
MAX_TOKENS = 1e15
#: A per-token cross-entropy above this (nats; bits are converted) is not per-token:
#: even a uniform guess over a 1M-entry vocabulary costs ln(1e6) = 13.8 nats.
PER_TOKEN_LOSS_LIMIT = 20.0
#: Loss units a run table may declare; only the per-token ones feed the ATLAS laws directly.
LOSS_UNITS = {
    "nats/token": True,
    "bits/token": True,
    "bits/sequence": False,
}

REQUIRED_COLUMNS = ("run_id", "language", "params", "loss")
TOKEN_PREFIX = "tokens_"
UNIQUE_PREFIX = "unique_"
_DOMAIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class RunTableError(ValueError):
    """A run table that breaks the schema. The message names row(s), column and rule."""


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


def _raise(problems: list[_Problem], source: str) -> None:
    if not problems:
        return
    lines = "\n".join(p.render() for p in problems)
    raise RunTableError(
        f"invalid run table{source}: {len(problems)} problem{'s' if len(problems) > 1 else ''}\n{lines}\n"
        "Rows are 0-based positions in the table (in a CSV file, line = row + 2)."
    )


def _schema(token_columns: list[str], unique_columns: list[str], kind: str):  # noqa: ANN202
    import pandera.pandas as pa

    finite = pa.Check(lambda s: np.isfinite(s), element_wise=False, error="must be finite (no NaN or inf)")
    if kind == "language":
        code_check = pa.Check(
            lambda s: s.map(lambda c: is_language_code(c)),
            error="must be a known ISO 639 language code (e.g. 'ca', 'swh', 'sr-Latn')",
        )
    else:
        code_check = pa.Check.str_matches(_DOMAIN_RE.pattern, error="must be a simple domain name")
    columns: dict[str, pa.Column] = {
        "run_id": pa.Column(str, nullable=False, coerce=True),
        "language": pa.Column(str, code_check, nullable=False),
        "params": pa.Column(
            float,
            [
                finite,
                pa.Check.gt(0, error="must be > 0 (model parameters)"),
                pa.Check.le(MAX_PARAMS, error=f"N > {MAX_PARAMS:.0e} parameters is implausible: a units slip?"),
            ],
            nullable=False,
            coerce=True,
        ),
        "loss": pa.Column(
            float,
            [finite, pa.Check.gt(0, error="must be > 0 (a loss)")],
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


def _from_long(frame: pd.DataFrame) -> pd.DataFrame:
    """Pivot (run, language, source) rows to one row per (run, language) with tokens_<source>."""
    problems: list[_Problem] = []
    bad_source = frame.index[frame["source"].isna()]
    if len(bad_source):
        problems.append(_Problem("source", "must name a source language", tuple(bad_source)))
    _raise(problems, "")
    keys = ["run_id", "language"]
    dup = frame.duplicated(keys + ["source"], keep=False)
    if dup.any():
        _raise([_Problem("source", "each (run_id, language, source) may appear once", tuple(frame.index[dup]))], "")
    value_columns = ["tokens"] + (["unique_tokens"] if "unique_tokens" in frame.columns else [])
    run_level = [c for c in frame.columns if c not in keys + ["source"] + value_columns]
    varying = [c for c in run_level if (frame.groupby(keys, sort=False)[c].nunique(dropna=False) > 1).any()]
    if varying:
        _raise(
            [_Problem(c, "must be the same on every source row of a (run_id, language)", ()) for c in varying], ""
        )
    base = frame.groupby(keys, sort=False)[run_level].first().reset_index()
    tokens = frame.pivot_table(index=keys, columns="source", values="tokens", aggfunc="first", sort=False)
    tokens = tokens.fillna(0.0)
    tokens.columns = [f"{TOKEN_PREFIX}{c}" for c in tokens.columns]
    wide = base.merge(tokens.reset_index(), on=keys, how="left")
    if "unique_tokens" in frame.columns:
        unique = frame.pivot_table(index=keys, columns="source", values="unique_tokens", aggfunc="first", sort=False)
        unique.columns = [f"{UNIQUE_PREFIX}{c}" for c in unique.columns]
        wide = wide.merge(unique.reset_index(), on=keys, how="left")
    return wide


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
        ``"nats/token"`` (default), ``"bits/token"`` or ``"bits/sequence"``.
    kind
        ``"language"`` (sources and evaluation targets are languages) or ``"domain"``
        (e.g. Pile domains in RegMix).
    meta
        Free-form provenance (dataset, units, origin).

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
            Unit of ``loss``: ``"nats/token"``, ``"bits/token"`` or ``"bits/sequence"``.
        kind
            ``"language"`` or ``"domain"``.
        meta
            Provenance to carry along.

        Raises
        ------
        RunTableError
            With every problem found, each naming the row(s), the column and the rule.
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
        frame = frame.reset_index(drop=True).copy()
        frame.columns = [str(c).strip() for c in frame.columns]

        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        is_long = "source" in frame.columns and "tokens" in frame.columns
        if missing:
            raise RunTableError(
                f"invalid run table{_source}: missing required column(s) {missing}. "
                f"A run table needs {list(REQUIRED_COLUMNS)} plus tokens, either wide "
                "('tokens_<source>' columns) or long ('source' and 'tokens' columns)."
            )
        if is_long:
            frame = _from_long(frame)
        token_columns = [c for c in frame.columns if c.startswith(TOKEN_PREFIX)]
        unique_columns = [c for c in frame.columns if c.startswith(UNIQUE_PREFIX)]
        if not token_columns:
            raise RunTableError(
                f"invalid run table{_source}: no token columns. Give 'tokens_<source>' columns "
                "(e.g. 'tokens_ca', 'tokens_other') or long 'source'/'tokens' columns."
            )

        problems: list[_Problem] = []
        # Column names carry source codes: check them once, not per row.
        for column in token_columns + unique_columns:
            prefix = TOKEN_PREFIX if column.startswith(TOKEN_PREFIX) else UNIQUE_PREFIX
            source = column[len(prefix) :]
            if source == OTHER_SOURCE and prefix == TOKEN_PREFIX:
                continue
            ok = is_language_code(source) if kind == "language" else bool(_DOMAIN_RE.match(source))
            if not ok:
                problems.append(
                    _Problem(column, f"'{source}' is not a known language code; name columns 'tokens_<ISO 639 code>'", ())
                )
        for column in unique_columns:
            source = column[len(UNIQUE_PREFIX) :]
            if f"{TOKEN_PREFIX}{source}" not in frame.columns:
                problems.append(_Problem(column, f"has no matching '{TOKEN_PREFIX}{source}' column", ()))

        numeric = ["params", "loss", *token_columns, *unique_columns, "vocab_size", "checkpoint_tokens"]
        for column in (c for c in numeric if c in frame.columns):
            converted = pd.to_numeric(frame[column], errors="coerce")
            not_numeric = converted.isna() & frame[column].notna()
            if not_numeric.any():
                problems.append(
                    _Problem(column, "must be a number", tuple(frame.index[not_numeric]), tuple(frame.loc[not_numeric, column]))
                )
            frame[column] = converted.astype(float)
        _raise(problems, _source)

        schema = _schema(token_columns, unique_columns, kind)
        try:
            frame = schema.validate(frame, lazy=True)
        except SchemaErrors as err:
            problems.extend(_problems_from_pandera(err.failure_cases, frame))
        except pa.errors.SchemaError as err:  # pragma: no cover - lazy=True collects errors
            problems.append(_Problem(str(getattr(err, "column_name", "?")), str(err), ()))
        _raise(problems, _source)

        problems = _table_rules(frame, token_columns, loss_unit)
        _raise(problems, _source)
        if kind == "language":
            from bayes_atlas.languages import normalize_code

            frame["language"] = frame["language"].map(normalize_code)
        return cls(frame=frame, loss_unit=loss_unit, kind=kind, meta=dict(meta or {}))

    @classmethod
    def from_csv(cls, path: str | Path, **kwargs: object) -> RunTable:
        """Read and validate a CSV run table (see :meth:`from_frame` for keyword arguments).

        Examples
        --------
        >>> RunTable.from_csv("my_runs.csv")  # doctest: +SKIP
        """
        path = Path(path)
        if not path.is_file():
            raise RunTableError(f"run table file not found: {path}")
        try:
            frame = pd.read_csv(path, dtype={"run_id": str, "language": str, "mixture": str, "checkpoint": str})
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise RunTableError(f"could not parse {path} as CSV: {err}") from None
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
        """SHA-256 of the validated table's content (for save/load checks)."""
        payload = pd.util.hash_pandas_object(self.frame, index=False).to_numpy().tobytes()
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


def _problems_from_pandera(failures: pd.DataFrame, frame: pd.DataFrame) -> list[_Problem]:
    problems = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False, dropna=False):
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


def _table_rules(frame: pd.DataFrame, token_columns: list[str], loss_unit: str) -> list[_Problem]:
    """Rules that look at more than one cell: duplicates, totals, per-token losses."""
    problems: list[_Problem] = []
    dup = frame.duplicated(["run_id", "language"], keep=False)
    if dup.any():
        problems.append(
            _Problem(
                "run_id",
                "duplicated run: each (run_id, language) may appear once; give repeated seeds distinct run_ids",
                tuple(frame.index[dup]),
                tuple(frame.loc[dup, "run_id"]),
            )
        )
    total = frame[token_columns].sum(axis=1)
    zero = total <= 0
    if zero.any():
        problems.append(_Problem("tokens_*", "a run must train on some tokens (all token columns are 0)", tuple(frame.index[zero])))
    too_many = total > MAX_TOKENS
    if too_many.any():
        problems.append(
            _Problem("tokens_*", f"total tokens above {MAX_TOKENS:.0e} are implausible: a units slip?", tuple(frame.index[too_many]))
        )
    if LOSS_UNITS[loss_unit]:
        nats = frame["loss"] * (np.log(2.0) if loss_unit == "bits/token" else 1.0)
        big = nats > PER_TOKEN_LOSS_LIMIT
        if big.any():
            problems.append(
                _Problem(
                    "loss",
                    f"not a per-token loss: above {PER_TOKEN_LOSS_LIMIT:g} nats/token (a sum over a sequence "
                    "or a perplexity?). Convert to mean per-token cross-entropy, or declare "
                    "loss_unit='bits/sequence'",
                    tuple(frame.index[big]),
                    tuple(frame.loc[big, "loss"]),
                )
            )
    return problems
