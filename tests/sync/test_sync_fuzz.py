"""Hypothesis fuzz of the two parsers that take untrusted bytes from devices and hubs: the submission
parser and the batch readers. Whatever arrives (deep nesting, long or odd identifiers, broken bytes),
they either return what the length policy allows or raise their own documented error, never anything
else (a RecursionError or an over-long instanceID would become a 500 further on)."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms.schema import FormSchema
from sync import batch, limits
from sync.submission import ParsedSubmission, SubmissionError, parse_submission
from sync.values import extract_values

# Derandomised: the same examples on every run, so CI does not flake; explore more with
# derandomize=False and a larger max_examples locally.
FUZZ = settings(
    max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

# Identifiers: mostly plausible, sometimes long, odd Unicode or empty.
identifier = st.one_of(
    st.text(min_size=0, max_size=40),
    st.text(alphabet="ab-:", min_size=200, max_size=700),
    st.sampled_from(["uuid:1", "", " ", "²", "test\u202fnarrow", "صورة", "\x00", "a" * 256, "a" * 255]),
)


def _xml_text(value: str) -> str:
    # Characters XML 1.0 cannot carry are dropped (a client cannot send them as text either).
    return escape("".join(c for c in value if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or ord(c) >= 0xE000))


@st.composite
def submissions(draw: st.DrawFn) -> bytes:
    form_id, version = draw(identifier), draw(st.one_of(st.none(), identifier))
    instance_id, deprecated, name = draw(identifier), draw(identifier), draw(identifier)
    depth = draw(st.one_of(st.integers(0, 20), st.integers(150, 250), st.integers(1000, 3000)))
    photo = draw(identifier)
    attrs = f" id={quoteattr(_xml_text(form_id))}"
    if version is not None:
        attrs += f" version={quoteattr(_xml_text(version))}"
    if draw(st.booleans()):
        attrs += ' encrypted="yes"'
    nested = "<g>" * depth + "<photo>" + _xml_text(photo) + "</photo>" + "</g>" * depth
    meta = (
        f"<meta><instanceID>{_xml_text(instance_id)}</instanceID>"
        f"<deprecatedID>{_xml_text(deprecated)}</deprecatedID>"
        f"<instanceName>{_xml_text(name)}</instanceName></meta>"
    )
    body = f"<data{attrs}>{nested}{meta}</data>".encode()
    if draw(st.booleans()):  # damage it somewhere
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(max_size=20)) + body[cut:]
    return body


def _check(parsed: ParsedSubmission) -> None:
    for name, value in {
        "formId": parsed.form_id,
        "version": parsed.version,
        "instanceID": parsed.instance_id,
        "deprecatedID": parsed.deprecated_id,
        "instanceName": parsed.instance_name,
    }.items():
        assert limits.fits(name, value), (name, value)
    schema = FormSchema.from_dict({"form_id": parsed.form_id, "fields": []})
    extract_values(parsed.root, schema)  # walks the whole tree: must not recurse past the limit


@FUZZ
@given(submissions())
def test_the_submission_parser_returns_storable_identifiers_or_its_own_error(xml: bytes) -> None:
    try:
        parsed = parse_submission(xml)
    except SubmissionError:
        return
    _check(parsed)


@FUZZ
@given(st.binary(max_size=2000))
def test_the_submission_parser_on_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(SubmissionError):
        _check(parse_submission(data))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), identifier),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(["meta", "instanceID", "g", "a"]), identifier), children, max_size=4
        ),
    ),
    max_leaves=30,
)


@st.composite
def json_batches(draw: st.DrawFn) -> bytes:
    depth = draw(st.one_of(st.integers(0, 10), st.integers(190, 260), st.integers(900, 5000)))
    deep: Any = draw(json_values)
    for _ in range(depth):
        deep = {"g": deep} if draw(st.booleans()) else [deep]
    item = {
        "id": draw(identifier),
        "version": draw(st.one_of(st.none(), identifier)),
        "submission": {"meta": {"instanceID": draw(identifier)}, "q": deep},
    }
    body = draw(st.sampled_from([item, [item, item], [item, draw(json_values)], draw(json_values)]))
    try:
        return json.dumps(body).encode()
    except RecursionError:
        return b"[" * depth + b"]" * depth


def _check_items(items: list[batch.BatchItem]) -> None:
    for item in items:
        assert (item.xml is None) != (item.error is None)
        if item.xml is not None:
            with contextlib.suppress(SubmissionError):
                _check(parse_submission(item.xml))


@FUZZ
@given(json_batches())
def test_the_json_batch_reader_answers_each_item_or_refuses_the_batch(body: bytes) -> None:
    try:
        items = batch.read_json(body)
    except batch.BatchError as err:
        assert err.code == batch.BAD_JSON
        return
    _check_items(items)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.one_of(
                identifier, st.sampled_from(["a/a.xml", "instances/b/b.xml", "../x", "c/" + "f" * 300])
            ),
            st.one_of(submissions(), st.binary(max_size=50)),
        ),
        max_size=6,
    ),
    st.one_of(st.none(), json_batches()),
)
def test_the_zip_batch_reader_answers_each_item_or_refuses_the_batch(
    entries: list[tuple[str, bytes]], meta: bytes | None
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in dict(entries).items():  # one entry per name, as any real zip tool writes
            # Python's zip writer cannot write a name with NUL in it (it cuts it, then fails).
            if name and name != batch.META_FILE and "\x00" not in name:
                zf.writestr(name, data)
        if meta is not None:
            zf.writestr(batch.META_FILE, meta)
    try:
        items = batch.read_zip(io.BytesIO(buf.getvalue()))
    except batch.BatchError:
        return
    _check_items(items)
