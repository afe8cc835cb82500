"""Builders for admin tests: log in through the login form, read CSRF tokens, seed submissions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.auth.actor import Actor
from app.blobs import get_blob_store
from app.db import get_database
from app.models import Submission, User
from app.services import projects
from app.services.publishing import versions as form_service
from app.services.submissions import intake as submission_service
from tests.app.conftest import World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

MULTILINGUAL_FORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
  xmlns:jr="http://openrosa.org/javarosa">
  <h:head><h:title>Monitoreo</h:title>
    <model>
      <itext>
        <translation lang="Español (es)" default="true()">
          <text id="/data/travel:label"><value>Viaje</value></text>
          <text id="/data/travel/nationality:label"><value>Nacionalidad</value></text>
          <text id="/data/travel/nationality/VEN:label"><value>Venezolana</value></text>
          <text id="/data/travel/nationality/COL:label"><value>Colombiana</value></text>
          <text id="/data/member:label"><value>Miembro del grupo</value></text>
          <text id="/data/member/age:label"><value>Edad</value></text>
          <text id="/data/location:label"><value>Ubicación</value></text>
          <text id="/data/secret:label"><value>Nombre completo</value></text>
        </translation>
        <translation lang="English (en)">
          <text id="/data/travel:label"><value>Journey</value></text>
          <text id="/data/travel/nationality:label"><value>Nationality</value></text>
          <text id="/data/travel/nationality/VEN:label"><value>Venezuelan</value></text>
          <text id="/data/travel/nationality/COL:label"><value>Colombian</value></text>
          <text id="/data/member:label"><value>Group member</value></text>
          <text id="/data/member/age:label"><value>Age</value></text>
          <text id="/data/location:label"><value>Location</value></text>
          <text id="/data/secret:label"><value>Full name</value></text>
        </translation>
      </itext>
      <instance><data id="monitoreo" version="1">
        <travel><nationality/></travel><member jr:template=""><age/></member><location/><secret/>
        <meta><instanceID/><instanceName/></meta>
      </data></instance>
      <bind nodeset="/data/travel/nationality" type="string"/>
      <bind nodeset="/data/member/age" type="int"/>
      <bind nodeset="/data/location" type="geopoint"/>
      <bind nodeset="/data/secret" type="string"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()"/>
    </model></h:head>
  <h:body>
    <group ref="/data/travel"><label ref="jr:itext('/data/travel:label')"/>
      <select1 ref="/data/travel/nationality"><label ref="jr:itext('/data/travel/nationality:label')"/>
        <item><label ref="jr:itext('/data/travel/nationality/VEN:label')"/><value>VEN</value></item>
        <item><label ref="jr:itext('/data/travel/nationality/COL:label')"/><value>COL</value></item>
      </select1></group>
    <group ref="/data/member"><label ref="jr:itext('/data/member:label')"/>
      <repeat nodeset="/data/member">
        <input ref="/data/member/age"><label ref="jr:itext('/data/member/age:label')"/></input>
      </repeat></group>
    <input ref="/data/location"><label ref="jr:itext('/data/location:label')"/></input>
    <input ref="/data/secret"><label ref="jr:itext('/data/secret:label')"/></input>
  </h:body></h:html>""".encode()


def multilingual_instance(
    instance_id: str,
    *,
    name: str,
    nationality: str = "VEN",
    ages: tuple[int, ...] = (30, 8),
    secret: str = "Ana Pérez",
    deprecated: str | None = None,
) -> bytes:
    members = "".join(f"<member><age>{a}</age></member>" for a in ages)
    dep = f"<deprecatedID>{deprecated}</deprecatedID>" if deprecated else ""
    return (
        f'<data id="monitoreo" version="1"><travel><nationality>{nationality}</nationality></travel>{members}'
        f"<location>-0.2 -78.5 2800 5</location><secret>{secret}</secret>"
        f"<meta><instanceID>{instance_id}</instanceID>{dep}<instanceName>{name}</instanceName></meta></data>"
    ).encode()


def csrf_token(client: FlaskClient, path: str = "/admin/login") -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, (path, page.status_code, page.text[:300])
    return found.group(1)


def login(world: World, who: str, client: FlaskClient | None = None) -> FlaskClient:
    """A client logged in to the admin as ``who`` (a fresh client unless one is given)."""
    client = client or world.app.test_client()
    res = client.post(
        "/admin/login",
        data={"email": world.emails[who], "password": world.passwords[who], "csrf_token": csrf_token(client)},
    )
    assert res.status_code == 303, res.text[:500]
    return client


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, page: str = "/admin/") -> Any:
    """POST like the browser: with the CSRF token of the session."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


@dataclass
class Seeded:
    form_id: str
    ids: list[int]


def publish(world: World, xml: bytes) -> str:
    app = world.app
    with app.app_context(), get_database(app).session_scope() as session:
        admin = session.get(User, world.user_ids["admin"])
        project = projects.get_project(session, world.project_id)
        result = form_service.create_form(
            session,
            actor=Actor(user=admin),
            project=project,
            data=xml,
            store=get_blob_store(app),
            publish=True,
            ignore_warnings=True,
            run_validate=False,
            # Fixture forms are published whatever media they expect (the tests send what they need).
            override_reason="test fixture",
        )
        session.commit()
        return result.form.xml_form_id


def ingest(
    world: World,
    xml: bytes,
    *,
    files: dict[str, bytes] | None = None,
    device: str = "collect:PHONE1",
    project_id: int | None = None,
    **changes: Any,
) -> int:
    """Store a submission through the ingest service; ``changes`` are then set on the row (flags, dates)."""
    app = world.app
    with app.app_context(), get_database(app).session_scope() as session:
        admin = session.get(User, world.user_ids["admin"])
        project = projects.get_project(session, project_id or world.project_id)
        result = submission_service.ingest(
            session,
            actor=Actor(user=admin),
            project=project,
            xml=xml,
            files=[submission_service.IncomingFile(n, d) for n, d in (files or {}).items()],
            store=get_blob_store(app),
            origin=submission_service.Origin(device_id=device),
        )
        for key, value in changes.items():
            setattr(result.submission, key, value)
        session.commit()
        return result.submission.id


def flag(code: str, message: str) -> dict[str, Any]:
    return {"quality_flags": [{"code": code, "message": message, "details": {}}], "flag_codes": f" {code} "}


def submission_row(app: Flask, submission_id: int) -> Submission:
    with app.app_context(), get_database(app).session_scope() as session:
        sub = session.get(Submission, submission_id)
        assert sub is not None
        session.expunge(sub)
        return sub


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)
