"""Project encryption: create or import the key, and decrypt a submission with the passphrase."""

from __future__ import annotations

import base64

from flask import Response, jsonify

from app.blobs import get_blob_store
from app.db import get_session
from app.models import SubmissionVersion
from app.services.protection import keys
from app.services.publishing import versions as form_service
from app.web.api import bodies, bp
from app.web.api.projects import project_for
from app.web.api.submissions import _submission
from app.web.auth import logged_in_actor
from app.web.query import accepts, load_body


@bp.post("/projects/<int:project_id>/key")
@accepts(bodies.NewProjectKey)
def create_key(project_id: int) -> Response:
    """Make the project encrypted: forms published from now on carry its public key."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "project.keys")
    data = load_body()
    pem = data.get("privateKeyPem")
    row = keys.create_project_key(
        get_session(),
        actor=actor,
        project=p,
        passphrase=data["passphrase"],
        hint=str(data.get("hint") or ""),
        private_key_pem=pem.encode() if pem else None,
    )
    return jsonify({"id": row.id, "public": row.public_key, "hint": row.hint})


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/decrypt")
@accepts(bodies.Decryption)
def decrypt_submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Decrypt with the project passphrase, or with a private key the caller supplies (``privateKey``,
    PEM, and its ``passphrase``; kept in memory for this request only): the plaintext XML, any media
    (base64) and whether the element signature matched."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "submission.decrypt")
    session = get_session()
    form = form_service.get_form(session, project=p, xml_form_id=xml_form_id)
    sub = _submission(actor, p, form, instance_id)
    version = session.get(SubmissionVersion, sub.current_version_id)
    assert version is not None
    body = load_body()
    pem = body.get("privateKey")
    passphrase = body.get("passphrase")
    result = keys.decrypt_version(
        session,
        actor=actor,
        project=p,
        form=form,
        version=version,
        passphrase=passphrase or None,
        store=get_blob_store(),
        private_key_pem=pem.encode() if pem else None,
    )
    return jsonify(
        {
            "instanceId": version.instance_id,
            "submission": result.files.get("submission.xml", b"").decode("utf-8"),
            "media": {
                n: base64.b64encode(b).decode() for n, b in result.files.items() if n != "submission.xml"
            },
            "missingMedia": result.missing,
            "signature": result.signature,
        }
    )
