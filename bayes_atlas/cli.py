"""The ``bayes-atlas`` command line (built with click; heavy imports happen inside commands).

Machine-readable output
-----------------------
Every ``--json`` output is strict JSON (RFC 8259) written by one serialiser (:func:`_dumps`):
NaN and infinities are written as ``null`` (for example ``tokens_median`` of a crossover that
never happens: its ``p_never`` says how often), numpy numbers become plain numbers, counts
are integers, and the object carries ``"warnings"``: a list of ``{"code": "BA202", "text":
"..."}`` with every caveat the API attached to the answer (``code`` is null for a warning
without one). In text mode the same warnings go to stderr as ``warning BA202: <text>``.

Output files
------------
Commands that write files check every output path before any sampling starts: an output may
never be one of the command's inputs; an existing file is replaced only if bayes_atlas wrote
it (a posterior or a model card) or with ``--force``; and its directory must be writable.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import click

from bayes_atlas import __version__
from bayes_atlas.errors import WARNING_CODES, DatasetError

JSON_HELP = "Machine-readable output: strict JSON (NaN and infinities written as null) with a 'warnings' list of {code, text}."
CI_HELP = "Credible mass of the equal-tailed intervals (0.9: 90% intervals)."
FORCE_HELP = "Replace an existing output file even if bayes_atlas did not write it."
#: bayes_atlas.runs.LOSS_UNITS, spelled out so that the CLI starts without importing pandas (a test keeps them in sync).
#: bayes_atlas.laws.LAWS, spelled out so the CLI starts without numpy (a test keeps them equal).
LAW_CHOICES = ("atlas", "chinchilla", "dcsl", "msl", "curse", "finetune")
LOSS_UNITS = ("nats/token", "bits/token", "nats/byte", "bits/byte", "bits/sequence")
LOSS_UNIT_HELP = "Unit of the loss column (per byte / per sequence: e.g. Goldfish's bits per sentence)."

#: API argument names and the options that set them, for messages that reach the user.
_FLAGS = {
    "compute": "--compute",
    "params": "--params",
    "tokens": "--tokens",
    "unique_tokens": "--unique-tokens",
    "languages": "--languages",
    "ci": "--ci",
    "regret": "--regret",
    "loss_unit": "--loss-unit",
    "target_accept": "--target-accept",
    "max_tree_depth": "--max-tree-depth",
    "theta_prior": "--theta-prior",
    "draws": "--draws",
    "tune": "--tune",
    "chains": "--chains",
    "k": "--k",
    "n_permutations": "--permutations",
    "target_weights": "--target-weights",
    "candidates": "--candidates",
    "budget": "--budget",
}

#: What each warning code means (bayes_atlas.errors), for codes that come without text.
_CODE_MEANINGS = WARNING_CODES

_QUIET_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


# -- messages -------------------------------------------------------------------------------


def _cli_words(text: str, flags: dict[str, str] | None = None, roles: dict[str, str] | None = None) -> str:
    """Say ``--compute`` where an API message says ``compute=``; ``bayes-atlas fit`` for ``bayes_atlas.fit``.

    ``flags`` adds or overrides API-name -> option pairs for one command; ``roles`` maps a
    posterior role (``law``, ``finetune``, ``transfer``) to the option that passes it, so that
    "the finetune posterior ... pass it as posterior=" names ``--finetune``.
    """
    mapping = {**_FLAGS, **(flags or {})}
    if roles:
        mapping.update(roles)  # finetune= -> the option that passes the finetune posterior here
        role = re.search(r"\bthe (\w+) posterior\b", text)
        if role and role.group(1) in roles:
            mapping["posterior"] = roles[role.group(1)]
    text = text.replace("bayes_atlas.fit", "`bayes-atlas fit`")
    # An API hint "finetune= (CLI: --finetune)": this command's own option wins (crossover passes
    # the finetune posterior as --posterior), the hint's where the command has no mapping.
    text = re.sub(
        r"\b(\w+)=\s*\(CLI: (--[\w-]+)\)",
        lambda m: mapping.get(m.group(1), m.group(2)),
        text,
    )

    def assignment(match: re.Match[str]) -> str:
        flag = mapping[match.group(1)]
        value = match.group(2)
        if not value:
            return flag
        return f"{flag} {value.strip(chr(39) + chr(34))}"

    names = "|".join(sorted((re.escape(n) for n in mapping), key=len, reverse=True))
    text = re.sub(rf"\b({names})=('[^']*'|\"[^\"]*\"|[^\s,;)]+)?", assignment, text)
    # A message that starts with argument names ("compute, params and tokens over-determine ...").
    lead = re.match(rf"^((?:{names})(?:(?:, | and |/)(?:{names}))*)\b(?!\()", text)
    if lead:
        words = re.sub(rf"\b({names})\b", lambda m: mapping[m.group(1)], lead.group(1))
        text = words + text[lead.end() :]
    # Unambiguous API identifiers (with an underscore) anywhere in the text.
    for name, flag in mapping.items():
        if "_" in name:
            text = re.sub(rf"(?<![-\w]){re.escape(name)}\b", flag, text)
    return text


def _fail(message: str, flags: dict[str, str] | None = None) -> None:
    raise click.ClickException(_cli_words(message, flags))


# -- warnings -------------------------------------------------------------------------------


class _Warning(NamedTuple):
    code: str | None
    text: str


def _as_warning(item: Any) -> _Warning:
    """A (code, text) pair from a DecisionWarning, ConvergenceWarning, any Warning or a bare code."""
    if isinstance(item, str):
        return _Warning(item, _CODE_MEANINGS.get(item, item))
    code = getattr(item, "code", None)
    text = getattr(item, "text", None)
    if text is None:
        text = str(item)
        if code and text.startswith(f"[{code}] "):
            text = text[len(code) + 3 :]
    return _Warning(str(code) if code else None, str(text))


@contextlib.contextmanager
def _capture_warnings() -> Iterator[list[_Warning]]:
    """Record the warnings raised inside the block (they are reported, never printed raw).

    The list is filled when the block ends. Deprecation-type warnings (of libraries, for
    developers) are dropped; everything else is kept, coded or not.
    """
    import warnings

    found: list[_Warning] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            yield found
        finally:
            for record in records:
                if issubclass(record.category, _QUIET_CATEGORIES):
                    continue
                found.append(_as_warning(record.message))


def _merge(*groups: Iterable[_Warning]) -> list[_Warning]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for group in groups:
        for item in group:
            key = (item.code, item.text)
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out


def _translated(
    found: Iterable[_Warning], flags: dict[str, str] | None = None, roles: dict[str, str] | None = None
) -> list[_Warning]:
    return [_Warning(w.code, _cli_words(w.text, flags, roles)) for w in found]


def _report(found: Iterable[_Warning]) -> None:
    """Text mode: one ``warning CODE: text`` line per warning, on stderr."""
    for w in found:
        click.echo(f"warning {w.code}: {w.text}" if w.code else f"warning: {w.text}", err=True)


# -- JSON -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain JSON values: non-finite floats -> None, numpy -> Python, frames -> records."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, _Warning):  # before tuple: a NamedTuple is one
        return {"code": value.code, "text": value.text}
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, pd.DataFrame):
        return _records(value)
    if isinstance(value, pd.Series):
        return _jsonable(value.to_dict())
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _dumps(payload: Any) -> str:
    """The one serialiser of every --json output: strict JSON, non-finite numbers as null."""
    return json.dumps(_jsonable(payload), indent=2, allow_nan=False)


def _emit_json(payload: dict[str, Any], found: Iterable[_Warning]) -> None:
    click.echo(_dumps({**payload, "warnings": list(found)}))


def _is_count(name: Any) -> bool:
    name = str(name)
    return name.startswith("n_") or name in {"divergences", "tree_depth_hits", "chains", "draws", "K", "k"}


def _integer_counts(frame: Any) -> Any:
    """Count columns (``n_cells``, ``divergences``, ...) as integers when every value is whole."""
    import numpy as np

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if _is_count(column) and values.dtype.kind == "f":
            finite = values.dropna().to_numpy()
            if np.all(np.isfinite(finite)) and np.all(finite == np.round(finite)):
                out[column] = values.astype("Int64")
    return out


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON objects, its index as leading fields (a plain 0..n-1 index dropped)."""
    import pandas as pd

    plain = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    flat = frame.reset_index(drop=plain)
    return _jsonable(_integer_counts(flat).astype(object).to_dict(orient="records"))


# -- text tables ----------------------------------------------------------------------------


def _is_p_value(name: Any) -> bool:
    name = str(name)
    return name == "p_value" or name.endswith("_p")


def _format_p(p: Any, floor: float | None = None) -> str:
    """A p-value with sensible precision; at its resolution (1 / (permutations + 1)) as ``<= floor``."""
    if p is None or not isinstance(p, int | float) or not math.isfinite(p):
        return ""
    if floor is not None and p <= floor * (1 + 1e-9):
        return f"<= {floor:.2g}"
    if p == 0:
        return "< 1e-16"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}"


def _display(frame: Any, p_floor: dict[str, float] | None = None) -> Any:
    """A copy for printing: counts as integers, p-values with sensible precision."""
    out = _integer_counts(frame)
    for column in out.columns:
        if _is_p_value(column) and out[column].dtype.kind == "f":
            floor = (p_floor or {}).get(str(column))
            out[column] = [_format_p(float(p), floor) for p in out[column]]
    return out


def _print_table(frame: Any, title: str = "", p_floor: dict[str, float] | None = None) -> None:
    import pandas as pd

    if title:
        click.echo(title)
    with pd.option_context("display.width", 120, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        click.echo(_display(frame, p_floor).to_string())


def _output_table(frame: Any, as_json: bool, title: str, found: list[_Warning], **extra: Any) -> None:
    """A table as JSON (``title``, ``extra``, ``rows``, ``warnings``) or as text (warnings on stderr)."""
    if as_json:
        _emit_json({"title": title, **extra, "rows": _records(frame)}, found)
        return
    _print_table(frame, title)
    _report(found)


def _check_out(path: str, **kwargs: Any) -> None:
    from bayes_atlas._io import OutputPathError, check_output_path

    try:
        check_output_path(path, **kwargs)
    except OutputPathError as err:
        raise click.UsageError(str(err)) from None


def _card_text(text: str) -> str:
    from bayes_atlas._io import CARD_MARKER

    return text.rstrip("\n") + f"\n\n{CARD_MARKER}\n"


# -- commands -------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bayes-atlas")
def main() -> None:
    """Bayesian multilingual scaling laws (ATLAS with posterior distributions).

    With --json every command prints strict JSON: NaN and infinities are written as null, and a
    "warnings" list carries each caveat as {code, text}. In text mode warnings go to stderr as
    "warning BA202: <text>".
    """


@main.command()
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code (e.g. ca).")
@click.option("--k", "-k", default=5, show_default=True, type=click.IntRange(1, 37), help="How many sources.")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option("--published", is_flag=True, help="Show the paper's point estimates instead of the posterior.")
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A transfer posterior saved by fit-transfer.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def helpers(target: str, k: int, ci: float, published: bool, posterior: str | None, as_json: bool) -> None:
    """Best helper (co-training) languages for TARGET, with credible intervals."""
    from bayes_atlas.errors import UnknownLanguageError

    flags = {"posterior": "--posterior"}
    if published:
        from bayes_atlas.published import published_helpers

        try:
            with _capture_warnings() as found:
                table = published_helpers(target, k=k)
        except (UnknownLanguageError, ValueError) as err:
            _fail(str(err), flags)
        title = (
            f"Best helper languages for {table.attrs['target']} (published ATLAS BTS, point estimates; "
            "measured = directly measured cell, else the paper's random-forest prediction)"
        )
        _output_table(table, as_json, title, _translated(found, flags), target=table.attrs["target"])
        return
    from bayes_atlas.inference import PosteriorFileError
    from bayes_atlas.transfer import TransferFit, load_default

    try:
        with _capture_warnings() as found:
            fit = TransferFit.load(posterior) if posterior else load_default()
            table = fit.helpers(target, k=k, ci=ci, top=k)
    except (UnknownLanguageError, ValueError, PosteriorFileError) as err:
        _fail(str(err), flags)
    code = table.attrs["target"]
    fitted = bool(table.attrs.get("fitted_target", True))
    found.extend(_as_warning(w) for w in table.attrs.get("warnings", []))  # BA204 for a target outside the fit
    title = (
        f"Best helper languages for {code}: posterior of BTS(source -> {code}) "
        f"from {'the shipped posterior of the published matrix' if not posterior else posterior}; "
        f"{ci:.0%} intervals; p_helps = P(BTS > 0); p_top_k = P(among the {k} best); published = printed value"
    )
    found = _translated(found, flags, {"transfer": "--posterior"})
    _output_table(table, as_json, title, found, target=code, fitted_target=fitted)


@main.command(name="fit-transfer")
@click.argument("matrix", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="netCDF file to write.")
@click.option("--card", type=click.Path(dir_okay=False), help="Also write a markdown model card here.")
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(1), help="Kept draws per chain.")
@click.option("--tune", default=1000, show_default=True, type=click.IntRange(1), help="Tuning steps per chain.")
@click.option("--chains", default=4, show_default=True, type=click.IntRange(1), help="Independent chains.")
@click.option("--seed", default=20261128, show_default=True, type=int, help="Random seed of the sampler.")
@click.option("--float32", is_flag=True, help="Store draws in single precision (half the file size).")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def fit_transfer(
    matrix: str | None, out: str, card: str | None, draws: int, tune: int, chains: int, seed: int, float32: bool, force: bool
) -> None:
    """Fit the Bayesian transfer model to MATRIX (CSV: rows target, columns source; default: the published one)."""
    from bayes_atlas._io import is_model_card, is_posterior_file

    inputs = [("MATRIX", matrix)]
    _check_out(out, option="--out", inputs=inputs, force=force, ours=is_posterior_file, what="netCDF posterior")
    if card:
        _check_out(card, option="--card", inputs=[*inputs, ("--out", out)], force=force, ours=is_model_card, what="model card")

    import pandas as pd

    from bayes_atlas._io import write_atomically
    from bayes_atlas.transfer import TransferInputError, TransferModel, model_card

    if matrix:
        frame = pd.read_csv(matrix, index_col=0)
        note = f"Source: {matrix}."
    else:
        from bayes_atlas.datasets import transfer_matrix

        frame = transfer_matrix()
        note = "Source: ATLAS Fig. 2 (data/transfer_matrix_38x38.csv; provenance in data/provenance.csv)."
    try:
        with _capture_warnings() as found:
            fit = TransferModel().fit(frame, draws=draws, tune=tune, chains=chains, random_seed=seed)
    except TransferInputError as err:
        _fail(str(err))
    fit.save(out, float32=float32)
    click.echo(f"wrote {fit!r} to {out}")
    if card:
        command = " ".join(["bayes-atlas", *sys.argv[1:]]) if sys.argv[1:2] == ["fit-transfer"] else None
        text = _card_text(model_card(fit, data_note=note, command=command))
        write_atomically(card, lambda tmp: tmp.write_text(text))
        click.echo(f"wrote the model card to {card}")
    _report(_translated(found))


@main.command(name="evaluate-transfer")
@click.option(
    "--scheme",
    type=click.Choice(["random", "language"]),
    default="random",
    show_default=True,
    help="Held-out cells at random, or whole languages.",
)
@click.option(
    "--fraction",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Share of cells held out (random scheme).",
)
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds (random scheme: one mask each).")
@click.option("--languages", "held_out", default=None, help="Comma-separated languages to leave out (default: all).")
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(1), help="Kept draws per chain.")
@click.option("--tune", default=1000, show_default=True, type=click.IntRange(1), help="Tuning steps per chain.")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1),
    help="Fit on a Dask LocalCluster of this many worker processes (same results as serial).",
)
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Fit on a running Dask cluster (e.g. tcp://host:8786).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the per-cell predictions to this CSV.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def evaluate_transfer(
    scheme: str,
    fraction: float,
    seeds: str,
    held_out: str | None,
    draws: int,
    tune: int,
    workers: int | None,
    scheduler: str | None,
    out: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Held-out accuracy of the transfer model vs OLS and row means on the published matrix."""
    try:
        seed_list = [int(v) for v in seeds.split(",") if v.strip()]
    except ValueError:
        raise click.UsageError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    if not seed_list:
        raise click.UsageError("--seeds needs at least one integer, e.g. --seeds 0,1,2")
    if workers is not None and scheduler is not None:
        raise click.UsageError("pass --workers (a local cluster) or --scheduler (a running one), not both")
    if out:
        _check_out(out, option="--out", force=force, what="CSV")

    import pandas as pd

    from bayes_atlas._io import write_atomically
    from bayes_atlas.transfer_eval import evaluate_languages, evaluate_random, score_predictions

    flags = {"languages": "--languages", "fraction": "--fraction"}
    try:
        with _capture_warnings() as found:
            if scheme == "random":
                results = [
                    evaluate_random(fraction=fraction, seed=seed, draws=draws, tune=tune, workers=workers, scheduler=scheduler)
                    for seed in seed_list
                ]
            else:
                languages = [v.strip() for v in held_out.split(",")] if held_out else None
                results = [
                    evaluate_languages(
                        languages=languages, seed=seed_list[0], draws=draws, tune=tune, workers=workers, scheduler=scheduler
                    )
                ]
    except ValueError as err:
        _fail(str(err), flags)
    predictions = pd.concat([r.predictions for r in results], ignore_index=True)
    diagnostics = pd.concat([r.scores.attrs["diagnostics"] for r in results], ignore_index=True)
    if out:
        write_atomically(out, lambda tmp: predictions.to_csv(tmp, index=False))
    scores = score_predictions(predictions)
    title = f"Held-out cells ({scheme}): RMSE, interval coverage and mean 90% width"
    found = _translated(found, flags)
    if as_json:
        _emit_json({"title": title, "rows": _records(scores), "diagnostics": _records(diagnostics)}, found)
        return
    _print_table(scores, title)
    columns = [c for c in ("fold", "divergences", "max_r_hat", "min_ess_bulk", "wall_time_s") if c in diagnostics]
    _print_table(diagnostics[columns], "\nBayesian fits: diagnostics per fold")
    _report(found)


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the figures.")
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A transfer posterior (default: shipped).")
@click.option(
    "--permutations",
    default=2000,
    show_default=True,
    type=click.IntRange(1),
    help="Language relabellings of the script/family test.",
)
@click.option("--format", "formats", default="png,pdf", show_default=True, help="Comma-separated file formats.")
@click.option("--force", is_flag=True, help="Replace existing files of the same names in --out.")
def figures(out: str, posterior: str | None, permutations: int, formats: str, force: bool) -> None:
    """Regenerate the study's figures with posterior bands into OUT (PNG and PDF).

    Fig. 1 compute_optimal, Fig. 2 transfer_heatmap, Fig. 3 script_family and
    transfer_asymmetry, Fig. 4 curse, Fig. 5 expansion, Fig. 6 finetune, Fig. 7
    crossover_compute. The law figures use the shipped emulated posteriors (labelled so).
    """
    from pathlib import Path

    from bayes_atlas._io import OutputPathError, check_output_path

    kinds = tuple(f.strip() for f in formats.split(",") if f.strip())
    if not kinds:
        raise click.UsageError("--format needs at least one file format, e.g. --format png,pdf")
    directory = Path(out)
    try:  # a file inside OUT: checks that OUT is (or can be made) a writable directory, before any work
        check_output_path(directory / ".bayes-atlas-check", option="--out", force=True)
    except OutputPathError as err:
        raise click.UsageError(str(err).replace("/.bayes-atlas-check", "")) from None

    from bayes_atlas import figures as figs

    inputs = [("--posterior", posterior)] if posterior else []
    for name in figs.FIGURES:  # every file before any figure is drawn: no user file is replaced half-way
        for kind in kinds:
            _check_out(str(directory / f"{name}.{kind}"), option="--out", inputs=inputs, force=force, what=kind.upper())
    from bayes_atlas.transfer import TransferFit, load_default

    with _capture_warnings() as found:
        fit = TransferFit.load(posterior) if posterior else load_default()
        # Progress per figure (the permutation test alone takes ~15 s), then "wrote <path>" per file.
        figs.write_figures(directory, fit, permutations=permutations, formats=kinds, progress=click.echo)
    _report(_translated(found))


@main.command(name="fit")
@click.argument("runs_csv", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--emulated", is_flag=True, help="Fit the simulated ATLAS study instead of a CSV (labelled an emulation).")
@click.option(
    "--law",
    type=click.Choice(LAW_CHOICES),
    default="atlas",
    show_default=True,
    help="The scaling law to fit (see bayes_atlas.fit).",
)
@click.option("--loss-unit", default="nats/token", show_default=True, type=click.Choice(LOSS_UNITS), help=LOSS_UNIT_HELP)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="netCDF file to write.")
@click.option("--card", type=click.Path(dir_okay=False), help="Also write a markdown model card here.")
@click.option("--draws", type=click.IntRange(1), help="Kept draws per chain (default: bayes_atlas.fit's).")
@click.option("--tune", type=click.IntRange(1), help="Tuning steps per chain (default: bayes_atlas.fit's).")
@click.option("--chains", default=4, show_default=True, type=click.IntRange(1), help="Independent chains.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed of the sampler.")
@click.option(
    "--target-accept",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="NUTS target acceptance rate; raise it (e.g. 0.99) against divergences (default: bayes_atlas.fit's).",
)
@click.option(
    "--max-tree-depth",
    type=click.IntRange(1, 15),
    help="NUTS tree depth limit (default: bayes_atlas.fit's 10); 8 is 4x cheaper per draw for large tables.",
)
@click.option("--max-draws", type=click.IntRange(1), help="Store at most this many draws (thinned evenly).")
@click.option("--float32", is_flag=True, help="Store draws in single precision.")
@click.option(
    "--compact",
    is_flag=True,
    help="Store the posterior only (default: the whole ArviZ DataTree, with sample stats, data and log likelihood for az.loo).",
)
@click.option(
    "--theta-prior",
    type=click.Path(dir_okay=False, exists=True),
    help="A law posterior whose per-language parameters become the prior (curse / finetune laws; see bayes_atlas.fit).",
)
@click.option("--force", is_flag=True, help=FORCE_HELP)
def fit_command(
    runs_csv: str | None,
    emulated: bool,
    law: str,
    loss_unit: str,
    out: str,
    card: str | None,
    draws: int | None,
    tune: int | None,
    chains: int,
    seed: int,
    target_accept: float | None,
    max_tree_depth: int | None,
    max_draws: int | None,
    float32: bool,
    compact: bool,
    theta_prior: str | None,
    force: bool,
) -> None:
    """Fit a hierarchical scaling law to RUNS_CSV (a run table) or to the emulated study."""
    if emulated == bool(runs_csv):
        raise click.UsageError("give either RUNS_CSV or --emulated")
    from bayes_atlas._io import is_model_card, is_posterior_file

    inputs = [("RUNS_CSV", runs_csv), ("--theta-prior", theta_prior)]
    _check_out(out, option="--out", inputs=inputs, force=force, ours=is_posterior_file, what="netCDF posterior")
    if card:
        _check_out(card, option="--card", inputs=[*inputs, ("--out", out)], force=force, ours=is_model_card, what="model card")

    from bayes_atlas._io import write_atomically
    from bayes_atlas.errors import FitFailedError
    from bayes_atlas.inference import PosteriorFileError
    from bayes_atlas.runs import RunTable, RunTableError
    from bayes_atlas.scaling import FitInputError, emulated_study_runs, fit, model_card

    try:
        with _capture_warnings() as found:
            runs = emulated_study_runs(seed, law) if emulated else RunTable.from_csv(runs_csv, loss_unit=loss_unit)
            # Options left unset keep fit()'s defaults (one source of truth, no import at CLI start).
            settings = {
                name: value
                for name, value in (
                    ("draws", draws),
                    ("tune", tune),
                    ("target_accept", target_accept),
                    ("max_tree_depth", max_tree_depth),
                )
                if value is not None
            }
            if emulated:  # the simulator draws transfer from the published matrix: the same setting
                settings["transfer_setting_sd"] = 0.0
            result = fit(runs, law=law, chains=chains, random_seed=seed, theta_prior=theta_prior, **settings)
    except (RunTableError, FitInputError, FitFailedError, PosteriorFileError) as err:
        _fail(str(err))
    result.save(out, max_draws=max_draws, float32=float32, compact=compact)
    click.echo(f"wrote {result!r} to {out}")
    if card:
        if emulated:
            from bayes_atlas.scaling import EMULATED_DESIGNS

            title = f"{law} law posterior: EMULATION (fitted to simulated runs, not the paper's)"
            note = (
                f"Data: bayes_atlas.simulate.atlas_study(seed) restricted to the designs the {law} law describes "
                f"({', '.join(EMULATED_DESIGNS[law])}; {len(runs)} rows, {len(runs.languages)} languages). The ATLAS runs are "
                "not public: these losses come from a stated ground truth calibrated to the printed numbers, so every "
                "number below is an emulation."
            )
        else:
            title, note = f"{law} law posterior", f"Data: {runs_csv}."
        command = " ".join(["bayes-atlas", *sys.argv[1:]]) if sys.argv[1:2] == ["fit"] else None
        text = _card_text(model_card(result, title=title, data_note=note, command=command))
        write_atomically(card, lambda tmp: tmp.write_text(text))
        click.echo(f"wrote the model card to {card}")
    _report(_translated(found))


@main.command(name="languages")
@click.argument("codes", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def languages_command(codes: tuple[str, ...], as_json: bool) -> None:
    """Script, family and genus of CODES (default: the 38 ATLAS languages)."""
    from bayes_atlas.errors import UnknownLanguageError
    from bayes_atlas.languages import languages

    try:
        with _capture_warnings() as found:
            table = languages(list(codes) or None).drop(columns="lineage")
    except UnknownLanguageError as err:
        _fail(str(err))
    _output_table(table, as_json, "", _translated(found))


@main.command(name="script-family")
@click.option("--permutations", default=2000, show_default=True, type=click.IntRange(1), help="Language relabellings.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the relabellings.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def script_family(permutations: int, seed: int, as_json: bool) -> None:
    """Do script and family shift transfer? Tests that respect the dependence between cells.

    A permutation p-value cannot be smaller than 1 / (permutations + 1): at that floor the text
    output prints it as "<= floor".
    """
    from bayes_atlas.transfer_stats import script_family_tests

    with _capture_warnings() as found:
        result = script_family_tests(n_permutations=permutations, seed=seed)
    found = _translated(found)
    if as_json:
        payload = {
            "permutations": permutations,
            "ols": _records(result.ols),
            "permutation": _records(result.permutation),
            "group_means": _records(result.group_means),
            "verdict": _records(result.verdict()),
        }
        _emit_json(payload, found)
        return
    floor = 1 / (permutations + 1)
    _print_table(result.ols, "OLS of BTS on same_script + same_family (95% CI)")
    _print_table(result.permutation, "\nPermutation test (languages relabelled, fixed-effects coefficient)", {"p_value": floor})
    _print_table(result.group_means, "\nMean BTS by group")
    _print_table(result.verdict(), '\nDoes the published "p < .001" survive?', {"permutation_p": floor})
    _report(found)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--loss-unit", default="nats/token", show_default=True, type=click.Choice(LOSS_UNITS), help=LOSS_UNIT_HELP)
def validate(path: str, loss_unit: str) -> None:
    """Validate a run-table CSV at PATH and summarise it."""
    from bayes_atlas.runs import RunTable, RunTableError

    try:
        with _capture_warnings() as found:
            runs = RunTable.from_csv(path, loss_unit=loss_unit)
    except RunTableError as err:
        _fail(str(err))
    click.echo(f"OK: {runs!r}")
    _report(_translated(found))


@main.command()
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the loss noise.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
def simulate(seed: int, out: str, force: bool) -> None:
    """Write a simulated ATLAS study (an emulation, not the paper's runs) to OUT."""
    _check_out(out, option="--out", force=force, what="CSV")
    from bayes_atlas._io import write_atomically
    from bayes_atlas.simulate import atlas_study

    with _capture_warnings() as found:
        runs, _ = atlas_study(seed=seed)
    write_atomically(out, lambda tmp: runs.frame.to_csv(tmp, index=False))
    click.echo(f"wrote {runs!r} to {out}")
    _report(_translated(found))


def _float_or_none(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise click.UsageError(f"--{name} must be a number such as 1e21, got {value!r}") from None


def _decision_errors() -> tuple[type[Exception], ...]:
    from bayes_atlas.errors import UnknownLanguageError
    from bayes_atlas.inference import PosteriorFileError

    return (UnknownLanguageError, ValueError, PosteriorFileError)


_RECOMMEND_ROLES = {"law": "--posterior", "finetune": "--finetune", "transfer": "--transfer"}


@main.command()
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code (e.g. ca).")
@click.option("--compute", "-c", default=None, help="Training budget in FLOPs (e.g. 1e21).")
@click.option("--params", "-n", default=None, help="Fix the model size (parameters).")
@click.option("--tokens", "-d", default=None, help="Fix the total training tokens.")
@click.option(
    "--unique-tokens",
    default=None,
    help="Unique tokens of target text available (data repeat beyond it): 5e9, or LANG=TOKENS pairs (ca=5e9,es=1e12).",
)
@click.option("--languages", default=None, help="Comma-separated co-training languages mixed uniformly with the target.")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option(
    "--regret",
    default=0.005,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Relative loss tolerance of the regret band.",
)
@click.option(
    "--posterior", type=click.Path(dir_okay=False, exists=True), help="An ATLAS-law posterior saved by `bayes-atlas fit`."
)
@click.option(
    "--finetune",
    type=click.Path(dir_okay=False, exists=True),
    help="A finetune-law posterior saved by `bayes-atlas fit --law finetune` (finetune-or-pretrain advice).",
)
@click.option(
    "--transfer",
    type=click.Path(dir_okay=False, exists=True),
    help="A transfer posterior saved by `bayes-atlas fit-transfer` (co-training languages).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Seed of population draws (languages a posterior did not fit) and transfer resampling.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def recommend(
    target: str,
    compute: str | None,
    params: str | None,
    tokens: str | None,
    unique_tokens: str | None,
    languages: str | None,
    ci: float,
    regret: float,
    posterior: str | None,
    finetune: str | None,
    transfer: str | None,
    seed: int,
    as_json: bool,
) -> None:
    """Compute-optimal model size and tokens for TARGET with credible intervals, co-training
    languages, and whether to finetune or pretrain."""
    from bayes_atlas.decisions import posterior_recommend

    co_training = [c.strip() for c in languages.split(",") if c.strip()] if languages else None
    values = {
        name: _float_or_none(value, name.replace("_", "-"))
        for name, value in (("compute", compute), ("params", params), ("tokens", tokens))
    }
    values["unique_tokens"] = _unique_tokens_option(unique_tokens)
    try:
        with _capture_warnings() as caught:
            rec = posterior_recommend(
                target,
                values["compute"],
                params=values["params"],
                tokens=values["tokens"],
                unique_tokens=values["unique_tokens"],
                languages=co_training,
                ci=ci,
                regret=regret,
                posterior=posterior,
                transfer=transfer,
                finetune=finetune,
                random_seed=seed,
            )
    except _decision_errors() as err:
        raise click.ClickException(_cli_words(str(err), roles=_RECOMMEND_ROLES)) from None
    found = _translated(_merge(map(_as_warning, rec.warnings), caught), roles=_RECOMMEND_ROLES)
    if as_json:
        payload = rec.to_dict()
        payload.pop("warnings", None)
        # "message" is the key Recommendation.to_dict() uses; kept beside "text" for existing readers.
        click.echo(_dumps({**payload, "warnings": [{"code": w.code, "text": w.text, "message": w.text} for w in found]}))
        return
    d = rec.decision
    summary = rec.summary()
    shown = [q for q in summary.index if not q.startswith(("effective_", "loss_scratch"))]
    import pandas as pd

    click.echo(f"Recommendation for {rec.target} ({ci:.0%} intervals over {rec.inputs['n_draws']} posterior draws)")
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 120):
        click.echo(summary.loc[shown].to_string(na_rep=""))
    if d.get("regret_params_low") is not None:
        click.echo(
            f"\nRecommended: {d['recommended_params']:.3g} parameters, {d['recommended_tokens']:.3g} tokens "
            f"(lowest expected loss); any size in [{d['regret_params_low']:.3g}, {d['regret_params_high']:.3g}] "
            f"is within {100 * d['regret']:.2g}% of it."
        )
    if d.get("advice"):
        click.echo(f"Finetune or pretrain: {d['advice']}.")
    click.echo(f"\nCo-training at this budget (mixture optimiser, `bayes-atlas mixture`): {d['co_training']}")
    click.echo(
        "\nBTS of sources for this target (transfer posterior; a 50/50 bilingual run at the paper's scale, "
        "not whether mixing pays at this budget):"
    )
    with pd.option_context("display.float_format", "{:.2f}".format):
        click.echo(rec.helpers.to_string())
    click.echo("\nWhere this answer comes from:")
    for line in rec.provenance:
        click.echo(f"  - {line}")
    _report(found)


def _unique_tokens_option(text: str | None) -> float | dict[str, float] | None:
    """``5e9`` (the one target) or ``ca=5e9,es=inf`` (per language)."""
    if text is None:
        return None
    if "=" not in text:
        return _float_or_none(text, "unique-tokens")
    out = {}
    for item in text.split(","):
        if not item.strip():
            continue
        code, _, value = item.partition("=")
        if not code.strip() or not value.strip():
            raise click.UsageError(f"--unique-tokens takes LANG=TOKENS pairs such as ca=5e9,es=1e12; got {item!r}")
        out[code.strip()] = _float_or_none(value.strip(), "unique-tokens")
    return out


@main.command(name="mixture")
@click.option("--target", "-t", required=True, help="Target language(s), comma-separated ISO 639 codes (e.g. ca or ca,eu).")
@click.option("--compute", "-c", required=True, help="Training budget in FLOPs (e.g. 1e21).")
@click.option(
    "--unique-tokens", default=None, help="Unique tokens: one number for a single target, or LANG=TOKENS pairs (ca=5e9,es=1e12)."
)
@click.option(
    "--candidates", default=None, help="Comma-separated co-training candidates (default: the best BTS sources of each target)."
)
@click.option(
    "--target-weights", default=None, help="Comma-separated weights of the targets' losses, summing to 1 (default: equal)."
)
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option(
    "--posterior", type=click.Path(dir_okay=False, exists=True), help="An ATLAS-law posterior saved by `bayes-atlas fit`."
)
@click.option(
    "--transfer", type=click.Path(dir_okay=False, exists=True), help="A transfer posterior saved by `bayes-atlas fit-transfer`."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of population draws and transfer resampling.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def mixture_command(
    target: str,
    compute: str,
    unique_tokens: str | None,
    candidates: str | None,
    target_weights: str | None,
    ci: float,
    posterior: str | None,
    transfer: str | None,
    seed: int,
    as_json: bool,
) -> None:
    """The language mixture with the lowest posterior expected loss for TARGET(s) at a budget, with
    N and D, against monolingual, uniform, temperature and Unimax sampling."""
    from bayes_atlas.decisions import optimal_mixture

    targets = [c.strip() for c in target.split(",") if c.strip()]
    cands = [c.strip() for c in candidates.split(",") if c.strip()] if candidates else None
    weights = None
    if target_weights:
        try:
            weights = [float(v) for v in target_weights.split(",") if v.strip()]
        except ValueError:
            raise click.UsageError(
                f"--target-weights takes comma-separated numbers such as 0.7,0.3; got {target_weights!r}"
            ) from None
    flags = {"candidates": "--candidates", "target_weights": "--target-weights", "targets": "--target"}
    roles = {"law": "--posterior", "transfer": "--transfer"}
    try:
        with _capture_warnings() as caught:
            result = optimal_mixture(
                targets,
                _float_or_none(compute, "compute"),
                unique_tokens=_unique_tokens_option(unique_tokens),
                candidates=cands,
                target_weights=weights,
                ci=ci,
                posterior=posterior,
                transfer=transfer,
                random_seed=seed,
                warn=False,
            )
    except _decision_errors() as err:
        raise click.ClickException(_cli_words(str(err), flags, roles)) from None
    found = _translated(_merge(map(_as_warning, result.warnings), caught), flags, roles)
    notes = [_cli_words(n, flags) for n in result.notes]
    if as_json:
        payload = result.to_dict()
        payload.pop("warnings", None)
        payload["notes"] = notes
        _emit_json(payload, found)
        return
    import pandas as pd

    click.echo(f"Bayes mixture for {'+'.join(result.targets)} at {result.compute:.3g} FLOPs ({ci:.0%} intervals)")
    click.echo("  " + ", ".join(f"{c} {v:.3f}" for c, v in result.weights.items() if v > 0))
    s = result.summary()
    click.echo(f"  N = {result.params:.3g} parameters, D = {result.tokens:.3g} tokens")
    for name in [q for q in s.index if not q.startswith("diff_")]:
        m, lo, hi = s.loc[name]
        click.echo(f"  {name}: {m:.4g} [{lo:.4g}, {hi:.4g}]")
    click.echo(f"\n{result.decision['text']}")
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 160, "display.max_colwidth", 60):
        if len(result.effects):
            click.echo(
                "\nEffect of each language (loss change when its weight is set to 0 and the rest renormalised; > 0: it helps):"
            )
            click.echo(result.effects.to_string())
        click.echo("\nAgainst other strategies (their loss minus the Bayes mixture's, paired per draw; > 0: Bayes is better):")
        click.echo(result.comparison.to_string())
    for n in notes:
        click.echo(f"note: {n}")
    _report(found)


@main.command(name="next-run")
@click.option(
    "--posterior",
    type=click.Path(dir_okay=False, exists=True),
    help="A law posterior saved by `bayes-atlas fit` (default: the shipped one).",
)
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code (e.g. ca).")
@click.option(
    "--compute", "-c", required=True, help="The decision's budget in FLOPs: N* is the compute-optimal size there (e.g. 1e22)."
)
@click.option(
    "--candidates",
    default="grid",
    show_default=True,
    help="'grid' (model sizes x tokens per parameter around the smallest fitted runs) or a CSV with columns params, tokens.",
)
@click.option("--budget", default=None, help="FLOPs for the new runs (default: 1% of --compute).")
@click.option(
    "--goal-width",
    default=None,
    type=click.FloatRange(0, min_open=True),
    help="Width of the N* interval to reach, in decades (default: half the current width).",
)
@click.option(
    "--unique-tokens", default=None, help="Unique tokens of the target's text (default: published count, else unlimited)."
)
@click.option(
    "--outcomes", default=32, show_default=True, type=click.IntRange(2), help="Simulated outcomes per candidate (preposterior)."
)
@click.option("--top", default=10, show_default=True, type=click.IntRange(1), help="Candidates to show (text mode).")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated outcomes.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def next_run_command(
    posterior: str | None,
    target: str,
    compute: str,
    candidates: str,
    budget: str | None,
    goal_width: float | None,
    unique_tokens: str | None,
    outcomes: int,
    top: int,
    ci: float,
    seed: int,
    as_json: bool,
) -> None:
    """Which run to do next: candidate runs ranked by the expected shrinkage of the N* interval per FLOP,
    and the cheapest plan within --budget expected to reach --goal-width."""
    from bayes_atlas.decisions import next_run

    flags = {"budget": "--budget", "candidates": "--candidates", "n_outcomes": "--outcomes", "goal_width": "--goal-width"}
    try:
        with _capture_warnings() as caught:
            plan = next_run(
                posterior,
                target,
                _float_or_none(compute, "compute"),
                None if candidates == "grid" else candidates,
                budget=_float_or_none(budget, "budget"),
                goal_width=goal_width,
                unique_tokens=_float_or_none(unique_tokens, "unique-tokens"),
                n_outcomes=outcomes,
                ci=ci,
                random_seed=seed,
                warn=False,
            )
    except _decision_errors() as err:
        raise click.ClickException(_cli_words(str(err), flags, {"law": "--posterior"})) from None
    found = _translated(_merge(map(_as_warning, plan.warnings), caught), flags, {"law": "--posterior"})
    if as_json:
        payload = plan.to_dict()
        payload.pop("warnings", None)
        _emit_json(payload, found)
        return
    import pandas as pd

    i = plan.interval
    click.echo(
        f"N* for {plan.target} at {plan.compute:.3g} FLOPs now: {i['median']:.3g} [{i['lower']:.3g}, {i['upper']:.3g}] "
        f"({i['width_decades']:.2f} decades); budget for new runs {plan.budget:.3g} FLOPs"
    )
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 160):
        click.echo(
            f"\nBest {min(top, len(plan.ranking))} of {len(plan.ranking)} candidates (shrinkage in decades, per 1e18 FLOPs):"
        )
        click.echo(plan.ranking.head(top).to_string())
        if len(plan.sequence):
            click.echo(
                "\nPlan: the cheapest runs expected to reach the goal width, cheapest first (do the first, refit, "
                "plan again; expected width after each run):"
            )
            click.echo(plan.sequence.to_string(index=False))
    click.echo(f"\n{plan.decision['text']}")
    _report(found)


@main.command()
@click.option(
    "--factor", "-r", required=True, type=click.FloatRange(0, min_open=True), help="Expansion factor: 2 = twice the languages."
)
@click.option("--language", default=None, help="Use one language's curse exponents (default: the population).")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option(
    "--posterior",
    type=click.Path(dir_okay=False, exists=True),
    help="A curse-law posterior saved by `bayes-atlas fit --law curse`.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def expand(factor: float, language: str | None, ci: float, posterior: str | None, as_json: bool) -> None:
    """Multipliers of model size, data and compute for going from K to FACTOR x K languages at equal loss."""
    from bayes_atlas.decisions import expand_languages

    flags = {"r": "--factor", "language": "--language", "posterior": "--posterior"}
    roles = {"curse": "--posterior"}
    try:
        with _capture_warnings() as caught:
            result = expand_languages(factor, language=language, ci=ci, posterior=posterior)
            table = result.summary()
    except _decision_errors() as err:
        _fail(str(err), flags)
    found = _translated(_merge(map(_as_warning, result.warnings), caught), flags, roles)
    title = (
        f"K -> {factor:g}K languages at equal loss ({'population' if language is None else language}; {ci:.0%} intervals; "
        "printed = ATLAS Table, point estimates)"
    )
    _output_table(table, as_json, title, found, factor=factor, language=language)


def _crossover_warnings(table: Any, posterior: str | None) -> list[_Warning]:  # noqa: ARG001 - kept for callers
    """The caveats of a crossover table, with their text (``attrs["warnings"]``, DecisionWarning objects)."""
    return [_as_warning(w) for w in table.attrs.get("warnings", [])]


@main.command(name="crossover")
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code.")
@click.option("--params", "-n", default="2e9", show_default=True, help="Model size(s), comma-separated.")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True), help=CI_HELP)
@click.option(
    "--posterior",
    type=click.Path(dir_okay=False, exists=True),
    help="A finetune-law posterior saved by `bayes-atlas fit --law finetune`.",
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def crossover_command(target: str, params: str, ci: float, posterior: str | None, as_json: bool) -> None:
    """Tokens and compute beyond which pretraining from scratch beats finetuning a multilingual checkpoint.

    With --json, a crossover that never happens (finetuning stays ahead at any token count)
    has null tokens and compute; p_never is the share of draws where that is so.
    """
    sizes = [_float_or_none(v.strip(), "params") for v in params.split(",") if v.strip()]
    if not sizes:
        raise click.UsageError(f"--params needs at least one model size (e.g. --params 2e9 or --params 1e9,7e9), got {params!r}")
    from bayes_atlas.decisions import crossover

    flags = {"posterior": "--posterior"}
    try:
        with _capture_warnings() as caught:
            table = crossover(target, sizes, ci=ci, posterior=posterior)
    except _decision_errors() as err:
        _fail(str(err), flags)
    found = _translated(_merge(_crossover_warnings(table, posterior), caught), flags, {"finetune": "--posterior"})
    # pandas deep-copies attrs on every column access; warning objects there need not survive that.
    target_code = table.attrs["target"]
    table.attrs = {}
    title = (
        f"Pretrain-vs-finetune crossover for {target_code} ({ci:.0%} intervals): below these tokens finetune, above them pretrain"
    )
    if as_json:
        _emit_json({"title": title, "target": target_code, "rows": _records(table)}, found)
        return
    import pandas as pd

    click.echo(title)
    with pd.option_context("display.float_format", "{:.3g}".format, "display.width", 140):
        click.echo(table.to_string())
    never = table["p_never"]
    if (never > 0.5).any():
        click.echo(
            f"p_never > 0.5 at {', '.join(f'{n:.3g}' for n in never.index[never > 0.5])} parameters: in most posterior draws "
            "from-scratch training never catches up (its effective data saturate once the unique tokens repeat), so finetune."
        )
    _report(found)


@main.command(name="evaluate")
@click.argument("runs_csv", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--laws", default="csl,dcsl,msl,atlas_dt,atlas_dt_other,atlas,bayes_atlas", show_default=True, help="Comma-separated."
)
@click.option("--splits", default="random,D,N,C,M", show_default=True, help="Comma-separated held-out sets (ATLAS Table 1).")
@click.option("--languages", default="en,fr,ru,zh,hi,sw,es,de", show_default=True, help="Evaluated languages.")
@click.option("--loss-unit", default="nats/token", show_default=True, type=click.Choice(LOSS_UNITS), help=LOSS_UNIT_HELP)
@click.option("--starts", default=8, show_default=True, type=click.IntRange(1), help="Starts per language of the point fits.")
@click.option(
    "--draws", default=1000, show_default=True, type=click.IntRange(1), help="NUTS draws per chain of the Bayesian fits."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the splits and fits.")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1),
    help="Fit on a Dask LocalCluster of this many worker processes (same results as serial).",
)
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Fit on a running Dask cluster (e.g. tcp://host:8786).")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the tidy table (CSV) here.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def evaluate_command(
    runs_csv: str | None,
    laws: str,
    splits: str,
    languages: str,
    loss_unit: str,
    starts: int,
    draws: int,
    seed: int,
    workers: int | None,
    scheduler: str | None,
    out: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Re-run ATLAS Table 1: held-out R^2 of point-fitted laws and of the Bayesian ATLAS law (with coverage).

    RUNS_CSV is a run table; default the emulated study's ATLAS-law rows (an emulation).
    The Bayesian law is refitted once per split (minutes each); --workers N fits the
    (split, law) cells on N local worker processes, --scheduler on a running Dask cluster.
    """
    if workers is not None and scheduler is not None:
        raise click.UsageError("pass --workers (a local cluster) or --scheduler (a running one), not both")
    if out:
        _check_out(out, option="--out", inputs=[("RUNS_CSV", runs_csv)], force=force, what="CSV")
    from bayes_atlas._io import write_atomically
    from bayes_atlas.evaluation import evaluate
    from bayes_atlas.runs import RunTable, RunTableError
    from bayes_atlas.scaling import FitInputError

    def split_list(text: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in text.split(",") if v.strip())

    flags = {"laws": "--laws", "splits": "--splits", "languages": "--languages", "n_starts": "--starts"}
    try:
        with _capture_warnings() as found:
            runs = RunTable.from_csv(runs_csv, loss_unit=loss_unit) if runs_csv else None
            table = evaluate(
                runs,
                laws=split_list(laws),
                splits=split_list(splits),
                languages=split_list(languages),
                seed=seed,
                n_starts=starts,
                fit_kwargs={"draws": draws, "tune": draws},
                progress=not as_json,
                workers=workers,
                scheduler=scheduler,
            )
    except (RunTableError, FitInputError, ValueError) as err:
        _fail(str(err), flags)
    found = _translated(found, flags)
    if out:
        write_atomically(out, lambda tmp: table.to_csv(tmp, index=False))
    mean = table[table["language"] == "mean"]
    if as_json:
        _emit_json(
            {"title": "held-out R^2 (mean over languages) and coverage", "rows": _records(mean.set_index(["split", "law"]))},
            found,
        )
        return
    r2 = mean.pivot(index="law", columns="split", values="r2")
    _print_table(r2, "Held-out R^2, mean over the evaluated languages (ATLAS Table 1 layout)")
    coverage = mean.dropna(subset=["coverage90"]).set_index("split")[["coverage50", "coverage90", "n_test"]]
    if len(coverage):
        _print_table(coverage, "\nBayesian ATLAS law: coverage of the 50% / 90% posterior predictive intervals")
    _report(found)


#: bayes_atlas.calibration.SUITE_TABLES / SUITE_SPLITS, spelled out so the CLI starts without numpy (a test keeps them equal).
CALIBRATION_TABLES = ("epoch", "datablations", "goldfish", "misfitting", "porian")
CALIBRATION_SPLITS = ("random", "top_compute", "rolling_2x", "rolling_4x", "rolling_8x", "few_runs")
#: The files ``bayes-atlas calibrate --out DIR`` writes into DIR.
CALIBRATION_OUTPUTS = ("summary.csv", "rows.csv", "diagnostics.csv", "calibration.json", "calibration.png")


def _choice_list(text: str, choices: tuple[str, ...], option: str) -> tuple[str, ...]:
    """Comma-separated names, each one of ``choices`` (a usage error names the unknown ones)."""
    names = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not names:
        raise click.UsageError(f"{option} needs at least one of {', '.join(choices)}")
    unknown = [n for n in names if n not in choices]
    if unknown:
        raise click.UsageError(f"{option}: unknown {', '.join(repr(n) for n in unknown)}; choose from {', '.join(choices)}")
    return names


@main.command(name="calibrate")
@click.option(
    "--tables",
    default=",".join(CALIBRATION_TABLES),
    show_default=True,
    help="Comma-separated public run tables (misfitting and porian ship in data/; the others need the public files).",
)
@click.option("--splits", default=",".join(CALIBRATION_SPLITS), show_default=True, help="Comma-separated held-out splits.")
@click.option("--draws", default=500, show_default=True, type=click.IntRange(1), help="Kept draws per chain of every fit.")
@click.option("--tune", default=500, show_default=True, type=click.IntRange(1), help="Tuning steps per chain of every fit.")
@click.option("--chains", default=4, show_default=True, type=click.IntRange(1), help="Independent chains of every fit.")
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(0), help="Seed of the splits, samplers and predictive draws."
)
@click.option("--max-rows", type=click.IntRange(2), help="Keep at most this many rows of each table (quick checks).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1),
    help="Fit on a Dask LocalCluster of this many worker processes (same results as serial).",
)
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Fit on a running Dask cluster (e.g. tcp://host:8786).")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help=f"Directory to write {', '.join(CALIBRATION_OUTPUTS)} into (created if missing).",
)
@click.option("--force", is_flag=True, help="Replace existing files of the same names in --out.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def calibrate_command(
    tables: str,
    splits: str,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    max_rows: int | None,
    workers: int | None,
    scheduler: str | None,
    out: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Held-out calibration of the law on public run tables: coverage, error and CRPS, Bayes vs point fit.

    Per table and split: coverage of the 50% / 90% posterior predictive intervals, median
    absolute relative error of the predictive median and the CRPS, beside the multi-start
    point fit on the held-out rows it can predict (n_point; it has no interval). Progress goes to stderr. With --out,
    the summary, every held-out row, the fits' diagnostics, the JSON and a PIT / reliability
    figure are written into that directory.
    """
    table_names = _choice_list(tables, CALIBRATION_TABLES, "--tables")
    split_names = _choice_list(splits, CALIBRATION_SPLITS, "--splits")
    if workers is not None and scheduler is not None:
        raise click.UsageError("pass --workers (a local cluster) or --scheduler (a running one), not both")
    if out:
        from pathlib import Path

        directory = Path(out)
        if directory.exists() and not directory.is_dir():
            raise click.UsageError(f"--out {out} is a file; give a directory")
        for name in CALIBRATION_OUTPUTS:
            _check_out(str(directory / name), option="--out", force=force, what=name.rsplit(".", 1)[-1].upper())

    from bayes_atlas.calibration import suite

    flags = {"tables": "--tables", "splits": "--splits", "max_rows": "--max-rows"}
    try:
        with _capture_warnings() as found:
            result = suite(
                table_names,
                splits=split_names,
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
                max_rows=max_rows,
                workers=workers,
                scheduler=scheduler,
                progress=lambda line: click.echo(line, err=True),
            )
    except (ValueError, DatasetError) as err:
        _fail(str(err), flags)
    found = _translated(found, flags)
    payload = result.to_dict()
    if out:
        from pathlib import Path

        import matplotlib.pyplot as plt

        from bayes_atlas._io import write_atomically
        from bayes_atlas.figures import calibration_plot, save_figure

        directory = Path(out)
        # Everything is made before the first file is written: a failure leaves no mixed set.
        figure = calibration_plot(result.rows)
        text = _dumps({**payload, "warnings": found})
        try:
            write_atomically(directory / "summary.csv", lambda tmp: result.summary.to_csv(tmp, index=False))
            write_atomically(directory / "rows.csv", lambda tmp: result.rows.to_csv(tmp, index=False))
            write_atomically(directory / "diagnostics.csv", lambda tmp: result.diagnostics.to_csv(tmp, index=False))
            write_atomically(directory / "calibration.json", lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
            save_figure(figure, directory / "calibration", formats=("png",))
        finally:
            plt.close(figure)
        click.echo(f"wrote {', '.join(str(directory / n) for n in CALIBRATION_OUTPUTS)}", err=True)
    title = "Held-out calibration per table and split: Bayesian law vs multi-start point fit"
    if as_json:
        _emit_json({"title": title, **payload}, found)
        return
    columns = {
        "n_test": "n",
        "coverage50": "cov50",
        "coverage90": "cov90",
        "median_abs_error": "err",
        "point_median_abs_error": "err_point",
        "crps_log": "crps%",
        "point_crps_log": "crps%_point",
        "n_point": "n_point",
        "coverage50_p": "cov50_p",
        "coverage90_p": "cov90_p",
    }
    summary = result.summary.set_index(["table", "split"])
    shown = summary[[c for c in columns if c in summary]].rename(columns=columns)
    for column in ("err", "err_point", "crps%", "crps%_point"):
        shown[column] = 100 * shown[column]
    _print_table(shown, title + " (errors in % of the observed loss; CRPS of the log loss x 100)")
    diagnostics = result.diagnostics.set_index(["table", "fit"])[["n_train", "divergences", "max_r_hat", "min_ess_bulk"]]
    diagnostics["converged"] = (result.diagnostics["failure"] == "").map({True: "yes", False: "NO"}).to_numpy()
    _print_table(diagnostics, "\nBayesian fits: diagnostics")
    _report(found)


if __name__ == "__main__":  # pragma: no cover - python -m bayes_atlas.cli (after every command is defined)
    sys.exit(main(prog_name="bayes-atlas"))
