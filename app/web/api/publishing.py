"""Forms: upload (XLSForm or XForm), drafts, publishing, states, versions, media, introspection."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from app.blobs import get_blob_store
from app.db import get_session
from app.errors import InvalidValueError, NotFoundError
from app.models import Form, FormVersion, Project
from app.services.protection import classification, disclosure, retention
from app.services.publishing import versions as form_service
from app.web.api import bodies, bp
from app.web.api.helpers import flag, read_body
from app.web.api.projects import project_for
from app.web.api.serialise import attachment, form
from app.web.auth import logged_in_actor
from app.web.blob_download import blob_response
from app.web.downloads import content_disposition
from app.web.query import accepts, load_body
from forms.schema import FormSchema

XML_TYPES = ("application/xml", "text/xml")


def _form(project: Project, xml_form_id: str) -> Form:
    return form_service.get_form(get_session(), project=project, xml_form_id=xml_form_id)


def _filename() -> str | None:
    # Central clients send the file name in Content-Disposition or X-XlsForm-FileName; it is a hint
    # only: the type comes from the bytes.
    disposition = request.headers.get("Content-Disposition", "")
    if "filename=" in disposition:
        return disposition.split("filename=", 1)[1].strip().strip('"')
    return request.headers.get("X-XlsForm-FileName")


def _require_body() -> bytes:
    data = read_body("MAX_FORM_BYTES")
    if not data.strip():
        raise InvalidValueError("The upload is empty. Send the XLSForm or XForm file as the request body.")
    return data


@bp.get("/projects/<int:project_id>/forms")
def list_forms(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.list")
    return jsonify([form(f) for f in form_service.list_forms(get_session(), project=p)])


@bp.post("/projects/<int:project_id>/forms")
def create_form(project_id: int) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    data = _require_body()
    result = form_service.create_form(
        get_session(),
        actor=actor,
        project=p,
        data=data,
        store=get_blob_store(),
        filename=_filename(),
        fallback_form_id=request.headers.get("X-XlsForm-FormId-Fallback"),
        publish=flag("publish", False),
        ignore_warnings=flag("ignoreWarnings", False),
        run_validate=current_app.config["ODK_VALIDATE"],
        override_reason=request.args.get("overrideReason"),
    )
    return jsonify(form(result.form, result.version))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>")
def get_form(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    return jsonify(form(_form(p, xml_form_id)))


@bp.patch("/projects/<int:project_id>/forms/<xml_form_id>")
@accepts(bodies.FormChanges)
def update_form(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    f = _form(p, xml_form_id)
    data = load_body()
    session = get_session()
    if "state" in data:
        form_service.set_state(session, actor=actor, form=f, state=str(data["state"]))
    if "retentionDays" in data:
        retention.set_retention(session, actor=actor, form=f, days=data["retentionDays"])
    if "identifierField" in data:
        retention.set_identifier_field(session, actor=actor, form=f, name=data["identifierField"])
    if {"sensitivity", "fieldClasses", "indicatorClass"} & set(data):
        classification.update(session, actor=actor, form=f, data=data)
    if {"quasiIdentifiers", "riskK", "riskThreshold"} & set(data):
        version = f.current_version or f.draft_version
        schema = FormSchema.from_dict(version.schema) if version is not None else None
        disclosure.update(session, actor=actor, form=f, schema=schema, data=data)
    return jsonify(form(f))


def _served_xml(v: FormVersion) -> Response:
    return Response(v.xml, mimetype="application/xml", headers={"ETag": f'"{v.md5}"'})


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.xml")
def form_xml(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    v = f.current_version or f.draft_version
    if v is None:
        raise NotFoundError()
    return _served_xml(v)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.xlsx")
def form_xlsform(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    v = f.current_version or f.draft_version
    if v is None or v.xlsform_sha256 is None:
        raise NotFoundError("This form was not uploaded as an XLSForm.")
    name = v.xlsform_name or f"{f.xml_form_id}.xlsx"
    return blob_response(
        v.xlsform_sha256, mimetype="application/octet-stream", disposition=content_disposition(name)
    )


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions")
def list_versions(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    return jsonify(
        [form(f, v) | {"version": v.version} for v in form_service.list_versions(get_session(), form=f)]
    )


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions/<version>.xml")
def version_xml(project_id: int, xml_form_id: str, version: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    return _served_xml(form_service.get_version(get_session(), form=_form(p, xml_form_id), version=version))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions/<version>")
def version_info(project_id: int, xml_form_id: str, version: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    return jsonify(form(f, form_service.get_version(get_session(), form=f, version=version)))


def _schema_response(v: FormVersion) -> Response:
    return jsonify({"version": v.version, "hash": v.md5, **v.schema})


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/schema")
def form_schema(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    v = f.current_version or f.draft_version
    if v is None:
        raise NotFoundError()
    return _schema_response(v)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions/<version>/schema")
def version_schema(project_id: int, xml_form_id: str, version: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    return _schema_response(
        form_service.get_version(get_session(), form=_form(p, xml_form_id), version=version)
    )


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/fields")
def form_fields(project_id: int, xml_form_id: str) -> Response:
    """Central's ``/fields`` shape (path, name, type, binary, selectMultiple) for pyodk and ruODK."""
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    v = f.current_version or f.draft_version
    if v is None:
        raise NotFoundError()
    out = []
    for fld in v.schema["fields"]:
        root = "/" + v.schema["root"]
        path = fld["path"][len(root) :] if fld["path"].startswith(root) else fld["path"]
        out.append(
            {
                "path": path,
                "name": fld["name"],
                "type": {
                    "select1": "string",
                    "select": "string",
                    "repeat": "repeat",
                    "group": "structure",
                }.get(fld["type"], fld["type"]),
                "binary": fld["type"] == "binary" or None,
                "selectMultiple": fld["type"] == "select" or None,
                "hxl": fld.get("hxl"),
            }
        )
    return jsonify(out)


# Drafts ------------------------------------------------------------------------------------------


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def create_draft(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    f = _form(p, xml_form_id)
    data = read_body("MAX_FORM_BYTES")
    version = form_service.create_draft(
        get_session(),
        actor=actor,
        form=f,
        project=p,
        data=data if data.strip() else None,
        store=get_blob_store(),
        filename=_filename(),
        ignore_warnings=flag("ignoreWarnings", False),
        run_validate=current_app.config["ODK_VALIDATE"],
    )
    # "success" is what Central answers here, and what pyodk's forms.update checks.
    return jsonify({"success": True, **form(f, version)})


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def get_draft(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    if f.draft_version is None:
        raise NotFoundError("This form has no draft.")
    return jsonify(form(f, f.draft_version))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft.xml")
def draft_xml(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    if f.draft_version is None:
        raise NotFoundError("This form has no draft.")
    return _served_xml(f.draft_version)


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft/publish")
def publish_draft(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    f = _form(p, xml_form_id)
    version = request.args.get("version")
    form_service.publish_draft(
        get_session(),
        actor=actor,
        form=f,
        version=version,
        override_reason=request.args.get("overrideReason"),
    )
    return jsonify({"success": True, **form(f)})


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft/attachments")
def list_draft_attachments(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    if f.draft_version is None:
        raise NotFoundError("This form has no draft.")
    return jsonify([attachment(a) for a in f.draft_version.attachments])


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft/attachments/<name>")
def upload_draft_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.manage")
    f = _form(p, xml_form_id)
    data = read_body("MAX_FORM_BYTES")
    form_service.upload_draft_attachment(
        get_session(),
        actor=actor,
        form=f,
        name=name,
        data=data,
        content_type=request.content_type,
        store=get_blob_store(),
    )
    return jsonify({"success": True})


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/attachments")
def list_attachments(project_id: int, xml_form_id: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    if f.current_version is None:
        raise NotFoundError("This form has no published version.")
    return jsonify([attachment(a) for a in f.current_version.attachments])


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/attachments/<name>")
def get_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    actor = logged_in_actor()
    p = project_for(actor, project_id, "form.read")
    f = _form(p, xml_form_id)
    v = f.current_version
    att = next((a for a in (v.attachments if v else []) if a.name == name), None)
    if att is None or att.blob_sha256 is None:
        raise NotFoundError(f"The form has no file named {name!r}.")
    return blob_response(
        att.blob_sha256,
        mimetype="application/octet-stream",
        disposition=content_disposition(name),
        etag=att.blob_sha256,
    )
