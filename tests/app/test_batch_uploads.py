"""Resumable batch uploads (``.../submissions/batch/uploads/<sha256>``) and batch bodies compressed as one
stream (``Content-Encoding: bzip2|gzip``), as a field hub on a 2G link sends them."""

from __future__ import annotations

import gzip
import hashlib
import random
from typing import Any

from sqlalchemy import func, select

from app.db import get_database
from app.models import SubmissionVersion
from sync.hub_client import OutgoingInstance, build_zip, encode_body
from tests.app.conftest import World
from tests.app.hub_helpers import issue_hub
from tests.app.openrosa_helpers import SIMPLE_FORM, instance, publish_xml


def _hub(token: str) -> dict[str, str]:
    return {"Authorization": f"Hub {token}"}


def _body(n: int, tag: str = "u") -> bytes:
    photo = random.Random(n).randbytes(20_000)
    return encode_body(
        [OutgoingInstance(f"i{i}", instance(f"uuid:{tag}-{i}"), [("a.jpg", photo)]) for i in range(n)]
    )


def _uploads(world: World, upload_id: str) -> str:
    return f"/v1/projects/{world.project_id}/submissions/batch/uploads/{upload_id}"


def _put(world: World, token: str, body: bytes, start: int, end: int) -> Any:
    return world.client.put(
        _uploads(world, hashlib.sha256(body).hexdigest()),
        data=body[start:end],
        headers={**_hub(token), "Content-Range": f"bytes {start}-{end - 1}/{len(body)}"},
    )


def _ingest(world: World, token: str, body: bytes) -> Any:
    return world.client.post(
        _uploads(world, hashlib.sha256(body).hexdigest()) + "/ingest",
        headers={**_hub(token), "Content-Type": "application/zip", "Content-Encoding": "bzip2"},
    )


def _stored(world: World) -> int:
    with world.app.app_context(), get_database(world.app).session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(SubmissionVersion)) or 0)


def test_upload_in_chunks_resume_and_ingest_once(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    _, token = issue_hub(world)
    body = _body(5)
    url = _uploads(world, hashlib.sha256(body).hexdigest())
    assert world.client.get(url, headers=_hub(token)).json == {"received": 0, "answer": None}
    third = len(body) // 3
    assert _put(world, token, body, 0, third).json == {"received": third, "total": len(body)}
    # A chunk that would leave a gap is refused with where to resume.
    gap = _put(world, token, body, 2 * third, len(body))
    assert gap.status_code == 409 and gap.json["details"] == {"received": third}, gap.json
    # A retried chunk overlapping what is held only adds what is new.
    assert _put(world, token, body, third - 100, 2 * third).json["received"] == 2 * third
    assert world.client.get(url, headers=_hub(token)).json["received"] == 2 * third
    early = _ingest(world, token, body)
    assert early.status_code == 400 and early.json["code"] == "400.22", early.json  # incomplete: discarded
    assert world.client.get(url, headers=_hub(token)).json["received"] == 0
    assert _put(world, token, body, 0, len(body)).json["received"] == len(body)
    answer = _ingest(world, token, body)
    assert answer.status_code == 200, answer.json
    assert answer.json["counts"] == {"created": 5}
    assert all(r["filesAdded"] == ["a.jpg"] for r in answer.json["results"])
    # Asked again (the first answer lost on the way): the same answer, nothing ingested twice.
    again = _ingest(world, token, body)
    assert again.json == answer.json and _stored(world) == 5
    assert world.client.get(url, headers=_hub(token)).json["answer"] == answer.json


def test_uploads_are_per_sender_and_checked(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    _, token = issue_hub(world)
    _, other = issue_hub(world, "Other office")
    body = _body(2, "p")
    assert _put(world, token, body, 0, 1000).json["received"] == 1000
    url = _uploads(world, hashlib.sha256(body).hexdigest())
    assert world.client.get(url, headers=_hub(other)).json["received"] == 0  # another hub sees nothing
    assert world.client.get(url).status_code == 401
    assert world.client.get(url, headers=world.headers("analyst")).status_code == 403
    bad_id = world.client.get(_uploads(world, "../../etc"), headers=_hub(token))
    assert bad_id.status_code in {400, 404}
    assert world.client.get(_uploads(world, "ab" * 31 + "zz"), headers=_hub(token)).json["code"] == "400.22"
    no_range = world.client.put(url, data=b"x", headers=_hub(token))
    assert no_range.status_code == 400 and "Content-Range" in no_range.json["message"]
    past = world.client.put(url, data=b"xx", headers={**_hub(token), "Content-Range": "bytes 0-1/1"})
    assert past.status_code == 400
    wrong_length = world.client.put(
        url, data=b"xyz", headers={**_hub(token), "Content-Range": f"bytes 1000-1001/{len(body)}"}
    )
    assert wrong_length.status_code == 400
    # Bytes that do not hash to the id are refused at ingest and discarded.
    forged = b"x" * len(body)
    forged_url = _uploads(world, hashlib.sha256(body + b"!").hexdigest())
    put = world.client.put(
        forged_url,
        data=forged,
        headers={**_hub(token), "Content-Range": f"bytes 0-{len(forged) - 1}/{len(forged)}"},
    )
    assert put.status_code == 200
    refused = world.client.post(
        forged_url + "/ingest", headers={**_hub(token), "Content-Type": "application/zip"}
    )
    assert refused.status_code == 400 and "hash" in refused.json["message"]
    assert _stored(world) == 0


def test_batch_compressed_as_one_stream(world: World) -> None:
    publish_xml(world, SIMPLE_FORM)
    _, token = issue_hub(world)
    url = f"/v1/projects/{world.project_id}/submissions/batch"
    zipped = build_zip(
        [OutgoingInstance(f"g{i}", instance(f"uuid:g-{i}"), []) for i in range(3)], stored=True
    )
    for encoding, body in (("gzip", gzip.compress(zipped)), ("bzip2", _body(2, "b"))):
        res = world.client.post(
            url,
            data=body,
            headers={**_hub(token), "Content-Type": "application/zip", "Content-Encoding": encoding},
        )
        assert res.status_code == 200 and set(res.json["counts"]) == {"created"}, (encoding, res.json)
    garbage = world.client.post(
        url,
        data=b"not bzip2",
        headers={**_hub(token), "Content-Type": "application/zip", "Content-Encoding": "bzip2"},
    )
    assert garbage.status_code == 400 and garbage.json["code"] == "400.20"
    unknown = world.client.post(
        url, data=zipped, headers={**_hub(token), "Content-Type": "application/zip", "Content-Encoding": "br"}
    )
    assert unknown.status_code == 415
    # A stream that inflates past the batch's inflated limit is refused before it is all inflated.
    world.app.config["MAX_BATCH_INFLATED_BYTES"] = 1_000_000
    try:
        bomb = gzip.compress(b"\0" * 5_000_000)
        res = world.client.post(
            url,
            data=bomb,
            headers={**_hub(token), "Content-Type": "application/zip", "Content-Encoding": "gzip"},
        )
        assert res.status_code == 400 and res.json["code"] == "400.21", res.json
    finally:
        world.app.config.pop("MAX_BATCH_INFLATED_BYTES")
    assert _stored(world) == 5
