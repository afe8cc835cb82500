"""OpenRosa views: formList, form XML, manifest, media, and the submission endpoint (HEAD/GET/POST)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request
from sqlalchemy import select

from app.auth import probe_cache
from app.auth.actor import Actor
from app.blobs import get_blob_store
from app.db import get_session
from app.errors import (
    BadRequestError,
    MissingSubmissionPartError,
    NotFoundError,
    PayloadTooLargeError,
    RutaError,
)
from app.models import Blob, Dataset, Form, FormAttachment, Project
from app.services import entities as entity_lists
from app.services import projects
from app.services.accounts import app_users
from app.services.blobs import check_file_name
from app.services.entities import serve as entity_serve
from app.services.publishing import device_forms
from app.services.submissions import intake as submission_service
from app.web.blob_download import blob_response
from app.web.downloads import content_disposition
from app.web.openrosa import bp, multipart
from app.web.openrosa.auth import account_actor, device_actor, found_device_actor, token_actor
from app.web.openrosa.responses import message_response, with_openrosa_headers, xml_response
from sync import openrosa
from sync.submission import ParsedSubmission

TOKEN_ROOT = "/v1/key/<token>/projects/<int:project_id>"
ACCOUNT_ROOT = "/v1/projects/<int:project_id>"
XML_PART = "xml_submission_file"
# Collect asks about the entities it holds; a list of this many ids is far past any real device.
MAX_INTEGRITY_IDS = 100_000


def device_route(
    suffix: str, methods: list[str]
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a view under both device roots (the token one gets a ``_token`` endpoint name)."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        bp.add_url_rule(TOKEN_ROOT + suffix, f"{view.__name__}_token", view, methods=methods)
        bp.add_url_rule(ACCOUNT_ROOT + suffix, view.__name__, view, methods=methods)
        return view

    return decorate


def _actor(token: str | None, project_id: int) -> Actor:
    return token_actor(token, project_id) if token is not None else account_actor()


def _project(actor: Actor, project_id: int, action: str) -> Project:
    return projects.project_for(get_session(), actor=actor, project_id=project_id, action=action)


def _root_url(token: str | None, project_id: int) -> str:
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    return f"{base}/v1/key/{token}/projects/{project_id}" if token else f"{base}/v1/projects/{project_id}"


def _device_form(actor: Actor, project: Project, xml_form_id: str) -> Form:
    session = get_session()
    form = session.scalar(select(Form).where(Form.project_id == project.id, Form.xml_form_id == xml_form_id))
    if form is None or form.current_version is None:
        raise NotFoundError(f"No form {xml_form_id!r} here.")
    if actor.app_user is not None and not app_users.may_use_form(session, actor.app_user, form):
        raise NotFoundError(f"No form {xml_form_id!r} here.")
    return form


@device_route("/formList", ["GET", "HEAD"])
def form_list(project_id: int, token: str | None = None) -> Response:
    session = get_session()
    xml_form_id = request.args.get("formID") or None
    if token is not None:  # the device, its project and its forms in one statement
        found = device_forms.forms_for_token(
            session, token=token, project_id=project_id, xml_form_id=xml_form_id
        )
        actor = found_device_actor(found[:2] if found is not None else None)
    else:
        actor = account_actor()
    project = _project(actor, project_id, "form.list")
    if token is not None:
        assert found is not None  # found_device_actor refused a token nobody holds
        listed = found[2]
    else:
        listed = device_forms.fillable_forms(
            session, project_id=project.id, app_user=actor.app_user, xml_form_id=xml_form_id
        )
    root = _root_url(token, project_id)
    entries = [
        openrosa.FormListEntry(
            form_id=form.xml_form_id,
            name=form.name,
            version=form.version or None,
            md5_hex=form.md5,
            download_url=f"{root}/formList/{form.xml_form_id}.xml",
            manifest_url=f"{root}/formList/{form.xml_form_id}/manifest" if form.has_media else None,
        )
        for form in listed
    ]
    return xml_response(openrosa.form_list(entries))


@device_route("/formList/<xml_form_id>.xml", ["GET"])
def form_download(project_id: int, xml_form_id: str, token: str | None = None) -> Response:
    actor = _actor(token, project_id)
    project = _project(actor, project_id, "form.read")
    version = _device_form(actor, project, xml_form_id).current_version
    assert version is not None
    response = xml_response(version.xml)
    response.set_etag(version.md5)
    response.make_conditional(request)
    return response


@device_route("/formList/<xml_form_id>/manifest", ["GET"])
def manifest(project_id: int, xml_form_id: str, token: str | None = None) -> Response:
    actor = _actor(token, project_id)
    project = _project(actor, project_id, "form.read")
    version = _device_form(actor, project, xml_form_id).current_version
    assert version is not None
    root = _root_url(token, project_id)
    files = [
        openrosa.ManifestFile(
            filename=f.name,
            md5_hex=f.md5,
            download_url=f"{root}/formList/{xml_form_id}/media/{f.name}",
            media_type="entityList" if f.dataset is not None else None,
            integrity_url=f"{root}/datasets/{quote(f.dataset, safe='')}/integrity" if f.dataset else None,
        )
        for f in device_forms.media_files(get_session(), version_id=version.id, project_id=project.id)
    ]
    return xml_response(openrosa.manifest(files))


@device_route("/formList/<xml_form_id>/media/<name>", ["GET"])
def media(project_id: int, xml_form_id: str, name: str, token: str | None = None) -> Response:
    actor = _actor(token, project_id)
    project = _project(actor, project_id, "form.read")
    version = _device_form(actor, project, xml_form_id).current_version
    assert version is not None
    session = get_session()
    attachment = session.scalar(
        select(FormAttachment).where(
            FormAttachment.form_version_id == version.id, FormAttachment.name == name
        )
    )
    if attachment is not None:
        listed = entity_serve.datasets_for_attachments(session, project_id=project.id, names=[name])
        if name in listed:
            return _entity_list_response(actor, listed[name], name)
    if attachment is None or attachment.blob_sha256 is None:
        raise NotFoundError(f"The form has no file named {name!r}.")
    blob = session.get(Blob, attachment.blob_sha256)
    assert blob is not None
    # A strong ETag (the md5 the manifest announces): devices on metered data skip unchanged files.
    response = blob_response(
        blob.sha256,
        mimetype=blob.content_type or "application/octet-stream",
        disposition=content_disposition(name),
        size=blob.size,
        etag=blob.md5,
    )
    return with_openrosa_headers(response)


@device_route("/submission", ["HEAD", "GET"])
def submission_probe(project_id: int, token: str | None = None) -> Response:
    """Collect reads headers only from a 204; it sends HEAD before POSTing. A device token that passed
    this check a moment ago is answered from memory (``probe_cache``); the POST checks it again."""
    if token is None or not probe_cache.recently_allowed(token, project_id):
        actor = _actor(token, project_id)
        _project(actor, project_id, "submission.create")
        if token is not None:
            probe_cache.remember_allowed(token, project_id)
    response = with_openrosa_headers(Response(status=204))
    response.headers[openrosa.ACCEPT_CONTENT_LENGTH_HEADER] = str(current_app.config["MAX_SUBMISSION_BYTES"])
    return response


def _read_parts() -> tuple[bytes, list[submission_service.IncomingFile]]:
    parts = (
        multipart.parse(request.get_data(), request.content_type or "") if request.content_length else None
    )
    if parts is None:
        return _read_parts_werkzeug()
    # The same choices as the general parser below: the first xml_submission_file file part, else the
    # first such field; every other file part is a file, named by its filename or else its part name.
    xml_file = next((p for p in parts if p.name == XML_PART and p.filename is not None), None)
    xml_field = next((p for p in parts if p.name == XML_PART and p.filename is None), None)
    if xml_file is not None:
        xml = xml_file.data
    elif xml_field is not None:
        xml = xml_field.data.decode("utf-8", "replace").encode()
    else:
        raise MissingSubmissionPartError()
    files = []
    for part in parts:
        if part.filename is None or part.name == XML_PART:
            continue
        name = part.filename or part.name
        check_file_name(name)
        files.append(submission_service.IncomingFile(name, part.data, part.content_type))
    return xml, files


def _read_parts_werkzeug() -> tuple[bytes, list[submission_service.IncomingFile]]:
    xml_part = request.files.get(XML_PART)
    if xml_part is not None:
        xml = xml_part.read()
    elif XML_PART in request.form:
        xml = request.form[XML_PART].encode()
    else:
        raise MissingSubmissionPartError()
    files = []
    for part_name, storage in request.files.items(multi=True):
        if part_name == XML_PART:
            continue
        name = storage.filename or part_name
        check_file_name(name)
        files.append(submission_service.IncomingFile(name, storage.read(), storage.mimetype or None))
    return xml, files


def _read_submission() -> tuple[bytes, list[submission_service.IncomingFile], ParsedSubmission]:
    """The body of a submission POST: its size and type checked before a byte is read, then the XML
    part (parsed) and the files."""
    limit = current_app.config["MAX_SUBMISSION_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        # Refused before reading a byte: the device splits its files under the advertised length.
        raise PayloadTooLargeError(
            f"The submission is {request.content_length} bytes; this server accepts at most {limit} bytes "
            "per request."
        )
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise MissingSubmissionPartError(
            "The submission must be sent as multipart/form-data with an xml_submission_file part."
        )
    xml, files = _read_parts()
    return xml, files, submission_service.parse(xml)


def _device_post(
    token: str, project_id: int
) -> tuple[
    Actor,
    Project,
    bytes,
    list[submission_service.IncomingFile],
    ParsedSubmission,
    submission_service.Destination | None,
]:
    """A device token's POST with a single query before the write (``find_device_destination``). The
    body is read first because the query needs its form and instanceID; when the body is refused, the
    token and project are checked before saying why, so a stranger still gets the 401 (or 404) first."""
    try:
        xml, files, parsed = _read_submission()
    except RutaError:
        _project(_actor(token, project_id), project_id, "submission.create")
        raise
    found = submission_service.find_device_destination(
        get_session(), token=token, project_id=project_id, parsed=parsed
    )
    actor = device_actor(found.app_user)
    if found.project is None:
        raise NotFoundError()
    actor.require(get_session(), "submission.create", found.project)
    return actor, found.project, xml, files, parsed, found.destination


# A body up to this size is read and parsed before the token is checked (one query instead of two): an
# instance and a photo or two. Anything bigger, or of unknown length, is read only after the check, so
# a request without a valid token never makes the server parse much.
BODY_FIRST_MAX_BYTES = 512 * 1024


@device_route("/submission", ["POST"])
def submission_post(project_id: int, token: str | None = None) -> Response:
    destination: submission_service.Destination | None = None
    length = request.content_length
    if token is not None and length is not None and length <= BODY_FIRST_MAX_BYTES:
        actor, project, xml, files, parsed, destination = _device_post(token, project_id)
    else:
        actor = _actor(token, project_id)
        project = _project(actor, project_id, "submission.create")
        xml, files, parsed = _read_submission()
    origin = submission_service.origin(request.args.get("deviceID"), request.headers.get("User-Agent"))
    store = get_blob_store()
    session = get_session()
    kwargs: dict[str, Any] = {
        "actor": actor,
        "project": project,
        "xml": xml,
        "files": files,
        "store": store,
        "origin": origin,
        "parsed": parsed,
    }
    # A resend racing the original (possibly on another app server) fails here on the unique
    # instanceID; the unit of work (app/web/unit_of_work.py) then runs this view again, which reads the
    # winner's version and takes the idempotent path. The 201 below goes out after the commit.
    result = submission_service.ingest(session, destination=destination, **kwargs)
    if result.purged:
        # 202 as for a record already received: Collect marks it sent and stops resending it.
        return message_response(
            "Eliminado en el servidor; no se guarda. / Deleted on the server; not stored.", 202
        )
    if result.status == 202:
        return message_response("Ya estaba recibido. / Already received; nothing new.", 202)
    missing = (
        f" Faltan {len(result.missing_files)} archivo(s) / files still expected."
        if result.missing_files
        else ""
    )
    return message_response(f"Recibido, gracias. / Received, thank you.{missing}", 201)


def _entity_list_response(actor: Actor, dataset: Dataset, name: str) -> Response:
    """The list as CSV; the ETag is the manifest's hash, so an unchanged list costs a 304 and no query
    of its entities."""
    etag = entity_lists.list_hash(dataset)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return with_openrosa_headers(response)
    body = entity_serve.device_csv(get_session(), actor=actor, dataset=dataset)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = content_disposition(name)
    response.set_etag(etag)
    return with_openrosa_headers(response)


@device_route("/datasets/<dataset_name>/integrity", ["GET"])
def entity_integrity(project_id: int, dataset_name: str, token: str | None = None) -> Response:
    """Which of the entities a device holds are deleted (``?id=a,b`` or repeated ``id``)."""
    actor = _actor(token, project_id)
    project = _project(actor, project_id, "form.read")
    session = get_session()
    dataset = entity_lists.find_dataset(session, project_id=project.id, name=dataset_name)
    ids = [part.strip() for raw in request.args.getlist("id") for part in raw.split(",") if part.strip()]
    if len(ids) > MAX_INTEGRITY_IDS:
        raise BadRequestError(
            f"Ask about at most {MAX_INTEGRITY_IDS} entities at a time; this request names {len(ids)}."
        )
    states = entity_serve.integrity(session, actor=actor, dataset=dataset, ids=ids)
    return xml_response(openrosa.entity_integrity(states))
