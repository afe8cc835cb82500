"""Round trips: submissions of every bundled form and of corpus forms with repeats, nested repeats,
select-multiples and locations export to CSV zip and XLSX; reading them back gives every value in the
right row of the right table, and repeat rows link to their parents."""

from __future__ import annotations

from typing import Any

import pytest

from forms.library import bundled_forms, read_bundled
from forms.schema import FormSchema
from tests.app.conftest import World
from tests.app.export_helpers import get, read_xlsx, read_zip
from tests.app.export_roundtrip import Expected, instance, merge
from tests.app.odata_helpers import XLSX, submit
from tests.app.openrosa_helpers import publish_xml
from tests.corpus_paths import corpus_file
from tests.data import data_bytes

CORPUS_FORMS = [
    "central-backend/forms/doubleRepeat.xml",  # nested repeats inside a group
    "central-backend/forms/selectMultiple.xml",
    "central-backend/forms/geoTypes.xml",  # geopoint/trace/shape, at root and in nested repeats
    "central-backend/forms/groupRepeat.xml",
    "central-backend/forms/withrepeat.xml",
    "enketo/all-widgets.xml",
]


def _schema(world: World, form_id: str) -> FormSchema:
    res = world.client.get(
        f"/v1/projects/{world.project_id}/forms/{form_id}/schema", headers=world.headers("manager")
    )
    assert res.status_code == 200, res.json
    return FormSchema.from_dict(res.json)


def _publish_bundled(world: World, form_id: str) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
        data=read_bundled(form_id),
        content_type=XLSX,
        headers={**world.headers("admin"), "X-XlsForm-FormId-Fallback": form_id},
    )
    assert res.status_code == 200, res.json


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(tables: dict[str, list[dict[str, Any]]], expected: dict[str, list[dict[str, Any]]]) -> None:
    assert sorted(tables) == sorted(expected)
    for name, rows in expected.items():
        got = {r["KEY"]: r for r in tables[name]}
        assert sorted(got) == sorted(r["KEY"] for r in rows), name
        for row in rows:
            actual = got[row["KEY"]]
            for header, value in row.items():
                assert header in actual, (name, header, sorted(actual))
                assert _cell(actual[header]) == value, (name, row["KEY"], header)


def _roundtrip(world: World, form_id: str) -> None:
    schema = _schema(world, form_id)
    expected: list[Expected] = []
    for n in range(2):
        xml, exp = instance(schema, n)
        submit(world, form_id, xml)
        expected.append(exp)
    want = merge(expected)
    files = read_zip(get(world, form_id, "csv.zip", reviewState="all", sensitive="include").data)
    _check({name.removesuffix(".csv"): rows for name, rows in files.items()}, want)
    sheets = read_xlsx(get(world, form_id, "xlsx", reviewState="all", sensitive="include").data)
    # Sheets come in the zip's table order (sheet names are cut to Excel's 31 characters).
    _check(dict(zip([n.removesuffix(".csv") for n in files], sheets.values(), strict=True)), want)


@pytest.mark.parametrize("form_id", [f.form_id for f in bundled_forms()])
def test_bundled_form_round_trip(world: World, form_id: str) -> None:
    _publish_bundled(world, form_id)
    _roundtrip(world, form_id)


# The project's own forms with the same shapes: nested repeats in a group, a select_multiple, geo types at
# the root and in nested repeats.
OWN_FORMS = [
    "forms/geo_types.xml",
    "forms/nested_repeats.xml",
    "forms/binary_type.xml",
    "forms/with_attachments.xml",
]


@pytest.mark.parametrize("path", OWN_FORMS)
def test_own_form_round_trip(world: World, path: str) -> None:
    form_id = publish_xml(world, data_bytes(path))["xmlFormId"]
    _roundtrip(world, form_id)


@pytest.mark.conformance
@pytest.mark.parametrize("path", CORPUS_FORMS)
def test_corpus_form_round_trip(world: World, path: str) -> None:
    xml = corpus_file(path).read_bytes()
    form_id = publish_xml(world, xml)["xmlFormId"]
    _roundtrip(world, form_id)
