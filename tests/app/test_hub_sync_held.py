"""The hub's files phase sends photos without their XML (named by instanceID and sha256); an item the
central side refuses that way (it lacks the XML, or predates this) goes again with its XML, so the
files cursor never moves past a file the central side did not take."""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import zipfile
from typing import Any

from app.hub_sync import Progress, Syncer
from app.services.hubs import link as hub_link


class _Store:
    def read(self, sha: str) -> bytes:
        return {hashlib.sha256(b"photo").hexdigest(): b"photo"}[sha]


class _Central:
    """Answers each upload from a script and keeps the bodies it was sent."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.sent: list[tuple[bytes, str]] = []

    def upload(self, body: bytes, *, on_progress: Any = None, encoding: str = "bzip2") -> dict[str, Any]:
        self.sent.append((body, encoding))
        return self.answers.pop(0)


def _entries(body: bytes, encoding: str) -> dict[str, bytes]:
    raw = bz2.decompress(body) if encoding == "bzip2" else body
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _syncer() -> Syncer:
    syncer = Syncer.__new__(Syncer)  # no app: _upload needs only the store, progress and tally
    syncer.store = _Store()  # type: ignore[assignment]
    syncer.progress = Progress(None)
    syncer.tally = hub_link.PushTally()
    return syncer


XML = b'<data id="f"><a>1</a><meta><instanceID>uuid:a</instanceID></meta></data>'
ITEM = hub_link.Pending(7, XML, [("a.jpg", hashlib.sha256(b"photo").hexdigest())], {}, "uuid:a")


def test_files_go_without_their_xml_and_again_with_it_when_refused() -> None:
    central = _Central(
        [
            {"results": [{"key": "v7", "status": "error", "message": "not held here"}]},
            {"results": [{"key": "v7", "status": "duplicate", "filesAdded": ["a.jpg"]}]},
        ]
    )
    syncer = _syncer()
    answer, _, sent = syncer._upload(central, [ITEM], "files", held=True)  # type: ignore[arg-type]
    first, second = (_entries(*s) for s in central.sent)
    assert "instances/v7/v7.xml" not in first and first["instances/v7/a.jpg"] == b"photo"
    held = json.loads(first["batch.json"])["v7"]["heldXml"]
    assert held == {"instanceId": "uuid:a", "sha256": hashlib.sha256(XML).hexdigest()}
    assert second["instances/v7/v7.xml"] == XML and second["instances/v7/a.jpg"] == b"photo"
    assert answer["results"] == [{"key": "v7", "status": "duplicate", "filesAdded": ["a.jpg"]}]
    assert syncer.tally.failures == [] and sent == sum(len(b) for b, _ in central.sent)


def test_files_taken_without_their_xml_are_sent_once() -> None:
    central = _Central([{"results": [{"key": "v7", "status": "duplicate", "filesAdded": ["a.jpg"]}]}])
    syncer = _syncer()
    syncer._upload(central, [ITEM], "files", held=True)  # type: ignore[arg-type]
    assert len(central.sent) == 1
