"""JSON shapes of the API, following ODK Central's field names (camelCase) where they overlap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.models import AppUser, Form, FormAttachment, FormVersion, Organisation, Project, User


def ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "type": "user",
        "email": u.email,
        "displayName": u.display_name,
        "organisationId": u.organisation_id,
        "isAdmin": u.is_admin,
        "createdAt": ts(u.created_at),
        "updatedAt": None,
        "deletedAt": None,
    }


def organisation(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "code": o.code, "name": o.name, "createdAt": ts(o.created_at)}


def project(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "organisationId": p.organisation_id,
        "countries": p.countries,
        "indicatorsIncludeReceived": p.indicators_include_received,
        "archived": p.is_archived,
        "keyId": None,
        "createdAt": ts(p.created_at),
        "updatedAt": ts(p.updated_at),
    }


def app_user(a: AppUser, token: str | None = None) -> dict[str, Any]:
    return {
        "id": a.id,
        "type": "field_key",
        "displayName": a.display_name,
        "projectId": a.project_id,
        # Like Central, the token is only ever returned when the credential is created.
        "token": token,
        "allForms": a.all_forms,
        "attributes": dict(a.attributes or {}),
        "createdAt": ts(a.created_at),
        "updatedAt": None,  # pyodk requires the key (Central sends it)
        "deletedAt": ts(a.revoked_at),
        "revokedAt": ts(a.revoked_at),
        "lastSeenAt": ts(a.last_seen_at),
    }


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
