"""``ruta hub sync``'s loop: push what the hub holds to the central Ruta over a slow link that drops,
without ever keeping a database transaction open across network I/O.

Each step is a short transaction: read the next batch (then close), compress and upload it with no
transaction open, then acknowledge it (move the durable cursor, commit). On SQLite every transaction
takes the write lock (``BEGIN IMMEDIATE``), so this is what lets phones at the hub keep submitting and
``ruta hub status`` keep answering during a sync.

Order: the XML of every pending version first (batches of ~``batch_seconds`` of link time at the
measured rate, compressed as one stream), then the files of those versions, then files that arrived
late for versions sent by earlier syncs, then the forms pulled down. Progress (items, bytes, rate,
time left) goes to ``progress``; the JSON report is returned.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from flask import Flask
from sqlalchemy.orm import Session

from app.blobs import get_blob_store
from app.db import get_database
from app.errors import RutaError
from app.models import HubLink, Project
from app.services.hubs import link as hub_link
from sync.hub_client import HubClient, HubClientError, RateMeter, UploadProgress, encode_body, encode_smallest

MIN_BATCH_BYTES = 32 * 1024


@dataclass
class SyncOptions:
    local_project: int | None = None
    batch_size: int = 2000  # at most this many instances a batch (the central side takes 5000)
    max_bytes: int = 32 * 1024 * 1024  # at most about this many bytes a batch (before compression)
    batch_seconds: float = 60.0  # a batch is about this much link time at the measured rate
    retries: int | None = None  # a count of retries per request instead of retrying for a time
    give_up_after: float = 3600.0  # seconds a request is retried while the link is down
    until_done: bool = False  # retry for as long as it takes
    max_backoff: float = 60.0
    pull: bool = True


@dataclass
class Progress:
    """Counts for the progress line: what is done out of what there was at the start."""

    out: IO[str] | None
    items_total: int = 0
    files_total: int = 0
    bytes_estimate: float = 0.0  # compressed bytes still expected, re-estimated as batches go
    items: int = 0
    files: int = 0
    sent: int = 0
    started: float = field(default_factory=time.monotonic)
    meter: RateMeter = field(default_factory=RateMeter)
    _last: float = 0.0

    def line(self, phase: str, extra: int = 0, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (not force and now - self._last < 1.0):
            return
        self._last = now
        rate = self.meter.estimate
        left = max(0.0, self.bytes_estimate - extra) / rate if rate else 0.0
        print(
            f"sync {phase}: {self.items}/{self.items_total} submissions, {self.files}/{self.files_total} "
            f"files, {_size(self.sent + extra)} sent, {_size(rate)}/s, "
            f"about {_duration(left)} left ({_duration(now - self.started)} so far)",
            file=self.out,
            flush=True,
        )

    def waiting(self, why: str, seconds: float) -> None:
        if self.out is not None:
            print(f"sync waiting: {why}; retrying in {seconds:.0f} s", file=self.out, flush=True)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class Syncer:
    def __init__(self, app: Flask, opts: SyncOptions, out: IO[str] | None = sys.stderr) -> None:
        self.db = get_database(app)
        self.store = get_blob_store(app)
        self.opts = opts
        self.progress = Progress(out)
        self.xml_ratio = 0.15  # compressed / raw of the last XML batch; household XML is ~0.08
        self.tally = hub_link.PushTally()
        self.ceiling = 0  # the newest version when the pass started: the pass pushes up to it

    @contextmanager
    def _tx(self) -> Iterator[tuple[Session, HubLink]]:
        """One short transaction on the link's row; the caller commits (or it is rolled back)."""
        with self.db.session_scope() as session:
            yield session, hub_link.get_link(session, project_id=self.opts.local_project)
            session.rollback()

    def _budget(self, ratio: float) -> int:
        wire = self.progress.meter.estimate * self.opts.batch_seconds
        return int(min(self.opts.max_bytes, max(MIN_BATCH_BYTES, wire / ratio)))

    def _upload(
        self, client: HubClient, items: list[hub_link.Pending], phase: str, *, held: bool = False
    ) -> tuple[dict[str, Any], int, int]:
        """Compress and upload one batch; returns the answer, its raw and its compressed size. With
        ``held`` (files of versions whose XML the central side acknowledged) the XML is not sent again;
        an item the central side answers with an error (it lacks that XML, or predates files sent this
        way) goes once more with its XML, so no file is acknowledged without having been taken."""
        make = hub_link.outgoing_files if held else hub_link.outgoing
        instances = [make(p, self.store) for p in items]  # blob reads: no transaction open
        raw = sum(len(i.xml) + sum(len(d) for _, d in i.files) for i in instances)
        body, encoding = encode_smallest(instances) if held else (encode_body(instances), "bzip2")

        def shown(p: UploadProgress) -> None:
            self.progress.line(phase, p.sent)

        answer = client.upload(body, on_progress=shown, encoding=encoding)
        self.progress.sent += len(body)
        sent = len(body)
        results = answer.get("results", [])
        refused = {r.get("key") for r in results if r.get("status") == "error"} if held else set()
        again = [p for p in items if f"v{p.id}" in refused]
        if again:
            whole = [hub_link.outgoing(p, self.store) for p in again]
            body = encode_body(whole)
            retry = client.upload(body, on_progress=shown)
            self.progress.sent += len(body)
            sent += len(body)
            results = [r for r in results if r.get("key") not in refused] + retry.get("results", [])
            answer = {"results": results}
        self.tally.add(answer)
        return answer, raw, sent

    def run(self) -> tuple[bool, dict[str, Any]]:
        try:
            with self._tx() as (session, link):
                hub_link.begin(session, link=link)
                started, upto_before = link.sync_started_at, link.version_cursor
                url, pid, token, rate = link.central_url, link.central_project_id, link.token, link.link_rate
                todo = hub_link.backlog(session, link=link)
                self.ceiling = hub_link.latest_version(session, link=link)
                session.commit()
        except RutaError as err:
            return False, {"ok": False, "error": err.message}
        assert started is not None
        meter = self.progress.meter = RateMeter(rate)
        p = self.progress
        p.items_total, p.files_total = todo.items, todo.files
        p.bytes_estimate = todo.xml_bytes * self.xml_ratio + todo.file_bytes
        client = HubClient(
            url,
            pid,
            token,
            retries=self.opts.retries,
            give_up_after=None if self.opts.until_done else self.opts.give_up_after,
            max_backoff=self.opts.max_backoff,
            meter=meter,
            on_wait=p.waiting,
        )
        report: dict[str, Any] = {}
        error = None
        try:
            self._push_data(client)
            self._push_files(client)
            self._push_late(client, upto_before)
            if self.opts.pull:
                report["pulled"] = self._pull(client)
        except (HubClientError, RutaError) as err:
            error = err.message
        with self._tx() as (session, link):
            hub_link.finish(session, link=link, started=started, error=error, sent_bytes=p.sent)
            session.commit()
            left = hub_link.backlog(session, link=link)
            report |= {
                "ok": error is None,
                "error": error,
                "batches": self.tally.batches,
                "items": self.tally.counts,
                "refused": self.tally.failures,
                "cursor": link.version_cursor,
                "filesCursor": link.files_cursor,
                "pending": left.items,
                "pendingFiles": left.files,
                "bytesSent": p.sent,
                "seconds": round(time.monotonic() - p.started, 1),
                "linkRate": round(meter.estimate),
            }
        p.line("done" if error is None else "stopped", force=True)
        return error is None, report

    def _push_data(self, client: HubClient) -> None:
        while True:
            with self._tx() as (session, link):
                versions = hub_link.pending_versions(
                    session,
                    link=link,
                    limit=self.opts.batch_size,
                    max_bytes=self._budget(self.xml_ratio),
                    with_files=False,
                    upto=self.ceiling,
                )
                items = [hub_link.pending(v, with_files=False) for v in versions]
            if not items:
                return
            answer, raw, sent = self._upload(client, items, "data")
            with self._tx() as (session, link):
                hub_link.acknowledge(
                    session,
                    link=link,
                    upto=items[-1].id,
                    pushed=len(items),
                    answer=answer,
                    rate=self.progress.meter.rate,
                )
                session.commit()  # the durable cursor: this batch is stored centrally
            self.progress.items += len(items)
            self.progress.bytes_estimate = max(0.0, self.progress.bytes_estimate - raw * self.xml_ratio)
            self.xml_ratio = max(0.01, sent / max(raw, 1))  # the next batch is sized with what this one did
            self.progress.line("data", force=True)

    def _push_files(self, client: HubClient) -> None:
        while True:
            with self._tx() as (session, link):
                budget = self._budget(1.0)
                versions, upto = hub_link.pending_files(
                    session, link=link, limit=self.opts.batch_size, max_bytes=budget
                )
                items = [hub_link.pending(v) for v in versions]
                if not items:
                    if upto > link.files_cursor:
                        hub_link.acknowledge(
                            session, link=link, upto=upto, pushed=0, answer={}, files_upto=upto
                        )
                        session.commit()
                    return
            answer, _, sent = self._upload(client, items, "files", held=True)
            with self._tx() as (session, link):
                hub_link.acknowledge(
                    session, link=link, upto=upto, pushed=0, answer=answer, files_upto=upto,
                    rate=self.progress.meter.rate,
                )  # fmt: skip
                session.commit()
            nfiles = sum(len(i.files) for i in items)
            self.progress.files += nfiles
            self.progress.bytes_estimate = max(0.0, self.progress.bytes_estimate - sent)
            self.progress.line("files", force=True)

    def _push_late(self, client: HubClient, upto: int) -> None:
        with self._tx() as (session, link):
            late = [hub_link.pending(v) for v in hub_link.refreshed_versions(session, link=link, upto=upto)]
        for start in range(0, len(late), max(1, self.opts.batch_size)):
            self._upload(client, late[start : start + self.opts.batch_size], "late files", held=True)

    def _pull(self, client: HubClient) -> dict[str, Any]:
        catalogue = client.forms()
        with self._tx() as (session, link):
            project = session.get(Project, link.project_id)
            assert project is not None
            want_xml, want_media = hub_link.missing_downloads(
                session, project=project, catalogue=catalogue, store=self.store
            )
        xml = {key: client.form_xml(*key) for key in sorted(want_xml)}  # downloads: no transaction open
        media = {sha: client.media(sha) for sha in sorted(want_media)}
        with self._tx() as (session, link):
            project = session.get(Project, link.project_id)
            assert project is not None
            pulled = hub_link.mirror_forms(
                session,
                project=project,
                catalogue=catalogue,
                fetch_xml=lambda form_id, sha: xml[(form_id, sha)],
                fetch_media=media.__getitem__,
                store=self.store,
            )
            session.commit()
        return pulled.__dict__
