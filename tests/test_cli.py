import json

import pytest
from click.testing import CliRunner

from bayes_atlas.cli import main


@pytest.fixture
def runner():
    return CliRunner()


def test_helpers_table(runner):
    result = runner.invoke(main, ["helpers", "--target", "ca"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Best helper languages for ca" in lines[0]
    assert lines[3].split()[0] == "es"


def test_helpers_json(runner):
    result = runner.invoke(main, ["helpers", "-t", "ms", "-k", "3", "--json"])
    payload = json.loads(result.output)
    assert [row["source"] for row in payload["rows"]][0] == "id"
    assert len(payload["rows"]) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["helpers", "-t", "zz"], "unknown language code 'zz'"),
        (["helpers", "-t", "hi", "--published"], "not one of the 38"),
        (["helpers", "-t", "ca", "-k", "0"], "Invalid value for '--k'"),
        (["helpers"], "Missing option '--target'"),
    ],
)
def test_helpers_bad_arguments(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output


def test_languages_command(runner):
    result = runner.invoke(main, ["languages", "ca", "eus", "--json"])
    rows = json.loads(result.output)["rows"]
    assert [row["family"] for row in rows] == ["Indo-European", "Basque (isolate)"]


def test_simulate_then_validate(runner, tmp_path):
    out = tmp_path / "study.csv"
    result = runner.invoke(main, ["simulate", "--seed", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["study.csv"]
    result = runner.invoke(main, ["validate", str(out)])
    assert result.exit_code == 0 and "OK: RunTable(2750 rows, 810 runs" in result.output


def test_validate_reports_the_rule(runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("run_id,language,params,loss,tokens_ca\nr1,ca,-1,3.0,1e9\n")
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "column 'params', row [0]: must be > 0" in result.output


def test_version(runner):
    assert "bayes-atlas, version" in runner.invoke(main, ["--version"]).output


def test_script_family(runner):
    result = runner.invoke(main, ["script-family", "--permutations", "50", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {row["term"] for row in payload["verdict"]} == {"same_script", "same_family"}
    text = runner.invoke(main, ["script-family", "--permutations", "20"]).output
    assert "Does the published" in text
