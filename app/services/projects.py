"""Organisations and projects."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import AlreadyExistsError, InvalidValueError, NotFoundError
from app.models import Organisation, Project
from app.services import sites
from app.services.audit import events as audit

_ISO3 = re.compile(r"^[A-Z]{3}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def create_organisation(session: Session, *, actor: Actor | None, code: str, name: str) -> Organisation:
    if not _CODE.match(code or ""):
        raise InvalidValueError(
            "An organisation code is 1-64 letters, digits, '.', '_' or '-', e.g. 'ACNUR-ECU'.",
            details={"field": "code"},
        )
    if session.scalar(select(Organisation.id).where(Organisation.code == code)) is not None:
        raise AlreadyExistsError(f"An organisation with the code {code} already exists.")
    org = Organisation(code=code, name=name.strip() or code)
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organisation.create",
        subject_type="organisation",
        subject_id=org.id,
        details={"code": code},
    )
    return org


def list_organisations(session: Session, *, actor: Actor) -> list[Organisation]:
    """All organisations for the administrator; one's own for everyone else."""
    query = select(Organisation).order_by(Organisation.code)
    if not actor.is_admin:
        query = query.where(Organisation.id == (actor.user.organisation_id if actor.user else None))
    return list(session.scalars(query))


def get_organisation_by_code(session: Session, code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.code == code))


def validate_countries(countries: object) -> list[str]:
    if not isinstance(countries, list) or not all(isinstance(c, str) for c in countries):
        raise InvalidValueError('countries must be a list of ISO 3166-1 alpha-3 codes, e.g. ["ECU"].')
    bad = [c for c in countries if not _ISO3.match(c)]
    if bad:
        raise InvalidValueError(f"Not ISO 3166-1 alpha-3 country codes: {', '.join(bad)}.")
    return countries


def organisation_for_new_project(session: Session, *, actor: Actor, organisation_id: object) -> Organisation:
    """The organisation a new project belongs to: the one ``organisationId`` names or, when the body has
    only a name (pyodk and Central's scripts send ``{name}``), the caller's own organisation. A caller of
    no organisation must say which one: guessing could put a project where its people cannot see it."""
    if organisation_id is None:
        own = actor.user.organisation_id if actor.user is not None else None
        if own is None:
            raise InvalidValueError(
                "Say which organisation the project belongs to: add organisationId to the body "
                "(GET /v1/organisations lists them). Only a user of one organisation may leave it out.",
                details={"field": "organisationId"},
            )
        organisation_id = own
    org = session.get(Organisation, organisation_id) if type(organisation_id) is int else None
    if org is None:
        raise InvalidValueError(
            "organisationId must name an existing organisation.", details={"field": "organisationId"}
        )
    return org


def create_project(
    session: Session,
    *,
    actor: Actor | None,
    organisation: Organisation,
    name: str,
    description: str = "",
    countries: list[str] | None = None,
) -> Project:
    name = (name or "").strip()
    if not name:
        raise InvalidValueError("A project needs a name.", details={"field": "name"})
    project = Project(
        organisation_id=organisation.id,
        name=name,
        description=description,
        countries=validate_countries(countries or []),
    )
    session.add(project)
    session.flush()
    # Every project ships with its site registry, an entity list forms can pick their site from.
    sites.ensure_list(session, project_id=project.id, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="project.create",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"name": name},
    )
    return project


def update_project(
    session: Session, *, actor: Actor, project: Project, changes: dict[str, object]
) -> Project:
    allowed = {"name", "description", "countries", "indicators_include_received", "is_archived"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidValueError(f"These project fields cannot be changed: {', '.join(sorted(unknown))}.")
    if "name" in changes:
        if not isinstance(changes["name"], str) or not changes["name"].strip():
            raise InvalidValueError("A project needs a name.", details={"field": "name"})
        project.name = changes["name"].strip()
    if "description" in changes:
        project.description = str(changes["description"] or "")
    if "countries" in changes:
        project.countries = validate_countries(changes["countries"])
    for flag in ("indicators_include_received", "is_archived"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                raise InvalidValueError(f"{flag} must be true or false.")
            setattr(project, flag, changes[flag])
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.update",
        project_id=project.id,
        subject_type="project",
        subject_id=project.id,
        details={"fields": sorted(changes)},
    )
    return project


def project_for(session: Session, *, actor: Actor, project_id: int, action: str) -> Project:
    """The project, once ``actor`` may do ``action`` in it: the one rule every request naming a
    project goes through. A missing project is a 404, after the caller is known (an anonymous one
    gets the 401 it would get for a project that exists, so ids reveal nothing); someone with no role
    in the project gets a 404 too (``Actor.require``)."""
    project = session.get(Project, project_id)
    if project is None:
        actor.require_login()
        raise NotFoundError()
    actor.require(session, action, project)
    return project


def get_project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError()
    return project


def list_projects(session: Session, *, actor: Actor) -> list[Project]:
    ids = actor.visible_project_ids(session)
    query = select(Project).order_by(Project.id)
    if ids is not None:
        query = query.where(Project.id.in_(ids))
    return list(session.scalars(query))


def update_organisation(session: Session, *, actor: Actor, organisation: Organisation, name: str) -> None:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise InvalidValueError(
            "An organisation needs a name of 1-255 characters.", details={"field": "name"}
        )
    if name != organisation.name:
        organisation.name = name
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="organisation.update",
            subject_type="organisation",
            subject_id=organisation.id,
            details={"fields": ["name"]},
        )
