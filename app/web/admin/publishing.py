"""Forms: upload an XLSForm or XForm as a draft, read pyxform's and ODK Validate's warnings, publish,
open/close, form media, versions. Every step goes through ``app.services.publishing.versions``."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from app.blobs import get_blob_store
from app.db import get_session
from app.errors import InvalidValueError, PayloadTooLargeError, PublishBlockedError
from app.models import Form
from app.services.protection import row_access
from app.services.publishing import gate as publish_gate
from app.services.publishing import versions as form_service
from app.services.quality import fields_for as quality_fields
from app.services.quality import settings as quality_settings
from app.services.submissions import counts as submission_counts
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu


def _upload() -> tuple[bytes, str]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidValueError(gettext("Choose a file to upload."))
    limit = int(current_app.config["MAX_FORM_BYTES"])
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError()
    return data, upload.filename


def _form_url(form: Form) -> str:
    return url_for("admin.form", project_id=form.project_id, xml_form_id=form.xml_form_id)


@bp.post("/projects/<int:project_id>/forms")
def upload_form(project_id: int) -> Response:
    """A new form, or a new draft of the form with the same id: either way a draft to check first."""
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    data, filename = _upload()
    run_validate = bool(current_app.config["ODK_VALIDATE"])
    key = form_service.project_key(db, p)
    prepared = form_service.prepare_upload(
        data,
        filename=filename,
        fallback_form_id=None,
        public_key=key.public_key if key else None,
        run_validate=run_validate,
    )
    existing = db.query(Form).filter_by(project_id=p.id, xml_form_id=prepared.schema.form_id).one_or_none()
    common = {
        "actor": actor,
        "data": data,
        "store": get_blob_store(),
        "filename": filename,
        "ignore_warnings": True,
        "run_validate": run_validate,
    }
    if existing is None:
        form = form_service.create_form(db, project=p, **common).form  # type: ignore[arg-type]
    else:
        form = existing
        form_service.create_draft(db, form=form, project=p, **common)  # type: ignore[arg-type]
    flash(gettext("Uploaded as a draft. Read the checks below, then publish."), "ok")
    return redirect(_form_url(form), code=303)  # type: ignore[return-value]


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>")
def form(project_id: int, xml_form_id: str) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "form.read")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    versions = form_service.list_versions(db, form=f)
    people = {v.published_by_id for v in versions} | {v.created_by_id for v in versions}
    if f.draft_version is not None:
        people.add(f.draft_version.created_by_id)
    return render_template(
        "admin/form.html",
        project=p,
        form=f,
        draft=f.draft_version,
        current=f.current_version,
        versions=versions,
        people=form_service.user_names(db, people),
        problems=(
            publish_gate.problems(f.draft_version, form_service.served_media(db, f, f.draft_version))
            if f.draft_version
            else []
        ),
        counts=submission_counts.counts_by_form(
            db, project_ids=[p.id], rows=row_access.visible_rows(db, actor, p)
        ).get(f.id),
        may_manage=actor.can(db, "form.manage", p.id),
        may_review=actor.can(db, "submission.list", p.id),
        may_read_mapping=actor.can(db, "mapping.read", p.id),
        may_export=actor.can(db, "submission.export", p.id),
        states=("open", "closing", "closed"),
        project_menu=project_menu(p, "admin.project"),
        quality=quality_settings.describe(p, f),
        quality_fields=sorted(quality_fields(f.current_version).paths) if f.current_version else [],
    )


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/publish")
def publish_form(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    version = (request.form.get("version") or "").strip() or None
    try:
        published = form_service.publish_draft(
            db, actor=actor, form=f, version=version, override_reason=request.form.get("override_reason")
        )
    except PublishBlockedError:
        # Nothing was written; the draft's section lists the problems and asks for a reason.
        flash(
            gettext(
                "Not published: this draft failed ODK Validate or lacks media files. Fix it, or give a "
                "reason to publish anyway."
            ),
            "error",
        )
        return redirect(_form_url(f) + "#draft", code=303)  # type: ignore[return-value]
    flash(gettext("Version %(v)s published: phones get it on their next update.", v=published.version), "ok")
    return redirect(_form_url(f), code=303)  # type: ignore[return-value]


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/state")
def form_state(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    form_service.set_state(db, actor=actor, form=f, state=request.form.get("state", ""))
    flash(gettext("Form state saved."), "ok")
    return redirect(_form_url(f), code=303)  # type: ignore[return-value]


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def start_draft(project_id: int, xml_form_id: str) -> Response:
    """A draft copied from the published version, so its media can be replaced."""
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    form_service.create_draft(
        db,
        actor=actor,
        form=f,
        project=p,
        data=None,
        store=get_blob_store(),
        ignore_warnings=True,
        run_validate=bool(current_app.config["ODK_VALIDATE"]),
    )
    return redirect(_form_url(f), code=303)  # type: ignore[return-value]


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/media/<name>")
def upload_media(project_id: int, xml_form_id: str, name: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    data, _filename = _upload()
    form_service.upload_draft_attachment(
        db, actor=actor, form=f, name=name, data=data, content_type=None, store=get_blob_store()
    )
    flash(gettext("File %(name)s attached to the draft.", name=name), "ok")
    return redirect(_form_url(f), code=303)  # type: ignore[return-value]
