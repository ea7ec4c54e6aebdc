"""What a careless user does to a run table, and the one clear error (or warning) it gets."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from bayes_atlas.errors import UnknownLanguageError
from bayes_atlas.languages import normalize_code
from bayes_atlas.runs import RunTable, RunTableError, RunTableWarning


def table(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "run_id": ["r1", "r2"],
        "language": ["en", "en"],
        "params": [1e8, 4e8],
        "loss": [3.1, 2.8],
        "tokens_en": [2e9, 8e9],
    }
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def build(frame: pd.DataFrame, **kwargs: object) -> RunTable:
    """from_frame, failing the test on any RunTableWarning (a clean table warns about nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunTableWarning)
        return RunTable.from_frame(frame, **kwargs)  # type: ignore[arg-type]


# -- 1. language aliases and the own-token link -------------------------------------------


def test_token_column_aliases_keep_the_own_token_link():
    frame = table(
        language=["swh", "eng"],
        tokens_en=None,
        tokens_swh=[2e9, 0.0],
        tokens_eng=[0.0, 8e9],
        unique_eng=[np.nan, 1e9],
    )
    runs = build(frame)
    assert runs.sources == ["sw", "en"]
    assert runs.languages == ["sw", "en"]
    # Each row's own language has its tokens (not 0 own tokens and the rest "transfer").
    own = [runs.tokens.loc[i, lang] for i, lang in enumerate(runs.frame["language"])]
    assert own == [2e9, 8e9]
    assert runs.unique_tokens.loc[1, "en"] == 1e9
    assert "column 'tokens_eng' read as 'tokens_en'" in runs.meta["notes"]


def test_two_columns_naming_one_language_are_refused():
    frame = table(tokens_eng=[1e9, 1e9])
    with pytest.raises(RunTableError, match=r"column 'tokens_en, tokens_eng'.*'en' and 'eng' are the same language 'en'"):
        RunTable.from_frame(frame)


@pytest.mark.parametrize(("given", "base"), [("en-GB", "en"), ("en-US", "en"), ("en_US", "en"), ("zh-Hant", "zh")])
def test_region_and_script_subtags_map_to_the_base_language_with_a_note(given, base):
    frame = table(**{"language": [given, given], "tokens_en": None, f"tokens_{base}": [2e9, 8e9]})
    runs = build(frame)
    assert runs.languages == [base]
    assert runs.sources == [base]
    assert any(given in note and f"read as {base!r}" in note for note in runs.meta["notes"])


def test_subtagged_token_column_maps_to_the_base_language():
    runs = build(table(**{"tokens_en": None, "tokens_en-GB": [2e9, 8e9]}))
    assert runs.sources == ["en"] and runs.tokens["en"].tolist() == [2e9, 8e9]


def test_varieties_the_table_tells_apart_stay_apart():
    frame = table(language=["zh", "zh-Hant"], tokens_en=None, **{"tokens_zh": [2e9, 0.0], "tokens_zh-Hant": [0.0, 8e9]})
    runs = build(frame)
    assert runs.languages == ["zh", "zh-Hant"] and runs.sources == ["zh", "zh-Hant"]
    assert any("kept apart" in note for note in runs.meta["notes"])


@pytest.mark.parametrize("code", ["mul", "und", "zxx", "mis"])
def test_codes_that_name_no_language_are_refused(code):
    with pytest.raises(RunTableError, match=rf"column 'tokens_{code}', table: '{code}' names no single language.*tokens_other"):
        RunTable.from_frame(table(**{f"tokens_{code}": [1e9, 1e9]}))
    with pytest.raises(RunTableError, match=r"column 'language', row \[1\]: must name one language"):
        RunTable.from_frame(table(language=["en", code]))
    with pytest.raises(UnknownLanguageError, match="special code"):
        normalize_code(code)


def test_the_unknown_code_messages_suggest_codes_that_work():
    with pytest.raises(RunTableError) as info:
        RunTable.from_frame(table(language=["en", "zz"]))
    with pytest.raises(UnknownLanguageError) as info_codes:
        normalize_code("zz")
    suggested = set(re.findall(r"'([a-z]{2,3}(?:-[A-Za-z]+)?)'", str(info.value) + str(info_codes.value))) - {"zz"}
    assert suggested, "the messages suggest no code"
    for code in suggested:  # each suggestion, used in both places, links language and tokens
        runs = build(table(**{"language": [code, code], "tokens_en": None, f"tokens_{code}": [2e9, 8e9]}))
        assert runs.sources == runs.languages, code


# -- 2. duplicates after normalisation ------------------------------------------------------


def test_duplicates_are_found_after_normalising_codes():
    frame = table(run_id=["r1", "r1"], language=["en", "eng"], params=[1e8, 1e8])
    with pytest.raises(RunTableError, match=r"(?s)column 'run_id', rows \[0, 1\]: duplicated run.*\('r1', 'eng'\)"):
        RunTable.from_frame(frame)


# -- 3. one run, two values -------------------------------------------------------------------


def test_one_run_with_two_model_sizes_is_refused():
    frame = table(run_id=["r1", "r1"], language=["en", "de"], params=[1e8, 2e8])
    expected = r"column 'params', rows \[0, 1\]: differs between rows of one run \(run 'r1': 1e\+08 vs 2e\+08\)"
    with pytest.raises(RunTableError, match=expected):
        RunTable.from_frame(frame)


def test_one_run_with_two_token_counts_is_refused():
    frame = table(run_id=["r1", "r1"], language=["en", "de"], params=[1e8, 1e8], tokens_en=[2e9, 3e9])
    expected = r"column 'tokens_en', rows \[0, 1\]: differs between rows of one run \(run 'r1': 2e\+09 vs 3e\+09\)"
    with pytest.raises(RunTableError, match=expected):
        RunTable.from_frame(frame)


def test_one_run_on_several_languages_is_fine():
    frame = table(run_id=["r1", "r1"], language=["en", "de"], params=[1e8, 1e8], tokens_en=[2e9, 2e9], tokens_de=[1e9, 1e9])
    assert len(build(frame)) == 2


# -- 4. long form -----------------------------------------------------------------------------


def long_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["r1", "r1", "r2", "r2"],
            "language": ["ca"] * 4,
            "source": ["ca", "es", "ca", "es"],
            "params": [1e8, 1e8, 4e8, 4e8],
            "loss": [3.1, 3.1, 2.8, 2.8],
            "tokens": [2e9, 1e9, 8e9, 4e9],
        }
    )


def test_long_form_empty_token_cell_is_not_zero():
    frame = long_table()
    frame.loc[3, "tokens"] = np.nan
    with pytest.raises(RunTableError, match=r"column 'tokens', row \[3\]: must not be empty: a missing token count is not 0"):
        RunTable.from_frame(frame)


def test_long_form_problems_name_the_rows_of_the_long_table():
    frame = long_table()
    frame.loc[[2, 3], "params"] = -4e8  # wide row 1 = long rows 2 and 3
    frame.loc[1, "tokens"] = -1.0  # wide row 0, source es = long row 1
    with pytest.raises(RunTableError) as info:
        RunTable.from_frame(frame)
    message = str(info.value)
    assert re.search(r"column 'params', rows \[2, 3\]: must be > 0", message), message
    assert re.search(r"column 'tokens \(source es\)', row \[1\]: must be >= 0", message), message


def test_long_form_source_aliases_are_one_source():
    frame = long_table()
    frame.loc[1, "source"] = "cat"  # r1 now lists Catalan twice
    with pytest.raises(RunTableError, match=r"column 'source', rows \[0, 1\]: each \(run_id, language, source\) may appear once"):
        RunTable.from_frame(frame)


# -- 5. unit slips ------------------------------------------------------------------------------


def test_params_in_millions_warn_ba301():
    with pytest.warns(RunTableWarning, match=r"\[BA301\].*millions") as record:
        runs = RunTable.from_frame(table(params=[9.04, 554.0]))
    assert record[0].message.code == "BA301" and len(runs) == 2


def test_tokens_in_billions_warn_ba302():
    with pytest.warns(RunTableWarning, match=r"\[BA302\].*billions") as record:
        RunTable.from_frame(table(tokens_en=[2.0, 8.0]))
    assert record[0].message.code == "BA302"


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("params", 1.0, r"column 'params', row \[1\]: a model has more than 1 parameter"),
        ("loss", 1e-300, r"column 'loss', row \[1\]: below 1e-06: no model is this certain"),
        ("loss", 60.0, r"column 'loss', row \[1\]: not a per-token loss"),
        ("loss", -1.0, r"column 'loss', row \[1\]: must be > 0"),
    ],
)
def test_impossible_values_are_errors(column, value, message):
    frame = table()
    frame.loc[1, column] = value
    with pytest.raises(RunTableError, match=message):
        RunTable.from_frame(frame)


# -- 6. CSV files ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_other_separators_are_read_with_a_note(tmp_path, sep, name):
    path = tmp_path / "runs.csv"
    table().to_csv(path, index=False, sep=sep)
    runs = RunTable.from_csv(path)
    assert runs.frame["params"].tolist() == [1e8, 4e8]
    assert any(f"looks {name}-separated" in note for note in runs.meta["notes"])


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("run_id;language;params;loss;tokens_en\nr1;en;1e8;3,1;2e9\nr2;en;4e8;2,8;8e9\n", encoding="utf-8")
    runs = RunTable.from_csv(path)
    assert runs.frame["loss"].tolist() == [3.1, 2.8]


def test_excel_byte_order_mark_is_not_part_of_a_column_name(tmp_path):
    path = tmp_path / "runs.csv"
    table().to_csv(path, index=False, encoding="utf-8-sig")
    assert len(RunTable.from_csv(path)) == 2


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_csv_says_the_file_is_empty(tmp_path, text):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    with pytest.raises(RunTableError, match=r"runs.csv is empty"):
        RunTable.from_csv(path)


# -- 7. all problems at once; categorical columns --------------------------------------------


def test_all_problems_reported_at_once_past_a_type_error():
    frame = table(language=["en", "zz"], params=["x", 1e8], loss=[-1.0, 3.0], tokens_en=[1e9, -1.0])
    with pytest.raises(RunTableError, match="4 problems") as info:
        RunTable.from_frame(frame)
    message = str(info.value)
    for fragment in ("'language', row [1]", "'params', row [0]: must be a number", "'loss', row [0]", "'tokens_en', row [1]"):
        assert fragment in message, message
    assert "must not be empty" not in message  # 'x' is reported once, as not a number


def test_categorical_columns_are_read_as_their_values():
    frame = table(language=pd.Categorical(["en", "de"]), run_id=pd.Categorical(["r1", "r2"]))
    assert build(frame).languages == ["en", "de"]
    frame = table(language=pd.Categorical(["en", "zz"]))
    with pytest.raises(RunTableError, match=r"column 'language', row \[1\]: must be a known ISO 639 language code") as info:
        RunTable.from_frame(frame)
    assert "dtype" not in str(info.value)


# -- 8. loss units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "stored", "per_token"),
    [("nats/token", "nats/token", True), ("bits/token", "nats/token", True), ("nats/byte", "nats/byte", False),
     ("bits/byte", "nats/byte", False), ("bits/sequence", "bits/sequence", False)],
)  # fmt: skip
def test_bits_are_stored_as_nats(unit, stored, per_token):
    runs = build(table(loss=[1.0, 2.0]), loss_unit=unit)
    factor = np.log(2.0) if unit in ("bits/token", "bits/byte") else 1.0
    assert runs.loss_unit == stored and runs.per_token is per_token
    assert runs.meta["loss_unit_given"] == unit
    np.testing.assert_allclose(runs.frame["loss"], [factor, 2 * factor])
    again = build(runs.frame, loss_unit=runs.loss_unit)  # building again does not convert twice
    np.testing.assert_array_equal(again.frame["loss"], runs.frame["loss"])


def test_per_byte_losses_have_their_own_limit():
    with pytest.raises(RunTableError, match=r"column 'loss', row \[1\]: not a per-byte loss"):
        RunTable.from_frame(table(loss=[1.0, 12.0]), loss_unit="nats/byte")
