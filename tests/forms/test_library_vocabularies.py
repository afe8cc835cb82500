"""The form library's vocabularies (tools/form_library/vocabularies/*.yaml) against the code lists the
indicators and the 5W reports use: a bundled form's answers are stored codes, so a code the catalogue
does not know would need recoding (or be counted as unmapped) in every report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.indicators.catalog import load_catalog
from app.response.qa import load_reference
from tools.form_library import build

FILES = sorted(build.VOCABULARIES.glob("*.yaml"))
BUNDLED_MAPPINGS = Path(__file__).resolve().parents[2] / "app" / "indicators" / "mapping" / "bundled"
NAMES = [path.stem for path in FILES]


def _codes(name: str) -> list[str]:
    return [code for code, _ in build.vocabulary(name)]


def _checked_against() -> dict[str, tuple[str, frozenset[str]]]:
    """Each vocabulary that has a reference list: where that list lives, and its codes."""
    catalog = load_catalog()
    reference = load_reference()
    against: dict[str, tuple[str, frozenset[str]]] = {
        name: (f"catalogue code list {name}", frozenset(catalog.codelists[name].values))
        for name in NAMES
        if name in catalog.codelists and name != "sector"
    }
    # The 5W activity report's sectors and delivery mechanisms are the response reference's lists (the
    # catalogue's ``sector`` code list is the cluster codes indicators use, a different vocabulary).
    against["sector"] = ("the 5W reference's sectors", frozenset(reference.sectors))
    against["delivery_mechanism"] = (
        "the 5W reference's delivery mechanisms",
        reference.lists["delivery_mechanisms"],
    )
    # Countries (of nationality, of interview, of places) are the nationality code list's ISO3 codes.
    against["country"] = (
        "catalogue code list nationality",
        frozenset(catalog.codelists["nationality"].values),
    )
    return against


def test_there_are_vocabularies_and_each_reads() -> None:
    assert len(FILES) >= 30
    for name in NAMES:
        choices = build.vocabulary(name)
        codes = [code for code, _ in choices]
        assert codes and len(codes) == len(set(codes)), f"{name}: empty, or a code twice"
        for code, label in choices:
            assert re.fullmatch(r"[A-Za-z0-9_-]+", code), f"{name}: code {code!r}"
            assert all(text.strip() for text in label), f"{name}/{code}: a label missing in a language"


def _recoded(name: str, allowed: frozenset[str]) -> set[str]:
    """The form codes of list ``name`` that every bundled mapping recodes into ``allowed``, reviewed
    (app/indicators/mapping/bundled/): a form may keep a finer option when its mapping says which
    catalogue code it counts as."""
    recoded: set[str] | None = None
    for path in sorted(BUNDLED_MAPPINGS.glob("*.yaml")):
        choices = (yaml.safe_load(path.read_text(encoding="utf-8")).get("choices") or {}).get(name)
        if choices is None:
            continue
        here = {
            str(code)
            for code, rule in choices.items()
            if isinstance(rule, dict) and rule.get("to") in allowed
        }
        recoded = here if recoded is None else recoded & here
    return recoded or set()


@pytest.mark.parametrize("name", sorted(_checked_against()))
def test_vocabulary_codes_are_the_reference_lists_codes(name: str) -> None:
    where, allowed = _checked_against()[name]
    unknown = [code for code in _codes(name) if code not in allowed and code not in _recoded(name, allowed)]
    assert unknown == [], f"{name}: codes neither in {where} nor recoded by the bundled mappings: {unknown}"


def test_most_vocabularies_are_checked() -> None:
    """The lists without a reference are the form's own questions (mode, relationship, services...);
    a new list named like a catalogue code list is checked automatically."""
    unchecked = set(NAMES) - set(_checked_against())
    shared = {"yes_no", "dk_refused", "yes_no_dk_refused", "yes_no_refused", "yes_no_na_dk_refused"}
    assert len(unchecked - shared) <= 10, sorted(unchecked)
    assert len(_checked_against()) >= 20


def test_every_vocabulary_is_used() -> None:
    source = Path(build.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'vocabulary\("(\w+)"\)', source))
    for path in FILES:
        used |= set(re.findall(r"from: (\w+)", path.read_text(encoding="utf-8")))
    assert set(NAMES) - used == set()
