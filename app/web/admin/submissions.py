"""The review table, one submission's page, and its files (served so they can never run script)."""

from __future__ import annotations

import itertools

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from app.auth.actor import Actor
from app.db import get_session
from app.errors import NotFoundError
from app.models import Form, FormVersion, Project, Submission
from app.services.audit import events as audit
from app.services.protection import row_access, sensitive
from app.services.publishing import versions as form_service
from app.services.review import decisions as review
from app.services.submissions import reading as submission_view
from app.services.submissions import table_columns
from app.services.submissions import table_query as submission_query
from app.web import query
from app.web.admin import bp
from app.web.admin.context import current_actor, project_for, project_menu
from app.web.admin.filters import filter_args, parse_filter, query_string
from app.web.blob_download import blob_response
from app.web.downloads import content_disposition
from forms.schema import FormSchema


# Media a browser may show inline (in <img>, <audio>, <video>), by file extension. Anything else is a
# download. SVG is allowed because <img> never runs its scripts, and a direct visit gets the sandbox CSP.
class PageArgs(query.QuerySchema):
    page = query.Count(minimum=1)
    per_page = query.Count(minimum=1, maximum=500)
    after = query.Count(minimum=1)  # the Next link's cursor: the id of the previous page's last row
    before = query.Count(minimum=1)  # the Previous link's: the id of the next page's first row


INLINE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".3gp": "video/3gpp",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}


def submission_for(actor: Actor, submission_id: int, action: str) -> tuple[Project, Form, Submission]:
    """The submission once ``actor`` may do ``action`` in its project; 404 when they have no role there."""
    db = get_session()
    sub = db.get(Submission, submission_id)
    if (
        sub is None or sub.deleted_at is not None
    ):  # a trashed one is gone for every read (the trash page lists it)
        actor.require_login()
        raise NotFoundError()
    form = db.get(Form, sub.form_id)
    assert form is not None
    project = project_for(actor, form.project_id, action)
    row_access.require_row(db, actor, project, sub.id)  # a foreign partner's row does not exist here
    return project, form, sub


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions")
def submissions(project_id: int, xml_form_id: str) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "submission.list")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    flt = parse_filter(request.args, form.id, row_access.visible_rows(db, actor, p))
    paging = query.parse(PageArgs())
    page = submission_query.list_page(
        db,
        flt,
        page=paging.get("page", 1),
        per_page=paging.get("per_page", 50),
        after=paging.get("after"),
        before=paging.get("before"),
    )
    args = filter_args(request.args)
    schema = FormSchema.from_dict(form.current_version.schema) if form.current_version else None
    cols: list[table_columns.Column] = []
    cells: dict[int, list[str | None]] = {}
    language = None
    if schema is not None:
        language = submission_view.pick_language(
            schema.languages, schema.default_language, None, str(get_locale() or "es")
        )
        see_sensitive = sensitive.may_see_sensitive(db, actor, p)
        hidden = frozenset() if see_sensitive else sensitive.sensitive_paths(schema, p)
        cols = table_columns.columns(schema, table_columns.saved(form), language=language, hidden=hidden)
        cells = table_columns.cells(db, schema, cols, page.ids, language=language)
    return render_template(
        "admin/submissions.html",
        project=p,
        form=form,
        page=page,
        answer_columns=cols,
        cells=cells,
        column_choices=[
            (f.path, submission_view.label_in(f.labels, language, f.name))
            for f in table_columns.available(schema)
        ]
        if schema is not None
        else [],
        chosen_paths=set(table_columns.saved(form)),
        may_map=schema is not None and any(f.type == "geopoint" for f in schema.fields),
        flt=flt,
        args=args,
        choices=submission_query.filter_choices(db, project_id=p.id, form_id=form.id),
        flag_codes=submission_query.FLAG_CODES,
        may_review=actor.can(db, "submission.review", p.id),
        may_delete=actor.can(db, "submission.delete", p.id),
        project_menu=project_menu(p, "admin.project"),
    )


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/submissions/columns")
def submission_columns(project_id: int, xml_form_id: str) -> Response:
    """Save the form's answer columns (for everyone who reviews it) and go back to the same table."""
    actor = current_actor()
    p = project_for(actor, project_id, "submission.review")
    db = get_session()
    form = form_service.get_form(db, project=p, xml_form_id=xml_form_id)
    if form.current_version is None:
        raise NotFoundError(gettext("This form has no published version yet."))
    schema = FormSchema.from_dict(form.current_version.schema)
    table_columns.save(db, actor=actor, form=form, schema=schema, paths=request.form.getlist("columns"))
    flash(gettext("Columns saved for everyone who reviews this form."), "ok")
    back = url_for("admin.submissions", project_id=p.id, xml_form_id=form.xml_form_id)
    args = filter_args(request.form)
    return redirect(back + (f"?{query_string(args)}" if args else ""), code=303)  # type: ignore[return-value]


@bp.get("/submissions/<int:submission_id>")
def submission(submission_id: int) -> str:
    actor = current_actor()
    p, form, sub = submission_for(actor, submission_id, "submission.read")
    db = get_session()
    versions = submission_view.versions_of(db, sub)
    current = next(
        (v for v in versions if v.id == sub.current_version_id), versions[-1] if versions else None
    )
    form_version = db.get(FormVersion, current.form_version_id) if current else None
    schema = FormSchema.from_dict(form_version.schema) if form_version else None
    see_sensitive = sensitive.may_see_sensitive(db, actor, p)
    hidden = frozenset() if see_sensitive or schema is None else sensitive.sensitive_paths(schema, p)
    language = None
    tree: list[submission_view.Node] = []
    if schema is not None and current is not None:
        language = submission_view.pick_language(
            schema.languages, schema.default_language, request.args.get("lang"), str(get_locale() or "es")
        )
        tree = submission_view.layout(schema, current.values or {}, language=language, hidden_paths=hidden)
    hidden_names = frozenset(path.rsplit("/", 1)[-1] for path in hidden)
    history = [
        (
            older,
            newer,
            submission_view.changes(older.values or {}, newer.values or {}, hidden_names=hidden_names),
        )
        for older, newer in itertools.pairwise(versions)
    ]
    attachments = {a.name: a for a in submission_view.attachments_of(db, sub.current_version_id)}
    queue_args = filter_args(request.args)
    prev_id = next_id = None
    if actor.can(db, "submission.list", p.id):
        prev_id, next_id = submission_query.neighbours(
            db, parse_filter(request.args, form.id, row_access.visible_rows(db, actor, p)), sub
        )
    may_audit = actor.can(db, "submission.audit", p.id)
    audit.record(
        db,
        actor=actor,
        action="submission.read",
        project_id=p.id,
        subject_type="submission",
        subject_id=sub.instance_id,
        details={"form": form.xml_form_id, "via": "admin", "sensitive": see_sensitive},
    )
    # Deliberate: who saw the record is kept even if the page then fails to render.
    get_session().commit()
    return render_template(
        "admin/submission.html",
        project=p,
        form=form,
        sub=sub,
        current=current,
        form_version=form_version,
        schema=schema,
        language=language,
        tree=tree,
        hidden_marker=submission_view.HIDDEN,
        versions=versions,
        history=history,
        attachments=attachments,
        comments=review.list_comments(db, submission=sub),
        trail=submission_view.audit_trail(
            db, project_id=p.id, instance_ids=[v.instance_id for v in versions] + [sub.instance_id]
        )
        if may_audit
        else None,
        submitter=submission_query.submitter_names(db, [sub]).get(sub.id, ""),
        queue_args=queue_args,
        queue_qs=query_string(queue_args),
        prev_id=prev_id,
        next_id=next_id,
        may_review=actor.can(db, "submission.review", p.id),
        may_comment=actor.can(db, "submission.comment", p.id),
        may_delete=actor.can(db, "submission.delete", p.id),
        review_states=("approved", "hasIssues", "rejected"),
        project_menu=project_menu(p, "admin.project"),
    )


@bp.get("/submissions/<int:submission_id>/files/<name>")
def submission_file(submission_id: int, name: str) -> Response:
    """A file of the current version. Sent with a sandboxing CSP and nosniff whatever it is, inline only
    for image/audio/video types chosen by Ruta from the file name (never the device's content type)."""
    actor = current_actor()
    _p, _form, sub = submission_for(actor, submission_id, "submission.read")
    att = next(
        (a for a in submission_view.attachments_of(get_session(), sub.current_version_id) if a.name == name),
        None,
    )
    if att is None or att.blob_sha256 is None:
        raise NotFoundError()
    audit.record(
        get_session(),
        actor=actor,
        action="submission.attachment.read",
        project_id=_p.id,
        subject_type="submission",
        subject_id=sub.instance_id,
        details={"form": _form.xml_form_id, "name": name, "via": "admin"},
    )
    ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    inline = INLINE_TYPES.get(ext) if request.args.get("download") is None else None
    mimetype = inline or "application/octet-stream"
    return blob_response(
        att.blob_sha256,
        mimetype=mimetype,
        disposition=content_disposition(name, inline=bool(inline)),
        headers={
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
        # Shown in the page (img/audio/video), whose CSP allows only 'self', and sandboxed by the
        # headers above, which a bucket cannot add: streamed. A download may go to the bucket.
        stream=inline is not None,
    )
