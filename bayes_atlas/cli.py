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
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--published", is_flag=True, help="Show the paper's point estimates instead of the posterior.")
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A transfer posterior saved by fit-transfer.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def helpers(target: str, k: int, ci: float, published: bool, posterior: str | None, as_json: bool) -> None:
    """Best helper (co-training) languages for TARGET, with credible intervals."""
    from bayes_atlas.errors import UnknownLanguageError

    if published:
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
        return
    from bayes_atlas.inference import PosteriorFileError
    from bayes_atlas.transfer import TransferFit, load_default

    try:
        fit = TransferFit.load(posterior) if posterior else load_default()
        table = fit.helpers(target, k=k, ci=ci, top=k)
    except (UnknownLanguageError, ValueError, PosteriorFileError) as err:
        _fail(str(err))
    title = (
        f"Best helper languages for {table.attrs['target']}: posterior of BTS(source -> {table.attrs['target']}) "
        f"from {'the shipped posterior of the published matrix' if not posterior else posterior}; "
        f"{ci:.0%} intervals; p_helps = P(BTS > 0); p_top{k} = P(among the {k} best); published = printed value"
    )
    _print_table(table, as_json, title)


@main.command(name="fit-transfer")
@click.argument("matrix", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="netCDF file to write.")
@click.option("--card", type=click.Path(dir_okay=False), help="Also write a markdown model card here.")
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--tune", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--chains", default=4, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=20261128, show_default=True, type=int)
@click.option("--float32", is_flag=True, help="Store draws in single precision (half the file size).")
def fit_transfer(
    matrix: str | None, out: str, card: str | None, draws: int, tune: int, chains: int, seed: int, float32: bool
) -> None:
    """Fit the Bayesian transfer model to MATRIX (CSV: rows target, columns source; default: the published one)."""
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
        fit = TransferModel().fit(frame, draws=draws, tune=tune, chains=chains, random_seed=seed)
    except TransferInputError as err:
        _fail(str(err))
    fit.save(out, float32=float32)
    click.echo(f"wrote {fit!r} to {out}")
    if card:
        command = " ".join(["bayes-atlas", *sys.argv[1:]]) if sys.argv[1:2] == ["fit-transfer"] else None
        text = model_card(fit, data_note=note, command=command)
        write_atomically(card, lambda tmp: tmp.write_text(text))
        click.echo(f"wrote the model card to {card}")


@main.command(name="evaluate-transfer")
@click.option("--scheme", type=click.Choice(["random", "language"]), default="random", show_default=True)
@click.option("--fraction", default=0.2, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds (random scheme: one mask each).")
@click.option("--languages", "held_out", default=None, help="Comma-separated languages to leave out (default: all).")
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--tune", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--out", type=click.Path(dir_okay=False), help="Write the per-cell predictions to this CSV.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate_transfer(
    scheme: str, fraction: float, seeds: str, held_out: str | None, draws: int, tune: int, out: str | None, as_json: bool
) -> None:
    """Held-out accuracy of the transfer model vs OLS and row means on the published matrix."""
    import pandas as pd

    from bayes_atlas._io import write_atomically
    from bayes_atlas.transfer_eval import evaluate_languages, evaluate_random, score_predictions

    try:
        seed_list = [int(v) for v in seeds.split(",") if v.strip()]
    except ValueError:
        _fail(f"--seeds must be comma-separated integers, got {seeds!r}")
    if scheme == "random":
        results = [evaluate_random(fraction=fraction, seed=seed, draws=draws, tune=tune) for seed in seed_list]
    else:
        languages = [v.strip() for v in held_out.split(",")] if held_out else None
        try:
            results = [evaluate_languages(languages=languages, seed=seed_list[0], draws=draws, tune=tune)]
        except ValueError as err:
            _fail(str(err))
    predictions = pd.concat([r.predictions for r in results], ignore_index=True)
    diagnostics = pd.concat([r.scores.attrs["diagnostics"] for r in results], ignore_index=True)
    if out:
        write_atomically(out, lambda tmp: predictions.to_csv(tmp, index=False))
    scores = score_predictions(predictions)
    _print_table(scores, as_json, f"Held-out cells ({scheme}): RMSE, interval coverage and mean 90% width")
    if not as_json:
        _print_table(
            diagnostics[["fold", "divergences", "max_r_hat", "min_ess_bulk", "wall_time_s"]],
            False,
            "\nBayesian fits: diagnostics per fold",
        )


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the figures.")
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A transfer posterior (default: shipped).")
@click.option("--permutations", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--format", "formats", default="png,pdf", show_default=True, help="Comma-separated file formats.")
def figures(out: str, posterior: str | None, permutations: int, formats: str) -> None:
    """Regenerate the study's figures with posterior bands into OUT (PNG and PDF).

    Fig. 1 compute_optimal, Fig. 2 transfer_heatmap, Fig. 3 script_family and
    transfer_asymmetry, Fig. 4 curse, Fig. 5 expansion, Fig. 6 finetune, Fig. 7
    crossover_compute. The law figures use the shipped emulated posteriors (labelled so).
    """
    from pathlib import Path

    from bayes_atlas import figures as figs
    from bayes_atlas.transfer import TransferFit, load_default, script_family_tests

    fit = TransferFit.load(posterior) if posterior else load_default()
    kinds = tuple(f.strip() for f in formats.split(",") if f.strip())
    directory = Path(out)
    made = {
        "transfer_heatmap": figs.transfer_heatmap(fit),
        "script_family": figs.script_family_plot(script_family_tests(fit, n_permutations=permutations)),
        "transfer_asymmetry": figs.asymmetry_plot(fit),
        "compute_optimal": figs.compute_optimal_plot(),
        "curse": figs.curse_plot(),
        "expansion": figs.expansion_plot(),
        "finetune": figs.finetune_plot(),
        "crossover_compute": figs.crossover_compute_plot(),
    }
    for name, fig in made.items():
        for path in figs.save_figure(fig, directory / name, formats=kinds):
            click.echo(f"wrote {path}")


@main.command(name="fit")
@click.argument("runs_csv", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--emulated", is_flag=True, help="Fit the simulated ATLAS study instead of a CSV (labelled an emulation).")
@click.option("--law", type=click.Choice(["atlas", "chinchilla", "dcsl", "msl", "curse", "finetune"]), default="atlas", show_default=True)
@click.option("--loss-unit", default="nats/token", show_default=True, type=click.Choice(["nats/token", "bits/token"]))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="netCDF file to write.")
@click.option("--card", type=click.Path(dir_okay=False), help="Also write a markdown model card here.")
@click.option("--draws", type=click.IntRange(1), help="Kept draws per chain (default: bayes_atlas.fit's).")
@click.option("--tune", type=click.IntRange(1), help="Tuning steps per chain (default: bayes_atlas.fit's).")
@click.option("--chains", default=4, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--max-draws", type=click.IntRange(1), help="Store at most this many draws (thinned evenly).")
@click.option("--float32", is_flag=True, help="Store draws in single precision.")
@click.option(
    "--theta-prior",
    type=click.Path(dir_okay=False, exists=True),
    help="A law posterior whose per-language parameters become the prior (curse / finetune laws; see bayes_atlas.fit).",
)
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
    max_draws: int | None,
    float32: bool,
    theta_prior: str | None,
) -> None:
    """Fit a hierarchical scaling law to RUNS_CSV (a run table) or to the emulated study."""
    from bayes_atlas._io import write_atomically
    from bayes_atlas.runs import RunTable, RunTableError
    from bayes_atlas.inference import PosteriorFileError
    from bayes_atlas.scaling import FitInputError, emulated_study_runs, fit, model_card

    if emulated == bool(runs_csv):
        _fail("give either RUNS_CSV or --emulated")
    try:
        runs = emulated_study_runs(seed, law) if emulated else RunTable.from_csv(runs_csv, loss_unit=loss_unit)
        # Sampler lengths left unset keep fit()'s defaults (one source of truth, no import at CLI start).
        lengths = {name: value for name, value in (("draws", draws), ("tune", tune)) if value is not None}
        result = fit(runs, law=law, chains=chains, random_seed=seed, theta_prior=theta_prior, **lengths)
    except (RunTableError, FitInputError, PosteriorFileError) as err:
        _fail(str(err))
    result.save(out, max_draws=max_draws, float32=float32)
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
        text = model_card(result, title=title, data_note=note, command=command)
        write_atomically(card, lambda tmp: tmp.write_text(text))
        click.echo(f"wrote the model card to {card}")


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


def _float_or_none(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        _fail(f"--{name} must be a number such as 1e21, got {value!r}")
    return None


def _decision_errors() -> tuple[type[Exception], ...]:
    from bayes_atlas.errors import UnknownLanguageError
    from bayes_atlas.inference import PosteriorFileError

    return (UnknownLanguageError, ValueError, PosteriorFileError)


@main.command()
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code (e.g. ca).")
@click.option("--compute", "-c", default=None, help="Training budget in FLOPs (e.g. 1e21).")
@click.option("--params", "-n", default=None, help="Fix the model size (parameters).")
@click.option("--tokens", "-d", default=None, help="Fix the total training tokens.")
@click.option("--unique-tokens", default=None, help="Unique tokens of target text available (data repeat beyond it).")
@click.option("--languages", default=None, help="Comma-separated co-training languages mixed uniformly with the target.")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--regret", default=0.005, show_default=True, type=click.FloatRange(0, min_open=True), help="Relative loss tolerance of the regret band.")
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A law posterior saved by `bayes-atlas fit`.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
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
    as_json: bool,
) -> None:
    """Compute-optimal model size and tokens for TARGET with credible intervals, co-training
    languages, and whether to finetune or pretrain."""
    import warnings

    from bayes_atlas.decisions import posterior_recommend

    co_training = [c.strip() for c in languages.split(",") if c.strip()] if languages else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = posterior_recommend(
                target,
                _float_or_none(compute, "compute"),
                params=_float_or_none(params, "params"),
                tokens=_float_or_none(tokens, "tokens"),
                unique_tokens=_float_or_none(unique_tokens, "unique-tokens"),
                languages=co_training,
                ci=ci,
                regret=regret,
                posterior=posterior,
            )
    except _decision_errors() as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps(rec.to_dict(), indent=2))
        return
    d = rec.decision
    summary = rec.summary()
    shown = [q for q in summary.index if not q.startswith(("effective_", "loss_scratch"))]
    import pandas as pd

    click.echo(f"Recommendation for {rec.target} ({ci:.0%} intervals over {rec.inputs['n_draws']} posterior draws)")
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 120):
        click.echo(summary.loc[shown].to_string(na_rep=""))
    if "regret_params_low" in d:
        click.echo(
            f"\nRecommended: {d['recommended_params']:.3g} parameters, {d['recommended_tokens']:.3g} tokens "
            f"(lowest expected loss); any size in [{d['regret_params_low']:.3g}, {d['regret_params_high']:.3g}] "
            f"is within {100 * d['regret']:.2g}% of it."
        )
    if d.get("advice"):
        click.echo(f"Finetune or pretrain: {d['advice']}.")
    helpers = rec.helpers
    click.echo(f"\nBest co-training languages (transfer posterior): {d['co_training']}")
    with pd.option_context("display.float_format", "{:.2f}".format):
        click.echo(helpers.to_string())
    for w in rec.warnings:
        click.echo(f"warning {w.code}: {w.text}", err=True)


@main.command()
@click.option("--factor", "-r", required=True, type=click.FloatRange(0, min_open=True), help="Expansion factor: 2 = twice the languages.")
@click.option("--language", default=None, help="Use one language's curse exponents (default: the population).")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A curse-law posterior saved by `bayes-atlas fit --law curse`.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def expand(factor: float, language: str | None, ci: float, posterior: str | None, as_json: bool) -> None:
    """Multipliers of model size, data and compute for going from K to FACTOR x K languages at equal loss."""
    from bayes_atlas.decisions import expand_languages

    try:
        result = expand_languages(factor, language=language, ci=ci, posterior=posterior)
    except _decision_errors() as err:
        _fail(str(err))
    title = (
        f"K -> {factor:g}K languages at equal loss ({'population' if language is None else language}; {ci:.0%} intervals; "
        "printed = ATLAS Table, point estimates)"
    )
    _print_table(result.summary(), as_json, title)
    if not as_json:
        for w in result.warnings:
            click.echo(f"warning {w.code}: {w.text}", err=True)


@main.command(name="crossover")
@click.option("--target", "-t", required=True, help="Target language, ISO 639 code.")
@click.option("--params", "-n", default="2e9", show_default=True, help="Model size(s), comma-separated.")
@click.option("--ci", default=0.9, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--posterior", type=click.Path(dir_okay=False, exists=True), help="A finetune-law posterior.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def crossover_command(target: str, params: str, ci: float, posterior: str | None, as_json: bool) -> None:
    """Tokens and compute beyond which pretraining from scratch beats finetuning a multilingual checkpoint."""
    from bayes_atlas.decisions import crossover

    sizes = [_float_or_none(v.strip(), "params") for v in params.split(",") if v.strip()]
    try:
        table = crossover(target, sizes, ci=ci, posterior=posterior)
    except _decision_errors() as err:
        _fail(str(err))
    title = (
        f"Pretrain-vs-finetune crossover for {table.attrs['target']} ({ci:.0%} intervals): below these tokens "
        "finetune, above them pretrain"
    )
    if as_json:
        _print_table(table, True, title)
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
    for code in table.attrs.get("caveats", []):
        click.echo(f"warning {code}", err=True)


@main.command(name="evaluate")
@click.argument("runs_csv", required=False, type=click.Path(dir_okay=False, exists=True))
@click.option("--laws", default="csl,dcsl,msl,atlas_dt,atlas_dt_other,atlas,bayes_atlas", show_default=True, help="Comma-separated.")
@click.option("--splits", default="random,D,N,C,M", show_default=True, help="Comma-separated held-out sets (ATLAS Table 1).")
@click.option("--languages", default="en,fr,ru,zh,hi,sw,es,de", show_default=True, help="Evaluated languages.")
@click.option("--starts", default=8, show_default=True, type=click.IntRange(1), help="Starts per language of the point fits.")
@click.option("--draws", default=1000, show_default=True, type=click.IntRange(1), help="NUTS draws per chain of the Bayesian fits.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the tidy table (CSV) here.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate_command(
    runs_csv: str | None, laws: str, splits: str, languages: str, starts: int, draws: int, seed: int, out: str | None, as_json: bool
) -> None:
    """Re-run ATLAS Table 1: held-out R^2 of point-fitted laws and of the Bayesian ATLAS law (with coverage).

    RUNS_CSV is a run table; default the emulated study's ATLAS-law rows (an emulation).
    The Bayesian law is refitted once per split (minutes each).
    """
    from bayes_atlas._io import write_atomically
    from bayes_atlas.evaluation import evaluate
    from bayes_atlas.runs import RunTable, RunTableError
    from bayes_atlas.scaling import FitInputError

    def split_list(text: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in text.split(",") if v.strip())

    try:
        runs = RunTable.from_csv(runs_csv) if runs_csv else None
        table = evaluate(
            runs,
            laws=split_list(laws),
            splits=split_list(splits),
            languages=split_list(languages),
            seed=seed,
            n_starts=starts,
            fit_kwargs={"draws": draws, "tune": draws},
            progress=not as_json,
        )
    except (RunTableError, FitInputError, ValueError) as err:
        _fail(str(err))
    if out:
        write_atomically(out, lambda tmp: table.to_csv(tmp, index=False))
    mean = table[table["language"] == "mean"]
    r2 = mean.pivot(index="law", columns="split", values="r2")
    if as_json:
        _print_table(mean.set_index(["split", "law"]), True, "held-out R^2 (mean over languages) and coverage")
        return
    _print_table(r2, False, "Held-out R^2, mean over the evaluated languages (ATLAS Table 1 layout)")
    coverage = mean.dropna(subset=["coverage90"]).set_index("split")[["coverage50", "coverage90", "n_test"]]
    if len(coverage):
        _print_table(coverage, False, "\nBayesian ATLAS law: coverage of the 50% / 90% posterior predictive intervals")
