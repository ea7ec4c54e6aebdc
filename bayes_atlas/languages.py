"""Language metadata: names, scripts (CLDR) and families (Glottolog) for any ISO 639 code.

Sources, each a maintained library:

- names and the likely script come from CLDR through ``langcodes`` (``Language.maximize()``,
  the CLDR likely-subtags table);
- ISO 639-1/-3 conversion and macrolanguage membership come from ``iso639-lang``;
- the genealogical lineage (family and subgroups) comes from the Glottolog snapshot bundled
  in ``urielplus`` (``lang_fam_geo.csv`` with its ISO -> glottocode map).

For the 38 languages of the ATLAS transfer matrix, ``genus`` is the label printed on the
paper's Fig. 2 (``data/languages_38.csv``); for other languages it is left empty because
Glottolog has no level that corresponds to WALS genera.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import pandas as pd

from bayes_atlas._paths import data_dir
from bayes_atlas.errors import UnknownLanguageError

__all__ = [
    "ATLAS_38",
    "NOT_LANGUAGES",
    "OTHER_SOURCE",
    "is_language_code",
    "language_info",
    "languages",
    "normalize_code",
]

#: Token-column name reserved for "all remaining languages" (the ATLAS D_other term).
OTHER_SOURCE = "other"

#: ISO 639 special codes that are valid tags but name no single language.
NOT_LANGUAGES = {
    "mul": "multiple languages",
    "und": "an undetermined language",
    "zxx": "no linguistic content",
    "mis": "an uncoded language",
}

_TAG_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


@functools.lru_cache(maxsize=1)
def _atlas_table() -> pd.DataFrame:
    return pd.read_csv(data_dir() / "languages_38.csv", dtype=str).set_index("code")


#: ISO 639 codes of the 38 languages in the ATLAS transfer matrix, in the paper's order.
ATLAS_38: tuple[str, ...] = tuple(_atlas_table().index)


@functools.lru_cache(maxsize=1)
def _glottolog() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """ISO 639-3 -> glottocode, glottocode -> lineage, glottocode -> name."""
    import importlib.resources

    base = importlib.resources.files("urielplus") / "database" / "urielplus_csvs"
    with importlib.resources.as_file(base / "uriel_glottocode_map.csv") as path:
        iso_map = pd.read_csv(path, dtype=str).dropna()
    with importlib.resources.as_file(base / "lang_fam_geo.csv") as path:
        lineages = pd.read_csv(path, dtype=str, usecols=["language_id", "language_name", "lineage"])
    iso_to_glotto = dict(zip(iso_map["iso_code"], iso_map["glottocode"], strict=True))
    lineage = dict(zip(lineages["language_id"], lineages["lineage"].fillna(""), strict=True))
    names = dict(zip(lineages["language_id"], lineages["language_name"], strict=True))
    return iso_to_glotto, lineage, names


def _clean(code: object) -> str:
    if not isinstance(code, str):
        raise UnknownLanguageError(f"language code must be a string such as 'ca' or 'cat', got {code!r} ({type(code).__name__})")
    text = code.strip()
    if not _TAG_RE.match(text):
        raise UnknownLanguageError(
            f"malformed language code {code!r}: expected an ISO 639-1/-3 code such as 'ca' or 'cat', "
            "optionally with a script ('sr-Latn' or FLORES-style 'srp_Latn')"
        )
    return text.replace("_", "-")


@functools.lru_cache(maxsize=4096)
def normalize_code(code: str) -> str:
    """Return the canonical (shortest ISO 639) form of a language code.

    Parameters
    ----------
    code
        An ISO 639-1 or ISO 639-3 code, case-insensitive, optionally with a script subtag
        (``"sr-Latn"``) or in FLORES style (``"swh_Latn"``).

    Returns
    -------
    str
        The BCP-47 standard form, e.g. ``"cat" -> "ca"``, ``"swh_Latn" -> "sw"``,
        ``"hau_Latn" -> "ha"``, ``"zho_Hans" -> "zh"`` (a script is dropped where it is the
        language's CLDR likely script), ``"ace_Arab" -> "ace-Arab"``, ``"zh-Hant"`` and
        ``"en-US"`` unchanged (a non-default script or a region is kept).

    Raises
    ------
    UnknownLanguageError
        If the code is malformed, does not name a language, or is one of the special codes
        in :data:`NOT_LANGUAGES` (``mul``, ``und``, ``zxx``, ``mis``) or a private-use code.

    Examples
    --------
    >>> normalize_code("CAT")
    'ca'
    """
    import langcodes

    text = _clean(code)
    try:
        standard = langcodes.standardize_tag(text, macro=True)
    except (langcodes.tag_parser.LanguageTagError, ValueError) as err:
        raise UnknownLanguageError(f"malformed language code {code!r}: {err}") from None
    language = langcodes.Language.get(standard)
    primary = standard.split("-")[0].lower()
    if primary in NOT_LANGUAGES:
        raise UnknownLanguageError(
            f"{code!r} is the ISO 639 special code for {NOT_LANGUAGES[primary]}, not a language: "
            "name the language itself (e.g. 'en', 'sw')"
        )
    if not language.language or not langcodes.tag_is_valid(standard) or not language.is_valid():
        raise UnknownLanguageError(
            f"unknown language code {code!r}: it is not an ISO 639 language in CLDR/ISO 639-3. "
            "Use a code such as 'ca' or 'cat' (Catalan), 'sw' or 'swh' (Swahili)."
        )
    if language.language.startswith("q") and language.language <= "qtz":
        raise UnknownLanguageError(f"{code!r} is a private-use code, not a language")
    if language.script and not language.extlangs:
        # CLDR suppresses only some default scripts (en-Latn -> en, but ha-Latn stays): drop the
        # script wherever it is the language's likely one (ha-Latn -> ha, zh-Hans -> zh, sr-Cyrl -> sr).
        plain = langcodes.Language.make(language=language.language, territory=language.territory, variants=language.variants)
        if plain.maximize().script == language.script:
            return plain.to_tag()
    return standard


def is_language_code(code: object) -> bool:
    """True if ``code`` is a well-formed code that names a language.

    Examples
    --------
    >>> is_language_code("sw"), is_language_code("zz")
    (True, False)
    """
    try:
        normalize_code(code)  # type: ignore[arg-type]
    except UnknownLanguageError:
        return False
    return True


def _iso639_3_candidates(base_language: str) -> list[str]:
    """ISO 639-3 codes to look up in Glottolog, macrolanguage members after the macrolanguage."""
    import langcodes
    from iso639 import Lang
    from iso639.exceptions import DeprecatedLanguageValue, InvalidLanguageValue

    try:
        lang = Lang(base_language)
    except DeprecatedLanguageValue as err:
        # Retired ISO 639-3 codes (e.g. ajp -> apc): Glottolog may know either.
        replacement = [err.change_to] if getattr(err, "change_to", "") else []
        return [base_language, *replacement]
    except InvalidLanguageValue:
        return [base_language] if len(base_language) == 3 else []
    candidates = [lang.pt3]
    members = [m.pt3 for m in lang.individuals()] if lang.scope() == "Macrolanguage" else []
    # CLDR aliases one member to the macrolanguage (cmn -> zh, swh -> sw, zsm -> ms): try it first.
    members.sort(key=lambda pt3: langcodes.standardize_tag(pt3, macro=True) != base_language)
    return candidates + members


def _lineage(base_language: str) -> tuple[str | None, str | None]:
    iso_to_glotto, lineages, names = _glottolog()
    for pt3 in _iso639_3_candidates(base_language):
        glottocode = iso_to_glotto.get(pt3)
        if glottocode is None or glottocode not in lineages:
            continue
        path = lineages[glottocode]
        if path:
            return path.split(", ")[0], path
        # Glottolog gives isolates no lineage: the language is its own family.
        return f"{names[glottocode]} (isolate)", ""
    return None, None


@functools.lru_cache(maxsize=4096)
def language_info(code: str) -> dict[str, object]:
    """Metadata for one language code (see :func:`languages`)."""
    import langcodes

    canonical = normalize_code(code)
    tag = langcodes.Language.get(canonical)
    base = tag.language
    script = tag.script or tag.maximize().script
    family, lineage = _lineage(base)
    atlas = _atlas_table()
    in_atlas = canonical in atlas.index
    return {
        "code": canonical,
        "name": atlas.loc[canonical, "name"] if in_atlas else tag.display_name(),
        "script": script,
        "family": family,
        "genus": atlas.loc[canonical, "genus"] if in_atlas else None,
        "lineage": lineage,
        "in_atlas": in_atlas,
    }


def languages(codes: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Language metadata indexed by ISO 639 code.

    Parameters
    ----------
    codes
        Codes to describe. ``None`` gives the 38 languages of the ATLAS transfer matrix in the
        paper's order. Any ISO 639-1/-3 code is answered, including languages outside the 38
        (MADLAD-400 / FLORES languages).

    Returns
    -------
    pandas.DataFrame
        Index ``code``; columns ``name``, ``script`` (ISO 15924, CLDR likely script),
        ``family`` (Glottolog top-level family; isolates are their own family), ``genus``
        (the paper's Fig. 2 label, only for the 38), ``lineage`` (Glottolog path) and
        ``in_atlas``. ``family`` is missing where Glottolog does not know the language.

    Raises
    ------
    UnknownLanguageError
        If a code is malformed or names no language.

    Examples
    --------
    >>> table = languages(["ca", "eus"])
    >>> table.loc["eu", "family"], table.loc["ca", "script"]
    ('Basque (isolate)', 'Latn')
    """
    if codes is None:
        codes = ATLAS_38
    elif isinstance(codes, str):
        codes = [codes]
    rows = [language_info(code) for code in codes]
    frame = pd.DataFrame(rows, columns=["code", "name", "script", "family", "genus", "lineage", "in_atlas"])
    frame = frame.set_index("code")
    frame.attrs["provenance"] = (
        "script: CLDR likely subtags (langcodes); family/lineage: Glottolog via urielplus; "
        "genus of the 38: ATLAS Fig. 2 labels (data/languages_38.csv)"
    )
    return frame
