"""The user's surface of ``bayes-atlas``: strict JSON, warnings, ``python -m``, safe outputs, CLI/API parity.

Most tests replace the slow or in-flux API behind a command with a fake (``fake_module``), so
they exercise the command line's own paths (serialisation, warnings, path checks) in
milliseconds; ``test_json_is_strict_with_the_real_api`` runs the fast commands for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import bayes_atlas
from bayes_atlas import _io, cli
from bayes_atlas.cli import main

REPO = Path(__file__).resolve().parents[1]


def strict_loads(text: str):
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def runner():
    return CliRunner()


def fake_module(monkeypatch, name: str, **attrs) -> types.ModuleType:
    """Put a stand-in for bayes_atlas.<name> where ``from bayes_atlas.<name> import ...`` finds it."""
    module = types.ModuleType(f"bayes_atlas.{name}")
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, f"bayes_atlas.{name}", module)
    monkeypatch.setattr(bayes_atlas, name, module, raising=False)
    return module


class CodedWarning(UserWarning):
    """Like DecisionWarning / ConvergenceWarning: ``code`` and ``text``."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"[{code}] {text}")
        self.code = code
        self.text = text


class CodeOnlyWarning(UserWarning):
    """Like ConvergenceWarning: ``code`` but no ``text`` attribute."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"[{code}] {text}")
        self.code = code


EMULATED = "the law posterior is an EMULATION (fitted to simulated runs); fit your own run table with bayes_atlas.fit and pass it as posterior="


# -- fakes of the decision API ----------------------------------------------------------------


class FakeRecommendation:
    def __init__(self, target: str = "ca") -> None:
        self.target = target
        self.inputs = {"compute": 1e21, "ci": 0.9, "n_draws": 4}
        self.decision = {
            "recommended_params": 1e9,
            "recommended_tokens": 1.6e11,
            "regret_params_low": 8e8,
            "regret_params_high": 1.2e9,
            "regret": 0.005,
            "p_pretrain": float("nan"),
            "advice": None,
            "co_training": "none likely to help",
        }
        self.helpers = pd.DataFrame({"bts_mean": [0.1, np.nan]}, index=pd.Index(["es", "pt"], name="source"))
        self.warnings = [CodedWarning("BA202", EMULATED)]
        self.provenance = ["model size and tokens: a fake law posterior"]

    def summary(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {"median": [1e9, np.inf], "lower": [5e8, np.nan], "upper": [2e9, np.nan]},
            index=pd.Index(["params", "crossover_tokens"], name="quantity"),
        )
        return frame

    def to_dict(self) -> dict:
        # What Recommendation.to_dict() may hand over: NaN / inf inside, numpy scalars.
        return {
            "target": self.target,
            "inputs": self.inputs,
            "quantities": {"crossover_tokens": {"median": float("inf"), "lower": np.float64("nan")}},
            "decision": self.decision,
            "helpers": [{"source": "pt", "bts_mean": float("nan")}],
            "warnings": [{"code": "BA202", "message": EMULATED}],
        }


class FakeExpansion:
    def __init__(self) -> None:
        self.warnings = [CodedWarning("BA202", EMULATED.replace("law posterior", "curse posterior"))]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"median": [1.19, 0.83], "lower": [1.18, 0.82], "upper": [1.2, 0.85], "printed": [1.18, np.nan]},
            index=pd.Index(["N", "D_per_language"], name="multiplier"),
        )


def fake_crossover(target, sizes, ci=0.9, posterior=None):
    table = pd.DataFrame(
        {
            "tokens_median": [np.inf for _ in sizes],
            "tokens_lower": [np.nan for _ in sizes],
            "tokens_upper": [np.nan for _ in sizes],
            "p_never": [1.0 for _ in sizes],
        },
        index=pd.Index(sizes, name="params"),
    )
    found = [
        CodedWarning("BA202", EMULATED.replace("law posterior", "finetune posterior")),
        CodedWarning("BA204", f"{target} not in the finetune posterior's 10 languages: answered from the population"),
    ]
    table.attrs.update(target=target, ci=ci, caveats=[w.code for w in found], warnings=found)
    return table


def fake_decisions(monkeypatch, calls: dict | None = None) -> types.ModuleType:
    calls = calls if calls is not None else {}

    def posterior_recommend(target, compute=None, **kwargs):
        calls["recommend"] = {"target": target, "compute": compute, **kwargs}
        rec = FakeRecommendation(target)
        for w in rec.warnings:  # the API also emits them with warnings.warn
            warnings.warn(w, stacklevel=2)
        return rec

    def expand_languages(r, **kwargs):
        calls["expand"] = {"r": r, **kwargs}
        return FakeExpansion()

    return fake_module(
        monkeypatch,
        "decisions",
        posterior_recommend=posterior_recommend,
        expand_languages=expand_languages,
        crossover=fake_crossover,
    )


def fake_evaluation(monkeypatch) -> None:
    def evaluate(runs, **kwargs):
        return pd.DataFrame(
            {
                "split": ["random", "random", "random"],
                "law": ["csl", "bayes_atlas", "csl"],
                "language": ["mean", "mean", "en"],
                "r2": [0.9, np.nan, -np.inf],
                "coverage50": [np.nan, 0.5, np.nan],
                "coverage90": [np.nan, 0.9, np.nan],
                "n_test": [12.0, 12.0, 3.0],
            }
        )

    fake_module(monkeypatch, "evaluation", evaluate=evaluate)


def fake_predictions(n: int = 3) -> pd.DataFrame:
    rows = []
    for method in ("bayesian_transfer_model", "row_means"):
        for i in range(n):
            rows.append(
                {
                    "target": "ca",
                    "source": ["es", "fr", "it"][i % 3],
                    "observed": 0.1 * i,
                    "method": method,
                    "mean": 0.1 * i + 0.01,
                    "lower_50": 0.1 * i - 0.1,
                    "upper_50": 0.1 * i + 0.1,
                    "lower_90": 0.1 * i - 0.2,
                    "upper_90": 0.1 * i + 0.2,
                }
            )
    return pd.DataFrame(rows)


def fake_transfer_eval(monkeypatch) -> None:
    def result():
        scores = pd.DataFrame({"rmse": [0.1]})
        scores.attrs["diagnostics"] = pd.DataFrame(
            {
                "fold": ["random_0.2_seed0"],
                "divergences": [0],
                "max_r_hat": [np.inf],
                "min_ess_bulk": [np.nan],
                "wall_time_s": [1.0],
            }
        )
        return types.SimpleNamespace(predictions=fake_predictions(), scores=scores)

    def score_predictions(predictions):
        # Like transfer_eval.score_predictions: a transposed frame, so n_cells arrives as a float.
        rows = {
            m: {"rmse": 0.1, "coverage50": 0.5, "coverage90": float("nan"), "n_cells": len(g)}
            for m, g in predictions.groupby("method")
        }
        return pd.DataFrame(rows).T.rename_axis("method")

    fake_module(
        monkeypatch,
        "transfer_eval",
        evaluate_random=lambda **kwargs: result(),
        evaluate_languages=lambda **kwargs: result(),
        score_predictions=score_predictions,
    )


def fake_script_family(monkeypatch) -> None:
    def script_family_tests(n_permutations, seed):
        ols = pd.DataFrame(
            {"coef": [0.16], "se": [0.02], "p_value": [1e-12], "ci_lower": [0.1], "ci_upper": [np.nan]},
            index=pd.MultiIndex.from_tuples([("naive", "same_script")], names=["model", "term"]),
        )
        permutation = pd.DataFrame(
            {"coef": [0.08], "p_value": [1 / (n_permutations + 1)], "n_permutations": [n_permutations], "null_sd": [np.inf]},
            index=pd.Index(["same_script"], name="term"),
        )
        group_means = pd.DataFrame({"same_family": [0], "same_script": [1], "mean_bts": [np.nan], "n_cells": [4.0]})
        verdict = pd.DataFrame(
            {"naive_p": [1e-12], "permutation_p": [1 / (n_permutations + 1)]}, index=pd.Index(["same_script"], name="term")
        )
        return types.SimpleNamespace(ols=ols, permutation=permutation, group_means=group_means, verdict=lambda: verdict)

    fake_module(monkeypatch, "transfer_stats", script_family_tests=script_family_tests)


def fake_helpers(monkeypatch) -> None:
    class Fit:
        languages = ["es", "fr"]

        def helpers(self, target, k, ci, top):
            table = pd.DataFrame(
                {"name": ["Spanish"], "bts_mean": [0.1], "published": [np.nan], "measured": [np.bool_(False)]},
                index=pd.Index(["es"], name="source"),
            )
            table.attrs.update(target=target, fitted_target=False)
            return table

    class TransferFit:
        @staticmethod
        def load(path):
            return Fit()

    fake_module(monkeypatch, "transfer", TransferFit=TransferFit, load_default=lambda: Fit())


def fake_languages(monkeypatch) -> None:
    def languages(codes):
        return pd.DataFrame(
            {"name": ["Quechua"], "genus": [None], "in_atlas": [np.bool_(False)], "lineage": [[]], "speakers": [np.nan]},
            index=pd.Index(["qu"], name="code"),
        )

    # The rest of the real module stays importable: a command imported after this fake (evaluate,
    # when this file runs alone) reads NOT_LANGUAGES and normalize_code from it.
    import bayes_atlas.languages as real

    fake_module(monkeypatch, "languages", **{**vars(real), "languages": languages})


JSON_COMMANDS = {
    "recommend": ["recommend", "-t", "ca", "-c", "1e21", "--json"],
    "expand": ["expand", "-r", "2", "--json"],
    "crossover": ["crossover", "-t", "sw", "--params", "2e9,1e8", "--json"],
    "helpers": ["helpers", "-t", "eus", "--json"],
    "languages": ["languages", "quz", "--json"],
    "evaluate": ["evaluate", "--json"],
    "evaluate-transfer": ["evaluate-transfer", "--json"],
    "script-family": ["script-family", "--permutations", "20", "--json"],
}


def install_fakes(monkeypatch) -> None:
    fake_decisions(monkeypatch)
    fake_evaluation(monkeypatch)
    fake_transfer_eval(monkeypatch)
    fake_script_family(monkeypatch)
    fake_helpers(monkeypatch)
    fake_languages(monkeypatch)


# -- 1. strict JSON -------------------------------------------------------------------------


#: Commands checked only against the real API (their decisions have no stand-ins here).
REAL_API_ONLY = {"calibrate", "mixture", "next-run"}


def test_every_json_command_is_covered():
    with_json = {name for name, command in main.commands.items() if any(p.name == "as_json" for p in command.params)}
    assert with_json == set(JSON_COMMANDS) | REAL_API_ONLY


@pytest.mark.parametrize("name", sorted(JSON_COMMANDS))
def test_json_is_strict_and_carries_warnings(runner, monkeypatch, name):
    install_fakes(monkeypatch)
    result = runner.invoke(main, JSON_COMMANDS[name])
    assert result.exit_code == 0, result.output
    payload = strict_loads(result.stdout)
    assert isinstance(payload["warnings"], list)
    for w in payload["warnings"]:
        assert set(w) >= {"code", "text"} and w["text"]


def test_json_writes_non_finite_numbers_as_null(runner, monkeypatch):
    install_fakes(monkeypatch)
    rows = strict_loads(runner.invoke(main, JSON_COMMANDS["crossover"]).stdout)["rows"]
    assert rows[0]["tokens_median"] is None and rows[0]["p_never"] == 1.0
    rec = strict_loads(runner.invoke(main, JSON_COMMANDS["recommend"]).stdout)
    assert rec["quantities"]["crossover_tokens"] == {"median": None, "lower": None}
    assert rec["decision"]["p_pretrain"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "-t", "ca", "-c", "1e21", "--json"],
        ["recommend", "-t", "sw", "--params", "1e9", "--tokens", "1e12", "--json"],
        ["expand", "-r", "2", "--json"],
        ["expand", "-r", "3", "--language", "sw", "--json"],
        ["crossover", "-t", "sw", "--params", "2e9,1e8", "--json"],
        ["helpers", "-t", "eus", "--json"],
        ["helpers", "-t", "ca", "--published", "--json"],
        ["languages", "quz", "ca", "--json"],
        ["languages", "--json"],
        ["script-family", "--permutations", "20", "--json"],
        ["mixture", "-t", "ca", "-c", "1e21", "--json"],
        ["next-run", "-t", "ca", "-c", "1e22", "--outcomes", "4", "--json"],
    ],
    ids=lambda args: " ".join(args),
)
def test_json_is_strict_with_the_real_api(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    payload = strict_loads(result.stdout)
    assert "warnings" in payload


def test_helpers_outside_the_38_says_so(runner):
    result = runner.invoke(main, ["helpers", "-t", "eus", "--json"])
    payload = strict_loads(result.stdout)
    assert payload["fitted_target"] is False
    assert [w["code"] for w in payload["warnings"]] == ["BA204"]
    assert all(row["published"] is None for row in payload["rows"])


def test_json_counts_are_integers(runner, monkeypatch):
    fake_transfer_eval(monkeypatch)
    rows = strict_loads(runner.invoke(main, ["evaluate-transfer", "--json"]).stdout)["rows"]
    assert all(isinstance(row["n_cells"], int) for row in rows)


# -- 2. warnings ----------------------------------------------------------------------------


def test_expand_json_carries_the_warnings(runner, monkeypatch):
    fake_decisions(monkeypatch)
    payload = strict_loads(runner.invoke(main, ["expand", "-r", "2", "--json"]).stdout)
    assert [w["code"] for w in payload["warnings"]] == ["BA202"]
    assert "EMULATION" in payload["warnings"][0]["text"]


def test_recommend_json_has_each_warning_once_with_text(runner, monkeypatch):
    fake_decisions(monkeypatch)
    payload = strict_loads(runner.invoke(main, ["recommend", "-t", "ca", "-c", "1e21", "--json"]).stdout)
    assert [w["code"] for w in payload["warnings"]] == ["BA202"]  # attached and emitted: reported once
    assert "EMULATION" in payload["warnings"][0]["text"]


def test_crossover_prints_the_warning_text(runner, monkeypatch):
    fake_decisions(monkeypatch)
    result = runner.invoke(main, ["crossover", "-t", "sw"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert lines[0].startswith("warning BA202: the finetune posterior is an EMULATION")
    assert lines[1].startswith("warning BA204: sw not in the finetune posterior")
    payload = strict_loads(runner.invoke(main, ["crossover", "-t", "sw", "--json"]).stdout)
    assert [w["code"] for w in payload["warnings"]] == ["BA202", "BA204"]
    assert all(len(w["text"]) > 20 for w in payload["warnings"])


def test_crossover_real_api_warning_has_text(runner):
    result = runner.invoke(main, ["crossover", "-t", "sw"])
    assert result.exit_code == 0, result.output
    assert "warning BA202: the finetune posterior is an EMULATION" in result.stderr
    line = next(line for line in result.stderr.splitlines() if "BA202" in line)
    assert line.endswith("pass it as --posterior") and "=" not in line


def test_expand_real_api_json_has_the_emulation_warning(runner):
    payload = strict_loads(runner.invoke(main, ["expand", "-r", "2", "--json"]).stdout)
    assert "BA202" in [w["code"] for w in payload["warnings"]]


class EmulatedRuns:
    languages = ("ca",)
    loss_unit = "nats/token"

    def __len__(self) -> int:
        return 2


def fake_scaling(monkeypatch, calls: dict, warn: bool = True) -> None:
    class Result:
        def save(self, path, max_draws=None, float32=False, compact=False):
            import h5py

            with h5py.File(path, "w") as handle:  # what inference.write_posterior marks its files with
                handle.attrs["bayes_atlas_model"] = "law"

        def __repr__(self) -> str:
            return "<Fit fake>"

    def fit(runs, **kwargs):
        calls["fit"] = kwargs
        calls["runs"] = runs
        if warn:
            warnings.warn(CodeOnlyWarning("BA103", "atlas law fit: effective sample size 3 < 400; increase draws"), stacklevel=2)
            warnings.warn(
                CodeOnlyWarning("BA101", "atlas law fit: 2 divergent transitions; raise target_accept (e.g. 0.95)"), stacklevel=2
            )
        return Result()

    class FitInputError(ValueError):
        pass

    fake_module(
        monkeypatch,
        "scaling",
        fit=fit,
        FitInputError=FitInputError,
        emulated_study_runs=lambda seed, law: EmulatedRuns(),
        model_card=lambda result, title, data_note, command=None: f"# {title}\n\n{data_note}\n",
        EMULATED_DESIGNS={"atlas": ("monolingual",)},
    )


def test_fit_reports_convergence_warnings_not_raw_python_warnings(runner, monkeypatch, tmp_path):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(tmp_path / "f.nc")])
    assert result.exit_code == 0, result.output
    assert "warning BA103: atlas law fit: effective sample size 3 < 400; increase draws" in result.stderr
    assert "warning BA101: atlas law fit: 2 divergent transitions; raise --target-accept (e.g. 0.95)" in result.stderr
    assert "cli.py" not in result.stderr and "ConvergenceWarning" not in result.stderr and "CodeOnlyWarning" not in result.stderr


def test_warning_capture_leaves_global_filters_alone(runner, monkeypatch, tmp_path):
    fake_scaling(monkeypatch, {})
    before = list(warnings.filters)
    runner.invoke(main, ["fit", "--emulated", "--out", str(tmp_path / "f.nc")])
    assert warnings.filters == before


# -- 3. python -m ---------------------------------------------------------------------------


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_python_m_bayes_atlas():
    done = run_module("bayes_atlas", "--version")
    assert done.returncode == 0, done.stderr
    assert "bayes-atlas, version" in done.stdout
    assert "Usage: bayes-atlas" in run_module("bayes_atlas", "recommend", "--help").stdout


def test_python_m_bayes_atlas_cli_knows_every_command():
    done = run_module("bayes_atlas.cli", "recommend", "--help")
    assert done.returncode == 0, done.stderr
    assert "--finetune" in done.stdout
    done = run_module("bayes_atlas.cli", "crossover", "-t", "sw", "--params", ",")
    assert done.returncode == 2 and "--params needs at least one model size" in done.stderr


# -- 4. output paths ------------------------------------------------------------------------


@pytest.fixture
def run_table(tmp_path) -> Path:
    path = tmp_path / "r.csv"
    path.write_text("run_id,language,params,loss,tokens_ca\nr1,ca,1e8,3.0,1e9\nr2,ca,2e8,2.8,4e9\n")
    return path


def test_fit_refuses_out_equal_to_the_run_table(runner, monkeypatch, run_table):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    before = run_table.read_bytes()
    result = runner.invoke(main, ["fit", str(run_table), "--out", str(run_table)])
    assert result.exit_code == 2
    assert "same file as RUNS_CSV" in result.output
    assert run_table.read_bytes() == before and "fit" not in calls
    # --force does not make destroying an input acceptable
    assert runner.invoke(main, ["fit", str(run_table), "--out", str(run_table), "--force"]).exit_code == 2


def test_fit_refuses_card_equal_to_the_run_table_through_a_symlink(runner, monkeypatch, run_table, tmp_path):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    link = tmp_path / "link.md"
    link.symlink_to(run_table)
    before = run_table.read_bytes()
    result = runner.invoke(main, ["fit", str(run_table), "--out", str(tmp_path / "f.nc"), "--card", str(link)])
    assert result.exit_code == 2 and "--card" in result.output and "same file as RUNS_CSV" in result.output
    assert run_table.read_bytes() == before and "fit" not in calls


def test_fit_refuses_card_equal_to_out(runner, monkeypatch, tmp_path):
    fake_scaling(monkeypatch, {})
    out = str(tmp_path / "f.nc")
    result = runner.invoke(main, ["fit", "--emulated", "--out", out, "--card", out])
    assert result.exit_code == 2 and "same file as --out" in result.output


def test_fit_refuses_a_foreign_file_unless_forced(runner, monkeypatch, tmp_path):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    notes = tmp_path / "notes.nc"
    notes.write_text("my notes")
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(notes)])
    assert result.exit_code == 2 and "--force" in result.output and "fit" not in calls
    assert notes.read_text() == "my notes"
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(notes), "--force"])
    assert result.exit_code == 0, result.output
    assert notes.read_bytes().startswith(b"\x89HDF")


def test_fit_replaces_its_own_outputs(runner, monkeypatch, tmp_path):
    import h5py

    fake_scaling(monkeypatch, {}, warn=False)
    out, card = tmp_path / "f.nc", tmp_path / "f.md"
    with h5py.File(out, "w") as handle:
        handle.attrs["bayes_atlas_model"] = "law"
    card.write_text("# atlas law posterior\n\nCreated 2026-11-28; law `atlas`; 2 languages\n")
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(out), "--card", str(card)])
    assert result.exit_code == 0, result.output
    assert _io.CARD_MARKER in card.read_text()
    # the card it wrote is recognised as its own next time
    assert runner.invoke(main, ["fit", "--emulated", "--out", str(out), "--card", str(card)]).exit_code == 0


def test_fit_checks_the_output_directory_before_sampling(runner, monkeypatch, tmp_path):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(blocker / "sub" / "f.nc")])
    assert result.exit_code == 2 and "is not a directory" in result.output and "fit" not in calls

    def refuse(directory):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_io, "_probe_writable", refuse)
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(tmp_path / "new" / "f.nc")])
    assert result.exit_code == 2 and "Permission denied" in result.output and "fit" not in calls
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(tmp_path / "f.nc"), "--card", str(tmp_path / "c.md")])
    assert result.exit_code == 2 and "fit" not in calls


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_fit_refuses_a_read_only_directory(runner, monkeypatch, tmp_path):
    calls: dict = {}
    fake_scaling(monkeypatch, calls)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = runner.invoke(main, ["fit", "--emulated", "--out", str(locked / "f.nc")])
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2 and "fit" not in calls


def test_fit_transfer_refuses_out_equal_to_the_matrix(runner, tmp_path):
    matrix = tmp_path / "m.csv"
    matrix.write_text("target,ca,es\nca,,0.1\nes,0.2,\n")
    result = runner.invoke(main, ["fit-transfer", str(matrix), "--out", str(matrix)])
    assert result.exit_code == 2 and "same file as MATRIX" in result.output
    assert matrix.read_text().startswith("target,ca,es")


def test_simulate_refuses_to_overwrite_without_force(runner, tmp_path):
    out = tmp_path / "study.csv"
    out.write_text("precious")
    result = runner.invoke(main, ["simulate", "--out", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_text() == "precious"
    result = runner.invoke(main, ["simulate", "--out", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("run_id,")


def test_evaluate_refuses_out_equal_to_the_run_table(runner, monkeypatch, run_table):
    fake_evaluation(monkeypatch)
    before = run_table.read_bytes()
    result = runner.invoke(main, ["evaluate", str(run_table), "--out", str(run_table)])
    assert result.exit_code == 2 and run_table.read_bytes() == before


def test_write_atomically_fsyncs_before_the_rename(monkeypatch, tmp_path):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    _io.write_atomically(tmp_path / "out.txt", lambda tmp: tmp.write_text("data"))
    assert events.index("fsync") < events.index("replace")
    assert (tmp_path / "out.txt").read_text() == "data"


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError, RuntimeError])
def test_write_atomically_leaves_nothing_behind(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise error("interrupted")

    with pytest.raises(error):
        _io.write_atomically(target, write)
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert target.read_text() == "old"


def test_write_atomically_cleans_up_when_the_rename_is_interrupted(monkeypatch, tmp_path):
    def interrupted(a, b):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _io.write_atomically(tmp_path / "out.txt", lambda tmp: tmp.write_text("data"))
    assert list(tmp_path.iterdir()) == []


# -- 5. CLI/API parity ----------------------------------------------------------------------


def test_recommend_passes_finetune_and_transfer_posteriors(runner, monkeypatch, tmp_path):
    calls: dict = {}
    fake_decisions(monkeypatch, calls)
    finetune, transfer = tmp_path / "ft.nc", tmp_path / "tr.nc"
    finetune.write_bytes(b"x")
    transfer.write_bytes(b"x")
    args = ["recommend", "-t", "ca", "-c", "1e21", "--finetune", str(finetune), "--transfer", str(transfer)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert calls["recommend"]["finetune"] == str(finetune) and calls["recommend"]["transfer"] == str(transfer)


def test_recommend_passes_its_seed_and_per_language_unique_tokens(runner, monkeypatch):
    # Before, recommend had no --seed (the API's random_seed was out of reach) and refused the
    # LANG=TOKENS form that mixture takes ("must be a number such as 1e21").
    calls: dict = {}
    fake_decisions(monkeypatch, calls)
    result = runner.invoke(main, ["recommend", "-t", "ca", "-c", "1e21", "--seed", "7", "--unique-tokens", "ca=5e9,es=1e12"])
    assert result.exit_code == 0, result.output
    assert calls["recommend"]["random_seed"] == 7
    assert calls["recommend"]["unique_tokens"] == {"ca": 5e9, "es": 1e12}
    result = runner.invoke(main, ["recommend", "-t", "ca", "-c", "1e21", "--unique-tokens", "5e9"])
    assert calls["recommend"]["unique_tokens"] == 5e9 and calls["recommend"]["random_seed"] == 0
    assert runner.invoke(main, ["recommend", "-t", "ca", "-c", "1e21", "--seed", "-2"]).exit_code == 2


def test_recommend_warning_names_the_option_of_its_posterior(runner, monkeypatch):
    fake_decisions(monkeypatch)
    result = runner.invoke(main, ["recommend", "-t", "ca", "-c", "1e21"])
    assert "warning BA202:" in result.stderr
    assert "`bayes-atlas fit` and pass it as --posterior" in result.stderr
    assert "posterior=" not in result.stderr


def test_fit_target_accept_and_per_sequence_losses(runner, monkeypatch, tmp_path, run_table):
    calls: dict = {}
    fake_scaling(monkeypatch, calls, warn=False)
    result = runner.invoke(main, ["fit", "--emulated", "--target-accept", "0.99", "--out", str(tmp_path / "a.nc")])
    assert result.exit_code == 0, result.output
    assert calls["fit"]["target_accept"] == 0.99
    result = runner.invoke(main, ["fit", "--emulated", "--out", str(tmp_path / "b.nc")])
    assert "target_accept" not in calls["fit"]  # unset keeps bayes_atlas.fit's default
    result = runner.invoke(
        main, ["fit", str(run_table), "--loss-unit", "bits/sequence", "--law", "chinchilla", "--out", str(tmp_path / "c.nc")]
    )
    assert result.exit_code == 0, result.output
    assert calls["runs"].loss_unit == "bits/sequence"


def test_loss_units_match_the_run_table():
    from bayes_atlas.cli import LOSS_UNITS
    from bayes_atlas.runs import LOSS_UNITS as accepted

    assert set(LOSS_UNITS) == set(accepted)


def test_every_ci_option_has_help():
    missing = [name for name, command in main.commands.items() for p in command.params if p.name == "ci" and not p.help]
    assert missing == []


def test_every_option_has_help():
    missing = [
        f"{name} --{p.name}"
        for name, command in main.commands.items()
        for p in command.params
        if isinstance(p, __import__("click").Option) and not p.help
    ]
    assert missing == []


def test_api_words_become_cli_words(runner, monkeypatch):
    def posterior_recommend(target, compute=None, **kwargs):
        raise ValueError("give compute= (FLOPs), or both params= and tokens= (the budget is then 6 N D)")

    fake_module(monkeypatch, "decisions", posterior_recommend=posterior_recommend)
    result = runner.invoke(main, ["recommend", "-t", "ca"])
    assert result.exit_code == 1
    assert "give --compute (FLOPs), or both --params and --tokens" in result.output
    assert "compute=" not in result.output


def test_api_words_become_cli_words_with_the_real_api(runner):
    result = runner.invoke(main, ["recommend", "-t", "ca"])
    assert result.exit_code == 1
    assert "--compute" in result.output and "compute=" not in result.output


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("give compute= (FLOPs), or both params= and tokens=", "give --compute (FLOPs), or both --params and --tokens"),
        ("compute, params and tokens over-determine the run", "--compute, --params and --tokens over-determine the run"),
        ("compute must be a positive number, got -5.0", "--compute must be a positive number, got -5.0"),
        ("this table has loss_unit='bits/sequence' (per-sequence)", "this table has --loss-unit bits/sequence (per-sequence)"),
        ("raise target_accept (e.g. 0.95)", "raise --target-accept (e.g. 0.95)"),
        ("the compute budget is 6 N D", "the compute budget is 6 N D"),
        ("tokens_ca must be >= 0", "tokens_ca must be >= 0"),
    ],
)
def test_cli_words(message, expected):
    assert cli._cli_words(message) == expected


def test_cli_words_name_the_option_of_the_role():
    roles = {"law": "--posterior", "finetune": "--finetune"}
    text = "the finetune posterior is an EMULATION; fit your own run table with bayes_atlas.fit and pass it as posterior="
    assert cli._cli_words(text, roles=roles).endswith("with `bayes-atlas fit` and pass it as --finetune")


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"law": "--posterior", "finetune": "--finetune"}, "pass it as --finetune"),
        ({"finetune": "--posterior"}, "pass it as --posterior"),  # crossover's option for the finetune posterior
        (None, "pass it as --finetune"),  # no mapping: the API's own hint
    ],
)
def test_cli_words_replace_the_api_hint(roles, expected):
    text = "the finetune posterior is an EMULATION; fit your own run table with bayes_atlas.fit and pass it as finetune= (CLI: --finetune)"
    assert cli._cli_words(text, roles=roles).endswith(expected)


@pytest.mark.parametrize("params", [",", " , ", ""])
def test_crossover_without_sizes_is_a_usage_error(runner, params):
    result = runner.invoke(main, ["crossover", "-t", "sw", "--params", params])
    assert result.exit_code == 2
    assert "--params needs at least one model size" in result.output
    assert not isinstance(result.exception, KeyError)


def test_crossover_bad_size_is_a_usage_error(runner):
    result = runner.invoke(main, ["crossover", "-t", "sw", "--params", "big"])
    assert result.exit_code == 2 and "--params must be a number" in result.output


# -- 6. numbers -----------------------------------------------------------------------------


def test_evaluate_transfer_prints_counts_as_integers(runner, monkeypatch):
    fake_transfer_eval(monkeypatch)
    result = runner.invoke(main, ["evaluate-transfer"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "n_cells" in line)
    assert header.split()[-1] == "n_cells"
    row = next(line for line in result.stdout.splitlines() if line.startswith("row_means"))
    assert row.split()[-1] == "3"
    assert "3.000" not in result.stdout


def test_script_family_p_values_are_readable(runner, monkeypatch):
    fake_script_family(monkeypatch)
    result = runner.invoke(main, ["script-family", "--permutations", "20"])
    assert result.exit_code == 0, result.output
    assert "0.000 " not in result.stdout and "0.000000" not in result.stdout
    assert "1.0e-12" in result.stdout  # the naive OLS p-value, not 0.000
    assert "<= 0.048" in result.stdout  # a permutation p-value at its floor 1/(20 + 1)


@pytest.mark.parametrize(
    ("p", "floor", "text"),
    [
        (0.5, None, "0.500"),
        (0.0123, None, "0.012"),
        (3.2e-7, None, "3.2e-07"),
        (0.0, None, "< 1e-16"),
        (1 / 2001, 1 / 2001, "<= 0.0005"),
        (0.2, 1 / 21, "0.200"),
        (float("nan"), None, ""),
    ],
)
def test_format_p(p, floor, text):
    assert cli._format_p(p, floor) == text
