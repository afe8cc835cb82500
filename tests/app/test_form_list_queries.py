"""formList and the manifest cost a fixed number of SQL statements, however many forms or media files a
project has (Collect asks for the formList on every "Get blank form" and update check). Timings are in
tests/benchmarks/bench_form_list.py; here only the statement counts, which do not depend on the machine."""

from __future__ import annotations

import re

from tests.app.conftest import World
from tests.app.openrosa_helpers import OR_HEADERS, device_token, form_xml, root
from tests.app.test_openrosa_hot_path import counted_statements


def _publish(world: World, headers: dict[str, str], xml: bytes, *, publish: bool = True) -> None:
    res = world.client.post(
        f"/v1/projects/{world.project_id}/forms?publish={str(publish).lower()}&ignoreWarnings=true&overrideReason=fixture",
        data=xml,
        content_type="application/xml",
        headers=headers,
    )
    assert res.status_code == 200, res.json


def _form_list(world: World, base: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    with counted_statements(world) as statements:
        res = world.client.get(f"{base}/formList", headers={**OR_HEADERS, **headers})
    assert res.status_code == 200, res.data
    ids = re.findall(r"<formID>([^<]+)</formID>", res.text)
    return len(statements), ids


def test_form_list_costs_the_same_statements_for_1_20_and_100_forms(world: World) -> None:
    admin = world.headers("admin")
    everything = root(world, device_token(world)["token"])
    account = f"/v1/projects/{world.project_id}"
    counts: dict[str, list[int]] = {"token": [], "limited token": [], "account": []}
    published = 0
    for size in (1, 20, 100):
        while published < size:
            # Every third form expects media: its entry carries a manifest URL (an EXISTS in the query).
            _publish(world, admin, form_xml(f"f{published:03d}", media=1 if published % 3 == 0 else 0))
            published += 1
        if size == 1:
            some = root(world, device_token(world, forms=["f000"])["token"])
            for base in (everything, some):  # a device's first request records when it was last seen
                _form_list(world, base, {})
        n, ids = _form_list(world, everything, {})
        assert ids == [f"f{i:03d}" for i in range(size)]
        counts["token"].append(n)
        n, ids = _form_list(world, some, {})
        assert ids == ["f000"]
        counts["limited token"].append(n)
        n, ids = _form_list(world, account, world.basic("manager"))
        assert len(ids) == size
        counts["account"].append(n)
    for who, per_size in counts.items():
        assert len(set(per_size)) == 1, (who, per_size)
        # Token: one statement reads the token, its project and its forms (one round trip besides the
        # transaction's). Account (Basic): also the person, their roles and the login limit's count.
        assert per_size[0] <= (6 if who == "account" else 1), (who, per_size)


def test_form_list_entries_say_which_forms_have_media(world: World) -> None:
    admin = world.headers("admin")
    _publish(world, admin, form_xml("plain"))
    _publish(world, admin, form_xml("pictures", media=2))
    base = root(world, device_token(world)["token"])
    text = world.client.get(f"{base}/formList", headers=OR_HEADERS).text
    pictures = text[text.index("<formID>pictures</formID>") : text.index("</xform>")]
    assert "/formList/pictures/manifest</manifestUrl>" in pictures
    plain = text[text.index("<formID>plain</formID>") :]
    assert "manifestUrl" not in plain
    assert "<hash>md5:" in plain and "<version>1</version>" in plain
    only = world.client.get(f"{base}/formList?formID=plain", headers=OR_HEADERS).text
    assert re.findall(r"<formID>([^<]+)</formID>", only) == ["plain"]
    assert len(re.findall("<formID>", world.client.get(f"{base}/formList?formID=").text)) == 2


def test_manifest_costs_the_same_statements_for_1_and_12_media_files(world: World) -> None:
    admin = world.headers("admin")
    base = root(world, device_token(world)["token"])
    counts = []
    world.client.get(f"{base}/formList")  # the device's first request records when it was last seen
    for form_id, media in (("one", 1), ("twelve", 12)):
        _publish(world, admin, form_xml(form_id, media=media), publish=False)
        draft = f"/v1/projects/{world.project_id}/forms/{form_id}/draft"
        for i in range(media):
            res = world.client.post(
                f"{draft}/attachments/m{i}.png",
                data=f"png {i}".encode(),
                content_type="image/png",
                headers=admin,
            )
            assert res.status_code == 200, res.json
        assert world.client.post(f"{draft}/publish", headers=admin).status_code == 200
        with counted_statements(world) as statements:
            res = world.client.get(f"{base}/formList/{form_id}/manifest", headers=OR_HEADERS)
        assert res.status_code == 200
        assert res.text.count("<mediaFile>") == media
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
