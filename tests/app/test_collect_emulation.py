"""Collect, emulated over real HTTP: HEAD for the advertised length, files split across POSTs with
*isIncomplete*, a connection dropped mid-upload, identical resends -- ending with one complete
submission and every file present."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from app.db import get_database
from app.models import Submission, SubmissionAttachment
from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token, publish_xml

FORM = b"""<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
<h:head><h:title>Photos</h:title><model><instance><data id="photos" version="1">
<p1/><p2/><p3/><p4/><meta><instanceID/></meta></data></instance>
<bind nodeset="/data/p1" type="binary"/><bind nodeset="/data/p2" type="binary"/>
<bind nodeset="/data/p3" type="binary"/><bind nodeset="/data/p4" type="binary"/></model></h:head>
<h:body><upload ref="/data/p1" mediatype="image/*"><label>1</label></upload>
<upload ref="/data/p2" mediatype="image/*"><label>2</label></upload>
<upload ref="/data/p3" mediatype="image/*"><label>3</label></upload>
<upload ref="/data/p4" mediatype="image/*"><label>4</label></upload></h:body></h:html>"""

XML = (
    b'<data id="photos" version="1"><p1>p1.jpg</p1><p2>p2.jpg</p2><p3>p3.jpg</p3><p4>p4.jpg</p4>'
    b"<meta><instanceID>uuid:collect-emulation</instanceID></meta></data>"
)
PHOTOS = {f"p{i}.jpg": os.urandom(60_000) for i in range(1, 5)}


@pytest.fixture
def live(world: World) -> Iterator[str]:
    world.app.config["MAX_SUBMISSION_BYTES"] = 150_000  # small, so Collect must split
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _batches(limit: int) -> list[list[str]]:
    """Collect's rule: start a new POST when the next file would pass the advertised length."""
    batches: list[list[str]] = [[]]
    size = len(XML)
    for name, data in PHOTOS.items():
        if batches[-1] and size + len(data) > limit:
            batches.append([])
            size = len(XML)
        batches[-1].append(name)
        size += len(data)
    return batches


def _post(url: str, names: list[str], incomplete: bool) -> requests.Response:
    files = [("xml_submission_file", ("xml_submission_file.xml", XML, "text/xml"))]
    files += [(n, (n, PHOTOS[n], "image/jpeg")) for n in names]
    data = {"*isIncomplete*": "yes"} if incomplete else {}
    return requests.post(url, files=files, data=data, headers={"X-OpenRosa-Version": "1.0"}, timeout=30)


def _drop_mid_upload(url: str) -> None:
    """Send headers and half a body, then close: a phone losing signal mid-request."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    body = (
        b'--b\r\nContent-Disposition: form-data; name="xml_submission_file"; filename="x.xml"\r\n\r\n' + XML
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host_port}\r\nX-OpenRosa-Version: 1.0\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 200000\r\n\r\n".encode()
            + body
        )


@pytest.mark.slow
def test_split_posts_dropped_connection_and_resends_end_complete(world: World, live: str) -> None:
    publish_xml(world, FORM)
    url = f"{live}/v1/key/{device_token(world)['token']}/projects/{world.project_id}/submission"
    head = requests.head(url, headers={"X-OpenRosa-Version": "1.0"}, timeout=10)
    assert head.status_code == 204
    limit = int(head.headers["X-OpenRosa-Accept-Content-Length"])
    batches = _batches(limit)
    assert len(batches) >= 2
    _drop_mid_upload(url)  # the first attempt dies on the way
    statuses = []
    for i, names in enumerate(batches):
        statuses.append(_post(url, names, incomplete=i < len(batches) - 1).status_code)
    assert statuses == [201] * len(batches)
    # The phone did not hear the last answer and sends everything again, batch by batch.
    assert [_post(url, names, incomplete=False).status_code for names in batches] == [202] * len(batches)
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        subs = list(s.scalars(select(Submission)))
        assert len(subs) == 1
        assert (subs[0].attachments_expected, subs[0].attachments_present) == (4, 4)
        stored = {a.name for a in s.scalars(select(SubmissionAttachment)) if a.blob_sha256}
        assert stored == set(PHOTOS)
