"""The admin web interface through Flask's test client: login, CSRF, access, the table, a submission's
page, review (single and bulk), devices and forms. Browser behaviour is in test_admin_browser.py."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import get_database
from app.models import AppUser, AuditEvent, Form, Project, ReviewEvent, Submission, User
from tests.app.admin_helpers import (
    MULTILINGUAL_FORM,
    csrf_token,
    flag,
    ingest,
    login,
    multilingual_instance,
    post,
    publish,
    submission_row,
)
from tests.app.conftest import World
from tests.app.openrosa_helpers import SIMPLE_FORM, instance
from tests.data import data_file


@pytest.fixture
def seeded(world: World) -> dict[str, Any]:
    """The multilingual form with three submissions: one flagged, one approved, one plain."""
    publish(world, MULTILINGUAL_FORM)
    flagged = ingest(
        world,
        multilingual_instance("uuid:m1", name="Familia Rojas"),
        **flag("short_interview", "The interview took 2 minutes; the form needs at least 10."),
    )
    approved = ingest(
        world,
        multilingual_instance("uuid:m2", name="Grupo Pérez", nationality="COL"),
        device="collect:PHONE2",
        review_state="approved",
    )
    plain = ingest(world, multilingual_instance("uuid:m3", name="Sin bandera"))
    return {
        "flagged": flagged,
        "approved": approved,
        "plain": plain,
        "table": f"/admin/projects/{world.project_id}/forms/monitoreo/submissions",
    }


def _count(world: World, model: Any, *conds: Any) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*conds)) or 0)


# -- login, sessions, CSRF ----------------------------------------------------------------------------


def test_login_logout_and_login_required(world: World) -> None:
    client = world.app.test_client()
    res = client.get("/admin/")
    assert res.status_code == 302 and "/admin/login" in res.headers["Location"]
    bad = client.post(
        "/admin/login",
        data={
            "email": world.emails["supervisor"],
            "password": "wrong-password",
            "csrf_token": csrf_token(client),
        },
    )
    assert bad.status_code == 401
    assert "no es correcto" in bad.text or "not correct" in bad.text
    login(world, "supervisor", client)
    home = client.get("/admin/")
    assert home.status_code == 200 and "Rumichaca" in home.text
    # The other organisation's project is not listed.
    assert "Tumbes" not in home.text
    res = post(client, "/admin/logout")
    assert res.status_code == 303
    assert client.get("/admin/").status_code == 302
    assert _count(world, AuditEvent, AuditEvent.action == "user.login.web") == 1


def test_session_cookie_is_httponly_and_samesite_lax(world: World) -> None:
    client = world.app.test_client()
    res = client.post(
        "/admin/login",
        data={
            "email": world.emails["admin"],
            "password": world.passwords["admin"],
            "csrf_token": csrf_token(client),
        },
    )
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_when_the_public_url_is_https(app_config: dict[str, Any]) -> None:
    from app import create_app

    app = create_app({**app_config, "BASE_URL": "https://ruta.example.org"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    get_database(app).dispose()


def test_posts_without_csrf_token_are_refused(world: World, seeded: dict[str, Any]) -> None:
    client = world.app.test_client()
    res = client.post(
        "/admin/login", data={"email": world.emails["admin"], "password": world.passwords["admin"]}
    )
    assert res.status_code == 400
    login(world, "supervisor", client)
    res = client.post(f"/admin/submissions/{seeded['plain']}/review", data={"review": "approved"})
    assert res.status_code == 400 and "text/html" in res.content_type
    assert submission_row(world.app, seeded["plain"]).review_state == "received"
    res = client.post(
        f"/admin/submissions/{seeded['plain']}/review", data={"review": "approved", "csrf_token": "forged"}
    )
    assert res.status_code == 400
    assert client.post("/admin/logout").status_code == 400


def test_json_api_stays_csrf_free_and_ignores_the_admin_cookie(world: World) -> None:
    client = login(world, "admin")
    # A logged-in browser's cookie does not authenticate the API (it would need CSRF protection then).
    assert client.get("/v1/users/current").status_code == 401
    res = client.post(
        "/v1/sessions", json={"email": world.emails["admin"], "password": world.passwords["admin"]}
    )
    assert res.status_code == 200


def test_failed_logins_are_rate_limited(app_config: dict[str, Any], world: World) -> None:
    world.app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = world.app.test_client()
    token = csrf_token(client)
    statuses = [
        client.post(
            "/admin/login",
            data={"email": world.emails["admin"], "password": "nope-nope-nope", "csrf_token": token},
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    res = client.post(
        "/admin/login",
        data={"email": world.emails["admin"], "password": world.passwords["admin"], "csrf_token": token},
    )
    assert res.status_code == 429


def test_language_from_browser_then_from_the_persons_choice(world: World) -> None:
    client = world.app.test_client()
    assert "Iniciar sesión" in client.get("/admin/login", headers={"Accept-Language": "es-EC,es"}).text
    assert "Log in to Ruta" in client.get("/admin/login", headers={"Accept-Language": "en-GB,en"}).text
    assert "Entrar" in client.get("/admin/login", headers={"Accept-Language": "pt-BR"}).text
    login(world, "supervisor", client)
    assert post(client, "/admin/locale", {"locale": "pt", "next": "/admin/"}).status_code == 303
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None and user.locale == "pt"
    # The person's choice wins over the browser's.
    assert "Projetos" in client.get("/admin/", headers={"Accept-Language": "en"}).text


def test_admin_pages_send_a_strict_content_security_policy(world: World) -> None:
    res = login(world, "admin").get("/admin/")
    csp = res.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert res.headers["X-Content-Type-Options"] == "nosniff" and res.headers["X-Frame-Options"] == "DENY"


# -- navigation and the table -------------------------------------------------------------------------


def test_navigation_counts(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    page = client.get(f"/admin/projects/{world.project_id}")
    assert page.status_code == 200 and "Monitoreo" in page.text
    # total 3, awaiting 2 (received), flagged 1; linked to the filtered table.
    assert '?state=awaiting">2</a>' in page.text and '?flag=any">1</a>' in page.text
    assert ">3</a>" in page.text


def test_table_filters_find_the_flagged_submission(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    res = client.get(seeded["table"] + "?flag=short_interview")
    assert res.status_code == 200
    assert "Familia Rojas" in res.text and "Sin bandera" not in res.text
    # The badge says why the flag fired.
    assert 'title="The interview took 2 minutes; the form needs at least 10."' in res.text
    assert "Grupo Pérez" in client.get(seeded["table"] + "?state=approved").text
    assert "Grupo Pérez" not in client.get(seeded["table"] + "?state=awaiting").text
    only_phone2 = client.get(seeded["table"] + "?device=collect:PHONE2").text
    assert "Grupo Pérez" in only_phone2 and "Familia Rojas" not in only_phone2
    searched = client.get(seeded["table"] + "?q=rojas").text
    assert "Familia Rojas" in searched and "Grupo Pérez" not in searched
    assert "Sin bandera" in client.get(seeded["table"] + "?flag=none").text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert "Familia Rojas" not in client.get(seeded["table"] + f"?from={tomorrow}").text
    assert client.get(seeded["table"] + "?from=yesterday").status_code == 400
    assert client.get(seeded["table"] + "?flag=made_up").status_code == 400


def test_table_sorts_and_paginates_without_overlap(world: World) -> None:
    publish(world, SIMPLE_FORM)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(12):
        ingest(world, instance(f"uuid:p{i}", name=f"N{i}"), created_at=base + timedelta(hours=i))
    client = login(world, "supervisor")
    table = f"/admin/projects/{world.project_id}/forms/photo/submissions"
    seen: list[str] = []
    for page in (1, 2):
        text = client.get(f"{table}?per_page=10&page={page}").text
        seen += [f"N{i}" for i in range(12) if f">uuid:p{i}<" in text]
    assert sorted(seen) == sorted(f"N{i}" for i in range(12))
    assert "Page 2 of 2" in client.get(f"{table}?per_page=10&page=2", headers={"Accept-Language": "en"}).text
    newest_first = client.get(table).text
    assert newest_first.index(">uuid:p11<") < newest_first.index(">uuid:p0<")
    oldest_first = client.get(f"{table}?sort=received&dir=asc").text
    assert oldest_first.index(">uuid:p0<") < oldest_first.index(">uuid:p11<")


def _id_of(world: World, instance_id: str) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        found = s.scalar(select(Submission.id).where(Submission.instance_id == instance_id))
        assert found is not None
        return int(found)


def test_table_pages_by_cursor_in_every_order_and_by_number_from_either_end(world: World) -> None:
    """Next and Previous carry the id of the row a page follows (keyset pages); a page asked for by
    number is read from the nearer end. Walking either way must visit every row once, in order, also
    when the sort key repeats (names here), where only the id breaks ties."""
    publish(world, SIMPLE_FORM)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(25):
        ingest(world, instance(f"uuid:k{i:02d}", name=f"N{i % 3}"), created_at=base + timedelta(hours=i))
    client = login(world, "supervisor")
    table = f"/admin/projects/{world.project_id}/forms/photo/submissions"
    row = re.compile(r">uuid:(k\d\d)<")
    link = re.compile(r'<a rel="(next|prev)" href="[^"?]*\?([^"]+)"')

    def walk(start: str, direction: str) -> list[list[str]]:
        pages, query = [], start
        while True:
            text = client.get(f"{table}?{html.unescape(query)}").text
            pages.append(row.findall(text))
            found = dict(link.findall(text))
            if direction not in found:
                return pages
            query = found[direction]

    for order in ("", "&sort=name&dir=asc", "&sort=name&dir=desc", "&sort=received&dir=asc"):
        forward = walk(f"per_page=10&page=1{order}", "next")
        flat = [k for page in forward for k in page]
        assert len(flat) == 25 and len(set(flat)) == 25, (order, forward)
        assert [len(p) for p in forward] == [10, 10, 5]
        backward = walk(f"per_page=10&page=3{order}", "prev")
        assert backward[::-1] == forward, order
    second = client.get(f"{table}?per_page=10&page=2").text
    assert dict((d, html.unescape(q)) for d, q in link.findall(second))["next"].endswith(
        f"after={_id_of(world, 'uuid:k05')}"
    )
    assert "before=" in html.unescape(
        dict(link.findall(client.get(f"{table}?per_page=10&page=3").text))["prev"]
    )
    by_age = walk("per_page=10&page=1", "next")
    assert by_age[0][0] == "k24" and by_age[2] == [f"k{i:02d}" for i in range(4, -1, -1)]
    # The middle page by number alone, and with a cursor the page follows.
    middle = row.findall(client.get(f"{table}?per_page=10&page=2").text)
    assert middle == by_age[1]
    k15 = _id_of(world, "uuid:k15")
    assert row.findall(client.get(f"{table}?per_page=10&page=2&after={k15}").text) == [
        f"k{i:02d}" for i in range(14, 4, -1)
    ]
    # A cursor that is no row of this form falls back to the page number.
    assert row.findall(client.get(f"{table}?per_page=10&page=2&after=999999").text) == by_age[1]
    assert client.get(f"{table}?after=abc").status_code == 400


def test_a_large_filter_shows_postgresqls_estimate_and_still_pages_through_every_row(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_COUNT_LIMIT matching rows PostgreSQL's table shows the planner's estimate instead of
    counting; the Next links (keyset) still reach every row once. SQLite always counts."""
    from app.services.submissions import table_query as submission_query

    monkeypatch.setattr(submission_query, "EXACT_COUNT_LIMIT", 5)
    publish(world, SIMPLE_FORM)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(25):
        ingest(world, instance(f"uuid:e{i:02d}", name=f"E{i}"), created_at=base + timedelta(hours=i))
    engine = get_database(world.app).engine
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE submissions")
    client = login(world, "supervisor")
    table = f"/admin/projects/{world.project_id}/forms/photo/submissions"
    first = client.get(f"{table}?per_page=10", headers={"Accept-Language": "en"}).text
    if postgres:
        assert re.search(r'id="result-count">about \d+ submissions<', first), first[:2000]
        assert re.search(r"Page 1 of about \d+", first)
    else:
        assert 'id="result-count">25 submissions<' in first
    seen, text = [], first
    while True:
        seen += re.findall(r">uuid:(e\d\d)<", text)
        found = re.search(r'<a rel="next" href="[^"?]*\?([^"]+)"', text)
        if not found:
            break
        text = client.get(f"{table}?{html.unescape(found.group(1))}").text
    assert seen == [f"e{i:02d}" for i in range(24, -1, -1)]
    last = client.get(f"{table}?per_page=10&page=99").text  # by number: the oldest rows
    assert re.findall(r">uuid:(e\d\d)<", last)[-1] == "e00"


# -- the submission page ------------------------------------------------------------------------------


def test_submission_page_shows_labels_in_the_readers_language(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    page = client.get(f"/admin/submissions/{seeded['flagged']}", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    for text in (
        "Nacionalidad",
        "Venezolana",
        "Miembro del grupo",
        "Edad",
        "-0.2, -78.5",
        "Ana Pérez",
        "The interview took 2 minutes",
    ):
        assert text in page.text, text
    english = client.get(f"/admin/submissions/{seeded['flagged']}?lang=English (en)").text
    assert "Nationality" in english and "Venezuelan" in english


def test_sensitive_fields_are_hidden_from_analysts(world: World, seeded: dict[str, Any]) -> None:
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        project = session.get(Project, world.project_id)
        assert project is not None
        project.settings = {"sensitive_fields": ["secret"]}
        session.commit()
    assert "Ana Pérez" not in login(world, "analyst").get(f"/admin/submissions/{seeded['flagged']}").text
    assert "Ana Pérez" in login(world, "supervisor").get(f"/admin/submissions/{seeded['flagged']}").text


def test_edit_history_shows_what_changed(world: World, seeded: dict[str, Any]) -> None:
    ingest(
        world, multilingual_instance("uuid:m1-edit", name="Familia Rojas", ages=(31, 8), deprecated="uuid:m1")
    )
    page = login(world, "supervisor").get(f"/admin/submissions/{seeded['flagged']}").text
    history = page[page.index('id="history"') :]
    assert "member[1]/age" in history and ">30<" in history and ">31<" in history


def test_xss_values_are_escaped(world: World) -> None:
    publish(world, data_file("forms/xss.xml").read_bytes())
    payload = "<img src=x onerror=alert(window.origin)>"
    xml = (
        '<data id="test_form_id222"><fname><![CDATA[' + payload + "]]></fname>"
        "<meta><instanceID>uuid:xss1</instanceID><instanceName>&lt;script&gt;alert(1)&lt;/script&gt;</instanceName>"
        "</meta></data>"
    ).encode()
    sid = ingest(world, xml)
    client = login(world, "admin")
    for path in (
        f"/admin/submissions/{sid}",
        f"/admin/projects/{world.project_id}/forms/test_form_id222/submissions",
    ):
        text = client.get(path).text
        assert "<img src=x" not in text and "<script>alert(1)" not in text, path
    assert "&lt;img src=x onerror=alert(window.origin)&gt;" in client.get(f"/admin/submissions/{sid}").text


def test_submission_files_are_served_sandboxed(world: World) -> None:
    publish(world, SIMPLE_FORM)
    svg = data_file("media/malicious.svg").read_bytes()
    sid = ingest(world, instance("uuid:svg", photo="evil.svg"), files={"evil.svg": svg})
    ingest(world, instance("uuid:html", photo="page.html"), files={"page.html": b"<script>alert(1)</script>"})
    client = login(world, "supervisor")
    page = client.get(f"/admin/submissions/{sid}").text
    assert f'<img class="media" src="/admin/submissions/{sid}/files/evil.svg"' in page
    res = client.get(f"/admin/submissions/{sid}/files/evil.svg")
    assert res.data == svg and res.mimetype == "image/svg+xml"
    assert res.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    html_sid = sid + 1
    res = client.get(f"/admin/submissions/{html_sid}/files/page.html")
    assert res.mimetype == "application/octet-stream" and res.headers["Content-Disposition"].startswith(
        "attachment"
    )
    assert client.get(f"/admin/submissions/{sid}/files/missing.jpg").status_code == 404


# -- access -------------------------------------------------------------------------------------------


def test_enumerators_and_analysts_cannot_review(world: World, seeded: dict[str, Any]) -> None:
    sid = seeded["plain"]
    analyst = login(world, "analyst")
    assert analyst.get(f"/admin/submissions/{sid}").status_code == 200
    assert 'id="review-form"' not in analyst.get(f"/admin/submissions/{sid}").text
    assert post(analyst, f"/admin/submissions/{sid}/review", {"review": "approved"}).status_code == 403
    enumerator = login(world, "enumerator")
    assert enumerator.get(f"/admin/submissions/{sid}").status_code == 403
    assert enumerator.get(seeded["table"]).status_code == 403
    assert post(enumerator, f"/admin/submissions/{sid}/review", {"review": "approved"}).status_code == 403
    bulk = f"/admin/projects/{world.project_id}/forms/monitoreo/review"
    assert post(analyst, bulk, {"review": "rejected", "scope": "filter"}).status_code == 403
    assert submission_row(world.app, sid).review_state == "received"


def test_another_organisation_gets_404_for_guessed_urls(world: World, seeded: dict[str, Any]) -> None:
    outsider = login(world, "outsider")
    sid = seeded["flagged"]
    for path in (
        f"/admin/submissions/{sid}",
        f"/admin/submissions/{sid}/files/a.jpg",
        f"/admin/projects/{world.project_id}",
        f"/admin/projects/{world.project_id}/devices",
        seeded["table"],
        "/admin/submissions/999999",
    ):
        assert outsider.get(path).status_code == 404, path
    assert post(outsider, f"/admin/submissions/{sid}/review", {"review": "rejected"}).status_code == 404
    assert submission_row(world.app, sid).review_state == "received"


# -- review -------------------------------------------------------------------------------------------


def test_approve_with_comment_is_audited_and_moves_on(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    res = post(
        client,
        f"/admin/submissions/{seeded['flagged']}/review",
        {"review": "approved", "comment": "Revisado con el equipo", "advance": "1"},
    )
    assert res.status_code == 303
    assert submission_row(world.app, seeded["flagged"]).review_state == "approved"
    assert _count(world, ReviewEvent, ReviewEvent.comment == "Revisado con el equipo") == 1
    assert _count(world, AuditEvent, AuditEvent.action == "submission.review") == 1
    page = client.get(f"/admin/submissions/{seeded['flagged']}").text
    assert "Revisado con el equipo" in page and 'id="audit"' in page


def test_review_queue_links_follow_the_filter(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    page = client.get(f"/admin/submissions/{seeded['plain']}?state=awaiting").text
    # Newest first: plain (m3) then flagged (m1); the approved one (m2) is not in the queue.
    assert f'id="queue-next" href="/admin/submissions/{seeded["flagged"]}?state=awaiting"' in page
    assert 'id="queue-prev"' not in page
    res = post(
        client,
        f"/admin/submissions/{seeded['plain']}/review",
        {"review": "hasIssues", "advance": "1", "state": "awaiting"},
    )
    assert res.status_code == 303
    assert res.headers["Location"] == f"/admin/submissions/{seeded['flagged']}?state=awaiting"
    assert submission_row(world.app, seeded["plain"]).review_state == "hasIssues"


def test_bulk_reject_everything_a_filter_matches(world: World, seeded: dict[str, Any]) -> None:
    extra = ingest(
        world, multilingual_instance("uuid:m4", name="Otra"), **flag("short_interview", "Too short.")
    )
    client = login(world, "supervisor")
    bulk = f"/admin/projects/{world.project_id}/forms/monitoreo/review"
    res = post(
        client,
        bulk,
        {
            "review": "rejected",
            "scope": "filter",
            "flag": "short_interview",
            "comment": "Entrevistas demasiado cortas",
        },
    )
    assert res.status_code == 303 and "flag=short_interview" in res.headers["Location"], res.text[-900:]
    assert submission_row(world.app, seeded["flagged"]).review_state == "rejected"
    assert submission_row(world.app, extra).review_state == "rejected"
    assert submission_row(world.app, seeded["plain"]).review_state == "received"
    assert _count(world, AuditEvent, AuditEvent.action == "submission.review") == 2
    assert _count(world, AuditEvent, AuditEvent.action == "submission.review.bulk") == 1


def test_bulk_review_of_ticked_rows_refuses_other_forms_rows(world: World, seeded: dict[str, Any]) -> None:
    publish(world, SIMPLE_FORM)
    other = ingest(world, instance("uuid:other"))
    client = login(world, "supervisor")
    bulk = f"/admin/projects/{world.project_id}/forms/monitoreo/review"
    assert post(client, bulk, {"review": "approved", "ids": [seeded["plain"], other]}).status_code == 400
    assert submission_row(world.app, seeded["plain"]).review_state == "received"
    assert post(client, bulk, {"review": "approved", "ids": [seeded["plain"]]}).status_code == 303
    assert submission_row(world.app, seeded["plain"]).review_state == "approved"
    assert post(client, bulk, {"review": "deleted", "ids": [seeded["plain"]]}).status_code == 400


def test_comment_without_review(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    assert (
        post(
            client, f"/admin/submissions/{seeded['plain']}/comments", {"body": "Llamar al encuestador"}
        ).status_code
        == 303
    )
    assert "Llamar al encuestador" in client.get(f"/admin/submissions/{seeded['plain']}").text
    assert post(client, f"/admin/submissions/{seeded['plain']}/comments", {"body": "  "}).status_code == 400


# -- devices ------------------------------------------------------------------------------------------


def test_devices_page_revoke_and_qr(world: World, seeded: dict[str, Any]) -> None:
    client = login(world, "supervisor")
    page = post(client, f"/admin/projects/{world.project_id}/devices", {"display_name": "Teléfono 1"})
    assert page.status_code == 200 and 'src="data:image/png;base64,' in page.text
    assert "/v1/key/" in page.text
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        app_user_id = session.scalar(select(AppUser.id).where(AppUser.display_name == "Teléfono 1"))
    devices = client.get(f"/admin/projects/{world.project_id}/devices").text
    assert "Teléfono 1" in devices and "collect:PHONE2" in devices
    again = post(client, f"/admin/projects/{world.project_id}/devices/{app_user_id}/qr")
    assert again.status_code == 200 and "data:image/png;base64," in again.text
    res = post(client, f"/admin/projects/{world.project_id}/devices/{app_user_id}/revoke")
    assert res.status_code == 303
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        revoked = session.get(AppUser, app_user_id)
        assert revoked is not None and revoked.revoked_at is not None
    analyst = login(world, "analyst")
    assert analyst.get(f"/admin/projects/{world.project_id}/devices").status_code == 403
    assert post(analyst, f"/admin/projects/{world.project_id}/devices/{app_user_id}/qr").status_code == 403


# -- forms --------------------------------------------------------------------------------------------


def test_upload_xlsform_see_warnings_publish_and_close(world: World) -> None:
    from forms.library import read_bundled

    client = login(world, "manager")
    data = read_bundled("ruta_household_needs")
    res = client.post(
        f"/admin/projects/{world.project_id}/forms",
        data={
            "csrf_token": csrf_token(client, "/admin/"),
            "file": (__import__("io").BytesIO(data), "needs.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert res.status_code == 303, res.text[:500]
    form_page = client.get(res.headers["Location"]).text
    assert 'id="draft"' in form_page and "ODK Validate" in form_page
    url = res.headers["Location"]
    assert post(client, url + "/publish", {"version": ""}).status_code == 303
    with world.app.app_context(), get_database(world.app).session_scope() as session:
        form = session.scalar(select(Form).where(Form.xml_form_id == "ruta_household_needs"))
        assert form is not None and form.current_version_id is not None and form.draft_version_id is None
    assert post(client, url + "/state", {"state": "closed"}).status_code == 303
    assert _count(world, Form, Form.state == "closed") == 1
    supervisor = login(world, "supervisor")
    assert post(supervisor, url + "/state", {"state": "open"}).status_code == 403
    assert supervisor.get(url).status_code == 200


def test_invalid_xlsform_shows_pyxforms_message(world: World) -> None:
    client = login(world, "manager")
    res = client.post(
        f"/admin/projects/{world.project_id}/forms",
        data={
            "csrf_token": csrf_token(client, "/admin/"),
            "file": (
                __import__("io").BytesIO(data_file("xlsforms/duplicate_columns.xlsx").read_bytes()),
                "duplicate_columns.xlsx",
            ),
        },
        content_type="multipart/form-data",
    )
    assert res.status_code == 400 and "text/html" in res.content_type
    assert "Error 400" in res.text


def _plain(value: object) -> object:
    """A message id or string as a hashable value (plural forms come as lists or tuples)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def test_translations_are_complete_and_compiled_from_the_committed_catalogues() -> None:
    """Every message is translated, and each committed .mo carries exactly the messages its .po holds (so a
    fresh clone serves the translations; `make translations` regenerates both). Messages are compared, not
    bytes: the .mo header names the Babel that compiled it, which is no reason to fail."""
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[2] / "app" / "translations"
    with (root / "messages.pot").open("rb") as fh:
        template_ids = {m.id for m in read_po(fh) if m.id}
    for locale in ("es", "pt"):
        folder = root / locale / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        assert {m.id for m in catalog if m.id} == template_ids, locale
        missing = [
            m.id for m in catalog if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
        ]
        assert not missing, (locale, missing[:10])
        with (folder / "messages.mo").open("rb") as fh:
            compiled = read_mo(fh)
        # Fuzzy entries are compiled too (make translations uses --use-fuzzy), so every entry counts.
        expected = {_plain(m.id): _plain(m.string) for m in catalog if m.id}
        actual = {_plain(m.id): _plain(m.string) for m in compiled if m.id}
        assert actual == expected, f"run make translations ({locale})"
