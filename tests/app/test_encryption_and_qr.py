"""Encrypted projects (key, encrypted publishing, decryption by a passphrase holder) and QR onboarding."""

from __future__ import annotations

from sqlalchemy import select

from app.db import get_database
from app.models import AuditEvent
from sync.qr import decode_settings
from tests.app.conftest import World
from tests.app.openrosa_helpers import (
    OR_HEADERS,
    SIMPLE_FORM,
    device_token,
    post_submission,
    publish_xml,
    root,
)
from tests.data import data_bytes, data_file

PASSPHRASE = "correct horse battery staple"


def test_collect_encrypted_submission_decrypts_byte_for_byte(world: World) -> None:
    manager = world.headers("manager")
    pem = data_file("encrypted/test-private-key.pem").read_text()
    res = world.client.post(
        f"/v1/projects/{world.project_id}/key",
        json={"passphrase": PASSPHRASE, "privateKeyPem": pem, "hint": "the usual"},
        headers=manager,
    )
    assert res.status_code == 200, res.json
    publish_xml(world, data_bytes("forms/encrypted.xml"))
    device = root(world, device_token(world)["token"])
    envelope = data_bytes("encrypted/submission.xml")
    enc = data_bytes("encrypted/submission.xml.enc")
    assert post_submission(world, device, envelope, {"submission.xml.enc": enc}).status_code == 201
    instance_id = world.client.get(
        f"/v1/projects/{world.project_id}/forms/encrypted/submissions", headers=manager
    ).json[0]["instanceId"]
    url = f"/v1/projects/{world.project_id}/forms/encrypted/submissions/{instance_id}/decrypt"
    assert (
        world.client.post(url, json={"passphrase": "wrong passphrase!"}, headers=manager).status_code == 403
    )
    # The refusal is audited although the request was rolled back.
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        denied = s.scalars(select(AuditEvent).where(AuditEvent.action == "submission.decrypt.denied")).all()
        assert [(e.subject_id, e.actor_user_id is not None) for e in denied] == [(instance_id, True)]
    assert (
        world.client.post(url, json={"passphrase": PASSPHRASE}, headers=world.headers("analyst")).status_code
        == 403
    )
    res = world.client.post(url, json={"passphrase": PASSPHRASE}, headers=manager)
    assert res.status_code == 200, res.json
    expected = data_bytes("encrypted/expected-plaintext.xml")
    assert res.json["submission"].encode() == expected
    assert res.json["missingMedia"]  # the envelope names a photo that was not sent


def test_forms_published_in_an_encrypted_project_carry_its_public_key(world: World) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/key",
        json={"passphrase": PASSPHRASE},
        headers=world.headers("manager"),
    )
    public = res.json["public"]
    form = publish_xml(world, SIMPLE_FORM)
    assert form["encrypted"] is True
    device = root(world, device_token(world)["token"])
    xml = world.client.get(f"{device}/formList/photo.xml", headers=OR_HEADERS).data
    assert f'base64RsaPublicKey="{public}"'.encode() in xml
    again = world.client.post(
        f"/v1/projects/{world.project_id}/key",
        json={"passphrase": PASSPHRASE},
        headers=world.headers("manager"),
    )
    assert again.status_code == 409
    assert (
        world.client.post(
            f"/v1/projects/{world.project_id}/key",
            json={"passphrase": PASSPHRASE},
            headers=world.headers("supervisor"),
        ).status_code
        == 403
    )


def test_app_user_creation_returns_collect_settings_for_the_qr(world: World) -> None:
    created = device_token(world)
    settings = decode_settings(created["qr"]["payload"])
    assert set(settings) >= {"general", "admin"}
    assert settings["general"]["server_url"].endswith(
        f"/v1/key/{created['token']}/projects/{world.project_id}"
    )
    assert settings["general"]["form_update_mode"] == "match_exactly"


def test_reissued_qr_works_and_the_old_token_stops(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    created = device_token(world)
    base = f"/v1/projects/{world.project_id}/app-users/{created['id']}"
    png = world.client.post(f"{base}/qr.png", headers=world.headers("supervisor"))
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert world.client.get(f"{root(world, created['token'])}/formList").status_code == 401
    svg = world.client.post(f"{base}/qr.svg", headers=world.headers("supervisor"))
    assert svg.status_code == 200 and b"<svg" in svg.data
    info = world.client.post(f"{base}/qr", headers=world.headers("supervisor")).json
    assert world.client.get(f"{root(world, info['token'])}/formList").status_code == 200
    assert world.client.post(f"{base}/qr.gif", headers=world.headers("supervisor")).status_code == 400
    assert world.client.post(f"{base}/qr", headers=world.headers("analyst")).status_code == 403
    assert post_submission(world, root(world, created["token"]), b"<data id='photo'/>").status_code == 401
