"""Two-factor login beyond the admin's form (issue 17): ``POST /v1/sessions`` asks for the code, HTTP
Basic and Digest are refused to a person who has it on, and the TOTP secret is stored encrypted."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from app.auth.actor import Actor
from app.auth.secret_box import PREFIX, SecretBox, SecretBoxError, box_for
from app.db import get_database, utcnow
from app.models import User
from app.services.accounts import two_factor
from tests.app.conftest import World

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _turn_on(world: World, who: str = "manager") -> pyotp.TOTP:
    """Two-factor login on for ``who`` through the service the admin page calls; the code of the
    enrolment step is then spent, so tests log in with the next step's code."""
    totp = pyotp.TOTP(SECRET)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        user = s.get(User, world.user_ids[who])
        assert user is not None
        codes = two_factor.enable(
            s,
            actor=Actor(user=user),
            user=user,
            secret=SECRET,
            code=totp.now(),
            box=box_for(world.app.config),
        )
        assert codes is not None
        s.commit()
    return totp


def _next_code(totp: pyotp.TOTP) -> str:
    return totp.at(utcnow() + timedelta(seconds=30))


def _session(world: World, who: str, **extra: str) -> tuple[int, dict[str, str]]:
    res = world.client.post(
        "/v1/sessions", json={"email": world.emails[who], "password": world.passwords[who], **extra}
    )
    return res.status_code, res.get_json()


def test_api_session_asks_a_person_with_two_factor_for_the_code(world: World) -> None:
    totp = _turn_on(world)
    status, body = _session(world, "manager")
    assert status == 401 and body["code"] == "401.17" and "'code'" in body["message"]
    status, body = _session(world, "manager", code="000000")
    assert status == 401 and body["code"] == "401.2" and "two-factor code" in body["message"]
    # A wrong password answers as always, whatever the code: the second step comes after it.
    res = world.client.post(
        "/v1/sessions", json={"email": world.emails["manager"], "password": "wrong", "code": _next_code(totp)}
    )
    assert (
        res.status_code == 401
        and res.get_json()["message"] == "The email address or password is not correct."
    )
    code = _next_code(totp)
    status, body = _session(world, "manager", code=code)
    assert status == 200 and body["token"]
    me = world.client.get("/v1/users/current", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == world.emails["manager"]
    status, body = _session(world, "manager", code=code)  # the same code again: spent
    assert status == 401
    # Someone without two-factor login still logs in with the password alone.
    assert _session(world, "supervisor")[0] == 200


def test_basic_auth_is_refused_to_a_person_with_two_factor(world: World) -> None:
    assert world.client.get("/v1/projects", headers=world.basic("manager")).status_code == 200
    _turn_on(world)
    res = world.client.get("/v1/projects", headers=world.basic("manager"))
    body = res.get_json()
    assert res.status_code == 401 and body["code"] == "401.18"
    assert "POST /v1/sessions" in body["message"] and "app user" in body["message"]
    wrong = "Basic " + base64.b64encode(f"{world.emails['manager']}:nope".encode()).decode()
    res = world.client.get("/v1/projects", headers={"Authorization": wrong})
    assert res.status_code == 401 and res.get_json()["code"] == "401.2"
    # Device endpoints too: Basic, and Digest (whose right answer proves the password).
    base = f"/v1/projects/{world.project_id}"
    openrosa = {"X-OpenRosa-Version": "1.0"}
    res = world.client.get(f"{base}/formList", headers={**openrosa, **world.basic("manager")})
    assert res.status_code == 401 and b"two-factor login on" in res.data
    challenge = world.client.get(f"{base}/formList", headers=openrosa)
    digest = next(c for c in challenge.headers.getlist("WWW-Authenticate") if c.startswith("Digest"))
    nonce = re.search(r'nonce="([^"]+)"', digest).group(1)  # type: ignore[union-attr]
    realm = re.search(r'realm="([^"]+)"', digest).group(1)  # type: ignore[union-attr]
    email, uri = world.emails["manager"], f"{base}/formList"

    def digest_header(password: str) -> str:
        ha1 = hashlib.md5(f"{email}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"GET:{uri}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}".encode()).hexdigest()
        return (
            f'Digest username="{email}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", opaque="ruta", qop=auth, nc=00000001, cnonce="abc"'
        )

    res = world.client.get(
        uri, headers={**openrosa, "Authorization": digest_header(world.passwords["manager"])}
    )
    assert res.status_code == 401 and b"two-factor login on" in res.data
    res = world.client.get(uri, headers={**openrosa, "Authorization": digest_header("wrong")})
    assert res.status_code == 401 and b"two-factor" not in res.data
    # The enumerator, without two-factor login, still syncs by Digest.
    email = world.emails["enumerator"]
    res = world.client.get(
        uri, headers={**openrosa, "Authorization": digest_header(world.passwords["enumerator"])}
    )
    assert res.status_code == 200


def test_the_totp_secret_is_stored_encrypted(world: World) -> None:
    totp = _turn_on(world)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        stored = s.scalar(select(User.totp_secret).where(User.id == world.user_ids["manager"]))
    assert stored is not None and stored.startswith(PREFIX) and SECRET not in stored
    assert box_for(world.app.config).open(stored) == SECRET
    # Another installation's key opens nothing.
    with pytest.raises(SecretBoxError):
        SecretBox(["another-secret-key"]).open(stored)
    # And the login still works through the sealed secret.
    assert _session(world, "manager", code=_next_code(totp))[0] == 200


def test_key_rotation_reencrypts_with_the_first_key() -> None:
    old = SecretBox(["old-key"])
    sealed = old.seal(SECRET)
    rotated = SecretBox(["new-key", "old-key"])
    assert rotated.open(sealed) == SECRET  # the old key still opens, listed second
    again = rotated.rekey(sealed)
    assert SecretBox(["new-key"]).open(again) == SECRET
    with pytest.raises(SecretBoxError):
        old.open(again)
    with pytest.raises(SecretBoxError):
        old.open(SECRET)  # a plaintext is not taken for a sealed value


def test_rekey_command_service_rewrites_every_secret(world: World) -> None:
    _turn_on(world)
    config = {**world.app.config, "TOTP_KEYS": "a-new-dedicated-key"}
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        assert two_factor.rekey(s, box=box_for(config)) == 1
        s.commit()
        stored = s.scalar(select(User.totp_secret).where(User.id == world.user_ids["manager"]))
    assert stored is not None
    assert SecretBox(["a-new-dedicated-key"]).open(stored) == SECRET
    with pytest.raises(SecretBoxError):
        SecretBox([str(world.app.config["SECRET_KEY"])]).open(stored)
