"""The Spanish and Portuguese admin are complete: every admin page, flash message and error page is
rendered with the Spanish locale while every message id the page looks up is recorded, and each of
those ids must have a non-empty, non-fuzzy Spanish and Portuguese translation in the committed
catalogues (the catalogue is compared, not the page's bytes: a translation equal to the English, such
as "Total", is fine). No page may link to the token-only /v1 API. A new admin page must be added to
the pages walked below, or this test says which."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from babel.support import Translations
from flask.testing import FlaskClient
from sqlalchemy import select

from app.db import get_database
from app.models import ExportRun, FormVersion, Submission
from app.services.sites import site_uuid
from tests.app.admin_helpers import (
    MULTILINGUAL_FORM,
    csrf_token,
    flag,
    ingest,
    login,
    multilingual_instance,
    post,
    publish,
)
from tests.app.conftest import World
from tests.app.job_helpers import run_jobs

CATALOGUES = Path(__file__).resolve().parents[2] / "app" / "translations"
ES = {"Accept-Language": "es"}


def _translated(locale: str) -> set[str]:
    with (CATALOGUES / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    done = set()
    for m in catalog:
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.id and all(strings) and not m.fuzzy:
            done.add(m.id[0] if isinstance(m.id, tuple) else m.id)
    return done


@pytest.fixture
def used(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every message id looked up while the test runs (templates and views go through these two)."""
    seen: set[str] = set()
    plain, plural = Translations.ugettext, Translations.ungettext

    def ugettext(self: Translations, message: str) -> str:
        seen.add(message)
        return plain(self, message)

    def ungettext(self: Translations, singular: str, p: str, n: int) -> str:
        seen.add(singular)
        return plural(self, singular, p, n)

    monkeypatch.setattr(Translations, "ugettext", ugettext)
    monkeypatch.setattr(Translations, "ungettext", ungettext)
    yield seen


def _seed(world: World) -> dict[str, Any]:
    publish(world, MULTILINGUAL_FORM)
    ingest(world, multilingual_instance("uuid:t1", name="uno"), review_state="approved")
    ingest(world, multilingual_instance("uuid:t2", name="dos"), **flag("short_interview", "short"))
    # A registry site (an entity of the project's sites list) for the sites and entity pages.
    site = (
        "code,name_es,name_en,site_type,adm0_pcode,adm1_pcode,adm2_pcode,latitude,longitude,capacity\n"
        "COL-ALB,Albergue Cúcuta,Cúcuta shelter,shelter,COL,CO54,CO54001,7.89,-72.50,120\n"
    )
    res = world.client.put(
        f"/v1/projects/{world.project_id}/sites", data=site.encode(), headers=world.headers("manager")
    )
    assert res.status_code == 200, res.json
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        submission_id = s.scalar(select(Submission.id).order_by(Submission.id))
    return {"submission_id": submission_id, "site_uuid": site_uuid("COL-ALB")}


def _pages(world: World, seeded: dict[str, Any], client: FlaskClient) -> dict[str, str]:
    pid, form = world.project_id, "monitoreo"
    base = f"/admin/projects/{pid}/forms/{form}"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        export_id = s.scalar(select(ExportRun.id))
        version_id = s.scalar(select(FormVersion.id).order_by(FormVersion.id))
    return {
        "admin.index": "/admin/",
        "admin.login": "/admin/login",  # a logged-in person is sent on; the form is read below
        "admin.audit_page": "/admin/audit",
        "admin.audit_csv": "/admin/audit.csv",
        "admin.jobs": "/admin/jobs",
        "admin.project": f"/admin/projects/{pid}",
        "admin.devices": f"/admin/projects/{pid}/devices",
        "admin.hubs": f"/admin/projects/{pid}/hubs",
        "admin.indicators": f"/admin/projects/{pid}/indicators",
        "admin.indicators_download": f"/admin/projects/{pid}/indicators.csv",
        "admin.form": base,
        "admin.form_mapping": f"{base}/mapping",
        "admin.submissions": f"{base}/submissions",
        "admin.export_page": f"{base}/export?format=csv&reviewState=approved&reviewState=received",
        "admin.export_download": f"{base}/export/download?format=csv",
        "admin.export_file": f"{base}/export/{export_id}/file",
        "admin.submission": f"/admin/submissions/{seeded['submission_id']}",
        # No such file: its error page is what is rendered.
        "admin.submission_file": f"/admin/submissions/{seeded['submission_id']}/files/none.jpg",
        "admin.trash": f"{base}/trash",
        "admin.form_diff": f"{base}/diff",
        "admin.version_xform": f"{base}/versions/{version_id}.xml",
        "admin.version_xlsform": f"{base}/versions/{version_id}.xlsx",
        "admin.submissions_map": f"{base}/map",
        "admin.submissions_map_data": f"{base}/map.geojson",
        "admin.map_outlines": "/admin/map/outlines.geojson",
        "admin.account": "/admin/account",
        "admin.two_factor_setup": "/admin/account/two-factor",
        "admin.login_two_factor": "/admin/login/two-factor",  # no login half-done: sent on
        "admin.reset_password": "/admin/reset",
        "admin.people": "/admin/people",
        "admin.person": f"/admin/people/{world.user_ids['manager']}",
        "admin.project_people": f"/admin/projects/{pid}/people",
        "admin.project_settings": f"/admin/projects/{pid}/settings",
        "admin.organisations": "/admin/organisations",
        "admin.organisation": f"/admin/organisations/{world.org_id}",
        "admin.response": f"/admin/projects/{pid}/response",
        "admin.response_download": f"/admin/projects/{pid}/response/flows.csv",
        "admin.sites": f"/admin/projects/{pid}/sites",
        "admin.edit_site": f"/admin/projects/{pid}/sites/edit?code=COL-ALB",
        "admin.sites_map": f"/admin/projects/{pid}/sites/map",
        "admin.gazetteer": "/admin/gazetteer",
        "admin.sites_map_data": f"/admin/projects/{pid}/sites/map.geojson",
        "admin.entity_lists_page": f"/admin/projects/{pid}/entities",
        "admin.entity_list": f"/admin/projects/{pid}/entities/sites",
        "admin.entity_list_csv": f"/admin/projects/{pid}/entities/sites.csv",
        "admin.entity_detail": f"/admin/projects/{pid}/entities/sites/{seeded['site_uuid']}",
    }


def test_every_admin_page_and_error_page_is_translated(world: World, used: set[str]) -> None:
    seeded = _seed(world)
    client = login(world, "admin")
    assert post(client, "/admin/locale", {"locale": "es", "next": "/admin/"}).status_code == 303
    # Flash messages: a background export queued (and done), a form state saved.
    export = f"/admin/projects/{world.project_id}/forms/monitoreo/export"
    assert post(client, export, {"format": "xlsx", "reviewState": "approved"}, page=export).status_code == 303
    run_jobs(world.app)
    form = f"/admin/projects/{world.project_id}/forms/monitoreo"
    assert post(client, f"{form}/state", {"state": "open"}, page=form).status_code == 303
    # The mapping checker's own messages, shown beside a refused mapping (translated at render time).
    mapping = f"{form}/mapping"
    document = (
        "form: {id: monitoreo}\nfields:\n  nowhere: {to: respondent.sex}\nchoices:\n  no_such_list: {a: b}\n"
    )
    refused = post(client, mapping, {"document": document}, page=mapping)
    assert refused.status_code == 400, refused.status_code
    assert "no hay ninguna pregunta &#39;nowhere&#39; en el formulario" in refused.text
    assert "el formulario no tiene la lista de opciones &#39;no_such_list&#39;" in refused.text
    assert "El mapeo tiene 2 errores" in refused.text  # the summary too, not the API's English one
    pages = _pages(world, seeded, client)

    admin_gets = {
        r.endpoint
        for r in world.app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and "GET" in r.methods
    }
    assert admin_gets <= set(pages), f"add these pages to PAGES: {sorted(admin_gets - set(pages))}"
    for endpoint, url in pages.items():
        res = client.get(url, headers=ES)
        assert res.status_code < 500, (endpoint, res.status_code)
        # No page links to the token-only API: its downloads answer 401 to a logged-in admin.
        if res.mimetype == "text/html":
            assert 'href="/v1/' not in res.text, endpoint
        if endpoint == "admin.export_page":
            assert "envíos" in res.text  # the Spanish page, really
    # The login page of someone logged out, and the error pages of each kind.
    anonymous = world.app.test_client()
    assert anonymous.get("/admin/login", headers=ES).status_code == 200
    supervisor = login(world, "supervisor")
    supervisor.post("/admin/locale", data={"locale": "es", "csrf_token": csrf_token(supervisor, "/admin/")})
    errors = {
        404: client.get(f"/admin/projects/{world.project_id + 1000}", headers=ES),
        403: supervisor.get("/admin/audit", headers=ES),
        400: client.get("/admin/audit?from=ayer", headers=ES),
        401: anonymous.post(
            "/admin/login",
            data={"email": "x@example.org", "password": "wrong", "csrf_token": csrf_token(anonymous)},
            headers=ES,
        ),
        405: client.delete("/admin/audit", headers=ES),
    }
    csrf = client.post(f"{form}/state", data={"state": "open"}, headers=ES)
    assert csrf.status_code == 400 and "Esta página había caducado" in csrf.text
    for status, res in errors.items():
        assert res.status_code == status, (status, res.text[:300])
    assert "No encontrado" in errors[404].text and "No permitido" in errors[403].text

    for locale in ("es", "pt"):
        missing = sorted(used - _translated(locale))
        assert not missing, (locale, missing)
    assert len(used) > 150  # the walk really read the pages' messages
