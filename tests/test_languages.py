import pandas as pd
import pytest

from bayes_atlas.errors import UnknownLanguageError
from bayes_atlas.languages import ATLAS_38, is_language_code, languages, normalize_code

from .conftest import REPO


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    path = REPO.parent / "shared" / "atlas" / "languages_38.csv"
    if not path.is_file():
        pytest.skip(f"no shared language table at {path}")
    return pd.read_csv(path).set_index("code")


def test_default_is_the_38_in_paper_order(published):
    table = languages()
    assert list(table.index) == list(published.index) == list(ATLAS_38)
    assert table["in_atlas"].all()


def test_cldr_scripts_match_the_published_table(published):
    table = languages()
    mismatched = table.index[table["script"] != published["script"]]
    assert list(mismatched) == []


def test_glottolog_families_match_the_published_table(published):
    table = languages()
    mismatched = table.index[table["family"] != published["family"]]
    assert list(mismatched) == []
    assert (table["genus"] == published["genus"]).all()


@pytest.mark.parametrize(
    ("code", "script", "family"),
    [
        ("hi", "Deva", "Indo-European"),
        ("my", "Mymr", "Sino-Tibetan"),
        ("ba", "Cyrl", "Turkic"),
        ("ha", "Latn", "Afro-Asiatic"),
        ("eu", "Latn", "Basque (isolate)"),
        ("am", "Ethi", "Afro-Asiatic"),
        ("qu", "Latn", "Quechuan"),
    ],
)
def test_languages_outside_the_38_get_script_and_family(code, script, family):
    row = languages([code]).loc[code]
    assert row["script"] == script
    assert row["family"] == family
    assert not row["in_atlas"]


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("CAT", "ca"),
        ("ca", "ca"),
        ("swh_Latn", "sw"),
        ("ace_Arab", "ace-Arab"),
        ("sr-Latn", "sr-Latn"),
        ("eng", "en"),
        ("zsm", "ms"),
    ],
)
def test_normalize_code(given, canonical):
    assert normalize_code(given) == canonical


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("hau_Latn", "ha"), ("ha-Latn", "ha"), ("zho_Hans", "zh"), ("srp_Cyrl", "sr"), ("ace_Latn", "ace"),
     ("zh-Hant", "zh-Hant"), ("en-US", "en-US"), ("zh-Hant-TW", "zh-TW")],
)  # fmt: skip
def test_a_default_script_is_always_dropped(given, canonical):
    # CLDR suppresses only some default scripts (en-Latn -> en); FLORES codes name all of them.
    assert normalize_code(given) == canonical


@pytest.mark.parametrize("code", ["mul", "und", "zxx", "mis", "MUL"])
def test_special_codes_are_not_languages(code):
    with pytest.raises(UnknownLanguageError, match="special code"):
        normalize_code(code)
    assert not is_language_code(code)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [("zz", "unknown language code"), ("zzz", "unknown language code"), ("x1", "malformed"),
     ("", "malformed"), ("english", "malformed"), ("qaa", "private-use"), (12, "must be a string")],
)  # fmt: skip
def test_bad_codes_raise_one_clear_error(bad, fragment):
    with pytest.raises(UnknownLanguageError, match=fragment):
        languages([bad])
    assert not is_language_code(bad)


def test_every_flores_language_gets_script_and_family(mirror):
    flores = pd.read_csv(mirror / "goldfish" / "flores_logperplexities.tsv", sep="\t")["flores_lang"]
    table = languages(list(flores))
    assert len(table) == 204
    assert table["script"].notna().all()
    assert table["family"].notna().all()


def test_retired_iso_codes_follow_their_replacement():
    assert languages(["ajp"]).loc["ajp", "family"] == "Afro-Asiatic"  # ajp was merged into apc in 2023
