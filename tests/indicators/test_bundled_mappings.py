"""The bundled forms ship mapped: each shipped mapping validates against its form with no errors, and
what it cannot recode is only what has no canonical code (listed, so it is queued, never dropped)."""

from __future__ import annotations

import pytest

from app.indicators.catalog import Catalog
from app.indicators.mapping import ERROR, WARNING, validate_mapping
from app.services.indicators.mappings import bundled_document
from forms.library import bundled_forms, read_bundled
from forms.xform import parse_xform
from forms.xlsform import convert


@pytest.mark.parametrize("form_id", [b.form_id for b in bundled_forms() if b.kind == "survey"])
def test_bundled_form_ships_a_valid_mapping(form_id: str, catalog: Catalog) -> None:
    document = bundled_document(form_id)
    assert document is not None and document["form"]["id"] == form_id
    schema = parse_xform(convert(read_bundled(form_id)).xform)
    problems = validate_mapping(document, schema, catalog)
    assert [p for p in problems if p.severity == ERROR] == []
    unrecoded = {p.where for p in problems if p.severity == WARNING and p.where.startswith("choices.")}
    # "Not applicable" has no canonical code and stays missing; "don't know" and "refused" have codes
    # in every list now, so nothing non-substantive becomes a substantive fallback such as "other".
    assert unrecoded <= {"choices.yes_no_na_dk_refused.not_applicable"}
