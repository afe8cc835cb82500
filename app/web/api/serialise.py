"""JSON shapes of the API, following ODK Central's field names (camelCase) where they overlap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from app.models import AppUser, Form, FormAttachment, FormVersion, Organisation, Project, User


def ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class Timestamp(fields.Function):
    """An ISO 8601 UTC time ending in Z (or null) of the object's attribute ``name``."""

    json_schema = {"type": "string", "format": "date-time"}

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(lambda obj: ts(getattr(obj, name)), **kwargs)


# The shapes below are marshmallow schemas so that the OpenAPI document describes the responses from
# the classes that make them (``@returns``).


class UserOut(Schema):
    id = fields.Integer()
    type = fields.Constant("user")
    email = fields.String()
    displayName = fields.String(attribute="display_name")
    organisationId = fields.Integer(attribute="organisation_id", allow_none=True)
    isAdmin = fields.Boolean(attribute="is_admin")
    createdAt = Timestamp("created_at")
    updatedAt = fields.Constant(None)
    deletedAt = fields.Constant(None)


class OrganisationOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    createdAt = Timestamp("created_at")


class ProjectOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    organisationId = fields.Integer(attribute="organisation_id")
    countries = fields.List(fields.String())
    indicatorsIncludeReceived = fields.Boolean(attribute="indicators_include_received")
    archived = fields.Boolean(attribute="is_archived")
    keyId = fields.Constant(None)
    createdAt = Timestamp("created_at")
    updatedAt = Timestamp("updated_at", allow_none=True)


class AppUserOut(Schema):
    id = fields.Integer()
    type = fields.Constant("field_key")
    displayName = fields.String(attribute="display_name")
    projectId = fields.Integer(attribute="project_id")
    # Like Central, the token is only ever returned when the credential is created.
    token = fields.String(allow_none=True, dump_default=None)
    allForms = fields.Boolean(attribute="all_forms")
    # What entity lists with matchAttributes filter this device's entities on.
    attributes = fields.Function(lambda a: dict(a.attributes or {}))
    createdAt = Timestamp("created_at")
    updatedAt = fields.Constant(None)  # pyodk requires the key (Central sends it)
    deletedAt = Timestamp("revoked_at", allow_none=True)
    revokedAt = Timestamp("revoked_at", allow_none=True)
    lastSeenAt = Timestamp("last_seen_at", allow_none=True)


_USER, _ORGANISATION, _PROJECT, _APP_USER = UserOut(), OrganisationOut(), ProjectOut(), AppUserOut()


def user(u: User) -> dict[str, Any]:
    return dict(_USER.dump(u))


def organisation(o: Organisation) -> dict[str, Any]:
    return dict(_ORGANISATION.dump(o))


def project(p: Project) -> dict[str, Any]:
    return dict(_PROJECT.dump(p))


def app_user(a: AppUser, token: str | None = None) -> dict[str, Any]:
    return dict(_APP_USER.dump(a)) | {"token": token}


def attachment(a: FormAttachment) -> dict[str, Any]:
    return {
        "name": a.name,
        "type": a.kind,
        "exists": a.blob_sha256 is not None,
        "blobExists": a.blob_sha256 is not None,
        "datasetExists": False,
        "updatedAt": ts(a.updated_at),
    }


def version_detail(v: FormVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "hash": v.md5,
        "sha256": v.sha256,
        "publishedAt": ts(v.published_at),
        "createdAt": ts(v.created_at),
        "keyId": v.key_id,
        "xlsFormWarnings": v.warnings,
        "validation": {"status": v.validation_status, "messages": v.validation_messages},
        "typeChanges": v.type_changes,
        "attachments": [attachment(a) for a in v.attachments],
        "encrypted": bool(v.schema.get("public_key")),
    }


def form(f: Form, v: FormVersion | None = None) -> dict[str, Any]:
    v = v or f.current_version or f.draft_version
    settings = f.settings or {}
    out: dict[str, Any] = {
        "projectId": f.project_id,
        "xmlFormId": f.xml_form_id,
        "name": f.name,
        "version": v.version if v else None,
        "hash": v.md5 if v else None,
        "state": f.state,
        "createdAt": ts(f.created_at),
        "updatedAt": ts(f.updated_at),
        "publishedAt": ts(f.published_at),
        "keyId": v.key_id if v else None,
        "enketoId": None,
        "draft": v is not None and v.published_at is None,
        # Ruta extensions (issue 21): retention, sensitivity classes, the risk check's declarations.
        "retentionDays": f.retention_days,
        "sensitivity": f.sensitivity,
        "fieldClasses": settings.get("fieldClasses", {}),
        "indicatorClass": settings.get("indicatorClass", "restricted"),
        "identifierField": settings.get("identifierField"),
        "quasiIdentifiers": settings.get("quasiIdentifiers", []),
        "riskK": settings.get("riskK", 3),
        "riskThreshold": settings.get("riskThreshold", 0.03),
    }
    if v is not None:
        out.update(version_detail(v))
        out["publishedAt"] = ts(f.published_at)
    return out
