"""Every corpus submission that belongs to a corpus form is accepted once that form is published;
the not-well-formed ones get a 400 with the parser's reason, and nothing is half-stored."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import get_database
from app.models import SubmissionVersion
from forms.xform import parse_xform
from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token, post_submission, publish_xml, root
from tests.corpus_paths import CORPUS, corpus_available

pytestmark = pytest.mark.conformance

# Not well-formed by history: orx:/entities: prefixes used without being declared (corpus README).
UNDECLARED_PREFIXES = {
    "doubleRepeat.double.xml",
    "offlineEntity.one.xml",
    "simpleEntity.one.xml",
    "updateEntity.one.xml",
}


def _forms_by_id() -> dict[str, Path]:
    out: dict[str, Path] = {}
    if not corpus_available():
        return out
    for path in [
        *sorted((CORPUS / "central-backend/forms").glob("*.xml")),
        CORPUS / "central-backend/soak-250q/250q-form.xml",
    ]:
        out[parse_xform(path.read_bytes()).form_id] = path
    return out


def _instances() -> list[Path]:
    if not corpus_available():
        return []
    return [
        *sorted((CORPUS / "central-backend/instances").glob("*.xml")),
        CORPUS / "central-backend/soak-250q/250q-submission.template.xml",
    ]


def _form_id_of(xml: bytes) -> str:
    return re.search(rb'<[^?!][^>]*?\sid="([^"]+)"', xml).group(1).decode()  # type: ignore[union-attr]


@pytest.mark.parametrize("path", _instances(), ids=lambda p: p.name)
def test_corpus_instance_is_accepted_after_publishing_its_form(world: World, path: Path) -> None:
    xml = path.read_bytes()
    if "{{" in xml.decode():
        xml = xml.decode().replace("{{uuid}}", str(uuid.uuid4()))
        xml = re.sub(r"\{\{randInt\}\}", "7", xml).encode()
    form_path = _forms_by_id()[_form_id_of(xml)]
    publish_xml(world, form_path.read_bytes())
    device = root(world, device_token(world)["token"])
    files = {}
    if path.name == "clientAudits.one.xml":
        files["audit.csv"] = (CORPUS / "central-backend/clientAudits/audit.csv").read_bytes()
    res = post_submission(world, device, xml, files)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        stored = s.scalar(select(func.count()).select_from(SubmissionVersion))
    if path.name in UNDECLARED_PREFIXES:
        assert res.status_code == 400, res.data
        assert b"prefix" in res.data or b"well-formed" in res.data
        assert stored == 0
    else:
        assert res.status_code == 201, res.data
        assert stored == 1
        # Resending the same bytes is idempotent.
        assert post_submission(world, device, xml, files).status_code == 202


def test_encrypted_corpus_envelope_is_stored_verbatim_with_its_file(world: World) -> None:
    publish_xml(world, (CORPUS / "central-backend/forms/encrypted.xml").read_bytes())
    device = root(world, device_token(world)["token"])
    envelope = (CORPUS / "central-backend/encrypted/submission.xml").read_bytes()
    enc = (CORPUS / "central-backend/encrypted/submission.xml.enc").read_bytes()
    res = post_submission(world, device, envelope, {"submission.xml.enc": enc})
    assert res.status_code == 201, res.data
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        version = s.scalar(select(SubmissionVersion))
        assert version is not None and version.xml == envelope and version.encrypted_key
        names = {a.name: a.blob_sha256 is not None for a in version.attachments}
    assert names["submission.xml.enc"] is True
    assert False in names.values()  # the envelope names a photo the corpus does not include
