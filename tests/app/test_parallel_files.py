"""Collect splits a large submission into several POSTs; sent in parallel to a live server, every file is
stored and the record's attachment count says so (it was a lost update on PostgreSQL: 16 files stored,
"14 of 16 missing" shown). A resend repairs a count that an older server got wrong."""

from __future__ import annotations

import os
import threading

import pytest
import requests
from sqlalchemy import select, update

from app.db import get_database
from app.models import Submission, SubmissionAttachment
from tests.app.conftest import World
from tests.app.openrosa_helpers import device_token, publish_xml

N = 16
FORM = (
    b'<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">'
    b'<h:head><h:title>Many photos</h:title><model><instance><data id="many" version="1">'
    + b"".join(f"<p{i}/>".encode() for i in range(N))
    + b"<meta><instanceID/></meta></data></instance>"
    + b"".join(f'<bind nodeset="/data/p{i}" type="binary"/>'.encode() for i in range(N))
    + b"</model></h:head><h:body>"
    + b"".join(f'<upload ref="/data/p{i}"><label>{i}</label></upload>'.encode() for i in range(N))
    + b"</h:body></h:html>"
)
XML = (
    b'<data id="many" version="1">'
    + b"".join(f"<p{i}>p{i}.jpg</p{i}>".encode() for i in range(N))
    + b"<meta><instanceID>uuid:parallel-files</instanceID></meta></data>"
)
PHOTOS = {f"p{i}.jpg": os.urandom(2_000) for i in range(N)}


def _post(url: str, names: list[str]) -> int:
    files = [("xml_submission_file", ("xml_submission_file.xml", XML, "text/xml"))]
    files += [(n, (n, PHOTOS[n], "image/jpeg")) for n in names]
    res = requests.post(url, files=files, headers={"X-OpenRosa-Version": "1.0"}, timeout=60)
    return res.status_code


def _counts(world: World) -> tuple[int, int, int]:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        sub = s.scalars(select(Submission)).one()
        stored = sum(1 for a in s.scalars(select(SubmissionAttachment)) if a.blob_sha256)
        return sub.attachments_expected, sub.attachments_present, stored


def _flag_codes(world: World) -> str:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return s.scalars(select(Submission.flag_codes)).one()


@pytest.mark.slow
def test_parallel_posts_of_one_submissions_files_count_every_file(world: World, live: str) -> None:
    publish_xml(world, FORM)
    url = f"{live}/v1/key/{device_token(world)['token']}/projects/{world.project_id}/submission"
    # The record first (as Collect's first POST), then the other files in parallel, one per POST.
    assert _post(url, ["p0.jpg"]) == 201
    names = [f"p{i}.jpg" for i in range(1, N)]
    barrier = threading.Barrier(len(names))
    statuses: list[int] = []

    def send(name: str) -> None:
        barrier.wait()
        statuses.append(_post(url, [name]))

    threads = [threading.Thread(target=send, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses) == [201] * len(names)
    assert _counts(world) == (N, N, N)
    assert "attachments_missing" not in _flag_codes(world)


@pytest.mark.slow
def test_parallel_first_posts_race_and_still_count_every_file(world: World, live: str) -> None:
    """No record yet: the POSTs race to create it; the losers add their files to the winner's."""
    publish_xml(world, FORM)
    url = f"{live}/v1/key/{device_token(world)['token']}/projects/{world.project_id}/submission"
    groups = [[f"p{i}.jpg", f"p{i + 1}.jpg"] for i in range(0, N, 2)]
    barrier = threading.Barrier(len(groups))
    statuses: list[int] = []

    def send(group: list[str]) -> None:
        barrier.wait()
        statuses.append(_post(url, group))

    threads = [threading.Thread(target=send, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(statuses) == [201] * len(groups)
    assert _counts(world) == (N, N, N)


def test_a_resend_repairs_a_wrong_count(world: World, live: str) -> None:
    publish_xml(world, FORM)
    url = f"{live}/v1/key/{device_token(world)['token']}/projects/{world.project_id}/submission"
    assert _post(url, list(PHOTOS)) == 201
    assert "attachments_missing" not in _flag_codes(world)
    # What the lost update left behind on an older server.
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        s.execute(update(Submission).values(attachments_present=2))
        s.commit()
    assert _counts(world) == (N, 2, N)
    assert _post(url, []) == 202  # nothing new, but the count is recomputed from the files
    assert _counts(world) == (N, N, N)
    assert "attachments_missing" not in _flag_codes(world)
