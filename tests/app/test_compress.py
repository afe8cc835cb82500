"""gzip on compressible responses for clients that accept it (Collect's OkHttp, Enketo, pyodk and
requests all send ``Accept-Encoding: gzip``), with ETags that stay correct for each representation."""

from __future__ import annotations

import gzip
import hashlib
import re

from tests.app.conftest import World
from tests.app.household import household_form
from tests.app.openrosa_helpers import OR_HEADERS, device_token, publish_xml, root

GZIP = {"Accept-Encoding": "gzip, deflate"}


def test_formlist_xform_and_json_are_gzipped_for_clients_that_ask(world: World) -> None:
    xform = household_form()
    publish_xml(world, xform)
    for n in range(6):  # a formList worth compressing (small bodies are left alone)
        publish_xml(world, household_form(f"household{n}"))
    base = root(world, device_token(world)["token"])
    plain = world.client.get(f"{base}/formList", headers=OR_HEADERS)
    zipped = world.client.get(f"{base}/formList", headers={**OR_HEADERS, **GZIP})
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["X-OpenRosa-Version"] == "1.0"
    # The form: what Collect checks against formList's md5 is the decoded body, which is unchanged.
    md5 = re.search(rb"<hash>md5:([0-9a-f]+)</hash>", plain.data)
    assert md5 is not None
    url = f"{base}/formList/household.xml"
    got = world.client.get(url, headers={**OR_HEADERS, **GZIP})
    body = gzip.decompress(got.data)
    assert hashlib.md5(body).hexdigest() == md5.group(1).decode() and body == xform
    assert len(got.data) < len(xform) / 3
    # Each representation has its own strong ETag; either one revalidates to a 304 with the right tag.
    identity = world.client.get(url, headers=OR_HEADERS)
    assert identity.headers["ETag"] == f'"{md5.group(1).decode()}"'
    assert got.headers["ETag"] == f'"{md5.group(1).decode()}-gzip"'
    again = world.client.get(url, headers={**OR_HEADERS, **GZIP, "If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == got.headers["ETag"] and not again.data
    same = world.client.get(url, headers={**OR_HEADERS, "If-None-Match": identity.headers["ETag"]})
    assert same.status_code == 304 and same.headers["ETag"] == identity.headers["ETag"]
    stale = world.client.get(url, headers={**OR_HEADERS, **GZIP, "If-None-Match": '"0000-gzip"'})
    assert stale.status_code == 200 and gzip.decompress(stale.data) == xform
    # HEAD announces the same headers as GET.
    head = world.client.head(url, headers={**OR_HEADERS, **GZIP})
    assert head.headers["Content-Encoding"] == "gzip" and head.headers["ETag"] == got.headers["ETag"]
    # JSON of the API too.
    forms = f"/v1/projects/{world.project_id}/forms/household/versions"
    listing = world.client.get(forms, headers={**world.headers("manager"), **GZIP})
    assert listing.status_code == 200
    if len(world.client.get(forms, headers=world.headers("manager")).data) >= 1024:
        assert listing.headers["Content-Encoding"] == "gzip"
    big = world.client.get(
        f"/v1/projects/{world.project_id}/forms/household.xml", headers={**world.headers("manager"), **GZIP}
    )
    assert big.headers["Content-Encoding"] == "gzip" and gzip.decompress(big.data) == xform


def test_left_alone_small_errors_and_unaccepted(world: World) -> None:
    publish_xml(world, household_form())
    base = root(world, device_token(world)["token"])
    refused = world.client.get(f"{base}/formList", headers={**OR_HEADERS, "Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    missing = world.client.get(f"{base}/formList/nope.xml", headers={**OR_HEADERS, **GZIP})
    assert missing.status_code == 404 and "Content-Encoding" not in missing.headers
    small = world.client.get("/v1/health", headers=GZIP)
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
