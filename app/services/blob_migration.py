"""``ruta blobs migrate``: copy every blob the database names from one store to another.

Resumable: a blob already in the target with the right sha256 is skipped, so a run cut off (killed,
the bucket unreachable) is simply run again. Verified: the bytes read from the source are hashed on
the way and must hash to their name; a target that accepted them confirmed them (see the stores).
Blobs the database names but the source lacks, or holds with other bytes, are reported, not copied.
The source is only read: the configured store keeps working until the operator switches
``RUTA_BLOB_STORE`` to the target.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.blobs import BlobStore
from app.models import Blob
from app.services.audit import events as audit


@dataclass
class MigrationReport:
    source: str
    target: str
    total: int = 0
    copied: int = 0
    skipped: int = 0  # already in the target with the right sha256 (an earlier, interrupted run)
    missing: list[str] = field(default_factory=list)  # named by the database, absent from the source
    corrupt: list[str] = field(default_factory=list)  # in the source, but its bytes hash to another name

    @property
    def complete(self) -> bool:
        return not self.missing and not self.corrupt


def migrate(
    session: Session,
    *,
    source: BlobStore,
    target: BlobStore,
    progress: Callable[[str, str], None] | None = None,
) -> MigrationReport:
    """Copy the blobs; raises BlobStoreUnavailableError when either store cannot be reached (rerun)."""
    report = MigrationReport(source.url, target.url)
    shas = list(session.scalars(select(Blob.sha256).order_by(Blob.sha256)))
    report.total = len(shas)
    for sha in shas:
        if target.verified(sha):
            outcome = "skipped"
            report.skipped += 1
        else:
            outcome = _copy(sha, source, target)
            if outcome == "copied":
                report.copied += 1
            else:
                getattr(report, outcome).append(sha)
        if progress is not None:
            progress(outcome, sha)
    audit.record(
        session,
        actor=None,
        action="blobs.migrate",
        details={
            "source": report.source,
            "target": report.target,
            "total": report.total,
            "copied": report.copied,
            "skipped": report.skipped,
            "missing": len(report.missing),
            "corrupt": len(report.corrupt),
        },
    )
    session.flush()
    return report


def _copy(sha: str, source: BlobStore, target: BlobStore) -> str:
    try:
        stream = source.open(sha)
    except FileNotFoundError:
        return "missing"
    with closing(stream):
        stored = target.put_stream(stream)
    return "copied" if stored.sha256 == sha else "corrupt"
