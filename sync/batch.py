"""Reading a batch of submissions: a zip in ODK Collect's instances layout, a multipart with many
instances, or Kobo's JSON submission body. Bytes in, ``BatchItem`` dataclasses out.

Zip layout (what Collect keeps on the phone, and what a hub sends)::

    [instances/]<folder>/<folder>.xml      the instance XML (or submission.xml, or the only .xml)
    [instances/]<folder>/<media files>     its attachments
    batch.json                             optional: {"<folder>": {"deviceId": .., "userAgent": ..}}

A multipart batch names each part ``<folder>/<file name>`` (the XML part ``<folder>/xml_submission_file``),
so both layouts group the same way.

The archive is untrusted. Everything is checked from the central directory *before* a byte is
inflated: entry count, declared sizes, compression ratio (zip bombs), paths (``..``, absolute, drive
letters, backslashes, symlinks, nesting). Reads are then capped at the declared size, so a lying
header cannot inflate more than was checked. A broken archive refuses the whole batch; a folder with
no readable instance is one item's error.
"""

from __future__ import annotations

import json
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from xml.etree.ElementTree import Element, SubElement, tostring

from forms.safe_xml import MAX_DEPTH
from sync.submission import is_plain_file_name

XML_PART = "xml_submission_file"
META_FILE = "batch.json"
# batch.json may name, for a folder with files but no XML, an instance XML the receiver already holds:
# {"<folder>": {"heldXml": {"instanceId": ..., "sha256": <of the XML>}}}. A hub sending
# the photos of instances whose XML it already delivered sends them this way, not the XML again.
HELD_XML = "heldXml"

# Whole-batch refusal codes; the app maps them to 400 or 413.
NOT_A_ZIP = "not_a_zip"
UNSAFE_PATH = "unsafe_path"
TOO_MANY_ENTRIES = "too_many_entries"
ENTRY_TOO_LARGE = "entry_too_large"
BATCH_TOO_LARGE = "batch_too_large"
ZIP_BOMB = "zip_bomb"
BAD_JSON = "bad_json"
TOO_LARGE_CODES = frozenset({TOO_MANY_ENTRIES, ENTRY_TOO_LARGE, BATCH_TOO_LARGE})


class BatchError(ValueError):
    """The batch as a whole cannot be read; ``message`` tells the sender what to change."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BatchLimits:
    max_entries: int = 5000
    max_entry_bytes: int = 100 * 1024 * 1024
    max_total_bytes: int = 2 * 1024 * 1024 * 1024  # uncompressed, all entries together
    # Deflate reaches ~1000:1 only on degenerate input; real XML is under 30:1 and media under 2:1.
    max_ratio: int = 200
    ratio_floor_bytes: int = 1024 * 1024  # small entries may compress well without being a bomb


@dataclass
class BatchFile:
    name: str
    size: int
    read: Callable[[], bytes] = field(repr=False)
    content_type: str | None = None


@dataclass
class BatchItem:
    """One instance of the batch: its key (folder), XML, files, and sender metadata.

    ``error`` is set when the folder holds no usable instance; the item is then answered with it.
    """

    key: str
    xml: bytes | None = None
    files: list[BatchFile] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class _Entry:
    path: str
    size: int
    read: Callable[[], bytes]
    content_type: str | None = None


def _split_path(path: str) -> tuple[str, str]:
    """``[instances/]folder/name`` -> (folder, name); anything else refuses the batch."""
    if "\\" in path or path.startswith("/") or (len(path) > 1 and path[1] == ":") or "\x00" in path:
        raise BatchError(UNSAFE_PATH, f"The entry {path!r} has an absolute or Windows path; refused.")
    parts = path.split("/")
    if any(p in {"..", "."} for p in parts):
        raise BatchError(UNSAFE_PATH, f"The entry {path!r} climbs out of its folder ('..'); refused.")
    if parts[0] == "instances" and len(parts) == 3:
        parts = parts[1:]
    # Only the shape refuses the whole batch; a name too long to store is its item's error, later.
    if len(parts) != 2 or not all(is_plain_file_name(p) for p in parts):
        raise BatchError(
            UNSAFE_PATH,
            f"The entry {path!r} is not <folder>/<file>: put each instance's XML and media in one folder "
            "(optionally under instances/).",
        )
    return parts[0], parts[1]


def _pick_xml(folder: str, names: list[str]) -> str | None:
    for wanted in (f"{folder}.xml", "submission.xml", XML_PART):
        if wanted in names:
            return wanted
    xmls = [n for n in names if n.lower().endswith(".xml")]
    return xmls[0] if len(xmls) == 1 else None


def group_entries(entries: Iterable[_Entry], meta: dict[str, Any] | None = None) -> list[BatchItem]:
    """Group ``folder/name`` entries into items, in the order their folders first appear."""
    folders: dict[str, list[tuple[str, _Entry]]] = {}
    for entry in entries:
        folder, name = _split_path(entry.path)
        folders.setdefault(folder, []).append((name, entry))
    items = []
    for folder, named in folders.items():
        by_name = dict(named)
        item = BatchItem(key=folder, meta=dict((meta or {}).get(folder) or {}))
        xml_name = _pick_xml(folder, list(by_name))
        if xml_name is None and isinstance(item.meta.get(HELD_XML), dict):
            item.files = [BatchFile(n, e.size, e.read, e.content_type) for n, e in by_name.items()]
        elif xml_name is None:
            item.error = (
                f"The folder {folder!r} has no instance XML: name it {folder}.xml (or submission.xml)."
            )
        else:
            item.xml = by_name.pop(xml_name).read()
            item.files = [BatchFile(n, e.size, e.read, e.content_type) for n, e in by_name.items()]
        items.append(item)
    return items


def _capped_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        with archive.open(info) as fh:
            # Never more than the declared (and checked) size, whatever the stream would yield.
            data = fh.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise BatchError(ZIP_BOMB, f"The entry {info.filename!r} inflates past its declared size.")
        return data

    return read


def read_zip(fileobj: IO[bytes], limits: BatchLimits = BatchLimits()) -> list[BatchItem]:
    """Check a zip batch from its central directory, then group it (media read lazily)."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise BatchError(NOT_A_ZIP, f"The body is not a readable zip archive ({err}).") from err
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise BatchError(
            TOO_MANY_ENTRIES,
            f"The zip has {len(infos)} entries; at most {limits.max_entries} are accepted per batch. "
            "Split it into smaller batches.",
        )
    total = 0
    entries: list[_Entry] = []
    meta: dict[str, Any] = {}
    for info in infos:
        name = info.filename
        if info.is_dir() or name.startswith("__MACOSX/"):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BatchError(UNSAFE_PATH, f"The entry {name!r} is a symbolic link; refused.")
        if info.flag_bits & 0x1:
            raise BatchError(UNSAFE_PATH, f"The entry {name!r} is encrypted; send a plain zip.")
        if info.file_size > limits.max_entry_bytes:
            raise BatchError(
                ENTRY_TOO_LARGE,
                f"The entry {name!r} is {info.file_size} bytes; at most {limits.max_entry_bytes} per file.",
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise BatchError(
                BATCH_TOO_LARGE,
                f"The zip inflates to more than {limits.max_total_bytes} bytes; send smaller batches.",
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise BatchError(
                ZIP_BOMB,
                f"The entry {name!r} compresses {info.file_size // max(info.compress_size, 1)}:1, "
                "which no real submission does; refused as a zip bomb.",
            )
        if name == META_FILE:
            meta = _read_meta(_capped_reader(archive, info)())
            continue
        entries.append(_Entry(name, info.file_size, _capped_reader(archive, info)))
    for entry in entries:
        _split_path(entry.path)  # every path is checked before any instance is read
    return group_entries(entries, meta)


def _json_depth(value: Any) -> int:
    """How deeply ``value`` nests (iteratively: the point is to measure before anything recurses)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for v in level
            if isinstance(v, dict | list)
            for child in (v.values() if isinstance(v, dict) else v)
        ]
    return depth


def _load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:  # RecursionError: nested past the decoder's limit
        raise BatchError(BAD_JSON, f"{what} is not valid JSON ({str(err)[:200]}).") from err


def _read_meta(data: bytes) -> dict[str, Any]:
    meta = _load_json(data, META_FILE)
    if _json_depth(meta) > MAX_DEPTH:
        raise BatchError(BAD_JSON, f"{META_FILE} nests more than {MAX_DEPTH} levels deep.")
    if not isinstance(meta, dict):
        raise BatchError(BAD_JSON, f"{META_FILE} must map folder names to objects.")
    return meta


def multipart_entries(
    parts: Iterable[tuple[str, Callable[[], bytes], int, str | None]],
) -> list[_Entry]:
    """Multipart parts ``(field name, reader, size, content type)`` as entries ``folder/name``."""
    return [_Entry(name, size, reader, ctype) for name, reader, size, ctype in parts]


def read_multipart(
    parts: Iterable[tuple[str, Callable[[], bytes], int, str | None]], limits: BatchLimits = BatchLimits()
) -> list[BatchItem]:
    entries = multipart_entries(parts)
    if len(entries) > limits.max_entries:
        raise BatchError(
            TOO_MANY_ENTRIES,
            f"The batch has {len(entries)} parts; at most {limits.max_entries} are accepted.",
        )
    meta: dict[str, Any] = {}
    kept = []
    for e in entries:
        if e.path == META_FILE:
            meta = _read_meta(e.read())
        else:
            kept.append(e)
    return group_entries(kept, meta)


# Kobo's JSON submission body: {"id": form_id, "submission": {...}} (one object, or a list of them).


def _element_name(key: str) -> str:
    name = key.strip()
    ok = bool(name) and (name[0].isalpha() or name[0] == "_") and all(c.isalnum() or c in "_-." for c in name)
    if not ok:
        raise ValueError(f"{key!r} is not a valid question name")
    return name


def _fill(parent: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, list) and any(isinstance(c, dict) for c in child):  # a repeat
                for entry in child:
                    _fill(SubElement(parent, _element_name(key)), entry)
            else:
                _fill(SubElement(parent, _element_name(key)), child)
    elif value is None:
        return
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif isinstance(value, list):
        parent.text = " ".join(str(v) for v in value)  # select_multiple given as a list
    else:
        parent.text = str(value)


def json_submission_xml(body: dict[str, Any]) -> bytes:
    """Kobo's ``{"id", "submission"}`` as instance XML, the way KoboToolbox's dict2xform builds it:
    the root element is the form id, groups nest, lists repeat. Raises ValueError with a reason."""
    form_id = body.get("id")
    submission = body.get("submission")
    if not isinstance(form_id, str) or not form_id.strip():
        raise ValueError('the JSON needs "id": the form id')
    if not isinstance(submission, dict):
        raise ValueError('the JSON needs "submission": an object of answers')
    root = Element(_element_name(form_id), {"id": form_id})
    version = body.get("version") or submission.get("__version__")
    if version:
        root.set("version", str(version))
    _fill(root, {k: v for k, v in submission.items() if k != "__version__"})
    return tostring(root, encoding="utf-8", xml_declaration=False)


def read_json(data: bytes) -> list[BatchItem]:
    body = _load_json(data, "The body")
    bodies = body if isinstance(body, list) else [body]
    items = []
    for index, one in enumerate(bodies):
        item = BatchItem(key=str(index))
        try:
            if not isinstance(one, dict):
                raise ValueError('each item must be an object {"id": ..., "submission": {...}}')
            if _json_depth(one) > MAX_DEPTH:
                # The XML built from it would be refused as too deep; building it would recurse first.
                raise ValueError(f"it nests more than {MAX_DEPTH} levels deep; no form does")
            item.xml = json_submission_xml(one)
        except ValueError as err:
            item.error = f"Item {index}: {err}."
        items.append(item)
    return items
