"""A real client: ODK's @getodk/xforms-engine (run in Node by tests/clients) loads each bundled form
from a live Ruta formList, fills it, and POSTs the submission it produces; Ruta stores what was sent."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import get_database
from app.models import SubmissionVersion
from forms.library import bundled_forms, read_bundled
from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token
from tests.app.test_sites_forms import import_registry
from tests.clients.engine import submit_via_server
from tests.forms.test_library import FMS_ANSWERS, HH_ANSWERS

ANSWERS: dict[str, dict[str, Any]] = {"ruta_border_fms": FMS_ANSWERS, "ruta_household_needs": HH_ANSWERS}


# The sites the answers pick, in the project's site registry (the forms offer the registry's sites).
REGISTRY = (
    "code,name_es,site_type,adm0_pcode,adm1_pcode,adm2_pcode\n"
    "ECU-RUM,Rumichaca,border_crossing,ECU,EC04,\n"
    "COL-CUC-014,Cúcuta albergue,shelter,COL,CO54,CO54001\n"
)


def _publish_bundled(app: Flask, world: World) -> None:
    import_registry(world, REGISTRY)
    for bundled in bundled_forms():
        res = world.client.post(
            f"/v1/projects/{world.project_id}/forms?publish=true&ignoreWarnings=true",
            data=read_bundled(bundled.form_id),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={**world.headers("admin"), "X-XlsForm-FormId-Fallback": bundled.form_id},
        )
        assert res.status_code == 200, res.json


@pytest.mark.slow
@pytest.mark.parametrize("form_id", sorted(ANSWERS))
def test_xforms_engine_fills_and_submits_each_bundled_form(world: World, live: str, form_id: str) -> None:
    _publish_bundled(world.app, world)
    token = device_token(world)["token"]
    result = submit_via_server(
        f"{live}/v1/key/{token}/projects/{world.project_id}", form_id, ANSWERS[form_id]
    )
    assert result["httpStatus"] == 201, result
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        stored = s.scalar(
            select(SubmissionVersion).where(SubmissionVersion.instance_id == result["instanceID"])
        )
        assert stored is not None
        assert stored.xml.decode() == result["xml"]  # verbatim: what the client sent is what is kept
        assert stored.value_problems == []
        assert stored.values  # typed values were extracted with the form version's schema
