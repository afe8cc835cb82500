"""Tombstones of purged records: a device that resends a record after it was purged must not bring it
back (a subject's erasure, a retention period, the emptied trash).

A purge keeps, per form, the sha256 of each instanceID it deleted (never the ID itself: the tombstone
cannot name a record). Ingest looks the incoming instanceID (and the deprecatedID of an edit) up; a
hit stores nothing and is answered as Collect and Central answer a record already received (OpenRosa
202 "nothing new"), so the device marks it sent and stops resending; the batch and hub paths report
it as a duplicate; the JSON API, whose caller is a person or a script, gets a 409 saying why. Every
such resend is audited (``submission.resend_purged``, the form and the device, no instanceID).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ConflictError
from app.models import PurgedInstance

RESEND_ACTION = "submission.resend_purged"


class PurgedResendError(ConflictError):
    code = "409.61"
    default_message = "This record was deleted for good on the server and is not stored again."


def instance_hash(form_id: int, instance_id: str) -> str:
    return hashlib.sha256(f"{form_id}\n{instance_id}".encode()).hexdigest()


def purged_among(session: Session, form_id: int, instance_ids: Iterable[str | None]) -> set[str]:
    """The instanceIDs of ``instance_ids`` a purge of the form deleted."""
    by_hash = {instance_hash(form_id, i): i for i in instance_ids if i}
    if not by_hash:
        return set()
    found: set[str] = set()
    hashes = sorted(by_hash)
    for start in range(0, len(hashes), 1000):  # bounded IN lists (SQLite caps a statement's parameters)
        found.update(
            by_hash[h]
            for h in session.scalars(
                sa.select(PurgedInstance.instance_sha256).where(
                    PurgedInstance.form_id == form_id,
                    PurgedInstance.instance_sha256.in_(hashes[start : start + 1000]),
                )
            )
        )
    return found


def record(session: Session, *, pairs: Iterable[tuple[int, str]], reason: str) -> int:
    """Keep a tombstone for each (form id, instanceID) purged; flushes. Returns how many are new."""
    wanted = {(form_id, instance_hash(form_id, iid)) for form_id, iid in pairs if iid}
    if not wanted:
        return 0
    by_form: dict[int, set[str]] = {}
    for form_id, digest in wanted:
        by_form.setdefault(form_id, set()).add(digest)
    rows = []
    for form_id, digests in by_form.items():
        ordered = sorted(digests)
        known: set[str] = set()
        for start in range(0, len(ordered), 1000):
            known.update(
                session.scalars(
                    sa.select(PurgedInstance.instance_sha256).where(
                        PurgedInstance.form_id == form_id,
                        PurgedInstance.instance_sha256.in_(ordered[start : start + 1000]),
                    )
                )
            )
        rows += [
            PurgedInstance(form_id=form_id, instance_sha256=d, reason=reason)
            for d in ordered
            if d not in known
        ]
    session.add_all(rows)
    session.flush()
    return len(rows)
