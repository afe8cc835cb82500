"""The site registry: each project's ``sites`` entity list, imported, edited and read as sites.

A site is an entity of the list named ``sites`` (created for every project when first needed), whose
UUID is derived from the site code, so importing the same code again updates the same entity (a new
version, kept) and a device's copy of the list stays stable. The checks live in ``app.sites`` (pure);
this module stores what passed them. Services flush; the caller commits.
"""

from __future__ import annotations

import csv
import io
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.errors import InvalidValueError, NotFoundError, SiteImportError
from app.indicators.normalise import site_rollup
from app.models import Dataset, Entity
from app.services import entities
from app.services.audit import events as audit
from app.sites import places, registry
from app.sites.tables import TableError, read_table

LIST_NAME = registry.LIST_NAME
# The list's properties: the registry's columns, plus ODK's ``geometry`` ("lat lon 0 0") for maps.
PROPERTIES = (*registry.COLUMNS, "geometry")
_NAMESPACE = uuidlib.UUID("6f1c3c2e-3b7e-4f0e-9a55-2f6d8d1c5a19")


def site_uuid(code: str) -> str:
    """The entity UUID of a site code (the same code is the same entity; case does not matter)."""
    return str(uuidlib.uuid5(_NAMESPACE, code.casefold()))


def ensure_list(session: Session, *, project_id: int, actor: Actor | None = None) -> Dataset:
    """The project's ``sites`` list, created with the registry's properties when missing."""
    return entities.ensure_dataset(
        session, project_id=project_id, name=LIST_NAME, properties=PROPERTIES, actor=actor
    )


def _site_list(session: Session, project_id: int) -> Dataset | None:
    return session.scalar(
        sa.select(Dataset).where(Dataset.project_id == project_id, Dataset.name == LIST_NAME)
    )


def list_sites(session: Session, *, project_id: int) -> list[dict[str, Any]]:
    """Every current (not deleted) site of the project, as its registry row plus uuid and version."""
    dataset = _site_list(session, project_id)
    if dataset is None:
        return []
    found = session.scalars(
        sa.select(Entity)
        .where(Entity.dataset_id == dataset.id, Entity.deleted.is_(False))
        .order_by(Entity.id)
    )
    rows = [
        {c: (e.data or {}).get(c, "") for c in registry.COLUMNS}
        | {"uuid": e.uuid, "version": e.current_version}
        for e in found
    ]
    return sorted(rows, key=lambda r: str(r["code"]).casefold())


def registry_lookup(session: Session, *, project_id: int) -> dict[str, dict[str, str]]:
    """The project's sites as normalisation reads them: code -> its country and admin P-codes."""
    return {
        str(row["code"]): site_rollup(
            str(row["code"]), str(row["adm0_pcode"]), str(row["adm1_pcode"]), str(row["adm2_pcode"])
        )
        for row in list_sites(session, project_id=project_id)
        if row["code"]
    }


def find_site(session: Session, *, project_id: int, code: str) -> dict[str, Any]:
    for row in list_sites(session, project_id=project_id):
        if str(row["code"]).casefold() == code.casefold():
            return row
    raise NotFoundError(f"The site registry of this project has no site {code[:80]!r}.")


def sites_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(registry.COLUMNS), extrasaction="ignore", lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@dataclass
class ImportResult:
    report: registry.Report
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.report.as_dict() | {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def check_file(data: bytes) -> registry.Report:
    """The row-by-row report of an import file, without storing anything."""
    try:
        rows = read_table(data)
    except TableError as exc:
        raise InvalidValueError(str(exc), details={"field": "file"}) from exc
    return registry.check_rows(rows, places.shipped())


def import_sites(
    session: Session, *, project_id: int, data: bytes, good_rows: bool = False, actor: Actor | None = None
) -> ImportResult:
    """Store the sites; on errors store nothing (SiteImportError) unless ``good_rows`` asks for the rest."""
    report = check_file(data)
    if not report.ok and not good_rows:
        raise SiteImportError(details=report.as_dict())
    dataset = ensure_list(session, project_id=project_id, actor=actor)
    result = ImportResult(report=report)
    # One read of the list, not one per row: an unchanged site then costs no query at all.
    known = {e.uuid: e for e in session.scalars(sa.select(Entity).where(Entity.dataset_id == dataset.id))}
    for _, site in report.sites:
        outcome = _store(session, dataset, site, actor, known)
        {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}[outcome].append(
            site.code
        )
    audit.record(
        session,
        actor=actor,
        action="sites.import",
        project_id=project_id,
        subject_type="dataset",
        subject_id=LIST_NAME,
        details={
            "rows": report.rows,
            "stored": len(report.sites),
            "badRows": report.bad_rows,
            "goodRowsOnly": good_rows and not report.ok,
        },
    )
    return result


def save_site(
    session: Session, *, project_id: int, values: dict[str, str], actor: Actor | None = None
) -> tuple[registry.Site | None, list[registry.Issue]]:
    """Create or edit one site from form values (the admin's edit page); nothing is stored on an error."""
    report = registry.check_rows([values], places.shipped())
    if not report.ok:
        return None, report.issues
    dataset = ensure_list(session, project_id=project_id, actor=actor)
    site = report.sites[0][1]
    key = site_uuid(site.code)
    existing = session.scalar(sa.select(Entity).where(Entity.dataset_id == dataset.id, Entity.uuid == key))
    _store(session, dataset, site, actor, {key: existing} if existing else {})
    return site, report.issues


def _store(
    session: Session, dataset: Dataset, site: registry.Site, actor: Actor | None, known: dict[str, Entity]
) -> str:
    """Create or update the site's entity; ``known`` holds the list's entities by uuid (read once)."""
    data = site.as_row()
    data["geometry"] = "" if site.latitude is None else f"{site.latitude!r} {site.longitude!r} 0 0"
    key = site_uuid(site.code)
    existing = known.get(key)
    if existing is None:
        entities.create_entity(session, dataset=dataset, uuid=key, label=site.label, data=data, actor=actor)
        return "created"
    same = existing.label == site.label and all((existing.data or {}).get(k) == v for k, v in data.items())
    if same and not existing.deleted:
        return "unchanged"
    entities.upsert_entity(session, dataset=dataset, uuid=key, label=site.label, data=data, actor=actor)
    return "updated"
