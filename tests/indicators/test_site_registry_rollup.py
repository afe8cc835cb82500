"""Two partners' own codes for one border point count as one registry site, rolled up by its P-codes.

Partner A types "Rumichaca" into a text question; partner B picks choice "7" (its code "P-07"). Each
mapping's ``sites`` recodes its own code to the registry's ``ECU-RUM``; the registry gives the site's
country and admin-1/admin-2 P-codes, which win over what a form answered. Expected figures are summed
by hand from the raw answers below.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.indicators.catalog import load_catalog
from app.indicators.mapping.document import MappingDocument, MappingFormatError
from app.indicators.normalise import normalise, site_rollup
from app.indicators.reference import compute
from tests.indicators.indicator_builders import options, question, schema

SITE, ADM1, ADM2 = "location.site_code", "location.adm1_pcode", "location.adm2_pcode"
REGISTRY = {
    "ECU-RUM": site_rollup("ECU-RUM", "ECU", "EC04", "EC0401"),
    "COL-CUC": site_rollup("COL-CUC", "COL", "CO54", "CO54001"),
}
FORM_A = schema(
    [
        question("/data/punto", "string"),
        question("/data/provincia", "string"),
        question("/data/personas", "int"),
    ],
    {},
    form_id="partner_a",
)
FORM_B = schema(
    [question("/data/posto", "select1", choices="posto"), question("/data/pessoas", "int")],
    {"posto": options(("7", "Rumichaca"), ("9", "Cúcuta"))},
    form_id="partner_b",
)
MAPPING_A: dict[str, Any] = {
    "form": {"id": "partner_a"},
    "defaults": {"instrument": "fmr", "country_iso3": "ECU"},
    "fields": {"/data/punto": SITE, "/data/provincia": ADM1, "/data/personas": "context.group_size"},
    "sites": {"Rumichaca": "ECU-RUM"},
}
MAPPING_B: dict[str, Any] = {
    "form": {"id": "partner_b"},
    "defaults": {"instrument": "fmr"},
    "fields": {"/data/posto": SITE, "/data/pessoas": "context.group_size"},
    "choices": {"posto": {"7": "P-07", "9": "P-09"}},
    "sites": {"P-07": "ECU-RUM", "P-09": "COL-CUC"},
}
# (partner, answers): group sizes at Rumichaca are A 3 + 2 and B 4 = 9; Cúcuta B 6; A's "Ipiales" is
# not a registry site and stays itself, with no P-codes.
ANSWERS = [
    ("a", {"punto": "Rumichaca", "provincia": "EC10", "personas": 3}),
    ("a", {"punto": "rumichaca", "personas": 2}),
    ("a", {"punto": "Ipiales", "personas": 5}),
    ("b", {"posto": "7", "pessoas": 4}),
    ("b", {"posto": "9", "pessoas": 6}),
]


def _records() -> list[Any]:
    catalog = load_catalog()
    out = []
    for i, (partner, values) in enumerate(ANSWERS):
        form, mapping = (FORM_A, MAPPING_A) if partner == "a" else (FORM_B, MAPPING_B)
        meta = {"submission_id": f"{partner}-{i}", "org_code": partner.upper()}
        out.append(normalise(values, form, mapping, catalog, submission_meta=meta, registry=REGISTRY))
    return out


def _flw01(by: str) -> dict[str, float]:
    catalog = load_catalog()
    cells = compute(catalog.indicators["FLW-01"], _records(), catalog, by=(by,), margins=False)
    return {cell.key[0]: cell.numerator for cell in cells if cell.breakdown is None}  # type: ignore[index]


def test_two_partners_codes_for_one_border_point_add_up_in_one_row() -> None:
    assert _flw01(SITE) == {"ECU-RUM": 9.0, "COL-CUC": 6.0, "Ipiales": 5.0}


def test_the_registry_rolls_sites_up_to_admin1_and_admin2() -> None:
    by_adm1 = _flw01(ADM1)
    assert by_adm1["EC04"] == 9.0 and by_adm1["CO54"] == 6.0
    assert _flw01(ADM2)["EC0401"] == 9.0
    first = _records()[0]
    # The form answered EC10 for the province; the registry site's P-code wins and says where it came from.
    assert (first.record[ADM1], first.sources[ADM1]) == ("EC04", "registry:ECU-RUM")
    assert first.sources[SITE] == "sites:Rumichaca"


def test_without_a_registry_the_recoded_code_still_groups_the_partners() -> None:
    catalog = load_catalog()
    a = normalise(ANSWERS[0][1], FORM_A, MAPPING_A, catalog, submission_meta={})
    b = normalise(ANSWERS[3][1], FORM_B, MAPPING_B, catalog, submission_meta={})
    assert a.record[SITE] == b.record[SITE] == "ECU-RUM"
    assert a.record[ADM1] == "EC10" and b.record[ADM1] is None


def test_the_sites_recoding_round_trips_and_refuses_junk() -> None:
    doc = MappingDocument.from_dict(MAPPING_B)
    assert MappingDocument.from_dict(doc.to_dict()).sites == {"P-07": "ECU-RUM", "P-09": "COL-CUC"}
    for junk in ({"P-07": ""}, {"P-07": ["x"]}, ["P-07"], {"P-07": "x" * 65}):
        with pytest.raises(MappingFormatError):
            MappingDocument.from_dict(MAPPING_B | {"sites": junk})
