"""Pure batch reading and the hub client: layouts, hostile paths, Kobo JSON, retries with backoff."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests

from forms import safe_xml
from sync import batch
from sync.hub_client import HubClient, HubClientError, OutgoingInstance, build_zip


def _zip(entries: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_collect_layout_groups_instances_in_order_with_media_read_lazily() -> None:
    items = batch.read_zip(
        _zip(
            {
                "instances/b_2026/b_2026.xml": b"<b/>",
                "instances/b_2026/photo.jpg": b"JPEG",
                "a/submission.xml": b"<a/>",
                "a/submission.xml.enc": b"ENC",
                "c/only.xml": b"<c/>",
                "d/one.xml": b"<d1/>",
                "d/two.xml": b"<d2/>",
                "instances/": b"",
            }
        )
    )
    assert [i.key for i in items] == ["b_2026", "a", "c", "d"]
    assert items[0].xml == b"<b/>" and [(f.name, f.read()) for f in items[0].files] == [
        ("photo.jpg", b"JPEG")
    ]
    assert items[1].xml == b"<a/>" and [f.name for f in items[1].files] == ["submission.xml.enc"]
    assert items[2].xml == b"<c/>"
    assert items[3].xml is None and items[3].error and "d.xml" in items[3].error


@pytest.mark.parametrize(
    "path", ["../x/x.xml", "a/../../x.xml", "/etc/x.xml", "C:/x/x.xml", "a\\b/x.xml", "a/b/c/x.xml", "x.xml"]
)
def test_paths_outside_a_folder_refuse_the_batch(path: str) -> None:
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(_zip({"ok/ok.xml": b"<ok/>", path: b"x"}))
    assert err.value.code == batch.UNSAFE_PATH and path.split("/")[-1] in err.value.message


def test_symlink_entry_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("a/link.jpg")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    buf.seek(0)
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(buf)
    assert "symbolic link" in err.value.message


def test_limits() -> None:
    limits = batch.BatchLimits(max_entries=3, max_entry_bytes=100, max_total_bytes=150)
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(_zip({f"f{i}/f{i}.xml": b"<x/>" for i in range(4)}), limits)
    assert err.value.code == batch.TOO_MANY_ENTRIES
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(_zip({"a/a.xml": b"x" * 101}), limits)
    assert err.value.code == batch.ENTRY_TOO_LARGE
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(_zip({"a/a.xml": b"x" * 80, "b/b.xml": b"y" * 80}), limits)
    assert err.value.code == batch.BATCH_TOO_LARGE
    with pytest.raises(batch.BatchError) as err:
        batch.read_zip(io.BytesIO(b"not a zip"))
    assert err.value.code == batch.NOT_A_ZIP


def test_kobo_json_becomes_instance_xml() -> None:
    xml = batch.json_submission_xml(
        {
            "id": "needs",
            "submission": {
                "hh": {"size": 4, "head": "Ana"},
                "child": [{"age": 3}, {"age": 7}],
                "needs": ["food", "water"],
                "pregnant": False,
                "note": None,
                "meta": {"instanceID": "uuid:1"},
                "__version__": "v2",
            },
        }
    )
    root = safe_xml.parse(xml)
    assert root.tag == "needs" and root.get("id") == "needs" and root.get("version") == "v2"
    assert root.findtext("hh/size") == "4" and [c.findtext("age") for c in root.findall("child")] == [
        "3",
        "7",
    ]
    assert root.findtext("needs") == "food water" and root.findtext("pregnant") == "false"
    assert root.findtext("meta/instanceID") == "uuid:1"
    for bad in ({"submission": {}}, {"id": "x"}, {"id": "x", "submission": {"bad name": 1}}):
        with pytest.raises(ValueError):
            batch.json_submission_xml(bad)
    items = batch.read_json(b'[{"id": "x", "submission": {"a": "<&>"}}, 5]')
    assert items[0].xml is not None and safe_xml.parse(items[0].xml).findtext("a") == "<&>"
    assert items[1].error is not None


def test_build_zip_round_trips_through_the_reader() -> None:
    data = build_zip(
        [
            OutgoingInstance("v1", b"<a/>", [("a.jpg", b"J")], {"deviceId": "collect:1"}),
            OutgoingInstance("v2", b"<b/>"),
        ]
    )
    items = batch.read_zip(io.BytesIO(data))
    assert [(i.key, i.xml, i.meta) for i in items] == [
        ("v1", b"<a/>", {"deviceId": "collect:1"}),
        ("v2", b"<b/>", {}),
    ]


class _FakeHTTP:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[tuple[str, str]] = []
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **_: Any) -> Any:
        self.calls.append((method, url))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        res = requests.Response()
        res.status_code, res._content = outcome
        return res


def test_client_retries_drops_and_5xx_with_backoff_then_gives_up() -> None:
    sleeps: list[float] = []
    client = HubClient("http://central/", 7, "tok", retries=3, backoff=0.5, sleep=sleeps.append)
    fake = _FakeHTTP([requests.ConnectionError(), (503, b"{}"), (200, b'{"results": [], "counts": {}}')])
    client.http = fake  # type: ignore[assignment]
    assert client.push_batch(b"zip") == {"results": [], "counts": {}}
    assert sleeps == [0.5, 1.0] and fake.calls[0] == (
        "POST",
        "http://central/v1/projects/7/submissions/batch",
    )
    fake.outcomes = [requests.ConnectionError()] * 4
    with pytest.raises(HubClientError) as err:
        client.whoami()
    assert "after 4 attempts" in err.value.message
    fake.outcomes = [(403, b'{"message": "another project", "code": "403.10"}')]
    with pytest.raises(HubClientError) as refused:
        client.forms()  # a 4xx is an answer, not a dropped link: no retry
    assert refused.value.status == 403 and "another project" in refused.value.message
