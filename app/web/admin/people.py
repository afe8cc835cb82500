"""People and who may do what: the list of people, a person's page, and each project's role assignments.

Rules as in the JSON API (``app/web/api/projects.py`` and ``sessions.py``): only a system administrator
creates or edits people, issues password reset codes and turns off someone's two-factor login; a
project's managers give and revoke roles in it, to people of the project's own organisation. Managers
see the people of their own organisation (whom they may give roles), nobody else's.
"""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.auth import passwords
from app.auth.actor import Actor
from app.auth.policy import PERMISSIONS
from app.db import get_session
from app.errors import ConflictError, ForbiddenError, InvalidValueError, NotFoundError
from app.models import Organisation, Project, User
from app.models.user import ROLES
from app.services import mail as mail_service
from app.services import partners
from app.services.accounts import password_resets, two_factor
from app.services.accounts import people as accounts
from app.services.protection import row_access
from app.web.admin import bp
from app.web.admin.context import add_project_menu_item, current_actor, project_for, project_menu

add_project_menu_item("admin.project_people", "People", action="project.roles")

NAME_MAX = 255  # users.display_name
ROLE_LABELS = {
    "manager": _l("Manager"),
    "supervisor": _l("Supervisor"),
    "analyst": _l("Analyst (IM officer)"),
    "enumerator": _l("Enumerator"),
    "coordinator": _l("Coordinator"),
}


# The services' refusals a person can meet on these pages, in the admin's languages.
_REFUSALS = {
    "You cannot remove your own administrator right.": _l("You cannot remove your own administrator right."),
    "You cannot deactivate your own account.": _l("You cannot deactivate your own account."),
    "This person has roles in projects of another organisation: revoke them first.": _l(
        "This person has roles in projects of another organisation: revoke them first."
    ),
    "A user can only have roles in projects of their own organisation.": _l(
        "A person can only have roles in projects of their own organisation."
    ),
}


def refusal(error: InvalidValueError) -> str:
    return str(_REFUSALS.get(error.message, error.message))


@bp.before_request
def _refuse_nul_in_forms() -> None:
    """No admin form field may hold NUL: PostgreSQL cannot store it in text (the request would fail
    with a 500), so it is refused on both databases, with a 400 that says why."""
    if request.method == "POST" and any("\x00" in value for value in request.form.values()):
        raise InvalidValueError(gettext("A field contains a NUL character; remove it and send again."))


def managed_project_ids(actor: Actor) -> list[int] | None:
    """The projects whose roles ``actor`` may change (None: every project, the administrator)."""
    if actor.is_admin:
        return None
    allowed = PERMISSIONS["project.roles"]
    return sorted(pid for pid, role in actor.roles(get_session()).items() if role in allowed)


def may_see_people(actor: Actor) -> bool:
    return actor.is_admin or bool(managed_project_ids(actor))


def _back(url: str) -> Response:
    return redirect(url, code=303)  # type: ignore[return-value]


def _form_flag(name: str) -> bool:
    return request.form.get(name) in {"on", "1", "true", "yes"}


def _organisation_id(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or get_session().get(Organisation, int(raw)) is None:
        raise InvalidValueError(gettext("Choose an organisation from the list."))
    return int(raw)


def strong_enough(password: str, confirm: str) -> str | None:
    """The translated reason a new password is refused, if it is."""
    if password != confirm:
        return gettext("The two new passwords are not the same.")
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        return gettext("The password must have at least %(n)d characters.", n=passwords.MIN_PASSWORD_LENGTH)
    return None


@bp.get("/people")
def people() -> str:
    actor = current_actor()
    if not may_see_people(actor):
        raise ForbiddenError(gettext("Only administrators and project managers see this page."))
    db = get_session()
    assert actor.user is not None
    if actor.is_admin:
        rows = accounts.list_users(db, organisation_id=None)
    else:
        own = actor.user.organisation_id
        rows = accounts.list_users(db, organisation_id=own) if own is not None else [actor.user]
    orgs = {o.id: o for o in db.scalars(select(Organisation))}
    return render_template(
        "admin/people.html",
        people=rows,
        orgs=orgs,
        organisations=sorted(orgs.values(), key=lambda o: o.name),
        may_create=actor.is_admin,
    )


@bp.post("/people")
def create_person() -> Response | str:
    actor = current_actor()
    actor.require_admin()
    db = get_session()
    display_name = request.form.get("display_name", "").strip()
    if len(display_name) > NAME_MAX:
        flash(gettext("A name has at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.people"))
    password = request.form.get("password", "")
    if password:
        reason = strong_enough(password, request.form.get("password_confirm", ""))
        if reason:
            flash(reason, "error")
            return _back(url_for("admin.people"))
    try:
        user = accounts.create_user(
            db,
            actor=actor,
            email=request.form.get("email", ""),
            password=password or None,
            realm=current_app.config["DIGEST_REALM"],
            display_name=display_name,
            organisation_id=_organisation_id(request.form.get("organisation_id")),
            is_admin=_form_flag("is_admin"),
        )
    except ConflictError:
        flash(gettext("Someone with this email address already has an account."), "error")
        return _back(url_for("admin.people"))
    except InvalidValueError as error:
        email_error = error.details.get("field") == "email" if error.details else False
        flash(gettext("That is not an email address.") if email_error else refusal(error), "error")
        return _back(url_for("admin.people"))
    if password:
        flash(gettext("Account created for %(email)s.", email=user.email), "ok")
        return _back(url_for("admin.person", user_id=user.id))
    # No password given: the person sets their own with a one-time code.
    code = password_resets.issue(db, actor=actor, user=user)
    return _reset_page(user, code, created=True)


def _person_for(actor: Actor, user_id: int) -> User:
    """A person the administrator may edit (404 for anyone else: ids do not reveal who exists)."""
    actor.require_admin()
    user = accounts.get_user_or_none(get_session(), user_id)
    if user is None:
        raise NotFoundError()
    return user


@bp.get("/people/<int:user_id>")
def person(user_id: int) -> str:
    actor = current_actor()
    user = _person_for(actor, user_id)
    db = get_session()
    return render_template(
        "admin/person.html",
        person=user,
        roles=accounts.roles_of_user(db, user=user),
        role_labels=ROLE_LABELS,
        organisations=list(db.scalars(select(Organisation).order_by(Organisation.name))),
        two_factor=two_factor.is_enabled(user),
        is_self=actor.user_id == user.id,
    )


@bp.post("/people/<int:user_id>")
def update_person(user_id: int) -> Response:
    actor = current_actor()
    user = _person_for(actor, user_id)
    if len(request.form.get("display_name", "").strip()) > NAME_MAX:
        flash(gettext("A name has at most %(n)d characters.", n=NAME_MAX), "error")
        return _back(url_for("admin.person", user_id=user.id))
    try:
        changed = accounts.update_user(
            get_session(),
            actor=actor,
            user=user,
            display_name=request.form.get("display_name"),
            organisation_id=_organisation_id(request.form.get("organisation_id")),
            is_admin=_form_flag("is_admin"),
            is_active=_form_flag("is_active"),
        )
    except InvalidValueError as error:
        flash(refusal(error), "error")
        return _back(url_for("admin.person", user_id=user.id))
    flash(gettext("Saved.") if changed else gettext("Nothing changed."), "ok")
    return _back(url_for("admin.person", user_id=user.id))


def _reset_page(user: User, code: str, *, created: bool = False) -> str:
    base = (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")
    link = base + url_for("admin.reset_password", code=code)
    mailed = False
    settings = mail_service.SmtpSettings.from_config(current_app.config)
    if settings is not None:
        body = gettext(
            "Set your Ruta password with this link (it works once, for 24 hours):\n\n%(link)s\n\n"
            "Or open %(page)s and type the code %(code)s.",
            link=link,
            page=base + url_for("admin.reset_password"),
            code=code,
        )
        try:
            mail_service.send(settings, to=user.email, subject=gettext("Your Ruta password"), body=body)
            mailed = True
        except (OSError, mail_service.smtplib.SMTPException) as error:
            current_app.logger.warning("password reset mail to user %s failed: %s", user.id, error)
    return render_template(
        "admin/password_reset_code.html",
        person=user,
        code=code,
        link=link,
        mailed=mailed,
        mail_configured=settings is not None,
        created=created,
    )


@bp.post("/people/<int:user_id>/password-reset")
def issue_password_reset(user_id: int) -> str:
    actor = current_actor()
    user = _person_for(actor, user_id)
    code = password_resets.issue(get_session(), actor=actor, user=user)
    return _reset_page(user, code)


@bp.post("/people/<int:user_id>/two-factor/off")
def person_two_factor_off(user_id: int) -> Response:
    actor = current_actor()
    user = _person_for(actor, user_id)
    if two_factor.is_enabled(user):
        two_factor.disable(get_session(), actor=actor, user=user)
        flash(gettext("Two-factor login is off for %(email)s.", email=user.email), "ok")
    return _back(url_for("admin.person", user_id=user.id))


@bp.get("/projects/<int:project_id>/people")
def project_people(project_id: int) -> str:
    actor = current_actor()
    p = project_for(actor, project_id, "project.roles")
    db = get_session()
    roles = accounts.list_roles(db, project=p)
    by_id = {u.id: u for u in accounts.list_users(db, organisation_id=p.organisation_id)}
    with_role = {r.user_id for r in roles}
    people_by_id = {u.id: u for u in db.scalars(select(User).where(User.id.in_(with_role)))}
    candidates = [u for u in by_id.values() if u.is_active]
    return render_template(
        "admin/project_people.html",
        project=p,
        roles=[(r, people_by_id[r.user_id]) for r in roles if r.user_id in people_by_id],
        candidates=candidates,
        role_labels=ROLE_LABELS,
        role_names=ROLES,
        # Only the project's owners grant a coordinator the raw rows (the same rule as the API).
        may_grant_rows=actor.can(db, "project.partners", p.id) and row_access.sees_all_rows(db, actor, p),
        project_menu=project_menu(p, "admin.project_people"),
    )


def _target(actor: Actor, project: Project, raw: object) -> User:
    user = accounts.get_user_or_none(get_session(), raw) if isinstance(raw, int) else None
    if user is None or (user.organisation_id not in (None, project.organisation_id)):
        raise NotFoundError(gettext("Choose a person of this project's organisation."))
    if not actor.is_admin and actor.user is not None and user.organisation_id != actor.user.organisation_id:
        raise NotFoundError(gettext("Choose a person of this project's organisation."))
    return user


@bp.post("/projects/<int:project_id>/people")
def assign_role(project_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "project.roles")
    raw = request.form.get("user_id", "")
    role = request.form.get("role", "")
    if role not in ROLES:
        flash(gettext("Choose a role from the list."), "error")
        return _back(url_for("admin.project_people", project_id=p.id))
    user = _target(actor, p, int(raw) if raw.isdigit() else None)
    try:
        accounts.assign_role(get_session(), actor=actor, project=p, user=user, role=role)
    except InvalidValueError as error:
        flash(refusal(error), "error")
        return _back(url_for("admin.project_people", project_id=p.id))
    flash(gettext("%(who)s is now %(role)s in this project.", who=user.email, role=ROLE_LABELS[role]), "ok")
    return _back(url_for("admin.project_people", project_id=p.id))


@bp.post("/projects/<int:project_id>/people/<int:user_id>/revoke")
def revoke_role(project_id: int, user_id: int) -> Response:
    actor = current_actor()
    p = project_for(actor, project_id, "project.roles")
    db = get_session()
    user = _target(actor, p, user_id)
    if accounts.role_of(db, project=p, user=user) is None:
        raise NotFoundError(gettext("This person has no role in this project."))
    accounts.assign_role(db, actor=actor, project=p, user=user, role=None)
    flash(gettext("%(who)s no longer has a role in this project.", who=user.email), "ok")
    return _back(url_for("admin.project_people", project_id=p.id))


@bp.post("/projects/<int:project_id>/people/<int:user_id>/rows")
def set_row_grant(project_id: int, user_id: int) -> Response:
    """Grant or revoke one coordinator the project's raw rows (``partners.set_row_grant``, audited)."""
    actor = current_actor()
    p = project_for(actor, project_id, "project.partners")
    granted = request.form.get("grant") == "1"
    partners.set_row_grant(get_session(), actor=actor, project=p, user_id=user_id, granted=granted)
    if granted:
        flash(gettext("The coordinator now reads every partner’s submissions in this project."), "ok")
    else:
        flash(gettext("The coordinator reads the indicators only again."), "ok")
    return _back(url_for("admin.project_people", project_id=p.id))
