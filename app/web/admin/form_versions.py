"""A form's versions in the admin: downloads of each version's XForm and XLSForm, the readable diff
between two versions, and archiving. The rules live in ``app.services.publishing.versions`` and
``forms.diff``."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

import forms.diff
from app.db import get_session
from app.errors import InvalidValueError
from app.services.publishing import versions as form_service
from app.services.submissions import reading as submission_view
from app.web import query
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu
from app.web.blob_download import blob_response
from app.web.downloads import content_disposition
from forms.schema import FormSchema


class DiffArgs(query.QuerySchema):
    old = query.Count(minimum=1, data_key="from")
    new = query.Count(minimum=1, data_key="to")
    lang = query.Text(max_length=64)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions/<int:version_id>.xml")
def version_xform(project_id: int, xml_form_id: str, version_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.read")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    v = form_service.version_by_id(db, form=f, version_id=version_id)
    name = f"{f.xml_form_id}-{v.version or v.id}.xml"
    return Response(
        v.xml, mimetype="application/xml", headers={"Content-Disposition": content_disposition(name)}
    )


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions/<int:version_id>.xlsx")
def version_xlsform(project_id: int, xml_form_id: str, version_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.read")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    v = form_service.version_by_id(db, form=f, version_id=version_id)
    if v.xlsform_sha256 is None:
        raise InvalidValueError(gettext("This version was uploaded as an XForm; download its XForm instead."))
    name = v.xlsform_name or f"{f.xml_form_id}-{v.version or v.id}.xlsx"
    return blob_response(
        v.xlsform_sha256, mimetype="application/octet-stream", disposition=content_disposition(name)
    )


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/diff")
def form_diff(project_id: int, xml_form_id: str) -> str:
    """Two versions side by side: by default the draft (or the published version) against the one
    published before it."""
    actor = current_actor()
    p = project_for(actor, project_id, "form.read")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    args = query.parse(DiffArgs())
    versions = form_service.list_versions(db, form=f)
    choices = ([f.draft_version] if f.draft_version else []) + versions
    if len(choices) < 2 and not ("old" in args and "new" in args):
        raise InvalidValueError(gettext("This form has only one version: there is nothing to compare yet."))
    new = form_service.version_by_id(db, form=f, version_id=args["new"]) if "new" in args else choices[0]
    if "old" in args:
        old = form_service.version_by_id(db, form=f, version_id=args["old"])
    else:
        older = [v for v in choices if v.id != new.id and v.published_at is not None]
        cut = new.published_at
        later = [v for v in older if cut is None or (v.published_at is not None and v.published_at <= cut)]
        old = (later or older or [new])[0]
    old_schema, new_schema = FormSchema.from_dict(old.schema), FormSchema.from_dict(new.schema)
    language = submission_view.pick_language(
        new_schema.languages, new_schema.default_language, args.get("lang"), str(get_locale() or "es")
    )
    return render_template(
        "admin/form_diff.html",
        project=p,
        form=f,
        old=old,
        new=new,
        choices=choices,
        diff=forms.diff.compare(old_schema, new_schema, language=language),
        language=language,
        label_of=lambda labels: submission_view.label_in(labels, language, ""),
        project_menu=project_menu(p, "admin.project"),
    )


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/archive")
def archive_form(project_id: int, xml_form_id: str) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "form.manage")
    db = get_session()
    f = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    archived = request.form.get("archived") == "1"
    form_service.set_archived(db, actor=actor, form=f, archived=archived)
    if archived:
        flash(gettext("Form archived: devices no longer get it; its submissions are kept."), "ok")
    else:
        flash(gettext("Form brought back from the archive. It stays closed until you open it."), "ok")
    return redirect(url_for("admin.form", project_id=p.id, xml_form_id=f.xml_form_id), code=303)  # type: ignore[return-value]
