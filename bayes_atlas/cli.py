"""The ``bayes-atlas`` command line (built with click; heavy imports happen inside commands)."""

from __future__ import annotations

import json
import sys

import click

from bayes_atlas import __version__


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _print_table(frame: object, as_json: bool, title: str = "") -> None:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    if as_json:
        records = frame.reset_index().to_dict(orient="records")
        click.echo(json.dumps({"title": title, "rows": records}, indent=2, default=str))
        return
    if title:
        click.echo(title)
    with pd.option_context("display.width", 120, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        click.echo(frame.to_string())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bayes-atlas")
def main() -> None:
    """Bayesian multilingual scaling laws (ATLAS with posterior distributions)."""


@main.command()
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code (e.g. ca).")
@click.option("--k", "-k", default=5, show_default=True, type=click.IntRange(1, 37), help="How many sources.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def helpers(target: str, k: int, as_json: bool) -> None:
    """Best helper (co-training) languages for TARGET from the published transfer matrix."""
    from bayes_atlas.errors import UnknownLanguageError
    from bayes_atlas.published import published_helpers

    try:
        table = published_helpers(target, k=k)
    except (UnknownLanguageError, ValueError) as err:
        _fail(str(err))
    title = (
        f"Best helper languages for {table.attrs['target']} (published ATLAS BTS, point estimates; "
        "measured = directly measured cell, else the paper's random-forest prediction)"
    )
    _print_table(table, as_json, title)


@main.command(name="languages")
@click.argument("codes", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def languages_command(codes: tuple[str, ...], as_json: bool) -> None:
    """Script, family and genus of CODES (default: the 38 ATLAS languages)."""
    from bayes_atlas.errors import UnknownLanguageError
    from bayes_atlas.languages import languages

    try:
        table = languages(list(codes) or None).drop(columns="lineage")
    except UnknownLanguageError as err:
        _fail(str(err))
    _print_table(table, as_json)


@main.command(name="script-family")
@click.option("--permutations", default=2000, show_default=True, type=click.IntRange(1), help="Language relabellings.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def script_family(permutations: int, seed: int, as_json: bool) -> None:
    """Do script and family shift transfer? Tests that respect the dependence between cells."""
    from bayes_atlas.transfer_stats import script_family_tests

    result = script_family_tests(n_permutations=permutations, seed=seed)
    if as_json:
        payload = {
            "ols": result.ols.reset_index().to_dict(orient="records"),
            "permutation": result.permutation.reset_index().to_dict(orient="records"),
            "group_means": result.group_means.to_dict(orient="records"),
            "verdict": result.verdict().reset_index().to_dict(orient="records"),
        }
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    _print_table(result.ols, False, "OLS of BTS on same_script + same_family (95% CI)")
    _print_table(result.permutation, False, "\nPermutation test (languages relabelled, fixed-effects coefficient)")
    _print_table(result.group_means, False, "\nMean BTS by group")
    _print_table(result.verdict(), False, '\nDoes the published "p < .001" survive?')


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--loss-unit", default="nats/token", show_default=True, type=click.Choice(["nats/token", "bits/token", "bits/sequence"]))
def validate(path: str, loss_unit: str) -> None:
    """Validate a run-table CSV at PATH and summarise it."""
    from bayes_atlas.runs import RunTable, RunTableError

    try:
        runs = RunTable.from_csv(path, loss_unit=loss_unit)
    except RunTableError as err:
        _fail(str(err))
    click.echo(f"OK: {runs!r}")


@main.command()
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the loss noise.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write.")
def simulate(seed: int, out: str) -> None:
    """Write a simulated ATLAS study (an emulation, not the paper's runs) to OUT."""
    from bayes_atlas._io import write_atomically
    from bayes_atlas.simulate import atlas_study

    runs, _ = atlas_study(seed=seed)
    write_atomically(out, lambda tmp: runs.frame.to_csv(tmp, index=False))
    click.echo(f"wrote {runs!r} to {out}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
