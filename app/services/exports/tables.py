"""Submission exports of one form (CSV, CSV zip, XLSX, GeoJSON, media), clean by default.

``prepare`` checks everything that can be wrong with a request (options, language, versions, the
sensitive-data choice, the passphrase of an encrypted form) and writes the audit event *before* a byte
is streamed, so a bad request is a 400 and never half a file. The rows are then read in keyset pages
(``PAGE`` submissions per query, plain rows, nothing kept in the session), once for all tables, so
the server's memory does not grow with the number of submissions. GeoJSON features are in
:mod:`app.services.exports.geojson`.
"""

from __future__ import annotations

import gc
import json
import queue
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.blobs import BlobStore
from app.errors import ForbiddenError, InvalidValueError, NotFoundError
from app.exports.odata.model import Node, ODataModel, build_model
from app.exports.odata.rows import repeat_instances
from app.exports.options import ExportOptions, resolve_language
from app.exports.tables import TableSpec, build_tables, rows_with_frames
from app.models import (
    AppUser,
    Form,
    FormVersion,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
    User,
)
from app.services import version_cache
from app.services.audit import events as audit
from app.services.exports.odata import ROOT_COLUMNS, timestamp
from app.services.protection import classification, keys, record_scope, row_access, sensitive
from forms.schema import GROUP, REPEAT, FormSchema
from sync import crypto
from sync.submission import parse_submission
from sync.values import compile_schema, extract_values

PAGE = 1000


def _loads(text: str | None) -> dict[str, Any]:
    # orjson: decoding every submission's values is the largest single cost of a big export.
    value = orjson.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Export:
    """A checked export request: the tables to write and how to read their rows."""

    project: Project
    form: Form
    schema: FormSchema
    model: ODataModel
    tables: list[TableSpec]
    options: ExportOptions
    version_ids: tuple[int, ...]
    form_id: int
    sensitive_paths: frozenset[str]
    private_key: Any = None
    between_pages: Callable[[], None] | None = None
    actor: Actor | None = None
    # Rows of this export that did not decrypt cleanly: instance id -> status, reason (for the audit).
    decrypt_problems: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems_recorded: bool = False
    # The asker's row filter (``row_access``); no rows unless ``prepare`` says which.
    rows: ColumnElement[bool] = field(default_factory=sa.false)
    # The output's sensitivity class (app/services/protection/classification.py), printed in the file.
    sensitivity: str = classification.DEFAULT_CLASS

    def header_rows(self, spec: TableSpec) -> list[list[str]]:
        return [spec.headers(), spec.hxl_row()] if self.options.hxl else [spec.headers()]


def _pseudonymiser(secret: str, project_id: int) -> Any:
    key = sensitive.pseudonym_key(secret, project_id)

    def pseudo(value: Any) -> Any:
        if value is None or value == "" or value == []:
            return None
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return sensitive.pseudonym(key, text)

    return pseudo


def published_version_ids(session: Session, form: Form, wanted: tuple[str, ...]) -> tuple[int, ...]:
    if not wanted:
        return ()
    rows = dict(
        session.execute(
            sa.select(FormVersion.version, FormVersion.id).where(
                FormVersion.form_id == form.id, FormVersion.published_at.is_not(None)
            )
        ).all()
    )
    unknown = [v for v in wanted if v not in rows]
    if unknown:
        raise InvalidValueError(
            f"This form has no published version {unknown[0]!r}. Its versions: "
            f"{', '.join(sorted(rows)) or 'none'}.",
            details={"option": "formVersion"},
        )
    return tuple(rows[v] for v in wanted)


def _private_key(
    session: Session,
    actor: Actor,
    project: Project,
    form: Form,
    options: ExportOptions,
    version_ids: tuple[int, ...],
    private_key_pem: bytes | None,
    rows: ColumnElement[bool],
) -> tuple[Any, int]:
    """The private key to decrypt with and how many selected rows are encrypted. None when none are
    (a form that once was encrypted, exported for a date range or review state without them, needs
    no passphrase). The key is the project's, unlocked with the passphrase, or one the person
    supplies for a form encrypted with a key Ruta does not hold."""
    encrypted = (
        sa.select(sa.func.count())
        .select_from(Submission)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .where(Submission.is_encrypted.is_(True))
    )
    count = int(session.scalar(_selected(encrypted, form.id, options, version_ids, rows)) or 0)
    if not count:
        return None, 0
    if private_key_pem is None and not keys.held_key_matches(session, project, form):
        raise InvalidValueError(
            "This form's submissions are encrypted with a key Ruta does not hold. To export them "
            "decrypted, POST the private key's PEM as privateKey (with its passphrase, if it has one); "
            "it is used for this export only and never stored.",
            details={"option": "privateKey"},
        )
    if private_key_pem is None and options.passphrase is None:
        raise InvalidValueError(
            "This form's submissions are encrypted. Give the project key's passphrase in the "
            "X-Ruta-Passphrase header, or as passphrase in a POST body, to export them decrypted.",
            details={"option": "passphrase"},
        )
    actor.require(session, "submission.decrypt", project)
    if private_key_pem is not None:
        key = keys.supplied_private_key(
            session,
            actor=actor,
            project=project,
            form=form,
            pem=private_key_pem,
            passphrase=options.passphrase,
        )
        return key, count
    unlocked = keys.unlock_private_key(
        session,
        actor=actor,
        project=project,
        passphrase=options.passphrase or "",
        subject=("form", form.xml_form_id),
    )
    return unlocked, count


def prepare(
    session: Session,
    *,
    actor: Actor,
    project: Project,
    form: Form,
    options: ExportOptions,
    fmt: str,
    secret_key: str,
    check: Callable[[Export], object] | None = None,
    private_key_pem: bytes | None = None,
    share_class: str | None = None,
    audited: bool = True,
) -> Export:
    """Check an export request and record it; raises 4xx errors for anything wrong.

    ``private_key_pem`` is a key the person supplies for a form encrypted with a key Ruta does not
    hold; it stays in this request's memory (``Export.private_key``) and is never stored."""
    version = form.current_version
    if version is None:
        raise NotFoundError("This form has no published version yet, so there is nothing to export.")
    schema = FormSchema.from_dict(version.schema)
    output_class = classification.microdata_class(form)
    classification.check_share(share_class, output_class, what="export")
    language = resolve_language(schema.languages, schema.default_language, options.language)
    may_see = sensitive.may_see_sensitive(session, actor, project)
    if options.sensitive == "include" and not may_see:
        raise ForbiddenError(
            "You may not export sensitive fields. Ask a project manager for the sensitive-data grant, "
            "or export with sensitive=omit (the default) or sensitive=pseudonym."
        )
    paths = sensitive.sensitive_paths(schema, project)
    pseudo = None
    if options.sensitive == "omit":
        model = build_model(schema, paths)
    else:
        model = build_model(schema)
        if options.sensitive == "pseudonym":
            pseudo = _pseudonymiser(secret_key, project.id)
    version_ids = published_version_ids(session, form, options.form_versions)
    rows = row_access.visible_rows(session, actor, project)
    key, encrypted = _private_key(session, actor, project, form, options, version_ids, private_key_pem, rows)
    tables = build_tables(
        model,
        schema,
        options,
        language=language,
        pseudonymise=pseudo,
        sensitive=paths,
        decrypting=key is not None,
    )
    export = Export(
        project,
        form,
        schema,
        model,
        tables,
        options,
        version_ids,
        form.id,
        paths,
        key,
        actor=actor,
        rows=rows,
        sensitivity=output_class,
    )
    if check is not None:
        check(export)  # e.g. GeoJSON's geoField and columns: a 400 now, not mid-stream
    if not audited:  # a look at which rows an export would take (the risk check), no file made
        return export
    audit.record(
        session,
        actor=actor,
        action="submission.export",
        project_id=project.id,
        subject_type="form",
        subject_id=form.xml_form_id,
        details={
            "format": fmt,
            "options": options.audit_details(),
            "sensitive": options.sensitive,
            "sensitiveFields": sorted(paths),
            "tables": [t.name for t in tables],
            "rows": row_access.scope_label(session, actor, project),
            "class": output_class,
            "shareClass": share_class,
        },
    )
    if key is not None:
        # The decryption itself, apart from the export: who read encrypted rows, with which key.
        # Rows that fail are recorded once the export has read them (``_record_problems``).
        audit.record(
            session,
            actor=actor,
            action="submission.decrypt",
            project_id=project.id,
            subject_type="form",
            subject_id=form.xml_form_id,
            details={
                "via": "export",
                "format": fmt,
                "key": "supplied" if private_key_pem is not None else "project",
                "encryptedSubmissions": encrypted,
            },
        )
    return export


# Reading -----------------------------------------------------------------------------------------


_Edits = sa.orm.aliased(SubmissionVersion)
# What a page reads, in one query: the submission, its current values (as text, decoded here: cheaper
# than the driver's JSON handling on PostgreSQL), and every ``__system`` column joined in.
_COLUMNS = (
    *ROOT_COLUMNS,
    sa.cast(SubmissionVersion.values, sa.Text).label("values_text"),
    FormVersion.version.label("form_version"),
    User.display_name.label("user_name"),
    AppUser.display_name.label("app_user_name"),
    sa.select(sa.func.count())
    .where(_Edits.submission_id == Submission.id)
    .correlate(Submission)
    .scalar_subquery()
    .label("version_count"),
)


def _query(export: Export) -> Any:
    q = (
        sa.select(*_COLUMNS)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.current_version_id)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .outerjoin(User, User.id == Submission.submitter_user_id)
        .outerjoin(AppUser, AppUser.id == Submission.submitter_app_user_id)
    )
    return _selected(q, export.form_id, export.options, export.version_ids, export.rows)


def _selected(
    q: Any, form_id: int, o: ExportOptions, version_ids: tuple[int, ...], rows: ColumnElement[bool]
) -> Any:
    """``q`` (joined to the current version) narrowed to the rows an export's options select, of the
    rows the asker may see (``rows``, the row filter) and not in the trash."""
    q = q.where(
        Submission.form_id == form_id,
        rows,
        record_scope.visible(),
        Submission.review_state.in_(o.review_states),
    )
    if o.start is not None:
        q = q.where(Submission.created_at >= o.start)
    if o.end is not None:
        q = q.where(Submission.created_at < o.end)
    if version_ids:
        q = q.where(SubmissionVersion.form_version_id.in_(version_ids))
    return q


selected = _selected  # the rows an export selects, for checks run on exactly those rows


def _system(s: Any) -> dict[str, Any]:
    """``__system`` as OData shows it (the keys and formats of ``odata._system``)."""
    submitter = s.submitter_user_id or s.submitter_app_user_id
    return {
        "submissionDate": timestamp(s.created_at),
        "updatedAt": timestamp(s.updated_at),
        "submitterId": None if submitter is None else str(submitter),
        "submitterName": (s.user_name if s.submitter_user_id else s.app_user_name) or None,
        "attachmentsPresent": s.attachments_present or 0,
        "attachmentsExpected": s.attachments_expected or 0,
        "status": "notDecrypted" if s.is_encrypted else None,
        "reviewState": None if s.review_state == "received" else s.review_state,
        "deviceId": s.device_id,
        "edits": max(0, int(s.version_count or 1) - 1),
        "formVersion": s.form_version,
    }


# ``__system.status`` of an encrypted row in an export that decrypts (None: decrypted and verified).
STATUS_NOT_DECRYPTED = "notDecrypted"  # Central's: no key, or the files do not decrypt with it
STATUS_MISSING_XML = "missingEncryptedFormData"  # Central's: submission.xml.enc has not arrived
STATUS_SIGNATURE_INVALID = "signatureInvalid"  # decrypted, but altered since the phone encrypted it
STATUS_UNVERIFIED = "unverified"  # decrypted; a media file is missing or the envelope is unsigned


@dataclass(frozen=True)
class Outcome:
    """One encrypted submission as an export sees it. Only a decrypted row whose signature matched,
    or could not be checked (``STATUS_UNVERIFIED``, said in ``reason``), has values and files: a row
    that fails is reported on its own line and never spoils the others."""

    values: dict[str, Any]
    status: str | None
    reason: str | None
    files: dict[str, bytes]


class _Decrypter:
    """Encrypted submissions decrypted with the export's private key, the signature checked on each."""

    def __init__(self, session: Session, export: Export, store: BlobStore) -> None:
        self.session, self.export, self.store = session, export, store
        self.compiled: dict[int, Any] = {}
        self.envelopes: dict[int, tuple[bytes, int]] = {}
        self.shas: dict[int, list[tuple[str, str]]] = {}

    def _failed(self, instance_id: str, status: str, reason: str) -> Outcome:
        self.export.decrypt_problems.setdefault(instance_id, (status, reason))
        return Outcome({}, status, reason, {})

    def prefetch(self, version_ids: list[int]) -> None:
        """A page's envelopes and attachment rows in two queries, not two per row (the blobs are
        still read one submission at a time, so a page of photos is never in memory at once)."""
        self.envelopes = {}
        self.shas = {vid: [] for vid in version_ids}
        if not version_ids:
            return
        for vid, xml, form_version_id in self.session.execute(
            sa.select(SubmissionVersion.id, SubmissionVersion.xml, SubmissionVersion.form_version_id).where(
                SubmissionVersion.id.in_(version_ids)
            )
        ):
            self.envelopes[vid] = (xml, form_version_id)
        for vid, name, sha in self.session.execute(
            sa.select(
                SubmissionAttachment.submission_version_id,
                SubmissionAttachment.name,
                SubmissionAttachment.blob_sha256,
            ).where(
                SubmissionAttachment.submission_version_id.in_(version_ids),
                SubmissionAttachment.blob_sha256.is_not(None),
                record_scope.live_file(),
            )
        ):
            self.shas[vid].append((str(name), str(sha)))

    def _read(self, version_id: int) -> tuple[tuple[bytes, int] | None, list[tuple[str, str]]]:
        """The envelope (XML, form version) and attachment rows: prefetched, or read now."""
        if version_id in self.shas:
            return self.envelopes.pop(version_id, None), self.shas.pop(version_id)
        # Plain column reads: no ORM objects pile up in the session over a long export.
        row = self.session.execute(
            sa.select(SubmissionVersion.xml, SubmissionVersion.form_version_id).where(
                SubmissionVersion.id == version_id
            )
        ).first()
        shas = self.session.execute(
            sa.select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256).where(
                SubmissionAttachment.submission_version_id == version_id,
                SubmissionAttachment.blob_sha256.is_not(None),
                record_scope.live_file(),
            )
        ).all()
        return (None if row is None else (row.xml, row.form_version_id)), [(str(n), str(h)) for n, h in shas]

    def open(self, version_id: int, instance_id: str) -> Outcome:
        envelope_row, shas = self._read(version_id)
        if envelope_row is None:
            return self._failed(instance_id, STATUS_NOT_DECRYPTED, "the submission has no stored version")
        xml, form_version_id = envelope_row
        parsed = parse_submission(xml)
        if parsed.envelope is None:
            return self._failed(instance_id, STATUS_NOT_DECRYPTED, "the stored envelope is not encrypted")
        # Every file, media too: the signature covers them all, so it is checked on every decrypt.
        try:
            files = {n: self.store.read(sha) for n, sha in shas}
        except OSError:  # a blob lost from disk spoils its row, not the export (no server path shown)
            return self._failed(instance_id, STATUS_NOT_DECRYPTED, "one of its stored files cannot be read")
        if parsed.envelope.xml_file_name not in files:
            return self._failed(
                instance_id,
                STATUS_MISSING_XML,
                f"{parsed.envelope.xml_file_name} has not been received, so there is nothing to decrypt",
            )
        try:
            opened = crypto.open_parsed(self.export.private_key, parsed, files)
        except crypto.CryptoError as err:
            return self._failed(instance_id, STATUS_NOT_DECRYPTED, str(err))
        if opened.signature == crypto.SIGNATURE_INVALID:
            return self._failed(
                instance_id,
                STATUS_SIGNATURE_INVALID,
                "the decrypted files do not match the submission's signature: a file or the signature was "
                "damaged or altered after the phone encrypted it; its values and media are left out",
            )
        try:
            values = self._values(opened.files["submission.xml"], form_version_id)
        except (ValueError, KeyError) as err:  # SubmissionError is a ValueError
            return self._failed(
                instance_id, STATUS_NOT_DECRYPTED, f"the decrypted submission is unreadable: {err}"
            )
        if opened.signature == crypto.SIGNATURE_VALID:
            return Outcome(values, None, None, opened.files)
        if opened.signature == crypto.SIGNATURE_INCOMPLETE:
            names = ", ".join(n.removesuffix(".enc") for n in opened.missing)
            reason = f"not verified: {names} not received yet, so the signature cannot be checked"
        else:
            reason = "not verified: the envelope carries no signature"
        self.export.decrypt_problems.setdefault(instance_id, (STATUS_UNVERIFIED, reason))
        return Outcome(values, STATUS_UNVERIFIED, reason, opened.files)

    def _values(self, xml: bytes, form_version_id: int) -> dict[str, Any]:
        compiled = self.compiled.get(form_version_id)
        if compiled is None:
            sha = self.session.scalar(sa.select(FormVersion.sha256).where(FormVersion.id == form_version_id))
            compiled = (
                version_cache.compiled_schema(self.session, form_version_id, sha)
                if sha is not None
                else compile_schema(self.export.schema)
            )
            self.compiled[form_version_id] = compiled
        return extract_values(parse_submission(xml).root, compiled).values


def _record_problems(session: Session, export: Export) -> None:
    """Once an export has read every row: the rows that did not decrypt cleanly, in the audit log
    (at most ``_PROBLEMS_AUDITED`` named; the count is exact)."""
    if export.problems_recorded or not export.decrypt_problems:
        return
    export.problems_recorded = True
    problems = export.decrypt_problems
    audit.record(
        session,
        actor=export.actor,
        action="submission.decrypt.failed",
        project_id=export.project.id,
        subject_type="form",
        subject_id=export.form.xml_form_id,
        details={
            "via": "export",
            "count": len(problems),
            "rows": [
                {"instanceId": iid, "status": status, "reason": reason}
                for iid, (status, reason) in list(problems.items())[:_PROBLEMS_AUDITED]
            ],
        },
    )
    if export.between_pages is not None:
        export.between_pages()  # commits it
    else:
        session.flush()


_PROBLEMS_AUDITED = 100


def _pages(
    session: Session, export: Export, system: bool, store: BlobStore | None
) -> Generator[list[tuple[Any, dict[str, Any], dict[str, Any]]], None, None]:
    decrypting = export.private_key is not None and store is not None
    decrypter = _Decrypter(session, export, store) if decrypting and store is not None else None
    for page in _raw_pages(session, _query(export)):
        batch = []
        if decrypter is not None:
            decrypter.prefetch(
                [s.current_version_id for s in page if s.is_encrypted and s.current_version_id]
            )
        for sub in page:
            values = _loads(sub.values_text)
            sys = _system(sub) if system else {}
            if sub.is_encrypted and decrypter is not None and sub.current_version_id:
                outcome = decrypter.open(sub.current_version_id, sub.instance_id)
                values = outcome.values
                if system:
                    sys["status"] = outcome.status
                    sys["statusReason"] = outcome.reason
            batch.append((sub, values, sys))
        # The page is in memory: end the read before handing rows out, so a slow client never holds
        # a transaction (or SQLite's lock) open.
        if export.between_pages is not None:
            export.between_pages()
        if not batch:
            if decrypter is not None:
                _record_problems(session, export)
            return
        yield batch


def _raw_pages(session: Session, query: Any) -> Iterator[list[Any]]:
    """The matching rows, ``PAGE`` at a time by keyset on the id, ending with an empty page."""
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        yield from _prefetched_pages(bind, query)
        return
    last = 0
    while True:
        page = list(session.execute(query.where(Submission.id > last).order_by(Submission.id).limit(PAGE)))
        yield page
        if not page:
            return
        last = page[-1].id


def _prefetched_pages(engine: sa.Engine, query: Any) -> Iterator[list[Any]]:
    """PostgreSQL: the next page is read on a second connection by a helper thread while this one
    turns the current page into rows, so the database's share (~40 ms a page, mostly jsonb to text)
    overlaps the export's CPU instead of adding to it. Each page is its own short read, as without
    the thread (keyset paging needs no snapshot across pages). At most two pages wait in memory; a
    consumer that stops early (a client gone) stops the reader."""
    pages: queue.Queue[list[Any] | BaseException] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def offer(item: list[Any] | BaseException) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            last = 0
            with engine.connect() as conn:
                while True:
                    page = list(
                        conn.execute(query.where(Submission.id > last).order_by(Submission.id).limit(PAGE))
                    )
                    conn.rollback()  # end this page's read: no transaction held while waiting
                    if not offer(page) or not page:
                        return
                    last = page[-1].id
        except BaseException as err:  # handed to the consumer, which raises it
            offer(err)

    reader = threading.Thread(target=read, name="export-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            item = pages.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if not item:
                return
    finally:
        stop.set()
        reader.join(timeout=5)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = True


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off while exports run. An export allocates a few hundred containers
    per submission (decoded values, rows), none in cycles, so reference counting frees them all; but
    each page held in memory keeps triggering full collections that walk the whole heap, which cost a
    third of a large export's time (measured). Process-wide, so counted across concurrent exports;
    other requests' cyclic garbage waits until the last export ends."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def submissions(
    session: Session, export: Export, *, system: bool, store: BlobStore | None = None
) -> Iterator[tuple[Any, dict[str, Any], dict[str, Any]]]:
    """(row, values, __system) for every matching submission, in id order, ``PAGE`` per query.

    ``export.between_pages`` runs once a page is read: the web layer ends the read transaction there,
    so a long export never holds SQLite's lock (Ruta begins every transaction IMMEDIATE) while rows
    are written out and writers go on while it streams; keyset paging needs no snapshot across pages."""
    with _gc_paused():
        for batch in _pages(session, export, system, store):
            yield from batch


def table_rows(
    session: Session, export: Export, specs: list[TableSpec], store: BlobStore | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """(index in ``specs``, row) for every row of the given tables, in one pass over the submissions
    (each submission's rows together: its root row, then its repeat rows table by table)."""
    system = any(spec.is_root for spec in specs)
    for sub, values, sys in submissions(session, export, system=system, store=store):
        for index, spec in enumerate(specs):
            for _, row in rows_with_frames(spec, sub.instance_id, values, sys):
                yield index, row


# Media -------------------------------------------------------------------------------------------


def _binary_names(nodes: list[Node], values: dict[str, Any], out: set[str]) -> None:
    for node in nodes:
        value = values.get(node.key)
        if node.kind == GROUP:
            _binary_names(node.children, value if isinstance(value, dict) else {}, out)
        elif node.kind == REPEAT:
            for inst in repeat_instances(value):
                _binary_names(node.children, inst, out)
        elif node.field.type == "binary" and isinstance(value, str) and value:
            out.add(value)


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "_"


def media_files(session: Session, export: Export, store: BlobStore) -> Iterator[tuple[str, Iterable[bytes]]]:
    """``media/<instance id>/<file name>`` for every file a visible field of a matching submission
    names (a file of a left-out sensitive field is left out too). An encrypted submission's files are
    decrypted, and only when its signature matched (or could not be checked: see ``Outcome``)."""
    decrypter = _Decrypter(session, export, store) if export.private_key is not None else None
    # No store for the pass itself: an encrypted row is opened here, once, for its values and files
    # together (the tables' pass opened it for its values alone; keeping a page of decrypted photos
    # from there would hold them all in memory).
    for sub, values, _ in submissions(session, export, system=False):
        if not sub.current_version_id:
            continue
        folder = f"media/{safe_name(sub.instance_id)}"
        names: set[str] = set()
        if sub.is_encrypted:
            # attachmentsExpected counts the envelope's media plus its submission.xml.enc: a row with
            # nothing more has no media to decrypt, so it is not opened a second time.
            if decrypter is None or (sub.attachments_expected or 0) <= 1:
                continue
            outcome = decrypter.open(sub.current_version_id, sub.instance_id)
            if export.between_pages is not None:
                export.between_pages()
            _binary_names(export.model.roots, outcome.values, names)
            for name in sorted(names):
                if name in outcome.files:
                    yield f"{folder}/{safe_name(name)}", [outcome.files[name]]
            continue
        _binary_names(export.model.roots, values, names)
        if not names:
            continue
        rows = session.execute(
            sa.select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256).where(
                SubmissionAttachment.submission_version_id == sub.current_version_id,
                SubmissionAttachment.blob_sha256.is_not(None),
                record_scope.live_file(),
                SubmissionAttachment.name.in_(sorted(names)),
            )
        ).all()
        if export.between_pages is not None:
            export.between_pages()
        for name, sha in rows:
            yield f"{folder}/{safe_name(name)}", [store.read(str(sha))]
