"""Builders for batch tests: zips in Collect's instances layout, multipart batches."""

from __future__ import annotations

import io
import zipfile


def make_zip(items: dict[str, dict[str, bytes]], *, prefix: str = "instances/") -> bytes:
    """``{folder: {file name: bytes}}`` -> zip bytes; the XML goes in as ``<folder>.xml``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, files in items.items():
            for name, data in files.items():
                zf.writestr(f"{prefix}{folder}/{name}", data)
    return buf.getvalue()
