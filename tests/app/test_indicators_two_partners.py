"""The production SQL against the reference evaluator, for two partners' forms (issue 16).

The two partner forms of ``tests/indicators/test_two_partners.py`` (a Spanish counts form with free-text
nationality and a roster of the others; a Portuguese form with numeric codes and a roster of everyone)
are published as XForms, mapped through the API and fed generated submissions over HTTP. Every
indicator is then read from ``GET /indicators`` for each default dimension and some crossings, and each
published cell (every breakdown category too, cross-partner totals included) must equal the reference
evaluation (:func:`app.indicators.reference.compute`) of the same answers normalised here, cell by cell.
"""

from __future__ import annotations

import random
from typing import Any
from xml.sax.saxutils import escape

import pytest

from app.indicators.catalog import load_catalog
from app.indicators.facts import dimension_keys
from app.indicators.normalise import normalise
from app.indicators.reference import compute
from app.indicators.suppression import TOTAL
from forms.schema import REPEAT, FormSchema
from forms.xform import parse_xform
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs
from tests.indicators import test_two_partners as partners

JR = 'xmlns:jr="http://openrosa.org/javarosa"'
TYPES = {"select1": "string", "select": "string", "int": "int", "string": "string", "dateTime": "dateTime"}


def xform(schema: FormSchema) -> str:
    """An XForm for a hand-built schema (groups are not used; one level of repeat)."""
    repeats = {f.path for f in schema.fields if f.kind == REPEAT}
    top = [f for f in schema.fields if f.kind != REPEAT and f.repeat is None]
    nested = {r: [f for f in schema.fields if f.repeat == r and f.kind != REPEAT] for r in repeats}
    instance = "".join(f"<{f.name}/>" for f in top)
    for r, fields in nested.items():
        inner = "".join(f"<{f.name}/>" for f in fields)
        instance += f'<{r.rsplit("/", 1)[1]} jr:template="">{inner}</{r.rsplit("/", 1)[1]}>'
    binds = "".join(
        f'<bind nodeset="{f.path}" type="{TYPES[f.type]}"/>' for f in schema.fields if f.kind != REPEAT
    )

    def control(f: Any) -> str:
        label = escape(next(iter(f.labels.values()), f.name) or f.name)
        if f.choice_list is None:
            return f'<input ref="{f.path}"><label>{label}</label></input>'
        items = "".join(
            f"<item><label>{escape(next(iter(c.labels.values())))}</label><value>{c.value}</value></item>"
            for c in schema.choices[f.choice_list]
        )
        return f'<{f.type} ref="{f.path}"><label>{label}</label>{items}</{f.type}>'

    body = "".join(control(f) for f in top)
    for r, fields in nested.items():
        inner = "".join(control(f) for f in fields)
        body += f'<group ref="{r}"><label>r</label><repeat nodeset="{r}">{inner}</repeat></group>'
    return (
        '<?xml version="1.0"?><h:html xmlns="http://www.w3.org/2002/xforms" '
        f'xmlns:h="http://www.w3.org/1999/xhtml" {JR} xmlns:orx="http://openrosa.org/xforms">'
        f"<h:head><h:title>{schema.form_id}</h:title><model><instance>"
        f'<data id="{schema.form_id}" version="1">'
        f"{instance}<meta><instanceID/></meta></data></instance>{binds}"
        '<bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>'
        f"</model></h:head><h:body>{body}</h:body></h:html>"
    )


def for_xform(schema: FormSchema, mapping: dict[str, Any]) -> tuple[FormSchema, dict[str, Any]]:
    """The schema as the server parses the XForm, and the mapping with its choice lists renamed to the
    parser's list names (one per question)."""
    parsed = parse_xform(xform(schema).encode())
    names: dict[str, list[str]] = {}
    by_path = {f.path: f for f in parsed.fields}
    for f in schema.fields:
        if f.choice_list and by_path[f.path].choice_list:
            names.setdefault(f.choice_list, []).append(by_path[f.path].choice_list or "")
    choices = {
        new: recodes
        for old, recodes in mapping["choices"].items()
        for new in dict.fromkeys(names.get(old, []))
    }
    return parsed, mapping | {"choices": choices}


def submission_xml(form_id: str, uid: str, values: dict[str, Any]) -> str:
    def nodes(items: dict[str, Any]) -> str:
        out = ""
        for name, value in items.items():
            if isinstance(value, list):
                out += "".join(f"<{name}>{nodes(item)}</{name}>" for item in value)
            else:
                out += f"<{name}>{escape(str(value))}</{name}>"
        return out

    return (
        f'<data {JR} id="{form_id}" version="1">{nodes(values)}'
        f"<meta><instanceID>uuid:{uid}</instanceID></meta></data>"
    )


BYS = [(d,) for d in ("period", "country", "site", "nationality", "sex_gender", "age_band", "disability")]
BYS += [("country", "sex_gender"), ("nationality", "sex_gender", "age_band")]


@pytest.fixture
def loaded(world: World) -> tuple[World, list[Any]]:
    catalog = load_catalog()
    rng = random.Random(1616)
    records = []
    for schema, mapping, make in (
        (partners.es_form(), partners.ES_MAPPING, partners.es_submission),
        (partners.pt_form(), partners.PT_MAPPING, partners.pt_submission),
    ):
        parsed, mapping = for_xform(schema, mapping)
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
            data=xform(schema).encode(),
            content_type="application/xml",
            headers=world.headers("admin"),
        )
        assert res.status_code == 200, res.json
        res = world.client.put(
            f"/v1/projects/{world.project_id}/forms/{schema.form_id}/mapping",
            json={"document": mapping},
            headers=world.headers("analyst"),
        )
        assert res.status_code == 200, res.json
        for i in range(45):
            values = make(rng)
            uid = f"{schema.form_id}-{i}"
            res = world.client.post(
                f"/v1/projects/{world.project_id}/forms/{schema.form_id}/submissions",
                data=submission_xml(schema.form_id, uid, values).encode(),
                content_type="application/xml",
                headers=world.headers("manager"),
            )
            assert res.status_code == 200, res.json
            meta = {"submission_id": f"uuid:{uid}", "form_id": schema.form_id, "form_version": "1"}
            records.append(normalise(values, parsed, mapping, catalog, submission_meta=meta))
    return world, records


def test_every_published_cell_equals_the_reference_evaluation(loaded: tuple[World, list[Any]]) -> None:
    world, records = loaded
    catalog = load_catalog()
    compared = 0
    run_jobs(world.app)  # the indicator refresh the submissions and mappings queued
    for by in BYS:
        res = world.client.get(
            f"/v1/projects/{world.project_id}/indicators?includeReceived=true&by={','.join(by)}",
            headers=world.headers("analyst"),
        )
        assert res.status_code == 200, res.json
        rows = res.json["values"]
        for indicator in catalog.indicators.values():
            if indicator.code in res.json["skipped"]:
                continue
            keys = dimension_keys(indicator, catalog)
            reference = {
                (c.statistic, c.key, c.breakdown, c.category): c
                for c in compute(indicator, records, catalog, by=[keys[d] for d in by])
            }
            mine = [r for r in rows if r["indicator"] == indicator.code]
            for row in mine:
                key = tuple(TOTAL if row["dimensions"][d] == "total" else row["dimensions"][d] for d in by)
                cell = reference.get((row["unit"], key, row["breakdown"], row["category"]))
                assert cell is not None, (indicator.code, by, row)
                if row["suppressed"]:
                    continue
                got = (row["numerator"], row["denominator"], row["n"], row["dkRefused"])
                assert got == (cell.numerator, cell.denominator, cell.n, cell.dk_refused), (
                    indicator.code,
                    by,
                    row,
                )
                if row["unit"] != "median":
                    assert row["value"] == pytest.approx(cell.value), (indicator.code, by, row)
                compared += 1
            # Every reference cell with data has its row (published or hidden), none is dropped.
            published = {
                (
                    r["unit"],
                    tuple(TOTAL if r["dimensions"][d] == "total" else r["dimensions"][d] for d in by),
                    r["breakdown"],
                    r["category"],
                )
                for r in mine
            }
            base_hidden = {k[1] for k in published if k[2] is None} - {
                tuple(TOTAL if r["dimensions"][d] == "total" else r["dimensions"][d] for d in by)
                for r in mine
                if r["breakdown"] is None and not r["suppressed"]
            }
            for ref_key, cell in reference.items():
                if cell.n == 0 or (
                    cell.breakdown is not None and (not cell.numerator or cell.key in base_hidden)
                ):
                    continue
                assert ref_key in published, (indicator.code, by, ref_key)
    assert compared > 500
