"""The bytes of a prepared submission export, per format: one place for the streamed downloads
(``app/web/api/exports.py``) and the export jobs (``export_runs``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.blobs import BlobStore
from app.exports import writers
from app.services.exports import geojson
from app.services.exports import tables as exports
from app.services.protection import classification

FORMATS = ("csv.zip", "csv", "xlsx", "geojson")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Rendered:
    chunks: Iterator[bytes]
    mimetype: str
    filename: str


def check_for(fmt: str) -> Callable[[exports.Export], object] | None:
    """What ``exports.prepare`` must check up front for ``fmt`` (a 400 now, not mid-stream)."""
    return geojson.geo_target if fmt == "geojson" else None


def _tables(export: exports.Export) -> list[writers.Table]:
    return [(spec.name, export.header_rows(spec)) for spec in export.tables]


def render(session: Session, export: exports.Export, fmt: str, store: BlobStore) -> Rendered:
    name = export.form.xml_form_id
    if fmt == "csv.zip":
        media = (lambda: exports.media_files(session, export, store)) if export.options.media else None
        rows = exports.table_rows(session, export, export.tables, store)
        zipped = writers.zip_chunks(
            _tables(export),
            rows,
            media,
            escape_formulas=export.options.escape_formulas,
            readme=classification.readme(export.form, export.sensitivity),
        )
        return Rendered(zipped, "application/zip", f"{name}.zip")
    if fmt == "csv":
        root = export.tables[0]
        plain = (row for _, row in exports.table_rows(session, export, [root], store))
        text = writers.csv_chunks(
            export.header_rows(root), plain, escape_formulas=export.options.escape_formulas
        )
        return Rendered(text, "text/csv", f"{root.name}.csv")
    if fmt == "xlsx":
        rows = exports.table_rows(session, export, export.tables, store)
        tables = _tables(export)

        def chunks() -> Iterator[bytes]:
            metadata = [
                ("Sensitivity class", classification.LABELS[export.sensitivity]),
                ("Form", export.form.xml_form_id),
            ]
            yield from writers.file_chunks(writers.xlsx_file(tables, rows, metadata))

        return Rendered(chunks(), XLSX, f"{name}.xlsx")
    target = geojson.geo_target(export)
    features = geojson.features(session, export, target, store)
    members = {"classification": classification.LABELS[export.sensitivity]}
    return Rendered(writers.geojson_chunks(features, members), "application/geo+json", f"{name}.geojson")
