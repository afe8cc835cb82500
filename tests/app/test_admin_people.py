"""People and structure in the admin (issue 17, item 2): organisations, projects, people and roles by
whoever may; one's own password; one-time reset codes (and their e-mail when SMTP is set); two-factor
login with TOTP and recovery codes; menus that hold only what a role may use; ``/`` to the admin."""

from __future__ import annotations

import email
import email.policy
import re
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.db import get_database, utcnow
from app.models import ApiSession, AuditEvent, PasswordReset, Project, ProjectRole, RecoveryCode, User
from tests.app.admin_helpers import csrf_token, login
from tests.app.conftest import World

CODE = re.compile(r'id="reset-code">([A-Z2-7-]+)<')
SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
RECOVERY = re.compile(r"<li><code>([A-Z0-9-]+)</code></li>")


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, page: str = "/admin/") -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


def _count(world: World, model: Any, *where: Any) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _user(world: World, email_address: str) -> User:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        user = s.scalar(select(User).where(User.email == email_address))
        assert user is not None
        s.expunge(user)
        return user


def _menu(client: FlaskClient, path: str = "/admin/") -> list[str]:
    page = client.get(path).text
    nav = re.search(r'<nav class="main-menu"[^>]*>(.*?)</nav>', page, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(1)) if nav else []


def _project_menu(client: FlaskClient, path: str) -> list[str]:
    page = client.get(path).text
    nav = re.search(r'<nav class="project-menu"[^>]*>(.*?)</nav>', page, re.S)
    return re.findall(r'href="([^"]+)"', nav.group(1)) if nav else []


def test_the_root_takes_a_person_to_the_admin(world: World) -> None:
    res = world.client.get("/")
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/")
    assert world.client.get("/admin/").headers["Location"].startswith("/admin/login")


def test_an_admin_builds_an_organisation_project_and_person_who_sees_only_their_project(world: World) -> None:
    admin = login(world, "admin")
    res = post(admin, "/admin/organisations", {"code": "NRC-COL", "name": "NRC Colombia"})
    assert res.status_code == 303
    org_id = int(res.headers["Location"].rsplit("/", 1)[1])
    res = post(admin, f"/admin/organisations/{org_id}/projects", {"name": "Cúcuta", "countries": "col, ven"})
    assert res.status_code == 303
    project_id = int(res.headers["Location"].split("/")[-2])
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, project_id)
        assert (
            project is not None and project.organisation_id == org_id and project.countries == ["COL", "VEN"]
        )
    res = post(
        admin,
        "/admin/people",
        {
            "email": "Luz@Example.org",
            "display_name": "Luz",
            "organisation_id": str(org_id),
            "password": "a long new password",
            "password_confirm": "a long new password",
        },
    )
    assert res.status_code == 303
    luz = _user(world, "luz@example.org")
    assert luz.organisation_id == org_id and not luz.is_admin
    res = post(admin, f"/admin/projects/{project_id}/people", {"user_id": str(luz.id), "role": "supervisor"})
    assert res.status_code == 303
    assert _count(world, ProjectRole, ProjectRole.user_id == luz.id, ProjectRole.role == "supervisor") == 1

    person = world.app.test_client()
    res = person.post(
        "/admin/login",
        data={
            "email": "luz@example.org",
            "password": "a long new password",
            "csrf_token": csrf_token(person),
        },
    )
    assert res.status_code == 303
    index = person.get("/admin/").text
    assert "Cúcuta" in index and "Rumichaca" not in index and "Tumbes" not in index
    assert person.get(f"/admin/projects/{world.project_id}").status_code == 404
    # A supervisor: no People, no Organisations, no jobs in the menus; no Settings in the project's.
    assert _menu(person) == ["/admin/", "/admin/account"]
    assert f"/admin/projects/{project_id}/people" not in _project_menu(
        person, f"/admin/projects/{project_id}"
    )
    assert person.get("/admin/organisations").status_code == 403

    # Revoked: the project is gone from their list.
    res = post(admin, f"/admin/projects/{project_id}/people/{luz.id}/revoke")
    assert res.status_code == 303
    assert "Cúcuta" not in person.get("/admin/").text


def test_each_role_sees_only_the_menus_it_may_use(world: World) -> None:
    pid = world.project_id
    expected_main = {
        "admin": [
            "/admin/",
            "/admin/people",
            "/admin/organisations",
            "/admin/jobs",
            "/admin/audit",
            "/admin/account",
        ],
        "manager": ["/admin/", "/admin/people", "/admin/audit", "/admin/account"],
        "supervisor": ["/admin/", "/admin/account"],
        "analyst": ["/admin/", "/admin/account"],
        "enumerator": ["/admin/", "/admin/account"],
    }
    for who, menu in expected_main.items():
        client = login(world, who)
        assert _menu(client) == menu, who
        project_menu = _project_menu(client, f"/admin/projects/{pid}")
        assert (f"/admin/projects/{pid}/people" in project_menu) == (who in {"admin", "manager"}), who
        assert (f"/admin/projects/{pid}/settings" in project_menu) == (who in {"admin", "manager"}), who
        assert (f"/admin/projects/{pid}/devices" in project_menu) == (
            who != "analyst" and who != "enumerator"
        )
        assert (f"/admin/projects/{pid}/hubs" in project_menu) == (who in {"admin", "manager"}), who
        # Every link a menu shows opens.
        for link in menu + project_menu:
            assert client.get(link).status_code == 200, (who, link)
        for page in ("/admin/people", f"/admin/projects/{pid}/people", f"/admin/projects/{pid}/settings"):
            status = client.get(page).status_code
            assert (status == 200) == (who in {"admin", "manager"}), (who, page, status)
        assert client.get("/admin/organisations").status_code == (200 if who == "admin" else 403)


def test_a_manager_gives_roles_only_to_people_of_their_organisation(world: World) -> None:
    manager = login(world, "manager")
    pid = world.project_id
    page = manager.get(f"/admin/projects/{pid}/people").text
    assert "outsider@example.org" not in page and "analyst@example.org" in page
    res = post(
        manager,
        f"/admin/projects/{pid}/people",
        {"user_id": str(world.user_ids["outsider"]), "role": "analyst"},
    )
    assert res.status_code == 404
    res = post(
        manager, f"/admin/projects/{pid}/people", {"user_id": str(world.user_ids["analyst"]), "role": "boss"}
    )
    assert res.status_code == 303
    res = post(
        manager,
        f"/admin/projects/{pid}/people",
        {"user_id": str(world.user_ids["analyst"]), "role": "supervisor"},
    )
    assert res.status_code == 303
    assert (
        _count(
            world,
            ProjectRole,
            ProjectRole.user_id == world.user_ids["analyst"],
            ProjectRole.role == "supervisor",
        )
        == 1
    )
    # Another organisation's project does not exist for them.
    assert manager.get(f"/admin/projects/{world.other_project_id}/people").status_code == 404
    res = post(
        manager, f"/admin/projects/{world.other_project_id}/people/{world.user_ids['outsider']}/revoke"
    )
    assert res.status_code == 404
    # The people list: their organisation only, and no one to edit.
    people = manager.get("/admin/people").text
    assert "outsider@example.org" not in people and "/admin/people/" not in people
    assert manager.get(f"/admin/people/{world.user_ids['analyst']}").status_code == 403
    assert post(manager, "/admin/people", {"email": "x@example.org"}).status_code == 403
    assert _count(world, AuditEvent, AuditEvent.action == "project.role") >= 5


def test_a_person_changes_their_password_and_their_other_sessions_end(world: World) -> None:
    here = login(world, "analyst")
    elsewhere = login(world, "analyst")
    token = world.headers("analyst")
    res = post(
        here,
        "/admin/account/password",
        {
            "current_password": "wrong",
            "new_password": "a new password!",
            "new_password_confirm": "a new password!",
        },
    )
    assert (
        res.status_code == 303 and "La contraseña actual no es correcta." in here.get("/admin/account").text
    )
    res = post(
        here,
        "/admin/account/password",
        {
            "current_password": world.passwords["analyst"],
            "new_password": "short",
            "new_password_confirm": "short",
        },
    )
    assert res.status_code == 303
    res = post(
        here,
        "/admin/account/password",
        {
            "current_password": world.passwords["analyst"],
            "new_password": "a new password!",
            "new_password_confirm": "a new password!",
        },
    )
    assert res.status_code == 303
    assert here.get("/admin/account").status_code == 200  # the session that asked stays
    assert elsewhere.get("/admin/account").status_code == 302  # every other one ended
    assert world.client.get("/v1/users/current", headers=token).status_code == 401
    world.passwords["analyst"] = "a new password!"
    login(world, "analyst")


def test_a_reset_code_sets_a_password_once(world: World) -> None:
    admin = login(world, "admin")
    victim = login(world, "supervisor")
    uid = world.user_ids["supervisor"]
    page = post(admin, f"/admin/people/{uid}/password-reset", page=f"/admin/people/{uid}")
    assert page.status_code == 200
    code = CODE.search(page.text)
    assert code and f"/admin/reset?code={code.group(1)}" in page.text
    anonymous = world.app.test_client()
    form = {"new_password": "reset password 1", "new_password_confirm": "reset password 1"}
    res = anonymous.post(
        "/admin/reset",
        data={"csrf_token": csrf_token(anonymous, "/admin/reset"), "code": code.group(1).lower(), **form},
    )
    assert res.status_code == 303 and res.headers["Location"].endswith("/admin/login")
    assert victim.get("/admin/").status_code == 302  # the person's sessions ended
    again = anonymous.post(
        "/admin/reset",
        data={"csrf_token": csrf_token(anonymous, "/admin/reset"), "code": code.group(1), **form},
    )
    assert again.status_code == 401
    world.passwords["supervisor"] = "reset password 1"
    login(world, "supervisor")
    actions = {"user.password.reset_issued", "user.password.reset_used", "user.password"}
    assert _count(world, AuditEvent, AuditEvent.action.in_(actions)) == 3


def test_a_reset_code_expires_and_a_new_one_replaces_the_old(world: World) -> None:
    admin = login(world, "admin")
    uid = world.user_ids["enumerator"]
    first = CODE.search(post(admin, f"/admin/people/{uid}/password-reset").text)
    second = CODE.search(post(admin, f"/admin/people/{uid}/password-reset").text)
    assert first and second and first.group(1) != second.group(1)
    anonymous = world.app.test_client()
    form = {"new_password": "reset password 2", "new_password_confirm": "reset password 2"}

    def use(code: str) -> int:
        data = {"csrf_token": csrf_token(anonymous, "/admin/reset"), "code": code, **form}
        return anonymous.post("/admin/reset", data=data).status_code

    assert use(first.group(1)) == 401
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        for row in s.scalars(select(PasswordReset)):
            row.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    assert use(second.group(1)) == 401
    assert use("not a code") == 401


def test_wrong_reset_codes_count_against_the_login_limit(world: World) -> None:
    world.app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    anonymous = world.app.test_client()
    form = {"new_password": "reset password 3", "new_password_confirm": "reset password 3"}
    statuses = [
        anonymous.post(
            "/admin/reset",
            data={"csrf_token": csrf_token(anonymous, "/admin/reset"), "code": "AAAA-BBBB-CCCC-DDDD", **form},
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_an_account_made_without_a_password_gets_a_code(world: World) -> None:
    admin = login(world, "admin")
    res = post(admin, "/admin/people", {"email": "new@example.org", "organisation_id": str(world.org_id)})
    assert res.status_code == 200
    code = CODE.search(res.text)
    assert code
    anonymous = world.app.test_client()
    form = {"new_password": "my first password", "new_password_confirm": "my first password"}
    res = anonymous.post(
        "/admin/reset",
        data={"csrf_token": csrf_token(anonymous, "/admin/reset"), "code": code.group(1), **form},
    )
    assert res.status_code == 303
    assert post(admin, "/admin/people", {"email": "new@example.org"}).status_code == 303  # taken: a message
    assert "Alguien con este correo electrónico ya tiene una cuenta." in admin.get("/admin/people").text


def test_an_admin_edits_and_deactivates_a_person_whose_sessions_end(world: World) -> None:
    admin = login(world, "admin")
    analyst = login(world, "analyst")
    uid = world.user_ids["analyst"]
    res = post(
        admin, f"/admin/people/{uid}", {"display_name": "Ana Analista", "organisation_id": str(world.org_id)}
    )
    assert res.status_code == 303
    assert _user(world, "analyst@example.org").is_active is False
    assert _count(world, ApiSession, ApiSession.user_id == uid) == 0
    assert analyst.get("/admin/").status_code == 302
    # Moving a person with roles out of their organisation is refused; so is demoting oneself.
    post(admin, f"/admin/people/{uid}", {"organisation_id": str(world.other_org_id), "is_active": "on"})
    assert _user(world, "analyst@example.org").organisation_id == world.org_id
    post(admin, f"/admin/people/{world.user_ids['admin']}", {"is_active": "on"})
    assert _user(world, "admin@example.org").is_admin


@pytest.fixture
def totp_user(world: World) -> Iterator[tuple[FlaskClient, str, list[str]]]:
    """The manager, with two-factor login turned on through the pages."""
    client = login(world, "manager")
    page = client.get("/admin/account/two-factor")
    secret = SECRET.search(page.text)
    assert secret and 'src="data:image/svg+xml' in page.text
    wrong = post(client, "/admin/account/two-factor", {"code": "000000"}, page="/admin/account/two-factor")
    assert wrong.status_code == 303
    res = post(
        client,
        "/admin/account/two-factor",
        {"code": pyotp.TOTP(secret.group(1)).now()},
        page="/admin/account/two-factor",
    )
    assert res.status_code == 200
    codes = RECOVERY.findall(res.text)
    assert len(codes) == 10
    yield client, secret.group(1), codes


def _password_step(world: World, client: FlaskClient) -> Any:
    return client.post(
        "/admin/login",
        data={
            "email": world.emails["manager"],
            "password": world.passwords["manager"],
            "csrf_token": csrf_token(client),
        },
    )


def test_two_factor_login_asks_for_a_code_that_works_once(world: World, totp_user: Any) -> None:
    _, secret, codes = totp_user
    assert _count(world, RecoveryCode) == 10
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert all(h.startswith("$argon2") for h in s.scalars(select(RecoveryCode.code_hash)))
    client = world.app.test_client()
    res = _password_step(world, client)
    assert res.status_code == 303 and res.headers["Location"].endswith("/admin/login/two-factor")
    assert client.get("/admin/").status_code == 302  # not logged in yet
    page = "/admin/login/two-factor"
    assert (
        client.post(page, data={"csrf_token": csrf_token(client, page), "code": "123456"}).status_code == 401
    )
    # The code used at enrolment was spent: the next time step's code logs in, once.
    totp = pyotp.TOTP(secret)
    code = totp.at(utcnow() + timedelta(seconds=30))
    res = client.post(page, data={"csrf_token": csrf_token(client, page), "code": code})
    assert res.status_code == 303 and client.get("/admin/").status_code == 200
    other = world.app.test_client()
    _password_step(world, other)
    assert other.post(page, data={"csrf_token": csrf_token(other, page), "code": code}).status_code == 401
    # A recovery code, once.
    res = other.post(page, data={"csrf_token": csrf_token(other, page), "code": codes[0].lower()})
    assert res.status_code == 303 and other.get("/admin/").status_code == 200
    third = world.app.test_client()
    _password_step(world, third)
    assert third.post(page, data={"csrf_token": csrf_token(third, page), "code": codes[0]}).status_code == 401
    assert _count(world, RecoveryCode, RecoveryCode.used_at.is_not(None)) == 1


def test_two_factor_is_turned_off_with_the_password_or_by_an_admin(world: World, totp_user: Any) -> None:
    client, _, _ = totp_user
    post(client, "/admin/account/two-factor/off", {"password": "wrong"}, page="/admin/account")
    assert _user(world, "manager@example.org").totp_secret is not None
    post(
        client,
        "/admin/account/two-factor/off",
        {"password": world.passwords["manager"]},
        page="/admin/account",
    )
    assert _user(world, "manager@example.org").totp_secret is None
    assert _count(world, RecoveryCode) == 0
    assert _password_step(world, world.app.test_client()).headers["Location"].endswith("/admin/")

    page = client.get("/admin/account/two-factor")
    secret = SECRET.search(page.text)
    assert secret
    post(
        client,
        "/admin/account/two-factor",
        {"code": pyotp.TOTP(secret.group(1)).now()},
        page="/admin/account",
    )
    admin = login(world, "admin")
    uid = world.user_ids["manager"]
    assert post(admin, f"/admin/people/{uid}/two-factor/off").status_code == 303
    assert _user(world, "manager@example.org").totp_secret is None


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: every command is accepted, DATA is kept."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        lines: list[bytes] = []
        in_data = False
        while line := self.rfile.readline():
            if in_data:
                if line.rstrip(b"\r\n") == b".":
                    self.server.messages.append(b"".join(lines))  # type: ignore[attr-defined]
                    lines, in_data = [], False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[bytes]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], server.messages  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_a_reset_link_is_also_mailed_when_smtp_is_configured(
    world: World, smtp_server: tuple[int, list[bytes]]
) -> None:
    port, messages = smtp_server
    world.app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="ruta@example.org")
    admin = login(world, "admin")
    page = post(admin, f"/admin/people/{world.user_ids['analyst']}/password-reset")
    code = CODE.search(page.text)
    assert code and 'class="flash ok"' in page.text
    assert len(messages) == 1
    message = email.message_from_bytes(messages[0], _class=EmailMessage, policy=email.policy.default)
    assert message["To"] == "analyst@example.org" and message["From"] == "ruta@example.org"
    body = message.get_content()
    assert f"/admin/reset?code={code.group(1)}" in body
    # A server that does not answer: the code is still shown, with a note.
    world.app.config.update(SMTP_PORT=1)
    page = post(admin, f"/admin/people/{world.user_ids['analyst']}/password-reset")
    assert CODE.search(page.text) and 'class="error"' in page.text


def test_junk_in_the_forms_is_refused_and_nothing_is_written(world: World) -> None:
    admin = login(world, "admin")
    before = _count(world, User)
    res = post(admin, "/admin/people", {"email": "nul@example.org", "display_name": "a\x00b"})
    assert res.status_code == 400 and "NUL" in res.text
    res = post(admin, "/admin/people", {"email": "long@example.org", "display_name": "x" * 256})
    assert res.status_code == 303
    res = post(admin, "/admin/organisations", {"code": "NUL", "name": "\x00"})
    assert res.status_code == 400
    res = post(admin, f"/admin/projects/{world.project_id}/settings", {"name": "ok", "description": "\x00"})
    assert res.status_code == 400
    res = post(admin, f"/admin/projects/{world.project_id}/settings", {"name": "ok", "countries": "Ecuador"})
    assert res.status_code == 303
    res = post(
        admin, f"/admin/people/{world.user_ids['analyst']}", {"display_name": "y" * 256, "is_active": "on"}
    )
    assert res.status_code == 303
    assert _count(world, User) == before
    assert _user(world, "analyst@example.org").display_name == "analyst"
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        project = s.get(Project, world.project_id)
        assert project is not None and project.name == "Rumichaca" and project.countries == ["COL", "ECU"]
    res = post(admin, f"/admin/projects/{world.project_id}/people", {"user_id": "abc", "role": "analyst"})
    assert res.status_code == 404
